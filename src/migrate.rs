//! The orchestrator: preflight, then roles (global, serial), then one task per database.
//!
//! Preflight errors that concern the whole run stop it before anything is written. Errors that
//! concern one database fail only that database; the others go on. Every role and database gets
//! an entry in the [`MigrateResult`], and nothing is reported as done that was not.

use std::collections::HashMap;

use tracing::{info, warn};

use crate::catalog::databases::{DatabaseInfo, list_databases, select_databases};
use crate::catalog::roles::{RoleDbSetting, list_role_db_settings};
use crate::conn::connect;
use crate::databases::ensure_database;
use crate::error::{Result, Side};
use crate::options::MigrateOptions;
use crate::report::{DatabaseResult, DbStatus, MigrateResult, ValidationReport};
use crate::roles::{apply_role_db_settings, migrate_roles};
use crate::schema::{ExecReport, TargetFacts, exec, read_schema};
use crate::validate::{Preflight, preflight};

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

    /// Runs every preflight check and reports them together. Nothing is written anywhere.
    pub async fn validate(&self) -> ValidationReport {
        preflight(&self.opts).await.report
    }

    /// Runs the migration: preflight, roles, then databases. Never panics on server errors:
    /// they end up in the result (see [`MigrateResult::succeeded`]).
    pub async fn migrate(&self) -> MigrateResult {
        let opts = &self.opts;
        let pf = preflight(opts).await;
        let mut result = MigrateResult {
            migration_id: opts.migration_id.clone(),
            validation: pf.report.clone(),
            ..Default::default()
        };
        if pf.report.global_errors().next().is_some() {
            warn!("preflight failed; nothing was migrated");
            return result;
        }
        let Preflight {
            source: Some(source),
            target: Some(target),
            source_databases,
            target_databases,
            selected,
            report,
            ..
        } = pf
        else {
            // Preflight reports unreachable servers as global errors; this is a safety net.
            result.warnings.push(
                "preflight could not open sessions to both servers; nothing was migrated".into(),
            );
            return result;
        };

        info!("migrating roles");
        let role_db_settings: Vec<RoleDbSetting> = match migrate_roles(&source, &target, opts).await
        {
            Ok((roles, warnings)) => {
                result.roles = roles;
                result.warnings.extend(warnings);
                match list_role_db_settings(&source).await {
                    Ok(s) => s,
                    Err(e) => {
                        result.warnings.push(format!(
                            "per-database role settings could not be read from the source: {e}"
                        ));
                        Vec::new()
                    }
                }
            }
            Err(e) => {
                result
                    .warnings
                    .push(format!("roles could not be migrated: {e}"));
                Vec::new()
            }
        };

        let targets: HashMap<&str, &DatabaseInfo> = target_databases
            .iter()
            .map(|d| (d.name.as_str(), d))
            .collect();
        for name in &selected {
            let Some(src) = source_databases.iter().find(|d| &d.name == name) else {
                continue;
            };
            let db_errors: Vec<String> = report
                .database_errors(name)
                .map(|f| f.message.clone())
                .collect();
            if !db_errors.is_empty() {
                result.databases.push(DatabaseResult {
                    dbname: name.clone(),
                    method: None,
                    status: DbStatus::Failed,
                    message: db_errors.join("; "),
                });
                continue;
            }
            info!(database = %name, "migrating database");
            let existing = targets.get(name.as_str()).copied();
            let entry = match ensure_database(&target, src, existing, opts.createdb).await {
                Ok(outcome) => {
                    result.warnings.extend(outcome.warnings);
                    if role_db_settings.iter().any(|s| &s.database == name) {
                        let w =
                            apply_role_db_settings(&target, &role_db_settings, name, &result.roles)
                                .await;
                        result.warnings.extend(w);
                    }
                    let created = if outcome.created {
                        "created database"
                    } else {
                        "existing database"
                    };
                    match self.migrate_schema(name).await {
                        Ok((objects, rep)) => {
                            let mut msg = format!("{created}; schema migrated ({objects} objects)");
                            if rep.owners_not_kept > 0 {
                                msg.push_str(&format!(
                                    "; {} objects could not keep their owner and are owned by the migration user",
                                    rep.owners_not_kept
                                ));
                            }
                            if !rep.warnings.is_empty() {
                                msg.push_str(&format!("; {} schema warnings", rep.warnings.len()));
                            }
                            msg.push_str("; data not copied (--schema-only)");
                            result.warnings.extend(
                                rep.warnings
                                    .into_iter()
                                    .map(|w| format!("database \"{name}\": {w}")),
                            );
                            DatabaseResult {
                                dbname: name.clone(),
                                method: None,
                                status: DbStatus::Done,
                                message: msg,
                            }
                        }
                        Err(e) => DatabaseResult {
                            dbname: name.clone(),
                            method: None,
                            status: DbStatus::Failed,
                            message: format!("{created}; schema migration failed: {e}"),
                        },
                    }
                }
                Err(e) => DatabaseResult {
                    dbname: name.clone(),
                    method: None,
                    status: DbStatus::Failed,
                    message: e.to_string(),
                },
            };
            result.databases.push(entry);
        }
        result
    }

    /// Reads the schema of `dbname` on the source and creates it in the target database of the
    /// same name: pre-data, then post-data. Returns the number of objects and what happened.
    async fn migrate_schema(&self, dbname: &str) -> Result<(usize, ExecReport)> {
        let source = connect(&self.opts.source, Some(dbname))
            .await
            .map_err(|e| e.with_side(Side::Source))?;
        let schema = read_schema(&source)
            .await
            .map_err(|e| e.with_side(Side::Source).with_phase("reading the schema"))?;
        let target = connect(&self.opts.target, Some(dbname))
            .await
            .map_err(|e| e.with_side(Side::Target))?;
        exec::prepare_session(&target).await?;
        let facts = TargetFacts::read(&target).await?;
        let phase = |e: crate::Error, p| e.with_side(Side::Target).with_phase(p);
        let mut report = exec::apply(&target, schema.pre_data(), self.opts.schema, &facts)
            .await
            .map_err(|e| phase(e, "pre-data schema"))?;
        report.merge(
            exec::apply(&target, schema.post_data(), self.opts.schema, &facts)
                .await
                .map_err(|e| phase(e, "post-data schema"))?,
        );
        report.warnings.extend(schema.warnings);
        Ok((schema.objects.len(), report))
    }

    /// The SQL that a migration would run for every database to migrate, read from the source
    /// only (`--print-ddl`): nothing is written to the target.
    pub async fn generate_ddl(&self) -> Result<String> {
        let source = connect(&self.opts.source, None)
            .await
            .map_err(|e| e.with_side(Side::Source))?;
        let all = list_databases(&source).await?;
        let mut out = String::new();
        for db in select_databases(&all, &self.opts.filtered_dbs) {
            let s = connect(&self.opts.source, Some(&db.name))
                .await
                .map_err(|e| e.with_side(Side::Source).with_database(db.name.clone()))?;
            let schema = read_schema(&s)
                .await
                .map_err(|e| e.with_side(Side::Source).with_database(db.name.clone()))?;
            out.push_str(&format!(
                "--\n-- database {}\n--\n",
                crate::sql::quote_ident(&db.name)
            ));
            for w in &schema.warnings {
                out.push_str(&format!("-- warning: {w}\n"));
            }
            out.push_str(&exec::script(&schema, self.opts.schema));
            out.push('\n');
        }
        Ok(out)
    }
}
