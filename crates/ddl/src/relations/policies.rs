//! Row-level security policies.
//!
//! Its own file as one part of [`super`]'s builders; it shares their lookups ([`super::Ctx`])
//! and helpers through `use super::*`.

use super::*;

/// `CREATE POLICY ...`.
pub fn create_policy(qtable: &str, p: &Policy) -> String {
    let cmd = match p.command {
        'r' => "SELECT",
        'a' => "INSERT",
        'w' => "UPDATE",
        'd' => "DELETE",
        _ => "ALL",
    };
    let roles: Vec<String> = if p.roles.is_empty() {
        vec!["PUBLIC".to_string()]
    } else {
        p.roles
            .iter()
            .map(|r| match r {
                Some(r) => quote_ident(r),
                None => "PUBLIC".to_string(),
            })
            .collect()
    };
    let mut sql = format!(
        "CREATE POLICY {} ON {qtable} AS {} FOR {cmd} TO {}",
        quote_ident(&p.name),
        if p.permissive {
            "PERMISSIVE"
        } else {
            "RESTRICTIVE"
        },
        roles.join(", ")
    );
    if let Some(u) = &p.using {
        sql.push_str(&format!(" USING ({u})"));
    }
    if let Some(c) = &p.with_check {
        sql.push_str(&format!(" WITH CHECK ({c})"));
    }
    sql
}

pub(super) fn build_policies(ctx: &Ctx, out: &mut Collected) {
    for p in &ctx.cat.policies {
        let Some(rel) = ctx.rels.get(&p.relid) else {
            continue;
        };
        let mut o = SchemaObject::new(
            ObjId::new(class::PG_POLICY, p.oid),
            ObjectKind::Policy,
            Section::PostData,
            Some(&rel.schema),
            tag(rel, &p.name),
        );
        o.create.push(create_policy(&qname(rel), p));
        o.extend_comments(comment_sql(
            &format!("POLICY {} ON", quote_ident(&p.name)),
            &qname(rel),
            p.comment.as_deref(),
        ));
        o.table = data_table(rel);
        out.objects.push(o);
    }
}
