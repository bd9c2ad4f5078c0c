//! What moves: the one selection of schemas, tables and table data that every stage applies the
//! same way (schema, data, sequence values, publication, replication preflight, size check,
//! `--print-ddl`, report).
//!
//! The flags (`--with-table`, `--skip-table`, `--schema`, `--exclude-schema`,
//! `--exclude-table-data`) are parsed once into a [`Selection`] (patterns with pg_dump's rules,
//! see [`pattern`]). For each database it is resolved against that database's schemas and
//! relations ([`crate::catalog::tables::list_relations`]) into a [`DbSelection`]: the concrete
//! set of tables whose structure is created and whose rows are copied. The rules:
//!
//! - a schema is in when no `--schema` is given or one matches it, and no `--exclude-schema`
//!   matches it; the objects of schemas that are out are not created;
//! - a relation of any kind (table, partitioned table, foreign table, view, materialized view,
//!   sequence; pg_dump's `-t` / `-T`) is in when its schema is in, no `--with-table` is given
//!   or one matches it or a partitioned table it is a partition of, and no `--skip-table`
//!   matches it or one of those partitioned tables (a partition follows its parent); a view,
//!   materialized view, foreign table or sequence that `--with-table` does not name is left
//!   out with a warning naming it;
//! - its rows move unless `--exclude-table-data` matches it (or a parent); a materialized view
//!   it matches is created without being refreshed;
//! - a sequence owned by a table (serial, identity, `OWNED BY`) goes with that table, and its
//!   value moves with the table's rows; a sequence that the default of a selected table uses
//!   comes along whatever the filters say of its owner (as pg_dump keeps a sequence `-T`
//!   does not name), so no selected table is lost for it;
//! - patterns with a database part (`db.schema.table`, `db.schema`) apply to that database
//!   only. Inclusion lists are global: `--with-table shop.public.orders` leaves every other
//!   database without tables (combine with `--only-db` to migrate one database).
//!
//! Objects that depend on something left out (a view on an excluded table, a foreign key
//! pointing at it, a trigger on it, a function using a type of an excluded schema, anything
//! depending on an extension excluded with `-xe`) are skipped with a warning naming both; a
//! table's own indexes, constraints, owned sequences and partition wiring go with it silently
//! ([`filter_schema`]).
//!
//! A pattern that matches nothing in any database to migrate is a preflight error naming it
//! ([`Selection::unmatched`]): a typo must not silently migrate everything or nothing.

pub mod pattern;
pub mod preflight;
pub mod provider;
mod schema;

use std::collections::{BTreeMap, BTreeSet, HashSet};

pub use pattern::NamePattern;
pub use schema::filter_schema;

use crate::catalog::tables::ListedRelation;
use crate::error::{Error, Result};
use crate::remedy::Setting;

/// The parsed selection flags. `Default` selects everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// `--with-table`: only these tables (and their partitions).
    pub with_tables: Vec<NamePattern>,
    /// `--skip-table`: all tables but these (and their partitions).
    pub skip_tables: Vec<NamePattern>,
    /// `--schema`: only the objects of these schemas.
    pub schemas: Vec<NamePattern>,
    /// `--exclude-schema`: not the objects of these schemas.
    pub exclude_schemas: Vec<NamePattern>,
    /// `--exclude-table-data`: the table is created, its rows are not copied.
    pub exclude_table_data: Vec<NamePattern>,
}

/// `(schema, name)` of a relation.
pub type RelName = (String, String);

