//! The per-database checks on the probes ([`super::probe`]): `databases` (who can connect,
//! what must exist), `languages`, `extensions` and `large-objects`. No I/O: each check reads a
//! [`DbProbe`] and writes findings.

use std::cmp::Ordering;
use std::collections::{BTreeSet, HashSet};

use super::probe::{DbProbe, TargetDb, TargetServer};
use crate::catalog::server::{
    AvailableExtension, InstalledExtension, ServerFacts, compare_versions,
};
use crate::options::MigrateOptions;
use crate::remedy::{Remedy, Setting};
use crate::report::ValidationReport;

pub(super) fn check_database_access(
    report: &mut ValidationReport,
    opts: &MigrateOptions,
    p: &DbProbe,
    source_user: &str,
    target_user: &str,
) {
    let db = p.name.as_str();
    if let Err(e) = &p.source {
        report.error(
            "databases",
            Some(db),
            format!(
                "the source user \"{source_user}\" cannot connect to database \"{db}\": {e}. \
                 Grant it CONNECT on the database and allow it in the source's pg_hba.conf, or \
                 leave the database out with {filtered}",
                filtered = Setting::FilteredDbs,
            ),
        );
    }
    match &p.target {
        TargetDb::Missing if !opts.createdb => {
            report.error(
                "databases",
                Some(db),
                format!(
                    "database \"{db}\" does not exist in the target and databases are not \
                     created ({createdb}): create it in the target first, drop {createdb}, or \
                     leave the database out with {}",
                    Setting::FilteredDbs,
                    createdb = Setting::NoCreatedb,
                ),
            );
            report.remedies([Remedy::Drop {
                setting: Setting::NoCreatedb,
            }]);
        }
        TargetDb::Unreachable(e) => report.error(
            "databases",
            Some(db),
            format!(
                "database \"{db}\" exists in the target but the target user \"{target_user}\" \
                 cannot connect to it: {e}. Grant it CONNECT on the target database and allow \
                 it in the target's pg_hba.conf, drop the target database, or leave the database \
                 out with {filtered}",
                filtered = Setting::FilteredDbs,
            ),
        ),
        _ => {}
    }
}

// ---------------------------------------------------------------------------------------------
// languages

/// Languages of `source` that the target neither has nor can install as an extension, minus
/// `excluded`; sorted.
pub fn missing_languages<'a>(
    source: &'a [String],
    target: &[String],
    target_available_extensions: impl Fn(&str) -> bool,
    excluded: &[String],
) -> Vec<&'a str> {
    let target: HashSet<&str> = target.iter().map(String::as_str).collect();
    let missing: BTreeSet<&str> = source
        .iter()
        .map(String::as_str)
        .filter(|l| !target.contains(l))
        .filter(|l| !target_available_extensions(l))
        .filter(|l| !excluded.iter().any(|x| x == l))
        .collect();
    missing.into_iter().collect()
}

/// Languages missing in the target that the migration cannot bring: those of an extension the
/// target does not offer, and, unless the target user is a superuser (who may run `CREATE
/// LANGUAGE`), those the source created without an extension (created by the schema stage,
/// handler function first, as pg_dump does).
pub(super) fn check_languages(
    report: &mut ValidationReport,
    opts: &MigrateOptions,
    p: &DbProbe,
    ts: &TargetServer,
    tf: &ServerFacts,
) {
    let db = p.name.as_str();
    let Ok(source) = &p.source else { return };
    let src_langs = match &source.languages {
        Ok(l) => l,
        Err(e) => {
            report.error(
                "languages",
                Some(db),
                format!("could not read the languages of source database \"{db}\": {e}"),
            );
            return;
        }
    };
    let tgt_langs = match &p.target {
        TargetDb::Reachable {
            languages: Ok(l), ..
        } => l,
        TargetDb::Reachable {
            languages: Err(e), ..
        } => {
            report.error(
                "languages",
                Some(db),
                format!("could not read the languages of target database \"{db}\": {e}"),
            );
            return;
        }
        TargetDb::Missing => match &ts.default_languages {
            Some(l) => l,
            None => return,
        },
        TargetDb::Unknown | TargetDb::Unreachable(_) => return,
    };
    let available = |l: &str| ts.available.as_ref().is_some_and(|a| a.contains_key(l));
    let missing = missing_languages(src_langs, tgt_langs, available, &opts.excluded_extensions);
    let standalone: &[String] = source.standalone_languages.as_deref().unwrap_or(&[]);
    let (created, missing): (Vec<&str>, Vec<&str>) = missing
        .into_iter()
        .partition(|l| standalone.iter().any(|s| s == l));
    if !created.is_empty() && !tf.is_superuser {
        report.error(
            "languages",
            Some(db),
            format!(
                "languages of source database \"{db}\" created without an extension (CREATE \
                 LANGUAGE ... HANDLER) are not in the target, and only a superuser may create \
                 them: {}. Migrate as a superuser of the target, create them in the target \
                 database first, drop them from the source database, or leave the database out \
                 with {filtered}",
                created.join(", "),
                filtered = Setting::FilteredDbs,
            ),
        );
    }
    if !missing.is_empty() {
        report.error(
            "languages",
            Some(db),
            format!(
                "languages used in source database \"{db}\" are not installed in the target and \
                 not available there as extensions: {}. Install them in the target (their \
                 extension package, or CREATE LANGUAGE as a superuser), drop them from the \
                 source database, or leave the database out with {filtered}",
                missing.join(", "),
                filtered = Setting::FilteredDbs,
            ),
        );
    }
}

