//! The main scenario on real clusters: an application whose objects belong to two
//! non-superuser roles, with grants to a third and default privileges for each, migrated into
//! a managed-service admin (`LOGIN CREATEDB CREATEROLE REPLICATION`, not a superuser). Every
//! owner, grant (with its grantor) and default privilege must come out as on the source, the
//! database must be owned by its source owner, and `pg_auth_members` must end as on the source:
//! the memberships the admin takes to do this are revoked when the database is done.
//!
//! Run on a 15 target by default and on 16+ with `PG_TARGET_VERSION=16` (Makefile
//! cross-version), where the admin holds ADMIN OPTION on the roles it creates and must add
//! INHERIT and SET itself. The oracle is `pg_dump -s` (with owners and privileges) where a
//! pg_dump as new as both servers exists, and always a catalog listing of every object's owner
//! and ACL, the default privileges and the database owner.
//!
//! Every test migrates only its own roles (all other source roles excluded) and database, and
//! takes [`LOCK`]: roles are global, so two runs at once would see each other's.

// Each module keeps its own copy of the harness, so its clusters are its own (as when every
// file was a test binary of its own).
#[path = "support/mod.rs"]
mod support;

use std::collections::HashSet;
use std::process::Command;
use std::time::Duration;

use db_migrate::conn::ConnInfo;
use db_migrate::replication::ReplicationOptions;
use db_migrate::report::{Method, RoleStatus};
use db_migrate::{DbStatus, MigrateOptions, MigrateResult, PgMigrate, WarningKind};
use support::{Cluster, SUPERUSER_PASSWORD, quote_ident, quote_literal, source, target};

static LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The roles of one scenario: two owners, a reader, and the admin of the target.
struct Roles {
    owner_a: String,
    owner_b: String,
    reader: String,
}

impl Roles {
    fn new(tag: &str) -> Self {
        Roles {
            owner_a: support::unique_name(&format!("{tag} app owner")),
            owner_b: support::unique_name(&format!("{tag}_owner_b")),
            reader: support::unique_name(&format!("{tag}_reader")),
        }
    }

    fn all(&self) -> [&str; 3] {
        [&self.owner_a, &self.owner_b, &self.reader]
    }
}

