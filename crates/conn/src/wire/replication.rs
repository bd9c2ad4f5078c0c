//! Walsender sessions (`replication=database`) and the replication commands db-migrate runs on
//! them: `IDENTIFY_SYSTEM`, creating a logical slot with an exported snapshot, dropping a slot.
//! Its own file because these commands exist only on replication connections, which
//! tokio-postgres cannot open.

use super::proto::{self, SlotInfo, SystemInfo};
use super::session::{Mode, WireSession, connect_mode};
use crate::config::ConnInfo;
use db_migrate_core::error::Result;

/// Opens a replication session (`replication=database`) to `info`, optionally on another
/// database than the conninfo's. Bounded by `connect_timeout` when set.
///
/// Errors ([`ErrorKind`](db_migrate_core::error::ErrorKind)): `Auth` for a refused login (28xxx, e.g.
/// pg_hba has no `replication` line), SQLSTATE 42501 when the role may not start a walsender (no
/// REPLICATION attribute), `Tls`, `Connect`, `Timeout`.
pub async fn connect_replication(info: &ConnInfo, dbname: Option<&str>) -> Result<WireSession> {
    connect_mode(info, dbname, Mode::Replication).await
}

impl WireSession {
    /// `IDENTIFY_SYSTEM`.
    pub async fn identify_system(&mut self) -> Result<SystemInfo> {
        let r = self.simple_query("IDENTIFY_SYSTEM").await?;
        SystemInfo::from_result(&r)
    }

    /// Creates a permanent logical slot `name` with the `pgoutput` plugin and exports its
    /// snapshot (`(SNAPSHOT 'export')` on PostgreSQL 15+, `EXPORT_SNAPSHOT` before). The
    /// snapshot stays valid while this session is idle: run nothing else on it until the
    /// snapshot's users are done.
    pub async fn create_logical_slot(&mut self, name: &str) -> Result<SlotInfo> {
        let cmd = proto::create_slot_command(name, self.server_version_num)?;
        let r = self.simple_query(&cmd).await?;
        SlotInfo::from_result(&r)
    }

    /// `DROP_REPLICATION_SLOT name [WAIT]`.
    pub async fn drop_slot(&mut self, name: &str, wait: bool) -> Result<()> {
        let mut cmd = format!(
            "DROP_REPLICATION_SLOT {}",
            db_migrate_core::sql::quote_ident(name)
        );
        if wait {
            cmd.push_str(" WAIT");
        }
        self.simple_query(&cmd).await.map(|_| ())
    }
}
