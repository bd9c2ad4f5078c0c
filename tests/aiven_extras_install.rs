//! `aiven_extras` installed in the target database for the replication method, as the tool we
//! replace did (`CREATE EXTENSION aiven_extras CASCADE` in each target database): the target
//! user is neither a superuser nor a member of `pg_create_subscription`, the target server
//! offers the extension, and the subscription is created through it. When the server refuses
//! the installation, the database falls back to dump (fails with `--repl-only`) naming the
//! refusal.
//!
//! The target is a PostgreSQL 16 server of `.pg/16` run from a copy of that installation
//! (hard links, under `target/`) whose extension directory also holds our emulation of
//! aiven-extras (tests/fixtures/aiven_extras.sql, SQL only like the real one) as an available
//! extension, marked `trusted` so that a user with CREATE on the database may install it (Aiven
//! lets `avnadmin` install it through pgextwlist). No system directory is written: the share
//! directory of a distribution's PostgreSQL 15 is not ours, and `extension_control_path` exists
//! from 18 on only. Without `.pg/16` the test says SKIPPED loudly, a failure under
//! `DB_MIGRATE_REQUIRE_REGRESSION_DB=1` (CI).

// Each module keeps its own copy of the harness, so its clusters are its own (as when every
// file was a test binary of its own).
#[path = "support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use db_migrate::conn::ConnInfo;
use db_migrate::replication::ReplicationOptions;
use db_migrate::report::{Method, Severity};
use db_migrate::{DbStatus, MigrateOptions, migrate::PgMigrate};
use support::{Cluster, source};

const REQUIRE: &str = "DB_MIGRATE_REQUIRE_REGRESSION_DB";
const MAJOR: u32 = 16;

const CONTROL: &str = "\
comment = 'db-migrate test emulation of aiven-extras'
default_version = '1.0'
relocatable = false
schema = aiven_extras
superuser = true
trusted = true
";

