//! Tables and sequences renamed or dropped on the source while it replicates, partitions
//! detached, and sequences whose options changed (`ALTER SEQUENCE ... INCREMENT BY`), applied
//! to the target ([`super::follow`] does the columns, [`super::follow_objects`] the other
//! objects, [`super::adopt`] the new tables).
//!
//! A rename is told from a drop and a creation by the relation's OID on the source, which the
//! schema-drift fingerprint keeps ([`super::Fingerprint::renames`]): the target's table is
//! renamed (`ALTER TABLE ... RENAME TO`, `SET SCHEMA` when it moved) and keeps its rows. The
//! publication and the subscription follow by themselves: a `FOR TABLE` publication lists the
//! table by OID, the subscription's tables (`pg_subscription_rel`) are the target's OIDs, and
//! the apply worker finds a table by the name the source sends. Rows from before the rename
//! need the old name and rows after it the new one, so a table's rename goes as a renamed
//! column does ([`When::WhenStuck`]): when the worker stops on a row that needs it, or when
//! the target caught up. A sequence carries no rows: renamed at once.
//!
//! A table dropped on the source is dropped on the target only once every row committed
//! before the drop is applied ([`When::InSync`], or the gate's `ripe`): the source's WAL
//! position read after the drop was seen is confirmed by the subscription. Its indexes,
//! constraints, triggers and owned sequences go with it (the caller leaves their own drift
//! entries alone meanwhile, see [`Moving`]). On the source, `DROP TABLE` took the table out of
//! a `FOR TABLE` publication; on the target, `DROP TABLE` takes it out of the subscription, and
//! the caller refreshes the subscription (`REFRESH PUBLICATION`) so that both agree. A
//! sequence dropped on the source goes after the tables (a column of a table dropped with it
//! may still use it); one a target column still owns goes with that column. A sequence whose
//! options changed takes the source's value with them: new bounds may exclude the target's.
//!
//! A partition dropped on the source while its partitioned table is replicated goes the same
//! way (the subscription lists the partition, its root when the publication publishes
//! through it, or only its siblings after a refresh). A partition detached on the source is
//! detached on the target (`ALTER TABLE ... DETACH PARTITION`) once the rows before the detach
//! are applied, then the subscription is refreshed: a `FOR ALL TABLES` publication publishes the table by itself
//! from then on, with nothing to copy; a `FOR TABLE` list that names the partitioned table no
//! longer holds it, so it is published by itself ([`super::adopt`]) and copied again (emptied
//! on the target in the detach's transaction: rows written to it on the source after its
//! detach were published by no publication until then).
//!
//! A table attached as a partition on the source (`ALTER TABLE ... ATTACH PARTITION`) is
//! attached on the target, with the source's bound, once the rows before the attach are
//! applied (a row the source deleted before attaching may not fit the bound): its rows keep
//! arriving under its own name before and after (partitions are published as themselves), and
//! a `FOR TABLE` list that names it still does, so the subscription needs nothing more. What
//! the attach gives the partition on the source (the partitioned table's indexes, foreign keys
//! and triggers, cloned or matched) the target's attach gives it alike: its drift entries are
//! left alone until then ([`Moving::attaching`]), and followed after it like any other.
//!
//! Nothing is dropped with `CASCADE`: an object only the target has that depends on the table
//! makes the target refuse the drop, and the replication stops naming it.

use std::collections::{BTreeMap, BTreeSet};

use crate::catalog::relations::Sequence;
use crate::catalog::replication::drift_objects::{
    object_oid, owning_table, partition_of, partition_parent, relation_name, sequence_options,
};
use crate::catalog::replication::state::subscription_has_table;
use crate::conn::Session;
use crate::error::{Error, Result, Side};
use crate::schema::relations::alter_sequence;
use crate::sql::{qualified, quote_ident, quote_literal};

use super::follow::{Change, Followed, Gate, When, apply};

/// `table public.t` -> (`table`, `public.t`).
fn split_key(key: &str) -> Option<(&str, &str)> {
    key.split_once(' ')
}

