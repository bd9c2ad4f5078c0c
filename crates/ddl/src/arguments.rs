//! Argument lists as the source server deparsed them (`pg_get_functiondef`,
//! `pg_get_function_arguments`, `pg_get_function_identity_arguments`), with every argument name
//! quoted.
//!
//! Why: a server quotes a name only where its own grammar needs it. A parameter named `json` is
//! a plain identifier to PostgreSQL 15, which prints `c.f(json jsonb)`; since 16 `json` is a
//! keyword that cannot name a parameter, and that text is a syntax error (`at or near "jsonb"`),
//! which would fail the whole database. The catalog says which words are names
//! (`proargnames`), so each one the source printed bare is quoted, and the text means the same
//! on every major whatever words the target reserves (pg_dump has the same problem and
//! leaves it: it prints the source's deparse too).
//!
//! Only what is certain is changed: an item whose text does not start with the name the
//! catalog gives it, or a list whose items do not match the arguments in number, is kept as
//! the server printed it.

use db_migrate_core::sql::quote_ident;

/// The mode words a server prints before an argument's name.
const MODES: [&str; 4] = ["IN ", "OUT ", "INOUT ", "VARIADIC "];

/// `names` (`proargnames`, empty strings for unnamed arguments) and `modes` (`proargmodes`,
/// empty when every argument is IN) of one routine.
#[derive(Debug, Clone, Copy)]
pub struct ArgNames<'a> {
    pub names: &'a [String],
    pub modes: &'a [char],
}

impl ArgNames<'_> {
    fn mode(&self, i: usize) -> char {
        self.modes.get(i).copied().unwrap_or('i')
    }

    /// The names of the items of a printed list: the `RETURNS TABLE` columns (`t`) or the
    /// other arguments, in order.
    fn printed(&self, table: bool) -> Vec<&str> {
        (0..self.names.len())
            .filter(|&i| (self.mode(i) == 't') == table)
            .map(|i| self.names[i].as_str())
            .collect()
    }

    /// The names of the input arguments (IN, INOUT, VARIADIC).
    fn inputs(&self) -> Vec<&str> {
        (0..self.names.len())
            .filter(|&i| matches!(self.mode(i), 'i' | 'b' | 'v'))
            .map(|i| self.names[i].as_str())
            .collect()
    }

    fn none(&self) -> bool {
        self.names.iter().all(String::is_empty)
    }

    /// An argument list (`pg_get_function_arguments` or `..._identity_arguments`) with its
    /// names quoted.
    pub fn quote_list(&self, list: &str) -> String {
        if self.none() {
            return list.to_string();
        }
        quote_items(list, &[self.printed(false), self.inputs()])
    }

    /// A `pg_get_functiondef` text with the names of its argument list and of its `RETURNS
    /// TABLE (...)` columns quoted.
    pub fn quote_definition(&self, def: &str) -> String {
        if self.none() {
            return def.to_string();
        }
        let b = def.as_bytes();
        let Some(open) = header_open(def) else {
            return def.to_string();
        };
        let Some(close) = matching(b, open) else {
            return def.to_string();
        };
        let mut out = String::with_capacity(def.len() + 16);
        out.push_str(&def[..=open]);
        out.push_str(&quote_items(&def[open + 1..close], &[self.printed(false)]));
        const TABLE: &str = ")\n RETURNS TABLE(";
        if def[close..].starts_with(TABLE) {
            let t_open = close + TABLE.len() - 1;
            if let Some(t_close) = matching(b, t_open) {
                out.push_str(&def[close..=t_open]);
                out.push_str(&quote_items(
                    &def[t_open + 1..t_close],
                    &[self.printed(true)],
                ));
                out.push_str(&def[t_close..]);
                return out;
            }
        }
        out.push_str(&def[close..]);
        out
    }
}

/// `list` with each item's name quoted, by the first of `candidates` (name lists) that has as
/// many names as `list` has items; unchanged when none has.
fn quote_items(list: &str, candidates: &[Vec<&str>]) -> String {
    if list.trim().is_empty() {
        return list.to_string();
    }
    let Some(ranges) = items(list.as_bytes()) else {
        return list.to_string();
    };
    let Some(names) = candidates.iter().find(|c| c.len() == ranges.len()) else {
        return list.to_string();
    };
    let mut out = String::with_capacity(list.len() + 8);
    let mut at = 0;
    for ((start, end), name) in ranges.into_iter().zip(names) {
        out.push_str(&list[at..start]);
        out.push_str(&quote_item(&list[start..end], name));
        at = end;
    }
    out.push_str(&list[at..]);
    out
}

/// One item (`[mode ]name type[ DEFAULT expr]`) with `name` quoted where the server printed
/// it bare.
fn quote_item(item: &str, name: &str) -> String {
    let (mode, rest) = MODES
        .iter()
        .find_map(|m| item.strip_prefix(m).map(|r| (&item[..m.len()], r)))
        .unwrap_or(("", item));
    match rest.strip_prefix(name) {
        Some(after) if !name.is_empty() && after.starts_with(' ') => {
            format!("{mode}{}{after}", quote_ident(name))
        }
        _ => item.to_string(),
    }
}

/// The position of the `(` that opens the argument list of a `CREATE OR REPLACE FUNCTION` /
/// `PROCEDURE` text, after its (possibly quoted) name.
fn header_open(def: &str) -> Option<usize> {
    let start = [
        "CREATE OR REPLACE FUNCTION ",
        "CREATE OR REPLACE PROCEDURE ",
    ]
    .iter()
    .find(|p| def.starts_with(*p))?
    .len();
    let b = def.as_bytes();
    let mut i = start;
    while i < b.len() {
        match b[i] {
            b'"' => i = skip_quoted(b, i, false)?,
            b'(' => return Some(i),
            b'\n' => return None,
            _ => i += 1,
        }
    }
    None
}

