//! What verification found, per database: the `verify` object of the JSON result and its
//! lines in the human report.
//!
//! # JSON field names (stable)
//!
//! ```json
//! "verify": {
//!   "status": "equal|differs|failed",
//!   "as_of": "copy snapshot|now|cut-over",
//!   "rechecks": 0,
//!   "seconds": 1.2,
//!   "tables": [ { "schema": "public", "table": "t", "status": "equal|differs|skipped|failed",
//!                 "reason": null | "only on the source" | "...",
//!                 "source_rows": 10, "target_rows": 9, "key": ["id"],
//!                 "differences": [ { "kind": "missing_on_target|extra_on_target|different",
//!                                    "key": ["42"], "columns": ["name"] } ],
//!                 "more_differences": false } ],
//!   "sequences": [ { "schema": "public", "sequence": "s", "status": "equal|differs|skipped",
//!                    "reason": null, "source": { "last_value": "5", "is_called": true },
//!                    "target": { "last_value": "5", "is_called": true } } ],
//!   "large_objects": { "status": "equal|differs|skipped", "source_count": 2, "target_count": 2,
//!                      "differences": [ { "oid": 16400,
//!                        "kind": "missing_on_target|extra_on_target|different_owner|different_content|unreadable" } ],
//!                      "more_differences": false }
//! }
//! ```
//!
//! `rechecks` counts the re-comparisons of the differing tables at a replication cut-over
//! (after the lag reached 0 again): a table's differences are the keys that differed every
//! time, and a table whose differences all went away is `equal`, with a `reason` saying so.
//!
//! `key` of a difference holds the text of each key column, in the order of the table's `key`
//! (empty, with no differences listed, for a table without a usable key: only counts and
//! content hashes are compared). `columns` names the columns whose text differs (only for
//! `different`). Values other than keys never appear in the report.

use crate::remedy::Setting;
use std::collections::BTreeSet;
use std::fmt::Write as _;

use serde::Serialize;

/// The outcome of comparing one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum VerifyStatus {
    Equal,
    Differs,
    /// Not compared; `reason` says why.
    Skipped,
    /// The comparison itself failed (a server error); `reason` has the error.
    Failed,
}

impl VerifyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            VerifyStatus::Equal => "equal",
            VerifyStatus::Differs => "differs",
            VerifyStatus::Skipped => "skipped",
            VerifyStatus::Failed => "failed",
        }
    }
}

