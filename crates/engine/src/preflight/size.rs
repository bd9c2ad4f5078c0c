//! The `size` check (`--dbs-max-total-size`). Sizes in messages are `indicatif::HumanBytes`
//! (binary units), as in the progress display and the copy summary.

use crate::catalog::databases::database_size;
use crate::conn::Session;
use crate::remedy::{Remedy, Setting};
use crate::report::ValidationReport;

pub(super) async fn check_size(
    report: &mut ValidationReport,
    source: &Session,
    source_user: &str,
    selected: &[String],
    limit: u64,
) {
    let mut total: u64 = 0;
    for db in selected {
        match database_size(source, db).await {
            Ok(Some(n)) => total = total.saturating_add(n.max(0) as u64),
            Ok(None) => report.warning(
                "size",
                Some(db),
                format!(
                    "the size of database \"{db}\" cannot be read by the source user \
                     \"{source_user}\" (it needs CONNECT on the database or pg_read_all_stats), \
                     so it is not counted against {}",
                    Setting::DbsMaxTotalSize
                ),
            ),
            Err(e) => report.warning(
                "size",
                Some(db),
                format!(
                    "could not read the size of database \"{db}\": {e}; it is not counted \
                     against {}",
                    Setting::DbsMaxTotalSize
                ),
            ),
        }
    }
    if total > limit {
        report.error(
            "size",
            None,
            format!(
                "the databases to migrate total {} ({total} bytes), more than the limit of {} \
                 ({limit} bytes, {}): raise the limit, or leave databases out \
                 with {}",
                indicatif::HumanBytes(total),
                indicatif::HumanBytes(limit),
                Setting::DbsMaxTotalSize,
                Setting::FilteredDbs
            ),
        );
        report.remedies([Remedy::Raise {
            setting: Setting::DbsMaxTotalSize,
        }]);
    }
}
