//! TCP keepalives and `tcp_user_timeout` on every TCP socket we open, with libpq's meaning.
//!
//! Why: a migration holds sessions idle for hours (the coordinator keeping the exported
//! snapshot, a walsender between two waits). Cloud NATs and load balancers drop idle flows after
//! minutes, and without keepalives neither side notices until the next statement fails. libpq
//! turns keepalives on by default and so do we; `keepalives=0` turns them off,
//! `keepalives_idle`, `keepalives_interval` (seconds) and `keepalives_count` tune them, and
//! `tcp_user_timeout` (milliseconds) bounds how long sent data may stay unacknowledged.
//! Unix-domain sockets have no such settings, as in libpq.
//!
//! Unlike libpq, an unset key is not the operating system's timer but one of ours
//! ([`DEFAULT_IDLE`], [`DEFAULT_INTERVAL`], [`DEFAULT_COUNT`], [`DEFAULT_USER_TIMEOUT`]): the
//! system's is two hours of silence before the first probe (Linux `tcp_keepalive_time`), so a
//! network cut that the servers noticed (their backends timed out) left our sockets established
//! and a run waiting for hours with nothing on its progress line. Our defaults find a dead peer
//! within about a minute, and a cut shorter than that costs nothing. A key given explicitly wins;
//! `0` keeps libpq's meaning (the system's default), which is how a user gets the old timings.

use std::time::Duration;

use socket2::{SockRef, TcpKeepalive};

use super::config::ConnInfo;
use super::config::feature_values::parse_non_negative;
use db_migrate_core::error::{Error, Result};

/// Seconds of silence before the first probe: short enough to keep a flow alive behind NATs
/// that forget idle flows after a minute or more, long enough that an idle session costs
/// nothing (one small packet every half minute).
pub const DEFAULT_IDLE: Duration = Duration::from_secs(30);
/// Seconds between unanswered probes.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(10);
/// Unanswered probes before the connection is declared dead: an idle session learns of a dead
/// peer after `30 + 3 x 10 = 60` s.
pub const DEFAULT_COUNT: u32 = 3;
/// How long sent data may stay unacknowledged (Linux `TCP_USER_TIMEOUT`): a session in the
/// middle of a COPY (which is never idle, so keepalives do not probe it) learns of a dead peer
/// after a minute instead of the kernel's retransmission limit (`tcp_retries2`, about 15
/// minutes). A minute rides out a short cut. The price: Linux applies it to zero-window probes
/// too, so a live server that stops reading for a minute (a target whose disk stalls) is
/// dropped as well; the copy retries that part on new sessions like any lost connection
/// (`--copy-retries`), and `tcp_user_timeout=0` in the conninfo turns it off. Linux also lets
/// it override `keepalives_count` on an idle session, which is why it equals idle + count x
/// interval: both ways, a minute.
pub const DEFAULT_USER_TIMEOUT: Duration = Duration::from_secs(60);

/// The settings of one conninfo, validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keepalives {
    /// `keepalives`: on unless `0`.
    pub enabled: bool,
    /// `None`: the operating system's (the user gave `0`).
    pub idle: Option<Duration>,
    pub interval: Option<Duration>,
    pub count: Option<u32>,
    /// `tcp_user_timeout`, milliseconds; `None`: the system's (none).
    pub user_timeout: Option<Duration>,
}

impl Keepalives {
    pub fn from_conninfo(info: &ConnInfo) -> Result<Keepalives> {
        let get = |key: &str| -> Result<Option<u32>> {
            match info.other.get(key).map(String::as_str) {
                None | Some("") => Ok(None),
                Some(value) => parse_non_negative(key, value).map(Some),
            }
        };
        // Unset: ours; 0: the system's; otherwise the user's.
        let pick = |given: Option<u32>, default: Duration, unit: fn(u64) -> Duration| match given {
            None => Some(default),
            Some(0) => None,
            Some(n) => Some(unit(n.into())),
        };
        Ok(Keepalives {
            enabled: get("keepalives")? != Some(0),
            idle: pick(get("keepalives_idle")?, DEFAULT_IDLE, Duration::from_secs),
            interval: pick(
                get("keepalives_interval")?,
                DEFAULT_INTERVAL,
                Duration::from_secs,
            ),
            count: match get("keepalives_count")? {
                None => Some(DEFAULT_COUNT),
                Some(0) => None,
                Some(n) => Some(n),
            },
            user_timeout: pick(
                get("tcp_user_timeout")?,
                DEFAULT_USER_TIMEOUT,
                Duration::from_millis,
            ),
        })
    }

    /// Sets the options on a connected TCP socket.
    pub fn apply(&self, socket: &tokio::net::TcpStream) -> Result<()> {
        let sock = SockRef::from(socket);
        let fail = |what: &str, e: std::io::Error| {
            Error::new(
                db_migrate_core::error::ErrorKind::Connect,
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
    fn keepalives_are_on_by_default_and_find_a_dead_peer_within_about_a_minute() {
        let k = keepalives("host=h").unwrap();
        assert!(k.enabled);
        assert_eq!(
            (k.idle, k.interval, k.count, k.user_timeout),
            (
                Some(Duration::from_secs(30)),
                Some(Duration::from_secs(10)),
                Some(3),
                Some(Duration::from_secs(60))
            )
        );
        let idle_detection = k.idle.unwrap() + k.interval.unwrap() * k.count.unwrap();
        assert!(idle_detection <= Duration::from_secs(120));
        assert!(k.user_timeout.unwrap() <= Duration::from_secs(120));
    }

    #[test]
    fn zero_asks_for_the_system_timings_as_in_libpq() {
        let k = keepalives(
            "keepalives_idle=0 keepalives_interval=0 keepalives_count=0 tcp_user_timeout=0",
        )
        .unwrap();
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
        // One key given: the others keep our defaults.
        let k = keepalives("keepalives_idle=5").unwrap();
        assert_eq!(k.idle, Some(Duration::from_secs(5)));
        assert_eq!(k.interval, Some(DEFAULT_INTERVAL));
        assert_eq!(k.user_timeout, Some(DEFAULT_USER_TIMEOUT));
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