// ---------------------------------------------------------------------------------------------
// extensions

/// One problem with one extension of one database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExtensionProblem {
    /// Installed in the target database at an older version.
    InstalledOlder { target: String },
    /// Not in the target's `pg_available_extensions`.
    NotAvailable,
    /// Available, but the default version is older than the source's.
    AvailableOlder { target: String },
    /// Installing it needs a superuser and the target user is not one.
    RequiresSuperuser,
}

/// The extension rule for one installed source extension.
pub fn extension_problems(
    source: &InstalledExtension,
    target_installed: Option<&InstalledExtension>,
    target_available: Option<&AvailableExtension>,
    target_facts: &ServerFacts,
) -> Vec<ExtensionProblem> {
    if let Some(t) = target_installed {
        if compare_versions(&t.version, &source.version) == Ordering::Less {
            return vec![ExtensionProblem::InstalledOlder {
                target: t.version.clone(),
            }];
        }
        return Vec::new();
    }
    let Some(a) = target_available else {
        return vec![ExtensionProblem::NotAvailable];
    };
    let mut problems = Vec::new();
    if let Some(dv) = &a.default_version {
        if compare_versions(dv, &source.version) == Ordering::Less {
            problems.push(ExtensionProblem::AvailableOlder { target: dv.clone() });
        }
    }
    let whitelisted = target_facts
        .extwlist
        .as_ref()
        .is_some_and(|w| w.iter().any(|n| n == &a.name));
    if !(target_facts.is_superuser || a.trusted || !a.superuser || whitelisted) {
        problems.push(ExtensionProblem::RequiresSuperuser);
    }
    problems
}

fn extension_message(
    db: &str,
    ext: &InstalledExtension,
    problem: &ExtensionProblem,
    target_user: &str,
) -> String {
    let name = &ext.name;
    let sv = &ext.version;
    let skip = format!("or skip it with -xe {name}");
    match problem {
        ExtensionProblem::InstalledOlder { target } => format!(
            "extension \"{name}\" is installed in target database \"{db}\" at version {target}, \
             older than the source's {sv}: update it in the target (ALTER EXTENSION \"{name}\" \
             UPDATE, after installing a newer package if needed), {skip}"
        ),
        ExtensionProblem::NotAvailable => format!(
            "extension \"{name}\" (version {sv} in the source) is not available for installation \
             in the target: install its package on the target server (or ask the provider to \
             enable it), {skip}"
        ),
        ExtensionProblem::AvailableOlder { target } => format!(
            "extension \"{name}\": the version available for installation in the target ({target}) \
             is older than the source's ({sv}): install a newer package on the target server, \
             {skip}"
        ),
        ExtensionProblem::RequiresSuperuser => format!(
            "installing extension \"{name}\" (version {sv}) in the target requires a superuser, \
             and the target user \"{target_user}\" is not one (the extension is not trusted and \
             not listed in extwlist.extensions): have a superuser create it in target database \
             \"{db}\" beforehand, migrate as a superuser, {skip}"
        ),
    }
}

pub(super) fn check_extensions(
    report: &mut ValidationReport,
    opts: &MigrateOptions,
    p: &DbProbe,
    ts: &TargetServer,
    tf: &ServerFacts,
) {
    let db = p.name.as_str();
    let Ok(source) = &p.source else { return };
    let src_exts = match &source.extensions {
        Ok(e) => e,
        Err(e) => {
            report.error(
                "extensions",
                Some(db),
                format!("could not read the extensions of source database \"{db}\": {e}"),
            );
            return;
        }
    };
    let Some(available) = &ts.available else {
        return;
    };
    let empty = Vec::new();
    let tgt_exts = match &p.target {
        TargetDb::Reachable {
            extensions: Ok(e), ..
        } => e,
        TargetDb::Reachable {
            extensions: Err(e), ..
        } => {
            report.error(
                "extensions",
                Some(db),
                format!("could not read the extensions of target database \"{db}\": {e}"),
            );
            return;
        }
        TargetDb::Missing => &empty,
        TargetDb::Unknown | TargetDb::Unreachable(_) => return,
    };
    for ext in src_exts {
        if opts.excluded_extensions.iter().any(|x| x == &ext.name) {
            continue;
        }
        let installed = tgt_exts.iter().find(|t| t.name == ext.name);
        for problem in extension_problems(ext, installed, available.get(&ext.name), tf) {
            report.error(
                "extensions",
                Some(db),
                extension_message(db, ext, &problem, &tf.current_user),
            );
        }
    }
}

