//! What the copy planner reads from the catalogs: on the source (in the snapshot), the
//! relations whose rows or values move, with their columns, sizes, extension-configuration
//! conditions and single-column integer primary key; the types those columns use; partition
//! ancestry; the large objects. On the target, every user relation with what decides how it
//! can be loaded (kind, TRUNCATE privilege, foreign keys pointing at it, triggers that fire,
//! column types). And the sequences whose values are carried, for the copy and the cut-over.
//!
//! Its own file because these are the copy stage's catalog reads, kept with the rest of the
//! catalog SQL: `copy::plan` decides over the plain structs returned here (binary or text,
//! parts, TRUNCATE and FREEZE) and writes no catalog SQL of its own.

use std::collections::{HashMap, HashSet};

use tokio_postgres::Row;

use crate::scope::USER_SCHEMAS;
use db_migrate_conn::Session;
use db_migrate_core::error::{Error, Result};

/// (schema, name) of a relation.
pub type RelKey = (String, String);

/// What the planner needs to know about one type to decide binary COPY (`pg_type`).
#[derive(Debug, Clone)]
pub struct TypeInfo {
    pub oid: u32,
    pub name: String,
    /// `typtype`: b(ase), c(omposite), d(omain), e(num), p(seudo), r(ange), m(ultirange).
    pub typtype: char,
    pub category: char,
    pub in_pg_catalog: bool,
    pub has_binary_io: bool,
    /// Element type of a true (varlena) array, else 0.
    pub array_elem: u32,
    /// Base type of a domain, else 0.
    pub base: u32,
    /// Subtype of a range, or the range type of a multirange, else 0.
    pub inner: u32,
}

/// A relation as the source catalog describes it (a table of kind `r`; sequences are listed
/// apart, in [`SourceCatalog::sequences`]).
#[derive(Debug, Clone)]
pub struct SourceTable {
    pub schema: String,
    pub name: String,
    /// Columns in attribute order: not dropped, not generated.
    pub columns: Vec<String>,
    /// Type OID of each column of [`SourceTable::columns`].
    pub types: Vec<u32>,
    /// `pg_table_size` (heap + TOAST).
    pub est_bytes: u64,
    /// Heap blocks (`pg_relation_size / block_size`), for TID-range parts.
    pub blocks: u64,
    /// Row-level security is enabled (`relrowsecurity`).
    pub rls: bool,
    /// `pg_extension.extcondition` of an extension configuration table (`Some("")` when it has
    /// none), `None` for a table that belongs to no extension.
    pub ext_condition: Option<String>,
    /// The column of a single-column `smallint`/`integer`/`bigint` primary key.
    pub int_pk: Option<String>,
}

/// A relation as the target catalog describes it.
#[derive(Debug, Clone)]
pub struct TargetTable {
    pub relkind: char,
    pub can_truncate: bool,
    /// Referenced by a foreign key of another table (TRUNCATE would fail).
    pub referenced: bool,
    /// Enabled user triggers that fire during COPY in the session's replication role.
    pub firing_triggers: i64,
    /// Foreign keys of this table (checked during COPY unless session_replication_role =
    /// replica).
    pub foreign_keys: i64,
    /// Column name -> type OID.
    pub columns: HashMap<String, u32>,
}

/// The source database as the copy planner sees it.
#[derive(Debug, Default)]
pub struct SourceCatalog {
    /// Tables in (schema, name) order.
    pub tables: Vec<SourceTable>,
    /// Sequences in (schema, name) order.
    pub sequences: Vec<RelKey>,
    /// Every type the tables' columns use, and the types those are built from.
    pub types: HashMap<u32, TypeInfo>,
    /// (partition, partitioned table it is a direct or indirect partition of), one row per
    /// ancestor.
    pub ancestry: Vec<(RelKey, RelKey)>,
    /// Partitioned tables (all levels).
    pub partitioned: Vec<RelKey>,
    /// OIDs of the large objects, in order.
    pub large_objects: Vec<u32>,
}

/// The target database as the copy planner sees it.
#[derive(Debug, Default)]
pub struct TargetCatalog {
    pub tables: HashMap<RelKey, TargetTable>,
    pub sequences: HashSet<RelKey>,
}

