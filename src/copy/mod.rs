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
//! the target. Cancelling [`CopyOptions::cancel`] cancels every running statement on both
//! servers, rolls back every transaction and returns an error of kind
//! [`ErrorKind::Cancelled`].
//!
//! A limitation to know: tokio-postgres reports a target-side error in a `COPY FROM STDIN`
//! (a constraint violation, a full disk) only when the COPY ends, so the worker reads the rest of
//! that part from the source first. Splitting bounds that waste to one part.

pub mod large_objects;
pub mod plan;
pub mod progress;
pub mod sched;
pub mod sequences;
pub mod worker;

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::conn::{ConnInfo, Session, connect};
use crate::error::{Error, ErrorKind, Result, Side};
use progress::Progress;
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

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProgressMode {
    /// A live bar when stderr is a terminal, else periodic log lines.
    #[default]
    Auto,
    /// Periodic structured log lines (every 10 s).
    Log,
    /// Nothing (`--json -`).
    Quiet,
}

/// Options of the data copy.
#[derive(Debug, Clone)]
pub struct CopyOptions {
    /// Parallel workers (each with one source and one target session). Default: the number of
    /// CPU cores, at least 2.
    pub jobs: usize,
    pub format: CopyFormat,
    /// Tables larger than this many bytes (heap + TOAST on the source) are copied in parts
    /// of about this size. 0 disables splitting. Default [`DEFAULT_SPLIT_LARGER_THAN`].
    pub split_larger_than: u64,
    /// `ANALYZE` the loaded tables (default true; `--no-analyze` sets false).
    pub analyze: bool,
    /// Copy extension configuration tables (default true;
    /// `--no-replicate-extension-tables` sets false).
    pub extension_tables: bool,
    pub progress: ProgressMode,
    /// Cancelling it stops the copy (Ctrl-C).
    pub cancel: CancellationToken,
}

/// The default worker count: CPU cores, at least 2.
pub fn default_jobs() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .max(2)
}

impl Default for CopyOptions {
    fn default() -> Self {
        CopyOptions {
            jobs: default_jobs(),
            format: CopyFormat::Auto,
            split_larger_than: DEFAULT_SPLIT_LARGER_THAN,
            analyze: true,
            extension_tables: true,
            progress: ProgressMode::Auto,
            cancel: CancellationToken::new(),
        }
    }
}

/// A post-data step prepared by the schema engine: statements for one object, already decided
/// (owner, ACL).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PostDataJob {
    /// What the object is, for errors ("index public.t_pkey").
    pub describe: String,
    /// Each run with `batch_execute` (simple query), in order.
    pub statements: Vec<String>,
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

/// What was copied for one table (a leaf partition counts as a table).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TableCopyResult {
    pub schema: String,
    pub table: String,
    /// Rows the target's `COPY` reported loaded.
    pub rows: u64,
    /// Bytes of COPY data moved.
    pub bytes: u64,
    /// From the start of its first part to the commit of its last.
    pub seconds: f64,
    /// "binary" or "text".
    pub format: &'static str,
    pub parts: u32,
}

/// What the data copy of one database did.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct CopyReport {
    pub tables: Vec<TableCopyResult>,
    /// Sequences whose value was set.
    pub sequences: u64,
    /// Large objects whose contents were copied.
    pub large_objects: u64,
    /// Bytes of table data and large-object contents.
    pub bytes: u64,
    pub rows: u64,
    pub seconds: f64,
    pub warnings: Vec<String>,
}

/// Copies all data of one database. `snapshot`: an already exported snapshot to use (the
/// replication method passes the slot's); `None` = the coordinator exports one.
///
/// Runs `post_data.by_table[t]` as soon as table t is fully loaded (within the same jobs
/// budget), and `post_data.rest` after all tables. See the module documentation for the
/// consistency, failure and cancellation guarantees.
pub async fn copy_database(
    source: &ConnInfo,
    target: &ConnInfo,
    dbname_source: &str,
    dbname_target: &str,
    opts: &CopyOptions,
    snapshot: Option<&str>,
    post_data: PostDataPlan,
) -> Result<CopyReport> {
    let stop = opts.cancel.child_token();
    // If this future is dropped before it ends, the workers (on their own threads) stop too.
    let _stop_on_drop = stop.clone().drop_guard();
    let result = run(
        source,
        target,
        dbname_source,
        dbname_target,
        opts,
        snapshot,
        post_data,
        &stop,
    )
    .await;
    stop.cancel();
    match result {
        Err(e) if opts.cancel.is_cancelled() && e.kind() != ErrorKind::Cancelled => {
            tracing::debug!("after cancellation: {e}");
            Err(cancelled().with_database(dbname_source))
        }
        r => r,
    }
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
            Err(cancelled())
        }
    }
}

fn src_err(db: &str) -> impl Fn(tokio_postgres::Error) -> Error + '_ {
    move |e| {
        Error::from_pg(e)
            .with_side(Side::Source)
            .with_database(db)
            .with_phase("copy")
    }
}

fn tgt_err(db: &str) -> impl Fn(tokio_postgres::Error) -> Error + '_ {
    move |e| {
        Error::from_pg(e)
            .with_side(Side::Target)
            .with_database(db)
            .with_phase("copy")
    }
}

/// Tables locked per `LOCK TABLE` statement.
const LOCK_BATCH: usize = 1000;

