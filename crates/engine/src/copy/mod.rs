//! The data engine: copies every row, sequence value and large object of one database from the
//! source to the target, in parallel, as of one instant.
//!
//! # The snapshot invariant
//!
//! A **coordinator** session on the source opens `BEGIN ISOLATION LEVEL REPEATABLE READ READ
//! ONLY` and exports its snapshot (`pg_export_snapshot()`), or imports the one it is given (the
//! replication method passes the snapshot its slot exported). Every worker's source session
//! imports that snapshot (`SET TRANSACTION SNAPSHOT`) before it reads anything, and **the
//! coordinator's transaction stays open until every worker is done**: an exported snapshot can
//! only be imported while its transaction lives, and keeping it also holds back vacuum so the
//! rows the snapshot sees stay readable. So the target receives the source as of one instant,
//! however long the copy takes and whatever is written to the source meanwhile. The coordinator
//! also takes `ACCESS SHARE` locks on the tables it plans to copy (as pg_dump does), so that a
//! concurrent `TRUNCATE`, `DROP` or table rewrite waits instead of breaking that image; if the
//! locks cannot be taken (lock table full, lock timeout) this is a warning.
//!
//! # Pipeline
//!
//! - [`plan`]: lists the tables (leaf partitions, never partitioned parents; unlogged tables;
//!   extension configuration tables with their `extcondition`; no materialized views, no
//!   foreign tables), their columns (no dropped or generated ones), the COPY format per table
//!   and the parts of tables larger than [`CopyOptions::split_larger_than`] (TID ranges on
//!   PG14+ sources, integer primary-key ranges on older ones, else no split).
//! - [`sched`]: one queue shared by `jobs` workers: post-data jobs of finished tables first,
//!   then copy parts largest first, then large objects, then `ANALYZE`.
//! - [`worker`]: each worker has its own source and target session of our own protocol client
//!   and streams raw COPY data with [`crate::conn::wire::pass_through`]: the source's CopyData
//!   messages are written to the target as they were read (no row parsing, no per-row message,
//!   one 256 KiB buffer per worker whatever the row sizes). Against tokio-postgres' COPY
//!   streams this cut the engine's CPU time from 10-12.6 % to about 6.7 % of the wall time in
//!   `scripts/bench`. The `jobs` workers are a `JoinSet` of blocking-pool threads, each running
//!   a current-thread runtime, so a worker's bytes never cross threads. Large objects use
//!   tokio-postgres sessions (extended-protocol parameters), opened only when there are some.
//! - [`sequences`], [`large_objects`]: the rest of the data.
//! - [`progress`]: a live bar on a terminal, periodic log lines otherwise.
//!
//! # Required settings and privileges
//!
//! Source: `SELECT` on every copied table, sequence and large object (or superuser); a
//! connection slot per worker plus one. Target: `INSERT` on the tables (owner or `TRUNCATE`
//! privilege enables the faster `TRUNCATE` + `COPY FREEZE` path); a connection slot per worker
//! plus one. Where the target user may set `session_replication_role` (superuser, or PG15+
//! `GRANT SET ON PARAMETER`), the load runs with `replica`, so no user trigger and no
//! foreign-key check fires; otherwise enabled user triggers and existing foreign keys on the
//! target are reported as warnings. The schema engine is expected to create triggers and
//! foreign keys in post-data, after the load.
//!
//! # Failure and cancellation
//!
//! The first failure stops the other workers (their running statements are cancelled on both
//! servers) and is returned with the table, the part and the SQLSTATE; further independent
//! failures are logged. A table appears in the report only after all of its parts committed on
//! the target. Cancelling the pair's token ([`DbPair::cancel`], the run's) cancels every running statement on both
//! servers, rolls back every transaction and returns an error of kind
//! [`ErrorKind::Cancelled`].
//!
//! A limitation to know: tokio-postgres reports a target-side error in a `COPY FROM STDIN`
//! (a constraint violation, a full disk) only when the COPY ends, so the worker reads the rest of
//! that part from the source first. Splitting bounds that waste to one part.

pub mod large_objects;
pub mod plan;
pub mod progress;
pub mod report;
pub mod resume;
pub mod retry;
pub mod sched;
pub mod sequences;
pub mod statistics;
pub mod worker;

