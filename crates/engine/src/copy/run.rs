//! The copy of one database as its stages, in the order they run: the sessions and their
//! snapshot, the plan, what the ledger says is in already, the sequences, the split tables
//! emptied, the workers, the post-data left, the report.
//!
//! Every stage that waits on a server runs through [`step`], so the pair's token stops it and
//! cancels what its sessions were running; each returns what the next one needs.

use std::future::Future;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::progress::CopyProgress;
use super::worker::{self, Shared};
use super::{
    CopyJob, CopyReport, PostDataJob, PostDataPlan, TableCopyResult, TableState, TableStatus,
    large_objects, plan, resume, sched, sequences, statistics,
};
use crate::cancel::cancelled;
use crate::conn::Session;
use crate::error::{Error, Phase, Result, Side};
use crate::warning::Warning;

/// Copies the data of `job`'s database, then runs its post-data; `states` receives where every
/// table stands once the workers ended (also when the copy then fails).
pub(super) async fn run(
    job: &CopyJob<'_>,
    mut post_data: PostDataPlan,
    stop: &CancellationToken,
    states: &mut Vec<TableStatus>,
) -> Result<CopyReport> {
    let started = Instant::now();
    let Sessions {
        coord,
        control,
        snapshot_id,
    } = open_sessions(job, stop).await?;
    let mut plan = plan_copy(job, stop, &coord, &control).await?;
    let (ledger_run, mut resumed) =
        resume_from_ledger(job, stop, &control, &mut plan, &mut post_data, &snapshot_id).await?;
    let sequences = copy_sequences(job, stop, &coord, &control, &plan).await?;
    truncate_split_tables(job, stop, &control, &plan).await?;
    log_plan(job, &plan, sequences);
    let (shared, orphans) = workers_state(
        job,
        stop,
        WorkersInput {
            control: &control,
            plan: &mut plan,
            by_table: post_data.by_table,
            snapshot_id,
            part_ids: std::mem::take(&mut resumed.part_ids),
            ledger_run: ledger_run.clone(),
        },
    );
    run_workers(job, &shared, coord).await;
    *states = table_states(&shared, &resumed);
    workers_outcome(job, stop, &shared)?;

    let control = target_for_post_data(job, stop, control).await?;
    post_data_left(
        job,
        stop,
        &control,
        &orphans,
        &post_data.rest,
        ledger_run.as_deref(),
        &shared,
    )
    .await?;
    drop(control);

    let tables = copied_tables(&shared, &mut resumed);
    let warnings = std::mem::take(&mut plan.warnings);
    Ok(report(job, &shared, tables, warnings, sequences, started))
}

/// The coordinator on the source, whose transaction holds the snapshot every worker imports
/// and lives until the workers end, and the control session on the target.
struct Sessions {
    coord: Session,
    control: Session,
    snapshot_id: String,
}

