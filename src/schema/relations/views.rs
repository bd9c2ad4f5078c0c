//! Views, materialized views (`WITH NO DATA`) and the `REFRESH MATERIALIZED VIEW` of the
//! populated ones, ordered after the refreshes of what they read.
//!
//! Its own file as one part of [`super`]'s builders; it shares their lookups ([`super::Ctx`])
//! and helpers through `use super::*`.

use super::*;

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

pub(super) fn build_view(ctx: &Ctx, rel: &Relation, out: &mut Collected) {
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
        o.options = relation_options(rel);
        sql.push_str(&format!(" AS\n{}\n  WITH NO DATA", view_query(def)));
        o.create.push(sql);
        o.tablespace = rel.tablespace.clone();
    }
    for c in cols {
        o.create.extend(column_alters(ctx, rel, c, true));
        o.options.extend(column_options(rel, c));
    }
    acl_and_comments(rel, cols, &mut o);
    row_type_aliases(rel, out);
    attrdef_aliases(ctx, rel, cols, out);
    out.objects.push(o);
}

/// `REFRESH MATERIALIZED VIEW` for populated materialized views, after the refreshes of the
/// materialized views their query reads (directly or through views).
pub(super) fn build_refreshes(ctx: &Ctx, out: &mut Collected) {
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
