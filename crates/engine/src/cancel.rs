//! The error of a run stopped by its cancellation token (an interrupt, or a library user's
//! cancel), for every stage that watches the token: the copy and its workers, verification,
//! the rehearsal, the orchestrator. All of them report it as [`ErrorKind::Cancelled`] alike.
//!
//! Why a module of its own: written first in the copy's workers, it had verification and the
//! orchestrator import the workers for one error.

use crate::error::{Error, ErrorKind};

/// The Cancelled error.
pub fn cancelled() -> Error {
    Error::new(ErrorKind::Cancelled, "the data copy was cancelled")
}
