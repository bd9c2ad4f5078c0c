//! Per-database probes: what each selected source database (and its target counterpart)
//! holds, read once with at most one session per side, and the target-wide facts the
//! per-database checks share. The checks themselves ([`super::databases`]) are pure functions of
//! these probes.

use std::collections::BTreeMap;

use crate::catalog::server::{
    AvailableExtension, InstalledExtension, available_extensions, has_large_objects,
    installed_extensions, languages, standalone_languages,
};
use crate::conn::{ConnInfo, Session, connect};
use crate::error::{Error, Result};
use crate::options::MigrateOptions;
use crate::report::ValidationReport;

/// Target-wide facts the per-database checks share.
pub(super) struct TargetServer {
    /// Available extensions by name (`None`: unreadable, already reported).
    pub(super) available: Option<BTreeMap<String, AvailableExtension>>,
    /// `pg_language` of the target's default database.
    pub(super) default_languages: Option<Vec<String>>,
}

pub(super) async fn read_target_server(
    target: &Session,
    report: &mut ValidationReport,
) -> TargetServer {
    let (available, langs) = tokio::join!(available_extensions(target), languages(target));
    let available = match available {
        Ok(list) => Some(list.into_iter().map(|a| (a.name.clone(), a)).collect()),
        Err(e) => {
            report.error(
                "extensions",
                None,
                format!(
                    "could not read the extensions available in the target: {e}; the \
                     extensions check was skipped"
                ),
            );
            None
        }
    };
    let default_languages = match langs {
        Ok(l) => Some(l),
        Err(e) => {
            report.warning(
                "languages",
                None,
                format!("could not read the languages of the target's default database: {e}"),
            );
            None
        }
    };
    TargetServer {
        available,
        default_languages,
    }
}

/// What one source database holds (read in that database).
pub(super) struct SourceDb {
    pub(super) extensions: Result<Vec<InstalledExtension>>,
    pub(super) languages: Result<Vec<String>>,
    /// The languages created without an extension (the schema stage creates them).
    pub(super) standalone_languages: Result<Vec<String>>,
    pub(super) large_objects: Result<bool>,
}

/// The target counterpart of a source database.
pub(super) enum TargetDb {
    /// The target could not be used: nothing known.
    Unknown,
    /// No database of that name in the target.
    Missing,
    /// It exists but the target user cannot connect.
    Unreachable(Error),
    Reachable {
        extensions: Result<Vec<InstalledExtension>>,
        languages: Result<Vec<String>>,
    },
}

pub(super) struct DbProbe {
    pub(super) name: String,
    pub(super) source: std::result::Result<SourceDb, Error>,
    pub(super) target: TargetDb,
}

/// `default` when it is already connected to `db`, else a new session on `db`.
async fn session_for<'a>(
    info: &ConnInfo,
    default: &'a Session,
    db: &str,
    owned: &'a mut Option<Session>,
) -> Result<&'a Session> {
    if default.info().dbname() == db {
        return Ok(default);
    }
    Ok(owned.insert(connect(info, Some(db)).await?))
}

pub(super) async fn probe_database(
    opts: &MigrateOptions,
    source: &Session,
    target: Option<&Session>,
    in_target: bool,
    name: &str,
) -> DbProbe {
    let source_fut = async {
        let mut owned = None;
        let s = session_for(&opts.source, source, name, &mut owned).await?;
        let (extensions, languages, standalone_languages, large_objects) = tokio::join!(
            installed_extensions(s),
            languages(s),
            standalone_languages(s),
            has_large_objects(s)
        );
        Ok(SourceDb {
            extensions,
            languages,
            standalone_languages,
            large_objects,
        })
    };
    let target_fut = async {
        let Some(target) = target else {
            return TargetDb::Unknown;
        };
        if !in_target {
            return TargetDb::Missing;
        }
        let mut owned = None;
        match session_for(&opts.target, target, name, &mut owned).await {
            Ok(t) => {
                let (extensions, languages) = tokio::join!(installed_extensions(t), languages(t));
                TargetDb::Reachable {
                    extensions,
                    languages,
                }
            }
            Err(e) => TargetDb::Unreachable(e),
        }
    };
    let (source, target) = tokio::join!(source_fut, target_fut);
    DbProbe {
        name: name.to_string(),
        source,
        target,
    }
}
