//! `--verify-statistics`: the planner statistics of the compared tables, source against
//! target, field by field (`pg_stats`). A new ANALYZE samples again, so on a target older than
//! 18 (or with `--statistics analyze`) differences are expected: they are listed, and do not
//! make the database differ, since its data may still be equal.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::catalog::verify::STATISTICS_FIELDS;

/// The comparison of one database's statistics.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatisticsVerify {
    /// Column statistics (per inheritance flag) the source has for the compared tables.
    pub columns: u64,
    /// Of those, equal on the target in every field.
    pub equal: u64,
    pub differences: Vec<StatisticsDifference>,
    /// More differences than listed (`--verify-max-rows` per table).
    pub more_differences: bool,
}

/// One column whose statistics differ.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatisticsDifference {
    pub schema: String,
    pub table: String,
    pub column: String,
    pub inherited: bool,
    /// The `pg_stats` fields that differ, or `missing on the target`.
    pub fields: Vec<String>,
}

type StatisticsKey = (String, String, String, String);

fn by_key(rows: Vec<Vec<Option<String>>>) -> BTreeMap<StatisticsKey, Vec<Option<String>>> {
    rows.into_iter()
        .map(|mut r| {
            let rest = r.split_off(4.min(r.len()));
            let g = |i: usize| r.get(i).cloned().flatten().unwrap_or_default();
            ((g(0), g(1), g(2), g(3)), rest)
        })
        .collect()
}

/// Compares the source's and the target's `pg_stats` rows (as
/// [`crate::catalog::verify::column_statistics`] reads them) of the `tables` compared.
pub fn compare(
    source: Vec<Vec<Option<String>>>,
    target: Vec<Vec<Option<String>>>,
    tables: &BTreeSet<(String, String)>,
    max_rows: usize,
) -> StatisticsVerify {
    let target = by_key(target);
    let mut out = StatisticsVerify {
        columns: 0,
        equal: 0,
        differences: Vec::new(),
        more_differences: false,
    };
    let mut listed: BTreeMap<(String, String), usize> = BTreeMap::new();
    for (key, values) in by_key(source) {
        if !tables.contains(&(key.0.clone(), key.1.clone())) {
            continue;
        }
        out.columns += 1;
        let fields: Vec<String> = match target.get(&key) {
            None => vec!["missing on the target".into()],
            Some(t) => STATISTICS_FIELDS
                .iter()
                .zip(values.iter().zip(t))
                .filter(|(_, (a, b))| a != b)
                .map(|(f, _)| f.to_string())
                .collect(),
        };
        if fields.is_empty() {
            out.equal += 1;
            continue;
        }
        let n = listed.entry((key.0.clone(), key.1.clone())).or_default();
        if *n >= max_rows {
            out.more_differences = true;
            continue;
        }
        *n += 1;
        out.differences.push(StatisticsDifference {
            schema: key.0,
            table: key.1,
            column: key.2,
            inherited: key.3 == "true",
            fields,
        });
    }
    out
}

impl StatisticsVerify {
    /// One phrase for the database's summary.
    pub fn summary(&self) -> String {
        format!(
            "statistics: {} of {} columns equal",
            self.equal, self.columns
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(table: &str, col: &str, null_frac: &str, mcv: &str) -> Vec<Option<String>> {
        let mut r = vec![
            Some("s".into()),
            Some(table.into()),
            Some(col.into()),
            Some("false".into()),
            Some(null_frac.into()),
            Some("4".into()),
            Some("-1".into()),
            Some(mcv.into()),
        ];
        r.resize(4 + STATISTICS_FIELDS.len(), None);
        r
    }

    #[test]
    fn equal_differing_and_missing_columns_of_compared_tables_only() {
        let tables = BTreeSet::from([("s".to_string(), "t".to_string())]);
        let source = vec![
            row("t", "a", "0", "{1,2}"),
            row("t", "b", "0.5", "{x}"),
            row("t", "c", "0", "{}"),
            row("other", "a", "0", "{1}"),
        ];
        let target = vec![row("t", "a", "0", "{1,2}"), row("t", "b", "0.5", "{y}")];
        let v = compare(source, target, &tables, 10);
        assert_eq!((v.columns, v.equal), (3, 1));
        assert_eq!(v.differences[0].column, "b");
        assert_eq!(v.differences[0].fields, vec!["most_common_vals"]);
        assert_eq!(v.differences[1].fields, vec!["missing on the target"]);
        assert_eq!(v.summary(), "statistics: 1 of 3 columns equal");
        let capped = compare(
            vec![row("t", "b", "0.5", "{x}"), row("t", "c", "0", "{}")],
            vec![],
            &tables,
            1,
        );
        assert_eq!(capped.differences.len(), 1);
        assert!(capped.more_differences);
    }
}
