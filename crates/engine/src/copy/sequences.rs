//! Sequence values: `last_value` and `is_called` read on the source, `setval` on the target.
//!
//! Sequences are not transactional, so the values are the ones current when they are read (in
//! the coordinator's transaction, right after the snapshot was taken), as with pg_dump. Identity
//! and `OWNED BY` sequences are ordinary sequences in `pg_class` and are included; sequences that
//! belong to an extension are carried only when they are extension configuration sequences.
//!
//! The replication cut-over syncs sequences with the same code ([`list`] and [`sync`]): once the
//! target has caught up, outside any snapshot, and with one warning per sequence that cannot be
//! read or set instead of failing the others.

use super::plan::SequencePlan;
use crate::conn::Session;
use crate::error::{Error, Result, Side};
use crate::sql::{qualified, quote_literal};
use crate::warning::Warning;

/// Sequences read per query.
const BATCH: usize = 200;

/// One sequence's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SequenceValue {
    pub schema: String,
    pub name: String,
    pub last_value: i64,
    pub is_called: bool,
}

/// The sequences of the source database to carry, by schema and name: user sequences, and
/// with `extension_config` the extension configuration sequences (`pg_extension.extconfig`);
/// the same rule as the copy plan's (`--no-replicate-extension-tables` leaves those out).
pub async fn list(src: &Session, db: &str, extension_config: bool) -> Result<Vec<SequencePlan>> {
    let names = crate::catalog::copy_plan::list_sequences(src, extension_config)
        .await
        .map_err(|e| e.with_side(Side::Source).with_database(db))?;
    Ok(names
        .into_iter()
        .map(|(schema, name)| SequencePlan { schema, name })
        .collect())
}

/// One query reading the state of every sequence of `batch` (the first column is the index
/// in `batch`).
fn select_statement(batch: &[SequencePlan]) -> String {
    batch
        .iter()
        .enumerate()
        .map(|(i, s)| {
            format!(
                "SELECT {i}::int4, last_value, is_called FROM {}",
                qualified(&s.schema, &s.name)
            )
        })
        .collect::<Vec<_>>()
        .join(" UNION ALL ")
}

/// Reads `batch`'s state in one query.
async fn read_batch(
    src: &Session,
    batch: &[SequencePlan],
) -> std::result::Result<Vec<SequenceValue>, tokio_postgres::Error> {
    let rows = src.query(&select_statement(batch), &[]).await?;
    Ok(rows
        .iter()
        .map(|r| {
            let i: i32 = r.get(0);
            let s = &batch[i as usize];
            SequenceValue {
                schema: s.schema.clone(),
                name: s.name.clone(),
                last_value: r.get(1),
                is_called: r.get(2),
            }
        })
        .collect())
}

/// Reads the state of `seqs` on the source.
pub async fn read(src: &Session, db: &str, seqs: &[SequencePlan]) -> Result<Vec<SequenceValue>> {
    let mut out = Vec::with_capacity(seqs.len());
    for batch in seqs.chunks(BATCH) {
        out.extend(read_batch(src, batch).await.map_err(|e| {
            Error::from_pg(e)
                .with_side(Side::Source)
                .with_database(db)
                .with_phase(crate::error::Phase::Copy)
                .context("reading sequence values")
        })?);
    }
    Ok(out)
}

/// The `setval` statements for `values`, [`BATCH`] per string.
pub fn setval_statements(values: &[SequenceValue]) -> Vec<String> {
    values
        .chunks(BATCH)
        .map(|batch| {
            let calls = batch
                .iter()
                .map(|v| {
                    format!(
                        "pg_catalog.setval({}, {}, {})",
                        quote_literal(&qualified(&v.schema, &v.name)),
                        v.last_value,
                        v.is_called
                    )
                })
                .collect::<Vec<_>>()
                .join(", ");
            format!("SELECT {calls}")
        })
        .collect()
}

/// Applies `values` on the target.
pub async fn apply(tgt: &Session, db: &str, values: &[SequenceValue]) -> Result<()> {
    for sql in setval_statements(values) {
        tgt.batch_execute(&sql).await.map_err(|e| {
            Error::from_pg(e)
                .with_side(Side::Target)
                .with_database(db)
                .with_phase(crate::error::Phase::Copy)
                .context("setting sequence values")
        })?;
    }
    Ok(())
}

/// Copies the values of `seqs` from `src` to `tgt` with the batched statements of [`read`] and
/// [`apply`]. A batch that fails is retried one sequence at a time, so that a sequence that
/// cannot be read on the source or set on the target becomes a warning naming it and the others
/// are still synced. Returns the number synced and the warnings.
pub async fn sync(src: &Session, tgt: &Session, seqs: &[SequencePlan]) -> (usize, Vec<Warning>) {
    let mut synced = 0;
    let mut warnings = Vec::new();
    for batch in seqs.chunks(BATCH) {
        let values = match read_batch(src, batch).await {
            Ok(v) => v,
            Err(_) => {
                let mut values = Vec::with_capacity(batch.len());
                for s in batch {
                    match read_batch(src, std::slice::from_ref(s)).await {
                        Ok(v) => values.extend(v),
                        Err(e) => warnings.push(sequence_warning(
                            &s.schema,
                            &s.name,
                            format!("could not be read on the source: {}", Error::from_pg(e)),
                        )),
                    }
                }
                values
            }
        };
        for sql in setval_statements(&values) {
            if tgt.batch_execute(&sql).await.is_ok() {
                synced += values.len();
                continue;
            }
            // setval is not transactional: values set before the failing one stay set, and
            // setting them again is harmless.
            for v in &values {
                match tgt
                    .batch_execute(&setval_statements(std::slice::from_ref(v))[0])
                    .await
                {
                    Ok(()) => synced += 1,
                    Err(e) => warnings.push(sequence_warning(
                        &v.schema,
                        &v.name,
                        format!("could not be set on the target: {}", Error::from_pg(e)),
                    )),
                }
            }
        }
    }
    (synced, warnings)
}

/// `sequence "s"."n" <what>`, about that sequence.
fn sequence_warning(schema: &str, name: &str, what: String) -> Warning {
    let q = qualified(schema, name);
    Warning::sequence(format!("sequence {q} {what}")).on(format!("sequence {q}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setval_quotes_names() {
        let v = vec![SequenceValue {
            schema: "a'b".into(),
            name: "s\"q".into(),
            last_value: -5,
            is_called: false,
        }];
        assert_eq!(
            setval_statements(&v),
            vec![r#"SELECT pg_catalog.setval('"a''b"."s""q"', -5, false)"#.to_string()]
        );
    }
}
