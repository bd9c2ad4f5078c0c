//! One database of a run, from the orchestrator's side: whether it is left alone (refused by
//! preflight, done by an earlier run), what an earlier run left (its statements still running,
//! `--clean`), the target database itself and its role settings, then its contents
//! ([`PgMigrate::migrate_contents`]). Several of these run at once (see [`super::budget`]);
//! everything they share is in [`RunContext`].

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;
use crate::conn::Session;
use crate::preflight::target_state::TargetState;
use crate::remedy::Setting;
use crate::report::RoleResult;

/// What every database of one run reads (preflight's findings, the roles stage's results) and
/// shares (the migration user's memberships, the orchestrator's target session, the budget).
pub(super) struct RunContext<'a> {
    pub servers: Arc<Servers>,
    pub source_databases: &'a [DatabaseInfo],
    pub targets: HashMap<&'a str, &'a DatabaseInfo>,
    pub report: &'a ValidationReport,
    pub target_states: &'a HashMap<String, TargetState>,
    pub selections: &'a BTreeMap<String, crate::selection::preflight::Resolved>,
    pub methods: &'a crate::preflight::method::MethodPlan,
    /// The schemas preflight's rehearsal read, each taken out by its database's run.
    pub schemas: &'a std::sync::Mutex<HashMap<String, crate::preflight::FilteredSchema>>,
    pub role_db_settings: &'a [RoleDbSetting],
    pub roles: &'a [RoleResult],
    /// Taken by each database for its owners; revoked once no database is in flight (a
    /// membership one database took may be what another, still running, relies on).
    pub memberships: tokio::sync::Mutex<Memberships>,
    pub in_flight: AtomicUsize,
    /// The orchestrator's session on the target's maintenance database: used by one database
    /// at a time when they run one after the other; concurrent databases open their own, so
    /// that one `CREATE DATABASE` does not wait for another.
    pub admin: tokio::sync::Mutex<Session>,
    pub budget: super::budget::Budget,
}

/// The session a database creates its target database with (see [`RunContext::admin`]).
enum Admin<'a> {
    Shared(tokio::sync::MutexGuard<'a, Session>),
    Own(Box<Session>),
}

impl std::ops::Deref for Admin<'_> {
    type Target = Session;
    fn deref(&self) -> &Session {
        match self {
            Admin::Shared(s) => s,
            Admin::Own(s) => s,
        }
    }
}

impl PgMigrate {
    /// Migrates database `name` and returns its report entry and the warnings for the run.
    pub(super) async fn migrate_one(
        &self,
        run: &RunContext<'_>,
        name: &String,
    ) -> (DatabaseResult, Vec<Warning>) {
        run.in_flight.fetch_add(1, Ordering::SeqCst);
        let mut warnings = Vec::new();
        let entry = self.migrate_one_inner(run, name, &mut warnings).await;
        // The last database in flight gives back the memberships the run took (the next one
        // to start takes what it needs again).
        if run.in_flight.fetch_sub(1, Ordering::SeqCst) == 1 {
            let mut m = run.memberships.lock().await;
            match self.admin(run).await {
                Ok(admin) => warnings.extend(warning::in_database(m.release(&admin).await, name)),
                Err(e) => tracing::debug!("memberships not revoked yet: {e}"),
            }
        }
        crate::board::database_done(&entry, &warnings);
        (entry, warnings)
    }

    /// The target session for this database's server-level statements.
    async fn admin<'a>(&self, run: &'a RunContext<'_>) -> Result<Admin<'a>> {
        if run.budget.databases > 1 {
            return Ok(Admin::Own(Box::new(
                connect(&self.opts.target, None).await?,
            )));
        }
        let mut shared = run.admin.lock().await;
        // A target restart closes this session (the copy heals its own by retrying): the
        // databases after it get a new one.
        if shared.is_closed() {
            *shared = connect(&self.opts.target, None).await?;
        }
        Ok(Admin::Shared(shared))
    }

