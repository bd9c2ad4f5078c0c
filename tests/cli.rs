//! The command line as operators use it: the real `pg_migrate` and `db-migrate` binaries against
//! real clusters. Exit codes, the JSON report, the human report, and secrets kept out of output.

// Each module keeps its own copy of the harness, so its clusters are its own (as when every
// file was a test binary of its own).
#[path = "support/mod.rs"]
mod support;

use std::process::Command;

use serde_json::Value;
use support::cli::{SERIAL, all_but, pg_migrate, text};
use support::{SUPERUSER, source, target, unique_name};

#[test]
fn db_migrate_without_a_known_command_lists_the_commands() {
    for args in [vec![], vec!["nope"]] {
        let o = Command::new(env!("CARGO_BIN_EXE_db-migrate"))
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1), "{}", text(&o));
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("Available commands: pg"),
            "{}",
            text(&o)
        );
    }
}

#[test]
fn db_migrate_pg_is_pg_migrate() {
    let o = Command::new(env!("CARGO_BIN_EXE_db-migrate"))
        .args(["pg", "--help"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    let help = String::from_utf8_lossy(&o.stdout);
    for flag in [
        "--source",
        "--target",
        "--filtered-db",
        "--validate",
        "--json",
    ] {
        assert!(help.contains(flag), "{help}");
    }
}

/// `--help` groups the flags under headings, in the order of docs/reference/flags.md.
#[test]
fn help_groups_the_flags_by_heading() {
    let o = Command::new(env!("CARGO_BIN_EXE_pg_migrate"))
        .arg("--help")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let help = String::from_utf8_lossy(&o.stdout);
    let mut at = 0;
    for heading in [
        "Connections:",
        "Selection:",
        "Method and replication:",
        "Cut-over:",
        "Data copy:",
        "Verification:",
        "Recovery:",
        "Output and logging:",
        "Compatibility:",
    ] {
        let found = help[at..].find(heading);
        assert!(
            found.is_some(),
            "{heading} missing or out of order in:\n{help}"
        );
        at += found.unwrap();
    }
}

#[test]
fn malformed_connection_strings_exit_2_with_a_clear_message() {
    let o = pg_migrate(&["-s", "postgres://u:pw@host:notaport/db", "-t", "host=x"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("--source") && err.contains("port"), "{err}");

    let o = pg_migrate(&["-t", "host=x"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("source"));

    let o = pg_migrate(&["-s", "host=a", "-t", "host=b", "--no-such-flag"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}

#[tokio::test]
async fn a_full_run_writes_the_documented_json_and_exits_0() {
    let _turn = SERIAL.write().await;
    let (src, tgt) = (source(), target());
    let db = src.create_database("cli json ").await;
    let role = unique_name("cli login ");
    src.execute(
        "postgres",
        &format!("CREATE ROLE {} LOGIN", support::quote_ident(&role)),
    )
    .await;
    let filter = all_but(&[&db]).await;
    let o = pg_migrate(&[
        "-s",
        &src.superuser_uri("postgres"),
        "-t",
        &tgt.superuser_uri("postgres"),
        "-f",
        &filter,
        "--json",
        "-",
        "--migration-id",
        "t3st",
        "--dump-only",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let v: Value = serde_json::from_slice(&o.stdout).expect("stdout is only JSON");
    assert_eq!(v["migration_id"], "t3st");
    assert_eq!(v["validation"]["ok"], true);
    let dbs = v["databases"].as_array().unwrap();
    assert_eq!(dbs.len(), 1, "{v}");
    assert_eq!(dbs[0]["dbname"], db.as_str());
    assert_eq!(dbs[0]["status"], "done");
    assert_eq!(dbs[0]["method"], "dump");
    assert!(dbs[0]["data"]["tables"].is_array(), "{v}");
    let mine = v["roles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["rolname"] == role.as_str())
        .expect("role reported");
    assert_eq!(mine["status"], "created");
    assert_eq!(mine["rolpassword"], "<hidden>");
    assert!(v["warnings"].is_array());

    // The human report went to stderr and names the database; every log line is tagged.
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("Databases:") && err.contains(&db), "{err}");
    assert!(err.contains("t3st"), "{err}");
    assert!(!err.contains("placeholder_"), "{err}");

    let exists = tgt
        .query_strings(
            "postgres",
            &format!(
                "SELECT 1 FROM pg_database WHERE datname = {}",
                support::quote_literal(&db)
            ),
        )
        .await;
    assert_eq!(exists.len(), 1);
}

#[tokio::test]
async fn show_passwords_reveals_placeholders_that_then_work() {
    let _turn = SERIAL.write().await;
    let (src, tgt) = (source(), target());
    let role = unique_name("cli shown ");
    src.execute(
        "postgres",
        &format!("CREATE ROLE {} LOGIN", support::quote_ident(&role)),
    )
    .await;
    let o = pg_migrate(&[
        "-s",
        &src.superuser_uri("postgres"),
        "-t",
        &tgt.superuser_uri("postgres"),
        // Leaving out every database is an error (nothing to migrate): the smallest one moves.
        "-f",
        &all_but(&["postgres"]).await,
        // A replication left running would hold a slot the replication tests see.
        "--dump-only",
        "--show-passwords",
        "--json",
        "-",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let pw = v["roles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["rolname"] == role.as_str())
        .and_then(|r| r["rolpassword"].as_str())
        .expect("password shown")
        .to_string();
    assert!(pw.starts_with("placeholder_") && pw.len() == 28, "{pw}");
    let (client, conn) =
        tokio_postgres::connect(&tgt.uri(&role, &pw, "postgres"), tokio_postgres::NoTls)
            .await
            .expect("the placeholder password logs in");
    tokio::spawn(conn);
    drop(client);
}

#[tokio::test]
async fn a_database_the_source_user_cannot_reach_fails_alone_with_exit_1() {
    let _turn = SERIAL.write().await;
    let (src, tgt) = (source(), target());
    let open = src.create_database("cli open ").await;
    let closed = src.create_database("cli closed ").await;
    let (admin, pw) = src.create_admin("cli src admin ", false).await;
    src.execute(
        "postgres",
        &format!(
            "REVOKE CONNECT ON DATABASE {} FROM PUBLIC",
            support::quote_ident(&closed)
        ),
    )
    .await;
    let o = pg_migrate(&[
        "-s",
        &src.uri(&admin, &pw, "postgres"),
        "-t",
        &tgt.superuser_uri("postgres"),
        "-f",
        &all_but(&[&open, &closed]).await,
        "--json",
        "-",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let status = |name: &str| {
        v["databases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["dbname"] == name)
            .map(|d| (d["status"].clone(), d["message"].clone()))
            .expect("database reported")
    };
    assert_eq!(status(&open).0, "done", "{v}");
    let (st, msg) = status(&closed);
    assert_eq!(st, "failed", "{v}");
    assert!(msg.as_str().unwrap().contains("permission denied"), "{msg}");
}

#[tokio::test]
async fn validate_only_reports_and_writes_nothing() {
    let _turn = SERIAL.write().await;
    let (src, tgt) = (source(), target());
    let db = src.create_database("cli validate ").await;
    let filter = all_but(&[&db]).await;
    let args = |extra: &[&str]| {
        let mut a = vec![
            "-s".to_string(),
            src.superuser_uri("postgres"),
            "-t".to_string(),
            tgt.superuser_uri("postgres"),
            "-f".to_string(),
            filter.clone(),
            "--validate".to_string(),
            "--json".to_string(),
            "-".to_string(),
        ];
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let ok = pg_migrate(&args(&[]).iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok));
    let v: Value = serde_json::from_slice(&ok.stdout).unwrap();
    assert_eq!(v["validation"]["ok"], true);
    assert!(v["databases"].as_array().unwrap().is_empty());

    // --no-createdb with the database missing in the target fails validation: exit 2.
    let bad = pg_migrate(
        &args(&["--no-createdb"])
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad));
    let v: Value = serde_json::from_slice(&bad.stdout).unwrap();
    assert_eq!(v["validation"]["ok"], false);
    assert!(
        v["validation"]["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["severity"] == "error" && f["database"] == db.as_str()),
        "{v}"
    );
    let created = tgt
        .query_strings(
            "postgres",
            &format!(
                "SELECT 1 FROM pg_database WHERE datname = {}",
                support::quote_literal(&db)
            ),
        )
        .await;
    assert!(created.is_empty(), "--validate must not create databases");
}

#[tokio::test]
async fn sql_injection_in_name_flags_is_just_a_name() {
    let _turn = SERIAL.write().await;
    let (src, tgt) = (source(), target());
    let victim = src.create_database("cli victim ").await;
    let evil = format!("x'); DROP DATABASE \"{victim}\"; --");
    let filter = format!("{},{evil}", all_but(&[]).await);
    let o = pg_migrate(&[
        "-s",
        &src.superuser_uri("postgres"),
        "-t",
        &tgt.superuser_uri("postgres"),
        "-f",
        &filter,
        "-xr",
        &evil,
        "-xe",
        &evil,
        "--migration-id",
        "'; SELECT 1; --",
        "--validate",
    ]);
    // The name is looked up as a name: no such database, a preflight error quoting it.
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!("names database \"{evil}\", which does not exist")),
        "{err}"
    );
    let still = src
        .query_strings(
            "postgres",
            &format!(
                "SELECT 1 FROM pg_database WHERE datname = {}",
                support::quote_literal(&victim)
            ),
        )
        .await;
    assert_eq!(still.len(), 1, "the database must survive");
}

#[tokio::test]
async fn a_line_break_in_a_name_cannot_forge_a_log_line() {
    let _turn = SERIAL.read().await;
    let (src, tgt) = (source(), target());
    let name = format!("{}\nFORGED INFO all good", unique_name("cli new"));
    src.execute(
        "postgres",
        &format!("CREATE DATABASE {}", support::quote_ident(&name)),
    )
    .await;
    src.execute(&name, "CREATE TABLE t (id int); INSERT INTO t VALUES (1);")
        .await;
    let o = pg_migrate(&[
        "-s",
        &src.superuser_uri("postgres"),
        "-t",
        &tgt.superuser_uri("postgres"),
        "--only-db",
        &name,
        "-v",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    for (what, out) in [("stderr", &o.stderr), ("stdout", &o.stdout)] {
        let out = String::from_utf8_lossy(out);
        assert!(
            !out.lines().any(|l| l.starts_with("FORGED")),
            "a forged line in {what}:\n{out}"
        );
    }
    let log = String::from_utf8_lossy(&o.stderr);
    assert!(log.contains("\\nFORGED INFO all good"), "{log}");
    let rows = tgt
        .query_strings(&name, "SELECT count(*)::text FROM t")
        .await;
    assert_eq!(rows[0][0].as_deref(), Some("1"));
}

#[tokio::test]
async fn passwords_never_reach_logs_or_reports_even_in_debug_mode() {
    let _turn = SERIAL.write().await;
    let (src, tgt) = (source(), target());
    let secret = "Leak-Canary-9f3b";
    let (admin, _) = tgt.create_admin("cli canary ", false).await;
    tgt.execute(
        "postgres",
        &format!(
            "ALTER ROLE {} PASSWORD {}",
            support::quote_ident(&admin),
            support::quote_literal(secret)
        ),
    )
    .await;
    // One run with the right password, one with a wrong one, both with debug logging.
    for pw in [secret, "Wrong-Canary-77aa"] {
        let o = pg_migrate(&[
            "-s",
            &src.superuser_uri("postgres"),
            "-t",
            &tgt.uri(&admin, pw, "postgres"),
            "-f",
            &all_but(&[]).await,
            "-d",
            "--validate",
            "--json",
            "-",
        ]);
        let all = text(&o);
        assert!(!all.contains(pw), "{all}");
        assert!(!all.contains(support::SUPERUSER_PASSWORD), "{all}");
    }
    let _ = SUPERUSER;
}

#[tokio::test]
async fn replication_hands_over_and_cuts_over_in_one_run() {
    let _turn = SERIAL.write().await;
    let (src, tgt) = (source(), target());
    let db = src.create_database("cli repl ").await;
    src.execute(
        &db,
        "CREATE TABLE items (id bigserial PRIMARY KEY, v text); \
         INSERT INTO items (v) SELECT 'row ' || g FROM generate_series(1, 5000) g",
    )
    .await;
    let o = pg_migrate(&[
        "-s",
        &src.superuser_uri("postgres"),
        "-t",
        &tgt.superuser_uri("postgres"),
        "-f",
        &all_but(&[&db]).await,
        "--max-replication-lag",
        "0",
        "--stop-replication",
        "--replication-timeout",
        "120",
        "--json",
        "-",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let entry = &v["databases"][0];
    assert_eq!(entry["method"], "replication", "{v}");
    assert_eq!(entry["status"], "done", "{v}");
    let count = |c: &'static support::Cluster| {
        let db = db.clone();
        async move {
            c.query_strings(&db, "SELECT count(*), max(id) FROM items")
                .await[0]
                .clone()
        }
    };
    assert_eq!(count(src).await, count(tgt).await);
    // Nothing of the replication is left on either side.
    let left_src = src
        .query_strings(
            &db,
            "SELECT 1 FROM pg_publication UNION ALL SELECT 1 FROM pg_replication_slots WHERE slot_name LIKE 'aiven_db_migrate%'",
        )
        .await;
    assert!(left_src.is_empty(), "{left_src:?}");
    let left_tgt = tgt
        .query_strings(&db, "SELECT 1 FROM pg_subscription")
        .await;
    assert!(left_tgt.is_empty(), "{left_tgt:?}");
}

#[tokio::test]
async fn a_running_replication_is_cut_over_or_cleaned_up_by_a_later_run() {
    let _turn = SERIAL.write().await;
    let (src, tgt) = (source(), target());
    let db = src.create_database("cli later ").await;
    src.execute(
        &db,
        "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 10)",
    )
    .await;
    let base = |extra: &[&str]| {
        let mut a = vec![
            "-s".to_string(),
            src.superuser_uri("postgres"),
            "-t".to_string(),
            tgt.superuser_uri("postgres"),
            "--json".to_string(),
            "-".to_string(),
        ];
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let filter = all_but(&[&db]).await;
    let run = |extra: &[&str]| {
        let mut a = base(extra);
        a.extend(["-f".to_string(), filter.clone()]);
        pg_migrate(&a.iter().map(String::as_str).collect::<Vec<_>>())
    };
    // First run: replication is set up and left running.
    let o = run(&[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["databases"][0]["status"], "running", "{v}");

    // A plain second run refuses to touch the earlier run's objects and says what to do.
    let o = run(&[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let msg = v["databases"][0]["message"].as_str().unwrap().to_string();
    assert!(
        msg.contains("--cleanup") && msg.contains("--stop-replication"),
        "{msg}"
    );

    // Writes after the set-up arrive; the cut-over run finishes the migration.
    src.execute(&db, "INSERT INTO t SELECT generate_series(11, 20)")
        .await;
    let o = run(&[
        "--max-replication-lag",
        "0",
        "--stop-replication",
        "--replication-timeout",
        "120",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["databases"][0]["status"], "done", "{v}");
    assert_eq!(
        tgt.query_strings(&db, "SELECT count(*) FROM t").await[0][0].as_deref(),
        Some("20")
    );

    // A cleanup with nothing left reports so.
    let o = run(&["--cleanup"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        v["databases"][0]["message"]
            .as_str()
            .unwrap()
            .contains("no replication objects"),
        "{v}"
    );
}

#[tokio::test]
async fn ctrl_c_stops_the_run_with_a_failure_and_leaves_no_sessions() {
    let _turn = SERIAL.write().await;
    let (src, tgt) = (source(), target());
    let db = src.create_database("cli interrupt ").await;
    src.execute(
        &db,
        "CREATE TABLE held (id int PRIMARY KEY); INSERT INTO held SELECT generate_series(1, 1000)",
    )
    .await;
    // Another session holds the table, so the copy waits: the run is surely mid-flight when
    // the interrupt arrives.
    let blocker = src.connect(&db).await;
    blocker
        .batch_execute("BEGIN; LOCK TABLE held IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_pg_migrate"))
        .args([
            "-s",
            &src.superuser_uri("postgres"),
            "-t",
            &tgt.superuser_uri("postgres"),
        ])
        .args(["--only-db", &db, "--dump-only", "--json", "-"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    // SAFETY: sending a signal to our own child process.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            started.elapsed().as_secs() < 30,
            "pg_migrate did not stop after Ctrl-C"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert!(!status.success(), "an interrupted run must not exit 0");
    blocker.batch_execute("ROLLBACK").await.unwrap();

    // Every session of the run is gone on both sides (the servers notice closed sockets).
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    let q = "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'db-migrate/%'";
    for c in [src, tgt] {
        assert_eq!(
            c.query_strings("postgres", q).await[0][0].as_deref(),
            Some("0")
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Never "done" when it is not: every success is proven, and the exit code says which it is.

/// `(exit code, stdout as JSON when there is one, stderr)` of a run.
fn outcome(o: &std::process::Output) -> (Option<i32>, Option<Value>, String) {
    (
        o.status.code(),
        serde_json::from_slice(&o.stdout).ok(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Whether the target database `db` holds the ledger schema, and its stage: `done (finished)`
/// for the record of a finished migration (the `run` table alone, stamped `finished_at`).
async fn ledger_stage(db: &str) -> Option<String> {
    let present = target()
        .query_strings(
            db,
            "SELECT to_regclass('db_migrate.run') IS NOT NULL, \
                    to_regclass('db_migrate.part') IS NOT NULL",
        )
        .await;
    if present[0][0].as_deref() != Some("t") {
        return None;
    }
    let stage = target()
        .query_strings(
            db,
            "SELECT stage || CASE WHEN to_jsonb(r) ->> 'finished_at' IS NULL THEN '' \
                                  ELSE ' (finished)' END FROM db_migrate.run r",
        )
        .await[0][0]
        .clone();
    match present[0][1].as_deref() {
        Some("f") => stage.map(|s| format!("{s}, record only")),
        _ => stage,
    }
}

/// A target database that holds objects and no ledger (someone else's database of the same
/// name) is refused by `--resume` and by the cut-over run as by a plain run: exit 2, nothing
/// written, never "done".
#[tokio::test]
async fn resume_and_cut_over_never_report_a_foreign_database_done() {
    let _turn = SERIAL.read().await;
    let (src, tgt) = (source(), target());
    let db = src.create_database("cli foreign ").await;
    src.execute(
        &db,
        "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1)",
    )
    .await;
    tgt.execute(
        "postgres",
        &format!("CREATE DATABASE {}", support::quote_ident(&db)),
    )
    .await;
    tgt.execute(&db, "CREATE TABLE someone_elses (x int)").await;
    let (s, t) = (src.superuser_uri("postgres"), tgt.superuser_uri("postgres"));
    for extra in [
        &["--resume"][..],
        &["--max-replication-lag", "0", "--stop-replication"][..],
    ] {
        let mut args = vec!["-s", &s, "-t", &t, "--only-db", &db, "--json", "-"];
        args.extend_from_slice(extra);
        let o = pg_migrate(&args);
        let (code, json, err) = outcome(&o);
        assert_eq!(code, Some(2), "{extra:?}: {}", text(&o));
        assert!(err.contains("holds no ledger"), "{extra:?}: {err}");
        let v = json.expect("JSON report");
        assert!(!v.to_string().contains("\"done\""), "{extra:?}: {v}");
        let tables = tgt
            .query_strings(&db, "SELECT string_agg(relname, ',') FROM pg_class WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace")
            .await;
        assert_eq!(tables[0][0].as_deref(), Some("someone_elses"), "{extra:?}");
    }
}

/// A run that finishes one database and not another keeps the finished one's ledger (stage
/// done) as the proof that `--resume` may skip it; the resume migrates the other and, the run
/// now done as a whole, removes every ledger.
#[tokio::test]
async fn a_finished_database_is_skipped_by_resume_only_on_its_ledgers_word() {
    let _turn = SERIAL.read().await;
    let (src, tgt) = (source(), target());
    let done = src.create_database("cli resume done ").await;
    let blocked = src.create_database("cli resume blocked ").await;
    for db in [&done, &blocked] {
        src.execute(
            db,
            "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1), (2)",
        )
        .await;
    }
    // The second database's target is someone else's: refused, while the first is migrated.
    tgt.execute(
        "postgres",
        &format!("CREATE DATABASE {}", support::quote_ident(&blocked)),
    )
    .await;
    tgt.execute(&blocked, "CREATE TABLE squatter (x int)").await;
    let (s, t) = (src.superuser_uri("postgres"), tgt.superuser_uri("postgres"));
    let only = format!("{done},{blocked}");
    let run = |extra: &[&str]| {
        let mut args = vec![
            "-s",
            &s,
            "-t",
            &t,
            "--only-db",
            &only,
            "--dump-only",
            "--json",
            "-",
        ];
        args.extend_from_slice(extra);
        pg_migrate(&args)
    };
    let first = run(&[]);
    let (code, json, _) = outcome(&first);
    assert_eq!(code, Some(1), "{}", text(&first));
    let v = json.expect("JSON report");
    let status = |v: &Value, db: &str| {
        v["databases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["dbname"] == db)
            .map(|d| {
                (
                    d["status"].as_str().unwrap().to_owned(),
                    d["message"].to_string(),
                )
            })
            .expect("database reported")
    };
    assert_eq!(status(&v, &done).0, "done", "{v}");
    assert_eq!(status(&v, &blocked).0, "failed", "{v}");
    assert_eq!(ledger_stage(&done).await.as_deref(), Some("done"));

    // The operator clears the way; --resume skips the finished database on its ledger's word.
    tgt.execute(&blocked, "DROP TABLE squatter").await;
    let second = run(&["--resume"]);
    let (code, json, _) = outcome(&second);
    assert_eq!(code, Some(0), "{}", text(&second));
    let v = json.expect("JSON report");
    let (st, msg) = status(&v, &done);
    assert_eq!(st, "done", "{v}");
    assert!(
        msg.contains("skipped (--resume)") && msg.contains("ledger"),
        "{msg}"
    );
    assert_eq!(status(&v, &blocked).0, "done", "{v}");
    for db in [&done, &blocked] {
        assert_eq!(
            ledger_stage(db).await.as_deref(),
            Some("done (finished), record only"),
            "{db}: once all are done each ledger is the record of the finished migration"
        );
        assert_eq!(
            tgt.query_strings(db, "SELECT count(*) FROM t").await[0][0].as_deref(),
            Some("2")
        );
    }
    // Once the run is done, the records prove it: --resume reports both done, a plain run
    // refuses them as migrated already; neither writes.
    let third = run(&["--resume"]);
    let (code, json, _) = outcome(&third);
    assert_eq!(code, Some(0), "{}", text(&third));
    let v = json.expect("JSON report");
    assert_eq!(status(&v, &done).0, "done", "{v}");
    assert_eq!(status(&v, &blocked).0, "done", "{v}");
    let fourth = run(&[]);
    assert_eq!(fourth.status.code(), Some(2), "{}", text(&fourth));
    assert!(
        text(&fourth).contains("was migrated already"),
        "{}",
        text(&fourth)
    );
}

/// Names that select nothing are errors in every mode, never an empty success.
#[tokio::test]
async fn every_mode_refuses_names_that_select_nothing() {
    let (s, t) = (
        source().superuser_uri("postgres"),
        target().superuser_uri("postgres"),
    );
    for mode in [
        &["--verify-only"][..],
        &["--resume"],
        &["--clean"],
        &["--cleanup"],
    ] {
        let mut args = vec!["-s", &s, "-t", &t, "--only-db", "no such db"];
        args.extend_from_slice(mode);
        let o = pg_migrate(&args);
        assert_eq!(o.status.code(), Some(2), "{mode:?}: {}", text(&o));
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("does not exist in the source"),
            "{mode:?}: {}",
            text(&o)
        );
    }
}

/// Inputs that cannot be right are refused before any work, each with what is allowed.
#[test]
fn unbounded_inputs_outputs_over_inputs_and_out_of_range_numbers_are_refused() {
    let base = ["-s", "host=127.0.0.1 port=1", "-t", "host=127.0.0.1 port=1"];
    let run = |extra: &[&str]| {
        let mut args = base.to_vec();
        args.extend_from_slice(extra);
        pg_migrate(&args)
    };
    // An endless device is read up to the bound, not until the OOM killer.
    let o = run(&["--role-passwords", "/dev/zero"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("more than 16 MiB"), "{}", text(&o));

    // --json pointed at the passwords file would overwrite them: refused, file intact.
    let dir = std::env::temp_dir().join(support::unique_name("cli inputs "));
    std::fs::create_dir_all(&dir).unwrap();
    let passwords = dir.join("passwords.json");
    std::fs::write(&passwords, r#"{"alice": "s3cret"}"#).unwrap();
    let p = passwords.to_str().unwrap();
    let o = run(&["--role-passwords", p, "--json", p]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("would overwrite"), "{}", text(&o));
    assert!(!text(&o).contains("s3cret"), "{}", text(&o));
    assert_eq!(
        std::fs::read_to_string(&passwords).unwrap(),
        r#"{"alice": "s3cret"}"#
    );
    std::fs::remove_dir_all(&dir).unwrap();

    // Negative numbers get the allowed range, not "unexpected argument".
    for (flag, needle) in [
        ("--split-tables-larger-than", "expected 0 or more"),
        ("--copy-retries", "expected a whole number from 0"),
        ("--verify-max-rows", "expected a whole number from 0"),
    ] {
        let o = run(&[flag, "-1"]);
        assert_eq!(o.status.code(), Some(2), "{flag}: {}", text(&o));
        assert!(text(&o).contains(needle), "{flag}: {}", text(&o));
    }
    // --resume continues a migration; --verify-only writes nothing: together they mean nothing.
    let o = run(&["--verify-only", "--resume"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("cannot be used with"), "{}", text(&o));
    // A part of a comparison, without one.
    let o = run(&["--verify-statistics"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("add --verify or --verify-only"),
        "{}",
        text(&o)
    );
}

/// The codes of the exit-code table in docs/reference/exit-codes.md (its rows' first cells).
fn documented_exit_codes() -> Vec<i32> {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/reference/exit-codes.md");
    let table = std::fs::read_to_string(&path).unwrap();
    table
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next()?.parse().ok())
        .collect()
}

/// The exit-code table of docs/reference/exit-codes.md, code by code: 0 done, 1 a difference
/// found, 2 refused before writing (and no role created for a run refused as a whole), 3 a
/// result that could not be written, 130 a second interrupt.
#[tokio::test]
async fn exit_codes_are_those_of_the_reference_table() {
    // The table lists exactly the codes provoked below.
    assert_eq!(
        documented_exit_codes(),
        [0, 1, 2, 3, 130],
        "docs/reference/exit-codes.md's table and this test must name the same exit codes"
    );
    let _turn = SERIAL.read().await;
    let (src, tgt) = (source(), target());
    let db = src.create_database("cli codes ").await;
    src.execute(
        &db,
        "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1)",
    )
    .await;
    let role = support::unique_name("cli codes role ");
    src.execute(
        "postgres",
        &format!("CREATE ROLE {}", support::quote_ident(&role)),
    )
    .await;
    let (s, t) = (src.superuser_uri("postgres"), tgt.superuser_uri("postgres"));
    // The dump method: a replication left running would hold a slot other tests see.
    let run = |extra: &[&str]| {
        let mut args = vec!["-s", &s, "-t", &t, "--only-db", &db, "--dump-only"];
        args.extend_from_slice(extra);
        pg_migrate(&args)
    };
    let role_on_target = || async {
        !tgt.query_strings(
            "postgres",
            &format!(
                "SELECT 1 FROM pg_roles WHERE rolname = {}",
                support::quote_literal(&role)
            ),
        )
        .await
        .is_empty()
    };

    // 2: --no-createdb with the database missing: refused as a whole, not even roles written.
    let o = run(&["--no-createdb"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(!role_on_target().await, "a refused run created a role");

    // 3: the work is done, the report cannot be written.
    let o = run(&["--json", "/dev/full"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(text(&o).contains("exit code 0"), "{}", text(&o));
    assert!(role_on_target().await);

    // 0: what was migrated is equal.
    let o = run(&["--verify-only"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    // 1: a difference found.
    tgt.execute(&db, "INSERT INTO t VALUES (2)").await;
    let o = run(&["--verify-only"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));

    // 130: a second interrupt ends a run that hangs on a server that never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port().to_string();
    let mut child = Command::new(env!("CARGO_BIN_EXE_pg_migrate"))
        .args(["-s", &format!("host=127.0.0.1 port={port} user=u dbname=d")])
        .args(["-t", &format!("host=127.0.0.1 port={port} user=u dbname=d")])
        .env_remove("SOURCE_SERVICE_URI")
        .env_remove("TARGET_SERVICE_URI")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Once it has connected, its signal handling is in place.
    let _held = silent.accept().unwrap();
    for _ in 0..2 {
        // SAFETY: sending a signal to our own child process.
        unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            started.elapsed().as_secs() < 30,
            "a second interrupt did not end the run"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert_eq!(status.code(), Some(130));
}

/// `db-migrate status` with `args` (clean environment, empty stdin).
fn db_migrate_status(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_db-migrate"))
        .arg("status")
        .args(args)
        .env_remove("SOURCE_SERVICE_URI")
        .env_remove("TARGET_SERVICE_URI")
        .env_remove("DB_MIGRATE_LOG")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

#[test]
fn status_of_an_unreachable_target_or_with_bad_flags_exits_2_without_the_password() {
    let o = db_migrate_status(&[
        "-t",
        "postgres://someone:s3cret-pw@127.0.0.1:1/postgres?connect_timeout=3",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("127.0.0.1"), "{}", text(&o));
    assert!(!text(&o).contains("s3cret-pw"), "{}", text(&o));
    for bad in [
        vec![],
        vec!["-t", "host=x", "--watch", "0"],
        vec!["-t", "host=x", "--jobs", "2"],
    ] {
        let o = db_migrate_status(&bad);
        assert_eq!(o.status.code(), Some(2), "{bad:?}: {}", text(&o));
    }
    let o = pg_migrate(&["--status", "-t", "host=x", "--resume"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}

#[test]
fn status_watch_writes_a_json_line_per_reading_until_interrupted() {
    let child = Command::new(env!("CARGO_BIN_EXE_db-migrate"))
        .args([
            "status",
            "-t",
            &target().superuser_uri("postgres"),
            // A database no test creates: nothing listed, whatever the other tests run.
            "--only-db",
            "status watch none",
            "--watch",
            "1",
            "--json",
            "-",
        ])
        .env_remove("SOURCE_SERVICE_URI")
        .env_remove("TARGET_SERVICE_URI")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(2500));
    assert!(
        Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    let readings: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(readings.len() >= 2, "{}", text(&o));
    for r in &readings {
        assert_eq!(r["read_only"], true, "{r}");
        assert_eq!(r["databases"], Value::Array(vec![]), "{r}");
    }
}
