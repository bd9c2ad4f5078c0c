//! The logical replication method: an exact hand-over from a parallel copy to a live
//! subscription, then (on request) the cut-over.
//!
//! # How one database is replicated
//!
//! 0. **Plan** ([`plan`]): publication form, slot creation and subscription path, decided
//!    before anything is written (preflight prints the same plan).
//! 1. **Publication** on the source database, `FOR ALL TABLES` (superuser, `aiven_extras`) or
//!    `FOR TABLE` the selected tables, or every table when `FOR ALL TABLES` is not possible
//!    ([`tables`]: managed sources; extension configuration tables are listed when the copy
//!    carries them, [`RunFacts::extension_tables`]), publishing `insert, update, delete,
//!    truncate`.
//! 2. **Slot** created on a replication connection ([`crate::conn::wire`]) with an
//!    exported snapshot.
//! 3. **Initial data**: the caller's copy (the data engine's parallel workers) runs inside that
//!    snapshot, then builds post-data (indexes, constraints...). The walsender session stays idle
//!    meanwhile, which keeps the snapshot alive.
//! 4. **Subscription** on the target database with `copy_data = false, create_slot = false,
//!    slot_name = <slot>`: changes stream from exactly where the snapshot ends.
//! 5. The subscription's worker must connect to the source within
//!    [`ReplicationOptions::worker_start_timeout`]: the *target server* connects to the source,
//!    and when it cannot (network, pg_hba, TLS) that is reported quickly. `CREATE SUBSCRIPTION`
//!    itself connects first, so an unreachable source fails right there.
//! 6. Status `running`. With `max_replication_lag`, wait until every table of the subscription is
//!    ready (`pg_subscription_rel`) and the slot's lag is at most that many bytes, bounded by
//!    `replication_timeout`, re-checking a schema fingerprint for drift meanwhile.
//! 7. With `stop_replication`: wait until the target confirmed everything up to the source's
//!    current WAL position, copy sequence values, drop subscription, publication and slot.
//!    Status `done`. With `cutover` (`--cutover`) the fenced form instead: readiness, the
//!    source's writes fenced ([`fence`]), the barrier, sequences, verify, the switch, within
//!    `--max-downtime` or aborted with the fence lifted; its timeline in [`timeline`].
//!
//! When a replication connection is refused (pg_hba without `replication` lines, a pooler), or
//! the user lacks the REPLICATION attribute it needs, the slot is created with
//! `pg_create_logical_replication_slot()` instead and the subscription copies the data itself
//! (`copy_data = true`); the result says so. That path is refused, with the reason, for
//! databases with large objects, populated materialized views or extension tables holding
//! rows ([`fallback`]).
//!
//! The cut-over first brings in tables created on the source during replication ([`adopt`]).
//!
//! `--resume` of a run that stopped during its initial copy continues on that run's slot and
//! publication ([`resume_database`], see [`resume`]): the tables it had copied keep their rows
//! and get the changes since its snapshot, the subscription's table synchronisation copies the
//! others.
//!
//! Tables without a usable replica identity block the method (their UPDATE and DELETE would
//! fail on the source once published), unless `--replica-identity-full` sets them FULL for the
//! migration ([`identity`]): before the publication exists, recorded in its comment with the
//! schema fingerprint ([`record`]), put back once it is dropped (cut-over, `--cleanup`, or a
//! failed setup).
//!
//! Privilege paths, each chosen per object: superuser (or a provider admin role) with plain SQL;
//! the `aiven_extras` SECURITY DEFINER functions where present; `pg_create_subscription`
//! membership on PostgreSQL 16+ targets. A target database where only `aiven_extras` could
//! subscribe, offered by the server but not installed, gets `CREATE EXTENSION aiven_extras
//! CASCADE` once nothing else blocks replication ([`objects::install_aiven_extras`]).
//! Object names: [`names`].
//!
//! Any setup failure drops whatever this run had created (subscription, publication, slot).
//! A missing privilege (SQLSTATE 42501) or prerequisite (wal_level, free slots/senders, no way to
//! create the subscription) returns [`Outcome::FallBackToDump`] unless the method was forced.
//!
//! # Wiring (for the orchestrator)
//!
//! Per database, in this order:
//!
//! ```text
//! // 0. (--cleanup) instead of migrating:      replication::cleanup(&src, &tgt, db).await
//! // 1. before any schema work, for EVERY method (also dump):
//! match replication::check_earlier_run(&src, &tgt, db, &ropts).await {
//!     Ok(Some(outcome)) => { /* an earlier run was cut over now: report outcome (done); skip the db */ }
//!     Ok(None)          => { /* nothing earlier: go on */ }
//!     Err(e)            => { /* objects of an earlier run exist: the db fails with e */ }
//! }
//! // 2. schema pre-data on the target (as for dump)
//! // 3. method: with --force-method dump / --dump-only / source < 10: dump, as today. Otherwise:
//! match replication::migrate_database(&pair, &ropts, RunFacts::of(&opts), |data| async move {
//!         match data {
//!             InitialData::InSnapshot(snap) => copy::copy_database(.., Some(&snap), post_data).await,
//!             InitialData::PostDataOnly      => /* apply post-data only */,
//!         }.map(|report| summary_string)
//!     }).await {
//!     Ok(Outcome::Replicated(o))            => DatabaseResult { method: Replication, status: o.status, message: o.message }
//!     Ok(Outcome::FallBackToDump { reason }) => { dump data + post-data; message includes reason }
//!     Err(e)                                 => failed, method Replication
//! }
//! // 3'. --resume of a database whose ledger says this method stopped during its copy: no
//! //     check_earlier_run (its objects are the ones to continue on), and instead of
//! //     migrate_database:
//! replication::resume_database(&pair, &ropts, |step| async move {
//!     match step {
//!         ResumeData::Before { to_subscription }    => /* copy without their rows; post-data but what waits for all tables */,
//!         ResumeData::AfterSync { to_subscription } => /* the post-data that waits for all tables */,
//!     }
//! }).await  // the same Outcome::Replicated as above
//! ```
//!
//! Preflight: [`preflight::preflight_servers`] once and [`preflight::preflight_database`] per
//! database.
//!
//! # Files
//!
//! This file holds the options, the result types and [`migrate_database`], the entry point that
//! checks the prerequisites and decides between setting up and falling back. The steps, each
//! in its own file: `setup.rs` (publication, slot, initial data, subscription, undo on
//! failure), `wait.rs` (lag, adopted tables, drift), `cutover.rs` (final catch-up, sequence
//! values through [`crate::copy::sequences`], dropping the objects; entered from the wait and
//! the fail-back above it), `session.rs` (the running replication's session value and where it
//! stands, shared by the wait, the cut-over, its verification and the schema following),
//! `reverse.rs` (`--fail-back-ready`'s reverse replication, set up by the cut-over), `earlier_run.rs`
//! ([`check_earlier_run`], [`cleanup`]), `resume.rs` ([`resume_database`]). Catalog reads and
//! object DDL are in [`objects`], [`fingerprint`], [`record`], [`tables`], [`identity`] and
//! [`fallback`]; the checks in [`crate::preflight::replication`].

