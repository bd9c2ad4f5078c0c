//! Functions, views, indexes, constraints, triggers, row-level security policies, rules and
//! extended statistics created, changed or dropped on the source while it replicates, and
//! sequences created there, applied to the target
//! ([`super::follow`] does the columns and enum values, [`super::adopt`] the new tables).
//!
//! The schema-drift entries (see [`super::Fingerprint::changes`]) name the objects; what is
//! created comes from the schema reader and builders of the initial schema
//! ([`crate::schema::read_schema`], [`crate::schema::exec::apply`]), never from the
//! application's statements. A changed object is dropped on the target and created again (a
//! function is replaced in place, as its definition is `CREATE OR REPLACE`). An object the
//! schema reader writes inside its table (a `CHECK` constraint added later) is added with
//! `ALTER TABLE ... ADD CONSTRAINT` and the server's own deparse of it.
//!
//! When: the replicated rows need none of these, and some would refuse rows still in flight
//! (a unique index or a constraint the target's older rows may not meet yet), so constraints
//! and unique indexes wait until the rows from before them are applied ([`When::InSync`] or
//! the gate's `ripe`); functions, views, plain indexes and triggers (which the apply worker
//! does not fire) go at once, as do policies, rules and statistics (the apply worker
//! neither rewrites its rows nor plans), and drops only widen what the target accepts. Whatever is held
//! back is applied by the cut-over, once it caught up and before anything is dropped.

use std::collections::{BTreeMap, HashSet};

use crate::catalog::replication::definitions::object_definitions;
use crate::catalog::replication::drift_objects::{index_facts, object_oid, on_table};
use crate::conn::Session;
use crate::error::{Error, Result, Side};
use crate::schema::model::{ObjId, ObjectKind, SchemaObject, class};
use crate::schema::{ExecState, SchemaOptions, exec, read_schema};
use crate::sql::quote_ident;

use super::follow::{
    Change, Followed, Gate, SchemaChangeApplied, Tried, When, apply, refuse, unix_now,
};
use super::follow_relations::Moving;
use crate::catalog::replication::drift_objects::owning_table;

/// The kinds followed here, in the order they are created (a view or trigger may call a
/// function, a foreign key needs its unique index); drops go the other way.
pub const KINDS: [&str; 9] = [
    "sequence",
    "function",
    "view",
    "index",
    "constraint",
    "trigger",
    "policy",
    "rule",
    "statistics",
];

/// What goes before the columns are followed: a new column's default may call a new function
/// or take the next value of a new sequence.
pub const BEFORE_COLUMNS: &[&str] = KINDS.split_at(2).0;

/// What goes after them: the rest of [`KINDS`].
pub const AFTER_COLUMNS: &[&str] = KINDS.split_at(2).1;

/// What one drift entry asks of the target.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Wanted {
    kind: &'static str,
    identity: String,
    /// Gone from the source.
    removed: bool,
}

impl Wanted {
    fn key(&self) -> String {
        format!("{} {}", self.kind, self.identity)
    }
}

/// The drift entries of the kinds followed here (`index public.i added`), creations in
/// [`KINDS`] order, then removals in the reverse order.
fn wanted(drift: &[String]) -> Vec<Wanted> {
    let mut out = Vec::new();
    for kind in KINDS {
        for d in drift {
            let Some(rest) = d.strip_prefix(kind).and_then(|r| r.strip_prefix(' ')) else {
                continue;
            };
            // A sequence changed or renamed is altered in place (super::follow_relations).
            let suffixes: &[&str] = if kind == "sequence" {
                &[" added"]
            } else {
                &[" added", " changed"]
            };
            for suffix in suffixes {
                if let Some(identity) = rest.strip_suffix(suffix) {
                    out.push(Wanted {
                        kind,
                        identity: identity.to_owned(),
                        removed: false,
                    });
                }
            }
        }
    }
    // A sequence dropped on the source goes after the tables (super::follow_relations): a
    // column of a table dropped too may still use it on the target.
    for kind in KINDS.iter().rev().filter(|k| **k != "sequence") {
        for d in drift {
            if let Some(identity) = d
                .strip_prefix(kind)
                .and_then(|r| r.strip_prefix(' '))
                .and_then(|r| r.strip_suffix(" removed"))
            {
                out.push(Wanted {
                    kind,
                    identity: identity.to_owned(),
                    removed: true,
                });
            }
        }
    }
    out
}

