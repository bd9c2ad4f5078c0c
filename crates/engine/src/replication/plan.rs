//! The path replication will take for one database, decided before anything is written:
//! publication form and how it is created, how the slot is created, how the subscription is
//! created, or why replication is not possible. Preflight prints it; the setup follows it.
//!
//! - **Publication**: `FOR ALL TABLES` needs a superuser (or `aiven_extras`); otherwise every
//!   (selected) table is listed `FOR TABLE` (see [`super::tables`]), which needs `CREATE` on the
//!   database and, per table, the privileges of its owner. A table the source user cannot act
//!   for makes replication impossible for the database (its changes would be lost), and the
//!   plan names each such table with its owner. Extension tables: see [`super::tables`]
//!   (listed with extension tables on; off, a database that has them gets a list without them).
//! - **Slot**: on a replication connection, which gives the exported snapshot of the exact
//!   hand-over, when the user has the REPLICATION attribute (or is superuser) and the server
//!   accepts one (pg_hba, poolers); otherwise `pg_create_logical_replication_slot()` (provider
//!   roles such as `rds_replication` allow it without the attribute), and the subscription copies
//!   the data itself.
//! - **Subscription**: superuser, `aiven_extras`, or `pg_create_subscription` (16+). When none
//!   is there but the target offers `aiven_extras` and the user may install it, the plan says
//!   so and the setup installs it in the target database first (as the tool we replace did);
//!   refused, the database falls back as without it, the refusal in the reason.

use crate::catalog::server::Servers;
use crate::conn::ConnInfo;
use crate::conn::Session;
use crate::conn::wire::connect_replication;
use crate::error::{ErrorKind, Result};
use crate::remedy::Setting;

use super::objects::{SourceFacts, TargetFacts, Via};
use crate::catalog::replication::publication::{self, PublishableTable};

/// `FOR ALL TABLES` or a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PublicationForm {
    AllTables,
    /// `FOR TABLE` every selected table.
    TableList,
}

/// How the logical slot is created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SlotCreation {
    /// `CREATE_REPLICATION_SLOT ... EXPORT_SNAPSHOT` on a walsender session: our copy runs in
    /// that snapshot and the subscription starts with `copy_data = false`.
    ReplicationConnection,
    /// `pg_create_logical_replication_slot()`: no snapshot, the subscription copies the data.
    Function,
}

/// What preflight decided for one database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicationPlan {
    pub form: PublicationForm,
    pub publication_via: Via,
    /// The tables a `TableList` publication lists (empty for `AllTables`).
    pub tables: Vec<PublishableTable>,
    /// Extension tables a `FOR ALL TABLES` publication would have published that the list leaves
    /// out (extension tables off).
    pub extension_tables_left_out: Vec<String>,
    pub slot: SlotCreation,
    /// Why a replication connection will not be used, when it will not.
    pub no_replication_connection: Option<String>,
    pub subscription_via: Option<Via>,
    /// `aiven_extras` is installed in the target database first, for the subscription
    /// ([`TargetFacts::needs_extras_install`]).
    pub install_aiven_extras: bool,
    /// Why replication is not possible for this database (empty when it is).
    pub blockers: Vec<String>,
}

impl ReplicationPlan {
    /// e.g. `publication FOR TABLE (3 tables) via plain SQL ...; slot on a replication
    /// connection (exported snapshot, our parallel copy); subscription via superuser`.
    pub fn describe(&self) -> String {
        let form = form_text(
            self.form,
            self.tables.len(),
            &self.extension_table_names(),
            &self.extension_tables_left_out,
        );
        let slot = match self.slot {
            SlotCreation::ReplicationConnection => {
                "slot on a replication connection (exported snapshot: our parallel copy, then the subscription with copy_data = false)".to_string()
            }
            SlotCreation::Function => format!(
                "slot with pg_create_logical_replication_slot() ({}), the subscription copies the data (copy_data = true)",
                self.no_replication_connection
                    .as_deref()
                    .unwrap_or("no replication connection")
            ),
        };
        let sub = match self.subscription_via {
            Some(v) if self.install_aiven_extras => format!(
                "subscription via {} (CREATE EXTENSION aiven_extras CASCADE in the target database first)",
                v.describe()
            ),
            Some(v) => format!("subscription via {}", v.describe()),
            None => "no way to create the subscription".to_string(),
        };
        format!(
            "publication {form} via {}; {slot}; {sub}",
            self.publication_via.describe()
        )
    }