/// The tables (as `regclass` writes them) whose own objects (indexes, constraints, triggers,
/// owned sequences) come and go with the table while its rename or drop is not yet applied
/// on the target: [`super::follow_objects`] leaves their drift entries alone meanwhile, and
/// [`super::adopt`] does not take a renamed table for a new one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Moving {
    /// Both names of each table renamed on the source whose rename the target has not taken.
    pub renaming: BTreeSet<String>,
    /// Tables dropped on the source that the target still has.
    pub dropping: BTreeSet<String>,
    /// Partitions detached on the source that the target still has attached, with the
    /// target's partitioned table: their detach turns their inherited constraints into their own.
    pub detaching: BTreeMap<String, String>,
    /// Tables attached as partitions on the source that the target still has as tables of
    /// their own: the partition -> (the partitioned table, the bound).
    pub attaching: BTreeMap<String, (String, String)>,
}

impl Moving {
    /// Whether the object of `kind` and `identity` (a constraint or trigger named
    /// `table.name`) belongs to a table that is moving.
    pub fn holds(&self, identity: &str) -> bool {
        self.renaming
            .iter()
            .chain(&self.dropping)
            .chain(self.detaching.keys())
            .chain(self.attaching.keys())
            .any(|t| identity.starts_with(&format!("{t}.")))
    }

    /// Whether `table` is moving.
    pub fn contains(&self, table: &str) -> bool {
        self.renaming.contains(table)
            || self.dropping.contains(table)
            || self.detaching.contains_key(table)
            || self.attaching.contains_key(table)
    }
}

/// The tables that drift entries `table X<suffix>` name (`suffix`: ` removed`, ` changed`).
fn tables_in<'a>(drift: &'a [String], suffix: &'a str) -> impl Iterator<Item = &'a str> {
    drift
        .iter()
        .filter_map(move |d| d.strip_prefix("table ")?.strip_suffix(suffix))
}

/// Whether the target has the relation `identity`.
async fn on_target(tgt: &Session, identity: &str) -> Result<bool> {
    Ok(object_oid(tgt, "table", identity).await?.is_some())
}

/// The statements that move the target's relation of `kind` named `from` (schema, name,
/// unquoted) to the source's `to`: `SET SCHEMA`, then `RENAME TO`.
fn rename_sql(kind: &str, from: (&str, &str), to: (&str, &str)) -> String {
    let verb = if kind == "sequence" {
        "ALTER SEQUENCE"
    } else {
        "ALTER TABLE"
    };
    let mut out = Vec::new();
    if from.0 != to.0 {
        out.push(format!(
            "{verb} {} SET SCHEMA {}",
            qualified(from.0, from.1),
            quote_ident(to.0)
        ));
    }
    if from.1 != to.1 {
        out.push(format!(
            "{verb} {} RENAME TO {}",
            qualified(to.0, from.1),
            quote_ident(to.1)
        ));
    }
    out.join("; ")
}

/// Renames on the target the tables and sequences `renamed` on the source (`(key then, key
/// now)`, see the module docs). Returns what was done and the tables still [`Moving`].
pub async fn follow_renames(
    src: &Session,
    tgt: &Session,
    renamed: &[(String, String)],
    gate: &Gate<'_>,
) -> Result<(Followed, Moving)> {
    let on_source = |e: Error| e.with_side(Side::Source);
    let on_target_side = |e: Error| e.with_side(Side::Target);
    let mut followed = Followed::default();
    let mut moving = Moving::default();
    for (from_key, to_key) in renamed {
        let (Some((kind, from)), Some((_, to))) = (split_key(from_key), split_key(to_key)) else {
            continue;
        };
        let has_from = on_target(tgt, from).await.map_err(on_target_side)?;
        let has_to = on_target(tgt, to).await.map_err(on_target_side)?;
        if has_to || !has_from {
            // Taken already, or the target never had it (a table created and renamed since:
            // [`super::adopt`] creates it under its new name).
            followed.level.insert(from_key.clone());
            followed.level.insert(to_key.clone());
            continue;
        }
        let Some(oid) = object_oid(src, "table", to).await.map_err(on_source)? else {
            continue; // renamed again or dropped since: the next check sees it
        };
        let Some((schema, name)) = relation_name(src, oid).await.map_err(on_source)? else {
            continue;
        };
        let Some((from_schema, from_name)) = relation_name(
            tgt,
            object_oid(tgt, "table", from)
                .await
                .map_err(on_target_side)?
                .unwrap_or(0),
        )
        .await
        .map_err(on_target_side)?
        else {
            continue;
        };
        let when = if kind == "table" {
            When::WhenStuck
        } else {
            When::Now
        };
        if !gate.admits(when, to_key) {
            followed.pending.push(when);
            followed.pending_objects.insert(to_key.clone());
            moving.renaming.insert(from.to_owned());
            moving.renaming.insert(to.to_owned());
            continue;
        }
        let change = Change {
            sql: rename_sql(kind, (&from_schema, &from_name), (&schema, &name)),
            describe: format!("{from_key} renamed to {to}"),
            when,
        };
        if apply(tgt, change, to_key, gate, &mut followed).await {
            followed.level.insert(from_key.clone());
            followed.level.insert(to_key.clone());
        } else {
            moving.renaming.insert(from.to_owned());
            moving.renaming.insert(to.to_owned());
        }
    }
    Ok((followed, moving))
}

