//! Creating the source's roles in the target.
//!
//! Roles are global, so they are migrated once, before any database, over one target session.
//! For every non-system role of the source (see [`crate::catalog::roles::list_roles`]) that is
//! not in `excluded_roles`:
//!
//! - **Missing in the target:** `CREATE ROLE` with every attribute written explicitly
//!   (`SUPERUSER`/`NOSUPERUSER`, `CREATEDB`, `CREATEROLE`, `INHERIT`, `LOGIN`, `REPLICATION`,
//!   `BYPASSRLS`, `CONNECTION LIMIT`, `VALID UNTIL`) and, for `LOGIN` roles, a password: the
//!   real one from `--role-passwords`, else a generated [`placeholder_password`]. Passwords are
//!   sent as SCRAM-SHA-256 verifiers computed here, so the plain text never reaches the target
//!   (nor its logs). Then each setting (`ALTER ROLE ... SET`, list-valued settings such as
//!   `search_path` split into one literal per element like pg_dumpall does), the comment and
//!   the security labels (`pg_shseclabel`; a target without the label provider refuses them:
//!   a warning each). Result: `created`, "role created".
//! - **Already in the target (by exact name):** `exists`, "role already exists". Its attributes,
//!   settings, password and comment are not touched (a password from `--role-passwords` for it
//!   is not applied; a warning says so).
//! - **`CREATE ROLE` fails** (any error, whether the server refused or the connection broke):
//!   `failed` with the server's message; the run goes on with the next role. A duplicate-name
//!   error (the role appeared since the target was read) counts as `exists`.
//!
//! Each statement runs on its own (autocommit): `CREATE ROLE` with its attributes and password
//! is one atomic statement, then settings and the comment are applied one statement each. A
//! setting or comment the target refuses (a superuser-only setting, a parameter the target
//! version does not know) leaves the role `created` and adds a warning naming the role and the
//! setting, rather than undoing a role that is otherwise usable.
//!
//! **Memberships** are granted after all roles exist: a source membership `GRANT role TO
//! member` is reproduced when the member is a migrated role (created or already existing), the
//! granted role is a migrated role or a predefined `pg_*` role present in the target, and the
//! target does not have that membership yet. So memberships are also added to roles that
//! already existed (membership is additive, and a re-run fills what an earlier run missed), but
//! an existing membership is never altered. The `ADMIN` option is kept; on PostgreSQL 16+
//! targets the source's `INHERIT` and `SET` options are kept too when the source is 16+ (older
//! sources have no such options and the target's defaults give the same behaviour). The source's
//! grantor is named with `GRANTED BY` when it is a migrated role; a target that refuses that (only
//! a superuser may grant in another role's name, on 16+ also a role holding its privileges) gets
//! the membership granted by the migrating user, with a warning. A membership that cannot be
//! granted is a warning, never a failure. Memberships that involve an excluded role are skipped silently.
//!
//! **Per-database settings** (`ALTER ROLE r IN DATABASE d SET ...`) need the database to exist,
//! so the orchestrator applies them with [`apply_role_db_settings`] once each database is
//! there; only roles this run created get them.

use std::collections::{HashMap, HashSet};

use tracing::{debug, info, warn};

use crate::catalog::roles::{
    Membership, RoleDbSetting, RoleInfo, list_memberships, list_role_names, list_roles,
};
use crate::conn::Session;
use crate::error::{Error, Result, Side, SqlState};
use crate::options::MigrateOptions;
use crate::remedy::Setting;
use crate::report::{RolePassword, RoleResult, RoleStatus};
use crate::sql::{quote_ident, quote_literal, set_clause};
use crate::warning::Warning;

/// Message of a created role.
pub const MSG_CREATED: &str = "role created";
/// Message of a role that already existed in the target.
pub const MSG_EXISTS: &str = "role already exists";

