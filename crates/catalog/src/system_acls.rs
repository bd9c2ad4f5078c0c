//! Privileges on the objects of `pg_catalog` and `information_schema` that differ from the
//! ones `initdb` gave them (`pg_init_privs`), like pg_dump reads them: a source hardened with
//! `REVOKE EXECUTE ON FUNCTION pg_catalog.now() FROM PUBLIC` or opened with `GRANT SELECT
//! (prosrc) ON pg_catalog.pg_proc TO auditor` must stay so on the target.
//!
//! Relations (and their columns, system columns such as `tableoid` included: `GRANT SELECT
//! (tableoid) ON pg_catalog.pg_proc`, in pg_dump's own TAP test) and functions are read; the objects themselves exist on every
//! server, so only their privileges are carried ([`crate::schema::system_acls`]). Members of
//! extensions (e.g. plpgsql's handler in `pg_catalog`) are left to the extension's privileges
//! ([`crate::extensions`]).

use tokio_postgres::Row;

use db_migrate_conn::Session;
use db_migrate_core::error::{Error, Result};

/// The system schemas whose privileges are compared with `pg_init_privs`.
const SYSTEM_SCHEMAS: &str = "n.nspname IN ('pg_catalog', 'information_schema')";

/// Not a member of an extension.
fn not_member(catalog: &str, oid_col: &str) -> String {
    format!(
        "NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend xd WHERE xd.classid = \
           'pg_catalog.{catalog}'::pg_catalog.regclass AND xd.objid = {oid_col} AND xd.deptype = 'e')"
    )
}

/// One system object (or column) whose privileges differ from its initial ones.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SystemAclRow {
    /// `pg_class` or `pg_proc` OID.
    pub oid: u32,
    /// What follows `ON` in GRANT: `TABLE "pg_catalog"."pg_proc"`,
    /// `FUNCTION "pg_catalog"."now"()`.
    pub object: String,
    /// The column, for column privileges.
    pub column: Option<String>,
    pub owner: String,
    /// The privileges now (`None`: the kind's defaults, or none for a column).
    pub acl: Option<Vec<String>>,
    /// The privileges `initdb` left (`pg_init_privs`, else the kind's `acldefault`).
    pub initial: Vec<String>,
    pub is_function: bool,
}

async fn query(s: &Session, phase: &'static str, sql: &str) -> Result<Vec<Row>> {
    s.query(sql, &[])
        .await
        .map_err(|e| Error::from_pg(e).with_step(phase))
}

fn rows(r: &[Row], is_function: bool) -> Vec<SystemAclRow> {
    r.iter()
        .map(|r| SystemAclRow {
            oid: r.get(0),
            object: r.get(1),
            column: r.get(2),
            owner: r.get(3),
            acl: r.get(4),
            initial: r.get::<_, Option<Vec<String>>>(5).unwrap_or_default(),
            is_function,
        })
        .collect()
}

pub async fn list_system_acls(s: &Session) -> Result<Vec<SystemAclRow>> {
    let relations = format!(
        "SELECT c.oid, CASE WHEN c.relkind = 'S' THEN 'SEQUENCE ' ELSE 'TABLE ' END || \
                pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname), \
                NULL::text, pg_catalog.pg_get_userbyid(c.relowner)::text, c.relacl::text[], \
                COALESCE(ip.initprivs, pg_catalog.acldefault(CASE WHEN c.relkind = 'S' THEN 's' \
                         ELSE 'r' END::\"char\", c.relowner))::text[] \
           FROM pg_catalog.pg_class c \
           JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
           LEFT JOIN pg_catalog.pg_init_privs ip ON ip.objoid = c.oid AND ip.objsubid = 0 \
                AND ip.classoid = 'pg_catalog.pg_class'::pg_catalog.regclass \
          WHERE {SYSTEM_SCHEMAS} AND c.relkind IN ('r', 'v', 'm', 'S', 'f', 'p') AND {member} \
            AND c.relacl IS NOT NULL AND c.relacl IS DISTINCT FROM ip.initprivs \
          ORDER BY 2",
        member = not_member("pg_class", "c.oid")
    );
    let columns = format!(
        "SELECT c.oid, 'TABLE ' || pg_catalog.quote_ident(n.nspname) || '.' || \
                pg_catalog.quote_ident(c.relname), a.attname::text, \
                pg_catalog.pg_get_userbyid(c.relowner)::text, \
                COALESCE(a.attacl, '{{}}')::text[], ip.initprivs::text[] \
           FROM pg_catalog.pg_attribute a \
           JOIN pg_catalog.pg_class c ON c.oid = a.attrelid \
           JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
           LEFT JOIN pg_catalog.pg_init_privs ip ON ip.objoid = c.oid AND ip.objsubid = a.attnum \
                AND ip.classoid = 'pg_catalog.pg_class'::pg_catalog.regclass \
          WHERE {SYSTEM_SCHEMAS} AND c.relkind IN ('r', 'v', 'm', 'f', 'p') AND {member} \
            AND (a.attnum > 0 OR a.attacl IS NOT NULL) AND NOT a.attisdropped \
            AND COALESCE(a.attacl, '{{}}') IS DISTINCT FROM COALESCE(ip.initprivs, '{{}}') \
          ORDER BY 2, a.attnum",
        member = not_member("pg_class", "c.oid")
    );
    let functions = format!(
        "SELECT p.oid, CASE WHEN p.prokind = 'p' THEN 'PROCEDURE ' ELSE 'FUNCTION ' END || \
                pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(p.proname) || \
                '(' || pg_catalog.pg_get_function_identity_arguments(p.oid) || ')', NULL::text, \
                pg_catalog.pg_get_userbyid(p.proowner)::text, p.proacl::text[], \
                COALESCE(ip.initprivs, pg_catalog.acldefault('f', p.proowner))::text[] \
           FROM pg_catalog.pg_proc p \
           JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace \
           LEFT JOIN pg_catalog.pg_init_privs ip ON ip.objoid = p.oid AND ip.objsubid = 0 \
                AND ip.classoid = 'pg_catalog.pg_proc'::pg_catalog.regclass \
          WHERE {SYSTEM_SCHEMAS} AND p.proacl IS NOT NULL AND {member} \
            AND p.proacl IS DISTINCT FROM ip.initprivs \
          ORDER BY 2",
        member = not_member("pg_proc", "p.oid")
    );
    let mut out = rows(
        &query(s, "reading privileges of system relations", &relations).await?,
        false,
    );
    out.extend(rows(
        &query(s, "reading privileges of system columns", &columns).await?,
        false,
    ));
    out.extend(rows(
        &query(s, "reading privileges of system functions", &functions).await?,
        true,
    ));
    Ok(out)
}
