//! Connection info exactly as libpq accepts it.
//!
//! Users paste connection strings from their cloud console, from `psql` history or from an
//! existing `PG*` environment, so we accept what libpq accepts and mean what libpq means:
//!
//! - `postgresql://` / `postgres://` URIs (percent-encoding, `[IPv6]` literals, a percent-encoded
//!   unix-socket directory as the host, `?key=value` parameters with the same keys as below);
//! - `key=value` strings (whitespace around `=`, single-quoted values with `\'` and `\\`);
//! - a `dbname` that is itself a connection string, expanded in place (what libpq does for the
//!   `dbname` parameter of `PQconnectdbParams`, and so what `psql -d` does);
//! - a connection service (`service=name` or `PGSERVICE`, from `pg_service.conf` files) for
//!   whatever the string leaves unset;
//! - the `PG*` environment variables for whatever the string and the service leave unset;
//! - the password file (`~/.pgpass`, `passfile`, `PGPASSFILE`), looked up only when a password
//!   is actually needed ([`ConnInfo::resolve_password`]).
//!
//! Where we knowingly differ from libpq we are more forgiving, never stricter: a URI query value
//! may contain `=`, and surrounding whitespace around a URI is ignored. An unknown key is an
//! error, as in libpq (a misspelt `passwrod=` must not quietly connect without a password); a
//! libpq key db-migrate's own sessions do not use is a warning (see [`super::keywords`]). Several hosts (`host=a,b`) are refused with a clear error: a migration
//! talks to one server per side.
//!
//! Passwords never leave this module in readable form except through
//! [`ConnInfo::resolve_password`] and [`ConnInfo::to_libpq_string`] with `include_password`:
//! `Display` and `Debug` mask them, error messages never quote them, and [`redact`] scrubs them
//! from arbitrary text that might echo a connection string.
//!
//! One file per concern: `keyword_value` and `uri` turn text into raw settings, `service`
//! reads the connection service file, `env` fills what the string and the service left unset,
//! `pgpass` finds a password, `render` prints a conninfo back (secrets masked) and [`redact`]
//! scrubs secrets from free text; `values` holds the keyword lists and the value checks they
//! share, `feature_values` the values of the keys our own connection features read
//! (keepalives, `target_session_attrs`, `channel_binding`). This file holds the typed result,
//! [`ConnInfo`], and
//! the one place a keyword is typed and validated (`ConnInfo::set`).

mod env;
pub(crate) mod feature_values;
mod keyword_value;
mod pgpass;

mod render;
mod service;
mod uri;
mod values;

pub use db_migrate_core::redact::redact;

use std::{
    collections::{BTreeMap, BTreeSet},
    fmt,
    net::IpAddr,
    path::PathBuf,
    str::FromStr,
    time::Duration,
};

use db_migrate_core::error::{Error, Result};
use keyword_value::parse_keyword_value;
use uri::{URI_PREFIXES, parse_uri};
use values::{
    SERVICE_KEYWORDS, default_socket_dir, invalid, is_known_keyword, is_libpq_space, non_empty,
    parse_connect_timeout, parse_port, reject_list, show, show_key, strip_ipv6_brackets,
};

/// libpq's `DEF_PGPORT`.
const DEFAULT_PORT: u16 = 5432;

/// libpq's `sslmode`: how hard to insist on TLS and how much of the server's certificate to
/// check. The default, `prefer`, tries TLS and silently falls back to plaintext, as libpq does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SslMode {
    Disable,
    Allow,
    #[default]
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    const ALL: [SslMode; 6] = [
        SslMode::Disable,
        SslMode::Allow,
        SslMode::Prefer,
        SslMode::Require,
        SslMode::VerifyCa,
        SslMode::VerifyFull,
    ];

    /// The libpq spelling, e.g. `verify-full`.
    pub fn as_str(&self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Allow => "allow",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

/// "one of disable, allow, ..." for error messages, so a typo is fixed without opening the docs.
fn sslmode_choices() -> String {
    let names: Vec<&str> = SslMode::ALL.iter().map(SslMode::as_str).collect();
    format!("expected one of {}", names.join(", "))
}

impl FromStr for SslMode {
    type Err = Error;

    /// Accepts exactly libpq's spellings (case-sensitive, as libpq compares them).
    fn from_str(s: &str) -> Result<Self> {
        SslMode::ALL
            .into_iter()
            .find(|mode| mode.as_str() == s)
            .ok_or_else(|| {
                Error::config(format!(
                    "invalid sslmode {}: {}",
                    show(s),
                    sslmode_choices()
                ))
            })
    }
}

impl fmt::Display for SslMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where the certificates that may sign the server's certificate come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SslRootCert {
    /// A PEM file of CA certificates.
    File(PathBuf),
    /// `sslrootcert=system`: the platform's trusted roots (libpq 16 semantics; libpq then also
    /// forces `verify-full`, which is the caller's decision here).
    System,
}

