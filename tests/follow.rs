//! The application keeps deploying while the replication runs (issue 32): a sequence of
//! migrations on the source under a write load, through the superuser path (`FOR ALL TABLES`)
//! and a managed-source path (a provider-admin source user, a `FOR TABLE` publication). The
//! cut-over run follows them (`--follow`), cuts over, and then every table is equal, `pg_dump
//! --schema-only` of both sides is equal and no write is lost. The migrations add, rename,
//! retype and drop columns, create tables, indexes, views, sequences, functions, triggers and
//! constraints, grant, comment and enable row-level security, add an enum value, drop and rename tables that are being written to, and
//! change (to bounds that exclude the target's value too), drop and rename sequences. A change the target refuses ends the run within one
//! check interval, with the object, the statement, the SQLSTATE and the reason, and the
//! subscription disabled; once the change is applied by hand, the cut-over goes on.
//!
//! The delay from each change on the source to its application on the target is printed
//! (`follow delay:` lines, `--nocapture`).

// Each module keeps its own copy of the harness, so its clusters are its own (as when every
// file was a test binary of its own).
#[path = "support/mod.rs"]
mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use support::oracle::{across_majors, dump, first_difference, normalize, pg_dump};
use support::{Cluster, quote_ident};

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// Who runs the migration and the application's DDL.
struct Path {
    /// `-s` of both runs.
    source_uri: String,
    /// Prepended to each application statement (`SET ROLE owner;` on a managed source).
    as_app: String,
}

