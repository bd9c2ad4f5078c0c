//! TCP keepalives and `tcp_user_timeout` on every TCP socket we open, with libpq's meaning.
//!
//! Why: a migration holds sessions idle for hours (the coordinator keeping the exported
//! snapshot, a walsender between two waits). Cloud NATs and load balancers drop idle flows after
//! minutes, and without keepalives neither side notices until the next statement fails. libpq
//! turns keepalives on by default and so do we; `keepalives=0` turns them off,
//! `keepalives_idle`, `keepalives_interval` (seconds) and `keepalives_count` tune them (unset or
//! 0: the operating system's default), and `tcp_user_timeout` (milliseconds) bounds how long
//! sent data may stay unacknowledged. Unix-domain sockets have no such settings, as in libpq.

use std::time::Duration;

use socket2::{SockRef, TcpKeepalive};

use super::config::ConnInfo;
use crate::error::{Error, Result};

/// The settings of one conninfo, validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keepalives {
    /// `keepalives`: on unless `0`.
    pub enabled: bool,
    pub idle: Option<Duration>,
    pub interval: Option<Duration>,
    pub count: Option<u32>,
    /// `tcp_user_timeout`, milliseconds.
    pub user_timeout: Option<Duration>,
}

/// The keys this module reads.
pub(crate) const KEYS: [&str; 5] = [
    "keepalives",
    "keepalives_idle",
    "keepalives_interval",
    "keepalives_count",
    "tcp_user_timeout",
];

/// libpq's `parse_int_param`: an integer with optional surrounding blanks. Negative values are
/// refused here (libpq ignores them silently, which hides a typo).
fn parse_non_negative(key: &str, value: &str) -> Result<u32> {
    value.trim().parse::<u32>().map_err(|_| {
        Error::config(format!(
            "invalid {key} \"{}\": expected a whole number from 0 to {}",
            value.escape_debug(),
            u32::MAX
        ))
    })
}

/// Validates one value when the conninfo is parsed, so a bad one fails before any work.
pub(crate) fn check_value(key: &str, value: &str) -> Result<()> {
    if KEYS.contains(&key) && !value.is_empty() {
        parse_non_negative(key, value)?;
    }
    Ok(())
}

impl Keepalives {
    pub fn from_conninfo(info: &ConnInfo) -> Result<Keepalives> {
        let get = |key: &str| -> Result<Option<u32>> {
            match info.other.get(key).map(String::as_str) {
                None | Some("") => Ok(None),
                Some(value) => parse_non_negative(key, value).map(Some),
            }
        };
        let seconds = |n: Option<u32>| n.filter(|n| *n > 0).map(|n| Duration::from_secs(n.into()));
        Ok(Keepalives {
            enabled: get("keepalives")? != Some(0),
            idle: seconds(get("keepalives_idle")?),
            interval: seconds(get("keepalives_interval")?),
            count: get("keepalives_count")?.filter(|n| *n > 0),
            user_timeout: get("tcp_user_timeout")?
                .filter(|n| *n > 0)
                .map(|ms| Duration::from_millis(ms.into())),
        })
    }

    /// Sets the options on a connected TCP socket.
    pub fn apply(&self, socket: &tokio::net::TcpStream) -> Result<()> {
        let sock = SockRef::from(socket);
        let fail = |what: &str, e: std::io::Error| {
            Error::new(
                crate::error::ErrorKind::Connect,
                format!("cannot set {what} on the socket: {e}"),
            )
        };
        if self.enabled {
            let mut params = TcpKeepalive::new();
            if let Some(idle) = self.idle {
                params = params.with_time(idle);
            }
            #[cfg(any(target_os = "linux", target_os = "macos", target_os = "freebsd"))]
            {
                if let Some(interval) = self.interval {
                    params = params.with_interval(interval);
                }
                if let Some(count) = self.count {
                    params = params.with_retries(count);
                }
            }
            sock.set_tcp_keepalive(&params)
                .map_err(|e| fail("TCP keepalives", e))?;
        } else {
            sock.set_keepalive(false)
                .map_err(|e| fail("TCP keepalives", e))?;
        }
        #[cfg(target_os = "linux")]
        if let Some(timeout) = self.user_timeout {
            sock.set_tcp_user_timeout(Some(timeout))
                .map_err(|e| fail("tcp_user_timeout", e))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keepalives(s: &str) -> Result<Keepalives> {
        Keepalives::from_conninfo(&ConnInfo::parse_with_env(s, &|_| None)?)
    }

    #[test]
    fn keepalives_are_on_by_default_with_the_system_timings() {
        let k = keepalives("host=h").unwrap();
        assert!(k.enabled);
        assert_eq!(
            (k.idle, k.interval, k.count, k.user_timeout),
            (None, None, None, None)
        );
    }

    #[test]
    fn every_libpq_keepalive_key_is_read() {
        let k = keepalives(
            "host=h keepalives=1 keepalives_idle=60 keepalives_interval=5 keepalives_count=3 \
             tcp_user_timeout=9000",
        )
        .unwrap();
        assert_eq!(k.idle, Some(Duration::from_secs(60)));
        assert_eq!(k.interval, Some(Duration::from_secs(5)));
        assert_eq!(k.count, Some(3));
        assert_eq!(k.user_timeout, Some(Duration::from_millis(9000)));
        assert!(!keepalives("keepalives=0").unwrap().enabled);
        // 0 means the system default, as in libpq.
        assert_eq!(keepalives("keepalives_idle=0").unwrap().idle, None);
    }

    #[test]
    fn bad_values_are_refused_when_the_conninfo_is_parsed() {
        for bad in [
            "keepalives_idle=-1",
            "keepalives_count=lots",
            "tcp_user_timeout=1.5",
        ] {
            let e = ConnInfo::parse_with_env(bad, &|_| None)
                .unwrap_err()
                .to_string();
            let key = bad.split('=').next().unwrap();
            assert!(e.contains(key) && e.contains("whole number"), "{bad}: {e}");
        }
    }
}
