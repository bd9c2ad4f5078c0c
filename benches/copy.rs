//! Benchmarks of the data engine.
//!
//! - `pass_through/*`: `db_migrate::conn::wire::pass_through` between two in-memory servers
//!   (`tests/support/fake_server.rs`): a source sending 32 MiB as one CopyData message per row,
//!   as PostgreSQL does, and a target collecting the data. Row widths 40, 120 and 2000 bytes, on
//!   one current-thread runtime (how the copy workers run); throughput is in bytes. The fake
//!   servers' own work (framing every row, collecting the data) is part of the figure, so it
//!   is a lower bound of the pass-through's speed.
//! - `copy_database/*`: a real copy between two local clusters (started through the test
//!   harness) of a 300,000-row table, text and binary. Skipped with a message when no PostgreSQL
//!   server binaries are found.
//!
//! Run: `cargo bench --bench copy` (add `-- pass_through` or `-- copy_database` to pick a group).

#[path = "../tests/support/mod.rs"]
mod support;

use std::num::NonZeroUsize;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

use db_migrate::conn::ConnInfo;
use db_migrate::conn::wire::{WireSession, pass_through};
use db_migrate::copy::{CopyFormat, CopyOptions, PostDataPlan, ProgressMode, copy_database};
use db_migrate::pair::DbPair;
use support::fake_server::{SourceEnd, serve_copy_in, serve_copy_out, text_rows};

const TOTAL: usize = 32 * 1024 * 1024;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn pass_through_bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let info = ConnInfo::parse("host=memory user=u dbname=d").unwrap();
    let mut g = c.benchmark_group("pass_through");
    g.throughput(Throughput::Bytes(TOTAL as u64));
    g.sample_size(20);
    for width in [40usize, 120, 2000] {
        let rows = text_rows(TOTAL / width, width);
        g.bench_function(format!("row{width}"), |b| {
            b.iter(|| {
                rt.block_on(async {
                    let (src_client, src_server) = tokio::io::duplex(256 * 1024);
                    let (tgt_client, tgt_server) = tokio::io::duplex(256 * 1024);
                    let source = tokio::spawn(serve_copy_out(
                        src_server,
                        rows.clone(),
                        SourceEnd::Complete,
                    ));
                    let target = tokio::spawn(serve_copy_in(tgt_server, None));
                    let mut src = WireSession::over_stream(src_client, info.clone());
                    let mut tgt = WireSession::over_stream(tgt_client, info.clone());
                    let stats = pass_through(
                        &mut src,
                        "COPY t TO STDOUT",
                        &mut tgt,
                        "COPY t FROM STDIN",
                        None,
                        |_, _| {},
                    )
                    .await
                    .unwrap();
                    drop((src, tgt));
                    let _ = target.await;
                    source.abort();
                    stats.bytes
                })
            })
        });
    }
    g.finish();
}

/// Whether the harness can start clusters here (server binaries present).
fn clusters() -> bool {
    let ok = std::panic::catch_unwind(|| {
        support::source();
        support::target();
    })
    .is_ok();
    if !ok {
        eprintln!("copy_database benches skipped: no PostgreSQL server binaries for the harness");
    }
    ok
}

fn real_copy(c: &mut Criterion) {
    if !clusters() {
        return;
    }
    let rt = runtime();
    let ddl = "CREATE TABLE public.bench (id bigint PRIMARY KEY, t text, n numeric(18,6), ts timestamptz, f float8, j jsonb)";
    let (src, tgt, bytes) = rt.block_on(async {
        let src = support::source().create_database("bench_copy").await;
        support::source().execute(&src, ddl).await;
        support::source()
            .execute(
                &src,
                "INSERT INTO public.bench SELECT i, md5(i::text) || repeat('y', i % 64), i / 7.0,
                        timestamptz '2020-01-01 00:00+00' + i * interval '1 second', i * 0.5,
                        jsonb_build_object('i', i, 'tag', md5(i::text))
                   FROM generate_series(1, 300000) i",
            )
            .await;
        support::source().execute(&src, "VACUUM ANALYZE").await;
        let tgt = support::target().create_database("bench_copy").await;
        support::target().execute(&tgt, ddl).await;
        // The primary key is built after the load, as the schema engine does.
        support::target()
            .execute(&tgt, "ALTER TABLE public.bench DROP CONSTRAINT bench_pkey")
            .await;
        let bytes: u64 = support::source()
            .query_strings(&src, "SELECT pg_table_size('public.bench')")
            .await[0][0]
            .as_ref()
            .unwrap()
            .parse()
            .unwrap();
        (src, tgt, bytes)
    });
    let s = ConnInfo::parse(&support::source().superuser_uri(&src)).unwrap();
    let t = ConnInfo::parse(&support::target().superuser_uri(&tgt)).unwrap();
    let mut g = c.benchmark_group("copy_database");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(30));
    g.throughput(Throughput::Bytes(bytes));
    for (name, format) in [("text", CopyFormat::Text), ("binary", CopyFormat::Binary)] {
        for split in [0u64, 8 * 1024 * 1024] {
            let opts = CopyOptions {
                jobs: NonZeroUsize::new(2).unwrap(),
                format,
                split_larger_than: split,
                statistics: db_migrate::copy::statistics::StatisticsMode::None,
                progress: ProgressMode::Quiet,
                ..Default::default()
            };
            let id = if split == 0 {
                format!("{name}/whole")
            } else {
                format!("{name}/split8MiB")
            };
            g.bench_function(id, |b| {
                b.iter(|| {
                    rt.block_on(copy_database(
                        &DbPair::new(&s, &t, &src, Default::default()).into_target_db(&tgt),
                        &opts,
                        None,
                        PostDataPlan::default(),
                    ))
                    .unwrap()
                })
            });
        }
    }
    g.finish();
}

criterion_group!(benches, pass_through_bench, real_copy);
criterion_main!(benches);