/// The application's migrations, each its own transaction, with the change the report must
/// list for it (`None`: a write of the new shape, not a change).
const MIGRATIONS: &[(&str, Option<&str>)] = &[
    (
        "ALTER TABLE public.app ADD COLUMN w int DEFAULT 7",
        Some("column w added of public.app"),
    ),
    (
        "INSERT INTO public.app (id, k, w) VALUES (900001, 0, 8)",
        None,
    ),
    (
        "ALTER TABLE public.app ADD COLUMN x text NOT NULL DEFAULT 'x'",
        Some("column x added of public.app"),
    ),
    (
        "INSERT INTO public.app (id, k, x) VALUES (900002, 0, 'new x')",
        None,
    ),
    (
        "ALTER TABLE public.app RENAME COLUMN v TO label",
        Some("column v renamed to label of public.app"),
    ),
    ("UPDATE public.app SET label = 'renamed' WHERE id = 2", None),
    (
        "ALTER TABLE public.app ALTER COLUMN n TYPE bigint",
        Some("column n changed to type bigint of public.app"),
    ),
    ("UPDATE public.app SET n = 5000000000 WHERE id = 1", None),
    (
        "ALTER TABLE public.app DROP COLUMN old",
        Some("column old dropped of public.app"),
    ),
    (
        "UPDATE public.app SET label = 'after drop' WHERE id = 4",
        None,
    ),
    // Right after another change of the table held back (the drop): the rows written before
    // this one keep the source's time (`attmissingval`), not the target's.
    (
        "ALTER TABLE public.app ADD COLUMN stamped timestamptz DEFAULT now()",
        Some("column stamped added of public.app"),
    ),
    // A volatile default: the source gave each older row a value of its own, which the WAL
    // does not hold; the target's rows take them once the rows from before are in.
    (
        "ALTER TABLE public.app ADD COLUMN token uuid NOT NULL DEFAULT gen_random_uuid()",
        Some("column token added of public.app"),
    ),
    (
        "CREATE TABLE public.app2 (id int PRIMARY KEY, note text)",
        Some("table public.app2 created"),
    ),
    ("INSERT INTO public.app2 VALUES (1, 'new table')", None),
    (
        "CREATE INDEX app_k ON public.app (k)",
        Some("index public.app_k created"),
    ),
    (
        "ALTER TYPE public.mood ADD VALUE 'tense' BEFORE 'glad'",
        Some("value tense added to enum public.mood"),
    ),
    ("UPDATE public.app SET m = 'tense' WHERE id = 3", None),
    (
        "CREATE VIEW public.app_labels AS SELECT id, label FROM public.app",
        Some("view public.app_labels created"),
    ),
    (
        "CREATE SEQUENCE public.ticket START 100",
        Some("sequence public.ticket created"),
    ),
    ("SELECT nextval('public.ticket')", None),
    (
        "CREATE FUNCTION public.touch() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END'",
        Some("function public.touch() created"),
    ),
    (
        "CREATE TRIGGER app_touch BEFORE UPDATE ON public.app FOR EACH ROW EXECUTE FUNCTION public.touch()",
        Some("trigger public.app.app_touch created"),
    ),
    (
        "ALTER TABLE public.app ADD CONSTRAINT k_positive CHECK (k >= 0)",
        Some("constraint public.app.k_positive created"),
    ),
    (
        "CREATE UNIQUE INDEX app2_note ON public.app2 (id, note)",
        Some("index public.app2_note created"),
    ),
    (
        "CREATE POLICY app_own ON public.app USING (k >= 0)",
        Some("policy public.app.app_own created"),
    ),
    (
        "ALTER TABLE public.app ENABLE ROW LEVEL SECURITY",
        Some("access of public.app changed"),
    ),
    (
        "COMMENT ON COLUMN public.app.k IS 'the app''s key'",
        Some("access of public.app changed"),
    ),
    (
        "GRANT SELECT, UPDATE (note) ON public.app2 TO PUBLIC",
        Some("access of public.app2 changed"),
    ),
    (
        "CREATE STATISTICS public.app_stats (dependencies) ON k, n FROM public.app",
        Some("statistics public.app_stats created"),
    ),
    (
        "CREATE RULE app2_log AS ON DELETE TO public.app2 DO ALSO NOTIFY app2",
        Some("rule public.app2.app2_log created"),
    ),
    (
        "DROP INDEX public.app_k",
        Some("index public.app_k dropped"),
    ),
    // The writer writes to both until they go: a drop applied on the target before the rows
    // before it would stop the apply worker on them for good (the cut-over would time out).
    (
        "INSERT INTO public.gone VALUES (900001, 'last row before the drop')",
        None,
    ),
    ("DROP TABLE public.gone", Some("table public.gone dropped")),
    (
        "ALTER TABLE public.old_name RENAME TO new_name",
        Some("table public.old_name renamed to public.new_name"),
    ),
    (
        "INSERT INTO public.new_name VALUES (900001, 'after the rename')",
        None,
    ),
    (
        "ALTER SEQUENCE public.ticket INCREMENT BY 5 MAXVALUE 100000 CYCLE",
        Some("sequence public.ticket changed"),
    ),
    (
        "DROP SEQUENCE public.scratch",
        Some("sequence public.scratch dropped"),
    ),
    (
        "ALTER SEQUENCE public.counter RENAME TO counter2",
        Some("sequence public.counter renamed to public.counter2"),
    ),
    ("SELECT nextval('public.counter2')", None),
    // New bounds that exclude the target's value (the copy's): the target takes the source's
    // value with them.
    (
        "ALTER SEQUENCE public.seq_floor MINVALUE 1000 START 1000 RESTART",
        Some("sequence public.seq_floor changed"),
    ),
    ("SELECT nextval('public.seq_floor')", None),
    (
        "ALTER SEQUENCE public.seq_ceiling MAXVALUE 100 START 50 RESTART",
        Some("sequence public.seq_ceiling changed"),
    ),
];

