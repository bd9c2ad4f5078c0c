//! The data engine against its ledger: what an earlier run committed stays, the rest is planned
//! again (resume), and what this run plans is recorded before it starts.
//!
//! A table the ledger already knows keeps the parts (row filters) recorded for it, so a table
//! that grew since is still covered exactly (the last part of a split is open-ended): parts
//! marked copied are left out, the others are copied in this run's snapshot. A table with a
//! committed part is neither truncated nor frozen (its rows stay). A table whose parts are all
//! in is not copied at all; its post-data objects not yet created run after the copy. Large
//! objects and post-data objects the ledger lists are left out.

use std::collections::HashMap;

use super::plan::{Plan, RelKey};
use super::{PostDataPlan, TableCopyResult};
use crate::ledger::parts::{CopyLedger, post_data_key};

/// What an earlier run had done, as the plan of this run sees it.
#[derive(Debug, Default)]
pub struct Resumed {
    /// Per planned table (same index as `plan.tables`): the ledger part number of each of its
    /// parts.
    pub part_ids: Vec<Vec<usize>>,
    /// Tables whose parts were all committed by an earlier run.
    pub done: Vec<TableCopyResult>,
    /// Per table with some parts committed earlier: (parts, rows, bytes, snapshots).
    pub partial: HashMap<RelKey, (u32, u64, u64, Vec<String>)>,
    /// Tables planned for the first time: record their parts.
    pub new_tables: Vec<(String, String, Vec<Option<String>>)>,
    /// Snapshots of earlier runs that tables of this one were copied in.
    pub earlier_snapshots: Vec<String>,
}

fn snapshots_of(parts: &[crate::ledger::parts::PartRecord]) -> Vec<String> {
    let mut s: Vec<String> = parts
        .iter()
        .filter(|p| p.copied)
        .filter_map(|p| p.snapshot.clone())
        .collect();
    s.sort();
    s.dedup();
    s
}

