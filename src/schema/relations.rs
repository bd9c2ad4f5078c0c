//! Relations as schema objects: sequences, tables (plain, partitioned, foreign, typed), views,
//! materialized views, and their post-data companions (constraints, indexes, partition
//! attachments, triggers, rules, policies, extended statistics, materialized view refreshes).
//!
//! The catalog rows come from [`crate::catalog::relations`] in a fixed number of queries; this
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

use std::collections::{HashMap, HashSet};

use super::model::{
    Alias, Collected, ObjId, ObjectKind, Privilege, SchemaObject, Section, acl_sql, class,
    comment_sql, owner_sql,
};
use crate::catalog::relations::{
    Column, Constraint, Index, Policy, Relation, RelationCatalog, Rule, Sequence, Statistics,
    Trigger,
};
use crate::conn::Session;
use crate::error::Result;
use crate::sql::{qualified, quote_ident, quote_literal};

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
}

/// Reads every relation of the session's database (see the module docs).
pub async fn collect(s: &Session) -> Result<Collected> {
    let cat = crate::catalog::relations::read(s).await?;
    Ok(build(&cat))
}

// ---------------------------------------------------------------------------------------------
// Small pure builders

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

/// The options of a sequence, all explicit: `START WITH 1 INCREMENT BY 1 MINVALUE 1 ...`.
pub fn sequence_options(seq: &Sequence) -> String {
    format!(
        "START WITH {} INCREMENT BY {} MINVALUE {} MAXVALUE {} CACHE {}{}",
        seq.start,
        seq.increment,
        seq.min,
        seq.max,
        seq.cache,
        if seq.cycle { " CYCLE" } else { " NO CYCLE" }
    )
}

/// `CREATE [UNLOGGED] SEQUENCE ...`.
pub fn create_sequence(qname: &str, seq: &Sequence, unlogged: bool) -> String {
    format!(
        "CREATE {}SEQUENCE {qname} AS {} {}",
        if unlogged { "UNLOGGED " } else { "" },
        seq.data_type,
        sequence_options(seq)
    )
}

/// `GENERATED ALWAYS|BY DEFAULT AS IDENTITY (SEQUENCE NAME ... options)`.
pub fn identity_clause(kind: char, seq_qname: &str, seq: &Sequence) -> String {
    format!(
        "GENERATED {} AS IDENTITY (SEQUENCE NAME {seq_qname} {})",
        if kind == 'a' { "ALWAYS" } else { "BY DEFAULT" },
        sequence_options(seq)
    )
}

/// A PRIMARY KEY / UNIQUE definition from `pg_get_constraintdef` with the index's storage
/// parameters put back (the SQL-callable function leaves them out), before the DEFERRABLE part.
pub fn with_index_options(
    definition: &str,
    options: &[String],
    deferrable: bool,
    deferred: bool,
) -> String {
    if options.is_empty() {
        return definition.to_string();
    }
    let suffix = match (deferrable, deferred) {
        (true, true) => " DEFERRABLE INITIALLY DEFERRED",
        (true, false) => " DEFERRABLE",
        _ => "",
    };
    let head = if !suffix.is_empty() && definition.ends_with(suffix) {
        &definition[..definition.len() - suffix.len()]
    } else {
        return format!(
            "{definition} WITH ({})",
            reloptions_list(options, None).join(", ")
        );
    };
    format!(
        "{head} WITH ({}){suffix}",
        reloptions_list(options, None).join(", ")
    )
}

/// A view query from `pg_get_viewdef`, without its leading blank and trailing semicolon.
pub fn view_query(definition: &str) -> &str {
    let d = definition.trim();
    d.strip_suffix(';').unwrap_or(d).trim_end()
}

/// `CREATE VIEW ...` with options (the `check_option` option becomes `WITH ... CHECK OPTION`).
pub fn create_view(qname: &str, options: &[String], definition: &str) -> String {
    let mut check = None;
    let others: Vec<String> = options
        .iter()
        .filter(|o| {
            let (k, v) = split_option(o);
            if k == "check_option" {
                check = Some(v.to_ascii_uppercase());
                false
            } else {
                true
            }
        })
        .cloned()
        .collect();
    let mut sql = format!(
        "CREATE VIEW {qname}{} AS\n{}",
        with_clause(&others, &[]),
        view_query(definition)
    );
    if let Some(c) = check {
        let c = if c == "LOCAL" { "LOCAL" } else { "CASCADED" };
        sql.push_str(&format!("\n  WITH {c} CHECK OPTION"));
    }
    sql
}

/// The statement that gives a trigger or rule its enabled state, when not the default.
/// `origin_too` also writes `ENABLE` for `O` (for partitions differing from their parent).
fn enable_sql(
    alter: &str,
    what: &str,
    name: &str,
    state: char,
    origin_too: bool,
) -> Option<String> {
    let verb = match state {
        'D' => "DISABLE",
        'R' => "ENABLE REPLICA",
        'A' => "ENABLE ALWAYS",
        'O' if origin_too => "ENABLE",
        _ => return None,
    };
    Some(format!("{alter} {verb} {what} {}", quote_ident(name)))
}

/// `CREATE POLICY ...`.
pub fn create_policy(qtable: &str, p: &Policy) -> String {
    let cmd = match p.command {
        'r' => "SELECT",
        'a' => "INSERT",
        'w' => "UPDATE",
        'd' => "DELETE",
        _ => "ALL",
    };
    let roles: Vec<String> = if p.roles.is_empty() {
        vec!["PUBLIC".to_string()]
    } else {
        p.roles
            .iter()
            .map(|r| match r {
                Some(r) => quote_ident(r),
                None => "PUBLIC".to_string(),
            })
            .collect()
    };
    let mut sql = format!(
        "CREATE POLICY {} ON {qtable} AS {} FOR {cmd} TO {}",
        quote_ident(&p.name),
        if p.permissive {
            "PERMISSIVE"
        } else {
            "RESTRICTIVE"
        },
        roles.join(", ")
    );
    if let Some(u) = &p.using {
        sql.push_str(&format!(" USING ({u})"));
    }
    if let Some(c) = &p.with_check {
        sql.push_str(&format!(" WITH CHECK ({c})"));
    }
    sql
}

fn storage_name(c: char) -> &'static str {
    match c {
        'p' => "PLAIN",
        'e' => "EXTERNAL",
        'm' => "MAIN",
        _ => "EXTENDED",
    }
}

fn compression_name(c: Option<char>) -> &'static str {
    match c {
        Some('p') => "pglz",
        Some('l') => "lz4",
        _ => "default",
    }
}

// ---------------------------------------------------------------------------------------------
// Relations

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
    /// Inheritance children built through a stand-in parent ([`super::inherit`]).
    pub(super) stand_in: HashSet<u32>,
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
        };
        ctx.stand_in = cat
            .relations
            .iter()
            .filter(|r| super::inherit::needed(&ctx, r))
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

/// Whether a CHECK constraint is written inside `CREATE TABLE` (validated, and local or on a
/// partition, which is created standalone and must have its parent's checks to be attached).
/// Children built through a stand-in parent get theirs afterwards ([`super::inherit`]).
fn check_is_inline(ctx: &Ctx, rel: &Relation, c: &Constraint) -> bool {
    c.kind == 'c'
        && c.validated
        && (c.is_local || rel.is_partition)
        && !ctx.stand_in.contains(&rel.oid)
}

