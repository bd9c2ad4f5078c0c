//! The data stages of one database: the replication hand-off, or the dump method's copy with
//! its snapshot held for `--verify`; then the copy's report into the entry.

use std::sync::Mutex;

use tracing::info;

use crate::conn::Session;
use crate::copy::copy_database_with_states;
use crate::copy::{CopyOptions, CopyOutcome, CopyReport, PostDataPlan, TableStatus};
use crate::error::{Phase, Result, Side};
use crate::replication::{self, InitialData, Outcome, ReplicationOutcome};
use crate::report::{DatabaseResult, DbStatus, Method};
use crate::schema::{ExecState, Schema, exec};
use crate::selection::DbSelection;
use crate::warning::Warning;

use super::message::{self, Message, copy_summary};
use super::method::{self, DataMethod};
use super::{DataOptions, Db};

/// What pre-data hands on to the data stage: the database's target session and what was
/// created on it.
pub(in crate::migrate) struct Created<'a> {
    pub target: &'a Session,
    pub schema: &'a Schema,
    pub facts: &'a ExecState,
    pub report: &'a exec::ExecReport,
}

/// The data by the method [`method::choose`] decides: the replication hand-off, or the dump
/// method (forced, planned, or when replication turned out not to be possible, which the report
/// line then says). Hands on the report of the copy that ran, if one did.
pub(in crate::migrate) async fn move_data(
    db: &Db<'_>,
    made: &Created<'_>,
    settings: &DataOptions,
    plan: PostDataPlan,
    entry: &mut DatabaseResult,
    warnings: &mut Vec<Warning>,
    message: &mut Message,
) -> Result<Option<CopyReport>> {
    let fallback = match method::choose(db, made.facts, &settings.replication)? {
        DataMethod::Dump { fallback } => fallback,
        DataMethod::Replication => {
            match replicate(db, made, settings, &plan, entry, warnings, message).await? {
                Replicated::Done(copied) => return Ok(copied),
                Replicated::FellBack(reason) => Some(reason),
            }
        }
    };
    if let Some(reason) = &fallback {
        message.push(message::fell_back(reason));
    }
    let copied = dump(db, made, &settings.copy, plan, entry, warnings, message).await?;
    Ok(Some(copied))
}

/// How the replication method ended.
enum Replicated {
    /// Replicating (or cut over): the report of the copy it ran, if it ran one.
    Done(Option<CopyReport>),
    /// Replication was not possible, and nothing was left behind: the dump method moves the
    /// data, and this is why.
    FellBack(String),
}

/// The replication method: waits for a wave with room (see migrate::budget; the replication
/// ends with the cut-over in this run, and gives the room back then), records the method in
/// the ledger, and sets up the replication (or resumes an interrupted one), whose initial data
/// step is the copy. Hands on how it ended; the entry takes the copy's table states, the
/// replication's status, and the report line its message.
async fn replicate(
    db: &Db<'_>,
    made: &Created<'_>,
    settings: &DataOptions,
    plan: &PostDataPlan,
    entry: &mut DatabaseResult,
    warnings: &mut Vec<Warning>,
    message: &mut Message,
) -> Result<Replicated> {
    let (opts, name) = (db.opts(), db.name());
    entry.method = Some(Method::Replication);
    let _room = match &db.budget.replication {
        Some(pool) => Some(pool.clone().acquire_owned().await.expect("never closed")),
        None => None,
    };
    crate::ledger::set_stage(
        made.target,
        crate::ledger::Stage::Data,
        Some("replication"),
        Some(&[&warnings[..], &made.report.warnings[..]].concat()),
    )
    .await?;
    crate::interrupt::replication_started(
        name,
        crate::recovery::describe_replication_objects(name, opts.replication.mangle),
    );
    let capture = CopyCapture::default();
    let outcome = run_replication(db, made, settings, plan, &capture).await;
    crate::interrupt::replication_done(name);
    let (copied, states) = capture.into_parts();
    // The copy's table states, when it ran (else the tables stay not started).
    if !states.is_empty() {
        entry.tables = states;
    }
    match outcome? {
        Outcome::Replicated(o) => {
            replicated(db, o, entry, warnings, message).await?;
            Ok(Replicated::Done(copied))
        }
        Outcome::FallBackToDump { reason } => {
            info!(database = %name, "replication not possible, using the dump method: {reason}");
            Ok(Replicated::FellBack(reason))
        }
    }
}

