//! Relations as schema objects: sequences, tables (plain, partitioned, foreign, typed), views,
//! materialized views, and their post-data companions (constraints, indexes, partition
//! attachments, triggers, rules, policies, extended statistics, materialized view refreshes).
//!
//! The catalog rows come from [`db_migrate_catalog::relations`] in a fixed number of queries; this
//! module only builds text, so everything below [`collect`] is pure and unit-tested.
//!
//! How the pieces are laid out (close to what pg_dump does, so a `pg_dump --schema-only` of the
//! target matches the source's):
//! - pre-data: `CREATE SEQUENCE` (all options explicit); `CREATE TABLE` with local columns
//!   (types, collations, defaults, identity and generated columns, NOT NULL) and validated CHECK
//!   constraints inline, `INHERITS`, `PARTITION BY`, `USING`, `WITH (...)`, followed by
//!   per-column `ALTER TABLE ONLY` statements (storage, compression, statistics, options,
//!   differences of inherited columns) and `REPLICA IDENTITY FULL|NOTHING`; partitions are
//!   created as standalone tables (every column and every validated CHECK, inherited or not) and
//!   attached by a separate [`ObjectKind::TableAttach`] object (`ALTER TABLE ONLY parent ATTACH
//!   PARTITION ...`), which also brings their columns and constraints to the state the server
//!   gives partitions; `ALTER SEQUENCE ... OWNED BY` is a separate
//!   [`ObjectKind::SequenceOwnedBy`]; views and materialized views (`WITH NO DATA`).
//! - post-data: PRIMARY KEY / UNIQUE / EXCLUDE (`ALTER TABLE ONLY ... ADD CONSTRAINT`), indexes
//!   (`pg_get_indexdef`, `ON ONLY` for partitioned tables), `ALTER INDEX ... ATTACH PARTITION`
//!   ([`ObjectKind::IndexAttach`]), NOT VALID CHECK (and PG18 NOT NULL) constraints, foreign
//!   keys, triggers (once, on the table they were created on), rules, row-level security and
//!   policies, extended statistics, and `REFRESH MATERIALIZED VIEW` for the materialized views populated in the
//!   source (skipped with a warning when its owner may not read what it reads).
//!
//! Objects that run after one table's data carry `table = Some(oid)`; everything that needs
//! several tables loaded (foreign keys, NOT VALID checks, which may reject rows of inheritance
//! children, refreshes, attachments, and anything on a partitioned table, which would reach its
//! partitions) carries `table = None` and runs at the end.
//!
//! Some objects have no catalog row of their own. They get identities on catalogs `pg_depend`
//! never mentions, keyed by the OID of the relation they concern (see [`synthetic`]).
//!
//! Tables, partitioned tables, materialized views, indexes and the indexes of PRIMARY KEY /
//! UNIQUE / EXCLUDE constraints carry their source tablespace ([`SchemaObject::tablespace`]);
//! the executor decides whether the target has it.
//!
//! This file holds the entry points ([`build`], [`build_split`]), the lookups every builder
//! shares (`Ctx`) and the small SQL helpers they all use; each kind of object has its own
//! file: `tables` (in named steps), `columns`, `sequences`, `views`, `indexes` (and extended
//! statistics), `constraints`, `triggers` (and rules), `policies`.

use std::collections::{HashMap, HashSet};

use super::model::{
    Alias, Collected, ObjId, ObjectKind, Privilege, SchemaObject, Section, acl_sql, class,
    comment_sql, owner_sql,
};
use db_migrate_catalog::relations::{
    Column, Constraint, Index, Policy, Relation, RelationCatalog, Rule, Sequence, Statistics,
    Trigger,
};
use db_migrate_conn::Session;
use db_migrate_core::error::Result;
use db_migrate_core::sql::{qualified, quote_ident, quote_literal};

mod columns;
mod constraints;
mod indexes;
mod inherit;
mod policies;
mod sequences;
mod tables;
mod triggers;
mod views;

use columns::*;
use constraints::*;
pub use indexes::*;
pub(crate) use inherit::is_inherit_link;
pub use policies::*;
pub use sequences::*;
use tables::*;
use triggers::*;
pub use views::*;

