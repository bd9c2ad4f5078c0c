//! The cut-over, once the subscription is in sync and `--stop-replication` or `--cutover`
//! asks for it. `--cutover` is the fenced form ([`fenced`], [`super::fence`], with the
//! timeline of [`super::timeline`]). The unfenced one: wait
//! until the target confirmed the source's current WAL position, copy the sequence values
//! (with [`crate::copy::sequences`], the copy's implementation), drop subscription, publication
//! and slot (with `--verify`, the two sides are compared before anything is dropped: see
//! [`super::verify`]), then put back the replica identities `--replica-identity-full` set
//! (recorded in the publication's comment, read before it is dropped; see
//! [`super::identity`]).

use std::time::{Duration, Instant};

use tracing::{info, warn};

use super::fence;
use super::objects::TargetFacts;
use super::session::{CaughtUp, caught_up};
use super::timeline::{CutoverEnd, CutoverReport, FenceSummary, Timeline};
use super::{
    ObjectNames, ReplicationOptions, ReplicationOutcome, identity, objects, on_source, on_target,
    record,
};
use crate::catalog::replication::state;
use crate::conn::Session;
use crate::error::{Error, ErrorKind, Result, Side};
use crate::pair::DbPair;
use crate::remedy::{Remedy, Setting};
use crate::report::DbStatus;

/// What a cut-over works with (one struct rather than many arguments).
pub(crate) struct CutOver<'a> {
    pub pair: &'a DbPair,
    pub opts: &'a ReplicationOptions,
    pub src: &'a Session,
    pub tgt: &'a Session,
    pub tfacts: &'a TargetFacts,
    pub dbname: &'a str,
    /// `--replication-timeout`'s end: every wait gives up here, keeping everything.
    pub deadline: Instant,
    /// Ends the message (schema drift, tables adopted).
    pub drift_note: &'a str,
}

/// Cuts over `dbname` (in sync when called); gives up, keeping everything, at the deadline.
/// Updates `outcome`. With `--cutover` ([`ReplicationOptions::cutover`]) the fenced form
/// ([`fenced`]); else the unfenced one of `--max-replication-lag 0 --stop-replication`: wait
/// until the target confirmed the source's current WAL position, sync sequences, verify (with
/// `--verify`), drop the objects.
pub(crate) async fn cut_over(c: &CutOver<'_>, outcome: &mut ReplicationOutcome) -> Result<()> {
    if let Some(co) = &c.opts.cutover {
        return fenced(c, co, outcome).await;
    }
    let (src, dbname) = (c.src, c.dbname);
    let names = outcome.names.clone();
    // Cut-over: everything committed on the source so far must be applied on the target.
    if let CaughtUp::TimedOut(end_lsn) = caught_up(src, &names.slot, dbname, c.deadline).await? {
        outcome.status = DbStatus::Running;
        outcome.message = format!(
            "logical replication running, but the target did not confirm the source's WAL position {end_lsn} within {}; nothing was dropped: run again to cut over{}",
            Setting::ReplicationTimeout,
            c.drift_note
        );
        return Ok(());
    }
    sequences(c, outcome).await?;
    // Before anything is dropped: differences can then be compared again once caught up.
    if let Some(settings) = &c.opts.verify {
        let v = super::verify::at_cut_over(c.pair, settings, src, c.tgt, &names.slot, c.deadline)
            .await
            .map_err(|e| {
                e.context("verification at the cut-over failed; nothing was dropped: run again to cut over")
            })?;
        outcome.verify = Some(v);
    }
    let restored_note = switch(c, outcome).await?;
    outcome.status = DbStatus::Done;
    let synced = outcome.sequences_synced;
    let stopped = format!(
        "replication stopped after catching up: {synced} sequences synced, publication, slot and subscription dropped{restored_note}{}",
        c.drift_note
    );
    finish_message(outcome, stopped);
    Ok(())
}

fn finish_message(outcome: &mut ReplicationOutcome, stopped: String) {
    outcome.message = if outcome.message.is_empty() {
        format!("migrated with logical replication (started by an earlier run); {stopped}")
    } else {
        format!("{}; {stopped}", outcome.message)
    };
}

/// Copies the sequence values into `outcome`.
async fn sequences(c: &CutOver<'_>, outcome: &mut ReplicationOutcome) -> Result<()> {
    let (synced, seq_warnings) = sync_sequences(c.src, c.tgt, c.dbname).await?;
    outcome.sequences_synced = synced;
    outcome
        .warnings
        .extend(crate::warning::in_database(seq_warnings, c.dbname));
    Ok(())
}

