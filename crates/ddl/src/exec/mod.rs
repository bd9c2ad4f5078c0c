//! Running the ordered schema on the target.
//!
//! Statements run in bounded transactions (at most [`BATCH_OBJECTS`] objects each, so
//! `max_locks_per_transaction` is never exceeded on schemas with tens of thousands of objects)
//! and are pipelined: a batch is sent without waiting for each reply. When a statement fails,
//! the batch is rolled back, the failing piece is dealt with, and the batch is run again:
//!
//! - an object the target user may lack rights for ([`Privilege::MaySkip`]) refused with
//!   SQLSTATE 42501 (a subscription refused for any reason, [`SkipRule`]) is skipped with a
//!   per-object warning, and so is, later, every object that
//!   depends on it, directly or not ([`SchemaObject::depends_on`]), each warning naming the
//!   skipped object it depends on: creating them could only fail with "does not exist";
//! - a storage parameter or attribute option ([`SchemaObject::options`]) the target refuses
//!   as unknown or invalid (SQLSTATE 22023, e.g. one only a newer major has) is a per-object
//!   warning naming it; the object is created without it;
//! - an owner the target user may not set leaves the migration user as owner (counted);
//! - a privilege or comment statement that fails is a per-object warning;
//! - any other failure of a creating statement fails the database, naming the object and
//!   showing its SQL; with `--keep-going` ([`ExecState::keep_going`]) the object is recorded
//!   instead ([`ExecState::refused`], the report's `objects_failed`) and skipped with every
//!   object that depends on it, like a refused one above, and the batch runs on without them.
//!
//! A rehearsal ([`super::rehearsal`]) runs the same way with keep-going, its batches under a
//! savepoint of one transaction the rehearsal rolls back.
//!
//! An object whose source tablespace ([`SchemaObject::tablespace`]) exists in the target, and
//! may be used by the target user, is created under `SET default_tablespace`, as pg_dump does;
//! otherwise it is created in the target database's default tablespace with a per-object
//! warning. Tablespaces are never created (their locations are paths on the server).
//!
//! Owners are only attempted when the target user may set them (superuser, or a member of the
//! owner role with SET rights), so failures of that kind are rare and cheap.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use futures::future::join_all;

use super::model::{ObjId, ObjectKind, Privilege, SchemaObject, class};
use super::schema::Schema;
use db_migrate_conn::Session;
use db_migrate_core::error::{Error, ErrorKind, Result, SqlState};
use db_migrate_core::remedy::Setting;
use db_migrate_core::sql::{quote_ident, quote_literal};
use db_migrate_core::warning::{Warning, WarningKind};

mod levels;
mod refusal;
mod skipped;
mod statements;
mod versions;

pub use levels::split_by_relation;
pub use refusal::{FailedObject, is_refusal};
pub use skipped::{Refusals, Skipped};
pub use statements::{
    CONCEALED, SkipRule, conceals, is_owner_self_grant, post_data_statements, statements_for,
};
use statements::{Part, planned};
pub use versions::{VersionPlan, version_plan};

/// Objects per transaction.
pub const BATCH_OBJECTS: usize = 200;

/// What `--no-owner` / `--no-acl` / `--no-publications` / `--no-subscriptions` ask for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SchemaOptions {
    pub no_owner: bool,
    pub no_acl: bool,
    /// Leave the source's publications out.
    pub no_publications: bool,
    /// Leave the source's subscriptions out.
    pub no_subscriptions: bool,
}

