//! The SQL that verification sends: session settings that fix every value's text form, the
//! canonical row text and its hash, and the segment filters that bisection narrows.
//!
//! Pure string building (no I/O), so the exact statements are unit-tested. Every name goes
//! through [`quote_ident`], every value through [`quote_literal`] or an integer literal.

use crate::sql::{qualified, quote_ident, quote_literal};

/// Settings that change how values are printed, fixed so that the same stored value gives the
/// same text (and hash) on every server and every supported major (12 to 18):
/// `extra_float_digits = 3` makes float4/float8 print the shortest text that reads back
/// exactly (the same algorithm since PostgreSQL 12); dates, times and intervals print in ISO
/// style in UTC; bytea in hex; money without a locale's symbols.
///
/// And one for the planner: it cannot know that a segment number has few values (it estimates
/// one group per key, millions), so it would sort every row of a segment, on disk, to group
/// them; with sorting discouraged (`enable_sort = off`) it hashes the few groups in memory,
/// five times faster on `pgbench_accounts`. No verification query needs a sort.
pub const SESSION_SETTINGS: &str = "SET extra_float_digits = 3; SET DateStyle = 'ISO, YMD'; \
     SET IntervalStyle = 'postgres'; SET TimeZone = 'UTC'; SET bytea_output = 'hex'; \
     SET lc_monetary = 'C'; SET statement_timeout = 0; SET lock_timeout = '60s'; \
     SET enable_sort = off";

/// How a row's text becomes a 64-bit number on the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashFn {
    /// `hashtextextended(text, 0)`: fast; hashes the text's bytes in the database encoding, so
    /// it is used when both databases have the same encoding.
    Text,
    /// The first 64 bits of `md5(convert_to(text, 'UTF8'))`: slower, but the same value for
    /// the same characters whatever each database's encoding.
    Md5Utf8,
}

impl HashFn {
    /// The expression hashing the text expression `text`, as `int8`.
    pub fn apply(self, text: &str) -> String {
        match self {
            HashFn::Text => format!("pg_catalog.hashtextextended({text}, 0)"),
            HashFn::Md5Utf8 => format!(
                "('x' || pg_catalog.left(pg_catalog.md5(pg_catalog.convert_to({text}, 'UTF8')), 16))::pg_catalog.bit(64)::pg_catalog.int8"
            ),
        }
    }
}

/// A column hashed from its stored value by PostgreSQL's own hash function for its type instead
/// of through its text: the type's output function is most of a verification's cost (printing
/// every value), and these functions are the ones hash partitioning relies on, so they give the
/// same number for the same value on every major and platform.
///
/// Only types whose hash tells apart exactly the values their text tells apart: integers, text
/// and varchar (hashed as bytes, under the "C" collation whatever the column's), `char(n)`
/// (blank-padded to its length, so trailing blanks carry no data), uuid, timestamps (their
/// microseconds; `timestamptz` is read at `TimeZone = UTC`, an exact conversion), float4 and
/// float8 (the hash equates -0 and 0, so zeros are hashed through their text). numeric is
/// left to its text (its hash ignores the scale: 1.0 and 1.00), as are arrays (their hash
/// ignores dimensions), jsonb (its hash barely sees nesting) and everything else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NativeHash {
    Int2,
    Int4,
    Int8,
    Oid,
    Text,
    Bpchar,
    Uuid,
    Timestamp,
    Timestamptz,
    Float4,
    Float8,
}

impl NativeHash {
    /// The hash for a column of `format_type` text `ty`, if it has one (a domain or a type of
    /// another schema prints another name and keeps its text).
    pub fn for_type(ty: &str) -> Option<NativeHash> {
        // format_type puts a typmod after the name, or inside it for timestamps.
        let base = |prefix: &str| {
            ty == prefix
                || ty
                    .strip_prefix(prefix)
                    .is_some_and(|r| r.starts_with('(') && r.ends_with(')'))
        };
        let timestamp = |zone: &str| {
            ty == format!("timestamp {zone}")
                || ty.strip_prefix("timestamp(").is_some_and(|r| {
                    r.split_once(')').is_some_and(|(p, z)| {
                        p.chars().all(|c| c.is_ascii_digit()) && z == format!(" {zone}")
                    })
                })
        };
        Some(match ty {
            "smallint" => NativeHash::Int2,
            "integer" => NativeHash::Int4,
            "bigint" => NativeHash::Int8,
            "oid" => NativeHash::Oid,
            "text" => NativeHash::Text,
            "uuid" => NativeHash::Uuid,
            "real" => NativeHash::Float4,
            "double precision" => NativeHash::Float8,
            _ if base("character varying") => NativeHash::Text,
            // Without a length (bpchar), trailing blanks are kept as given: text it is.
            _ if ty.starts_with("character(") && base("character") => NativeHash::Bpchar,
            _ if timestamp("without time zone") => NativeHash::Timestamp,
            _ if timestamp("with time zone") => NativeHash::Timestamptz,
            _ => return None,
        })
    }

