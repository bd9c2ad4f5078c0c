//! Preflight: can the source user read everything the migration reads?
//!
//! Why up front: on a managed source the migration user is rarely a superuser, and each gap
//! (a table without SELECT, a schema without USAGE, a column privilege, a large object, a
//! row-level security policy that silently filters rows) otherwise fails the run at the first
//! one, or worse, for row-level security, copies fewer rows without an error. This check lists
//! every gap of a database at once, each with the statement that fixes it, and fails that
//! database before anything is written. Superusers read everything and are not checked.

use crate::catalog::read_access::read_gaps;
use crate::conn::{ConnInfo, Session, connect};
use crate::report::ValidationReport;
use crate::sql::quote_ident;

/// The check name in findings.
pub const CHECK: &str = "read-access";

/// At most this many gaps are listed per database (the count says how many more).
const SHOWN: usize = 50;

/// One gap, with its fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gap {
    pub kind: String,
    pub object: String,
    pub fix: String,
}

/// The gaps of the session's database for the session's user.
pub async fn gaps(session: &Session) -> crate::Result<Vec<Gap>> {
    let user = session.info().user();
    Ok(read_gaps(session)
        .await?
        .into_iter()
        .map(|g| {
            let fix = fix_for(&g.kind, &g.fix_start, &user);
            Gap {
                kind: g.kind,
                object: g.object,
                fix,
            }
        })
        .collect())
}

/// The whole fixing statement for one gap.
fn fix_for(kind: &str, start: &str, user: &str) -> String {
    let user = quote_ident(user);
    match kind {
        "row-level security" => format!(
            "ALTER ROLE {user} BYPASSRLS (as a superuser), or give {user} a policy that shows \
             every row; otherwise rows would be left out without an error"
        ),
        "large objects" => format!(
            "{start} TO {user}, and the same for each of them (or SET lo_compat_privileges = on \
             on the source, as a superuser)"
        ),
        _ => format!("{start} TO {user}"),
    }
}

/// Adds one error per gap of database `db` to `report` (none when `session` belongs to a
/// superuser). A query failure is a warning: the copy would then find the gaps itself.
pub async fn check_database(source: &ConnInfo, db: &str, report: &mut ValidationReport) {
    let session = match connect(source, Some(db)).await {
        Ok(s) => s,
        Err(_) => return, // the databases check already reports a database it cannot reach
    };
    match gaps(&session).await {
        Ok(found) => {
            for g in found.iter().take(SHOWN) {
                report.error(
                    CHECK,
                    Some(db),
                    format!(
                        "the source user cannot read {} {}: {}",
                        g.kind, g.object, g.fix
                    ),
                );
            }
            if found.len() > SHOWN {
                report.error(
                    CHECK,
                    Some(db),
                    format!(
                        "... and {} more objects the source user cannot read",
                        found.len() - SHOWN
                    ),
                );
            }
        }
        Err(e) => report.warning(
            CHECK,
            Some(db),
            format!("could not check the source user's read access: {e}"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixes_name_the_user_quoted() {
        assert_eq!(
            fix_for("table", "GRANT SELECT ON TABLE public.t", "app user"),
            "GRANT SELECT ON TABLE public.t TO \"app user\""
        );
        assert!(fix_for("row-level security", "ALTER ROLE", "u").contains("BYPASSRLS"));
    }
}