impl Selection {
    /// Parses the flags' values (each value may be a comma-separated list). `--with-table` and
    /// `--skip-table` exclude each other.
    pub fn parse(
        with_tables: &[String],
        skip_tables: &[String],
        schemas: &[String],
        exclude_schemas: &[String],
        exclude_table_data: &[String],
    ) -> Result<Self> {
        if !with_tables.is_empty() && !skip_tables.is_empty() {
            return Err(Error::config(format!(
                "{with} and {skip} cannot be used together: name the tables to \
                 migrate with {with}, or the tables to leave out with {skip}",
                with = Setting::WithTable,
                skip = Setting::SkipTable,
            )));
        }
        let list = |flag: Setting, values: &[String], parts: usize| -> Result<Vec<_>> {
            let mut out = Vec::new();
            for v in values {
                out.extend(pattern::parse_list(flag, v, parts)?);
            }
            Ok(out)
        };
        Ok(Selection {
            with_tables: list(Setting::WithTable, with_tables, 3)?,
            skip_tables: list(Setting::SkipTable, skip_tables, 3)?,
            schemas: list(Setting::Schema, schemas, 2)?,
            exclude_schemas: list(Setting::ExcludeSchema, exclude_schemas, 2)?,
            exclude_table_data: list(Setting::ExcludeTableData, exclude_table_data, 3)?,
        })
    }

    /// No filter at all: everything moves.
    pub fn is_everything(&self) -> bool {
        self.with_tables.is_empty()
            && self.skip_tables.is_empty()
            && self.schemas.is_empty()
            && self.exclude_schemas.is_empty()
            && self.exclude_table_data.is_empty()
    }

    /// Whether only some of the tables are named in (`--with-table` or `--schema`): then,
    /// like pg_dump, large objects (which belong to no table) are not copied.
    pub fn names_what_moves(&self) -> bool {
        !self.with_tables.is_empty() || !self.schemas.is_empty()
    }

    fn all_patterns(&self) -> impl Iterator<Item = &NamePattern> {
        self.with_tables
            .iter()
            .chain(&self.skip_tables)
            .chain(&self.schemas)
            .chain(&self.exclude_schemas)
            .chain(&self.exclude_table_data)
    }

    /// Resolves the selection for database `db` with its user schemas and relations: the
    /// schemas first, then the tables and views, then the sequences (which follow the tables
    /// they belong to or serve).
    pub fn resolve(
        &self,
        db: &str,
        schemas: &[String],
        relations: &[ListedRelation],
    ) -> DbSelection {
        let mut m = Matches {
            db,
            matched: vec![false; self.all_patterns().count()],
            offsets: [
                0,
                self.with_tables.len(),
                self.with_tables.len() + self.skip_tables.len(),
                self.with_tables.len() + self.skip_tables.len() + self.schemas.len(),
                self.with_tables.len()
                    + self.skip_tables.len()
                    + self.schemas.len()
                    + self.exclude_schemas.len(),
            ],
        };
        let schema_in = self.resolve_schemas(&mut m, schemas);
        let schema_ok = |s: &str| schema_in.get(s).copied().unwrap_or(true);
        let mut picked = self.resolve_relations(&mut m, &schema_ok, relations);
        let (sequences, pulled_in) =
            self.resolve_sequences(&mut m, &schema_ok, relations, &mut picked);
        let Picked {
            tables,
            views,
            no_data,
            left_out,
            not_named,
        } = picked;
        let data_tables: Vec<RelName> = relations
            .iter()
            .filter(|r| r.relkind == 'r')
            .map(|r| (r.schema.clone(), r.name.clone()))
            .filter(|k| tables.contains(k) && !no_data.contains(k))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        DbSelection {
            database: db.to_string(),
            everything: self.is_everything(),
            large_objects: !self.names_what_moves(),
            schemas_out: schema_in
                .into_iter()
                .filter(|(_, inc)| !inc)
                .map(|(s, _)| s)
                .collect(),
            tables,
            views,
            sequences,
            no_data,
            left_out,
            not_named,
            pulled_in,
            data_tables,
            matched: m.matched,
        }
    }

    /// Whether each of `schemas` is in (by `--schema`, when given) and not out (by
    /// `--exclude-schema`).
    fn resolve_schemas(&self, m: &mut Matches<'_>, schemas: &[String]) -> BTreeMap<String, bool> {
        let mut schema_in: BTreeMap<String, bool> = BTreeMap::new();
        for s in schemas {
            let mut included = self.schemas.is_empty();
            for (i, p) in self.schemas.iter().enumerate() {
                if p.matches_schema(m.db, s) {
                    m.matched[m.offsets[2] + i] = true;
                    included = true;
                }
            }
            for (i, p) in self.exclude_schemas.iter().enumerate() {
                if p.matches_schema(m.db, s) {
                    m.matched[m.offsets[3] + i] = true;
                    included = false;
                }
            }
            schema_in.insert(s.clone(), included);
        }
        schema_in
    }

