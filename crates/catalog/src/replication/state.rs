//! The state of the replication objects in the catalogs: a publication (`pg_publication`), a
//! slot (`pg_replication_slots`) and a subscription (`pg_subscription`, `pg_subscription_rel`,
//! `pg_stat_subscription`). Each object is looked up by name; subscriptions only in the
//! session's database, since their names are unique per database.

use tokio_postgres::error::SqlState;

use db_migrate_conn::Session;
use db_migrate_core::error::Result;

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

/// A slot's position against the source's WAL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotLag {
    /// A walsender streams the slot.
    pub active: bool,
    /// `pg_current_wal_insert_lsn() - confirmed_flush_lsn`, `None` before the first
    /// confirmation (the insert position, see [`current_wal_lsn`]).
    pub lag_bytes: Option<i64>,
}

/// The tables of a subscription (`pg_subscription_rel`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubscriptionTables {
    pub total: i64,
    /// Tables whose initial sync has not finished (state other than `r`eady).
    pub not_ready: i64,
}

/// The columns of [`SubState`], from `pg_subscription` or aiven_extras' list of it.
const SUB_COLUMNS: &str =
    "s.subenabled, s.subslotname::text, pg_catalog.array_to_string(s.subpublications, ',')";

/// The subscription of this name in the session's database.
const IN_THIS_DATABASE: &str = "s.subname = $1
                AND s.subdbid = (SELECT d.oid FROM pg_catalog.pg_database d
                                  WHERE d.datname = pg_catalog.current_database())";

pub async fn publication_exists(s: &Session, name: &str) -> Result<bool> {
    let row = s
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_publication WHERE pubname = $1)",
            &[&name],
        )
        .await?;
    Ok(row.get(0))
}

/// The comment of publication `name` (where a run stores its schema fingerprint); `None`
/// when it has none, does not exist or cannot be read.
pub async fn publication_comment(s: &Session, name: &str) -> Option<String> {
    publication_comment_checked(s, name).await.ok().flatten()
}