/// Identities of objects that have no catalog row of their own: `(catalog, OID of the relation
/// concerned)`, on catalogs whose rows never appear in `pg_depend`, so they cannot collide with
/// real objects or aliases.
pub mod synthetic {
    /// `pg_inherits`: partition attachments, keyed by the OID of the attached table or index.
    pub const ATTACH: u32 = 2611;
    /// `pg_sequence`: `ALTER SEQUENCE ... OWNED BY`, keyed by the sequence OID.
    pub const OWNED_BY: u32 = 2224;
    /// `pg_statistic`: `REFRESH MATERIALIZED VIEW`, keyed by the materialized view OID.
    pub const REFRESH: u32 = 2619;
    /// `pg_index`: `ENABLE` / `FORCE ROW LEVEL SECURITY`, keyed by the table OID.
    pub const ROW_SECURITY: u32 = 2610;
    /// `pg_attribute`: the `CREATE OR REPLACE VIEW` that gives a view in a loop its query
    /// after its stand-in, keyed by the view OID.
    pub const VIEW_QUERY: u32 = 1249;
}

/// Reads every relation of the session's database (see the module docs).
pub async fn collect(s: &Session) -> Result<Collected> {
    let cat = db_migrate_catalog::relations::read(s).await?;
    Ok(build(&cat))
}

/// Splits a stored `name=value` option.
fn split_option(opt: &str) -> (&str, &str) {
    opt.split_once('=').unwrap_or((opt, ""))
}

/// `"name"='value', ...` for `WITH (...)` / `SET (...)`, with an optional prefix (`toast`).
pub fn reloptions_list(options: &[String], prefix: Option<&str>) -> Vec<String> {
    options
        .iter()
        .map(|o| {
            let (k, v) = split_option(o);
            let key = match prefix {
                Some(p) => format!("{}.{}", quote_ident(p), quote_ident(k)),
                None => quote_ident(k),
            };
            format!("{key}={}", quote_literal(v))
        })
        .collect()
}

/// Options a server stores for itself, never set by a user, left out as pg_dump leaves them
/// out: Debian's PostgreSQL 15.20 security update records `pg_attver` in the `attoptions` of
/// every column it creates, and a server without that update refuses it by name.
pub const SERVER_SET_OPTIONS: &[&str] = &["pg_attver"];

/// `<alter> SET ("name"='value')`, one statement per option (with a prefix, `toast`, for the
/// TOAST table's), so that the target's refusal of one it does not know costs only that one
/// (see [`SchemaObject::options`]); options a server sets for itself are left out.
pub fn option_statements(alter: &str, options: &[String], prefix: Option<&str>) -> Vec<String> {
    let own: Vec<String> = options
        .iter()
        .filter(|o| !SERVER_SET_OPTIONS.contains(&split_option(o).0))
        .cloned()
        .collect();
    reloptions_list(&own, prefix)
        .into_iter()
        .map(|item| format!("{alter} SET ({item})"))
        .collect()
}

/// The storage parameters of a table or materialized view and of its TOAST table, one
/// statement each (pg_dump writes them into `CREATE ... WITH (...)`, where one parameter the
/// target does not know would refuse the whole table).
pub fn relation_options(rel: &Relation) -> Vec<String> {
    let alter = alter_only(rel);
    let mut out = option_statements(&alter, &rel.options, None);
    out.extend(option_statements(
        &alter,
        rel.toast_options(),
        Some("toast"),
    ));
    out
}

/// ` WITH (...)` for a relation's options (and its TOAST table's), or nothing.
pub fn with_clause(options: &[String], toast: &[String]) -> String {
    let mut items = reloptions_list(options, None);
    items.extend(reloptions_list(toast, Some("toast")));
    if items.is_empty() {
        String::new()
    } else {
        format!(" WITH ({})", items.join(", "))
    }
}

/// `OPTIONS ("name" 'value', ...)` for foreign-data options, or nothing.
pub fn generic_options(options: &[String]) -> String {
    if options.is_empty() {
        return String::new();
    }
    let items: Vec<String> = options
        .iter()
        .map(|o| {
            let (k, v) = split_option(o);
            format!("{} {}", quote_ident(k), quote_literal(v))
        })
        .collect();
    format!("OPTIONS ({})", items.join(", "))
}

fn object_kind(rel: &Relation) -> ObjectKind {
    match rel.kind {
        'f' => ObjectKind::ForeignTable,
        'v' => ObjectKind::View,
        'm' => ObjectKind::MaterializedView,
        'S' => ObjectKind::Sequence,
        _ => ObjectKind::Table,
    }
}

pub(super) fn qname(rel: &Relation) -> String {
    qualified(&rel.schema, &rel.name)
}

