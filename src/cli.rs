//! The command line: `pg_migrate [flags]`, identical to `db-migrate pg [flags]`.
//!
//! Flags are parsed into [`PgArgs`] (raw values, clap), then validated into
//! [`MigrateOptions`] (what the library understands), ripgrep's lowargs/hiargs split. The flag
//! names are those of the Python aiven-db-migrate, so existing scripts keep working.
//!
//! Exit codes: 0 success; 1 a database failed; 2 invalid arguments or failed validation.

use std::path::PathBuf;

use clap::Parser;

use crate::conn::ConnInfo;
use crate::error::{Error, Result};
use crate::migrate::PgMigrate;
use crate::options::{MigrateOptions, RolePasswords, random_migration_id};
use crate::report::{MigrateResult, render_findings};

pub const EXIT_OK: i32 = 0;
pub const EXIT_DB_FAILED: i32 = 1;
pub const EXIT_INVALID: i32 = 2;

/// Migrate a PostgreSQL installation (roles, databases) from one server to another.
#[derive(Debug, Parser)]
#[command(name = "pg_migrate", version, about, long_about = None)]
pub struct PgArgs {
    /// Source server: a postgres:// URI or a libpq key=value string.
    #[arg(
        short = 's',
        long = "source",
        env = "SOURCE_SERVICE_URI",
        hide_env_values = true
    )]
    pub source: Option<String>,
    /// Target server: a postgres:// URI or a libpq key=value string.
    #[arg(
        short = 't',
        long = "target",
        env = "TARGET_SERVICE_URI",
        hide_env_values = true
    )]
    pub target: Option<String>,
    /// Comma-separated source databases to leave out.
    #[arg(short = 'f', long = "filtered-db")]
    pub filtered_db: Option<String>,
    /// Comma-separated source databases to migrate; the others are left out.
    #[arg(long = "only-db")]
    pub only_db: Option<String>,
    /// Comma-separated roles to leave out (also -xr).
    #[arg(long = "excluded-roles")]
    pub excluded_roles: Option<String>,
    /// Comma-separated extensions to skip in the checks (also -xe).
    #[arg(long = "excluded-extensions")]
    pub excluded_extensions: Option<String>,
    /// More detail in the log (repeat for more).
    #[arg(short = 'v', long = "verbose", action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Debug logging.
    #[arg(short = 'd', long = "debug")]
    pub debug: bool,
    /// Log lines as text (coloured only on a terminal without NO_COLOR) or one JSON object per
    /// line (for log collectors).
    #[arg(long = "log-format", value_enum, default_value = "text")]
    pub log_format: crate::logging::LogFormat,
    /// Do not create databases in the target; every source database must already exist there.
    #[arg(long = "no-createdb")]
    pub no_createdb: bool,
    /// Only run the preflight checks and report them.
    #[arg(long = "validate")]
    pub validate: bool,
    /// Fail when the summed size of the source databases to migrate exceeds BYTES.
    #[arg(
        long = "dbs-max-total-size",
        value_name = "BYTES",
        allow_negative_numbers = true,
        value_parser = parse_bytes_or_minus_one
    )]
    pub dbs_max_total_size: Option<i64>,
    /// Allow a target whose major version is older than the source's.
    #[arg(long = "skip-db-version-check")]
    pub skip_db_version_check: bool,
    /// Show the generated placeholder passwords in the report.
    #[arg(long = "show-passwords")]
    pub show_passwords: bool,
    /// Tag for every log line (default: 4 random characters).
    #[arg(long = "migration-id")]
    pub migration_id: Option<String>,
    /// JSON file of real role passwords: {"role": "password", ...}.
    #[arg(long = "role-passwords", value_name = "FILE")]
    pub role_passwords: Option<PathBuf>,
    /// Write the result as JSON to FILE ("-" for stdout).
    #[arg(long = "json", value_name = "FILE")]
    pub json: Option<String>,
    /// Migrate the schema only (no data).
    #[arg(long = "schema-only")]
    pub schema_only: bool,
    /// Write the generated SQL of every database to migrate to FILE ("-" for stdout) for review;
    /// nothing is written to the target.
    #[arg(long = "print-ddl", value_name = "FILE")]
    pub print_ddl: Option<String>,
    /// Leave objects owned by the migration user instead of their source owners.
    #[arg(long = "no-owner")]
    pub no_owner: bool,
    /// Do not copy privileges (GRANT/REVOKE).
    #[arg(long = "no-acl")]
    pub no_acl: bool,
    /// Do not copy the source's publications (db-migrate's own and subscriptions never are).
    #[arg(long = "no-publications")]
    pub no_publications: bool,
    /// Parallel copy workers, each with one source and one target session (default: CPU
    /// cores, at least 2).
    #[arg(long = "jobs", short = 'j', value_name = "N", allow_negative_numbers = true, value_parser = parse_sessions)]
    pub jobs: Option<usize>,
    /// Target sessions creating schema objects concurrently (default: twice --jobs, at most
    /// 16; DDL waits on the disk much of the time).
    #[arg(long = "schema-jobs", value_name = "N", allow_negative_numbers = true, value_parser = parse_sessions)]
    pub schema_jobs: Option<usize>,
    /// COPY format: binary where every column type allows it (auto), or force one.
    #[arg(long = "copy-format", value_enum, default_value = "auto")]
    pub copy_format: CopyFormatArg,
    /// Copy tables larger than SIZE in parallel parts (e.g. 512MB, 2GB; 0 disables).
    #[arg(long = "split-tables-larger-than", value_name = "SIZE", value_parser = parse_size)]
    pub split_tables_larger_than: Option<u64>,
    /// Do not ANALYZE the loaded tables.
    #[arg(long = "no-analyze")]
    pub no_analyze: bool,
    /// Do not copy the rows of extension configuration tables.
    #[arg(long = "no-replicate-extension-tables")]
    pub no_replicate_extension_tables: bool,
    /// Use this method only, never fall back (default: replication, falling back to dump when
    /// it is not possible).
    #[arg(long = "force-method", value_enum, conflicts_with_all = ["dump_only", "repl_only"])]
    pub force_method: Option<MethodArg>,
    /// Same as --force-method dump.
    #[arg(long = "dump-only", conflicts_with = "repl_only")]
    pub dump_only: bool,
    /// Same as --force-method replication.
    #[arg(long = "repl-only")]
    pub repl_only: bool,
    /// Name replication objects after the md5 of the database name.
    #[arg(short = 'm', long = "mangle")]
    pub mangle: bool,
    /// Wait until replication lag is at most BYTES (-1: do not wait).
    #[arg(
        long = "max-replication-lag",
        value_name = "BYTES",
        allow_negative_numbers = true,
        value_parser = parse_bytes_or_minus_one
    )]
    pub max_replication_lag: Option<i64>,
    /// Upper bound for every replication wait (e.g. 600, 30m, 2h; default 1h).
    #[arg(long = "replication-timeout", value_name = "DURATION", value_parser = parse_duration)]
    pub replication_timeout: Option<std::time::Duration>,
    /// After the wait, sync sequences and drop subscription, publication and slot
    /// (requires --max-replication-lag).
    #[arg(long = "stop-replication")]
    pub stop_replication: bool,
    /// How the target server reaches the source for the subscription, when it differs from
    /// --source (a URI or key=value string).
    #[arg(long = "subscription-conninfo", value_name = "CONNINFO")]
    pub subscription_conninfo: Option<String>,
    /// Only remove the replication objects an earlier run left, on both sides.
    #[arg(long = "cleanup")]
    pub cleanup: bool,
    /// After each database's data is in, compare the target with the source (the dump method
    /// compares with the source as of the copy's snapshot); any difference gives exit code 1.
    #[arg(long = "verify")]
    pub verify: bool,
    /// Only compare the source and target databases now, writing nothing on either side; any
    /// difference gives exit code 1.
    #[arg(
        long = "verify-only",
        conflicts_with_all = ["validate", "schema_only", "cleanup", "print_ddl", "verify"]
    )]
    pub verify_only: bool,
    /// Differing keys listed per table at most (default 10).
    #[arg(long = "verify-max-rows", value_name = "N")]
    pub verify_max_rows: Option<usize>,
    /// Continue an interrupted or failed migration: databases done are skipped, committed
    /// table parts kept, the rest copied in a new snapshot.
    #[arg(long = "resume", conflicts_with_all = ["clean", "cleanup"])]
    pub resume: bool,
    /// Remove what an unfinished earlier run wrote to a target database (the database if it
    /// created it, else exactly the objects its ledger lists), then migrate it again.
    #[arg(long = "clean", conflicts_with = "cleanup")]
    pub clean: bool,
    /// Retries of a copy task that failed with a transient error (lost connection, server
    /// restart, 57P01, 40001, 40P01, 53300...), on new sessions, waiting 1 s, 2 s, 4 s... (at
    /// most 30 s) in between; 0 disables retries.
    #[arg(long = "copy-retries", value_name = "N", default_value_t = crate::copy::retry::DEFAULT_RETRIES)]
    pub copy_retries: u32,
    /// Migrate only these tables (repeatable, comma-separated): TABLE, SCHEMA.TABLE or
    /// DB.SCHEMA.TABLE, pg_dump patterns (* and ?; double quotes for capitals, dots, commas).
    #[arg(
        long = "with-table",
        value_name = "NAME",
        conflicts_with = "skip_table"
    )]
    pub with_table: Vec<String>,
    /// Migrate every table but these (repeatable, comma-separated; forms as --with-table).
    #[arg(long = "skip-table", value_name = "NAME")]
    pub skip_table: Vec<String>,
    /// Migrate only the objects of these schemas (repeatable, comma-separated; SCHEMA or
    /// DB.SCHEMA patterns).
    #[arg(long = "schema", value_name = "NAME")]
    pub schema: Vec<String>,
    /// Leave out the objects of these schemas (repeatable, comma-separated).
    #[arg(long = "exclude-schema", value_name = "NAME")]
    pub exclude_schema: Vec<String>,
    /// Create these tables but copy none of their rows (repeatable, comma-separated).
    #[arg(long = "exclude-table-data", value_name = "NAME")]
    pub exclude_table_data: Vec<String>,
    /// Also migrate the databases and roles of the managed service (rdsadmin, cloudsqladmin,
    /// azure_maintenance, _aiven...), which are left out by default.
    #[arg(long = "include-provider-objects")]
    pub include_provider_objects: bool,
    /// Accepted for compatibility and ignored: db-migrate runs no pg_dump or pg_restore.
    #[arg(long = "pgbin", value_name = "DIR")]
    pub pgbin: Option<PathBuf>,
    /// Accepted for compatibility and ignored: extension configuration tables are copied by
    /// default (see --no-replicate-extension-tables).
    #[arg(
        long = "replicate-extension-tables",
        conflicts_with = "no_replicate_extension_tables"
    )]
    pub replicate_extension_tables: bool,
    /// How the result is printed: a table (default), or the line format of aiven-db-migrate
    /// (legacy: "Roles:"/"Databases:" lines on stdout, its failure line on stderr).
    #[arg(long = "output-format", value_enum, default_value = "table")]
    pub output_format: OutputFormatArg,
}