pub(super) fn check_large_objects(report: &mut ValidationReport, p: &DbProbe) {
    let db = p.name.as_str();
    let Ok(source) = &p.source else { return };
    match &source.large_objects {
        Ok(true) => report.warning(
            "large-objects",
            Some(db),
            format!(
                "database \"{db}\" holds large objects: logical replication does not carry them, \
                 so large objects created or changed after the initial copy will be missing in \
                 the target; copy them again after cutover or keep writes to them stopped \
                 during the migration"
            ),
        ),
        Ok(false) => {}
        Err(e) => report.warning(
            "large-objects",
            Some(db),
            format!("could not check database \"{db}\" for large objects: {e}"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_facts as facts;
    use super::*;
    fn installed(name: &str, version: &str) -> InstalledExtension {
        InstalledExtension {
            name: name.into(),
            version: version.into(),
            schema: "public".into(),
        }
    }

    fn available(name: &str, version: &str, superuser: bool, trusted: bool) -> AvailableExtension {
        AvailableExtension {
            name: name.into(),
            default_version: Some(version.into()),
            superuser,
            trusted,
        }
    }
    #[test]
    fn extension_rule() {
        let non_su = facts(false, None);
        let su = facts(true, None);
        let src = installed("pg_buffercache", "1.3");

        // Installed in the target db: only the version matters.
        assert!(
            extension_problems(
                &src,
                Some(&installed("pg_buffercache", "1.10")),
                None,
                &non_su
            )
            .is_empty()
        );
        assert_eq!(
            extension_problems(
                &src,
                Some(&installed("pg_buffercache", "1.2")),
                None,
                &non_su
            ),
            vec![ExtensionProblem::InstalledOlder {
                target: "1.2".into()
            }]
        );
        // Not available at all.
        assert_eq!(
            extension_problems(&src, None, None, &su),
            vec![ExtensionProblem::NotAvailable]
        );
        // Superuser-only, untrusted.
        let a = available("pg_buffercache", "1.3", true, false);
        assert_eq!(
            extension_problems(&src, None, Some(&a), &non_su),
            vec![ExtensionProblem::RequiresSuperuser]
        );
        assert!(extension_problems(&src, None, Some(&a), &su).is_empty());
        assert!(
            extension_problems(
                &src,
                None,
                Some(&a),
                &facts(false, Some(vec!["x", "pg_buffercache"]))
            )
            .is_empty()
        );
        // Trusted, or not superuser-only.
        assert!(
            extension_problems(
                &src,
                None,
                Some(&available("pg_buffercache", "1.3", true, true)),
                &non_su
            )
            .is_empty()
        );
        assert!(
            extension_problems(
                &src,
                None,
                Some(&available("pg_buffercache", "1.3", false, false)),
                &non_su
            )
            .is_empty()
        );
        // Too old and superuser-only: both reported.
        assert_eq!(
            extension_problems(
                &src,
                None,
                Some(&available("pg_buffercache", "1.2", true, false)),
                &non_su
            ),
            vec![
                ExtensionProblem::AvailableOlder {
                    target: "1.2".into()
                },
                ExtensionProblem::RequiresSuperuser
            ]
        );
        let msg = extension_message("db", &src, &ExtensionProblem::RequiresSuperuser, "admin");
        assert!(
            msg.contains("-xe pg_buffercache") && msg.contains("superuser"),
            "{msg}"
        );
    }

    #[test]
    fn languages_rule() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let src = s(&[
            "c", "internal", "plpgsql", "sql", "plperl", "plfoo", "plbar",
        ]);
        let tgt = s(&["c", "internal", "plpgsql", "sql"]);
        assert_eq!(
            missing_languages(&src, &tgt, |l| l == "plperl", &[]),
            vec!["plbar", "plfoo"]
        );
        assert_eq!(
            missing_languages(&src, &tgt, |_| false, &s(&["plfoo", "plbar"])),
            vec!["plperl"]
        );
    }
}
