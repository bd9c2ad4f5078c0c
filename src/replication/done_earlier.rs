//! Which databases a cut-over run leaves alone.
//!
//! The documented cut-over is the first command again plus `--max-replication-lag 0
//! --stop-replication`. In the first run some databases may have fallen back to dump (no
//! privilege, no primary key...): they were migrated completely then, have no replication
//! objects, and migrating them again fails on the first `CREATE` ("already exists"). So in a
//! run that stops replication, a database without objects of an earlier run whose target
//! database already holds tables is reported as done earlier and not touched. A database
//! whose target is empty is migrated as usual, which keeps "replicate and cut over in one
//! run" working.

use crate::conn::{ConnInfo, connect};
use crate::error::{Result, Side};

use super::ReplicationOptions;

/// `Some(message)` when `dbname` is to be reported as done by an earlier run.
pub async fn check(
    target: &ConnInfo,
    dbname: &str,
    opts: &ReplicationOptions,
) -> Result<Option<String>> {
    if !(opts.stop_replication && opts.max_replication_lag.is_some()) {
        return Ok(None);
    }
    let s = connect(target, Some(dbname))
        .await
        .map_err(|e| e.with_side(Side::Target).with_database(dbname))?;
    let tables = crate::catalog::replication::tables::user_table_count(&s)
        .await
        .map_err(|e| e.with_side(Side::Target))?;
    Ok((tables > 0).then(|| {
        format!(
            "nothing to cut over: no replication objects of this migration, and the target \
             database already holds {tables} tables (migrated by an earlier run, by dump or \
             with its replication already stopped); left unchanged"
        )
    }))
}