/// One server's connection settings, as given (string, then service file, then environment),
/// before defaults.
///
/// Fields are `None` when neither the string nor the environment set them; the accessor methods
/// ([`ConnInfo::host`], [`ConnInfo::port`], ...) apply libpq's defaults. An empty value in the
/// string (`host=''`) counts as "set to the default": like libpq, it stops the environment
/// variable from applying.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct ConnInfo {
    /// Host name, IP literal without brackets, or a unix-socket directory (starts with `/`).
    pub host: Option<String>,
    /// Numeric address to connect to instead of resolving `host` (which then only names the
    /// server for TLS and pgpass).
    pub hostaddr: Option<IpAddr>,
    pub port: Option<u16>,
    pub user: Option<String>,
    /// Never printed by `Display` or `Debug`.
    pub password: Option<String>,
    pub dbname: Option<String>,
    pub sslmode: Option<SslMode>,
    pub sslrootcert: Option<SslRootCert>,
    pub sslcert: Option<PathBuf>,
    pub sslkey: Option<PathBuf>,
    /// `None` also when libpq's "wait forever" (0 or negative) was asked for.
    pub connect_timeout: Option<Duration>,
    pub application_name: Option<String>,
    pub options: Option<String>,
    pub passfile: Option<PathBuf>,
    /// Keys libpq knows that we accept and pass on where it matters (e.g. keepalives,
    /// target_session_attrs, channel_binding, sslnegotiation, gssencmode,
    /// fallback_application_name, client_encoding...). Keep them so the conninfo we hand to a
    /// subscription can include them.
    pub other: BTreeMap<String, String>,
    /// One human-readable warning per unknown key ("unknown connection option \"foo\" ignored").
    pub warnings: Vec<String>,
}

/// Where a value came from, so that an error can point at the right thing to fix.
#[derive(Clone, Copy)]
enum Origin<'a> {
    Text,
    Env(&'a str),
    /// A line of a service file: the service's name, the file and the 1-based line number.
    Service(&'a str, &'a std::path::Path, usize),
}

/// The settings of one connection string before they are typed: keyword -> value, the last
/// occurrence winning (libpq's rule for repeated keys).
#[derive(Default)]
struct RawSettings {
    values: BTreeMap<String, String>,
    /// Unknown keys that directly follow an unquoted secret: probably the second half of a
    /// password that contains a space, so their names are not repeated in warnings.
    after_secret: BTreeSet<String>,
}

impl ConnInfo {
    /// Parses a `postgres://`/`postgresql://` URI or a libpq key=value string (an empty string
    /// is valid: all defaults), then fills unset fields from the connection service it names
    /// (`service`, else `PGSERVICE`; see `service.rs`), then from the process environment (PGHOST,
    /// PGHOSTADDR, PGPORT, PGUSER, PGPASSWORD, PGDATABASE, PGSSLMODE, PGSSLROOTCERT, PGSSLCERT,
    /// PGSSLKEY, PGCONNECT_TIMEOUT, PGAPPNAME, PGPASSFILE, PGOPTIONS, and libpq's other `PG*`
    /// variables for the keys kept in [`ConnInfo::other`]).
    pub fn parse(s: &str) -> Result<ConnInfo> {
        Self::parse_with_env(s, &|name| std::env::var(name).ok())
    }