pub mod adopt;
mod cutover;
pub mod dry_run;
mod earlier_run;
pub mod failback;
pub mod fallback;
pub mod fence;
pub mod fingerprint;
pub mod follow;
mod follow_access;
mod follow_backfill;
pub mod follow_objects;
pub mod follow_relations;
mod following;
pub mod identity;
pub mod names;
pub mod objects;
pub mod plan;
pub mod record;
pub mod resume;
mod reverse;
/// Replication preflight lives with the rest of preflight; this keeps its earlier path.
pub use crate::preflight::replication as preflight;
mod session;
mod setup;
mod statistics;
pub mod timeline;

mod verify;
mod wait;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tracing::info;

use crate::conn::ConnInfo;
use crate::error::{Error, ErrorKind, Phase, Result, Side};
use crate::remedy::{Remedy, Setting};
use crate::report::DbStatus;

pub use cutover::sync_sequences;
pub use earlier_run::{CleanupReport, EarlierRun, check_earlier_run, cleanup, find_earlier_run};
pub use fingerprint::Fingerprint;
pub use names::ObjectNames;
pub use objects::Via;
pub use plan::{PublicationForm, ReplicationPlan, SlotCreation};
pub use resume::resume_database;
pub use session::lag_status;

use crate::pair::DbPair;
use earlier_run::find_objects;
use objects::{SourceFacts, TargetFacts};
use setup::{Created, SetupCtx, setup, undo};
use wait::{Replicating, wait_and_stop};

