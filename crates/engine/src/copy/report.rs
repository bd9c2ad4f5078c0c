//! What the data engine reports: per table (its result, its state for a failure report) and
//! for the whole copy.

use super::statistics;
use crate::error::Result;
use crate::warning::Warning;

/// What was copied for one table (a leaf partition counts as a table).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TableCopyResult {
    pub schema: String,
    pub table: String,
    /// Rows the target's `COPY` reported loaded.
    pub rows: u64,
    /// Bytes of COPY data moved.
    pub bytes: u64,
    /// From the start of its first part to the commit of its last.
    pub seconds: f64,
    /// "binary" or "text".
    pub format: &'static str,
    pub parts: u32,
    /// The snapshots its parts were read in (two when a resumed run copied the rest).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub snapshots: Vec<String>,
    /// Attempts that failed with a transient error and were run again.
    #[serde(skip_serializing_if = "is_zero")]
    pub retries: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// Where one table stands at the end of a copy, successful or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum TableState {
    /// Every part committed (in this run or, on resume, an earlier one).
    #[serde(rename = "copied")]
    Copied,
    /// Some parts committed, the others did not run or were stopped.
    #[serde(rename = "partly copied")]
    PartlyCopied,
    /// A part failed with the error given.
    #[serde(rename = "failed")]
    Failed,
    /// A part was running when the copy was stopped (interrupt, or another table's failure).
    #[serde(rename = "interrupted")]
    Interrupted,
    #[serde(rename = "not started")]
    NotStarted,
}

/// One table's state, rows and bytes in the target, for failure reports and resumes.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TableStatus {
    pub schema: String,
    pub table: String,
    pub state: TableState,
    pub parts: u32,
    pub parts_copied: u32,
    pub rows: u64,
    pub bytes: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub retries: u32,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub snapshots: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// [`copy_database_with_states`]: the copy's result, and every table's state even when it
/// failed.
#[derive(Debug)]
pub struct CopyOutcome {
    pub result: Result<CopyReport>,
    /// Every table planned, in (schema, table) order; empty when the copy failed before it had
    /// a plan.
    pub tables: Vec<TableStatus>,
}

/// What the data copy of one database did.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct CopyReport {
    pub tables: Vec<TableCopyResult>,
    /// Sequences whose value was set.
    pub sequences: u64,
    /// Large objects whose contents were copied.
    pub large_objects: u64,
    /// Bytes of table data and large-object contents.
    pub bytes: u64,
    pub rows: u64,
    pub seconds: f64,
    pub warnings: Vec<Warning>,
    /// Transient failures that were retried (all tasks).
    #[serde(skip_serializing_if = "is_zero")]
    pub retries: u32,
    /// Where the planner statistics of the loaded tables came from.
    pub statistics: statistics::StatisticsReport,
}
