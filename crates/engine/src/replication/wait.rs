//! Waiting for the subscription to catch up (`--max-replication-lag`, bounded by
//! `--replication-timeout`): lag measurements, progress, tables created on the source meanwhile
//! ([`super::adopt`]) and schema drift; then, with `--stop-replication`, the cut-over
//! ([`super::cutover`]).

use std::time::{Duration, Instant};

use tracing::{info, warn};

use super::objects::TargetFacts;
use super::{
    Fingerprint, LagStatus, ObjectNames, ReplicationOptions, ReplicationOutcome, adopt, cutover,
    follow, on_source, on_target,
};

/// How often the source's schema is compared with the fingerprint taken at set-up while the
/// run waits (a changed table's columns are then followed on the target).
const DRIFT_CHECK_EVERY: Duration = Duration::from_secs(5);

/// A lag that has not fallen for this long while a rename is pending: the apply worker waits on
/// a change that needs the new name (see [`follow::When::WhenStuck`]).
const STUCK_AFTER: Duration = Duration::from_secs(12);

/// A lag that has not fallen for this long after the target refused a schema change: the run
/// ends naming the change rather than waiting until `--replication-timeout`. Longer than
/// [`STUCK_AFTER`], since a large transaction being decoded also holds the lag for a while.
const REFUSED_STUCK_AFTER: Duration = Duration::from_secs(30);
use crate::catalog::replication::state;
use crate::conn::Session;
use crate::error::{Error, ErrorKind, Result, Side};
use crate::pair::DbPair;
use crate::report::DbStatus;
use crate::sql::quote_ident;
use crate::warning::Warning;

/// One lag measurement.
pub async fn lag_status(
    src: &Session,
    tgt: &Session,
    dbname: &str,
    names: &ObjectNames,
    started: Instant,
) -> Result<LagStatus> {
    let slot = state::slot_lag(src, &names.slot)
        .await
        .map_err(|e| on_source(e, dbname))?;
    let Some(slot) = slot else {
        return Err(Error::new(
            ErrorKind::Validation,
            format!(
                "replication slot {} disappeared from the source",
                quote_ident(&names.slot)
            ),
        )
        .with_side(Side::Source)
        .with_database(dbname));
    };
    let rel = state::subscription_tables(tgt, &names.subscription)
        .await
        .map_err(|e| on_target(e, dbname))?;
    crate::board::lag(dbname, slot.lag_bytes);
    Ok(LagStatus {
        database: dbname.to_owned(),
        slot_active: slot.active,
        lag_bytes: slot.lag_bytes,
        tables_total: rel.total,
        tables_not_ready: rel.not_ready,
        elapsed: started.elapsed(),
    })
}

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