/// The schema stage's execution state for one database's run: what the target user may do
/// (owners, tablespaces, extensions; read once by [`ExecState::read`]) and the objects skipped
/// so far, which grows as statements run and is shared by every phase and session of the run.
/// (Not facts about the server: state the executor mutates.)
#[derive(Debug, Clone, Default)]
pub struct ExecState {
    /// The target user (`current_user`): objects this run creates are already its own.
    pub user: String,
    pub superuser: bool,
    /// Roles the target user may make owners of objects.
    pub can_own_as: HashSet<String>,
    /// Objects of this database skipped so far (see [`Skipped`]). Shared by every phase and
    /// session of one database's run, which all receive this state, so that an object skipped
    /// in pre-data also takes its post-data dependents with it.
    pub skipped: Skipped,
    /// The target's tablespaces, each with whether the target user may create objects in it;
    /// `None` when unknown (a script for review): tablespaces are then assumed to exist.
    pub tablespaces: Option<HashMap<String, bool>>,
    /// The extensions the target server offers, with their versions; `None` when unknown (a
    /// script for review): extensions are then created as written.
    pub extensions: Option<HashMap<String, db_migrate_catalog::extensions::Offered>>,
    /// The column compression methods the target was built with; `None` when unknown (a
    /// script for review, a target before 14): `SET COMPRESSION` is then run as written.
    pub compressions: Option<Vec<String>>,
    /// `--keep-going` (and every rehearsal): an object whose creating statement the target
    /// refuses is recorded in [`Self::refused`] and skipped with its dependents, instead of
    /// failing the database.
    pub keep_going: bool,
    /// A rehearsal ([`super::rehearsal`]): batches run under a `SAVEPOINT` of the caller's
    /// transaction (released, or rolled back to) instead of in transactions of their own, so
    /// that the caller's `ROLLBACK` takes everything back.
    pub rehearsal: bool,
    /// The objects the target refused under [`Self::keep_going`], shared like [`Self::skipped`].
    pub refused: Refusals,
}

impl ExecState {
    /// Reads the target user's rights from a target session, with nothing skipped yet.
    /// The three reads go out together (pipelined on the session): the extensions' read alone
    /// takes a server tens of milliseconds (it opens every control file).
    pub async fn read(target: &Session) -> Result<Self> {
        let (rights, extensions, compressions) = futures::try_join!(
            db_migrate_catalog::user_rights::user_rights(target),
            db_migrate_catalog::extensions::offered_versions(target),
            db_migrate_catalog::server::toast_compressions(target),
        )?;
        Ok(ExecState {
            user: rights.user,
            superuser: rights.superuser,
            can_own_as: rights.can_own_as.into_iter().collect(),
            skipped: Skipped::default(),
            tablespaces: Some(rights.tablespaces.into_iter().collect()),
            extensions: Some(extensions),
            compressions,
            keep_going: false,
            rehearsal: false,
            refused: Refusals::default(),
        })
    }

    pub fn may_own_as(&self, role: &str) -> bool {
        self.superuser || self.can_own_as.contains(role)
    }

    /// Why objects of tablespace `name` cannot be created in it, or `None` when they can.
    fn tablespace_refusal(&self, name: &str) -> Option<&'static str> {
        match self.tablespaces.as_ref()?.get(name) {
            None => Some("the target has no tablespace of that name"),
            Some(false) if !self.superuser => {
                Some("the target user may not create objects in that tablespace")
            }
            Some(_) => None,
        }
    }

    /// The compression method a statement of the schema sets on a column
    /// (`ALTER ... SET COMPRESSION lz4`, as [`crate::relations`] writes it), when the
    /// target was built without it. The statement ends with the method's name: a quoted
    /// identifier would end with `"`.
    fn missing_compression<'s>(&self, statement: &'s str) -> Option<&'s str> {
        let method = statement.rsplit_once(" SET COMPRESSION ")?.1;
        let known = self.compressions.as_ref()?;
        (statement.starts_with("ALTER ")
            && method != "default"
            && !known.iter().any(|k| k == method))
        .then_some(method)
    }
}

/// What running a phase did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecReport {
    /// Objects created.
    pub created: usize,
    /// Objects whose owner could not be kept (the migration user owns them): the length of
    /// [`Self::owners_lost`].
    pub owners_not_kept: usize,
    /// Those objects: (the source's owner, the object's description), in creation order.
    pub owners_lost: Vec<(String, String)>,
    /// Per-object warnings (skipped objects, privileges or comments that failed).
    pub warnings: Vec<Warning>,
}

impl ExecReport {
    pub fn merge(&mut self, other: ExecReport) {
        self.created += other.created;
        self.owners_lost.extend(other.owners_lost);
        self.owners_not_kept = self.owners_lost.len();
        self.warnings.extend(other.warnings);
    }
}

