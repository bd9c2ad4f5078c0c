//! The work queue shared by the workers.
//!
//! Five queues, taken in this order of priority:
//! 1. post-data jobs of tables whose rows are all in (their indexes should start as soon as
//!    possible: they are the long pole after the biggest copies);
//! 2. the rows of extension configuration tables, before any user table's: user rows may need
//!    them (pointcloud checks each patch's `pcid` against `pointcloud_formats` on input, a
//!    check no deferred constraint can wait out), so no user table's copy starts before every
//!    one of them is committed;
//! 3. copy parts, largest table first (a split table's parts stay together);
//! 4. large-object batches;
//! 5. `ANALYZE` of finished tables.
//!
//! A "unit" is what post-data work waits for: a copied table (all of its parts) or a partitioned
//! table (all of its copied leaf partitions). When a unit is complete, its post-data jobs whose
//! first statement is a `CREATE [UNIQUE] INDEX` are queued as separate tasks so that several
//! indexes of one table build at once (they take SHARE locks, which do not conflict); the other
//! jobs then run in their given order in one task, after those indexes (constraints may use an
//! index, e.g. `ADD CONSTRAINT ... USING INDEX`); `ANALYZE` comes last.

use std::collections::{HashMap, VecDeque};
use std::time::Instant;

use super::plan::{RelKey, TablePlan};
use super::{PostDataJob, TableCopyResult};
use crate::sql::qualified;

#[derive(Debug)]
pub enum Task {
    Copy {
        table: usize,
        part: usize,
    },
    /// Post-data jobs of a unit; `parallel` = one of the index builds of phase 1.
    Post {
        unit: usize,
        parallel: bool,
        jobs: Vec<PostDataJob>,
    },
    LargeObjects(Vec<u32>),
    /// The table's planner statistics (see [`super::statistics`]); `only`: a partitioned
    /// table, whose partitions get their own task.
    Analyze {
        schema: String,
        table: String,
        only: bool,
    },
}

impl Task {
    pub fn describe(&self, tables: &[TablePlan]) -> String {
        match self {
            Task::Copy { table, part } => tables[*table].describe_part(*part),
            Task::Post { jobs, .. } => jobs
                .first()
                .map(|j| j.describe.clone())
                .unwrap_or_else(|| "post-data".into()),
            Task::LargeObjects(oids) => format!("{} large objects", oids.len()),
            Task::Analyze { schema, table, .. } => {
                format!("statistics of {}", qualified(schema, table))
            }
        }
    }
}

#[derive(Debug, Default)]
struct WorkUnit {
    key: RelKey,
    /// Parts (of a table) or leaf tables (of a partitioned table) still to finish.
    waiting: usize,
    /// Index builds, run in parallel.
    phase1: Vec<PostDataJob>,
    phase1_left: usize,
    /// Everything else, run in order.
    phase2: Vec<PostDataJob>,
    /// Its statistics task, `Some(only)` until queued.
    analyze: Option<bool>,
}

#[derive(Debug, Default)]
struct TableQueue {
    parts_left: usize,
    rows: u64,
    bytes: u64,
    started: Option<Instant>,
    /// Its own unit, then those of its partitioned ancestors.
    units: Vec<usize>,
}

#[derive(Debug, Default)]
pub struct Sched {
    post: VecDeque<Task>,
    /// The parts of extension configuration tables.
    first: VecDeque<Task>,
    /// Extension configuration parts not committed yet: user tables wait for 0.
    first_left: usize,
    copy: VecDeque<Task>,
    lo: VecDeque<Task>,
    analyze: VecDeque<Task>,
    running: usize,
    tables: Vec<TableQueue>,
    units: Vec<WorkUnit>,
    pub results: Vec<TableCopyResult>,
    pub large_objects: u64,
    pub large_object_bytes: u64,
}

