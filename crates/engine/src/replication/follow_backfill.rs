//! The older rows of a column added during replication whose values the target cannot
//! compute alike. A column added with a constant default (or `DEFAULT now()`) gives every row
//! from before it one value, which the target gives its copies too (see
//! `follow::column_sql`). One added with a volatile default (`gen_random_uuid()`, `serial`,
//! `random()`) made the source rewrite the table with a value per row, and one added without a
//! default and given one later left those rows `NULL`: either way the rewrite is not in the
//! WAL, and the target's `ADD COLUMN` fills its copies with values of its own. So once the rows
//! from before the `ADD COLUMN` are applied, the source's values are copied over them, by the
//! table's key.
//!
//! The subscription is disabled meanwhile: the rows the source changes while its values are
//! read lie after the position the target stopped at, and are applied over the copied values
//! once it is enabled again, as they would have been over the rows they changed (a read and a
//! write racing the apply worker could instead write an older value over a newer one). The
//! target's triggers do not fire on the copy, as they do not for the apply worker's writes.

use crate::catalog::replication::columns::{ColumnShape, TableColumns};
use crate::catalog::replication::state;
use crate::conn::Session;
use crate::error::{Error, ErrorKind, Result, Side};
use crate::sql::{qualified, quote_ident};

use super::objects::{self, TargetFacts};

/// Rows read from the source and written on the target at a time.
const BATCH: i64 = 5_000;

/// How long the backfill waits for the apply worker to stop once the subscription is
/// disabled.
const WORKER_STOP_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// A column added on the source and on the target whose older rows take the source's values
/// once the rows from before its `ADD COLUMN` are in.
#[derive(Debug, Clone, PartialEq)]
pub struct Backfill {
    /// As `regclass` writes it: the table's name in the report.
    pub regclass: String,
    pub schema: String,
    pub table: String,
    pub column: String,
    /// `format_type()` of the column.
    pub type_sql: String,
}

impl Backfill {
    /// The gate's object: `table public.t`.
    pub fn object(&self) -> String {
        format!("table {}", self.regclass)
    }

    /// The change's name in the report.
    pub fn describe(&self) -> String {
        format!(
            "column {} of {} given the source's values in its older rows",
            self.column, self.regclass
        )
    }
}

/// Whether the column `c` of `table`, added on the source, holds values in its older rows the
/// target would not give them: it has a default (not a generated expression) and no value of
/// its own for the rows from before it (`attmissingval`), so either the source computed one
/// per row or those rows kept `NULL` while the target would give them the default.
pub fn needs_backfill(table: &TableColumns, c: &ColumnShape) -> Option<Backfill> {
    (c.default.is_some() && !c.generated && c.missing.is_none()).then(|| Backfill {
        regclass: table.regclass.clone(),
        schema: table.schema.clone(),
        table: table.name.clone(),
        column: c.name.clone(),
        type_sql: c.type_sql.clone(),
    })
}

/// The key columns (primary key, else the replica identity index) of the source's table, with
/// their types, in the key's order; empty when it has neither.
async fn key_columns(src: &Session, b: &Backfill) -> Result<Vec<(String, String)>> {
    let rows = src
        .query(
            "SELECT a.attname::text, pg_catalog.format_type(a.atttypid, a.atttypmod)
               FROM pg_catalog.pg_index i
               JOIN pg_catalog.pg_attribute a
                 ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey::int2[])
              WHERE i.indrelid = $1::text::regclass
                AND i.indexrelid = (SELECT x.indexrelid FROM pg_catalog.pg_index x
                                     WHERE x.indrelid = $1::text::regclass
                                       AND (x.indisprimary OR x.indisreplident)
                                     ORDER BY x.indisprimary DESC LIMIT 1)
              ORDER BY pg_catalog.array_position(i.indkey::int2[], a.attnum)",
            &[&qualified(&b.schema, &b.table)],
        )
        .await
        .map_err(|e| Error::from_pg(e).with_side(Side::Source))?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// The statement that writes one batch on the target: the source's values of the column,
/// matched by key, over the rows whose value differs.
fn update_sql(b: &Backfill, keys: &[(String, String)]) -> String {
    let mut arrays = Vec::new();
    let mut names = Vec::new();
    let mut matches = Vec::new();
    for (i, (name, ty)) in keys.iter().enumerate() {
        arrays.push(format!("pg_catalog.unnest(${}::text[])", i + 1));
        names.push(format!("k{i}"));
        matches.push(format!("t.{} = v.k{i}::{ty}", quote_ident(name)));
    }
    arrays.push(format!("pg_catalog.unnest(${}::text[])", keys.len() + 1));
    names.push("val".into());
    let col = quote_ident(&b.column);
    format!(
        "UPDATE {} AS t SET {col} = v.val::{ty} FROM ROWS FROM ({}) AS v({}) \
         WHERE {} AND t.{col} IS DISTINCT FROM v.val::{ty}",
        qualified(&b.schema, &b.table),
        arrays.join(", "),
        names.join(", "),
        matches.join(" AND "),
        ty = b.type_sql,
    )
}

