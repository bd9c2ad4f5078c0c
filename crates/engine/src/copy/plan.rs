//! The copy planner: which relations to copy, with which columns, in which format and in how
//! many parts, decided over what the catalogs of both sides say
//! ([`crate::catalog::copy_plan`], read on the source inside the snapshot).
//!
//! Everything here is planning and SQL text building; no data moves. The one query of its own
//! reads the key range of a table split by key (sources before 14, which have no TID range
//! scans).

use std::collections::{HashMap, HashSet};

use super::{CopyFormat, CopyOptions};
pub use crate::catalog::copy_plan::{RelKey, TargetTable, TypeInfo};
use crate::catalog::copy_plan::{SourceCatalog, SourceTable, TargetCatalog, read_source};
use crate::catalog::scope::FIRST_NORMAL_OBJECT_ID;
use crate::conn::Session;
use crate::error::{Error, Result};
use crate::sql::{qualified, quote_ident};
use crate::warning::Warning;

/// At most this many parts per table, whatever its size.
pub const MAX_PARTS: u64 = 1024;

/// One relation to copy.
#[derive(Debug, Clone)]
pub struct TablePlan {
    pub schema: String,
    pub name: String,
    /// Columns copied, in attribute order: not dropped, not generated.
    pub columns: Vec<String>,
    pub binary: bool,
    /// `pg_table_size` on the source (heap + TOAST): the size estimate used for ordering,
    /// splitting and progress.
    pub est_bytes: u64,
    /// Row filters, one per part; a single `None` for a whole-table copy.
    pub parts: Vec<Option<String>>,
    /// Condition from `pg_extension.extcondition` (extension configuration tables).
    pub ext_condition: Option<String>,
    /// Read through `COPY (SELECT ...)` rather than `COPY table` (row filters, RLS).
    pub use_select: bool,
    /// Single part, truncatable target: TRUNCATE + COPY FREEZE in one transaction.
    pub freeze: bool,
    /// Split table with a truncatable target: TRUNCATE once before the parts start.
    pub truncate_first: bool,
    /// Partitioned tables this one is a (direct or indirect) partition of.
    pub ancestors: Vec<RelKey>,
    /// The search_path its COPY runs with instead of the empty one: its generated columns or
    /// CHECK constraints call a SQL function whose body the server parses on loading rows
    /// (see `db_migrate_ddl::search_paths`); `SET LOCAL` in the part's transaction.
    pub search_path: Option<String>,
}

impl TablePlan {
    pub fn key(&self) -> RelKey {
        (self.schema.clone(), self.name.clone())
    }

    pub fn qualified(&self) -> String {
        qualified(&self.schema, &self.name)
    }

    pub fn format(&self) -> &'static str {
        if self.binary { "binary" } else { "text" }
    }

    /// "table "s"."t"" or "table "s"."t" part 2/4", for errors and logs.
    pub fn describe_part(&self, part: usize) -> String {
        if self.parts.len() > 1 {
            format!(
                "table {} part {}/{}",
                self.qualified(),
                part + 1,
                self.parts.len()
            )
        } else {
            format!("table {}", self.qualified())
        }
    }

    fn column_list(&self) -> String {
        self.columns
            .iter()
            .map(|c| quote_ident(c))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The `COPY ... TO STDOUT` statement for `part` on the source.
    pub fn copy_out_sql(&self, part: usize) -> String {
        let format = if self.binary { " (FORMAT binary)" } else { "" };
        let filter = self.parts.get(part).cloned().flatten();
        let mut conds: Vec<String> = Vec::new();
        if let Some(c) = &self.ext_condition {
            let c = c.trim();
            let c = strip_where(c);
            if !c.is_empty() {
                conds.push(format!("({c})"));
            }
        }
        if let Some(f) = filter {
            conds.push(f);
        }
        if !self.use_select && conds.is_empty() {
            let cols = if self.columns.is_empty() {
                String::new()
            } else {
                format!(" ({})", self.column_list())
            };
            return format!("COPY {}{cols} TO STDOUT{format}", self.qualified());
        }
        let filter = if conds.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", conds.join(" AND "))
        };
        format!(
            "COPY (SELECT {} FROM ONLY {}{filter}) TO STDOUT{format}",
            self.column_list(),
            self.qualified()
        )
    }

    /// The `COPY ... FROM STDIN` statement on the target.
    pub fn copy_in_sql(&self) -> String {
        let cols = if self.columns.is_empty() {
            String::new()
        } else {
            format!(" ({})", self.column_list())
        };
        let mut options = vec![if self.binary {
            "FORMAT binary"
        } else {
            "FORMAT text"
        }];
        if self.freeze {
            options.push("FREEZE");
        }
        format!(
            "COPY {}{cols} FROM STDIN ({})",
            self.qualified(),
            options.join(", ")
        )
    }
}