/// The relations, sequences and large objects of the source (read in the coordinator's
/// transaction, so inside the snapshot). `extension_tables`: extension configuration tables
/// are listed too (other extension members never are).
pub async fn read_source(src: &Session, extension_tables: bool) -> Result<SourceCatalog> {
    let tables_sql = tables_sql(src.server_version_num(), extension_tables);
    let rows = src.query(&tables_sql, &[]).await.map_err(Error::from_pg)?;
    let mut out = SourceCatalog::default();
    let mut used_types: HashSet<u32> = HashSet::new();
    for r in &rows {
        let kind: String = r.get(2);
        let schema: String = r.get(0);
        let name: String = r.get(1);
        if kind == "S" {
            out.sequences.push((schema, name));
            continue;
        }
        let types: Vec<u32> = r.get(8);
        used_types.extend(types.iter().copied());
        out.tables.push(SourceTable {
            schema,
            name,
            rls: r.get(3),
            ext_condition: r.get(4),
            est_bytes: r.get::<_, i64>(5).max(0) as u64,
            blocks: r.get::<_, i64>(6).max(0) as u64,
            columns: r.get(7),
            types,
            int_pk: r.get(9),
        });
    }
    out.types = read_types(src, used_types).await?;

    read_ancestry(src, &mut out).await?;

    out.large_objects = src
        .query(
            "SELECT oid FROM pg_catalog.pg_largeobject_metadata ORDER BY oid",
            &[],
        )
        .await
        .map_err(Error::from_pg)?
        .iter()
        .map(|r| r.get(0))
        .collect();
    Ok(out)
}

/// The query of [`read_source`]'s tables and sequences: user tables and sequences (extension
/// configuration tables too with `extension_tables`), with their sizes, columns (not generated
/// ones), column types and a single-column integer primary key.
fn tables_sql(v: u32, extension_tables: bool) -> String {
    let not_generated = if v >= 120000 {
        "AND a.attgenerated = ''"
    } else {
        ""
    };
    let ext_filter = if extension_tables {
        "(NOT x.ext_member OR x.cond IS NOT NULL)"
    } else {
        "NOT x.ext_member"
    };
    format!(
        "WITH cfg AS (
           SELECT u.reloid, u.cond
             FROM pg_catalog.pg_extension e,
                  LATERAL ROWS FROM (pg_catalog.unnest(e.extconfig), pg_catalog.unnest(e.extcondition)) AS u(reloid, cond)
         ), x AS (
           SELECT c.oid, n.nspname::text AS nspname, c.relname::text AS relname, c.relkind,
                  c.relrowsecurity,
                  EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                           WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
                             AND d.objid = c.oid
                             AND d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass
                             AND d.deptype = 'e') AS ext_member,
                  coalesce(
                    (SELECT coalesce(cfg.cond, '') FROM cfg WHERE cfg.reloid = c.oid LIMIT 1),
                    -- A sequence owned by a configuration table (a serial key of pgq's queue
                    -- table, postgis_topology's topology table) is configuration too: without
                    -- its value the target's next insert hits a copied key.
                    CASE WHEN c.relkind = 'S' THEN
                      (SELECT '' FROM pg_catalog.pg_depend o JOIN cfg ON cfg.reloid = o.refobjid
                        WHERE o.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
                          AND o.objid = c.oid
                          AND o.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
                          AND o.deptype IN ('a', 'i') LIMIT 1)
                    END) AS cond
             FROM pg_catalog.pg_class c
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'S') AND c.relpersistence <> 't'
              AND {USER_SCHEMAS}
         )
         SELECT x.nspname, x.relname, x.relkind::text,
                x.relrowsecurity,
                CASE WHEN x.ext_member THEN x.cond END AS ext_condition,
                CASE WHEN x.relkind = 'r' THEN pg_catalog.pg_table_size(x.oid) ELSE 0 END::int8 AS bytes,
                CASE WHEN x.relkind = 'r' THEN pg_catalog.pg_relation_size(x.oid)
                     / pg_catalog.current_setting('block_size')::int8 ELSE 0 END::int8 AS blocks,
                ARRAY(SELECT a.attname::text FROM pg_catalog.pg_attribute a
                       WHERE a.attrelid = x.oid AND a.attnum > 0 AND NOT a.attisdropped {not_generated}
                       ORDER BY a.attnum) AS cols,
                ARRAY(SELECT a.atttypid FROM pg_catalog.pg_attribute a
                       WHERE a.attrelid = x.oid AND a.attnum > 0 AND NOT a.attisdropped {not_generated}
                       ORDER BY a.attnum) AS types,
                (SELECT a.attname::text FROM pg_catalog.pg_index i
                   JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
                  WHERE i.indrelid = x.oid AND i.indisprimary AND i.indnatts = 1
                    AND a.atttypid IN (20, 21, 23) LIMIT 1) AS int_pk
           FROM x
          WHERE {ext_filter}
          ORDER BY 1, 2"
    )
}

