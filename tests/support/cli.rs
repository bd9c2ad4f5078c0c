//! What the tests that run the real `pg_migrate` binary share: running it in a clean
//! environment, showing its whole output when an assertion fails, the superusers' URIs, a
//! `-f` filter that keeps one test's databases, and the turn taken by runs that see every
//! database.
//!
//! Its own file because `tests/cli.rs`, `tests/selection.rs` and `tests/hardening.rs` each had a
//! copy of these.

use std::process::{Command, Output, Stdio};

use tokio::sync::RwLock;

use super::{source, target};

/// Runs that see every database of the shared clusters (full migrations, provider objects)
/// take the write side, one at a time; runs confined to their own databases may share the read
/// side. One lock per test binary, like the clusters.
pub static SERIAL: RwLock<()> = RwLock::const_new(());

/// Runs `pg_migrate` with `args` and the extra environment `env`. The caller's
/// `SOURCE_SERVICE_URI`, `TARGET_SERVICE_URI` (which would stand in for `-s` / `-t`) and
/// `DB_MIGRATE_LOG` (which changes what is printed) are removed; stdin is empty.
///
/// `TEST_PG_MIGRATE_BIN` names another build of the binary to run (a copy taken right after
/// the build, when several worktrees share one target directory and a build of another one
/// may replace the binary cargo built for these tests).
pub fn pg_migrate_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let bin = std::env::var_os("TEST_PG_MIGRATE_BIN")
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_pg_migrate").into());
    let mut cmd = Command::new(bin);
    cmd.args(args)
        .env_remove("SOURCE_SERVICE_URI")
        .env_remove("TARGET_SERVICE_URI")
        .env_remove("DB_MIGRATE_LOG")
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("pg_migrate runs")
}

/// [`pg_migrate_env`] with no extra environment.
pub fn pg_migrate(args: &[&str]) -> Output {
    pg_migrate_env(args, &[])
}

/// The exit code, stdout and stderr of a run, for assertion messages.
pub fn text(o: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The source's and the target's superuser URIs, both to the `postgres` database.
pub fn superuser_uris() -> (String, String) {
    (
        source().superuser_uri("postgres"),
        target().superuser_uri("postgres"),
    )
}

/// `-f` value that leaves out every source database except `keep`.
pub async fn all_but(keep: &[&str]) -> String {
    let rows = source()
        .query_strings("postgres", "SELECT datname FROM pg_database")
        .await;
    rows.into_iter()
        .filter_map(|r| r.into_iter().next().flatten())
        .filter(|d| !keep.contains(&d.as_str()))
        .collect::<Vec<_>>()
        .join(",")
}
