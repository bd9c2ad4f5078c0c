//! The rehearsal: before anything is written, each database's whole schema is created on the
//! target inside one transaction that is rolled back, and every statement the target refuses
//! is reported, all at once (issue 37).
//!
//! # Where
//!
//! In the target database when it exists (and holds no ledger of an earlier run: a resumed
//! database is not rehearsed, its objects exist already), else in a scratch database of
//! db-migrate's own, [`SCRATCH_PREFIX`]`<random>`, created like the run would create the
//! database (encoding, locale, database-level settings) and dropped afterwards, also when the
//! rehearsal fails or the run is interrupted.
//!
//! # How
//!
//! The same objects as the run (the source's schema, filtered by the selection and `-xe`), the
//! same builders and the same executor ([`super::exec::apply`], with [`ExecState::rehearsal`]
//! and [`ExecState::keep_going`]): the same owners, privileges, tablespaces, extension
//! versions and session settings ([`super::exec::prepare_session`]). Pre-data first, then what
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
//! The schema it read is handed to the run ([`Rehearsal::schema`]), which does not read it
//! again: the rehearsal's cost is the DDL alone (and the scratch database).
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
//!   engine issues neither), `ALTER TYPE ... ADD VALUE` used in the same transaction (the
//!   schema engine creates enums with all their labels at once).
//! - What depends on the data: `CHECK` and foreign-key validation, unique indexes and
//!   materialized views run on empty tables here.
//! - A schema larger than the target's lock table (`max_locks_per_transaction` times its
//!   connections): the rehearsal holds every lock until its end, so it stops there with a
//!   warning saying how far it got ([`Rehearsal::incomplete`]).

use std::time::Instant;

use super::exec::{self, ExecState, SchemaOptions};
use super::graph::Schema;
use super::model::{SchemaObject, Section};
use crate::catalog::databases::DatabaseInfo;
use crate::conn::{ConnInfo, Session, connect};
use crate::error::{Error, Result, Side};
use crate::selection::DbSelection;
use crate::sql::quote_ident;

/// The name of every scratch database a rehearsal creates starts with this.
pub const SCRATCH_PREFIX: &str = "db_migrate_rehearsal_";

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
    /// Where it ran: the target database, or the scratch database's name.
    pub place: String,
    pub seconds: f64,
    /// Why it stopped before the end (the target's lock table was full), when it did.
    pub incomplete: Option<String>,
    /// The source's schema as read (before the selection's filter), which the run uses
    /// instead of reading it again.
    pub schema: Option<Schema>,
}

/// One database to rehearse.
pub struct Job<'a> {
    pub source: &'a ConnInfo,
    pub target: &'a ConnInfo,
    /// A session on the target's default database (creates and drops the scratch database).
    pub target_main: &'a Session,
    pub database: &'a DatabaseInfo,
    /// Whether the database exists on the target (then the rehearsal runs in it).
    pub target_exists: bool,
    pub selection: &'a DbSelection,
    pub excluded_extensions: &'a [String],
    pub schema: SchemaOptions,
    /// Source roles the target lacks, created (and rolled back) first.
    pub missing_roles: &'a [String],
    pub cancel: &'a tokio_util::sync::CancellationToken,
}

/// A random scratch database name.
fn scratch_name() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    let tail: String = (0..10)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect();
    format!("{SCRATCH_PREFIX}{tail}")
}

