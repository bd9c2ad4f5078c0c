//! `--verify` at the cut-over: the target compared with the source once it applied everything
//! up to the source's WAL position, before the subscription is dropped, so that rows that
//! differ only because their changes were still in flight can be compared again after the lag
//! reached 0 once more. Only differences that persist are reported
//! ([`crate::verify::TableVerify::rechecked`]); with writes to the source stopped, the first
//! comparison is already exact.

use std::collections::BTreeSet;
use std::time::Instant;

use super::session::{CaughtUp, caught_up};
use crate::conn::Session;
use crate::error::Result;
use crate::pair::DbPair;
use crate::verify::{Settings, VerifyJob, VerifyReport};

/// Comparisons of the differing tables after the first, at most.
pub const RECHECK_ROUNDS: u32 = 3;
/// Differing keys each comparison collects per table, at least: a re-check can tell a
/// difference that persists only from a complete list of the earlier round's keys, and rows
/// in flight can be more than `--verify-max-rows`. The report lists `--verify-max-rows`.
const RECHECK_KEYS: usize = 1000;

/// Compares the database (in sync when called), then, up to [`RECHECK_ROUNDS`] times, waits
/// until the target confirmed the source's current WAL position again and compares the
/// tables that still differ. Stops early when a round changes nothing (the differences
/// persist) or the wait reaches `deadline` (the report stands as it is). The schema is
/// compared too ([`crate::verify::schema`]): it may have changed during the replication.
pub(super) async fn at_cut_over(
    pair: &DbPair,
    settings: &Settings,
    src: &Session,
    tgt: &Session,
    slot: &str,
    deadline: Instant,
) -> Result<VerifyReport> {
    let mut report = job(pair, settings, None).run().await?;
    for _ in 0..RECHECK_ROUNDS {
        let differing = report.differing_tables();
        if differing.is_empty() {
            break;
        }
        match caught_up(src, slot, pair.source_db(), deadline).await? {
            CaughtUp::Confirmed => {}
            CaughtUp::TimedOut(_) => break,
        }
        let again = job(pair, settings, Some(&differing)).run().await?;
        if !report.recheck(again) {
            break;
        }
    }
    report.truncate_differences(settings.max_rows);
    report.schema = Some(crate::verify::schema::compare(src, tgt).await?);
    report.settle();
    Ok(report)
}

/// A comparison at the cut-over, of `only` these tables when given.
fn job<'a>(
    pair: &'a DbPair,
    settings: &Settings,
    only: Option<&'a BTreeSet<(String, String)>>,
) -> VerifyJob<'a> {
    VerifyJob {
        max_rows: settings.max_rows.max(RECHECK_KEYS),
        only,
        at_cut_over: true,
        ..VerifyJob::new(pair, settings)
    }
}
