//! Security labels as schema objects: one `SECURITY LABEL FOR provider ON ... IS '...'` per
//! label, after the object it labels.
//!
//! The statement is the object's "comment" part: a target without the label provider (or one
//! that refuses the label) gives a warning naming the label and the object, never a failed
//! database, since the object itself is there. Labels on large objects and roles are not
//! carried (large objects are created by the data stage, roles by the role stage): each is a
//! warning.

use crate::model::{Collected, ObjId, ObjectKind, SchemaObject, Section, identified_keyword};
use db_migrate_catalog::security_labels::{SecurityLabelRow, list_security_labels};
use db_migrate_conn::Session;
use db_migrate_core::error::Result;
use db_migrate_core::sql::{quote_ident, quote_literal};
use db_migrate_core::warning::Warning;

/// A pseudo catalog for the label objects (`pg_seclabel`'s OID): their ObjIds never collide
/// with a real object's.
const PG_SECLABEL: u32 = 3596;

/// The objects that label the database's objects, and warnings for labels not carried.
pub async fn collect(s: &Session) -> Result<Collected> {
    let rows = list_security_labels(s).await?;
    let (objects, warnings) = label_objects(&rows);
    Ok(Collected {
        objects,
        warnings,
        ..Default::default()
    })
}

/// See [`collect`].
pub fn label_objects(rows: &[SecurityLabelRow]) -> (Vec<SchemaObject>, Vec<Warning>) {
    let mut objects = Vec::new();
    let mut warnings = Vec::new();
    for (n, r) in rows.iter().enumerate() {
        let Some(kw) = identified_keyword(&r.object_type) else {
            warnings.push(
                Warning::schema(format!(
                    "security label for provider {} on {} {} is not migrated: labels on that \
                     kind of object are not carried",
                    quote_ident(&r.provider),
                    r.object_type,
                    r.identity
                ))
                .on(format!("{} {}", r.object_type, r.identity)),
            );
            continue;
        };
        let section = match kw {
            "EVENT TRIGGER" | "PUBLICATION" => Section::PostData,
            _ => Section::PreData,
        };
        let mut o = SchemaObject::new(
            ObjId::new(PG_SECLABEL, n as u32 + 1),
            ObjectKind::SecurityLabel,
            section,
            None,
            format!(
                "for {} on {} {}",
                quote_ident(&r.provider),
                r.object_type,
                r.identity
            ),
        );
        o.push_comment(format!(
            "SECURITY LABEL FOR {} ON {kw} {} IS {}",
            quote_ident(&r.provider),
            r.identity,
            quote_literal(&r.label)
        ));
        if kw != "DATABASE" {
            o.deps.push(ObjId::new(r.classid, r.objid));
        }
        objects.push(o);
    }
    (objects, warnings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::class;

    fn row(object_type: &str, identity: &str, subid: i32) -> SecurityLabelRow {
        SecurityLabelRow {
            classid: class::PG_CLASS,
            objid: 16400,
            objsubid: subid,
            provider: "anon".into(),
            label: "MASKED WITH FUNCTION anon.fake_email()".into(),
            object_type: object_type.into(),
            identity: identity.into(),
        }
    }

    #[test]
    fn each_label_is_one_statement_after_its_object() {
        let (objects, warnings) = label_objects(&[
            row("table column", "public.customer.email", 3),
            row("table", "public.customer", 0),
        ]);
        assert!(warnings.is_empty());
        assert_eq!(
            objects[0].describe(),
            "security label for \"anon\" on table column public.customer.email"
        );
        assert_eq!(
            objects[0].comments(),
            vec![
                "SECURITY LABEL FOR \"anon\" ON COLUMN public.customer.email IS \
                 'MASKED WITH FUNCTION anon.fake_email()'"
            ]
        );
        assert_eq!(objects[0].deps, vec![ObjId::new(class::PG_CLASS, 16400)]);
        assert!(objects[0].create.is_empty());
        assert_eq!(
            objects[1].comments()[0].split(" IS ").next(),
            Some("SECURITY LABEL FOR \"anon\" ON TABLE public.customer")
        );
        assert_ne!(objects[0].id, objects[1].id);
    }

    #[test]
    fn a_large_objects_label_comes_after_its_metadata() {
        let mut r = row("large object", "16401", 0);
        r.classid = class::PG_LARGEOBJECT_METADATA;
        r.objid = 16401;
        let (objects, warnings) = label_objects(&[r]);
        assert!(warnings.is_empty());
        assert_eq!(
            objects[0].comments(),
            vec![
                "SECURITY LABEL FOR \"anon\" ON LARGE OBJECT 16401 IS 'MASKED WITH FUNCTION anon.fake_email()'"
            ]
        );
        assert_eq!(
            objects[0].deps,
            vec![ObjId::new(class::PG_LARGEOBJECT_METADATA, 16401)]
        );
    }

    #[test]
    fn labels_on_kinds_not_carried_are_warnings() {
        let (objects, warnings) = label_objects(&[row("text search parser", "public.p", 0)]);
        assert!(objects.is_empty());
        assert_eq!(warnings.len(), 1);
        assert!(
            warnings[0].message.contains("not migrated"),
            "{}",
            warnings[0]
        );
    }
}
