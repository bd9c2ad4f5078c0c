//! Default privileges (a delta from the built-in defaults, or from nothing for one schema) and
//! large objects (their owner and privileges; the data is the data engine's job).
//!
//! Its own file as one object family of [`super`], which collects them all; helpers shared by
//! the families come through `use super::*`.

use super::*;

/// The `ON <kind>` of `ALTER DEFAULT PRIVILEGES` for a `defaclobjtype`.
pub(super) fn default_acl_kind(objtype: char) -> &'static str {
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
    o.set_acl(
        acl_sql(kind, &r.role, Some(&r.acl), &r.base, None)
            .into_iter()
            .map(|stmt| format!("{prefix}{stmt}"))
            .collect(),
    );
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
    o.set_acl(acl_sql(
        &format!("LARGE OBJECT {id}"),
        &r.acl.owner,
        r.acl.acl.as_deref(),
        &r.acl.default,
        None,
    ));
    o.extend_comments(comment_sql("LARGE OBJECT", &id, r.comment.as_deref()));
    o
}
