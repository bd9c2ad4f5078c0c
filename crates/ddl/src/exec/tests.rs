//! The executor's unit tests (statements per object, batching, refusals), kept apart so that
//! `mod.rs` reads as the executor alone.

use super::*;

/// Post-data statements in the order they run: what creates the object, then the rest.
/// The post-data statements of `o` under the default options, created and refusable ones
/// in one list (None: nothing to run).
fn post_data(o: &SchemaObject, f: &ExecState, report: &mut ExecReport) -> Option<Vec<String>> {
    post_data_statements(o, SchemaOptions::default(), f, report).map(|(create, refusable)| {
        create
            .into_iter()
            .chain(refusable.into_iter().map(|(_, s)| s))
            .collect()
    })
}
use crate::model::{ObjId, ObjectKind, Section, class, owner_sql};

fn table(owner: &str) -> SchemaObject {
    let id = ObjId {
        classid: class::PG_CLASS,
        objid: db_migrate_catalog::scope::FIRST_NORMAL_OBJECT_ID,
    };
    let mut o = SchemaObject::new(id, ObjectKind::Table, Section::PreData, Some("s"), "t");
    o.create.push("CREATE TABLE \"s\".\"t\" ()".into());
    o.owner = Some(owner_sql(ObjectKind::Table, "\"s\".\"t\"", owner));
    o
}

fn state(user: &str) -> ExecState {
    ExecState {
        user: user.into(),
        superuser: true,
        ..Default::default()
    }
}

#[test]
fn objects_created_by_the_target_user_need_no_owner_statement() {
    let mut not_kept = 0;
    let own = statements_for(
        &table("app"),
        SchemaOptions::default(),
        &state("app"),
        &mut not_kept,
    );
    assert_eq!(own, vec!["CREATE TABLE \"s\".\"t\" ()".to_string()]);
    let other = statements_for(
        &table("bob"),
        SchemaOptions::default(),
        &state("app"),
        &mut not_kept,
    );
    assert_eq!(other.len(), 2, "{other:?}");
    assert!(other[1].contains("OWNER TO \"bob\""), "{other:?}");
    assert_eq!(not_kept, 0);
}

#[test]
fn an_owner_that_is_not_kept_gets_no_grants_of_its_own() {
    let mut o = table("root");
    o.set_acl(vec![
        "REVOKE ALL ON TABLE \"s\".\"t\" FROM \"root\"".into(),
        "GRANT SELECT, INSERT ON TABLE \"s\".\"t\" TO \"root\"".into(),
        "GRANT UPDATE ON TABLE \"s\".\"t\" TO \"root\" WITH GRANT OPTION".into(),
        "GRANT SELECT ON TABLE \"s\".\"t\" TO \"reader\"".into(),
        "REVOKE ALL ON TABLE \"s\".\"t\" FROM PUBLIC".into(),
    ]);
    let mut f = state("admin");
    f.superuser = false;
    let mut report = ExecReport::default();
    let run = post_data(&o, &f, &mut report);
    assert_eq!(
        run.unwrap(),
        vec![
            "CREATE TABLE \"s\".\"t\" ()".to_string(),
            "GRANT SELECT ON TABLE \"s\".\"t\" TO \"reader\"".to_string(),
            "REVOKE ALL ON TABLE \"s\".\"t\" FROM PUBLIC".to_string(),
        ]
    );
    assert_eq!(
        report.owners_lost,
        vec![("root".to_string(), "table \"s\".\"t\"".to_string())]
    );
    assert_eq!(report.owners_not_kept, 1);
    // A kept owner's privileges are rebuilt as on the source.
    f.can_own_as.insert("root".into());
    let run = statements_for(&o, SchemaOptions::default(), &f, &mut 0);
    assert_eq!(run.len(), 7, "{run:?}");
}

#[test]
fn objects_that_already_exist_keep_their_owner_statement() {
    // `public` is not created by the run: its owner is set even when it is the target user.
    let mut o = table("app");
    o.create.clear();
    let mut not_kept = 0;
    let s = statements_for(&o, SchemaOptions::default(), &state("app"), &mut not_kept);
    assert_eq!(s.len(), 1, "{s:?}");
}

