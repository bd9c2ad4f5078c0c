//! A source database's own subscriptions (issue 37): migrated like pg_dump migrates them,
//! created disabled and without a slot (`connect = false`) with their options, owner and
//! comment, and a warning that names them and says what to do; one warning when the source
//! user may not read their connection strings; skipped with a warning where the target
//! refuses them; and their connection string's password never printed anywhere.

// Each module keeps its own copy of the harness, so its clusters are its own (as when every
// file was a test binary of its own).
#[path = "support/mod.rs"]
mod support;

use db_migrate::conn::ConnInfo;
use db_migrate::schema::SchemaOptions;
use db_migrate::{DbStatus, MigrateOptions, migrate::PgMigrate};
use serde_json::Value;
use support::cli::{pg_migrate, text};
use support::oracle::{METHODS, assert_roundtrip_by};
use support::{source, target};

/// What the test subscriptions' connection strings hold as password: it must never be printed.
const SECRET: &str = "Sub-Secret-pw-8d2f";

/// A database of the source cluster publishing one table twice: what the subscriptions name
/// (they never connect to it: `connect = false`).
async fn publisher() -> String {
    let db = source().create_database("subs publisher ").await;
    source()
        .execute(
            &db,
            "CREATE TABLE t (id int PRIMARY KEY); CREATE PUBLICATION feed FOR TABLE t; \
             CREATE PUBLICATION \"other pub\" FOR TABLE t;",
        )
        .await;
    db
}

/// A subscription `"sub ""one"""` to `publisher`'s two publications, with every option the
/// source's major has set away from its default, a comment and an owner of its own (a
/// superuser: before PostgreSQL 16 only a superuser may own one).
fn fixture(publisher: &str) -> String {
    let major = source().major;
    let mut options = vec!["connect = false", "slot_name = 'sub_slot'"];
    if major >= 14 {
        options.extend(["binary = true", "streaming = on"]);
    }
    if major >= 15 {
        options.extend(["two_phase = true", "disable_on_error = true"]);
    }
    if major >= 16 {
        options.push("origin = none");
    }
    options.push("synchronous_commit = 'remote_apply'");
    let conninfo = format!(
        "host=127.0.0.1 port={} dbname='{}' user=nobody password={SECRET}",
        source().port,
        publisher.replace('\\', "\\\\").replace('\'', "\\'")
    );
    format!(
        "DO $$ BEGIN
             IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'subs_owner') THEN
                 CREATE ROLE subs_owner SUPERUSER;
             END IF;
         END $$;
         CREATE SUBSCRIPTION \"sub \"\"one\"\"\" CONNECTION {} PUBLICATION feed, \"other pub\"
             WITH ({});
         COMMENT ON SUBSCRIPTION \"sub \"\"one\"\"\" IS 'pulls the feed';
         ALTER SUBSCRIPTION \"sub \"\"one\"\"\" OWNER TO subs_owner;",
        support::quote_literal(&conninfo),
        options.join(", ")
    )
}

/// `name enabled slot owner` of each subscription of `db` on `c`.
async fn subscriptions(c: &support::Cluster, db: &str) -> Vec<String> {
    c.query_strings(
        db,
        "SELECT s.subname || ' ' || s.subenabled || ' ' || coalesce(s.subslotname::text, '-') \
                || ' ' || pg_get_userbyid(s.subowner) \
           FROM pg_subscription s JOIN pg_database d ON d.oid = s.subdbid \
          WHERE d.datname = current_database() ORDER BY 1",
    )
    .await
    .into_iter()
    .map(|r| r[0].clone().unwrap())
    .collect()
}

fn options(source_uri: String, db: &str) -> MigrateOptions {
    MigrateOptions {
        source: ConnInfo::parse(&source_uri).unwrap(),
        target: ConnInfo::parse(&target().superuser_uri("postgres")).unwrap(),
        only_dbs: vec![db.to_string()],
        schema_only: true,
        ..Default::default()
    }
}

/// pg_dump's schema of the target equals the source's (options, publications, owner,
/// comment), by both methods; the copy is disabled where the source's runs, with the same slot
/// name and no slot made, and one warning names it and says how to enable it.
#[tokio::test(flavor = "multi_thread")]
async fn a_subscription_arrives_disabled_with_its_options_owner_and_comment() {
    let publisher = publisher().await;
    let fixture = fixture(&publisher);
    for method in METHODS {
        let db = assert_roundtrip_by(&fixture, method).await;
        assert_eq!(
            subscriptions(target(), &db).await,
            vec!["sub \"one\" false sub_slot subs_owner"],
            "{method:?}"
        );
    }

    // Enabled on the source (its worker finds no slot and retries: nothing depends on it).
    let db = source().create_database("subs enabled ").await;
    source().execute(&db, &fixture).await;
    source()
        .execute(&db, "ALTER SUBSCRIPTION \"sub \"\"one\"\"\" ENABLE")
        .await;
    let result = PgMigrate::new(options(source().superuser_uri("postgres"), &db))
        .migrate()
        .await;
    assert!(result.succeeded(), "{}", result.to_json());
    assert_eq!(
        subscriptions(target(), &db).await,
        vec!["sub \"one\" false sub_slot subs_owner"]
    );
    let said: Vec<&str> = result
        .warnings
        .iter()
        .filter(|w| w.message.contains("created disabled"))
        .map(|w| w.message.as_str())
        .collect();
    assert_eq!(said.len(), 1, "{}", result.to_json());
    assert!(
        said[0].contains("\"sub \"\"one\"\"\"") && said[0].contains("ENABLE"),
        "{}",
        said[0]
    );
    assert!(!result.to_json().contains(SECRET), "{}", result.to_json());
    let slots = target()
        .query_strings("postgres", "SELECT slot_name FROM pg_replication_slots")
        .await;
    assert!(
        !slots.iter().any(|r| r[0].as_deref() == Some("sub_slot")),
        "{slots:?}"
    );
}

