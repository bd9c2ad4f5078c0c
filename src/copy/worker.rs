//! Workers: session setup, and the tasks they run (copy parts, post-data jobs, large-object
//! batches, ANALYZE), each interruptible by the stop token.

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::large_objects;
use super::pipe::{PumpError, pump};
use super::plan::TablePlan;
use super::progress::Progress;
use super::sched::{Sched, Task};
use crate::conn::{ConnInfo, Session, connect};
use crate::error::{Error, ErrorKind, Result, Side};
use crate::sql::quote_literal;

/// How long a cancelled task may take to wind down after the cancel requests were sent.
const WIND_DOWN: Duration = Duration::from_secs(5);

/// `maintenance_work_mem` for the target sessions (index builds in post-data), unless the
/// server's setting is already higher.
pub const MAINTENANCE_WORK_MEM: &str = "256MB";

/// Settings of every source session: no timeouts that would kill a long COPY or the idle
/// coordinator, unambiguous text output (ISO dates, exact floats, UTC), heap order (no
/// synchronized scans), and an error rather than silently filtered rows under row-level
/// security (as pg_dump does).
const SOURCE_SETTINGS: &[&str] = &[
    "SET statement_timeout = 0",
    "SET lock_timeout = 0",
    "SET idle_in_transaction_session_timeout = 0",
    "SET extra_float_digits = 3",
    "SET DateStyle = ISO",
    "SET IntervalStyle = postgres",
    "SET TimeZone = 'UTC'",
    "SET synchronize_seqscans = off",
    "SET row_security = off",
    "SET client_min_messages = warning",
];

/// Settings of every target session: bulk load (`synchronous_commit = off`), no timeouts, the
/// same text conventions as the source, and an error rather than rejected rows under RLS.
const TARGET_SETTINGS: &[&str] = &[
    "SET statement_timeout = 0",
    "SET lock_timeout = 0",
    "SET idle_in_transaction_session_timeout = 0",
    "SET synchronous_commit = off",
    "SET DateStyle = ISO",
    "SET IntervalStyle = postgres",
    "SET TimeZone = 'UTC'",
    "SET extra_float_digits = 3",
    "SET xmloption = content",
    "SET row_security = off",
    "SET client_min_messages = warning",
];

async fn apply_settings(s: &Session, settings: &[&str], extra: &[String]) {
    let mut all: Vec<String> = settings.iter().map(|s| s.to_string()).collect();
    all.extend(extra.iter().cloned());
    if s.batch_execute(&all.join("; ")).await.is_ok() {
        return;
    }
    // One of them is not accepted here (old server, pooler): apply what can be applied.
    for stmt in &all {
        if let Err(e) = s.batch_execute(stmt).await {
            tracing::debug!("{stmt}: {}", Error::from_pg(e));
        }
    }
}

/// Prepares a source session (settings only; the caller opens the transaction).
pub async fn prepare_source(s: &Session) {
    let mut extra = Vec::new();
    if s.server_version_num() >= 170000 {
        extra.push("SET transaction_timeout = 0".to_string());
    }
    apply_settings(s, SOURCE_SETTINGS, &extra).await;
}

/// Prepares a target session. Returns whether `session_replication_role = replica` could be
/// set (superuser, or a role granted SET on it): then no ordinary trigger and no foreign-key
/// check fires during the load.
pub async fn prepare_target(s: &Session) -> bool {
    let mut extra = vec![format!(
        "SELECT CASE WHEN pg_catalog.pg_size_bytes(pg_catalog.current_setting('maintenance_work_mem'))
                     < pg_catalog.pg_size_bytes({m})
                THEN pg_catalog.set_config('maintenance_work_mem', {m}, false) END",
        m = quote_literal(MAINTENANCE_WORK_MEM)
    )];
    if s.server_version_num() >= 170000 {
        extra.push("SET transaction_timeout = 0".to_string());
    }
    apply_settings(s, TARGET_SETTINGS, &extra).await;
    s.batch_execute("SET session_replication_role = replica")
        .await
        .is_ok()
}

/// What all workers share.
pub struct Shared {
    pub source: ConnInfo,
    pub target: ConnInfo,
    pub source_db: String,
    pub target_db: String,
    pub snapshot: String,
    pub tables: Vec<TablePlan>,
    pub sched: Mutex<Sched>,
    pub notify: Notify,
    /// Cancelled on the first failure or on the caller's cancellation.
    pub stop: CancellationToken,
    pub progress: Arc<Progress>,
    pub errors: Mutex<Vec<Error>>,
    pub warnings: Mutex<Vec<String>>,
    pub sessions_opened: AtomicU64,
}

/// The Cancelled error.
pub fn cancelled() -> Error {
    Error::new(ErrorKind::Cancelled, "the data copy was cancelled")
}

