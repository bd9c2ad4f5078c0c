//! The schema oracle: a fixture is loaded into a fresh source database, migrated schema-only by
//! db-migrate, and `pg_dump --schema-only` of source and target must then be identical after
//! dropping comment and SET lines. `pg_dump` is a test oracle only; the product never runs it.
//!
//! Every statement db-migrate generated for the fixture is also parsed with `pg_query`, so a
//! quoting mistake shows up as a parse error with its position even where the server would
//! have accepted something unintended.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use db_migrate::conn::{ConnInfo, connect};
use db_migrate::schema::{ExecState, SchemaOptions, exec, read_schema};
use db_migrate::{DbStatus, MigrateOptions, migrate::PgMigrate};

use super::{Cluster, SUPERUSER_PASSWORD, source, target};

/// A pg_dump able to dump both clusters (its major must be at least the newest server's):
/// `PG_DUMP`, else the oldest major that is new enough, from the distribution's packages or
/// `.pg/<major>-full` (the whole PyPI builds `scripts/install-postgres.sh` installs).
pub fn pg_dump() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("PG_DUMP") {
        return Some(PathBuf::from(p));
    }
    let need = source().major.max(target().major);
    let installed = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".pg");
    (need..=18)
        .flat_map(|m| {
            [
                PathBuf::from(format!("/usr/lib/postgresql/{m}/bin/pg_dump")),
                installed
                    .join(format!("{m}-full"))
                    .join("bin")
                    .join("pg_dump"),
            ]
        })
        .find(|p| p.is_file())
}

pub fn dump(cluster: &Cluster, db: &str, pg_dump: &Path) -> String {
    let out = tool(
        pg_dump,
        &["--schema-only", "--no-sync", "--exclude-schema=db_migrate"],
        cluster,
        db,
    )
    .output()
    .expect("pg_dump runs");
    assert!(
        out.status.success(),
        "pg_dump failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf8 dump")
}

/// `program` (pg_dump, pg_restore, psql) with `args`, connected to `db` of `cluster` as the
/// superuser.
pub fn tool(program: &Path, args: &[&str], cluster: &Cluster, db: &str) -> Command {
    let mut cmd = Command::new(program);
    cmd.args(args)
        .args(["-h", "127.0.0.1", "-p"])
        .arg(cluster.port.to_string())
        .args(["-U", "postgres", "-d", db])
        .env("PGPASSWORD", SUPERUSER_PASSWORD);
    cmd
}

/// Lines of `a` missing from `b` ("- line") and of `b` missing from `a` ("+ line"), counted as
/// multisets (object order in a dump follows OIDs in places, which differ between servers).
pub fn diff_lines(a: &str, b: &str) -> BTreeMap<String, i64> {
    let mut counts: BTreeMap<&str, i64> = BTreeMap::new();
    for l in a.lines() {
        *counts.entry(l).or_default() += 1;
    }
    for l in b.lines() {
        *counts.entry(l).or_default() -= 1;
    }
    counts
        .into_iter()
        .filter(|(_, n)| *n != 0)
        .map(|(l, n)| {
            if n > 0 {
                (format!("- {l}"), n)
            } else {
                (format!("+ {l}"), -n)
            }
        })
        .collect()
}

