//! Subscriptions of one database (`pg_subscription`, a shared catalog: the rows whose
//! `subdbid` is the session's database), read like pg_dump's `getSubscriptions` reads them, into
//! plain structs for the schema engine's `subscriptions`.
//!
//! Each option is read where the source's major has it, else it is that major's fixed
//! behaviour (pg_dump does the same): `binary` and `streaming` 14+ (`substream` a boolean on
//! 14 and 15, a letter `f`/`t`/`p` since 16), `two_phase` and `disable_on_error` 15+,
//! `password_required`, `run_as_owner` and `origin` 16+, `failover` 17+.
//!
//! `subconninfo` is readable by superusers only (every other column is granted to PUBLIC,
//! PostgreSQL's `system_views.sql`): a source user that may not read it gets the names alone
//! ([`SubscriptionsRead::Unreadable`]), so that one warning can say which subscriptions were
//! not migrated, where pg_dump says "subscriptions not dumped because current user is not a
//! superuser".
//!
//! db-migrate's own subscriptions (named like [`crate::replication::PREFIX`]`<X>_sub`, the
//! forward one on a target migrated from, the `--fail-back-ready` one on a source) are never
//! read: they belong to a migration, not to the source's schema.

use tokio_postgres::Row;

use crate::replication::PREFIX;
use db_migrate_conn::Session;
use db_migrate_core::error::{Error, Result};
use db_migrate_core::sql::quote_literal;

/// One subscription. `conninfo` usually holds a password: never show it. Its comment is in
/// `pg_description` (not `pg_shdescription`, although `pg_subscription` is shared: PostgreSQL's
/// `comment.c` keeps shared comments for databases, tablespaces and roles only).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SubscriptionRow {
    pub oid: u32,
    pub name: String,
    pub owner: String,
    pub enabled: bool,
    pub conninfo: String,
    /// `None`: `slot_name = NONE`.
    pub slot_name: Option<String>,
    pub publications: Vec<String>,
    /// `subsynccommit`, `off` by default.
    pub synchronous_commit: String,
    pub binary: bool,
    /// `f` (off), `t` (on) or `p` (parallel, 16+); `'\0'` before 14, which has no such option.
    pub streaming: char,
    /// Two-phase commit asked for (`subtwophasestate` other than `d`).
    pub two_phase: bool,
    pub disable_on_error: bool,
    pub password_required: bool,
    pub run_as_owner: bool,
    /// `any` by default, `none`.
    pub origin: String,
    pub failover: bool,
    pub comment: Option<String>,
}

/// Debug leaves the connection string out: it usually holds a password.
impl std::fmt::Debug for SubscriptionRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SubscriptionRow")
            .field("oid", &self.oid)
            .field("name", &self.name)
            .field("owner", &self.owner)
            .field("enabled", &self.enabled)
            .field("conninfo", &"(not shown)")
            .field("slot_name", &self.slot_name)
            .field("publications", &self.publications)
            .finish_non_exhaustive()
    }
}

/// What the source user could read of the database's subscriptions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubscriptionsRead {
    /// Every subscription, ordered by name.
    Read(Vec<SubscriptionRow>),
    /// The source user may not read `subconninfo` (not a superuser): only the names, ordered.
    Unreadable(Vec<String>),
}

async fn query(s: &Session, sql: &str) -> Result<Vec<Row>> {
    s.query(sql, &[])
        .await
        .map_err(|e| Error::from_pg(e).with_step("reading subscriptions"))
}

/// The subscriptions of the session's database except db-migrate's own (see the module docs).
pub async fn list_subscriptions(s: &Session) -> Result<SubscriptionsRead> {
    let v = s.server_version_num();
    let own = quote_literal(&format!("{}%\\_sub", PREFIX.replace('_', "\\_")));
    let this_database = format!(
        "s.subdbid = (SELECT oid FROM pg_catalog.pg_database \
                       WHERE datname = pg_catalog.current_database()) \
         AND s.subname::text NOT LIKE {own}"
    );
    let readable: bool = query(
        s,
        "SELECT pg_catalog.has_column_privilege('pg_catalog.pg_subscription', 'subconninfo', \
                'SELECT')",
    )
    .await?[0]
        .get(0);
    if !readable {
        let sql = format!(
            "SELECT s.subname::text FROM pg_catalog.pg_subscription s \
              WHERE {this_database} ORDER BY s.subname"
        );
        let names = query(s, &sql).await?.iter().map(|r| r.get(0)).collect();
        return Ok(SubscriptionsRead::Unreadable(names));
    }
    let (binary, streaming) = match v {
        ..140000 => ("false", "''"),
        140000..160000 => ("s.subbinary", "CASE WHEN s.substream THEN 't' ELSE 'f' END"),
        _ => ("s.subbinary", "s.substream::text"),
    };
    let (two_phase, disable_on_error) = if v >= 150000 {
        ("s.subtwophasestate <> 'd'", "s.subdisableonerr")
    } else {
        ("false", "false")
    };
    let (password_required, run_as_owner, origin) = if v >= 160000 {
        (
            "s.subpasswordrequired",
            "s.subrunasowner",
            "s.suborigin::text",
        )
    } else {
        ("true", "false", "'any'")
    };
    let failover = if v >= 170000 {
        "s.subfailover"
    } else {
        "false"
    };
    let sql = format!(
        "SELECT s.oid, s.subname::text, pg_catalog.pg_get_userbyid(s.subowner)::text, \
                s.subenabled, s.subconninfo, s.subslotname::text, \
                s.subpublications::text[], s.subsynccommit, {binary}, ({streaming})::text, \
                {two_phase}, {disable_on_error}, {password_required}, {run_as_owner}, \
                {origin}, {failover}, \
                pg_catalog.obj_description(s.oid, 'pg_subscription')::text \
           FROM pg_catalog.pg_subscription s \
          WHERE {this_database} \
          ORDER BY s.subname"
    );
    let rows = query(s, &sql).await?;
    Ok(SubscriptionsRead::Read(
        rows.iter()
            .map(|r| SubscriptionRow {
                oid: r.get(0),
                name: r.get(1),
                owner: r.get(2),
                enabled: r.get(3),
                conninfo: r.get(4),
                slot_name: r.get(5),
                publications: r.get(6),
                synchronous_commit: r.get(7),
                binary: r.get(8),
                streaming: r.get::<_, String>(9).chars().next().unwrap_or('\0'),
                two_phase: r.get(10),
                disable_on_error: r.get(11),
                password_required: r.get(12),
                run_as_owner: r.get(13),
                origin: r.get(14),
                failover: r.get(15),
                comment: r.get(16),
            })
            .collect(),
    ))
}

/// The subscriptions of the session's database that exist and are disabled, by name: what a
/// run created (`connect = false` makes them disabled) and the operator has still to enable.
pub async fn disabled_subscriptions(s: &Session) -> Result<Vec<String>> {
    let sql = "SELECT s.subname::text FROM pg_catalog.pg_subscription s \
                WHERE s.subdbid = (SELECT oid FROM pg_catalog.pg_database \
                                    WHERE datname = pg_catalog.current_database()) \
                  AND NOT s.subenabled \
                ORDER BY s.subname";
    Ok(query(s, sql).await?.iter().map(|r| r.get(0)).collect())
}
