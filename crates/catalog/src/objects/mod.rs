//! Typed rows of the non-relation objects of one database: schemas, extensions, languages,
//! collations, text search objects, foreign data wrappers, servers, user mappings, event
//! triggers, default privileges, large objects, types, functions, aggregates, casts, operators,
//! operator families and classes.
//!
//! Each `list_*` function runs a fixed number of queries (one per kind, two for kinds with
//! members), however many objects the database holds. Objects of system schemas
//! ([`crate::scope::USER_SCHEMAS`]) and members of extensions (`pg_depend.deptype = 'e'`) are
//! left out. Names of referenced objects are read as `(schema, name)` pairs and quoted by the
//! DDL generator; types and function signatures are rendered by the server (`format_type`,
//! `pg_get_function_identity_arguments`), which qualifies them since every session runs with
//! `search_path = ''`.
//!
//! Everything read here is visible to an ordinary user on PostgreSQL 12 to 18, except user
//! mapping options, which the server shows only to a superuser, the server owner or the mapped
//! user ([`UserMappingRow::options_visible`]).
//!
//! No SQL text for the target is generated here: that is `src/schema/`.
//!
//! This file holds what every family shares (qualified names, function signatures, owner and
//! privileges, and the SQL fragments that read them); each family has its own file, re-exported
//! here so callers name everything `catalog::objects::...`.

use tokio_postgres::Row;

use db_migrate_conn::Session;
use db_migrate_core::error::{Error, Result};
use db_migrate_core::sql::qualified;

mod collations;
mod default_acls;
mod event_triggers;
mod foreign;
mod operators;
mod opfamilies;
mod routines;
mod schemas;
mod text_search;
mod types;

pub use collations::*;
pub use default_acls::*;
pub use event_triggers::*;
pub use foreign::*;
pub use operators::*;
pub use opfamilies::*;
pub use routines::*;
pub use schemas::*;
pub use text_search::*;
pub use types::*;

/// A schema-qualified name, unquoted.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QName {
    pub schema: String,
    pub name: String,
}

impl QName {
    pub fn new(schema: &str, name: &str) -> Self {
        QName {
            schema: schema.to_owned(),
            name: name.to_owned(),
        }
    }

    /// `"schema"."name"`.
    pub fn sql(&self) -> String {
        qualified(&self.schema, &self.name)
    }

    fn from_parts(parts: Option<Vec<String>>) -> Option<QName> {
        let mut parts = parts?;
        if parts.len() < 2 {
            return None;
        }
        let name = parts.swap_remove(1);
        let schema = parts.swap_remove(0);
        Some(QName { schema, name })
    }
}

/// A function reference with its identity arguments (for `FUNCTION n (..) f(args)` members and
/// `WITH FUNCTION` casts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcSig {
    pub name: QName,
    /// `pg_get_function_identity_arguments`, e.g. `a integer, b text`.
    pub args: String,
}

impl ProcSig {
    /// `"schema"."name"(args)`.
    pub fn sql(&self) -> String {
        format!("{}({})", self.name.sql(), self.args)
    }

    fn from_parts(parts: Option<Vec<String>>) -> Option<ProcSig> {
        let parts = parts?;
        if parts.len() < 3 {
            return None;
        }
        Some(ProcSig {
            name: QName::new(&parts[0], &parts[1]),
            args: parts[2].clone(),
        })
    }
}

/// Owner and privileges of an object, as the catalogs hold them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acl {
    pub owner: String,
    /// The `*acl` column as text items; `None` means the kind's default privileges.
    pub acl: Option<Vec<String>>,
    /// `acldefault(<kind>, owner)` as text items, read in the same query.
    pub default: Vec<String>,
}

// ---------------------------------------------------------------------------------------------
// SQL fragments

/// `(schema, name)` of the function whose OID is `col` (NULL for 0).
fn proc_name(col: &str) -> String {
    format!(
        "(SELECT ARRAY[pn.nspname::text, pp.proname::text] FROM pg_catalog.pg_proc pp \
           JOIN pg_catalog.pg_namespace pn ON pn.oid = pp.pronamespace \
          WHERE pp.oid = ({col})::pg_catalog.oid)"
    )
}

