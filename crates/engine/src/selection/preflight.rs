//! The selection's part of preflight: which databases and roles are migrated (strictly: a name
//! that does not exist is an error, not a silent no-op), the managed service's own objects left
//! out, each database's tables resolved, patterns that match nothing, and the size of what
//! moves.

use std::collections::BTreeMap;

use super::{DbSelection, provider};
use crate::catalog::databases::DatabaseInfo;
use crate::catalog::tables::{ListedRelation, list_relations};
use crate::conn::{Session, connect};
use crate::options::MigrateOptions;
use crate::remedy::Setting;
use crate::report::ValidationReport;

const CHECK: &str = "databases";
const PROVIDER_CHECK: &str = "provider-objects";

/// The source databases to migrate, in name order, reporting as errors (without a database, so
/// nothing is migrated) every `-f` / `--only-db` name that does not exist in the source, every
/// `--only-db` database that cannot be migrated (a template, `datallowconn = false`), and a
/// selection that leaves nothing; and as one warning each the provider databases left out.
pub fn select_databases(
    all: &[DatabaseInfo],
    opts: &MigrateOptions,
    report: &mut ValidationReport,
) -> Vec<String> {
    let names: Vec<&str> = all.iter().map(|d| d.name.as_str()).collect();
    let listing = || {
        let mut v: Vec<String> = all
            .iter()
            .filter(|d| d.is_migratable())
            .map(|d| format!("\"{}\"", d.name))
            .collect();
        v.truncate(20);
        v.join(", ")
    };
    for (flag, list) in [
        (Setting::FilteredDbs, &opts.filtered_dbs),
        (Setting::OnlyDbs, &opts.only_dbs),
    ] {
        for n in list.iter().filter(|n| !names.contains(&n.as_str())) {
            report.error(
                CHECK,
                None,
                format!(
                    "{flag} names database \"{n}\", which does not exist in the source (its \
                     databases: {}); check the spelling (names are case-sensitive)",
                    listing()
                ),
            );
        }
    }
    for d in all.iter().filter(|d| opts.only_dbs.contains(&d.name)) {
        if d.is_template {
            report.error(
                CHECK,
                None,
                format!(
                    "{} names database \"{}\", which is a template; templates are not \
                     migrated",
                    Setting::OnlyDbs,
                    d.name
                ),
            );
        } else if !d.allow_connections {
            report.error(
                CHECK,
                None,
                format!(
                    "{} names database \"{}\", which does not allow connections \
                     (datallowconn is false), so it cannot be read",
                    Setting::OnlyDbs,
                    d.name
                ),
            );
        }
    }
    let mut selected = Vec::new();
    for d in all {
        if d.is_template || opts.filtered_dbs.contains(&d.name) {
            continue;
        }
        let named = opts.only_dbs.contains(&d.name);
        if !opts.only_dbs.is_empty() && !named {
            continue;
        }
        if d.is_invalid() {
            // Nobody can connect to it: skipped as pg_dumpall skips it, not a failed run.
            report.warning(
                CHECK,
                None,
                format!(
                    "database {} left out: it is invalid (an interrupted DROP DATABASE left it \
                     so, datconnlimit = -2) and cannot be connected to; drop it on the source",
                    crate::text::escape_controls(&crate::sql::quote_ident(&d.name))
                ),
            );
            continue;
        }
        if !named
            && !opts.include_provider_objects
            && let Some(p) = provider::database_provider(&d.name)
        {
            report.warning(
                PROVIDER_CHECK,
                None,
                format!(
                    "database \"{}\" left out: it belongs to {p}, not to the user (name it in \
                     {} or use {} to migrate it)",
                    d.name,
                    Setting::OnlyDbs,
                    Setting::IncludeProviderObjects
                ),
            );
            continue;
        }
        if d.allow_connections {
            selected.push(d.name.clone());
        }
    }
    if selected.is_empty() {
        report.error(
            CHECK,
            None,
            format!(
                "no database selected: the source's databases ({}) are all left out by \
                 {}, {} or as provider databases",
                listing(),
                Setting::FilteredDbs,
                Setting::OnlyDbs
            ),
        );
    }
    selected
}

/// The provider roles of the source that are left out (none with
/// `--include-provider-objects`), each reported with one warning.
pub fn provider_roles(
    source_roles: &[String],
    opts: &MigrateOptions,
    report: &mut ValidationReport,
) -> Vec<String> {
    if opts.include_provider_objects {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut sorted: Vec<&String> = source_roles.iter().collect();
    sorted.sort();
    for r in sorted {
        if opts.excluded_roles.contains(r) {
            continue;
        }
        if let Some(p) = provider::role_provider(r) {
            report.warning(
                PROVIDER_CHECK,
                None,
                format!(
                    "role \"{r}\" left out: it belongs to {p}, not to the user (use \
                     {} to migrate it)",
                    Setting::IncludeProviderObjects
                ),
            );
            out.push(r.clone());
        }
    }
    out
}

/// One database's selection with the relations it was resolved from.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub selection: DbSelection,
    pub relations: Vec<ListedRelation>,
}

/// Lists the schemas and relations of every database in `dbs` (a session each, unless the
/// default session is on it) and resolves the selection in each. Databases that cannot be
/// listed get a database error (they fail, the others go on). Patterns that match nothing in
/// any database are one global error naming them. Nothing is read when no filter is given.
pub async fn resolve_databases(
    opts: &MigrateOptions,
    source: &Session,
    dbs: &[String],
    report: &mut ValidationReport,
) -> BTreeMap<String, Resolved> {
    let mut out = BTreeMap::new();
    if opts.selection.is_everything() {
        return out;
    }
    for db in dbs {
        let listed = async {
            let owned;
            let s = if source.info().dbname() == *db {
                source
            } else {
                owned = connect(&opts.source, Some(db)).await?;
                &owned
            };
            list_relations(s).await
        };
        match listed.await {
            Ok((schemas, relations)) => {
                let selection = opts.selection.resolve(db, &schemas, &relations);
                out.insert(
                    db.clone(),
                    Resolved {
                        selection,
                        relations,
                    },
                );
            }
            Err(e) => report.error(
                CHECK,
                Some(db),
                format!("could not list the tables of source database \"{db}\" to apply the selection flags: {e}"),
            ),
        }
    }
    let resolved: Vec<&DbSelection> = out.values().map(|r| &r.selection).collect();
    if let Some(msg) = opts.selection.unmatched_error(&resolved) {
        report.error("selection", None, msg);
    }
    out
}

/// `--dbs-max-total-size` with filters: the sum of `pg_total_relation_size` of the tables whose
/// rows move, as the tool we replace summed the filtered tables.
pub fn check_selected_size(
    report: &mut ValidationReport,
    resolved: &BTreeMap<String, Resolved>,
    limit: u64,
) {
    let total: u64 = resolved
        .values()
        .map(|r| r.selection.data_bytes(&r.relations))
        .sum();
    if total > limit {
        report.error(
            "size",
            None,
            format!(
                "the selected tables total {} ({total} bytes), more than the limit of {} \
                 ({limit} bytes, {}): raise the limit, or select fewer tables",
                indicatif::HumanBytes(total),
                indicatif::HumanBytes(limit),
                Setting::DbsMaxTotalSize
            ),
        );
    }
}
