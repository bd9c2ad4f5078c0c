//! Preflight: every check a migration needs before it writes anything, run together and
//! reported together.
//!
//! [`preflight`] never fails: each problem becomes a [`crate::report::Finding`] that says what is
//! wrong and what to do about it. Findings tied to one source database (`database: Some(..)`)
//! fail only that database in a migration; findings without a database stop the migration before
//! anything is written. What preflight learned (sessions, server facts, database lists, the
//! selection) is handed back in [`Preflight`] so that the migration does not ask again: each
//! server's facts ([`ServerFacts`]: version, identity, the user's attributes and provider roles,
//! replication capacity, connection slots) are read once here, when preflight connects, and
//! reach every stage through the per-database [`crate::pair::DbPair`]
//! ([`Preflight::servers`]).
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
//! - `roles`: one warning naming the source roles the target user cannot create; an error
//!   naming the superuser roles a target behind Aiven's `aiven_gatekeeper` refuses (not in its
//!   `aiven.pg_security_agent_reserved_roles`), with the `-xr` that leaves them out. Roles in
//!   `-xr` and roles already in the target are not counted.
//! - `owners`: per database, a warning counting the objects that will be owned by the
//!   migration user instead of their source owner, by owner and why ([`crate::owners`]).
//! - `rehearsal` (last, unless `--no-rehearsal`, and only when nothing so far stops the whole
//!   run): each database's whole schema created on the target in a transaction that is rolled
//!   back, every object the target refuses an error (a warning with `--keep-going`), with the
//!   objects depending on it ([`crate::schema::rehearsal`]).
//!
//! Each source database (and its target counterpart, when it exists) gets at most one session,
//! opened [`DB_CONCURRENCY`] at a time; the servers' default databases reuse the main sessions.
//!
//! # Files
//!
//! This file opens both servers, reads their facts once and runs the checks in order; each
//! concern has its own file so that its rule and its unit tests sit together:
//! - `server.rs`: `same-server` and `version`;
//! - `probe.rs`: what each selected database holds on both sides (one session per side);
//! - `databases.rs`: `databases`, `languages`, `extensions`, `large-objects` on those probes;
//! - `size.rs`: `size`;
//! - `roles.rs`: `roles` ([`uncreatable_reason`], shared with the owners check);
//! - `rehearsal.rs`: `rehearsal`;
//! - [`replication`]: the `replication` checks (server settings by [`replication_blockers`],
//!   per-database replica identity, unlogged tables, large objects), run by the orchestrator
//!   after [`preflight`] (also reachable as `crate::replication::preflight`);
//! - [`method`]: runs those checks and decides each database's method for the whole run
//!   (replication capacity counted across its databases, a standby source), which the run
//!   follows.
//!
//! `crate::validate` is this module under its earlier name.

mod databases;
pub mod method;
mod probe;
mod rehearsal;
pub use rehearsal::FilteredSchema;
pub mod replication;
mod roles;
mod server;
mod size;
pub mod target_state;

use std::collections::HashSet;

use futures::stream::{self, StreamExt};

use crate::catalog::databases::{DatabaseInfo, list_databases};
use crate::catalog::roles::list_role_names;
use crate::catalog::server::{ServerFacts, Servers, server_facts};
use crate::conn::{ConnInfo, Session, connect};
use crate::error::Side;
use crate::options::MigrateOptions;
use crate::remedy::Setting;
use crate::report::ValidationReport;

pub use databases::{ExtensionProblem, extension_problems, missing_languages};
pub use replication::replication_blockers;
pub use roles::uncreatable_reason;
pub use server::{SUPPORTED_SOURCE_MAJORS, check_versions, format_version};

use databases::{check_database_access, check_extensions, check_languages, check_large_objects};
use probe::{DbProbe, TargetServer, probe_database, read_target_server};
use roles::check_roles;
use server::check_same_server;
use size::check_size;

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
    /// [`target_state::preflight_targets`].
    pub targets: std::collections::HashMap<String, target_state::TargetState>,
    /// Each database's resolved selection (empty when no selection flag is given: everything
    /// moves).
    pub selections: std::collections::BTreeMap<String, crate::selection::preflight::Resolved>,
    /// Provider roles of the source that are left out (see [`crate::selection::provider`]).
    pub provider_roles: Vec<String>,
    /// The method each database uses, decided by [`method::replication_preflight`] (empty
    /// until it ran, and when the options rule replication out).
    pub methods: method::MethodPlan,
    /// The source schemas the rehearsal read (filtered by each database's selection), by
    /// database: the run takes them over instead of reading them again.
    pub schemas: std::collections::HashMap<String, FilteredSchema>,
}

