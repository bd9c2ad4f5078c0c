//! What users changed on the members of extensions (objects `CREATE EXTENSION` creates,
//! `pg_depend.deptype = 'e'`), read into plain structs for [`crate::schema::extensions`].
//!
//! Members themselves are never created one by one: the target's `CREATE EXTENSION` makes
//! them. What it cannot know are the privileges granted or revoked since: the server records
//! the privileges the extension's script left in `pg_init_privs` (`privtype = 'e'`), so a
//! member whose privileges differ from those (or, with no such row, from the kind's defaults)
//! is read here, like pg_dump does.

use db_migrate_conn::Session;
use db_migrate_core::error::{Error, Result};

/// One extension member whose privileges are not the ones its extension's script left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberAcl {
    /// The extension (`pg_extension.oid`).
    pub extension: u32,
    pub classid: u32,
    pub objid: u32,
    /// The keyword `GRANT ... ON` takes for it: `TABLE`, `SEQUENCE`, `FUNCTION`,
    /// `PROCEDURE`, `TYPE`, `SCHEMA`, `FOREIGN DATA WRAPPER`, `FOREIGN SERVER`, `LANGUAGE`.
    pub keyword: String,
    /// `pg_identify_object(...).identity`: the qualified, quoted name (with argument types for
    /// routines), usable after the keyword.
    pub identity: String,
    pub owner: String,
    /// The privileges now, as text items.
    pub acl: Vec<String>,
    /// The privileges the extension's script left (`pg_init_privs`), or the kind's defaults
    /// for the owner when it left none.
    pub initial: Vec<String>,
}

/// Members of extensions whose privileges differ from `pg_init_privs`, in catalog order.
pub async fn list_member_acls(s: &Session) -> Result<Vec<MemberAcl>> {
    // One row per member of a kind that has privileges: its owner, ACL and the kind's default.
    let sql = "\
        WITH m AS ( \
          SELECT d.classid, d.objid, d.refobjid AS ext FROM pg_catalog.pg_depend d \
           WHERE d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass \
             AND d.deptype = 'e' AND d.objsubid = 0), \
        x AS ( \
          SELECT 'pg_catalog.pg_class'::pg_catalog.regclass::pg_catalog.oid AS classid, c.oid, \
                 CASE c.relkind WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END AS kw, \
                 c.relowner AS owner, c.relacl AS acl, \
                 pg_catalog.acldefault(CASE c.relkind WHEN 'S' THEN 's' ELSE 'r' END::\"char\", \
                                       c.relowner) AS dflt \
            FROM pg_catalog.pg_class c WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') \
          UNION ALL \
          SELECT 'pg_catalog.pg_proc'::pg_catalog.regclass::pg_catalog.oid, p.oid, \
                 CASE p.prokind WHEN 'p' THEN 'PROCEDURE' ELSE 'FUNCTION' END, \
                 p.proowner, p.proacl, pg_catalog.acldefault('f', p.proowner) \
            FROM pg_catalog.pg_proc p \
          UNION ALL \
          SELECT 'pg_catalog.pg_type'::pg_catalog.regclass::pg_catalog.oid, t.oid, 'TYPE', \
                 t.typowner, t.typacl, pg_catalog.acldefault('T', t.typowner) \
            FROM pg_catalog.pg_type t \
          UNION ALL \
          SELECT 'pg_catalog.pg_namespace'::pg_catalog.regclass::pg_catalog.oid, n.oid, 'SCHEMA', \
                 n.nspowner, n.nspacl, pg_catalog.acldefault('n', n.nspowner) \
            FROM pg_catalog.pg_namespace n \
          UNION ALL \
          SELECT 'pg_catalog.pg_foreign_data_wrapper'::pg_catalog.regclass::pg_catalog.oid, \
                 w.oid, 'FOREIGN DATA WRAPPER', w.fdwowner, w.fdwacl, \
                 pg_catalog.acldefault('F', w.fdwowner) \
            FROM pg_catalog.pg_foreign_data_wrapper w \
          UNION ALL \
          SELECT 'pg_catalog.pg_foreign_server'::pg_catalog.regclass::pg_catalog.oid, \
                 v.oid, 'FOREIGN SERVER', v.srvowner, v.srvacl, \
                 pg_catalog.acldefault('S', v.srvowner) \
            FROM pg_catalog.pg_foreign_server v \
          UNION ALL \
          SELECT 'pg_catalog.pg_language'::pg_catalog.regclass::pg_catalog.oid, l.oid, \
                 'LANGUAGE', l.lanowner, l.lanacl, pg_catalog.acldefault('l', l.lanowner) \
            FROM pg_catalog.pg_language l) \
        SELECT m.ext, m.classid, m.objid, x.kw, \
               (pg_catalog.pg_identify_object(m.classid, m.objid, 0)).identity, \
               pg_catalog.pg_get_userbyid(x.owner)::text, x.acl::text[], \
               COALESCE(ip.initprivs, x.dflt)::text[] \
          FROM m \
          JOIN x ON x.classid = m.classid AND x.oid = m.objid \
          LEFT JOIN pg_catalog.pg_init_privs ip \
                 ON ip.classoid = m.classid AND ip.objoid = m.objid AND ip.objsubid = 0 \
                AND ip.privtype = 'e' \
         WHERE x.acl IS NOT NULL \
           AND x.acl::text[] IS DISTINCT FROM COALESCE(ip.initprivs, x.dflt)::text[] \
         ORDER BY m.classid, m.objid";
    let rows = s
        .query(sql, &[])
        .await
        .map_err(|e| Error::from_pg(e).with_step("reading privileges of extension members"))?;
    Ok(rows
        .iter()
        .map(|r| MemberAcl {
            extension: r.get(0),
            classid: r.get(1),
            objid: r.get(2),
            keyword: r.get(3),
            identity: r.get(4),
            owner: r.get(5),
            acl: r.get::<_, Option<Vec<String>>>(6).unwrap_or_default(),
            initial: r.get::<_, Option<Vec<String>>>(7).unwrap_or_default(),
        })
        .collect())
}

