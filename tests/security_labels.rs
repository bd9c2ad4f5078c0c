//! Security labels on real servers: a PostgreSQL 15 source and target that preload a test label
//! provider (tests/fixtures/test_seclabel/, provider `db_migrate_test`, built with pgxs by
//! `scripts/test-module.sh` and loaded by absolute path), and the ordinary target, which has no
//! such provider.
//!
//! Promised: every label (on a table, a column, a view, a sequence, a function, a type, a
//! schema, a large object, the database and a role) arrives where the target has the provider, exactly as on the
//! source; where it does not, the database is still done and each label is a warning naming it
//! and the server's reason.
//!
//! When pgxs or a compiler is missing, the tests say SKIPPED loudly and pass, unless
//! `DB_MIGRATE_REQUIRE_REGRESSION_DB=1` (set by `.ci/run`), where that is a failure.

// Each module keeps its own copy of the harness, so its clusters are its own (as when every
// file was a test binary of its own).
#[path = "support/mod.rs"]
mod support;

use std::path::Path;
use std::sync::OnceLock;

use db_migrate::conn::ConnInfo;
use db_migrate::report::Method;
use db_migrate::{DbStatus, MigrateOptions, migrate::PgMigrate};
use support::{Cluster, quote_ident, target};

const REQUIRE: &str = "DB_MIGRATE_REQUIRE_REGRESSION_DB";
const SERVER_BIN: &str = "/usr/lib/postgresql/15/bin";

/// A cluster preloading the label provider (`which` only tells the two apart); `None` (after a
/// loud SKIPPED) when the module cannot be built here and CI does not require it.
fn labelled(which: usize, test: &str) -> Option<&'static Cluster> {
    static CLUSTERS: [OnceLock<Result<Cluster, String>>; 2] = [OnceLock::new(), OnceLock::new()];
    let started = CLUSTERS[which].get_or_init(|| {
        if !Path::new(SERVER_BIN).join("postgres").is_file() {
            return Err(format!("no PostgreSQL 15 server in {SERVER_BIN}"));
        }
        let module = support::test_module("test_seclabel")?;
        let conf = format!(
            "shared_preload_libraries = '{}'\n",
            module.display().to_string().replace('\'', "''")
        );
        support::cluster_with_conf(Path::new(SERVER_BIN), &conf)
    });
    match started {
        Ok(c) => Some(c),
        Err(why) if std::env::var(REQUIRE).as_deref() == Ok("1") => {
            panic!("{test}: the label provider is required ({REQUIRE}=1) but: {why}")
        }
        Err(why) => {
            eprintln!("\n*** {test} SKIPPED: no test label provider on this machine ***\n{why}\n");
            None
        }
    }
}

fn options(src: &Cluster, tgt: &Cluster, db: &str) -> MigrateOptions {
    MigrateOptions {
        source: ConnInfo::parse(&src.superuser_uri("postgres")).unwrap(),
        target: ConnInfo::parse(&tgt.superuser_uri("postgres")).unwrap(),
        only_dbs: vec![db.to_string()],
        force_method: Some(Method::Dump),
        ..Default::default()
    }
}