/// What changed on the source: the drift entries (and the objects gone during the run, as
/// `... removed`), and the fingerprint taken at set-up.
#[derive(Clone, Copy)]
pub struct Drift<'a> {
    pub entries: &'a [String],
    pub baseline: &'a super::Fingerprint,
    /// Tables renamed or dropped on the source that the target has not followed yet: their
    /// indexes, constraints and triggers go with them, and while a table's rename waits no
    /// view is created (its query may name the new name).
    pub moving: &'a Moving,
    /// Tables and sequences renamed on the source (`(key then, key now)`): not created anew.
    pub renamed: &'a [(String, String)],
    /// Some table's column changes are held back in this pass (see [`Creation`]).
    pub columns_held: bool,
}

/// The statement that drops the object `identity` of `kind` from the target, if it is there.
async fn drop_sql(tgt: &Session, kind: &str, identity: &str) -> Result<Option<String>> {
    Ok(match kind {
        "function" => Some(format!("DROP ROUTINE IF EXISTS {identity}")),
        "sequence" => Some(format!("DROP SEQUENCE IF EXISTS {identity}")),
        "view" => Some(format!("DROP VIEW IF EXISTS {identity}")),
        "index" => Some(format!("DROP INDEX IF EXISTS {identity}")),
        "constraint" => on_table(tgt, kind, identity).await?.map(|c| {
            format!(
                "ALTER TABLE {} DROP CONSTRAINT IF EXISTS {}",
                c.table,
                quote_ident(&c.name)
            )
        }),
        "statistics" => Some(format!("DROP STATISTICS IF EXISTS {identity}")),
        // A trigger, a policy or a rule: named on its table.
        _ => on_table(tgt, kind, identity).await?.map(|t| {
            format!(
                "DROP {} IF EXISTS {} ON {}",
                kind.to_uppercase(),
                quote_ident(&t.name),
                t.table
            )
        }),
    })
}

/// Brings the objects of the `kinds` (of [`KINDS`]) that `drift` names as added, changed or
/// removed level with the source's (see the module docs). Functions go before the columns (a
/// new column's default may call a new function), the others after them (a view or an index
/// may use a new column): [`BEFORE_COLUMNS`], then [`AFTER_COLUMNS`].
pub async fn follow_objects(
    src: &Session,
    tgt: &Session,
    kinds: &[&str],
    drift: Drift<'_>,
    gate: &Gate<'_>,
    memo: &BTreeMap<String, String>,
    schema_opts: SchemaOptions,
) -> Result<Followed> {
    let on_source = |e: Error| e.with_side(Side::Source);
    let on_target = |e: Error| e.with_side(Side::Target);
    let mut followed = Followed::default();
    let Drift {
        entries,
        baseline,
        moving,
        renamed,
        columns_held,
    } = drift;
    let mut wanted: Vec<Wanted> = wanted(entries)
        .into_iter()
        .filter(|w| kinds.contains(&w.kind))
        .filter(|w| !renamed.iter().any(|(a, b)| *a == w.key() || *b == w.key()))
        .collect();
    if wanted.is_empty() {
        return Ok(followed);
    }
    let defs = |rows: Vec<crate::catalog::replication::definitions::ObjectDefinition>| {
        rows.into_iter()
            .filter(|d| KINDS.contains(&d.kind.as_str()))
            .map(|d| (format!("{} {}", d.kind, d.identity), d.definition))
            .collect::<BTreeMap<String, String>>()
    };
    let source = defs(object_definitions(src).await.map_err(on_source)?);
    let target = defs(object_definitions(tgt).await.map_err(on_target)?);
    let again = created_and_dropped_again(&source, &target, baseline, memo, kinds, &wanted);
    wanted.extend(again);
    let mut schema: Option<Vec<SchemaObject>> = None;
    let mut state: Option<ExecState> = None;
    for w in wanted {
        let key = w.key();
        if goes_with_its_table(src, tgt, &w, moving).await? {
            continue;
        }
        let on_target_now = target.get(&key);
        if w.removed {
            if on_target_now.is_none() || source.contains_key(&key) {
                followed.level.insert(key);
            } else {
                drop_removed(tgt, &w, gate, &mut followed).await?;
            }
            continue;
        }
        let Some(definition) = source.get(&key) else {
            // Gone again since the fingerprint was read: the removal is seen next time.
            continue;
        };
        if on_target_now == Some(definition) || memo.get(&key) == Some(definition) {
            followed.level.insert(key);
            continue;
        }
        let Some(when) = when_to_create(src, &w).await? else {
            followed.level.insert(key);
            continue;
        };
        if !gate.admits(when, &key) {
            followed.pending.push(when);
            followed.pending_objects.insert(key);
            continue;
        }
        // What the schema reader builds for it, read once per check.
        if schema.is_none() {
            schema = Some(
                read_schema(src)
                    .await
                    .map_err(|e| on_source(e).with_step("reading the changed objects"))?
                    .objects,
            );
            exec::prepare_session(tgt).await.map_err(on_target)?;
            state = Some(ExecState::read(tgt).await.map_err(on_target)?);
        }
        let objects = schema.as_deref().unwrap_or_default();
        let built = built_for(src, objects, w.kind, &w.identity)
            .await
            .map_err(on_source)?;
        let started = unix_now();
        let seen = gate.seen.get(&key).copied().unwrap_or(started);
        let replace_in_place = w.kind == "function";
        let dropped = if on_target_now.is_some() && !replace_in_place {
            drop_sql(tgt, w.kind, &w.identity)
                .await
                .map_err(on_target)?
        } else {
            None
        };
        let verb = if on_target_now.is_some() {
            "changed"
        } else {
            "created"
        };
        let creation = Creation {
            describe: format!("{key} {verb}"),
            key,
            definition,
            dropped,
            seen,
            columns_held,
        };
        let state = state.as_ref().expect("read with the schema");
        apply_built(tgt, built, creation, state, schema_opts, &mut followed).await;
    }
    Ok(followed)
}

