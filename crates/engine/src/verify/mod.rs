//! Verification: proves that the target holds the same data as the source, down to the rows
//! that differ.
//!
//! # Method
//!
//! For every table, each server computes, over segments of a key (the primary key, else the
//! narrowest unique NOT NULL index without expressions or predicate), the row count and the sum
//! of a 64-bit hash of every row (see [`sql::TableSql::row_hash`]: its columns' hashes, common
//! types hashed from their stored values, the others from their canonical text). Only these
//! aggregates cross the network; segments whose aggregates differ are split again (integer
//! keys by value ranges, read through the index; other keys by further bits of the hash of the
//! key's text, which depends on no collation) until they are small enough for the rows' key
//! and hash to be compared, then the columns of the differing rows are named. Ctid order is
//! never used: it is not comparable between servers. A table without such a key is compared
//! by count and hash sum only (differences without keys).
//!
//! The text of a value is its type's output under fixed settings
//! ([`sql::SESSION_SETTINGS`]), so the same stored value hashes the same on every supported
//! major: it is the value *as stored*. Numeric 1.0 and 1.00 differ (the scale is data), as do
//! float -0 and 0; NaN equals NaN; types without an equality operator (json, point, xml) are
//! compared by their text; NULL and the empty string differ.
//!
//! # Consistency
//!
//! Both sides are read in `REPEATABLE READ READ ONLY` transactions, one exported snapshot per
//! side shared by the `--jobs` workers, so each side is read as of one instant and nothing is
//! written. During a dump-method migration (`--verify`), the source side imports the snapshot
//! the copy read, so rows written on the source during the migration are not reported.
//! Sequences are not transactional: read during a migration, a source sequence that moved past
//! the target's value is reported equal with a note (writes on the source since the copy),
//! anything else that differs is a difference.

pub mod databases;
pub mod progress;
pub mod report;
mod run;
pub mod schema;
pub mod sql;
pub mod statistics;
pub mod table;

use std::collections::{BTreeMap, BTreeSet};
use std::num::NonZeroUsize;

use crate::catalog::verify::{LargeObjectState, SequenceState, VerifyTable};
use crate::conn::Session;
use crate::error::{Error, Phase, Result, Side};
use crate::pair::DbPair;
use crate::progress::ProgressMode;
pub use report::{
    LargeObjectDiffKind, LargeObjectDifference, LargeObjectsVerify, RowDiffKind, RowDifference,
    SequenceSide, SequenceVerify, TableVerify, VerifyReport, VerifyStatus,
};
use sql::{HashFn, KeyPlan, TableSql};
use table::TableJob;

/// Default of `--verify-max-rows`.
pub const DEFAULT_MAX_ROWS: usize = 10;

/// What the user asked for (`--verify`, `--verify-max-rows`; `--verify-only` is
/// [`crate::options::RunMode::VerifyOnly`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifyOptions {
    /// `--verify`: compare after the data of each database is in.
    pub after_copy: bool,
    /// Differing keys listed per table at most.
    pub max_rows: usize,
    /// `--verify-statistics`: also compare the planner statistics ([`statistics`]).
    pub statistics: bool,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions {
            after_copy: false,
            max_rows: DEFAULT_MAX_ROWS,
            statistics: false,
        }
    }
}

/// One database's comparison.
#[derive(Debug, Clone)]
pub struct VerifyJob<'a> {
    /// The database on both sides: sessions are opened and errors tagged through it, and its
    /// cancellation (the run's) stops the comparison.
    pub pair: &'a DbPair,
    /// A snapshot exported on the source (the copy's) to read the source as of; `None`: now.
    pub source_snapshot: Option<&'a str>,
    /// Workers, each with one session per side.
    pub jobs: NonZeroUsize,
    pub max_rows: usize,
    pub progress: ProgressMode,
    /// The table and schema filters resolved for this database: tables and sequences whose
    /// data does not move are reported `skipped` ("excluded"), as are large objects when the
    /// selection does not copy them. `None`: everything.
    pub selection: Option<&'a crate::selection::DbSelection>,
    /// Compare only these `(schema, table)`s and no sequences or large objects (a re-check of
    /// the tables that differed); `None`: everything.
    pub only: Option<&'a BTreeSet<(String, String)>>,
    /// The comparison of a replication cut-over: the source is read as of now while it may
    /// still be written to, so a source sequence ahead of the target is not a difference.
    pub at_cut_over: bool,
    /// Also compare the planner statistics of the compared tables (`--verify-statistics`).
    pub statistics: bool,
}