/// `table -> "count md5"` for every populated table and materialized view of `db` (each
/// table's own rows: children are summed on their own), and one entry for the large objects.
pub async fn checksums(c: &Cluster, db: &str) -> BTreeMap<String, String> {
    let tables = c
        .query_strings(
            db,
            "SELECT format('%I.%I', n.nspname, t.relname) FROM pg_class t \
               JOIN pg_namespace n ON n.oid = t.relnamespace \
              WHERE t.relkind IN ('r', 'm') AND t.relispopulated \
                AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') \
                AND n.nspname NOT LIKE 'pg_temp%' ORDER BY 1",
        )
        .await;
    let client = c.connect(db).await;
    let mut out = BTreeMap::new();
    for t in tables.into_iter().filter_map(|r| r[0].clone()) {
        let sql = format!(
            "SELECT count(*)::text || ' ' || coalesce(md5(string_agg(x::text, '|' ORDER BY x::text)), '') \
               FROM ONLY {t} x"
        );
        let value = match client.simple_query(&sql).await {
            Ok(rows) => rows
                .iter()
                .find_map(|m| match m {
                    tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_owned),
                    _ => None,
                })
                .unwrap_or_default(),
            Err(e) => format!("error: {}", super::pg_error(&e)),
        };
        out.insert(t, value);
    }
    let lo = c
        .query_strings(
            db,
            "SELECT count(*)::text || ' ' || coalesce(md5(string_agg(l.oid::text || ':' || \
                    md5(lo_get(l.oid)), '|' ORDER BY l.oid)), '') FROM pg_largeobject_metadata l",
        )
        .await;
    out.insert(
        "(large objects)".into(),
        lo[0][0].clone().unwrap_or_default(),
    );
    out
}

