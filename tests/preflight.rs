//! Preflight on real clusters: each check passing and failing.
//!
//! The clusters are shared by every test of this binary and the tests run in parallel, so each
//! test creates its own uniquely named databases and roles, leaves every database that existed
//! before it out with `filtered_dbs` (databases other tests create meanwhile may still be
//! probed), and asserts only on findings about its own databases or roles, or on global
//! findings that nothing else can cause.
//!
//! Some cases need two different majors (a target older than the source, an extension the
//! target does not ship): run with e.g. `PG_SOURCE_VERSION=16 PG_TARGET_VERSION=13`. With equal
//! majors those tests print a note and check only the passing side.

// Each module keeps its own copy of the harness, so its clusters are its own (as when every
// file was a test binary of its own).
#[path = "support/mod.rs"]
mod support;

use std::collections::HashSet;

use db_migrate::conn::ConnInfo;
use db_migrate::options::MigrateOptions;
use db_migrate::report::{Finding, Severity, ValidationReport};
use db_migrate::validate::Preflight;
use support::{Cluster, quote_ident, source, target};

fn conninfo(uri: &str) -> ConnInfo {
    ConnInfo::parse_with_env(uri, &|_| None).expect("test URI parses")
}

/// Every database name of `cluster` except `keep`: what a test filters out.
async fn others(cluster: &Cluster, keep: &[&str]) -> Vec<String> {
    let keep: HashSet<&str> = keep.iter().copied().collect();
    cluster
        .query_strings("postgres", "SELECT datname FROM pg_catalog.pg_database")
        .await
        .into_iter()
        .map(|r| r[0].clone().unwrap())
        .filter(|n| !keep.contains(n.as_str()))
        .collect()
}

/// Options from `source_uri` to `target_uri` with every source database but `mine` filtered.
async fn options(source_uri: &str, target_uri: &str, mine: &[&str]) -> MigrateOptions {
    MigrateOptions {
        source: conninfo(source_uri),
        target: conninfo(target_uri),
        filtered_dbs: others(source(), mine).await,
        ..Default::default()
    }
}

fn superusers() -> (String, String) {
    (
        source().superuser_uri("postgres"),
        target().superuser_uri("postgres"),
    )
}

fn find<'a>(
    r: &'a ValidationReport,
    severity: Severity,
    check: &str,
    db: Option<&str>,
) -> Vec<&'a Finding> {
    r.findings
        .iter()
        .filter(|f| f.severity == severity && f.check == check && f.database.as_deref() == db)
        .collect()
}

/// Preflight, its findings said as the command line says them (settings as flags).
async fn preflight(opts: &MigrateOptions) -> Preflight {
    let mut pf = db_migrate::validate::preflight(opts).await;
    for f in &mut pf.report.findings {
        f.message = db_migrate::cli::words::text(&f.message).into_owned();
    }
    pf
}

fn errors<'a>(r: &'a ValidationReport, check: &str, db: Option<&str>) -> Vec<&'a Finding> {
    find(r, Severity::Error, check, db)
}

fn warnings<'a>(r: &'a ValidationReport, check: &str, db: Option<&str>) -> Vec<&'a Finding> {
    find(r, Severity::Warning, check, db)
}

/// All findings (any check, any severity) about database `db`.
fn about<'a>(r: &'a ValidationReport, db: &str) -> Vec<&'a Finding> {
    r.findings
        .iter()
        .filter(|f| f.database.as_deref() == Some(db))
        .collect()
}

/// A port on 127.0.0.1 nothing listens on.
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// Creates `name` in the target too (same name as a source database).
async fn create_in_target(name: &str) {
    target()
        .execute(
            "postgres",
            &format!("CREATE DATABASE {}", quote_ident(name)),
        )
        .await;
}

fn dump(pf: &Preflight) -> String {
    format!("{:#?}", pf.report.findings)
}

// ---------------------------------------------------------------------------------------------
// connection, same-server, version

