//! Indexes (`ON ONLY` for partitioned tables, with their `ATTACH PARTITION` trees), what an index
//! brings along (CLUSTER ON, REPLICA IDENTITY USING INDEX, statistics targets) and extended
//! statistics.
//!
//! Its own file as one part of [`super`]'s builders; it shares their lookups ([`super::Ctx`])
//! and helpers through `use super::*`.

use super::*;

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

/// Statements an index brings along: CLUSTER ON, REPLICA IDENTITY USING INDEX, statistics
/// targets of expression columns.
pub(super) fn index_extras(rel: &Relation, idx: &Index) -> Vec<String> {
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

pub(super) fn build_indexes(ctx: &Ctx, out: &mut Collected) {
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
        o.set_tablespace(idx.tablespace.clone());
        o.extend_comments(comment_sql("INDEX", &qidx, idx.comment.as_deref()));
        o.table = data_table(rel);
        out.objects.push(o);
    }
}

/// The index-attach objects of every index below `index` in a partition tree: a foreign key
/// referencing a partitioned table needs its unique index complete (valid).
pub(super) fn attach_tree(
    ctx: &Ctx,
    index: u32,
    children: &HashMap<u32, Vec<u32>>,
    out: &mut Vec<ObjId>,
) {
    if let Some(kids) = children.get(&index) {
        for k in kids {
            if ctx.indexes.contains_key(k) {
                out.push(ObjId::new(synthetic::ATTACH, *k));
                attach_tree(ctx, *k, children, out);
            }
        }
    }
}

pub(super) fn build_statistics(ctx: &Ctx, out: &mut Collected) {
    for st in &ctx.cat.statistics {
        let Some(rel) = ctx.rels.get(&st.relid) else {
            continue;
        };
        out.objects.push(statistics_object(rel, st));
    }
}

pub(super) fn statistics_object(rel: &Relation, st: &Statistics) -> SchemaObject {
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
    o.extend_comments(comment_sql("STATISTICS", &q, st.comment.as_deref()));
    o.table = data_table(rel);
    o
}
