//! Text search parsers, templates, dictionaries and configurations (with their token
//! mappings).
//!
//! Its own file as one object family of [`super`]; callers use the re-exports there.

use crate::class;
use crate::scope::USER_SCHEMAS;
use db_migrate_conn::Session;
use db_migrate_core::error::Result;

use super::{QName, not_ext_member, obj_name, proc_name, query};

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
