//! The data engine (`db_migrate::copy`) on real clusters: every type family through the binary
//! and the text path, split and unsplit tables, consistency under concurrent writes, sequences,
//! large objects, partitions, generated columns, unlogged tables, extension configuration
//! tables, post-data scheduling, triggers, failures and cancellation.
//!
//! The schema engine is not used here: each test creates the same tables in its source and
//! target databases with SQL, then calls [`copy_database`]. Every test uses its own databases,
//! so tests run in parallel.

// Each module keeps its own copy of the harness, so its clusters are its own (as when every
// file was a test binary of its own).
#[path = "support/mod.rs"]
mod support;

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use db_migrate::conn::ConnInfo;
use db_migrate::copy::{
    CopyFormat, CopyOptions, CopyReport, PostDataJob, PostDataPlan, ProgressMode, copy_database,
};
use db_migrate::pair::DbPair;
use db_migrate::{ErrorKind, Side};
use support::{Cluster, quote_literal, source, target};
use tokio_util::sync::CancellationToken;

const FIXTURE: &str = include_str!("fixtures/data.sql");

/// (schema, data) halves of the fixture.
fn fixture() -> (&'static str, &'static str) {
    FIXTURE
        .split_once("--- data ---")
        .expect("fixture has a data section")
}

/// Tables of the fixture, as SQL names.
const FIXTURE_TABLES: &[&str] = &[
    "public.t_numeric",
    "public.t_text",
    "public.t_time",
    "public.t_misc",
    "public.t_arrays",
    "public.t_ranges",
    "public.t_user",
    "public.t_ext",
    r#""Odd Schema"."Odd ""Table""""#,
    "public.t_nocols",
    "public.t_dropped",
];

/// Multiranges exist from PG14 on.
const MULTIRANGE_SCHEMA: &str = "CREATE TABLE public.t_multi (id integer PRIMARY KEY, m4 int4multirange, md datemultirange, mn nummultirange, mtz tstzmultirange);";
const MULTIRANGE_DATA: &str = "INSERT INTO public.t_multi VALUES
    (1, '{[1,3),[5,7)}', '{[2000-01-01,2000-02-01),[2001-01-01,infinity)}', '{(-Infinity,0],[1.5,2.5]}', '{}'),
    (2, '{}', '{}', '{}', '{[2000-01-01 00:00+00,2000-01-02 00:00+00)}'),
    (3, NULL, NULL, NULL, NULL);";

fn multiranges() -> bool {
    source().major >= 14 && target().major >= 14
}

fn options(format: CopyFormat, split: u64) -> CopyOptions {
    CopyOptions {
        jobs: NonZeroUsize::new(3).unwrap(),
        format,
        split_larger_than: split,
        progress: ProgressMode::Quiet,
        ..Default::default()
    }
}

async fn copy(
    src_db: &str,
    tgt_db: &str,
    opts: &CopyOptions,
    snapshot: Option<&str>,
    post: PostDataPlan,
) -> db_migrate::Result<CopyReport> {
    copy_cancellable(
        src_db,
        tgt_db,
        opts,
        snapshot,
        post,
        CancellationToken::new(),
    )
    .await
}

/// [`copy`], stopped when `cancel` fires.
async fn copy_cancellable(
    src_db: &str,
    tgt_db: &str,
    opts: &CopyOptions,
    snapshot: Option<&str>,
    post: PostDataPlan,
    cancel: CancellationToken,
) -> db_migrate::Result<CopyReport> {
    let s = ConnInfo::parse(&source().superuser_uri(src_db)).unwrap();
    let t = ConnInfo::parse(&target().superuser_uri(tgt_db)).unwrap();
    let pair = DbPair::new(&s, &t, src_db, cancel).into_target_db(tgt_db);
    copy_database(&pair, opts, snapshot, post).await
}

/// `src` and `tgt` (databases of the source and target clusters) as a pair.
fn pair_of(s: &ConnInfo, t: &ConnInfo, src: &str, tgt: &str) -> DbPair {
    DbPair::new(s, t, src, CancellationToken::new()).into_target_db(tgt)
}

/// `[count, md5 of the sorted row texts]` of `table`.
async fn checksum(c: &Cluster, db: &str, table: &str) -> Vec<Option<String>> {
    c.query_strings(
        db,
        &format!(
            "SELECT count(*)::text, md5(string_agg(t::text, '|' ORDER BY t::text)) FROM {table} t"
        ),
    )
    .await
    .remove(0)
}

async fn assert_same(src_db: &str, tgt_db: &str, tables: &[&str]) {
    for t in tables {
        let a = checksum(source(), src_db, t).await;
        let b = checksum(target(), tgt_db, t).await;
        assert_eq!(a, b, "table {t}: source vs target (count, md5)");
    }
}

fn result<'a>(
    r: &'a CopyReport,
    schema: &str,
    table: &str,
) -> &'a db_migrate::copy::TableCopyResult {
    r.tables
        .iter()
        .find(|t| t.schema == schema && t.table == table)
        .unwrap_or_else(|| panic!("no result for {schema}.{table} in {:#?}", r.tables))
}

/// The fixture's source database.
async fn fixture_source() -> String {
    let (schema, data) = fixture();
    let db = source().create_database("copy_src").await;
    source().execute(&db, schema).await;
    source().execute(&db, data).await;
    if multiranges() {
        source().execute(&db, MULTIRANGE_SCHEMA).await;
        source().execute(&db, MULTIRANGE_DATA).await;
    }
    source().execute(&db, "VACUUM ANALYZE").await;
    db
}

async fn fixture_target() -> String {
    let db = target().create_database("copy_tgt").await;
    target().execute(&db, fixture().0).await;
    if multiranges() {
        target().execute(&db, MULTIRANGE_SCHEMA).await;
    }
    db
}

fn fixture_tables() -> Vec<&'static str> {
    let mut v = FIXTURE_TABLES.to_vec();
    if multiranges() {
        v.push("public.t_multi");
    }
    v
}