    /// The `int8` hash of column expression `col` with `seed` (NULL for NULL).
    fn apply(self, col: &str, seed: usize) -> String {
        let call = |f: &str, arg: String| format!("pg_catalog.{f}({arg}, {seed})");
        match self {
            NativeHash::Int2 => call("hashint2extended", col.into()),
            NativeHash::Int4 => call("hashint4extended", col.into()),
            NativeHash::Int8 => call("hashint8extended", col.into()),
            NativeHash::Oid => call("hashoidextended", col.into()),
            NativeHash::Text => call(
                "hashtextextended",
                format!("{col} COLLATE pg_catalog.\"C\""),
            ),
            NativeHash::Bpchar => call(
                "hashbpcharextended",
                format!("{col} COLLATE pg_catalog.\"C\""),
            ),
            NativeHash::Uuid => call("uuid_hash_extended", col.into()),
            NativeHash::Timestamp => call("timestamp_hash_extended", col.into()),
            NativeHash::Timestamptz => call(
                "timestamp_hash_extended",
                format!("{col}::pg_catalog.timestamp"),
            ),
            NativeHash::Float4 | NativeHash::Float8 => {
                let f = if self == NativeHash::Float4 {
                    "hashfloat4extended"
                } else {
                    "hashfloat8extended"
                };
                format!(
                    "CASE WHEN {col} OPERATOR(pg_catalog.=) 0 THEN {} ELSE {} END",
                    call("hashtextextended", format!("{col}::pg_catalog.text")),
                    call(f, col.into())
                )
            }
        }
    }
}

/// What bisection narrows: the whole table, a closed range of an integer key, or the rows whose
/// key hash has `value` in the bits of `mask`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Segment {
    Whole,
    IntRange { lo: i128, hi: i128 },
    HashBits { mask: u64, value: u64, bits: u32 },
}

/// The key a table is bisected by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyPlan {
    /// One column of type smallint, integer or bigint: ranges of values (index range scans).
    Int(String),
    /// Any other key (text, uuid, several columns...): buckets of the hash of the key's text,
    /// which do not depend on either server's collation or sort order.
    Hashed(Vec<String>),
}

/// Everything needed to build the statements of one table.
#[derive(Debug, Clone)]
pub struct TableSql {
    pub schema: String,
    pub table: String,
    /// The columns compared, in the source's order.
    pub columns: Vec<String>,
    /// The key columns (empty: no usable key).
    pub key: Vec<String>,
    pub plan: Option<KeyPlan>,
    pub hash: HashFn,
    /// Per compared column (same order), the native hash both sides' types allow; empty or
    /// `None`: the column goes into the row's text. Used only with [`HashFn::Text`] (the same
    /// encoding on both sides: text columns are hashed as bytes).
    pub native: Vec<Option<NativeHash>>,
}

/// Each split divides a segment into this many parts.
pub const FAN_OUT: u32 = 16;

impl TableSql {
    /// The table's own rows only: an inheritance child is compared on its own (as it is
    /// copied, `COPY (SELECT ... FROM ONLY ...)`), so a parent that also counted its children's
    /// rows would read them twice, and would differ where the target could not make a child
    /// of it (a newer major refuses some links, with a warning of the schema stage).
    fn from(&self) -> String {
        format!("ONLY {} t", qualified(&self.schema, &self.table))
    }

    fn col(c: &str) -> String {
        format!("t.{}", quote_ident(c))
    }

    fn native_of(&self, i: usize) -> Option<NativeHash> {
        if self.hash != HashFn::Text {
            return None;
        }
        self.native.get(i).copied().flatten()
    }

    /// The canonical text of a row: the record of its compared columns in the source's column
    /// order, e.g. `(1,"a b",,t)`. NULL prints as nothing and the empty string as `""`, so the
    /// two differ; every value prints with its type's output function under
    /// [`SESSION_SETTINGS`], i.e. the value as stored (numeric 1.0 and 1.00 differ, as do
    /// float -0 and 0). Hashed whole only with [`HashFn::Md5Utf8`] (see [`Self::row_hash`]).
    pub fn row_text(&self) -> String {
        let cols: Vec<String> = self.columns.iter().map(|c| Self::col(c)).collect();
        format!("ROW({})::pg_catalog.text", cols.join(", "))
    }

