//! Keeping the source's owners when the migration user is not a superuser.
//!
//! On a managed service the target admin (Aiven's `avnadmin`, RDS's master user, Cloud SQL's
//! `postgres`) has CREATEDB and CREATEROLE but is not a superuser. PostgreSQL still lets it
//! hand objects to another role, create a database or schema for it and set its default
//! privileges, once it is a *member* of that role: `CREATE DATABASE ... OWNER`, `ALTER ...
//! OWNER TO`, `CREATE SCHEMA ... AUTHORIZATION` and `ALTER DEFAULT PRIVILEGES FOR ROLE` need
//! `SET` rights on the role (plain membership before PostgreSQL 16), and `GRANT` on an object
//! owned by the role needs its privileges (`INHERIT`), which also makes the grant recorded as
//! made by the owner, as on the source. A CREATEROLE user may make itself such a member: up to
//! PostgreSQL 15 of any non-superuser role; from 16 of the roles it holds ADMIN OPTION on,
//! which it does for every role it created (`createrole_self_grant` only decides whether that
//! implicit grant also carries `INHERIT` and `SET`, so an explicit grant is still needed).
//!
//! [`Memberships`] takes, per database, exactly the memberships the migration user lacks in
//! the roles that database's objects need ([`crate::schema::model::SchemaObject::acting_roles`]
//! and the database's owner), and revokes them when the database is done, so that
//! `pg_auth_members` ends as it was. A membership it cannot take leaves those objects to the
//! migration user with warnings naming them ([`lost_owner_warnings`]); one it cannot revoke is
//! a warning with the statement to run. The one exception: a subscription owned by the
//! migration user (the `pg_create_subscription` path) applies changes with the privileges of
//! the table owners, so while replication runs the memberships stay, and a warning says so.
//!
//! [`check_owners`] is the preflight side: per database, before anything is written, how many
//! objects will not keep their owner and why.

use std::collections::{BTreeMap, HashMap, HashSet};

use futures::stream::{self, StreamExt};
use tracing::{info, warn};

use crate::catalog::owners::{ActingRole, acting_roles, count_owned_objects};
use crate::catalog::roles::{UserFacts, list_role_names, list_roles};
use crate::conn::{Session, connect};
use crate::error::{Error, Result};
use crate::options::MigrateOptions;
use crate::report::ValidationReport;
use crate::sql::quote_ident;
use crate::validate::{DB_CONCURRENCY, uncreatable_reason};
use crate::warning::Warning;

/// Objects per owner role, as [`count_owned_objects`] reads them.
type OwnerCounts = Vec<(String, i64)>;

/// How many objects a warning names before it only counts the rest.
pub const NAMED_OBJECTS: usize = 10;

/// The memberships the migration user took for one database, and the roles it could not act
/// as (see the module docs).
#[derive(Debug)]
pub struct Memberships {
    user: String,
    superuser: bool,
    v16: bool,
    /// Roles this run made the migration user a member of, in order; revoked by
    /// [`Self::release`].
    added: Vec<String>,
    /// Roles the migration user may not act as, with why.
    refused: BTreeMap<String, String>,
    /// Why the memberships must outlive the database's run, when they must.
    keep: Option<String>,
    /// Source roles that are not in the target because the run did not create them, with why
    /// (kept across databases).
    not_migrated: BTreeMap<String, String>,
}

impl Memberships {
    /// Who the migration user is on the target, from the facts preflight read.
    pub fn new(target: &crate::catalog::server::ServerFacts) -> Self {
        Memberships {
            user: target.current_user.clone(),
            superuser: target.is_superuser,
            v16: target.version_num >= 160000,
            added: Vec::new(),
            refused: BTreeMap::new(),
            keep: None,
            not_migrated: BTreeMap::new(),
        }
    }

    /// Remembers which source roles the run could not create and which were excluded, so that
    /// warnings about their objects say why.
    pub fn note_roles(&mut self, roles: &[crate::report::RoleResult], excluded: &[String]) {
        for r in roles {
            if r.status == crate::report::RoleStatus::Failed {
                self.not_migrated.insert(
                    r.rolname.clone(),
                    format!("the role could not be created in the target: {}", r.message),
                );
            }
        }
        for x in excluded {
            self.not_migrated
                .entry(x.clone())
                .or_insert_with(|| "the role is excluded with -xr".into());
        }
    }

