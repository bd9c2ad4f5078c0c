//! Verification (`db_migrate::verify`, `--verify`, `--verify-only`) on real clusters: differing
//! rows found and named by key in a large table, missing and extra rows, value edge cases, one
//! side only, unreadable tables, inheritance parents, sequences, large objects, a dump-method
//! migration with writes on the source meanwhile, and the command line after
//! `pg_dump | pg_restore`.
//!
//! Most tests build the same data on both clusters with SQL (so a cross-version run proves
//! that the same data hashes the same on both majors), change the target, and compare.

// Each module keeps its own copy of the harness, so its clusters are its own (as when every
// file was a test binary of its own).
#[path = "support/mod.rs"]
mod support;

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use db_migrate::conn::ConnInfo;
use db_migrate::copy::ProgressMode;
use db_migrate::pair::DbPair;
use db_migrate::verify::{
    LargeObjectDiffKind, RowDiffKind, TableVerify, VerifyJob, VerifyReport, VerifyStatus,
};
use db_migrate::{DbStatus, MigrateOptions, migrate::PgMigrate};
use support::{quote_ident, source, target, unique_name};

/// A database of the same name on both clusters, `sql` run in each.
async fn pair(prefix: &str, sql: &str) -> String {
    let db = unique_name(prefix);
    for c in [source(), target()] {
        c.execute("postgres", &format!("CREATE DATABASE {}", quote_ident(&db)))
            .await;
        if !sql.is_empty() {
            c.execute(&db, sql).await;
        }
    }
    db
}

async fn verify_as(db: &str, source_uri: String, max_rows: usize) -> VerifyReport {
    verify_with(db, source_uri, max_rows, 2).await
}

async fn verify_with(db: &str, source_uri: String, max_rows: usize, jobs: usize) -> VerifyReport {
    verify_job(db, source_uri, max_rows, jobs, false).await
}

async fn verify_job(
    db: &str,
    source_uri: String,
    max_rows: usize,
    jobs: usize,
    statistics: bool,
) -> VerifyReport {
    let s = ConnInfo::parse(&source_uri).unwrap();
    let t = ConnInfo::parse(&target().superuser_uri(db)).unwrap();
    VerifyJob {
        pair: &DbPair::new(&s, &t, db, Default::default()),
        source_snapshot: None,
        jobs: NonZeroUsize::new(jobs).unwrap(),
        max_rows,
        progress: ProgressMode::Quiet,
        selection: None,
        only: None,
        at_cut_over: false,
        statistics,
    }
    .run()
    .await
    .unwrap()
}

/// `--verify-statistics`: the planner statistics of the compared tables, field by field. Equal
/// when both sides analysed the same rows; a target sampled with another statistics target
/// lists the column and the fields that differ, while its data stays equal.
#[tokio::test]
async fn statistics_are_compared_field_by_field_and_listed_without_making_data_differ() {
    let db = pair(
        "verify_stats",
        "CREATE TABLE s (id int PRIMARY KEY, v text);
         INSERT INTO s SELECT g, 'v' || (g % 7) FROM generate_series(1, 500) g;
         ANALYZE s;",
    )
    .await;
    let uri = source().superuser_uri(&db);
    let r = verify_job(&db, uri.clone(), 10, 2, true).await;
    assert!(r.is_equal(), "{r:#?}");
    let st = r.statistics.clone().expect("statistics compared");
    assert!(st.columns >= 2 && st.equal == st.columns, "{st:#?}");
    assert!(
        r.summary().contains("statistics: 2 of 2 columns equal"),
        "{}",
        r.summary()
    );

    target()
        .execute(
            &db,
            "ALTER TABLE s ALTER COLUMN v SET STATISTICS 1; ANALYZE s",
        )
        .await;
    let r = verify_job(&db, uri, 10, 2, true).await;
    assert!(r.is_equal(), "the data did not change: {r:#?}");
    let st = r.statistics.expect("statistics compared");
    assert_eq!(st.differences.len(), 1, "{st:#?}");
    assert_eq!(st.differences[0].column, "v");
    assert!(
        st.differences[0]
            .fields
            .contains(&"most_common_vals".to_string()),
        "{st:#?}"
    );
}

async fn verify(db: &str) -> VerifyReport {
    verify_as(db, source().superuser_uri(db), 10).await
}