/// Creates the roles and a database owned by `owner_a` holding every owned kind the target
/// admin may create, owned by `owner_a` or `owner_b`, with grants to `reader` (one of them
/// granted by `owner_b`, not the owner) and default privileges for both owners.
async fn build_source(src: &Cluster, r: &Roles, db: &str) {
    let (a, b, rd) = (
        quote_ident(&r.owner_a),
        quote_ident(&r.owner_b),
        quote_ident(&r.reader),
    );
    src.execute(
        "postgres",
        &format!(
            "CREATE ROLE {a} LOGIN; CREATE ROLE {b} NOLOGIN; CREATE ROLE {rd} LOGIN; \
             GRANT {rd} TO {b};"
        ),
    )
    .await;
    src.execute(
        "postgres",
        &format!("CREATE DATABASE {} OWNER {a}", quote_ident(db)),
    )
    .await;
    src.execute(
        "postgres",
        &format!(
            "REVOKE CONNECT, TEMPORARY ON DATABASE {d} FROM PUBLIC; \
             GRANT CONNECT ON DATABASE {d} TO {rd}; \
             GRANT CREATE, CONNECT ON DATABASE {d} TO {b}",
            d = quote_ident(db)
        ),
    )
    .await;
    src.execute(
        db,
        &format!(
            "SET ROLE {a};
             CREATE SCHEMA app;
             GRANT USAGE ON SCHEMA app TO {rd};
             GRANT USAGE, CREATE ON SCHEMA app TO {b};
             ALTER DEFAULT PRIVILEGES IN SCHEMA app GRANT SELECT ON TABLES TO {rd};
             ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;
             ALTER DEFAULT PRIVILEGES GRANT EXECUTE ON FUNCTIONS TO {rd};
             CREATE TABLE app.t (id serial PRIMARY KEY, v text);
             INSERT INTO app.t (v) SELECT 'row ' || g FROM generate_series(1, 100) g;
             GRANT SELECT ON app.t TO {b} WITH GRANT OPTION;
             CREATE SEQUENCE app.s;
             GRANT USAGE ON SEQUENCE app.s TO {rd};
             CREATE VIEW app.v AS SELECT id, v FROM app.t;
             CREATE MATERIALIZED VIEW app.mv AS SELECT count(*) AS n FROM app.t;
             CREATE FUNCTION app.f() RETURNS int LANGUAGE sql AS 'select 1';
             CREATE PROCEDURE app.p() LANGUAGE sql AS 'select 1';
             CREATE TYPE app.mood AS ENUM ('sad', 'happy');
             CREATE TYPE app.pair AS (x int, y int);
             CREATE TYPE app.span AS RANGE (subtype = int4);
             CREATE DOMAIN app.posint AS int CHECK (VALUE > 0);
             GRANT USAGE ON DOMAIN app.posint TO {rd};
             CREATE TEXT SEARCH DICTIONARY app.dict (TEMPLATE = pg_catalog.simple);
             CREATE TEXT SEARCH CONFIGURATION app.cfg (COPY = pg_catalog.simple);
             SELECT pg_catalog.lo_from_bytea(0, 'blob of a');
             RESET ROLE;
             CREATE SCHEMA b_stuff AUTHORIZATION {b};
             SET ROLE {b};
             ALTER DEFAULT PRIVILEGES FOR ROLE {b} IN SCHEMA b_stuff GRANT SELECT, INSERT ON TABLES TO {rd};
             ALTER DEFAULT PRIVILEGES FOR ROLE {b} GRANT USAGE ON TYPES TO {rd};
             CREATE TABLE b_stuff.events (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, at timestamptz);
             INSERT INTO b_stuff.events (at) SELECT now() FROM generate_series(1, 10);
             CREATE TABLE app.b_table (x int PRIMARY KEY);
             GRANT SELECT ON app.t TO {rd};
             CREATE VIEW b_stuff.v AS SELECT * FROM app.t;
             CREATE FUNCTION b_stuff.g(x int) RETURNS int LANGUAGE sql AS 'select x';
             CREATE TYPE b_stuff.color AS ENUM ('red');
             CREATE DOMAIN b_stuff.email AS text;
             CREATE TEXT SEARCH DICTIONARY b_stuff.dict (TEMPLATE = pg_catalog.simple);
             CREATE TEXT SEARCH CONFIGURATION b_stuff.cfg (COPY = pg_catalog.simple);
             SELECT pg_catalog.lo_from_bytea(0, 'blob of b');
             RESET ROLE;"
        ),
    )
    .await;
}

/// Creates `db` on `c` owned by `admin`, as a managed service's console does.
async fn database_of(c: &Cluster, db: &str, admin: &str) {
    c.execute(
        "postgres",
        &format!(
            "CREATE DATABASE {} OWNER {}",
            quote_ident(db),
            quote_ident(admin)
        ),
    )
    .await;
}

/// Options migrating only `db` and only `mine` of the source's roles, into `target_uri`.
async fn options(src: &Cluster, target_uri: &str, db: &str, mine: &[&str]) -> MigrateOptions {
    let mine: HashSet<&str> = mine.iter().copied().collect();
    let excluded = src
        .query_strings("postgres", "SELECT rolname FROM pg_catalog.pg_roles")
        .await
        .into_iter()
        .filter_map(|r| r[0].clone())
        .filter(|n| !mine.contains(n.as_str()) && !n.starts_with("pg_"))
        .collect();
    MigrateOptions {
        source: ConnInfo::parse(&src.superuser_uri("postgres")).unwrap(),
        target: ConnInfo::parse(target_uri).unwrap(),
        only_dbs: vec![db.to_string()],
        excluded_roles: excluded,
        force_method: Some(Method::Dump),
        ..Default::default()
    }
}

