//! The data engine: copies every row, sequence value and large object of one database from the
//! source to the target, in parallel, as of one instant.
//!
//! # The snapshot invariant
//!
//! A **coordinator** session on the source opens `BEGIN ISOLATION LEVEL REPEATABLE READ READ
//! ONLY` and exports its snapshot (`pg_export_snapshot()`), or imports the one it is given (the
//! replication method passes the snapshot its slot exported). Every worker's source session
//! imports that snapshot (`SET TRANSACTION SNAPSHOT`) before it reads anything, and **the
//! coordinator's transaction stays open until every worker is done**: an exported snapshot can
//! only be imported while its transaction lives, and keeping it also holds back vacuum so the
//! rows the snapshot sees stay readable. So the target receives the source as of one instant,
//! however long the copy takes and whatever is written to the source meanwhile. The coordinator
//! also takes `ACCESS SHARE` locks on the tables it plans to copy (as pg_dump does), so that a
//! concurrent `TRUNCATE`, `DROP` or table rewrite waits instead of breaking that image; if the
//! locks cannot be taken (lock table full, lock timeout) this is a warning.
//!
//! # Pipeline
//!
//! The stages of one database's copy, in the order they run, are in `run.rs`; what they use:
//!
//! - [`plan`]: lists the tables (leaf partitions, never partitioned parents; unlogged tables;
//!   extension configuration tables with their `extcondition`; no materialized views, no
//!   foreign tables), their columns (no dropped or generated ones), the COPY format per table
//!   and the parts of tables larger than [`CopyOptions::split_larger_than`] (TID ranges on
//!   PG14+ sources, integer primary-key ranges on older ones, else no split).
//! - [`sched`]: one queue shared by `jobs` workers: post-data jobs of finished tables first,
//!   then copy parts largest first, then large objects, then `ANALYZE`.
//! - [`worker`]: each worker has its own source and target session of our own protocol client
//!   and streams raw COPY data with [`crate::conn::wire::pass_through`]: the source's CopyData
//!   messages are written to the target as they were read (no row parsing, no per-row message,
//!   one 256 KiB buffer per worker whatever the row sizes). Against tokio-postgres' COPY
//!   streams this cut the engine's CPU time from 10-12.6 % to about 6.7 % of the wall time in
//!   `scripts/bench`. The `jobs` workers are a `JoinSet` of blocking-pool threads, each running
//!   a current-thread runtime, so a worker's bytes never cross threads. Large objects use
//!   tokio-postgres sessions (extended-protocol parameters), opened only when there are some.
//! - [`sequences`], [`large_objects`]: the rest of the data.
//! - [`progress`]: a live bar on a terminal, periodic log lines otherwise.
//!
//! # Required settings and privileges
//!
//! Source: `SELECT` on every copied table, sequence and large object (or superuser); a
//! connection slot per worker plus one. Target: `INSERT` on the tables (owner or `TRUNCATE`
//! privilege enables the faster `TRUNCATE` + `COPY FREEZE` path); a connection slot per worker
//! plus one. Where the target user may set `session_replication_role` (superuser, or PG15+
//! `GRANT SET ON PARAMETER`), the load runs with `replica`, so no user trigger and no
//! foreign-key check fires; otherwise enabled user triggers and existing foreign keys on the
//! target are reported as warnings. The schema engine is expected to create triggers and
//! foreign keys in post-data, after the load.
//!
//! # Failure and cancellation
//!
//! The first failure stops the other workers (their running statements are cancelled on both
//! servers) and is returned with the table, the part and the SQLSTATE; further independent
//! failures are logged. A table appears in the report only after all of its parts committed on
//! the target. Cancelling the pair's token ([`DbPair::cancel`], the run's) cancels every running statement on both
//! servers, rolls back every transaction and returns an error of kind
//! [`ErrorKind::Cancelled`].
//!
//! A limitation to know: tokio-postgres reports a target-side error in a `COPY FROM STDIN`
//! (a constraint violation, a full disk) only when the COPY ends, so the worker reads the rest of
//! that part from the source first. Splitting bounds that waste to one part.

pub mod large_objects;
pub mod plan;
pub mod progress;
pub mod report;
pub mod resume;
pub mod retry;
mod run;
pub mod sched;
pub mod sequences;
pub mod statistics;
pub mod worker;

use std::collections::HashMap;
use std::num::NonZeroUsize;

use tokio_util::sync::CancellationToken;

use crate::error::{ErrorKind, Result};
use crate::pair::DbPair;

/// Default for [`CopyOptions::split_larger_than`]: 1 GiB.
///
/// Splitting costs something: a split table cannot be loaded with `COPY FREEZE` (so vacuum later
/// rewrites every page to set hint bits and the visibility map), each part scans a TID range
/// rather than streaming the heap in one pass, and the parts interleave on the target's disk.
/// It pays off when one table would otherwise keep a single worker busy long after the others
/// finished. At 1 GiB a single stream takes roughly 5–20 s on local disks (longer across a
/// network), so only tables that would dominate the tail of the copy are split, and the parts
/// are big enough that per-part overhead is negligible and small enough to balance the load.
pub const DEFAULT_SPLIT_LARGER_THAN: u64 = 1024 * 1024 * 1024;

