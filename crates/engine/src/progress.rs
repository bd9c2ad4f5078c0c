//! The one progress display of a database's long stages (the copy, verification): a live bar on
//! a terminal, a structured log line every [`LOG_INTERVAL`] otherwise, nothing when quiet.
//!
//! A stage keeps its own counters and says what they read through [`Gauge`]
//! ([`crate::gauge`]); how they are shown (bar or log line, rate and ETA, "stalled for N s"
//! instead of a rate of 0 and an ETA of 0, which read like a finished copy) is written once,
//! here.

use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio_util::sync::CancellationToken;

/// A stage's counters, read by this display and by the board ([`crate::gauge`]).
pub use crate::gauge::{Gauge, Reading, Unit};

/// Interval of the log lines without a terminal: a line per database every few seconds.
pub const LOG_INTERVAL: Duration = Duration::from_secs(5);

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

/// Shows `gauge` until `done` is cancelled. Returns the task to await after cancelling.
pub fn spawn<G: Gauge>(
    mode: ProgressMode,
    gauge: Arc<G>,
    database: String,
    done: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    let terminal = std::io::stderr().is_terminal();
    let g = gauge.clone();
    crate::board::watch(&database, G::STAGE, Arc::new(move || g.reading()));
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

/// The bars of the run on a terminal: one per database stage, and below them the run's
/// overall bar (databases done of all, bytes copied, rate and ETA of the data left), read
/// from [`crate::board`].
struct Bars {
    multi: MultiProgress,
    overall: ProgressBar,
    started: Instant,
}

static BARS: Mutex<Option<Bars>> = Mutex::new(None);

/// Adds a bar above the overall one (created with the first).
fn add_bar(len: u64) -> ProgressBar {
    let mut bars = BARS.lock().unwrap_or_else(|e| e.into_inner());
    let b = bars.get_or_insert_with(|| {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        let overall = multi.add(ProgressBar::new(1));
        overall.set_style(
            ProgressStyle::with_template("overall [{elapsed_precise}] {wide_bar} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        Bars {
            multi,
            overall,
            started: Instant::now(),
        }
    });
    let n = b.multi.insert_before(&b.overall, ProgressBar::new(len));
    drop(bars);
    n
}

/// Redraws the overall bar from the board.
fn update_overall() {
    let bars = BARS.lock().unwrap_or_else(|e| e.into_inner());
    let Some(b) = bars.as_ref() else { return };
    let (dbs, _) = crate::board::read();
    let finished = |p: &str| matches!(p, "done" | "failed" | "replicating");
    let done = dbs.iter().filter(|d| finished(d.phase)).count() as u64;
    let copied: u64 = dbs.iter().map(|d| d.bytes).sum();
    let planned: u64 = dbs.iter().map(|d| d.est_bytes.max(d.bytes)).sum();
    let secs = b.started.elapsed().as_secs_f64().max(1e-3);
    let rate = copied as f64 / secs;
    let eta = (rate > 0.0 && planned > copied)
        .then(|| crate::status::render::duration(((planned - copied) as f64 / rate) as u64));
    b.overall.set_length(dbs.len().max(1) as u64);
    b.overall.set_position(done);
    b.overall.set_message(format!(
        "{done}/{} databases, {} copied, {}/s{}",
        dbs.len(),
        crate::status::render::bytes(copied),
        crate::status::render::bytes(rate as u64),
        eta.map(|e| format!(", ETA {e}")).unwrap_or_default()
    ));
    if done == dbs.len() as u64 {
        b.overall.finish();
    }
}

async fn bar<G: Gauge>(gauge: Arc<G>, database: String, done: CancellationToken) {
    let first = gauge.reading();
    let pb = add_bar(first.total.max(1));
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
        update_overall();
        tokio::select! {
            _ = tick.tick() => {}
            _ = done.cancelled() => break,
        }
    }
    // The finished bar stays, as the record of the stage (at what was really done: the
    // estimate was only an estimate); the overall bar follows.
    let done = gauge.reading().done;
    pb.set_length(done);
    pb.set_position(done);
    pb.finish();
    update_overall();
}

/// The run ended: the overall bar shows where it ended and stays above the report.
pub fn finish_display() {
    update_overall();
    if let Some(b) = BARS.lock().unwrap_or_else(|e| e.into_inner()).take() {
        b.overall.finish();
    }
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
        // While stalled, no rate and no ETA (they would read 0, like a finished copy).
        let rate = rate_and_eta(G::UNIT, &r, &mut last).filter(|_| r.stalled_for.is_none());
        tracing::info!(
            target: "db_migrate::progress",
            database = %database,
            stage,
            "{}",
            log_line(G::UNIT, stage, &r, rate, start.elapsed().as_secs())
        );
    }
}

/// A progress line for people (a log collector reads the numbers from the metrics, or from
/// `db-migrate status --json`): `copy: 1.2 GiB of about 4.0 GiB (30 %), 45.2 MiB/s, ETA 1 min
/// 02 s, tables 3 of 10, 150000 rows, 27 s`.
fn log_line(unit: Unit, stage: &str, r: &Reading, rate: Option<(f64, u64)>, secs: u64) -> String {
    use crate::status::render::{bytes, duration};
    let mut line = match unit {
        Unit::Bytes => format!(
            "{stage}: {} of about {} ({} %)",
            bytes(r.done),
            bytes(r.total.max(r.done)),
            (r.done * 100).checked_div(r.total.max(r.done)).unwrap_or(0)
        ),
        Unit::Tables => format!("{stage}: tables {} of {}", r.tables_done, r.tables_total),
    };
    if let Some(stalled) = r.stalled_for {
        line.push_str(&format!(", stalled for {stalled} s"));
    }
    if let Some((rate, eta)) = rate {
        line.push_str(&format!(
            ", {}/s, ETA {}",
            bytes(rate as u64),
            duration(eta)
        ));
    }
    if unit == Unit::Bytes {
        line.push_str(&format!(", tables {} of {}", r.tables_done, r.tables_total));
    }
    line.push_str(&format!(", {} rows, {}", r.rows, duration(secs)));
    line
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
