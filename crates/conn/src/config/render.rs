//! A conninfo printed back: `Display` and `Debug` (secrets masked) and
//! [`ConnInfo::to_libpq_string`] (every value quoted, e.g. for `CREATE SUBSCRIPTION`). Its own
//! file because rendering, unlike parsing, must never let a secret through.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use super::values::{is_libpq_space, is_secret_keyword, non_empty, timeout_seconds};
use super::{ConnInfo, SslRootCert};
use db_migrate_core::redact::MASK;

impl ConnInfo {
    /// A libpq key=value string for this conninfo (every value single-quoted with `'` and `\`
    /// escaped, keys sorted), e.g. for `CREATE SUBSCRIPTION`, whose conninfo the target server
    /// hands to its own libpq. `include_password = false` leaves out the password and the other
    /// secrets (sslpassword, ...).
    pub fn to_libpq_string(&self, include_password: bool) -> String {
        let mut pairs: BTreeMap<&str, String> = BTreeMap::new();
        for (key, value) in self.plain_pairs() {
            pairs.insert(key, value);
        }
        for (key, value) in &self.other {
            if include_password || !is_secret_keyword(key) {
                pairs.insert(key, value.clone());
            }
        }
        if let Some(password) = non_empty(&self.password).filter(|_| include_password) {
            pairs.insert("password", password.to_owned());
        }
        let rendered: Vec<String> = pairs
            .into_iter()
            .map(|(key, value)| format!("{key}={}", quote_always(&value)))
            .collect();
        rendered.join(" ")
    }

    /// The non-secret typed fields that are set, in the order people read them.
    fn plain_pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs = Vec::new();
        let mut push = |key: &'static str, value: Option<String>| {
            if let Some(value) = value.filter(|v| !v.is_empty()) {
                pairs.push((key, value));
            }
        };
        let path = |p: &Option<PathBuf>| p.as_ref().map(|p| p.to_string_lossy().into_owned());
        push("host", self.host.clone());
        push("hostaddr", self.hostaddr.map(|a| a.to_string()));
        push("port", self.port.map(|p| p.to_string()));
        push("user", self.user.clone());
        push("dbname", self.dbname.clone());
        push("sslmode", self.sslmode.map(|m| m.as_str().to_owned()));
        push(
            "sslrootcert",
            self.sslrootcert.as_ref().map(|root| match root {
                SslRootCert::System => "system".to_owned(),
                SslRootCert::File(path) => path.to_string_lossy().into_owned(),
            }),
        );
        push("sslcert", path(&self.sslcert));
        push("sslkey", path(&self.sslkey));
        push(
            "connect_timeout",
            self.connect_timeout.map(|d| timeout_seconds(d).to_string()),
        );
        push("application_name", self.application_name.clone());
        push("options", self.options.clone());
        push("passfile", path(&self.passfile));
        pairs
    }
}

impl fmt::Display for ConnInfo {
    /// `host=db.example.com port=5432 user=alice dbname=app sslmode=require password=********`:
    /// the settings that are set, secrets masked. Values are quoted only where libpq needs it, so
    /// the text (minus secrets) is itself a valid conninfo.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        let mut item = |f: &mut fmt::Formatter<'_>, key: &str, value: &str| {
            let sep = if first { "" } else { " " };
            first = false;
            write!(f, "{sep}{key}={value}")
        };
        for (key, value) in self.plain_pairs() {
            item(f, key, &quote_if_needed(&value))?;
        }
        for (key, value) in &self.other {
            if is_secret_keyword(key) {
                item(f, key, MASK)?;
            } else {
                item(f, key, &quote_if_needed(value))?;
            }
        }
        if self.password.is_some() {
            item(f, "password", MASK)?;
        }
        Ok(())
    }
}

impl fmt::Debug for ConnInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let other: BTreeMap<&str, &str> = self
            .other
            .iter()
            .map(|(key, value)| {
                let shown = if is_secret_keyword(key) { MASK } else { value };
                (key.as_str(), shown)
            })
            .collect();
        f.debug_struct("ConnInfo")
            .field("host", &self.host)
            .field("hostaddr", &self.hostaddr)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| MASK))
            .field("dbname", &self.dbname)
            .field("sslmode", &self.sslmode)
            .field("sslrootcert", &self.sslrootcert)
            .field("sslcert", &self.sslcert)
            .field("sslkey", &self.sslkey)
            .field("connect_timeout", &self.connect_timeout)
            .field("application_name", &self.application_name)
            .field("options", &self.options)
            .field("passfile", &self.passfile)
            .field("other", &other)
            .field("warnings", &self.warnings)
            .finish()
    }
}

