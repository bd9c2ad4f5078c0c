//! Roles of a server: the non-system roles with their attributes, settings and comments, role
//! memberships, per-database role settings, and the facts about the connected user.
//!
//! Everything here is readable without superuser on PostgreSQL 12 to 18: `pg_roles`,
//! `pg_auth_members`, `pg_shdescription` and `pg_db_role_setting` are all public catalogs
//! (passwords live in `pg_authid`, which is never read). Each function runs exactly one query,
//! however many roles the server has.
//!
//! No SQL for the target is generated here: that is [`crate::roles`].

use db_migrate_conn::Session;
use db_migrate_core::error::{Error, Result, SqlState};

use crate::scope::first_normal_object_id;

/// The `WHERE` condition that keeps the non-system roles of `pg_roles` aliased `r`: no `pg_`
/// name (reserved for predefined roles) and an OID of at least [`FIRST_NORMAL_OBJECT_ID`](crate::scope::FIRST_NORMAL_OBJECT_ID). Unlike
/// the tool we replace (`oid > 16384`), a role whose OID is exactly that is included.
const NON_SYSTEM_ROLE: &str = concat!(
    "pg_catalog.left(r.rolname::text, 3) <> 'pg_' AND r.oid >= ",
    first_normal_object_id!(),
    "::pg_catalog.oid"
);

/// One non-system role of `pg_roles`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleInfo {
    pub oid: u32,
    pub name: String,
    pub superuser: bool,
    pub inherit: bool,
    pub createrole: bool,
    pub createdb: bool,
    pub login: bool,
    pub replication: bool,
    pub bypassrls: bool,
    /// `rolconnlimit`; -1 means no limit.
    pub connection_limit: i32,
    /// `rolvaliduntil` as text the server parses back to the same instant whatever the session's
    /// `DateStyle` and `TimeZone`: `infinity`, `-infinity`, or
    /// `YYYY-MM-DD HH24:MI:SS.US+00 AD|BC` in UTC.
    pub valid_until: Option<String>,
    /// `rolconfig`: `name=value` entries of `ALTER ROLE ... SET` for all databases.
    pub config: Vec<String>,
    /// `COMMENT ON ROLE` text.
    pub comment: Option<String>,
    /// Security labels (`pg_shseclabel`) as `(provider, label)`, by provider.
    pub labels: Vec<(String, String)>,
}

/// One row of `pg_auth_members`, with names instead of OIDs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    /// The role whose privileges are granted (`roleid`).
    pub role: String,
    /// The role that receives them (`member`).
    pub member: String,
    /// The role that granted the membership; empty if that role no longer exists (possible
    /// before PostgreSQL 16, which did not track grantor dependencies).
    pub grantor: String,
    pub admin_option: bool,
    /// PostgreSQL 16+ only; `None` on older servers.
    pub inherit_option: Option<bool>,
    /// PostgreSQL 16+ only; `None` on older servers.
    pub set_option: Option<bool>,
}

/// Settings of one role in one database (`ALTER ROLE r IN DATABASE d SET ...`): rows of
/// `pg_db_role_setting` with both `setrole` and `setdatabase` set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleDbSetting {
    pub role: String,
    pub database: String,
    /// `name=value` entries.
    pub config: Vec<String>,
}

/// The connected user's role attributes that decide what a migration may do (read as part of
/// [`crate::server::ServerFacts`], see its `user()`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserFacts {
    pub name: String,
    pub superuser: bool,
    pub createrole: bool,
    pub replication: bool,
    pub bypassrls: bool,
}

/// Every non-system role (see [`FIRST_NORMAL_OBJECT_ID`](crate::scope::FIRST_NORMAL_OBJECT_ID)), in creation (OID) order: roles
/// created in that order on the target come out of catalog scans in the source's order, e.g.
/// the role list of a policy as `pg_dump` prints it.
pub async fn list_roles(s: &Session) -> Result<Vec<RoleInfo>> {
    // rolvaliduntil is rendered in UTC with an explicit era so that the text means the same
    // instant whatever DateStyle / TimeZone the source or target session has.
    let sql = format!(
        "SELECT r.oid, r.rolname::text, r.rolsuper, r.rolinherit, r.rolcreaterole, r.rolcreatedb, \
                r.rolcanlogin, r.rolreplication, r.rolbypassrls, r.rolconnlimit, \
                CASE WHEN r.rolvaliduntil IS NULL THEN NULL \
                     WHEN pg_catalog.isfinite(r.rolvaliduntil) THEN \
                       pg_catalog.to_char(pg_catalog.timezone('UTC', r.rolvaliduntil), \
                                          'YYYY-MM-DD HH24:MI:SS.US\"+00\" BC') \
                     ELSE r.rolvaliduntil::text END, \
                r.rolconfig::text[], \
                pg_catalog.shobj_description(r.oid, 'pg_authid')::text, \
                ARRAY(SELECT l.provider::text FROM pg_catalog.pg_shseclabel l \
                       WHERE l.classoid = 'pg_catalog.pg_authid'::pg_catalog.regclass \
                         AND l.objoid = r.oid ORDER BY l.provider), \
                ARRAY(SELECT l.label::text FROM pg_catalog.pg_shseclabel l \
                       WHERE l.classoid = 'pg_catalog.pg_authid'::pg_catalog.regclass \
                         AND l.objoid = r.oid ORDER BY l.provider) \
           FROM pg_catalog.pg_roles r \
          WHERE {NON_SYSTEM_ROLE} \
          ORDER BY r.oid"
    );
    let rows = s
        .query(&sql, &[])
        .await
        .map_err(|e| Error::from_pg(e).with_step("reading pg_roles"))?;
    Ok(rows
        .iter()
        .map(|r| RoleInfo {
            oid: r.get(0),
            name: r.get(1),
            superuser: r.get(2),
            inherit: r.get(3),
            createrole: r.get(4),
            createdb: r.get(5),
            login: r.get(6),
            replication: r.get(7),
            bypassrls: r.get(8),
            connection_limit: r.get(9),
            valid_until: r.get(10),
            config: r.get::<_, Option<Vec<String>>>(11).unwrap_or_default(),
            comment: r.get(12),
            labels: r
                .get::<_, Vec<String>>(13)
                .into_iter()
                .zip(r.get::<_, Vec<String>>(14))
                .collect(),
        })
        .collect())
}