enum Outcome {
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

    fn task_finished(&self, task: &Task, outcome: Result<Outcome>) {
        {
            let mut s = self.sched.lock().unwrap();
            s.task_ended();
            match outcome {
                Ok(Outcome::Part { table, rows, bytes }) => {
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
                Ok(Outcome::Post { unit, parallel }) => s.post_done(unit, parallel),
                Ok(Outcome::LargeObjects { count, bytes }) => {
                    s.large_objects += count;
                    s.large_object_bytes += bytes;
                }
                Ok(Outcome::Analyzed) => {}
                Err(e) => {
                    if self.stop.is_cancelled() && e.kind() == ErrorKind::Cancelled {
                        tracing::debug!("{}: stopped: {e}", task.describe(&self.tables));
                    } else {
                        self.errors.lock().unwrap().push(e);
                        self.stop.cancel();
                    }
                }
            }
        }
        self.notify.notify_waiters();
    }
}

/// A worker's two sessions, opened on first use.
struct Conns {
    src: Option<Session>,
    tgt: Option<Session>,
}

impl Conns {
    async fn source(&mut self, sh: &Shared) -> Result<()> {
        if self.src.is_some() {
            return Ok(());
        }
        let err = |e: Error| {
            e.with_side(Side::Source)
                .with_database(&sh.source_db)
                .with_phase("copy")
        };
        let s = connect(&sh.source, Some(&sh.source_db))
            .await
            .map_err(err)?;
        sh.sessions_opened.fetch_add(1, Ordering::Relaxed);
        prepare_source(&s).await;
        s.batch_execute(&format!(
            "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET TRANSACTION SNAPSHOT {}",
            quote_literal(&sh.snapshot)
        ))
        .await
        .map_err(|e| err(Error::from_pg(e)).context("importing the snapshot"))?;
        self.src = Some(s);
        Ok(())
    }

    async fn target(&mut self, sh: &Shared) -> Result<()> {
        if self.tgt.is_some() {
            return Ok(());
        }
        let s = connect(&sh.target, Some(&sh.target_db))
            .await
            .map_err(|e| {
                e.with_side(Side::Target)
                    .with_database(&sh.target_db)
                    .with_phase("copy")
            })?;
        sh.sessions_opened.fetch_add(1, Ordering::Relaxed);
        prepare_target(&s).await;
        self.tgt = Some(s);
        Ok(())
    }

