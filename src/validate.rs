//! Preflight: every check a migration needs before it writes anything, run together and
//! reported together.
//!
//! [`preflight`] never fails: each problem becomes a [`crate::report::Finding`] that says what is
//! wrong and what to do about it. Findings tied to one source database (`database: Some(..)`)
//! fail only that database in a migration; findings without a database stop the migration before
//! anything is written. What preflight learned (sessions, server facts, database lists, the
//! selection) is handed back in [`Preflight`] so that the migration does not ask again.
//!
//! # Checks (the `check` name of their findings)
//!
//! - `connection`: source and target reachable. When one side is not, the checks that need it
//!   are skipped, and one warning says which.
//! - `same-server`: source and target are not the same server: same (host, port) after
//!   normalization (case, trailing dot, loopback aliases, canonical socket directory), or the
//!   same `pg_control_system().system_identifier` where both users may read it.
//! - `version`: the source major is 12 to 18; the target major is not older than the source's
//!   (a warning instead with `--skip-db-version-check`).
//! - `databases`: for each selected source database (not a template, `datallowconn`, not in
//!   `-f`): the source user can connect; it exists in the target unless databases are created
//!   (`--no-createdb`); if it exists in the target, the target user can connect.
//! - `languages`: languages of a source database are in the target database (or, for a
//!   database still to be created, in the target's default database), or installable there as
//!   an extension of the same name. Languages named in `-xe` are not checked.
//! - `extensions`: each extension of a source database (except `-xe` ones) is installed in the
//!   target database at a version at least the source's, or else available in the target at a
//!   default version at least the source's and installable by the target user (superuser,
//!   trusted, not superuser-only, or listed in `extwlist.extensions`).
//! - `size`: with `dbs_max_total_size`, the summed `pg_database_size` of the selected databases.
//! - `large-objects`: a warning per source database holding large objects, unless the
//!   replication method cannot be used (`--force-method dump`, `--schema-only`).
//! - `roles`: one warning naming the source roles the target user cannot create.
//! - `owners`: per database, a warning counting the objects that will be owned by the
//!   migration user instead of their source owner, by owner and why ([`crate::owners`]).
//!
//! Each source database (and its target counterpart, when it exists) gets at most one session,
//! opened [`DB_CONCURRENCY`] at a time; the servers' default databases reuse the main sessions.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::net::IpAddr;
use std::ops::RangeInclusive;

use futures::stream::{self, StreamExt};

use crate::catalog::databases::{DatabaseInfo, database_size, list_databases};
use crate::catalog::roles::{RoleInfo, UserFacts, current_user_facts, list_role_names, list_roles};
use crate::catalog::server::{
    AvailableExtension, InstalledExtension, ServerFacts, available_extensions, compare_versions,
    has_large_objects, installed_extensions, languages, server_facts,
};
use crate::conn::{ConnInfo, Session, connect};
use crate::error::{Error, Result, Side};
use crate::options::MigrateOptions;
use crate::report::ValidationReport;

/// The source majors db-migrate supports.
pub const SUPPORTED_SOURCE_MAJORS: RangeInclusive<u32> = 12..=18;

/// How many databases are probed at once (each probe holds up to one source and one target
/// session).
pub const DB_CONCURRENCY: usize = 4;

/// What preflight learned, kept so the migration reuses it instead of asking again.
pub struct Preflight {
    pub report: ValidationReport,
    /// A session on the source's default database (the conninfo's), if reachable.
    pub source: Option<Session>,
    /// A session on the target's default database, if reachable.
    pub target: Option<Session>,
    pub source_facts: Option<ServerFacts>,
    pub target_facts: Option<ServerFacts>,
    /// Every row of the source's `pg_database` (empty when unreadable).
    pub source_databases: Vec<DatabaseInfo>,
    /// Every row of the target's `pg_database` (empty when unreadable).
    pub target_databases: Vec<DatabaseInfo>,
    /// Names of the source databases to migrate, in name order.
    pub selected: Vec<String>,
    /// What each selected database's existing target holds (ledger, user objects), read by
    /// [`crate::ledger::preflight_targets`].
    pub targets: std::collections::HashMap<String, crate::ledger::TargetState>,
    /// Each database's resolved selection (empty when no selection flag is given: everything
    /// moves).
    pub selections: std::collections::BTreeMap<String, crate::selection::preflight::Resolved>,
    /// Provider roles of the source that are left out (see [`crate::selection::provider`]).
    pub provider_roles: Vec<String>,
}

/// One server after the first round: its session and the facts every check needs.
struct Opened {
    session: Option<Session>,
    facts: Option<ServerFacts>,
    databases: Option<Vec<DatabaseInfo>>,
}

impl Opened {
    fn usable(&self) -> bool {
        self.session.is_some() && self.facts.is_some() && self.databases.is_some()
    }
}

fn side_flag(side: Side) -> &'static str {
    match side {
        Side::Source => "--source",
        Side::Target => "--target",
    }
}

