//! Recovery on real clusters: a migration killed, interrupted or hit by a transient fault in the
//! middle of its copy is refused without `--resume`, resumes to a target equal to the source,
//! starts over with `--clean`, and heals a terminated backend by retrying; no ledger is left
//! after success.
//!
//! The faults are aimed, not timed: the source's `big` table has a stored generated column
//! whose (immutable) function sleeps only in sessions running with `session_replication_role
//! = replica`, which is how the migration's target sessions load (superuser target). So on
//! the target, loading `big` takes seconds while `small` commits at once, and the test acts
//! when the ledger shows `small` copied and `big`'s COPY is running.

// Each module keeps its own copy of the harness, so its clusters are its own (as when every
// file was a test binary of its own).
#[path = "support/mod.rs"]
mod support;

use std::num::NonZeroUsize;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use db_migrate::conn::ConnInfo;
use db_migrate::ledger::LEDGER_SCHEMA;
use db_migrate::migrate::PgMigrate;
use db_migrate::options::MigrateOptions;
use db_migrate::report::{DbStatus, Method};
use serde_json::Value;
use support::port_cut::PortCut;
use support::{quote_ident, quote_literal, source, target};

/// Rows of `big`; each costs about 4 ms to load on the target.
const BIG_ROWS: u32 = 1500;

async fn fixture(prefix: &str) -> String {
    fixture_padded(prefix, 100).await
}

/// [`fixture`] with `pad` bytes of text in each row of `big`. With 20,000 the copy of `big`
/// (30 MB) outgrows the socket buffers, so its source backend stays in its COPY, blocked on
/// the slow target, until the end: a fault can hit the source side of a running COPY.
async fn fixture_padded(prefix: &str, pad: usize) -> String {
    let src = source();
    let db = src.create_database(prefix).await;
    src.execute(
        &db,
        &format!(
            "CREATE FUNCTION public.slow_on_target(a integer) RETURNS integer
               LANGUAGE plpgsql IMMUTABLE AS $$
             BEGIN
               IF pg_catalog.current_setting('session_replication_role') = 'replica' THEN
                 PERFORM pg_catalog.pg_sleep(0.004);
               END IF;
               RETURN a;
             END $$;
             CREATE TABLE public.small (id integer PRIMARY KEY, v text);
             INSERT INTO public.small SELECT g, 'row ' || g FROM generate_series(1, 200) g;
             CREATE TABLE public.big (
               id integer PRIMARY KEY,
               g integer GENERATED ALWAYS AS (public.slow_on_target(id)) STORED,
               pad text);
             INSERT INTO public.big (id, pad) SELECT g, repeat('x', {pad}) FROM generate_series(1, {BIG_ROWS}) g;
             CREATE INDEX big_pad ON public.big (pad);
             CREATE SEQUENCE public.counter; SELECT pg_catalog.setval('public.counter', 42);"
        ),
    )
    .await;
    db
}

async fn checksum(c: &support::Cluster, db: &str, table: &str) -> Vec<Option<String>> {
    c.query_strings(
        db,
        &format!(
            "SELECT count(*)::text, md5(string_agg(t::text, '|' ORDER BY t::text)) FROM public.{table} t"
        ),
    )
    .await
    .remove(0)
}

/// The target equals the source (rows of both tables, the index, the sequence) and holds no
/// ledger.
async fn assert_migrated(db: &str) {
    assert_migrated_to(target(), db).await
}

/// [`assert_migrated`] for target cluster `tgt`.
async fn assert_migrated_to(tgt: &support::Cluster, db: &str) {
    let src = source();
    for t in ["small", "big"] {
        assert_eq!(
            checksum(src, db, t).await,
            checksum(tgt, db, t).await,
            "table {t}"
        );
    }
    let index = tgt
        .query_strings(
            db,
            "SELECT 1 FROM pg_indexes WHERE schemaname = 'public' AND indexname = 'big_pad'",
        )
        .await;
    assert_eq!(index.len(), 1, "post-data index created");
    let seq = tgt
        .query_strings(db, "SELECT last_value::text FROM public.counter")
        .await;
    assert_eq!(seq[0][0].as_deref(), Some("42"));
    assert!(
        !has_ledger_in(tgt, db).await,
        "no working ledger after success"
    );
    assert!(
        has_record_in(tgt, db).await,
        "the finished migration's record"
    );
}

async fn has_ledger(db: &str) -> bool {
    has_ledger_in(target(), db).await
}

/// Whether target database `db` holds a working ledger: a run's progress (its `part` table).
/// The record a finished migration leaves is the `run` table alone ([`has_record_in`]).
async fn has_ledger_in(tgt: &support::Cluster, db: &str) -> bool {
    tgt.query_strings(
        db,
        &format!(
            "SELECT pg_catalog.to_regclass({}) IS NOT NULL",
            quote_literal(&format!("{}.part", quote_ident(LEDGER_SCHEMA)))
        ),
    )
    .await[0][0]
        .as_deref()
        == Some("t")
}

/// Whether target database `db` holds the record of a finished migration and nothing else of
/// the ledger: one table, its row stamped `finished_at`.
async fn has_record_in(tgt: &support::Cluster, db: &str) -> bool {
    let tables = tgt
        .query_strings(
            db,
            &format!(
                "SELECT string_agg(relname::text, ',') FROM pg_class \
                  WHERE relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = {}) \
                    AND relkind = 'r'",
                quote_literal(LEDGER_SCHEMA)
            ),
        )
        .await;
    if tables[0][0].as_deref() != Some("run") {
        return false;
    }
    tgt.query_strings(
        db,
        &format!(
            "SELECT count(*) FROM {}.run WHERE finished_at IS NOT NULL AND stage = 'done'",
            quote_ident(LEDGER_SCHEMA)
        ),
    )
    .await[0][0]
        .as_deref()
        == Some("1")
}

/// Waits until the ledger of target database `db` records `small` copied and a COPY into `big`
/// runs on the target; returns that COPY's backend pid.
async fn wait_for_big_copy(db: &str) -> i32 {
    wait_for_big_copy_in(target(), db).await
}