/// `--output-format` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormatArg {
    Table,
    Legacy,
}

/// `--force-method` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MethodArg {
    Dump,
    Replication,
}

/// Parses durations: plain seconds, or a number with s, m or h.
pub fn parse_duration(s: &str) -> std::result::Result<std::time::Duration, String> {
    let t = s.trim();
    let (num, mult) = match t.chars().last() {
        Some('s') => (&t[..t.len() - 1], 1),
        Some('m') => (&t[..t.len() - 1], 60),
        Some('h') => (&t[..t.len() - 1], 3600),
        _ => (t, 1),
    };
    let n: u64 = num
        .trim()
        .parse()
        .map_err(|_| format!("invalid duration {s:?}: use seconds, or a number with s, m or h"))?;
    Ok(std::time::Duration::from_secs(n * mult))
}

/// The most sessions `--jobs` and `--schema-jobs` may ask for: PostgreSQL's own default
/// `max_connections` is 100, and far more sessions than cores only queue on the servers. The
/// servers' free connection slots lower it further at run time (see [`crate::slots`]).
pub const MAX_SESSIONS: usize = 1024;

/// `--jobs`, `--schema-jobs`: a whole number from 1 to [`MAX_SESSIONS`]. Clap prefixes the
/// message with the flag and the value given.
pub fn parse_sessions(s: &str) -> std::result::Result<usize, String> {
    s.trim()
        .parse::<usize>()
        .ok()
        .filter(|n| (1..=MAX_SESSIONS).contains(n))
        .ok_or_else(|| format!("expected a whole number from 1 to {MAX_SESSIONS}"))
}

