//! The replication objects themselves: who may create them how (privilege paths), creating,
//! finding and dropping them.

use std::time::{Duration, Instant};

use crate::catalog::replication::extras::{
    AIVEN_EXTRAS, ExtrasInstall, database_replication_rights,
};
use crate::catalog::server::ServerFacts;
use crate::conn::Session;
use crate::error::{Error, ErrorKind, Result, SqlState};
use crate::sql::{quote_ident, quote_literal};

use super::names::ObjectNames;

/// How an object is created (and dropped).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    /// Plain SQL as a superuser.
    Superuser,
    /// Plain SQL with the provider's admin role (rds_superuser, cloudsqlsuperuser,
    /// azure_pg_admin...) or as the owner of the published tables.
    PlainSql,
    /// The `aiven_extras` SECURITY DEFINER functions.
    AivenExtras,
    /// Plain `CREATE SUBSCRIPTION` as a member of `pg_create_subscription` (PostgreSQL 16+).
    PgCreateSubscription,
}

impl Via {
    pub fn describe(self) -> &'static str {
        match self {
            Via::Superuser => "superuser",
            Via::PlainSql => "plain SQL (provider admin role or table owner)",
            Via::AivenExtras => "aiven_extras",
            Via::PgCreateSubscription => "pg_create_subscription (PostgreSQL 16+)",
        }
    }
}

/// What the session user may do on the source.
#[derive(Debug, Clone, Default)]
pub struct SourceFacts {
    pub superuser: bool,
    pub replication: bool,
    pub provider_admin: bool,
    pub extras_pub_all: bool,
    pub extras_pub_list: bool,
}

/// What the session user may do on the target.
#[derive(Debug, Clone, Default)]
pub struct TargetFacts {
    pub superuser: bool,
    pub provider_admin: bool,
    pub extras_create_sub: bool,
    pub extras_drop_sub: bool,
    pub extras_list_subs: bool,
    /// `aiven_extras.pg_alter_subscription_refresh_publication(text, boolean)`: the cut-over
    /// adds tables created on the source meanwhile.
    pub extras_refresh_sub: bool,
    /// `aiven_extras.pg_alter_subscription_disable(text)` / `..._enable(text)`: a change the
    /// target refuses during replication disables the subscription, the cut-over enables it.
    pub extras_disable_enable_sub: bool,
    pub pg_create_subscription: bool,
    pub can_create_in_db: bool,
    /// `aiven_extras` is missing from the database and the server offers it: how it installs.
    pub extras_available: Option<ExtrasInstall>,
    /// `aiven_extras` is in the server's `extwlist.extensions` (pgextwlist installs it as a
    /// superuser for any user).
    pub extras_whitelisted: bool,
    /// Why installing `aiven_extras` failed, when the setup tried ([`install_aiven_extras`]).
    pub extras_install_error: Option<String>,
}

impl SourceFacts {
    /// The server's facts (`server`, read once by preflight) and the `aiven_extras` functions
    /// of the session's database.
    pub async fn read(s: &Session, server: &ServerFacts) -> Result<SourceFacts> {
        let rights = database_replication_rights(s).await?;
        Ok(SourceFacts {
            superuser: server.is_superuser,
            replication: server.replication,
            // RDS hands the right to replicate out through rds_replication.
            provider_admin: !server.provider_roles.is_empty(),
            extras_pub_all: rights.pub_all,
            extras_pub_list: rights.pub_list,
        })
    }

    /// How the publication will be created (all tables or a list).
    pub fn publication_via(&self, all_tables: bool) -> Via {
        let extras = if all_tables {
            self.extras_pub_all
        } else {
            self.extras_pub_list
        };
        if self.superuser {
            Via::Superuser
        } else if extras {
            Via::AivenExtras
        } else {
            Via::PlainSql
        }
    }

    /// May the user create and use a logical slot at all?
    pub fn may_replicate(&self) -> bool {
        self.superuser || self.replication || self.provider_admin
    }
}

