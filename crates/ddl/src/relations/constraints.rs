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