/// The switch: drops subscription, publication and slot, then puts back the replica
/// identities `--replica-identity-full` set. Returns the note on what was put back.
async fn switch(c: &CutOver<'_>, outcome: &mut ReplicationOutcome) -> Result<String> {
    let (src, tgt, dbname) = (c.src, c.tgt, c.dbname);
    let names = outcome.names.clone();
    // Read before the publication (and its comment) is dropped.
    let altered = record::stored_changes(src, &names.publication)
        .await
        .map_err(|e| {
            on_source(e, dbname)
                .context("could not read which tables were set to REPLICA IDENTITY FULL; nothing was dropped")
        })?;
    let mut leftovers = Vec::new();
    if let Err(e) = objects::drop_subscription(tgt, &names.subscription, c.tfacts).await {
        leftovers.push(format!("subscription: {}", on_target(e, dbname)));
    }
    let publication_dropped = match objects::drop_publication(src, &names.publication).await {
        Ok(()) => true,
        Err(e) => {
            leftovers.push(format!("publication: {}", on_source(e, dbname)));
            false
        }
    };
    if let Err(e) = objects::drop_slot(src, &names.slot, Duration::from_secs(30)).await {
        leftovers.push(format!("slot: {}", on_source(e, dbname)));
    }
    // Only once the publication is gone: with it, the source's UPDATE and DELETE on these
    // tables would fail again. Left for --cleanup otherwise, which reads the same comment.
    let mut restored_note = String::new();
    if publication_dropped && !altered.is_empty() {
        match identity::restore(src, &altered).await {
            Ok(r) => {
                outcome.warnings.extend(
                    r.warnings.iter().map(|w| {
                        crate::warning::Warning::replication(w.clone()).in_database(dbname)
                    }),
                );
                if !r.failed.is_empty() {
                    leftovers.push(format!(
                        "replica identity not put back: {}",
                        r.failed.join("; ")
                    ));
                }
                let d = r.describe();
                if !d.is_empty() {
                    restored_note = format!(", {d}");
                }
            }
            Err(e) => leftovers.push(identity::not_restored(&altered, &on_source(e, dbname))),
        }
    }
    if !leftovers.is_empty() {
        return Err(Error::new(
            ErrorKind::Sql,
            format!(
                "replication stopped and sequences synced, but some objects could not be dropped or put back ({}); remove what is left with {}",
                leftovers.join("; "),
                Setting::Cleanup
            ),
        )
        .with_remedy(Remedy::RemoveReplication)
        .with_database(dbname)
        .with_phase(crate::error::Phase::CutOver));
    }
    Ok(restored_note)
}

/// How the steps between the fence and the switch ended.
enum AfterFence {
    /// Caught up, synced (and verified): the switch may start.
    Ready,
    /// `--max-downtime` was reached before the switch; the reason.
    Aborted(String),
}

