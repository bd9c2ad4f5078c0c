//! Quoting of names and literals for SQL text we generate.
//!
//! Everything that reaches SQL text goes through [`quote_ident`] or [`quote_literal`] (or is a
//! bind parameter). These follow the server's own `quote_ident` / `quote_literal` rules with
//! `standard_conforming_strings = on` (the default since 9.1, and what every session of ours
//! uses), except that identifiers are always quoted: a name that happens to be a keyword in a
//! newer target major must not break.

/// `"name"` with embedded double quotes doubled. Always quoted, whatever the name
/// (postgres-protocol's `escape_identifier`, which libpq's `PQescapeIdentifier` also is).
pub fn quote_ident(name: &str) -> String {
    postgres_protocol::escape::escape_identifier(name)
}

/// Opens the read-only transaction whose snapshot a reader exports or imports, so that several
/// sessions read the source as of one moment (the copy workers, the catalog read).
pub const BEGIN_SNAPSHOT: &str = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";

/// Exports the snapshot of the transaction [`BEGIN_SNAPSHOT`] opened; valid while it is open.
pub const EXPORT_SNAPSHOT: &str = "SELECT pg_catalog.pg_export_snapshot()";

/// The statement that puts a session into the exported snapshot `id`.
pub fn import_snapshot(id: &str) -> String {
    format!(
        "{BEGIN_SNAPSHOT}; SET TRANSACTION SNAPSHOT {}",
        quote_literal(id)
    )
}

/// `"schema"."name"`.
pub fn qualified(schema: &str, name: &str) -> String {
    format!("{}.{}", quote_ident(schema), quote_ident(name))
}

/// A string literal. Backslashes use the `E''` form like the server's `quote_literal`, so the
/// result is right whatever `standard_conforming_strings` is.
pub fn quote_literal(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 3);
    if value.contains('\\') {
        out.push('E');
    }
    out.push('\'');
    for c in value.chars() {
        match c {
            '\'' => out.push_str("''"),
            '\\' => out.push_str("\\\\"),
            _ => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// Settings whose value is a list that the server stores with each element quoted
/// (`GUC_LIST_QUOTE`); pg_dumpall splits these and emits one literal per element.
const LIST_QUOTE_SETTINGS: &[&str] = &[
    "local_preload_libraries",
    "search_path",
    "session_preload_libraries",
    "shared_preload_libraries",
    "temp_tablespaces",
    "unix_socket_directories",
];

/// Reads a double-quoted name at the start of `chars` (the opening quote included), with `""`
/// standing for one quote, up to and including the closing quote. The server prints role
/// names in aclitems and elements of list settings this way.
pub fn take_quoted(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> String {
    let mut out = String::new();
    if chars.peek() != Some(&'"') {
        return out;
    }
    chars.next();
    while let Some(c) = chars.next() {
        if c == '"' {
            if chars.peek() == Some(&'"') {
                chars.next();
                out.push('"');
            } else {
                break;
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Splits a stored list setting the way the server's `SplitGUCList` does: elements separated by
/// commas, optionally double-quoted (with `""` for a quote inside), surrounding blanks dropped.
fn split_guc_list(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = value.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut item = String::new();
        if chars.peek() == Some(&'"') {
            item = take_quoted(&mut chars);
            while chars.peek().is_some_and(|c| *c != ',') {
                chars.next();
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ',' {
                    break;
                }
                item.push(c);
                chars.next();
            }
            let trimmed = item.trim_end().len();
            item.truncate(trimmed);
        }
        out.push(item);
        if chars.next().is_none() {
            break;
        }
    }
    if out.len() == 1 && out[0].is_empty() {
        out.clear();
    }
    out
}

/// Turns one stored setting (`name=value`, as in `pg_db_role_setting.setconfig` or
/// `pg_roles.rolconfig`) into the tail of `ALTER ROLE|DATABASE ... SET`: `"name" TO 'value'`.
/// Returns `None` for an entry without `=` (never produced by the server).
pub fn set_clause(entry: &str) -> Option<String> {
    let (name, value) = entry.split_once('=')?;
    let rhs = if LIST_QUOTE_SETTINGS.contains(&name.to_ascii_lowercase().as_str()) {
        let items = split_guc_list(value);
        if items.is_empty() {
            "''".to_string()
        } else {
            items
                .iter()
                .map(|i| quote_literal(i))
                .collect::<Vec<_>>()
                .join(", ")
        }
    } else {
        quote_literal(value)
    };
    Some(format!("{} TO {rhs}", quote_ident(name)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_settings_are_split_into_one_literal_per_element() {
        assert_eq!(
            set_clause(r#"search_path=app, "My Schema", public"#).unwrap(),
            r#""search_path" TO 'app', 'My Schema', 'public'"#
        );
        assert_eq!(
            set_clause(r#"search_path="a""b", c"#).unwrap(),
            r#""search_path" TO 'a"b', 'c'"#
        );
        assert_eq!(
            set_clause("search_path=").unwrap(),
            r#""search_path" TO ''"#
        );
    }

    #[test]
    fn scalar_settings_are_one_literal() {
        assert_eq!(
            set_clause("statement_timeout=5s").unwrap(),
            r#""statement_timeout" TO '5s'"#
        );
        assert_eq!(
            set_clause("application_name=a=b, c").unwrap(),
            r#""application_name" TO 'a=b, c'"#
        );
        assert_eq!(set_clause("nonsense"), None);
    }

    #[test]
    fn identifiers_are_always_quoted_and_quotes_doubled() {
        assert_eq!(quote_ident("simple"), "\"simple\"");
        assert_eq!(quote_ident("we\"ird"), "\"we\"\"ird\"");
        assert_eq!(quote_ident("select"), "\"select\"");
        assert_eq!(quote_ident("Ünï cødé"), "\"Ünï cødé\"");
        assert_eq!(qualified("a b", "c"), "\"a b\".\"c\"");
    }

    #[test]
    fn literals_escape_quotes_and_backslashes() {
        assert_eq!(quote_literal("it's"), "'it''s'");
        assert_eq!(quote_literal(r"a\b"), r"E'a\\b'");
        assert_eq!(
            quote_literal("'; DROP TABLE x; --"),
            "'''; DROP TABLE x; --'"
        );
    }
}
