//! One table compared: counts and hash sums per key segment on both servers at once, the
//! segments that differ split until they are small enough to compare their rows' hashes, then
//! the differing rows' columns named.
//!
//! Cost: the first pass reads the table once on each side, grouped into about one segment per
//! [`ROWS_PER_SEGMENT`] rows (so an equal table costs one scan). A differing segment of an
//! integer key is then read by an index range scan; a segment of a hashed key needs one more
//! scan per level (the hash of a key has no index), which [`ROWS_PER_SEGMENT`] keeps to one in
//! practice.
//!
//! A large table is [`cut`] into parts (an integer key: contiguous key ranges, one per worker;
//! another key: buckets of the key's hash) that the `--jobs` workers compare at the same time,
//! each in its own sessions of the shared snapshots; [`merge`] puts the parts' results back
//! into the table's one result, the same as one worker comparing the whole table would give
//! (the differing keys listed in key order).

use std::collections::{BTreeMap, BTreeSet};

use crate::catalog::verify::{parse_text_array, text_rows};
use crate::conn::Session;
use crate::error::{Error, Result, Side};

use super::report::{RowDiffKind, RowDifference, TableVerify, VerifyStatus};
use super::sql::{FAN_OUT, KeyPlan, Segment, TableSql};

/// Target rows per segment of the first pass.
pub const ROWS_PER_SEGMENT: u64 = 1000;
/// Segments at most in the first pass (the group count the servers hold in memory).
const MAX_FIRST_PARTS: u64 = 1 << 16;
/// A segment with at most this many rows (on the larger side) is compared row by row.
const FETCH_ROWS: u64 = 4000;
/// A table with at least this many rows (planner estimate) is compared in parts by several
/// workers. A part of an integer key is an index range; a part of another key filters on the
/// hash of the key, which no index has: every part reads the whole table and hashes every
/// key, but only its own rows (most of the cost) are hashed whole.
pub const PARALLEL_MIN_ROWS: u64 = 100_000;

/// The two sessions of one verification worker, each inside its side's snapshot.
pub struct Pair<'a> {
    pub source: &'a Session,
    pub target: &'a Session,
}

type Rows = Vec<Vec<Option<String>>>;

impl Pair<'_> {
    /// Runs `sql_s` on the source and `sql_t` on the target concurrently.
    async fn both(&self, sql_s: &str, sql_t: &str) -> Result<(Rows, Rows)> {
        let s = async {
            text_rows(self.source, sql_s)
                .await
                .map_err(|e| e.with_side(Side::Source))
        };
        let t = async {
            text_rows(self.target, sql_t)
                .await
                .map_err(|e| e.with_side(Side::Target))
        };
        tokio::try_join!(s, t)
    }

    async fn same(&self, sql: &str) -> Result<(Rows, Rows)> {
        self.both(sql, sql).await
    }

    async fn run_both(&self, sql: &str) -> Result<()> {
        let (a, b) = tokio::join!(
            self.source.batch_execute(sql),
            self.target.batch_execute(sql)
        );
        a.map_err(|e| Error::from_pg(e).with_side(Side::Source))?;
        b.map_err(|e| Error::from_pg(e).with_side(Side::Target))
    }
}

/// A table to compare, as both sides have it.
#[derive(Debug, Clone)]
pub struct TableJob {
    pub sql: TableSql,
    /// `format_type` of each key column (to look rows up by key).
    pub key_types: Vec<String>,
    /// Planner estimate of the rows (larger side; of the part, for a part).
    pub est_rows: u64,
    /// The key range this job compares when the table was cut by [`cut`]; `None`: the
    /// whole table.
    pub part: Option<Segment>,
}

fn cell(rows: &Rows, r: usize, c: usize) -> Option<&str> {
    rows.get(r)
        .and_then(|x| x.get(c))
        .and_then(|v| v.as_deref())
}

/// Per-segment `(count, hash sum)` of a split's result rows, keyed by part number.
fn parts(rows: &Rows) -> BTreeMap<i128, (u64, String)> {
    rows.iter()
        .filter_map(|r| {
            let n = r.first()?.as_deref()?.parse().ok()?;
            let c = r.get(1)?.as_deref()?.parse().ok()?;
            let h = r.get(2)?.as_deref().unwrap_or("0").to_string();
            Some((n, (c, h)))
        })
        .collect()
}

/// A segment still to be resolved, with its row count on each side.
#[derive(Debug, Clone, Copy)]
struct Pending {
    seg: Segment,
    rows: u64,
}