async fn open_side(info: &ConnInfo, side: Side, report: &mut ValidationReport) -> Opened {
    let session = match connect(info, None).await {
        Ok(s) => s,
        Err(e) => {
            report.error(
                "connection",
                None,
                format!(
                    "cannot connect to the {side}: {e}. Check the host, port, user, password, \
                     database and sslmode of {} and that the server's pg_hba.conf admits this \
                     client.",
                    side_flag(side)
                ),
            );
            return Opened {
                session: None,
                facts: None,
                databases: None,
            };
        }
    };
    let (facts, databases) = tokio::join!(server_facts(&session), list_databases(&session));
    let facts = facts
        .map_err(|e| {
            report.error(
                "connection",
                None,
                format!(
                    "connected to the {side} but could not read its basic facts: {e}. The \
                     {side} user must be able to read the system catalogs."
                ),
            )
        })
        .ok();
    let databases = databases
        .map_err(|e| {
            report.error(
                "connection",
                None,
                format!(
                    "connected to the {side} but could not list its databases: {e}. The {side} \
                     user must be able to read pg_database."
                ),
            )
        })
        .ok();
    Opened {
        session: Some(session),
        facts,
        databases,
    }
}

/// Runs every check. Never returns an error: every problem is a finding in `report`.
pub async fn preflight(opts: &MigrateOptions) -> Preflight {
    let mut src_report = ValidationReport::default();
    let mut tgt_report = ValidationReport::default();
    let (src, tgt) = tokio::join!(
        open_side(&opts.source, Side::Source, &mut src_report),
        open_side(&opts.target, Side::Target, &mut tgt_report)
    );
    let mut report = ValidationReport::default();
    for f in src_report.findings.into_iter().chain(tgt_report.findings) {
        report.push(f.severity, f.check, f.database.as_deref(), f.message);
    }
    let src_ok = src.usable();
    let tgt_ok = tgt.usable();
    report_skipped(&mut report, src_ok, tgt_ok);

    check_same_server(
        &mut report,
        &opts.source,
        &opts.target,
        src.facts.as_ref(),
        tgt.facts.as_ref(),
    );
    check_versions(
        &mut report,
        src.facts.as_ref().map(|f| f.version_num),
        tgt.facts.as_ref().map(|f| f.version_num),
        opts.skip_db_version_check,
    );

    let source_databases = src.databases.clone().unwrap_or_default();
    let target_databases = tgt.databases.clone().unwrap_or_default();
    let selected: Vec<String> = if src_ok {
        crate::selection::preflight::select_databases(&source_databases, opts, &mut report)
    } else {
        Vec::new()
    };
    // Provider roles are left out of every role check and of the migration.
    let provider_roles = match (&src.session, src_ok) {
        (Some(source), true) => match list_role_names(source).await {
            Ok(names) => crate::selection::preflight::provider_roles(&names, opts, &mut report),
            Err(_) => Vec::new(),
        },
        _ => Vec::new(),
    };
    let with_provider_roles;
    let opts = if provider_roles.is_empty() {
        opts
    } else {
        let mut o = opts.clone();
        o.excluded_roles.extend(provider_roles.iter().cloned());
        with_provider_roles = o;
        &with_provider_roles
    };
    let mut selections = std::collections::BTreeMap::new();

    // Target facts shared by every database's checks.
    let target_side = match (&tgt.session, tgt_ok) {
        (Some(t), true) => Some(read_target_server(t, &mut report).await),
        _ => None,
    };

    let mut targets = std::collections::HashMap::new();
    if let (Some(source), true) = (&src.session, src_ok) {
        let target_names: HashSet<&str> =
            target_databases.iter().map(|d| d.name.as_str()).collect();
        let target_session = if tgt_ok { tgt.session.as_ref() } else { None };
        // The futures are built eagerly (they do nothing until polled) so that the stream's
        // item type names no closure: a `StreamExt::map` closure over borrowed names makes the
        // whole preflight future fail to be `Send`.
        let pending: Vec<_> = selected
            .iter()
            .map(|name| {
                probe_database(
                    opts,
                    source,
                    target_session,
                    target_names.contains(name.as_str()),
                    name,
                )
            })
            .collect();
        let mut probes: Vec<DbProbe> = stream::iter(pending)
            .buffer_unordered(DB_CONCURRENCY)
            .collect()
            .await;
        probes.sort_by(|a, b| a.name.cmp(&b.name));

        let source_user = src
            .facts
            .as_ref()
            .map(|f| f.current_user.as_str())
            .unwrap_or("");
        let target_user = tgt
            .facts
            .as_ref()
            .map(|f| f.current_user.as_str())
            .unwrap_or("");
        for p in &probes {
            check_database_access(&mut report, opts, p, source_user, target_user);
        }
        if let (Some(ts), Some(tf)) = (&target_side, &tgt.facts) {
            for p in &probes {
                check_languages(&mut report, opts, p, ts);
            }
            for p in &probes {
                check_extensions(&mut report, opts, p, ts, tf);
            }
        }
        let readable: Vec<String> = probes
            .iter()
            .filter(|p| p.source.is_ok())
            .map(|p| p.name.clone())
            .collect();
        selections =
            crate::selection::preflight::resolve_databases(opts, source, &readable, &mut report)
                .await;
        match opts.dbs_max_total_size {
            Some(limit) if !opts.selection.is_everything() => {
                crate::selection::preflight::check_selected_size(&mut report, &selections, limit)
            }
            Some(limit) => check_size(&mut report, source, source_user, &selected, limit).await,
            None => {}
        }
        // Only the replication method loses large objects written during the migration.
        let replication_possible = opts.force_method != Some(crate::report::Method::Dump)
            && !opts.schema_only
            && !opts.cleanup;
        for p in probes.iter().filter(|_| replication_possible) {
            check_large_objects(&mut report, p);
        }
        // Every gap in the source user's read access, with its GRANT (see crate::read_access).
        for name in &selected {
            if report.database_errors(name).next().is_none() {
                crate::read_access::check_database(&opts.source, name, &mut report).await;
            }
        }
        if let (Some(target), true) = (&tgt.session, tgt_ok) {
            check_roles(&mut report, opts, source, target).await;
            crate::owners::check_owners(
                &mut report,
                opts,
                source,
                target,
                &source_databases,
                &selected,
            )
            .await;
        }
        if tgt_ok && !opts.cleanup {
            let existing: Vec<String> = selected
                .iter()
                .filter(|n| target_names.contains(n.as_str()))
                .cloned()
                .collect();
            targets = crate::ledger::preflight_targets(
                opts,
                src.facts.as_ref(),
                &source_databases,
                &existing,
                &mut report,
            )
            .await;
        }
    }

    Preflight {
        report,
        source: src.session,
        target: tgt.session,
        source_facts: src.facts,
        target_facts: tgt.facts,
        source_databases,
        target_databases,
        selected,
        targets,
        selections,
        provider_roles,
    }
}