    /// A row's 64-bit hash. With [`HashFn::Text`], the hashes of its columns combined by XOR,
    /// each seeded with the column's position so that values moved to another column change
    /// it (a NULL counts as the seed itself): a column with a [`NativeHash`] by its value,
    /// any other by its text (under the "C" collation, so bytes). Column by column rather than
    /// the whole [`Self::row_text`]: printing the record (quoting, escaping) costs as much as
    /// hashing its values. With [`HashFn::Md5Utf8`], the row text's.
    pub fn row_hash(&self) -> String {
        if self.hash != HashFn::Text || self.columns.is_empty() {
            return self.hash.apply(&self.row_text());
        }
        let mut terms: Vec<String> = (self.columns.iter().enumerate())
            .map(|(i, c)| {
                let (col, seed) = (Self::col(c), i + 1);
                let h = match self.native_of(i) {
                    Some(n) => n.apply(&col, seed),
                    None => format!(
                        "pg_catalog.hashtextextended({col}::pg_catalog.text COLLATE pg_catalog.\"C\", {seed})"
                    ),
                };
                format!("COALESCE({h}, {seed})")
            })
            .collect();
        if terms.len() == 1 {
            return terms.remove(0);
        }
        format!("({})", terms.join(" OPERATOR(pg_catalog.#) "))
    }

    /// The key's text (a record, like the row's).
    fn key_text(&self) -> String {
        let cols: Vec<String> = self.key.iter().map(|c| Self::col(c)).collect();
        format!("ROW({})::pg_catalog.text", cols.join(", "))
    }

    fn key_hash(&self) -> String {
        self.hash.apply(&self.key_text())
    }

    /// Count and sum of row hashes of the whole table (order-independent; duplicates add up).
    pub fn whole(&self) -> String {
        format!(
            "SELECT pg_catalog.count(*)::pg_catalog.text, COALESCE(pg_catalog.sum({}), 0)::pg_catalog.text FROM {}",
            self.row_hash(),
            self.from()
        )
    }

    /// `min` and `max` of an integer key (one index probe each).
    pub fn int_bounds(&self, col: &str) -> String {
        format!(
            "SELECT pg_catalog.min({c})::pg_catalog.text, pg_catalog.max({c})::pg_catalog.text FROM {}",
            self.from(),
            c = Self::col(col)
        )
    }

    /// The condition selecting `seg`'s rows.
    pub fn filter(&self, seg: &Segment) -> String {
        match (seg, &self.plan) {
            (Segment::Whole, _) | (_, None) => "true".into(),
            (Segment::IntRange { lo, hi }, Some(KeyPlan::Int(c))) => {
                format!("{} BETWEEN {lo} AND {hi}", Self::col(c))
            }
            (Segment::HashBits { mask, value, .. }, _) => format!(
                "({} & {}) = {}",
                self.key_hash(),
                *mask as i64,
                *value as i64
            ),
            (Segment::IntRange { .. }, Some(KeyPlan::Hashed(_))) => "false".into(),
        }
    }

    /// Per part of `seg` (numbered by `child`, from 0): count and sum of row hashes.
    pub fn split(&self, seg: &Segment, child: &ChildExpr) -> String {
        format!(
            "SELECT {b}::pg_catalog.text, pg_catalog.count(*)::pg_catalog.text, pg_catalog.sum({h})::pg_catalog.text FROM {from} WHERE {f} GROUP BY 1",
            b = child.sql,
            h = self.row_hash(),
            from = self.from(),
            f = self.filter(seg)
        )
    }

