//! The one error type of db-migrate.
//!
//! Callers decide what to do from [`Error::kind`] and [`Error::sqlstate`], never from the message
//! text (the rust-postgres habit). Every error keeps the context an operator needs to act on it:
//! which side (source / target), which database, which object, which phase. Messages never carry
//! passwords: connection strings are rendered through [`db_migrate_conn::ConnInfo`]'s redacting
//! `Display`, and server messages are passed through [`crate::redact::redact`] where they might echo
//! a conninfo.

use std::fmt;

pub use tokio_postgres::error::SqlState;

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, coarsely: enough to pick an exit code and decide on retry or fallback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A connection string, flag or option is malformed or contradictory.
    Config,
    /// A server could not be reached (DNS, TCP, socket path, refused).
    Connect,
    /// A deadline passed (connect_timeout, replication timeout).
    Timeout,
    /// TLS negotiation or certificate verification failed, or the server demanded TLS we refused.
    Tls,
    /// The server rejected our credentials or pg_hba refused us.
    Auth,
    /// The server returned an error for a statement (see [`Error::sqlstate`]).
    Sql,
    /// A preflight check failed.
    Validation,
    /// Local I/O (files named by the user, pgpass, certificates).
    Io,
    /// The operation was cancelled (Ctrl-C).
    Cancelled,
    /// A task moved no byte for `--stall-timeout` and was stopped ([`crate::stall`]): the
    /// network or a server stopped answering; worth retrying on new sessions.
    Stalled,
    /// A protocol or internal invariant was violated.
    Protocol,
}

/// Which server an error concerns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Source,
    Target,
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Side::Source => "source",
            Side::Target => "target",
        })
    }
}

/// The stage of a run an error happened in: typed, so that the report and the JSON can group
/// failures by it. The finer step within a stage ("reading pg_depend") is [`Error::step`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// Checks before anything is written.
    Preflight,
    /// Roles, their attributes and memberships (global, once per run).
    Roles,
    /// Reading a database's schema from the source catalogs.
    ReadingSchema,
    /// Creating schema objects, before or after the data.
    Schema,
    /// Creating the pre-data objects (types, tables, functions...).
    PreData,
    /// The parallel COPY of rows, sequences and large objects.
    Copy,
    /// Indexes, constraints, triggers created once the rows are in.
    PostData,
    /// The data stage as a whole (ANALYZE, ledger bookkeeping).
    Data,
    /// Comparing the two sides (`--verify`, `--verify-only`).
    Verify,
    /// Publication, slot and subscription set-up.
    ReplicationSetup,
    /// The replication method while it runs (initial copy, waiting for the lag).
    Replication,
    /// Stopping replication and the cut-over.
    CutOver,
    /// `--cleanup` and `--clean`: removing what an earlier run left.
    Cleanup,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Preflight => "preflight",
            Phase::Roles => "roles",
            Phase::ReadingSchema => "reading the schema",
            Phase::Schema => "schema",
            Phase::PreData => "pre-data schema",
            Phase::Copy => "copy",
            Phase::PostData => "post-data",
            Phase::Data => "data",
            Phase::Verify => "verify",
            Phase::ReplicationSetup => "replication setup",
            Phase::Replication => "replication",
            Phase::CutOver => "stopping replication",
            Phase::Cleanup => "cleanup",
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error type. Cheap to move (boxed inner).
pub struct Error(Box<Inner>);

