//! Transforms and conversions as schema objects (pre-data, after the functions they name).
//!
//! A transform for a built-in type, and a conversion whose function is written in C, need a
//! superuser in practice: where the target refuses them they are skipped with a warning
//! ([`Privilege::MaySkip`]).

use crate::model::{
    Collected, ObjId, ObjectKind, Privilege, SchemaObject, Section, class, comment_sql, owner_sql,
};
use db_migrate_catalog::transforms::{
    ConversionRow, TransformRow, list_conversions, list_transforms,
};
use db_migrate_conn::Session;
use db_migrate_core::error::Result;
use db_migrate_core::sql::{qualified, quote_ident, quote_literal};

pub async fn collect(s: &Session) -> Result<Collected> {
    let mut c = Collected::default();
    for t in list_transforms(s).await? {
        c.objects.push(transform_object(&t));
    }
    for conv in list_conversions(s).await? {
        c.objects.push(conversion_object(&conv));
    }
    Ok(c)
}

pub fn transform_object(t: &TransformRow) -> SchemaObject {
    let target = format!("FOR {} LANGUAGE {}", t.type_name, quote_ident(&t.language));
    let mut o = SchemaObject::new(
        ObjId::new(class::PG_TRANSFORM, t.oid),
        ObjectKind::Transform,
        Section::PreData,
        None,
        &target,
    );
    let mut parts = Vec::new();
    if let Some((_, f)) = &t.from_sql {
        parts.push(format!("FROM SQL WITH FUNCTION {f}"));
    }
    if let Some((_, f)) = &t.to_sql {
        parts.push(format!("TO SQL WITH FUNCTION {f}"));
    }
    o.create
        .push(format!("CREATE TRANSFORM {target} ({})", parts.join(", ")));
    for (oid, _) in t.from_sql.iter().chain(&t.to_sql) {
        o.deps.push(ObjId::new(class::PG_PROC, *oid));
    }
    o.extend_comments(comment_sql("TRANSFORM", &target, t.comment.as_deref()));
    if t.builtin_type {
        o.privilege = Privilege::MaySkip;
    }
    o
}

pub fn conversion_object(c: &ConversionRow) -> SchemaObject {
    let q = qualified(&c.schema, &c.name);
    let mut o = SchemaObject::new(
        ObjId::new(class::PG_CONVERSION, c.oid),
        ObjectKind::Conversion,
        Section::PreData,
        Some(&c.schema),
        &c.name,
    );
    o.create.push(format!(
        "CREATE {}CONVERSION {q} FOR {} TO {} FROM {}",
        if c.is_default { "DEFAULT " } else { "" },
        quote_literal(&c.source_encoding),
        quote_literal(&c.target_encoding),
        c.function.1
    ));
    o.deps.push(ObjId::new(class::PG_PROC, c.function.0));
    o.owner = Some(owner_sql(ObjectKind::Conversion, &q, &c.owner));
    o.extend_comments(comment_sql("CONVERSION", &q, c.comment.as_deref()));
    o.privilege = Privilege::MaySkip;
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transforms_and_conversions_name_their_functions() {
        let t = TransformRow {
            oid: 1,
            type_name: "integer".into(),
            builtin_type: true,
            language: "sql".into(),
            from_sql: Some((2, "pg_catalog.prsd_lextype(internal)".into())),
            to_sql: Some((3, "pg_catalog.int4recv(internal)".into())),
            comment: None,
        };
        assert_eq!(
            transform_object(&t).create,
            vec![
                "CREATE TRANSFORM FOR integer LANGUAGE \"sql\" (FROM SQL WITH FUNCTION \
                 pg_catalog.prsd_lextype(internal), TO SQL WITH FUNCTION pg_catalog.int4recv(internal))"
            ]
        );
        let c = ConversionRow {
            oid: 4,
            schema: "s".into(),
            name: "my conv".into(),
            owner: "o".into(),
            source_encoding: "LATIN1".into(),
            target_encoding: "UTF8".into(),
            function: (5, "pg_catalog.iso8859_1_to_utf8".into()),
            is_default: false,
            comment: None,
        };
        assert_eq!(
            conversion_object(&c).create,
            vec![
                "CREATE CONVERSION \"s\".\"my conv\" FOR 'LATIN1' TO 'UTF8' FROM \
                 pg_catalog.iso8859_1_to_utf8"
            ]
        );
    }
}