/// True for a job that only builds an index (safe to run alongside other index builds of the
/// same table).
fn is_index_build(job: &PostDataJob) -> bool {
    job.statements.first().is_some_and(|s| {
        let words: Vec<String> = s
            .split_whitespace()
            .take(3)
            .map(|w| w.to_ascii_uppercase())
            .collect();
        words.len() >= 2
            && words[0] == "CREATE"
            && (words[1] == "INDEX"
                || (words[1] == "UNIQUE" && words.get(2).map(String::as_str) == Some("INDEX")))
    }) && job.statements.iter().skip(1).all(|s| {
        // Follow-up statements of an index object: comments, ALTER INDEX.
        let u = s.trim_start().to_ascii_uppercase();
        u.starts_with("COMMENT ON INDEX") || u.starts_with("ALTER INDEX")
    })
}

impl Sched {
    /// Builds the queues. `by_table` entries whose key is neither a copied table nor a partitioned
    /// ancestor of one are returned: they run after the copy.
    pub fn new(
        tables: &[TablePlan],
        mut by_table: HashMap<RelKey, Vec<PostDataJob>>,
        large_objects: &[u32],
        lo_batch: usize,
        analyze: bool,
        analyze_only_parents: bool,
    ) -> (Sched, Vec<(RelKey, Vec<PostDataJob>)>) {
        let mut s = Sched::default();
        let mut unit_of: HashMap<RelKey, usize> = HashMap::new();
        let mut new_unit = |s: &mut Sched, key: &RelKey, analyze_only: Option<bool>| -> usize {
            if let Some(&u) = unit_of.get(key) {
                return u;
            }
            let jobs = by_table.remove(key).unwrap_or_default();
            let (phase1, phase2): (Vec<_>, Vec<_>) = jobs.into_iter().partition(is_index_build);
            s.units.push(WorkUnit {
                key: key.clone(),
                waiting: 0,
                phase1,
                phase1_left: 0,
                phase2,
                analyze: analyze_only,
            });
            unit_of.insert(key.clone(), s.units.len() - 1);
            s.units.len() - 1
        };
        for (i, t) in tables.iter().enumerate() {
            let own = new_unit(&mut s, &t.key(), analyze.then_some(false));
            s.units[own].waiting += 1;
            let mut units = vec![own];
            for a in &t.ancestors {
                let only = (analyze && analyze_only_parents).then_some(true);
                let u = new_unit(&mut s, a, only);
                s.units[u].waiting += 1;
                units.push(u);
            }
            s.tables.push(TableQueue {
                parts_left: t.parts.len(),
                units,
                ..Default::default()
            });
            for part in 0..t.parts.len() {
                if t.ext_condition.is_some() {
                    s.first.push_back(Task::Copy { table: i, part });
                    s.first_left += 1;
                } else {
                    s.copy.push_back(Task::Copy { table: i, part });
                }
            }
        }
        for batch in large_objects.chunks(lo_batch.max(1)) {
            s.lo.push_back(Task::LargeObjects(batch.to_vec()));
        }
        let mut orphans: Vec<_> = by_table
            .into_iter()
            .filter(|(_, j)| !j.is_empty())
            .collect();
        orphans.sort_by(|a, b| a.0.cmp(&b.0));
        (s, orphans)
    }

    /// The next task by priority, if any; marks it running.
    pub fn pop(&mut self) -> Option<Task> {
        let t = self
            .post
            .pop_front()
            .or_else(|| self.first.pop_front())
            .or_else(|| {
                if self.first_left == 0 {
                    self.copy.pop_front()
                } else {
                    None
                }
            })
            .or_else(|| self.lo.pop_front())
            .or_else(|| self.analyze.pop_front())?;
        if let Task::Copy { table, .. } = &t {
            self.tables[*table].started.get_or_insert_with(Instant::now);
        }
        self.running += 1;
        Some(t)
    }

    /// Nothing queued and nothing running: the workers can stop.
    pub fn finished(&self) -> bool {
        self.running == 0
            && self.post.is_empty()
            && self.first.is_empty()
            && self.copy.is_empty()
            && self.lo.is_empty()
            && self.analyze.is_empty()
    }

    /// Table `i`: (parts not yet committed, rows, bytes, whether a part started).
    pub fn table_progress(&self, i: usize) -> (usize, u64, u64, bool) {
        let t = &self.tables[i];
        (t.parts_left, t.rows, t.bytes, t.started.is_some())
    }

    /// A task ended (successfully or not).
    pub fn task_ended(&mut self) {
        self.running -= 1;
    }