/// Creates every source role in the target. Returns one [`RoleResult`] per source role
/// (excluded roles omitted), in the source's name order, plus warnings.
///
/// Errors only when the role lists of the source or the target cannot be read at all; a role
/// that cannot be created is a `failed` result, never an error.
pub async fn migrate_roles(
    source: &Session,
    target: &Session,
    opts: &MigrateOptions,
) -> Result<(Vec<RoleResult>, Vec<Warning>)> {
    let excluded: HashSet<&str> = opts.excluded_roles.iter().map(String::as_str).collect();
    let roles: Vec<RoleInfo> = list_roles(source)
        .await
        .map_err(|e| e.with_side(Side::Source))?
        .into_iter()
        .filter(|r| !excluded.contains(r.name.as_str()))
        .collect();
    let mut target_roles: HashSet<String> = list_role_names(target)
        .await
        .map_err(|e| e.with_side(Side::Target))?
        .into_iter()
        .collect();

    let mut warnings = Vec::new();
    let mut results = Vec::with_capacity(roles.len());
    for role in &roles {
        let result = migrate_one_role(target, role, opts, &target_roles, &mut warnings).await;
        if result.status != RoleStatus::Failed {
            target_roles.insert(role.name.clone());
        }
        results.push(result);
    }

    match list_memberships(source).await {
        Ok(memberships) => {
            grant_memberships(
                target,
                &memberships,
                &roles,
                &results,
                &excluded,
                &target_roles,
                &mut warnings,
            )
            .await
        }
        Err(e) => warnings.push(Warning::role(format!(
            "role memberships were not migrated: {}",
            e.with_side(Side::Source)
        ))),
    }
    Ok((results, warnings))
}

/// Creates one role (or finds it existing). Never fails: errors become a `failed` result or
/// warnings.
async fn migrate_one_role(
    target: &Session,
    role: &RoleInfo,
    opts: &MigrateOptions,
    target_roles: &HashSet<String>,
    warnings: &mut Vec<Warning>,
) -> RoleResult {
    let name = &role.name;
    let real_password = opts.role_passwords.get(name);
    if target_roles.contains(name) {
        info!(role = %name, "role already exists in the target; left unchanged");
        if real_password.is_some() {
            warnings.push(
                Warning::role(format!(
                    "role \"{name}\": the password from {} was not set because the role already exists in the target",
                    Setting::RolePasswords
                ))
                .on(format!("role \"{name}\"")),
            );
        }
        return role_result(name, RoleStatus::Exists, MSG_EXISTS, None);
    }

    let password = role_password(role, opts, real_password);
    let verifier = password
        .as_ref()
        .map(|p| postgres_protocol::password::scram_sha_256(p.value.as_bytes()));

    info!(role = %name, "creating role");
    let sql = create_role_sql(role, verifier.as_deref());
    // Our own statement log, with the verifier left out (tokio-postgres' own log of statements
    // is filtered out: it would print it).
    tracing::debug!(
        "{}",
        create_role_sql(
            role,
            verifier
                .as_ref()
                .map(|_| "SCRAM-SHA-256$(verifier not shown)")
        )
    );
    if let Err(e) = target.execute(sql.as_str(), &[]).await {
        let e = Error::from_pg(e);
        if e.sqlstate() == Some(&SqlState::DUPLICATE_OBJECT) {
            info!(role = %name, "role already exists in the target; left unchanged");
            return role_result(name, RoleStatus::Exists, MSG_EXISTS, None);
        }
        info!(role = %name, "creating role failed: {}", e.message());
        return role_result(name, RoleStatus::Failed, e.message(), None);
    }

    warnings.extend(apply_role_extras(target, role).await);

    info!(role = %name, "role created");
    role_result(name, RoleStatus::Created, MSG_CREATED, password)
}

/// The password to create a role with: its own from `--role-passwords`, else a placeholder
/// for a role that logs in (the source's verifier cannot be read), else none.
fn role_password(
    role: &RoleInfo,
    opts: &MigrateOptions,
    real_password: Option<&str>,
) -> Option<RolePassword> {
    match real_password {
        Some(pw) => Some(RolePassword {
            value: pw.to_owned(),
            reveal: opts.show_passwords,
            placeholder: false,
        }),
        None if role.login => Some(RolePassword {
            value: placeholder_password(),
            reveal: opts.show_passwords,
            placeholder: true,
        }),
        None => None,
    }
}

