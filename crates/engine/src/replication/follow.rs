//! Column changes made on the source while it replicates, applied to the target.
//!
//! Logical replication carries no DDL, and its apply worker matches columns by name: after an
//! `ALTER TABLE ... ADD COLUMN` on the source, every change of that table stops the worker
//! ("target relation is missing replicated column"), and with it every later change of every
//! table, until the target has the column. The tool we replace lists this as its open problem.
//! So while a run waits for the lag (the run that sets replication up when it waits, and the
//! cut-over run, before it waits), the tables' columns are compared with the source's every few
//! seconds, when the schema-drift fingerprint shows a table changed, and the target is brought
//! level, one statement per change so that one refusal does not hold back the others:
//!
//! - a column added: `ADD COLUMN` with its type, collation, default or generation expression
//!   and `NOT NULL` (rows copied before the change get the default, as the source's did);
//! - a column dropped: `DROP COLUMN` (the worker would otherwise insert NULL into it, or fail on
//!   `NOT NULL`);
//! - a column renamed (one column gone and one new, of the same type): `RENAME COLUMN`, which
//!   keeps its data;
//! - a type changed: `ALTER COLUMN ... TYPE ... USING column::type`, where the target can
//!   convert; a default or `NOT NULL` changed: set as on the source.
//!
//! Partitions and inheritance children follow their parent (the target's `ALTER` recurses as the
//! source's did), so they are compared after the parents' changes are in. Tables created on the
//! source are brought in by [`super::adopt`]. What this cannot do, the refusal of a statement,
//! is a warning naming the table and the statement, and the drift stays reported.

use std::collections::{BTreeMap, BTreeSet};

use crate::catalog::replication::columns::{ColumnShape, TableColumns, enum_labels, table_columns};
use crate::conn::Session;
use crate::error::{Error, Result, Side};
use crate::sql::{qualified, quote_ident, quote_literal};
use crate::warning::Warning;

use super::follow_backfill::{Backfill, needs_backfill};

/// When a change may be applied: the apply worker still has to apply the changes made before
/// the DDL on the source, in the columns they were made in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum When {
    /// At once: it only widens what the target accepts (a column added, a type changed,
    /// `DROP NOT NULL`), so changes from before and after the DDL both apply.
    Now,
    /// A rename: changes from before it need the old name, changes after it the new one. It is
    /// applied when the worker stops moving (it waits on the first change that needs the new
    /// name, so everything before is in), or once in sync.
    WhenStuck,
    /// What would refuse changes from before the DDL (`DROP COLUMN`, `SET NOT NULL`), or give
    /// them another value than the source did (a column's default, which rows from before
    /// the column take): once the target has caught up with the source.
    InSync,
}

/// One statement that brings a target table's columns level with the source's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub sql: String,
    /// For the log and warnings: `column "w" added to public.t`.
    pub describe: String,
    pub when: When,
}

/// One change of the source's schema applied on the target during replication, for the
/// report: what, the statement, when the check first saw the object changed on the source
/// and when the target took it (Unix seconds). A change the target refused, which stops the
/// replication, is listed too (`refused`, with the server's SQLSTATE and reason; its
/// `applied_unix_seconds` is when it was tried), so that the report of a stopped run says
/// what was applied before it and what is left to apply by hand, not only its message.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SchemaChangeApplied {
    /// `column w added of public.t`, `index public.i created`...
    pub change: String,
    pub statement: String,
    pub seen_unix_seconds: f64,
    pub applied_unix_seconds: f64,
    /// The target refused it: the replication stopped on it.
    pub refused: bool,
    /// The refusal's SQLSTATE (`22P02`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sqlstate: Option<String>,
    /// The server's reason for the refusal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl SchemaChangeApplied {
    /// A change the target took: `statement`, seen at `seen`, applied now.
    pub fn applied(change: String, statement: String, seen: f64) -> Self {
        SchemaChangeApplied {
            change,
            statement,
            seen_unix_seconds: seen,
            applied_unix_seconds: unix_now(),
            refused: false,
            sqlstate: None,
            reason: None,
        }
    }
}

