//! Workers: session setup, and the tasks they run (copy parts, post-data jobs, large-object
//! batches, ANALYZE), each interruptible by the stop token.

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::large_objects;
use super::plan::TablePlan;
use super::progress::CopyProgress;
use super::sched::{Sched, Task};
use crate::conn::Session;
use crate::conn::wire::{Canceller, WireSession, pass_through};
use crate::error::{Error, ErrorKind, Phase, Result, Side};
use crate::pair::DbPair;
use crate::remedy::{Remedy, Setting};
use crate::sql::{import_snapshot, quote_literal};
use crate::stall::Activity;
use crate::warning::Warning;

mod post_data;
mod settings;

/// The Cancelled error, under its earlier path ([`crate::cancel`]).
pub use crate::cancel::cancelled;
pub(crate) use post_data::run_jobs;
pub use settings::MAINTENANCE_WORK_MEM;
pub(crate) use settings::{Statements, prepare_source, prepare_target};

/// How long a cancelled task may take to wind down after the cancel requests were sent.
const WIND_DOWN: Duration = Duration::from_secs(5);

/// What all workers share.
pub struct Shared {
    /// The database on both sides: sessions are opened and errors tagged through it.
    pub pair: DbPair,
    pub snapshot: String,
    pub tables: Vec<TablePlan>,
    pub sched: Mutex<Sched>,
    pub notify: Notify,
    /// Cancelled on the first failure or on the caller's cancellation.
    pub stop: CancellationToken,
    pub progress: Arc<CopyProgress>,
    pub errors: Mutex<Vec<Error>>,
    pub warnings: Mutex<Vec<Warning>>,
    pub sessions_opened: AtomicU64,
    /// Per table: the ledger part number of each planned part.
    pub part_ids: Vec<Vec<usize>>,
    /// The ledger's run id when the copy keeps the ledger ([`super::CopyOptions::ledger`]).
    pub ledger_run: Option<String>,
    pub retries: u32,
    pub retry_delay: Duration,
    /// Per table: transient failures retried.
    pub table_retries: Mutex<Vec<u32>>,
    /// Per table: the error of its failed part.
    pub table_errors: Mutex<Vec<Option<String>>>,
    /// Transient failures retried, all tasks.
    pub retried: std::sync::atomic::AtomicU32,
    /// What the loaded tables' statistics come from, for this target.
    pub statistics: super::statistics::StatisticsMode,
    pub statistics_report: Mutex<super::statistics::StatisticsReport>,
    /// `--stall-timeout`: a copy part or large-object batch that moves no byte for this long
    /// is cancelled on both sides and fails as [`crate::error::ErrorKind::Stalled`] (retried
    /// like a lost connection). `None`: not watched.
    pub stall_timeout: Option<Duration>,
}

enum TaskOutcome {
    Part { table: usize, rows: u64, bytes: u64 },
    Post { unit: usize, parallel: bool },
    LargeObjects { count: u64, bytes: u64 },
    Analyzed,
}

impl Shared {
    /// The next task, waiting while other workers may still queue some; `None` when all work is
    /// done or the copy is stopping.
    async fn next_task(&self) -> Option<Task> {
        loop {
            let mut notified = pin!(self.notify.notified());
            notified.as_mut().enable();
            if self.stop.is_cancelled() {
                return None;
            }
            {
                let mut s = self.sched.lock().unwrap();
                if let Some(t) = s.pop() {
                    return Some(t);
                }
                if s.finished() {
                    return None;
                }
            }
            tokio::select! {
                _ = notified => {}
                _ = self.stop.cancelled() => return None,
            }
        }
    }

