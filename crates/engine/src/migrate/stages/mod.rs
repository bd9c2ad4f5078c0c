//! One database's schema and data, stage by stage, in the order
//! [`PgMigrate::schema_and_data`](super::PgMigrate) runs them. Each stage takes what it needs
//! and returns what the next one needs; the database's result entry, the run's warnings and the
//! report line ([`message::Message`]) are the only things they fill in as they go, because a
//! database that fails half-way reports what was done until then.
//!
//! 1. [`DataOptions::of`]: the copy's and the replication's options for this database;
//! 2. [`earlier_run`]: an earlier run's replication cut over (and nothing else done), if any;
//! 3. [`schema`]: the schema read or taken from preflight and filtered, the target session with
//!    the ledger started, the DDL sessions, pre-data, what `CREATE EXTENSION` provided, the
//!    copy's scope, the post-data plan;
//! 4. [`method`]: the dump or the replication method, or why replication cannot be forced;
//! 5. [`data`]: the replication hand-off, or the dump method's copy with its snapshot held for
//!    `--verify`;
//! 6. [`finish`]: the ledger's last stage, the `--keep-going` and ownership results, the
//!    subscriptions left disabled.

use crate::copy::CopyOptions;
use crate::ledger::{RunRecord, Stage};
use crate::options::MigrateOptions;
use crate::owners::Memberships;
use crate::pair::DbPair;
use crate::replication::ReplicationOptions;
use crate::selection::DbSelection;

use super::PgMigrate;
use super::budget::Budget;

pub(super) mod data;
pub(super) mod earlier_run;
pub(super) mod finish;
pub(super) mod message;
pub(super) mod method;
pub(super) mod schema;

/// What a database's contents share with the run's other databases.
pub(in crate::migrate) struct RunShare<'a> {
    pub memberships: &'a tokio::sync::Mutex<Memberships>,
    pub budget: &'a Budget,
}

/// What every stage of one database reads: the migration, the database, what this run of it is
/// (fresh, resumed after its schema, resuming its replication), and what it shares with the
/// run's other databases.
pub(super) struct Db<'a> {
    pub migrate: &'a PgMigrate,
    pub pair: &'a DbPair,
    pub run: &'a RunRecord,
    pub selection: &'a DbSelection,
    /// Preflight sent this database to the dump method, and why (see
    /// [`crate::preflight::method`]); the run follows that decision.
    pub planned_dump: Option<&'a str>,
    pub memberships: &'a tokio::sync::Mutex<Memberships>,
    pub budget: &'a Budget,
    /// A resumed run whose schema was complete continues with the data; the ledger keeps what
    /// is in already.
    pub resuming: bool,
    /// A run of the replication method interrupted during its copy continues on its own slot
    /// and publication (replication::resume), which are no earlier run's to refuse.
    pub resume_replication: bool,
}

impl<'a> Db<'a> {
    pub fn new(
        migrate: &'a PgMigrate,
        pair: &'a DbPair,
        run: &'a RunRecord,
        selection: &'a DbSelection,
        planned_dump: Option<&'a str>,
        share: RunShare<'a>,
    ) -> Self {
        let resuming = run.stage >= Stage::Data;
        let resume_replication =
            resuming && run.stage == Stage::Data && run.method.as_deref() == Some("replication");
        Db {
            migrate,
            pair,
            run,
            selection,
            planned_dump,
            memberships: share.memberships,
            budget: share.budget,
            resuming,
            resume_replication,
        }
    }

    pub fn opts(&self) -> &'a MigrateOptions {
        &self.migrate.opts
    }

    pub fn name(&self) -> &'a str {
        self.pair.source_db()
    }
}

/// The copy's and the replication's options for this database, from the user's and the
/// selection; the copy's are narrowed once pre-data is in ([`schema::copy_scope`]).
pub(super) struct DataOptions {
    pub copy: CopyOptions,
    pub replication: ReplicationOptions,
}

impl DataOptions {
    /// The first stage: hands on the options the later stages run the copy and the
    /// replication with.
    pub fn of(db: &Db<'_>) -> DataOptions {
        let opts = db.opts();
        let selection = db.selection;
        let mut copy_opts = opts.copy.clone();
        copy_opts.ledger = true;
        copy_opts.sessions = Some(db.budget.copy.clone());
        // What the selection flags leave in: the copy and the publication see only that.
        if !selection.everything {
            copy_opts.selection = Some(std::sync::Arc::new(selection.clone()));
        }
        // An earlier run's replication objects: cut them over when asked to, else refuse to
        // touch this database (the error names the objects and the commands that handle them).
        // Tables the cut-over creates on the target keep --no-owner / --no-acl.
        // The publication lists exactly the selected tables whose rows move.
        let repl_opts = ReplicationOptions {
            schema: opts.schema,
            tables: selection.data_tables().map(<[_]>::to_vec),
            verify: opts
                .verify
                .after_copy
                .then(|| crate::verify::Settings::of(opts)),
            statistics: opts.copy.statistics,
            ..opts.replication.clone()
        };
        DataOptions {
            copy: copy_opts,
            replication: repl_opts,
        }
    }
}
