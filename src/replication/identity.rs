//! Tables that cannot replicate UPDATE and DELETE: no primary key and no usable replica
//! identity.
//!
//! Why this blocks the replication method: once such a table is in a publication, the
//! *source's* application fails on every UPDATE and DELETE of it ("cannot update table ...
//! because it does not have a replica identity and publishes updates"). A migration must never
//! break the source, so with `--repl-only` preflight fails listing the tables and the fix, and
//! otherwise the database is migrated by dump, with that reason.

use crate::catalog::replication::tables::NamedTable;
use crate::conn::Session;
use crate::error::Result;

/// The tables of the source database without identity, as `schema.table` (quoted where
/// needed), limited to `only` (schema, table) when the publication lists tables.
pub async fn tables_without_identity(
    source_db: &Session,
    only: Option<&[(String, String)]>,
) -> Result<Vec<String>> {
    let tables = crate::catalog::replication::tables::tables_without_identity(source_db).await?;
    Ok(selected_names(&tables, only))
}

/// The display names of `tables` that are in `only` (all when `None`). The checks list tables
/// the same way, so the filter is written once.
pub(crate) fn selected_names(
    tables: &[NamedTable],
    only: Option<&[(String, String)]>,
) -> Vec<String> {
    tables
        .iter()
        .filter(|t| {
            only.is_none_or(|only| only.iter().any(|(s, n)| *s == t.schema && *n == t.name))
        })
        .map(|t| t.display.clone())
        .collect()
}

/// Why replication is refused for `tables`, with the fix.
pub fn reason(tables: &[String]) -> String {
    const SHOWN: usize = 20;
    let mut shown = tables
        .iter()
        .take(SHOWN)
        .map(|t| crate::text::escape_controls(t).into_owned())
        .collect::<Vec<_>>()
        .join(", ");
    if tables.len() > SHOWN {
        shown.push_str(&format!(" and {} more", tables.len() - SHOWN));
    }
    format!(
        "{} tables have neither a primary key nor a usable replica identity, so once published \
         their UPDATE and DELETE would fail on the source: {shown} (fix on the source: add a \
         primary key, or ALTER TABLE ... REPLICA IDENTITY USING INDEX on a unique index of NOT \
         NULL columns, or ALTER TABLE ... REPLICA IDENTITY FULL)",
        tables.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reason_names_the_tables_and_every_fix() {
        let r = reason(&["public.a".into(), "\"we\nird\".b".into()]);
        assert!(r.starts_with("2 tables"), "{r}");
        assert!(
            r.contains("public.a") && r.contains("\"we\\nird\".b"),
            "{r}"
        );
        assert!(r.contains("primary key") && r.contains("USING INDEX") && r.contains("FULL"));
    }
}
