//! The text form of a [`StatusReport`]: a few lines per database, for a person watching a run.

use std::fmt::Write as _;

use super::{DatabaseStatus, RunState, StatusReport, SubscriptionStatus, TableProgress};

/// `1.5 MiB` style sizes (powers of 1024, as PostgreSQL's `pg_size_pretty`).
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["bytes", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} bytes")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// `2 h 03 min`, `4 min 10 s`, `12 s`.
pub fn duration(secs: u64) -> String {
    match secs {
        s if s >= 3600 => format!("{} h {:02} min", s / 3600, s % 3600 / 60),
        s if s >= 60 => format!("{} min {:02} s", s / 60, s % 60),
        s => format!("{s} s"),
    }
}

/// The whole report as text.
pub fn render(r: &StatusReport) -> String {
    let mut out = format!("target {}, read {}\n", r.target, r.read_at);
    if let Some(e) = &r.source_error {
        let _ = writeln!(out, "source not read (no replication lag known): {e}");
    }
    if r.databases.is_empty() {
        out.push_str(
            "no migration recorded on the target: no database holds a db-migrate ledger, the \
             record of a finished migration or a subscription\n",
        );
    }
    for d in &r.databases {
        database(&mut out, d);
    }
    out
}

fn database(out: &mut String, d: &DatabaseStatus) {
    run_line(out, d);
    if let Some(p) = &d.progress {
        progress(out, d, p);
    }
    if d.progress.is_some_and(|p| p.retries > 0) || !d.warnings.is_empty() {
        out.push_str(&attention(d));
    }
    if let Some(s) = &d.subscription {
        subscription(out, s);
    }
    if d.alive {
        let pids: Vec<String> = d.sessions.iter().map(|s| s.pid.to_string()).collect();
        let _ = writeln!(
            out,
            "  alive: {} db-migrate session{} on the target (pid {})",
            d.sessions.len(),
            if d.sessions.len() == 1 { "" } else { "s" },
            pids.join(", ")
        );
    } else if d.state != RunState::Done {
        out.push_str("  not alive: no db-migrate session on the target\n");
    }
    if let Some(r) = &d.resume {
        let _ = writeln!(out, "  {r}");
    }
}

/// The database's first line: its state and its run (or that it has no ledger).
fn run_line(out: &mut String, d: &DatabaseStatus) {
    match &d.run {
        Some(run) => {
            let _ = writeln!(
                out,
                "database \"{}\": {}, run {} ({}) started {}, {}",
                d.dbname.escape_debug(),
                d.state.as_str(),
                run.run_id,
                run.method.as_deref().unwrap_or("method not decided yet"),
                run.started_at,
                match &run.finished_at {
                    Some(at) => format!("finished {at}"),
                    None => format!("stage {}", run.stage),
                }
            );
        }
        None => {
            let _ = writeln!(
                out,
                "database \"{}\": {}, no ledger (a subscription of db-migrate only)",
                d.dbname.escape_debug(),
                d.state.as_str()
            );
        }
    }
}

/// The copy's progress, and what is left while it runs.
fn progress(out: &mut String, d: &DatabaseStatus, p: &TableProgress) {
    let _ = write!(
        out,
        "  table parts {} of {} copied (tables {} of {}), {} rows, {} copied",
        p.parts_copied,
        p.parts_total,
        p.tables_copied,
        p.tables_total,
        p.rows_copied,
        bytes(p.bytes_copied)
    );
    if let Some(rate) = p.bytes_per_second {
        let _ = write!(out, ", {}/s over the last minute", bytes(rate as u64));
    }
    out.push('\n');
    if d.state == RunState::Running && p.parts_copied < p.parts_total {
        match (p.estimated_bytes_left, p.estimated_seconds_left) {
            (Some(left), Some(secs)) => {
                let _ = writeln!(
                    out,
                    "  about {} left, done in about {} (an estimate from the parts done: the \
                     ledger records no planned bytes per part)",
                    bytes(left),
                    duration(secs)
                );
            }
            (Some(left), None) => {
                let _ = writeln!(
                    out,
                    "  about {} left (an estimate from the parts done); no part finished in \
                     the last minute, so no time left is estimated",
                    bytes(left)
                );
            }
            _ => {}
        }
    }
}

/// The subscription's state and its lag.
fn subscription(out: &mut String, s: &SubscriptionStatus) {
    let _ = writeln!(
        out,
        "  subscription \"{}\" {}, apply worker {}, {} of {} tables synchronised{}",
        s.name.escape_debug(),
        if s.enabled { "enabled" } else { "disabled" },
        if s.worker_running {
            "running"
        } else {
            "not running"
        },
        s.tables_total - s.tables_not_ready,
        s.tables_total,
        match (s.apply_errors, s.sync_errors) {
            (Some(a), Some(y)) if a + y > 0 => format!(", {a} apply and {y} sync errors"),
            _ => String::new(),
        }
    );
    if let Some(l) = &s.lag {
        let line = match (l.slot_exists, l.bytes) {
            (false, _) => "slot not found on the source".to_owned(),
            (true, None) => "slot has confirmed nothing yet".to_owned(),
            (true, Some(b)) => format!(
                "replication lag {}{}{}",
                bytes(b.max(0) as u64),
                match (l.falling, l.previous_bytes) {
                    (Some(true), Some(p)) => format!(", falling (was {})", bytes(p.max(0) as u64)),
                    (Some(false), Some(p)) => {
                        format!(", not falling (was {})", bytes(p.max(0) as u64))
                    }
                    _ => String::new(),
                },
                if l.slot_active {
                    ""
                } else {
                    ", slot not streamed"
                }
            ),
        };
        let _ = writeln!(out, "  {line}");
    }
}

/// `  3 retries of table parts on new sessions; warnings so far: 2 schema, 1 ownership`.
fn attention(d: &DatabaseStatus) -> String {
    let mut parts = Vec::new();
    if let Some(p) = d.progress.filter(|p| p.retries > 0) {
        parts.push(format!(
            "{} {} of table parts on new sessions",
            p.retries,
            if p.retries == 1 { "retry" } else { "retries" }
        ));
    }
    if !d.warnings.is_empty() {
        let kinds: Vec<String> = d.warnings.iter().map(|(k, n)| format!("{n} {k}")).collect();
        let finished = d.run.as_ref().is_some_and(|r| r.finished_at.is_some());
        parts.push(format!(
            "warnings{}: {} (the run's report lists them)",
            if finished { "" } else { " so far" },
            kinds.join(", ")
        ));
    }
    format!("  {}\n", parts.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations_read_naturally() {
        assert_eq!(bytes(512), "512 bytes");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(3 << 30), "3.0 GiB");
        assert_eq!(duration(12), "12 s");
        assert_eq!(duration(250), "4 min 10 s");
        assert_eq!(duration(7380), "2 h 03 min");
    }
}