    /// The tables and views (every relation but sequences) in and out of the selection.
    fn resolve_relations(
        &self,
        m: &mut Matches<'_>,
        schema_ok: &dyn Fn(&str) -> bool,
        relations: &[ListedRelation],
    ) -> Picked {
        let mut picked = Picked::default();
        for r in relations.iter().filter(|r| r.relkind != 'S') {
            let named_in = self.with_tables.is_empty() | m.any(&self.with_tables, 0, r);
            let named_out = m.any(&self.skip_tables, 1, r);
            let data_out = m.any(&self.exclude_table_data, 4, r);
            let key = (r.schema.clone(), r.name.clone());
            if schema_ok(&r.schema) && named_in && !named_out {
                if data_out && r.relkind != 'v' {
                    picked.no_data.insert(key.clone());
                }
                if matches!(r.relkind, 'v' | 'm') {
                    picked.views.insert(key);
                } else {
                    picked.tables.insert(key);
                }
            } else {
                if schema_ok(&r.schema) && !named_out && matches!(r.relkind, 'v' | 'm' | 'f') {
                    picked.not_named.insert(key.clone());
                }
                picked.left_out.insert(key);
            }
        }
        picked
    }

    /// The sequences in the selection, and those in only because a selected table's default
    /// uses them (with that table); the others are added to `picked`'s left out, not named
    /// and data-less ones.
    fn resolve_sequences(
        &self,
        m: &mut Matches<'_>,
        schema_ok: &dyn Fn(&str) -> bool,
        relations: &[ListedRelation],
        picked: &mut Picked,
    ) -> (BTreeSet<RelName>, BTreeMap<RelName, RelName>) {
        let mut sequences = BTreeSet::new();
        let mut pulled_in = BTreeMap::new();
        for r in relations.iter().filter(|r| r.relkind == 'S') {
            let key = (r.schema.clone(), r.name.clone());
            let named_in = self.with_tables.is_empty() | m.any(&self.with_tables, 0, r);
            let named_out = m.any(&self.skip_tables, 1, r);
            let data_out = m.any(&self.exclude_table_data, 4, r);
            let user = r.used_by.iter().find(|t| picked.tables.contains(*t));
            // pg_dump's rules: a sequence is a relation the patterns name like any other, and
            // one owned by a table goes with that table; besides (where pg_dump would leave a
            // table whose default cannot be created), a sequence that the default of a
            // selected table uses comes along, whoever owns it.
            let by_rule = match &r.owned_by {
                Some(t) => picked.tables.contains(t) || (!self.with_tables.is_empty() && named_in),
                None => named_in,
            };
            let keep = schema_ok(&r.schema) && !named_out && (by_rule || user.is_some());
            if keep {
                if !by_rule && let Some(t) = user {
                    pulled_in.insert(key.clone(), t.clone());
                }
                if data_out
                    || r.owned_by
                        .as_ref()
                        .is_some_and(|t| picked.no_data.contains(t))
                {
                    picked.no_data.insert(key.clone());
                }
                sequences.insert(key);
            } else {
                if schema_ok(&r.schema) && !named_out && r.owned_by.is_none() {
                    picked.not_named.insert(key.clone());
                }
                picked.left_out.insert(key);
            }
        }
        (sequences, pulled_in)
    }

