//! db-migrate: move a whole PostgreSQL installation from one server to another.
//! (crate docs completed in migrate.rs work)

pub mod catalog;
pub mod cli;
pub mod conn;
pub mod databases;
pub mod error;
pub mod migrate;
pub mod options;
pub mod report;
pub mod roles;
pub mod schema;
pub mod sql;
pub mod validate;

pub use error::{Error, ErrorKind, Result, Side};
pub use options::{MigrateOptions, RolePasswords};
pub use report::{
    DatabaseResult, DbStatus, Method, MigrateResult, RoleResult, RoleStatus, ValidationReport,
};

/// `db-migrate/<version>`: the application_name of every session unless the user gave one.
pub const APPLICATION_NAME: &str = concat!("db-migrate/", env!("CARGO_PKG_VERSION"));
