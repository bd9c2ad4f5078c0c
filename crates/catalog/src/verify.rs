//! What verification reads from the catalogs of each side: the tables to compare with their
//! columns and best key, the sequences, the large objects. The same queries on both servers,
//! valid on every supported major (12 to 18).

use tokio_postgres::SimpleQueryMessage;

use crate::scope::user_schemas;
use db_migrate_conn::Session;
use db_migrate_core::error::{Error, Result};

/// The schema db-migrate's own bookkeeping lives in on the target (never compared).
pub const LEDGER_SCHEMA: &str = "db_migrate";

/// One ordinary table (or leaf partition) as one side sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyTable {
    pub schema: String,
    pub name: String,
    /// Non-dropped columns in column order, with `format_type` of each.
    pub columns: Vec<(String, String)>,
    /// The primary key's columns, else those of the narrowest unique, valid, non-partial index
    /// without expressions whose columns are all NOT NULL; empty when there is none.
    pub key: Vec<String>,
    /// Whether the session's user may `SELECT` from the table.
    pub readable: bool,
    /// Planner estimate of the rows (0 when unknown).
    pub est_rows: u64,
}

/// A sequence's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SequenceState {
    pub schema: String,
    pub name: String,
    /// `None` when the user may not read it.
    pub last_value: Option<String>,
    pub is_called: Option<bool>,
}

/// One large object: owner and a hash of its contents (`None` when it cannot be read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LargeObjectState {
    pub oid: u32,
    pub owner: String,
    pub md5: Option<String>,
}

/// Rows of a simple query, every value as text.
pub async fn text_rows(s: &Session, sql: &str) -> Result<Vec<Vec<Option<String>>>> {
    let msgs = s.simple_query(sql).await.map_err(Error::from_pg)?;
    Ok(msgs
        .into_iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => {
                Some((0..r.len()).map(|i| r.get(i).map(str::to_owned)).collect())
            }
            _ => None,
        })
        .collect())
}

/// Parses a one-dimensional text array as the server prints it (`{a,"b c",NULL}`).
pub fn parse_text_array(s: &str) -> Vec<Option<String>> {
    let inner = s
        .strip_prefix('{')
        .and_then(|x| x.strip_suffix('}'))
        .unwrap_or("");
    let mut out = Vec::new();
    if inner.is_empty() {
        return out;
    }
    let mut chars = inner.chars().peekable();
    loop {
        let mut item = String::new();
        let mut quoted = false;
        if chars.peek() == Some(&'"') {
            quoted = true;
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => {
                        if let Some(n) = chars.next() {
                            item.push(n);
                        }
                    }
                    '"' => break,
                    _ => item.push(c),
                }
            }
        }
        while let Some(&c) = chars.peek() {
            if c == ',' {
                break;
            }
            item.push(c);
            chars.next();
        }
        out.push(if !quoted && item == "NULL" {
            None
        } else {
            Some(item)
        });
        if chars.next().is_none() {
            break;
        }
    }
    out
}

const TABLES_SQL: &str = concat!(
    "
SELECT n.nspname::text, c.relname::text,
       ARRAY(SELECT a.attname::text FROM pg_catalog.pg_attribute a
              WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum)::text,
       ARRAY(SELECT pg_catalog.format_type(a.atttypid, a.atttypmod) FROM pg_catalog.pg_attribute a
              WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum)::text,
       (SELECT ARRAY(SELECT a.attname::text
                       FROM pg_catalog.unnest(i.indkey::int2[]) WITH ORDINALITY u(attnum, ord)
                       JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = u.attnum
                      WHERE u.ord <= i.indnkeyatts ORDER BY u.ord)
          FROM pg_catalog.pg_index i
         WHERE i.indrelid = c.oid AND i.indisunique AND i.indisvalid AND i.indimmediate
           AND i.indpred IS NULL AND i.indexprs IS NULL
           AND NOT EXISTS (SELECT 1 FROM pg_catalog.unnest(i.indkey::int2[]) WITH ORDINALITY u(attnum, ord)
                             JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = u.attnum
                            WHERE u.ord <= i.indnkeyatts AND NOT a.attnotnull)
         ORDER BY i.indisprimary DESC, i.indnkeyatts, i.indexrelid LIMIT 1)::text,
       pg_catalog.has_table_privilege(c.oid, 'SELECT')::text,
       GREATEST(c.reltuples, 0)::int8::text
  FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind = 'r' AND c.relpersistence <> 't'
   AND ",
    user_schemas!("n"),
    " AND n.nspname <> 'db_migrate'
   AND (NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                     WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objid = c.oid
                       AND d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass AND d.deptype = 'e')
        OR EXISTS (SELECT 1 FROM pg_catalog.pg_extension e WHERE c.oid = ANY (e.extconfig)))
 ORDER BY 1, 2"
);

/// The tables to compare: ordinary tables and leaf partitions outside the system schemas and
/// [`LEDGER_SCHEMA`]; extension members only when they are configuration tables (the others
/// are created by the extension on each side).
pub async fn list_tables(s: &Session) -> Result<Vec<VerifyTable>> {
    let rows = text_rows(s, TABLES_SQL).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let get = |i: usize| r.get(i).cloned().flatten().unwrap_or_default();
        let names = parse_text_array(&get(2));
        let types = parse_text_array(&get(3));
        out.push(VerifyTable {
            schema: get(0),
            name: get(1),
            columns: names
                .into_iter()
                .zip(types)
                .map(|(n, t)| (n.unwrap_or_default(), t.unwrap_or_default()))
                .collect(),
            key: r
                .get(4)
                .cloned()
                .flatten()
                .map(|k| parse_text_array(&k).into_iter().flatten().collect())
                .unwrap_or_default(),
            readable: get(5) == "true",
            est_rows: get(6).parse().unwrap_or(0),
        });
    }
    Ok(out)
}

