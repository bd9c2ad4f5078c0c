//! The `roles` check: which source roles the target user cannot create, and why. The rule
//! ([`uncreatable_reason`]) is shared with the owners check ([`crate::owners`]).
//!
//! A target behind Aiven's gatekeeper ([`Gatekeeper`]) refuses superuser roles outside its
//! reserved list whoever creates them, so those are an error (nothing is written: the role
//! could only fail, and the tool we replace failed validation too) naming each role and the
//! `-xr` that leaves it out; the other roles the user cannot create stay a warning (they are
//! recorded as failed and the migration goes on). A role is named once, by the error.

use std::collections::HashSet;

use crate::catalog::roles::{RoleInfo, UserFacts, list_role_names, list_roles};
use crate::catalog::server::{Gatekeeper, ServerFacts};
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

/// The roles to migrate (`roles` less those already in the target) that `gatekeeper` will
/// refuse: superusers whose name is not reserved (all of them when the reserved list is not
/// readable).
pub fn gatekeeper_refusals<'a>(
    roles: impl IntoIterator<Item = &'a RoleInfo>,
    gatekeeper: &Gatekeeper,
) -> Vec<&'a str> {
    let reserved = gatekeeper.reserved_roles.as_deref().unwrap_or(&[]);
    roles
        .into_iter()
        .filter(|r| r.superuser && !reserved.iter().any(|n| n == &r.name))
        .map(|r| r.name.as_str())
        .collect()
}

/// The error for the roles [`gatekeeper_refusals`] found: the old tool's sentence, then which
/// names the target reserves and the `-xr` that leaves these out.
fn gatekeeper_message(refused: &[&str], gatekeeper: &Gatekeeper, target_user: &str) -> String {
    let quoted = refused
        .iter()
        .map(|n| format!("\"{n}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let reserved = match &gatekeeper.reserved_roles {
        Some(list) if list.is_empty() => "it reserves no role".to_string(),
        Some(list) => format!("it reserves {}", list.join(", ")),
        None => format!(
            "the target user \"{target_user}\" may not read that list, so no role counts as \
             reserved"
        ),
    };
    format!(
        "Some superuser roles from source database ({quoted}) are not allowed in target \
         database. You can delete them from the source or exclude them from the migration with \
         -xr {}. The target runs Aiven's aiven_gatekeeper, which refuses CREATE ROLE ... \
         SUPERUSER for names not in aiven.pg_security_agent_reserved_roles ({reserved}), even \
         for a superuser",
        refused.join(",")
    )
}

pub(super) async fn check_roles(
    report: &mut ValidationReport,
    opts: &MigrateOptions,
    source: &Session,
    target: &Session,
    target_facts: &ServerFacts,
) {
    let user = &target_facts.user();
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
    let to_create: Vec<&RoleInfo> = roles
        .iter()
        .filter(|r| !opts.excluded_roles.iter().any(|x| x == &r.name))
        .filter(|r| !existing.contains(r.name.as_str()))
        .collect();
    // `--cleanup` creates no role: the gatekeeper must not stand in its way.
    let gatekeeper = target_facts
        .gatekeeper
        .as_ref()
        .filter(|_| opts.mode != crate::options::RunMode::Cleanup);
    let refused = match gatekeeper {
        Some(g) => {
            let refused = gatekeeper_refusals(to_create.iter().copied(), g);
            if !refused.is_empty() {
                report.error("roles", None, gatekeeper_message(&refused, g, &user.name));
            }
            refused
        }
        None => Vec::new(),
    };
    let blocked: Vec<(&str, &str)> = to_create
        .iter()
        .filter(|r| !refused.contains(&r.name.as_str()))
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
            labels: Vec::new(),
        }
    }

    fn superuser(name: &str) -> RoleInfo {
        RoleInfo {
            superuser: true,
            ..role(name)
        }
    }

    #[test]
    fn gatekeeper_refuses_superusers_outside_its_reserved_list() {
        let roles = [superuser("dba"), superuser("companyuser"), role("app")];
        let g = Gatekeeper {
            reserved_roles: Some(vec!["companyuser".into(), "postgres".into()]),
        };
        assert_eq!(gatekeeper_refusals(&roles, &g), vec!["dba"]);
        let msg = gatekeeper_message(&["dba"], &g, "admin");
        assert!(
            msg.starts_with(
                "Some superuser roles from source database (\"dba\") are not allowed in target \
                 database. You can delete them from the source or exclude them from the \
                 migration with -xr dba."
            ),
            "{msg}"
        );
        assert!(msg.contains("it reserves companyuser, postgres"), "{msg}");
    }

    #[test]
    fn gatekeeper_with_an_unreadable_reserved_list_refuses_every_superuser() {
        let roles = [superuser("dba"), superuser("companyuser"), role("app")];
        let g = Gatekeeper {
            reserved_roles: None,
        };
        assert_eq!(gatekeeper_refusals(&roles, &g), vec!["dba", "companyuser"]);
        let msg = gatekeeper_message(&["dba", "companyuser"], &g, "avnadmin");
        assert!(msg.contains("-xr dba,companyuser"), "{msg}");
        assert!(
            msg.contains("the target user \"avnadmin\" may not read that list"),
            "{msg}"
        );
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
