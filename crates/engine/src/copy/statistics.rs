//! The target's planner statistics, once a table's rows and indexes are in: the source's own,
//! restored with `pg_restore_relation_stats()` / `pg_restore_attribute_stats()` where the target
//! has them (PostgreSQL 18 and newer), else computed again by `ANALYZE` (`--statistics`).
//!
//! Why carry them: a fresh `ANALYZE` samples again, so for skewed columns, large tables and
//! per-column statistics targets the target's most-common values, histograms and `n_distinct`
//! differ from the source's, and the first hours after a cut-over are when plans flip. The
//! restore functions accept the text form of `pg_stats` read from any older source (pg_dump 18's
//! `--statistics` and `pg_upgrade` use them the same way).
//!
//! What is read: the table's `pg_class` counts and those of its indexes, and every `pg_stats`
//! row of the table and of its expression indexes, in the copy's snapshot (the worker's source
//! session holds it), so they describe what was copied. What still gets `ANALYZE`:
//! - a table the source never analysed (no `pg_stats` row at all): the whole table;
//! - columns without a `pg_stats` row (added since the last ANALYZE), range columns of a source
//!   older than 17 (its `pg_stats` lacks their range histograms), and columns whose type gathers
//!   statistics `pg_stats` does not show (an extension's `typanalyze`, such as PostGIS's): those
//!   columns;
//! - every value the target refuses (a type whose text form changed): those columns, named in a
//!   warning (the others are counted in the report, and logged with `-d`);
//! - a table with extended statistics objects (there is no restore function for them before
//!   PostgreSQL 19): `ANALYZE` first, then the source's column statistics over it.
//!
//! Autovacuum's analyze of a freshly loaded table may later replace them, as after
//! `pg_restore --statistics`; a table whose source sets `autovacuum_enabled = false` keeps them.

use serde::Serialize;

use crate::conn::Session;
use crate::conn::wire::WireSession;
use crate::error::Result;
use crate::remedy::Setting;
use crate::sql::{qualified, quote_ident, quote_literal};

/// Where the target's planner statistics come from (`--statistics`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StatisticsMode {
    /// The source's, restored where the target has the restore functions (18+), else
    /// [`StatisticsMode::Analyze`].
    #[default]
    Restore,
    /// `ANALYZE` of every loaded table on the target.
    Analyze,
    /// Nothing (`--no-analyze`): the target's autovacuum analyses the tables later.
    None,
}

/// The first target version with `pg_restore_relation_stats()` and
/// `pg_restore_attribute_stats()`.
pub const RESTORE_FUNCTIONS_SINCE: u32 = 180000;

impl StatisticsMode {
    /// What a target of `target_version` (`server_version_num`) gets.
    pub fn effective(self, target_version: u32) -> StatisticsMode {
        match self {
            StatisticsMode::Restore if target_version < RESTORE_FUNCTIONS_SINCE => {
                StatisticsMode::Analyze
            }
            other => other,
        }
    }
}

/// What the statistics step did in one database, for the report.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct StatisticsReport {
    /// `restore`, `analyze` or `none`: what the target got (restore only on 18+).
    pub method: StatisticsMode,
    /// Tables, partitions and indexes whose `pg_class` counts were restored.
    pub relations_restored: u64,
    /// Column (and index expression) statistics restored.
    pub columns_restored: u64,
    /// Tables analysed as a whole (the method `analyze`, or a fallback).
    pub tables_analyzed: u64,
    /// Columns analysed after a restore that could not carry them.
    pub columns_analyzed: u64,
    /// Time spent in the statistics step, summed over the workers.
    pub seconds: f64,
}

impl StatisticsReport {
    pub fn add(&mut self, o: &TableStatistics) {
        self.relations_restored += o.relations_restored;
        self.columns_restored += o.columns_restored;
        self.tables_analyzed += o.tables_analyzed;
        self.columns_analyzed += o.columns_analyzed;
        self.seconds += o.seconds;
    }

    /// One phrase for the database's message.
    pub fn summary(&self) -> String {
        match self.method {
            StatisticsMode::None => format!("statistics: none ({})", Setting::NoAnalyze),
            StatisticsMode::Analyze => format!(
                "statistics: {} tables analysed ({:.1} s)",
                self.tables_analyzed, self.seconds
            ),
            StatisticsMode::Restore => {
                let mut s = format!(
                    "statistics restored from the source: {} relations, {} columns",
                    self.relations_restored, self.columns_restored
                );
                if self.tables_analyzed + self.columns_analyzed > 0 {
                    s.push_str(&format!(
                        "; analysed instead: {} tables, {} columns",
                        self.tables_analyzed, self.columns_analyzed
                    ));
                }
                s + &format!(" ({:.1} s)", self.seconds)
            }
        }
    }
}

