//! The walsender client against real servers: replication connections over TCP (SCRAM, md5,
//! cleartext password), the Unix socket and TLS (verify-full), a logical slot with an exported
//! snapshot that an ordinary session imports, and the errors an operator meets (wrong password,
//! role without REPLICATION, TLS required but not offered, a server that never answers).

// Each module keeps its own copy of the harness, so its clusters are its own (as when every
// file was a test binary of its own).
#[path = "support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use db_migrate::conn::ConnInfo;
use db_migrate::conn::wire::{WireSession, connect_replication};
use db_migrate::error::ErrorKind;
use support::{Cluster, SUPERUSER, SUPERUSER_PASSWORD, quote_ident, quote_literal, unique_name};

fn kv(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}='{}'", v.replace('\\', "\\\\").replace('\'', "\\'")))
        .collect::<Vec<_>>()
        .join(" ")
}

fn tcp_info(c: &Cluster, user: &str, password: &str, db: &str) -> ConnInfo {
    let mut info = ConnInfo::parse(&c.uri(user, password, db)).expect("valid uri");
    info.connect_timeout = Some(Duration::from_secs(20));
    info
}

/// A database with `t(id, v)` holding 100 rows; returns its name.
async fn db_with_rows(c: &Cluster) -> String {
    let db = c.create_database("walsender").await;
    c.execute(
        &db,
        "CREATE TABLE public.t (id int PRIMARY KEY, v text);
         INSERT INTO public.t SELECT g, 'v' || g FROM generate_series(1, 100) g;",
    )
    .await;
    db
}

/// Creates a slot with an exported snapshot on `repl`, writes 50 more rows afterwards, and
/// proves the snapshot shows the table as it was when the slot was created. Then drops the slot.
async fn prove_exported_snapshot(c: &Cluster, db: &str, mut repl: WireSession) {
    let sys = repl.identify_system().await.expect("IDENTIFY_SYSTEM");
    assert_eq!(sys.dbname.as_deref(), Some(db));
    assert!(sys.xlogpos.contains('/'), "{sys:?}");

    let slot = unique_name("ws_slot");
    let info = repl.create_logical_slot(&slot).await.expect("slot created");
    assert_eq!(info.name, slot);
    assert_eq!(info.output_plugin, "pgoutput");
    assert!(!info.snapshot_name.is_empty());
    assert!(info.consistent_point.contains('/'));

    // Changes after the slot exist only in the slot's stream, not in the snapshot.
    c.execute(
        db,
        "INSERT INTO public.t SELECT g, 'late' FROM generate_series(101, 150) g",
    )
    .await;

    let client = c.connect(db).await;
    client
        .batch_execute(&format!(
            "BEGIN ISOLATION LEVEL REPEATABLE READ; SET TRANSACTION SNAPSHOT {}",
            quote_literal(&info.snapshot_name)
        ))
        .await
        .unwrap_or_else(|e| panic!("snapshot import failed: {}", support::pg_error(&e)));
    let n: i64 = client
        .query_one("SELECT count(*) FROM public.t", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        n, 100,
        "the exported snapshot must predate the later inserts"
    );
    client.batch_execute("COMMIT").await.unwrap();
    let now = c.query_strings(db, "SELECT count(*) FROM public.t").await;
    assert_eq!(now[0][0].as_deref(), Some("150"));

    // The slot streams from the snapshot's end: its confirmed position is the consistent point.
    let rows = c
        .query_strings(
            db,
            &format!(
                "SELECT confirmed_flush_lsn::text, plugin FROM pg_catalog.pg_replication_slots WHERE slot_name = {}",
                quote_literal(&slot)
            ),
        )
        .await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0][0].as_deref(), Some(info.consistent_point.as_str()));

    repl.close().await;
    // Drop it through a fresh replication session (the creating one is gone: slot inactive).
    let mut again = connect_replication(&tcp_info(c, SUPERUSER, SUPERUSER_PASSWORD, db), None)
        .await
        .expect("second replication session");
    again.drop_slot(&slot, true).await.expect("slot dropped");
    again.close().await;
    let rows = c
        .query_strings(
            db,
            &format!(
                "SELECT 1 FROM pg_catalog.pg_replication_slots WHERE slot_name = {}",
                quote_literal(&slot)
            ),
        )
        .await;
    assert!(rows.is_empty(), "slot left behind");
}

#[tokio::test]
async fn tcp_scram_slot_with_exported_snapshot() {
    let c = support::source();
    let db = db_with_rows(c).await;
    let repl = connect_replication(&tcp_info(c, SUPERUSER, SUPERUSER_PASSWORD, &db), None)
        .await
        .expect("replication connection over TCP with SCRAM");
    assert_eq!(repl.server_version_num() / 10000, c.major);
    assert!(repl.backend_pid().is_some());
    prove_exported_snapshot(c, &db, repl).await;
}