/// What a created role has besides its attributes: its settings, comment and security
/// labels, each that the target refuses a warning (the role exists all the same).
async fn apply_role_extras(target: &Session, role: &RoleInfo) -> Vec<Warning> {
    let name = &role.name;
    let mut warnings = Vec::new();
    for entry in &role.config {
        let setting = entry.split_once('=').map_or(entry.as_str(), |(k, _)| k);
        let Some(clause) = set_clause(entry) else {
            warnings.push(
                Warning::role(format!(
                    "role \"{name}\": setting \"{setting}\" was not applied: it is not of the form name=value"
                ))
                .on(format!("role \"{name}\"")),
            );
            continue;
        };
        let sql = format!("ALTER ROLE {} SET {clause}", quote_ident(name));
        if let Err(e) = target.execute(sql.as_str(), &[]).await {
            let e = Error::from_pg(e);
            warn!(role = %name, setting, "applying role setting failed: {}", e.message());
            warnings.push(
                Warning::role(format!(
                    "role \"{name}\": setting \"{setting}\" was not applied: {}",
                    e.message()
                ))
                .on(format!("role \"{name}\"")),
            );
        }
    }

    if let Some(comment) = &role.comment {
        let sql = format!(
            "COMMENT ON ROLE {} IS {}",
            quote_ident(name),
            quote_literal(comment)
        );
        if let Err(e) = target.execute(sql.as_str(), &[]).await {
            let e = Error::from_pg(e);
            warn!(role = %name, "setting the role comment failed: {}", e.message());
            warnings.push(
                Warning::role(format!(
                    "role \"{name}\": the comment was not applied: {}",
                    e.message()
                ))
                .on(format!("role \"{name}\"")),
            );
        }
    }

    // Labels belong to a provider loaded into the server: one the target lacks refuses them.
    for (provider, label) in &role.labels {
        let sql = format!(
            "SECURITY LABEL FOR {} ON ROLE {} IS {}",
            quote_ident(provider),
            quote_ident(name),
            quote_literal(label)
        );
        if let Err(e) = target.execute(sql.as_str(), &[]).await {
            let e = Error::from_pg(e);
            warn!(role = %name, provider, "setting a security label failed: {}", e.message());
            warnings.push(
                Warning::role(format!(
                    "role \"{name}\": security label for provider {} was not applied: {}",
                    quote_ident(provider),
                    e.message()
                ))
                .on(format!("role \"{name}\"")),
            );
        }
    }
    warnings
}

fn role_result(
    name: &str,
    status: RoleStatus,
    message: &str,
    rolpassword: Option<RolePassword>,
) -> RoleResult {
    RoleResult {
        rolname: name.to_owned(),
        status,
        message: message.to_owned(),
        rolpassword,
    }
}

/// `CREATE ROLE` with every attribute explicit. `password_verifier` is a SCRAM verifier (or any
/// text the server should store as the password).
fn create_role_sql(role: &RoleInfo, password_verifier: Option<&str>) -> String {
    fn flag(on: bool, name: &str) -> String {
        if on {
            name.to_owned()
        } else {
            format!("NO{name}")
        }
    }
    let mut sql = format!(
        "CREATE ROLE {} WITH {} {} {} {} {} {} {} CONNECTION LIMIT {}",
        quote_ident(&role.name),
        flag(role.superuser, "SUPERUSER"),
        flag(role.createdb, "CREATEDB"),
        flag(role.createrole, "CREATEROLE"),
        flag(role.inherit, "INHERIT"),
        flag(role.login, "LOGIN"),
        flag(role.replication, "REPLICATION"),
        flag(role.bypassrls, "BYPASSRLS"),
        role.connection_limit
    );
    if let Some(until) = &role.valid_until {
        sql.push_str(" VALID UNTIL ");
        sql.push_str(&quote_literal(until));
    }
    if let Some(v) = password_verifier {
        sql.push_str(" PASSWORD ");
        sql.push_str(&quote_literal(v));
    }
    sql
}