/// `--no-subscriptions` leaves them all out, and says nothing about them.
#[tokio::test(flavor = "multi_thread")]
async fn no_subscriptions_leaves_them_out() {
    let publisher = publisher().await;
    let db = source().create_database("subs none ").await;
    source().execute(&db, &fixture(&publisher)).await;
    let mut opts = options(source().superuser_uri("postgres"), &db);
    opts.schema = SchemaOptions {
        no_subscriptions: true,
        ..Default::default()
    };
    let result = PgMigrate::new(opts).migrate().await;
    assert!(result.succeeded(), "{}", result.to_json());
    assert!(subscriptions(target(), &db).await.is_empty());
    assert!(
        !result.to_json().contains("subscription"),
        "{}",
        result.to_json()
    );
}

/// A source user that is not a superuser may not read `subconninfo`: nothing is migrated of
/// them, and one warning names them (pg_dump: "subscriptions not dumped because current user
/// is not a superuser").
#[tokio::test(flavor = "multi_thread")]
async fn a_source_user_that_may_not_read_them_gets_one_warning_naming_them() {
    let publisher = publisher().await;
    let db = source().create_database("subs unreadable ").await;
    source().execute(&db, &fixture(&publisher)).await;
    source()
        .execute(
            &db,
            "CREATE SUBSCRIPTION second CONNECTION 'dbname=nowhere' PUBLICATION feed \
             WITH (connect = false)",
        )
        .await;
    let (admin, pw) = source().create_admin("subs reader ", false).await;
    let result = PgMigrate::new(options(source().uri(&admin, &pw, "postgres"), &db))
        .migrate()
        .await;
    let entry = result.databases.iter().find(|d| d.dbname == db).unwrap();
    assert_eq!(entry.status, DbStatus::Done, "{}", result.to_json());
    assert!(subscriptions(target(), &db).await.is_empty());
    let said: Vec<&str> = result
        .warnings
        .iter()
        .filter(|w| w.message.contains("subscription"))
        .map(|w| w.message.as_str())
        .collect();
    assert_eq!(said.len(), 1, "{}", result.to_json());
    assert!(
        said[0].contains("not a superuser") && said[0].contains("\"second\", \"sub \"\"one\"\"\""),
        "{}",
        said[0]
    );
}

/// A target user that may not create subscriptions (not a superuser): the rehearsal and the
/// run skip it with a warning, the database is done, and the connection string's password is
/// in no line of the output, the log (-vv) or the JSON report.
#[tokio::test(flavor = "multi_thread")]
async fn a_target_that_refuses_skips_it_and_never_shows_the_password() {
    let publisher = publisher().await;
    let db = source().create_database("subs refused ").await;
    source().execute(&db, &fixture(&publisher)).await;
    source()
        .execute(
            &db,
            "CREATE TABLE kept (id int PRIMARY KEY); INSERT INTO kept VALUES (1)",
        )
        .await;
    let (admin, pw) = target().create_admin("subs admin ", false).await;
    let o = pg_migrate(&[
        "-s",
        &source().superuser_uri("postgres"),
        "-t",
        &target().uri(&admin, &pw, "postgres"),
        "--only-db",
        &db,
        "--dump-only",
        "--no-owner",
        "--no-acl",
        "-vv",
        "--json",
        "-",
    ]);
    let all = text(&o);
    assert_eq!(o.status.code(), Some(0), "{all}");
    assert!(!all.contains(SECRET), "the password is printed:\n{all}");
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["databases"][0]["status"], "done", "{v}");
    let warnings = v["warnings"].to_string();
    assert!(
        warnings.contains("skipped subscription \\\"sub \\\"\\\"one\\\"\\\"\\\"")
            && warnings.contains("lacks the privilege"),
        "{warnings}"
    );
    assert!(!warnings.contains("created disabled"), "{warnings}");
    assert!(subscriptions(target(), &db).await.is_empty());
    let rows = target()
        .query_strings(&db, "SELECT count(*) FROM kept")
        .await;
    assert_eq!(rows[0][0].as_deref(), Some("1"));
}
