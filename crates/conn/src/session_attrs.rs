//! libpq's `target_session_attrs`, honoured on every session we open.
//!
//! A migration talks to one host per side (lists of hosts are refused), so the setting cannot
//! pick among servers as libpq does; it can still refuse the wrong kind of server, which is what
//! a user who wrote `target_session_attrs=read-write` into a conninfo relies on (e.g. a DNS name
//! that may point at a replica after a failover). With one host, `prefer-standby` accepts any
//! server, as libpq does when no standby is reachable.

use db_migrate_core::error::{Error, ErrorKind, Result};

/// The SQL that tells what kind of server a session is on; the two columns are `in_recovery`
/// and `read_only` ("t"/"f", "on"/"off").
pub const PROBE_SQL: &str = "SELECT pg_catalog.pg_is_in_recovery()::text AS in_recovery, \
                             pg_catalog.current_setting('transaction_read_only') AS read_only";

/// The value asked for, when it needs a check (anything but `any` and `prefer-standby`).
pub fn wanted(info: &super::ConnInfo) -> Option<&str> {
    info.other
        .get("target_session_attrs")
        .map(String::as_str)
        .filter(|v| !matches!(*v, "" | "any" | "prefer-standby"))
}

/// Checks the answer to [`PROBE_SQL`] against `wanted`; the error says what the server is and
/// what was asked for.
pub fn check(wanted: &str, in_recovery: &str, read_only: &str, endpoint: &str) -> Result<()> {
    let in_recovery = in_recovery == "t" || in_recovery == "true";
    let read_only = read_only == "on" || read_only == "t";
    let ok = match wanted {
        "read-write" => !read_only,
        "read-only" => read_only,
        "primary" => !in_recovery,
        "standby" => in_recovery,
        _ => true,
    };
    if ok {
        return Ok(());
    }
    let is = match (in_recovery, read_only) {
        (true, _) => "a standby (in recovery)",
        (false, true) => "read-only (default_transaction_read_only is on)",
        (false, false) => "a read-write primary",
    };
    Err(Error::new(
        ErrorKind::Connect,
        format!(
            "the server at {endpoint} is {is}, but target_session_attrs={wanted} asks for \
             another kind of server"
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_kind_is_matched_as_libpq_does() {
        assert!(check("read-write", "f", "off", "h").is_ok());
        assert!(check("primary", "f", "on", "h").is_ok());
        assert!(check("standby", "t", "on", "h").is_ok());
        let e = check("read-write", "t", "on", "host \"h\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("standby") && e.contains("read-write"), "{e}");
        assert!(check("read-only", "f", "off", "h").is_err());
    }
}
