//! The one exception to our empty search_path: DDL during which the server parses the body of
//! a `LANGUAGE sql` function (it inlines it into a generated column, an index expression, a
//! CHECK constraint, a materialized view's query) runs with the search_path that the source
//! gives the object's owner, and nothing else (see
//! [`db_migrate_catalog::search_paths`]). The body was written for that search_path; with ours
//! an unqualified call fails (`function st_makeenvelope(...) does not exist`, 42883), as it
//! does under `pg_restore`. Each such object is named in a warning: the only statements whose
//! names the source's settings may resolve. Where the source sets no search_path for the owner,
//! none is set here either.
//!
//! An extension's own SQL functions (earthdistance's `ll_to_earth`, used in a gist index)
//! name the extension's types unqualified and assume its schema on the path: objects of those
//! kinds that use an extension run with the extension's schema on it (after the owner's, if
//! any), silently: the extension's script decides those names, not the source's settings.

use std::collections::{BTreeSet, HashMap};

use db_migrate_catalog::search_paths::SearchPathFacts;
use db_migrate_core::sql::quote_ident;
use db_migrate_core::warning::Warning;

use crate::model::{ObjId, ObjectKind, class};
use crate::schema::Schema;

/// Kinds whose creation (or, for a table, whose rows' COPY) plans an expression that may call
/// a SQL function: generated columns and CHECK constraints of tables, index expressions and
/// predicates, materialized views' queries (planned by their refresh, which depends on what
/// the view does).
fn plans_expressions(kind: ObjectKind) -> bool {
    matches!(
        kind,
        ObjectKind::Table
            | ObjectKind::TablePart
            | ObjectKind::Index
            | ObjectKind::Constraint
            | ObjectKind::MaterializedViewRefresh
    )
}

