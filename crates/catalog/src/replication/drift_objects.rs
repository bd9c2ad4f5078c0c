//! The objects a schema-drift entry names (`index public.i`, `constraint public.t.c`,
//! `trigger public.t.tr`, `view public.v`, `function public.f(integer)`), looked up by that
//! identity: their OID on the source (to find what the schema reader built for them) and
//! what dropping them on the target needs. The identities are those
//! [`super::definitions`] writes, read back the same way, so a name with any character in it
//! matches exactly.

use db_migrate_conn::Session;
use db_migrate_core::error::Result;

/// A constraint or a trigger: the table it is on (as `regclass` writes it, schema-qualified
/// and quoted) and its own name (unquoted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnTable {
    pub oid: u32,
    pub table: String,
    pub name: String,
    /// `pg_get_constraintdef` of a constraint (empty for a trigger).
    pub definition: String,
    /// `pg_constraint.contype` of a constraint (`' '` for a trigger).
    pub kind: char,
}

/// The OID of the relation (`index`, `view`...) or function (`function`) the identity names
/// on the session's database; `None` when there is none.
pub async fn object_oid(s: &Session, kind: &str, identity: &str) -> Result<Option<u32>> {
    let sql = match kind {
        "function" => "SELECT pg_catalog.to_regprocedure($1)::pg_catalog.oid",
        _ => "SELECT pg_catalog.to_regclass($1)::pg_catalog.oid",
    };
    let row = s.query_one(sql, &[&identity]).await?;
    Ok(row.get(0))
}

/// The constraint (`kind` `constraint`) or trigger (`trigger`) the identity names.
pub async fn on_table(s: &Session, kind: &str, identity: &str) -> Result<Option<OnTable>> {
    let sql = match kind {
        "constraint" => {
            "SELECT co.oid, co.conrelid::pg_catalog.regclass::text, co.conname::text,
                    pg_catalog.pg_get_constraintdef(co.oid), co.contype::text
               FROM pg_catalog.pg_constraint co
              WHERE co.conrelid <> 0
                AND co.conrelid::pg_catalog.regclass::text || '.' || pg_catalog.quote_ident(co.conname) = $1"
        }
        _ => {
            "SELECT t.oid, t.tgrelid::pg_catalog.regclass::text, t.tgname::text, '', ' '
               FROM pg_catalog.pg_trigger t
              WHERE NOT t.tgisinternal
                AND t.tgrelid::pg_catalog.regclass::text || '.' || pg_catalog.quote_ident(t.tgname) = $1"
        }
    };
    let row = s.query_opt(sql, &[&identity]).await?;
    Ok(row.map(|r| OnTable {
        oid: r.get(0),
        table: r.get(1),
        name: r.get(2),
        definition: r.get(3),
        kind: r.get::<_, String>(4).chars().next().unwrap_or(' '),
    }))
}

/// Whether the index the identity names is unique, and whether a constraint owns it (a
/// primary key, unique or exclusion constraint: it comes and goes with that constraint).
pub async fn index_facts(s: &Session, identity: &str) -> Result<Option<(bool, bool)>> {
    let row = s
        .query_opt(
            "SELECT i.indisunique,
                    EXISTS (SELECT 1 FROM pg_catalog.pg_constraint co WHERE co.conindid = i.indexrelid
                               AND co.contype IN ('p', 'u', 'x'))
               FROM pg_catalog.pg_index i
              WHERE i.indexrelid = pg_catalog.to_regclass($1)",
            &[&identity],
        )
        .await?;
    Ok(row.map(|r| (r.get(0), r.get(1))))
}
