//! What each selected database's target already holds, read in preflight, and the refusals
//! it leads to before anything is written: a ledger of ours (unfinished, of another source or
//! of other options), user objects without a ledger.

use crate::catalog::contents::UserObjects;
use crate::error::Side;
use crate::ledger::{RunRecord, Stage, read, user_objects};
use crate::options::shaping_options;
use crate::remedy::{Remedy, Setting};

/// What a selected database's target holds, read in preflight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetState {
    /// A migration of ours: unfinished, finished in a run whose other databases were not all
    /// done yet (stage done), or the record of a finished migration (`finished_at`).
    Ledger(Box<RunRecord>),
    /// User objects and no ledger: not ours to write to, and nothing proves what is in it.
    NotEmpty(UserObjects),
    /// No user objects (a fresh managed-service `defaultdb`): allowed.
    Empty,
}

/// Reads the ledger and user objects of every selected database that exists on the target,
/// and reports, all at once, each one a migration would refuse to write to: an unfinished
/// ledger without `--resume` or `--clean` (naming both), a ledger of another source or of
/// other options with `--resume`, user objects without a ledger (in every mode: only a ledger
/// proves that a database was migrated from this source). Returns the state of every existing target database read.
pub async fn preflight_targets(
    opts: &crate::options::MigrateOptions,
    source_facts: Option<&crate::catalog::server::ServerFacts>,
    source_databases: &[crate::catalog::databases::DatabaseInfo],
    existing: &[String],
    report: &mut crate::report::ValidationReport,
) -> std::collections::HashMap<String, TargetState> {
    use futures::StreamExt;
    // What each database holds is read on its own session, several at once; the checks
    // follow in the selection's order.
    // Futures built first: a closure inside the stream would make preflight's future fail to
    // be `Send`.
    let pending: Vec<_> = existing
        .iter()
        .map(|name| async move {
            let s = match crate::conn::connect(&opts.target, Some(name)).await {
                Ok(s) => s,
                // The databases check reports unreachable target databases.
                Err(e) => {
                    tracing::debug!("target database {name}: {e}");
                    return None;
                }
            };
            let state = match read(&s).await {
                Ok(Some(run)) => Ok(TargetState::Ledger(Box::new(run))),
                Ok(None) => match user_objects(&s).await {
                    Ok(o) if o.is_empty() => Ok(TargetState::Empty),
                    Ok(o) => Ok(TargetState::NotEmpty(o)),
                    Err(e) => Err(format!(
                        "could not read what target database \"{name}\" holds: {e}"
                    )),
                },
                Err(e) => Err(format!(
                    "could not read the ledger of target database \"{name}\": {e}"
                )),
            };
            Some((name, state))
        })
        .collect();
    let read_all: Vec<_> = futures::stream::iter(pending)
        .buffered(super::DB_CONCURRENCY)
        .collect()
        .await;
    let mut out = std::collections::HashMap::new();
    for (name, state) in read_all.into_iter().flatten() {
        let state = match state {
            Ok(state) => state,
            Err(message) => {
                report.error("target-state", Some(name), message);
                continue;
            }
        };
        check_target(opts, source_facts, source_databases, name, &state, report);
        // A run of the replication method stopped during its copy continues on its slot and
        // publication: refused here when they are gone or cannot serve (writes nothing).
        if let TargetState::Ledger(run) = &state
            && opts.resume
            && !opts.clean
            && run.stage == Stage::Data
            && run.method.as_deref() == Some("replication")
            && report.database_errors(name).next().is_none()
        {
            let r = async {
                let src = crate::conn::connect(&opts.source, Some(name))
                    .await
                    .map_err(|e| e.with_side(Side::Source))?;
                let s = crate::conn::connect(&opts.target, Some(name)).await?;
                crate::replication::resume::check(&src, &s, name, opts.replication.mangle).await
            }
            .await;
            if let Err(e) = r {
                report.error(
                    "target-state",
                    Some(name),
                    format!(
                        "target database \"{name}\" holds an unfinished migration ({}); {}",
                        run.summary(),
                        e.message()
                    ),
                );
            }
        }
        out.insert(name.clone(), state);
    }
    out
}

fn check_target(
    opts: &crate::options::MigrateOptions,
    source_facts: Option<&crate::catalog::server::ServerFacts>,
    source_databases: &[crate::catalog::databases::DatabaseInfo],
    name: &str,
    state: &TargetState,
    report: &mut crate::report::ValidationReport,
) {
    match state {
        TargetState::Empty => {}
        TargetState::NotEmpty(o) => not_empty(opts, name, o, report),
        TargetState::Ledger(run) => {
            with_ledger(opts, (source_facts, source_databases), name, run, report)
        }
    }
}