/// What the statistics of one table came to.
#[derive(Debug, Clone, Default)]
pub struct TableStatistics {
    pub relations_restored: u64,
    pub columns_restored: u64,
    pub tables_analyzed: u64,
    pub columns_analyzed: u64,
    pub seconds: f64,
    /// What the target refused of the source's statistics (a warning each table).
    pub refused: Vec<String>,
    /// Why something else was analysed rather than restored: what the source did not have (for
    /// the debug log; ANALYZE gives the target what the source lacked, nothing is lost).
    pub notes: Vec<String>,
}

/// A session that answers SQL with text rows: the copy workers' wire sessions, and the
/// tokio-postgres sessions of the replication cut-over.
pub(crate) trait TextRows {
    async fn rows(&mut self, sql: &str) -> Result<Vec<Vec<Option<String>>>>;
    fn version(&self) -> u32;
}

impl TextRows for WireSession {
    async fn rows(&mut self, sql: &str) -> Result<Vec<Vec<Option<String>>>> {
        Ok(self.simple_query(sql).await?.rows)
    }
    fn version(&self) -> u32 {
        self.server_version_num()
    }
}

impl TextRows for &Session {
    async fn rows(&mut self, sql: &str) -> Result<Vec<Vec<Option<String>>>> {
        crate::catalog::verify::text_rows(self, sql).await
    }
    fn version(&self) -> u32 {
        self.server_version_num()
    }
}

/// `ANALYZE [ONLY] table [(columns)]`. `ONLY` (16+) keeps a partitioned table's ANALYZE from
/// sampling its partitions again: they get their own task.
pub fn analyze_sql(schema: &str, table: &str, only: bool, columns: &[String]) -> String {
    let mut sql = format!(
        "ANALYZE {}{}",
        if only { "ONLY " } else { "" },
        qualified(schema, table)
    );
    if !columns.is_empty() {
        let cols: Vec<String> = columns.iter().map(|c| quote_ident(c)).collect();
        sql.push_str(&format!(" ({})", cols.join(", ")));
    }
    sql
}

/// `ANALYZE` of the whole table.
pub(crate) async fn analyze(
    tgt: &mut impl TextRows,
    schema: &str,
    table: &str,
    only: bool,
) -> Result<TableStatistics> {
    let started = std::time::Instant::now();
    tgt.rows(&analyze_sql(schema, table, only, &[])).await?;
    Ok(TableStatistics {
        tables_analyzed: 1,
        seconds: started.elapsed().as_secs_f64(),
        ..Default::default()
    })
}

/// One `pg_stats` row as text, in the order of [`STAT_KEYS`].
#[derive(Debug, Clone)]
struct StatRow {
    relname: String,
    attname: String,
    attnum: String,
    is_index: bool,
    inherited: bool,
    is_range: bool,
    /// Its type gathers statistics of a kind `pg_stats` does not show (an extension's
    /// `typanalyze`, e.g. PostGIS's n-dimensional histograms): only ANALYZE can give them.
    custom_kinds: bool,
    values: Vec<Option<String>>,
}

/// The keys of `pg_restore_attribute_stats()` after the row's identity, with the `pg_stats`
/// column each is read from and the type the target casts it to.
const STAT_KEYS: &[(&str, &str)] = &[
    ("null_frac", "real"),
    ("avg_width", "integer"),
    ("n_distinct", "real"),
    ("most_common_vals", "text"),
    ("most_common_freqs", "real[]"),
    ("histogram_bounds", "text"),
    ("correlation", "real"),
    ("most_common_elems", "text"),
    ("most_common_elem_freqs", "real[]"),
    ("elem_count_histogram", "real[]"),
    ("range_length_histogram", "text"),
    ("range_empty_frac", "real"),
    ("range_bounds_histogram", "text"),
];

/// The first source version whose `pg_stats` shows range statistics.
const RANGE_STATS_SINCE: u32 = 170000;

