//! The schema engine: the source database's objects read from its catalogs
//! ([`crate::catalog`] and the readers below), turned into DDL, ordered by their dependencies
//! and run on the target in two phases (pre-data before the data load, post-data after it).
//!
//! Statements in [`model::SchemaObject`] are plain SQL strings run with the simple query
//! protocol, so one entry may hold several statements separated by `;`.
//!
//! Builders by object family: [`relations`] (tables, columns, sequences, views, indexes,
//! constraints, triggers, policies), [`types`], [`routines`], [`db_objects`] (schemas,
//! extensions, languages, collations, text search, foreign data, event triggers, default
//! privileges, large objects), [`publications`], [`subscriptions`], [`transforms`], [`system_acls`]. [`graph`]
//! reads and orders them into a [`Schema`] (plain data, [`schema`], below all of them); [`exec`]
//! runs them, carrying one database's [`ExecState`].

pub use exec::{ExecReport, ExecState, SchemaOptions};
pub use graph::read_schema;
pub use schema::Schema;
mod arguments;
pub mod db_objects;
pub mod exec;
pub mod extensions;
pub mod graph;
pub mod model;
pub mod publications;
pub mod rehearsal;
pub mod relations;
pub mod routines;
mod scc;
pub mod schema;
pub mod search_paths;
pub mod security_labels;
pub mod subscriptions;
pub mod system_acls;
pub mod transforms;
pub mod types;

pub use db_migrate_catalog::scope::USER_SCHEMAS;
