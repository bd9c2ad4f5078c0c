//! One database on both servers: what every per-database stage is handed.
//!
//! A stage used to receive `(source conninfo, target conninfo, source name, target name)` and
//! open its own sessions, each tagging its errors by hand. A [`DbPair`] carries the four, and
//! the run's cancellation token, so that a stage opens its sessions through it
//! ([`DbPair::open`], [`DbPair::open_wire`]) and tags its errors in one way ([`DbPair::tag`]):
//! every error then names its side, its database and its phase.
//!
//! It also carries the facts of both servers ([`Servers`]: versions, the user's privileges,
//! replication capacity, connection slots). The orchestrator fills them in from preflight
//! ([`DbPair::with_servers`]), so no stage reads them again; a pair made without them (a library
//! caller running one stage) reads them on first use, once ([`DbPair::servers`]).

use std::sync::Arc;

use tokio::sync::OnceCell;
use tokio_util::sync::CancellationToken;

use crate::catalog::server::Servers;

use crate::conn::wire::{WireSession, connect_wire};
use crate::conn::{ConnInfo, Session, connect};
use crate::error::{Error, Phase, Result, Side};

/// A source database and the target database it migrates into.
#[derive(Debug, Clone)]
pub struct DbPair {
    source: ConnInfo,
    target: ConnInfo,
    source_db: String,
    target_db: String,
    cancel: CancellationToken,
    /// Shared by the pair's clones, so that they read the facts at most once between them.
    servers: Arc<OnceCell<Arc<Servers>>>,
}

impl DbPair {
    /// `database` on both servers (the migration keeps database names).
    pub fn new(
        source: &ConnInfo,
        target: &ConnInfo,
        database: &str,
        cancel: CancellationToken,
    ) -> Self {
        DbPair {
            source: source.clone(),
            target: target.clone(),
            source_db: database.to_string(),
            target_db: database.to_string(),
            cancel,
            servers: Arc::new(OnceCell::new()),
        }
    }

    /// The same pair with the servers' facts preflight read.
    pub fn with_servers(mut self, servers: Arc<Servers>) -> Self {
        self.servers = Arc::new(OnceCell::new_with(Some(servers)));
        self
    }

    /// The facts of both servers: those the pair was given, or else read through `source` and
    /// `target` (sessions of this pair) on the first call.
    pub async fn servers(&self, source: &Session, target: &Session) -> Result<Arc<Servers>> {
        self.servers
            .get_or_try_init(|| async { Servers::read(source, target).await.map(Arc::new) })
            .await
            .cloned()
            .map_err(|e| e.with_database(&self.source_db))
    }

    /// The same pair with the target database named differently (copying into another name,
    /// as tests and benchmarks do).
    pub fn into_target_db(mut self, name: &str) -> Self {
        self.target_db = name.to_string();
        self
    }

    pub fn source(&self) -> &ConnInfo {
        &self.source
    }

    pub fn target(&self) -> &ConnInfo {
        &self.target
    }

    pub fn source_db(&self) -> &str {
        &self.source_db
    }

    pub fn target_db(&self) -> &str {
        &self.target_db
    }

    /// The database's name on `side`.
    pub fn db(&self, side: Side) -> &str {
        match side {
            Side::Source => &self.source_db,
            Side::Target => &self.target_db,
        }
    }

    fn conninfo(&self, side: Side) -> &ConnInfo {
        match side {
            Side::Source => &self.source,
            Side::Target => &self.target,
        }
    }

    /// The run's cancellation (Ctrl-C, SIGTERM): a stage stops what it runs when it fires.
    pub fn cancel(&self) -> &CancellationToken {
        &self.cancel
    }

    /// Attaches `side`, its database name and `phase` to an error (what is already set stays:
    /// the innermost context is the most precise).
    pub fn tag(&self, side: Side, phase: Phase) -> impl Fn(Error) -> Error + '_ {
        move |e| {
            e.with_side(side)
                .with_database(self.db(side))
                .with_phase(phase)
        }
    }

    /// [`DbPair::tag`] for a tokio-postgres error.
    pub fn tag_pg(&self, side: Side, phase: Phase) -> impl Fn(tokio_postgres::Error) -> Error + '_ {
        move |e| self.tag(side, phase)(Error::from_pg(e))
    }

    /// A session (tokio-postgres) to the database on `side`, errors tagged.
    pub async fn open(&self, side: Side, phase: Phase) -> Result<Session> {
        connect(self.conninfo(side), Some(self.db(side)))
            .await
            .map_err(self.tag(side, phase))
    }

    /// A wire session (our own protocol client, used for COPY) to the database on `side`,
    /// errors tagged.
    pub async fn open_wire(&self, side: Side, phase: Phase) -> Result<WireSession> {
        connect_wire(self.conninfo(side), Some(self.db(side)))
            .await
            .map_err(self.tag(side, phase))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> DbPair {
        let s = ConnInfo::parse("host=src user=u").unwrap();
        let t = ConnInfo::parse("host=tgt user=u").unwrap();
        DbPair::new(&s, &t, "app", CancellationToken::new()).into_target_db("app_copy")
    }

    #[test]
    fn errors_are_tagged_with_the_side_its_database_and_the_phase() {
        let p = pair();
        let e = p.tag(Side::Target, Phase::Copy)(Error::protocol("broken"));
        assert_eq!(e.side(), Some(Side::Target));
        assert_eq!(e.database(), Some("app_copy"));
        assert_eq!(e.phase(), Some(Phase::Copy));
        let e = p.tag(Side::Source, Phase::Copy)(Error::protocol("broken"));
        assert_eq!(e.database(), Some("app"));
    }

    #[test]
    fn an_inner_phase_is_kept() {
        let p = pair();
        let inner = Error::protocol("x").with_phase(Phase::PostData);
        let e = p.tag(Side::Target, Phase::Copy)(inner);
        assert_eq!(e.phase(), Some(Phase::PostData));
    }
}
