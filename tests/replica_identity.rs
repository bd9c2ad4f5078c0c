//! `--replica-identity-full` against real clusters, through the real `pg_migrate` binary: a
//! database with a table that has neither a primary key nor a replica identity migrates by
//! replication when the flag is given (its UPDATE and DELETE during replication arrive), the
//! source table is FULL while replication runs and back to its earlier setting after the
//! cut-over or `--cleanup` (each a separate invocation, as an operator runs them); `--validate`
//! shows what would be altered and alters nothing; a source user who does not own the table is
//! refused in preflight, naming it. Without the flag the database still goes by dump
//! (`tests/hardening.rs::tables_without_replica_identity_never_get_published`).

// Each module keeps its own copy of the harness, so its clusters are its own (as when every
// file was a test binary of its own).
#[path = "support/mod.rs"]
mod support;

use serde_json::Value;
use support::cli::{SERIAL, pg_migrate, text};
use support::{Cluster, quote_ident, source, target};

/// `relreplident` of `table` in `db` on `c` (`d`, `n`, `f` or `i`).
async fn replident(c: &Cluster, db: &str, table: &str) -> String {
    c.query_strings(
        db,
        &format!(
            "SELECT relreplident::text FROM pg_class WHERE oid = {}::regclass",
            support::quote_literal(table)
        ),
    )
    .await[0][0]
        .clone()
        .unwrap()
}

/// Rows of `table` in `db` on `c`, in order, as text.
async fn rows(c: &Cluster, db: &str, table: &str) -> Vec<String> {
    c.query_strings(
        db,
        &format!("SELECT t::text FROM {table} t ORDER BY t::text"),
    )
    .await
    .into_iter()
    .map(|r| r[0].clone().unwrap())
    .collect()
}

/// A source database holding a keyed table and two without identity (one DEFAULT without a
/// key, one NOTHING), with rows.
async fn keyless_database(prefix: &str) -> String {
    let db = source().create_database(prefix).await;
    source()
        .execute(
            &db,
            "CREATE TABLE keyed (id int PRIMARY KEY, v text);
             CREATE TABLE loose (a int, b text);
             CREATE TABLE \"Loose Nothing\" (a int, b text);
             ALTER TABLE \"Loose Nothing\" REPLICA IDENTITY NOTHING;
             INSERT INTO keyed SELECT g, 'k' || g FROM generate_series(1, 50) g;
             INSERT INTO loose SELECT g, 'l' || g FROM generate_series(1, 50) g;
             INSERT INTO \"Loose Nothing\" SELECT g, 'n' || g FROM generate_series(1, 5) g;",
        )
        .await;
    db
}

