//! libpq's `postgresql://` URIs (`conninfo_uri_parse_options`): credentials, bracketed IPv6
//! hosts, percent-encoded components and `?key=value` parameters. Its own file because URI
//! syntax and percent-decoding share nothing with the `key=value` tokenizer but the keywords.

use super::RawSettings;
use super::values::{is_known_keyword, is_secret_keyword, parse_port, position, show};
use db_migrate_core::error::{Error, Result};

/// The two URI schemes libpq recognises (case-sensitively, as libpq does).
pub(super) const URI_PREFIXES: [&str; 2] = ["postgresql://", "postgres://"];

/// libpq's `conninfo_uri_parse_options`:
/// `postgresql://[user[:password]@][host][:port][/dbname][?param=value&...]`.
///
/// Like libpq, the credentials end at the first `@` before any `/`, so `@`, `/` and `:` inside a
/// user name or password must be percent-encoded. Empty components leave the setting unset (so
/// the environment still applies), as in libpq.
pub(super) fn parse_uri(s: &str, prefix_len: usize) -> Result<RawSettings> {
    let mut raw = RawSettings::default();
    let rest = &s[prefix_len..];
    let offset = |part: &str| s.len() - part.len(); // byte offset of a suffix of `s`

    let after_credentials = match rest.find(['@', '/']) {
        Some(at) if rest.as_bytes()[at] == b'@' => {
            let credentials = &rest[..at];
            let (user, password) = match credentials.split_once(':') {
                Some((user, password)) => (user, Some(password)),
                None => (credentials, None),
            };
            if !user.is_empty() {
                raw.values
                    .insert("user".into(), percent_decode(user, "user")?);
            }
            if let Some(password) = password.filter(|p| !p.is_empty()) {
                raw.values
                    .insert("password".into(), percent_decode(password, "password")?);
            }
            &rest[at + 1..]
        }
        _ => rest,
    };

    let authority_end = after_credentials
        .find(['/', '?'])
        .unwrap_or(after_credentials.len());
    if after_credentials[..authority_end].contains('@') {
        // A second '@': almost certainly a password with a raw '@'. Say how to fix it, without
        // echoing anything that might be part of the password.
        return Err(Error::config(
            "unexpected \"@\" in the host part of the URI: percent-encode \"@\" in user names \
             and passwords as %40",
        ));
    }

    let netloc = after_credentials;
    let (host, after_host) = if let Some(bracketed) = netloc.strip_prefix('[') {
        let close = bracketed.find(']').ok_or_else(|| {
            Error::config(
                "missing \"]\" after an IPv6 host address in URI (expected e.g. \
                 postgresql://[::1]:5432/db)",
            )
        })?;
        if close == 0 {
            return Err(Error::config("IPv6 host address may not be empty in URI"));
        }
        let after = &bracketed[close + 1..];
        if let Some(c) = after
            .chars()
            .next()
            .filter(|c| !matches!(c, ':' | '/' | '?' | ','))
        {
            return Err(Error::config(format!(
                "unexpected character {} at position {} in URI (expected \":\", \"/\" or \"?\" \
                 after the IPv6 address)",
                show(&c.to_string()),
                position(s, offset(after))
            )));
        }
        (&bracketed[..close], after)
    } else {
        let end = netloc.find([':', '/', '?', ',']).unwrap_or(netloc.len());
        (&netloc[..end], &netloc[end..])
    };

    let (port, after_port) = match after_host.strip_prefix(':') {
        Some(port_and_rest) => {
            let end = port_and_rest
                .find(['/', '?', ','])
                .unwrap_or(port_and_rest.len());
            (Some(&port_and_rest[..end]), &port_and_rest[end..])
        }
        None => (None, after_host),
    };
    if after_port.starts_with(',') {
        return Err(Error::config(
            "multiple hosts are not supported: the URI lists more than one host; give a single \
             host[:port]",
        ));
    }
    if !host.is_empty() {
        raw.values
            .insert("host".into(), percent_decode(host, "host")?);
    }
    if let Some(port) = port.filter(|p| !p.is_empty()) {
        let decoded = percent_decode(port, "port")?;
        if parse_port(&decoded).is_none() {
            let hint = "expected a port number from 1 to 65535; IPv6 addresses go in brackets \
                        (postgresql://[::1]:5432/db) and \":\", \"/\" and \"@\" in user names or \
                        passwords must be percent-encoded";
            // With credentials in the URI the "port" may be a piece of a password that
            // contained a raw '/': then it is not repeated.
            return Err(Error::config(if s.contains('@') {
                format!("invalid port in URI: {hint}")
            } else {
                format!("invalid port {} in URI: {hint}", show(&decoded))
            }));
        }
        raw.values.insert("port".into(), decoded);
    }

    let mut remainder = after_port;
    if let Some(path) = remainder.strip_prefix('/') {
        let end = path.find('?').unwrap_or(path.len());
        let dbname = &path[..end];
        // An empty dbname is left unset (libpq), so that PGDATABASE still applies.
        if !dbname.is_empty() {
            raw.values
                .insert("dbname".into(), percent_decode(dbname, "dbname")?);
        }
        remainder = &path[end..];
    }
    if let Some(query) = remainder.strip_prefix('?') {
        parse_uri_query(query, &mut raw)?;
    }
    Ok(raw)
}

