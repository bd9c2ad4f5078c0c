//! `rehearsal`: each selected database's whole schema created on the target in a transaction
//! that is rolled back ([`crate::schema::rehearsal`]), every statement the target refuses one
//! finding (an error, a warning with `--keep-going`). On by default in a migration and in
//! `--validate`; `--no-rehearsal` turns it off.
//!
//! Where: in the target database when it exists (and holds no ledger of an earlier run: a
//! resumed database is not rehearsed, its objects exist already), else in a scratch database of
//! db-migrate's own, [`SCRATCH_PREFIX`]`<random>`, created like the run would create the
//! database (encoding, locale, database-level settings) and dropped afterwards, also when the
//! rehearsal fails or the run is interrupted. A database whose earlier run the run removes
//! first (`--clean`, or `--resume` of a run stopped in its schema) is rehearsed as the run will
//! meet it: in a scratch database when the run drops the database, else in the database after
//! the earlier run's objects and ledger are dropped inside the rehearsal's transaction
//! ([`what_clean_removes`]), rolled back with the rest.
//!
//! Databases are rehearsed [`AT_ONCE`] at a time, in lanes that each reuse one scratch database
//! for every database created alike (encoding and locale; the settings are set again for
//! each), which saves a `CREATE DATABASE` and a `DROP DATABASE` per database of an
//! installation of many. When the rehearsal creates roles the target lacks, one lane: the
//! roles are shared by the whole server, and a second transaction creating the same role
//! would wait for the first. Not rehearsed: a database preflight refused already, and one whose
//! target holds a ledger the run keeps (`--resume`, a finished database: its objects exist).
//!
//! The schema a rehearsal read, filtered by the database's selection, is handed to the run
//! ([`Rehearsed::schema`], through [`super::Preflight::schemas`]), which does not read it
//! again: the rehearsal's cost is the DDL alone (and the scratch database, made ready while the
//! source's schema is read). One copy of it
//! only: the rehearsal leaves it as it is, and the run takes it over (at 100,000 tables a
//! copy is hundreds of megabytes).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Instant;

use crate::catalog::databases::DatabaseInfo;
use crate::catalog::roles::list_role_names;
use crate::conn::{ConnInfo, Session, connect};
use crate::error::{Error, Result, Side};
use crate::ledger::{CleanPlan, RunRecord, Stage};
use crate::options::MigrateOptions;
use crate::preflight::target_state::TargetState;
use crate::remedy::Setting;
use crate::report::ValidationReport;
use crate::schema::Schema;
use crate::schema::exec::SchemaOptions;
use crate::schema::exec::apply;
use crate::schema::model::SchemaObject;
use crate::schema::rehearsal::{Rehearsal, begin, first, rehearse_in};
use crate::selection::DbSelection;
use crate::selection::preflight::Resolved;
use crate::sql::quote_ident;

/// The name of every scratch database a rehearsal creates starts with this.
pub const SCRATCH_PREFIX: &str = "db_migrate_rehearsal_";

/// One database's rehearsal: what it found, where, how long it took, and the source's schema
/// as read and filtered, which the run uses instead of reading it again.
pub struct Rehearsed {
    pub found: Rehearsal,
    /// The target database, or the scratch database's name.
    pub place: String,
    pub seconds: f64,
    pub schema: FilteredSchema,
}

/// A database's schema filtered by its selection, and what the filter said about it (the
/// run's to report).
#[derive(Debug, Default)]
pub struct FilteredSchema {
    pub schema: Schema,
    pub filter_warnings: Vec<crate::warning::Warning>,
}

/// What preflight knows that the rehearsal needs.
pub struct Inputs<'a> {
    pub source: &'a Session,
    pub target: &'a Session,
    pub source_databases: &'a [DatabaseInfo],
    pub target_names: &'a HashSet<&'a str>,
    pub selected: &'a [String],
    pub selections: &'a BTreeMap<String, Resolved>,
    pub targets: &'a HashMap<String, TargetState>,
}

/// Rehearses every database it may (see the module documentation), reporting what the target
/// refuses; returns the schemas read, by database, for the run.
pub async fn check_rehearsal(
    report: &mut ValidationReport,
    opts: &MigrateOptions,
    i: Inputs<'_>,
) -> HashMap<String, FilteredSchema> {
    let Some(missing_roles) = missing_roles(report, opts, &i).await else {
        return HashMap::new();
    };
    let jobs = planned_jobs(report, opts, &i).await;
    let outcomes = run_lanes(opts, &i, jobs, &missing_roles).await;
    report_outcomes(report, opts, outcomes)
}

