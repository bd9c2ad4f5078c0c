//! Fuzzes the conninfo parser and the password redaction.
//!
//! Properties, for any UTF-8 input:
//! - parsing (as a connection string, or as the value of a `PG*` variable) never panics;
//! - `Display` is exactly the password-less rendering plus `password=********`, and no rendering
//!   (`Display`, `Debug`, `to_libpq_string(false)`) depends on a secret's value;
//! - what `to_libpq_string(true)` writes parses back to the same settings;
//! - `redact` never panics, and hides any password in the shapes we produce or users paste
//!   (`password='...'` and `postgres://user:...@host`).
#![no_main]

use db_migrate::conn::{ConnInfo, redact};
use libfuzzer_sys::fuzz_target;

const ENV_NAMES: [&str; 7] = [
    "PGHOST",
    "PGHOSTADDR",
    "PGPORT",
    "PGSSLMODE",
    "PGCONNECT_TIMEOUT",
    "PGPASSWORD",
    "PGSSLROOTCERT",
];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = redact(text);
    check_redact_hides(text);

    let var = ENV_NAMES[data.len() % ENV_NAMES.len()];
    let _ = ConnInfo::parse_with_env("", &|name| (name == var).then(|| text.to_owned()));

    let Ok(info) = ConnInfo::parse_with_env(text, &|_| None) else {
        return;
    };
    let _ = (info.host(), info.port(), info.dbname(), info.sslmode());
    let _ = info.is_unix_socket();
    check_display_hides_password(&info);
    check_renderings_ignore_secrets(&info);
    check_round_trip(&info);
});

/// `Display` shows `password=********` in place of the password and nothing else of it.
fn check_display_hides_password(info: &ConnInfo) {
    let Some(_) = &info.password else { return };
    let without = ConnInfo {
        password: None,
        ..info.clone()
    }
    .to_string();
    let expected = if without.is_empty() {
        "password=********".to_owned()
    } else {
        format!("{without} password=********")
    };
    assert_eq!(info.to_string(), expected);
}

/// Two different secrets render identically: nothing of them can be in the output.
fn check_renderings_ignore_secrets(info: &ConnInfo) {
    let with = |secret: &str| {
        let mut c = info.clone();
        c.password = Some(secret.to_owned());
        c.other.insert("sslpassword".into(), secret.to_owned());
        c.other
            .insert("oauth_client_secret".into(), secret.to_owned());
        c
    };
    let (a, b) = (with("first secret"), with("2nd"));
    assert_eq!(a.to_string(), b.to_string());
    assert_eq!(format!("{a:?}"), format!("{b:?}"));
    assert_eq!(a.to_libpq_string(false), b.to_libpq_string(false));
}

/// Our own libpq string reads back as what produced it. A dbname that is itself a connection
/// string is the exception: at the top level it is expanded, by design (as libpq does).
fn check_round_trip(info: &ConnInfo) {
    let db_is_conninfo = info.dbname.as_deref().is_some_and(|db| {
        db.starts_with("postgresql://") || db.starts_with("postgres://") || db.contains('=')
    });
    if db_is_conninfo {
        return;
    }
    let rendered = info.to_libpq_string(true);
    let again = match ConnInfo::parse_with_env(&rendered, &|_| None) {
        Ok(again) => again,
        Err(e) => panic!("our own output does not parse: {e}"),
    };
    let expected = ConnInfo {
        warnings: Vec::new(),
        ..info.clone()
    };
    assert_eq!(
        ConnInfo {
            warnings: Vec::new(),
            ..again
        },
        expected
    );
}

/// With the input as a password, `redact` leaves nothing of it in the two usual shapes.
fn check_redact_hides(secret: &str) {
    if secret.is_empty() {
        return;
    }
    let info = ConnInfo {
        host: Some("h".into()),
        user: Some("u".into()),
        password: Some(secret.to_owned()),
        ..ConnInfo::default()
    };
    assert_eq!(
        redact(&info.to_libpq_string(true)),
        "host='h' password=******** user='u'"
    );
    if !secret.chars().any(char::is_whitespace) {
        assert_eq!(
            redact(&format!("postgres://u:{secret}@h/db")),
            "postgres://u:********@h/db"
        );
    }
}
