//! Choosing what moves, on real clusters through the real `pg_migrate`: table and schema
//! filters with pg_dump patterns, excluded table data, `-xe`, strict database selection, the
//! managed service's own databases and roles, the old tool's flags and output format, and bad
//! input naming the flag.

// Each module keeps its own copy of the harness, so its clusters are its own (as when every
// file was a test binary of its own).
#[path = "support/mod.rs"]
mod support;

use std::process::Output;

use serde_json::Value;
use support::cli::{SERIAL, pg_migrate, superuser_uris, text};
use support::{Cluster, quote_ident, source, target};

/// `pg_migrate -s SRC -t TGT --only-db DB <extra> --json -` as superusers; the parsed JSON.
fn run_json(db: &str, extra: &[&str]) -> (Output, Value) {
    let (s, t) = superuser_uris();
    let mut args = vec!["-s", &s, "-t", &t, "--only-db", db, "--json", "-"];
    args.extend_from_slice(extra);
    let o = pg_migrate(&args);
    let v = serde_json::from_slice(&o.stdout).unwrap_or(Value::Null);
    (o, v)
}

fn warnings(v: &Value) -> Vec<String> {
    v["warnings"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|w| w["message"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The relations (`schema.name kind`) of the user schemas of `db`.
async fn relations(c: &Cluster, db: &str) -> Vec<String> {
    c.query_strings(
        db,
        "SELECT n.nspname || '.' || c.relname || ' ' || c.relkind::text FROM pg_class c \
           JOIN pg_namespace n ON n.oid = c.relnamespace \
          WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') \
            AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast' \
            AND n.nspname <> 'db_migrate' \
          ORDER BY 1",
    )
    .await
    .into_iter()
    .map(|r| r[0].clone().unwrap())
    .collect()
}

async fn count(c: &Cluster, db: &str, table: &str) -> String {
    c.query_strings(db, &format!("SELECT count(*) FROM {table}"))
        .await[0][0]
        .clone()
        .unwrap()
}

/// Two schemas of tables with a serial key, a foreign key across schemas, a view across
/// schemas, a partitioned table, a capitalised name with a dot, a trigger.
const SHOP: &str = r#"
CREATE SCHEMA app; CREATE SCHEMA audit;
CREATE TABLE app.customers (id serial PRIMARY KEY, name text);
CREATE TABLE app.orders (id serial PRIMARY KEY, customer int REFERENCES app.customers, total numeric);
CREATE TABLE app."Odd.Name" (id int PRIMARY KEY);
CREATE TABLE audit.log (id bigserial PRIMARY KEY, order_id int REFERENCES app.orders, at timestamptz DEFAULT now());
CREATE VIEW app.order_log AS SELECT o.id, l.at FROM app.orders o JOIN audit.log l ON l.order_id = o.id;
CREATE TABLE app.events (id int, at date) PARTITION BY RANGE (at);
CREATE TABLE app.events_2024 PARTITION OF app.events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE FUNCTION app.stamp() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$;
CREATE TRIGGER stamp BEFORE INSERT ON app.orders FOR EACH ROW EXECUTE FUNCTION app.stamp();
CREATE TABLE public.settings (k text PRIMARY KEY, v text);
INSERT INTO app.customers (name) SELECT 'c' || g FROM generate_series(1, 10) g;
INSERT INTO app.orders (customer, total) SELECT 1 + g % 10, g FROM generate_series(1, 100) g;
INSERT INTO app."Odd.Name" VALUES (1), (2);
INSERT INTO audit.log (order_id) SELECT g FROM generate_series(1, 50) g;
INSERT INTO app.events VALUES (1, '2024-05-01'), (2, '2024-06-01');
INSERT INTO public.settings VALUES ('a', 'b');
"#;

async fn shop(prefix: &str) -> String {
    let db = source().create_database(prefix).await;
    source().execute(&db, SHOP).await;
    db
}

#[tokio::test]
async fn schema_and_table_filters_create_exactly_the_selection_and_name_what_they_skip() {
    let _turn = SERIAL.read().await;
    let db = shop("sel filters").await;
    let (o, v) = run_json(
        &db,
        &[
            "--dump-only",
            "--exclude-schema",
            "audit",
            "--skip-table",
            "app.\"Odd.Name\"",
            "--exclude-table-data",
            "public.settings",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let rels = relations(target(), &db).await;
    assert_eq!(
        rels,
        vec![
            "app.customers r",
            "app.customers_id_seq S",
            "app.events p",
            "app.events_2024 r",
            "app.orders r",
            "app.orders_id_seq S",
            "public.settings r",
        ],
        "{}",
        text(&o)
    );
    assert_eq!(count(target(), &db, "app.orders").await, "100");
    assert_eq!(count(target(), &db, "app.events").await, "2");
    // Created, but its rows stay behind.
    assert_eq!(count(target(), &db, "public.settings").await, "0");
    let nsp = target()
        .query_strings(&db, "SELECT 1 FROM pg_namespace WHERE nspname = 'audit'")
        .await;
    assert!(nsp.is_empty(), "schema audit left out");
    // The view reading an excluded schema's table is skipped with a warning naming both.
    let w = warnings(&v);
    assert!(
        w.iter()
            .any(|w| w.contains("view \"app\".\"order_log\" skipped")
                && w.contains("table \"audit\".\"log\"")),
        "{w:#?}"
    );
    // The trigger and sequences of kept tables came along; the sequence values too.
    let trig = target()
        .query_strings(&db, "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")
        .await;
    assert_eq!(trig, vec![vec![Some("stamp".to_string())]]);
    let seq = target()
        .query_strings(&db, "SELECT last_value FROM app.orders_id_seq")
        .await;
    assert_eq!(seq[0][0].as_deref(), Some("100"));
}

#[tokio::test]
async fn with_table_patterns_take_tables_their_partitions_and_owned_sequences_only() {
    let _turn = SERIAL.read().await;
    let db = shop("sel with").await;
    let (o, v) = run_json(
        &db,
        &[
            "--dump-only",
            "--with-table",
            "app.ord*,APP.EVENTS",
            "--with-table",
            &format!("{db}.audit.log"),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let rels = relations(target(), &db).await;
    assert_eq!(
        rels,
        vec![
            "app.events p",
            "app.events_2024 r",
            "app.order_log v",
            "app.orders r",
            "app.orders_id_seq S",
            "audit.log r",
            "audit.log_id_seq S",
        ],
        "{}",
        text(&o)
    );
    assert_eq!(count(target(), &db, "audit.log").await, "50");
    // The foreign key to the table left out is skipped, named with the table.
    let w = warnings(&v);
    assert!(
        w.iter()
            .any(|w| w.contains("orders_customer_fkey") && w.contains("\"app\".\"customers\"")),
        "{w:#?}"
    );
    let entry = &v["databases"][0];
    assert!(
        entry["message"]
            .as_str()
            .unwrap()
            .contains("selection: 4 tables selected (3 with rows)"),
        "{entry}"
    );
}

/// Every relation kind pg_dump's `-t` / `-T` / `--exclude-table-data` take: tables, a view over
/// another schema's table, materialized views, a sequence of its own, a foreign table, and a
/// table created `LIKE` another, sharing its serial sequence.
const KINDS: &str = r#"
CREATE SCHEMA a; CREATE SCHEMA b; CREATE SCHEMA copy;
CREATE TABLE a.t1 (id serial PRIMARY KEY, v int);
CREATE TABLE a.t2 (id int);
CREATE TABLE a.foo (id serial PRIMARY KEY, n text);
CREATE TABLE copy.foo (LIKE a.foo INCLUDING ALL);
CREATE SEQUENCE a.tally;
CREATE VIEW b.v AS SELECT * FROM a.t2;
CREATE MATERIALIZED VIEW a.mv AS SELECT count(*) FROM a.t1;
CREATE MATERIALIZED VIEW a.mv2 AS SELECT id FROM a.t1;
CREATE MATERIALIZED VIEW a.mv3 AS SELECT count(*) FROM a.mv2;
CREATE FOREIGN DATA WRAPPER nowhere; CREATE SERVER far FOREIGN DATA WRAPPER nowhere;
CREATE FOREIGN TABLE a.remote (x int) SERVER far;
INSERT INTO a.t1 (v) SELECT g FROM generate_series(1, 5) g;
INSERT INTO a.foo (n) VALUES ('x'), ('y'); INSERT INTO copy.foo (n) VALUES ('z');
REFRESH MATERIALIZED VIEW a.mv; REFRESH MATERIALIZED VIEW a.mv2; REFRESH MATERIALIZED VIEW a.mv3;
"#;

#[tokio::test]
async fn table_filters_follow_pg_dump_for_every_relation_kind() {
    let _turn = SERIAL.read().await;
    // --with-table: only the relations named, whatever their kind; the others are named.
    let db = source().create_database("sel kinds with").await;
    source().execute(&db, KINDS).await;
    let (o, v) = run_json(&db, &["--dump-only", "--with-table", "a.t*"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(
        relations(target(), &db).await,
        vec!["a.t1 r", "a.t1_id_seq S", "a.t2 r", "a.tally S"],
        "{}",
        text(&o)
    );
    let w = warnings(&v);
    for named in [
        "view \"b\".\"v\"",
        "materialized view \"a\".\"mv\"",
        "materialized view \"a\".\"mv2\"",
        "materialized view \"a\".\"mv3\"",
        "foreign table \"a\".\"remote\"",
    ] {
        assert!(
            w.iter()
                .any(|w| w.starts_with(named) && w.contains("no --with-table pattern names it")),
            "{named}: {w:#?}"
        );
    }

    // --skip-table and --exclude-table-data take materialized views; a table left in keeps the
    // sequence its default uses although the sequence's owner is skipped.
    let db = source().create_database("sel kinds skip").await;
    source().execute(&db, KINDS).await;
    let (o, v) = run_json(
        &db,
        &[
            "--dump-only",
            "--skip-table",
            "a.foo,a.mv",
            "--exclude-table-data",
            "a.mv2",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(
        relations(target(), &db).await,
        vec![
            "a.foo_id_seq S",
            "a.mv2 m",
            "a.mv3 m",
            "a.remote f",
            "a.t1 r",
            "a.t1_id_seq S",
            "a.t2 r",
            "a.tally S",
            "b.v v",
            "copy.foo r",
        ],
        "{}",
        text(&o)
    );
    assert_eq!(count(target(), &db, "copy.foo").await, "1");
    let state = target()
        .query_strings(
            &db,
            "SELECT (SELECT last_value FROM a.foo_id_seq)::text, \
                    (SELECT relispopulated FROM pg_class WHERE oid = 'a.mv2'::regclass)::text, \
                    (SELECT relispopulated FROM pg_class WHERE oid = 'a.mv3'::regclass)::text",
        )
        .await;
    assert_eq!(
        state[0],
        vec![
            Some("3".to_string()),
            Some("false".to_string()),
            Some("false".to_string())
        ]
    );
    let w = warnings(&v);
    assert!(
        w.iter().any(|w| w
            .contains("sequence \"a\".\"foo_id_seq\" migrated without its owning table")
            && w.contains("\"copy\".\"foo\"")),
        "{w:#?}"
    );
    assert!(
        !w.iter().any(|w| w.contains("copy\".\"foo\" skipped")),
        "{w:#?}"
    );
    // A materialized view reading one left unpopulated is left unpopulated, and says why.
    assert!(
        w.iter()
            .any(|w| w.contains("\"a\".\"mv3\" left unpopulated")
                && w.contains("materialized view \"a\".\"mv2\" (--exclude-table-data)")),
        "{w:#?}"
    );
    assert!(
        !w.iter()
            .any(|w| w.contains("\"a\".\"mv\" left unpopulated")),
        "{w:#?}"
    );
}

#[tokio::test]
async fn replication_publishes_exactly_the_selected_tables() {
    let _turn = SERIAL.read().await;
    let db = shop("sel repl").await;
    let (o, v) = run_json(
        &db,
        &["--repl-only", "--with-table", "app.customers,app.orders"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(v["databases"][0]["status"], "running", "{v}");
    let published = source()
        .query_strings(
            &db,
            "SELECT schemaname || '.' || tablename FROM pg_publication_tables ORDER BY 1",
        )
        .await;
    assert_eq!(
        published,
        vec![
            vec![Some("app.customers".to_string())],
            vec![Some("app.orders".to_string())]
        ]
    );
    // A write load after the hand-over, then the cut-over.
    source()
        .execute(
            &db,
            "INSERT INTO app.orders (customer, total) SELECT 1, g FROM generate_series(1, 500) g; \
             UPDATE app.customers SET name = 'renamed' WHERE id = 3; \
             DELETE FROM app.orders WHERE id > 90; \
             INSERT INTO audit.log (order_id) VALUES (20)",
        )
        .await;
    let (o, v) = run_json(
        &db,
        &[
            "--with-table",
            "app.customers,app.orders",
            "--max-replication-lag",
            "0",
            "--stop-replication",
            "--replication-timeout",
            "120",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(v["databases"][0]["status"], "done", "{v}");
    for t in ["app.orders", "app.customers"] {
        let q = format!("SELECT count(*), sum(hashtext(x::text)) FROM {t} x");
        assert_eq!(
            source().query_strings(&db, &q).await,
            target().query_strings(&db, &q).await,
            "{t} equal"
        );
    }
    let absent = target()
        .query_strings(&db, "SELECT 1 FROM pg_class WHERE relname = 'log'")
        .await;
    assert!(absent.is_empty(), "audit.log is not on the target");
}

#[tokio::test]
async fn excluded_extension_is_not_created_and_its_users_are_skipped() {
    let _turn = SERIAL.read().await;
    let db = source().create_database("sel xe").await;
    source()
        .execute(
            &db,
            "CREATE EXTENSION pg_buffercache; \
             CREATE VIEW public.buffers AS SELECT count(*) FROM public.pg_buffercache; \
             CREATE TABLE public.kept (id int PRIMARY KEY); INSERT INTO public.kept VALUES (1)",
        )
        .await;
    // A managed-service admin on the target cannot create pg_buffercache (not trusted).
    let (admin, pw) = target().create_admin("sel xe admin", false).await;
    let t = target().uri(&admin, &pw, "postgres");
    let s = source().superuser_uri("postgres");
    let base = [
        "-s",
        &s,
        "-t",
        &t,
        "--only-db",
        &db,
        "--dump-only",
        "--json",
        "-",
    ];
    let refused = pg_migrate(&base);
    // A database-level preflight error: that database fails; the only one, so the run is
    // refused as a whole (exit 2).
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    assert!(text(&refused).contains("pg_buffercache"));

    let mut args = base.to_vec();
    args.extend(["-xe", "pg_buffercache"]);
    let o = pg_migrate(&args);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let w = warnings(&v);
    assert!(
        w.iter()
            .any(|w| w.contains("view \"public\".\"buffers\" skipped")
                && w.contains("extension \"pg_buffercache\"")),
        "{w:#?}"
    );
    assert_eq!(count(target(), &db, "public.kept").await, "1");
    let ext = target()
        .query_strings(
            &db,
            "SELECT 1 FROM pg_extension WHERE extname = 'pg_buffercache'",
        )
        .await;
    assert!(ext.is_empty());
}

#[tokio::test]
async fn provider_databases_and_roles_are_left_out_and_the_run_succeeds() {
    let _turn = SERIAL.write().await;
    let (src, tgt) = (source(), target());
    let mine = src.create_database("sel provider").await;
    for sql in [
        "CREATE DATABASE rdsadmin",
        "ALTER DATABASE rdsadmin ALLOW_CONNECTIONS false",
        "CREATE DATABASE _aiven",
        "CREATE ROLE rds_superuser NOLOGIN",
        "CREATE ROLE cloudsqlsuperuser NOLOGIN",
    ] {
        let _ = src.connect("postgres").await.batch_execute(sql).await;
    }
    // Every other database of this binary's source is filtered by hand; the provider ones not.
    let others: Vec<String> = src
        .query_strings("postgres", "SELECT datname FROM pg_database")
        .await
        .into_iter()
        .filter_map(|r| r[0].clone())
        .filter(|d| {
            ![
                mine.as_str(),
                "rdsadmin",
                "_aiven",
                "template0",
                "template1",
            ]
            .contains(&d.as_str())
        })
        .collect();
    let filter = others.join(",");
    let (s, t) = (src.superuser_uri("postgres"), tgt.superuser_uri("postgres"));
    let o = pg_migrate(&[
        "-s",
        &s,
        "-t",
        &t,
        "-f",
        &filter,
        "--dump-only",
        "--json",
        "-",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let dbs: Vec<&str> = v["databases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["dbname"].as_str().unwrap())
        .collect();
    assert_eq!(dbs, vec![mine.as_str()], "{v}");
    let lines: Vec<String> = v["validation"]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["check"] == "provider-objects")
        .map(|f| f["message"].as_str().unwrap().to_string())
        .collect();
    for name in [
        "database \"rdsadmin\"",
        "database \"_aiven\"",
        "role \"rds_superuser\"",
        "role \"cloudsqlsuperuser\"",
    ] {
        assert_eq!(
            lines.iter().filter(|l| l.starts_with(name)).count(),
            1,
            "{name}: {lines:#?}"
        );
    }
    let role = tgt
        .query_strings(
            "postgres",
            "SELECT 1 FROM pg_roles WHERE rolname = 'rds_superuser'",
        )
        .await;
    assert!(role.is_empty(), "provider role not created");
    // Named in --only-db, a provider database is migrated.
    let o = pg_migrate(&[
        "-s",
        &s,
        "-t",
        &t,
        "--only-db",
        "_aiven",
        "--dump-only",
        "--validate",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // One that does not allow connections cannot be, and says why.
    let o = pg_migrate(&["-s", &s, "-t", &t, "--only-db", "rdsadmin", "--validate"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("datallowconn is false"), "{}", text(&o));
}

#[tokio::test]
async fn an_invalid_database_is_left_out_with_a_warning_and_the_run_succeeds() {
    let _turn = SERIAL.write().await;
    an_invalid_database_is_left_out_by(&["--dump-only"]).await;
    an_invalid_database_is_left_out_by(&[
        "--force-method",
        "replication",
        "--max-replication-lag",
        "0",
        "--stop-replication",
    ])
    .await;
}

/// The test above, migrated with the flags `method` (the dump method, or replication cut
/// over in the same run).
async fn an_invalid_database_is_left_out_by(method: &[&str]) {
    let (src, tgt) = (source(), target());
    let mine = src.create_database("sel valid").await;
    let broken = src.create_database("sel invalid").await;
    // What an interrupted DROP DATABASE leaves (PostgreSQL 15.4 and later): nobody can
    // connect to it any more.
    src.execute(
        "postgres",
        &format!(
            "UPDATE pg_database SET datconnlimit = -2 WHERE datname = {}",
            support::quote_literal(&broken)
        ),
    )
    .await;
    let others: Vec<String> = src
        .query_strings("postgres", "SELECT datname FROM pg_database")
        .await
        .into_iter()
        .filter_map(|r| r[0].clone())
        .filter(|d| {
            ![mine.as_str(), broken.as_str(), "template0", "template1"].contains(&d.as_str())
        })
        .collect();
    let filter = others.join(",");
    let (s, t) = (src.superuser_uri("postgres"), tgt.superuser_uri("postgres"));
    let mut args = vec!["-s", &s, "-t", &t, "-f", &filter, "--json", "-"];
    args.extend(method);
    let o = pg_migrate(&args);
    // Dropped before asserting, so that no other test of this binary ever sees it.
    src.execute(
        "postgres",
        &format!("DROP DATABASE {}", quote_ident(&broken)),
    )
    .await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let dbs: Vec<&str> = v["databases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["dbname"].as_str().unwrap())
        .collect();
    assert_eq!(dbs, vec![mine.as_str()], "{v}");
    let said: Vec<&str> = v["validation"]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["message"].as_str())
        .filter(|m| m.contains(&broken))
        .collect();
    assert_eq!(said.len(), 1, "{v}");
    assert!(said[0].contains("invalid"), "{}", said[0]);
    let there = tgt
        .query_strings(
            "postgres",
            &format!(
                "SELECT 1 FROM pg_database WHERE datname = {}",
                support::quote_literal(&broken)
            ),
        )
        .await;
    assert!(there.is_empty(), "the invalid database is not created");
}

#[tokio::test]
async fn legacy_output_has_the_old_tools_lines_and_failure_line() {
    let _turn = SERIAL.read().await;
    let db = source().create_database("sel legacy").await;
    let (s, t) = superuser_uris();
    let o = pg_migrate(&[
        "-s",
        &s,
        "-t",
        &t,
        "--only-db",
        &db,
        "--dump-only",
        "--output-format",
        "legacy",
        "--pgbin",
        "/usr/lib/postgresql/15/bin",
        "--replicate-extension-tables",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "");
    assert_eq!(lines[1], "Roles:");
    let dbs = lines
        .iter()
        .position(|l| *l == "Databases:")
        .expect("Databases: line");
    assert_eq!(lines[dbs - 1], "");
    for l in &lines[2..dbs - 1] {
        assert!(
            l.starts_with("  rolname: '")
                && l.contains("', rolpassword: ")
                && l.contains(", status: '")
                && l.contains("', message: "),
            "{l}"
        );
    }
    assert_eq!(lines.len(), dbs + 3, "{out}");
    assert_eq!(lines[dbs + 2], "");
    let prefix =
        format!("  dbaname: '{db}', method: 'dump', status: 'done', message: 'created database; ");
    assert!(lines[dbs + 1].starts_with(&prefix), "{out}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("--pgbin /usr/lib/postgresql/15/bin ignored"),
        "{err}"
    );
    assert!(!err.contains("did not succeed"), "{err}");

    // A failed database: status 'failed' and the old tool's line on stderr; refused by
    // preflight as the only database, so exit 2 (nothing was written).
    let missing = source().create_database("sel legacy missing").await;
    let o = pg_migrate(&[
        "-s",
        &s,
        "-t",
        &t,
        "--only-db",
        &missing,
        "--no-createdb",
        "--output-format",
        "legacy",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains(&format!(
            "  dbaname: '{missing}', method: None, status: 'failed', message: "
        )),
        "{out}"
    );
    assert!(
        String::from_utf8_lossy(&o.stderr).ends_with("Database migration did not succeed\n"),
        "{}",
        text(&o)
    );
}

#[tokio::test]
async fn print_ddl_and_the_size_check_see_only_the_selection() {
    let _turn = SERIAL.read().await;
    let db = shop("sel ddl").await;
    let (s, t) = superuser_uris();
    let o = pg_migrate(&[
        "-s",
        &s,
        "-t",
        &t,
        "--only-db",
        &db,
        "--schema",
        "audit",
        "--print-ddl",
        "-",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let sql = String::from_utf8_lossy(&o.stdout);
    assert!(sql.contains("CREATE TABLE \"audit\".\"log\""), "{sql}");
    assert!(!sql.contains("\"app\".\"orders\" ("), "{sql}");
    assert!(
        sql.contains("-- warning: "),
        "the FK to app.orders is reported: {sql}"
    );

    let size = |extra: &[&str]| {
        let mut a = vec![
            "-s",
            &s,
            "-t",
            &t,
            "--only-db",
            &db,
            "--validate",
            "--dbs-max-total-size",
        ];
        a.extend_from_slice(extra);
        pg_migrate(&a)
    };
    // The whole database is well above 64 kB; the one selected table's 8 kB pages are not.
    let o = size(&["65536", "--with-table", "app.Odd*"]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "no such table (the pattern folds to lower case): {}",
        text(&o)
    );
    let o = size(&["65536", "--with-table", "app.\"Odd.Name\""]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = size(&["0", "--with-table", "app.\"Odd.Name\""]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("the selected tables total"),
        "{}",
        text(&o)
    );
}

#[tokio::test]
async fn bad_selections_are_errors_naming_the_flag() {
    let _turn = SERIAL.read().await;
    let db = shop("sel bad").await;
    let (s, t) = superuser_uris();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--only-db", ""], "--only-db: empty value"),
        (vec!["-f", " , "], "--filtered-db: empty value"),
        (
            vec!["--only-db", "nosuchdb"],
            "--only-db names database \"nosuchdb\", which does not exist",
        ),
        (
            vec!["--only-db", &db, "--with-table", "ordres"],
            "--with-table \"ordres\" matches no table",
        ),
        (
            vec!["--only-db", &db, "--exclude-schema", "adit"],
            "--exclude-schema \"adit\" matches no schema",
        ),
        (
            vec!["--only-db", &db, "--with-table", "a", "--skip-table", "b"],
            "cannot be used with",
        ),
        (
            vec!["--only-db", &db, "--skip-table", "\"unbalanced"],
            "unbalanced double quote",
        ),
        (
            vec!["--only-db", &db, "--with-table", ""],
            "--with-table: empty value",
        ),
        (
            vec!["--only-db", &db, "--schema", "a.b.c"],
            "too many dot-separated parts",
        ),
        (
            vec!["--only-db", &db, "--output-format", "xml"],
            "--output-format",
        ),
    ];
    for (extra, expected) in cases {
        let mut args = vec!["-s", s.as_str(), "-t", t.as_str(), "--validate"];
        args.extend_from_slice(&extra);
        let o = pg_migrate(&args);
        assert_eq!(o.status.code(), Some(2), "{extra:?}: {}", text(&o));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains(expected),
            "{extra:?}: expected {expected:?} in {err}"
        );
        assert!(!err.contains("Preflight passed"), "{err}");
    }
    let _ = quote_ident("");
}