/// The source's roles the target lacks (and the run will create), which the rehearsal creates
/// in its transaction too; `None`, with a warning, when the roles could not be listed.
async fn missing_roles(
    report: &mut ValidationReport,
    opts: &MigrateOptions,
    i: &Inputs<'_>,
) -> Option<Vec<String>> {
    let (source_roles, target_roles) =
        match futures::try_join!(list_role_names(i.source), list_role_names(i.target)) {
            Ok(r) => r,
            Err(e) => {
                report.warning(
                    "rehearsal",
                    None,
                    format!("the schema was not rehearsed: the roles could not be listed: {e}"),
                );
                return None;
            }
        };
    let target_roles: HashSet<&str> = target_roles.iter().map(String::as_str).collect();
    let missing_roles: Vec<String> = source_roles
        .iter()
        .filter(|r| {
            !target_roles.contains(r.as_str())
                && !r.starts_with("pg_")
                && !opts.excluded_roles.contains(r)
        })
        .cloned()
        .collect();
    Some(missing_roles)
}

/// One database to rehearse: where (`exists`: in its target database, else a scratch one),
/// under which selection, after which removals of an earlier run's work (`before`).
struct Planned<'a> {
    name: &'a String,
    database: &'a DatabaseInfo,
    exists: bool,
    selection: DbSelection,
    before: Vec<String>,
}

/// The databases to rehearse, in the selection's order: not one preflight refused, nor one
/// whose objects exist already; one whose earlier run the run removes first as it will meet
/// it (see [`what_clean_removes`]).
async fn planned_jobs<'a>(
    report: &mut ValidationReport,
    opts: &MigrateOptions,
    i: &Inputs<'a>,
) -> Vec<Planned<'a>> {
    let mut jobs = Vec::new();
    for name in i.selected {
        if report.database_errors(name).next().is_some() {
            continue;
        }
        let Some(database) = i.source_databases.iter().find(|d| &d.name == name) else {
            continue;
        };
        let mut exists = i.target_names.contains(name.as_str());
        let mut before = Vec::new();
        match i.targets.get(name) {
            _ if !exists => {}
            Some(TargetState::Empty) => {}
            // The run removes an earlier run's work first: rehearsed as it will be.
            Some(TargetState::Ledger(run)) if cleans(opts, run) => {
                match what_clean_removes(opts, name, run).await {
                    Ok(None) => exists = false,
                    Ok(Some(drops)) => before = drops,
                    Err(e) => {
                        report.warning(
                            "rehearsal",
                            Some(name),
                            format!(
                                "the schema was not rehearsed: what {} removes could not \
                                 be read: {e}",
                                Setting::Clean
                            ),
                        );
                        continue;
                    }
                }
            }
            // Its objects exist already (--resume, a finished database).
            _ => continue,
        }
        let selection = i
            .selections
            .get(name)
            .map(|r| r.selection.clone())
            .unwrap_or_else(|| DbSelection::everything(name));
        jobs.push(Planned {
            name,
            database,
            exists,
            selection,
            before,
        });
    }
    jobs
}

/// One database's rehearsal as a lane ended it: `None` when the run was interrupted before
/// it started.
type Outcome<'a> = (&'a String, Option<Result<Rehearsed>>);

