//! The connection layer: the only code in db-migrate that opens sockets.
//!
//! - [`config`]: connection info as libpq accepts it (URIs, `key=value`, PG* environment
//!   variables, pgpass), with passwords redacted from every rendering.
//! - [`tls`]: rustls connectors with libpq's `sslmode` semantics.
//! - [`channel_binding`]: SCRAM-SHA-256-PLUS with libpq's `channel_binding` semantics, for
//!   both stacks.
//! - [`connect`]: sessions with an enforced connect timeout, `search_path = ''` and our
//!   `application_name`.
//! - [`wire`]: our own protocol client, for replication connections and COPY pass-through.
//! - `policy`: libpq's connection policy (the `sslmode` ladder, `connect_timeout`, the TLS hints),
//!   written once and used by both `connect` and [`wire`].

pub mod channel_binding;
pub mod config;
pub mod connect;
pub mod keepalive;
mod keywords;
mod policy;
pub mod session_attrs;
pub mod tls;
pub mod wire;

pub use config::{ConnInfo, SslMode, SslRootCert, redact};
pub use connect::{Session, connect};

/// `db-migrate/<version>`: the application_name of every session unless the user gave one.
pub const APPLICATION_NAME: &str = concat!("db-migrate/", env!("CARGO_PKG_VERSION"));
