//! Waiting for the subscription to catch up (`--max-replication-lag`, bounded by
//! `--replication-timeout`): lag measurements, progress, tables created on the source meanwhile
//! ([`super::adopt`]) and schema drift; then, with `--stop-replication`, the cut-over
//! ([`super::cutover`]).

use std::time::{Duration, Instant};

use tracing::info;

use super::follow::When;
use super::following::{self, Following};
pub(super) use super::session::Replicating;
use super::session::{self, lag_status};
use super::{Fingerprint, LagStatus, ReplicationOptions, ReplicationOutcome, cutover};
use crate::remedy::{Remedy, Setting};

/// A lag that has not fallen for this long while a rename is pending: the apply worker waits on
/// a change that needs the new name (see [`When::WhenStuck`]); on PostgreSQL 15+ its
/// error count tells sooner.
const STUCK_AFTER: Duration = Duration::from_secs(12);

use crate::error::{Error, ErrorKind, Result, Side};
use crate::report::DbStatus;
use crate::warning::Warning;

fn report_progress(opts: &ReplicationOptions, st: &LagStatus, last_log: &mut Option<Instant>) {
    match &opts.progress {
        Some(f) => f(st),
        None => {
            if last_log.is_none_or(|t| t.elapsed() >= Duration::from_secs(10)) {
                *last_log = Some(Instant::now());
                info!(
                    target: "db_migrate::progress",
                    database = %st.database,
                    "replication: lag {} bytes, {}/{} tables ready, streaming: {}, waited {} s",
                    st.lag_bytes.map(|l| l.to_string()).unwrap_or_else(|| "unknown".into()),
                    st.tables_total - st.tables_not_ready,
                    st.tables_total,
                    st.slot_active,
                    st.elapsed.as_secs()
                );
            }
        }
    }
}

/// Waits for the lag (when asked), then stops (when asked). Updates `outcome`.
pub(super) async fn wait_and_stop(
    r: Replicating<'_>,
    baseline: Option<Fingerprint>,
    outcome: &mut ReplicationOutcome,
) -> Result<()> {
    let Replicating {
        pair,
        src,
        tgt,
        tfacts,
        dbname,
        opts,
    } = r;
    let Some(max) = opts.lag_to_wait_for() else {
        return Ok(());
    };
    let names = outcome.names.clone();
    let started = Instant::now();
    let deadline = started + opts.replication_timeout;
    // The source's schema changes, applied on the target as they are seen (super::following),
    // so that the apply worker, which stops on a missing column or table, goes on.
    let mut following = Following::new(r, &names, baseline);
    let waited = follow_until_in_sync(r, &mut following, outcome, started, deadline, max).await;
    let in_sync = match (waited, following.refusal.take()) {
        // A change the target refused: the database fails with the outcome, which lists the
        // changes applied before it and the refused one (see `cut_over_failure`).
        (_, Some(refusal)) => {
            summarize(following, outcome, dbname, opts);
            outcome.status = DbStatus::Failed;
            outcome.message = refusal.message.clone();
            outcome.refusal = Some(refusal);
            return Ok(());
        }
        (Ok(in_sync), None) => in_sync,
        (Err(e), None) => return Err(e),
    };
    let drift_note = summarize(following, outcome, dbname, opts);
    if !in_sync && opts.cutover.is_some() {
        // --cutover refuses rather than leaving the database running with exit code 0.
        return Err(Error::new(
            ErrorKind::Validation,
            format!(
                "cut-over refused, nothing was changed (replication keeps running): not in sync within {timeout} ({} s): lag {} bytes ({} {max}), or tables not yet ready in pg_subscription_rel; run the cut-over again later, or raise {timeout}{drift_note}",
                opts.replication_timeout.as_secs(),
                outcome
                    .lag_bytes
                    .map(|l| l.to_string())
                    .unwrap_or_else(|| "unknown".into()),
                Setting::CutoverMaxLag,
                timeout = Setting::ReplicationTimeout,
            ),
        )
        .with_remedy(Remedy::Raise {
            setting: Setting::ReplicationTimeout,
        })
        .with_side(Side::Target)
        .with_database(dbname));
    }
    if !in_sync {
        outcome.status = DbStatus::Running;
        outcome.message = format!(
            "logical replication running, but not in sync within {} ({} s): lag {} bytes; the replication objects are kept: run again with {} and {} to cut over, or {} to remove them{drift_note}",
            Setting::ReplicationTimeout,
            opts.replication_timeout.as_secs(),
            outcome
                .lag_bytes
                .map(|l| l.to_string())
                .unwrap_or_else(|| "unknown".into()),
            Setting::MaxReplicationLag,
            Setting::StopReplication,
            Setting::Cleanup
        );
        outcome.remedies = vec![Remedy::CutOver, Remedy::RemoveReplication];
        return Ok(());
    }
    if !opts.is_cut_over() {
        outcome.message = format!(
            "{}; in sync (lag {} bytes){drift_note}",
            outcome.message,
            outcome.lag_bytes.unwrap_or(0)
        );
        return Ok(());
    }
    let c = cutover::CutOver {
        pair,
        opts,
        src,
        tgt,
        tfacts,
        dbname,
        deadline,
        drift_note: &drift_note,
    };
    cutover::cut_over(&c, outcome).await?;
    if outcome.status == DbStatus::Done {
        super::statistics::carry_at_cut_over(src, tgt, dbname, opts.statistics, outcome).await;
    }
    Ok(())
}

