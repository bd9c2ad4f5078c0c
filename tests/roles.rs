//! Role migration on real clusters: attributes, settings, memberships, comments, passwords,
//! existing roles, permission failures and hostile names.
//!
//! The clusters are shared by every test of this binary, and `migrate_roles` migrates every
//! role of the source. So each test takes [`LOCK`] for its whole run, creates its own uniquely
//! named roles, and migrates with every other source role in `excluded_roles`; it then looks only
//! at its own roles.

// Each module keeps its own copy of the harness, so its clusters are its own (as when every
// file was a test binary of its own).
#[path = "support/mod.rs"]
mod support;

use std::collections::{BTreeMap, HashSet};

use db_migrate::catalog::roles::{list_memberships, list_role_db_settings, list_roles};
use db_migrate::conn::{ConnInfo, Session, connect};
use db_migrate::options::{MigrateOptions, RolePasswords};
use db_migrate::report::{RoleResult, RoleStatus};
use db_migrate::roles::{apply_role_db_settings, migrate_roles, placeholder_password};
use support::{Cluster, quote_ident, quote_literal, source, target, unique_name};

/// Serializes the tests of this binary (see the module docs). tokio's Mutex works across the
/// per-test runtimes and is not poisoned by a failing test.
static LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn session(uri: &str) -> Session {
    let info = ConnInfo::parse(uri).expect("test URI parses");
    connect(&info, None).await.expect("connect")
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

/// Runs `migrate_roles` from `source_uri` to `target_uri` with every source role except `mine`
/// excluded; returns the results (only `mine` can be there) and the warnings.
async fn migrate_mine(
    source_uri: &str,
    target_uri: &str,
    mine: &[&str],
    tweak: impl FnOnce(&mut MigrateOptions),
) -> (Vec<RoleResult>, Vec<String>) {
    let mine: HashSet<&str> = mine.iter().copied().collect();
    let mut opts = MigrateOptions {
        source: ConnInfo::parse(source_uri).unwrap(),
        target: ConnInfo::parse(target_uri).unwrap(),
        excluded_roles: role_names(source())
            .await
            .into_iter()
            // Predefined roles are never migrated; excluding them would also drop memberships
            // in them.
            .filter(|n| !mine.contains(n.as_str()) && !n.starts_with("pg_"))
            .collect(),
        ..Default::default()
    };
    tweak(&mut opts);
    let src = session(source_uri).await;
    let tgt = session(target_uri).await;
    let (results, warnings) = migrate_roles(&src, &tgt, &opts)
        .await
        .expect("migrate_roles");
    for r in &results {
        assert!(mine.contains(r.rolname.as_str()), "unexpected role {r:?}");
    }
    // As the command line says them (settings as flags).
    let said = |w: &db_migrate::Warning| db_migrate::cli::words::text(&w.to_string()).into_owned();
    (results, warnings.iter().map(said).collect())
}

fn result<'a>(results: &'a [RoleResult], name: &str) -> &'a RoleResult {
    results
        .iter()
        .find(|r| r.rolname == name)
        .unwrap_or_else(|| panic!("no result for role {name:?} in {results:?}"))
}

/// The `pg_roles` row of `name` (attributes, connection limit, validity in UTC, settings,
/// comment), or None.
async fn role_row(cluster: &Cluster, name: &str) -> Option<Vec<Option<String>>> {
    let sql = format!(
        "SELECT rolname, rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin, \
                rolreplication, rolbypassrls, rolconnlimit, rolvaliduntil AT TIME ZONE 'UTC', \
                rolconfig, pg_catalog.shobj_description(oid, 'pg_authid') \
           FROM pg_catalog.pg_roles WHERE rolname = {}",
        quote_literal(name)
    );
    cluster
        .query_strings("postgres", &sql)
        .await
        .into_iter()
        .next()
}

/// `pg_authid.rolpassword` of `name` in `cluster`.
async fn stored_password(cluster: &Cluster, name: &str) -> Option<String> {
    let sql = format!(
        "SELECT rolpassword FROM pg_catalog.pg_authid WHERE rolname = {}",
        quote_literal(name)
    );
    cluster.query_strings("postgres", &sql).await[0][0].clone()
}

