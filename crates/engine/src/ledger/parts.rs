//! The data engine's records in the ledger: every part of every table, large objects and
//! post-data objects, each written in the same target transaction as the rows or statements it
//! records (so a part is in the target exactly once or not at all).

use super::{qname, tgt};
use crate::conn::Session;
use crate::error::Result;
use crate::sql::quote_literal;

/// A part as the ledger holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartRecord {
    pub part: usize,
    pub filter: Option<String>,
    pub copied: bool,
    pub rows: u64,
    pub bytes: u64,
    pub snapshot: Option<String>,
}

/// What the data engine finds in the ledger when it starts.
#[derive(Debug, Clone, Default)]
pub struct CopyLedger {
    pub run_id: String,
    /// Per (schema, table): its parts, in part order.
    pub parts: std::collections::HashMap<(String, String), Vec<PartRecord>>,
    pub large_objects: std::collections::HashSet<u32>,
    /// Keys ([`post_data_key`]) of post-data objects already created.
    pub post_data: std::collections::HashSet<String>,
}

/// Reads the part, large-object and post-data records.
pub async fn read_copy_state(s: &Session) -> Result<CopyLedger> {
    let err = |e| tgt(e, "reading the ledger");
    let run_id: String = s
        .query_one(&format!("SELECT run_id FROM {} LIMIT 1", qname("run")), &[])
        .await
        .map_err(err)?
        .get(0);
    let mut l = CopyLedger {
        run_id,
        ..Default::default()
    };
    for r in s
        .query(
            &format!(
                "SELECT schema_name, table_name, part, filter, state = 'copied',
                        COALESCE(rows, 0), COALESCE(bytes, 0), snapshot
                   FROM {} ORDER BY schema_name, table_name, part",
                qname("part")
            ),
            &[],
        )
        .await
        .map_err(err)?
    {
        l.parts
            .entry((r.get(0), r.get(1)))
            .or_default()
            .push(PartRecord {
                part: r.get::<_, i32>(2) as usize,
                filter: r.get(3),
                copied: r.get(4),
                rows: r.get::<_, i64>(5) as u64,
                bytes: r.get::<_, i64>(6) as u64,
                snapshot: r.get(7),
            });
    }
    for r in s
        .query(
            &format!(
                "SELECT lo_oid::pg_catalog.int8 FROM {}",
                qname("large_object")
            ),
            &[],
        )
        .await
        .map_err(err)?
    {
        l.large_objects.insert(r.get::<_, i64>(0) as u32);
    }
    for r in s
        .query(&format!("SELECT key FROM {}", qname("post_data")), &[])
        .await
        .map_err(err)?
    {
        l.post_data.insert(r.get(0));
    }
    Ok(l)
}

/// Records the parts of tables planned for the first time (state pending). `tables`: (schema,
/// table, filters).
pub async fn record_parts(
    s: &Session,
    run_id: &str,
    tables: &[(String, String, Vec<Option<String>>)],
) -> Result<()> {
    let rows: Vec<String> = tables
        .iter()
        .flat_map(|(sch, t, parts)| {
            parts.iter().enumerate().map(move |(i, f)| {
                format!(
                    "({}, {}, {i}, {}, {})",
                    quote_literal(sch),
                    quote_literal(t),
                    f.as_deref()
                        .map(quote_literal)
                        .unwrap_or_else(|| "NULL".into()),
                    quote_literal(run_id)
                )
            })
        })
        .collect();
    for chunk in rows.chunks(1000) {
        s.batch_execute(&format!(
            "INSERT INTO {} (schema_name, table_name, part, filter, run_id) VALUES {}
             ON CONFLICT (schema_name, table_name, part) DO NOTHING",
            qname("part"),
            chunk.join(", ")
        ))
        .await
        .map_err(|e| tgt(e, "updating the ledger"))?;
    }
    Ok(())
}

/// The statement that marks a part copied, run in the part's COPY transaction before COMMIT;
/// `retries`: the attempts that failed before this one (`db-migrate status` sums them).
pub fn part_copied_sql(
    schema: &str,
    table: &str,
    part: usize,
    rows: u64,
    bytes: u64,
    snapshot: &str,
    retries: u32,
) -> String {
    format!(
        "UPDATE {} SET state = 'copied', rows = {rows}, bytes = {bytes}, snapshot = {},
                copied_at = pg_catalog.now(), retries = {retries}
          WHERE schema_name = {} AND table_name = {} AND part = {part}",
        qname("part"),
        quote_literal(snapshot),
        quote_literal(schema),
        quote_literal(table)
    )
}

/// The query that tells whether a part committed (after a lost connection, the COMMIT may
/// have happened): one row with (rows, bytes) if it did.
pub fn part_committed_sql(schema: &str, table: &str, part: usize) -> String {
    format!(
        "SELECT rows, bytes FROM {} WHERE schema_name = {} AND table_name = {} AND part = {part}
            AND state = 'copied'",
        qname("part"),
        quote_literal(schema),
        quote_literal(table)
    )
}

/// The statement that records a batch of large objects, run in the batch's transaction.
pub fn large_objects_sql(run_id: &str, oids: &[u32]) -> String {
    let list: Vec<String> = oids.iter().map(|o| o.to_string()).collect();
    format!(
        "INSERT INTO {} (lo_oid, run_id) SELECT o::pg_catalog.oid, {} FROM pg_catalog.unnest(ARRAY[{}]::pg_catalog.int8[]) o
         ON CONFLICT (lo_oid) DO NOTHING",
        qname("large_object"),
        quote_literal(run_id),
        list.join(",")
    )
}

/// A post-data object's key: its description and an md5 of its statements (two constraints
/// of one name on different tables stay apart).
pub fn post_data_key(describe: &str, statements: &[String]) -> String {
    use md5::{Digest, Md5};
    let mut h = Md5::new();
    for s in statements {
        h.update(s.as_bytes());
        h.update([0u8]);
    }
    let digest = h.finalize();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("{describe} {hex}")
}

/// The query that returns a row when a post-data object is recorded as created.
pub fn post_data_exists_sql(describe: &str, statements: &[String]) -> String {
    format!(
        "SELECT 1 FROM {} WHERE key = {}",
        qname("post_data"),
        quote_literal(&post_data_key(describe, statements))
    )
}

/// The statement that records a post-data object, run in its statements' transaction.
pub fn post_data_sql(run_id: &str, describe: &str, statements: &[String]) -> String {
    format!(
        "INSERT INTO {} (key, describe, run_id) VALUES ({}, {}, {}) ON CONFLICT (key) DO NOTHING",
        qname("post_data"),
        quote_literal(&post_data_key(describe, statements)),
        quote_literal(describe),
        quote_literal(run_id)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn post_data_keys_tell_same_named_objects_apart() {
        let a = post_data_key("constraint c", &["ALTER TABLE a ADD CONSTRAINT c".into()]);
        let b = post_data_key("constraint c", &["ALTER TABLE b ADD CONSTRAINT c".into()]);
        assert_ne!(a, b);
        assert!(a.starts_with("constraint c "));
    }

    #[test]
    fn part_statements_quote_names() {
        let sql = part_copied_sql("s'x", "t\"y", 2, 10, 300, "00000003-1", 1);
        assert!(sql.contains("'s''x'"), "{sql}");
        assert!(sql.contains("\"db_migrate\".\"part\""), "{sql}");
        assert!(sql.contains("part = 2"), "{sql}");
        assert!(sql.contains("retries = 1"), "{sql}");
    }
}
