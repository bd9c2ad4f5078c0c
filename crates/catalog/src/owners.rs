//! Who owns what in one database, and what the connected user may do about owners: the facts
//! [`crate::owners`] needs to say, before anything is written, which objects will not keep
//! their owner, and to take the memberships that let them keep it.
//!
//! The count covers the objects the schema engine creates with an owner: relations (tables,
//! views, materialized views, sequences, foreign tables, composite types), routines, types and
//! domains, schemas (`public` too, unless owned by `pg_database_owner`), collations,
//! conversions, operators and their classes and families, text search dictionaries and
//! configurations, extended statistics, foreign data wrappers and servers, event triggers,
//! publications, procedural languages and large objects. Objects of system schemas, members
//! of extensions and objects internal to another (a range type's constructors, an identity
//! column's sequence) are left out, as the schema reader leaves them out.

use crate::scope::{FIRST_NORMAL_OBJECT_ID, USER_SCHEMAS};
use db_migrate_conn::Session;
use db_migrate_core::error::{Error, Result};

/// The owned kinds that live in a schema: (catalog, the select of `oid, owner, namespace`).
const OWNED_IN_SCHEMA: [(&str, &str); 12] = [
    (
        "pg_class",
        "c.oid, c.relowner, c.relnamespace FROM pg_catalog.pg_class c \
         WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f', 'c')",
    ),
    (
        "pg_proc",
        "p.oid, p.proowner, p.pronamespace FROM pg_catalog.pg_proc p",
    ),
    (
        "pg_type",
        // Base, domain, enum and range types; array, multirange and row types come with
        // their element, range or relation.
        "t.oid, t.typowner, t.typnamespace FROM pg_catalog.pg_type t \
         WHERE t.typtype IN ('b', 'd', 'e', 'r') AND t.typrelid = 0 \
           AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_type e WHERE e.typarray = t.oid)",
    ),
    (
        "pg_collation",
        "o.oid, o.collowner, o.collnamespace FROM pg_catalog.pg_collation o",
    ),
    (
        "pg_conversion",
        "o.oid, o.conowner, o.connamespace FROM pg_catalog.pg_conversion o",
    ),
    (
        "pg_operator",
        "o.oid, o.oprowner, o.oprnamespace FROM pg_catalog.pg_operator o",
    ),
    (
        "pg_opclass",
        "o.oid, o.opcowner, o.opcnamespace FROM pg_catalog.pg_opclass o",
    ),
    (
        "pg_opfamily",
        "o.oid, o.opfowner, o.opfnamespace FROM pg_catalog.pg_opfamily o",
    ),
    (
        "pg_ts_dict",
        "o.oid, o.dictowner, o.dictnamespace FROM pg_catalog.pg_ts_dict o",
    ),
    (
        "pg_ts_config",
        "o.oid, o.cfgowner, o.cfgnamespace FROM pg_catalog.pg_ts_config o",
    ),
    (
        "pg_statistic_ext",
        "o.oid, o.stxowner, o.stxnamespace FROM pg_catalog.pg_statistic_ext o",
    ),
    (
        "pg_namespace",
        "n2.oid, n2.nspowner, n2.oid FROM pg_catalog.pg_namespace n2 \
         WHERE n2.nspowner <> 'pg_database_owner'::pg_catalog.regrole \
            OR n2.nspname <> 'public'",
    ),
];

/// The owned kinds outside schemas: (catalog, the select of `oid, owner`); only those created
/// after initdb count.
const OWNED_GLOBAL: [(&str, &str); 6] = [
    (
        "pg_foreign_data_wrapper",
        "o.oid, o.fdwowner FROM pg_catalog.pg_foreign_data_wrapper o",
    ),
    (
        "pg_foreign_server",
        "o.oid, o.srvowner FROM pg_catalog.pg_foreign_server o",
    ),
    (
        "pg_event_trigger",
        "o.oid, o.evtowner FROM pg_catalog.pg_event_trigger o",
    ),
    (
        "pg_publication",
        "o.oid, o.pubowner FROM pg_catalog.pg_publication o",
    ),
    (
        "pg_language",
        "o.oid, o.lanowner FROM pg_catalog.pg_language o",
    ),
    (
        "pg_largeobject_metadata",
        "o.oid, o.lomowner FROM pg_catalog.pg_largeobject_metadata o",
    ),
];

