//! Default privileges (`ALTER DEFAULT PRIVILEGES`) and large objects, both carried for their
//! owner and privileges.
//!
//! Its own file as one object family of [`super`]; callers use the re-exports there.

use crate::scope::USER_SCHEMAS;
use db_migrate_conn::Session;
use db_migrate_core::error::Result;

use super::{Acl, acl_cols, char_col, query, read_acl};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefaultAclRow {
    pub oid: u32,
    pub role: String,
    /// `None` for the entries that apply to every schema.
    pub schema: Option<String>,
    pub schema_oid: u32,
    /// `r` tables, `S` sequences, `f` functions, `T` types, `n` schemas, `L` large objects (18+).
    pub objtype: char,
    pub acl: Vec<String>,
    /// What the entry is a delta from: `acldefault` of the kind for global entries, nothing for
    /// per-schema entries (those can only add privileges), as pg_dump does.
    pub base: Vec<String>,
}

pub async fn list_default_acls(s: &Session) -> Result<Vec<DefaultAclRow>> {
    let sql = format!(
        "SELECT d.oid, pg_catalog.pg_get_userbyid(d.defaclrole)::text AS role, \
                n.nspname::text AS schema, d.defaclnamespace AS schema_oid, \
                d.defaclobjtype::text AS objtype, d.defaclacl::text[] AS acl, \
                CASE WHEN d.defaclnamespace = 0 THEN \
                  pg_catalog.acldefault(CASE WHEN d.defaclobjtype = 'S' THEN 's'::\"char\" \
                                        ELSE d.defaclobjtype END, d.defaclrole)::text[] \
                ELSE '{{}}'::text[] END AS base \
           FROM pg_catalog.pg_default_acl d \
           LEFT JOIN pg_catalog.pg_namespace n ON n.oid = d.defaclnamespace \
          WHERE (d.defaclnamespace = 0 OR ({USER_SCHEMAS})) \
          ORDER BY 2, 3 NULLS FIRST, 5"
    );
    Ok(query(s, "reading default privileges", &sql)
        .await?
        .iter()
        .map(|r| DefaultAclRow {
            oid: r.get("oid"),
            role: r.get("role"),
            schema: r.get("schema"),
            schema_oid: r.get("schema_oid"),
            objtype: char_col(r, "objtype"),
            acl: r.get::<_, Option<Vec<String>>>("acl").unwrap_or_default(),
            base: r.get::<_, Option<Vec<String>>>("base").unwrap_or_default(),
        })
        .collect())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LargeObjectRow {
    pub oid: u32,
    pub acl: Acl,
    pub comment: Option<String>,
}

pub async fn list_large_objects(s: &Session) -> Result<Vec<LargeObjectRow>> {
    let sql = format!(
        "SELECT l.oid, {acl}, pg_catalog.obj_description(l.oid, 'pg_largeobject') AS comment \
           FROM pg_catalog.pg_largeobject_metadata l ORDER BY l.oid",
        acl = acl_cols("l.lomowner", "l.lomacl", 'L'),
    );
    Ok(query(s, "reading large objects", &sql)
        .await?
        .iter()
        .map(|r| LargeObjectRow {
            oid: r.get("oid"),
            acl: read_acl(r),
            comment: r.get("comment"),
        })
        .collect())
}