/// A source database with labels on objects of every kind db-migrate carries them for.
async fn labelled_source(src: &Cluster) -> String {
    let db = src.create_database("labels").await;
    src.execute(
        &db,
        "CREATE SCHEMA crm;
         CREATE TABLE crm.customer (id int PRIMARY KEY, email text, \"Odd Col\" text);
         INSERT INTO crm.customer VALUES (1, 'a@example.com', 'x');
         CREATE VIEW crm.v AS SELECT id FROM crm.customer;
         CREATE SEQUENCE crm.s;
         CREATE FUNCTION crm.f(x int) RETURNS int LANGUAGE sql AS 'select x';
         CREATE TYPE crm.mood AS ENUM ('ok');
         SECURITY LABEL FOR db_migrate_test ON SCHEMA crm IS 'schema label';
         SECURITY LABEL FOR db_migrate_test ON TABLE crm.customer IS 'confidential';
         SECURITY LABEL FOR db_migrate_test ON COLUMN crm.customer.email
             IS 'MASKED WITH FUNCTION anon.fake_email()';
         SECURITY LABEL FOR db_migrate_test ON COLUMN crm.customer.\"Odd Col\" IS 'it''s odd';
         SECURITY LABEL FOR db_migrate_test ON VIEW crm.v IS 'view label';
         SECURITY LABEL FOR db_migrate_test ON SEQUENCE crm.s IS 'sequence label';
         SECURITY LABEL FOR db_migrate_test ON FUNCTION crm.f(int) IS 'function label';
         SECURITY LABEL FOR db_migrate_test ON TYPE crm.mood IS 'type label';
         DO $$ BEGIN
           EXECUTE pg_catalog.format(
             'SECURITY LABEL FOR db_migrate_test ON LARGE OBJECT %s IS %L',
             pg_catalog.lo_from_bytea(0, 'scan'), 'large object label');
         END $$;",
    )
    .await;
    src.execute(
        "postgres",
        &format!(
            "SECURITY LABEL FOR db_migrate_test ON DATABASE {db} IS 'database label';
             CREATE ROLE {r};
             SECURITY LABEL FOR db_migrate_test ON ROLE {r} IS 'MASKED';",
            db = quote_ident(&db),
            r = quote_ident(&role_of(&db)),
        ),
    )
    .await;
    db
}

/// The role [`labelled_source`] labels, one per database (roles are the whole cluster's).
fn role_of(db: &str) -> String {
    format!("{db}_masked")
}

/// Every label of `db` (and of the database itself) as `objtype objname provider label`.
async fn labels(c: &Cluster, db: &str) -> Vec<String> {
    c.query_strings(
        db,
        "SELECT objtype || ' ' || objname || ' ' || provider || ' ' || label \
           FROM pg_catalog.pg_seclabels \
          WHERE objtype NOT IN ('database', 'role') \
             OR objtype = 'database' AND objname = pg_catalog.quote_ident(pg_catalog.current_database()) \
             OR objtype = 'role' AND objname = pg_catalog.quote_ident(pg_catalog.current_database() || '_masked') \
          ORDER BY 1",
    )
    .await
    .into_iter()
    .map(|r| r[0].clone().unwrap_or_default())
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn labels_arrive_where_the_target_has_the_provider() {
    let test = "labels_arrive_where_the_target_has_the_provider";
    let (Some(src), Some(tgt)) = (labelled(0, test), labelled(1, test)) else {
        return;
    };
    let db = labelled_source(src).await;
    let result = PgMigrate::new(options(src, tgt, &db)).migrate().await;
    let entry = result.databases.iter().find(|d| d.dbname == db).unwrap();
    assert_eq!(entry.status, DbStatus::Done, "{}", result.to_json());
    assert!(
        !result
            .warnings
            .iter()
            .any(|w| w.message.contains("security label")),
        "{:?}",
        result.warnings
    );
    let expected = labels(src, &db).await;
    assert_eq!(expected.len(), 11, "{expected:?}");
    assert_eq!(labels(tgt, &db).await, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_provider_each_label_is_a_warning_and_the_database_is_done() {
    let test = "without_the_provider_each_label_is_a_warning_and_the_database_is_done";
    let Some(src) = labelled(0, test) else {
        return;
    };
    let tgt = target();
    let db = labelled_source(src).await;
    let result = PgMigrate::new(options(src, tgt, &db)).migrate().await;
    let entry = result.databases.iter().find(|d| d.dbname == db).unwrap();
    assert_eq!(entry.status, DbStatus::Done, "{}", result.to_json());
    let refused: Vec<String> = result
        .warnings
        .iter()
        .map(|w| w.to_string())
        .filter(|w| w.contains("security label") && w.contains("not applied"))
        // Roles are the cluster's: the other test's labelled role comes along too.
        .filter(|w| !w.contains("_masked") || w.contains(&role_of(&db)))
        .collect();
    // Every label (the database's, the role's and the large object's too) is named, with the
    // server's reason.
    assert_eq!(refused.len(), 11, "{refused:#?}");
    assert!(
        refused.iter().all(|w| w.contains("db_migrate_test")),
        "{refused:#?}"
    );
    assert!(
        refused
            .iter()
            .any(|w| w.contains("on table column crm.customer.email")),
        "{refused:#?}"
    );
    assert_eq!(
        tgt.query_strings(&db, "SELECT count(*) FROM crm.customer")
            .await[0][0]
            .as_deref(),
        Some("1"),
        "the data came along"
    );
}