/// Follows the source's schema until the replication is in sync (`Ok(true)`) or the
/// deadline (`Ok(false)`): renames and new tables first, then the wait, then what was held
/// back for the cut-over. Fails on a change the target refused ([`Following::refusal`]).
async fn follow_until_in_sync(
    r: Replicating<'_>,
    following: &mut Following<'_>,
    outcome: &mut ReplicationOutcome,
    started: Instant,
    deadline: Instant,
    max: u64,
) -> Result<bool> {
    let Replicating {
        src, dbname, opts, ..
    } = r;
    // Renames first (a table renamed since the set-up is no new table), then new tables.
    following.check(When::Now).await?;
    following.adopt().await?;
    let in_sync = wait_in_sync(r, following, outcome, started, deadline, max).await?;
    following.check(When::Now).await?;
    if in_sync && opts.is_cut_over() && following.pending(When::InSync) {
        // What was held back waits no longer: once the target applied everything committed
        // so far, it goes before anything is dropped (and before the fence). Only then: the
        // fenced cut-over's own bound (--max-downtime) must not start after a wait of ours.
        if let session::CaughtUp::Confirmed =
            session::caught_up(src, &outcome.names.slot, dbname, deadline).await?
        {
            following.check(When::InSync).await?;
            following.adopt().await?;
        }
    }
    Ok(in_sync)
}