    /// Makes the migration user able to act as each of `roles` (own objects as it, grant as
    /// it, set its default privileges), granting itself the membership where it lacks one and
    /// may take it. Never fails: a role it cannot act as is remembered with the reason
    /// ([`Self::refusal`]) and its objects keep the migration user as owner.
    pub async fn take<I, S>(&mut self, target: &Session, roles: I)
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        if self.superuser {
            return;
        }
        let wanted: Vec<String> = roles
            .into_iter()
            .map(|r| r.as_ref().to_owned())
            .filter(|r| {
                r != &self.user
                    // Predefined roles (pg_database_owner owns `public`) are not ours to join.
                    && !r.starts_with("pg_")
                    && !self.added.contains(r)
                    && !self.refused.contains_key(r)
            })
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        if wanted.is_empty() {
            return;
        }
        let facts: HashMap<String, ActingRole> = match acting_roles(target).await {
            Ok(rows) => rows.into_iter().map(|r| (r.name.clone(), r)).collect(),
            Err(e) => {
                for r in wanted {
                    self.refused.insert(
                        r,
                        format!("what the migration user may do could not be read: {e}"),
                    );
                }
                return;
            }
        };
        let mut wanted = wanted;
        wanted.sort();
        for role in wanted {
            let Some(f) = facts.get(&role) else {
                let why = self
                    .not_migrated
                    .get(&role)
                    .cloned()
                    .unwrap_or_else(|| "the role does not exist in the target".into());
                self.refused.insert(role, why);
                continue;
            };
            if f.usage && f.set {
                continue;
            }
            if let Some(why) = self.cannot_grant(f) {
                self.refused.insert(role, why);
                continue;
            }
            let q = quote_ident(&role);
            let user = quote_ident(&self.user);
            let grant = if self.v16 {
                format!("GRANT {q} TO {user} WITH INHERIT TRUE, SET TRUE")
            } else {
                format!("GRANT {q} TO {user}")
            };
            if let Err(e) = target.batch_execute(&grant).await {
                let e = Error::from_pg(e);
                warn!(role = %role, "taking membership failed: {}", e.message());
                self.refused.insert(
                    role,
                    format!(
                        "the migration user could not make itself a member: {}",
                        e.message()
                    ),
                );
                continue;
            }
            info!(role = %role, user = %self.user, "membership taken to keep owners");
            self.added.push(role.clone());
            // Before PostgreSQL 16 a NOINHERIT migration user gets no privileges from it.
            let usable = acting_roles(target)
                .await
                .ok()
                .and_then(|rows| rows.into_iter().find(|r| r.name == role))
                .is_some_and(|r| r.usage && r.set);
            if !usable {
                self.refused.insert(
                    role.clone(),
                    "the migration user does not inherit the privileges of roles it is a \
                     member of (NOINHERIT)"
                        .into(),
                );
            }
        }
    }

    /// Why the migration user cannot grant itself membership in the role of `f`.
    fn cannot_grant(&self, f: &ActingRole) -> Option<String> {
        if f.superuser {
            return Some(
                "it is a superuser in the target, and only a superuser may act as one".into(),
            );
        }
        if self.v16 {
            if f.self_granted {
                return Some(
                    "the migration user already holds a membership in it, granted by itself, \
                     without INHERIT and SET; this run does not change it"
                        .into(),
                );
            }
            if !f.admin {
                return Some(
                    "the migration user holds no ADMIN OPTION on it (on PostgreSQL 16+ a \
                     CREATEROLE user may only join roles it created or was granted with ADMIN \
                     OPTION)"
                        .into(),
                );
            }
        }
        None
    }

    /// Why the migration user may not act as `role`, when it may not.
    pub fn refusal(&self, role: &str) -> Option<&str> {
        self.refused.get(role).map(String::as_str)
    }

    /// Keeps the memberships past this database's run (see the module docs).
    pub fn keep(&mut self, why: impl Into<String>) {
        self.keep = Some(why.into());
    }

    /// Roles this run made the migration user a member of and has not revoked yet.
    pub fn added(&self) -> &[String] {
        &self.added
    }

    /// Revokes the memberships this run took, unless they must be kept; returns warnings for
    /// what could not be revoked or is kept. Then forgets the roles, for the next database.
    pub async fn release(&mut self, target: &Session) -> Vec<Warning> {
        let mut warnings = Vec::new();
        let added = std::mem::take(&mut self.added);
        self.refused.clear();
        let user = quote_ident(&self.user);
        if let Some(why) = self.keep.take() {
            if !added.is_empty() {
                let revokes: Vec<String> = added
                    .iter()
                    .map(|r| format!("REVOKE {} FROM {user};", quote_ident(r)))
                    .collect();
                warnings.push(
                    Warning::ownership(format!(
                        "the migration user \"{}\" stays a member of {} while replication runs \
                         ({why}); after the cut-over, run: {}",
                        self.user,
                        added
                            .iter()
                            .map(|r| format!("\"{r}\""))
                            .collect::<Vec<_>>()
                            .join(", "),
                        revokes.join(" ")
                    ))
                    .on(format!("role \"{}\"", self.user)),
                );
            }
            return warnings;
        }
        for role in added {
            let sql = format!("REVOKE {} FROM {user}", quote_ident(&role));
            match target.batch_execute(&sql).await {
                Ok(()) => info!(role = %role, user = %self.user, "membership revoked"),
                Err(e) => warnings.push(
                    Warning::ownership(format!(
                        "the migration user \"{}\" remains a member of role \"{role}\", which \
                         this run made it for keeping owners: revoking failed ({}); run: {sql}",
                        self.user,
                        Error::from_pg(e).message()
                    ))
                    .on(format!("role \"{role}\"")),
                ),
            }
        }
        warnings
    }
}

