//! The connection layer against real servers: TLS modes with libpq's semantics, client
//! certificates, channel binding (SCRAM-SHA-256-PLUS) on both connection stacks, the connect
//! timeout, session setup, connection service files, and passwords kept out of every message.

// Each module keeps its own copy of the harness, so its clusters are its own (as when every
// file was a test binary of its own).
#[path = "support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use db_migrate::conn::wire::connect_wire;
use db_migrate::conn::{ConnInfo, connect};
use db_migrate::error::{Error, ErrorKind};
use support::{CERT_USER, PASSWORD_METHOD_USER, SUPERUSER, SUPERUSER_PASSWORD, tls_cluster};

fn kv(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}='{}'", v.replace('\\', "\\\\").replace('\'', "\\'")))
        .collect::<Vec<_>>()
        .join(" ")
}

fn tls_info(extra: &[(&str, &str)]) -> ConnInfo {
    tls_info_for(tls_cluster(), extra)
}

fn tls_info_for(c: &support::Cluster, extra: &[(&str, &str)]) -> ConnInfo {
    let port = c.port.to_string();
    let mut pairs = vec![
        ("host", "localhost"),
        ("hostaddr", "127.0.0.1"),
        ("port", port.as_str()),
        ("user", SUPERUSER),
        ("password", SUPERUSER_PASSWORD),
        ("dbname", "postgres"),
        ("connect_timeout", "10"),
    ];
    pairs.extend_from_slice(extra);
    ConnInfo::parse(&kv(&pairs)).expect("valid conninfo")
}

async fn is_encrypted(info: &ConnInfo) -> bool {
    let s = connect(info, None).await.expect("connects");
    let row = s
        .query_one(
            "SELECT ssl FROM pg_catalog.pg_stat_ssl WHERE pid = pg_catalog.pg_backend_pid()",
            &[],
        )
        .await
        .unwrap();
    row.get(0)
}

#[tokio::test]
async fn verify_full_with_the_right_ca_connects_encrypted() {
    let ca = tls_cluster()
        .tls
        .as_ref()
        .unwrap()
        .ca_cert
        .display()
        .to_string();
    let info = tls_info(&[("sslmode", "verify-full"), ("sslrootcert", &ca)]);
    assert!(is_encrypted(&info).await);
}

#[tokio::test]
async fn verify_full_with_a_wrong_host_name_fails() {
    let ca = tls_cluster()
        .tls
        .as_ref()
        .unwrap()
        .ca_cert
        .display()
        .to_string();
    // hostaddr still reaches the server; the name checked against the certificate is wrong.
    let info = tls_info(&[
        ("host", "wrong.example.com"),
        ("sslmode", "verify-full"),
        ("sslrootcert", &ca),
    ]);
    let err = connect(&info, None).await.err().expect("must fail");
    assert_eq!(err.kind(), ErrorKind::Tls, "{err}");
    assert!(err.to_string().contains("wrong.example.com"), "{err}");
}

#[tokio::test]
async fn verify_ca_accepts_any_name_but_not_a_wrong_ca() {
    let files = tls_cluster().tls.as_ref().unwrap();
    let ok = tls_info(&[
        ("host", "wrong.example.com"),
        ("sslmode", "verify-ca"),
        ("sslrootcert", &files.ca_cert.display().to_string()),
    ]);
    assert!(is_encrypted(&ok).await);

    let bad = tls_info(&[
        ("sslmode", "verify-ca"),
        ("sslrootcert", &files.other_ca_cert.display().to_string()),
    ]);
    let err = connect(&bad, None).await.err().expect("must fail");
    assert_eq!(err.kind(), ErrorKind::Tls, "{err}");
}

#[tokio::test]
async fn verify_modes_without_a_root_certificate_fail_clearly() {
    let info = tls_info(&[("sslmode", "verify-full")]);
    // HOME may hold ~/.postgresql/root.crt on a developer machine; the harness' HOME does not.
    if std::env::var_os("HOME")
        .map(|h| {
            std::path::Path::new(&h)
                .join(".postgresql/root.crt")
                .exists()
        })
        .unwrap_or(false)
    {
        return;
    }
    let err = connect(&info, None).await.err().expect("must fail");
    assert_eq!(err.kind(), ErrorKind::Tls);
    assert!(err.to_string().contains("sslrootcert"), "{err}");
}

#[tokio::test]
async fn require_connects_without_a_ca() {
    assert!(is_encrypted(&tls_info(&[("sslmode", "require")])).await);
}