/// The comment of one extension member (or of a column of a member table).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberComment {
    /// The extension (`pg_extension.oid`).
    pub extension: u32,
    /// `pg_identify_object`'s type ("function", "table column", ...).
    pub object_type: String,
    /// `pg_identify_object`'s identity, quoted as SQL needs.
    pub identity: String,
    pub comment: String,
}

/// The comments on extension members and their columns, in catalog order: the script's own and
/// the ones users set since, which only a comparison with the target's `CREATE EXTENSION` can
/// tell apart ([`crate::schema::extensions::drop_provided`]).
pub async fn list_member_comments(s: &Session) -> Result<Vec<MemberComment>> {
    let sql = "\
        SELECT d.refobjid, i.type::text, i.identity::text, c.description \
          FROM pg_catalog.pg_description c \
          JOIN pg_catalog.pg_depend d \
            ON d.classid = c.classoid AND d.objid = c.objoid AND d.objsubid = 0 \
           AND d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass AND d.deptype = 'e', \
               LATERAL pg_catalog.pg_identify_object(c.classoid, c.objoid, c.objsubid) i \
         ORDER BY c.classoid, c.objoid, c.objsubid";
    let rows = s
        .query(sql, &[])
        .await
        .map_err(|e| Error::from_pg(e).with_step("reading comments of extension members"))?;
    Ok(rows
        .iter()
        .map(|r| MemberComment {
            extension: r.get(0),
            object_type: r.get(1),
            identity: r.get(2),
            comment: r.get(3),
        })
        .collect())
}

