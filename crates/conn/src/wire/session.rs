//! Opening and running one session of our client: socket, TLS negotiation, startup and
//! authentication, simple queries, CancelRequest and Terminate. Its own file because every
//! other file of `wire` (COPY, replication commands) builds on a [`WireSession`] opened here.

use bytes::BytesMut;
use postgres_protocol::message::frontend;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::proto::{self, QueryResult};
use crate::channel_binding::{self, TlsBinding};
use crate::config::ConnInfo;
use crate::connect::{describe_endpoint, open_socket};
use crate::policy::{self, TlsChoice};
use crate::tls::TlsSettings;
use db_migrate_core::error::{Error, ErrorKind, Result};

/// Anything we can speak the protocol over: a plain socket or a TLS stream around one.
pub(super) trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// How the TLS question is settled on one connection attempt ([`TlsChoice`] with the settings
/// to use).
#[derive(Clone, Copy)]
enum TlsUse<'a> {
    Never,
    IfOffered(&'a TlsSettings),
    Required(&'a TlsSettings),
}

/// What a [`WireSession`] is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A walsender (`replication=database`): replication commands and plain SQL.
    Replication,
    /// An ordinary backend: plain SQL and COPY.
    Normal,
}

impl Mode {
    pub(super) fn label(self) -> &'static str {
        match self {
            Mode::Replication => "replication connection",
            Mode::Normal => "connection",
        }
    }
}

/// An open session of our own protocol client: a walsender ([`super::connect_replication`]; see the
/// module docs: keep it idle while an exported snapshot is in use) or an ordinary backend
/// ([`connect_wire`]) used for COPY pass-through.
pub struct WireSession {
    pub(super) io: Box<dyn Io>,
    pub(super) buf: BytesMut,
    pub(super) info: ConnInfo,
    pub(super) mode: Mode,
    pub(super) tls: Option<TlsSettings>,
    pub(super) parameters: Vec<(String, String)>,
    pub(super) server_version_num: u32,
    pub(super) backend_key: Option<(i32, i32)>,
    pub(super) encrypted: bool,
    /// Authenticated with SCRAM-SHA-256-PLUS, bound to the server's TLS certificate.
    pub(super) channel_bound: bool,
    /// Set after an I/O or protocol error, or when a COPY was abandoned half-way: the session
    /// cannot be used any more.
    pub(super) broken: bool,
    /// Set while [`pass_through`] runs on the session.
    pub(super) busy: bool,
}

impl std::fmt::Debug for WireSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WireSession")
            .field("endpoint", &describe_endpoint(&self.info))
            .field("mode", &self.mode)
            .field("server_version_num", &self.server_version_num)
            .field("backend_pid", &self.backend_pid())
            .field("encrypted", &self.encrypted)
            .field("channel_bound", &self.channel_bound)
            .finish()
    }
}

pub(super) fn lost(info: &ConnInfo, mode: Mode, msg: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorKind::Connect,
        format!(
            "{} to {} lost: {msg}",
            mode.label(),
            describe_endpoint(info)
        ),
    )
}

