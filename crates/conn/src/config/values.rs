//! What the parsers, the typed setter and the renderers share: the keyword lists, how keys and
//! values are shown in error messages, value checks (ports, timeouts, host lists) and the default
//! socket directory. Its own file so that each parser needs only these, not each other.

use std::{net::Ipv6Addr, path::Path, time::Duration};

use super::Origin;
use db_migrate_core::error::{Error, Result};

/// Where distributions put the server's socket (Debian/Ubuntu, RHEL packages) before falling
/// back to upstream's compiled-in `/tmp`.
pub(super) const DEFAULT_SOCKET_DIRS: [&str; 3] =
    ["/var/run/postgresql", "/run/postgresql", "/tmp"];

/// libpq keywords without a typed field of their own. They are kept verbatim in
/// [`ConnInfo::other`] so that a conninfo we hand on (e.g. to `CREATE SUBSCRIPTION`) keeps them.
/// The list is libpq 18's, so strings written for any supported client version are accepted.
pub(super) const OTHER_KEYWORDS: &[&str] = &[
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
pub(super) const SECRET_KEYWORDS: &[&str] = &[
    "password",
    "sslpassword",
    "oauth_client_secret",
    "scram_client_key",
    "scram_server_key",
];

/// Keys that name a connection service (`service.rs` resolves them into the other keys); never
/// passed on, since the target server's libpq does not have our service files.
pub(super) const SERVICE_KEYWORDS: &[&str] = &["service", "servicefile"];

/// `isspace()` in the C locale, which is what libpq's parser uses.
pub(super) fn is_libpq_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r')
}

/// 1-based character position of byte offset `at`, for error messages.
pub(super) fn position(s: &str, at: usize) -> usize {
    s.get(..at).map_or(0, |head| head.chars().count()) + 1
}

pub(super) fn is_known_keyword(key: &str) -> bool {
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
            | "service"
            | "servicefile"
    ) || OTHER_KEYWORDS.contains(&key)
}

pub(super) fn is_secret_keyword(key: &str) -> bool {
    SECRET_KEYWORDS.contains(&key)
}

/// A keyword for an error message: quoted when it looks like one (letters, digits, `_`), else
/// described by its length only, since text that is not a keyword may be a piece of a password
/// or a whole URI with credentials.
pub(super) fn show_key(key: &str) -> String {
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
pub(super) fn show(value: &str) -> String {
    format!("\"{}\"", value.escape_debug())
}

/// `invalid port "abc" (from PGPORT): expected ...`: names the key, the value and, for the
/// environment, the variable to fix. Never called for secrets.
pub(super) fn invalid(key: &str, value: &str, origin: Origin<'_>, expected: &str) -> Error {
    Error::config(format!(
        "invalid {key} {}{}: {expected}",
        show(value),
        from_env(origin)
    ))
}

/// " (from environment variable PGPORT)", " (from service \"prod\" in \"/path\", line 3)", or
/// nothing for the connection string itself.
pub(super) fn from_env(origin: Origin<'_>) -> String {
    match origin {
        Origin::Text => String::new(),
        Origin::Env(var) => format!(" (from environment variable {var})"),
        Origin::Service(name, file, line) => format!(
            " (from service {} in {}, line {line})",
            show(name),
            show(&file.to_string_lossy())
        ),
    }
}

/// libpq accepts comma-separated lists of hosts, addresses and ports and tries each in turn; a
/// migration needs to know exactly which server it talks to, so we refuse them.
pub(super) fn reject_list(key: &str, value: &str, origin: Origin<'_>) -> Result<()> {
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
pub(super) fn strip_ipv6_brackets(value: &str) -> &str {
    match value.strip_prefix('[').and_then(|v| v.strip_suffix(']')) {
        Some(inner) if inner.parse::<Ipv6Addr>().is_ok() => inner,
        _ => value,
    }
}

/// A port as libpq reads it (surrounding whitespace allowed), 1..=65535.
pub(super) fn parse_port(value: &str) -> Option<u16> {
    value
        .trim_matches(is_libpq_space)
        .parse::<u16>()
        .ok()
        .filter(|port| *port != 0)
}

/// libpq: an integer number of seconds; 0 or negative waits forever (`None`), and 1 is raised to
/// 2 because libpq's deadline has one-second granularity. `Some(None)` is "wait forever".
#[allow(clippy::option_option)]
pub(super) fn parse_connect_timeout(value: &str) -> Option<Option<Duration>> {
    let seconds: i32 = value.trim_matches(is_libpq_space).parse().ok()?;
    Some(match seconds {
        ..=0 => None,
        1 => Some(Duration::from_secs(2)),
        n => Some(Duration::from_secs(n as u64)),
    })
}

/// Whole seconds for a libpq string; never 0, which libpq would read as "wait forever".
pub(super) fn timeout_seconds(timeout: Duration) -> u64 {
    let rounded_up = timeout.as_secs() + u64::from(timeout.subsec_nanos() > 0);
    rounded_up.max(1)
}

pub(super) fn non_empty(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|v| !v.is_empty())
}

/// The first of the usual socket directories that exists, else upstream's `/tmp`.
pub(super) fn default_socket_dir() -> &'static str {
    DEFAULT_SOCKET_DIRS[..2]
        .iter()
        .find(|dir| Path::new(dir).is_dir())
        .copied()
        .unwrap_or("/tmp")
}

/// libpq spells "the default socket directory" as `localhost` in pgpass. Distributions differ in
/// which directory that is, so any of the usual ones counts.
pub(super) fn is_default_socket_dir(host: &str) -> bool {
    let trimmed = host.trim_end_matches('/');
    DEFAULT_SOCKET_DIRS.contains(&trimmed)
}
