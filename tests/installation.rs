//! An installation of many databases on real clusters: databases are migrated several at once
//! (`--db-jobs`) and keep their own meaning. One that fails fails alone; an interrupted run
//! leaves each database in a state `--resume` completes; the replication method with the
//! cut-over in the same run goes in waves that fit the target's logical replication workers
//! and leaves no replication object behind.

// Each module keeps its own copy of the harness, so its clusters are its own (as when every
// file was a test binary of its own).
#[path = "support/mod.rs"]
mod support;

use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{source, target};

/// A tenant database like `scripts/bench-databases`' (2 tables, an index, a view, a function,
/// sequences), named from `prefix`; `rows` orders.
async fn tenant(c: &support::Cluster, prefix: &str, rows: u32) -> String {
    let db = c.create_database(prefix).await;
    c.execute(
        &db,
        &format!(
            "CREATE SEQUENCE invoice_no;
             CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL);
             CREATE TABLE orders (id bigserial PRIMARY KEY, customer int REFERENCES customers,
               invoice bigint DEFAULT nextval('invoice_no'), amount numeric(12,2), note text);
             CREATE INDEX orders_customer ON orders (customer);
             CREATE VIEW order_totals AS
               SELECT customer, sum(amount) AS total FROM orders GROUP BY customer;
             CREATE FUNCTION total_of(c int) RETURNS numeric LANGUAGE sql STABLE
               AS 'SELECT sum(amount) FROM orders WHERE customer = c';
             INSERT INTO customers (name) SELECT 'customer ' || g FROM generate_series(1, 50) g;
             INSERT INTO orders (customer, amount, note)
               SELECT 1 + g % 50, (g % 997) / 7.0, 'note ' || g FROM generate_series(1, {rows}) g;"
        ),
    )
    .await;
    db
}

/// A checksum of every row of `table` in `db`.
async fn checksum(c: &support::Cluster, db: &str, table: &str) -> Option<String> {
    c.query_strings(
        db,
        &format!("SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) FROM {table} t"),
    )
    .await
    .remove(0)
    .remove(0)
}

async fn assert_equal(src: &support::Cluster, tgt: &support::Cluster, db: &str) {
    for t in ["customers", "orders"] {
        assert_eq!(
            checksum(src, db, t).await,
            checksum(tgt, db, t).await,
            "{db}.{t} equal"
        );
    }
    let next = tgt
        .query_strings(db, "SELECT nextval('invoice_no')::text")
        .await;
    assert!(next[0][0].is_some(), "{db}: the sequence is there");
}

fn run(src: &support::Cluster, tgt: &support::Cluster, dbs: &[String], extra: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_pg_migrate"))
        .args([
            "-s",
            &src.superuser_uri("postgres"),
            "-t",
            &tgt.superuser_uri("postgres"),
            "--only-db",
            &dbs.join(","),
            "--json",
            "-",
        ])
        .args(extra)
        .env_remove("SOURCE_SERVICE_URI")
        .env_remove("TARGET_SERVICE_URI")
        .env_remove("DB_MIGRATE_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("pg_migrate starts")
}

fn report(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "JSON on stdout ({e}); stderr:\n{}",
            String::from_utf8_lossy(&o.stderr)
        )
    })
}

