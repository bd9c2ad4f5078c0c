//! `db-migrate status` and `pg_migrate --status`: the flags of [`StatusArgs`] into
//! [`StatusOptions`], then one reading of [`crate::status`] (or one every `--watch` seconds
//! until Ctrl-C), as text on stdout or JSON where `--json` says.
//!
//! Exit codes: 0 when the target could be read (whatever the migrations' state), 2 for bad
//! flags or a target that cannot be read, 3 when the result could not be written. While
//! watching, a reading that fails (a target restarting) is reported and the next one tried.

use super::args::StatusArgs;
use super::{EXIT_INVALID, EXIT_OK, EXIT_OUTPUT, words};
use crate::cli::output::Output;
use crate::conn::ConnInfo;
use crate::error::{Error, Result};
use crate::status::{StatusOptions, StatusReport};

impl TryFrom<&StatusArgs> for StatusOptions {
    type Error = Error;

    fn try_from(a: &StatusArgs) -> Result<Self> {
        let target = a.target.as_deref().ok_or_else(|| {
            Error::config("no target given: use -t/--target or set TARGET_SERVICE_URI")
        })?;
        Ok(StatusOptions {
            target: ConnInfo::parse(target).map_err(|e| e.context("invalid --target"))?,
            source: a
                .source
                .as_deref()
                .map(|s| ConnInfo::parse(s).map_err(|e| e.context("invalid --source")))
                .transpose()?,
            only_dbs: super::options::db_list("--only-db", &a.only_db)?,
            filtered_dbs: super::options::db_list("-f/--filtered-db", &a.filtered_db)?,
        })
    }
}

/// Runs the status command; `program` names it in messages and `--help`, `args` are its flags
/// (without the program name).
pub fn run_status(program: &'static str, args: Vec<String>) -> i32 {
    let argv = std::iter::once(program.to_string()).chain(args);
    let parsed = match super::parse_args::<StatusArgs>(argv) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let opts = match StatusOptions::try_from(&parsed) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{program}: {e}");
            return EXIT_INVALID;
        }
    };
    super::logging::init(
        super::logging::LogFormat::Text,
        super::logging::filter_directives(false, 0),
        "status",
    );
    // The output is opened before any reading: a bad path is bad input.
    if let Some(dest) = &parsed.json
        && let Err(e) = Output::open("--json", dest)
    {
        eprintln!("{program}: {e}");
        return EXIT_INVALID;
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{program}: cannot start the async runtime: {e}");
            return EXIT_INVALID;
        }
    };
    runtime.block_on(async {
        tokio::select! {
            code = watch(program, &opts, parsed.json.as_deref(), parsed.watch) => code,
            _ = tokio::signal::ctrl_c() => EXIT_OK,
        }
    })
}

/// Reads and writes the status once, or every `every` seconds until interrupted.
async fn watch(program: &str, opts: &StatusOptions, json: Option<&str>, every: Option<u64>) -> i32 {
    let mut previous: Option<StatusReport> = None;
    loop {
        match crate::status::read(opts, previous.as_ref()).await {
            Ok(report) => {
                if let Err(e) = write(&report, json, every.is_some()) {
                    eprintln!("{program}: {e}");
                    return EXIT_OUTPUT;
                }
                previous = Some(report);
            }
            Err(e) if every.is_none() => {
                eprintln!("{program}: {}", words::error(&e));
                return EXIT_INVALID;
            }
            Err(e) => eprintln!("{program}: {} (trying again)", words::error(&e)),
        }
        let Some(secs) = every else {
            return EXIT_OK;
        };
        tokio::time::sleep(std::time::Duration::from_secs(secs)).await;
    }
}

/// Writes one reading: text on stdout unless `--json -`; JSON to `json`, one document per line
/// on stdout while watching, a file replaced at every reading.
fn write(report: &StatusReport, json: Option<&str>, watching: bool) -> Result<()> {
    if json != Some("-") {
        let mut text = words::text(&crate::status::render::render(report)).into_owned();
        if watching {
            text.push('\n');
        }
        Output::open("stdout", "-")?.write(text.as_bytes())?;
    }
    if let Some(dest) = json {
        let mut v = serde_json::to_value(report).unwrap_or_default();
        words::json(&mut v);
        let doc = if watching && dest == "-" {
            serde_json::to_string(&v)
        } else {
            serde_json::to_string_pretty(&v)
        }
        .unwrap_or_else(|_| "{}".into());
        Output::open("--json", dest)?.write((doc + "\n").as_bytes())?;
    }
    Ok(())
}
