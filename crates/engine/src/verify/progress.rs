//! VerifyProgress of one database's verification: tables compared and their rows, shown by the
//! engine's one display ([`crate::progress`]) like the copy's.

use std::sync::atomic::{AtomicU64, Ordering};

/// Tables compared so far and their rows (the larger side's).
#[derive(Debug)]
pub struct VerifyProgress {
    tables_total: u64,
    tables_done: AtomicU64,
    rows: AtomicU64,
}

impl VerifyProgress {
    pub fn new(tables_total: u64) -> Self {
        VerifyProgress {
            tables_total,
            tables_done: AtomicU64::new(0),
            rows: AtomicU64::new(0),
        }
    }

    /// Rows of a part of a table compared (the table is not done yet).
    pub fn rows_done(&self, rows: u64) {
        self.rows.fetch_add(rows, Ordering::Relaxed);
    }

    pub fn table_done(&self, rows: u64) {
        self.rows.fetch_add(rows, Ordering::Relaxed);
        self.tables_done.fetch_add(1, Ordering::Relaxed);
    }

    fn read(&self) -> (u64, u64) {
        (
            self.tables_done.load(Ordering::Relaxed),
            self.rows.load(Ordering::Relaxed),
        )
    }
}

impl crate::gauge::Gauge for VerifyProgress {
    const STAGE: &'static str = "verify";
    const UNIT: crate::gauge::Unit = crate::gauge::Unit::Tables;

    fn reading(&self) -> crate::gauge::Reading {
        let (tables_done, rows) = self.read();
        crate::gauge::Reading {
            done: tables_done,
            total: self.tables_total,
            rows,
            tables_done,
            tables_total: self.tables_total,
            stalled_for: None,
        }
    }
}