/// Called with every lag measurement while waiting.
pub type ProgressFn = Arc<dyn Fn(&LagStatus) + Send + Sync>;

/// What the replication method needs to know besides the two conninfos.
#[derive(Clone)]
pub struct ReplicationOptions {
    /// `-m` / `--mangle`: object names from md5(dbname).
    pub mangle: bool,
    /// `(schema, table)` pairs to publish (`--with-table`/`--skip-table` result); `None` or an
    /// empty list publish all tables.
    pub tables: Option<Vec<(String, String)>>,
    /// `--max-replication-lag BYTES`: wait until in sync. `None`: return as soon as it runs.
    pub max_replication_lag: Option<u64>,
    /// `--replication-timeout`: bound on every wait (lag, final catch-up).
    pub replication_timeout: Duration,
    /// `--stop-replication`: after the wait, sync sequences and drop the objects.
    pub stop_replication: bool,
    /// How the *target server* reaches the source (the subscription's conninfo). `None`: the
    /// source conninfo (its password, from pgpass too, is included; `connect_timeout=10` is added
    /// when unset). Set it when the target sees the source under another address.
    pub subscription_conninfo: Option<ConnInfo>,
    /// How long the subscription's worker may take to start streaming from the source.
    pub worker_start_timeout: Duration,
    /// Delay between lag checks.
    pub poll_interval: Duration,
    /// How often a run that waits compares the source's schema with the set-up's and applies
    /// what changed on the target ([`following`]).
    pub schema_check_interval: Duration,
    /// `--follow DURATION`: keep replicating, and following the source's schema changes, for
    /// this long before the lag counts as in sync (then the run ends, or cuts over when
    /// asked). `None`: in sync as soon as the lag allows.
    pub follow_for: Option<Duration>,
    /// Progress while waiting (default: a log line every 10 s).
    pub progress: Option<ProgressFn>,
    /// `--no-owner` / `--no-acl` for the tables the cut-over creates on the target (created
    /// on the source during replication, see [`adopt`]).
    pub schema: crate::schema::SchemaOptions,
    /// `--replica-identity-full`: tables without a usable replica identity are set to
    /// `REPLICA IDENTITY FULL` on the source for the migration instead of sending the database
    /// to the dump method ([`identity`]). Putting them back needs no option: the cut-over and
    /// `--cleanup` do it from what the setup recorded.
    pub replica_identity_full: bool,
    /// `--verify`: compare source and target at the cut-over, before the subscription is
    /// dropped ([`verify`]).
    pub verify: Option<crate::verify::Settings>,
    /// `--statistics`: with `restore` (on an 18+ target), the cut-over carries the source's
    /// latest planner statistics once more, after the subscription is dropped.
    pub statistics: crate::copy::statistics::StatisticsMode,
    /// `--cutover`: the fenced cut-over ([`fence`], `cutover.rs`) instead of the unfenced one
    /// of `stop_replication`. The wait before it uses `max_replication_lag` when set, else
    /// [`fence::CutoverOptions::max_lag`].
    pub cutover: Option<fence::CutoverOptions>,
}

impl ReplicationOptions {
    /// The documented cut-over run: the first command again plus `--max-replication-lag` and
    /// `--stop-replication`. It finishes the databases the first run left replicating and
    /// leaves those whose ledger says they are done alone.
    pub fn is_cut_over(&self) -> bool {
        self.cutover.is_some() || self.stop_replication && self.max_replication_lag.is_some()
    }

    /// The lag to wait for: `max_replication_lag`, else (with `--cutover`) the cut-over's.
    pub fn lag_to_wait_for(&self) -> Option<u64> {
        self.max_replication_lag
            .or_else(|| self.cutover.as_ref().map(|c| c.max_lag))
    }
}

impl Default for ReplicationOptions {
    fn default() -> Self {
        ReplicationOptions {
            mangle: false,
            tables: None,
            max_replication_lag: None,
            replication_timeout: Duration::from_secs(3600),
            stop_replication: false,
            subscription_conninfo: None,
            worker_start_timeout: Duration::from_secs(30),
            poll_interval: Duration::from_secs(2),
            schema_check_interval: Duration::from_secs(5),
            follow_for: None,
            progress: None,
            schema: crate::schema::SchemaOptions::default(),
            replica_identity_full: false,
            verify: None,
            statistics: crate::copy::statistics::StatisticsMode::default(),
            cutover: None,
        }
    }
}

