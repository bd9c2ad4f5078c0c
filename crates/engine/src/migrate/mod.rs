//! The orchestrator: preflight, then roles (global, serial), then one task per database.
//!
//! Preflight errors that concern the whole run stop it before anything is written. Errors that
//! concern one database fail only that database; the others go on. Every role and database gets
//! an entry in the [`MigrateResult`], and nothing is reported as done that was not.

use std::collections::HashMap;
use std::sync::Arc;

use tracing::{info, warn};

mod budget;
mod cleanup;
mod database;
mod one;
mod print_ddl;
mod stages;

use crate::catalog::databases::{DatabaseInfo, list_databases};
use crate::catalog::roles::{RoleDbSetting, list_role_db_settings};
use crate::catalog::server::Servers;
use crate::conn::{Session, connect};
use crate::databases::ensure_database;
use crate::error::{Phase, Result, Side};
use crate::options::{MigrateOptions, RunMode};
use crate::owners::Memberships;
use crate::pair::DbPair;
use crate::replication;
use crate::report::Method;
use crate::report::{
    DatabaseResult, DbStatus, MigrateResult, RoleResult, Severity, ValidationReport,
};
use crate::roles::{apply_role_db_settings, migrate_roles};
use crate::schema::{exec, read_schema};
use crate::selection::{DbSelection, filter_schema};
use crate::validate::{Preflight, preflight};
use crate::warning::{self, Warning};

/// What preflight decided for one database: the objects and rows its selection keeps, and
/// whether it goes to the dump method (and why) although replication was possible in general.
struct DbPlan<'a> {
    selection: &'a DbSelection,
    planned_dump: Option<&'a str>,
    /// The source's schema as the rehearsal read it in preflight (unfiltered), if it did:
    /// moved here from the run's map, not copied (at 100,000 tables a schema is hundreds of
    /// megabytes).
    schema: Option<crate::preflight::FilteredSchema>,
}

/// The result of a database that preflight refused: its errors, phase preflight (nothing was
/// written to it).
fn refused_by_preflight(name: &str, report: &ValidationReport) -> DatabaseResult {
    let messages: Vec<String> = report
        .database_errors(name)
        .map(|f| f.message.clone())
        .collect();
    let mut refused = DatabaseResult::new(name, None, DbStatus::Failed, messages.join("; "));
    refused.phase = Some(Phase::Preflight);
    for f in report.database_errors(name) {
        refused.remedies.extend_from_slice(&f.remedies);
    }
    refused
}

/// What [`PgMigrate::run`] produced.
#[derive(Debug)]
pub enum RunOutput {
    /// A migration, a validation, a cleanup or a verification: the result report.
    Result(MigrateResult),
    /// [`RunMode::PrintDdl`]: the SQL, or why it could not be generated.
    Ddl(Result<String>),
}

/// A migration between two servers. See the crate documentation for an example.
pub struct PgMigrate {
    opts: MigrateOptions,
}

impl PgMigrate {
    pub fn new(opts: MigrateOptions) -> Self {
        PgMigrate { opts }
    }

    pub fn options(&self) -> &MigrateOptions {
        &self.opts
    }

    /// Does what [`MigrateOptions::mode`] says: the one entry point that reads it.
    pub async fn run(&self) -> RunOutput {
        match self.opts.mode {
            RunMode::PrintDdl => RunOutput::Ddl(self.generate_ddl().await),
            RunMode::VerifyOnly => RunOutput::Result(self.verify_only().await),
            RunMode::Validate => RunOutput::Result(MigrateResult {
                migration_id: self.opts.migration_id.clone(),
                validation: self.validate().await,
                ..Default::default()
            }),
            RunMode::Migrate | RunMode::Cleanup => RunOutput::Result(self.migrate().await),
        }
    }

    /// Runs every preflight check and reports them together. Nothing is written anywhere.
    pub async fn validate(&self) -> ValidationReport {
        let mut pf = preflight(&self.opts).await;
        self.replication_preflight(&mut pf).await;
        pf.report
    }

    /// The replication method's checks and each database's method, which the run follows (see
    /// [`crate::preflight::method`]).
    async fn replication_preflight(&self, pf: &mut Preflight) {
        crate::preflight::method::replication_preflight(&self.opts, pf).await;
    }

