//! Column definitions inside `CREATE TABLE` (type, collation, default, identity, generated,
//! NOT NULL) and the per-column `ALTER TABLE` statements that follow it (storage, compression,
//! statistics, options, what inheritance would have set differently).
//!
//! Its own file as one part of [`super`]'s builders; it shares their lookups ([`super::Ctx`])
//! and helpers through `use super::*`.

use super::*;

/// One column definition inside `CREATE TABLE` / `CREATE FOREIGN TABLE`.
pub(crate) fn column_definition(ctx: &Ctx, rel: &Relation, col: &Column) -> String {
    let mut sql = quote_ident(&col.name);
    if rel.of_type().is_some() {
        sql.push_str(" WITH OPTIONS");
    } else {
        sql.push(' ');
        sql.push_str(&col.type_name);
    }
    if rel.kind == 'f' && !col.fdw_options().is_empty() {
        sql.push(' ');
        sql.push_str(&generic_options(col.fdw_options()));
    }
    if rel.of_type().is_none()
        && let Some((s, n)) = col.collation()
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
pub(crate) fn default_constraint_name(name1: &str, name2: &str, label: &str) -> String {
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
pub(super) fn column_is_printed(rel: &Relation, col: &Column) -> bool {
    if rel.of_type().is_some() {
        // Typed tables get their columns from the type; only options are written.
        return col.default.is_some() || col.not_null;
    }
    col.is_local || rel.is_partition
}

/// Statements run after `CREATE TABLE` for one column: what the column definition cannot say
/// or what inheritance would have set differently.
pub(super) fn column_alters(ctx: &Ctx, rel: &Relation, col: &Column, printed: bool) -> Vec<String> {
    let mut out = Vec::new();
    let alter_col = format!(
        "{} ALTER COLUMN {}",
        alter_only(rel),
        quote_ident(&col.name)
    );
    let typed_or_inherited = rel.of_type().is_some() || (!printed && !ctx.standalone(rel));
    let inherited_from = if ctx.standalone(rel) || rel.of_type().is_some() {
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
        if rel.kind == 'f' && !col.fdw_options().is_empty() {
            let adds: Vec<String> = col
                .fdw_options()
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
    if let Some(t) = col.stat_target() {
        out.push(format!("{alter_col} SET STATISTICS {t}"));
    }
    out
}

/// The column's attribute options (`n_distinct`...), one statement each, for
/// [`SchemaObject::options`]; the ones a server set for itself are left out.
pub(super) fn column_options(rel: &Relation, col: &Column) -> Vec<String> {
    if rel.kind == 'v' {
        // Views have no attribute options.
        return Vec::new();
    }
    let alter_col = format!(
        "{} ALTER COLUMN {}",
        alter_only(rel),
        quote_ident(&col.name)
    );
    option_statements(&alter_col, col.options(), None)
}

pub(super) fn storage_name(c: char) -> &'static str {
    match c {
        'p' => "PLAIN",
        'e' => "EXTERNAL",
        'm' => "MAIN",
        _ => "EXTENDED",
    }
}

pub(super) fn compression_name(c: Option<char>) -> &'static str {
    match c {
        Some('p') => "pglz",
        Some('l') => "lz4",
        _ => "default",
    }
}