impl std::fmt::Debug for ReplicationOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplicationOptions")
            .field("mangle", &self.mangle)
            .field("tables", &self.tables)
            .field("max_replication_lag", &self.max_replication_lag)
            .field("replication_timeout", &self.replication_timeout)
            .field("stop_replication", &self.stop_replication)
            .field("subscription_conninfo", &self.subscription_conninfo)
            .field("replica_identity_full", &self.replica_identity_full)
            .field("verify", &self.verify)
            .field("cutover", &self.cutover)
            .finish_non_exhaustive()
    }
}

/// What the caller's initial-data step must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InitialData {
    /// Copy every (published) table's data in this exported snapshot (`SET TRANSACTION SNAPSHOT`
    /// in every worker), then build post-data.
    InSnapshot(String),
    /// The subscription copies the data itself (`copy_data = true`): build post-data only (it
    /// runs before the subscription is created, so that the target has the keys the apply
    /// worker looks rows up by).
    PostDataOnly,
}

/// How the initial data got to the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InitialDataPath {
    /// Our parallel copy inside the slot's exported snapshot; subscription `copy_data = false`.
    ExportedSnapshot,
    /// The subscription's own table sync (`copy_data = true`), because a replication connection
    /// was refused.
    SubscriptionCopy,
    /// An earlier run did it (this run cut it over).
    EarlierRun,
    /// `--resume` of an interrupted run: the tables it had copied in the slot's exported
    /// snapshot stay, the subscription's table synchronisation copies the others
    /// ([`resume`]).
    Resumed,
}

/// Which path each part took.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PathTaken {
    pub publication: Option<Via>,
    /// `FOR ALL TABLES` or `FOR TABLE` the list (None: an earlier run created it).
    pub publication_form: Option<PublicationForm>,
    /// How many tables a `FOR TABLE` publication listed.
    pub published_tables: usize,
    pub slot: Option<SlotCreation>,
    pub subscription: Option<Via>,
    pub initial_data: InitialDataPath,
    /// Why the replication connection was not used, when it was not.
    pub replication_connection_refused: Option<String>,
}

/// The result of the replication method for one database.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplicationOutcome {
    /// `Running` or `Done` (after `stop_replication`).
    pub status: DbStatus,
    /// For the database's result entry.
    pub message: String,
    /// What the operator can do next, as values (the message says it in words).
    pub remedies: Vec<crate::remedy::Remedy>,
    pub names: ObjectNames,
    pub path: PathTaken,
    /// The last lag measured, when a wait ran.
    pub lag_bytes: Option<i64>,
    /// Source objects whose definition changed since replication was set up.
    pub schema_drift: Vec<String>,
    /// Sequences whose value was copied at the stop.
    pub sequences_synced: usize,
    /// Tables created on the source during replication that the cut-over brought in.
    pub tables_added: Vec<String>,
    /// Every change of the source's schema applied on the target while this run waited, with
    /// when it was seen and applied ([`following`]).
    pub schema_changes: Vec<follow::SchemaChangeApplied>,
    /// Tables dropped on the source since the setup (dropped on the target too once the rows
    /// before the drop were applied, see [`follow_relations`]).
    pub tables_dropped: Vec<String>,
    /// Things the operator should read (each with its database set).
    pub warnings: Vec<crate::warning::Warning>,
    /// `--verify` at the cut-over ([`verify`]): compared once caught up, before the objects
    /// were dropped. `None`: not asked for, or no cut-over.
    pub verify: Option<crate::verify::VerifyReport>,
    /// `--cutover`: the fenced cut-over's timeline and write-unavailable window
    /// ([`timeline`]), also when it was aborted or failed after the fence.
    pub cutover: Option<timeline::CutoverReport>,
    /// The schema change the target refused, which stopped the replication (status
    /// `Failed`; [`cut_over_failure`] makes it the database's error).
    pub refusal: Option<Refusal>,
}

impl ReplicationOutcome {
    /// A replication that runs (nothing waited for, synced or compared yet).
    pub(super) fn running(
        names: ObjectNames,
        path: PathTaken,
        message: String,
        warnings: Vec<crate::warning::Warning>,
    ) -> Self {
        ReplicationOutcome {
            status: DbStatus::Running,
            message,
            remedies: Vec::new(),
            names,
            path,
            lag_bytes: None,
            schema_drift: Vec::new(),
            sequences_synced: 0,
            tables_added: Vec::new(),
            schema_changes: Vec::new(),
            tables_dropped: Vec::new(),
            warnings,
            verify: None,
            cutover: None,
            refusal: None,
        }
    }
}

