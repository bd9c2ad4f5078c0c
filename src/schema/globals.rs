//! Database-level objects that are not types, routines or relations: schemas, extensions,
//! procedural languages, collations, text search parsers / templates / dictionaries /
//! configurations, foreign data wrappers, foreign servers, user mappings, event triggers,
//! default privileges and large objects (their owner and privileges; the data is the data
//! engine's job).
//!
//! Rows come from [`crate::catalog::objects`]; this module only turns them into statements.
//! Members of extensions are reported as [`Alias`]es of their extension, so that an object
//! depending on one (a domain over `citext`) is created after `CREATE EXTENSION`.
//!
//! Notes on fidelity, all matching what `pg_dump` produces so that a dump of the target equals a
//! dump of the source:
//! - `public` exists in every new database: it is never created, but its owner (unless
//!   `pg_database_owner`), privileges (compared with `{owner=UC/owner,=U/owner}`, the default
//!   since PostgreSQL 15) and comment (`standard public schema` by default) are reproduced.
//! - Extensions are created `IF NOT EXISTS` at the source's version (see
//!   [`super::extensions`]).
//! - Default privileges for all schemas are a delta from the built-in defaults, those for one
//!   schema a delta from nothing; they are emitted as privilege statements (skipped with
//!   `--no-acl`, like pg_dump's `--no-privileges`).
//! - User mapping options may hold passwords: they are copied into the statement but never
//!   into a warning or log line.

use crate::catalog::objects::{
    self, AccessMethodRow, CollationRow, DefaultAclRow, EventTriggerRow, ExtensionRow, FdwRow,
    LanguageRow, LargeObjectRow, SchemaRow, ServerRow, TsConfigRow, TsDictRow, TsParserRow,
    TsTemplateRow, UserMappingRow,
};
use crate::conn::Session;
use crate::error::Result;
use crate::schema::model::{
    Alias, Collected, DEFAULT_PRIVILEGES_FOR_ROLE, ObjId, ObjectKind, Privilege, SchemaObject,
    Section, acl_sql, class, comment_sql, owner_sql,
};
use crate::sql::{quote_ident, quote_literal};

/// Every global-ish object of the session's database.
pub async fn collect(s: &Session) -> Result<Collected> {
    let mut c = Collected::default();
    for r in objects::list_schemas(s).await? {
        c.objects.push(schema_object(&r));
    }
    for r in objects::list_extensions(s).await? {
        c.objects.push(extension_object(&r));
    }
    // Objects depending on an extension's member (a domain over citext, say) depend on the
    // extension.
    for (classid, oid, ext) in objects::list_extension_members(s).await? {
        c.aliases.push(Alias {
            alias: ObjId::new(classid, oid),
            target: ObjId::new(class::PG_EXTENSION, ext),
        });
    }
    for r in objects::list_languages(s).await? {
        c.objects.push(language_object(&r));
    }
    for r in objects::list_collations(s).await? {
        match collation_object(&r) {
            Some(o) => c.objects.push(o),
            None => c.warnings.push(format!(
                "collation {} uses the database default provider and cannot be recreated",
                r.name.sql()
            )),
        }
    }
    for r in objects::list_ts_parsers(s).await? {
        c.objects.push(ts_parser_object(&r));
    }
    for r in objects::list_ts_templates(s).await? {
        c.objects.push(ts_template_object(&r));
    }
    for r in objects::list_ts_dicts(s).await? {
        c.objects.push(ts_dict_object(&r));
    }
    for r in objects::list_ts_configs(s).await? {
        c.objects.push(ts_config_object(&r));
    }
    for r in objects::list_fdws(s).await? {
        c.objects.push(fdw_object(&r));
    }
    for r in objects::list_servers(s).await? {
        c.objects.push(server_object(&r));
    }
    for r in objects::list_user_mappings(s).await? {
        if !r.options_visible {
            c.warnings.push(format!(
                "the options of the user mapping for {} on server {} are not readable by the \
                 connected user (only a superuser, the server owner or the mapped user may read \
                 them): it is created without options",
                r.user
                    .as_deref()
                    .map(quote_ident)
                    .unwrap_or_else(|| "PUBLIC".into()),
                quote_ident(&r.server)
            ));
        }
        c.objects.push(user_mapping_object(&r));
    }
    for r in objects::list_access_methods(s).await? {
        c.objects.push(access_method_object(&r));
    }
    for r in objects::list_event_triggers(s).await? {
        c.objects.push(event_trigger_object(&r));
    }
    for r in objects::list_default_acls(s).await? {
        c.objects.push(default_acl_object(&r));
    }
    for r in objects::list_large_objects(s).await? {
        c.objects.push(large_object_object(&r));
    }
    Ok(c)
}