impl TargetFacts {
    /// The server's facts (`server`, read once by preflight) and what the user may do in the
    /// session's database: the `aiven_extras` functions and `CREATE` on it.
    pub async fn read(s: &Session, server: &ServerFacts) -> Result<TargetFacts> {
        let rights = database_replication_rights(s).await?;
        Ok(TargetFacts {
            extras_available: rights.extras_available,
            extras_whitelisted: server
                .extwlist
                .as_ref()
                .is_some_and(|l| l.iter().any(|n| n == AIVEN_EXTRAS)),
            extras_install_error: None,
            superuser: server.is_superuser,
            provider_admin: server.provider_admin(),
            extras_create_sub: rights.create_sub,
            extras_drop_sub: rights.drop_sub,
            extras_list_subs: rights.list_subs,
            extras_refresh_sub: rights.refresh_sub,
            extras_disable_enable_sub: rights.disable_enable_sub,
            pg_create_subscription: server.pg_create_subscription,
            can_create_in_db: rights.create_in_database,
        })
    }

    /// Whether the subscription needs `aiven_extras` installed first: the user is not a
    /// superuser, the database lacks the extension's functions, `pg_create_subscription` (with
    /// CREATE on the database) is not an option, and the user may install it. The tool we
    /// replace did the same (`CREATE EXTENSION aiven_extras CASCADE` in each target database).
    pub fn needs_extras_install(&self) -> bool {
        let has_path = self.superuser
            || (self.extras_create_sub && self.extras_drop_sub)
            || (self.pg_create_subscription && self.can_create_in_db);
        !has_path && self.extras_installable() && self.extras_install_error.is_none()
    }

    /// The server offers `aiven_extras`, missing from the database, and the user may install
    /// it: as a superuser, through pgextwlist, or (trusted or not superuser-only) with CREATE on
    /// the database, which `CREATE EXTENSION` needs for the extension's schema.
    pub fn extras_installable(&self) -> bool {
        self.extras_available.is_some_and(|x| {
            self.superuser
                || self.extras_whitelisted
                || ((x.trusted || !x.superuser) && self.can_create_in_db)
        })
    }

    /// How the subscription can be created, or why it cannot.
    pub fn subscription_via(&self) -> std::result::Result<Via, String> {
        if self.superuser {
            Ok(Via::Superuser)
        } else if self.extras_create_sub && self.extras_drop_sub {
            Ok(Via::AivenExtras)
        } else if self.pg_create_subscription && self.can_create_in_db {
            Ok(Via::PgCreateSubscription)
        } else if self.needs_extras_install() {
            Ok(Via::AivenExtras)
        } else if self.provider_admin {
            Ok(Via::PlainSql)
        } else if self.pg_create_subscription {
            Err("the target user is a member of pg_create_subscription but lacks CREATE on the target database".into())
        } else {
            let mut why = "the target user cannot create subscriptions (it needs superuser, the aiven_extras extension in the target database, or membership in pg_create_subscription on PostgreSQL 16+)".to_string();
            if let Some(e) = &self.extras_install_error {
                why.push_str(&format!(
                    "; installing aiven_extras in the target database failed: {e}"
                ));
            }
            Err(why)
        }
    }
}

/// `CREATE EXTENSION IF NOT EXISTS aiven_extras CASCADE` in the session's database, for a
/// subscription that [`TargetFacts::needs_extras_install`]. Returns the facts read again after
/// it; when the server refuses, the facts keep the error (the subscription path then falls
/// back as without the extension, and the reason names the refusal) and a warning is logged.
pub async fn install_aiven_extras(
    s: &Session,
    server: &ServerFacts,
    facts: TargetFacts,
    dbname: &str,
) -> Result<TargetFacts> {
    let sql = format!(
        "CREATE EXTENSION IF NOT EXISTS {} CASCADE",
        quote_ident(AIVEN_EXTRAS)
    );
    match s.batch_execute(&sql).await {
        Ok(()) => {
            tracing::info!(
                database = %dbname,
                "installed aiven_extras in the target database for the subscription"
            );
            TargetFacts::read(s, server).await
        }
        Err(e) => {
            let e = Error::from_pg(e);
            if e.kind() != ErrorKind::Sql {
                return Err(e.with_step("installing aiven_extras"));
            }
            tracing::warn!(
                database = %dbname,
                "could not install aiven_extras in the target database: {e}"
            );
            Ok(TargetFacts {
                extras_install_error: Some(e.to_string()),
                ..facts
            })
        }
    }
}

/// `insert, update, delete[, truncate]` for the source's version.
pub fn publish_list(source_version_num: u32) -> &'static str {
    if source_version_num >= 110000 {
        "insert,update,delete,truncate"
    } else {
        "insert,update,delete"
    }
}