    fn task_finished(&self, task: &Task, outcome: Result<TaskOutcome>) {
        {
            let mut s = self.sched.lock().unwrap();
            s.task_ended();
            match outcome {
                Ok(TaskOutcome::Part { table, rows, bytes }) => {
                    if s.part_done(&self.tables, table, rows, bytes) {
                        self.progress.table_done();
                        let t = &self.tables[table];
                        tracing::debug!(
                            "copied {} ({} rows, {} bytes, {})",
                            t.qualified(),
                            rows,
                            bytes,
                            t.format()
                        );
                    }
                }
                Ok(TaskOutcome::Post { unit, parallel }) => s.post_done(unit, parallel),
                Ok(TaskOutcome::LargeObjects { count, bytes }) => {
                    s.large_objects += count;
                    s.large_object_bytes += bytes;
                }
                Ok(TaskOutcome::Analyzed) => {}
                Err(e) => {
                    if self.stop.is_cancelled() && e.kind() == ErrorKind::Cancelled {
                        tracing::debug!("{}: stopped: {e}", task.describe(&self.tables));
                    } else {
                        if let Task::Copy { table, .. } = task {
                            self.table_errors.lock().unwrap()[*table] = Some(e.to_string());
                        }
                        self.errors.lock().unwrap().push(e);
                        self.stop.cancel();
                    }
                }
            }
        }
        self.notify.notify_waiters();
    }
}

/// A worker's sessions, opened on first use: our own client's sessions for COPY pass-through
/// (which also run post-data jobs and ANALYZE on the target), and tokio-postgres sessions for
/// large objects, which need extended-protocol parameters.
#[derive(Default)]
struct Conns {
    src: Option<WireSession>,
    tgt: Option<WireSession>,
    lo_src: Option<Session>,
    lo_tgt: Option<Session>,
}

fn source_err(sh: &Shared) -> impl Fn(Error) -> Error + '_ {
    sh.pair.tag(Side::Source, Phase::Copy)
}

fn target_err(sh: &Shared) -> impl Fn(Error) -> Error + '_ {
    sh.pair.tag(Side::Target, Phase::Copy)
}

impl Conns {
    /// The source session, in the shared snapshot (a session left unusable by a failed task is
    /// replaced).
    async fn source(&mut self, sh: &Shared) -> Result<&mut WireSession> {
        if self.src.as_ref().is_some_and(|s| !s.is_usable()) {
            self.src = None;
        }
        if self.src.is_none() {
            let err = source_err(sh);
            let mut s = sh.pair.open_wire(Side::Source, Phase::Copy).await?;
            sh.sessions_opened.fetch_add(1, Ordering::Relaxed);
            prepare_source(&mut s).await;
            s.simple_query(&import_snapshot(&sh.snapshot))
                .await
                .map_err(|e| snapshot_lost(sh, err(e)))?;
            self.src = Some(s);
        }
        Ok(self.src.as_mut().expect("just opened"))
    }

    async fn target(&mut self, sh: &Shared) -> Result<&mut WireSession> {
        if self.tgt.as_ref().is_some_and(|s| !s.is_usable()) {
            self.tgt = None;
        }
        if self.tgt.is_none() {
            let mut s = sh.pair.open_wire(Side::Target, Phase::Copy).await?;
            sh.sessions_opened.fetch_add(1, Ordering::Relaxed);
            prepare_target(&mut s).await;
            self.tgt = Some(s);
        }
        Ok(self.tgt.as_mut().expect("just opened"))
    }

    /// Sessions for large objects, the source one in the shared snapshot.
    async fn large_objects(&mut self, sh: &Shared) -> Result<(&Session, &Session)> {
        if self.lo_src.is_none() {
            let err = source_err(sh);
            let s = sh.pair.open(Side::Source, Phase::Copy).await?;
            sh.sessions_opened.fetch_add(1, Ordering::Relaxed);
            prepare_source(&s).await;
            s.batch_execute(&import_snapshot(&sh.snapshot))
                .await
                .map_err(|e| snapshot_lost(sh, err(Error::from_pg(e))))?;
            self.lo_src = Some(s);
        }
        if self.lo_tgt.is_none() {
            let s = sh.pair.open(Side::Target, Phase::Copy).await?;
            sh.sessions_opened.fetch_add(1, Ordering::Relaxed);
            prepare_target(&s).await;
            self.lo_tgt = Some(s);
        }
        Ok((
            self.lo_src.as_ref().expect("just opened"),
            self.lo_tgt.as_ref().expect("just opened"),
        ))
    }

