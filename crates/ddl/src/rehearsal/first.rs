//! Extensions first: the rehearsal creates the source's extensions (and the schemas they are
//! created in) while the rest of the source's schema is still being read.
//!
//! Why: an extension is most of a small schema's rehearsal (`CREATE EXTENSION postgis` runs
//! thousands of statements, about a third of a second here, as long as reading a schema of a
//! thousand objects), and it needs nothing the rest of the schema has: only its schema and the
//! extensions it requires. Read first (a few rows, one round trip before the schema reader's
//! snapshot on the same session), they are created in the rehearsal's transaction as soon as it
//! is open, with the same builders and executor as the rest; [`holds`] then checks them against
//! the schema read in its own snapshot, and the
//! rehearsal leaves them out of its pre-data. When they differ (the source's extensions changed
//! between the two reads), the rehearsal's transaction is begun again and everything is
//! rehearsed in order, as without this.

use std::collections::{HashMap, HashSet};

use crate::db_objects::{extension_object, schema_object};
use crate::model::{ObjId, ObjectKind, SchemaObject};
use crate::schema::Schema;
use db_migrate_catalog::objects;
use db_migrate_conn::Session;
use db_migrate_core::error::Result;

/// The source's extensions, in the order they were created (a required extension is created
/// before the one that requires it), after the schemas they are created in.
pub async fn read(source: &Session) -> Result<Vec<SchemaObject>> {
    let mut extensions = objects::list_extensions(source).await?;
    if extensions.is_empty() {
        return Ok(Vec::new());
    }
    extensions.sort_by_key(|e| e.oid);
    let homes: HashSet<&str> = extensions.iter().map(|e| e.schema.as_str()).collect();
    let mut first: Vec<SchemaObject> = objects::list_schemas(source)
        .await?
        .iter()
        .filter(|s| homes.contains(s.name.as_str()))
        .map(schema_object)
        .collect();
    first.extend(extensions.iter().map(extension_object));
    Ok(first)
}

/// Whether `first`, created in this order, stands for what `schema` would create of them: each
/// is in `schema` as it was read first (its statements equal), everything it needs there is
/// among `first` and before it, and `schema` has no other extension.
pub fn holds(first: &[SchemaObject], schema: &Schema) -> bool {
    let position: HashMap<ObjId, usize> =
        first.iter().enumerate().map(|(i, o)| (o.id, i)).collect();
    let mut found = vec![false; first.len()];
    let mut needed_elsewhere: HashSet<ObjId> = HashSet::new();
    for o in &schema.objects {
        let Some(&i) = position.get(&o.id) else {
            if o.kind == ObjectKind::Extension {
                return false;
            }
            continue;
        };
        let mut as_read = o.clone();
        as_read.depends_on = first[i].depends_on.clone();
        if as_read != first[i] {
            return false;
        }
        for d in &o.depends_on {
            match position.get(d) {
                Some(&j) if j < i => {}
                Some(_) => return false,
                None => {
                    needed_elsewhere.insert(*d);
                }
            }
        }
        found[i] = true;
    }
    // What they need that is not among them must not be the schema's to create either (an
    // extension's schema `pg_catalog` is not).
    found.iter().all(|f| *f)
        && (needed_elsewhere.is_empty()
            || !schema
                .objects
                .iter()
                .any(|o| needed_elsewhere.contains(&o.id)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Section, class};

    fn ext(oid: u32, deps: &[ObjId]) -> SchemaObject {
        let mut o = SchemaObject::new(
            ObjId::new(class::PG_EXTENSION, oid),
            ObjectKind::Extension,
            Section::PreData,
            None,
            format!("e{oid}"),
        );
        o.create.push(format!("CREATE EXTENSION e{oid}"));
        o.depends_on = deps.to_vec();
        o
    }

    fn schema_of(objects: Vec<SchemaObject>) -> Schema {
        Schema {
            objects,
            ..Default::default()
        }
    }

    #[test]
    fn extensions_read_first_hold_when_the_schema_has_them_alike_and_in_order() {
        let ns = SchemaObject::new(
            ObjId::new(class::PG_NAMESPACE, 1),
            ObjectKind::Schema,
            Section::PreData,
            None,
            "extensions",
        );
        let a = ext(10, &[]);
        let b = ext(11, &[ns.id, a.id]);
        let table = SchemaObject::new(
            ObjId::new(class::PG_CLASS, 20),
            ObjectKind::Table,
            Section::PreData,
            Some("app"),
            "t",
        );
        let first = vec![ns.clone(), ext(10, &[]), ext(11, &[])];
        let read = schema_of(vec![ns.clone(), a.clone(), b.clone(), table.clone()]);
        assert!(holds(&first, &read));

        // Required after the one that requires it.
        let swapped = vec![ns.clone(), ext(11, &[]), ext(10, &[])];
        assert!(!holds(&swapped, &read));
        // An extension created between the two reads, or one changed.
        let more = schema_of(vec![ns.clone(), a.clone(), b.clone(), ext(12, &[])]);
        assert!(!holds(&first, &more));
        let mut changed = b.clone();
        changed.create[0].push_str(" VERSION '2'");
        assert!(!holds(
            &first,
            &schema_of(vec![ns.clone(), a.clone(), changed])
        ));
        // One dropped since.
        assert!(!holds(&first, &schema_of(vec![ns.clone(), a.clone()])));
        // One needing an object of the schema that is not created first.
        let needy = ext(11, &[table.id]);
        assert!(!holds(&first, &schema_of(vec![ns, a, needy, table])));
    }
}
