//! Unit tests of the per-database object builders: catalog rows in, statements out, no server.

use super::*;
use db_migrate_catalog::objects::{Acl, QName};

fn acl(owner: &str, acl: Option<&[&str]>, default: &[&str]) -> Acl {
    Acl {
        owner: owner.into(),
        acl: acl.map(|a| a.iter().map(|s| s.to_string()).collect()),
        default: default.iter().map(|s| s.to_string()).collect(),
    }
}

#[test]
fn options_are_quoted_and_split_at_the_first_equals_sign() {
    let opts = vec!["host=a'b".to_string(), "we\"ird=x=y".to_string()];
    assert_eq!(
        options_clause(&opts),
        " OPTIONS (\"host\" 'a''b', \"we\"\"ird\" 'x=y')"
    );
    assert_eq!(options_clause(&[]), "");
}

#[test]
fn default_public_schema_needs_nothing() {
    let r = SchemaRow {
        oid: 2200,
        name: "public".into(),
        acl: acl(
            "pg_database_owner",
            Some(&[
                "pg_database_owner=UC/pg_database_owner",
                "=U/pg_database_owner",
            ]),
            &["pg_database_owner=UC/pg_database_owner"],
        ),
        comment: Some("standard public schema".into()),
    };
    let o = schema_object(&r);
    assert!(o.create.is_empty() && o.owner.is_none() && o.acl().is_empty());
    assert!(o.comments().is_empty());
}

#[test]
fn pre_15_public_schema_keeps_owner_and_public_create() {
    let r = SchemaRow {
        oid: 2200,
        name: "public".into(),
        acl: acl(
            "postgres",
            Some(&["postgres=UC/postgres", "=UC/postgres"]),
            &["postgres=UC/postgres"],
        ),
        comment: None,
    };
    let o = schema_object(&r);
    assert!(o.create.is_empty());
    assert_eq!(
        o.owner.as_ref().unwrap().sql,
        "ALTER SCHEMA \"public\" OWNER TO \"postgres\""
    );
    assert!(
        o.acl()
            .contains(&"GRANT USAGE, CREATE ON SCHEMA \"public\" TO PUBLIC".to_string())
    );
    assert_eq!(o.comments(), vec!["COMMENT ON SCHEMA \"public\" IS NULL"]);
}

#[test]
fn schemas_extensions_and_collations() {
    let r = SchemaRow {
        oid: 20000,
        name: "we\"ird schema".into(),
        acl: acl("o", None, &["o=UC/o"]),
        comment: Some("it's".into()),
    };
    let o = schema_object(&r);
    assert_eq!(o.create, vec!["CREATE SCHEMA \"we\"\"ird schema\""]);
    assert_eq!(
        o.comments(),
        vec!["COMMENT ON SCHEMA \"we\"\"ird schema\" IS 'it''s'"]
    );
    let e = extension_object(&ExtensionRow {
        oid: 20001,
        name: "hstore".into(),
        schema: "public".into(),
        version: "1.8".into(),
        superuser_only: false,
        comment: None,
    });
    assert_eq!(
        e.create,
        vec!["CREATE EXTENSION IF NOT EXISTS \"hstore\" WITH SCHEMA \"public\" VERSION '1.8'"]
    );
    assert_eq!(e.privilege, Privilege::Normal);
    let c = collation_object(&CollationRow {
        oid: 20002,
        name: QName::new("s", "ci"),
        owner: "o".into(),
        provider: 'i',
        collate: None,
        ctype: None,
        locale: Some("und-u-ks-level2".into()),
        icu_rules: None,
        deterministic: false,
        comment: None,
    })
    .unwrap();
    assert_eq!(
        c.create,
        vec![
            "CREATE COLLATION \"s\".\"ci\" (provider = icu, locale = 'und-u-ks-level2', \
             deterministic = false)"
        ]
    );
    let mut libc = CollationRow {
        oid: 20003,
        name: QName::new("s", "l"),
        owner: "o".into(),
        provider: 'c',
        collate: Some("C".into()),
        ctype: Some("C.UTF-8".into()),
        locale: None,
        icu_rules: None,
        deterministic: true,
        comment: None,
    };
    assert_eq!(
        collation_object(&libc).unwrap().create,
        vec![
            "CREATE COLLATION \"s\".\"l\" (provider = libc, lc_collate = 'C', lc_ctype = 'C.UTF-8')"
        ]
    );
    libc.provider = 'd';
    assert!(collation_object(&libc).is_none());
}

#[test]
fn text_search_configuration_mappings() {
    let r = TsConfigRow {
        oid: 1,
        name: QName::new("s", "cfg"),
        owner: "o".into(),
        parser: Some(QName::new("pg_catalog", "default")),
        mappings: vec![(
            "asciiword".into(),
            vec![QName::new("s", "d1"), QName::new("pg_catalog", "simple")],
        )],
        comment: None,
    };
    let o = ts_config_object(&r);
    assert_eq!(
        o.create,
        vec![
            "CREATE TEXT SEARCH CONFIGURATION \"s\".\"cfg\" (PARSER = \"pg_catalog\".\"default\")",
            "ALTER TEXT SEARCH CONFIGURATION \"s\".\"cfg\" ADD MAPPING FOR \"asciiword\" \
             WITH \"s\".\"d1\", \"pg_catalog\".\"simple\""
        ]
    );
}