/// Drops what legitimately differs between two dumps of equal schemas: comments (which carry
/// the database name and versions), SET lines, and psql's \restrict guards.
pub fn normalize(dump: &str) -> String {
    dump.lines()
        .filter(|l| {
            !(l.starts_with("--")
                || l.starts_with("SET ")
                || l.starts_with("SELECT pg_catalog.set_config")
                || l.starts_with("\\restrict")
                || l.starts_with("\\unrestrict")
                || l.trim().is_empty())
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// What two dumps of equal schemas legitimately differ in when only one server is 18 or newer:
/// PostgreSQL 18 records NOT NULL as named constraints, and pg_dump 18 prints a name whenever
/// it differs from `<table>_<column>_not_null` untruncated, so a name the server truncated to 63
/// bytes is printed for the 18 target while the older source has none. `pg_dump | pg_restore`
/// between the same servers shows the same line, so it is not ours to compare.
///
/// And when only one server is 16 or newer: PostgreSQL 16 deparses a view's query without the
/// table qualifiers older servers print for one-relation queries (`SELECT id` for
/// `SELECT t.id`). The server, not pg_dump, writes that text, so the view bodies are left out
/// and only the view headers (names, options, owners) are compared.
pub fn across_majors(dump: &str) -> String {
    across(dump, source().major, target().major)
}

/// [`across_majors`] for a dump of servers of majors `a` and `b` other than the harness's.
pub fn across(dump: &str, a: u32, b: u32) -> String {
    let mut text = dump.to_string();
    if (a >= 16) != (b >= 16) {
        text = without_view_bodies(&text);
    }
    if (a >= 18) == (b >= 18) {
        return text;
    }
    text.lines()
        .map(drop_not_null_constraint_name)
        .collect::<Vec<_>>()
        .join("\n")
}

/// `CREATE [OR REPLACE | MATERIALIZED] VIEW name AS` kept; the query lines after it, up to the `;` that
/// ends the statement, left out.
fn without_view_bodies(dump: &str) -> String {
    let mut out = Vec::new();
    let mut in_body = false;
    for line in dump.lines() {
        if in_body {
            if line.trim_end().ends_with(';') {
                in_body = false;
            }
            continue;
        }
        out.push(line);
        // pg_dump writes a view in a dependency loop as a table, then `CREATE OR REPLACE VIEW`.
        let view = [
            "CREATE VIEW ",
            "CREATE OR REPLACE VIEW ",
            "CREATE MATERIALIZED VIEW ",
        ]
        .iter()
        .any(|p| line.starts_with(p));
        if view && line.trim_end().ends_with(" AS") {
            in_body = true;
        }
    }
    out.join("\n")
}

/// `    col integer CONSTRAINT name NOT NULL` -> `    col integer NOT NULL` (quoted names too).
fn drop_not_null_constraint_name(line: &str) -> String {
    let Some(at) = line.find(" CONSTRAINT ") else {
        return line.to_string();
    };
    let rest = &line[at + " CONSTRAINT ".len()..];
    let name_len = if let Some(quoted) = rest.strip_prefix('"') {
        // A quoted identifier ends at a quote not followed by another one.
        let bytes = quoted.as_bytes();
        let mut i = 0;
        loop {
            match bytes.get(i) {
                None => return line.to_string(),
                Some(b'"') if bytes.get(i + 1) == Some(&b'"') => i += 2,
                Some(b'"') => break i + 2,
                Some(_) => i += 1,
            }
        }
    } else {
        rest.find(' ').unwrap_or(rest.len())
    };
    match rest[name_len..].strip_prefix(" NOT NULL") {
        Some(after) => format!("{} NOT NULL{after}", &line[..at]),
        None => line.to_string(),
    }
}

/// A readable account of where two texts differ.
pub fn first_difference(a: &str, b: &str) -> String {
    let la: Vec<&str> = a.lines().collect();
    let lb: Vec<&str> = b.lines().collect();
    let common = la.iter().zip(&lb).take_while(|(x, y)| x == y).count();
    let from = common.saturating_sub(5);
    let show = |v: &[&str]| {
        v.iter()
            .skip(from)
            .take(30)
            .copied()
            .collect::<Vec<_>>()
            .join("\n")
    };
    format!(
        "first difference at line {} (of {} vs {})\n--- source\n{}\n--- target\n{}",
        common + 1,
        la.len(),
        lb.len(),
        show(&la),
        show(&lb)
    )
}

/// Parses every generated statement with pg_query (the PostgreSQL 18 grammar, so statements
/// of every source major we read parse); returns the failures.
pub fn unparsable(statements: &[String]) -> Vec<String> {
    statements
        .iter()
        .filter_map(
            |s| match pg_query::parse(s, pg_query::ParserOptions::DEFAULT) {
                Ok(_) => None,
                Err(e) => Some(format!("{e}\n    in: {s}")),
            },
        )
        .collect()
}

/// Every statement of database `db` of `cluster` as our own reader generates it, sorted.
async fn read_back(cluster: &super::Cluster, db: &str) -> String {
    let info = ConnInfo::parse(&cluster.superuser_uri(db)).unwrap();
    let session = connect(&info, None).await.expect("connects");
    statements_read_on(&session).await
}

/// Every statement of the session's database as our own reader generates it, sorted.
pub async fn statements_read_on(session: &db_migrate::conn::Session) -> String {
    let schema = read_schema(session).await.expect("schema reads");
    let facts = ExecState {
        superuser: true,
        ..Default::default()
    };
    let mut n = 0;
    let mut all: Vec<String> = schema
        .objects
        .iter()
        .flat_map(|o| exec::statements_for(o, SchemaOptions::default(), &facts, &mut n))
        .collect();
    all.sort();
    all.join("\n")
}

/// Loads `fixture` into a new source database, migrates it schema-only, and asserts both
/// `pg_dump --schema-only` outputs are equal and every statement parses. Returns the database
/// name (same on both sides).
pub async fn assert_schema_roundtrip(fixture: &str) -> String {
    assert_schema_roundtrip_with(fixture, None).await
}

/// [`assert_schema_roundtrip`] with `schema_jobs` target sessions creating the schema (`None`:
/// the default).
pub async fn assert_schema_roundtrip_with(
    fixture: &str,
    schema_jobs: Option<std::num::NonZeroUsize>,
) -> String {
    roundtrip(fixture, schema_jobs, None).await
}

/// [`assert_schema_roundtrip`] of a whole migration (schema and rows) by `method`: the dump
/// method, or the replication method cut over in the same run (`--max-replication-lag 0
/// --stop-replication --replica-identity-full`), whose publication, slot and subscription are gone again when the two
/// `pg_dump -s` are compared. Constructs that the schema engine alone handles go through both
/// methods' runs this way ("a test per construct, by the dump and the replication methods").
pub async fn assert_roundtrip_by(fixture: &str, method: db_migrate::report::Method) -> String {
    roundtrip(fixture, None, Some(method)).await
}

/// The methods [`assert_roundtrip_by`] is run with by the construct tests.
pub const METHODS: [db_migrate::report::Method; 2] = [
    db_migrate::report::Method::Dump,
    db_migrate::report::Method::Replication,
];

async fn roundtrip(
    fixture: &str,
    schema_jobs: Option<std::num::NonZeroUsize>,
    method: Option<db_migrate::report::Method>,
) -> String {
    let (src, tgt) = (source(), target());
    let db = src.create_database("schema oracle ").await;
    src.execute(&db, fixture).await;

    // Every generated statement must parse.
    let info = ConnInfo::parse(&src.superuser_uri(&db)).unwrap();
    let session = connect(&info, None).await.expect("source connects");
    let schema = read_schema(&session).await.expect("schema reads");
    let facts = ExecState {
        superuser: true,
        ..Default::default()
    };
    let mut n = 0;
    let statements: Vec<String> = schema
        .objects
        .iter()
        .flat_map(|o| exec::statements_for(o, SchemaOptions::default(), &facts, &mut n))
        .collect();
    let bad = unparsable(&statements);
    assert!(
        bad.is_empty(),
        "statements pg_query cannot parse:\n{}",
        bad.join("\n")
    );

    // Migrate only this database (roles first, as always).
    let opts = MigrateOptions {
        source: info.with_dbname("postgres"),
        target: ConnInfo::parse(&tgt.superuser_uri("postgres")).unwrap(),
        only_dbs: vec![db.clone()],
        schema_only: method.is_none(),
        schema_jobs,
        force_method: method,
        replication: cut_over_in_the_run(),
        ..Default::default()
    };
    let result = PgMigrate::new(opts).migrate().await;
    let entry = result
        .databases
        .iter()
        .find(|d| d.dbname == db)
        .unwrap_or_else(|| panic!("database reported: {}", result.to_json()));
    assert_eq!(entry.status, DbStatus::Done, "{}", result.to_json());

    let Some(pg_dump) = pg_dump() else {
        // No pg_dump as new as both servers: our own reader is the oracle instead, so every
        // object must at least read back from the target as the statements it was made of.
        eprintln!(
            "no pg_dump for major {}: the target's schema is read back instead",
            tgt.major
        );
        let (a, b) = (read_back(src, &db).await, read_back(tgt, &db).await);
        assert!(
            a == b,
            "the target's schema reads back differently:\n{}",
            first_difference(&a, &b)
        );
        return db;
    };
    let a = across_majors(&normalize(&dump(src, &db, &pg_dump)));
    let b = across_majors(&normalize(&dump(tgt, &db, &pg_dump)));
    if a != b {
        let dir = std::env::temp_dir().join(format!("db-migrate-oracle-{db}"));
        let _ = std::fs::create_dir_all(&dir);
        let _ = std::fs::write(dir.join("source.sql"), &a);
        let _ = std::fs::write(dir.join("target.sql"), &b);
        let _ = std::fs::write(dir.join("generated.sql"), statements.join(";\n"));
        panic!(
            "pg_dump --schema-only differs (files in {}):\n{}\nwarnings: {:?}",
            dir.display(),
            first_difference(&a, &b),
            result.warnings
        );
    }
    db
}

/// The replication method's options of a test that cuts over in the same run: wait for lag 0,
/// stop the replication, and keyless tables (fixtures have them) FULL for the migration, put
/// back at the cut-over.
pub fn cut_over_in_the_run() -> db_migrate::replication::ReplicationOptions {
    db_migrate::replication::ReplicationOptions {
        max_replication_lag: Some(0),
        stop_replication: true,
        replica_identity_full: true,
        poll_interval: std::time::Duration::from_millis(300),
        ..Default::default()
    }
}
