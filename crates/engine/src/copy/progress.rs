//! CopyProgress of one database's copy: shared counters updated by the workers, shown by the
//! engine's one display ([`crate::progress`]).
//!
//! While parts are being copied and no byte moved for more than
//! [`crate::stall::SHOW_STALLED_AFTER`], the line says "stalled for N s" instead of a rate of
//! 0 and an ETA of 0, which read like a finished copy: an operator sees the stall long before
//! the watchdog (`--stall-timeout`) acts on it.

use std::sync::atomic::{AtomicU64, Ordering};

/// Counters shared by the workers. Rows are counted live from COPY messages and corrected to the
/// target's count when a part commits.
#[derive(Debug, Default)]
pub struct CopyProgress {
    pub bytes: AtomicU64,
    pub rows: AtomicU64,
    pub tables_done: AtomicU64,
    pub tables_total: u64,
    /// Estimated bytes to copy (sum of source table sizes).
    pub est_bytes: u64,
    /// When a byte last moved, any part.
    moved: crate::stall::Activity,
    /// Parts being copied now: between them (index builds, ANALYZE) no byte is expected, and
    /// no stall is shown.
    copying: AtomicU64,
}

/// A part being copied: counted in [`CopyProgress`] until dropped.
pub struct Copying<'a>(&'a CopyProgress);

impl Drop for Copying<'_> {
    fn drop(&mut self) {
        self.0.copying.fetch_sub(1, Ordering::Relaxed);
    }
}

impl CopyProgress {
    /// Counters for a copy of `tables_total` tables of about `est_bytes`.
    pub fn new(tables_total: u64, est_bytes: u64) -> CopyProgress {
        CopyProgress {
            tables_total,
            est_bytes,
            ..Default::default()
        }
    }

    pub fn add_bytes(&self, n: u64) {
        self.bytes.fetch_add(n, Ordering::Relaxed);
        self.moved.moved();
    }

    /// A part starts (which counts as movement: the time before it was not a stall).
    pub fn copy_started(&self) -> Copying<'_> {
        self.copying.fetch_add(1, Ordering::Relaxed);
        self.moved.moved();
        Copying(self)
    }

    /// Seconds without a byte while parts are being copied, once long enough to show
    /// ([`crate::stall::shown_stalled`]).
    pub fn stalled_for(&self) -> Option<u64> {
        if self.copying.load(Ordering::Relaxed) == 0 {
            return None;
        }
        crate::stall::shown_stalled(self.moved.idle())
    }

    pub fn add_rows(&self, n: u64) {
        self.rows.fetch_add(n, Ordering::Relaxed);
    }

    /// Replaces `counted` live rows by the `exact` count the target reported.
    pub fn correct_rows(&self, counted: u64, exact: u64) {
        self.rows
            .fetch_add(exact.wrapping_sub(counted), Ordering::Relaxed);
    }

    pub fn table_done(&self) {
        self.tables_done.fetch_add(1, Ordering::Relaxed);
    }

    fn snapshot(&self) -> (u64, u64, u64) {
        (
            self.bytes.load(Ordering::Relaxed),
            self.rows.load(Ordering::Relaxed),
            self.tables_done.load(Ordering::Relaxed),
        )
    }
}

impl crate::gauge::Gauge for CopyProgress {
    const STAGE: &'static str = "copy";
    const UNIT: crate::gauge::Unit = crate::gauge::Unit::Bytes;

    fn reading(&self) -> crate::gauge::Reading {
        let (bytes, rows, tables_done) = self.snapshot();
        crate::gauge::Reading {
            done: bytes,
            total: self.est_bytes,
            rows,
            tables_done,
            tables_total: self.tables_total,
            stalled_for: self.stalled_for(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_stall_is_shown_between_parts_nor_right_after_a_part_starts() {
        let p = CopyProgress::default();
        assert_eq!(p.stalled_for(), None, "no part running");
        let part = p.copy_started();
        assert_eq!(p.stalled_for(), None, "a part that just started");
        p.add_bytes(10);
        assert_eq!(p.stalled_for(), None);
        drop(part);
        assert_eq!(p.copying.load(Ordering::Relaxed), 0);
    }
}