    /// Ends the sessions: the source's read-only transactions are rolled back, then all are
    /// closed (closing also aborts whatever transaction a failed task left on the target).
    async fn close(self) {
        if let Some(mut s) = self.src {
            if s.is_usable() {
                let _ = tokio::time::timeout(WIND_DOWN, s.simple_query("ROLLBACK")).await;
            }
            s.close().await;
        }
        if let Some(s) = self.lo_src {
            let _ = tokio::time::timeout(WIND_DOWN, s.batch_execute("ROLLBACK")).await;
        }
        if let Some(s) = self.tgt {
            s.close().await;
        }
        drop(self.lo_tgt);
    }
}

/// An error importing the copy snapshot into a new worker session: when the snapshot is gone
/// (its session on the source ended), no part can be copied in it any more, and the way on is
/// a resumed run in a new snapshot.
fn snapshot_lost(sh: &Shared, e: Error) -> Error {
    if e.sqlstate() == Some(&crate::error::SqlState::INVALID_PARAMETER_VALUE)
        || e.sqlstate() == Some(&crate::error::SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE)
    {
        e.context(format!(
            "the copy snapshot {} is gone (the source session that held it ended), so no part \
             can be copied in it again; run the same command with {}: committed parts \
             are kept and the rest is copied in a new snapshot",
            sh.snapshot,
            Setting::Resume
        ))
        .with_remedy(Remedy::Resume)
    } else {
        e.context("importing the snapshot")
    }
}

/// Whether a failed `task` may run again: its target transaction makes a second attempt
/// exact (a part with a ledger row, or TRUNCATE + COPY FREEZE; a large-object batch, which
/// rewrites its objects whole; post-data objects recorded in the ledger).
fn retryable(sh: &Shared, task: &Task) -> bool {
    match task {
        Task::Copy { table, .. } => sh.ledger_run.is_some() || sh.tables[*table].freeze,
        Task::LargeObjects(_) => true,
        Task::Post { .. } => sh.ledger_run.is_some(),
        Task::Analyze { .. } => false,
    }
}

/// Runs `task`, and again on fresh sessions after a transient failure (bounded, with backoff).
async fn run_with_retries(sh: &Shared, conns: &mut Conns, task: &Task) -> Result<TaskOutcome> {
    let mut attempt = 0u32;
    loop {
        let e = match run_task(sh, conns, task, attempt).await {
            Ok(o) => return Ok(o),
            Err(e) => e,
        };
        if attempt >= sh.retries
            || sh.stop.is_cancelled()
            || !super::retry::is_transient(&e)
            || !retryable(sh, task)
        {
            let e = if attempt > 0 {
                e.context(format!("after {attempt} retries"))
            } else {
                e
            };
            if e.kind() == ErrorKind::Stalled && sh.ledger_run.is_some() {
                // Once the network is back: committed parts are kept, the rest is copied in a
                // new snapshot.
                return Err(e.remedy(Remedy::Resume));
            }
            return Err(e);
        }
        attempt += 1;
        sh.retried.fetch_add(1, Ordering::Relaxed);
        crate::board::retried(sh.pair.source_db());
        if let Task::Copy { table, .. } = task {
            sh.table_retries.lock().unwrap()[*table] += 1;
        }
        let delay = super::retry::backoff(sh.retry_delay, attempt);
        tracing::warn!(
            "{} failed ({e}); retry {attempt} of {} in {:.1} s on new sessions",
            task.describe(&sh.tables),
            sh.retries,
            delay.as_secs_f64()
        );
        std::mem::take(conns).close().await;
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = sh.stop.cancelled() => return Err(cancelled()),
        }
    }
}