#[tokio::test]
async fn reachable_servers_with_superusers_pass() {
    let db = source().create_database("pf_ok").await;
    source()
        .execute(
            &db,
            "CREATE EXTENSION hstore; CREATE TABLE t (h public.hstore)",
        )
        .await;
    let (s, t) = superusers();
    let opts = options(&s, &t, &[&db]).await;
    let pf = preflight(&opts).await;
    if target().major >= source().major {
        assert!(about(&pf.report, &db).is_empty(), "{}", dump(&pf));
    }
    assert_eq!(
        pf.report.global_errors().count(),
        if target().major < source().major {
            1
        } else {
            0
        },
        "{}",
        dump(&pf)
    );
    assert!(pf.source.is_some() && pf.target.is_some());
    let sf = pf.source_facts.as_ref().unwrap();
    let tf = pf.target_facts.as_ref().unwrap();
    assert!(sf.is_superuser && tf.is_superuser);
    assert_eq!(sf.version_num, source().version_num());
    assert_eq!(tf.version_num, target().version_num());
    assert!(
        sf.system_identifier.is_some(),
        "superuser may read pg_control_system()"
    );
    assert_ne!(sf.system_identifier, tf.system_identifier);
    assert!(pf.selected.contains(&db), "{:?}", pf.selected);
    assert!(pf.source_databases.iter().any(|d| d.name == db));
    assert!(pf.target_databases.iter().any(|d| d.name == "postgres"));
    assert!(warnings(&pf.report, "connection", None).is_empty());
}

#[tokio::test]
async fn unreachable_target_is_a_connection_error_and_source_checks_still_run() {
    let db = source().create_database("pf_unreach_t").await;
    source()
        .execute(&db, "SELECT pg_catalog.lo_create(0)")
        .await;
    let (s, _) = superusers();
    let t = format!(
        "postgres://nobody:pw@127.0.0.1:{}/postgres?connect_timeout=5",
        closed_port()
    );
    let pf = preflight(&options(&s, &t, &[&db]).await).await;
    let errs = errors(&pf.report, "connection", None);
    assert_eq!(errs.len(), 1, "{}", dump(&pf));
    assert!(errs[0].message.contains("target"), "{}", errs[0].message);
    assert!(errs[0].message.contains("--target"), "{}", errs[0].message);
    let skipped = warnings(&pf.report, "connection", None);
    assert_eq!(skipped.len(), 1, "{}", dump(&pf));
    assert!(
        skipped[0].message.contains("skipped"),
        "{}",
        skipped[0].message
    );
    assert!(pf.target.is_none() && pf.target_facts.is_none());
    assert!(pf.source.is_some());
    // Source-only checks ran: the database was selected and probed.
    assert!(pf.selected.contains(&db));
    assert_eq!(
        warnings(&pf.report, "large-objects", Some(&db)).len(),
        1,
        "{}",
        dump(&pf)
    );
    assert!(errors(&pf.report, "version", None).is_empty());
}

#[tokio::test]
async fn unreachable_source_is_a_connection_error() {
    let (_, t) = superusers();
    let s = format!("postgres://nobody:pw@127.0.0.1:{}/postgres", closed_port());
    let opts = MigrateOptions {
        source: conninfo(&s),
        target: conninfo(&t),
        ..Default::default()
    };
    let pf = preflight(&opts).await;
    let errs = errors(&pf.report, "connection", None);
    assert_eq!(errs.len(), 1, "{}", dump(&pf));
    assert!(errs[0].message.contains("source"), "{}", errs[0].message);
    assert!(errs[0].message.contains("127.0.0.1"), "{}", errs[0].message);
    assert_eq!(warnings(&pf.report, "connection", None).len(), 1);
    assert!(pf.source.is_none() && pf.target.is_some());
    assert!(pf.selected.is_empty());
    assert!(!pf.report.ok);
}

