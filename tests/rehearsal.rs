//! The schema rehearsal and `--keep-going` on real clusters (issue 37, deliverables 1 and 2).
//!
//! The target refuses two objects of the source: its database already holds the extensions
//! `hstore` and `citext` (extension members: the database counts as empty), whose types
//! collide with the source's own composite type `public.hstore` and domain `public.citext`
//! (42710). A table and a view use the first, a table and its index the second. So:
//!
//! - `--validate` lists both refusals at once, with their dependents, and writes nothing;
//! - a default run refuses the database in preflight, before writing anything;
//! - `--keep-going` migrates the rest, lists both in `objects_failed` (exit 1);
//! - once the extensions are dropped from the target, `--resume` creates the missing objects,
//!   copies their tables and ends done, verified equal.
//!
//! And a database the target lacks is rehearsed in a scratch database that is gone afterwards,
//! also when the run is interrupted by SIGTERM while it rehearses; and `--clean` rehearses what
//! the run will do: in the target database after removing the earlier run's objects (in the
//! rehearsal's transaction), or in a scratch database when the run drops the database.

// Each module keeps its own copy of the harness, so its clusters are its own (as when every
// file was a test binary of its own).
#[path = "support/mod.rs"]
mod support;

use serde_json::Value;
use support::cli::{pg_migrate, superuser_uris, text};
use support::{quote_ident, source, target};

/// What a run could leave on the target: the objects of `db` (if it exists), the databases
/// and the roles.
async fn target_state(db: &str) -> Vec<Vec<Option<String>>> {
    let t = target();
    let mut rows = t
        .query_strings(
            "postgres",
            "SELECT 'database ' || datname FROM pg_database
             UNION ALL SELECT 'role ' || rolname FROM pg_roles ORDER BY 1",
        )
        .await;
    let exists = !t
        .query_strings(
            "postgres",
            &format!(
                "SELECT 1 FROM pg_database WHERE datname = {}",
                support::quote_literal(db)
            ),
        )
        .await
        .is_empty();
    if exists {
        rows.extend(
            t.query_strings(
                db,
                "SELECT 'class ' || oid::regclass::text FROM pg_class
                 UNION ALL SELECT 'type ' || oid::regtype::text FROM pg_type
                 UNION ALL SELECT 'proc ' || oid::regprocedure::text FROM pg_proc
                 UNION ALL SELECT 'namespace ' || nspname FROM pg_namespace
                 UNION ALL SELECT 'constraint ' || conname FROM pg_constraint ORDER BY 1",
            )
            .await,
        );
    }
    rows
}

async fn scratch_databases() -> Vec<Vec<Option<String>>> {
    target()
        .query_strings(
            "postgres",
            "SELECT datname FROM pg_database WHERE datname LIKE 'db_migrate_rehearsal_%'",
        )
        .await
}

fn json(o: &std::process::Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("JSON: {e}\n{}", text(o)))
}