/// When the object `w` may be created (see the module docs): constraints and unique indexes
/// once the rows before them are in, the others at once; `None` for an index a constraint owns,
/// which comes and goes with that constraint.
async fn when_to_create(src: &Session, w: &Wanted) -> Result<Option<When>> {
    Ok(match w.kind {
        "constraint" => Some(When::InSync),
        "index" => match index_facts(src, &w.identity)
            .await
            .map_err(|e| e.with_side(Side::Source))?
        {
            Some((_, true)) => None,
            Some((true, false)) => Some(When::InSync),
            _ => Some(When::Now),
        },
        _ => Some(When::Now),
    })
}

/// Objects created on the source after the set-up (so followed by this run: in `memo`) and
/// dropped again since: no drift entry names them any more, and the target has them. Objects
/// only the target has (its own extensions' or users') are never ours to drop.
fn created_and_dropped_again(
    source: &BTreeMap<String, String>,
    target: &BTreeMap<String, String>,
    baseline: &super::Fingerprint,
    memo: &BTreeMap<String, String>,
    kinds: &[&str],
    wanted: &[Wanted],
) -> Vec<Wanted> {
    let mut out = Vec::new();
    for key in target.keys() {
        let Some((kind, identity)) = key.split_once(' ') else {
            continue;
        };
        let Some(kind) = KINDS
            .iter()
            .find(|k| **k == kind && **k != "sequence" && kinds.contains(*k))
        else {
            continue;
        };
        if !source.contains_key(key)
            && !baseline.contains(key)
            && memo.contains_key(key)
            && !wanted.iter().any(|w| w.key() == *key)
        {
            out.push(Wanted {
                kind,
                identity: identity.to_owned(),
                removed: true,
            });
        }
    }
    out
}

/// Drops from the target the object `w`, gone from the source.
async fn drop_removed(
    tgt: &Session,
    w: &Wanted,
    gate: &Gate<'_>,
    followed: &mut Followed,
) -> Result<()> {
    let key = w.key();
    let Some(sql) = drop_sql(tgt, w.kind, &w.identity)
        .await
        .map_err(|e| e.with_side(Side::Target))?
    else {
        followed.level.insert(key);
        return Ok(());
    };
    let change = Change {
        sql,
        describe: format!("{key} dropped"),
        when: When::Now,
    };
    if apply(tgt, change, &key, gate, followed).await {
        followed.level.insert(key);
    }
    Ok(())
}