#[tokio::test]
async fn wrong_password_is_a_connection_error() {
    let (s, _) = superusers();
    let t = target().uri(support::SUPERUSER, "not-the-password", "postgres");
    let opts = MigrateOptions {
        source: conninfo(&s),
        target: conninfo(&t),
        filtered_dbs: others(source(), &[]).await,
        ..Default::default()
    };
    let pf = preflight(&opts).await;
    let errs = errors(&pf.report, "connection", None);
    assert_eq!(errs.len(), 1, "{}", dump(&pf));
    assert!(errs[0].message.contains("password"), "{}", errs[0].message);
    assert!(
        !errs[0].message.contains("not-the-password"),
        "{}",
        errs[0].message
    );
}

#[tokio::test]
async fn same_uri_on_both_sides_is_the_same_server() {
    let (s, _) = superusers();
    let mut opts = options(&s, &s, &[]).await;
    opts.filtered_dbs = others(source(), &[]).await;
    let pf = preflight(&opts).await;
    let errs = errors(&pf.report, "same-server", None);
    assert_eq!(errs.len(), 1, "{}", dump(&pf));
    assert!(
        errs[0].message.contains("same server"),
        "{}",
        errs[0].message
    );
    // localhost and 127.0.0.1 are the same host.
    let alias = s.replace("127.0.0.1", "localhost");
    let pf = preflight(&MigrateOptions {
        target: conninfo(&alias),
        ..opts.clone()
    })
    .await;
    assert_eq!(
        errors(&pf.report, "same-server", None).len(),
        1,
        "{}",
        dump(&pf)
    );
}

#[tokio::test]
async fn same_cluster_through_socket_and_tcp_is_found_by_system_identifier() {
    let (s, _) = superusers();
    let socket = source().socket_uri(support::SUPERUSER, "postgres");
    let opts = MigrateOptions {
        source: conninfo(&s),
        target: conninfo(&socket),
        filtered_dbs: others(source(), &[]).await,
        ..Default::default()
    };
    let pf = preflight(&opts).await;
    let errs = errors(&pf.report, "same-server", None);
    assert_eq!(errs.len(), 1, "{}", dump(&pf));
    assert!(
        errs[0].message.contains("system identifier"),
        "{}",
        errs[0].message
    );
}

#[tokio::test]
async fn different_clusters_are_not_the_same_server() {
    let (s, t) = superusers();
    let pf = preflight(&options(&s, &t, &[]).await).await;
    assert!(
        errors(&pf.report, "same-server", None).is_empty(),
        "{}",
        dump(&pf)
    );
}

#[tokio::test]
async fn older_target_major_is_a_version_error_unless_skipped() {
    let (s, t) = superusers();
    let opts = options(&s, &t, &[]).await;
    let pf = preflight(&opts).await;
    let (sm, tm) = (source().major, target().major);
    if tm >= sm {
        eprintln!(
            "note: target {tm} is not older than source {sm}; only the passing side of the \
             version check is tested (run with PG_SOURCE_VERSION=16 PG_TARGET_VERSION=13 for \
             the failing side)"
        );
        assert!(find_any(&pf.report, "version").is_empty(), "{}", dump(&pf));
        return;
    }
    let errs = errors(&pf.report, "version", None);
    assert_eq!(errs.len(), 1, "{}", dump(&pf));
    assert!(
        errs[0].message.contains("--skip-db-version-check"),
        "{}",
        errs[0].message
    );
    let pf = preflight(&MigrateOptions {
        skip_db_version_check: true,
        ..opts
    })
    .await;
    assert!(
        errors(&pf.report, "version", None).is_empty(),
        "{}",
        dump(&pf)
    );
    assert_eq!(
        warnings(&pf.report, "version", None).len(),
        1,
        "{}",
        dump(&pf)
    );
}

fn find_any<'a>(r: &'a ValidationReport, check: &str) -> Vec<&'a Finding> {
    r.findings.iter().filter(|f| f.check == check).collect()
}

// ---------------------------------------------------------------------------------------------
// databases