    /// The patterns that matched nothing in any of `resolved` (one per database to migrate),
    /// in flag order.
    pub fn unmatched<'a>(&'a self, resolved: &[&DbSelection]) -> Vec<&'a NamePattern> {
        self.all_patterns()
            .enumerate()
            .filter(|(i, _)| !resolved.iter().any(|d| d.matched.get(*i) == Some(&true)))
            .map(|(_, p)| p)
            .collect()
    }

    /// The error for patterns that matched nothing, or `None` when every pattern matched.
    pub fn unmatched_error(&self, resolved: &[&DbSelection]) -> Option<String> {
        let missing = self.unmatched(resolved);
        if missing.is_empty() {
            return None;
        }
        let dbs: Vec<String> = resolved
            .iter()
            .map(|d| format!("\"{}\"", d.database))
            .collect();
        let what = missing
            .iter()
            .map(|p| {
                let kind = if matches!(p.setting, Setting::Schema | Setting::ExcludeSchema) {
                    "schema"
                } else {
                    "table"
                };
                format!("{p} matches no {kind}")
            })
            .collect::<Vec<_>>()
            .join("; ");
        Some(format!(
            "{what} in the databases to migrate ({}). Check the spelling; unquoted names are \
             folded to lower case, so quote names with capitals (\"MyTable\"), dots or commas",
            if dbs.is_empty() {
                "none".to_string()
            } else {
                dbs.join(", ")
            }
        ))
    }
}

/// Which patterns matched a name of database `db` itself, for the check of patterns that
/// matched nothing: one flag per pattern, the flags' lists one after the other from their
/// `offsets` (`--with-table`, `--skip-table`, `--schema`, `--exclude-schema`,
/// `--exclude-table-data`).
struct Matches<'a> {
    db: &'a str,
    matched: Vec<bool>,
    offsets: [usize; 5],
}

impl Matches<'_> {
    /// Whether a pattern of `list` (the `which`th list) names relation `r` or one of the
    /// tables it is a partition of. A pattern "matches" for the unmatched check when it names
    /// the table itself; it applies to the partitions of what it names as well.
    fn any(&mut self, list: &[NamePattern], which: usize, r: &ListedRelation) -> bool {
        let offset = self.offsets[which];
        let mut hit = false;
        for (i, p) in list.iter().enumerate() {
            if p.matches_table(self.db, &r.schema, &r.name) {
                self.matched[offset + i] = true;
                hit = true;
            } else if r
                .ancestors
                .iter()
                .any(|(s, n)| p.matches_table(self.db, s, n))
            {
                hit = true;
            }
        }
        hit
    }
}

/// The relations resolved so far, as [`DbSelection`] names them.
#[derive(Default)]
struct Picked {
    tables: BTreeSet<RelName>,
    views: BTreeSet<RelName>,
    no_data: BTreeSet<RelName>,
    left_out: BTreeSet<RelName>,
    not_named: BTreeSet<RelName>,
}

/// The selection resolved for one database: exactly which relations exist on the target and
/// which of them receive rows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DbSelection {
    pub database: String,
    /// No filter was given: everything is in, whatever the lists below say (they are still
    /// filled, for the size sum and the report).
    pub everything: bool,
    /// Whether large objects are copied (not when `--with-table` or `--schema` names what moves).
    pub large_objects: bool,
    /// User schemas that are out.
    pub schemas_out: BTreeSet<String>,
    /// Tables (ordinary, partitioned, foreign) that are created.
    pub tables: BTreeSet<RelName>,
    /// Views and materialized views that are created.
    pub views: BTreeSet<RelName>,
    /// Sequences that are created.
    pub sequences: BTreeSet<RelName>,
    /// Tables, materialized views and sequences created without their rows, refresh or value
    /// (`--exclude-table-data`).
    pub no_data: BTreeSet<RelName>,
    /// Relations not created at all.
    pub left_out: BTreeSet<RelName>,
    /// Views, materialized views, foreign tables and sequences of their own that are left out
    /// only because `--with-table` names only other relations: each is named in a warning
    /// (pg_dump's `-t` leaves them out too, silently).
    pub not_named: BTreeSet<RelName>,
    /// Sequences that no pattern selects but that the default of a selected table uses (a
    /// table created `LIKE t INCLUDING ALL` with `t` left out), with that table: they come
    /// along with their value, without their `OWNED BY`.
    pub pulled_in: BTreeMap<RelName, RelName>,
    /// Ordinary tables (leaf partitions included) whose rows move, in name order: what a
    /// publication lists.
    data_tables: Vec<RelName>,
    matched: Vec<bool>,
}

