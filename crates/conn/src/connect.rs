//! Opening sessions: sockets, TLS negotiation, authentication and session setup, all under one
//! deadline.
//!
//! We open the socket ourselves and hand it to tokio-postgres' `connect_raw` so that
//! `connect_timeout` covers everything (name resolution, TCP, TLS, authentication, setup): a host
//! that accepts TCP and then never answers fails within the timeout, naming the host. Every
//! session then runs `SET search_path = ''` so that a hostile source cannot capture an
//! unqualified function call, and carries `application_name = db-migrate/<version>` unless the
//! user gave one. Which TLS choices to try, the timeout and the TLS hints are libpq policy shared
//! with [`super::wire`]: see `super::policy`.

use std::io;
use std::net::SocketAddr;
use std::ops::Deref;
use std::path::PathBuf;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpStream, UnixStream};
use tokio_postgres::Client;
use tokio_postgres::config::{ChannelBinding as PgChannelBinding, SslMode as PgSslMode};

use super::channel_binding::{self, Refusal, TlsBinding};
use super::config::ConnInfo;
use super::policy::{self, TlsChoice};
use super::tls::{Observed, RustlsConnect, TlsSettings};
use db_migrate_core::error::{Error, ErrorKind, Result};

/// A TCP or Unix-domain socket to a server.
pub enum Socket {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl AsyncRead for Socket {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Socket::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            Socket::Unix(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Socket {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Socket::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            Socket::Unix(s) => Pin::new(s).poll_write(cx, buf),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Socket::Tcp(s) => Pin::new(s).poll_flush(cx),
            Socket::Unix(s) => Pin::new(s).poll_flush(cx),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Socket::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            Socket::Unix(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

/// Where a conninfo says to connect, rendered for error messages (never includes secrets).
pub fn describe_endpoint(info: &ConnInfo) -> String {
    let host = info.host();
    match (&info.hostaddr, info.is_unix_socket()) {
        (_, true) => format!("socket \"{}/.s.PGSQL.{}\"", host, info.port()),
        (Some(addr), _) if info.host.is_some() => {
            format!("host \"{}\" ({addr}) port {}", host, info.port())
        }
        _ => format!("host \"{}\" port {}", host, info.port()),
    }
}

/// Opens the raw socket described by `info`: a Unix-domain socket for a host starting with `/`,
/// otherwise TCP to `hostaddr` or to each address `host` resolves to, in order.
pub async fn open_socket(info: &ConnInfo) -> Result<Socket> {
    let endpoint = describe_endpoint(info);
    if info.is_unix_socket() {
        let path: PathBuf = format!("{}/.s.PGSQL.{}", info.host(), info.port()).into();
        return UnixStream::connect(&path)
            .await
            .map(Socket::Unix)
            .map_err(|e| {
                Error::new(
                    ErrorKind::Connect,
                    format!("could not connect to server at {endpoint}: {e}"),
                )
            });
    }
    let addrs: Vec<SocketAddr> = match info.hostaddr {
        Some(ip) => vec![SocketAddr::new(ip, info.port())],
        None => tokio::net::lookup_host((info.host().as_str(), info.port()))
            .await
            .map_err(|e| {
                Error::new(
                    ErrorKind::Connect,
                    format!("could not resolve host \"{}\": {e}", info.host()),
                )
            })?
            .collect(),
    };
    let keepalives = super::keepalive::Keepalives::from_conninfo(info)?;
    let mut last = None;
    for addr in &addrs {
        match TcpStream::connect(addr).await {
            Ok(s) => {
                let _ = s.set_nodelay(true);
                keepalives.apply(&s)?;
                return Ok(Socket::Tcp(s));
            }
            Err(e) => last = Some(format!("{addr}: {e}")),
        }
    }
    Err(Error::new(
        ErrorKind::Connect,
        format!(
            "could not connect to server at {endpoint}: {}",
            last.unwrap_or_else(|| "the host name resolved to no address".into())
        ),
    ))
}

/// An open session: a tokio-postgres client whose connection task runs in the background.
/// Dereferences to [`tokio_postgres::Client`].
pub struct Session {
    client: Client,
    info: ConnInfo,
    server_version_num: u32,
    tls: Option<TlsSettings>,
}

impl Deref for Session {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self.client
    }
}

impl Session {
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The conninfo this session was opened with (effective database included).
    pub fn info(&self) -> &ConnInfo {
        &self.info
    }

    /// `server_version_num`, e.g. 150004.
    pub fn server_version_num(&self) -> u32 {
        self.server_version_num
    }

    /// The server's major version (12, 13, ...).
    pub fn major(&self) -> u32 {
        self.server_version_num / 10000
    }

    /// Asks the server to cancel whatever this session is running, over a new socket opened the
    /// same way as the session's.
    pub async fn cancel(&self) -> Result<()> {
        let token = self.client.cancel_token();
        let socket = open_socket(&self.info).await?;
        let res = match &self.tls {
            Some(t) => token.cancel_query_raw(socket, t.connector().0).await,
            None => token.cancel_query_raw(socket, RustlsConnect::none()).await,
        };
        res.map_err(Error::from_pg)
    }
}

fn pg_config(info: &ConnInfo, ssl: PgSslMode) -> tokio_postgres::Config {
    let mut cfg = tokio_postgres::Config::new();
    cfg.user(info.user());
    cfg.dbname(info.dbname());
    if let Some(pw) = info.resolve_password() {
        cfg.password(pw);
    }
    cfg.application_name(
        info.application_name
            .as_deref()
            .unwrap_or(crate::APPLICATION_NAME),
    );
    if let Some(opts) = &info.options {
        cfg.options(opts);
    }
    cfg.ssl_mode(ssl);
    cfg.channel_binding(match channel_binding::Mode::from_conninfo(info) {
        channel_binding::Mode::Disable => PgChannelBinding::Disable,
        channel_binding::Mode::Prefer => PgChannelBinding::Prefer,
        channel_binding::Mode::Require => PgChannelBinding::Require,
    });
    cfg
}

/// One attempt with the TLS choice [`policy::sslmode_ladder`] made.
async fn connect_once(
    info: &ConnInfo,
    choice: TlsChoice,
    tls: Option<&TlsSettings>,
) -> Result<Client> {
    let (ssl, tls) = match (choice, tls) {
        (TlsChoice::Never, _) | (_, None) => (PgSslMode::Disable, None),
        (TlsChoice::IfOffered, Some(t)) => (PgSslMode::Prefer, Some(t)),
        (TlsChoice::Required, Some(t)) => (PgSslMode::Require, Some(t)),
    };
    let socket = open_socket(info).await?;
    let cfg = pg_config(info, ssl);
    let (connector, observed) = match tls {
        Some(t) => t.connector(),
        None => (RustlsConnect::none(), Default::default()),
    };
    // A large read buffer: COPY streams arrive as one protocol message per row, and reading
    // them in big gulps saves most of the system calls.
    let socket = tokio::io::BufReader::with_capacity(256 * 1024, socket);
    let (client, connection) = cfg
        .connect_raw(socket, connector)
        .await
        .map_err(|e| explain_connect_error(info, ssl, &observed, e))?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(
                "connection closed with error: {}",
                super::redact(&e.to_string())
            );
        }
    });
    Ok(client)
}

/// Our error for a failed tokio-postgres connection attempt; `observed` is what the attempt
/// showed of TLS and of the server's first authentication request.
fn explain_connect_error(
    info: &ConnInfo,
    ssl: PgSslMode,
    observed: &Observed,
    e: tokio_postgres::Error,
) -> Error {
    let endpoint = describe_endpoint(info);
    let plaintext = ssl == PgSslMode::Disable;
    let mut err = Error::from_pg(e);
    let msg = err.message().to_string();
    // tokio-postgres refuses every unbound exchange under channel_binding=require with the same
    // words; say which case it was where the handshake tells us.
    if channel_binding::Mode::from_conninfo(info) == channel_binding::Mode::Require
        && err.sqlstate().is_none()
        && msg.contains("did not use channel binding")
    {
        let why = match (observed.binding.get(), observed.first_auth_request.get()) {
            (None | Some(TlsBinding::NotTls), _) => Refusal::NotTls,
            (_, Some(0)) => Refusal::AuthenticatedWithoutBinding,
            (_, Some(3)) => Refusal::PasswordMethod("cleartext"),
            (_, Some(5)) => Refusal::PasswordMethod("md5"),
            (Some(TlsBinding::Unavailable(reason)), Some(10)) => {
                Refusal::Unbindable(reason.clone())
            }
            (Some(TlsBinding::EndPoint(_)), Some(10)) => Refusal::NoPlusOffered,
            _ => Refusal::NotBound,
        };
        return channel_binding::required_error(&why).context(format!(
            "connecting to {endpoint} as user \"{}\"",
            info.user()
        ));
    }
    if err.kind() == ErrorKind::Protocol
        && (msg.contains("certificate") || msg.contains("tls") || msg.contains("TLS"))
    {
        err = Error::new(ErrorKind::Tls, msg.clone());
    }
    if msg.contains("server does not support TLS") {
        err = policy::tls_not_supported(info);
    }
    policy::hint_if_unencrypted(err, !plaintext, info).context(format!(
        "connecting to {endpoint} as user \"{}\"",
        info.user()
    ))
}

async fn connect_inner(info: &ConnInfo) -> Result<(Client, Option<TlsSettings>)> {
    let tls = TlsSettings::for_conninfo(info)?;
    let settings = tls.as_ref();
    let client = policy::sslmode_ladder(info.sslmode(), tls.is_some(), |choice| {
        connect_once(info, choice, settings)
    })
    .await?;
    Ok((client, tls))
}

/// Logs each conninfo warning once per process: a migration opens dozens of sessions with the
/// same conninfo, and one warning is enough.
pub(crate) fn warn_once(warnings: &[String]) {
    static SEEN: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let mut seen = SEEN.lock().unwrap_or_else(|p| p.into_inner());
    for w in warnings {
        if !seen.contains(w) {
            tracing::warn!("{w}");
            seen.push(w.clone());
        }
    }
}

/// Opens a session to `info`, optionally on another database than the conninfo's.
///
/// The whole connection attempt is bounded by `connect_timeout` (when set). The session runs
/// `SET search_path = ''` before it is returned.
pub async fn connect(info: &ConnInfo, dbname: Option<&str>) -> Result<Session> {
    let info = match dbname {
        Some(db) => info.with_dbname(db),
        None => info.clone(),
    };
    warn_once(&info.warnings);
    let attempt = async {
        let (client, tls) = connect_inner(&info).await?;
        let rows = client
            .simple_query("SET search_path = ''; SHOW server_version_num")
            .await
            .map_err(Error::from_pg)?;
        let version = rows
            .iter()
            .find_map(|m| match m {
                tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_owned),
                _ => None,
            })
            .and_then(|v| v.parse::<u32>().ok())
            .ok_or_else(|| Error::protocol("server did not report server_version_num"))?;
        if let Some(wanted) = super::session_attrs::wanted(&info) {
            let row = client
                .query_one(super::session_attrs::PROBE_SQL, &[])
                .await
                .map_err(Error::from_pg)?;
            super::session_attrs::check(wanted, row.get(0), row.get(1), &describe_endpoint(&info))?;
        }
        Ok::<_, Error>((client, tls, version))
    };
    let (client, tls, server_version_num) = policy::within_connect_timeout(
        &info,
        || format!("connecting to {}", describe_endpoint(&info)),
        attempt,
    )
    .await?;
    Ok(Session {
        client,
        info,
        server_version_num,
        tls,
    })
}