#[tokio::test]
async fn templates_disallowed_and_filtered_databases_are_not_selected() {
    let keep = source().create_database("pf_sel_keep").await;
    let closed = source().create_database("pf_sel_noconn").await;
    let filtered = source().create_database("pf_sel_filtered").await;
    source()
        .execute(
            "postgres",
            &format!(
                "ALTER DATABASE {} ALLOW_CONNECTIONS false",
                quote_ident(&closed)
            ),
        )
        .await;
    let (s, t) = superusers();
    let mut opts = options(&s, &t, &[&keep, &closed, &filtered]).await;
    opts.filtered_dbs.push(filtered.clone());
    let pf = preflight(&opts).await;
    assert!(pf.selected.contains(&keep), "{:?}", pf.selected);
    assert!(!pf.selected.contains(&closed), "{:?}", pf.selected);
    assert!(!pf.selected.contains(&filtered), "{:?}", pf.selected);
    assert!(
        !pf.selected
            .iter()
            .any(|d| d == "template0" || d == "template1")
    );
    assert!(about(&pf.report, &closed).is_empty(), "{}", dump(&pf));
    // Every row is kept for the migration.
    assert!(pf.source_databases.iter().any(|d| d.name == closed));
}

#[tokio::test]
async fn database_the_source_user_cannot_connect_to_fails_only_that_database() {
    let locked = source().create_database("pf_locked").await;
    let open = source().create_database("pf_open").await;
    source()
        .execute(
            "postgres",
            &format!(
                "REVOKE CONNECT ON DATABASE {} FROM PUBLIC",
                quote_ident(&locked)
            ),
        )
        .await;
    let (admin, pw) = source().create_admin("pf_src_admin", false).await;
    let s = source().uri(&admin, &pw, "postgres");
    let (_, t) = superusers();
    let mut opts = options(&s, &t, &[&locked, &open]).await;
    opts.dbs_max_total_size = Some(u64::MAX);
    let pf = preflight(&opts).await;
    let errs = errors(&pf.report, "databases", Some(&locked));
    assert_eq!(errs.len(), 1, "{}", dump(&pf));
    assert!(
        errs[0].message.contains("permission denied"),
        "{}",
        errs[0].message
    );
    assert!(errs[0].message.contains(&admin), "{}", errs[0].message);
    assert!(errs[0].message.contains("CONNECT"), "{}", errs[0].message);
    // Its size cannot be read: a warning, not counted.
    assert_eq!(
        warnings(&pf.report, "size", Some(&locked)).len(),
        1,
        "{}",
        dump(&pf)
    );
    assert!(errors(&pf.report, "size", None).is_empty(), "{}", dump(&pf));
    // The other database is fine.
    assert!(about(&pf.report, &open).is_empty(), "{}", dump(&pf));
    assert!(pf.selected.contains(&locked) && pf.selected.contains(&open));
}

#[tokio::test]
async fn missing_target_database_fails_only_without_createdb() {
    let missing = source().create_database("pf_nocreate_missing").await;
    let present = source().create_database("pf_nocreate_present").await;
    create_in_target(&present).await;
    let (s, t) = superusers();
    let mut opts = options(&s, &t, &[&missing, &present]).await;

    let pf = preflight(&opts).await;
    assert!(about(&pf.report, &missing).is_empty(), "{}", dump(&pf));

    opts.createdb = false;
    let pf = preflight(&opts).await;
    let errs = errors(&pf.report, "databases", Some(&missing));
    assert_eq!(errs.len(), 1, "{}", dump(&pf));
    assert!(
        errs[0].message.contains("does not exist in the target"),
        "{}",
        errs[0].message
    );
    assert!(
        errs[0].message.contains("--no-createdb"),
        "{}",
        errs[0].message
    );
    assert!(about(&pf.report, &present).is_empty(), "{}", dump(&pf));
}

#[tokio::test]
async fn target_database_the_target_user_cannot_connect_to_is_an_error() {
    let db = source().create_database("pf_tgt_locked").await;
    create_in_target(&db).await;
    target()
        .execute(
            "postgres",
            &format!(
                "REVOKE CONNECT ON DATABASE {} FROM PUBLIC",
                quote_ident(&db)
            ),
        )
        .await;
    let (admin, pw) = target().create_admin("pf_tgt_admin", false).await;
    let (s, _) = superusers();
    let t = target().uri(&admin, &pw, "postgres");
    let pf = preflight(&options(&s, &t, &[&db]).await).await;
    let errs = errors(&pf.report, "databases", Some(&db));
    assert_eq!(errs.len(), 1, "{}", dump(&pf));
    assert!(
        errs[0].message.contains("exists in the target"),
        "{}",
        errs[0].message
    );
    assert!(
        errs[0].message.contains("permission denied"),
        "{}",
        errs[0].message
    );
}