/// Opens the coordinator and the control session, and imports the snapshot given or exports
/// one.
async fn open_sessions(job: &CopyJob<'_>, stop: &CancellationToken) -> Result<Sessions> {
    let pair = job.pair;
    let serr = pair.tag_pg(Side::Source, Phase::Copy);
    let coord = step(stop, &[], pair.open(Side::Source, Phase::Copy)).await?;
    let control = step(stop, &[], pair.open(Side::Target, Phase::Copy)).await?;
    let snapshot_id = step(stop, &[&coord], async {
        worker::prepare_source(&coord).await;
        match job.snapshot {
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
    tracing::debug!(
        "database {}: copying as of snapshot {snapshot_id}",
        pair.source_db()
    );
    Ok(Sessions {
        coord,
        control,
        snapshot_id,
    })
}

/// Prepares the target session, reads what the target holds, plans the copy in the
/// coordinator's snapshot and locks the planned tables there (a warning when it cannot).
async fn plan_copy(
    job: &CopyJob<'_>,
    stop: &CancellationToken,
    coord: &Session,
    control: &Session,
) -> Result<plan::Plan> {
    let pair = job.pair;
    let (stag, ttag) = (
        pair.tag(Side::Source, Phase::Copy),
        pair.tag(Side::Target, Phase::Copy),
    );
    let replica = step(stop, &[control], async {
        Ok(worker::prepare_target(control).await)
    })
    .await?;
    let target_catalog = step(stop, &[control], async {
        crate::catalog::copy_plan::read_target(control, replica)
            .await
            .map_err(&ttag)
    })
    .await?;
    let mut plan = step(stop, &[coord], async {
        plan::build(coord, control.major(), &target_catalog, replica, job.opts)
            .await
            .map_err(&stag)
    })
    .await?;
    if let Some(w) = step(stop, &[coord], async {
        Ok(lock_tables(coord, &plan.tables).await)
    })
    .await?
    {
        plan.warnings.push(w);
    }
    Ok(plan)
}

/// The ledger: what an earlier run committed stays, the rest is planned again; the parts of
/// tables planned for the first time are recorded before any of them starts. Returns the
/// ledger's run id (`None` without the ledger) and what was resumed.
async fn resume_from_ledger(
    job: &CopyJob<'_>,
    stop: &CancellationToken,
    control: &Session,
    plan: &mut plan::Plan,
    post_data: &mut PostDataPlan,
    snapshot_id: &str,
) -> Result<(Option<String>, resume::Resumed)> {
    if !job.opts.ledger {
        let part_ids = plan
            .tables
            .iter()
            .map(|t| (0..t.parts.len()).collect())
            .collect();
        return Ok((
            None,
            resume::Resumed {
                part_ids,
                ..Default::default()
            },
        ));
    }
    let state = step(
        stop,
        &[control],
        crate::ledger::parts::read_copy_state(control),
    )
    .await
    .map_err(|e| e.with_phase(Phase::Data))?;
    let r = resume::apply(plan, &state, post_data);
    step(
        stop,
        &[control],
        crate::ledger::parts::record_parts(control, &state.run_id, &r.new_tables),
    )
    .await
    .map_err(|e| e.with_phase(Phase::Data))?;
    if !r.earlier_snapshots.is_empty() && !job.opts.earlier_changes_replicated {
        let n = r.done.len() + r.partial.len();
        plan.warnings.push(Warning::recovery(format!(
            "resumed: {} copied (in whole or in part) by an earlier run as of snapshot {}, \
             the rest as of snapshot {snapshot_id}: rows written on the source between \
             the two to tables copied earlier are not in the target",
            plural(n, "table was", "tables were"),
            r.earlier_snapshots.join(", ")
        )));
    }
    Ok((Some(state.run_id), r))
}

/// Sequences: read in the coordinator's transaction, set on the target. Returns how many.
async fn copy_sequences(
    job: &CopyJob<'_>,
    stop: &CancellationToken,
    coord: &Session,
    control: &Session,
    plan: &plan::Plan,
) -> Result<usize> {
    let (dbname_source, dbname_target) = (job.pair.source_db(), job.pair.target_db());
    let seq_values = step(
        stop,
        &[coord],
        sequences::read(coord, dbname_source, &plan.sequences),
    )
    .await?;
    step(
        stop,
        &[control],
        sequences::apply(control, dbname_target, &seq_values),
    )
    .await?;
    Ok(seq_values.len())
}

/// Split tables are emptied once, before their parts start.
async fn truncate_split_tables(
    job: &CopyJob<'_>,
    stop: &CancellationToken,
    control: &Session,
    plan: &plan::Plan,
) -> Result<()> {
    let terr = job.pair.tag_pg(Side::Target, Phase::Copy);
    for t in plan.tables.iter().filter(|t| t.truncate_first) {
        step(stop, &[control], async {
            control
                .batch_execute(&format!("TRUNCATE ONLY {}", t.qualified()))
                .await
                .map_err(|e| terr(e).with_object(format!("table {}", t.qualified())))
        })
        .await?;
    }
    Ok(())
}

fn log_plan(job: &CopyJob<'_>, plan: &plan::Plan, sequences: usize) {
    tracing::info!(
        database = job.pair.source_db(),
        tables = plan.tables.len() as u64,
        est_bytes = plan.est_bytes,
        parts = plan.tables.iter().map(|t| t.parts.len()).sum::<usize>(),
        sequences,
        large_objects = plan.large_objects.len(),
        jobs = job.opts.jobs.get(),
        "copying data"
    );
}

/// What the workers start from, besides the job: the plan (its tables move to the workers),
/// the post-data that waits for tables, and the snapshot and ledger they work in.
struct WorkersInput<'a> {
    control: &'a Session,
    plan: &'a mut plan::Plan,
    by_table: std::collections::HashMap<plan::RelKey, Vec<PostDataJob>>,
    snapshot_id: String,
    part_ids: Vec<Vec<usize>>,
    ledger_run: Option<String>,
}

/// The state the workers share (the schedule of every task), and the post-data jobs keyed by
/// no copied table, which run after the copy.
fn workers_state(
    job: &CopyJob<'_>,
    stop: &CancellationToken,
    input: WorkersInput<'_>,
) -> (Arc<Shared>, Vec<(plan::RelKey, Vec<PostDataJob>)>) {
    let WorkersInput {
        control,
        plan,
        by_table,
        snapshot_id,
        part_ids,
        ledger_run,
    } = input;
    let opts = job.opts;
    let tables_count = plan.tables.len();
    let (sched, orphans) = sched::Sched::new(
        &plan.tables,
        by_table,
        &plan.large_objects,
        large_objects::BATCH,
        opts.statistics != statistics::StatisticsMode::None,
        control.major() >= 16,
    );
    let progress = Arc::new(CopyProgress::new(tables_count as u64, plan.est_bytes));
    let shared = Arc::new(Shared {
        pair: job.pair.clone(),
        snapshot: snapshot_id,
        tables: std::mem::take(&mut plan.tables),
        sched: Mutex::new(sched),
        notify: Notify::new(),
        stop: stop.clone(),
        progress,
        errors: Mutex::new(Vec::new()),
        warnings: Mutex::new(Vec::new()),
        sessions_opened: AtomicU64::new(0),
        part_ids,
        ledger_run,
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
    (shared, orphans)
}

/// Runs the workers to their end, with the progress display, then ends the coordinator's
/// transaction: every worker is done, the snapshot may go.
async fn run_workers(job: &CopyJob<'_>, shared: &Arc<Shared>, coord: Session) {
    let opts = job.opts;
    let reporter_done = CancellationToken::new();
    let reporter = crate::progress::spawn(
        opts.progress,
        shared.progress.clone(),
        job.pair.source_db().to_string(),
        reporter_done.clone(),
    );
    worker::run_all(shared, opts.jobs.get(), opts.sessions.as_ref()).await;
    reporter_done.cancel();
    let _ = reporter.await;
    let _ = coord.batch_execute("ROLLBACK").await;
    drop(coord);
}

/// The workers' first error (the others logged and counted in it), else the interruption if
/// the copy was stopped.
fn workers_outcome(job: &CopyJob<'_>, stop: &CancellationToken, shared: &Shared) -> Result<()> {
    let dbname_source = job.pair.source_db();
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
    Ok(())
}

/// The target may have restarted during the copy (the workers retried their parts on new
/// sessions): the post-data work that is left then runs on a new session too.
async fn target_for_post_data(
    job: &CopyJob<'_>,
    stop: &CancellationToken,
    control: Session,
) -> Result<Session> {
    if !control.is_closed() {
        return Ok(control);
    }
    tracing::info!(
        database = job.pair.target_db(),
        "the target session was lost during the copy; post-data continues on a new one"
    );
    let s = step(stop, &[], job.pair.open(Side::Target, Phase::PostData)).await?;
    worker::prepare_target(&s).await;
    Ok(s)
}

/// Post-data that waited for no table, then the rest, in order.
async fn post_data_left(
    job: &CopyJob<'_>,
    stop: &CancellationToken,
    control: &Session,
    orphans: &[(plan::RelKey, Vec<PostDataJob>)],
    rest: &[PostDataJob],
    ledger_run: Option<&str>,
    shared: &Shared,
) -> Result<()> {
    let dbname_target = job.pair.target_db();
    for (key, jobs) in orphans {
        tracing::debug!("post-data for {}.{} after the copy", key.0, key.1);
        step(
            stop,
            &[control],
            worker::run_jobs(
                control,
                dbname_target,
                jobs,
                ledger_run,
                false,
                &shared.warnings,
            ),
        )
        .await?;
    }
    step(
        stop,
        &[control],
        worker::run_jobs(
            control,
            dbname_target,
            rest,
            ledger_run,
            false,
            &shared.warnings,
        ),
    )
    .await
}

/// The report's tables: this run's (with their retries, and the parts an earlier run copied)
/// and those an earlier run copied entirely, in (schema, table) order.
fn copied_tables(shared: &Shared, resumed: &mut resume::Resumed) -> Vec<TableCopyResult> {
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
    tables
}

/// The copy's report: `tables`, the plan's `warnings` and the workers', `sequences` set.
fn report(
    job: &CopyJob<'_>,
    shared: &Shared,
    tables: Vec<TableCopyResult>,
    mut warnings: Vec<Warning>,
    sequences: usize,
    started: Instant,
) -> CopyReport {
    let dbname_source = job.pair.source_db();
    let sched = shared.sched.lock().unwrap();
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
        sequences: sequences as u64,
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
    report
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
pub(super) fn interrupted() -> Error {
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