#[tokio::test]
async fn every_type_family_arrives_through_the_binary_and_the_text_path() {
    let src = fixture_source().await;
    let tables = fixture_tables();
    // (format, split threshold): unsplit runs and runs where the bigger tables are split.
    for (format, split) in [
        (CopyFormat::Auto, 0),
        (CopyFormat::Text, 0),
        (CopyFormat::Binary, 0),
        (CopyFormat::Text, 16 * 1024),
        (CopyFormat::Auto, 16 * 1024),
    ] {
        let tgt = fixture_target().await;
        let report = copy(
            &src,
            &tgt,
            &options(format, split),
            None,
            PostDataPlan::default(),
        )
        .await
        .unwrap_or_else(|e| panic!("{format:?} split {split}: {e}"));
        assert_same(&src, &tgt, &tables).await;
        assert_eq!(report.tables.len(), tables.len(), "{:#?}", report.tables);
        for t in &report.tables {
            let name = format!("{}.{}", t.schema, t.table);
            let expected = match (format, t.table.as_str()) {
                (CopyFormat::Text, _) => "text",
                // Enums, composites, domains and user ranges go as text unless forced.
                (CopyFormat::Auto, "t_user" | "t_ext") => "text",
                // Binary only when the target is not older than the source.
                (CopyFormat::Auto, _) if target().major < source().major => "text",
                (CopyFormat::Auto, _) => "binary",
                // Composites and arrays of them cannot be sent in binary between servers.
                (CopyFormat::Binary, "t_user") => "text",
                (CopyFormat::Binary, _) => "binary",
            };
            assert_eq!(t.format, expected, "{format:?}: format of {name}");
            let count = source()
                .query_strings(
                    &src,
                    &format!(
                        "SELECT count(*) FROM {}.{}",
                        support::quote_ident(&t.schema),
                        support::quote_ident(&t.table)
                    ),
                )
                .await[0][0]
                .clone()
                .unwrap();
            assert_eq!(t.rows.to_string(), count, "{format:?}: rows of {name}");
        }
        if split > 0 {
            assert!(
                result(&report, "public", "t_text").parts > 1,
                "{:#?}",
                report.tables
            );
            assert!(result(&report, "public", "t_numeric").parts > 1);
        } else {
            assert!(report.tables.iter().all(|t| t.parts == 1));
        }
        if format == CopyFormat::Binary {
            assert!(
                report
                    .warnings
                    .iter()
                    .any(|w| w.message.contains("t_user") && w.message.contains("binary")),
                "{:?}",
                report.warnings
            );
        }
        assert_eq!(
            report.rows,
            report.tables.iter().map(|t| t.rows).sum::<u64>()
        );
    }
}

#[tokio::test]
async fn split_tables_use_ranges_and_unsplit_tables_are_frozen() {
    let setup =
        "CREATE TABLE public.big (id bigint PRIMARY KEY, payload text, n numeric, ts timestamptz);
                 CREATE TABLE public.small (id int PRIMARY KEY, v text);
                 CREATE EXTENSION IF NOT EXISTS pg_visibility;";
    let src = source().create_database("copy_split").await;
    source().execute(&src, setup).await;
    source()
        .execute(
            &src,
            "INSERT INTO public.big SELECT i, repeat(md5(i::text), 3), i / 7.0, timestamptz '2020-01-01 00:00+00' + i * interval '1 minute' FROM generate_series(1, 40000) i;
             DELETE FROM public.big WHERE id % 10 = 0;
             INSERT INTO public.small SELECT i, md5(i::text) FROM generate_series(1, 1000) i;",
        )
        .await;
    source().execute(&src, "VACUUM ANALYZE").await;
    let tgt = target().create_database("copy_split").await;
    target().execute(&tgt, setup).await;
    let report = copy(
        &src,
        &tgt,
        &options(CopyFormat::Auto, 256 * 1024),
        None,
        PostDataPlan::default(),
    )
    .await
    .unwrap();
    assert_same(&src, &tgt, &["public.big", "public.small"]).await;
    let big = result(&report, "public", "big");
    let small = result(&report, "public", "small");
    assert!(big.parts >= 4, "{big:?}");
    assert_eq!(big.rows, 36000);
    assert_eq!(small.parts, 1);
    assert_eq!(big.format, "binary");
    // Largest first: the split table's figures come from parts that started first.
    if target().major >= 14 {
        // COPY FREEZE (single part, truncated in the same transaction) marks every page
        // all-frozen in the visibility map; a split table's parts cannot be frozen.
        let frozen = |t: &'static str| {
            let tgt = tgt.clone();
            async move {
                target()
                    .query_strings(
                        &tgt,
                        &format!(
                            "SELECT all_frozen::text, (SELECT relpages FROM pg_class WHERE oid = '{t}'::regclass)::text FROM pg_visibility_map_summary('{t}')"
                        ),
                    )
                    .await
                    .remove(0)
            }
        };
        target().execute(&tgt, "CHECKPOINT; ANALYZE").await;
        let s = frozen("public.small").await;
        assert_ne!(s[0].as_deref(), Some("0"), "small: {s:?}");
        assert_eq!(s[0], s[1], "small: all pages frozen");
        let b = frozen("public.big").await;
        assert_eq!(b[0].as_deref(), Some("0"), "big: {b:?}");
    }
    // Copying again replaces the rows (TRUNCATE) rather than duplicating them.
    copy(
        &src,
        &tgt,
        &options(CopyFormat::Text, 256 * 1024),
        None,
        PostDataPlan::default(),
    )
    .await
    .unwrap();
    assert_same(&src, &tgt, &["public.big", "public.small"]).await;
}

const LEDGER_SCHEMA: &str = "
    CREATE TABLE public.acct (id int PRIMARY KEY, balance bigint NOT NULL, pad text);
    CREATE TABLE public.ledger (id bigserial PRIMARY KEY, src int, dst int, amount bigint, pad text);";
const ACCOUNTS: i64 = 20_000;

/// Writes to the source until `stop`: each transaction records a transfer in `ledger` and
/// applies it to two accounts of `acct` (non-HOT updates that move rows between pages).
/// Returns the number of committed transactions.
async fn writer(db: String, stop: Arc<AtomicBool>, count: Arc<AtomicU64>) {
    let client = source().connect(&db).await;
    let mut x: u64 = 0x9e3779b97f4a7c15;
    while !stop.load(Ordering::Relaxed) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let a = (x % ACCOUNTS as u64) as i64 + 1;
        let b = ((x >> 20) % ACCOUNTS as u64) as i64 + 1;
        let k = ((x >> 40) % 100) as i64 + 1;
        client
            .batch_execute(&format!(
                "BEGIN;
                 INSERT INTO public.ledger (src, dst, amount, pad) VALUES ({a}, {b}, {k}, repeat('w', 50));
                 UPDATE public.acct SET balance = balance - {k}, pad = pad || 'u' WHERE id = {a};
                 UPDATE public.acct SET balance = balance + {k}, pad = pad || 'u' WHERE id = {b};
                 COMMIT;"
            ))
            .await
            .expect("writer transaction");
        count.fetch_add(1, Ordering::Relaxed);
    }
}

