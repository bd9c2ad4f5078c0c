//! Aiven's superuser gatekeeper on a real server: a PostgreSQL 15 target that preloads our
//! emulation of `aiven_gatekeeper` (tests/fixtures/aiven_gatekeeper/, built with pgxs by
//! `scripts/test-module.sh` and loaded by absolute path), whose reserved roles are
//! [`RESERVED`] and `postgres`.
//!
//! Promised: a source superuser role outside the reserved list fails preflight with an error
//! naming it and the `-xr` that leaves it out, and nothing is written; left out with `-xr`, the
//! migration passes; a reserved superuser role is created with `rolsuper`; a non-superuser
//! target user, who may not read `shared_preload_libraries` nor the reserved list, still sees
//! the gatekeeper (by its settings) and counts no role as reserved.
//!
//! When pgxs or a compiler is missing, the tests say SKIPPED loudly and pass, unless
//! `DB_MIGRATE_REQUIRE_REGRESSION_DB=1` (set by `.ci/run`), where that is a failure.
//!
//! The source cluster is this binary's own, shared by its tests: each test creates uniquely
//! named roles and a database of its own and leaves every other role and database out. The
//! roles left out are read when a test builds its options, so the tests that create source
//! roles and migrate take [`ROLES`] from creating them until their migration ends: another
//! test's superuser created in between would otherwise be migrated too (and refused).

// Each module keeps its own copy of the harness, so its clusters are its own (as when every
// file was a test binary of its own).
#[path = "support/mod.rs"]
mod support;

use std::collections::HashSet;
use std::path::Path;
use std::sync::OnceLock;

use db_migrate::catalog::server::server_facts;
use db_migrate::conn::{ConnInfo, connect};
use db_migrate::options::RunMode;
use db_migrate::report::{Method, RoleStatus, Severity};
use db_migrate::{DbStatus, MigrateOptions, migrate::PgMigrate};
use support::{Cluster, quote_ident, source, unique_name};

const REQUIRE: &str = "DB_MIGRATE_REQUIRE_REGRESSION_DB";
const SERVER_BIN: &str = "/usr/lib/postgresql/15/bin";
/// The superuser role name the gatekeeper cluster reserves (besides `postgres`).
const RESERVED: &str = "gk_reserved_su";
/// Held by a test from creating its source roles until its migration ends (see the module
/// documentation).
static ROLES: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The gatekeeper target, started on first use; `None` (after a loud SKIPPED) when the module
/// cannot be built here and CI does not require it.
fn gatekeeper_target(test: &str) -> Option<&'static Cluster> {
    static CLUSTER: OnceLock<Result<Cluster, String>> = OnceLock::new();
    let started = CLUSTER.get_or_init(|| {
        if !Path::new(SERVER_BIN).join("postgres").is_file() {
            return Err(format!("no PostgreSQL 15 server in {SERVER_BIN}"));
        }
        let module = support::test_module("aiven_gatekeeper")?;
        let conf = format!(
            "shared_preload_libraries = '{}'\n\
             aiven.pg_security_agent_reserved_roles = '{RESERVED},postgres'\n",
            module.display().to_string().replace('\'', "''")
        );
        support::cluster_with_conf(Path::new(SERVER_BIN), &conf)
    });
    match started {
        Ok(c) => Some(c),
        Err(why) if std::env::var(REQUIRE).as_deref() == Ok("1") => {
            panic!("{test}: the gatekeeper target is required ({REQUIRE}=1) but: {why}")
        }
        Err(why) => {
            eprintln!(
                "\n*** {test} SKIPPED: no aiven_gatekeeper emulation on this machine ***\n{why}\n"
            );
            None
        }
    }
}

fn conninfo(uri: &str) -> ConnInfo {
    ConnInfo::parse_with_env(uri, &|_| None).expect("test URI parses")
}

/// Every role name of `cluster`.
async fn role_names(cluster: &Cluster) -> HashSet<String> {
    cluster
        .query_strings("postgres", "SELECT rolname FROM pg_catalog.pg_roles")
        .await
        .into_iter()
        .map(|r| r[0].clone().unwrap())
        .collect()
}