/// One source membership to reproduce, after merging the rows of several grantors (PG16+).
#[derive(Debug, Clone, PartialEq, Eq)]
struct MembershipGrant {
    role: String,
    member: String,
    admin: bool,
    inherit: Option<bool>,
    set: Option<bool>,
    /// The role the source records as having granted it, when every merged row names the same
    /// one (empty when that role is gone); reproduced with `GRANTED BY` where it is migrated.
    grantor: String,
}

/// Merges memberships of the same (role, member) pair granted by different grantors: an option
/// is on when any grant has it on. Keeps the order of first appearance.
fn merge_memberships(memberships: &[Membership]) -> Vec<MembershipGrant> {
    let mut out: Vec<MembershipGrant> = Vec::new();
    let mut index: HashMap<(&str, &str), usize> = HashMap::new();
    for m in memberships {
        match index.get(&(m.role.as_str(), m.member.as_str())) {
            Some(&i) => {
                let g = &mut out[i];
                g.admin |= m.admin_option;
                g.inherit = or_option(g.inherit, m.inherit_option);
                g.set = or_option(g.set, m.set_option);
                if g.grantor != m.grantor {
                    // Several grantors merge into one grant: none of them can be named.
                    g.grantor.clear();
                }
            }
            None => {
                index.insert((m.role.as_str(), m.member.as_str()), out.len());
                out.push(MembershipGrant {
                    role: m.role.clone(),
                    member: m.member.clone(),
                    admin: m.admin_option,
                    inherit: m.inherit_option,
                    set: m.set_option,
                    grantor: m.grantor.clone(),
                });
            }
        }
    }
    out
}

fn or_option(a: Option<bool>, b: Option<bool>) -> Option<bool> {
    match (a, b) {
        (None, None) => None,
        (a, b) => Some(a.unwrap_or(false) || b.unwrap_or(false)),
    }
}

/// `GRANT role TO member ...` for a target of `target_version`, `GRANTED BY grantor` when
/// given.
fn grant_sql(g: &MembershipGrant, target_version: u32, grantor: Option<&str>) -> String {
    let mut sql = format!(
        "GRANT {} TO {}",
        quote_ident(&g.role),
        quote_ident(&g.member)
    );
    let tf = |b: bool| if b { "TRUE" } else { "FALSE" };
    match (g.inherit, g.set) {
        (Some(inherit), Some(set)) if target_version >= 160000 => {
            sql.push_str(&format!(
                " WITH ADMIN {}, INHERIT {}, SET {}",
                tf(g.admin),
                tf(inherit),
                tf(set)
            ));
        }
        _ => {
            if g.admin {
                sql.push_str(" WITH ADMIN OPTION");
            }
        }
    }
    if let Some(grantor) = grantor {
        sql.push_str(&format!(" GRANTED BY {}", quote_ident(grantor)));
    }
    sql
}

/// Grants the source's memberships that the target lacks (see the module docs).
async fn grant_memberships(
    target: &Session,
    memberships: &[Membership],
    roles: &[RoleInfo],
    results: &[RoleResult],
    excluded: &HashSet<&str>,
    target_roles: &HashSet<String>,
    warnings: &mut Vec<Warning>,
) {
    let grants: Vec<MembershipGrant> = merge_memberships(memberships)
        .into_iter()
        .filter(|g| !excluded.contains(g.role.as_str()) && !excluded.contains(g.member.as_str()))
        .collect();
    if grants.is_empty() {
        return;
    }
    let status: HashMap<&str, RoleStatus> = results
        .iter()
        .map(|r| (r.rolname.as_str(), r.status))
        .collect();
    let member_inherits: HashMap<&str, bool> =
        roles.iter().map(|r| (r.name.as_str(), r.inherit)).collect();
    let existing: HashSet<(String, String)> = match list_memberships(target).await {
        Ok(ms) => ms.into_iter().map(|m| (m.role, m.member)).collect(),
        Err(e) => {
            warnings.push(Warning::role(format!(
                "role memberships were not migrated: {}",
                e.with_side(Side::Target)
            )));
            return;
        }
    };
    let target_version = target.server_version_num();

    for g in &grants {
        let what = format!("membership of role \"{}\" in role \"{}\"", g.member, g.role);
        if let Err(w) = both_roles_present(g, &status, target_roles, &what) {
            warnings.extend(w);
            continue;
        }
        if existing.contains(&(g.role.clone(), g.member.clone())) {
            debug!(role = %g.role, member = %g.member, "membership already present in the target");
            continue;
        }
        if target_version < 160000 {
            warnings.extend(older_target_notes(
                g,
                target_version,
                &member_inherits,
                &what,
            ));
        }
        // The source's grantor, when it is a role this run migrated (the bootstrap superuser
        // and system roles are not: a superuser's grant is recorded as the bootstrap
        // superuser's on both sides). Only a superuser, or on 16+ a role holding the grantor's
        // privileges, may name another grantor: when the target refuses, the membership is
        // granted by the migration user instead, with a warning.
        let grantor = Some(g.grantor.as_str()).filter(|r| {
            matches!(
                status.get(r),
                Some(RoleStatus::Created | RoleStatus::Exists)
            )
        });
        warnings.extend(grant_one(target, g, target_version, grantor, &what).await);
    }
}

