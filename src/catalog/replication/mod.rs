//! What the replication method reads from the catalogs of the source and the target: the
//! tables a `FOR TABLE` publication lists and who may publish them ([`publication`]), the
//! tables it checks before it publishes ([`tables`]), the `aiven_extras` rights of a database
//! ([`extras`]), the state of its own publication, slot
//! and subscription ([`state`]), and the object definitions its schema-drift fingerprint hashes
//! ([`definitions`]). Reads only; creating and dropping those objects is
//! `crate::replication::objects`.

pub mod columns;
pub mod definitions;
pub mod extras;
pub mod publication;
pub mod state;
pub mod tables;
