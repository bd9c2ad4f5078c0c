//! The operator's view of a run: the Prometheus endpoint scraped while it runs, the output in a
//! pipe (a few lines, whatever the number of tables) and on a terminal (the bars, the short
//! report at the terminal's width). `db-migrate status` is proven in tests/recovery.rs (a run
//! followed while it copies, after SIGKILL and after --resume).

// Each module keeps its own copy of the harness, so its clusters are its own (as when every
// file was a test binary of its own).
#[path = "support/mod.rs"]
mod support;

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::cli::{SERIAL, all_but, pg_migrate, text};
use support::{source, target};

/// A source database of `tables` small tables (`t0`, `t1`...), 200 rows each.
async fn database_of_tables(prefix: &str, tables: usize) -> String {
    let db = source().create_database(prefix).await;
    let mut sql = String::new();
    for i in 0..tables {
        sql.push_str(&format!(
            "CREATE TABLE public.t{i} (id int PRIMARY KEY, pad text);
             INSERT INTO public.t{i} SELECT g, repeat('x', 50) FROM generate_series(1, 200) g;"
        ));
    }
    source().execute(&db, &sql).await;
    db
}

/// One scrape of `addr`: the metrics text, or `None` when nothing listens (yet, or any more).
fn scrape(addr: &str) -> Option<String> {
    let mut s = std::net::TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    let (head, body) = out.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.1 200").then(|| body.to_owned())
}

/// The value of the sample `name{labels}` in a scrape.
fn sample(text: &str, name_and_labels: &str) -> Option<f64> {
    text.lines().find_map(|l| {
        l.strip_prefix(name_and_labels)?
            .strip_prefix(' ')?
            .parse()
            .ok()
    })
}

