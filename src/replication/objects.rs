//! The replication objects themselves: who may create them how (privilege paths), creating,
//! finding and dropping them.

use std::time::{Duration, Instant};

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
    pub pg_create_subscription: bool,
    pub can_create_in_db: bool,
}

fn b(v: Option<&str>) -> bool {
    v == Some("t")
}

async fn one_row(s: &Session, sql: &str) -> Result<Vec<Option<String>>> {
    for m in s.simple_query(sql).await? {
        if let tokio_postgres::SimpleQueryMessage::Row(r) = m {
            return Ok((0..r.len()).map(|i| r.get(i).map(str::to_owned)).collect());
        }
    }
    Err(Error::protocol("query returned no row"))
}

fn regproc_exists(sig: &str) -> String {
    format!(
        "(pg_catalog.to_regprocedure({}) IS NOT NULL)",
        quote_literal(sig)
    )
}

impl SourceFacts {
    /// The server's facts (`server`, read once by preflight) and the `aiven_extras` functions
    /// of the session's database.
    pub async fn read(s: &Session, server: &ServerFacts) -> Result<SourceFacts> {
        let row = one_row(
            s,
            &format!(
                "SELECT {}, {}",
                regproc_exists("aiven_extras.pg_create_publication_for_all_tables(text,text)"),
                regproc_exists("aiven_extras.pg_create_publication(text,text,text[])"),
            ),
        )
        .await?;
        Ok(SourceFacts {
            superuser: server.is_superuser,
            replication: server.replication,
            // RDS hands the right to replicate out through rds_replication.
            provider_admin: !server.provider_roles.is_empty(),
            extras_pub_all: b(row[0].as_deref()),
            extras_pub_list: b(row[1].as_deref()),
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
        let row = one_row(
            s,
            &format!(
                "SELECT {}, {}, {}, {},
                        pg_catalog.has_database_privilege(pg_catalog.current_database(), 'CREATE')",
                regproc_exists(
                    "aiven_extras.pg_create_subscription(text,text,text,text,boolean,boolean)"
                ),
                regproc_exists("aiven_extras.pg_drop_subscription(text)"),
                regproc_exists("aiven_extras.pg_list_all_subscriptions()"),
                regproc_exists(
                    "aiven_extras.pg_alter_subscription_refresh_publication(text,boolean)"
                ),
            ),
        )
        .await?;
        Ok(TargetFacts {
            superuser: server.is_superuser,
            provider_admin: server.provider_admin(),
            extras_create_sub: b(row[0].as_deref()),
            extras_drop_sub: b(row[1].as_deref()),
            extras_list_subs: b(row[2].as_deref()),
            extras_refresh_sub: b(row[3].as_deref()),
            pg_create_subscription: server.pg_create_subscription,
            can_create_in_db: b(row[4].as_deref()),
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
        } else if self.provider_admin {
            Ok(Via::PlainSql)
        } else if self.pg_create_subscription {
            Err("the target user is a member of pg_create_subscription but lacks CREATE on the target database".into())
        } else {
            Err("the target user cannot create subscriptions (it needs superuser, the aiven_extras extension in the target database, or membership in pg_create_subscription on PostgreSQL 16+)".into())
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

/// `ALTER SUBSCRIPTION ... REFRESH PUBLICATION WITH (copy_data = true)`: the subscription
/// learns of the publication's new tables and copies just those. As its owner (superuser,
/// `pg_create_subscription`) in plain SQL, else through `aiven_extras`.
pub async fn refresh_subscription(s: &Session, name: &str, facts: &TargetFacts) -> Result<()> {
    let owned: bool = s
        .query_opt(
            "SELECT pg_catalog.pg_get_userbyid(s.subowner) = CURRENT_USER
               FROM pg_catalog.pg_subscription s
              WHERE s.subname = $1
                AND s.subdbid = (SELECT d.oid FROM pg_catalog.pg_database d
                                  WHERE d.datname = pg_catalog.current_database())",
            &[&name],
        )
        .await
        .ok()
        .flatten()
        .map(|r| r.get(0))
        .unwrap_or(false);
    if !facts.superuser && !owned && facts.extras_refresh_sub {
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

/// The state of an existing slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotState {
    pub logical_pgoutput: bool,
    pub database: Option<String>,
    pub active: bool,
}

/// The state of an existing subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubState {
    pub enabled: bool,
    pub slot_name: Option<String>,
    pub publications: String,
}

pub async fn publication_exists(s: &Session, name: &str) -> Result<bool> {
    let row = s
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_publication WHERE pubname = $1)",
            &[&name],
        )
        .await?;
    Ok(row.get(0))
}

pub async fn slot_state(s: &Session, name: &str) -> Result<Option<SlotState>> {
    let rows = s
        .query(
            "SELECT slot_type = 'logical' AND plugin = 'pgoutput', database::text, active
               FROM pg_catalog.pg_replication_slots WHERE slot_name = $1",
            &[&name],
        )
        .await?;
    Ok(rows.first().map(|r| SlotState {
        logical_pgoutput: r.get::<_, Option<bool>>(0).unwrap_or(false),
        database: r.get(1),
        active: r.get(2),
    }))
}

pub async fn subscription_state(
    s: &Session,
    name: &str,
    facts: &TargetFacts,
) -> Result<Option<SubState>> {
    let plain = s
        .query(
            "SELECT s.subenabled, s.subslotname::text, pg_catalog.array_to_string(s.subpublications, ',')
               FROM pg_catalog.pg_subscription s
              WHERE s.subname = $1
                AND s.subdbid = (SELECT d.oid FROM pg_catalog.pg_database d
                                  WHERE d.datname = pg_catalog.current_database())",
            &[&name],
        )
        .await;
    let rows = match plain {
        Ok(rows) => rows,
        Err(e)
            if e.code() == Some(&SqlState::INSUFFICIENT_PRIVILEGE) && facts.extras_list_subs =>
        {
            s.query(
                "SELECT s.subenabled, s.subslotname::text, pg_catalog.array_to_string(s.subpublications, ',')
                   FROM aiven_extras.pg_list_all_subscriptions() s
                  WHERE s.subname = $1
                    AND s.subdbid = (SELECT d.oid FROM pg_catalog.pg_database d
                                      WHERE d.datname = pg_catalog.current_database())",
                &[&name],
            )
            .await?
        }
        Err(e) => return Err(e.into()),
    };
    Ok(rows.first().map(|r| SubState {
        enabled: r.get(0),
        slot_name: r.get(1),
        publications: r.get::<_, Option<String>>(2).unwrap_or_default(),
    }))
}

/// Drops the subscription (never its slot, which [`drop_slot`] handles on the source).
pub async fn drop_subscription(s: &Session, name: &str, facts: &TargetFacts) -> Result<()> {
    let owned: bool = s
        .query_opt(
            "SELECT pg_catalog.pg_get_userbyid(s.subowner) = CURRENT_USER
               FROM pg_catalog.pg_subscription s
              WHERE s.subname = $1
                AND s.subdbid = (SELECT d.oid FROM pg_catalog.pg_database d
                                  WHERE d.datname = pg_catalog.current_database())",
            &[&name],
        )
        .await
        .ok()
        .flatten()
        .map(|r| r.get(0))
        .unwrap_or(false);
    if !facts.superuser && !owned && facts.extras_drop_sub {
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