/// The emulation as an extension script: `CREATE EXTENSION` makes the schema (the control
/// file names it) and an extension script may not create another extension; dblink is called
/// only by the function this test does not use.
fn extension_script() -> String {
    include_str!("fixtures/aiven_extras.sql")
        .lines()
        .filter(|l| {
            let l = l.trim();
            l != "CREATE EXTENSION IF NOT EXISTS dblink;"
                && l != "CREATE SCHEMA IF NOT EXISTS aiven_extras;"
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `.pg/16` copied (hard links where possible) into `target/aiven-extras-pg16` with the extension added, or
/// why not.
fn installation() -> Result<PathBuf, String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let original = root.join(".pg").join(MAJOR.to_string());
    if !original.join("bin/postgres").is_file() {
        return Err(format!(
            "no PostgreSQL {MAJOR} in {} (scripts/install-postgres.sh {MAJOR})",
            original.display()
        ));
    }
    let copy = root.join(format!("target/aiven-extras-pg{MAJOR}"));
    let ext = copy.join("share/postgresql/extension");
    let script = extension_script();
    let ready = std::fs::read_to_string(ext.join("aiven_extras--1.0.sql"))
        .is_ok_and(|s| s == script)
        && copy.join("bin/postgres").is_file();
    if !ready {
        let building = root.join(format!(
            "target/aiven-extras-pg{MAJOR}.{}",
            std::process::id()
        ));
        let from = original.canonicalize().map_err(|e| e.to_string())?;
        // Hard links where .pg/ and target/ share a file system (no space taken), else a copy.
        let mut failures = String::new();
        let copied = ["-al", "-a"].into_iter().any(|how| {
            let _ = std::fs::remove_dir_all(&building);
            match Command::new("cp")
                .arg(how)
                .arg(&from)
                .arg(&building)
                .output()
            {
                Ok(out) if out.status.success() => true,
                Ok(out) => {
                    failures.push_str(&format!(
                        "cp {how} {}: {}",
                        from.display(),
                        String::from_utf8_lossy(&out.stderr)
                    ));
                    false
                }
                Err(e) => {
                    failures.push_str(&format!("cannot run cp: {e}"));
                    false
                }
            }
        });
        if !copied {
            return Err(failures);
        }
        let ext_dir = building.join("share/postgresql/extension");
        std::fs::write(ext_dir.join("aiven_extras.control"), CONTROL)
            .and_then(|()| std::fs::write(ext_dir.join("aiven_extras--1.0.sql"), &script))
            .map_err(|e| format!("cannot write into {}: {e}", ext_dir.display()))?;
        let _ = std::fs::remove_dir_all(&copy);
        std::fs::rename(&building, &copy).map_err(|e| format!("cannot rename: {e}"))?;
    }
    Ok(copy.join("bin"))
}

/// The PostgreSQL 16 target offering aiven_extras (shared by this binary's tests, each in a
/// database of its own), or `None` after a loud SKIPPED.
fn extras_target(test: &str) -> Option<&'static Cluster> {
    static CLUSTER: OnceLock<Result<Cluster, String>> = OnceLock::new();
    let started =
        CLUSTER.get_or_init(|| installation().and_then(|bin| support::cluster_with_conf(&bin, "")));
    match started {
        Ok(c) => Some(c),
        Err(why) if std::env::var(REQUIRE).as_deref() == Ok("1") => {
            panic!("{test}: the aiven_extras target is required ({REQUIRE}=1) but: {why}")
        }
        Err(why) => {
            eprintln!("\n*** {test} SKIPPED: no PostgreSQL {MAJOR} target of our own ***\n{why}\n");
            None
        }
    }
}

fn conninfo(uri: &str) -> ConnInfo {
    ConnInfo::parse_with_env(uri, &|_| None).expect("test URI parses")
}

/// Replication-method options from the source's superuser to a new target admin as on a
/// managed service (CREATEDB CREATEROLE, not superuser, no pg_create_subscription), migrating
/// only `db` and no role.
async fn options(target: &Cluster, db: &str) -> MigrateOptions {
    let (admin, password) = target.create_admin("extras_admin", false).await;
    let roles: Vec<String> = source()
        .query_strings(
            "postgres",
            "SELECT rolname FROM pg_catalog.pg_roles WHERE rolname !~ '^pg_'",
        )
        .await
        .into_iter()
        .map(|r| r[0].clone().unwrap())
        .collect();
    MigrateOptions {
        source: conninfo(&source().superuser_uri("postgres")),
        target: conninfo(&target.uri(&admin, &password, "postgres")),
        only_dbs: vec![db.to_string()],
        excluded_roles: roles,
        force_method: Some(Method::Replication),
        replication: ReplicationOptions {
            replication_timeout: Duration::from_secs(120),
            poll_interval: Duration::from_millis(300),
            ..ReplicationOptions::default()
        },
        ..Default::default()
    }
}

async fn count(cluster: &Cluster, db: &str, sql: &str) -> String {
    cluster.query_strings(db, sql).await[0][0]
        .clone()
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aiven_extras_is_installed_in_the_target_database_when_only_it_can_subscribe() {
    let test = "aiven_extras_is_installed_in_the_target_database_when_only_it_can_subscribe";
    let Some(target) = extras_target(test) else {
        return;
    };
    let db = source().create_database("extras").await;
    source()
        .execute(
            &db,
            "CREATE TABLE public.items (id int PRIMARY KEY, name text); \
             INSERT INTO public.items SELECT g, 'item ' || g FROM generate_series(1, 500) g",
        )
        .await;
    let opts = options(target, &db).await;

    // Preflight says what it will do, and writes nothing.
    let report = PgMigrate::new(opts.clone()).validate().await;
    assert!(report.ok, "{:#?}", report.findings);
    let path: Vec<&str> = report
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Info && f.database.as_deref() == Some(db.as_str()))
        .map(|f| f.message.as_str())
        .collect();
    assert!(
        path.iter().any(|m| m.ends_with(
            "subscription via aiven_extras (CREATE EXTENSION aiven_extras CASCADE in the target \
             database first)"
        )),
        "{path:#?}"
    );

    let result = PgMigrate::new(opts.clone()).migrate().await;
    assert!(result.succeeded(), "{}", result.render_table());
    let d = &result.databases[0];
    assert_eq!(d.method, Some(Method::Replication), "{}", d.message);
    assert_eq!(d.status, DbStatus::Running, "{}", d.message);
    assert_eq!(
        count(
            target,
            &db,
            "SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'aiven_extras'"
        )
        .await,
        "1.0"
    );
    assert_eq!(
        count(
            target,
            &db,
            "SELECT count(*)::text FROM pg_catalog.pg_subscription s \
               JOIN pg_catalog.pg_database d ON d.oid = s.subdbid \
              WHERE d.datname = pg_catalog.current_database()"
        )
        .await,
        "1"
    );

    // Rows written meanwhile arrive; the cut-over drops the subscription through aiven_extras.
    source()
        .execute(
            &db,
            "INSERT INTO public.items SELECT g, 'late ' || g FROM generate_series(501, 520) g",
        )
        .await;
    let mut cut = opts;
    cut.replication.max_replication_lag = Some(0);
    cut.replication.stop_replication = true;
    let result = PgMigrate::new(cut).migrate().await;
    assert!(result.succeeded(), "{}", result.render_table());
    assert_eq!(result.databases[0].status, DbStatus::Done);
    assert_eq!(
        count(target, &db, "SELECT count(*)::text FROM public.items").await,
        "520"
    );
    assert_eq!(
        count(
            target,
            &db,
            "SELECT count(*)::text FROM pg_catalog.pg_subscription"
        )
        .await,
        "0"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_aiven_extras_install_falls_back_to_dump_naming_the_refusal() {
    let test = "a_refused_aiven_extras_install_falls_back_to_dump_naming_the_refusal";
    let Some(target) = extras_target(test) else {
        return;
    };
    // The source's own schema aiven_extras, copied by the schema stage, holds a type the
    // extension's script creates: CREATE EXTENSION then fails with duplicate_object.
    let db = source().create_database("extras_refused").await;
    source()
        .execute(
            &db,
            "CREATE SCHEMA aiven_extras; \
             CREATE TYPE aiven_extras.aiven_pg_subscription AS (x int); \
             CREATE TABLE public.items (id int PRIMARY KEY); \
             INSERT INTO public.items SELECT generate_series(1, 50)",
        )
        .await;
    let mut opts = options(target, &db).await;

    let forced = PgMigrate::new(opts.clone()).migrate().await;
    let d = &forced.databases[0];
    assert_eq!(d.status, DbStatus::Failed, "{}", forced.render_table());
    assert!(
        d.message
            .contains("installing aiven_extras in the target database failed: "),
        "{}",
        d.message
    );
    assert!(d.message.contains("already exists"), "{}", d.message);

    opts.force_method = None;
    opts.clean = true;
    let result = PgMigrate::new(opts).migrate().await;
    assert!(result.succeeded(), "{}", result.render_table());
    let d = &result.databases[0];
    assert_eq!(d.method, Some(Method::Dump), "{}", d.message);
    assert!(
        d.message
            .contains("installing aiven_extras in the target database failed: "),
        "the fallback says why: {}",
        d.message
    );
    assert_eq!(
        count(target, &db, "SELECT count(*)::text FROM public.items").await,
        "50"
    );
    assert_eq!(
        count(
            target,
            &db,
            "SELECT count(*)::text FROM pg_catalog.pg_extension WHERE extname = 'aiven_extras'"
        )
        .await,
        "0"
    );
}
