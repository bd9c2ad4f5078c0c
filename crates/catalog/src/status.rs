//! What `db-migrate status` reads of a target's catalogs besides the ledger: the databases that
//! may hold one, the sessions of a migration in a database (`pg_stat_activity`), and what
//! `pg_stat_subscription` says of a subscription's apply worker. Every query here only reads;
//! the subscription's own state and the slot's lag are the replication queries of
//! [`super::replication::state`], shared with the run that waits on them.

use db_migrate_conn::Session;
use db_migrate_core::error::Result;

/// The databases of the target a status may look into: those that accept connections and are
/// not templates (a run never migrates into a template).
pub async fn connectable_databases(s: &Session) -> Result<Vec<String>> {
    let rows = s
        .query(
            "SELECT d.datname::text FROM pg_catalog.pg_database d
              WHERE d.datallowconn AND NOT d.datistemplate ORDER BY 1",
            &[],
        )
        .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// A client session of a migration in the session's database.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MigrationSession {
    pub pid: i32,
    pub application_name: String,
    /// `active`, `idle`, `idle in transaction`...; `None` when the server hides it from us.
    pub state: Option<String>,
    /// Seconds since its current statement started (`None`: hidden or idle).
    pub running_for_seconds: Option<i64>,
}

/// The client sessions in the session's database whose `application_name` starts with
/// `db-migrate/` (every session of a run carries it unless the user gave another name) or is
/// one of `names` (the name the user gave), leaving out `own_pids` (the status's own sessions).
/// `application_name` is visible to every user, even in rows of other roles.
pub async fn migration_sessions(
    s: &Session,
    names: &[String],
    own_pids: &[i32],
) -> Result<Vec<MigrationSession>> {
    let rows = s
        .query(
            "SELECT a.pid, a.application_name, a.state,
                    CASE WHEN a.state = 'active'
                         THEN pg_catalog.date_part('epoch', pg_catalog.now() - a.query_start)::int8
                    END
               FROM pg_catalog.pg_stat_activity a
              WHERE a.datname = pg_catalog.current_database()
                AND a.backend_type = 'client backend'
                AND (a.application_name LIKE 'db-migrate/%' OR a.application_name = ANY ($1))
                AND a.pid <> ALL ($2)
              ORDER BY a.pid",
            &[&names, &own_pids],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| MigrationSession {
            pid: r.get(0),
            application_name: r.get(1),
            state: r.get(2),
            running_for_seconds: r.get(3),
        })
        .collect())
}

/// What `pg_stat_subscription` shows of a subscription's apply worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyWorker {
    /// The worker runs (it has a pid).
    pub running: bool,
    /// The last WAL position reported back to the source (`latest_end_lsn`), as text.
    pub latest_end_lsn: Option<String>,
    /// Seconds since the last message from the source arrived.
    pub last_message_seconds_ago: Option<i64>,
}

/// The apply worker of subscription `name` (`None`: no row, e.g. a disabled subscription on
/// some versions).
pub async fn apply_worker(s: &Session, name: &str) -> Result<Option<ApplyWorker>> {
    let row = s
        .query_opt(
            "SELECT w.pid IS NOT NULL, w.latest_end_lsn::text,
                    pg_catalog.date_part('epoch', pg_catalog.now() - w.last_msg_receipt_time)::int8
               FROM pg_catalog.pg_stat_subscription w
              WHERE w.subname = $1 AND w.relid IS NULL
              LIMIT 1",
            &[&name],
        )
        .await?;
    Ok(row.map(|r| ApplyWorker {
        running: r.get(0),
        latest_end_lsn: r.get(1),
        last_message_seconds_ago: r.get(2),
    }))
}

/// Whether `aiven_extras.pg_list_all_subscriptions()` exists in the session's database (the
/// way a user who may not read `pg_subscription` sees subscriptions).
pub async fn can_list_subscriptions_via_extras(s: &Session) -> Result<bool> {
    let row = s
        .query_one(
            "SELECT pg_catalog.to_regprocedure('aiven_extras.pg_list_all_subscriptions()') IS NOT NULL",
            &[],
        )
        .await?;
    Ok(row.get(0))
}

/// Whether the session's current transaction is read-only, as the server says
/// (`transaction_read_only`): the status proves it wrote nothing by reading only in such.
pub async fn transaction_read_only(s: &Session) -> Result<bool> {
    let row = s
        .query_one(
            "SELECT pg_catalog.current_setting('transaction_read_only') = 'on'",
            &[],
        )
        .await?;
    Ok(row.get(0))
}

/// The session's backend pid.
pub async fn backend_pid(s: &Session) -> Result<i32> {
    Ok(s.query_one("SELECT pg_catalog.pg_backend_pid()", &[])
        .await?
        .get(0))
}

/// The server's clock, as text in UTC (the time a status was read).
pub async fn now_utc(s: &Session) -> Result<String> {
    Ok(s.query_one(
        "SELECT pg_catalog.to_char(pg_catalog.now() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || ' UTC'",
        &[],
    )
    .await?
    .get(0))
}