#[test]
fn foreign_objects() {
    let w = fdw_object(&FdwRow {
        oid: 1,
        name: "w".into(),
        handler: None,
        validator: None,
        options: vec!["debug=true".into()],
        acl: acl("o", None, &[]),
        comment: None,
    });
    assert_eq!(
        w.create,
        vec!["CREATE FOREIGN DATA WRAPPER \"w\" OPTIONS (\"debug\" 'true')"]
    );
    assert_eq!(w.privilege, Privilege::MaySkip);
    let s = server_object(&ServerRow {
        oid: 2,
        name: "srv".into(),
        fdw: "w".into(),
        fdw_oid: 1,
        server_type: Some("t".into()),
        version: Some("1.0".into()),
        options: vec![],
        acl: acl("o", Some(&["o=U/o", "bob=U/o"]), &["o=U/o"]),
        comment: None,
    });
    assert_eq!(
        s.create,
        vec!["CREATE SERVER \"srv\" TYPE 't' VERSION '1.0' FOREIGN DATA WRAPPER \"w\""]
    );
    assert!(
        s.acl()
            .contains(&"GRANT USAGE ON FOREIGN SERVER \"srv\" TO \"bob\"".to_string())
    );
    let m = UserMappingRow {
        oid: 3,
        server: "srv".into(),
        server_oid: 2,
        user: None,
        options: vec!["password=s3cret".into()],
        options_visible: true,
    };
    assert!(!format!("{m:?}").contains("s3cret"));
    let um = user_mapping_object(&m);
    assert_eq!(
        um.create,
        vec!["CREATE USER MAPPING FOR PUBLIC SERVER \"srv\" OPTIONS (\"password\" 's3cret')"]
    );
    assert!(!um.name.contains("s3cret"));
}

#[test]
fn access_methods_name_their_type_and_handler() {
    let o = access_method_object(&AccessMethodRow {
        oid: 16500,
        name: "heap \"two\"".into(),
        kind: 't',
        handler: Some(QName::new("pg_catalog", "heap_tableam_handler")),
        comment: Some("it's heap".into()),
    });
    assert_eq!(
        o.create,
        vec![
            "CREATE ACCESS METHOD \"heap \"\"two\"\"\" TYPE TABLE \
             HANDLER \"pg_catalog\".\"heap_tableam_handler\""
        ]
    );
    assert_eq!(
        o.comments(),
        vec!["COMMENT ON ACCESS METHOD \"heap \"\"two\"\"\" IS 'it''s heap'"]
    );
    assert_eq!(o.owner, None);
    assert_eq!(o.privilege, Privilege::MaySkip);
    assert_eq!(o.section, Section::PreData);
}

#[test]
fn event_triggers_keep_tags_and_state() {
    let o = event_trigger_object(&EventTriggerRow {
        oid: 1,
        name: "et".into(),
        owner: "o".into(),
        event: "ddl_command_end".into(),
        function: Some(QName::new("s", "f")),
        tags: Some(vec!["CREATE TABLE".into(), "ALTER TABLE".into()]),
        enabled: 'R',
        comment: Some("c".into()),
    });
    assert_eq!(
        o.create,
        vec![
            "CREATE EVENT TRIGGER \"et\" ON \"ddl_command_end\" WHEN TAG IN ('CREATE TABLE', \
             'ALTER TABLE') EXECUTE FUNCTION \"s\".\"f\"()",
            "ALTER EVENT TRIGGER \"et\" ENABLE REPLICA"
        ]
    );
    assert_eq!(o.section, Section::PostData);
    assert_eq!(o.privilege, Privilege::MaySkip);
}

#[test]
fn default_privileges() {
    let global = default_acl_object(&DefaultAclRow {
        oid: 1,
        role: "o".into(),
        schema: None,
        schema_oid: 0,
        objtype: 'f',
        acl: vec!["o=X/o".into()],
        base: vec!["=X/o".into(), "o=X/o".into()],
    });
    assert_eq!(
        global.acl(),
        vec!["ALTER DEFAULT PRIVILEGES FOR ROLE \"o\" REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC",]
    );
    let per_schema = default_acl_object(&DefaultAclRow {
        oid: 2,
        role: "o".into(),
        schema: Some("s".into()),
        schema_oid: 77,
        objtype: 'r',
        acl: vec!["bob=r/o".into()],
        base: vec![],
    });
    assert_eq!(
        per_schema.acl(),
        vec![
            "ALTER DEFAULT PRIVILEGES FOR ROLE \"o\" IN SCHEMA \"s\" GRANT SELECT ON TABLES TO \"bob\""
        ]
    );
    assert!(per_schema.create.is_empty());
}

#[test]
fn large_objects_keep_their_oid() {
    let o = large_object_object(&LargeObjectRow {
        oid: 3_000_000_000,
        acl: acl("o", Some(&["o=rw/o", "bob=r/o"]), &["o=rw/o"]),
        comment: Some("blob".into()),
    });
    assert_eq!(o.create, vec!["SELECT pg_catalog.lo_create('3000000000')"]);
    assert_eq!(
        o.owner.as_ref().unwrap().sql,
        "ALTER LARGE OBJECT 3000000000 OWNER TO \"o\""
    );
    assert!(
        o.acl()
            .contains(&"GRANT SELECT ON LARGE OBJECT 3000000000 TO \"bob\"".to_string())
    );
    assert_eq!(
        o.comments(),
        vec!["COMMENT ON LARGE OBJECT 3000000000 IS 'blob'"]
    );
}
