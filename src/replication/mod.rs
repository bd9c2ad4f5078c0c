//! The logical replication method: an exact hand-over from a parallel copy to a live
//! subscription, then (on request) the cut-over.
//!
//! # How one database is replicated
//!
//! 0. **Plan** ([`plan`]): publication form, slot creation and subscription path, decided
//!    before anything is written (preflight prints the same plan).
//! 1. **Publication** on the source database, `FOR ALL TABLES` (superuser, `aiven_extras`) or
//!    `FOR TABLE` the selected tables, or every table when `FOR ALL TABLES` is not possible
//!    ([`tables`]: managed sources), publishing `insert, update, delete, truncate`.
//! 2. **Slot** created on a replication connection ([`crate::conn::wire`]) with an
//!    exported snapshot.
//! 3. **Initial data**: the caller's copy (the data engine's parallel workers) runs inside that
//!    snapshot, then builds post-data (indexes, constraints...). The walsender session stays idle
//!    meanwhile, which keeps the snapshot alive.
//! 4. **Subscription** on the target database with `copy_data = false, create_slot = false,
//!    slot_name = <slot>`: changes stream from exactly where the snapshot ends.
//! 5. The subscription's worker must connect to the source within
//!    [`ReplicationOptions::worker_start_timeout`]: the *target server* connects to the source,
//!    and when it cannot (network, pg_hba, TLS) that is reported quickly. `CREATE SUBSCRIPTION`
//!    itself connects first, so an unreachable source fails right there.
//! 6. Status `running`. With `max_replication_lag`, wait until every table of the subscription is
//!    ready (`pg_subscription_rel`) and the slot's lag is at most that many bytes, bounded by
//!    `replication_timeout`, re-checking a schema fingerprint for drift meanwhile.
//! 7. With `stop_replication`: wait until the target confirmed everything up to the source's
//!    current WAL position, copy sequence values, drop subscription, publication and slot.
//!    Status `done`.
//!
//! When a replication connection is refused (pg_hba without `replication` lines, a pooler), or
//! the user lacks the REPLICATION attribute it needs, the slot is created with
//! `pg_create_logical_replication_slot()` instead and the subscription copies the data itself
//! (`copy_data = true`); the result says so. That path is refused, with the reason, for
//! databases with large objects, populated materialized views or extension tables holding
//! rows ([`fallback`]).
//!
//! The cut-over first brings in tables created on the source during replication ([`adopt`]).
//!
//! Privilege paths, each chosen per object: superuser (or a provider admin role) with plain SQL;
//! the `aiven_extras` SECURITY DEFINER functions where present; `pg_create_subscription`
//! membership on PostgreSQL 16+ targets. Object names: [`names`].
//!
//! Any setup failure drops whatever this run had created (subscription, publication, slot).
//! A missing privilege (SQLSTATE 42501) or prerequisite (wal_level, free slots/senders, no way to
//! create the subscription) returns [`Outcome::FallBackToDump`] unless the method was forced.
//!
//! # Wiring (for the orchestrator)
//!
//! Per database, in this order:
//!
//! ```text
//! // 0. (--cleanup) instead of migrating:      replication::cleanup(&src, &tgt, db).await
//! // 1. before any schema work, for EVERY method (also dump):
//! match replication::check_earlier_run(&src, &tgt, db, &ropts).await {
//!     Ok(Some(outcome)) => { /* an earlier run was cut over now: report outcome (done); skip the db */ }
//!     Ok(None)          => { /* nothing earlier: go on */ }
//!     Err(e)            => { /* objects of an earlier run exist: the db fails with e */ }
//! }
//! // 2. schema pre-data on the target (as for dump)
//! // 3. method: with --force-method dump / --dump-only / source < 10: dump, as today. Otherwise:
//! match replication::migrate_database(&src, &tgt, db, &ropts, |data| async move {
//!         match data {
//!             InitialData::InSnapshot(snap) => copy::copy_database(.., Some(&snap), post_data).await,
//!             InitialData::PostDataOnly      => /* apply post-data only */,
//!         }.map(|report| summary_string)
//!     }).await {
//!     Ok(Outcome::Replicated(o))            => DatabaseResult { method: Replication, status: o.status, message: o.message }
//!     Ok(Outcome::FallBackToDump { reason }) => { dump data + post-data; message includes reason }
//!     Err(e)                                 => failed, method Replication
//! }
//! ```
//!
//! Preflight: [`preflight::preflight_servers`] once and [`preflight::preflight_database`] per
//! database.

pub mod adopt;
pub mod done_earlier;
pub mod fallback;
pub mod fingerprint;
pub mod identity;
pub mod names;
pub mod objects;
pub mod plan;
/// Replication preflight lives with the rest of preflight; this keeps its earlier path.
pub use crate::preflight::replication as preflight;
pub mod tables;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::{info, warn};

use crate::conn::wire::connect_replication;
use crate::conn::{ConnInfo, Session, connect};
use crate::error::{Error, ErrorKind, Result, Side};
use crate::report::DbStatus;
use crate::sql::{quote_ident, quote_literal};

pub use fingerprint::Fingerprint;
pub use names::ObjectNames;
pub use objects::Via;
pub use plan::{PublicationForm, ReplicationPlan, SlotCreation};

use objects::{SourceFacts, TargetFacts};

/// Called with every lag measurement while waiting.
pub type ProgressFn = Arc<dyn Fn(&LagStatus) + Send + Sync>;

/// What the replication method needs to know besides the two conninfos.
#[derive(Clone)]
pub struct ReplicationOptions {
    /// `--force-method replication` / `--repl-only`: never fall back to dump.
    pub forced: bool,
    /// `-m` / `--mangle`: object names from md5(dbname).
    pub mangle: bool,
    /// `(schema, table)` pairs to publish (`--with-table`/`--skip-table` result); `None` or an
    /// empty list publish all tables.
    pub tables: Option<Vec<(String, String)>>,
    /// `--max-replication-lag BYTES`: wait until in sync. `None`: return as soon as it runs.
    pub max_replication_lag: Option<u64>,
    /// `--replication-timeout`: bound on every wait (lag, final catch-up).
    pub replication_timeout: Duration,
    /// `--stop-replication`: after the wait, sync sequences and drop the objects.
    pub stop_replication: bool,
    /// How the *target server* reaches the source (the subscription's conninfo). `None`: the
    /// source conninfo (its password, from pgpass too, is included; `connect_timeout=10` is added
    /// when unset). Set it when the target sees the source under another address.
    pub subscription_conninfo: Option<ConnInfo>,
    /// How long the subscription's worker may take to start streaming from the source.
    pub worker_start_timeout: Duration,
    /// Delay between lag checks.
    pub poll_interval: Duration,
    /// Progress while waiting (default: a log line every 10 s).
    pub progress: Option<ProgressFn>,
    /// `--no-owner` / `--no-acl` for the tables the cut-over creates on the target (created
    /// on the source during replication, see [`adopt`]).
    pub schema: crate::schema::SchemaOptions,
}