/// Every owned object of `db` with its owner and ACL, the default privileges and the
/// database's owner, one line each, sorted: equal on both sides when owners and grants came
/// out as on the source.
async fn ownership(c: &Cluster, db: &str) -> Vec<String> {
    let sql = format!(
        "SELECT 'database ' || d.datname || ' owner ' || d.datdba::regrole::text \
                || ' acl ' || coalesce(d.datacl::text, '-') \
           FROM pg_database d WHERE d.datname = {db_lit}
         UNION ALL
         SELECT 'relation ' || c.oid::regclass::text || ' owner ' || c.relowner::regrole::text \
                || ' acl ' || coalesce(c.relacl::text, '-') \
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
          WHERE n.nspname IN ('app', 'b_stuff') AND c.relkind IN ('r', 'p', 'S', 'v', 'm', 'c', 'f')
         UNION ALL
         SELECT 'routine ' || p.oid::regprocedure::text || ' owner ' || p.proowner::regrole::text \
                || ' acl ' || coalesce(p.proacl::text, '-') \
           FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
          WHERE n.nspname IN ('app', 'b_stuff')
         UNION ALL
         SELECT 'type ' || t.oid::regtype::text || ' owner ' || t.typowner::regrole::text \
                || ' acl ' || coalesce(t.typacl::text, '-') \
           FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace \
          WHERE n.nspname IN ('app', 'b_stuff') AND t.typtype IN ('e', 'd', 'r', 'c')
         UNION ALL
         SELECT 'schema ' || n.nspname || ' owner ' || n.nspowner::regrole::text \
                || ' acl ' || coalesce(n.nspacl::text, '-') \
           FROM pg_namespace n WHERE n.nspname IN ('app', 'b_stuff', 'public')
         UNION ALL
         SELECT 'ts dict ' || d.dictname || ' owner ' || d.dictowner::regrole::text \
           FROM pg_ts_dict d JOIN pg_namespace n ON n.oid = d.dictnamespace \
          WHERE n.nspname IN ('app', 'b_stuff')
         UNION ALL
         SELECT 'ts config ' || d.cfgname || ' owner ' || d.cfgowner::regrole::text \
           FROM pg_ts_config d JOIN pg_namespace n ON n.oid = d.cfgnamespace \
          WHERE n.nspname IN ('app', 'b_stuff')
         UNION ALL
         SELECT 'large object owner ' || l.lomowner::regrole::text || ' acl ' \
                || coalesce(l.lomacl::text, '-') || ' data ' \
                || convert_from(lo_get(l.oid), 'UTF8') \
           FROM pg_largeobject_metadata l
         UNION ALL
         SELECT 'default acl ' || d.defaclrole::regrole::text || ' ' \
                || coalesce(n.nspname, '*') || ' ' || d.defaclobjtype::text || ' ' \
                || d.defaclacl::text \
           FROM pg_default_acl d LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace
         ORDER BY 1",
        db_lit = quote_literal(db)
    );
    c.query_strings(db, &sql)
        .await
        .into_iter()
        .map(|r| r[0].clone().unwrap_or_default())
        .collect()
}

/// Memberships that involve `roles` or `admin` (except in predefined roles, which the tests
/// grant the admin themselves): `role member admin [inherit set]`, sorted.
/// On PostgreSQL 16+ the admin holds ADMIN OPTION (granted by the bootstrap superuser) on
/// every role it created: that row is the server's own doing, the same with any tool, and is
/// left out.
async fn memberships(c: &Cluster, roles: &[&str], admin: Option<&str>) -> Vec<String> {
    // The INHERIT and SET options are compared where both servers have them.
    let both_16 = source().major >= 16 && target().major >= 16;
    let mut names: Vec<String> = roles.iter().map(|r| quote_literal(r)).collect();
    if let Some(a) = admin {
        names.push(quote_literal(a));
    }
    let options = if both_16 {
        "|| ' ' || m.inherit_option || ' ' || m.set_option"
    } else {
        ""
    };
    let implicit = match admin {
        Some(a) if c.major >= 16 => format!(
            "AND NOT (m.member::regrole::text = {} AND m.grantor = 10 AND m.admin_option \
                      AND NOT m.inherit_option AND NOT m.set_option)",
            quote_ident_literal(a)
        ),
        _ => String::new(),
    };
    let sql = format!(
        "SELECT m.roleid::regrole::text || ' ' || m.member::regrole::text || ' ' \
                || m.admin_option {options} \
           FROM pg_auth_members m \
          WHERE (pg_get_userbyid(m.roleid) IN ({list}) OR pg_get_userbyid(m.member) IN ({list})) \
            AND pg_get_userbyid(m.roleid) !~ '^pg_' \
            {implicit} \
          ORDER BY 1",
        list = names.join(", ")
    );
    c.query_strings("postgres", &sql)
        .await
        .into_iter()
        .map(|r| r[0].clone().unwrap_or_default())
        .collect()
}

