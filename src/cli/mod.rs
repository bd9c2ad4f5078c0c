//! The command line: `pg_migrate [flags]`, identical to `db-migrate pg [flags]`.
//!
//! Flags are parsed into [`PgArgs`] (raw values, clap), then validated into
//! [`MigrateOptions`] (what the library understands), ripgrep's lowargs/hiargs split. The flag
//! names are those of the Python aiven-db-migrate, so existing scripts keep working.
//!
//! Exit codes (the table of docs/reference/exit-codes.md; `tests/cli.rs` provokes each):
//! - 0: every database done (and equal where verified), or preflight passed (`--validate`);
//! - 1: a database failed (or was refused by preflight while others were migrated), or
//!   verification found a difference;
//! - 2: invalid arguments, or preflight refused the run: nothing was written anywhere;
//! - 3: the work is done but its result could not be written (`--json`, `--print-ddl`);
//! - 130: a second interrupt (or 15 s after the first) ended the run at once.
//!
//! The command line is the library's `cli` feature (on by default): clap, the log subscriber
//! and signal handling are compiled only with it, so a library user who builds options
//! directly can leave them out (`default-features = false`).
//!
//! - [`args`]: the flags as parsed, each checked alone;
//! - [`options`]: the flags turned into [`MigrateOptions`];
//! - [`logging`]: the log format and filter;
//! - [`signals`]: Ctrl-C and SIGTERM;
//! - [`output`]: where `--json` and `--print-ddl` write, checked before the work;
//! - [`legacy`]: the aiven-db-migrate report format;
//! - [`status`]: `db-migrate status` / `pg_migrate --status`, which reads and writes nothing;
//! - [`words`]: the settings and remedies the engine names, in flag words;
//! - [`reference`]: docs/reference/flags.md and the man page, rendered from the flags
//!   (`make docs`, the hidden `db-migrate docs`).

pub mod args;
pub mod legacy;
pub mod logging;
pub mod memory;
pub mod options;
pub mod output;
pub mod reference;
pub mod signals;
pub mod status;
pub mod summary;
pub mod words;

use clap::Parser;

use args::OutputFormatArg;
pub use args::{MAX_SESSIONS, PgArgs, normalize_args};

use crate::error::Result;
use crate::migrate::{PgMigrate, RunOutput};
use crate::options::{MigrateOptions, RunMode};
use crate::report::{MigrateResult, render_findings};

pub const EXIT_OK: i32 = 0;
pub const EXIT_DB_FAILED: i32 = 1;
pub const EXIT_INVALID: i32 = 2;
pub const EXIT_OUTPUT: i32 = 3;
pub const EXIT_INTERRUPTED: i32 = 130;

/// The exit code of a run's result. 2 means that preflight refused the whole run, so nothing
/// was written anywhere (every database refused, or none selected); once anything was written,
/// a database that failed, preflight's refusal of it included, is 1. A success is only ever a
/// result whose every database is done (and equal, where verified) and whose preflight passed.
pub fn exit_code(result: &MigrateResult, validate_only: bool) -> i32 {
    let refused = |d: &crate::report::DatabaseResult| {
        d.status == crate::report::DbStatus::Failed
            && d.phase == Some(crate::error::Phase::Preflight)
    };
    if validate_only {
        if result.validation.ok {
            EXIT_OK
        } else {
            EXIT_INVALID
        }
    } else if result.succeeded() {
        EXIT_OK
    } else if !result.validation.ok && result.databases.iter().all(refused) {
        EXIT_INVALID
    } else {
        EXIT_DB_FAILED
    }
}

fn init_logging(args: &PgArgs, migration_id: &str) {
    logging::init(
        args.log_format,
        logging::filter_directives(
            args.debug,
            // Log collectors get the steps at info by default.
            args.verbose + u8::from(args.log_format == logging::LogFormat::Json),
        ),
        migration_id,
    );
}

/// Parses a command's flags; on failure prints clap's message (or `--help`, `--version`) and
/// gives the exit code: 2 for invalid arguments, 0 for help and version.
pub(crate) fn parse_args<P: Parser>(
    argv: impl IntoIterator<Item = String>,
) -> std::result::Result<P, i32> {
    P::try_parse_from(argv).map_err(|e| {
        let code = if e.use_stderr() {
            EXIT_INVALID
        } else {
            EXIT_OK
        };
        let _ = e.print();
        code
    })
}

