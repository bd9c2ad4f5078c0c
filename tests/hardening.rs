//! Bad input, hostile names and secrets, as a new user meets them: the real `pg_migrate` binary
//! (and the connection layer) against real clusters. Every bad input gets a clear error that
//! names what is wrong, never a panic, and no secret ever reaches an output.

// Each module keeps its own copy of the harness, so its clusters are its own (as when every
// file was a test binary of its own).
#[path = "support/mod.rs"]
mod support;

use std::process::Command;

use serde_json::Value;
use support::cli::{SERIAL, all_but, pg_migrate, pg_migrate_env, text};
use support::{source, target, tls_cluster, unique_name};

/// The canary password of the bad inputs below: it must never appear in any output.
const CANARY: &str = "pw1234canary";

/// A server nobody listens on: inputs checked up front never get as far as connecting.
const NOWHERE: &str = "host=127.0.0.1 port=1 connect_timeout=2";

struct BadInput {
    args: Vec<String>,
    env: Vec<(&'static str, String)>,
    /// Each must appear in stderr.
    says: Vec<&'static str>,
}

fn bad(args: &[&str], says: &[&'static str]) -> BadInput {
    BadInput {
        args: args.iter().map(|s| s.to_string()).collect(),
        env: Vec::new(),
        says: says.to_vec(),
    }
}

/// The table of docs/reference/bad-input.md: each input exits 2 before any work with a
/// message naming what is wrong, never panics, and never shows the canary password.
#[test]
fn every_bad_input_gets_a_clear_error_and_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let nul_passwords = dir.path().join("nul.json");
    std::fs::write(&nul_passwords, r#"{"app": "pw1234canary\u0000x"}"#).unwrap();
    let nul_passwords = nul_passwords.to_str().unwrap().to_owned();
    let uri = |s: &str| s.replace("PW", CANARY);
    let mut cases = vec![
        bad(
            &["-s", &uri("mysql://u:PW@h/db"), "-t", NOWHERE],
            &["--source", "\"mysql://\"", "postgresql://"],
        ),
        bad(
            &["-s", &uri("postgress://u:PW@h/db"), "-t", NOWHERE],
            &["--source", "\"postgress://\""],
        ),
        bad(
            &["-s", &uri("postgres:/u:PW@h/db"), "-t", NOWHERE],
            &["--source", "\"//\""],
        ),
        bad(
            &["-s", &uri("u:PW@h/db"), "-t", NOWHERE],
            &["--source", "unsupported URI scheme \"u:\""],
        ),
        bad(
            &[
                "-s",
                NOWHERE,
                "-t",
                NOWHERE,
                "--subscription-conninfo",
                &uri("postgresq://u:PW@h/db"),
            ],
            &["--subscription-conninfo", "\"postgresq://\""],
        ),
        bad(
            &["-s", &uri("postgres://u:PW@h/db?user=x&PW"), "-t", NOWHERE],
            &["--source", "query parameter"],
        ),
        bad(
            &["-s", &uri("host=h passwrod=PW"), "-t", NOWHERE],
            &["\"passwrod\"", "did you mean \"password\""],
        ),
        bad(
            &["-s", "host=h frob=1", "-t", NOWHERE],
            &["invalid connection option \"frob\""],
        ),
        bad(
            &["-s", &uri("host=h password=PW more"), "-t", NOWHERE],
            &["single quotes"],
        ),
        bad(
            &["-s", &uri("host=h password=PW x=1"), "-t", NOWHERE],
            &["right after a password"],
        ),
        bad(
            &["-s", "host=h sslmode=verify_full", "-t", NOWHERE],
            &["sslmode", "verify-full"],
        ),
        bad(
            &["-s", "host=h keepalives_idle=-5", "-t", NOWHERE],
            &["keepalives_idle", "whole number"],
        ),
        bad(
            &["-s", "host=h target_session_attrs=readwrite", "-t", NOWHERE],
            &["target_session_attrs", "read-write"],
        ),
        bad(
            &["-s", NOWHERE, "-t", "host=h port=99999"],
            &["--target", "port"],
        ),
        bad(
            &["-s", NOWHERE, "-t", NOWHERE, "--jobs", "-1"],
            &["--jobs", "1 to 1024"],
        ),
        bad(
            &["-s", NOWHERE, "-t", NOWHERE, "--jobs", "100000"],
            &["--jobs", "1 to 1024"],
        ),
        bad(
            &["-s", NOWHERE, "-t", NOWHERE, "--schema-jobs", "100000"],
            &["--schema-jobs", "1 to 1024"],
        ),
        bad(
            &["-s", NOWHERE, "-t", NOWHERE, "--max-replication-lag=-7"],
            &["--max-replication-lag", "-1 for none"],
        ),
        bad(
            &["-s", NOWHERE, "-t", NOWHERE, "--dbs-max-total-size=-5"],
            &["--dbs-max-total-size", "-1 for none"],
        ),
        bad(
            &["-s", NOWHERE, "-t", NOWHERE, "--stall-timeout", "soon"],
            &["--stall-timeout", "invalid duration", "or off"],
        ),
        bad(
            &["-s", NOWHERE, "-t", NOWHERE, "--migration-id", "a\nb"],
            &["--migration-id", "control"],
        ),
        bad(
            &["-s", NOWHERE, "-t", NOWHERE, "--migration-id", "\u{1b}[2J"],
            &["--migration-id", "control"],
        ),
        bad(
            &[
                "-s",
                NOWHERE,
                "-t",
                NOWHERE,
                "--role-passwords",
                &nul_passwords,
            ],
            &["\"app\"", "NUL"],
        ),
        bad(
            &[
                "-s",
                NOWHERE,
                "-t",
                NOWHERE,
                "--role-passwords",
                "/nonexistent/pw.json",
            ],
            &["--role-passwords", "/nonexistent/pw.json"],
        ),
        bad(
            &[
                "-s",
                NOWHERE,
                "-t",
                NOWHERE,
                "--json",
                "/nonexistent/dir/x.json",
            ],
            &["--json", "/nonexistent/dir/x.json"],
        ),
        bad(
            &[
                "-s",
                NOWHERE,
                "-t",
                NOWHERE,
                "--print-ddl",
                "/nonexistent/dir/x.sql",
            ],
            &["--print-ddl", "/nonexistent/dir/x.sql"],
        ),
        bad(
            &[
                "-s",
                NOWHERE,
                "-t",
                NOWHERE,
                "--json",
                "-",
                "--print-ddl",
                "-",
            ],
            &["standard output"],
        ),
        bad(
            &[
                "-s",
                NOWHERE,
                "-t",
                NOWHERE,
                "--json",
                "r.json",
                "--print-ddl",
                "d.sql",
            ],
            &["--print-ddl", "--json"],
        ),
    ];
    cases.push(bad(
        &["-s", "host=h channel_binding=always", "-t", NOWHERE],
        &[
            "channel_binding",
            "\"always\"",
            "disable, prefer or require",
        ],
    ));
    let mut env_case = bad(&["-t", NOWHERE], &["--source", "\"pg://\""]);
    env_case
        .env
        .push(("SOURCE_SERVICE_URI", uri("pg://u:PW@h/db")));
    cases.push(env_case);

    let (mut clear, mut panics, mut leaks) = (0, 0, 0);
    let mut failures = Vec::new();
    for case in &cases {
        let args: Vec<&str> = case.args.iter().map(String::as_str).collect();
        let env: Vec<(&str, &str)> = case.env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let started = std::time::Instant::now();
        let o = pg_migrate_env(&args, &env);
        let all = text(&o);
        let stderr = String::from_utf8_lossy(&o.stderr);
        let panicked = o.status.code() == Some(101) || all.contains("panicked");
        let leaked = all.contains(CANARY);
        let is_clear = o.status.code() == Some(2)
            && case.says.iter().all(|s| stderr.contains(s))
            && !stderr.contains("could not connect")
            && started.elapsed() < std::time::Duration::from_secs(2);
        panics += usize::from(panicked);
        leaks += usize::from(leaked);
        clear += usize::from(is_clear);
        if panicked || leaked || !is_clear {
            failures.push(format!("{args:?} {env:?} (wanted {:?}):\n{all}", case.says));
        }
    }
    eprintln!(
        "bad inputs: {}, clear errors: {clear}, panics: {panics}, leaks: {leaks}",
        cases.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn json_to_a_closed_standard_output_is_an_error_before_any_work() {
    let o = Command::new("sh")
        .arg("-c")
        .arg("exec \"$0\" \"$@\" >&-")
        .arg(env!("CARGO_BIN_EXE_pg_migrate"))
        .args(["-s", NOWHERE, "-t", NOWHERE, "--json", "-"])
        .env_remove("SOURCE_SERVICE_URI")
        .env_remove("TARGET_SERVICE_URI")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--json -") && stderr.contains("standard output"),
        "{stderr}"
    );
    assert!(!stderr.contains("could not connect"), "{stderr}");
}

#[tokio::test]
async fn a_wrong_password_gets_no_tls_hint_and_a_tls_only_server_does() {
    let src = source();
    let info = db_migrate::conn::ConnInfo::parse(&format!(
        "{}?sslmode=disable",
        src.uri(support::SUPERUSER, "Wrong-Canary-5150", "postgres")
    ))
    .unwrap();
    let e = db_migrate::conn::connect(&info, None).await.err().unwrap();
    let msg = e.to_string();
    assert!(msg.contains("password authentication failed"), "{msg}");
    assert!(
        !msg.contains("not encrypted") && !msg.contains("Wrong-Canary"),
        "{msg}"
    );
    // The same through our own protocol client.
    let e = db_migrate::conn::wire::connect_wire(&info, None)
        .await
        .err()
        .unwrap();
    assert!(!e.to_string().contains("not encrypted"), "{e}");

    // The TLS cluster's pg_hba refuses plaintext: there the hint is right.
    let tls = tls_cluster();
    let info = db_migrate::conn::ConnInfo::parse(&format!(
        "{}?sslmode=disable",
        tls.superuser_uri("postgres")
    ))
    .unwrap();
    let e = db_migrate::conn::connect(&info, None).await.err().unwrap();
    assert!(e.to_string().contains("not encrypted"), "{e}");
}

#[tokio::test]
async fn every_tcp_socket_carries_the_keepalives_the_conninfo_asks_for() {
    use db_migrate::conn::connect::{Socket, open_socket};
    let src = source();
    let parse = |extra: &str| {
        db_migrate::conn::ConnInfo::parse(&format!("host=127.0.0.1 port={} {extra}", src.port))
            .unwrap()
    };
    let socket = |info| async move {
        match open_socket(&info).await.unwrap() {
            Socket::Tcp(s) => s,
            Socket::Unix(_) => panic!("expected TCP"),
        }
    };
    // On by default, as in libpq, with timings that find a dead peer within a minute (not the
    // system's two hours of silence before the first probe).
    let s = socket(parse("")).await;
    let sock = socket2::SockRef::from(&s);
    assert!(sock.keepalive().unwrap());
    assert_eq!(sock.tcp_keepalive_time().unwrap().as_secs(), 30);
    assert_eq!(sock.tcp_keepalive_interval().unwrap().as_secs(), 10);
    assert_eq!(sock.tcp_keepalive_retries().unwrap(), 3);
    assert_eq!(
        sock.tcp_user_timeout().unwrap(),
        Some(std::time::Duration::from_secs(60))
    );
    // 0 asks for the system's, as in libpq: no user timeout at all.
    let s = socket(parse("tcp_user_timeout=0")).await;
    assert_eq!(socket2::SockRef::from(&s).tcp_user_timeout().unwrap(), None);
    let s = socket(parse(
        "keepalives_idle=77 keepalives_interval=7 keepalives_count=4 tcp_user_timeout=12000",
    ))
    .await;
    let sock = socket2::SockRef::from(&s);
    assert!(sock.keepalive().unwrap());
    assert_eq!(sock.tcp_keepalive_time().unwrap().as_secs(), 77);
    assert_eq!(sock.tcp_keepalive_interval().unwrap().as_secs(), 7);
    assert_eq!(sock.tcp_keepalive_retries().unwrap(), 4);
    assert_eq!(
        sock.tcp_user_timeout().unwrap(),
        Some(std::time::Duration::from_millis(12000))
    );
    let s = socket(parse("keepalives=0")).await;
    assert!(!socket2::SockRef::from(&s).keepalive().unwrap());
    // A session opened through the connection layer works with them.
    let info = db_migrate::conn::ConnInfo::parse(&format!(
        "{}?keepalives_idle=30",
        src.superuser_uri("postgres")
    ))
    .unwrap();
    let session = db_migrate::conn::connect(&info, None).await.unwrap();
    assert!(session.simple_query("SELECT 1").await.is_ok());
}

#[tokio::test]
async fn target_session_attrs_refuses_the_wrong_kind_of_server() {
    let src = source();
    let with = |attrs: &str| {
        db_migrate::conn::ConnInfo::parse(&format!(
            "{} target_session_attrs={attrs}",
            src.socket_uri(support::SUPERUSER, "postgres")
        ))
        .unwrap()
    };
    for ok in ["any", "read-write", "primary", "prefer-standby"] {
        db_migrate::conn::connect(&with(ok), None)
            .await
            .unwrap_or_else(|e| panic!("{ok}: {e}"));
        db_migrate::conn::wire::connect_wire(&with(ok), None)
            .await
            .unwrap_or_else(|e| panic!("{ok}: {e}"));
    }
    for refused in ["read-only", "standby"] {
        let e = db_migrate::conn::connect(&with(refused), None)
            .await
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains(refused) && e.contains("primary"), "{e}");
        let e = db_migrate::conn::wire::connect_wire(&with(refused), None)
            .await
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains(refused), "{e}");
    }
}

/// Names with a newline, a tab, an escape sequence and a right-to-left override: the human
/// report shows them escaped on one line each, the JSON keeps them exact.
#[tokio::test]
async fn hostile_names_are_escaped_in_the_human_report_and_exact_in_json() {
    let _turn = SERIAL.write().await;
    let (src, tgt) = (source(), target());
    let db = format!("{}\nline\t\u{1b}[31m\u{202e}x", unique_name("hostile "));
    src.execute(
        "postgres",
        &format!("CREATE DATABASE {}", support::quote_ident(&db)),
    )
    .await;
    src.execute(
        &db,
        "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1)",
    )
    .await;
    let o = pg_migrate(&[
        "-s",
        &src.superuser_uri("postgres"),
        "-t",
        &tgt.superuser_uri("postgres"),
        "-f",
        &all_but(&[&db]).await,
        "--dump-only",
        "--json",
        "-",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["databases"][0]["dbname"], db.as_str(), "{v}");
    let stderr = String::from_utf8_lossy(&o.stderr);
    let report = &stderr[stderr.find("Databases:").expect("a report")..];
    assert!(
        !report.contains('\u{1b}') && !report.contains('\u{202e}'),
        "{report}"
    );
    let escaped = crate_escape(&db);
    let line = report
        .lines()
        .find(|l| l.contains(&escaped))
        .unwrap_or_else(|| panic!("no line with {escaped:?} in {report}"));
    assert!(line.contains("dump") && line.contains("done"), "{line}");
}

fn crate_escape(s: &str) -> String {
    db_migrate::text::escape_controls(s).into_owned()
}

/// `-d` with a password-protected source, real role passwords and the replication method: the
/// statements that carry secrets are logged by db-migrate with the secrets left out, never by
/// tokio-postgres with them.
#[tokio::test]
async fn debug_logs_show_secret_statements_without_their_secrets() {
    let _turn = SERIAL.write().await;
    let (src, tgt) = (source(), target());
    let db = src.create_database("debug log ").await;
    src.execute(
        &db,
        "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1)",
    )
    .await;
    let role = unique_name("debug role ");
    src.execute(
        "postgres",
        &format!("CREATE ROLE {} LOGIN", support::quote_ident(&role)),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let passwords = dir.path().join("pw.json");
    let role_secret = "Role-Canary-31337";
    std::fs::write(
        &passwords,
        serde_json::json!({ role.clone(): role_secret }).to_string(),
    )
    .unwrap();
    let o = pg_migrate(&[
        "-s",
        &src.superuser_uri("postgres"),
        "-t",
        &tgt.superuser_uri("postgres"),
        "-f",
        &all_but(&[&db]).await,
        "--role-passwords",
        passwords.to_str().unwrap(),
        "--max-replication-lag",
        "0",
        "--stop-replication",
        "--replication-timeout",
        "120",
        "-d",
    ]);
    let all = text(&o);
    assert_eq!(o.status.code(), Some(0), "{all}");
    assert!(!all.contains(support::SUPERUSER_PASSWORD), "{all}");
    assert!(!all.contains(role_secret), "{all}");
    assert!(
        !all.contains("SCRAM-SHA-256$4096:"),
        "a verifier was logged: {all}"
    );
    assert!(all.contains("creating subscription"), "{all}");
    assert!(all.contains("(verifier not shown)"), "{all}");
    // Piped stderr: no colour.
    assert!(!all.contains("\u{1b}["), "{all}");
}

#[tokio::test]
async fn json_logs_are_one_object_per_line_with_the_migration_id_and_database() {
    let _turn = SERIAL.write().await;
    let (src, tgt) = (source(), target());
    let db = src.create_database("json logs ").await;
    let o = pg_migrate(&[
        "-s",
        &src.superuser_uri("postgres"),
        "-t",
        &tgt.superuser_uri("postgres"),
        "--only-db",
        &db,
        "--dump-only",
        "--log-format",
        "json",
        "--migration-id",
        "json-logs",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let stderr = String::from_utf8_lossy(&o.stderr);
    let log_lines: Vec<Value> = stderr
        .lines()
        .take_while(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(!log_lines.is_empty(), "{}", text(&o));
    for v in &log_lines {
        assert_eq!(v["migration_id"], "json-logs", "{v}");
        assert!(v["level"].is_string() && v["timestamp"].is_string(), "{v}");
        assert!(v["message"].is_string(), "{v}");
    }
    assert!(
        log_lines.iter().any(|v| v["database"] == db.as_str()),
        "{log_lines:?}"
    );
    // No colour codes when stderr is not a terminal, in either format.
    assert!(!stderr.contains('\u{1b}'), "{stderr}");
}

/// The documented cut-over command, run after a first run that migrated one database by dump
/// and left another replicating: the dumped one is reported done on its ledger's word, not
/// migrated again ("already exists"); once both are done the ledgers go. After a first run that
/// finished everything, nothing proves what the target holds: the cut-over refuses (exit 2).
#[tokio::test]
async fn a_cut_over_leaves_databases_migrated_by_dump_alone() {
    let _turn = SERIAL.write().await;
    let (src, tgt) = (source(), target());
    let dumped = src.create_database("dumped then cut over ").await;
    let replicated = src.create_database("replicated then cut over ").await;
    // No key: this database falls back to dump, the other replicates.
    src.execute(
        &dumped,
        "CREATE TABLE t (id int); INSERT INTO t VALUES (1), (2)",
    )
    .await;
    src.execute(
        &replicated,
        "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1), (2)",
    )
    .await;
    let only = format!("{dumped},{replicated}");
    let base = [
        "-s".to_owned(),
        src.superuser_uri("postgres"),
        "-t".to_owned(),
        tgt.superuser_uri("postgres"),
        "--only-db".to_owned(),
        only,
        "--json".to_owned(),
        "-".to_owned(),
    ];
    let run = |extra: &[&str]| {
        let mut args: Vec<&str> = base.iter().map(String::as_str).collect();
        args.extend_from_slice(extra);
        pg_migrate(&args)
    };
    let method = |o: &std::process::Output, db: &str| {
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON report");
        let d = v["databases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["dbname"] == db)
            .cloned()
            .expect("database reported");
        (
            d["method"].as_str().unwrap_or("").to_owned(),
            d["status"].as_str().unwrap().to_owned(),
            d["message"].as_str().unwrap().to_owned(),
        )
    };
    let first = run(&[]);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first));
    assert_eq!(method(&first, &dumped).0, "dump", "{}", text(&first));
    assert_eq!(method(&first, &replicated).1, "running", "{}", text(&first));
    let cut_over = run(&["--max-replication-lag", "0", "--stop-replication"]);
    let all = text(&cut_over);
    // Never migrated again, nor refused as "not empty": reported as done earlier.
    assert_eq!(cut_over.status.code(), Some(0), "{all}");
    assert!(!all.contains("already exists"), "{all}");
    assert!(!all.contains("is not empty"), "{all}");
    let (_, status, message) = method(&cut_over, &dumped);
    assert_eq!(status, "done", "{all}");
    assert!(message.contains("nothing to cut over"), "{all}");
    assert_eq!(method(&cut_over, &replicated).1, "done", "{all}");
    for db in [&dumped, &replicated] {
        assert_eq!(
            tgt.query_strings(db, "SELECT count(*) FROM t").await[0][0].as_deref(),
            Some("2")
        );
        assert_eq!(
            tgt.query_strings(
                db,
                "SELECT string_agg(c.relname, ',') FROM pg_class c \
                   JOIN pg_namespace n ON n.oid = c.relnamespace \
                  WHERE n.nspname = 'db_migrate' AND c.relkind = 'r'"
            )
            .await[0][0]
                .as_deref(),
            Some("run"),
            "{db}: once the run is done its ledger is only the record of the finished migration"
        );
    }
    // Run again, the cut-over reports both done on their records' word and writes nothing.
    tgt.execute(&dumped, "INSERT INTO t VALUES (1000)").await;
    let again = run(&["--max-replication-lag", "0", "--stop-replication"]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    assert_eq!(method(&again, &dumped).1, "done", "{}", text(&again));
    assert_eq!(method(&again, &replicated).1, "done", "{}", text(&again));
    assert_eq!(
        tgt.query_strings(&dumped, "SELECT count(*) FROM t").await[0][0].as_deref(),
        Some("3"),
        "the row written after the end is still there"
    );
}

/// A table whose name holds a line break: the fingerprint stored at set-up is read back at
/// cut-over, so drift detection stays on (and a real change is named).
#[tokio::test]
async fn drift_detection_works_for_names_with_line_breaks() {
    let _turn = SERIAL.write().await;
    let (src, tgt) = (source(), target());
    let db = src.create_database("drift nl ").await;
    src.execute(
        &db,
        "CREATE TABLE \"two\nlines\" (id int PRIMARY KEY, v text); \
         INSERT INTO \"two\nlines\" VALUES (1, 'a')",
    )
    .await;
    let base = [
        "-s".to_owned(),
        src.superuser_uri("postgres"),
        "-t".to_owned(),
        tgt.superuser_uri("postgres"),
        "--only-db".to_owned(),
        db.clone(),
        "--replication-timeout".to_owned(),
        "120".to_owned(),
        "--json".to_owned(),
        "-".to_owned(),
    ];
    let run = |extra: &[&str]| {
        let mut args: Vec<&str> = base.iter().map(String::as_str).collect();
        args.extend_from_slice(extra);
        pg_migrate(&args)
    };
    let first = run(&[]);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first));
    let v: Value = serde_json::from_slice(&first.stdout).unwrap();
    assert_eq!(v["databases"][0]["status"], "running", "{v}");
    src.execute(&db, "ALTER TABLE \"two\nlines\" ADD COLUMN w int")
        .await;
    let cut_over = run(&["--max-replication-lag", "0", "--stop-replication"]);
    let all = text(&cut_over);
    assert!(!all.contains("no schema fingerprint was stored"), "{all}");
    assert!(
        all.contains("two\\nlines"),
        "the drifted table is named: {all}"
    );
    // Whatever the outcome, leave nothing behind.
    let _ = run(&["--cleanup"]);
}

/// A target role with a small CONNECTION LIMIT: --jobs and --schema-jobs are lowered to what it
/// can open, with a warning, and the database migrates instead of failing on "too many
/// connections".
#[tokio::test]
async fn jobs_are_capped_by_the_free_connection_slots() {
    let _turn = SERIAL.write().await;
    let (src, tgt) = (source(), target());
    let db = src.create_database("slots ").await;
    src.execute(
        &db,
        "CREATE TABLE a (id int PRIMARY KEY); CREATE TABLE b (id int PRIMARY KEY); \
         INSERT INTO a SELECT generate_series(1, 100); INSERT INTO b SELECT generate_series(1, 100)",
    )
    .await;
    let (admin, pw) = tgt.create_admin("slots admin ", false).await;
    tgt.execute(
        "postgres",
        &format!(
            "ALTER ROLE {} CONNECTION LIMIT 5",
            support::quote_ident(&admin)
        ),
    )
    .await;
    let o = pg_migrate(&[
        "-s",
        &src.superuser_uri("postgres"),
        "-t",
        &tgt.uri(&admin, &pw, "postgres"),
        "--only-db",
        &db,
        "--dump-only",
        "--no-owner",
        "--no-acl",
        "--jobs",
        "50",
        "--schema-jobs",
        "40",
        "--json",
        "-",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["databases"][0]["status"], "done", "{v}");
    let warnings = v["warnings"].to_string();
    assert!(
        warnings.contains("--jobs lowered from 50") && warnings.contains("CONNECTION LIMIT 5"),
        "{warnings}"
    );
    assert!(
        warnings.contains("--schema-jobs) lowered from 40"),
        "{warnings}"
    );
}

/// A table without primary key or replica identity: replication would make the source's
/// UPDATE and DELETE fail. `--repl-only` refuses in preflight naming the table and the fix;
/// without it the database goes by dump with that reason, and nothing is published.
#[tokio::test]
async fn tables_without_replica_identity_never_get_published() {
    let _turn = SERIAL.write().await;
    let (src, tgt) = (source(), target());
    let db = src.create_database("no identity ").await;
    src.execute(
        &db,
        "CREATE TABLE keyed (id int PRIMARY KEY); CREATE TABLE loose (a int, b text); \
         INSERT INTO loose VALUES (1, 'x')",
    )
    .await;
    let base = [
        "-s".to_owned(),
        src.superuser_uri("postgres"),
        "-t".to_owned(),
        tgt.superuser_uri("postgres"),
        "--only-db".to_owned(),
        db.clone(),
        "--json".to_owned(),
        "-".to_owned(),
    ];
    let run = |extra: &[&str]| {
        let mut args: Vec<&str> = base.iter().map(String::as_str).collect();
        args.extend_from_slice(extra);
        pg_migrate(&args)
    };
    let refused = run(&["--repl-only"]);
    // A database-level preflight error: that database fails before anything is created (the
    // only one selected, so the run is refused as a whole: exit 2).
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    let v: Value = serde_json::from_slice(&refused.stdout).unwrap();
    assert_eq!(v["databases"][0]["status"], "failed", "{v}");
    assert!(
        src.query_strings(&db, "SELECT 1 FROM pg_publication")
            .await
            .is_empty()
    );
    let findings = v["validation"]["findings"].to_string();
    assert!(
        findings.contains("public.loose") && findings.contains("REPLICA IDENTITY FULL"),
        "{findings}"
    );
    let default = run(&[]);
    assert_eq!(default.status.code(), Some(0), "{}", text(&default));
    let v: Value = serde_json::from_slice(&default.stdout).unwrap();
    let entry = &v["databases"][0];
    assert_eq!(entry["method"], "dump", "{v}");
    assert_eq!(entry["status"], "done", "{v}");
    assert!(
        entry["message"].as_str().unwrap().contains("public.loose"),
        "{v}"
    );
    // The source's application can still update the table: it was never published.
    src.execute(&db, "UPDATE loose SET b = 'y'; DELETE FROM loose")
        .await;
    assert!(
        src.query_strings(&db, "SELECT 1 FROM pg_publication")
            .await
            .is_empty()
    );
}

/// A non-superuser source with seven kinds of gap in its read access: one preflight lists them
/// all, each with the statement that fixes it; after those statements the check passes.
#[tokio::test]
async fn preflight_lists_every_read_access_gap_with_its_grant() {
    let _turn = SERIAL.write().await;
    let src = source();
    let db = src.create_database("read access ").await;
    let (reader, pw) = src.create_admin("reader ", false).await;
    let r = support::quote_ident(&reader);
    src.execute(
        &db,
        &format!(
            "CREATE SCHEMA hidden; CREATE TABLE hidden.t (id int PRIMARY KEY);
             CREATE TABLE public.secret (id int PRIMARY KEY);
             CREATE TABLE public.half (id int PRIMARY KEY, pii text, note text);
             GRANT SELECT (id, note) ON public.half TO {r};
             CREATE SEQUENCE public.counter;
             CREATE TABLE public.tenants (id int PRIMARY KEY, tenant text);
             GRANT SELECT ON public.tenants TO {r};
             ALTER TABLE public.tenants ENABLE ROW LEVEL SECURITY;
             CREATE TABLE public.open (id int PRIMARY KEY); GRANT SELECT ON public.open TO {r};
             SELECT lo_from_bytea(0, 'blob');"
        ),
    )
    .await;
    let validate = || {
        pg_migrate(&[
            "-s",
            &src.uri(&reader, &pw, "postgres"),
            "-t",
            &target().superuser_uri("postgres"),
            "--only-db",
            &db,
            "--dump-only",
            "--validate",
            "--json",
            "-",
        ])
    };
    let o = validate();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let gaps: Vec<String> = v["validation"]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["check"] == "read-access")
        .map(|f| f["message"].as_str().unwrap().to_owned())
        .collect();
    for (object, fix) in [
        ("schema hidden", "GRANT USAGE ON SCHEMA hidden TO"),
        (
            "table public.secret",
            "GRANT SELECT ON TABLE public.secret TO",
        ),
        (
            "columns public.half (pii)",
            "GRANT SELECT (pii) ON TABLE public.half TO",
        ),
        (
            "sequence public.counter",
            "GRANT SELECT ON SEQUENCE public.counter TO",
        ),
        ("row-level security public.tenants", "BYPASSRLS"),
        ("large objects 1", "GRANT SELECT ON LARGE OBJECT"),
    ] {
        assert!(
            gaps.iter().any(|g| g.contains(object) && g.contains(fix)),
            "{object}: {gaps:#?}"
        );
    }
    assert!(!gaps.iter().any(|g| g.contains("public.open")), "{gaps:#?}");
    // hidden.t is listed too (no SELECT), so all seven gaps came in one run.
    assert_eq!(gaps.len(), 7, "{gaps:#?}");

    // Apply the fixes (BYPASSRLS as the superuser) and validate again.
    let lo: String = src
        .query_strings(&db, "SELECT min(oid)::text FROM pg_largeobject_metadata")
        .await[0][0]
        .clone()
        .unwrap();
    src.execute(
        &db,
        &format!(
            "GRANT USAGE ON SCHEMA hidden TO {r}; GRANT SELECT ON hidden.t TO {r};
             GRANT SELECT ON public.secret TO {r}; GRANT SELECT (pii) ON public.half TO {r};
             GRANT SELECT ON SEQUENCE public.counter TO {r}; ALTER ROLE {r} BYPASSRLS;
             GRANT SELECT ON LARGE OBJECT {lo} TO {r};"
        ),
    )
    .await;
    let o = validate();
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let left: Vec<&Value> = v["validation"]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["check"] == "read-access")
        .collect();
    assert!(left.is_empty(), "{left:#?}");
}
