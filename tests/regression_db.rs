//! PostgreSQL's own regression database as a corpus: what the server's 217 regression tests leave
//! behind (about 970 relations, odd inheritance, partitions, publications, a transform, rules,
//! large objects...) is migrated by the dump method as superuser, and the target must match the
//! source as closely as `pg_dump | pg_restore` of the same database does:
//!
//! - `pg_dump --schema-only` of source and target: no diff line that the restored copy does
//!   not also have;
//! - every table's rows (count and md5 of the sorted row texts) and the large objects: equal
//!   where the restored copy's are;
//! - inheritance children keep their own column order (pg_dump loses it; we read the catalogs).
//!
//! Twice: into PostgreSQL 15 (the source's major) and into 18 (the newest: the npm server of
//! `.pg/18`, built with ICU, which the corpus's ICU collations need), where the oracle is pg_dump
//! 18 and the baseline pg_dump 18 | pg_restore 18 (`.pg/18-full`). Each target is a cluster of
//! its own whose `dynamic_library_path` finds the regression tests' C modules built for its
//! major (with `.pg/18-full`'s pgxs; the cached database names them by bare file name, see the
//! script). The runs take turns, so the times they print are not shared with each other.
//!
//! Two more runs take the corpus through the replication method (`--replica-identity-full`),
//! into 15 and into 18, with writes on the source, and cut over with `--verify`.
//!
//! The corpus is built and cached by `scripts/regression-db.sh` (needs root and Debian's
//! registry the first time). When it cannot be built the test says so loudly and passes, unless
//! `DB_MIGRATE_REQUIRE_REGRESSION_DB=1` (set by `.ci/run`), where that is a failure.

// Each module keeps its own copy of the harness, so its clusters are its own (as when every
// file was a test binary of its own).
#[path = "support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::Instant;

use db_migrate::conn::ConnInfo;
use db_migrate::report::Method;
use db_migrate::{DbStatus, MigrateOptions, migrate::PgMigrate};
use support::oracle::{checksums, diff_lines, tool};
use support::{Cluster, quote_ident};

const DB: &str = "regression";
const REQUIRE: &str = "DB_MIGRATE_REQUIRE_REGRESSION_DB";
/// The major of the corpus (Debian's server, whose source the script builds it from).
const SOURCE_MAJOR: u32 = 15;
const SERVER_BIN: &str = "/usr/lib/postgresql/15/bin";
/// One run at a time: their times are figures of the closing notes.
static TURNS: Mutex<()> = Mutex::new(());

/// The cache directory of scripts/regression-db.sh (building it, and the C modules for
/// `target_major`, when missing), or why not.
fn corpus(target_major: u32) -> Result<PathBuf, String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/regression-db.sh");
    let out = Command::new("bash")
        .arg(&script)
        .arg(target_major.to_string())
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        return Err(format!(
            "{} failed ({}):\n{stderr}",
            script.display(),
            out.status
        ));
    }
    let dir = String::from_utf8_lossy(&out.stdout).trim().to_string();
    Ok(PathBuf::from(dir))
}

/// The server of a target of `major`: Debian's for 15, else the npm build (with ICU) that
/// scripts/install-postgres.sh puts in `.pg/<major>`.
fn server_bin(major: u32) -> PathBuf {
    if major == SOURCE_MAJOR {
        return PathBuf::from(SERVER_BIN);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!(".pg/{major}/bin"))
}

/// The client tools of `major`: Debian's for 15, else the whole build scripts/install-postgres.sh
/// puts in `.pg/<major>-full`.
fn full_build(major: u32) -> PathBuf {
    if major == SOURCE_MAJOR {
        return PathBuf::from(SERVER_BIN);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!(".pg/{major}-full/bin"))
}

/// The newest installed client tool at least as new as both servers.
fn pg_tool(tool: &str, need: u32) -> Option<PathBuf> {
    (need..=18)
        .rev()
        .flat_map(|m| {
            [
                PathBuf::from(format!("/usr/lib/postgresql/{m}/bin")),
                full_build(m),
            ]
        })
        .map(|dir| dir.join(tool))
        .find(|p| p.exists())
}