/// The replication itself: a new one, whose initial data is the copy in the slot's snapshot (or
/// only post-data, when the subscription copies the data), or an interrupted one resumed.
/// Hands on its outcome; the copies' reports and table states are left in `capture`.
async fn run_replication(
    db: &Db<'_>,
    made: &Created<'_>,
    settings: &DataOptions,
    plan: &PostDataPlan,
    capture: &CopyCapture,
) -> Result<Outcome> {
    let (pair, opts) = (db.pair, db.opts());
    let copy_opts = &settings.copy;
    if db.resume_replication {
        // The tables the subscription copies keep their rows out of the copy, which creates
        // what the interrupted run had not (post-data, large objects, sequences); what waits
        // for all tables (foreign keys...) waits for the subscription's copy of them.
        return replication::resume_database(pair, &settings.replication, |step| {
            resume_copy(pair, copy_opts, plan, step, capture)
        })
        .await;
    }
    replication::migrate_database(
        pair,
        &settings.replication,
        replication::RunFacts::of(opts),
        |data| async {
            match data {
                InitialData::InSnapshot(snapshot) => {
                    let outcome =
                        copy_database_with_states(pair, copy_opts, Some(&snapshot), plan.clone())
                            .await;
                    capture.first(outcome)
                }
                InitialData::PostDataOnly => {
                    exec::apply(
                        made.target,
                        made.schema.post_data(),
                        opts.schema,
                        made.facts,
                    )
                    .await
                    .map_err(pair.tag(Side::Target, Phase::PostData))?;
                    Ok("post-data built; the subscription copies the data".into())
                }
            }
        },
    )
    .await
}

/// One data step of a resumed replication (see [`replication::resume::ResumeData`]): the copy
/// of what the subscription does not copy, before it exists, or the post-data objects that
/// waited for all tables once it has copied them. Hands on the text for the replication's
/// message.
async fn resume_copy(
    pair: &crate::pair::DbPair,
    copy_opts: &CopyOptions,
    plan: &PostDataPlan,
    step: replication::resume::ResumeData,
    capture: &CopyCapture,
) -> Result<String> {
    use replication::resume::ResumeData;
    let name = pair.source_db();
    let mut post_data = plan.clone();
    let (to_subscription, after_sync) = match step {
        ResumeData::Before { to_subscription } => {
            if !to_subscription.is_empty() {
                post_data.rest.clear();
            }
            (to_subscription, false)
        }
        ResumeData::AfterSync { to_subscription } => {
            post_data.by_table.clear();
            (to_subscription, true)
        }
    };
    let mut selection = copy_opts
        .selection
        .as_deref()
        .cloned()
        .unwrap_or_else(|| DbSelection::everything(name));
    selection.everything = false;
    selection.no_data.extend(to_subscription);
    let copy_opts = CopyOptions {
        selection: Some(std::sync::Arc::new(selection)),
        earlier_changes_replicated: true,
        ..copy_opts.clone()
    };
    let outcome = copy_database_with_states(pair, &copy_opts, None, post_data).await;
    if after_sync {
        return capture.after_sync(outcome);
    }
    capture.first(outcome)
}

/// What the replication's data steps leave for after the replication: its callbacks return
/// the text of its message, so the copy's report and table states wait here (the table states
/// also when the replication then fails).
#[derive(Default)]
struct CopyCapture {
    report: Mutex<Option<CopyReport>>,
    tables: Mutex<Vec<TableStatus>>,
}