/// Rehearses `jobs` in lanes, each reusing one scratch database; one lane when roles are
/// created (a second transaction creating the same role would wait for the first). The
/// outcomes in the order of `jobs`.
async fn run_lanes<'a>(
    opts: &MigrateOptions,
    i: &Inputs<'_>,
    jobs: Vec<Planned<'a>>,
    missing_roles: &[String],
) -> Vec<Outcome<'a>> {
    // Each database is rehearsed in its own place (its empty target database or a scratch
    // one), so several run at once; their findings are reported in the selection's order.
    let lanes = if missing_roles.is_empty() { AT_ONCE } else { 1 };
    let queue = std::sync::Mutex::new(jobs.into_iter().enumerate().rev().collect::<Vec<_>>());
    let lane = || async {
        // Its own session for the scratch database: a DROP DATABASE waiting for a closing
        // session does not hold up the other lanes' statements.
        let own = match lanes {
            1 => None,
            _ => connect(&opts.target, None).await.ok(),
        };
        let admin = own.as_ref().unwrap_or(i.target);
        let mut scratch: Option<Scratch> = None;
        let mut done = Vec::new();
        loop {
            let next = queue.lock().expect("not poisoned").pop();
            let Some((k, planned)) = next else {
                break;
            };
            if opts.cancel.is_cancelled() {
                done.push((k, planned.name, None));
                continue;
            }
            let job = Job {
                source: &opts.source,
                target: &opts.target,
                target_main: admin,
                database: planned.database,
                target_exists: planned.exists,
                before: &planned.before,
                selection: &planned.selection,
                excluded_extensions: &opts.excluded_extensions,
                schema: opts.schema,
                missing_roles,
                cancel: &opts.cancel,
            };
            done.push((k, planned.name, Some(rehearse(&job, &mut scratch).await)));
        }
        if let Some(s) = scratch {
            drop_scratch(admin, &s.name).await;
        }
        done
    };
    let mut outcomes: Vec<_> = futures::future::join_all((0..lanes).map(|_| lane()))
        .await
        .into_iter()
        .flatten()
        .collect();
    outcomes.sort_by_key(|(k, _, _)| *k);
    outcomes
        .into_iter()
        .map(|(_, name, outcome)| (name, outcome))
        .collect()
}

/// Reports each database's rehearsal in order: what the target refused (an error, a warning
/// with `--keep-going`), what could not be rehearsed; stops at the first the run's
/// interruption cut short. Returns the schemas read, by database.
fn report_outcomes(
    report: &mut ValidationReport,
    opts: &MigrateOptions,
    outcomes: Vec<Outcome<'_>>,
) -> HashMap<String, FilteredSchema> {
    let mut schemas = HashMap::new();
    for (name, outcome) in outcomes {
        let Some(outcome) = outcome else {
            return schemas;
        };
        match outcome {
            Ok(r) => {
                let Rehearsed {
                    found: r,
                    place,
                    seconds,
                    schema,
                } = r;
                schemas.insert(name.clone(), schema);
                tracing::info!(
                    database = %name,
                    objects = r.objects,
                    not_rehearsed = r.not_rehearsed,
                    refused = r.refused.len(),
                    place = %place,
                    seconds = format!("{seconds:.2}"),
                    "schema rehearsed"
                );
                for f in &r.refused {
                    let message = format!(
                        "the schema rehearsal found an object the target refuses: {}{}",
                        f.summary(),
                        if opts.keep_going {
                            format!(
                                " ({}: it will be skipped with its dependents)",
                                Setting::KeepGoing
                            )
                        } else {
                            String::new()
                        }
                    );
                    if opts.keep_going {
                        report.warning("rehearsal", Some(name), message);
                    } else {
                        report.error("rehearsal", Some(name), message);
                    }
                }
                if let Some(why) = r.incomplete {
                    report.warning("rehearsal", Some(name), why);
                }
            }
            Err(e) if opts.cancel.is_cancelled() => {
                tracing::debug!(database = %name, "rehearsal interrupted: {e}");
                report.error(
                    "rehearsal",
                    Some(name),
                    "the run was interrupted while the schema was rehearsed (rolled back, its \
                     scratch database dropped)",
                );
                return schemas;
            }
            Err(e) => report.warning(
                "rehearsal",
                Some(name),
                format!("the schema could not be rehearsed: {e}"),
            ),
        }
    }
    schemas
}

/// Whether the run removes what an earlier run (`run`, the target database's ledger) wrote
/// before creating the schema again: `--clean`, or `--resume` of a run that stopped in the
/// middle of the schema (as `migrate::one` decides).
fn cleans(opts: &MigrateOptions, run: &RunRecord) -> bool {
    opts.clean || (opts.resume && run.stage == Stage::PreData)
}