/// Each database's status in the report, in the report's order.
fn statuses(v: &Value) -> Vec<(String, String)> {
    v["databases"]
        .as_array()
        .unwrap_or_else(|| panic!("databases listed: {v}"))
        .iter()
        .map(|d| {
            (
                d["dbname"].as_str().unwrap().to_owned(),
                d["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn databases_migrate_at_once_and_one_that_fails_fails_alone() {
    let (src, tgt) = (source(), target());
    let mut dbs = Vec::new();
    for i in 0..20 {
        dbs.push(tenant(src, &format!("inst fail {i:02} "), 200).await);
    }
    // The target already holds an empty LATIN1 database of that name (used as it is): the
    // schema fits, the euro signs in the rows do not, so it fails in its copy, while the
    // others are in flight.
    let failing = dbs[7].clone();
    src.execute(
        &failing,
        "UPDATE orders SET note = note || ' €' WHERE id % 10 = 0",
    )
    .await;
    tgt.execute(
        "postgres",
        &format!(
            "CREATE DATABASE {} TEMPLATE template0 ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C'",
            support::quote_ident(&failing)
        ),
    )
    .await;

    let o = run(
        src,
        tgt,
        &dbs,
        &["--dump-only", "--db-jobs", "4", "--jobs", "2"],
    )
    .wait_with_output()
    .unwrap();
    let v = report(&o);
    assert_eq!(o.status.code(), Some(1), "{v}");
    let got = statuses(&v);
    let mut sorted = dbs.clone();
    sorted.sort();
    assert_eq!(
        got.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>(),
        sorted,
        "every database reported once, in the source's order"
    );
    for (name, status) in &got {
        if name == &failing {
            assert_eq!(status, "failed", "{v}");
        } else {
            assert_eq!(status, "done", "{name}: {v}");
            assert_equal(src, tgt, name).await;
        }
    }
    let entry = v["databases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["dbname"] == failing.as_str())
        .unwrap();
    assert!(
        entry["message"].as_str().unwrap().contains("LATIN1"),
        "the failure names its cause: {entry}"
    );
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("migrating databases concurrently"),
        "{stderr}"
    );
}

/// Waits until the target shows a COPY into `db`; panics after a minute.
async fn wait_for_copy(tgt: &support::Cluster, db: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        assert!(Instant::now() < deadline, "no COPY into {db} seen");
        let rows = tgt
            .query_strings(
                "postgres",
                &format!(
                    "SELECT 1 FROM pg_stat_progress_copy p JOIN pg_database d ON d.oid = p.datid \
                     WHERE d.datname = {}",
                    support::quote_literal(db)
                ),
            )
            .await;
        if !rows.is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn an_interrupted_installation_resumes_to_every_database_done() {
    let (src, tgt) = (source(), target());
    let mut dbs = Vec::new();
    for i in 0..20 {
        dbs.push(tenant(src, &format!("inst resume {i:02} "), 200).await);
    }
    // One database loads slowly on the target (a generated column sleeping in the target's
    // replica-role sessions), so the run is surely in flight when the signal comes.
    let slow = dbs[3].clone();
    src.execute(
        &slow,
        "CREATE FUNCTION slow_on_target(a integer) RETURNS integer LANGUAGE plpgsql IMMUTABLE AS $$
         BEGIN
           IF pg_catalog.current_setting('session_replication_role') = 'replica' THEN
             PERFORM pg_catalog.pg_sleep(0.004);
           END IF;
           RETURN a;
         END $$;
         CREATE TABLE big (id integer PRIMARY KEY,
           g integer GENERATED ALWAYS AS (slow_on_target(id)) STORED);
         INSERT INTO big (id) SELECT g FROM generate_series(1, 1500) g;",
    )
    .await;

    let child = run(src, tgt, &dbs, &["--dump-only", "--copy-retries", "0"]);
    wait_for_copy(tgt, &slow).await;
    let pid = child.id().to_string();
    let signalled = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(signalled.success());
    let o = child.wait_with_output().unwrap();
    let v = report(&o);
    // The first SIGTERM lets each database end in a state of its own (exit 1).
    assert_eq!(o.status.code(), Some(1), "interrupted: {v}");
    let got = statuses(&v);
    assert_eq!(got.len(), dbs.len(), "every database reported: {v}");
    let slow_status = got.iter().find(|(n, _)| n == &slow).unwrap();
    assert_eq!(slow_status.1, "failed", "{v}");
    for (name, status) in &got {
        match status.as_str() {
            "done" => assert_equal(src, tgt, name).await,
            "failed" => {
                let entry = v["databases"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|d| d["dbname"] == name.as_str())
                    .unwrap();
                assert!(
                    entry["message"].as_str().unwrap().contains("interrupted"),
                    "{entry}"
                );
            }
            other => panic!("{name}: status {other}: {v}"),
        }
    }

    let o = run(src, tgt, &dbs, &["--dump-only", "--resume"])
        .wait_with_output()
        .unwrap();
    let v = report(&o);
    assert_eq!(o.status.code(), Some(0), "{v}");
    for (name, status) in statuses(&v) {
        assert_eq!(status, "done", "{name}: {v}");
        assert_equal(src, tgt, &name).await;
    }
    let big = tgt
        .query_strings(&slow, "SELECT count(*)::text FROM big")
        .await;
    assert_eq!(big[0][0].as_deref(), Some("1500"));
}

#[tokio::test]
async fn replication_with_the_cut_over_goes_in_waves_and_leaves_nothing_behind() {
    // Clusters of this test's own: the waves are counted from their replication capacity.
    let src = support::cluster_with_conf(
        &source().bin_dir,
        "max_replication_slots = 10\nmax_wal_senders = 10",
    )
    .expect("a source cluster");
    let tgt = support::cluster_with_conf(&target().bin_dir, "max_logical_replication_workers = 3")
        .expect("a target cluster");
    let mut dbs = Vec::new();
    for i in 0..5 {
        dbs.push(tenant(&src, &format!("inst repl {i} "), 100).await);
    }
    let o = run(
        &src,
        &tgt,
        &dbs,
        &[
            "--force-method",
            "replication",
            "--max-replication-lag",
            "0",
            "--stop-replication",
        ],
    )
    .wait_with_output()
    .unwrap();
    let v = report(&o);
    assert_eq!(o.status.code(), Some(0), "{v}");
    for (name, status) in statuses(&v) {
        assert_eq!(status, "done", "{name}: {v}");
        assert_equal(&src, &tgt, &name).await;
    }
    for db in &dbs {
        let subs = tgt
            .query_strings(db, "SELECT subname::text FROM pg_subscription")
            .await;
        assert!(subs.is_empty(), "{db}: subscriptions left: {subs:?}");
        let pubs = src
            .query_strings(db, "SELECT pubname::text FROM pg_publication")
            .await;
        assert!(pubs.is_empty(), "{db}: publications left: {pubs:?}");
    }
    let slots = src
        .query_strings(
            "postgres",
            "SELECT slot_name::text FROM pg_replication_slots",
        )
        .await;
    assert!(slots.is_empty(), "slots left: {slots:?}");
}