/// Reads one whole message into `buf` and takes it off.
pub(super) async fn read_message(
    io: &mut (dyn Io + '_),
    buf: &mut BytesMut,
    info: &ConnInfo,
    mode: Mode,
) -> Result<postgres_protocol::message::backend::Message> {
    loop {
        if let Some(m) = proto::next_message(buf)? {
            return Ok(m);
        }
        // Read at most what the current message still needs (bounded chunks), so that a
        // declared length never makes us allocate ahead of data actually received.
        let want = proto::bytes_missing(buf)?.clamp(5, 64 * 1024);
        buf.reserve(want);
        fill(io, buf, info, mode).await?;
    }
}

/// One read into `buf`; the end of the stream is an error.
pub(super) async fn fill(
    io: &mut (dyn Io + '_),
    buf: &mut BytesMut,
    info: &ConnInfo,
    mode: Mode,
) -> Result<()> {
    read_result(info, mode, io.read_buf(buf).await)
}

/// The outcome of a read: an I/O error or the end of the stream (the server went away) is a
/// lost connection.
pub(super) fn read_result(info: &ConnInfo, mode: Mode, read: std::io::Result<usize>) -> Result<()> {
    match read {
        Ok(0) => Err(lost(
            info,
            mode,
            "the server closed the connection unexpectedly",
        )),
        Ok(_) => Ok(()),
        Err(e) => Err(lost(info, mode, e)),
    }
}

pub(super) async fn write_all(
    io: &mut (dyn Io + '_),
    bytes: &[u8],
    info: &ConnInfo,
    mode: Mode,
) -> Result<()> {
    io.write_all(bytes).await.map_err(|e| lost(info, mode, e))?;
    io.flush().await.map_err(|e| lost(info, mode, e))
}

/// Opens an ordinary session of our own client to `info` (for COPY pass-through), optionally on
/// another database than the conninfo's, and runs `SET search_path = ''` on it, like
/// [`crate::connect()`]. Bounded by `connect_timeout` when set; same errors as
/// [`super::connect_replication`].
pub async fn connect_wire(info: &ConnInfo, dbname: Option<&str>) -> Result<WireSession> {
    let mut s = connect_mode(info, dbname, Mode::Normal).await?;
    s.simple_query("SET search_path = ''").await?;
    Ok(s)
}

pub(super) async fn connect_mode(
    info: &ConnInfo,
    dbname: Option<&str>,
    mode: Mode,
) -> Result<WireSession> {
    let info = match dbname {
        Some(db) => info.with_dbname(db),
        None => info.clone(),
    };
    let attempt = async {
        let mut s = connect_inner(&info, mode).await?;
        if let Some(wanted) = crate::session_attrs::wanted(&info) {
            let r = s.simple_query(crate::session_attrs::PROBE_SQL).await?;
            crate::session_attrs::check(
                wanted,
                r.get(0, "in_recovery").unwrap_or_default(),
                r.get(0, "read_only").unwrap_or_default(),
                &describe_endpoint(&info),
            )?;
        }
        Ok(s)
    };
    policy::within_connect_timeout(
        &info,
        || format!("{} to {}", mode.label(), describe_endpoint(&info)),
        attempt,
    )
    .await
}

async fn connect_inner(info: &ConnInfo, mode: Mode) -> Result<WireSession> {
    let tls = TlsSettings::for_conninfo(info)?;
    let settings = tls.as_ref();
    let mut s = policy::sslmode_ladder(info.sslmode(), tls.is_some(), |choice| {
        let tls = match (choice, settings) {
            (TlsChoice::Never, _) | (_, None) => TlsUse::Never,
            (TlsChoice::IfOffered, Some(t)) => TlsUse::IfOffered(t),
            (TlsChoice::Required, Some(t)) => TlsUse::Required(t),
        };
        connect_once(info, tls, mode)
    })
    .await?;
    s.tls = tls;
    Ok(s)
}

/// Opens a socket to `info` and settles TLS on it as `tls` says. Returns the stream and what it
/// allows to bind to ([`TlsBinding::NotTls`] when it is not encrypted).
async fn open_stream(
    info: &ConnInfo,
    tls: TlsUse<'_>,
    mode: Mode,
) -> Result<(Box<dyn Io>, TlsBinding)> {
    let mut socket = open_socket(info).await?;
    Ok(match tls {
        TlsUse::Never => (Box::new(socket), TlsBinding::NotTls),
        TlsUse::IfOffered(t) | TlsUse::Required(t) => {
            let mut req = BytesMut::new();
            frontend::ssl_request(&mut req);
            socket
                .write_all(&req)
                .await
                .map_err(|e| lost(info, mode, e))?;
            let mut answer = [0u8; 1];
            socket
                .read_exact(&mut answer)
                .await
                .map_err(|e| lost(info, mode, e))?;
            match (answer[0], tls) {
                (b'S', _) => {
                    // Reading exactly one byte leaves nothing buffered that a man in the middle
                    // could have injected before the handshake.
                    let stream = t.handshake(socket).await.map_err(|e| {
                        Error::new(ErrorKind::Tls, format!("TLS handshake failed: {e}"))
                    })?;
                    let binding = crate::tls::binding_of(&stream);
                    (Box::new(stream), binding)
                }
                (b'N', TlsUse::IfOffered(_)) => (Box::new(socket), TlsBinding::NotTls),
                (b'N', _) => {
                    return Err(policy::tls_not_supported(info));
                }
                (other, _) => {
                    return Err(Error::protocol(format!(
                        "unexpected answer {} to the TLS request",
                        proto::tag_name(other)
                    )));
                }
            }
        }
    })
}

async fn connect_once(info: &ConnInfo, tls: TlsUse<'_>, mode: Mode) -> Result<WireSession> {
    let endpoint = describe_endpoint(info);
    let user = info.user();
    let context =
        |e: Error| e.context(format!("{} to {endpoint} as user \"{user}\"", mode.label()));
    let (io, binding) = open_stream(info, tls, mode).await.map_err(context)?;
    let encrypted = binding.encrypted();
    startup(io, binding, info, mode)
        .await
        .map_err(|e| policy::hint_if_unencrypted(e, encrypted, info))
        .map_err(context)
}

async fn startup(
    mut io: Box<dyn Io>,
    binding: TlsBinding,
    info: &ConnInfo,
    mode: Mode,
) -> Result<WireSession> {
    let encrypted = binding.encrypted();
    let user = info.user();
    let dbname = info.dbname();
    let app = info
        .application_name
        .clone()
        .unwrap_or_else(|| crate::APPLICATION_NAME.to_owned());
    let mut params: Vec<(&str, &str)> = vec![("user", &user), ("database", &dbname)];
    if mode == Mode::Replication {
        params.push(("replication", "database"));
    }
    params.push(("application_name", &app));
    params.push(("client_encoding", "UTF8"));
    if let Some(opts) = &info.options {
        params.push(("options", opts));
    }
    let packet = proto::startup_message(&params)?;
    write_all(io.as_mut(), &packet, info, mode).await?;
    let mut machine = proto::Startup::new(user.clone(), info.resolve_password())
        .channel_binding(channel_binding::Mode::from_conninfo(info), binding);
    let mut buf = BytesMut::with_capacity(8192);
    loop {
        let msg = read_message(io.as_mut(), &mut buf, info, mode).await?;
        match machine.handle(msg)? {
            proto::StartupStep::Send(bytes) => write_all(io.as_mut(), &bytes, info, mode).await?,
            proto::StartupStep::Wait => {}
            proto::StartupStep::Ready => break,
        }
    }
    let channel_bound = machine.channel_bound();
    let server_version_num = machine
        .parameters
        .iter()
        .find(|(k, _)| k == "server_version")
        .and_then(|(_, v)| proto::parse_server_version(v))
        .ok_or_else(|| Error::protocol("the server did not report server_version"))?;
    Ok(WireSession {
        io,
        buf,
        info: info.clone(),
        mode,
        tls: None,
        parameters: machine.parameters,
        server_version_num,
        backend_key: machine.backend_key,
        encrypted,
        channel_bound,
        broken: false,
        busy: false,
    })
}

/// Asks a server to cancel what one of our sessions runs, from anywhere (it owns copies of
/// what it needs, so it can be used while the session is busy).
#[derive(Clone)]
pub struct Canceller {
    info: ConnInfo,
    tls: Option<TlsSettings>,
    encrypted: bool,
    key: Option<(i32, i32)>,
}

impl Canceller {
    /// Sends a CancelRequest over a new socket, encrypted when the session is. Like libpq, it
    /// does not wait for the effect: the session's statement ends with SQLSTATE 57014.
    pub async fn cancel(&self) -> Result<()> {
        let Some((pid, secret)) = self.key else {
            return Err(Error::protocol(
                "the server sent no cancel key (BackendKeyData) for this session",
            ));
        };
        let tls = match (&self.tls, self.encrypted) {
            (Some(t), true) => TlsUse::Required(t),
            _ => TlsUse::Never,
        };
        let (mut io, _) = open_stream(&self.info, tls, Mode::Normal).await?;
        let mut out = BytesMut::new();
        frontend::cancel_request(pid, secret, &mut out);
        write_all(io.as_mut(), &out, &self.info, Mode::Normal).await?;
        // The server closes the socket when it has read the request.
        let mut rest = [0u8; 1];
        let _ = io.read(&mut rest).await;
        Ok(())
    }
}

impl WireSession {
    /// A session over a stream on which the startup exchange is taken as done: for tests and
    /// benchmarks that play the server in memory.
    #[doc(hidden)]
    pub fn over_stream(
        io: impl AsyncRead + AsyncWrite + Unpin + Send + 'static,
        info: ConnInfo,
    ) -> WireSession {
        WireSession {
            io: Box::new(io),
            buf: BytesMut::new(),
            info,
            mode: Mode::Normal,
            tls: None,
            parameters: Vec::new(),
            server_version_num: 0,
            backend_key: None,
            encrypted: false,
            channel_bound: false,
            broken: false,
            busy: false,
        }
    }

    /// The conninfo this session was opened with (effective database included).
    pub fn info(&self) -> &ConnInfo {
        &self.info
    }

    /// `server_version_num` derived from the server's `server_version`, e.g. 150004.
    pub fn server_version_num(&self) -> u32 {
        self.server_version_num
    }

    /// The server process id (from BackendKeyData).
    pub fn backend_pid(&self) -> Option<i32> {
        self.backend_key.map(|(pid, _)| pid)
    }

    /// True when the session runs over TLS.
    pub fn is_encrypted(&self) -> bool {
        self.encrypted
    }

    /// True when the session authenticated with SCRAM-SHA-256-PLUS, its password exchange bound
    /// to the server's TLS certificate (`channel_binding`).
    pub fn is_channel_bound(&self) -> bool {
        self.channel_bound
    }

    /// False once an I/O or protocol error (or an abandoned COPY) left the session unusable.
    pub fn is_usable(&self) -> bool {
        !self.broken && !self.busy
    }

    /// What cancels this session's running statement.
    pub fn canceller(&self) -> Canceller {
        Canceller {
            info: self.info.clone(),
            tls: self.tls.clone(),
            encrypted: self.encrypted,
            key: self.backend_key,
        }
    }

    /// The latest value of a server parameter reported by ParameterStatus.
    pub fn parameter(&self, name: &str) -> Option<&str> {
        self.parameters
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub(super) fn unusable(&self) -> Error {
        Error::new(
            ErrorKind::Connect,
            format!(
                "the {} is no longer usable after an earlier error",
                self.mode.label()
            ),
        )
    }

    /// Runs `sql` with the simple query protocol and returns the last row-returning
    /// statement's rows as text. A server error is returned with its SQLSTATE and leaves the
    /// session usable; an I/O or protocol error breaks it.
    pub async fn simple_query(&mut self, sql: &str) -> Result<QueryResult> {
        if self.broken {
            return Err(self.unusable());
        }
        let r = self.simple_query_inner(sql).await;
        self.settle(r)
    }

    /// Passes `r` on, marking the session broken when it is an error without SQLSTATE (I/O or
    /// protocol): a server error leaves the session usable, anything else may leave it
    /// mid-message.
    pub(super) fn settle<T>(&mut self, r: Result<T>) -> Result<T> {
        if r.as_ref().is_err_and(|e| e.sqlstate().is_none()) {
            self.broken = true;
        }
        r
    }

    async fn simple_query_inner(&mut self, sql: &str) -> Result<QueryResult> {
        let out = proto::encode("the query", |b| frontend::query(sql, b))?;
        write_all(self.io.as_mut(), &out, &self.info, self.mode).await?;
        let mut collector = proto::QueryCollector::new();
        loop {
            let msg = self.read_message().await?;
            if collector.handle(msg)? == proto::Progress::Done {
                break;
            }
        }
        for n in &collector.notices {
            tracing::debug!("{} notice: {} {}", self.mode.label(), n.severity, n.message);
        }
        self.parameters.append(&mut collector.parameters);
        collector.finish()
    }

    pub(super) async fn read_message(
        &mut self,
    ) -> Result<postgres_protocol::message::backend::Message> {
        read_message(self.io.as_mut(), &mut self.buf, &self.info, self.mode).await
    }

    /// Ends the session politely (Terminate) and closes the socket. This also ends an exported
    /// snapshot's life.
    ///
    /// A session left mid-protocol (broken, or still busy because a pass-through was dropped
    /// half-way, e.g. by the stall watchdog) is only dropped: a Terminate would land in the
    /// middle of a message, and writing anything (a Terminate, TLS's close_notify) may wait
    /// forever on a peer that stopped reading. Dropping the socket closes it all the same, and
    /// the server rolls back what the session had open.
    pub async fn close(mut self) {
        if self.broken || self.busy {
            return;
        }
        let mut out = BytesMut::new();
        frontend::terminate(&mut out);
        let _ = self.io.write_all(&out).await;
        let _ = self.io.flush().await;
        let _ = self.io.shutdown().await;
    }
}
