//! The orchestrator: preflight, then roles (global, serial), then one task per database.
//!
//! Preflight errors that concern the whole run stop it before anything is written. Errors that
//! concern one database fail only that database; the others go on. Every role and database gets
//! an entry in the [`MigrateResult`], and nothing is reported as done that was not.

use std::collections::HashMap;

use tracing::{info, warn};

use crate::catalog::databases::DatabaseInfo;
use crate::catalog::roles::{RoleDbSetting, list_role_db_settings};
use crate::databases::ensure_database;
use crate::options::MigrateOptions;
use crate::report::{DatabaseResult, DbStatus, MigrateResult, ValidationReport};
use crate::roles::{apply_role_db_settings, migrate_roles};
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
                    DatabaseResult {
                        dbname: name.clone(),
                        method: None,
                        status: DbStatus::Done,
                        message: if outcome.created {
                            "created database with the source's properties; schema and data are not migrated by this version".into()
                        } else {
                            "database already exists in the target and was left unchanged; schema and data are not migrated by this version".into()
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
}