impl DbSelection {
    /// Everything, for a database whose relations were not listed (no filters given).
    pub fn everything(db: &str) -> Self {
        DbSelection {
            database: db.to_string(),
            everything: true,
            large_objects: true,
            ..Default::default()
        }
    }

    /// Whether objects of `schema` are created.
    pub fn includes_schema(&self, schema: &str) -> bool {
        self.everything || !self.schemas_out.contains(schema)
    }

    /// Whether relation `schema.table` (table, view, materialized view, sequence) is created
    /// on the target.
    pub fn includes_table(&self, schema: &str, table: &str) -> bool {
        if self.everything {
            return true;
        }
        let key = (schema.to_string(), table.to_string());
        if self.left_out.contains(&key) {
            return false;
        }
        // A relation created after the listing: decided by its schema.
        self.tables.contains(&key)
            || self.views.contains(&key)
            || self.sequences.contains(&key)
            || self.includes_schema(schema)
    }

    /// Whether the rows of `schema.table` (or the value of a sequence) are copied.
    pub fn includes_data(&self, schema: &str, table: &str) -> bool {
        self.everything
            || (self.includes_table(schema, table)
                && !self
                    .no_data
                    .contains(&(schema.to_string(), table.to_string())))
    }

    /// The tables whose rows move (ordinary tables and leaf partitions), in name order; `None`
    /// when no filter was given (all tables: `FOR ALL TABLES` where allowed).
    pub fn data_tables(&self) -> Option<&[RelName]> {
        if self.everything {
            None
        } else {
            Some(&self.data_tables)
        }
    }

    /// Whether a filter leaves something out in this database.
    pub fn is_filtered(&self) -> bool {
        !self.everything
            && (!self.left_out.is_empty()
                || !self.no_data.is_empty()
                || !self.schemas_out.is_empty())
    }

    /// Sum of `pg_total_relation_size` of the tables whose rows move, like the tool we replace
    /// sums the filtered tables for `--dbs-max-total-size`.
    pub fn data_bytes(&self, relations: &[ListedRelation]) -> u64 {
        let data: HashSet<&RelName> = self.data_tables.iter().collect();
        relations
            .iter()
            .filter(|r| data.contains(&(r.schema.clone(), r.name.clone())))
            .map(|r| r.total_bytes)
            .sum()
    }

