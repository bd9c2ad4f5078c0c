//! Progress of one database's verification, shown like the copy's: a live bar on a terminal,
//! periodic log lines otherwise, nothing with `--json -`.

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio_util::sync::CancellationToken;

use crate::copy::ProgressMode;
use crate::copy::progress::LOG_INTERVAL;

/// Tables compared so far and their rows (the larger side's).
#[derive(Debug)]
pub struct Progress {
    tables_total: u64,
    tables_done: AtomicU64,
    rows: AtomicU64,
}

impl Progress {
    pub fn new(tables_total: u64) -> Self {
        Progress {
            tables_total,
            tables_done: AtomicU64::new(0),
            rows: AtomicU64::new(0),
        }
    }

    /// Rows of a part of a table compared (the table is not done yet).
    pub fn rows_done(&self, rows: u64) {
        self.rows.fetch_add(rows, Ordering::Relaxed);
    }

    pub fn table_done(&self, rows: u64) {
        self.rows.fetch_add(rows, Ordering::Relaxed);
        self.tables_done.fetch_add(1, Ordering::Relaxed);
    }

    fn read(&self) -> (u64, u64) {
        (
            self.tables_done.load(Ordering::Relaxed),
            self.rows.load(Ordering::Relaxed),
        )
    }
}

/// Shows `progress` until `done` is cancelled; await the task after cancelling.
pub fn spawn(
    mode: ProgressMode,
    progress: Arc<Progress>,
    database: String,
    done: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    let terminal = std::io::stderr().is_terminal();
    tokio::spawn(async move {
        match (mode, terminal) {
            (ProgressMode::Quiet, _) => done.cancelled().await,
            (ProgressMode::Auto, true) => bar(progress, database, done).await,
            _ => log_lines(progress, database, done).await,
        }
    })
}

async fn bar(progress: Arc<Progress>, database: String, done: CancellationToken) {
    let pb = ProgressBar::with_draw_target(
        Some(progress.tables_total.max(1)),
        ProgressDrawTarget::stderr(),
    );
    let style = ProgressStyle::with_template(
        "{prefix} verify [{elapsed_precise}] {wide_bar} {pos}/{len} tables {msg}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    pb.set_style(style);
    pb.set_prefix(database);
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    loop {
        let (tables, rows) = progress.read();
        pb.set_position(tables);
        pb.set_message(format!("{rows} rows"));
        tokio::select! {
            _ = tick.tick() => {}
            _ = done.cancelled() => break,
        }
    }
    pb.finish_and_clear();
}

async fn log_lines(progress: Arc<Progress>, database: String, done: CancellationToken) {
    let start = Instant::now();
    let mut tick =
        tokio::time::interval_at(tokio::time::Instant::now() + LOG_INTERVAL, LOG_INTERVAL);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = done.cancelled() => break,
        }
        let (tables, rows) = progress.read();
        tracing::info!(
            target: "db_migrate::verify",
            database = %database,
            tables_done = tables,
            tables_total = progress.tables_total,
            rows,
            elapsed_seconds = start.elapsed().as_secs(),
            "verify progress"
        );
    }
}