/// Facts of the whole run that [`crate::MigrateOptions`] stores and the replication method
/// reads, passed down rather than stored a second time in [`ReplicationOptions`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunFacts {
    /// `MigrateOptions::force_method == Some(Method::Replication)` (`--repl-only`,
    /// `--force-method replication`): what makes replication impossible fails the database
    /// instead of returning [`Outcome::FallBackToDump`].
    pub forced: bool,
    /// `MigrateOptions.copy.extension_tables` (`--no-replicate-extension-tables` turns it off):
    /// whether extension configuration tables are copied and published (see [`tables`]).
    pub extension_tables: bool,
}

impl Default for RunFacts {
    /// Not forced, extension tables on (the CLI's defaults).
    fn default() -> Self {
        RunFacts {
            forced: false,
            extension_tables: true,
        }
    }
}

impl RunFacts {
    /// The facts of `opts`.
    pub fn of(opts: &crate::MigrateOptions) -> RunFacts {
        RunFacts {
            forced: opts.force_method == Some(crate::report::Method::Replication),
            extension_tables: opts.copy.extension_tables,
        }
    }
}

/// What [`migrate_database`] decided.
#[derive(Debug, Clone, PartialEq)]
// One per database, returned and consumed at once: the size difference costs nothing.
#[allow(clippy::large_enum_variant)]
pub enum Outcome {
    Replicated(ReplicationOutcome),
    /// Replication is not possible for lack of privilege or a prerequisite; nothing was left
    /// behind. Use the dump method; put `reason` in the database's message.
    FallBackToDump {
        reason: String,
    },
}

/// One lag measurement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LagStatus {
    pub database: String,
    /// A walsender streams the slot (the subscription's worker is connected).
    pub slot_active: bool,
    /// `pg_current_wal_insert_lsn() - confirmed_flush_lsn` of the slot on the source.
    pub lag_bytes: Option<i64>,
    pub tables_total: i64,
    pub tables_not_ready: i64,
    pub elapsed: Duration,
}

impl LagStatus {
    pub fn in_sync(&self, max: u64) -> bool {
        self.slot_active
            && self.tables_not_ready == 0
            && self.lag_bytes.is_some_and(|l| l <= max as i64)
    }
}

/// A fenced cut-over that was aborted or failed after the fence reports its outcome with
/// status `Failed` (its timeline in [`ReplicationOutcome::cutover`]), and so does a wait that a
/// schema change the target refused stopped (`refusal`, with the changes applied before it and
/// the refused one in [`ReplicationOutcome::schema_changes`]); this turns either into the
/// database's error, once the caller took the timeline and the changes.
pub fn cut_over_failure(
    status: DbStatus,
    message: &str,
    refusal: Option<&Refusal>,
    db: &str,
) -> Result<()> {
    if let Some(r) = refusal {
        return Err(r.error(db));
    }
    if status != DbStatus::Failed {
        return Ok(());
    }
    Err(Error::new(ErrorKind::Timeout, message.to_owned())
        .with_database(db)
        .with_phase(Phase::CutOver))
}

/// A schema change of the source that the target refused stopped the replication
/// ([`following`]): what the database's error says. Kept as the outcome's rather than returned
/// as an error at once, so that the report lists the changes applied before it (an error
/// would leave the outcome, and them, behind).
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    /// The whole message: the object, statement, reason, what was done and what to do.
    pub message: String,
    /// The server's SQLSTATE of the first refusal.
    pub sqlstate: Option<crate::error::SqlState>,
    /// The object of the first refusal (`table public.t`).
    pub object: Option<String>,
}

impl Refusal {
    /// The database's error: the target refused, during the replication.
    pub fn error(&self, db: &str) -> Error {
        let mut e = Error::new(ErrorKind::Validation, self.message.clone())
            .with_side(Side::Target)
            .with_database(db)
            .with_phase(Phase::Replication);
        if let Some(code) = &self.sqlstate {
            e = e.with_sqlstate(code.clone());
        }
        if let Some(o) = &self.object {
            e = e.with_object(o.clone());
        }
        e
    }
}