    /// `--verify-only`: compares the selected databases of both servers now; writes nothing.
    pub async fn verify_only(&self) -> MigrateResult {
        crate::verify::databases::verify_databases(&self.opts).await
    }

    /// Runs the migration: preflight, roles, then databases. Never panics on server errors:
    /// they end up in the result (see [`MigrateResult::succeeded`]).
    pub async fn migrate(&self) -> MigrateResult {
        let mut pf = preflight(&self.opts).await;
        self.replication_preflight(&mut pf).await;
        // Fewer sessions than asked for when the servers cannot give them (see crate::slots).
        if let (Some(s), Some(t)) = (&pf.source_facts, &pf.target_facts)
            && let Some((opts, warnings)) = crate::slots::fit(
                &self.opts,
                &crate::slots::free_slots(s),
                &crate::slots::free_slots(t),
            )
        {
            // In the report's warnings: logged at info (-v), not printed twice.
            for w in &warnings {
                info!("{w}");
            }
            let mut result = PgMigrate::new(opts).migrate_after_preflight(pf).await;
            result.warnings.splice(0..0, warnings);
            crate::board::sync(&result);
            crate::progress::finish_display();
            return result;
        }
        let result = self.migrate_after_preflight(pf).await;
        crate::board::sync(&result);
        crate::progress::finish_display();
        result
    }

    /// [`PgMigrate::migrate`] once preflight has run.
    async fn migrate_after_preflight(&self, pf: Preflight) -> MigrateResult {
        let opts = &self.opts;
        let mut result = MigrateResult {
            migration_id: opts.migration_id.clone(),
            validation: pf.report.clone(),
            ..Default::default()
        };
        if pf.report.global_errors().next().is_some() {
            warn!("preflight failed; nothing was migrated");
            return result;
        }
        let Some(ready) = Ready::of(pf) else {
            // Preflight reports unreachable servers as global errors; this is a safety net.
            result.warnings.push(Warning::connection(
                "preflight could not open sessions to both servers; nothing was migrated",
            ));
            return result;
        };

        if opts.mode == RunMode::Cleanup {
            for name in &ready.selected {
                let pair = DbPair::new(&opts.source, &opts.target, name, opts.cancel.clone())
                    .with_servers(ready.servers.clone());
                let (entry, warnings) = self.cleanup_database(&pair).await;
                result.databases.push(entry);
                result.warnings.extend(warnings);
            }
            return result;
        }

        // Roles are written only for a database that will be migrated: when preflight refused
        // every one (a missing target database with --no-createdb, a target not empty...),
        // nothing at all is written.
        if ready
            .selected
            .iter()
            .all(|n| ready.report.database_errors(n).next().is_some())
        {
            warn!("preflight refused every database; nothing was migrated");
            for name in &ready.selected {
                result
                    .databases
                    .push(refused_by_preflight(name, &ready.report));
            }
            return result;
        }
        let roles = self.roles_stage(&ready).await;
        result.roles = roles.roles;
        result.warnings.extend(roles.warnings);
        let databases = self
            .databases_stage(ready, &result.roles, &roles.db_settings)
            .await;
        self.end_of_run(result, databases).await
    }

    /// The roles, with attributes, settings and memberships (provider roles such as rdsadmin
    /// or cloudsqladmin are left out like -xr ones), and the source's per-database role
    /// settings, which each database's stage applies. What fails is a warning: the databases
    /// are migrated all the same.
    async fn roles_stage(&self, ready: &Ready) -> RolesDone {
        info!("migrating roles");
        let mut role_opts = self.opts.clone();
        role_opts
            .excluded_roles
            .extend(ready.provider_roles.iter().cloned());
        match migrate_roles(&ready.source, &ready.target, &role_opts).await {
            Ok((roles, mut warnings)) => {
                let db_settings = match list_role_db_settings(&ready.source).await {
                    Ok(s) => s,
                    Err(e) => {
                        warnings.push(Warning::role(format!(
                            "per-database role settings could not be read from the source: {e}"
                        )));
                        Vec::new()
                    }
                };
                RolesDone {
                    roles,
                    warnings,
                    db_settings,
                }
            }
            Err(e) => RolesDone {
                roles: Vec::new(),
                warnings: vec![Warning::role(format!("roles could not be migrated: {e}"))],
                db_settings: Vec::new(),
            },
        }
    }

