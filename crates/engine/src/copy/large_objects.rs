//! Large object contents.
//!
//! The schema engine creates large objects' metadata on the target (`lo_create(oid)`, owner,
//! ACL, comment); this module copies their contents. Reading happens in a worker's source
//! transaction, so the contents are those of the snapshot (`pg_largeobject` is an ordinary MVCC
//! table). A large object missing on the target is created with its source OID; one that exists
//! is truncated first, so a re-run leaves no stale tail.
//!
//! Data moves in chunks (`lo_get(oid, offset, len)` -> `lo_put(oid, offset, data)`) so memory
//! stays bounded however big an object is. Small objects dominate in practice, so the first
//! chunk of [`GROUP`] objects is read with pipelined queries and written the same way.

use futures::future::try_join_all;

use crate::conn::Session;
use crate::error::{Error, Result, Side};

/// Bytes read for the first chunk of every object.
const FIRST_CHUNK: i32 = 128 * 1024;
/// Bytes per later chunk of a large object.
const CHUNK: i32 = 256 * 1024;
/// Objects whose first chunks are read (and written) in one pipelined round.
const GROUP: usize = 32;
/// Objects per worker task (one target transaction).
pub const BATCH: usize = 512;

/// INV_WRITE from libpq-fs.h.
const INV_WRITE: i32 = 0x20000;

const GET: &str =
    "SELECT pg_catalog.lo_get($1::pg_catalog.oid, $2::pg_catalog.int8, $3::pg_catalog.int4)";
const PUT: &str =
    "SELECT pg_catalog.lo_put($1::pg_catalog.oid, $2::pg_catalog.int8, $3::pg_catalog.bytea)";

fn ensure_sql() -> String {
    format!(
        "SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_largeobject_metadata m WHERE m.oid = $1::pg_catalog.oid)
                THEN pg_catalog.lo_truncate(pg_catalog.lo_open($1::pg_catalog.oid, {INV_WRITE}), 0)::pg_catalog.int8
                ELSE pg_catalog.lo_create($1::pg_catalog.oid)::pg_catalog.int8 END"
    )
}

/// Copies the contents of `oids`; returns the bytes copied. `on_bytes` is called as data
/// arrives (progress). The target side runs in one transaction, committed at the end, with
/// `ledger_sql` (the ledger's record of the batch) just before the commit.
pub async fn copy_batch(
    src: &Session,
    tgt: &Session,
    (source_db, target_db): (&str, &str),
    oids: &[u32],
    ledger_sql: Option<String>,
    on_bytes: &(dyn Fn(u64) + Send + Sync),
) -> Result<u64> {
    let src_err = |oid: u32| {
        move |e: tokio_postgres::Error| {
            Error::from_pg(e)
                .with_side(Side::Source)
                .with_database(source_db)
                .with_object(format!("large object {oid}"))
                .with_phase(crate::error::Phase::Copy)
        }
    };
    let tgt_err = |oid: Option<u32>| {
        move |e: tokio_postgres::Error| {
            let e = Error::from_pg(e)
                .with_side(Side::Target)
                .with_database(target_db)
                .with_phase(crate::error::Phase::Copy);
            match oid {
                Some(o) => e.with_object(format!("large object {o}")),
                None => e.with_object("large objects"),
            }
        }
    };
    let get = src.prepare(GET).await.map_err(src_err(oids[0]))?;
    let ensure = tgt.prepare(&ensure_sql()).await.map_err(tgt_err(None))?;
    let put = tgt.prepare(PUT).await.map_err(tgt_err(None))?;
    tgt.batch_execute("BEGIN").await.map_err(tgt_err(None))?;
    let mut total = 0u64;
    for group in oids.chunks(GROUP) {
        let firsts: Vec<Vec<u8>> = try_join_all(group.iter().map(|&oid| {
            let get = &get;
            async move {
                let row = src
                    .query_one(get, &[&oid, &0i64, &FIRST_CHUNK])
                    .await
                    .map_err(src_err(oid))?;
                Ok::<_, Error>(row.get::<_, Vec<u8>>(0))
            }
        }))
        .await?;
        try_join_all(group.iter().zip(&firsts).map(|(&oid, data)| {
            let (ensure, put) = (&ensure, &put);
            async move {
                tgt.query_one(ensure, &[&oid])
                    .await
                    .map_err(tgt_err(Some(oid)))?;
                if !data.is_empty() {
                    tgt.execute(put, &[&oid, &0i64, &data.as_slice()])
                        .await
                        .map_err(tgt_err(Some(oid)))?;
                }
                Ok::<_, Error>(())
            }
        }))
        .await?;
        for (&oid, data) in group.iter().zip(&firsts) {
            let mut len = data.len() as i64;
            total += len as u64;
            on_bytes(len as u64);
            if data.len() < FIRST_CHUNK as usize {
                continue;
            }
            loop {
                let row = src
                    .query_one(&get, &[&oid, &len, &CHUNK])
                    .await
                    .map_err(src_err(oid))?;
                let chunk: Vec<u8> = row.get(0);
                if chunk.is_empty() {
                    break;
                }
                tgt.execute(&put, &[&oid, &len, &chunk.as_slice()])
                    .await
                    .map_err(tgt_err(Some(oid)))?;
                len += chunk.len() as i64;
                total += chunk.len() as u64;
                on_bytes(chunk.len() as u64);
                if chunk.len() < CHUNK as usize {
                    break;
                }
            }
        }
    }
    // With a ledger, the batch's record commits with its contents.
    if let Some(sql) = ledger_sql {
        tgt.batch_execute(&sql).await.map_err(tgt_err(None))?;
    }
    tgt.batch_execute("COMMIT").await.map_err(tgt_err(None))?;
    Ok(total)
}