#[tokio::test]
async fn prefer_and_allow_end_up_encrypted_when_the_server_insists() {
    assert!(is_encrypted(&tls_info(&[("sslmode", "prefer")])).await);
    assert!(is_encrypted(&tls_info(&[("sslmode", "allow")])).await);
}

#[tokio::test]
async fn disable_against_a_hostssl_only_server_says_why() {
    let info = tls_info(&[("sslmode", "disable")]);
    let err = connect(&info, None).await.err().expect("must fail");
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
    let text = err.to_string();
    assert!(text.contains("no encryption"), "{text}");
    assert!(text.contains("sslmode=require"), "{text}");
}

#[tokio::test]
async fn client_certificate_is_accepted_where_pg_hba_demands_cert() {
    let files = tls_cluster().tls.as_ref().unwrap();
    let info = tls_info(&[
        ("user", CERT_USER),
        ("password", ""),
        ("sslmode", "verify-full"),
        ("sslrootcert", &files.ca_cert.display().to_string()),
        ("sslcert", &files.client_cert.display().to_string()),
        ("sslkey", &files.client_key.display().to_string()),
    ]);
    let s = connect(&info, None).await.expect("cert auth");
    let row = s.query_one("SELECT current_user::text", &[]).await.unwrap();
    assert_eq!(row.get::<_, String>(0), CERT_USER);

    // Without the certificate the same user is refused.
    let without = tls_info(&[
        ("user", CERT_USER),
        ("password", ""),
        ("sslmode", "require"),
    ]);
    assert!(connect(&without, None).await.is_err());
}

#[tokio::test]
async fn sessions_have_an_empty_search_path_and_our_application_name() {
    let s = connect(&tls_info(&[("sslmode", "require")]), None)
        .await
        .unwrap();
    let row = s
        .query_one(
            "SELECT current_setting('search_path'), current_setting('application_name')",
            &[],
        )
        .await
        .unwrap();
    // The server renders an empty search_path as a quoted empty identifier.
    assert_eq!(row.get::<_, String>(0), "\"\"");
    assert_eq!(row.get::<_, String>(1), db_migrate::APPLICATION_NAME);

    let named = tls_info(&[("sslmode", "require"), ("application_name", "mine")]);
    let s = connect(&named, None).await.unwrap();
    let row = s
        .query_one("SELECT current_setting('application_name')", &[])
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "mine");
}

#[tokio::test]
async fn unix_socket_hosts_work() {
    let c = support::source();
    let info = ConnInfo::parse(&c.socket_uri(SUPERUSER, "postgres")).unwrap();
    assert!(info.is_unix_socket());
    let s = connect(&info, None).await.expect("socket connect");
    assert!(s.major() >= 12);
}

/// A `service=` conninfo reaches the server its service file names, not the default socket:
/// the file fills what the string leaves unset, the string's own keys win, and an environment
/// variable only fills what neither sets.
#[tokio::test]
async fn a_service_file_names_the_server_to_connect_to() {
    let c = tls_cluster();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("services.conf");
    std::fs::write(
        &file,
        format!(
            "# the test cluster\n[elsewhere]\nhost=192.0.2.1\n\n[migration_src]\n\
             host=localhost\nhostaddr=127.0.0.1\nport={}\nuser={SUPERUSER}\n\
             password={SUPERUSER_PASSWORD}\nsslmode=require\ndbname=template1\n",
            c.port
        ),
    )
    .unwrap();
    let file = file.to_string_lossy().into_owned();
    let env = |name: &str| match name {
        "PGSERVICEFILE" => Some(file.clone()),
        "PGAPPNAME" => Some("from-env".to_owned()),
        "PGPORT" => Some("1".to_owned()),
        _ => None,
    };
    let info = ConnInfo::parse_with_env("service=migration_src dbname=postgres", &env).unwrap();
    let s = connect(&info, None)
        .await
        .expect("connects through the service");
    let row = s
        .query_one(
            "SELECT pg_catalog.current_database()::text, \
                    pg_catalog.inet_server_port(), \
                    (SELECT ssl FROM pg_catalog.pg_stat_ssl \
                      WHERE pid = pg_catalog.pg_backend_pid())",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        row.get::<_, String>(0),
        "postgres",
        "the string's dbname wins"
    );
    assert_eq!(
        row.get::<_, i32>(1),
        i32::from(c.port),
        "the service's port beats PGPORT"
    );
    assert!(row.get::<_, bool>(2), "sslmode=require from the service");
    assert_eq!(info.application_name.as_deref(), Some("from-env"));

    // A service no file defines stops before any connection, naming what was searched.
    let err = ConnInfo::parse_with_env("service=migration_dst", &env)
        .unwrap_err()
        .to_string();
    assert!(err.contains("\"migration_dst\" not found"), "{err}");
    assert!(err.contains(&file), "{err}");
    assert!(!err.contains(SUPERUSER_PASSWORD), "{err}");
}

