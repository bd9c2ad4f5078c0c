//! Foreign data wrappers, foreign servers and user mappings (whose options may hold passwords:
//! copied into the statement, never into a warning or log line).
//!
//! Its own file as one object family of [`super`], which collects them all; helpers shared by
//! the families come through `use super::*`.

use super::*;

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
    o.set_acl(acl_sql(
        &format!("FOREIGN DATA WRAPPER {q}"),
        &r.acl.owner,
        r.acl.acl.as_deref(),
        &r.acl.default,
        None,
    ));
    o.extend_comments(comment_sql(
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
    o.set_acl(acl_sql(
        &format!("FOREIGN SERVER {q}"),
        &r.acl.owner,
        r.acl.acl.as_deref(),
        &r.acl.default,
        None,
    ));
    o.extend_comments(comment_sql("SERVER", &q, r.comment.as_deref()));
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
