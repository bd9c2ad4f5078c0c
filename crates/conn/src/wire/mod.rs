//! Our own protocol client, for what tokio-postgres cannot do or does too slowly:
//!
//! - **replication connections** (`replication=database`), which tokio-postgres cannot open:
//!   the migration needs a logical replication slot created with an *exported snapshot*
//!   (`CREATE_REPLICATION_SLOT name LOGICAL pgoutput (SNAPSHOT 'export')`, `EXPORT_SNAPSHOT`
//!   before PostgreSQL 15);
//! - **COPY pass-through** between two ordinary sessions ([`pass_through`]): the server sends one
//!   CopyData message per row, and a frontend CopyData message has exactly the same framing, so
//!   the bytes read from the source socket are written to the target socket as they are, after
//!   a scan of the message headers. tokio-postgres would parse every row into a message, hand
//!   it through a channel and copy it twice; at hundreds of thousands of rows per second that
//!   was most of db-migrate's CPU time.
//!
//! # The snapshot lives as long as the session is idle
//!
//! The server keeps an exported snapshot only until the walsender runs its next command or the
//! session ends. Keep the replication [`WireSession`] open and idle until every copy worker has
//! imported the snapshot (in practice: until the copy is done), then [`WireSession::close`] it.
//!
//! # What the client does
//!
//! - opens the socket with [`super::connect::open_socket`] (TCP or Unix), negotiates TLS exactly
//!   like normal sessions (SSLRequest, then [`super::tls::TlsSettings::handshake`] with libpq's `sslmode`
//!   semantics: `disable`, `allow`, `prefer`, `require`, `verify-ca`, `verify-full`);
//! - sends the startup packet with `user`, `database`, `application_name`,
//!   `client_encoding=UTF8`, the conninfo's `options` and, for replication sessions,
//!   `replication=database`;
//! - authenticates with SCRAM-SHA-256, md5 or a cleartext password (from
//!   [`super::config::ConnInfo::resolve_password`]);
//! - bounds all of this by `connect_timeout`, like [`super::connect()`]; ordinary sessions then
//!   run `SET search_path = ''` like [`super::connect()`] ones;
//! - runs simple queries (replication commands, and plain SQL) and returns their rows as text;
//! - cancels a running statement with a CancelRequest over a new socket ([`Canceller`]).
//!
//! # Parsing is apart from I/O
//!
//! [`proto`] holds everything that interprets server bytes, without any I/O: frame checks
//! (every message's declared length is checked before its body is read: below 4 or above
//! [`proto::MAX_MESSAGE_LEN`] is a protocol error), the startup/authentication state machine,
//! the simple-query result collector and the CopyData scanner. It never panics on malformed
//! input; the cargo-fuzz target `fuzz/fuzz_targets/backend_messages.rs` drives it with
//! arbitrary bytes.
//!
//! # Files
//!
//! [`proto`] (no I/O), `session` (opening, authenticating, simple queries, cancelling),
//! `replication` (walsender sessions and slot commands), `copy` (COPY pass-through); the
//! sslmode ladder, the connect timeout and the TLS hints come from `super::policy`, shared
//! with [`super::connect()`].

mod copy;
pub mod proto;
mod replication;
mod session;

use bytes::BytesMut;

pub use copy::{CopyStats, PASS_BUFFER, pass_through};
pub use proto::{QueryResult, SlotInfo, SystemInfo};
pub use replication::connect_replication;
pub use session::{Canceller, Mode, WireSession, connect_wire};

/// Frames bytes into messages and runs them through the startup machine and, once that is
/// ready, through simple-query collectors, as a client would. For the fuzz target: it must
/// never panic, whatever `data` holds. Returns how many messages were decoded.
#[doc(hidden)]
pub fn fuzz_backend_stream(data: &[u8]) -> usize {
    // The CopyData scanner, fed the bytes in two pieces as reads would deliver them.
    let mut scan = proto::CopyScan::default();
    let cut = data.first().map_or(0, |&b| b as usize % (data.len() + 1));
    if let Ok((n, _)) = scan.scan(&data[..cut]) {
        let _ = scan.scan(&data[n..]);
    }
    let mut buf = BytesMut::from(data);
    let mut machine = proto::Startup::new("fuzz", Some("pw".into()));
    let mut ready = false;
    let mut collector = proto::QueryCollector::new();
    let mut count = 0;
    loop {
        let msg = match proto::next_message(&mut buf) {
            Ok(Some(m)) => m,
            Ok(None) | Err(_) => break,
        };
        count += 1;
        if !ready {
            match machine.handle(msg) {
                Ok(proto::StartupStep::Ready) => ready = true,
                Ok(_) => {}
                Err(_) => {
                    // Start over, as a new connection would.
                    machine = proto::Startup::new("fuzz", Some("pw".into()));
                }
            }
            continue;
        }
        match collector.handle(msg) {
            Ok(proto::Progress::More) => {}
            Ok(proto::Progress::Done) => {
                let done = std::mem::take(&mut collector);
                if let Ok(r) = done.finish() {
                    let _ = SlotInfo::from_result(&r);
                    let _ = SystemInfo::from_result(&r);
                }
            }
            Err(_) => collector = proto::QueryCollector::new(),
        }
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fuzz_entry_survives_garbage() {
        fuzz_backend_stream(&[]);
        fuzz_backend_stream(&[b'R', 0, 0, 0, 8, 0, 0, 0, 0, b'Z', 0, 0, 0, 5, b'I']);
        fuzz_backend_stream(&[b'D', 0, 0, 0, 6, 0xff, 0xff]);
        fuzz_backend_stream(&[b'T', 0, 0, 0, 6, 0xff, 0xff]);
    }
}
