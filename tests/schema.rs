//! How the schema stage behaves as a whole: reviewable DDL, ownership rules, and failures that
//! name the object and its SQL. (What it covers, object kind by object kind, is proven by the
//! pg_dump oracle in tests/schema_relations.rs and tests/schema_types.rs.)

// Each module keeps its own copy of the harness, so its clusters are its own (as when every
// file was a test binary of its own).
#[path = "support/mod.rs"]
mod support;

use db_migrate::conn::ConnInfo;
use db_migrate::{DbStatus, MigrateOptions, migrate::PgMigrate};
use support::{quote_ident, quote_literal, source, target};

const SMALL_SCHEMA: &str = r#"
CREATE SCHEMA "app space";
CREATE TABLE "app space"."order" (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, note text);
CREATE INDEX ON "app space"."order" (note);
CREATE VIEW "app space".recent AS SELECT id, note FROM "app space"."order" WHERE id > 10;
COMMENT ON TABLE "app space"."order" IS 'orders';
"#;

async fn options(db: &str, target_uri: String) -> MigrateOptions {
    MigrateOptions {
        source: ConnInfo::parse(&source().superuser_uri("postgres")).unwrap(),
        target: ConnInfo::parse(&target_uri).unwrap(),
        only_dbs: vec![db.to_string()],
        schema_only: true,
        ..Default::default()
    }
}

async fn owner_of(db: &str, rel: &str) -> String {
    target()
        .query_strings(
            db,
            &format!(
                "SELECT pg_get_userbyid(relowner) FROM pg_class WHERE relname = {}",
                quote_literal(rel)
            ),
        )
        .await[0][0]
        .clone()
        .unwrap()
}

