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
//! - the `PG*` environment variables for whatever the string leaves unset;
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

use std::{
    collections::{BTreeMap, BTreeSet},
    fmt,
    net::{IpAddr, Ipv6Addr},
    path::{Path, PathBuf},
    str::FromStr,
    time::Duration,
};

use crate::error::{Error, Result};

/// What every rendering shows instead of a secret.
const MASK: &str = "********";

/// libpq's `DEF_PGPORT`.
const DEFAULT_PORT: u16 = 5432;

/// Where distributions put the server's socket (Debian/Ubuntu, RHEL packages) before falling
/// back to upstream's compiled-in `/tmp`.
const DEFAULT_SOCKET_DIRS: [&str; 3] = ["/var/run/postgresql", "/run/postgresql", "/tmp"];

/// The two URI schemes libpq recognises (case-sensitively, as libpq does).
const URI_PREFIXES: [&str; 2] = ["postgresql://", "postgres://"];

/// libpq keywords without a typed field of their own. They are kept verbatim in
/// [`ConnInfo::other`] so that a conninfo we hand on (e.g. to `CREATE SUBSCRIPTION`) keeps them.
/// The list is libpq 18's, so strings written for any supported client version are accepted.
const OTHER_KEYWORDS: &[&str] = &[
    "channel_binding",
    "client_encoding",
    "fallback_application_name",
    "gssdelegation",
    "gssencmode",
    "gsslib",
    "keepalives",
    "keepalives_count",
    "keepalives_idle",
    "keepalives_interval",
    "krbsrvname",
    "load_balance_hosts",
    "max_protocol_version",
    "min_protocol_version",
    "oauth_client_id",
    "oauth_client_secret",
    "oauth_issuer",
    "oauth_scope",
    "replication",
    "require_auth",
    "requirepeer",
    "scram_client_key",
    "scram_server_key",
    "ssl_max_protocol_version",
    "ssl_min_protocol_version",
    "sslcertmode",
    "sslcompression",
    "sslcrl",
    "sslcrldir",
    "sslkeylogfile",
    "sslnegotiation",
    "sslpassword",
    "sslsni",
    "target_session_attrs",
    "tcp_user_timeout",
];

/// Keys whose values are secrets: masked by `Display`/`Debug`, never quoted in errors, left out
/// of [`ConnInfo::to_libpq_string`] without `include_password`.
const SECRET_KEYWORDS: &[&str] = &[
    "password",
    "sslpassword",
    "oauth_client_secret",
    "scram_client_key",
    "scram_server_key",
];

/// Keys libpq resolves through files we deliberately do not read (pg_service.conf): accepted with
/// a warning rather than silently ignored, and not passed on.
const SERVICE_KEYWORDS: &[&str] = &["service", "servicefile"];

/// The environment variables libpq consults, by keyword, in the order libpq lists them.
const ENV_VARS: &[(&str, &str)] = &[
    ("service", "PGSERVICE"),
    ("servicefile", "PGSERVICEFILE"),
    ("user", "PGUSER"),
    ("password", "PGPASSWORD"),
    ("passfile", "PGPASSFILE"),
    ("channel_binding", "PGCHANNELBINDING"),
    ("connect_timeout", "PGCONNECT_TIMEOUT"),
    ("dbname", "PGDATABASE"),
    ("host", "PGHOST"),
    ("hostaddr", "PGHOSTADDR"),
    ("port", "PGPORT"),
    ("client_encoding", "PGCLIENTENCODING"),
    ("options", "PGOPTIONS"),
    ("application_name", "PGAPPNAME"),
    ("sslmode", "PGSSLMODE"),
    ("sslnegotiation", "PGSSLNEGOTIATION"),
    ("sslcompression", "PGSSLCOMPRESSION"),
    ("sslcert", "PGSSLCERT"),
    ("sslkey", "PGSSLKEY"),
    ("sslcertmode", "PGSSLCERTMODE"),
    ("sslrootcert", "PGSSLROOTCERT"),
    ("sslcrl", "PGSSLCRL"),
    ("sslcrldir", "PGSSLCRLDIR"),
    ("sslsni", "PGSSLSNI"),
    ("requirepeer", "PGREQUIREPEER"),
    ("ssl_min_protocol_version", "PGSSLMINPROTOCOLVERSION"),
    ("ssl_max_protocol_version", "PGSSLMAXPROTOCOLVERSION"),
    ("gssencmode", "PGGSSENCMODE"),
    ("krbsrvname", "PGKRBSRVNAME"),
    ("gsslib", "PGGSSLIB"),
    ("gssdelegation", "PGGSSDELEGATION"),
    ("require_auth", "PGREQUIREAUTH"),
    ("target_session_attrs", "PGTARGETSESSIONATTRS"),
    ("load_balance_hosts", "PGLOADBALANCEHOSTS"),
];

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