/// The object a drift entry names: `table public.t` of `table public.t changed`.
pub fn object_of(drift: &str) -> &str {
    [" added", " changed", " removed"]
        .iter()
        .find_map(|s| drift.strip_suffix(s))
        .unwrap_or(drift)
}

/// Now, in Unix seconds.
pub fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default()
}

/// Which changes one check may apply: those that may go `until` now (see [`When`]), and any
/// change of an object in `ripe`, whose rows from before the change the target has applied
/// (the source's WAL position read after the change was first seen is confirmed by the
/// subscription). `seen`: when each object (`table public.t`, `index public.i`) was first seen
/// changed on the source.
#[derive(Debug, Clone, Copy)]
pub struct Gate<'a> {
    pub until: When,
    pub ripe: &'a BTreeSet<String>,
    pub seen: &'a BTreeMap<String, f64>,
}

impl Gate<'_> {
    pub fn admits(&self, when: When, object: &str) -> bool {
        when <= self.until || self.ripe.contains(object)
    }
}

/// What [`follow_columns`] and [`super::follow_objects::follow_objects`] did.
#[derive(Debug, Clone, Default)]
pub struct Followed {
    /// The changes applied.
    pub applied: Vec<SchemaChangeApplied>,
    /// Objects (`table public.t` as `regclass` writes it, `type public.mood`, `index public.i`)
    /// that are now the source's.
    pub level: BTreeSet<String>,
    /// Changes the target refused: the replication stops on them (the apply worker would wait
    /// on them for ever), naming the object, the statement and the server's reason.
    pub refused: Vec<Warning>,
    /// The same refusals as report entries (see [`SchemaChangeApplied::refused`]).
    pub refused_changes: Vec<SchemaChangeApplied>,
    /// The server's SQLSTATE of the first refusal, for the error that stops the replication.
    pub refused_sqlstate: Option<crate::error::SqlState>,
    /// Anything else worth the operator's reading (an owner the target user could not keep).
    pub warnings: Vec<Warning>,
    /// When the changes held back may be applied.
    pub pending: Vec<When>,
    /// The objects whose changes are held back.
    pub pending_objects: BTreeSet<String>,
    /// Post-data objects applied, with the source's definition then: the same definition seen
    /// again is level even when the target's server deparses it another way.
    pub memo: BTreeMap<String, String>,
    /// Columns added whose older rows are to take the source's values (see
    /// [`super::follow_backfill`]).
    pub backfills: Vec<Backfill>,
}

impl Followed {
    pub fn merge(&mut self, other: Followed) {
        self.applied.extend(other.applied);
        self.level.extend(other.level);
        for w in other.warnings {
            if !self.warnings.iter().any(|x| x.message == w.message) {
                self.warnings.push(w);
            }
        }
        self.refused.extend(other.refused);
        self.refused_changes.extend(other.refused_changes);
        if self.refused_sqlstate.is_none() {
            self.refused_sqlstate = other.refused_sqlstate;
        }
        self.pending.extend(other.pending);
        self.pending_objects.extend(other.pending_objects);
        self.memo.extend(other.memo);
        self.backfills.extend(other.backfills);
    }

    /// The changes applied, described with how long after they were seen, for the run's
    /// message.
    pub fn described(&self) -> Vec<String> {
        self.applied
            .iter()
            .map(|a| {
                format!(
                    "{} ({:.1} s after it was seen)",
                    a.change,
                    a.applied_unix_seconds - a.seen_unix_seconds
                )
            })
            .collect()
    }
}