/// Every extension member of the session's database as `pg_identify_object`'s
/// `(type, identity)`.
pub async fn list_members(s: &Session) -> Result<Vec<(String, String)>> {
    let sql = "\
        SELECT i.type::text, i.identity::text \
          FROM pg_catalog.pg_depend d, \
               LATERAL pg_catalog.pg_identify_object(d.classid, d.objid, 0) i \
         WHERE d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass \
           AND d.deptype = 'e' AND d.objsubid = 0";
    let rows = s
        .query(sql, &[])
        .await
        .map_err(|e| Error::from_pg(e).with_step("reading extension members"))?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// The `(schema, name)` of every relation and type of the session's database that belongs to
/// an extension: names a user's table, index or type cannot take there. The schema rehearsal
/// checks the objects it left out against them (`crate::schema::rehearsal`).
pub async fn member_names(s: &Session) -> Result<Vec<(String, String)>> {
    let sql = "\
        SELECT n.nspname::text, c.relname::text FROM pg_catalog.pg_depend d \
          JOIN pg_catalog.pg_class c ON c.oid = d.objid \
          JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.deptype = 'e' \
        UNION SELECT n.nspname::text, t.typname::text FROM pg_catalog.pg_depend d \
          JOIN pg_catalog.pg_type t ON t.oid = d.objid \
          JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace \
         WHERE d.classid = 'pg_catalog.pg_type'::pg_catalog.regclass AND d.deptype = 'e'";
    let rows = s
        .query(sql, &[])
        .await
        .map_err(|e| Error::from_pg(e).with_step("reading the names of extension members"))?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// The versions of each extension a server offers (`pg_available_extension_versions`), with
/// the one `CREATE EXTENSION` picks without `VERSION` (`default_version`, `None` when the
/// control file names none).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Offered {
    pub versions: Vec<String>,
    pub default: Option<String>,
}

/// What the server offers, by extension name.
pub async fn offered_versions(s: &Session) -> Result<std::collections::HashMap<String, Offered>> {
    let rows = s
        .query(
            "SELECT a.name::text, a.default_version, \
                    COALESCE((SELECT pg_catalog.array_agg(v.version::text) \
                                FROM pg_catalog.pg_available_extension_versions v \
                               WHERE v.name = a.name), '{}') \
               FROM pg_catalog.pg_available_extensions a",
            &[],
        )
        .await
        .map_err(|e| Error::from_pg(e).with_step("reading the target's available extensions"))?;
    Ok(rows
        .iter()
        .map(|r| {
            (
                r.get(0),
                Offered {
                    default: r.get(1),
                    versions: r.get(2),
                },
            )
        })
        .collect())
}

/// Something attached to a table (`kind`: `index`, `constraint`, `trigger`, `policy`, `rule`
/// or `statistics`), by the table's schema and name and its own name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TablePartName {
    pub kind: &'static str,
    pub schema: String,
    pub table: String,
    pub name: String,
}

/// Which of `parts` exist in the session's database (their positions in `parts`), in one
/// query.
pub async fn existing_parts(s: &Session, parts: &[TablePartName]) -> Result<Vec<usize>> {
    if parts.is_empty() {
        return Ok(Vec::new());
    }
    let kinds: Vec<&str> = parts.iter().map(|p| p.kind).collect();
    let schemas: Vec<&str> = parts.iter().map(|p| p.schema.as_str()).collect();
    let tables: Vec<&str> = parts.iter().map(|p| p.table.as_str()).collect();
    let names: Vec<&str> = parts.iter().map(|p| p.name.as_str()).collect();
    let rows = s
        .query(
            "SELECT (u.i - 1)::int8 FROM ( \
               SELECT k, pg_catalog.to_regclass(pg_catalog.quote_ident(n) || '.' || \
                                                pg_catalog.quote_ident(t))::pg_catalog.oid AS rel, \
                      o, i \
                 FROM ROWS FROM (pg_catalog.unnest($1::text[]), pg_catalog.unnest($2::text[]), \
                                 pg_catalog.unnest($3::text[]), pg_catalog.unnest($4::text[])) \
                      WITH ORDINALITY AS a(k, n, t, o, i)) u \
              WHERE u.rel IS NOT NULL AND CASE u.k \
                WHEN 'index' THEN EXISTS (SELECT 1 FROM pg_catalog.pg_index x \
                     JOIN pg_catalog.pg_class c ON c.oid = x.indexrelid \
                    WHERE x.indrelid = u.rel AND c.relname = u.o) \
                WHEN 'constraint' THEN EXISTS (SELECT 1 FROM pg_catalog.pg_constraint x \
                    WHERE x.conrelid = u.rel AND x.conname = u.o) \
                WHEN 'trigger' THEN EXISTS (SELECT 1 FROM pg_catalog.pg_trigger x \
                    WHERE x.tgrelid = u.rel AND x.tgname = u.o) \
                WHEN 'policy' THEN EXISTS (SELECT 1 FROM pg_catalog.pg_policy x \
                    WHERE x.polrelid = u.rel AND x.polname = u.o) \
                WHEN 'rule' THEN EXISTS (SELECT 1 FROM pg_catalog.pg_rewrite x \
                    WHERE x.ev_class = u.rel AND x.rulename = u.o) \
                WHEN 'statistics' THEN EXISTS (SELECT 1 FROM pg_catalog.pg_statistic_ext x \
                    WHERE x.stxrelid = u.rel AND x.stxname = u.o) \
                ELSE false END",
            &[&kinds, &schemas, &tables, &names],
        )
        .await
        .map_err(|e| Error::from_pg(e).with_step("reading what CREATE EXTENSION created"))?;
    Ok(rows.iter().map(|r| r.get::<_, i64>(0) as usize).collect())
}
