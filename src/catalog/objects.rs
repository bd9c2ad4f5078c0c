//! Typed rows of the non-relation objects of one database: schemas, extensions, languages,
//! collations, text search objects, foreign data wrappers, servers, user mappings, event
//! triggers, default privileges, large objects, types, functions, aggregates, casts, operators,
//! operator families and classes.
//!
//! Each `list_*` function runs a fixed number of queries (one per kind, two for kinds with
//! members), however many objects the database holds. Objects of system schemas
//! ([`crate::catalog::scope::USER_SCHEMAS`]) and members of extensions (`pg_depend.deptype = 'e'`) are
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

use std::fmt;

use tokio_postgres::Row;

use crate::catalog::class;
use crate::catalog::scope::{FIRST_NORMAL_OBJECT_ID, USER_SCHEMAS, first_normal_object_id};
use crate::conn::Session;
use crate::error::{Error, Result};
use crate::sql::qualified;

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
        .map_err(|e| Error::from_pg(e).with_phase(phase))
}

// ---------------------------------------------------------------------------------------------
// Schemas, extensions, languages

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaRow {
    pub oid: u32,
    pub name: String,
    pub acl: Acl,
    pub comment: Option<String>,
}

/// User schemas (with `public`), by name.
pub async fn list_schemas(s: &Session) -> Result<Vec<SchemaRow>> {
    let sql = format!(
        "SELECT n.oid, n.nspname::text AS name, {acl}, \
                pg_catalog.obj_description(n.oid, 'pg_namespace') AS comment \
           FROM pg_catalog.pg_namespace n \
          WHERE {USER_SCHEMAS} AND {member} \
          ORDER BY n.nspname",
        acl = acl_cols("n.nspowner", "n.nspacl", 'n'),
        member = not_ext_member(class::PG_NAMESPACE, "n.oid"),
    );
    Ok(query(s, "reading schemas", &sql)
        .await?
        .iter()
        .map(|r| SchemaRow {
            oid: r.get("oid"),
            name: r.get("name"),
            acl: read_acl(r),
            comment: r.get("comment"),
        })
        .collect())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtensionRow {
    pub oid: u32,
    pub name: String,
    pub schema: String,
    pub version: String,
    /// The installed version needs a superuser (`superuser = true` and not `trusted`).
    pub superuser_only: bool,
    pub comment: Option<String>,
}

/// Extensions created by users (not the built-in `plpgsql`).
pub async fn list_extensions(s: &Session) -> Result<Vec<ExtensionRow>> {
    let trusted = if s.server_version_num() >= 130000 {
        "v.superuser AND NOT v.trusted"
    } else {
        "v.superuser"
    };
    let sql = format!(
        "SELECT e.oid, e.extname::text AS name, n.nspname::text AS schema, \
                e.extversion AS version, \
                COALESCE((SELECT {trusted} FROM pg_catalog.pg_available_extension_versions v \
                           WHERE v.name = e.extname AND v.version = e.extversion), true) \
                  AS superuser_only, \
                pg_catalog.obj_description(e.oid, 'pg_extension') AS comment \
           FROM pg_catalog.pg_extension e \
           JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace \
          WHERE e.oid >= {FIRST_NORMAL_OBJECT_ID} \
          ORDER BY e.extname"
    );
    Ok(query(s, "reading extensions", &sql)
        .await?
        .iter()
        .map(|r| ExtensionRow {
            oid: r.get("oid"),
            name: r.get("name"),
            schema: r.get("schema"),
            version: r.get("version"),
            superuser_only: r.get("superuser_only"),
            comment: r.get("comment"),
        })
        .collect())
}

/// Members of extensions as (classid, OID, extension OID): objects that `CREATE EXTENSION`
/// creates, which other objects may depend on.
pub async fn list_extension_members(s: &Session) -> Result<Vec<(u32, u32, u32)>> {
    let sql = format!(
        "SELECT d.classid, d.objid, d.refobjid FROM pg_catalog.pg_depend d \
          WHERE d.refclassid = {ext} AND d.deptype = 'e' AND d.objid >= {FIRST_NORMAL_OBJECT_ID}",
        ext = class::PG_EXTENSION,
    );
    Ok(query(s, "reading extension members", &sql)
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

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LanguageRow {
    pub oid: u32,
    pub name: String,
    pub trusted: bool,
    pub handler: Option<QName>,
    pub inline: Option<QName>,
    pub validator: Option<QName>,
    pub acl: Acl,
    pub comment: Option<String>,
}

/// Procedural languages created without an extension.
pub async fn list_languages(s: &Session) -> Result<Vec<LanguageRow>> {
    let sql = format!(
        "SELECT l.oid, l.lanname::text AS name, l.lanpltrusted AS trusted, \
                {h} AS handler, {i} AS inline, {v} AS validator, {acl}, \
                pg_catalog.obj_description(l.oid, 'pg_language') AS comment \
           FROM pg_catalog.pg_language l \
          WHERE l.oid >= {FIRST_NORMAL_OBJECT_ID} AND l.lanispl AND {member} \
          ORDER BY l.lanname",
        h = proc_name("l.lanplcallfoid"),
        i = proc_name("l.laninline"),
        v = proc_name("l.lanvalidator"),
        acl = acl_cols("l.lanowner", "l.lanacl", 'l'),
        member = not_ext_member(class::PG_LANGUAGE, "l.oid"),
    );
    Ok(query(s, "reading languages", &sql)
        .await?
        .iter()
        .map(|r| LanguageRow {
            oid: r.get("oid"),
            name: r.get("name"),
            trusted: r.get("trusted"),
            handler: QName::from_parts(r.get("handler")),
            inline: QName::from_parts(r.get("inline")),
            validator: QName::from_parts(r.get("validator")),
            acl: read_acl(r),
            comment: r.get("comment"),
        })
        .collect())
}

// ---------------------------------------------------------------------------------------------
// Collations

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollationRow {
    pub oid: u32,
    pub name: QName,
    pub owner: String,
    /// `c` libc, `i` icu, `b` builtin (17+), `d` database default.
    pub provider: char,
    pub collate: Option<String>,
    pub ctype: Option<String>,
    /// ICU or builtin locale (`colllocale` 17+, `colliculocale` 15-16; before 15 ICU
    /// collations keep it in `collcollate`).
    pub locale: Option<String>,
    /// ICU tailoring rules (16+).
    pub icu_rules: Option<String>,
    pub deterministic: bool,
    pub comment: Option<String>,
}

pub async fn list_collations(s: &Session) -> Result<Vec<CollationRow>> {
    let v = s.server_version_num();
    let locale = if v >= 170000 {
        "c.colllocale"
    } else if v >= 150000 {
        "c.colliculocale"
    } else {
        "NULL::text"
    };
    let rules = if v >= 160000 {
        "c.collicurules"
    } else {
        "NULL::text"
    };
    let sql = format!(
        "SELECT c.oid, n.nspname::text AS schema, c.collname::text AS name, \
                pg_catalog.pg_get_userbyid(c.collowner)::text AS owner, \
                c.collprovider::text AS provider, c.collcollate::text AS collate, \
                c.collctype::text AS ctype, {locale}::text AS locale, {rules}::text AS rules, \
                c.collisdeterministic AS deterministic, \
                pg_catalog.obj_description(c.oid, 'pg_collation') AS comment \
           FROM pg_catalog.pg_collation c \
           JOIN pg_catalog.pg_namespace n ON n.oid = c.collnamespace \
          WHERE {USER_SCHEMAS} AND {member} \
          ORDER BY n.nspname, c.collname",
        member = not_ext_member(class::PG_COLLATION, "c.oid"),
    );
    Ok(query(s, "reading collations", &sql)
        .await?
        .iter()
        .map(|r| {
            let provider = char_col(r, "provider");
            let collate: Option<String> = r.get("collate");
            let mut locale: Option<String> = r.get("locale");
            if locale.is_none() && provider == 'i' {
                locale = collate.clone();
            }
            CollationRow {
                oid: r.get("oid"),
                name: QName::new(r.get("schema"), r.get("name")),
                owner: r.get("owner"),
                provider,
                collate,
                ctype: r.get("ctype"),
                locale,
                icu_rules: r.get("rules"),
                deterministic: r.get("deterministic"),
                comment: r.get("comment"),
            }
        })
        .collect())
}

// ---------------------------------------------------------------------------------------------
// Text search

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TsParserRow {
    pub oid: u32,
    pub name: QName,
    pub start: Option<QName>,
    pub gettoken: Option<QName>,
    pub end: Option<QName>,
    pub lextypes: Option<QName>,
    pub headline: Option<QName>,
    pub comment: Option<String>,
}

pub async fn list_ts_parsers(s: &Session) -> Result<Vec<TsParserRow>> {
    let sql = format!(
        "SELECT p.oid, n.nspname::text AS schema, p.prsname::text AS name, \
                {a} AS start, {b} AS gettoken, {c} AS prsend, {d} AS lextypes, {e} AS headline, \
                pg_catalog.obj_description(p.oid, 'pg_ts_parser') AS comment \
           FROM pg_catalog.pg_ts_parser p \
           JOIN pg_catalog.pg_namespace n ON n.oid = p.prsnamespace \
          WHERE {USER_SCHEMAS} AND {member} ORDER BY 2, 3",
        a = proc_name("p.prsstart"),
        b = proc_name("p.prstoken"),
        c = proc_name("p.prsend"),
        d = proc_name("p.prslextype"),
        e = proc_name("p.prsheadline"),
        member = not_ext_member(class::PG_TS_PARSER, "p.oid"),
    );
    Ok(query(s, "reading text search parsers", &sql)
        .await?
        .iter()
        .map(|r| TsParserRow {
            oid: r.get("oid"),
            name: QName::new(r.get("schema"), r.get("name")),
            start: QName::from_parts(r.get("start")),
            gettoken: QName::from_parts(r.get("gettoken")),
            end: QName::from_parts(r.get("prsend")),
            lextypes: QName::from_parts(r.get("lextypes")),
            headline: QName::from_parts(r.get("headline")),
            comment: r.get("comment"),
        })
        .collect())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TsTemplateRow {
    pub oid: u32,
    pub name: QName,
    pub init: Option<QName>,
    pub lexize: Option<QName>,
    pub comment: Option<String>,
}

pub async fn list_ts_templates(s: &Session) -> Result<Vec<TsTemplateRow>> {
    let sql = format!(
        "SELECT t.oid, n.nspname::text AS schema, t.tmplname::text AS name, \
                {a} AS init, {b} AS lexize, \
                pg_catalog.obj_description(t.oid, 'pg_ts_template') AS comment \
           FROM pg_catalog.pg_ts_template t \
           JOIN pg_catalog.pg_namespace n ON n.oid = t.tmplnamespace \
          WHERE {USER_SCHEMAS} AND {member} ORDER BY 2, 3",
        a = proc_name("t.tmplinit"),
        b = proc_name("t.tmpllexize"),
        member = not_ext_member(class::PG_TS_TEMPLATE, "t.oid"),
    );
    Ok(query(s, "reading text search templates", &sql)
        .await?
        .iter()
        .map(|r| TsTemplateRow {
            oid: r.get("oid"),
            name: QName::new(r.get("schema"), r.get("name")),
            init: QName::from_parts(r.get("init")),
            lexize: QName::from_parts(r.get("lexize")),
            comment: r.get("comment"),
        })
        .collect())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TsDictRow {
    pub oid: u32,
    pub name: QName,
    pub owner: String,
    pub template: Option<QName>,
    /// `dictinitoption`: the options as the server serialized them (`a = 'x', b = 1`).
    pub options: Option<String>,
    pub comment: Option<String>,
}

pub async fn list_ts_dicts(s: &Session) -> Result<Vec<TsDictRow>> {
    let sql = format!(
        "SELECT d.oid, n.nspname::text AS schema, d.dictname::text AS name, \
                pg_catalog.pg_get_userbyid(d.dictowner)::text AS owner, {t} AS template, \
                d.dictinitoption AS options, \
                pg_catalog.obj_description(d.oid, 'pg_ts_dict') AS comment \
           FROM pg_catalog.pg_ts_dict d \
           JOIN pg_catalog.pg_namespace n ON n.oid = d.dictnamespace \
          WHERE {USER_SCHEMAS} AND {member} ORDER BY 2, 3",
        t = obj_name(
            "pg_ts_template",
            "tmplname",
            "tmplnamespace",
            "d.dicttemplate"
        ),
        member = not_ext_member(class::PG_TS_DICT, "d.oid"),
    );
    Ok(query(s, "reading text search dictionaries", &sql)
        .await?
        .iter()
        .map(|r| TsDictRow {
            oid: r.get("oid"),
            name: QName::new(r.get("schema"), r.get("name")),
            owner: r.get("owner"),
            template: QName::from_parts(r.get("template")),
            options: r.get("options"),
            comment: r.get("comment"),
        })
        .collect())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TsConfigRow {
    pub oid: u32,
    pub name: QName,
    pub owner: String,
    pub parser: Option<QName>,
    /// (token type alias, dictionaries in order), by token type.
    pub mappings: Vec<(String, Vec<QName>)>,
    pub comment: Option<String>,
}

/// Text search configurations with their mappings (two queries).
pub async fn list_ts_configs(s: &Session) -> Result<Vec<TsConfigRow>> {
    let sql = format!(
        "SELECT c.oid, n.nspname::text AS schema, c.cfgname::text AS name, \
                pg_catalog.pg_get_userbyid(c.cfgowner)::text AS owner, {p} AS parser, \
                pg_catalog.obj_description(c.oid, 'pg_ts_config') AS comment \
           FROM pg_catalog.pg_ts_config c \
           JOIN pg_catalog.pg_namespace n ON n.oid = c.cfgnamespace \
          WHERE {USER_SCHEMAS} AND {member} ORDER BY 2, 3",
        p = obj_name("pg_ts_parser", "prsname", "prsnamespace", "c.cfgparser"),
        member = not_ext_member(class::PG_TS_CONFIG, "c.oid"),
    );
    let mut configs: Vec<TsConfigRow> = query(s, "reading text search configurations", &sql)
        .await?
        .iter()
        .map(|r| TsConfigRow {
            oid: r.get("oid"),
            name: QName::new(r.get("schema"), r.get("name")),
            owner: r.get("owner"),
            parser: QName::from_parts(r.get("parser")),
            mappings: Vec::new(),
            comment: r.get("comment"),
        })
        .collect();
    if configs.is_empty() {
        return Ok(configs);
    }
    let sql = format!(
        "SELECT m.mapcfg AS cfg, t.alias::text AS alias, \
                ARRAY[dn.nspname::text, d.dictname::text] AS dict \
           FROM pg_catalog.pg_ts_config_map m \
           JOIN pg_catalog.pg_ts_config c ON c.oid = m.mapcfg \
           JOIN pg_catalog.pg_namespace n ON n.oid = c.cfgnamespace \
           JOIN pg_catalog.pg_ts_dict d ON d.oid = m.mapdict \
           JOIN pg_catalog.pg_namespace dn ON dn.oid = d.dictnamespace \
           CROSS JOIN LATERAL pg_catalog.ts_token_type(c.cfgparser) t \
          WHERE t.tokid = m.maptokentype AND {USER_SCHEMAS} \
          ORDER BY m.mapcfg, m.maptokentype, m.mapseqno"
    );
    for r in query(s, "reading text search configuration mappings", &sql).await? {
        let cfg: u32 = r.get("cfg");
        let alias: String = r.get("alias");
        let Some(dict) = QName::from_parts(r.get("dict")) else {
            continue;
        };
        let Some(c) = configs.iter_mut().find(|c| c.oid == cfg) else {
            continue;
        };
        match c.mappings.last_mut() {
            Some((a, dicts)) if *a == alias => dicts.push(dict),
            _ => c.mappings.push((alias, vec![dict])),
        }
    }
    Ok(configs)
}

// ---------------------------------------------------------------------------------------------
// Foreign data wrappers, servers, user mappings

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FdwRow {
    pub oid: u32,
    pub name: String,
    pub handler: Option<QName>,
    pub validator: Option<QName>,
    /// `name=value` items.
    pub options: Vec<String>,
    pub acl: Acl,
    pub comment: Option<String>,
}

pub async fn list_fdws(s: &Session) -> Result<Vec<FdwRow>> {
    let sql = format!(
        "SELECT w.oid, w.fdwname::text AS name, {h} AS handler, {v} AS validator, \
                w.fdwoptions AS options, {acl}, \
                pg_catalog.obj_description(w.oid, 'pg_foreign_data_wrapper') AS comment \
           FROM pg_catalog.pg_foreign_data_wrapper w \
          WHERE {member} ORDER BY w.fdwname",
        h = proc_name("w.fdwhandler"),
        v = proc_name("w.fdwvalidator"),
        acl = acl_cols("w.fdwowner", "w.fdwacl", 'F'),
        member = not_ext_member(class::PG_FOREIGN_DATA_WRAPPER, "w.oid"),
    );
    Ok(query(s, "reading foreign data wrappers", &sql)
        .await?
        .iter()
        .map(|r| FdwRow {
            oid: r.get("oid"),
            name: r.get("name"),
            handler: QName::from_parts(r.get("handler")),
            validator: QName::from_parts(r.get("validator")),
            options: r
                .get::<_, Option<Vec<String>>>("options")
                .unwrap_or_default(),
            acl: read_acl(r),
            comment: r.get("comment"),
        })
        .collect())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerRow {
    pub oid: u32,
    pub name: String,
    pub fdw: String,
    pub fdw_oid: u32,
    pub server_type: Option<String>,
    pub version: Option<String>,
    pub options: Vec<String>,
    pub acl: Acl,
    pub comment: Option<String>,
}

pub async fn list_servers(s: &Session) -> Result<Vec<ServerRow>> {
    let sql = format!(
        "SELECT s.oid, s.srvname::text AS name, w.fdwname::text AS fdw, w.oid AS fdw_oid, \
                s.srvtype AS stype, s.srvversion AS version, s.srvoptions AS options, {acl}, \
                pg_catalog.obj_description(s.oid, 'pg_foreign_server') AS comment \
           FROM pg_catalog.pg_foreign_server s \
           JOIN pg_catalog.pg_foreign_data_wrapper w ON w.oid = s.srvfdw \
          WHERE {member} ORDER BY s.srvname",
        acl = acl_cols("s.srvowner", "s.srvacl", 'S'),
        member = not_ext_member(class::PG_FOREIGN_SERVER, "s.oid"),
    );
    Ok(query(s, "reading foreign servers", &sql)
        .await?
        .iter()
        .map(|r| ServerRow {
            oid: r.get("oid"),
            name: r.get("name"),
            fdw: r.get("fdw"),
            fdw_oid: r.get("fdw_oid"),
            server_type: r.get("stype"),
            version: r.get("version"),
            options: r
                .get::<_, Option<Vec<String>>>("options")
                .unwrap_or_default(),
            acl: read_acl(r),
            comment: r.get("comment"),
        })
        .collect())
}

/// One user mapping. Its options may hold passwords: `Debug` does not show them, and they must
/// never be logged.
#[derive(Clone, PartialEq, Eq)]
pub struct UserMappingRow {
    pub oid: u32,
    pub server: String,
    pub server_oid: u32,
    /// `None` for `PUBLIC`.
    pub user: Option<String>,
    /// `name=value` items (secret).
    pub options: Vec<String>,
    /// False when the connected user may not read the options (only a superuser, the server
    /// owner or the mapped user may).
    pub options_visible: bool,
}

impl fmt::Debug for UserMappingRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserMappingRow")
            .field("oid", &self.oid)
            .field("server", &self.server)
            .field("user", &self.user)
            .field("options", &format_args!("<{} hidden>", self.options.len()))
            .field("options_visible", &self.options_visible)
            .finish()
    }
}

pub async fn list_user_mappings(s: &Session) -> Result<Vec<UserMappingRow>> {
    // The visibility rule of the pg_user_mappings view, with pg_roles for pg_authid (which
    // only a superuser may read).
    let sql = format!(
        "SELECT u.umid AS oid, u.srvname::text AS server, u.srvid AS server_oid, \
                CASE WHEN u.umuser = 0 THEN NULL ELSE u.usename::text END AS usr, \
                u.umoptions AS options, \
                (u.umoptions IS NOT NULL \
                 OR (u.umuser <> 0 AND u.usename = CURRENT_USER \
                     AND (pg_catalog.pg_has_role(s.srvowner, 'USAGE') \
                          OR pg_catalog.has_server_privilege(s.oid, 'USAGE'))) \
                 OR (u.umuser = 0 AND pg_catalog.pg_has_role(s.srvowner, 'USAGE')) \
                 OR COALESCE((SELECT r.rolsuper FROM pg_catalog.pg_roles r \
                               WHERE r.rolname = CURRENT_USER), false)) AS visible \
           FROM pg_catalog.pg_user_mappings u \
           JOIN pg_catalog.pg_foreign_server s ON s.oid = u.srvid \
          WHERE {member} ORDER BY u.srvname, u.usename",
        member = not_ext_member(class::PG_USER_MAPPING, "u.umid"),
    );
    Ok(query(s, "reading user mappings", &sql)
        .await?
        .iter()
        .map(|r| UserMappingRow {
            oid: r.get("oid"),
            server: r.get("server"),
            server_oid: r.get("server_oid"),
            user: r.get("usr"),
            options: r
                .get::<_, Option<Vec<String>>>("options")
                .unwrap_or_default(),
            options_visible: r.get("visible"),
        })
        .collect())
}

// ---------------------------------------------------------------------------------------------
// Access methods

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessMethodRow {
    pub oid: u32,
    pub name: String,
    /// `t` table, `i` index.
    pub kind: char,
    pub handler: Option<QName>,
    pub comment: Option<String>,
}

/// Access methods created with `CREATE ACCESS METHOD` (OIDs from `FirstNormalObjectId` on),
/// not those an extension brings.
pub async fn list_access_methods(s: &Session) -> Result<Vec<AccessMethodRow>> {
    let sql = format!(
        "SELECT a.oid, a.amname::text AS name, a.amtype::text AS kind, {h} AS handler, \
                pg_catalog.obj_description(a.oid, 'pg_am') AS comment \
           FROM pg_catalog.pg_am a \
          WHERE a.oid >= {FIRST_NORMAL_OBJECT_ID} AND {member} ORDER BY a.amname",
        h = proc_name("a.amhandler"),
        member = not_ext_member(class::PG_AM, "a.oid"),
    );
    Ok(query(s, "reading access methods", &sql)
        .await?
        .iter()
        .map(|r| AccessMethodRow {
            oid: r.get("oid"),
            name: r.get("name"),
            kind: char_col(r, "kind"),
            handler: QName::from_parts(r.get("handler")),
            comment: r.get("comment"),
        })
        .collect())
}

// ---------------------------------------------------------------------------------------------
// Event triggers, default privileges, large objects

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventTriggerRow {
    pub oid: u32,
    pub name: String,
    pub owner: String,
    pub event: String,
    pub function: Option<QName>,
    pub tags: Option<Vec<String>>,
    /// `O` origin (default), `D` disabled, `R` replica, `A` always.
    pub enabled: char,
    pub comment: Option<String>,
}

pub async fn list_event_triggers(s: &Session) -> Result<Vec<EventTriggerRow>> {
    let sql = format!(
        "SELECT e.oid, e.evtname::text AS name, \
                pg_catalog.pg_get_userbyid(e.evtowner)::text AS owner, \
                e.evtevent::text AS event, {f} AS function, e.evttags AS tags, \
                e.evtenabled::text AS enabled, \
                pg_catalog.obj_description(e.oid, 'pg_event_trigger') AS comment \
           FROM pg_catalog.pg_event_trigger e \
          WHERE {member} ORDER BY e.evtname",
        f = proc_name("e.evtfoid"),
        member = not_ext_member(class::PG_EVENT_TRIGGER, "e.oid"),
    );
    Ok(query(s, "reading event triggers", &sql)
        .await?
        .iter()
        .map(|r| EventTriggerRow {
            oid: r.get("oid"),
            name: r.get("name"),
            owner: r.get("owner"),
            event: r.get("event"),
            function: QName::from_parts(r.get("function")),
            tags: r.get("tags"),
            enabled: char_col(r, "enabled"),
            comment: r.get("comment"),
        })
        .collect())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefaultAclRow {
    pub oid: u32,
    pub role: String,
    /// `None` for the entries that apply to every schema.
    pub schema: Option<String>,
    pub schema_oid: u32,
    /// `r` tables, `S` sequences, `f` functions, `T` types, `n` schemas, `L` large objects (18+).
    pub objtype: char,
    pub acl: Vec<String>,
    /// What the entry is a delta from: `acldefault` of the kind for global entries, nothing for
    /// per-schema entries (those can only add privileges), as pg_dump does.
    pub base: Vec<String>,
}

pub async fn list_default_acls(s: &Session) -> Result<Vec<DefaultAclRow>> {
    let sql = format!(
        "SELECT d.oid, pg_catalog.pg_get_userbyid(d.defaclrole)::text AS role, \
                n.nspname::text AS schema, d.defaclnamespace AS schema_oid, \
                d.defaclobjtype::text AS objtype, d.defaclacl::text[] AS acl, \
                CASE WHEN d.defaclnamespace = 0 THEN \
                  pg_catalog.acldefault(CASE WHEN d.defaclobjtype = 'S' THEN 's'::\"char\" \
                                        ELSE d.defaclobjtype END, d.defaclrole)::text[] \
                ELSE '{{}}'::text[] END AS base \
           FROM pg_catalog.pg_default_acl d \
           LEFT JOIN pg_catalog.pg_namespace n ON n.oid = d.defaclnamespace \
          WHERE (d.defaclnamespace = 0 OR ({USER_SCHEMAS})) \
          ORDER BY 2, 3 NULLS FIRST, 5"
    );
    Ok(query(s, "reading default privileges", &sql)
        .await?
        .iter()
        .map(|r| DefaultAclRow {
            oid: r.get("oid"),
            role: r.get("role"),
            schema: r.get("schema"),
            schema_oid: r.get("schema_oid"),
            objtype: char_col(r, "objtype"),
            acl: r.get::<_, Option<Vec<String>>>("acl").unwrap_or_default(),
            base: r.get::<_, Option<Vec<String>>>("base").unwrap_or_default(),
        })
        .collect())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LargeObjectRow {
    pub oid: u32,
    pub acl: Acl,
    pub comment: Option<String>,
}

pub async fn list_large_objects(s: &Session) -> Result<Vec<LargeObjectRow>> {
    let sql = format!(
        "SELECT l.oid, {acl}, pg_catalog.obj_description(l.oid, 'pg_largeobject') AS comment \
           FROM pg_catalog.pg_largeobject_metadata l ORDER BY l.oid",
        acl = acl_cols("l.lomowner", "l.lomacl", 'L'),
    );
    Ok(query(s, "reading large objects", &sql)
        .await?
        .iter()
        .map(|r| LargeObjectRow {
            oid: r.get("oid"),
            acl: read_acl(r),
            comment: r.get("comment"),
        })
        .collect())
}

// ---------------------------------------------------------------------------------------------
// Types

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
    let v = s.server_version_num();
    let user_type = format!(
        "{USER_SCHEMAS} AND {member} \
         AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_type e WHERE e.typarray = t.oid) \
         AND t.typtype <> 'm' \
         AND (t.typtype <> 'c' OR (SELECT c.relkind FROM pg_catalog.pg_class c \
                                    WHERE c.oid = t.typrelid) = 'c') \
         AND (t.typtype <> 'p' OR NOT t.typisdefined)",
        member = not_ext_member(class::PG_TYPE, "t.oid"),
    );
    let from = "FROM pg_catalog.pg_type t \
                JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace";
    let sql = format!(
        "SELECT t.oid, n.nspname::text AS schema, t.typname::text AS name, \
                t.typtype::text AS typtype, t.typisdefined AS defined, t.typarray AS array, \
                t.typrelid AS relid, {acl}, \
                pg_catalog.obj_description(t.oid, 'pg_type') AS comment \
           {from} WHERE {user_type} ORDER BY 2, 3",
        acl = acl_cols("t.typowner", "t.typacl", 'T'),
    );
    let commons: Vec<TypeCommon> = query(s, "reading types", &sql)
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
    let has = |c: char| commons.iter().any(|t| t.typtype == c);
    let mut enums: std::collections::HashMap<u32, Vec<String>> = Default::default();
    let mut attrs: std::collections::HashMap<u32, Vec<CompositeAttr>> = Default::default();
    let mut domains: std::collections::HashMap<u32, DomainInfo> = Default::default();
    let mut ranges: std::collections::HashMap<u32, RangeInfo> = Default::default();
    let mut bases: std::collections::HashMap<u32, BaseInfo> = Default::default();

    if has('e') {
        let sql = format!(
            "SELECT t.oid, ARRAY(SELECT e.enumlabel::text FROM pg_catalog.pg_enum e \
                                  WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder) AS labels \
               {from} WHERE t.typtype = 'e' AND {user_type}"
        );
        for r in query(s, "reading enum types", &sql).await? {
            enums.insert(r.get("oid"), r.get("labels"));
        }
    }
    if has('c') {
        let sql = format!(
            "SELECT t.oid, a.attname::text AS name, \
                    pg_catalog.format_type(a.atttypid, a.atttypmod) AS type_sql, \
                    CASE WHEN a.attcollation <> att.typcollation THEN {coll} END AS collation, \
                    pg_catalog.col_description(t.typrelid, a.attnum) AS comment \
               {from} \
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
            attrs.entry(r.get("oid")).or_default().push(CompositeAttr {
                name: r.get("name"),
                type_sql: r.get("type_sql"),
                collation: QName::from_parts(r.get("collation")),
                comment: r.get("comment"),
            });
        }
    }
    if has('d') {
        let sql = format!(
            "SELECT t.oid, pg_catalog.format_type(t.typbasetype, t.typtypmod) AS base_sql, \
                    CASE WHEN t.typcollation <> bt.typcollation THEN {coll} END AS collation, \
                    COALESCE(pg_catalog.pg_get_expr(t.typdefaultbin, 0), t.typdefault) AS def, \
                    t.typnotnull AS not_null \
               {from} JOIN pg_catalog.pg_type bt ON bt.oid = t.typbasetype \
              WHERE t.typtype = 'd' AND {user_type}",
            coll = obj_name(
                "pg_collation",
                "collname",
                "collnamespace",
                "t.typcollation"
            ),
        );
        for r in query(s, "reading domains", &sql).await? {
            domains.insert(
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
               {from} JOIN pg_catalog.pg_constraint c ON c.contypid = t.oid \
              WHERE t.typtype = 'd' AND {user_type} \
              ORDER BY t.oid, c.conname"
        );
        for r in query(s, "reading domain constraints", &sql).await? {
            let typ: u32 = r.get("typ");
            if let Some(d) = domains.get_mut(&typ) {
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
    }
    if has('r') {
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
               {from} JOIN pg_catalog.pg_range r ON r.rngtypid = t.oid \
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
            ranges.insert(
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
    }
    if has('b') {
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
               {from} WHERE t.typtype = 'b' AND {user_type}",
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
            bases.insert(
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
    }

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

// ---------------------------------------------------------------------------------------------
// Functions

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
    pub language: String,
    /// The language is trusted (any user with USAGE may create functions in it).
    pub trusted: bool,
    pub acl: Acl,
    pub comment: Option<String>,
}

fn function_cols() -> String {
    format!(
        "p.oid, n.nspname::text AS schema, p.proname::text AS name, p.prokind::text AS kind, \
         pg_catalog.pg_get_function_identity_arguments(p.oid) AS identity_args, \
         pg_catalog.pg_get_functiondef(p.oid) AS definition, l.lanname::text AS language, \
         l.lanpltrusted AS trusted, {acl}, \
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

// ---------------------------------------------------------------------------------------------
// Casts and operators

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

// ---------------------------------------------------------------------------------------------
// Operator families and classes

/// One member of an operator family or class (a `pg_amop` or `pg_amproc` row).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpMember {
    Operator {
        oid: u32,
        strategy: i16,
        operator: QName,
        /// The operator's operand types (`NONE` for a missing left operand).
        left: String,
        right: String,
        /// The sort family of an ordering operator (`FOR ORDER BY`).
        order_by: Option<QName>,
    },
    Function {
        oid: u32,
        number: i16,
        left: String,
        right: String,
        function: ProcSig,
    },
}

impl OpMember {
    pub fn oid(&self) -> u32 {
        match self {
            OpMember::Operator { oid, .. } | OpMember::Function { oid, .. } => *oid,
        }
    }

    /// The catalog of the member row.
    pub fn classid(&self) -> u32 {
        match self {
            OpMember::Operator { .. } => class::PG_AMOP,
            OpMember::Function { .. } => class::PG_AMPROC,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpFamilyRow {
    pub oid: u32,
    pub name: QName,
    pub method: String,
    pub owner: String,
    /// Members that belong to the family itself (`ALTER OPERATOR FAMILY ... ADD`).
    pub members: Vec<OpMember>,
    pub comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpClassRow {
    pub oid: u32,
    pub name: QName,
    pub method: String,
    pub default: bool,
    pub for_type: String,
    pub family: QName,
    pub family_oid: u32,
    pub storage: Option<String>,
    pub owner: String,
    /// Members that belong to the class (`AS ...`).
    pub members: Vec<OpMember>,
    pub comment: Option<String>,
}

/// Operator families and classes with their members (four queries). A member belongs to the
/// class or the family its `pg_depend` entry names, as pg_dump decides.
pub async fn list_opfamilies_and_classes(
    s: &Session,
) -> Result<(Vec<OpFamilyRow>, Vec<OpClassRow>)> {
    let sql = format!(
        "SELECT f.oid, n.nspname::text AS schema, f.opfname::text AS name, \
                am.amname::text AS method, pg_catalog.pg_get_userbyid(f.opfowner)::text AS owner, \
                pg_catalog.obj_description(f.oid, 'pg_opfamily') AS comment \
           FROM pg_catalog.pg_opfamily f \
           JOIN pg_catalog.pg_namespace n ON n.oid = f.opfnamespace \
           JOIN pg_catalog.pg_am am ON am.oid = f.opfmethod \
          WHERE {USER_SCHEMAS} AND {member} ORDER BY 2, 3, 4",
        member = not_ext_member(class::PG_OPFAMILY, "f.oid"),
    );
    let mut families: Vec<OpFamilyRow> = query(s, "reading operator families", &sql)
        .await?
        .iter()
        .map(|r| OpFamilyRow {
            oid: r.get("oid"),
            name: QName::new(r.get("schema"), r.get("name")),
            method: r.get("method"),
            owner: r.get("owner"),
            members: Vec::new(),
            comment: r.get("comment"),
        })
        .collect();
    let sql = format!(
        "SELECT c.oid, n.nspname::text AS schema, c.opcname::text AS name, \
                am.amname::text AS method, c.opcdefault AS dflt, \
                pg_catalog.format_type(c.opcintype, NULL) AS for_type, \
                fn.nspname::text AS fschema, f.opfname::text AS fname, f.oid AS family_oid, \
                {storage} AS storage, \
                pg_catalog.pg_get_userbyid(c.opcowner)::text AS owner, \
                pg_catalog.obj_description(c.oid, 'pg_opclass') AS comment \
           FROM pg_catalog.pg_opclass c \
           JOIN pg_catalog.pg_namespace n ON n.oid = c.opcnamespace \
           JOIN pg_catalog.pg_am am ON am.oid = c.opcmethod \
           JOIN pg_catalog.pg_opfamily f ON f.oid = c.opcfamily \
           JOIN pg_catalog.pg_namespace fn ON fn.oid = f.opfnamespace \
          WHERE {USER_SCHEMAS} AND {member} ORDER BY 2, 3, 4",
        storage = type_name("c.opckeytype"),
        member = not_ext_member(class::PG_OPCLASS, "c.oid"),
    );
    let mut classes: Vec<OpClassRow> = query(s, "reading operator classes", &sql)
        .await?
        .iter()
        .map(|r| OpClassRow {
            oid: r.get("oid"),
            name: QName::new(r.get("schema"), r.get("name")),
            method: r.get("method"),
            default: r.get("dflt"),
            for_type: r.get("for_type"),
            family: QName::new(r.get("fschema"), r.get("fname")),
            family_oid: r.get("family_oid"),
            storage: r.get("storage"),
            owner: r.get("owner"),
            members: Vec::new(),
            comment: r.get("comment"),
        })
        .collect();
    if families.is_empty() && classes.is_empty() {
        return Ok((families, classes));
    }
    // The owner of each member: its class (internal dependency) or, for "loose" members, its
    // family (the dependency on amopfamily / amprocfamily, not on a FOR ORDER BY sort family).
    let owner_of = |member: &str, family_col: &str| {
        format!(
            "(SELECT ARRAY[d.refclassid, d.refobjid] FROM pg_catalog.pg_depend d \
               WHERE d.classid = {{classid}} AND d.objid = {member}.oid \
                 AND (d.refclassid = {opc} \
                      OR (d.refclassid = {opf} AND d.refobjid = {member}.{family_col})) \
               ORDER BY d.refclassid = {opc} DESC LIMIT 1)",
            opc = class::PG_OPCLASS,
            opf = class::PG_OPFAMILY,
        )
    };
    let sql = format!(
        "SELECT ao.oid, {owner} AS owner, ao.amopstrategy AS strategy, \
                ARRAY[opn.nspname::text, op.oprname::text] AS operator, \
                COALESCE({l}, 'NONE') AS lt, COALESCE({r}, 'NONE') AS rt, \
                CASE WHEN ao.amoppurpose = 'o' THEN {sf} END AS order_by \
           FROM pg_catalog.pg_amop ao \
           JOIN pg_catalog.pg_operator op ON op.oid = ao.amopopr \
           JOIN pg_catalog.pg_namespace opn ON opn.oid = op.oprnamespace",
        owner = owner_of("ao", "amopfamily").replace("{classid}", &class::PG_AMOP.to_string()),
        l = type_name("op.oprleft"),
        r = type_name("op.oprright"),
        sf = obj_name(
            "pg_opfamily",
            "opfname",
            "opfnamespace",
            "ao.amopsortfamily"
        ),
    );
    let sql = wrap_members(&sql, "strategy", &families, &classes);
    let proc_sql = format!(
        "SELECT ap.oid, {owner} AS owner, ap.amprocnum AS number, \
                pg_catalog.format_type(ap.amproclefttype, NULL) AS lt, \
                pg_catalog.format_type(ap.amprocrighttype, NULL) AS rt, {f} AS function \
           FROM pg_catalog.pg_amproc ap",
        owner = owner_of("ap", "amprocfamily").replace("{classid}", &class::PG_AMPROC.to_string()),
        f = proc_sig("ap.amproc"),
    );
    let proc_sql = wrap_members(&proc_sql, "number", &families, &classes);
    let mut place = |owner: Option<Vec<u32>>, m: OpMember| {
        let Some(owner) = owner else { return };
        if owner.len() != 2 {
            return;
        }
        if owner[0] == class::PG_OPCLASS {
            if let Some(c) = classes.iter_mut().find(|c| c.oid == owner[1]) {
                c.members.push(m);
            }
        } else if let Some(f) = families.iter_mut().find(|f| f.oid == owner[1]) {
            f.members.push(m);
        }
    };
    for r in query(s, "reading operator class operators", &sql).await? {
        place(
            r.get("owner"),
            OpMember::Operator {
                oid: r.get("oid"),
                strategy: r.get("strategy"),
                operator: QName::from_parts(r.get("operator")).expect("operator name"),
                left: r.get("lt"),
                right: r.get("rt"),
                order_by: QName::from_parts(r.get("order_by")),
            },
        );
    }
    for r in query(s, "reading operator class functions", &proc_sql).await? {
        let Some(function) = ProcSig::from_parts(r.get("function")) else {
            continue;
        };
        place(
            r.get("owner"),
            OpMember::Function {
                oid: r.get("oid"),
                number: r.get("number"),
                left: r.get("lt"),
                right: r.get("rt"),
                function,
            },
        );
    }
    Ok((families, classes))
}

/// Restricts a member query to members of the families and classes read (by their owner
/// column), so the database's built-in members are not all fetched.
fn wrap_members(sql: &str, sort: &str, families: &[OpFamilyRow], classes: &[OpClassRow]) -> String {
    let oids: Vec<String> = families
        .iter()
        .map(|f| f.oid)
        .chain(classes.iter().map(|c| c.oid))
        .map(|o| o.to_string())
        .collect();
    format!(
        "SELECT * FROM ({sql}) m WHERE m.owner[2] = ANY ('{{{}}}'::pg_catalog.oid[]) \
          ORDER BY m.{sort}, m.oid",
        oids.join(",")
    )
}