// ---------------------------------------------------------------------------------------------
// size and large objects

#[tokio::test]
async fn size_limit_zero_fails_and_a_large_limit_passes() {
    let db = source().create_database("pf_size").await;
    let (s, t) = superusers();
    let mut opts = options(&s, &t, &[&db]).await;
    opts.dbs_max_total_size = Some(0);
    let pf = preflight(&opts).await;
    let errs = errors(&pf.report, "size", None);
    assert_eq!(errs.len(), 1, "{}", dump(&pf));
    let msg = &errs[0].message;
    assert!(msg.contains("(0 bytes"), "{msg}");
    assert!(msg.contains("MiB") || msg.contains("KiB"), "{msg}");
    assert!(msg.contains("--dbs-max-total-size"), "{msg}");

    opts.dbs_max_total_size = Some(1 << 50);
    let pf = preflight(&opts).await;
    assert!(find_any(&pf.report, "size").is_empty(), "{}", dump(&pf));
}

#[tokio::test]
async fn large_objects_are_a_database_warning() {
    let with = source().create_database("pf_lo_with").await;
    let without = source().create_database("pf_lo_without").await;
    source()
        .execute(&with, "SELECT pg_catalog.lo_create(0)")
        .await;
    let (s, t) = superusers();
    let pf = preflight(&options(&s, &t, &[&with, &without]).await).await;
    let w = warnings(&pf.report, "large-objects", Some(&with));
    assert_eq!(w.len(), 1, "{}", dump(&pf));
    assert!(
        w[0].message.contains("logical replication"),
        "{}",
        w[0].message
    );
    assert!(errors(&pf.report, "large-objects", Some(&with)).is_empty());
    assert!(about(&pf.report, &without).is_empty(), "{}", dump(&pf));
}

// ---------------------------------------------------------------------------------------------
// languages

#[tokio::test]
async fn language_without_an_extension_needs_a_superuser_target() {
    let db = source().create_database("pf_lang").await;
    let plain = source().create_database("pf_lang_plain").await;
    let lang = support::unique_name("pl_pf");
    source()
        .execute(
            &db,
            &format!(
                "CREATE LANGUAGE {} HANDLER pg_catalog.plpgsql_call_handler",
                quote_ident(&lang)
            ),
        )
        .await;
    // A superuser target creates it with the schema.
    let (s, t_super) = superusers();
    let pf = preflight(&options(&s, &t_super, &[&db, &plain]).await).await;
    assert!(
        errors(&pf.report, "languages", Some(&db)).is_empty(),
        "{}",
        dump(&pf)
    );
    // Anyone else cannot: an error naming it and why.
    let (admin, pw) = target().create_admin("pf_lang_admin", false).await;
    let t = target().uri(&admin, &pw, "postgres");
    let mut opts = options(&s, &t, &[&db, &plain]).await;
    let pf = preflight(&opts).await;
    let errs = errors(&pf.report, "languages", Some(&db));
    assert_eq!(errs.len(), 1, "{}", dump(&pf));
    assert!(errs[0].message.contains(&lang), "{}", errs[0].message);
    assert!(errs[0].message.contains("superuser"), "{}", errs[0].message);
    assert!(!errs[0].message.contains("plpgsql,"), "{}", errs[0].message);
    assert!(
        errors(&pf.report, "languages", Some(&plain)).is_empty(),
        "{}",
        dump(&pf)
    );

    // Present in the target database of the same name: passes.
    create_in_target(&db).await;
    target()
        .execute(
            &db,
            &format!(
                "CREATE LANGUAGE {} HANDLER pg_catalog.plpgsql_call_handler",
                quote_ident(&lang)
            ),
        )
        .await;
    let pf = preflight(&opts).await;
    assert!(
        find_any(&pf.report, "languages")
            .iter()
            .all(|f| f.database.as_deref() != Some(&db)),
        "{}",
        dump(&pf)
    );

    // A language named in -xe is not checked.
    target()
        .execute(&db, &format!("DROP LANGUAGE {}", quote_ident(&lang)))
        .await;
    opts.excluded_extensions = vec![lang.clone()];
    let pf = preflight(&opts).await;
    assert!(
        errors(&pf.report, "languages", Some(&db)).is_empty(),
        "{}",
        dump(&pf)
    );
}