/// `table -> column names in attnum order, each with its attislocal flag`, for inheritance
/// children (pg_inherits) of `db`.
async fn child_columns(c: &Cluster, db: &str) -> BTreeMap<String, (String, String)> {
    c.query_strings(
        db,
        "SELECT format('%I.%I', n.nspname, t.relname), \
                string_agg(a.attname, ',' ORDER BY a.attnum), \
                string_agg(CASE WHEN a.attislocal THEN 'l' ELSE 'i' END, '' ORDER BY a.attnum) \
           FROM pg_class t JOIN pg_namespace n ON n.oid = t.relnamespace \
           JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum > 0 AND NOT a.attisdropped \
          WHERE t.oid IN (SELECT inhrelid FROM pg_inherits) AND NOT t.relispartition \
          GROUP BY 1 ORDER BY 1",
    )
    .await
    .into_iter()
    .map(|r| {
        (
            r[0].clone().unwrap(),
            (r[1].clone().unwrap(), r[2].clone().unwrap()),
        )
    })
    .collect()
}

/// [`child_columns`]'s columns of the tables that `objects` name (`table "s"."t"`), without the
/// local flags (all columns of a table on its own are local).
async fn table_columns(
    c: &Cluster,
    db: &str,
    objects: &[String],
) -> BTreeMap<String, (String, String)> {
    let mut out = BTreeMap::new();
    for o in objects {
        let name = o.strip_prefix("table ").unwrap_or(o);
        let row = c
            .query_strings(
                db,
                &format!(
                    "SELECT format('%I.%I', n.nspname, t.relname), \
                            string_agg(a.attname, ',' ORDER BY a.attnum) \
                       FROM pg_class t JOIN pg_namespace n ON n.oid = t.relnamespace \
                       JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum > 0 \
                        AND NOT a.attisdropped \
                      WHERE t.oid = '{}'::regclass GROUP BY 1",
                    name.replace('\'', "''")
                ),
            )
            .await;
        let cols = row[0][1].clone().unwrap_or_default();
        out.insert(row[0][0].clone().unwrap(), (cols, String::new()));
    }
    out
}

async fn counts(c: &Cluster, db: &str) -> String {
    let row = c
        .query_strings(
            db,
            "WITH u AS (SELECT oid FROM pg_namespace WHERE nspname NOT IN ('pg_catalog', \
                    'information_schema', 'pg_toast') AND nspname NOT LIKE 'pg_temp%' \
                    AND nspname NOT LIKE 'pg_toast_temp%') \
             SELECT (SELECT count(*) FROM pg_class WHERE relnamespace IN (SELECT oid FROM u) \
                      AND relkind IN ('r','p','f','v','m','S','i','I'))::text, \
                    (SELECT count(*) FROM pg_class WHERE relnamespace IN (SELECT oid FROM u) \
                      AND relkind IN ('r','p'))::text, \
                    (SELECT count(*) FROM pg_proc WHERE pronamespace IN (SELECT oid FROM u))::text, \
                    (SELECT count(*) FROM pg_rewrite r JOIN pg_class t ON t.oid = r.ev_class \
                      WHERE t.relnamespace IN (SELECT oid FROM u) AND r.rulename <> '_RETURN')::text, \
                    (SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal)::text, \
                    (SELECT count(*) FROM pg_publication)::text, \
                    (SELECT count(*) FROM pg_largeobject_metadata)::text",
        )
        .await
        .remove(0);
    let v: Vec<String> = row.into_iter().map(|x| x.unwrap_or_default()).collect();
    format!(
        "{} relations (incl. indexes), {} tables, {} functions, {} rules, {} triggers, {} publications, {} large objects",
        v[0], v[1], v[2], v[3], v[4], v[5], v[6]
    )
}

#[test]
fn the_regression_database_migrates_like_pg_dump_restores_it() {
    migrate_the_corpus_into(SOURCE_MAJOR);
}

#[test]
fn the_regression_database_migrates_into_the_newest_major_like_pg_dump_restores_it() {
    migrate_the_corpus_into(18);
}

