//! Access methods (`CREATE ACCESS METHOD ... TYPE ... HANDLER`).
//!
//! Its own file as one object family of [`super`], which collects them all; helpers shared by
//! the families come through `use super::*`.

use super::*;

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
    o.extend_comments(comment_sql("ACCESS METHOD", &q, r.comment.as_deref()));
    o.privilege = Privilege::MaySkip;
    o
}
