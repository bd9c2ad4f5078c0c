//! The settings of the copy's sessions on both sides, one list each, applied the same way
//! through tokio-postgres and our own wire sessions.

use super::*;

/// `maintenance_work_mem` for the target sessions (index builds in post-data), unless the
/// server's setting is already higher.
pub const MAINTENANCE_WORK_MEM: &str = "256MB";

/// Settings of every source session: no timeouts that would kill a long COPY or the idle
/// coordinator, unambiguous text output (ISO dates, exact floats, UTC), heap order (no
/// synchronized scans), and an error rather than silently filtered rows under row-level
/// security (as pg_dump does).
const SOURCE_SETTINGS: &[&str] = &[
    "SET statement_timeout = 0",
    "SET lock_timeout = 0",
    "SET idle_in_transaction_session_timeout = 0",
    "SET extra_float_digits = 3",
    "SET DateStyle = ISO",
    "SET IntervalStyle = postgres",
    "SET TimeZone = 'UTC'",
    "SET synchronize_seqscans = off",
    "SET row_security = off",
    "SET client_min_messages = warning",
];

/// Settings of every target session: bulk load (`synchronous_commit = off`), no timeouts, the
/// same text conventions as the source, and an error rather than rejected rows under RLS.
const TARGET_SETTINGS: &[&str] = &[
    "SET statement_timeout = 0",
    "SET lock_timeout = 0",
    "SET idle_in_transaction_session_timeout = 0",
    "SET synchronous_commit = off",
    "SET DateStyle = ISO",
    "SET IntervalStyle = postgres",
    "SET TimeZone = 'UTC'",
    "SET extra_float_digits = 3",
    "SET xmloption = content",
    "SET row_security = off",
    "SET client_min_messages = warning",
];

/// A session that runs statements without results: the tokio-postgres [`Session`]s of the
/// coordinator, the control session and large-object tasks, and the [`WireSession`]s of the
/// copy workers, which also run post-data jobs and ANALYZE (so a worker needs two connections,
/// not three).
pub(crate) trait Statements {
    async fn run(&mut self, sql: &str) -> Result<()>;
    /// Whether `sql` returns a row.
    async fn exists(&mut self, sql: &str) -> Result<bool>;
    fn server_version_num(&self) -> u32;
}

impl Statements for &Session {
    async fn run(&mut self, sql: &str) -> Result<()> {
        self.batch_execute(sql).await.map_err(Error::from_pg)
    }
    async fn exists(&mut self, sql: &str) -> Result<bool> {
        Ok(self
            .query_opt(sql, &[])
            .await
            .map_err(Error::from_pg)?
            .is_some())
    }
    fn server_version_num(&self) -> u32 {
        Session::server_version_num(self)
    }
}

impl Statements for &mut WireSession {
    async fn run(&mut self, sql: &str) -> Result<()> {
        self.simple_query(sql).await.map(|_| ())
    }
    async fn exists(&mut self, sql: &str) -> Result<bool> {
        Ok(!self.simple_query(sql).await?.rows.is_empty())
    }
    fn server_version_num(&self) -> u32 {
        WireSession::server_version_num(self)
    }
}

async fn apply_settings(s: &mut impl Statements, settings: &[&str], extra: &[String]) {
    let mut all: Vec<String> = settings.iter().map(|s| s.to_string()).collect();
    all.extend(extra.iter().cloned());
    if s.run(&all.join("; ")).await.is_ok() {
        return;
    }
    // One of them is not accepted here (old server, pooler): apply what can be applied.
    for stmt in &all {
        if let Err(e) = s.run(stmt).await {
            tracing::debug!("{stmt}: {e}");
        }
    }
}

/// Prepares a source session (settings only; the caller opens the transaction).
pub(crate) async fn prepare_source(mut s: impl Statements) {
    let mut extra = Vec::new();
    if s.server_version_num() >= 170000 {
        extra.push("SET transaction_timeout = 0".to_string());
    }
    apply_settings(&mut s, SOURCE_SETTINGS, &extra).await;
}

/// Prepares a target session. Returns whether `session_replication_role = replica` could be
/// set (superuser, or a role granted SET on it): then no ordinary trigger and no foreign-key
/// check fires during the load.
pub(crate) async fn prepare_target(mut s: impl Statements) -> bool {
    let mut extra = vec![format!(
        "SELECT CASE WHEN pg_catalog.pg_size_bytes(pg_catalog.current_setting('maintenance_work_mem'))
                     < pg_catalog.pg_size_bytes({m})
                THEN pg_catalog.set_config('maintenance_work_mem', {m}, false) END",
        m = quote_literal(MAINTENANCE_WORK_MEM)
    )];
    if s.server_version_num() >= 170000 {
        extra.push("SET transaction_timeout = 0".to_string());
    }
    apply_settings(&mut s, TARGET_SETTINGS, &extra).await;
    s.run("SET session_replication_role = replica")
        .await
        .is_ok()
}