/// The corpus through the replication method into its own major, with `--replica-identity-full`
/// (many of its tables have no key) and writes on the source while replication runs (updates,
/// deletes and inserts on tables with and without a key, an inheritance parent's child); the
/// cut-over (`--max-replication-lag 0 --stop-replication --verify`) finds the target equal.
#[test]
fn the_regression_database_replicates_under_writes_and_cuts_over_equal() {
    replicate_the_corpus_into(SOURCE_MAJOR);
}

/// The same into the newest major: logical replication is how a major upgrade is done with
/// little downtime, so the corpus must also cut over equal from 15 into 18.
#[test]
fn the_regression_database_replicates_into_the_newest_major_and_cuts_over_equal() {
    replicate_the_corpus_into(18);
}

fn replicate_the_corpus_into(major: u32) {
    let _turn = TURNS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((src, tgt)) = clusters(major) {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(replicate(&src, &tgt));
    }
}

/// Writes of round `i` on the corpus: `tenk1` and `onek` have unique columns but no primary
/// key, `aggtest` has no key at all, `b_star` is a child of `a_star`.
fn corpus_writes(i: u64) -> String {
    format!(
        "UPDATE tenk1 SET stringu1 = 'W{i}' WHERE unique1 = {u}; \
         DELETE FROM onek WHERE unique1 = {u}; \
         INSERT INTO aggtest (a, b) VALUES ({i}, {i}.5); \
         UPDATE aggtest SET b = b + 1 WHERE a = 56; \
         INSERT INTO b_star (class, a) VALUES ('b', {i});",
        u = i % 1000
    )
}

async fn replicate(src: &Cluster, tgt: &Cluster) {
    use db_migrate::replication::ReplicationOptions;
    use std::time::Duration;
    let options = || MigrateOptions {
        source: ConnInfo::parse(&src.superuser_uri("postgres")).unwrap(),
        target: ConnInfo::parse(&tgt.superuser_uri("postgres")).unwrap(),
        only_dbs: vec![DB.to_string()],
        force_method: Some(Method::Replication),
        ..Default::default()
    };
    let replication = || ReplicationOptions {
        replication_timeout: Duration::from_secs(300),
        poll_interval: Duration::from_millis(300),
        replica_identity_full: true,
        ..ReplicationOptions::default()
    };
    let identities_before = identities(src).await;
    let started = Instant::now();
    let result = PgMigrate::new(MigrateOptions {
        replication: replication(),
        ..options()
    })
    .migrate()
    .await;
    let entry = &result.databases[0];
    assert_eq!(entry.status, DbStatus::Running, "{}", result.to_json());
    assert_explained(&result, src, tgt);
    eprintln!(
        "replication running after {:.1} s: {}",
        started.elapsed().as_secs_f64(),
        entry.message
    );
    let client = src.connect(DB).await;
    for i in 1..=50 {
        client
            .batch_execute(&corpus_writes(i))
            .await
            .unwrap_or_else(|e| panic!("write round {i}: {}", support::pg_error(&e)));
    }
    let done = PgMigrate::new(MigrateOptions {
        replication: ReplicationOptions {
            max_replication_lag: Some(0),
            stop_replication: true,
            ..replication()
        },
        verify: db_migrate::verify::VerifyOptions {
            after_copy: true,
            ..Default::default()
        },
        ..options()
    })
    .migrate()
    .await;
    let entry = &done.databases[0];
    assert_eq!(entry.status, DbStatus::Done, "{}", done.to_json());
    let verify = entry.verify.as_ref().expect("the cut-over verified");
    assert!(verify.is_equal(), "{}", done.to_json());
    eprintln!("cut over: {}", entry.message);
    // The written tables, counted and hashed here too, not only by the product's verify.
    let (a, b) = (checksums(src, DB).await, checksums(tgt, DB).await);
    for t in [
        "public.tenk1",
        "public.onek",
        "public.aggtest",
        "public.b_star",
    ] {
        assert_eq!(a.get(t), b.get(t), "{t}");
    }
    let written = src
        .query_strings(
            DB,
            "SELECT count(*)::text FROM aggtest WHERE b::text LIKE '%.5'",
        )
        .await;
    assert_eq!(
        written[0][0].as_deref(),
        Some("50"),
        "the writes reached the source"
    );
    // The identities set FULL for the replication are put back at the cut-over.
    assert_eq!(
        identities(src).await,
        identities_before,
        "{}",
        entry.message
    );
}

