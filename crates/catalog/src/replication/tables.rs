//! The source's tables as the replication checks see them: those whose UPDATE and DELETE
//! could not be replicated (no replica identity, with owner and current setting for
//! `--replica-identity-full`), unlogged ones (never replicated), what keeps
//! a subscription from copying the initial data itself, and, for the cut-over, tables and
//! sequences of the source the target lacks.
//!
//! "User" tables are those outside `pg_*` schemas, `information_schema` and extensions: what
//! the application owns.

use std::collections::HashSet;

use crate::scope::{EXTENSION_MEMBER, USER_SCHEMAS, user_schemas};
use db_migrate_conn::Session;
use db_migrate_core::error::{Error, Result};

/// A table by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedTable {
    pub schema: String,
    pub name: String,
    /// `schema.name` as the server writes it (`regclass` output: quoted only where needed).
    pub display: String,
}

/// Permanent user tables (relkind `r`) outside extensions that meet `condition`, by display name.
async fn named_tables(s: &Session, condition: &str) -> Result<Vec<NamedTable>> {
    let rows = s
        .query(
            &format!(
                "SELECT n.nspname::text, c.relname::text, c.oid::pg_catalog.regclass::text
                   FROM pg_catalog.pg_class c
                   JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                  WHERE c.relkind = 'r' AND {USER_SCHEMAS} AND NOT {EXTENSION_MEMBER}
                    AND {condition}
                  ORDER BY 3"
            ),
            &[],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| NamedTable {
            schema: r.get(0),
            name: r.get(1),
            display: r.get(2),
        })
        .collect())
}

/// The condition on `c` of a permanent table without a usable replica identity: `DEFAULT`
/// without a primary key, `NOTHING`, or `USING INDEX` on an index that is gone.
const WITHOUT_IDENTITY: &str = "c.relpersistence = 'p'
         AND ((c.relreplident = 'd' AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_index i
                                                    WHERE i.indrelid = c.oid AND i.indisprimary))
              OR c.relreplident = 'n'
              OR (c.relreplident = 'i' AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_index i
                                                       WHERE i.indrelid = c.oid AND i.indisreplident)))";

/// Permanent user tables without a usable replica identity: `DEFAULT` without a primary key,
/// `NOTHING`, or `USING INDEX` on an index that is gone.
pub async fn tables_without_identity(s: &Session) -> Result<Vec<NamedTable>> {
    Ok(identity_gaps(s)
        .await?
        .into_iter()
        .map(|g| g.table)
        .collect())
}

/// A table without a usable replica identity, with what `--replica-identity-full` needs to
/// know to alter it and to put it back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityGap {
    pub oid: u32,
    pub table: NamedTable,
    /// `relreplident` now: `d`, `n` or `i` (an index identity whose index is gone).
    pub replident: char,
    pub owner: String,
    /// The source user has the privileges of the owner (owner, member, or superuser), which
    /// `ALTER TABLE` needs.
    pub acts_for_owner: bool,
}

/// [`tables_without_identity`] with OID, current setting and owner.
pub async fn identity_gaps(s: &Session) -> Result<Vec<IdentityGap>> {
    let rows = s
        .query(
            &format!(
                "SELECT n.nspname::text, c.relname::text, c.oid::pg_catalog.regclass::text,
                        c.oid, c.relreplident::text, pg_catalog.pg_get_userbyid(c.relowner)::text,
                        pg_catalog.pg_has_role(c.relowner, 'USAGE')
                   FROM pg_catalog.pg_class c
                   JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                  WHERE c.relkind = 'r' AND {USER_SCHEMAS} AND NOT {EXTENSION_MEMBER}
                    AND {WITHOUT_IDENTITY}
                  ORDER BY 3"
            ),
            &[],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| IdentityGap {
            table: NamedTable {
                schema: r.get(0),
                name: r.get(1),
                display: r.get(2),
            },
            oid: r.get(3),
            replident: r.get::<_, String>(4).chars().next().unwrap_or('d'),
            owner: r.get(5),
            acts_for_owner: r.get(6),
        })
        .collect())
}

/// A table's replica identity now, looked up by OID (names may have changed since it was
/// recorded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentIdentity {
    pub oid: u32,
    pub schema: String,
    pub name: String,
    /// `regclass` output, for messages.
    pub display: String,
    pub replident: char,
}