/// A listener that accepts TCP connections and never says a word.
async fn silent_server() -> (u16, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = listener.accept().await {
            held.push(sock);
        }
    });
    (port, task)
}

#[tokio::test]
async fn connect_timeout_is_enforced_and_names_the_host() {
    let (port, task) = silent_server().await;
    for conninfo in [
        format!("postgres://u:secret-pw@127.0.0.1:{port}/db?connect_timeout=2&sslmode=disable"),
        format!(
            "host=127.0.0.1 port={port} user=u password=secret-pw connect_timeout=2 sslmode=prefer"
        ),
    ] {
        let info = ConnInfo::parse(&conninfo).unwrap();
        let start = Instant::now();
        let err = connect(&info, None).await.err().expect("must time out");
        let took = start.elapsed();
        assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
        assert!(took < Duration::from_secs(3), "took {took:?}");
        assert!(took >= Duration::from_millis(1900), "took {took:?}");
        let text = err.to_string();
        assert!(
            text.contains("127.0.0.1") && text.contains(&port.to_string()),
            "{text}"
        );
        assert!(!text.contains("secret-pw"), "{text}");
    }
    task.abort();
}

#[tokio::test]
async fn pgconnect_timeout_from_the_environment_is_enforced() {
    let (port, task) = silent_server().await;
    let env = |k: &str| (k == "PGCONNECT_TIMEOUT").then(|| "2".to_string());
    let info =
        ConnInfo::parse_with_env(&format!("host=127.0.0.1 port={port} user=u"), &env).unwrap();
    let start = Instant::now();
    let err = connect(&info, None).await.err().expect("must time out");
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert!(start.elapsed() < Duration::from_secs(3));
    task.abort();
}

#[tokio::test]
async fn wrong_password_errors_never_contain_the_password() {
    let c = support::source();
    let secret = "Pa55-w0rd-that-must-not-leak";
    for conninfo in [
        c.uri(SUPERUSER, secret, "postgres"),
        format!(
            "host=127.0.0.1 port={} user=postgres password='{secret}' dbname=postgres",
            c.port
        ),
    ] {
        let info = ConnInfo::parse(&conninfo).unwrap();
        assert!(!format!("{info}").contains(secret));
        assert!(!format!("{info:?}").contains(secret));
        let err = connect(&info, None).await.err().expect("wrong password");
        assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
        assert!(!err.to_string().contains(secret), "{err}");
        assert!(!format!("{err:?}").contains(secret), "{err:?}");
    }
}

#[tokio::test]
async fn refused_connections_name_the_endpoint() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let info = ConnInfo::parse(&format!(
        "host=127.0.0.1 port={port} user=x connect_timeout=5"
    ))
    .unwrap();
    let err = connect(&info, None).await.err().expect("refused");
    assert_eq!(err.kind(), ErrorKind::Connect);
    assert!(err.to_string().contains(&format!("port {port}")), "{err}");
}

fn ca_path() -> String {
    tls_cluster()
        .tls
        .as_ref()
        .unwrap()
        .ca_cert
        .display()
        .to_string()
}

/// Both stacks' errors for `info`, which must fail to connect.
async fn both_fail(info: &ConnInfo) -> [Error; 2] {
    let pg = connect(info, None)
        .await
        .err()
        .expect("tokio-postgres must fail");
    let wire = connect_wire(info, None).await.expect_err("wire must fail");
    [pg, wire]
}

#[tokio::test]
async fn channel_binding_require_connects_on_both_stacks_over_tls() {
    // verify-full, and require without a CA: there binding is what stops a relay with another
    // certificate, since the certificate itself is not checked.
    let ca = ca_path();
    for extra in [
        vec![
            ("sslmode", "verify-full"),
            ("sslrootcert", ca.as_str()),
            ("channel_binding", "require"),
        ],
        vec![("sslmode", "require"), ("channel_binding", "require")],
    ] {
        let info = tls_info(&extra);
        // The server accepted SCRAM-SHA-256-PLUS with our tls-server-end-point hash: with
        // channel_binding=require nothing else can open the session.
        let s = connect(&info, None).await.expect("tokio-postgres binds");
        let row = s.query_one("SELECT current_user::text", &[]).await.unwrap();
        assert_eq!(row.get::<_, String>(0), SUPERUSER);
        let mut w = connect_wire(&info, None).await.expect("wire binds");
        assert!(w.is_channel_bound() && w.is_encrypted(), "{w:?}");
        let r = w.simple_query("SELECT 1 AS one").await.unwrap();
        assert_eq!(r.get(0, "one"), Some("1"));
    }
}

