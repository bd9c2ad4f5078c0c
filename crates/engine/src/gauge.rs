//! What a long stage's counters read (the copy's, verification's): the [`Gauge`] a stage
//! implements and the [`Reading`] it gives, in the [`Unit`] it counts.
//!
//! Why a module of its own: two readers watch these counters, the display
//! ([`crate::progress`]) and the run's board ([`crate::board`], which the display itself
//! reads). Kept with either one, the other would import it back; here, below both and below
//! the stages that implement it, nobody does.

/// What a stage's progress is measured in: the bar's position and length, and whether a rate
/// and an ETA mean something.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Bytes (the copy): shown as sizes, with a rate and an ETA.
    Bytes,
    /// Tables (verification): shown as counts, without a rate.
    Tables,
}

/// One reading of a stage's counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reading {
    /// How far, in the gauge's [`Unit`].
    pub done: u64,
    /// Of how much (an estimate for bytes: the bar grows when it is passed).
    pub total: u64,
    /// Rows so far.
    pub rows: u64,
    /// Tables done and of how many.
    pub tables_done: u64,
    pub tables_total: u64,
    /// Seconds without movement while work is under way, once long enough to show.
    pub stalled_for: Option<u64>,
}

/// A stage's counters as the display reads them.
pub trait Gauge: Send + Sync + 'static {
    /// The stage's name in the bar and the log line ("copy", "verify").
    const STAGE: &'static str;
    /// What `done` and `total` count.
    const UNIT: Unit;
    fn reading(&self) -> Reading;
}
