//! Preflight: can the source user read everything the migration reads?
//!
//! Why up front: on a managed source the migration user is rarely a superuser, and each gap
//! (a table without SELECT, a schema without USAGE, a column privilege, a large object, a
//! row-level security policy that silently filters rows) otherwise fails the run at the first
//! one, or worse, for row-level security, copies fewer rows without an error. This check lists
//! every gap of a database at once, each with the statement that fixes it, and fails that
//! database before anything is written. Superusers read everything and are not checked.

use crate::conn::{ConnInfo, Session, connect};
use crate::report::ValidationReport;
use crate::sql::quote_ident;

/// The check name in findings.
pub const CHECK: &str = "read-access";

/// At most this many gaps are listed per database (the count says how many more).
const SHOWN: usize = 50;

/// One row per gap: kind, object, the start of the fixing statement (`TO <user>` is added).
const SQL: &str = "
WITH me AS (
    SELECT r.rolsuper AS su, r.rolsuper OR r.rolbypassrls AS bypass
      FROM pg_catalog.pg_roles r WHERE r.rolname = CURRENT_USER
), rels AS (
    SELECT c.oid, c.relkind, c.relowner, c.relrowsecurity, c.relforcerowsecurity,
           n.oid AS nsp, n.nspname, c.oid::pg_catalog.regclass::text AS name
      FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind IN ('r', 'S') AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_'
       AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                        WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
                          AND d.objid = c.oid AND d.deptype = 'e')
)
SELECT 'schema' AS kind, pg_catalog.quote_ident(s.nspname) AS object,
       'GRANT USAGE ON SCHEMA ' || pg_catalog.quote_ident(s.nspname) AS fix
  FROM (SELECT DISTINCT nsp, nspname FROM rels) s, me
 WHERE NOT me.su AND NOT pg_catalog.has_schema_privilege(s.nsp, 'USAGE')
UNION ALL
SELECT 'sequence', r.name, 'GRANT SELECT ON SEQUENCE ' || r.name
  FROM rels r, me
 WHERE NOT me.su
   AND CASE WHEN r.relkind = 'S' THEN NOT pg_catalog.has_sequence_privilege(r.oid, 'SELECT') ELSE false END
UNION ALL
SELECT 'table', r.name, 'GRANT SELECT ON TABLE ' || r.name
  FROM rels r, me
 WHERE NOT me.su AND r.relkind = 'r' AND NOT pg_catalog.has_table_privilege(r.oid, 'SELECT')
   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
                    WHERE a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped
                      AND pg_catalog.has_column_privilege(r.oid, a.attnum, 'SELECT'))
UNION ALL
SELECT 'columns', r.name || ' (' || pg_catalog.string_agg(pg_catalog.quote_ident(a.attname), ', ' ORDER BY a.attnum) || ')',
       'GRANT SELECT (' || pg_catalog.string_agg(pg_catalog.quote_ident(a.attname), ', ' ORDER BY a.attnum)
       || ') ON TABLE ' || r.name
  FROM rels r
  JOIN pg_catalog.pg_attribute a ON a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped
  CROSS JOIN me
 WHERE NOT me.su AND r.relkind = 'r' AND NOT pg_catalog.has_table_privilege(r.oid, 'SELECT')
   AND NOT pg_catalog.has_column_privilege(r.oid, a.attnum, 'SELECT')
   AND EXISTS (SELECT 1 FROM pg_catalog.pg_attribute b
                WHERE b.attrelid = r.oid AND b.attnum > 0 AND NOT b.attisdropped
                  AND pg_catalog.has_column_privilege(r.oid, b.attnum, 'SELECT'))
 GROUP BY r.oid, r.name
UNION ALL
SELECT 'row-level security', r.name, 'ALTER ROLE'
  FROM rels r, me
 WHERE r.relkind = 'r' AND r.relrowsecurity AND NOT me.bypass
   AND (r.relforcerowsecurity OR NOT pg_catalog.pg_has_role(r.relowner, 'USAGE'))
UNION ALL
SELECT 'large objects', pg_catalog.count(*)::text || ' (e.g. ' ||
       pg_catalog.string_agg(lo.oid::text, ', ' ORDER BY lo.oid) FILTER (WHERE lo.rank <= 5) || ')',
       'GRANT SELECT ON LARGE OBJECT ' || pg_catalog.min(lo.oid)::text
  FROM (SELECT m.oid, pg_catalog.row_number() OVER (ORDER BY m.oid) AS rank
          FROM pg_catalog.pg_largeobject_metadata m, me
         WHERE NOT me.su AND pg_catalog.current_setting('lo_compat_privileges') = 'off'
           AND NOT pg_catalog.pg_has_role(m.lomowner, 'USAGE')
           AND NOT EXISTS (SELECT 1 FROM pg_catalog.aclexplode(m.lomacl) x
                            WHERE x.privilege_type = 'SELECT'
                              AND (x.grantee = 0 OR pg_catalog.pg_has_role(x.grantee, 'USAGE')))) lo
HAVING pg_catalog.count(*) > 0
ORDER BY 1, 2";

/// One gap, with its fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gap {
    pub kind: String,
    pub object: String,
    pub fix: String,
}

/// The gaps of the session's database for the session's user.
pub async fn gaps(session: &Session) -> crate::Result<Vec<Gap>> {
    let rows = session.query(SQL, &[]).await?;
    let user = session.info().user();
    Ok(rows
        .iter()
        .map(|r| {
            let kind: String = r.get(0);
            let object: String = r.get(1);
            let start: String = r.get(2);
            let fix = fix_for(&kind, &start, &user);
            Gap { kind, object, fix }
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