/// Creates the publication; `tables` are `(schema, table)` pairs, `None` for all tables.
pub async fn create_publication(
    s: &Session,
    name: &str,
    tables: Option<&[(String, String)]>,
    via: Via,
) -> Result<()> {
    let publish = publish_list(s.server_version_num());
    let list: Option<Vec<String>> = tables.map(|t| {
        t.iter()
            .map(|(schema, table)| crate::sql::qualified(schema, table))
            .collect()
    });
    match via {
        Via::AivenExtras => match &list {
            None => {
                s.execute(
                    "SELECT aiven_extras.pg_create_publication_for_all_tables($1, $2)",
                    &[&name, &publish],
                )
                .await?;
            }
            Some(l) => {
                s.execute(
                    "SELECT aiven_extras.pg_create_publication($1, $2, VARIADIC $3::text[])",
                    &[&name, &publish, l],
                )
                .await?;
            }
        },
        _ => {
            // An empty list is a publication of no table yet (tables created later are added
            // by the cut-over run).
            let target = match &list {
                None => "FOR ALL TABLES".to_string(),
                Some(l) if l.is_empty() => String::new(),
                Some(l) => format!("FOR TABLE {}", l.join(", ")),
            };
            s.batch_execute(&format!(
                "CREATE PUBLICATION {} {target} WITH (publish = {})",
                quote_ident(name),
                quote_literal(publish)
            ))
            .await?;
        }
    }
    Ok(())
}

/// `ALTER PUBLICATION ... ADD TABLE` for `tables` (`"schema"."name"`, already quoted); needs
/// the publication's and each table's owner (or a member of them).
pub async fn add_tables_to_publication(s: &Session, name: &str, tables: &[String]) -> Result<()> {
    if tables.is_empty() {
        return Ok(());
    }
    s.batch_execute(&format!(
        "ALTER PUBLICATION {} ADD TABLE {}",
        quote_ident(name),
        tables.join(", ")
    ))
    .await?;
    Ok(())
}

/// `ALTER PUBLICATION ... DROP TABLE` for `tables` (`"schema"."name"`, already quoted); needs
/// what [`add_tables_to_publication`] needs. `--resume` of a run of the replication method: the
/// subscription is created without them, and copies them once they are added back.
pub async fn drop_tables_from_publication(
    s: &Session,
    name: &str,
    tables: &[String],
) -> Result<()> {
    if tables.is_empty() {
        return Ok(());
    }
    s.batch_execute(&format!(
        "ALTER PUBLICATION {} DROP TABLE {}",
        quote_ident(name),
        tables.join(", ")
    ))
    .await?;
    Ok(())
}

/// `ALTER SUBSCRIPTION ... REFRESH PUBLICATION WITH (copy_data = true)`: the subscription
/// learns of the publication's new tables and copies just those. As its owner (superuser,
/// `pg_create_subscription`) in plain SQL, else through `aiven_extras`.
pub async fn refresh_subscription(s: &Session, name: &str, facts: &TargetFacts) -> Result<()> {
    if through_extras(s, name, facts, facts.extras_refresh_sub).await {
        s.execute(
            "SELECT aiven_extras.pg_alter_subscription_refresh_publication($1, true)",
            &[&name],
        )
        .await?;
        return Ok(());
    }
    s.batch_execute(&format!(
        "ALTER SUBSCRIPTION {} REFRESH PUBLICATION WITH (copy_data = true)",
        quote_ident(name)
    ))
    .await?;
    Ok(())
}

/// Creates the slot with the SQL function (no exported snapshot).
pub async fn create_slot_sql(s: &Session, name: &str) -> Result<()> {
    s.execute(
        "SELECT pg_catalog.pg_create_logical_replication_slot($1, 'pgoutput')",
        &[&name],
    )
    .await?;
    Ok(())
}

