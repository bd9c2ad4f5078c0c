//! Whether the subscription may copy the initial data itself (`copy_data = true`), the path
//! taken when the source refuses replication connections (a pooler, pg_hba without
//! `replication` lines).
//!
//! That copy moves the rows of published tables and nothing else, at a moment this run does
//! not control (the subscription's table sync workers run after setup returns). Three things
//! cannot be made right on that path, so it is refused, with the reason, when the source
//! database has any of them; the orchestrator then uses the dump method (or, with replication
//! forced, the database fails with that reason):
//! - large objects: their contents are not replicated, and no snapshot ties a copy of them to
//!   the subscription's starting point;
//! - populated materialized views: refreshed before the subscription has copied the rows they
//!   read, they would be empty or wrong;
//! - tables of extensions that hold rows (`spatial_ref_sys` of PostGIS, pg_partman's
//!   configuration): a `FOR ALL TABLES` publication, or a list holding the extension
//!   configuration tables ([`super::tables`]), has the subscription copy them whole, over the
//!   rows the target's `CREATE EXTENSION` already made.

use crate::catalog::replication::tables::{SubscriptionCopyHazards, subscription_copy_hazards};
use crate::conn::Session;
use crate::error::{Error, Result, SqlState};

/// Why the subscription may not copy the data of the session's database; empty when it may.
pub async fn subscription_copy_blockers(src: &Session) -> Result<Vec<String>> {
    let SubscriptionCopyHazards {
        large_objects,
        populated_matviews: matviews,
        extension_tables_with_rows: ext_tables,
    } = subscription_copy_hazards(src).await?;
    let mut out = Vec::new();
    if large_objects > 0 {
        out.push(format!(
            "the database holds {large_objects} large objects, whose contents a subscription \
             does not copy"
        ));
    }
    if !matviews.is_empty() {
        out.push(format!(
            "materialized views ({}) would be refreshed before the subscription has copied the \
             rows they read",
            matviews.join(", ")
        ));
    }
    if !ext_tables.is_empty() {
        out.push(format!(
            "tables of extensions ({}) would be copied whole by the subscription, over the rows \
             the target's CREATE EXTENSION made",
            ext_tables.join(", ")
        ));
    }
    Ok(out)
}

/// The error that refuses the subscription copy path: SQLSTATE 55000 (object not in
/// prerequisite state), which the replication method turns into the fallback to dump unless
/// replication was forced.
pub fn refusal(why: &[String], connection_refused: &str) -> Error {
    Error::validation(format!(
        "a replication connection was refused ({connection_refused}) and the subscription \
         cannot copy the initial data itself: {}",
        why.join("; ")
    ))
    .with_sqlstate(SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE)
}
