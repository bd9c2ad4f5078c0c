//! The run's board: what every database of the running migration is doing now, in one place,
//! for the two readers that watch a run from inside the process, the terminal display
//! ([`crate::progress`]) and the Prometheus endpoint ([`crate::metrics`]).
//!
//! Why a process-wide board and not a value threaded through the stages: the stages already
//! report their live counters through one door, [`crate::progress::spawn`], and their results
//! through the [`MigrateResult`] the run builds; the board only listens at those doors (and at
//! the replication's one lag measurement), so no stage learns about displays or metrics. A
//! library user running two migrations at once in one process sees both on it, keyed by the
//! database name.
//!
//! Counters are read live from the stage's gauge while it runs; once a database is finished,
//! the values of its [`DatabaseResult`] replace them, so the last reading equals the report.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use crate::gauge::Reading;
use crate::report::{DatabaseResult, DbStatus, MigrateResult};
use crate::warning::WarningKind;

/// A stage's live counters, as its gauge reads them.
pub type ReadFn = Arc<dyn Fn() -> Reading + Send + Sync>;

#[derive(Default)]
struct Entry {
    phase: &'static str,
    copy: Option<ReadFn>,
    verify: Option<ReadFn>,
    lag_bytes: Option<i64>,
    /// Transient failures retried so far (the finished entry's count replaces it).
    retries: u64,
    finished: Option<Snapshot>,
}

#[derive(Default)]
struct Board {
    order: Vec<String>,
    databases: BTreeMap<String, Entry>,
    warnings: BTreeMap<String, u64>,
}

static BOARD: Mutex<Option<Board>> = Mutex::new(None);

fn with<T>(f: impl FnOnce(&mut Board) -> T) -> T {
    let mut guard = BOARD.lock().unwrap_or_else(|e| e.into_inner());
    f(guard.get_or_insert_with(Board::default))
}

/// One database as the readers see it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    pub database: String,
    /// `waiting`, `schema`, `copy`, `verify`, `replicating`, `done`, `failed`.
    pub phase: &'static str,
    pub bytes: u64,
    /// The copy's estimate of all its bytes (the sum of the tables' sizes).
    pub est_bytes: u64,
    pub rows: u64,
    pub tables_done: u64,
    pub tables_total: u64,
    pub parts_failed: u64,
    pub retries: u64,
    pub verify_tables_done: u64,
    pub verify_tables_total: u64,
    pub lag_bytes: Option<i64>,
    /// The cut-over's write-unavailable window and its steps' durations.
    pub cutover_seconds: Option<f64>,
    pub cutover_steps: Vec<(&'static str, f64)>,
    pub method: Option<&'static str>,
}

/// The run starts with these databases, in this order (each `waiting`).
pub fn start(databases: &[String]) {
    with(|b| {
        for d in databases {
            if !b.databases.contains_key(d) {
                b.order.push(d.clone());
            }
            b.databases.insert(
                d.clone(),
                Entry {
                    phase: "waiting",
                    ..Default::default()
                },
            );
        }
    });
}

fn entry<'a>(b: &'a mut Board, db: &str) -> &'a mut Entry {
    if !b.databases.contains_key(db) {
        b.order.push(db.to_owned());
    }
    b.databases.entry(db.to_owned()).or_default()
}

/// Database `db` enters `phase`.
pub fn phase(db: &str, phase: &'static str) {
    with(|b| entry(b, db).phase = phase);
}

/// A stage (`copy`, `verify`) of `db` shows its counters through `read` from now on.
pub fn watch(db: &str, stage: &'static str, read: ReadFn) {
    with(|b| {
        let e = entry(b, db);
        e.phase = stage;
        match stage {
            "verify" => e.verify = Some(read),
            _ => e.copy = Some(read),
        }
    });
}

/// The latest replication lag of `db`'s slot, in bytes.
pub fn lag(db: &str, bytes: Option<i64>) {
    with(|b| {
        let e = entry(b, db);
        e.lag_bytes = bytes;
        if e.finished.is_none() {
            e.phase = "replicating";
        }
    });
}