async fn ledger_source() -> String {
    let db = source().create_database("copy_consistent").await;
    source().execute(&db, LEDGER_SCHEMA).await;
    source()
        .execute(
            &db,
            &format!(
                "INSERT INTO public.acct SELECT i, 1000, repeat('p', 200) FROM generate_series(1, {ACCOUNTS}) i;
                 INSERT INTO public.ledger (src, dst, amount, pad) SELECT 1, 1, 0, repeat('l', 50) FROM generate_series(1, 50000);"
            ),
        )
        .await;
    source().execute(&db, "VACUUM ANALYZE").await;
    db
}

/// The target is a consistent image: every balance equals the initial one plus the transfers in
/// the copied ledger, and the ledger ids are a gap-free prefix.
async fn assert_consistent(tgt: &str) {
    let rows = target()
        .query_strings(
            tgt,
            "WITH d AS (
                 SELECT id, sum(delta) AS s FROM (
                     SELECT dst AS id, amount AS delta FROM public.ledger
                     UNION ALL SELECT src, -amount FROM public.ledger) x GROUP BY id)
             SELECT (SELECT count(*) FROM public.acct a LEFT JOIN d USING (id)
                      WHERE a.balance <> 1000 + coalesce(d.s, 0))::text,
                    (SELECT count(*) FROM public.acct)::text,
                    (SELECT sum(balance) FROM public.acct)::text,
                    (SELECT count(*) = max(id) AND min(id) = 1 FROM public.ledger)::text",
        )
        .await;
    assert_eq!(
        rows[0],
        vec![
            Some("0".into()),
            Some(ACCOUNTS.to_string()),
            Some((ACCOUNTS * 1000).to_string()),
            Some("true".into())
        ],
        "inconsistent image: [bad balances, accounts, total, ledger prefix]"
    );
}

#[tokio::test]
async fn concurrent_writes_leave_a_consistent_image() {
    let src = ledger_source().await;
    let tgt = target().create_database("copy_consistent").await;
    target().execute(&tgt, LEDGER_SCHEMA).await;
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let w = tokio::spawn(writer(src.clone(), stop.clone(), count.clone()));
    // Let the writer get going, then copy in many small parts, read at different moments.
    while count.load(Ordering::Relaxed) < 20 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let before = count.load(Ordering::Relaxed);
    let report = copy(
        &src,
        &tgt,
        &options(CopyFormat::Auto, 128 * 1024),
        None,
        PostDataPlan::default(),
    )
    .await
    .unwrap();
    let during = count.load(Ordering::Relaxed) - before;
    stop.store(true, Ordering::Relaxed);
    w.await.unwrap();
    assert!(result(&report, "public", "acct").parts > 4);
    assert!(result(&report, "public", "ledger").parts > 4);
    assert!(during > 0, "the writer must have written during the copy");
    assert_consistent(&tgt).await;
    // Writes after the snapshot did not arrive.
    let src_ledger = checksum(source(), &src, "public.ledger").await;
    let tgt_ledger = checksum(target(), &tgt, "public.ledger").await;
    let n = |v: &Vec<Option<String>>| v[0].as_ref().unwrap().parse::<u64>().unwrap();
    assert!(
        n(&src_ledger) > n(&tgt_ledger),
        "{src_ledger:?} vs {tgt_ledger:?}"
    );
    // The ledger sequence came along with the value read at the start of the copy (sequences
    // are not transactional): at least the last copied id.
    let seq = target()
        .query_strings(&tgt, "SELECT (last_value >= (SELECT max(id) FROM public.ledger))::text FROM public.ledger_id_seq")
        .await;
    assert_eq!(seq[0][0].as_deref(), Some("true"));
}

#[tokio::test]
async fn an_exported_snapshot_is_honoured() {
    let src = ledger_source().await;
    let tgt = target().create_database("copy_snapshot").await;
    target().execute(&tgt, LEDGER_SCHEMA).await;
    // Our own exporting transaction: what it sees is what the target must get.
    let holder = source().connect(&src).await;
    holder
        .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        .await
        .unwrap();
    let snapshot: String = holder
        .query_one("SELECT pg_export_snapshot()", &[])
        .await
        .unwrap()
        .get(0);
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let w = tokio::spawn(writer(src.clone(), stop.clone(), count.clone()));
    while count.load(Ordering::Relaxed) < 50 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut expected = HashMap::new();
    for t in ["public.acct", "public.ledger"] {
        let row = holder
            .query_one(
                &format!(
                    "SELECT count(*)::text, md5(string_agg(t::text, '|' ORDER BY t::text)) FROM {t} t"
                ),
                &[],
            )
            .await
            .unwrap();
        expected.insert(t, vec![row.get::<_, Option<String>>(0), row.get(1)]);
    }
    copy(
        &src,
        &tgt,
        &options(CopyFormat::Auto, 128 * 1024),
        Some(&snapshot),
        PostDataPlan::default(),
    )
    .await
    .unwrap();
    stop.store(true, Ordering::Relaxed);
    w.await.unwrap();
    holder.batch_execute("COMMIT").await.unwrap();
    for (t, exp) in expected {
        assert_eq!(checksum(target(), &tgt, t).await, exp, "{t}");
    }
    // The writer wrote after the snapshot, and none of it arrived.
    let rows = source()
        .query_strings(&src, "SELECT (count(*) >= 50050)::text FROM public.ledger")
        .await;
    assert_eq!(rows[0][0].as_deref(), Some("true"));
}

const COMPLETE_SCHEMA: &str = "
    CREATE SEQUENCE public.s_plain;
    CREATE SEQUENCE public.s_uncalled;
    CREATE SEQUENCE \"Odd Schema\".\"S eq\" INCREMENT BY -1 MINVALUE -1000 MAXVALUE 0 START -1;
    CREATE TABLE public.ident (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v text);
    CREATE TABLE public.ser (id serial PRIMARY KEY, v text);
    CREATE TABLE public.gen (a int, b int GENERATED ALWAYS AS (a * 2) STORED, c text);
    CREATE UNLOGGED TABLE public.unlogged_t (id int, v text);
    CREATE TABLE public.parted (id int NOT NULL, region text NOT NULL, v text) PARTITION BY LIST (region);
    CREATE TABLE public.p_eu PARTITION OF public.parted FOR VALUES IN ('eu');
    CREATE TABLE public.p_us PARTITION OF public.parted FOR VALUES IN ('us') PARTITION BY RANGE (id);
    CREATE TABLE public.p_us_lo PARTITION OF public.p_us FOR VALUES FROM (MINVALUE) TO (100);
    CREATE TABLE public.p_us_hi PARTITION OF public.p_us FOR VALUES FROM (100) TO (MAXVALUE);
    CREATE TABLE public.p_other PARTITION OF public.parted DEFAULT;
    CREATE TABLE public.inh_parent (id int, v text);
    CREATE TABLE public.inh_child (extra text) INHERITS (public.inh_parent);
    CREATE TABLE public.cfg (id int, sys boolean);
    CREATE TABLE public.extmember (id int);
