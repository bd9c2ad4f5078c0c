//! Scrubbing secrets out of free text that might echo a connection string (error messages,
//! server notices, logs). Its own file because it works on arbitrary text, not on parsed
//! settings, and errs towards hiding too much.

/// What every rendering shows instead of a secret.
pub const MASK: &str = "********";

/// Removes passwords from arbitrary text that might echo a connection string: `password=...`
/// (quoted or not; also `sslpassword=`, `PGPASSWORD=` and any other key ending in `password` or
/// `secret`) and the password part of any URI-like `user:secret@host` (with any scheme or none:
/// `postgres://`, a misspelt `postgress://`, `mysql://`, `postgres:/`) are replaced by
/// `********`.
///
/// When unsure where a secret ends, this errs towards hiding too much: an unquoted value runs to
/// the next whitespace, an unterminated quoted one to the end of the text, and a URI's
/// credentials to its last `@`.
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut at_word_start = true;
    while i < text.len() {
        if at_word_start {
            i += redact_userinfo(&text[i..], &mut out);
        }
        let rest = &text[i..];
        let Some(c) = rest.chars().next() else { break };
        out.push(c);
        i += c.len_utf8();
        at_word_start = c.is_whitespace() || matches!(c, '"' | '\'' | '(' | '<' | '[' | '=' | ',');
        if c == '=' && is_secret_key_before(&text[..i - 1]) {
            i += redact_value(&text[i..], &mut out);
            at_word_start = false;
        }
    }
    out
}

/// At the start of a word: when the word (up to the next whitespace) looks like
/// `[scheme:[//]]user:password@host...`, writes everything up to the password, the mask and the
/// `@`, and returns how many bytes that replaced (0 when there is no password).
fn redact_userinfo(word: &str, out: &mut String) -> usize {
    // Only whitespace ends the word: a password may contain quotes.
    let end = word.find(char::is_whitespace).unwrap_or(word.len());
    let token = &word[..end];
    let Some(at) = token.rfind('@') else {
        return 0;
    };
    // Skip a scheme (`postgres:`, `mysql:`) and the slashes after it.
    let scheme_len = token
        .find(':')
        .filter(|&colon| {
            colon > 0
                && token[..colon]
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '.' | '-'))
                && token[colon + 1..].starts_with('/')
        })
        .map_or(0, |colon| {
            colon + 1 + token[colon + 1..].len() - token[colon + 1..].trim_start_matches('/').len()
        });
    if scheme_len > at {
        return 0;
    }
    let Some(colon) = token[scheme_len..at].find(':').map(|c| c + scheme_len) else {
        return 0;
    };
    // `password=':x@y'` is a key and its value, not `user:secret@host`: masking from its colon
    // would leave the start and end of the value in the text. The word starts again after
    // the `=`, so a URI there (`dsn=postgres://u:pw@h`) is still found.
    if token[scheme_len..colon].contains('=') {
        return 0;
    }
    if colon + 1 == at {
        return 0; // `user:@host`: an empty password
    }
    out.push_str(&token[..=colon]);
    out.push_str(MASK);
    out.push('@');
    at + 1
}

/// True when the identifier that ends `before` (ignoring blanks before `=`) names a secret.
fn is_secret_key_before(before: &str) -> bool {
    let trimmed = before.trim_end_matches([' ', '\t']);
    let start = trimmed
        .char_indices()
        .rev()
        .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '_'))
        .map_or(0, |(i, c)| i + c.len_utf8());
    let key = trimmed[start..].to_ascii_lowercase();
    !key.is_empty()
        && (key.ends_with("password")
            || key.ends_with("secret")
            || key == "scram_client_key"
            || key == "scram_server_key")
}

/// Masks the value that starts `text` (after blanks), returning the bytes consumed.
fn redact_value(text: &str, out: &mut String) -> usize {
    let blanks = text.len() - text.trim_start_matches([' ', '\t']).len();
    out.push_str(&text[..blanks]);
    let value = &text[blanks..];
    let mut chars = value.char_indices();
    let end = match chars.next() {
        None => return blanks,
        Some((_, quote @ ('\'' | '"'))) => {
            let mut end = value.len();
            while let Some((j, c)) = chars.next() {
                if c == '\\' {
                    chars.next();
                } else if c == quote {
                    end = j + 1;
                    break;
                }
            }
            end
        }
        Some((_, first)) if first.is_whitespace() => return blanks,
        Some(_) => {
            let mut end = value.len();
            let mut chars = value.char_indices();
            while let Some((j, c)) = chars.next() {
                if c == '\\' {
                    chars.next();
                } else if c.is_whitespace() || (c == '&' && starts_with_param(&value[j + 1..])) {
                    end = j;
                    break;
                }
            }
            end
        }
    };
    out.push_str(MASK);
    blanks + end
}

/// `name=...`: the start of another URI query parameter, so a preceding `&` ends the value.
fn starts_with_param(text: &str) -> bool {
    let name_len = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    name_len > 0 && text[name_len..].starts_with('=')
}

#[cfg(test)]
mod tests {
    use super::*;

    // --- redact -----------------------------------------------------------------------------

    #[test]
    fn redact_masks_uri_passwords() {
        assert_eq!(
            redact("could not connect to postgres://alice:s3cr3t@db:5432/app?sslmode=require"),
            "could not connect to postgres://alice:********@db:5432/app?sslmode=require"
        );
        assert_eq!(
            redact("postgresql://alice@db/app"),
            "postgresql://alice@db/app"
        );
        // A raw '@' in the password: everything up to the last '@' goes.
        assert_eq!(
            redact("postgres://u:p@ss@h/db"),
            "postgres://u:********@h/db"
        );
        assert_eq!(
            redact("postgres://u:p@h/db?password=x&sslmode=require"),
            "postgres://u:********@h/db?password=********&sslmode=require"
        );
    }

    #[test]
    fn redact_masks_key_value_passwords_quoted_or_not() {
        assert_eq!(
            redact("host=h password=s3cr3t user=u"),
            "host=h password=******** user=u"
        );
        assert_eq!(
            redact(r"host=h password = 'a b\'c' user=u"),
            "host=h password = ******** user=u"
        );
        assert_eq!(redact(r#"{"password="x y"}"#), r#"{"password=********}"#);
        assert_eq!(redact("PGPASSWORD=s3cr3t psql"), "PGPASSWORD=******** psql");
        assert_eq!(
            redact("sslpassword=kp host=h"),
            "sslpassword=******** host=h"
        );
        assert_eq!(
            redact("password='unterminated and more"),
            "password=********"
        );
        assert_eq!(
            redact("password authentication failed for user \"alice\""),
            "password authentication failed for user \"alice\""
        );
        assert_eq!(redact("password_encryption=md5"), "password_encryption=md5");
        // A value that looks like URI credentials is still one value (found by the fuzzer).
        assert_eq!(
            redact("host='h' password=':@@@@+' user='u'"),
            "host='h' password=******** user='u'"
        );
        assert_eq!(
            redact("password=a:b@c dsn=postgres://u:pw@h/db us=er:p=w@h"),
            "password=******** dsn=postgres://u:********@h/db us=er:********@h"
        );
        assert_eq!(redact("password="), "password=");
    }
}
