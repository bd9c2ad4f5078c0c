//! The integration tests: one test binary whose modules are the files beside this one.
//!
//! One binary links the library once instead of once per file (31 links of the whole engine
//! made a third of a CI run). Each module includes the harness (`support/`) as a module of its
//! own, so its clusters, locks and counters are its own, as when every file was a binary: a
//! module's tests never see another module's databases, roles or slots, and the tests of
//! different modules run side by side as the tests of one file always did. Run one module with
//! `cargo test --test it -- recovery::`.

// Deliberate: every module loads `support/` as a module of its own (its own clusters).
#![allow(clippy::duplicate_mod)]

mod aiven_extras_install;
mod cli;
mod conn;
mod corpus;
mod cutover;
mod data;
mod extensions;
mod follow;
mod gatekeeper;
mod hardening;
mod harness;
mod installation;
mod method;
mod operator;
mod owners;
mod pass_through;
mod preflight;
mod recovery;
mod regression_db;
mod rehearsal;
mod replica_identity;
mod replication;
mod roles;
mod schema;
mod schema_fidelity;
mod schema_relations;
mod schema_types;
mod security_labels;
mod selection;
mod subscriptions;
mod verify;
mod walsender;