/// The column definition as `ADD COLUMN` takes it. A column whose rows from before it read a
/// value of their own on the source ([`ColumnShape::missing`]) is added with that value as its
/// default, so that the target's copies of those rows, and the rows from before the source's
/// `ADD COLUMN` still in flight, read the same (`DEFAULT now()` evaluated on the target,
/// seconds later, would not); its own default is set once those rows are in (a later check's
/// `SET DEFAULT`, see `alterations`).
fn column_sql(c: &ColumnShape) -> String {
    let mut sql = format!("{} {}", quote_ident(&c.name), c.type_sql);
    if let Some(coll) = &c.collation {
        sql.push_str(&format!(" COLLATE {coll}"));
    }
    match (&c.default, c.generated, &c.missing) {
        (Some(e), true, _) => sql.push_str(&format!(" GENERATED ALWAYS AS ({e}) STORED")),
        (Some(_), false, Some(m)) => {
            sql.push_str(&format!(" DEFAULT {}::{}", quote_literal(m), c.type_sql))
        }
        (Some(e), false, None) => sql.push_str(&format!(" DEFAULT {e}")),
        (None, _, _) => {}
    }
    if c.not_null {
        sql.push_str(" NOT NULL");
    }
    sql
}

/// The report's name of column `name` added to table `regclass`.
fn added_change(name: &str, regclass: &str) -> String {
    format!("column {name} added of {regclass}")
}

/// A rename is told from a drop and an add by position: `ADD COLUMN` always appends, so a new
/// name placed before a column both sides have is a renamed column, namely the target's column
/// that follows the same common column (retyped too, when the types differ). A new name at the
/// end is added, except when it is the only one and one column of its type is gone from the same
/// place: that is taken as a rename, which keeps the data.
pub fn column_changes(src: &TableColumns, tgt: &TableColumns) -> Vec<Change> {
    let table = qualified(&src.schema, &src.name);
    let alter = |rest: String| format!("ALTER TABLE {table} {rest}");
    let on = |what: String| format!("{what} of {}", src.regclass);
    let has = |cols: &[ColumnShape], name: &str| cols.iter().any(|c| c.name == name);
    // The last column both sides have before position `i` of `cols`.
    let anchor = |cols: &[ColumnShape], i: usize| {
        cols[..i]
            .iter()
            .rev()
            .find(|c| has(&src.columns, &c.name) && has(&tgt.columns, &c.name))
            .map(|c| c.name.clone())
    };
    let added: Vec<(usize, &ColumnShape)> = (src.columns.iter().enumerate())
        .filter(|(_, c)| !has(&tgt.columns, &c.name))
        .collect();
    let mut removed: Vec<(usize, &ColumnShape)> = (tgt.columns.iter().enumerate())
        .filter(|(_, c)| !has(&src.columns, &c.name))
        .collect();
    let trailing = |i: usize| {
        !src.columns[i + 1..]
            .iter()
            .any(|c| has(&tgt.columns, &c.name))
    };
    let trailing_added = added.iter().filter(|(i, _)| trailing(*i)).count();
    let mut out = Vec::new();
    let mut adds = Vec::new();
    for (i, a) in &added {
        let place = anchor(&src.columns, *i);
        let same_place = |(j, _): &(usize, &ColumnShape)| anchor(&tgt.columns, *j) == place;
        let pick = if trailing(*i) {
            (trailing_added == 1 && removed.len() == 1)
                .then(|| {
                    removed
                        .iter()
                        .position(|r| same_place(r) && r.1.type_sql == a.type_sql)
                })
                .flatten()
        } else {
            (removed
                .iter()
                .position(|r| same_place(r) && r.1.type_sql == a.type_sql))
            .or_else(|| removed.iter().position(same_place))
        };
        let Some(k) = pick.filter(|k| removed[*k].1.generated == a.generated) else {
            adds.push(*a);
            continue;
        };
        let (_, r) = removed.remove(k);
        out.push(Change {
            sql: alter(format!(
                "RENAME COLUMN {} TO {}",
                quote_ident(&r.name),
                quote_ident(&a.name)
            )),
            describe: on(format!("column {} renamed to {}", r.name, a.name)),
            when: When::WhenStuck,
        });
        // The renamed column may differ in more than its name: those changes go with it.
        let renamed = ColumnShape {
            name: a.name.clone(),
            ..r.clone()
        };
        out.extend(
            alterations(&table, &src.regclass, a, &renamed)
                .into_iter()
                .map(|c| Change {
                    when: c.when.max(When::WhenStuck),
                    ..c
                }),
        );
    }
    for (_, r) in removed {
        // Rows written after the drop lack the column: a NOT NULL without a default would
        // refuse them until the drop is applied, and the drop waits for the rows before it.
        if r.not_null && r.default.is_none() && !r.generated {
            out.push(Change {
                sql: alter(format!(
                    "ALTER COLUMN {} DROP NOT NULL",
                    quote_ident(&r.name)
                )),
                describe: on(format!("column {} made nullable before its drop", r.name)),
                when: When::Now,
            });
        }
        out.push(Change {
            sql: alter(format!("DROP COLUMN {}", quote_ident(&r.name))),
            describe: on(format!("column {} dropped", r.name)),
            when: When::InSync,
        });
    }
    for a in adds {
        out.push(Change {
            sql: alter(format!("ADD COLUMN {}", column_sql(a))),
            describe: added_change(&a.name, &src.regclass),
            when: When::Now,
        });
    }
    for s in &src.columns {
        if let Some(t) = tgt.columns.iter().find(|t| t.name == s.name) {
            out.extend(alterations(&table, &src.regclass, s, t));
        }
    }
    out
}