fn table<'a>(r: &'a VerifyReport, name: &str) -> &'a TableVerify {
    r.tables
        .iter()
        .find(|t| t.table == name)
        .unwrap_or_else(|| panic!("no table {name} in {:#?}", r.tables))
}

/// `(kind, key, columns)` of every listed difference.
fn diffs(t: &TableVerify) -> Vec<(RowDiffKind, Vec<String>, Vec<String>)> {
    t.differences
        .iter()
        .map(|d| (d.kind, d.key.clone(), d.columns.clone()))
        .collect()
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

#[tokio::test]
async fn one_changed_column_among_a_million_rows_is_found_and_its_key_named() {
    let db = pair(
        "verify_big",
        "CREATE TABLE big (id bigint PRIMARY KEY, payload text, n integer);
         INSERT INTO big SELECT g, md5(g::text), g % 1000 FROM generate_series(1, 1000000) g;
         ANALYZE big;",
    )
    .await;
    let equal = verify(&db).await;
    assert!(equal.is_equal(), "{equal:#?}");
    assert_eq!(table(&equal, "big").source_rows, Some(1_000_000));
    assert_eq!(table(&equal, "big").target_rows, Some(1_000_000));

    target()
        .execute(&db, "UPDATE big SET payload = 'changed' WHERE id = 654321")
        .await;
    let r = verify(&db).await;
    assert_eq!(r.status, VerifyStatus::Differs);
    let t = table(&r, "big");
    assert_eq!(t.key, s(&["id"]));
    assert_eq!(
        diffs(t),
        vec![(RowDiffKind::Different, s(&["654321"]), s(&["payload"]))]
    );
    assert!(!t.more_differences);
}

#[tokio::test]
async fn one_large_table_split_across_four_workers_reports_what_one_worker_reports() {
    // `big` is cut into key ranges, `coded` (a text key) into buckets of its key's hash.
    let db = pair(
        "verify_parts",
        "CREATE TABLE big (id integer PRIMARY KEY, payload text);
         INSERT INTO big SELECT g, md5(g::text) FROM generate_series(1, 300000) g;
         CREATE TABLE coded (code text PRIMARY KEY, payload text);
         INSERT INTO coded SELECT 'c' || g, md5(g::text) FROM generate_series(1, 150000) g;
         ANALYZE big, coded;",
    )
    .await;
    // Everything but the timings.
    let same = |db: String| async move {
        let with = |jobs| {
            let db = db.clone();
            async move {
                let mut r = verify_with(&db, source().superuser_uri(&db), 10, jobs).await;
                for t in &mut r.tables {
                    t.seconds = 0.0;
                }
                (r.status, r.tables)
            }
        };
        let (one, four) = (with(1).await, with(4).await);
        assert_eq!(one, four);
        one
    };
    let (status, tables) = same(db.clone()).await;
    assert_eq!(status, VerifyStatus::Equal, "{tables:#?}");
    assert_eq!(tables[0].source_rows, Some(300_000));
    assert_eq!(tables[1].source_rows, Some(150_000));

    // One changed row, then also a deleted one in another quarter of the key range: found by
    // the worker of its part, listed in key order.
    target()
        .execute(&db, "UPDATE big SET payload = 'changed' WHERE id = 250001")
        .await;
    let (status, tables) = same(db.clone()).await;
    assert_eq!(status, VerifyStatus::Differs);
    assert_eq!(
        diffs(&tables[0]),
        vec![(RowDiffKind::Different, s(&["250001"]), s(&["payload"]))]
    );
    target()
        .execute(&db, "DELETE FROM big WHERE id = 12345")
        .await;
    let (_, tables) = same(db.clone()).await;
    assert_eq!(
        diffs(&tables[0]),
        vec![
            (RowDiffKind::MissingOnTarget, s(&["12345"]), vec![]),
            (RowDiffKind::Different, s(&["250001"]), s(&["payload"]))
        ]
    );
    assert_eq!(tables[0].target_rows, Some(299_999));
    target()
        .execute(
            &db,
            "UPDATE coded SET payload = 'changed' WHERE code = 'c777';
             DELETE FROM coded WHERE code = 'c140000';
             INSERT INTO coded VALUES ('extra', 'x');",
        )
        .await;
    let (_, tables) = same(db.clone()).await;
    assert_eq!(
        diffs(&tables[1]),
        vec![
            (RowDiffKind::MissingOnTarget, s(&["c140000"]), vec![]),
            (RowDiffKind::Different, s(&["c777"]), s(&["payload"])),
            (RowDiffKind::ExtraOnTarget, s(&["extra"]), vec![]),
        ]
    );
}

#[tokio::test]
async fn missing_and_extra_rows_are_named_for_integer_text_and_composite_keys() {
    let db = pair(
        "verify_rows",
        "CREATE TABLE by_int (id integer PRIMARY KEY, v text);
         INSERT INTO by_int SELECT g, 'v' || g FROM generate_series(-500, 5000) g;
         CREATE TABLE by_text (code text NOT NULL, v int);
         CREATE UNIQUE INDEX ON by_text (code);
         INSERT INTO by_text SELECT 'k' || g, g FROM generate_series(1, 20000) g;
         CREATE TABLE by_pair (a int, b text, v int, PRIMARY KEY (a, b));
         INSERT INTO by_pair SELECT g % 7, 'b' || g, g FROM generate_series(1, 3000) g;
         CREATE TABLE no_key (v int);
         INSERT INTO no_key SELECT g FROM generate_series(1, 100) g;",
    )
    .await;
    target()
        .execute(
            &db,
            "DELETE FROM by_int WHERE id = -17;
             INSERT INTO by_int VALUES (7000, 'new');
             DELETE FROM by_text WHERE code = 'k777';
             INSERT INTO by_text VALUES ('zz top', 1);
             UPDATE by_pair SET v = -1 WHERE a = 3 AND b = 'b10';
             UPDATE no_key SET v = 0 WHERE v = 50;",
        )
        .await;
    let r = verify(&db).await;
    assert_eq!(r.status, VerifyStatus::Differs);
    assert_eq!(
        diffs(table(&r, "by_int")),
        vec![
            (RowDiffKind::MissingOnTarget, s(&["-17"]), vec![]),
            (RowDiffKind::ExtraOnTarget, s(&["7000"]), vec![]),
        ]
    );
    assert_eq!(table(&r, "by_int").target_rows, Some(5501));
    let mut text = diffs(table(&r, "by_text"));
    text.sort();
    assert_eq!(
        text,
        vec![
            (RowDiffKind::MissingOnTarget, s(&["k777"]), vec![]),
            (RowDiffKind::ExtraOnTarget, s(&["zz top"]), vec![]),
        ]
    );
    assert_eq!(table(&r, "by_pair").key, s(&["a", "b"]));
    assert_eq!(
        diffs(table(&r, "by_pair")),
        vec![(RowDiffKind::Different, s(&["3", "b10"]), s(&["v"]))]
    );
    let nk = table(&r, "no_key");
    assert_eq!(nk.status, VerifyStatus::Differs);
    assert!(nk.differences.is_empty() && nk.key.is_empty());
    assert_eq!((nk.source_rows, nk.target_rows), (Some(100), Some(100)));
}

#[tokio::test]
async fn differing_keys_are_listed_up_to_the_limit() {
    let db = pair(
        "verify_limit",
        "CREATE TABLE t (id int PRIMARY KEY, v int);
         INSERT INTO t SELECT g, g FROM generate_series(1, 10000) g;",
    )
    .await;
    target()
        .execute(&db, "UPDATE t SET v = 0 WHERE id % 100 = 0")
        .await;
    let r = verify_as(&db, source().superuser_uri(&db), 3).await;
    let t = table(&r, "t");
    assert_eq!(
        t.differences
            .iter()
            .map(|d| d.key[0].as_str())
            .collect::<Vec<_>>(),
        ["100", "200", "300"]
    );
    assert!(t.more_differences);
}

/// Values whose text is the same compare equal (whatever their type's equality), values
/// stored differently differ even when `=` calls them equal.
#[tokio::test]
async fn values_compare_by_their_stored_text() {
    let db = pair(
        "verify_edge",
        "CREATE TABLE e (id int PRIMARY KEY, t text, n numeric, f float8, j json, p point, x xml,
                         ts timestamptz, iv interval, b bytea, r real);
         INSERT INTO e VALUES
           (1, '', 1.0, 0, '{\"a\": [1, 2]}', '(1,2)', '<a>x</a>', '2024-01-01 12:00+02', '1 day 2 hours', '\\x00ff', 1.5),
           (2, NULL, 'NaN', 'NaN', '[]', '(0,0)', '<b/>', 'infinity', '-3 months', '', 'Infinity'),
           (3, 'caf\u{e9}', 2, '-Infinity', 'null', '(-1.5,1e10)', NULL, '-infinity', '0', NULL, '-0'),
           (4, repeat('wide row ', 100000), 0.1, 1e-300, '{}', NULL, '<c/>', '2000-02-29', '1 year', decode(repeat('ab', 300000), 'hex'), 3.4e38);",
    )
    .await;
    let r = verify(&db).await;
    assert!(
        r.is_equal(),
        "identical rows (TOAST, NaN, infinity, json, point, xml): {r:#?}"
    );

    // NULL against '', 1.0 against 1.00, -0 against 0, a look-alike (decomposed) é.
    target()
        .execute(
            &db,
            "UPDATE e SET t = NULL WHERE id = 1;
             UPDATE e SET t = '' WHERE id = 2;
             UPDATE e SET n = 1.00, f = '-0' WHERE id = 1;
             UPDATE e SET t = 'cafe' || U&'\\0301' WHERE id = 3;
             UPDATE e SET t = t || '.' WHERE id = 4;",
        )
        .await;
    let r = verify(&db).await;
    assert_eq!(
        diffs(table(&r, "e")),
        vec![
            (RowDiffKind::Different, s(&["1"]), s(&["t", "n", "f"])),
            (RowDiffKind::Different, s(&["2"]), s(&["t"])),
            (RowDiffKind::Different, s(&["3"]), s(&["t"])),
            (RowDiffKind::Different, s(&["4"]), s(&["t"])),
        ]
    );
}