/// `ALTER TABLE ONLY "s"."t"` (or the keyword of the relation's kind, with ONLY where allowed).
pub(super) fn alter_only(rel: &Relation) -> String {
    match rel.kind {
        'f' => format!("ALTER FOREIGN TABLE ONLY {}", qname(rel)),
        'v' => format!("ALTER VIEW {}", qname(rel)),
        'm' => format!("ALTER MATERIALIZED VIEW {}", qname(rel)),
        'S' => format!("ALTER SEQUENCE {}", qname(rel)),
        _ => format!("ALTER TABLE ONLY {}", qname(rel)),
    }
}

/// `ALTER TABLE "s"."t"` without ONLY.
fn alter_plain(rel: &Relation) -> String {
    match rel.kind {
        'f' => format!("ALTER FOREIGN TABLE {}", qname(rel)),
        'v' => format!("ALTER VIEW {}", qname(rel)),
        'm' => format!("ALTER MATERIALIZED VIEW {}", qname(rel)),
        _ => format!("ALTER TABLE {}", qname(rel)),
    }
}

/// Whether one table's data load is what a post-data object on `rel` waits for; otherwise the
/// object runs at the end (partitioned tables reach all their partitions, views and
/// materialized views have no data load).
fn data_table(rel: &Relation) -> Option<u32> {
    (rel.kind == 'r').then_some(rel.oid)
}

fn rel_id(oid: u32) -> ObjId {
    ObjId::new(class::PG_CLASS, oid)
}

/// Lookups shared by the builders.
pub(super) struct Ctx<'a> {
    cat: &'a RelationCatalog,
    pub(super) rels: HashMap<u32, &'a Relation>,
    /// Identity sequences by `(table, attnum)`.
    identity: HashMap<(u32, i16), &'a Sequence>,
    /// Constraints by table.
    pub(super) constraints: HashMap<u32, Vec<&'a Constraint>>,
    /// PG18 not-null constraints by `(table, attnum)`.
    pub(super) not_null: HashMap<(u32, i16), &'a Constraint>,
    /// Index by OID.
    indexes: HashMap<u32, &'a Index>,
    /// Column defaults (`pg_attrdef`) and CHECK constraints (`pg_constraint`) split out of
    /// their table to break a dependency cycle (see [`build_split`]).
    split: HashSet<ObjId>,
    /// Inheritance children built through a stand-in parent ([`inherit`]).
    pub(super) stand_in: HashSet<u32>,
    /// Views whose query reads themselves, directly or through other views
    /// ([`looped_views`]): created as stand-ins first.
    pub(super) looped_views: HashSet<u32>,
}

impl<'a> Ctx<'a> {
    fn new(cat: &'a RelationCatalog, split: &HashSet<ObjId>) -> Self {
        let rels = cat.relations.iter().map(|r| (r.oid, r)).collect();
        let identity = cat
            .sequences
            .iter()
            .filter(|s| s.identity)
            .filter_map(|s| s.owned_by.as_ref().map(|(t, a, _)| ((*t, *a), s)))
            .collect();
        let mut constraints: HashMap<u32, Vec<&Constraint>> = HashMap::new();
        let mut not_null = HashMap::new();
        for c in &cat.constraints {
            constraints.entry(c.relid).or_default().push(c);
            if c.kind == 'n'
                && let Some(&a) = c.columns.first()
            {
                not_null.insert((c.relid, a), c);
            }
        }
        let indexes = cat.indexes.iter().map(|i| (i.oid, i)).collect();
        let mut ctx = Ctx {
            cat,
            rels,
            identity,
            constraints,
            not_null,
            indexes,
            split: split.clone(),
            stand_in: HashSet::new(),
            looped_views: looped_views(cat),
        };
        ctx.stand_in = cat
            .relations
            .iter()
            .filter(|r| inherit::needed(&ctx, r))
            .map(|r| r.oid)
            .collect();
        ctx
    }

    /// Whether `rel`'s columns take nothing from a real parent at creation (partitions are
    /// created standalone, stand-in children inherit from a stand-in of their own columns).
    fn standalone(&self, rel: &Relation) -> bool {
        rel.is_partition || self.stand_in.contains(&rel.oid)
    }

    /// Whether the column's default is created apart from its table.
    pub(super) fn default_is_split(&self, col: &Column) -> bool {
        col.default_oid
            .is_some_and(|ad| self.split.contains(&ObjId::new(class::PG_ATTRDEF, ad)))
    }

    /// Whether the CHECK constraint is created apart from its table.
    pub(super) fn check_is_split(&self, c: &Constraint) -> bool {
        self.split
            .contains(&ObjId::new(class::PG_CONSTRAINT, c.oid))
    }

