//! Name patterns of the selection flags, with pg_dump's rules (`pg_dump -t`, `-n`; psql's
//! "Patterns"), so that what users already type for pg_dump means the same here:
//!
//! - a dot separates the parts (`db.schema.table`); a dot inside double quotes does not;
//! - outside double quotes letters are folded to lower case (as the server folds unquoted
//!   identifiers), `*` matches any run of characters and `?` any one character;
//! - inside double quotes everything is literal (`*`, `?`, `.`, `,`, capitals), and `""` is one
//!   double quote;
//! - a flag's value may hold several patterns separated by commas (outside double quotes), as
//!   the tool we replace accepted comma-separated lists.
//!
//! One difference from pg_dump, on purpose: characters other than `*`, `?`, `.` and `"` are
//! always literal. pg_dump passes other regular-expression characters (`[`, `|`, `+`...)
//! through to the server's regex engine outside quotes; here they match themselves, so a name
//! like `a+b` needs no quoting and no pattern can be an invalid regular expression.
//!
//! Parsing is pure (no I/O) and fuzzed (`fuzz/fuzz_targets/selection_pattern.rs`).

use std::fmt;

use crate::error::{Error, Result};
use crate::remedy::Setting;

/// One part of a pattern (`schema`, `t*`, `"Quoted.Name"`), compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob {
    tokens: Vec<Tok>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    Lit(char),
    /// `*`: any run of characters, also empty.
    Any,
    /// `?`: exactly one character.
    One,
}

impl Glob {
    /// Whether the glob has no wildcard (it names exactly one object).
    pub fn is_literal(&self) -> bool {
        self.tokens.iter().all(|t| matches!(t, Tok::Lit(_)))
    }

    /// Whether `name` (an exact catalog name) matches the whole glob.
    ///
    /// The classic two-pointer wildcard match: linear in practice, O(n·m) at worst, no
    /// recursion (a fuzzer's `*a*a*a*...` cannot blow the stack or take exponential time).
    pub fn matches(&self, name: &str) -> bool {
        let p = &self.tokens;
        let s: Vec<char> = name.chars().collect();
        let (mut pi, mut si) = (0usize, 0usize);
        let mut star: Option<(usize, usize)> = None;
        while si < s.len() {
            match p.get(pi) {
                Some(Tok::Lit(c)) if *c == s[si] => {
                    pi += 1;
                    si += 1;
                }
                Some(Tok::One) => {
                    pi += 1;
                    si += 1;
                }
                Some(Tok::Any) => {
                    star = Some((pi, si));
                    pi += 1;
                }
                _ => match star {
                    Some((sp, ss)) => {
                        pi = sp + 1;
                        si = ss + 1;
                        star = Some((sp, ss + 1));
                    }
                    None => return false,
                },
            }
        }
        p[pi..].iter().all(|t| *t == Tok::Any)
    }
}

impl fmt::Display for Glob {
    /// The glob written back in pattern syntax: literal runs needing it are double-quoted.
    /// An empty name prints as `""`, and white space is always quoted (parsing trims it), so
    /// that what is printed parses back to the same glob.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.tokens.is_empty() {
            return f.write_str("\"\"");
        }
        let mut quoted = false;
        for t in &self.tokens {
            match t {
                Tok::Lit(c) => {
                    let plain = c.is_ascii_lowercase()
                        || c.is_ascii_digit()
                        || *c == '_'
                        || (!c.is_ascii() && !c.is_uppercase() && !c.is_whitespace());
                    if plain && quoted {
                        f.write_str("\"")?;
                        quoted = false;
                    } else if !plain && !quoted {
                        f.write_str("\"")?;
                        quoted = true;
                    }
                    if *c == '"' {
                        f.write_str("\"\"")?;
                    } else {
                        write!(f, "{c}")?;
                    }
                }
                Tok::Any | Tok::One => {
                    if quoted {
                        f.write_str("\"")?;
                        quoted = false;
                    }
                    f.write_str(if *t == Tok::Any { "*" } else { "?" })?;
                }
            }
        }
        if quoted {
            f.write_str("\"")?;
        }
        Ok(())
    }
}

/// A pattern as the user wrote it, split into its parts (1 to 3), each compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamePattern {
    /// The setting it came from ([`Setting::WithTable`]), for messages.
    pub setting: Setting,
    /// The pattern as given (trimmed), for messages.
    pub text: String,
    /// Parts in order, outermost first (`db`, `schema`, `table`).
    pub parts: Vec<Glob>,
}

impl fmt::Display for NamePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} \"{}\"", self.setting, self.text)
    }
}