// ---------------------------------------------------------------------------------------------
// extensions

#[tokio::test]
async fn superuser_only_extension_with_a_non_superuser_target_is_an_error() {
    let db = source().create_database("pf_ext_su").await;
    source()
        .execute(
            &db,
            "CREATE EXTENSION pg_buffercache; CREATE EXTENSION hstore",
        )
        .await;
    let (admin, pw) = target().create_admin("pf_ext_admin", false).await;
    let (s, t_super) = superusers();
    let t = target().uri(&admin, &pw, "postgres");
    let mut opts = options(&s, &t, &[&db]).await;
    let pf = preflight(&opts).await;
    // With an older target major, the available versions may also be too old (a separate
    // finding each); this test is about the superuser rule.
    let needs_su = |pf: &Preflight| -> Vec<Finding> {
        errors(&pf.report, "extensions", Some(&db))
            .into_iter()
            .filter(|f| f.message.contains("requires a superuser"))
            .cloned()
            .collect()
    };
    let errs = needs_su(&pf);
    assert_eq!(errs.len(), 1, "{}", dump(&pf));
    let msg = &errs[0].message;
    assert!(msg.contains("\"pg_buffercache\""), "{msg}");
    assert!(msg.contains(&admin), "{msg}");
    assert!(msg.contains("-xe pg_buffercache"), "{msg}");
    // hstore is trusted (PG13+): a non-superuser may install it.
    if target().major >= 13 {
        assert!(!msg.contains("hstore"), "{msg}");
    }
    if target().major >= source().major {
        assert_eq!(
            errors(&pf.report, "extensions", Some(&db)).len(),
            1,
            "{}",
            dump(&pf)
        );
    }

    // -xe skips it.
    opts.excluded_extensions = vec!["pg_buffercache".into()];
    let pf = preflight(&opts).await;
    assert!(
        errors(&pf.report, "extensions", Some(&db))
            .iter()
            .all(|f| !f.message.contains("pg_buffercache")),
        "{}",
        dump(&pf)
    );

    // A superuser target may install it.
    opts.excluded_extensions.clear();
    opts.target = conninfo(&t_super);
    let pf = preflight(&opts).await;
    assert!(needs_su(&pf).is_empty(), "{}", dump(&pf));
    if target().major >= source().major {
        assert!(
            errors(&pf.report, "extensions", Some(&db)).is_empty(),
            "{}",
            dump(&pf)
        );
    }
}

#[tokio::test]
async fn extension_installed_in_the_target_at_an_older_version_is_an_error() {
    // hstore's base script 1.4 exists from PostgreSQL 10 on; newer versions come by update.
    let db = source().create_database("pf_ext_old").await;
    source().execute(&db, "CREATE EXTENSION hstore").await;
    let source_version = source()
        .query_strings(
            &db,
            "SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'hstore'",
        )
        .await[0][0]
        .clone()
        .unwrap();
    create_in_target(&db).await;
    target()
        .execute(&db, "CREATE EXTENSION hstore VERSION '1.4'")
        .await;
    let (s, t) = superusers();
    let opts = options(&s, &t, &[&db]).await;
    let pf = preflight(&opts).await;
    let errs = errors(&pf.report, "extensions", Some(&db));
    if source_version == "1.4" {
        assert!(errs.is_empty(), "{}", dump(&pf));
        return;
    }
    assert_eq!(errs.len(), 1, "{}", dump(&pf));
    let msg = &errs[0].message;
    assert!(
        msg.contains("hstore") && msg.contains("1.4") && msg.contains(&source_version),
        "{msg}"
    );
    assert!(msg.contains("ALTER EXTENSION"), "{msg}");

    // Updated in the target: passes.
    target().execute(&db, "ALTER EXTENSION hstore UPDATE").await;
    let pf = preflight(&opts).await;
    if target().major >= source().major {
        assert!(
            errors(&pf.report, "extensions", Some(&db)).is_empty(),
            "{}",
            dump(&pf)
        );
    }
}

