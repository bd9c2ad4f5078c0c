//! Who may use a relation and what it says of itself: its privileges (and its columns'), its
//! row-level security switches and its comments (and its columns'). The schema-drift
//! fingerprint hashes them as the relation's `access` entry ([`access_definition`]), so that
//! a `GRANT`, an `ENABLE ROW LEVEL SECURITY` or a `COMMENT` made on the source during
//! replication is seen; [`relation_access`] reads them apart, for the engine to bring the
//! target's level with the source's.
//!
//! Privileges are written without their grantor and without the owner's own: the target's
//! owner may be another role (a managed target's), and the grantor follows the owner, so
//! neither tells the two sides apart.

use db_migrate_conn::Session;
use db_migrate_core::error::{Error, Result};

/// The SQL expression (over `pg_class c`) of a relation's access definition: its privileges
/// and its columns', its row-level security switches, its comment and its columns'. The same
/// text on both sides means the same access.
pub fn access_definition(server_version_num: u32) -> String {
    let rls = if server_version_num >= 90500 {
        "CASE WHEN c.relrowsecurity THEN ' RLS' ELSE '' END || CASE WHEN c.relforcerowsecurity THEN ' FORCE' ELSE '' END"
    } else {
        "''"
    };
    format!(
        "coalesce((SELECT pg_catalog.string_agg(g.item, ', ' ORDER BY g.item) FROM ({grants}) g), '') ||
         coalesce((SELECT pg_catalog.string_agg(pg_catalog.quote_ident(a.attname) || ' (' || g.item || ')', ', '
                                                ORDER BY a.attnum, g.item)
                     FROM pg_catalog.pg_attribute a, LATERAL ({column_grants}) g
                    WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attacl IS NOT NULL), '') ||
         {rls} ||
         coalesce(' COMMENT ' || pg_catalog.quote_literal(pg_catalog.obj_description(c.oid, 'pg_class')), '') ||
         coalesce((SELECT pg_catalog.string_agg(' COMMENT ' || pg_catalog.quote_ident(a.attname) || ' ' ||
                                                pg_catalog.quote_literal(d.description), '' ORDER BY a.attnum)
                     FROM pg_catalog.pg_attribute a
                     JOIN pg_catalog.pg_description d
                       ON d.objoid = a.attrelid AND d.classoid = 'pg_catalog.pg_class'::pg_catalog.regclass
                      AND d.objsubid = a.attnum
                    WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '')",
        grants = grants_of("c.relacl"),
        column_grants = grants_of("a.attacl"),
    )
}

/// `grantee privilege[ WITH GRANT OPTION]` rows (`item`) of an ACL column of a relation `c`,
/// without the owner's own entries; an ACL never changed (`NULL`) is the owner's alone.
fn grants_of(acl: &str) -> String {
    format!(
        "SELECT CASE WHEN x.grantee = 0 THEN 'PUBLIC' ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(x.grantee)) END
                || ' ' || x.privilege_type || CASE WHEN x.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END AS item
           FROM pg_catalog.aclexplode({acl}) x
          WHERE {acl} IS NOT NULL AND x.grantee <> c.relowner"
    )
}

/// One privilege: to whom (`PUBLIC` or a quoted role), which (`SELECT`), on which column
/// (`None`: the relation), and whether it may be granted on.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Grant {
    pub column: Option<String>,
    pub grantee: String,
    pub privilege: String,
    pub grantable: bool,
}

/// A relation's access as [`relation_access`] reads it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Access {
    /// `pg_class.relkind`.
    pub kind: char,
    /// The text the fingerprint hashes ([`access_definition`]).
    pub definition: String,
    pub grants: Vec<Grant>,
    pub row_security: bool,
    pub force_row_security: bool,
    pub comment: Option<String>,
    /// `(column, comment)` of the columns with one.
    pub column_comments: Vec<(String, String)>,
}

/// The access of the relation `regclass` (as `regclass` writes it) on the session's database;
/// `None` when there is no such relation.
pub async fn relation_access(s: &Session, regclass: &str) -> Result<Option<Access>> {
    let v = s.server_version_num();
    let rls = if v >= 90500 {
        "c.relrowsecurity, c.relforcerowsecurity"
    } else {
        "false, false"
    };
    let head = s
        .query_opt(
            &format!(
                "SELECT c.relkind::text, {definition}, {rls},
                        pg_catalog.obj_description(c.oid, 'pg_class')
                   FROM pg_catalog.pg_class c WHERE c.oid = pg_catalog.to_regclass($1)",
                definition = access_definition(v)
            ),
            &[&regclass],
        )
        .await
        .map_err(Error::from_pg)?;
    let Some(head) = head else {
        return Ok(None);
    };
    let grants = s
        .query(
            "SELECT NULL::text, CASE WHEN x.grantee = 0 THEN 'PUBLIC'
                                     ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(x.grantee)) END,
                    x.privilege_type, x.is_grantable
               FROM pg_catalog.pg_class c, pg_catalog.aclexplode(c.relacl) x
              WHERE c.oid = pg_catalog.to_regclass($1) AND x.grantee <> c.relowner
             UNION ALL
             SELECT a.attname::text, CASE WHEN x.grantee = 0 THEN 'PUBLIC'
                                          ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(x.grantee)) END,
                    x.privilege_type, x.is_grantable
               FROM pg_catalog.pg_class c
               JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped,
                    pg_catalog.aclexplode(a.attacl) x
              WHERE c.oid = pg_catalog.to_regclass($1) AND x.grantee <> c.relowner",
            &[&regclass],
        )
        .await
        .map_err(Error::from_pg)?;
    let column_comments = s
        .query(
            "SELECT a.attname::text, d.description
               FROM pg_catalog.pg_attribute a
               JOIN pg_catalog.pg_description d
                 ON d.objoid = a.attrelid AND d.classoid = 'pg_catalog.pg_class'::pg_catalog.regclass
                AND d.objsubid = a.attnum
              WHERE a.attrelid = pg_catalog.to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped
              ORDER BY a.attnum",
            &[&regclass],
        )
        .await
        .map_err(Error::from_pg)?;
    let mut grants: Vec<Grant> = grants
        .iter()
        .map(|r| Grant {
            column: r.get(0),
            grantee: r.get(1),
            privilege: r.get(2),
            grantable: r.get(3),
        })
        .collect();
    grants.sort();
    Ok(Some(Access {
        kind: head.get::<_, String>(0).chars().next().unwrap_or('r'),
        definition: head.get(1),
        row_security: head.get(2),
        force_row_security: head.get(3),
        comment: head.get(4),
        grants,
        column_comments: column_comments
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect(),
    }))
}
