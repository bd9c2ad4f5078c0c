//! The cut-over, once the subscription is in sync and `--stop-replication` asks for it: wait
//! until the target confirmed the source's current WAL position, copy the sequence values
//! (with [`crate::copy::sequences`], the copy's implementation), drop subscription, publication
//! and slot (with `--verify`, the two sides are compared before anything is dropped: see
//! [`super::verify`]), then put back the replica identities `--replica-identity-full` set
//! (recorded in the publication's comment, read before it is dropped; see
//! [`super::identity`]).

use std::time::{Duration, Instant};

use super::objects::TargetFacts;
use super::{ReplicationOutcome, identity, objects, on_source, on_target, record};
use crate::catalog::replication::state;
use crate::conn::Session;
use crate::error::{Error, ErrorKind, Result};
use crate::pair::DbPair;
use crate::report::DbStatus;

/// Cuts over `dbname` (in sync when called); gives up, keeping everything, at `deadline`.
/// Updates `outcome`; `drift_note` ends its message. With `verify`, compares the two sides
/// once caught up and before anything is dropped ([`super::verify`]).
#[allow(clippy::too_many_arguments)]
pub(super) async fn cut_over(
    pair: &DbPair,
    verify: Option<&crate::verify::Settings>,
    src: &Session,
    tgt: &Session,
    tfacts: &TargetFacts,
    dbname: &str,
    deadline: Instant,
    drift_note: &str,
    outcome: &mut ReplicationOutcome,
) -> Result<()> {
    let names = outcome.names.clone();
    // Cut-over: everything committed on the source so far must be applied on the target.
    if let CaughtUp::TimedOut(end_lsn) = caught_up(src, &names.slot, dbname, deadline).await? {
        outcome.status = DbStatus::Running;
        outcome.message = format!(
            "logical replication running, but the target did not confirm the source's WAL position {end_lsn} within --replication-timeout; nothing was dropped: run again to cut over{drift_note}"
        );
        return Ok(());
    }
    let (synced, seq_warnings) = sync_sequences(src, tgt, dbname).await?;
    outcome.sequences_synced = synced;
    outcome
        .warnings
        .extend(crate::warning::in_database(seq_warnings, dbname));
    // Before anything is dropped: differences can then be compared again once caught up.
    if let Some(settings) = verify {
        let v = super::verify::at_cut_over(pair, settings, src, &names.slot, deadline)
            .await
            .map_err(|e| {
                e.context("verification at the cut-over failed; nothing was dropped: run again to cut over")
            })?;
        outcome.verify = Some(v);
    }
    // Read before the publication (and its comment) is dropped.
    let altered = record::stored_changes(src, &names.publication)
        .await
        .map_err(|e| {
            on_source(e, dbname)
                .context("could not read which tables were set to REPLICA IDENTITY FULL; nothing was dropped")
        })?;
    let mut leftovers = Vec::new();
    if let Err(e) = objects::drop_subscription(tgt, &names.subscription, tfacts).await {
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
                "replication stopped and sequences synced, but some objects could not be dropped or put back ({}); remove what is left with --cleanup",
                leftovers.join("; ")
            ),
        )
        .with_database(dbname)
        .with_phase(crate::error::Phase::CutOver));
    }
    outcome.status = DbStatus::Done;
    let stopped = format!(
        "replication stopped after catching up: {synced} sequences synced, publication, slot and subscription dropped{restored_note}{drift_note}"
    );
    outcome.message = if outcome.message.is_empty() {
        format!("migrated with logical replication (started by an earlier run); {stopped}")
    } else {
        format!("{}; {stopped}", outcome.message)
    };
    Ok(())
}
/// Where waiting for the target to apply the source's current WAL position ended.
pub(super) enum CaughtUp {
    /// The target confirmed the position.
    Confirmed,
    /// `deadline` passed before it confirmed this one.
    TimedOut(String),
}

/// Waits until the target confirmed (through the slot) everything the source committed up to
/// now, or until `deadline`.
pub(super) async fn caught_up(
    src: &Session,
    slot: &str,
    dbname: &str,
    deadline: Instant,
) -> Result<CaughtUp> {
    let end_lsn = state::current_wal_lsn(src)
        .await
        .map_err(|e| on_source(e, dbname))?;
    loop {
        let confirmed = state::slot_confirmed(src, slot, &end_lsn)
            .await
            .map_err(|e| on_source(e, dbname))?;
        if confirmed == Some(true) {
            return Ok(CaughtUp::Confirmed);
        }
        if Instant::now() >= deadline {
            return Ok(CaughtUp::TimedOut(end_lsn));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
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
