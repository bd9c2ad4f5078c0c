//! The orchestrator's side of the ledger ([`crate::ledger`]): starting it before the schema,
//! marking a database done and shrinking the ledgers to the records of the finished migration
//! when the whole run is, `--clean`, and what a failed database reports before its copy ran.

use crate::conn::{ConnInfo, Session, connect};
use crate::error::{Result, Side};
use crate::ledger::{self, CleanPlan, RunRecord};
use crate::remedy::Setting;
use crate::schema::Schema;
use crate::sql::quote_ident;
use crate::warning::Warning;

/// Creates the ledger of a fresh run in the target database `s` is connected to, with the
/// objects it is about to create (for `--clean`).
pub async fn start_ledger(s: &Session, run: &RunRecord, schema: &Schema) -> Result<()> {
    ledger::create(s, run).await?;
    let planned = schema
        .objects
        .iter()
        .map(|o| (o.kind.keyword(), o.schema.as_deref(), o.name.as_str()));
    ledger::record_planned(s, planned).await
}

/// Records in its ledger that a database's migration is done (a cut-over that finished it);
/// a failure is a warning (the data is in; the ledger becomes a record with the run's others,
/// or the next run reports it).
pub async fn mark_done(target: &ConnInfo, name: &str, warnings: &mut Vec<Warning>) {
    let r = async {
        let s = connect(target, Some(name)).await?;
        ledger::set_stage(&s, ledger::Stage::Done, None, None).await
    }
    .await;
    if let Err(e) = r {
        warnings.push(ledger_warning(format!("could not be marked done: {e}")));
    }
}

/// Shrinks the ledgers of a run's databases to the records of the finished migration
/// ([`ledger::finish`], with the copy's figures) once every one of them is done: until then
/// the whole ledgers are the proof a `--resume` or cut-over run needs to leave the finished
/// ones alone (a database holding objects and no ledger is refused, since anything may have
/// put them there), and afterwards the records are, and what `db-migrate status` shows. Called
/// only for a run that succeeded as a whole; a failure is a warning.
pub async fn finish_ledgers(target: &ConnInfo, names: &[&str], warnings: &mut Vec<Warning>) {
    use futures::StreamExt;
    // A session per database: several at once (an installation of many databases would
    // otherwise spend a connection's round trips on each in turn).
    let failed: Vec<Option<Warning>> = futures::stream::iter(names)
        .map(|name| async move {
            let r = async {
                let s = connect(target, Some(name)).await?;
                match ledger::read(&s).await? {
                    Some(run) if run.stage == ledger::Stage::Done && run.finished_at.is_none() => {
                        let totals = crate::status::progress::read(&s).await?.unwrap_or_default();
                        let totals =
                            serde_json::to_string(&totals).expect("the copy's figures serialize");
                        ledger::finish(&s, &totals).await
                    }
                    _ => Ok(()),
                }
            }
            .await;
            r.err().map(|e| {
                ledger_warning(format!(
                    "could not be turned into the record of the finished migration: {e}"
                ))
                .in_database(name)
            })
        })
        .buffered(crate::preflight::DB_CONCURRENCY)
        .collect()
        .await;
    warnings.extend(failed.into_iter().flatten());
}

/// The run's last step: when every database is done (and verified equal where asked),
/// the ledgers shrink to the records of the finished migration; otherwise those of the finished databases stay as the proof that the
/// next `--resume` (or cut-over run) may leave them alone, and a warning says so.
///
/// A migration user that is not a superuser may connect to a migrated database only as a
/// member of its owner (its CONNECT privilege came from the source), so that membership is
/// taken again for the ledgers' last change, and released.
pub async fn finish_run(
    target_info: &ConnInfo,
    result: &mut crate::report::MigrateResult,
    target: &Session,
    memberships: &mut crate::owners::Memberships,
    source_databases: &[crate::catalog::databases::DatabaseInfo],
) {
    let done: Vec<&str> = result
        .databases
        .iter()
        .filter(|d| d.status == crate::report::DbStatus::Done)
        .map(|d| d.dbname.as_str())
        .collect();
    if done.is_empty() {
        return;
    }
    let mut warnings = Vec::new();
    if result.succeeded() && done.len() == result.databases.len() {
        let owners = source_databases
            .iter()
            .filter(|d| done.contains(&d.name.as_str()))
            .map(|d| d.owner.as_str());
        memberships.take(target, owners).await;
        finish_ledgers(target_info, &done, &mut warnings).await;
        warnings.extend(memberships.release(target).await);
    } else {
        warnings.push(Warning::recovery(format!(
            "the ledger schema {} stays in the target databases done ({}) until the run's \
             other databases are: the same command with {} (or the cut-over) reports \
             them done without touching them, and keeps only the record of the finished \
             migration once all are done",
            quote_ident(ledger::LEDGER_SCHEMA),
            done.iter()
                .map(|d| format!("\"{}\"", d.escape_debug()))
                .collect::<Vec<_>>()
                .join(", "),
            Setting::Resume
        )));
    }
    result.warnings.extend(warnings);
}

fn ledger_warning(what: String) -> Warning {
    Warning::recovery(format!(
        "the ledger schema {} {what}",
        quote_ident(ledger::LEDGER_SCHEMA)
    ))
    .on(format!("schema {}", quote_ident(ledger::LEDGER_SCHEMA)))
}

/// How long a resume or `--clean` waits for the statements of an earlier run to end
/// ([`wait_for_earlier_statements`]).
pub const EARLIER_STATEMENTS_WAIT: std::time::Duration = std::time::Duration::from_secs(120);

