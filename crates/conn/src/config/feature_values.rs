//! The values of the keys that db-migrate's own connection features read from
//! [`ConnInfo::other`](super::ConnInfo::other): the keepalive timings
//! ([`crate::keepalive`]), `target_session_attrs` ([`crate::session_attrs`]) and
//! `channel_binding` ([`crate::channel_binding`]).
//!
//! Each is checked when a conninfo is parsed ([`check_value`]), so that a typo fails before any
//! work. The spellings live here, below the features, because parsing a conninfo must not
//! import the code that later uses one: each feature reads its keys from a parsed
//! [`ConnInfo`](super::ConnInfo) and takes what it accepts from this file.

use db_migrate_core::error::{Error, Result};

/// The keys the keepalive settings read.
const KEEPALIVE_KEYS: [&str; 5] = [
    "keepalives",
    "keepalives_idle",
    "keepalives_interval",
    "keepalives_count",
    "tcp_user_timeout",
];

/// libpq's spellings of `target_session_attrs`.
const TARGET_SESSION_ATTRS: [&str; 6] = [
    "any",
    "read-write",
    "read-only",
    "primary",
    "standby",
    "prefer-standby",
];

/// Validates one value of [`ConnInfo::other`](super::ConnInfo::other) when the conninfo is
/// parsed, so a bad one fails before any work (keys no feature reads pass).
pub(crate) fn check_value(key: &str, value: &str) -> Result<()> {
    check_keepalive(key, value)?;
    check_target_session_attrs(key, value)?;
    check_channel_binding(key, value)
}

/// libpq's `parse_int_param`: an integer with optional surrounding blanks. Negative values are
/// refused here (libpq ignores them silently, which hides a typo).
pub(crate) fn parse_non_negative(key: &str, value: &str) -> Result<u32> {
    value.trim().parse::<u32>().map_err(|_| {
        Error::config(format!(
            "invalid {key} \"{}\": expected a whole number from 0 to {}",
            value.escape_debug(),
            u32::MAX
        ))
    })
}

/// A keepalive timing: a whole number ([`parse_non_negative`]).
fn check_keepalive(key: &str, value: &str) -> Result<()> {
    if KEEPALIVE_KEYS.contains(&key) && !value.is_empty() {
        parse_non_negative(key, value)?;
    }
    Ok(())
}

/// Refuses a misspelt `target_session_attrs`.
fn check_target_session_attrs(key: &str, value: &str) -> Result<()> {
    if key != "target_session_attrs" || value.is_empty() || TARGET_SESSION_ATTRS.contains(&value) {
        return Ok(());
    }
    Err(Error::config(format!(
        "invalid target_session_attrs \"{}\": expected one of {}",
        value.escape_debug(),
        TARGET_SESSION_ATTRS.join(", ")
    )))
}

/// Checks a `channel_binding` value, so that a typo is an error naming the allowed values rather
/// than a silent `prefer`.
fn check_channel_binding(key: &str, value: &str) -> Result<()> {
    if key != "channel_binding" {
        return Ok(());
    }
    match value {
        "" | "disable" | "prefer" | "require" => Ok(()),
        other => Err(Error::config(format!(
            "invalid channel_binding \"{}\": expected disable, prefer or require",
            other.escape_debug()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_libpq_value_is_accepted_and_a_typo_is_not() {
        for v in TARGET_SESSION_ATTRS {
            assert!(check_value("target_session_attrs", v).is_ok());
        }
        let e = check_value("target_session_attrs", "readwrite")
            .unwrap_err()
            .to_string();
        assert!(e.contains("readwrite") && e.contains("read-write"), "{e}");
    }
}
