//! `CREATE TABLE` (plain, partitioned, foreign, typed) built in named steps, and the objects a
//! table brings along: split-out defaults, the partition attachment, row-level security.
//!
//! Its own file as one part of [`super`]'s builders; it shares their lookups ([`super::Ctx`])
//! and helpers through `use super::*`.

use super::*;

/// Whether a CHECK constraint is written inside `CREATE TABLE` (validated, and local or on a
/// partition, which is created standalone and must have its parent's checks to be attached).
/// Children built through a stand-in parent get theirs afterwards ([`super::inherit`]).
pub(super) fn check_is_inline(ctx: &Ctx, rel: &Relation, c: &Constraint) -> bool {
    c.kind == 'c'
        && c.validated
        && (c.is_local || rel.is_partition)
        && !ctx.stand_in.contains(&rel.oid)
}

/// A table and what it brings along, in the steps below: the `CREATE TABLE` and the statements
/// that complete it (one object), then the defaults split out of it, its partition attachment
/// and its row-level security switches (objects of their own).
pub(super) fn build_table(ctx: &Ctx, rel: &Relation, out: &mut Collected) {
    let mut o = base_object(rel, object_kind(rel), Section::PreData);
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

    let (items, printed) = table_elements(ctx, rel, cols, constraints, stand_in.as_ref());
    let sql = create_table(ctx, rel, &items, stand_in.as_ref());
    match stand_in {
        Some(plan) => {
            o.create.push(plan.before);
            o.create.push(sql);
            o.create.extend(plan.after);
        }
        None => o.create.push(sql),
    }
    if rel.kind != 'f' {
        o.set_tablespace(rel.tablespace().map(str::to_owned));
    }
    // The table's own options before its columns'.
    o.extend_options(relation_options(rel));
    for (c, p) in cols.iter().zip(&printed) {
        o.create.extend(column_alters(ctx, rel, c, *p));
        o.extend_options(column_options(rel, c));
    }
    o.create.extend(replica_identity(rel));
    acl_and_comments(rel, cols, &mut o);
    inline_check_comments(ctx, rel, constraints, &mut o);
    identity_sequences(ctx, rel, cols, &mut o, out);
    row_type_aliases(rel, out);
    attrdef_aliases(ctx, rel, cols, out);
    out.objects.push(o);

    split_defaults(ctx, rel, cols, out);
    partition_attach(ctx, rel, out);
    row_security(rel, out);
}

