//! The vocabulary a running replication's waits, its cut-over, the verification at the
//! cut-over and the schema following share: the session value [`Replicating`] and the two
//! readings of where the replication stands ([`lag_status`], [`caught_up`]). Below all of them,
//! so that the cut-over is entered from above (the wait, the fail-back) and never reaches back.

use std::time::{Duration, Instant};

use super::objects::TargetFacts;
use super::{LagStatus, ObjectNames, ReplicationOptions, on_source, on_target};
use crate::catalog::replication::state;
use crate::conn::Session;
use crate::error::{Error, ErrorKind, Result, Side};
use crate::pair::DbPair;
use crate::sql::quote_ident;

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