/// Splits a flag's value into its comma-separated patterns (commas inside double quotes do not
/// separate) and parses each with at most `max_parts` dot-separated parts.
///
/// Errors name the flag and say what is wrong: an empty value or an empty item (`a,,b`), an
/// unbalanced double quote, an empty part (`a..b`, `.t`), too many parts.
pub fn parse_list(flag: Setting, value: &str, max_parts: usize) -> Result<Vec<NamePattern>> {
    if value.trim().is_empty() {
        return Err(Error::config(format!(
            "{flag}: empty value (give a name or pattern)"
        )));
    }
    let mut items = Vec::new();
    let mut current = String::new();
    let mut in_quotes = false;
    for c in value.chars() {
        match c {
            '"' => {
                in_quotes = !in_quotes;
                current.push(c);
            }
            ',' if !in_quotes => items.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    if in_quotes {
        return Err(Error::config(format!(
            "{flag} \"{}\": unbalanced double quote",
            value.trim()
        )));
    }
    items.push(current);
    items
        .iter()
        .map(|item| {
            if item.trim().is_empty() {
                Err(Error::config(format!(
                    "{flag} \"{}\": empty name in the comma-separated list",
                    value.trim()
                )))
            } else {
                parse_one(flag, item, max_parts)
            }
        })
        .collect()
}

/// Parses one pattern (no commas outside quotes expected) into 1 to `max_parts` parts.
pub fn parse_one(flag: Setting, text: &str, max_parts: usize) -> Result<NamePattern> {
    let text = text.trim();
    let err = |what: &str| Error::config(format!("{flag} \"{text}\": {what}"));
    let mut parts: Vec<Vec<Tok>> = vec![Vec::new()];
    // Whether the current part had anything at all (`""` is an empty but present name).
    let mut seen = vec![false];
    let mut chars = text.chars().peekable();
    let mut in_quotes = false;
    while let Some(c) = chars.next() {
        let part = parts.last_mut().expect("one part at least");
        if in_quotes {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    part.push(Tok::Lit('"'));
                } else {
                    in_quotes = false;
                }
            } else {
                part.push(Tok::Lit(c));
            }
            continue;
        }
        match c {
            '"' => {
                in_quotes = true;
                *seen.last_mut().expect("one part at least") = true;
            }
            '.' => {
                parts.push(Vec::new());
                seen.push(false);
                continue;
            }
            '*' => part.push(Tok::Any),
            '?' => part.push(Tok::One),
            c => part.push(Tok::Lit(c.to_ascii_lowercase())),
        }
        *seen.last_mut().expect("one part at least") = true;
    }
    if in_quotes {
        return Err(err("unbalanced double quote"));
    }
    if seen.iter().any(|s| !s) {
        return Err(err(
            "empty name part (a dot at the start or end, or two dots in a row); quote names \
             that contain dots, e.g. \"my.table\"",
        ));
    }
    if parts.len() > max_parts {
        let forms = match max_parts {
            1 => "NAME",
            2 => "NAME or DATABASE.NAME",
            _ => "TABLE, SCHEMA.TABLE or DATABASE.SCHEMA.TABLE",
        };
        return Err(err(&format!(
            "too many dot-separated parts ({}; expected {forms}); quote names that contain \
             dots, e.g. \"my.table\"",
            parts.len()
        )));
    }
    Ok(NamePattern {
        setting: flag,
        text: text.to_string(),
        parts: parts.into_iter().map(|tokens| Glob { tokens }).collect(),
    })
}

impl NamePattern {
    /// The last part (the table of `db.schema.table`, the schema of `db.schema`).
    pub fn name(&self) -> &Glob {
        self.parts.last().expect("parsed patterns have a part")
    }

    /// The part `n` places before the last one (1: the schema of a table pattern), if given.
    fn outer(&self, n: usize) -> Option<&Glob> {
        self.parts.len().checked_sub(n + 1).map(|i| &self.parts[i])
    }

    /// Whether this pattern applies to database `db` at all (no database part, or one that
    /// matches). `depth` is the number of parts below the database (2 for tables, 1 for
    /// schemas).
    pub fn applies_to_database(&self, db: &str, depth: usize) -> bool {
        self.outer(depth).is_none_or(|g| g.matches(db))
    }

    /// For a table pattern: whether it matches `db.schema.table`.
    pub fn matches_table(&self, db: &str, schema: &str, table: &str) -> bool {
        self.applies_to_database(db, 2)
            && self.outer(1).is_none_or(|g| g.matches(schema))
            && self.name().matches(table)
    }