struct Inner {
    kind: ErrorKind,
    message: String,
    sqlstate: Option<SqlState>,
    side: Option<Side>,
    database: Option<String>,
    object: Option<String>,
    phase: Option<Phase>,
    step: Option<&'static str>,
    remedies: Vec<crate::Remedy>,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl Error {
    /// A new error of `kind` with a message that must already be free of secrets.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error(Box::new(Inner {
            kind,
            message: message.into(),
            sqlstate: None,
            side: None,
            database: None,
            object: None,
            phase: None,
            step: None,
            remedies: Vec::new(),
            source: None,
        }))
    }

    pub fn config(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Config, message)
    }

    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Validation, message)
    }

    pub fn protocol(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Protocol, message)
    }

    /// Wraps a tokio-postgres error, keeping its SQLSTATE and the server's primary message
    /// (plus detail and hint, which operators need to act).
    pub fn from_pg(err: tokio_postgres::Error) -> Self {
        let (kind, message, sqlstate) = match err.as_db_error() {
            Some(db) => {
                let code = db.code().clone();
                let kind = match code.code() {
                    c if c.starts_with("28") => ErrorKind::Auth,
                    c if c.starts_with("08") => ErrorKind::Connect,
                    "57014" => ErrorKind::Cancelled,
                    _ => ErrorKind::Sql,
                };
                let mut msg = db.message().to_string();
                if let Some(detail) = db.detail() {
                    msg.push_str(&format!(" (detail: {detail})"));
                }
                if let Some(hint) = db.hint() {
                    msg.push_str(&format!(" (hint: {hint})"));
                }
                (kind, msg, Some(code))
            }
            None => {
                let text = crate::redact::redact(&err.to_string());
                let kind = if err.is_closed() {
                    ErrorKind::Connect
                } else {
                    ErrorKind::Protocol
                };
                // tokio-postgres' Display of a closed/IO error is terse; include the cause chain.
                let mut msg = text;
                let mut src = std::error::Error::source(&err);
                while let Some(s) = src {
                    let s_text = crate::redact::redact(&s.to_string());
                    if !msg.contains(&s_text) {
                        msg.push_str(": ");
                        msg.push_str(&s_text);
                    }
                    src = s.source();
                }
                (kind, msg, None)
            }
        };
        let mut e = Self::new(kind, message);
        e.0.sqlstate = sqlstate;
        e.0.source = Some(Box::new(err));
        e
    }

    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }

    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// The server's SQLSTATE when the error came from a statement.
    pub fn sqlstate(&self) -> Option<&SqlState> {
        self.0.sqlstate.as_ref()
    }

    /// True when the server refused for lack of privilege (SQLSTATE 42501).
    pub fn is_insufficient_privilege(&self) -> bool {
        self.0.sqlstate.as_ref() == Some(&SqlState::INSUFFICIENT_PRIVILEGE)
    }

    pub fn side(&self) -> Option<Side> {
        self.0.side
    }

    pub fn database(&self) -> Option<&str> {
        self.0.database.as_deref()
    }

    pub fn object(&self) -> Option<&str> {
        self.0.object.as_deref()
    }

    pub fn phase(&self) -> Option<Phase> {
        self.0.phase
    }

    /// The step within the phase, when one was recorded ("reading pg_depend").
    pub fn step(&self) -> Option<&'static str> {
        self.0.step
    }

    /// What the operator can do about it, as values (the message says it in words too).
    pub fn remedies(&self) -> &[crate::Remedy] {
        &self.0.remedies
    }

    pub fn with_sqlstate(mut self, code: SqlState) -> Self {
        self.0.sqlstate = Some(code);
        self
    }

    pub fn with_side(mut self, side: Side) -> Self {
        self.0.side.get_or_insert(side);
        self
    }

    pub fn with_database(mut self, db: impl Into<String>) -> Self {
        if self.0.database.is_none() {
            self.0.database = Some(db.into());
        }
        self
    }

    pub fn with_object(mut self, object: impl Into<String>) -> Self {
        if self.0.object.is_none() {
            self.0.object = Some(object.into());
        }
        self
    }

    /// The stage the error happened in. The first one set is kept: it is the innermost, the
    /// stage that ran the failed statement.
    pub fn with_phase(mut self, phase: Phase) -> Self {
        self.0.phase.get_or_insert(phase);
        self
    }

    /// What the failed statement was doing within its stage ("reading pg_depend"); shown in
    /// the message instead of the phase, which it refines. The first one set is kept.
    pub fn with_step(mut self, step: &'static str) -> Self {
        self.0.step.get_or_insert(step);
        self
    }

    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.0.source = Some(Box::new(source));
        self
    }

    /// The same error with its message passed through [`crate::redact::redact`]: for messages
    /// built from text that may hold a secret (input that did not parse, a statement).
    pub fn redacted(mut self) -> Self {
        self.0.message = crate::redact::redact(&self.0.message);
        self
    }

    /// Appends what the operator can do about it to the message ("...; run the same command
    /// with `resume`") and keeps it as a value ([`Error::remedies`]).
    pub fn remedy(mut self, remedy: crate::Remedy) -> Self {
        self.0.message = format!("{}; {remedy}", self.0.message);
        self.0.remedies.push(remedy);
        self
    }

    /// Keeps `remedy` as a value only: for a message that already says it in its own words.
    pub fn with_remedy(mut self, remedy: crate::Remedy) -> Self {
        self.0.remedies.push(remedy);
        self
    }

    /// Prefixes the message with more context ("connecting to host x: ...").
    pub fn context(mut self, ctx: impl fmt::Display) -> Self {
        self.0.message = format!("{ctx}: {}", self.0.message);
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.0;
        match (i.step, i.phase) {
            (Some(step), _) => write!(f, "{step}: ")?,
            (None, Some(phase)) => write!(f, "{phase}: ")?,
            (None, None) => {}
        }
        match (i.side, &i.database) {
            (Some(side), Some(db)) => write!(f, "{side} database \"{db}\": ")?,
            (Some(side), None) => write!(f, "{side}: ")?,
            (None, Some(db)) => write!(f, "database \"{db}\": ")?,
            (None, None) => {}
        }
        if let Some(obj) = &i.object {
            write!(f, "{obj}: ")?;
        }
        f.write_str(&i.message)?;
        if let Some(code) = &i.sqlstate {
            write!(f, " (SQLSTATE {})", code.code())?;
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Debug deliberately mirrors Display plus the kind: the wrapped source may hold
        // connection details, so it is not printed.
        write!(f, "Error({:?}: {})", self.0.kind, self)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0
            .source
            .as_ref()
            .map(|s| s.as_ref() as &(dyn std::error::Error + 'static))
    }
}

impl From<tokio_postgres::Error> for Error {
    fn from(err: tokio_postgres::Error) -> Self {
        Error::from_pg(err)
    }
}

impl From<std::io::Error> for Error {
    fn from(err: std::io::Error) -> Self {
        Error::new(ErrorKind::Io, err.to_string()).with_source(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_side_database_object_and_sqlstate() {
        let e = Error::new(ErrorKind::Sql, "permission denied")
            .with_sqlstate(SqlState::INSUFFICIENT_PRIVILEGE)
            .with_side(Side::Target)
            .with_database("app")
            .with_object("table public.t")
            .with_phase(Phase::Schema);
        assert_eq!(
            e.to_string(),
            "schema: target database \"app\": table public.t: permission denied (SQLSTATE 42501)"
        );
        assert!(e.is_insufficient_privilege());
    }

    #[test]
    fn a_remedy_is_said_in_the_message_and_kept_as_a_value() {
        use crate::{Remedy, Setting};
        let e = Error::validation("replication objects of an earlier run exist")
            .remedy(Remedy::RemoveReplication)
            .with_remedy(Remedy::Raise {
                setting: Setting::ReplicationTimeout,
            })
            .context("database \"app\"");
        assert_eq!(
            e.to_string(),
            "database \"app\": replication objects of an earlier run exist; remove the \
             replication objects with `cleanup`"
        );
        assert_eq!(e.remedies().len(), 2);
    }

    #[test]
    fn first_context_wins() {
        let e = Error::config("x").with_database("a").with_database("b");
        assert_eq!(e.database(), Some("a"));
    }
}