/// Whether both roles of membership `g` (`what`) are in the target for it: the member a
/// source role this run created or found, the role one too or a system role the target has.
/// Else the membership is skipped, with the warning that says why (none for a member this
/// run did not migrate).
fn both_roles_present(
    g: &MembershipGrant,
    status: &HashMap<&str, RoleStatus>,
    target_roles: &HashSet<String>,
    what: &str,
) -> std::result::Result<(), Option<Warning>> {
    // The member is always a non-system source role (list_memberships filters on it).
    match status.get(g.member.as_str()) {
        Some(RoleStatus::Created | RoleStatus::Exists) => {}
        Some(RoleStatus::Failed) => {
            return Err(Some(
                Warning::role(format!(
                    "{what} was not granted: role \"{}\" could not be created",
                    g.member
                ))
                .on(what.to_string()),
            ));
        }
        None => return Err(None),
    }
    match status.get(g.role.as_str()) {
        Some(RoleStatus::Created | RoleStatus::Exists) => {}
        Some(RoleStatus::Failed) => {
            return Err(Some(
                Warning::role(format!(
                    "{what} was not granted: role \"{}\" could not be created",
                    g.role
                ))
                .on(what.to_string()),
            ));
        }
        None if g.role.starts_with("pg_") && target_roles.contains(&g.role) => {}
        None => {
            return Err(Some(Warning::role(format!(
                "{what} was not granted: role \"{}\" is a system role of the source that is not migrated{}",
                g.role,
                if target_roles.contains(&g.role) {
                    ""
                } else {
                    " and does not exist in the target"
                }
            )).on(what.to_string())));
        }
    }
    Ok(())
}

/// What a target older than PostgreSQL 16 cannot express of membership `g` (`what`): a SET
/// FALSE, an INHERIT that differs from the member's own attribute.
fn older_target_notes(
    g: &MembershipGrant,
    target_version: u32,
    member_inherits: &HashMap<&str, bool>,
    what: &str,
) -> Vec<Warning> {
    let mut notes = Vec::new();
    if g.set == Some(false) {
        notes.push(Warning::role(format!(
            "{what}: the source grants it WITH SET FALSE, which the target (PostgreSQL {}) cannot express; granted with SET TRUE",
            target_version / 10000
        )).on(what.to_string()));
    }
    if let (Some(inherit), Some(&member_inherit)) =
        (g.inherit, member_inherits.get(g.member.as_str()))
    {
        if inherit != member_inherit {
            notes.push(Warning::role(format!(
                "{what}: the source grants it WITH INHERIT {}, which the target (PostgreSQL {}) cannot express per membership; the member's {}INHERIT attribute applies",
                if inherit { "TRUE" } else { "FALSE" },
                target_version / 10000,
                if member_inherit { "" } else { "NO" }
            )).on(what.to_string()));
        }
    }
    notes
}