/// [`publication_comment`] that reports a failed read rather than taking it for "no comment"
/// (what must be restored from the comment must not be skipped silently).
pub async fn publication_comment_checked(s: &Session, name: &str) -> Result<Option<String>> {
    let row = s
        .query_opt(
            "SELECT pg_catalog.obj_description(p.oid, 'pg_publication') FROM pg_catalog.pg_publication p WHERE p.pubname = $1",
            &[&name],
        )
        .await?;
    Ok(row.and_then(|r| r.get(0)))
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

/// How far slot `name` is behind the source's current WAL position; `None` when the slot does
/// not exist.
pub async fn slot_lag(s: &Session, name: &str) -> Result<Option<SlotLag>> {
    let row = s
        .query_opt(
            "SELECT active, pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_insert_lsn(), confirmed_flush_lsn)::bigint
               FROM pg_catalog.pg_replication_slots WHERE slot_name = $1",
            &[&name],
        )
        .await?;
    Ok(row.map(|r| SlotLag {
        active: r.get(0),
        lag_bytes: r.get(1),
    }))
}

/// The source's current WAL position, as text: the *insert* position
/// (`pg_current_wal_insert_lsn()`), not the write position `pg_current_wal_lsn()`, which lags
/// behind commits made with `synchronous_commit = off` (their records wait in the WAL buffers
/// for the WAL writer). A barrier or a lag of 0 measured against the write position could be
/// confirmed by the subscriber before such a commit, and its rows would be lost at the cut-over.
pub async fn current_wal_lsn(s: &Session) -> Result<String> {
    let row = s
        .query_one("SELECT pg_catalog.pg_current_wal_insert_lsn()::text", &[])
        .await?;
    Ok(row.get(0))
}

/// Whether slot `name` has confirmed WAL up to `lsn` (`None`: no such slot, or nothing
/// confirmed yet).
pub async fn slot_confirmed(s: &Session, name: &str, lsn: &str) -> Result<Option<bool>> {
    let row = s
        .query_opt(
            "SELECT pg_catalog.pg_wal_lsn_diff(confirmed_flush_lsn, $1::text::pg_lsn) >= 0
               FROM pg_catalog.pg_replication_slots WHERE slot_name = $2",
            &[&lsn, &name],
        )
        .await?;
    Ok(row.and_then(|r| r.get(0)))
}

/// The subscription `name` of the session's database. A user who may not read
/// `pg_subscription` (PostgreSQL hides it from non-superusers) reads it through
/// `aiven_extras.pg_list_all_subscriptions()` when `via_extras` says that function exists.
pub async fn subscription_state(
    s: &Session,
    name: &str,
    via_extras: bool,
) -> Result<Option<SubState>> {
    let plain = s
        .query(
            &format!(
                "SELECT {SUB_COLUMNS} FROM pg_catalog.pg_subscription s WHERE {IN_THIS_DATABASE}"
            ),
            &[&name],
        )
        .await;
    let rows = match plain {
        Ok(rows) => rows,
        Err(e) if e.code() == Some(&SqlState::INSUFFICIENT_PRIVILEGE) && via_extras => {
            s.query(
                &format!(
                    "SELECT {SUB_COLUMNS} FROM aiven_extras.pg_list_all_subscriptions() s \
                      WHERE {IN_THIS_DATABASE}"
                ),
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

/// Whether the current user owns subscription `name` (false when it cannot tell).
pub async fn subscription_owned(s: &Session, name: &str) -> bool {
    s.query_opt(
        &format!(
            "SELECT pg_catalog.pg_get_userbyid(s.subowner) = CURRENT_USER
               FROM pg_catalog.pg_subscription s
              WHERE {IN_THIS_DATABASE}"
        ),
        &[&name],
    )
    .await
    .ok()
    .flatten()
    .map(|r| r.get(0))
    .unwrap_or(false)
}

/// The tables of subscription `name` and how many are not synced yet.
pub async fn subscription_tables(s: &Session, name: &str) -> Result<SubscriptionTables> {
    let row = s
        .query_one(
            &format!(
                "SELECT pg_catalog.count(*), pg_catalog.count(*) FILTER (WHERE r.srsubstate <> 'r')
                   FROM pg_catalog.pg_subscription_rel r
                   JOIN pg_catalog.pg_subscription s ON s.oid = r.srsubid
                  WHERE {IN_THIS_DATABASE}"
            ),
            &[&name],
        )
        .await?;
    Ok(SubscriptionTables {
        total: row.get(0),
        not_ready: row.get(1),
    })
}

/// Whether subscription `name` replicates the table `identity` (as `regclass` writes it),
/// or, for a partition, any table of its partition tree: a publication with
/// `publish_via_partition_root` lists only the root, and a `REFRESH PUBLICATION` after the
/// source dropped a partition takes it out of the subscription before a check may see the
/// drop, while its siblings stay. Only such a table is the replication's to drop when the
/// source dropped its own.
pub async fn subscription_has_table(s: &Session, name: &str, identity: &str) -> Result<bool> {
    // pg_partition_root and pg_partition_tree: PostgreSQL 12+ (NULL and nothing for a table
    // outside any partition tree); before, the table alone.
    let tables = if s.server_version_num() >= 120000 {
        "SELECT pg_catalog.to_regclass($2)::pg_catalog.oid
         UNION ALL
         SELECT t.relid::pg_catalog.oid
           FROM pg_catalog.pg_partition_tree(pg_catalog.pg_partition_root(pg_catalog.to_regclass($2))) t"
    } else {
        "SELECT pg_catalog.to_regclass($2)::pg_catalog.oid"
    };
    let row = s
        .query_one(
            &format!(
                "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_subscription_rel r
                                  JOIN pg_catalog.pg_subscription s ON s.oid = r.srsubid
                                 WHERE {IN_THIS_DATABASE}
                                   AND r.srrelid IN ({tables}))"
            ),
            &[&name, &identity],
        )
        .await?;
    Ok(row.get(0))
}

/// Whether the apply worker of subscription `name` runs (`None`: no row to tell).
pub async fn apply_worker_running(s: &Session, name: &str) -> Result<Option<bool>> {
    let rows = s
        .query(
            "SELECT pid IS NOT NULL FROM pg_catalog.pg_stat_subscription WHERE subname = $1 AND relid IS NULL",
            &[&name],
        )
        .await?;
    Ok(rows.first().map(|r| r.get(0)))
}

/// PostgreSQL 15+: `(apply_error_count, sync_error_count)` of subscription `name`; `None` on
/// older servers or without a row.
pub async fn subscription_error_counts(s: &Session, name: &str) -> Result<Option<(i64, i64)>> {
    if s.server_version_num() < 150000 {
        return Ok(None);
    }
    let rows = s
        .query(
            "SELECT apply_error_count, sync_error_count FROM pg_catalog.pg_stat_subscription_stats WHERE subname = $1",
            &[&name],
        )
        .await?;
    Ok(rows.first().map(|r| (r.get(0), r.get(1))))
}
