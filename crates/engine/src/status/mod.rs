//! `db-migrate status`: what the migrations recorded on a target are doing, read while a run
//! goes on or after one was killed, writing nothing on either server.
//!
//! Per target database that holds a ledger ([`crate::ledger`]) or a subscription of ours
//! ([`crate::replication::names`]): the run, its method and stage, the table parts copied of
//! all planned, bytes copied and the rate over the last minute, an estimated time left, the
//! subscription and (with the source) its slot's lag and whether it falls, and whether the run
//! is alive, that is whether client sessions named `db-migrate/...` are connected to that
//! database. A run that is not alive is described with what `--resume` would do with it.
//!
//! Why read-only is provable: every session the status opens runs
//! `SET default_transaction_read_only = on` before its first read, and the report says whether
//! the server saw each reading transaction as read-only ([`StatusReport::read_only`]).
//!
//! A finished migration is shown from the record its run leaves (the ledger's `run` row,
//! stamped `finished_at`, with the copy's figures): done, when, and what was copied.
//! Databases with neither a ledger nor a subscription of ours are not listed.
//!
//! - [`progress`]: the copy progress in a ledger's `part` table;
//! - [`render`]: the text form.

pub mod progress;
pub mod render;

use std::time::Duration;

use tokio_postgres::error::SqlState;

use crate::catalog::replication::state as repl;
use crate::catalog::status::{self as cat, MigrationSession};
use crate::conn::{ConnInfo, Session};
use crate::error::{Error, Result, Side};
use crate::ledger::{self, RunRecord, Stage};
use crate::remedy::Setting;
use crate::replication::names::ObjectNames;

pub use progress::TableProgress;

/// How long a single status waits between its two readings of a slot's lag.
pub const LAG_INTERVAL: Duration = Duration::from_secs(2);

/// What to look at.
#[derive(Debug, Clone)]
pub struct StatusOptions {
    pub target: ConnInfo,
    /// With the source, the lag of the subscriptions' slots is read there.
    pub source: Option<ConnInfo>,
    /// Only these target databases (empty: all).
    pub only_dbs: Vec<String>,
    /// Not these.
    pub filtered_dbs: Vec<String>,
}

/// One reading of the target (and source).
#[derive(Debug, Clone, serde::Serialize)]
pub struct StatusReport {
    /// The target server, without credentials.
    pub target: String,
    /// The target's clock when it was read.
    pub read_at: String,
    /// Every transaction the status read in was read-only, as the servers report it.
    pub read_only: bool,
    /// Why the source could not be read (then no lag is known).
    pub source_error: Option<String>,
    pub databases: Vec<DatabaseStatus>,
}

/// Where a database's migration is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunState {
    /// Sessions of a run are connected to the database.
    Running,
    /// No session of a run, the migration is unfinished: `--resume` continues it.
    Stopped,
    /// No session of a run; the subscription carries the changes until the cut-over.
    Replicating,
    /// The ledger says done: the run finished this database (its whole ledger kept until every
    /// database of the run is done, then only the record of the finished migration).
    Done,
}

impl RunState {
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Running => "running",
            RunState::Stopped => "stopped",
            RunState::Replicating => "replicating",
            RunState::Done => "done",
        }
    }
}

/// The `run` row of a database's ledger.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunInfo {
    pub run_id: String,
    pub source_database: String,
    /// `dump` or `replication`; `None` until the run decided.
    pub method: Option<String>,
    /// `pre-data`, `data`, `replicating` or `done`.
    pub stage: &'static str,
    pub started_at: String,
    /// When the run finished the whole migration (the ledger is then only its record).
    pub finished_at: Option<String>,
    /// [`RunRecord::summary`].
    pub summary: String,
}

/// A subscription of ours in a target database.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SubscriptionStatus {
    pub name: String,
    pub enabled: bool,
    pub slot: Option<String>,
    pub worker_running: bool,
    /// The last source WAL position the target reported back.
    pub latest_end_lsn: Option<String>,
    pub last_message_seconds_ago: Option<i64>,
    pub tables_total: i64,
    /// Tables whose initial synchronisation is not finished.
    pub tables_not_ready: i64,
    /// PostgreSQL 15+ `pg_stat_subscription_stats`.
    pub apply_errors: Option<i64>,
    pub sync_errors: Option<i64>,
    /// The slot's lag on the source (`None` without `-s` or without a slot).
    pub lag: Option<Lag>,
}