/// Settings for sessions that create schema objects.
pub async fn prepare_session(target: &Session) -> Result<()> {
    target
        .batch_execute(
            "SET check_function_bodies = off; SET client_min_messages = warning; \
             SET lock_timeout = 0; SET statement_timeout = 0",
        )
        .await
        .map_err(Error::from_pg)
}

/// Runs `objects` in order, in bounded pipelined transactions.
pub async fn apply<'a>(
    target: &Session,
    objects: impl IntoIterator<Item = &'a SchemaObject>,
    opts: SchemaOptions,
    state: &ExecState,
) -> Result<ExecReport> {
    let mut report = ExecReport::default();
    let objects: Vec<&SchemaObject> = objects.into_iter().collect();
    for chunk in objects.chunks(BATCH_OBJECTS) {
        let mut batch = plan_batch(chunk, opts, state, &mut report);
        loop {
            match run_batch(target, &batch, state.rehearsal).await? {
                None => {
                    report.created += batch.len();
                    break;
                }
                Some((obj_idx, stmt_idx, err)) => {
                    on_failure(&mut batch, obj_idx, stmt_idx, err, state, &mut report)?;
                }
            }
        }
    }
    report.owners_not_kept = report.owners_lost.len();
    Ok(report)
}

/// One transaction's objects, each with the statements it runs.
type Batch<'a> = Vec<(&'a SchemaObject, Vec<(Part, String)>)>;

/// The objects of `chunk` to run, with their statements ([`planned`]). An extension the target
/// does not offer, and an object depending on one skipped before, are left out with a warning.
fn plan_batch<'a>(
    chunk: &[&'a SchemaObject],
    opts: SchemaOptions,
    state: &ExecState,
    report: &mut ExecReport,
) -> Batch<'a> {
    let mut batch: Batch<'a> = Vec::new();
    for o in chunk {
        if let VersionPlan::Missing { reason } = version_plan(o, state) {
            report.warnings.push(
                Warning::schema(format!("skipped {}: {reason}", o.describe())).on(o.describe()),
            );
            state.skipped.not_created(o, &reason);
            continue;
        }
        match state.skipped.dependent(o) {
            Some(w) => report.warnings.push(w),
            None => batch.push((
                *o,
                planned(
                    o,
                    opts,
                    state,
                    &mut report.owners_lost,
                    &mut report.warnings,
                ),
            )),
        }
    }
    batch
}