/// [`wait_for_big_copy`] on target cluster `tgt`.
async fn wait_for_big_copy_in(tgt: &support::Cluster, db: &str) -> i32 {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        assert!(Instant::now() < deadline, "the copy of big never started");
        let exists = tgt
            .query_strings(
                "postgres",
                &format!(
                    "SELECT 1 FROM pg_database WHERE datname = {}",
                    quote_literal(db)
                ),
            )
            .await;
        let ledger = format!("{}.part", quote_ident(LEDGER_SCHEMA));
        if !exists.is_empty()
            && !tgt
                .query_strings(
                    db,
                    &format!(
                        "SELECT 1 WHERE pg_catalog.to_regclass({}) IS NOT NULL",
                        quote_literal(&ledger)
                    ),
                )
                .await
                .is_empty()
        {
            let rows = tgt
                .query_strings(
                    db,
                    &format!(
                        "SELECT a.pid::text FROM pg_stat_activity a
                          WHERE a.datname = current_database() AND a.query LIKE 'COPY \"public\".\"big\"%'
                            AND EXISTS (SELECT 1 FROM {ledger} p
                                         WHERE p.table_name = 'small' AND p.state = 'copied')"
                    ),
                )
                .await;
            if let Some(pid) = rows.first().and_then(|r| r[0].clone()) {
                return pid.parse().unwrap();
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn spawn(db: &str, extra: &[&str]) -> Child {
    spawn_to(target(), db, extra)
}

/// [`spawn`] into target cluster `tgt`; `--copy-retries 0` and `--jobs 2` unless `extra` sets
/// them.
fn spawn_to(tgt: &support::Cluster, db: &str, extra: &[&str]) -> Child {
    let retries: &[&str] = if extra.contains(&"--copy-retries") {
        &[]
    } else {
        &["--copy-retries", "0"]
    };
    let jobs: &[&str] = if extra.contains(&"--jobs") {
        &[]
    } else {
        &["--jobs", "2"]
    };
    Command::new(env!("CARGO_BIN_EXE_pg_migrate"))
        .args([
            "-s",
            &source().superuser_uri("postgres"),
            "-t",
            &tgt.superuser_uri("postgres"),
            "--only-db",
            db,
            "--dump-only",
        ])
        .args(jobs)
        .args(retries)
        .args(extra)
        .env_remove("SOURCE_SERVICE_URI")
        .env_remove("TARGET_SERVICE_URI")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("pg_migrate starts")
}

fn finish(child: Child) -> (Option<i32>, String, String) {
    let o = child.wait_with_output().unwrap();
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn database<'a>(v: &'a Value, db: &str) -> &'a Value {
    v["databases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["dbname"] == db)
        .unwrap_or_else(|| panic!("{db} reported: {v}"))
}

fn table<'a>(list: &'a Value, name: &str) -> &'a Value {
    list.as_array()
        .unwrap_or_else(|| panic!("a table list: {list}"))
        .iter()
        .find(|t| t["table"] == name)
        .unwrap_or_else(|| panic!("{name} listed: {list}"))
}

#[tokio::test]
async fn a_killed_run_is_refused_without_resume_and_resume_completes_it() {
    let db = fixture("recovery kill ").await;
    let child = spawn(&db, &[]);
    wait_for_big_copy(&db).await;
    let mut child = child;
    child.kill().unwrap(); // SIGKILL: nothing of ours runs afterwards
    let _ = child.wait();

    // The same command again writes nothing (exit 2: refused as a whole) and names both ways
    // on.
    let (code, _, err) = finish(spawn(&db, &[]));
    assert_eq!(code, Some(2), "{err}");
    for needle in [
        "unfinished migration",
        "--resume",
        "--clean",
        "stopped during the data copy",
    ] {
        assert!(err.contains(needle), "{needle} not in:\n{err}");
    }
    assert!(has_ledger(&db).await);

    // --resume keeps small (copied by the killed run) and copies big in a new snapshot.
    let (code, out, err) = finish(spawn(&db, &["--resume", "--json", "-"]));
    assert_eq!(code, Some(0), "{err}");
    let v: Value = serde_json::from_str(&out).expect("JSON on stdout");
    let entry = database(&v, &db);
    assert_eq!(entry["status"], "done", "{v}");
    let tables = &entry["data"]["tables"];
    let small = table(tables, "small");
    let big = table(tables, "big");
    assert_eq!(small["rows"], 200, "{v}");
    assert_eq!(big["rows"], BIG_ROWS, "{v}");
    let (s_snap, b_snap) = (&small["snapshots"], &big["snapshots"]);
    assert_eq!(s_snap.as_array().unwrap().len(), 1, "{v}");
    assert_ne!(
        s_snap, b_snap,
        "small was copied as of the killed run's snapshot: {v}"
    );
    let warned = v["warnings"].as_array().unwrap().iter().any(|w| {
        w["message"]
            .as_str()
            .unwrap()
            .contains("resumed: 1 table was copied")
    });
    assert!(warned, "the report warns about writes in between: {v}");
    assert_migrated(&db).await;

    // A completed migration run again is refused as migrated already, and so is --clean (the
    // database may have been written to since): exit 2, nothing written. --resume reports it
    // done on its record's word, without touching it.
    assert!(!has_ledger(&db).await);
    assert!(has_record_in(target(), &db).await);
    let (code, _, err) = finish(spawn(&db, &[]));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("was migrated already"), "{err}");
    assert!(err.contains("--verify-only"), "{err}");
    let (code, _, err) = finish(spawn(&db, &["--clean"]));
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("holds the record of a finished migration"),
        "{err}"
    );
    target()
        .execute(
            &db,
            "INSERT INTO public.small VALUES (-1, 'written after the end')",
        )
        .await;
    let (code, out, err) = finish(spawn(&db, &["--resume", "--json", "-"]));
    assert_eq!(code, Some(0), "{err}");
    let v: Value = serde_json::from_str(&out).expect("JSON on stdout");
    assert_eq!(database(&v, &db)["status"], "done", "{v}");
    let kept = target()
        .query_strings(&db, "SELECT count(*) FROM public.small WHERE id = -1")
        .await;
    assert_eq!(kept[0][0].as_deref(), Some("1"), "--resume touched nothing");
    target()
        .execute(&db, "DELETE FROM public.small WHERE id = -1")
        .await;
    // The proof asked for is --verify-only's, whatever migrated the database.
    let (code, out, err) = finish(spawn(&db, &["--verify-only", "--json", "-"]));
    assert_eq!(code, Some(0), "{err}");
    let v: Value = serde_json::from_str(&out).expect("JSON on stdout");
    assert_eq!(database(&v, &db)["verify"]["status"], "equal", "{v}");
}

#[tokio::test]
async fn sigterm_reports_every_table_and_clean_starts_over() {
    let db = fixture("recovery term ").await;
    let dir = std::env::temp_dir().join(support::unique_name("recovery-json-"));
    std::fs::create_dir_all(&dir).unwrap();
    let json = dir.join("run.json");
    let child = spawn(&db, &["--json", json.to_str().unwrap()]);
    wait_for_big_copy(&db).await;
    let started = Instant::now();
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let (code, _, err) = finish(child);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the COPY was cancelled, not waited for"
    );
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let entry = database(&v, &db);
    assert_eq!(entry["status"], "failed", "{v}");
    assert!(
        entry["message"]
            .as_str()
            .unwrap()
            .starts_with("interrupted"),
        "{v}"
    );
    assert_eq!(table(&entry["tables"], "small")["state"], "copied", "{v}");
    assert_eq!(
        table(&entry["tables"], "big")["state"],
        "interrupted",
        "{v}"
    );
    // The target's COPY sessions are gone: a backend notices its client's exit
    // asynchronously, so they are given a few seconds, not waited for forever.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let left = target()
            .query_strings(
                &db,
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()",
            )
            .await;
        if left.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "target sessions left: {left:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // --clean drops the database the killed run created, then migrates it from the start.
    let (code, _, err) = finish(spawn(&db, &["--clean"]));
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("--clean dropped the target database"), "{err}");
    assert_migrated(&db).await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_terminated_target_backend_is_retried_on_new_sessions() {
    let db = fixture("recovery retry ").await;
    let mut opts = MigrateOptions {
        source: ConnInfo::parse(&source().superuser_uri("postgres")).unwrap(),
        target: ConnInfo::parse(&target().superuser_uri("postgres")).unwrap(),
        only_dbs: vec![db.clone()],
        force_method: Some(Method::Dump),
        ..Default::default()
    };
    opts.copy.jobs = NonZeroUsize::new(2).unwrap();
    opts.copy.progress = db_migrate::copy::ProgressMode::Quiet;
    opts.copy.retry_delay = Duration::from_millis(200);
    let killer = {
        let db = db.clone();
        tokio::spawn(async move {
            let pid = wait_for_big_copy(&db).await;
            target()
                .execute("postgres", &format!("SELECT pg_terminate_backend({pid})"))
                .await;
        })
    };
    let result = PgMigrate::new(opts).migrate().await;
    killer.await.unwrap();
    let entry = result.databases.iter().find(|d| d.dbname == db).unwrap();
    assert_eq!(entry.status, DbStatus::Done, "{}", result.to_json());
    let data = entry.data.as_ref().unwrap();
    let big = data.tables.iter().find(|t| t.table == "big").unwrap();
    assert_eq!(big.retries, 1, "{}", result.to_json());
    assert_eq!(data.retries, 1);
    assert_migrated(&db).await;
}

#[tokio::test]
async fn non_empty_targets_are_refused_and_empty_existing_ones_are_used() {
    let (src, tgt) = (source(), target());
    let busy = src.create_database("recovery busy ").await;
    let empty = src.create_database("recovery empty ").await;
    for db in [&busy, &empty] {
        src.execute(db, "CREATE TABLE t (a int); INSERT INTO t VALUES (1)")
            .await;
        tgt.execute("postgres", &format!("CREATE DATABASE {}", quote_ident(db)))
            .await;
    }
    tgt.execute(
        &busy,
        "CREATE TABLE theirs (a int); CREATE VIEW v AS SELECT 1 AS one",
    )
    .await;
    let opts = MigrateOptions {
        source: ConnInfo::parse(&src.superuser_uri("postgres")).unwrap(),
        target: ConnInfo::parse(&tgt.superuser_uri("postgres")).unwrap(),
        only_dbs: vec![busy.clone(), empty.clone()],
        force_method: Some(Method::Dump),
        ..Default::default()
    };
    let result = PgMigrate::new(opts).migrate().await;
    let busy_entry = result.databases.iter().find(|d| d.dbname == busy).unwrap();
    assert_eq!(busy_entry.status, DbStatus::Failed);
    assert!(
        busy_entry.message.contains(&format!(
            "target database \"{busy}\" is not empty: 1 tables, 1 other objects"
        )),
        "{}",
        busy_entry.message
    );
    let untouched = tgt
        .query_strings(&busy, "SELECT 1 FROM pg_class WHERE relname = 't'")
        .await;
    assert!(
        untouched.is_empty(),
        "nothing written to the refused database"
    );
    let empty_entry = result.databases.iter().find(|d| d.dbname == empty).unwrap();
    assert_eq!(empty_entry.status, DbStatus::Done, "{}", result.to_json());
    // Its ledger stays, recording it done, until the run's other database is done too: the
    // proof that a --resume may leave it alone.
    assert!(has_ledger(&empty).await);
    assert_eq!(
        tgt.query_strings(&empty, "SELECT stage FROM db_migrate.run")
            .await[0][0]
            .as_deref(),
        Some("done")
    );
}