/// Applies the ledger to `plan` and `post_data` (see the module documentation).
pub fn apply(plan: &mut Plan, ledger: &CopyLedger, post_data: &mut PostDataPlan) -> Resumed {
    let mut r = Resumed::default();
    let tables = std::mem::take(&mut plan.tables);
    for mut t in tables {
        let Some(recorded) = ledger.parts.get(&t.key()) else {
            r.new_tables
                .push((t.schema.clone(), t.name.clone(), t.parts.clone()));
            r.part_ids.push((0..t.parts.len()).collect());
            plan.tables.push(t);
            continue;
        };
        let copied: Vec<_> = recorded.iter().filter(|p| p.copied).collect();
        let snapshots = snapshots_of(recorded);
        for s in &snapshots {
            if !r.earlier_snapshots.contains(s) {
                r.earlier_snapshots.push(s.clone());
            }
        }
        let rows = copied.iter().map(|p| p.rows).sum();
        let bytes = copied.iter().map(|p| p.bytes).sum();
        if copied.len() == recorded.len() {
            r.done.push(TableCopyResult {
                schema: t.schema.clone(),
                table: t.name.clone(),
                rows,
                bytes,
                seconds: 0.0,
                format: t.format(),
                parts: recorded.len() as u32,
                snapshots,
                retries: 0,
            });
            plan.est_bytes = plan.est_bytes.saturating_sub(t.est_bytes);
            continue;
        }
        let truncatable = t.freeze || t.truncate_first;
        let pending: Vec<_> = recorded.iter().filter(|p| !p.copied).collect();
        t.parts = pending.iter().map(|p| p.filter.clone()).collect();
        if copied.is_empty() {
            t.freeze = truncatable && recorded.len() == 1;
            t.truncate_first = truncatable && recorded.len() > 1;
        } else {
            t.freeze = false;
            t.truncate_first = false;
            r.partial.insert(
                t.key(),
                (copied.len() as u32, rows, bytes, snapshots.clone()),
            );
        }
        r.part_ids.push(pending.iter().map(|p| p.part).collect());
        plan.tables.push(t);
    }
    plan.large_objects
        .retain(|oid| !ledger.large_objects.contains(oid));
    let keep = |j: &super::PostDataJob| {
        !ledger
            .post_data
            .contains(&post_data_key(&j.describe, &j.statements))
    };
    for jobs in post_data.by_table.values_mut() {
        jobs.retain(keep);
    }
    post_data.rest.retain(keep);
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::copy::PostDataJob;
    use crate::copy::plan::TablePlan;
    use crate::ledger::parts::PartRecord;

    fn table(name: &str, parts: Vec<Option<String>>, truncatable: bool) -> TablePlan {
        let single = parts.len() == 1;
        TablePlan {
            search_path: None,
            schema: "s".into(),
            name: name.into(),
            columns: vec!["a".into()],
            binary: true,
            est_bytes: 100,
            parts,
            ext_condition: None,
            use_select: false,
            freeze: single && truncatable,
            truncate_first: !single && truncatable,
            ancestors: vec![],
        }
    }

    fn rec(part: usize, filter: &str, copied: bool) -> PartRecord {
        PartRecord {
            part,
            filter: Some(filter.into()),
            copied,
            rows: if copied { 10 } else { 0 },
            bytes: if copied { 100 } else { 0 },
            snapshot: copied.then(|| "snap-1".into()),
        }
    }

    #[test]
    fn committed_parts_stay_the_rest_keeps_its_recorded_filters() {
        let mut plan = Plan {
            tables: vec![
                // Re-planned with other boundaries: the recorded ones win.
                table(
                    "split",
                    vec![Some("new1".into()), Some("new2".into())],
                    true,
                ),
                table("done", vec![None], true),
                table("fresh", vec![None], true),
            ],
            large_objects: vec![1, 2, 3],
            ..Default::default()
        };
        let mut ledger = CopyLedger::default();
        ledger.parts.insert(
            ("s".into(), "split".into()),
            vec![rec(0, "r0", true), rec(1, "r1", false), rec(2, "r2", false)],
        );
        ledger.parts.insert(
            ("s".into(), "done".into()),
            vec![PartRecord {
                filter: None,
                ..rec(0, "", true)
            }],
        );
        ledger.large_objects.insert(2);
        let created = PostDataJob {
            describe: "index s.i".into(),
            statements: vec!["CREATE INDEX i ON s.done (a)".into()],
            refusable: Vec::new(),
            refusals: None,
            depends_on: Vec::new(),
            ..Default::default()
        };
        let missing = PostDataJob {
            describe: "index s.j".into(),
            statements: vec!["CREATE INDEX j ON s.done (a)".into()],
            refusable: Vec::new(),
            refusals: None,
            depends_on: Vec::new(),
            ..Default::default()
        };
        ledger
            .post_data
            .insert(post_data_key(&created.describe, &created.statements));
        let mut post = PostDataPlan::default();
        post.by_table
            .insert(("s".into(), "done".into()), vec![created, missing.clone()]);

        let r = apply(&mut plan, &ledger, &mut post);

        let names: Vec<&str> = plan.tables.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["split", "fresh"]);
        let split = &plan.tables[0];
        assert_eq!(split.parts, vec![Some("r1".into()), Some("r2".into())]);
        assert!(
            !split.truncate_first && !split.freeze,
            "its committed rows stay"
        );
        assert_eq!(r.part_ids, vec![vec![1, 2], vec![0]]);
        assert_eq!(r.partial[&("s".to_string(), "split".to_string())].0, 1);
        assert_eq!(r.done.len(), 1);
        assert_eq!(r.done[0].table, "done");
        assert_eq!(r.done[0].snapshots, vec!["snap-1".to_string()]);
        assert_eq!(r.new_tables.len(), 1);
        assert_eq!(r.new_tables[0].1, "fresh");
        assert!(
            plan.tables[1].freeze,
            "a table the ledger does not know loads as before"
        );
        assert_eq!(plan.large_objects, vec![1, 3]);
        assert_eq!(
            post.by_table[&("s".to_string(), "done".to_string())],
            vec![missing]
        );
        assert_eq!(r.earlier_snapshots, vec!["snap-1".to_string()]);
    }
}