/// Creates the subscription: `create_slot = false`, the given slot, `copy_data` as asked.
pub async fn create_subscription(
    s: &Session,
    names: &ObjectNames,
    conninfo: &str,
    copy_data: bool,
    via: Via,
) -> Result<()> {
    // Our own log of the statement, the conninfo's password masked (tokio-postgres' statement
    // log is filtered out by the CLI: it would print the password).
    tracing::debug!(
        "creating subscription {} on publication {} with slot {}, connection {}",
        quote_ident(&names.subscription),
        quote_ident(&names.publication),
        quote_literal(&names.slot),
        quote_literal(&crate::conn::redact(conninfo)),
    );
    let r = match via {
        Via::AivenExtras => s
            .execute(
                "SELECT aiven_extras.pg_create_subscription($1, $2, $3, $4, false, $5)",
                &[
                    &names.subscription,
                    &conninfo,
                    &names.publication,
                    &names.slot,
                    &copy_data,
                ],
            )
            .await
            .map(|_| ()),
        _ => s
            .batch_execute(&format!(
                "CREATE SUBSCRIPTION {} CONNECTION {} PUBLICATION {} WITH (slot_name = {}, create_slot = false, copy_data = {copy_data}, enabled = true)",
                quote_ident(&names.subscription),
                quote_literal(conninfo),
                quote_ident(&names.publication),
                quote_literal(&names.slot),
            ))
            .await,
    };
    // The statement holds the source password: make sure no error text can carry it.
    r.map_err(|e| scrub(Error::from_pg(e)))
}

/// Re-creates `e` with its message passed through [`crate::conn::redact`].
pub fn scrub(e: Error) -> Error {
    let mut out = Error::new(e.kind(), crate::conn::redact(e.message()));
    if let Some(code) = e.sqlstate() {
        out = out.with_sqlstate(code.clone());
    }
    out
}

pub use crate::catalog::replication::state::{SlotState, SubState, publication_exists, slot_state};

/// The subscription `name` of the session's database (through `aiven_extras` where the user
/// may not read `pg_subscription` and the extension offers that).
pub async fn subscription_state(
    s: &Session,
    name: &str,
    facts: &TargetFacts,
) -> Result<Option<SubState>> {
    crate::catalog::replication::state::subscription_state(s, name, facts.extras_list_subs).await
}

/// `ALTER SUBSCRIPTION ... DISABLE`: its apply worker stops (the slot on the source keeps
/// every change since), e.g. on a schema change the target refused, which the worker would
/// otherwise retry every few seconds. As its owner or a superuser; `aiven_extras` has no way.
pub async fn disable_subscription(s: &Session, name: &str, facts: &TargetFacts) -> Result<()> {
    switch_subscription(s, name, facts, "DISABLE", "disable").await
}

/// `ALTER SUBSCRIPTION ... ENABLE`: the apply worker goes on from the slot's position.
pub async fn enable_subscription(s: &Session, name: &str, facts: &TargetFacts) -> Result<()> {
    switch_subscription(s, name, facts, "ENABLE", "enable").await
}

/// Whether the subscription `name` is altered through `aiven_extras` (`function`: the database
/// has the extension's function for it): the user is neither a superuser nor its owner (the
/// extension's functions made it).
async fn through_extras(s: &Session, name: &str, facts: &TargetFacts, function: bool) -> bool {
    function
        && !facts.superuser
        && !crate::catalog::replication::state::subscription_owned(s, name).await
}

/// `ALTER SUBSCRIPTION ... DISABLE` / `ENABLE`, through `aiven_extras` where the user is
/// neither a superuser nor the subscription's owner (the extension's functions created it).
async fn switch_subscription(
    s: &Session,
    name: &str,
    facts: &TargetFacts,
    verb: &str,
    extras: &str,
) -> Result<()> {
    if through_extras(s, name, facts, facts.extras_disable_enable_sub).await {
        s.execute(
            &format!("SELECT aiven_extras.pg_alter_subscription_{extras}($1)"),
            &[&name],
        )
        .await?;
        return Ok(());
    }
    s.batch_execute(&format!("ALTER SUBSCRIPTION {} {verb}", quote_ident(name)))
        .await?;
    Ok(())
}

/// Drops the subscription (never its slot, which [`drop_slot`] handles on the source).
pub async fn drop_subscription(s: &Session, name: &str, facts: &TargetFacts) -> Result<()> {
    if through_extras(s, name, facts, facts.extras_drop_sub).await {
        s.execute("SELECT aiven_extras.pg_drop_subscription($1)", &[&name])
            .await?;
        return Ok(());
    }
    let q = quote_ident(name);
    s.batch_execute(&format!("ALTER SUBSCRIPTION {q} DISABLE"))
        .await?;
    s.batch_execute(&format!("ALTER SUBSCRIPTION {q} SET (slot_name = NONE)"))
        .await?;
    s.batch_execute(&format!("DROP SUBSCRIPTION {q}")).await?;
    Ok(())
}