/// `'"name"'`-style literal of a role as `regrole::text` prints it.
fn quote_ident_literal(role: &str) -> String {
    let printed = if role
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        role.to_string()
    } else {
        quote_ident(role)
    };
    quote_literal(&printed)
}

/// `pg_dump --schema-only` of `db` (owners and privileges included), normalized, without the
/// schemas in `exclude`; `None` without a pg_dump as new as both servers.
fn dump(c: &Cluster, db: &str, exclude: &[&str]) -> Option<String> {
    let pg_dump = support::oracle::pg_dump()?;
    let mut cmd = Command::new(pg_dump);
    // db-migrate's record of the finished migration is not the user's schema.
    cmd.args(["--schema-only", "--no-sync", "--exclude-schema=db_migrate"])
        .args(["-h", "127.0.0.1", "-p"])
        .arg(c.port.to_string())
        .args(["-U", "postgres", "-d", db])
        .env("PGPASSWORD", SUPERUSER_PASSWORD);
    for s in exclude {
        cmd.args(["-N", s]);
    }
    let out = cmd.output().expect("pg_dump runs");
    assert!(
        out.status.success(),
        "pg_dump failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(support::oracle::across_majors(&support::oracle::normalize(
        &String::from_utf8(out.stdout).unwrap(),
    )))
}

fn entry_status(result: &MigrateResult, db: &str) -> (DbStatus, String) {
    let e = result
        .databases
        .iter()
        .find(|d| d.dbname == db)
        .unwrap_or_else(|| panic!("database reported: {}", result.to_json()));
    (e.status, e.message.clone())
}

/// Everything the scenario promises, compared between source and target.
async fn assert_same(r: &Roles, admin: &str, db: &str, exclude: &[&str]) {
    let (src, tgt) = (source(), target());
    let (a, b) = (ownership(src, db).await, ownership(tgt, db).await);
    assert_eq!(a, b, "owners, ACLs and default privileges differ");
    assert!(
        a.iter()
            .any(|l| l.starts_with("database ") && l.contains("owner")),
        "{a:?}"
    );
    assert_eq!(
        memberships(src, &r.all(), None).await,
        memberships(tgt, &r.all(), Some(admin)).await,
        "pg_auth_members differ (or the admin kept a membership it took)"
    );
    if let (Some(a), Some(b)) = (dump(src, db, exclude), dump(tgt, db, exclude)) {
        assert!(
            a == b,
            "pg_dump -s differs:\n{}",
            support::oracle::first_difference(&a, &b)
        );
    } else {
        eprintln!("no pg_dump for both majors: the catalog listing is the oracle");
    }
}

