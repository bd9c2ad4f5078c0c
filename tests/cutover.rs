//! The fenced cut-over (`--cutover`, `--max-downtime`, `--unfence`) of the real `pg_migrate`
//! against real clusters, under a write load of an application role: writes after the fence
//! fail read-only, every committed write is on the target, tables equal, sequences ahead, the
//! window reported; an abort by `--max-downtime` lifts the fence exactly as it was and leaves
//! replication running; a refusal changes nothing; `--unfence` lifts a switched cut-over's
//! fence.

// Each module keeps its own copy of the harness, so its clusters are its own (as when every
// file was a test binary of its own).
#[path = "support/mod.rs"]
mod support;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::{Cluster, quote_ident, quote_literal};

/// A database on the source with an application role that owns its tables (as applications'
/// own roles do), a comment on the database (which the fence must put back) and seed rows.
/// Returns `(db, role, password)`.
async fn app_database(prefix: &str) -> (String, String, String) {
    let s = support::source();
    let db = s.create_database(prefix).await;
    let role = support::unique_name("app");
    let pw = "app-pw-1";
    s.execute(
        "postgres",
        &format!(
            "CREATE ROLE {r} LOGIN PASSWORD {p}; COMMENT ON DATABASE {d} IS 'the shop''s db'",
            r = quote_ident(&role),
            p = quote_literal(pw),
            d = quote_ident(&db)
        ),
    )
    .await;
    s.execute(
        &db,
        &format!(
            "CREATE TABLE public.orders (id bigserial PRIMARY KEY, n int NOT NULL, note text);
             CREATE SEQUENCE public.tick;
             CREATE TABLE public.events (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v text);
             INSERT INTO public.orders (n, note) SELECT g, 'seed' FROM generate_series(1, 500) g;
             INSERT INTO public.events (v) SELECT 'seed' FROM generate_series(1, 20);
             ALTER TABLE public.orders OWNER TO {r};
             ALTER TABLE public.events OWNER TO {r};
             ALTER SEQUENCE public.tick OWNER TO {r};",
            r = quote_ident(&role)
        ),
    )
    .await;
    (db, role, pw.to_owned())
}

/// `pg_migrate` of `db` by the replication method, JSON on stdout, with `extra` flags.
fn pg_migrate(db: &str, extra: &[&str]) -> std::process::Output {
    let (src, tgt) = support::cli::superuser_uris();
    let mut args = vec![
        "-s",
        &src,
        "-t",
        &tgt,
        "--only-db",
        db,
        "--force-method",
        "replication",
        "--replication-timeout",
        "120",
        "--json",
        "-",
    ];
    args.extend_from_slice(extra);
    support::cli::pg_migrate(&args)
}

async fn pg_migrate_async(db: &str, extra: &[&str]) -> std::process::Output {
    let db = db.to_owned();
    let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        pg_migrate(&db, &extra)
    })
    .await
    .unwrap()
}

/// What the application's write load saw.
#[derive(Default)]
struct Load {
    /// Ids of the inserts whose COMMIT succeeded.
    committed: Mutex<Vec<i64>>,
    /// Writes refused read-only (SQLSTATE 25006).
    read_only: AtomicU64,
    /// Sessions ended under it (it reconnects).
    ended: AtomicU64,
    /// Other errors.
    other: Mutex<Vec<String>>,
}