/// What every comparison of a run shares (`--jobs`, `--verify-max-rows`, the progress
/// display), for the code that starts one: the replication cut-over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    pub jobs: NonZeroUsize,
    pub max_rows: usize,
    pub progress: ProgressMode,
    pub statistics: bool,
}

impl Settings {
    /// The run's `--jobs`, `--verify-max-rows` and progress display.
    pub fn of(opts: &crate::MigrateOptions) -> Self {
        Settings {
            jobs: opts.copy.jobs,
            max_rows: opts.verify.max_rows,
            progress: opts.copy.progress,
            statistics: opts.verify.statistics,
        }
    }
}

impl<'a> VerifyJob<'a> {
    /// A comparison of the whole database `pair`, the source as of now.
    pub fn new(pair: &'a DbPair, settings: &Settings) -> Self {
        VerifyJob {
            pair,
            source_snapshot: None,
            jobs: settings.jobs,
            max_rows: settings.max_rows,
            progress: settings.progress,
            selection: None,
            only: None,
            at_cut_over: false,
            statistics: settings.statistics,
        }
    }
}

/// The reason of a table or sequence whose data the selection leaves out.
pub const EXCLUDED: &str = "excluded by the table/schema selection";

/// Opens a session in the database on `side` with the fixed output settings, inside the
/// snapshot `import` or, without one, in a new exported snapshot (returned).
async fn open(pair: &DbPair, side: Side, import: Option<&str>) -> Result<(Session, String)> {
    let tag = pair.tag(side, Phase::Verify);
    let s = pair.open(side, Phase::Verify).await?;
    s.batch_execute(sql::SESSION_SETTINGS)
        .await
        .map_err(|e| tag(Error::from_pg(e)).context("setting the verification session up"))?;
    if s.server_version_num() >= 170000 {
        let _ = s.batch_execute("SET transaction_timeout = 0").await;
    }
    let id = match import {
        Some(id) => {
            s.batch_execute(&crate::sql::import_snapshot(id))
                .await
                .map_err(|e| tag(Error::from_pg(e)).context(format!("importing snapshot {id}")))?;
            id.to_string()
        }
        None => {
            s.batch_execute(crate::sql::BEGIN_SNAPSHOT)
                .await
                .map_err(|e| tag(Error::from_pg(e)))?;
            let row = s
                .query_one(crate::sql::EXPORT_SNAPSHOT, &[])
                .await
                .map_err(|e| tag(Error::from_pg(e)).context("exporting a snapshot"))?;
            row.get::<_, String>(0)
        }
    };
    Ok((s, id))
}

/// A source session whose open transaction exports the snapshot a dump-method copy reads and
/// the verification after it compares with: an exported snapshot can be imported only while
/// the exporting transaction lives, so this holder outlives both (the copy's own coordinator
/// imports it too). Dropping it ends the transaction.
pub struct SnapshotHolder {
    session: Session,
    id: String,
}

