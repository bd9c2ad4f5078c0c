//! The one progress display of a database's long stages (the copy, verification): a live bar on
//! a terminal, a structured log line every [`LOG_INTERVAL`] otherwise, nothing when quiet.
//!
//! A stage keeps its own counters and says what they read through [`Gauge`]; how they are
//! shown (bar or log line, rate and ETA, "stalled for N s" instead of a rate of 0 and an ETA
//! of 0, which read like a finished copy) is written once, here.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio_util::sync::CancellationToken;

/// Interval of the log lines without a terminal.
pub const LOG_INTERVAL: Duration = Duration::from_secs(10);

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProgressMode {
    /// A live bar when stderr is a terminal, else periodic log lines.
    #[default]
    Auto,
    /// Periodic structured log lines (every [`LOG_INTERVAL`]).
    Log,
    /// Nothing (`--json -`).
    Quiet,
}

/// What a stage's progress is measured in: the bar's position and length, and whether a rate
/// and an ETA mean something.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Bytes (the copy): shown as sizes, with a rate and an ETA.
    Bytes,
    /// Tables (verification): shown as counts, without a rate.
    Tables,
}

/// One reading of a stage's counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reading {
    /// How far, in the gauge's [`Unit`].
    pub done: u64,
    /// Of how much (an estimate for bytes: the bar grows when it is passed).
    pub total: u64,
    /// Rows so far.
    pub rows: u64,
    /// Tables done and of how many.
    pub tables_done: u64,
    pub tables_total: u64,
    /// Seconds without movement while work is under way, once long enough to show.
    pub stalled_for: Option<u64>,
}

/// A stage's counters as the display reads them.
pub trait Gauge: Send + Sync + 'static {
    /// The stage's name in the bar and the log line ("copy", "verify").
    const STAGE: &'static str;
    /// What `done` and `total` count.
    const UNIT: Unit;
    fn reading(&self) -> Reading;
}

/// Shows `gauge` until `done` is cancelled. Returns the task to await after cancelling.
pub fn spawn<G: Gauge>(
    mode: ProgressMode,
    gauge: Arc<G>,
    database: String,
    done: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    let terminal = std::io::stderr().is_terminal();
    tokio::spawn(async move {
        match (mode, terminal) {
            (ProgressMode::Quiet, _) => done.cancelled().await,
            (ProgressMode::Auto, true) => bar(gauge, database, done).await,
            _ => log_lines(gauge, database, done).await,
        }
    })
}

/// The bar's templates: while moving, and while stalled (no rate and no ETA, the stall in the
/// message instead).
fn styles(unit: Unit, stage: &str) -> (ProgressStyle, ProgressStyle) {
    let (moving, stalled) = match unit {
        Unit::Bytes => (
            "{prefix} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta} {msg}".to_owned(),
            "{prefix} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {msg}".to_owned(),
        ),
        Unit::Tables => {
            let t = format!("{{prefix}} {stage} [{{elapsed_precise}}] {{wide_bar}} {{pos}}/{{len}} tables {{msg}}");
            (t.clone(), t)
        }
    };
    let style =
        |t: &str| ProgressStyle::with_template(t).unwrap_or_else(|_| ProgressStyle::default_bar());
    (style(&moving), style(&stalled))
}

async fn bar<G: Gauge>(gauge: Arc<G>, database: String, done: CancellationToken) {
    let first = gauge.reading();
    let pb = ProgressBar::with_draw_target(Some(first.total.max(1)), ProgressDrawTarget::stderr());
    let (style, stalled_style) = styles(G::UNIT, G::STAGE);
    let mut showing_stall = false;
    pb.set_style(style.clone());
    pb.set_prefix(database);
    pb.enable_steady_tick(Duration::from_millis(250));
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    loop {
        let r = gauge.reading();
        if r.done > pb.length().unwrap_or(0) {
            pb.set_length(r.done);
        }
        pb.set_position(r.done);
        let counts = match G::UNIT {
            Unit::Bytes => format!(
                "{} rows, {}/{} tables",
                r.rows, r.tables_done, r.tables_total
            ),
            Unit::Tables => format!("{} rows", r.rows),
        };
        if r.stalled_for.is_some() != showing_stall {
            showing_stall = r.stalled_for.is_some();
            pb.set_style(if showing_stall {
                stalled_style.clone()
            } else {
                style.clone()
            });
        }
        pb.set_message(match r.stalled_for {
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

/// The rate (per second) since the last reading and the seconds left at that rate; `None`
/// for stages measured in tables, whose rate says nothing.
fn rate_and_eta(unit: Unit, r: &Reading, last: &mut (u64, Instant)) -> Option<(f64, u64)> {
    if unit != Unit::Bytes {
        return None;
    }
    let now = Instant::now();
    let rate =
        r.done.saturating_sub(last.0) as f64 / now.duration_since(last.1).as_secs_f64().max(1e-3);
    *last = (r.done, now);
    let eta = if rate > 0.0 && r.total > r.done {
        ((r.total - r.done) as f64 / rate).round() as u64
    } else {
        0
    };
    Some((rate, eta))
}

async fn log_lines<G: Gauge>(gauge: Arc<G>, database: String, done: CancellationToken) {
    let start = Instant::now();
    let mut tick =
        tokio::time::interval_at(tokio::time::Instant::now() + LOG_INTERVAL, LOG_INTERVAL);
    let mut last = (0u64, Instant::now());
    let stage = G::STAGE;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = done.cancelled() => break,
        }
        let r = gauge.reading();
        let elapsed_seconds = start.elapsed().as_secs();
        let (bytes, est_bytes) = match G::UNIT {
            Unit::Bytes => (Some(r.done), Some(r.total)),
            Unit::Tables => (None, None),
        };
        // While stalled, no rate and no ETA (they would read 0, like a finished copy).
        let rate = rate_and_eta(G::UNIT, &r, &mut last).filter(|_| r.stalled_for.is_none());
        let mib_per_sec = rate.map(|(rate, _)| format!("{:.1}", rate / (1024.0 * 1024.0)));
        let stalled = r
            .stalled_for
            .map(|secs| format!(": stalled for {secs} s"))
            .unwrap_or_default();
        tracing::info!(
            target: "db_migrate::progress",
            database = %database,
            stage,
            bytes,
            est_bytes,
            rows = r.rows,
            tables_done = r.tables_done,
            tables_total = r.tables_total,
            stalled_seconds = r.stalled_for,
            mib_per_sec = mib_per_sec.as_deref(),
            eta_seconds = rate.map(|(_, eta)| eta),
            elapsed_seconds,
            "{stage} progress{stalled}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(done: u64, total: u64) -> Reading {
        Reading {
            done,
            total,
            rows: 0,
            tables_done: 0,
            tables_total: 1,
            stalled_for: None,
        }
    }

    #[test]
    fn a_rate_and_an_eta_only_for_bytes() {
        let mut last = (0, Instant::now() - Duration::from_secs(2));
        let (rate, eta) = rate_and_eta(Unit::Bytes, &reading(100, 300), &mut last).unwrap();
        assert!(rate > 0.0 && eta > 0, "{rate} {eta}");
        assert_eq!(last.0, 100);
        assert_eq!(rate_and_eta(Unit::Tables, &reading(1, 3), &mut last), None);
    }

    #[test]
    fn past_the_estimate_the_eta_is_zero_not_negative() {
        let mut last = (0, Instant::now() - Duration::from_secs(1));
        let (_, eta) = rate_and_eta(Unit::Bytes, &reading(500, 300), &mut last).unwrap();
        assert_eq!(eta, 0);
    }
}