impl Default for ReplicationOptions {
    fn default() -> Self {
        ReplicationOptions {
            forced: false,
            mangle: false,
            tables: None,
            max_replication_lag: None,
            replication_timeout: Duration::from_secs(3600),
            stop_replication: false,
            subscription_conninfo: None,
            worker_start_timeout: Duration::from_secs(30),
            poll_interval: Duration::from_secs(2),
            progress: None,
            schema: crate::schema::SchemaOptions::default(),
        }
    }
}

impl std::fmt::Debug for ReplicationOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplicationOptions")
            .field("forced", &self.forced)
            .field("mangle", &self.mangle)
            .field("tables", &self.tables)
            .field("max_replication_lag", &self.max_replication_lag)
            .field("replication_timeout", &self.replication_timeout)
            .field("stop_replication", &self.stop_replication)
            .field("subscription_conninfo", &self.subscription_conninfo)
            .finish_non_exhaustive()
    }
}

/// What the caller's initial-data step must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InitialData {
    /// Copy every (published) table's data in this exported snapshot (`SET TRANSACTION SNAPSHOT`
    /// in every worker), then build post-data.
    InSnapshot(String),
    /// The subscription copies the data itself (`copy_data = true`): build post-data only (it
    /// runs before the subscription is created, so that the target has the keys the apply
    /// worker looks rows up by).
    PostDataOnly,
}

/// How the initial data got to the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InitialDataPath {
    /// Our parallel copy inside the slot's exported snapshot; subscription `copy_data = false`.
    ExportedSnapshot,
    /// The subscription's own table sync (`copy_data = true`), because a replication connection
    /// was refused.
    SubscriptionCopy,
    /// An earlier run did it (this run cut it over).
    EarlierRun,
}

/// Which path each part took.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PathTaken {
    pub publication: Option<Via>,
    /// `FOR ALL TABLES` or `FOR TABLE` the list (None: an earlier run created it).
    pub publication_form: Option<PublicationForm>,
    /// How many tables a `FOR TABLE` publication listed.
    pub published_tables: usize,
    pub slot: Option<SlotCreation>,
    pub subscription: Option<Via>,
    pub initial_data: InitialDataPath,
    /// Why the replication connection was not used, when it was not.
    pub replication_connection_refused: Option<String>,
}

/// The result of the replication method for one database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicationOutcome {
    /// `Running` or `Done` (after `stop_replication`).
    pub status: DbStatus,
    /// For the database's result entry.
    pub message: String,
    pub names: ObjectNames,
    pub path: PathTaken,
    /// The last lag measured, when a wait ran.
    pub lag_bytes: Option<i64>,
    /// Source objects whose definition changed since replication was set up.
    pub schema_drift: Vec<String>,
    /// Sequences whose value was copied at the stop.
    pub sequences_synced: usize,
    /// Tables created on the source during replication that the cut-over brought in.
    pub tables_added: Vec<String>,
    /// Tables dropped on the source since the setup (still on the target).
    pub tables_dropped: Vec<String>,
    /// Things the operator should read (each already names the database).
    pub warnings: Vec<String>,
}

/// What [`migrate_database`] decided.
#[derive(Debug, Clone, PartialEq, Eq)]
// One per database, returned and consumed at once: the size difference costs nothing.
#[allow(clippy::large_enum_variant)]
pub enum Outcome {
    Replicated(ReplicationOutcome),
    /// Replication is not possible for lack of privilege or a prerequisite; nothing was left
    /// behind. Use the dump method; put `reason` in the database's message.
    FallBackToDump {
        reason: String,
    },
}

/// One lag measurement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LagStatus {
    pub database: String,
    /// A walsender streams the slot (the subscription's worker is connected).
    pub slot_active: bool,
    /// `pg_current_wal_lsn() - confirmed_flush_lsn` of the slot on the source.
    pub lag_bytes: Option<i64>,
    pub tables_total: i64,
    pub tables_not_ready: i64,
    pub elapsed: Duration,
}

impl LagStatus {
    pub fn in_sync(&self, max: u64) -> bool {
        self.slot_active
            && self.tables_not_ready == 0
            && self.lag_bytes.is_some_and(|l| l <= max as i64)
    }
}

/// Objects of an earlier run found for one database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EarlierRun {
    pub database: String,
    pub names: ObjectNames,
    pub publication: bool,
    pub slot: Option<objects::SlotState>,
    pub subscription: Option<objects::SubState>,
}

impl EarlierRun {
    pub fn is_empty(&self) -> bool {
        !self.publication && self.slot.is_none() && self.subscription.is_none()
    }

    /// Publication, slot and an enabled subscription on that slot all exist.
    pub fn is_healthy(&self) -> bool {
        self.publication
            && self.slot.as_ref().is_some_and(|s| {
                s.logical_pgoutput && s.database.as_deref() == Some(self.database.as_str())
            })
            && self.subscription.as_ref().is_some_and(|s| {
                s.enabled && s.slot_name.as_deref() == Some(self.names.slot.as_str())
            })
    }

    /// "publication "x" and slot "y" on the source, subscription "z" on the target".
    pub fn describe(&self) -> String {
        let mut src = Vec::new();
        if self.publication {
            src.push(format!(
                "publication {}",
                quote_ident(&self.names.publication)
            ));
        }
        if self.slot.is_some() {
            src.push(format!(
                "replication slot {}",
                quote_ident(&self.names.slot)
            ));
        }
        let mut parts = Vec::new();
        if !src.is_empty() {
            parts.push(format!("{} on the source", src.join(" and ")));
        }
        if let Some(s) = &self.subscription {
            parts.push(format!(
                "subscription {} ({}) on the target",
                quote_ident(&self.names.subscription),
                if s.enabled { "enabled" } else { "disabled" }
            ));
        }
        parts.join(", ")
    }

