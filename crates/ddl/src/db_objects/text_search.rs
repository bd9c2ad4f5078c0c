//! Text search parsers, templates, dictionaries and configurations (with their mappings).
//!
//! Its own file as one object family of [`super`], which collects them all; helpers shared by
//! the families come through `use super::*`.

use super::*;

/// `name = function` items of a definition list, skipping absent functions.
pub(super) fn def_items(items: &[(&str, Option<&objects::QName>)]) -> String {
    items
        .iter()
        .filter_map(|(k, v)| v.map(|v| format!("{k} = {}", v.sql())))
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn ts_parser_object(r: &TsParserRow) -> SchemaObject {
    let q = r.name.sql();
    let mut o = object(
        class::PG_TS_PARSER,
        r.oid,
        ObjectKind::TextSearchParser,
        Some(&r.name.schema),
        &r.name.name,
    );
    o.create.push(format!(
        "CREATE TEXT SEARCH PARSER {q} ({})",
        def_items(&[
            ("START", r.start.as_ref()),
            ("GETTOKEN", r.gettoken.as_ref()),
            ("END", r.end.as_ref()),
            ("LEXTYPES", r.lextypes.as_ref()),
            ("HEADLINE", r.headline.as_ref()),
        ])
    ));
    o.extend_comments(comment_sql("TEXT SEARCH PARSER", &q, r.comment.as_deref()));
    o.privilege = Privilege::MaySkip;
    o
}

pub fn ts_template_object(r: &TsTemplateRow) -> SchemaObject {
    let q = r.name.sql();
    let mut o = object(
        class::PG_TS_TEMPLATE,
        r.oid,
        ObjectKind::TextSearchTemplate,
        Some(&r.name.schema),
        &r.name.name,
    );
    o.create.push(format!(
        "CREATE TEXT SEARCH TEMPLATE {q} ({})",
        def_items(&[("INIT", r.init.as_ref()), ("LEXIZE", r.lexize.as_ref())])
    ));
    o.extend_comments(comment_sql(
        "TEXT SEARCH TEMPLATE",
        &q,
        r.comment.as_deref(),
    ));
    o.privilege = Privilege::MaySkip;
    o
}

pub fn ts_dict_object(r: &TsDictRow) -> SchemaObject {
    let q = r.name.sql();
    let mut o = object(
        class::PG_TS_DICT,
        r.oid,
        ObjectKind::TextSearchDictionary,
        Some(&r.name.schema),
        &r.name.name,
    );
    let mut items = Vec::new();
    if let Some(t) = &r.template {
        items.push(format!("TEMPLATE = {}", t.sql()));
    }
    // dictinitoption is the server's own serialization of the options (names and quoted
    // values), valid as a definition list.
    if let Some(opts) = r.options.as_deref().filter(|s| !s.trim().is_empty()) {
        items.push(opts.to_string());
    }
    o.create.push(format!(
        "CREATE TEXT SEARCH DICTIONARY {q} ({})",
        items.join(", ")
    ));
    o.owner = Some(owner_sql(ObjectKind::TextSearchDictionary, &q, &r.owner));
    o.extend_comments(comment_sql(
        "TEXT SEARCH DICTIONARY",
        &q,
        r.comment.as_deref(),
    ));
    o
}

pub fn ts_config_object(r: &TsConfigRow) -> SchemaObject {
    let q = r.name.sql();
    let mut o = object(
        class::PG_TS_CONFIG,
        r.oid,
        ObjectKind::TextSearchConfiguration,
        Some(&r.name.schema),
        &r.name.name,
    );
    let parser = r
        .parser
        .as_ref()
        .map(|p| p.sql())
        .unwrap_or_else(|| "\"pg_catalog\".\"default\"".into());
    o.create.push(format!(
        "CREATE TEXT SEARCH CONFIGURATION {q} (PARSER = {parser})"
    ));
    for (token, dicts) in &r.mappings {
        let dicts: Vec<String> = dicts.iter().map(|d| d.sql()).collect();
        o.create.push(format!(
            "ALTER TEXT SEARCH CONFIGURATION {q} ADD MAPPING FOR {} WITH {}",
            quote_ident(token),
            dicts.join(", ")
        ));
    }
    o.owner = Some(owner_sql(ObjectKind::TextSearchConfiguration, &q, &r.owner));
    o.extend_comments(comment_sql(
        "TEXT SEARCH CONFIGURATION",
        &q,
        r.comment.as_deref(),
    ));
    o
}
