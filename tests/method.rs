//! The method each database uses is decided once, in preflight, from both servers' facts, and
//! the run follows it (`crates/engine/src/preflight/method.rs`): replication capacity is counted across the
//! run's databases, and a hot standby as the source means the dump method (replication, which
//! needs a publication on the source, is refused in preflight when forced).

// Each module keeps its own copy of the harness, so its clusters are its own (as when every
// file was a test binary of its own).
#[path = "support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use serde_json::Value;
use support::Cluster;
use support::cli::{pg_migrate, text};

/// `-f` value that leaves out every database of `cluster` except `keep`.
async fn all_but(cluster: &Cluster, keep: &[&str]) -> String {
    let rows = cluster
        .query_strings("postgres", "SELECT datname FROM pg_catalog.pg_database")
        .await;
    rows.into_iter()
        .filter_map(|r| r.into_iter().next().flatten())
        .filter(|d| !keep.contains(&d.as_str()))
        .collect::<Vec<_>>()
        .join(",")
}

fn database<'a>(v: &'a Value, db: &str) -> &'a Value {
    v["databases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["dbname"] == db)
        .unwrap_or_else(|| panic!("{db} reported: {v}"))
}

/// The messages of `check` findings about `db` in the JSON's validation.
fn findings<'a>(v: &'a Value, check: &str, db: &str) -> Vec<&'a str> {
    v["validation"]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["check"] == check && f["database"] == db)
        .filter_map(|f| f["message"].as_str())
        .collect()
}

/// A small database with a keyed table (so that it may replicate) of `rows` rows.
async fn small_database(cluster: &Cluster, prefix: &str, rows: i32) -> String {
    let db = cluster.create_database(prefix).await;
    cluster
        .execute(
            &db,
            &format!(
                "CREATE TABLE public.items (id int PRIMARY KEY, label text NOT NULL);
                 INSERT INTO public.items SELECT g, 'item ' || g FROM generate_series(1, {rows}) g;"
            ),
        )
        .await;
    db
}

async fn count_items(cluster: &Cluster, db: &str) -> String {
    cluster
        .query_strings(db, "SELECT count(*) FROM public.items")
        .await[0][0]
        .clone()
        .unwrap()
}