/// The position of the parenthesis closing the one at `open`.
fn matching(b: &[u8], open: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = open;
    while i < b.len() {
        match b[i] {
            b'"' | b'\'' => i = skip_quoted(b, i, is_escape_string(b, i))?,
            b'(' | b'[' => {
                depth += 1;
                i += 1;
            }
            b')' | b']' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i);
                }
                i += 1;
            }
            _ => i += 1,
        }
    }
    None
}

/// Byte ranges of the top-level items of an argument list (separated by `, `, or by ` ORDER
/// BY ` in an ordered-set aggregate's), or `None` when its quotes or brackets do not balance.
fn items(b: &[u8]) -> Option<Vec<(usize, usize)>> {
    let mut out = Vec::new();
    let (mut start, mut depth, mut i) = (0, 0usize, 0);
    while i < b.len() {
        match b[i] {
            b'"' | b'\'' => i = skip_quoted(b, i, is_escape_string(b, i))?,
            b'(' | b'[' => {
                depth += 1;
                i += 1;
            }
            b')' | b']' => {
                depth = depth.checked_sub(1)?;
                i += 1;
            }
            _ if depth == 0 && b[i..].starts_with(b", ") => {
                out.push((start, i));
                i += 2;
                start = i;
            }
            _ if depth == 0 && b[i..].starts_with(b" ORDER BY ") => {
                out.push((start, i));
                i += " ORDER BY ".len();
                start = i;
            }
            _ => i += 1,
        }
    }
    if depth != 0 {
        return None;
    }
    out.push((start, b.len()));
    Some(out)
}

/// Whether the `'` at `i` opens an `E'...'` string (where a backslash escapes the next byte).
fn is_escape_string(b: &[u8], i: usize) -> bool {
    b[i] == b'\''
        && i > 0
        && matches!(b[i - 1], b'E' | b'e')
        && (i < 2 || !(b[i - 2].is_ascii_alphanumeric() || b[i - 2] == b'_'))
}

/// The position just past the quoted text opening at `open` (a doubled quote stands for one).
fn skip_quoted(b: &[u8], open: usize, backslash: bool) -> Option<usize> {
    let q = b[open];
    let mut i = open + 1;
    while i < b.len() {
        if backslash && b[i] == b'\\' {
            i += 2;
        } else if b[i] == q {
            if b.get(i + 1) == Some(&q) {
                i += 2;
            } else {
                return Some(i + 1);
            }
        } else {
            i += 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn names_printed_bare_by_an_older_major_are_quoted() {
        // What PostgreSQL 15 prints for a function whose names are keywords on 16+.
        let n = names(&["json", "select", "json_table", "xs"]);
        let m = ['i', 'b', 'o', 'v'];
        let a = ArgNames {
            names: &n,
            modes: &m,
        };
        assert_eq!(
            a.quote_list(
                "json jsonb, INOUT \"select\" integer DEFAULT 1, OUT json_table text, \
                 VARIADIC xs text[] DEFAULT '{a, b}'::text[]"
            ),
            "\"json\" jsonb, INOUT \"select\" integer DEFAULT 1, OUT \"json_table\" text, \
             VARIADIC \"xs\" text[] DEFAULT '{a, b}'::text[]"
        );
        // An identity list without the OUT argument still lines up, by the inputs.
        assert_eq!(
            a.quote_list("json jsonb, INOUT \"select\" integer, VARIADIC xs text[]"),
            "\"json\" jsonb, INOUT \"select\" integer, VARIADIC \"xs\" text[]"
        );
    }

    #[test]
    fn definitions_quote_the_arguments_and_the_returned_table_only() {
        let n = names(&["json", "json_table", "n"]);
        let m = ['i', 't', 't'];
        let a = ArgNames {
            names: &n,
            modes: &m,
        };
        let def = "CREATE OR REPLACE FUNCTION \"c(\".g(json jsonb DEFAULT E'it''s \\\\ (')\n \
                   RETURNS TABLE(json_table text, n integer)\n LANGUAGE sql\nAS $function$ \
                   SELECT json::text, 1 $function$\n";
        assert_eq!(
            a.quote_definition(def),
            "CREATE OR REPLACE FUNCTION \"c(\".g(\"json\" jsonb DEFAULT E'it''s \\\\ (')\n \
             RETURNS TABLE(\"json_table\" text, \"n\" integer)\n LANGUAGE sql\nAS $function$ \
             SELECT json::text, 1 $function$\n"
        );
    }

    #[test]
    fn what_does_not_line_up_is_kept_as_printed() {
        // Unnamed arguments, a type whose first word is another argument's name, quoted names,
        // and a list with more items than the catalog has names.
        let n = names(&["", "double"]);
        let a = ArgNames {
            names: &n,
            modes: &[],
        };
        assert_eq!(
            a.quote_list("double precision, double integer"),
            "double precision, \"double\" integer"
        );
        let n = names(&["Mixed"]);
        let a = ArgNames {
            names: &n,
            modes: &[],
        };
        assert_eq!(a.quote_list("\"Mixed\" integer"), "\"Mixed\" integer");
        assert_eq!(a.quote_list("a integer, b integer"), "a integer, b integer");
        let none = ArgNames {
            names: &[],
            modes: &[],
        };
        assert_eq!(none.quote_list("integer, text"), "integer, text");
        // An ordered-set aggregate's list.
        let n = names(&["frac", "json"]);
        let a = ArgNames {
            names: &n,
            modes: &[],
        };
        assert_eq!(
            a.quote_list("frac double precision ORDER BY json jsonb"),
            "\"frac\" double precision ORDER BY \"json\" jsonb"
        );
    }
}
