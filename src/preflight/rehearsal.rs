//! `rehearsal`: each selected database's whole schema created on the target in a transaction
//! that is rolled back ([`crate::schema::rehearsal`]), every statement the target refuses one
//! finding (an error, a warning with `--keep-going`). On by default in a migration and in
//! `--validate`; `--no-rehearsal` turns it off.
//!
//! Databases are rehearsed one after the other: the roles each rehearsal creates (and rolls
//! back) are shared by the whole server, and a second transaction creating the same role would
//! wait for the first. Not rehearsed: a database preflight refused already, and one whose
//! target holds a ledger (`--resume`, `--clean`, a finished database: its objects exist).

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::catalog::databases::DatabaseInfo;
use crate::catalog::roles::list_role_names;
use crate::conn::Session;
use crate::ledger::TargetState;
use crate::options::MigrateOptions;
use crate::report::ValidationReport;
use crate::schema::rehearsal::{Job, rehearse};
use crate::selection::DbSelection;
use crate::selection::preflight::Resolved;

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
) -> HashMap<String, crate::schema::Schema> {
    let mut schemas = HashMap::new();
    let (source_roles, target_roles) =
        match futures::try_join!(list_role_names(i.source), list_role_names(i.target)) {
            Ok(r) => r,
            Err(e) => {
                report.warning(
                    "rehearsal",
                    None,
                    format!("the schema was not rehearsed: the roles could not be listed: {e}"),
                );
                return schemas;
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
    for name in i.selected {
        if opts.cancel.is_cancelled() {
            return schemas;
        }
        if report.database_errors(name).next().is_some() {
            continue;
        }
        let Some(database) = i.source_databases.iter().find(|d| &d.name == name) else {
            continue;
        };
        let exists = i.target_names.contains(name.as_str());
        if exists && !matches!(i.targets.get(name), Some(TargetState::Empty)) {
            continue;
        }
        let selection = i
            .selections
            .get(name)
            .map(|r| r.selection.clone())
            .unwrap_or_else(|| DbSelection::everything(name));
        let job = Job {
            source: &opts.source,
            target: &opts.target,
            target_main: i.target,
            database,
            target_exists: exists,
            selection: &selection,
            excluded_extensions: &opts.excluded_extensions,
            schema: opts.schema,
            missing_roles: &missing_roles,
            cancel: &opts.cancel,
        };
        match rehearse(&job).await {
            Ok(mut r) => {
                if let Some(s) = r.schema.take() {
                    schemas.insert(name.clone(), s);
                }
                tracing::info!(
                    database = %name,
                    objects = r.objects,
                    refused = r.refused.len(),
                    place = %r.place,
                    seconds = format!("{:.2}", r.seconds),
                    "schema rehearsed"
                );
                for f in &r.refused {
                    let message = format!(
                        "the schema rehearsal found an object the target refuses: {}{}",
                        f.summary(),
                        if opts.keep_going {
                            " (--keep-going: it will be skipped with its dependents)"
                        } else {
                            ""
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
