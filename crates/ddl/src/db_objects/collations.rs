//! Collations (libc, ICU and builtin providers); one on the database default provider cannot
//! be recreated and is reported instead.
//!
//! Its own file as one object family of [`super`], which collects them all; helpers shared by
//! the families come through `use super::*`.

use super::*;

/// `CREATE COLLATION s.c (provider = ..., ...)`; `None` for the default provider.
pub fn collation_object(r: &CollationRow) -> Option<SchemaObject> {
    let q = r.name.sql();
    let mut opts = Vec::new();
    match r.provider {
        'c' => {
            opts.push("provider = libc".to_string());
            let collate = r.collate.clone().unwrap_or_default();
            let ctype = r.ctype.clone().unwrap_or_default();
            if collate == ctype {
                opts.push(format!("locale = {}", quote_literal(&collate)));
            } else {
                opts.push(format!("lc_collate = {}", quote_literal(&collate)));
                opts.push(format!("lc_ctype = {}", quote_literal(&ctype)));
            }
        }
        'i' => {
            opts.push("provider = icu".to_string());
            opts.push(format!(
                "locale = {}",
                quote_literal(r.locale.as_deref().unwrap_or(""))
            ));
            if let Some(rules) = &r.icu_rules {
                opts.push(format!("rules = {}", quote_literal(rules)));
            }
        }
        'b' => {
            opts.push("provider = builtin".to_string());
            opts.push(format!(
                "locale = {}",
                quote_literal(r.locale.as_deref().unwrap_or(""))
            ));
        }
        _ => return None,
    }
    if !r.deterministic {
        opts.push("deterministic = false".to_string());
    }
    let mut o = object(
        class::PG_COLLATION,
        r.oid,
        ObjectKind::Collation,
        Some(&r.name.schema),
        &r.name.name,
    );
    o.create
        .push(format!("CREATE COLLATION {q} ({})", opts.join(", ")));
    o.owner = Some(owner_sql(ObjectKind::Collation, &q, &r.owner));
    o.extend_comments(comment_sql("COLLATION", &q, r.comment.as_deref()));
    Some(o)
}