    /// The extension configuration tables a `TableList` publication lists.
    pub fn extension_table_names(&self) -> Vec<String> {
        self.tables
            .iter()
            .filter(|t| t.extension)
            .map(|t| t.display.clone())
            .collect()
    }

    /// The `(schema, table)` pairs of a `TableList` publication.
    pub fn table_names(&self) -> Vec<(String, String)> {
        self.tables
            .iter()
            .map(|t| (t.schema.clone(), t.name.clone()))
            .collect()
    }
}

/// Why the source user cannot publish `tables` in a list (empty when it can). `via`: how the
/// publication would be created (`aiven_extras` does it as its owner, checking nothing).
pub fn list_blockers(tables: &[PublishableTable], via: Via, may_create: bool) -> Vec<String> {
    if via != Via::PlainSql {
        return Vec::new();
    }
    let mut out = Vec::new();
    if !may_create {
        out.push("the source user lacks CREATE on the source database, which CREATE PUBLICATION needs (FOR ALL TABLES needs superuser)".to_string());
    }
    let refused: Vec<String> = tables
        .iter()
        .filter(|t| !t.acts_for_owner)
        .map(PublishableTable::refusal)
        .collect();
    if !refused.is_empty() {
        out.push(format!(
            "FOR ALL TABLES needs superuser and FOR TABLE needs each table's owner or a member of it; {} tables cannot be published: {}",
            refused.len(),
            refused.join(", ")
        ));
    }
    out
}

/// The tables to publish: the selected ones (`selected`, when not empty) a publication can
/// list, or every publishable table (with `extension_tables`, extension configuration tables
/// too). Selected relations a publication does not list (unlogged or foreign tables,
/// partitions whose partitioned table is listed) are left out.
async fn list_tables(
    src: &Session,
    selected: Option<&[(String, String)]>,
    extension_tables: bool,
) -> Result<Vec<PublishableTable>> {
    let all = publication::publishable_tables(src, extension_tables).await?;
    let Some(sel) = selected.filter(|s| !s.is_empty()) else {
        return Ok(all);
    };
    Ok(all
        .into_iter()
        .filter(|t| {
            sel.iter()
                .any(|(schema, name)| &t.schema == schema && &t.name == name)
        })
        .collect())
}

/// The publication part of the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicationPlan {
    pub form: PublicationForm,
    pub via: Via,
    /// The tables a `TableList` publication lists (empty for `AllTables`).
    pub tables: Vec<PublishableTable>,
    /// Extension tables `FOR ALL TABLES` would have published that the list leaves out, because
    /// extension tables are off (`--no-replicate-extension-tables`).
    pub extension_tables_left_out: Vec<String>,
    /// Why the tables cannot be listed.
    pub blockers: Vec<String>,
}

/// Decides the publication form and how it is created (see the module docs). `force_list`:
/// `FOR ALL TABLES` was refused, list the tables. `extension_tables`:
/// `MigrateOptions.copy.extension_tables`; off, a database with extension tables gets a list
/// without them even where `FOR ALL TABLES` is possible.
pub async fn publication_plan(
    src: &Session,
    sfacts: &SourceFacts,
    selected: Option<&[(String, String)]>,
    force_list: bool,
    extension_tables: bool,
) -> Result<PublicationPlan> {
    let selected = selected.filter(|s| !s.is_empty());
    let all_tables_possible = sfacts.superuser || sfacts.extras_pub_all;
    let left_out = if extension_tables {
        Vec::new()
    } else {
        publication::extension_tables_all_tables_would_publish(src).await?
    };
    if selected.is_none() && all_tables_possible && !force_list && left_out.is_empty() {
        return Ok(PublicationPlan {
            form: PublicationForm::AllTables,
            via: sfacts.publication_via(true),
            tables: Vec::new(),
            extension_tables_left_out: Vec::new(),
            blockers: Vec::new(),
        });
    }
    let listed = list_tables(src, selected, extension_tables).await?;
    let mut via = sfacts.publication_via(false);
    if force_list && via == Via::Superuser {
        // A "superuser" refused FOR ALL TABLES: the server knows better than our facts.
        via = Via::PlainSql;
    }
    let may_create = publication::may_create_publication(src).await?;
    let blockers = list_blockers(&listed, via, may_create);
    Ok(PublicationPlan {
        form: PublicationForm::TableList,
        via,
        tables: listed,
        extension_tables_left_out: left_out,
        blockers,
    })
}

