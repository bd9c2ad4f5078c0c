//! The rehearsal: before anything is written, each database's whole schema is created on the
//! target inside one transaction that is rolled back, and every statement the target refuses
//! is reported, all at once (issue 37).
//!
//! This is the executor's part ([`rehearse_in`]); where it runs (the target database, or a
//! scratch database of db-migrate's own), which schema and when is preflight's
//! (`crate::preflight`'s `rehearsal.rs`).
//!
//! # How
//!
//! The same objects as the run (the source's schema, filtered by the selection and `-xe`), the
//! same builders and the same executor ([`super::exec::apply`], with [`ExecState::rehearsal`]
//! and [`ExecState::keep_going`]): the same owners, tablespaces, extension versions, storage
//! options and session settings ([`super::exec::prepare_session`]). Pre-data first, then what
//! the target's `CREATE EXTENSION` provides is left out ([`super::extensions::drop_provided`]),
//! then post-data, each section in dependency-level order: the order `--schema-jobs` sessions
//! create them in, put on one session (objects of one transaction must see each other).
//!
//! Roles the source has and the target lacks are created first (`CREATE ROLE ... NOLOGIN`), in
//! the same transaction, so that owners name existing roles; they are rolled back with the
//! rest. Statements whose refusal the run only warns about (owners, options the target does not
//! know) are not findings; privileges, comments and security labels, which the run also only
//! warns about and which no later statement needs, are not run at all.
//!
//! Each executor batch runs under a `SAVEPOINT`: a statement the target refuses rolls back to
//! it, its object is recorded ([`FailedObject`]) and skipped with everything that depends on
//! it (the dependency graph of [`super::graph`]), and the batch runs again without them, so one
//! refusal never hides the next. The whole transaction is rolled back at the end: nothing of it
//! stays on the target (no object, no role, no scratch database).
//!
//! # Left out
//!
//! - Statements that cannot run in a transaction block: `CREATE DATABASE` (the scratch
//!   database stands in for it), `ALTER SYSTEM` and `CREATE INDEX CONCURRENTLY` (the schema
//!   engine issues neither), `ALTER TYPE ... ADD VALUE` whose new label is used in the same
//!   transaction (refused in a transaction block before PostgreSQL 12; the schema engine
//!   creates enums with all their labels at once).
//! - What depends on the data: `CHECK` and foreign-key validation, unique indexes and
//!   materialized views run on empty tables here.
//! - A schema larger than the target's lock table (`max_locks_per_transaction` times its
//!   connections): the rehearsal holds every lock until its end, so it stops there with a
//!   warning saying how far it got ([`Rehearsal::incomplete`]).

use std::time::Instant;

use super::exec::{self, ExecState, SchemaOptions};
use super::graph::Schema;
use super::model::{SchemaObject, Section};
use db_migrate_conn::Session;
use db_migrate_core::error::{Error, Result, Side};
use db_migrate_core::sql::quote_ident;

/// An object the target refused to create: in a rehearsal, or in a run with `--keep-going`
/// (the report's and JSON's `objects_failed`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FailedObject {
    /// Its description, e.g. `table "app"."t"`.
    pub name: String,
    /// Its kind, e.g. `table`.
    pub kind: String,
    /// The statement the target refused (not shown for user mappings and servers, whose
    /// options may hold credentials).
    pub statement: String,
    /// The target's SQLSTATE, when it gave one.
    pub sqlstate: Option<String>,
    pub message: String,
    /// The objects not created because they depend on it (directly or not).
    pub skipped_dependents: Vec<String>,
}

impl FailedObject {
    pub fn of(o: &SchemaObject, statement: &str, err: &Error) -> Self {
        FailedObject {
            name: o.describe(),
            kind: o.kind.label(),
            statement: statement.to_string(),
            sqlstate: err.sqlstate().map(|c| c.code().to_string()),
            message: err.message().to_string(),
            skipped_dependents: Vec::new(),
        }
    }

    /// One line for reports and preflight findings.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "{}: the target refuses {}: {}{}",
            self.name,
            self.statement,
            self.message,
            self.sqlstate
                .as_deref()
                .map(|c| format!(" (SQLSTATE {c})"))
                .unwrap_or_default()
        );
        if !self.skipped_dependents.is_empty() {
            s.push_str(&format!(
                "; {} dependent object{} skipped with it: {}",
                self.skipped_dependents.len(),
                if self.skipped_dependents.len() == 1 {
                    ""
                } else {
                    "s"
                },
                self.skipped_dependents.join(", ")
            ));
        }
        s
    }
}

/// Whether `e` is the target refusing a statement, which `--keep-going` (and a rehearsal)
/// records and goes on from, rather than a lost session, a cancelled statement, a deadlock or
/// a server out of resources (such as a lock table too small for a rehearsal's transaction),
/// which end the work as they would without it.
pub fn is_refusal(e: &Error) -> bool {
    match e.sqlstate() {
        None => false,
        Some(code) => !["08", "40", "53", "57", "58"]
            .iter()
            .any(|class| code.code().starts_with(class)),
    }
}