    /// Ends the sessions: the source's read-only transaction is rolled back, then both are
    /// closed (closing also aborts whatever transaction a failed task left on the target).
    async fn close(self) {
        if let Some(s) = self.src {
            let _ = tokio::time::timeout(WIND_DOWN, s.batch_execute("ROLLBACK")).await;
        }
        drop(self.tgt);
    }
}

/// One worker: takes tasks until there are none left or the copy stops.
pub async fn run(sh: Arc<Shared>) {
    let mut conns = Conns {
        src: None,
        tgt: None,
    };
    while let Some(task) = sh.next_task().await {
        let started = std::time::Instant::now();
        let outcome = run_task(&sh, &mut conns, &task).await;
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

/// Runs `fut` unless the copy stops first; on stop, asks the servers to cancel whatever
/// `sessions` are running, lets `fut` wind down briefly and returns [`cancelled`].
async fn guarded<T>(
    sh: &Shared,
    sessions: &[&Session],
    fut: impl Future<Output = Result<T>>,
) -> Result<T> {
    let mut fut = pin!(fut);
    tokio::select! {
        r = &mut fut => r,
        _ = sh.stop.cancelled() => {
            let cancels = sessions.iter().map(|s| s.cancel());
            let _ = tokio::time::timeout(WIND_DOWN, futures::future::join_all(cancels)).await;
            let _ = tokio::time::timeout(WIND_DOWN, &mut fut).await;
            Err(cancelled())
        }
    }
}

async fn run_task(sh: &Shared, conns: &mut Conns, task: &Task) -> Result<Outcome> {
    match task {
        Task::Copy { table, part } => {
            conns.source(sh).await?;
            conns.target(sh).await?;
            let (src, tgt) = (conns.src.as_ref().unwrap(), conns.tgt.as_ref().unwrap());
            let t = &sh.tables[*table];
            let (rows, bytes) = guarded(sh, &[src, tgt], copy_part(sh, src, tgt, t, *part)).await?;
            Ok(Outcome::Part {
                table: *table,
                rows,
                bytes,
            })
        }
        Task::Post {
            unit,
            parallel,
            jobs,
        } => {
            conns.target(sh).await?;
            let tgt = conns.tgt.as_ref().unwrap();
            guarded(sh, &[tgt], run_jobs(tgt, &sh.target_db, jobs)).await?;
            Ok(Outcome::Post {
                unit: *unit,
                parallel: *parallel,
            })
        }
        Task::LargeObjects(oids) => {
            conns.source(sh).await?;
            conns.target(sh).await?;
            let (src, tgt) = (conns.src.as_ref().unwrap(), conns.tgt.as_ref().unwrap());
            let progress = sh.progress.clone();
            let on_bytes = move |n: u64| progress.add_bytes(n);
            let bytes = guarded(
                sh,
                &[src, tgt],
                large_objects::copy_batch(src, tgt, &sh.source_db, &sh.target_db, oids, &on_bytes),
            )
            .await?;
            Ok(Outcome::LargeObjects {
                count: oids.len() as u64,
                bytes,
            })
        }
        Task::Analyze { sql, describe } => {
            conns.target(sh).await?;
            let tgt = conns.tgt.as_ref().unwrap();
            let r = guarded(sh, &[tgt], async {
                tgt.batch_execute(sql).await.map_err(Error::from_pg)
            })
            .await;
            match r {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::Cancelled => return Err(e),
                // Statistics are an optimisation: a failed ANALYZE is a warning.
                Err(e) => sh
                    .warnings
                    .lock()
                    .unwrap()
                    .push(format!("{describe} failed on the target: {e}")),
            }
            Ok(Outcome::Analyzed)
        }
    }
}

/// Runs post-data jobs in order on `tgt`.
pub async fn run_jobs(tgt: &Session, target_db: &str, jobs: &[super::PostDataJob]) -> Result<()> {
    for job in jobs {
        for stmt in &job.statements {
            tgt.batch_execute(stmt).await.map_err(|e| {
                Error::from_pg(e)
                    .with_side(Side::Target)
                    .with_database(target_db)
                    .with_object(job.describe.clone())
                    .with_phase("post-data")
            })?;
        }
    }
    Ok(())
}

/// Copies one part of one table: `COPY ... TO STDOUT` on the source streamed into
/// `COPY ... FROM STDIN` on the target. Single-part tables whose target may be truncated are
/// loaded as `BEGIN; TRUNCATE; COPY ... FREEZE; COMMIT`; other parts run as one autocommit
/// COPY each. Returns (rows, bytes) once the target committed.
async fn copy_part(
    sh: &Shared,
    src: &Session,
    tgt: &Session,
    t: &TablePlan,
    part: usize,
) -> Result<(u64, u64)> {
    let what = t.describe_part(part);
    let serr = |e: tokio_postgres::Error| {
        Error::from_pg(e)
            .with_side(Side::Source)
            .with_database(&sh.source_db)
            .with_object(what.clone())
            .with_phase("copy")
    };
    let terr = |e: tokio_postgres::Error| {
        Error::from_pg(e)
            .with_side(Side::Target)
            .with_database(&sh.target_db)
            .with_object(what.clone())
            .with_phase("copy")
    };
    let out_sql = t.copy_out_sql(part);
    let in_sql = t.copy_in_sql();
    let target_start = async {
        if t.freeze {
            tgt.batch_execute(&format!("BEGIN; TRUNCATE ONLY {}", t.qualified()))
                .await?;
        }
        tgt.copy_in::<_, Bytes>(in_sql.as_str()).await
    };
    // Both ends start at once (one round trip less per table).
    let (stream, sink) = tokio::join!(src.copy_out(out_sql.as_str()), target_start);
    let stream = stream.map_err(serr)?;
    let sink = match sink {
        Ok(s) => s,
        Err(e) => {
            // The source is already streaming this part: stop it rather than drain it.
            drop(stream);
            let _ = tokio::time::timeout(WIND_DOWN, src.cancel()).await;
            return Err(terr(e));
        }
    };
    let mut stream = pin!(stream);
    let mut sink = pin!(sink);
    let progress = &sh.progress;
    let stats = pump(stream.as_mut(), &mut sink.as_mut(), |bytes, messages| {
        progress.add_bytes(bytes);
        progress.add_rows(messages);
    })
    .await
    .map_err(|e| match e {
        PumpError::Source(e) => serr(e),
        PumpError::Sink(e) => terr(e),
    });
    let stats = match stats {
        Ok(s) => s,
        Err(e) => {
            if e.side() == Some(Side::Target) {
                let _ = tokio::time::timeout(WIND_DOWN, src.cancel()).await;
            }
            return Err(e);
        }
    };
    let rows = sink.as_mut().finish().await.map_err(terr)?;
    if t.freeze {
        tgt.batch_execute("COMMIT").await.map_err(terr)?;
    }
    progress.correct_rows(stats.messages, rows);
    Ok((rows, stats.bytes))
}
