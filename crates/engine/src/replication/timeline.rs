//! The timeline of a fenced cut-over (`--cutover`): each step with when it ended (seconds
//! after the fence was applied) and how long it took, the barrier LSN, and the
//! write-unavailable window (fence to switch). Part of the database's result
//! (`cutover` in the JSON, a block of the human report). Also the dry run's result
//! ([`DryRun`], `--cutover --validate`): report types only, so that the run's result may hold
//! them without importing the stages that produce them.
//!
//! JSON (stable field names):
//!
//! ```json
//! "cutover": { "outcome": "switched|aborted|failed|interrupted",
//!              "reason": "..." | null,
//!              "barrier_lsn": "0/3000148" | null,
//!              "max_downtime_seconds": 30.0 | null,
//!              "write_unavailable_seconds": 1.234,
//!              "fenced_at_unix_seconds": 1796000000.123 | null,
//!              "fence": { "roles": ["app"], "sessions_ended": 3, "drain_seconds": 0.02,
//!                         "in_flight_at_end": 0, "lifted": false,
//!                         "lift_command": "pg_migrate -s SOURCE -t TARGET --unfence" },
//!              "steps": [ { "step": "fence applied", "at_seconds": 0.05, "seconds": 0.05,
//!                           "detail": "..." } ] }
//! ```
//!
//! Steps, in order: `readiness` (before the fence: its `at_seconds` is negative or 0),
//! `fence applied`, `barrier`, `caught up`, `sequences synced`, `verified` (with `--verify`),
//! `objects dropped` (the switch); on an abort or a failure after the fence, `fence lifted`.

use crate::remedy::Setting;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use serde::Serialize;

/// How a fenced cut-over ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CutoverEnd {
    /// The target is writable; the source stays fenced.
    Switched,
    /// `--max-downtime` was reached before the switch: fence lifted, replication running.
    Aborted,
    /// An error after the fence: fence lifted, replication running.
    Failed,
    /// Interrupted (first signal) after the fence: fence lifted, replication running.
    Interrupted,
}

/// One step of the timeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    pub step: &'static str,
    /// When it ended, in seconds after the fence was applied (the readiness check, before the
    /// fence, ends at 0 or before).
    pub at_seconds: f64,
    /// How long it took.
    pub seconds: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// What the fence did, in the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FenceSummary {
    pub roles: Vec<String>,
    pub sessions_ended: u64,
    pub drain_seconds: f64,
    pub in_flight_at_end: u64,
    /// Lifted again (abort, failure, interrupt); a switched cut-over keeps it.
    pub lifted: bool,
    /// How to lift it (after a switch: when the applications must go back to the source).
    pub lift_command: String,
}

/// A fenced cut-over of one database.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CutoverReport {
    pub outcome: CutoverEnd,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub barrier_lsn: Option<String>,
    pub max_downtime_seconds: Option<f64>,
    /// From the fence to the switch (or, when it did not switch, to the fence lifted).
    pub write_unavailable_seconds: f64,
    /// When the fence was applied, in seconds since the Unix epoch (the run's overall window,
    /// across databases cut over one after the other, is measured from these).
    pub fenced_at_unix_seconds: Option<f64>,
    pub fence: Option<FenceSummary>,
    pub steps: Vec<Step>,
    /// `--fail-back`: the cut-over ran from the target back to the source (the target fenced).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub reverse: bool,
}

/// Records the steps as they end.
#[derive(Debug)]
pub struct Timeline {
    /// When the fence was applied (`None` before), and the same moment on the wall clock.
    fenced_at: Option<Instant>,
    fenced_wall: Option<std::time::SystemTime>,
    last: Instant,
    pub steps: Vec<Step>,
}

impl Default for Timeline {
    fn default() -> Self {
        Self::new()
    }
}

impl Timeline {
    pub fn new() -> Self {
        Timeline {
            fenced_at: None,
            fenced_wall: None,
            last: Instant::now(),
            steps: Vec::new(),
        }
    }

    /// The step that ends now, which started when the last one ended.
    pub fn step(&mut self, step: &'static str, detail: Option<String>) {
        let now = Instant::now();
        let seconds = now.duration_since(self.last).as_secs_f64();
        self.last = now;
        self.steps.push(Step {
            step,
            at_seconds: self.since_fence(now),
            seconds,
            detail,
        });
    }

    /// The fence starts now (the `fence applied` step ends later); the window's start.
    pub fn fence_starts(&mut self) {
        self.fenced_at = Some(Instant::now());
        self.fenced_wall = Some(std::time::SystemTime::now());
    }