/// Every table's replica identity setting (`relreplident`), by name.
async fn identities(c: &Cluster) -> Vec<Vec<Option<String>>> {
    c.query_strings(
        DB,
        "SELECT c.oid::regclass::text, c.relreplident::text FROM pg_class c \
          WHERE c.relkind IN ('r', 'p') ORDER BY 1",
    )
    .await
}

/// Every warning of `result` is one the run asked for (`--replica-identity-full` naming the
/// tables it changed) or one the target's major explains: into the same major, none; into a
/// newer one, the inheritance links it refuses and column compressions it was built without.
fn assert_explained(result: &db_migrate::MigrateResult, src: &Cluster, tgt: &Cluster) {
    let newer = tgt.major > src.major;
    let unexplained: Vec<String> = result
        .warnings
        .iter()
        .map(|w| db_migrate::cli::words::text(&w.message).into_owned())
        .filter(|m| !m.starts_with("--replica-identity-full set REPLICA IDENTITY FULL on "))
        .filter(|m| {
            !(newer
                && (m.contains("is not made an inheritance child")
                    || m.contains("which the target server was built without")))
        })
        .collect();
    assert!(unexplained.is_empty(), "warnings: {unexplained:#?}");
}

/// Says loudly that nothing was checked, and fails where the corpus is required.
fn not_checked(why: &str) {
    let banner = "#".repeat(100);
    eprintln!(
        "\n{banner}\n# THE POSTGRESQL REGRESSION DATABASE TEST CHECKED NOTHING.\n\
         # {why}\n# Run scripts/regression-db.sh as root with Debian's registry reachable, and \
         scripts/install-postgres.sh for other majors.\n{banner}\n"
    );
    assert!(
        std::env::var(REQUIRE).ok().as_deref() != Some("1"),
        "{REQUIRE}=1 and the regression database test could not run: {why}"
    );
}

fn migrate_the_corpus_into(major: u32) {
    let _turn = TURNS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((src, tgt)) = clusters(major) {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(run(&src, &tgt));
    }
}

/// A copy of the cached corpus as the source and an empty target of `major` whose
/// `dynamic_library_path` finds the modules built for it; None (said loudly) when either is
/// missing.
fn clusters(major: u32) -> Option<(Cluster, Cluster)> {
    let bin = server_bin(major);
    if !bin.join("postgres").exists() {
        not_checked(&format!(
            "no PostgreSQL {major} server in {}",
            bin.display()
        ));
        return None;
    }
    let dir = match corpus(major) {
        Ok(d) => d,
        Err(why) => {
            not_checked(&why);
            return None;
        }
    };
    let src = support::cluster_from_data_dir(&dir.join("data"), Path::new(SERVER_BIN))
        .unwrap_or_else(|e| panic!("cannot start the regression cluster: {e}"));
    // The modules' directory is readable by the server user (the script made it so).
    let lib = dir.join("lib").join(major.to_string());
    let tgt = support::cluster_with_conf(
        &bin,
        &format!("dynamic_library_path = '{}:$libdir'\n", lib.display()),
    )
    .unwrap_or_else(|e| panic!("cannot start a PostgreSQL {major} target: {e}"));
    Some((src, tgt))
}

