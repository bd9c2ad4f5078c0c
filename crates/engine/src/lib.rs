//! The migration engine of db-migrate: preflight, roles, databases, the ledger, the data copy,
//! the replication method, verification and the run that puts them in order
//! ([`migrate::PgMigrate`]).
//!
//! The stages, in the order a migration runs them:
//! - [`preflight`]: preflight checks of both servers, all reported together;
//! - [`roles`]: roles with attributes, settings, memberships and comments;
//! - [`databases`]: target databases created with the source's properties;
//! - [`schema`] (the `db-migrate-ddl` crate): the objects of each database, ordered by their
//!   dependencies;
//! - [`copy`] or [`replication`]: the data, then post-data;
//! - [`verify`]: the comparison of source and target.
//!
//! The crates below it are re-exported under the module names the engine has always used, so
//! that a path says what it is (`conn::ConnInfo`, `catalog::tables`, `schema::exec`):
//! [`conn`] (`db-migrate-conn`) is the only code that opens sockets; [`catalog`]
//! (`db-migrate-catalog`) reads the catalogs into plain structs; [`error::Error`]
//! (`db-migrate-core`) is the one error type, and keeps the SQLSTATE, side, database, object and
//! phase of what failed.

pub use db_migrate_catalog as catalog;
pub use db_migrate_conn as conn;
pub use db_migrate_core::{error, input, interrupt, remedy, sql, stall, text, warning};
pub use db_migrate_ddl as schema;

pub mod board;
pub mod cancel;
pub mod copy;
pub mod databases;
pub mod gauge;
pub mod ledger;
pub mod metrics;
pub mod migrate;
pub mod options;
pub mod owners;
pub mod pair;
pub mod preflight;
pub mod progress;
pub mod read_access;
pub mod recovery;
pub mod replication;
pub mod report;
pub mod roles;
pub mod selection;
pub mod slots;
pub mod status;
pub mod verify;

/// The preflight stage under its earlier name (`validate::preflight`, `validate::Preflight`...).
pub use preflight as validate;

pub use conn::APPLICATION_NAME;
pub use error::{Error, ErrorKind, Result, Side};
pub use migrate::{PgMigrate, RunOutput};
pub use options::{MigrateOptions, RolePasswords, RunMode};
pub use remedy::{Remedy, Setting};
pub use report::{
    DatabaseResult, DbStatus, Method, MigrateResult, RoleResult, RoleStatus, ValidationReport,
};
pub use warning::{Warning, WarningKind};