/// The tables dropped on the source (drift entries `table X removed` that are no rename) that
/// the target still has and the subscription `subscription` replicates (a table the
/// migration left out, or the target's own of the same name, is not the replication's to
/// drop): [`Moving::dropping`]. `known`: the tables an earlier check found so (a refresh of
/// the subscription since, for a new table, took them out of it).
pub async fn dropping(
    tgt: &Session,
    subscription: &str,
    drift: &[String],
    renamed: &[(String, String)],
    known: &BTreeSet<String>,
) -> Result<BTreeSet<String>> {
    let mut out = BTreeSet::new();
    for table in tables_in(drift, " removed") {
        if renamed
            .iter()
            .any(|(from, _)| from.strip_prefix("table ") == Some(table))
        {
            continue;
        }
        if on_target(tgt, table).await?
            && (known.contains(table) || subscription_has_table(tgt, subscription, table).await?)
        {
            out.insert(table.to_owned());
        }
    }
    Ok(out)
}

/// The partitions the source detached from their partitioned table (drift entries `table X
/// changed`: a table of its own on the source, still a partition on the target), with the
/// target's partitioned table: [`Moving::detaching`]. One attached elsewhere since is left
/// (reported as drift).
pub async fn detaching(
    src: &Session,
    tgt: &Session,
    drift: &[String],
) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for table in tables_in(drift, " changed") {
        let Some(parent) = partition_parent(tgt, table)
            .await
            .map_err(|e| e.with_side(Side::Target))?
        else {
            continue;
        };
        let source = Side::Source;
        if object_oid(src, "table", table)
            .await
            .map_err(|e| e.with_side(source))?
            .is_some()
            && partition_parent(src, table)
                .await
                .map_err(|e| e.with_side(source))?
                .is_none()
        {
            out.insert(table.to_owned(), parent);
        }
    }
    Ok(out)
}

/// The tables the source attached as partitions (drift entries `table X changed`: a partition
/// on the source, a table of its own on the target, whose partitioned table the target has),
/// with the partitioned table and the bound: [`Moving::attaching`].
pub async fn attaching(
    src: &Session,
    tgt: &Session,
    drift: &[String],
) -> Result<BTreeMap<String, (String, String)>> {
    let mut out = BTreeMap::new();
    for table in tables_in(drift, " changed") {
        let Some((parent, bound)) = partition_of(src, table)
            .await
            .map_err(|e| e.with_side(Side::Source))?
        else {
            continue;
        };
        let target = Side::Target;
        if on_target(tgt, table)
            .await
            .map_err(|e| e.with_side(target))?
            && on_target(tgt, &parent)
                .await
                .map_err(|e| e.with_side(target))?
            && partition_parent(tgt, table)
                .await
                .map_err(|e| e.with_side(target))?
                .is_none()
        {
            out.insert(table.to_owned(), (parent, bound));
        }
    }
    Ok(out)
}

/// Attaches on the target the tables `attaching` (partition -> partitioned table, bound) once
/// every row committed before the attach is applied (see the module docs).
pub async fn follow_attaches(
    tgt: &Session,
    attaching: &BTreeMap<String, (String, String)>,
    gate: &Gate<'_>,
) -> Followed {
    let mut followed = Followed::default();
    for (table, (parent, bound)) in attaching {
        let sql = format!("ALTER TABLE {parent} ATTACH PARTITION {table} {bound}");
        let describe = format!("attached to {parent}");
        once_in_sync(tgt, table, sql, &describe, gate, &mut followed).await;
    }
    followed
}

