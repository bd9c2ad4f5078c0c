//! libpq's `key=value` connection strings (`conninfo_parse`), including the one-time expansion
//! of a `dbname` that is itself a connection string. Its own file because it is a hand-written
//! tokenizer with its own error positions and its own password-half heuristics.

use super::uri::URI_PREFIXES;
use super::values::{is_libpq_space, is_secret_keyword, position, show_key};
use super::{RawSettings, parse_settings};
use db_migrate_core::error::{Error, Result};

/// libpq's test for "this dbname is really a connection string".
pub(super) fn is_connection_string(value: &str) -> bool {
    URI_PREFIXES.iter().any(|p| value.starts_with(p)) || value.contains('=')
}

/// A read position in a string that only ever stops on character boundaries.
pub(super) struct Cursor<'a> {
    s: &'a str,
    pos: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<char> {
        self.s[self.pos..].chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn skip_space(&mut self) {
        while self.peek().is_some_and(is_libpq_space) {
            self.bump();
        }
    }
}

/// libpq's `conninfo_parse`: `key = value` pairs separated by whitespace; values unquoted (ending
/// at whitespace, `\` escaping the next character) or single-quoted (`\'` and `\\` inside).
///
/// As in libpq, the value starts after any whitespace following `=`, so `host= port=1` sets host
/// to `port=1`; and a quoted value needs no whitespace after its closing quote.
pub(super) fn parse_keyword_value(s: &str, expand_dbname: bool) -> Result<RawSettings> {
    let mut raw = RawSettings::default();
    let mut dbname_seen = !expand_dbname;
    // Set when the previous value was an unquoted secret: the next word may be its second half.
    let mut after_unquoted_secret = false;
    let mut cur = Cursor { s, pos: 0 };
    loop {
        cur.skip_space();
        if cur.peek().is_none() {
            break;
        }
        let key_start = cur.pos;
        while cur.peek().is_some_and(|c| c != '=' && !is_libpq_space(c)) {
            cur.bump();
        }
        let key = &s[key_start..cur.pos];
        cur.skip_space();
        if cur.peek() != Some('=') {
            let at = position(s, cur.pos);
            return Err(Error::config(if after_unquoted_secret {
                // The "key" is most likely the rest of a password containing a space.
                format!(
                    "missing \"=\" at position {at} in connection info string, after a password \
                     value (a password that contains spaces must be in single quotes)"
                )
            } else {
                format!(
                    "missing \"=\" after {} at position {at} in connection info string \
                     (expected key=value pairs or a postgresql:// URI)",
                    show_key(key)
                )
            }));
        }
        if key.is_empty() {
            return Err(Error::config(format!(
                "missing keyword before \"=\" at position {} in connection info string",
                position(s, cur.pos)
            )));
        }
        cur.bump(); // '='
        cur.skip_space();
        let quoted = cur.peek() == Some('\'');
        let mut value = String::new();
        if quoted {
            let open = cur.pos;
            cur.bump();
            loop {
                match cur.bump() {
                    None => {
                        return Err(Error::config(format!(
                            "unterminated quoted string for {} starting at position {} in \
                             connection info string",
                            show_key(key),
                            position(s, open)
                        )));
                    }
                    Some('\\') => {
                        if let Some(c) = cur.bump() {
                            value.push(c);
                        }
                    }
                    Some('\'') => break,
                    Some(c) => value.push(c),
                }
            }
        } else {
            while let Some(c) = cur.bump() {
                if is_libpq_space(c) {
                    break;
                }
                if c == '\\' {
                    if let Some(escaped) = cur.bump() {
                        value.push(escaped);
                    }
                } else {
                    value.push(c);
                }
            }
        }
        if after_unquoted_secret {
            raw.after_secret.insert(key.to_owned());
        }
        after_unquoted_secret = !quoted && is_secret_keyword(key);

        if key == "dbname" && !dbname_seen {
            dbname_seen = true;
            if is_connection_string(&value) {
                // Expanded in place: it overrides what came before, and later keys override it.
                let inner = parse_settings(&value, false)
                    .map_err(|e| e.context("in the connection string given as dbname"))?;
                raw.values.extend(inner.values);
                raw.after_secret.extend(inner.after_secret);
                continue;
            }
        }
        raw.values.insert(key.to_owned(), value);
    }
    Ok(raw)
}

#[cfg(test)]
mod tests {
    use crate::config::SslMode;
    use crate::config::test_util::*;
    use std::time::Duration;

    // --- key=value --------------------------------------------------------------------------

    #[test]
    fn key_value_example_from_the_libpq_docs() {
        let info = parse("host=localhost port=5432 dbname=mydb connect_timeout=10");
        assert_eq!(info.host.as_deref(), Some("localhost"));
        assert_eq!(info.port, Some(5432));
        assert_eq!(info.dbname.as_deref(), Some("mydb"));
        assert_eq!(info.connect_timeout, Some(Duration::from_secs(10)));
        assert!(info.warnings.is_empty());
        assert!(!info.is_unix_socket());
    }

    #[test]
    fn whitespace_around_equals_and_between_pairs_is_allowed() {
        let info = parse("  host = db.example.com\tport=\n6543   user= alice ");
        assert_eq!(info.host.as_deref(), Some("db.example.com"));
        assert_eq!(info.port, Some(6543));
        assert_eq!(info.user.as_deref(), Some("alice"));
    }