/// `FOR ALL TABLES`, or `FOR TABLE (n tables)` with the extension configuration tables among
/// them, or the extension tables left out, named.
pub fn form_text(
    form: PublicationForm,
    tables: usize,
    extension: &[String],
    left_out: &[String],
) -> String {
    match form {
        PublicationForm::AllTables => "FOR ALL TABLES".to_string(),
        PublicationForm::TableList => {
            let mut text = format!("FOR TABLE ({tables} tables");
            if !extension.is_empty() {
                text.push_str(&format!(
                    ", with the extension configuration tables {}",
                    extension.join(", ")
                ));
            }
            if !left_out.is_empty() {
                text.push_str(&format!(
                    ", without the extension tables {} (extension tables are not replicated)",
                    left_out.join(", ")
                ));
            }
            text.push(')');
            text
        }
    }
}

/// The whole path for one database, on sessions to the source and target database. Opens (and
/// closes) one replication connection to see whether the server accepts it; writes nothing.
pub async fn plan(
    source: &ConnInfo,
    dbname: &str,
    src: &Session,
    sfacts: &SourceFacts,
    tfacts: &TargetFacts,
    selected: Option<&[(String, String)]>,
    extension_tables: bool,
) -> Result<ReplicationPlan> {
    let PublicationPlan {
        form,
        via: publication_via,
        tables,
        extension_tables_left_out,
        mut blockers,
    } = publication_plan(src, sfacts, selected, false, extension_tables).await?;
    if !sfacts.may_replicate() {
        blockers.push(
            "the source user has neither the REPLICATION attribute nor superuser, so it cannot create a replication slot".into(),
        );
    }
    let (slot, no_replication_connection) = slot_plan(source, dbname, sfacts).await;
    let subscription_via = match tfacts.subscription_via() {
        Ok(v) => Some(v),
        Err(reason) => {
            blockers.push(reason);
            None
        }
    };
    Ok(ReplicationPlan {
        form,
        publication_via,
        tables,
        extension_tables_left_out,
        slot,
        no_replication_connection,
        subscription_via,
        install_aiven_extras: subscription_via.is_some() && tfacts.needs_extras_install(),
        blockers,
    })
}

/// A replication connection when the user may open one and the server accepts it, else the
/// slot function, with the reason.
pub async fn slot_plan(
    source: &ConnInfo,
    dbname: &str,
    sfacts: &SourceFacts,
) -> (SlotCreation, Option<String>) {
    if !(sfacts.superuser || sfacts.replication) {
        return (
            SlotCreation::Function,
            Some("the source user has no REPLICATION attribute, which a replication connection needs".into()),
        );
    }
    match connect_replication(source, Some(dbname)).await {
        Ok(repl) => {
            repl.close().await;
            (SlotCreation::ReplicationConnection, None)
        }
        Err(e) if refused_replication_connection(&e) => (
            SlotCreation::Function,
            Some(format!("replication connection refused: {e}")),
        ),
        // Anything else (a passing network fault) is left to the setup to run into.
        Err(_) => (SlotCreation::ReplicationConnection, None),
    }
}