    /// Every selected database the source has, as many at once as the budget allows; their
    /// outcomes in the source's order.
    async fn databases_stage(
        &self,
        ready: Ready,
        roles: &[RoleResult],
        role_db_settings: &[RoleDbSetting],
    ) -> DatabasesDone {
        let opts = &self.opts;
        let Ready {
            target,
            source_databases,
            target_databases,
            selected,
            report,
            target_states,
            selections,
            methods,
            schemas,
            servers,
            ..
        } = ready;
        let targets: HashMap<&str, &DatabaseInfo> = target_databases
            .iter()
            .map(|d| (d.name.as_str(), d))
            .collect();
        let mut memberships = Memberships::new(&servers.target);
        memberships.note_roles(roles, &opts.excluded_roles);
        crate::board::start(&selected);
        let budget = budget::Budget::of(opts, &servers, selected.len());
        if budget.databases > 1 {
            // Shown by default (a progress line): what the operator sees move at once.
            info!(
                target: "db_migrate::progress",
                databases = selected.len(),
                at_once = budget.databases,
                copy_sessions = opts.copy.jobs.get(),
                schema_sessions = opts.ddl_sessions(),
                "migrating databases concurrently"
            );
        }
        let run = one::RunContext {
            servers: servers.clone(),
            source_databases: &source_databases,
            targets,
            report: &report,
            target_states: &target_states,
            selections: &selections,
            methods: &methods,
            schemas: &std::sync::Mutex::new(schemas),
            role_db_settings,
            roles,
            memberships: tokio::sync::Mutex::new(memberships),
            in_flight: std::sync::atomic::AtomicUsize::new(0),
            admin: tokio::sync::Mutex::new(target),
            budget,
        };
        // Databases in flight at once, their results in the source's order.
        use futures::StreamExt;
        let outcomes: Vec<(DatabaseResult, Vec<Warning>)> = futures::stream::iter(&selected)
            .filter(|name| {
                let known = source_databases.iter().any(|d| &d.name == *name);
                async move { known }
            })
            .map(|name| self.migrate_one(&run, name))
            .buffered(run.budget.databases)
            .collect()
            .await;
        let memberships = run.memberships.into_inner();
        let target = run.admin.into_inner();
        DatabasesDone {
            outcomes,
            memberships,
            target,
            source_databases,
        }
    }

    /// The databases' entries and warnings into the result, then the run's end
    /// ([`crate::recovery::finish_run`]) on the admin session.
    async fn end_of_run(&self, mut result: MigrateResult, done: DatabasesDone) -> MigrateResult {
        let DatabasesDone {
            outcomes,
            mut memberships,
            mut target,
            source_databases,
        } = done;
        for (entry, warnings) in outcomes {
            result.warnings.extend(warnings);
            result.databases.push(entry);
        }
        // A target restart closes this session (the copy heals its own by retrying).
        if target.is_closed()
            && let Ok(s) = connect(&self.opts.target, None).await
        {
            target = s;
        }
        crate::recovery::finish_run(
            &self.opts.target,
            &mut result,
            &target,
            &mut memberships,
            &source_databases,
        )
        .await;
        result
    }