/// Integers, text, varchar, char(n), uuid, timestamps and floats are hashed from their stored
/// values rather than their text: the same differences must still be found, also those that
/// their types' equality would hide (a case-insensitive collation, -0).
#[tokio::test]
async fn values_hashed_from_storage_still_tell_every_difference() {
    let icu = source()
        .query_strings(
            "postgres",
            "SELECT count(*)::text FROM pg_collation WHERE collprovider = 'i'",
        )
        .await[0][0]
        .as_deref()
        != Some("0");
    let collation = if icu {
        "CREATE COLLATION ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false);"
    } else {
        "CREATE COLLATION ci FROM \"C\";"
    };
    let db = pair(
        "verify_native",
        &format!(
            "{collation}
             CREATE TABLE v (id bigint PRIMARY KEY, a int, b int, s smallint, c text COLLATE ci,
                             vc varchar(10), ch char(4), u uuid, ts timestamptz, tl timestamp(3),
                             f4 real, f8 float8, o oid);
             INSERT INTO v VALUES
               (1, 1, 2, 3, 'Abc', 'x', 'ab', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
                '2024-01-01 00:00:00.000001+00', '2024-01-01 10:00:00.123', 0, 0, 42),
               (2, NULL, 0, NULL, NULL, NULL, NULL, NULL, 'infinity', NULL, 'NaN', '-Infinity', NULL),
               (3, 7, 7, 7, 'same', 'same', 'same', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12',
                '1999-12-31 23:59:59+00', '-infinity', 1.5, 1e-300, 0),
               (4, 0, 0, 0, 'Case', 'x', 'x', NULL, NULL, NULL, 0, 0, 0);"
        ),
    )
    .await;
    let r = verify(&db).await;
    assert!(r.is_equal(), "identical rows: {r:#?}");

    target()
        .execute(
            &db,
            "UPDATE v SET a = 2, b = 1 WHERE id = 1;
             UPDATE v SET c = 'abc', ts = ts + interval '1 microsecond', f4 = '-0' WHERE id = 1;
             UPDATE v SET a = 0, b = NULL, s = 0 WHERE id = 2;
             UPDATE v SET ch = 'same ', vc = 'Same', u = 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a13' WHERE id = 3;
             UPDATE v SET c = 'case' WHERE id = 4;",
        )
        .await;
    let r = verify(&db).await;
    assert_eq!(
        diffs(table(&r, "v")),
        vec![
            (
                RowDiffKind::Different,
                s(&["1"]),
                s(&["a", "b", "c", "ts", "f4"])
            ),
            (RowDiffKind::Different, s(&["2"]), s(&["a", "b", "s"])),
            (RowDiffKind::Different, s(&["3"]), s(&["vc", "u"])),
            (RowDiffKind::Different, s(&["4"]), s(&["c"])),
        ],
        "char(4) 'same ' is 'same' (blank-padded); everything else differs, also 'Case' and 'case' \
         under a case-insensitive collation"
    );
    target()
        .execute(&db, "UPDATE v SET f8 = '-0' WHERE id = 1")
        .await;
    let r = verify(&db).await;
    assert!(
        diffs(table(&r, "v"))[0].2.contains(&"f8".to_string()),
        "-0 against 0 in float8: {r:#?}"
    );
}