    /// When the fence was applied, in seconds since the Unix epoch.
    pub fn fenced_at_unix_seconds(&self) -> Option<f64> {
        self.fenced_wall
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_secs_f64())
    }

    /// When the fence was applied, when it was.
    pub fn fenced_at(&self) -> Option<Instant> {
        self.fenced_at
    }

    /// The window so far.
    pub fn window(&self) -> Duration {
        self.fenced_at.map(|t| t.elapsed()).unwrap_or_default()
    }

    fn since_fence(&self, now: Instant) -> f64 {
        match self.fenced_at {
            Some(t) => now.duration_since(t).as_secs_f64(),
            None => 0.0,
        }
    }
}

impl CutoverReport {
    /// The block of the human report.
    pub fn render(&self, out: &mut String, db: &str) {
        let (writable, fenced) = if self.reverse {
            ("source", "target")
        } else {
            ("target", "source")
        };
        let switched = format!("switched, {writable} writable");
        let what = match self.outcome {
            CutoverEnd::Switched => switched.as_str(),
            CutoverEnd::Aborted => "aborted, fence lifted, replication running",
            CutoverEnd::Failed => "failed after the fence, fence lifted, replication running",
            CutoverEnd::Interrupted => "interrupted, fence lifted, replication running",
        };
        let _ = writeln!(
            out,
            "{} of database \"{}\": {what}; write-unavailable window {:.3} s{}",
            if self.reverse {
                "Fail-back"
            } else {
                "Cut-over"
            },
            crate::text::escape_controls(db),
            self.write_unavailable_seconds,
            self.max_downtime_seconds
                .map(|m| format!(" ({} {m} s)", Setting::MaxDowntime))
                .unwrap_or_default()
        );
        for s in &self.steps {
            let _ = writeln!(
                out,
                "  {:>8.3} s  {:<17} {:>8.3} s{}",
                s.at_seconds,
                s.step,
                s.seconds,
                s.detail
                    .as_deref()
                    .map(|d| format!("  {}", crate::text::escape_controls(d)))
                    .unwrap_or_default()
            );
        }
        if let Some(f) = &self.fence
            && !f.lifted
            && self.outcome == CutoverEnd::Switched
        {
            let _ = writeln!(
                out,
                "  the {fenced} stays fenced (read-only for new sessions); to lift it: {}",
                f.lift_command
            );
        }
    }
}

/// One database's dry run (JSON: `cutover_dry_run` of the result).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DryRun {
    pub database: String,
    /// The cut-over would start now.
    pub ready: bool,
    /// Why it would be refused, and what fixes it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refusal: Option<String>,
    pub tables_total: i64,
    pub tables_not_ready: i64,
    pub lag_bytes: Option<i64>,
    /// How fast the lag fell over the sample (negative: it grew).
    pub lag_falling_bytes_per_second: Option<f64>,
    /// How fast the slot's confirmed position moved over the sample.
    pub apply_bytes_per_second: Option<f64>,
    /// The fence roles (`--fence-roles`, or the owners and writers of the tables).
    pub fence_roles: Vec<String>,
    /// The login roles whose sessions the fence would end.
    pub session_roles: Vec<String>,
    /// Their sessions in the database now.
    pub sessions: usize,
    /// The estimated write-unavailable window without `--verify`: the lag at the rate
    /// measured, plus the dry run's fixed part (`dry_run::FIXED_SECONDS`).
    pub estimated_window_seconds: Option<f64>,
}

impl DryRun {
    /// One line of the human report.
    pub fn describe(&self) -> String {
        let mut s = format!(
            "database \"{}\": {}; {} of {} tables ready, lag {} bytes",
            crate::text::escape_controls(&self.database),
            if self.ready {
                "ready"
            } else {
                "would be refused"
            },
            self.tables_total - self.tables_not_ready,
            self.tables_total,
            self.lag_bytes
                .map(|l| l.to_string())
                .unwrap_or_else(|| "unknown".into())
        );
        if let Some(f) = self.lag_falling_bytes_per_second {
            if f >= 0.0 {
                s.push_str(&format!(" (falling {f:.0} bytes/s"));
            } else {
                s.push_str(&format!(" (growing {:.0} bytes/s", -f));
            }
            if let Some(a) = self.apply_bytes_per_second {
                s.push_str(&format!(", applied {a:.0} bytes/s"));
            }
            s.push(')');
        }
        s.push_str(&format!(
            "; the fence would end {} sessions of {}",
            self.sessions,
            if self.session_roles.is_empty() {
                "no role".to_owned()
            } else {
                self.session_roles.join(", ")
            }
        ));
        if let Some(w) = self.estimated_window_seconds {
            s.push_str(&format!("; estimated write-unavailable window {w:.1} s"));
        }
        if let Some(r) = &self.refusal {
            s.push_str(&format!("; {r}"));
        }
        s
    }
}