/// A task of `db`'s copy failed with a transient error and runs again.
pub fn retried(db: &str) {
    with(|b| entry(b, db).retries += 1);
}

/// Database `d` ended with `warnings` (counted with the run's): its report entry's values
/// replace the live ones.
pub fn database_done(d: &DatabaseResult, warnings: &[crate::warning::Warning]) {
    with(|b| {
        let lag = b.databases.get(&d.dbname).and_then(|e| e.lag_bytes);
        let mut s = finished(d);
        s.lag_bytes = lag;
        entry(b, &d.dbname).finished = Some(s);
        for w in warnings {
            *b.warnings.entry(w.kind.name()).or_default() += 1;
        }
    });
}

/// The run ended (or its databases so far): every database's and warning's final values.
pub fn sync(result: &MigrateResult) {
    with(|b| {
        for d in &result.databases {
            let lag = b.databases.get(&d.dbname).and_then(|e| e.lag_bytes);
            let mut s = finished(d);
            s.lag_bytes = lag;
            entry(b, &d.dbname).finished = Some(s);
        }
        b.warnings.clear();
        for w in &result.warnings {
            *b.warnings.entry(w.kind.name()).or_default() += 1;
        }
    });
}

fn finished(d: &DatabaseResult) -> Snapshot {
    let mut s = Snapshot {
        database: d.dbname.clone(),
        phase: match d.status {
            DbStatus::Done => "done",
            DbStatus::Running => "replicating",
            DbStatus::Failed => "failed",
        },
        method: d.method.map(|m| match m {
            crate::report::Method::Dump => "dump",
            crate::report::Method::Replication => "replication",
        }),
        ..Default::default()
    };
    if let Some(c) = &d.data {
        s.bytes = c.bytes;
        s.est_bytes = c.bytes;
        s.rows = c.rows;
        s.tables_done = c.tables.len() as u64;
        s.tables_total = (d.tables.len() as u64).max(s.tables_done);
        s.retries = c.retries as u64;
    }
    s.parts_failed = (d.tables.iter())
        .map(|t| u64::from(t.parts.saturating_sub(t.parts_copied)))
        .sum();
    if let Some(v) = &d.verify {
        s.verify_tables_total = v.tables.len() as u64;
        s.verify_tables_done = s.verify_tables_total;
    }
    if let Some(c) = &d.cutover {
        s.cutover_seconds = Some(c.write_unavailable_seconds);
        s.cutover_steps = c.steps.iter().map(|x| (x.step, x.seconds)).collect();
    }
    s
}

/// Every database of the board, in the run's order, and the run's warnings by kind.
pub fn read() -> (Vec<Snapshot>, Vec<(String, u64)>) {
    with(|b| {
        let dbs = b
            .order
            .iter()
            .filter_map(|name| {
                let e = b.databases.get(name)?;
                if let Some(f) = &e.finished {
                    return Some(f.clone());
                }
                let mut s = Snapshot {
                    database: name.clone(),
                    phase: e.phase,
                    lag_bytes: e.lag_bytes,
                    retries: e.retries,
                    ..Default::default()
                };
                if let Some(r) = e.copy.as_ref().map(|f| f()) {
                    s.bytes = r.done;
                    s.est_bytes = r.total.max(r.done);
                    s.rows = r.rows;
                    s.tables_done = r.tables_done;
                    s.tables_total = r.tables_total;
                }
                if let Some(r) = e.verify.as_ref().map(|f| f()) {
                    s.verify_tables_done = r.tables_done;
                    s.verify_tables_total = r.tables_total;
                }
                Some(s)
            })
            .collect();
        let warnings = warning_kinds()
            .map(|k| {
                let n = b.warnings.get(&k).copied().unwrap_or(0);
                (k, n)
            })
            .collect();
        (dbs, warnings)
    })
}

/// Every kind of warning (as the JSON report names it), so that a kind with none reads 0.
fn warning_kinds() -> impl Iterator<Item = String> {
    WarningKind::ALL.into_iter().map(WarningKind::name)
}