/// The fenced cut-over (`--cutover`): readiness (refused with nothing changed when a table is
/// not ready, the lag is above `--cutover-max-lag` or the fence cannot be applied), the fence
/// ([`fence`]), the barrier (the source's WAL position after the fence, confirmed through the
/// slot), sequences (exact: nothing moves any more), `--verify`, the switch. With
/// `--max-downtime` the switch must start within the bound after the fence; otherwise, and on
/// an error or an interrupt after the fence, the fence is lifted exactly as it was and the
/// replication keeps running (status failed). A switched cut-over leaves the source fenced.
async fn fenced(
    c: &CutOver<'_>,
    co: &fence::CutoverOptions,
    outcome: &mut ReplicationOutcome,
) -> Result<()> {
    let (src, dbname) = (c.src, c.dbname);
    let names = outcome.names.clone();
    let mut tl = Timeline::new();
    let plan = readiness(c, co, &names, &mut tl).await?;
    info!(database = %dbname, roles = ?plan.roles, "cut-over: fencing the source's writes");
    tl.fence_starts();
    let bound = co
        .max_downtime
        .map(|d| Instant::now() + d)
        .unwrap_or(c.deadline)
        .min(c.deadline);
    let drain = co
        .drain
        .min(bound.saturating_duration_since(Instant::now()));
    let mut summary = FenceSummary {
        roles: plan.roles.clone(),
        sessions_ended: 0,
        drain_seconds: 0.0,
        in_flight_at_end: 0,
        lifted: false,
        lift_command: lift_command(dbname),
    };
    let fencing = Fencing {
        c,
        co,
        plan: &plan,
        bound,
        drain,
        publication: &names.publication,
    };
    let (end, switch_started) = fence_and_switch(&fencing, &mut summary, &mut tl, outcome).await;
    // From the start of the switch on, the fence stays.
    let (outcome_kind, why) = match &end {
        Ok(Some(Ok(_))) => (CutoverEnd::Switched, None),
        Ok(Some(Err(why))) => (CutoverEnd::Aborted, Some(why.clone())),
        Ok(None) => (
            CutoverEnd::Interrupted,
            Some("interrupted (signal) after the fence".to_owned()),
        ),
        Err(e) => (CutoverEnd::Failed, Some(e.to_string())),
    };
    let window = keep_or_lift(src, dbname, &plan, switch_started, &mut summary, &mut tl).await;
    let report = CutoverReport {
        outcome: outcome_kind,
        reason: why.clone(),
        barrier_lsn: tl
            .steps
            .iter()
            .find(|s| s.step == "barrier")
            .and_then(|s| s.detail.clone()),
        max_downtime_seconds: co.max_downtime.map(|d| d.as_secs_f64()),
        write_unavailable_seconds: window.as_secs_f64(),
        fenced_at_unix_seconds: tl.fenced_at_unix_seconds(),
        fence: Some(summary.clone()),
        steps: tl.steps,
        reverse: false,
    };
    let window_note = format!("write-unavailable window {:.3} s", window.as_secs_f64());
    outcome.cutover = Some(report);
    match end {
        Ok(Some(Ok(restored_note))) => {
            outcome.status = DbStatus::Done;
            let stopped = format!(
                "fenced cut-over: the source's writes fenced, the target confirmed the barrier, {} sequences synced, publication, slot and subscription dropped{restored_note}; {window_note}; the target is writable and the source stays fenced (lift it with: {}){}",
                outcome.sequences_synced, summary.lift_command, c.drift_note
            );
            finish_message(outcome, stopped);
            Ok(())
        }
        Err(e) if switch_started => {
            // Some objects could not be dropped: the target may be writable already, so the
            // source stays fenced.
            Err(e.context(format!(
                "the source stays fenced ({window_note}; lift it with: {})",
                summary.lift_command
            )))
        }
        _ => {
            outcome.status = DbStatus::Failed;
            let lifted = if summary.lifted {
                "the fence was lifted as it was".to_owned()
            } else {
                format!(
                    "the fence could NOT be lifted: run {}",
                    summary.lift_command
                )
            };
            outcome.message = format!(
                "cut-over {}: {}; {lifted}; replication keeps running ({window_note}): run the cut-over again",
                match outcome_kind {
                    CutoverEnd::Aborted => "aborted",
                    CutoverEnd::Interrupted => "interrupted",
                    _ => "failed after the fence",
                },
                why.unwrap_or_default()
            );
            Ok(())
        }
    }
}

/// Readiness: nothing is changed before every check passed (the lag and the tables, the
/// fence's plan, with `--fail-back-ready` the reverse replication's). Returns the fence's
/// plan, the step on `tl`.
async fn readiness(
    c: &CutOver<'_>,
    co: &fence::CutoverOptions,
    names: &ObjectNames,
    tl: &mut Timeline,
) -> Result<fence::FencePlan> {
    let (src, tgt, dbname) = (c.src, c.tgt, c.dbname);
    let st = super::session::lag_status(src, tgt, dbname, names, Instant::now()).await?;
    if !st.in_sync(co.max_lag) {
        return Err(Error::new(
            ErrorKind::Validation,
            format!(
                "cut-over refused, nothing was changed (replication keeps running): {}",
                not_ready(&st, co.max_lag)
            ),
        )
        .with_side(Side::Target)
        .with_database(dbname));
    }
    let mut excluded = vec![c.pair.source().user()];
    if let Some(ci) = &c.opts.subscription_conninfo {
        excluded.push(ci.user());
    }
    let plan = fence::readiness(src, dbname, &names.publication, co, &excluded).await?;
    if co.fail_back_ready {
        super::reverse::check(c.pair, src, tgt).await?;
    }
    tl.step(
        "readiness",
        Some(format!(
            "lag {} bytes, {} tables ready; fence roles: {}",
            st.lag_bytes.unwrap_or(0),
            st.tables_total,
            if plan.roles.is_empty() {
                "none".to_owned()
            } else {
                plan.roles.join(", ")
            }
        )),
    );
    Ok(plan)
}