/// `OPTIONS (name 'value', ...)` from `name=value` items (split at the first `=`, like
/// `pg_options_to_table`), or an empty string without options.
pub fn options_clause(options: &[String]) -> String {
    if options.is_empty() {
        return String::new();
    }
    let items: Vec<String> = options
        .iter()
        .map(|o| {
            let (k, v) = o.split_once('=').unwrap_or((o.as_str(), ""));
            format!("{} {}", quote_ident(k), quote_literal(v))
        })
        .collect();
    format!(" OPTIONS ({})", items.join(", "))
}

/// A role name as `aclitem` text prints it (double-quoted when it is not plain).
fn aclitem_role(role: &str) -> String {
    if !role.is_empty() && role.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        role.to_string()
    } else {
        quote_ident(role)
    }
}

fn object(
    classid: u32,
    oid: u32,
    kind: ObjectKind,
    schema: Option<&str>,
    name: &str,
) -> SchemaObject {
    SchemaObject::new(
        ObjId::new(classid, oid),
        kind,
        Section::PreData,
        schema,
        name,
    )
}

/// `CREATE SCHEMA`, or for `public` only what differs from a new database's `public`.
pub fn schema_object(r: &SchemaRow) -> SchemaObject {
    let q = quote_ident(&r.name);
    let mut o = object(
        class::PG_NAMESPACE,
        r.oid,
        ObjectKind::Schema,
        None,
        &r.name,
    );
    if r.name == "public" {
        // What pg_dump (15+) compares against, whatever the source's major.
        if r.acl.owner != "pg_database_owner" {
            o.owner = Some(owner_sql(ObjectKind::Schema, &q, &r.acl.owner));
        }
        let owner = aclitem_role(&r.acl.owner);
        let baseline = vec![format!("{owner}=UC/{owner}"), format!("=U/{owner}")];
        let acl = r.acl.acl.clone().unwrap_or_else(|| r.acl.default.clone());
        o.acl = acl_sql(
            &format!("SCHEMA {q}"),
            &r.acl.owner,
            Some(&acl),
            &baseline,
            None,
        );
        match r.comment.as_deref() {
            Some("standard public schema") => {}
            None => o.comments.push(format!("COMMENT ON SCHEMA {q} IS NULL")),
            Some(c) => o.comments.extend(comment_sql("SCHEMA", &q, Some(c))),
        }
        return o;
    }
    o.create.push(format!("CREATE SCHEMA {q}"));
    o.owner = Some(owner_sql(ObjectKind::Schema, &q, &r.acl.owner));
    o.acl = acl_sql(
        &format!("SCHEMA {q}"),
        &r.acl.owner,
        r.acl.acl.as_deref(),
        &r.acl.default,
        None,
    );
    o.comments
        .extend(comment_sql("SCHEMA", &q, r.comment.as_deref()));
    o
}

/// `CREATE EXTENSION IF NOT EXISTS name WITH SCHEMA s VERSION v` (the source's version; the
/// executor falls back to the target's default when the target lacks it).
pub fn extension_object(r: &ExtensionRow) -> SchemaObject {
    let q = quote_ident(&r.name);
    let mut o = object(
        class::PG_EXTENSION,
        r.oid,
        ObjectKind::Extension,
        None,
        &r.name,
    );
    let spec = super::extensions::ExtensionSpec {
        name: r.name.clone(),
        schema: r.schema.clone(),
        version: r.version.clone(),
    };
    o.create.push(super::extensions::create_extension_sql(
        &spec,
        Some(&r.version),
    ));
    o.extension = Some(spec);
    o.comments
        .extend(comment_sql("EXTENSION", &q, r.comment.as_deref()));
    if r.superuser_only {
        o.privilege = Privilege::MaySkip;
    }
    o
}

