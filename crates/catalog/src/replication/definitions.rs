//! Every user object of a database with its definition as the server itself deparses it: what
//! the replication method's schema-drift fingerprint (`crate::replication::fingerprint`) hashes.
//! Schemas, tables with their columns, defaults and replica identity, sequences with their
//! options (`ALTER SEQUENCE ... INCREMENT BY` is a change), views,
//! constraints, indexes, functions, triggers, row-level security policies, rules (of tables),
//! extended statistics and enum types, outside extensions; a partition's table with its
//! partitioned table and bound; a relation's privileges, row-level security switches and
//! comments, when it has any, as its `access` entry ([`super::access`]).

use crate::scope::USER_SCHEMAS;
use db_migrate_conn::Session;
use db_migrate_core::error::Result;

/// One object: its kind (`table`, `index`...), identity (schema-qualified, as `regclass`,
/// `regprocedure` or `regtype` write it, on a session with `search_path = ''`) and definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectDefinition {
    pub kind: String,
    pub identity: String,
    pub definition: String,
}

fn query(server_version_num: u32) -> String {
    let plain_functions = if server_version_num >= 110000 {
        "p.prokind IN ('f', 'p')"
    } else {
        "NOT p.proisagg AND NOT p.proiswindow"
    };
    // A constraint a partition inherits from its partitioned table's (a foreign key's or
    // CHECK's clone) is the server's, named by it in creation order: it follows the parent.
    let own_constraints = if server_version_num >= 110000 {
        "co.conparentid = 0"
    } else {
        "true"
    };
    // A partition's parent and bound: a partition detached (or attached) on the source is a
    // change of its table. Nothing for other tables, whose hash stays what it was.
    let partition_of = if server_version_num >= 100000 {
        "CASE WHEN c.relispartition THEN coalesce((SELECT ' PARTITION OF ' || i.inhparent::pg_catalog.regclass::text || ' ' ||
                                                          coalesce(pg_catalog.pg_get_expr(c.relpartbound, c.oid), '')
                                                     FROM pg_catalog.pg_inherits i WHERE i.inhrelid = c.oid), '')
              ELSE '' END"
    } else {
        "''"
    };
    let not_ext = |classid: &str, oid: &str| {
        format!(
            "NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = '{classid}'::pg_catalog.regclass AND d.objid = {oid} AND d.deptype = 'e')"
        )
    };
    format!(
        "SELECT 'schema', n.nspname::text, pg_catalog.pg_get_userbyid(n.nspowner)::text
           FROM pg_catalog.pg_namespace n WHERE {USER_SCHEMAS} AND {ns_ext}
         UNION ALL
         SELECT CASE c.relkind WHEN 'S' THEN 'sequence' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view'
                               WHEN 'f' THEN 'foreign table' ELSE 'table' END,
                c.oid::pg_catalog.regclass::text,
                c.relkind::text || ' ' || c.relreplident::text || ' ' || c.relpersistence::text || ' ' ||
                coalesce((SELECT pg_catalog.string_agg(pg_catalog.quote_ident(a.attname) || ' ' ||
                              pg_catalog.format_type(a.atttypid, a.atttypmod) ||
                              CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END ||
                              coalesce(' DEFAULT ' || pg_catalog.pg_get_expr(ad.adbin, ad.adrelid), ''),
                              ', ' ORDER BY a.attnum)
                          FROM pg_catalog.pg_attribute a
                          LEFT JOIN pg_catalog.pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
                          WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '') ||
                CASE WHEN c.relkind IN ('v', 'm') THEN ' AS ' || coalesce(pg_catalog.pg_get_viewdef(c.oid), '') ELSE '' END ||
                {partition_of} ||
                coalesce((SELECT ' AS ' || pg_catalog.format_type(q.seqtypid, NULL) || ' START ' || q.seqstart ||
                                 ' INCREMENT ' || q.seqincrement || ' MIN ' || q.seqmin || ' MAX ' || q.seqmax ||
                                 ' CACHE ' || q.seqcache || CASE WHEN q.seqcycle THEN ' CYCLE' ELSE '' END
                            FROM pg_catalog.pg_sequence q WHERE q.seqrelid = c.oid), '')
           FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
          WHERE c.relkind IN ('r', 'p', 'S', 'v', 'm', 'f') AND {USER_SCHEMAS} AND {rel_ext}
         UNION ALL
         SELECT 'access', a.identity, a.definition
           FROM (SELECT c.oid::pg_catalog.regclass::text AS identity, {access} AS definition
                   FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                  WHERE c.relkind IN ('r', 'p', 'S', 'v', 'm', 'f') AND {USER_SCHEMAS} AND {rel_ext}) a
          WHERE a.definition <> ''
         UNION ALL
         SELECT 'constraint', co.conrelid::pg_catalog.regclass::text || '.' || pg_catalog.quote_ident(co.conname),
                pg_catalog.pg_get_constraintdef(co.oid)
           FROM pg_catalog.pg_constraint co JOIN pg_catalog.pg_class c ON c.oid = co.conrelid
           JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
          WHERE {USER_SCHEMAS} AND {rel_ext} AND {own_constraints}
         UNION ALL
         SELECT 'index', i.indexrelid::pg_catalog.regclass::text, pg_catalog.pg_get_indexdef(i.indexrelid)
           FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = i.indrelid
           JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
          WHERE {USER_SCHEMAS} AND {rel_ext}
         UNION ALL
         SELECT 'function', p.oid::pg_catalog.regprocedure::text, pg_catalog.pg_get_functiondef(p.oid)
           FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
          WHERE {USER_SCHEMAS} AND {plain_functions} AND {proc_ext}
         UNION ALL
         SELECT 'trigger', t.tgrelid::pg_catalog.regclass::text || '.' || pg_catalog.quote_ident(t.tgname),
                pg_catalog.pg_get_triggerdef(t.oid)
           FROM pg_catalog.pg_trigger t JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
           JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
          WHERE NOT t.tgisinternal AND {USER_SCHEMAS} AND {rel_ext}
         UNION ALL
         SELECT 'policy', p.polrelid::pg_catalog.regclass::text || '.' || pg_catalog.quote_ident(p.polname),
                p.polcmd::text || CASE WHEN p.polpermissive THEN ' PERMISSIVE' ELSE ' RESTRICTIVE' END ||
                ' TO ' || coalesce((SELECT pg_catalog.string_agg(r.name, ', ' ORDER BY r.name)
                                      FROM (SELECT CASE WHEN u = 0 THEN 'PUBLIC'
                                                        ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(u)) END AS name
                                              FROM pg_catalog.unnest(p.polroles) u) r), '') ||
                coalesce(' USING (' || pg_catalog.pg_get_expr(p.polqual, p.polrelid) || ')', '') ||
                coalesce(' WITH CHECK (' || pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) || ')', '')
           FROM pg_catalog.pg_policy p JOIN pg_catalog.pg_class c ON c.oid = p.polrelid
           JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
          WHERE {USER_SCHEMAS} AND {rel_ext}
         UNION ALL
         SELECT 'rule', r.ev_class::pg_catalog.regclass::text || '.' || pg_catalog.quote_ident(r.rulename),
                pg_catalog.pg_get_ruledef(r.oid)
           FROM pg_catalog.pg_rewrite r JOIN pg_catalog.pg_class c ON c.oid = r.ev_class
           JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
          WHERE r.rulename <> '_RETURN' AND {USER_SCHEMAS} AND {rel_ext}
         UNION ALL
         SELECT 'statistics', pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(x.stxname),
                pg_catalog.pg_get_statisticsobjdef(x.oid)
           FROM pg_catalog.pg_statistic_ext x JOIN pg_catalog.pg_namespace n ON n.oid = x.stxnamespace
          WHERE {USER_SCHEMAS} AND {stx_ext}
         UNION ALL
         SELECT 'type', t.oid::pg_catalog.regtype::text,
                (SELECT pg_catalog.string_agg(pg_catalog.quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder)
                   FROM pg_catalog.pg_enum e WHERE e.enumtypid = t.oid)
           FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
          WHERE t.typtype = 'e' AND {USER_SCHEMAS} AND {type_ext}",
        ns_ext = not_ext("pg_catalog.pg_namespace", "n.oid"),
        rel_ext = not_ext("pg_catalog.pg_class", "c.oid"),
        proc_ext = not_ext("pg_catalog.pg_proc", "p.oid"),
        type_ext = not_ext("pg_catalog.pg_type", "t.oid"),
        stx_ext = not_ext("pg_catalog.pg_statistic_ext", "x.oid"),
        access = super::access::access_definition(server_version_num),
    )
}

/// Every user object of the session's database (see the module docs).
pub async fn object_definitions(s: &Session) -> Result<Vec<ObjectDefinition>> {
    let rows = s.simple_query(&query(s.server_version_num())).await?;
    Ok(rows
        .into_iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => Some(ObjectDefinition {
                kind: r.get(0).unwrap_or("").to_owned(),
                identity: r.get(1).unwrap_or("").to_owned(),
                definition: r.get(2).unwrap_or("").to_owned(),
            }),
            _ => None,
        })
        .collect())
}