/// `ALTER TYPE ... ADD VALUE` for each label of the source's enum `ty` the target's lacks, placed
/// after the label it follows on the source (or before the first). Always additive: rows with
/// the new value can only come after it was added on the source.
pub fn enum_changes(ty: &str, source: &[String], target: &[String]) -> Vec<Change> {
    let mut out = Vec::new();
    for (i, label) in source.iter().enumerate() {
        if target.contains(label) {
            continue;
        }
        let place = match i {
            0 => source
                .get(1)
                .map(|next| format!(" BEFORE {}", quote_literal(next)))
                .unwrap_or_default(),
            _ => format!(" AFTER {}", quote_literal(&source[i - 1])),
        };
        out.push(Change {
            sql: format!(
                "ALTER TYPE {ty} ADD VALUE IF NOT EXISTS {}{place}",
                quote_literal(label)
            ),
            describe: format!("value {label} added to enum {ty}"),
            when: When::Now,
        });
    }
    out
}

/// Whether every value of type `from` (as `format_type` writes it) is a value of type `to`
/// written the same way, so that rows from before and after the change both apply.
fn widens(from: &str, to: &str) -> bool {
    let rank = |t: &str| match t {
        "smallint" => Some(0),
        "integer" => Some(1),
        "bigint" => Some(2),
        "numeric" => Some(3),
        _ => None,
    };
    let length = |t: &str, prefix: &str| -> Option<Option<u32>> {
        let rest = t.strip_prefix(prefix)?;
        if rest.is_empty() {
            return Some(None);
        }
        rest.strip_prefix('(')?
            .strip_suffix(')')?
            .parse()
            .ok()
            .map(Some)
    };
    if to == "text" {
        return true;
    }
    if let (Some(a), Some(b)) = (rank(from), rank(to)) {
        return a <= b;
    }
    if from == "real" && to == "double precision" {
        return true;
    }
    if from.starts_with("numeric(") && to == "numeric" {
        return true;
    }
    match (
        length(from, "character varying"),
        length(to, "character varying"),
    ) {
        (Some(_), Some(None)) => true,
        (Some(Some(a)), Some(Some(b))) => a <= b,
        _ => false,
    }
}