/// One warning per source owner whose objects are owned by the migration user instead, naming
/// the first [`NAMED_OBJECTS`] objects and counting the rest, with the reason.
pub fn lost_owner_warnings(
    lost: &[(String, String)],
    memberships: Option<&Memberships>,
    opts_no_owner: bool,
) -> Vec<Warning> {
    if opts_no_owner {
        return Vec::new();
    }
    let mut by_owner: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (owner, object) in lost {
        by_owner.entry(owner).or_default().push(object);
    }
    by_owner
        .into_iter()
        .map(|(owner, objects)| {
            let why = memberships
                .and_then(|m| m.refusal(owner))
                .unwrap_or("the migration user may not make it an owner");
            let named = objects
                .iter()
                .take(NAMED_OBJECTS)
                .copied()
                .collect::<Vec<_>>()
                .join(", ");
            let more = objects.len().saturating_sub(NAMED_OBJECTS);
            Warning::ownership(format!(
                "{} object(s) owned by role \"{owner}\" in the source are owned by the migration \
                 user \"{}\" instead ({why}): {named}{}",
                objects.len(),
                memberships.map_or("", |m| m.user.as_str()),
                if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                }
            ))
            .on(format!("role \"{owner}\""))
        })
        .collect()
}

/// Why objects of `owner` will not keep it as their owner in the target, or `None` when they
/// will.
fn owner_refusal(
    owner: &str,
    excluded: &HashSet<&str>,
    source_roles: &HashMap<&str, &crate::catalog::roles::RoleInfo>,
    target_roles: &HashMap<String, ActingRole>,
    user: &UserFacts,
    target_major: u32,
) -> Option<String> {
    if user.superuser || owner == user.name || owner.starts_with("pg_") {
        return None;
    }
    if let Some(t) = target_roles.get(owner) {
        if t.usage && t.set {
            return None;
        }
        if t.superuser {
            return Some("a superuser in the target".into());
        }
        if target_major >= 16 && !t.admin {
            return Some(
                "it already exists in the target and the target user holds no ADMIN OPTION on \
                 it"
                .into(),
            );
        }
        return (!user.createrole).then(|| "the target user lacks CREATEROLE".into());
    }
    if excluded.contains(owner) {
        return Some("excluded with -xr and missing in the target".into());
    }
    match source_roles.get(owner) {
        Some(role) => uncreatable_reason(role, user, target_major)
            .map(|why| format!("it cannot be created in the target: {why}")),
        None => Some("a system role of the source that is not migrated".into()),
    }
}