";

#[tokio::test]
async fn sequences_large_objects_partitions_and_the_rest_arrive() {
    let src = source().create_database("copy_complete").await;
    source()
        .execute(
            &src,
            &format!("CREATE EXTENSION hstore; CREATE SCHEMA \"Odd Schema\"; {COMPLETE_SCHEMA}"),
        )
        .await;
    source()
        .execute(
            &src,
            "SELECT setval('public.s_plain', 42);
             SELECT setval('public.s_uncalled', 7, false);
             SELECT nextval('\"Odd Schema\".\"S eq\"'), nextval('\"Odd Schema\".\"S eq\"');
             INSERT INTO public.ident (v) SELECT 'i' || i FROM generate_series(1, 5) i;
             INSERT INTO public.ser (v) VALUES ('a'), ('b'), ('c');
             INSERT INTO public.gen (a, c) SELECT i, 'g' || i FROM generate_series(1, 100) i;
             INSERT INTO public.unlogged_t SELECT i, md5(i::text) FROM generate_series(1, 500) i;
             INSERT INTO public.parted SELECT i, (ARRAY['eu', 'us', 'asia'])[1 + i % 3], md5(i::text) FROM generate_series(1, 3000) i;
             INSERT INTO public.inh_parent VALUES (1, 'parent only');
             INSERT INTO public.inh_child VALUES (2, 'child', 'x');
             CREATE MATERIALIZED VIEW public.mv AS SELECT region, count(*) AS n FROM public.parted GROUP BY region;
             INSERT INTO public.cfg VALUES (1, true), (2, false), (3, false);
             INSERT INTO public.extmember VALUES (1), (2);
             ALTER EXTENSION hstore ADD TABLE public.cfg;
             ALTER EXTENSION hstore ADD TABLE public.extmember;
             UPDATE pg_extension SET extconfig = ARRAY['public.cfg'::regclass::oid], extcondition = ARRAY['WHERE NOT sys']
              WHERE extname = 'hstore';
             SELECT lo_from_bytea(424201, 'hello large object');
             SELECT lo_from_bytea(424202, '');
             SELECT lo_from_bytea(424203, (SELECT decode(string_agg(md5(i::text), ''), 'hex') FROM generate_series(1, 200000) i));
             SELECT lo_from_bytea(424204, 'not pre-created on the target');",
        )
        .await;
    let target_schema = format!(
        "CREATE EXTENSION hstore; CREATE SCHEMA \"Odd Schema\"; {COMPLETE_SCHEMA}
         CREATE MATERIALIZED VIEW public.mv AS SELECT region, count(*) AS n FROM public.parted GROUP BY region WITH NO DATA;
         INSERT INTO public.cfg VALUES (1, true);
         SELECT lo_create(424201);
         SELECT lo_create(424202);
         SELECT lo_from_bytea(424203, decode(repeat('ff', 5000000), 'hex'));"
    );
    let tgt = target().create_database("copy_complete").await;
    target().execute(&tgt, &target_schema).await;

    let mut post = PostDataPlan::default();
    post.by_table.insert(
        ("public".into(), "ident".into()),
        vec![
            PostDataJob {
                describe: "index public.ident_v".into(),
                statements: vec!["CREATE INDEX ident_v ON public.ident (v)".into()],
                refusable: Vec::new(),
                refusals: None,
                depends_on: Vec::new(),
                ..Default::default()
            },
            PostDataJob {
                describe: "log".into(),
                statements: vec![
                    "CREATE TABLE public.ident_log AS SELECT count(*) AS n FROM public.ident"
                        .into(),
                ],
                refusable: Vec::new(),
                refusals: None,
                depends_on: Vec::new(),
                ..Default::default()
            },
        ],
    );
    post.by_table.insert(
        ("public".into(), "parted".into()),
        vec![PostDataJob {
            describe: "index public.parted_id".into(),
            statements: vec![
                "CREATE INDEX parted_id ON public.parted (id)".into(),
                "CREATE TABLE public.parted_log AS SELECT count(*) AS n FROM public.parted".into(),
            ],
            refusable: Vec::new(),
            refusals: None,
            depends_on: Vec::new(),
            ..Default::default()
        }],
    );
    post.by_table.insert(
        ("public".into(), "mv".into()),
        vec![PostDataJob {
            describe: "materialized view public.mv".into(),
            statements: vec!["REFRESH MATERIALIZED VIEW public.mv".into()],
            refusable: Vec::new(),
            refusals: None,
            depends_on: Vec::new(),
            ..Default::default()
        }],
    );
    post.rest.push(PostDataJob {
        describe: "rest".into(),
        statements: vec![
            "CREATE TABLE public.rest_log AS SELECT (SELECT count(*) FROM public.gen) + (SELECT count(*) FROM public.unlogged_t) AS n".into(),
        ],
        refusable: Vec::new(),
        refusals: None,
        depends_on: Vec::new(),
        ..Default::default()
    });
    let report = copy(&src, &tgt, &options(CopyFormat::Auto, 0), None, post)
        .await
        .unwrap();

    assert_same(
        &src,
        &tgt,
        &[
            "public.ident",
            "public.ser",
            "public.gen",
            "public.unlogged_t",
            "public.parted",
            "public.p_us",
            "public.inh_parent",
            "public.inh_child",
            "public.mv",
        ],
    )
    .await;
    // Sequences, identity and serial included.
    for seq in [
        "public.s_plain",
        "public.s_uncalled",
        "\"Odd Schema\".\"S eq\"",
        "public.ident_id_seq",
        "public.ser_id_seq",
    ] {
        let sql = format!("SELECT last_value::text, is_called::text FROM {seq}");
        assert_eq!(
            source().query_strings(&src, &sql).await,
            target().query_strings(&tgt, &sql).await,
            "sequence {seq}"
        );
    }
    assert!(report.sequences >= 5, "{report:?}");
    // Large objects: contents identical, stale target content replaced, missing one created.
    let lo_sql = "SELECT oid::text, md5(lo_get(oid)) FROM pg_largeobject_metadata ORDER BY oid";
    assert_eq!(
        source().query_strings(&src, lo_sql).await,
        target().query_strings(&tgt, lo_sql).await
    );
    assert_eq!(report.large_objects, 4);
    // Leaves only; never the partitioned parents; no materialized view; no extension member
    // that is not a configuration table.
    let names: Vec<&str> = report.tables.iter().map(|t| t.table.as_str()).collect();
    for leaf in [
        "p_eu",
        "p_us_lo",
        "p_us_hi",
        "p_other",
        "unlogged_t",
        "gen",
        "cfg",
    ] {
        assert!(names.contains(&leaf), "{leaf} missing from {names:?}");
    }
    for absent in ["parted", "p_us", "mv", "extmember"] {
        assert!(
            !names.contains(&absent),
            "{absent} must not be copied: {names:?}"
        );
    }
    // Extension configuration table: only the rows matching extcondition, added to the
    // extension's own rows.
    assert_eq!(
        target()
            .query_strings(
                &tgt,
                "SELECT string_agg(id || ':' || sys, ',' ORDER BY id) FROM public.cfg"
            )
            .await[0][0]
            .as_deref(),
        Some("1:true,2:false,3:false")
    );
    assert_eq!(
        target()
            .query_strings(&tgt, "SELECT count(*)::text FROM public.extmember")
            .await[0][0]
            .as_deref(),
        Some("0")
    );
    // Post-data ran after the loads (by table, partitioned parent after all leaves, orphans and
    // rest at the end).
    for (sql, n) in [
        ("SELECT n::text FROM public.ident_log", "5"),
        ("SELECT n::text FROM public.parted_log", "3000"),
        ("SELECT n::text FROM public.rest_log", "600"),
        (
            "SELECT count(*)::text FROM pg_indexes WHERE indexname IN ('ident_v', 'parted_id')",
            "2",
        ),
        (
            "SELECT relispopulated::text FROM pg_class WHERE relname = 'mv'",
            "true",
        ),
    ] {
        assert_eq!(
            target().query_strings(&tgt, sql).await[0][0].as_deref(),
            Some(n),
            "{sql}"
        );
    }
    // ANALYZE ran on the loaded tables.
    let analyzed = target()
        .query_strings(
            &tgt,
            "SELECT count(*)::text FROM pg_stat_user_tables WHERE relname IN ('gen', 'p_eu', 'ident') AND last_analyze IS NOT NULL",
        )
        .await;
    assert_eq!(analyzed[0][0].as_deref(), Some("3"));

    // --no-replicate-extension-tables: the configuration table is left alone.
    let tgt2 = target().create_database("copy_complete").await;
    target().execute(&tgt2, &target_schema).await;
    let mut opts = options(CopyFormat::Auto, 0);
    opts.extension_tables = false;
    opts.statistics = db_migrate::copy::statistics::StatisticsMode::None;
    let report = copy(&src, &tgt2, &opts, None, PostDataPlan::default())
        .await
        .unwrap();
    assert!(report.tables.iter().all(|t| t.table != "cfg"));
    assert_eq!(
        target()
            .query_strings(&tgt2, "SELECT count(*)::text FROM public.cfg")
            .await[0][0]
            .as_deref(),
        Some("1")
    );
    let analyzed = target()
        .query_strings(
            &tgt2,
            "SELECT count(*)::text FROM pg_stat_user_tables WHERE last_analyze IS NOT NULL",
        )
        .await;
    assert_eq!(analyzed[0][0].as_deref(), Some("0"));
}