/// What one database's rehearsal found.
#[derive(Debug, Clone, Default)]
pub struct Rehearsal {
    /// Every object the target refused, with its dependents.
    pub refused: Vec<FailedObject>,
    /// Objects rehearsed.
    pub objects: usize,
    /// Why it stopped before the end (the target's lock table was full), when it did.
    pub incomplete: Option<String>,
}

/// The objects of `section` in the order `--schema-jobs` sessions create them: by dependency
/// level, creation order within one.
fn by_level(schema: &Schema, section: Section) -> Vec<&SchemaObject> {
    let mut objects = schema.section_with_levels(section);
    objects.sort_by_key(|(_, level)| *level);
    objects.into_iter().map(|(o, _)| o).collect()
}

/// Creates `schema` (filtered already) on `target`, a session of the database to rehearse in,
/// inside one transaction that it rolls back, after creating `missing_roles` in it: see the
/// module documentation. `schema` is left as it is (what the target's extensions provide is
/// left out as it goes, [`super::extensions::provided`]), so the run can use it without a
/// copy. An `Err` means the rehearsal itself could not run (a lost session); what the target
/// refuses is in the result.
pub async fn rehearse_in(
    target: &Session,
    schema: &Schema,
    opts: SchemaOptions,
    missing_roles: &[String],
) -> Result<Rehearsal> {
    let tgt = |e: tokio_postgres::Error| Error::from_pg(e).with_side(Side::Target);
    exec::prepare_session(target).await?;
    target.batch_execute("BEGIN").await.map_err(tgt)?;
    for role in missing_roles {
        // A role the target user may not create: owners and grants naming it fail, which the
        // run only warns about.
        target
            .batch_execute("SAVEPOINT db_migrate_role")
            .await
            .map_err(tgt)?;
        let created = target
            .batch_execute(&format!("CREATE ROLE {} NOLOGIN", quote_ident(role)))
            .await;
        let end = match created {
            Ok(()) => "RELEASE SAVEPOINT db_migrate_role",
            Err(_) => "ROLLBACK TO SAVEPOINT db_migrate_role; RELEASE SAVEPOINT db_migrate_role",
        };
        target.batch_execute(end).await.map_err(tgt)?;
    }
    let mut state = ExecState::read(target).await?;
    state.keep_going = true;
    state.rehearsal = true;
    let mut out = Rehearsal {
        objects: schema.objects.len(),
        ..Default::default()
    };
    let stopped = |e: Error| -> Result<Option<String>> {
        if e.sqlstate().is_some_and(|c| c.code().starts_with("53")) {
            Ok(Some(format!(
                "the rehearsal stopped before the end: {} (the target's lock table holds too few \
                 locks for the whole schema in one transaction; raise max_locks_per_transaction \
                 or use --no-rehearsal)",
                e.message()
            )))
        } else {
            Err(e)
        }
    };
    tracing::debug!("rehearsal: session ready");
    let started = Instant::now();
    let pre = exec::apply(target, by_level(schema, Section::PreData), opts, &state).await;
    tracing::debug!(
        seconds = started.elapsed().as_secs_f64(),
        "rehearsal: pre-data"
    );
    if let Err(e) = pre {
        out.incomplete = stopped(e)?;
    } else {
        // Its warnings are the run's to give.
        let provided = super::extensions::provided(target, schema).await?;
        let mut post: Vec<(&SchemaObject, u32)> = schema
            .section_with_levels(Section::PostData)
            .into_iter()
            .filter(|(o, _)| !provided.there.contains(&o.id))
            .chain(
                provided
                    .extra
                    .iter()
                    .filter(|o| o.section == Section::PostData)
                    .map(|o| (o, 0)),
            )
            .collect();
        post.sort_by_key(|(_, level)| *level);
        let post = post.into_iter().map(|(o, _)| o).collect::<Vec<_>>();
        let post = exec::apply(target, post, opts, &state).await;
        if let Err(e) = post {
            out.incomplete = stopped(e)?;
        }
        tracing::debug!(
            seconds = started.elapsed().as_secs_f64(),
            "rehearsal: post-data"
        );
    }
    target.batch_execute("ROLLBACK").await.map_err(tgt)?;
    out.refused = state.refused.with_dependents(&state.skipped);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_object_names_its_statement_code_and_dependents() {
        let f = FailedObject {
            name: "table \"s\".\"t\"".into(),
            kind: "table".into(),
            statement: "CREATE TABLE \"s\".\"t\" ()".into(),
            sqlstate: Some("42P07".into()),
            message: "relation \"t\" already exists".into(),
            skipped_dependents: vec!["index \"s\".\"i\"".into()],
        };
        assert_eq!(
            f.summary(),
            "table \"s\".\"t\": the target refuses CREATE TABLE \"s\".\"t\" (): relation \"t\" \
             already exists (SQLSTATE 42P07); 1 dependent object skipped with it: index \
             \"s\".\"i\""
        );
    }
}
