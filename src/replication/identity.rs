//! Tables that cannot replicate UPDATE and DELETE: no primary key and no usable replica
//! identity.
//!
//! Why this blocks the replication method: once such a table is in a publication, the
//! *source's* application fails on every UPDATE and DELETE of it ("cannot update table ...
//! because it does not have a replica identity and publishes updates"). A migration must never
//! break the source, so with `--repl-only` preflight fails listing the tables and the fix, and
//! otherwise the database is migrated by dump, with that reason.

use crate::conn::Session;
use crate::error::Result;

/// The tables of the source database without identity, as `schema.table` (quoted where
/// needed), limited to `only` (schema, table) when the publication lists tables.
pub async fn tables_without_identity(
    source_db: &Session,
    only: Option<&[(String, String)]>,
) -> Result<Vec<String>> {
    let rows = source_db
        .query(
            "SELECT n.nspname::text, c.relname::text, c.oid::pg_catalog.regclass::text
               FROM pg_catalog.pg_class c
               JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
              WHERE c.relkind = 'r' AND c.relpersistence = 'p'
                AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_'
                AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                                 WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
                                   AND d.objid = c.oid AND d.deptype = 'e')
                AND ((c.relreplident = 'd' AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_index i
                                                           WHERE i.indrelid = c.oid AND i.indisprimary))
                     OR c.relreplident = 'n'
                     OR (c.relreplident = 'i' AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_index i
                                                              WHERE i.indrelid = c.oid AND i.indisreplident)))
              ORDER BY 3",
            &[],
        )
        .await?;
    Ok(selected_names(&rows, only))
}

/// Rows of `(schema, table, display name)`: the display names of those in `only` (all when
/// `None`). The checks list tables the same way, so the filter is written once.
pub(crate) fn selected_names(
    rows: &[tokio_postgres::Row],
    only: Option<&[(String, String)]>,
) -> Vec<String> {
    rows.iter()
        .filter(|r| {
            only.is_none_or(|only| {
                let (schema, table): (String, String) = (r.get(0), r.get(1));
                only.iter().any(|(s, t)| *s == schema && *t == table)
            })
        })
        .map(|r| r.get::<_, String>(2))
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