/// Writes to the changed tables until stopped, only in columns no migration touches: a new row
/// and an update per round on `app`, a row on `app2` once it exists. Returns the rows inserted
/// there. A row on `gone` until it is dropped and on `old_name` under either name (checked by
/// comparing the tables).
fn start_writer(c: &'static Cluster, db: &str) -> (Arc<AtomicBool>, tokio::task::JoinHandle<i64>) {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let db = db.to_owned();
    let handle = tokio::spawn(async move {
        let client = c.connect(&db).await;
        let inserted = AtomicI64::new(0);
        let mut i: i64 = 0;
        while !flag.load(Ordering::Relaxed) {
            i += 1;
            client
                .batch_execute(&format!(
                    "INSERT INTO public.app (id, k) VALUES ({id}, {i});
                     UPDATE public.app SET k = k + 1 WHERE id = {u};",
                    id = 100000 + i,
                    u = (i * 37) % 200 + 1,
                ))
                .await
                .expect("writer");
            inserted.fetch_add(1, Ordering::Relaxed);
            // Until it is dropped; under its old name, then its new one.
            let _ = client
                .batch_execute(&format!(
                    "INSERT INTO public.gone VALUES ({}, 'w')",
                    1000 + i
                ))
                .await;
            for t in ["old_name", "new_name"] {
                let row = format!("INSERT INTO public.{t} VALUES ({}, 'w')", 1000 + i);
                if client.batch_execute(&row).await.is_ok() {
                    break;
                }
            }
            // app2 appears during the run: written as soon as it is there.
            if client
                .batch_execute(&format!(
                    "INSERT INTO public.app2 VALUES ({}, 'w')",
                    1000 + i
                ))
                .await
                .is_ok()
            {
                inserted.fetch_add(1, Ordering::Relaxed);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        inserted.load(Ordering::Relaxed)
    });
    (stop, handle)
}

fn run(path: &Path, db: &str, extra: &[&str]) -> std::process::Output {
    let tgt = support::target().superuser_uri("postgres");
    let mut args = vec![
        "-s",
        &path.source_uri,
        "-t",
        &tgt,
        "--only-db",
        db,
        "--force-method",
        "replication",
        "--json",
        "-",
    ];
    args.extend_from_slice(extra);
    support::cli::pg_migrate(&args)
}

/// Rows of every table of `db`, in key order, hashed.
async fn table_hash(c: &Cluster, db: &str, table: &str) -> Vec<Vec<Option<String>>> {
    c.query_strings(
        db,
        &format!(
            "SELECT count(*), md5(coalesce(string_agg(t::text, ',' ORDER BY id, t::text), '')) FROM {table} t"
        ),
    )
    .await
}

/// The whole scenario through `path` (see the module docs). Returns the delays (seconds) from
/// each change on the source to its application on the target.
async fn migrations_during_replication(path: Path, db: &str, label: &str) -> Vec<f64> {
    let (s, t) = (support::source(), support::target());
    let first = run(&path, db, &[]);
    assert_eq!(
        first.status.code(),
        Some(0),
        "{}",
        support::cli::text(&first)
    );

    // The cut-over run follows the source for a while, then cuts over.
    let cut = {
        let (path_uri, db) = (path.source_uri.clone(), db.to_owned());
        std::thread::spawn(move || {
            let p = Path {
                source_uri: path_uri,
                as_app: String::new(),
            };
            run(
                &p,
                &db,
                &[
                    "--max-replication-lag",
                    "0",
                    "--stop-replication",
                    "--verify",
                    "--follow",
                    "26s",
                    "--schema-check-interval",
                    "1s",
                    "--replication-timeout",
                    "180",
                ],
            )
        })
    };
    let (stop, writer) = start_writer(s, db);
    // The run is waiting before the application deploys.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut committed: Vec<(&str, f64)> = Vec::new();
    for (statement, change) in MIGRATIONS {
        s.execute(db, &format!("{}{statement}", path.as_app)).await;
        if let Some(change) = change {
            committed.push((change, unix_now()));
            // A deploy's migrations are seconds apart, not microseconds.
            tokio::time::sleep(Duration::from_millis(700)).await;
        }
    }
    tokio::time::sleep(Duration::from_secs(4)).await;
    stop.store(true, Ordering::Relaxed);
    let written = writer.await.unwrap();
    assert!(written > 50, "the write load ran: {written} rows");

    let cut = cut.join().unwrap();
    let all = support::cli::text(&cut);
    assert_eq!(cut.status.code(), Some(0), "{all}");
    let v: serde_json::Value = serde_json::from_slice(&cut.stdout).expect("JSON report");
    let entry = &v["databases"][0];
    assert_eq!(entry["status"], "done", "{all}");
    assert_eq!(entry["verify"]["status"], "equal", "{all}");
    // --verify compared the schema as it is after the deploy.
    assert_eq!(entry["verify"]["schema"]["status"], "equal", "{all}");

    // Nothing left to the operator: every change of the source is on the target.
    let left: Vec<&serde_json::Value> = v["warnings"]
        .as_array()
        .map(|w| {
            w.iter()
                .filter(|w| {
                    let m = w["message"].as_str().unwrap_or("");
                    m.contains("apply the same change") || m.contains("still on the target")
                })
                .collect()
        })
        .unwrap_or_default();
    assert!(left.is_empty(), "changes not followed: {left:#?}");

    // Every change listed, with when it was seen and applied; the delay from its commit on the
    // source to its application on the target.
    let changes = entry["schema_changes"].as_array().expect("schema_changes");
    let mut delays = Vec::new();
    for (change, at) in &committed {
        let c = changes
            .iter()
            .find(|c| c["change"].as_str().unwrap().starts_with(change))
            .unwrap_or_else(|| panic!("{change} not listed: {changes:#?}"));
        let (seen, applied) = (
            c["seen_unix_seconds"].as_f64().unwrap(),
            c["applied_unix_seconds"].as_f64().unwrap(),
        );
        assert!(seen <= applied, "{c}");
        let delay = applied - at;
        eprintln!("follow delay ({label}): {change}: {delay:.2} s");
        delays.push(delay);
    }
    // The rows from before the volatile default's column took the source's values, by key,
    // once they were in.
    let filled = changes
        .iter()
        .find(|c| {
            c["change"] == "column token of public.app given the source's values in its older rows"
        })
        .unwrap_or_else(|| panic!("the older rows of token not filled: {changes:#?}"));
    eprintln!(
        "follow delay ({label}): token's older rows: {}",
        filled["statement"]
    );

    // Every table equal, the new sequence's value and changed options carried, no write lost;
    // what the source dropped or renamed is gone from the target too.
    for q in [
        "SELECT last_value FROM public.ticket",
        "SELECT increment_by, max_value, cycle FROM pg_catalog.pg_sequences WHERE sequencename = 'ticket'",
        "SELECT last_value FROM public.counter2",
        "SELECT last_value, is_called FROM public.seq_floor",
        "SELECT last_value, is_called FROM public.seq_ceiling",
        "SELECT sequencename, min_value, max_value, start_value FROM pg_catalog.pg_sequences
          WHERE sequencename IN ('seq_floor', 'seq_ceiling') ORDER BY 1",
        "SELECT count(*) FROM pg_catalog.pg_class WHERE relname IN ('gone', 'old_name', 'scratch', 'counter')",
    ] {
        assert_eq!(
            t.query_strings(db, q).await,
            s.query_strings(db, q).await,
            "{q}"
        );
    }
    for table in ["public.app", "public.app2", "public.new_name"] {
        let (a, b) = (
            table_hash(s, db, table).await,
            table_hash(t, db, table).await,
        );
        assert_eq!(a, b, "{table} differs");
    }
    let app2_rows: i64 = t
        .query_strings(db, "SELECT count(*) FROM public.app2")
        .await[0][0]
        .as_deref()
        .unwrap()
        .parse()
        .unwrap();
    let app_new: i64 = t
        .query_strings(
            db,
            "SELECT count(*) FROM public.app WHERE id > 100000 AND id < 900000",
        )
        .await[0][0]
        .as_deref()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        app2_rows - 1 + app_new,
        written,
        "every write is on the target"
    );

    // The schema of both sides, as pg_dump prints it.
    if let Some(pg_dump) = pg_dump() {
        let a = across_majors(&normalize(&dump(s, db, &pg_dump)));
        let b = across_majors(&normalize(&dump(t, db, &pg_dump)));
        assert!(
            a == b,
            "pg_dump --schema-only differs:\n{}",
            first_difference(&a, &b)
        );
    } else {
        eprintln!("no pg_dump for both majors: the schema oracle did not run");
    }
    delays
}

/// The application's schema before the deploy, with rows.
const SCHEMA: &str = "CREATE TYPE public.mood AS ENUM ('calm', 'glad');
     CREATE TABLE public.app (id int PRIMARY KEY, k int, v text, n int, old text NOT NULL DEFAULT 'o',
                              m public.mood DEFAULT 'calm');
     INSERT INTO public.app (id, k, v, n) SELECT g, g, 'v' || g, g FROM generate_series(1, 200) g;
     CREATE TABLE public.gone (id int PRIMARY KEY, v text);
     INSERT INTO public.gone SELECT g, 'g' || g FROM generate_series(1, 50) g;
     CREATE TABLE public.old_name (id int PRIMARY KEY, v text);
     INSERT INTO public.old_name SELECT g, 'o' || g FROM generate_series(1, 50) g;
     CREATE SEQUENCE public.scratch;
     CREATE SEQUENCE public.counter START 10;
     CREATE SEQUENCE public.seq_floor START 10;
     CREATE SEQUENCE public.seq_ceiling START 500;
     SELECT nextval('public.seq_ceiling');";

fn summary(label: &str, mut delays: Vec<f64>) {
    delays.sort_by(f64::total_cmp);
    let median = delays[delays.len() / 2];
    let worst = delays[delays.len() - 1];
    eprintln!(
        "follow delay ({label}): median {median:.2} s, worst {worst:.2} s over {} changes",
        delays.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_during_replication_through_the_superuser_path() {
    let s = support::source();
    let db = s.create_database("follow su ").await;
    s.execute(&db, SCHEMA).await;
    let path = Path {
        source_uri: s.superuser_uri("postgres"),
        as_app: String::new(),
    };
    let delays = migrations_during_replication(path, &db, "superuser").await;
    summary("superuser", delays);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_during_replication_through_a_managed_source_for_table_publication() {
    let s = support::source();
    // A provider-admin source user (REPLICATION, CREATEROLE, never superuser) who is a member
    // of the application's owner: the publication lists the tables.
    let (admin, pw) = s.create_admin("follow_adm", true).await;
    let owner = support::unique_name("follow_owner");
    s.execute(
        "postgres",
        &format!(
            "CREATE ROLE {o} NOLOGIN; GRANT {o} TO {a};",
            o = quote_ident(&owner),
            a = quote_ident(&admin)
        ),
    )
    .await;
    let db = support::unique_name("follow managed ");
    s.execute(
        "postgres",
        &format!(
            "CREATE DATABASE {} OWNER {}",
            quote_ident(&db),
            quote_ident(&owner)
        ),
    )
    .await;
    let as_app = format!("SET ROLE {}; ", quote_ident(&owner));
    s.execute(&db, &format!("{as_app}{SCHEMA}")).await;
    let path = Path {
        source_uri: s.uri(&admin, &pw, "postgres"),
        as_app,
    };
    let delays = migrations_during_replication(path, &db, "managed").await;
    summary("managed FOR TABLE", delays);
}

/// A change the source could make and the target cannot (a column retyped with a `USING`
/// expression, which the target converts with a cast that its rows refuse), after changes the
/// target took: the run that waits ends within one check interval of the change (the check that sees it waits for the rows
/// before it and tries it), naming the object, the statement, the SQLSTATE and the server's
/// reason, long before its --replication-timeout; the subscription is disabled (its apply
/// worker does not retry for ever) and the replication objects are kept. The JSON report lists
/// the changes applied before it and the refused one (statement, SQLSTATE, reason). Once the change is
/// applied on the target by hand, the cut-over command enables the subscription and finishes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_the_target_refuses_stops_the_replication_within_the_check_interval() {
    let (s, t) = (support::source(), support::target());
    let db = s.create_database("follow refused ").await;
    s.execute(
        &db,
        "CREATE TABLE app (id int PRIMARY KEY, v text);
         INSERT INTO app SELECT g, 'v' || g FROM generate_series(1, 50) g;",
    )
    .await;
    let path = Path {
        source_uri: s.superuser_uri("postgres"),
        as_app: String::new(),
    };
    let first = run(&path, &db, &[]);
    assert_eq!(
        first.status.code(),
        Some(0),
        "{}",
        support::cli::text(&first)
    );
    const INTERVAL: Duration = Duration::from_secs(2);
    let cut = {
        let (uri, db) = (path.source_uri.clone(), db.clone());
        std::thread::spawn(move || {
            let p = Path {
                source_uri: uri,
                as_app: String::new(),
            };
            run(
                &p,
                &db,
                &[
                    "--max-replication-lag",
                    "0",
                    "--stop-replication",
                    "--follow",
                    "10m",
                    "--schema-check-interval",
                    "2s",
                    "--replication-timeout",
                    "600",
                ],
            )
        })
    };
    tokio::time::sleep(Duration::from_secs(3)).await;
    // Changes the target takes, applied at the next check.
    s.execute(
        &db,
        // The rows from before `at` read the moment of the source's ADD COLUMN, and must on
        // the target too (the table's hash is compared at the end).
        "ALTER TABLE app ADD COLUMN w int DEFAULT 7;
         ALTER TABLE app ADD COLUMN at timestamptz NOT NULL DEFAULT now();
         CREATE INDEX app_w ON app (w)",
    )
    .await;
    tokio::time::sleep(INTERVAL * 2).await;
    s.execute(
        &db,
        "ALTER TABLE app ALTER COLUMN v TYPE int USING length(v);
         INSERT INTO app VALUES (500, 1)",
    )
    .await;
    let changed = Instant::now();
    let cut = cut.join().unwrap();
    let stopped_after = changed.elapsed();
    let all = support::cli::text(&cut);
    assert_eq!(cut.status.code(), Some(1), "{all}");
    eprintln!("refused change: the run stopped {stopped_after:.1?} after the change");
    // The check that sees it comes within the interval; it waits for the rows before the
    // change (a narrowing) and tries it at once. The slack is the process's exit.
    assert!(
        stopped_after < INTERVAL + Duration::from_secs(4),
        "stopped after {stopped_after:?}, not within the check interval: {all}"
    );
    let v: serde_json::Value = serde_json::from_slice(&cut.stdout).expect("JSON report");
    let message = v["databases"][0]["message"].as_str().unwrap().to_owned();
    for needle in [
        "refused",
        "table public.app",
        "column v changed to type integer",
        "ALTER TABLE \"public\".\"app\" ALTER COLUMN \"v\" TYPE integer USING \"v\"::integer",
        "invalid input syntax",
        "SQLSTATE 22P02",
        "is disabled",
        "--stop-replication",
        "kept",
    ] {
        assert!(message.contains(needle), "{needle}: {message}");
    }
    // The report lists what was applied before the refusal, then the refused change with its
    // statement, SQLSTATE and reason.
    let changes = v["databases"][0]["schema_changes"]
        .as_array()
        .expect("schema_changes");
    for applied in ["column w added of public.app", "index public.app_w created"] {
        let c = changes
            .iter()
            .find(|c| c["change"].as_str().unwrap().starts_with(applied))
            .unwrap_or_else(|| panic!("{applied} not listed: {changes:#?}"));
        assert_eq!(c["refused"], false, "{c}");
    }
    let refused = changes.last().expect("the refused change");
    assert_eq!(refused["refused"], true, "{changes:#?}");
    assert_eq!(
        refused["change"], "column v changed to type integer of public.app",
        "{refused}"
    );
    assert_eq!(
        refused["statement"],
        "ALTER TABLE \"public\".\"app\" ALTER COLUMN \"v\" TYPE integer USING \"v\"::integer",
        "{refused}"
    );
    assert_eq!(refused["sqlstate"], "22P02", "{refused}");
    assert!(
        refused["reason"]
            .as_str()
            .unwrap()
            .contains("invalid input syntax"),
        "{refused}"
    );
    assert_eq!(
        changes.iter().filter(|c| c["refused"] == true).count(),
        1,
        "{changes:#?}"
    );
    let enabled = format!(
        "SELECT subenabled::text FROM pg_catalog.pg_subscription s
           JOIN pg_catalog.pg_database d ON d.oid = s.subdbid WHERE d.datname = '{}'",
        db.replace('\'', "''")
    );
    assert_eq!(
        t.query_strings("postgres", &enabled).await,
        vec![vec![Some("false".to_owned())]],
        "the subscription is disabled"
    );

    // The operator applies the same change by hand (the row written after it, 1, reached the
    // target as the text 1, whose length is 1 too); the cut-over enables the subscription.
    t.execute(
        &db,
        "ALTER TABLE app ALTER COLUMN v TYPE int USING length(v)",
    )
    .await;
    let done = run(
        &path,
        &db,
        &["--max-replication-lag", "0", "--stop-replication"],
    );
    let all = support::cli::text(&done);
    assert_eq!(done.status.code(), Some(0), "{all}");
    assert_eq!(
        table_hash(s, &db, "app").await,
        table_hash(t, &db, "app").await
    );
}

/// A partitioned table replicated through a managed source's `FOR TABLE` publication, which
/// names the partitioned table: during replication, under writes, one partition is detached
/// (and written to after its detach), another dropped, and a table of its own attached as a
/// new partition (written to before and after). The cut-over run detaches, drops and attaches
/// them on the target once the rows before are in (the detached one copied again, as the list
/// publishes it by itself from then on), and the target ends equal to the source: `pg_dump
/// --schema-only`, every row, no write lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partitions_detached_attached_and_dropped_during_replication_follow_the_source() {
    let (s, t) = (support::source(), support::target());
    let (admin, pw) = s.create_admin("follow_part", true).await;
    let db = support::unique_name("follow parts ");
    s.execute(
        "postgres",
        &format!(
            "CREATE DATABASE {} OWNER {}",
            quote_ident(&db),
            quote_ident(&admin)
        ),
    )
    .await;
    s.execute(
        &db,
        &format!(
            "CREATE TABLE public.events (id int NOT NULL, at int NOT NULL, v text,
                                         PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
             CREATE TABLE public.events_old PARTITION OF public.events FOR VALUES FROM (0) TO (100);
             CREATE TABLE public.events_mid PARTITION OF public.events FOR VALUES FROM (100) TO (200);
             CREATE TABLE public.events_new PARTITION OF public.events FOR VALUES FROM (200) TO (300);
             INSERT INTO public.events SELECT g, g % 300, 'e' || g FROM generate_series(1, 600) g;
             CREATE TABLE public.events_late (id int NOT NULL, at int NOT NULL, v text,
                                              PRIMARY KEY (id, at));
             INSERT INTO public.events_late SELECT g, 300 + g % 100, 'l' || g FROM generate_series(1, 200) g;
             ALTER TABLE public.events OWNER TO {a}; ALTER TABLE public.events_old OWNER TO {a};
             ALTER TABLE public.events_mid OWNER TO {a}; ALTER TABLE public.events_new OWNER TO {a};
             ALTER TABLE public.events_late OWNER TO {a};",
            a = quote_ident(&admin)
        ),
    )
    .await;
    let path = Path {
        source_uri: s.uri(&admin, &pw, "postgres"),
        as_app: String::new(),
    };
    let first = run(&path, &db, &[]);
    assert_eq!(
        first.status.code(),
        Some(0),
        "{}",
        support::cli::text(&first)
    );
    let cut = {
        let (uri, db) = (path.source_uri.clone(), db.clone());
        std::thread::spawn(move || {
            let p = Path {
                source_uri: uri,
                as_app: String::new(),
            };
            run(
                &p,
                &db,
                &[
                    "--max-replication-lag",
                    "0",
                    "--stop-replication",
                    "--follow",
                    "18s",
                    "--schema-check-interval",
                    "1s",
                    "--replication-timeout",
                    "180",
                ],
            )
        })
    };
    // Writes through the partitioned table, into the partition that is detached (before and
    // after its detach) and into the one that is dropped (until it is).
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (flag, db) = (stop.clone(), db.clone());
        tokio::spawn(async move {
            let client = s.connect(&db).await;
            let mut i = 0;
            while !flag.load(Ordering::Relaxed) {
                i += 1;
                let rows = format!(
                    "INSERT INTO public.events VALUES ({id}, {new}, 'w');
                     INSERT INTO public.events_old VALUES ({id}, {old}, 'old');
                     INSERT INTO public.events_late VALUES ({id}, {late}, 'late')",
                    id = 10000 + i,
                    new = 200 + i % 100,
                    old = i % 100,
                    late = 300 + i % 100,
                );
                client.batch_execute(&rows).await.expect("writer");
                let mid = format!(
                    "INSERT INTO public.events_mid VALUES ({}, 150, 'm')",
                    10000 + i
                );
                let _ = client.batch_execute(&mid).await;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    tokio::time::sleep(Duration::from_secs(3)).await;
    s.execute(
        &db,
        "ALTER TABLE public.events DETACH PARTITION public.events_old",
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    s.execute(&db, "DROP TABLE public.events_mid").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    s.execute(
        &db,
        "ALTER TABLE public.events ATTACH PARTITION public.events_late FOR VALUES FROM (300) TO (400)",
    )
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, Ordering::Relaxed);
    writer.await.unwrap();

    let cut = cut.join().unwrap();
    let all = support::cli::text(&cut);
    assert_eq!(cut.status.code(), Some(0), "{all}");
    let v: serde_json::Value = serde_json::from_slice(&cut.stdout).expect("JSON report");
    assert_eq!(v["databases"][0]["status"], "done", "{all}");
    let changes = v["databases"][0]["schema_changes"]
        .as_array()
        .expect("changes");
    for change in [
        "table public.events_old detached from public.events",
        "table public.events_mid dropped",
        "table public.events_late attached to public.events",
    ] {
        assert!(
            changes.iter().any(|c| c["change"] == change),
            "{change} not listed: {changes:#?}"
        );
    }
    for table in ["public.events", "public.events_old", "public.events_late"] {
        let (a, b) = (
            table_hash(s, &db, table).await,
            table_hash(t, &db, table).await,
        );
        assert_eq!(a, b, "{table} differs");
    }
    let gone = "SELECT count(*) FROM pg_catalog.pg_class WHERE relname = 'events_mid'";
    assert_eq!(
        t.query_strings(&db, gone).await,
        vec![vec![Some("0".to_owned())]]
    );
    if let Some(pg_dump) = pg_dump() {
        let a = across_majors(&normalize(&dump(s, &db, &pg_dump)));
        let b = across_majors(&normalize(&dump(t, &db, &pg_dump)));
        assert!(
            a == b,
            "pg_dump --schema-only differs:\n{}",
            first_difference(&a, &b)
        );
    }
}