/// Compares one table; never fails (a server error makes the table `failed`). Runs inside a
/// savepoint on both sides so that an error does not end the snapshot's transaction.
pub async fn verify_table(pair: &Pair<'_>, job: &TableJob, max_rows: usize) -> TableVerify {
    let started = std::time::Instant::now();
    let mut out = TableVerify {
        schema: job.sql.schema.clone(),
        table: job.sql.table.clone(),
        status: VerifyStatus::Equal,
        reason: None,
        source_rows: None,
        target_rows: None,
        key: job.sql.key.clone(),
        differences: Vec::new(),
        more_differences: false,
        seconds: 0.0,
    };
    let r = async {
        pair.run_both("SAVEPOINT db_migrate_verify").await?;
        let r = compare(pair, job, max_rows, &mut out).await;
        let end = if r.is_ok() {
            "RELEASE SAVEPOINT db_migrate_verify"
        } else {
            "ROLLBACK TO SAVEPOINT db_migrate_verify; RELEASE SAVEPOINT db_migrate_verify"
        };
        let ended = pair.run_both(end).await;
        r.and(ended)
    }
    .await;
    if let Err(e) = r {
        out.status = VerifyStatus::Failed;
        out.reason = Some(e.to_string());
        out.differences.clear();
    }
    out.seconds = started.elapsed().as_secs_f64();
    out
}

async fn compare(
    pair: &Pair<'_>,
    job: &TableJob,
    max_rows: usize,
    out: &mut TableVerify,
) -> Result<()> {
    let t = &job.sql;
    let first = match &t.plan {
        None => {
            // No key: whole-table count and order-independent hash sum.
            let (s, g) = pair.same(&t.whole()).await?;
            let (cs, ct) = (cell(&s, 0, 0), cell(&g, 0, 0));
            out.source_rows = cs.and_then(|v| v.parse().ok());
            out.target_rows = ct.and_then(|v| v.parse().ok());
            if s != g {
                out.status = VerifyStatus::Differs;
                out.reason =
                    Some("no primary key or unique NOT NULL index: rows cannot be named".into());
            }
            return Ok(());
        }
        Some(KeyPlan::Int(col)) => match job.part {
            Some(part) => part,
            None => match int_bounds(pair, t, col).await? {
                Some(seg) => seg,
                None => {
                    out.source_rows = Some(0);
                    out.target_rows = Some(0);
                    return Ok(());
                }
            },
        },
        Some(KeyPlan::Hashed(_)) => job.part.unwrap_or(Segment::Whole),
    };
    let n = (job.est_rows / ROWS_PER_SEGMENT).clamp(FAN_OUT as u64, MAX_FIRST_PARTS) as u32;
    let (pending, totals) = split(pair, t, &first, n).await?;
    out.source_rows = Some(totals.0);
    out.target_rows = Some(totals.1);
    let mut queue: std::collections::VecDeque<Pending> = pending.into();
    let mut diffs: Vec<RowDifference> = Vec::new();
    while diffs.len() < max_rows
        && let Some(p) = queue.pop_front()
    {
        if p.rows > FETCH_ROWS
            && let Some((children, _)) = split_checked(pair, t, &p.seg).await?
        {
            for c in children.into_iter().rev() {
                queue.push_front(c);
            }
            continue;
        }
        // Small enough (or not splittable any more): this one and the next small ones, up to
        // the rows still wanted, in one fetch.
        let mut batch = vec![p.seg];
        let mut rows = p.rows;
        while batch.len() < max_rows - diffs.len()
            && let Some(next) = queue.front()
            && next.rows <= FETCH_ROWS
            && rows + next.rows <= 4 * FETCH_ROWS
        {
            rows += next.rows;
            batch.push(next.seg);
            queue.pop_front();
        }
        diffs.extend(compare_rows(pair, t, &batch).await?);
    }
    if diffs.len() > max_rows || !queue.is_empty() {
        out.more_differences = true;
    }
    diffs.truncate(max_rows);
    for d in diffs
        .iter_mut()
        .filter(|d| d.kind == RowDiffKind::Different)
    {
        d.columns = differing_columns(pair, job, &d.key).await?;
    }
    if !diffs.is_empty() || out.more_differences {
        out.status = VerifyStatus::Differs;
    }
    out.differences = diffs;
    Ok(())
}

