//! The relation readers (`db_migrate::schema::relations`) against real clusters, with the
//! fixture `tests/fixtures/relations.sql`:
//!
//! - through the whole schema engine and the oracle (`pg_dump --schema-only` of source and
//!   target identical, every statement parses);
//! - alone: only the fixture's prelude (roles, schemas, types, functions, servers) is created on
//!   the target by hand, then the relations are read, ordered, created, and the dumps compared,
//!   so a failure here is the relation readers' own;
//! - reading the target again gives the same statements as reading the source.

// Each module keeps its own copy of the harness, so its clusters are its own (as when every
// file was a test binary of its own).
#[path = "support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use db_migrate::conn::{ConnInfo, Session, connect};
use db_migrate::schema::model::{Collected, ObjectKind, SchemaObject};
use db_migrate::schema::{ExecState, SchemaOptions, exec, graph, relations};
use support::{Cluster, source, target};

const FIXTURE: &str = include_str!("fixtures/relations.sql");

/// The `-- @prelude` sections of a fixture (see the fixture's header).
fn prelude(fixture: &str) -> String {
    let mut out = String::new();
    let mut on = false;
    for line in fixture.lines() {
        match line.trim() {
            "-- @prelude" => on = true,
            "-- @relations" => on = false,
            _ if on => {
                out.push_str(line);
                out.push('\n');
            }
            _ => {}
        }
    }
    out
}

async fn session(c: &Cluster, db: &str) -> Session {
    let info = ConnInfo::parse(&c.superuser_uri(db)).expect("test URI parses");
    connect(&info, None).await.expect("connect")
}

