//! The tables a `FOR TABLE` publication lists, and who may publish them.
//!
//! `CREATE PUBLICATION ... FOR ALL TABLES` needs a superuser. Managed services (RDS, Cloud SQL,
//! Azure) never hand one out, but their admin user usually has the REPLICATION attribute and is
//! a member of the roles that own the application's tables, and `FOR TABLE` only needs that:
//! the server checks, per listed table, that the current user has the privileges of its owner
//! (`pg_has_role(owner, 'USAGE')`), and `CREATE` on the database. So when `FOR ALL TABLES` is not
//! possible, the publication lists every table instead, and a table nobody in reach owns is
//! named with its owner, so that the operator can grant that membership or accept the dump.
//!
//! What is listed is what `FOR ALL TABLES` would publish: permanent user tables (unlogged and
//! temporary tables cannot be published), and of the tables extensions create, their
//! *configuration* tables (`pg_extension.extconfig`, e.g. PostGIS's `spatial_ref_sys`), the
//! ones whose user rows the copy carries ([`crate::copy`] with `extension_tables`). `FOR ALL
//! TABLES` publishes every extension table (the server's `is_publishable_class` checks only the
//! relation kind, persistence and OID), so rows a user adds to `spatial_ref_sys` during
//! replication arrive; listed, they do too. With extension tables off
//! (`--no-replicate-extension-tables`) no extension table is copied or listed, and a source
//! whose database holds extension tables gets a list even where `FOR ALL TABLES` is possible
//! ([`extension_tables_all_tables_would_publish`]). An extension's other tables hold only what
//! its `CREATE EXTENSION` makes on the target too, and are never listed. Partitioned tables follow
//! `publish_via_partition_root = false`, the setting `FOR ALL TABLES` publishes with, so changes
//! always arrive under the name of the partition that holds the row, exactly as the target's
//! copy of the schema has them:
//! - PostgreSQL 13+: the top partitioned table is listed, which publishes every partition,
//!   also those attached later, and only its owner is checked;
//! - PostgreSQL 10 to 12 cannot publish a partitioned table: its leaf partitions are listed.

use crate::scope::{EXTENSION_MEMBER, user_schemas};
use db_migrate_conn::Session;
use db_migrate_core::error::Result;
use db_migrate_core::sql::qualified;

/// A table of the source database a publication could list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishableTable {
    pub oid: u32,
    pub schema: String,
    pub name: String,
    /// `schema.name` as the server writes it (`regclass` output: quoted only where needed),
    /// for messages and the schema-drift names.
    pub display: String,
    pub owner: String,
    /// The source user has the privileges of the owner (owner, member, or superuser).
    pub acts_for_owner: bool,
    /// A configuration table of an extension (`pg_extension.extconfig`).
    pub extension: bool,
}

impl PublishableTable {
    /// `"schema"."name"`.
    pub fn qualified(&self) -> String {
        qualified(&self.schema, &self.name)
    }

    /// Why the source user cannot list this table in a publication.
    pub fn refusal(&self) -> String {
        format!(
            "{} (owned by {}, and the source user is neither that role nor a member of it)",
            self.display,
            db_migrate_core::sql::quote_ident(&self.owner)
        )
    }
}

/// Permanent relations outside the system schemas.
const USER_PERMANENT: &str = concat!(
    user_schemas!("n"),
    "
    AND c.relpersistence = 'p'"
);

/// `c` is a configuration table of an extension (its user rows are the copy's to carry).
const EXTENSION_CONFIG: &str = "c.relkind = 'r' AND EXISTS (SELECT 1 FROM pg_catalog.pg_extension e
                     WHERE c.oid = ANY (e.extconfig))";

/// Permanent user relations outside extensions (what the cut-over may find "created during
/// replication": an extension's tables never are).
fn user_relation() -> String {
    format!("{USER_PERMANENT} AND NOT {EXTENSION_MEMBER}")
}

/// The condition a listed relation meets: a user table, or with `extension_tables` also an
/// extension configuration table (see the module docs).
fn listed_relation(extension_tables: bool) -> String {
    if extension_tables {
        format!("{USER_PERMANENT} AND (NOT {EXTENSION_MEMBER} OR ({EXTENSION_CONFIG}))")
    } else {
        user_relation()
    }
}

/// The relation kinds a publication lists for this source version (see the module docs).
fn listed_kinds(server_version_num: u32) -> &'static str {
    if server_version_num >= 130000 {
        "c.relkind IN ('r', 'p') AND NOT c.relispartition"
    } else {
        "c.relkind = 'r'"
    }
}

/// The query of [`publishable_tables`] for a source version.
fn publishable_sql(server_version_num: u32, extension_tables: bool) -> String {
    format!(
        "SELECT c.oid, n.nspname::text, c.relname::text, pg_catalog.pg_get_userbyid(c.relowner)::text,
                pg_catalog.pg_has_role(c.relowner, 'USAGE'), c.oid::pg_catalog.regclass::text,
                {EXTENSION_MEMBER}
           FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
          WHERE {} AND {}
          ORDER BY 2, 3",
        listed_kinds(server_version_num),
        listed_relation(extension_tables)
    )
}

/// Every table a publication of the session's database would list, in name order: user tables
/// and, with `extension_tables` (`MigrateOptions.copy.extension_tables`), extension
/// configuration tables.
pub async fn publishable_tables(
    s: &Session,
    extension_tables: bool,
) -> Result<Vec<PublishableTable>> {
    let sql = publishable_sql(s.server_version_num(), extension_tables);
    let rows = s.query(&sql, &[]).await?;
    Ok(rows
        .iter()
        .map(|r| PublishableTable {
            oid: r.get(0),
            schema: r.get(1),
            name: r.get(2),
            owner: r.get(3),
            acts_for_owner: r.get(4),
            display: r.get(5),
            extension: r.get(6),
        })
        .collect())
}