/// Grants membership `g` (`what`), by `grantor` when given; when the target refuses that
/// grantor, by the migration user instead. The warnings: the grantor the target recorded
/// instead, or why the membership was not granted.
async fn grant_one(
    target: &Session,
    g: &MembershipGrant,
    target_version: u32,
    grantor: Option<&str>,
    what: &str,
) -> Vec<Warning> {
    let mut warnings = Vec::new();
    let sql = grant_sql(g, target_version, grantor);
    let mut outcome = target
        .execute(sql.as_str(), &[])
        .await
        .map(|_| ())
        .map_err(Error::from_pg);
    let refused = outcome.as_ref().err().map(|e| e.message().to_string());
    if let (Some(refused), Some(by)) = (refused, grantor) {
        debug!(role = %g.role, member = %g.member, "GRANTED BY refused: {refused}");
        outcome = target
            .execute(grant_sql(g, target_version, None).as_str(), &[])
            .await
            .map(|_| ())
            .map_err(Error::from_pg);
        if outcome.is_ok() {
            warnings.push(
                Warning::role(format!(
                    "{what} is recorded as granted by the migration user, not by role \"{by}\" as in the source: {refused}"
                ))
                .on(what.to_string()),
            );
        }
    }
    match outcome {
        Ok(()) => {
            info!(role = %g.role, member = %g.member, admin = g.admin, "membership granted")
        }
        Err(e) => {
            warn!(role = %g.role, member = %g.member, "granting membership failed: {}", e.message());
            warnings.push(
                Warning::role(format!("{what} was not granted: {}", e.message()))
                    .on(what.to_string()),
            );
        }
    }
    warnings
}

/// Applies the per-database role settings of `dbname` (`ALTER ROLE r IN DATABASE d SET ...`)
/// in the target, for the roles this run created (roles that already existed are left
/// unchanged, failed ones do not exist). Returns warnings for settings the target refused.
pub async fn apply_role_db_settings(
    target: &Session,
    settings: &[RoleDbSetting],
    dbname: &str,
    migrated_roles: &[RoleResult],
) -> Vec<Warning> {
    let created: HashSet<&str> = migrated_roles
        .iter()
        .filter(|r| r.status == RoleStatus::Created)
        .map(|r| r.rolname.as_str())
        .collect();
    let mut warnings = Vec::new();
    for s in settings.iter().filter(|s| s.database == dbname) {
        if !created.contains(s.role.as_str()) {
            debug!(role = %s.role, database = dbname, "per-database role settings skipped: role not created by this run");
            continue;
        }
        for entry in &s.config {
            let setting = entry.split_once('=').map_or(entry.as_str(), |(k, _)| k);
            let Some(clause) = set_clause(entry) else {
                warnings.push(Warning::role(format!(
                    "role \"{}\" in database \"{dbname}\": setting \"{setting}\" was not applied: it is not of the form name=value",
                    s.role
                )).on(format!("role \"{}\"", s.role)));
                continue;
            };
            let sql = format!(
                "ALTER ROLE {} IN DATABASE {} SET {clause}",
                quote_ident(&s.role),
                quote_ident(dbname)
            );
            match target.execute(sql.as_str(), &[]).await {
                Ok(_) => {
                    info!(role = %s.role, database = dbname, setting, "per-database role setting applied")
                }
                Err(e) => {
                    let e = Error::from_pg(e);
                    warn!(role = %s.role, database = dbname, setting, "applying per-database role setting failed: {}", e.message());
                    warnings.push(Warning::role(format!(
                        "role \"{}\" in database \"{dbname}\": setting \"{setting}\" was not applied: {}",
                        s.role,
                        e.message()
                    )).on(format!("role \"{}\"", s.role)));
                }
            }
        }
    }
    warnings
}

