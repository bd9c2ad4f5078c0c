//! What the source user cannot read in one database: schemas without USAGE, sequences and
//! tables without SELECT (or with SELECT on only some columns), tables whose row-level security
//! would hide rows, and large objects without SELECT. Read for the read-access preflight
//! ([`crate::read_access`]), which turns each row into an error with its fixing statement.
//!
//! Its own file because it is one large query over `pg_class`, `pg_attribute` and
//! `pg_largeobject_metadata` with the privilege functions, about the connected user; the
//! preflight check keeps what it says about each gap.

use db_migrate_conn::Session;
use db_migrate_core::error::Result;

use crate::scope::user_schemas;

/// One row per gap: kind, object, the start of the fixing statement (`TO <user>` is added).
const SQL: &str = concat!(
    "
WITH me AS (
    SELECT r.rolsuper AS su, r.rolsuper OR r.rolbypassrls AS bypass
      FROM pg_catalog.pg_roles r WHERE r.rolname = CURRENT_USER
), rels AS (
    SELECT c.oid, c.relkind, c.relowner, c.relrowsecurity, c.relforcerowsecurity,
           n.oid AS nsp, n.nspname, c.oid::pg_catalog.regclass::text AS name
      FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind IN ('r', 'S') AND ",
    user_schemas!("n"),
    "
       AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                        WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
                          AND d.objid = c.oid AND d.deptype = 'e')
)
SELECT 'schema' AS kind, pg_catalog.quote_ident(s.nspname) AS object,
       'GRANT USAGE ON SCHEMA ' || pg_catalog.quote_ident(s.nspname) AS fix
  FROM (SELECT DISTINCT nsp, nspname FROM rels) s, me
 WHERE NOT me.su AND NOT pg_catalog.has_schema_privilege(s.nsp, 'USAGE')
UNION ALL
SELECT 'sequence', r.name, 'GRANT SELECT ON SEQUENCE ' || r.name
  FROM rels r, me
 WHERE NOT me.su
   AND CASE WHEN r.relkind = 'S' THEN NOT pg_catalog.has_sequence_privilege(r.oid, 'SELECT') ELSE false END
UNION ALL
SELECT 'table', r.name, 'GRANT SELECT ON TABLE ' || r.name
  FROM rels r, me
 WHERE NOT me.su AND r.relkind = 'r' AND NOT pg_catalog.has_table_privilege(r.oid, 'SELECT')
   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
                    WHERE a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped
                      AND pg_catalog.has_column_privilege(r.oid, a.attnum, 'SELECT'))
UNION ALL
SELECT 'columns', r.name || ' (' || pg_catalog.string_agg(pg_catalog.quote_ident(a.attname), ', ' ORDER BY a.attnum) || ')',
       'GRANT SELECT (' || pg_catalog.string_agg(pg_catalog.quote_ident(a.attname), ', ' ORDER BY a.attnum)
       || ') ON TABLE ' || r.name
  FROM rels r
  JOIN pg_catalog.pg_attribute a ON a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped
  CROSS JOIN me
 WHERE NOT me.su AND r.relkind = 'r' AND NOT pg_catalog.has_table_privilege(r.oid, 'SELECT')
   AND NOT pg_catalog.has_column_privilege(r.oid, a.attnum, 'SELECT')
   AND EXISTS (SELECT 1 FROM pg_catalog.pg_attribute b
                WHERE b.attrelid = r.oid AND b.attnum > 0 AND NOT b.attisdropped
                  AND pg_catalog.has_column_privilege(r.oid, b.attnum, 'SELECT'))
 GROUP BY r.oid, r.name
UNION ALL
SELECT 'row-level security', r.name, 'ALTER ROLE'
  FROM rels r, me
 WHERE r.relkind = 'r' AND r.relrowsecurity AND NOT me.bypass
   AND (r.relforcerowsecurity OR NOT pg_catalog.pg_has_role(r.relowner, 'USAGE'))
UNION ALL
SELECT 'large objects', pg_catalog.count(*)::text || ' (e.g. ' ||
       pg_catalog.string_agg(lo.oid::text, ', ' ORDER BY lo.oid) FILTER (WHERE lo.rank <= 5) || ')',
       'GRANT SELECT ON LARGE OBJECT ' || pg_catalog.min(lo.oid)::text
  FROM (SELECT m.oid, pg_catalog.row_number() OVER (ORDER BY m.oid) AS rank
          FROM pg_catalog.pg_largeobject_metadata m, me
         WHERE NOT me.su AND pg_catalog.current_setting('lo_compat_privileges') = 'off'
           AND NOT pg_catalog.pg_has_role(m.lomowner, 'USAGE')
           AND NOT EXISTS (SELECT 1 FROM pg_catalog.aclexplode(m.lomacl) x
                            WHERE x.privilege_type = 'SELECT'
                              AND (x.grantee = 0 OR pg_catalog.pg_has_role(x.grantee, 'USAGE')))) lo
HAVING pg_catalog.count(*) > 0
ORDER BY 1, 2"
);

/// One gap as the catalog reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadGap {
    /// `schema`, `sequence`, `table`, `columns`, `row-level security` or `large objects`.
    pub kind: String,
    /// The object, quoted (a count and examples for large objects).
    pub object: String,
    /// The start of the fixing statement, without its `TO <user>`.
    pub fix_start: String,
}

/// The gaps of the session's database for the session's user (none for a superuser, except
/// row-level security, which only `BYPASSRLS` lifts), by kind and object.
pub async fn read_gaps(s: &Session) -> Result<Vec<ReadGap>> {
    let rows = s.query(SQL, &[]).await?;
    Ok(rows
        .iter()
        .map(|r| ReadGap {
            kind: r.get(0),
            object: r.get(1),
            fix_start: r.get(2),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scope::USER_SCHEMAS;

    #[test]
    fn relations_are_those_of_user_schemas() {
        assert_eq!(SQL.matches(USER_SCHEMAS).count(), 1);
        assert!(SQL.contains("c.relkind IN ('r', 'S') AND n.nspname <> 'information_schema'"));
    }
}
