//! What the conninfo parser says about keywords it cannot simply apply: unknown keys (errors,
//! as in libpq), libpq keys our own sessions do not use (warnings), and URIs whose scheme is
//! not one libpq accepts (errors that never echo the URI, which usually carries a password).
//!
//! Why unknown keys are errors: libpq refuses them, and a forgiving parser turns a misspelt
//! `passwrod=` or `sslmdoe=` into a session that silently connects without it.

use db_migrate_core::error::Error;

/// Every keyword [`super::ConnInfo`] accepts, for "did you mean" suggestions.
const KNOWN: &[&str] = &[
    "host",
    "hostaddr",
    "port",
    "user",
    "password",
    "dbname",
    "sslmode",
    "sslrootcert",
    "sslcert",
    "sslkey",
    "connect_timeout",
    "application_name",
    "options",
    "passfile",
    "service",
    "servicefile",
    "channel_binding",
    "keepalives",
    "keepalives_idle",
    "keepalives_interval",
    "keepalives_count",
    "tcp_user_timeout",
    "target_session_attrs",
    "sslnegotiation",
    "client_encoding",
];

/// libpq keys that db-migrate's own sessions do not act on, with the values that need no
/// action (what our sessions do anyway). Any other value gets a warning: the key is kept and
/// handed on to the target's libpq in a subscription's conninfo, where it does apply.
const UNUSED: &[(&str, &[&str])] = &[
    ("client_encoding", &["UTF8", "utf8", "UTF-8", "utf-8"]),
    ("fallback_application_name", &[]),
    ("gssdelegation", &["0"]),
    ("gssencmode", &["disable", "prefer", "allow"]),
    ("gsslib", &[]),
    ("krbsrvname", &[]),
    ("load_balance_hosts", &["disable"]),
    ("max_protocol_version", &["3.0"]),
    ("min_protocol_version", &["3.0"]),
    ("oauth_client_id", &[]),
    ("oauth_client_secret", &[]),
    ("oauth_issuer", &[]),
    ("oauth_scope", &[]),
    ("require_auth", &[]),
    ("requirepeer", &[]),
    ("scram_client_key", &[]),
    ("scram_server_key", &[]),
    ("ssl_max_protocol_version", &[]),
    ("ssl_min_protocol_version", &["TLSv1.2"]),
    ("sslcertmode", &["allow"]),
    ("sslcompression", &["0"]),
    ("sslcrl", &[]),
    ("sslcrldir", &[]),
    ("sslkeylogfile", &[]),
    ("sslnegotiation", &["postgres"]),
    ("sslpassword", &[]),
    ("sslsni", &["1"]),
];

/// The error for a key libpq does not know either, with the nearest known keyword when one is
/// close (a typo). `shown` is how the caller may show the key (it may be hidden).
pub(crate) fn unknown_keyword(key: &str, shown: &str) -> Error {
    let suggestion = KNOWN
        .iter()
        .chain(UNUSED.iter().map(|(k, _)| k))
        .map(|known| (edit_distance(key, known), *known))
        .filter(|(d, known)| *d <= 2 && *d < known.len())
        .min()
        .map(|(_, known)| format!(" (did you mean \"{known}\"?)"))
        .unwrap_or_default();
    Error::config(format!(
        "invalid connection option {shown}{suggestion}: libpq does not know it either"
    ))
}

/// A warning when `key` (with `value`) is a libpq key our sessions do not act on.
pub(crate) fn unused_keyword_warning(key: &str, value: &str) -> Option<String> {
    let (_, harmless) = UNUSED.iter().find(|(k, _)| *k == key)?;
    if value.is_empty() || harmless.contains(&value) {
        return None;
    }
    Some(format!(
        "connection option \"{key}\" is not used by db-migrate's own sessions (it is passed on \
         to a subscription's conninfo)"
    ))
}

/// An error when `text` looks like a URI (`scheme:` then `/`, or `scheme:` with an `@` later)
/// whose scheme libpq does not accept: `postgress://`, `postgres:/`, `mysql://`, `pg://`. Only
/// the scheme is quoted; the rest usually carries credentials.
pub(crate) fn misspelt_uri(text: &str) -> Option<Error> {
    let word_end = text
        .find(|c: char| c.is_whitespace() || c == '=')
        .unwrap_or(text.len());
    let word = &text[..word_end];
    let colon = word.find(':')?;
    let scheme = &word[..colon];
    let schemelike = !scheme.is_empty()
        && scheme.len() <= 32
        && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '.' | '-'));
    let rest = &word[colon + 1..];
    if !schemelike || !(rest.starts_with('/') || rest.contains('@')) {
        return None;
    }
    let postgres = matches!(scheme, "postgres" | "postgresql");
    Some(Error::config(if postgres {
        format!(
            "malformed URI: \"{scheme}:\" must be followed by \"//\" (postgresql://host/dbname); \
             the rest is not shown since it may hold a password"
        )
    } else {
        let slashes = if rest.starts_with("//") { "//" } else { "" };
        format!(
            "unsupported URI scheme \"{scheme}:{slashes}\": use postgresql:// or postgres:// \
             (the rest of the URI is not shown since it may hold a password)"
        )
    }))
}

/// Levenshtein distance, for short keywords.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typo_gets_the_nearest_keyword() {
        let e = unknown_keyword("passwrod", "\"passwrod\"").to_string();
        assert!(
            e.contains("\"passwrod\"") && e.contains("did you mean \"password\""),
            "{e}"
        );
        let e = unknown_keyword("frob", "\"frob\"").to_string();
        assert!(!e.contains("did you mean"), "{e}");
    }

    #[test]
    fn misspelt_schemes_are_named_without_the_rest() {
        for (uri, scheme) in [
            ("mysql://u:pw@h/db", "mysql"),
            ("postgress://u:pw@h/db", "postgress"),
            ("pg://u:pw@h", "pg"),
            ("postgres:/u:pw@h/db", "postgres"),
            ("postgresql:u:pw@h/db", "postgresql"),
        ] {
            let e = misspelt_uri(uri).expect(uri).to_string();
            assert!(e.contains(scheme) && !e.contains("pw"), "{uri}: {e}");
        }
        for plain in ["host=h", "host=h:5432", "", "a b", "dbname=x:/y"] {
            assert!(misspelt_uri(plain).is_none(), "{plain}");
        }
    }

    #[test]
    fn harmless_values_of_unused_keys_say_nothing() {
        assert!(unused_keyword_warning("gssencmode", "disable").is_none());
        assert!(unused_keyword_warning("client_encoding", "UTF8").is_none());
        assert!(unused_keyword_warning("keepalives", "0").is_none());
        let w = unused_keyword_warning("krbsrvname", "pg").unwrap();
        assert!(w.contains("krbsrvname"), "{w}");
    }
}
