//! Functions, procedures and aggregates (the aggregate's support functions named by
//! signature).
//!
//! Its own file as one object family of [`super`]; callers use the re-exports there.

use tokio_postgres::Row;

use crate::class;
use crate::scope::{FIRST_NORMAL_OBJECT_ID, USER_SCHEMAS};
use db_migrate_conn::Session;
use db_migrate_core::error::Result;

use super::{
    Acl, BUNDLED_WITH_TYPE, INTERNAL_TO_TYPE, QName, acl_cols, char_col, not_ext_member, oper_name,
    proc_name, query, read_acl, type_name,
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionRow {
    pub oid: u32,
    pub name: QName,
    /// `f` function, `p` procedure, `w` window function.
    pub kind: char,
    /// `pg_get_function_identity_arguments`.
    pub identity_args: String,
    /// `pg_get_functiondef`: `CREATE OR REPLACE FUNCTION ...`.
    pub definition: String,
    /// `proargnames` (empty strings for unnamed arguments; empty when none is named).
    pub arg_names: Vec<String>,
    /// `proargmodes` (empty when every argument is IN).
    pub arg_modes: Vec<char>,
    pub language: String,
    /// The language is trusted (any user with USAGE may create functions in it).
    pub trusted: bool,
    pub acl: Acl,
    pub comment: Option<String>,
}

/// `proargnames` and `proargmodes` of `pg_proc p`, as `arg_names` and `arg_modes`.
const ARG_NAMES_AND_MODES: &str = "COALESCE(p.proargnames, '{}')::text[] AS arg_names, \
     COALESCE(p.proargmodes::text[], '{}') AS arg_modes";

fn arg_modes(r: &Row) -> Vec<char> {
    r.get::<_, Vec<String>>("arg_modes")
        .iter()
        .map(|m| m.chars().next().unwrap_or('i'))
        .collect()
}

fn function_cols() -> String {
    format!(
        "p.oid, n.nspname::text AS schema, p.proname::text AS name, p.prokind::text AS kind, \
         pg_catalog.pg_get_function_identity_arguments(p.oid) AS identity_args, \
         pg_catalog.pg_get_functiondef(p.oid) AS definition, l.lanname::text AS language, \
         l.lanpltrusted AS trusted, {ARG_NAMES_AND_MODES}, {acl}, \
         pg_catalog.obj_description(p.oid, 'pg_proc') AS comment",
        acl = acl_cols("p.proowner", "p.proacl", 'f'),
    )
}

fn read_function(r: &Row) -> FunctionRow {
    FunctionRow {
        oid: r.get("oid"),
        name: QName::new(r.get("schema"), r.get("name")),
        kind: char_col(r, "kind"),
        identity_args: r.get("identity_args"),
        definition: r.get("definition"),
        arg_names: r.get("arg_names"),
        arg_modes: arg_modes(r),
        language: r.get("language"),
        trusted: r.get("trusted"),
        acl: read_acl(r),
        comment: r.get("comment"),
    }
}

/// Functions and procedures (not aggregates, not those created with a type).
pub async fn list_functions(s: &Session) -> Result<Vec<FunctionRow>> {
    let sql = format!(
        "SELECT {cols} \
           FROM pg_catalog.pg_proc p \
           JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace \
           JOIN pg_catalog.pg_language l ON l.oid = p.prolang \
          WHERE {USER_SCHEMAS} AND p.prokind <> 'a' AND {member} \
            AND NOT ({BUNDLED_WITH_TYPE}) AND NOT {INTERNAL_TO_TYPE} \
          ORDER BY n.nspname, p.proname, p.oid",
        cols = function_cols(),
        member = not_ext_member(class::PG_PROC, "p.oid"),
    );
    Ok(query(s, "reading functions", &sql)
        .await?
        .iter()
        .map(read_function)
        .collect())
}

/// The functions created together with a type ([`BUNDLED_WITH_TYPE`]): (type OID, function).
pub async fn list_bundled_functions(s: &Session) -> Result<Vec<(u32, FunctionRow)>> {
    let sql = format!(
        "SELECT x.typ, {cols} \
           FROM (SELECT bt.oid AS typ, v.f FROM pg_catalog.pg_type bt, \
                   LATERAL (VALUES (bt.typinput::pg_catalog.oid), (bt.typreceive::pg_catalog.oid), \
                                   (bt.typoutput::pg_catalog.oid), (bt.typsend::pg_catalog.oid)) \
                     v(f) \
                  WHERE bt.typtype = 'b' AND bt.oid >= {FIRST_NORMAL_OBJECT_ID} \
                 UNION ALL \
                 SELECT rg.rngtypid, rg.rngcanonical::pg_catalog.oid FROM pg_catalog.pg_range rg \
                  WHERE rg.rngtypid >= {FIRST_NORMAL_OBJECT_ID}) x \
           JOIN pg_catalog.pg_proc p ON p.oid = x.f \
           JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace \
           JOIN pg_catalog.pg_language l ON l.oid = p.prolang \
          WHERE {USER_SCHEMAS} AND {member} \
          ORDER BY x.typ, p.oid",
        cols = function_cols(),
        member = not_ext_member(class::PG_PROC, "p.oid"),
    );
    Ok(query(s, "reading type I/O functions", &sql)
        .await?
        .iter()
        .map(|r| (r.get("typ"), read_function(r)))
        .collect())
}

// ---------------------------------------------------------------------------------------------
// Aggregates

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AggregateRow {
    pub oid: u32,
    pub name: QName,
    /// `pg_get_function_arguments` (with `ORDER BY` for ordered-set aggregates); empty for `*`.
    pub args: String,
    /// `pg_get_function_identity_arguments` (for ALTER / COMMENT ON AGGREGATE).
    pub identity_args: String,
    /// `proargnames` (empty strings for unnamed arguments; empty when none is named).
    pub arg_names: Vec<String>,
    /// `proargmodes` (empty when every argument is IN).
    pub arg_modes: Vec<char>,
    /// The argument types flattened (for GRANT ... ON FUNCTION).
    pub flat_args: String,
    /// `n` normal, `o` ordered-set, `h` hypothetical-set.
    pub aggkind: char,
    pub transfn: Option<QName>,
    pub transtype: String,
    pub transspace: i32,
    pub finalfn: Option<QName>,
    pub finalextra: bool,
    pub finalmodify: char,
    pub combinefn: Option<QName>,
    pub serialfn: Option<QName>,
    pub deserialfn: Option<QName>,
    pub initval: Option<String>,
    pub mtransfn: Option<QName>,
    pub minvtransfn: Option<QName>,
    pub mtranstype: Option<String>,
    pub mtransspace: i32,
    pub mfinalfn: Option<QName>,
    pub mfinalextra: bool,
    pub mfinalmodify: char,
    pub minitval: Option<String>,
    pub sortop: Option<QName>,
    /// `s` safe, `r` restricted, `u` unsafe.
    pub parallel: char,
    pub acl: Acl,
    pub comment: Option<String>,
}

pub async fn list_aggregates(s: &Session) -> Result<Vec<AggregateRow>> {
    let sql = format!(
        "SELECT p.oid, n.nspname::text AS schema, p.proname::text AS name, \
                pg_catalog.pg_get_function_arguments(p.oid) AS args, \
                pg_catalog.pg_get_function_identity_arguments(p.oid) AS identity_args, \
                {ARG_NAMES_AND_MODES}, \
                COALESCE((SELECT pg_catalog.string_agg(pg_catalog.format_type(x.t, NULL), ', ' \
                                                        ORDER BY x.o) \
                            FROM pg_catalog.unnest(p.proargtypes::pg_catalog.oid[]) \
                                 WITH ORDINALITY x(t, o)), '') AS flat_args, \
                a.aggkind::text AS aggkind, {transfn} AS transfn, \
                pg_catalog.format_type(a.aggtranstype, NULL) AS transtype, \
                a.aggtransspace AS transspace, {finalfn} AS finalfn, \
                a.aggfinalextra AS finalextra, a.aggfinalmodify::text AS finalmodify, \
                {combinefn} AS combinefn, {serialfn} AS serialfn, \
                {deserialfn} AS deserialfn, a.agginitval AS initval, \
                {mtransfn} AS mtransfn, {minvtransfn} AS minvtransfn, \
                {mtranstype} AS mtranstype, a.aggmtransspace AS mtransspace, \
                {mfinalfn} AS mfinalfn, a.aggmfinalextra AS mfinalextra, \
                a.aggmfinalmodify::text AS mfinalmodify, a.aggminitval AS minitval, \
                {sortop} AS sortop, p.proparallel::text AS parallel, {acl}, \
                pg_catalog.obj_description(p.oid, 'pg_proc') AS comment \
           FROM pg_catalog.pg_proc p \
           JOIN pg_catalog.pg_aggregate a ON a.aggfnoid = p.oid \
           JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace \
          WHERE {USER_SCHEMAS} AND {member} \
          ORDER BY n.nspname, p.proname, p.oid",
        transfn = proc_name("a.aggtransfn"),
        finalfn = proc_name("a.aggfinalfn"),
        combinefn = proc_name("a.aggcombinefn"),
        serialfn = proc_name("a.aggserialfn"),
        deserialfn = proc_name("a.aggdeserialfn"),
        mtransfn = proc_name("a.aggmtransfn"),
        minvtransfn = proc_name("a.aggminvtransfn"),
        mtranstype = type_name("a.aggmtranstype"),
        mfinalfn = proc_name("a.aggmfinalfn"),
        sortop = oper_name("a.aggsortop"),
        acl = acl_cols("p.proowner", "p.proacl", 'f'),
        member = not_ext_member(class::PG_PROC, "p.oid"),
    );
    Ok(query(s, "reading aggregates", &sql)
        .await?
        .iter()
        .map(|r| AggregateRow {
            oid: r.get("oid"),
            name: QName::new(r.get("schema"), r.get("name")),
            args: r.get("args"),
            identity_args: r.get("identity_args"),
            arg_names: r.get("arg_names"),
            arg_modes: arg_modes(r),
            flat_args: r.get("flat_args"),
            aggkind: char_col(r, "aggkind"),
            transfn: QName::from_parts(r.get("transfn")),
            transtype: r.get("transtype"),
            transspace: r.get("transspace"),
            finalfn: QName::from_parts(r.get("finalfn")),
            finalextra: r.get("finalextra"),
            finalmodify: char_col(r, "finalmodify"),
            combinefn: QName::from_parts(r.get("combinefn")),
            serialfn: QName::from_parts(r.get("serialfn")),
            deserialfn: QName::from_parts(r.get("deserialfn")),
            initval: r.get("initval"),
            mtransfn: QName::from_parts(r.get("mtransfn")),
            minvtransfn: QName::from_parts(r.get("minvtransfn")),
            mtranstype: r.get("mtranstype"),
            mtransspace: r.get("mtransspace"),
            mfinalfn: QName::from_parts(r.get("mfinalfn")),
            mfinalextra: r.get("mfinalextra"),
            mfinalmodify: char_col(r, "mfinalmodify"),
            minitval: r.get("minitval"),
            sortop: QName::from_parts(r.get("sortop")),
            parallel: char_col(r, "parallel"),
            acl: read_acl(r),
            comment: r.get("comment"),
        })
        .collect())
}
