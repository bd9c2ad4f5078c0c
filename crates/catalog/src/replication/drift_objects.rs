//! The objects a schema-drift entry names (`index public.i`, `constraint public.t.c`,
//! `trigger public.t.tr`, `view public.v`, `function public.f(integer)`), looked up by that
//! identity: their OID on the source (to find what the schema reader built for them) and
//! what dropping them on the target needs. The identities are those
//! [`super::definitions`] writes, read back the same way, so a name with any character in it
//! matches exactly.

use crate::relations::Sequence;
use crate::scope::USER_SCHEMAS;
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
        "statistics" => {
            "SELECT (SELECT x.oid FROM pg_catalog.pg_statistic_ext x
                       JOIN pg_catalog.pg_namespace n ON n.oid = x.stxnamespace
                      WHERE pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(x.stxname) = $1)"
        }
        _ => "SELECT pg_catalog.to_regclass($1)::pg_catalog.oid",
    };
    let row = s.query_one(sql, &[&identity]).await?;
    Ok(row.get(0))
}

/// The constraint (`kind` `constraint`), trigger (`trigger`), policy (`policy`) or rule
/// (`rule`) the identity (`table.name`) names.
pub async fn on_table(s: &Session, kind: &str, identity: &str) -> Result<Option<OnTable>> {
    let sql = match kind {
        "constraint" => {
            "SELECT co.oid, co.conrelid::pg_catalog.regclass::text, co.conname::text,
                    pg_catalog.pg_get_constraintdef(co.oid), co.contype::text
               FROM pg_catalog.pg_constraint co
              WHERE co.conrelid <> 0
                AND co.conrelid::pg_catalog.regclass::text || '.' || pg_catalog.quote_ident(co.conname) = $1"
        }
        "policy" => {
            "SELECT p.oid, p.polrelid::pg_catalog.regclass::text, p.polname::text, '', ' '
               FROM pg_catalog.pg_policy p
              WHERE p.polrelid::pg_catalog.regclass::text || '.' || pg_catalog.quote_ident(p.polname) = $1"
        }
        "rule" => {
            "SELECT r.oid, r.ev_class::pg_catalog.regclass::text, r.rulename::text, '', ' '
               FROM pg_catalog.pg_rewrite r
              WHERE r.rulename <> '_RETURN'
                AND r.ev_class::pg_catalog.regclass::text || '.' || pg_catalog.quote_ident(r.rulename) = $1"
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

/// A table or sequence of the session's database: its OID, drift kind (`table`, `sequence`)
/// and identity as [`super::definitions`] writes it. The OID outlives a rename (`ALTER TABLE
/// ... RENAME`, `SET SCHEMA`), the identity does not: the schema-drift fingerprint keeps both,
/// so that a renamed table is told from one dropped and another created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelationOid {
    pub oid: u32,
    pub kind: String,
    pub identity: String,
}

/// The tables and sequences of the session's database (the relations the drift names as
/// `table` or `sequence`, outside extensions), with their OIDs.
pub async fn relation_oids(s: &Session) -> Result<Vec<RelationOid>> {
    let rows = s
        .query(
            &format!(
                "SELECT c.oid, CASE c.relkind WHEN 'S' THEN 'sequence' ELSE 'table' END,
                        c.oid::pg_catalog.regclass::text
                   FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                  WHERE c.relkind IN ('r', 'p', 'S') AND {USER_SCHEMAS}
                    AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                                     WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
                                       AND d.objid = c.oid AND d.deptype = 'e')"
            ),
            &[],
        )
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| RelationOid {
            oid: r.get(0),
            kind: r.get(1),
            identity: r.get(2),
        })
        .collect())
}

/// The schema and name (unquoted) of the relation `oid`; `None` when there is none.
pub async fn relation_name(s: &Session, oid: u32) -> Result<Option<(String, String)>> {
    let row = s
        .query_opt(
            "SELECT n.nspname::text, c.relname::text
               FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
              WHERE c.oid = $1",
            &[&oid],
        )
        .await?;
    Ok(row.map(|r| (r.get(0), r.get(1))))
}

/// The table (as `regclass` writes it) that the index or sequence the identity names belongs
/// to: an index's table, the table whose column owns a sequence (`OWNED BY`, identity). `None`
/// for a sequence no column owns, or no such object.
pub async fn owning_table(s: &Session, kind: &str, identity: &str) -> Result<Option<String>> {
    let sql = match kind {
        "index" => {
            "SELECT i.indrelid::pg_catalog.regclass::text FROM pg_catalog.pg_index i
              WHERE i.indexrelid = pg_catalog.to_regclass($1)"
        }
        _ => {
            "SELECT d.refobjid::pg_catalog.regclass::text FROM pg_catalog.pg_depend d
              WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
                AND d.objid = pg_catalog.to_regclass($1)
                AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
                AND d.refobjsubid > 0 AND d.deptype IN ('a', 'i')"
        }
    };
    let row = s.query_opt(sql, &[&identity]).await?;
    Ok(row.map(|r| r.get(0)))
}

/// The partitioned table (as `regclass` writes it) that the table `identity` is a partition
/// of; `None` for a table of its own, or no such table.
pub async fn partition_parent(s: &Session, identity: &str) -> Result<Option<String>> {
    let row = s
        .query_opt(
            "SELECT i.inhparent::pg_catalog.regclass::text
               FROM pg_catalog.pg_inherits i JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
              WHERE c.oid = pg_catalog.to_regclass($1) AND c.relispartition",
            &[&identity],
        )
        .await?;
    Ok(row.map(|r| r.get(0)))
}

/// The partitioned table of the partition the identity names and the partition's bound
/// (`FOR VALUES ...` or `DEFAULT`, as the server writes it); `None` when it is no partition.
pub async fn partition_of(s: &Session, identity: &str) -> Result<Option<(String, String)>> {
    let row = s
        .query_opt(
            "SELECT i.inhparent::pg_catalog.regclass::text,
                    pg_catalog.pg_get_expr(c.relpartbound, c.oid)
               FROM pg_catalog.pg_inherits i JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
              WHERE c.oid = pg_catalog.to_regclass($1) AND c.relispartition",
            &[&identity],
        )
        .await?;
    Ok(row.map(|r| (r.get(0), r.get(1))))
}

/// The options of the sequence the identity names (`pg_sequence`), as the schema reader
/// reads them (its owner column left out); `None` when there is none.
pub async fn sequence_options(s: &Session, identity: &str) -> Result<Option<Sequence>> {
    let row = s
        .query_opt(
            "SELECT q.seqrelid, pg_catalog.format_type(q.seqtypid, NULL), q.seqstart,
                    q.seqincrement, q.seqmax, q.seqmin, q.seqcache, q.seqcycle
               FROM pg_catalog.pg_sequence q WHERE q.seqrelid = pg_catalog.to_regclass($1)",
            &[&identity],
        )
        .await?;
    Ok(row.map(|r| crate::relations::sequence_from_row(&r, None, false)))
}