/// Runs up to `jobs` workers until the queue is empty or the copy stops. Each runs on its own
/// thread with a current-thread runtime that also drives its two connections: the COPY bytes
/// of a worker never cross threads, which avoids the cross-thread wake-ups that otherwise
/// dominate the engine's own CPU time (see benches/copy.rs). With `pool` (the run's copy
/// workers when several databases copy at once) a worker starts when it gets a permit and
/// holds it for its life; once one has ended, the queue holds nothing a new worker could
/// take, so no more start.
pub async fn run_all(
    shared: &Arc<Shared>,
    jobs: usize,
    pool: Option<&Arc<tokio::sync::Semaphore>>,
) {
    let stop = &shared.stop;
    let mut workers = tokio::task::JoinSet::new();
    let spawn = |workers: &mut tokio::task::JoinSet<()>, i: usize, permit| {
        let sh = shared.clone();
        let span = tracing::Span::current();
        workers.spawn_blocking(move || {
            // Back to the run's pool when the worker ends.
            let _permit: Option<tokio::sync::OwnedSemaphorePermit> = permit;
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .thread_name(format!("db-migrate-copy-{i}"))
                .build();
            match rt {
                Ok(rt) => {
                    let _guard = span.enter();
                    rt.block_on(run(sh));
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
    };
    let mut workers_started = 0;
    let mut ended = false;
    loop {
        let more = workers_started < jobs && !ended && !stop.is_cancelled();
        tokio::select! {
            biased;
            r = workers.join_next(), if !workers.is_empty() => {
                ended = true;
                if let Some(Err(e)) = r {
                    shared.errors.lock().unwrap().push(Error::protocol(format!(
                        "a copy worker ended abnormally: {e}"
                    )));
                    stop.cancel();
                }
            }
            permit = async {
                match pool {
                    Some(pool) => Some(pool.clone().acquire_owned().await.expect("never closed")),
                    None => None,
                }
            }, if more => {
                spawn(&mut workers, workers_started, permit);
                workers_started += 1;
            }
            // Stopped while waiting for the pool: start nothing more.
            _ = stop.cancelled(), if more => {}
            else => break,
        }
    }
}

/// One worker: takes tasks until there are none left or the copy stops.
pub async fn run(sh: Arc<Shared>) {
    let mut conns = Conns::default();
    while let Some(task) = sh.next_task().await {
        let started = std::time::Instant::now();
        let outcome = run_with_retries(&sh, &mut conns, &task).await;
        tracing::debug!(
            "{} {} in {:.2} s",
            task.describe(&sh.tables),
            if outcome.is_ok() { "done" } else { "failed" },
            started.elapsed().as_secs_f64()
        );
        let failed = outcome.is_err();
        sh.task_finished(&task, outcome);
        if failed {
            // The copy is stopping; closing the sessions ends any transaction the failed task
            // left open.
            break;
        }
    }
    conns.close().await;
}

/// What [`guarded`] watches for a stall: the task's clock, and how to name the task in the
/// error.
struct Watch<'a> {
    activity: &'a Activity,
    object: String,
}

/// Runs `fut` unless the copy stops first or, with `watch`, the task stalls
/// ([`Shared::stall_timeout`]). On stop, runs `cancel` (which asks the servers to cancel what
/// the task's sessions run), lets `fut` wind down briefly and returns [`cancelled`]. On a
/// stall, runs `cancel` too but does not wait for `fut` (it waits on a flow that moves
/// nothing; its sessions stay marked busy and are closed, never reused) and returns the stall
/// error, which names the side `cancel` could not reach.
async fn guarded<T>(
    sh: &Shared,
    cancel: impl Future<Output = Vec<Side>>,
    watch: Option<Watch<'_>>,
    fut: impl Future<Output = Result<T>>,
) -> Result<T> {
    let mut fut = pin!(fut);
    let stalled = async {
        match &watch {
            Some(w) => crate::stall::stalled(w.activity, sh.stall_timeout).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        r = &mut fut => r,
        _ = sh.stop.cancelled() => {
            let _ = tokio::time::timeout(WIND_DOWN, cancel).await;
            let _ = tokio::time::timeout(WIND_DOWN, &mut fut).await;
            Err(cancelled())
        }
        idle = stalled => {
            let w = watch.expect("only a watched task stalls");
            tracing::warn!(
                "{}: no byte moved for {} s ({}); cancelling it on both sides",
                w.object,
                idle.as_secs(),
                Setting::StallTimeout
            );
            let unreachable = cancel.await;
            let side = match unreachable[..] {
                [side] => Some(side),
                _ => None,
            };
            let database = match side {
                Some(Side::Source) => sh.pair.source_db(),
                _ => sh.pair.target_db(),
            };
            Err(crate::stall::error(idle, side)
                .with_database(database)
                .with_object(w.object)
                .with_phase(Phase::Copy))
        }
    }
}

/// Cancels whatever the given sessions of ours run, each request bounded by [`WIND_DOWN`];
/// returns the sides whose server could not be reached for it.
async fn cancel_all(cancellers: Vec<(Side, Canceller)>) -> Vec<Side> {
    let cancels = cancellers.iter().map(|(side, c)| async move {
        match tokio::time::timeout(WIND_DOWN, c.cancel()).await {
            Ok(Ok(())) => None,
            _ => Some(*side),
        }
    });
    futures::future::join_all(cancels)
        .await
        .into_iter()
        .flatten()
        .collect()
}

/// `attempt`: how many times `task` failed before (0 on its first run); a part records it in
/// the ledger with its rows, for `db-migrate status`.
async fn run_task(
    sh: &Shared,
    conns: &mut Conns,
    task: &Task,
    attempt: u32,
) -> Result<TaskOutcome> {
    match task {
        Task::Copy { table, part } => run_copy(sh, conns, (*table, *part), attempt).await,
        Task::Post {
            unit,
            parallel,
            jobs,
        } => {
            run_post(sh, conns, jobs, attempt > 0).await?;
            Ok(TaskOutcome::Post {
                unit: *unit,
                parallel: *parallel,
            })
        }
        Task::LargeObjects(oids) => run_large_objects(sh, conns, oids).await,
        Task::Analyze {
            schema,
            table,
            only,
        } => {
            let qualified = crate::sql::qualified(schema, table);
            let r = run_statistics(sh, conns, schema, table, *only).await;
            record_statistics(sh, &qualified, r)?;
            Ok(TaskOutcome::Analyzed)
        }
    }
}

/// Copies one part of a table; on a retry, first asks the ledger whether the part committed
/// already (the lost connection may have eaten the answer to a COMMIT that went through).
async fn run_copy(
    sh: &Shared,
    conns: &mut Conns,
    (table, part): (usize, usize),
    attempt: u32,
) -> Result<TaskOutcome> {
    let retry = attempt > 0;
    if retry && let Some((rows, bytes)) = committed_part(sh, conns, table, part).await? {
        // The lost connection ate the answer to a COMMIT that went through.
        return Ok(TaskOutcome::Part { table, rows, bytes });
    }
    conns.source(sh).await?;
    conns.target(sh).await?;
    let (src, tgt) = (conns.src.as_mut().unwrap(), conns.tgt.as_mut().unwrap());
    let cancel = cancel_all(vec![
        (Side::Source, src.canceller()),
        (Side::Target, tgt.canceller()),
    ]);
    let activity = Activity::new();
    let watch = Watch {
        activity: &activity,
        object: sh.tables[table].describe_part(part),
    };
    let (rows, bytes) = guarded(
        sh,
        cancel,
        Some(watch),
        copy_part(sh, src, tgt, (table, part), attempt, &activity),
    )
    .await?;
    Ok(TaskOutcome::Part { table, rows, bytes })
}

/// Runs one unit of post-data jobs (indexes, constraints, triggers) on the target.
async fn run_post(
    sh: &Shared,
    conns: &mut Conns,
    jobs: &[crate::copy::PostDataJob],
    retry: bool,
) -> Result<()> {
    let tgt = conns.target(sh).await?;
    let cancel = cancel_all(vec![(Side::Target, tgt.canceller())]);
    let ledger = sh.ledger_run.as_deref();
    // Not watched: an index build moves no byte for as long as it takes.
    guarded(
        sh,
        cancel,
        None,
        run_jobs(tgt, sh.pair.target_db(), jobs, ledger, retry, &sh.warnings),
    )
    .await
}

/// Copies one batch of large objects over the pair of sessions kept for them.
async fn run_large_objects(sh: &Shared, conns: &mut Conns, oids: &[u32]) -> Result<TaskOutcome> {
    let (src, tgt) = conns.large_objects(sh).await?;
    let progress = sh.progress.clone();
    let activity = Arc::new(Activity::new());
    let on_bytes = {
        let activity = activity.clone();
        move |n: u64| {
            progress.add_bytes(n);
            activity.moved();
        }
    };
    let cancel = async {
        let (s, t) = futures::future::join(
            tokio::time::timeout(WIND_DOWN, src.cancel()),
            tokio::time::timeout(WIND_DOWN, tgt.cancel()),
        )
        .await;
        let mut unreachable = Vec::new();
        if !matches!(s, Ok(Ok(()))) {
            unreachable.push(Side::Source);
        }
        if !matches!(t, Ok(Ok(()))) {
            unreachable.push(Side::Target);
        }
        unreachable
    };
    let watch = Watch {
        activity: &activity,
        object: format!("a batch of {} large objects", oids.len()),
    };
    let bytes = guarded(
        sh,
        cancel,
        Some(watch),
        large_objects::copy_batch(
            src,
            tgt,
            (sh.pair.source_db(), sh.pair.target_db()),
            oids,
            sh.ledger_run
                .as_deref()
                .map(|run| crate::ledger::parts::large_objects_sql(run, oids)),
            &on_bytes,
        ),
    )
    .await?;
    Ok(TaskOutcome::LargeObjects {
        count: oids.len() as u64,
        bytes,
    })
}

/// Restores a table's statistics from the source, or has the target ANALYZE it, as
/// `--statistics` says; the outcome (or error) for [`record_statistics`] to judge.
async fn run_statistics(
    sh: &Shared,
    conns: &mut Conns,
    schema: &str,
    table: &str,
    only: bool,
) -> Result<super::statistics::TableStatistics> {
    use super::statistics::{self, StatisticsMode};
    if sh.statistics == StatisticsMode::Restore {
        let src = conns.source(sh).await?;
        let src_cancel = src.canceller();
        // Both sessions are needed at once: the source's is taken out while it runs.
        let mut src_session = conns.src.take().expect("just opened");
        let tgt = conns.target(sh).await?;
        let cancel = cancel_all(vec![
            (Side::Source, src_cancel),
            (Side::Target, tgt.canceller()),
        ]);
        let r = guarded(
            sh,
            cancel,
            None,
            statistics::restore(&mut src_session, tgt, schema, table, only),
        )
        .await;
        // A failed source query aborts the session's snapshot transaction: the next
        // task opens a new one.
        if r.is_ok() {
            conns.src = Some(src_session);
        }
        r
    } else {
        let tgt = conns.target(sh).await?;
        let cancel = cancel_all(vec![(Side::Target, tgt.canceller())]);
        guarded(
            sh,
            cancel,
            None,
            statistics::analyze(tgt, schema, table, only),
        )
        .await
    }
}

/// Files a table's statistics outcome: notes in the debug log, refusals and failures as
/// warnings (statistics are an optimisation), the counts in the run's statistics report.
/// Only a cancellation is an error.
fn record_statistics(
    sh: &Shared,
    qualified: &str,
    r: Result<super::statistics::TableStatistics>,
) -> Result<()> {
    match r {
        Ok(o) => {
            if !o.notes.is_empty() {
                tracing::debug!("statistics of table {qualified}: {}", o.notes.join("; "));
            }
            if !o.refused.is_empty() {
                sh.warnings.lock().unwrap().push(
                    Warning::data(format!(
                        "statistics of table {qualified}: {}",
                        o.refused.join("; ")
                    ))
                    .on(format!("table {qualified}")),
                );
            }
            sh.statistics_report.lock().unwrap().add(&o);
        }
        Err(e) if e.kind() == ErrorKind::Cancelled => return Err(e),
        // Statistics are an optimisation: a failure is a warning.
        Err(e) => sh.warnings.lock().unwrap().push(
            Warning::data(format!(
                "the statistics of table {qualified} could not be set on the target: {e}"
            ))
            .on(format!("table {qualified}")),
        ),
    }
    Ok(())
}

/// Whether the ledger says part `part` of table `table` committed; then its (rows, bytes).
async fn committed_part(
    sh: &Shared,
    conns: &mut Conns,
    table: usize,
    part: usize,
) -> Result<Option<(u64, u64)>> {
    if sh.ledger_run.is_none() {
        return Ok(None);
    }
    let t = &sh.tables[table];
    let id = sh.part_ids[table][part];
    let tgt = conns.target(sh).await?;
    let r = tgt
        .simple_query(&crate::ledger::parts::part_committed_sql(
            &t.schema, &t.name, id,
        ))
        .await
        .map_err(target_err(sh))?;
    Ok(match (r.get(0, "rows"), r.get(0, "bytes")) {
        (Some(rows), Some(bytes)) => Some((rows.parse().unwrap_or(0), bytes.parse().unwrap_or(0))),
        _ => None,
    })
}

/// Copies one part of one table: `COPY ... TO STDOUT` on the source passed through into
/// `COPY ... FROM STDIN` on the target ([`pass_through`]). Single-part tables whose target may
/// be truncated are loaded as `BEGIN; TRUNCATE; COPY ... FREEZE; COMMIT`; other parts run as
/// one autocommit COPY each. Returns (rows, bytes) once the target committed. `activity` is
/// touched whenever COPY data reached the target (the stall watchdog's measure).
async fn copy_part(
    sh: &Shared,
    src: &mut WireSession,
    tgt: &mut WireSession,
    (table, part): (usize, usize),
    retries: u32,
    activity: &Activity,
) -> Result<(u64, u64)> {
    let t = &sh.tables[table];
    let what = t.describe_part(part);
    let locate = |e: Error| {
        let db = match e.side() {
            Some(Side::Source) => sh.pair.source_db(),
            _ => sh.pair.target_db(),
        };
        e.with_database(db)
            .with_object(what.clone())
            .with_phase(crate::error::Phase::Copy)
    };
    let out_sql = t.copy_out_sql(part);
    let in_sql = t.copy_in_sql();
    // With a ledger, the part's COPY and its ledger row commit in one transaction.
    let mut prelude = if t.freeze {
        Some(format!("BEGIN; TRUNCATE ONLY {}", t.qualified()))
    } else if sh.ledger_run.is_some() {
        Some("BEGIN".to_string())
    } else {
        None
    };
    // Generated columns or CHECKs calling a SQL function that needs its owner's search_path:
    // set for this part's transaction only.
    let path = t
        .search_path
        .as_deref()
        .and_then(|p| crate::sql::set_clause(&format!("search_path={p}")));
    if let Some(set) = &path {
        prelude = Some(format!(
            "{}; SET LOCAL {set}",
            prelude.as_deref().unwrap_or("BEGIN")
        ));
    }
    let progress = &sh.progress;
    let _copying = progress.copy_started();
    let (mut last_bytes, mut last_messages) = (0, 0);
    let stats = pass_through(
        src,
        &out_sql,
        tgt,
        &in_sql,
        prelude.as_deref(),
        |bytes, messages| {
            activity.moved();
            progress.add_bytes(bytes - last_bytes);
            progress.add_rows(messages - last_messages);
            (last_bytes, last_messages) = (bytes, messages);
        },
    )
    .await
    .map_err(locate)?;
    if sh.ledger_run.is_some() {
        let record = crate::ledger::parts::part_copied_sql(
            &t.schema,
            &t.name,
            sh.part_ids[table][part],
            stats.rows,
            stats.bytes,
            &sh.snapshot,
            retries,
        );
        let r = tgt.simple_query(&format!("{record}; COMMIT")).await;
        if r.is_err() && tgt.is_usable() {
            let _ = tgt.simple_query("ROLLBACK").await;
        }
        r.map_err(|e| locate(e.with_side(Side::Target)))?;
    } else if t.freeze || path.is_some() {
        tgt.simple_query("COMMIT")
            .await
            .map_err(|e| locate(e.with_side(Side::Target)))?;
    }
    progress.correct_rows(stats.messages, stats.rows);
    Ok((stats.rows, stats.bytes))
}
