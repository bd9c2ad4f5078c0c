//! The method decision of one database, once its pre-data is in.

use crate::error::Result;
use crate::remedy::Setting;
use crate::replication::ReplicationOptions;
use crate::report::Method;
use crate::schema::ExecState;

use super::Db;

/// How this database's data moves.
#[derive(Debug, PartialEq, Eq)]
pub(in crate::migrate) enum DataMethod {
    /// The replication method (which may still fall back to the dump method, see
    /// `data::Replicated::FellBack`).
    Replication,
    /// The dump method: forced, or `fallback` says why replication was not tried.
    Dump { fallback: Option<String> },
}

/// Dump or replication for this database: what the user forced, what objects skipped with
/// --keep-going or a selection without rows allow, what an earlier run used, and what
/// preflight planned. Hands on the method, or the error when replication is
/// forced and cannot be done.
pub(in crate::migrate) fn choose(
    db: &Db<'_>,
    facts: &ExecState,
    repl_opts: &ReplicationOptions,
) -> Result<DataMethod> {
    let opts = db.opts();
    let (resuming, resume_replication) = (db.resuming, db.resume_replication);
    // A selection whose tables all keep their rows out leaves nothing to publish.
    let nothing_to_publish = repl_opts.tables.as_ref().is_some_and(|t| t.is_empty());
    if !facts.refused.is_empty() && opts.force_method == Some(Method::Replication) {
        return Err(crate::Error::config(format!(
            "objects the target refused were skipped ({}), which the \
             replication method cannot leave out of its publication, and the \
             replication method is forced ({} / {} replication)",
            Setting::KeepGoing,
            Setting::ReplOnly,
            Setting::ForceMethod
        )));
    }
    if nothing_to_publish && opts.force_method == Some(Method::Replication) {
        return Err(crate::Error::config(format!(
            "no selected table has rows to replicate, and the replication method is \
             forced ({} / {} replication)",
            Setting::ReplOnly,
            Setting::ForceMethod
        )));
    }
    let fallback = if !facts.refused.is_empty()
        && opts.force_method.is_none()
        && !resume_replication
    {
        // A publication of all tables would name tables the target does not have.
        Some(format!("objects were not created ({})", Setting::KeepGoing))
    } else if resuming && db.run.method.as_deref() == Some("dump") && opts.force_method.is_none() {
        // The earlier run's tables came from the dump method's snapshot: the rest
        // follows it (a run with --keep-going that skipped objects used the dump method).
        Some("the earlier run used the dump method".to_string())
    } else if nothing_to_publish && opts.force_method.is_none() {
        Some("no selected table has rows to replicate".to_string())
    } else if let Some(reason) = db.planned_dump.filter(|_| !resume_replication) {
        // Preflight's decision for the whole run (replication capacity across its
        // databases, a standby source...); an interrupted replication goes on instead.
        Some(reason.to_owned())
    } else if opts.force_method != Some(Method::Dump) {
        return Ok(DataMethod::Replication);
    } else {
        None
    };
    Ok(DataMethod::Dump { fallback })
}