#[tokio::test]
async fn non_superuser_with_replication_attribute_connects() {
    let c = support::source();
    let db = db_with_rows(c).await;
    let (role, pw) = c.create_admin("ws_repl", true).await;
    let mut repl = connect_replication(&tcp_info(c, &role, &pw, &db), None)
        .await
        .expect("REPLICATION role connects");
    let r = repl
        .simple_query("SELECT 1 AS one, NULL AS nothing")
        .await
        .unwrap();
    assert_eq!(r.columns, vec!["one", "nothing"]);
    assert_eq!(r.rows, vec![vec![Some("1".to_string()), None]]);
    // A statement error keeps the session usable.
    let e = repl
        .simple_query("SELECT * FROM no_such_table")
        .await
        .unwrap_err();
    assert_eq!(e.sqlstate().map(|s| s.code()), Some("42P01"));
    let r = repl.simple_query("SHOW server_version_num").await.unwrap();
    assert_eq!(
        r.rows[0][0].as_deref().and_then(|v| v.parse::<u32>().ok()),
        Some(repl.server_version_num())
    );
    repl.close().await;
}

#[tokio::test]
async fn unix_socket_slot_with_exported_snapshot() {
    let c = support::source();
    let db = db_with_rows(c).await;
    let info = ConnInfo::parse(&c.socket_uri(SUPERUSER, &db)).unwrap();
    assert!(info.is_unix_socket());
    let repl = connect_replication(&info, None)
        .await
        .expect("replication connection over the unix socket");
    assert!(!repl.is_encrypted());
    prove_exported_snapshot(c, &db, repl).await;
}

#[tokio::test]
async fn tls_verify_full_slot_with_exported_snapshot() {
    let c = support::tls_cluster();
    let db = db_with_rows(c).await;
    let ca = c.tls.as_ref().unwrap().ca_cert.display().to_string();
    let port = c.port.to_string();
    let info = ConnInfo::parse(&kv(&[
        ("host", "localhost"),
        ("hostaddr", "127.0.0.1"),
        ("port", &port),
        ("user", SUPERUSER),
        ("password", SUPERUSER_PASSWORD),
        ("dbname", &db),
        ("sslmode", "verify-full"),
        ("sslrootcert", &ca),
        ("connect_timeout", "20"),
    ]))
    .unwrap();
    let repl = connect_replication(&info, None)
        .await
        .expect("replication connection with verify-full");
    assert!(repl.is_encrypted());
    // channel_binding=prefer (the default) bound SCRAM to the server's certificate.
    assert!(repl.is_channel_bound());
    // The server agrees the walsender runs over TLS.
    let pid = repl.backend_pid().unwrap();
    let rows = c
        .query_strings(
            "postgres",
            &format!("SELECT ssl FROM pg_catalog.pg_stat_ssl WHERE pid = {pid}"),
        )
        .await;
    assert_eq!(rows[0][0].as_deref(), Some("t"));

    // prove_exported_snapshot reconnects with tcp_info (plain TCP), which this cluster rejects;
    // do the snapshot proof inline instead.
    let mut repl = repl;
    let slot = unique_name("ws_tls_slot");
    let s = repl.create_logical_slot(&slot).await.unwrap();
    let client = c.connect(&db).await;
    client
        .batch_execute(&format!(
            "BEGIN ISOLATION LEVEL REPEATABLE READ; SET TRANSACTION SNAPSHOT {}; COMMIT",
            quote_literal(&s.snapshot_name)
        ))
        .await
        .unwrap_or_else(|e| panic!("snapshot import failed: {}", support::pg_error(&e)));
    repl.close().await;
    c.execute(
        &db,
        &format!(
            "SELECT pg_catalog.pg_drop_replication_slot({})",
            quote_literal(&slot)
        ),
    )
    .await;

    // verify-full against a CA that did not sign the server certificate fails as a TLS error.
    let other = c.tls.as_ref().unwrap().other_ca_cert.display().to_string();
    let mut bad = info.clone();
    bad.sslrootcert = Some(db_migrate::conn::SslRootCert::File(other.into()));
    let e = connect_replication(&bad, None).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Tls, "{e}");

    // Plain TCP is rejected by pg_hba (hostnossl reject): an auth error that hints at TLS.
    let mut plain = info.clone();
    plain.sslmode = Some(db_migrate::conn::SslMode::Disable);
    let e = connect_replication(&plain, None).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Auth, "{e}");
    assert!(e.to_string().contains("sslmode=require"), "{e}");
    assert!(!e.to_string().contains(SUPERUSER_PASSWORD));
}

#[tokio::test]
async fn tls_required_but_not_offered_fails_clearly() {
    let c = support::source(); // ssl = off
    let mut info = tcp_info(c, SUPERUSER, SUPERUSER_PASSWORD, "postgres");
    info.sslmode = Some(db_migrate::conn::SslMode::Require);
    let e = connect_replication(&info, None).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
    assert!(e.to_string().contains("does not support TLS"), "{e}");
    // prefer falls back to plaintext.
    info.sslmode = Some(db_migrate::conn::SslMode::Prefer);
    let repl = connect_replication(&info, None)
        .await
        .expect("prefer connects");
    assert!(!repl.is_encrypted());
    repl.close().await;
}