/// Cancelling the run while the target's schema is being created stops that stage: the run
/// ends at once with the database interrupted in the pre-data phase, not every table was
/// created, and no target session is left (so no transaction stays open).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_during_schema_creation_stops_it_and_leaves_no_open_transaction() {
    const TABLES: usize = 6000;
    let db = source().create_database("recovery schema cancel ").await;
    source()
        .execute(
            &db,
            &format!(
                "DO $$ BEGIN FOR i IN 1..{TABLES} LOOP
                     EXECUTE format('CREATE TABLE t%s (id int PRIMARY KEY, v text)', i);
                 END LOOP; END $$;"
            ),
        )
        .await;
    let opts = MigrateOptions {
        source: ConnInfo::parse(&source().superuser_uri("postgres")).unwrap(),
        target: ConnInfo::parse(&target().superuser_uri("postgres")).unwrap(),
        only_dbs: vec![db.clone()],
        force_method: Some(Method::Dump),
        schema_jobs: NonZeroUsize::new(2),
        ..Default::default()
    };
    let cancel = opts.cancel.clone();
    let canceller = {
        let db = db.clone();
        tokio::spawn(async move {
            let deadline = Instant::now() + Duration::from_secs(120);
            loop {
                assert!(
                    Instant::now() < deadline,
                    "the schema creation never started"
                );
                let creating = target()
                    .query_strings(
                        "postgres",
                        &format!(
                            "SELECT 1 FROM pg_stat_activity WHERE datname = {} \
                             AND state = 'active' AND query LIKE '%CREATE TABLE%'",
                            quote_literal(&db)
                        ),
                    )
                    .await;
                if !creating.is_empty() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            cancel.cancel();
            Instant::now()
        })
    };
    let result = PgMigrate::new(opts).migrate().await;
    let cancelled_at = canceller.await.unwrap();
    assert!(
        cancelled_at.elapsed() < Duration::from_secs(10),
        "the schema stage stopped when cancelled, it was not waited for"
    );
    let entry = result.databases.iter().find(|d| d.dbname == db).unwrap();
    assert_eq!(entry.status, DbStatus::Failed, "{}", result.to_json());
    assert!(
        entry.message.starts_with("interrupted"),
        "{}",
        entry.message
    );
    assert_eq!(
        entry.phase,
        Some(db_migrate::error::Phase::PreData),
        "{}",
        result.to_json()
    );
    // Failed before the copy: every table is listed, none started.
    assert_eq!(entry.tables.len(), TABLES);
    assert!(
        entry
            .tables
            .iter()
            .all(|t| t.state == db_migrate::copy::TableState::NotStarted && t.rows == 0)
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let left = target()
            .query_strings(
                "postgres",
                &format!(
                    "SELECT pid::text, state FROM pg_stat_activity WHERE datname = {}",
                    quote_literal(&db)
                ),
            )
            .await;
        if left.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "target sessions left: {left:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let created = target()
        .query_strings(
            &db,
            "SELECT count(*)::text FROM pg_class WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace",
        )
        .await;
    let created: usize = created[0][0].as_deref().unwrap().parse().unwrap();
    assert!(created < TABLES, "all {TABLES} tables were created");
}

/// The pid of the source backend running `big`'s `COPY ... TO STDOUT` in database `db`.
async fn source_big_copy(db: &str) -> i32 {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        assert!(Instant::now() < deadline, "no COPY of big on the source");
        let rows = source()
            .query_strings(
                "postgres",
                &format!(
                    "SELECT pid::text FROM pg_stat_activity WHERE datname = {} \
                     AND state = 'active' AND query LIKE 'COPY%big%TO STDOUT%'",
                    quote_literal(db)
                ),
            )
            .await;
        if let Some(pid) = rows.first().and_then(|r| r[0].clone()) {
            return pid.parse().unwrap();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn terminate(c: &support::Cluster, pid: i32) {
    let done = c
        .query_strings(
            "postgres",
            &format!("SELECT pg_catalog.pg_terminate_backend({pid})::text"),
        )
        .await;
    assert_eq!(
        done[0][0].as_deref(),
        Some("true"),
        "backend {pid} terminated"
    );
}

/// Runs `--resume` into `tgt` and checks it completes: database done, `big` fully copied.
async fn resume_completes(tgt: &support::Cluster, db: &str) -> Value {
    let (code, out, err) = finish(spawn_to(tgt, db, &["--resume", "--json", "-"]));
    assert_eq!(code, Some(0), "{err}");
    let v: Value = serde_json::from_str(&out).expect("JSON on stdout");
    let entry = database(&v, db);
    assert_eq!(entry["status"], "done", "{v}");
    assert_eq!(
        table(&entry["data"]["tables"], "big")["rows"],
        BIG_ROWS,
        "{v}"
    );
    v
}

#[tokio::test]
async fn a_terminated_source_copy_backend_is_retried_in_the_same_snapshot() {
    let db = fixture_padded("recovery source term ", 20_000).await;
    let child = spawn(&db, &["--copy-retries", "2", "--json", "-"]);
    wait_for_big_copy(&db).await;
    terminate(source(), source_big_copy(&db).await).await;
    let (code, out, err) = finish(child);
    assert_eq!(code, Some(0), "{err}");
    let v: Value = serde_json::from_str(&out).expect("JSON on stdout");
    let entry = database(&v, &db);
    assert_eq!(entry["status"], "done", "{v}");
    let big = table(&entry["data"]["tables"], "big");
    assert_eq!(big["retries"], 1, "{v}");
    assert_eq!(big["rows"], BIG_ROWS, "{v}");
    let small = table(&entry["data"]["tables"], "small");
    assert_eq!(
        big["snapshots"], small["snapshots"],
        "the retry read in the run's one snapshot: {v}"
    );
    assert_migrated(&db).await;
}

#[tokio::test]
async fn a_terminated_source_copy_backend_without_retries_fails_and_resume_completes() {
    let db = fixture_padded("recovery source fail ", 20_000).await;
    let child = spawn(&db, &["--json", "-"]);
    wait_for_big_copy(&db).await;
    terminate(source(), source_big_copy(&db).await).await;
    let (code, out, err) = finish(child);
    assert_eq!(code, Some(1), "{err}");
    let v: Value = serde_json::from_str(&out).expect("JSON on stdout");
    let entry = database(&v, &db);
    assert_eq!(entry["status"], "failed", "{v}");
    assert_eq!(table(&entry["tables"], "small")["state"], "copied", "{v}");
    assert_eq!(table(&entry["tables"], "big")["state"], "failed", "{v}");
    assert!(has_ledger(&db).await);
    resume_completes(target(), &db).await;
    assert_migrated(&db).await;
}

/// The source session that exported the copy snapshot and holds it open: the oldest
/// transaction of a db-migrate session in `db` (the workers import the snapshot later).
async fn snapshot_holder(db: &str) -> i32 {
    let rows = source()
        .query_strings(
            "postgres",
            &format!(
                "SELECT pid::text FROM pg_stat_activity WHERE datname = {} \
                 AND application_name LIKE 'db-migrate%' AND state = 'idle in transaction' \
                 ORDER BY xact_start LIMIT 1",
                quote_literal(db)
            ),
        )
        .await;
    rows.first()
        .and_then(|r| r[0].clone())
        .expect("the snapshot's session is idle in transaction")
        .parse()
        .unwrap()
}

#[tokio::test]
async fn losing_the_snapshot_holder_fails_the_run_pointing_to_resume_which_completes() {
    let db = fixture_padded("recovery snapshot ", 20_000).await;
    let child = spawn(&db, &["--copy-retries", "2", "--json", "-"]);
    wait_for_big_copy(&db).await;
    terminate(source(), snapshot_holder(&db).await).await;
    // The running COPY keeps its own imported snapshot; its retry would need a new import.
    terminate(source(), source_big_copy(&db).await).await;
    let (code, out, err) = finish(child);
    assert_eq!(code, Some(1), "{err}");
    let v: Value = serde_json::from_str(&out).expect("JSON on stdout");
    let entry = database(&v, &db);
    assert_eq!(entry["status"], "failed", "{v}");
    let message = entry["message"].as_str().unwrap();
    assert!(message.contains("is gone"), "{v}");
    assert!(message.contains("--resume"), "{v}");
    assert_ne!(table(&entry["tables"], "big")["state"], "copied", "{v}");
    resume_completes(target(), &db).await;
    assert_migrated(&db).await;
}

/// A target cluster of this test's own, like [`target()`], for faults that hit the whole
/// server.
fn own_target() -> support::Cluster {
    support::cluster_with_conf(&target().bin_dir, "").expect("a target cluster of our own")
}

/// What a restart of the target does today: the running part is retried on new sessions once
/// the server is back and commits, but the run's sessions opened before the restart (the
/// post-data stage's) are not reopened, so the database fails in post-data with a lost
/// connection; `--resume` then creates the missing post-data and completes.
#[tokio::test]
async fn a_target_restarted_mid_copy_heals_by_retrying_on_new_sessions() {
    let tgt = own_target();
    let db = fixture("recovery restart ").await;
    // Migrated after `db` (name and creation order): through a new session of the run's own.
    let then = fixture("recovery restart then ").await;
    let both = format!("{db},{then}");
    let child = spawn_to(&tgt, &both, &["--copy-retries", "3", "--json", "-"]);
    wait_for_big_copy_in(&tgt, &db).await;
    tgt.restart();
    let (code, out, err) = finish(child);
    let v: Value = serde_json::from_str(&out).expect("JSON on stdout");
    assert_eq!(code, Some(0), "{err}\n{v}");
    let entry = database(&v, &db);
    assert_eq!(entry["status"], "done", "{v}");
    let big = table(&entry["data"]["tables"], "big");
    assert_eq!(big["retries"], 1, "{v}");
    // The part being copied was retried and the rest of the run went on on new sessions.
    assert_migrated_to(&tgt, &db).await;
    assert_eq!(database(&v, &then)["status"], "done", "{v}");
    assert_migrated_to(&tgt, &then).await;
}

/// How long the network cut of the stall test lasts: twice its `--stall-timeout`.
const CUT: Duration = Duration::from_secs(20);

/// The longest the stall test's run may take from the start of the cut: the cut, then per
/// attempt the stall bound (10 s), the cancel requests (at most 5 s) and the backoff, three
/// retries, and the copy itself. What it rules out is the old behaviour: a run that waits on
/// the kernel's keepalive timer (two hours) with `0.0 MiB/s` on its progress line.
const STALL_TEST_BOUND: Duration = Duration::from_secs(180);

/// Waits for `child` at most until `deadline`; kills it and fails the test past it.
fn finish_by(child: Child, deadline: Instant) -> (Option<i32>, String, String) {
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(finish(child));
    });
    match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        Ok(r) => r,
        Err(_) => {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            panic!("the run did not end within its bound: a silent stall");
        }
    }
}

