//! Types: the columns every type has, then what its kind adds (composite attributes, enum labels,
//! domain constraints, range and base type details), the array types of user types, and the
//! catalog rows created together with a type (I/O functions, range constructors).
//!
//! Its own file as one object family of [`super`]; callers use the re-exports there.

use std::collections::HashMap;

use crate::class;
use crate::scope::{FIRST_NORMAL_OBJECT_ID, USER_SCHEMAS, first_normal_object_id};
use db_migrate_conn::Session;
use db_migrate_core::error::Result;

use super::{
    Acl, QName, acl_cols, char_col, not_ext_member, obj_name, proc_name, query, read_acl, type_name,
};

/// What every user type shares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeCommon {
    pub oid: u32,
    pub name: QName,
    /// `typtype`: `b` base, `c` composite, `d` domain, `e` enum, `r` range, `p` pseudo (a shell
    /// type when not `defined`).
    pub typtype: char,
    pub defined: bool,
    /// The array type (0 if none).
    pub array: u32,
    /// The relation of a composite type.
    pub relid: u32,
    pub acl: Acl,
    pub comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompositeAttr {
    pub name: String,
    /// `format_type` with typmod.
    pub type_sql: String,
    /// An explicit collation differing from the attribute type's default.
    pub collation: Option<QName>,
    pub comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainConstraint {
    pub oid: u32,
    pub name: String,
    /// `c` CHECK, `n` NOT NULL (17+).
    pub contype: char,
    /// `pg_get_constraintdef` (`CHECK (...)`, with `NOT VALID` when not validated).
    pub definition: String,
    pub validated: bool,
    pub comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainInfo {
    /// `format_type(typbasetype, typtypmod)`.
    pub base_sql: String,
    pub collation: Option<QName>,
    pub default: Option<String>,
    pub not_null: bool,
    pub constraints: Vec<DomainConstraint>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeInfo {
    pub subtype_sql: String,
    /// The subtype operator class, when it is not the subtype's default one.
    pub opclass: Option<QName>,
    pub collation: Option<QName>,
    pub canonical: Option<QName>,
    pub canonical_oid: u32,
    pub subdiff: Option<QName>,
    /// The multirange type (14+) and its array type.
    pub multirange: Option<(u32, QName, u32)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseInfo {
    pub input: Option<QName>,
    pub output: Option<QName>,
    pub receive: Option<QName>,
    pub send: Option<QName>,
    pub typmod_in: Option<QName>,
    pub typmod_out: Option<QName>,
    pub analyze: Option<QName>,
    pub subscript: Option<QName>,
    /// `typlen`: -1 variable, -2 C string.
    pub length: i16,
    pub by_value: bool,
    pub align: char,
    pub storage: char,
    pub category: char,
    pub preferred: bool,
    pub default: Option<String>,
    pub element: Option<String>,
    pub delimiter: char,
    pub collatable: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypeDetail {
    Enum(Vec<String>),
    Composite(Vec<CompositeAttr>),
    Domain(DomainInfo),
    Range(RangeInfo),
    Base(BaseInfo),
    Shell,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeRow {
    pub common: TypeCommon,
    pub detail: TypeDetail,
}

/// Every user type (not array types, multiranges or relations' row types), with its details:
/// one query for the types and one per kind that has details.
pub async fn list_types(s: &Session) -> Result<Vec<TypeRow>> {
    let user_type = user_type();
    let commons = read_commons(s, &user_type).await?;
    let has = |c: char| commons.iter().any(|t| t.typtype == c);
    let mut enums = if has('e') {
        read_enums(s, &user_type).await?
    } else {
        Default::default()
    };
    let mut attrs = if has('c') {
        read_composites(s, &user_type).await?
    } else {
        Default::default()
    };
    let mut domains = if has('d') {
        read_domains(s, &user_type).await?
    } else {
        Default::default()
    };
    let mut ranges = if has('r') {
        read_ranges(s, &user_type).await?
    } else {
        Default::default()
    };
    let mut bases = if has('b') {
        read_bases(s, &user_type).await?
    } else {
        Default::default()
    };

    let mut out = Vec::with_capacity(commons.len());
    for common in commons {
        let detail = match common.typtype {
            'e' => TypeDetail::Enum(enums.remove(&common.oid).unwrap_or_default()),
            'c' => TypeDetail::Composite(attrs.remove(&common.oid).unwrap_or_default()),
            'd' => match domains.remove(&common.oid) {
                Some(d) => TypeDetail::Domain(d),
                None => continue,
            },
            'r' => match ranges.remove(&common.oid) {
                Some(d) => TypeDetail::Range(d),
                None => continue,
            },
            'b' => match bases.remove(&common.oid) {
                Some(d) => TypeDetail::Base(d),
                None => continue,
            },
            'p' => TypeDetail::Shell,
            _ => continue,
        };
        out.push(TypeRow { common, detail });
    }
    Ok(out)
}

/// The types every query of [`list_types`] reads, each on `t` with its schema `n`.
const TYPES_FROM: &str = "FROM pg_catalog.pg_type t \
                JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace";

/// The condition on `t` of a user type (see [`list_types`]): in a user schema, not an
/// extension's, not an array type, a multirange or a table's row type, and a pseudo-type only
/// as a shell.
fn user_type() -> String {
    format!(
        "{USER_SCHEMAS} AND {member} \
         AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_type e WHERE e.typarray = t.oid) \
         AND t.typtype <> 'm' \
         AND (t.typtype <> 'c' OR (SELECT c.relkind FROM pg_catalog.pg_class c \
                                    WHERE c.oid = t.typrelid) = 'c') \
         AND (t.typtype <> 'p' OR NOT t.typisdefined)",
        member = not_ext_member(class::PG_TYPE, "t.oid"),
    )
}

/// What every user type has ([`TypeCommon`]), by schema and name.
async fn read_commons(s: &Session, user_type: &str) -> Result<Vec<TypeCommon>> {
    let sql = format!(
        "SELECT t.oid, n.nspname::text AS schema, t.typname::text AS name, \
                t.typtype::text AS typtype, t.typisdefined AS defined, t.typarray AS array, \
                t.typrelid AS relid, {acl}, \
                pg_catalog.obj_description(t.oid, 'pg_type') AS comment \
           {TYPES_FROM} WHERE {user_type} ORDER BY 2, 3",
        acl = acl_cols("t.typowner", "t.typacl", 'T'),
    );
    let commons = query(s, "reading types", &sql)
        .await?
        .iter()
        .map(|r| TypeCommon {
            oid: r.get("oid"),
            name: QName::new(r.get("schema"), r.get("name")),
            typtype: char_col(r, "typtype"),
            defined: r.get("defined"),
            array: r.get("array"),
            relid: r.get("relid"),
            acl: read_acl(r),
            comment: r.get("comment"),
        })
        .collect();
    Ok(commons)
}

/// Each enum type's labels, in their order.
async fn read_enums(s: &Session, user_type: &str) -> Result<HashMap<u32, Vec<String>>> {
    let mut out: HashMap<u32, Vec<String>> = Default::default();
    let sql = format!(
        "SELECT t.oid, ARRAY(SELECT e.enumlabel::text FROM pg_catalog.pg_enum e \
                              WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder) AS labels \
           {TYPES_FROM} WHERE t.typtype = 'e' AND {user_type}"
    );
    for r in query(s, "reading enum types", &sql).await? {
        out.insert(r.get("oid"), r.get("labels"));
    }
    Ok(out)
}

/// Each composite type's attributes, in their order.
async fn read_composites(s: &Session, user_type: &str) -> Result<HashMap<u32, Vec<CompositeAttr>>> {
    let mut out: HashMap<u32, Vec<CompositeAttr>> = Default::default();
    let sql = format!(
        "SELECT t.oid, a.attname::text AS name, \
                pg_catalog.format_type(a.atttypid, a.atttypmod) AS type_sql, \
                CASE WHEN a.attcollation <> att.typcollation THEN {coll} END AS collation, \
                pg_catalog.col_description(t.typrelid, a.attnum) AS comment \
           {TYPES_FROM} \
           JOIN pg_catalog.pg_attribute a ON a.attrelid = t.typrelid \
           JOIN pg_catalog.pg_type att ON att.oid = a.atttypid \
          WHERE t.typtype = 'c' AND a.attnum > 0 AND NOT a.attisdropped AND {user_type} \
          ORDER BY t.oid, a.attnum",
        coll = obj_name(
            "pg_collation",
            "collname",
            "collnamespace",
            "a.attcollation"
        ),
    );
    for r in query(s, "reading composite types", &sql).await? {
        out.entry(r.get("oid")).or_default().push(CompositeAttr {
            name: r.get("name"),
            type_sql: r.get("type_sql"),
            collation: QName::from_parts(r.get("collation")),
            comment: r.get("comment"),
        });
    }
    Ok(out)
}

/// Each domain's base type, default and constraints.
async fn read_domains(s: &Session, user_type: &str) -> Result<HashMap<u32, DomainInfo>> {
    let mut out: HashMap<u32, DomainInfo> = Default::default();
    let sql = format!(
        "SELECT t.oid, pg_catalog.format_type(t.typbasetype, t.typtypmod) AS base_sql, \
                CASE WHEN t.typcollation <> bt.typcollation THEN {coll} END AS collation, \
                COALESCE(pg_catalog.pg_get_expr(t.typdefaultbin, 0), t.typdefault) AS def, \
                t.typnotnull AS not_null \
           {TYPES_FROM} JOIN pg_catalog.pg_type bt ON bt.oid = t.typbasetype \
          WHERE t.typtype = 'd' AND {user_type}",
        coll = obj_name(
            "pg_collation",
            "collname",
            "collnamespace",
            "t.typcollation"
        ),
    );
    for r in query(s, "reading domains", &sql).await? {
        out.insert(
            r.get("oid"),
            DomainInfo {
                base_sql: r.get("base_sql"),
                collation: QName::from_parts(r.get("collation")),
                default: r.get("def"),
                not_null: r.get("not_null"),
                constraints: Vec::new(),
            },
        );
    }
    let sql = format!(
        "SELECT t.oid AS typ, c.oid, c.conname::text AS name, c.contype::text AS contype, \
                pg_catalog.pg_get_constraintdef(c.oid) AS def, c.convalidated AS validated, \
                pg_catalog.obj_description(c.oid, 'pg_constraint') AS comment \
           {TYPES_FROM} JOIN pg_catalog.pg_constraint c ON c.contypid = t.oid \
          WHERE t.typtype = 'd' AND {user_type} \
          ORDER BY t.oid, c.conname"
    );
    for r in query(s, "reading domain constraints", &sql).await? {
        let typ: u32 = r.get("typ");
        if let Some(d) = out.get_mut(&typ) {
            d.constraints.push(DomainConstraint {
                oid: r.get("oid"),
                name: r.get("name"),
                contype: char_col(&r, "contype"),
                definition: r.get("def"),
                validated: r.get("validated"),
                comment: r.get("comment"),
            });
        }
    }
    Ok(out)
}

/// Each range type's details, with its multirange (14 and later).
async fn read_ranges(s: &Session, user_type: &str) -> Result<HashMap<u32, RangeInfo>> {
    let v = s.server_version_num();
    let mut out: HashMap<u32, RangeInfo> = Default::default();
    let multi = if v >= 140000 {
        "r.rngmultitypid AS multi, \
         (SELECT ARRAY[mn.nspname::text, m.typname::text] FROM pg_catalog.pg_type m \
            JOIN pg_catalog.pg_namespace mn ON mn.oid = m.typnamespace \
           WHERE m.oid = r.rngmultitypid) AS multi_name, \
         (SELECT m.typarray FROM pg_catalog.pg_type m WHERE m.oid = r.rngmultitypid) \
           AS multi_array"
    } else {
        "0::pg_catalog.oid AS multi, NULL::text[] AS multi_name, \
         0::pg_catalog.oid AS multi_array"
    };
    let sql = format!(
        "SELECT t.oid, pg_catalog.format_type(r.rngsubtype, NULL) AS subtype, \
                CASE WHEN NOT oc.opcdefault THEN {opc} END AS opclass, \
                CASE WHEN r.rngcollation <> 0 THEN {coll} END AS collation, \
                {canon} AS canonical, r.rngcanonical::pg_catalog.oid AS canonical_oid, \
                {diff} AS subdiff, {multi} \
           {TYPES_FROM} JOIN pg_catalog.pg_range r ON r.rngtypid = t.oid \
           JOIN pg_catalog.pg_opclass oc ON oc.oid = r.rngsubopc \
          WHERE t.typtype = 'r' AND {user_type}",
        opc = obj_name("pg_opclass", "opcname", "opcnamespace", "r.rngsubopc"),
        coll = obj_name(
            "pg_collation",
            "collname",
            "collnamespace",
            "r.rngcollation"
        ),
        canon = proc_name("r.rngcanonical"),
        diff = proc_name("r.rngsubdiff"),
    );
    for r in query(s, "reading range types", &sql).await? {
        let multi: u32 = r.get("multi");
        let multirange = QName::from_parts(r.get("multi_name"))
            .filter(|_| multi != 0)
            .map(|q| {
                (
                    multi,
                    q,
                    r.get::<_, Option<u32>>("multi_array").unwrap_or(0),
                )
            });
        out.insert(
            r.get("oid"),
            RangeInfo {
                subtype_sql: r.get("subtype"),
                opclass: QName::from_parts(r.get("opclass")),
                collation: QName::from_parts(r.get("collation")),
                canonical: QName::from_parts(r.get("canonical")),
                canonical_oid: r.get("canonical_oid"),
                subdiff: QName::from_parts(r.get("subdiff")),
                multirange,
            },
        );
    }
    Ok(out)
}

/// Each base type's functions and storage details.
async fn read_bases(s: &Session, user_type: &str) -> Result<HashMap<u32, BaseInfo>> {
    let v = s.server_version_num();
    let mut out: HashMap<u32, BaseInfo> = Default::default();
    let subscript = if v >= 140000 {
        proc_name("t.typsubscript")
    } else {
        "NULL::text[]".to_string()
    };
    let sql = format!(
        "SELECT t.oid, {i} AS input, {o} AS output, {rc} AS receive, {sn} AS send, \
                {mi} AS typmod_in, {mo} AS typmod_out, {an} AS analyze, {subscript} AS subscript, \
                t.typlen AS length, t.typbyval AS by_value, t.typalign::text AS align, \
                t.typstorage::text AS storage, t.typcategory::text AS category, \
                t.typispreferred AS preferred, t.typdefault AS def, \
                {elem} AS element, t.typdelim::text AS delim, \
                t.typcollation <> 0 AS collatable \
           {TYPES_FROM} WHERE t.typtype = 'b' AND {user_type}",
        i = proc_name("t.typinput"),
        o = proc_name("t.typoutput"),
        rc = proc_name("t.typreceive"),
        sn = proc_name("t.typsend"),
        mi = proc_name("t.typmodin"),
        mo = proc_name("t.typmodout"),
        an = proc_name("t.typanalyze"),
        elem = type_name("t.typelem"),
    );
    for r in query(s, "reading base types", &sql).await? {
        out.insert(
            r.get("oid"),
            BaseInfo {
                input: QName::from_parts(r.get("input")),
                output: QName::from_parts(r.get("output")),
                receive: QName::from_parts(r.get("receive")),
                send: QName::from_parts(r.get("send")),
                typmod_in: QName::from_parts(r.get("typmod_in")),
                typmod_out: QName::from_parts(r.get("typmod_out")),
                analyze: QName::from_parts(r.get("analyze")),
                subscript: QName::from_parts(r.get("subscript")),
                length: r.get("length"),
                by_value: r.get("by_value"),
                align: char_col(&r, "align"),
                storage: char_col(&r, "storage"),
                category: char_col(&r, "category"),
                preferred: r.get("preferred"),
                default: r.get("def"),
                element: r.get("element"),
                delimiter: char_col(&r, "delim"),
                collatable: r.get("collatable"),
            },
        );
    }
    Ok(out)
}

/// SQL condition on a `pg_proc` alias `p`: the function is created together with a type
/// (the I/O functions of a base type, which need its shell type, and range canonical
/// functions), so it is not an object of its own.
pub const BUNDLED_WITH_TYPE: &str = concat!(
    "p.oid IN ( \
       SELECT x FROM pg_catalog.pg_type bt, \
              LATERAL (VALUES (bt.typinput::pg_catalog.oid), (bt.typoutput::pg_catalog.oid), \
                              (bt.typreceive::pg_catalog.oid), (bt.typsend::pg_catalog.oid)) v(x) \
        WHERE bt.typtype = 'b' AND bt.oid >= ",
    first_normal_object_id!(),
    " UNION ALL \
       SELECT rg.rngcanonical::pg_catalog.oid FROM pg_catalog.pg_range rg \
        WHERE rg.rngtypid >= ",
    first_normal_object_id!(),
    ")"
);

/// SQL condition on a `pg_proc` alias `p`: the function is part of a type (`deptype = 'i'`:
/// range and multirange constructors), created with it.
pub const INTERNAL_TO_TYPE: &str = "EXISTS (SELECT 1 FROM pg_catalog.pg_depend di \
       WHERE di.classid = 1255 AND di.objid = p.oid AND di.refclassid = 1247 \
         AND di.deptype = 'i')";

/// Catalog rows that belong to a type (`deptype = 'i'` on it): range and multirange
/// constructor functions and range-to-multirange casts, as (classid, OID, type OID).
pub async fn list_type_internal_rows(s: &Session) -> Result<Vec<(u32, u32, u32)>> {
    let sql = format!(
        "SELECT DISTINCT ON (d.classid, d.objid) d.classid, d.objid, d.refobjid \
           FROM pg_catalog.pg_depend d \
          WHERE d.classid IN ({proc}, {cast}) AND d.refclassid = {typ} AND d.deptype = 'i' \
            AND d.objid >= {FIRST_NORMAL_OBJECT_ID} \
          ORDER BY d.classid, d.objid, d.refobjid",
        proc = class::PG_PROC,
        cast = class::PG_CAST,
        typ = class::PG_TYPE,
    );
    Ok(query(s, "reading rows internal to types", &sql)
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect())
}

/// Every array type of a non-system type, with its element type: (array OID, element OID).
pub async fn list_array_types(s: &Session) -> Result<Vec<(u32, u32)>> {
    let sql = format!(
        "SELECT t.typarray, t.oid FROM pg_catalog.pg_type t \
          WHERE t.typarray <> 0 AND t.oid >= {FIRST_NORMAL_OBJECT_ID}"
    );
    Ok(query(s, "reading array types", &sql)
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect())
}