/// The plain tables among `oids` that still exist, with their replica identity now.
pub async fn current_identities(s: &Session, oids: &[u32]) -> Result<Vec<CurrentIdentity>> {
    let rows = s
        .query(
            "SELECT c.oid, n.nspname::text, c.relname::text, c.relreplident::text,
                    c.oid::pg_catalog.regclass::text
               FROM pg_catalog.pg_class c
               JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
              WHERE c.oid = ANY($1::oid[]) AND c.relkind = 'r'",
            &[&oids],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| CurrentIdentity {
            oid: r.get(0),
            schema: r.get(1),
            name: r.get(2),
            replident: r.get::<_, String>(3).chars().next().unwrap_or('d'),
            display: r.get(4),
        })
        .collect())
}

/// Unlogged user tables.
pub async fn unlogged_tables(s: &Session) -> Result<Vec<NamedTable>> {
    named_tables(s, "c.relpersistence = 'u'").await
}

/// What a subscription copying the initial data itself would get wrong (see
/// `crate::replication::fallback`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubscriptionCopyHazards {
    pub large_objects: i64,
    /// Populated materialized views of user schemas.
    pub populated_matviews: Vec<String>,
    /// Extension member tables that hold rows.
    pub extension_tables_with_rows: Vec<String>,
}

pub async fn subscription_copy_hazards(s: &Session) -> Result<SubscriptionCopyHazards> {
    let row = s
        .query_one(
            concat!(
                "SELECT (SELECT count(*) FROM pg_catalog.pg_largeobject_metadata), \
                    ARRAY(SELECT c.oid::pg_catalog.regclass::text FROM pg_catalog.pg_class c \
                            JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
                           WHERE c.relkind = 'm' AND c.relispopulated AND ",
                user_schemas!("n"),
                " ORDER BY 1), \
                    ARRAY(SELECT c.oid::pg_catalog.regclass::text FROM pg_catalog.pg_class c \
                            JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass \
                                 AND d.objid = c.oid AND d.deptype = 'e' \
                           WHERE c.relkind = 'r' AND pg_catalog.pg_relation_size(c.oid) > 0 \
                           ORDER BY 1)"
            ),
            &[],
        )
        .await
        .map_err(|e| Error::from_pg(e).with_step("checking the subscription copy path"))?;
    Ok(SubscriptionCopyHazards {
        large_objects: row.get(0),
        populated_matviews: row.get(1),
        extension_tables_with_rows: row.get(2),
    })
}

/// How many tables (plain and partitioned) the session's database holds in user schemas.
pub async fn user_table_count(s: &Session) -> Result<i64> {
    let row = s
        .query_one(
            concat!(
                "SELECT pg_catalog.count(*) FROM pg_catalog.pg_class c \
                   JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
                  WHERE c.relkind IN ('r', 'p') AND ",
                user_schemas!("n")
            ),
            &[],
        )
        .await?;
    Ok(row.get(0))
}

/// The schema-drift names (`table x`, `index x`, `sequence x`, as the fingerprint names
/// them) of the tables `oids`, their indexes and the sequences they own.
pub async fn drift_names_of_tables(s: &Session, oids: &[u32]) -> Result<Vec<String>> {
    let rows = s
        .query(
            "SELECT 'table ' || c.oid::pg_catalog.regclass::text
               FROM pg_catalog.pg_class c WHERE c.oid = ANY($1::oid[])
             UNION ALL
             SELECT 'index ' || i.indexrelid::pg_catalog.regclass::text
               FROM pg_catalog.pg_index i WHERE i.indrelid = ANY($1::oid[])
             UNION ALL
             SELECT 'sequence ' || d.objid::pg_catalog.regclass::text
               FROM pg_catalog.pg_depend d
              WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
                AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
                AND d.refobjid = ANY($1::oid[]) AND d.deptype IN ('a', 'i')
                AND (SELECT c.relkind FROM pg_catalog.pg_class c WHERE c.oid = d.objid) = 'S'",
            &[&oids],
        )
        .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Sequences of the source's user schemas as `(oid, "schema"."name")`.
pub async fn user_sequences(s: &Session) -> Result<Vec<(u32, String)>> {
    let rows = s
        .query(
            concat!(
                "SELECT c.oid, pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname)
                   FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                  WHERE c.relkind = 'S' AND ",
                user_schemas!("n")
            ),
            &[],
        )
        .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// Which of the qualified relation `names` exist in the session's database.
pub async fn existing_relations(s: &Session, names: &[String]) -> Result<HashSet<String>> {
    Ok(s.query(
        "SELECT n FROM pg_catalog.unnest($1::text[]) n WHERE pg_catalog.to_regclass(n) IS NOT NULL",
        &[&names],
    )
    .await?
    .iter()
    .map(|r| r.get(0))
    .collect())
}
