//! Sequence values: `last_value` and `is_called` read on the source, `setval` on the target.
//!
//! Sequences are not transactional, so the values are the ones current when they are read (in
//! the coordinator's transaction, right after the snapshot was taken), as with pg_dump. Identity
//! and `OWNED BY` sequences are ordinary sequences in `pg_class` and are included; sequences that
//! belong to an extension are carried only when they are extension configuration sequences.

use super::plan::SequencePlan;
use crate::conn::Session;
use crate::error::{Error, Result, Side};
use crate::sql::{qualified, quote_literal};

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

/// Reads the state of `seqs` on the source.
pub async fn read(src: &Session, db: &str, seqs: &[SequencePlan]) -> Result<Vec<SequenceValue>> {
    let mut out = Vec::with_capacity(seqs.len());
    for batch in seqs.chunks(BATCH) {
        let sql = batch
            .iter()
            .enumerate()
            .map(|(i, s)| {
                format!(
                    "SELECT {i}::int4, last_value, is_called FROM {}",
                    qualified(&s.schema, &s.name)
                )
            })
            .collect::<Vec<_>>()
            .join(" UNION ALL ");
        let rows = src.query(&sql, &[]).await.map_err(|e| {
            Error::from_pg(e)
                .with_side(Side::Source)
                .with_database(db)
                .with_phase("copy")
                .context("reading sequence values")
        })?;
        for r in rows {
            let i: i32 = r.get(0);
            let s = &batch[i as usize];
            out.push(SequenceValue {
                schema: s.schema.clone(),
                name: s.name.clone(),
                last_value: r.get(1),
                is_called: r.get(2),
            });
        }
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
                .with_phase("copy")
                .context("setting sequence values")
        })?;
    }
    Ok(())
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
