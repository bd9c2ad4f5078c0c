//! The selection applied to a database's schema (the object graph read from the source).

use std::collections::{HashMap, HashSet};

use super::DbSelection;
use crate::remedy::Setting;
use crate::schema::Schema;
use crate::schema::model::{ObjId, ObjectKind, SchemaObject, class};
use crate::warning::Warning;

/// Kinds that are part of the table they belong to: they go with it silently.
fn part_of_its_table(kind: ObjectKind) -> bool {
    matches!(
        kind,
        ObjectKind::Index
            | ObjectKind::IndexAttach
            | ObjectKind::Constraint
            | ObjectKind::TablePart
            | ObjectKind::TableAttach
            | ObjectKind::SequenceOwnedBy
            | ObjectKind::Sequence
            | ObjectKind::MaterializedViewRefresh
    )
}

/// Why an object is left out by the selection itself (not through a dependency), or `None`.
fn left_out_because(
    o: &SchemaObject,
    sel: &DbSelection,
    excluded_extensions: &[String],
    extension_schemas: &HashSet<&str>,
) -> Option<String> {
    match o.kind {
        ObjectKind::Extension if excluded_extensions.iter().any(|x| x == &o.name) => {
            return Some(format!(
                "extension {} is excluded (-xe)",
                crate::sql::quote_ident(&o.name)
            ));
        }
        ObjectKind::Language if excluded_extensions.iter().any(|x| x == &o.name) => {
            return Some(format!(
                "language {} is excluded (-xe)",
                crate::sql::quote_ident(&o.name)
            ));
        }
        // A schema holding an extension that moves is kept (the extension is created in it),
        // even when the schema filters leave its other objects out.
        ObjectKind::Schema
            if !sel.includes_schema(&o.name) && !extension_schemas.contains(o.name.as_str()) =>
        {
            return Some(format!(
                "schema {} is not selected",
                crate::sql::quote_ident(&o.name)
            ));
        }
        _ => {}
    }
    let schema = o.schema.as_deref()?;
    if !sel.includes_schema(schema) {
        return Some(format!(
            "schema {} is not selected",
            crate::sql::quote_ident(schema)
        ));
    }
    if matches!(
        o.kind,
        ObjectKind::Table
            | ObjectKind::ForeignTable
            | ObjectKind::Sequence
            | ObjectKind::View
            | ObjectKind::MaterializedView
    ) && !sel.includes_table(schema, &o.name)
    {
        return Some(format!("{} is not selected", o.describe()));
    }
    // `--exclude-table-data` on a materialized view: created, not refreshed (pg_dump's rule).
    if o.kind == ObjectKind::MaterializedViewRefresh
        && sel.no_data.contains(&(schema.to_string(), o.name.clone()))
    {
        return Some(format!(
            "the rows of materialized view {}.{} ({})",
            crate::sql::quote_ident(schema),
            crate::sql::quote_ident(&o.name),
            Setting::ExcludeTableData
        ));
    }
    None
}

/// Removes from `schema` what the selection leaves out, and everything depending on it.
///
/// Returns one warning per object skipped because it depends on something left out (a view
/// on an excluded table, a foreign key pointing at one, a trigger on one, anything using an
/// extension excluded with `-xe`), naming both. Objects left out by the filters themselves,
/// and a table's own indexes, constraints, sequences and partition wiring, go without a
/// warning. The creation order and levels of what remains stay valid (removing objects cannot
/// break a dependency order).
pub fn filter_schema(
    schema: &mut Schema,
    sel: &DbSelection,
    excluded_extensions: &[String],
) -> Vec<Warning> {
    if sel.everything && excluded_extensions.is_empty() {
        return Vec::new();
    }
    let extension_schemas = extension_schemas(schema, excluded_extensions);
    let (mut out, mut warnings) = left_out(schema, sel, excluded_extensions, &extension_schemas);
    warnings.extend(pulled_in(schema, sel));
    warnings.extend(dependents_out(schema, &mut out));
    if out.is_empty() {
        return warnings;
    }
    let (objects, levels): (Vec<_>, Vec<_>) = std::mem::take(&mut schema.objects)
        .into_iter()
        .zip(std::mem::take(&mut schema.levels))
        .filter(|(o, _)| !out.contains_key(&o.id))
        .unzip();
    schema.objects = objects;
    schema.levels = levels;
    warnings
}