    pub(super) fn columns(&self, relid: u32) -> &'a [Column] {
        self.cat
            .columns
            .get(&relid)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    pub(super) fn parents(&self, relid: u32) -> &'a [u32] {
        self.cat
            .parents
            .get(&relid)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// The column of the same name in the first parent that has it.
    fn parent_column(&self, relid: u32, name: &str) -> Option<&'a Column> {
        self.parents(relid)
            .iter()
            .find_map(|p| self.columns(*p).iter().find(|c| c.name == name))
    }
}

/// ACL and comment statements of a relation and its columns.
fn acl_and_comments(rel: &Relation, cols: &[Column], o: &mut SchemaObject) {
    let q = qname(rel);
    let target = if rel.kind == 'S' {
        format!("SEQUENCE {q}")
    } else {
        format!("TABLE {q}")
    };
    o.extend_acl(acl_sql(
        &target,
        &rel.owner,
        rel.acl.as_deref(),
        &rel.acl_default,
        None,
    ));
    for c in cols {
        if c.acl().is_some() {
            o.extend_acl(acl_sql(&target, &rel.owner, c.acl(), &[], Some(&c.name)));
        }
    }
    o.extend_comments(comment_sql(
        object_kind(rel).keyword(),
        &q,
        rel.comment.as_deref(),
    ));
    for c in cols {
        o.extend_comments(comment_sql(
            "COLUMN",
            &format!("{q}.{}", quote_ident(&c.name)),
            c.comment(),
        ));
    }
}

fn base_object(rel: &Relation, kind: ObjectKind, section: Section) -> SchemaObject {
    let mut o = SchemaObject::new(rel_id(rel.oid), kind, section, Some(&rel.schema), &rel.name);
    o.owner = Some(owner_sql(kind, &qname(rel), &rel.owner));
    o
}

fn row_type_aliases(rel: &Relation, out: &mut Collected) {
    for t in [rel.row_type, rel.row_array_type] {
        if t != 0 {
            out.aliases.push(Alias {
                alias: ObjId::new(class::PG_TYPE, t),
                target: rel_id(rel.oid),
            });
        }
    }
}

fn attrdef_aliases(ctx: &Ctx, rel: &Relation, cols: &[Column], out: &mut Collected) {
    for c in cols {
        if let Some(ad) = c.default_oid
            && !ctx.default_is_split(c)
        {
            out.aliases.push(Alias {
                alias: ObjId::new(class::PG_ATTRDEF, ad),
                target: rel_id(rel.oid),
            });
        }
    }
}

fn tag(rel: &Relation, name: &str) -> String {
    format!("{} {name}", rel.name)
}

/// Turns the catalog rows into schema objects (see the module docs).
pub fn build(cat: &RelationCatalog) -> Collected {
    build_split(cat, &HashSet::new())
}

/// Like [`build`], with the column defaults (`pg_attrdef` identities) and CHECK constraints
/// (`pg_constraint` identities) of `split` left out of their tables' `CREATE TABLE` and made
/// objects of their own ([`ObjectKind::TablePart`], keeping the catalog row's identity so that
/// its `pg_depend` rows order it): `ALTER TABLE ONLY ... ALTER COLUMN ... SET DEFAULT` in
/// pre-data, `ALTER TABLE ... ADD CONSTRAINT ... CHECK` in post-data, as pg_dump does when such
/// a part closes a dependency cycle (see [`super::graph::cycle_parts`]).
pub fn build_split(cat: &RelationCatalog, split: &HashSet<ObjId>) -> Collected {
    let ctx = Ctx::new(cat, split);
    let mut out = Collected::default();
    let sequences: HashMap<u32, &Sequence> = cat.sequences.iter().map(|s| (s.oid, s)).collect();
    for rel in &cat.relations {
        match rel.kind {
            'r' | 'p' | 'f' => build_table(&ctx, rel, &mut out),
            'v' | 'm' => build_view(&ctx, rel, &mut out),
            'S' => {
                if let Some(seq) = sequences.get(&rel.oid) {
                    build_sequence(&ctx, rel, seq, &mut out);
                }
            }
            _ => {}
        }
    }
    build_refreshes(&ctx, &mut out);
    build_indexes(&ctx, &mut out);
    build_constraints(&ctx, &mut out);
    build_triggers(&ctx, &mut out);
    build_rules(&ctx, &mut out);
    build_policies(&ctx, &mut out);
    build_statistics(&ctx, &mut out);
    out
}

#[cfg(test)]
mod tests;
