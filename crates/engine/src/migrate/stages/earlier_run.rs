//! The stage before everything: an earlier run's replication objects in this database.

use crate::error::Result;
use crate::replication::{self, ReplicationOptions};
use crate::report::{DatabaseResult, DbStatus, Method};
use crate::warning::Warning;

use super::Db;
use super::message::Message;

/// An earlier run left its replication objects in this database: they are cut over when the
/// options ask for it, and that is all this run does to the database; else
/// [`replication::check_earlier_run`] refuses to touch it (the error names the objects and the
/// commands that handle them). Hands on the report line when it cut over, `None` when there
/// was no earlier run (the database's migration goes on).
pub(in crate::migrate) async fn cut_over(
    db: &Db<'_>,
    repl_opts: &ReplicationOptions,
    entry: &mut DatabaseResult,
    warnings: &mut Vec<Warning>,
) -> Result<Option<String>> {
    let pair = db.pair;
    let Some(o) = replication::check_earlier_run(pair, repl_opts).await? else {
        return Ok(None);
    };
    entry.method = Some(Method::Replication);
    entry.status = o.status;
    entry.cutover = o.cutover;
    entry.schema_changes = o.schema_changes;
    entry.remedies.extend(o.remedies);
    warnings.extend(o.warnings);
    replication::cut_over_failure(o.status, &o.message, o.refusal.as_ref(), pair.source_db())?;
    if o.status == DbStatus::Done {
        crate::recovery::mark_done(&db.opts().target, db.name(), warnings).await;
    }
    let mut message = Message::new(o.message);
    db.migrate
        .verify_replicated(pair, o.verify, entry, &mut message, warnings)
        .await?;
    Ok(Some(message.into_text()))
}