/// Takes ACCESS SHARE locks on `tables` in the coordinator's transaction; a failure is returned
/// as a warning (the transaction and its snapshot survive through a savepoint).
async fn lock_tables(coord: &Session, tables: &[plan::TablePlan]) -> Option<String> {
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
            Some(format!(
                "could not lock the source tables for the copy ({e}); concurrent DDL on the source (TRUNCATE, DROP, ALTER TABLE) during the copy may break it"
            ))
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn run(
    source: &ConnInfo,
    target: &ConnInfo,
    dbname_source: &str,
    dbname_target: &str,
    opts: &CopyOptions,
    snapshot: Option<&str>,
    post_data: PostDataPlan,
    stop: &CancellationToken,
) -> Result<CopyReport> {
    let started = Instant::now();
    let serr = src_err(dbname_source);
    let terr = tgt_err(dbname_target);

    // The coordinator: its transaction defines the snapshot and lives until the workers end.
    let coord = step(stop, &[], connect(source, Some(dbname_source)))
        .await
        .map_err(|e| {
            e.with_side(Side::Source)
                .with_database(dbname_source)
                .with_phase("copy")
        })?;
    let control = step(stop, &[], connect(target, Some(dbname_target)))
        .await
        .map_err(|e| {
            e.with_side(Side::Target)
                .with_database(dbname_target)
                .with_phase("copy")
        })?;
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
    let (target_tables, target_sequences) = step(
        stop,
        &[&control],
        plan::read_target(&control, dbname_target, replica),
    )
    .await?;
    let mut plan = step(
        stop,
        &[&coord],
        plan::build(
            &coord,
            dbname_source,
            control.major(),
            &target_tables,
            &target_sequences,
            replica,
            opts,
        ),
    )
    .await?;
    if let Some(w) = step(stop, &[&coord], async {
        Ok(lock_tables(&coord, &plan.tables).await)
    })
    .await?
    {
        plan.warnings.push(w);
    }

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
    let est_bytes = plan.est_bytes;
    tracing::info!(
        database = dbname_source,
        tables = tables_total,
        est_bytes,
        parts = plan.tables.iter().map(|t| t.parts.len()).sum::<usize>(),
        sequences = seq_values.len(),
        large_objects = plan.large_objects.len(),
        jobs = opts.jobs.max(1),
        "copying data"
    );
    let (sched, orphans) = sched::Sched::new(
        &plan.tables,
        post_data.by_table,
        &plan.large_objects,
        large_objects::BATCH,
        opts.analyze,
        control.major() >= 16,
    );
    let progress = Arc::new(Progress {
        tables_total,
        est_bytes,
        ..Default::default()
    });
    let shared = Arc::new(Shared {
        source: source.clone(),
        target: target.clone(),
        source_db: dbname_source.to_string(),
        target_db: dbname_target.to_string(),
        snapshot: snapshot_id,
        tables: std::mem::take(&mut plan.tables),
        sched: Mutex::new(sched),
        notify: Notify::new(),
        stop: stop.clone(),
        progress: progress.clone(),
        errors: Mutex::new(Vec::new()),
        warnings: Mutex::new(Vec::new()),
        sessions_opened: AtomicU64::new(0),
    });
    let reporter_done = CancellationToken::new();
    let reporter = progress::spawn(
        opts.progress,
        progress.clone(),
        dbname_source.to_string(),
        reporter_done.clone(),
    );
    // Each worker runs on its own thread with a current-thread runtime that also drives its two
    // connections: the COPY bytes of a worker never cross threads, which avoids the cross-thread
    // wake-ups that otherwise dominate the engine's own CPU time (see benches/copy.rs).
    let mut workers = tokio::task::JoinSet::new();
    for i in 0..opts.jobs.max(1) {
        let sh = shared.clone();
        let span = tracing::Span::current();
        workers.spawn_blocking(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .thread_name(format!("db-migrate-copy-{i}"))
                .build();
            match rt {
                Ok(rt) => {
                    let _guard = span.enter();
                    rt.block_on(worker::run(sh));
                }
                Err(e) => {
                    sh.errors
                        .lock()
                        .unwrap()
                        .push(Error::from(e).context("starting a copy worker"));
                    sh.stop.cancel();
                }
            }
        });
    }
    while let Some(r) = workers.join_next().await {
        if let Err(e) = r {
            shared.errors.lock().unwrap().push(Error::protocol(format!(
                "a copy worker ended abnormally: {e}"
            )));
            stop.cancel();
        }
    }
    reporter_done.cancel();
    let _ = reporter.await;
    // Every worker is done: the snapshot may go.
    let _ = coord.batch_execute("ROLLBACK").await;
    drop(coord);

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
        return Err(first.with_database(dbname_source));
    }
    if stop.is_cancelled() {
        return Err(cancelled().with_database(dbname_source));
    }

    // Post-data that waited for no table, then the rest, in order.
    for (key, jobs) in &orphans {
        tracing::debug!("post-data for {}.{} after the copy", key.0, key.1);
        step(
            stop,
            &[&control],
            worker::run_jobs(&control, dbname_target, jobs),
        )
        .await?;
    }
    step(
        stop,
        &[&control],
        worker::run_jobs(&control, dbname_target, &post_data.rest),
    )
    .await?;
    drop(control);

    let sched = shared.sched.lock().unwrap();
    let mut tables = sched.results.clone();
    tables.sort_by(|a, b| (&a.schema, &a.table).cmp(&(&b.schema, &b.table)));
    let mut warnings = std::mem::take(&mut plan.warnings);
    warnings.extend(shared.warnings.lock().unwrap().drain(..));
    for w in &warnings {
        tracing::warn!("database {dbname_source}: {w}");
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

#[allow(dead_code)]
fn _assert_send() {
    fn is_send<T: Send>(_: &T) {}
    let opts = CopyOptions::default();
    let info = ConnInfo::parse("host=x").unwrap();
    let f = copy_database(&info, &info, "a", "b", &opts, None, PostDataPlan::default());
    is_send(&f);
}
