//! db-migrate: move a whole PostgreSQL installation from one server to another.
//!
//! Roles, databases, schema and data, typically between managed clouds where nobody has
//! superuser. db-migrate speaks the PostgreSQL wire protocol itself (tokio-postgres, rustls):
//! it reads the system catalogs and generates the DDL itself, and never runs `pg_dump`,
//! `pg_restore` or `psql`.
//!
//! The stages, in the order a migration runs them:
//! - [`preflight`]: preflight checks of both servers, all reported together;
//! - [`roles`]: roles with attributes, settings, memberships and comments;
//! - [`databases`]: target databases created with the source's properties;
//! - [`schema`]: the objects of each database, ordered by their dependencies.
//!
//! [`conn`] is the only module that opens sockets; [`error::Error`] is the one error type, and
//! keeps the SQLSTATE, side, database, object and phase of what failed.
//!
//! # Example
//!
//! ```no_run
//! use db_migrate::{MigrateOptions, conn::ConnInfo, migrate::PgMigrate};
//!
//! # async fn run() -> db_migrate::Result<()> {
//! let opts = MigrateOptions {
//!     source: ConnInfo::parse("postgres://admin@source.example.com/postgres?sslmode=require")?,
//!     target: ConnInfo::parse("host=target.example.com user=avnadmin dbname=defaultdb")?,
//!     excluded_roles: vec!["rdsadmin".into()],
//!     ..Default::default()
//! };
//! let job = PgMigrate::new(opts);
//! let report = job.validate().await; // preflight only: nothing is written
//! if report.ok {
//!     let result = job.migrate().await;
//!     println!("{}", result.to_json());
//!     assert!(result.succeeded());
//! }
//! # Ok(()) }
//! ```

pub mod catalog;
#[cfg(feature = "cli")]
pub mod cli;
pub mod conn;
pub mod copy;
pub mod databases;
pub mod error;
pub mod input;
pub mod interrupt;
pub mod ledger;
pub mod legacy;
pub mod migrate;
pub mod options;
pub mod output;
pub mod owners;
pub mod pair;
pub mod preflight;
pub mod read_access;
pub mod recovery;
pub mod replication;
pub mod report;
pub mod roles;
pub mod schema;
pub mod selection;
pub mod slots;
pub mod sql;
pub mod stall;
pub mod status;
pub mod text;
pub mod verify;
pub mod warning;

/// The preflight stage under its earlier name (`validate::preflight`, `validate::Preflight`...).
pub use preflight as validate;

pub use error::{Error, ErrorKind, Result, Side};
pub use migrate::{PgMigrate, RunOutput};
pub use options::{MigrateOptions, RolePasswords, RunMode};
pub use report::{
    DatabaseResult, DbStatus, Method, MigrateResult, RoleResult, RoleStatus, ValidationReport,
};
pub use warning::{Warning, WarningKind};

/// `db-migrate/<version>`: the application_name of every session unless the user gave one.
pub const APPLICATION_NAME: &str = concat!("db-migrate/", env!("CARGO_PKG_VERSION"));