/// `(schema, name, identity arguments)` of the function whose OID is `col` (NULL for 0).
fn proc_sig(col: &str) -> String {
    format!(
        "(SELECT ARRAY[pn.nspname::text, pp.proname::text, \
                       pg_catalog.pg_get_function_identity_arguments(pp.oid)] \
            FROM pg_catalog.pg_proc pp \
            JOIN pg_catalog.pg_namespace pn ON pn.oid = pp.pronamespace \
           WHERE pp.oid = ({col})::pg_catalog.oid)"
    )
}

/// `(schema, name)` of the operator whose OID is `col` (NULL for 0).
fn oper_name(col: &str) -> String {
    format!(
        "(SELECT ARRAY[pn.nspname::text, po.oprname::text] FROM pg_catalog.pg_operator po \
           JOIN pg_catalog.pg_namespace pn ON pn.oid = po.oprnamespace WHERE po.oid = {col})"
    )
}

/// `(schema, name)` of a row of `catalog` (with its name and namespace columns) by OID.
fn obj_name(catalog: &str, name_col: &str, nsp_col: &str, col: &str) -> String {
    format!(
        "(SELECT ARRAY[xn.nspname::text, x.{name_col}::text] FROM pg_catalog.{catalog} x \
           JOIN pg_catalog.pg_namespace xn ON xn.oid = x.{nsp_col} WHERE x.oid = {col})"
    )
}

/// `format_type(col, NULL)`, NULL for 0.
fn type_name(col: &str) -> String {
    format!("CASE WHEN {col} = 0 THEN NULL ELSE pg_catalog.format_type({col}, NULL) END")
}

/// Condition: the row `oid_col` of catalog `classid` is not a member of an extension.
fn not_ext_member(classid: u32, oid_col: &str) -> String {
    format!(
        "NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend xd WHERE xd.classid = {classid} \
           AND xd.objid = {oid_col} AND xd.deptype = 'e')"
    )
}

/// Owner, ACL and acldefault columns (`owner`, `acl`, `acldefault`).
fn acl_cols(owner_col: &str, acl_col: &str, kind: char) -> String {
    format!(
        "pg_catalog.pg_get_userbyid({owner_col})::text AS owner, {acl_col}::text[] AS acl, \
         pg_catalog.acldefault('{kind}', {owner_col})::text[] AS acldefault"
    )
}

fn read_acl(r: &Row) -> Acl {
    Acl {
        owner: r.get("owner"),
        acl: r.get("acl"),
        default: r
            .get::<_, Option<Vec<String>>>("acldefault")
            .unwrap_or_default(),
    }
}

fn char_col(r: &Row, col: &str) -> char {
    r.get::<_, Option<String>>(col)
        .and_then(|s| s.chars().next())
        .unwrap_or(' ')
}

async fn query(s: &Session, phase: &'static str, sql: &str) -> Result<Vec<Row>> {
    s.query(sql, &[])
        .await
        .map_err(|e| Error::from_pg(e).with_step(phase))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::class;

    fn parts(p: &[&str]) -> Option<Vec<String>> {
        Some(p.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn names_are_read_from_schema_name_arrays() {
        assert_eq!(
            QName::from_parts(parts(&["s p", "Tab\"le"])),
            Some(QName::new("s p", "Tab\"le"))
        );
        assert_eq!(QName::new("s p", "Tab\"le").sql(), "\"s p\".\"Tab\"\"le\"");
        // NULL (OID 0 or a row gone) and short arrays are no name.
        assert_eq!(QName::from_parts(None), None);
        assert_eq!(QName::from_parts(parts(&["public"])), None);
    }

    #[test]
    fn signatures_keep_the_server_rendered_arguments() {
        let sig = ProcSig::from_parts(parts(&["public", "f", "a integer, b text"])).unwrap();
        assert_eq!(sig.name, QName::new("public", "f"));
        assert_eq!(sig.sql(), "\"public\".\"f\"(a integer, b text)");
        assert_eq!(ProcSig::from_parts(parts(&["public", "f"])), None);
        assert_eq!(ProcSig::from_parts(None), None);
    }

    #[test]
    fn fragments_substitute_their_columns() {
        assert_eq!(
            type_name("t.x"),
            "CASE WHEN t.x = 0 THEN NULL ELSE pg_catalog.format_type(t.x, NULL) END"
        );
        assert!(not_ext_member(class::PG_PROC, "p.oid").contains("xd.classid = 1255"));
        assert!(not_ext_member(class::PG_PROC, "p.oid").contains("xd.objid = p.oid"));
        assert!(acl_cols("p.proowner", "p.proacl", 'f').contains("acldefault('f', p.proowner)"));
    }
}
