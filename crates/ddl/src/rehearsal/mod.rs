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
//! create them in, put on one session (objects of one transaction must see each other). The
//! extensions (with the schemas they are in) are created before the rest, while the rest of the
//! source's schema is still being read ([`first`]): they are most of a small schema's
//! rehearsal.
//!
//! Roles the source has and the target lacks are created first (`CREATE ROLE ... NOLOGIN`), in
//! the same transaction, so that owners name existing roles; they are rolled back with the
//! rest. Statements whose refusal the run only warns about (owners, options the target does not
//! know) are not findings; privileges, comments and security labels, which the run also only
//! warns about and which no later statement needs, are not run at all.
//!
//! Objects that cannot fail once what they depend on exists are not rehearsed
//! ([`cannot_fail`]): tables, sequences (and their `OWNED BY`), indexes, index attachments,
//! partition attachments (on a target of the source's major) and constraints whose every dependency (in `pg_depend`) is a relation, a constraint or a
//! schema, i.e. built of the
//! server's own types, operator classes, collations and functions (those are pinned and never
//! recorded; every other one is), with no search_path of their own, not in a schema of the
//! target where the target user may not create objects. Empty, in a database whose
//! other objects the rehearsal just created, the target has nothing to refuse them for but a
//! name an extension's member took (an extension the target database holds already, or a
//! version of one that the source did not have): those are looked up once the rest is created
//! and the objects that collide are rehearsed then, and refused. An object that is rehearsed
//! and depends on one (a view on a table, an index with an extension's operator class) takes
//! it back into the rehearsal, and so on. They are most of a schema (primary keys, indexes,
//! foreign keys, tables of plain columns) and were most of the rehearsal's time: see
//! `scripts/bench-rehearsal`.
//!
//! Each executor batch runs under a `SAVEPOINT`: a statement the target refuses rolls back to
//! it, its object is recorded ([`FailedObject`]) and skipped with everything that depends on
//! it (the dependency graph of [`super::graph`]), and the batch runs again without them, so one
//! refusal never hides the next. The whole transaction is rolled back at the end, by ending the
//! session (the server rolls back what a session leaves open, without the rehearsal waiting
//! for it; whatever comes next and needs one of its names waits for that): nothing of it stays
//! on the target (no object, no role, no scratch database).
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

use std::collections::HashSet;
use std::time::Instant;

use super::exec::{self, ExecState, SchemaOptions};
pub use super::exec::{FailedObject, is_refusal};
use super::model::{ObjId, ObjectKind, SchemaObject, Section, class};
use super::schema::Schema;
use db_migrate_conn::Session;
use db_migrate_core::error::{Error, Result, Side};
use db_migrate_core::remedy::Setting;
use db_migrate_core::sql::quote_ident;

pub mod first;

/// What one database's rehearsal found.
#[derive(Debug, Clone, Default)]
pub struct Rehearsal {
    /// Every object the target refused, with its dependents.
    pub refused: Vec<FailedObject>,
    /// Objects rehearsed.
    pub objects: usize,
    /// Objects left out because they cannot fail ([`cannot_fail`]).
    pub not_rehearsed: usize,
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

/// Whether the target can refuse `o` only by refusing something it depends on, or by an
/// extension's member taking its name (checked after the rest, see [`rehearse_in`]): see the
/// module documentation. `no_create`: the schemas that exist on the target already and where
/// the target user may not create objects; nothing of theirs is left out.
pub fn cannot_fail(o: &SchemaObject, no_create: &HashSet<String>, same_major: bool) -> bool {
    let kind = match o.kind {
        ObjectKind::ForeignKey | ObjectKind::IndexAttach | ObjectKind::SequenceOwnedBy => true,
        // A partition's attachment: what the server checks (columns, their generation and
        // identity, NOT NULL, the bound against its siblings') held on the source, and holds
        // alike on a server of the same major; the rules changed between majors.
        ObjectKind::TableAttach => same_major,
        ObjectKind::Table | ObjectKind::Sequence | ObjectKind::Index | ObjectKind::Constraint => {
            o.schema.is_some()
        }
        _ => false,
    };
    let kind = kind && o.schema.as_ref().is_none_or(|s| !no_create.contains(s));
    kind && o.search_path().is_none()
        && o.depends_on.iter().all(|d| {
            matches!(
                d.classid,
                class::PG_CLASS | class::PG_CONSTRAINT | class::PG_NAMESPACE
            )
        })
}

/// The objects of `schema` the rehearsal leaves out: those that cannot fail, unless an object
/// that is rehearsed depends on them, directly or not. A partition that is rehearsed takes its
/// attachment along: what needs it (an index attached to its parent's, a trigger cloned from
/// its parent's) needs it attached.
fn left_out(schema: &Schema, no_create: &HashSet<String>, same_major: bool) -> HashSet<ObjId> {
    let mut skip: HashSet<ObjId> = schema
        .objects
        .iter()
        .filter(|o| cannot_fail(o, no_create, same_major))
        .map(|o| o.id)
        .collect();
    // A partition's attachment is named after the partition (see `relations::tables`).
    let partition = |o: &SchemaObject| ObjId::new(class::PG_CLASS, o.id.objid);
    // What a rehearsed object needs is rehearsed too, and what that needs, until nothing
    // changes (chains are short: a view on a table, a foreign key on a primary key).
    loop {
        let needed: Vec<ObjId> = schema
            .objects
            .iter()
            .filter(|o| !skip.contains(&o.id))
            .flat_map(|o| o.depends_on.iter().copied())
            .filter(|d| skip.contains(d))
            .chain(
                schema
                    .objects
                    .iter()
                    .filter(|o| o.kind == ObjectKind::TableAttach && skip.contains(&o.id))
                    .filter(|o| !skip.contains(&partition(o)))
                    .map(|o| o.id),
            )
            .collect();
        if needed.is_empty() {
            return skip;
        }
        for d in needed {
            skip.remove(&d);
        }
    }
}

/// `objects` but those in `skip`.
fn without<'a>(objects: Vec<&'a SchemaObject>, skip: &HashSet<ObjId>) -> Vec<&'a SchemaObject> {
    objects
        .into_iter()
        .filter(|o| !skip.contains(&o.id))
        .collect()
}