#[tokio::test]
async fn tables_of_one_side_and_unreadable_tables_are_skipped_with_why() {
    let db = pair(
        "verify_sides",
        "CREATE TABLE both_sides (id int PRIMARY KEY);
         CREATE TABLE secret (id int PRIMARY KEY);
         INSERT INTO secret VALUES (1);",
    )
    .await;
    source()
        .execute(&db, "CREATE TABLE src_only (id int)")
        .await;
    target()
        .execute(&db, "CREATE TABLE tgt_only (id int)")
        .await;
    let (user, pw) = source().create_admin("verify_reader", false).await;
    source()
        .execute(
            &db,
            &format!(
                "GRANT SELECT ON both_sides, src_only TO {}",
                quote_ident(&user)
            ),
        )
        .await;
    let r = verify_as(&db, source().uri(&user, &pw, &db), 10).await;
    let why = |n: &str| {
        let t = table(&r, n);
        (t.status, t.reason.clone().unwrap_or_default())
    };
    assert_eq!(table(&r, "both_sides").status, VerifyStatus::Equal);
    assert_eq!(
        why("src_only"),
        (VerifyStatus::Skipped, "only on the source".into())
    );
    assert_eq!(
        why("tgt_only"),
        (VerifyStatus::Skipped, "only on the target".into())
    );
    let (st, reason) = why("secret");
    assert_eq!(st, VerifyStatus::Skipped);
    assert!(reason.contains("source user may not read"), "{reason}");
    // A table missing on the target is a difference; one the target has in addition is not.
    assert_eq!(r.status, VerifyStatus::Differs);
    target()
        .execute(&db, "CREATE TABLE src_only (id int)")
        .await;
    // A table nobody compared is never reported equal: the comparison could not be made.
    let r = verify_as(&db, source().uri(&user, &pw, &db), 10).await;
    assert_eq!(r.status, VerifyStatus::Failed, "{r:#?}");
    source()
        .execute(
            &db,
            &format!("GRANT SELECT ON secret TO {}", quote_ident(&user)),
        )
        .await;
    let r = verify_as(&db, source().uri(&user, &pw, &db), 10).await;
    assert!(r.is_equal(), "{r:#?}");
}