/// Restores the statistics of `schema.table` (and of its indexes) read from `src` (in the copy's
/// snapshot) on `tgt`, analysing what cannot be restored (see the module documentation).
pub(crate) async fn restore(
    src: &mut impl TextRows,
    tgt: &mut impl TextRows,
    schema: &str,
    table: &str,
    only: bool,
) -> Result<TableStatistics> {
    let started = std::time::Instant::now();
    let version = src.version();
    let Some(rel) = source_relation(src, schema, table).await? else {
        // Gone from the source since the copy planned it: nothing to describe it by.
        return analyze(tgt, schema, table, only).await;
    };
    let stats = read_stats(src, &rel.oid, version).await?;
    if !stats
        .iter()
        .any(|s| !s.is_index && s.inherited == rel.inherited)
    {
        let mut o = analyze(tgt, schema, table, only).await?;
        o.notes
            .push("the source has no statistics for it (never analysed)".into());
        return Ok(o);
    }
    let mut out = TableStatistics::default();
    if rel.has_extended {
        // No restore function for extended statistics before 19: ANALYZE computes them, the
        // column statistics restored below then replace the ones it sampled.
        tgt.rows(&analyze_sql(schema, table, only, &[])).await?;
        out.tables_analyzed += 1;
        out.notes.push(
            "extended statistics objects cannot be restored before PostgreSQL 19: analysed \
             for them"
                .into(),
        );
    }
    // The relation and its indexes, then the columns.
    let mut calls: Vec<(Call, String)> = vec![(Call::Relation, rel.call.clone())];
    calls.extend(index_calls(src, schema, &rel.oid, version).await?);
    let (columns, mut analyze_columns) = column_calls(schema, &stats, version);
    calls.extend(columns);
    for c in columns_without_stats(src, &rel.oid, rel.inherited, &stats).await? {
        if !analyze_columns.contains(&c) {
            analyze_columns.push(c);
        }
    }
    if !analyze_columns.is_empty() {
        out.notes.push(format!(
            "no restorable statistics on the source for columns {}",
            analyze_columns.join(", ")
        ));
    }
    let restored = run_calls(tgt, &calls).await?;
    out.relations_restored += restored.relations;
    out.columns_restored += restored.columns;
    for c in restored.refused_columns {
        out.refused.push(format!(
            "the target refused the source's statistics of column {c}: analysed"
        ));
        if !analyze_columns.contains(&c) {
            analyze_columns.push(c);
        }
    }
    if restored.whole_table {
        out.notes.push(
            "the target refused the source's statistics of the table or an index: analysed".into(),
        );
        tgt.rows(&analyze_sql(schema, table, only, &[])).await?;
        out.tables_analyzed += 1;
    } else if !analyze_columns.is_empty() {
        tgt.rows(&analyze_sql(schema, table, only, &analyze_columns))
            .await?;
        out.columns_analyzed += analyze_columns.len() as u64;
        // ANALYZE also sets the table's counts from its sample: the source's go back.
        tgt.rows(&format!("SELECT {}", rel.call)).await?;
    }
    out.seconds = started.elapsed().as_secs_f64();
    Ok(out)
}

/// A table's `pg_class` row on the source, as the restore needs it.
struct SourceRelation {
    oid: String,
    /// A partitioned table: its statistics are those of its inheritance tree.
    inherited: bool,
    /// It has extended statistics objects.
    has_extended: bool,
    /// The `pg_restore_relation_stats()` call that gives the target its counts.
    call: String,
}

/// `schema.table` on the source; `None` when it is gone.
async fn source_relation(
    src: &mut impl TextRows,
    schema: &str,
    table: &str,
) -> Result<Option<SourceRelation>> {
    let version = src.version();
    let rel = src
        .rows(&format!(
            "SELECT c.oid, c.relkind, c.relpages, c.reltuples, c.relallvisible, {frozen},
                    EXISTS (SELECT 1 FROM pg_catalog.pg_statistic_ext x WHERE x.stxrelid = c.oid)
               FROM pg_catalog.pg_class c
               JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
              WHERE n.nspname = {s} AND c.relname = {t}",
            frozen = if version >= 180000 {
                "c.relallfrozen"
            } else {
                "NULL"
            },
            s = quote_literal(schema),
            t = quote_literal(table),
        ))
        .await?;
    let Some(r) = rel.first() else {
        return Ok(None);
    };
    let get = |i: usize| r.get(i).cloned().flatten().unwrap_or_default();
    Ok(Some(SourceRelation {
        oid: get(0),
        inherited: get(1) == "p",
        has_extended: get(6) == "t",
        call: relation_call(
            schema,
            table,
            version,
            &get(2),
            &get(3),
            &get(4),
            r.get(5).cloned().flatten(),
        ),
    }))
}