/// Applies `sql`, which moves the target's table `table` (`describe`: what it does, after the
/// table's key), once every row committed before the source's move is applied; until then it
/// is held back (see the module docs).
async fn once_in_sync(
    tgt: &Session,
    table: &str,
    sql: String,
    describe: &str,
    gate: &Gate<'_>,
    followed: &mut Followed,
) {
    let key = format!("table {table}");
    if !gate.admits(When::InSync, &key) {
        followed.pending.push(When::InSync);
        followed.pending_objects.insert(key);
        return;
    }
    let change = Change {
        sql,
        describe: format!("{key} {describe}"),
        when: When::InSync,
    };
    if apply(tgt, change, &key, gate, followed).await {
        followed.level.insert(key);
    }
}

/// Detaches on the target the partitions `detaching` (partition -> partitioned table) once
/// every row committed before the detach is applied, as a drop waits (see the module docs).
/// `recopy`: the publication lists tables, so that a detached partition, no longer published
/// through its partitioned table, is published by itself (see [`super::adopt`]) and copied
/// again, which its rows written since the detach need: it is emptied in the same
/// transaction. Never `CASCADE`: a foreign key of another table makes the target refuse.
pub async fn follow_detaches(
    tgt: &Session,
    detaching: &BTreeMap<String, String>,
    recopy: bool,
    gate: &Gate<'_>,
) -> Followed {
    let mut followed = Followed::default();
    for (table, parent) in detaching {
        let mut sql = format!("ALTER TABLE {parent} DETACH PARTITION {table}");
        if recopy {
            sql.push_str(&format!("; TRUNCATE ONLY {table}"));
        }
        let describe = format!("detached from {parent}");
        once_in_sync(tgt, table, sql, &describe, gate, &mut followed).await;
    }
    followed
}

/// Drops on the target the tables `dropping` (once the gate admits it), then the sequences
/// dropped on the source, and gives the sequences changed on the source their options (see
/// the module docs). `drift`: the drift entries; `renamed`: as for [`follow_renames`].
pub async fn follow_drops_and_sequences(
    src: &Session,
    tgt: &Session,
    drift: &[String],
    dropping: &BTreeSet<String>,
    renamed: &[(String, String)],
    gate: &Gate<'_>,
) -> Result<Followed> {
    let on_target_side = |e: Error| e.with_side(Side::Target);
    let mut followed = Followed::default();
    for table in dropping {
        let sql = format!("DROP TABLE IF EXISTS {table}");
        once_in_sync(tgt, table, sql, "dropped", gate, &mut followed).await;
    }
    let is_rename = |key: &str| renamed.iter().any(|(a, b)| a == key || b == key);
    for d in drift {
        let Some(seq) = d.strip_prefix("sequence ") else {
            continue;
        };
        if let Some(identity) = seq.strip_suffix(" removed") {
            let key = format!("sequence {identity}");
            if is_rename(&key) {
                continue;
            }
            if !on_target(tgt, identity).await.map_err(on_target_side)? {
                followed.level.insert(key);
                continue;
            }
            if owning_table(tgt, "sequence", identity)
                .await
                .map_err(on_target_side)?
                .is_some()
            {
                // Goes with the column (or table) that owns it on the target.
                continue;
            }
            let change = Change {
                sql: format!("DROP SEQUENCE IF EXISTS {identity}"),
                describe: format!("{key} dropped"),
                when: When::Now,
            };
            if apply(tgt, change, &key, gate, &mut followed).await {
                followed.level.insert(key);
            }
        } else if let Some(identity) = seq.strip_suffix(" changed") {
            sequence_changed(src, tgt, identity, gate, &mut followed).await?;
        }
    }
    Ok(followed)
}

/// Gives the target's sequence `identity` the source's options, and the source's value read
/// in the same check (`RESTART WITH`, then `setval` for `is_called`): the target's value is
/// the one of the copy, which new bounds may exclude (`MINVALUE 1000` on a sequence at 10 on
/// the target), and `ALTER SEQUENCE` refuses bounds that exclude the current value, whereas the
/// source's value lies within them (the cut-over sets it again).
async fn sequence_changed(
    src: &Session,
    tgt: &Session,
    identity: &str,
    gate: &Gate<'_>,
    followed: &mut Followed,
) -> Result<()> {
    let key = format!("sequence {identity}");
    let Some(source) = sequence_options(src, identity)
        .await
        .map_err(|e| e.with_side(Side::Source))?
    else {
        return Ok(()); // gone since: the next check sees it
    };
    let Some(target) = sequence_options(tgt, identity)
        .await
        .map_err(|e| e.with_side(Side::Target))?
    else {
        return Ok(()); // not on the target: created by follow_objects
    };
    let differs = |a: &Sequence, b: &Sequence| {
        (
            &a.data_type,
            a.start,
            a.increment,
            a.min,
            a.max,
            a.cache,
            a.cycle,
        ) != (
            &b.data_type,
            b.start,
            b.increment,
            b.min,
            b.max,
            b.cache,
            b.cycle,
        )
    };
    if !differs(&source, &target) {
        followed.level.insert(key);
        return Ok(());
    }
    let change = Change {
        sql: sequence_sql(
            identity,
            &source,
            sequence_value(src, identity).await.ok().flatten(),
        ),
        describe: format!("{key} changed"),
        when: When::Now,
    };
    if apply(tgt, change, &key, gate, followed).await {
        followed.level.insert(key);
    }
    Ok(())
}