/// `pg_migrate -s SRC -t TGT --only-db db --json - <extra>` as the superusers; the run and its
/// JSON result.
fn migrate(db: &str, extra: &[&str]) -> (std::process::Output, Value) {
    let (s, t) = (
        source().superuser_uri("postgres"),
        target().superuser_uri("postgres"),
    );
    let mut args = vec!["-s", &s, "-t", &t, "--only-db", db, "--json", "-"];
    args.extend_from_slice(extra);
    let out = pg_migrate(&args);
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out)));
    (out, v)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_flag_a_keyless_table_replicates_and_the_cut_over_puts_its_identity_back() {
    let _turn = SERIAL.write().await;
    let db = keyless_database("rif cutover ").await;

    let (out, v) = migrate(&db, &["--replica-identity-full"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let entry = &v["databases"][0];
    assert_eq!(entry["method"], "replication", "{v}");
    assert_eq!(entry["status"], "running", "{v}");
    // FULL while replication runs, and the report says which tables and what it costs.
    assert_eq!(replident(source(), &db, "public.loose").await, "f");
    assert_eq!(
        replident(source(), &db, "public.\"Loose Nothing\"").await,
        "f"
    );
    assert_eq!(replident(source(), &db, "public.keyed").await, "d");
    let warnings = v["warnings"].to_string();
    assert!(
        warnings.contains("set REPLICA IDENTITY FULL on 2 tables")
            && warnings.contains("public.loose")
            && warnings.contains("whole old row to the WAL"),
        "{warnings}"
    );

    // The application's UPDATE and DELETE keep working on the source, and arrive.
    source()
        .execute(
            &db,
            "UPDATE loose SET b = b || '+' WHERE a % 3 = 0; DELETE FROM loose WHERE a > 40;
             UPDATE \"Loose Nothing\" SET b = 'changed' WHERE a = 1;
             DELETE FROM \"Loose Nothing\" WHERE a = 5; INSERT INTO loose VALUES (99, 'new')",
        )
        .await;

    // The cut-over, a separate invocation: it finds what was altered on the source.
    let (out, v) = migrate(&db, &["--max-replication-lag", "0", "--stop-replication"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let entry = &v["databases"][0];
    assert_eq!(entry["status"], "done", "{v}");
    let message = entry["message"].as_str().unwrap();
    assert!(
        message.contains("replica identity of 2 tables put back"),
        "{message}"
    );
    for table in ["public.loose", "public.\"Loose Nothing\"", "public.keyed"] {
        assert_eq!(
            rows(source(), &db, table).await,
            rows(target(), &db, table).await,
            "{table}"
        );
    }
    assert!(
        rows(target(), &db, "public.loose")
            .await
            .contains(&"(99,new)".to_string())
    );
    assert_eq!(replident(source(), &db, "public.loose").await, "d");
    assert_eq!(
        replident(source(), &db, "public.\"Loose Nothing\"").await,
        "n"
    );
    // The target kept the source's original settings all along.
    assert_eq!(replident(target(), &db, "public.loose").await, "d");
    assert!(
        source()
            .query_strings(&db, "SELECT 1 FROM pg_publication")
            .await
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cleanup_puts_identities_back_skipping_dropped_tables_and_leaving_changed_ones() {
    let _turn = SERIAL.write().await;
    let db = keyless_database("rif cleanup ").await;
    source()
        .execute(
            &db,
            "CREATE TABLE doomed (a int); CREATE TABLE touched (a int)",
        )
        .await;

    let (out, v) = migrate(&db, &["--replica-identity-full"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(v["databases"][0]["status"], "running", "{v}");
    assert_eq!(replident(source(), &db, "public.touched").await, "f");
    // Meanwhile one table is dropped and someone gives another an identity of their own.
    source()
        .execute(
            &db,
            "DROP TABLE doomed; CREATE UNIQUE INDEX touched_a ON touched (a);
             ALTER TABLE touched ALTER a SET NOT NULL;
             ALTER TABLE touched REPLICA IDENTITY USING INDEX touched_a",
        )
        .await;

    let (out, v) = migrate(&db, &["--cleanup"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let entry = &v["databases"][0];
    assert_eq!(entry["status"], "done", "{v}");
    let message = entry["message"].as_str().unwrap();
    assert!(
        message.contains("replica identity put back on")
            && message.contains("public.loose (DEFAULT)")
            && message.contains("\"Loose Nothing\" (NOTHING)"),
        "{message}"
    );
    let warnings = v["warnings"].to_string();
    assert!(
        warnings.contains("table public.doomed") && warnings.contains("dropped"),
        "{warnings}"
    );
    assert!(
        warnings.contains("public.touched") && warnings.contains("left as it is"),
        "{warnings}"
    );
    assert_eq!(replident(source(), &db, "public.loose").await, "d");
    assert_eq!(
        replident(source(), &db, "public.\"Loose Nothing\"").await,
        "n"
    );
    assert_eq!(replident(source(), &db, "public.touched").await, "i");

    // Once more: nothing is left to drop or put back.
    let (out, v) = migrate(&db, &["--cleanup"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        v["databases"][0]["message"], "no replication objects of an earlier run found",
        "{v}"
    );
    assert_eq!(replident(source(), &db, "public.loose").await, "d");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_shows_what_would_be_altered_and_a_non_owner_is_refused_naming_the_table() {
    let _turn = SERIAL.write().await;
    let src = source();
    let db = keyless_database("rif preflight ").await;
    let t = target().superuser_uri("postgres");

    // As the owner (a superuser): a warning names the tables; nothing is written.
    let s = src.superuser_uri("postgres");
    let out = pg_migrate(&[
        "-s",
        &s,
        "-t",
        &t,
        "--only-db",
        &db,
        "--validate",
        "--replica-identity-full",
        "--json",
        "-",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let findings = v["validation"]["findings"].to_string();
    assert!(
        findings.contains("will set REPLICA IDENTITY FULL on 2 tables")
            && findings.contains("public.loose"),
        "{findings}"
    );
    assert_eq!(replident(src, &db, "public.loose").await, "d");
    assert!(
        src.query_strings(&db, "SELECT 1 FROM pg_publication")
            .await
            .is_empty()
    );

    // As a user who may read but does not own the table: refused, naming table and owner.
    let (admin, pw) = src.create_admin("rif admin ", true).await;
    let owner = support::unique_name("rif owner ");
    src.execute(
        &db,
        &format!(
            "CREATE ROLE {o}; ALTER TABLE loose OWNER TO {o};
             ALTER TABLE \"Loose Nothing\" OWNER TO {a}; ALTER TABLE keyed OWNER TO {a};
             GRANT SELECT ON ALL TABLES IN SCHEMA public TO {a};
             GRANT CREATE ON DATABASE {d} TO {a}",
            o = quote_ident(&owner),
            a = quote_ident(&admin),
            d = quote_ident(&db)
        ),
    )
    .await;
    let s = src.uri(&admin, &pw, "postgres");
    let out = pg_migrate(&[
        "-s",
        &s,
        "-t",
        &t,
        "--only-db",
        &db,
        "--validate",
        "--replica-identity-full",
        "--json",
        "-",
    ]);
    assert_ne!(out.status.code(), Some(0), "{}", text(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let refusal = v["validation"]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| {
            f["severity"] == "error"
                && f["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("--replica-identity-full cannot"))
        })
        .unwrap_or_else(|| panic!("{v}"));
    let m = refusal["message"].as_str().unwrap();
    assert!(
        m.contains("public.loose") && m.contains(&owner) && m.contains("no table is altered"),
        "{m}"
    );
    // The table the user owns is not named: only the refused one.
    assert!(!m.contains("Loose Nothing"), "{m}");
    assert_eq!(replident(src, &db, "public.loose").await, "d");

    // As a member of the owner (a managed source's admin): the publication lists the tables
    // (no superuser for FOR ALL TABLES), created in the transaction that sets them FULL.
    src.execute(
        "postgres",
        &format!("GRANT {} TO {}", quote_ident(&owner), quote_ident(&admin)),
    )
    .await;
    let run = |extra: &[&str]| {
        let mut args = vec!["-s", &s, "-t", &t, "--only-db", &db, "--json", "-"];
        args.extend_from_slice(extra);
        pg_migrate(&args)
    };
    let out = run(&["--replica-identity-full"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let entry = &v["databases"][0];
    assert_eq!(entry["method"], "replication", "{v}");
    assert!(
        entry["message"].as_str().unwrap().contains("FOR TABLE"),
        "{v}"
    );
    assert_eq!(replident(src, &db, "public.loose").await, "f");
    let out = run(&["--cleanup"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(replident(src, &db, "public.loose").await, "d");
    assert_eq!(replident(src, &db, "public.\"Loose Nothing\"").await, "n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_setup_that_fails_after_setting_full_puts_the_identities_back() {
    use db_migrate::conn::ConnInfo;
    use db_migrate::pair::DbPair;
    use db_migrate::replication::{self, ReplicationOptions, RunFacts};

    let db = keyless_database("rif undo ").await;
    target()
        .execute("postgres", &format!("CREATE DATABASE {}", quote_ident(&db)))
        .await;
    let info = |c: &Cluster| ConnInfo::parse(&c.superuser_uri(&db)).expect("valid uri");
    let (src, tgt) = (info(source()), info(target()));
    let opts = ReplicationOptions {
        replica_identity_full: true,
        ..ReplicationOptions::default()
    };
    let e = replication::migrate_database(
        &DbPair::new(&src, &tgt, &db, Default::default()),
        &opts,
        RunFacts::default(),
        |_data| async {
            // By now the tables are FULL and recorded with the publication.
            assert_eq!(replident(source(), &db, "public.loose").await, "f");
            Err(db_migrate::Error::validation(
                "the initial copy failed (test)",
            ))
        },
    )
    .await
    .expect_err("the initial data step fails");
    assert!(e.to_string().contains("the initial copy failed"), "{e}");
    assert_eq!(replident(source(), &db, "public.loose").await, "d");
    assert_eq!(
        replident(source(), &db, "public.\"Loose Nothing\"").await,
        "n"
    );
    assert!(
        source()
            .query_strings(&db, "SELECT 1 FROM pg_publication")
            .await
            .is_empty()
    );
}