    /// For a schema pattern: whether it matches `db.schema`.
    pub fn matches_schema(&self, db: &str, schema: &str) -> bool {
        self.applies_to_database(db, 1) && self.name().matches(schema)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> NamePattern {
        parse_one(Setting::WithTable, text, 3).unwrap()
    }

    #[test]
    fn unquoted_parts_fold_to_lower_case_and_quoted_parts_are_literal() {
        let p = one("Public.Orders");
        assert!(p.matches_table("db", "public", "orders"));
        assert!(!p.matches_table("db", "Public", "Orders"));
        let q = one("\"Public\".\"Orders\"");
        assert!(q.matches_table("db", "Public", "Orders"));
        assert!(!q.matches_table("db", "public", "orders"));
    }

    #[test]
    fn wildcards_outside_quotes_only() {
        let p = one("s?.t*");
        assert!(p.matches_table("db", "s1", "t"));
        assert!(p.matches_table("db", "sx", "table"));
        assert!(!p.matches_table("db", "s", "t"));
        assert!(!p.matches_table("db", "s12", "t"));
        let q = one("\"t*\"");
        assert!(q.matches_table("db", "any", "t*"));
        assert!(!q.matches_table("db", "any", "tx"));
        assert!(one("*").matches_table("db", "s", ""));
        assert!(one("a*b*c").matches_table("d", "s", "aXXbYYc"));
        assert!(!one("a*b*c").matches_table("d", "s", "aXXbYY"));
    }

    #[test]
    fn dots_commas_and_quotes_inside_double_quotes() {
        let p = one("\"my.schema\".\"ta .'ble,0\"");
        assert_eq!(p.parts.len(), 2);
        assert!(p.matches_table("db", "my.schema", "ta .'ble,0"));
        let q = one("\"we\"\"ird\"");
        assert!(q.matches_table("db", "s", "we\"ird"));
        let list = parse_list(Setting::SkipTable, "a, \"b,c\" ,d.e", 3).unwrap();
        let texts: Vec<&str> = list.iter().map(|p| p.text.as_str()).collect();
        assert_eq!(texts, vec!["a", "\"b,c\"", "d.e"]);
    }

    #[test]
    fn parts_are_table_schema_database() {
        let p = one("shop.public.orders");
        assert!(p.matches_table("shop", "public", "orders"));
        assert!(!p.matches_table("other", "public", "orders"));
        assert!(p.applies_to_database("shop", 2));
        assert!(!p.applies_to_database("other", 2));
        let t = one("orders");
        assert!(t.matches_table("any", "anyschema", "orders"));
        let s = parse_one(Setting::Schema, "shop.app", 2).unwrap();
        assert!(s.matches_schema("shop", "app"));
        assert!(!s.matches_schema("other", "app"));
    }

    #[test]
    fn bad_patterns_are_errors_naming_the_flag() {
        for (value, what) in [
            ("", "empty value"),
            ("  ", "empty value"),
            ("a,,b", "empty name"),
            ("a,", "empty name"),
            ("\"abc", "unbalanced"),
            ("a.\"b", "unbalanced"),
            ("a..b", "empty name part"),
            (".a", "empty name part"),
            ("a.", "empty name part"),
            ("a.b.c.d", "too many"),
        ] {
            let e = parse_list(Setting::WithTable, value, 3)
                .unwrap_err()
                .to_string();
            assert!(e.contains("`with_table`"), "{value:?}: {e}");
            assert!(e.contains(what), "{value:?}: {e}");
        }
        let e = parse_list(Setting::Schema, "a.b.c", 2)
            .unwrap_err()
            .to_string();
        assert!(e.contains("`schema`") && e.contains("too many"), "{e}");
    }

    #[test]
    fn an_empty_quoted_name_is_a_name() {
        let p = one("s.\"\"");
        assert!(p.matches_table("d", "s", ""));
        assert!(!p.matches_table("d", "s", "x"));
    }

    #[test]
    fn globs_print_back_as_patterns() {
        assert_eq!(one("\"My.T\"").name().to_string(), "\"M\"y\".T\"");
        assert_eq!(one("t_1*").name().to_string(), "t_1*");
        let p = one("\"x\"\"y\"");
        let again = one(&p.name().to_string());
        assert_eq!(again.name(), p.name());
    }

    #[test]
    fn empty_names_and_unicode_white_space_print_back_to_the_same_glob() {
        for text in ["s.\"\"", "\"\u{3000}x\u{a0}\"", "\"\u{85}\""] {
            let p = one(text);
            let printed = p.name().to_string();
            assert_eq!(
                one(&printed).name(),
                p.name(),
                "{text:?} printed as {printed:?}"
            );
        }
        assert_eq!(one("s.\"\"").name().to_string(), "\"\"");
    }
}
