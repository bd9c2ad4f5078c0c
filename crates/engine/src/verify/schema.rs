//! `--verify` at a replication cut-over compares the schema too: the source's schema may have
//! changed during the replication (the target followed it, see
//! `crate::replication::following`), and rows that are equal in a table whose index, view or
//! constraint the target lacks are not a finished migration.
//!
//! The objects are those of the schema-drift fingerprint (schemas, tables with their columns,
//! defaults and replica identity, sequences, views, constraints, indexes, functions, triggers,
//! policies, rules, extended statistics, enum types), each with its definition as its own server
//! deparses it. Every object must be on both sides with the same definition; between servers of
//! different majors the deparse of a view's query, a function's body, a column default or a CHECK
//! legitimately differs (PostgreSQL 16 drops the table qualifiers of one-relation queries), so
//! there only their
//! presence is compared. A partition's inherited constraints are the server's (see the
//! catalog query) and a table's replica identity is the replication's own while it runs
//! ([`without_replica_identity`]).

use std::collections::BTreeMap;

pub use super::report::SchemaVerify;
use super::report::VerifyStatus;
use crate::catalog::replication::definitions::{ObjectDefinition, object_definitions};
use crate::conn::Session;
use crate::error::{Error, Result, Side};
use crate::ledger::LEDGER_SCHEMA;

/// Differences listed, at most.
const MAX_LISTED: usize = 100;

/// The differences between the source's objects and the target's (see the module docs).
pub fn differences(
    source: &[ObjectDefinition],
    target: &[ObjectDefinition],
    same_major: bool,
) -> Vec<String> {
    // PostgreSQL 18 lists a column's NOT NULL as a constraint too; the table's definition
    // holds it on every major. The run's own ledger is not the application's schema.
    let ledger = format!("{LEDGER_SCHEMA}.");
    let map = |defs: &[ObjectDefinition]| -> BTreeMap<String, (String, String)> {
        defs.iter()
            .filter(|d| !(d.kind == "constraint" && d.definition.starts_with("NOT NULL ")))
            .filter(|d| d.identity != LEDGER_SCHEMA && !d.identity.starts_with(&ledger))
            .map(|d| {
                (
                    format!("{} {}", d.kind, d.identity),
                    (
                        d.kind.clone(),
                        without_replica_identity(&d.kind, &d.definition),
                    ),
                )
            })
            .collect()
    };
    let (s, t) = (map(source), map(target));
    let mut out = Vec::new();
    for (key, (kind, def)) in &s {
        match t.get(key) {
            None => out.push(format!("{key}: only on the source")),
            Some((_, other)) if other != def => {
                // Column defaults and CHECKs are deparsed expressions too, and a newer major
                // may print a type or an expression of an older one its own way
                // (tab_core_types of PostgreSQL's regression database, 15 into 18).
                let deparse_differs = matches!(
                    kind.as_str(),
                    "view"
                        | "materialized view"
                        | "function"
                        | "table"
                        | "constraint"
                        | "policy"
                        | "rule"
                );
                if same_major || !deparse_differs {
                    out.push(format!("{key}: definition differs"));
                }
            }
            Some(_) => {}
        }
    }
    for key in t.keys().filter(|k| !s.contains_key(*k)) {
        out.push(format!("{key}: only on the target"));
    }
    out
}

/// A table's definition without its replica identity (`relkind relreplident relpersistence
/// columns...`): the replication method itself sets `REPLICA IDENTITY FULL` on the source's
/// tables without a key while it replicates and puts it back after the cut-over, which is
/// after this comparison; the rows compared equal say what the identity is for.
fn without_replica_identity(kind: &str, definition: &str) -> String {
    if !matches!(kind, "table" | "foreign table") {
        return definition.to_owned();
    }
    let mut parts = definition.splitn(3, ' ');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(relkind), Some(_identity), Some(rest)) => format!("{relkind} {rest}"),
        _ => definition.to_owned(),
    }
}

/// Compares the schema of the database `src` and `tgt` are connected to.
pub async fn compare(src: &Session, tgt: &Session) -> Result<SchemaVerify> {
    let source = object_definitions(src)
        .await
        .map_err(|e: Error| e.with_side(Side::Source))?;
    let target = object_definitions(tgt)
        .await
        .map_err(|e: Error| e.with_side(Side::Target))?;
    let same_major = src.server_version_num() / 10000 == tgt.server_version_num() / 10000;
    let mut differences = differences(&source, &target, same_major);
    differences.truncate(MAX_LISTED);
    Ok(SchemaVerify {
        status: if differences.is_empty() {
            VerifyStatus::Equal
        } else {
            VerifyStatus::Differs
        },
        objects: source.len(),
        differences,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(kind: &str, identity: &str, definition: &str) -> ObjectDefinition {
        ObjectDefinition {
            kind: kind.into(),
            identity: identity.into(),
            definition: definition.into(),
        }
    }

    #[test]
    fn an_object_missing_or_defined_otherwise_differs_deparsed_bodies_only_within_a_major() {
        let source = vec![
            def("table", "public.t", "r d p id integer, w integer DEFAULT 7"),
            // The replication's own REPLICA IDENTITY FULL on the source is no difference.
            def("table", "public.nokey", "r f p a text"),
            def(
                "index",
                "public.t_k",
                "CREATE INDEX t_k ON public.t USING btree (k)",
            ),
            def("view", "public.v", " SELECT t.id FROM public.t;"),
        ];
        let target = vec![
            def("table", "public.t", "r d p id integer"),
            def("table", "public.nokey", "r d p a text"),
            def("view", "public.v", " SELECT id FROM public.t;"),
            def("function", "public.f()", "CREATE FUNCTION ..."),
            def("constraint", "public.t.t_id_not_null", "NOT NULL id"),
            def("schema", "db_migrate", "postgres"),
            def("table", "db_migrate.run", "id integer"),
        ];
        assert_eq!(
            differences(&source, &target, false),
            vec![
                "index public.t_k: only on the source",
                "function public.f(): only on the target",
            ]
        );
        let within = differences(&source, &target, true);
        assert!(within.contains(&"view public.v: definition differs".to_owned()));
        assert!(within.contains(&"table public.t: definition differs".to_owned()));
        assert!(!within.iter().any(|d| d.contains("nokey")), "{within:?}");
        assert!(differences(&source, &source, true).is_empty());
    }
}