/// `extcondition` entries are written `WHERE cond` (pg_dump appends them verbatim); we combine
/// them with our own filters, so the keyword goes.
fn strip_where(cond: &str) -> &str {
    let t = cond.trim_start();
    if t.len() >= 5 && t[..5].eq_ignore_ascii_case("where") {
        let rest = &t[5..];
        if rest.is_empty() || rest.starts_with(|c: char| c.is_whitespace() || c == '(') {
            return rest.trim();
        }
    }
    t
}

/// Row filters splitting `blocks` heap blocks into `parts` TID ranges (PG14+ TID range scans).
/// The first range has no lower bound and the last no upper bound, so rows in blocks the size
/// estimate missed are still copied.
pub fn ctid_ranges(blocks: u64, parts: u64) -> Vec<Option<String>> {
    let parts = parts.max(1);
    if parts == 1 || blocks < parts {
        return vec![None];
    }
    let bound = |i: u64| (blocks as u128 * i as u128 / parts as u128) as u64;
    (0..parts)
        .map(|i| {
            let lo = (i > 0).then(|| format!("ctid >= '({},0)'::pg_catalog.tid", bound(i)));
            let hi =
                (i + 1 < parts).then(|| format!("ctid < '({},0)'::pg_catalog.tid", bound(i + 1)));
            Some(
                [lo, hi]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" AND "),
            )
        })
        .collect()
}

/// Row filters splitting the integer key range `[min, max]` of `column` into `parts` ranges; the
/// first is open below and the last open above (rows outside the planned range are still
/// copied).
pub fn key_ranges(column: &str, min: i64, max: i64, parts: u64) -> Vec<Option<String>> {
    let parts = parts.max(1);
    let span = max as i128 - min as i128 + 1;
    if parts == 1 || span < parts as i128 {
        return vec![None];
    }
    let col = quote_ident(column);
    let bound = |i: u64| (min as i128 + span * i as i128 / parts as i128) as i64;
    (0..parts)
        .map(|i| {
            let lo = (i > 0).then(|| format!("{col} >= {}", bound(i)));
            let hi = (i + 1 < parts).then(|| format!("{col} < {}", bound(i + 1)));
            Some(
                [lo, hi]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" AND "),
            )
        })
        .collect()
}

/// How many parts a table of `bytes` gets with threshold `split`.
pub fn part_count(bytes: u64, split: u64) -> u64 {
    if split == 0 || bytes <= split {
        return 1;
    }
    bytes.div_ceil(split).clamp(2, MAX_PARTS)
}

/// Binary COPY decisions over a set of types.
pub struct TypeRules<'a> {
    pub types: &'a HashMap<u32, TypeInfo>,
}

