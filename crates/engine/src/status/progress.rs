//! How far a database's copy got, from its ledger's `part` table (the ledger's own tables are
//! read where the ledger is, not in `catalog/`, as `--clean`'s queries are).
//!
//! Only what the ledger records is reported: it holds each part's rows and bytes once the part
//! committed, and `copied_at`, which is `now()` of the part's transaction, so the time its
//! COPY **started**. It records no planned size per part, so the bytes still to copy are an
//! estimate (the average part copied so far times the parts left), and say so.

use std::collections::BTreeMap;

use tokio_postgres::error::SqlState;

use crate::conn::Session;
use crate::error::Result;
use crate::ledger::LEDGER_SCHEMA;
use crate::sql::quote_ident;

/// The window of the copy rate.
pub const RATE_WINDOW_SECONDS: i64 = 60;

/// The copy progress a ledger records.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct TableProgress {
    pub parts_copied: u64,
    pub parts_total: u64,
    /// Tables whose every part is copied / tables with parts.
    pub tables_copied: u64,
    pub tables_total: u64,
    pub rows_copied: u64,
    /// `sum(part.bytes)` of the copied parts.
    pub bytes_copied: u64,
    /// Bytes of the parts whose transaction started in the last [`RATE_WINDOW_SECONDS`],
    /// divided by that window (or by the time since the run started, when shorter).
    pub bytes_per_second: Option<f64>,
    /// `bytes_copied / parts_copied * parts left`: an estimate, since the ledger records no
    /// planned bytes per part. `None` before the first part is copied.
    pub estimated_bytes_left: Option<u64>,
    /// `estimated_bytes_left / bytes_per_second`, when both are known and the rate is not 0.
    pub estimated_seconds_left: Option<u64>,
    /// Post-data objects (indexes, constraints...) created so far.
    pub post_data_created: u64,
    /// Failed attempts of the parts copied so far, retried on new sessions (a part being
    /// retried counts once it commits: its row records the attempts before it).
    pub retries: u64,
}

/// Reads the progress of the ledger in the session's database; `None` when there is no
/// ledger (never made, or dropped meanwhile by a run that finished).
pub async fn read(s: &Session) -> Result<Option<TableProgress>> {
    let q = |t: &str| format!("{}.{}", quote_ident(LEDGER_SCHEMA), quote_ident(t));
    let sql = format!(
        "WITH p AS (SELECT * FROM {part}),
              t AS (SELECT pg_catalog.bool_and(p.state = 'copied') AS done FROM p
                     GROUP BY p.schema_name, p.table_name),
              w AS (SELECT GREATEST(1, LEAST({window},
                        pg_catalog.date_part('epoch', pg_catalog.now() - r.started_at)))::float8 AS secs
                      FROM {run} r LIMIT 1)
         SELECT (SELECT pg_catalog.count(*) FILTER (WHERE p.state = 'copied') FROM p),
                (SELECT pg_catalog.count(*) FROM p),
                (SELECT pg_catalog.count(*) FILTER (WHERE t.done) FROM t),
                (SELECT pg_catalog.count(*) FROM t),
                (SELECT COALESCE(pg_catalog.sum(p.rows) FILTER (WHERE p.state = 'copied'), 0)::int8 FROM p),
                (SELECT COALESCE(pg_catalog.sum(p.bytes) FILTER (WHERE p.state = 'copied'), 0)::int8 FROM p),
                (SELECT COALESCE(pg_catalog.sum(p.bytes) FILTER (WHERE p.state = 'copied'
                         AND p.copied_at > pg_catalog.now() - pg_catalog.make_interval(secs => {window})), 0)::float8
                   FROM p),
                (SELECT w.secs FROM w),
                (SELECT pg_catalog.count(*) FROM {post}),
                -- A ledger of an earlier version has no retries column: read through jsonb.
                (SELECT COALESCE(pg_catalog.sum((pg_catalog.to_jsonb(p) ->> 'retries')::int8), 0)::int8
                   FROM p)",
        part = q("part"),
        run = q("run"),
        post = q("post_data"),
        window = RATE_WINDOW_SECONDS,
    );
    let row = match s.query_one(&sql, &[]).await {
        Ok(r) => r,
        // Dropped between the look for the ledger and this read: the run finished.
        Err(e)
            if e.code() == Some(&SqlState::UNDEFINED_TABLE)
                || e.code() == Some(&SqlState::INVALID_SCHEMA_NAME) =>
        {
            return Ok(None);
        }
        Err(e) => return Err(e.into()),
    };
    let count = |i: usize| row.get::<_, i64>(i).max(0) as u64;
    let recent: f64 = row.get(6);
    let window: Option<f64> = row.get(7);
    let mut p = TableProgress {
        parts_copied: count(0),
        parts_total: count(1),
        tables_copied: count(2),
        tables_total: count(3),
        rows_copied: count(4),
        bytes_copied: count(5),
        bytes_per_second: window.map(|w| recent / w),
        post_data_created: count(8),
        retries: count(9),
        ..Default::default()
    };
    estimate(&mut p);
    Ok(Some(p))
}