    /// Same as [`ConnInfo::parse`], with the environment supplied by the caller (tests use this;
    /// `parse` passes `std::env::var`).
    pub fn parse_with_env(s: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<ConnInfo> {
        if s.contains('\0') {
            // libpq would silently truncate at the NUL; the server could never be sent it anyway.
            return Err(Error::config(
                "connection info must not contain NUL characters",
            ));
        }
        // Whatever went wrong, the message passes through `redact`: a string that does not parse
        // may still hold a password (a misspelt URI scheme, a stray `password=` pair).
        let raw = parse_settings(s, true).map_err(Error::redacted)?;
        let mut info = ConnInfo::default();
        for (key, value) in &raw.values {
            if raw.after_secret.contains(key) && !is_known_keyword(key) {
                // Not named: it is most likely the second half of the password.
                return Err(Error::config(
                    "invalid connection option right after a password (a password that \
                     contains spaces must be in single quotes)",
                ));
            }
            info.set(key, value, Origin::Text)
                .map_err(Error::redacted)?;
        }
        // libpq's order: the string, then the service for keys the string did not mention, then
        // the environment for keys neither mentioned (even with an empty value).
        let mut given: BTreeSet<String> = raw.values.keys().cloned().collect();
        if let Some(service) = service::lookup(&raw.values, env)? {
            for (key, (value, line)) in &service.values {
                if given.insert(key.clone()) {
                    info.set(
                        key,
                        value,
                        Origin::Service(&service.name, &service.file, *line),
                    )?;
                }
            }
        }
        env::apply(&mut info, &given, env)?;
        Ok(info)
    }

    /// Effective host: `host`, else `hostaddr` as text, else the default unix-socket directory:
    /// `/var/run/postgresql` if that directory exists, else `/tmp`.
    pub fn host(&self) -> String {
        if let Some(host) = non_empty(&self.host) {
            return host.to_owned();
        }
        if let Some(addr) = self.hostaddr {
            return addr.to_string();
        }
        default_socket_dir().to_owned()
    }

    /// Effective port: default 5432.
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(DEFAULT_PORT)
    }

    /// Effective user: `user`, else the OS user name (`USER` / `LOGNAME`), else `postgres`.
    pub fn user(&self) -> String {
        if let Some(user) = non_empty(&self.user) {
            return user.to_owned();
        }
        ["USER", "LOGNAME"]
            .iter()
            .filter_map(|var| std::env::var(var).ok())
            .find(|name| !name.is_empty())
            .unwrap_or_else(|| "postgres".to_owned())
    }

    /// Effective database: `dbname`, else the effective user (libpq's default).
    pub fn dbname(&self) -> String {
        match non_empty(&self.dbname) {
            Some(db) => db.to_owned(),
            None => self.user(),
        }
    }

    /// Effective sslmode: default `prefer`. libpq never uses TLS on unix sockets; that is the
    /// connecting code's decision, not implied here.
    pub fn sslmode(&self) -> SslMode {
        self.sslmode.unwrap_or_default()
    }

    /// True when we would connect through a unix socket: the effective host is a directory and
    /// no `hostaddr` overrides it.
    pub fn is_unix_socket(&self) -> bool {
        self.hostaddr.is_none() && self.host().starts_with('/')
    }

    /// The same settings on another database (one session per database is how a migration
    /// walks an installation).
    pub fn with_dbname(&self, db: &str) -> ConnInfo {
        ConnInfo {
            dbname: Some(db.to_owned()),
            ..self.clone()
        }
    }

