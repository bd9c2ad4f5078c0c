//! The stall watchdog (`--stall-timeout`): a task that should be moving bytes and moves none for
//! the bound is stopped, on both sides, as a transient failure.
//!
//! Why: TCP alone cannot tell a dead flow from a slow one. After a network cut that the servers
//! noticed (their backends timed out and went away), our socket may stay established, waiting
//! for an answer that will never come, and the run waits with `0.0 MiB/s` on its progress line.
//! The TCP defaults of [`crate::conn::keepalive`] bound that at about a minute for a dead peer;
//! this watchdog also catches a live peer that stopped moving data (a half-dead flow, a proxy
//! that swallowed the stream, a backend stuck behind a lock), and names the stall.
//!
//! What moves bytes is measured where the bytes move, per task: a copy part's forwarded COPY
//! data ([`crate::copy`]), a large-object batch's contents. Work during which a server
//! legitimately sends nothing for minutes (an index build, a verification's hash aggregate, a
//! schema statement waiting for a lock) is not watched: a byte count cannot tell it from a
//! stall, and its sessions are covered by the TCP keepalives instead.
//!
//! The logic is pure ([`is_stalled`], [`next_look`], [`shown_stalled`]) around one clock per
//! task ([`Activity`]); the copy worker decides what a stall does (cancel both sides, retry on
//! new sessions under `--copy-retries`, else fail pointing to `--resume`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::error::{Error, ErrorKind, Side};

/// Default of `--stall-timeout`: longer than any pause of a healthy server in the middle of a
/// COPY (a checkpoint, an autovacuum's lock, a TOAST-heavy row), short enough that a stuck run
/// is noticed while someone is still watching.
pub const DEFAULT_STALL_TIMEOUT: Duration = Duration::from_secs(300);

/// The progress line says "stalled for N s" (instead of a rate of 0 and no ETA) once no byte
/// moved for longer than this: one log interval, so a line never shows a stall that the
/// previous one did not already hint at by a lower rate.
pub const SHOW_STALLED_AFTER: Duration = Duration::from_secs(10);

/// The shortest wait between two looks of the watchdog.
const MIN_LOOK: Duration = Duration::from_millis(100);

/// When a task last moved something: one per running task, touched by whatever moves its bytes
/// (lock-free: the COPY hot path touches it after every write).
#[derive(Debug)]
pub struct Activity {
    origin: Instant,
    /// Milliseconds after `origin` of the last movement.
    last: AtomicU64,
}

impl Default for Activity {
    fn default() -> Self {
        Activity::new()
    }
}

impl Activity {
    /// A clock whose last movement is now (starting a task counts as moving).
    pub fn new() -> Activity {
        Activity {
            origin: Instant::now(),
            last: AtomicU64::new(0),
        }
    }

    /// Records a movement now.
    pub fn moved(&self) {
        let now = self.origin.elapsed().as_millis() as u64;
        self.last.fetch_max(now, Ordering::Relaxed);
    }

    /// How long since the last movement.
    pub fn idle(&self) -> Duration {
        let last = Duration::from_millis(self.last.load(Ordering::Relaxed));
        self.origin.elapsed().saturating_sub(last)
    }
}

/// Whether a task idle for `idle` has stalled under `bound` (`None`: the watchdog is off).
pub fn is_stalled(idle: Duration, bound: Option<Duration>) -> bool {
    bound.is_some_and(|b| idle >= b)
}

/// How long the watchdog may sleep before it looks again: until `idle` could reach `bound` if
/// nothing moves meanwhile (a movement only pushes the stall further away), at least
/// [`MIN_LOOK`].
pub fn next_look(idle: Duration, bound: Duration) -> Duration {
    bound.saturating_sub(idle).max(MIN_LOOK)
}

/// What the progress line shows for a copy idle for `idle`: `Some(seconds)` once that is more
/// than [`SHOW_STALLED_AFTER`].
pub fn shown_stalled(idle: Duration) -> Option<u64> {
    (idle > SHOW_STALLED_AFTER).then_some(idle.as_secs())
}

