//! The `roles` check: which source roles the target user cannot create, and why. The rule
//! ([`uncreatable_reason`]) is shared with the owners check ([`crate::owners`]).

use std::collections::HashSet;

use crate::catalog::roles::{RoleInfo, UserFacts, list_role_names, list_roles};
use crate::conn::Session;
use crate::options::MigrateOptions;
use crate::report::ValidationReport;

/// Why the target user cannot create `role`, or `None` when it can.
pub fn uncreatable_reason(
    role: &RoleInfo,
    user: &UserFacts,
    target_major: u32,
) -> Option<&'static str> {
    if user.superuser {
        return None;
    }
    if !user.createrole {
        return Some("the target user lacks CREATEROLE");
    }
    if role.superuser {
        return Some("superuser");
    }
    if role.replication && (target_major < 16 || !user.replication) {
        return Some("replication");
    }
    if role.bypassrls && (target_major < 16 || !user.bypassrls) {
        return Some("bypassrls");
    }
    None
}

pub(super) async fn check_roles(
    report: &mut ValidationReport,
    opts: &MigrateOptions,
    source: &Session,
    target: &Session,
    user: &UserFacts,
) {
    let (roles, existing) = tokio::join!(list_roles(source), list_role_names(target));
    let (roles, existing) = match (roles, existing) {
        (Ok(r), Ok(e)) => (r, e),
        (Err(e), _) | (_, Err(e)) => {
            report.warning(
                "roles",
                None,
                format!("could not check which roles the target user can create: {e}"),
            );
            return;
        }
    };
    let existing: HashSet<&str> = existing.iter().map(String::as_str).collect();
    let target_major = target.major();
    let blocked: Vec<(&str, &str)> = roles
        .iter()
        .filter(|r| !opts.excluded_roles.iter().any(|x| x == &r.name))
        .filter(|r| !existing.contains(r.name.as_str()))
        .filter_map(|r| uncreatable_reason(r, user, target_major).map(|why| (r.name.as_str(), why)))
        .collect();
    if blocked.is_empty() {
        return;
    }
    let list = blocked
        .iter()
        .map(|(n, why)| format!("\"{n}\" ({why})"))
        .collect::<Vec<_>>()
        .join(", ");
    let names = blocked
        .iter()
        .map(|(n, _)| *n)
        .collect::<Vec<_>>()
        .join(",");
    let needs = if target_major < 16 {
        "creating superuser, replication and bypassrls roles needs a superuser before \
         PostgreSQL 16"
    } else {
        "creating superuser roles needs a superuser, replication and bypassrls roles need a \
         user with that attribute"
    };
    report.warning(
        "roles",
        None,
        format!(
            "{} source role(s) cannot be created by the target user \"{}\": {list} ({needs}). They \
             will be recorded as failed; exclude them with -xr {names}, create them in the target \
             beforehand, or migrate as a target superuser",
            blocked.len(),
            user.name
        ),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role(name: &str) -> RoleInfo {
        RoleInfo {
            oid: 20000,
            name: name.into(),
            superuser: false,
            inherit: true,
            createrole: false,
            createdb: false,
            login: true,
            replication: false,
            bypassrls: false,
            connection_limit: -1,
            valid_until: None,
            config: Vec::new(),
            comment: None,
        }
    }

    #[test]
    fn role_rule() {
        let admin = UserFacts {
            name: "admin".into(),
            superuser: false,
            createrole: true,
            replication: true,
            bypassrls: false,
        };
        let plain = role("plain");
        let su = RoleInfo {
            superuser: true,
            ..role("su")
        };
        let repl = RoleInfo {
            replication: true,
            ..role("repl")
        };
        let brls = RoleInfo {
            bypassrls: true,
            ..role("brls")
        };
        assert_eq!(uncreatable_reason(&plain, &admin, 15), None);
        assert_eq!(uncreatable_reason(&su, &admin, 16), Some("superuser"));
        assert_eq!(uncreatable_reason(&repl, &admin, 15), Some("replication"));
        assert_eq!(uncreatable_reason(&repl, &admin, 16), None);
        assert_eq!(uncreatable_reason(&brls, &admin, 16), Some("bypassrls"));
        let no_createrole = UserFacts {
            createrole: false,
            ..admin.clone()
        };
        assert!(uncreatable_reason(&plain, &no_createrole, 16).is_some());
        let superuser = UserFacts {
            superuser: true,
            ..admin
        };
        for r in [&plain, &su, &repl, &brls] {
            assert_eq!(uncreatable_reason(r, &superuser, 12), None);
        }
    }
}