/// The `--json` document: the result's JSON in flag words ([`words::json`]).
fn write_json(out: crate::cli::output::Output, result: &MigrateResult) -> Result<()> {
    let doc = serde_json::from_str(&result.to_json()).unwrap_or_default();
    write_doc(out, doc, true)
}

/// Writes a JSON document (`pretty`: indented) with its text in flag words.
fn write_doc(
    out: crate::cli::output::Output,
    mut doc: serde_json::Value,
    pretty: bool,
) -> Result<()> {
    words::json(&mut doc);
    let text = if pretty {
        serde_json::to_string_pretty(&doc)
    } else {
        serde_json::to_string(&doc)
    };
    out.write((text.unwrap_or_else(|_| "{}".into()) + "\n").as_bytes())
}

/// Runs `pg_migrate` with `args` (without the program name) and returns the exit code.
///
/// The stages in order: the flags, the outputs (opened before any work), the runtime and the
/// metrics socket, the commands that are not a run (`--status`, `--unfence`, `--fail-back`),
/// the signals, the run, the report. A stage that ends the process early returns its exit
/// code as the error.
pub fn run_pg(args: Vec<String>) -> i32 {
    let argv = std::iter::once("pg_migrate".to_string()).chain(normalize_args(args.clone()));
    let parsed = match parse_args::<PgArgs>(argv) {
        Ok(p) => p,
        Err(code) => return code,
    };
    // --status is the status command: its own flags, parsed again so that a flag of a
    // migration (which would do nothing there) is refused rather than ignored.
    if parsed.status {
        let rest = args.into_iter().filter(|a| a != "--status").collect();
        return status::run_status("pg_migrate --status", rest);
    }
    let opts = match MigrateOptions::try_from(&parsed) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("pg_migrate: {}", words::error(&e));
            return EXIT_INVALID;
        }
    };
    init_logging(&parsed, &opts.migration_id);
    if parsed.output_format == OutputFormatArg::Legacy && parsed.json.as_deref() == Some("-") {
        eprintln!(
            "pg_migrate: --output-format legacy prints on stdout, so it cannot be combined with \
             --json - (write the JSON to a file instead)"
        );
        return EXIT_INVALID;
    }
    note_ignored_flags(&parsed);
    let (json_out, ddl_out) = match open_outputs(&parsed, &opts) {
        Ok(o) => o,
        Err(code) => return code,
    };
    let runtime = match start_runtime(&parsed) {
        Ok(r) => r,
        Err(code) => return code,
    };
    if parsed.unfence {
        return unfence(&runtime, &opts, json_out);
    }
    if parsed.fail_back {
        return fail_back(&runtime, &opts, json_out);
    }
    watch_signals(&runtime, &parsed, &opts);
    let span = tracing::info_span!("migration", id = %opts.migration_id);
    let _enter = span.enter();
    let validate_only = opts.mode == RunMode::Validate;
    // --cutover --validate: the cut-over's dry run, after preflight.
    let dry_run = (validate_only && parsed.cutover).then(|| opts.clone());
    let job = PgMigrate::new(opts);
    let mut result = match runtime.block_on(job.run()) {
        RunOutput::Ddl(ddl) => {
            let out = ddl_out.expect("--print-ddl gives the DDL mode and its output");
            return write_ddl(out, ddl);
        }
        RunOutput::Result(r) => r,
    };
    let refused_cutover = match dry_run {
        Some(o) => cutover_dry_run(&runtime, &o, &mut result),
        None => false,
    };
    let report = match render_report(&parsed, &result, validate_only, refused_cutover) {
        Ok(r) => r,
        Err(code) => return code,
    };
    eprint!("{}", words::text(&report));
    if parsed.output_format == OutputFormatArg::Legacy
        && !validate_only
        && result
            .databases
            .iter()
            .any(|d| d.status == crate::report::DbStatus::Failed)
    {
        eprintln!("{}", crate::cli::legacy::FAILURE_LINE);
    }
    if let Some(out) = json_out
        && let Err(e) = write_json(out, &result)
    {
        eprintln!(
            "pg_migrate: {e} (the run itself ended with exit code {})",
            exit_code(&result, validate_only)
        );
        return EXIT_OUTPUT;
    }
    if refused_cutover {
        return EXIT_INVALID;
    }
    exit_code(&result, validate_only)
}