/// `key=value&key=value`, both sides percent-decoded; the last value for a key wins. libpq maps
/// JDBC's `ssl=true` to `sslmode=require`, and so do we.
pub(super) fn parse_uri_query(query: &str, raw: &mut RawSettings) -> Result<()> {
    let mut previous_was_secret = false;
    for param in query.split('&') {
        if param.is_empty() {
            continue;
        }
        let Some((key, value)) = param.split_once('=') else {
            return Err(Error::config(if previous_was_secret {
                "missing \"=\" in a URI query parameter after a password (percent-encode \"&\" \
                 in passwords as %26)"
                    .to_owned()
            } else {
                // Not shown: a bare word in the query is often a piece of a password whose
                // "&" was not encoded, or a password typed where a parameter should be.
                "missing \"=\" in a URI query parameter (expected key=value; the parameter is \
                 not shown since it may be a password; percent-encode \"&\" in passwords as %26)"
                    .to_owned()
            }));
        };
        let key = percent_decode(key, "URI query parameter name")?;
        let value = percent_decode(value, &key)?;
        if previous_was_secret && !is_known_keyword(&key) {
            raw.after_secret.insert(key.clone());
        }
        previous_was_secret = is_secret_keyword(&key);
        if key == "ssl" && value == "true" {
            raw.values.insert("sslmode".into(), "require".into());
        } else {
            raw.values.insert(key, value);
        }
    }
    Ok(())
}