/// One object to create (or change: drop and create again) on the target.
struct Creation<'a> {
    key: String,
    /// The source's definition (for the memo).
    definition: &'a String,
    describe: String,
    /// The statement that drops the target's object first, when it changed.
    dropped: Option<String>,
    /// When the check first saw it changed.
    seen: f64,
    /// Some table's column changes are held back in this pass (a rename waits for the rows
    /// before it): an object the target refuses for a column or relation it lacks yet waits
    /// for them instead of stopping the replication.
    columns_held: bool,
}

/// Whether the target refused the creation for a column or relation it lacks (`42703`,
/// `42P01`): with column changes held back, what it names is coming.
fn waits_for_columns(e: &Error) -> bool {
    matches!(e.sqlstate().map(|c| c.code()), Some("42703" | "42P01"))
}

/// Runs what `built` holds on the target for the object `c`, recording the change applied or
/// refused.
async fn apply_built(
    tgt: &Session,
    built: Built<'_>,
    c: Creation<'_>,
    state: &ExecState,
    schema_opts: SchemaOptions,
    followed: &mut Followed,
) {
    let Creation {
        key,
        definition,
        describe,
        dropped,
        seen,
        columns_held,
    } = c;
    // The statement as the report names it, and what the target said of it.
    let (statement, result) = match built {
        Built::Objects(objs) => {
            let mut statements: Vec<String> = dropped.iter().cloned().collect();
            for o in &objs {
                statements.extend(o.create.iter().cloned());
            }
            let result = async {
                if let Some(d) = &dropped {
                    tgt.batch_execute(d).await.map_err(Error::from_pg)?;
                }
                exec::apply(tgt, objs.iter().copied(), schema_opts, state).await
            }
            .await;
            (statements.join("; "), result.map(|r| r.warnings))
        }
        Built::Sql(sql) => {
            let sql = match dropped {
                Some(d) => format!("{d}; {sql}"),
                None => sql,
            };
            let result = tgt.batch_execute(&sql).await.map_err(Error::from_pg);
            (sql, result.map(|()| Vec::new()))
        }
        Built::Nothing => return,
    };
    match result {
        Ok(warnings) => {
            tracing::info!("schema change followed on the target: {describe}");
            followed.warnings.extend(warnings);
            let applied = SchemaChangeApplied::applied(describe, statement, seen);
            followed.applied.push(applied);
            followed.memo.insert(key.clone(), definition.clone());
            followed.level.insert(key);
        }
        Err(e) if columns_held && waits_for_columns(&e) => {
            tracing::info!("{describe} waits for the columns held back: {e}");
            followed.pending.push(When::WhenStuck);
            followed.pending_objects.insert(key);
        }
        Err(e) => {
            let tried = Tried {
                object: &key,
                describe: &describe,
                sql: &statement,
                seen,
            };
            refuse(followed, tried, &e);
        }
    }
}

/// Whether `w` belongs to a table that is [`Moving`] (its rename or drop not yet followed):
/// it comes or goes with that table. A view waits while any table's rename does.
async fn goes_with_its_table(
    src: &Session,
    tgt: &Session,
    w: &Wanted,
    moving: &Moving,
) -> Result<bool> {
    if w.removed && removed_with_its_table(src, tgt, w).await? {
        return Ok(true);
    }
    Ok(match w.kind {
        "constraint" | "trigger" | "policy" | "rule" => moving.holds(&w.identity),
        "index" if !moving.renaming.is_empty() || !moving.dropping.is_empty() => {
            let side = if w.removed { tgt } else { src };
            owning_table(side, "index", &w.identity)
                .await
                .map_err(|e| {
                    e.with_side(if w.removed {
                        Side::Target
                    } else {
                        Side::Source
                    })
                })?
                .is_some_and(|t| moving.contains(&t))
        }
        "view" => !w.removed && !moving.renaming.is_empty(),
        _ => false,
    })
}