/// One database's running replication as its waits and the cut-over see it: the pair, a
/// session on each side, the target's facts, and what the user asked. The three ways into a
/// wait (a new replication, a resumed one, an earlier run's) build it once.
#[derive(Clone, Copy)]
pub(super) struct Replicating<'a> {
    pub pair: &'a DbPair,
    pub src: &'a Session,
    pub tgt: &'a Session,
    pub tfacts: &'a TargetFacts,
    pub dbname: &'a str,
    pub opts: &'a ReplicationOptions,
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
    let mut last_log: Option<Instant> = None;
    let mut last_drift_check = Instant::now();
    let mut drift: Vec<String> = Vec::new();
    // Column changes of the source's tables, applied on the target as they are seen
    // (super::follow), so that the apply worker, which stops on a missing column, goes on.
    let mut followed = follow::Followed::default();
    let check_drift = async |drift: &mut Vec<String>,
                             followed: &mut follow::Followed,
                             until: follow::When| {
        if let Some(base) = &baseline
            && let Ok(now) = Fingerprint::read(src).await
        {
            let changes = base.changes(&now);
            if changes != *drift {
                if !changes.is_empty() {
                    warn!(database = %dbname, "schema changed on the source: {}", changes.join(", "));
                }
                *drift = changes;
            }
            let tables_changed = drift.iter().any(|d| {
                (d.starts_with("table ") || d.starts_with("type ")) && d.ends_with(" changed")
            });
            if tables_changed {
                match follow::follow_columns(src, tgt, until).await {
                    Ok(f) => followed.merge(f),
                    Err(e) => {
                        warn!(database = %dbname, "could not follow the source's column changes: {e}")
                    }
                }
            }
        }
    };
    // Tables created on the source meanwhile are brought in before the wait, and once more
    // when in sync (one may have been created during the wait).
    let mut adopted = adopt::Adopted::default();
    let adopt_now = async |adopted: &mut adopt::Adopted| -> Result<bool> {
        let a = adopt::adopt_new_tables(
            src,
            tgt,
            tfacts,
            &names.publication,
            &names.subscription,
            opts.schema,
            opts.tables.as_deref().filter(|t| !t.is_empty()),
        )
        .await
        .map_err(|e| {
            e.with_database(dbname)
                .with_step("adding tables created during replication")
                .context("nothing was dropped: the replication keeps running")
        })?;
        if !a.is_empty() {
            info!(database = %dbname, "{}", a.describe());
        }
        let any = !a.is_empty();
        adopted.merge(a);
        Ok(any)
    };
    adopt_now(&mut adopted).await?;
    check_drift(&mut drift, &mut followed, follow::When::Now).await;
    // The lag's lowest reading and since when it has not fallen below it: a worker that waits
    // on a change needing a renamed column shows as a lag that stops falling.
    let mut lowest: Option<(i64, Instant)> = None;
    let in_sync = loop {
        let st = lag_status(src, tgt, dbname, &names, started).await?;
        outcome.lag_bytes = st.lag_bytes;
        report_progress(opts, &st, &mut last_log);
        let caught_up = st.lag_bytes == Some(0) && st.tables_not_ready == 0;
        if caught_up && followed.pending.contains(&follow::When::InSync) {
            // Everything from before the DDL is applied: what would refuse it may go now.
            let before = followed.applied.len();
            check_drift(&mut drift, &mut followed, follow::When::InSync).await;
            if followed.applied.len() > before {
                continue;
            }
        }
        if st.in_sync(max) {
            if adopt_now(&mut adopted).await? {
                continue;
            }
            break true;
        }
        if Instant::now() >= deadline {
            break false;
        }
        if let Some(lag) = st.lag_bytes
            && lowest.is_none_or(|(l, _)| lag < l)
        {
            lowest = Some((lag, Instant::now()));
        }
        let stuck = lowest.is_some_and(|(_, since)| since.elapsed() >= STUCK_AFTER);
        // A change the target refused, and a worker that has not moved since: it waits on that
        // change and will wait until the timeout. Said now, with the statement and the reason.
        if !followed.warnings.is_empty()
            && !followed.pending.contains(&follow::When::WhenStuck)
            && lowest.is_some_and(|(_, since)| since.elapsed() >= REFUSED_STUCK_AFTER)
        {
            let why: Vec<&str> = followed
                .warnings
                .iter()
                .map(|w| w.message.as_str())
                .collect();
            return Err(Error::new(
                ErrorKind::Validation,
                format!(
                    "replication stopped moving (lag {} bytes for {} s) after a schema change \
                     of the source that the target refused: {}; apply the change on the target \
                     by hand (or remove its cause) and run the same command again: the \
                     replication objects are kept",
                    st.lag_bytes.unwrap_or(0),
                    REFUSED_STUCK_AFTER.as_secs(),
                    why.join("; ")
                ),
            )
            .with_side(Side::Target)
            .with_database(dbname));
        }
        if last_drift_check.elapsed() >= DRIFT_CHECK_EVERY {
            last_drift_check = Instant::now();
            let until = if stuck && followed.pending.contains(&follow::When::WhenStuck) {
                lowest = None;
                follow::When::WhenStuck
            } else {
                follow::When::Now
            };
            check_drift(&mut drift, &mut followed, until).await;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        tokio::time::sleep(opts.poll_interval.min(left)).await;
    };
    check_drift(&mut drift, &mut followed, follow::When::Now).await;
    outcome.schema_drift = drift.clone();
    outcome.tables_added = adopted.all_tables();
    outcome.tables_dropped = drift
        .iter()
        .filter_map(|d| d.strip_prefix("table ")?.strip_suffix(" removed"))
        .map(str::to_owned)
        .collect();
    let mut drift_note = String::new();
    if !adopted.is_empty() {
        drift_note.push_str(&format!("; {}", adopted.describe()));
        outcome.warnings.extend(crate::warning::in_database(
            adopted.warnings.clone(),
            dbname,
        ));
    }
    if !outcome.tables_dropped.is_empty() {
        let w = format!(
            "tables dropped on the source since replication was set up (still on the target): {}",
            outcome.tables_dropped.join(", ")
        );
        outcome
            .warnings
            .push(Warning::replication(w.clone()).in_database(dbname));
        drift_note.push_str(&format!("; {w}"));
    }
    if !followed.applied.is_empty() {
        drift_note.push_str(&format!(
            "; schema changes of the source applied on the target: {}",
            followed.applied.join(", ")
        ));
    }
    outcome.warnings.extend(crate::warning::in_database(
        std::mem::take(&mut followed.warnings),
        dbname,
    ));
    let level = |d: &str| {
        d.strip_prefix("table ")
            .and_then(|t| t.strip_suffix(" changed"))
            .is_some_and(|t| followed.level.contains(t))
            || d.strip_prefix("type ")
                .and_then(|t| t.strip_suffix(" changed"))
                .is_some_and(|t| followed.level.contains(&format!("type {t}")))
    };
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
    if !in_sync && opts.cutover.is_some() {
        // --cutover refuses rather than leaving the database running with exit code 0.
        return Err(Error::new(
            ErrorKind::Validation,
            format!(
                "cut-over refused, nothing was changed (replication keeps running): not in sync within --replication-timeout ({} s): lag {} bytes (--cutover-max-lag {max}), or tables not yet ready in pg_subscription_rel; run the cut-over again later, or raise --replication-timeout{drift_note}",
                opts.replication_timeout.as_secs(),
                outcome
                    .lag_bytes
                    .map(|l| l.to_string())
                    .unwrap_or_else(|| "unknown".into())
            ),
        )
        .with_side(Side::Target)
        .with_database(dbname));
    }
    if !in_sync {
        outcome.status = DbStatus::Running;
        outcome.message = format!(
            "logical replication running, but not in sync within --replication-timeout ({} s): lag {} bytes; the replication objects are kept: run again with --max-replication-lag and --stop-replication to cut over, or --cleanup to remove them{drift_note}",
            opts.replication_timeout.as_secs(),
            outcome
                .lag_bytes
                .map(|l| l.to_string())
                .unwrap_or_else(|| "unknown".into())
        );
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