    /// Schema and data of one database whose target database exists: pre-data, then (unless
    /// schema-only) the parallel copy with each table's post-data work as soon as its rows are
    /// in, then the remaining post-data. Returns the result entry and warnings for the run.
    async fn migrate_contents(
        &self,
        pair: &DbPair,
        created: &str,
        run: &crate::ledger::RunRecord,
        memberships: &tokio::sync::Mutex<Memberships>,
        budget: &budget::Budget,
        plan: DbPlan<'_>,
    ) -> (DatabaseResult, Vec<Warning>) {
        let name = pair.source_db();
        let mut warnings = Vec::new();
        let mut entry = DatabaseResult::new(name, None, DbStatus::Failed, String::new());
        let cancel = self.opts.cancel.clone();
        let work = self.schema_and_data(
            pair,
            run,
            &mut entry,
            &mut warnings,
            stages::RunShare {
                memberships,
                budget,
            },
            plan,
        );
        let outcome = tokio::select! {
            r = work => r,
            // The copy stops by itself (and reports its tables); stages that do not watch the
            // token (a replication wait) end here, a moment later: their sessions close and
            // the servers roll back what was open.
            _ = async {
                cancel.cancelled().await;
                tokio::time::sleep(CANCEL_GRACE).await;
            } => Err(crate::cancel::cancelled()),
        };
        match outcome {
            Ok(summary) => {
                if entry.status == DbStatus::Failed && entry.objects_failed.is_empty() {
                    entry.status = DbStatus::Done;
                } else if !entry.objects_failed.is_empty() {
                    entry.status = DbStatus::Failed;
                    entry.phase = Some(Phase::Schema);
                }
                entry.message = format!("{created}; {summary}");
                // Table states are for databases that failed.
                entry.tables.clear();
            }
            Err(e) if self.opts.cancel.is_cancelled() => {
                entry.status = DbStatus::Failed;
                entry.phase = e.phase();
                entry.remedies.extend_from_slice(e.remedies());
                entry.message = format!("interrupted ({created}): {e}");
            }
            Err(e) => {
                entry.phase = e.phase();
                entry.remedies.extend_from_slice(e.remedies());
                entry.message = format!("{created}; {e}");
            }
        }
        (entry, warning::in_database(warnings, name).collect())
    }
}

/// What preflight gives the run once both servers answered: their sessions and facts, their
/// databases, and what it decided about each selected one.
struct Ready {
    source: Session,
    /// The orchestrator's session on the target's maintenance database.
    target: Session,
    source_databases: Vec<DatabaseInfo>,
    target_databases: Vec<DatabaseInfo>,
    selected: Vec<String>,
    report: ValidationReport,
    target_states: HashMap<String, crate::preflight::target_state::TargetState>,
    selections: std::collections::BTreeMap<String, crate::selection::preflight::Resolved>,
    provider_roles: Vec<String>,
    methods: crate::preflight::method::MethodPlan,
    schemas: HashMap<String, crate::preflight::FilteredSchema>,
    /// Read once by preflight; every stage of every database gets them through its pair.
    servers: Arc<Servers>,
}

impl Ready {
    /// `None` when preflight could not open sessions to both servers or read their facts.
    fn of(pf: Preflight) -> Option<Ready> {
        let Preflight {
            source: Some(source),
            target: Some(target),
            source_databases,
            target_databases,
            selected,
            report,
            targets: target_states,
            source_facts: Some(source_facts),
            target_facts: Some(target_facts),
            selections,
            provider_roles,
            methods,
            schemas,
            ..
        } = pf
        else {
            return None;
        };
        Some(Ready {
            source,
            target,
            source_databases,
            target_databases,
            selected,
            report,
            target_states,
            selections,
            provider_roles,
            methods,
            schemas,
            servers: Arc::new(Servers {
                source: source_facts,
                target: target_facts,
            }),
        })
    }
}

/// The roles migrated (or not: then none, and the warning), and the source's per-database
/// role settings.
struct RolesDone {
    roles: Vec<RoleResult>,
    warnings: Vec<Warning>,
    db_settings: Vec<RoleDbSetting>,
}

/// The databases' outcomes in the source's order, and what the run's end needs: the
/// memberships the databases took, the admin session, the source's databases.
struct DatabasesDone {
    outcomes: Vec<(DatabaseResult, Vec<Warning>)>,
    memberships: Memberships,
    target: Session,
    source_databases: Vec<DatabaseInfo>,
}

/// How long a database's work may take to stop by itself after an interrupt before it is
/// dropped (the copy cancels its statements and reports its tables within a few seconds).
const CANCEL_GRACE: std::time::Duration = std::time::Duration::from_secs(8);

/// Runs `fut` unless the run is interrupted first: then nothing more of it runs (its sessions
/// close, the server rolls back the statement in progress).
async fn until_cancelled<T>(
    cancel: &tokio_util::sync::CancellationToken,
    fut: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    tokio::select! {
        r = fut => r,
        _ = cancel.cancelled() => Err(crate::cancel::cancelled()),
    }
}