async fn fixture() -> String {
    let db = source().create_database("rehearse").await;
    source()
        .execute(
            &db,
            "CREATE TYPE public.hstore AS (k text, v text);
             CREATE DOMAIN public.citext AS text CHECK (VALUE <> '');
             CREATE TABLE public.plain (id integer PRIMARY KEY, v text);
             INSERT INTO public.plain SELECT g, 'row ' || g FROM generate_series(1, 100) g;
             CREATE TABLE public.pairs (id integer PRIMARY KEY, p public.hstore);
             INSERT INTO public.pairs SELECT g, ROW('k' || g, 'v' || g)::public.hstore FROM generate_series(1, 20) g;
             CREATE VIEW public.pair_keys AS SELECT id, (p).k FROM public.pairs;
             CREATE TABLE public.emails (id integer PRIMARY KEY, e public.citext);
             INSERT INTO public.emails SELECT g, 'a' || g || '@example.com' FROM generate_series(1, 30) g;
             CREATE INDEX emails_e ON public.emails (e);
             CREATE SEQUENCE public.counter; SELECT pg_catalog.setval('public.counter', 42);",
        )
        .await;
    target()
        .execute("postgres", &format!("CREATE DATABASE {}", quote_ident(&db)))
        .await;
    target()
        .execute(&db, "CREATE EXTENSION hstore; CREATE EXTENSION citext;")
        .await;
    db
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_objects_are_all_named_before_writing_then_skipped_then_resumed() {
    let _serial = support::cli::SERIAL.write().await;
    let db = fixture().await;
    let (src, tgt) = superuser_uris();
    let base = ["-s", &src, "-t", &tgt, "--only-db", &db];
    let before = target_state(&db).await;

    // --validate: both refusals at once, each with its dependents; nothing written.
    let mut args = base.to_vec();
    args.extend(["--validate", "--json", "-"]);
    let o = pg_migrate(&args);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let v = json(&o);
    let refusals: Vec<String> = v["validation"]["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["check"] == "rehearsal")
        .map(|f| {
            assert_eq!(f["severity"], "error", "{f}");
            f["message"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(refusals.len(), 2, "{refusals:#?}\n{}", text(&o));
    let hstore = refusals
        .iter()
        .find(|m| m.contains("type \"public\".\"hstore\""))
        .unwrap_or_else(|| panic!("{refusals:#?}"));
    assert!(hstore.contains("42710"), "{hstore}");
    assert!(hstore.contains("CREATE TYPE"), "{hstore}");
    assert!(hstore.contains("table \"public\".\"pairs\""), "{hstore}");
    assert!(hstore.contains("view \"public\".\"pair_keys\""), "{hstore}");
    let citext = refusals
        .iter()
        .find(|m| m.contains("\"public\".\"citext\""))
        .unwrap_or_else(|| panic!("{refusals:#?}"));
    assert!(citext.contains("table \"public\".\"emails\""), "{citext}");
    assert_eq!(target_state(&db).await, before, "--validate wrote nothing");
    assert!(scratch_databases().await.is_empty());

    // A default run refuses the database before writing anything.
    let mut args = base.to_vec();
    args.extend(["--json", "-"]);
    let o = pg_migrate(&args);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let v = json(&o);
    assert_eq!(v["databases"][0]["status"], "failed", "{}", text(&o));
    assert_eq!(v["databases"][0]["phase"], "preflight", "{}", text(&o));
    assert_eq!(
        target_state(&db).await,
        before,
        "a refused run wrote nothing"
    );

    // --keep-going: the rest is migrated, both refusals are listed with their dependents.
    let mut args = base.to_vec();
    args.extend(["--keep-going", "--json", "-"]);
    let o = pg_migrate(&args);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let v = json(&o);
    let d = &v["databases"][0];
    assert_eq!(d["status"], "failed", "{}", text(&o));
    let failed = d["objects_failed"].as_array().expect("objects_failed");
    assert_eq!(failed.len(), 2, "{failed:#?}");
    let names: Vec<&str> = failed.iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"type \"public\".\"hstore\""), "{names:?}");
    assert!(names.contains(&"domain \"public\".\"citext\""), "{names:?}");
    let dependents = |name: &str| -> Vec<String> {
        failed.iter().find(|f| f["name"] == name).unwrap()["skipped_dependents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_str().unwrap().to_string())
            .collect()
    };
    let of_hstore = dependents("type \"public\".\"hstore\"");
    for d in [
        "table \"public\".\"pairs\"",
        "view \"public\".\"pair_keys\"",
    ] {
        assert!(of_hstore.iter().any(|x| x == d), "{d} in {of_hstore:?}");
    }
    let of_citext = dependents("domain \"public\".\"citext\"");
    for d in [
        "table \"public\".\"emails\"",
        "index \"public\".\"emails_e\"",
    ] {
        assert!(of_citext.iter().any(|x| x == d), "{d} in {of_citext:?}");
    }
    for f in failed {
        assert_eq!(f["sqlstate"], "42710", "{f}");
        assert!(
            f["statement"].as_str().unwrap().starts_with("CREATE "),
            "{f}"
        );
        assert!(!f["message"].as_str().unwrap().is_empty(), "{f}");
        assert!(
            !f["skipped_dependents"].as_array().unwrap().is_empty(),
            "{f}"
        );
    }
    let t = target();
    let count = |table: &'static str| {
        let db = db.clone();
        async move {
            t.query_strings(&db, &format!("SELECT count(*) FROM {table}"))
                .await
                .remove(0)
                .remove(0)
                .unwrap()
        }
    };
    assert_eq!(count("public.plain").await, "100");
    let missing = t
        .query_strings(
            &db,
            "SELECT to_regclass('public.pairs') IS NULL, to_regclass('public.emails') IS NULL,
                    to_regclass('public.pair_keys') IS NULL",
        )
        .await;
    assert_eq!(
        missing,
        vec![vec![Some("t".into()), Some("t".into()), Some("t".into())]]
    );

    // The cause fixed on the target: --resume creates the rest and ends done, verified equal.
    t.execute(&db, "DROP EXTENSION hstore; DROP EXTENSION citext;")
        .await;
    let mut args = base.to_vec();
    args.extend(["--resume", "--verify", "--json", "-"]);
    let o = pg_migrate(&args);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let v = json(&o);
    assert_eq!(v["databases"][0]["status"], "done", "{}", text(&o));
    assert_eq!(
        v["databases"][0]["verify"]["status"],
        "equal",
        "{}",
        text(&o)
    );
    assert!(
        v["databases"][0].get("objects_failed").is_none(),
        "{}",
        text(&o)
    );
    assert_eq!(count("public.pairs").await, "20");
    assert_eq!(count("public.emails").await, "30");
    assert_eq!(count("public.pair_keys").await, "20");
    let index = t
        .query_strings(&db, "SELECT to_regclass('public.emails_e') IS NOT NULL")
        .await;
    assert_eq!(index, vec![vec![Some("t".into())]]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_database_the_target_lacks_is_rehearsed_in_a_scratch_database_that_goes_away() {
    let _serial = support::cli::SERIAL.write().await;
    let db = source().create_database("rehearse_new").await;
    let role = support::unique_name("rehearse_owner");
    source()
        .execute(
            &db,
            &format!(
                "CREATE ROLE {r}; CREATE TABLE public.t (id integer PRIMARY KEY);
                 ALTER TABLE public.t OWNER TO {r};
                 CREATE INDEX t_id ON public.t ((id + 1));",
                r = quote_ident(&role)
            ),
        )
        .await;
    let before = target_state(&db).await;
    let (src, tgt) = superuser_uris();
    let o = pg_migrate(&[
        "-s",
        &src,
        "-t",
        &tgt,
        "--only-db",
        &db,
        "--validate",
        "-v",
        "--json",
        "-",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("schema rehearsed") && stderr.contains("db_migrate_rehearsal_"),
        "{}",
        text(&o)
    );
    assert!(
        scratch_databases().await.is_empty(),
        "no scratch database left"
    );
    assert_eq!(
        target_state(&db).await,
        before,
        "no database, no role (the owner was created in the rehearsal and rolled back)"
    );
    // --no-rehearsal: not rehearsed.
    let o = pg_migrate(&[
        "-s",
        &src,
        "-t",
        &tgt,
        "--only-db",
        &db,
        "--validate",
        "--no-rehearsal",
        "-v",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        !String::from_utf8_lossy(&o.stderr).contains("schema rehearsed"),
        "{}",
        text(&o)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_during_the_rehearsal_leaves_no_scratch_database() {
    let _serial = support::cli::SERIAL.write().await;
    // Enough tables that the rehearsal takes a while after its scratch database appears.
    let db = source().create_database("rehearse_sigterm").await;
    source()
        .execute(
            &db,
            // Of a domain: tables of the server's own types alone are not rehearsed (they
            // cannot fail), these are.
            "CREATE DOMAIN public.word AS text CHECK (VALUE <> '');
             DO $$ BEGIN FOR i IN 1..1500 LOOP
               EXECUTE pg_catalog.format(
                 'CREATE TABLE public.t%s (id integer PRIMARY KEY, v public.word)', i);
             END LOOP; END $$;",
        )
        .await;
    let before = target_state(&db).await;
    let (src, tgt) = superuser_uris();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_pg_migrate"))
        .args(["-s", &src, "-t", &tgt, "--only-db", &db, "--validate"])
        .env_remove("SOURCE_SERVICE_URI")
        .env_remove("TARGET_SERVICE_URI")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("pg_migrate starts");
    // Aimed, not timed: the signal goes once the scratch database exists.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while scratch_databases().await.is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "no scratch database appeared"
        );
        assert!(child.try_wait().unwrap().is_none(), "the run ended first");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("interrupted while the schema was rehearsed"),
        "{}",
        text(&o)
    );
    assert!(scratch_databases().await.is_empty(), "{}", text(&o));
    assert_eq!(target_state(&db).await, before);
}

/// The rows of `db`'s ledger run table on the target (what `--clean` would remove).
async fn ledger_runs(db: &str) -> Vec<Vec<Option<String>>> {
    target()
        .query_strings(
            db,
            "SELECT run_id, stage, created_database::text FROM db_migrate.run ORDER BY 1",
        )
        .await
}

#[tokio::test(flavor = "multi_thread")]
async fn clean_rehearses_what_the_run_will_do_after_removing_the_earlier_run() {
    let _serial = support::cli::SERIAL.write().await;
    let db = fixture().await;
    let (src, tgt) = superuser_uris();
    let base = ["-s", &src, "-t", &tgt, "--only-db", &db];
    // An earlier run, failed: its objects and ledger in the existing target database.
    let mut args = base.to_vec();
    args.extend(["--keep-going", "--json", "-"]);
    let o = pg_migrate(&args);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let earlier = target_state(&db).await;
    let ledger = ledger_runs(&db).await;
    assert_eq!(ledger.len(), 1, "{ledger:?}");

    // --clean: the earlier run's objects are removed first, inside the rehearsal's
    // transaction, and the two types the target's extensions still hold are refused, all at
    // once, before anything is removed or written.
    let mut args = base.to_vec();
    args.extend(["--clean", "--json", "-"]);
    let o = pg_migrate(&args);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let v = json(&o);
    let refusals: Vec<String> = v["validation"]["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["check"] == "rehearsal")
        .map(|f| f["message"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(refusals.len(), 2, "{refusals:#?}\n{}", text(&o));
    assert!(
        refusals.iter().all(|m| m.contains("42710")),
        "{refusals:#?}"
    );
    assert_eq!(
        target_state(&db).await,
        earlier,
        "nothing removed or written"
    );
    assert_eq!(
        ledger_runs(&db).await,
        ledger,
        "the earlier run's ledger stays"
    );
    assert!(scratch_databases().await.is_empty());

    // Had the earlier run created the database, --clean would drop it (extensions and all):
    // then it is rehearsed in a scratch database, where nothing conflicts.
    target()
        .execute(&db, "UPDATE db_migrate.run SET created_database = true")
        .await;
    let mut args = base.to_vec();
    args.extend(["--clean", "--validate", "-v"]);
    let o = pg_migrate(&args);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("schema rehearsed") && stderr.contains("db_migrate_rehearsal_"),
        "{}",
        text(&o)
    );
    assert!(scratch_databases().await.is_empty());
    target()
        .execute(&db, "UPDATE db_migrate.run SET created_database = false")
        .await;

    // The cause fixed on the target: --clean rehearses cleanly in the database and migrates.
    target()
        .execute(
            &db,
            "DROP EXTENSION hstore CASCADE; DROP EXTENSION citext CASCADE;",
        )
        .await;
    let mut args = base.to_vec();
    args.extend(["--clean", "--dump-only", "--verify", "-v", "--json", "-"]);
    let o = pg_migrate(&args);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("schema rehearsed") && !stderr.contains("db_migrate_rehearsal_"),
        "rehearsed in the target database: {}",
        text(&o)
    );
    let v = json(&o);
    assert_eq!(v["databases"][0]["status"], "done", "{}", text(&o));
    assert_eq!(
        v["databases"][0]["verify"]["status"],
        "equal",
        "{}",
        text(&o)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_table_left_out_of_the_rehearsal_is_still_refused_for_an_extensions_name() {
    let _serial = support::cli::SERIAL.write().await;
    // A table of plain columns cannot fail, so the rehearsal leaves it out, but its name (its
    // row type's) is one the target's hstore took: checked once the rest is created.
    let db = source().create_database("rehearse_taken").await;
    source()
        .execute(
            &db,
            "CREATE TABLE public.ghstore (id integer PRIMARY KEY);
             CREATE TABLE public.free (id integer PRIMARY KEY);",
        )
        .await;
    target()
        .execute("postgres", &format!("CREATE DATABASE {}", quote_ident(&db)))
        .await;
    target().execute(&db, "CREATE EXTENSION hstore").await;
    let (src, tgt) = superuser_uris();
    let o = pg_migrate(&[
        "-s",
        &src,
        "-t",
        &tgt,
        "--only-db",
        &db,
        "--validate",
        "--json",
        "-",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let v = json(&o);
    let refusals: Vec<String> = v["validation"]["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["check"] == "rehearsal")
        .map(|f| f["message"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(refusals.len(), 1, "{refusals:#?}\n{}", text(&o));
    assert!(
        refusals[0].contains("table \"public\".\"ghstore\"") && refusals[0].contains("42710"),
        "{refusals:#?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn extensions_are_rehearsed_while_the_schema_is_read_and_what_needs_them_after() {
    let _serial = support::cli::SERIAL.write().await;
    // citext in a schema of its own and pg_trgm in `public`, each used by a table: the
    // rehearsal creates them (and the schema `ext`) before the rest of the source's schema is
    // read, and rehearses the rest after them. The one refusal (the target's hstore took the
    // name of the source's type `public.hstore`) is still found with its dependents.
    let db = source().create_database("rehearse_ext").await;
    source()
        .execute(
            &db,
            "CREATE SCHEMA ext; CREATE EXTENSION citext WITH SCHEMA ext;
             CREATE EXTENSION pg_trgm;
             CREATE TABLE public.emails (id integer PRIMARY KEY, e ext.citext);
             CREATE TABLE public.docs (id integer PRIMARY KEY, body text);
             CREATE INDEX docs_body ON public.docs USING gin (body gin_trgm_ops);
             CREATE TYPE public.hstore AS (k text, v text);
             CREATE TABLE public.kv (id integer PRIMARY KEY, p public.hstore);",
        )
        .await;
    target()
        .execute("postgres", &format!("CREATE DATABASE {}", quote_ident(&db)))
        .await;
    target().execute(&db, "CREATE EXTENSION hstore").await;
    let before = target_state(&db).await;
    let (src, tgt) = superuser_uris();
    let o = support::cli::pg_migrate_env(
        &[
            "-s",
            &src,
            "-t",
            &tgt,
            "--only-db",
            &db,
            "--validate",
            "--json",
            "-",
        ],
        &[(
            "DB_MIGRATE_LOG",
            "info,db_migrate_engine::preflight::rehearsal=debug",
        )],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("rehearsal: extensions created"),
        "the extensions were rehearsed first: {}",
        text(&o)
    );
    let v = json(&o);
    let refusals: Vec<String> = v["validation"]["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["check"] == "rehearsal")
        .map(|f| f["message"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(refusals.len(), 1, "{refusals:#?}\n{}", text(&o));
    let hstore = &refusals[0];
    assert!(
        hstore.contains("type \"public\".\"hstore\"") && hstore.contains("42710"),
        "{hstore}"
    );
    assert!(hstore.contains("table \"public\".\"kv\""), "{hstore}");
    assert_eq!(target_state(&db).await, before, "--validate wrote nothing");
}