fn report_skipped(report: &mut ValidationReport, src_ok: bool, tgt_ok: bool) {
    let msg = match (src_ok, tgt_ok) {
        (true, true) => return,
        (false, true) => {
            "the source could not be used, so the version, databases, languages, extensions, \
             size, large-objects and roles checks were skipped; fix the source connection and \
             validate again"
        }
        (true, false) => {
            "the target could not be used, so the version, languages, extensions and roles \
             checks and the target side of the databases check were skipped (the source \
             databases were still checked); fix the target connection and validate again"
        }
        (false, false) => {
            "neither server could be used, so every check but same-server was skipped; fix the \
             connections and validate again"
        }
    };
    report.warning("connection", None, msg);
}

// ---------------------------------------------------------------------------------------------
// same-server

/// Where a conninfo points, normalized for comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Endpoint {
    Tcp(String, u16),
    Socket(String, u16),
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::Tcp(h, p) => write!(f, "host {h} port {p}"),
            Endpoint::Socket(d, p) => write!(f, "socket directory {d} port {p}"),
        }
    }
}

fn normalize_host(host: &str) -> String {
    let h = host.trim().trim_end_matches('.').to_ascii_lowercase();
    let bare = h.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<IpAddr>() {
        Ok(ip) if ip.is_loopback() => "localhost".into(),
        Ok(ip) => ip.to_string(),
        Err(_) if bare == "localhost" || bare == "localhost6" || bare == "ip6-localhost" => {
            "localhost".into()
        }
        Err(_) => bare.to_string(),
    }
}

fn endpoint(info: &ConnInfo) -> Endpoint {
    let port = info.port();
    if info.is_unix_socket() {
        let dir = info.host().to_string();
        let dir = std::fs::canonicalize(&dir)
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_else(|_| {
                let t = dir.trim_end_matches('/');
                if t.is_empty() {
                    "/".into()
                } else {
                    t.to_string()
                }
            });
        return Endpoint::Socket(dir, port);
    }
    let host = match info.hostaddr {
        Some(ip) => normalize_host(&ip.to_string()),
        None => normalize_host(&info.host().to_string()),
    };
    Endpoint::Tcp(host, port)
}

fn check_same_server(
    report: &mut ValidationReport,
    source: &ConnInfo,
    target: &ConnInfo,
    source_facts: Option<&ServerFacts>,
    target_facts: Option<&ServerFacts>,
) {
    let (s, t) = (endpoint(source), endpoint(target));
    if s == t {
        report.error(
            "same-server",
            None,
            format!(
                "the source and the target are the same server ({s}): migrating a server onto \
                 itself is not supported; point --target at another server"
            ),
        );
        return;
    }
    let ids = (
        source_facts.and_then(|f| f.system_identifier),
        target_facts.and_then(|f| f.system_identifier),
    );
    if let (Some(a), Some(b)) = ids {
        if a != b {
            return;
        }
        report.error(
            "same-server",
            None,
            format!(
                "the source ({s}) and the target ({t}) have the same system identifier {a}: they \
                 are the same cluster reached through two addresses, or one is a physical \
                 standby of the other; migrating a cluster onto itself is not supported, point \
                 --target at another server"
            ),
        );
    }
}

