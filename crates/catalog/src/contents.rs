//! What a database already holds besides the ledger: its user objects, counted by kind, so
//! that preflight can tell an empty target database from one with objects in it
//! ([`crate::ledger::preflight_targets`]).
//!
//! Its own file because it is a census across object families (relations, routines, types,
//! schemas, large objects, event triggers), not a reader of one of them. Its schema filter is
//! its own, not [`crate::scope::USER_SCHEMAS`]: it leaves out `pg_catalog`,
//! `information_schema`, `pg_toast` and temporary schemas, and one named schema (the ledger's).

use db_migrate_conn::Session;
use db_migrate_core::error::{Error, Result};
use db_migrate_core::sql::quote_literal;

/// User objects in a database (outside system schemas, extensions and the skipped schema).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UserObjects {
    pub tables: u64,
    pub other: u64,
}

impl UserObjects {
    pub fn is_empty(&self) -> bool {
        self.tables == 0 && self.other == 0
    }
}

/// Counts what the session's database holds that is not a system object, not a member of an
/// extension and not in schema `skip` (the ledger's): tables, and other objects (views,
/// sequences, types, routines, schemas other than `public`, large objects, event triggers).
pub async fn user_objects(s: &Session, skip: &str) -> Result<UserObjects> {
    let user_ns = format!(
        "n.nspname NOT IN ('pg_catalog', 'information_schema', {ledger})
         AND n.nspname !~ '^pg_(toast|temp_|toast_temp_)'",
        ledger = quote_literal(skip)
    );
    let not_ext = |class: &str, col: &str| {
        format!(
            "NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                          WHERE d.classid = '{class}'::pg_catalog.regclass AND d.objid = {col}
                            AND d.deptype = 'e')"
        )
    };
    let sql = format!(
        "SELECT
           (SELECT pg_catalog.count(*) FROM pg_catalog.pg_class c
              JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
             WHERE c.relkind IN ('r', 'p') AND {user_ns} AND {ext_c}),
           (SELECT pg_catalog.count(*) FROM pg_catalog.pg_class c
              JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
             WHERE c.relkind IN ('v', 'm', 'S', 'f', 'c') AND {user_ns} AND {ext_c})
         + (SELECT pg_catalog.count(*) FROM pg_catalog.pg_proc p
              JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
             WHERE {user_ns} AND {ext_p})
         + (SELECT pg_catalog.count(*) FROM pg_catalog.pg_type t
              JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
             WHERE t.typtype IN ('b', 'd', 'e', 'r') AND NOT (t.typelem <> 0 AND t.typlen = -1)
               AND {user_ns} AND {ext_t})
         + (SELECT pg_catalog.count(*) FROM pg_catalog.pg_namespace n
             WHERE {user_ns} AND n.nspname <> 'public' AND {ext_n})
         + (SELECT pg_catalog.count(*) FROM pg_catalog.pg_largeobject_metadata)
         + (SELECT pg_catalog.count(*) FROM pg_catalog.pg_event_trigger e WHERE {ext_e})",
        ext_c = not_ext("pg_class", "c.oid"),
        ext_p = not_ext("pg_proc", "p.oid"),
        ext_t = not_ext("pg_type", "t.oid"),
        ext_n = not_ext("pg_namespace", "n.oid"),
        ext_e = not_ext("pg_event_trigger", "e.oid"),
    );
    let row = s.query_one(&sql, &[]).await.map_err(Error::from_pg)?;
    Ok(UserObjects {
        tables: row.get::<_, i64>(0) as u64,
        other: row.get::<_, i64>(1) as u64,
    })
}