impl Preflight {
    /// Both servers' facts, when both could be read.
    pub fn servers(&self) -> Option<Servers> {
        Some(Servers {
            source: self.source_facts.clone()?,
            target: self.target_facts.clone()?,
        })
    }
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

fn side_flag(side: Side) -> Setting {
    match side {
        Side::Source => Setting::Source,
        Side::Target => Setting::Target,
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
    let (src, tgt, mut report) = open_both(opts).await;
    let src_ok = src.usable();
    let source_databases = src.databases.clone().unwrap_or_default();
    let target_databases = tgt.databases.clone().unwrap_or_default();
    let selected: Vec<String> = if src_ok {
        crate::selection::preflight::select_databases(&source_databases, opts, &mut report)
    } else {
        Vec::new()
    };
    let provider_roles = provider_roles(&src, opts, &mut report).await;
    let with_provider_roles;
    let opts = if provider_roles.is_empty() {
        opts
    } else {
        let mut o = opts.clone();
        o.excluded_roles.extend(provider_roles.iter().cloned());
        with_provider_roles = o;
        &with_provider_roles
    };
    // Target facts shared by every database's checks.
    let target_side = match (&tgt.session, tgt.usable()) {
        (Some(t), true) => Some(read_target_server(t, &mut report).await),
        _ => None,
    };
    let mut found = PerDatabase::default();
    if let (Some(source), true) = (&src.session, src_ok) {
        let run = DatabaseChecks {
            target_side: target_side.as_ref(),
            opts,
            source,
            src: &src,
            tgt: &tgt,
            source_databases: &source_databases,
            target_names: target_databases.iter().map(|d| d.name.as_str()).collect(),
            selected: &selected,
        };
        found = run.checks(&mut report).await;
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
        targets: found.targets,
        methods: Default::default(),
        selections: found.selections,
        provider_roles,
        schemas: found.schemas,
    }
}

/// Both servers opened side by side, with the checks that need only their facts (same server,
/// versions) and a note of what could not be checked: the source's findings first.
async fn open_both(opts: &MigrateOptions) -> (Opened, Opened, ValidationReport) {
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
    report_skipped(&mut report, src.usable(), tgt.usable());
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
    (src, tgt, report)
}

/// The source's provider roles, which every role check and the migration leave out.
async fn provider_roles(
    src: &Opened,
    opts: &MigrateOptions,
    report: &mut ValidationReport,
) -> Vec<String> {
    match (&src.session, src.usable()) {
        (Some(source), true) => match list_role_names(source).await {
            Ok(names) => crate::selection::preflight::provider_roles(&names, opts, report),
            Err(_) => Vec::new(),
        },
        _ => Vec::new(),
    }
}

/// What the per-database checks learned, which the run reuses.
#[derive(Default)]
struct PerDatabase {
    selections: std::collections::BTreeMap<String, crate::selection::preflight::Resolved>,
    targets: std::collections::HashMap<String, target_state::TargetState>,
    schemas: std::collections::HashMap<String, FilteredSchema>,
}

/// The checks of the selected databases, once the source is usable.
struct DatabaseChecks<'a> {
    opts: &'a MigrateOptions,
    source: &'a Session,
    src: &'a Opened,
    tgt: &'a Opened,
    source_databases: &'a [DatabaseInfo],
    target_names: HashSet<&'a str>,
    selected: &'a [String],
    /// The target's facts shared by every database's checks, when the target is usable.
    target_side: Option<&'a TargetServer>,
}

impl DatabaseChecks<'_> {
    /// Each database probed (a few at a time), then what the probes tell, the selection, the
    /// size, the source user's read access, roles and owners, the targets' state and the
    /// rehearsal, in that order.
    async fn checks(&self, report: &mut ValidationReport) -> PerDatabase {
        let opts = self.opts;
        let tgt_ok = self.tgt.usable();
        let probes = self.probes().await;
        let user = |o: &Opened| {
            (o.facts.as_ref())
                .map(|f| f.current_user.clone())
                .unwrap_or_default()
        };
        let (source_user, target_user) = (user(self.src), user(self.tgt));
        for p in &probes {
            check_database_access(report, opts, p, &source_user, &target_user);
        }
        if let (Some(ts), Some(tf)) = (self.target_side, &self.tgt.facts) {
            for p in &probes {
                check_languages(report, opts, p, ts, tf);
            }
            for p in &probes {
                check_extensions(report, opts, p, ts, tf);
            }
        }
        let readable: Vec<String> = (probes.iter())
            .filter(|p| p.source.is_ok())
            .map(|p| p.name.clone())
            .collect();
        let selections =
            crate::selection::preflight::resolve_databases(opts, self.source, &readable, report)
                .await;
        match opts.dbs_max_total_size {
            Some(limit) if !opts.selection.is_everything() => {
                crate::selection::preflight::check_selected_size(report, &selections, limit)
            }
            Some(limit) => {
                check_size(report, self.source, &source_user, self.selected, limit).await
            }
            None => {}
        }
        // Only the replication method loses large objects written during the migration.
        let replication_possible = opts.force_method != Some(crate::report::Method::Dump)
            && !opts.schema_only
            && opts.mode != crate::options::RunMode::Cleanup;
        for p in probes.iter().filter(|_| replication_possible) {
            check_large_objects(report, p);
        }
        self.read_access(report).await;
        if let (Some(target), Some(tf), true) = (&self.tgt.session, &self.tgt.facts, tgt_ok) {
            let user = tf.user();
            check_roles(report, opts, self.source, target, tf).await;
            crate::owners::check_owners(
                report,
                opts,
                self.source,
                target,
                &user,
                self.source_databases,
                self.selected,
            )
            .await;
        }
        let mut targets = std::collections::HashMap::new();
        if tgt_ok && opts.mode != crate::options::RunMode::Cleanup {
            let existing: Vec<String> = (self.selected.iter())
                .filter(|n| self.target_names.contains(n.as_str()))
                .cloned()
                .collect();
            targets = target_state::preflight_targets(
                opts,
                self.src.facts.as_ref(),
                self.source_databases,
                &existing,
                report,
            )
            .await;
        }
        let schemas = self.rehearse(report, &selections, &targets).await;
        PerDatabase {
            selections,
            targets,
            schemas,
        }
    }