use std::collections::HashMap;
use std::future::Future;
use std::num::NonZeroUsize;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::conn::Session;
use crate::error::{Error, ErrorKind, Phase, Result, Side};
use crate::pair::DbPair;
use crate::warning::Warning;
use progress::CopyProgress;
use worker::{Shared, cancelled};

/// Default for [`CopyOptions::split_larger_than`]: 1 GiB.
///
/// Splitting costs something: a split table cannot be loaded with `COPY FREEZE` (so vacuum later
/// rewrites every page to set hint bits and the visibility map), each part scans a TID range
/// rather than streaming the heap in one pass, and the parts interleave on the target's disk.
/// It pays off when one table would otherwise keep a single worker busy long after the others
/// finished. At 1 GiB a single stream takes roughly 5–20 s on local disks (longer across a
/// network), so only tables that would dominate the tail of the copy are split, and the parts
/// are big enough that per-part overhead is negligible and small enough to balance the load.
pub const DEFAULT_SPLIT_LARGER_THAN: u64 = 1024 * 1024 * 1024;

/// `--copy-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CopyFormat {
    /// Binary where both servers' majors and every column type allow it (built-in types with
    /// binary I/O, target major >= source major, same column types on both sides); text
    /// otherwise, per table.
    #[default]
    Auto,
    /// Binary for every table whose column types have a portable binary form (this includes
    /// enums, domains and extension types with binary I/O); text, with a warning, for tables
    /// with composites, arrays of non-built-in types or reg* types.
    Binary,
    /// Text for every table.
    Text,
}

/// How progress is shown (the engine's one display, [`crate::progress`]).
pub use crate::progress::ProgressMode;
pub use report::{CopyOutcome, CopyReport, TableCopyResult, TableState, TableStatus};

/// Options of the data copy.
#[derive(Debug, Clone)]
pub struct CopyOptions {
    /// Parallel workers (each with one source and one target session). Default: the number of
    /// CPU cores, at least 2.
    pub jobs: NonZeroUsize,
    pub format: CopyFormat,
    /// Tables larger than this many bytes (heap + TOAST on the source) are copied in parts
    /// of about this size. 0 disables splitting. Default [`DEFAULT_SPLIT_LARGER_THAN`].
    pub split_larger_than: u64,
    /// The loaded tables' planner statistics: the source's restored (18+ targets), `ANALYZE`,
    /// or none (`--statistics`, `--no-analyze`; see [`statistics`]).
    pub statistics: statistics::StatisticsMode,
    /// Copy extension configuration tables (default true;
    /// `--no-replicate-extension-tables` sets false).
    pub extension_tables: bool,
    pub progress: ProgressMode,
    /// Keep the target database's ledger ([`crate::ledger`], which must exist): each part
    /// commits together with its ledger row, large-object batches and post-data objects
    /// likewise, and what the ledger says is in already is not copied again (resume). The
    /// orchestrator turns it on; a plain `copy_database` leaves it off.
    pub ledger: bool,
    /// How often a task that failed with a transient error ([`retry::is_transient`]) is run
    /// again on fresh sessions before the copy fails (`--copy-retries`, default
    /// [`retry::DEFAULT_RETRIES`]). Parts are retried when their transaction makes a retry
    /// exact: with the ledger, or for a table loaded with TRUNCATE + COPY FREEZE.
    pub retries: u32,
    /// The wait before the first retry; it doubles per retry, at most
    /// [`retry::MAX_RETRY_DELAY`].
    pub retry_delay: std::time::Duration,
    /// `--stall-timeout`: a copy part or large-object batch that moves no byte for this long is
    /// cancelled on both sides and retried on new sessions like a lost connection (within
    /// `retries`), else fails naming the stall ([`crate::stall`]). `None`: not watched.
    /// Default [`crate::stall::DEFAULT_STALL_TIMEOUT`].
    pub stall_timeout: Option<std::time::Duration>,
    /// The database's selection (`--with-table`, `--exclude-table-data`...): only the tables
    /// and sequences whose data it includes are copied. `None`: everything.
    pub selection: Option<std::sync::Arc<crate::selection::DbSelection>>,
    /// Replication carries the changes made since an earlier run's snapshot (`--resume` of a
    /// run of the replication method): tables copied earlier get no warning about them.
    pub earlier_changes_replicated: bool,
    /// The run's pool of copy workers when several databases copy at once (the
    /// orchestrator's budget: `--jobs` for the whole run): each worker holds one permit for
    /// its life. `None`: this copy's `jobs` workers start at once.
    pub sessions: Option<std::sync::Arc<tokio::sync::Semaphore>>,
    /// Tables whose COPY needs a search_path (see [`plan::TablePlan::search_path`]), with it.
    pub search_paths: std::collections::HashMap<(String, String), String>,
}