/// Deals with the failure of statement `stmt_idx` of object `obj_idx` (see the module docs):
/// the batch is left ready to run again (the statement, or the object with its dependents in
/// the batch, taken out, or nothing for a deadlock), or the error fails the database.
fn on_failure(
    batch: &mut Batch<'_>,
    obj_idx: usize,
    stmt_idx: usize,
    err: Error,
    state: &ExecState,
    report: &mut ExecReport,
) -> Result<()> {
    let (o, stmts) = &mut batch[obj_idx];
    let err = if conceals(o.kind) {
        err.redacted()
    } else {
        err
    };
    let part = stmts[stmt_idx].0;
    // Concurrent batches (see `apply_parallel`) may deadlock on shared locks,
    // e.g. two foreign keys to one table: the server aborts one; run it again.
    if matches!(
        err.sqlstate(),
        Some(&SqlState::T_R_DEADLOCK_DETECTED) | Some(&SqlState::T_R_SERIALIZATION_FAILURE)
    ) {
        tracing::debug!("retrying a schema batch after: {}", err.message());
        return Ok(());
    }
    match part {
        Part::Create if SkipRule::of(o).skips(&err) => {
            report.warnings.push(SkipRule::warning(&o.describe(), &err));
            state.skipped.refused(o);
            batch.remove(obj_idx);
            skip_dependents(batch, obj_idx, state, report);
        }
        Part::Link if err.sqlstate() == Some(&SqlState::DATATYPE_MISMATCH) => {
            report.warnings.push(
                Warning::schema(format!(
                    "{} is not made an inheritance child ({}): the target \
                     refuses it: {}; the table and its rows are migrated on \
                     their own, and queries on the parent do not include them",
                    o.describe(),
                    stmts[stmt_idx].1,
                    err.message()
                ))
                .on(o.describe()),
            );
            stmts.remove(stmt_idx);
        }
        Part::Option if err.sqlstate() == Some(&SqlState::INVALID_PARAMETER_VALUE) => {
            report.warnings.push(
                Warning::schema(format!(
                    "{}: option not set, the target refuses it: {} ({})",
                    o.describe(),
                    err.message(),
                    stmts[stmt_idx].1
                ))
                .on(o.describe()),
            );
            stmts.remove(stmt_idx);
        }
        Part::Create | Part::Link | Part::Option => {
            let sql = if conceals(o.kind) {
                CONCEALED.to_string()
            } else {
                stmts[stmt_idx].1.clone()
            };
            // A full lock table ends a rehearsal (its one transaction holds
            // every lock), it is not the object's fault.
            if state.keep_going && is_refusal(&err) {
                let o: &SchemaObject = o;
                record_refusal(o, &sql, &err, state, report);
                batch.remove(obj_idx);
                skip_dependents(batch, obj_idx, state, report);
                return Ok(());
            }
            return Err(err
                .with_object(o.describe())
                .context(format!("while running: {sql}")));
        }
        Part::Owner => {
            if let Some(owner) = &o.owner {
                report.owners_lost.push((owner.role.clone(), o.describe()));
            }
            report.warnings.push(
                Warning::ownership(format!(
                    "{}: owner not kept: {}",
                    o.describe(),
                    err.message()
                ))
                .on(o.describe()),
            );
            stmts.remove(stmt_idx);
        }
        Part::Acl | Part::Comment => {
            let (what, kind) = if part == Part::Acl {
                ("privileges", WarningKind::Privilege)
            } else if o.kind == ObjectKind::SecurityLabel {
                ("security label", WarningKind::Schema)
            } else {
                ("comment", WarningKind::Schema)
            };
            report.warnings.push(
                Warning::new(
                    kind,
                    format!("{}: {what} not applied: {}", o.describe(), err.message()),
                )
                .on(o.describe()),
            );
            stmts.remove(stmt_idx);
        }
    }
    Ok(())
}

/// Takes out of `batch`, from `from` on, the objects that depend on one skipped (with a
/// warning each): they come later in creation order, some in this batch.
fn skip_dependents(batch: &mut Batch<'_>, from: usize, state: &ExecState, report: &mut ExecReport) {
    let mut k = from;
    while k < batch.len() {
        match state.skipped.dependent(batch[k].0) {
            Some(w) => {
                report.warnings.push(w);
                batch.remove(k);
            }
            None => k += 1,
        }
    }
}

/// `--keep-going` (and a rehearsal): `o`, whose statement `sql` the target refused, is recorded
/// ([`ExecState::refused`]) and not created, with a warning.
fn record_refusal(
    o: &SchemaObject,
    sql: &str,
    err: &Error,
    state: &ExecState,
    report: &mut ExecReport,
) {
    state.refused.push(FailedObject::of(o, sql, err));
    state.skipped.not_created(
        o,
        &format!(
            "the target refused it: {} ({})",
            err.message(),
            err.sqlstate().map_or("", |c| c.code())
        ),
    );
    report.warnings.push(
        Warning::schema(format!(
            "{} not created ({}): the target refused \
             {sql}: {}",
            o.describe(),
            Setting::KeepGoing,
            err.message()
        ))
        .on(o.describe()),
    );
}

