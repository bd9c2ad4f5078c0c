//! Databases of a server (`pg_database`) with the properties a faithful `CREATE DATABASE` needs,
//! and their database-level settings (`pg_db_role_setting` with `setrole = 0`).

use db_migrate_conn::Session;
use db_migrate_core::error::{Error, Result};

/// One row of `pg_database`, version differences smoothed over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseInfo {
    pub oid: u32,
    pub name: String,
    pub owner: String,
    pub encoding: String,
    pub collate: String,
    pub ctype: String,
    /// `c` (libc), `i` (ICU) or `b` (builtin, PG17+). Sources before 15 are always libc.
    pub locale_provider: char,
    /// ICU (PG15-16 `daticulocale`) or provider locale (PG17+ `datlocale`).
    pub locale: Option<String>,
    /// ICU rules (PG16+).
    pub icu_rules: Option<String>,
    pub connection_limit: i32,
    pub allow_connections: bool,
    pub is_template: bool,
    pub comment: Option<String>,
    /// `name=value` entries of `ALTER DATABASE ... SET`, as stored in `pg_db_role_setting`.
    pub settings: Vec<String>,
    /// `datacl` as text items; `None` means the default privileges (CONNECT and TEMPORARY for
    /// PUBLIC, everything for the owner).
    pub acl: Option<Vec<String>>,
    /// `acldefault('d', datdba)` as text items: what `acl` is a change from.
    pub acl_default: Vec<String>,
}

/// Reads every database of the server the session is connected to.
pub async fn list_databases(session: &Session) -> Result<Vec<DatabaseInfo>> {
    let v = session.server_version_num();
    let provider = if v >= 150000 {
        "d.datlocprovider::text"
    } else {
        "'c'::text"
    };
    let locale = if v >= 170000 {
        "d.datlocale"
    } else if v >= 150000 {
        "d.daticulocale"
    } else {
        "NULL::text"
    };
    let rules = if v >= 160000 {
        "d.daticurules"
    } else {
        "NULL::text"
    };
    let sql = format!(
        "SELECT d.oid, d.datname::text, pg_catalog.pg_get_userbyid(d.datdba)::text, \
                pg_catalog.pg_encoding_to_char(d.encoding)::text, d.datcollate::text, d.datctype::text, \
                {provider}, {locale}::text, {rules}::text, d.datconnlimit, d.datallowconn, d.datistemplate, \
                pg_catalog.shobj_description(d.oid, 'pg_database')::text, \
                (SELECT s.setconfig::text[] FROM pg_catalog.pg_db_role_setting s \
                  WHERE s.setdatabase = d.oid AND s.setrole = 0), \
                d.datacl::text[], pg_catalog.acldefault('d', d.datdba)::text[] \
           FROM pg_catalog.pg_database d ORDER BY d.datname"
    );
    let rows = session
        .query(&sql, &[])
        .await
        .map_err(|e| Error::from_pg(e).with_step("reading pg_database"))?;
    Ok(rows
        .iter()
        .map(|r| DatabaseInfo {
            oid: r.get(0),
            name: r.get(1),
            owner: r.get(2),
            encoding: r.get(3),
            collate: r.get(4),
            ctype: r.get(5),
            locale_provider: r.get::<_, String>(6).chars().next().unwrap_or('c'),
            locale: r.get(7),
            icu_rules: r.get(8),
            connection_limit: r.get(9),
            allow_connections: r.get(10),
            is_template: r.get(11),
            comment: r.get(12),
            settings: r.get::<_, Option<Vec<String>>>(13).unwrap_or_default(),
            acl: r.get(14),
            acl_default: r.get::<_, Option<Vec<String>>>(15).unwrap_or_default(),
        })
        .collect())
}

/// `datconnlimit` of a database left invalid by an interrupted `DROP DATABASE` (PostgreSQL
/// 16, 15.4, 14.9 and later): nobody can connect to it, and the only thing to do with it is to
/// drop it.
pub const INVALID_CONNECTION_LIMIT: i32 = -2;

impl DatabaseInfo {
    /// Whether a migration considers this database at all: templates, databases that do not
    /// allow connections and invalid ones are never migrated.
    pub fn is_migratable(&self) -> bool {
        !self.is_template && self.allow_connections && !self.is_invalid()
    }

    /// Whether an interrupted `DROP DATABASE` left this database invalid (pg_dumpall skips
    /// such databases too).
    pub fn is_invalid(&self) -> bool {
        self.connection_limit == INVALID_CONNECTION_LIMIT
    }
}

/// `pg_database_size` of one database, or `None` when the user may not see it (no CONNECT
/// privilege and no `pg_read_all_stats`).
pub async fn database_size(session: &Session, name: &str) -> Result<Option<i64>> {
    match session
        .query_one(
            "SELECT pg_catalog.pg_database_size($1::text::name)",
            &[&name],
        )
        .await
    {
        Ok(row) => Ok(Some(row.get(0))),
        Err(e) => {
            let e = Error::from_pg(e);
            if e.is_insufficient_privilege() {
                Ok(None)
            } else {
                Err(e.with_database(name))
            }
        }
    }
}
