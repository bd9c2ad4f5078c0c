//! Replication commands without I/O: the text of `CREATE_REPLICATION_SLOT` by server version,
//! the slot-name rule, and the replies of `IDENTIFY_SYSTEM` and `CREATE_REPLICATION_SLOT`.
//! Its own file because only walsender sessions use it; it stays in [`super`] (no I/O) so the
//! fuzz target covers the reply parsers.

use super::{QueryResult, protocol};
use db_migrate_core::error::{Error, Result};

/// The reply of `IDENTIFY_SYSTEM`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemInfo {
    pub systemid: String,
    pub timeline: u32,
    /// Current WAL flush location, e.g. `0/16B3748`.
    pub xlogpos: String,
    /// The database of a `replication=database` session.
    pub dbname: Option<String>,
}

impl SystemInfo {
    pub fn from_result(r: &QueryResult) -> Result<SystemInfo> {
        let need = |c: &str| {
            r.get(0, c).map(str::to_owned).ok_or_else(|| {
                protocol(format!("IDENTIFY_SYSTEM reply without a value for \"{c}\""))
            })
        };
        Ok(SystemInfo {
            systemid: need("systemid")?,
            timeline: need("timeline")?
                .parse()
                .map_err(|_| protocol("IDENTIFY_SYSTEM timeline is not a number"))?,
            xlogpos: need("xlogpos")?,
            dbname: r.get(0, "dbname").map(str::to_owned),
        })
    }
}

/// A slot created by `CREATE_REPLICATION_SLOT ... LOGICAL` with an exported snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotInfo {
    pub name: String,
    /// The LSN from which the slot streams changes (`0/16B3780`): everything before it is
    /// in the snapshot.
    pub consistent_point: String,
    /// For `SET TRANSACTION SNAPSHOT`; valid while the creating session stays idle.
    pub snapshot_name: String,
    pub output_plugin: String,
}

impl SlotInfo {
    pub fn from_result(r: &QueryResult) -> Result<SlotInfo> {
        if r.rows.len() != 1 {
            return Err(protocol(format!(
                "CREATE_REPLICATION_SLOT returned {} rows instead of 1",
                r.rows.len()
            )));
        }
        let need = |c: &str| {
            r.get(0, c).map(str::to_owned).ok_or_else(|| {
                protocol(format!(
                    "CREATE_REPLICATION_SLOT reply without a value for \"{c}\""
                ))
            })
        };
        Ok(SlotInfo {
            name: need("slot_name")?,
            consistent_point: need("consistent_point")?,
            snapshot_name: need("snapshot_name")?,
            output_plugin: r.get(0, "output_plugin").unwrap_or("").to_owned(),
        })
    }
}

/// Whether `name` is a valid replication slot name: 1 to 63 bytes of lower-case ASCII
/// letters, digits and underscores (the server's rule).
pub fn is_valid_slot_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// `CREATE_REPLICATION_SLOT` for a permanent logical `pgoutput` slot that exports its
/// snapshot, in the syntax of `server_version_num`.
pub fn create_slot_command(name: &str, server_version_num: u32) -> Result<String> {
    if !is_valid_slot_name(name) {
        return Err(Error::config(format!(
            "\"{name}\" is not a valid replication slot name (1 to 63 lower-case letters, digits or underscores)"
        )));
    }
    let quoted = db_migrate_core::sql::quote_ident(name);
    Ok(if server_version_num >= 150000 {
        format!("CREATE_REPLICATION_SLOT {quoted} LOGICAL pgoutput (SNAPSHOT 'export')")
    } else {
        format!("CREATE_REPLICATION_SLOT {quoted} LOGICAL pgoutput EXPORT_SNAPSHOT")
    })
}

#[cfg(test)]
mod tests {
    use super::super::parse_server_version;
    use super::*;

    #[test]
    fn slot_commands_by_version() {
        assert_eq!(
            create_slot_command("s_1", 150000).unwrap(),
            "CREATE_REPLICATION_SLOT \"s_1\" LOGICAL pgoutput (SNAPSHOT 'export')"
        );
        assert_eq!(
            create_slot_command("s_1", 140005).unwrap(),
            "CREATE_REPLICATION_SLOT \"s_1\" LOGICAL pgoutput EXPORT_SNAPSHOT"
        );
        assert!(create_slot_command("Bad", 150000).is_err());
        assert!(create_slot_command(&"a".repeat(64), 150000).is_err());
        assert_eq!(parse_server_version("16beta1"), Some(160000));
        assert_eq!(
            parse_server_version("13.12 (Debian 13.12-1.pgdg+1)"),
            Some(130012)
        );
        assert_eq!(parse_server_version("9.6.24"), Some(90624));
        assert_eq!(parse_server_version("x"), None);
    }
}
