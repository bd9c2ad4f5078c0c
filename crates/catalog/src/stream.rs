//! Catalog queries read row by row.
//!
//! `Client::query` keeps every row of a result (each a copy of its message and a range per
//! column: about half a kilobyte for a twenty-column row) until the last one has arrived, and
//! only then do the readers turn them into their structs: both at once, at the peak. A schema
//! of 100,000 tables has half a million columns and a million `pg_depend` rows, so the readers
//! of the big catalogs turn each row into its struct as it arrives instead, and the rows are
//! never all held. The stream is bounded (tokio-postgres hands one message batch at a time to
//! the reader), so a slow reader slows the socket rather than growing a buffer.

use db_migrate_conn::Session;
use db_migrate_core::error::{Error, Result};
use futures::TryStreamExt;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

/// Runs `sql` (no parameters) and hands each row to `each` as it arrives; `what` names the
/// step in an error.
pub async fn for_each(
    s: &Session,
    what: &'static str,
    sql: &str,
    mut each: impl FnMut(Row),
) -> Result<()> {
    let fail = |e| Error::from_pg(e).with_step(what);
    let none: [&(dyn ToSql + Sync); 0] = [];
    let stream = s.query_raw(sql, none).await.map_err(fail)?;
    futures::pin_mut!(stream);
    while let Some(row) = stream.try_next().await.map_err(fail)? {
        each(row);
    }
    Ok(())
}

/// Runs `sql` (no parameters) and returns what `each` makes of every row, converted as the
/// rows arrive.
pub async fn collect<T>(
    s: &Session,
    what: &'static str,
    sql: &str,
    mut each: impl FnMut(&Row) -> T,
) -> Result<Vec<T>> {
    let mut out = Vec::new();
    for_each(s, what, sql, |r| out.push(each(&r))).await?;
    out.shrink_to_fit();
    Ok(out)
}

/// Like [`collect`], keeping only the rows `each` makes something of (a catalog row whose
/// object was dropped since the snapshot, for example).
pub async fn collect_some<T>(
    s: &Session,
    what: &'static str,
    sql: &str,
    mut each: impl FnMut(&Row) -> Option<T>,
) -> Result<Vec<T>> {
    let mut out = Vec::new();
    for_each(s, what, sql, |r| out.extend(each(&r))).await?;
    out.shrink_to_fit();
    Ok(out)
}
