//! Event triggers (database-wide, fired by DDL).
//!
//! Its own file as one object family of [`super`]; callers use the re-exports there.

use crate::class;
use db_migrate_conn::Session;
use db_migrate_core::error::Result;

use super::{QName, char_col, not_ext_member, proc_name, query};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventTriggerRow {
    pub oid: u32,
    pub name: String,
    pub owner: String,
    pub event: String,
    pub function: Option<QName>,
    pub tags: Option<Vec<String>>,
    /// `O` origin (default), `D` disabled, `R` replica, `A` always.
    pub enabled: char,
    pub comment: Option<String>,
}

pub async fn list_event_triggers(s: &Session) -> Result<Vec<EventTriggerRow>> {
    let sql = format!(
        "SELECT e.oid, e.evtname::text AS name, \
                pg_catalog.pg_get_userbyid(e.evtowner)::text AS owner, \
                e.evtevent::text AS event, {f} AS function, e.evttags AS tags, \
                e.evtenabled::text AS enabled, \
                pg_catalog.obj_description(e.oid, 'pg_event_trigger') AS comment \
           FROM pg_catalog.pg_event_trigger e \
          WHERE {member} ORDER BY e.evtname",
        f = proc_name("e.evtfoid"),
        member = not_ext_member(class::PG_EVENT_TRIGGER, "e.oid"),
    );
    Ok(query(s, "reading event triggers", &sql)
        .await?
        .iter()
        .map(|r| EventTriggerRow {
            oid: r.get("oid"),
            name: r.get("name"),
            owner: r.get("owner"),
            event: r.get("event"),
            function: QName::from_parts(r.get("function")),
            tags: r.get("tags"),
            enabled: char_col(r, "enabled"),
            comment: r.get("comment"),
        })
        .collect())
}