/// Each table is compared by its own rows, as it is copied: an inheritance parent does not
/// count its children's rows (read again with the children), so a target that holds the same
/// rows with a child standing alone (a newer major refuses some links) is equal, and a row
/// missing from a child is reported on the child, not on its parent as well.
#[tokio::test]
async fn inheritance_parents_are_compared_by_their_own_rows() {
    let db = pair(
        "verify_inherit",
        "CREATE TABLE parent (id int PRIMARY KEY, note text);
         INSERT INTO parent VALUES (1, 'parent row');",
    )
    .await;
    source()
        .execute(
            &db,
            "CREATE TABLE child (id int PRIMARY KEY, note text) INHERITS (parent);
             INSERT INTO child VALUES (2, 'child row'), (3, 'child row');",
        )
        .await;
    target()
        .execute(
            &db,
            "CREATE TABLE child (id int PRIMARY KEY, note text);
             INSERT INTO child VALUES (2, 'child row'), (3, 'child row');",
        )
        .await;
    let r = verify(&db).await;
    assert!(r.is_equal(), "{r:#?}");
    assert_eq!(table(&r, "parent").source_rows, Some(1));

    target()
        .execute(&db, "DELETE FROM child WHERE id = 3")
        .await;
    let r = verify(&db).await;
    assert_eq!(table(&r, "parent").status, VerifyStatus::Equal, "{r:#?}");
    let child = table(&r, "child");
    assert_eq!(child.status, VerifyStatus::Differs);
    assert_eq!(
        diffs(child),
        vec![(RowDiffKind::MissingOnTarget, s(&["3"]), vec![])]
    );
}