/// The schemas the extensions that stay are created in (their `CREATE EXTENSION ... WITH
/// SCHEMA` needs them).
fn extension_schemas<'a>(schema: &'a Schema, excluded_extensions: &[String]) -> HashSet<&'a str> {
    let ext_schema_sql: Vec<(String, &str)> = schema
        .objects
        .iter()
        .filter(|o| o.kind == ObjectKind::Extension)
        .filter(|o| !excluded_extensions.iter().any(|x| x == &o.name))
        .filter_map(|o| o.create.first().map(|c| (c.clone(), o.name.as_str())))
        .collect();
    schema
        .objects
        .iter()
        .filter(|o| o.kind == ObjectKind::Schema)
        .filter(|s| {
            let q = format!("WITH SCHEMA {}", crate::sql::quote_ident(&s.name));
            ext_schema_sql.iter().any(|(sql, _)| sql.ends_with(&q))
        })
        .map(|s| s.name.as_str())
        .collect()
}

/// The objects the filters leave out, each with what it is and why it is out (by id), and a
/// warning for each relation left out only because no `-t` pattern names it.
fn left_out(
    schema: &Schema,
    sel: &DbSelection,
    excluded_extensions: &[String],
    extension_schemas: &HashSet<&str>,
) -> (HashMap<ObjId, String>, Vec<Warning>) {
    let mut out: HashMap<ObjId, String> = HashMap::new();
    let mut warnings = Vec::new();
    for o in &schema.objects {
        if let Some(why) = left_out_because(o, sel, excluded_extensions, extension_schemas) {
            tracing::debug!("{} left out: {why}", o.describe());
            let key = (o.schema.clone().unwrap_or_default(), o.name.clone());
            let named_relation = matches!(
                o.kind,
                ObjectKind::View
                    | ObjectKind::MaterializedView
                    | ObjectKind::ForeignTable
                    | ObjectKind::Sequence
            ) && o.id.classid == class::PG_CLASS;
            if named_relation && sel.not_named.contains(&key) {
                warnings.push(
                    Warning::selection(format!(
                        "{} not migrated: no {} pattern names it (like pg_dump -t, \
                         only the relations named are migrated; name it to migrate it)",
                        o.describe(),
                        Setting::WithTable
                    ))
                    .on(o.describe()),
                );
            }
            let what = if o.kind == ObjectKind::MaterializedViewRefresh {
                why
            } else {
                o.describe()
            };
            out.insert(o.id, what);
        }
    }
    (out, warnings)
}

/// A warning for each sequence migrated without its owning table, which the filters left out
/// (a default of a table that stays uses it).
fn pulled_in(schema: &Schema, sel: &DbSelection) -> Vec<Warning> {
    let mut warnings = Vec::new();
    for o in &schema.objects {
        let key = (o.schema.clone().unwrap_or_default(), o.name.clone());
        if o.kind == ObjectKind::Sequence
            && let Some((ts, tn)) = sel.pulled_in.get(&key)
        {
            warnings.push(
                Warning::selection(format!(
                    "{} migrated without its owning table (left out by the filters), as pg_dump \
                     does: the default of table {}.{} uses it",
                    o.describe(),
                    crate::sql::quote_ident(ts),
                    crate::sql::quote_ident(tn)
                ))
                .on(o.describe()),
            );
        }
    }
    warnings
}