/// The default worker count: CPU cores, at least 2.
pub fn default_jobs() -> NonZeroUsize {
    std::thread::available_parallelism()
        .unwrap_or(NonZeroUsize::MIN)
        .max(NonZeroUsize::new(2).expect("2 is not zero"))
}

impl Default for CopyOptions {
    fn default() -> Self {
        CopyOptions {
            jobs: default_jobs(),
            format: CopyFormat::Auto,
            split_larger_than: DEFAULT_SPLIT_LARGER_THAN,
            statistics: statistics::StatisticsMode::default(),
            extension_tables: true,
            progress: ProgressMode::Auto,
            ledger: false,
            retries: retry::DEFAULT_RETRIES,
            retry_delay: retry::DEFAULT_RETRY_DELAY,
            stall_timeout: Some(crate::stall::DEFAULT_STALL_TIMEOUT),
            selection: None,
            earlier_changes_replicated: false,
            sessions: None,
            search_paths: std::collections::HashMap::new(),
        }
    }
}

/// A post-data step prepared by the schema engine: statements for one object, already decided
/// (owner, ACL).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PostDataJob {
    /// What the object is, for errors ("index public.t_pkey").
    pub describe: String,
    /// Each run with `batch_execute` (simple query), in order; in one transaction with the
    /// object's ledger row. One that fails fails the database.
    pub statements: Vec<String>,
    /// The object's owner, privilege and comment statements, each run on its own once the
    /// object exists. The target may refuse them (a publication's owner needs CREATE on the
    /// database, a grant needs the grant option) and, as in the schema stage, that is a warning
    /// of the given kind, never a failed database: the object is there, only its owner or a
    /// grant is not. They are idempotent, so they run again when a resumed run finds the object
    /// already recorded.
    pub refusable: Vec<(crate::warning::WarningKind, String)>,
    /// `--keep-going`: a statement the target refuses does not fail the database; the object
    /// is recorded here (with the run's schema refusals) and the next job runs.
    pub refusals: Option<crate::schema::exec::Refusals>,
    /// The post-data objects it depends on, by description: under `--keep-going`, when one of
    /// them was refused (or skipped with one), this one is skipped and listed with it.
    pub depends_on: Vec<String>,
    /// Which refusals of `statements` skip the object with a warning, as in the schema stage
    /// (an event trigger or a publication `FOR ALL TABLES` the target user may not create, a
    /// subscription), instead of failing the database.
    pub skip: crate::schema::exec::SkipRule,
    /// `statements` may hold credentials ([`crate::schema::exec::conceals`]): never shown, and
    /// the target's messages about them redacted.
    pub conceal: bool,
}

/// Post-data work, split by what it waits for.
///
/// `by_table[(schema, table)]` runs as soon as that table's rows are all in (for a partitioned
/// table: all of its leaf partitions), on the workers, within the same `jobs` budget: jobs that
/// only build an index (`CREATE [UNIQUE] INDEX`, optionally followed by `COMMENT ON INDEX` /
/// `ALTER INDEX`) run in parallel, then the table's other jobs in their given order. So a job
/// keyed by table t must depend only on t (and on objects created before the copy): foreign
/// keys belong in `rest`. Keys that name no copied table (a materialized view, say) run after
/// all tables, before `rest`. `rest` runs after everything, in order, on one session.
#[derive(Debug, Clone, Default)]
pub struct PostDataPlan {
    pub by_table: HashMap<(String, String), Vec<PostDataJob>>,
    pub rest: Vec<PostDataJob>,
}

/// Copies all data of one database. `snapshot`: an already exported snapshot to use (the
/// replication method passes the slot's); `None` = the coordinator exports one.
///
/// Runs `post_data.by_table[t]` as soon as table t is fully loaded (within the same jobs
/// budget), and `post_data.rest` after all tables. See the module documentation for the
/// consistency, failure and cancellation guarantees.
pub async fn copy_database(
    pair: &DbPair,
    opts: &CopyOptions,
    snapshot: Option<&str>,
    post_data: PostDataPlan,
) -> Result<CopyReport> {
    copy_database_with_states(pair, opts, snapshot, post_data)
        .await
        .result
}

