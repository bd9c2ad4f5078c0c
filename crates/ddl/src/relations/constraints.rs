//! Post-data constraints: PRIMARY KEY / UNIQUE / EXCLUDE, NOT VALID and split-out CHECKs, PG18
//! NOT NULL constraints and foreign keys, with the aliases of the constraint rows that are part
//! of their table.
//!
//! Its own file as one part of [`super`]'s builders; it shares their lookups ([`super::Ctx`])
//! and helpers through `use super::*`.

use super::*;

pub(super) fn build_constraints(ctx: &Ctx, out: &mut Collected) {
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
        match c.kind {
            'p' | 'u' | 'x' => out.objects.push(key_constraint(ctx, rel, c)),
            'f' if c.parent != 0 => alias_to(ObjId::new(class::PG_CONSTRAINT, c.parent), out),
            'f' => out.objects.push(foreign_key(ctx, rel, c, &index_children)),
            'c' if (!c.validated && c.is_local) || ctx.check_is_split(c) => {
                out.objects.push(post_data_check(rel, c));
            }
            't' => {
                if let Some(t) = trigger_of.get(&c.oid) {
                    alias_to(ObjId::new(class::PG_TRIGGER, *t), out);
                }
            }
            'n' if !c.validated && c.is_local => {
                out.objects.extend(not_valid_not_null(ctx, rel, c));
            }
            // Inline or inherited CHECKs, PG18 NOT NULL constraints: part of the table.
            _ => alias_to(rel_id(rel.oid), out),
        }
    }
}

/// The post-data object of constraint `c` on `rel`, without its statements.
fn constraint_object(rel: &Relation, c: &Constraint, kind: ObjectKind) -> SchemaObject {
    SchemaObject::new(
        ObjId::new(class::PG_CONSTRAINT, c.oid),
        kind,
        Section::PostData,
        Some(&rel.schema),
        tag(rel, &c.name),
    )
}

/// `COMMENT ON CONSTRAINT` of `c` (on `rel`), when it has one.
fn comment_on(rel: &Relation, c: &Constraint, o: &mut SchemaObject) {
    o.extend_comments(comment_sql(
        &format!("CONSTRAINT {} ON", quote_ident(&c.name)),
        &qname(rel),
        c.comment.as_deref(),
    ));
}

/// A PRIMARY KEY, UNIQUE or EXCLUDE constraint, with what its index carries (options,
/// tablespace, comment).
fn key_constraint(ctx: &Ctx, rel: &Relation, c: &Constraint) -> SchemaObject {
    let mut o = constraint_object(rel, c, ObjectKind::Constraint);
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
        o.set_tablespace(idx.tablespace.clone());
        o.extend_comments(comment_sql(
            "INDEX",
            &qualified(&idx.schema, &idx.name),
            idx.comment.as_deref(),
        ));
    }
    comment_on(rel, c, &mut o);
    o.table = data_table(rel);
    o
}

/// A foreign key of its own (not one a partition inherits), after the attachments of the
/// index it uses ([`attach_tree`]).
fn foreign_key(
    ctx: &Ctx,
    rel: &Relation,
    c: &Constraint,
    index_children: &HashMap<u32, Vec<u32>>,
) -> SchemaObject {
    let mut o = constraint_object(rel, c, ObjectKind::ForeignKey);
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
    comment_on(rel, c, &mut o);
    attach_tree(ctx, c.index, index_children, &mut o.deps);
    o
}

/// A CHECK created after the data: NOT VALID (the source's rows may violate it), or split out
/// of its table to break a cycle (after the data too, like pg_dump, and without ONLY so that
/// it reaches inheritance children as it did in the source).
fn post_data_check(rel: &Relation, c: &Constraint) -> SchemaObject {
    let kind = if !c.validated && c.is_local {
        ObjectKind::Constraint
    } else {
        ObjectKind::TablePart
    };
    let mut o = constraint_object(rel, c, kind);
    o.create.push(format!(
        "{} ADD CONSTRAINT {} {}",
        alter_plain(rel),
        quote_ident(&c.name),
        c.definition
    ));
    comment_on(rel, c, &mut o);
    o.deps = vec![rel_id(rel.oid)];
    o
}

/// A PG18 NOT VALID not-null constraint: like a NOT VALID check. `None` when its column is not
/// among the table's.
fn not_valid_not_null(ctx: &Ctx, rel: &Relation, c: &Constraint) -> Option<SchemaObject> {
    let column = c
        .columns
        .first()
        .and_then(|n| ctx.columns(rel.oid).iter().find(|col| col.num == *n))?;
    let mut o = constraint_object(rel, c, ObjectKind::Constraint);
    o.create.push(format!(
        "{} ADD CONSTRAINT {} NOT NULL {}{} NOT VALID",
        alter_plain(rel),
        quote_ident(&c.name),
        quote_ident(&column.name),
        if c.no_inherit { " NO INHERIT" } else { "" }
    ));
    comment_on(rel, c, &mut o);
    o.deps = vec![rel_id(rel.oid)];
    Some(o)
}
