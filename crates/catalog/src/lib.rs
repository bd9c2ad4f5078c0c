//! Version-aware catalog queries that read a server into plain structs. No SQL text for the
//! target is generated here: that is `src/schema/`, `src/roles.rs` and `src/databases.rs`.
//!
//! Queries are written for sources 12 to 18; columns that appeared later are selected
//! conditionally on [`db_migrate_conn::Session::server_version_num`].
//!
//! Nothing here imports from `schema/` (data flows catalog -> schema): what both need, the
//! user-schema filter and `FirstNormalObjectId` ([`scope`]) and the catalog OIDs ([`class`]),
//! is defined here once.
//!
//! Every read of the system catalogs lives here, whoever asks: the schema engine, the copy
//! planner, verification, replication, preflight (e.g. [`read_access`]) and the ledger's look
//! at what a target database holds ([`contents`]). Callers keep their decisions and get plain
//! structs. What stays outside: statements that write (creating large objects, `set_config`),
//! one-function probes (`pg_export_snapshot()`, `pg_is_in_recovery()`), and the ledger's
//! `--clean` queries, which read the ledger's own tables and resolve their names in the
//! catalogs.

pub mod class;
pub mod contents;
pub mod copy_plan;
pub mod databases;
pub mod depend;
pub mod extensions;
pub mod objects;
pub mod owners;
pub mod publications;
pub mod read_access;
pub mod relations;
pub mod replication;
pub mod roles;
pub mod scope;
pub mod search_paths;
pub mod security_labels;
pub mod server;
pub mod status;
pub mod stream;
pub mod subscriptions;
pub mod system_acls;
pub mod tables;
pub mod transforms;
pub mod user_rights;
pub mod verify;
