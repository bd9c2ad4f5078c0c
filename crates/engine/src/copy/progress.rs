//! Progress of one database's copy: shared counters updated by the workers, shown as a live bar
//! on a terminal, as periodic structured log lines otherwise, or not at all.
//!
//! While parts are being copied and no byte moved for more than
//! [`crate::stall::SHOW_STALLED_AFTER`], the line says "stalled for N s" instead of a rate of
//! 0 and an ETA of 0, which read like a finished copy: an operator sees the stall long before
//! the watchdog (`--stall-timeout`) acts on it.

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio_util::sync::CancellationToken;

use super::ProgressMode;

/// Interval of the log lines without a terminal.
pub const LOG_INTERVAL: Duration = Duration::from_secs(10);

/// Counters shared by the workers. Rows are counted live from COPY messages and corrected to the
/// target's count when a part commits.
#[derive(Debug, Default)]
pub struct Progress {
    pub bytes: AtomicU64,
    pub rows: AtomicU64,
    pub tables_done: AtomicU64,
    pub tables_total: u64,
    /// Estimated bytes to copy (sum of source table sizes).
    pub est_bytes: u64,
    /// When a byte last moved, any part.
    moved: crate::stall::Activity,
    /// Parts being copied now: between them (index builds, ANALYZE) no byte is expected, and
    /// no stall is shown.
    copying: AtomicU64,
}

/// A part being copied: counted in [`Progress`] until dropped.
pub struct Copying<'a>(&'a Progress);

impl Drop for Copying<'_> {
    fn drop(&mut self) {
        self.0.copying.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Progress {
    /// Counters for a copy of `tables_total` tables of about `est_bytes`.
    pub fn new(tables_total: u64, est_bytes: u64) -> Progress {
        Progress {
            tables_total,
            est_bytes,
            ..Default::default()
        }
    }

    pub fn add_bytes(&self, n: u64) {
        self.bytes.fetch_add(n, Ordering::Relaxed);
        self.moved.moved();
    }

    /// A part starts (which counts as movement: the time before it was not a stall).
    pub fn copy_started(&self) -> Copying<'_> {
        self.copying.fetch_add(1, Ordering::Relaxed);
        self.moved.moved();
        Copying(self)
    }

    /// Seconds without a byte while parts are being copied, once long enough to show
    /// ([`crate::stall::shown_stalled`]).
    pub fn stalled_for(&self) -> Option<u64> {
        if self.copying.load(Ordering::Relaxed) == 0 {
            return None;
        }
        crate::stall::shown_stalled(self.moved.idle())
    }

    pub fn add_rows(&self, n: u64) {
        self.rows.fetch_add(n, Ordering::Relaxed);
    }

    /// Replaces `counted` live rows by the `exact` count the target reported.
    pub fn correct_rows(&self, counted: u64, exact: u64) {
        self.rows
            .fetch_add(exact.wrapping_sub(counted), Ordering::Relaxed);
    }

    pub fn table_done(&self) {
        self.tables_done.fetch_add(1, Ordering::Relaxed);
    }

    fn snapshot(&self) -> (u64, u64, u64) {
        (
            self.bytes.load(Ordering::Relaxed),
            self.rows.load(Ordering::Relaxed),
            self.tables_done.load(Ordering::Relaxed),
        )
    }
}

/// Shows `progress` until `done` is cancelled. Returns the task to await after cancelling.
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
        Some(progress.est_bytes.max(1)),
        ProgressDrawTarget::stderr(),
    );
    let style = ProgressStyle::with_template(
        "{prefix} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta} {msg}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    // While stalled: no rate and no ETA, the stall in the message instead.
    let stalled_style = ProgressStyle::with_template(
        "{prefix} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {msg}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    let mut showing_stall = false;
    pb.set_style(style.clone());
    pb.set_prefix(database);
    pb.enable_steady_tick(Duration::from_millis(250));
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    loop {
        let (bytes, rows, tables) = progress.snapshot();
        if bytes > pb.length().unwrap_or(0) {
            pb.set_length(bytes);
        }
        pb.set_position(bytes);
        let counts = format!("{rows} rows, {tables}/{} tables", progress.tables_total);
        let stalled = progress.stalled_for();
        if stalled.is_some() != showing_stall {
            showing_stall = stalled.is_some();
            pb.set_style(if showing_stall {
                stalled_style.clone()
            } else {
                style.clone()
            });
        }
        pb.set_message(match stalled {
            Some(secs) => format!("stalled for {secs} s, {counts}"),
            None => counts,
        });
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
    let mut last = (0u64, Instant::now());
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = done.cancelled() => break,
        }
        let (bytes, rows, tables) = progress.snapshot();
        let now = Instant::now();
        let rate = (bytes.saturating_sub(last.0)) as f64
            / now.duration_since(last.1).as_secs_f64().max(1e-3);
        last = (bytes, now);
        let eta = if rate > 0.0 && progress.est_bytes > bytes {
            ((progress.est_bytes - bytes) as f64 / rate).round() as u64
        } else {
            0
        };
        if let Some(secs) = progress.stalled_for() {
            tracing::info!(
                target: "db_migrate::copy",
                database = %database,
                bytes,
                est_bytes = progress.est_bytes,
                rows,
                tables_done = tables,
                tables_total = progress.tables_total,
                stalled_seconds = secs,
                elapsed_seconds = start.elapsed().as_secs(),
                "copy progress: stalled for {secs} s"
            );
            continue;
        }
        tracing::info!(
            target: "db_migrate::copy",
            database = %database,
            bytes,
            est_bytes = progress.est_bytes,
            rows,
            tables_done = tables,
            tables_total = progress.tables_total,
            mib_per_sec = format!("{:.1}", rate / (1024.0 * 1024.0)),
            eta_seconds = eta,
            elapsed_seconds = start.elapsed().as_secs(),
            "copy progress"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_stall_is_shown_between_parts_nor_right_after_a_part_starts() {
        let p = Progress::default();
        assert_eq!(p.stalled_for(), None, "no part running");
        let part = p.copy_started();
        assert_eq!(p.stalled_for(), None, "a part that just started");
        p.add_bytes(10);
        assert_eq!(p.stalled_for(), None);
        drop(part);
        assert_eq!(p.copying.load(Ordering::Relaxed), 0);
    }
}