/// What the fence and the switch after it work with.
struct Fencing<'a> {
    c: &'a CutOver<'a>,
    co: &'a fence::CutoverOptions,
    plan: &'a fence::FencePlan,
    /// `--max-downtime` after the fence (at most the deadline).
    bound: Instant,
    /// How long the fence waits for the transactions in flight.
    drain: Duration,
    /// The forward publication (its tables are the reverse replication's).
    publication: &'a str,
}

/// How a fenced cut-over ended: `Ok(Some(Ok(note)))` switched (the note on the replica
/// identities put back), `Ok(Some(Err(why)))` aborted at `--max-downtime`, `Ok(None)`
/// interrupted, `Err` failed.
type FencedEnd = Result<Option<std::result::Result<String, String>>>;

/// The fence, the steps after it (cut short by an interrupt) and the switch. Returns how it
/// ended and whether the switch started (from then on, the fence stays).
async fn fence_and_switch(
    f: &Fencing<'_>,
    summary: &mut FenceSummary,
    tl: &mut Timeline,
    outcome: &mut ReplicationOutcome,
) -> (FencedEnd, bool) {
    let (c, co) = (f.c, f.co);
    let applied = fence::apply(c.src, f.plan, f.drain).await;
    match applied {
        Err(e) => (Err(e), false),
        Ok(a) => {
            summary.sessions_ended = a.sessions_ended;
            summary.drain_seconds = a.drain_seconds;
            summary.in_flight_at_end = a.in_flight_at_end;
            tl.step(
                "fence applied",
                Some(format!(
                    "default_transaction_read_only = on for new sessions; {} sessions ended after {:.3} s waiting for {} transactions in flight",
                    a.sessions_ended,
                    a.drain_seconds,
                    if a.in_flight_at_end == 0 { "no more".to_owned() } else { format!("{} (ended)", a.in_flight_at_end) }
                )),
            );
            let steps = after_fence(c, tl, f.bound, outcome);
            let r = tokio::select! {
                r = steps => r.map(Some),
                () = c.pair.cancel().cancelled() => Ok(None),
            };
            // The switch itself is never cut short: a half-dropped subscription with the fence
            // lifted would leave both servers writable.
            // The reverse replication is not cut short either: half of it with the fence
            // lifted could send the forward changes back.
            let r = match r {
                Ok(Some(AfterFence::Ready)) if co.fail_back_ready => {
                    match fail_back_ready(c, f.publication).await {
                        Ok(done) => {
                            tl.step("fail-back ready", Some(done));
                            Ok(Some(AfterFence::Ready))
                        }
                        Err(e) => Err(e),
                    }
                }
                r => r,
            };
            match r {
                Ok(Some(AfterFence::Ready)) => match switch(c, outcome).await {
                    Ok(note) => {
                        tl.step(
                            "objects dropped",
                            Some("subscription, publication and slot dropped".to_owned()),
                        );
                        (Ok(Some(Ok(note))), true)
                    }
                    Err(e) => (Err(e), true),
                },
                Ok(Some(AfterFence::Aborted(why))) => (Ok(Some(Err(why))), false),
                Ok(None) => (Ok(None), false),
                Err(e) => (Err(e), false),
            }
        }
    }
}

/// Once the switch started the fence stays; else it is lifted exactly as it was (the
/// replication objects were not touched). Returns the write-unavailable window.
async fn keep_or_lift(
    src: &Session,
    dbname: &str,
    plan: &fence::FencePlan,
    switch_started: bool,
    summary: &mut FenceSummary,
    tl: &mut Timeline,
) -> Duration {
    let window;
    if switch_started {
        window = tl.window();
        fence::keep(dbname);
    } else {
        // Lift the fence exactly as it was; the replication objects were not touched.
        match fence::lift(src, dbname, &plan.record).await {
            Ok(done) => {
                summary.lifted = true;
                tl.step("fence lifted", Some(done));
            }
            Err(e) => {
                warn!(database = %dbname, "{e}");
                tl.step(
                    "fence not lifted",
                    Some(format!("{e}; lift it with: {}", summary.lift_command)),
                );
            }
        }
        window = tl.window();
    }
    window
}