/// Flags of the tool we replace that have no meaning here: accepted so scripts keep
/// working, with a note saying why nothing happens.
fn note_ignored_flags(parsed: &PgArgs) {
    if let Some(dir) = &parsed.pgbin {
        tracing::info!(
            "--pgbin {} ignored: db-migrate speaks the PostgreSQL protocol itself and runs no \
             pg_dump or pg_restore",
            dir.display()
        );
    }
    if parsed.replicate_extension_tables {
        tracing::info!(
            "--replicate-extension-tables ignored: extension configuration tables are copied \
             by default (--no-replicate-extension-tables leaves them out)"
        );
    }
}

/// Where `--json` and `--print-ddl` write, opened before any work (a bad path must not cost a
/// whole migration) and checked against what the run reads; else the exit code.
fn open_outputs(
    parsed: &PgArgs,
    opts: &MigrateOptions,
) -> std::result::Result<(Option<output::Output>, Option<output::Output>), i32> {
    // Outputs are opened before any work: a bad path must not cost a whole migration.
    let open = |flag, dest: &Option<String>| {
        dest.as_deref()
            .map(|d| crate::cli::output::Output::open(flag, d))
            .transpose()
    };
    let (json_out, ddl_out) = match (
        open("--json", &parsed.json),
        open("--print-ddl", &parsed.print_ddl),
    ) {
        (Ok(j), Ok(d)) => (j, d),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("pg_migrate: {}", words::error(&e));
            return Err(EXIT_INVALID);
        }
    };
    // Nothing the run reads may be what it writes.
    let mut inputs: Vec<(&str, &std::path::Path)> = Vec::new();
    if let Some(p) = &parsed.role_passwords {
        inputs.push(("--role-passwords", p));
    }
    for c in [&opts.source, &opts.target] {
        if let Some(crate::conn::SslRootCert::File(p)) = &c.sslrootcert {
            inputs.push(("sslrootcert", p));
        }
        for (key, p) in [
            ("sslcert", &c.sslcert),
            ("sslkey", &c.sslkey),
            ("passfile", &c.passfile),
        ] {
            if let Some(p) = p {
                inputs.push((key, p));
            }
        }
    }
    if let Some(out) = &json_out
        && let Err(e) = out.check_not_input(&inputs)
    {
        eprintln!("pg_migrate: {}", words::error(&e));
        return Err(EXIT_INVALID);
    }
    // The DDL must not replace the report either.
    if let Some(p) = parsed.json.as_deref().filter(|j| *j != "-") {
        inputs.push(("--json", std::path::Path::new(p)));
    }
    if let Some(out) = &ddl_out
        && let Err(e) = out.check_not_input(&inputs)
    {
        eprintln!("pg_migrate: {}", words::error(&e));
        return Err(EXIT_INVALID);
    }
    Ok((json_out, ddl_out))
}

/// The async runtime, with the `--metrics-listen` socket bound on it before the run (a port
/// in use is bad input, found before anything is written); else the exit code.
fn start_runtime(parsed: &PgArgs) -> std::result::Result<tokio::runtime::Runtime, i32> {
    memory::limit_arenas();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("pg_migrate: cannot start the async runtime: {e}");
            return Err(EXIT_INVALID);
        }
    };
    // Bound before the run: a port in use is bad input, found before anything is written.
    if let Some(addr) = &parsed.metrics_listen {
        let bound = crate::metrics::parse_listen(addr)
            .and_then(|a| runtime.block_on(crate::metrics::serve(a)));
        match bound {
            Ok(a) => eprintln!("metrics: http://{a}/metrics (Prometheus) while the run lasts"),
            Err(e) => {
                eprintln!("pg_migrate: {}", words::error(&e));
                return Err(EXIT_INVALID);
            }
        }
    }
    Ok(runtime)
}

/// Ctrl-C cancels running COPYs on both sides; the run then ends with the databases that
/// were interrupted marked failed, and a non-zero exit code.
fn watch_signals(runtime: &tokio::runtime::Runtime, parsed: &PgArgs, opts: &MigrateOptions) {
    let cancel = opts.cancel.clone();
    // Stages that cannot be cancelled cooperatively (a schema batch, a replication wait) end
    // with the process: a second Ctrl-C, or 15 s after the first, exits at once. The servers
    // roll back the open transactions of the closed sessions; replication objects left behind
    // are reported by the next run, which points to --cleanup.
    let cleanup_hint = signals::cleanup_command(parsed);
    let unfence_hint = signals::unfence_command(parsed);
    let mut signals = {
        let _in_runtime = runtime.enter();
        signals::Signals::new()
    };
    runtime.spawn(async move {
        if signals.next().await {
            tracing::warn!(
                "interrupted: nothing new starts, running work is cancelled (signal again to exit now)"
            );
            cancel.cancel();
            let _ = tokio::time::timeout(signals::WIND_DOWN, signals.next()).await;
            eprint!("{}", signals::exit_now_message(&cleanup_hint));
            eprint!("{}", signals::fence_left_message(&unfence_hint));
            std::process::exit(EXIT_INTERRUPTED);
        }
    });
}