/// One column definition inside `CREATE TABLE` / `CREATE FOREIGN TABLE`.
pub(super) fn column_definition(ctx: &Ctx, rel: &Relation, col: &Column) -> String {
    let mut sql = quote_ident(&col.name);
    if rel.of_type.is_some() {
        sql.push_str(" WITH OPTIONS");
    } else {
        sql.push(' ');
        sql.push_str(&col.type_name);
    }
    if rel.kind == 'f' && !col.fdw_options.is_empty() {
        sql.push(' ');
        sql.push_str(&generic_options(&col.fdw_options));
    }
    if rel.of_type.is_none()
        && let Some((s, n)) = &col.collation
    {
        sql.push_str(&format!(" COLLATE {}", qualified(s, n)));
    }
    match (col.generated, &col.default) {
        (Some(g), Some(expr)) => {
            sql.push_str(&format!(
                " GENERATED ALWAYS AS ({expr}) {}",
                if g == 'v' { "VIRTUAL" } else { "STORED" }
            ));
        }
        (None, Some(_)) if ctx.default_is_split(col) => {}
        (None, Some(expr)) => sql.push_str(&format!(" DEFAULT {expr}")),
        _ => {}
    }
    if let Some(kind) = col.identity
        && let Some(seq) = ctx.identity.get(&(rel.oid, col.num))
        && let Some(seq_rel) = ctx.rels.get(&seq.oid)
    {
        sql.push(' ');
        sql.push_str(&identity_clause(kind, &qname(seq_rel), seq));
    }
    if col.not_null {
        match ctx.not_null.get(&(rel.oid, col.num)) {
            // PG18 NOT VALID not-null constraints come after the data (build_constraints).
            Some(nn) if !nn.validated => {}
            Some(nn) => {
                // Like pg_dump: the name the server would choose anyway is left out, so a
                // PostgreSQL 18 schema reads the same as an older one migrated to 18.
                if nn.name != default_constraint_name(&rel.name, &col.name, "not_null") {
                    sql.push_str(&format!(" CONSTRAINT {}", quote_ident(&nn.name)));
                }
                sql.push_str(" NOT NULL");
                if nn.no_inherit {
                    sql.push_str(" NO INHERIT");
                }
            }
            None => sql.push_str(" NOT NULL"),
        }
    }
    sql
}

/// The name the server gives a constraint nobody named (`makeObjectName` in PostgreSQL): the
/// two names joined with `_`, then `_label`, the longer of the two names shortened a byte at a
/// time (never inside a character) until it all fits in 63 bytes.
fn default_constraint_name(name1: &str, name2: &str, label: &str) -> String {
    let avail = 63 - (1 + 1 + label.len());
    let (mut n1, mut n2) = (name1.len(), name2.len());
    while n1 + n2 > avail {
        if n1 > n2 {
            n1 -= 1;
        } else {
            n2 -= 1;
        }
    }
    let clip = |s: &str, mut n: usize| {
        while !s.is_char_boundary(n) {
            n -= 1;
        }
        s[..n].to_string()
    };
    format!("{}_{}_{label}", clip(name1, n1), clip(name2, n2))
}

/// Whether the column is written in `CREATE TABLE` (like pg_dump: local columns, and every
/// column of a partition, which is created standalone) or added by the child's own `ADD COLUMN`
/// ([`super::inherit`]).
fn column_is_printed(rel: &Relation, col: &Column) -> bool {
    if rel.of_type.is_some() {
        // Typed tables get their columns from the type; only options are written.
        return col.default.is_some() || col.not_null;
    }
    col.is_local || rel.is_partition
}

/// Statements run after `CREATE TABLE` for one column: what the column definition cannot say
/// or what inheritance would have set differently.
fn column_alters(ctx: &Ctx, rel: &Relation, col: &Column, printed: bool) -> Vec<String> {
    let mut out = Vec::new();
    let alter_col = format!(
        "{} ALTER COLUMN {}",
        alter_only(rel),
        quote_ident(&col.name)
    );
    let typed_or_inherited = rel.of_type.is_some() || (!printed && !ctx.standalone(rel));
    let inherited_from = if ctx.standalone(rel) || rel.of_type.is_some() {
        None
    } else {
        ctx.parent_column(rel.oid, &col.name)
    };
    if rel.kind == 'v' {
        if let Some(expr) = &col.default {
            out.push(format!("{alter_col} SET DEFAULT {expr}"));
        }
        return out;
    }
    if typed_or_inherited && !printed {
        // Inherited columns take the parent's default and NOT NULL at creation.
        let parent_default = inherited_from.and_then(|p| p.default.as_ref());
        if col.generated.is_none()
            && col.identity.is_none()
            && col.default.as_ref() != parent_default
            && !ctx.default_is_split(col)
        {
            match &col.default {
                Some(expr) => out.push(format!("{alter_col} SET DEFAULT {expr}")),
                None => out.push(format!("{alter_col} DROP DEFAULT")),
            }
        }
        let parent_not_null = ctx.parents(rel.oid).iter().any(|p| {
            ctx.columns(*p)
                .iter()
                .any(|c| c.name == col.name && c.not_null)
        });
        if col.not_null && !parent_not_null && col.identity.is_none() {
            out.push(format!("{alter_col} SET NOT NULL"));
        } else if !col.not_null && parent_not_null && ctx.cat.server_version_num < 180000 {
            out.push(format!("{alter_col} DROP NOT NULL"));
        }
        if let Some(kind) = col.identity
            && let Some(seq) = ctx.identity.get(&(rel.oid, col.num))
            && let Some(seq_rel) = ctx.rels.get(&seq.oid)
        {
            out.push(format!(
                "{alter_col} ADD {}",
                identity_clause(kind, &qname(seq_rel), seq)
            ));
        }
        if rel.kind == 'f' && !col.fdw_options.is_empty() {
            let adds: Vec<String> = col
                .fdw_options
                .iter()
                .map(|o| {
                    let (k, v) = split_option(o);
                    format!("ADD {} {}", quote_ident(k), quote_literal(v))
                })
                .collect();
            out.push(format!("{alter_col} OPTIONS ({})", adds.join(", ")));
        }
    }
    // Storage and compression are copied from the parent when a child is created.
    let inherited_storage = inherited_from.map(|p| p.storage);
    if col.storage != col.type_storage || inherited_storage.is_some_and(|s| s != col.storage) {
        out.push(format!(
            "{alter_col} SET STORAGE {}",
            storage_name(col.storage)
        ));
    }
    let inherited_compression = inherited_from.and_then(|p| p.compression);
    if col.compression.is_some() || col.compression != inherited_compression {
        out.push(format!(
            "{alter_col} SET COMPRESSION {}",
            compression_name(col.compression)
        ));
    }
    if let Some(t) = col.stat_target {
        out.push(format!("{alter_col} SET STATISTICS {t}"));
    }
    if !col.options.is_empty() {
        out.push(format!(
            "{alter_col} SET ({})",
            reloptions_list(&col.options, None).join(", ")
        ));
    }
    out
}