// ---------------------------------------------------------------------------------------------
// version

/// `150004` -> `15.4`; `90624` -> `9.6.24`.
pub fn format_version(num: u32) -> String {
    if num >= 100_000 {
        format!("{}.{}", num / 10000, num % 10000)
    } else {
        format!("{}.{}.{}", num / 10000, (num / 100) % 100, num % 100)
    }
}

/// The version rule: a supported source major, and a target major not older than the
/// source's (only a warning when `skip` is set). Only majors are compared.
pub(crate) fn check_versions(
    report: &mut ValidationReport,
    source: Option<u32>,
    target: Option<u32>,
    skip: bool,
) {
    if let Some(s) = source {
        let major = s / 10000;
        if !SUPPORTED_SOURCE_MAJORS.contains(&major) {
            report.error(
                "version",
                None,
                format!(
                    "the source runs PostgreSQL {}, which is not supported: db-migrate migrates \
                     from PostgreSQL {} to {}; upgrade the source first",
                    format_version(s),
                    SUPPORTED_SOURCE_MAJORS.start(),
                    SUPPORTED_SOURCE_MAJORS.end()
                ),
            );
        }
    }
    let (Some(s), Some(t)) = (source, target) else {
        return;
    };
    let (sm, tm) = (s / 10000, t / 10000);
    if tm < sm {
        let head = format!(
            "the target runs PostgreSQL {} (major {tm}), older than the source's {} (major {sm})",
            format_version(t),
            format_version(s)
        );
        if skip {
            report.warning(
                "version",
                None,
                format!(
                    "{head}: going ahead because of --skip-db-version-check, but objects that \
                     use features of the newer major will fail to restore"
                ),
            );
        } else {
            report.error(
                "version",
                None,
                format!(
                    "{head}: migrating to an older major version is not supported; use a target \
                     of major {sm} or newer, or pass --skip-db-version-check to try anyway"
                ),
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// per-database probes

/// Target-wide facts the per-database checks share.
struct TargetServer {
    /// Available extensions by name (`None`: unreadable, already reported).
    available: Option<BTreeMap<String, AvailableExtension>>,
    /// `pg_language` of the target's default database.
    default_languages: Option<Vec<String>>,
}

async fn read_target_server(target: &Session, report: &mut ValidationReport) -> TargetServer {
    let (available, langs) = tokio::join!(available_extensions(target), languages(target));
    let available = match available {
        Ok(list) => Some(list.into_iter().map(|a| (a.name.clone(), a)).collect()),
        Err(e) => {
            report.error(
                "extensions",
                None,
                format!(
                    "could not read the extensions available in the target: {e}; the \
                     extensions check was skipped"
                ),
            );
            None
        }
    };
    let default_languages = match langs {
        Ok(l) => Some(l),
        Err(e) => {
            report.warning(
                "languages",
                None,
                format!("could not read the languages of the target's default database: {e}"),
            );
            None
        }
    };
    TargetServer {
        available,
        default_languages,
    }
}

/// What one source database holds (read in that database).
struct SourceDb {
    extensions: Result<Vec<InstalledExtension>>,
    languages: Result<Vec<String>>,
    large_objects: Result<bool>,
}

/// The target counterpart of a source database.
enum TargetDb {
    /// The target could not be used: nothing known.
    Unknown,
    /// No database of that name in the target.
    Missing,
    /// It exists but the target user cannot connect.
    Unreachable(Error),
    Reachable {
        extensions: Result<Vec<InstalledExtension>>,
        languages: Result<Vec<String>>,
    },
}

struct DbProbe {
    name: String,
    source: std::result::Result<SourceDb, Error>,
    target: TargetDb,
}

/// `default` when it is already connected to `db`, else a new session on `db`.
async fn session_for<'a>(
    info: &ConnInfo,
    default: &'a Session,
    db: &str,
    owned: &'a mut Option<Session>,
) -> Result<&'a Session> {
    if default.info().dbname() == db {
        return Ok(default);
    }
    Ok(owned.insert(connect(info, Some(db)).await?))
}

async fn probe_database(
    opts: &MigrateOptions,
    source: &Session,
    target: Option<&Session>,
    in_target: bool,
    name: &str,
) -> DbProbe {
    let source_fut = async {
        let mut owned = None;
        let s = session_for(&opts.source, source, name, &mut owned).await?;
        let (extensions, languages, large_objects) =
            tokio::join!(installed_extensions(s), languages(s), has_large_objects(s));
        Ok(SourceDb {
            extensions,
            languages,
            large_objects,
        })
    };
    let target_fut = async {
        let Some(target) = target else {
            return TargetDb::Unknown;
        };
        if !in_target {
            return TargetDb::Missing;
        }
        let mut owned = None;
        match session_for(&opts.target, target, name, &mut owned).await {
            Ok(t) => {
                let (extensions, languages) = tokio::join!(installed_extensions(t), languages(t));
                TargetDb::Reachable {
                    extensions,
                    languages,
                }
            }
            Err(e) => TargetDb::Unreachable(e),
        }
    };
    let (source, target) = tokio::join!(source_fut, target_fut);
    DbProbe {
        name: name.to_string(),
        source,
        target,
    }
}

// ---------------------------------------------------------------------------------------------
// databases

fn check_database_access(
    report: &mut ValidationReport,
    opts: &MigrateOptions,
    p: &DbProbe,
    source_user: &str,
    target_user: &str,
) {
    let db = p.name.as_str();
    if let Err(e) = &p.source {
        report.error(
            "databases",
            Some(db),
            format!(
                "the source user \"{source_user}\" cannot connect to database \"{db}\": {e}. \
                 Grant it CONNECT on the database and allow it in the source's pg_hba.conf, or \
                 leave the database out with -f"
            ),
        );
    }
    match &p.target {
        TargetDb::Missing if !opts.createdb => report.error(
            "databases",
            Some(db),
            format!(
                "database \"{db}\" does not exist in the target and databases are not created \
                 (--no-createdb): create it in the target first, drop --no-createdb, or leave \
                 the database out with -f"
            ),
        ),
        TargetDb::Unreachable(e) => report.error(
            "databases",
            Some(db),
            format!(
                "database \"{db}\" exists in the target but the target user \"{target_user}\" \
                 cannot connect to it: {e}. Grant it CONNECT on the target database and allow \
                 it in the target's pg_hba.conf, drop the target database, or leave the database \
                 out with -f"
            ),
        ),
        _ => {}
    }
}

// ---------------------------------------------------------------------------------------------
// languages

/// Languages of `source` that the target neither has nor can install as an extension, minus
/// `excluded`; sorted.
pub(crate) fn missing_languages<'a>(
    source: &'a [String],
    target: &[String],
    target_available_extensions: impl Fn(&str) -> bool,
    excluded: &[String],
) -> Vec<&'a str> {
    let target: HashSet<&str> = target.iter().map(String::as_str).collect();
    let missing: BTreeSet<&str> = source
        .iter()
        .map(String::as_str)
        .filter(|l| !target.contains(l))
        .filter(|l| !target_available_extensions(l))
        .filter(|l| !excluded.iter().any(|x| x == l))
        .collect();
    missing.into_iter().collect()
}