/// The changes of one column present on both sides: type, default, `NOT NULL`.
fn alterations(table: &str, regclass: &str, s: &ColumnShape, t: &ColumnShape) -> Vec<Change> {
    let col = quote_ident(&s.name);
    let alter = |rest: String| format!("ALTER TABLE {table} ALTER COLUMN {col} {rest}");
    let on = |what: &str| format!("column {} {what} of {regclass}", s.name);
    let mut out = Vec::new();
    if s.generated || t.generated {
        // A generation expression cannot be altered in place before PostgreSQL 17; the drift
        // stays reported when it differs.
        return out;
    }
    if s.type_sql != t.type_sql || s.collation != t.collation {
        let collate = s
            .collation
            .as_ref()
            .map(|c| format!(" COLLATE {c}"))
            .unwrap_or_default();
        out.push(Change {
            sql: alter(format!(
                "TYPE {ty}{collate} USING {col}::{ty}",
                ty = s.type_sql
            )),
            describe: on(&format!("changed to type {}", s.type_sql)),
            // A widening takes the rows from before it and after it alike. Anything else may
            // refuse (or cut) a row still in flight: applied once the rows before it are in,
            // or when the worker stops on a row of the new type.
            when: if widens(&t.type_sql, &s.type_sql) && s.collation == t.collation {
                When::Now
            } else {
                When::WhenStuck
            },
        });
    }
    if s.default != t.default {
        out.push(Change {
            sql: match &s.default {
                Some(e) => alter(format!("SET DEFAULT {e}")),
                None => alter("DROP DEFAULT".into()),
            },
            describe: on("given the source's default"),
            // Only rows from before the column was added lack it, and take the target's
            // default when they are applied: a column added with the value its older rows read
            // on the source as its default (see `column_sql`) keeps it until they are in. Held
            // back whatever the source's column shows now: a later rewrite of the source's
            // table (another column's volatile default, a type change) clears that value there,
            // not on the target. A column whose rows are all in has no use for its default
            // before then either.
            when: When::InSync,
        });
    }
    if s.not_null != t.not_null {
        out.push(Change {
            sql: alter(
                if s.not_null {
                    "SET NOT NULL"
                } else {
                    "DROP NOT NULL"
                }
                .into(),
            ),
            describe: on(if s.not_null {
                "made NOT NULL"
            } else {
                "made nullable"
            }),
            when: if s.not_null { When::InSync } else { When::Now },
        });
    }
    out
}

/// Brings the columns of every table present on both sides level with the source's, applying
/// the changes the `gate` admits: parents first, then (read again) partitions and inheritance
/// children. `pending` in the result: changes held back.
pub async fn follow_columns(src: &Session, tgt: &Session, gate: &Gate<'_>) -> Result<Followed> {
    let on_source = |e: Error| e.with_side(Side::Source);
    let on_target = |e: Error| e.with_side(Side::Target);
    let mut followed = Followed::default();
    // Enum values first: a column or a row may need them.
    let target_enums = enum_labels(tgt).await.map_err(on_target)?;
    for (ty, labels) in enum_labels(src).await.map_err(on_source)? {
        let Some((_, have)) = target_enums.iter().find(|(t, _)| *t == ty) else {
            continue;
        };
        let mut level = true;
        for change in enum_changes(&ty, &labels, have) {
            level &= apply(tgt, change, &format!("type {ty}"), gate, &mut followed).await;
        }
        // Labels only the target has (PostgreSQL cannot drop one) are left; the drift stays
        // reported then.
        if level && have.iter().all(|h| labels.contains(h)) {
            followed.level.insert(format!("type {ty}"));
        }
    }
    let source = table_columns(src).await.map_err(on_source)?;
    for children in [false, true] {
        let target = table_columns(tgt).await.map_err(on_target)?;
        for s in source.iter().filter(|s| s.is_child == children) {
            let Some(t) = target.iter().find(|t| t.regclass == s.regclass) else {
                continue;
            };
            let mut level = true;
            let object = format!("table {}", s.regclass);
            let backfills: Vec<Backfill> = (s.columns.iter())
                .filter(|c| !t.columns.iter().any(|x| x.name == c.name))
                .filter_map(|c| needs_backfill(s, c))
                .collect();
            for change in column_changes(s, t) {
                if !gate.admits(change.when, &object) {
                    level = false;
                    followed.pending.push(change.when);
                    followed.pending_objects.insert(object.clone());
                    continue;
                }
                level &= apply(tgt, change, &object, gate, &mut followed).await;
            }
            // Those added now (not renamed into), for a later step once the rows from before
            // are in.
            for b in backfills {
                let added = added_change(&b.column, &s.regclass);
                if followed.applied.iter().any(|a| a.change == added) {
                    followed.backfills.push(b);
                }
            }
            if level {
                followed.level.insert(object);
            }
        }
    }
    Ok(followed)
}