    /// The error for a run that must not touch these objects.
    pub fn refusal(&self) -> Error {
        let finish = if self.is_healthy() {
            "to finish that migration (cut over), run the same command again with --max-replication-lag BYTES --stop-replication; "
        } else {
            "they are incomplete, so that migration cannot be finished; "
        };
        Error::new(
            ErrorKind::Validation,
            format!(
                "replication objects of an earlier run exist: {}; {finish}to remove them, run `db-migrate pg --cleanup -s SOURCE -t TARGET`",
                self.describe()
            ),
        )
        .with_database(self.database.clone())
        .with_phase("replication")
    }
}

fn on_source(e: impl Into<Error>, db: &str) -> Error {
    e.into().with_side(Side::Source).with_database(db)
}

fn on_target(e: impl Into<Error>, db: &str) -> Error {
    e.into().with_side(Side::Target).with_database(db)
}

async fn sessions(source: &ConnInfo, target: &ConnInfo, db: &str) -> Result<(Session, Session)> {
    let s = connect(source, Some(db))
        .await
        .map_err(|e| on_source(e, db))?;
    let t = connect(target, Some(db))
        .await
        .map_err(|e| on_target(e, db))?;
    Ok((s, t))
}

/// Sessions for looking up (and dropping) an earlier run's objects: the source database, the
/// target database when it exists (a missing one simply has no subscription), and the
/// target's facts.
async fn sessions_for_lookup(
    source: &ConnInfo,
    target: &ConnInfo,
    dbname: &str,
) -> Result<(Session, Option<Session>, TargetFacts)> {
    let src = connect(source, Some(dbname))
        .await
        .map_err(|e| on_source(e, dbname))?;
    let tgt = match connect(target, Some(dbname)).await {
        Ok(t) => Some(t),
        Err(e) if e.sqlstate().map(|c| c.code()) == Some("3D000") => None,
        Err(e) => return Err(on_target(e, dbname)),
    };
    let tfacts = match &tgt {
        Some(t) => TargetFacts::read(t)
            .await
            .map_err(|e| on_target(e, dbname))?,
        None => TargetFacts::default(),
    };
    Ok((src, tgt, tfacts))
}

/// Looks for objects of an earlier run for `dbname` (plain and mangled names). A missing target
/// database simply has no subscription.
pub async fn find_earlier_run(
    source: &ConnInfo,
    target: &ConnInfo,
    dbname: &str,
) -> Result<Option<EarlierRun>> {
    let (src, tgt, tfacts) = sessions_for_lookup(source, target, dbname).await?;
    for names in ObjectNames::candidates(dbname) {
        let run = find_objects(&src, tgt.as_ref(), &tfacts, dbname, &names).await?;
        if !run.is_empty() {
            return Ok(Some(run));
        }
    }
    Ok(None)
}

async fn find_objects(
    src: &Session,
    tgt: Option<&Session>,
    tfacts: &TargetFacts,
    dbname: &str,
    names: &ObjectNames,
) -> Result<EarlierRun> {
    let publication = objects::publication_exists(src, &names.publication)
        .await
        .map_err(|e| on_source(e, dbname))?;
    let slot = objects::slot_state(src, &names.slot)
        .await
        .map_err(|e| on_source(e, dbname))?;
    let subscription = match tgt {
        Some(t) => objects::subscription_state(t, &names.subscription, tfacts)
            .await
            .map_err(|e| on_target(e, dbname))?,
        None => None,
    };
    Ok(EarlierRun {
        database: dbname.to_owned(),
        names: names.clone(),
        publication,
        slot,
        subscription,
    })
}

/// Call before any schema work, for every method. `Ok(None)`: no earlier run, go on.
/// `Ok(Some(outcome))`: a healthy earlier run was cut over by this call (the options ask for
/// `--max-replication-lag` and `--stop-replication`): report it and skip the database.
/// `Err`: an earlier run's objects exist and this run must not touch them (the error names them
/// and the two commands that deal with them).
pub async fn check_earlier_run(
    source: &ConnInfo,
    target: &ConnInfo,
    dbname: &str,
    opts: &ReplicationOptions,
) -> Result<Option<ReplicationOutcome>> {
    let Some(run) = find_earlier_run(source, target, dbname).await? else {
        return Ok(None);
    };
    if !(run.is_healthy() && opts.stop_replication && opts.max_replication_lag.is_some()) {
        return Err(run.refusal());
    }
    info!(database = %dbname, "cutting over the replication of an earlier run");
    let (src, tgt) = sessions(source, target, dbname).await?;
    let tfacts = TargetFacts::read(&tgt)
        .await
        .map_err(|e| on_target(e, dbname))?;
    let baseline = stored_fingerprint(&src, &run.names.publication).await;
    let mut outcome = ReplicationOutcome {
        status: DbStatus::Running,
        message: String::new(),
        names: run.names.clone(),
        path: PathTaken {
            publication: None,
            publication_form: None,
            published_tables: 0,
            slot: None,
            subscription: None,
            initial_data: InitialDataPath::EarlierRun,
            replication_connection_refused: None,
        },
        lag_bytes: None,
        schema_drift: Vec::new(),
        sequences_synced: 0,
        tables_added: Vec::new(),
        tables_dropped: Vec::new(),
        warnings: Vec::new(),
    };
    if baseline.is_none() {
        outcome.warnings.push(format!(
            "database \"{dbname}\": no schema fingerprint was stored by the earlier run; schema drift cannot be checked"
        ));
    }
    wait_and_stop(&src, &tgt, &tfacts, dbname, opts, baseline, &mut outcome).await?;
    Ok(Some(outcome))
}

/// What this run created, for the cleanup after a setup failure.
#[derive(Default)]
struct Created {
    publication: bool,
    slot: bool,
    subscription: bool,
}