/// Runs `objects` (with their dependency levels, in creation order) on several sessions at
/// once, level by level. Everything an object depends on has a lower level, so it exists before
/// the object is created; within a level, [`split_by_relation`] decides which session runs what.
pub async fn apply_parallel(
    sessions: &[&Session],
    objects: &[(&SchemaObject, u32)],
    opts: SchemaOptions,
    state: &ExecState,
) -> Result<ExecReport> {
    let mut report = ExecReport::default();
    let mut levels: Vec<u32> = objects.iter().map(|(_, l)| *l).collect();
    levels.sort_unstable();
    levels.dedup();
    for level in levels {
        let these: Vec<&SchemaObject> = objects
            .iter()
            .filter(|(_, l)| *l == level)
            .map(|(o, _)| *o)
            .collect();
        // Small levels are not worth splitting.
        let ways = sessions.len().min(these.len().div_ceil(50)).max(1);
        let parts = split_by_relation(&these, ways);
        tracing::debug!(
            "dependency level {level}: {} objects on {} sessions ({:?})",
            these.len(),
            parts.len(),
            parts.iter().map(Vec::len).collect::<Vec<_>>()
        );
        let runs = parts
            .into_iter()
            .zip(sessions)
            .map(|(part, session)| apply(session, part, opts, state));
        for r in join_all(runs).await {
            report.merge(r?);
        }
    }
    Ok(report)
}

/// Runs one batch in a transaction. `Ok(None)` when it committed; otherwise the first failing
/// statement (object index, statement index, error) after rolling back. Connection-level
/// errors are returned as `Err`.
///
/// `rehearsal`: the batch runs under a savepoint of the caller's open transaction, released
/// when it succeeded and rolled back to when it failed (see [`ExecState::rehearsal`]).
async fn run_batch(
    target: &Session,
    batch: &[(&SchemaObject, Vec<(Part, String)>)],
    rehearsal: bool,
) -> Result<Option<(usize, usize, Error)>> {
    let (begin, commit, rollback) = if rehearsal {
        (
            "SAVEPOINT db_migrate_rehearsal",
            "RELEASE SAVEPOINT db_migrate_rehearsal",
            "ROLLBACK TO SAVEPOINT db_migrate_rehearsal; \
             RELEASE SAVEPOINT db_migrate_rehearsal",
        )
    } else {
        ("BEGIN", "COMMIT", "ROLLBACK")
    };
    target.batch_execute(begin).await.map_err(Error::from_pg)?;
    let positions: Vec<(usize, usize)> = batch
        .iter()
        .enumerate()
        .flat_map(|(i, (_, s))| (0..s.len()).map(move |j| (i, j)))
        .collect();
    let futures = positions
        .iter()
        .map(|&(i, j)| target.batch_execute(batch[i].1[j].1.as_str()));
    let results = join_all(futures).await;
    let failure = results
        .into_iter()
        .zip(positions.iter())
        .find_map(|(r, &(i, j))| {
            r.err().and_then(|e| {
                let e = Error::from_pg(e);
                (e.sqlstate() != Some(&SqlState::IN_FAILED_SQL_TRANSACTION)).then_some((i, j, e))
            })
        });
    match failure {
        None => {
            target.batch_execute(commit).await.map_err(Error::from_pg)?;
            Ok(None)
        }
        Some((i, j, e)) => {
            target
                .batch_execute(rollback)
                .await
                .map_err(Error::from_pg)?;
            if matches!(e.kind(), ErrorKind::Connect | ErrorKind::Protocol) {
                return Err(e.with_object(batch[i].0.describe()));
            }
            Ok(Some((i, j, e)))
        }
    }
}

/// The whole schema as a SQL script, for `--print-ddl` (owners and privileges included unless
/// switched off, as they would be run by a superuser).
pub fn script(schema: &Schema, opts: SchemaOptions) -> String {
    let state = ExecState {
        superuser: true,
        ..Default::default()
    };
    let mut out = String::new();
    let mut ignored = 0;
    let mut section = None;
    for o in &schema.objects {
        if section != Some(o.section) {
            section = Some(o.section);
            out.push_str(match o.section {
                super::model::Section::PreData => "\n-- pre-data\n",
                super::model::Section::PostData => "\n-- post-data\n",
            });
        }
        out.push_str(&format!("\n-- {}\n", o.describe()));
        for s in statements_for(o, opts, &state, &mut ignored) {
            out.push_str(&s);
            out.push_str(";\n");
        }
    }
    out
}

#[cfg(test)]
mod tests;