impl TypeRules<'_> {
    /// Created by initdb, so its OID is the same on every server (binary COPY of arrays and
    /// records embeds type OIDs).
    fn builtin(t: &TypeInfo) -> bool {
        t.oid < FIRST_NORMAL_OBJECT_ID && t.in_pg_catalog
    }

    /// reg* types send OIDs in binary (regclass, regtype, ...): never binary.
    fn oid_alias(t: &TypeInfo) -> bool {
        t.in_pg_catalog && t.name.starts_with("reg")
    }

    /// Conservative rule (`CopyFormat::Auto`): a built-in base, range or multirange type with
    /// binary send/receive, or an array of one. Enums, domains, composites and extension or
    /// user types go as text.
    pub fn safe(&self, oid: u32) -> bool {
        self.safe_depth(oid, 0)
    }

    fn safe_depth(&self, oid: u32, depth: u32) -> bool {
        let Some(t) = self.types.get(&oid) else {
            return false;
        };
        if depth > 8
            || !Self::builtin(t)
            || !t.has_binary_io
            || Self::oid_alias(t)
            // Internal-use types (pg_node_tree, pg_ndistinct, ...) refuse binary input; "char"
            // is in that category since PG15 but has ordinary binary I/O.
            || (matches!(t.category, 'Z' | 'P' | 'X') && t.name != "char")
        {
            return false;
        }
        match t.typtype {
            'b' if t.array_elem != 0 => self.safe_depth(t.array_elem, depth + 1),
            'b' => true,
            'r' | 'm' => t.inner == 0 || self.safe_depth(t.inner, depth + 1),
            _ => false,
        }
    }

    /// Permissive rule (`CopyFormat::Binary`): anything whose binary form carries no
    /// server-specific OIDs. Composites and arrays of non-built-in types embed type OIDs that
    /// differ between servers, reg* types are OIDs, and some types have no binary I/O at all.
    pub fn possible(&self, oid: u32) -> bool {
        self.possible_depth(oid, 0)
    }

    fn possible_depth(&self, oid: u32, depth: u32) -> bool {
        let Some(t) = self.types.get(&oid) else {
            return false;
        };
        if depth > 8 || Self::oid_alias(t) {
            return false;
        }
        match t.typtype {
            'd' => self.possible_depth(t.base, depth + 1),
            'c' | 'p' => false,
            _ if !t.has_binary_io => false,
            'b' if t.array_elem != 0 => {
                t.array_elem < FIRST_NORMAL_OBJECT_ID
                    && self.types.get(&t.array_elem).is_some_and(Self::builtin)
                    && self.possible_depth(t.array_elem, depth + 1)
            }
            'r' | 'm' => t.inner == 0 || self.possible_depth(t.inner, depth + 1),
            _ => true,
        }
    }
}

/// A sequence to carry over.
#[derive(Debug, Clone)]
pub struct SequencePlan {
    pub schema: String,
    pub name: String,
}

/// Everything the copy needs to know, decided up front.
#[derive(Debug, Default)]
pub struct Plan {
    /// Largest first.
    pub tables: Vec<TablePlan>,
    pub sequences: Vec<SequencePlan>,
    pub large_objects: Vec<u32>,
    /// Partitioned tables (all levels) of the source.
    pub partitioned: HashSet<RelKey>,
    pub warnings: Vec<Warning>,
    pub est_bytes: u64,
}

/// Builds the plan: reads the source (in the snapshot) and matches it with the target.
pub async fn build(
    src: &Session,
    target_major: u32,
    target_catalog: &TargetCatalog,
    replica: bool,
    opts: &CopyOptions,
) -> Result<Plan> {
    let SourceCatalog {
        tables,
        sequences,
        types,
        ancestry,
        partitioned,
        large_objects,
    } = read_selected(src, opts).await?;
    let mut plan = Plan {
        large_objects,
        ..Default::default()
    };
    let mut ancestors: HashMap<RelKey, Vec<RelKey>> = HashMap::new();
    for (leaf, parent) in ancestry {
        plan.partitioned.insert(parent.clone());
        ancestors.entry(leaf).or_default().push(parent);
    }
    plan.partitioned.extend(partitioned);
    for key in sequences {
        match plan_sequence(key, target_catalog) {
            Ok(s) => plan.sequences.push(s),
            Err(w) => plan.warnings.push(w),
        }
    }

    let planner = Planner {
        src,
        source_major: src.major(),
        target_major,
        target_catalog,
        replica,
        opts,
        rules: TypeRules { types: &types },
    };
    let mut trigger_tables = Vec::new();
    let mut fk_tables = Vec::new();
    for t in tables {
        let key = (t.schema.clone(), t.name.clone());
        match planner.table(t, &mut ancestors).await? {
            Planned::Skipped(w) => plan.warnings.push(w),
            Planned::Table {
                table,
                format_warning,
                triggers,
                foreign_keys,
            } => {
                let q = qualified(&key.0, &key.1);
                if triggers {
                    trigger_tables.push(q.clone());
                }
                if foreign_keys {
                    fk_tables.push(q);
                }
                plan.warnings.extend(format_warning);
                plan.est_bytes += table.est_bytes;
                plan.tables.push(table);
            }
        }
    }
    plan.warnings
        .extend(load_warnings(&trigger_tables, &fk_tables));
    // Largest first; ties by name for a stable order.
    plan.tables.sort_by(|a, b| {
        b.est_bytes
            .cmp(&a.est_bytes)
            .then_with(|| a.schema.cmp(&b.schema))
            .then_with(|| a.name.cmp(&b.name))
    });
    Ok(plan)
}