#[tokio::test]
async fn print_ddl_writes_the_script_and_creates_nothing() {
    let src = source();
    let db = src.create_database("print ddl ").await;
    src.execute(&db, SMALL_SCHEMA).await;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pg_migrate"))
        .args(["-s", &src.superuser_uri("postgres"), "-t"])
        .arg(target().superuser_uri("postgres"))
        .args(["--only-db", &db, "--print-ddl", "-"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sql = String::from_utf8(out.stdout).unwrap();
    for expected in [
        "CREATE SCHEMA \"app space\"",
        "CREATE TABLE \"app space\".\"order\"",
        "CREATE VIEW \"app space\".\"recent\"",
        "-- post-data",
    ] {
        assert!(sql.contains(expected), "missing {expected:?} in:\n{sql}");
    }
    // The pre-data table comes before the post-data index.
    assert!(sql.find("CREATE TABLE").unwrap() < sql.find("CREATE INDEX").unwrap());
    let exists = target()
        .query_strings(
            "postgres",
            &format!(
                "SELECT 1 FROM pg_database WHERE datname = {}",
                quote_literal(&db)
            ),
        )
        .await;
    assert!(exists.is_empty(), "--print-ddl must not touch the target");
}

#[tokio::test]
async fn owners_are_kept_unless_no_owner() {
    let src = source();
    let owner = support::unique_name("schema owner ");
    let db = src.create_database("owners ").await;
    src.execute(
        "postgres",
        &format!("CREATE ROLE {} NOLOGIN", quote_ident(&owner)),
    )
    .await;
    src.execute(
        &db,
        &format!(
            "CREATE TABLE kept (a int); ALTER TABLE kept OWNER TO {}",
            quote_ident(&owner)
        ),
    )
    .await;
    let opts = options(&db, target().superuser_uri("postgres")).await;
    let result = PgMigrate::new(opts).migrate().await;
    assert!(result.succeeded(), "{}", result.to_json());
    assert_eq!(owner_of(&db, "kept").await, owner);

    let db2 = src.create_database("no owner ").await;
    src.execute(
        &db2,
        &format!(
            "CREATE TABLE dropped (a int); ALTER TABLE dropped OWNER TO {}",
            quote_ident(&owner)
        ),
    )
    .await;
    let mut opts = options(&db2, target().superuser_uri("postgres")).await;
    opts.schema.no_owner = true;
    let result = PgMigrate::new(opts).migrate().await;
    assert!(result.succeeded(), "{}", result.to_json());
    assert_eq!(owner_of(&db2, "dropped").await, "postgres");
}

#[tokio::test]
async fn owners_a_non_superuser_may_not_set_are_counted_in_the_result() {
    let (src, tgt) = (source(), target());
    let owner = support::unique_name("foreign owner ");
    src.execute(
        "postgres",
        &format!("CREATE ROLE {} NOLOGIN", quote_ident(&owner)),
    )
    .await;
    // The role exists in the target as a superuser (a provider's own role, say): the migration
    // user may not act as it. (A CREATEROLE user may join an ordinary role that exists in the
    // target, and then keeps its owners: excluding a role with -xr does not stop that.)
    tgt.execute(
        "postgres",
        &format!("CREATE ROLE {} NOLOGIN SUPERUSER", quote_ident(&owner)),
    )
    .await;
    let db = src.create_database("owners admin ").await;
    src.execute(
        &db,
        &format!(
            "CREATE TABLE a (x int); CREATE TABLE b (x int); \
             ALTER TABLE a OWNER TO {0}; ALTER TABLE b OWNER TO {0}",
            quote_ident(&owner)
        ),
    )
    .await;
    let (admin, pw) = tgt.create_admin("schema admin ", false).await;
    let mut opts = options(&db, tgt.uri(&admin, &pw, "postgres")).await;
    opts.excluded_roles = vec![owner.clone()];
    // Preflight counts both tables before anything is written.
    let report = PgMigrate::new(opts.clone()).validate().await;
    let counted = report
        .findings
        .iter()
        .find(|f| f.check == "owners")
        .unwrap_or_else(|| panic!("no owners finding: {:?}", report.findings));
    assert!(
        counted.message.contains(&format!("2 owned by \"{owner}\"")),
        "{}",
        counted.message
    );
    let result = PgMigrate::new(opts).migrate().await;
    let entry = result.databases.iter().find(|d| d.dbname == db).unwrap();
    assert_eq!(entry.status, DbStatus::Done, "{}", result.to_json());
    // Both tables (and, on sources before 15, the public schema owned by the bootstrap
    // superuser) stay with the migration user, and the result says how many.
    let kept_by_admin: usize = entry
        .message
        .split("; ")
        .find_map(|p| {
            p.strip_suffix(
                " objects could not keep their owner and are owned by the migration user",
            )
        })
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no owner count in: {}", entry.message));
    assert!(kept_by_admin >= 2, "{}", entry.message);
    assert_eq!(owner_of(&db, "a").await, admin);
}

#[tokio::test]
async fn a_target_database_holding_tables_is_refused_before_anything_is_written() {
    let (src, tgt) = (source(), target());
    let db = src.create_database("conflict ").await;
    src.execute(&db, "CREATE TABLE clash (a int, b text)").await;
    // The target database already exists with an incompatible table of the same name: it is
    // not ours to write to (an earlier run of ours would have left a ledger).
    tgt.execute("postgres", &format!("CREATE DATABASE {}", quote_ident(&db)))
        .await;
    tgt.execute(&db, "CREATE TABLE clash (other int)").await;
    let opts = options(&db, tgt.superuser_uri("postgres")).await;
    let result = PgMigrate::new(opts).migrate().await;
    assert!(!result.succeeded());
    let entry = result.databases.iter().find(|d| d.dbname == db).unwrap();
    assert_eq!(entry.status, DbStatus::Failed);
    assert!(
        entry.message.contains(&format!(
            "target database \"{db}\" is not empty: 1 tables, 0 other objects"
        )),
        "{}",
        entry.message
    );
    let columns = tgt
        .query_strings(
            &db,
            "SELECT attname::text FROM pg_attribute WHERE attrelid = 'public.clash'::regclass AND attnum > 0",
        )
        .await;
    assert_eq!(
        columns,
        vec![vec![Some("other".to_string())]],
        "left as it was"
    );
}

#[tokio::test]
async fn a_small_schema_round_trips_through_the_pg_dump_oracle() {
    support::oracle::assert_schema_roundtrip(SMALL_SCHEMA).await;
}

/// Enough tables that every dependency level is split over the sessions: 150 tables, each with
/// a primary key, an index, a comment and a foreign key to the one before (a chain through
/// every table, so the split has to keep each foreign key with both of its tables).
const CHAINED_TABLES: &str = r#"
DO $$
BEGIN
  FOR i IN 1..150 LOOP
    EXECUTE format('CREATE TABLE "t %s" (id int PRIMARY KEY, prev int, v text)', i);
    EXECUTE format('CREATE INDEX ON "t %s" (v)', i);
    EXECUTE format('COMMENT ON TABLE "t %s" IS %L', i, 'table ' || i);
    IF i > 1 THEN
      EXECUTE format('ALTER TABLE "t %s" ADD FOREIGN KEY (prev) REFERENCES "t %s" (id)', i, i - 1);
    END IF;
  END LOOP;
END
$$;
"#;

#[tokio::test]
async fn one_schema_session_or_many_create_the_same_schema() {
    support::oracle::assert_schema_roundtrip_with(CHAINED_TABLES, std::num::NonZeroUsize::new(1))
        .await;
    support::oracle::assert_schema_roundtrip_with(CHAINED_TABLES, std::num::NonZeroUsize::new(8))
        .await;
}

/// A managed-service admin of `cluster` (not superuser: superusers ignore connection limits)
/// that may hold `limit` connections at once.
async fn admin_limited_to(
    cluster: &support::Cluster,
    prefix: &str,
    limit: u32,
) -> (String, String) {
    let (admin, pw) = cluster.create_admin(prefix, false).await;
    cluster
        .execute(
            "postgres",
            &format!(
                "ALTER ROLE {} CONNECTION LIMIT {limit}",
                quote_ident(&admin)
            ),
        )
        .await;
    (admin, pw)
}

/// A target that accepts fewer connections than `--schema-jobs` asks for (here the migration
/// role's CONNECTION LIMIT) gets the schema on the sessions it accepted, and the result says so.
#[tokio::test]
async fn a_target_short_of_connections_gets_the_schema_on_fewer_sessions() {
    let (src, tgt) = (source(), target());
    let db = src.create_database("few slots ").await;
    src.execute(&db, CHAINED_TABLES).await;
    let (admin, pw) = admin_limited_to(tgt, "few slots admin ", 3).await;
    let mut opts = options(&db, tgt.uri(&admin, &pw, "postgres")).await;
    opts.schema_jobs = std::num::NonZeroUsize::new(6);
    let result = PgMigrate::new(opts).migrate().await;
    let entry = result.databases.iter().find(|d| d.dbname == db).unwrap();
    assert_eq!(entry.status, DbStatus::Done, "{}", result.to_json());
    // Preflight sees the role's connection limit and lowers --schema-jobs up front; a target
    // that refuses sessions only when they are opened gets the schema on those it accepted.
    // Either way the result says so.
    let warning = result
        .warnings
        .iter()
        .map(|w| db_migrate::cli::words::text(&w.to_string()).into_owned())
        .find(|w| {
            w.contains("(--schema-jobs) lowered from 6")
                || w.contains("target sessions instead of 6")
        })
        .unwrap_or_else(|| panic!("no warning about sessions: {:?}", result.warnings));
    assert!(
        warning.contains("connection slots") || warning.contains("too many connections"),
        "{warning}"
    );
    let tables = tgt
        .query_strings(
            &db,
            "SELECT count(*) FROM pg_class WHERE relkind = 'r' AND relname LIKE 't %'",
        )
        .await;
    assert_eq!(tables[0][0].as_deref(), Some("150"));
}

/// With --schema-only no data moves, so the replication method's checks (here: a table with
/// no primary key, which logical replication could not update) are not run nor reported.
#[tokio::test]
async fn schema_only_reports_nothing_about_replication() {
    let (src, tgt) = (source(), target());
    let db = src.create_database("schema only no repl ").await;
    src.execute(
        &db,
        "CREATE TABLE no_key (x int); INSERT INTO no_key VALUES (1)",
    )
    .await;
    let opts = options(&db, tgt.superuser_uri("postgres")).await;
    let result = PgMigrate::new(opts).migrate().await;
    let entry = result.databases.iter().find(|d| d.dbname == db).unwrap();
    assert_eq!(entry.status, DbStatus::Done, "{}", result.to_json());
    let json = result.to_json();
    assert!(!json.contains("replica identity"), "{json}");
    let rows = tgt.query_strings(&db, "SELECT count(*) FROM no_key").await;
    assert_eq!(
        rows[0][0].as_deref(),
        Some("0"),
        "no data with --schema-only"
    );
}

/// The catalog is read in one snapshot, on a second session too when the source grants one: a
/// source that accepts a single connection (here the role's CONNECTION LIMIT) is read on that
/// one, and reads the same.
#[tokio::test]
async fn a_source_granting_one_connection_reads_the_same_schema() {
    let src = source();
    let db = src.create_database("one connection ").await;
    src.execute(&db, CHAINED_TABLES).await;
    let (user, pw) = admin_limited_to(src, "one connection reader ", 1).await;
    let open = |uri: String| async move {
        db_migrate::conn::connect(&ConnInfo::parse(&uri).unwrap(), None)
            .await
            .expect("connects")
    };
    let two = support::oracle::statements_read_on(&open(src.superuser_uri(&db)).await).await;
    let single = open(src.uri(&user, &pw, &db)).await;
    let one = support::oracle::statements_read_on(&single).await;
    assert!(one.contains("CREATE TABLE"), "{one}");
    assert_eq!(one, two);
    // The snapshot's transaction is over: the session is usable as it was.
    let row = single
        .query_one(
            "SELECT pg_catalog.current_setting('transaction_isolation')",
            &[],
        )
        .await
        .expect("session usable");
    assert_eq!(row.get::<_, String>(0), "read committed");
}

/// A target user without superuser is refused an untrusted extension, an untrusted-language
/// function and the like (SQLSTATE 42501): each is skipped with a warning, and so is every
/// object that needs it, directly or not, in pre-data or post-data, each with a warning naming
/// what it depends on; everything else is created and the database succeeds.
#[tokio::test]
async fn objects_depending_on_a_skipped_object_are_skipped_with_it() {
    let (src, tgt) = (source(), target());
    let db = src.create_database("skipped deps ").await;
    src.execute(
        &db,
        r#"
        CREATE EXTENSION file_fdw;
        CREATE SERVER "csv files" FOREIGN DATA WRAPPER file_fdw;
        CREATE FOREIGN TABLE imported (line text) SERVER "csv files" OPTIONS (filename '/dev/null');
        CREATE VIEW imported_lines AS SELECT count(*) AS n FROM imported;
        CREATE FUNCTION shout(text) RETURNS text LANGUAGE internal IMMUTABLE STRICT AS 'upper';
        CREATE TABLE notes (body text);
        CREATE INDEX notes_shout ON notes (shout(body));
        CREATE VIEW loud AS SELECT shout(body) AS body FROM notes;
        CREATE VIEW quiet AS SELECT lower(body) AS body FROM notes;
        "#,
    )
    .await;
    let (admin, pw) = tgt.create_admin("skipping admin ", false).await;
    let mut opts = options(&db, tgt.uri(&admin, &pw, "postgres")).await;
    // As the validation advises for an extension the target user may not install.
    opts.excluded_extensions = vec!["file_fdw".into()];
    let result = PgMigrate::new(opts).migrate().await;
    let entry = result.databases.iter().find(|d| d.dbname == db).unwrap();
    assert_eq!(entry.status, DbStatus::Done, "{}", result.to_json());

    let warned = |start: &str, depends_on: &str| {
        assert!(
            result
                .warnings
                .iter()
                .map(|w| w.to_string())
                .any(|w| w.contains(start)
                    && w.contains(&format!("it depends on {depends_on}, which was skipped"))),
            "no warning {start:?} ... {depends_on:?} in {:#?}",
            result.warnings
        );
    };
    // The extension left out with -xe takes its dependents with it, each warning naming the
    // object it depends on.
    let left_out = |object: &str, depends_on: &str| {
        assert!(
            result
                .warnings
                .iter()
                .any(|w| w.to_string().contains(&format!(
                    "{object} skipped: it depends on {depends_on}, which is not migrated"
                ))),
            "no warning {object:?} ... {depends_on:?} in {:#?}",
            result.warnings
        );
    };
    left_out("server \"csv files\"", "extension \"file_fdw\"");
    left_out(
        "foreign table \"public\".\"imported\"",
        "server \"csv files\"",
    );
    left_out(
        "view \"public\".\"imported_lines\"",
        "foreign table \"public\".\"imported\"",
    );
    // A function the target user may not create takes its index and view with it.
    warned("skipped index", "function \"public\".\"shout\"");
    warned(
        "skipped view \"public\".\"loud\"",
        "function \"public\".\"shout\"",
    );

    let created = tgt
        .query_strings(
            &db,
            "SELECT relname::text FROM pg_class WHERE relnamespace = 'public'::regnamespace \
             ORDER BY 1",
        )
        .await;
    assert_eq!(
        created,
        vec![
            vec![Some("notes".to_string())],
            vec![Some("quiet".to_string())]
        ]
    );
}

/// The database's own properties: its privileges (a hardening `REVOKE CONNECT ... FROM PUBLIC`
/// and a grant), a setting and its comment, on a database db-migrate creates and on one that
/// already exists in the target (a managed service's `defaultdb`), where the target's owner
/// stays and a grant of the target's own (to a role the source does not name) is kept.
#[tokio::test]
async fn database_privileges_settings_and_comment_arrive_also_in_an_existing_database() {
    let (src, tgt) = (source(), target());
    let reader = support::unique_name("db reader ");
    let agent = support::unique_name("provider agent ");
    for c in [src, tgt] {
        c.execute(
            "postgres",
            &format!("CREATE ROLE {} NOLOGIN", quote_ident(&reader)),
        )
        .await;
    }
    tgt.execute(
        "postgres",
        &format!("CREATE ROLE {} NOLOGIN", quote_ident(&agent)),
    )
    .await;
    let props_sql = |db: &str| {
        format!(
            "SELECT pg_catalog.has_database_privilege('public', d.oid, 'CONNECT')::text, \
                    pg_catalog.has_database_privilege({r}, d.oid, 'CONNECT')::text, \
                    pg_catalog.has_database_privilege('public', d.oid, 'TEMPORARY')::text, \
                    pg_catalog.shobj_description(d.oid, 'pg_database'), \
                    (SELECT s.setconfig::text FROM pg_catalog.pg_db_role_setting s \
                      WHERE s.setdatabase = d.oid AND s.setrole = 0) \
               FROM pg_catalog.pg_database d WHERE d.datname = {db}",
            r = quote_literal(&reader),
            db = quote_literal(db)
        )
    };
    for existing in [false, true] {
        let db = src.create_database("db props ").await;
        let q = quote_ident(&db);
        for sql in [
            format!("REVOKE CONNECT, TEMPORARY ON DATABASE {q} FROM PUBLIC"),
            format!("GRANT CONNECT ON DATABASE {q} TO {}", quote_ident(&reader)),
            format!("COMMENT ON DATABASE {q} IS 'the shop''s data'"),
            format!("ALTER DATABASE {q} SET work_mem = '12MB'"),
        ] {
            src.execute("postgres", &sql).await;
        }
        if existing {
            tgt.execute("postgres", &format!("CREATE DATABASE {q}"))
                .await;
            tgt.execute(
                "postgres",
                &format!("GRANT CONNECT ON DATABASE {q} TO {}", quote_ident(&agent)),
            )
            .await;
        }
        let result = PgMigrate::new(options(&db, tgt.superuser_uri("postgres")).await)
            .migrate()
            .await;
        assert!(result.succeeded(), "{}", result.to_json());
        let expected = vec![vec![
            Some("false".to_string()),
            Some("true".to_string()),
            Some("false".to_string()),
            Some("the shop's data".to_string()),
            Some("{work_mem=12MB}".to_string()),
        ]];
        assert_eq!(
            src.query_strings("postgres", &props_sql(&db)).await,
            expected,
            "the source"
        );
        assert_eq!(
            tgt.query_strings("postgres", &props_sql(&db)).await,
            expected,
            "existing: {existing}"
        );
        if existing {
            let kept = tgt
                .query_strings(
                    "postgres",
                    &format!(
                        "SELECT pg_catalog.has_database_privilege({}, {}, 'CONNECT')::text",
                        quote_literal(&agent),
                        quote_literal(&db)
                    ),
                )
                .await;
            assert_eq!(
                kept,
                vec![vec![Some("true".to_string())]],
                "the target's own grant"
            );
        }
    }
}