    /// The database's stages in order: whether it runs at all, what an earlier run left, the
    /// target database, then its contents. A step that ends the database early returns its
    /// entry as the error.
    async fn migrate_one_inner(
        &self,
        run: &RunContext<'_>,
        name: &String,
        warnings: &mut Vec<Warning>,
    ) -> DatabaseResult {
        let opts = &self.opts;
        let pair = DbPair::new(&opts.source, &opts.target, name, opts.cancel.clone())
            .with_servers(run.servers.clone());
        let src = run
            .source_databases
            .iter()
            .find(|d| &d.name == name)
            .expect("only the source's databases are migrated");
        let target = match self.open_database(run, name).await {
            Ok(t) => t,
            Err(entry) => return *entry,
        };
        let state = run.target_states.get(name);
        // A database this migration finished in an earlier run (its ledger says so, for
        // this source and these options: preflight checked) is left alone by --resume and
        // by the cut-over run; anything else non-empty was refused by preflight.
        if let Some(TargetState::Ledger(earlier)) = state
            && earlier.stage == crate::ledger::Stage::Done
            && (opts.resume || opts.replication.is_cut_over())
            && !opts.clean
        {
            return self.already_done(&pair, earlier).await;
        }
        let existing = run.targets.get(name.as_str()).copied();
        let ledger_run = match state {
            Some(TargetState::Ledger(earlier)) => Some((**earlier).clone()),
            _ => None,
        };
        let (existing, ledger_run) = match self
            .recover_earlier(&target, name, existing, ledger_run, warnings)
            .await
        {
            Ok(left) => left,
            Err(entry) => return *entry,
        };
        info!(database = %name, "migrating database");
        crate::board::phase(name, "schema");
        let outcome = match self
            .create_target_database(run, &target, src, existing, warnings)
            .await
        {
            Ok(o) => o,
            Err(entry) => return *entry,
        };
        // The contents open their own sessions: a shared admin session is free for the
        // databases after this one.
        drop(target);
        let created = if ledger_run.is_some() {
            "resumed"
        } else if outcome.created {
            "created database"
        } else {
            "existing database"
        };
        let record = ledger_run.unwrap_or_else(|| self.new_record(run, src, outcome.created));
        let selection = run
            .selections
            .get(name)
            .map(|r| r.selection.clone())
            .unwrap_or_else(|| DbSelection::everything(name));
        // Taken in a statement of its own: the lock is not held while the database runs.
        let rehearsed = run.schemas.lock().expect("not poisoned").remove(name);
        let (entry, w) = self
            .migrate_contents(
                &pair,
                created,
                &record,
                &run.memberships,
                &run.budget,
                DbPlan {
                    selection: &selection,
                    planned_dump: run.methods.dump_reason(name),
                    schema: rehearsed,
                },
            )
            .await;
        warnings.extend(w);
        entry
    }