/// Adds to `out` what depends on an object out, to a fixed point (the creation order puts
/// dependencies first, so one pass usually suffices; objects moved to post-data may not follow
/// it). Returns a warning for each dependent skipped that is not its table's own part, and for
/// each materialized view left unpopulated.
fn dependents_out(schema: &Schema, out: &mut HashMap<ObjId, String>) -> Vec<Warning> {
    let mut warnings = Vec::new();
    let mut changed = true;
    while changed {
        changed = false;
        for o in &schema.objects {
            if out.contains_key(&o.id) {
                continue;
            }
            let Some(dep) = o.depends_on.iter().find(|d| out.contains_key(d)) else {
                continue;
            };
            let dep_desc = out[dep].clone();
            let belongs = part_of_its_table(o.kind)
                && o.table
                    .is_none_or(|t| out.contains_key(&ObjId::new(class::PG_CLASS, t)));
            if o.kind == ObjectKind::MaterializedViewRefresh
                && !out.contains_key(&ObjId::new(class::PG_CLASS, o.id.objid))
            {
                warnings.push(
                    Warning::selection(format!(
                        "{} left unpopulated (WITH NO DATA): its refresh reads {dep_desc}, \
                         which is not migrated",
                        o.describe()
                    ))
                    .on(o.describe()),
                );
            } else if !belongs {
                warnings.push(
                    Warning::selection(format!(
                        "{} skipped: it depends on {dep_desc}, which is not migrated (selection \
                         flags or -xe)",
                        o.describe()
                    ))
                    .on(o.describe()),
                );
            }
            out.insert(o.id, o.describe());
            changed = true;
        }
    }
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::tables::ListedRelation;
    use crate::schema::model::Section;
    use crate::selection::Selection;

    fn obj(
        oid: u32,
        kind: ObjectKind,
        schema: Option<&str>,
        name: &str,
        deps: &[u32],
    ) -> SchemaObject {
        let classid = match kind {
            ObjectKind::Schema => class::PG_NAMESPACE,
            ObjectKind::Extension => class::PG_EXTENSION,
            ObjectKind::Trigger => class::PG_TRIGGER,
            ObjectKind::ForeignKey | ObjectKind::Constraint => class::PG_CONSTRAINT,
            _ => class::PG_CLASS,
        };
        let mut o = SchemaObject::new(
            ObjId::new(classid, oid),
            kind,
            Section::PreData,
            schema,
            name,
        );
        o.depends_on = deps
            .iter()
            .map(|d| ObjId::new(class::PG_CLASS, *d))
            .collect();
        o
    }

    fn rel(schema: &str, name: &str) -> ListedRelation {
        ListedRelation {
            oid: 0,
            schema: schema.into(),
            name: name.into(),
            relkind: 'r',
            ancestors: Vec::new(),
            owned_by: None,
            used_by: Vec::new(),
            extension_member: false,
            regclass: String::new(),
            total_bytes: 0,
        }
    }

    #[test]
    fn dependents_of_excluded_tables_are_skipped_with_a_warning_naming_both() {
        let mut pk = obj(
            4,
            ObjectKind::Constraint,
            Some("public"),
            "secret_pkey",
            &[2],
        );
        pk.table = Some(2);
        let mut fk = obj(
            5,
            ObjectKind::ForeignKey,
            Some("public"),
            "kept_fk",
            &[1, 2],
        );
        fk.table = Some(1);
        let mut schema = Schema {
            objects: vec![
                obj(1, ObjectKind::Table, Some("public"), "kept", &[]),
                obj(2, ObjectKind::Table, Some("public"), "secret", &[]),
                obj(3, ObjectKind::View, Some("public"), "secret_view", &[2]),
                pk,
                fk,
                obj(6, ObjectKind::View, Some("public"), "view_of_view", &[3]),
            ],
            levels: vec![0, 0, 1, 1, 1, 2],
            warnings: Vec::new(),
            ..Default::default()
        };
        let sel = Selection::parse(&[], &["secret".into()], &[], &[], &[]).unwrap();
        let d = sel.resolve(
            "db",
            &["public".into()],
            &[rel("public", "kept"), rel("public", "secret")],
        );
        let typed = filter_schema(&mut schema, &d, &[]);
        assert!(
            typed
                .iter()
                .all(|w| w.kind == crate::WarningKind::Selection)
        );
        assert_eq!(
            typed[0].object.as_deref(),
            Some("view \"public\".\"secret_view\"")
        );
        let w: Vec<String> = typed.iter().map(|w| w.to_string()).collect();
        let names: Vec<&str> = schema.objects.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(names, vec!["kept"]);
        assert_eq!(schema.levels, vec![0]);
        assert_eq!(w.len(), 3, "{w:?}");
        assert!(
            w[0].contains("view \"public\".\"secret_view\"")
                && w[0].contains("table \"public\".\"secret\""),
            "{w:?}"
        );
        assert!(w.iter().any(|w| w.contains("kept_fk")), "{w:?}");
        assert!(
            w.iter()
                .any(|w| w.contains("view_of_view") && w.contains("secret_view")),
            "{w:?}"
        );
        assert!(!w.iter().any(|w| w.contains("secret_pkey")), "{w:?}");
    }

    #[test]
    fn excluded_extensions_are_not_created_and_their_users_are_skipped() {
        let mut ext = obj(1, ObjectKind::Extension, None, "hstore", &[]);
        ext.create =
            vec!["CREATE EXTENSION IF NOT EXISTS \"hstore\" WITH SCHEMA \"public\"".into()];
        let mut t = obj(2, ObjectKind::Table, Some("public"), "uses_hstore", &[]);
        t.depends_on = vec![ObjId::new(class::PG_EXTENSION, 1)];
        let mut schema = Schema {
            objects: vec![
                ext,
                t,
                obj(3, ObjectKind::Table, Some("public"), "plain", &[]),
            ],
            levels: vec![0, 1, 0],
            warnings: Vec::new(),
            ..Default::default()
        };
        let w = filter_schema(
            &mut schema,
            &DbSelection::everything("db"),
            &["hstore".into()],
        );
        let w: Vec<String> = w.iter().map(|w| w.to_string()).collect();
        let names: Vec<&str> = schema.objects.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(names, vec!["plain"]);
        assert_eq!(w.len(), 1);
        assert!(
            w[0].contains("uses_hstore") && w[0].contains("extension \"hstore\""),
            "{w:?}"
        );
    }
}