/// Sets [`crate::model::SchemaObject::search_path`] where it is needed (see the module docs);
/// the warnings naming each object set from an owner's search_path go to `schema.warnings`.
pub fn assign(schema: &mut Schema, facts: &SearchPathFacts) {
    let owner_of: HashMap<u32, String> = schema
        .objects
        .iter()
        .filter(|o| o.id.classid == class::PG_CLASS)
        .filter_map(|o| Some((o.id.objid, o.owner.as_ref()?.role.clone())))
        .collect();
    let view_deps: HashMap<u32, Vec<ObjId>> = schema
        .objects
        .iter()
        .filter(|o| o.kind == ObjectKind::MaterializedView && o.id.classid == class::PG_CLASS)
        .map(|o| (o.id.objid, o.depends_on.clone()))
        .collect();
    let mut warnings = Vec::new();
    for o in schema
        .objects
        .iter_mut()
        .filter(|o| plans_expressions(o.kind))
    {
        let deps: Vec<ObjId> = match o.kind {
            ObjectKind::MaterializedViewRefresh => {
                view_deps.get(&o.id.objid).cloned().unwrap_or_default()
            }
            _ => o.depends_on.clone(),
        };
        let functions: BTreeSet<u32> = deps
            .iter()
            .filter(|d| d.classid == class::PG_PROC && facts.sql_functions.contains(&d.objid))
            .map(|d| d.objid)
            .collect();
        let extension_schemas: BTreeSet<&String> = deps
            .iter()
            .filter(|d| d.classid == class::PG_EXTENSION)
            .filter_map(|d| facts.extension_schemas.get(&d.objid))
            .collect();
        if functions.is_empty() && extension_schemas.is_empty() {
            continue;
        }
        let owner = o
            .owner
            .as_ref()
            .map(|w| w.role.clone())
            .or_else(|| o.table.and_then(|t| owner_of.get(&t).cloned()))
            .or_else(|| owner_of.get(&o.id.objid).cloned());
        let mut path: Vec<String> = Vec::new();
        if !functions.is_empty()
            && let Some(role) = &owner
            && let Some((p, set_at)) = facts.of(role)
        {
            path.push(p.to_string());
            let statement = o.create.first().map(String::as_str).unwrap_or_default();
            let statement: String = statement
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .chars()
                .take(200)
                .collect();
            warnings.push(
                Warning::schema(format!(
                    "{} is created with search_path {p}, which the source gives its owner {} \
                     ({set_at}): it calls a SQL function whose body the server parses with the \
                     session's search_path; statement: {statement}",
                    o.describe(),
                    quote_ident(role)
                ))
                .on(o.describe()),
            );
        }
        path.extend(extension_schemas.iter().map(|s| quote_ident(s)));
        if !path.is_empty() {
            o.set_search_path(Some(path.join(", ")));
        }
    }
    schema.warnings.extend(warnings);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Owner, SchemaObject, Section};

    fn table(oid: u32, owner: &str, deps: Vec<ObjId>) -> SchemaObject {
        let mut o = SchemaObject::new(
            ObjId::new(class::PG_CLASS, oid),
            ObjectKind::Table,
            Section::PreData,
            Some("app"),
            format!("t{oid}"),
        );
        o.create.push(format!("CREATE TABLE app.t{oid} ()"));
        o.owner = Some(Box::new(Owner {
            role: owner.into(),
            sql: String::new(),
        }));
        o.depends_on = deps;
        o
    }

    fn facts() -> SearchPathFacts {
        let mut f = SearchPathFacts {
            database: Some("db_schema, public".into()),
            ..Default::default()
        };
        f.roles.insert(
            "app_admin".into(),
            (
                "app, public".into(),
                db_migrate_catalog::search_paths::SetAt::Role,
            ),
        );
        f.sql_functions.insert(10);
        f.extension_schemas.insert(20, "ext space".into());
        f
    }

    #[test]
    fn objects_calling_sql_functions_get_their_owners_search_path_and_a_warning() {
        let f = ObjId::new(class::PG_PROC, 10);
        let mut index = SchemaObject::new(
            ObjId::new(class::PG_CLASS, 3),
            ObjectKind::Index,
            Section::PostData,
            Some("app"),
            "i",
        );
        index.table = Some(1);
        index.depends_on = vec![f, ObjId::new(class::PG_EXTENSION, 20)];
        let mut schema = Schema {
            objects: vec![
                table(1, "app_admin", vec![f]),
                table(2, "other", vec![f]),
                table(4, "app_admin", vec![ObjId::new(class::PG_PROC, 11)]),
                index,
            ],
            ..Default::default()
        };
        assign(&mut schema, &facts());
        let paths: Vec<Option<&str>> = schema.objects.iter().map(|o| o.search_path()).collect();
        assert_eq!(
            paths,
            [
                Some("app, public"),
                // No role setting: the database's.
                Some("db_schema, public"),
                // A function that is not SQL (or sets its own search_path): nothing.
                None,
                // The table owner's, then the extension's schema.
                Some("app, public, \"ext space\""),
            ]
        );
        assert_eq!(schema.warnings.len(), 3);
        assert!(
            schema.warnings[0].to_string().contains(
                "table \"app\".\"t1\" is created with search_path app, public, which the \
                 source gives its owner \"app_admin\" (ALTER ROLE ... SET)"
            ),
            "{}",
            schema.warnings[0]
        );
    }

    #[test]
    fn without_a_source_setting_only_an_extensions_schema_is_set_silently() {
        let mut schema = Schema {
            objects: vec![
                table(1, "nobody", vec![ObjId::new(class::PG_PROC, 10)]),
                table(2, "nobody", vec![ObjId::new(class::PG_EXTENSION, 20)]),
            ],
            ..Default::default()
        };
        let mut f = facts();
        f.database = None;
        assign(&mut schema, &f);
        assert_eq!(schema.objects[0].search_path(), None);
        assert_eq!(schema.objects[1].search_path(), Some("\"ext space\""));
        assert!(schema.warnings.is_empty());
    }
}