/// `'...'` with `'` and `\` escaped: always valid in a libpq string.
pub(super) fn quote_always(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        if c == '\'' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('\'');
    out
}

/// Plain when libpq would read the value back unchanged, quoted otherwise.
pub(super) fn quote_if_needed(value: &str) -> String {
    let plain = !value.is_empty()
        && !value
            .chars()
            .any(|c| is_libpq_space(c) || c == '\'' || c == '\\');
    if plain {
        value.to_owned()
    } else {
        quote_always(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_util::*;
    use crate::redact;

    #[test]
    fn redact_masks_what_to_libpq_string_renders() {
        let info = parse("host=h user=u password='s3 cr\\'3t' sslpassword=kp");
        let text = redact(&info.to_libpq_string(true));
        assert!(!text.contains("s3") && !text.contains("kp"), "{text}");
    }

    // --- rendering --------------------------------------------------------------------------

    #[test]
    fn display_reads_like_a_conninfo_and_masks_the_password() {
        let info = parse("postgres://alice:s3cr3t@db.example.com:5432/app?sslmode=require");
        assert_eq!(
            info.to_string(),
            "host=db.example.com port=5432 user=alice dbname=app sslmode=require password=********"
        );
        assert_eq!(parse("host=h").to_string(), "host=h");
        assert_eq!(
            parse("application_name='a b'").to_string(),
            "application_name='a b'"
        );
    }

    #[test]
    fn display_and_debug_never_contain_secrets() {
        let info = parse(
            "host=h user=u password='hunter2 is@secret' sslpassword=keypass \
             oauth_client_secret=oauthsecret keepalives=1",
        );
        for shown in [info.to_string(), format!("{info:?}"), format!("{info:#?}")] {
            for secret in ["hunter2", "keypass", "oauthsecret"] {
                assert!(!shown.contains(secret), "{secret} leaked in {shown}");
            }
            assert_contains(&shown, &["********", "keepalives"]);
        }
        assert_contains(&format!("{info:?}"), &["password: Some(\"********\")"]);
        assert_contains(&format!("{:?}", parse("")), &["password: None"]);
    }

    #[test]
    fn to_libpq_string_quotes_every_value_and_sorts_keys() {
        let info = parse(
            "user=alice host=db port=5433 password='pa ss\\'w\\\\d' application_name='my app' \
             connect_timeout=1 sslrootcert=system keepalives=1 sslpassword=kp",
        );
        assert_eq!(info.password.as_deref(), Some(r"pa ss'w\d"));
        assert_eq!(
            info.to_libpq_string(false),
            "application_name='my app' connect_timeout='2' host='db' keepalives='1' \
             port='5433' sslrootcert='system' user='alice'"
        );
        assert_eq!(
            info.to_libpq_string(true),
            r"application_name='my app' connect_timeout='2' host='db' keepalives='1' ".to_owned()
                + r"password='pa ss\'w\\d' port='5433' sslpassword='kp' sslrootcert='system' "
                + "user='alice'"
        );
    }

    #[test]
    fn to_libpq_string_parses_back_to_the_same_settings() {
        for s in [
            "postgres://al%20ice:p%40ss%27%5C@[::1]:6543/my%20db?sslmode=verify-ca&options=-c%20a%3Db",
            "host=/tmp user=x password='a b' sslcert=/c sslkey=/k passfile=/p keepalives=0",
            "hostaddr=192.0.2.9 host=db connect_timeout=30 sslrootcert=/ca.pem",
        ] {
            let info = parse(s);
            assert_eq!(parse(&info.to_libpq_string(true)), info, "{s}");
            let without = parse(&info.to_libpq_string(false));
            assert_eq!(without.password, None);
            assert_eq!(
                ConnInfo {
                    password: None,
                    ..info
                },
                without
            );
        }
    }
}