fn check_languages(
    report: &mut ValidationReport,
    opts: &MigrateOptions,
    p: &DbProbe,
    ts: &TargetServer,
) {
    let db = p.name.as_str();
    let Ok(source) = &p.source else { return };
    let src_langs = match &source.languages {
        Ok(l) => l,
        Err(e) => {
            report.error(
                "languages",
                Some(db),
                format!("could not read the languages of source database \"{db}\": {e}"),
            );
            return;
        }
    };
    let tgt_langs = match &p.target {
        TargetDb::Reachable {
            languages: Ok(l), ..
        } => l,
        TargetDb::Reachable {
            languages: Err(e), ..
        } => {
            report.error(
                "languages",
                Some(db),
                format!("could not read the languages of target database \"{db}\": {e}"),
            );
            return;
        }
        TargetDb::Missing => match &ts.default_languages {
            Some(l) => l,
            None => return,
        },
        TargetDb::Unknown | TargetDb::Unreachable(_) => return,
    };
    let available = |l: &str| ts.available.as_ref().is_some_and(|a| a.contains_key(l));
    let missing = missing_languages(src_langs, tgt_langs, available, &opts.excluded_extensions);
    if !missing.is_empty() {
        report.error(
            "languages",
            Some(db),
            format!(
                "languages used in source database \"{db}\" are not installed in the target and \
                 not available there as extensions: {}. Install them in the target (their \
                 extension package, or CREATE LANGUAGE as a superuser), drop them from the \
                 source database, or leave the database out with -f",
                missing.join(", ")
            ),
        );
    }
}

// ---------------------------------------------------------------------------------------------
// extensions

/// One problem with one extension of one database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ExtensionProblem {
    /// Installed in the target database at an older version.
    InstalledOlder { target: String },
    /// Not in the target's `pg_available_extensions`.
    NotAvailable,
    /// Available, but the default version is older than the source's.
    AvailableOlder { target: String },
    /// Installing it needs a superuser and the target user is not one.
    RequiresSuperuser,
}

