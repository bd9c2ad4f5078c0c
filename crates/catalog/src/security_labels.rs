//! Security labels (`pg_seclabel`, and `pg_shseclabel` for the database itself) of one
//! database, for [`crate::schema::security_labels`].
//!
//! Labels belong to a label provider loaded into the server (sepgsql, PostgreSQL Anonymizer's
//! `anon` masking rules, a provider's own): the target accepts them only where the same
//! provider is loaded, so they are read with their provider and each is applied on its own.
//! The object is named by `pg_identify_object`, whose identity is already quoted as SQL needs.
//! Labels on objects of extensions are the extension's; built-in objects are left out.

use crate::scope::FIRST_NORMAL_OBJECT_ID;
use db_migrate_conn::Session;
use db_migrate_core::error::{Error, Result};

/// One label of one object (or column) of the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityLabelRow {
    /// The catalog and row of the labelled object (for a column: its relation).
    pub classid: u32,
    pub objid: u32,
    /// The column number for a column, else 0.
    pub objsubid: i32,
    pub provider: String,
    pub label: String,
    /// `pg_identify_object`'s type ("table", "table column", "function", ...).
    pub object_type: String,
    /// `pg_identify_object`'s identity, quoted ("public.t", "public.t.c", "public.f(integer)").
    pub identity: String,
}

/// Every security label of the session's database and of the database itself.
pub async fn list_security_labels(s: &Session) -> Result<Vec<SecurityLabelRow>> {
    let sql = format!(
        "SELECT l.classoid, l.objoid, l.objsubid, l.provider::text, l.label::text, \
                i.type::text, i.identity::text \
           FROM pg_catalog.pg_seclabel l, \
                LATERAL pg_catalog.pg_identify_object(l.classoid, l.objoid, l.objsubid) i \
          WHERE l.objoid >= {FIRST_NORMAL_OBJECT_ID} \
            AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d \
                             WHERE d.classid = l.classoid AND d.objid = l.objoid \
                               AND d.deptype = 'e') \
         UNION ALL \
         SELECT l.classoid, l.objoid, 0, l.provider::text, l.label::text, \
                'database', pg_catalog.quote_ident(pg_catalog.current_database()) \
           FROM pg_catalog.pg_shseclabel l \
          WHERE l.classoid = 'pg_catalog.pg_database'::pg_catalog.regclass \
            AND l.objoid = (SELECT oid FROM pg_catalog.pg_database \
                             WHERE datname = pg_catalog.current_database()) \
          ORDER BY 1, 2, 3, 4"
    );
    let rows = s
        .query(&sql, &[])
        .await
        .map_err(|e| Error::from_pg(e).with_step("reading security labels"))?;
    Ok(rows
        .iter()
        .map(|r| SecurityLabelRow {
            classid: r.get(0),
            objid: r.get(1),
            objsubid: r.get(2),
            provider: r.get(3),
            label: r.get(4),
            object_type: r.get(5),
            identity: r.get(6),
        })
        .collect())
}