/// The steps between the fence and the switch, each checked against `bound`
/// (`--max-downtime` after the fence).
async fn after_fence(
    c: &CutOver<'_>,
    tl: &mut Timeline,
    bound: Instant,
    outcome: &mut ReplicationOutcome,
) -> Result<AfterFence> {
    let (src, dbname) = (c.src, c.dbname);
    let names = outcome.names.clone();
    let over = |tl: &Timeline, what: &str| {
        AfterFence::Aborted(format!(
            "{what}: the switch was not reached within {} ({:.3} s after the fence)",
            Setting::MaxDowntime,
            tl.window().as_secs_f64()
        ))
    };
    let barrier = state::current_wal_lsn(src)
        .await
        .map_err(|e| on_source(e, dbname))?;
    tl.step("barrier", Some(barrier.clone()));
    if Instant::now() >= bound {
        return Ok(over(tl, "after the barrier"));
    }
    if !confirmed(src, &names.slot, dbname, &barrier, bound).await? {
        tl.step(
            "not caught up",
            Some(format!("the slot had not confirmed {barrier}")),
        );
        return Ok(over(
            tl,
            &format!("the target had not confirmed the barrier {barrier}"),
        ));
    }
    tl.step("caught up", Some(format!("the slot confirmed {barrier}")));
    sequences(c, outcome).await?;
    tl.step(
        "sequences synced",
        Some(format!("{} sequences", outcome.sequences_synced)),
    );
    if Instant::now() >= bound {
        return Ok(over(tl, "after the sequences"));
    }
    if let Some(settings) = &c.opts.verify {
        let left = bound.saturating_duration_since(Instant::now());
        let verify = super::verify::at_cut_over(c.pair, settings, src, c.tgt, &names.slot, bound);
        match tokio::time::timeout(left, verify).await {
            Err(_) => return Ok(over(tl, "during verification")),
            Ok(v) => {
                let v = v.map_err(|e| e.context("verification at the cut-over failed"))?;
                tl.step(
                    "verified",
                    Some(if v.is_equal() { "equal" } else { "differs" }.to_owned()),
                );
                outcome.verify = Some(v);
            }
        }
        if Instant::now() >= bound {
            return Ok(over(tl, "after verification"));
        }
    }
    Ok(AfterFence::Ready)
}

/// `--fail-back-ready`: the reverse replication, at the barrier ([`super::failback`]).
async fn fail_back_ready(c: &CutOver<'_>, publication: &str) -> Result<String> {
    let tables = super::reverse::published_tables(c.src, publication)
        .await
        .map_err(|e| on_source(e, c.dbname))?;
    super::reverse::set_up(c.pair, c.src, c.tgt, &tables).await
}

/// Why a database is not ready for the fence, and what to do.
fn not_ready(st: &super::LagStatus, max: u64) -> String {
    if st.tables_not_ready > 0 {
        format!(
            "{} of {} tables are not yet ready in pg_subscription_rel (still being copied): wait for them ({} waits) and run the cut-over again",
            st.tables_not_ready,
            st.tables_total,
            Setting::MaxReplicationLag
        )
    } else if !st.slot_active {
        "the subscription's worker is not streaming from the slot: check that the subscription is enabled and the target reaches the source".to_owned()
    } else {
        format!(
            "the lag is {} bytes, above {lag} ({max} bytes): the fence would last until the target applied it; wait until it falls ({wait}) or raise {lag}",
            st.lag_bytes
                .map(|l| l.to_string())
                .unwrap_or_else(|| "unknown".into()),
            lag = Setting::CutoverMaxLag,
            wait = Setting::MaxReplicationLag,
        )
    }
}

/// The command that lifts the fence of `db`.
fn lift_command(db: &str) -> String {
    format!(
        "pg_migrate -s SOURCE -t TARGET {} {} {} (the -s and -t of this run)",
        Setting::OnlyDbs,
        crate::sql::quote_ident(db),
        Setting::Unfence
    )
}

/// Waits until the slot confirmed `lsn`, or `bound`.
async fn confirmed(
    src: &Session,
    slot: &str,
    dbname: &str,
    lsn: &str,
    bound: Instant,
) -> Result<bool> {
    loop {
        let ok = state::slot_confirmed(src, slot, lsn)
            .await
            .map_err(|e| on_source(e, dbname))?;
        if ok == Some(true) {
            return Ok(true);
        }
        if Instant::now() >= bound {
            return Ok(false);
        }
        let left = bound.saturating_duration_since(Instant::now());
        tokio::time::sleep(Duration::from_millis(10).min(left)).await;
    }
}

/// Copies every sequence's value from the source database to the target database (user
/// sequences and extension configuration sequences, as the copy does). Returns the number synced
/// and warnings for sequences that could not be.
pub async fn sync_sequences(
    src: &Session,
    tgt: &Session,
    dbname: &str,
) -> Result<(usize, Vec<crate::warning::Warning>)> {
    let seqs = crate::copy::sequences::list(src, dbname, true).await?;
    Ok(crate::copy::sequences::sync(src, tgt, &seqs).await)
}