/// Logs in to `cluster` over TCP as `user` with `password`.
async fn login(cluster: &Cluster, user: &str, password: &str) -> Result<(), String> {
    let mut config = tokio_postgres::Config::new();
    config
        .host("127.0.0.1")
        .port(cluster.port)
        .user(user)
        .password(password)
        .dbname("postgres");
    match config.connect(tokio_postgres::NoTls).await {
        Ok((client, connection)) => {
            tokio::spawn(connection);
            let row = client.query_one("SELECT current_user::text", &[]).await;
            assert_eq!(row.unwrap().get::<_, String>(0), user);
            Ok(())
        }
        Err(e) => Err(support::pg_error(&e)),
    }
}

fn is_placeholder(p: &str) -> bool {
    p.strip_prefix("placeholder_")
        .is_some_and(|t| t.len() == 16 && t.bytes().all(|c| c.is_ascii_lowercase()))
}

#[tokio::test]
async fn attributes_settings_and_comments_arrive() {
    let _lock = LOCK.lock().await;
    let all = unique_name("attr all");
    let none = unique_name("attr none");
    let comment = "it's a \"comment\" with ünïcødé ✓ and a backslash \\";
    source()
        .execute(
            "postgres",
            &format!(
                "CREATE ROLE {all} SUPERUSER CREATEDB CREATEROLE NOINHERIT LOGIN REPLICATION BYPASSRLS \
                   CONNECTION LIMIT 42 VALID UNTIL '2031-02-03 04:05:06.789+02';
                 ALTER ROLE {all} SET statement_timeout = '5s';
                 ALTER ROLE {all} SET search_path = app, \"My Schema\", public;
                 ALTER ROLE {all} SET application_name = 'a, \"b\" c';
                 ALTER ROLE {all} SET myapp.flag = 'on';
                 ALTER ROLE {all} SET temp_tablespaces = '';
                 COMMENT ON ROLE {all} IS {comment};
                 CREATE ROLE {none} NOSUPERUSER NOCREATEDB NOCREATEROLE INHERIT NOLOGIN NOREPLICATION \
                   NOBYPASSRLS VALID UNTIL 'infinity';",
                all = quote_ident(&all),
                none = quote_ident(&none),
                comment = quote_literal(comment),
            ),
        )
        .await;

    let (results, warnings) = migrate_mine(
        &source().superuser_uri("postgres"),
        &target().superuser_uri("postgres"),
        &[&all, &none],
        |_| {},
    )
    .await;
    assert!(warnings.is_empty(), "{warnings:?}");
    for name in [&all, &none] {
        let r = result(&results, name);
        assert_eq!(r.status, RoleStatus::Created, "{r:?}");
        assert_eq!(r.message, "role created");
        assert_eq!(
            role_row(target(), name).await,
            role_row(source(), name).await
        );
    }

    let row = role_row(target(), &all).await.unwrap();
    let expected = [
        "t",
        "f",
        "t",
        "t",
        "t",
        "t",
        "t",
        "42",
        "2031-02-03 02:05:06.789",
    ];
    for (i, want) in expected.iter().enumerate() {
        assert_eq!(
            row[i + 1].as_deref(),
            Some(*want),
            "column {} of {row:?}",
            i + 1
        );
    }
    let config = row[10].as_deref().unwrap();
    assert!(config.contains("statement_timeout=5s"), "{config}");
    assert!(
        config.contains(r#""search_path=app, \"My Schema\", public""#),
        "search_path arrived as {config}"
    );
    assert!(
        config.contains(r#"application_name=a, \"b\" c"#),
        "{config}"
    );
    assert!(config.contains("myapp.flag=on"), "{config}");
    assert_eq!(row[11].as_deref(), Some(comment));

    let row = role_row(target(), &none).await.unwrap();
    assert_eq!(
        row[1..10]
            .iter()
            .map(|c| c.as_deref().unwrap())
            .collect::<Vec<_>>(),
        ["f", "t", "f", "f", "f", "f", "f", "-1", "infinity"]
    );
    assert_eq!(row[10], None);
    assert_eq!(row[11], None);

    // LOGIN gets a placeholder, NOLOGIN no password at all.
    let pw = result(&results, &all).rolpassword.as_ref().unwrap();
    assert!(pw.placeholder && !pw.reveal && is_placeholder(&pw.value));
    assert_eq!(result(&results, &none).rolpassword, None);
    assert_eq!(stored_password(target(), &none).await, None);
}

#[tokio::test]
async fn memberships_arrive_with_their_options() {
    let _lock = LOCK.lock().await;
    let grp = unique_name("grp \"one\"");
    let grp2 = unique_name("grp two");
    let m1 = unique_name("member one");
    let m2 = unique_name("member two");
    let existing = unique_name("member existing");
    let src16 = source().version_num() >= 160000;
    let tgt16 = target().version_num() >= 160000;
    let q = quote_ident;
    let mut sql = format!(
        "CREATE ROLE {grp} NOLOGIN; CREATE ROLE {grp2} NOLOGIN;
         CREATE ROLE {m1} LOGIN NOINHERIT; CREATE ROLE {m2} LOGIN; CREATE ROLE {existing} LOGIN;
         GRANT {grp} TO {m1} WITH ADMIN OPTION; GRANT {grp2} TO {m1}; GRANT {grp} TO {m2};
         GRANT {grp} TO {existing}; GRANT pg_read_all_settings TO {m1};",
        grp = q(&grp),
        grp2 = q(&grp2),
        m1 = q(&m1),
        m2 = q(&m2),
        existing = q(&existing),
    );
    if src16 {
        sql.push_str(&format!(
            "GRANT {} TO {} WITH INHERIT FALSE, SET FALSE;",
            q(&grp2),
            q(&m2)
        ));
    } else {
        sql.push_str(&format!("GRANT {} TO {};", q(&grp2), q(&m2)));
    }
    source().execute("postgres", &sql).await;
    // A role that already exists in the target still gets its missing memberships.
    target()
        .execute("postgres", &format!("CREATE ROLE {} LOGIN", q(&existing)))
        .await;

    let mine = [grp.as_str(), &grp2, &m1, &m2, &existing];
    let (results, warnings) = migrate_mine(
        &source().superuser_uri("postgres"),
        &target().superuser_uri("postgres"),
        &mine,
        |_| {},
    )
    .await;
    if src16 && !tgt16 {
        // An older target cannot express per-membership INHERIT / SET: granted, with warnings.
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].contains(&m2) && warnings[0].contains("SET FALSE"));
        assert!(warnings[1].contains(&m2) && warnings[1].contains("INHERIT FALSE"));
    } else {
        assert!(warnings.is_empty(), "{warnings:?}");
    }
    assert_eq!(result(&results, &existing).status, RoleStatus::Exists);

    let options = if tgt16 {
        "m.inherit_option::text || '/' || m.set_option::text"
    } else {
        "''"
    };
    let list = format!(
        "SELECT g.rolname, r.rolname, m.admin_option, {options}
           FROM pg_catalog.pg_auth_members m
           JOIN pg_catalog.pg_roles g ON g.oid = m.roleid
           JOIN pg_catalog.pg_roles r ON r.oid = m.member
          WHERE r.rolname IN ({}) ORDER BY 1, 2",
        mine.iter()
            .map(|n| quote_literal(n))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let got: Vec<(String, String, String, String)> = target()
        .query_strings("postgres", &list)
        .await
        .into_iter()
        .map(|r| {
            (
                r[0].clone().unwrap(),
                r[1].clone().unwrap(),
                r[2].clone().unwrap(),
                r[3].clone().unwrap(),
            )
        })
        .collect();
    // On a PG16+ target without source options, INHERIT follows the member's INHERIT
    // attribute at grant time and SET is true, which is what the older source meant.
    let opt = |inherit: bool, set: bool| {
        if tgt16 {
            format!("{inherit}/{set}")
        } else {
            String::new()
        }
    };
    let mut want = vec![
        (
            grp.clone(),
            existing.clone(),
            "f".to_string(),
            opt(true, true),
        ),
        (grp.clone(), m1.clone(), "t".to_string(), opt(false, true)),
        (grp.clone(), m2.clone(), "f".to_string(), opt(true, true)),
        (grp2.clone(), m1.clone(), "f".to_string(), opt(false, true)),
        (
            grp2.clone(),
            m2.clone(),
            "f".to_string(),
            if src16 {
                opt(false, false)
            } else {
                opt(true, true)
            },
        ),
        (
            "pg_read_all_settings".to_string(),
            m1.clone(),
            "f".to_string(),
            opt(false, true),
        ),
    ];
    want.sort();
    let mut got_sorted = got.clone();
    got_sorted.sort();
    assert_eq!(got_sorted, want);

    // A second run changes nothing and warns about nothing.
    let (results, warnings) = migrate_mine(
        &source().superuser_uri("postgres"),
        &target().superuser_uri("postgres"),
        &mine,
        |_| {},
    )
    .await;
    assert!(warnings.is_empty(), "{warnings:?}");
    assert!(results.iter().all(|r| r.status == RoleStatus::Exists));
    let mut again: Vec<_> = target()
        .query_strings("postgres", &list)
        .await
        .into_iter()
        .map(|r| {
            (
                r[0].clone().unwrap(),
                r[1].clone().unwrap(),
                r[2].clone().unwrap(),
                r[3].clone().unwrap(),
            )
        })
        .collect();
    again.sort();
    assert_eq!(again, want);
}

#[tokio::test]
async fn placeholders_are_unique_random_and_work() {
    let _lock = LOCK.lock().await;
    let names: Vec<String> = (0..4).map(|i| unique_name(&format!("ph{i}"))).collect();
    let nologin = unique_name("ph nologin");
    let mut sql = String::new();
    for n in &names {
        sql.push_str(&format!("CREATE ROLE {} LOGIN;", quote_ident(n)));
    }
    sql.push_str(&format!("CREATE ROLE {} NOLOGIN;", quote_ident(&nologin)));
    source().execute("postgres", &sql).await;

    let mut mine: Vec<&str> = names.iter().map(String::as_str).collect();
    mine.push(&nologin);
    let (results, warnings) = migrate_mine(
        &source().superuser_uri("postgres"),
        &target().superuser_uri("postgres"),
        &mine,
        |o| o.show_passwords = true,
    )
    .await;
    assert!(warnings.is_empty(), "{warnings:?}");
    let mut seen = HashSet::new();
    for n in &names {
        let r = result(&results, n);
        assert_eq!(r.status, RoleStatus::Created);
        let pw = r.rolpassword.as_ref().expect("LOGIN role has a password");
        assert!(is_placeholder(&pw.value), "{:?}", pw.value);
        assert!(pw.placeholder && pw.reveal);
        assert_eq!(pw.shown(), pw.value);
        assert!(seen.insert(pw.value.clone()), "placeholder repeated");
        // Stored as a SCRAM verifier, never as plain text, and usable to log in.
        let stored = stored_password(target(), n).await.unwrap();
        assert!(stored.starts_with("SCRAM-SHA-256$"), "{stored}");
        assert!(!stored.contains(&pw.value));
        login(target(), n, &pw.value).await.unwrap();
        assert!(login(target(), n, &placeholder_password()).await.is_err());
    }
    assert_eq!(result(&results, &nologin).rolpassword, None);
    assert!(
        (0..200)
            .map(|_| placeholder_password())
            .collect::<HashSet<_>>()
            .len()
            == 200
    );
}

#[tokio::test]
async fn role_passwords_let_the_role_log_in() {
    let _lock = LOCK.lock().await;
    let user = unique_name("real pw 'user'");
    let password = "correct horse ' \" \\ battery ✓";
    source()
        .execute(
            "postgres",
            &format!(
                "CREATE ROLE {} LOGIN PASSWORD 'source-only'",
                quote_ident(&user)
            ),
        )
        .await;
    let passwords = RolePasswords::new(BTreeMap::from([(user.clone(), password.to_string())]));
    let (results, warnings) = migrate_mine(
        &source().superuser_uri("postgres"),
        &target().superuser_uri("postgres"),
        &[&user],
        |o| {
            o.role_passwords = passwords;
            o.show_passwords = true;
        },
    )
    .await;
    assert!(warnings.is_empty(), "{warnings:?}");
    let r = result(&results, &user);
    assert_eq!(r.status, RoleStatus::Created);
    let pw = r.rolpassword.as_ref().unwrap();
    assert_eq!(pw.value, password);
    assert!(!pw.placeholder);
    assert_eq!(pw.shown(), "<hidden>", "real passwords are never shown");
    let stored = stored_password(target(), &user).await.unwrap();
    assert!(stored.starts_with("SCRAM-SHA-256$"), "{stored}");
    login(target(), &user, password).await.unwrap();
    assert!(login(target(), &user, "source-only").await.is_err());
}

#[tokio::test]
async fn existing_role_is_reported_and_left_untouched() {
    let _lock = LOCK.lock().await;
    let name = unique_name("already there");
    source()
        .execute(
            "postgres",
            &format!(
                "CREATE ROLE {n} LOGIN CREATEDB CONNECTION LIMIT 7;
                 ALTER ROLE {n} SET work_mem = '8MB';
                 COMMENT ON ROLE {n} IS 'from source'",
                n = quote_ident(&name)
            ),
        )
        .await;
    target()
        .execute(
            "postgres",
            &format!(
                "CREATE ROLE {n} NOLOGIN CONNECTION LIMIT 3 PASSWORD 'target pw';
                 COMMENT ON ROLE {n} IS 'from target'",
                n = quote_ident(&name)
            ),
        )
        .await;
    let before = (
        role_row(target(), &name).await,
        stored_password(target(), &name).await,
    );
    let passwords = RolePasswords::new(BTreeMap::from([(name.clone(), "ignored".to_string())]));
    let (results, warnings) = migrate_mine(
        &source().superuser_uri("postgres"),
        &target().superuser_uri("postgres"),
        &[&name],
        |o| o.role_passwords = passwords,
    )
    .await;
    let r = result(&results, &name);
    assert_eq!(r.status, RoleStatus::Exists);
    assert_eq!(r.message, "role already exists");
    assert_eq!(r.rolpassword, None);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains(&name) && warnings[0].contains("--role-passwords"));
    assert!(!warnings[0].contains("ignored"));
    let after = (
        role_row(target(), &name).await,
        stored_password(target(), &name).await,
    );
    assert_eq!(before, after);
}

