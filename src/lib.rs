//! db-migrate: move a whole PostgreSQL installation from one server to another.
//!
//! Roles, databases, schema and data, typically between managed clouds where nobody has
//! superuser. db-migrate speaks the PostgreSQL wire protocol itself (tokio-postgres, rustls):
//! it reads the system catalogs and generates the DDL itself, and never runs `pg_dump`,
//! `pg_restore` or `psql`.
//!
//! This crate is the front door: the engine (`db-migrate-engine`, re-exported whole, see
//! [`migrate::PgMigrate`]) and, with the default `cli` feature, the command line ([`cli`]).
//! The workspace's crates, from the bottom: `db-migrate-core` (the error type, warnings, SQL
//! quoting), `db-migrate-conn` (the only code that opens sockets), `db-migrate-catalog`
//! (catalog SQL into plain structs), `db-migrate-ddl` (DDL builders, dependency order,
//! executor), `db-migrate-engine` (preflight, ledger, copy, replication, verification, the run).
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

pub use db_migrate_engine::*;

#[cfg(feature = "cli")]
pub mod cli;