/// The statement that reads the source's values, each as text, keys first.
fn select_sql(b: &Backfill, keys: &[(String, String)]) -> String {
    let cols: Vec<String> = keys
        .iter()
        .map(|(k, _)| format!("{}::text", quote_ident(k)))
        .chain([format!("{}::text", quote_ident(&b.column))])
        .collect();
    format!(
        "SELECT {} FROM {}",
        cols.join(", "),
        qualified(&b.schema, &b.table)
    )
}

/// What a backfill did, for the report: the statement and the rows written.
pub struct Filled {
    pub statement: String,
    pub rows: u64,
}

/// Copies the source's values of the added column over the target's, with the subscription
/// `sub` disabled meanwhile (see the module docs). The subscription is enabled again whatever
/// happened in between; an error names the side it came from.
pub async fn backfill(
    src: &Session,
    tgt: &Session,
    sub: &str,
    facts: &TargetFacts,
    b: &Backfill,
) -> Result<Filled> {
    let keys = key_columns(src, b).await?;
    if keys.is_empty() {
        return Err(Error::new(
            ErrorKind::Validation,
            format!(
                "{} has neither a primary key nor a replica identity index to copy the source's \
             values of its new column {} by; the target's older rows keep the values it \
             computed itself",
                qualified(&b.schema, &b.table),
                quote_ident(&b.column)
            ),
        )
        .with_side(Side::Source));
    }
    objects::disable_subscription(tgt, sub, facts)
        .await
        .map_err(|e| e.with_side(Side::Target))?;
    let copied = match wait_worker_stopped(tgt, sub).await {
        Ok(()) => copy_values(src, tgt, facts, b, &keys).await,
        Err(e) => Err(e),
    };
    let enabled = objects::enable_subscription(tgt, sub, facts)
        .await
        .map_err(|e| e.with_side(Side::Target));
    let rows = copied?;
    enabled?;
    Ok(Filled {
        statement: update_sql(b, &keys),
        rows,
    })
}