pub async fn drop_publication(s: &Session, name: &str) -> Result<()> {
    s.batch_execute(&format!("DROP PUBLICATION IF EXISTS {}", quote_ident(name)))
        .await?;
    Ok(())
}

/// Drops the slot, waiting up to `wait` while a walsender still holds it (a disabled
/// subscription's walsender takes a moment to exit).
pub async fn drop_slot(s: &Session, name: &str, wait: Duration) -> Result<()> {
    let started = Instant::now();
    loop {
        let r = s
            .execute(
                "SELECT pg_catalog.pg_drop_replication_slot(slot_name)
                   FROM pg_catalog.pg_replication_slots WHERE slot_name = $1",
                &[&name],
            )
            .await;
        match r {
            Ok(_) => return Ok(()),
            Err(e) if e.code() == Some(&SqlState::OBJECT_IN_USE) && started.elapsed() < wait => {
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(e) => {
                return Err(Error::from_pg(e)
                    .context(format!("dropping replication slot {}", quote_ident(name))));
            }
        }
    }
}

/// Errors after which the dump method can still work: missing privileges and prerequisites
/// (wal_level, slots or senders used up).
pub fn is_fallback_error(e: &Error) -> bool {
    matches!(
        e.sqlstate().map(|c| c.code()),
        Some("42501") | Some("55000") | Some("53400") | Some("53300")
    )
}

/// An error for a state we cannot continue from.
pub fn invalid(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::Validation, msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A non-superuser target admin with CREATE on the database and nothing else.
    fn admin() -> TargetFacts {
        TargetFacts {
            can_create_in_db: true,
            ..Default::default()
        }
    }

    const TRUSTED: ExtrasInstall = ExtrasInstall {
        superuser: true,
        trusted: true,
    };
    const SUPERUSER_ONLY: ExtrasInstall = ExtrasInstall {
        superuser: true,
        trusted: false,
    };

    #[test]
    fn aiven_extras_is_installed_only_when_no_other_subscription_path_exists() {
        let offered = TargetFacts {
            extras_available: Some(TRUSTED),
            ..admin()
        };
        assert!(offered.needs_extras_install());
        assert_eq!(offered.subscription_via(), Ok(Via::AivenExtras));

        let superuser = TargetFacts {
            superuser: true,
            ..offered.clone()
        };
        assert!(!superuser.needs_extras_install());
        assert_eq!(superuser.subscription_via(), Ok(Via::Superuser));

        let pg16 = TargetFacts {
            pg_create_subscription: true,
            ..offered.clone()
        };
        assert!(!pg16.needs_extras_install());
        assert_eq!(pg16.subscription_via(), Ok(Via::PgCreateSubscription));

        let installed = TargetFacts {
            extras_create_sub: true,
            extras_drop_sub: true,
            extras_available: None,
            ..admin()
        };
        assert!(!installed.needs_extras_install());
        assert_eq!(installed.subscription_via(), Ok(Via::AivenExtras));
    }

    #[test]
    fn aiven_extras_install_needs_a_right_to_install_it() {
        let superuser_only = TargetFacts {
            extras_available: Some(SUPERUSER_ONLY),
            ..admin()
        };
        assert!(!superuser_only.needs_extras_install());
        assert!(superuser_only.subscription_via().is_err());
        let whitelisted = TargetFacts {
            extras_whitelisted: true,
            ..superuser_only.clone()
        };
        assert!(whitelisted.needs_extras_install());
        let no_create = TargetFacts {
            extras_available: Some(TRUSTED),
            can_create_in_db: false,
            ..admin()
        };
        assert!(!no_create.needs_extras_install());
    }

    #[test]
    fn a_refused_install_falls_back_naming_the_refusal() {
        let refused = TargetFacts {
            extras_available: Some(TRUSTED),
            extras_install_error: Some("permission denied to create extension".into()),
            ..admin()
        };
        assert!(!refused.needs_extras_install());
        let why = refused.subscription_via().unwrap_err();
        assert!(
            why.ends_with(
                "; installing aiven_extras in the target database failed: permission denied to \
                 create extension"
            ),
            "{why}"
        );
    }
}