/// ACL and comment statements of a relation and its columns.
fn acl_and_comments(rel: &Relation, cols: &[Column], o: &mut SchemaObject) {
    let q = qname(rel);
    let target = if rel.kind == 'S' {
        format!("SEQUENCE {q}")
    } else {
        format!("TABLE {q}")
    };
    o.acl.extend(acl_sql(
        &target,
        &rel.owner,
        rel.acl.as_deref(),
        &rel.acl_default,
        None,
    ));
    for c in cols {
        if c.acl.is_some() {
            o.acl.extend(acl_sql(
                &target,
                &rel.owner,
                c.acl.as_deref(),
                &[],
                Some(&c.name),
            ));
        }
    }
    o.comments.extend(comment_sql(
        object_kind(rel).keyword(),
        &q,
        rel.comment.as_deref(),
    ));
    for c in cols {
        o.comments.extend(comment_sql(
            "COLUMN",
            &format!("{q}.{}", quote_ident(&c.name)),
            c.comment.as_deref(),
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

fn build_table(ctx: &Ctx, rel: &Relation, out: &mut Collected) {
    let kind = object_kind(rel);
    let mut o = base_object(rel, kind, Section::PreData);
    let q = qname(rel);
    let cols = ctx.columns(rel.oid);
    let constraints = ctx
        .constraints
        .get(&rel.oid)
        .map(Vec::as_slice)
        .unwrap_or(&[]);

    let stand_in = ctx
        .stand_in
        .contains(&rel.oid)
        .then(|| super::inherit::plan(ctx, rel));
    let mut items: Vec<String> = Vec::new();
    let mut printed = Vec::with_capacity(cols.len());
    for c in cols {
        let p = column_is_printed(rel, c);
        printed.push(p);
        if p && stand_in.is_none() {
            items.push(column_definition(ctx, rel, c));
        }
    }
    if let Some(plan) = &stand_in {
        items.clone_from(&plan.items);
    }
    for c in constraints
        .iter()
        .filter(|c| check_is_inline(ctx, rel, c) && !ctx.check_is_split(c))
    {
        items.push(format!(
            "CONSTRAINT {} {}",
            quote_ident(&c.name),
            c.definition
        ));
    }

    let mut sql = String::from("CREATE ");
    if rel.kind == 'f' {
        sql.push_str("FOREIGN ");
    } else if rel.persistence == 'u' {
        sql.push_str("UNLOGGED ");
    }
    sql.push_str("TABLE ");
    sql.push_str(&q);
    if let Some(t) = &rel.of_type {
        sql.push_str(" OF ");
        sql.push_str(t);
        if !items.is_empty() {
            sql.push_str(&format!(" (\n    {}\n)", items.join(",\n    ")));
        }
    } else if items.is_empty() {
        sql.push_str(" (\n)");
    } else {
        sql.push_str(&format!(" (\n    {}\n)", items.join(",\n    ")));
    }
    let parents = ctx.parents(rel.oid);
    if let Some(plan) = &stand_in {
        sql.push_str(&format!("\nINHERITS ({})", plan.inherits));
    } else if !rel.is_partition && !parents.is_empty() {
        let names: Vec<String> = parents
            .iter()
            .filter_map(|p| ctx.rels.get(p).map(|r| qname(r)))
            .collect();
        sql.push_str(&format!("\nINHERITS ({})", names.join(", ")));
    }
    if let Some(key) = &rel.partition_key {
        sql.push_str(&format!("\nPARTITION BY {key}"));
    }
    if let Some(am) = &rel.access_method
        && (rel.kind == 'r' || (rel.kind == 'p' && am != "heap"))
    {
        sql.push_str(&format!("\nUSING {}", quote_ident(am)));
    }
    sql.push_str(&with_clause(&rel.options, &rel.toast_options));
    if rel.kind == 'f' {
        if let Some(server) = &rel.foreign_server {
            sql.push_str(&format!("\nSERVER {}", quote_ident(server)));
        }
        let opts = generic_options(&rel.foreign_options);
        if !opts.is_empty() {
            sql.push('\n');
            sql.push_str(&opts);
        }
    }
    match stand_in {
        Some(plan) => {
            o.create.push(plan.before);
            o.create.push(sql);
            o.create.extend(plan.after);
        }
        None => o.create.push(sql),
    }
    if rel.kind != 'f' {
        o.tablespace = rel.tablespace.clone();
    }
    for (c, p) in cols.iter().zip(&printed) {
        o.create.extend(column_alters(ctx, rel, c, *p));
    }
    if rel.kind != 'f' {
        match rel.replica_identity {
            'n' => o
                .create
                .push(format!("{} REPLICA IDENTITY NOTHING", alter_only(rel))),
            'f' => o
                .create
                .push(format!("{} REPLICA IDENTITY FULL", alter_only(rel))),
            _ => {}
        }
    }
    acl_and_comments(rel, cols, &mut o);
    // Comments of the CHECK constraints that exist once the table is created.
    for c in constraints
        .iter()
        .filter(|c| c.kind == 'c' && c.validated && !ctx.check_is_split(c))
    {
        o.comments.extend(comment_sql(
            &format!("CONSTRAINT {} ON", quote_ident(&c.name)),
            &q,
            c.comment.as_deref(),
        ));
    }
    // Identity sequences are part of the table: their privileges and comments too.
    for c in cols {
        if let Some(seq) = ctx.identity.get(&(rel.oid, c.num))
            && let Some(seq_rel) = ctx.rels.get(&seq.oid)
        {
            let sq = qname(seq_rel);
            // An identity sequence is created with its table's persistence; PostgreSQL 15 can
            // change either afterwards.
            if seq_rel.persistence != rel.persistence && rel.kind != 'f' {
                o.create.push(format!(
                    "ALTER SEQUENCE {sq} SET {}",
                    if seq_rel.persistence == 'u' {
                        "UNLOGGED"
                    } else {
                        "LOGGED"
                    }
                ));
            }
            o.acl.extend(acl_sql(
                &format!("SEQUENCE {sq}"),
                &seq_rel.owner,
                seq_rel.acl.as_deref(),
                &seq_rel.acl_default,
                None,
            ));
            o.comments
                .extend(comment_sql("SEQUENCE", &sq, seq_rel.comment.as_deref()));
            out.aliases.push(Alias {
                alias: rel_id(seq.oid),
                target: rel_id(rel.oid),
            });
            row_type_aliases(seq_rel, out);
        }
    }
    row_type_aliases(rel, out);
    attrdef_aliases(ctx, rel, cols, out);
    out.objects.push(o);

    // Defaults split out of the table to break a cycle: pre-data, like pg_dump's.
    for c in cols.iter().filter(|c| ctx.default_is_split(c)) {
        let (Some(ad), Some(expr)) = (c.default_oid, &c.default) else {
            continue;
        };
        let mut d = SchemaObject::new(
            ObjId::new(class::PG_ATTRDEF, ad),
            ObjectKind::TablePart,
            Section::PreData,
            Some(&rel.schema),
            tag(rel, &c.name),
        );
        d.create.push(format!(
            "{} ALTER COLUMN {} SET DEFAULT {expr}",
            alter_only(rel),
            quote_ident(&c.name)
        ));
        d.deps = vec![rel_id(rel.oid)];
        out.objects.push(d);
    }

    if rel.is_partition
        && let Some(parent) = parents.first().and_then(|p| ctx.rels.get(p))
    {
        let mut a = SchemaObject::new(
            ObjId::new(synthetic::ATTACH, rel.oid),
            ObjectKind::TableAttach,
            Section::PreData,
            Some(&rel.schema),
            &rel.name,
        );
        a.create.push(format!(
            "ALTER TABLE ONLY {} ATTACH PARTITION {q} {}",
            qname(parent),
            rel.partition_bound.as_deref().unwrap_or("DEFAULT")
        ));
        a.deps = vec![rel_id(rel.oid), rel_id(parent.oid)];
        out.objects.push(a);
    }

    if rel.row_security || rel.force_row_security {
        let mut r = SchemaObject::new(
            ObjId::new(synthetic::ROW_SECURITY, rel.oid),
            ObjectKind::Policy,
            Section::PostData,
            Some(&rel.schema),
            &rel.name,
        );
        if rel.row_security {
            r.create
                .push(format!("{} ENABLE ROW LEVEL SECURITY", alter_plain(rel)));
        }
        if rel.force_row_security {
            r.create
                .push(format!("{} FORCE ROW LEVEL SECURITY", alter_plain(rel)));
        }
        r.deps = vec![rel_id(rel.oid)];
        r.table = data_table(rel);
        out.objects.push(r);
    }
}

fn build_sequence(ctx: &Ctx, rel: &Relation, seq: &Sequence, out: &mut Collected) {
    if seq.identity {
        // Created by the identity column of its table (see build_table).
        return;
    }
    let mut o = base_object(rel, ObjectKind::Sequence, Section::PreData);
    let q = qname(rel);
    o.create
        .push(create_sequence(&q, seq, rel.persistence == 'u'));
    acl_and_comments(rel, &[], &mut o);
    row_type_aliases(rel, out);
    out.objects.push(o);
    if let Some((table, _, column)) = &seq.owned_by
        && let Some(t) = ctx.rels.get(table)
    {
        let mut ob = SchemaObject::new(
            ObjId::new(synthetic::OWNED_BY, rel.oid),
            ObjectKind::SequenceOwnedBy,
            Section::PreData,
            Some(&rel.schema),
            &rel.name,
        );
        ob.create.push(format!(
            "ALTER SEQUENCE {q} OWNED BY {}.{}",
            qname(t),
            quote_ident(column)
        ));
        ob.deps = vec![rel_id(rel.oid), rel_id(t.oid)];
        out.objects.push(ob);
    }
}

fn build_view(ctx: &Ctx, rel: &Relation, out: &mut Collected) {
    let kind = object_kind(rel);
    let mut o = base_object(rel, kind, Section::PreData);
    let q = qname(rel);
    let cols = ctx.columns(rel.oid);
    let def = rel.view_definition.as_deref().unwrap_or("");
    if rel.kind == 'v' {
        o.create.push(create_view(&q, &rel.options, def));
    } else {
        let mut sql = format!("CREATE MATERIALIZED VIEW {q}");
        if let Some(am) = &rel.access_method {
            sql.push_str(&format!(" USING {}", quote_ident(am)));
        }
        sql.push_str(&with_clause(&rel.options, &rel.toast_options));
        sql.push_str(&format!(" AS\n{}\n  WITH NO DATA", view_query(def)));
        o.create.push(sql);
        o.tablespace = rel.tablespace.clone();
    }
    for c in cols {
        o.create.extend(column_alters(ctx, rel, c, true));
    }
    acl_and_comments(rel, cols, &mut o);
    row_type_aliases(rel, out);
    attrdef_aliases(ctx, rel, cols, out);
    out.objects.push(o);
}

/// `REFRESH MATERIALIZED VIEW` for populated materialized views, after the refreshes of the
/// materialized views their query reads (directly or through views).
fn build_refreshes(ctx: &Ctx, out: &mut Collected) {
    let mut reads: HashMap<u32, Vec<u32>> = HashMap::new();
    for (v, r) in &ctx.cat.view_reads {
        reads.entry(*v).or_default().push(*r);
    }
    for rel in ctx
        .cat
        .relations
        .iter()
        .filter(|r| r.kind == 'm' && r.populated)
    {
        let mut deps = vec![rel_id(rel.oid)];
        let mut seen: HashSet<u32> = HashSet::from([rel.oid]);
        let mut stack: Vec<u32> = reads.get(&rel.oid).cloned().unwrap_or_default();
        while let Some(next) = stack.pop() {
            if !seen.insert(next) {
                continue;
            }
            match ctx.rels.get(&next) {
                // A materialized view: its own refresh follows what it reads.
                Some(r) if r.kind == 'm' && r.populated => {
                    deps.push(ObjId::new(synthetic::REFRESH, r.oid));
                }
                Some(r) if r.kind == 'v' => {
                    stack.extend(reads.get(&r.oid).cloned().unwrap_or_default());
                }
                _ => {}
            }
        }
        let mut o = SchemaObject::new(
            ObjId::new(synthetic::REFRESH, rel.oid),
            ObjectKind::MaterializedViewRefresh,
            Section::PostData,
            Some(&rel.schema),
            &rel.name,
        );
        o.create
            .push(format!("REFRESH MATERIALIZED VIEW {}", qname(rel)));
        o.deps = deps;
        // The refresh runs as the view's owner, who may lack rights on what it reads (the
        // source's data may date from before an owner change): a warning, not a failure.
        o.privilege = Privilege::MaySkip;
        out.objects.push(o);
    }
}

// ---------------------------------------------------------------------------------------------
// Post-data

fn tag(rel: &Relation, name: &str) -> String {
    format!("{} {name}", rel.name)
}

/// Statements an index brings along: CLUSTER ON, REPLICA IDENTITY USING INDEX, statistics
/// targets of expression columns.
fn index_extras(rel: &Relation, idx: &Index) -> Vec<String> {
    let mut out = Vec::new();
    let qidx = qualified(&idx.schema, &idx.name);
    for (num, target) in &idx.stat_targets {
        out.push(format!(
            "ALTER INDEX {qidx} ALTER COLUMN {num} SET STATISTICS {target}"
        ));
    }
    if idx.clustered {
        out.push(format!(
            "{} CLUSTER ON {}",
            alter_plain(rel),
            quote_ident(&idx.name)
        ));
    }
    if idx.replica_identity {
        out.push(format!(
            "{} REPLICA IDENTITY USING INDEX {}",
            alter_only(rel),
            quote_ident(&idx.name)
        ));
    }
    out
}

fn build_indexes(ctx: &Ctx, out: &mut Collected) {
    for idx in &ctx.cat.indexes {
        let Some(rel) = ctx.rels.get(&idx.relid) else {
            continue;
        };
        let qidx = qualified(&idx.schema, &idx.name);
        if let Some(parent) = idx.parent.and_then(|p| ctx.indexes.get(&p)) {
            let mut a = SchemaObject::new(
                ObjId::new(synthetic::ATTACH, idx.oid),
                ObjectKind::IndexAttach,
                Section::PostData,
                Some(&idx.schema),
                &idx.name,
            );
            a.create.push(format!(
                "ALTER INDEX {} ATTACH PARTITION {qidx}",
                qualified(&parent.schema, &parent.name)
            ));
            a.deps = vec![rel_id(parent.oid), rel_id(idx.oid)];
            out.objects.push(a);
        }
        if let Some(con) = idx.constraint {
            // Created by its constraint (see build_constraints).
            out.aliases.push(Alias {
                alias: rel_id(idx.oid),
                target: ObjId::new(class::PG_CONSTRAINT, con),
            });
            continue;
        }
        let mut o = SchemaObject::new(
            rel_id(idx.oid),
            ObjectKind::Index,
            Section::PostData,
            Some(&idx.schema),
            &idx.name,
        );
        o.create.push(idx.definition.clone());
        o.create.extend(index_extras(rel, idx));
        o.tablespace = idx.tablespace.clone();
        o.comments
            .extend(comment_sql("INDEX", &qidx, idx.comment.as_deref()));
        o.table = data_table(rel);
        out.objects.push(o);
    }
}

/// The index-attach objects of every index below `index` in a partition tree: a foreign key
/// referencing a partitioned table needs its unique index complete (valid).
fn attach_tree(ctx: &Ctx, index: u32, children: &HashMap<u32, Vec<u32>>, out: &mut Vec<ObjId>) {
    if let Some(kids) = children.get(&index) {
        for k in kids {
            if ctx.indexes.contains_key(k) {
                out.push(ObjId::new(synthetic::ATTACH, *k));
                attach_tree(ctx, *k, children, out);
            }
        }
    }
}

fn build_constraints(ctx: &Ctx, out: &mut Collected) {
    let mut index_children: HashMap<u32, Vec<u32>> = HashMap::new();
    for idx in &ctx.cat.indexes {
        if let Some(p) = idx.parent {
            index_children.entry(p).or_default().push(idx.oid);
        }
    }
    let trigger_of: HashMap<u32, u32> = ctx
        .cat
        .triggers
        .iter()
        .filter(|t| t.constraint != 0)
        .map(|t| (t.constraint, t.oid))
        .collect();
    for c in &ctx.cat.constraints {
        let Some(rel) = ctx.rels.get(&c.relid) else {
            continue;
        };
        let id = ObjId::new(class::PG_CONSTRAINT, c.oid);
        let alias_to = |target: ObjId, out: &mut Collected| {
            out.aliases.push(Alias { alias: id, target });
        };
        let q = qname(rel);
        let comment = |o: &mut SchemaObject| {
            o.comments.extend(comment_sql(
                &format!("CONSTRAINT {} ON", quote_ident(&c.name)),
                &q,
                c.comment.as_deref(),
            ));
        };
        match c.kind {
            'p' | 'u' | 'x' => {
                let mut o = SchemaObject::new(
                    id,
                    ObjectKind::Constraint,
                    Section::PostData,
                    Some(&rel.schema),
                    tag(rel, &c.name),
                );
                let def = if c.kind == 'x' {
                    c.definition.clone()
                } else {
                    with_index_options(&c.definition, &c.index_options, c.deferrable, c.deferred)
                };
                o.create.push(format!(
                    "{} ADD CONSTRAINT {} {def}",
                    alter_only(rel),
                    quote_ident(&c.name)
                ));
                if let Some(idx) = ctx.indexes.get(&c.index) {
                    o.create.extend(index_extras(rel, idx));
                    o.tablespace = idx.tablespace.clone();
                    o.comments.extend(comment_sql(
                        "INDEX",
                        &qualified(&idx.schema, &idx.name),
                        idx.comment.as_deref(),
                    ));
                }
                comment(&mut o);
                o.table = data_table(rel);
                out.objects.push(o);
            }
            'f' if c.parent != 0 => alias_to(ObjId::new(class::PG_CONSTRAINT, c.parent), out),
            'f' => {
                let mut o = SchemaObject::new(
                    id,
                    ObjectKind::ForeignKey,
                    Section::PostData,
                    Some(&rel.schema),
                    tag(rel, &c.name),
                );
                let alter = if rel.kind == 'p' {
                    alter_plain(rel)
                } else {
                    alter_only(rel)
                };
                o.create.push(format!(
                    "{alter} ADD CONSTRAINT {} {}",
                    quote_ident(&c.name),
                    c.definition
                ));
                comment(&mut o);
                attach_tree(ctx, c.index, &index_children, &mut o.deps);
                out.objects.push(o);
            }
            'c' if (!c.validated && c.is_local) || ctx.check_is_split(c) => {
                // NOT VALID: the source's rows may violate it, so it comes after all data. Split
                // out of its table to break a cycle: after the data too, like pg_dump, and
                // without ONLY so that it reaches inheritance children as it did in the source.
                let kind = if !c.validated && c.is_local {
                    ObjectKind::Constraint
                } else {
                    ObjectKind::TablePart
                };
                let mut o = SchemaObject::new(
                    id,
                    kind,
                    Section::PostData,
                    Some(&rel.schema),
                    tag(rel, &c.name),
                );
                o.create.push(format!(
                    "{} ADD CONSTRAINT {} {}",
                    alter_plain(rel),
                    quote_ident(&c.name),
                    c.definition
                ));
                comment(&mut o);
                o.deps = vec![rel_id(rel.oid)];
                out.objects.push(o);
            }
            't' => {
                if let Some(t) = trigger_of.get(&c.oid) {
                    alias_to(ObjId::new(class::PG_TRIGGER, *t), out);
                }
            }
            'n' if !c.validated && c.is_local => {
                // PG18 NOT VALID not-null constraint: like a NOT VALID check.
                let column = c
                    .columns
                    .first()
                    .and_then(|n| ctx.columns(rel.oid).iter().find(|col| col.num == *n));
                let Some(column) = column else {
                    continue;
                };
                let mut o = SchemaObject::new(
                    id,
                    ObjectKind::Constraint,
                    Section::PostData,
                    Some(&rel.schema),
                    tag(rel, &c.name),
                );
                o.create.push(format!(
                    "{} ADD CONSTRAINT {} NOT NULL {}{} NOT VALID",
                    alter_plain(rel),
                    quote_ident(&c.name),
                    quote_ident(&column.name),
                    if c.no_inherit { " NO INHERIT" } else { "" }
                ));
                comment(&mut o);
                o.deps = vec![rel_id(rel.oid)];
                out.objects.push(o);
            }
            // Inline or inherited CHECKs, PG18 NOT NULL constraints: part of the table.
            _ => alias_to(rel_id(rel.oid), out),
        }
    }
}

fn build_triggers(ctx: &Ctx, out: &mut Collected) {
    let by_oid: HashMap<u32, &Trigger> = ctx.cat.triggers.iter().map(|t| (t.oid, t)).collect();
    for t in &ctx.cat.triggers {
        let Some(rel) = ctx.rels.get(&t.relid) else {
            continue;
        };
        let id = ObjId::new(class::PG_TRIGGER, t.oid);
        if t.parent != 0 {
            // Cloned from a partitioned table's trigger: created once, on the table it was
            // created on (the root), which clones it again and gives every clone the root's
            // state. A clone's own state is set when it differs from the root's, or when it is
            // not the default (in case the target does not carry the root's state down).
            let mut root = t;
            for _ in 0..64 {
                match by_oid.get(&root.parent) {
                    Some(p) if root.parent != 0 => root = p,
                    _ => break,
                }
            }
            let root_id = ObjId::new(class::PG_TRIGGER, root.oid);
            if t.enabled != root.enabled || t.enabled != 'O' {
                let mut o = SchemaObject::new(
                    id,
                    ObjectKind::Trigger,
                    Section::PostData,
                    Some(&rel.schema),
                    tag(rel, &t.name),
                );
                o.create.extend(enable_sql(
                    &alter_only(rel),
                    "TRIGGER",
                    &t.name,
                    t.enabled,
                    true,
                ));
                o.deps = vec![root_id];
                out.objects.push(o);
            } else {
                out.aliases.push(Alias {
                    alias: id,
                    target: root_id,
                });
            }
            continue;
        }
        let mut o = SchemaObject::new(
            id,
            ObjectKind::Trigger,
            Section::PostData,
            Some(&rel.schema),
            tag(rel, &t.name),
        );
        o.create.push(t.definition.clone());
        let alter = if rel.kind == 'f' {
            format!("ALTER FOREIGN TABLE {}", qname(rel))
        } else {
            format!("ALTER TABLE {}", qname(rel))
        };
        o.create
            .extend(enable_sql(&alter, "TRIGGER", &t.name, t.enabled, false));
        o.comments.extend(comment_sql(
            &format!("TRIGGER {} ON", quote_ident(&t.name)),
            &qname(rel),
            t.comment.as_deref(),
        ));
        o.table = data_table(rel);
        out.objects.push(o);
    }
}

fn build_rules(ctx: &Ctx, out: &mut Collected) {
    for r in &ctx.cat.rules {
        let Some(rel) = ctx.rels.get(&r.relid) else {
            continue;
        };
        let id = ObjId::new(class::PG_REWRITE, r.oid);
        if r.is_view_rule {
            out.aliases.push(Alias {
                alias: id,
                target: rel_id(rel.oid),
            });
            continue;
        }
        out.objects.push(rule_object(rel, r));
    }
}

fn rule_object(rel: &Relation, r: &Rule) -> SchemaObject {
    let mut o = SchemaObject::new(
        ObjId::new(class::PG_REWRITE, r.oid),
        ObjectKind::Rule,
        Section::PostData,
        Some(&rel.schema),
        tag(rel, &r.name),
    );
    let def = r.definition.trim();
    o.create
        .push(def.strip_suffix(';').unwrap_or(def).to_string());
    o.create.extend(enable_sql(
        &format!("ALTER TABLE {}", qname(rel)),
        "RULE",
        &r.name,
        r.enabled,
        false,
    ));
    o.comments.extend(comment_sql(
        &format!("RULE {} ON", quote_ident(&r.name)),
        &qname(rel),
        r.comment.as_deref(),
    ));
    o.table = data_table(rel);
    o
}

fn build_policies(ctx: &Ctx, out: &mut Collected) {
    for p in &ctx.cat.policies {
        let Some(rel) = ctx.rels.get(&p.relid) else {
            continue;
        };
        let mut o = SchemaObject::new(
            ObjId::new(class::PG_POLICY, p.oid),
            ObjectKind::Policy,
            Section::PostData,
            Some(&rel.schema),
            tag(rel, &p.name),
        );
        o.create.push(create_policy(&qname(rel), p));
        o.comments.extend(comment_sql(
            &format!("POLICY {} ON", quote_ident(&p.name)),
            &qname(rel),
            p.comment.as_deref(),
        ));
        o.table = data_table(rel);
        out.objects.push(o);
    }
}

fn build_statistics(ctx: &Ctx, out: &mut Collected) {
    for st in &ctx.cat.statistics {
        let Some(rel) = ctx.rels.get(&st.relid) else {
            continue;
        };
        out.objects.push(statistics_object(rel, st));
    }
}

fn statistics_object(rel: &Relation, st: &Statistics) -> SchemaObject {
    let q = qualified(&st.schema, &st.name);
    let mut o = SchemaObject::new(
        ObjId::new(class::PG_STATISTIC_EXT, st.oid),
        ObjectKind::Statistics,
        Section::PostData,
        Some(&st.schema),
        &st.name,
    );
    o.create.push(st.definition.clone());
    if let Some(t) = st.stat_target {
        o.create
            .push(format!("ALTER STATISTICS {q} SET STATISTICS {t}"));
    }
    o.owner = Some(owner_sql(ObjectKind::Statistics, &q, &st.owner));
    o.comments
        .extend(comment_sql("STATISTICS", &q, st.comment.as_deref()));
    o.table = data_table(rel);
    o
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
mod tests {
    use super::*;

    #[test]
    fn default_constraint_names_are_the_servers() {
        assert_eq!(
            default_constraint_name("t", "a", "not_null"),
            "t_a_not_null"
        );
        // 63 bytes at most, the longer name shortened first (PostgreSQL's makeObjectName).
        let long = "rel_sixty_three_bytes_long_column_name_for_identifier_limits_xy";
        assert_eq!(
            default_constraint_name(
                "rel_sixty_three_bytes_long_table_name_for_identifier_limits_xyz",
                long,
                "not_null"
            ),
            "rel_sixty_three_bytes_long__rel_sixty_three_bytes_long_not_null"
        );
        // Never cut inside a character.
        let n = default_constraint_name(&"é".repeat(40), "x", "not_null");
        assert!(n.len() <= 63 && n.ends_with("_x_not_null"), "{n}");
    }

    fn seq() -> Sequence {
        Sequence {
            oid: 20,
            data_type: "smallint".into(),
            start: 50,
            increment: -2,
            max: 100,
            min: -1000,
            cache: 5,
            cycle: true,
            owned_by: None,
            identity: false,
        }
    }

    fn rel(oid: u32, kind: char, name: &str) -> Relation {
        Relation {
            oid,
            schema: "s".into(),
            name: name.into(),
            kind,
            owner: "o".into(),
            persistence: 'p',
            replica_identity: 'd',
            populated: true,
            access_method: matches!(kind, 'r' | 'm').then(|| "heap".to_string()),
            ..Default::default()
        }
    }

    fn col(relid: u32, num: i16, name: &str, ty: &str) -> Column {
        Column {
            relid,
            num,
            name: name.into(),
            type_name: ty.into(),
            is_local: true,
            storage: 'x',
            type_storage: 'x',
            ..Default::default()
        }
    }

    fn find(c: &Collected, id: ObjId) -> &SchemaObject {
        c.objects
            .iter()
            .find(|o| o.id == id)
            .unwrap_or_else(|| panic!("no object {id:?} in {:#?}", c.objects))
    }

    fn aliased(c: &Collected, alias: ObjId) -> Option<ObjId> {
        c.aliases
            .iter()
            .find(|a| a.alias == alias)
            .map(|a| a.target)
    }

    #[test]
    fn sequences_spell_out_every_option() {
        assert_eq!(
            create_sequence("\"s\".\"q\"", &seq(), true),
            "CREATE UNLOGGED SEQUENCE \"s\".\"q\" AS smallint START WITH 50 INCREMENT BY -2 \
             MINVALUE -1000 MAXVALUE 100 CACHE 5 CYCLE"
        );
        let mut s = seq();
        s.cycle = false;
        assert_eq!(
            identity_clause('d', "\"s\".\"q\"", &s),
            "GENERATED BY DEFAULT AS IDENTITY (SEQUENCE NAME \"s\".\"q\" START WITH 50 \
             INCREMENT BY -2 MINVALUE -1000 MAXVALUE 100 CACHE 5 NO CYCLE)"
        );
    }

    #[test]
    fn options_quote_names_and_values() {
        let opts = vec!["fillfactor=70".to_string(), "we\"ird=it's=x".to_string()];
        assert_eq!(
            with_clause(&opts, &["autovacuum_enabled=false".to_string()]),
            " WITH (\"fillfactor\"='70', \"we\"\"ird\"='it''s=x', \
             \"toast\".\"autovacuum_enabled\"='false')"
        );
        assert_eq!(with_clause(&[], &[]), "");
        assert_eq!(
            generic_options(&["table_name=it's".to_string()]),
            "OPTIONS (\"table_name\" 'it''s')"
        );
        assert_eq!(generic_options(&[]), "");
    }

    #[test]
    fn index_options_go_before_deferrable() {
        let o = vec!["fillfactor=70".to_string()];
        assert_eq!(
            with_index_options("UNIQUE (a) DEFERRABLE INITIALLY DEFERRED", &o, true, true),
            "UNIQUE (a) WITH (\"fillfactor\"='70') DEFERRABLE INITIALLY DEFERRED"
        );
        assert_eq!(
            with_index_options("PRIMARY KEY (\"x DEFERRABLE\") DEFERRABLE", &o, true, false),
            "PRIMARY KEY (\"x DEFERRABLE\") WITH (\"fillfactor\"='70') DEFERRABLE"
        );
        assert_eq!(
            with_index_options("PRIMARY KEY (a) INCLUDE (b)", &o, false, false),
            "PRIMARY KEY (a) INCLUDE (b) WITH (\"fillfactor\"='70')"
        );
        assert_eq!(
            with_index_options("UNIQUE (a)", &[], false, false),
            "UNIQUE (a)"
        );
    }

    #[test]
    fn views_take_their_check_option_out_of_the_options() {
        let opts = vec![
            "check_option=local".to_string(),
            "security_barrier=true".to_string(),
        ];
        assert_eq!(
            create_view("\"s\".\"v\"", &opts, " SELECT 1 AS one;"),
            "CREATE VIEW \"s\".\"v\" WITH (\"security_barrier\"='true') AS\nSELECT 1 AS one\n  \
             WITH LOCAL CHECK OPTION"
        );
        assert_eq!(
            create_view("\"v\"", &["check_option=cascaded".to_string()], "SELECT 1"),
            "CREATE VIEW \"v\" AS\nSELECT 1\n  WITH CASCADED CHECK OPTION"
        );
    }

    #[test]
    fn policies_name_roles_and_public() {
        let p = Policy {
            name: "see \"own\"".into(),
            permissive: false,
            command: 'w',
            roles: vec![Some("a b".into()), None],
            using: Some("(x > 0)".into()),
            with_check: Some("true".into()),
            ..Default::default()
        };
        assert_eq!(
            create_policy("\"s\".\"t\"", &p),
            "CREATE POLICY \"see \"\"own\"\"\" ON \"s\".\"t\" AS RESTRICTIVE FOR UPDATE \
             TO \"a b\", PUBLIC USING ((x > 0)) WITH CHECK (true)"
        );
    }

    #[test]
    fn trigger_and_rule_states() {
        assert_eq!(
            enable_sql("ALTER TABLE t", "TRIGGER", "x", 'D', false).as_deref(),
            Some("ALTER TABLE t DISABLE TRIGGER \"x\"")
        );
        assert_eq!(
            enable_sql("ALTER TABLE t", "RULE", "r", 'R', false).as_deref(),
            Some("ALTER TABLE t ENABLE REPLICA RULE \"r\"")
        );
        assert_eq!(
            enable_sql("ALTER TABLE t", "TRIGGER", "x", 'A', false).as_deref(),
            Some("ALTER TABLE t ENABLE ALWAYS TRIGGER \"x\"")
        );
        assert_eq!(
            enable_sql("ALTER TABLE t", "TRIGGER", "x", 'O', false),
            None
        );
        assert_eq!(
            enable_sql("ALTER TABLE ONLY t", "TRIGGER", "x", 'O', true).as_deref(),
            Some("ALTER TABLE ONLY t ENABLE TRIGGER \"x\"")
        );
    }

    /// A partitioned table with a CHECK, one partition, an identity column, a primary key with
    /// its partition's key attached, and a foreign key to it.
    fn partitioned() -> RelationCatalog {
        let mut parent = rel(1, 'p', "p");
        parent.partition_key = Some("RANGE (a)".into());
        parent.row_type = 101;
        parent.row_array_type = 102;
        let mut part = rel(2, 'r', "p1");
        part.is_partition = true;
        part.partition_bound = Some("FOR VALUES FROM (1) TO (10)".into());
        let referencing = rel(3, 'r', "r");
        let ident = rel(4, 'S', "p_id_seq");
        let mut cat = RelationCatalog {
            server_version_num: 150000,
            relations: vec![parent, part, referencing, ident],
            ..Default::default()
        };
        let mut id = col(1, 1, "a", "integer");
        id.identity = Some('a');
        id.not_null = true;
        let mut b = col(1, 2, "b", "text");
        b.default = Some("'x'::text".into());
        b.default_oid = Some(900);
        cat.columns.insert(1, vec![id.clone(), b.clone()]);
        let mut pa = id.clone();
        pa.relid = 2;
        pa.is_local = false;
        pa.identity = None;
        let mut pb = b.clone();
        pb.relid = 2;
        pb.is_local = false;
        pb.default_oid = Some(901);
        cat.columns.insert(2, vec![pa, pb]);
        cat.columns.insert(3, vec![col(3, 1, "a", "integer")]);
        cat.parents.insert(2, vec![1]);
        cat.sequences.push(Sequence {
            oid: 4,
            data_type: "integer".into(),
            start: 1,
            increment: 1,
            max: 2147483647,
            min: 1,
            cache: 1,
            cycle: false,
            owned_by: Some((1, 1, "a".into())),
            identity: true,
        });
        let check = |oid, relid, local| Constraint {
            oid,
            relid,
            name: "pos".into(),
            kind: 'c',
            definition: "CHECK ((a > 0))".into(),
            validated: true,
            is_local: local,
            ..Default::default()
        };
        cat.constraints.push(check(10, 1, true));
        cat.constraints.push(check(11, 2, false));
        cat.constraints.push(Constraint {
            oid: 12,
            relid: 1,
            name: "p_pkey".into(),
            kind: 'p',
            definition: "PRIMARY KEY (a)".into(),
            validated: true,
            is_local: true,
            index: 50,
            ..Default::default()
        });
        cat.constraints.push(Constraint {
            oid: 13,
            relid: 2,
            name: "p1_pkey".into(),
            kind: 'p',
            definition: "PRIMARY KEY (a)".into(),
            validated: true,
            is_local: true,
            index: 51,
            parent: 12,
            ..Default::default()
        });
        cat.constraints.push(Constraint {
            oid: 14,
            relid: 3,
            name: "r_fk".into(),
            kind: 'f',
            definition: "FOREIGN KEY (a) REFERENCES s.p(a)".into(),
            validated: true,
            is_local: true,
            index: 50,
            ..Default::default()
        });
        cat.constraints.push(Constraint {
            oid: 15,
            relid: 3,
            name: "r_small".into(),
            kind: 'c',
            definition: "CHECK ((a < 5)) NOT VALID".into(),
            validated: false,
            is_local: true,
            ..Default::default()
        });
        let index = |oid, relid, name: &str, constraint, parent| Index {
            oid,
            relid,
            schema: "s".into(),
            name: name.into(),
            definition: format!("CREATE UNIQUE INDEX {name} ON ..."),
            constraint: Some(constraint),
            parent,
            ..Default::default()
        };
        cat.indexes.push(index(50, 1, "p_pkey", 12, None));
        cat.indexes.push(index(51, 2, "p1_pkey", 13, Some(50)));
        cat
    }

    #[test]
    fn partitions_are_created_standalone_and_attached() {
        let c = build(&partitioned());
        let part = find(&c, ObjId::new(class::PG_CLASS, 2));
        assert_eq!(
            part.create[0],
            "CREATE TABLE \"s\".\"p1\" (\n    \"a\" integer NOT NULL,\n    \"b\" text DEFAULT \
             'x'::text,\n    CONSTRAINT \"pos\" CHECK ((a > 0))\n)\nUSING \"heap\""
        );
        let attach = find(&c, ObjId::new(synthetic::ATTACH, 2));
        assert_eq!(attach.kind, ObjectKind::TableAttach);
        assert_eq!(
            attach.create,
            vec![
                "ALTER TABLE ONLY \"s\".\"p\" ATTACH PARTITION \"s\".\"p1\" FOR VALUES FROM (1) TO (10)"
            ]
        );
        assert_eq!(attach.section, Section::PreData);
        let parent = find(&c, ObjId::new(class::PG_CLASS, 1));
        assert!(
            parent.create[0].ends_with(")\nPARTITION BY RANGE (a)"),
            "{}",
            parent.create[0]
        );
        assert!(parent.create[0].contains(
            "\"a\" integer GENERATED ALWAYS AS IDENTITY (SEQUENCE NAME \"s\".\"p_id_seq\" START \
             WITH 1 INCREMENT BY 1 MINVALUE 1 MAXVALUE 2147483647 CACHE 1 NO CYCLE) NOT NULL"
        ));
    }

    #[test]
    fn catalog_rows_of_a_table_are_aliased_to_it() {
        let c = build(&partitioned());
        let table = ObjId::new(class::PG_CLASS, 1);
        for alias in [
            ObjId::new(class::PG_TYPE, 101),
            ObjId::new(class::PG_TYPE, 102),
            ObjId::new(class::PG_ATTRDEF, 900),
            ObjId::new(class::PG_CONSTRAINT, 10),
            ObjId::new(class::PG_CLASS, 4),
        ] {
            assert_eq!(aliased(&c, alias), Some(table), "{alias:?}");
        }
        // The identity sequence is no object of its own.
        assert!(
            !c.objects
                .iter()
                .any(|o| o.id == ObjId::new(class::PG_CLASS, 4))
        );
        // Indexes of constraints are their constraint.
        assert_eq!(
            aliased(&c, ObjId::new(class::PG_CLASS, 51)),
            Some(ObjId::new(class::PG_CONSTRAINT, 13))
        );
    }

    #[test]
    fn keys_of_partitions_are_attached_and_foreign_keys_wait_for_them() {
        let c = build(&partitioned());
        let pk = find(&c, ObjId::new(class::PG_CONSTRAINT, 12));
        assert_eq!(
            pk.create,
            vec!["ALTER TABLE ONLY \"s\".\"p\" ADD CONSTRAINT \"p_pkey\" PRIMARY KEY (a)"]
        );
        // On a partitioned table: runs at the end, not after one table's data.
        assert_eq!(pk.table, None);
        let child = find(&c, ObjId::new(class::PG_CONSTRAINT, 13));
        assert_eq!(child.table, Some(2));
        let attach = find(&c, ObjId::new(synthetic::ATTACH, 51));
        assert_eq!(
            attach.create,
            vec!["ALTER INDEX \"s\".\"p_pkey\" ATTACH PARTITION \"s\".\"p1_pkey\""]
        );
        let fk = find(&c, ObjId::new(class::PG_CONSTRAINT, 14));
        assert_eq!(fk.kind, ObjectKind::ForeignKey);
        assert_eq!(fk.table, None);
        assert_eq!(
            fk.create,
            vec![
                "ALTER TABLE ONLY \"s\".\"r\" ADD CONSTRAINT \"r_fk\" FOREIGN KEY (a) REFERENCES s.p(a)"
            ]
        );
        assert!(fk.deps.contains(&ObjId::new(synthetic::ATTACH, 51)));
    }

    #[test]
    fn not_valid_checks_come_after_the_data() {
        let c = build(&partitioned());
        let chk = find(&c, ObjId::new(class::PG_CONSTRAINT, 15));
        assert_eq!(chk.section, Section::PostData);
        assert_eq!(chk.table, None);
        assert_eq!(
            chk.create,
            vec!["ALTER TABLE \"s\".\"r\" ADD CONSTRAINT \"r_small\" CHECK ((a < 5)) NOT VALID"]
        );
        let table = find(&c, ObjId::new(class::PG_CLASS, 3));
        assert!(!table.create[0].contains("r_small"));
    }

    #[test]
    fn inherited_columns_are_adjusted_not_repeated() {
        let parent = rel(1, 'r', "parent");
        let child = rel(2, 'r', "child");
        let mut cat = RelationCatalog {
            server_version_num: 150000,
            relations: vec![parent, child],
            ..Default::default()
        };
        let mut pa = col(1, 1, "a", "integer");
        pa.default = Some("1".into());
        pa.storage = 'm';
        cat.columns.insert(1, vec![pa.clone()]);
        let mut ca = pa.clone();
        ca.relid = 2;
        ca.is_local = false;
        ca.inh_count = 1;
        ca.default = Some("2".into());
        ca.not_null = true;
        let own = col(2, 2, "own", "text");
        cat.columns.insert(2, vec![ca, own]);
        cat.parents.insert(2, vec![1]);
        let c = build(&cat);
        let child = find(&c, ObjId::new(class::PG_CLASS, 2));
        assert_eq!(
            child.create,
            vec![
                "CREATE TABLE \"s\".\"child\" (\n    \"own\" text\n)\nINHERITS (\"s\".\"parent\")\nUSING \"heap\"",
                "ALTER TABLE ONLY \"s\".\"child\" ALTER COLUMN \"a\" SET DEFAULT 2",
                "ALTER TABLE ONLY \"s\".\"child\" ALTER COLUMN \"a\" SET NOT NULL",
                "ALTER TABLE ONLY \"s\".\"child\" ALTER COLUMN \"a\" SET STORAGE MAIN",
            ]
        );
    }

    #[test]
    fn refreshes_follow_the_materialized_views_they_read() {
        let mut a = rel(1, 'm', "a");
        a.view_definition = Some(" SELECT 1;".into());
        let mut v = rel(2, 'v', "v");
        v.view_definition = Some(" SELECT 1;".into());
        let mut b = rel(3, 'm', "b");
        b.view_definition = Some(" SELECT 1;".into());
        let mut empty = rel(4, 'm', "empty");
        empty.populated = false;
        empty.view_definition = Some(" SELECT 1;".into());
        let cat = RelationCatalog {
            relations: vec![a, v, b, empty],
            // b reads v, which reads a.
            view_reads: vec![(3, 2), (2, 1)],
            ..Default::default()
        };
        let c = build(&cat);
        let rb = find(&c, ObjId::new(synthetic::REFRESH, 3));
        assert_eq!(rb.create, vec!["REFRESH MATERIALIZED VIEW \"s\".\"b\""]);
        assert!(rb.deps.contains(&ObjId::new(synthetic::REFRESH, 1)));
        assert_eq!(rb.privilege, Privilege::MaySkip);
        assert!(
            !c.objects
                .iter()
                .any(|o| o.id == ObjId::new(synthetic::REFRESH, 4))
        );
        let mv = find(&c, ObjId::new(class::PG_CLASS, 3));
        assert!(
            mv.create[0].ends_with("AS\nSELECT 1\n  WITH NO DATA"),
            "{}",
            mv.create[0]
        );
    }

    #[test]
    fn tablespaces_are_carried_not_written() {
        let mut t = rel(1, 'r', "t");
        t.tablespace = Some("fast".into());
        let cat = RelationCatalog {
            relations: vec![t],
            ..Default::default()
        };
        let c = build(&cat);
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
        let o = find(&c, ObjId::new(class::PG_CLASS, 1));
        assert_eq!(o.tablespace.as_deref(), Some("fast"));
        // The executor decides (SET default_tablespace), so the statements never name it.
        assert!(!o.create[0].contains("fast"));
    }

    #[test]
    fn cloned_triggers_are_created_once() {
        let parent = rel(1, 'p', "p");
        let mut part = rel(2, 'r', "p1");
        part.is_partition = true;
        let mut part2 = rel(3, 'r', "p2");
        part2.is_partition = true;
        let trg = |oid, relid, parent, enabled| Trigger {
            oid,
            relid,
            name: "t".into(),
            definition: "CREATE TRIGGER t ...".into(),
            enabled,
            parent,
            ..Default::default()
        };
        let cat = RelationCatalog {
            relations: vec![parent, part, part2],
            triggers: vec![trg(10, 1, 0, 'O'), trg(11, 2, 10, 'O'), trg(12, 3, 10, 'D')],
            ..Default::default()
        };
        let c = build(&cat);
        let triggers: Vec<&SchemaObject> = c
            .objects
            .iter()
            .filter(|o| o.kind == ObjectKind::Trigger)
            .collect();
        assert_eq!(triggers.len(), 2);
        assert_eq!(triggers[0].create, vec!["CREATE TRIGGER t ..."]);
        assert_eq!(triggers[0].table, None);
        assert_eq!(
            triggers[1].create,
            vec!["ALTER TABLE ONLY \"s\".\"p2\" DISABLE TRIGGER \"t\""]
        );
        assert_eq!(
            aliased(&c, ObjId::new(class::PG_TRIGGER, 11)),
            Some(ObjId::new(class::PG_TRIGGER, 10))
        );
    }
}