/// The extension rule for one installed source extension.
pub(crate) fn extension_problems(
    source: &InstalledExtension,
    target_installed: Option<&InstalledExtension>,
    target_available: Option<&AvailableExtension>,
    target_facts: &ServerFacts,
) -> Vec<ExtensionProblem> {
    if let Some(t) = target_installed {
        if compare_versions(&t.version, &source.version) == Ordering::Less {
            return vec![ExtensionProblem::InstalledOlder {
                target: t.version.clone(),
            }];
        }
        return Vec::new();
    }
    let Some(a) = target_available else {
        return vec![ExtensionProblem::NotAvailable];
    };
    let mut problems = Vec::new();
    if let Some(dv) = &a.default_version {
        if compare_versions(dv, &source.version) == Ordering::Less {
            problems.push(ExtensionProblem::AvailableOlder { target: dv.clone() });
        }
    }
    let whitelisted = target_facts
        .extwlist
        .as_ref()
        .is_some_and(|w| w.iter().any(|n| n == &a.name));
    if !(target_facts.is_superuser || a.trusted || !a.superuser || whitelisted) {
        problems.push(ExtensionProblem::RequiresSuperuser);
    }
    problems
}

fn extension_message(
    db: &str,
    ext: &InstalledExtension,
    problem: &ExtensionProblem,
    target_user: &str,
) -> String {
    let name = &ext.name;
    let sv = &ext.version;
    let skip = format!("or skip it with -xe {name}");
    match problem {
        ExtensionProblem::InstalledOlder { target } => format!(
            "extension \"{name}\" is installed in target database \"{db}\" at version {target}, \
             older than the source's {sv}: update it in the target (ALTER EXTENSION \"{name}\" \
             UPDATE, after installing a newer package if needed), {skip}"
        ),
        ExtensionProblem::NotAvailable => format!(
            "extension \"{name}\" (version {sv} in the source) is not available for installation \
             in the target: install its package on the target server (or ask the provider to \
             enable it), {skip}"
        ),
        ExtensionProblem::AvailableOlder { target } => format!(
            "extension \"{name}\": the version available for installation in the target ({target}) \
             is older than the source's ({sv}): install a newer package on the target server, \
             {skip}"
        ),
        ExtensionProblem::RequiresSuperuser => format!(
            "installing extension \"{name}\" (version {sv}) in the target requires a superuser, \
             and the target user \"{target_user}\" is not one (the extension is not trusted and \
             not listed in extwlist.extensions): have a superuser create it in target database \
             \"{db}\" beforehand, migrate as a superuser, {skip}"
        ),
    }
}