/// A slot's lag: `pg_current_wal_insert_lsn() - confirmed_flush_lsn` on the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Lag {
    pub slot_exists: bool,
    pub slot_active: bool,
    /// `None` before the slot confirmed anything.
    pub bytes: Option<i64>,
    /// The reading before (a few seconds earlier, or the previous `--watch` refresh).
    pub previous_bytes: Option<i64>,
    /// `bytes < previous_bytes`; `None` without two readings.
    pub falling: Option<bool>,
}

/// One target database with a migration recorded.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DatabaseStatus {
    pub dbname: String,
    /// `None`: a subscription of ours but no ledger.
    pub run: Option<RunInfo>,
    pub state: RunState,
    /// Sessions of a run are connected to the database.
    pub alive: bool,
    pub sessions: Vec<MigrationSession>,
    pub progress: Option<TableProgress>,
    /// The database's warnings so far by kind, as its run last recorded them (at each stage).
    pub warnings: std::collections::BTreeMap<String, u64>,
    pub subscription: Option<SubscriptionStatus>,
    /// What `--resume` would do, when the run is not alive.
    pub resume: Option<String>,
}

/// The `application_name` of the status's sessions unless the conninfo gives one: not
/// `db-migrate/...`, so that a status watching from another terminal is not taken for a run.
pub const APPLICATION_NAME: &str = concat!("db-migrate-status/", env!("CARGO_PKG_VERSION"));

/// Opens a session that cannot write: every transaction it runs is read-only.
async fn open(info: &ConnInfo, db: Option<&str>) -> Result<Session> {
    let mut info = info.clone();
    info.application_name
        .get_or_insert_with(|| APPLICATION_NAME.to_owned());
    let s = crate::conn::connect(&info, db).await?;
    s.batch_execute("SET default_transaction_read_only = on")
        .await
        .map_err(Error::from_pg)?;
    Ok(s)
}

/// Reads the status. `previous`: the reading before (a `--watch` refresh), to tell whether the
/// lag falls; without it, a lag is read twice, [`LAG_INTERVAL`] apart.
///
/// Fails only when the target cannot be read at all; a database that disappears meanwhile (a
/// run finished and dropped its ledger, `--clean` dropped it) is simply not listed.
pub async fn read(opts: &StatusOptions, previous: Option<&StatusReport>) -> Result<StatusReport> {
    let side = |e: Error| e.with_side(Side::Target);
    let main = open(&opts.target, None).await.map_err(side)?;
    let mut own_pids = vec![cat::backend_pid(&main).await.map_err(side)?];
    let mut read_only = cat::transaction_read_only(&main).await.map_err(side)?;
    let read_at = cat::now_utc(&main).await.map_err(side)?;
    // The user's own application_name, if the conninfo gives one: a run started with the same
    // conninfo carries it instead of db-migrate/<version>.
    let names: Vec<String> = opts.target.application_name.iter().cloned().collect();
    let mut databases = Vec::new();
    for db in cat::connectable_databases(&main).await.map_err(side)? {
        if (!opts.only_dbs.is_empty() && !opts.only_dbs.contains(&db))
            || opts.filtered_dbs.contains(&db)
        {
            continue;
        }
        let s = match open(&opts.target, Some(&db)).await {
            Ok(s) => s,
            Err(e) if opts.only_dbs.contains(&db) => {
                return Err(side(e).with_database(db.clone()));
            }
            // One we may not connect to holds nothing of a run of ours.
            Err(e) => {
                tracing::debug!("target database {db}: {e}");
                continue;
            }
        };
        own_pids.push(cat::backend_pid(&s).await.map_err(side)?);
        match read_database(&s, &db, &names, &own_pids).await {
            Ok(Some(d)) => databases.push(d),
            Ok(None) => {}
            Err(e) => return Err(side(e).with_database(db.clone())),
        }
        read_only &= cat::transaction_read_only(&s).await.map_err(side)?;
    }
    let mut report = StatusReport {
        target: crate::conn::connect::describe_endpoint(&opts.target),
        read_at,
        read_only,
        source_error: None,
        databases,
    };
    if let Some(source) = &opts.source
        && report.databases.iter().any(|d| slot_of(d).is_some())
        && let Err(e) = read_lags(source, &mut report, previous).await
    {
        report.source_error = Some(e.with_side(Side::Source).to_string());
    }
    Ok(report)
}