/// A source with one big table `public.big`, and a target database whose `big` is locked by the
/// returned session (so the copy's target side waits, with the source COPY running).
async fn stalled_copy_setup(prefix: &str) -> (String, String, tokio_postgres::Client) {
    let ddl = "CREATE TABLE public.big (id int, pad text); CREATE TABLE public.other (id int);";
    let src = source().create_database(prefix).await;
    source().execute(&src, ddl).await;
    source()
        .execute(
            &src,
            "INSERT INTO public.big SELECT i, repeat(md5(i::text), 4) FROM generate_series(1, 400000) i;
             INSERT INTO public.other VALUES (1);",
        )
        .await;
    let tgt = target().create_database(prefix).await;
    target().execute(&tgt, ddl).await;
    let locker = target().connect(&tgt).await;
    locker
        .batch_execute("BEGIN; LOCK TABLE public.big IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    (src, tgt, locker)
}

/// Waits until the source runs a COPY of `big` in `db`; returns its pid.
async fn wait_for_source_copy(db: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let rows = source()
            .query_strings(
                "postgres",
                &format!(
                    "SELECT pid::text FROM pg_stat_activity WHERE datname = {} AND state = 'active' AND query LIKE 'COPY%big%'",
                    quote_literal(db)
                ),
            )
            .await;
        if let Some(r) = rows.first() {
            return r[0].clone().unwrap();
        }
        assert!(Instant::now() < deadline, "the source COPY never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Sessions of db-migrate still connected to `db` on `c` after a while.
async fn leftover_sessions(c: &Cluster, db: &str) -> Vec<Vec<Option<String>>> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let rows = c
            .query_strings(
                "postgres",
                &format!(
                    "SELECT pid::text, state, query FROM pg_stat_activity WHERE datname = {} AND application_name LIKE 'db-migrate/%'",
                    quote_literal(db)
                ),
            )
            .await;
        if rows.is_empty() || Instant::now() > deadline {
            return rows;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// With retries turned off (`--copy-retries 0`), a source backend terminated mid-copy fails the
/// copy naming the table, and leaves nothing half-loaded or open.
#[tokio::test]
async fn a_dropped_source_connection_without_retries_fails_with_the_table_named() {
    let (src, tgt, locker) = stalled_copy_setup("copy_drop").await;
    let (s2, t2) = (src.clone(), tgt.clone());
    let task = tokio::spawn(async move {
        let opts = CopyOptions {
            retries: 0,
            ..options(CopyFormat::Auto, 0)
        };
        copy(&s2, &t2, &opts, None, PostDataPlan::default()).await
    });
    let pid = wait_for_source_copy(&src).await;
    source()
        .execute("postgres", &format!("SELECT pg_terminate_backend({pid})"))
        .await;
    locker.batch_execute("ROLLBACK").await.unwrap();
    let err = task.await.unwrap().expect_err("the copy must fail");
    let text = err.to_string();
    assert!(text.contains(r#"table "public"."big""#), "{text}");
    assert_eq!(err.side(), Some(Side::Source), "{text}");
    assert_ne!(err.kind(), ErrorKind::Cancelled, "{text}");
    assert_eq!(err.database(), Some(src.as_str()));
    // Nothing half-loaded and nothing left open.
    assert_eq!(
        target()
            .query_strings(&tgt, "SELECT count(*)::text FROM public.big")
            .await[0][0]
            .as_deref(),
        Some("0")
    );
    assert_eq!(
        leftover_sessions(target(), &tgt).await,
        Vec::<Vec<Option<String>>>::new()
    );
    assert_eq!(
        leftover_sessions(source(), &src).await,
        Vec::<Vec<Option<String>>>::new()
    );
}

/// By default the same fault heals: the part is copied again on fresh sessions (57P01 is
/// transient), every row arrives exactly once, and the retry is in the report.
#[tokio::test]
async fn a_dropped_source_connection_is_retried_and_heals() {
    let (src, tgt, locker) = stalled_copy_setup("copy_heal").await;
    let (s2, t2) = (src.clone(), tgt.clone());
    let task = tokio::spawn(async move {
        copy(
            &s2,
            &t2,
            &options(CopyFormat::Auto, 0),
            None,
            PostDataPlan::default(),
        )
        .await
    });
    let pid = wait_for_source_copy(&src).await;
    source()
        .execute("postgres", &format!("SELECT pg_terminate_backend({pid})"))
        .await;
    locker.batch_execute("ROLLBACK").await.unwrap();
    let report = task.await.unwrap().expect("the retry heals the copy");
    assert!(report.retries >= 1, "{report:?}");
    let on = async |c: &support::Cluster, db: &str| {
        c.query_strings(
            db,
            "SELECT count(*)::text, count(DISTINCT id)::text FROM public.big",
        )
        .await
    };
    assert_eq!(on(target(), &tgt).await, on(source(), &src).await);
}

#[tokio::test]
async fn cancelling_stops_both_sides_and_leaves_no_transaction() {
    let (src, tgt, locker) = stalled_copy_setup("copy_cancel").await;
    let opts = options(CopyFormat::Auto, 0);
    let token = CancellationToken::new();
    let (s2, t2, t3) = (src.clone(), tgt.clone(), token.clone());
    let task = tokio::spawn(async move {
        copy_cancellable(&s2, &t2, &opts, None, PostDataPlan::default(), t3).await
    });
    wait_for_source_copy(&src).await;
    let started = Instant::now();
    token.cancel();
    let err = task.await.unwrap().expect_err("the copy must fail");
    assert_eq!(err.kind(), ErrorKind::Cancelled, "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "cancellation took {:?}",
        started.elapsed()
    );
    // The target side was waiting for our lock: it was cancelled, not left waiting.
    assert_eq!(
        leftover_sessions(target(), &tgt).await,
        Vec::<Vec<Option<String>>>::new()
    );
    assert_eq!(
        leftover_sessions(source(), &src).await,
        Vec::<Vec<Option<String>>>::new()
    );
    locker.batch_execute("ROLLBACK").await.unwrap();
    assert_eq!(
        target()
            .query_strings(&tgt, "SELECT count(*)::text FROM public.big")
            .await[0][0]
            .as_deref(),
        Some("0")
    );
}

#[tokio::test]
async fn a_target_constraint_violation_names_table_and_sqlstate() {
    let src = source().create_database("copy_violation").await;
    source()
        .execute(
            &src,
            "CREATE TABLE public.checked (id int, v int);
             INSERT INTO public.checked SELECT i, i FROM generate_series(1, 1000) i;",
        )
        .await;
    let tgt = target().create_database("copy_violation").await;
    target()
        .execute(
            &tgt,
            "CREATE TABLE public.checked (id int, v int CHECK (v < 500));",
        )
        .await;
    let err = copy(
        &src,
        &tgt,
        &options(CopyFormat::Auto, 0),
        None,
        PostDataPlan::default(),
    )
    .await
    .expect_err("must fail");
    let text = err.to_string();
    assert!(text.contains(r#""public"."checked""#), "{text}");
    assert_eq!(err.sqlstate().map(|s| s.code()), Some("23514"), "{text}");
    assert_eq!(err.side(), Some(Side::Target));
    assert_eq!(
        leftover_sessions(target(), &tgt).await,
        Vec::<Vec<Option<String>>>::new()
    );
}

const TRIGGER_SCHEMA: &str = "
    CREATE TABLE public.parent (id int PRIMARY KEY);
    CREATE TABLE public.child (id int, pid int);
    CREATE TABLE public.trg (id int);";
const TRIGGER_TARGET: &str = "
    ALTER TABLE public.child ADD FOREIGN KEY (pid) REFERENCES public.parent;
    CREATE TABLE public.audit (name text);
    CREATE FUNCTION public.audit_fn() RETURNS trigger LANGUAGE plpgsql AS
      $$BEGIN INSERT INTO public.audit VALUES (TG_NAME); RETURN NEW; END$$;
    CREATE TRIGGER t_normal AFTER INSERT ON public.trg FOR EACH ROW EXECUTE FUNCTION public.audit_fn();
    CREATE TRIGGER t_always AFTER INSERT ON public.trg FOR EACH ROW EXECUTE FUNCTION public.audit_fn();
    ALTER TABLE public.trg ENABLE ALWAYS TRIGGER t_always;";

#[tokio::test]
async fn triggers_and_foreign_keys_do_not_fire_and_are_reported() {
    let src = source().create_database("copy_trg").await;
    source().execute(&src, TRIGGER_SCHEMA).await;
    source()
        .execute(
            &src,
            "INSERT INTO public.parent SELECT generate_series(1, 100);
             INSERT INTO public.child SELECT i, i % 100 + 1 FROM generate_series(1, 2000) i;
             INSERT INTO public.trg VALUES (1), (2), (3);",
        )
        .await;
    let tgt = target().create_database("copy_trg").await;
    target()
        .execute(&tgt, &format!("{TRIGGER_SCHEMA} {TRIGGER_TARGET}"))
        .await;
    // jobs = 1 and the child table is the bigger one: it loads before its parent.
    let mut opts = options(CopyFormat::Auto, 0);
    opts.jobs = NonZeroUsize::MIN;
    let report = copy(&src, &tgt, &opts, None, PostDataPlan::default())
        .await
        .unwrap();
    assert_same(&src, &tgt, &["public.parent", "public.child", "public.trg"]).await;
    // As superuser the load runs with session_replication_role = replica: only the ALWAYS
    // trigger fired, and it is reported.
    assert_eq!(
        target()
            .query_strings(
                &tgt,
                "SELECT name, count(*)::text FROM public.audit GROUP BY name"
            )
            .await,
        vec![vec![Some("t_always".into()), Some("3".into())]]
    );
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.message.contains("trigger") && w.message.contains(r#""public"."trg""#)),
        "{:?}",
        report.warnings
    );
    assert!(
        !report
            .warnings
            .iter()
            .any(|w| w.message.contains("foreign keys"))
    );
}

#[tokio::test]
async fn works_without_superuser_on_either_side() {
    let src = source().create_database("copy_nosu").await;
    source().execute(&src, TRIGGER_SCHEMA).await;
    source()
        .execute(
            &src,
            "CREATE TABLE public.withseq (id serial PRIMARY KEY, v text);
             INSERT INTO public.withseq (v) SELECT md5(i::text) FROM generate_series(1, 300) i;
             INSERT INTO public.parent SELECT generate_series(1, 2000);
             INSERT INTO public.child SELECT i, i FROM generate_series(1, 100) i;
             INSERT INTO public.trg VALUES (1), (2), (3);",
        )
        .await;
    let (reader, reader_pw) = source().create_admin("copy_reader", false).await;
    source()
        .execute(
            &src,
            &format!(
                "GRANT SELECT ON ALL TABLES IN SCHEMA public TO {r}; GRANT SELECT ON ALL SEQUENCES IN SCHEMA public TO {r};",
                r = support::quote_ident(&reader)
            ),
        )
        .await;
    let tgt = target().create_database("copy_nosu").await;
    let (owner, owner_pw) = target().create_admin("copy_owner", false).await;
    let o = support::quote_ident(&owner);
    target()
        .execute(
            &tgt,
            &format!(
                "{TRIGGER_SCHEMA} {TRIGGER_TARGET}
                 CREATE TABLE public.withseq (id serial PRIMARY KEY, v text);
                 ALTER TABLE public.parent OWNER TO {o}; ALTER TABLE public.child OWNER TO {o};
                 ALTER TABLE public.trg OWNER TO {o}; ALTER TABLE public.withseq OWNER TO {o};
                 GRANT INSERT ON public.audit TO {o};"
            ),
        )
        .await;
    let s = ConnInfo::parse(&source().uri(&reader, &reader_pw, &src)).unwrap();
    let t = ConnInfo::parse(&target().uri(&owner, &owner_pw, &tgt)).unwrap();
    // One worker, largest table first: the parent loads before the child, whose foreign key is
    // checked during its load (no replica role without superuser).
    let mut opts = options(CopyFormat::Auto, 0);
    opts.jobs = NonZeroUsize::MIN;
    let report = copy_database(
        &pair_of(&s, &t, &src, &tgt),
        &opts,
        None,
        PostDataPlan::default(),
    )
    .await
    .unwrap();
    assert_same(
        &src,
        &tgt,
        &[
            "public.parent",
            "public.child",
            "public.trg",
            "public.withseq",
        ],
    )
    .await;
    let seq = "SELECT last_value::text FROM public.withseq_id_seq";
    assert_eq!(
        source().query_strings(&src, seq).await,
        target().query_strings(&tgt, seq).await
    );
    // Without the replica role both triggers fire and the foreign key is checked: reported.
    assert_eq!(
        target()
            .query_strings(&tgt, "SELECT count(*)::text FROM public.audit")
            .await[0][0]
            .as_deref(),
        Some("6")
    );
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.message.contains("foreign keys") && w.message.contains("child")),
        "{:?}",
        report.warnings
    );
}

/// Tables whose planner statistics the source has: skewed values with a raised statistics
/// target, text most-common values, array element statistics, a range column, an expression
/// index, a partitioned table, and one table the source never analysed.
const STATISTICS_SCHEMA: &str = "
    CREATE TABLE skew (id int PRIMARY KEY, k int, tag text, arr int[], r int4range)
        WITH (autovacuum_enabled = false);
    ALTER TABLE skew ALTER COLUMN k SET STATISTICS 500;
    CREATE INDEX skew_lower_tag ON skew (lower(tag));
    CREATE INDEX skew_k ON skew (k);
    CREATE TABLE parted (id int, region text) PARTITION BY LIST (region);
    CREATE TABLE parted_eu PARTITION OF parted FOR VALUES IN ('eu')
        WITH (autovacuum_enabled = false);
    CREATE TABLE parted_us PARTITION OF parted FOR VALUES IN ('us')
        WITH (autovacuum_enabled = false);
    CREATE TABLE fresh (id int, v text) WITH (autovacuum_enabled = false);";

const STATISTICS_DATA: &str = "
    INSERT INTO skew
    SELECT g, (1000 / (1 + g % 97))::int, 'Tag ' || (g % 13) || CASE WHEN g % 7 = 0 THEN 'x' ELSE '' END,
           ARRAY[g % 5, g % 11], int4range(g % 100, g % 100 + 1 + g % 9)
      FROM generate_series(1, 30000) g;
    INSERT INTO parted SELECT g, CASE WHEN g % 10 = 0 THEN 'us' ELSE 'eu' END
      FROM generate_series(1, 5000) g;
    INSERT INTO fresh SELECT g, 'v' FROM generate_series(1, 100) g;
    ANALYZE skew; ANALYZE parted; ANALYZE parted_eu; ANALYZE parted_us;";

/// Every `pg_stats` field of the public tables and indexes, as text, by (table, column,
/// inherited).
async fn pg_stats(c: &Cluster, db: &str) -> Vec<Vec<Option<String>>> {
    c.query_strings(
        db,
        "SELECT tablename, attname, inherited::text, null_frac::text, avg_width::text,
                n_distinct::text, most_common_vals::text, most_common_freqs::text,
                histogram_bounds::text, correlation::text, most_common_elems::text,
                most_common_elem_freqs::text, elem_count_histogram::text
           FROM pg_stats WHERE schemaname = 'public' AND tablename NOT IN ('fresh', 'moods')
          ORDER BY 1, 2, 3",
    )
    .await
}

/// The shape of the plan of `query`: node types, strategies and index names, depth first. Row
/// estimates themselves scale with each side's real table size, which a fresh load changes.
async fn plan_shape(c: &Cluster, db: &str, query: &str) -> String {
    fn walk(node: &serde_json::Value, out: &mut Vec<String>) {
        let mut s = node["Node Type"].as_str().unwrap_or("?").to_owned();
        for k in ["Strategy", "Index Name", "Join Type"] {
            if let Some(v) = node[k].as_str() {
                s.push_str(&format!(" {v}"));
            }
        }
        out.push(s);
        for child in node["Plans"].as_array().into_iter().flatten() {
            walk(child, out);
        }
    }
    let plan = c
        .query_strings(db, &format!("EXPLAIN (FORMAT JSON) {query}"))
        .await[0][0]
        .clone()
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&plan).unwrap();
    let mut out = Vec::new();
    walk(&v[0]["Plan"], &mut out);
    out.join(" > ")
}

/// On a PostgreSQL 18+ target the copied tables get the source's statistics, not a new
/// sample: every `pg_stats` row equal field by field, the same `pg_class` counts and the same
/// row estimates; a table the source never analysed, and range columns of a source older than
/// 17 (whose `pg_stats` lacks range histograms), are analysed instead and say so. On an older
/// target the tables are analysed.
#[tokio::test]
async fn planner_statistics_arrive_as_the_source_has_them() {
    let src = source().create_database("stats_src").await;
    source().execute(&src, STATISTICS_SCHEMA).await;
    source().execute(&src, STATISTICS_DATA).await;
    // Statistics the target cannot take: the source analysed a value it then deleted, which
    // the target's type (made without it) refuses; the copy has no such row.
    source()
        .execute(
            &src,
            "CREATE TYPE mood AS ENUM ('calm', 'glad', 'gone');
             CREATE TABLE moods (id int, m mood) WITH (autovacuum_enabled = false);
             INSERT INTO moods SELECT g, (ARRAY['calm', 'glad', 'gone'])[1 + g % 3]::mood
               FROM generate_series(1, 300) g;
             ANALYZE moods;
             DELETE FROM moods WHERE m = 'gone';",
        )
        .await;
    let tgt = target().create_database("stats_tgt").await;
    target().execute(&tgt, STATISTICS_SCHEMA).await;
    target()
        .execute(
            &tgt,
            "CREATE TYPE mood AS ENUM ('calm', 'glad');
             CREATE TABLE moods (id int, m mood) WITH (autovacuum_enabled = false);",
        )
        .await;
    let r = copy(
        &src,
        &tgt,
        &options(CopyFormat::Auto, 0),
        None,
        PostDataPlan::default(),
    )
    .await
    .unwrap();
    let stats = &r.statistics;
    if target().version_num() < 180000 {
        assert_eq!(
            stats.method,
            db_migrate::copy::statistics::StatisticsMode::Analyze
        );
        assert!(stats.tables_analyzed >= 4, "{stats:?}");
        assert!(!pg_stats(target(), &tgt).await.is_empty());
        return;
    }
    assert_eq!(
        stats.method,
        db_migrate::copy::statistics::StatisticsMode::Restore,
        "{stats:?}"
    );
    let ranges_carried = source().version_num() >= 170000;
    let (a, b) = (
        pg_stats(source(), &src).await,
        pg_stats(target(), &tgt).await,
    );
    let comparable = |rows: &[Vec<Option<String>>]| -> Vec<Vec<Option<String>>> {
        rows.iter()
            .filter(|r| ranges_carried || r[1].as_deref() != Some("r"))
            .cloned()
            .collect()
    };
    assert!(a.len() >= 10, "{a:?}");
    assert_eq!(comparable(&a), comparable(&b), "pg_stats source vs target");
    let counts = "SELECT relname, relpages, reltuples FROM pg_class
                   WHERE relname IN ('skew', 'skew_pkey', 'skew_lower_tag', 'parted_eu', 'parted_us')
                   ORDER BY 1";
    assert_eq!(
        source().query_strings(&src, counts).await,
        target().query_strings(&tgt, counts).await
    );
    for q in [
        "SELECT * FROM skew WHERE k = 1000",
        "SELECT * FROM skew WHERE k = 10",
        "SELECT * FROM skew WHERE k = 11",
        "SELECT * FROM skew WHERE k BETWEEN 20 AND 40",
        "SELECT * FROM skew WHERE k > 500",
        "SELECT * FROM skew WHERE k < 12",
        "SELECT * FROM skew WHERE k = 1000 AND tag = 'Tag 3'",
        "SELECT * FROM skew WHERE tag = 'Tag 3x'",
        "SELECT * FROM skew WHERE tag = 'Tag 3'",
        "SELECT * FROM skew WHERE tag LIKE 'Tag 1%'",
        "SELECT * FROM skew WHERE lower(tag) = 'tag 5'",
        "SELECT * FROM skew WHERE lower(tag) = 'tag 5x'",
        "SELECT * FROM skew WHERE arr @> ARRAY[3]",
        "SELECT * FROM skew WHERE arr && ARRAY[1, 2]",
        "SELECT * FROM skew WHERE id < 100",
        "SELECT * FROM skew WHERE id BETWEEN 100 AND 20000",
        "SELECT * FROM parted WHERE region = 'us'",
        "SELECT * FROM parted WHERE id < 50",
        "SELECT k, count(*) FROM skew GROUP BY k",
        "SELECT tag, count(*) FROM skew GROUP BY tag",
        "SELECT * FROM skew a JOIN skew b ON a.k = b.id WHERE a.k = 1000",
        "SELECT DISTINCT k FROM skew ORDER BY k",
    ] {
        assert_eq!(
            plan_shape(source(), &src, q).await,
            plan_shape(target(), &tgt, q).await,
            "{q}"
        );
    }
    // The never-analysed table is analysed, and the report counts it: not a warning. What the
    // target refused is: the column is analysed instead, and named.
    assert!(stats.tables_analyzed >= 1, "{stats:?}");
    let about_statistics: Vec<&str> = (r.warnings.iter())
        .map(|w| w.message.as_str())
        .filter(|m| m.contains("statistics"))
        .collect();
    assert_eq!(about_statistics.len(), 1, "{about_statistics:?}");
    assert!(
        about_statistics[0].contains("moods") && about_statistics[0].contains("column m"),
        "{about_statistics:?}"
    );
    let mood_mcv =
        "SELECT most_common_vals::text FROM pg_stats WHERE tablename = 'moods' AND attname = 'm'";
    assert_eq!(
        target().query_strings(&tgt, mood_mcv).await[0][0].as_deref(),
        Some("{calm,glad}"),
        "analysed on the target from its own rows"
    );
    let fresh = "SELECT count(*) FROM pg_stats WHERE tablename = 'fresh'";
    assert_eq!(
        target().query_strings(&tgt, fresh).await[0][0].as_deref(),
        Some("2")
    );
    assert!(stats.columns_analyzed >= 1, "{stats:?}");
}
