//! Schemas, extensions (with their member objects) and procedural languages: the objects
//! other objects of a database live in or come with.
//!
//! Its own file as one object family of [`super`]; callers use the re-exports there.

use crate::class;
use crate::scope::{FIRST_NORMAL_OBJECT_ID, USER_SCHEMAS};
use db_migrate_conn::Session;
use db_migrate_core::error::Result;

use super::{Acl, QName, acl_cols, not_ext_member, proc_name, query, read_acl};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaRow {
    pub oid: u32,
    pub name: String,
    pub acl: Acl,
    pub comment: Option<String>,
}

/// User schemas (with `public`), by name.
pub async fn list_schemas(s: &Session) -> Result<Vec<SchemaRow>> {
    let sql = format!(
        "SELECT n.oid, n.nspname::text AS name, {acl}, \
                pg_catalog.obj_description(n.oid, 'pg_namespace') AS comment \
           FROM pg_catalog.pg_namespace n \
          WHERE {USER_SCHEMAS} AND {member} \
          ORDER BY n.nspname",
        acl = acl_cols("n.nspowner", "n.nspacl", 'n'),
        member = not_ext_member(class::PG_NAMESPACE, "n.oid"),
    );
    Ok(query(s, "reading schemas", &sql)
        .await?
        .iter()
        .map(|r| SchemaRow {
            oid: r.get("oid"),
            name: r.get("name"),
            acl: read_acl(r),
            comment: r.get("comment"),
        })
        .collect())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtensionRow {
    pub oid: u32,
    pub name: String,
    pub schema: String,
    pub version: String,
    /// The installed version needs a superuser (`superuser = true` and not `trusted`).
    pub superuser_only: bool,
    pub comment: Option<String>,
}

/// Extensions created by users (not the built-in `plpgsql`).
pub async fn list_extensions(s: &Session) -> Result<Vec<ExtensionRow>> {
    let trusted = if s.server_version_num() >= 130000 {
        "v.superuser AND NOT v.trusted"
    } else {
        "v.superuser"
    };
    let sql = format!(
        "SELECT e.oid, e.extname::text AS name, n.nspname::text AS schema, \
                e.extversion AS version, \
                COALESCE((SELECT {trusted} FROM pg_catalog.pg_available_extension_versions v \
                           WHERE v.name = e.extname AND v.version = e.extversion), true) \
                  AS superuser_only, \
                pg_catalog.obj_description(e.oid, 'pg_extension') AS comment \
           FROM pg_catalog.pg_extension e \
           JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace \
          WHERE e.oid >= {FIRST_NORMAL_OBJECT_ID} \
          ORDER BY e.extname"
    );
    Ok(query(s, "reading extensions", &sql)
        .await?
        .iter()
        .map(|r| ExtensionRow {
            oid: r.get("oid"),
            name: r.get("name"),
            schema: r.get("schema"),
            version: r.get("version"),
            superuser_only: r.get("superuser_only"),
            comment: r.get("comment"),
        })
        .collect())
}

/// Members of extensions as (classid, OID, extension OID): objects that `CREATE EXTENSION`
/// creates, which other objects may depend on.
pub async fn list_extension_members(s: &Session) -> Result<Vec<(u32, u32, u32)>> {
    let sql = format!(
        "SELECT d.classid, d.objid, d.refobjid FROM pg_catalog.pg_depend d \
          WHERE d.refclassid = {ext} AND d.deptype = 'e' AND d.objid >= {FIRST_NORMAL_OBJECT_ID}",
        ext = class::PG_EXTENSION,
    );
    Ok(query(s, "reading extension members", &sql)
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LanguageRow {
    pub oid: u32,
    pub name: String,
    pub trusted: bool,
    pub handler: Option<QName>,
    pub inline: Option<QName>,
    pub validator: Option<QName>,
    pub acl: Acl,
    pub comment: Option<String>,
}

/// Procedural languages created without an extension.
pub async fn list_languages(s: &Session) -> Result<Vec<LanguageRow>> {
    let sql = format!(
        "SELECT l.oid, l.lanname::text AS name, l.lanpltrusted AS trusted, \
                {h} AS handler, {i} AS inline, {v} AS validator, {acl}, \
                pg_catalog.obj_description(l.oid, 'pg_language') AS comment \
           FROM pg_catalog.pg_language l \
          WHERE l.oid >= {FIRST_NORMAL_OBJECT_ID} AND l.lanispl AND {member} \
          ORDER BY l.lanname",
        h = proc_name("l.lanplcallfoid"),
        i = proc_name("l.laninline"),
        v = proc_name("l.lanvalidator"),
        acl = acl_cols("l.lanowner", "l.lanacl", 'l'),
        member = not_ext_member(class::PG_LANGUAGE, "l.oid"),
    );
    Ok(query(s, "reading languages", &sql)
        .await?
        .iter()
        .map(|r| LanguageRow {
            oid: r.get("oid"),
            name: r.get("name"),
            trusted: r.get("trusted"),
            handler: QName::from_parts(r.get("handler")),
            inline: QName::from_parts(r.get("inline")),
            validator: QName::from_parts(r.get("validator")),
            acl: read_acl(r),
            comment: r.get("comment"),
        })
        .collect())
}