/// Waits, up to `bound`, until no other session of the migration user runs a statement in the
/// target database `name`. A run killed while its backend was executing a statement (a long
/// index build) leaves that backend going until the statement ends, and only then does the
/// server see its client gone: a resume that started meanwhile would create the same object a
/// second time and fail on its name, and `--clean` would wait on its locks. Sessions of other
/// users are not waited for. `Some` warning when statements still run at the bound (the run
/// goes on).
pub async fn wait_for_earlier_statements(
    target: &ConnInfo,
    name: &str,
    bound: std::time::Duration,
) -> Result<Option<Warning>> {
    let s = connect(target, Some(name))
        .await
        .map_err(|e| e.with_side(Side::Target))?;
    let sql = "SELECT a.pid::text, pg_catalog.left(a.query, 60) \
                 FROM pg_catalog.pg_stat_activity a \
                WHERE a.datname = pg_catalog.current_database() AND a.usename = CURRENT_USER \
                  AND a.pid <> pg_catalog.pg_backend_pid() AND a.state = 'active' \
                  AND a.backend_type = 'client backend'";
    let started = std::time::Instant::now();
    let mut said = false;
    loop {
        let rows = s
            .query(sql, &[])
            .await
            .map_err(|e| crate::error::Error::from_pg(e).with_side(Side::Target))?;
        if rows.is_empty() {
            return Ok(None);
        }
        let running: Vec<String> = rows
            .iter()
            .map(|r| format!("pid {}: {}", r.get::<_, String>(0), r.get::<_, String>(1)))
            .collect();
        if started.elapsed() >= bound {
            return Ok(Some(
                Warning::recovery(format!(
                    "statements of the migration user still run in target database {} after \
                     {} s (an earlier run's?), going on: {}",
                    quote_ident(name),
                    bound.as_secs(),
                    running.join("; ")
                ))
                .in_database(name),
            ));
        }
        if !said {
            tracing::info!(
                database = name,
                "waiting for statements an earlier run left running: {}",
                running.join("; ")
            );
            said = true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// Objects listed in a message before "and N more".
const LISTED: usize = 50;

/// `--clean` of target database `name`, whose ledger is `run`: drops the database when the
/// ledger says this tool created it (`admin`: a session on another database of the target),
/// else exactly the objects the ledger attributes to the earlier run, and the ledger. Returns
/// whether the database was dropped, and a message that lists what was removed.
pub async fn clean(
    admin: &Session,
    target: &ConnInfo,
    name: &str,
    run: &RunRecord,
) -> Result<(bool, String)> {
    let s = connect(target, Some(name))
        .await
        .map_err(|e| e.with_side(Side::Target))?;
    let plan = ledger::clean_plan(&s, run).await?;
    match plan {
        CleanPlan::DropDatabase => {
            drop(s);
            let force = if admin.major() >= 13 {
                " WITH (FORCE)"
            } else {
                ""
            };
            tracing::info!(database = %name, "{}: dropping the database the earlier run created", Setting::Clean);
            admin
                .batch_execute(&format!("DROP DATABASE {}{force}", quote_ident(name)))
                .await
                .map_err(|e| {
                    crate::Error::from_pg(e)
                        .with_side(Side::Target)
                        .with_step("`clean`")
                })?;
            Ok((
                true,
                format!(
                    "{} dropped the target database, which the unfinished earlier run \
                     ({}) had created; it is migrated again from the start",
                    Setting::Clean,
                    run.summary()
                ),
            ))
        }
        CleanPlan::DropObjects(drops) => {
            for (_, what) in &drops {
                tracing::info!(database = %name, "{}: removing {what}", Setting::Clean);
            }
            ledger::clean_objects(&s, &drops).await?;
            let mut listed: Vec<&str> = drops.iter().take(LISTED).map(|d| d.1.as_str()).collect();
            let more = drops.len().saturating_sub(LISTED);
            let more_text = format!("and {more} more");
            if more > 0 {
                listed.push(&more_text);
            }
            Ok((
                false,
                format!(
                    "{} removed what the unfinished earlier run ({}) had created: {}{}",
                    Setting::Clean,
                    run.summary(),
                    if listed.is_empty() {
                        "no objects (only its ledger)".to_string()
                    } else {
                        listed.join(", ")
                    },
                    "; the database is migrated again from the start"
                ),
            ))
        }
    }
}

/// The replication objects a run of the replication method creates for `name`.
pub fn describe_replication_objects(name: &str, mangle: bool) -> String {
    let n = crate::replication::names::ObjectNames::for_database(name, mangle);
    format!(
        "publication {} and replication slot {} on the source, subscription {} on the target",
        quote_ident(&n.publication),
        quote_ident(&n.slot),
        quote_ident(&n.subscription)
    )
}

/// Every table of `schema` whose rows the selection moves (partitioned parents hold none), as
/// not started: the failure report of a database that failed before its copy.
pub fn tables_not_started(
    schema: &Schema,
    selection: &crate::selection::DbSelection,
) -> Vec<crate::copy::TableStatus> {
    let mut tables: Vec<crate::copy::TableStatus> = (schema.objects.iter())
        .filter(|o| o.kind == crate::schema::model::ObjectKind::Table)
        .filter(|o| {
            !o.create
                .first()
                .is_some_and(|c| c.contains("\nPARTITION BY "))
        })
        .filter_map(|o| Some((o.schema.as_deref()?, o.name.as_str())))
        .filter(|(s, t)| selection.includes_data(s, t))
        .map(|(s, t)| crate::copy::TableStatus {
            schema: s.to_string(),
            table: t.to_string(),
            state: crate::copy::TableState::NotStarted,
            parts: 0,
            parts_copied: 0,
            rows: 0,
            bytes: 0,
            retries: 0,
            snapshots: Vec::new(),
            error: None,
        })
        .collect();
    tables.sort_by(|a, b| (&a.schema, &a.table).cmp(&(&b.schema, &b.table)));
    tables
}