    /// A copy part committed. Returns true when it was the table's last part.
    pub fn part_done(&mut self, tables: &[TablePlan], table: usize, rows: u64, bytes: u64) -> bool {
        if tables[table].ext_condition.is_some() {
            self.first_left = self.first_left.saturating_sub(1);
        }
        let st = &mut self.tables[table];
        st.parts_left -= 1;
        st.rows += rows;
        st.bytes += bytes;
        if st.parts_left > 0 {
            return false;
        }
        let t = &tables[table];
        self.results.push(TableCopyResult {
            schema: t.schema.clone(),
            table: t.name.clone(),
            rows: st.rows,
            bytes: st.bytes,
            seconds: st.started.map(|s| s.elapsed().as_secs_f64()).unwrap_or(0.0),
            format: t.format(),
            parts: t.parts.len() as u32,
            snapshots: Vec::new(),
            retries: 0,
        });
        let units = st.units.clone();
        for u in units {
            self.units[u].waiting -= 1;
            if self.units[u].waiting == 0 {
                self.unit_ready(u);
            }
        }
        true
    }

    fn unit_ready(&mut self, u: usize) {
        let phase1 = std::mem::take(&mut self.units[u].phase1);
        if phase1.is_empty() {
            self.phase2(u);
            return;
        }
        self.units[u].phase1_left = phase1.len();
        for job in phase1 {
            self.post.push_back(Task::Post {
                unit: u,
                parallel: true,
                jobs: vec![job],
            });
        }
    }

    fn phase2(&mut self, u: usize) {
        let jobs = std::mem::take(&mut self.units[u].phase2);
        if jobs.is_empty() {
            self.queue_analyze(u);
        } else {
            self.post.push_back(Task::Post {
                unit: u,
                parallel: false,
                jobs,
            });
        }
    }

    fn queue_analyze(&mut self, u: usize) {
        if let Some(only) = self.units[u].analyze.take() {
            let key = &self.units[u].key;
            self.analyze.push_back(Task::Analyze {
                schema: key.0.clone(),
                table: key.1.clone(),
                only,
            });
        }
    }