/// The copy's figures of a finished migration, as its run recorded them when the ledger
/// became its record (`ledger::finish`); `None` when the ledger is not such a record. Nothing
/// is left to copy, so there is no rate and nothing left to estimate.
pub async fn finished(s: &Session) -> Result<Option<TableProgress>> {
    let Some(totals) = crate::ledger::totals(s).await? else {
        return Ok(None);
    };
    let mut p: TableProgress = serde_json::from_str(&totals).unwrap_or_default();
    p.bytes_per_second = None;
    p.estimated_bytes_left = Some(0);
    p.estimated_seconds_left = Some(0);
    Ok(Some(p))
}

/// The database's warnings so far by kind, as its run recorded them at its last stage
/// (`ledger::set_stage`); empty when none were recorded (or the ledger is gone).
pub async fn warnings(s: &Session) -> Result<BTreeMap<String, u64>> {
    let sql = format!(
        "SELECT (pg_catalog.to_jsonb(r) -> 'warnings')::text FROM {}.{} r LIMIT 1",
        quote_ident(LEDGER_SCHEMA),
        quote_ident("run")
    );
    let row = match s.query_opt(&sql, &[]).await {
        Ok(r) => r,
        Err(e)
            if e.code() == Some(&SqlState::UNDEFINED_TABLE)
                || e.code() == Some(&SqlState::INVALID_SCHEMA_NAME) =>
        {
            return Ok(BTreeMap::new());
        }
        Err(e) => return Err(e.into()),
    };
    let text: Option<String> = row.and_then(|r| r.get(0));
    Ok(text
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default())
}

/// Fills the estimates of `p` from what it holds (see [`TableProgress`]).
pub fn estimate(p: &mut TableProgress) {
    let left_parts = p.parts_total.saturating_sub(p.parts_copied);
    p.estimated_bytes_left = (p.parts_copied > 0).then(|| {
        (p.bytes_copied as f64 / p.parts_copied as f64 * left_parts as f64).round() as u64
    });
    p.estimated_seconds_left = match (p.estimated_bytes_left, p.bytes_per_second) {
        (Some(0), _) => Some(0),
        (Some(left), Some(rate)) if rate > 0.0 => Some((left as f64 / rate).ceil() as u64),
        _ => None,
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_estimate_is_the_average_part_times_the_parts_left() {
        let mut p = TableProgress {
            parts_copied: 2,
            parts_total: 6,
            bytes_copied: 200,
            bytes_per_second: Some(40.0),
            ..Default::default()
        };
        estimate(&mut p);
        assert_eq!(p.estimated_bytes_left, Some(400));
        assert_eq!(p.estimated_seconds_left, Some(10));
    }

    #[test]
    fn nothing_is_estimated_before_the_first_part_or_without_a_rate() {
        let mut p = TableProgress {
            parts_total: 6,
            ..Default::default()
        };
        estimate(&mut p);
        assert_eq!(
            (p.estimated_bytes_left, p.estimated_seconds_left),
            (None, None)
        );
        let mut p = TableProgress {
            parts_copied: 1,
            parts_total: 6,
            bytes_copied: 10,
            bytes_per_second: Some(0.0),
            ..Default::default()
        };
        estimate(&mut p);
        assert_eq!(p.estimated_bytes_left, Some(50));
        assert_eq!(p.estimated_seconds_left, None);
    }
}