/// Sets up logical replication of `dbname` (the target database must have the pre-data
/// schema), waits and stops as the options say. See the module docs for the steps and
/// [`InitialData`] for what `initial_data` must do. Call [`check_earlier_run`] first.
pub async fn migrate_database<C, F>(
    source: &ConnInfo,
    target: &ConnInfo,
    dbname: &str,
    opts: &ReplicationOptions,
    initial_data: C,
) -> Result<Outcome>
where
    C: FnOnce(InitialData) -> F,
    F: Future<Output = Result<String>>,
{
    let names = ObjectNames::for_database(dbname, opts.mangle);
    let (src, tgt) = sessions(source, target, dbname).await?;

    // Prerequisites, before anything is created.
    let facts = preflight::ReplicationSettings::read(&src, &tgt)
        .await
        .map_err(|e| on_source(e, dbname))?;
    let sfacts = SourceFacts::read(&src)
        .await
        .map_err(|e| on_source(e, dbname))?;
    let tfacts = TargetFacts::read(&tgt)
        .await
        .map_err(|e| on_target(e, dbname))?;
    let mut blockers = facts.blockers(1);
    let plan = plan::plan(
        source,
        dbname,
        &src,
        &sfacts,
        &tfacts,
        opts.tables.as_deref(),
    )
    .await
    .map_err(|e| on_source(e, dbname))?;
    blockers.extend(plan.blockers.iter().cloned());
    let sub_via = plan.subscription_via;
    let only = opts.tables.as_deref().filter(|t| !t.is_empty());
    let unreplicable = identity::tables_without_identity(&src, only)
        .await
        .map_err(|e| on_source(e, dbname))?;
    if !unreplicable.is_empty() {
        blockers.push(identity::reason(&unreplicable));
    }
    if !blockers.is_empty() {
        let reason = format!(
            "logical replication is not possible: {}",
            blockers.join("; ")
        );
        if opts.forced {
            return Err(Error::new(ErrorKind::Validation, reason)
                .with_database(dbname)
                .with_phase("replication"));
        }
        return Ok(Outcome::FallBackToDump { reason });
    }
    let sub_via = sub_via.expect("no blocker means a subscription path");
    info!(database = %dbname, "replication path: {}", plan.describe());

    // An earlier run's objects are never touched here.
    let run = find_objects(&src, Some(&tgt), &tfacts, dbname, &names).await?;
    if !run.is_empty() {
        return Err(run.refusal());
    }

    let mut created = Created::default();
    let ctx = SetupCtx {
        source,
        src: &src,
        tgt: &tgt,
        sfacts: &sfacts,
        plan: &plan,
        sub_via,
        dbname,
        names: &names,
        opts,
    };
    let setup = setup(&ctx, &mut created, initial_data).await;
    let (mut outcome, baseline) = match setup {
        Ok(v) => v,
        Err(e) => {
            let leftovers = undo(&src, &tgt, &tfacts, &names, &created).await;
            let e = if leftovers.is_empty() {
                e
            } else {
                e.context(format!(
                    "(cleanup also failed, remove the rest with --cleanup: {})",
                    leftovers.join("; ")
                ))
            };
            if objects::is_fallback_error(&e) && !opts.forced {
                return Ok(Outcome::FallBackToDump {
                    reason: format!("logical replication failed ({e}); nothing was left behind"),
                });
            }
            if objects::is_fallback_error(&e) && e.kind() == ErrorKind::Validation {
                return Err(e.with_database(dbname).with_phase("replication"));
            }
            return Err(e.with_database(dbname).with_phase("replication setup"));
        }
    };
    if opts.max_replication_lag.is_some() {
        wait_and_stop(
            &src,
            &tgt,
            &tfacts,
            dbname,
            opts,
            Some(baseline),
            &mut outcome,
        )
        .await?;
    }
    Ok(Outcome::Replicated(outcome))
}

/// What the setup works with.
struct SetupCtx<'a> {
    source: &'a ConnInfo,
    src: &'a Session,
    tgt: &'a Session,
    sfacts: &'a SourceFacts,
    plan: &'a ReplicationPlan,
    sub_via: Via,
    dbname: &'a str,
    names: &'a ObjectNames,
    opts: &'a ReplicationOptions,
}

/// Creates the publication as planned. When the source refuses `FOR ALL TABLES` (42501) though
/// the facts said it would not, the tables are listed instead, if the user may publish them all;
/// otherwise the refusal (42501, naming the tables) sends the database to the dump method.
async fn create_planned_publication(ctx: &SetupCtx<'_>) -> Result<(PublicationForm, Via, usize)> {
    let (src, dbname, names) = (ctx.src, ctx.dbname, ctx.names);
    let object = || format!("publication {}", quote_ident(&names.publication));
    let plan = ctx.plan;
    let list = |p: &ReplicationPlan| p.table_names();
    info!(database = %dbname, publication = %names.publication, via = plan.publication_via.describe(), form = ?plan.form, "creating the publication");
    let first = match plan.form {
        PublicationForm::AllTables => {
            objects::create_publication(src, &names.publication, None, plan.publication_via).await
        }
        PublicationForm::TableList => {
            let l = list(plan);
            objects::create_publication(src, &names.publication, Some(&l), plan.publication_via)
                .await
        }
    };
    match first {
        Ok(()) => Ok((plan.form, plan.publication_via, plan.tables.len())),
        Err(e) if plan.form == PublicationForm::AllTables && e.is_insufficient_privilege() => {
            warn!(database = %dbname, "FOR ALL TABLES refused ({e}); listing the tables instead");
            let (_, via, tables, blockers) =
                plan::publication_plan(src, ctx.sfacts, ctx.opts.tables.as_deref(), true)
                    .await
                    .map_err(|e| on_source(e, dbname))?;
            if !blockers.is_empty() {
                return Err(Error::new(
                    ErrorKind::Validation,
                    format!(
                        "{e}; and a table list is not possible: {}",
                        blockers.join("; ")
                    ),
                )
                .with_sqlstate(crate::error::SqlState::INSUFFICIENT_PRIVILEGE)
                .with_side(Side::Source)
                .with_object(object()));
            }
            let l: Vec<(String, String)> = tables
                .iter()
                .map(|t| (t.schema.clone(), t.name.clone()))
                .collect();
            objects::create_publication(src, &names.publication, Some(&l), via)
                .await
                .map_err(|e| on_source(e, dbname).with_object(object()))?;
            Ok((PublicationForm::TableList, via, l.len()))
        }
        Err(e) => Err(on_source(e, dbname).with_object(object())),
    }
}