/// What [`preflight_path`] needs besides the database.
pub struct PathCheck<'a> {
    pub source: &'a ConnInfo,
    /// The target's conninfo: its database is used when it exists.
    pub target: &'a ConnInfo,
    /// A session to the target's default database, used when the database does not exist yet.
    pub target_default: &'a Session,
    /// The selected tables (`None`: all).
    pub selected: Option<&'a [(String, String)]>,
    /// `--repl-only` / `--force-method replication`.
    pub forced: bool,
    /// The facts of both servers, as preflight read them.
    pub servers: &'a Servers,
    /// `MigrateOptions.copy.extension_tables` (see [`publication_plan`]).
    pub extension_tables: bool,
}

/// What [`preflight_path`] found for one database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathVerdict {
    /// A path without blockers.
    Open,
    /// Why replication is not possible (joined blockers).
    Blocked(String),
    /// An earlier run's replication objects exist: this run resumes or cuts over that
    /// replication (whose slot and worker are already counted as in use), it plans no new one.
    EarlierRun,
    /// The path could not be worked out (a finding says why); the run finds out again.
    Unknown,
}

/// Preflight for one database: prints the path (an `info` finding, and the log) or why
/// replication is not possible (an error when it is forced, else a warning saying the dump
/// method will be used). `src_db` is a session to the source database. Writes nothing.
///
/// Returns what it found, for the method the run will use (`crate::preflight::method`).
pub async fn preflight_path(
    check: &PathCheck<'_>,
    src_db: &Session,
    dbname: &str,
    report: &mut crate::report::ValidationReport,
) -> PathVerdict {
    let PathCheck {
        source,
        target,
        target_default,
        selected,
        forced,
        servers,
        extension_tables,
    } = *check;
    let db = Some(dbname);
    // An earlier run's publication: this run cuts that replication over (or refuses to touch
    // it); a new path does not apply.
    for names in super::ObjectNames::candidates(dbname) {
        if let Ok(true) = super::objects::publication_exists(src_db, &names.publication).await {
            if stopped_during_copy(target, dbname).await {
                report.info(
                    super::preflight::CHECK,
                    db,
                    format!(
                        "replication path: publication {} of a run stopped during its copy exists; {} continues that run on it and its slot",
                        crate::sql::quote_ident(&names.publication),
                        Setting::Resume
                    ),
                );
                return PathVerdict::EarlierRun;
            }
            report.info(
                super::preflight::CHECK,
                db,
                format!(
                    "replication path: publication {} of an earlier run exists; this run works on that replication (waits for its lag, cuts it over with {} or {} 0 {}, removes it with {}) and sets up nothing new",
                    crate::sql::quote_ident(&names.publication),
                    Setting::Cutover,
                    Setting::MaxReplicationLag,
                    Setting::StopReplication,
                    Setting::Cleanup
                ),
            );
            return PathVerdict::EarlierRun;
        }
    }
    let tgt_db = crate::conn::connect(target, Some(dbname)).await.ok();
    let tgt = tgt_db.as_ref().unwrap_or(target_default);
    let facts = async {
        let s = SourceFacts::read(src_db, &servers.source).await?;
        let mut t = TargetFacts::read(tgt, &servers.target).await?;
        if tgt_db.is_none() {
            // db-migrate creates the database as the target user, who then owns it.
            t.can_create_in_db = true;
        }
        Ok::<_, crate::Error>((s, t))
    };
    let result = match facts.await {
        Ok((s, t)) => plan(source, dbname, src_db, &s, &t, selected, extension_tables).await,
        Err(e) => Err(e),
    };
    let severity = if forced {
        crate::report::Severity::Error
    } else {
        crate::report::Severity::Warning
    };
    match result {
        Ok(p) if p.blockers.is_empty() => {
            let text = format!("replication path: {}", p.describe());
            tracing::info!(database = %dbname, "{text}");
            report.info(super::preflight::CHECK, db, text);
            PathVerdict::Open
        }
        Ok(p) => {
            let b = p.blockers.join("; ");
            let msg = if forced {
                format!("logical replication is not possible: {b}")
            } else {
                format!("logical replication is not possible ({b}); the dump method will be used")
            };
            report.push(severity, super::preflight::CHECK, db, msg);
            PathVerdict::Blocked(b)
        }
        Err(e) => {
            report.push(
                severity,
                super::preflight::CHECK,
                db,
                format!("could not work out the replication path: {e}"),
            );
            PathVerdict::Unknown
        }
    }
}