fn slot_of(d: &DatabaseStatus) -> Option<&str> {
    d.subscription.as_ref().and_then(|s| s.slot.as_deref())
}

/// Reads the ledger, subscription and sessions of database `db`; `None` when it holds neither
/// a ledger nor a subscription of ours.
async fn read_database(
    s: &Session,
    db: &str,
    names: &[String],
    own_pids: &[i32],
) -> Result<Option<DatabaseStatus>> {
    let run = match ledger::read(s).await {
        Ok(r) => r,
        // Dropped between its look-up and its read: the run finished.
        Err(e) if e.sqlstate() == Some(&SqlState::UNDEFINED_TABLE) => None,
        Err(e) => return Err(e),
    };
    let (progress, warnings) = match &run {
        Some(r) if r.finished_at.is_some() => {
            (progress::finished(s).await?, progress::warnings(s).await?)
        }
        Some(_) => (progress::read(s).await?, progress::warnings(s).await?),
        None => (None, Default::default()),
    };
    let subscription = read_subscription(s, db).await?;
    if run.is_none() && subscription.is_none() {
        return Ok(None);
    }
    let sessions = cat::migration_sessions(s, names, own_pids).await?;
    let alive = !sessions.is_empty();
    let stage = run.as_ref().map(|r| r.stage);
    let state = match stage {
        Some(Stage::Done) => RunState::Done,
        _ if alive => RunState::Running,
        Some(Stage::Replicating) | None => RunState::Replicating,
        Some(_) => RunState::Stopped,
    };
    let resume = match (&run, alive) {
        (Some(r), false) => Some(resume_plan(r, progress.as_ref())),
        _ => None,
    };
    Ok(Some(DatabaseStatus {
        dbname: db.to_owned(),
        run: run.as_ref().map(|r| RunInfo {
            run_id: r.run_id.clone(),
            source_database: r.source_database.clone(),
            method: r.method.clone(),
            stage: r.stage.as_str(),
            started_at: r.started_at.clone(),
            finished_at: r.finished_at.clone(),
            summary: r.summary(),
        }),
        state,
        alive,
        sessions,
        progress,
        warnings,
        subscription,
        resume,
    }))
}

/// The subscription of ours in the session's database, under the plain or the mangled name.
async fn read_subscription(s: &Session, db: &str) -> Result<Option<SubscriptionStatus>> {
    let via_extras = cat::can_list_subscriptions_via_extras(s).await?;
    for names in ObjectNames::candidates(db) {
        let name = names.subscription;
        let Some(state) = repl::subscription_state(s, &name, via_extras).await? else {
            continue;
        };
        let worker = cat::apply_worker(s, &name).await?;
        // pg_subscription_rel is readable by every user; its join with pg_subscription may
        // not be (then the counts are unknown, shown as 0 of 0).
        let tables =
            repl::subscription_tables(s, &name)
                .await
                .unwrap_or(repl::SubscriptionTables {
                    total: 0,
                    not_ready: 0,
                });
        let errors = repl::subscription_error_counts(s, &name).await?;
        return Ok(Some(SubscriptionStatus {
            enabled: state.enabled,
            slot: state.slot_name,
            worker_running: worker.as_ref().is_some_and(|w| w.running),
            latest_end_lsn: worker.as_ref().and_then(|w| w.latest_end_lsn.clone()),
            last_message_seconds_ago: worker.as_ref().and_then(|w| w.last_message_seconds_ago),
            tables_total: tables.total,
            tables_not_ready: tables.not_ready,
            apply_errors: errors.map(|e| e.0),
            sync_errors: errors.map(|e| e.1),
            lag: None,
            name,
        }));
    }
    Ok(None)
}

