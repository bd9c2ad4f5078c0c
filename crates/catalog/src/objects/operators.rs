//! Casts and operators.
//!
//! Its own file as one object family of [`super`]; callers use the re-exports there.

use crate::class;
use crate::scope::{FIRST_NORMAL_OBJECT_ID, USER_SCHEMAS};
use db_migrate_conn::Session;
use db_migrate_core::error::Result;

use super::{
    ProcSig, QName, char_col, not_ext_member, oper_name, proc_name, proc_sig, query, type_name,
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CastRow {
    pub oid: u32,
    pub source: String,
    pub target: String,
    /// `f` function, `i` inout, `b` binary coercible.
    pub method: char,
    /// `e` explicit, `a` assignment, `i` implicit.
    pub context: char,
    pub function: Option<ProcSig>,
    /// Both types are built in (owned by the bootstrap superuser).
    pub builtin_types: bool,
    pub comment: Option<String>,
}

/// Casts created by users (OID from `FirstNormalObjectId` on, not members of an extension, not
/// the range-to-multirange casts the server creates with a range type).
pub async fn list_casts(s: &Session) -> Result<Vec<CastRow>> {
    let sql = format!(
        "SELECT c.oid, pg_catalog.format_type(c.castsource, NULL) AS src, \
                pg_catalog.format_type(c.casttarget, NULL) AS tgt, \
                c.castmethod::text AS method, c.castcontext::text AS context, \
                {f} AS function, \
                (c.castsource < {FIRST_NORMAL_OBJECT_ID} AND c.casttarget < {FIRST_NORMAL_OBJECT_ID}) AS builtin_types, \
                pg_catalog.obj_description(c.oid, 'pg_cast') AS comment \
           FROM pg_catalog.pg_cast c \
          WHERE c.oid >= {FIRST_NORMAL_OBJECT_ID} AND {member} \
            AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend di WHERE di.classid = {cast} \
                             AND di.objid = c.oid AND di.deptype = 'i') \
          ORDER BY 2, 3",
        cast = class::PG_CAST,
        f = proc_sig("c.castfunc"),
        member = not_ext_member(class::PG_CAST, "c.oid"),
    );
    Ok(query(s, "reading casts", &sql)
        .await?
        .iter()
        .map(|r| CastRow {
            oid: r.get("oid"),
            source: r.get("src"),
            target: r.get("tgt"),
            method: char_col(r, "method"),
            context: char_col(r, "context"),
            function: ProcSig::from_parts(r.get("function")),
            builtin_types: r.get("builtin_types"),
            comment: r.get("comment"),
        })
        .collect())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorRow {
    pub oid: u32,
    pub name: QName,
    /// `format_type` of the left operand; `None` for prefix operators.
    pub left: Option<String>,
    pub right: Option<String>,
    pub function: Option<QName>,
    pub commutator: Option<QName>,
    pub negator: Option<QName>,
    pub restrict: Option<QName>,
    pub join: Option<QName>,
    pub merges: bool,
    pub hashes: bool,
    pub owner: String,
    pub comment: Option<String>,
}

/// Operators (not shell operators, which the server creates itself for a COMMUTATOR or
/// NEGATOR that does not exist yet).
pub async fn list_operators(s: &Session) -> Result<Vec<OperatorRow>> {
    let sql = format!(
        "SELECT o.oid, n.nspname::text AS schema, o.oprname::text AS name, \
                {l} AS lt, {r} AS rt, {f} AS function, {com} AS commutator, {neg} AS negator, \
                {rest} AS restrict, {join} AS join, o.oprcanmerge AS merges, \
                o.oprcanhash AS hashes, pg_catalog.pg_get_userbyid(o.oprowner)::text AS owner, \
                pg_catalog.obj_description(o.oid, 'pg_operator') AS comment \
           FROM pg_catalog.pg_operator o \
           JOIN pg_catalog.pg_namespace n ON n.oid = o.oprnamespace \
          WHERE {USER_SCHEMAS} AND o.oprcode <> 0 AND {member} \
          ORDER BY n.nspname, o.oprname, o.oid",
        l = type_name("o.oprleft"),
        r = type_name("o.oprright"),
        f = proc_name("o.oprcode"),
        com = oper_name("o.oprcom"),
        neg = oper_name("o.oprnegate"),
        rest = proc_name("o.oprrest"),
        join = proc_name("o.oprjoin"),
        member = not_ext_member(class::PG_OPERATOR, "o.oid"),
    );
    Ok(query(s, "reading operators", &sql)
        .await?
        .iter()
        .map(|r| OperatorRow {
            oid: r.get("oid"),
            name: QName::new(r.get("schema"), r.get("name")),
            left: r.get("lt"),
            right: r.get("rt"),
            function: QName::from_parts(r.get("function")),
            commutator: QName::from_parts(r.get("commutator")),
            negator: QName::from_parts(r.get("negator")),
            restrict: QName::from_parts(r.get("restrict")),
            join: QName::from_parts(r.get("join")),
            merges: r.get("merges"),
            hashes: r.get("hashes"),
            owner: r.get("owner"),
            comment: r.get("comment"),
        })
        .collect())
}
