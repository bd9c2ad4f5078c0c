//! Reading a whole database's schema and ordering it.
//!
//! The order comes from `pg_depend` (normal and automatic dependencies), redirected through the
//! readers' [`Alias`](crate::model::Alias)es onto the objects we create, plus the dependencies
//! readers add themselves. Ties are broken like pg_dump does (kind, schema, name), so the output is stable
//! and related objects stay together. Objects that belong to an extension (`deptype = 'e'`) are
//! left to `CREATE EXTENSION`.
//!
//! Two rules the catalogs do not record are applied here:
//! - a pre-data object that depends on a post-data object (a view relying on a primary key for
//!   its GROUP BY, say) moves to post-data, with everything that depends on it;
//! - a sequence's automatic dependency on the table that owns it is ignored: the sequence must
//!   exist before a column default calls it, and `OWNED BY` is a separate object.
//!
//! A cycle through a column default or CHECK constraint of a table (a function with a
//! SQL-standard body that reads the table, used in the table's default or CHECK) is broken the
//! way pg_dump breaks it: [`read_schema`] finds such parts ([`cycle_parts`]) and has the table
//! built without them, each part becoming an object of its own
//! ([`ObjectKind::TablePart`](crate::model::ObjectKind::TablePart)) that runs after the
//! function.
//!
//! Cycles that remain (rare with `check_function_bodies = off`) are broken by emitting the
//! lowest-priority object of the cycle first, with a warning naming the objects involved.
//!
//! One file per step: `read.rs` reads the catalogs in one snapshot and has the builders make
//! the objects ([`read_schema`]), `resolve.rs` maps `pg_depend`'s identities onto them and
//! gives the dependency edges, `order.rs` sorts them and gives their levels ([`order()`]), and
//! `cycles.rs` finds the table parts to split out ([`cycle_parts`]). The result, [`Schema`],
//! is plain data of its own ([`crate::schema`]), so that the builders and the executor, which
//! use it, need none of this.

mod cycles;
mod order;
mod read;
mod resolve;
#[cfg(test)]
mod tests;

pub use crate::schema::Schema;
pub use cycles::cycle_parts;
pub use db_migrate_catalog::depend::{Depend, load_depend};
pub use order::order;
pub use read::read_schema;