fn object(oid: u32, kind: ObjectKind, name: &str, depends_on: &[u32]) -> SchemaObject {
    let mut o = SchemaObject::new(
        ObjId::new(class::PG_CLASS, oid),
        kind,
        Section::PreData,
        Some("s"),
        name,
    );
    o.depends_on = depends_on
        .iter()
        .map(|d| ObjId::new(class::PG_CLASS, *d))
        .collect();
    o
}

#[test]
fn a_level_is_split_so_that_no_two_sessions_touch_one_table() {
    // Post-data of tables 10..=13: a primary key and an index each, and a foreign key from
    // 11 to 10 (it depends on both tables).
    let mut objects = Vec::new();
    for t in 10..=13u32 {
        let mut pk = object(100 + t, ObjectKind::Constraint, &format!("t{t}_pkey"), &[t]);
        pk.table = Some(t);
        let mut idx = object(200 + t, ObjectKind::Index, &format!("t{t}_v"), &[t]);
        idx.table = Some(t);
        objects.push(pk);
        objects.push(idx);
    }
    let mut fk = object(311, ObjectKind::Constraint, "t11_fk", &[11, 10]);
    fk.table = Some(11);
    objects.push(fk);
    let refs: Vec<&SchemaObject> = objects.iter().collect();
    let parts = split_by_relation(&refs, 2);
    assert_eq!(parts.len(), 2);
    let tables =
        |p: &Vec<&SchemaObject>| -> HashSet<u32> { p.iter().filter_map(|o| o.table).collect() };
    let (a, b) = (tables(&parts[0]), tables(&parts[1]));
    assert!(a.is_disjoint(&b), "{a:?} / {b:?}");
    assert!(
        a.contains(&10) == a.contains(&11),
        "the foreign key joins t10 and t11"
    );
    assert_eq!(parts.iter().map(Vec::len).sum::<usize>(), objects.len());
    for p in &parts {
        let positions: Vec<usize> = p
            .iter()
            .map(|o| objects.iter().position(|x| x.id == o.id).unwrap())
            .collect();
        assert!(positions.is_sorted(), "each part keeps creation order");
    }
    assert_eq!(split_by_relation(&refs, 1).len(), 1);
    assert!(split_by_relation(&[], 2).is_empty());
}

#[test]
fn dependents_of_a_refused_object_are_skipped_naming_it() {
    let skipped = Skipped::default();
    let server = object(1, ObjectKind::ForeignServer, "files", &[]);
    let table = object(2, ObjectKind::ForeignTable, "imported", &[1]);
    let view = object(3, ObjectKind::View, "lines", &[9, 2]);
    let other = object(4, ObjectKind::View, "unrelated", &[9]);
    assert_eq!(skipped.dependent(&table), None, "nothing refused yet");
    skipped.refused(&server);

    let w = skipped.dependent(&table).expect("depends on the server");
    assert_eq!(w.kind, WarningKind::Privilege);
    assert_eq!(
        w.object.as_deref(),
        Some("foreign table \"s\".\"imported\"")
    );
    let w = w.to_string();
    assert_eq!(
        w,
        "skipped foreign table \"s\".\"imported\": it depends on server \"s\".\"files\", \
         which was skipped: the target user lacks the privilege to create server \"s\".\"files\""
    );
    // Transitively: the view names what it uses and the refused object at the root.
    let w = skipped
        .dependent(&view)
        .expect("depends on the table")
        .to_string();
    assert!(
        w.starts_with(
            "skipped view \"s\".\"lines\": it depends on foreign table \"s\".\"imported\", \
             which was skipped (skipped because it depends on server \"s\".\"files\")"
        ),
        "{w}"
    );
    assert_eq!(skipped.dependent(&other), None);
    assert_eq!(skipped.len(), 3);
}