/// Whether target database `dbname` holds the ledger of a run of the replication method that
/// stopped during its copy (which `--resume` continues, [`super::resume`]).
async fn stopped_during_copy(target: &ConnInfo, dbname: &str) -> bool {
    let Ok(s) = crate::conn::connect(target, Some(dbname)).await else {
        return false;
    };
    matches!(
        crate::ledger::read(&s).await,
        Ok(Some(run)) if run.stage == crate::ledger::Stage::Data
            && run.method.as_deref() == Some("replication")
    )
}

/// Errors of a replication connection after which the slot function is the way.
pub fn refused_replication_connection(e: &crate::Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::Auth | ErrorKind::Connect | ErrorKind::Tls
    ) || e.is_insufficient_privilege()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(name: &str, acts: bool) -> PublishableTable {
        PublishableTable {
            oid: 1,
            schema: "public".into(),
            name: name.into(),
            display: format!("public.{name}"),
            owner: "app".into(),
            acts_for_owner: acts,
            extension: false,
        }
    }

    #[test]
    fn list_blockers_name_tables_the_user_cannot_act_for() {
        let t = [table("a", true), table("b", false)];
        let b = list_blockers(&t, Via::PlainSql, true);
        assert_eq!(b.len(), 1, "{b:?}");
        assert!(
            b[0].contains("1 tables cannot be published: public.b (owned by \"app\""),
            "{}",
            b[0]
        );
        assert!(list_blockers(&t, Via::AivenExtras, true).is_empty());
        let b = list_blockers(&t[..1], Via::PlainSql, false);
        assert!(b[0].contains("lacks CREATE"), "{b:?}");
    }

    #[test]
    fn describe_says_form_slot_and_subscription() {
        let p = ReplicationPlan {
            form: PublicationForm::TableList,
            publication_via: Via::PlainSql,
            tables: vec![table("a", true)],
            extension_tables_left_out: Vec::new(),
            slot: SlotCreation::Function,
            no_replication_connection: Some("refused".into()),
            subscription_via: Some(Via::AivenExtras),
            install_aiven_extras: false,
            blockers: Vec::new(),
        };
        let d = p.describe();
        assert!(
            d.starts_with("publication FOR TABLE (1 tables) via plain SQL"),
            "{d}"
        );
        assert!(
            d.contains("pg_create_logical_replication_slot() (refused)"),
            "{d}"
        );
        assert!(d.ends_with("subscription via aiven_extras"), "{d}");
        let p = ReplicationPlan {
            install_aiven_extras: true,
            ..p
        };
        assert!(
            p.describe().ends_with(
                "subscription via aiven_extras (CREATE EXTENSION aiven_extras CASCADE in the \
                 target database first)"
            ),
            "{}",
            p.describe()
        );
    }

    #[test]
    fn form_text_names_extension_tables_listed_or_left_out() {
        assert_eq!(
            form_text(PublicationForm::AllTables, 0, &[], &[]),
            "FOR ALL TABLES"
        );
        assert_eq!(
            form_text(PublicationForm::TableList, 3, &[], &[]),
            "FOR TABLE (3 tables)"
        );
        assert_eq!(
            form_text(
                PublicationForm::TableList,
                4,
                &["public.spatial_ref_sys".into()],
                &[]
            ),
            "FOR TABLE (4 tables, with the extension configuration tables public.spatial_ref_sys)"
        );
        assert_eq!(
            form_text(
                PublicationForm::TableList,
                3,
                &[],
                &["public.spatial_ref_sys".into()]
            ),
            "FOR TABLE (3 tables, without the extension tables public.spatial_ref_sys (extension tables are not replicated))"
        );
    }
}