/// The placeholder password of a `LOGIN` role without a real one: `placeholder_` followed by 16
/// lowercase ASCII letters from a cryptographically secure generator (`rand::rng()`).
pub fn placeholder_password() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    let mut out = String::with_capacity(28);
    out.push_str("placeholder_");
    for _ in 0..16 {
        out.push(char::from(rng.random_range(b'a'..=b'z')));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role(name: &str) -> RoleInfo {
        RoleInfo {
            oid: crate::catalog::scope::FIRST_NORMAL_OBJECT_ID,
            name: name.into(),
            superuser: false,
            inherit: true,
            createrole: false,
            createdb: true,
            login: true,
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
    fn placeholders_are_placeholder_and_16_lowercase_letters() {
        let a = placeholder_password();
        let b = placeholder_password();
        assert_ne!(a, b);
        for p in [a, b] {
            let tail = p.strip_prefix("placeholder_").expect(&p);
            assert_eq!(tail.len(), 16);
            assert!(tail.bytes().all(|c| c.is_ascii_lowercase()), "{p}");
        }
    }

    #[test]
    fn create_role_writes_every_attribute_explicitly() {
        let mut r = role("we\"ird name");
        r.connection_limit = 42;
        r.valid_until = Some("2030-01-01 00:00:00.000000+00 AD".into());
        assert_eq!(
            create_role_sql(&r, Some("SCRAM-SHA-256$4096:x")),
            "CREATE ROLE \"we\"\"ird name\" WITH NOSUPERUSER CREATEDB NOCREATEROLE INHERIT LOGIN \
             NOREPLICATION NOBYPASSRLS CONNECTION LIMIT 42 VALID UNTIL '2030-01-01 00:00:00.000000+00 AD' \
             PASSWORD 'SCRAM-SHA-256$4096:x'"
        );
        let mut r = role("x");
        r.superuser = true;
        r.createdb = false;
        r.createrole = true;
        r.inherit = false;
        r.login = false;
        r.replication = true;
        r.bypassrls = true;
        assert_eq!(
            create_role_sql(&r, None),
            "CREATE ROLE \"x\" WITH SUPERUSER NOCREATEDB CREATEROLE NOINHERIT NOLOGIN REPLICATION \
             BYPASSRLS CONNECTION LIMIT -1"
        );
    }

    #[test]
    fn injection_in_a_role_name_stays_a_name() {
        let r = role("x\"; DROP ROLE postgres; --");
        assert!(
            create_role_sql(&r, None)
                .starts_with("CREATE ROLE \"x\"\"; DROP ROLE postgres; --\" WITH ")
        );
    }

    fn m(role: &str, member: &str, admin: bool, opts: Option<(bool, bool)>) -> Membership {
        Membership {
            role: role.into(),
            member: member.into(),
            grantor: "g".into(),
            admin_option: admin,
            inherit_option: opts.map(|o| o.0),
            set_option: opts.map(|o| o.1),
        }
    }

    #[test]
    fn memberships_of_several_grantors_merge() {
        let merged = merge_memberships(&[
            m("a", "b", false, Some((false, true))),
            m("a", "b", true, Some((true, false))),
            m("c", "b", false, None),
        ]);
        assert_eq!(merged.len(), 2);
        assert_eq!(
            merged[0],
            MembershipGrant {
                role: "a".into(),
                member: "b".into(),
                admin: true,
                inherit: Some(true),
                set: Some(true),
                grantor: "g".into(),
            }
        );
        assert_eq!(merged[1].inherit, None);
    }

    #[test]
    fn grants_use_pg16_options_only_when_both_sides_have_them() {
        let g = |admin, inherit, set| MembershipGrant {
            role: "r\"1".into(),
            member: "m 1".into(),
            admin,
            inherit,
            set,
            grantor: "g".into(),
        };
        assert_eq!(
            grant_sql(&g(true, Some(false), Some(true)), 160000, None),
            "GRANT \"r\"\"1\" TO \"m 1\" WITH ADMIN TRUE, INHERIT FALSE, SET TRUE"
        );
        assert_eq!(
            grant_sql(&g(true, Some(false), Some(true)), 150000, None),
            "GRANT \"r\"\"1\" TO \"m 1\" WITH ADMIN OPTION"
        );
        assert_eq!(
            grant_sql(&g(true, None, None), 170000, None),
            "GRANT \"r\"\"1\" TO \"m 1\" WITH ADMIN OPTION"
        );
        assert_eq!(
            grant_sql(&g(false, None, None), 170000, None),
            "GRANT \"r\"\"1\" TO \"m 1\""
        );
        assert_eq!(
            grant_sql(&g(false, None, None), 150000, Some("adm in")),
            "GRANT \"r\"\"1\" TO \"m 1\" GRANTED BY \"adm in\""
        );
    }
}
