//! Benchmarks of the data engine.
//!
//! - `pipe/*`: the chunk coalescing and buffering of `db_migrate::copy::pipe` with an in-memory
//!   source (one `Bytes` per row, as the server sends COPY data) and two in-memory sinks: one
//!   that only counts, and one shaped like tokio-postgres' `CopyInSink` (a channel of capacity
//!   one drained by another task that copies into a write buffer, as the connection task does).
//!   Compares chunk sizes and row widths, a one-thread variant (how the workers run), and a
//!   baseline without coalescing (`pipe_uncoalesced`); throughput is in bytes.
//! - `copy_database/*`: a real copy between two local clusters (started through the test
//!   harness) of a 300,000-row table, text and binary. Skipped with a message when no PostgreSQL
//!   server binaries are found.
//!
//! Run: `cargo bench --bench copy` (add `-- pipe` or `-- copy_database` to pick a group).

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use futures::channel::mpsc;
use futures::{SinkExt, StreamExt, stream};

use db_migrate::conn::ConnInfo;
use db_migrate::copy::pipe::{MIN_FLUSH, pump_sized};
use db_migrate::copy::{CopyFormat, CopyOptions, PostDataPlan, ProgressMode, copy_database};

const TOTAL: usize = 32 * 1024 * 1024;

fn rows(width: usize) -> Vec<Bytes> {
    let n = TOTAL / width;
    let row = Bytes::from(vec![b'x'; width]);
    (0..n).map(|_| row.clone()).collect()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn pipe(c: &mut Criterion) {
    let rt = runtime();
    let mut g = c.benchmark_group("pipe");
    g.throughput(Throughput::Bytes(TOTAL as u64));
    g.sample_size(20);
    for width in [40usize, 120, 2000] {
        let input = rows(width);
        for chunk in [16 * 1024usize, 64 * 1024, 256 * 1024, 1024 * 1024] {
            // Sink that only counts: the cost of coalescing itself.
            g.bench_with_input(
                BenchmarkId::new(format!("drain/row{width}"), chunk),
                &chunk,
                |b, &chunk| {
                    b.iter(|| {
                        rt.block_on(async {
                            let src = stream::iter(input.iter().cloned().map(Ok::<_, ()>));
                            let mut sink = futures::sink::drain::<Bytes>().sink_map_err(|_| ());
                            pump_sized(src, &mut sink, chunk, MIN_FLUSH.min(chunk), |_, _| {})
                                .await
                                .unwrap()
                        })
                    })
                },
            );
            // Sink shaped like CopyInSink + connection task: bounded channel, copy on the other
            // side.
            g.bench_with_input(
                BenchmarkId::new(format!("channel/row{width}"), chunk),
                &chunk,
                |b, &chunk| {
                    b.iter(|| {
                        rt.block_on(async {
                            let (tx, mut rx) = mpsc::channel::<Bytes>(1);
                            let writer = tokio::spawn(async move {
                                let mut wbuf = BytesMut::with_capacity(256 * 1024);
                                let mut n = 0usize;
                                while let Some(b) = rx.next().await {
                                    wbuf.extend_from_slice(&b);
                                    n += wbuf.len();
                                    wbuf.clear();
                                }
                                n
                            });
                            let src = stream::iter(input.iter().cloned().map(Ok::<_, ()>));
                            let mut sink = tx.sink_map_err(|_| ());
                            pump_sized(src, &mut sink, chunk, MIN_FLUSH.min(chunk), |_, _| {})
                                .await
                                .unwrap();
                            drop(sink);
                            writer.await.unwrap()
                        })
                    })
                },
            );
        }
        // The same channel sink with producer and consumer on one thread (what each copy worker
        // does: its own current-thread runtime drives the pump and both connections).
        let local = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        g.bench_with_input(
            BenchmarkId::new(format!("channel_one_thread/row{width}"), 256 * 1024),
            &width,
            |b, _| {
                b.iter(|| {
                    local.block_on(async {
                        let (tx, mut rx) = mpsc::channel::<Bytes>(1);
                        let writer = tokio::spawn(async move {
                            let mut wbuf = BytesMut::with_capacity(256 * 1024);
                            let mut n = 0usize;
                            while let Some(b) = rx.next().await {
                                wbuf.extend_from_slice(&b);
                                n += wbuf.len();
                                wbuf.clear();
                            }
                            n
                        });
                        let src = stream::iter(input.iter().cloned().map(Ok::<_, ()>));
                        let mut sink = tx.sink_map_err(|_| ());
                        pump_sized(src, &mut sink, 256 * 1024, MIN_FLUSH, |_, _| {})
                            .await
                            .unwrap();
                        drop(sink);
                        writer.await.unwrap()
                    })
                })
            },
        );
    }
    g.finish();
}

/// Baseline: every row handed to the channel as its own message (no coalescing), on 1/16 of the
/// data (it is that slow).
fn pipe_uncoalesced(c: &mut Criterion) {
    let rt = runtime();
    let mut g = c.benchmark_group("pipe_uncoalesced");
    g.sample_size(10);
    for width in [40usize, 120, 2000] {
        let input: Vec<Bytes> = rows(width).into_iter().take(TOTAL / 16 / width).collect();
        g.throughput(Throughput::Bytes((input.len() * width) as u64));
        g.bench_function(format!("channel/row{width}"), |b| {
            b.iter(|| {
                rt.block_on(async {
                    let (mut tx, mut rx) = mpsc::channel::<Bytes>(1);
                    let writer = tokio::spawn(async move {
                        let mut n = 0usize;
                        while let Some(b) = rx.next().await {
                            n += b.len();
                        }
                        n
                    });
                    for b in input.iter().cloned() {
                        tx.send(b).await.unwrap();
                    }
                    drop(tx);
                    writer.await.unwrap()
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
                jobs: 2,
                format,
                split_larger_than: split,
                analyze: false,
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
                        &s,
                        &t,
                        &src,
                        &tgt,
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

criterion_group!(benches, pipe, pipe_uncoalesced, real_copy);
criterion_main!(benches);
