//! Interrupts: what the first and the second Ctrl-C or SIGTERM do.
//!
//! Containers are stopped with SIGTERM, terminals send SIGINT; both are handled alike. The
//! first signal cancels the run-wide token (`MigrateOptions::cancel`): no new database,
//! table or object starts, running statements are cancelled on both servers, what committed
//! stays in the ledger, and the run ends normally with the databases marked failed
//! ("interrupted") and the JSON written. A second signal, or `cli::signals::WIND_DOWN` after the first,
//! exits at once; before it does, it prints the replication objects that runs of the
//! replication method in progress leave on the servers and the `--cleanup` command that
//! removes them (the next run would otherwise find and refuse them).

use std::sync::Mutex;

/// Replication objects of databases whose replication method is in progress.
static REPLICATING: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());

/// Records that `database`'s replication objects (described by `objects`) exist until
/// [`replication_done`].
pub fn replication_started(database: &str, objects: String) {
    REPLICATING
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push((database.to_string(), objects));
}

/// `database`'s replication ended (cut over, left running on purpose, or cleaned up).
pub fn replication_done(database: &str) {
    REPLICATING
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .retain(|(d, _)| d != database);
}

/// The databases whose replication objects exist now, each with a description of them.
pub fn replicating() -> Vec<(String, String)> {
    REPLICATING
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone()
}