/// The range of an integer key over both sides (`None`: both sides are empty).
async fn int_bounds(pair: &Pair<'_>, t: &TableSql, col: &str) -> Result<Option<Segment>> {
    let (s, g) = pair.same(&t.int_bounds(col)).await?;
    let bound = |rows: &Rows, c| cell(rows, 0, c).and_then(|v| v.parse::<i128>().ok());
    let lo = [bound(&s, 0), bound(&g, 0)].into_iter().flatten().min();
    let hi = [bound(&s, 1), bound(&g, 1)].into_iter().flatten().max();
    Ok(match (lo, hi) {
        (Some(lo), Some(hi)) => Some(Segment::IntRange { lo, hi }),
        _ => None,
    })
}

/// Cuts `job` into up to `n` jobs for `n` workers to compare at once: contiguous key ranges in
/// key order for an integer key, else the `n` (rounded up to a power of two) buckets of the
/// lowest bits of the key's hash. `None` when it is not worth it or not possible (no key,
/// fewer than [`PARALLEL_MIN_ROWS`] rows, both sides empty, the key range cannot be read: then
/// the whole table is compared by one worker, which also reports any error). Reads an integer
/// key's bounds inside a savepoint, so an error leaves the sessions' transactions usable.
pub async fn cut(pair: &Pair<'_>, job: &TableJob, n: usize) -> Option<Vec<TableJob>> {
    if n < 2 || job.part.is_some() || job.est_rows < PARALLEL_MIN_ROWS {
        return None;
    }
    let segs = match &job.sql.plan {
        None => return None,
        Some(KeyPlan::Hashed(_)) => hash_buckets(n),
        Some(KeyPlan::Int(col)) => {
            pair.run_both("SAVEPOINT db_migrate_verify_parts")
                .await
                .ok()?;
            let bounds = int_bounds(pair, &job.sql, col).await;
            let end = if bounds.is_ok() {
                "RELEASE SAVEPOINT db_migrate_verify_parts"
            } else {
                "ROLLBACK TO SAVEPOINT db_migrate_verify_parts; RELEASE SAVEPOINT db_migrate_verify_parts"
            };
            pair.run_both(end).await.ok()?;
            let whole = bounds.ok()??;
            let child = job.sql.child_expr(&whole, n as u32)?;
            part_ranges(&whole, &child, n)
        }
    };
    if segs.len() < 2 {
        return None;
    }
    let est_rows = job.est_rows / segs.len() as u64;
    Some(
        segs.into_iter()
            .map(|seg| TableJob {
                part: Some(seg),
                est_rows,
                ..job.clone()
            })
            .collect(),
    )
}

/// The buckets of the lowest bits of a key's hash for `n` workers (`n` rounded up to a
/// power of two): together, every row, each in exactly one.
fn hash_buckets(n: usize) -> Vec<Segment> {
    let bits = n.next_power_of_two().trailing_zeros();
    let mask = (1u64 << bits) - 1;
    (0..=mask)
        .map(|value| Segment::HashBits { mask, value, bits })
        .collect()
}

/// Key order of two differences' keys: column by column, as integers where both texts are
/// integers, else as text (the same order on every machine; not a collation's).
fn key_order(a: &[String], b: &[String]) -> std::cmp::Ordering {
    for (x, y) in a.iter().zip(b) {
        let o = match (x.parse::<i128>(), y.parse::<i128>()) {
            (Ok(p), Ok(q)) => p.cmp(&q),
            _ => x.cmp(y),
        };
        if o != std::cmp::Ordering::Equal {
            return o;
        }
    }
    a.len().cmp(&b.len())
}

/// The non-empty ranges of the first `n` parts of `whole` (together: all of it).
fn part_ranges(whole: &Segment, child: &super::sql::ChildExpr, n: usize) -> Vec<Segment> {
    (0..n as i128)
        .map(|k| child.segment(whole, k))
        .filter(|s| matches!(s, Segment::IntRange { lo, hi } if lo <= hi))
        .collect()
}

/// The result of a table compared in parts, from the parts' results: rows added up, the
/// differences in key order ([`key_order`]) up to `max_rows`, `failed` if a part failed, else
/// `differs` if one differs. One part's result is returned as it is.
pub fn merge(parts: Vec<TableVerify>, max_rows: usize) -> TableVerify {
    let mut parts = parts.into_iter();
    let Some(mut out) = parts.next() else {
        panic!("merge of no parts");
    };
    let add = |a: Option<u64>, b: Option<u64>| Some(a? + b?);
    for p in parts {
        out.source_rows = add(out.source_rows, p.source_rows);
        out.target_rows = add(out.target_rows, p.target_rows);
        out.differences.extend(p.differences);
        out.more_differences |= p.more_differences;
        out.seconds = out.seconds.max(p.seconds);
        match (out.status, p.status) {
            (VerifyStatus::Failed, _) => {}
            (_, VerifyStatus::Failed) => {
                out.status = VerifyStatus::Failed;
                out.reason = p.reason;
            }
            (_, VerifyStatus::Differs) => out.status = VerifyStatus::Differs,
            _ => {}
        }
    }
    if out.status == VerifyStatus::Failed {
        out.differences.clear();
        out.more_differences = false;
    } else {
        out.differences.sort_by(|a, b| key_order(&a.key, &b.key));
        if out.differences.len() > max_rows {
            out.more_differences = true;
            out.differences.truncate(max_rows);
        }
    }
    out
}

