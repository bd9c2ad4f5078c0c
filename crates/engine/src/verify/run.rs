//! One database's comparison as its stages, in the order they run: both sides opened in their
//! snapshots, the tables planned and cut into jobs, the jobs compared by the workers while the
//! coordinators read the sequences and large objects, then the report.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio_util::sync::CancellationToken;

use super::progress::VerifyProgress;
use super::table::{self, Pair, TableJob, merge, verify_table};
use super::{
    EXCLUDED, HashFn, Item, LargeObjectsVerify, SequenceVerify, TableVerify, VerifyJob,
    VerifyReport, VerifyStatus, compare_large_objects, compare_sequences, open, plan_tables,
    statistics,
};
use crate::catalog::verify::{
    LargeObjectState, SequenceState, encoding, list_large_objects, list_sequences, list_tables,
};
use crate::error::{Error, Phase, Result, Side};

/// A part of a table to compare: (table number, part number, job).
type Part = (usize, usize, TableJob);

/// Both sides' rows of the sequences or large objects, or why they could not be read.
type Sides<T> = Result<(Vec<T>, Vec<T>)>;

impl VerifyJob<'_> {
    /// Compares the two databases. Errors only when a side cannot be opened or its catalogs
    /// read; a table whose comparison fails is reported `failed` and the others go on.
    pub async fn run(&self) -> Result<VerifyReport> {
        let started = Instant::now();
        let pair = self.pair;
        let (cs, sid) = open(pair, Side::Source, self.source_snapshot).await?;
        let (ct, tid) = open(pair, Side::Target, None).await?;
        let coordinator = Pair {
            source: &cs,
            target: &ct,
        };
        let items = self.plan(&coordinator).await?;
        let (mut tables, queue) = self.queue(&coordinator, items).await;
        let compared = self.compare(&coordinator, [&sid, &tid], queue).await;
        let _ = tokio::join!(cs.batch_execute("ROLLBACK"), ct.batch_execute("ROLLBACK"));
        if pair.cancel().is_cancelled() {
            return Err(crate::cancel::cancelled().with_database(pair.source_db()));
        }
        let Compared {
            results,
            mut errors,
            left,
            sequences,
            large_objects,
        } = compared;
        if !errors.is_empty() {
            return Err(errors.remove(0));
        }
        tables.extend(merge_parts(results, left, self.max_rows));
        tables.sort_by(|a, b| (&a.schema, &a.table).cmp(&(&b.schema, &b.table)));
        let mut report = VerifyReport {
            status: VerifyStatus::Equal,
            as_of: self.as_of(),
            rechecks: 0,
            seconds: 0.0,
            tables,
            sequences: self.sequences_report(sequences),
            large_objects: self.large_objects_report(large_objects),
            statistics: None,
            schema: None,
        };
        if self.statistics {
            report.statistics = Some(self.statistics_report(&coordinator, &report.tables).await?);
        }
        report.seconds = started.elapsed().as_secs_f64();
        report.settle();
        tracing::info!(database = pair.source_db(), "{}", report.summary());
        Ok(report)
    }

    /// Both sides' tables, matched: those to compare and those reported as they are.
    async fn plan(&self, c: &Pair<'_>) -> Result<Vec<Item>> {
        let pair = self.pair;
        let (ts, tt) = tokio::try_join!(
            async {
                list_tables(c.source)
                    .await
                    .map_err(pair.tag(Side::Source, Phase::Verify))
            },
            async {
                list_tables(c.target)
                    .await
                    .map_err(pair.tag(Side::Target, Phase::Verify))
            }
        )?;
        let (es, et) = tokio::try_join!(encoding(c.source), encoding(c.target))?;
        let hash = if es == et {
            HashFn::Text
        } else {
            HashFn::Md5Utf8
        };
        Ok(plan_tables(ts, tt, hash, self.selection, self.only))
    }

    /// The tables reported as they are, and the jobs of the others, largest first, so that
    /// the last job to finish is a small one. A large table is cut into one part per worker,
    /// so that one big table keeps every worker busy.
    async fn queue(&self, c: &Pair<'_>, items: Vec<Item>) -> (Vec<TableVerify>, Queue) {
        let mut tables: Vec<TableVerify> = Vec::new();
        let mut jobs: VecDeque<Part> = VecDeque::new();
        let mut compared = 0;
        for i in items {
            match i {
                Item::Done(t) => tables.push(t),
                Item::Compare(j) => {
                    match table::cut(c, &j, self.jobs.get()).await {
                        Some(parts) => jobs
                            .extend(parts.into_iter().enumerate().map(|(p, j)| (compared, p, j))),
                        None => jobs.push_back((compared, 0, j)),
                    }
                    compared += 1;
                }
            }
        }
        let mut parts_left = vec![0usize; compared];
        for (n, _, _) in &jobs {
            parts_left[*n] += 1;
        }
        jobs.make_contiguous()
            .sort_by_key(|j| std::cmp::Reverse(j.2.est_rows));
        (tables, Queue { jobs, parts_left })
    }

    /// Runs the jobs on the workers, with the progress display, while the coordinators `c`
    /// read the sequences and large objects; the workers read in the snapshots `snapshots`
    /// (source, target).
    async fn compare(&self, c: &Pair<'_>, snapshots: [&str; 2], queue: Queue) -> Compared {
        let progress = Arc::new(VerifyProgress::new(queue.parts_left.len() as u64));
        let done = CancellationToken::new();
        let reporter = crate::progress::spawn(
            self.progress,
            progress.clone(),
            self.pair.source_db().to_string(),
            done.clone(),
        );
        let workers = self.jobs.get().min(queue.jobs.len().max(1));
        let shared = Workers {
            snapshots,
            queue: Mutex::new(queue.jobs),
            parts_left: Mutex::new(queue.parts_left),
            progress,
            errors: Mutex::new(Vec::new()),
        };
        let (results, (sequences, large_objects)) = tokio::join!(
            futures::future::join_all((0..workers).map(|_| self.work(&shared))),
            self.sequences_and_large_objects(c)
        );
        done.cancel();
        let _ = reporter.await;
        Compared {
            results: results.into_iter().flatten().collect(),
            errors: shared.errors.into_inner().unwrap(),
            left: shared.queue.into_inner().unwrap(),
            sequences,
            large_objects,
        }
    }

    /// One worker: its own session on each side, in the snapshots, comparing jobs until none
    /// is left or the run is cancelled. Returns what it compared; a worker that cannot open
    /// its sessions leaves its error in `w`.
    async fn work(&self, w: &Workers<'_>) -> Vec<(usize, usize, TableVerify)> {
        let pair = self.pair;
        let mut results = Vec::new();
        let opened = tokio::try_join!(
            open(pair, Side::Source, Some(w.snapshots[0])),
            open(pair, Side::Target, Some(w.snapshots[1]))
        );
        let (s, t) = match opened {
            Ok(((s, _), (t, _))) => (s, t),
            Err(e) => {
                w.errors.lock().unwrap().push(e);
                return results;
            }
        };
        let sessions = Pair {
            source: &s,
            target: &t,
        };
        loop {
            let Some((n, part, job)) = w.queue.lock().unwrap().pop_front() else {
                break;
            };
            let r = tokio::select! {
                r = verify_table(&sessions, &job, self.max_rows) => r,
                _ = pair.cancel().cancelled() => {
                    let _ = tokio::join!(s.cancel(), t.cancel());
                    return results;
                }
            };
            let rows = r.source_rows.unwrap_or(0).max(r.target_rows.unwrap_or(0));
            let last = {
                let mut left = w.parts_left.lock().unwrap();
                left[n] -= 1;
                left[n] == 0
            };
            if last {
                w.progress.table_done(rows);
            } else {
                w.progress.rows_done(rows);
            }
            results.push((n, part, r));
        }
        let _ = tokio::join!(s.batch_execute("ROLLBACK"), t.batch_execute("ROLLBACK"));
        results
    }

    /// Both sides' sequences and large objects (none when only some tables are compared).
    async fn sequences_and_large_objects(
        &self,
        c: &Pair<'_>,
    ) -> (Sides<SequenceState>, Sides<LargeObjectState>) {
        if self.only.is_some() {
            return (Ok((Vec::new(), Vec::new())), Ok((Vec::new(), Vec::new())));
        }
        let seqs = tokio::try_join!(list_sequences(c.source), list_sequences(c.target));
        let los = tokio::try_join!(list_large_objects(c.source), list_large_objects(c.target));
        (seqs, los)
    }

    /// What the source was read as of, in the report.
    fn as_of(&self) -> &'static str {
        if self.source_snapshot.is_some() {
            "copy snapshot"
        } else if self.at_cut_over {
            "cut-over"
        } else {
            "now"
        }
    }

    /// The sequences compared, those the selection leaves out skipped.
    fn sequences_report(&self, read: Sides<SequenceState>) -> Vec<SequenceVerify> {
        let mut sequences = match read {
            Ok((a, b)) => {
                compare_sequences(a, b, self.source_snapshot.is_some() || self.at_cut_over)
            }
            Err(e) => vec![SequenceVerify {
                schema: String::new(),
                sequence: String::new(),
                status: VerifyStatus::Failed,
                reason: Some(format!("reading the sequences failed: {e}")),
                source: None,
                target: None,
            }],
        };
        if let Some(sel) = self.selection {
            for q in sequences
                .iter_mut()
                .filter(|q| !sel.includes_data(&q.schema, &q.sequence))
            {
                q.status = VerifyStatus::Skipped;
                q.reason = Some(EXCLUDED.into());
            }
        }
        sequences
    }

    /// The large objects compared, or skipped when the selection copies none.
    fn large_objects_report(&self, read: Sides<LargeObjectState>) -> LargeObjectsVerify {
        match read {
            Ok(_) if self.selection.is_some_and(|sel| !sel.large_objects) => LargeObjectsVerify {
                status: VerifyStatus::Skipped,
                reason: Some("the selection copies no large objects".into()),
                source_count: 0,
                target_count: 0,
                differences: Vec::new(),
                more_differences: false,
            },
            Ok((a, b)) => compare_large_objects(a, b, self.max_rows),
            Err(e) => LargeObjectsVerify {
                status: VerifyStatus::Failed,
                reason: Some(format!("reading the large objects failed: {e}")),
                source_count: 0,
                target_count: 0,
                differences: Vec::new(),
                more_differences: false,
            },
        }
    }

    /// `--verify-statistics`: the planner statistics of the `tables` that were compared.
    async fn statistics_report(
        &self,
        c: &Pair<'_>,
        tables: &[TableVerify],
    ) -> Result<statistics::StatisticsVerify> {
        let pair = self.pair;
        let compared: BTreeSet<(String, String)> = (tables.iter())
            .filter(|t| t.status != VerifyStatus::Skipped)
            .map(|t| (t.schema.clone(), t.table.clone()))
            .collect();
        let (a, b) = tokio::try_join!(
            async {
                crate::catalog::verify::column_statistics(c.source)
                    .await
                    .map_err(pair.tag(Side::Source, Phase::Verify))
            },
            async {
                crate::catalog::verify::column_statistics(c.target)
                    .await
                    .map_err(pair.tag(Side::Target, Phase::Verify))
            }
        )?;
        Ok(statistics::compare(a, b, &compared, self.max_rows))
    }
}

