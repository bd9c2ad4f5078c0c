//! Transient failures of a copy task, and how long to wait before trying again.
//!
//! Every task of the data engine is atomic on the target (a part's COPY and its ledger row
//! commit in one transaction, a large-object batch is one transaction, a post-data object
//! commits with its ledger row), so a task that failed half-way left nothing behind and can
//! run again on fresh sessions. What is worth running again is what a server or the network
//! does for a while and then stops doing: a lost connection, an administrator's termination
//! (57P01), a crash or a restart (57P02, 57P03), a serialization failure or deadlock (40001,
//! 40P01), no free connection slot (53300), a task that stalled (no byte moved for
//! `--stall-timeout`, see [`crate::stall`]: its sessions are abandoned, so new ones start
//! clean). Anything else (a constraint violation, a missing
//! privilege, a full disk) fails the same way every time and is reported at once.

use std::time::Duration;

use crate::error::{Error, ErrorKind};

/// Default for [`super::CopyOptions::retries`].
pub const DEFAULT_RETRIES: u32 = 5;
/// Default for [`super::CopyOptions::retry_delay`]: the first wait; it doubles per retry.
pub const DEFAULT_RETRY_DELAY: Duration = Duration::from_secs(1);
/// The longest wait between two attempts.
pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(30);

/// SQLSTATEs that a fresh session may not see again.
const TRANSIENT_SQLSTATES: &[&str] = &["57P01", "57P02", "57P03", "40001", "40P01", "53300"];

/// Whether `e` is worth retrying on fresh sessions.
pub fn is_transient(e: &Error) -> bool {
    if let Some(code) = e.sqlstate() {
        return TRANSIENT_SQLSTATES.contains(&code.code());
    }
    matches!(e.kind(), ErrorKind::Connect | ErrorKind::Stalled)
}

/// The wait before retry number `attempt` (1-based): `first`, doubled per attempt, at most
/// [`MAX_RETRY_DELAY`].
pub fn backoff(first: Duration, attempt: u32) -> Duration {
    let factor = 1u32 << attempt.saturating_sub(1).min(16);
    first.saturating_mul(factor).min(MAX_RETRY_DELAY)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::SqlState;

    #[test]
    fn server_restarts_and_lost_connections_are_transient_constraint_errors_are_not() {
        let sql = |c: SqlState| Error::new(ErrorKind::Sql, "x").with_sqlstate(c);
        assert!(is_transient(&sql(SqlState::ADMIN_SHUTDOWN)));
        assert!(is_transient(&sql(SqlState::CRASH_SHUTDOWN)));
        assert!(is_transient(&sql(SqlState::CANNOT_CONNECT_NOW)));
        assert!(is_transient(&sql(SqlState::T_R_SERIALIZATION_FAILURE)));
        assert!(is_transient(&sql(SqlState::T_R_DEADLOCK_DETECTED)));
        assert!(is_transient(&sql(SqlState::TOO_MANY_CONNECTIONS)));
        assert!(is_transient(&Error::new(ErrorKind::Connect, "lost")));
        assert!(is_transient(&crate::stall::error(
            Duration::from_secs(300),
            None
        )));
        assert!(!is_transient(&sql(SqlState::UNIQUE_VIOLATION)));
        assert!(!is_transient(&sql(SqlState::DISK_FULL)));
        assert!(!is_transient(&sql(SqlState::QUERY_CANCELED)));
        assert!(!is_transient(&Error::new(ErrorKind::Cancelled, "x")));
    }

    #[test]
    fn backoff_doubles_and_is_bounded() {
        let d = Duration::from_secs(1);
        assert_eq!(backoff(d, 1), Duration::from_secs(1));
        assert_eq!(backoff(d, 2), Duration::from_secs(2));
        assert_eq!(backoff(d, 3), Duration::from_secs(4));
        assert_eq!(backoff(d, 10), MAX_RETRY_DELAY);
        assert_eq!(backoff(d, 1000), MAX_RETRY_DELAY);
    }
}