#[test]
fn refusals_list_the_objects_skipped_with_each() {
    let state = state("app");
    let domain = object(1, ObjectKind::Domain, "citext", &[]);
    let table = object(2, ObjectKind::Table, "emails", &[1]);
    let index = object(3, ObjectKind::Index, "emails_e", &[2]);
    let other = object(4, ObjectKind::Table, "plain", &[]);
    let err = Error::new(ErrorKind::Sql, "type \"citext\" already exists")
        .with_sqlstate(SqlState::DUPLICATE_OBJECT);
    state.refused.push(FailedObject::of(
        &domain,
        "CREATE DOMAIN s.citext AS text",
        &err,
    ));
    state.skipped.not_created(&domain, "the target refused it");
    assert!(state.skipped.dependent(&table).is_some());
    assert!(state.skipped.dependent(&index).is_some());
    assert!(state.skipped.dependent(&other).is_none());
    let failed = state.refused.with_dependents(&state.skipped);
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].name, "domain \"s\".\"citext\"");
    assert_eq!(failed[0].kind, "domain");
    assert_eq!(failed[0].sqlstate.as_deref(), Some("42710"));
    assert_eq!(
        failed[0].skipped_dependents,
        ["index \"s\".\"emails_e\"", "table \"s\".\"emails\""]
    );
    assert!(state.skipped.contains(&table.id) && !state.skipped.contains(&other.id));
}

#[test]
fn copies_of_the_facts_share_what_was_skipped() {
    // Pre-data and post-data (and the data engine's plan) each get the same state.
    let state = state("app");
    let copy = state.clone();
    state
        .skipped
        .refused(&object(1, ObjectKind::EventTrigger, "et", &[]));
    let mut report = ExecReport::default();
    let dependent = object(2, ObjectKind::Index, "idx", &[1]);
    let run = post_data(&dependent, &copy, &mut report);
    assert_eq!(run, None);
    assert_eq!(report.warnings.len(), 1);
    let free = table("app");
    let run = post_data(&free, &copy, &mut report);
    assert_eq!(run.map(|s| s.len()), Some(1));
}

#[test]
fn a_compression_method_the_target_lacks_is_a_warning_and_the_default() {
    let mut o = table("app");
    o.create
        .push("ALTER TABLE ONLY \"s\".\"t\" ALTER COLUMN \"a\" SET COMPRESSION lz4".into());
    o.create
        .push("ALTER TABLE ONLY \"s\".\"t\" ALTER COLUMN \"b\" SET COMPRESSION pglz".into());
    let mut f = state("app");
    let mut report = ExecReport::default();
    let all = post_data(&o, &f, &mut report);
    assert_eq!(all.unwrap().len(), 3, "unknown methods: run as written");
    f.compressions = Some(vec!["pglz".into()]);
    let run = post_data(&o, &f, &mut report);
    assert_eq!(
        run.unwrap(),
        [
            "CREATE TABLE \"s\".\"t\" ()",
            "ALTER TABLE ONLY \"s\".\"t\" ALTER COLUMN \"b\" SET COMPRESSION pglz"
        ]
    );
    assert_eq!(report.warnings.len(), 1);
    assert!(
        report.warnings[0].to_string().contains("instead of lz4"),
        "{}",
        report.warnings[0]
    );
}

#[test]
fn tablespaces_are_set_when_the_target_has_them_and_warned_about_otherwise() {
    let mut o = table("app");
    o.set_tablespace(Some("fast ts".into()));
    let mut f = state("app");
    f.tablespaces = Some(HashMap::from([("fast ts".to_string(), true)]));
    let mut report = ExecReport::default();
    let run = post_data(&o, &f, &mut report);
    assert_eq!(
        run.unwrap(),
        vec![
            "SET default_tablespace = 'fast ts'".to_string(),
            "CREATE TABLE \"s\".\"t\" ()".to_string(),
            "SET default_tablespace = ''".to_string(),
        ]
    );
    assert!(report.warnings.is_empty());

    f.tablespaces = Some(HashMap::new());
    let run = post_data(&o, &f, &mut report);
    assert_eq!(
        run.unwrap(),
        vec!["CREATE TABLE \"s\".\"t\" ()".to_string()]
    );
    assert_eq!(
        report
            .warnings
            .iter()
            .map(|w| w.to_string())
            .collect::<Vec<_>>(),
        vec![
            "table \"s\".\"t\" is created in the target database's default tablespace \
             instead of tablespace \"fast ts\": the target has no tablespace of that name"
                .to_string()
        ]
    );
}
