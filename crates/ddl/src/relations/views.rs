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

/// Views whose query reads themselves, directly (`CREATE VIEW v AS TABLE t; CREATE OR
/// REPLACE VIEW v AS TABLE v`) or through other views (as [`RelationCatalog::view_reads`] can
/// tell: before PostgreSQL 16, a view that reads none of its own columns looks like every
/// other view): such a view cannot be created with its
/// query, which names a relation that does not exist yet (42P01). Like pg_dump, each is created
/// as a stand-in with its columns ([`stand_in_view`]), and its query is given to it by a
/// `CREATE OR REPLACE VIEW` of its own ([`synthetic::VIEW_QUERY`]), which the view's rewrite
/// rule, and so everything the query reads, orders.
pub(super) fn looped_views(cat: &RelationCatalog) -> HashSet<u32> {
    let views: HashMap<u32, usize> = cat
        .relations
        .iter()
        .filter(|r| r.kind == 'v')
        .enumerate()
        .map(|(i, r)| (r.oid, i))
        .collect();
    let mut edges: Vec<Vec<usize>> = vec![Vec::new(); views.len()];
    let mut looped = HashSet::new();
    for (v, r) in &cat.view_reads {
        if let (Some(&a), Some(&b)) = (views.get(v), views.get(r)) {
            if a == b {
                looped.insert(*v);
            }
            edges[a].push(b);
        }
    }
    for e in &mut edges {
        e.sort_unstable();
        e.dedup();
    }
    let component = crate::scc::components(&edges);
    let mut size: HashMap<usize, usize> = HashMap::new();
    for c in &component {
        *size.entry(*c).or_default() += 1;
    }
    looped.extend(
        views
            .iter()
            .filter(|(_, i)| size[&component[**i]] > 1)
            .map(|(oid, _)| *oid),
    );
    looped
}

/// `CREATE VIEW q AS SELECT NULL::type AS "column", ...`: a view with the columns (names,
/// types, collations) of the real one and no query, as pg_dump's `createDummyViewAsClause`
/// writes it, for views in a loop ([`looped_views`]).
pub fn stand_in_view(qname: &str, cols: &[Column]) -> String {
    let items: Vec<String> = cols
        .iter()
        .map(|c| {
            let collate = c
                .collation()
                .map(|(s, n)| format!(" COLLATE {}", qualified(s, n)))
                .unwrap_or_default();
            format!("NULL::{}{collate} AS {}", c.type_name, quote_ident(&c.name))
        })
        .collect();
    format!("CREATE VIEW {qname} AS\n SELECT {}", items.join(",\n    "))
}

pub(super) fn build_view(ctx: &Ctx, rel: &Relation, out: &mut Collected) {
    let kind = object_kind(rel);
    let mut o = base_object(rel, kind, Section::PreData);
    let q = qname(rel);
    let cols = ctx.columns(rel.oid);
    let def = rel.view_definition().unwrap_or("");
    if rel.kind == 'v' && ctx.looped_views.contains(&rel.oid) {
        o.create.push(stand_in_view(&q, cols));
        let mut query = SchemaObject::new(
            ObjId::new(synthetic::VIEW_QUERY, rel.oid),
            ObjectKind::View,
            Section::PreData,
            Some(&rel.schema),
            &rel.name,
        );
        let sql = create_view(&q, &rel.options, def);
        query
            .create
            .push(sql.replacen("CREATE VIEW ", "CREATE OR REPLACE VIEW ", 1));
        query.deps = vec![rel_id(rel.oid)];
        out.objects.push(query);
    } else if rel.kind == 'v' {
        // Its options apart ([`SchemaObject::options`]) but `check_option`, which is part of
        // the query (`WITH CHECK OPTION`). (A view in a loop keeps them in its `CREATE OR
        // REPLACE VIEW`, which would reset them.)
        let (check, others): (Vec<String>, Vec<String>) = rel
            .options
            .iter()
            .cloned()
            .partition(|o| split_option(o).0 == "check_option");
        o.create.push(create_view(&q, &check, def));
        o.set_options(option_statements(&alter_only(rel), &others, None));
    } else {
        let mut sql = format!("CREATE MATERIALIZED VIEW {q}");
        if let Some(am) = &rel.access_method {
            sql.push_str(&format!(" USING {}", quote_ident(am)));
        }
        o.set_options(relation_options(rel));
        sql.push_str(&format!(" AS\n{}\n  WITH NO DATA", view_query(def)));
        o.create.push(sql);
        o.set_tablespace(rel.tablespace().map(str::to_owned));
    }
    for c in cols {
        o.create.extend(column_alters(ctx, rel, c, true));
        o.extend_options(column_options(rel, c));
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
