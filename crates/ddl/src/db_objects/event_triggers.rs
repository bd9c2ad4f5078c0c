//! Event triggers, with their tags and enabled state.
//!
//! Its own file as one object family of [`super`], which collects them all; helpers shared by
//! the families come through `use super::*`.

use super::*;

/// `CREATE EVENT TRIGGER` plus its enabled state; post-data, so that it does not fire while
/// the schema is being created.
pub fn event_trigger_object(r: &EventTriggerRow) -> SchemaObject {
    let q = quote_ident(&r.name);
    let mut o = SchemaObject::new(
        ObjId::new(class::PG_EVENT_TRIGGER, r.oid),
        ObjectKind::EventTrigger,
        Section::PostData,
        None,
        &r.name,
    );
    let mut sql = format!("CREATE EVENT TRIGGER {q} ON {}", quote_ident(&r.event));
    if let Some(tags) = r.tags.as_ref().filter(|t| !t.is_empty()) {
        let tags: Vec<String> = tags.iter().map(|t| quote_literal(t)).collect();
        sql.push_str(&format!(" WHEN TAG IN ({})", tags.join(", ")));
    }
    let function = r
        .function
        .as_ref()
        .map(|f| f.sql())
        .unwrap_or_else(|| "\"pg_catalog\".\"unknown\"".into());
    sql.push_str(&format!(" EXECUTE FUNCTION {function}()"));
    o.create.push(sql);
    match r.enabled {
        'D' => o.create.push(format!("ALTER EVENT TRIGGER {q} DISABLE")),
        'R' => o
            .create
            .push(format!("ALTER EVENT TRIGGER {q} ENABLE REPLICA")),
        'A' => o
            .create
            .push(format!("ALTER EVENT TRIGGER {q} ENABLE ALWAYS")),
        _ => {}
    }
    o.owner = Some(owner_sql(ObjectKind::EventTrigger, &q, &r.owner));
    o.extend_comments(comment_sql("EVENT TRIGGER", &q, r.comment.as_deref()));
    o.privilege = Privilege::MaySkip;
    o
}