/// `--max-replication-lag`, `--dbs-max-total-size`: bytes (0 or more), or -1 for "none"; a
/// number below -1 is a typo, not a silent -1.
pub fn parse_bytes_or_minus_one(s: &str) -> std::result::Result<i64, String> {
    s.trim()
        .parse::<i64>()
        .ok()
        .filter(|n| *n >= -1)
        .ok_or_else(|| {
            format!(
                "expected a number of bytes from 0 to {}, or -1 for none",
                i64::MAX
            )
        })
}

/// `--copy-format` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CopyFormatArg {
    Auto,
    Binary,
    Text,
}

/// Parses sizes like `1048576`, `512kB`, `512MB`, `2GB`, `1GiB`, `1TB` (powers of 1024, as
/// PostgreSQL's own size units).
pub fn parse_size(s: &str) -> std::result::Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num.parse().map_err(|_| {
        format!("invalid size {s:?}: expected a number with an optional unit (kB, MB, GB, TB)")
    })?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        other => {
            return Err(format!(
                "invalid size unit {other:?} in {s:?}: use kB, MB, GB or TB"
            ));
        }
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("size {s:?} is too large"))
}

/// Splits a comma-separated list, trimming blanks around names and dropping empty items.
fn split_list(v: &Option<String>) -> Vec<String> {
    v.as_deref()
        .map(|s| {
            s.split(',')
                .map(str::trim)
                .filter(|x| !x.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

impl TryFrom<&PgArgs> for MigrateOptions {
    type Error = Error;

    fn try_from(a: &PgArgs) -> Result<Self> {
        let source = a.source.as_deref().ok_or_else(|| {
            Error::config("no source given: use -s/--source or set SOURCE_SERVICE_URI")
        })?;
        let target = a.target.as_deref().ok_or_else(|| {
            Error::config("no target given: use -t/--target or set TARGET_SERVICE_URI")
        })?;
        let source = ConnInfo::parse(source).map_err(|e| e.context("invalid --source"))?;
        let target = ConnInfo::parse(target).map_err(|e| e.context("invalid --target"))?;
        let dbs_max_total_size = match a.dbs_max_total_size {
            None => None,
            Some(n) if n < 0 => None, // -1 means "no limit", as in the tool we replace
            Some(n) => Some(n as u64),
        };
        if let Some(id) = &a.migration_id {
            check_migration_id(id)?;
        }
        crate::output::check_combination(a.json.as_deref(), a.print_ddl.as_deref())?;
        let role_passwords = match &a.role_passwords {
            Some(p) => RolePasswords::from_file(p)?,
            None => RolePasswords::default(),
        };
        if a.schema_only && (a.repl_only || a.force_method == Some(MethodArg::Replication)) {
            return Err(Error::config(
                "--schema-only copies no data, so there is nothing to replicate: drop \
                 --repl-only / --force-method replication, or --schema-only",
            ));
        }
        Ok(MigrateOptions {
            source,
            target,
            filtered_dbs: db_list("-f/--filtered-db", &a.filtered_db)?,
            only_dbs: db_list("--only-db", &a.only_db)?,
            excluded_roles: split_list(&a.excluded_roles),
            excluded_extensions: split_list(&a.excluded_extensions),
            createdb: !a.no_createdb,
            skip_db_version_check: a.skip_db_version_check,
            dbs_max_total_size,
            show_passwords: a.show_passwords,
            role_passwords,
            migration_id: a.migration_id.clone().unwrap_or_else(random_migration_id),
            schema_only: a.schema_only,
            schema: crate::schema::SchemaOptions {
                no_owner: a.no_owner,
                no_acl: a.no_acl,
                no_publications: a.no_publications,
            },
            schema_jobs: match a.schema_jobs {
                Some(0) => return Err(Error::config("--schema-jobs must be at least 1")),
                other => other,
            },
            copy: {
                let mut c = crate::copy::CopyOptions::default();
                if let Some(j) = a.jobs {
                    if j == 0 {
                        return Err(Error::config("--jobs must be at least 1"));
                    }
                    c.jobs = j;
                }
                c.format = match a.copy_format {
                    CopyFormatArg::Auto => crate::copy::CopyFormat::Auto,
                    CopyFormatArg::Binary => crate::copy::CopyFormat::Binary,
                    CopyFormatArg::Text => crate::copy::CopyFormat::Text,
                };
                if let Some(size) = a.split_tables_larger_than {
                    c.split_larger_than = size;
                }
                c.analyze = !a.no_analyze;
                c.retries = a.copy_retries;
                c.extension_tables = !a.no_replicate_extension_tables;
                if a.json.as_deref() == Some("-") {
                    c.progress = crate::copy::ProgressMode::Quiet;
                }
                c
            },
            force_method: match (a.force_method, a.dump_only, a.repl_only) {
                (Some(MethodArg::Dump), _, _) | (None, true, _) => {
                    Some(crate::report::Method::Dump)
                }
                (Some(MethodArg::Replication), _, _) | (None, _, true) => {
                    Some(crate::report::Method::Replication)
                }
                _ => None,
            },
            replication: {
                let mut r = crate::replication::ReplicationOptions {
                    mangle: a.mangle,
                    stop_replication: a.stop_replication,
                    max_replication_lag: a
                        .max_replication_lag
                        .filter(|n| *n >= 0)
                        .map(|n| n as u64),
                    ..Default::default()
                };
                r.forced = a.repl_only || a.force_method == Some(MethodArg::Replication);
                if let Some(t) = a.replication_timeout {
                    r.replication_timeout = t;
                }
                if let Some(c) = &a.subscription_conninfo {
                    r.subscription_conninfo = Some(
                        ConnInfo::parse(c)
                            .map_err(|e| e.context("invalid --subscription-conninfo"))?,
                    );
                }
                if r.stop_replication && r.max_replication_lag.is_none() {
                    return Err(Error::config(
                        "--stop-replication requires --max-replication-lag >= 0 (the lag to wait for before stopping)",
                    ));
                }
                r
            },
            cleanup: a.cleanup,
            verify: {
                if a.verify && a.schema_only {
                    return Err(Error::config(
                        "--verify compares data, which --schema-only does not copy: drop one of them",
                    ));
                }
                crate::verify::VerifyOptions {
                    after_copy: a.verify,
                    only: a.verify_only,
                    max_rows: a.verify_max_rows.unwrap_or(crate::verify::DEFAULT_MAX_ROWS),
                }
            },
            resume: a.resume,
            clean: a.clean,
            selection: crate::selection::Selection::parse(
                &a.with_table,
                &a.skip_table,
                &a.schema,
                &a.exclude_schema,
                &a.exclude_table_data,
            )?,
            include_provider_objects: a.include_provider_objects,
        })
    }
}

/// `--migration-id` goes into every log line and the report: control characters (a newline, an
/// escape sequence) would let it forge log lines or repaint a terminal, so they are refused.
fn check_migration_id(id: &str) -> Result<()> {
    if id.is_empty() || id.chars().count() > 64 {
        return Err(Error::config(
            "--migration-id must be 1 to 64 characters long",
        ));
    }
    if let Some(c) = id
        .chars()
        .find(|c| c.is_control() || crate::text::is_bidi_control(*c))
    {
        return Err(Error::config(format!(
            "--migration-id must not contain control characters (found {})",
            c.escape_unicode()
        )));
    }
    Ok(())
}

/// A database list flag: given but empty (an unset shell variable, say) is an error, not
/// "every database".
fn db_list(flag: &str, v: &Option<String>) -> Result<Vec<String>> {
    let list = split_list(v);
    if v.is_some() && list.is_empty() {
        return Err(Error::config(format!(
            "{flag}: empty value (give comma-separated database names)"
        )));
    }
    Ok(list)
}

/// Rewrites the Python tool's two-letter short flags (`-xr`, `-xe`), which clap cannot express,
/// into their long forms.
pub fn normalize_args<I: IntoIterator<Item = String>>(args: I) -> Vec<String> {
    args.into_iter()
        .map(|a| {
            for (short, long) in [
                ("-xr", "--excluded-roles"),
                ("-xe", "--excluded-extensions"),
            ] {
                if a == short {
                    return long.to_string();
                }
                if let Some(rest) = a.strip_prefix(short) {
                    let rest = rest.strip_prefix('=').unwrap_or(rest);
                    return format!("{long}={rest}");
                }
            }
            a
        })
        .collect()
}

fn init_logging(args: &PgArgs, migration_id: &str) {
    crate::logging::init(
        args.log_format,
        crate::logging::filter_directives(args.debug, args.verbose),
        migration_id,
    );
}

fn write_json(out: crate::output::Output, result: &MigrateResult) -> Result<()> {
    out.write((result.to_json() + "\n").as_bytes())
}

/// Runs `pg_migrate` with `args` (without the program name) and returns the exit code.
pub fn run_pg(args: Vec<String>) -> i32 {
    let argv = std::iter::once("pg_migrate".to_string()).chain(normalize_args(args));
    let parsed = match PgArgs::try_parse_from(argv) {
        Ok(p) => p,
        Err(e) => {
            let code = if e.use_stderr() {
                EXIT_INVALID
            } else {
                EXIT_OK
            };
            let _ = e.print();
            return code;
        }
    };
    let opts = match MigrateOptions::try_from(&parsed) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("pg_migrate: {e}");
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
    // Flags of the tool we replace that have no meaning here: accepted so scripts keep
    // working, with a note saying why nothing happens.
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
    // Outputs are opened before any work: a bad path must not cost a whole migration.
    let open = |flag, dest: &Option<String>| {
        dest.as_deref()
            .map(|d| crate::output::Output::open(flag, d))
            .transpose()
    };
    let (json_out, ddl_out) = match (
        open("--json", &parsed.json),
        open("--print-ddl", &parsed.print_ddl),
    ) {
        (Ok(j), Ok(d)) => (j, d),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("pg_migrate: {e}");
            return EXIT_INVALID;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("pg_migrate: cannot start the async runtime: {e}");
            return EXIT_INVALID;
        }
    };
    // Ctrl-C cancels running COPYs on both sides; the run then ends with the databases that
    // were interrupted marked failed, and a non-zero exit code.
    let cancel = opts.copy.cancel.clone();
    // Stages that cannot be cancelled cooperatively (a schema batch, a replication wait) end
    // with the process: a second Ctrl-C, or 15 s after the first, exits at once. The servers
    // roll back the open transactions of the closed sessions; replication objects left behind
    // are reported by the next run, which points to --cleanup.
    let cleanup_hint = crate::interrupt::cleanup_command(&parsed);
    runtime.spawn(async move {
        let mut signals = crate::interrupt::Signals::new();
        if signals.next().await {
            tracing::warn!(
                "interrupted: nothing new starts, running work is cancelled (signal again to exit now)"
            );
            cancel.cancel();
            let _ = tokio::time::timeout(crate::interrupt::WIND_DOWN, signals.next()).await;
            eprint!("{}", crate::interrupt::exit_now_message(&cleanup_hint));
            std::process::exit(130);
        }
    });
    let span = tracing::info_span!("migration", id = %opts.migration_id);
    let _enter = span.enter();
    if let Some(out) = ddl_out {
        let job = PgMigrate::new(opts);
        return match runtime.block_on(job.generate_ddl()) {
            Ok(sql) => match out.write(sql.as_bytes()) {
                Ok(()) => EXIT_OK,
                Err(e) => {
                    eprintln!("pg_migrate: {e}");
                    EXIT_INVALID
                }
            },
            Err(e) => {
                eprintln!("pg_migrate: {e}");
                EXIT_DB_FAILED
            }
        };
    }
    let validate_only = parsed.validate;
    let migration_id = opts.migration_id.clone();
    let job = PgMigrate::new(opts);
    let result = runtime.block_on(async {
        if parsed.verify_only {
            job.verify_only().await
        } else if validate_only {
            MigrateResult {
                migration_id,
                validation: job.validate().await,
                ..Default::default()
            }
        } else {
            job.migrate().await
        }
    });
    let mut report = String::new();
    if validate_only {
        render_findings(&mut report, &result.validation);
        if result.validation.ok {
            report.push_str("Preflight passed.\n");
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
            .write_all(crate::legacy::render(&result).as_bytes())
            .and_then(|_| out.flush())
        {
            eprintln!("pg_migrate: cannot write the result to stdout: {e}");
            return EXIT_INVALID;
        }
    } else {
        report = result.render_table();
    }
    eprint!("{report}");
    if parsed.output_format == OutputFormatArg::Legacy
        && !validate_only
        && result
            .databases
            .iter()
            .any(|d| d.status == crate::report::DbStatus::Failed)
    {
        eprintln!("{}", crate::legacy::FAILURE_LINE);
    }
    if let Some(out) = json_out
        && let Err(e) = write_json(out, &result)
    {
        eprintln!("pg_migrate: {e}");
        return EXIT_INVALID;
    }
    if !result.validation.ok && (validate_only || result.databases.is_empty()) {
        EXIT_INVALID
    } else if !result.succeeded() {
        EXIT_DB_FAILED
    } else {
        EXIT_OK
    }
}

/// Runs `db-migrate <command> ...`: `pg` is the only command.
pub fn run_db_migrate(mut args: Vec<String>) -> i32 {
    if args.is_empty() {
        eprintln!("Available commands: pg");
        return 1;
    }
    let cmd = args.remove(0);
    match cmd.as_str() {
        "pg" => run_pg(args),
        "-V" | "--version" => {
            println!("db-migrate {}", env!("CARGO_PKG_VERSION"));
            0
        }
        "-h" | "--help" => {
            println!(
                "Usage: db-migrate pg [flags]   (see db-migrate pg --help)\nAvailable commands: pg"
            );
            0
        }
        _ => {
            eprintln!("Available commands: pg");
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> PgArgs {
        let argv = std::iter::once("pg_migrate".to_string())
            .chain(normalize_args(args.iter().map(|s| s.to_string())));
        PgArgs::try_parse_from(argv).unwrap()
    }

    #[test]
    fn python_two_letter_flags_are_accepted() {
        let a = parse(&["-s", "host=a", "-t", "host=b", "-xr", "r1, r2", "-xe=ext"]);
        let o = MigrateOptions::try_from(&a).unwrap();
        assert_eq!(o.excluded_roles, vec!["r1", "r2"]);
        assert_eq!(o.excluded_extensions, vec!["ext"]);
    }

    #[test]
    fn sizes_take_postgres_units() {
        assert_eq!(parse_size("1048576"), Ok(1 << 20));
        assert_eq!(parse_size("512MB"), Ok(512 << 20));
        assert_eq!(parse_size("2 GB"), Ok(2 << 30));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("0"), Ok(0));
        assert!(parse_size("lots").unwrap_err().contains("invalid size"));
        assert!(parse_size("5 parsecs").unwrap_err().contains("unit"));
    }

    #[test]
    fn data_flags_reach_the_copy_options() {
        let a = parse(&[
            "-s",
            "host=a",
            "-t",
            "host=b",
            "--jobs",
            "3",
            "--copy-format",
            "text",
            "--split-tables-larger-than",
            "1MB",
            "--no-analyze",
            "--no-replicate-extension-tables",
        ]);
        let o = MigrateOptions::try_from(&a).unwrap();
        assert_eq!(o.copy.jobs, 3);
        assert_eq!(o.copy.format, crate::copy::CopyFormat::Text);
        assert_eq!(o.copy.split_larger_than, 1 << 20);
        assert!(!o.copy.analyze);
        assert!(!o.copy.extension_tables);
    }

    #[test]
    fn schema_only_refuses_a_forced_replication() {
        for extra in [&["--repl-only"][..], &["--force-method", "replication"][..]] {
            let mut args = vec!["-s", "host=a", "-t", "host=b", "--schema-only"];
            args.extend_from_slice(extra);
            let err = MigrateOptions::try_from(&parse(&args)).unwrap_err();
            assert!(err.to_string().contains("nothing to replicate"), "{err}");
        }
        let mut args = vec![
            "-s",
            "host=a",
            "-t",
            "host=b",
            "--schema-only",
            "--dump-only",
        ];
        assert!(MigrateOptions::try_from(&parse(&args)).is_ok());
        args.truncate(5);
        assert!(MigrateOptions::try_from(&parse(&args)).is_ok());
    }

    #[test]
    fn schema_sessions_default_to_twice_the_jobs_and_can_be_set() {
        let o = |extra: &[&str]| {
            let mut args = vec!["-s", "host=a", "-t", "host=b"];
            args.extend_from_slice(extra);
            MigrateOptions::try_from(&parse(&args))
        };
        assert_eq!(o(&["--jobs", "3"]).unwrap().ddl_sessions(), 6);
        assert_eq!(o(&["--jobs", "12"]).unwrap().ddl_sessions(), 16);
        assert_eq!(
            o(&["--jobs", "12", "--schema-jobs", "24"])
                .unwrap()
                .ddl_sessions(),
            24
        );
        assert_eq!(
            o(&["--jobs", "3", "--schema-jobs", "1"])
                .unwrap()
                .ddl_sessions(),
            1
        );
    }

    #[test]
    fn out_of_range_numbers_are_refused_naming_the_flag_and_the_range() {
        let try_parse = |args: &[&str]| {
            let argv = ["pg_migrate", "-s", "host=a", "-t", "host=b"]
                .into_iter()
                .chain(args.iter().copied());
            PgArgs::try_parse_from(argv).map(|a| MigrateOptions::try_from(&a))
        };
        for (args, flag, range) in [
            (&["--jobs", "-1"][..], "--jobs", "1 to 1024"),
            (&["--jobs", "0"][..], "--jobs", "1 to 1024"),
            (&["--jobs", "100000"][..], "--jobs", "1 to 1024"),
            (&["-j", "two"][..], "--jobs", "1 to 1024"),
            (&["--schema-jobs", "0"][..], "--schema-jobs", "1 to 1024"),
            (&["--schema-jobs", "-3"][..], "--schema-jobs", "1 to 1024"),
            (
                &["--max-replication-lag=-7"][..],
                "--max-replication-lag",
                "-1 for none",
            ),
            (
                &["--dbs-max-total-size=-5"][..],
                "--dbs-max-total-size",
                "-1 for none",
            ),
        ] {
            let err = try_parse(args).unwrap_err().to_string();
            assert!(err.contains(flag) && err.contains(range), "{args:?}: {err}");
        }
        assert!(try_parse(&["--max-replication-lag=-1"]).unwrap().is_ok());
        assert!(try_parse(&["--jobs", "1024"]).unwrap().is_ok());
    }

    #[test]
    fn a_migration_id_with_control_characters_is_refused() {
        for id in ["a\nb", "x\u{1b}[2J", "ab\u{202e}cd", ""] {
            let a = parse(&["-s", "host=a", "-t", "host=b", "--migration-id", id]);
            let err = MigrateOptions::try_from(&a).unwrap_err().to_string();
            assert!(err.contains("--migration-id"), "{id:?}: {err}");
        }
        let a = parse(&[
            "-s",
            "host=a",
            "-t",
            "host=b",
            "--migration-id",
            "cut-over 2",
        ]);
        assert_eq!(
            MigrateOptions::try_from(&a).unwrap().migration_id,
            "cut-over 2"
        );
    }

    #[test]
    fn method_flags_choose_and_force_the_method() {
        let o = |extra: &[&str]| {
            let mut args = vec!["-s", "host=a", "-t", "host=b"];
            args.extend_from_slice(extra);
            MigrateOptions::try_from(&parse(&args)).unwrap()
        };
        assert_eq!(o(&[]).force_method, None);
        assert_eq!(
            o(&["--dump-only"]).force_method,
            Some(crate::report::Method::Dump)
        );
        let r = o(&["--repl-only"]);
        assert_eq!(r.force_method, Some(crate::report::Method::Replication));
        assert!(r.replication.forced);
        let r = o(&[
            "--force-method",
            "replication",
            "--max-replication-lag",
            "0",
            "--stop-replication",
            "-m",
        ]);
        assert!(r.replication.forced && r.replication.stop_replication && r.replication.mangle);
        assert_eq!(r.replication.max_replication_lag, Some(0));
        assert_eq!(
            o(&["--max-replication-lag", "-1"])
                .replication
                .max_replication_lag,
            None
        );
        assert_eq!(
            o(&["--replication-timeout", "30m"])
                .replication
                .replication_timeout,
            std::time::Duration::from_secs(1800)
        );
    }

    #[test]
    fn stop_replication_needs_a_lag_to_wait_for() {
        let a = parse(&["-s", "host=a", "-t", "host=b", "--stop-replication"]);
        let e = MigrateOptions::try_from(&a).unwrap_err();
        assert!(e.to_string().contains("--max-replication-lag"), "{e}");
    }

    #[test]
    fn minus_one_size_means_no_limit() {
        let a = parse(&["-s", "host=a", "-t", "host=b", "--dbs-max-total-size", "-1"]);
        assert_eq!(
            MigrateOptions::try_from(&a).unwrap().dbs_max_total_size,
            None
        );
        let a = parse(&["-s", "host=a", "-t", "host=b", "--dbs-max-total-size", "0"]);
        assert_eq!(
            MigrateOptions::try_from(&a).unwrap().dbs_max_total_size,
            Some(0)
        );
    }

    #[test]
    fn filtered_names_are_kept_verbatim_apart_from_surrounding_blanks() {
        let a = parse(&[
            "-s",
            "host=a",
            "-t",
            "host=b",
            "-f",
            "a'; DROP DATABASE x; --, \"q\"",
        ]);
        let o = MigrateOptions::try_from(&a).unwrap();
        assert_eq!(o.filtered_dbs, vec!["a'; DROP DATABASE x; --", "\"q\""]);
    }
}