async fn setup<C, F>(
    ctx: &SetupCtx<'_>,
    created: &mut Created,
    initial_data: C,
) -> Result<(ReplicationOutcome, Fingerprint)>
where
    C: FnOnce(InitialData) -> F,
    F: Future<Output = Result<String>>,
{
    let SetupCtx {
        source,
        src,
        tgt,
        sub_via,
        dbname,
        names,
        opts,
        ..
    } = *ctx;
    let (form, pub_via, published_tables) = create_planned_publication(ctx).await?;
    created.publication = true;

    // The schema the initial copy is based on.
    let baseline = Fingerprint::read(src)
        .await
        .map_err(|e| on_source(e, dbname))?;

    let mut refused = ctx.plan.no_replication_connection.clone();
    let repl = match ctx.plan.slot {
        SlotCreation::ReplicationConnection => connect_replication(source, Some(dbname)).await,
        SlotCreation::Function => Err(Error::new(
            ErrorKind::Auth,
            refused.clone().unwrap_or_default(),
        )),
    };
    let (copy_summary, path) = match repl {
        Ok(mut repl) => {
            info!(database = %dbname, slot = %names.slot, "creating the slot with an exported snapshot");
            let slot = repl.create_logical_slot(&names.slot).await;
            let slot = match slot {
                Ok(s) => s,
                Err(e) => {
                    repl.close().await;
                    return Err(on_source(e, dbname)
                        .with_object(format!("replication slot {}", quote_ident(&names.slot))));
                }
            };
            created.slot = true;
            let summary = initial_data(InitialData::InSnapshot(slot.snapshot_name.clone())).await;
            // The snapshot is no longer needed: end the walsender session.
            repl.close().await;
            (
                summary.map_err(|e| e.with_database(dbname).with_phase("initial data copy"))?,
                InitialDataPath::ExportedSnapshot,
            )
        }
        Err(e) if plan::refused_replication_connection(&e) => {
            let blockers = fallback::subscription_copy_blockers(src)
                .await
                .map_err(|e| on_source(e, dbname))?;
            if !blockers.is_empty() {
                return Err(fallback::refusal(&blockers, &e.to_string()));
            }
            warn!(database = %dbname, "no replication connection ({e}); creating the slot with pg_create_logical_replication_slot() and letting the subscription copy the data");
            refused = Some(e.to_string());
            objects::create_slot_sql(src, &names.slot)
                .await
                .map_err(|e| {
                    on_source(e, dbname)
                        .with_object(format!("replication slot {}", quote_ident(&names.slot)))
                })?;
            created.slot = true;
            let summary = initial_data(InitialData::PostDataOnly)
                .await
                .map_err(|e| e.with_database(dbname).with_phase("post-data"))?;
            (summary, InitialDataPath::SubscriptionCopy)
        }
        Err(e) => return Err(on_source(e, dbname)),
    };

    let conninfo = subscription_conninfo(source, opts, dbname);
    let copy_data = path == InitialDataPath::SubscriptionCopy;
    info!(database = %dbname, subscription = %names.subscription, via = sub_via.describe(), copy_data, "creating the subscription");
    objects::create_subscription(tgt, names, &conninfo, copy_data, sub_via)
        .await
        .map_err(|e| {
            let e = on_target(e, dbname).with_object(format!("subscription {}", quote_ident(&names.subscription)));
            if e.kind() == ErrorKind::Connect || e.message().contains("could not connect to the publisher") {
                e.context("the target server cannot connect to the source (check the network path from the target to the source, the source's pg_hba.conf for the target's address, TLS settings, or pass the address the target should use)")
            } else {
                e
            }
        })?;
    created.subscription = true;

    wait_for_worker(src, tgt, dbname, names, opts.worker_start_timeout).await?;

    // Keep the baseline with the publication so that a later cut-over run can compare.
    let comment = baseline.serialize();
    if comment.len() <= 4 << 20
        && let Err(e) = src
            .batch_execute(&format!(
                "COMMENT ON PUBLICATION {} IS {}",
                quote_ident(&names.publication),
                quote_literal(&comment)
            ))
            .await
    {
        tracing::debug!(
            "could not store the schema fingerprint: {}",
            Error::from_pg(e)
        );
    }

    let slot_creation = if path == InitialDataPath::ExportedSnapshot {
        SlotCreation::ReplicationConnection
    } else {
        SlotCreation::Function
    };
    let path = PathTaken {
        publication: Some(pub_via),
        publication_form: Some(form),
        published_tables,
        slot: Some(slot_creation),
        subscription: Some(sub_via),
        initial_data: path,
        replication_connection_refused: refused,
    };
    let how = match path.initial_data {
        InitialDataPath::ExportedSnapshot => {
            format!("initial data copied in the slot's exported snapshot ({copy_summary})")
        }
        _ => format!(
            "no replication connection ({}), so the slot was created with pg_create_logical_replication_slot() and the subscription copies the initial data itself",
            path.replication_connection_refused.as_deref().unwrap_or("")
        ),
    };
    let mut warnings = Vec::new();
    if let Ok(t) = preflight::tables_without_identity(src).await
        && !t.is_empty()
    {
        warnings.push(format!(
            "database \"{dbname}\": {} tables without primary key or replica identity cannot replicate UPDATE/DELETE: {}",
            t.len(),
            t.join(", ")
        ));
    }
    let form_text = match form {
        PublicationForm::AllTables => "FOR ALL TABLES".to_string(),
        PublicationForm::TableList => format!("FOR TABLE ({published_tables} tables)"),
    };
    let message = format!(
        "logical replication running: publication {form_text} via {}, subscription via {}; {how}",
        pub_via.describe(),
        sub_via.describe()
    );
    Ok((
        ReplicationOutcome {
            status: DbStatus::Running,
            message,
            names: names.clone(),
            path,
            lag_bytes: None,
            schema_drift: Vec::new(),
            sequences_synced: 0,
            tables_added: Vec::new(),
            tables_dropped: Vec::new(),
            warnings,
        },
        baseline,
    ))
}

