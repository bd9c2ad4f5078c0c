//! COPY pass-through (`conn::wire::pass_through`) against in-memory servers: what arrives on the
//! target is exactly what the source sent, and every way a COPY can fail ends with an error
//! that names the side, never with a committed half copy or a hang.

// Each module keeps its own copy of the harness, so its clusters are its own (as when every
// file was a test binary of its own).
#[path = "support/mod.rs"]
mod support;

use std::time::Duration;

use bytes::Bytes;
use db_migrate::conn::ConnInfo;
use db_migrate::conn::wire::{CopyStats, PASS_BUFFER, WireSession, pass_through};
use db_migrate::error::{ErrorKind, Side};
use support::fake_server::{SourceEnd, TargetEnd, serve_copy_in, serve_copy_out, text_rows};

fn info(host: &str) -> ConnInfo {
    ConnInfo::parse(&format!("host={host} user=u dbname=d")).unwrap()
}

struct Run {
    result: db_migrate::Result<CopyStats>,
    received: Vec<u8>,
    target_end: TargetEnd,
    progress_calls: usize,
    source_usable: bool,
    target_usable: bool,
}

/// Runs one pass-through between a fake source sending `rows` and ending as `end`, and a fake
/// target that fails after `target_fails_after` bytes when set.
async fn run(rows: Vec<Bytes>, end: SourceEnd, target_fails_after: Option<usize>) -> Run {
    let (src_client, src_server) = tokio::io::duplex(64 * 1024);
    let (tgt_client, tgt_server) = tokio::io::duplex(64 * 1024);
    let source = tokio::spawn(serve_copy_out(src_server, rows, end));
    let target = tokio::spawn(serve_copy_in(tgt_server, target_fails_after));
    let mut src = WireSession::over_stream(src_client, info("source.invalid"));
    let mut tgt = WireSession::over_stream(tgt_client, info("target.invalid"));
    let mut progress_calls = 0;
    let result = tokio::time::timeout(
        Duration::from_secs(20),
        pass_through(
            &mut src,
            "COPY t TO STDOUT",
            &mut tgt,
            "COPY t FROM STDIN",
            None,
            |_, _| progress_calls += 1,
        ),
    )
    .await
    .expect("pass_through must not hang");
    let (source_usable, target_usable) = (src.is_usable(), tgt.is_usable());
    // Closing the sessions is what the copy worker does with unusable ones.
    drop(src);
    drop(tgt);
    let (received, target_end) = target.await.unwrap();
    source.abort();
    Run {
        result,
        received,
        target_end,
        progress_calls,
        source_usable,
        target_usable,
    }
}

fn mixed_rows() -> Vec<Bytes> {
    let mut rows = text_rows(20_000, 37);
    // Rows larger than the pass-through buffer are forwarded in pieces.
    rows.insert(5_000, text_rows(1, 3 * PASS_BUFFER).remove(0));
    rows.extend(text_rows(3_000, 1_500));
    rows.push(Bytes::from_static(b"\n"));
    rows
}

#[tokio::test]
async fn the_target_receives_exactly_the_source_bytes() {
    let rows = mixed_rows();
    let expected: Vec<u8> = rows.iter().flat_map(|r| r.iter().copied()).collect();
    let r = run(rows.clone(), SourceEnd::Complete, None).await;
    let stats = r.result.expect("the copy succeeds");
    assert_eq!(r.target_end, TargetEnd::Done);
    assert!(
        r.received == expected,
        "the target data differs from the source data"
    );
    assert_eq!(
        stats.rows,
        rows.len() as u64,
        "rows as the target counted them"
    );
    assert_eq!(
        stats.messages,
        rows.len() as u64,
        "one CopyData message per row"
    );
    assert_eq!(stats.bytes, expected.len() as u64);
    assert!(r.progress_calls > 1, "progress is reported while streaming");
    assert!(
        r.source_usable && r.target_usable,
        "both sessions stay usable"
    );
}

#[tokio::test]
async fn an_empty_table_is_a_complete_copy_of_zero_rows() {
    let r = run(Vec::new(), SourceEnd::Complete, None).await;
    let stats = r.result.unwrap();
    assert_eq!((stats.rows, stats.bytes, stats.messages), (0, 0, 0));
    assert_eq!(r.target_end, TargetEnd::Done);
}

#[tokio::test]
async fn a_target_error_during_the_stream_stops_the_copy_with_its_sqlstate() {
    let r = run(
        text_rows(200_000, 100),
        SourceEnd::Complete,
        Some(1_000_000),
    )
    .await;
    let e = r.result.expect_err("the target refused the data");
    assert_eq!(e.side(), Some(Side::Target), "{e}");
    assert_eq!(e.sqlstate().map(|s| s.code()), Some("23505"), "{e}");
    assert!(e.to_string().contains("duplicate key value"), "{e}");
    assert_ne!(r.target_end, TargetEnd::Done);
    assert!(
        r.received.len() < 2_000_000,
        "the copy stopped soon after the error, not at the end ({} bytes sent)",
        r.received.len()
    );
    assert!(
        !r.source_usable,
        "the source COPY is abandoned with its session"
    );
}

#[tokio::test]
async fn a_source_error_during_the_stream_never_completes_the_target_copy() {
    let r = run(
        text_rows(50_000, 100),
        SourceEnd::ErrorAfter(30_000, "XX001"),
        None,
    )
    .await;
    let e = r.result.expect_err("the source failed");
    assert_eq!(e.side(), Some(Side::Source), "{e}");
    assert_eq!(e.sqlstate().map(|s| s.code()), Some("XX001"), "{e}");
    assert_eq!(
        r.target_end,
        TargetEnd::Disconnected,
        "no CopyDone was sent"
    );
    assert!(!r.target_usable);
}

#[tokio::test]
async fn a_source_connection_lost_mid_row_fails_as_a_connection_error() {
    let r = run(text_rows(50_000, 100), SourceEnd::CloseAfter(20_000), None).await;
    let e = r.result.expect_err("the source went away");
    assert_eq!(e.side(), Some(Side::Source), "{e}");
    assert_eq!(e.kind(), ErrorKind::Connect, "{e}");
    assert!(
        e.to_string().contains("source.invalid"),
        "names the server: {e}"
    );
    assert_eq!(r.target_end, TargetEnd::Disconnected);
}

#[tokio::test]
async fn a_refused_source_copy_fails_the_target_copy_and_keeps_both_sessions() {
    let r = run(text_rows(10, 10), SourceEnd::Refuse("42501"), None).await;
    let e = r.result.expect_err("the source refused");
    assert_eq!(e.side(), Some(Side::Source), "{e}");
    assert_eq!(e.sqlstate().map(|s| s.code()), Some("42501"), "{e}");
    assert!(
        matches!(&r.target_end, TargetEnd::Failed(m) if m.contains("source")),
        "the target COPY was failed with CopyFail: {:?}",
        r.target_end
    );
    assert!(r.received.is_empty());
    assert!(
        r.source_usable && r.target_usable,
        "both sessions remain usable"
    );
}
