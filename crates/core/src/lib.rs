//! The vocabulary every other crate of db-migrate speaks, and nothing that talks to a server:
//! the one error type ([`error::Error`], which keeps the SQLSTATE, side, database, object and
//! phase), warnings ([`warning::Warning`]), what an operator can do next and the settings
//! messages name, as values ([`remedy`]), SQL quoting ([`sql`]), secret scrubbing of free
//! text ([`redact`]), bounded reads of the files a user names ([`input`]), the stall watchdog's
//! clock ([`stall`]), the interrupt flags ([`interrupt`]) and small text helpers ([`text`]).

pub mod error;
pub mod input;
pub mod interrupt;
pub mod redact;
pub mod remedy;
pub mod sql;
pub mod stall;
pub mod text;
pub mod warning;

pub use error::{Error, ErrorKind, Result, Side};
pub use remedy::{Remedy, Setting};