/// Rehearses one database (see the module documentation). An `Err` means the rehearsal itself
/// could not run (a session, the scratch database); what the target refuses is in the result.
pub async fn rehearse(job: &Job<'_>) -> Result<Rehearsal> {
    let started = Instant::now();
    let name = &job.database.name;
    let source = connect(job.source, Some(name))
        .await
        .map_err(|e| e.with_side(Side::Source).with_database(name.clone()))?;
    let read = super::read_schema(&source)
        .await
        .map_err(|e| e.with_side(Side::Source).with_database(name.clone()))?;
    drop(source);
    let mut schema = read.clone();
    let _ = crate::selection::filter_schema(&mut schema, job.selection, job.excluded_extensions);
    tracing::debug!(database = %name, seconds = started.elapsed().as_secs_f64(), "rehearsal: schema read");
    let scratch = (!job.target_exists).then(scratch_name);
    if let Some(s) = &scratch {
        crate::databases::create_scratch(job.target_main, job.database, s)
            .await
            .map_err(|e| {
                e.with_side(Side::Target)
                    .with_step("creating the rehearsal's scratch database")
            })?;
    }
    tracing::debug!(database = %name, seconds = started.elapsed().as_secs_f64(), "rehearsal: scratch database ready");
    let place = scratch.clone().unwrap_or_else(|| name.clone());
    let run = async {
        let target = connect(job.target, Some(&place))
            .await
            .map_err(|e| e.with_side(Side::Target).with_database(place.clone()))?;
        let r = tokio::select! {
            r = in_transaction(&target, job, &mut schema) => r,
            _ = job.cancel.cancelled() => Err(crate::copy::worker::cancelled()),
        };
        // The session closes here: the server rolls back whatever is still open (an
        // interrupted or failed rehearsal does not wait for a ROLLBACK behind a running
        // statement).
        drop(target);
        r
    };
    let result = run.await;
    tracing::debug!(database = %name, seconds = started.elapsed().as_secs_f64(), "rehearsal: rolled back");
    if let Some(s) = &scratch {
        drop_scratch(job.target_main, s).await;
    }
    let mut r = result?;
    r.schema = Some(read);
    r.place = place;
    r.seconds = started.elapsed().as_secs_f64();
    Ok(r)
}

/// Drops a scratch database, waiting for its sessions to be gone (the server may still be
/// ending the rehearsal's). A failure is logged: the name says what it is.
async fn drop_scratch(target: &Session, name: &str) {
    let force = if target.server_version_num() >= 130000 {
        " WITH (FORCE)"
    } else {
        ""
    };
    let sql = format!("DROP DATABASE IF EXISTS {}{force}", quote_ident(name));
    for attempt in 0..20 {
        match target.batch_execute(&sql).await {
            Ok(()) => return,
            Err(e) if attempt < 19 => {
                tracing::debug!("dropping the rehearsal database {name}: {e}; trying again");
                tokio::time::sleep(std::time::Duration::from_millis(250)).await;
            }
            Err(e) => tracing::warn!(
                "the rehearsal's scratch database {} could not be dropped: {}; drop it with \
                 DROP DATABASE {}",
                quote_ident(name),
                Error::from_pg(e).message(),
                quote_ident(name)
            ),
        }
    }
}

/// The objects of `section` in the order `--schema-jobs` sessions create them: by dependency
/// level, creation order within one.
fn by_level(schema: &Schema, section: Section) -> Vec<&SchemaObject> {
    let mut objects = schema.section_with_levels(section);
    objects.sort_by_key(|(_, level)| *level);
    objects.into_iter().map(|(o, _)| o).collect()
}

async fn in_transaction(target: &Session, job: &Job<'_>, schema: &mut Schema) -> Result<Rehearsal> {
    let tgt = |e: tokio_postgres::Error| Error::from_pg(e).with_side(Side::Target);
    exec::prepare_session(target).await?;
    target.batch_execute("BEGIN").await.map_err(tgt)?;
    for role in job.missing_roles {
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
    let pre = exec::apply(
        target,
        by_level(schema, Section::PreData),
        job.schema,
        &state,
    )
    .await;
    tracing::debug!(
        seconds = started.elapsed().as_secs_f64(),
        "rehearsal: pre-data"
    );
    if let Err(e) = pre {
        out.incomplete = stopped(e)?;
    } else {
        super::extensions::drop_provided(target, schema).await?;
        let post = exec::apply(
            target,
            by_level(schema, Section::PostData),
            job.schema,
            &state,
        )
        .await;
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
    fn scratch_names_are_recognisable_and_random() {
        let a = scratch_name();
        let b = scratch_name();
        assert!(a.starts_with(SCRATCH_PREFIX) && a.len() == SCRATCH_PREFIX.len() + 10);
        assert_ne!(a, b);
    }

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