    /// How the rows of `seg` are divided into `parts` parts.
    pub fn child_expr(&self, seg: &Segment, parts: u32) -> Option<ChildExpr> {
        match (&self.plan, seg) {
            (Some(KeyPlan::Int(c)), Segment::IntRange { lo, hi }) => {
                let span = hi - lo + 1;
                let width = ((span + parts as i128 - 1) / parts as i128).max(1);
                let sql = if span <= i64::MAX as i128 {
                    format!(
                        "(({}::pg_catalog.int8 - {lo}::pg_catalog.int8) / {width}::pg_catalog.int8)",
                        Self::col(c)
                    )
                } else {
                    format!(
                        "pg_catalog.div({}::pg_catalog.numeric - {lo}, {width})",
                        Self::col(c)
                    )
                };
                Some(ChildExpr {
                    sql,
                    kind: ChildKind::Int { lo: *lo, width },
                })
            }
            (Some(KeyPlan::Hashed(_)), Segment::Whole) => self.child_expr(
                &Segment::HashBits {
                    mask: 0,
                    value: 0,
                    bits: 0,
                },
                parts,
            ),
            (Some(KeyPlan::Hashed(_)), Segment::HashBits { bits, .. }) if *bits < 64 => {
                let step = parts
                    .next_power_of_two()
                    .trailing_zeros()
                    .clamp(1, 64 - bits);
                let sql = format!("(({} >> {bits}) & {})", self.key_hash(), (1u64 << step) - 1);
                Some(ChildExpr {
                    sql,
                    kind: ChildKind::Hash { step },
                })
            }
            _ => None,
        }
    }

    /// The key columns' texts and the row hash of every row in `segs`.
    pub fn fetch(&self, segs: &[Segment]) -> String {
        let keys: Vec<String> = self
            .key
            .iter()
            .map(|c| format!("{}::pg_catalog.text", Self::col(c)))
            .collect();
        let filters: Vec<String> = segs
            .iter()
            .map(|s| format!("({})", self.filter(s)))
            .collect();
        format!(
            "SELECT ARRAY[{}]::pg_catalog.text[], {}::pg_catalog.text FROM {} WHERE {}",
            keys.join(", "),
            self.row_hash(),
            self.from(),
            filters.join(" OR ")
        )
    }

    /// Every compared column's text of the row with key `key` (texts as fetched, cast back to
    /// each key column's type `key_types`).
    pub fn row_columns(&self, key: &[String], key_types: &[String]) -> String {
        let cols: Vec<String> = self
            .columns
            .iter()
            .map(|c| format!("{}::pg_catalog.text", Self::col(c)))
            .collect();
        let conds: Vec<String> = self
            .key
            .iter()
            .zip(key)
            .zip(key_types)
            .map(|((c, v), ty)| format!("{} = CAST({} AS {ty})", Self::col(c), quote_literal(v)))
            .collect();
        format!(
            "SELECT ARRAY[{}]::pg_catalog.text[] FROM {} WHERE {}",
            cols.join(", "),
            self.from(),
            conds.join(" AND ")
        )
    }
}

/// A split's part-number expression and how part numbers map back to segments.
#[derive(Debug, Clone)]
pub struct ChildExpr {
    pub sql: String,
    pub kind: ChildKind,
}

#[derive(Debug, Clone, Copy)]
pub enum ChildKind {
    Int { lo: i128, width: i128 },
    Hash { step: u32 },
}