impl SnapshotHolder {
    pub async fn export(pair: &DbPair) -> Result<Self> {
        let (session, id) = open(pair, Side::Source, None).await?;
        Ok(SnapshotHolder { session, id })
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// Ends the transaction (dropping the holder closes the session, which does the same).
    pub async fn release(self) {
        let _ = self.session.batch_execute("ROLLBACK").await;
    }
}

/// A table of one side only, or one that cannot be read, or a table to compare.
enum Item {
    Done(TableVerify),
    Compare(TableJob),
}

/// What to do with each table of either side, in name order: skip it (left out of the data,
/// on one side only, not readable) or compare it (see [`plan_compare`]).
fn plan_tables(
    src: Vec<VerifyTable>,
    tgt: Vec<VerifyTable>,
    hash: HashFn,
    selection: Option<&crate::selection::DbSelection>,
    only: Option<&BTreeSet<(String, String)>>,
) -> Vec<Item> {
    let mut items = Vec::new();
    for ((schema, name), sides) in pair_tables(src, tgt, only) {
        let item = match sides {
            _ if selection.is_some_and(|sel| !sel.includes_data(&schema, &name)) => {
                Item::Done(TableVerify::skipped(&schema, &name, EXCLUDED))
            }
            (Some(_), None) => {
                Item::Done(TableVerify::skipped(&schema, &name, report::ONLY_ON_SOURCE))
            }
            (None, Some(_)) => {
                Item::Done(TableVerify::skipped(&schema, &name, report::ONLY_ON_TARGET))
            }
            (Some(s), Some(_)) if !s.readable => Item::Done(TableVerify::skipped(
                &schema,
                &name,
                "the source user may not read it (SELECT privilege)",
            )),
            (Some(_), Some(t)) if !t.readable => Item::Done(TableVerify::skipped(
                &schema,
                &name,
                "the target user may not read it (SELECT privilege)",
            )),
            (Some(s), Some(t)) => plan_compare(schema, name, &s, &t, hash),
            (None, None) => continue,
        };
        items.push(item);
    }
    items
}

/// The tables of both sides by name (the target's ledger left out, and those not in `only`
/// when given), each with its source and target side.
fn pair_tables(
    src: Vec<VerifyTable>,
    tgt: Vec<VerifyTable>,
    only: Option<&BTreeSet<(String, String)>>,
) -> BTreeMap<(String, String), (Option<VerifyTable>, Option<VerifyTable>)> {
    let mut by_name: BTreeMap<(String, String), (Option<VerifyTable>, Option<VerifyTable>)> =
        BTreeMap::new();
    for t in src {
        let k = (t.schema.clone(), t.name.clone());
        by_name.entry(k).or_default().0 = Some(t);
    }
    // The ledger of a run in progress is ours, not the source's.
    for t in tgt
        .into_iter()
        .filter(|t| t.schema != crate::ledger::LEDGER_SCHEMA)
    {
        let k = (t.schema.clone(), t.name.clone());
        by_name.entry(k).or_default().1 = Some(t);
    }
    if let Some(only) = only {
        by_name.retain(|k, _| only.contains(k));
    }
    by_name
}

/// A table both sides have and may read: compared by its key (the source's, else the
/// target's), unless its columns differ, which is a difference found already.
fn plan_compare(
    schema: String,
    name: String,
    s: &VerifyTable,
    t: &VerifyTable,
    hash: HashFn,
) -> Item {
    let names = |x: &VerifyTable| {
        let mut v: Vec<String> = x.columns.iter().map(|c| c.0.clone()).collect();
        v.sort();
        v
    };
    let (ns, nt) = (names(s), names(t));
    let columns: Vec<String> = s.columns.iter().map(|c| c.0.clone()).collect();
    // A column of the same type on both sides may be hashed from its value.
    let native = (s.columns.iter())
        .map(|(c, ty)| {
            t.columns
                .iter()
                .find(|(tc, tty)| tc == c && tty == ty)
                .and_then(|_| sql::NativeHash::for_type(ty))
        })
        .collect();
    let mut sql = TableSql {
        schema: schema.clone(),
        table: name.clone(),
        columns,
        key: Vec::new(),
        plan: None,
        hash,
        native,
    };
    if ns != nt {
        let missing: Vec<&String> = ns.iter().filter(|c| !nt.contains(c)).collect();
        let extra: Vec<&String> = nt.iter().filter(|c| !ns.contains(c)).collect();
        let mut t = TableVerify::skipped(
            &schema,
            &name,
            format!(
                "columns differ (missing on the target: {missing:?}; extra on the target: {extra:?})"
            ),
        );
        t.status = VerifyStatus::Differs;
        Item::Done(t)
    } else {
        let key = if !s.key.is_empty() {
            s.key.clone()
        } else {
            t.key.clone()
        };
        let key_types: Vec<String> = key
            .iter()
            .filter_map(|k| s.columns.iter().find(|c| &c.0 == k).map(|c| c.1.clone()))
            .collect();
        sql.plan = match key_types.as_slice() {
            [] => None,
            [ty] if matches!(ty.as_str(), "smallint" | "integer" | "bigint") => {
                Some(KeyPlan::Int(key[0].clone()))
            }
            _ => Some(KeyPlan::Hashed(key.clone())),
        };
        sql.key = key;
        Item::Compare(TableJob {
            sql,
            key_types,
            est_rows: s.est_rows.max(t.est_rows),
            part: None,
        })
    }
}

/// Compares `s` (source) and `t` (target) sequences.
fn compare_sequences(
    src: Vec<SequenceState>,
    tgt: Vec<SequenceState>,
    source_may_move: bool,
) -> Vec<SequenceVerify> {
    let mut by_name: BTreeMap<(String, String), (Option<SequenceState>, Option<SequenceState>)> =
        BTreeMap::new();
    for s in src {
        let k = (s.schema.clone(), s.name.clone());
        by_name.entry(k).or_default().0 = Some(s);
    }
    for s in tgt {
        let k = (s.schema.clone(), s.name.clone());
        by_name.entry(k).or_default().1 = Some(s);
    }
    let value = |s: &Option<SequenceState>| {
        s.as_ref().and_then(|s| {
            Some(SequenceSide {
                last_value: s.last_value.clone()?,
                is_called: s.is_called?,
            })
        })
    };
    by_name
        .into_iter()
        .map(|((schema, sequence), (a, b))| {
            let (source, target) = (value(&a), value(&b));
            let (status, reason) = match (&a, &b, &source, &target) {
                (Some(_), None, _, _) => (VerifyStatus::Differs, Some(report::ONLY_ON_SOURCE.into())),
                (None, Some(_), _, _) => (VerifyStatus::Skipped, Some(report::ONLY_ON_TARGET.into())),
                (_, _, None, _) => (
                    VerifyStatus::Skipped,
                    Some("the source user may not read it".into()),
                ),
                (_, _, _, None) => (
                    VerifyStatus::Skipped,
                    Some("the target user may not read it".into()),
                ),
                (_, _, Some(x), Some(y)) if x == y => (VerifyStatus::Equal, None),
                (_, _, Some(x), Some(y))
                    if source_may_move
                        && matches!(
                            (x.last_value.parse::<i128>(), y.last_value.parse::<i128>()),
                            (Ok(p), Ok(q)) if p > q
                        ) =>
                {
                    (
                        VerifyStatus::Equal,
                        Some("advanced on the source since the copy (sequences are not transactional)".into()),
                    )
                }
                _ => (VerifyStatus::Differs, None),
            };
            SequenceVerify {
                schema,
                sequence,
                status,
                reason,
                source,
                target,
            }
        })
        .collect()
}

fn compare_large_objects(
    src: Vec<LargeObjectState>,
    tgt: Vec<LargeObjectState>,
    max_rows: usize,
) -> LargeObjectsVerify {
    let (source_count, target_count) = (src.len() as u64, tgt.len() as u64);
    let mut by_oid: BTreeMap<u32, (Option<LargeObjectState>, Option<LargeObjectState>)> =
        BTreeMap::new();
    for l in src {
        let k = l.oid;
        by_oid.entry(k).or_default().0 = Some(l);
    }
    for l in tgt {
        let k = l.oid;
        by_oid.entry(k).or_default().1 = Some(l);
    }
    let mut differences = Vec::new();
    for (oid, (a, b)) in by_oid {
        let kind = match (a, b) {
            (Some(_), None) => LargeObjectDiffKind::MissingOnTarget,
            (None, Some(_)) => LargeObjectDiffKind::ExtraOnTarget,
            (Some(a), Some(b)) if a.owner != b.owner => LargeObjectDiffKind::DifferentOwner,
            (Some(a), Some(b)) if a.md5.is_none() || b.md5.is_none() => {
                LargeObjectDiffKind::Unreadable
            }
            (Some(a), Some(b)) if a.md5 != b.md5 => LargeObjectDiffKind::DifferentContent,
            _ => continue,
        };
        differences.push(LargeObjectDifference { oid, kind });
    }
    let more_differences = differences.len() > max_rows;
    let status = if differences.is_empty() {
        VerifyStatus::Equal
    } else if differences
        .iter()
        .all(|d| d.kind == LargeObjectDiffKind::Unreadable)
    {
        VerifyStatus::Skipped
    } else {
        VerifyStatus::Differs
    };
    differences.truncate(max_rows);
    LargeObjectsVerify {
        status,
        reason: (status == VerifyStatus::Skipped)
            .then(|| report::LARGE_OBJECTS_UNREADABLE.to_string()),
        source_count,
        target_count,
        differences,
        more_differences,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seq(v: &str, called: bool) -> SequenceState {
        SequenceState {
            schema: "s".into(),
            name: "q".into(),
            last_value: Some(v.into()),
            is_called: Some(called),
        }
    }

    #[test]
    fn sequences_compare_value_and_is_called() {
        let r = compare_sequences(vec![seq("5", true)], vec![seq("5", false)], false);
        assert_eq!(r[0].status, VerifyStatus::Differs);
        let r = compare_sequences(vec![seq("9", true)], vec![seq("5", true)], false);
        assert_eq!(r[0].status, VerifyStatus::Differs);
        // During a migration the source may have moved on; never the target.
        let r = compare_sequences(vec![seq("9", true)], vec![seq("5", true)], true);
        assert_eq!(r[0].status, VerifyStatus::Equal);
        assert!(r[0].reason.is_some());
        let r = compare_sequences(vec![seq("5", true)], vec![seq("9", true)], true);
        assert_eq!(r[0].status, VerifyStatus::Differs);
    }

    #[test]
    fn integer_keys_bisect_by_range_others_by_hash() {
        let t = |key: &[&str], cols: &[(&str, &str)]| VerifyTable {
            schema: "s".into(),
            name: "t".into(),
            columns: cols
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
            key: key.iter().map(|s| s.to_string()).collect(),
            readable: true,
            est_rows: 0,
        };
        let plan = |key: &[&str], cols: &[(&str, &str)]| match plan_tables(
            vec![t(key, cols)],
            vec![t(key, cols)],
            HashFn::Text,
            None,
            None,
        )
        .remove(0)
        {
            Item::Compare(j) => j.sql.plan,
            Item::Done(d) => panic!("{d:?}"),
        };
        assert_eq!(
            plan(&["id"], &[("id", "bigint")]),
            Some(KeyPlan::Int("id".into()))
        );
        assert_eq!(
            plan(&["id"], &[("id", "text")]),
            Some(KeyPlan::Hashed(vec!["id".into()]))
        );
        assert_eq!(plan(&[], &[("id", "integer")]), None);
        let only = plan_tables(
            vec![t(&["id"], &[("id", "integer")])],
            vec![],
            HashFn::Text,
            None,
            None,
        );
        assert!(matches!(&only[0], Item::Done(d) if d.counts_as_difference()));
        // Tables whose data the selection leaves out are skipped, and not a difference.
        let mut sel = crate::selection::DbSelection::everything("d");
        sel.everything = false;
        sel.left_out.insert(("s".into(), "t".into()));
        let out = plan_tables(
            vec![t(&["id"], &[("id", "integer")])],
            vec![],
            HashFn::Text,
            Some(&sel),
            None,
        );
        assert!(
            matches!(&out[0], Item::Done(d) if d.reason.as_deref() == Some(EXCLUDED) && !d.counts_as_difference())
        );
    }
}