/// A target database holding objects and no ledger: what each mode makes of it.
fn not_empty(
    opts: &crate::options::MigrateOptions,
    name: &str,
    o: &UserObjects,
    report: &mut crate::report::ValidationReport,
) {
    let cut_over = opts.replication.is_cut_over();
    let verify_only = Setting::VerifyOnly;
    match o {
        // Nothing proves that a database holding objects and no ledger was migrated from this
        // source (it may be someone else's database of the same name, or another tool's
        // work): every mode that writes refuses it, and none reports it done.
        o if opts.resume => report.error(
            "target-state",
            Some(name),
            format!(
                "target database \"{name}\" is not empty ({} tables, {} other objects) and holds \
                 no ledger of a db-migrate run, so there is nothing to resume in it (nor the \
                 record a finished run leaves); compare it with the source with {verify_only}, \
                 or migrate into an empty or missing database (nothing was written to it)",
                o.tables, o.other
            ),
        ),
        // A cut-over run may also replicate and cut over in one go: a target database with no
        // table (a managed service's, holding only what the provider installed) is migrated as
        // a plain run would migrate an empty one.
        o if cut_over && o.tables == 0 => {}
        o if cut_over => report.error(
            "target-state",
            Some(name),
            format!(
                "target database \"{name}\" is not empty ({} tables, {} other objects) and holds \
                 no ledger of a db-migrate run, so there is no replication of this migration to \
                 cut over and nothing proves it was migrated from this source (nor the record \
                 a finished run leaves); compare it with the source with {verify_only} \
                 (nothing was written to it)",
                o.tables, o.other
            ),
        ),
        o => report.error(
            "target-state",
            Some(name),
            format!(
                "target database \"{name}\" is not empty: {} tables, {} other objects, and no \
                 ledger of an unfinished db-migrate run; migrate into an empty or missing \
                 database (nothing was written to it)",
                o.tables, o.other
            ),
        ),
    }
}

/// A target database holding the ledger of an earlier run (finished or not): what each mode
/// makes of it. `source`: the source's facts and databases, which tell whether that run
/// migrated this source.
fn with_ledger(
    opts: &crate::options::MigrateOptions,
    source: (
        Option<&crate::catalog::server::ServerFacts>,
        &[crate::catalog::databases::DatabaseInfo],
    ),
    name: &str,
    run: &RunRecord,
    report: &mut crate::report::ValidationReport,
) {
    let (source_facts, source_databases) = source;
    // The documented cut-over is the first command again plus --max-replication-lag and
    // --stop-replication: it acts on the databases the first run left replicating and reports
    // those it finished as done earlier (their ledger, stage done, proves it).
    let cut_over = opts.replication.is_cut_over();
    let (resume, clean, verify_only) = (Setting::Resume, Setting::Clean, Setting::VerifyOnly);
    match run {
        // The record of a finished migration: --resume and the cut-over run report the
        // database done without touching it (below, for this source); whatever would write
        // refuses it, --clean included: the database has been in use since it was finished.
        run if run.finished_at.is_some() && opts.clean => report.error(
            "target-state",
            Some(name),
            format!(
                "target database \"{name}\" holds the record of a finished migration ({}); \
                 {clean} removes only unfinished ones, since the database may have been written \
                 to since: drop it yourself to migrate it again, or compare it with the source \
                 with {verify_only} (nothing was written to it)",
                run.summary()
            ),
        ),
        run if run.finished_at.is_some() && !opts.resume && !cut_over => {
            report.error(
                "target-state",
                Some(name),
                format!(
                    "target database \"{name}\" was migrated already ({}); {verify_only} \
                     compares it with the source again and {resume} reports it done; to \
                     migrate it again, drop it first (nothing was written to it)",
                    run.summary()
                ),
            );
            report.remedies([Remedy::VerifyOnly, Remedy::Resume]);
        }
        // An earlier run's replication: handled (cut over, or refused naming its objects) by
        // the replication method's own check of earlier runs.
        run if run.stage == Stage::Replicating => {}
        run if run.stage == Stage::Done && !opts.resume && !opts.clean && !cut_over => {
            report.error(
                "target-state",
                Some(name),
                format!(
                    "target database \"{name}\" was migrated by an earlier run ({}) that did not \
                     finish all its databases; run the same command with {resume} to finish the \
                     others (this one is reported done without being touched), or with {clean} \
                     to migrate it again",
                    run.summary()
                ),
            );
            report.remedies([Remedy::Resume, Remedy::StartOver]);
        }
        run if run.stage != Stage::Done && !opts.resume && !opts.clean => {
            report.error(
                "target-state",
                Some(name),
                format!(
                    "target database \"{name}\" holds an unfinished migration ({}); run the same \
                 command with {resume} to continue it, or with {clean} to remove what it wrote \
                 and start over",
                    run.summary()
                ),
            );
            report.remedies([Remedy::Resume, Remedy::StartOver]);
        }
        _ if opts.clean => {}
        run => {
            let src = source_databases.iter().find(|d| d.name == name);
            let sysid = source_facts.and_then(|f| f.system_identifier);
            let other_source = src.is_some_and(|d| d.oid != run.source_database_oid)
                || matches!((sysid, run.source_system_identifier), (Some(a), Some(b)) if a != b);
            if other_source {
                report.error(
                    "target-state",
                    Some(name),
                    format!(
                        "target database \"{name}\" holds an {} migration from another source \
                         database ({}); {resume} continues only a migration of the same source: \
                         use {clean} to remove what it wrote and start over",
                        run.kind(),
                        run.summary()
                    ),
                );
                report.remedies([Remedy::StartOver]);
                return;
            }
            let now = shaping_options(opts);
            // A finished migration is reported done whatever the options now.
            if now != run.options && run.finished_at.is_none() {
                report.error(
                    "target-state",
                    Some(name),
                    format!(
                        "target database \"{name}\": the {} migration ({}) ran with other \
                         options ({}) than this one ({now}); resume it with the same options, or \
                         use {clean} to start over",
                        run.kind(),
                        run.summary(),
                        run.options
                    ),
                );
                report.remedies([Remedy::StartOver]);
            }
        }
    }
}
