//! Schemas (with `public`'s special case), extensions and procedural languages.
//!
//! Its own file as one object family of [`super`], which collects them all; helpers shared by
//! the families come through `use super::*`.

use super::*;

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
        o.set_acl(acl_sql(
            &format!("SCHEMA {q}"),
            &r.acl.owner,
            Some(&acl),
            &baseline,
            None,
        ));
        match r.comment.as_deref() {
            Some("standard public schema") => {}
            None => o.push_comment(format!("COMMENT ON SCHEMA {q} IS NULL")),
            Some(c) => o.extend_comments(comment_sql("SCHEMA", &q, Some(c))),
        }
        return o;
    }
    o.create.push(format!("CREATE SCHEMA {q}"));
    o.owner = Some(owner_sql(ObjectKind::Schema, &q, &r.acl.owner));
    o.set_acl(acl_sql(
        &format!("SCHEMA {q}"),
        &r.acl.owner,
        r.acl.acl.as_deref(),
        &r.acl.default,
        None,
    ));
    o.extend_comments(comment_sql("SCHEMA", &q, r.comment.as_deref()));
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
    let spec = crate::model::ExtensionSpec {
        name: r.name.clone(),
        schema: r.schema.clone(),
        version: r.version.clone(),
    };
    o.create.push(crate::extensions::create_extension_sql(
        &spec,
        Some(&r.version),
    ));
    o.set_extension(spec);
    o.extend_comments(comment_sql("EXTENSION", &q, r.comment.as_deref()));
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
    o.set_acl(acl_sql(
        &format!("LANGUAGE {q}"),
        &r.acl.owner,
        r.acl.acl.as_deref(),
        &r.acl.default,
        None,
    ));
    o.extend_comments(comment_sql("LANGUAGE", &q, r.comment.as_deref()));
    o.privilege = Privilege::MaySkip;
    o
}