/// Dump-method options migrating only `db` and only the source roles in `mine` (every other
/// non-predefined role is left out, as another test's roles would be).
async fn options(target: &Cluster, db: &str, mine: &[&str]) -> MigrateOptions {
    let mine: HashSet<&str> = mine.iter().copied().collect();
    MigrateOptions {
        source: conninfo(&source().superuser_uri("postgres")),
        target: conninfo(&target.superuser_uri("postgres")),
        only_dbs: vec![db.to_string()],
        excluded_roles: role_names(source())
            .await
            .into_iter()
            .filter(|n| !mine.contains(n.as_str()) && !n.starts_with("pg_") && n != "postgres")
            .collect(),
        force_method: Some(Method::Dump),
        ..Default::default()
    }
}

/// A source database holding one table of three rows, owned by `owner`.
async fn source_database(owner: &str) -> String {
    let db = source().create_database("gk").await;
    source()
        .execute(
            &db,
            &format!(
                "CREATE TABLE public.items (id int PRIMARY KEY, name text); \
                 INSERT INTO public.items VALUES (1, 'a'), (2, 'b'), (3, 'c'); \
                 ALTER TABLE public.items OWNER TO {}",
                quote_ident(owner)
            ),
        )
        .await;
    db
}

async fn database_exists(cluster: &Cluster, db: &str) -> bool {
    !cluster
        .query_strings(
            "postgres",
            &format!(
                "SELECT 1 FROM pg_catalog.pg_database WHERE datname = {}",
                support::quote_literal(db)
            ),
        )
        .await
        .is_empty()
}

#[tokio::test]
async fn the_emulated_gatekeeper_refuses_unreserved_superusers_even_to_a_superuser() {
    let Some(target) = gatekeeper_target("the_emulated_gatekeeper_refuses_...") else {
        return;
    };
    let client = target.connect("postgres").await;
    let name = unique_name("gk_direct");
    let err = client
        .batch_execute(&format!("CREATE ROLE {} SUPERUSER", quote_ident(&name)))
        .await
        .expect_err("the gatekeeper refuses an unreserved superuser");
    let db = err.as_db_error().expect("a server error");
    assert_eq!(db.code().code(), "42501");
    assert!(
        db.message()
            .contains("Role not in permitted superuser list"),
        "{}",
        db.message()
    );
    client
        .batch_execute(&format!(
            "CREATE ROLE {0} NOSUPERUSER; ALTER ROLE {0} NOSUPERUSER",
            quote_ident(&name)
        ))
        .await
        .expect("roles without SUPERUSER are not refused");
    let err = client
        .batch_execute(&format!("ALTER ROLE {} SUPERUSER", quote_ident(&name)))
        .await
        .expect_err("ALTER ROLE ... SUPERUSER is refused too");
    assert_eq!(err.code().map(|c| c.code()), Some("42501"));
    client
        .batch_execute(&format!("DROP ROLE {}", quote_ident(&name)))
        .await
        .unwrap();
}

#[tokio::test]
async fn an_unreserved_superuser_role_fails_preflight_naming_it_and_the_xr_fix_and_nothing_is_written()
 {
    let Some(target) = gatekeeper_target("an_unreserved_superuser_role_fails_preflight...") else {
        return;
    };
    let roles = ROLES.lock().await;
    let su = unique_name("gk_su");
    let app = unique_name("gk_app");
    source()
        .execute(
            "postgres",
            &format!(
                "CREATE ROLE {} SUPERUSER; CREATE ROLE {} LOGIN",
                quote_ident(&su),
                quote_ident(&app)
            ),
        )
        .await;
    let db = source_database(&app).await;
    let opts = options(target, &db, &[&su, &app]).await;

    let result = PgMigrate::new(opts.clone()).migrate().await;
    drop(roles);

    assert!(!result.succeeded());
    let errors: Vec<&str> = result
        .validation
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .map(|f| f.message.as_str())
        .collect();
    let gk: Vec<&&str> = errors
        .iter()
        .filter(|m| m.starts_with("Some superuser roles from source database"))
        .collect();
    assert_eq!(gk.len(), 1, "one gatekeeper error: {errors:#?}");
    assert!(gk[0].contains(&format!("(\"{su}\")")), "{}", gk[0]);
    assert!(gk[0].contains(&format!("-xr {su}")), "{}", gk[0]);
    assert!(
        gk[0].contains(&format!("it reserves {RESERVED}, postgres")),
        "{}",
        gk[0]
    );
    // Named once: not also among the roles the target user cannot create.
    assert!(
        result
            .validation
            .findings
            .iter()
            .filter(|f| f.message.contains(&su))
            .count()
            == 1,
        "{:#?}",
        result.validation.findings
    );
    assert!(result.roles.is_empty(), "{:?}", result.roles);
    let on_target = role_names(target).await;
    assert!(!on_target.contains(&su) && !on_target.contains(&app));
    assert!(!database_exists(target, &db).await, "nothing is written");

    // --cleanup creates no role, so the gatekeeper does not stand in its way.
    let cleanup = MigrateOptions {
        mode: RunMode::Cleanup,
        ..opts
    };
    let report = PgMigrate::new(cleanup).validate().await;
    assert!(
        !report
            .findings
            .iter()
            .any(|f| f.message.starts_with("Some superuser roles")),
        "{:#?}",
        report.findings
    );
}