/// One network cut at a time: the cut is a qdisc on all of `lo`, of which there is one.
static CUTS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// What a run cut off from its target did.
struct CutRun {
    code: Option<i32>,
    report: Value,
    stderr: String,
    /// From the start of the cut to the end of the run.
    after_cut: Duration,
}

/// Migrates `db` into `tgt` with `--stall-timeout 10s` and `extra`, and drops the traffic of
/// `tgt`'s port for [`CUT`] once `big`'s COPY is running.
async fn run_with_target_cut_mid_copy(tgt: &support::Cluster, db: &str, extra: &[&str]) -> CutRun {
    let mut args = vec!["--stall-timeout", "10s", "--json", "-"];
    args.extend_from_slice(extra);
    let child = spawn_to(tgt, db, &args);
    wait_for_big_copy_in(tgt, db).await;
    let cut = PortCut::start(tgt.port).expect("cutting the target's port with tc");
    let cut_at = Instant::now();
    tokio::time::sleep(CUT).await;
    drop(cut);
    let (code, out, stderr) = finish_by(child, cut_at + STALL_TEST_BOUND);
    let report = serde_json::from_str(&out).unwrap_or_else(|_| panic!("JSON on stdout\n{stderr}"));
    CutRun {
        code,
        report,
        stderr,
        after_cut: cut_at.elapsed(),
    }
}

/// Whether this machine can cut a port; else says SKIPPED loudly.
fn can_cut(test: &str) -> bool {
    match PortCut::available() {
        Ok(()) => true,
        Err(why) => {
            eprintln!("\n*** SKIPPED {test}: {why} ***\n");
            false
        }
    }
}

/// A network cut between db-migrate and the target in the middle of a COPY (the target's TCP
/// port dropped on loopback for 20 s, both directions): the part moves no byte, the stall
/// watchdog (`--stall-timeout 10s`) cancels it on both sides and retries it on new sessions
/// once the network is back, and the run heals: done, the target equal to the source. Should
/// the retries run out first, the run fails naming the stall and pointing to `--resume`, which
/// completes equal. Either way the run ends within a bound. Needs root and `tc`; skipped
/// loudly otherwise.
#[tokio::test]
async fn a_network_cut_to_the_target_mid_copy_is_a_stall_that_heals_or_fails_naming_it() {
    if !can_cut("a_network_cut_to_the_target_mid_copy_is_a_stall_that_heals_or_fails_naming_it") {
        return;
    }
    let _one_cut = CUTS.lock().await;
    // A target of its own: the cut must not hit the other tests' target.
    let tgt = own_target();
    // 30 MB in `big`, loaded at 4 ms a row: its COPY is running, with bytes in flight, when
    // the cut begins.
    let db = fixture_padded("recovery stall ", 20_000).await;
    let started = Instant::now();
    let run = run_with_target_cut_mid_copy(&tgt, &db, &["--copy-retries", "3"]).await;
    let (v, err) = (&run.report, &run.stderr);
    let entry = database(v, &db);
    assert!(
        err.contains("no byte moved") && err.contains("--stall-timeout"),
        "the stall is named:\n{err}"
    );
    if run.code == Some(0) {
        assert_eq!(entry["status"], "done", "{v}");
        let big = table(&entry["data"]["tables"], "big");
        assert!(big["retries"].as_u64().unwrap() >= 1, "{v}");
        eprintln!(
            "healed: run of {:.0} s, ended {:.0} s after a {} s cut began, {} retries of big",
            started.elapsed().as_secs_f64(),
            run.after_cut.as_secs_f64(),
            CUT.as_secs(),
            big["retries"]
        );
    } else {
        assert_eq!(run.code, Some(1), "{err}");
        assert_eq!(entry["status"], "failed", "{v}");
        let message = entry["message"].as_str().unwrap();
        assert!(
            message.contains("stalled") && message.contains("--resume"),
            "{v}"
        );
        eprintln!(
            "failed naming the stall {:.0} s after a {} s cut began: {message}",
            run.after_cut.as_secs_f64(),
            CUT.as_secs()
        );
        resume_completes(&tgt, &db).await;
    }
    assert_migrated_to(&tgt, &db).await;
}

/// The same cut with `--copy-retries 0`: the stalled part is not retried, so the database
/// fails, its message naming the stall, the bound and the way on (`--resume`), with `big` not
/// reported copied; once the network is back, `--resume` completes equal. Needs root and `tc`.
#[tokio::test]
async fn a_stall_without_retries_fails_naming_it_and_resume_completes() {
    if !can_cut("a_stall_without_retries_fails_naming_it_and_resume_completes") {
        return;
    }
    let _one_cut = CUTS.lock().await;
    let tgt = own_target();
    let db = fixture_padded("recovery stall fail ", 20_000).await;
    let run = run_with_target_cut_mid_copy(&tgt, &db, &["--copy-retries", "0"]).await;
    let (v, err) = (&run.report, &run.stderr);
    assert_eq!(run.code, Some(1), "{err}");
    let entry = database(v, &db);
    assert_eq!(entry["status"], "failed", "{v}");
    let message = entry["message"].as_str().unwrap();
    for needle in [
        "\"public\".\"big\"",
        "stalled: no byte moved for",
        "--stall-timeout",
        "run the same command with --resume",
    ] {
        assert!(message.contains(needle), "{needle} not in {message}");
    }
    assert_ne!(table(&entry["tables"], "big")["state"], "copied", "{v}");
    eprintln!(
        "failed naming the stall {:.0} s after a {} s cut began: {message}",
        run.after_cut.as_secs_f64(),
        CUT.as_secs()
    );
    resume_completes(&tgt, &db).await;
    assert_migrated_to(&tgt, &db).await;
}

/// A tmpfs mounted at a fresh directory, owned by the server user; unmounted on drop (lazily,
/// since the server may still hold files in it when a test fails half-way).
struct SmallDisk {
    dir: std::path::PathBuf,
}