/// One server's connection settings, as given (string, then environment), before defaults.
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
    /// is valid: all defaults), then fills unset fields from the process environment (PGHOST,
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
        // Precedence: value in the string > environment variable > default. A key present in the
        // string, even with an empty value, keeps its environment variable out (as in libpq).
        for (key, var) in ENV_VARS {
            if raw.values.contains_key(*key) {
                continue;
            }
            if let Some(value) = env(var).filter(|v| !v.is_empty()) {
                info.set(key, &value, Origin::Env(var))?;
            }
        }
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

    /// The password to send: `password`, else the first matching line of the password file
    /// (`passfile`, which `PGPASSFILE` fills, else `~/.pgpass`) for (host, port, dbname, user),
    /// with libpq's rules: `*` wildcards, `\:` and `\\` escapes, `#` comment lines, host
    /// `localhost` matching the default unix-socket directory, and the file ignored with a
    /// warning when it is readable or writable by group or others (wider than 0600).
    pub fn resolve_password(&self) -> Option<String> {
        if let Some(password) = non_empty(&self.password) {
            return Some(password.to_owned());
        }
        let path = match &self.passfile {
            Some(path) if !path.as_os_str().is_empty() => path.clone(),
            _ => PathBuf::from(std::env::var_os("HOME")?).join(".pgpass"),
        };
        // libpq keys the lookup on host if given, else hostaddr, else the default socket dir;
        // the default socket directory is spelled "localhost" in the file.
        let host = match (non_empty(&self.host), self.hostaddr) {
            (Some(host), _) => host.to_owned(),
            (None, Some(addr)) => addr.to_string(),
            (None, None) => default_socket_dir().to_owned(),
        };
        let host = if is_default_socket_dir(&host) {
            "localhost".to_owned()
        } else {
            host
        };
        let port = self.port().to_string();
        password_from_file(&path, &host, &port, &self.dbname(), &self.user())
    }

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

    /// Applies one keyword, typed and validated.
    fn set(&mut self, key: &str, value: &str, origin: Origin<'_>) -> Result<()> {
        if SERVICE_KEYWORDS.contains(&key) {
            self.warn(format!(
                "connection option \"{key}\"{} ignored: connection service files are not read; \
                 give the settings directly",
                from_env(origin)
            ));
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
                super::keepalive::check_value(key, value)?;
                super::session_attrs::check_value(key, value)?;
                super::keywords::check_channel_binding(key, value)?;
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

/// libpq's test for "this dbname is really a connection string".
fn is_connection_string(value: &str) -> bool {
    URI_PREFIXES.iter().any(|p| value.starts_with(p)) || value.contains('=')
}

/// `isspace()` in the C locale, which is what libpq's parser uses.
fn is_libpq_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r')
}

/// 1-based character position of byte offset `at`, for error messages.
fn position(s: &str, at: usize) -> usize {
    s.get(..at).map_or(0, |head| head.chars().count()) + 1
}

/// A read position in a string that only ever stops on character boundaries.
struct Cursor<'a> {
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
fn parse_keyword_value(s: &str, expand_dbname: bool) -> Result<RawSettings> {
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

/// libpq's `conninfo_uri_parse_options`:
/// `postgresql://[user[:password]@][host][:port][/dbname][?param=value&...]`.
///
/// Like libpq, the credentials end at the first `@` before any `/`, so `@`, `/` and `:` inside a
/// user name or password must be percent-encoded. Empty components leave the setting unset (so
/// the environment still applies), as in libpq.
fn parse_uri(s: &str, prefix_len: usize) -> Result<RawSettings> {
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
fn parse_uri_query(query: &str, raw: &mut RawSettings) -> Result<()> {
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
fn percent_decode(value: &str, what: &str) -> Result<String> {
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

// ---------------------------------------------------------------------------------------------
// Values
// ---------------------------------------------------------------------------------------------

fn is_known_keyword(key: &str) -> bool {
    matches!(
        key,
        "host"
            | "hostaddr"
            | "port"
            | "user"
            | "password"
            | "dbname"
            | "sslmode"
            | "sslrootcert"
            | "sslcert"
            | "sslkey"
            | "connect_timeout"
            | "application_name"
            | "options"
            | "passfile"
    ) || OTHER_KEYWORDS.contains(&key)
}

fn is_secret_keyword(key: &str) -> bool {
    SECRET_KEYWORDS.contains(&key)
}

/// A keyword for an error message: quoted when it looks like one (letters, digits, `_`), else
/// described by its length only, since text that is not a keyword may be a piece of a password
/// or a whole URI with credentials.
fn show_key(key: &str) -> String {
    if !key.is_empty()
        && key.len() <= 64
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        show(key)
    } else {
        format!(
            "a {}-character word that is not a keyword (not shown)",
            key.chars().count()
        )
    }
}

/// A value quoted for an error message, with control characters made visible.
fn show(value: &str) -> String {
    format!("\"{}\"", value.escape_debug())
}

/// `invalid port "abc" (from PGPORT): expected ...`: names the key, the value and, for the
/// environment, the variable to fix. Never called for secrets.
fn invalid(key: &str, value: &str, origin: Origin<'_>, expected: &str) -> Error {
    Error::config(format!(
        "invalid {key} {}{}: {expected}",
        show(value),
        from_env(origin)
    ))
}

/// " (from environment variable PGPORT)", or nothing for the connection string itself.
fn from_env(origin: Origin<'_>) -> String {
    match origin {
        Origin::Text => String::new(),
        Origin::Env(var) => format!(" (from environment variable {var})"),
    }
}

/// libpq accepts comma-separated lists of hosts, addresses and ports and tries each in turn; a
/// migration needs to know exactly which server it talks to, so we refuse them.
fn reject_list(key: &str, value: &str, origin: Origin<'_>) -> Result<()> {
    if !value.contains(',') {
        return Ok(());
    }
    let what = if key == "port" { "ports" } else { "hosts" };
    Err(Error::config(format!(
        "multiple {what} are not supported: {key} {}{} lists more than one; give a single {key}",
        show(value),
        from_env(origin)
    )))
}

/// `[::1]` -> `::1`: libpq wants IPv6 literals bare outside URIs; accepting the bracketed form
/// costs nothing and matches what people copy from URIs.
fn strip_ipv6_brackets(value: &str) -> &str {
    match value.strip_prefix('[').and_then(|v| v.strip_suffix(']')) {
        Some(inner) if inner.parse::<Ipv6Addr>().is_ok() => inner,
        _ => value,
    }
}

/// A port as libpq reads it (surrounding whitespace allowed), 1..=65535.
fn parse_port(value: &str) -> Option<u16> {
    value
        .trim_matches(is_libpq_space)
        .parse::<u16>()
        .ok()
        .filter(|port| *port != 0)
}

/// libpq: an integer number of seconds; 0 or negative waits forever (`None`), and 1 is raised to
/// 2 because libpq's deadline has one-second granularity. `Some(None)` is "wait forever".
#[allow(clippy::option_option)]
fn parse_connect_timeout(value: &str) -> Option<Option<Duration>> {
    let seconds: i32 = value.trim_matches(is_libpq_space).parse().ok()?;
    Some(match seconds {
        ..=0 => None,
        1 => Some(Duration::from_secs(2)),
        n => Some(Duration::from_secs(n as u64)),
    })
}

/// Whole seconds for a libpq string; never 0, which libpq would read as "wait forever".
fn timeout_seconds(timeout: Duration) -> u64 {
    let rounded_up = timeout.as_secs() + u64::from(timeout.subsec_nanos() > 0);
    rounded_up.max(1)
}

fn non_empty(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|v| !v.is_empty())
}

/// `'...'` with `'` and `\` escaped: always valid in a libpq string.
fn quote_always(value: &str) -> String {
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
fn quote_if_needed(value: &str) -> String {
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

/// The first of the usual socket directories that exists, else upstream's `/tmp`.
fn default_socket_dir() -> &'static str {
    DEFAULT_SOCKET_DIRS[..2]
        .iter()
        .find(|dir| Path::new(dir).is_dir())
        .copied()
        .unwrap_or("/tmp")
}

/// libpq spells "the default socket directory" as `localhost` in pgpass. Distributions differ in
/// which directory that is, so any of the usual ones counts.
fn is_default_socket_dir(host: &str) -> bool {
    let trimmed = host.trim_end_matches('/');
    DEFAULT_SOCKET_DIRS.contains(&trimmed)
}

// ---------------------------------------------------------------------------------------------
// Password file
// ---------------------------------------------------------------------------------------------

/// libpq's `passwordFromFile`: the password of the first line matching all four fields.
fn password_from_file(
    path: &Path,
    host: &str,
    port: &str,
    dbname: &str,
    user: &str,
) -> Option<String> {
    if dbname.is_empty() || user.is_empty() {
        return None;
    }
    // A missing file is the normal case, not worth a word.
    let metadata = std::fs::metadata(path).ok()?;
    if !metadata.is_file() {
        tracing::warn!(
            "password file \"{}\" is not a plain file; ignoring it",
            path.display()
        );
        return None;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if metadata.permissions().mode() & 0o077 != 0 {
            tracing::warn!(
                "password file \"{}\" has group or world access; permissions should be u=rw \
                 (0600) or less; ignoring it",
                path.display()
            );
            return None;
        }
    }
    let bytes = std::fs::read(path).ok()?;
    let content = String::from_utf8_lossy(&bytes);
    content
        .split('\n')
        .map(|line| line.trim_end_matches(['\r', '\n']))
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .find_map(|line| {
            let rest = pgpass_field(line, host)?;
            let rest = pgpass_field(rest, port)?;
            let rest = pgpass_field(rest, dbname)?;
            let rest = pgpass_field(rest, user)?;
            Some(pgpass_unescape(rest))
        })
        .filter(|password| !password.is_empty())
}

/// libpq's `pwdfMatchesString`: if the line's first field is `*` or equals `token` (with `\`
/// escaping the next character), the rest of the line after the field's `:`.
///
/// Like libpq, an unescaped `:` still matches a `:` in the token while the token is not used
/// up, so `::1:5432:...` matches host `::1`.
fn pgpass_field<'a>(line: &'a str, token: &str) -> Option<&'a str> {
    if let Some(rest) = line.strip_prefix("*:") {
        return Some(rest);
    }
    let mut rest = line;
    let mut token = token.chars();
    loop {
        let mut chars = rest.chars();
        let (c, escaped) = match chars.next()? {
            '\\' => (chars.next()?, true),
            c => (c, false),
        };
        if c == ':' && !escaped && token.as_str().is_empty() {
            return Some(chars.as_str());
        }
        if token.next() != Some(c) {
            return None;
        }
        rest = chars.as_str();
    }
}

/// The password field: up to the first unescaped `:`, with `\x` meaning `x`.
fn pgpass_unescape(field: &str) -> String {
    let mut out = String::new();
    let mut chars = field.chars();
    while let Some(c) = chars.next() {
        match c {
            ':' => break,
            '\\' => out.push(chars.next().unwrap_or('\\')),
            c => out.push(c),
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Redaction
// ---------------------------------------------------------------------------------------------

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
    use std::collections::HashMap;

    /// Parses with an empty environment, so the machine's PG* variables cannot leak into tests.
    fn parse(s: &str) -> ConnInfo {
        ConnInfo::parse_with_env(s, &|_| None)
            .unwrap_or_else(|e| panic!("{s:?} should parse, got: {e}"))
    }

    /// The error message for a string that must not parse.
    fn parse_err(s: &str) -> String {
        match ConnInfo::parse_with_env(s, &|_| None) {
            Ok(info) => panic!("{s:?} should not parse, got {info:?}"),
            Err(e) => {
                assert_eq!(e.kind(), crate::error::ErrorKind::Config, "{e}");
                e.message().to_owned()
            }
        }
    }

    fn parse_env(s: &str, vars: &[(&str, &str)]) -> Result<ConnInfo> {
        let env: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ConnInfo::parse_with_env(s, &move |name| env.get(name).cloned())
    }

    fn assert_contains(haystack: &str, needles: &[&str]) {
        for needle in needles {
            assert!(
                haystack.contains(needle),
                "expected {needle:?} in {haystack:?}"
            );
        }
    }

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
    fn a_service_is_accepted_with_a_warning_since_service_files_are_not_read() {
        let info = parse("service=prod host=h");
        assert_eq!(info.host.as_deref(), Some("h"));
        assert_eq!(info.warnings.len(), 1);
        assert_contains(&info.warnings[0], &["\"service\"", "service files"]);
        assert!(!info.to_libpq_string(true).contains("service"));

        let info = parse_env("host=h", &[("PGSERVICE", "prod")]).unwrap();
        assert_contains(&info.warnings[0], &["\"service\"", "PGSERVICE"]);
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

    // --- environment ------------------------------------------------------------------------

    #[test]
    fn unset_fields_come_from_the_environment() {
        let info = parse_env(
            "",
            &[
                ("PGHOST", "envhost"),
                ("PGHOSTADDR", "192.0.2.1"),
                ("PGPORT", "6000"),
                ("PGUSER", "envuser"),
                ("PGPASSWORD", "envpw"),
                ("PGDATABASE", "envdb"),
                ("PGSSLMODE", "verify-full"),
                ("PGSSLROOTCERT", "system"),
                ("PGSSLCERT", "/c.pem"),
                ("PGSSLKEY", "/k.pem"),
                ("PGCONNECT_TIMEOUT", "7"),
                ("PGAPPNAME", "envapp"),
                ("PGPASSFILE", "/pgpass"),
                ("PGOPTIONS", "-c work_mem=1MB"),
                ("PGTARGETSESSIONATTRS", "primary"),
            ],
        )
        .unwrap();
        assert_eq!(info.host.as_deref(), Some("envhost"));
        assert_eq!(info.hostaddr, Some("192.0.2.1".parse().unwrap()));
        assert_eq!(info.port, Some(6000));
        assert_eq!(info.user.as_deref(), Some("envuser"));
        assert_eq!(info.password.as_deref(), Some("envpw"));
        assert_eq!(info.dbname.as_deref(), Some("envdb"));
        assert_eq!(info.sslmode, Some(SslMode::VerifyFull));
        assert_eq!(info.sslrootcert, Some(SslRootCert::System));
        assert_eq!(info.sslcert, Some("/c.pem".into()));
        assert_eq!(info.sslkey, Some("/k.pem".into()));
        assert_eq!(info.connect_timeout, Some(Duration::from_secs(7)));
        assert_eq!(info.application_name.as_deref(), Some("envapp"));
        assert_eq!(info.passfile, Some("/pgpass".into()));
        assert_eq!(info.options.as_deref(), Some("-c work_mem=1MB"));
        assert_eq!(info.other["target_session_attrs"], "primary");
    }

    #[test]
    fn the_string_beats_the_environment_which_beats_the_default() {
        let env = [
            ("PGHOST", "envhost"),
            ("PGPORT", "6000"),
            ("PGUSER", "envuser"),
        ];
        let info = parse_env("postgres://urihost/db", &env).unwrap();
        assert_eq!(info.host.as_deref(), Some("urihost"));
        assert_eq!(info.port(), 6000);
        assert_eq!(info.user(), "envuser");
        let info = parse_env("host=kvhost port=7000", &env).unwrap();
        assert_eq!((info.host(), info.port()), ("kvhost".to_owned(), 7000));
        assert_eq!(parse_env("", &[]).unwrap().port(), 5432);
    }

    #[test]
    fn an_empty_value_in_the_string_keeps_the_environment_out() {
        let info = parse_env("host=''", &[("PGHOST", "envhost")]).unwrap();
        assert_eq!(info.host, None);
        // An empty environment variable is as good as unset.
        assert_eq!(parse_env("", &[("PGPORT", "")]).unwrap().port, None);
    }

    #[test]
    fn a_bad_environment_value_names_the_variable() {
        let err = parse_env("", &[("PGPORT", "fivefourthreetwo")])
            .unwrap_err()
            .to_string();
        assert_contains(&err, &["port", "\"fivefourthreetwo\"", "PGPORT"]);
        let err = parse_env("", &[("PGSSLMODE", "yes")])
            .unwrap_err()
            .to_string();
        assert_contains(&err, &["sslmode", "\"yes\"", "PGSSLMODE"]);
        // The string's own value means the environment variable is never looked at.
        assert!(parse_env("port=1", &[("PGPORT", "bad")]).is_ok());
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
        assert_eq!(redact("password="), "password=");
    }

    #[test]
    fn redact_masks_what_to_libpq_string_renders() {
        let info = parse("host=h user=u password='s3 cr\\'3t' sslpassword=kp");
        let text = redact(&info.to_libpq_string(true));
        assert!(!text.contains("s3") && !text.contains("kp"), "{text}");
    }

    // --- pgpass -----------------------------------------------------------------------------

    /// A password file with the given lines and permissions, and a conninfo pointing at it.
    fn with_pgpass(lines: &str, mode: u32, conninfo: &str) -> (tempfile::TempDir, ConnInfo) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pgpass");
        std::fs::write(&path, lines).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        }
        #[cfg(not(unix))]
        let _ = mode;
        let mut info = parse(conninfo);
        info.passfile = Some(path);
        (dir, info)
    }

    #[test]
    fn pgpass_first_matching_line_wins() {
        let file = "# comment line: *:*:*:*:nope\n\
                    db:5432:app:alice:first\n\
                    db:5432:app:alice:second\n";
        let (_dir, info) = with_pgpass(file, 0o600, "host=db user=alice dbname=app");
        assert_eq!(info.resolve_password().as_deref(), Some("first"));
    }

    #[test]
    fn pgpass_wildcards_match_any_value() {
        let file = "other:*:*:*:wrong\n*:6543:*:alice:wild\n*:*:*:*:fallback\n";
        let (_d, info) = with_pgpass(file, 0o600, "host=db port=6543 user=alice dbname=app");
        assert_eq!(info.resolve_password().as_deref(), Some("wild"));
        let (_d, info) = with_pgpass(file, 0o600, "host=db user=bob dbname=app");
        assert_eq!(info.resolve_password().as_deref(), Some("fallback"));
    }

    #[test]
    fn pgpass_backslash_escapes_colons_and_backslashes_in_every_field() {
        let file = "db:5432:we\\:ird\\\\db:alice:pa\\:ss\\\\word:ignored\r\n";
        let (_d, info) = with_pgpass(file, 0o600, r"host=db user=alice dbname='we:ird\\db'");
        assert_eq!(info.resolve_password().as_deref(), Some(r"pa:ss\word"));
    }

    #[test]
    fn pgpass_ipv6_hostaddr_matches_with_or_without_escapes() {
        let (_d, info) = with_pgpass("::1:5432:*:*:v6\n", 0o600, "hostaddr=::1 user=u");
        assert_eq!(info.resolve_password().as_deref(), Some("v6"));
        let (_d, info) = with_pgpass("\\:\\:1:5432:*:*:v6\n", 0o600, "hostaddr=::1 user=u");
        assert_eq!(info.resolve_password().as_deref(), Some("v6"));
    }

    #[test]
    fn pgpass_localhost_matches_the_default_unix_socket() {
        let file = "localhost:5432:*:*:local\n/srv/sock:5432:*:*:custom\n";
        for conninfo in [
            "user=u",
            "host=/tmp user=u",
            "host=/var/run/postgresql/ user=u",
        ] {
            let (_d, info) = with_pgpass(file, 0o600, conninfo);
            assert_eq!(
                info.resolve_password().as_deref(),
                Some("local"),
                "{conninfo}"
            );
        }
        let (_d, info) = with_pgpass(file, 0o600, "host=/srv/sock user=u");
        assert_eq!(info.resolve_password().as_deref(), Some("custom"));
        let (_d, info) = with_pgpass(file, 0o600, "host=localhost user=u");
        assert_eq!(info.resolve_password().as_deref(), Some("local"));
    }

    #[test]
    fn pgpass_with_no_matching_line_gives_nothing() {
        let (_d, info) = with_pgpass(
            "db:5432:app:alice:pw\n",
            0o600,
            "host=db user=bob dbname=app",
        );
        assert_eq!(info.resolve_password(), None);
    }

    #[cfg(unix)]
    #[test]
    fn pgpass_readable_by_group_or_others_is_ignored() {
        for mode in [0o644, 0o640, 0o604, 0o660] {
            let (_d, info) = with_pgpass("*:*:*:*:pw\n", mode, "host=db user=u");
            assert_eq!(info.resolve_password(), None, "mode {mode:o}");
        }
        let (_d, info) = with_pgpass("*:*:*:*:pw\n", 0o400, "host=db user=u");
        assert_eq!(info.resolve_password().as_deref(), Some("pw"));
    }

    #[test]
    fn an_explicit_password_wins_over_pgpass() {
        let (_d, info) = with_pgpass("*:*:*:*:file\n", 0o600, "host=db user=u password=given");
        assert_eq!(info.resolve_password().as_deref(), Some("given"));
    }

    #[test]
    fn pgpassfile_from_the_environment_is_used() {
        let (_d, from_string) = with_pgpass("*:*:*:*:envfile\n", 0o600, "host=db user=u");
        let path = from_string.passfile.clone().unwrap();
        let info = parse_env("host=db user=u", &[("PGPASSFILE", path.to_str().unwrap())]).unwrap();
        assert_eq!(info.resolve_password().as_deref(), Some("envfile"));
    }

    #[test]
    fn a_missing_or_directory_pgpass_gives_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut info = parse("host=db user=u");
        info.passfile = Some(dir.path().join("absent"));
        assert_eq!(info.resolve_password(), None);
        info.passfile = Some(dir.path().to_owned());
        assert_eq!(info.resolve_password(), None);
    }
}
