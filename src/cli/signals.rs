//! Ctrl-C and SIGTERM for the command line (see [`crate::interrupt`] for what they do to a run):
//! the signal stream, the wind-down limit, and what is printed when the process exits at once.

use std::time::Duration;

/// How long the run may take to wind down after the first signal.
pub const WIND_DOWN: Duration = Duration::from_secs(15);

/// The `--cleanup` command for this run's servers, their passwords redacted.
pub fn cleanup_command(args: &super::PgArgs) -> String {
    let quote = |s: &str| format!("'{}'", crate::conn::redact(s).replace('\'', "'\\''"));
    let mut cmd = String::from("pg_migrate");
    match &args.source {
        Some(s) => cmd.push_str(&format!(" -s {}", quote(s))),
        None => cmd.push_str(" -s \"$SOURCE_SERVICE_URI\""),
    }
    match &args.target {
        Some(t) => cmd.push_str(&format!(" -t {}", quote(t))),
        None => cmd.push_str(" -t \"$TARGET_SERVICE_URI\""),
    }
    if args.mangle {
        cmd.push_str(" --mangle");
    }
    cmd.push_str(" --cleanup");
    cmd
}

/// The `--unfence` command for this run's servers, their passwords redacted.
pub fn unfence_command(args: &super::PgArgs) -> String {
    cleanup_command(args)
        .replace(" --mangle", "")
        .replace(" --cleanup", " --unfence")
}

/// What is printed about fences when the process exits at once: the databases whose source
/// this run fenced and has not lifted, and the command that lifts them.
pub fn fence_left_message(unfence: &str) -> String {
    let fenced = crate::replication::fence::fenced();
    if fenced.is_empty() {
        return String::new();
    }
    let names: Vec<String> = fenced
        .iter()
        .map(|d| format!("\"{}\"", crate::text::escape_controls(d)))
        .collect();
    format!(
        "The source's writes are still fenced (new sessions read-only) in database {}.\nLift the fence with (the same -s and -t as this run):\n  {unfence}\n",
        names.join(", ")
    )
}

/// What is printed when the process exits at once.
pub fn exit_now_message(cleanup: &str) -> String {
    let left = crate::interrupt::replicating();
    let mut out = String::from("pg_migrate: interrupted; exiting now\n");
    if !left.is_empty() {
        out.push_str("Replication objects left on the servers:\n");
        for (db, objects) in &left {
            out.push_str(&format!("  database \"{db}\": {objects}\n"));
        }
        out.push_str(&format!(
            "Remove them with (the same -s and -t as this run):\n  {cleanup}\n"
        ));
    }
    out.push_str(
        "Committed table parts are kept in the target's ledger: run the same command with \
         --resume to continue, or with --clean to start over.\n",
    );
    out
}

/// Ctrl-C and SIGTERM as one stream. Both are registered when it is made (inside the runtime,
/// before any work starts), so an interrupt that comes in the run's first moment is already
/// ours rather than the default action's, which would end the process without a report.
pub struct Signals {
    #[cfg(unix)]
    int: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
}

impl Default for Signals {
    fn default() -> Self {
        Self::new()
    }
}

impl Signals {
    /// Must be called within the tokio runtime.
    pub fn new() -> Self {
        #[cfg(unix)]
        use tokio::signal::unix::{SignalKind, signal};
        Signals {
            #[cfg(unix)]
            int: signal(SignalKind::interrupt()).ok(),
            #[cfg(unix)]
            term: signal(SignalKind::terminate()).ok(),
        }
    }

    /// Waits for the next Ctrl-C or SIGTERM; false if signals cannot be received.
    pub async fn next(&mut self) -> bool {
        #[cfg(unix)]
        if let (Some(int), Some(term)) = (&mut self.int, &mut self.term) {
            return tokio::select! {
                r = int.recv() => r.is_some(),
                r = term.recv() => r.is_some(),
            };
        }
        tokio::signal::ctrl_c().await.is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interrupt::{replication_done, replication_started};

    #[test]
    fn the_exit_message_names_replication_objects_and_the_cleanup_command() {
        replication_started("app", "publication p, slot s on the source".into());
        let m = exit_now_message("pg_migrate -s x -t y --cleanup");
        assert!(m.contains("database \"app\": publication p"), "{m}");
        assert!(m.contains("--cleanup"), "{m}");
        replication_done("app");
        assert!(!exit_now_message("c").contains("\"app\""));
    }

    #[test]
    fn the_unfence_command_keeps_the_servers_and_redacts_the_password() {
        let args = crate::cli::parse_args::<super::super::PgArgs>(
            [
                "pg_migrate",
                "-s",
                "postgres://u:secret@src/db",
                "-t",
                "host=tgt",
                "-m",
                "--cutover",
            ]
            .map(String::from),
        )
        .unwrap();
        let cmd = unfence_command(&args);
        assert!(cmd.ends_with(" --unfence"), "{cmd}");
        assert!(cmd.contains("src/db") && cmd.contains("host=tgt"), "{cmd}");
        assert!(
            !cmd.contains("secret") && !cmd.contains("--mangle"),
            "{cmd}"
        );
        // Nothing fenced by this process: nothing said.
        assert_eq!(fence_left_message(&cmd), "");
    }
}