#[tokio::test]
async fn extension_the_target_does_not_ship_is_an_error() {
    // Needs an extension the source ships and the target does not: only with two majors.
    let avail = |c: &'static Cluster| async move {
        c.query_strings(
            "postgres",
            "SELECT name FROM pg_catalog.pg_available_extensions ORDER BY name",
        )
        .await
        .into_iter()
        .map(|r| r[0].clone().unwrap())
        .collect::<Vec<_>>()
    };
    let in_target: HashSet<String> = avail(target()).await.into_iter().collect();
    let candidates: Vec<String> = avail(source())
        .await
        .into_iter()
        .filter(|n| !in_target.contains(n))
        .collect();
    let db = source().create_database("pf_ext_na").await;
    let mut installed = None;
    for name in candidates {
        let client = source().connect(&db).await;
        if client
            .batch_execute(&format!("CREATE EXTENSION {}", quote_ident(&name)))
            .await
            .is_ok()
        {
            installed = Some(name);
            break;
        }
    }
    let Some(name) = installed else {
        eprintln!(
            "note: the target ({}) ships every extension the source ({}) ships; the \
             not-available case is covered by unit tests only (run with \
             PG_SOURCE_VERSION=16 PG_TARGET_VERSION=13)",
            target().major,
            source().major
        );
        return;
    };
    let (s, t) = superusers();
    let mut opts = options(&s, &t, &[&db]).await;
    let pf = preflight(&opts).await;
    let errs = errors(&pf.report, "extensions", Some(&db));
    assert_eq!(errs.len(), 1, "{}", dump(&pf));
    assert!(
        errs[0].message.contains("not available"),
        "{}",
        errs[0].message
    );
    assert!(
        errs[0].message.contains(&format!("-xe {name}")),
        "{}",
        errs[0].message
    );
    opts.excluded_extensions = vec![name];
    let pf = preflight(&opts).await;
    assert!(
        errors(&pf.report, "extensions", Some(&db)).is_empty(),
        "{}",
        dump(&pf)
    );
}

// ---------------------------------------------------------------------------------------------
// roles

#[tokio::test]
async fn superuser_role_with_a_non_superuser_target_is_one_warning() {
    let (su_role, _) = source().create_superuser("pf_su_role").await;
    let plain_role = support::unique_name("pf_plain_role");
    source()
        .execute(
            "postgres",
            &format!("CREATE ROLE {} LOGIN", quote_ident(&plain_role)),
        )
        .await;
    let (admin, pw) = target().create_admin("pf_roles_admin", false).await;
    let (s, t_super) = superusers();
    let t = target().uri(&admin, &pw, "postgres");
    let mut opts = options(&s, &t, &[]).await;
    let pf = preflight(&opts).await;
    let w = warnings(&pf.report, "roles", None);
    assert_eq!(w.len(), 1, "{}", dump(&pf));
    let msg = &w[0].message;
    assert!(msg.contains(&format!("\"{su_role}\" (superuser)")), "{msg}");
    assert!(!msg.contains(&plain_role), "{msg}");
    assert!(msg.contains("-xr"), "{msg}");
    assert!(msg.contains("failed"), "{msg}");
    assert!(errors(&pf.report, "roles", None).is_empty());

    // Excluded: not named.
    opts.excluded_roles = vec![su_role.clone()];
    let pf = preflight(&opts).await;
    assert!(
        warnings(&pf.report, "roles", None)
            .iter()
            .all(|f| !f.message.contains(&su_role)),
        "{}",
        dump(&pf)
    );

    // A superuser target can create every role.
    opts.excluded_roles.clear();
    opts.target = conninfo(&t_super);
    let pf = preflight(&opts).await;
    assert!(find_any(&pf.report, "roles").is_empty(), "{}", dump(&pf));
}