fn on_source(e: impl Into<Error>, db: &str) -> Error {
    e.into().with_side(Side::Source).with_database(db)
}

fn on_target(e: impl Into<Error>, db: &str) -> Error {
    e.into().with_side(Side::Target).with_database(db)
}

/// Sets up logical replication of `dbname` (the target database must have the pre-data
/// schema), waits and stops as the options say. See the module docs for the steps and
/// [`InitialData`] for what `initial_data` must do. Call [`check_earlier_run`] first.
///
/// `run` ([`RunFacts::of`] the run's options): `forced` makes what makes replication
/// impossible fail the database instead of returning [`Outcome::FallBackToDump`];
/// `extension_tables` decides whether extension configuration tables are published.
pub async fn migrate_database<C, F>(
    pair: &DbPair,
    opts: &ReplicationOptions,
    run: RunFacts,
    initial_data: C,
) -> Result<Outcome>
where
    C: FnOnce(InitialData) -> F,
    F: Future<Output = Result<String>>,
{
    let (source, dbname) = (pair.source(), pair.source_db());
    let (forced, extension_tables) = (run.forced, run.extension_tables);
    let names = ObjectNames::for_database(dbname, opts.mangle);
    let src = pair.open(Side::Source, Phase::Replication).await?;
    let tgt = pair.open(Side::Target, Phase::Replication).await?;

    let Prerequisites {
        sfacts,
        tfacts,
        plan,
        identity_full,
        blockers,
    } = prerequisites(pair, opts, &src, &tgt, extension_tables).await?;
    if !blockers.is_empty() {
        let reason = format!(
            "logical replication is not possible: {}",
            blockers.join("; ")
        );
        if forced {
            return Err(Error::new(ErrorKind::Validation, reason)
                .with_database(dbname)
                .with_phase(Phase::Replication));
        }
        return Ok(Outcome::FallBackToDump { reason });
    }
    let sub_via = plan
        .subscription_via
        .expect("no blocker means a subscription path");
    info!(database = %dbname, "replication path: {}", plan.describe());

    // An earlier run's objects are never touched here.
    let run = find_objects(&src, Some(&tgt), &tfacts, dbname, &names).await?;
    if !run.is_empty() {
        return Err(run.refusal());
    }

    let mut created = Created::default();
    let ctx = SetupCtx {
        source,
        src: &src,
        tgt: &tgt,
        sfacts: &sfacts,
        plan: &plan,
        sub_via,
        dbname,
        names: &names,
        opts,
        extension_tables,
        identity_full: &identity_full,
    };
    let setup = setup(&ctx, &mut created, initial_data).await;
    let (mut outcome, baseline) = match setup {
        Ok(v) => v,
        Err(e) => return setup_failed(&ctx, &tfacts, &created, forced, e).await,
    };
    if opts.lag_to_wait_for().is_some() {
        wait_and_stop(
            Replicating {
                pair,
                src: &src,
                tgt: &tgt,
                tfacts: &tfacts,
                dbname,
                opts,
            },
            Some(baseline),
            &mut outcome,
        )
        .await?;
    }
    Ok(Outcome::Replicated(outcome))
}

/// What the prerequisites of a database's replication found: its facts, the plan, the tables to
/// set FULL, and what stands in the way (empty: the replication can be set up).
struct Prerequisites {
    sfacts: SourceFacts,
    tfacts: TargetFacts,
    plan: ReplicationPlan,
    identity_full: Vec<identity::IdentityChange>,
    blockers: Vec<String>,
}