/// Runs one change on the target; a refusal is recorded naming `object`, the statement and
/// the server's reason. Returns whether it was applied.
pub(super) async fn apply(
    tgt: &Session,
    change: Change,
    object: &str,
    gate: &Gate<'_>,
    followed: &mut Followed,
) -> bool {
    match tgt.batch_execute(&change.sql).await {
        Ok(()) => {
            tracing::info!("schema change followed on the target: {}", change.describe);
            let seen = gate.seen.get(object).copied().unwrap_or_else(unix_now);
            followed.applied.push(SchemaChangeApplied::applied(
                change.describe,
                change.sql,
                seen,
            ));
            true
        }
        Err(e) => {
            let tried = Tried {
                object,
                describe: &change.describe,
                sql: &change.sql,
                seen: gate.seen.get(object).copied().unwrap_or_else(unix_now),
            };
            refuse(followed, tried, &Error::from_pg(e));
            false
        }
    }
}

/// A change tried on the target, for [`refuse`]: the object (`table public.t`), what it was,
/// the statement, and when the check first saw the object changed (Unix seconds).
pub(super) struct Tried<'a> {
    pub object: &'a str,
    pub describe: &'a str,
    pub sql: &'a str,
    pub seen: f64,
}

/// Records a change the target refused: the object, what it was, the statement, the server's
/// reason and SQLSTATE, as the warning that stops the replication and as the report's entry.
pub(super) fn refuse(followed: &mut Followed, tried: Tried<'_>, e: &Error) {
    let Tried {
        object,
        describe,
        sql,
        seen,
    } = tried;
    followed.refused_changes.push(SchemaChangeApplied {
        refused: true,
        sqlstate: e.sqlstate().map(|c| c.code().to_owned()),
        reason: Some(e.message().to_owned()),
        ..SchemaChangeApplied::applied(describe.to_owned(), sql.to_owned(), seen)
    });
    let code = e
        .sqlstate()
        .map(|c| format!(" (SQLSTATE {})", c.code()))
        .filter(|c| !e.to_string().contains(c.as_str()))
        .unwrap_or_default();
    followed.refused.push(
        Warning::replication(format!(
            "the source's schema change could not be applied on the target ({describe}): \
             {e}{code}; statement: {sql}"
        ))
        .on(object.to_owned()),
    );
    if followed.refused_sqlstate.is_none() {
        followed.refused_sqlstate = e.sqlstate().cloned();
    }
}

/// The source's WAL position read for an object with changes held back: its changes may go
/// once the subscription confirmed `lsn`.
#[derive(Debug, Clone)]
pub struct Position {
    pub lsn: String,
    /// When it was read (Unix seconds, the clock of the following's `seen`).
    pub read_at: f64,
}

/// The objects with changes held back that need the source's WAL position read (again): those
/// held back for the first time, and those seen changed again since their position was read.
/// A position read before the latest change lies before rows written just ahead of it (a
/// column added `DEFAULT now()` right after another change of its table): waiting for it
/// would let the held-back change (the column's own default) go while those rows are still in
/// flight. A later position is always safe: it lies after every row the earlier one did.
pub fn unplaced(
    pending: &BTreeSet<String>,
    placed: &BTreeMap<String, Position>,
    seen: &BTreeMap<String, f64>,
) -> Vec<String> {
    pending
        .iter()
        .filter(|o| match placed.get(*o) {
            None => true,
            Some(p) => seen.get(*o).is_some_and(|&at| at > p.read_at),
        })
        .cloned()
        .collect()
}

#[cfg(test)]
#[path = "follow_tests.rs"]
mod tests;