/// The source's catalog, its tables, sequences and large objects narrowed to those whose
/// data the selection moves.
async fn read_selected(src: &Session, opts: &CopyOptions) -> Result<SourceCatalog> {
    let mut source = read_source(src, opts.extension_tables).await?;
    if let Some(sel) = &opts.selection {
        (source.tables).retain(|t| sel.includes_data(&t.schema, &t.name));
        (source.sequences).retain(|(schema, name)| sel.includes_data(schema, name));
        if !sel.large_objects {
            source.large_objects.clear();
        }
    }
    Ok(source)
}

/// A source sequence carried over, or the warning that the target has none of that name.
fn plan_sequence(key: RelKey, target_catalog: &TargetCatalog) -> Result<SequencePlan, Warning> {
    if target_catalog.sequences.contains(&key) {
        let (schema, name) = key;
        return Ok(SequencePlan { schema, name });
    }
    let q = qualified(&key.0, &key.1);
    Err(Warning::sequence(format!(
        "sequence {q} does not exist on the target; its value was not copied"
    ))
    .on(format!("sequence {q}")))
}

/// What deciding one table's copy needs: the source session (which reads the key range of a
/// table split by key), both majors, the target's catalog, the options and the type rules.
struct Planner<'a> {
    src: &'a Session,
    source_major: u32,
    target_major: u32,
    target_catalog: &'a TargetCatalog,
    /// The load runs with `session_replication_role = replica`: no foreign-key check fires.
    replica: bool,
    opts: &'a CopyOptions,
    rules: TypeRules<'a>,
}

/// One source table, planned or left out.
enum Planned {
    /// Not copied (not on the target, or a foreign table there): why.
    Skipped(Warning),
    Table {
        table: TablePlan,
        /// Copied as text although binary was asked for: which columns prevent it.
        format_warning: Option<Warning>,
        /// Enabled user triggers on the target fire during its load.
        triggers: bool,
        /// Its foreign keys on the target are checked during its load.
        foreign_keys: bool,
    },
}

