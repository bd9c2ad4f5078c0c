//! The run's session budget across databases: how many databases are in flight at once, and
//! the two pools of sessions they share.
//!
//! Why: an installation of many small databases spends most of its time in fixed costs per
//! database (reading its catalogs, creating it, pre-data, bookkeeping) that leave the servers'
//! cores idle when databases go one after the other. With several in flight, one database's
//! schema is created while another's tables copy. `--jobs` stays what it says for the whole
//! run (copy workers, each a source and a target session, drawn from [`Budget::copy`] by
//! every database's copy), and so does `--schema-jobs` ([`Budget::schema`]); the databases in
//! flight ([`Budget::databases`], `--db-jobs`) add only the few sessions each holds for itself
//! (its catalog reader and snapshot on the source; its creation, control and ledger sessions
//! on the target), fitted to the servers' free connection slots like the pools.

use std::num::NonZeroUsize;
use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::catalog::server::Servers;
use crate::options::MigrateOptions;
use crate::remedy::Setting;
use crate::slots::free_slots;

/// Databases in flight when `--db-jobs` is not given: enough to keep two cores busy with
/// small databases while one copies (measured with `scripts/bench-databases`).
pub const DEFAULT_DATABASES_AT_ONCE: usize = 4;

/// The most databases in flight by default when they replicate until their cut-over.
const MOST_REPLICATING_AT_ONCE: usize = 16;

/// Sessions one database in flight holds besides the shared pools: on the source its catalog
/// reader and the snapshot coordinator (and the replication method's control session); on the
/// target its creation session, its schema/ledger session and the copy's control session.
const SOURCE_PER_DATABASE: u64 = 3;
const TARGET_PER_DATABASE: u64 = 3;

/// See the module documentation.
#[derive(Debug, Clone)]
pub struct Budget {
    /// Databases migrated at once (at least 1).
    pub databases: usize,
    /// Copy workers of all databases together (`--jobs`).
    pub copy: Arc<Semaphore>,
    /// Schema sessions of all databases together (`--schema-jobs`).
    pub schema: Arc<Semaphore>,
    /// When each database's replication ends in the run (`--max-replication-lag` with
    /// `--stop-replication`): the databases replicating at once, as many as the servers have
    /// slots, WAL senders and logical replication workers free, so that a run of more
    /// databases than that goes in waves that fit. `None`: the subscriptions outlive the run,
    /// and preflight counted all of them ([`crate::preflight::method`]).
    pub replication: Option<Arc<Semaphore>>,
}

/// Schema sessions a database may open, held until it drops them.
pub struct SchemaPermits(#[allow(dead_code)] Vec<OwnedSemaphorePermit>);

impl SchemaPermits {
    pub fn count(&self) -> usize {
        self.0.len()
    }
}

impl Budget {
    /// The budget of a run of `databases` databases: `--db-jobs` (or the default) lowered to
    /// the number of databases and to what the free connection slots preflight read can hold
    /// next to the shared pools.
    pub fn of(opts: &MigrateOptions, servers: &Servers, databases: usize) -> Budget {
        let jobs = opts.copy.jobs.get();
        let ddl = opts.ddl_sessions();
        let waves = opts.replication.max_replication_lag.is_some()
            && opts.replication.stop_replication
            && opts.force_method != Some(crate::report::Method::Dump)
            && !opts.schema_only;
        let room = crate::preflight::replication::replication_room(servers).max(1) as usize;
        // A database replicating until its lag is 0 mostly waits (for its apply worker to
        // start, then for the lag): as many at once as the servers can replicate, by default.
        let default = match waves {
            true => DEFAULT_DATABASES_AT_ONCE.max(room.min(MOST_REPLICATING_AT_ONCE)),
            false => DEFAULT_DATABASES_AT_ONCE,
        };
        let wanted = opts
            .databases_at_once
            .map_or(default, NonZeroUsize::get)
            .min(databases)
            .max(1) as u64;
        let source_room =
            free_slots(&servers.source).free.saturating_sub(jobs as u64) / SOURCE_PER_DATABASE;
        let target_room = free_slots(&servers.target)
            .free
            .saturating_sub((jobs + ddl) as u64)
            / TARGET_PER_DATABASE;
        let at_once = wanted.min(source_room).min(target_room).max(1) as usize;
        if (at_once as u64) < wanted {
            tracing::info!(
                wanted,
                at_once,
                "fewer databases at once than asked for: the servers' free connection slots \
                 hold no more next to {} and {}",
                Setting::Jobs,
                Setting::SchemaJobs
            );
        }
        Budget {
            databases: at_once,
            copy: Arc::new(Semaphore::new(jobs)),
            schema: Arc::new(Semaphore::new(ddl)),
            replication: waves.then(|| Arc::new(Semaphore::new(room))),
        }
    }

    /// Up to `wanted` schema sessions: waits for the first, takes what is free of the rest
    /// (a database whose neighbours hold the pool starts on fewer sessions, not later).
    pub async fn schema_sessions(&self, wanted: usize) -> SchemaPermits {
        let first = self
            .schema
            .clone()
            .acquire_owned()
            .await
            .expect("the pool is never closed");
        let mut permits = vec![first];
        while permits.len() < wanted {
            match self.schema.clone().try_acquire_owned() {
                Ok(p) => permits.push(p),
                Err(_) => break,
            }
        }
        SchemaPermits(permits)
    }
}
