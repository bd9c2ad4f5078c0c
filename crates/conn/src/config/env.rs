//! The `PG*` environment variables libpq consults for whatever the connection string leaves
//! unset. Its own file because the precedence rule (string > environment > default) and the
//! variable list are their own concern, and tests drive it with a supplied environment.

use std::collections::BTreeSet;

use super::{ConnInfo, Origin};
use db_migrate_core::error::Result;

/// The environment variables libpq consults, by keyword, in the order libpq lists them.
pub(super) const ENV_VARS: &[(&str, &str)] = &[
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

/// Fills from `env` every key that neither the string nor the service mentioned (`given`).
/// `PGSERVICE` and `PGSERVICEFILE` were already read by `service::lookup`.
pub(super) fn apply(
    info: &mut ConnInfo,
    given: &BTreeSet<String>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<()> {
    // Precedence: value in the string > service file > environment variable > default. A key
    // present in the string or the service, even with an empty value, keeps its environment
    // variable out (as in libpq).
    for (key, var) in ENV_VARS {
        if given.contains(*key) || super::values::SERVICE_KEYWORDS.contains(key) {
            continue;
        }
        if let Some(value) = env(var).filter(|v| !v.is_empty()) {
            info.set(key, &value, Origin::Env(var))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::config::test_util::*;
    use crate::config::{SslMode, SslRootCert};
    use std::time::Duration;

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
}