/// Waits until the replication is in sync (`Ok(true)`: lag at most `max`, every table ready,
/// `--follow` over) or the deadline (`Ok(false)`), following the source's schema on the way.
async fn wait_in_sync(
    r: Replicating<'_>,
    following: &mut Following<'_>,
    outcome: &mut ReplicationOutcome,
    started: Instant,
    deadline: Instant,
    max: u64,
) -> Result<bool> {
    let Replicating {
        src,
        tgt,
        dbname,
        opts,
        ..
    } = r;
    let names = outcome.names.clone();
    // `--follow`: the lag counts as in sync only after this.
    let follow_until = opts.follow_for.map(|d| started + d);
    // The lag's lowest reading and since when it has not fallen below it: a worker that waits
    // on a change needing a renamed column shows as a lag that stops falling.
    let mut lowest: Option<(i64, Instant)> = None;
    let mut last_log: Option<Instant> = None;
    let mut last_check = Instant::now();
    loop {
        let st = lag_status(src, tgt, dbname, &names, started).await?;
        outcome.lag_bytes = st.lag_bytes;
        report_progress(opts, &st, &mut last_log);
        let caught_up = st.lag_bytes == Some(0) && st.tables_not_ready == 0;
        if caught_up && following.pending(When::InSync) {
            // Everything from before the DDL is applied: what would refuse it may go now.
            let before = following.followed.applied.len();
            following.check(When::InSync).await?;
            if following.followed.applied.len() > before {
                continue;
            }
        }
        let following_on = follow_until.is_some_and(|u| Instant::now() < u);
        if st.in_sync(max) && !following_on {
            if following.adopt().await? {
                continue;
            }
            return Ok(true);
        }
        if Instant::now() >= deadline {
            return Ok(false);
        }
        // A lag of 0 is no worker waiting on anything (and 0 can never be beaten: once read,
        // it would count as "not falling" for ever and let a rename go before its rows).
        match st.lag_bytes {
            Some(0) => lowest = None,
            Some(lag) if lowest.is_none_or(|(l, _)| lag < l) => {
                lowest = Some((lag, Instant::now()));
            }
            _ => {}
        }
        if last_check.elapsed() >= opts.schema_check_interval {
            last_check = Instant::now();
            let stuck = lowest.is_some_and(|(_, since)| since.elapsed() >= STUCK_AFTER)
                || following.worker_failing().await;
            let until = if stuck && following.pending(When::WhenStuck) {
                lowest = None;
                When::WhenStuck
            } else {
                When::Now
            };
            following.check(until).await?;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        tokio::time::sleep(opts.poll_interval.min(left)).await;
    }
}

/// What the following did, into `outcome` (schema changes, drift, tables added and dropped,
/// warnings), and the note the run's message ends with.
fn summarize(
    following: Following<'_>,
    outcome: &mut ReplicationOutcome,
    dbname: &str,
    opts: &ReplicationOptions,
) -> String {
    let Following {
        drift,
        mut followed,
        adopted,
        renamed,
        ..
    } = following;
    // A refused change (the wait stopped on it) after those applied before it.
    outcome.schema_changes = followed.applied.clone();
    outcome
        .schema_changes
        .extend(followed.refused_changes.iter().cloned());
    outcome.schema_drift = drift.clone();
    outcome.tables_added = adopted.all_tables();
    // Dropped, not renamed (a rename's old name is removed too).
    outcome.tables_dropped = drift
        .iter()
        .filter(|d| {
            !renamed
                .iter()
                .any(|(from, _)| following::object_of(d) == from)
        })
        .filter_map(|d| d.strip_prefix("table ")?.strip_suffix(" removed"))
        .map(str::to_owned)
        .collect();
    let still_on_target: Vec<&String> = outcome
        .tables_dropped
        .iter()
        .filter(|t| !followed.level.contains(&format!("table {t}")))
        .collect();
    let mut drift_note = String::new();
    if !adopted.is_empty() {
        drift_note.push_str(&format!("; {}", adopted.describe()));
        outcome.warnings.extend(crate::warning::in_database(
            adopted.warnings.clone(),
            dbname,
        ));
    }
    if !still_on_target.is_empty() {
        let w = format!(
            "tables dropped on the source since replication was set up (still on the target): {}",
            still_on_target
                .iter()
                .map(|t| t.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
        outcome
            .warnings
            .push(Warning::replication(w.clone()).in_database(dbname));
        drift_note.push_str(&format!("; {w}"));
    }
    if !followed.applied.is_empty() {
        drift_note.push_str(&format!(
            "; schema changes of the source applied on the target: {}",
            followed.described().join(", ")
        ));
    }
    outcome.warnings.extend(crate::warning::in_database(
        std::mem::take(&mut followed.warnings),
        dbname,
    ));
    let level = |d: &str| followed.level.contains(following::object_of(d));
    let unhandled: Vec<&String> = drift
        .iter()
        .filter(|d| {
            !(adopted.covers(d) || level(d) || d.starts_with("table ") && d.ends_with(" removed"))
        })
        .collect();
    if !unhandled.is_empty() {
        let new_tables_note = if opts.is_cut_over() {
            ""
        } else {
            " (changes made after this run ends are applied by the cut-over run)"
        };
        let w = format!(
            "schema changed on the source since replication was set up (logical replication does not carry DDL; apply the same change on the target){new_tables_note}: {}",
            unhandled
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
        outcome
            .warnings
            .push(Warning::replication(w.clone()).in_database(dbname));
        drift_note.push_str(&format!("; {w}"));
    }
    drift_note
}