/// [`copy_database`], also returning where every table stands when the copy failed or was
/// interrupted (which tables are in, which failed with what error, which did not start).
pub async fn copy_database_with_states(
    pair: &DbPair,
    opts: &CopyOptions,
    snapshot: Option<&str>,
    post_data: PostDataPlan,
) -> CopyOutcome {
    let stop = pair.cancel().child_token();
    // If this future is dropped before it ends, the workers (on their own threads) stop too.
    let _stop_on_drop = stop.clone().drop_guard();
    let job = CopyJob {
        pair,
        opts,
        snapshot,
    };
    let mut tables = Vec::new();
    let result = run(&job, post_data, &stop, &mut tables).await;
    stop.cancel();
    let result = match result {
        Err(e) if pair.cancel().is_cancelled() && e.kind() != ErrorKind::Cancelled => {
            tracing::debug!("after cancellation: {e}");
            Err(interrupted().with_database(pair.source_db()))
        }
        r => r,
    };
    CopyOutcome { result, tables }
}

/// What to copy from where: the arguments of [`copy_database`].
#[derive(Clone, Copy)]
struct CopyJob<'a> {
    pair: &'a DbPair,
    opts: &'a CopyOptions,
    snapshot: Option<&'a str>,
}

/// Runs `fut` unless `stop` fires first; then asks the servers to cancel what `sessions` run.
async fn step<T>(
    stop: &CancellationToken,
    sessions: &[&Session],
    fut: impl Future<Output = Result<T>>,
) -> Result<T> {
    tokio::select! {
        r = fut => r,
        _ = stop.cancelled() => {
            for s in sessions {
                let _ = tokio::time::timeout(std::time::Duration::from_secs(5), s.cancel()).await;
            }
            Err(interrupted())
        }
    }
}

/// The copy stage's own cancellation error, in [`Phase::Data`] (the data stage as a whole was
/// stopped; what a worker was doing then is in the log). The ledger's bookkeeping and a worker
/// that cannot start are of that phase too; the workers' own errors name [`Phase::Copy`] or
/// [`Phase::PostData`].
fn interrupted() -> Error {
    cancelled().with_phase(Phase::Data)
}

/// Tables locked per `LOCK TABLE` statement.
const LOCK_BATCH: usize = 1000;

/// Takes ACCESS SHARE locks on `tables` in the coordinator's transaction; a failure is returned
/// as a warning (the transaction and its snapshot survive through a savepoint).
async fn lock_tables(coord: &Session, tables: &[plan::TablePlan]) -> Option<Warning> {
    if tables.is_empty() {
        return None;
    }
    let run = async {
        coord
            .batch_execute("SAVEPOINT db_migrate_lock; SET LOCAL lock_timeout = '60s'")
            .await?;
        for batch in tables.chunks(LOCK_BATCH) {
            let names: Vec<String> = batch.iter().map(|t| t.qualified()).collect();
            coord
                .batch_execute(&format!(
                    "LOCK TABLE ONLY {} IN ACCESS SHARE MODE",
                    names.join(", ")
                ))
                .await?;
        }
        coord
            .batch_execute("SET LOCAL lock_timeout = 0; RELEASE SAVEPOINT db_migrate_lock")
            .await
    };
    match run.await {
        Ok(()) => None,
        Err(e) => {
            let e = Error::from_pg(e);
            let _ = coord
                .batch_execute(
                    "ROLLBACK TO SAVEPOINT db_migrate_lock; RELEASE SAVEPOINT db_migrate_lock",
                )
                .await;
            Some(Warning::data(format!(
                "could not lock the source tables for the copy ({e}); concurrent DDL on the source (TRUNCATE, DROP, ALTER TABLE) during the copy may break it"
            )))
        }
    }
}