/// Whether `w`, an index, constraint or trigger gone from the source, went with its table: the
/// table it belongs to on the target no longer exists on the source under that name (dropped,
/// or renamed), so the table's own step takes it, whenever that step's turn comes. Dropping it
/// by itself first would be refused for a partition's (its index belongs to the parent's:
/// 2BP01; its constraint is inherited: 42P16) and would stop the replication, and the check
/// that reads the drop of the table may come after the one that reads its parts gone. A name
/// that does not split into an existing target table is never taken for one.
async fn removed_with_its_table(src: &Session, tgt: &Session, w: &Wanted) -> Result<bool> {
    let on_target = |e: Error| e.with_side(Side::Target);
    let table = match w.kind {
        "index" => owning_table(tgt, "index", &w.identity)
            .await
            .map_err(on_target)?,
        "constraint" | "trigger" | "policy" | "rule" => {
            w.identity.rsplit_once('.').map(|(t, _)| t.to_owned())
        }
        _ => None,
    };
    let Some(table) = table else {
        return Ok(false);
    };
    if object_oid(tgt, "table", &table)
        .await
        .map_err(on_target)?
        .is_none()
    {
        return Ok(false);
    }
    Ok(object_oid(src, "table", &table)
        .await
        .map_err(|e| e.with_side(Side::Source))?
        .is_none())
}

/// What creates one object on the target.
enum Built<'a> {
    /// What the schema reader built for it (and the parts that attach it).
    Objects(Vec<&'a SchemaObject>),
    /// A constraint the reader writes inside its table's `CREATE TABLE`: added by itself.
    Sql(String),
    /// Gone from the source meanwhile.
    Nothing,
}

/// The catalog the schema reader names an object of `kind` by.
fn class_of(kind: &str) -> u32 {
    match kind {
        "function" => class::PG_PROC,
        "constraint" => class::PG_CONSTRAINT,
        "trigger" => class::PG_TRIGGER,
        "policy" => class::PG_POLICY,
        "rule" => class::PG_REWRITE,
        "statistics" => class::PG_STATISTIC_EXT,
        _ => class::PG_CLASS,
    }
}

async fn built_for<'a>(
    src: &Session,
    schema: &'a [SchemaObject],
    kind: &str,
    identity: &str,
) -> Result<Built<'a>> {
    let (oid, inline) = match kind {
        "constraint" | "trigger" | "policy" | "rule" => {
            match on_table(src, kind, identity).await? {
                Some(c) => {
                    let inline = format!(
                        "ALTER TABLE {} ADD CONSTRAINT {} {}",
                        c.table,
                        quote_ident(&c.name),
                        c.definition
                    );
                    (c.oid, (kind == "constraint").then_some(inline))
                }
                None => return Ok(Built::Nothing),
            }
        }
        _ => match object_oid(src, kind, identity).await? {
            Some(oid) => (oid, None),
            None => return Ok(Built::Nothing),
        },
    };
    let id = ObjId::new(class_of(kind), oid);
    let mut taken: HashSet<ObjId> = HashSet::from([id]);
    let mut out: Vec<&SchemaObject> = schema.iter().filter(|o| o.id == id).collect();
    if out.is_empty() {
        return Ok(match inline {
            Some(sql) => Built::Sql(sql),
            None => Built::Nothing,
        });
    }
    // A partitioned table's index comes with its attachments to the partitions' indexes.
    for o in schema {
        if o.kind == ObjectKind::IndexAttach && o.depends_on.iter().any(|d| taken.contains(d)) {
            taken.insert(o.id);
            out.push(o);
        }
    }
    Ok(Built::Objects(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drift_entries_are_created_functions_first_and_dropped_triggers_first() {
        let drift: Vec<String> = [
            "table public.t changed",
            "trigger public.t.tr added",
            "index public.i added",
            "function public.f(integer) added",
            "view public.v changed",
            "function public.g() removed",
            "trigger public.t.old removed",
            "constraint public.t.\"c.d\" added",
            "sequence public.s added",
            "sequence public.gone removed",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let got: Vec<(String, bool)> = wanted(&drift)
            .into_iter()
            .map(|w| (w.key(), w.removed))
            .collect();
        assert_eq!(
            got,
            vec![
                ("sequence public.s".to_owned(), false),
                ("function public.f(integer)".to_owned(), false),
                ("view public.v".to_owned(), false),
                ("index public.i".to_owned(), false),
                ("constraint public.t.\"c.d\"".to_owned(), false),
                ("trigger public.t.tr".to_owned(), false),
                ("trigger public.t.old".to_owned(), true),
                ("function public.g()".to_owned(), true),
            ]
        );
    }
}
