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
use db_migrate_core::error::{Error, ErrorKind, Result};

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

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::time::Duration;
    use tokio_postgres::error::SqlState;

    /// Runs the ladder with an attempt that fails with `fail(choice)` (or succeeds when it
    /// gives `None`) and returns the choices tried and the outcome.
    fn ladder(
        sslmode: SslMode,
        tls_configured: bool,
        fail: impl Fn(TlsChoice) -> Option<ErrorKind>,
    ) -> (Vec<TlsChoice>, Result<TlsChoice>) {
        let tried = RefCell::new(Vec::new());
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let r = rt.block_on(sslmode_ladder(sslmode, tls_configured, |choice| {
            tried.borrow_mut().push(choice);
            let outcome = match fail(choice) {
                Some(kind) => Err(Error::new(kind, "refused")),
                None => Ok(choice),
            };
            async move { outcome }
        }));
        (tried.into_inner(), r)
    }

    use TlsChoice::{IfOffered, Never, Required};

    #[test]
    fn without_tls_settings_one_plaintext_attempt() {
        for mode in [SslMode::Disable, SslMode::Prefer, SslMode::Require] {
            let (tried, r) = ladder(mode, false, |_| Some(ErrorKind::Auth));
            assert_eq!(tried, [Never], "{mode}");
            assert!(r.is_err());
        }
    }

    #[test]
    fn allow_tries_plaintext_then_tls_only_after_a_refused_login() {
        assert_eq!(ladder(SslMode::Allow, true, |_| None).0, [Never]);
        let (tried, r) = ladder(SslMode::Allow, true, |c| {
            (c == Never).then_some(ErrorKind::Auth)
        });
        assert_eq!((tried, r.unwrap()), (vec![Never, Required], Required));
        let (tried, r) = ladder(SslMode::Allow, true, |_| Some(ErrorKind::Connect));
        assert_eq!(tried, [Never]);
        assert_eq!(r.unwrap_err().kind(), ErrorKind::Connect);
    }

    #[test]
    fn prefer_tries_tls_if_offered_then_plaintext_only_after_a_refused_login() {
        assert_eq!(ladder(SslMode::Prefer, true, |_| None).0, [IfOffered]);
        let (tried, r) = ladder(SslMode::Prefer, true, |c| {
            (c == IfOffered).then_some(ErrorKind::Auth)
        });
        assert_eq!((tried, r.unwrap()), (vec![IfOffered, Never], Never));
        let (tried, _) = ladder(SslMode::Prefer, true, |_| Some(ErrorKind::Tls));
        assert_eq!(tried, [IfOffered]);
    }

    #[test]
    fn require_and_stronger_insist_on_tls() {
        for mode in [SslMode::Require, SslMode::VerifyCa, SslMode::VerifyFull] {
            let (tried, _) = ladder(mode, true, |_| Some(ErrorKind::Auth));
            assert_eq!(tried, [Required], "{mode}");
        }
    }

    #[tokio::test]
    async fn the_connect_timeout_names_what_timed_out() {
        let info = ConnInfo {
            connect_timeout: Some(Duration::from_millis(10)),
            ..ConnInfo::default()
        };
        let never = std::future::pending::<Result<()>>();
        let e = within_connect_timeout(&info, || "connecting to x".into(), never)
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Timeout);
        assert_eq!(
            e.message(),
            "connecting to x timed out after 0 s (connect_timeout)"
        );
        let none = ConnInfo::default();
        let ok = within_connect_timeout(&none, || unreachable!(), async { Ok(7) }).await;
        assert_eq!(ok.unwrap(), 7);
    }

    #[test]
    fn the_tls_hint_goes_only_on_a_plaintext_tcp_login_refused_by_pg_hba() {
        let info = ConnInfo {
            host: Some("db.example.com".into()),
            sslmode: Some(SslMode::Disable),
            ..ConnInfo::default()
        };
        let hba = || {
            Error::new(
                ErrorKind::Auth,
                "no pg_hba.conf entry for host \"1.2.3.4\", no encryption",
            )
            .with_sqlstate(SqlState::from_code("28000"))
        };
        let hinted = hint_if_unencrypted(hba(), false, &info);
        assert!(hinted.message().contains("use sslmode=require"), "{hinted}");
        assert!(
            !hint_if_unencrypted(hba(), true, &info)
                .message()
                .contains("sslmode")
        );
        let socket = ConnInfo {
            host: Some("/tmp".into()),
            ..info.clone()
        };
        assert!(
            !hint_if_unencrypted(hba(), false, &socket)
                .message()
                .contains("sslmode")
        );
        let password = Error::new(ErrorKind::Auth, "password authentication failed")
            .with_sqlstate(SqlState::from_code("28P01"));
        assert!(
            !hint_if_unencrypted(password, false, &info)
                .message()
                .contains("sslmode")
        );
        assert_eq!(
            tls_not_supported(&info).message(),
            "the server does not support TLS but sslmode=disable requires it"
        );
    }
}