#[tokio::test]
async fn an_unreserved_superuser_left_out_with_xr_passes_and_a_reserved_one_is_created_as_superuser()
 {
    let Some(target) = gatekeeper_target("an_unreserved_superuser_left_out_with_xr...") else {
        return;
    };
    let roles = ROLES.lock().await;
    let su = unique_name("gk_su_x");
    let app = unique_name("gk_app_x");
    source()
        .execute(
            "postgres",
            &format!(
                "CREATE ROLE {} SUPERUSER; CREATE ROLE {} SUPERUSER; CREATE ROLE {} LOGIN",
                quote_ident(&su),
                quote_ident(RESERVED),
                quote_ident(&app)
            ),
        )
        .await;
    let db = source_database(&app).await;
    let mut opts = options(target, &db, &[RESERVED, &app]).await;
    assert!(opts.excluded_roles.contains(&su), "-xr {su}");

    let result = PgMigrate::new(opts.clone()).validate().await;
    assert!(result.ok, "{:#?}", result.findings);

    opts.excluded_roles.retain(|r| r != RESERVED);
    let result = PgMigrate::new(opts).migrate().await;
    drop(roles);
    assert!(result.succeeded(), "{}", result.render_table());
    for name in [RESERVED, app.as_str()] {
        let r = result.roles.iter().find(|r| r.rolname == name);
        assert_eq!(
            r.map(|r| r.status),
            Some(RoleStatus::Created),
            "{name}: {:?}",
            result.roles
        );
    }
    assert!(!result.roles.iter().any(|r| r.rolname == su));
    let rolsuper = target
        .query_strings(
            "postgres",
            &format!(
                "SELECT rolsuper::text FROM pg_catalog.pg_roles WHERE rolname = {}",
                support::quote_literal(RESERVED)
            ),
        )
        .await;
    assert_eq!(rolsuper, vec![vec![Some("true".to_string())]]);
    assert!(!role_names(target).await.contains(&su));
    assert_eq!(result.databases.len(), 1);
    assert_eq!(result.databases[0].status, DbStatus::Done);
    let rows = target
        .query_strings(&db, "SELECT count(*)::text FROM public.items")
        .await;
    assert_eq!(rows, vec![vec![Some("3".to_string())]]);
}

#[tokio::test]
async fn a_non_superuser_sees_the_gatekeeper_by_its_settings_but_not_the_reserved_roles() {
    let Some(target) = gatekeeper_target("a_non_superuser_sees_the_gatekeeper...") else {
        return;
    };
    let superuser = connect(&conninfo(&target.superuser_uri("postgres")), None)
        .await
        .unwrap();
    let facts = server_facts(&superuser).await.unwrap();
    let g = facts.gatekeeper.expect("the superuser sees the gatekeeper");
    assert_eq!(
        g.reserved_roles,
        Some(vec![RESERVED.to_string(), "postgres".to_string()])
    );

    let (admin, password) = target.create_admin("gk_admin", false).await;
    let session = connect(&conninfo(&target.uri(&admin, &password, "postgres")), None)
        .await
        .unwrap();
    let facts = server_facts(&session).await.unwrap();
    assert!(!facts.is_superuser);
    let g = facts
        .gatekeeper
        .expect("seen by aiven.pg_security_agent without shared_preload_libraries");
    assert_eq!(g.reserved_roles, None);
}