#[tokio::test]
async fn non_superuser_target_records_failures_and_goes_on() {
    let _lock = LOCK.lock().await;
    let (admin, admin_pw) = target().create_admin("roles admin", false).await;
    // Names sort so that the failing roles sit between roles that must be created.
    let first = unique_name("a first");
    let su = unique_name("b superuser");
    let repl = unique_name("c replication");
    let last = unique_name("d last");
    let q = quote_ident;
    source()
        .execute(
            "postgres",
            &format!(
                "CREATE ROLE {first} LOGIN; CREATE ROLE {su} SUPERUSER LOGIN;
                 CREATE ROLE {repl} REPLICATION LOGIN; CREATE ROLE {last} NOLOGIN;
                 ALTER ROLE {last} SET statement_timeout = '1min';
                 ALTER ROLE {last} SET log_statement = 'all';
                 GRANT {last} TO {first}; GRANT {last} TO {su};",
                first = q(&first),
                su = q(&su),
                repl = q(&repl),
                last = q(&last),
            ),
        )
        .await;

    // What the server says when this admin creates a superuser / replication role.
    let mut config = tokio_postgres::Config::new();
    config
        .host("127.0.0.1")
        .port(target().port)
        .user(&admin)
        .password(&admin_pw)
        .dbname("postgres");
    let (client, connection) = config.connect(tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    let server_says = |attr: &'static str| {
        let client = &client;
        async move {
            let probe = unique_name("probe");
            let e = client
                .batch_execute(&format!("CREATE ROLE {} {attr}", q(&probe)))
                .await
                .expect_err("a non-superuser cannot create it");
            e.as_db_error().unwrap().message().to_string()
        }
    };
    let su_msg = server_says("SUPERUSER").await;
    let repl_msg = server_says("REPLICATION").await;

    let (results, warnings) = migrate_mine(
        &source().superuser_uri("postgres"),
        &target().uri(&admin, &admin_pw, "postgres"),
        &[&first, &su, &repl, &last],
        |_| {},
    )
    .await;
    assert_eq!(results.len(), 4);
    let r = result(&results, &su);
    assert_eq!(r.status, RoleStatus::Failed);
    assert!(
        r.message.starts_with(&su_msg),
        "{:?} vs {su_msg:?}",
        r.message
    );
    assert_eq!(r.rolpassword, None);
    let r = result(&results, &repl);
    assert_eq!(r.status, RoleStatus::Failed);
    assert!(
        r.message.starts_with(&repl_msg),
        "{:?} vs {repl_msg:?}",
        r.message
    );
    if target().version_num() >= 160000 {
        assert!(
            su_msg.starts_with("permission denied to create role"),
            "{su_msg}"
        );
    } else {
        assert_eq!(su_msg, "must be superuser to create superusers");
        assert_eq!(repl_msg, "must be superuser to create replication users");
    }
    for n in [&first, &last] {
        assert_eq!(result(&results, n).status, RoleStatus::Created);
        assert!(role_row(target(), n).await.is_some());
    }
    for n in [&su, &repl] {
        assert!(role_row(target(), n).await.is_none());
    }
    // The superuser-only setting is a warning naming role and setting; the other one arrived.
    let config = role_row(target(), &last).await.unwrap()[10]
        .clone()
        .unwrap();
    assert!(config.contains("statement_timeout=1min"), "{config}");
    assert!(!config.contains("log_statement"), "{config}");
    assert!(
        warnings
            .iter()
            .any(|w| w.contains(&last) && w.contains("log_statement")),
        "{warnings:?}"
    );
    // The membership of the failed role is a warning, the other one is granted.
    assert!(
        warnings
            .iter()
            .any(|w| w.contains(&su) && w.contains(&last) && w.contains("not granted")),
        "{warnings:?}"
    );
    let granted = target()
        .query_strings(
            "postgres",
            &format!(
                "SELECT pg_catalog.pg_has_role({}, {}, 'MEMBER')",
                quote_literal(&first),
                quote_literal(&last)
            ),
        )
        .await;
    assert_eq!(granted[0][0].as_deref(), Some("t"));
}