/// The source's `last_value` and `is_called` of the sequence `identity` (`None`: gone since).
/// An error (no `SELECT` on it) leaves the target's value as it is.
async fn sequence_value(src: &Session, identity: &str) -> Result<Option<(i64, bool)>> {
    let rows = src
        .query(
            &format!("SELECT last_value, is_called FROM {identity}"),
            &[],
        )
        .await
        .map_err(Error::from_pg)?;
    Ok(rows.first().map(|r| (r.get(0), r.get(1))))
}

/// `ALTER SEQUENCE` to the source's options `seq`, with the source's `value` when read (see
/// [`sequence_changed`]).
fn sequence_sql(identity: &str, seq: &Sequence, value: Option<(i64, bool)>) -> String {
    let alter = alter_sequence(identity, seq);
    match value {
        Some((last, called)) => format!(
            "{alter} RESTART WITH {last}; SELECT pg_catalog.setval({}, {last}, {called})",
            quote_literal(identity)
        ),
        None => alter,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rename_sets_the_schema_first_and_quotes_every_name() {
        assert_eq!(
            rename_sql("table", ("public", "a"), ("public", "b b")),
            "ALTER TABLE \"public\".\"a\" RENAME TO \"b b\""
        );
        assert_eq!(
            rename_sql("sequence", ("public", "s"), ("Other", "s")),
            "ALTER SEQUENCE \"public\".\"s\" SET SCHEMA \"Other\""
        );
        assert_eq!(
            rename_sql("table", ("public", "a.b"), ("x", "c")),
            "ALTER TABLE \"public\".\"a.b\" SET SCHEMA \"x\"; ALTER TABLE \"x\".\"a.b\" RENAME TO \"c\""
        );
    }

    #[test]
    fn a_changed_sequence_takes_the_source_value_with_its_new_bounds() {
        let seq = Sequence {
            data_type: "bigint".into(),
            start: 1000,
            increment: 1,
            min: 1000,
            max: 9_999,
            cache: 1,
            ..Sequence::default()
        };
        assert_eq!(
            sequence_sql("public.\"s'q\"", &seq, Some((1000, false))),
            "ALTER SEQUENCE public.\"s'q\" AS bigint START WITH 1000 INCREMENT BY 1 MINVALUE 1000 \
             MAXVALUE 9999 CACHE 1 NO CYCLE RESTART WITH 1000; \
             SELECT pg_catalog.setval('public.\"s''q\"', 1000, false)"
        );
        assert!(!sequence_sql("public.s", &seq, None).contains("RESTART"));
    }

    #[test]
    fn the_objects_of_a_moving_table_are_its_own_and_no_others() {
        let moving = Moving {
            renaming: BTreeSet::from(["public.a".to_owned()]),
            dropping: BTreeSet::from(["public.\"d.e\"".to_owned()]),
            detaching: BTreeMap::from([("public.p1".to_owned(), "public.p".to_owned())]),
            attaching: BTreeMap::from([(
                "public.p9".to_owned(),
                ("public.p".to_owned(), "DEFAULT".to_owned()),
            )]),
        };
        assert!(moving.holds("public.p1.p1_pkey"));
        assert!(moving.holds("public.p9.p9_pkey"));
        assert!(moving.contains("public.p9"));
        assert!(moving.contains("public.p1"));
        assert!(moving.holds("public.a.a_pkey"));
        assert!(moving.holds("public.\"d.e\".tr"));
        assert!(!moving.holds("public.ab.c"));
        assert!(!moving.holds("public.\"a.b\".c"));
    }
}
