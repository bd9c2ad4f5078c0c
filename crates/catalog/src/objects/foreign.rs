//! Foreign data wrappers, foreign servers and user mappings. User mapping options are visible
//! only to a superuser, the server owner or the mapped user ([`UserMappingRow::options_visible`]).
//!
//! Its own file as one object family of [`super`]; callers use the re-exports there.

use std::fmt;

use crate::class;
use db_migrate_conn::Session;
use db_migrate_core::error::Result;

use super::{Acl, QName, acl_cols, not_ext_member, proc_name, query, read_acl};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FdwRow {
    pub oid: u32,
    pub name: String,
    pub handler: Option<QName>,
    pub validator: Option<QName>,
    /// `name=value` items.
    pub options: Vec<String>,
    pub acl: Acl,
    pub comment: Option<String>,
}

pub async fn list_fdws(s: &Session) -> Result<Vec<FdwRow>> {
    let sql = format!(
        "SELECT w.oid, w.fdwname::text AS name, {h} AS handler, {v} AS validator, \
                w.fdwoptions AS options, {acl}, \
                pg_catalog.obj_description(w.oid, 'pg_foreign_data_wrapper') AS comment \
           FROM pg_catalog.pg_foreign_data_wrapper w \
          WHERE {member} ORDER BY w.fdwname",
        h = proc_name("w.fdwhandler"),
        v = proc_name("w.fdwvalidator"),
        acl = acl_cols("w.fdwowner", "w.fdwacl", 'F'),
        member = not_ext_member(class::PG_FOREIGN_DATA_WRAPPER, "w.oid"),
    );
    Ok(query(s, "reading foreign data wrappers", &sql)
        .await?
        .iter()
        .map(|r| FdwRow {
            oid: r.get("oid"),
            name: r.get("name"),
            handler: QName::from_parts(r.get("handler")),
            validator: QName::from_parts(r.get("validator")),
            options: r
                .get::<_, Option<Vec<String>>>("options")
                .unwrap_or_default(),
            acl: read_acl(r),
            comment: r.get("comment"),
        })
        .collect())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerRow {
    pub oid: u32,
    pub name: String,
    pub fdw: String,
    pub fdw_oid: u32,
    pub server_type: Option<String>,
    pub version: Option<String>,
    pub options: Vec<String>,
    pub acl: Acl,
    pub comment: Option<String>,
}

pub async fn list_servers(s: &Session) -> Result<Vec<ServerRow>> {
    let sql = format!(
        "SELECT s.oid, s.srvname::text AS name, w.fdwname::text AS fdw, w.oid AS fdw_oid, \
                s.srvtype AS stype, s.srvversion AS version, s.srvoptions AS options, {acl}, \
                pg_catalog.obj_description(s.oid, 'pg_foreign_server') AS comment \
           FROM pg_catalog.pg_foreign_server s \
           JOIN pg_catalog.pg_foreign_data_wrapper w ON w.oid = s.srvfdw \
          WHERE {member} ORDER BY s.srvname",
        acl = acl_cols("s.srvowner", "s.srvacl", 'S'),
        member = not_ext_member(class::PG_FOREIGN_SERVER, "s.oid"),
    );
    Ok(query(s, "reading foreign servers", &sql)
        .await?
        .iter()
        .map(|r| ServerRow {
            oid: r.get("oid"),
            name: r.get("name"),
            fdw: r.get("fdw"),
            fdw_oid: r.get("fdw_oid"),
            server_type: r.get("stype"),
            version: r.get("version"),
            options: r
                .get::<_, Option<Vec<String>>>("options")
                .unwrap_or_default(),
            acl: read_acl(r),
            comment: r.get("comment"),
        })
        .collect())
}

/// One user mapping. Its options may hold passwords: `Debug` does not show them, and they must
/// never be logged.
#[derive(Clone, PartialEq, Eq)]
pub struct UserMappingRow {
    pub oid: u32,
    pub server: String,
    pub server_oid: u32,
    /// `None` for `PUBLIC`.
    pub user: Option<String>,
    /// `name=value` items (secret).
    pub options: Vec<String>,
    /// False when the connected user may not read the options (only a superuser, the server
    /// owner or the mapped user may).
    pub options_visible: bool,
}

impl fmt::Debug for UserMappingRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserMappingRow")
            .field("oid", &self.oid)
            .field("server", &self.server)
            .field("user", &self.user)
            .field("options", &format_args!("<{} hidden>", self.options.len()))
            .field("options_visible", &self.options_visible)
            .finish()
    }
}

pub async fn list_user_mappings(s: &Session) -> Result<Vec<UserMappingRow>> {
    // The visibility rule of the pg_user_mappings view, with pg_roles for pg_authid (which
    // only a superuser may read).
    let sql = format!(
        "SELECT u.umid AS oid, u.srvname::text AS server, u.srvid AS server_oid, \
                CASE WHEN u.umuser = 0 THEN NULL ELSE u.usename::text END AS usr, \
                u.umoptions AS options, \
                (u.umoptions IS NOT NULL \
                 OR (u.umuser <> 0 AND u.usename = CURRENT_USER \
                     AND (pg_catalog.pg_has_role(s.srvowner, 'USAGE') \
                          OR pg_catalog.has_server_privilege(s.oid, 'USAGE'))) \
                 OR (u.umuser = 0 AND pg_catalog.pg_has_role(s.srvowner, 'USAGE')) \
                 OR COALESCE((SELECT r.rolsuper FROM pg_catalog.pg_roles r \
                               WHERE r.rolname = CURRENT_USER), false)) AS visible \
           FROM pg_catalog.pg_user_mappings u \
           JOIN pg_catalog.pg_foreign_server s ON s.oid = u.srvid \
          WHERE {member} ORDER BY u.srvname, u.usename",
        member = not_ext_member(class::PG_USER_MAPPING, "u.umid"),
    );
    Ok(query(s, "reading user mappings", &sql)
        .await?
        .iter()
        .map(|r| UserMappingRow {
            oid: r.get("oid"),
            server: r.get("server"),
            server_oid: r.get("server_oid"),
            user: r.get("usr"),
            options: r
                .get::<_, Option<Vec<String>>>("options")
                .unwrap_or_default(),
            options_visible: r.get("visible"),
        })
        .collect())
}