/// `--copy-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CopyFormat {
    /// Binary where both servers' majors and every column type allow it (built-in types with
    /// binary I/O, target major >= source major, same column types on both sides); text
    /// otherwise, per table.
    #[default]
    Auto,
    /// Binary for every table whose column types have a portable binary form (this includes
    /// enums, domains and extension types with binary I/O); text, with a warning, for tables
    /// with composites, arrays of non-built-in types or reg* types.
    Binary,
    /// Text for every table.
    Text,
}

/// How progress is shown (the engine's one display, [`crate::progress`]).
pub use crate::progress::ProgressMode;
pub use report::{CopyOutcome, CopyReport, TableCopyResult, TableState, TableStatus};

/// Options of the data copy.
#[derive(Debug, Clone)]
pub struct CopyOptions {
    /// Parallel workers (each with one source and one target session). Default: the number of
    /// CPU cores, at least 2.
    pub jobs: NonZeroUsize,
    pub format: CopyFormat,
    /// Tables larger than this many bytes (heap + TOAST on the source) are copied in parts
    /// of about this size. 0 disables splitting. Default [`DEFAULT_SPLIT_LARGER_THAN`].
    pub split_larger_than: u64,
    /// The loaded tables' planner statistics: the source's restored (18+ targets), `ANALYZE`,
    /// or none (`--statistics`, `--no-analyze`; see [`statistics`]).
    pub statistics: statistics::StatisticsMode,
    /// Copy extension configuration tables (default true;
    /// `--no-replicate-extension-tables` sets false).
    pub extension_tables: bool,
    pub progress: ProgressMode,
    /// Keep the target database's ledger ([`crate::ledger`], which must exist): each part
    /// commits together with its ledger row, large-object batches and post-data objects
    /// likewise, and what the ledger says is in already is not copied again (resume). The
    /// orchestrator turns it on; a plain `copy_database` leaves it off.
    pub ledger: bool,
    /// How often a task that failed with a transient error ([`retry::is_transient`]) is run
    /// again on fresh sessions before the copy fails (`--copy-retries`, default
    /// [`retry::DEFAULT_RETRIES`]). Parts are retried when their transaction makes a retry
    /// exact: with the ledger, or for a table loaded with TRUNCATE + COPY FREEZE.
    pub retries: u32,
    /// The wait before the first retry; it doubles per retry, at most
    /// [`retry::MAX_RETRY_DELAY`].
    pub retry_delay: std::time::Duration,
    /// `--stall-timeout`: a copy part or large-object batch that moves no byte for this long is
    /// cancelled on both sides and retried on new sessions like a lost connection (within
    /// `retries`), else fails naming the stall ([`crate::stall`]). `None`: not watched.
    /// Default [`crate::stall::DEFAULT_STALL_TIMEOUT`].
    pub stall_timeout: Option<std::time::Duration>,
    /// The database's selection (`--with-table`, `--exclude-table-data`...): only the tables
    /// and sequences whose data it includes are copied. `None`: everything.
    pub selection: Option<std::sync::Arc<crate::selection::DbSelection>>,
    /// Replication carries the changes made since an earlier run's snapshot (`--resume` of a
    /// run of the replication method): tables copied earlier get no warning about them.
    pub earlier_changes_replicated: bool,
    /// The run's pool of copy workers when several databases copy at once (the
    /// orchestrator's budget: `--jobs` for the whole run): each worker holds one permit for
    /// its life. `None`: this copy's `jobs` workers start at once.
    pub sessions: Option<std::sync::Arc<tokio::sync::Semaphore>>,
    /// Tables whose COPY needs a search_path (see [`plan::TablePlan::search_path`]), with it.
    pub search_paths: std::collections::HashMap<(String, String), String>,
}

/// The default worker count: CPU cores, at least 2.
pub fn default_jobs() -> NonZeroUsize {
    std::thread::available_parallelism()
        .unwrap_or(NonZeroUsize::MIN)
        .max(NonZeroUsize::new(2).expect("2 is not zero"))
}

impl Default for CopyOptions {
    fn default() -> Self {
        CopyOptions {
            jobs: default_jobs(),
            format: CopyFormat::Auto,
            split_larger_than: DEFAULT_SPLIT_LARGER_THAN,
            statistics: statistics::StatisticsMode::default(),
            extension_tables: true,
            progress: ProgressMode::Auto,
            ledger: false,
            retries: retry::DEFAULT_RETRIES,
            retry_delay: retry::DEFAULT_RETRY_DELAY,
            stall_timeout: Some(crate::stall::DEFAULT_STALL_TIMEOUT),
            selection: None,
            earlier_changes_replicated: false,
            sessions: None,
            search_paths: std::collections::HashMap::new(),
        }
    }
}