#[tokio::test]
async fn sequences_and_large_objects_are_compared() {
    let db = pair(
        "verify_seq_lo",
        "CREATE SEQUENCE s1; SELECT setval('s1', 42);
         CREATE SEQUENCE s2; SELECT setval('s2', 7, false);
         SELECT lo_from_bytea(70001, 'first'), lo_from_bytea(70002, 'second'), lo_from_bytea(70003, 'third');",
    )
    .await;
    let r = verify(&db).await;
    assert!(r.is_equal(), "{r:#?}");
    assert_eq!(r.large_objects.source_count, 3);
    assert_eq!(r.sequences.len(), 2);

    target()
        .execute(
            &db,
            "SELECT setval('s2', 7, true);
             SELECT lo_unlink(70002);
             SELECT lo_put(70003, 0, 'T');",
        )
        .await;
    let r = verify(&db).await;
    assert_eq!(r.status, VerifyStatus::Differs);
    let st = |n: &str| r.sequences.iter().find(|x| x.sequence == n).unwrap().status;
    assert_eq!(st("s1"), VerifyStatus::Equal);
    assert_eq!(st("s2"), VerifyStatus::Differs);
    let lo: Vec<(u32, LargeObjectDiffKind)> = r
        .large_objects
        .differences
        .iter()
        .map(|d| (d.oid, d.kind))
        .collect();
    assert_eq!(
        lo,
        vec![
            (70002, LargeObjectDiffKind::MissingOnTarget),
            (70003, LargeObjectDiffKind::DifferentContent)
        ]
    );
}

