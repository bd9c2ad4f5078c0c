//! libpq's connection policy, written once for both connection stacks: tokio-postgres sessions
//! ([`super::connect()`]) and our own protocol client ([`super::wire`]).
//!
//! - the `sslmode` ladder ([`sslmode_ladder`]): which TLS choice to try first, and when a
//!   refused login is retried with the other choice (`allow`, `prefer`);
//! - the `connect_timeout` bound over a whole connection attempt ([`within_connect_timeout`]);
//! - the messages libpq users know: the server refusing TLS that the sslmode requires
//!   ([`tls_not_supported`]) and the hint on a plaintext login refused by pg_hba
//!   ([`hint_if_unencrypted`]).
//!
//! Its own file so that the two stacks cannot drift apart: each supplies only how to make one
//! attempt with a given [`TlsChoice`].

use std::future::Future;

use super::config::{ConnInfo, SslMode};
use crate::error::{Error, ErrorKind, Result};

/// How the TLS question is settled on one connection attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TlsChoice {
    /// Plaintext: no SSLRequest.
    Never,
    /// SSLRequest; plaintext if the server declines (libpq `prefer`).
    IfOffered,
    /// SSLRequest; an error if the server declines.
    Required,
}

/// Runs `attempt` as libpq's `sslmode` says. `tls_configured` is false when no TLS is to be
/// used at all (`sslmode=disable`, or a unix socket): then one plaintext attempt.
///
/// - `allow`: plaintext first, TLS only when the server refuses plaintext (an authentication
///   error);
/// - `prefer`: TLS when offered; if the TLS session is refused by pg_hba (hostnossl), retry in
///   plaintext;
/// - `require` and stronger: TLS or nothing.
pub(crate) async fn sslmode_ladder<T, F, Fut>(
    sslmode: SslMode,
    tls_configured: bool,
    mut attempt: F,
) -> Result<T>
where
    F: FnMut(TlsChoice) -> Fut,
    Fut: Future<Output = Result<T>>,
{
    if !tls_configured {
        return attempt(TlsChoice::Never).await;
    }
    match sslmode {
        SslMode::Allow => match attempt(TlsChoice::Never).await {
            Err(e) if e.kind() == ErrorKind::Auth => attempt(TlsChoice::Required).await,
            other => other,
        },
        SslMode::Prefer => match attempt(TlsChoice::IfOffered).await {
            Err(e) if e.kind() == ErrorKind::Auth => attempt(TlsChoice::Never).await,
            other => other,
        },
        _ => attempt(TlsChoice::Required).await,
    }
}

/// Bounds `attempt` by the conninfo's `connect_timeout` (key, URI parameter or
/// `PGCONNECT_TIMEOUT`), when set. `subject` names what timed out, e.g. `connecting to host "db"
/// port 5432`: the error reads "`<subject>` timed out after N s (connect_timeout)".
pub(crate) async fn within_connect_timeout<T>(
    info: &ConnInfo,
    subject: impl FnOnce() -> String,
    attempt: impl Future<Output = Result<T>>,
) -> Result<T> {
    match info.connect_timeout {
        Some(limit) => tokio::time::timeout(limit, attempt).await.map_err(|_| {
            Error::new(
                ErrorKind::Timeout,
                format!(
                    "{} timed out after {} s (connect_timeout)",
                    subject(),
                    limit.as_secs()
                ),
            )
        })?,
        None => attempt.await,
    }
}

/// The server answered the SSLRequest with "no" while the sslmode requires TLS.
pub(crate) fn tls_not_supported(info: &ConnInfo) -> Error {
    Error::new(
        ErrorKind::Tls,
        format!(
            "the server does not support TLS but sslmode={} requires it",
            info.sslmode().as_str()
        ),
    )
}

/// Adds libpq users' most useful hint to a login refused on a plaintext TCP connection when the
/// refusal is likely about TLS (see [`tls_may_be_the_cause`]); other errors pass unchanged.
pub(crate) fn hint_if_unencrypted(err: Error, encrypted: bool, info: &ConnInfo) -> Error {
    if !encrypted && !info.is_unix_socket() && tls_may_be_the_cause(&err) {
        err.context(
            "(the connection was not encrypted; if the server accepts only TLS connections (pg_hba hostssl), use sslmode=require or stronger)",
        )
    } else {
        err
    }
}

/// True when a refused plaintext login is likely to be about TLS: pg_hba found no line for an
/// unencrypted connection (SQLSTATE 28000, "no pg_hba.conf entry ... no encryption"). A wrong
/// password (28P01) or a missing role is never about TLS, so those get no TLS hint.
pub(crate) fn tls_may_be_the_cause(err: &Error) -> bool {
    err.kind() == ErrorKind::Auth
        && err.sqlstate().map(|c| c.code()) == Some("28000")
        && err.message().contains("pg_hba.conf")
}