/// Partition ancestry into `out`: (leaf schema, leaf name, ancestor schema, ancestor name),
/// then every partitioned table (with an empty leaf in the query).
async fn read_ancestry(src: &Session, out: &mut SourceCatalog) -> Result<()> {
    let anc_sql = "WITH RECURSIVE anc(leaf, parent) AS (
           SELECT i.inhrelid, i.inhparent FROM pg_catalog.pg_inherits i
             JOIN pg_catalog.pg_class p ON p.oid = i.inhparent WHERE p.relkind = 'p'
           UNION ALL
           SELECT a.leaf, i.inhparent FROM anc a
             JOIN pg_catalog.pg_inherits i ON i.inhrelid = a.parent
             JOIN pg_catalog.pg_class p ON p.oid = i.inhparent WHERE p.relkind = 'p'
         )
         SELECT ln.nspname::text, l.relname::text, pn.nspname::text, p.relname::text
           FROM anc a
           JOIN pg_catalog.pg_class l ON l.oid = a.leaf
           JOIN pg_catalog.pg_namespace ln ON ln.oid = l.relnamespace
           JOIN pg_catalog.pg_class p ON p.oid = a.parent
           JOIN pg_catalog.pg_namespace pn ON pn.oid = p.relnamespace
         UNION ALL
         SELECT '', '', n.nspname::text, c.relname::text
           FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
          WHERE c.relkind = 'p'";
    for r in src.query(anc_sql, &[]).await.map_err(Error::from_pg)? {
        let (ls, ln, ps, pn): (String, String, String, String) =
            (r.get(0), r.get(1), r.get(2), r.get(3));
        if ls.is_empty() {
            out.partitioned.push((ps, pn));
        } else {
            out.ancestry.push(((ls, ln), (ps, pn)));
        }
    }
    Ok(())
}

/// Type facts for `used` and every type they are built from (array elements, domain bases,
/// range subtypes, multirange ranges).
pub async fn read_types(src: &Session, used: HashSet<u32>) -> Result<HashMap<u32, TypeInfo>> {
    let multirange = if src.server_version_num() >= 140000 {
        "(SELECT r.rngtypid FROM pg_catalog.pg_range r WHERE r.rngmultitypid = t.oid)"
    } else {
        "NULL::oid"
    };
    let sql = format!(
        "WITH RECURSIVE closure(oid) AS (
           SELECT pg_catalog.unnest($1::oid[])
           UNION
           SELECT v.x FROM closure c
             JOIN pg_catalog.pg_type t ON t.oid = c.oid,
             LATERAL (VALUES (CASE WHEN t.typlen = -1 THEN t.typelem END),
                             (t.typbasetype),
                             ((SELECT r.rngsubtype FROM pg_catalog.pg_range r WHERE r.rngtypid = t.oid)),
                             ({multirange})) AS v(x)
            WHERE v.x IS NOT NULL AND v.x <> 0
         )
         SELECT t.oid, t.typname::text, t.typtype::text, t.typcategory::text,
                t.typnamespace = 'pg_catalog'::pg_catalog.regnamespace,
                t.typsend::oid <> 0 AND t.typreceive::oid <> 0,
                CASE WHEN t.typlen = -1 THEN t.typelem ELSE 0 END,
                t.typbasetype,
                coalesce((SELECT r.rngsubtype FROM pg_catalog.pg_range r WHERE r.rngtypid = t.oid),
                         {multirange}, 0)
           FROM closure c JOIN pg_catalog.pg_type t ON t.oid = c.oid"
    );
    let used: Vec<u32> = used.into_iter().collect();
    let rows = src.query(&sql, &[&used]).await.map_err(Error::from_pg)?;
    Ok(rows
        .iter()
        .map(|r| {
            let info = TypeInfo {
                oid: r.get(0),
                name: r.get(1),
                typtype: first_char(r, 2),
                category: first_char(r, 3),
                in_pg_catalog: r.get(4),
                has_binary_io: r.get(5),
                array_elem: r.get(6),
                base: r.get(7),
                inner: r.get(8),
            };
            (info.oid, info)
        })
        .collect())
}