/// The source keeps changing during a dump-method migration with `--verify`: the target is
/// compared with the source as of the copy's snapshot, so none of those writes is reported.
#[tokio::test]
async fn writes_on_the_source_during_a_dump_migration_are_not_reported() {
    let db = source().create_database("verify_migrate").await;
    source()
        .execute(
            &db,
            "CREATE TABLE busy (id bigserial PRIMARY KEY, v int NOT NULL, note text);
             INSERT INTO busy (v, note) SELECT g, md5(g::text) FROM generate_series(1, 200000) g;
             CREATE TABLE calm (k text PRIMARY KEY);
             INSERT INTO calm SELECT 'k' || g FROM generate_series(1, 1000) g;",
        )
        .await;
    let stop = Arc::new(AtomicBool::new(false));
    let writes = Arc::new(AtomicU64::new(0));
    let writer = {
        let (stop, writes, db) = (stop.clone(), writes.clone(), db.clone());
        tokio::spawn(async move {
            let c = source().connect(&db).await;
            while !stop.load(Ordering::Relaxed) {
                c.batch_execute(
                    "INSERT INTO busy (v, note) VALUES (-1, 'during');
                     UPDATE busy SET v = v + 1 WHERE id = (random() * 199999)::int + 1;
                     DELETE FROM busy WHERE id = (random() * 199999)::int + 1;",
                )
                .await
                .unwrap();
                writes.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    let opts = MigrateOptions {
        source: ConnInfo::parse(&source().superuser_uri("postgres")).unwrap(),
        target: ConnInfo::parse(&target().superuser_uri("postgres")).unwrap(),
        only_dbs: vec![db.clone()],
        force_method: Some(db_migrate::Method::Dump),
        verify: db_migrate::verify::VerifyOptions {
            after_copy: true,
            ..Default::default()
        },
        copy: db_migrate::copy::CopyOptions {
            jobs: NonZeroUsize::new(2).unwrap(),
            progress: ProgressMode::Quiet,
            ..Default::default()
        },
        ..Default::default()
    };
    let result = PgMigrate::new(opts).migrate().await;
    stop.store(true, Ordering::Relaxed);
    writer.await.unwrap();
    let d = result.databases.iter().find(|d| d.dbname == db).unwrap();
    assert_eq!(d.status, DbStatus::Done, "{}", d.message);
    let v = d.verify.as_ref().expect("a verify report");
    assert!(v.is_equal(), "{v:#?}");
    assert_eq!(v.as_of, "copy snapshot");
    assert!(
        writes.load(Ordering::Relaxed) > 0,
        "the source was written meanwhile"
    );
    assert!(result.succeeded());
    // The source has moved on, so comparing now shows differences.
    let now = verify(&db).await;
    assert_eq!(table(&now, "busy").status, VerifyStatus::Differs);
    assert_eq!(table(&now, "calm").status, VerifyStatus::Equal);
}

fn pg_tool(name: &str) -> std::path::PathBuf {
    let need = source().major.max(target().major);
    (need..=18)
        .map(|m| std::path::PathBuf::from(format!("/usr/lib/postgresql/{m}/bin/{name}")))
        .find(|p| p.exists())
        .unwrap_or_else(|| panic!("no {name} for major {need} in /usr/lib/postgresql"))
}

/// `--verify-only` after another tool's migration (`pg_dump | pg_restore`): equal, exit 0;
/// after one target row is deleted, exactly that key, exit 1.
#[tokio::test]
async fn verify_only_after_pg_dump_and_pg_restore() {
    if source().major.max(target().major) > 15 {
        eprintln!("no pg_dump new enough here; skipped");
        return;
    }
    let db = source().create_database("verify_restore").await;
    source()
        .execute(
            &db,
            "CREATE SCHEMA \"Odd Schema\";
             CREATE TABLE \"Odd Schema\".\"Items \"\"x\"\"\" (id int PRIMARY KEY, name text, price numeric(10,2), at timestamptz);
             INSERT INTO \"Odd Schema\".\"Items \"\"x\"\"\" SELECT g, 'item ' || g, g / 7.0, '2024-01-01'::timestamptz + g * interval '1 minute' FROM generate_series(1, 5000) g;
             CREATE TABLE tags (tag text PRIMARY KEY, n int);
             INSERT INTO tags SELECT 't' || g, g FROM generate_series(1, 300) g;
             CREATE SEQUENCE counter; SELECT setval('counter', 99);",
        )
        .await;
    target()
        .execute("postgres", &format!("CREATE DATABASE {}", quote_ident(&db)))
        .await;
    let dump = std::process::Command::new(pg_tool("pg_dump"))
        .args(["-Fc", "-h"])
        .arg(&source().socket_dir)
        .args([
            "-p",
            &source().port.to_string(),
            "-U",
            "postgres",
            "-d",
            &db,
        ])
        .output()
        .unwrap();
    assert!(
        dump.status.success(),
        "{}",
        String::from_utf8_lossy(&dump.stderr)
    );
    let mut restore = std::process::Command::new(pg_tool("pg_restore"))
        .args(["--no-owner", "-h"])
        .arg(&target().socket_dir)
        .args([
            "-p",
            &target().port.to_string(),
            "-U",
            "postgres",
            "-d",
            &db,
        ])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    restore
        .stdin
        .take()
        .unwrap()
        .write_all(&dump.stdout)
        .unwrap();
    assert!(restore.wait().unwrap().success());

    let run = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_pg_migrate"))
            .args(["-s", &source().superuser_uri("postgres")])
            .args(["-t", &target().superuser_uri("postgres")])
            .args(["--only-db", &db, "--verify-only", "--json", "-"])
            .env_remove("SOURCE_SERVICE_URI")
            .env_remove("TARGET_SERVICE_URI")
            .output()
            .unwrap()
    };
    let o = run();
    let report = |o: &std::process::Output| -> serde_json::Value {
        serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stderr)))
    };
    let v = report(&o);
    assert_eq!(o.status.code(), Some(0), "{v:#}");
    assert_eq!(v["databases"][0]["verify"]["status"], "equal");
    // Nothing was written: no role, schema or row of ours on the target.
    assert!(v["roles"].as_array().unwrap().is_empty());

    target()
        .execute(
            &db,
            "DELETE FROM \"Odd Schema\".\"Items \"\"x\"\"\" WHERE id = 4242",
        )
        .await;
    let o = run();
    let v = report(&o);
    assert_eq!(o.status.code(), Some(1), "{v:#}");
    let verify = &v["databases"][0]["verify"];
    assert_eq!(verify["status"], "differs");
    let differing: Vec<&serde_json::Value> = verify["tables"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["status"] != "equal")
        .collect();
    assert_eq!(differing.len(), 1, "{verify:#}");
    assert_eq!(differing[0]["schema"], "Odd Schema");
    assert_eq!(differing[0]["table"], "Items \"x\"");
    assert_eq!(differing[0]["source_rows"], 5000);
    assert_eq!(differing[0]["target_rows"], 4999);
    assert_eq!(
        differing[0]["differences"],
        serde_json::json!([{ "kind": "missing_on_target", "key": ["4242"], "columns": [] }])
    );
    let human = String::from_utf8_lossy(&o.stderr);
    assert!(human.contains("id=4242: missing on target"), "{human}");
}