/// The database's server encoding.
pub async fn encoding(s: &Session) -> Result<String> {
    let rows = text_rows(
        s,
        "SELECT pg_catalog.pg_encoding_to_char(encoding)::text FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database()",
    )
    .await?;
    Ok(rows
        .into_iter()
        .next()
        .and_then(|r| r.into_iter().next().flatten())
        .unwrap_or_default())
}

/// Sequences outside the system schemas and [`LEDGER_SCHEMA`], with their state where the
/// user may read them (`pg_sequences.last_value` is NULL both for an unreadable sequence and
/// for one never called, so the sequence itself is read).
pub async fn list_sequences(s: &Session) -> Result<Vec<SequenceState>> {
    let rows = text_rows(
        s,
        concat!(
            "SELECT n.nspname::text, c.relname::text,
                    pg_catalog.has_sequence_privilege(c.oid, 'SELECT')::text
               FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
              WHERE c.relkind = 'S' AND c.relpersistence <> 't' AND ",
            user_schemas!("n"),
            " AND n.nspname <> 'db_migrate'
              ORDER BY 1, 2"
        ),
    )
    .await?;
    let mut out = Vec::new();
    let mut readable = Vec::new();
    for r in rows {
        let get = |i: usize| r.get(i).cloned().flatten().unwrap_or_default();
        if get(2) == "true" {
            readable.push(out.len());
        }
        out.push(SequenceState {
            schema: get(0),
            name: get(1),
            last_value: None,
            is_called: None,
        });
    }
    for chunk in readable.chunks(500) {
        let parts: Vec<String> = chunk
            .iter()
            .map(|&i| {
                format!(
                    "SELECT {i}, last_value::text, is_called::text FROM {}",
                    db_migrate_core::sql::qualified(&out[i].schema, &out[i].name)
                )
            })
            .collect();
        for r in text_rows(s, &parts.join(" UNION ALL ")).await? {
            let i: usize = r[0].as_deref().unwrap_or("").parse().unwrap_or(usize::MAX);
            if let Some(seq) = out.get_mut(i) {
                seq.last_value = r[1].clone();
                seq.is_called = r[2].as_deref().map(|v| v == "t" || v == "true");
            }
        }
    }
    Ok(out)
}

/// Every large object with its owner and, where readable, the md5 of its contents.
pub async fn list_large_objects(s: &Session) -> Result<Vec<LargeObjectState>> {
    // has_largeobject_privilege is PostgreSQL 18+; before, a superuser or the owner (or
    // lo_compat_privileges) reads them, and lo_get fails for the others.
    let readable = if s.server_version_num() >= 180000 {
        "pg_catalog.has_largeobject_privilege(m.oid, 'SELECT')"
    } else {
        "true"
    };
    let rows = text_rows(
        s,
        &format!(
            "SELECT m.oid::text, pg_catalog.pg_get_userbyid(m.lomowner)::text,
                    CASE WHEN {readable} THEN pg_catalog.md5(pg_catalog.lo_get(m.oid)) END
               FROM pg_catalog.pg_largeobject_metadata m ORDER BY m.oid"
        ),
    )
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| LargeObjectState {
            oid: r[0].as_deref().unwrap_or("0").parse().unwrap_or(0),
            owner: r[1].clone().unwrap_or_default(),
            md5: r[2].clone(),
        })
        .collect())
}

/// The `pg_stats` fields `--verify-statistics` compares, in the order [`column_statistics`]
/// returns them after the row's identity. The range histograms are left out: a source older
/// than 17 does not show them.
pub const STATISTICS_FIELDS: &[&str] = &[
    "null_frac",
    "avg_width",
    "n_distinct",
    "most_common_vals",
    "most_common_freqs",
    "histogram_bounds",
    "correlation",
    "most_common_elems",
    "most_common_elem_freqs",
    "elem_count_histogram",
];

/// Every `pg_stats` row outside the system schemas and [`LEDGER_SCHEMA`], as text: schema,
/// table, column, inherited, then [`STATISTICS_FIELDS`].
pub async fn column_statistics(s: &Session) -> Result<Vec<Vec<Option<String>>>> {
    let fields: Vec<String> = STATISTICS_FIELDS
        .iter()
        .map(|f| format!("s.{f}::text"))
        .collect();
    let sql = format!(
        "SELECT s.schemaname::text, s.tablename::text, s.attname::text, s.inherited::text, {}
           FROM pg_catalog.pg_stats s
           JOIN pg_catalog.pg_namespace n ON n.nspname = s.schemaname
          WHERE {} AND n.nspname <> '{LEDGER_SCHEMA}'
          ORDER BY 1, 2, 3, 4",
        fields.join(", "),
        user_schemas!("n")
    );
    text_rows(s, &sql).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_arrays_parse_quotes_escapes_and_nulls() {
        assert_eq!(
            parse_text_array(r#"{a,"b c","q\"x",NULL,"NULL"}"#),
            vec![
                Some("a".into()),
                Some("b c".into()),
                Some("q\"x".into()),
                None,
                Some("NULL".into())
            ]
        );
        assert!(parse_text_array("{}").is_empty());
        assert_eq!(parse_text_array(r#"{"a\\b"}"#), vec![Some(r"a\b".into())]);
    }
}