/// The restore calls of the counts of the indexes of table `oid`.
async fn index_calls(
    src: &mut impl TextRows,
    schema: &str,
    oid: &str,
    version: u32,
) -> Result<Vec<(Call, String)>> {
    let indexes = src
        .rows(&format!(
            "SELECT i.relname, i.relpages, i.reltuples, i.relallvisible, {frozen}
               FROM pg_catalog.pg_index x JOIN pg_catalog.pg_class i ON i.oid = x.indexrelid
              WHERE x.indrelid = {oid}",
            frozen = if version >= 180000 {
                "i.relallfrozen"
            } else {
                "NULL"
            },
        ))
        .await?;
    Ok(indexes
        .iter()
        .map(|ix| {
            let g = |i: usize| ix.get(i).cloned().flatten().unwrap_or_default();
            (
                Call::Relation,
                relation_call(
                    schema,
                    &g(0),
                    version,
                    &g(1),
                    &g(2),
                    &g(3),
                    ix.get(4).cloned().flatten(),
                ),
            )
        })
        .collect())
}

/// The restore calls of the columns' (and index expressions') statistics, and the columns
/// whose statistics must be computed here instead (a type whose statistics `pg_stats` does
/// not show, a range column of a source before 17).
fn column_calls(
    schema: &str,
    stats: &[StatRow],
    version: u32,
) -> (Vec<(Call, String)>, Vec<String>) {
    let mut calls = Vec::new();
    let mut analyze_columns: Vec<String> = Vec::new();
    for s in stats {
        if !s.is_index && (s.custom_kinds || s.is_range && version < RANGE_STATS_SINCE) {
            if !analyze_columns.contains(&s.attname) {
                analyze_columns.push(s.attname.clone());
            }
            continue;
        }
        calls.push((
            if s.is_index {
                Call::Index
            } else {
                Call::Column(s.attname.clone())
            },
            attribute_call(schema, s, version),
        ));
    }
    (calls, analyze_columns)
}

/// What the target made of the restore calls.
#[derive(Default)]
struct Restored {
    relations: u64,
    columns: u64,
    /// Columns whose statistics the target refused, in call order.
    refused_columns: Vec<String>,
    /// The counts of the table or of an index were refused: the whole table is analysed.
    whole_table: bool,
}

/// Runs every restore call in one statement on the target.
async fn run_calls(tgt: &mut impl TextRows, calls: &[(Call, String)]) -> Result<Restored> {
    let sql = format!(
        "SELECT {}",
        calls
            .iter()
            .map(|(_, c)| c.as_str())
            .collect::<Vec<_>>()
            .join(",\n       ")
    );
    let row = tgt.rows(&sql).await?.into_iter().next().unwrap_or_default();
    let mut restored = Restored::default();
    for ((call, _), ok) in calls.iter().zip(row.iter()) {
        let ok = ok.as_deref() == Some("t");
        match (call, ok) {
            (Call::Relation, true) => restored.relations += 1,
            (Call::Column(_) | Call::Index, true) => restored.columns += 1,
            (Call::Column(c), false) => restored.refused_columns.push(c.clone()),
            (Call::Relation | Call::Index, false) => restored.whole_table = true,
        }
    }
    Ok(restored)
}

/// What one restore call in the target's statement was for.
enum Call {
    Relation,
    Column(String),
    Index,
}

/// `pg_stats` rows of the table `oid` and of its expression indexes.
async fn read_stats(src: &mut impl TextRows, oid: &str, version: u32) -> Result<Vec<StatRow>> {
    let cols: Vec<String> = STAT_KEYS
        .iter()
        .map(|(k, _)| {
            let ranged = k.starts_with("range_");
            if ranged && version < RANGE_STATS_SINCE {
                "NULL".to_string()
            } else {
                format!("s.{k}::text")
            }
        })
        .collect();
    let sql = format!(
        "SELECT c.relname, a.attname, a.attnum, c.relkind = 'i', s.inherited,
                t.typtype IN ('r', 'm'),
                t.typanalyze::pg_catalog.regproc::text NOT IN
                    ('-', 'array_typanalyze', 'range_typanalyze', 'multirange_typanalyze',
                     'ts_typanalyze', 'pg_catalog.array_typanalyze',
                     'pg_catalog.range_typanalyze', 'pg_catalog.multirange_typanalyze',
                     'pg_catalog.ts_typanalyze'),
                {cols}
           FROM pg_catalog.pg_class c
           JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
           JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid
           JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
           JOIN pg_catalog.pg_stats s
             ON s.schemaname = n.nspname AND s.tablename = c.relname AND s.attname = a.attname
          WHERE c.oid = {oid}
             OR c.oid IN (SELECT x.indexrelid FROM pg_catalog.pg_index x
                           WHERE x.indrelid = {oid} AND x.indexprs IS NOT NULL)
          ORDER BY c.oid, a.attnum, s.inherited",
        cols = cols.join(", ")
    );
    let rows = src.rows(&sql).await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let g = |i: usize| r.get(i).cloned().flatten().unwrap_or_default();
            StatRow {
                relname: g(0),
                attname: g(1),
                attnum: g(2),
                is_index: g(3) == "t",
                inherited: g(4) == "t",
                is_range: g(5) == "t",
                custom_kinds: g(6) == "t",
                values: r.iter().skip(7).cloned().collect(),
            }
        })
        .collect())
}