/// The conninfo the target server uses to reach the source database.
fn subscription_conninfo(source: &ConnInfo, opts: &ReplicationOptions, dbname: &str) -> String {
    let base = opts.subscription_conninfo.as_ref().unwrap_or(source);
    let mut ci = base.with_dbname(dbname);
    if ci.password.is_none() {
        ci.password = ci.resolve_password();
    }
    ci.passfile = None;
    ci.other.remove("replication");
    if ci.connect_timeout.is_none() {
        ci.connect_timeout = Some(Duration::from_secs(10));
    }
    ci.to_libpq_string(true)
}

/// Waits until the subscription's worker streams from the slot (the slot is active).
async fn wait_for_worker(
    src: &Session,
    tgt: &Session,
    dbname: &str,
    names: &ObjectNames,
    limit: Duration,
) -> Result<()> {
    let started = Instant::now();
    loop {
        let slot = objects::slot_state(src, &names.slot)
            .await
            .map_err(|e| on_source(e, dbname))?;
        if slot.as_ref().is_some_and(|s| s.active) {
            return Ok(());
        }
        if started.elapsed() >= limit {
            break;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // Gather what the target can tell without reading its log.
    let mut details = Vec::new();
    if let Ok(rows) = tgt
        .query(
            "SELECT pid IS NOT NULL FROM pg_catalog.pg_stat_subscription WHERE subname = $1 AND relid IS NULL",
            &[&names.subscription],
        )
        .await
    {
        let running = rows.first().map(|r| r.get::<_, bool>(0)).unwrap_or(false);
        details.push(if running {
            "its apply worker is running but not streaming".to_string()
        } else {
            "its apply worker is not running (it keeps failing and restarting)".to_string()
        });
    }
    if tgt.server_version_num() >= 150000
        && let Ok(rows) = tgt
            .query(
                "SELECT apply_error_count, sync_error_count FROM pg_catalog.pg_stat_subscription_stats WHERE subname = $1",
                &[&names.subscription],
            )
            .await
        && let Some(r) = rows.first()
    {
        details.push(format!(
            "{} apply errors, {} sync errors so far",
            r.get::<_, i64>(0),
            r.get::<_, i64>(1)
        ));
    }
    Err(Error::new(
        ErrorKind::Connect,
        format!(
            "the target's subscription {} did not start streaming from the source within {} s ({}); the target server's log says why (network path from the target to the source, pg_hba.conf on the source, TLS, or privileges)",
            quote_ident(&names.subscription),
            limit.as_secs(),
            details.join("; ")
        ),
    )
    .with_side(Side::Target)
    .with_database(dbname))
}

/// Drops what a failed setup created; returns what could not be dropped.
async fn undo(
    src: &Session,
    tgt: &Session,
    tfacts: &TargetFacts,
    names: &ObjectNames,
    created: &Created,
) -> Vec<String> {
    let mut failed = Vec::new();
    if created.subscription
        && let Err(e) = objects::drop_subscription(tgt, &names.subscription, tfacts).await
    {
        failed.push(format!(
            "subscription {}: {e}",
            quote_ident(&names.subscription)
        ));
    }
    if created.publication
        && let Err(e) = objects::drop_publication(src, &names.publication).await
    {
        failed.push(format!(
            "publication {}: {e}",
            quote_ident(&names.publication)
        ));
    }
    if created.slot
        && let Err(e) = objects::drop_slot(src, &names.slot, Duration::from_secs(20)).await
    {
        failed.push(format!("slot {}: {e}", quote_ident(&names.slot)));
    }
    failed
}

async fn stored_fingerprint(src: &Session, publication: &str) -> Option<Fingerprint> {
    let row = src
        .query_opt(
            "SELECT pg_catalog.obj_description(p.oid, 'pg_publication') FROM pg_catalog.pg_publication p WHERE p.pubname = $1",
            &[&publication],
        )
        .await
        .ok()??;
    let text: Option<String> = row.get(0);
    Fingerprint::deserialize(&text?)
}

/// One lag measurement.
pub async fn lag_status(
    src: &Session,
    tgt: &Session,
    dbname: &str,
    names: &ObjectNames,
    started: Instant,
) -> Result<LagStatus> {
    let slot = src
        .query_opt(
            "SELECT active, pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), confirmed_flush_lsn)::bigint
               FROM pg_catalog.pg_replication_slots WHERE slot_name = $1",
            &[&names.slot],
        )
        .await
        .map_err(|e| on_source(e, dbname))?;
    let Some(slot) = slot else {
        return Err(Error::new(
            ErrorKind::Validation,
            format!(
                "replication slot {} disappeared from the source",
                quote_ident(&names.slot)
            ),
        )
        .with_side(Side::Source)
        .with_database(dbname));
    };
    let rel = tgt
        .query_one(
            "SELECT pg_catalog.count(*), pg_catalog.count(*) FILTER (WHERE r.srsubstate <> 'r')
               FROM pg_catalog.pg_subscription_rel r
               JOIN pg_catalog.pg_subscription s ON s.oid = r.srsubid
              WHERE s.subname = $1
                AND s.subdbid = (SELECT d.oid FROM pg_catalog.pg_database d
                                  WHERE d.datname = pg_catalog.current_database())",
            &[&names.subscription],
        )
        .await
        .map_err(|e| on_target(e, dbname))?;
    Ok(LagStatus {
        database: dbname.to_owned(),
        slot_active: slot.get(0),
        lag_bytes: slot.get(1),
        tables_total: rel.get(0),
        tables_not_ready: rel.get(1),
        elapsed: started.elapsed(),
    })
}

fn report_progress(opts: &ReplicationOptions, st: &LagStatus, last_log: &mut Option<Instant>) {
    match &opts.progress {
        Some(f) => f(st),
        None => {
            if last_log.is_none_or(|t| t.elapsed() >= Duration::from_secs(10)) {
                *last_log = Some(Instant::now());
                info!(
                    database = %st.database,
                    "replication: lag {} bytes, {}/{} tables ready, streaming: {}, waited {} s",
                    st.lag_bytes.map(|l| l.to_string()).unwrap_or_else(|| "unknown".into()),
                    st.tables_total - st.tables_not_ready,
                    st.tables_total,
                    st.slot_active,
                    st.elapsed.as_secs()
                );
            }
        }
    }
}

/// Waits for the lag (when asked), then stops (when asked). Updates `outcome`.
async fn wait_and_stop(
    src: &Session,
    tgt: &Session,
    tfacts: &TargetFacts,
    dbname: &str,
    opts: &ReplicationOptions,
    baseline: Option<Fingerprint>,
    outcome: &mut ReplicationOutcome,
) -> Result<()> {
    let Some(max) = opts.max_replication_lag else {
        return Ok(());
    };
    let names = outcome.names.clone();
    let started = Instant::now();
    let deadline = started + opts.replication_timeout;
    let mut last_log: Option<Instant> = None;
    let mut last_drift_check = Instant::now();
    let mut drift: Vec<String> = Vec::new();
    let check_drift = async |drift: &mut Vec<String>| {
        if let Some(base) = &baseline
            && let Ok(now) = Fingerprint::read(src).await
        {
            let changes = base.changes(&now);
            if changes != *drift {
                if !changes.is_empty() {
                    warn!(database = %dbname, "schema changed on the source: {}", changes.join(", "));
                }
                *drift = changes;
            }
        }
    };
    // The cut-over brings in tables created on the source meanwhile, before it waits, and
    // once more when in sync (one may have been created during the wait).
    let mut adopted = adopt::Adopted::default();
    let adopt_now = async |adopted: &mut adopt::Adopted| -> Result<bool> {
        if !opts.stop_replication {
            return Ok(false);
        }
        let a = adopt::adopt_new_tables(
            src,
            tgt,
            tfacts,
            &names.publication,
            &names.subscription,
            opts.schema,
            opts.tables.as_deref().filter(|t| !t.is_empty()),
        )
        .await
        .map_err(|e| {
            e.with_database(dbname)
                .with_phase("adding tables created during replication")
                .context("nothing was dropped: the replication keeps running")
        })?;
        if !a.is_empty() {
            info!(database = %dbname, "{}", a.describe());
        }
        let any = !a.is_empty();
        adopted.merge(a);
        Ok(any)
    };
    adopt_now(&mut adopted).await?;
    check_drift(&mut drift).await;
    let in_sync = loop {
        let st = lag_status(src, tgt, dbname, &names, started).await?;
        outcome.lag_bytes = st.lag_bytes;
        report_progress(opts, &st, &mut last_log);
        if st.in_sync(max) {
            if adopt_now(&mut adopted).await? {
                continue;
            }
            break true;
        }
        if Instant::now() >= deadline {
            break false;
        }
        if last_drift_check.elapsed() >= Duration::from_secs(10) {
            last_drift_check = Instant::now();
            check_drift(&mut drift).await;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        tokio::time::sleep(opts.poll_interval.min(left)).await;
    };
    check_drift(&mut drift).await;
    outcome.schema_drift = drift.clone();
    outcome.tables_added = adopted.all_tables();
    outcome.tables_dropped = drift
        .iter()
        .filter_map(|d| d.strip_prefix("table ")?.strip_suffix(" removed"))
        .map(str::to_owned)
        .collect();
    let mut drift_note = String::new();
    if !adopted.is_empty() {
        drift_note.push_str(&format!("; {}", adopted.describe()));
        outcome.warnings.extend(
            adopted
                .warnings
                .iter()
                .map(|w| format!("database \"{dbname}\": {w}")),
        );
    }
    if !outcome.tables_dropped.is_empty() {
        let w = format!(
            "tables dropped on the source since replication was set up (still on the target): {}",
            outcome.tables_dropped.join(", ")
        );
        outcome.warnings.push(format!("database \"{dbname}\": {w}"));
        drift_note.push_str(&format!("; {w}"));
    }
    let unhandled: Vec<&String> = drift
        .iter()
        .filter(|d| !(adopted.covers(d) || d.starts_with("table ") && d.ends_with(" removed")))
        .collect();
    if !unhandled.is_empty() {
        let new_tables_note = if opts.stop_replication {
            ""
        } else {
            " (tables created on the source are not replicated until the cut-over run adds them)"
        };
        let w = format!(
            "schema changed on the source since replication was set up (logical replication does not carry DDL; apply the same change on the target){new_tables_note}: {}",
            unhandled
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
        outcome.warnings.push(format!("database \"{dbname}\": {w}"));
        drift_note.push_str(&format!("; {w}"));
    }
    if !in_sync {
        outcome.status = DbStatus::Running;
        outcome.message = format!(
            "logical replication running, but not in sync within --replication-timeout ({} s): lag {} bytes; the replication objects are kept: run again with --max-replication-lag and --stop-replication to cut over, or --cleanup to remove them{drift_note}",
            opts.replication_timeout.as_secs(),
            outcome
                .lag_bytes
                .map(|l| l.to_string())
                .unwrap_or_else(|| "unknown".into())
        );
        return Ok(());
    }
    if !opts.stop_replication {
        outcome.message = format!(
            "{}; in sync (lag {} bytes){drift_note}",
            outcome.message,
            outcome.lag_bytes.unwrap_or(0)
        );
        return Ok(());
    }

    // Cut-over: everything committed on the source so far must be applied on the target.
    let row = src
        .query_one("SELECT pg_catalog.pg_current_wal_lsn()::text", &[])
        .await
        .map_err(|e| on_source(e, dbname))?;
    let end_lsn: String = row.get(0);
    loop {
        let row = src
            .query_opt(
                "SELECT pg_catalog.pg_wal_lsn_diff(confirmed_flush_lsn, $1::text::pg_lsn) >= 0
                   FROM pg_catalog.pg_replication_slots WHERE slot_name = $2",
                &[&end_lsn, &names.slot],
            )
            .await
            .map_err(|e| on_source(e, dbname))?;
        if row.and_then(|r| r.get::<_, Option<bool>>(0)) == Some(true) {
            break;
        }
        if Instant::now() >= deadline {
            outcome.status = DbStatus::Running;
            outcome.message = format!(
                "logical replication running, but the target did not confirm the source's WAL position {end_lsn} within --replication-timeout; nothing was dropped: run again to cut over{drift_note}"
            );
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (synced, seq_warnings) = sync_sequences(src, tgt, dbname).await?;
    outcome.sequences_synced = synced;
    outcome.warnings.extend(
        seq_warnings
            .into_iter()
            .map(|w| format!("database \"{dbname}\": {w}")),
    );
    let mut leftovers = Vec::new();
    if let Err(e) = objects::drop_subscription(tgt, &names.subscription, tfacts).await {
        leftovers.push(format!("subscription: {}", on_target(e, dbname)));
    }
    if let Err(e) = objects::drop_publication(src, &names.publication).await {
        leftovers.push(format!("publication: {}", on_source(e, dbname)));
    }
    if let Err(e) = objects::drop_slot(src, &names.slot, Duration::from_secs(30)).await {
        leftovers.push(format!("slot: {}", on_source(e, dbname)));
    }
    if !leftovers.is_empty() {
        return Err(Error::new(
            ErrorKind::Sql,
            format!(
                "replication stopped and sequences synced, but some objects could not be dropped ({}); remove them with --cleanup",
                leftovers.join("; ")
            ),
        )
        .with_database(dbname)
        .with_phase("stopping replication"));
    }
    outcome.status = DbStatus::Done;
    let stopped = format!(
        "replication stopped after catching up: {synced} sequences synced, publication, slot and subscription dropped{drift_note}"
    );
    outcome.message = if outcome.message.is_empty() {
        format!("migrated with logical replication (started by an earlier run); {stopped}")
    } else {
        format!("{}; {stopped}", outcome.message)
    };
    Ok(())
}

/// Copies every user sequence's value from the source database to the target database.
/// Returns the number synced and warnings for sequences that could not be.
pub async fn sync_sequences(
    src: &Session,
    tgt: &Session,
    dbname: &str,
) -> Result<(usize, Vec<String>)> {
    let rows = src
        .query(
            "SELECT n.nspname::text, c.relname::text FROM pg_catalog.pg_class c
               JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
              WHERE c.relkind = 'S' AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_'
                AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                                 WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
                                   AND d.objid = c.oid AND d.deptype = 'e')
              ORDER BY 1, 2",
            &[],
        )
        .await
        .map_err(|e| on_source(e, dbname))?;
    let mut synced = 0;
    let mut warnings = Vec::new();
    for r in rows {
        let (schema, name): (String, String) = (r.get(0), r.get(1));
        let q = crate::sql::qualified(&schema, &name);
        let v = match src
            .query_one(
                &format!("SELECT last_value::bigint, is_called FROM {q}"),
                &[],
            )
            .await
        {
            Ok(v) => v,
            Err(e) => {
                warnings.push(format!(
                    "sequence {q} could not be read on the source: {}",
                    Error::from_pg(e)
                ));
                continue;
            }
        };
        let (last, called): (i64, bool) = (v.get(0), v.get(1));
        let sql = format!(
            "SELECT pg_catalog.setval({}::pg_catalog.regclass, {last}, {called})",
            quote_literal(&q)
        );
        match tgt.batch_execute(&sql).await {
            Ok(()) => synced += 1,
            Err(e) => warnings.push(format!(
                "sequence {q} could not be set on the target: {}",
                Error::from_pg(e)
            )),
        }
    }
    Ok((synced, warnings))
}

/// What [`cleanup`] did for one database.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CleanupReport {
    /// e.g. `subscription "aiven_db_migrate_app_sub" on the target`.
    pub dropped: Vec<String>,
    /// Objects that could not be dropped, with the reason.
    pub failed: Vec<String>,
}

/// `--cleanup`: drops the replication objects an earlier run left for `dbname` (plain and
/// mangled names), subscription first, then publication and slot. Objects that do not exist
/// are skipped; a missing target database is fine.
pub async fn cleanup(source: &ConnInfo, target: &ConnInfo, dbname: &str) -> Result<CleanupReport> {
    let (src, tgt, tfacts) = sessions_for_lookup(source, target, dbname).await?;
    let mut report = CleanupReport::default();
    for names in ObjectNames::candidates(dbname) {
        let run = find_objects(&src, tgt.as_ref(), &tfacts, dbname, &names).await?;
        if run.subscription.is_some()
            && let Some(t) = &tgt
        {
            let what = format!(
                "subscription {} on the target",
                quote_ident(&names.subscription)
            );
            match objects::drop_subscription(t, &names.subscription, &tfacts).await {
                Ok(()) => report.dropped.push(what),
                Err(e) => report.failed.push(format!("{what}: {e}")),
            }
        }
        if run.publication {
            let what = format!(
                "publication {} on the source",
                quote_ident(&names.publication)
            );
            match objects::drop_publication(&src, &names.publication).await {
                Ok(()) => report.dropped.push(what),
                Err(e) => report.failed.push(format!("{what}: {e}")),
            }
        }
        // aiven_extras.pg_drop_subscription may have dropped the slot already.
        if run.slot.is_some()
            && objects::slot_state(&src, &names.slot)
                .await
                .map_err(|e| on_source(e, dbname))?
                .is_some()
        {
            let what = format!(
                "replication slot {} on the source",
                quote_ident(&names.slot)
            );
            match objects::drop_slot(&src, &names.slot, Duration::from_secs(30)).await {
                Ok(()) => report.dropped.push(what),
                Err(e) => report.failed.push(format!("{what}: {e}")),
            }
        } else if run.slot.is_some() {
            report.dropped.push(format!(
                "replication slot {} on the source",
                quote_ident(&names.slot)
            ));
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The orchestrator runs databases in spawned tasks: every entry point must be `Send`.
    #[test]
    fn entry_points_are_send() {
        fn is_send<T: Send>(_: &T) {}
        let ci = ConnInfo::default();
        let opts = ReplicationOptions::default();
        let f = migrate_database(&ci, &ci, "db", &opts, |_data| async { Ok(String::new()) });
        is_send(&f);
        is_send(&check_earlier_run(&ci, &ci, "db", &opts));
        is_send(&cleanup(&ci, &ci, "db"));
    }

    #[test]
    fn subscription_conninfo_carries_password_and_timeout_but_no_replication_key() {
        let mut src = ConnInfo::parse_with_env(
            "host=10.0.0.1 port=5433 user=u password='p w' dbname=other replication=database",
            &|_| None,
        )
        .unwrap();
        src.connect_timeout = None;
        let s = subscription_conninfo(&src, &ReplicationOptions::default(), "app");
        assert!(s.contains("dbname='app'"), "{s}");
        assert!(s.contains("password='p w'"), "{s}");
        assert!(s.contains("connect_timeout='10'"), "{s}");
        assert!(!s.contains("replication"), "{s}");
    }
}