/// A post-data step prepared by the schema engine: statements for one object, already decided
/// (owner, ACL).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PostDataJob {
    /// What the object is, for errors ("index public.t_pkey").
    pub describe: String,
    /// Each run with `batch_execute` (simple query), in order; in one transaction with the
    /// object's ledger row. One that fails fails the database.
    pub statements: Vec<String>,
    /// The object's owner, privilege and comment statements, each run on its own once the
    /// object exists. The target may refuse them (a publication's owner needs CREATE on the
    /// database, a grant needs the grant option) and, as in the schema stage, that is a warning
    /// of the given kind, never a failed database: the object is there, only its owner or a
    /// grant is not. They are idempotent, so they run again when a resumed run finds the object
    /// already recorded.
    pub refusable: Vec<(crate::warning::WarningKind, String)>,
    /// `--keep-going`: a statement the target refuses does not fail the database; the object
    /// is recorded here (with the run's schema refusals) and the next job runs.
    pub refusals: Option<crate::schema::exec::Refusals>,
    /// The post-data objects it depends on, by description: under `--keep-going`, when one of
    /// them was refused (or skipped with one), this one is skipped and listed with it.
    pub depends_on: Vec<String>,
    /// Which refusals of `statements` skip the object with a warning, as in the schema stage
    /// (an event trigger or a publication `FOR ALL TABLES` the target user may not create, a
    /// subscription), instead of failing the database.
    pub skip: crate::schema::exec::SkipRule,
    /// `statements` may hold credentials ([`crate::schema::exec::conceals`]): never shown, and
    /// the target's messages about them redacted.
    pub conceal: bool,
}

/// Post-data work, split by what it waits for.
///
/// `by_table[(schema, table)]` runs as soon as that table's rows are all in (for a partitioned
/// table: all of its leaf partitions), on the workers, within the same `jobs` budget: jobs that
/// only build an index (`CREATE [UNIQUE] INDEX`, optionally followed by `COMMENT ON INDEX` /
/// `ALTER INDEX`) run in parallel, then the table's other jobs in their given order. So a job
/// keyed by table t must depend only on t (and on objects created before the copy): foreign
/// keys belong in `rest`. Keys that name no copied table (a materialized view, say) run after
/// all tables, before `rest`. `rest` runs after everything, in order, on one session.
#[derive(Debug, Clone, Default)]
pub struct PostDataPlan {
    pub by_table: HashMap<(String, String), Vec<PostDataJob>>,
    pub rest: Vec<PostDataJob>,
}

/// Copies all data of one database. `snapshot`: an already exported snapshot to use (the
/// replication method passes the slot's); `None` = the coordinator exports one.
///
/// Runs `post_data.by_table[t]` as soon as table t is fully loaded (within the same jobs
/// budget), and `post_data.rest` after all tables. See the module documentation for the
/// consistency, failure and cancellation guarantees.
pub async fn copy_database(
    pair: &DbPair,
    opts: &CopyOptions,
    snapshot: Option<&str>,
    post_data: PostDataPlan,
) -> Result<CopyReport> {
    copy_database_with_states(pair, opts, snapshot, post_data)
        .await
        .result
}

/// [`copy_database`], also returning where every table stands when the copy failed or was
/// interrupted (which tables are in, which failed with what error, which did not start).
pub async fn copy_database_with_states(
    pair: &DbPair,
    opts: &CopyOptions,
    snapshot: Option<&str>,
    post_data: PostDataPlan,
) -> CopyOutcome {
    let stop = pair.cancel().child_token();
    // If this future is dropped before it ends, the workers (on their own threads) stop too.
    let _stop_on_drop = stop.clone().drop_guard();
    let job = CopyJob {
        pair,
        opts,
        snapshot,
    };
    let mut tables = Vec::new();
    let result = run::run(&job, post_data, &stop, &mut tables).await;
    stop.cancel();
    let result = match result {
        Err(e) if pair.cancel().is_cancelled() && e.kind() != ErrorKind::Cancelled => {
            tracing::debug!("after cancellation: {e}");
            Err(run::interrupted().with_database(pair.source_db()))
        }
        r => r,
    };
    CopyOutcome { result, tables }
}

/// What to copy from where: the arguments of [`copy_database`].
#[derive(Clone, Copy)]
struct CopyJob<'a> {
    pair: &'a DbPair,
    opts: &'a CopyOptions,
    snapshot: Option<&'a str>,
}

#[allow(dead_code)]
fn _assert_send() {
    fn is_send<T: Send>(_: &T) {}
    let opts = CopyOptions::default();
    let info = crate::conn::ConnInfo::parse("host=x").unwrap();
    let pair = DbPair::new(&info, &info, "a", CancellationToken::new()).into_target_db("b");
    let f = copy_database(&pair, &opts, None, PostDataPlan::default());
    is_send(&f);
}