/// Checks the prerequisites of `pair`'s database, before anything is created (only aiven_extras
/// is installed on the target, once nothing else stands in the way).
async fn prerequisites(
    pair: &DbPair,
    opts: &ReplicationOptions,
    src: &crate::conn::Session,
    tgt: &crate::conn::Session,
    extension_tables: bool,
) -> Result<Prerequisites> {
    let (source, dbname) = (pair.source(), pair.source_db());
    // Prerequisites, before anything is created. The servers' facts are preflight's (read
    // once per run); only this database's own are read here.
    let servers = pair.servers(src, tgt).await?;
    let sfacts = SourceFacts::read(src, &servers.source)
        .await
        .map_err(|e| on_source(e, dbname))?;
    let mut tfacts = TargetFacts::read(tgt, &servers.target)
        .await
        .map_err(|e| on_target(e, dbname))?;
    let mut blockers = preflight::replication_blockers(&servers, 1);
    let plan = plan::plan(
        source,
        dbname,
        src,
        &sfacts,
        &tfacts,
        opts.tables.as_deref(),
        extension_tables,
    )
    .await
    .map_err(|e| on_source(e, dbname))?;
    blockers.extend(plan.blockers.iter().cloned());
    let only = opts.tables.as_deref().filter(|t| !t.is_empty());
    let gaps = identity::identity_gaps_selected(src, only)
        .await
        .map_err(|e| on_source(e, dbname))?;
    // With --replica-identity-full these tables are set FULL by the setup, once nothing else
    // blocks (preflight refused the database already when one cannot be altered).
    let mut identity_full = Vec::new();
    if !gaps.is_empty() {
        if opts.replica_identity_full {
            match identity::plan_full(&gaps) {
                Ok(changes) => identity_full = changes,
                Err(refused) => blockers.push(identity::full_refusal(&refused)),
            }
        } else {
            let names: Vec<String> = gaps.iter().map(|g| g.table.display.clone()).collect();
            blockers.push(identity::reason(&names));
        }
    }
    // aiven_extras for the subscription, once nothing else stands in the way (so that a
    // database that falls back anyway is left without it).
    if blockers.is_empty() && plan.install_aiven_extras {
        tfacts = objects::install_aiven_extras(tgt, &servers.target, tfacts, dbname)
            .await
            .map_err(|e| on_target(e, dbname))?;
        if let Err(why) = tfacts.subscription_via() {
            blockers.push(why);
        }
    }
    Ok(Prerequisites {
        sfacts,
        tfacts,
        plan,
        identity_full,
        blockers,
    })
}

/// After a failed setup: what it created is removed (the replica identities put back), then
/// the database falls back to the dump method when it may, or fails.
async fn setup_failed(
    ctx: &SetupCtx<'_>,
    tfacts: &TargetFacts,
    created: &Created,
    forced: bool,
    e: Error,
) -> Result<Outcome> {
    let (src, tgt, dbname, names) = (ctx.src, ctx.tgt, ctx.dbname, ctx.names);
    let (leftovers, restored) = undo(src, tgt, tfacts, names, created).await;
    if !restored.is_empty() {
        info!(database = %dbname, "{restored}");
    }
    let e = if leftovers.is_empty() {
        e
    } else {
        e.context(format!(
            "(cleanup also failed, remove the rest with {}: {})",
            Setting::Cleanup,
            leftovers.join("; ")
        ))
        .with_remedy(Remedy::RemoveReplication)
    };
    if objects::is_fallback_error(&e) && !forced {
        return Ok(Outcome::FallBackToDump {
            reason: format!("logical replication failed ({e}); nothing was left behind"),
        });
    }
    if objects::is_fallback_error(&e) && e.kind() == ErrorKind::Validation {
        return Err(e.with_database(dbname).with_phase(Phase::Replication));
    }
    Err(e.with_database(dbname).with_phase(Phase::ReplicationSetup))
}

#[cfg(test)]
mod tests {
    use super::*;
    use setup::subscription_conninfo;

    /// The orchestrator runs databases in spawned tasks: every entry point must be `Send`.
    #[test]
    fn entry_points_are_send() {
        fn is_send<T: Send>(_: &T) {}
        let ci = ConnInfo::default();
        let opts = ReplicationOptions::default();
        let pair = DbPair::new(&ci, &ci, "db", Default::default());
        let f = migrate_database(&pair, &opts, RunFacts::default(), |_data| async {
            Ok(String::new())
        });
        is_send(&f);
        is_send(&check_earlier_run(&pair, &opts));
        is_send(&cleanup(&pair));
    }

    #[test]
    fn subscription_conninfo_carries_password_and_timeout_but_no_replication_key() {
        let mut src = ConnInfo::parse_with_env(
            "host=10.0.0.1 port=5433 user=u password='p w' dbname=other replication=database",
            &|_| None,
        )
        .unwrap();
        src.connect_timeout = None;
        let s = subscription_conninfo(&src, &ReplicationOptions::default(), "app");
        assert!(s.contains("dbname='app'"), "{s}");
        assert!(s.contains("password='p w'"), "{s}");
        assert!(s.contains("connect_timeout='10'"), "{s}");
        assert!(!s.contains("replication"), "{s}");
    }
}