/// `CREATE [TRUSTED] LANGUAGE ... HANDLER ... [INLINE ...] [VALIDATOR ...]`.
pub fn language_object(r: &LanguageRow) -> SchemaObject {
    let q = quote_ident(&r.name);
    let mut o = object(
        class::PG_LANGUAGE,
        r.oid,
        ObjectKind::Language,
        None,
        &r.name,
    );
    let mut sql = format!(
        "CREATE {}LANGUAGE {q}",
        if r.trusted { "TRUSTED " } else { "" }
    );
    if let Some(h) = &r.handler {
        sql.push_str(&format!(" HANDLER {}", h.sql()));
        if let Some(i) = &r.inline {
            sql.push_str(&format!(" INLINE {}", i.sql()));
        }
        if let Some(v) = &r.validator {
            sql.push_str(&format!(" VALIDATOR {}", v.sql()));
        }
    }
    o.create.push(sql);
    o.owner = Some(owner_sql(ObjectKind::Language, &q, &r.acl.owner));
    o.acl = acl_sql(
        &format!("LANGUAGE {q}"),
        &r.acl.owner,
        r.acl.acl.as_deref(),
        &r.acl.default,
        None,
    );
    o.comments
        .extend(comment_sql("LANGUAGE", &q, r.comment.as_deref()));
    o.privilege = Privilege::MaySkip;
    o
}

/// `CREATE COLLATION s.c (provider = ..., ...)`; `None` for the default provider.
pub fn collation_object(r: &CollationRow) -> Option<SchemaObject> {
    let q = r.name.sql();
    let mut opts = Vec::new();
    match r.provider {
        'c' => {
            opts.push("provider = libc".to_string());
            let collate = r.collate.clone().unwrap_or_default();
            let ctype = r.ctype.clone().unwrap_or_default();
            if collate == ctype {
                opts.push(format!("locale = {}", quote_literal(&collate)));
            } else {
                opts.push(format!("lc_collate = {}", quote_literal(&collate)));
                opts.push(format!("lc_ctype = {}", quote_literal(&ctype)));
            }
        }
        'i' => {
            opts.push("provider = icu".to_string());
            opts.push(format!(
                "locale = {}",
                quote_literal(r.locale.as_deref().unwrap_or(""))
            ));
            if let Some(rules) = &r.icu_rules {
                opts.push(format!("rules = {}", quote_literal(rules)));
            }
        }
        'b' => {
            opts.push("provider = builtin".to_string());
            opts.push(format!(
                "locale = {}",
                quote_literal(r.locale.as_deref().unwrap_or(""))
            ));
        }
        _ => return None,
    }
    if !r.deterministic {
        opts.push("deterministic = false".to_string());
    }
    let mut o = object(
        class::PG_COLLATION,
        r.oid,
        ObjectKind::Collation,
        Some(&r.name.schema),
        &r.name.name,
    );
    o.create
        .push(format!("CREATE COLLATION {q} ({})", opts.join(", ")));
    o.owner = Some(owner_sql(ObjectKind::Collation, &q, &r.owner));
    o.comments
        .extend(comment_sql("COLLATION", &q, r.comment.as_deref()));
    Some(o)
}