    /// A post-data task of unit `u` succeeded.
    pub fn post_done(&mut self, u: usize, parallel: bool) {
        if parallel {
            self.units[u].phase1_left -= 1;
            if self.units[u].phase1_left == 0 {
                self.phase2(u);
            }
        } else {
            self.queue_analyze(u);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(s: &str) -> PostDataJob {
        PostDataJob {
            describe: s.into(),
            statements: vec![s.into()],
            refusable: Vec::new(),
            refusals: None,
            depends_on: Vec::new(),
            ..Default::default()
        }
    }

    fn table(name: &str, parts: usize, ancestors: Vec<RelKey>) -> TablePlan {
        TablePlan {
            search_path: None,
            schema: "s".into(),
            name: name.into(),
            columns: vec![],
            binary: false,
            est_bytes: 0,
            parts: vec![None; parts],
            ext_condition: None,
            use_select: false,
            freeze: false,
            truncate_first: false,
            ancestors,
        }
    }

    fn key(n: &str) -> RelKey {
        ("s".into(), n.into())
    }

    #[test]
    fn index_builds_are_recognised() {
        assert!(is_index_build(&job("CREATE INDEX i ON t (a)")));
        assert!(is_index_build(&job("create  unique index i ON t (a)")));
        assert!(!is_index_build(&job(
            "ALTER TABLE t ADD CONSTRAINT p PRIMARY KEY (a)"
        )));
        let mut j = job("CREATE INDEX i ON t (a)");
        j.statements.push("ALTER TABLE t CLUSTER ON i".into());
        assert!(!is_index_build(&j));
        j.statements[1] = "COMMENT ON INDEX i IS 'x'".into();
        assert!(is_index_build(&j));
    }

    #[test]
    fn extension_configuration_rows_are_in_before_any_user_table_starts() {
        let mut formats = table("pointcloud_formats", 1, vec![]);
        formats.ext_condition = Some(String::new());
        let tables = vec![table("patches", 2, vec![]), formats];
        let (mut s, _) = Sched::new(&tables, HashMap::new(), &[], 1, false, false);
        assert!(matches!(s.pop(), Some(Task::Copy { table: 1, part: 0 })));
        // The user table waits while the configuration rows are being copied.
        assert!(s.pop().is_none());
        assert!(!s.finished());
        s.task_ended();
        s.part_done(&tables, 1, 1, 10);
        assert!(matches!(s.pop(), Some(Task::Copy { table: 0, part: 0 })));
        assert!(matches!(s.pop(), Some(Task::Copy { table: 0, part: 1 })));
    }

    #[test]
    fn post_data_follows_the_last_part_and_partition_leaves() {
        let tables = vec![
            table("big", 2, vec![]),
            table("leaf1", 1, vec![key("parent")]),
            table("leaf2", 1, vec![key("parent")]),
        ];
        let mut by_table = HashMap::new();
        by_table.insert(
            key("big"),
            vec![
                job("CREATE INDEX a ON big (x)"),
                job("ALTER TABLE big ADD PRIMARY KEY (id)"),
                job("CREATE INDEX b ON big (y)"),
            ],
        );
        by_table.insert(key("parent"), vec![job("CREATE INDEX p ON parent (x)")]);
        by_table.insert(key("mv"), vec![job("REFRESH MATERIALIZED VIEW mv")]);
        let (mut s, orphans) = Sched::new(&tables, by_table, &[1, 2, 3], 2, true, true);
        assert_eq!(orphans.len(), 1);
        assert_eq!(orphans[0].0, key("mv"));
        // Copy parts in order, then LO batches, then nothing until parts finish.
        let mut copies = vec![];
        for _ in 0..4 {
            match s.pop().unwrap() {
                Task::Copy { table, part } => copies.push((table, part)),
                t => panic!("unexpected {t:?}"),
            }
        }
        assert_eq!(copies, vec![(0, 0), (0, 1), (1, 0), (2, 0)]);
        assert!(matches!(s.pop(), Some(Task::LargeObjects(v)) if v == vec![1, 2]));
        assert!(matches!(s.pop(), Some(Task::LargeObjects(v)) if v == vec![3]));
        assert!(s.pop().is_none());
        s.task_ended();
        s.task_ended();
        assert!(!s.part_done(&tables, 0, 5, 50));
        s.task_ended();
        assert!(s.pop().is_none());
        assert!(s.part_done(&tables, 0, 7, 70));
        s.task_ended();
        assert_eq!(s.results[0].rows, 12);
        assert_eq!(s.results[0].parts, 2);
        // Two parallel index builds, then the rest, then ANALYZE.
        let a = s.pop().unwrap();
        let b = s.pop().unwrap();
        assert!(s.pop().is_none());
        for t in [a, b] {
            match t {
                Task::Post {
                    unit,
                    parallel: true,
                    ..
                } => s.post_done(unit, true),
                t => panic!("unexpected {t:?}"),
            }
            s.task_ended();
        }
        match s.pop().unwrap() {
            Task::Post {
                unit,
                parallel: false,
                jobs,
            } => {
                assert_eq!(jobs.len(), 1);
                s.post_done(unit, false);
            }
            t => panic!("unexpected {t:?}"),
        }
        s.task_ended();
        assert!(
            matches!(s.pop(), Some(Task::Analyze { table, only: false, .. }) if table == "big")
        );
        s.task_ended();
        // The parent's index waits for both leaves.
        s.part_done(&tables, 1, 1, 1);
        s.task_ended();
        assert!(matches!(s.pop(), Some(Task::Analyze { .. })));
        s.task_ended();
        assert!(s.pop().is_none());
        s.part_done(&tables, 2, 1, 1);
        s.task_ended();
        match s.pop() {
            Some(Task::Post {
                unit,
                parallel: true,
                ..
            }) => s.post_done(unit, true),
            t => panic!("unexpected {t:?}"),
        }
        s.task_ended();
        assert!(
            matches!(s.pop(), Some(Task::Analyze { table, only: false, .. }) if table == "leaf2")
        );
        s.task_ended();
        assert!(
            matches!(s.pop(), Some(Task::Analyze { table, only: true, .. }) if table == "parent")
        );
        s.task_ended();
        assert!(s.pop().is_none());
        assert!(s.finished());
        assert_eq!(s.results.len(), 3);
    }
}
