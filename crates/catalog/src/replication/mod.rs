//! What the replication method reads from the catalogs of the source and the target: the
//! tables a `FOR TABLE` publication lists and who may publish them ([`publication`]), the
//! tables it checks before it publishes ([`tables`]), the `aiven_extras` rights of a database
//! ([`extras`]), the state of its own publication, slot
//! and subscription ([`state`]), and the object definitions its schema-drift fingerprint hashes
//! ([`definitions`]) and the objects a drift entry names ([`drift_objects`]). Reads only;
//! creating and dropping those objects is the engine's `replication::objects`.

pub mod access;
pub mod columns;
pub mod definitions;
pub mod drift_objects;
pub mod extras;
pub mod publication;
pub mod state;
pub mod tables;

/// The prefix of every replication object db-migrate creates (`aiven_db_migrate_<X>_pub`,
/// `_slot`, `_sub`, the name the tool we replace used): readers here leave such objects out,
/// and the engine's `replication::names` builds the names from it.
pub const PREFIX: &str = "aiven_db_migrate_";
