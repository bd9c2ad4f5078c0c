//! `--metrics-listen ADDR`: the run's [`crate::board`] in the Prometheus text format, for the
//! usual monitoring stack (a Prometheus scrape, a Kubernetes job's pod annotations).
//!
//! The exposition format is written by `prometheus-client` (the Prometheus project's own Rust
//! crate): a [`Collector`] reads the board at each scrape, so the values are never copied or
//! kept twice. Names follow the Prometheus conventions: the `db_migrate_` prefix, base units
//! (bytes, seconds), `_total` on counters, one `database` label per database.
//!
//! Why this socket lives here and not in `conn/`: `conn/` is the one place that opens sockets
//! *to PostgreSQL*, with its TLS and libpq policy; this is a listening socket for an HTTP
//! scraper, which shares nothing with them. The responder is deliberately minimal (any request
//! gets the metrics, one response per connection, `Connection: close`): it serves one scrape
//! format to a monitoring system, not a web application, and a few lines of tokio need no HTTP
//! framework. It binds where the operator says; given only a port, loopback (`127.0.0.1`), so
//! that turning metrics on never exposes a run to the network by surprise.

use std::net::SocketAddr;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::board::Snapshot;
use crate::error::{Error, ErrorKind, Result};
use crate::remedy::Setting;