/// The elements inside `CREATE TABLE (...)`: the printed columns (or a stand-in parent's plan)
/// and the inline CHECK constraints; with, per column, whether it was printed.
fn table_elements(
    ctx: &Ctx,
    rel: &Relation,
    cols: &[Column],
    constraints: &[&Constraint],
    stand_in: Option<&super::inherit::InheritPlan>,
) -> (Vec<String>, Vec<bool>) {
    let mut items: Vec<String> = Vec::new();
    let mut printed = Vec::with_capacity(cols.len());
    for c in cols {
        let p = column_is_printed(rel, c);
        printed.push(p);
        if p && stand_in.is_none() {
            items.push(column_definition(ctx, rel, c));
        }
    }
    if let Some(plan) = stand_in {
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
    (items, printed)
}

/// The `CREATE [FOREIGN | UNLOGGED] TABLE` statement: elements or `OF type`, `INHERITS`,
/// `PARTITION BY`, `USING`, and a foreign table's server and options (storage parameters are
/// statements of their own: [`relation_options`]).
fn create_table(
    ctx: &Ctx,
    rel: &Relation,
    items: &[String],
    stand_in: Option<&super::inherit::InheritPlan>,
) -> String {
    let mut sql = String::from("CREATE ");
    if rel.kind == 'f' {
        sql.push_str("FOREIGN ");
    } else if rel.persistence == 'u' {
        sql.push_str("UNLOGGED ");
    }
    sql.push_str("TABLE ");
    sql.push_str(&qname(rel));
    if let Some(t) = rel.of_type() {
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
    if let Some(plan) = stand_in {
        sql.push_str(&format!("\nINHERITS ({})", plan.inherits));
    } else if !rel.is_partition && !parents.is_empty() {
        let names: Vec<String> = parents
            .iter()
            .filter_map(|p| ctx.rels.get(p).map(|r| qname(r)))
            .collect();
        sql.push_str(&format!("\nINHERITS ({})", names.join(", ")));
    }
    if let Some(key) = rel.partition_key() {
        sql.push_str(&format!("\nPARTITION BY {key}"));
    }
    if let Some(am) = &rel.access_method
        && (rel.kind == 'r' || (rel.kind == 'p' && am != "heap"))
    {
        sql.push_str(&format!("\nUSING {}", quote_ident(am)));
    }
    if rel.kind == 'f' {
        if let Some(server) = rel.foreign_server() {
            sql.push_str(&format!("\nSERVER {}", quote_ident(server)));
        }
        let opts = generic_options(rel.foreign_options());
        if !opts.is_empty() {
            sql.push('\n');
            sql.push_str(&opts);
        }
    }
    sql
}

/// `REPLICA IDENTITY NOTHING | FULL` when the table is not at its default (foreign tables have
/// none).
fn replica_identity(rel: &Relation) -> Option<String> {
    if rel.kind == 'f' {
        return None;
    }
    match rel.replica_identity {
        'n' => Some(format!("{} REPLICA IDENTITY NOTHING", alter_only(rel))),
        'f' => Some(format!("{} REPLICA IDENTITY FULL", alter_only(rel))),
        _ => None,
    }
}

/// Comments of the CHECK constraints that exist once the table is created.
fn inline_check_comments(
    ctx: &Ctx,
    rel: &Relation,
    constraints: &[&Constraint],
    o: &mut SchemaObject,
) {
    let q = qname(rel);
    for c in constraints
        .iter()
        .filter(|c| c.kind == 'c' && c.validated && !ctx.check_is_split(c))
    {
        o.extend_comments(comment_sql(
            &format!("CONSTRAINT {} ON", quote_ident(&c.name)),
            &q,
            c.comment.as_deref(),
        ));
    }
}

/// Identity sequences are part of the table: their persistence, privileges and comments too,
/// and their catalog rows are aliased to it.
fn identity_sequences(
    ctx: &Ctx,
    rel: &Relation,
    cols: &[Column],
    o: &mut SchemaObject,
    out: &mut Collected,
) {
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
            o.extend_acl(acl_sql(
                &format!("SEQUENCE {sq}"),
                &seq_rel.owner,
                seq_rel.acl.as_deref(),
                &seq_rel.acl_default,
                None,
            ));
            o.extend_comments(comment_sql("SEQUENCE", &sq, seq_rel.comment.as_deref()));
            out.aliases.push(Alias {
                alias: rel_id(seq.oid),
                target: rel_id(rel.oid),
            });
            row_type_aliases(seq_rel, out);
        }
    }
}

/// Defaults split out of the table to break a cycle: pre-data, like pg_dump's.
fn split_defaults(ctx: &Ctx, rel: &Relation, cols: &[Column], out: &mut Collected) {
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
}

/// A partition's `ALTER TABLE ONLY parent ATTACH PARTITION` ([`ObjectKind::TableAttach`]).
fn partition_attach(ctx: &Ctx, rel: &Relation, out: &mut Collected) {
    if rel.is_partition
        && let Some(parent) = ctx.parents(rel.oid).first().and_then(|p| ctx.rels.get(p))
    {
        let mut a = SchemaObject::new(
            ObjId::new(synthetic::ATTACH, rel.oid),
            ObjectKind::TableAttach,
            Section::PreData,
            Some(&rel.schema),
            &rel.name,
        );
        a.create.push(format!(
            "ALTER TABLE ONLY {} ATTACH PARTITION {} {}",
            qname(parent),
            qname(rel),
            rel.partition_bound().unwrap_or("DEFAULT")
        ));
        a.deps = vec![rel_id(rel.oid), rel_id(parent.oid)];
        out.objects.push(a);
    }
}

/// `ENABLE` / `FORCE ROW LEVEL SECURITY`, post-data (after the data load, like pg_dump).
fn row_security(rel: &Relation, out: &mut Collected) {
    if !(rel.row_security || rel.force_row_security) {
        return;
    }
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