#[tokio::test]
async fn odd_names_are_plain_names() {
    let _lock = LOCK.lock().await;
    for c in [source(), target()] {
        c.execute("postgres", "DROP ROLE IF EXISTS \"select\"")
            .await;
    }
    let evil = unique_name("e");
    let mut names = vec![
        unique_name("o'q\"d"),
        unique_name("with  spaces "),
        unique_name("rôle ünïcødé 名前"),
        "select".to_string(),
        unique_name("x'); DROP ROLE postgres; --"),
        format!("i\"; CREATE ROLE {evil} SUPERUSER; --"),
    ];
    let long = unique_name("long");
    names.push(format!("{long}{}", "x".repeat(63 - long.len())));
    let long_mb = unique_name("mb");
    let mut padded = long_mb.clone();
    if (63 - padded.len()) % 2 == 1 {
        padded.push('x');
    }
    while padded.len() < 63 {
        padded.push('é');
    }
    names.push(padded);
    // Every name within 63 bytes, so the server does not truncate it.
    for n in &names {
        assert!(n.len() <= 63, "{n:?} is {} bytes", n.len());
    }
    assert_eq!(names[6].len(), 63);
    assert_eq!(names[7].len(), 63);

    let mut sql = String::new();
    for (i, n) in names.iter().enumerate() {
        sql.push_str(&format!(
            "CREATE ROLE {q} LOGIN; ALTER ROLE {q} SET application_name = {lit}; \
             COMMENT ON ROLE {q} IS {lit};",
            q = quote_ident(n),
            lit = quote_literal(&format!("{n} #{i}")),
        ));
    }
    // A membership between two odd names.
    sql.push_str(&format!(
        "GRANT {} TO {} WITH ADMIN OPTION;",
        quote_ident(&names[0]),
        quote_ident(&names[5])
    ));
    source().execute("postgres", &sql).await;

    let mine: Vec<&str> = names.iter().map(String::as_str).collect();
    let (results, warnings) = migrate_mine(
        &source().superuser_uri("postgres"),
        &target().superuser_uri("postgres"),
        &mine,
        |_| {},
    )
    .await;
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(results.len(), names.len());
    for (i, n) in names.iter().enumerate() {
        assert_eq!(result(&results, n).status, RoleStatus::Created, "{n:?}");
        let row = role_row(target(), n)
            .await
            .unwrap_or_else(|| panic!("{n:?} missing in the target"));
        assert_eq!(row[0].as_deref(), Some(n.as_str()));
        let expected = format!("{n} #{i}");
        assert_eq!(row[11].as_deref(), Some(expected.as_str()));
        assert_eq!(row, role_row(source(), n).await.unwrap());
    }
    assert!(!role_names(target()).await.contains(&evil));
    assert!(role_names(target()).await.contains("postgres"));
    let member = target()
        .query_strings(
            "postgres",
            &format!(
                "SELECT pg_catalog.pg_has_role({}, {}, 'USAGE WITH ADMIN OPTION')",
                quote_literal(&names[5]),
                quote_literal(&names[0])
            ),
        )
        .await;
    assert_eq!(member[0][0].as_deref(), Some("t"));
}