impl Planner<'_> {
    /// Plans table `t` against its target table; `ancestors` gives up its partitioned
    /// ancestors.
    async fn table(
        &self,
        t: SourceTable,
        ancestors: &mut HashMap<RelKey, Vec<RelKey>>,
    ) -> Result<Planned> {
        let key = (t.schema.clone(), t.name.clone());
        let q = qualified(&t.schema, &t.name);
        let Some(target) = self.target_catalog.tables.get(&key) else {
            return Ok(Planned::Skipped(
                Warning::data(format!(
                    "table {q} does not exist on the target; its rows were not copied"
                ))
                .on(format!("table {q}")),
            ));
        };
        if target.relkind == 'f' {
            return Ok(Planned::Skipped(
                Warning::data(format!(
                    "table {q} is a foreign table on the target; its rows were not copied"
                ))
                .on(format!("table {q}")),
            ));
        }
        let triggers = target.firing_triggers > 0;
        let foreign_keys = !self.replica && target.foreign_keys > 0;
        let (binary, format_warning) = self.format(&t, target, &q);
        let is_ext_config = t.ext_condition.is_some();
        let parts = self.parts(&t, &q).await?;
        let truncatable =
            !is_ext_config && target.relkind == 'r' && target.can_truncate && !target.referenced;
        let single = parts.len() == 1;
        let table = TablePlan {
            ancestors: ancestors.remove(&key).unwrap_or_default(),
            schema: t.schema,
            name: t.name,
            columns: t.columns,
            binary,
            est_bytes: t.est_bytes,
            use_select: t.rls || !single || is_ext_config,
            freeze: single && truncatable,
            truncate_first: !single && truncatable,
            parts,
            ext_condition: t.ext_condition,
            search_path: self.opts.search_paths.get(&key).cloned(),
        };
        Ok(Planned::Table {
            table,
            format_warning,
            triggers,
            foreign_keys,
        })
    }

    /// Binary when asked or when every column type is safe and both ends agree; with
    /// `--copy-format binary`, the warning naming the columns that keep a table in text.
    fn format(&self, t: &SourceTable, target: &TargetTable, q: &str) -> (bool, Option<Warning>) {
        let rules = &self.rules;
        let same_types = t
            .columns
            .iter()
            .zip(&t.types)
            .all(|(c, ty)| target.columns.get(c) == Some(ty));
        match self.opts.format {
            CopyFormat::Text => (false, None),
            CopyFormat::Auto => (
                self.target_major >= self.source_major
                    && same_types
                    && t.types.iter().all(|ty| rules.safe(*ty)),
                None,
            ),
            CopyFormat::Binary => {
                if t.types.iter().all(|ty| rules.possible(*ty)) {
                    return (true, None);
                }
                let bad: Vec<String> = t
                    .columns
                    .iter()
                    .zip(&t.types)
                    .filter(|(_, ty)| !rules.possible(**ty))
                    .map(|(c, ty)| {
                        let tn = (rules.types.get(ty))
                            .map(|i| i.name.as_str())
                            .unwrap_or("?");
                        format!("{} ({tn})", quote_ident(c))
                    })
                    .collect();
                let w = Warning::data(format!(
                    "table {q}: column(s) {} cannot be copied in binary format (their binary form embeds server-specific OIDs or does not exist); copied as text",
                    bad.join(", ")
                )).on(format!("table {q}"));
                (false, Some(w))
            }
        }
    }

    /// The parts of table `t` (`q`): one unless it is larger than the split size and not an
    /// extension's configuration table; TID ranges on 14+ sources, else ranges of its integer
    /// primary key (read here), else one.
    async fn parts(&self, t: &SourceTable, q: &str) -> Result<Vec<Option<String>>> {
        let n_parts = if t.ext_condition.is_some() {
            1
        } else {
            part_count(t.est_bytes, self.opts.split_larger_than)
        };
        if n_parts <= 1 {
            return Ok(vec![None]);
        }
        if self.source_major >= 14 {
            return Ok(ctid_ranges(t.blocks, n_parts));
        }
        let Some(pk) = &t.int_pk else {
            return Ok(vec![None]);
        };
        let sql = format!(
            "SELECT min({c})::int8, max({c})::int8 FROM ONLY {q}",
            c = quote_ident(pk)
        );
        let row = self
            .src
            .query_one(&sql, &[])
            .await
            .map_err(Error::from_pg)?;
        Ok(
            match (row.get::<_, Option<i64>>(0), row.get::<_, Option<i64>>(1)) {
                (Some(lo), Some(hi)) => key_ranges(pk, lo, hi, n_parts),
                _ => vec![None],
            },
        )
    }
}

/// The load's warnings: tables whose triggers fired and whose foreign keys were checked.
fn load_warnings(trigger_tables: &[String], fk_tables: &[String]) -> Vec<Warning> {
    let mut warnings = Vec::new();
    if !trigger_tables.is_empty() {
        warnings.push(Warning::data(format!(
            "user triggers are enabled on the target for {} and fired during the data load: {}",
            plural(trigger_tables.len(), "table"),
            trigger_tables.join(", ")
        )));
    }
    if !fk_tables.is_empty() {
        warnings.push(Warning::data(format!(
            "foreign keys already exist on the target for {} and were checked during the data load (session_replication_role = replica was not permitted): {}",
            plural(fk_tables.len(), "table"),
            fk_tables.join(", ")
        )));
    }
    warnings
}