/// What `--clean` will do to target database `name`, whose ledger is `run`
/// ([`crate::ledger::clean_plan`], read the same way): `None` when it drops the database (the
/// rehearsal then runs in a scratch database, as for a database the target lacks), else the
/// statements that remove the earlier run's objects and its ledger, which the rehearsal runs
/// first in its transaction, so that what it rehearses meets the database the run will meet.
/// The earlier run's sessions may still hold locks (the run waits for them): the removal waits
/// [`CLEAN_LOCK_WAIT`] at most, then the rehearsal is given up with a warning.
async fn what_clean_removes(
    opts: &MigrateOptions,
    name: &str,
    run: &RunRecord,
) -> Result<Option<Vec<String>>> {
    let s = connect(&opts.target, Some(name))
        .await
        .map_err(|e| e.with_side(Side::Target))?;
    Ok(match crate::ledger::clean_plan(&s, run).await? {
        CleanPlan::DropDatabase => None,
        CleanPlan::DropObjects(drops) => {
            let mut statements = vec![format!("SET LOCAL lock_timeout = '{CLEAN_LOCK_WAIT}'")];
            statements.extend(drops.into_iter().map(|(sql, _)| sql));
            statements.push(format!(
                "DROP SCHEMA IF EXISTS {} CASCADE",
                quote_ident(crate::ledger::LEDGER_SCHEMA)
            ));
            statements.push("SET LOCAL lock_timeout = 0".into());
            Some(statements)
        }
    })
}

/// How long the rehearsal of a `--clean` waits for a lock an earlier run's session holds.
const CLEAN_LOCK_WAIT: &str = "30s";

/// Databases rehearsed at once: each holds a source and a target session and, for a database
/// the target lacks, a scratch database of its own.
const AT_ONCE: usize = 4;

/// One database to rehearse.
pub struct Job<'a> {
    pub source: &'a ConnInfo,
    pub target: &'a ConnInfo,
    /// A session on the target's default database (creates and drops the scratch database).
    pub target_main: &'a Session,
    pub database: &'a DatabaseInfo,
    /// Whether the database exists on the target (then the rehearsal runs in it).
    pub target_exists: bool,
    /// What the run does to the existing database before its schema (`--clean`'s removal of
    /// an earlier run's objects), run first in the rehearsal's transaction.
    pub before: &'a [String],
    pub selection: &'a DbSelection,
    pub excluded_extensions: &'a [String],
    pub schema: SchemaOptions,
    /// Source roles the target lacks, created (and rolled back) first.
    pub missing_roles: &'a [String],
    pub cancel: &'a tokio_util::sync::CancellationToken,
}

/// A random scratch database name.
fn scratch_name() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    let tail: String = (0..10)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect();
    format!("{SCRATCH_PREFIX}{tail}")
}

/// Rehearses one database (see the module documentation), in its empty target database or in
/// the lane's scratch database `scratch` (created, or made ready, here; the lane drops it
/// once its databases are rehearsed). An `Err` means the rehearsal itself could not run (a
/// session, the scratch database); what the target refuses is in the result.
pub async fn rehearse(job: &Job<'_>, scratch: &mut Option<Scratch>) -> Result<Rehearsed> {
    let started = Instant::now();
    let name = &job.database.name;
    // The source's schema is read while the place is made ready (the scratch database created,
    // the session opened, the transaction begun): reading it is not the rehearsal's cost (the
    // run uses what it read), and the place's time hides behind it.
    // The extensions are read first, on the same session (one round trip, before its
    // snapshot), and handed to `ready`, which creates them as soon as the transaction is open,
    // while the rest is read (`first`'s documentation says why). Only for a database migrated
    // whole: a selection may leave an extension or its schema out.
    let (extensions_read, extensions) = tokio::sync::oneshot::channel::<Vec<SchemaObject>>();
    let whole = job.selection.everything && job.excluded_extensions.is_empty();
    let read = async {
        let source = connect(job.source, Some(name))
            .await
            .map_err(|e| e.with_side(Side::Source).with_database(name.clone()))?;
        let first = if whole {
            first::read(&source).await.unwrap_or_else(|e| {
                tracing::debug!(database = %name, "rehearsal: the extensions are rehearsed in order: {e}");
                Vec::new()
            })
        } else {
            Vec::new()
        };
        let _ = extensions_read.send(first);
        let mut schema = crate::schema::read_schema(&source)
            .await
            .map_err(|e| e.with_side(Side::Source).with_database(name.clone()))?;
        drop(source);
        let filter_warnings =
            crate::selection::filter_schema(&mut schema, job.selection, job.excluded_extensions);
        tracing::debug!(database = %name, seconds = started.elapsed().as_secs_f64(), "rehearsal: schema read");
        Ok::<_, Error>(FilteredSchema {
            schema,
            filter_warnings,
        })
    };
    // A read that failed before sending them: none (its error ends the rehearsal anyway).
    let first = async { extensions.await.unwrap_or_default() };
    let ready = async {
        let place = async {
            if job.target_exists {
                Ok(name.clone())
            } else {
                prepare_scratch(job, scratch).await.map_err(|e| {
                    e.with_side(Side::Target)
                        .with_step("creating the rehearsal's scratch database")
                })
            }
        };
        let (place, first) = tokio::join!(place, first);
        let place = place?;
        let target = connect(job.target, Some(&place))
            .await
            .map_err(|e| e.with_side(Side::Target).with_database(place.clone()))?;
        let state = begin(&target, job.before, job.missing_roles).await?;
        tracing::debug!(database = %name, seconds = started.elapsed().as_secs_f64(), "rehearsal: place ready");
        if !first.is_empty() {
            apply(&target, &first, job.schema, &state).await?;
            tracing::debug!(database = %name, seconds = started.elapsed().as_secs_f64(), "rehearsal: extensions created");
        }
        Ok::<_, Error>((place, target, state, first))
    };
    let (read, (place, target, mut state, mut first)) = tokio::select! {
        r = async { tokio::try_join!(read, ready) } => r?,
        _ = job.cancel.cancelled() => return Err(crate::copy::worker::cancelled()),
    };
    if !first.is_empty() && !first::holds(&first, &read.schema) {
        // The source's extensions changed between the two reads: everything again, in order.
        tracing::debug!(database = %name, "rehearsal: the extensions changed since they were read; begun again");
        target
            .batch_execute("ROLLBACK")
            .await
            .map_err(|e| Error::from_pg(e).with_side(Side::Target))?;
        state = begin(&target, job.before, job.missing_roles).await?;
        first.clear();
    }
    // The rehearsal ends its session, and an interrupted one is dropped with it: the server
    // rolls back whatever is still open (neither waits for a ROLLBACK, nor for a running
    // statement).
    let result = tokio::select! {
        r = rehearse_in(target, &read.schema, job.schema, state, &first) => r,
        _ = job.cancel.cancelled() => Err(crate::copy::worker::cancelled()),
    };
    tracing::debug!(database = %name, seconds = started.elapsed().as_secs_f64(), "rehearsal: rolled back");
    Ok(Rehearsed {
        found: result?,
        place,
        seconds: started.elapsed().as_secs_f64(),
        schema: read,
    })
}