async fn run(
    job: &CopyJob<'_>,
    mut post_data: PostDataPlan,
    stop: &CancellationToken,
    states: &mut Vec<TableStatus>,
) -> Result<CopyReport> {
    let CopyJob {
        pair,
        opts,
        snapshot,
    } = *job;
    let (dbname_source, dbname_target) = (pair.source_db(), pair.target_db());
    let started = Instant::now();
    let serr = pair.tag_pg(Side::Source, Phase::Copy);
    let terr = pair.tag_pg(Side::Target, Phase::Copy);
    let (stag, ttag) = (
        pair.tag(Side::Source, Phase::Copy),
        pair.tag(Side::Target, Phase::Copy),
    );

    // The coordinator: its transaction defines the snapshot and lives until the workers end.
    let coord = step(stop, &[], pair.open(Side::Source, Phase::Copy)).await?;
    let control = step(stop, &[], pair.open(Side::Target, Phase::Copy)).await?;
    let snapshot_id = step(stop, &[&coord], async {
        worker::prepare_source(&coord).await;
        match snapshot {
            Some(id) => {
                coord
                    .batch_execute(&crate::sql::import_snapshot(id))
                    .await
                    .map_err(|e| serr(e).context(format!("importing snapshot {id}")))?;
                Ok(id.to_string())
            }
            None => {
                coord
                    .batch_execute(crate::sql::BEGIN_SNAPSHOT)
                    .await
                    .map_err(&serr)?;
                let row = coord
                    .query_one(crate::sql::EXPORT_SNAPSHOT, &[])
                    .await
                    .map_err(|e| serr(e).context("exporting a snapshot"))?;
                Ok(row.get::<_, String>(0))
            }
        }
    })
    .await?;
    tracing::debug!("database {dbname_source}: copying as of snapshot {snapshot_id}");

    let replica = step(stop, &[&control], async {
        Ok(worker::prepare_target(&control).await)
    })
    .await?;
    let target_catalog = step(stop, &[&control], async {
        crate::catalog::copy_plan::read_target(&control, replica)
            .await
            .map_err(&ttag)
    })
    .await?;
    let mut plan = step(stop, &[&coord], async {
        plan::build(&coord, control.major(), &target_catalog, replica, opts)
            .await
            .map_err(&stag)
    })
    .await?;
    if let Some(w) = step(stop, &[&coord], async {
        Ok(lock_tables(&coord, &plan.tables).await)
    })
    .await?
    {
        plan.warnings.push(w);
    }

    // The ledger: what an earlier run committed stays, the rest is planned again; the parts of
    // tables planned for the first time are recorded before any of them starts.
    let (ledger_run, mut resumed) = if opts.ledger {
        let state = step(
            stop,
            &[&control],
            crate::ledger::parts::read_copy_state(&control),
        )
        .await
        .map_err(|e| e.with_phase(Phase::Data))?;
        let r = resume::apply(&mut plan, &state, &mut post_data);
        step(
            stop,
            &[&control],
            crate::ledger::parts::record_parts(&control, &state.run_id, &r.new_tables),
        )
        .await
        .map_err(|e| e.with_phase(Phase::Data))?;
        if !r.earlier_snapshots.is_empty() && !opts.earlier_changes_replicated {
            let n = r.done.len() + r.partial.len();
            plan.warnings.push(Warning::recovery(format!(
                "resumed: {} copied (in whole or in part) by an earlier run as of snapshot {}, \
                 the rest as of snapshot {snapshot_id}: rows written on the source between \
                 the two to tables copied earlier are not in the target",
                plural(n, "table was", "tables were"),
                r.earlier_snapshots.join(", ")
            )));
        }
        (Some(state.run_id), r)
    } else {
        let part_ids = plan
            .tables
            .iter()
            .map(|t| (0..t.parts.len()).collect())
            .collect();
        (
            None,
            resume::Resumed {
                part_ids,
                ..Default::default()
            },
        )
    };

    // Sequences: read in the coordinator's transaction, set on the target.
    let seq_values = step(
        stop,
        &[&coord],
        sequences::read(&coord, dbname_source, &plan.sequences),
    )
    .await?;
    step(
        stop,
        &[&control],
        sequences::apply(&control, dbname_target, &seq_values),
    )
    .await?;

    // Split tables are emptied once, before their parts start.
    for t in plan.tables.iter().filter(|t| t.truncate_first) {
        step(stop, &[&control], async {
            control
                .batch_execute(&format!("TRUNCATE ONLY {}", t.qualified()))
                .await
                .map_err(|e| terr(e).with_object(format!("table {}", t.qualified())))
        })
        .await?;
    }

    let tables_total = plan.tables.len() as u64;
    let tables_count = plan.tables.len();
    let est_bytes = plan.est_bytes;
    tracing::info!(
        database = dbname_source,
        tables = tables_total,
        est_bytes,
        parts = plan.tables.iter().map(|t| t.parts.len()).sum::<usize>(),
        sequences = seq_values.len(),
        large_objects = plan.large_objects.len(),
        jobs = opts.jobs.get(),
        "copying data"
    );
    let (sched, orphans) = sched::Sched::new(
        &plan.tables,
        post_data.by_table,
        &plan.large_objects,
        large_objects::BATCH,
        opts.statistics != statistics::StatisticsMode::None,
        control.major() >= 16,
    );
    let progress = Arc::new(CopyProgress::new(tables_total, est_bytes));
    let shared = Arc::new(Shared {
        pair: pair.clone(),
        snapshot: snapshot_id,
        tables: std::mem::take(&mut plan.tables),
        sched: Mutex::new(sched),
        notify: Notify::new(),
        stop: stop.clone(),
        progress: progress.clone(),
        errors: Mutex::new(Vec::new()),
        warnings: Mutex::new(Vec::new()),
        sessions_opened: AtomicU64::new(0),
        part_ids: std::mem::take(&mut resumed.part_ids),
        ledger_run: ledger_run.clone(),
        retries: opts.retries,
        retry_delay: opts.retry_delay,
        table_retries: Mutex::new(vec![0; tables_count]),
        table_errors: Mutex::new(vec![None; tables_count]),
        retried: std::sync::atomic::AtomicU32::new(0),
        statistics: opts.statistics.effective(control.server_version_num()),
        statistics_report: Mutex::new(statistics::StatisticsReport {
            method: opts.statistics.effective(control.server_version_num()),
            ..Default::default()
        }),
        stall_timeout: opts.stall_timeout,
    });
    let reporter_done = CancellationToken::new();
    let reporter = crate::progress::spawn(
        opts.progress,
        progress.clone(),
        dbname_source.to_string(),
        reporter_done.clone(),
    );
    worker::run_all(&shared, opts.jobs.get(), opts.sessions.as_ref()).await;
    reporter_done.cancel();
    let _ = reporter.await;
    // Every worker is done: the snapshot may go.
    let _ = coord.batch_execute("ROLLBACK").await;
    drop(coord);
    *states = table_states(&shared, &resumed);

    let mut errors = std::mem::take(&mut *shared.errors.lock().unwrap());
    if !errors.is_empty() {
        let first = errors.remove(0);
        for e in &errors {
            tracing::error!("also failed: {e}");
        }
        let first = if errors.is_empty() {
            first
        } else {
            let n = errors.len();
            first.context(format!(
                "{n} other task{} also failed (see the log)",
                if n == 1 { "" } else { "s" }
            ))
        };
        // A worker's error names its phase (copy, post-data); one that could not start does not.
        return Err(first.with_database(dbname_source).with_phase(Phase::Data));
    }
    if stop.is_cancelled() {
        return Err(interrupted().with_database(dbname_source));
    }

    // The target may have restarted during the copy (the workers retried their parts on new
    // sessions): the post-data work that is left then runs on a new session too.
    let control = if control.is_closed() {
        tracing::info!(
            database = dbname_target,
            "the target session was lost during the copy; post-data continues on a new one"
        );
        let s = step(stop, &[], pair.open(Side::Target, Phase::PostData)).await?;
        worker::prepare_target(&s).await;
        s
    } else {
        control
    };

    // Post-data that waited for no table, then the rest, in order.
    for (key, jobs) in &orphans {
        tracing::debug!("post-data for {}.{} after the copy", key.0, key.1);
        step(
            stop,
            &[&control],
            worker::run_jobs(
                &control,
                dbname_target,
                jobs,
                ledger_run.as_deref(),
                false,
                &shared.warnings,
            ),
        )
        .await?;
    }
    step(
        stop,
        &[&control],
        worker::run_jobs(
            &control,
            dbname_target,
            &post_data.rest,
            ledger_run.as_deref(),
            false,
            &shared.warnings,
        ),
    )
    .await?;
    drop(control);

    let sched = shared.sched.lock().unwrap();
    let mut tables = sched.results.clone();
    let table_retries = shared.table_retries.lock().unwrap().clone();
    for t in &mut tables {
        let key = (t.schema.clone(), t.table.clone());
        if let Some(i) = shared.tables.iter().position(|p| p.key() == key) {
            t.retries = table_retries[i];
        }
        if let Some((parts, rows, bytes, snapshots)) = resumed.partial.get(&key) {
            t.parts += parts;
            t.rows += rows;
            t.bytes += bytes;
            t.snapshots = snapshots.clone();
        }
        if !t.snapshots.contains(&shared.snapshot) {
            t.snapshots.push(shared.snapshot.clone());
        }
    }
    tables.extend(std::mem::take(&mut resumed.done));
    tables.sort_by(|a, b| (&a.schema, &a.table).cmp(&(&b.schema, &b.table)));
    let mut warnings = std::mem::take(&mut plan.warnings);
    warnings.extend(shared.warnings.lock().unwrap().drain(..));
    // In the report's warnings: logged at info (-v), so that they are not printed twice.
    for w in &warnings {
        tracing::info!("database {dbname_source}: {w}");
    }
    let rows = tables.iter().map(|t| t.rows).sum();
    let bytes = tables.iter().map(|t| t.bytes).sum::<u64>() + sched.large_object_bytes;
    let report = CopyReport {
        rows,
        bytes,
        tables,
        sequences: seq_values.len() as u64,
        large_objects: sched.large_objects,
        seconds: started.elapsed().as_secs_f64(),
        warnings,
        retries: shared.retried.load(std::sync::atomic::Ordering::Relaxed),
        statistics: shared.statistics_report.lock().unwrap().clone(),
    };
    tracing::info!(
        database = dbname_source,
        tables = report.tables.len(),
        rows = report.rows,
        bytes = report.bytes,
        seconds = format!("{:.1}", report.seconds),
        "data copied"
    );
    Ok(report)
}

fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// Every table's state once the workers ended: this run's tables from the scheduler (with the
/// errors of their failed parts), and those an earlier run copied entirely.
fn table_states(sh: &Shared, resumed: &resume::Resumed) -> Vec<TableStatus> {
    let sched = sh.sched.lock().unwrap();
    let errors = sh.table_errors.lock().unwrap();
    let retries = sh.table_retries.lock().unwrap();
    let mut out: Vec<TableStatus> = Vec::new();
    for (i, t) in sh.tables.iter().enumerate() {
        let (left, rows, bytes, started) = sched.table_progress(i);
        let key = t.key();
        let (earlier_parts, earlier_rows, earlier_bytes, mut snapshots) =
            resumed.partial.get(&key).cloned().unwrap_or_default();
        let copied_now = (t.parts.len() - left) as u32;
        if copied_now > 0 && !snapshots.contains(&sh.snapshot) {
            snapshots.push(sh.snapshot.clone());
        }
        let parts_copied = earlier_parts + copied_now;
        let state = if left == 0 {
            TableState::Copied
        } else if errors[i].is_some() {
            TableState::Failed
        } else if started {
            TableState::Interrupted
        } else if parts_copied > 0 {
            TableState::PartlyCopied
        } else {
            TableState::NotStarted
        };
        out.push(TableStatus {
            schema: t.schema.clone(),
            table: t.name.clone(),
            state,
            parts: earlier_parts + t.parts.len() as u32,
            parts_copied,
            rows: earlier_rows + rows,
            bytes: earlier_bytes + bytes,
            retries: retries[i],
            snapshots,
            error: errors[i].clone(),
        });
    }
    for d in &resumed.done {
        out.push(TableStatus {
            schema: d.schema.clone(),
            table: d.table.clone(),
            state: TableState::Copied,
            parts: d.parts,
            parts_copied: d.parts,
            rows: d.rows,
            bytes: d.bytes,
            retries: 0,
            snapshots: d.snapshots.clone(),
            error: None,
        });
    }
    out.sort_by(|a, b| (&a.schema, &a.table).cmp(&(&b.schema, &b.table)));
    out
}

#[allow(dead_code)]
fn _assert_send() {
    fn is_send<T: Send>(_: &T) {}
    let opts = CopyOptions::default();
    let info = crate::conn::ConnInfo::parse("host=x").unwrap();
    let pair = DbPair::new(&info, &info, "a", CancellationToken::new()).into_target_db("b");
    let f = copy_database(&pair, &opts, None, PostDataPlan::default());
    is_send(&f);
}