fn plural(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(parts: Vec<Option<String>>) -> TablePlan {
        TablePlan {
            search_path: None,
            schema: "s p".into(),
            name: "t\"x".into(),
            columns: vec!["a".into(), "B b".into()],
            binary: true,
            est_bytes: 0,
            use_select: parts.len() > 1,
            parts,
            ext_condition: None,
            freeze: false,
            truncate_first: false,
            ancestors: vec![],
        }
    }

    #[test]
    fn ctid_ranges_cover_everything_with_open_ends() {
        assert_eq!(ctid_ranges(100, 1), vec![None]);
        assert_eq!(ctid_ranges(1, 4), vec![None]);
        let r = ctid_ranges(100, 4);
        assert_eq!(
            r,
            vec![
                Some("ctid < '(25,0)'::pg_catalog.tid".into()),
                Some("ctid >= '(25,0)'::pg_catalog.tid AND ctid < '(50,0)'::pg_catalog.tid".into()),
                Some("ctid >= '(50,0)'::pg_catalog.tid AND ctid < '(75,0)'::pg_catalog.tid".into()),
                Some("ctid >= '(75,0)'::pg_catalog.tid".into()),
            ]
        );
    }

    #[test]
    fn key_ranges_split_evenly_and_handle_extremes() {
        let r = key_ranges("id", 1, 100, 2);
        assert_eq!(
            r,
            vec![Some("\"id\" < 51".into()), Some("\"id\" >= 51".into())]
        );
        let r = key_ranges("id", i64::MIN, i64::MAX, 3);
        assert_eq!(r.len(), 3);
        assert_eq!(key_ranges("id", 5, 5, 3), vec![None]);
    }

    #[test]
    fn part_counts() {
        assert_eq!(part_count(10, 0), 1);
        assert_eq!(part_count(10, 10), 1);
        assert_eq!(part_count(11, 10), 2);
        assert_eq!(part_count(35, 10), 4);
        assert_eq!(part_count(u64::MAX, 1), MAX_PARTS);
    }

    #[test]
    fn copy_statements_quote_and_filter() {
        let t = table(vec![None]);
        assert_eq!(
            t.copy_out_sql(0),
            r#"COPY "s p"."t""x" ("a", "B b") TO STDOUT (FORMAT binary)"#
        );
        let mut t = table(ctid_ranges(10, 2));
        t.binary = false;
        t.ext_condition = Some("WHERE NOT sys".into());
        assert_eq!(
            t.copy_out_sql(1),
            r#"COPY (SELECT "a", "B b" FROM ONLY "s p"."t""x" WHERE (NOT sys) AND ctid >= '(5,0)'::pg_catalog.tid) TO STDOUT"#
        );
        t.freeze = true;
        assert_eq!(
            t.copy_in_sql(),
            r#"COPY "s p"."t""x" ("a", "B b") FROM STDIN (FORMAT text, FREEZE)"#
        );
        assert_eq!(t.describe_part(1), r#"table "s p"."t""x" part 2/2"#);
        let mut t = table(vec![None]);
        t.columns.clear();
        assert_eq!(
            t.copy_out_sql(0),
            r#"COPY "s p"."t""x" TO STDOUT (FORMAT binary)"#
        );
    }

    #[test]
    fn where_keyword_is_stripped_from_extension_conditions() {
        assert_eq!(strip_where("WHERE NOT x"), "NOT x");
        assert_eq!(strip_where("  where(x)"), "(x)");
        assert_eq!(strip_where("whereabouts"), "whereabouts");
        assert_eq!(strip_where(""), "");
    }

    fn ty(oid: u32, name: &str, typtype: char, elem: u32, base: u32, inner: u32) -> TypeInfo {
        TypeInfo {
            oid,
            name: name.into(),
            typtype,
            category: 'N',
            in_pg_catalog: oid < FIRST_NORMAL_OBJECT_ID,
            has_binary_io: true,
            array_elem: elem,
            base,
            inner,
        }
    }

    #[test]
    fn binary_rules() {
        let mut m = HashMap::new();
        for t in [
            ty(23, "int4", 'b', 0, 0, 0),
            ty(1007, "_int4", 'b', 23, 0, 0),
            ty(3904, "int4range", 'r', 0, 0, 23),
            ty(2205, "regclass", 'b', 0, 0, 0),
            ty(2210, "_regclass", 'b', 2205, 0, 0),
            ty(20000, "mood", 'e', 0, 0, 0),
            ty(20001, "_mood", 'b', 20000, 0, 0),
            ty(20002, "posint", 'd', 0, 23, 0),
            ty(20003, "pair", 'c', 0, 0, 0),
            ty(20004, "hstore", 'b', 0, 0, 0),
        ] {
            m.insert(t.oid, t);
        }
        let r = TypeRules { types: &m };
        assert!(r.safe(23) && r.safe(1007) && r.safe(3904));
        assert!(!r.safe(2205) && !r.safe(2210));
        assert!(!r.safe(20000) && !r.safe(20001) && !r.safe(20002) && !r.safe(20003));
        assert!(!r.safe(20004) && !r.safe(99999));
        assert!(r.possible(23) && r.possible(1007) && r.possible(20000));
        assert!(r.possible(20002) && r.possible(20004));
        assert!(!r.possible(20001), "array of a user type embeds its OID");
        assert!(!r.possible(20003), "composites embed column type OIDs");
        assert!(!r.possible(2205));
    }
}