#[tokio::test]
async fn channel_binding_hashes_a_sha384_certificate_as_the_server_does() {
    // The server checks our tls-server-end-point hash against its own: with a SHA-384
    // certificate a SHA-256 hash (or the wrong certificate) would fail the exchange.
    let c = support::tls_cluster_sha384();
    let ca = c.tls.as_ref().unwrap().ca_cert.display().to_string();
    let info = tls_info_for(
        c,
        &[
            ("sslmode", "verify-full"),
            ("sslrootcert", &ca),
            ("channel_binding", "require"),
        ],
    );
    connect(&info, None).await.expect("tokio-postgres binds");
    let w = connect_wire(&info, None).await.expect("wire binds");
    assert!(w.is_channel_bound());
}

#[tokio::test]
async fn channel_binding_prefer_binds_when_the_server_offers_plus_and_disable_does_not() {
    let ca = ca_path();
    let base = [("sslmode", "verify-full"), ("sslrootcert", ca.as_str())];
    for (mode, bound) in [
        (None, true),
        (Some("prefer"), true),
        (Some("disable"), false),
    ] {
        let mut pairs = base.to_vec();
        if let Some(m) = mode {
            pairs.push(("channel_binding", m));
        }
        let info = tls_info(&pairs);
        let w = connect_wire(&info, None).await.expect("wire connects");
        assert_eq!(w.is_channel_bound(), bound, "channel_binding={mode:?}");
        connect(&info, None).await.expect("tokio-postgres connects");
    }
}

#[tokio::test]
async fn channel_binding_require_without_tls_fails_clearly_on_both_stacks() {
    // The plain cluster has no TLS: sslmode=disable, and prefer (the server answers 'N').
    let c = support::source();
    for sslmode in ["disable", "prefer"] {
        let info = ConnInfo::parse(&format!(
            "{}?sslmode={sslmode}&channel_binding=require&connect_timeout=10",
            c.superuser_uri("postgres")
        ))
        .unwrap();
        for e in both_fail(&info).await {
            assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
            let text = e.to_string();
            assert!(
                text.contains("channel_binding=require") && text.contains("SSL not in use"),
                "sslmode={sslmode}: {text}"
            );
            assert!(!text.contains(SUPERUSER_PASSWORD), "{text}");
        }
    }
}

#[tokio::test]
async fn channel_binding_require_refuses_cert_and_password_methods() {
    let files = tls_cluster().tls.as_ref().unwrap();
    let ca = ca_path();
    let cert = tls_info(&[
        ("user", CERT_USER),
        ("password", ""),
        ("sslmode", "verify-full"),
        ("sslrootcert", &ca),
        ("sslcert", &files.client_cert.display().to_string()),
        ("sslkey", &files.client_key.display().to_string()),
        ("channel_binding", "require"),
    ]);
    for e in both_fail(&cert).await {
        assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
        let text = e.to_string();
        assert!(
            text.contains("channel_binding=require")
                && text.contains("server authenticated client without channel binding"),
            "{text}"
        );
    }

    // pg_hba `password`: refused before the password goes out.
    let password = tls_info(&[
        ("user", PASSWORD_METHOD_USER),
        ("sslmode", "verify-full"),
        ("sslrootcert", &ca),
        ("channel_binding", "require"),
    ]);
    let [pg, wire] = both_fail(&password).await;
    for e in [&pg, &wire] {
        assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
        let text = e.to_string();
        assert!(text.contains("channel_binding=require"), "{text}");
        assert!(!text.contains(SUPERUSER_PASSWORD), "{text}");
    }
    assert!(
        wire.to_string()
            .contains("not supported by server's authentication request"),
        "{wire}"
    );

    // The same user connects when binding is only preferred (TLS still protects the password).
    let prefer = tls_info(&[
        ("user", PASSWORD_METHOD_USER),
        ("sslmode", "verify-full"),
        ("sslrootcert", &ca),
    ]);
    connect(&prefer, None)
        .await
        .expect("password method, prefer");
    let w = connect_wire(&prefer, None)
        .await
        .expect("wire, password method");
    assert!(!w.is_channel_bound());
}