/// libpq's `conninfo_uri_decode`: `%XX` with two hex digits, `%00` refused, `+` left alone.
/// `what` names the component in errors; a secret's value is never quoted.
pub(super) fn percent_decode(value: &str, what: &str) -> Result<String> {
    if !value.contains('%') {
        return Ok(value.to_owned());
    }
    let secret = is_secret_keyword(what);
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'%' {
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        let digit = |j: usize| bytes.get(j).and_then(|b| (*b as char).to_digit(16));
        match (digit(i + 1), digit(i + 2)) {
            (Some(hi), Some(lo)) if hi == 0 && lo == 0 => {
                return Err(Error::config(format!(
                    "forbidden value %00 in percent-encoded {what} in URI"
                )));
            }
            (Some(hi), Some(lo)) => {
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            _ => {
                let token: String = value[i..].chars().take(3).collect();
                return Err(Error::config(if secret {
                    format!("invalid percent-encoding in the {what} in URI (value not shown)")
                } else {
                    format!(
                        "invalid percent-encoding {} in the {what} in URI (expected % followed \
                         by two hex digits)",
                        show(&token)
                    )
                }));
            }
        }
    }
    String::from_utf8(out)
        .map_err(|_| Error::config(format!("percent-encoded {what} in URI is not valid UTF-8")))
}

#[cfg(test)]
mod tests {
    use crate::config::test_util::*;
    use crate::config::{ConnInfo, SslMode};
    use std::time::Duration;

    // --- URIs -------------------------------------------------------------------------------

    #[test]
    fn uri_examples_from_the_libpq_docs() {
        assert_eq!(parse("postgresql://"), ConnInfo::default());
        assert_eq!(
            parse("postgresql://localhost").host.as_deref(),
            Some("localhost")
        );
        let info = parse("postgresql://localhost:5433");
        assert_eq!(
            (info.host.as_deref(), info.port),
            (Some("localhost"), Some(5433))
        );
        assert_eq!(
            parse("postgresql://localhost/mydb").dbname.as_deref(),
            Some("mydb")
        );
        assert_eq!(
            parse("postgresql://user@localhost").user.as_deref(),
            Some("user")
        );
        let info = parse("postgresql://user:secret@localhost");
        assert_eq!(info.password.as_deref(), Some("secret"));

        let info =
            parse("postgresql://other@localhost/otherdb?connect_timeout=10&application_name=myapp");
        assert_eq!(info.user.as_deref(), Some("other"));
        assert_eq!(info.dbname.as_deref(), Some("otherdb"));
        assert_eq!(info.connect_timeout, Some(Duration::from_secs(10)));
        assert_eq!(info.application_name.as_deref(), Some("myapp"));

        let info = parse("postgresql:///mydb?host=localhost&port=5433");
        assert_eq!(info.host.as_deref(), Some("localhost"));
        assert_eq!(info.port, Some(5433));
        assert_eq!(info.dbname.as_deref(), Some("mydb"));

        let info =
            parse("postgresql://user@localhost:5433/mydb?options=-c%20synchronous_commit%3Doff");
        assert_eq!(info.options.as_deref(), Some("-c synchronous_commit=off"));

        let info = parse("postgres://localhost/mydb?user=other&password=secret");
        assert_eq!(info.user.as_deref(), Some("other"));
        assert_eq!(info.password.as_deref(), Some("secret"));
        assert!(info.warnings.is_empty());
    }

    #[test]
    fn uri_ipv6_literals_go_in_brackets_and_lose_them() {
        let info = parse("postgresql://[2001:db8::1234]/database");
        assert_eq!(info.host.as_deref(), Some("2001:db8::1234"));
        assert_eq!(info.dbname.as_deref(), Some("database"));
        let info = parse("postgresql://[::1]:5433");
        assert_eq!((info.host.as_deref(), info.port), (Some("::1"), Some(5433)));
        let info = parse("postgres://u@[fe80::1%25eth0]:5432/db");
        assert_eq!(info.host.as_deref(), Some("fe80::1%eth0"));
    }

    #[test]
    fn uri_unix_sockets_as_percent_encoded_host_or_host_parameter() {
        let info = parse("postgresql://%2Fvar%2Flib%2Fpostgresql/dbname");
        assert_eq!(info.host.as_deref(), Some("/var/lib/postgresql"));
        assert_eq!(info.dbname.as_deref(), Some("dbname"));
        assert!(info.is_unix_socket());

        let info = parse("postgresql:///dbname?host=/var/lib/postgresql");
        assert_eq!(info.host.as_deref(), Some("/var/lib/postgresql"));
        assert!(info.is_unix_socket());
    }

    #[test]
    fn uri_components_are_percent_decoded() {
        let info = parse("postgres://al%20ice:p%40ss%3Aw%2Frd%27%C3%A9@db.example.com/my%20db");
        assert_eq!(info.user.as_deref(), Some("al ice"));
        assert_eq!(info.password.as_deref(), Some("p@ss:w/rd'é"));
        assert_eq!(info.dbname.as_deref(), Some("my db"));
        // '+' is not a space in libpq URIs.
        assert_eq!(parse("postgres:///a+b").dbname.as_deref(), Some("a+b"));
    }

    #[test]
    fn uri_query_parameters_last_value_wins_and_unknown_ones_are_refused() {
        let info = parse("postgres://h/db?sslmode=disable&sslmode=require&connect_timeout=10");
        assert_eq!(info.sslmode, Some(SslMode::Require));
        assert_contains(
            &parse_err("postgres://h/db?foo=1"),
            &["invalid connection option \"foo\""],
        );
        // A query parameter overrides the host part.
        assert_eq!(parse("postgres://a/db?host=b").host.as_deref(), Some("b"));
        // JDBC's ssl=true, as libpq maps it.
        assert_eq!(
            parse("postgres://h?ssl=true").sslmode,
            Some(SslMode::Require)
        );
        // Forgiving where libpq is strict: '=' inside a value and empty parameters.
        let info = parse("postgres://h?options=-csearch_path=x&&");
        assert_eq!(info.options.as_deref(), Some("-csearch_path=x"));
    }

    #[test]
    fn empty_uri_components_leave_settings_to_the_environment() {
        let info = parse_env(
            "postgres://:@/?",
            &[("PGUSER", "env_user"), ("PGDATABASE", "env_db")],
        )
        .unwrap();
        assert_eq!(info.user.as_deref(), Some("env_user"));
        assert_eq!(info.dbname.as_deref(), Some("env_db"));
        assert_eq!(info.password, None);
    }

    #[test]
    fn surrounding_whitespace_around_a_uri_is_ignored() {
        assert_eq!(parse("  postgres://h/db\n").dbname.as_deref(), Some("db"));
    }

    #[test]
    fn an_ipv6_address_without_brackets_in_a_uri_gets_a_hint() {
        assert_contains(&parse_err("postgres://::1/db"), &["port", "brackets"]);
        assert_contains(&parse_err("postgres://[::1/db"), &["missing \"]\""]);
        assert_contains(&parse_err("postgres://[]/db"), &["may not be empty"]);
        assert_contains(
            &parse_err("postgres://[::1]x/db"),
            &["unexpected character \"x\"", "position 17"],
        );
    }

    #[test]
    fn invalid_percent_encoding_names_the_component_but_never_a_password() {
        assert_contains(&parse_err("postgres:///my%zzdb"), &["dbname", "\"%zz\""]);
        assert_contains(
            &parse_err("postgres://h?application_name=%4"),
            &["application_name", "\"%4\""],
        );
        assert_contains(&parse_err("postgres:///a%00b"), &["%00"]);
        assert_contains(&parse_err("postgres:///%ff"), &["UTF-8"]);

        let err = parse_err("postgres://u:hunter2%zz@h/db");
        assert_contains(&err, &["password", "not shown"]);
        assert!(!err.contains("hunter2") && !err.contains("%zz"), "{err}");
        let err = parse_err("postgres://h/db?password=hunter2%g");
        assert!(!err.contains("hunter2") && !err.contains("%g"), "{err}");
    }

    #[test]
    fn a_raw_at_or_slash_in_a_uri_password_is_refused_without_echoing_it() {
        let err = parse_err("postgres://u:hun@ter2@h/db");
        assert_contains(&err, &["%40"]);
        assert!(!err.contains("ter2"), "{err}");

        let err = parse_err("postgres://u:hun/ter2@h/db");
        assert_contains(&err, &["invalid port", "percent-encoded"]);
        assert!(!err.contains("hun"), "{err}");
    }
}