/// How many objects of the session's database each role owns: `(role, count)`, by role name.
pub async fn count_owned_objects(s: &Session) -> Result<Vec<(String, i64)>> {
    // pg_database_owner exists from PostgreSQL 14; before it, `public` is always counted.
    let in_schema: Vec<(&str, String)> = OWNED_IN_SCHEMA
        .iter()
        .map(|(cat, sel)| {
            let sel = if s.server_version_num() < 140000 && *cat == "pg_namespace" {
                "n2.oid, n2.nspowner, n2.oid FROM pg_catalog.pg_namespace n2".to_string()
            } else {
                (*sel).to_string()
            };
            (*cat, sel)
        })
        .collect();
    let mut parts: Vec<String> = in_schema
        .iter()
        .map(|(cat, sel)| format!("SELECT 'pg_catalog.{cat}'::pg_catalog.regclass, {sel}"))
        .collect();
    parts.extend(OWNED_GLOBAL.iter().map(|(cat, sel)| {
        let (cols, from) = sel.split_once(" FROM ").expect("select has FROM");
        format!(
            "SELECT 'pg_catalog.{cat}'::pg_catalog.regclass, {cols}, NULL::pg_catalog.oid \
               FROM {from} WHERE o.oid >= {FIRST_NORMAL_OBJECT_ID}::pg_catalog.oid"
        )
    }));
    let sql = format!(
        "WITH owned (classid, objid, owner, nsp) AS ({}) \
         SELECT pg_catalog.pg_get_userbyid(o.owner)::text AS owner, pg_catalog.count(*) AS n \
           FROM owned o LEFT JOIN pg_catalog.pg_namespace n ON n.oid = o.nsp \
          WHERE (o.nsp IS NULL OR ({USER_SCHEMAS})) \
            AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d \
                             WHERE d.classid = o.classid AND d.objid = o.objid \
                               AND d.deptype IN ('e', 'i')) \
          GROUP BY 1 ORDER BY 1",
        parts.join(" UNION ALL ")
    );
    let rows = s.query(sql.as_str(), &[]).await.map_err(|e| {
        Error::from_pg(e).context("counting the owners of the objects of the database")
    })?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// What the connected user may do about one role as an owner (see [`crate::owners`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActingRole {
    pub name: String,
    pub superuser: bool,
    /// The user has the role's privileges (`pg_has_role(..., 'USAGE')`).
    pub usage: bool,
    /// The user may make the role an owner (`SET` on PostgreSQL 16+, `MEMBER` before).
    pub set: bool,
    /// PostgreSQL 16+: the user holds ADMIN OPTION on the role, so it may grant it to itself.
    pub admin: bool,
    /// PostgreSQL 16+: a membership of the user in the role that the user granted itself
    /// already exists (granting again would change that row, not add one).
    pub self_granted: bool,
}

/// [`ActingRole`] for every role of the server.
pub async fn acting_roles(s: &Session) -> Result<Vec<ActingRole>> {
    let v16 = s.server_version_num() >= 160000;
    let sql = format!(
        "SELECT r.rolname::text, r.rolsuper, \
                pg_catalog.pg_has_role(current_user, r.oid, 'USAGE'), \
                pg_catalog.pg_has_role(current_user, r.oid, '{set}'), \
                {admin}, {self_granted} \
           FROM pg_catalog.pg_roles r",
        set = if v16 { "SET" } else { "MEMBER" },
        admin = if v16 {
            "pg_catalog.pg_has_role(current_user, r.oid, 'USAGE WITH ADMIN OPTION')"
        } else {
            "false"
        },
        self_granted = if v16 {
            "EXISTS (SELECT 1 FROM pg_catalog.pg_auth_members m \
                      WHERE m.roleid = r.oid \
                        AND m.member = (SELECT u.oid FROM pg_catalog.pg_roles u \
                                         WHERE u.rolname = current_user) \
                        AND m.grantor = m.member)"
        } else {
            "false"
        },
    );
    let rows = s
        .query(sql.as_str(), &[])
        .await
        .map_err(|e| Error::from_pg(e).context("reading which roles the user may act as"))?;
    Ok(rows
        .iter()
        .map(|r| ActingRole {
            name: r.get(0),
            superuser: r.get(1),
            usage: r.get(2),
            set: r.get(3),
            admin: r.get(4),
            self_granted: r.get(5),
        })
        .collect())
}
