//! The `size` check (`--dbs-max-total-size`) and the byte formatting its messages (and the
//! selection's size check, and the copy summary) use.

use crate::catalog::databases::database_size;
use crate::conn::Session;
use crate::report::ValidationReport;

/// `1536` -> `1.5 KiB`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

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
                     so it is not counted against --dbs-max-total-size"
                ),
            ),
            Err(e) => report.warning(
                "size",
                Some(db),
                format!(
                    "could not read the size of database \"{db}\": {e}; it is not counted \
                     against --dbs-max-total-size"
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
                 ({limit} bytes, --dbs-max-total-size): raise the limit, or leave databases out \
                 with -f",
                human_bytes(total),
                human_bytes(limit)
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_sizes() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(10 * 1024 * 1024 * 1024), "10.0 GiB");
        assert_eq!(human_bytes(u64::MAX), "16.0 EiB");
    }
}