    #[test]
    fn quoted_values_keep_spaces_and_unescape_quote_and_backslash() {
        let info = parse(r"application_name='my app' options='-c search_path=a\'b' dbname='x\\y'");
        assert_eq!(info.application_name.as_deref(), Some("my app"));
        assert_eq!(info.options.as_deref(), Some("-c search_path=a'b"));
        assert_eq!(info.dbname.as_deref(), Some(r"x\y"));
    }

    #[test]
    fn unquoted_values_end_at_whitespace_and_backslash_escapes_work_there_too() {
        let info = parse(r"application_name=a\ b\'c user=x");
        assert_eq!(info.application_name.as_deref(), Some("a b'c"));
        assert_eq!(info.user.as_deref(), Some("x"));
    }

    #[test]
    fn a_quoted_value_needs_no_space_after_its_closing_quote() {
        let info = parse("user='a'dbname='b'");
        assert_eq!(info.user.as_deref(), Some("a"));
        assert_eq!(info.dbname.as_deref(), Some("b"));
    }

    #[test]
    fn a_password_with_at_colon_slash_quote_and_unicode_survives_quoting() {
        let info = parse(r"host=h user=u password='p@ss:w/rd\'é🔑'");
        assert_eq!(info.password.as_deref(), Some("p@ss:w/rd'é🔑"));
    }

    #[test]
    fn the_last_occurrence_of_a_key_wins() {
        assert_eq!(parse("port=1 port=2").port, Some(2));
    }

    #[test]
    fn an_empty_value_means_the_default() {
        let info = parse("host='' port='' dbname=''");
        assert_eq!(info.host, None);
        assert_eq!(info.port, None);
        assert_eq!(info.dbname, None);
    }

    #[test]
    fn a_value_starts_after_the_blanks_that_follow_equals_as_in_libpq() {
        // libpq reads this as host = "port=5432"; we mean what libpq means.
        assert_eq!(parse("host= port=5432").host.as_deref(), Some("port=5432"));
    }

    #[test]
    fn ipv6_and_unix_socket_hosts_in_key_value_form() {
        assert_eq!(parse("host=::1").host.as_deref(), Some("::1"));
        assert_eq!(parse("host=[::1]").host.as_deref(), Some("::1"));
        let info = parse("host=/var/lib/postgresql port=5433");
        assert!(info.is_unix_socket());
        assert_eq!(info.host(), "/var/lib/postgresql");
    }

    // --- dbname expansion -------------------------------------------------------------------

    #[test]
    fn a_dbname_that_is_a_uri_is_expanded_and_later_keys_win() {
        let info = parse("port=1 dbname=postgresql://alice@db.example.com:6543/app user=bob");
        assert_eq!(info.host.as_deref(), Some("db.example.com"));
        assert_eq!(
            info.port,
            Some(6543),
            "the expansion overrides earlier keys"
        );
        assert_eq!(
            info.user.as_deref(),
            Some("bob"),
            "later keys override the expansion"
        );
        assert_eq!(info.dbname.as_deref(), Some("app"));
    }

    #[test]
    fn a_dbname_with_equals_is_expanded_as_key_value_once() {
        let info = parse("dbname='host=h dbname=real' sslmode=require");
        assert_eq!(info.host.as_deref(), Some("h"));
        assert_eq!(info.dbname.as_deref(), Some("real"));
        assert_eq!(info.sslmode, Some(SslMode::Require));

        // Only the first dbname is expanded, and a dbname inside the expansion is a name.
        let info = parse("dbname='dbname=a=b' dbname='x=y'");
        assert_eq!(info.dbname.as_deref(), Some("x=y"));
        let info = parse("dbname='dbname=a=b'");
        assert_eq!(info.dbname.as_deref(), Some("a=b"));
    }

    #[test]
    fn an_error_inside_an_expanded_dbname_says_so() {
        assert_contains(
            &parse_err("dbname='host=h user'"),
            &[
                "in the connection string given as dbname",
                "missing \"=\" after \"user\"",
            ],
        );
    }

    #[test]
    fn missing_equals_and_unterminated_quotes_give_the_position() {
        assert_contains(
            &parse_err("host=h dbname"),
            &["missing \"=\" after \"dbname\"", "position 14"],
        );
        assert_contains(
            &parse_err("db.example.com"),
            &["missing \"=\"", "postgresql:// URI"],
        );
        assert_contains(
            &parse_err("host=h user='alice"),
            &["unterminated quoted string", "\"user\"", "position 13"],
        );
        assert_contains(&parse_err("=x"), &["missing keyword", "position 1"]);
        assert_contains(&parse_err("host=h port"), &["position 12"]);
        assert_contains(&parse_err("application_name=é x"), &["position 21"]);
    }

    #[test]
    fn a_password_with_an_unquoted_space_is_not_echoed_in_the_error() {
        let err = parse_err("host=h password=correct horse");
        assert_contains(&err, &["missing \"=\"", "single quotes"]);
        assert!(!err.contains("horse"), "{err}");

        let err = parse_err("password=correct horse=battery");
        assert_contains(&err, &["right after a password", "single quotes"]);
        assert!(!err.contains("horse"), "{err}");
    }
}