#[tokio::test]
async fn roles_that_exist_in_the_target_are_not_reported() {
    let (su_role, _) = source().create_superuser("pf_su_exists").await;
    target()
        .execute(
            "postgres",
            &format!("CREATE ROLE {} SUPERUSER", quote_ident(&su_role)),
        )
        .await;
    let (admin, pw) = target().create_admin("pf_roles_admin2", false).await;
    let (s, _) = superusers();
    let t = target().uri(&admin, &pw, "postgres");
    let pf = preflight(&options(&s, &t, &[]).await).await;
    assert!(
        find_any(&pf.report, "roles")
            .iter()
            .all(|f| !f.message.contains(&su_role)),
        "{}",
        dump(&pf)
    );
}

// ---------------------------------------------------------------------------------------------
// everything at once

#[tokio::test]
async fn all_problems_are_reported_together() {
    let db = source().create_database("pf_all").await;
    let lang = support::unique_name("pl_all");
    source()
        .execute(
            &db,
            &format!(
                "CREATE EXTENSION pg_buffercache; SELECT pg_catalog.lo_create(0); \
                 CREATE LANGUAGE {} HANDLER pg_catalog.plpgsql_call_handler",
                quote_ident(&lang)
            ),
        )
        .await;
    let (su_role, _) = source().create_superuser("pf_all_su").await;
    let (admin, pw) = target().create_admin("pf_all_admin", false).await;
    let (s, _) = superusers();
    let t = target().uri(&admin, &pw, "postgres");
    let mut opts = options(&s, &t, &[&db]).await;
    opts.createdb = false;
    opts.dbs_max_total_size = Some(0);
    let pf = preflight(&opts).await;
    let r = &pf.report;
    assert_eq!(errors(r, "databases", Some(&db)).len(), 1, "{}", dump(&pf));
    assert_eq!(errors(r, "languages", Some(&db)).len(), 1, "{}", dump(&pf));
    assert!(
        errors(r, "extensions", Some(&db))
            .iter()
            .any(|f| f.message.contains("requires a superuser")),
        "{}",
        dump(&pf)
    );
    assert_eq!(
        warnings(r, "large-objects", Some(&db)).len(),
        1,
        "{}",
        dump(&pf)
    );
    assert_eq!(errors(r, "size", None).len(), 1, "{}", dump(&pf));
    assert!(warnings(r, "roles", None)[0].message.contains(&su_role));
    assert!(!r.ok);
}

#[tokio::test]
async fn forced_dump_says_nothing_about_logical_replication() {
    let db = source().create_database("pf_dump_only").await;
    source()
        .execute(
            &db,
            "CREATE TABLE public.no_key (a int); CREATE UNLOGGED TABLE public.scratch (a int); \
             SELECT pg_catalog.lo_create(0);",
        )
        .await;
    let (s, t) = superusers();
    let mut opts = options(&s, &t, &[&db]).await;
    // Without a forced method, what replication would lose is said.
    let report = db_migrate::migrate::PgMigrate::new(opts.clone())
        .validate()
        .await;
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.check == "large-objects" && f.message.contains("logical replication")),
        "{:#?}",
        report.findings
    );
    opts.force_method = Some(db_migrate::report::Method::Dump);
    let report = db_migrate::migrate::PgMigrate::new(opts).validate().await;
    let about_replication: Vec<&Finding> = report
        .findings
        .iter()
        .filter(|f| {
            let m = f.message.to_lowercase();
            m.contains("replication") || m.contains("large object") || m.contains("wal_level")
        })
        .collect();
    assert!(about_replication.is_empty(), "{about_replication:#?}");
    assert!(report.ok, "{:#?}", report.findings);
}