/// `--print-ddl`: writes the DDL, or says why there is none; the exit code.
fn write_ddl(out: output::Output, ddl: Result<String>) -> i32 {
    match ddl {
        Ok(sql) => match out.write(sql.as_bytes()) {
            Ok(()) => EXIT_OK,
            Err(e) => {
                eprintln!("pg_migrate: {}", words::error(&e));
                EXIT_OUTPUT
            }
        },
        Err(e) => {
            eprintln!("pg_migrate: {}", words::error(&e));
            EXIT_DB_FAILED
        }
    }
}

/// `--cutover --validate`: the cut-over's dry run of every database, into `result`; whether
/// the cut-over would be refused now.
fn cutover_dry_run(
    runtime: &tokio::runtime::Runtime,
    o: &MigrateOptions,
    result: &mut MigrateResult,
) -> bool {
    match runtime.block_on(crate::replication::dry_run::dry_run_all(
        &o.source,
        &o.target,
        &o.only_dbs,
        &o.filtered_dbs,
        &o.replication,
    )) {
        Ok(d) => {
            let refused = d.iter().any(|d| !d.ready);
            result.cutover_dry_run = d;
            refused
        }
        Err(e) => {
            eprintln!(
                "pg_migrate: the cut-over's dry run failed: {}",
                words::error(&e)
            );
            true
        }
    }
}

/// The report for stderr, as the run and the flags ask: preflight's findings (`--validate`),
/// nothing (the legacy format, written to stdout here), the table of every message (`-v`), or
/// the short summary; the exit code when stdout cannot be written.
fn render_report(
    parsed: &PgArgs,
    result: &MigrateResult,
    validate_only: bool,
    refused_cutover: bool,
) -> std::result::Result<String, i32> {
    let mut report = String::new();
    if validate_only {
        render_findings(&mut report, &result.validation);
        if !result.cutover_dry_run.is_empty() {
            report.push_str("Cut-over dry run (nothing was changed):\n");
            for d in &result.cutover_dry_run {
                report.push_str(&format!("  {}\n", words::text(&d.describe())));
            }
        } else if parsed.cutover {
            report.push_str("Cut-over dry run: no database replicates, nothing to cut over.\n");
        }
        if result.validation.ok && !refused_cutover {
            report.push_str("Preflight passed.\n");
        } else if result.validation.ok {
            report
                .push_str("Preflight passed, but the cut-over would be refused now (see above).\n");
        } else {
            report.push_str("Preflight failed: fix the errors above and run again.\n");
        }
    } else if parsed.output_format == OutputFormatArg::Legacy {
        render_findings(&mut report, &result.validation);
        for w in &result.warnings {
            report.push_str(&format!("warning: {w}\n"));
        }
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        if let Err(e) = out
            .write_all(words::text(&crate::cli::legacy::render(result)).as_bytes())
            .and_then(|_| out.flush())
        {
            eprintln!("pg_migrate: cannot write the result to stdout: {e}");
            return Err(EXIT_OUTPUT);
        }
    } else if parsed.verbose > 0 || parsed.debug {
        report = result.render_table();
    } else {
        let base = signals::cleanup_command(parsed)
            .replace(" --mangle", "")
            .replace(" --cleanup", "");
        let next = summary::Next {
            status: base.replacen("pg_migrate", "pg_migrate --status", 1),
            base,
        };
        report = summary::render(result, summary::terminal_width(), &next);
    }
    Ok(report)
}