#[tokio::test]
async fn per_database_role_settings_follow_the_database() {
    let _lock = LOCK.lock().await;
    let db = source().create_database("roles db").await;
    target()
        .execute("postgres", &format!("CREATE DATABASE {}", quote_ident(&db)))
        .await;
    let created = unique_name("dbset created");
    let existing = unique_name("dbset existing");
    let q = quote_ident;
    source()
        .execute(
            "postgres",
            &format!(
                "CREATE ROLE {c} LOGIN; CREATE ROLE {e} LOGIN;
                 ALTER ROLE {c} IN DATABASE {d} SET work_mem = '8MB';
                 ALTER ROLE {c} IN DATABASE {d} SET search_path = a, \"B b\";
                 ALTER ROLE {e} IN DATABASE {d} SET work_mem = '9MB';",
                c = q(&created),
                e = q(&existing),
                d = q(&db)
            ),
        )
        .await;
    target()
        .execute("postgres", &format!("CREATE ROLE {} LOGIN", q(&existing)))
        .await;
    let (results, warnings) = migrate_mine(
        &source().superuser_uri("postgres"),
        &target().superuser_uri("postgres"),
        &[&created, &existing],
        |_| {},
    )
    .await;
    assert!(warnings.is_empty(), "{warnings:?}");

    let src = session(&source().superuser_uri("postgres")).await;
    let settings: Vec<_> = list_role_db_settings(&src)
        .await
        .unwrap()
        .into_iter()
        .filter(|s| s.role == created || s.role == existing)
        .collect();
    assert_eq!(settings.len(), 2, "{settings:?}");
    let tgt = session(&target().superuser_uri("postgres")).await;
    let warnings = apply_role_db_settings(&tgt, &settings, &db, &results).await;
    assert!(warnings.is_empty(), "{warnings:?}");

    let read = |role: String| {
        let db = db.clone();
        async move {
            target()
                .query_strings(
                    "postgres",
                    &format!(
                        "SELECT s.setconfig FROM pg_catalog.pg_db_role_setting s
                           JOIN pg_catalog.pg_roles r ON r.oid = s.setrole
                           JOIN pg_catalog.pg_database d ON d.oid = s.setdatabase
                          WHERE r.rolname = {} AND d.datname = {}",
                        quote_literal(&role),
                        quote_literal(&db)
                    ),
                )
                .await
        }
    };
    let got = read(created.clone()).await;
    assert_eq!(
        got[0][0].as_deref(),
        Some(r#"{work_mem=8MB,"search_path=a, \"B b\""}"#)
    );
    // The role that already existed is left unchanged.
    assert!(read(existing.clone()).await.is_empty());
}

#[tokio::test]
async fn catalog_is_readable_without_superuser() {
    let _lock = LOCK.lock().await;
    let (admin, admin_pw) = source().create_admin("catalog admin", true).await;
    let grp = unique_name("cat grp");
    let member = unique_name("cat member");
    let db = source().create_database("cat db").await;
    source()
        .execute(
            "postgres",
            &format!(
                "CREATE ROLE {g} NOLOGIN; CREATE ROLE {m} LOGIN CONNECTION LIMIT 5 VALID UNTIL '2040-01-01 00:00:00+00';
                 GRANT {g} TO {m} WITH ADMIN OPTION;
                 ALTER ROLE {m} SET work_mem = '4MB';
                 ALTER ROLE {m} IN DATABASE {d} SET work_mem = '5MB';
                 COMMENT ON ROLE {m} IS 'cat';",
                g = quote_ident(&grp),
                m = quote_ident(&member),
                d = quote_ident(&db)
            ),
        )
        .await;
    let s = session(&source().uri(&admin, &admin_pw, "postgres")).await;

    let roles = list_roles(&s).await.unwrap();
    assert!(
        roles
            .iter()
            .all(|r| !r.name.starts_with("pg_") && r.oid >= 16384)
    );
    assert!(
        !roles.iter().any(|r| r.name == "postgres"),
        "bootstrap superuser listed"
    );
    assert!(roles.iter().any(|r| r.name == admin));
    let m = roles.iter().find(|r| r.name == member).unwrap();
    assert!(m.login && !m.superuser && m.inherit);
    assert_eq!(m.connection_limit, 5);
    assert_eq!(
        m.valid_until.as_deref(),
        Some("2040-01-01 00:00:00.000000+00 AD")
    );
    assert_eq!(m.config, vec!["work_mem=4MB".to_string()]);
    assert_eq!(m.comment.as_deref(), Some("cat"));

    let ms = list_memberships(&s).await.unwrap();
    let mm = ms
        .iter()
        .find(|x| x.role == grp && x.member == member)
        .unwrap();
    assert!(mm.admin_option);
    assert_eq!(mm.grantor, "postgres");
    if source().version_num() >= 160000 {
        assert_eq!(mm.inherit_option, Some(true));
        assert_eq!(mm.set_option, Some(true));
    } else {
        assert_eq!(mm.inherit_option, None);
    }
    assert!(ms.iter().all(|x| !x.member.starts_with("pg_")));

    let settings = list_role_db_settings(&s).await.unwrap();
    let st = settings
        .iter()
        .find(|x| x.role == member && x.database == db)
        .unwrap();
    assert_eq!(st.config, vec!["work_mem=5MB".to_string()]);

    let facts = db_migrate::catalog::server::server_facts(&s)
        .await
        .unwrap()
        .user();
    assert_eq!(facts.name, admin);
    assert!(!facts.superuser && facts.createrole && facts.replication && !facts.bypassrls);
}

/// Three new source roles `(granted, grantor, member)`: `grantor` holds ADMIN OPTION on
/// `granted` and grants it to `member` itself, so the source records `grantor` as the grantor.
async fn granted_by_a_non_superuser() -> (String, String, String) {
    let (r, g, m) = (
        unique_name("grantor role"),
        unique_name("grantor admin"),
        unique_name("grantor member"),
    );
    source()
        .execute(
            "postgres",
            &format!(
                "CREATE ROLE {r} NOLOGIN; CREATE ROLE {g} NOLOGIN; CREATE ROLE {m} LOGIN;
                 GRANT {r} TO {g} WITH ADMIN OPTION;
                 SET ROLE {g}; GRANT {r} TO {m}; RESET ROLE;",
                r = quote_ident(&r),
                g = quote_ident(&g),
                m = quote_ident(&m)
            ),
        )
        .await;
    (r, g, m)
}

/// The grantor of each membership of `member` in `granted` on `c`.
async fn grantor_of(c: &Cluster, granted: &str, member: &str) -> Vec<Vec<Option<String>>> {
    c.query_strings(
        "postgres",
        &format!(
            "SELECT pg_get_userbyid(m.grantor)::text FROM pg_catalog.pg_auth_members m \
              WHERE pg_get_userbyid(m.roleid) = {} AND pg_get_userbyid(m.member) = {}",
            quote_literal(granted),
            quote_literal(member)
        ),
    )
    .await
}

/// `GRANT r TO m` made by a role holding ADMIN OPTION on `r` (not by a superuser) is recorded
/// with that role as grantor in `pg_auth_members`; a superuser migration reproduces it with
/// `GRANTED BY`, so the grantor (which REVOKE ... GRANTED BY and DROP ROLE depend on) is the
/// source's. A non-superuser target admin may not name another grantor: the membership is
/// granted by it instead, with a warning saying so.
#[tokio::test]
async fn membership_grantors_are_kept_where_the_migration_user_may_name_them() {
    let _lock = LOCK.lock().await;
    let (granted, grantor, member) = granted_by_a_non_superuser().await;
    assert_eq!(
        grantor_of(source(), &granted, &member).await,
        vec![vec![Some(grantor.clone())]]
    );

    let mine = [granted.as_str(), &grantor, &member];
    let (results, warnings) = migrate_mine(
        &source().superuser_uri("postgres"),
        &target().superuser_uri("postgres"),
        &mine,
        |_| {},
    )
    .await;
    assert!(warnings.is_empty(), "{warnings:?}");
    assert!(
        results.iter().all(|r| r.status == RoleStatus::Created),
        "{results:?}"
    );
    assert_eq!(
        grantor_of(target(), &granted, &member).await,
        vec![vec![Some(grantor.clone())]],
        "the source's grantor"
    );

    // Into a CREATEROLE admin (a second set of roles, the first ones exist now).
    let (admin, pw) = target().create_admin("grantor target admin", false).await;
    let (granted, grantor, member) = granted_by_a_non_superuser().await;
    let mine = [granted.as_str(), &grantor, &member];
    let (results, warnings) = migrate_mine(
        &source().superuser_uri("postgres"),
        &target().uri(&admin, &pw, "postgres"),
        &mine,
        |_| {},
    )
    .await;
    assert!(
        results.iter().all(|r| r.status == RoleStatus::Created),
        "{results:?}"
    );
    let named: Vec<_> = warnings
        .iter()
        .filter(|w| w.contains("is recorded as granted by the migration user"))
        .collect();
    assert_eq!(named.len(), 1, "{warnings:?}");
    assert!(
        named[0].contains(&format!("not by role \"{grantor}\"")),
        "{}",
        named[0]
    );
    assert_eq!(
        grantor_of(target(), &granted, &member).await.len(),
        1,
        "the membership itself is there"
    );
}
