//! Publications of one database (`pg_publication`) with their tables (`pg_publication_rel`:
//! column lists and row filters on PostgreSQL 15+) and schemas (`pg_publication_namespace`,
//! PostgreSQL 15+), read into plain structs for [`crate::schema::publications`].
//!
//! The publications db-migrate's replication method creates (named like
//! [`crate::replication::names`]: `aiven_db_migrate_<X>_pub`) are never read: they belong to a
//! migration, not to the source's schema. Subscriptions are [`crate::subscriptions`]'.

use tokio_postgres::Row;

use crate::replication::PREFIX;
use db_migrate_conn::Session;
use db_migrate_core::error::{Error, Result};
use db_migrate_core::sql::quote_literal;

/// One publication.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PublicationRow {
    pub oid: u32,
    pub name: String,
    pub owner: String,
    pub all_tables: bool,
    pub insert: bool,
    pub update: bool,
    pub delete: bool,
    pub truncate: bool,
    /// `pubviaroot` (PostgreSQL 13+).
    pub via_root: bool,
    pub comment: Option<String>,
    pub tables: Vec<PublishedTable>,
    /// `(pg_publication_namespace oid, schema name)`.
    pub schemas: Vec<(u32, String)>,
}

/// One `pg_publication_rel` row.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PublishedTable {
    /// The `pg_publication_rel` row's OID.
    pub oid: u32,
    pub relid: u32,
    pub schema: String,
    pub name: String,
    /// The column list (`prattrs`), names in the list's order; `None` for all columns.
    pub columns: Option<Vec<String>>,
    /// `pg_get_expr(prqual)`, the row filter.
    pub row_filter: Option<String>,
}

async fn query(s: &Session, phase: &'static str, sql: &str) -> Result<Vec<Row>> {
    s.query(sql, &[])
        .await
        .map_err(|e| Error::from_pg(e).with_step(phase))
}

/// Every publication of the session's database except db-migrate's own, ordered by name.
pub async fn list_publications(s: &Session) -> Result<Vec<PublicationRow>> {
    let v = s.server_version_num();
    let via_root = if v >= 130000 { "p.pubviaroot" } else { "false" };
    let own = quote_literal(&format!("{}%\\_pub", PREFIX.replace('_', "\\_")));
    let sql = format!(
        "SELECT p.oid, p.pubname::text, pg_catalog.pg_get_userbyid(p.pubowner)::text, \
                p.puballtables, p.pubinsert, p.pubupdate, p.pubdelete, p.pubtruncate, {via_root}, \
                pg_catalog.obj_description(p.oid, 'pg_publication')::text \
           FROM pg_catalog.pg_publication p \
          WHERE p.pubname::text NOT LIKE {own} \
          ORDER BY p.pubname"
    );
    let mut pubs: Vec<PublicationRow> = query(s, "reading publications", &sql)
        .await?
        .iter()
        .map(|r| PublicationRow {
            oid: r.get(0),
            name: r.get(1),
            owner: r.get(2),
            all_tables: r.get(3),
            insert: r.get(4),
            update: r.get(5),
            delete: r.get(6),
            truncate: r.get(7),
            via_root: r.get(8),
            comment: r.get(9),
            ..Default::default()
        })
        .collect();
    if pubs.is_empty() {
        return Ok(pubs);
    }
    let (columns, filter) = if v >= 150000 {
        (
            "(SELECT array_agg(a.attname::text ORDER BY k.i) \
                FROM unnest(pr.prattrs) WITH ORDINALITY AS k(attnum, i) \
                JOIN pg_catalog.pg_attribute a ON a.attrelid = pr.prrelid AND a.attnum = k.attnum)",
            "pg_catalog.pg_get_expr(pr.prqual, pr.prrelid)",
        )
    } else {
        ("NULL::text[]", "NULL::text")
    };
    let sql = format!(
        "SELECT pr.prpubid, pr.oid, pr.prrelid, n.nspname::text, c.relname::text, {columns}, {filter} \
           FROM pg_catalog.pg_publication_rel pr \
           JOIN pg_catalog.pg_class c ON c.oid = pr.prrelid \
           JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
          ORDER BY pr.prpubid, n.nspname, c.relname"
    );
    for r in query(s, "reading publication tables", &sql).await? {
        let pubid: u32 = r.get(0);
        if let Some(p) = pubs.iter_mut().find(|p| p.oid == pubid) {
            p.tables.push(PublishedTable {
                oid: r.get(1),
                relid: r.get(2),
                schema: r.get(3),
                name: r.get(4),
                columns: r.get(5),
                row_filter: r.get(6),
            });
        }
    }
    if v >= 150000 {
        let sql = "SELECT pn.pnpubid, pn.oid, n.nspname::text \
                     FROM pg_catalog.pg_publication_namespace pn \
                     JOIN pg_catalog.pg_namespace n ON n.oid = pn.pnnspid \
                    ORDER BY pn.pnpubid, n.nspname";
        for r in query(s, "reading publication schemas", sql).await? {
            let pubid: u32 = r.get(0);
            if let Some(p) = pubs.iter_mut().find(|p| p.oid == pubid) {
                p.schemas.push((r.get(1), r.get(2)));
            }
        }
    }
    Ok(pubs)
}