fn check_extensions(
    report: &mut ValidationReport,
    opts: &MigrateOptions,
    p: &DbProbe,
    ts: &TargetServer,
    tf: &ServerFacts,
) {
    let db = p.name.as_str();
    let Ok(source) = &p.source else { return };
    let src_exts = match &source.extensions {
        Ok(e) => e,
        Err(e) => {
            report.error(
                "extensions",
                Some(db),
                format!("could not read the extensions of source database \"{db}\": {e}"),
            );
            return;
        }
    };
    let Some(available) = &ts.available else {
        return;
    };
    let empty = Vec::new();
    let tgt_exts = match &p.target {
        TargetDb::Reachable {
            extensions: Ok(e), ..
        } => e,
        TargetDb::Reachable {
            extensions: Err(e), ..
        } => {
            report.error(
                "extensions",
                Some(db),
                format!("could not read the extensions of target database \"{db}\": {e}"),
            );
            return;
        }
        TargetDb::Missing => &empty,
        TargetDb::Unknown | TargetDb::Unreachable(_) => return,
    };
    for ext in src_exts {
        if opts.excluded_extensions.iter().any(|x| x == &ext.name) {
            continue;
        }
        let installed = tgt_exts.iter().find(|t| t.name == ext.name);
        for problem in extension_problems(ext, installed, available.get(&ext.name), tf) {
            report.error(
                "extensions",
                Some(db),
                extension_message(db, ext, &problem, &tf.current_user),
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// size

/// `1536` -> `1.5 KiB`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

async fn check_size(
    report: &mut ValidationReport,
    source: &Session,
    source_user: &str,
    selected: &[String],
    limit: u64,
) {
    let mut total: u64 = 0;
    for db in selected {
        match database_size(source, db).await {
            Ok(Some(n)) => total = total.saturating_add(n.max(0) as u64),
            Ok(None) => report.warning(
                "size",
                Some(db),
                format!(
                    "the size of database \"{db}\" cannot be read by the source user \
                     \"{source_user}\" (it needs CONNECT on the database or pg_read_all_stats), \
                     so it is not counted against --dbs-max-total-size"
                ),
            ),
            Err(e) => report.warning(
                "size",
                Some(db),
                format!(
                    "could not read the size of database \"{db}\": {e}; it is not counted \
                     against --dbs-max-total-size"
                ),
            ),
        }
    }
    if total > limit {
        report.error(
            "size",
            None,
            format!(
                "the databases to migrate total {} ({total} bytes), more than the limit of {} \
                 ({limit} bytes, --dbs-max-total-size): raise the limit, or leave databases out \
                 with -f",
                human_bytes(total),
                human_bytes(limit)
            ),
        );
    }
}

// ---------------------------------------------------------------------------------------------
// large objects

fn check_large_objects(report: &mut ValidationReport, p: &DbProbe) {
    let db = p.name.as_str();
    let Ok(source) = &p.source else { return };
    match &source.large_objects {
        Ok(true) => report.warning(
            "large-objects",
            Some(db),
            format!(
                "database \"{db}\" holds large objects: logical replication does not carry them, \
                 so large objects created or changed after the initial copy will be missing in \
                 the target; copy them again after cutover or keep writes to them stopped \
                 during the migration"
            ),
        ),
        Ok(false) => {}
        Err(e) => report.warning(
            "large-objects",
            Some(db),
            format!("could not check database \"{db}\" for large objects: {e}"),
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// roles

/// Why the target user cannot create `role`, or `None` when it can.
pub(crate) fn uncreatable_reason(
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

async fn check_roles(
    report: &mut ValidationReport,
    opts: &MigrateOptions,
    source: &Session,
    target: &Session,
) {
    let (roles, existing, user) = tokio::join!(
        list_roles(source),
        list_role_names(target),
        current_user_facts(target)
    );
    let (roles, existing, user) = match (roles, existing, user) {
        (Ok(r), Ok(e), Ok(u)) => (r, e, u),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => {
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
        .filter_map(|r| {
            uncreatable_reason(r, &user, target_major).map(|why| (r.name.as_str(), why))
        })
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
    use crate::report::Severity;

    fn facts(superuser: bool, extwlist: Option<Vec<&str>>) -> ServerFacts {
        ServerFacts {
            version_num: 150004,
            system_identifier: None,
            current_user: "admin".into(),
            is_superuser: superuser,
            extwlist: extwlist.map(|v| v.into_iter().map(String::from).collect()),
        }
    }

    fn installed(name: &str, version: &str) -> InstalledExtension {
        InstalledExtension {
            name: name.into(),
            version: version.into(),
            schema: "public".into(),
        }
    }

    fn available(name: &str, version: &str, superuser: bool, trusted: bool) -> AvailableExtension {
        AvailableExtension {
            name: name.into(),
            default_version: Some(version.into()),
            superuser,
            trusted,
        }
    }

    #[test]
    fn older_target_major_is_an_error_or_a_warning_when_skipped() {
        let mut r = ValidationReport::default();
        check_versions(&mut r, Some(160002), Some(150006), false);
        assert_eq!(r.findings.len(), 1, "{r:?}");
        assert_eq!(r.findings[0].severity, Severity::Error);
        assert_eq!(r.findings[0].check, "version");
        assert!(r.findings[0].message.contains("16.2"), "{r:?}");
        assert!(
            r.findings[0].message.contains("--skip-db-version-check"),
            "{r:?}"
        );

        let mut r = ValidationReport::default();
        check_versions(&mut r, Some(160002), Some(150006), true);
        assert_eq!(r.findings.len(), 1);
        assert_eq!(r.findings[0].severity, Severity::Warning);
        assert!(r.ok);
    }

    #[test]
    fn same_or_newer_target_major_passes_minor_versions_are_ignored() {
        for (s, t) in [
            (150010, 150002),
            (150002, 150010),
            (120000, 180001),
            (180000, 180000),
        ] {
            let mut r = ValidationReport::default();
            check_versions(&mut r, Some(s), Some(t), false);
            assert!(r.findings.is_empty(), "{s} -> {t}: {r:?}");
        }
    }

    #[test]
    fn unsupported_sources_are_errors_even_when_skipping() {
        for s in [110022, 90624, 190000] {
            let mut r = ValidationReport::default();
            check_versions(&mut r, Some(s), None, true);
            assert_eq!(r.findings.len(), 1, "{s}: {r:?}");
            assert_eq!(r.findings[0].severity, Severity::Error);
            assert!(r.findings[0].message.contains(&format_version(s)), "{r:?}");
            assert!(r.findings[0].message.contains("12 to 18"), "{r:?}");
        }
        assert_eq!(format_version(90624), "9.6.24");
        assert_eq!(format_version(150004), "15.4");
    }

    #[test]
    fn versions_unknown_on_one_side_check_only_the_source_range() {
        let mut r = ValidationReport::default();
        check_versions(&mut r, None, Some(150000), false);
        check_versions(&mut r, Some(150000), None, false);
        assert!(r.findings.is_empty());
    }

    #[test]
    fn hosts_are_normalized() {
        assert_eq!(normalize_host("LocalHost."), "localhost");
        assert_eq!(normalize_host("127.0.0.1"), "localhost");
        assert_eq!(normalize_host("127.1.2.3"), "localhost");
        assert_eq!(normalize_host("::1"), "localhost");
        assert_eq!(normalize_host("[::1]"), "localhost");
        assert_eq!(normalize_host("DB.example.com."), "db.example.com");
        assert_eq!(normalize_host("2001:db8::0001"), "2001:db8::1");
        assert_ne!(normalize_host("10.0.0.1"), normalize_host("10.0.0.2"));
    }

    #[test]
    fn same_host_and_port_is_the_same_server() {
        let a = ConnInfo::parse_with_env("postgres://u@LOCALHOST:5432/a", &|_| None).unwrap();
        let b = ConnInfo::parse_with_env("postgresql://v@127.0.0.1:5432/b", &|_| None).unwrap();
        let c = ConnInfo::parse_with_env("postgres://u@127.0.0.1:5433/a", &|_| None).unwrap();
        let d =
            ConnInfo::parse_with_env("host=/tmp/ port=5432 user=u dbname=a", &|_| None).unwrap();
        let e = ConnInfo::parse_with_env("host=/tmp port=5432 user=u dbname=b", &|_| None).unwrap();
        assert_eq!(endpoint(&a), endpoint(&b));
        assert_ne!(endpoint(&a), endpoint(&c));
        assert_ne!(
            endpoint(&a),
            endpoint(&d),
            "a socket and TCP cannot be compared by name"
        );
        assert_eq!(endpoint(&d), endpoint(&e));

        let mut r = ValidationReport::default();
        check_same_server(&mut r, &a, &b, None, None);
        assert_eq!(r.findings.len(), 1);
        assert_eq!(r.findings[0].check, "same-server");

        let mut r = ValidationReport::default();
        check_same_server(&mut r, &a, &c, None, None);
        assert!(r.findings.is_empty());

        // Different addresses, same cluster by system identifier.
        let mut fa = facts(true, None);
        fa.system_identifier = Some(7);
        let fb = fa.clone();
        let mut r = ValidationReport::default();
        check_same_server(&mut r, &a, &d, Some(&fa), Some(&fb));
        assert_eq!(r.findings.len(), 1, "{r:?}");
        assert!(
            r.findings[0].message.contains("system identifier 7"),
            "{r:?}"
        );
        let mut fc = fa.clone();
        fc.system_identifier = Some(8);
        let mut r = ValidationReport::default();
        check_same_server(&mut r, &a, &d, Some(&fa), Some(&fc));
        assert!(r.findings.is_empty());
    }

    #[test]
    fn extension_rule() {
        let non_su = facts(false, None);
        let su = facts(true, None);
        let src = installed("pg_buffercache", "1.3");

        // Installed in the target db: only the version matters.
        assert!(
            extension_problems(
                &src,
                Some(&installed("pg_buffercache", "1.10")),
                None,
                &non_su
            )
            .is_empty()
        );
        assert_eq!(
            extension_problems(
                &src,
                Some(&installed("pg_buffercache", "1.2")),
                None,
                &non_su
            ),
            vec![ExtensionProblem::InstalledOlder {
                target: "1.2".into()
            }]
        );
        // Not available at all.
        assert_eq!(
            extension_problems(&src, None, None, &su),
            vec![ExtensionProblem::NotAvailable]
        );
        // Superuser-only, untrusted.
        let a = available("pg_buffercache", "1.3", true, false);
        assert_eq!(
            extension_problems(&src, None, Some(&a), &non_su),
            vec![ExtensionProblem::RequiresSuperuser]
        );
        assert!(extension_problems(&src, None, Some(&a), &su).is_empty());
        assert!(
            extension_problems(
                &src,
                None,
                Some(&a),
                &facts(false, Some(vec!["x", "pg_buffercache"]))
            )
            .is_empty()
        );
        // Trusted, or not superuser-only.
        assert!(
            extension_problems(
                &src,
                None,
                Some(&available("pg_buffercache", "1.3", true, true)),
                &non_su
            )
            .is_empty()
        );
        assert!(
            extension_problems(
                &src,
                None,
                Some(&available("pg_buffercache", "1.3", false, false)),
                &non_su
            )
            .is_empty()
        );
        // Too old and superuser-only: both reported.
        assert_eq!(
            extension_problems(
                &src,
                None,
                Some(&available("pg_buffercache", "1.2", true, false)),
                &non_su
            ),
            vec![
                ExtensionProblem::AvailableOlder {
                    target: "1.2".into()
                },
                ExtensionProblem::RequiresSuperuser
            ]
        );
        let msg = extension_message("db", &src, &ExtensionProblem::RequiresSuperuser, "admin");
        assert!(
            msg.contains("-xe pg_buffercache") && msg.contains("superuser"),
            "{msg}"
        );
    }

    #[test]
    fn languages_rule() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let src = s(&[
            "c", "internal", "plpgsql", "sql", "plperl", "plfoo", "plbar",
        ]);
        let tgt = s(&["c", "internal", "plpgsql", "sql"]);
        assert_eq!(
            missing_languages(&src, &tgt, |l| l == "plperl", &[]),
            vec!["plbar", "plfoo"]
        );
        assert_eq!(
            missing_languages(&src, &tgt, |_| false, &s(&["plfoo", "plbar"])),
            vec!["plperl"]
        );
    }

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

    #[test]
    fn preflight_future_is_send() {
        fn assert_send<T: Send>(_: &T) {}
        let opts = MigrateOptions::default();
        let fut = preflight(&opts);
        assert_send(&fut);
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(10 * 1024 * 1024 * 1024), "10.0 GiB");
        assert_eq!(human_bytes(u64::MAX), "16.0 EiB");
    }
}