    /// Applies one keyword, typed and validated.
    fn set(&mut self, key: &str, value: &str, origin: Origin<'_>) -> Result<()> {
        if SERVICE_KEYWORDS.contains(&key) {
            // Already resolved into the other keys by `service::lookup`; not kept, since the
            // target server's libpq (a subscription's conninfo) has no such file.
            return Ok(());
        }
        if !is_known_keyword(key) {
            return Err(super::keywords::unknown_keyword(key, &show_key(key)));
        }
        if let Some(warning) = super::keywords::unused_keyword_warning(key, value) {
            self.warn(warning);
        }
        if value.is_empty() {
            // libpq treats an empty value as "use the default".
            return Ok(());
        }
        let text = || Some(value.to_owned());
        match key {
            "host" => {
                reject_list(key, value, origin)?;
                self.host = Some(strip_ipv6_brackets(value).to_owned());
            }
            "hostaddr" => {
                reject_list(key, value, origin)?;
                let addr = strip_ipv6_brackets(value).parse().map_err(|_| {
                    invalid(
                        key,
                        value,
                        origin,
                        "expected a numeric IPv4 or IPv6 address",
                    )
                })?;
                self.hostaddr = Some(addr);
            }
            "port" => {
                reject_list(key, value, origin)?;
                self.port = Some(parse_port(value).ok_or_else(|| {
                    invalid(key, value, origin, "expected a port number from 1 to 65535")
                })?);
            }
            "user" => self.user = text(),
            "password" => self.password = text(),
            "dbname" => self.dbname = text(),
            "sslmode" => {
                self.sslmode = Some(
                    value
                        .parse()
                        .map_err(|_| invalid(key, value, origin, &sslmode_choices()))?,
                );
            }
            "sslrootcert" => {
                self.sslrootcert = Some(if value == "system" {
                    SslRootCert::System
                } else {
                    SslRootCert::File(PathBuf::from(value))
                });
            }
            "sslcert" => self.sslcert = Some(PathBuf::from(value)),
            "sslkey" => self.sslkey = Some(PathBuf::from(value)),
            "connect_timeout" => {
                self.connect_timeout = parse_connect_timeout(value).ok_or_else(|| {
                    invalid(key, value, origin, "expected a whole number of seconds")
                })?;
            }
            "application_name" => self.application_name = text(),
            "options" => self.options = text(),
            "passfile" => self.passfile = Some(PathBuf::from(value)),
            _ => {
                feature_values::check_value(key, value)?;
                self.other.insert(key.to_owned(), value.to_owned());
            }
        }
        Ok(())
    }