/// A lane's scratch database, and the encoding and locale it was created with.
pub struct Scratch {
    name: String,
    key: String,
}

/// The lane's scratch database made ready for `job`'s database: the one it has when created
/// alike (its settings set again), else a new one (the old dropped). Returns its name.
async fn prepare_scratch(job: &Job<'_>, scratch: &mut Option<Scratch>) -> Result<String> {
    let key = crate::databases::scratch_key(job.target_main, job.database);
    if let Some(s) = scratch.as_ref()
        && s.key == key
    {
        crate::databases::reuse_scratch(job.target_main, job.database, &s.name).await?;
        return Ok(s.name.clone());
    }
    if let Some(old) = scratch.take() {
        drop_scratch(job.target_main, &old.name).await;
    }
    let name = scratch_name();
    // Recorded before it exists: a creation that fails half-way is still dropped.
    *scratch = Some(Scratch {
        name: name.clone(),
        key,
    });
    crate::databases::create_scratch(job.target_main, job.database, &name).await?;
    Ok(name)
}

/// Drops a scratch database, waiting for its sessions to be gone (the server may still be
/// ending the rehearsal's). A failure is logged: the name says what it is.
async fn drop_scratch(target: &Session, name: &str) {
    let force = if target.server_version_num() >= 130000 {
        " WITH (FORCE)"
    } else {
        ""
    };
    let sql = format!("DROP DATABASE IF EXISTS {}{force}", quote_ident(name));
    for attempt in 0..20 {
        match target.batch_execute(&sql).await {
            Ok(()) => return,
            Err(e) if attempt < 19 => {
                tracing::debug!("dropping the rehearsal database {name}: {e}; trying again");
                tokio::time::sleep(std::time::Duration::from_millis(250)).await;
            }
            Err(e) => tracing::warn!(
                "the rehearsal's scratch database {} could not be dropped: {}; drop it with \
                 DROP DATABASE {}",
                quote_ident(name),
                Error::from_pg(e).message(),
                quote_ident(name)
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scratch_names_are_recognisable_and_random() {
        let a = scratch_name();
        let b = scratch_name();
        assert!(a.starts_with(SCRATCH_PREFIX) && a.len() == SCRATCH_PREFIX.len() + 10);
        assert_ne!(a, b);
    }
}
