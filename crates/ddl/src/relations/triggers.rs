//! Triggers (created once, on the table they were created on) and rules, with their enabled
//! states.
//!
//! Its own file as one part of [`super`]'s builders; it shares their lookups ([`super::Ctx`])
//! and helpers through `use super::*`.

use super::*;

/// The statement that gives a trigger or rule its enabled state, when not the default.
/// `origin_too` also writes `ENABLE` for `O` (for partitions differing from their parent).
pub(super) fn enable_sql(
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

pub(super) fn build_triggers(ctx: &Ctx, out: &mut Collected) {
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
        o.extend_comments(comment_sql(
            &format!("TRIGGER {} ON", quote_ident(&t.name)),
            &qname(rel),
            t.comment.as_deref(),
        ));
        o.table = data_table(rel);
        out.objects.push(o);
    }
}

pub(super) fn build_rules(ctx: &Ctx, out: &mut Collected) {
    for r in &ctx.cat.rules {
        let Some(rel) = ctx.rels.get(&r.relid) else {
            continue;
        };
        let id = ObjId::new(class::PG_REWRITE, r.oid);
        if r.is_view_rule {
            // What the query reads orders the view, or the statement that gives a view in a
            // loop its query (see `views::looped_views`).
            let target = if ctx.looped_views.contains(&rel.oid) {
                ObjId::new(synthetic::VIEW_QUERY, rel.oid)
            } else {
                rel_id(rel.oid)
            };
            out.aliases.push(Alias { alias: id, target });
            continue;
        }
        out.objects.push(rule_object(rel, r));
    }
}

pub(super) fn rule_object(rel: &Relation, r: &Rule) -> SchemaObject {
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
    o.extend_comments(comment_sql(
        &format!("RULE {} ON", quote_ident(&r.name)),
        &qname(rel),
        r.comment.as_deref(),
    ));
    o.table = data_table(rel);
    o
}