    fn warn(&mut self, warning: String) {
        if !self.warnings.contains(&warning) {
            self.warnings.push(warning);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Parsing: text -> RawSettings
// ---------------------------------------------------------------------------------------------

/// A URI or a key=value string. `expand_dbname` is true at the top level only: libpq expands the
/// first `dbname` once, and a `dbname` inside the expansion is a plain name.
fn parse_settings(s: &str, expand_dbname: bool) -> Result<RawSettings> {
    let trimmed = s.trim_matches(is_libpq_space);
    match URI_PREFIXES.iter().find(|p| trimmed.starts_with(*p)) {
        Some(prefix) => parse_uri(trimmed, prefix.len()),
        None => {
            if let Some(err) = super::keywords::misspelt_uri(trimmed) {
                return Err(err);
            }
            parse_keyword_value(s, expand_dbname)
        }
    }
}

#[cfg(test)]
mod test_util {
    use super::ConnInfo;
    use db_migrate_core::error::Result;
    use std::collections::HashMap;

    /// Parses with an empty environment, so the machine's PG* variables cannot leak into tests.
    pub(super) fn parse(s: &str) -> ConnInfo {
        ConnInfo::parse_with_env(s, &|_| None)
            .unwrap_or_else(|e| panic!("{s:?} should parse, got: {e}"))
    }

    /// The error message for a string that must not parse.
    pub(super) fn parse_err(s: &str) -> String {
        match ConnInfo::parse_with_env(s, &|_| None) {
            Ok(info) => panic!("{s:?} should not parse, got {info:?}"),
            Err(e) => {
                assert_eq!(e.kind(), db_migrate_core::error::ErrorKind::Config, "{e}");
                e.message().to_owned()
            }
        }
    }

    pub(super) fn parse_env(s: &str, vars: &[(&str, &str)]) -> Result<ConnInfo> {
        let env: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ConnInfo::parse_with_env(s, &move |name| env.get(name).cloned())
    }

    pub(super) fn assert_contains(haystack: &str, needles: &[&str]) {
        for needle in needles {
            assert!(
                haystack.contains(needle),
                "expected {needle:?} in {haystack:?}"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_util::*;

    // --- sslmode ----------------------------------------------------------------------------

    #[test]
    fn sslmode_accepts_every_libpq_spelling_and_renders_it_back() {
        for name in [
            "disable",
            "allow",
            "prefer",
            "require",
            "verify-ca",
            "verify-full",
        ] {
            let mode: SslMode = name.parse().unwrap();
            assert_eq!(mode.as_str(), name);
            assert_eq!(mode.to_string(), name);
        }
        assert_eq!(SslMode::default(), SslMode::Prefer);
    }

    #[test]
    fn a_bad_sslmode_names_the_value_and_the_valid_ones() {
        let err = "verify_full".parse::<SslMode>().unwrap_err().to_string();
        assert_contains(
            &err,
            &[
                "\"verify_full\"",
                "disable, allow, prefer, require, verify-ca, verify-full",
            ],
        );
        assert_contains(
            &parse_err("sslmode=Require"),
            &["sslmode", "\"Require\"", "verify-full"],
        );
    }

    // --- defaults ---------------------------------------------------------------------------

    #[test]
    fn an_empty_string_means_all_defaults() {
        for s in ["", "   ", "\n\t"] {
            let info = parse(s);
            assert_eq!(info, ConnInfo::default());
            assert_eq!(info.port(), 5432);
            assert_eq!(info.sslmode(), SslMode::Prefer);
            assert!(info.is_unix_socket());
            assert!(["/var/run/postgresql", "/tmp"].contains(&info.host().as_str()));
        }
    }

    #[test]
    fn the_database_defaults_to_the_user() {
        assert_eq!(parse("user=alice").dbname(), "alice");
        assert_eq!(parse("user=alice dbname=app").dbname(), "app");
        assert!(!parse("").user().is_empty());
    }

    #[test]
    fn hostaddr_is_the_effective_host_when_host_is_missing_and_means_tcp() {
        let info = parse("hostaddr=10.1.2.3");
        assert_eq!(info.hostaddr, Some("10.1.2.3".parse().unwrap()));
        assert_eq!(info.host(), "10.1.2.3");
        assert!(!info.is_unix_socket());

        let info = parse("host=/tmp hostaddr=::1");
        assert_eq!(info.host(), "/tmp");
        assert!(!info.is_unix_socket(), "hostaddr wins over a socket dir");
    }

    #[test]
    fn with_dbname_changes_only_the_database() {
        let info = parse("host=h user=u password=p dbname=a");
        let other = info.with_dbname("b");
        assert_eq!(other.dbname(), "b");
        assert_eq!(
            other,
            ConnInfo {
                dbname: Some("b".into()),
                ..info
            }
        );
    }

    #[test]
    fn libpq_keywords_without_a_field_are_kept_for_passing_on() {
        let info = parse(
            "host=h keepalives=1 keepalives_idle=30 target_session_attrs=read-write \
             channel_binding=prefer sslnegotiation=direct gssencmode=disable \
             fallback_application_name=x client_encoding=UTF8",
        );
        // Only the keys our own sessions do not use, with values that would ask for something.
        assert_eq!(info.warnings.len(), 2, "{:?}", info.warnings);
        assert!(
            info.warnings
                .iter()
                .any(|w| w.contains("\"sslnegotiation\""))
        );
        assert!(
            info.warnings
                .iter()
                .any(|w| w.contains("\"fallback_application_name\""))
        );
        assert_eq!(info.other["keepalives_idle"], "30");
        assert_eq!(info.other["target_session_attrs"], "read-write");
        assert_eq!(info.other.len(), 8);
    }

    #[test]
    fn an_unknown_key_is_an_error_as_in_libpq_with_the_nearest_keyword() {
        assert_contains(
            &parse_err("host=h frob=1"),
            &["invalid connection option \"frob\"", "libpq"],
        );
        let err = parse_err("host=h passwrod=s3cr3t");
        assert_contains(&err, &["\"passwrod\"", "did you mean \"password\""]);
        assert!(!err.contains("s3cr3t"), "{err}");
        assert_contains(
            &parse_err("postgres://h/db?sslmdoe=require"),
            &["\"sslmdoe\"", "did you mean \"sslmode\""],
        );
    }

    #[test]
    fn strings_that_do_not_parse_never_echo_credentials() {
        for bad in [
            "mysql://u:pw1234@h/db",
            "postgress://u:pw1234@h/db",
            "postgres:/u:pw1234@h/db",
            "pg://u:pw1234@h",
            "postgresql:u:pw1234@h/db",
            "u:pw1234@h/db",
            "host=h password=pw1234 'x",
            "host=h password='pw1234",
            "postgres://u:pw1234@h/db?user=x&pw1234",
            "postgres://h/db?password=pw1234&pw1234",
            "host=h x:pw1234@y=1",
            "dbname='mysql://u:pw1234@h/db' port=x",
        ] {
            let err = parse_err(bad);
            assert!(!err.contains("pw1234"), "{bad}: {err}");
        }
        assert_contains(
            &parse_err("mysql://u:pw@h/db"),
            &["\"mysql://\"", "postgresql://"],
        );
        assert_contains(&parse_err("postgres:/u:pw@h/db"), &["\"//\""]);
    }

    #[test]
    fn sslrootcert_system_means_the_platform_roots() {
        assert_eq!(
            parse("sslrootcert=system").sslrootcert,
            Some(SslRootCert::System)
        );
        assert_eq!(
            parse("sslrootcert=/etc/ca.pem").sslrootcert,
            Some(SslRootCert::File("/etc/ca.pem".into()))
        );
    }

    #[test]
    fn connect_timeout_follows_libpq_zero_waits_forever_and_one_means_two() {
        assert_eq!(parse("connect_timeout=0").connect_timeout, None);
        assert_eq!(parse("connect_timeout=-5").connect_timeout, None);
        assert_eq!(
            parse("connect_timeout=1").connect_timeout,
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            parse("connect_timeout=' 30 '").connect_timeout,
            Some(Duration::from_secs(30))
        );
    }

    // --- malformed input --------------------------------------------------------------------

    #[test]
    fn multiple_hosts_are_refused_clearly() {
        for s in [
            "postgresql://host1:123,host2:456/somedb?target_session_attrs=any",
            "host=a,b",
            "postgres:///db?host=a,b",
        ] {
            assert_contains(&parse_err(s), &["multiple hosts are not supported"]);
        }
        assert_contains(
            &parse_err("port=1,2"),
            &["multiple ports are not supported"],
        );
        let err = parse_env("", &[("PGHOST", "a,b")]).unwrap_err().to_string();
        assert_contains(&err, &["multiple hosts", "PGHOST"]);
    }

    #[test]
    fn a_bad_port_names_the_key_and_the_value() {
        for (s, value) in [
            ("port=abc", "\"abc\""),
            ("port=0", "\"0\""),
            ("port=65536", "\"65536\""),
            ("postgres://h:99999/db", "\"99999\""),
            ("postgres://h/db?port=x", "\"x\""),
        ] {
            assert_contains(&parse_err(s), &["port", value, "1 to 65535"]);
        }
    }

    #[test]
    fn bad_values_name_the_key_and_the_value() {
        assert_contains(
            &parse_err("connect_timeout=soon"),
            &["connect_timeout", "\"soon\"", "seconds"],
        );
        assert_contains(
            &parse_err("hostaddr=db.example.com"),
            &["hostaddr", "\"db.example.com\""],
        );
        assert_contains(
            &parse_err("postgres://h/db?sslmode=on"),
            &["sslmode", "\"on\""],
        );
    }

    #[test]
    fn nul_characters_are_refused() {
        assert_contains(&parse_err("host=a\0b"), &["NUL"]);
    }

    #[test]
    fn malformed_input_never_panics() {
        let nasty = [
            "'",
            "=",
            "==",
            "a=",
            "a='",
            "a='\\",
            "a=\\",
            "\\",
            "postgres://",
            "postgres://@",
            "postgres://:",
            "postgres://[",
            "postgres://[]",
            "postgres://[:",
            "postgres://%",
            "postgres://%2",
            "postgres://h:",
            "postgres://h:/",
            "postgres://h?",
            "postgres://h?=",
            "postgres://h?a",
            "postgres://h?=&=",
            "postgres://u@:@h",
            "postgresql://é:é@é/é?é=é",
            "postgres://[é]",
            "postgres://[::1]é",
            "dbname=postgres://",
            "dbname='dbname='",
            "dbname=\\",
            "host=[",
            "host=[]",
            "hostaddr=[::1]",
            "port=-1",
            "port=+1",
            "connect_timeout=99999999999",
            "connect_timeout=-99999999999",
            "a b c",
            "é=é",
            "postgres://u:p@h:1,",
            "postgres://,",
            "postgres:///?&&&",
        ];
        for s in nasty {
            let _ = ConnInfo::parse_with_env(s, &|_| None);
            let _ = redact(s);
        }
        // Unicode everywhere, sliced at every boundary.
        let s = "postgresql://ü:🔑@[::1]:5432/ß?application_name=名前";
        for (i, _) in s.char_indices() {
            let _ = ConnInfo::parse_with_env(&s[..i], &|_| None);
            let _ = redact(&s[..i]);
        }
    }
}