async fn run(src: &Cluster, tgt: &Cluster) {
    let need = src.major.max(tgt.major);
    let pg_dump = pg_tool("pg_dump", need).expect("a pg_dump as new as both servers");
    let pg_restore = pg_tool("pg_restore", need).expect("pg_restore next to pg_dump");
    let psql = pg_tool("psql", need).expect("psql next to pg_dump");
    eprintln!(
        "regression database {} -> {}: {}",
        src.major,
        tgt.major,
        counts(src, DB).await
    );

    // db-migrate: roles, then the database, dump method, as superuser on both sides.
    let started = Instant::now();
    let opts = MigrateOptions {
        source: ConnInfo::parse(&src.superuser_uri("postgres")).unwrap(),
        target: ConnInfo::parse(&tgt.superuser_uri("postgres")).unwrap(),
        only_dbs: vec![DB.to_string()],
        force_method: Some(Method::Dump),
        verify: db_migrate::verify::VerifyOptions {
            after_copy: true,
            statistics: true,
            ..Default::default()
        },
        ..Default::default()
    };
    let result = PgMigrate::new(opts).migrate().await;
    let ours_secs = started.elapsed().as_secs_f64();
    let entry = result
        .databases
        .iter()
        .find(|d| d.dbname == DB)
        .unwrap_or_else(|| panic!("database not reported: {}", result.to_json()));
    assert_eq!(entry.status, DbStatus::Done, "{}", result.to_json());
    // The planner statistics are compared too (equal unless the source's autovacuum analysed a
    // table again during the run: read live, they are not held to equality here; the data
    // engine's test is).
    let verify = entry.verify.as_ref().expect("verified");
    assert!(verify.is_equal(), "{}", result.to_json());
    let stats = verify.statistics.as_ref().expect("statistics compared");
    assert!(stats.columns >= 400, "{stats:#?}");
    eprintln!(
        "verify: {}; statistics differ: {:#?}",
        verify.summary(),
        stats.differences
    );
    eprintln!(
        "db-migrate: {ours_secs:.1} s, {} warnings: {:#?}",
        result.warnings.len(),
        result.warnings
    );
    assert_explained(&result, src, tgt);

    // The baseline: pg_dump -Fc | pg_restore into another database of the same target.
    let restored = "regression_pg_restore";
    let schema_only = "regression_pg_dump_psql";
    for db in [restored, schema_only] {
        tgt.execute(
            "postgres",
            &format!(
                "CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'",
                quote_ident(db)
            ),
        )
        .await;
    }
    let started = Instant::now();
    let mut dump = tool(&pg_dump, &["-Fc", "--no-sync"], src, DB)
        .stdout(Stdio::piped())
        .spawn()
        .expect("pg_dump starts");
    let restore = tool(&pg_restore, &[], tgt, restored)
        .stdin(dump.stdout.take().unwrap())
        .output()
        .expect("pg_restore runs");
    assert!(
        dump.wait().expect("pg_dump ends").success(),
        "pg_dump -Fc failed"
    );
    let restore_secs = started.elapsed().as_secs_f64();
    let restore_errors = String::from_utf8_lossy(&restore.stderr)
        .lines()
        .filter(|l| l.contains("error"))
        .count();
    let started = Instant::now();
    let mut dump = tool(&pg_dump, &["-s", "--no-sync"], src, DB)
        .stdout(Stdio::piped())
        .spawn()
        .expect("pg_dump starts");
    let _ = tool(&psql, &["-X", "-q"], tgt, schema_only)
        .stdin(dump.stdout.take().unwrap())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    assert!(
        dump.wait().expect("pg_dump ends").success(),
        "pg_dump -s failed"
    );
    let psql_secs = started.elapsed().as_secs_f64();
    eprintln!(
        "times on this run: db-migrate {ours_secs:.1} s, pg_dump -Fc | pg_restore {restore_secs:.1} s \
         ({restore_errors} pg_restore errors), pg_dump -s | psql {psql_secs:.1} s (schema only)"
    );

    // Schema: our diff lines must all be diff lines of the restored copy too. Between majors,
    // what the servers print differently for equal schemas is left out (view bodies, NOT NULL
    // names: see `across_majors`).
    let dump = |c: &Cluster, db: &str| {
        support::oracle::across(
            &support::oracle::normalize(&support::oracle::dump(c, db, &pg_dump)),
            src.major,
            tgt.major,
        )
    };
    let a = dump(src, DB);
    let ours = diff_lines(&a, &dump(tgt, DB));
    let theirs = diff_lines(&a, &dump(tgt, restored));
    // A child the target refused as a child (a rule of its major, a warning of its own) ends
    // its CREATE TABLE with `);` where the source's has `)` and `INHERITS (...);`: pg_restore
    // has neither line, since it could not create the table at all.
    let standalone = result
        .warnings
        .iter()
        .filter(|w| w.message.contains("is not made an inheritance child"))
        .count() as i64;
    let allowed = |l: &str| if l == "+ );" { standalone } else { 0 };
    let standalone_children: Vec<String> = result
        .warnings
        .iter()
        .filter(|w| w.message.contains("is not made an inheritance child"))
        .filter_map(|w| w.object.clone())
        .collect();
    let extra: Vec<String> = ours
        .iter()
        .filter(|(l, n)| theirs.get(*l).copied().unwrap_or(0) + allowed(l) < **n)
        .map(|(l, n)| format!("{l}  (x{n})"))
        .collect();
    eprintln!(
        "pg_dump -s diff lines: db-migrate {}, pg_dump | pg_restore {}",
        ours.values().sum::<i64>(),
        theirs.values().sum::<i64>()
    );
    eprintln!("db-migrate's diff lines:\n{}", lines(&ours));
    eprintln!("pg_dump | pg_restore's diff lines:\n{}", lines(&theirs));
    assert!(
        extra.is_empty(),
        "{} pg_dump -s diff lines that pg_dump | pg_restore does not have:\n{}",
        extra.len(),
        extra.join("\n")
    );

    // Rows: equal wherever the restored copy's are.
    let (a, ours, theirs) = (
        checksums(src, DB).await,
        checksums(tgt, DB).await,
        checksums(tgt, restored).await,
    );
    let wrong: Vec<String> = a
        .iter()
        .filter(|(t, v)| ours.get(*t) != Some(v) && theirs.get(*t) == Some(v))
        .map(|(t, v)| format!("{t}: source {v}, target {:?}", ours.get(t)))
        .collect();
    eprintln!(
        "tables compared (and large objects): {}, differing after db-migrate: {}, after pg_restore: {}",
        a.len(),
        a.iter().filter(|(t, v)| ours.get(*t) != Some(v)).count(),
        a.iter().filter(|(t, v)| theirs.get(*t) != Some(v)).count()
    );
    for (t, v) in a.iter().filter(|(t, v)| ours.get(*t) != Some(v)) {
        eprintln!(
            "  {t}: source {v}, db-migrate {:?}, pg_restore {:?}",
            ours.get(t),
            theirs.get(t)
        );
    }
    assert!(wrong.is_empty(), "rows differ:\n{}", wrong.join("\n"));

    // Inheritance children keep their own column order; those the target refused as children
    // (warned about above) are compared as the tables they became.
    let (a, mut ours) = (child_columns(src, DB).await, child_columns(tgt, DB).await);
    for (t, cols) in table_columns(tgt, DB, &standalone_children).await {
        ours.insert(t, cols);
    }
    let order: Vec<String> = a
        .iter()
        .filter(|(t, (cols, _))| ours.get(*t).map(|o| &o.0) != Some(cols))
        .map(|(t, (cols, _))| format!("{t}: source ({cols}), target {:?}", ours.get(t)))
        .collect();
    let local: Vec<String> = a
        .iter()
        .filter(|(t, (_, l))| ours.get(*t).is_some_and(|o| !o.1.is_empty() && &o.1 != l))
        .map(|(t, (c, l))| format!("{t} ({c}): source {l}, target {}", ours[t].1))
        .collect();
    eprintln!(
        "inheritance children: {}, column order differs: {}, attislocal differs: {}\n{}",
        a.len(),
        order.len(),
        local.len(),
        local.join("\n")
    );
    assert!(
        order.is_empty(),
        "inheritance children's column order differs:\n{}",
        order.join("\n")
    );
}

fn lines(d: &BTreeMap<String, i64>) -> String {
    d.iter()
        .map(|(l, n)| {
            if *n == 1 {
                l.clone()
            } else {
                format!("{l}  (x{n})")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}