fn free_loopback_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn metrics_scraped_during_a_run_agree_with_the_final_report() {
    // Each run selects all but the other tests' databases: one at a time.
    let _turn = SERIAL.write().await;
    let a = database_of_tables("metrics a ", 3).await;
    let b = database_of_tables("metrics b ", 40).await;
    let port = free_loopback_port();
    let addr = format!("127.0.0.1:{port}");
    let filter = all_but(&[&a, &b]).await;
    let child = Command::new(env!("CARGO_BIN_EXE_pg_migrate"))
        .args([
            "-s",
            &source().superuser_uri("postgres"),
            "-t",
            &target().superuser_uri("postgres"),
            "-f",
            &filter,
            "--dump-only",
            "--json",
            "-",
            // A port alone: loopback.
            "--metrics-listen",
            &port.to_string(),
        ])
        .env_remove("SOURCE_SERVICE_URI")
        .env_remove("TARGET_SERVICE_URI")
        .env_remove("DB_MIGRATE_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Scrapes as fast as they come until the process is gone.
    let scraper = {
        let addr = addr.clone();
        std::thread::spawn(move || {
            let mut scrapes = Vec::new();
            let deadline = Instant::now() + Duration::from_secs(120);
            let mut seen = false;
            while Instant::now() < deadline {
                match scrape(&addr) {
                    Some(t) => {
                        seen = true;
                        scrapes.push(t);
                    }
                    None if seen => break,
                    None => {}
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            scrapes
        })
    };
    let o = child.wait_with_output().unwrap();
    let scrapes = scraper.join().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let report: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(!scrapes.is_empty(), "never scraped: {}", text(&o));
    let first = &scrapes[0];
    for needle in [
        "# TYPE db_migrate_copied_bytes counter",
        "# TYPE db_migrate_warnings counter",
        "db_migrate_warnings_total{kind=\"schema\"}",
    ] {
        assert!(first.contains(needle), "{needle} not in:\n{first}");
    }
    // Each database was seen before it was done, and once done with the report's values.
    for db in [&a, &b] {
        let label = format!("{{database=\"{db}\"}}");
        let done = format!("db_migrate_phase{{database=\"{db}\",phase=\"done\"}} 1");
        assert!(
            scrapes
                .iter()
                .any(|s| s.contains(&format!("database=\"{db}\"")) && !s.contains(&done)),
            "{db} never seen at work"
        );
        let entry = report["databases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["dbname"] == db.as_str())
            .unwrap();
        let data = &entry["data"];
        for s in &scrapes {
            // Counters never pass the final values.
            if let Some(bytes) = sample(s, &format!("db_migrate_copied_bytes_total{label}")) {
                assert!(bytes <= data["bytes"].as_f64().unwrap(), "{s}");
            }
        }
        let Some(last) = scrapes.iter().rev().find(|s| s.contains(&done)) else {
            // The last database can end with the process, between two scrapes.
            assert_eq!(db, &b, "the first database was never seen done");
            continue;
        };
        assert_eq!(
            sample(last, &format!("db_migrate_copied_bytes_total{label}")),
            data["bytes"].as_f64(),
            "{last}"
        );
        assert_eq!(
            sample(last, &format!("db_migrate_copied_rows_total{label}")),
            data["rows"].as_f64(),
            "{last}"
        );
        assert_eq!(
            sample(last, &format!("db_migrate_tables_done{label}")),
            Some(data["tables"].as_array().unwrap().len() as f64),
            "{last}"
        );
        assert_eq!(
            sample(last, &format!("db_migrate_parts_failed{label}")),
            Some(0.0)
        );
    }
    let warnings = report["warnings"].as_array().unwrap().len() as f64;
    let last = scrapes.last().unwrap();
    let counted: f64 = last
        .lines()
        .filter(|l| l.starts_with("db_migrate_warnings_total{"))
        .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
        .sum();
    assert!(counted <= warnings, "{counted} {warnings}\n{last}");
}

/// The run's stderr in a pipe: the short report, no log line per object.
#[tokio::test]
async fn piped_output_of_a_100_table_migration_is_a_few_lines() {
    // Each run selects all but the other tests' databases: one at a time.
    let _turn = SERIAL.write().await;
    let db = database_of_tables("piped output ", 100).await;
    let filter = all_but(&[&db]).await;
    let o = pg_migrate(&[
        "-s",
        &source().superuser_uri("postgres"),
        "-t",
        &target().superuser_uri("postgres"),
        "-f",
        &filter,
        "--dump-only",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    let lines: Vec<&str> = err.lines().collect();
    // Roles, "Databases:", its line, maybe a few warnings and progress lines.
    assert!(lines.len() <= 25, "{} lines:\n{err}", lines.len());
    assert!(err.contains("Databases:"), "{err}");
    let line = lines
        .iter()
        .find(|l| l.contains(&db) && l.contains("done"))
        .unwrap_or_else(|| panic!("no line for {db}:\n{err}"));
    assert!(
        line.contains("dump") && line.contains("in 100 tables"),
        "{line}"
    );
    // Nothing printed twice.
    let mut seen = std::collections::HashSet::new();
    for l in lines.iter().filter(|l| !l.trim().is_empty()) {
        assert!(seen.insert(*l), "printed twice: {l}\n{err}");
    }
    assert_eq!(target_tables(&db).await, 100);
}

async fn target_tables(db: &str) -> usize {
    let rows = target()
        .query_strings(
            db,
            "SELECT count(*)::text FROM pg_tables WHERE schemaname = 'public'",
        )
        .await;
    rows[0][0].as_deref().unwrap().parse().unwrap()
}

/// The terminal display under a pseudo-terminal (`script`, util-linux): the bars are drawn and
/// the report fits its 80 columns.
#[tokio::test]
async fn on_a_terminal_bars_are_drawn_and_the_report_fits_the_width() {
    // Each run selects all but the other tests' databases: one at a time.
    let _turn = SERIAL.write().await;
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("SKIPPED: no script(1) for a pseudo-terminal");
        return;
    }
    let db = database_of_tables("terminal ", 30).await;
    let filter = all_but(&[&db]).await;
    let q = |s: &str| format!("'{}'", s.replace('\'', "'\\''"));
    let cmd = format!(
        "stty cols 80 rows 40; {} -s {} -t {} -f {} --dump-only --verify",
        env!("CARGO_BIN_EXE_pg_migrate"),
        q(&source().superuser_uri("postgres")),
        q(&target().superuser_uri("postgres")),
        q(&filter)
    );
    let o = Command::new("script")
        .args(["-qefc", &cmd, "/dev/null"])
        .env_remove("SOURCE_SERVICE_URI")
        .env_remove("TARGET_SERVICE_URI")
        .env_remove("DB_MIGRATE_LOG")
        .env("TERM", "xterm")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let screen = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(o.status.code(), Some(0), "{screen}");
    std::fs::write(
        concat!(env!("CARGO_TARGET_TMPDIR"), "/operator-terminal.txt"),
        &screen,
    )
    .unwrap();
    assert!(screen.contains("overall"), "{screen}");
    assert!(screen.contains("databases"), "{screen}");
    let report = &screen[screen.find("Run ").expect("the report")..];
    assert!(
        report.contains("Databases:") && report.contains(&db),
        "{report}"
    );
    for l in report.lines() {
        let plain = strip_ansi(l);
        assert!(plain.chars().count() <= 80, "wider than 80: {plain:?}");
    }
}

/// The text without its ANSI escape sequences and carriage returns.
fn strip_ansi(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.peek() == Some(&'[') {
                chars.next();
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
        } else if c != '\r' {
            out.push(c);
        }
    }
    out
}