impl ChildExpr {
    /// The segment of part `n` of `parent`.
    pub fn segment(&self, parent: &Segment, n: i128) -> Segment {
        match (self.kind, parent) {
            (ChildKind::Int { lo, width }, Segment::IntRange { hi, .. }) => Segment::IntRange {
                lo: lo + n * width,
                hi: (lo + (n + 1) * width - 1).min(*hi),
            },
            (ChildKind::Hash { step }, Segment::HashBits { mask, value, bits }) => {
                let part = ((1u64 << step) - 1) << bits;
                Segment::HashBits {
                    mask: mask | part,
                    value: value | (((n as u64) << bits) & part),
                    bits: bits + step,
                }
            }
            (ChildKind::Hash { .. }, Segment::Whole) => self.segment(
                &Segment::HashBits {
                    mask: 0,
                    value: 0,
                    bits: 0,
                },
                n,
            ),
            _ => *parent,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(plan: Option<KeyPlan>, key: &[&str]) -> TableSql {
        TableSql {
            schema: "s".into(),
            table: "t\"x".into(),
            columns: vec!["id".into(), "a b".into()],
            key: key.iter().map(|s| s.to_string()).collect(),
            plan,
            hash: HashFn::Text,
            native: Vec::new(),
        }
    }

    #[test]
    fn rows_hash_their_columns_text_with_names_quoted() {
        let t = table(None, &[]);
        assert_eq!(
            t.whole(),
            "SELECT pg_catalog.count(*)::pg_catalog.text, COALESCE(pg_catalog.sum((COALESCE(pg_catalog.hashtextextended(t.\"id\"::pg_catalog.text COLLATE pg_catalog.\"C\", 1), 1) OPERATOR(pg_catalog.#) COALESCE(pg_catalog.hashtextextended(t.\"a b\"::pg_catalog.text COLLATE pg_catalog.\"C\", 2), 2))), 0)::pg_catalog.text FROM ONLY \"s\".\"t\"\"x\" t"
        );
        assert!(HashFn::Md5Utf8.apply("x").contains("convert_to(x, 'UTF8')"));
    }

    #[test]
    fn common_types_are_hashed_from_their_values_and_the_rest_through_their_text() {
        for (ty, want) in [
            ("bigint", Some(NativeHash::Int8)),
            ("character varying(20)", Some(NativeHash::Text)),
            ("character varying", Some(NativeHash::Text)),
            ("character(84)", Some(NativeHash::Bpchar)),
            ("bpchar", None),
            ("timestamp(3) with time zone", Some(NativeHash::Timestamptz)),
            ("timestamp without time zone", Some(NativeHash::Timestamp)),
            ("double precision", Some(NativeHash::Float8)),
            ("numeric(18,6)", None),
            ("integer[]", None),
            ("jsonb", None),
            ("public.uuid", None),
            ("character varyingx", None),
        ] {
            assert_eq!(NativeHash::for_type(ty), want, "{ty}");
        }
        let mut t = table(None, &[]);
        t.native = vec![Some(NativeHash::Int8), None];
        assert_eq!(
            t.row_hash(),
            "(COALESCE(pg_catalog.hashint8extended(t.\"id\", 1), 1) OPERATOR(pg_catalog.#) COALESCE(pg_catalog.hashtextextended(t.\"a b\"::pg_catalog.text COLLATE pg_catalog.\"C\", 2), 2))"
        );
        t.native = vec![Some(NativeHash::Int8), Some(NativeHash::Float8)];
        let h = t.row_hash();
        assert!(!h.contains("ROW("), "{h}");
        assert!(
            h.contains("CASE WHEN t.\"a b\" OPERATOR(pg_catalog.=) 0 THEN pg_catalog.hashtextextended(t.\"a b\"::pg_catalog.text, 2)"),
            "{h}"
        );
        // Databases of different encodings: every column through its UTF-8 text.
        t.hash = HashFn::Md5Utf8;
        assert!(t.row_hash().contains("ROW(t.\"id\", t.\"a b\")"));
    }

    #[test]
    fn integer_ranges_split_into_contiguous_parts_covering_the_range() {
        let t = table(Some(KeyPlan::Int("id".into())), &["id"]);
        let seg = Segment::IntRange { lo: -5, hi: 30 };
        let c = t.child_expr(&seg, 16).unwrap();
        assert!(
            c.sql
                .contains("- -5::pg_catalog.int8) / 3::pg_catalog.int8"),
            "{}",
            c.sql
        );
        let parts: Vec<Segment> = (0..12).map(|n| c.segment(&seg, n)).collect();
        assert_eq!(parts[0], Segment::IntRange { lo: -5, hi: -3 });
        assert_eq!(parts[11], Segment::IntRange { lo: 28, hi: 30 });
        assert_eq!(t.filter(&parts[1]), "t.\"id\" BETWEEN -2 AND 0");
        // A span wider than int8 is divided in numeric.
        let wide = Segment::IntRange {
            lo: i64::MIN as i128,
            hi: i64::MAX as i128,
        };
        assert!(t.child_expr(&wide, 16).unwrap().sql.contains("numeric"));
    }

    #[test]
    fn hashed_keys_narrow_by_further_bits() {
        let t = table(Some(KeyPlan::Hashed(vec!["id".into()])), &["id"]);
        let c = t.child_expr(&Segment::Whole, 1024).unwrap();
        assert!(c.sql.ends_with(">> 0) & 1023)"), "{}", c.sql);
        let s = c.segment(&Segment::Whole, 5);
        assert_eq!(
            s,
            Segment::HashBits {
                mask: 1023,
                value: 5,
                bits: 10
            }
        );
        let c2 = t.child_expr(&s, 16).unwrap();
        assert_eq!(
            c2.segment(&s, 3),
            Segment::HashBits {
                mask: 0x3fff,
                value: 5 | (3 << 10),
                bits: 14
            }
        );
        assert!(t.filter(&s).ends_with("& 1023) = 5"));
    }

    #[test]
    fn rows_are_looked_up_by_typed_key_literals() {
        let t = table(Some(KeyPlan::Hashed(vec!["id".into()])), &["id"]);
        let sql = t.row_columns(&["it's".into()], &["text".into()]);
        assert!(
            sql.ends_with("WHERE t.\"id\" = CAST('it''s' AS text)"),
            "{sql}"
        );
    }
}