/// How one row differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RowDiffKind {
    MissingOnTarget,
    ExtraOnTarget,
    Different,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowDifference {
    pub kind: RowDiffKind,
    /// Text of each key column.
    pub key: Vec<String>,
    /// Columns whose text differs (`different` only).
    pub columns: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TableVerify {
    pub schema: String,
    pub table: String,
    pub status: VerifyStatus,
    pub reason: Option<String>,
    pub source_rows: Option<u64>,
    pub target_rows: Option<u64>,
    /// The key columns rows are told apart by (empty: none usable).
    pub key: Vec<String>,
    pub differences: Vec<RowDifference>,
    /// More rows differ than are listed (`--verify-max-rows`).
    pub more_differences: bool,
    pub seconds: f64,
}

impl TableVerify {
    pub fn skipped(schema: &str, table: &str, reason: impl Into<String>) -> Self {
        TableVerify {
            schema: schema.into(),
            table: table.into(),
            status: VerifyStatus::Skipped,
            reason: Some(reason.into()),
            source_rows: None,
            target_rows: None,
            key: Vec::new(),
            differences: Vec::new(),
            more_differences: false,
            seconds: 0.0,
        }
    }

    /// This table compared again later as `after`. A difference that persists is in both:
    /// when this comparison listed all its differing keys, only the keys also listed by
    /// `after` are kept, and the table is `equal` when none is left (the rows differed only
    /// while changes were being applied). Otherwise (no key, more differences than listed,
    /// or `after` not differing) `after` stands as it is.
    pub fn rechecked(&self, after: TableVerify) -> TableVerify {
        let complete = |t: &TableVerify| {
            t.status == VerifyStatus::Differs && !t.more_differences && !t.differences.is_empty()
        };
        let mut out = after;
        if self.status == VerifyStatus::Differs && out.status == VerifyStatus::Equal {
            out.reason = Some(TRANSIENT.into());
        } else if complete(self) && complete(&out) {
            let before: BTreeSet<&Vec<String>> = self.differences.iter().map(|d| &d.key).collect();
            out.differences.retain(|d| before.contains(&d.key));
            if out.differences.is_empty() {
                out.status = VerifyStatus::Equal;
                out.reason = Some(TRANSIENT.into());
            }
        }
        out
    }

    /// Whether this table makes the database differ: a difference, a failed comparison, or a
    /// table missing on the target.
    pub fn counts_as_difference(&self) -> bool {
        match self.status {
            VerifyStatus::Equal => false,
            VerifyStatus::Differs | VerifyStatus::Failed => true,
            VerifyStatus::Skipped => self.reason.as_deref() == Some(ONLY_ON_SOURCE),
        }
    }
}

/// What the reason of an object one side's user may not read contains: it was not compared, so
/// the database cannot be reported equal (its status is `failed`, not `equal`).
pub const UNREADABLE: &str = "user may not read it";

/// The reason of large objects whose contents one side's user may not read.
pub const LARGE_OBJECTS_UNREADABLE: &str = "the contents of some large objects cannot be read";

/// Whether a skipped object's `reason` says it could not be read: an equality not proven.
pub fn unreadable(status: VerifyStatus, reason: Option<&str>) -> bool {
    status == VerifyStatus::Skipped && reason.is_some_and(|r| r.contains(UNREADABLE))
}

/// The reason of a table that differed at a cut-over and no longer did when compared again.
pub const TRANSIENT: &str = "differed while changes were still being applied; equal when compared again after the lag reached 0";

/// The reason of a table that exists on the source only (it counts as a difference).
pub const ONLY_ON_SOURCE: &str = "only on the source";
/// The reason of a table that exists on the target only (it does not).
pub const ONLY_ON_TARGET: &str = "only on the target";

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SequenceSide {
    pub last_value: String,
    pub is_called: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SequenceVerify {
    pub schema: String,
    pub sequence: String,
    pub status: VerifyStatus,
    pub reason: Option<String>,
    pub source: Option<SequenceSide>,
    pub target: Option<SequenceSide>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LargeObjectDiffKind {
    MissingOnTarget,
    ExtraOnTarget,
    DifferentOwner,
    DifferentContent,
    /// One side's user may not read its contents.
    Unreadable,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LargeObjectDifference {
    pub oid: u32,
    pub kind: LargeObjectDiffKind,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LargeObjectsVerify {
    pub status: VerifyStatus,
    pub reason: Option<String>,
    pub source_count: u64,
    pub target_count: u64,
    pub differences: Vec<LargeObjectDifference>,
    pub more_differences: bool,
}

/// The comparison of one database.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VerifyReport {
    /// `equal` when nothing differs, `differs` otherwise, `failed` when some comparison
    /// could not be made (and nothing was found to differ).
    pub status: VerifyStatus,
    /// `copy snapshot`: the source as of the snapshot the copy read; `now`; `cut-over`: now,
    /// at a replication cut-over, once the target applied everything up to the source's WAL
    /// position.
    pub as_of: &'static str,
    /// Times the differing tables were compared again ([`VerifyReport::recheck`]).
    pub rechecks: u32,
    pub seconds: f64,
    pub tables: Vec<TableVerify>,
    pub sequences: Vec<SequenceVerify>,
    pub large_objects: LargeObjectsVerify,
    /// `--verify-statistics`: the planner statistics compared (they do not change `status`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statistics: Option<super::statistics::StatisticsVerify>,
    /// At a replication cut-over: the schema compared, changed during the replication or not
    /// ([`super::schema`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema: Option<SchemaVerify>,
}

/// The schema compared ([`super::schema::compare`]). A part of the report like the others, so
/// that the comparison imports the report's vocabulary and never the other way round.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SchemaVerify {
    pub status: VerifyStatus,
    /// Objects compared (the source's).
    pub objects: usize,
    /// `index public.i: only on the source`, `table public.t: definition differs`...
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub differences: Vec<String>,
}

impl VerifyReport {
    pub fn is_equal(&self) -> bool {
        self.status == VerifyStatus::Equal
    }

    /// The tables whose rows differ (not those skipped or failed), to compare again.
    pub fn differing_tables(&self) -> BTreeSet<(String, String)> {
        (self.tables.iter())
            .filter(|t| t.status == VerifyStatus::Differs)
            .map(|t| (t.schema.clone(), t.table.clone()))
            .collect()
    }

    /// Lists at most `max_rows` differing keys per table (the rest: `more_differences`).
    pub fn truncate_differences(&mut self, max_rows: usize) {
        for t in &mut self.tables {
            if t.differences.len() > max_rows {
                t.differences.truncate(max_rows);
                t.more_differences = true;
            }
        }
    }

    /// Folds `again`, a later comparison of some of the tables, into this report (see
    /// [`TableVerify::rechecked`]) and settles the status. Returns whether any difference
    /// went away.
    pub fn recheck(&mut self, again: VerifyReport) -> bool {
        self.rechecks += 1;
        self.seconds += again.seconds;
        let mut fewer = false;
        for after in again.tables {
            if let Some(t) = (self.tables.iter_mut())
                .find(|t| t.schema == after.schema && t.table == after.table)
            {
                let r = t.rechecked(after);
                fewer |= r.differences.len() < t.differences.len() || r.status != t.status;
                *t = r;
            }
        }
        self.settle();
        fewer
    }

    /// Sets `status` from the parts.
    pub fn settle(&mut self) {
        // What one side may not read was never compared: "equal" would be a claim without
        // proof, so it counts as a comparison that could not be made.
        let unread = self
            .tables
            .iter()
            .any(|t| unreadable(t.status, t.reason.as_deref()))
            || self
                .sequences
                .iter()
                .any(|s| unreadable(s.status, s.reason.as_deref()))
            || (self.large_objects.status == VerifyStatus::Skipped
                && self.large_objects.reason.as_deref() == Some(LARGE_OBJECTS_UNREADABLE));
        let failed = self.tables.iter().any(|t| t.status == VerifyStatus::Failed)
            || self.large_objects.status == VerifyStatus::Failed
            || self
                .sequences
                .iter()
                .any(|s| s.status == VerifyStatus::Failed);
        let differs = self
            .tables
            .iter()
            .any(|t| t.status == VerifyStatus::Differs || t.counts_as_difference() && !failed)
            || self
                .sequences
                .iter()
                .any(|s| s.status == VerifyStatus::Differs)
            || self.large_objects.status == VerifyStatus::Differs
            || (self.schema.as_ref()).is_some_and(|s| s.status == VerifyStatus::Differs);
        self.status = if differs {
            VerifyStatus::Differs
        } else if failed || unread {
            VerifyStatus::Failed
        } else {
            VerifyStatus::Equal
        };
    }

    /// One line for the database's message.
    pub fn summary(&self) -> String {
        let count = |s: VerifyStatus| self.tables.iter().filter(|t| t.status == s).count();
        let seq_diff = self
            .sequences
            .iter()
            .filter(|s| s.status == VerifyStatus::Differs)
            .count();
        format!(
            "verify: {} ({} tables equal, {} differ, {} skipped{}, {} failed; {} of {} sequences differ; large objects {}; {:.1} s)",
            self.status.as_str(),
            count(VerifyStatus::Equal),
            count(VerifyStatus::Differs),
            count(VerifyStatus::Skipped),
            match (self.tables.iter())
                .filter(|t| unreadable(t.status, t.reason.as_deref()))
                .count()
            {
                0 => String::new(),
                n => format!(" ({n} unreadable, so not compared)"),
            },
            count(VerifyStatus::Failed),
            seq_diff,
            self.sequences.len(),
            self.large_objects.status.as_str(),
            self.seconds
        ) + &self
            .statistics
            .as_ref()
            .map(|s| format!("; {}", s.summary()))
            .unwrap_or_default()
            + &self
                .schema
                .as_ref()
                .map(|s| match s.differences.as_slice() {
                    [] => format!("; schema equal ({} objects)", s.objects),
                    d => format!("; schema differs: {}", d.join(", ")),
                })
                .unwrap_or_default()
            + &match self.rechecks {
                0 => String::new(),
                n => format!(
                    "; the differing tables compared again {n} time{} after the lag reached 0",
                    if n == 1 { "" } else { "s" }
                ),
            }
    }

    /// The human report of one database: everything that is not equal, one line each, with
    /// the differing keys.
    pub fn render(&self, out: &mut String, dbname: &str) {
        let _ = writeln!(
            out,
            "Verification of database \"{dbname}\": {}",
            self.summary()
        );
        for t in &self.tables {
            if t.status == VerifyStatus::Equal {
                continue;
            }
            let rows = |r: Option<u64>| r.map_or("-".to_string(), |n| n.to_string());
            let _ = write!(
                out,
                "  {:<8} {}.{}  rows source {} target {}",
                t.status.as_str(),
                crate::sql::quote_ident(&t.schema),
                crate::sql::quote_ident(&t.table),
                rows(t.source_rows),
                rows(t.target_rows)
            );
            if let Some(r) = &t.reason {
                let _ = write!(out, "  ({r})");
            }
            let _ = writeln!(out);
            for d in &t.differences {
                let key: Vec<String> = t
                    .key
                    .iter()
                    .zip(&d.key)
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                let what = match d.kind {
                    RowDiffKind::MissingOnTarget => "missing on target".to_string(),
                    RowDiffKind::ExtraOnTarget => "extra on target".to_string(),
                    RowDiffKind::Different if d.columns.is_empty() => "different".to_string(),
                    RowDiffKind::Different => format!("different in {}", d.columns.join(", ")),
                };
                let _ = writeln!(out, "      {}: {what}", key.join(", "));
            }
            if t.more_differences {
                let _ = writeln!(
                    out,
                    "      ... more rows differ ({})",
                    Setting::VerifyMaxRows
                );
            }
        }
        for s in &self.sequences {
            if s.status == VerifyStatus::Equal {
                continue;
            }
            let v = |x: &Option<SequenceSide>| {
                x.as_ref().map_or("-".to_string(), |v| {
                    format!("{} (is_called {})", v.last_value, v.is_called)
                })
            };
            let _ = writeln!(
                out,
                "  {:<8} sequence {}  source {} target {}{}",
                s.status.as_str(),
                crate::sql::qualified(&s.schema, &s.sequence),
                v(&s.source),
                v(&s.target),
                s.reason
                    .as_ref()
                    .map(|r| format!("  ({r})"))
                    .unwrap_or_default()
            );
        }
        let lo = &self.large_objects;
        if lo.status != VerifyStatus::Equal {
            let _ = writeln!(
                out,
                "  {:<8} large objects  source {} target {}{}",
                lo.status.as_str(),
                lo.source_count,
                lo.target_count,
                lo.reason
                    .as_ref()
                    .map(|r| format!("  ({r})"))
                    .unwrap_or_default()
            );
            for d in &lo.differences {
                let _ = writeln!(out, "      oid {}: {:?}", d.oid, d.kind);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_missing_on_the_target_makes_the_database_differ() {
        let mut r = VerifyReport {
            status: VerifyStatus::Equal,
            as_of: "now",
            rechecks: 0,
            seconds: 0.0,
            tables: vec![TableVerify::skipped("s", "t", ONLY_ON_TARGET)],
            sequences: vec![],
            large_objects: LargeObjectsVerify {
                status: VerifyStatus::Equal,
                reason: None,
                source_count: 0,
                target_count: 0,
                differences: vec![],
                more_differences: false,
            },
            statistics: None,
            schema: None,
        };
        r.settle();
        assert!(r.is_equal());
        r.tables
            .push(TableVerify::skipped("s", "u", ONLY_ON_SOURCE));
        r.settle();
        assert_eq!(r.status, VerifyStatus::Differs);
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["status"], "differs");
        assert_eq!(v["tables"][1]["status"], "skipped");
        assert_eq!(v["tables"][1]["reason"], "only on the source");
        assert_eq!(v["large_objects"]["source_count"], 0);
    }

    fn differing(keys: &[&str], more: bool) -> TableVerify {
        TableVerify {
            schema: "s".into(),
            table: "t".into(),
            status: if keys.is_empty() && !more {
                VerifyStatus::Equal
            } else {
                VerifyStatus::Differs
            },
            reason: None,
            source_rows: Some(100),
            target_rows: Some(100),
            key: vec!["id".into()],
            differences: keys
                .iter()
                .map(|k| RowDifference {
                    kind: RowDiffKind::Different,
                    key: vec![k.to_string()],
                    columns: vec!["v".into()],
                })
                .collect(),
            more_differences: more,
            seconds: 0.0,
        }
    }

    fn keys(t: &TableVerify) -> Vec<&str> {
        t.differences.iter().map(|d| d.key[0].as_str()).collect()
    }

    #[test]
    fn a_recheck_keeps_only_the_differences_found_both_times() {
        // Rows 1 and 2 were in flight at first; row 2 and a new row 7 differ the second time:
        // only row 2 differed both times (7 would have been listed the first time if it
        // differed for good, since that list was complete).
        let r = differing(&["1", "2"], false).rechecked(differing(&["2", "7"], false));
        assert_eq!(r.status, VerifyStatus::Differs);
        assert_eq!(keys(&r), ["2"]);
        // Nothing in common: the table is equal, and says why.
        let r = differing(&["1"], false).rechecked(differing(&["7"], false));
        assert_eq!(r.status, VerifyStatus::Equal);
        assert_eq!(r.reason.as_deref(), Some(TRANSIENT));
        // Equal the second time.
        let r = differing(&["1"], false).rechecked(differing(&[], false));
        assert_eq!(r.status, VerifyStatus::Equal);
        assert_eq!(r.reason.as_deref(), Some(TRANSIENT));
        // An incomplete first list proves nothing about the keys it did not list.
        let r = differing(&["1"], true).rechecked(differing(&["7"], false));
        assert_eq!(keys(&r), ["7"]);
        let r = differing(&["1"], false).rechecked(differing(&["7"], true));
        assert_eq!(r.status, VerifyStatus::Differs);
        assert!(r.more_differences);
    }

    #[test]
    fn a_report_rechecked_settles_and_counts_the_rounds() {
        let mut r = VerifyReport {
            status: VerifyStatus::Differs,
            as_of: "cut-over",
            rechecks: 0,
            seconds: 1.0,
            tables: vec![differing(&["1"], false), {
                let mut u = differing(&[], false);
                u.table = "u".into();
                u
            }],
            sequences: vec![],
            large_objects: LargeObjectsVerify {
                status: VerifyStatus::Equal,
                reason: None,
                source_count: 0,
                target_count: 0,
                differences: vec![],
                more_differences: false,
            },
            statistics: None,
            schema: None,
        };
        assert_eq!(
            r.differing_tables().into_iter().collect::<Vec<_>>(),
            [("s".to_string(), "t".to_string())]
        );
        let mut again = r.clone();
        again.tables = vec![differing(&[], false)];
        again.seconds = 0.5;
        assert!(r.recheck(again));
        assert_eq!(r.status, VerifyStatus::Equal);
        assert_eq!(r.rechecks, 1);
        assert_eq!(r.seconds, 1.5);
        assert_eq!(r.tables.len(), 2);
        assert!(r.differing_tables().is_empty());
        let mut long = r.clone();
        long.tables[0] = differing(&["1", "2", "3"], false);
        long.truncate_differences(2);
        assert_eq!(keys(&long.tables[0]), ["1", "2"]);
        assert!(long.tables[0].more_differences);
    }
}