/// Puts `lines` at the top of the cluster's pg_hba.conf (first match wins) and reloads.
async fn prepend_hba(c: &Cluster, lines: &str) {
    let path = c.data_dir.join("pg_hba.conf");
    let old = std::fs::read_to_string(&path).expect("read pg_hba.conf");
    std::fs::write(&path, format!("{lines}\n{old}")).expect("write pg_hba.conf");
    c.execute("postgres", "SELECT pg_catalog.pg_reload_conf()")
        .await;
    // The postmaster rereads the file on SIGHUP, asynchronously.
    tokio::time::sleep(Duration::from_millis(700)).await;
}

#[tokio::test]
async fn md5_and_cleartext_password_authentication() {
    let c = support::source();
    let db = db_with_rows(c).await;
    let md5_role = unique_name("ws_md5");
    let pw_role = unique_name("ws_clear");
    let pw = "md5 pass'word";
    c.execute(
        "postgres",
        &format!(
            "SET password_encryption = 'md5';
             CREATE ROLE {} LOGIN REPLICATION PASSWORD {};
             RESET password_encryption;
             CREATE ROLE {} LOGIN REPLICATION PASSWORD {};",
            quote_ident(&md5_role),
            quote_literal(pw),
            quote_ident(&pw_role),
            quote_literal(pw)
        ),
    )
    .await;
    let stored = c
        .query_strings(
            "postgres",
            &format!(
                "SELECT left(rolpassword, 3) FROM pg_catalog.pg_authid WHERE rolname = {}",
                quote_literal(&md5_role)
            ),
        )
        .await;
    assert_eq!(stored[0][0].as_deref(), Some("md5"));
    // The harness' TCP lines say scram-sha-256, which cannot use an md5 verifier: give these
    // two roles their own lines (md5, and cleartext "password").
    prepend_hba(
        c,
        &format!(
            "host all {m} 127.0.0.1/32 md5\nhost replication {m} 127.0.0.1/32 md5\n\
             host all {p} 127.0.0.1/32 password\nhost replication {p} 127.0.0.1/32 password",
            m = md5_role,
            p = pw_role
        ),
    )
    .await;
    for role in [&md5_role, &pw_role] {
        let mut repl = connect_replication(&tcp_info(c, role, pw, &db), None)
            .await
            .unwrap_or_else(|e| panic!("{role} connects: {e}"));
        let sys = repl.identify_system().await.unwrap();
        assert_eq!(sys.dbname.as_deref(), Some(db.as_str()));
        repl.close().await;
        let e = connect_replication(&tcp_info(c, role, "wrong-password-xyz", &db), None)
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Auth, "{e}");
        assert!(!e.to_string().contains("wrong-password-xyz"), "{e}");
    }
}

#[tokio::test]
async fn wrong_password_is_an_auth_error_without_the_password() {
    let c = support::source();
    let secret = "not-the-password-8d2f";
    let e = connect_replication(&tcp_info(c, SUPERUSER, secret, "postgres"), None)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Auth, "{e}");
    assert_eq!(e.sqlstate().map(|s| s.code()), Some("28P01"));
    let text = format!("{e} {e:?}");
    assert!(!text.contains(secret), "{text}");
    assert!(text.contains("password authentication failed"), "{text}");
}

#[tokio::test]
async fn role_without_replication_gets_insufficient_privilege() {
    let c = support::source();
    let (role, pw) = c.create_admin("ws_norepl", false).await;
    let e = connect_replication(&tcp_info(c, &role, &pw, "postgres"), None)
        .await
        .unwrap_err();
    assert!(e.is_insufficient_privilege(), "{e}");
}

#[tokio::test]
async fn connect_timeout_bounds_a_silent_server() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    let info = ConnInfo::parse(&format!(
        "host=127.0.0.1 port={port} user=x password=y dbname=z connect_timeout=1 sslmode=disable"
    ))
    .unwrap();
    let started = Instant::now();
    let e = connect_replication(&info, None).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert!(started.elapsed() < Duration::from_secs(10));
    hold.abort();
}

#[tokio::test]
async fn slot_already_exists_keeps_sqlstate_and_session() {
    let c = support::source();
    let db = db_with_rows(c).await;
    let slot = unique_name("ws_dup");
    c.execute(
        &db,
        &format!(
            "SELECT pg_catalog.pg_create_logical_replication_slot({}, 'pgoutput')",
            quote_literal(&slot)
        ),
    )
    .await;
    let mut repl = connect_replication(&tcp_info(c, SUPERUSER, SUPERUSER_PASSWORD, &db), None)
        .await
        .unwrap();
    let e = repl.create_logical_slot(&slot).await.unwrap_err();
    assert_eq!(e.sqlstate().map(|s| s.code()), Some("42710"), "{e}");
    repl.drop_slot(&slot, false)
        .await
        .expect("session still usable");
    repl.close().await;
}
