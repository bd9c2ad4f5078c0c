//! The objects of one database that are not types, routines or relations (server-wide objects,
//! the real globals, are [`crate::roles`] and [`crate::databases`]): schemas, extensions,
//! procedural languages, collations, text search parsers / templates / dictionaries /
//! configurations, foreign data wrappers, foreign servers, user mappings, event triggers,
//! default privileges and large objects (their owner and privileges; the data is the data
//! engine's job).
//!
//! Rows come from [`db_migrate_catalog::objects`]; this module only turns them into statements.
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
//!
//! This file holds [`collect`] and the helpers the families share; each family has its own
//! file (`schemas`, `collations`, `text_search`, `foreign`, `access_methods`, `event_triggers`,
//! `default_acls`), re-exported here.

use crate::model::{
    Alias, Collected, DEFAULT_PRIVILEGES_FOR_ROLE, ObjId, ObjectKind, Privilege, SchemaObject,
    Section, acl_sql, class, comment_sql, owner_sql,
};
use db_migrate_catalog::objects::{
    self, AccessMethodRow, CollationRow, DefaultAclRow, EventTriggerRow, ExtensionRow, FdwRow,
    LanguageRow, LargeObjectRow, SchemaRow, ServerRow, TsConfigRow, TsDictRow, TsParserRow,
    TsTemplateRow, UserMappingRow,
};
use db_migrate_conn::Session;
use db_migrate_core::error::Result;
use db_migrate_core::sql::{quote_ident, quote_literal};
use db_migrate_core::warning::Warning;

mod access_methods;
mod collations;
mod default_acls;
mod event_triggers;
mod foreign;
mod schemas;
mod text_search;

pub use access_methods::*;
pub use collations::*;
pub use default_acls::*;
pub use event_triggers::*;
pub use foreign::*;
pub use schemas::*;
pub use text_search::*;

/// Every object of these families in the session's database.
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
            None => c.warnings.push(
                Warning::schema(format!(
                    "collation {} uses the database default provider and cannot be recreated",
                    r.name.sql()
                ))
                .on(format!("collation {}", r.name.sql())),
            ),
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
        let o = user_mapping_object(&r);
        if !r.options_visible {
            c.warnings.push(
                Warning::privilege(format!(
                    "the options of the user mapping for {} on server {} are not readable by \
                     the connected user (only a superuser, the server owner or the mapped user \
                     may read them): it is created without options",
                    r.user
                        .as_deref()
                        .map(quote_ident)
                        .unwrap_or_else(|| "PUBLIC".into()),
                    quote_ident(&r.server)
                ))
                .on(o.describe()),
            );
        }
        c.objects.push(o);
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

#[cfg(test)]
mod tests;