/// The `owners` preflight check: per selected database, a warning counting the objects (and
/// the database itself) that will be owned by the migration user instead of their source
/// owner, by owner, with the reason. Nothing with `--no-owner` or a superuser target user.
pub async fn check_owners(
    report: &mut ValidationReport,
    opts: &MigrateOptions,
    source: &Session,
    target: &Session,
    user: &UserFacts,
    source_databases: &[crate::catalog::databases::DatabaseInfo],
    selected: &[String],
) {
    if opts.schema.no_owner || selected.is_empty() {
        return;
    }
    let (roles, target_roles, names) = tokio::join!(
        list_roles(source),
        acting_roles(target),
        list_role_names(target)
    );
    let (roles, target_roles) = match (roles, target_roles, names) {
        (Ok(r), Ok(t), Ok(_)) => (r, t),
        (Err(e), ..) | (_, Err(e), _) | (.., Err(e)) => {
            report.warning(
                "owners",
                None,
                format!("could not check which objects will keep their owner: {e}"),
            );
            return;
        }
    };
    if user.superuser {
        return;
    }
    let excluded: HashSet<&str> = opts.excluded_roles.iter().map(String::as_str).collect();
    let source_roles: HashMap<&str, &crate::catalog::roles::RoleInfo> =
        roles.iter().map(|r| (r.name.as_str(), r)).collect();
    let target_roles: HashMap<String, ActingRole> = target_roles
        .into_iter()
        .map(|r| (r.name.clone(), r))
        .collect();
    let major = target.major();
    let refusal =
        |owner: &str| owner_refusal(owner, &excluded, &source_roles, &target_roles, user, major);

    let pending: Vec<_> = selected
        .iter()
        .map(|name| async move {
            let counts = async {
                if &source.info().dbname() == name {
                    count_owned_objects(source).await
                } else {
                    count_owned_objects(&connect(&opts.source, Some(name)).await?).await
                }
            }
            .await;
            (name, counts)
        })
        .collect();
    let counted: Vec<(&String, Result<OwnerCounts>)> = stream::iter(pending)
        .buffer_unordered(DB_CONCURRENCY)
        .collect()
        .await;
    let mut counted = counted;
    counted.sort_by(|a, b| a.0.cmp(b.0));
    for (db, counts) in counted {
        let mut counts = match counts {
            Ok(c) => c,
            Err(e) => {
                report.warning(
                    "owners",
                    Some(db),
                    format!(
                        "could not count the objects of database \"{db}\" by owner: {}",
                        e.message()
                    ),
                );
                continue;
            }
        };
        if let Some(d) = source_databases.iter().find(|d| &d.name == db) {
            match counts.iter_mut().find(|(o, _)| o == &d.owner) {
                Some((_, n)) => *n += 1,
                None => counts.push((d.owner.clone(), 1)),
            }
        }
        let lost: Vec<(String, i64, String)> = counts
            .into_iter()
            .filter_map(|(owner, n)| refusal(&owner).map(|why| (owner, n, why)))
            .collect();
        if lost.is_empty() {
            continue;
        }
        let total: i64 = lost.iter().map(|(_, n, _)| n).sum();
        let parts: Vec<String> = lost
            .iter()
            .map(|(owner, n, why)| format!("{n} owned by \"{owner}\" ({why})"))
            .collect();
        report.warning(
            "owners",
            Some(db),
            format!(
                "{total} object(s) of database \"{db}\" (the database itself included) will not \
                 keep their owner and will be owned by the migration user \"{}\": {}. Create \
                 those roles in the target beforehand and grant them to \"{}\", or migrate as \
                 a target superuser",
                user.name,
                parts.join("; "),
                user.name
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn memberships(refused: &[(&str, &str)]) -> Memberships {
        Memberships {
            user: "avnadmin".into(),
            superuser: false,
            v16: true,
            added: vec![],
            refused: refused
                .iter()
                .map(|(r, w)| (r.to_string(), w.to_string()))
                .collect(),
            keep: None,
            not_migrated: BTreeMap::new(),
        }
    }

    #[test]
    fn lost_owners_are_named_by_owner_first_ten_and_a_count() {
        let mut lost: Vec<(String, String)> = (0..12)
            .map(|i| ("su".to_string(), format!("table \"s\".\"t{i}\"")))
            .collect();
        lost.push(("other".into(), "view \"s\".\"v\"".into()));
        let m = memberships(&[("su", "it is a superuser in the target")]);
        let w: Vec<String> = lost_owner_warnings(&lost, Some(&m), false)
            .iter()
            .map(|w| w.to_string())
            .collect();
        assert_eq!(w.len(), 2, "{w:?}");
        assert_eq!(
            w[0],
            "1 object(s) owned by role \"other\" in the source are owned by the migration user \
             \"avnadmin\" instead (the migration user may not make it an owner): view \"s\".\"v\""
        );
        assert!(
            w[1].starts_with(
                "12 object(s) owned by role \"su\" in the source are owned by the migration user \
                 \"avnadmin\" instead (it is a superuser in the target): table \"s\".\"t0\", "
            ),
            "{}",
            w[1]
        );
        assert!(w[1].ends_with("table \"s\".\"t9\" and 2 more"), "{}", w[1]);
        assert!(lost_owner_warnings(&lost, Some(&m), true).is_empty());
    }

    fn role(name: &str, superuser: bool) -> crate::catalog::roles::RoleInfo {
        crate::catalog::roles::RoleInfo {
            oid: crate::catalog::scope::FIRST_NORMAL_OBJECT_ID,
            name: name.into(),
            superuser,
            inherit: true,
            createrole: false,
            createdb: false,
            login: false,
            replication: false,
            bypassrls: false,
            connection_limit: -1,
            valid_until: None,
            config: vec![],
            comment: None,
            labels: vec![],
        }
    }

    #[test]
    fn which_owners_a_createrole_admin_can_keep() {
        let user = UserFacts {
            name: "avnadmin".into(),
            superuser: false,
            createrole: true,
            replication: true,
            bypassrls: false,
        };
        let (app, su, gone) = (role("app", false), role("su", true), role("gone", false));
        let source: HashMap<&str, &crate::catalog::roles::RoleInfo> =
            [("app", &app), ("su", &su), ("gone", &gone)].into();
        let excluded: HashSet<&str> = ["gone"].into();
        let existing = |admin: bool| ActingRole {
            name: "app".into(),
            superuser: false,
            usage: false,
            set: false,
            admin,
            self_granted: false,
        };
        let none = HashMap::new();
        let r = |owner: &str, t: &HashMap<String, ActingRole>, major| {
            owner_refusal(owner, &excluded, &source, t, &user, major)
        };
        // Roles the run creates can be joined on every version.
        assert_eq!(r("app", &none, 15), None);
        assert_eq!(r("app", &none, 16), None);
        assert_eq!(r("avnadmin", &none, 16), None);
        assert!(r("su", &none, 16).unwrap().contains("superuser"));
        assert!(r("gone", &none, 15).unwrap().contains("-xr"));
        assert!(r("postgres", &none, 15).unwrap().contains("system role"));
        // An existing role: up to 15 CREATEROLE grants any non-superuser; 16+ needs ADMIN.
        let t: HashMap<String, ActingRole> = [("app".to_string(), existing(false))].into();
        assert_eq!(r("app", &t, 15), None);
        assert!(r("app", &t, 16).unwrap().contains("ADMIN OPTION"));
        let t: HashMap<String, ActingRole> = [("app".to_string(), existing(true))].into();
        assert_eq!(r("app", &t, 16), None);
    }
}