/// The replication method with `--verify` at the cut-over: compared once the lag reached 0,
/// before the subscription is dropped, while the source is still being written to. Rows that
/// differ only because their changes were in flight are compared again after the lag reached
/// 0 once more and are not reported; a difference that persists (a target row changed by
/// hand) is, by its key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replication_cut_over_with_verify_reports_only_differences_that_persist() {
    let db = source().create_database("verify_repl").await;
    source()
        .execute(
            &db,
            "CREATE TABLE r (id int PRIMARY KEY, v text);
             INSERT INTO r SELECT g, 'v' || g FROM generate_series(1, 20000) g;
             CREATE TABLE w (id bigint PRIMARY KEY, at timestamptz);
             CREATE TABLE k (code text PRIMARY KEY);
             INSERT INTO k VALUES ('a'), ('b');",
        )
        .await;
    // Every write touches a key no other write touches: a row in flight in one comparison is
    // settled in the next.
    let stop = Arc::new(AtomicBool::new(false));
    let writes = Arc::new(AtomicU64::new(0));
    let writer = {
        let (stop, writes, db) = (stop.clone(), writes.clone(), db.clone());
        tokio::spawn(async move {
            let c = source().connect(&db).await;
            let mut n: u64 = 0;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                c.batch_execute(&format!(
                    "INSERT INTO w VALUES ({n}, now()); UPDATE r SET v = v || 'x' WHERE id = {};",
                    1000 + n
                ))
                .await
                .unwrap();
                writes.fetch_add(1, Ordering::Relaxed);
                // Bursts with pauses: --max-replication-lag 0 is reached in a pause.
                let pause = if n % 20 == 0 { 700 } else { 10 };
                tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
            }
        })
    };
    // Once row 5 arrived on the target, it is changed there: that difference stays.
    let tamper = {
        let db = db.clone();
        tokio::spawn(async move {
            loop {
                if let Ok(c) = target().try_connect(&db).await
                    && let Ok(n) = c
                        .execute("UPDATE r SET v = 'changed on the target' WHERE id = 5", &[])
                        .await
                    && n == 1
                {
                    return;
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        })
    };
    let opts = MigrateOptions {
        source: ConnInfo::parse(&source().superuser_uri("postgres")).unwrap(),
        target: ConnInfo::parse(&target().superuser_uri("postgres")).unwrap(),
        only_dbs: vec![db.clone()],
        force_method: Some(db_migrate::Method::Replication),
        replication: db_migrate::replication::ReplicationOptions {
            max_replication_lag: Some(0),
            stop_replication: true,
            poll_interval: std::time::Duration::from_millis(100),
            replication_timeout: std::time::Duration::from_secs(120),
            ..Default::default()
        },
        verify: db_migrate::verify::VerifyOptions {
            after_copy: true,
            ..Default::default()
        },
        copy: db_migrate::copy::CopyOptions {
            jobs: NonZeroUsize::new(2).unwrap(),
            progress: ProgressMode::Quiet,
            ..Default::default()
        },
        ..Default::default()
    };
    let result = PgMigrate::new(opts).migrate().await;
    stop.store(true, Ordering::Relaxed);
    writer.await.unwrap();
    tamper.abort();
    let d = result.databases.iter().find(|d| d.dbname == db).unwrap();
    assert_eq!(d.status, DbStatus::Done, "{}", d.message);
    assert_eq!(d.method, Some(db_migrate::Method::Replication));
    assert!(
        writes.load(Ordering::Relaxed) > 0,
        "the source was written meanwhile"
    );
    let v = d.verify.as_ref().expect("a verify report at the cut-over");
    assert_eq!(v.as_of, "cut-over");
    assert_eq!(v.status, VerifyStatus::Differs, "{v:#?}");
    assert_eq!(
        diffs(table(v, "r")),
        [(RowDiffKind::Different, s(&["5"]), s(&["v"]))],
        "{v:#?}"
    );
    assert!(v.rechecks >= 1, "the differing table was compared again");
    for t in ["w", "k"] {
        assert_eq!(table(v, t).status, VerifyStatus::Equal, "{v:#?}");
    }
    assert!(!result.succeeded(), "a difference fails the run");
}