/// `--unfence`: lifts the fences an earlier `--cutover` left on the source, as recorded there.
/// Exit 0 when every recorded fence was lifted (or none was found), 1 otherwise.
fn unfence(
    runtime: &tokio::runtime::Runtime,
    opts: &MigrateOptions,
    json_out: Option<crate::cli::output::Output>,
) -> i32 {
    // The source after --cutover, the target after --fail-back.
    let mut lifted = Vec::new();
    for (server, conninfo) in [("source", &opts.source), ("target", &opts.target)] {
        match runtime.block_on(crate::replication::fence::unfence(
            server,
            conninfo,
            &opts.only_dbs,
            &opts.filtered_dbs,
        )) {
            Ok(l) => lifted.extend(l),
            Err(e) => {
                eprintln!(
                    "pg_migrate: --unfence on the {server}: {}",
                    words::error(&e)
                );
                return EXIT_DB_FAILED;
            }
        }
    }
    if lifted.is_empty() {
        eprintln!(
            "No fence recorded on the source or the target for the selected databases: nothing to lift."
        );
    }
    for u in &lifted {
        eprintln!(
            "database \"{}\" on the {}: {}",
            crate::text::escape_controls(&u.database),
            u.server,
            words::text(&crate::text::escape_controls(&u.message))
        );
    }
    if let Some(out) = json_out {
        let doc = serde_json::json!({ "migration_id": opts.migration_id, "unfenced": lifted });
        if let Err(e) = write_doc(out, doc, false) {
            eprintln!("pg_migrate: {}", words::error(&e));
            return EXIT_OUTPUT;
        }
    }
    if lifted.iter().all(|u| u.ok) {
        EXIT_OK
    } else {
        EXIT_DB_FAILED
    }
}

/// `--fail-back`: the reverse fenced cut-over of every selected database whose
/// `--fail-back-ready` replication runs. Exit 0 when each switched back (or none had one), 1
/// otherwise.
fn fail_back(
    runtime: &tokio::runtime::Runtime,
    opts: &MigrateOptions,
    json_out: Option<crate::cli::output::Output>,
) -> i32 {
    let mut ropts = opts.replication.clone();
    ropts.verify = opts
        .verify
        .after_copy
        .then(|| crate::verify::Settings::of(opts));
    let found = runtime.block_on(crate::replication::failback::fail_back_all(
        &opts.source,
        &opts.target,
        &opts.only_dbs,
        &opts.filtered_dbs,
        &ropts,
        opts.cancel.clone(),
    ));
    let done = match found {
        Ok(d) => d,
        Err(e) => {
            eprintln!("pg_migrate: --fail-back: {}", words::error(&e));
            return EXIT_DB_FAILED;
        }
    };
    if done.is_empty() {
        eprintln!("No fail-back replication (--fail-back-ready) found for the selected databases.");
    }
    let mut ok = true;
    let mut entries = Vec::new();
    for (db, r) in &done {
        let name = crate::text::escape_controls(db);
        match r {
            Ok(o) => {
                ok &= o.status == crate::report::DbStatus::Done;
                eprintln!(
                    "database \"{name}\": {}",
                    words::text(&crate::text::escape_controls(&o.message))
                );
                let mut block = String::new();
                if let Some(c) = &o.cutover {
                    c.render(&mut block, db);
                }
                eprint!("{}", words::text(&block));
                entries.push(serde_json::json!({
                    "dbname": db, "status": o.status, "message": o.message,
                    "cutover": o.cutover, "verify": o.verify,
                }));
            }
            Err(e) => {
                ok = false;
                eprintln!("database \"{name}\": fail-back failed: {}", words::error(e));
                entries.push(serde_json::json!({
                    "dbname": db, "status": "failed", "message": e.to_string(),
                }));
            }
        }
    }
    if let Some(out) = json_out {
        let doc = serde_json::json!({ "migration_id": opts.migration_id, "fail_back": entries });
        if let Err(e) = write_doc(out, doc, false) {
            eprintln!("pg_migrate: {}", words::error(&e));
            return EXIT_OUTPUT;
        }
    }
    if ok { EXIT_OK } else { EXIT_DB_FAILED }
}

/// Runs `db-migrate <command> ...`: `pg` (a migration) or `status` (what the migrations
/// recorded on a target are doing).
pub fn run_db_migrate(mut args: Vec<String>) -> i32 {
    if args.is_empty() {
        eprintln!("Available commands: pg, status");
        return 1;
    }
    let cmd = args.remove(0);
    match cmd.as_str() {
        "pg" => run_pg(args),
        "status" => status::run_status("db-migrate status", args),
        // Hidden: `make docs` renders docs/reference/flags.md and the man page with it.
        "docs" => reference::run_docs(args),
        "-V" | "--version" => {
            println!("db-migrate {}", env!("CARGO_PKG_VERSION"));
            0
        }
        "-h" | "--help" => {
            println!(
                "Usage: db-migrate pg [flags]       (see db-migrate pg --help)\n       \
                 db-migrate status [flags]   (see db-migrate status --help)\n\
                 Available commands: pg, status"
            );
            0
        }
        _ => {
            eprintln!("Available commands: pg, status");
            1
        }
    }
}