/// `--metrics-listen`'s value: `HOST:PORT`, `[V6]:PORT`, or a port alone (loopback).
pub fn parse_listen(s: &str) -> Result<SocketAddr> {
    let s = s.trim();
    let bad = || {
        Error::config(format!(
            "{} {s:?}: give a port (127.0.0.1 is used) or ADDRESS:PORT, such as \
             9187 or 0.0.0.0:9187",
            Setting::MetricsListen
        ))
    };
    if let Ok(port) = s.parse::<u16>() {
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    s.parse::<SocketAddr>().map_err(|_| bad())
}

/// The collector: the board, read at each scrape.
#[derive(Debug)]
struct BoardCollector;

type Labels<'a> = [(&'static str, &'a str)];

fn family<M: EncodeMetric>(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    kind: MetricType,
    rows: &[(Vec<(&'static str, &str)>, M)],
) -> std::fmt::Result {
    let mut f = enc.encode_descriptor(name, help, None, kind)?;
    for (labels, m) in rows {
        let labels: &Labels = labels;
        m.encode(f.encode_family(&labels)?)?;
    }
    Ok(())
}

impl Collector for BoardCollector {
    /// The families in a fixed order: the phases, the copy's and the verification's progress,
    /// the replication's lag and cut-over, the warnings.
    fn encode(&self, mut enc: DescriptorEncoder) -> std::fmt::Result {
        let (dbs, warnings) = crate::board::read();
        encode_progress(&mut enc, &dbs)?;
        encode_replication(&mut enc, &dbs)?;
        let warns: Vec<_> = warnings
            .iter()
            .map(|(kind, n)| (vec![("kind", kind.as_str())], ConstCounter::new(*n)))
            .collect();
        family(
            &mut enc,
            "warnings",
            "The run's warnings so far, by kind",
            MetricType::Counter,
            &warns,
        )?;
        Ok(())
    }
}

/// A database's one label.
fn db(s: &Snapshot) -> Vec<(&'static str, &str)> {
    vec![("database", s.database.as_str())]
}

/// One counter per database, of what `f` reads from its snapshot.
fn counter(
    dbs: &[Snapshot],
    f: fn(&Snapshot) -> u64,
) -> Vec<(Vec<(&'static str, &str)>, ConstCounter)> {
    dbs.iter()
        .map(|s| (db(s), ConstCounter::new(f(s))))
        .collect()
}

/// One gauge per database, of what `f` reads from its snapshot.
fn gauge(
    dbs: &[Snapshot],
    f: fn(&Snapshot) -> i64,
) -> Vec<(Vec<(&'static str, &str)>, ConstGauge)> {
    dbs.iter().map(|s| (db(s), ConstGauge::new(f(s)))).collect()
}

/// Each database's phase, and the copy's and the verification's progress.
fn encode_progress(enc: &mut DescriptorEncoder, dbs: &[Snapshot]) -> std::fmt::Result {
    let phases: Vec<_> = dbs
        .iter()
        .map(|s| {
            let labels = vec![("database", s.database.as_str()), ("phase", s.phase)];
            (labels, ConstGauge::new(1i64))
        })
        .collect();
    family(
        enc,
        "phase",
        "The phase each database is in (waiting, schema, copy, verify, replicating, done, \
         failed): 1 for the current one",
        MetricType::Gauge,
        &phases,
    )?;
    let c = MetricType::Counter;
    let g = MetricType::Gauge;
    family(
        enc,
        "copied_bytes",
        "Bytes of table data copied",
        c,
        &counter(dbs, |s| s.bytes),
    )?;
    family(
        enc,
        "copied_rows",
        "Rows copied",
        c,
        &counter(dbs, |s| s.rows),
    )?;
    family(
        enc,
        "estimated_bytes",
        "The copy's estimate of all its bytes (the tables' sizes)",
        g,
        &gauge(dbs, |s| s.est_bytes as i64),
    )?;
    family(
        enc,
        "tables_done",
        "Tables copied",
        g,
        &gauge(dbs, |s| s.tables_done as i64),
    )?;
    family(
        enc,
        "tables",
        "Tables to copy",
        g,
        &gauge(dbs, |s| s.tables_total as i64),
    )?;
    family(
        enc,
        "parts_failed",
        "Table parts that failed (known once the database ends)",
        g,
        &gauge(dbs, |s| s.parts_failed as i64),
    )?;
    family(
        enc,
        "retries",
        "Transient failures retried",
        c,
        &counter(dbs, |s| s.retries),
    )?;
    family(
        enc,
        "verified_tables",
        "Tables compared by the verification",
        g,
        &gauge(dbs, |s| s.verify_tables_done as i64),
    )?;
    family(
        enc,
        "verify_tables",
        "Tables the verification compares",
        g,
        &gauge(dbs, |s| s.verify_tables_total as i64),
    )
}

/// The replication method's lag and the cut-over's window and steps, for the databases that
/// have them.
fn encode_replication(enc: &mut DescriptorEncoder, dbs: &[Snapshot]) -> std::fmt::Result {
    let g = MetricType::Gauge;
    let lag: Vec<_> = dbs
        .iter()
        .filter_map(|s| Some((db(s), ConstGauge::new(s.lag_bytes?))))
        .collect();
    family(
        enc,
        "replication_lag_bytes",
        "The replication slot's lag on the source, in bytes (replication method)",
        g,
        &lag,
    )?;
    let window: Vec<_> = dbs
        .iter()
        .filter_map(|s| Some((db(s), ConstGauge::new(s.cutover_seconds?))))
        .collect();
    family(
        enc,
        "cutover_write_unavailable_seconds",
        "The cut-over's window without writes (from the fence to the switch)",
        g,
        &window,
    )?;
    let steps: Vec<_> = dbs
        .iter()
        .flat_map(|s| {
            s.cutover_steps.iter().map(|(step, secs)| {
                (
                    vec![("database", s.database.as_str()), ("step", *step)],
                    ConstGauge::new(*secs),
                )
            })
        })
        .collect();
    family(
        enc,
        "cutover_step_seconds",
        "How long each step of the cut-over took",
        g,
        &steps,
    )
}

/// The metrics text now.
pub fn render() -> String {
    let mut registry = Registry::with_prefix("db_migrate");
    registry.register_collector(Box::new(BoardCollector));
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
    out
}

/// Binds `addr` now (so that a port in use is an error before the run starts) and serves the
/// metrics on it until the process ends.
pub async fn serve(addr: SocketAddr) -> Result<SocketAddr> {
    let listener = TcpListener::bind(addr).await.map_err(|e| {
        Error::new(
            ErrorKind::Config,
            format!(
                "{} {addr}: cannot listen there: {e}",
                Setting::MetricsListen
            ),
        )
    })?;
    let bound = listener.local_addr().unwrap_or(addr);
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                // The request is read (up to the end of its headers) and not looked at.
                let mut buf = [0u8; 4096];
                let mut seen = Vec::new();
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") && seen.len() < 16384 {
                    match tokio::time::timeout(
                        std::time::Duration::from_secs(5),
                        sock.read(&mut buf),
                    )
                    .await
                    {
                        Ok(Ok(n)) if n > 0 => seen.extend_from_slice(&buf[..n]),
                        _ => break,
                    }
                }
                let body = render();
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/openmetrics-text; \
                     version=1.0.0; charset=utf-8\r\nContent-Length: {}\r\nConnection: \
                     close\r\n\r\n",
                    body.len()
                );
                let _ = sock.write_all(head.as_bytes()).await;
                let _ = sock.write_all(body.as_bytes()).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    Ok(bound)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_port_alone_listens_on_loopback() {
        assert_eq!(
            parse_listen("9187").unwrap(),
            "127.0.0.1:9187".parse().unwrap()
        );
        assert_eq!(
            parse_listen("0.0.0.0:9000").unwrap(),
            "0.0.0.0:9000".parse().unwrap()
        );
        assert!(parse_listen("[::1]:9000").is_ok());
        assert!(parse_listen("localhost").is_err());
    }

    #[test]
    fn the_board_reads_in_prometheus_names() {
        crate::board::start(&["metrics unit test".to_owned()]);
        let text = render();
        for needle in [
            "# TYPE db_migrate_copied_bytes counter",
            "db_migrate_copied_bytes_total{database=\"metrics unit test\"} 0",
            "db_migrate_phase{database=\"metrics unit test\",phase=\"waiting\"} 1",
            "db_migrate_warnings_total{kind=\"schema\"} 0",
            "# EOF",
        ] {
            assert!(text.contains(needle), "{needle} not in:\n{text}");
        }
    }
}