/// The jobs to compare, largest first, and how many parts each compared table has.
struct Queue {
    jobs: VecDeque<Part>,
    /// Per compared table (by number): its parts not compared yet.
    parts_left: Vec<usize>,
}

/// What the workers share: the snapshots they read in (source, target), the jobs left, each
/// table's parts left (its last part makes it done on the display), the display's counters
/// and the errors of workers that could not open their sessions, in the order they came.
struct Workers<'a> {
    snapshots: [&'a str; 2],
    queue: Mutex<VecDeque<Part>>,
    parts_left: Mutex<Vec<usize>>,
    progress: Arc<VerifyProgress>,
    errors: Mutex<Vec<Error>>,
}

/// What the comparison found: the parts compared, the workers' errors, the jobs no worker
/// reached, and both sides' sequences and large objects.
struct Compared {
    results: Vec<(usize, usize, TableVerify)>,
    errors: Vec<Error>,
    left: VecDeque<Part>,
    sequences: Sides<SequenceState>,
    large_objects: Sides<LargeObjectState>,
}

/// Every compared table's result: its parts, in key order, merged into one; the tables (or
/// parts) no worker reached (every worker failed to open) reported failed, not dropped.
fn merge_parts(
    mut results: Vec<(usize, usize, TableVerify)>,
    left: VecDeque<Part>,
    max_rows: usize,
) -> Vec<TableVerify> {
    for (n, part, j) in left {
        let mut t = TableVerify::skipped(&j.sql.schema, &j.sql.table, "not compared");
        t.status = VerifyStatus::Failed;
        results.push((n, part, t));
    }
    results.sort_by_key(|r| (r.0, r.1));
    let mut by_table: BTreeMap<usize, Vec<TableVerify>> = BTreeMap::new();
    for (n, _, r) in results {
        by_table.entry(n).or_default().push(r);
    }
    by_table.into_values().map(|p| merge(p, max_rows)).collect()
}