/// The extension tables a `FOR ALL TABLES` publication of the session's database would publish
/// (every permanent table of an extension), by name: with extension tables off, their presence
/// makes the publication a list that leaves them out.
pub async fn extension_tables_all_tables_would_publish(s: &Session) -> Result<Vec<String>> {
    let rows = s
        .query(
            &format!(
                "SELECT c.oid::pg_catalog.regclass::text
                   FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                  WHERE c.relkind = 'r' AND {USER_PERMANENT} AND {EXTENSION_MEMBER}
                  ORDER BY 1"
            ),
            &[],
        )
        .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// The tables listed in publication `name` itself (`pg_publication_rel`: a partitioned table,
/// not its partitions), by OID.
pub async fn publication_members(s: &Session, name: &str) -> Result<Vec<u32>> {
    let rows = s
        .query(
            "SELECT r.prrelid FROM pg_catalog.pg_publication_rel r
               JOIN pg_catalog.pg_publication p ON p.oid = r.prpubid
              WHERE p.pubname = $1",
            &[&name],
        )
        .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// The tables publication `name` publishes (`pg_publication_tables`: a `FOR ALL TABLES` one's
/// too), as (schema, table), in name order.
pub async fn publication_table_names(s: &Session, name: &str) -> Result<Vec<(String, String)>> {
    let rows = s
        .query(
            "SELECT schemaname::text, tablename::text FROM pg_catalog.pg_publication_tables
              WHERE pubname = $1 ORDER BY 1, 2",
            &[&name],
        )
        .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// `Some(true)` for a `FOR ALL TABLES` publication, `Some(false)` for a list, `None` when it
/// does not exist.
pub async fn publication_is_all_tables(s: &Session, name: &str) -> Result<Option<bool>> {
    let row = s
        .query_opt(
            "SELECT puballtables FROM pg_catalog.pg_publication WHERE pubname = $1",
            &[&name],
        )
        .await?;
    Ok(row.map(|r| r.get(0)))
}

/// May the source user create a publication in this database at all (`CREATE` on it)?
pub async fn may_create_publication(s: &Session) -> Result<bool> {
    let row = s
        .query_one(
            "SELECT pg_catalog.has_database_privilege(pg_catalog.current_database(), 'CREATE')",
            &[],
        )
        .await?;
    Ok(row.get(0))
}

/// Source tables (permanent user tables and partitioned tables, leaf or not) that do not exist
/// on the target yet: created on the source after the schema was migrated. Returns `(oid,
/// name)` pairs, the name as `regclass` writes it on a session with `search_path = ''`.
///
/// `selected`: the `(schema, table)` pairs of a table selection (`--with-table` and the other
/// filters); tables outside it are never "missing", since the selection left them out.
pub async fn missing_on_target(
    src: &Session,
    tgt: &Session,
    selected: Option<&[(String, String)]>,
) -> Result<Vec<(u32, String)>> {
    let rows = src
        .query(
            &format!(
                "SELECT c.oid, c.oid::pg_catalog.regclass::text, n.nspname::text, c.relname::text
                   FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                  WHERE c.relkind IN ('r', 'p') AND {}
                  ORDER BY 2",
                user_relation()
            ),
            &[],
        )
        .await?;
    let all: Vec<(u32, String)> = rows
        .iter()
        .filter(|r| {
            selected.is_none_or(|list| {
                let (schema, table): (String, String) = (r.get(2), r.get(3));
                list.iter().any(|(s, t)| *s == schema && *t == table)
            })
        })
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    if all.is_empty() {
        return Ok(Vec::new());
    }
    let names: Vec<String> = all.iter().map(|(_, n)| n.clone()).collect();
    let present = super::tables::existing_relations(tgt, &names).await?;
    Ok(all
        .into_iter()
        .filter(|(_, n)| !present.contains(n))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitioned_tables_are_listed_by_root_from_13_on() {
        assert!(listed_kinds(130000).contains("'p'"));
        assert!(listed_kinds(170000).contains("NOT c.relispartition"));
        assert_eq!(listed_kinds(120000), "c.relkind = 'r'");
    }

    #[test]
    fn extension_configuration_tables_are_listed_only_with_extension_tables_on() {
        let on = publishable_sql(150000, true);
        let off = publishable_sql(150000, false);
        assert!(on.contains("ANY (e.extconfig)"), "{on}");
        assert!(
            on.contains("(NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d"),
            "{on}"
        );
        assert!(!off.contains("extconfig"), "{off}");
        assert!(
            off.contains("AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d"),
            "{off}"
        );
        // Either way: permanent relations, by the version's kinds, and whether each is an
        // extension's (the 7th column).
        for sql in [&on, &off] {
            assert!(sql.contains("c.relpersistence = 'p'"), "{sql}");
            assert!(sql.contains("NOT c.relispartition"), "{sql}");
            assert!(sql.contains("c.oid::pg_catalog.regclass::text,\n"), "{sql}");
        }
        assert!(publishable_sql(120000, true).contains("c.relkind = 'r' AND"));
        // What the cut-over may adopt never includes an extension's tables.
        assert!(user_relation().ends_with(&format!("AND NOT {EXTENSION_MEMBER}")));
    }

    #[test]
    fn refusal_names_the_table_and_its_owner() {
        let t = PublishableTable {
            oid: 1,
            schema: "app".into(),
            name: "Orders".into(),
            display: "app.\"Orders\"".into(),
            owner: "app owner".into(),
            acts_for_owner: false,
            extension: false,
        };
        assert_eq!(
            t.refusal(),
            "app.\"Orders\" (owned by \"app owner\", and the source user is neither that role nor a member of it)"
        );
    }
}