    /// Every selected database probed, [`DB_CONCURRENCY`] at a time, in name order.
    async fn probes(&self) -> Vec<DbProbe> {
        let target_session = if self.tgt.usable() {
            self.tgt.session.as_ref()
        } else {
            None
        };
        // The futures are built eagerly (they do nothing until polled) so that the stream's
        // item type names no closure: a `StreamExt::map` closure over borrowed names makes the
        // whole preflight future fail to be `Send`.
        let pending: Vec<_> = (self.selected.iter())
            .map(|name| {
                probe_database(
                    self.opts,
                    self.source,
                    target_session,
                    self.target_names.contains(name.as_str()),
                    name,
                )
            })
            .collect();
        let mut probes: Vec<DbProbe> = stream::iter(pending)
            .buffer_unordered(DB_CONCURRENCY)
            .collect()
            .await;
        probes.sort_by(|a, b| a.name.cmp(&b.name));
        probes
    }

    /// Every gap in the source user's read access of the databases without an error so far,
    /// with its GRANT (see crate::read_access).
    async fn read_access(&self, report: &mut ValidationReport) {
        let readable: Vec<&String> = (self.selected.iter())
            .filter(|name| report.database_errors(name).next().is_none())
            .collect();
        // Futures built first, as for the probes: a closure inside the stream would make the
        // preflight future fail to be `Send`.
        let source = &self.opts.source;
        let pending: Vec<_> = readable
            .into_iter()
            .map(|name| async move {
                let mut found = ValidationReport::default();
                crate::read_access::check_database(source, name, &mut found).await;
                found
            })
            .collect();
        let gaps: Vec<ValidationReport> = stream::iter(pending)
            .buffered(DB_CONCURRENCY)
            .collect()
            .await;
        for found in gaps {
            report.absorb(found);
        }
    }

    /// The schema rehearsal of each database, when it is asked for, the target usable and no
    /// finding stops the whole run already.
    async fn rehearse(
        &self,
        report: &mut ValidationReport,
        selections: &std::collections::BTreeMap<String, crate::selection::preflight::Resolved>,
        targets: &std::collections::HashMap<String, target_state::TargetState>,
    ) -> std::collections::HashMap<String, FilteredSchema> {
        let opts = self.opts;
        let (Some(target), true, true) = (&self.tgt.session, self.tgt.usable(), opts.rehearsal)
        else {
            return Default::default();
        };
        if !matches!(
            opts.mode,
            crate::options::RunMode::Migrate | crate::options::RunMode::Validate
        ) || report.global_errors().next().is_some()
        {
            return Default::default();
        }
        rehearsal::check_rehearsal(
            report,
            opts,
            rehearsal::Inputs {
                source: self.source,
                target,
                source_databases: self.source_databases,
                target_names: &self.target_names,
                selected: self.selected,
                selections,
                targets,
            },
        )
        .await
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

/// [`ServerFacts`] for unit tests of the checks.
#[cfg(test)]
pub(crate) fn test_facts(superuser: bool, extwlist: Option<Vec<&str>>) -> ServerFacts {
    ServerFacts {
        version_num: 150004,
        system_identifier: None,
        current_user: "admin".into(),
        is_superuser: superuser,
        createrole: true,
        replication: false,
        bypassrls: false,
        provider_roles: Vec::new(),
        pg_create_subscription: false,
        gatekeeper: None,
        extwlist: extwlist.map(|v| v.into_iter().map(String::from).collect()),
        in_recovery: false,
        logical: Default::default(),
        connections: Default::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preflight_future_is_send() {
        fn assert_send<T: Send>(_: &T) {}
        let opts = MigrateOptions::default();
        let fut = preflight(&opts);
        assert_send(&fut);
    }
}
