//! The source's planner statistics carried once more at the cut-over.
//!
//! The copy restored them after the initial copy (see [`crate::copy::statistics`]), but a
//! replication runs for days while the source's ANALYZE keeps refreshing them. So once the
//! subscription is dropped (it no longer matters how long this takes for the switch), every
//! table of the target database gets the source's latest: the target starts its life with the
//! statistics the application's plans were made with. Only with `--statistics restore` on an
//! 18+ target; a failure is a warning, never a failed cut-over.

use crate::catalog::replication::columns::table_columns;
use crate::conn::Session;
use crate::copy::statistics::{self, StatisticsMode, StatisticsReport};
use crate::warning::Warning;

use super::ReplicationOutcome;

/// Restores the source's statistics of every table of the target database; says what it did in
/// `outcome`'s message and warnings.
pub(super) async fn carry_at_cut_over(
    src: &Session,
    tgt: &Session,
    dbname: &str,
    mode: StatisticsMode,
    outcome: &mut ReplicationOutcome,
) {
    if mode.effective(tgt.server_version_num()) != StatisticsMode::Restore {
        return;
    }
    let tables = match table_columns(tgt).await {
        Ok(t) => t,
        Err(e) => {
            outcome.warnings.push(
                Warning::data(format!(
                    "the source's statistics were not carried again at the cut-over: {e}"
                ))
                .in_database(dbname),
            );
            return;
        }
    };
    let mut report = StatisticsReport {
        method: StatisticsMode::Restore,
        ..Default::default()
    };
    for t in &tables {
        let (mut s, mut g) = (src, tgt);
        match statistics::restore(&mut s, &mut g, &t.schema, &t.name, false).await {
            Ok(o) => {
                if !o.refused.is_empty() {
                    outcome.warnings.push(
                        Warning::data(format!(
                            "statistics of table {} at the cut-over: {}",
                            t.regclass,
                            o.refused.join("; ")
                        ))
                        .in_database(dbname)
                        .on(format!("table {}", t.regclass)),
                    );
                }
                report.add(&o);
            }
            Err(e) => outcome.warnings.push(
                Warning::data(format!(
                    "the statistics of table {} could not be carried at the cut-over: {e}",
                    t.regclass
                ))
                .in_database(dbname)
                .on(format!("table {}", t.regclass)),
            ),
        }
    }
    outcome
        .message
        .push_str(&format!("; at the cut-over, {}", report.summary()));
}