/// The table's columns that have no `pg_stats` row of the table's own kind (and may have one:
/// a statistics target other than 0, not a virtual generated column).
async fn columns_without_stats(
    src: &mut impl TextRows,
    oid: &str,
    inherited: bool,
    stats: &[StatRow],
) -> Result<Vec<String>> {
    let rows = src
        .rows(&format!(
            "SELECT a.attname FROM pg_catalog.pg_attribute a
              WHERE a.attrelid = {oid} AND a.attnum > 0 AND NOT a.attisdropped
                AND COALESCE(a.attstattarget::integer, -1) <> 0 AND a.attgenerated <> 'v'
              ORDER BY a.attnum"
        ))
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| r.into_iter().next().flatten())
        .filter(|c| {
            !stats
                .iter()
                .any(|s| !s.is_index && s.inherited == inherited && &s.attname == c)
        })
        .collect())
}

/// A `pg_restore_relation_stats()` call.
fn relation_call(
    schema: &str,
    relname: &str,
    version: u32,
    relpages: &str,
    reltuples: &str,
    relallvisible: &str,
    relallfrozen: Option<String>,
) -> String {
    let mut args = vec![
        format!("'schemaname', {}", quote_literal(schema)),
        format!("'relname', {}", quote_literal(relname)),
        format!("'version', {version}::integer"),
        format!("'relpages', {}::integer", quote_literal(relpages)),
        format!("'reltuples', {}::real", quote_literal(reltuples)),
        format!("'relallvisible', {}::integer", quote_literal(relallvisible)),
    ];
    if let Some(f) = relallfrozen {
        args.push(format!("'relallfrozen', {}::integer", quote_literal(&f)));
    }
    format!("pg_catalog.pg_restore_relation_stats({})", args.join(", "))
}

/// A `pg_restore_attribute_stats()` call: a table column by name, an index expression column
/// by number (its name is made up by the server), with every value the source has.
fn attribute_call(schema: &str, s: &StatRow, version: u32) -> String {
    let mut args = vec![
        format!("'schemaname', {}", quote_literal(schema)),
        format!("'relname', {}", quote_literal(&s.relname)),
    ];
    if s.is_index {
        args.push(format!("'attnum', {}::smallint", quote_literal(&s.attnum)));
    } else {
        args.push(format!("'attname', {}", quote_literal(&s.attname)));
    }
    args.push(format!("'inherited', {}::boolean", s.inherited));
    args.push(format!("'version', {version}::integer"));
    for ((key, ty), value) in STAT_KEYS.iter().zip(&s.values) {
        if let Some(v) = value {
            args.push(format!("'{key}', {}::{ty}", quote_literal(v)));
        }
    }
    format!("pg_catalog.pg_restore_attribute_stats({})", args.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restore_needs_an_18_target_and_names_are_quoted() {
        assert_eq!(
            StatisticsMode::Restore.effective(170005),
            StatisticsMode::Analyze
        );
        assert_eq!(
            StatisticsMode::Restore.effective(180001),
            StatisticsMode::Restore
        );
        assert_eq!(StatisticsMode::None.effective(180001), StatisticsMode::None);
        assert_eq!(
            analyze_sql("s\"x", "t", true, &["a b".into()]),
            "ANALYZE ONLY \"s\"\"x\".\"t\" (\"a b\")"
        );
        let row = StatRow {
            relname: "t'1".into(),
            attname: "c".into(),
            attnum: "1".into(),
            is_index: false,
            inherited: false,
            is_range: false,
            custom_kinds: false,
            values: vec![Some("0.5".into()), None, None, Some("{a,'b'}".into())],
        };
        let call = attribute_call("s", &row, 150018);
        assert!(call.contains("'relname', 't''1'"), "{call}");
        assert!(call.contains("'null_frac', '0.5'::real"), "{call}");
        assert!(
            call.contains("'most_common_vals', '{a,''b''}'::text"),
            "{call}"
        );
        assert!(!call.contains("avg_width"), "{call}");
        let index = StatRow {
            is_index: true,
            attnum: "2".into(),
            ..row
        };
        assert!(attribute_call("s", &index, 150018).contains("'attnum', '2'::smallint"));
    }
}