fn owner_warnings(result: &MigrateResult) -> Vec<String> {
    result
        .warnings
        .iter()
        .map(|w| w.to_string())
        .filter(|w| {
            w.contains("owned by the migration user")
                || w.contains("owner not kept")
                || w.contains("the owner")
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_createrole_admin_keeps_every_owner_grant_and_default_privilege() {
    let _lock = LOCK.lock().await;
    let (src, tgt) = (source(), target());
    let r = Roles::new("own");
    let db = support::unique_name("owners main");
    build_source(src, &r, &db).await;
    // Publications of both owners (the second one's owner holds CREATE on the database).
    src.execute(
        &db,
        &format!(
            "SET ROLE {a}; CREATE PUBLICATION app_pub FOR TABLE app.t WITH (publish = 'insert'); \
             RESET ROLE; SET ROLE {b}; CREATE PUBLICATION b_pub FOR TABLE b_stuff.events; \
             RESET ROLE;",
            a = quote_ident(&r.owner_a),
            b = quote_ident(&r.owner_b)
        ),
    )
    .await;
    let (admin, pw) = tgt.create_admin("own_avnadmin", true).await;

    // Preflight sees nothing to lose.
    let opts = options(src, &tgt.uri(&admin, &pw, "postgres"), &db, &r.all()).await;
    let report = PgMigrate::new(opts.clone()).validate().await;
    assert!(
        !report.findings.iter().any(|f| f.check == "owners"),
        "{:?}",
        report.findings
    );

    let result = PgMigrate::new(opts).migrate().await;
    let (status, message) = entry_status(&result, &db);
    assert_eq!(status, DbStatus::Done, "{}", result.to_json());
    assert!(!message.contains("could not keep their owner"), "{message}");
    assert!(
        owner_warnings(&result).is_empty(),
        "{:?}",
        owner_warnings(&result)
    );
    for role in r.all() {
        let s = result.roles.iter().find(|x| x.rolname == role).unwrap();
        assert_eq!(s.status, RoleStatus::Created, "{s:?}");
    }
    assert_same(&r, &admin, &db, &[]).await;
    assert_eq!(
        foreign_and_publications(src, &db).await,
        foreign_and_publications(tgt, &db).await,
        "publications differ"
    );
    // The data came along into tables the admin does not own.
    assert_eq!(
        tgt.query_strings(&db, "SELECT count(*) FROM app.t").await[0][0].as_deref(),
        Some("100")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_of_a_superuser_go_to_the_admin_with_warnings_naming_them() {
    let _lock = LOCK.lock().await;
    let (src, tgt) = (source(), target());
    let r = Roles::new("own_su");
    let su = support::unique_name("own_su_root");
    let db = support::unique_name("owners su");
    build_source(src, &r, &db).await;
    src.execute(
        "postgres",
        &format!("CREATE ROLE {} SUPERUSER", quote_ident(&su)),
    )
    .await;
    src.execute(
        &db,
        &format!(
            "SET ROLE {s}; CREATE TABLE app.su_table (x int); \
             CREATE FUNCTION app.su_f() RETURNS int LANGUAGE sql AS 'select 2'; \
             GRANT SELECT ON app.su_table TO {rd}; RESET ROLE;",
            s = quote_ident(&su),
            rd = quote_ident(&r.reader)
        ),
    )
    .await;
    let (admin, pw) = tgt.create_admin("own_su_admin", true).await;
    let mut mine = r.all().to_vec();
    mine.push(&su);
    let opts = options(src, &tgt.uri(&admin, &pw, "postgres"), &db, &mine).await;

    let report = PgMigrate::new(opts.clone()).validate().await;
    let owners: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.check == "owners")
        .collect();
    assert_eq!(owners.len(), 1, "{:?}", report.findings);
    assert_eq!(owners[0].database.as_deref(), Some(db.as_str()));
    assert!(
        owners[0].message.starts_with(&format!(
            "2 object(s) of database \"{db}\" (the database itself included) will not keep their owner"
        )) && owners[0].message.contains(&format!("2 owned by \"{su}\""))
            && owners[0].message.contains("superuser"),
        "{}",
        owners[0].message
    );

    let result = PgMigrate::new(opts).migrate().await;
    let (status, _) = entry_status(&result, &db);
    assert_eq!(status, DbStatus::Done, "{}", result.to_json());
    let su_result = result.roles.iter().find(|x| x.rolname == su).unwrap();
    assert_eq!(su_result.status, RoleStatus::Failed);
    let warnings = owner_warnings(&result);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains(&format!("2 object(s) owned by role \"{su}\""))
            && warnings[0].contains("table \"app\".\"su_table\"")
            && warnings[0].contains("function \"app\".\"su_f\"")
            && warnings[0].contains("could not be created in the target"),
        "{}",
        warnings[0]
    );
    // Typed: an ownership warning of this database about the source owner.
    let typed = result
        .warnings
        .iter()
        .find(|w| w.message.contains(&format!("owned by role \"{su}\"")))
        .unwrap();
    assert_eq!(typed.kind, WarningKind::Ownership, "{typed:?}");
    assert_eq!(typed.database.as_deref(), Some(db.as_str()), "{typed:?}");
    assert_eq!(typed.object, Some(format!("role \"{su}\"")), "{typed:?}");
    assert_eq!(typed.to_string(), warnings[0]);
    let owner_of = |sql: &'static str| {
        let db = db.clone();
        async move { tgt.query_strings(&db, sql).await[0][0].clone().unwrap() }
    };
    assert_eq!(
        owner_of(
            "SELECT relowner::regrole::text FROM pg_class WHERE oid = 'app.su_table'::regclass"
        )
        .await,
        quote_ident_literal(&admin).trim_matches('\'')
    );
    // Its privileges are the source's with the admin in the superuser's place: no grant to a
    // role that is not there, none the source does not have.
    let acl =
        owner_of("SELECT relacl::text FROM pg_class WHERE oid = 'app.su_table'::regclass").await;
    let admin_item = quote_ident_literal(&admin).trim_matches('\'').to_string();
    let reader_item = quote_ident_literal(&r.reader)
        .trim_matches('\'')
        .to_string();
    let all = if tgt.major >= 17 {
        "arwdDxtm"
    } else {
        "arwdDxt"
    };
    assert_eq!(
        acl,
        format!("{{{admin_item}={all}/{admin_item},{reader_item}=r/{admin_item}}}")
    );
    // Everything else kept its owner: compare without the superuser's two objects.
    for sql in ["DROP TABLE app.su_table", "DROP FUNCTION app.su_f()"] {
        src.execute(&db, sql).await;
        tgt.execute(&db, sql).await;
    }
    assert_same(&r, &admin, &db, &[]).await;
}

/// Foreign servers, their user mappings and foreign tables, and publications, each with its
/// owner and ACL, one line each, sorted.
async fn foreign_and_publications(c: &Cluster, db: &str) -> Vec<String> {
    let sql = "SELECT 'fdw ' || w.fdwname || ' acl ' || coalesce(w.fdwacl::text, '-') \
                 FROM pg_foreign_data_wrapper w
               UNION ALL
               SELECT 'server ' || s.srvname || ' owner ' || s.srvowner::regrole::text \
                      || ' acl ' || coalesce(s.srvacl::text, '-') \
                      || ' options ' || coalesce(s.srvoptions::text, '-') \
                 FROM pg_foreign_server s
               UNION ALL
               SELECT 'user mapping ' || m.srvname || ' for ' || m.usename || ' ' \
                      || coalesce(m.umoptions::text, '-') \
                 FROM pg_user_mappings m
               UNION ALL
               SELECT 'foreign table ' || f.ftrelid::regclass::text || ' server ' || s.srvname \
                 FROM pg_foreign_table f JOIN pg_foreign_server s ON s.oid = f.ftserver
               UNION ALL
               SELECT 'publication ' || p.pubname || ' owner ' || p.pubowner::regrole::text \
                      || ' ' || p.pubinsert || p.pubupdate || p.pubdelete || p.pubtruncate \
                 FROM pg_publication p
               UNION ALL
               SELECT 'publication table ' || t.pubname || ' ' || t.schemaname || '.' || t.tablename \
                 FROM pg_publication_tables t
               ORDER BY 1";
    c.query_strings(db, sql)
        .await
        .into_iter()
        .map(|r| r[0].clone().unwrap_or_default())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_servers_and_their_user_mappings_keep_their_owners() {
    if !support::offered(
        "foreign_servers_and_their_user_mappings_keep_their_owners",
        &["postgres_fdw"],
    )
    .await
    {
        return;
    }
    let _lock = LOCK.lock().await;
    let (src, tgt) = (source(), target());
    let r = Roles::new("own_fdw");
    let db = support::unique_name("owners fdw");
    build_source(src, &r, &db).await;
    let (a, b, rd) = (
        quote_ident(&r.owner_a),
        quote_ident(&r.owner_b),
        quote_ident(&r.reader),
    );
    // The superuser installs the wrapper and lets both owners use it, as a provider's
    // extension installer does; everything else is the owners' own doing.
    src.execute(
        &db,
        &format!(
            "CREATE EXTENSION postgres_fdw;
             GRANT USAGE ON FOREIGN DATA WRAPPER postgres_fdw TO {a}, {b};
             SET ROLE {a};
             CREATE SERVER app_srv FOREIGN DATA WRAPPER postgres_fdw
                 OPTIONS (host '127.0.0.1', dbname 'elsewhere');
             CREATE USER MAPPING FOR {a} SERVER app_srv OPTIONS (user 'remote', password 'secret');
             CREATE USER MAPPING FOR PUBLIC SERVER app_srv OPTIONS (user 'anyone');
             GRANT USAGE ON FOREIGN SERVER app_srv TO {rd};
             CREATE FOREIGN TABLE app.remote_t (id int, v text) SERVER app_srv
                 OPTIONS (schema_name 'app', table_name 't');
             RESET ROLE;
             SET ROLE {b};
             CREATE SERVER b_srv FOREIGN DATA WRAPPER postgres_fdw;
             RESET ROLE;"
        ),
    )
    .await;
    let (admin, pw) = tgt.create_admin("own_fdw_admin", true).await;
    // As on a managed service: the database exists, owned by the admin, and the provider's
    // installer (a superuser) created the wrapper and lets the admin hand it on.
    database_of(tgt, &db, &admin).await;
    tgt.execute(
        &db,
        &format!(
            "CREATE EXTENSION postgres_fdw; \
             GRANT USAGE ON FOREIGN DATA WRAPPER postgres_fdw TO {} WITH GRANT OPTION",
            quote_ident(&admin)
        ),
    )
    .await;
    let opts = options(src, &tgt.uri(&admin, &pw, "postgres"), &db, &r.all()).await;
    let result = PgMigrate::new(opts).migrate().await;
    let (status, message) = entry_status(&result, &db);
    assert_eq!(status, DbStatus::Done, "{}", result.to_json());
    assert!(!message.contains("could not keep their owner"), "{message}");
    assert!(
        owner_warnings(&result).is_empty(),
        "{:?}",
        owner_warnings(&result)
    );
    // The database existed (owned by the admin): everything inside it is compared.
    let (x, y) = (ownership(src, &db).await, ownership(tgt, &db).await);
    assert_eq!(x[1..], y[1..], "owners, ACLs and default privileges differ");
    let (x, y) = (
        foreign_and_publications(src, &db).await,
        foreign_and_publications(tgt, &db).await,
    );
    // The wrapper belongs to the provider's superuser on both sides; on the target the admin
    // passed USAGE on, so those grants name it as grantor (only a superuser may grant in
    // another's name).
    let without_wrapper = |v: &[String]| -> Vec<String> {
        v.iter()
            .filter(|l| !l.starts_with("fdw "))
            .cloned()
            .collect()
    };
    assert_eq!(
        without_wrapper(&x),
        without_wrapper(&y),
        "foreign servers, user mappings or foreign tables differ"
    );
    // Exactly the two owners got USAGE from the admin: nothing else was changed on it.
    let passed_on = tgt
        .query_strings(
            &db,
            &format!(
                "SELECT pg_get_userbyid(a.grantee)::text \
                   FROM pg_foreign_data_wrapper w, aclexplode(w.fdwacl) a \
                  WHERE w.fdwname = 'postgres_fdw' AND pg_get_userbyid(a.grantor) = {} \
                  ORDER BY 1",
                quote_literal(&admin)
            ),
        )
        .await;
    let mut expected = vec![vec![Some(r.owner_a.clone())], vec![Some(r.owner_b.clone())]];
    expected.sort();
    assert_eq!(passed_on, expected, "{y:?}");
    assert_eq!(
        memberships(src, &r.all(), None).await,
        memberships(tgt, &r.all(), Some(&admin)).await,
        "pg_auth_members differ (or the admin kept a membership it took)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replication_through_aiven_extras_keeps_owners_too() {
    let _lock = LOCK.lock().await;
    let (src, tgt) = (source(), target());
    let r = Roles::new("own_repl");
    let db = support::unique_name("owners repl");
    build_source(src, &r, &db).await;
    let (admin, pw) = tgt.create_admin("own_repl_admin", true).await;
    // As on Aiven: the database exists, owned by the admin, with aiven_extras installed.
    database_of(tgt, &db, &admin).await;
    tgt.execute(&db, include_str!("fixtures/aiven_extras.sql"))
        .await;
    let mut opts = options(src, &tgt.uri(&admin, &pw, "postgres"), &db, &r.all()).await;
    opts.force_method = Some(Method::Replication);
    opts.replication = ReplicationOptions {
        max_replication_lag: Some(0),
        stop_replication: true,
        replication_timeout: Duration::from_secs(120),
        poll_interval: Duration::from_millis(100),
        ..opts.replication.clone()
    };
    let result = PgMigrate::new(opts).migrate().await;
    let (status, message) = entry_status(&result, &db);
    assert_eq!(status, DbStatus::Done, "{}", result.to_json());
    assert!(message.contains("replication"), "{message}");
    assert!(
        owner_warnings(&result).is_empty(),
        "{:?}",
        owner_warnings(&result)
    );
    // The database existed (owned by the admin): everything inside it is compared.
    let (a, b) = (ownership(src, &db).await, ownership(tgt, &db).await);
    assert_eq!(a[1..], b[1..], "owners, ACLs and default privileges differ");
    assert_eq!(
        memberships(src, &r.all(), None).await,
        memberships(tgt, &r.all(), Some(&admin)).await
    );
    // The emulation's own objects (its schema and the dblink extension it uses) are the
    // target's, not the application's.
    let without_extras = |d: String| {
        d.lines()
            .filter(|l| {
                !l.contains("EXTENSION IF NOT EXISTS dblink") && !l.contains("EXTENSION dblink")
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    if let (Some(a), Some(b)) = (
        dump(src, &db, &["aiven_extras"]).map(without_extras),
        dump(tgt, &db, &["aiven_extras"]).map(without_extras),
    ) {
        assert!(
            a == b,
            "pg_dump -s differs:\n{}",
            support::oracle::first_difference(&a, &b)
        );
    }
    assert_eq!(
        tgt.query_strings(&db, "SELECT count(*) FROM b_stuff.events")
            .await[0][0]
            .as_deref(),
        Some("10")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_of_the_admin_keeps_the_memberships_while_it_runs() {
    let tgt = target();
    if tgt.major < 16 {
        eprintln!(
            "note: the target is PostgreSQL {}; pg_create_subscription needs 16+ (run with \
             PG_TARGET_VERSION=16): skipped",
            tgt.major
        );
        return;
    }
    let _lock = LOCK.lock().await;
    let src = source();
    let r = Roles::new("own_sub");
    let db = support::unique_name("owners sub");
    build_source(src, &r, &db).await;
    let (admin, pw) = tgt.create_admin("own_sub_admin", false).await;
    // As on a managed service: the database exists, owned by the admin (which so has the
    // CREATE privilege pg_create_subscription needs there).
    tgt.execute(
        "postgres",
        &format!("GRANT pg_create_subscription TO {}", quote_ident(&admin)),
    )
    .await;
    database_of(tgt, &db, &admin).await;
    let mut opts = options(src, &tgt.uri(&admin, &pw, "postgres"), &db, &r.all()).await;
    opts.force_method = Some(Method::Replication);
    let result = PgMigrate::new(opts.clone()).migrate().await;
    let (status, message) = entry_status(&result, &db);
    assert_eq!(status, DbStatus::Running, "{}", result.to_json());
    let kept: Vec<_> = result
        .warnings
        .iter()
        .map(|w| w.to_string())
        .filter(|w| w.contains("stays a member of"))
        .collect();
    assert_eq!(kept.len(), 1, "{:?} / {message}", result.warnings);
    for role in [&r.owner_a, &r.owner_b] {
        assert!(
            kept[0].contains(&format!("REVOKE {} FROM ", quote_ident(role))),
            "{}",
            kept[0]
        );
    }
    // The subscription applies a change into a table the admin does not own.
    src.execute(&db, "INSERT INTO app.t (v) VALUES ('after the copy')")
        .await;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let n = tgt.query_strings(&db, "SELECT count(*) FROM app.t").await[0][0].clone();
        if n.as_deref() == Some("101") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the change did not arrive: {n:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Cut over, then revoke as the warning says: pg_auth_members is as on the source.
    opts.replication.max_replication_lag = Some(0);
    opts.replication.stop_replication = true;
    let done = PgMigrate::new(opts).migrate().await;
    assert_eq!(
        entry_status(&done, &db).0,
        DbStatus::Done,
        "{}",
        done.to_json()
    );
    let revokes = kept[0]
        .split("run: ")
        .nth(1)
        .expect("statements")
        .to_string();
    let admin_uri = tgt.uri(&admin, &pw, "postgres");
    let (client, conn) = tokio_postgres::connect(&admin_uri, tokio_postgres::NoTls)
        .await
        .expect("admin connects");
    tokio::spawn(conn);
    client.batch_execute(&revokes).await.expect("revokes run");
    assert_eq!(
        memberships(src, &r.all(), None).await,
        memberships(tgt, &r.all(), Some(&admin)).await
    );
    // The database existed (owned by the admin): everything inside it is compared.
    let (a, b) = (ownership(src, &db).await, ownership(tgt, &db).await);
    assert_eq!(a[1..], b[1..], "owners, ACLs and default privileges differ");
}