/// Splits `seg` into `n` parts on both sides; returns the differing parts in order and the
/// row totals of each side.
async fn split(
    pair: &Pair<'_>,
    t: &TableSql,
    seg: &Segment,
    n: u32,
) -> Result<(Vec<Pending>, (u64, u64))> {
    let Some(child) = t.child_expr(seg, n) else {
        return Ok((Vec::new(), (0, 0)));
    };
    let (s, g) = pair.same(&t.split(seg, &child)).await?;
    let (ps, pt) = (parts(&s), parts(&g));
    let totals = (
        ps.values().map(|v| v.0).sum(),
        pt.values().map(|v| v.0).sum(),
    );
    let keys: BTreeSet<&i128> = ps.keys().chain(pt.keys()).collect();
    let pending = keys
        .into_iter()
        .filter(|k| ps.get(k) != pt.get(k))
        .map(|k| Pending {
            seg: child.segment(seg, *k),
            rows: ps
                .get(k)
                .map_or(0, |v| v.0)
                .max(pt.get(k).map_or(0, |v| v.0)),
        })
        .collect();
    Ok((pending, totals))
}

/// [`split`] into [`FAN_OUT`] parts, or `None` when `seg` cannot be split further.
async fn split_checked(
    pair: &Pair<'_>,
    t: &TableSql,
    seg: &Segment,
) -> Result<Option<(Vec<Pending>, (u64, u64))>> {
    let narrow = match seg {
        Segment::IntRange { lo, hi } => hi - lo < 1,
        Segment::HashBits { bits, .. } => *bits >= 64,
        Segment::Whole => false,
    };
    if narrow || t.child_expr(seg, FAN_OUT).is_none() {
        return Ok(None);
    }
    split(pair, t, seg, FAN_OUT).await.map(Some)
}

/// Fetches (key, row hash) of the rows of `segs` from both sides and compares them.
async fn compare_rows(
    pair: &Pair<'_>,
    t: &TableSql,
    segs: &[Segment],
) -> Result<Vec<RowDifference>> {
    let (s, g) = pair.same(&t.fetch(segs)).await?;
    let collect = |rows: Rows| {
        let mut m: BTreeMap<Vec<String>, Vec<String>> = BTreeMap::new();
        for r in rows {
            let key = r
                .first()
                .cloned()
                .flatten()
                .map(|k| parse_text_array(&k).into_iter().flatten().collect())
                .unwrap_or_default();
            m.entry(key)
                .or_default()
                .push(r.get(1).cloned().flatten().unwrap_or_default());
        }
        for v in m.values_mut() {
            v.sort();
        }
        m
    };
    let (ms, mt) = (collect(s), collect(g));
    let keys: BTreeSet<&Vec<String>> = ms.keys().chain(mt.keys()).collect();
    let mut diffs: Vec<RowDifference> = keys
        .into_iter()
        .filter_map(|k| {
            let kind = match (ms.get(k), mt.get(k)) {
                (Some(a), Some(b)) if a == b => return None,
                (Some(_), None) => RowDiffKind::MissingOnTarget,
                (None, Some(_)) => RowDiffKind::ExtraOnTarget,
                _ => RowDiffKind::Different,
            };
            Some(RowDifference {
                kind,
                key: k.clone(),
                columns: Vec::new(),
            })
        })
        .collect();
    diffs.sort_by(|a, b| key_order(&a.key, &b.key));
    Ok(diffs)
}