impl SmallDisk {
    /// Mounts a `size` tmpfs, or says why not (not root, no mount privilege).
    fn mount(size: &str) -> Result<SmallDisk, String> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return Err("not running as root (mounting a tmpfs needs root)".into());
        }
        let dir = std::env::temp_dir().join(support::unique_name("db-migrate-small-disk-"));
        std::fs::create_dir_all(&dir).map_err(|e| format!("mkdir {}: {e}", dir.display()))?;
        let out = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(&dir)
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !out.status.success() {
            let _ = std::fs::remove_dir(&dir);
            return Err(format!(
                "mount -t tmpfs failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        let disk = SmallDisk { dir };
        let chown = Command::new("chown")
            .args(["postgres:", disk.dir.to_str().unwrap()])
            .status()
            .map_err(|e| format!("cannot run chown: {e}"))?;
        if !chown.success() {
            return Err("chown postgres of the tmpfs failed".into());
        }
        Ok(disk)
    }

    /// Grows the tmpfs to `size` in place (the files in it stay).
    fn grow(&self, size: &str) {
        let ok = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.dir)
            .status()
            .unwrap()
            .success();
        assert!(ok, "remounting {} with size={size}", self.dir.display());
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// The target database lives in a tablespace on a 20 MB tmpfs and `big` needs about 35 MB:
/// the run fails with the server's "disk full" (53100), `big` is not reported copied, and once
/// the disk is larger `--resume` completes. Needs root (mount); skipped loudly otherwise.
#[tokio::test]
async fn a_target_out_of_disk_space_fails_clearly_and_resume_completes_after_making_room() {
    let disk = match SmallDisk::mount("20m") {
        Ok(d) => d,
        Err(why) => {
            eprintln!(
                "SKIPPED a_target_out_of_disk_space_fails_clearly_and_resume_completes_after_making_room: {why}"
            );
            return;
        }
    };
    let (src, tgt) = (source(), target());
    let db = src.create_database("recovery disk full ").await;
    // md5 text does not compress, so what the target stores is what the source sends.
    src.execute(
        &db,
        "CREATE TABLE public.small (id integer PRIMARY KEY, v text);
         INSERT INTO public.small SELECT g, 'row ' || g FROM generate_series(1, 200) g;
         CREATE TABLE public.big (id integer PRIMARY KEY, pad text);
         INSERT INTO public.big
           SELECT g, (SELECT string_agg(md5(g::text || ':' || i::text), '')
                        FROM generate_series(1, 100) i)
             FROM generate_series(1, 10000) g;",
    )
    .await;
    let ts = support::unique_name("small_disk_");
    tgt.execute(
        "postgres",
        &format!(
            "CREATE TABLESPACE {} LOCATION {}",
            quote_ident(&ts),
            quote_literal(disk.dir.to_str().unwrap())
        ),
    )
    .await;
    tgt.execute(
        "postgres",
        &format!(
            "CREATE DATABASE {} TABLESPACE {}",
            quote_ident(&db),
            quote_ident(&ts)
        ),
    )
    .await;

    let (code, out, err) = finish(spawn(&db, &["--json", "-"]));
    assert_eq!(code, Some(1), "{err}");
    let v: Value = serde_json::from_str(&out).expect("JSON on stdout");
    let entry = database(&v, &db);
    assert_eq!(entry["status"], "failed", "{v}");
    let message = entry["message"].as_str().unwrap();
    assert!(
        message.contains("53100") || message.contains("No space left on device"),
        "the disk-full error is named: {v}"
    );
    assert_ne!(table(&entry["tables"], "big")["state"], "copied", "{v}");
    assert!(has_ledger(&db).await);

    disk.grow("200m");
    let (code, out, err) = finish(spawn(&db, &["--resume", "--json", "-"]));
    assert_eq!(code, Some(0), "{err}");
    let v: Value = serde_json::from_str(&out).expect("JSON on stdout");
    assert_eq!(database(&v, &db)["status"], "done", "{v}");
    for t in ["small", "big"] {
        assert_eq!(
            checksum(src, &db, t).await,
            checksum(tgt, &db, t).await,
            "table {t}"
        );
    }
    assert!(!has_ledger(&db).await, "no working ledger after success");
    assert!(
        has_record_in(target(), &db).await,
        "the finished migration's record"
    );
    // One statement each: DROP DATABASE refuses to run in a (multi-statement) transaction.
    tgt.execute("postgres", &format!("DROP DATABASE {}", quote_ident(&db)))
        .await;
    tgt.execute("postgres", &format!("DROP TABLESPACE {}", quote_ident(&ts)))
        .await;
    drop(disk);
}

/// Each worker imported the snapshot into its own transaction, which keeps that image however
/// the exporting session ends: losing the holder once every part has started costs nothing,
/// the run completes and all tables are as of the one snapshot.
#[tokio::test]
async fn losing_the_snapshot_holder_after_every_part_started_does_not_fail_the_run() {
    let db = fixture_padded("recovery holder only ", 20_000).await;
    let child = spawn(&db, &["--json", "-"]);
    wait_for_big_copy(&db).await;
    terminate(source(), snapshot_holder(&db).await).await;
    let (code, out, err) = finish(child);
    assert_eq!(code, Some(0), "{err}");
    let v: Value = serde_json::from_str(&out).expect("JSON on stdout");
    let entry = database(&v, &db);
    assert_eq!(entry["status"], "done", "{v}");
    let tables = &entry["data"]["tables"];
    assert_eq!(
        table(tables, "big")["snapshots"],
        table(tables, "small")["snapshots"],
        "{v}"
    );
    assert_migrated(&db).await;
}

// ---------------------------------------------------------------------------------------------
// The replication method: a run killed during its initial copy resumes on its own slot.

/// [`spawn`] with the replication method forced (no `--dump-only`).
fn spawn_replication(db: &str, extra: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_pg_migrate"))
        .args([
            "-s",
            &source().superuser_uri("postgres"),
            "-t",
            &target().superuser_uri("postgres"),
            "--only-db",
            db,
            "--force-method",
            "replication",
            "--jobs",
            "2",
            "--copy-retries",
            "0",
        ])
        .args(extra)
        .env_remove("SOURCE_SERVICE_URI")
        .env_remove("TARGET_SERVICE_URI")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("pg_migrate starts")
}

/// The replication objects of `db` on the source (publications and slots) and on the target
/// (subscriptions), by name.
async fn replication_objects(db: &str) -> Vec<String> {
    let mut out: Vec<String> = source()
        .query_strings(
            db,
            &format!(
                "SELECT 'publication ' || pubname FROM pg_publication
                 UNION ALL SELECT 'slot ' || slot_name FROM pg_replication_slots
                  WHERE database = {}",
                quote_literal(db)
            ),
        )
        .await
        .into_iter()
        .filter_map(|r| r[0].clone())
        .collect();
    out.extend(
        target()
            .query_strings(
                "postgres",
                &format!(
                    "SELECT 'subscription ' || s.subname FROM pg_subscription s
                       JOIN pg_database d ON d.oid = s.subdbid WHERE d.datname = {}",
                    quote_literal(db)
                ),
            )
            .await
            .into_iter()
            .filter_map(|r| r[0].clone()),
    );
    out
}

/// Kills (SIGKILL) a replication-method run of `db` while `big` is being copied, `small`
/// committed; the publication and slot stay on the source.
async fn kill_replication_run_mid_copy(db: &str, extra: &[&str]) {
    let mut child = spawn_replication(db, extra);
    wait_for_big_copy(db).await;
    child.kill().unwrap();
    let _ = child.wait();
    assert!(has_ledger(db).await);
    let objects = replication_objects(db).await;
    assert_eq!(objects.len(), 2, "publication and slot left: {objects:?}");
}

/// Inserts into and updates `small` (copied before the kill) and `big` (not copied) until
/// `stop`, numbering new rows from the sequence `counter`.
fn write_load(
    db: &str,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> tokio::task::JoinHandle<u32> {
    let db = db.to_string();
    tokio::spawn(async move {
        let mut rounds = 0;
        while !stop.load(std::sync::atomic::Ordering::SeqCst) {
            rounds += 1;
            source()
                .execute(
                    &db,
                    &format!(
                        "INSERT INTO public.small VALUES (1000 + nextval('public.counter'), 'new');
                         UPDATE public.small SET v = v || ' u' WHERE id = {a};
                         DELETE FROM public.small WHERE id = {d};
                         INSERT INTO public.big (id, pad) VALUES (100000 + nextval('public.counter'), 'new');
                         UPDATE public.big SET pad = pad || 'u' WHERE id = {b};",
                        a = 1 + rounds % 200,
                        d = 201 - (rounds % 50),
                        b = 1 + (rounds * 7) % BIG_ROWS,
                    ),
                )
                .await;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        rounds
    })
}

async fn sequence_value(c: &support::Cluster, db: &str) -> Option<String> {
    c.query_strings(db, "SELECT last_value::text FROM public.counter")
        .await
        .remove(0)
        .remove(0)
}

/// Creates a table in `db` and returns the flags that leave it out: the source superuser's
/// publication then lists the tables (FOR TABLE) instead of FOR ALL TABLES.
async fn skip_a_table(db: &str) -> [&'static str; 2] {
    source()
        .execute(db, "CREATE TABLE public.skipped (id integer PRIMARY KEY)")
        .await;
    ["--skip-table", "public.skipped"]
}

#[tokio::test]
async fn a_killed_replication_run_resumes_on_its_slot_under_writes_and_cuts_over() {
    let db = fixture("recovery repl kill ").await;
    // A foreign key from small (copied before the kill) to big (not): it can only be created
    // once the subscription has copied big.
    source()
        .execute(
            &db,
            "ALTER TABLE public.small ADD COLUMN big_id integer REFERENCES public.big (id);
             UPDATE public.small SET big_id = id;",
        )
        .await;
    // A table left out makes the publication list the others (FOR TABLE), which the resume
    // can change.
    let tables = skip_a_table(&db).await;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = write_load(&db, stop.clone());
    kill_replication_run_mid_copy(&db, &tables).await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Resume with the writes still going until the subscription exists (the table sync of
    // big takes seconds, so the cut-over cannot come before the writes stop).
    let child = spawn_replication(
        &db,
        &[
            &tables[..],
            &[
                "--resume",
                "--max-replication-lag",
                "0",
                "--stop-replication",
                "--json",
                "-",
            ],
        ]
        .concat(),
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while !replication_objects(&db)
        .await
        .iter()
        .any(|o| o.starts_with("subscription "))
    {
        assert!(
            Instant::now() < deadline,
            "the resume created no subscription"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let rounds = writer.await.unwrap();
    assert!(rounds > 10, "the write load ran ({rounds} rounds)");

    let (code, out, err) = finish(child);
    assert_eq!(code, Some(0), "{err}");
    let v: Value = serde_json::from_str(&out).expect("JSON on stdout");
    let entry = database(&v, &db);
    assert_eq!(entry["status"], "done", "{v}");
    assert_eq!(entry["method"], "replication", "{v}");
    let message = entry["message"].as_str().unwrap();
    for needle in [
        "resumed the interrupted run",
        "the slot carries the changes since that run's snapshot to the 1 table it had copied",
        "copied by the subscription's table synchronisation: 1 table (\"public\".\"big\")",
    ] {
        assert!(message.contains(needle), "{needle} not in {message}");
    }
    let warned = v["warnings"].as_array().unwrap().iter().any(|w| {
        w["message"]
            .as_str()
            .unwrap()
            .contains("are not in the target")
    });
    assert!(
        !warned,
        "replication carried the writes, no warning about them: {v}"
    );

    // Every row written before, during and after the kill is in, exactly once.
    let src = source();
    for t in ["small", "big"] {
        assert_eq!(
            checksum(src, &db, t).await,
            checksum(target(), &db, t).await,
            "table {t}"
        );
    }
    let index = target()
        .query_strings(
            &db,
            "SELECT 1 FROM pg_indexes WHERE schemaname = 'public' AND indexname = 'big_pad'",
        )
        .await;
    assert_eq!(index.len(), 1, "post-data index created");
    let fk = target()
        .query_strings(
            &db,
            "SELECT 1 FROM pg_constraint WHERE conrelid = 'public.small'::regclass AND contype = 'f'",
        )
        .await;
    assert_eq!(fk.len(), 1, "the foreign key was created");
    let seq = sequence_value(src, &db).await;
    assert_ne!(seq.as_deref(), Some("42"), "the writes used the sequence");
    assert_eq!(sequence_value(target(), &db).await, seq, "sequence synced");
    assert_eq!(replication_objects(&db).await, Vec::<String>::new());
    assert!(
        !has_ledger(&db).await,
        "no working ledger after the cut-over"
    );
    assert!(
        has_record_in(target(), &db).await,
        "the finished migration's record"
    );
}

#[tokio::test]
async fn resuming_a_replication_run_whose_slot_is_gone_is_refused_naming_it() {
    let db = fixture("recovery repl slot gone ").await;
    let tables = skip_a_table(&db).await;
    kill_replication_run_mid_copy(&db, &tables).await;
    // The killed run's walsender may take a moment to go.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let dropped = source()
            .query_strings(
                &db,
                &format!(
                    "SELECT pg_drop_replication_slot(slot_name)::text FROM pg_replication_slots
                      WHERE database = {} AND NOT active",
                    quote_literal(&db)
                ),
            )
            .await;
        if !dropped.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "the slot stayed active");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let resume = [&tables[..], &["--resume"]].concat();
    let (code, _, err) = finish(spawn_replication(&db, &resume));
    assert_ne!(code, Some(0), "{err}");
    for needle in [
        "unfinished migration",
        "replication slot \"aiven_db_migrate_",
        "is gone from the source",
        "the changes since its snapshot are not kept",
        "--cleanup to remove the publication",
        "then with --clean",
        "--force-method dump",
    ] {
        assert!(err.contains(needle), "{needle} not in:\n{err}");
    }
    // Nothing was written: the ledger and the publication are still there.
    assert!(has_ledger(&db).await);
    assert_eq!(replication_objects(&db).await.len(), 1);

    // The ways on it names work: --cleanup, then --clean with the dump method.
    let (code, _, err) = finish(spawn_replication(&db, &["--cleanup"]));
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(replication_objects(&db).await, Vec::<String>::new());
    let (code, _, err) = finish(spawn(&db, &["--clean"]));
    assert_eq!(code, Some(0), "{err}");
    assert_migrated(&db).await;
}

#[tokio::test]
async fn resuming_a_for_all_tables_replication_run_with_uncopied_tables_is_refused() {
    let db = fixture("recovery repl all tables ").await;
    // No table list: the superuser's publication is FOR ALL TABLES.
    kill_replication_run_mid_copy(&db, &[]).await;
    let (code, _, err) = finish(spawn_replication(&db, &["--resume"]));
    assert_ne!(code, Some(0), "{err}");
    for needle in [
        "FOR ALL TABLES",
        "1 table is not fully copied (\"public\".\"big\")",
        "cannot be dropped from a FOR ALL TABLES publication",
        "--cleanup",
        "--clean",
    ] {
        assert!(err.contains(needle), "{needle} not in:\n{err}");
    }
    assert!(has_ledger(&db).await);
    assert_eq!(replication_objects(&db).await.len(), 2, "nothing touched");
    let (code, _, err) = finish(spawn_replication(&db, &["--cleanup"]));
    assert_eq!(code, Some(0), "{err}");
}

/// The checks every completed replication-method resume ends with: `small` and `big` equal to
/// the source, the index `big_pad` built, the sequence synced (and moved by the writes), no
/// replication object and no ledger left.
async fn assert_replicated(db: &str) {
    let src = source();
    for t in ["small", "big"] {
        assert_eq!(
            checksum(src, db, t).await,
            checksum(target(), db, t).await,
            "table {t}"
        );
    }
    let index = target()
        .query_strings(
            db,
            "SELECT 1 FROM pg_indexes WHERE schemaname = 'public' AND indexname = 'big_pad'",
        )
        .await;
    assert_eq!(index.len(), 1, "post-data index created");
    let seq = sequence_value(src, db).await;
    assert_ne!(seq.as_deref(), Some("42"), "the writes used the sequence");
    assert_eq!(sequence_value(target(), db).await, seq, "sequence synced");
    assert_eq!(replication_objects(db).await, Vec::<String>::new());
    assert!(
        !has_ledger(db).await,
        "no working ledger after the cut-over"
    );
    assert!(
        has_record_in(target(), db).await,
        "the finished migration's record"
    );
}

/// Waits until target database `db` has a subscription.
async fn wait_for_subscription(db: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !replication_objects(db)
        .await
        .iter()
        .any(|o| o.starts_with("subscription "))
    {
        assert!(Instant::now() < deadline, "no subscription was created");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `--resume --max-replication-lag 0 --stop-replication --json -` of the replication method.
fn spawn_resume_cut_over(db: &str, tables: &[&str]) -> Child {
    spawn_replication(
        db,
        &[
            tables,
            &[
                "--resume",
                "--max-replication-lag",
                "0",
                "--stop-replication",
                "--json",
                "-",
            ],
        ]
        .concat(),
    )
}

/// Runs [`finish`] of a resume and returns the database's message (status done, method
/// replication).
fn resumed_message(child: Child, db: &str) -> String {
    let (code, out, err) = finish(child);
    assert_eq!(code, Some(0), "{err}");
    let v: Value = serde_json::from_str(&out).expect("JSON on stdout");
    let entry = database(&v, db);
    assert_eq!(entry["status"], "done", "{v}");
    assert_eq!(entry["method"], "replication", "{v}");
    entry["message"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_resume_killed_after_creating_its_subscription_is_resumed_again() {
    let db = fixture("recovery repl kill twice ").await;
    let tables = skip_a_table(&db).await;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = write_load(&db, stop.clone());
    kill_replication_run_mid_copy(&db, &tables).await;

    // The first resume is killed once its subscription exists (the table sync of big is
    // then running or about to); the subscription goes on by itself meanwhile.
    let mut child = spawn_resume_cut_over(&db, &tables);
    wait_for_subscription(&db).await;
    child.kill().unwrap();
    let _ = child.wait();
    assert!(has_ledger(&db).await);
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    writer.await.unwrap();

    // The second finds the subscription on the slot, empties nothing, adds what is missing.
    let message = resumed_message(spawn_resume_cut_over(&db, &tables), &db);
    for needle in [
        "the subscription on the interrupted run's slot existed already",
        "copied by the subscription's table synchronisation: 1 table (\"public\".\"big\")",
    ] {
        assert!(message.contains(needle), "{needle} not in {message}");
    }
    assert_replicated(&db).await;
}

#[tokio::test]
async fn a_replication_run_killed_after_its_copy_resumes_with_the_subscription_alone_then_cuts_over()
 {
    // The copy is quick and the index on big slow to build on the target (its expression
    // sleeps in sessions with session_replication_role = replica): the run is killed with every
    // table copied and post-data under way.
    let src = source();
    let db = src.create_database("recovery repl kill post-data ").await;
    src.execute(
        &db,
        &format!(
            "CREATE FUNCTION public.slow_on_target(a integer) RETURNS integer
               LANGUAGE plpgsql IMMUTABLE AS $$
             BEGIN
               IF pg_catalog.current_setting('session_replication_role') = 'replica' THEN
                 PERFORM pg_catalog.pg_sleep(0.004);
               END IF;
               RETURN a;
             END $$;
             CREATE TABLE public.small (id integer PRIMARY KEY, v text);
             INSERT INTO public.small SELECT g, 'row ' || g FROM generate_series(1, 200) g;
             CREATE TABLE public.big (id integer PRIMARY KEY, pad text);
             INSERT INTO public.big SELECT g, 'x' FROM generate_series(1, {BIG_ROWS}) g;
             CREATE INDEX big_pad ON public.big ((public.slow_on_target(id)));
             CREATE SEQUENCE public.counter; SELECT pg_catalog.setval('public.counter', 42);"
        ),
    )
    .await;
    // No table list: FOR ALL TABLES, which a resume with every table copied keeps.
    let tables: [&str; 0] = [];
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = write_load(&db, stop.clone());
    let mut child = spawn_replication(&db, &tables);
    let ledger = format!("{}.part", quote_ident(LEDGER_SCHEMA));
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        assert!(
            Instant::now() < deadline,
            "no index build with every part copied"
        );
        let building = target()
            .query_strings(
                "postgres",
                &format!(
                    "SELECT 1 FROM pg_stat_activity
                      WHERE datname = {} AND state = 'active'
                        AND query LIKE '%CREATE INDEX%big_pad%'",
                    quote_literal(&db)
                ),
            )
            .await;
        if !building.is_empty() {
            let pending = target()
                .query_strings(
                    &db,
                    &format!("SELECT 1 FROM {ledger} WHERE state <> 'copied'"),
                )
                .await;
            if pending.is_empty() {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    child.kill().unwrap();
    let _ = child.wait();
    let parts = target()
        .query_strings(
            &db,
            &format!(
                "SELECT string_agg(table_name || ' ' || state, ', ') FILTER (WHERE state <> 'copied')
                   FROM {ledger}"
            ),
        )
        .await;
    assert_eq!(parts[0][0], None, "every part was copied");
    assert_eq!(replication_objects(&db).await.len(), 2);
    // The killed run's target backend finishes the statements it was sent (the index and its
    // ledger row) before it sees its client gone: the resume below, started at once, waits
    // for them rather than creating the index a second time.
    let still_building = target()
        .query_strings(
            "postgres",
            &format!(
                "SELECT 1 FROM pg_stat_activity WHERE datname = {} AND state = 'active'",
                quote_literal(&db)
            ),
        )
        .await;
    assert!(
        !still_building.is_empty(),
        "the index build outlived its client"
    );
    // With no table to synchronise, nothing holds the cut-over back: the writes stop first.
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    writer.await.unwrap();

    // --resume alone leaves the replication running, as a first run without
    // --max-replication-lag does; the usual cut-over command then finishes it.
    let (code, out, err) = finish(spawn_replication(&db, &["--resume", "--json", "-"]));
    assert_eq!(code, Some(0), "{err}");
    let v: Value = serde_json::from_str(&out).expect("JSON on stdout");
    let entry = database(&v, &db);
    assert_eq!(entry["status"], "running", "{v}");
    let message = entry["message"].as_str().unwrap();
    for needle in [
        "(FOR ALL TABLES)",
        "the slot carries the changes since that run's snapshot to the 2 tables it had copied",
    ] {
        assert!(message.contains(needle), "{needle} not in {message}");
    }
    assert!(!message.contains("table synchronisation"), "{message}");
    // Status sees the run replicating, its subscription applying and the slot's lag on the
    // source, read twice a few seconds apart, and points to the cut-over.
    let st = status_of(&db);
    assert_eq!(st["state"], "replicating", "{st}");
    assert_eq!(st["alive"], false, "{st}");
    assert_eq!(st["run"]["method"], "replication", "{st}");
    let sub = &st["subscription"];
    assert!(
        sub["name"]
            .as_str()
            .unwrap()
            .starts_with("aiven_db_migrate_"),
        "{st}"
    );
    assert_eq!(sub["enabled"], true, "{st}");
    assert_eq!(sub["worker_running"], true, "{st}");
    assert_eq!(sub["lag"]["slot_exists"], true, "{st}");
    assert!(sub["lag"]["bytes"].as_i64().is_some(), "{st}");
    assert!(sub["lag"]["previous_bytes"].as_i64().is_some(), "{st}");
    assert!(sub["lag"]["falling"].is_boolean(), "{st}");
    assert!(
        st["resume"]
            .as_str()
            .unwrap()
            .contains("--stop-replication"),
        "{st}"
    );
    let cut_over = [
        "--max-replication-lag",
        "0",
        "--stop-replication",
        "--json",
        "-",
    ];
    let (code, out, err) = finish(spawn_replication(&db, &cut_over));
    assert_eq!(code, Some(0), "{err}");
    let v: Value = serde_json::from_str(&out).expect("JSON on stdout");
    assert_eq!(database(&v, &db)["status"], "done", "{v}");
    assert_replicated(&db).await;
}

#[tokio::test]
async fn a_replication_run_stopped_by_sigterm_drops_its_objects_and_resume_points_to_clean() {
    let db = fixture("recovery repl term ").await;
    let tables = skip_a_table(&db).await;
    let child = spawn_replication(&db, &tables);
    wait_for_big_copy(&db).await;
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let (code, _, err) = finish(child);
    assert_eq!(code, Some(1), "{err}");
    // One signal: the failed setup removes what it had created on its way out.
    assert_eq!(
        replication_objects(&db).await,
        Vec::<String>::new(),
        "{err}"
    );
    assert!(has_ledger(&db).await);

    let (code, _, err) = finish(spawn_replication(
        &db,
        &[&tables[..], &["--resume"]].concat(),
    ));
    assert_ne!(code, Some(0), "{err}");
    for needle in [
        "used the replication method and its publication \"aiven_db_migrate_",
        "are gone, so --resume cannot continue it",
        "run with --clean to start over (with --force-method dump for the dump method)",
    ] {
        assert!(err.contains(needle), "{needle} not in:\n{err}");
    }
    assert!(has_ledger(&db).await, "nothing written");
    let (code, _, err) = finish(spawn(&db, &["--clean"]));
    assert_eq!(code, Some(0), "{err}");
    assert_migrated(&db).await;
}

// ---------------------------------------------------------------------------------------------
// `db-migrate status`: watching a run, read-only.

/// `db-migrate status` (`pg_migrate --status` when `legacy_name`) on the target and source
/// for database `db` with `extra` flags: (exit code, stdout, stderr).
fn status_cmd(db: &str, legacy_name: bool, extra: &[&str]) -> (Option<i32>, String, String) {
    let (bin, first) = if legacy_name {
        (env!("CARGO_BIN_EXE_pg_migrate"), "--status")
    } else {
        (env!("CARGO_BIN_EXE_db-migrate"), "status")
    };
    let o = Command::new(bin)
        .args([
            first,
            "-t",
            &target().superuser_uri("postgres"),
            "-s",
            &source().superuser_uri("postgres"),
            "--only-db",
            db,
        ])
        .args(extra)
        .env_remove("SOURCE_SERVICE_URI")
        .env_remove("TARGET_SERVICE_URI")
        .output()
        .expect("status runs");
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// `db-migrate status --json -` for database `db`: the entry of `db`, or `Null` when it is not
/// listed. Asserts exit 0 and that every reading transaction was read-only.
fn status_of(db: &str) -> Value {
    let (code, out, err) = status_cmd(db, false, &["--json", "-"]);
    assert_eq!(code, Some(0), "{err}");
    let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(
        v["read_only"], true,
        "status read in read-only transactions: {v}"
    );
    v["databases"]
        .as_array()
        .unwrap_or_else(|| panic!("a database list: {v}"))
        .iter()
        .find(|d| d["dbname"] == db)
        .cloned()
        .unwrap_or(Value::Null)
}

/// What status could have changed: the ledger's rows, the target's schemas and subscriptions,
/// the source's slots.
async fn server_state(db: &str) -> Vec<Vec<Option<String>>> {
    let mut rows = Vec::new();
    // A finished migration's record has no part table.
    if has_ledger(db).await {
        rows = target()
            .query_strings(
                db,
                &format!(
                    "SELECT count(*)::text, count(*) FILTER (WHERE state = 'copied')::text,
                            sum(bytes)::text, max(copied_at)::text FROM {}.part",
                    quote_ident(LEDGER_SCHEMA)
                ),
            )
            .await;
    }
    rows.extend(
        target()
            .query_strings(
                db,
                &format!(
                    "SELECT stage || ' ' || updated_at::text || ' ' || to_jsonb(r)::text FROM {}.run r",
                    quote_ident(LEDGER_SCHEMA)
                ),
            )
            .await,
    );
    rows.extend(
        target()
            .query_strings(
                db,
                "SELECT (SELECT count(*) FROM pg_namespace)::text,
                        (SELECT count(*) FROM pg_class)::text,
                        (SELECT count(*) FROM pg_subscription)::text",
            )
            .await,
    );
    rows.extend(
        source()
            .query_strings(
                "postgres",
                "SELECT count(*)::text FROM pg_replication_slots",
            )
            .await,
    );
    rows
}

#[tokio::test]
async fn status_follows_a_run_while_it_copies_after_it_is_killed_and_after_resume() {
    let db = fixture("recovery status ").await;
    // `big` with 4,500 rows (about 18 s of loading) in parts of 16 kB (about 40), on two
    // workers: parts commit one after the other for about 9 s. A view over a table left out
    // is skipped with a warning of the schema stage.
    source()
        .execute(
            &db,
            "INSERT INTO public.big (id, pad)
             SELECT g, repeat('x', 100) FROM generate_series(1501, 4500) g;
             CREATE TABLE public.aside (id integer);
             CREATE VIEW public.aside_v AS SELECT id FROM public.aside",
        )
        .await;
    let mut child = spawn(
        &db,
        &[
            "--split-tables-larger-than",
            "16kB",
            "--skip-table",
            "public.aside",
            "--copy-retries",
            "3",
        ],
    );

    // While it copies: alive, its sessions named, parts done grows between two readings. (Before
    // its ledger exists, the database is not listed.)
    let deadline = Instant::now() + Duration::from_secs(60);
    let first = loop {
        assert!(Instant::now() < deadline, "no part was ever copied");
        let v = status_of(&db);
        if v["progress"]["parts_copied"].as_u64() >= Some(1) {
            break v;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(first["state"], "running", "{first}");
    assert_eq!(first["alive"], true, "{first}");
    assert!(!first["sessions"].as_array().unwrap().is_empty(), "{first}");
    assert_eq!(first["run"]["method"], "dump", "{first}");
    assert_eq!(first["run"]["stage"], "data", "{first}");
    assert_eq!(first["resume"], Value::Null, "{first}");
    let total = first["progress"]["parts_total"].as_u64().unwrap();
    let copied = first["progress"]["parts_copied"].as_u64().unwrap();
    assert!(total > 3 && copied >= 1 && copied < total, "{first}");
    assert_eq!(first["progress"]["tables_total"], 2, "{first}");
    let deadline = Instant::now() + Duration::from_secs(30);
    let later = loop {
        assert!(
            Instant::now() < deadline,
            "parts copied never grew: {first}"
        );
        let v = status_of(&db);
        if v["progress"]["parts_copied"].as_u64().unwrap() > copied {
            break v;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        later["progress"]["bytes_copied"].as_u64() > first["progress"]["bytes_copied"].as_u64(),
        "{first}\n{later}"
    );
    assert!(
        later["progress"]["bytes_per_second"].as_f64().unwrap() > 0.0,
        "{later}"
    );
    assert!(
        later["progress"]["estimated_seconds_left"]
            .as_u64()
            .is_some(),
        "{later}"
    );
    // The warnings of the schema stage, recorded with the stage reached.
    assert_eq!(later["warnings"]["selection"], 1, "{later}");
    // A target session ended in the middle of a part's COPY: the part is copied again on new
    // sessions, and once it commits its retry is counted.
    assert_eq!(later["progress"]["retries"], 0, "{later}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        assert!(Instant::now() < deadline, "no COPY to end");
        let ended = target()
            .query_strings(
                "postgres",
                &format!(
                    "SELECT pg_catalog.pg_terminate_backend(pid) FROM pg_catalog.pg_stat_activity
                      WHERE datname = {} AND query LIKE 'COPY %' AND state = 'active' LIMIT 1",
                    quote_literal(&db)
                ),
            )
            .await;
        if !ended.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let retried = loop {
        assert!(Instant::now() < deadline, "no retry was ever counted");
        let v = status_of(&db);
        if v["progress"]["retries"].as_u64() >= Some(1) {
            break v;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let (code, text, err) = status_cmd(&db, false, &[]);
    assert_eq!(code, Some(0), "{err}");
    for needle in [
        " of table parts on new sessions",
        "warnings so far: 1 selection",
    ] {
        assert!(text.contains(needle), "{needle} not in:\n{text}\n{retried}");
    }
    child.kill().unwrap(); // SIGKILL
    let _ = child.wait();

    // Killed: once the server has ended its backends, not alive, and what --resume would do.
    let deadline = Instant::now() + Duration::from_secs(60);
    let dead = loop {
        assert!(Instant::now() < deadline, "the killed run stays alive");
        let v = status_of(&db);
        if v["alive"] == false {
            break v;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(dead["state"], "stopped", "{dead}");
    let copied = dead["progress"]["parts_copied"].as_u64().unwrap();
    let total = dead["progress"]["parts_total"].as_u64().unwrap();
    assert!(copied < total, "killed before the end: {dead}");
    let resume = dead["resume"].as_str().unwrap();
    for needle in [
        "stopped during the data copy",
        &format!("--resume keeps the {copied} table parts copied"),
        &format!("copies the other {} in a new snapshot", total - copied),
    ] {
        assert!(resume.contains(needle), "{needle} not in {resume}");
    }

    // Reading changes nothing on either server, in every form.
    let before = server_state(&db).await;
    let (code, text, err) = status_cmd(&db, false, &[]);
    assert_eq!(code, Some(0), "{err}");
    for needle in [
        &format!("database \"{}\": stopped, run ", db.escape_debug()),
        "(dump)",
        &format!(
            "table parts {copied} of {total} copied (tables {} of 2)",
            dead["progress"]["tables_copied"]
        ),
        "not alive: no db-migrate session on the target",
        "--resume keeps the",
    ] {
        assert!(text.contains(needle), "{needle} not in:\n{text}");
    }
    let (code, legacy, err) = status_cmd(&db, true, &[]);
    assert_eq!(code, Some(0), "{err}");
    // The same lines but the first (the time read) and the rate (its window grows).
    let steady = |t: &str| -> Vec<String> {
        t.lines()
            .skip(1)
            .map(|l| match l.strip_suffix(" over the last minute") {
                Some(with_rate) => with_rate.rsplit_once(", ").unwrap().0.to_owned(),
                None => l.to_owned(),
            })
            .collect()
    };
    assert_eq!(
        steady(&legacy),
        steady(&text),
        "pg_migrate --status is db-migrate status"
    );
    assert_eq!(server_state(&db).await, before, "status wrote nothing");
    // A migration's flag with --status does nothing there, so it is refused.
    let (code, _, err) = status_cmd(&db, true, &["--jobs", "2"]);
    assert_eq!(code, Some(2), "{err}");

    // After --resume, the end: the record the run left says done, when, and what was copied;
    // nothing is alive and nothing is left for --resume.
    let (code, _, err) = finish(spawn(&db, &["--resume", "--skip-table", "public.aside"]));
    assert_eq!(code, Some(0), "{err}");
    let done = status_of(&db);
    assert_eq!(done["state"], "done", "{done}");
    assert_eq!(done["alive"], false, "{done}");
    assert!(done["run"]["finished_at"].is_string(), "{done}");
    let p = &done["progress"];
    assert_eq!(p["parts_copied"], p["parts_total"], "{done}");
    assert_eq!(p["tables_copied"], 2, "{done}");
    assert_eq!(p["tables_total"], 2, "{done}");
    assert!(p["retries"].as_u64() >= Some(1), "{done}");
    assert_eq!(done["warnings"]["selection"], 1, "{done}");
    let before = server_state(&db).await;
    let (code, text, err) = status_cmd(&db, false, &[]);
    assert_eq!(code, Some(0), "{err}");
    for needle in [
        "\": done, run ",
        " finished ",
        "tables 2 of 2",
        "; warnings: ",
        "1 selection",
        "nothing is left to do: --verify-only",
    ] {
        assert!(text.contains(needle), "{needle} not in:\n{text}");
    }
    assert!(!text.contains("not alive"), "{text}");
    assert_eq!(server_state(&db).await, before, "status wrote nothing");
    assert_migrated(&db).await;
}