/// Waits until the subscription's apply worker is gone (a disabled subscription's worker
/// exits at its next look at the catalog).
async fn wait_worker_stopped(tgt: &Session, sub: &str) -> Result<()> {
    let until = std::time::Instant::now() + WORKER_STOP_WAIT;
    loop {
        let running = state::apply_worker_running(tgt, sub)
            .await
            .map_err(|e| e.with_side(Side::Target))?;
        if running != Some(true) {
            return Ok(());
        }
        if std::time::Instant::now() >= until {
            return Err(Error::new(
                ErrorKind::Timeout,
                format!(
                    "the apply worker of subscription {} did not stop within {} s of its DISABLE",
                    quote_ident(sub),
                    WORKER_STOP_WAIT.as_secs()
                ),
            )
            .with_side(Side::Target));
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// Reads the source's values through a cursor and writes them on the target in one
/// transaction, the target's user triggers held off as the apply worker's are. Returns the
/// rows written.
async fn copy_values(
    src: &Session,
    tgt: &Session,
    facts: &TargetFacts,
    b: &Backfill,
    keys: &[(String, String)],
) -> Result<u64> {
    let on_src = |e| Error::from_pg(e).with_side(Side::Source);
    let on_tgt = |e| Error::from_pg(e).with_side(Side::Target);
    src.batch_execute(&format!(
        "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; \
         DECLARE backfill NO SCROLL CURSOR FOR {}",
        select_sql(b, keys)
    ))
    .await
    .map_err(on_src)?;
    let result = async {
        tgt.batch_execute("BEGIN").await.map_err(on_tgt)?;
        let held = hold_triggers(tgt, facts, b).await?;
        let update = update_sql(b, keys);
        let mut written = 0;
        loop {
            let rows = src
                .query(&format!("FETCH {BATCH} FROM backfill"), &[])
                .await
                .map_err(on_src)?;
            if rows.is_empty() {
                break;
            }
            let mut columns: Vec<Vec<Option<String>>> = vec![Vec::new(); keys.len() + 1];
            for r in &rows {
                for (i, col) in columns.iter_mut().enumerate() {
                    col.push(r.get(i));
                }
            }
            let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = columns
                .iter()
                .map(|c| c as &(dyn tokio_postgres::types::ToSql + Sync))
                .collect();
            written += tgt.execute(&update, &params).await.map_err(on_tgt)?;
        }
        for name in held {
            tgt.batch_execute(&format!(
                "ALTER TABLE {} ENABLE TRIGGER {}",
                qualified(&b.schema, &b.table),
                quote_ident(&name)
            ))
            .await
            .map_err(on_tgt)?;
        }
        tgt.batch_execute("COMMIT").await.map_err(on_tgt)?;
        Ok(written)
    }
    .await;
    if result.is_err() {
        let _ = tgt.batch_execute("ROLLBACK").await;
    }
    let _ = src.batch_execute("COMMIT").await;
    result
}

/// Keeps the target's triggers from firing on the copy, as they do not fire on the apply
/// worker's writes: `session_replication_role = replica` for a superuser, else each enabled
/// user trigger of the table disabled in the transaction (given back before it commits).
/// Returns the triggers to enable again.
async fn hold_triggers(tgt: &Session, facts: &TargetFacts, b: &Backfill) -> Result<Vec<String>> {
    let on_tgt = |e| Error::from_pg(e).with_side(Side::Target);
    if facts.superuser {
        tgt.batch_execute("SET LOCAL session_replication_role = replica")
            .await
            .map_err(on_tgt)?;
        return Ok(Vec::new());
    }
    let table = qualified(&b.schema, &b.table);
    let rows = tgt
        .query(
            "SELECT tgname::text FROM pg_catalog.pg_trigger
              WHERE tgrelid = $1::text::regclass AND NOT tgisinternal AND tgenabled = 'O'",
            &[&table],
        )
        .await
        .map_err(on_tgt)?;
    let names: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    for name in &names {
        tgt.batch_execute(&format!(
            "ALTER TABLE {table} DISABLE TRIGGER {}",
            quote_ident(name)
        ))
        .await
        .map_err(on_tgt)?;
    }
    Ok(names)
}

/// The backfill's statement as a refusal names it (the key is not known when it failed to be
/// read).
pub fn statement(b: &Backfill) -> String {
    format!(
        "UPDATE {} SET {} = <the source's values>",
        qualified(&b.schema, &b.table),
        quote_ident(&b.column)
    )
}

/// The statement named in the report for a backfill of `rows` rows.
pub fn reported(f: &Filled) -> String {
    format!(
        "{} ({} rows, the subscription disabled meanwhile)",
        f.statement, f.rows
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(
        name: &str,
        default: Option<&str>,
        generated: bool,
        missing: Option<&str>,
    ) -> ColumnShape {
        ColumnShape {
            name: name.into(),
            type_sql: "uuid".into(),
            collation: None,
            not_null: true,
            default: default.map(Into::into),
            generated,
            missing: missing.map(Into::into),
        }
    }

    fn table() -> TableColumns {
        TableColumns {
            regclass: "app".into(),
            schema: "public".into(),
            name: "app".into(),
            is_child: false,
            columns: Vec::new(),
        }
    }

    #[test]
    fn only_a_default_without_a_value_of_its_own_for_the_older_rows_is_copied_from_the_source() {
        let t = table();
        let volatile = shape("token", Some("gen_random_uuid()"), false, None);
        assert_eq!(
            needs_backfill(&t, &volatile).map(|b| b.object()),
            Some("table app".to_string())
        );
        // A constant or stable default: the older rows read `attmissingval`, given as it is.
        let stable = shape("at", Some("now()"), false, Some("2026-12-08 01:00:00+00"));
        assert_eq!(needs_backfill(&t, &stable), None);
        // A generated column is computed alike from the row on both sides.
        let generated = shape("g", Some("(k * 2)"), true, None);
        assert_eq!(needs_backfill(&t, &generated), None);
        // No default: the older rows are NULL on both sides.
        let plain = shape("p", None, false, None);
        assert_eq!(needs_backfill(&t, &plain), None);
    }

    #[test]
    fn the_batch_update_matches_by_every_key_column_and_writes_only_what_differs() {
        let b = needs_backfill(&table(), &shape("to ken", Some("x()"), false, None)).unwrap();
        let keys = [
            ("id".to_string(), "integer".to_string()),
            ("Part".to_string(), "text".to_string()),
        ];
        assert_eq!(
            update_sql(&b, &keys),
            "UPDATE \"public\".\"app\" AS t SET \"to ken\" = v.val::uuid FROM ROWS FROM \
             (pg_catalog.unnest($1::text[]), pg_catalog.unnest($2::text[]), \
             pg_catalog.unnest($3::text[])) AS v(k0, k1, val) WHERE t.\"id\" = v.k0::integer AND \
             t.\"Part\" = v.k1::text AND t.\"to ken\" IS DISTINCT FROM v.val::uuid"
        );
        assert_eq!(
            select_sql(&b, &keys),
            "SELECT \"id\"::text, \"Part\"::text, \"to ken\"::text FROM \"public\".\"app\""
        );
    }
}