/// The columns whose text differs between the two sides' rows of `key`.
async fn differing_columns(pair: &Pair<'_>, job: &TableJob, key: &[String]) -> Result<Vec<String>> {
    let sql = job.sql.row_columns(key, &job.key_types);
    let (s, g) = pair.same(&sql).await?;
    let row = |rows: &Rows| cell(rows, 0, 0).map(parse_text_array).unwrap_or_default();
    let (a, b) = (row(&s), row(&g));
    Ok(job
        .sql
        .columns
        .iter()
        .enumerate()
        .filter(|(i, _)| a.get(*i) != b.get(*i))
        .map(|(_, c)| c.clone())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::sql::{HashFn, TableSql};

    fn result(rows: u64, status: VerifyStatus, keys: &[i64]) -> TableVerify {
        TableVerify {
            schema: "s".into(),
            table: "t".into(),
            status,
            reason: None,
            source_rows: Some(rows),
            target_rows: Some(rows),
            key: vec!["id".into()],
            differences: keys
                .iter()
                .map(|k| RowDifference {
                    kind: RowDiffKind::Different,
                    key: vec![k.to_string()],
                    columns: vec!["a".into()],
                })
                .collect(),
            more_differences: false,
            seconds: rows as f64,
        }
    }

    #[test]
    fn parts_cover_the_key_range_without_gaps() {
        let t = TableSql {
            schema: "s".into(),
            table: "t".into(),
            columns: vec!["id".into()],
            key: vec!["id".into()],
            plan: Some(KeyPlan::Int("id".into())),
            hash: HashFn::Text,
            native: Vec::new(),
        };
        let whole = Segment::IntRange { lo: 1, hi: 10 };
        let c = t.child_expr(&whole, 4).unwrap();
        assert_eq!(
            part_ranges(&whole, &c, 4),
            vec![
                Segment::IntRange { lo: 1, hi: 3 },
                Segment::IntRange { lo: 4, hi: 6 },
                Segment::IntRange { lo: 7, hi: 9 },
                Segment::IntRange { lo: 10, hi: 10 },
            ]
        );
        // Fewer keys than workers: no empty parts.
        let small = Segment::IntRange { lo: 5, hi: 6 };
        let c = t.child_expr(&small, 4).unwrap();
        assert_eq!(part_ranges(&small, &c, 4).len(), 2);
    }

    #[test]
    fn other_keys_are_cut_into_buckets_of_their_hash_for_every_worker() {
        let b = hash_buckets(3);
        assert_eq!(b.len(), 4);
        assert!(b.iter().enumerate().all(|(i, s)| *s
            == Segment::HashBits {
                mask: 3,
                value: i as u64,
                bits: 2
            }));
        // A bucket splits further in the bits above its own.
        let t = TableSql {
            schema: "s".into(),
            table: "t".into(),
            columns: vec!["k".into()],
            key: vec!["k".into()],
            plan: Some(KeyPlan::Hashed(vec!["k".into()])),
            hash: HashFn::Text,
            native: Vec::new(),
        };
        let c = t.child_expr(&b[1], 16).unwrap();
        assert_eq!(
            c.segment(&b[1], 5),
            Segment::HashBits {
                mask: 0b11_1111,
                value: (5 << 2) | 1,
                bits: 6
            }
        );
    }

    #[test]
    fn differing_keys_sort_as_numbers_where_they_are_numbers() {
        let k = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let mut keys = vec![k(&["10", "b"]), k(&["9", "z"]), k(&["10", "a"]), k(&["x"])];
        keys.sort_by(|a, b| key_order(a, b));
        assert_eq!(
            keys,
            [k(&["9", "z"]), k(&["10", "a"]), k(&["10", "b"]), k(&["x"])]
        );
    }

    #[test]
    fn parts_merge_into_one_result_like_the_whole_table() {
        let one = result(5, VerifyStatus::Equal, &[]);
        assert_eq!(merge(vec![one.clone()], 10), one);
        let m = merge(
            vec![
                result(5, VerifyStatus::Differs, &[1, 2]),
                result(7, VerifyStatus::Equal, &[]),
                result(3, VerifyStatus::Differs, &[9]),
            ],
            2,
        );
        assert_eq!(m.status, VerifyStatus::Differs);
        assert_eq!(m.source_rows, Some(15));
        assert_eq!(m.seconds, 7.0);
        let keys: Vec<&str> = m.differences.iter().map(|d| d.key[0].as_str()).collect();
        assert_eq!(keys, ["1", "2"]);
        assert!(m.more_differences);
        let mut failed = result(0, VerifyStatus::Failed, &[]);
        failed.reason = Some("boom".into());
        let m = merge(vec![result(5, VerifyStatus::Differs, &[1]), failed], 10);
        assert_eq!(m.status, VerifyStatus::Failed);
        assert_eq!(m.reason.as_deref(), Some("boom"));
        assert!(m.differences.is_empty());
    }
}