impl CopyCapture {
    /// The copy of the tables: its table states and report kept, its summary handed on.
    fn first(&self, outcome: CopyOutcome) -> Result<String> {
        *self.tables.lock().expect("not poisoned") = outcome.tables;
        let copied = outcome.result?;
        let text = copy_summary(&copied);
        *self.report.lock().expect("not poisoned") = Some(copied);
        Ok(text)
    }

    /// The post-data objects that waited for the subscription's copy: their warnings join the
    /// first copy's report.
    fn after_sync(&self, outcome: CopyOutcome) -> Result<String> {
        let copied = outcome.result?;
        if let Some(r) = self.report.lock().expect("not poisoned").as_mut() {
            r.warnings.extend(copied.warnings);
        }
        Ok(String::new())
    }

    fn into_parts(self) -> (Option<CopyReport>, Vec<TableStatus>) {
        (
            self.report.into_inner().expect("not poisoned"),
            self.tables.into_inner().expect("not poisoned"),
        )
    }
}

/// A replication set up (or cut over): a subscription the migration user owns applies changes
/// with the table owners' privileges, so their memberships stay while it runs; the entry takes
/// its status, a failed cut-over is the database's error, and `--verify` compares.
async fn replicated(
    db: &Db<'_>,
    o: ReplicationOutcome,
    entry: &mut DatabaseResult,
    warnings: &mut Vec<Warning>,
    message: &mut Message,
) -> Result<()> {
    if o.status == DbStatus::Running
        && !matches!(
            o.path.subscription,
            Some(replication::Via::AivenExtras | replication::Via::Superuser)
        )
    {
        db.memberships.lock().await.keep(
            "the subscription is owned by the migration user and applies changes as the table owners",
        );
    }
    entry.status = o.status;
    entry.cutover = o.cutover;
    entry.schema_changes = o.schema_changes;
    entry.remedies.extend(o.remedies);
    warnings.extend(o.warnings);
    replication::cut_over_failure(
        o.status,
        &o.message,
        o.refusal.as_ref(),
        db.pair.source_db(),
    )?;
    message.push(o.message);
    db.migrate
        .verify_replicated(db.pair, o.verify, entry, message, warnings)
        .await
}

/// The dump method: the copy in one exported snapshot, with --verify held open until the
/// target has been compared with it. Hands on the copy's report; the entry keeps the table
/// states until the database is done (a later failure, post-data, lists them) and the
/// verification.
async fn dump(
    db: &Db<'_>,
    made: &Created<'_>,
    copy_opts: &CopyOptions,
    plan: PostDataPlan,
    entry: &mut DatabaseResult,
    warnings: &[Warning],
    message: &mut Message,
) -> Result<CopyReport> {
    let pair = db.pair;
    entry.method = Some(Method::Dump);
    let held = match db.opts().verify.after_copy {
        true => Some(crate::verify::SnapshotHolder::export(pair).await?),
        false => None,
    };
    crate::ledger::set_stage(
        made.target,
        crate::ledger::Stage::Data,
        Some("dump"),
        Some(&[warnings, &made.report.warnings[..]].concat()),
    )
    .await?;
    let outcome =
        copy_database_with_states(pair, copy_opts, held.as_ref().map(|h| h.id()), plan).await;
    entry.tables = outcome.tables;
    let copied = outcome.result?;
    message.push(copy_summary(&copied));
    if let Some(held) = held {
        let v = db.migrate.verify_after_copy(pair, Some(held.id())).await;
        held.release().await;
        let v = v?;
        message.push(v.summary());
        entry.verify = Some(v);
    }
    Ok(copied)
}

/// The copy's report into the entry, its warnings into the run's. Hands on the post-data owners
/// the target refused (see PostDataJob::refusable), which count with the schema stage's.
pub(in crate::migrate) fn hand_in(
    copied: CopyReport,
    entry: &mut DatabaseResult,
    warnings: &mut Vec<Warning>,
) -> usize {
    let owners_lost = copied
        .warnings
        .iter()
        .filter(|w| w.kind == crate::warning::WarningKind::Ownership)
        .count();
    warnings.extend(copied.warnings.iter().cloned());
    entry.data = Some(copied);
    owners_lost
}