    /// One line for the report: what the filters left out of this database.
    pub fn summary(&self) -> Option<String> {
        if !self.is_filtered() {
            return None;
        }
        let mut parts = vec![format!(
            "{} tables selected ({} with rows)",
            self.tables.len(),
            self.data_tables.len()
        )];
        let tables_out = self.left_out.len();
        if tables_out > 0 {
            parts.push(format!("{tables_out} relations left out"));
        }
        if !self.schemas_out.is_empty() {
            parts.push(format!(
                "schemas left out: {}",
                self.schemas_out
                    .iter()
                    .map(|s| crate::sql::quote_ident(s))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        Some(format!("selection: {}", parts.join(", ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rel(schema: &str, name: &str, relkind: char) -> ListedRelation {
        ListedRelation {
            oid: 0,
            schema: schema.into(),
            name: name.into(),
            relkind,
            ancestors: Vec::new(),
            owned_by: None,
            used_by: Vec::new(),
            extension_member: false,
            regclass: String::new(),
            total_bytes: 8192,
        }
    }

    fn sample() -> (Vec<String>, Vec<ListedRelation>) {
        let mut part = rel("app", "events_2024", 'r');
        part.ancestors = vec![("app".into(), "events".into())];
        let mut seq = rel("app", "orders_id_seq", 'S');
        seq.owned_by = Some(("app".into(), "orders".into()));
        (
            vec!["app".into(), "public".into(), "audit".into()],
            vec![
                rel("app", "orders", 'r'),
                rel("app", "Items", 'r'),
                rel("app", "events", 'p'),
                part,
                seq,
                rel("public", "t", 'r'),
                rel("audit", "log", 'r'),
            ],
        )
    }

    fn sel(
        with: &[&str],
        skip: &[&str],
        schemas: &[&str],
        xschemas: &[&str],
        nodata: &[&str],
    ) -> Selection {
        let v = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        Selection::parse(&v(with), &v(skip), &v(schemas), &v(xschemas), &v(nodata)).unwrap()
    }

    #[test]
    fn with_table_selects_tables_their_partitions_and_owned_sequences() {
        let (s, r) = sample();
        let d = sel(&["app.orders,events"], &[], &[], &[], &[]).resolve("shop", &s, &r);
        assert!(d.includes_table("app", "orders"));
        assert!(d.includes_table("app", "orders_id_seq"));
        assert!(d.includes_table("app", "events_2024"));
        assert!(!d.includes_table("app", "Items"));
        assert!(!d.includes_table("public", "t"));
        assert_eq!(
            d.data_tables().unwrap(),
            &[
                ("app".to_string(), "events_2024".to_string()),
                ("app".to_string(), "orders".to_string())
            ]
        );
        assert!(!d.large_objects);
    }

    #[test]
    fn skip_table_and_exclude_schema_leave_things_out() {
        let (s, r) = sample();
        let d =
            sel(&[], &["orders", "app.\"Items\""], &[], &["audit"], &[]).resolve("shop", &s, &r);
        assert!(!d.includes_table("app", "orders"));
        assert!(!d.includes_table("app", "orders_id_seq"));
        assert!(!d.includes_table("app", "Items"));
        assert!(d.includes_table("public", "t"));
        assert!(!d.includes_schema("audit"));
        assert!(!d.includes_table("audit", "log"));
        assert!(d.large_objects);
    }

    #[test]
    fn excluded_table_data_creates_the_table_without_rows_or_sequence_value() {
        let (s, r) = sample();
        let d = sel(&[], &[], &[], &[], &["app.orders"]).resolve("shop", &s, &r);
        assert!(d.includes_table("app", "orders"));
        assert!(!d.includes_data("app", "orders"));
        assert!(!d.includes_data("app", "orders_id_seq"));
        assert!(d.includes_data("public", "t"));
        assert!(
            !d.data_tables()
                .unwrap()
                .contains(&("app".into(), "orders".into()))
        );
    }

    #[test]
    fn schema_filter_and_database_parts() {
        let (s, r) = sample();
        let x = sel(&[], &[], &["shop.app"], &[], &[]);
        let shop = x.resolve("shop", &s, &r);
        assert!(shop.includes_table("app", "orders"));
        assert!(!shop.includes_table("public", "t"));
        let other = x.resolve("other", &s, &r);
        assert!(!other.includes_table("app", "orders"));
        assert!(x.unmatched(&[&shop, &other]).is_empty());
        assert!(x.unmatched(&[&other]).len() == 1);
    }

    #[test]
    fn patterns_that_match_nothing_are_named() {
        let (s, r) = sample();
        let x = sel(&["ordres", "app.orders"], &[], &[], &["nosuch"], &[]);
        let d = x.resolve("shop", &s, &r);
        let e = x.unmatched_error(&[&d]).unwrap();
        assert!(
            e.contains("`with_table` \"ordres\" matches no table"),
            "{e}"
        );
        assert!(
            e.contains("`exclude_schema` \"nosuch\" matches no schema"),
            "{e}"
        );
        assert!(!e.contains("app.orders"), "{e}");
        // A partition named through its parent does not count as a match of its own, the
        // parent does.
        let y = sel(&["events"], &[], &[], &[], &[]);
        assert!(y.unmatched_error(&[&y.resolve("shop", &s, &r)]).is_none());
    }

    #[test]
    fn no_filter_is_everything() {
        let (s, r) = sample();
        let d = Selection::default().resolve("shop", &s, &r);
        assert!(d.everything && !d.is_filtered());
        assert!(d.data_tables().is_none());
        assert!(d.includes_data("anything", "at all"));
        assert_eq!(d.data_bytes(&r), 5 * 8192);
    }

    /// pg_dump's `-t` / `-T` / `--exclude-table-data` for every relation kind.
    fn relation_kinds() -> (Vec<String>, Vec<ListedRelation>) {
        let mut foo_seq = rel("app", "foo_id_seq", 'S');
        foo_seq.owned_by = Some(("app".into(), "foo".into()));
        foo_seq.used_by = vec![("app".into(), "foo".into()), ("copy".into(), "foo".into())];
        (
            vec!["app".into(), "copy".into(), "b".into()],
            vec![
                rel("app", "foo", 'r'),
                foo_seq,
                rel("app", "t2", 'r'),
                rel("app", "tally", 'S'),
                rel("app", "mv", 'm'),
                rel("app", "remote", 'f'),
                rel("b", "v", 'v'),
                rel("copy", "foo", 'r'),
            ],
        )
    }

    #[test]
    fn with_table_names_views_materialized_views_sequences_and_foreign_tables_too() {
        let (s, r) = relation_kinds();
        let d = sel(&["app.t*"], &[], &[], &[], &[]).resolve("db", &s, &r);
        assert!(d.includes_table("app", "t2"));
        assert!(
            d.includes_table("app", "tally"),
            "a sequence the pattern names"
        );
        for (schema, name) in [("b", "v"), ("app", "mv"), ("app", "remote"), ("app", "foo")] {
            assert!(!d.includes_table(schema, name), "{schema}.{name}");
        }
        let named: Vec<_> = d
            .not_named
            .iter()
            .map(|(s, n)| format!("{s}.{n}"))
            .collect();
        assert_eq!(named, ["app.mv", "app.remote", "b.v"]);
        // A view the pattern names is in.
        let only_v = sel(&["b.v"], &[], &[], &[], &[]);
        let v = only_v.resolve("db", &s, &r);
        assert!(v.includes_table("b", "v") && !v.includes_table("app", "t2"));
        assert!(only_v.unmatched(&[&v]).is_empty());
    }

    #[test]
    fn materialized_views_are_accepted_by_skip_table_and_exclude_table_data() {
        let (s, r) = relation_kinds();
        let skip = sel(&[], &["app.mv", "b.v"], &[], &[], &[]);
        let d = skip.resolve("db", &s, &r);
        assert!(!d.includes_table("app", "mv") && !d.includes_table("b", "v"));
        assert!(skip.unmatched(&[&d]).is_empty());
        let nodata = sel(&[], &[], &[], &[], &["app.mv"]);
        let d = nodata.resolve("db", &s, &r);
        assert!(d.includes_table("app", "mv") && !d.includes_data("app", "mv"));
        assert!(nodata.unmatched(&[&d]).is_empty());
    }

    #[test]
    fn a_sequence_used_by_a_selected_tables_default_comes_along_without_its_owner() {
        let (s, r) = relation_kinds();
        let d = sel(&[], &["app.foo"], &[], &[], &[]).resolve("db", &s, &r);
        assert!(!d.includes_table("app", "foo"));
        assert!(d.includes_table("copy", "foo"));
        assert!(d.includes_table("app", "foo_id_seq") && d.includes_data("app", "foo_id_seq"));
        assert_eq!(
            d.pulled_in
                .get(&("app".to_string(), "foo_id_seq".to_string())),
            Some(&("copy".to_string(), "foo".to_string()))
        );
        // Skipping the sequence itself is the user's word.
        let d = sel(&[], &["app.foo", "app.foo_id_seq"], &[], &[], &[]).resolve("db", &s, &r);
        assert!(!d.includes_table("app", "foo_id_seq"));
        // Its owner selected: an ordinary owned sequence, nothing pulled in.
        let d = sel(&["app.foo"], &[], &[], &[], &[]).resolve("db", &s, &r);
        assert!(d.includes_table("app", "foo_id_seq") && d.pulled_in.is_empty());
    }

    #[test]
    fn with_and_skip_exclude_each_other() {
        let e = Selection::parse(&["a".into()], &["b".into()], &[], &[], &[]).unwrap_err();
        assert!(e.to_string().contains("`with_table` and `skip_table`"));
    }
}