fn first_char(r: &Row, i: usize) -> char {
    r.get::<_, String>(i).chars().next().unwrap_or(' ')
}

/// The target's view of every user relation: kind, truncatability, triggers, columns.
/// `replica`: whether the loading sessions run with `session_replication_role = replica`
/// (which decides which triggers fire).
pub async fn read_target(tgt: &Session, replica: bool) -> Result<TargetCatalog> {
    let firing = if replica { "('R', 'A')" } else { "('O', 'A')" };
    let sql = format!(
        "SELECT n.nspname::text, c.relname::text, c.relkind::text,
                pg_catalog.has_table_privilege(c.oid, 'TRUNCATE'),
                EXISTS (SELECT 1 FROM pg_catalog.pg_constraint k
                         WHERE k.contype = 'f' AND k.confrelid = c.oid AND k.conrelid <> c.oid),
                (SELECT count(*) FROM pg_catalog.pg_trigger t
                  WHERE t.tgrelid = c.oid AND NOT t.tgisinternal AND t.tgenabled IN {firing}),
                (SELECT count(*) FROM pg_catalog.pg_constraint k
                  WHERE k.contype = 'f' AND k.conrelid = c.oid),
                ARRAY(SELECT a.attname::text FROM pg_catalog.pg_attribute a
                       WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                       ORDER BY a.attnum),
                ARRAY(SELECT a.atttypid FROM pg_catalog.pg_attribute a
                       WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                       ORDER BY a.attnum)
           FROM pg_catalog.pg_class c
           JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
          WHERE c.relkind IN ('r', 'p', 'f', 'S')
            AND {USER_SCHEMAS}"
    );
    let rows = tgt.query(&sql, &[]).await.map_err(Error::from_pg)?;
    let mut tables = HashMap::new();
    let mut sequences = HashSet::new();
    for r in &rows {
        let key: RelKey = (r.get(0), r.get(1));
        let relkind = first_char(r, 2);
        if relkind == 'S' {
            sequences.insert(key);
            continue;
        }
        let names: Vec<String> = r.get(7);
        let types: Vec<u32> = r.get(8);
        tables.insert(
            key,
            TargetTable {
                relkind,
                can_truncate: r.get(3),
                referenced: r.get(4),
                firing_triggers: r.get(5),
                foreign_keys: r.get(6),
                columns: names.into_iter().zip(types).collect(),
            },
        );
    }
    Ok(TargetCatalog { tables, sequences })
}

/// The sequences of the source database to carry, by schema and name: user sequences, and
/// with `extension_config` the extension configuration sequences (`pg_extension.extconfig`, and
/// those owned by a configuration table);
/// the same rule as the copy plan's (`--no-replicate-extension-tables` leaves those out).
pub async fn list_sequences(src: &Session, extension_config: bool) -> Result<Vec<RelKey>> {
    let sql = format!(
        "SELECT n.nspname::text, c.relname::text FROM pg_catalog.pg_class c
           JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
          WHERE c.relkind = 'S' AND c.relpersistence <> 't'
            AND {USER_SCHEMAS}
            AND (NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                              WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
                                AND d.objid = c.oid
                                AND d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass
                                AND d.deptype = 'e')
                 OR ($1 AND EXISTS (SELECT 1 FROM pg_catalog.pg_extension e
                                     WHERE c.oid = ANY (e.extconfig)))
                 OR ($1 AND EXISTS (SELECT 1 FROM pg_catalog.pg_depend o
                                      JOIN pg_catalog.pg_extension e ON o.refobjid = ANY (e.extconfig)
                                     WHERE o.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
                                       AND o.objid = c.oid
                                       AND o.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
                                       AND o.deptype IN ('a', 'i'))))
          ORDER BY 1, 2"
    );
    Ok(src
        .query(&sql, &[&extension_config])
        .await
        .map_err(Error::from_pg)?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect())
}