/// Role memberships whose member is a non-system role (the same roles [`list_roles`] returns),
/// ordered by role, member and grantor. Memberships among predefined roles (e.g. `pg_monitor`'s)
/// and of the bootstrap superuser are left out. On PostgreSQL 16+ the same (role, member) pair
/// may appear once per grantor.
pub async fn list_memberships(s: &Session) -> Result<Vec<Membership>> {
    let options = if s.server_version_num() >= 160000 {
        "m.inherit_option, m.set_option"
    } else {
        "NULL::bool, NULL::bool"
    };
    let sql = format!(
        "SELECT g.rolname::text, r.rolname::text, \
                COALESCE(gr.rolname::text, ''), m.admin_option, {options} \
           FROM pg_catalog.pg_auth_members m \
           JOIN pg_catalog.pg_roles g ON g.oid = m.roleid \
           JOIN pg_catalog.pg_roles r ON r.oid = m.member \
           LEFT JOIN pg_catalog.pg_roles gr ON gr.oid = m.grantor \
          WHERE {NON_SYSTEM_ROLE} \
          ORDER BY 1, 2, 3"
    );
    let rows = s
        .query(&sql, &[])
        .await
        .map_err(|e| Error::from_pg(e).with_step("reading pg_auth_members"))?;
    Ok(rows
        .iter()
        .map(|r| Membership {
            role: r.get(0),
            member: r.get(1),
            grantor: r.get(2),
            admin_option: r.get(3),
            inherit_option: r.get(4),
            set_option: r.get(5),
        })
        .collect())
}

/// Per-database settings of non-system roles, ordered by role and database.
///
/// `pg_db_role_setting` is readable by every user on stock PostgreSQL. Should a provider revoke
/// it, this returns an empty list (the caller cannot tell the difference from "no settings"
/// and should say that such settings are not migrated).
pub async fn list_role_db_settings(s: &Session) -> Result<Vec<RoleDbSetting>> {
    let sql = format!(
        "SELECT r.rolname::text, d.datname::text, st.setconfig::text[] \
           FROM pg_catalog.pg_db_role_setting st \
           JOIN pg_catalog.pg_roles r ON r.oid = st.setrole \
           JOIN pg_catalog.pg_database d ON d.oid = st.setdatabase \
          WHERE st.setrole <> 0::pg_catalog.oid AND st.setdatabase <> 0::pg_catalog.oid \
            AND {NON_SYSTEM_ROLE} \
          ORDER BY 1, 2"
    );
    let rows = match s.query(&sql, &[]).await {
        Ok(rows) => rows,
        Err(e) if e.code() == Some(&SqlState::INSUFFICIENT_PRIVILEGE) => {
            tracing::debug!(
                "pg_db_role_setting is not readable; per-database role settings skipped"
            );
            return Ok(Vec::new());
        }
        Err(e) => return Err(Error::from_pg(e).with_step("reading pg_db_role_setting")),
    };
    Ok(rows
        .iter()
        .map(|r| RoleDbSetting {
            role: r.get(0),
            database: r.get(1),
            config: r.get::<_, Option<Vec<String>>>(2).unwrap_or_default(),
        })
        .collect())
}

/// The names of every role of the server, system roles included, in no particular order.
pub async fn list_role_names(s: &Session) -> Result<Vec<String>> {
    let rows = s
        .query("SELECT r.rolname::text FROM pg_catalog.pg_roles r", &[])
        .await
        .map_err(|e| Error::from_pg(e).with_step("reading pg_roles"))?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Whether a role named `name` exists on the server.
pub async fn role_exists(s: &Session, name: &str) -> Result<bool> {
    Ok(s.query_one(
        "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1)",
        &[&name],
    )
    .await
    .map_err(Error::from_pg)?
    .get(0))
}
