//! What the selection flags choose from: the user schemas of a database and its relations, as
//! pg_dump's `-t` / `-T` / `--exclude-table-data` see them (tables, partitioned tables, foreign
//! tables, views, materialized views, sequences), with what the selection needs to decide about
//! each (partition ancestry, the table owning a sequence, the tables whose defaults use it,
//! extension membership, size).

use db_migrate_conn::Session;
use db_migrate_core::error::{Error, Result};

/// One relation of a source database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedRelation {
    pub oid: u32,
    pub schema: String,
    pub name: String,
    /// `r` table, `p` partitioned table, `f` foreign table, `v` view, `m` materialized view,
    /// `S` sequence.
    pub relkind: char,
    /// Partitioned tables this one is a partition of, nearest first.
    pub ancestors: Vec<(String, String)>,
    /// For a sequence: the table owning it (`OWNED BY`, identity and serial columns).
    pub owned_by: Option<(String, String)>,
    /// For a sequence: the tables with a column default that uses it (`nextval('s')`), which
    /// need it whichever table owns it (a table created `LIKE t INCLUDING ALL` shares `t`'s).
    pub used_by: Vec<(String, String)>,
    /// Member of an extension (created by `CREATE EXTENSION`).
    pub extension_member: bool,
    /// `pg_total_relation_size` (heap, TOAST, indexes), 0 when not readable.
    pub total_bytes: u64,
    /// `oid::regclass::text` (schema-qualified, quoted where needed: sessions run with an
    /// empty search_path), as other catalog queries name tables in messages.
    pub regclass: String,
}

/// The user schemas (not `pg_*`, not `information_schema`) and relations of the session's
/// database, in name order.
pub async fn list_relations(s: &Session) -> Result<(Vec<String>, Vec<ListedRelation>)> {
    let schemas = s
        .query(
            &format!(
                "SELECT n.nspname::text FROM pg_catalog.pg_namespace n WHERE {} ORDER BY 1",
                crate::scope::USER_SCHEMAS
            ),
            &[],
        )
        .await
        .map_err(|e| Error::from_pg(e).with_step("listing schemas"))?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let sql = format!(
        "WITH RECURSIVE anc(child, parent, depth) AS (
           SELECT i.inhrelid, i.inhparent, 1 FROM pg_catalog.pg_inherits i
             JOIN pg_catalog.pg_class p ON p.oid = i.inhparent WHERE p.relkind = 'p'
           UNION ALL
           SELECT a.child, i.inhparent, a.depth + 1 FROM anc a
             JOIN pg_catalog.pg_inherits i ON i.inhrelid = a.parent
             JOIN pg_catalog.pg_class p ON p.oid = i.inhparent WHERE p.relkind = 'p'
         )
         SELECT c.oid::int8, n.nspname::text, c.relname::text, c.relkind::text,
                ARRAY(SELECT pn.nspname::text FROM anc a
                        JOIN pg_catalog.pg_class p ON p.oid = a.parent
                        JOIN pg_catalog.pg_namespace pn ON pn.oid = p.relnamespace
                       WHERE a.child = c.oid ORDER BY a.depth),
                ARRAY(SELECT p.relname::text FROM anc a
                        JOIN pg_catalog.pg_class p ON p.oid = a.parent
                       WHERE a.child = c.oid ORDER BY a.depth),
                (SELECT tn.nspname::text FROM pg_catalog.pg_depend d
                   JOIN pg_catalog.pg_class t ON t.oid = d.refobjid
                   JOIN pg_catalog.pg_namespace tn ON tn.oid = t.relnamespace
                  WHERE c.relkind = 'S' AND d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
                    AND d.objid = c.oid AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
                    AND d.refobjsubid > 0 AND d.deptype IN ('a', 'i') LIMIT 1),
                (SELECT t.relname::text FROM pg_catalog.pg_depend d
                   JOIN pg_catalog.pg_class t ON t.oid = d.refobjid
                  WHERE c.relkind = 'S' AND d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
                    AND d.objid = c.oid AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
                    AND d.refobjsubid > 0 AND d.deptype IN ('a', 'i') LIMIT 1),
                EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                         WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
                           AND d.objid = c.oid
                           AND d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass
                           AND d.deptype = 'e'),
                coalesce(pg_catalog.pg_total_relation_size(c.oid), 0)::int8,
                c.oid::pg_catalog.regclass::text,
                ARRAY(SELECT un.nspname::text FROM pg_catalog.pg_depend d
                        JOIN pg_catalog.pg_attrdef ad ON ad.oid = d.objid
                        JOIN pg_catalog.pg_class u ON u.oid = ad.adrelid
                        JOIN pg_catalog.pg_namespace un ON un.oid = u.relnamespace
                       WHERE c.relkind = 'S'
                         AND d.classid = 'pg_catalog.pg_attrdef'::pg_catalog.regclass
                         AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
                         AND d.refobjid = c.oid ORDER BY u.oid),
                ARRAY(SELECT u.relname::text FROM pg_catalog.pg_depend d
                        JOIN pg_catalog.pg_attrdef ad ON ad.oid = d.objid
                        JOIN pg_catalog.pg_class u ON u.oid = ad.adrelid
                       WHERE c.relkind = 'S'
                         AND d.classid = 'pg_catalog.pg_attrdef'::pg_catalog.regclass
                         AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
                         AND d.refobjid = c.oid ORDER BY u.oid)
           FROM pg_catalog.pg_class c
           JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
          WHERE c.relkind IN ('r', 'p', 'f', 'v', 'm', 'S') AND c.relpersistence <> 't'
            AND {}
          ORDER BY 2, 3",
        crate::scope::USER_SCHEMAS
    );
    let rows = s
        .query(&sql, &[])
        .await
        .map_err(|e| Error::from_pg(e).with_step("listing tables"))?;
    let relations = rows
        .iter()
        .map(|r| {
            let anc_schemas: Vec<String> = r.get(4);
            let anc_names: Vec<String> = r.get(5);
            let owner_schema: Option<String> = r.get(6);
            let owner_name: Option<String> = r.get(7);
            let user_schemas: Vec<String> = r.get(11);
            let user_names: Vec<String> = r.get(12);
            ListedRelation {
                oid: r.get::<_, i64>(0) as u32,
                schema: r.get(1),
                name: r.get(2),
                relkind: r.get::<_, String>(3).chars().next().unwrap_or('r'),
                ancestors: anc_schemas.into_iter().zip(anc_names).collect(),
                owned_by: owner_schema.zip(owner_name),
                used_by: user_schemas.into_iter().zip(user_names).collect(),
                extension_member: r.get(8),
                total_bytes: r.get::<_, i64>(9).max(0) as u64,
                regclass: r.get(10),
            }
        })
        .collect();
    Ok((schemas, relations))
}