/// Reads the lag of every subscription's slot on the source, twice [`LAG_INTERVAL`] apart
/// without a `previous` reading.
async fn read_lags(
    source: &ConnInfo,
    report: &mut StatusReport,
    previous: Option<&StatusReport>,
) -> Result<()> {
    let src = open(source, None).await?;
    let mut first: Vec<Option<Lag>> = Vec::new();
    for d in &report.databases {
        first.push(match slot_of(d) {
            Some(slot) => Some(lag(&src, slot).await?),
            None => None,
        });
    }
    let before: Vec<Option<i64>> = match previous {
        Some(p) => report
            .databases
            .iter()
            .map(|d| {
                p.databases
                    .iter()
                    .find(|x| x.dbname == d.dbname)
                    .and_then(|x| x.subscription.as_ref()?.lag?.bytes)
            })
            .collect(),
        None => {
            tokio::time::sleep(LAG_INTERVAL).await;
            let earlier = first.iter().map(|l| l.and_then(|l| l.bytes)).collect();
            for (d, l) in report.databases.iter().zip(first.iter_mut()) {
                if let Some(slot) = slot_of(d) {
                    *l = Some(lag(&src, slot).await?);
                }
            }
            earlier
        }
    };
    if !cat::transaction_read_only(&src).await? {
        report.read_only = false;
    }
    for ((d, l), b) in report.databases.iter_mut().zip(first).zip(before) {
        if let (Some(sub), Some(mut l)) = (d.subscription.as_mut(), l) {
            l.previous_bytes = b;
            l.falling = match (l.bytes, b) {
                (Some(now), Some(then)) => Some(now < then),
                _ => None,
            };
            sub.lag = Some(l);
        }
    }
    Ok(())
}

async fn lag(src: &Session, slot: &str) -> Result<Lag> {
    let l = repl::slot_lag(src, slot).await?;
    Ok(Lag {
        slot_exists: l.is_some(),
        slot_active: l.is_some_and(|l| l.active),
        bytes: l.and_then(|l| l.lag_bytes),
        previous_bytes: None,
        falling: None,
    })
}

/// What `--resume` would do with the stopped run `r` (README, Recovery).
pub fn resume_plan(r: &RunRecord, p: Option<&TableProgress>) -> String {
    let (resume, clean) = (Setting::Resume, Setting::Clean);
    let what = match r.stage {
        Stage::PreData => format!(
            "{resume} starts this database over: what the run created is removed \
             (as with {clean}) and the schema is created again"
        ),
        Stage::Data if r.method.as_deref() == Some("replication") => format!(
            "{resume} continues on the run's own publication and slot: parts copied are kept, \
             the tables not fully copied are copied again by the subscription, then the \
             post-data objects not yet created are created"
        ),
        Stage::Data => {
            let (copied, total, post) = p.map_or((0, 0, 0), |p| {
                (p.parts_copied, p.parts_total, p.post_data_created)
            });
            format!(
                "{resume} keeps the {copied} table parts copied, copies the other {} in a new \
                 snapshot, then creates the post-data objects not yet created ({post} created \
                 so far)",
                total.saturating_sub(copied)
            )
        }
        Stage::Replicating => format!(
            "the subscription carries the source's changes; {resume} leaves \
             it running, and the cut-over (the first command with \
             {} and {}) finishes it",
            Setting::MaxReplicationLag,
            Setting::StopReplication
        ),
        Stage::Done if r.finished_at.is_some() => format!(
            "nothing is left to do: {} compares the database with the source again; \
             DROP SCHEMA db_migrate CASCADE removes this record",
            Setting::VerifyOnly
        ),
        Stage::Done => format!(
            "{resume} reports this database done without touching it, and keeps only \
             the record of the finished migration once every database of the run \
             is done"
        ),
    };
    format!("{}; {what}", r.summary())
}

impl StatusReport {
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|_| "{}".into())
    }
}