fn dump(c: &Cluster, db: &str, bin: &PathBuf) -> String {
    let out = Command::new(bin)
        .args([
            "--schema-only",
            "--no-sync",
            "--exclude-schema=db_migrate",
            "-h",
        ])
        .arg(&c.socket_dir)
        .arg("-p")
        .arg(c.port.to_string())
        .args(["-U", "postgres", "-d", db])
        .output()
        .expect("pg_dump runs");
    assert!(
        out.status.success(),
        "pg_dump failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = support::oracle::across_majors(&support::oracle::normalize(
        &String::from_utf8(out.stdout).expect("utf8 dump"),
    ));
    // The public schema is not migrated here (and its default owner and privileges changed in
    // PostgreSQL 15, so it differs between majors).
    text.lines()
        .filter(|l| !l.contains("SCHEMA public"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Lines only in `a` and lines only in `b` (as multisets), for a readable failure.
fn line_diff(a: &str, b: &str) -> String {
    let mut count: BTreeMap<&str, i64> = BTreeMap::new();
    for l in a.lines() {
        *count.entry(l).or_default() += 1;
    }
    for l in b.lines() {
        *count.entry(l).or_default() -= 1;
    }
    let mut out = String::new();
    for (l, n) in &count {
        if *n > 0 {
            out.push_str(&format!("- (source only) {l}\n"));
        } else if *n < 0 {
            out.push_str(&format!("+ (target only) {l}\n"));
        }
    }
    out
}

/// Every statement of every object, as the executor would run them for a superuser.
fn statements(objects: &[SchemaObject]) -> Vec<String> {
    let facts = ExecState {
        superuser: true,
        ..Default::default()
    };
    let mut n = 0;
    objects
        .iter()
        .flat_map(|o| exec::statements_for(o, SchemaOptions::default(), &facts, &mut n))
        .collect()
}

/// Loads the fixture into a new source database and the prelude into a new target database,
/// migrates the relations alone, and returns (source db, target db, what was collected).
async fn migrate_relations_alone(fixture: &str) -> (String, String, Collected) {
    let (src, tgt) = (source(), target());
    let sdb = src.create_database("rel src").await;
    src.execute(&sdb, fixture).await;
    let tdb = tgt.create_database("rel tgt").await;
    tgt.execute(&tdb, &prelude(fixture)).await;

    let s = session(src, &sdb).await;
    let collected = relations::collect(&s).await.expect("relations read");
    assert!(collected.warnings.is_empty(), "{:?}", collected.warnings);
    let depend = graph::load_depend(&s).await.expect("pg_depend reads");
    let schema = graph::order(collected.clone(), &depend);
    assert!(
        schema.warnings.is_empty(),
        "ordering: {:?}",
        schema.warnings
    );

    // pg_query knows the grammar of PostgreSQL 17: newer sources may need newer syntax.
    if src.major <= 17 {
        let bad = support::oracle::unparsable(&statements(&schema.objects));
        assert!(
            bad.is_empty(),
            "statements pg_query cannot parse:\n{}",
            bad.join("\n")
        );
    }

    let t = session(tgt, &tdb).await;
    exec::prepare_session(&t).await.unwrap();
    let facts = ExecState::read(&t).await.unwrap();
    let report = exec::apply(&t, schema.objects.iter(), SchemaOptions::default(), &facts)
        .await
        .unwrap_or_else(|e| panic!("applying the relations failed: {e}"));
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    assert_eq!(report.owners_not_kept, 0);
    (sdb, tdb, collected)
}

#[tokio::test]
async fn relations_alone_give_an_identical_pg_dump() {
    let (sdb, tdb, _) = migrate_relations_alone(FIXTURE).await;
    let Some(bin) = support::oracle::pg_dump() else {
        eprintln!("no pg_dump able to dump these servers: comparison skipped");
        return;
    };
    let a = dump(source(), &sdb, &bin);
    let b = dump(target(), &tdb, &bin);
    // The comparison means something only if the dump holds what the fixture made.
    for expected in [
        "CREATE TABLE rel_plain.kitchen (",
        "ATTACH PARTITION rel_plain.measure_2019",
        "ALTER INDEX rel_plain.measure_v_idx ATTACH PARTITION rel_plain.measure_2020_v;",
        "CREATE POLICY p_insert ON rel_plain.kitchen AS RESTRICTIVE",
        "CREATE MATERIALIZED VIEW rel_plain.mv_on_mv AS",
        "ALTER TABLE rel_plain.kitchen ENABLE ALWAYS TRIGGER",
        "GRANT SELECT(code) ON TABLE rel_plain.kitchen TO \"dbm rel \"\"reader\"\"\";",
        "CREATE FOREIGN TABLE rel_plain.ft (",
        "ADD CONSTRAINT emp_dept_fk FOREIGN KEY (dept) REFERENCES rel_plain.dept(id) MATCH FULL",
    ] {
        assert!(a.contains(expected), "source dump lacks {expected:?}:\n{a}");
    }
    if a != b {
        let dir = std::env::temp_dir().join(format!("db-migrate-relations-{sdb}"));
        let _ = std::fs::create_dir_all(&dir);
        let _ = std::fs::write(dir.join("source.sql"), &a);
        let _ = std::fs::write(dir.join("target.sql"), &b);
        panic!(
            "pg_dump --schema-only differs (files in {}):\n{}",
            dir.display(),
            line_diff(&a, &b)
        );
    }
}

#[tokio::test]
async fn reading_the_target_again_gives_the_same_statements() {
    let (_, tdb, collected) = migrate_relations_alone(FIXTURE).await;
    let t = session(target(), &tdb).await;
    let again = relations::collect(&t).await.expect("target relations read");
    let mut a = statements(&collected.objects);
    let mut b = statements(&again.objects);
    a.sort();
    b.sort();
    if a != b {
        panic!(
            "statements differ between source and target:\n{}",
            line_diff(&a.join("\n"), &b.join("\n"))
        );
    }
    if source().major == target().major {
        // (Row types of sequences, for one, come and go between majors.)
        assert_eq!(collected.aliases.len(), again.aliases.len());
    }
}

#[tokio::test]
async fn the_oracle_agrees_on_the_relations_fixture() {
    support::oracle::assert_schema_roundtrip(FIXTURE).await;
}

#[test]
fn the_prelude_holds_no_relations() {
    let p = prelude(FIXTURE);
    assert!(p.contains("CREATE FUNCTION rel_plain.next_code()"));
    for word in [
        "CREATE TABLE",
        "CREATE VIEW",
        "CREATE SEQUENCE",
        "CREATE INDEX",
    ] {
        assert!(!p.contains(word), "prelude holds {word}");
    }
}

/// Table access methods are kept (`USING`). pg_dump says so only in a `SET
/// default_table_access_method` line, which dump comparisons drop, so this looks at `relam`.
/// Creating the access method itself is not the relation readers' job: the prelude does it.
#[tokio::test]
async fn table_access_methods_are_kept() {
    let fixture = "-- @prelude\n\
        CREATE ACCESS METHOD rel_heap_copy TYPE TABLE HANDLER heap_tableam_handler;\n\
        CREATE SCHEMA rel_am;\n\
        -- @relations\n\
        CREATE TABLE rel_am.t (a integer) USING rel_heap_copy;\n\
        CREATE TABLE rel_am.plain (a integer);\n\
        CREATE MATERIALIZED VIEW rel_am.mv USING rel_heap_copy AS SELECT 1 AS one;\n";
    let (sdb, tdb, _) = migrate_relations_alone(fixture).await;
    let sql = "SELECT c.relname::text, a.amname::text FROM pg_class c \
               JOIN pg_am a ON a.oid = c.relam JOIN pg_namespace n ON n.oid = c.relnamespace \
               WHERE n.nspname = 'rel_am' ORDER BY 1";
    let a = source().query_strings(&sdb, sql).await;
    let b = target().query_strings(&tdb, sql).await;
    assert_eq!(a.len(), 3);
    assert_eq!(a, b);
}

/// A function with a SQL-standard body that reads a table, used in that table's column default
/// or CHECK, forms a dependency cycle. Like pg_dump, the engine creates the table without the
/// default / CHECK and adds it after the function (the default in pre-data, the CHECK in
/// post-data), without a cycle warning, and both dumps come out identical.
#[tokio::test]
async fn function_table_cycles_are_broken_by_splitting_the_default_or_check() {
    if source().major < 14 {
        eprintln!("SQL-standard function bodies need PostgreSQL 14: skipped");
        return;
    }
    let db = support::oracle::assert_schema_roundtrip(include_str!("fixtures/cycles.sql")).await;

    let s = session(source(), &db).await;
    let schema = graph::read_schema(&s).await.expect("schema reads");
    assert!(schema.warnings.is_empty(), "{:?}", schema.warnings);
    let position = |kind: ObjectKind, name: &str| {
        schema
            .objects
            .iter()
            .position(|o| o.kind == kind && o.name == name)
            .unwrap_or_else(|| panic!("no {kind:?} {name:?}"))
    };
    let table = position(ObjectKind::Table, "ticket");
    let function = position(ObjectKind::Function, "next_ticket");
    let default = position(ObjectKind::TablePart, "ticket seq no");
    assert!(table < function && function < default);
    assert_eq!(
        schema.objects[default].create,
        vec![
            "ALTER TABLE ONLY \"cyc sch\".\"ticket\" ALTER COLUMN \"seq no\" \
             SET DEFAULT \"cyc sch\".next_ticket()"
                .to_string()
        ]
    );
    let check = position(ObjectKind::TablePart, "budget budget \"cap\"");
    assert!(position(ObjectKind::Function, "budget_total") < check);
    assert!(position(ObjectKind::Table, "budget_2024") < check);
    assert_eq!(
        schema.objects[check].create,
        vec![
            "ALTER TABLE \"cyc sch\".\"budget\" ADD CONSTRAINT \"budget \"\"cap\"\"\" \
             CHECK ((\"cyc sch\".budget_total() < (1000000)::numeric))"
                .to_string()
        ]
    );
    assert_eq!(schema.objects[check].comments().len(), 1);

    // Only the parts in a cycle are split: the other default and CHECK stay inline.
    let ticket = &schema.objects[table].create[0];
    assert!(
        ticket.contains("\"note\" text DEFAULT 'none'::text"),
        "{ticket}"
    );
    assert!(!ticket.contains("next_ticket"), "{ticket}");
    let budget = &schema.objects[position(ObjectKind::Table, "budget")].create[0];
    assert!(
        budget.contains("CHECK ((amount > (0)::numeric))"),
        "{budget}"
    );
    assert!(!budget.contains("budget_total"), "{budget}");
    let parts = schema
        .objects
        .iter()
        .filter(|o| o.kind == ObjectKind::TablePart)
        .count();
    assert_eq!(parts, 2);
}

/// User-defined access methods (not an extension's) are created with their comment, before
/// what uses them: tables and materialized views keep `USING`, an index AM gets its operator
/// class and indexes. pg_dump shows the access methods and the index; the tables' access
/// methods, which pg_dump only sets through `default_table_access_method`, are compared in
/// `pg_class.relam`.
#[tokio::test]
async fn access_methods_are_created_before_what_uses_them() {
    let fixture = r#"
        CREATE ACCESS METHOD "heap ""two""" TYPE TABLE HANDLER heap_tableam_handler;
        COMMENT ON ACCESS METHOD "heap ""two""" IS 'heap under another name';
        CREATE ACCESS METHOD brin2 TYPE INDEX HANDLER brinhandler;
        CREATE SCHEMA am_use;
        CREATE OPERATOR CLASS am_use.int4_minmax_ops2 DEFAULT FOR TYPE integer USING brin2 AS
            OPERATOR 1 <, OPERATOR 2 <=, OPERATOR 3 =, OPERATOR 4 >=, OPERATOR 5 >,
            FUNCTION 1 brin_minmax_opcinfo(internal),
            FUNCTION 2 brin_minmax_add_value(internal, internal, internal, internal),
            FUNCTION 3 brin_minmax_consistent(internal, internal, internal),
            FUNCTION 4 brin_minmax_union(internal, internal, internal);
        CREATE TABLE am_use.t (a integer) USING "heap ""two""";
        CREATE INDEX t_a_idx ON am_use.t USING brin2 (a);
        CREATE MATERIALIZED VIEW am_use.mv USING "heap ""two""" AS SELECT 1 AS one;
    "#;
    let db = support::oracle::assert_schema_roundtrip(fixture).await;
    let sql = "SELECT c.relname::text, a.amname::text FROM pg_class c \
               JOIN pg_am a ON a.oid = c.relam JOIN pg_namespace n ON n.oid = c.relnamespace \
               WHERE n.nspname = 'am_use' ORDER BY 1";
    let expected = vec![
        vec![Some("mv".to_string()), Some("heap \"two\"".to_string())],
        vec![Some("t".to_string()), Some("heap \"two\"".to_string())],
        vec![Some("t_a_idx".to_string()), Some("brin2".to_string())],
    ];
    assert_eq!(source().query_strings(&db, sql).await, expected);
    assert_eq!(target().query_strings(&db, sql).await, expected);
    let comment = "SELECT obj_description(oid, 'pg_am') FROM pg_am WHERE amname = 'heap \"two\"'";
    assert_eq!(
        target().query_strings(&db, comment).await,
        vec![vec![Some("heap under another name".to_string())]]
    );
}

/// Creates a tablespace named `name` in `cluster`, in a directory of the cluster's own scratch
/// directory owned by the server's user (the owner of the data directory).
async fn create_tablespace(cluster: &Cluster, name: &str) {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let owner = std::fs::metadata(&cluster.data_dir).expect("data directory");
    let dir = cluster
        .data_dir
        .parent()
        .expect("the data directory has a parent")
        .join(format!("tablespace_{name}"));
    std::fs::create_dir(&dir).expect("tablespace directory");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::os::unix::fs::chown(&dir, Some(owner.uid()), Some(owner.gid())).unwrap();
    cluster
        .execute(
            "postgres",
            &format!(
                "CREATE TABLESPACE {} LOCATION {}",
                support::quote_ident(name),
                support::quote_literal(&dir.to_string_lossy())
            ),
        )
        .await;
}

/// Relations and indexes of every kind placed in tablespace `ts`.
fn tablespace_fixture(ts: &str) -> String {
    let ts = support::quote_ident(ts);
    format!(
        "CREATE SCHEMA ts_use;\n\
         CREATE TABLE ts_use.t (id integer PRIMARY KEY USING INDEX TABLESPACE {ts}, v text) \
             TABLESPACE {ts};\n\
         CREATE INDEX t_v_idx ON ts_use.t (v) TABLESPACE {ts};\n\
         CREATE TABLE ts_use.plain (id integer);\n\
         CREATE INDEX plain_id_idx ON ts_use.plain (id) TABLESPACE {ts};\n\
         CREATE MATERIALIZED VIEW ts_use.mv TABLESPACE {ts} AS SELECT 1 AS one;\n\
         CREATE TABLE ts_use.parted (id integer, k integer) PARTITION BY RANGE (k) TABLESPACE {ts};\n\
         CREATE TABLE ts_use.parted_1 PARTITION OF ts_use.parted FOR VALUES FROM (0) TO (10);\n"
    )
}

/// `(relation, tablespace or NULL)` of every relation of schema `ts_use`.
const TABLESPACE_OF: &str = "SELECT c.relname::text, ts.spcname::text FROM pg_class c \
     LEFT JOIN pg_tablespace ts ON ts.oid = c.reltablespace \
     WHERE c.relnamespace = 'ts_use'::regnamespace AND c.relkind IN ('r', 'p', 'm', 'i', 'I') \
     ORDER BY 1";

/// A tablespace the target has (created by its administrator under the same name) receives the
/// same relations and indexes as in the source: both dumps are identical, and so is every
/// relation's tablespace (pg_dump shows those on `SET default_tablespace` lines, which dump
/// comparisons drop, hence the look at `pg_class`).
#[tokio::test]
async fn relations_stay_in_a_tablespace_the_target_has() {
    let name = support::unique_name("dbm ts both");
    create_tablespace(source(), &name).await;
    create_tablespace(target(), &name).await;
    let db = support::oracle::assert_schema_roundtrip(&tablespace_fixture(&name)).await;
    let a = source().query_strings(&db, TABLESPACE_OF).await;
    let b = target().query_strings(&db, TABLESPACE_OF).await;
    let placed = a.iter().filter(|r| r[1].as_deref() == Some(&name)).count();
    // t, its primary key and index, plain's index, mv, parted and parted_1.
    assert_eq!(placed, 7, "{a:?}");
    assert_eq!(a, b);
}

/// Without a tablespace of that name in the target (the usual case between managed services),
/// everything is created in the target database's default tablespace, one warning per object,
/// and the database succeeds. Tablespaces themselves are never created.
#[tokio::test]
async fn relations_of_a_tablespace_the_target_lacks_go_to_its_default_one() {
    let (src, tgt) = (source(), target());
    let name = support::unique_name("dbm ts src only");
    create_tablespace(src, &name).await;
    let db = src.create_database("ts missing").await;
    src.execute(&db, &tablespace_fixture(&name)).await;
    let opts = db_migrate::MigrateOptions {
        source: ConnInfo::parse(&src.superuser_uri("postgres")).unwrap(),
        target: ConnInfo::parse(&tgt.superuser_uri("postgres")).unwrap(),
        only_dbs: vec![db.clone()],
        schema_only: true,
        ..Default::default()
    };
    let result = db_migrate::migrate::PgMigrate::new(opts).migrate().await;
    let entry = result.databases.iter().find(|d| d.dbname == db).unwrap();
    assert_eq!(
        entry.status,
        db_migrate::DbStatus::Done,
        "{}",
        result.to_json()
    );
    let missing = format!(
        "is created in the target database's default tablespace instead of tablespace {}: \
         the target has no tablespace of that name",
        support::quote_ident(&name)
    );
    let warned: Vec<String> = result
        .warnings
        .iter()
        .map(|w| w.to_string())
        .filter(|w| w.contains(&missing))
        .collect();
    // One per object: t, its primary key, t_v_idx, plain_id_idx, mv, parted and parted_1.
    assert_eq!(warned.len(), 7, "{:#?}", result.warnings);
    assert!(
        warned
            .iter()
            .any(|w| w.contains("index \"ts_use\".\"plain_id_idx\" is created")),
        "{warned:#?}"
    );
    let placed = tgt.query_strings(&db, TABLESPACE_OF).await;
    // Those seven and the table `plain`, all in the default tablespace.
    assert_eq!(placed.len(), 8, "{placed:?}");
    assert!(placed.iter().all(|r| r[1].is_none()), "{placed:?}");
    let exists = tgt
        .query_strings(
            "postgres",
            &format!(
                "SELECT count(*) FROM pg_tablespace WHERE spcname = {}",
                support::quote_literal(&name)
            ),
        )
        .await;
    assert_eq!(exists, vec![vec![Some("0".to_string())]]);
}