/// Resolves, with the idle time, once `activity` has moved nothing for `bound`; never when the
/// watchdog is off. Meant for a `select!` next to the task it watches.
pub async fn stalled(activity: &Activity, bound: Option<Duration>) -> Duration {
    let Some(bound) = bound else {
        return std::future::pending().await;
    };
    loop {
        let idle = activity.idle();
        if is_stalled(idle, Some(bound)) {
            return idle;
        }
        tokio::time::sleep(next_look(idle, bound)).await;
    }
}

/// The error of a stalled task that moved nothing for `idle` (the caller names the task with
/// [`Error::with_object`]). `unreachable`: the one side whose server could not even be reached
/// to cancel it, which is where the cut most likely is. Of kind [`ErrorKind::Stalled`], which
/// the copy retries on new sessions.
pub fn error(idle: Duration, unreachable: Option<Side>) -> Error {
    let mut message = format!(
        "stalled: no byte moved for {} s ({}), so it was cancelled on both sides",
        idle.as_secs(),
        crate::Setting::StallTimeout
    );
    if let Some(side) = unreachable {
        message.push_str(&format!(
            "; the {side} could not be reached to cancel it either"
        ));
    }
    let e = Error::new(ErrorKind::Stalled, message);
    match unreachable {
        Some(side) => e.with_side(side),
        None => e,
    }
}

/// `--stall-timeout`'s value: a duration as `--replication-timeout` takes it, where 0 turns the
/// watchdog off (`None`).
pub fn bound_from(value: Duration) -> Option<Duration> {
    (!value.is_zero()).then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn a_task_is_stalled_once_it_moved_nothing_for_the_bound_and_never_when_off() {
        assert!(!is_stalled(S(299), Some(S(300))));
        assert!(is_stalled(S(300), Some(S(300))));
        assert!(is_stalled(S(9000), Some(S(300))));
        assert!(!is_stalled(S(9000), None));
        assert_eq!(bound_from(S(0)), None);
        assert_eq!(bound_from(S(10)), Some(S(10)));
    }

    #[test]
    fn the_watchdog_sleeps_until_the_stall_could_be_reached_and_not_in_a_busy_loop() {
        assert_eq!(next_look(S(0), S(300)), S(300));
        assert_eq!(next_look(S(250), S(300)), S(50));
        assert_eq!(next_look(S(300), S(300)), MIN_LOOK);
        assert_eq!(next_look(S(400), S(300)), MIN_LOOK);
    }

    #[test]
    fn the_progress_line_shows_a_stall_only_after_ten_seconds_without_a_byte() {
        assert_eq!(shown_stalled(S(3)), None);
        assert_eq!(shown_stalled(S(10)), None);
        assert_eq!(shown_stalled(Duration::from_millis(10_500)), Some(10));
        assert_eq!(shown_stalled(S(95)), Some(95));
    }

    #[test]
    fn a_movement_resets_the_clock() {
        let a = Activity::new();
        assert!(a.idle() < S(1));
        a.moved();
        assert!(a.idle() < S(1));
    }

    #[tokio::test]
    async fn the_watchdog_fires_once_nothing_moved_for_the_bound_and_never_when_off() {
        let a = Activity::new();
        let bound = Duration::from_millis(300);
        let idle = stalled(&a, Some(bound)).await;
        assert!(idle >= bound, "{idle:?}");
        let off = tokio::time::timeout(bound * 2, stalled(&a, None)).await;
        assert!(off.is_err(), "the watchdog never fires when off");
    }

    #[test]
    fn the_error_names_the_time_the_flag_and_the_side_that_could_not_be_reached() {
        let e = error(S(12), None).with_object("table public.t");
        assert_eq!(e.kind(), ErrorKind::Stalled);
        assert_eq!(e.side(), None);
        let text = e.to_string();
        assert!(
            text.contains("table public.t") && text.contains("12 s"),
            "{text}"
        );
        assert!(text.contains("`stall_timeout`"), "{text}");
        let e = error(S(12), Some(Side::Target));
        assert_eq!(e.side(), Some(Side::Target));
        assert!(
            e.to_string().contains("the target could not be reached"),
            "{e}"
        );
    }
}