    /// The admin session database `name` runs its server-level statements in, unless the run
    /// was interrupted, preflight refused the database, or the session cannot be reopened:
    /// then the database's entry.
    async fn open_database<'a>(
        &self,
        run: &'a RunContext<'_>,
        name: &str,
    ) -> std::result::Result<Admin<'a>, Box<DatabaseResult>> {
        if self.opts.cancel.is_cancelled() {
            return Err(Box::new(DatabaseResult::new(
                name,
                None,
                DbStatus::Failed,
                "interrupted before it started".into(),
            )));
        }
        if run.report.database_errors(name).next().is_some() {
            return Err(Box::new(refused_by_preflight(name, run.report)));
        }
        self.admin(run).await.map_err(|e| {
            Box::new(DatabaseResult::new(
                name,
                None,
                DbStatus::Failed,
                format!("the target's session was lost and cannot be reopened: {e}"),
            ))
        })
    }

    /// What an earlier run of this migration left in database `name`: waits for its
    /// statements still running (with `--resume` or `--clean`), and removes what it wrote
    /// (`--clean`, or a resume that stopped in the schema). Returns the target database and
    /// ledger record left afterwards (none once cleaned away), or the entry of a failed
    /// `--clean`.
    async fn recover_earlier<'e>(
        &self,
        target: &Session,
        name: &String,
        mut existing: Option<&'e DatabaseInfo>,
        mut ledger_run: Option<crate::ledger::RunRecord>,
        warnings: &mut Vec<Warning>,
    ) -> std::result::Result<
        (Option<&'e DatabaseInfo>, Option<crate::ledger::RunRecord>),
        Box<DatabaseResult>,
    > {
        let opts = &self.opts;
        // An earlier run's backends may still be finishing what it had sent them.
        if ledger_run.is_some() && (opts.resume || opts.clean) {
            match crate::recovery::wait_for_earlier_statements(
                &opts.target,
                name,
                crate::recovery::EARLIER_STATEMENTS_WAIT,
            )
            .await
            {
                Ok(Some(w)) => warnings.push(w),
                Ok(None) => {}
                Err(e) => {
                    tracing::debug!(database = %name, "could not look for an earlier run's statements: {e}")
                }
            }
        }
        // --clean, or a resume of a run that stopped in the middle of the schema (which
        // cannot be continued object by object): remove what the earlier run wrote.
        if let Some(earlier) = &ledger_run
            && (opts.clean || (opts.resume && earlier.stage == crate::ledger::Stage::PreData))
        {
            match crate::recovery::clean(target, &opts.target, name, earlier).await {
                Ok((dropped_db, removed)) => {
                    warnings.push(Warning::recovery(removed).in_database(name));
                    if dropped_db {
                        existing = None;
                    }
                    ledger_run = None;
                }
                Err(e) => {
                    return Err(Box::new(
                        DatabaseResult::new(
                            name,
                            None,
                            DbStatus::Failed,
                            format!("{} failed: {e}", Setting::Clean),
                        )
                        .with_remedies(e.remedies()),
                    ));
                }
            }
        }
        Ok((existing, ledger_run))
    }

    /// Creates (or adjusts) the target database of `src` and applies its roles' settings in
    /// it; the outcome, its warnings already in `warnings`, or the entry of a database that
    /// could not be created.
    async fn create_target_database(
        &self,
        run: &RunContext<'_>,
        target: &Session,
        src: &DatabaseInfo,
        existing: Option<&DatabaseInfo>,
        warnings: &mut Vec<Warning>,
    ) -> std::result::Result<crate::databases::DbOutcome, Box<DatabaseResult>> {
        let opts = &self.opts;
        let name = &src.name;
        // The database's owner, like its objects' owners, needs the migration user's
        // membership when it is not a superuser (see crate::owners).
        if existing.is_none() {
            run.memberships
                .lock()
                .await
                .take(target, [src.owner.as_str()])
                .await;
        }
        let mut outcome =
            match ensure_database(target, src, existing, opts.createdb, opts.schema.no_acl).await {
                Ok(o) => o,
                Err(e) => {
                    return Err(Box::new(
                        DatabaseResult::new(name, None, DbStatus::Failed, e.to_string())
                            .with_remedies(e.remedies()),
                    ));
                }
            };
        warnings.append(&mut outcome.warnings);
        if run.role_db_settings.iter().any(|s| &s.database == name) {
            let w = apply_role_db_settings(target, run.role_db_settings, name, run.roles).await;
            warnings.extend(w);
        }
        Ok(outcome)
    }

    /// The ledger record of a database no earlier run of this migration started.
    fn new_record(
        &self,
        run: &RunContext<'_>,
        src: &DatabaseInfo,
        created_database: bool,
    ) -> crate::ledger::RunRecord {
        let opts = &self.opts;
        crate::ledger::RunRecord {
            run_id: opts.migration_id.clone(),
            source_system_identifier: run.servers.source.system_identifier,
            source_database_oid: src.oid,
            source_database: src.name.clone(),
            method: None,
            options: crate::options::shaping_options(opts),
            stage: crate::ledger::Stage::PreData,
            created_database,
            existing_schemas: Vec::new(),
            existing_extensions: Vec::new(),
            started_at: String::new(),
            parts_copied: 0,
            parts_total: 0,
            finished_at: None,
        }
    }

    /// The entry of a database an earlier run of this migration finished: left unchanged,
    /// verified again with `--resume --verify` (it may have ended just before a signal).
    async fn already_done(
        &self,
        pair: &DbPair,
        earlier: &crate::ledger::RunRecord,
    ) -> DatabaseResult {
        let opts = &self.opts;
        let how = if opts.resume {
            format!("skipped ({})", Setting::Resume)
        } else {
            "nothing to cut over".to_owned()
        };
        let mut entry = DatabaseResult::new(
            pair.source_db(),
            earlier.method.as_deref().and_then(Method::parse),
            DbStatus::Done,
            format!(
                "{how}: {} (its ledger in the target database says so); left unchanged",
                earlier.summary()
            ),
        );
        if opts.verify.after_copy {
            match self.verify_after_copy(pair, None).await {
                Ok(v) => {
                    entry.message.push_str("; ");
                    entry.message.push_str(&v.summary());
                    entry.verify = Some(v);
                }
                Err(e) => {
                    entry.status = DbStatus::Failed;
                    entry.phase = e.phase();
                    entry
                        .message
                        .push_str(&format!("; {} failed: {e}", Setting::Verify));
                }
            }
        }
        entry
    }
}