/// Five databases that could each replicate, a target with four logical replication workers:
/// preflight gives the first four (in run order) replication and the fifth the dump method,
/// and says so per database; the run does exactly that, and every database is done or
/// running: none fails waiting for a worker that never comes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replication_capacity_is_shared_by_the_runs_databases_and_the_run_follows_preflight() {
    let src = support::source();
    let tgt = support::cluster_with_conf(&src.bin_dir, "max_logical_replication_workers = 4")
        .expect("a target with four logical replication workers");
    let mut names = Vec::new();
    for (i, letter) in ["a", "b", "c", "d", "e"].iter().enumerate() {
        names.push(small_database(src, &format!("method cap {letter} "), 10 + i as i32).await);
    }
    let keep: Vec<&str> = names.iter().map(String::as_str).collect();
    let o = pg_migrate(&[
        "-s",
        &src.superuser_uri("postgres"),
        "-t",
        &tgt.superuser_uri("postgres"),
        "-f",
        &all_but(src, &keep).await,
        "--json",
        "-",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let v: Value = serde_json::from_slice(&o.stdout).expect("JSON on stdout");
    // Databases run in name order; the last one finds the workers taken.
    let mut sorted = names.clone();
    sorted.sort();
    for (i, db) in sorted.iter().enumerate() {
        let entry = database(&v, db);
        let (method, status) = if i < 4 {
            ("replication", "running")
        } else {
            ("dump", "done")
        };
        assert_eq!(entry["method"], method, "{db}: {v}");
        assert_eq!(entry["status"], status, "{db}: {v}");
        assert_eq!(
            findings(&v, "method", db),
            [format!("method: {method}")],
            "preflight printed the method the run used: {v}"
        );
        assert_eq!(count_items(&tgt, db).await, count_items(src, db).await);
    }
    let last = &sorted[4];
    let why = findings(&v, "replication", last).join(" | ");
    assert!(
        why.contains("4 free logical replication workers") && why.contains("5 are needed"),
        "{why}"
    );
    let message = database(&v, last)["message"].as_str().unwrap();
    assert!(message.contains("used the dump method"), "{message}");
    // Leave the source's slots to the other tests: dropping a subscription drops its slot.
    for db in &sorted[..4] {
        let subs = tgt
            .query_strings(
                db,
                "SELECT s.subname FROM pg_catalog.pg_subscription s \
                  JOIN pg_catalog.pg_database d ON d.oid = s.subdbid \
                 WHERE d.datname = pg_catalog.current_database()",
            )
            .await;
        for sub in subs
            .into_iter()
            .filter_map(|r| r.into_iter().next().flatten())
        {
            tgt.execute(
                db,
                &format!("DROP SUBSCRIPTION {}", support::quote_ident(&sub)),
            )
            .await;
        }
    }
}

/// Waits until the standby has replayed `db`'s table with `rows` rows.
async fn replayed(standby: &Cluster, db: &str, rows: i32) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(client) = standby.try_connect(db).await
            && let Ok(row) = client
                .query_one("SELECT count(*)::int FROM public.items", &[])
                .await
            && row.get::<_, i32>(0) == rows
        {
            return;
        }
        assert!(Instant::now() < deadline, "the standby never replayed {db}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A hot standby as the source: preflight sees `pg_is_in_recovery()`, the default method is
/// dump (an exported snapshot works on a standby), and the copy is done and equal; forcing
/// replication is a preflight error (exit 2) that names the standby, and nothing is created on
/// the target.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hot_standby_source_is_migrated_by_dump_and_replication_from_it_is_refused() {
    let bin = support::source().bin_dir.clone();
    let primary = support::cluster_with_conf(&bin, "").expect("a primary");
    let db = small_database(&primary, "method standby ", 500).await;
    let refused = small_database(&primary, "method standby forced ", 5).await;
    let standby = support::standby_of(&primary).expect("a standby of the primary");
    replayed(&standby, &db, 500).await;
    replayed(&standby, &refused, 5).await;
    let tgt = support::target();

    let o = pg_migrate(&[
        "-s",
        &standby.superuser_uri("postgres"),
        "-t",
        &tgt.superuser_uri("postgres"),
        "-f",
        &all_but(&standby, &[&db]).await,
        "--verify",
        "--json",
        "-",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let v: Value = serde_json::from_slice(&o.stdout).expect("JSON on stdout");
    let entry = database(&v, &db);
    assert_eq!(entry["method"], "dump", "{v}");
    assert_eq!(entry["status"], "done", "{v}");
    assert_eq!(entry["verify"]["status"], "equal", "{v}");
    assert_eq!(findings(&v, "method", &db), ["method: dump"], "{v}");
    let global: Vec<&str> = v["validation"]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["database"].is_null() && f["check"] == "replication")
        .filter_map(|f| f["message"].as_str())
        .collect();
    assert!(
        global
            .iter()
            .any(|m| m.contains("standby") && m.contains("dump method will be used")),
        "{global:?}"
    );
    assert_eq!(count_items(tgt, &db).await, "500");

    let o = pg_migrate(&[
        "-s",
        &standby.superuser_uri("postgres"),
        "-t",
        &tgt.superuser_uri("postgres"),
        "-f",
        &all_but(&standby, &[&refused]).await,
        "--force-method",
        "replication",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("logical replication is not possible") && err.contains("standby"),
        "{}",
        text(&o)
    );
    let exists = tgt
        .query_strings(
            "postgres",
            &format!(
                "SELECT 1 FROM pg_catalog.pg_database WHERE datname = {}",
                support::quote_literal(&refused)
            ),
        )
        .await;
    assert!(exists.is_empty(), "nothing is created on the target");
}