/// Opens the rehearsal on `target`, a session of the database to rehearse in: its session
/// settings, the transaction, the statements `before` (what the run does to the database
/// before its schema: `--clean`'s removal of an earlier run's objects), the `missing_roles`
/// created in it; returns the target user's rights as the executor needs them.
/// [`rehearse_in`] runs the schema in it next. A statement of `before` that fails is an `Err`:
/// the rehearsal cannot stand for the run.
pub async fn begin(
    target: &Session,
    before: &[String],
    missing_roles: &[String],
) -> Result<ExecState> {
    let tgt = |e: tokio_postgres::Error| Error::from_pg(e).with_side(Side::Target);
    exec::prepare_session(target).await?;
    target.batch_execute("BEGIN").await.map_err(tgt)?;
    for statement in before {
        target
            .batch_execute(statement)
            .await
            .map_err(|e| tgt(e).context(format!("while running: {statement}")))?;
    }
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
    Ok(state)
}

/// Creates `schema` (filtered already) on `target`, in the transaction [`begin`] opened and
/// with the state it returned, and ends the session, which rolls it back: see the module
/// documentation. `created`:
/// the objects of `schema` created in it already ([`first`], checked by [`first::holds`]).
/// An `Err` means the rehearsal itself could not run (a lost session); what the target
/// refuses is in the result.
pub async fn rehearse_in(
    target: Session,
    schema: &Schema,
    opts: SchemaOptions,
    state: ExecState,
    created: &[SchemaObject],
) -> Result<Rehearsal> {
    let target = &target;
    let no_create: HashSet<String> =
        db_migrate_catalog::user_rights::schemas_without_create(target)
            .await?
            .into_iter()
            .collect();
    let same_major = schema.source_version / 10000 == target.server_version_num() / 10000;
    let skip = left_out(schema, &no_create, same_major);
    let mut out = Rehearsal {
        objects: schema.objects.len(),
        ..Default::default()
    };
    let stopped = |e: Error| -> Result<Option<String>> {
        if e.sqlstate().is_some_and(|c| c.code().starts_with("53")) {
            Ok(Some(format!(
                "the rehearsal stopped before the end: {} (the target's lock table holds too few \
                 locks for the whole schema in one transaction; raise max_locks_per_transaction \
                 or use {})",
                e.message(),
                Setting::NoRehearsal
            )))
        } else {
            Err(e)
        }
    };
    tracing::debug!("rehearsal: session ready");
    let started = Instant::now();
    out.not_rehearsed = skip.len();
    let created: HashSet<ObjId> = created.iter().map(|o| o.id).collect();
    let pre = exec::apply(
        target,
        without(without(by_level(schema, Section::PreData), &skip), &created),
        opts,
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
        // Its warnings are the run's to give.
        let provided = super::extensions::provided(target, schema).await?;
        let mut post: Vec<(&SchemaObject, u32)> = schema
            .section_with_levels(Section::PostData)
            .into_iter()
            .filter(|(o, _)| !provided.there.contains(&o.id) && !skip.contains(&o.id))
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
        } else {
            // What was left out and has the name of an extension's relation or type (the
            // target's, or a version of one the source did not have) is refused for it.
            let taken: HashSet<(String, String)> =
                db_migrate_catalog::extensions::member_names(target)
                    .await?
                    .into_iter()
                    .collect();
            let colliding: Vec<&SchemaObject> = by_level(schema, Section::PreData)
                .into_iter()
                .chain(by_level(schema, Section::PostData))
                .filter(|o| {
                    skip.contains(&o.id)
                        && !provided.there.contains(&o.id)
                        && matches!(
                            o.kind,
                            ObjectKind::Table
                                | ObjectKind::Sequence
                                | ObjectKind::Index
                                | ObjectKind::Constraint
                        )
                })
                .filter(|o| {
                    o.schema
                        .as_ref()
                        .is_some_and(|s| taken.contains(&(s.clone(), o.name.clone())))
                })
                .collect();
            out.not_rehearsed -= colliding.len();
            if let Err(e) = exec::apply(target, colliding, opts, &state).await {
                out.incomplete = stopped(e)?;
            }
        }
        tracing::debug!(
            seconds = started.elapsed().as_secs_f64(),
            "rehearsal: post-data"
        );
    }
    out.refused = state.refused.with_dependents(&state.skipped);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(
        kind: ObjectKind,
        section: Section,
        schema: &str,
        id: u32,
        deps: &[ObjId],
    ) -> SchemaObject {
        let classid = match kind {
            ObjectKind::Table | ObjectKind::Index | ObjectKind::View => class::PG_CLASS,
            ObjectKind::Type => class::PG_TYPE,
            _ => class::PG_CONSTRAINT,
        };
        let mut o = SchemaObject::new(ObjId::new(classid, id), kind, section, Some(schema), "o");
        o.depends_on = deps.to_vec();
        o
    }

    #[test]
    fn what_cannot_fail_is_left_out_unless_something_rehearsed_needs_it() {
        let rel = |id| ObjId::new(class::PG_CLASS, id);
        let con = |id| ObjId::new(class::PG_CONSTRAINT, id);
        let (pre, post) = (Section::PreData, Section::PostData);
        let schema = Schema {
            objects: vec![
                // Tables of the server's own types: 1 and 2 alone, 3 read by a view.
                object(ObjectKind::Table, pre, "app", 1, &[]),
                object(ObjectKind::Table, pre, "app", 2, &[]),
                object(ObjectKind::Table, pre, "app", 3, &[]),
                object(ObjectKind::View, pre, "app", 4, &[rel(3)]),
                // A table of a user's type (rehearsed), and one of plain columns elsewhere.
                object(ObjectKind::Type, pre, "app", 5, &[]),
                object(
                    ObjectKind::Table,
                    pre,
                    "app",
                    6,
                    &[ObjId::new(class::PG_TYPE, 5)],
                ),
                object(ObjectKind::Table, pre, "ext", 7, &[]),
                // A primary key on 1, a foreign key from 2 to it, an index on 2 with an
                // extension's operator class (it takes table 2 into the rehearsal).
                object(ObjectKind::Constraint, post, "app", 10, &[rel(1)]),
                object(
                    ObjectKind::ForeignKey,
                    post,
                    "app",
                    11,
                    &[rel(2), rel(1), con(10)],
                ),
                object(
                    ObjectKind::Index,
                    post,
                    "app",
                    12,
                    &[rel(2), ObjId::new(class::PG_EXTENSION, 9)],
                ),
                // A partition of 1 and its attachment (which has the partition's number).
                object(ObjectKind::Table, pre, "app", 13, &[rel(1)]),
                object(ObjectKind::TableAttach, pre, "app", 13, &[rel(13), rel(1)]),
            ],
            ..Default::default()
        };
        let skip = left_out(&schema, &HashSet::new(), true);
        let mut skipped: Vec<u32> = skip.iter().map(|id| id.objid).collect();
        skipped.sort_unstable();
        assert_eq!(skipped, vec![1, 7, 10, 11, 13, 13]);
        // On a target of another major the attachment is rehearsed, with both its tables.
        let skip = left_out(&schema, &HashSet::new(), false);
        let mut skipped: Vec<u32> = skip.iter().map(|id| id.objid).collect();
        skipped.sort_unstable();
        assert_eq!(skipped, vec![7, 10, 11]);

        // A rehearsed partition takes its attachment along (and so its parent).
        let mut with_trigger = schema.clone();
        with_trigger
            .objects
            .push(object(ObjectKind::Trigger, post, "app", 15, &[rel(13)]));
        let skip = left_out(&with_trigger, &HashSet::new(), true);
        let mut skipped: Vec<u32> = skip.iter().map(|id| id.objid).collect();
        skipped.sort_unstable();
        assert_eq!(skipped, vec![7, 10, 11]);
        // A schema the target user may not create in: everything of it is rehearsed.
        let no_create: HashSet<String> = ["ext".to_string()].into();
        assert!(!left_out(&schema, &no_create, true).contains(&rel(7)));
    }
}