/// `name = function` items of a definition list, skipping absent functions.
fn def_items(items: &[(&str, Option<&objects::QName>)]) -> String {
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
    o.comments
        .extend(comment_sql("TEXT SEARCH PARSER", &q, r.comment.as_deref()));
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
    o.comments.extend(comment_sql(
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
    o.comments.extend(comment_sql(
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
    o.comments.extend(comment_sql(
        "TEXT SEARCH CONFIGURATION",
        &q,
        r.comment.as_deref(),
    ));
    o
}

pub fn fdw_object(r: &FdwRow) -> SchemaObject {
    let q = quote_ident(&r.name);
    let mut o = object(
        class::PG_FOREIGN_DATA_WRAPPER,
        r.oid,
        ObjectKind::ForeignDataWrapper,
        None,
        &r.name,
    );
    let mut sql = format!("CREATE FOREIGN DATA WRAPPER {q}");
    if let Some(h) = &r.handler {
        sql.push_str(&format!(" HANDLER {}", h.sql()));
    }
    if let Some(v) = &r.validator {
        sql.push_str(&format!(" VALIDATOR {}", v.sql()));
    }
    sql.push_str(&options_clause(&r.options));
    o.create.push(sql);
    o.owner = Some(owner_sql(ObjectKind::ForeignDataWrapper, &q, &r.acl.owner));
    o.acl = acl_sql(
        &format!("FOREIGN DATA WRAPPER {q}"),
        &r.acl.owner,
        r.acl.acl.as_deref(),
        &r.acl.default,
        None,
    );
    o.comments.extend(comment_sql(
        "FOREIGN DATA WRAPPER",
        &q,
        r.comment.as_deref(),
    ));
    o.privilege = Privilege::MaySkip;
    o
}

pub fn server_object(r: &ServerRow) -> SchemaObject {
    let q = quote_ident(&r.name);
    let mut o = object(
        class::PG_FOREIGN_SERVER,
        r.oid,
        ObjectKind::ForeignServer,
        None,
        &r.name,
    );
    let mut sql = format!("CREATE SERVER {q}");
    if let Some(t) = &r.server_type {
        sql.push_str(&format!(" TYPE {}", quote_literal(t)));
    }
    if let Some(v) = &r.version {
        sql.push_str(&format!(" VERSION {}", quote_literal(v)));
    }
    sql.push_str(&format!(" FOREIGN DATA WRAPPER {}", quote_ident(&r.fdw)));
    sql.push_str(&options_clause(&r.options));
    o.create.push(sql);
    o.owner = Some(owner_sql(ObjectKind::ForeignServer, &q, &r.acl.owner));
    o.acl = acl_sql(
        &format!("FOREIGN SERVER {q}"),
        &r.acl.owner,
        r.acl.acl.as_deref(),
        &r.acl.default,
        None,
    );
    o.comments
        .extend(comment_sql("SERVER", &q, r.comment.as_deref()));
    o.deps
        .push(ObjId::new(class::PG_FOREIGN_DATA_WRAPPER, r.fdw_oid));
    o
}

/// `CREATE USER MAPPING FOR role|PUBLIC SERVER s OPTIONS (...)`. The statement holds the
/// options (possibly a password): it must not be logged.
pub fn user_mapping_object(r: &UserMappingRow) -> SchemaObject {
    let user = r
        .user
        .as_deref()
        .map(quote_ident)
        .unwrap_or_else(|| "PUBLIC".into());
    let name = format!(
        "for {} on server {}",
        r.user.as_deref().unwrap_or("PUBLIC"),
        r.server
    );
    let mut o = object(
        class::PG_USER_MAPPING,
        r.oid,
        ObjectKind::UserMapping,
        None,
        &name,
    );
    o.create.push(format!(
        "CREATE USER MAPPING FOR {user} SERVER {}{}",
        quote_ident(&r.server),
        options_clause(&r.options)
    ));
    o.deps
        .push(ObjId::new(class::PG_FOREIGN_SERVER, r.server_oid));
    o
}

/// `CREATE ACCESS METHOD ... TYPE TABLE|INDEX HANDLER ...`. Access methods have no owner and no
/// privileges; creating one takes a superuser, so a target that refuses it skips it (and, with
/// it, what uses it) with a warning. Tables and materialized views keep theirs through `USING`.
pub fn access_method_object(r: &AccessMethodRow) -> SchemaObject {
    let q = quote_ident(&r.name);
    let mut o = SchemaObject::new(
        ObjId::new(class::PG_AM, r.oid),
        ObjectKind::AccessMethod,
        Section::PreData,
        None,
        &r.name,
    );
    let kind = if r.kind == 't' { "TABLE" } else { "INDEX" };
    let handler = r
        .handler
        .as_ref()
        .map(|f| f.sql())
        .unwrap_or_else(|| "\"pg_catalog\".\"unknown\"".into());
    o.create.push(format!(
        "CREATE ACCESS METHOD {q} TYPE {kind} HANDLER {handler}"
    ));
    o.comments
        .extend(comment_sql("ACCESS METHOD", &q, r.comment.as_deref()));
    o.privilege = Privilege::MaySkip;
    o
}

/// `CREATE EVENT TRIGGER` plus its enabled state; post-data, so that it does not fire while
/// the schema is being created.
pub fn event_trigger_object(r: &EventTriggerRow) -> SchemaObject {
    let q = quote_ident(&r.name);
    let mut o = SchemaObject::new(
        ObjId::new(class::PG_EVENT_TRIGGER, r.oid),
        ObjectKind::EventTrigger,
        Section::PostData,
        None,
        &r.name,
    );
    let mut sql = format!("CREATE EVENT TRIGGER {q} ON {}", quote_ident(&r.event));
    if let Some(tags) = r.tags.as_ref().filter(|t| !t.is_empty()) {
        let tags: Vec<String> = tags.iter().map(|t| quote_literal(t)).collect();
        sql.push_str(&format!(" WHEN TAG IN ({})", tags.join(", ")));
    }
    let function = r
        .function
        .as_ref()
        .map(|f| f.sql())
        .unwrap_or_else(|| "\"pg_catalog\".\"unknown\"".into());
    sql.push_str(&format!(" EXECUTE FUNCTION {function}()"));
    o.create.push(sql);
    match r.enabled {
        'D' => o.create.push(format!("ALTER EVENT TRIGGER {q} DISABLE")),
        'R' => o
            .create
            .push(format!("ALTER EVENT TRIGGER {q} ENABLE REPLICA")),
        'A' => o
            .create
            .push(format!("ALTER EVENT TRIGGER {q} ENABLE ALWAYS")),
        _ => {}
    }
    o.owner = Some(owner_sql(ObjectKind::EventTrigger, &q, &r.owner));
    o.comments
        .extend(comment_sql("EVENT TRIGGER", &q, r.comment.as_deref()));
    o.privilege = Privilege::MaySkip;
    o
}

/// The `ON <kind>` of `ALTER DEFAULT PRIVILEGES` for a `defaclobjtype`.
fn default_acl_kind(objtype: char) -> &'static str {
    match objtype {
        'r' => "TABLES",
        'S' => "SEQUENCES",
        'f' => "FUNCTIONS",
        'T' => "TYPES",
        'n' => "SCHEMAS",
        'L' => "LARGE OBJECTS",
        _ => "TABLES",
    }
}

/// `ALTER DEFAULT PRIVILEGES FOR ROLE r [IN SCHEMA s] GRANT|REVOKE ...`, as privilege
/// statements (skipped with `--no-acl`).
pub fn default_acl_object(r: &DefaultAclRow) -> SchemaObject {
    let kind = default_acl_kind(r.objtype);
    let name = match &r.schema {
        Some(s) => format!(
            "for role {} in schema {s} on {}",
            r.role,
            kind.to_lowercase()
        ),
        None => format!("for role {} on {}", r.role, kind.to_lowercase()),
    };
    let mut o = object(
        class::PG_DEFAULT_ACL,
        r.oid,
        ObjectKind::DefaultPrivileges,
        r.schema.as_deref(),
        &name,
    );
    let prefix = match &r.schema {
        Some(s) => format!(
            "{DEFAULT_PRIVILEGES_FOR_ROLE}{} IN SCHEMA {} ",
            quote_ident(&r.role),
            quote_ident(s)
        ),
        None => format!("{DEFAULT_PRIVILEGES_FOR_ROLE}{} ", quote_ident(&r.role)),
    };
    o.acl = acl_sql(kind, &r.role, Some(&r.acl), &r.base, None)
        .into_iter()
        .map(|stmt| format!("{prefix}{stmt}"))
        .collect();
    if r.schema.is_some() && r.schema_oid != 0 {
        o.deps.push(ObjId::new(class::PG_NAMESPACE, r.schema_oid));
    }
    o
}

/// `SELECT lo_create(oid)`, owner, privileges and comment of a large object.
pub fn large_object_object(r: &LargeObjectRow) -> SchemaObject {
    let id = r.oid.to_string();
    let mut o = object(
        class::PG_LARGEOBJECT_METADATA,
        r.oid,
        ObjectKind::LargeObject,
        None,
        &id,
    );
    o.create.push(format!(
        "SELECT pg_catalog.lo_create({})",
        quote_literal(&id)
    ));
    o.owner = Some(owner_sql(ObjectKind::LargeObject, &id, &r.acl.owner));
    o.acl = acl_sql(
        &format!("LARGE OBJECT {id}"),
        &r.acl.owner,
        r.acl.acl.as_deref(),
        &r.acl.default,
        None,
    );
    o.comments
        .extend(comment_sql("LARGE OBJECT", &id, r.comment.as_deref()));
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::objects::{Acl, QName};

    fn acl(owner: &str, acl: Option<&[&str]>, default: &[&str]) -> Acl {
        Acl {
            owner: owner.into(),
            acl: acl.map(|a| a.iter().map(|s| s.to_string()).collect()),
            default: default.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn options_are_quoted_and_split_at_the_first_equals_sign() {
        let opts = vec!["host=a'b".to_string(), "we\"ird=x=y".to_string()];
        assert_eq!(
            options_clause(&opts),
            " OPTIONS (\"host\" 'a''b', \"we\"\"ird\" 'x=y')"
        );
        assert_eq!(options_clause(&[]), "");
    }

    #[test]
    fn default_public_schema_needs_nothing() {
        let r = SchemaRow {
            oid: 2200,
            name: "public".into(),
            acl: acl(
                "pg_database_owner",
                Some(&[
                    "pg_database_owner=UC/pg_database_owner",
                    "=U/pg_database_owner",
                ]),
                &["pg_database_owner=UC/pg_database_owner"],
            ),
            comment: Some("standard public schema".into()),
        };
        let o = schema_object(&r);
        assert!(o.create.is_empty() && o.owner.is_none() && o.acl.is_empty());
        assert!(o.comments.is_empty());
    }

    #[test]
    fn pre_15_public_schema_keeps_owner_and_public_create() {
        let r = SchemaRow {
            oid: 2200,
            name: "public".into(),
            acl: acl(
                "postgres",
                Some(&["postgres=UC/postgres", "=UC/postgres"]),
                &["postgres=UC/postgres"],
            ),
            comment: None,
        };
        let o = schema_object(&r);
        assert!(o.create.is_empty());
        assert_eq!(
            o.owner.unwrap().sql,
            "ALTER SCHEMA \"public\" OWNER TO \"postgres\""
        );
        assert!(
            o.acl
                .contains(&"GRANT USAGE, CREATE ON SCHEMA \"public\" TO PUBLIC".to_string())
        );
        assert_eq!(o.comments, vec!["COMMENT ON SCHEMA \"public\" IS NULL"]);
    }

    #[test]
    fn schemas_extensions_and_collations() {
        let r = SchemaRow {
            oid: 20000,
            name: "we\"ird schema".into(),
            acl: acl("o", None, &["o=UC/o"]),
            comment: Some("it's".into()),
        };
        let o = schema_object(&r);
        assert_eq!(o.create, vec!["CREATE SCHEMA \"we\"\"ird schema\""]);
        assert_eq!(
            o.comments,
            vec!["COMMENT ON SCHEMA \"we\"\"ird schema\" IS 'it''s'"]
        );
        let e = extension_object(&ExtensionRow {
            oid: 20001,
            name: "hstore".into(),
            schema: "public".into(),
            version: "1.8".into(),
            superuser_only: false,
            comment: None,
        });
        assert_eq!(
            e.create,
            vec!["CREATE EXTENSION IF NOT EXISTS \"hstore\" WITH SCHEMA \"public\" VERSION '1.8'"]
        );
        assert_eq!(e.privilege, Privilege::Normal);
        let c = collation_object(&CollationRow {
            oid: 20002,
            name: QName::new("s", "ci"),
            owner: "o".into(),
            provider: 'i',
            collate: None,
            ctype: None,
            locale: Some("und-u-ks-level2".into()),
            icu_rules: None,
            deterministic: false,
            comment: None,
        })
        .unwrap();
        assert_eq!(
            c.create,
            vec![
                "CREATE COLLATION \"s\".\"ci\" (provider = icu, locale = 'und-u-ks-level2', \
                 deterministic = false)"
            ]
        );
        let mut libc = CollationRow {
            oid: 20003,
            name: QName::new("s", "l"),
            owner: "o".into(),
            provider: 'c',
            collate: Some("C".into()),
            ctype: Some("C.UTF-8".into()),
            locale: None,
            icu_rules: None,
            deterministic: true,
            comment: None,
        };
        assert_eq!(
            collation_object(&libc).unwrap().create,
            vec![
                "CREATE COLLATION \"s\".\"l\" (provider = libc, lc_collate = 'C', lc_ctype = 'C.UTF-8')"
            ]
        );
        libc.provider = 'd';
        assert!(collation_object(&libc).is_none());
    }

    #[test]
    fn text_search_configuration_mappings() {
        let r = TsConfigRow {
            oid: 1,
            name: QName::new("s", "cfg"),
            owner: "o".into(),
            parser: Some(QName::new("pg_catalog", "default")),
            mappings: vec![(
                "asciiword".into(),
                vec![QName::new("s", "d1"), QName::new("pg_catalog", "simple")],
            )],
            comment: None,
        };
        let o = ts_config_object(&r);
        assert_eq!(
            o.create,
            vec![
                "CREATE TEXT SEARCH CONFIGURATION \"s\".\"cfg\" (PARSER = \"pg_catalog\".\"default\")",
                "ALTER TEXT SEARCH CONFIGURATION \"s\".\"cfg\" ADD MAPPING FOR \"asciiword\" \
                 WITH \"s\".\"d1\", \"pg_catalog\".\"simple\""
            ]
        );
    }

    #[test]
    fn foreign_objects() {
        let w = fdw_object(&FdwRow {
            oid: 1,
            name: "w".into(),
            handler: None,
            validator: None,
            options: vec!["debug=true".into()],
            acl: acl("o", None, &[]),
            comment: None,
        });
        assert_eq!(
            w.create,
            vec!["CREATE FOREIGN DATA WRAPPER \"w\" OPTIONS (\"debug\" 'true')"]
        );
        assert_eq!(w.privilege, Privilege::MaySkip);
        let s = server_object(&ServerRow {
            oid: 2,
            name: "srv".into(),
            fdw: "w".into(),
            fdw_oid: 1,
            server_type: Some("t".into()),
            version: Some("1.0".into()),
            options: vec![],
            acl: acl("o", Some(&["o=U/o", "bob=U/o"]), &["o=U/o"]),
            comment: None,
        });
        assert_eq!(
            s.create,
            vec!["CREATE SERVER \"srv\" TYPE 't' VERSION '1.0' FOREIGN DATA WRAPPER \"w\""]
        );
        assert!(
            s.acl
                .contains(&"GRANT USAGE ON FOREIGN SERVER \"srv\" TO \"bob\"".to_string())
        );
        let m = UserMappingRow {
            oid: 3,
            server: "srv".into(),
            server_oid: 2,
            user: None,
            options: vec!["password=s3cret".into()],
            options_visible: true,
        };
        assert!(!format!("{m:?}").contains("s3cret"));
        let um = user_mapping_object(&m);
        assert_eq!(
            um.create,
            vec!["CREATE USER MAPPING FOR PUBLIC SERVER \"srv\" OPTIONS (\"password\" 's3cret')"]
        );
        assert!(!um.name.contains("s3cret"));
    }

    #[test]
    fn access_methods_name_their_type_and_handler() {
        let o = access_method_object(&AccessMethodRow {
            oid: 16500,
            name: "heap \"two\"".into(),
            kind: 't',
            handler: Some(QName::new("pg_catalog", "heap_tableam_handler")),
            comment: Some("it's heap".into()),
        });
        assert_eq!(
            o.create,
            vec![
                "CREATE ACCESS METHOD \"heap \"\"two\"\"\" TYPE TABLE \
                 HANDLER \"pg_catalog\".\"heap_tableam_handler\""
            ]
        );
        assert_eq!(
            o.comments,
            vec!["COMMENT ON ACCESS METHOD \"heap \"\"two\"\"\" IS 'it''s heap'"]
        );
        assert_eq!(o.owner, None);
        assert_eq!(o.privilege, Privilege::MaySkip);
        assert_eq!(o.section, Section::PreData);
    }

    #[test]
    fn event_triggers_keep_tags_and_state() {
        let o = event_trigger_object(&EventTriggerRow {
            oid: 1,
            name: "et".into(),
            owner: "o".into(),
            event: "ddl_command_end".into(),
            function: Some(QName::new("s", "f")),
            tags: Some(vec!["CREATE TABLE".into(), "ALTER TABLE".into()]),
            enabled: 'R',
            comment: Some("c".into()),
        });
        assert_eq!(
            o.create,
            vec![
                "CREATE EVENT TRIGGER \"et\" ON \"ddl_command_end\" WHEN TAG IN ('CREATE TABLE', \
                 'ALTER TABLE') EXECUTE FUNCTION \"s\".\"f\"()",
                "ALTER EVENT TRIGGER \"et\" ENABLE REPLICA"
            ]
        );
        assert_eq!(o.section, Section::PostData);
        assert_eq!(o.privilege, Privilege::MaySkip);
    }

    #[test]
    fn default_privileges() {
        let global = default_acl_object(&DefaultAclRow {
            oid: 1,
            role: "o".into(),
            schema: None,
            schema_oid: 0,
            objtype: 'f',
            acl: vec!["o=X/o".into()],
            base: vec!["=X/o".into(), "o=X/o".into()],
        });
        assert_eq!(
            global.acl,
            vec![
                "ALTER DEFAULT PRIVILEGES FOR ROLE \"o\" REVOKE ALL ON FUNCTIONS FROM PUBLIC",
                "ALTER DEFAULT PRIVILEGES FOR ROLE \"o\" REVOKE ALL ON FUNCTIONS FROM \"o\"",
                "ALTER DEFAULT PRIVILEGES FOR ROLE \"o\" GRANT EXECUTE ON FUNCTIONS TO \"o\"",
            ]
        );
        let per_schema = default_acl_object(&DefaultAclRow {
            oid: 2,
            role: "o".into(),
            schema: Some("s".into()),
            schema_oid: 77,
            objtype: 'r',
            acl: vec!["bob=r/o".into()],
            base: vec![],
        });
        assert_eq!(
            per_schema.acl,
            vec![
                "ALTER DEFAULT PRIVILEGES FOR ROLE \"o\" IN SCHEMA \"s\" GRANT SELECT ON TABLES TO \"bob\""
            ]
        );
        assert!(per_schema.create.is_empty());
    }

    #[test]
    fn large_objects_keep_their_oid() {
        let o = large_object_object(&LargeObjectRow {
            oid: 3_000_000_000,
            acl: acl("o", Some(&["o=rw/o", "bob=r/o"]), &["o=rw/o"]),
            comment: Some("blob".into()),
        });
        assert_eq!(o.create, vec!["SELECT pg_catalog.lo_create('3000000000')"]);
        assert_eq!(
            o.owner.unwrap().sql,
            "ALTER LARGE OBJECT 3000000000 OWNER TO \"o\""
        );
        assert!(
            o.acl
                .contains(&"GRANT SELECT ON LARGE OBJECT 3000000000 TO \"bob\"".to_string())
        );
        assert_eq!(
            o.comments,
            vec!["COMMENT ON LARGE OBJECT 3000000000 IS 'blob'"]
        );
    }
}