/// The application: one session of `role`, inserting a row and drawing from the sequence in
/// a loop, reconnecting when its session is ended, until `stop`.
fn start_load(
    c: &'static Cluster,
    db: &str,
    role: &str,
    pw: &str,
) -> (Arc<AtomicBool>, Arc<Load>, tokio::task::JoinHandle<()>) {
    let stop = Arc::new(AtomicBool::new(false));
    let load = Arc::new(Load::default());
    let uri = c.uri(role, pw, db);
    let (flag, seen) = (stop.clone(), load.clone());
    let handle = tokio::spawn(async move {
        let mut i = 0i64;
        'connect: while !flag.load(Ordering::Relaxed) {
            let client = match tokio_postgres::connect(&uri, tokio_postgres::NoTls).await {
                Ok((client, conn)) => {
                    tokio::spawn(async move {
                        let _ = conn.await;
                    });
                    client
                }
                Err(e) => {
                    seen.other.lock().unwrap().push(format!("connect: {e}"));
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            };
            while !flag.load(Ordering::Relaxed) {
                i += 1;
                let r = async {
                    let row = client
                        .query_one(
                            "INSERT INTO public.orders (n, note) VALUES ($1, 'load') RETURNING id",
                            &[&(i as i32)],
                        )
                        .await?;
                    client
                        .query_one("SELECT nextval('public.tick')", &[])
                        .await?;
                    Ok::<i64, tokio_postgres::Error>(row.get(0))
                }
                .await;
                match r {
                    Ok(id) => seen.committed.lock().unwrap().push(id),
                    Err(e)
                        if e.code()
                            == Some(
                                &tokio_postgres::error::SqlState::READ_ONLY_SQL_TRANSACTION,
                            ) =>
                    {
                        seen.read_only.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                    Err(e)
                        if e.is_closed()
                            || e.code()
                                == Some(&tokio_postgres::error::SqlState::ADMIN_SHUTDOWN)
                            || e.code().is_none() =>
                    {
                        seen.ended.fetch_add(1, Ordering::Relaxed);
                        continue 'connect;
                    }
                    Err(e) => {
                        seen.other.lock().unwrap().push(e.to_string());
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
    });
    (stop, load, handle)
}

/// The database's own settings and comment on the source.
async fn fence_state(db: &str) -> (Option<String>, Option<String>) {
    let rows = support::source()
        .query_strings(
            "postgres",
            &format!(
                "SELECT (SELECT array_to_string(setconfig, ',') FROM pg_db_role_setting
                          WHERE setdatabase = d.oid AND setrole = 0),
                        shobj_description(d.oid, 'pg_database')
                   FROM pg_database d WHERE datname = {}",
                quote_literal(db)
            ),
        )
        .await;
    (rows[0][0].clone(), rows[0][1].clone())
}

async fn count(c: &Cluster, db: &str, sql: &str) -> i64 {
    c.query_strings(db, sql).await[0][0]
        .as_deref()
        .unwrap()
        .parse()
        .unwrap()
}

/// The replication objects of `db` on both sides.
async fn replication_objects(db: &str) -> i64 {
    count(
        support::source(),
        "postgres",
        &format!(
            "SELECT count(*) FROM pg_replication_slots WHERE database = {}",
            quote_literal(db)
        ),
    )
    .await
        + count(
            support::target(),
            "postgres",
            &format!(
                "SELECT count(*) FROM pg_subscription s JOIN pg_database d ON d.oid = s.subdbid
                  WHERE d.datname = {}",
                quote_literal(db)
            ),
        )
        .await
}

fn json(o: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("JSON report: {e}\n{}", support::cli::text(o)))
}

fn steps(cut: &serde_json::Value) -> Vec<String> {
    cut["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fenced_cutover_under_a_write_load_loses_no_write_and_reports_the_window() {
    let (s, t) = (support::source(), support::target());
    let (db, role, pw) = app_database("cutover load ").await;
    let first = pg_migrate_async(&db, &[]).await;
    assert_eq!(
        first.status.code(),
        Some(0),
        "{}",
        support::cli::text(&first)
    );

    let (stop, load, handle) = start_load(s, &db, &role, &pw);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let before = load.committed.lock().unwrap().len();
    assert!(
        before > 20,
        "the load should write before the cut-over ({before})"
    );
    // The dry run: ready, the application's session named, nothing changed.
    let dry = pg_migrate_async(&db, &["--cutover", "--validate"]).await;
    let all = support::cli::text(&dry);
    assert_eq!(dry.status.code(), Some(0), "{all}");
    let d = &json(&dry)["cutover_dry_run"][0];
    assert_eq!(d["ready"], true, "{all}");
    assert_eq!(d["session_roles"][0], role.as_str(), "{all}");
    assert!(d["sessions"].as_u64().unwrap() >= 1, "{all}");
    assert!(d["estimated_window_seconds"].as_f64().is_some(), "{all}");
    assert!(
        all.contains("Cut-over dry run (nothing was changed)"),
        "{all}"
    );
    eprintln!("{}", String::from_utf8_lossy(&dry.stderr));
    assert_eq!(
        fence_state(&db).await,
        (None, Some("the shop's db".to_owned()))
    );
    assert_eq!(
        load.ended.load(Ordering::Relaxed),
        0,
        "the dry run ends no session"
    );
    let started = Instant::now();
    let cut = pg_migrate_async(&db, &["--cutover", "--max-downtime", "60s", "--verify"]).await;
    let took = started.elapsed();
    // The load goes on against the fenced source for a moment: refused read-only.
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    handle.await.unwrap();
    let all = support::cli::text(&cut);
    assert_eq!(cut.status.code(), Some(0), "{all}");
    let v = json(&cut);
    let entry = &v["databases"][0];
    assert_eq!(entry["status"], "done", "{all}");
    assert_eq!(entry["verify"]["status"], "equal", "{all}");
    let c = &entry["cutover"];
    assert_eq!(c["outcome"], "switched", "{all}");
    assert_eq!(
        steps(c),
        [
            "readiness",
            "fence applied",
            "barrier",
            "caught up",
            "sequences synced",
            "verified",
            "objects dropped"
        ],
        "{all}"
    );
    let window = c["write_unavailable_seconds"].as_f64().unwrap();
    assert!(
        window > 0.0 && window < took.as_secs_f64(),
        "{window} {all}"
    );
    assert!(c["barrier_lsn"].as_str().unwrap().contains('/'), "{all}");
    assert_eq!(c["fence"]["roles"][0], role.as_str(), "{all}");
    assert!(c["fence"]["sessions_ended"].as_u64().unwrap() >= 1, "{all}");
    assert_eq!(c["fence"]["lifted"], false, "{all}");
    let stderr = String::from_utf8_lossy(&cut.stderr);
    assert!(stderr.contains("write-unavailable window"), "{all}");
    assert!(stderr.contains("--unfence"), "{all}");
    eprintln!("measured write-unavailable window: {window:.3} s\n{stderr}");

    // The application: its session ended by the fence, then every write refused read-only.
    assert!(
        load.ended.load(Ordering::Relaxed) >= 1,
        "the fence ends the session"
    );
    assert!(
        load.read_only.load(Ordering::Relaxed) >= 1,
        "writes after the fence fail"
    );
    assert!(
        load.other.lock().unwrap().is_empty(),
        "{:?}",
        load.other.lock().unwrap()
    );
    // Every committed write is on the target, and the tables are equal.
    let committed = load.committed.lock().unwrap().clone();
    let ids = committed
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let on_target = count(
        t,
        &db,
        &format!("SELECT count(*) FROM public.orders WHERE id IN ({ids})"),
    )
    .await;
    assert_eq!(
        on_target,
        committed.len() as i64,
        "committed writes missing on the target"
    );
    let sum = "SELECT count(*)::text || ':' || md5(string_agg(o::text, '|' ORDER BY id)) FROM public.orders o";
    assert_eq!(
        s.query_strings(&db, sum).await,
        t.query_strings(&db, sum).await
    );
    // Sequences: exact (the source was fenced), so the target's next values are new ones.
    for seq in ["public.orders_id_seq", "public.tick"] {
        let q = format!("SELECT last_value::text FROM {seq}");
        assert_eq!(
            s.query_strings(&db, &q).await,
            t.query_strings(&db, &q).await,
            "{seq}"
        );
    }
    let max_id = count(t, &db, "SELECT max(id) FROM public.orders").await;
    assert!(count(t, &db, "SELECT nextval('public.orders_id_seq')").await > max_id);
    assert_eq!(replication_objects(&db).await, 0);

    // The source stays fenced; the target takes writes.
    let (settings, comment) = fence_state(&db).await;
    assert_eq!(
        settings.as_deref(),
        Some("default_transaction_read_only=on")
    );
    assert!(comment.unwrap().starts_with("db-migrate fence: "));
    t.execute(&db, "INSERT INTO public.orders (n) VALUES (-1)")
        .await;

    // --unfence puts the source back exactly as it was.
    let un = pg_migrate_async(&db, &["--unfence"]).await;
    assert_eq!(un.status.code(), Some(0), "{}", support::cli::text(&un));
    assert_eq!(
        json(&un)["unfenced"][0]["ok"],
        true,
        "{}",
        support::cli::text(&un)
    );
    assert_eq!(
        fence_state(&db).await,
        (None, Some("the shop's db".to_owned()))
    );
    let (client, conn) = tokio_postgres::connect(&s.uri(&role, &pw, &db), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client
        .execute("INSERT INTO public.orders (n) VALUES (-2)", &[])
        .await
        .expect("the application writes again after --unfence");
    // A second --unfence finds nothing to lift.
    let again = pg_migrate_async(&db, &["--unfence"]).await;
    assert_eq!(
        again.status.code(),
        Some(0),
        "{}",
        support::cli::text(&again)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cutover_over_its_max_downtime_lifts_the_fence_and_keeps_replicating() {
    let (s, t) = (support::source(), support::target());
    let (db, role, pw) = app_database("cutover abort ").await;
    let first = pg_migrate_async(&db, &[]).await;
    assert_eq!(
        first.status.code(),
        Some(0),
        "{}",
        support::cli::text(&first)
    );
    let (stop, load, handle) = start_load(s, &db, &role, &pw);
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Readiness refuses, changing nothing: a fence role that does not exist.
    let refused = pg_migrate_async(&db, &["--cutover", "--fence-roles", "no_such_role"]).await;
    let all = support::cli::text(&refused);
    assert_eq!(refused.status.code(), Some(1), "{all}");
    assert!(
        all.contains("no_such_role") && all.contains("nothing was changed"),
        "{all}"
    );
    assert_eq!(
        fence_state(&db).await,
        (None, Some("the shop's db".to_owned()))
    );

    // A bound no barrier can meet: aborted, the fence lifted, replication running.
    let cut = pg_migrate_async(&db, &["--cutover", "--max-downtime", "1ms"]).await;
    let all = support::cli::text(&cut);
    assert_eq!(cut.status.code(), Some(1), "{all}");
    let entry = &json(&cut)["databases"][0];
    assert_eq!(entry["status"], "failed", "{all}");
    let c = &entry["cutover"];
    assert_eq!(c["outcome"], "aborted", "{all}");
    assert_eq!(c["fence"]["lifted"], true, "{all}");
    assert_eq!(
        steps(c).last().map(String::as_str),
        Some("fence lifted"),
        "{all}"
    );
    assert!(
        c["reason"].as_str().unwrap().contains("--max-downtime"),
        "{all}"
    );
    assert!(
        entry["message"].as_str().unwrap().contains("aborted"),
        "{all}"
    );
    assert_eq!(
        fence_state(&db).await,
        (None, Some("the shop's db".to_owned()))
    );
    assert_eq!(
        replication_objects(&db).await,
        2,
        "replication keeps running"
    );

    // The application writes again (its session was ended by the fence, a new one is not
    // read-only), and its writes still reach the target.
    let committed_at_abort = load.committed.lock().unwrap().len();
    let deadline = Instant::now() + Duration::from_secs(30);
    while load.committed.lock().unwrap().len() < committed_at_abort + 20 {
        assert!(
            Instant::now() < deadline,
            "the load does not write after the abort"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let last = *load.committed.lock().unwrap().last().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while count(
        t,
        &db,
        &format!("SELECT count(*) FROM public.orders WHERE id = {last}"),
    )
    .await
        == 0
    {
        assert!(
            Instant::now() < deadline,
            "replication does not carry writes after the abort"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // A second cut-over, with room, succeeds under the same load.
    let second = pg_migrate_async(&db, &["--cutover", "--max-downtime", "60s"]).await;
    stop.store(true, Ordering::Relaxed);
    handle.await.unwrap();
    let all = support::cli::text(&second);
    assert_eq!(second.status.code(), Some(0), "{all}");
    assert_eq!(
        json(&second)["databases"][0]["cutover"]["outcome"],
        "switched",
        "{all}"
    );
    let sum = "SELECT count(*)::text || ':' || md5(string_agg(o::text, '|' ORDER BY id)) FROM public.orders o";
    assert_eq!(
        s.query_strings(&db, sum).await,
        t.query_strings(&db, sum).await
    );
    let un = pg_migrate_async(&db, &["--unfence"]).await;
    assert_eq!(un.status.code(), Some(0), "{}", support::cli::text(&un));
    assert_eq!(
        fence_state(&db).await,
        (None, Some("the shop's db".to_owned()))
    );
}

/// The barrier cannot be reached while the target's apply worker waits on a lock: a bound of
/// 2 s aborts after 2 s waiting for it; a run interrupted (SIGTERM) while it waits lifts the
/// fence before it exits; after a SIGKILL `--unfence` lifts it from its record; either way the
/// replication goes on once the lock is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_barrier_aborts_and_an_interrupt_lifts_the_fence() {
    let (s, t) = (support::source(), support::target());
    let (db, role, pw) = app_database("cutover sigterm ").await;
    let first = pg_migrate_async(&db, &[]).await;
    assert_eq!(
        first.status.code(),
        Some(0),
        "{}",
        support::cli::text(&first)
    );
    let (stop, load, handle) = start_load(s, &db, &role, &pw);
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The apply worker stops on the first change of orders.
    let blocker = t.connect(&db).await;
    blocker
        .batch_execute("BEGIN; LOCK TABLE public.orders IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();

    let started = Instant::now();
    let cut = pg_migrate_async(&db, &["--cutover", "--max-downtime", "2s"]).await;
    let all = support::cli::text(&cut);
    assert_eq!(cut.status.code(), Some(1), "{all}");
    let c = &json(&cut)["databases"][0]["cutover"];
    assert_eq!(c["outcome"], "aborted", "{all}");
    assert!(
        c["reason"]
            .as_str()
            .unwrap()
            .contains("had not confirmed the barrier"),
        "{all}"
    );
    let window = c["write_unavailable_seconds"].as_f64().unwrap();
    assert!(
        (2.0..started.elapsed().as_secs_f64()).contains(&window),
        "{window}: {all}"
    );
    assert_eq!(
        fence_state(&db).await,
        (None, Some("the shop's db".to_owned()))
    );
    eprintln!("{}", String::from_utf8_lossy(&cut.stderr));

    // SIGTERM once the fence is on: lifted before the run ends (exit 1).
    let (src, tgt) = support::cli::superuser_uris();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_pg_migrate"))
        .args([
            "-s",
            &src,
            "-t",
            &tgt,
            "--only-db",
            &db,
            "--replication-timeout",
            "120",
            "--cutover",
            "--json",
            "-",
        ])
        .env_remove("SOURCE_SERVICE_URI")
        .env_remove("TARGET_SERVICE_URI")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while fence_state(&db).await.0.is_none() {
        assert!(Instant::now() < deadline, "the cut-over does not fence");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    let all = support::cli::text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    let c = &json(&out)["databases"][0]["cutover"];
    assert_eq!(c["outcome"], "interrupted", "{all}");
    assert_eq!(c["fence"]["lifted"], true, "{all}");
    assert_eq!(
        fence_state(&db).await,
        (None, Some("the shop's db".to_owned()))
    );
    assert_eq!(
        replication_objects(&db).await,
        2,
        "replication keeps running"
    );

    // SIGKILL once the fence is on: nothing can lift it but --unfence, from its record.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_pg_migrate"))
        .args([
            "-s",
            &src,
            "-t",
            &tgt,
            "--only-db",
            &db,
            "--replication-timeout",
            "120",
            "--cutover",
        ])
        .env_remove("SOURCE_SERVICE_URI")
        .env_remove("TARGET_SERVICE_URI")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while fence_state(&db).await.0.is_none() {
        assert!(Instant::now() < deadline, "the cut-over does not fence");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    child.kill().unwrap();
    child.wait().unwrap();
    let (settings, comment) = fence_state(&db).await;
    assert_eq!(
        settings.as_deref(),
        Some("default_transaction_read_only=on")
    );
    assert!(comment.unwrap().starts_with("db-migrate fence: "));
    let un = pg_migrate_async(&db, &["--unfence"]).await;
    assert_eq!(un.status.code(), Some(0), "{}", support::cli::text(&un));
    assert_eq!(
        fence_state(&db).await,
        (None, Some("the shop's db".to_owned()))
    );

    // The lock gone, the load's writes (from before, during and after) reach the target.
    blocker.batch_execute("ROLLBACK").await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    handle.await.unwrap();
    let last = *load.committed.lock().unwrap().last().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while count(
        t,
        &db,
        &format!("SELECT count(*) FROM public.orders WHERE id = {last}"),
    )
    .await
        == 0
    {
        assert!(
            Instant::now() < deadline,
            "replication does not carry the writes"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let cleanup = pg_migrate_async(&db, &["--cleanup"]).await;
    assert_eq!(
        cleanup.status.code(),
        Some(0),
        "{}",
        support::cli::text(&cleanup)
    );
}

/// A managed-like source (issue 18's RDS-like emulation): the migration user is a provider
/// admin (CREATEROLE CREATEDB REPLICATION, no superuser) that owns the database and is a member
/// of the tables' owner; the application logs in as another member of the owner. Without
/// `pg_signal_backend` it may not end the application's sessions: refused, nothing changed,
/// the grant named. With it, the cut-over fences and switches under the load.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_managed_like_source_is_fenced_with_the_admins_privileges_or_refused_naming_the_grant() {
    let (s, t) = (support::source(), support::target());
    let (admin, admin_pw) = s.create_admin("cut_admin", true).await;
    let owner = support::unique_name("cut_owner");
    let app = support::unique_name("cut_app");
    let db = support::unique_name("cutover managed ");
    s.execute(
        "postgres",
        &format!(
            "CREATE ROLE {o} NOLOGIN; GRANT {o} TO {a};
             CREATE ROLE {p} LOGIN PASSWORD 'app-pw-2' IN ROLE {o};",
            o = quote_ident(&owner),
            a = quote_ident(&admin),
            p = quote_ident(&app),
        ),
    )
    .await;
    s.execute(
        "postgres",
        &format!(
            "CREATE DATABASE {d} OWNER {a}",
            a = quote_ident(&admin),
            d = quote_ident(&db)
        ),
    )
    .await;
    s.execute(
        &db,
        &format!(
            "GRANT CREATE ON SCHEMA public TO {o}; SET ROLE {o};
             CREATE TABLE public.orders (id bigserial PRIMARY KEY, n int NOT NULL, note text);
             CREATE SEQUENCE public.tick;
             INSERT INTO public.orders (n, note) SELECT g, 'seed' FROM generate_series(1, 300) g;",
            o = quote_ident(&owner)
        ),
    )
    .await;
    let src = s.uri(&admin, &admin_pw, "postgres");
    let tgt = t.superuser_uri("postgres");
    let run = |extra: &[&str]| {
        let mut args: Vec<String> = [
            "-s",
            &src,
            "-t",
            &tgt,
            "--only-db",
            &db,
            "--force-method",
            "replication",
            "--replication-timeout",
            "120",
            "--json",
            "-",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.extend(extra.iter().map(|s| s.to_string()));
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            support::cli::pg_migrate(&args)
        })
    };
    let first = run(&[]).await.unwrap();
    assert_eq!(
        first.status.code(),
        Some(0),
        "{}",
        support::cli::text(&first)
    );
    let (stop, load, handle) = start_load(s, &db, &app, "app-pw-2");
    tokio::time::sleep(Duration::from_millis(500)).await;

    assert!(
        load.committed.lock().unwrap().len() > 5,
        "the application writes: {:?}",
        load.other.lock().unwrap()
    );
    let dry = run(&["--cutover", "--validate"]).await.unwrap();
    let all = support::cli::text(&dry);
    assert_eq!(dry.status.code(), Some(2), "{all}");
    let d = &json(&dry)["cutover_dry_run"][0];
    assert_eq!(d["ready"], false, "{all}");
    assert!(
        d["refusal"]
            .as_str()
            .unwrap()
            .contains("GRANT pg_signal_backend"),
        "{all}"
    );
    let refused = run(&["--cutover"]).await.unwrap();
    let all = support::cli::text(&refused);
    assert_eq!(refused.status.code(), Some(1), "{all}");
    assert!(
        all.contains("GRANT pg_signal_backend") && all.contains(&app),
        "{all}"
    );
    assert!(all.contains("nothing was changed"), "{all}");
    assert_eq!(fence_state(&db).await, (None, None));

    s.execute(
        "postgres",
        &format!("GRANT pg_signal_backend TO {}", quote_ident(&admin)),
    )
    .await;
    // The admin cannot subscribe on the source: --fail-back-ready is refused before the fence.
    let refused = run(&["--cutover", "--fail-back-ready"]).await.unwrap();
    let all = support::cli::text(&refused);
    assert_eq!(refused.status.code(), Some(1), "{all}");
    assert!(
        all.contains("--fail-back-ready needs the reverse replication")
            && all.contains("on the source"),
        "{all}"
    );
    assert_eq!(fence_state(&db).await, (None, None));
    let cut = run(&["--cutover", "--max-downtime", "60s"]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, Ordering::Relaxed);
    handle.await.unwrap();
    let all = support::cli::text(&cut);
    assert_eq!(cut.status.code(), Some(0), "{all}");
    let c = &json(&cut)["databases"][0]["cutover"];
    assert_eq!(c["outcome"], "switched", "{all}");
    assert_eq!(c["fence"]["roles"][0], owner.as_str(), "{all}");
    assert!(c["fence"]["sessions_ended"].as_u64().unwrap() >= 1, "{all}");
    eprintln!(
        "managed-like source: write-unavailable window {} s\n{}",
        c["write_unavailable_seconds"],
        String::from_utf8_lossy(&cut.stderr)
    );
    assert!(load.read_only.load(Ordering::Relaxed) >= 1);
    let committed = load.committed.lock().unwrap().clone();
    let ids = committed
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(",");
    assert_eq!(
        count(
            t,
            &db,
            &format!("SELECT count(*) FROM public.orders WHERE id IN ({ids})")
        )
        .await,
        committed.len() as i64
    );
    let sum = "SELECT count(*)::text || ':' || md5(string_agg(o::text, '|' ORDER BY id)) FROM public.orders o";
    assert_eq!(
        s.query_strings(&db, sum).await,
        t.query_strings(&db, sum).await
    );
    // The admin lifts its own fence.
    let un = run(&["--unfence"]).await.unwrap();
    assert_eq!(un.status.code(), Some(0), "{}", support::cli::text(&un));
    assert_eq!(fence_state(&db).await, (None, None));
}

/// `--cutover` in the first run: the copy, then at once the fenced cut-over (the orchestrator's
/// in-run path, not the earlier run's).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_run_with_cutover_copies_then_fences_and_switches() {
    let (s, t) = (support::source(), support::target());
    let (db, _role, _pw) = app_database("cutover first ").await;
    let out = pg_migrate_async(&db, &["--cutover", "--max-downtime", "60s"]).await;
    let all = support::cli::text(&out);
    assert_eq!(out.status.code(), Some(0), "{all}");
    let entry = &json(&out)["databases"][0];
    assert_eq!(entry["status"], "done", "{all}");
    assert_eq!(entry["cutover"]["outcome"], "switched", "{all}");
    assert_eq!(replication_objects(&db).await, 0);
    let sum = "SELECT count(*)::text || ':' || md5(string_agg(o::text, '|' ORDER BY id)) FROM public.orders o";
    assert_eq!(
        s.query_strings(&db, sum).await,
        t.query_strings(&db, sum).await
    );
    assert_eq!(
        fence_state(&db).await.0.as_deref(),
        Some("default_transaction_read_only=on")
    );
    let un = pg_migrate_async(&db, &["--unfence"]).await;
    assert_eq!(un.status.code(), Some(0), "{}", support::cli::text(&un));
    assert_eq!(
        fence_state(&db).await,
        (None, Some("the shop's db".to_owned()))
    );
}

/// `--fail-back-ready`: the cut-over ends with reverse replication; writes on the new server
/// (inserts, updates, deletes) reach the old one, which stays fenced for the applications;
/// `--cleanup` removes the reverse objects.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_back_ready_carries_the_targets_writes_to_the_fenced_source() {
    let (s, t) = (support::source(), support::target());
    let (db, role, pw) = app_database("cutover failback ").await;
    let first = pg_migrate_async(&db, &[]).await;
    assert_eq!(
        first.status.code(),
        Some(0),
        "{}",
        support::cli::text(&first)
    );
    let (stop, load, handle) = start_load(s, &db, &role, &pw);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let cut = pg_migrate_async(
        &db,
        &["--cutover", "--max-downtime", "60s", "--fail-back-ready"],
    )
    .await;
    stop.store(true, Ordering::Relaxed);
    handle.await.unwrap();
    let all = support::cli::text(&cut);
    assert_eq!(cut.status.code(), Some(0), "{all}");
    let c = &json(&cut)["databases"][0]["cutover"];
    assert_eq!(c["outcome"], "switched", "{all}");
    assert!(steps(c).contains(&"fail-back ready".to_owned()), "{all}");
    eprintln!("{}", String::from_utf8_lossy(&cut.stderr));
    let committed = load.committed.lock().unwrap().len() as i64;
    assert!(committed > 0);

    // The application moves to the target and writes there.
    t.execute(
        &db,
        "INSERT INTO public.orders (n, note) SELECT g, 'on the target' FROM generate_series(1, 50) g;
         UPDATE public.orders SET note = 'changed on the target' WHERE id <= 10;
         DELETE FROM public.orders WHERE id BETWEEN 11 AND 20;
         INSERT INTO public.events (v) VALUES ('on the target');
         UPDATE public.events SET v = 'changed on the target' WHERE id = 1;",
    )
    .await;
    // A GENERATED ALWAYS identity column takes the reverse apply's values.
    let events = "SELECT string_agg(id || v, ',' ORDER BY id) FROM public.events";
    let want_events = t.query_strings(&db, events).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while s.query_strings(&db, events).await != want_events {
        assert!(Instant::now() < deadline, "events do not reach the source");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let sum = "SELECT count(*)::text || ':' || md5(string_agg(o::text, '|' ORDER BY id)) FROM public.orders o";
    let want = t.query_strings(&db, sum).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while s.query_strings(&db, sum).await != want {
        assert!(
            Instant::now() < deadline,
            "the target's writes do not reach the source"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The old server stays fenced for the application.
    let (client, conn) = tokio_postgres::connect(&s.uri(&role, &pw, &db), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    let e = client
        .execute("INSERT INTO public.orders (n) VALUES (-3)", &[])
        .await
        .unwrap_err();
    assert_eq!(
        e.code(),
        Some(&tokio_postgres::error::SqlState::READ_ONLY_SQL_TRANSACTION)
    );

    // --cleanup removes the reverse objects on both sides.
    // This database's reverse objects (pg_subscription and the slots are cluster-wide).
    let like = format!(
        "'aiven\\_db\\_migrate\\_fb\\_' || md5({}) || '\\_%'",
        quote_literal(&db)
    );
    let fb_objects = async || {
        count(
            s,
            &db,
            &format!("SELECT count(*) FROM pg_subscription WHERE subname LIKE {like}"),
        )
        .await
            + count(
                t,
                &db,
                &format!(
                    "SELECT (SELECT count(*) FROM pg_publication WHERE pubname LIKE {like})
                          + (SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE {like})"
                ),
            )
            .await
    };
    assert_eq!(fb_objects().await, 3);
    let cleanup = pg_migrate_async(&db, &["--cleanup"]).await;
    let all = support::cli::text(&cleanup);
    assert_eq!(cleanup.status.code(), Some(0), "{all}");
    assert_eq!(fb_objects().await, 0, "{all}");
    let un = pg_migrate_async(&db, &["--unfence"]).await;
    assert_eq!(un.status.code(), Some(0), "{}", support::cli::text(&un));
}

/// `--fail-back` after `--fail-back-ready`: the application wrote on the target; the switch back
/// fences the target, carries its last writes and sequences to the source, drops the reverse
/// objects and lifts the source's fence; the target stays fenced until `--unfence`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_back_switches_back_to_the_source_with_no_write_lost() {
    let (s, t) = (support::source(), support::target());
    let (db, role, pw) = app_database("cutover back ").await;
    let first = pg_migrate_async(&db, &[]).await;
    assert_eq!(
        first.status.code(),
        Some(0),
        "{}",
        support::cli::text(&first)
    );
    let cut = pg_migrate_async(&db, &["--cutover", "--fail-back-ready"]).await;
    assert_eq!(cut.status.code(), Some(0), "{}", support::cli::text(&cut));

    // The application on the target (its migrated role given its password), writing while
    // the fail-back runs.
    t.execute(
        "postgres",
        &format!(
            "ALTER ROLE {} PASSWORD {}",
            quote_ident(&role),
            quote_literal(&pw)
        ),
    )
    .await;
    let (stop, load, handle) = start_load(t, &db, &role, &pw);
    tokio::time::sleep(Duration::from_millis(800)).await;
    let back = pg_migrate_async(&db, &["--fail-back", "--max-downtime", "60s", "--verify"]).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, Ordering::Relaxed);
    handle.await.unwrap();
    let all = support::cli::text(&back);
    assert_eq!(back.status.code(), Some(0), "{all}");
    eprintln!("{}", String::from_utf8_lossy(&back.stderr));
    let v = json(&back);
    let entry = &v["fail_back"][0];
    assert_eq!(entry["status"], "done", "{all}");
    assert_eq!(entry["cutover"]["outcome"], "switched", "{all}");
    assert_eq!(entry["verify"]["status"], "equal", "{all}");
    assert!(
        entry["cutover"]["fence"]["sessions_ended"]
            .as_u64()
            .unwrap()
            >= 1,
        "{all}"
    );
    assert!(
        load.read_only.load(Ordering::Relaxed) >= 1,
        "the target is fenced"
    );
    // Every write committed on the target is on the source; the tables are equal.
    let committed = load.committed.lock().unwrap().clone();
    assert!(!committed.is_empty());
    let ids = committed
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(",");
    assert_eq!(
        count(
            s,
            &db,
            &format!("SELECT count(*) FROM public.orders WHERE id IN ({ids})")
        )
        .await,
        committed.len() as i64
    );
    let sum = "SELECT count(*)::text || ':' || md5(string_agg(o::text, '|' ORDER BY id)) FROM public.orders o";
    assert_eq!(
        s.query_strings(&db, sum).await,
        t.query_strings(&db, sum).await
    );
    // Sequences came back; the source is writable again; the target stays fenced.
    let q = "SELECT last_value::text FROM public.orders_id_seq";
    assert_eq!(s.query_strings(&db, q).await, t.query_strings(&db, q).await);
    assert_eq!(
        fence_state(&db).await,
        (None, Some("the shop's db".to_owned()))
    );
    let (client, conn) = tokio_postgres::connect(&s.uri(&role, &pw, &db), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client
        .execute("INSERT INTO public.orders (n) VALUES (-4)", &[])
        .await
        .expect("the source takes writes after the fail-back");
    let target_setting = "SELECT (SELECT array_to_string(setconfig, ',') FROM pg_db_role_setting
                            WHERE setdatabase = d.oid AND setrole = 0)
                            FROM pg_database d WHERE datname = current_database()";
    assert_eq!(
        t.query_strings(&db, target_setting).await[0][0].as_deref(),
        Some("default_transaction_read_only=on")
    );
    let un = pg_migrate_async(&db, &["--unfence"]).await;
    let all = support::cli::text(&un);
    assert_eq!(un.status.code(), Some(0), "{all}");
    assert_eq!(json(&un)["unfenced"][0]["server"], "target", "{all}");
    assert_eq!(t.query_strings(&db, target_setting).await[0][0], None);
}
