//! The flags of `pg_migrate` as clap parses them: raw values, checked one by one (ranges, units),
//! not yet against each other (that is [`super::options`]). The flag names are those of the
//! Python aiven-db-migrate, so existing scripts keep working.

use std::path::PathBuf;

use clap::Parser;

/// The help headings of the flags, in the order `--help` and docs/reference/flags.md show them.
pub mod heading {
    pub const CONNECTIONS: &str = "Connections";
    pub const SELECTION: &str = "Selection";
    pub const SCHEMA: &str = "Schema, roles and privileges";
    pub const PREFLIGHT: &str = "Preflight";
    pub const METHOD: &str = "Method and replication";
    pub const CUTOVER: &str = "Cut-over";
    pub const DATA: &str = "Data copy";
    pub const VERIFICATION: &str = "Verification";
    pub const RECOVERY: &str = "Recovery";
    pub const STATUS: &str = "Watching a run";
    pub const OUTPUT: &str = "Output and logging";
    pub const COMPATIBILITY: &str = "Compatibility";
    /// Every heading, in order.
    pub const ALL: [&str; 12] = [
        CONNECTIONS,
        SELECTION,
        SCHEMA,
        PREFLIGHT,
        METHOD,
        CUTOVER,
        DATA,
        VERIFICATION,
        RECOVERY,
        STATUS,
        OUTPUT,
        COMPATIBILITY,
    ];
}

use heading as h;

/// Migrate a PostgreSQL installation (roles, databases) from one server to another.
#[derive(Debug, Parser)]
#[command(name = "pg_migrate", version, about, long_about = None)]
pub struct PgArgs {
    /// Source server: a postgres:// URI or a libpq key=value string.
    ///
    /// libpq's environment variables (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE,
    /// PGSSLMODE, ...), connection service files and ~/.pgpass fill what it leaves unset. An
    /// explicit flag wins over SOURCE_SERVICE_URI.
    #[arg(
        short = 's',
        long = "source",
        env = "SOURCE_SERVICE_URI",
        hide_env_values = true,
        help_heading = h::CONNECTIONS
    )]
    pub source: Option<String>,
    /// Target server: a postgres:// URI or a libpq key=value string.
    ///
    /// The same fallbacks as --source; an explicit flag wins over TARGET_SERVICE_URI.
    #[arg(
        short = 't',
        long = "target",
        env = "TARGET_SERVICE_URI",
        hide_env_values = true,
        help_heading = h::CONNECTIONS
    )]
    pub target: Option<String>,

    /// Comma-separated source databases to leave out.
    #[arg(short = 'f', long = "filtered-db", help_heading = h::SELECTION)]
    pub filtered_db: Option<String>,
    /// Comma-separated source databases to migrate; the others are left out.
    #[arg(long = "only-db", help_heading = h::SELECTION)]
    pub only_db: Option<String>,
    /// Comma-separated roles to leave out (also -xr).
    #[arg(long = "excluded-roles", help_heading = h::SELECTION)]
    pub excluded_roles: Option<String>,
    /// Comma-separated extensions to skip in the checks (also -xe).
    ///
    /// They are neither checked nor created; the objects that depend on them are skipped with
    /// warnings.
    #[arg(long = "excluded-extensions", help_heading = h::SELECTION)]
    pub excluded_extensions: Option<String>,
    /// Migrate only these tables, views, materialized views, sequences and foreign tables, as
    /// pg_dump -t (repeatable, comma-separated): TABLE, SCHEMA.TABLE or DB.SCHEMA.TABLE, pg_dump
    /// patterns (* and ?; double quotes for capitals, dots, commas).
    ///
    /// Cannot be combined with --skip-table.
    #[arg(
        long = "with-table",
        value_name = "NAME",
        conflicts_with = "skip_table",
        help_heading = h::SELECTION
    )]
    pub with_table: Vec<String>,
    /// Migrate every table, view, materialized view, sequence and foreign table but these, as
    /// pg_dump -T (repeatable, comma-separated; forms as --with-table).
    #[arg(long = "skip-table", value_name = "NAME", help_heading = h::SELECTION)]
    pub skip_table: Vec<String>,
    /// Migrate only the objects of these schemas (repeatable, comma-separated; SCHEMA or
    /// DB.SCHEMA patterns).
    #[arg(long = "schema", value_name = "NAME", help_heading = h::SELECTION)]
    pub schema: Vec<String>,
    /// Leave out the objects of these schemas (repeatable, comma-separated).
    #[arg(long = "exclude-schema", value_name = "NAME", help_heading = h::SELECTION)]
    pub exclude_schema: Vec<String>,
    /// Create these tables but copy none of their rows, and these materialized views without
    /// refreshing them, as pg_dump --exclude-table-data (repeatable, comma-separated).
    #[arg(long = "exclude-table-data", value_name = "NAME", help_heading = h::SELECTION)]
    pub exclude_table_data: Vec<String>,
    /// Also migrate the databases and roles of the managed service (rdsadmin, cloudsqladmin,
    /// azure_maintenance, _aiven...), which are left out by default.
    #[arg(long = "include-provider-objects", help_heading = h::SELECTION)]
    pub include_provider_objects: bool,

    /// Do not create databases in the target; every source database must already exist there.
    #[arg(long = "no-createdb", help_heading = h::SCHEMA)]
    pub no_createdb: bool,
    /// Migrate the schema only (no data).
    ///
    /// No replication checks are run; refused with --repl-only.
    #[arg(long = "schema-only", help_heading = h::SCHEMA)]
    pub schema_only: bool,
    /// Write the generated SQL of every database to migrate to FILE ("-" for stdout) for review;
    /// nothing is written to the target.
    #[arg(long = "print-ddl", value_name = "FILE", help_heading = h::SCHEMA)]
    pub print_ddl: Option<String>,
    /// Leave objects owned by the migration user instead of their source owners.
    #[arg(long = "no-owner", help_heading = h::SCHEMA)]
    pub no_owner: bool,
    /// Do not copy privileges (GRANT/REVOKE).
    #[arg(long = "no-acl", help_heading = h::SCHEMA)]
    pub no_acl: bool,
    /// Do not copy the source's publications (db-migrate's own never are).
    #[arg(long = "no-publications", help_heading = h::SCHEMA)]
    pub no_publications: bool,
    /// Do not copy the source's subscriptions (db-migrate's own never are).
    ///
    /// Copied ones are created disabled, without a replication slot (connect = false).
    #[arg(long = "no-subscriptions", help_heading = h::SCHEMA)]
    pub no_subscriptions: bool,
    /// JSON file of real role passwords: {"role": "password", ...}.
    ///
    /// Without it, roles that can log in get a placeholder password. The passwords become
    /// SCRAM-SHA-256 verifiers locally; the file may be a pipe, read up to 16 MiB.
    #[arg(long = "role-passwords", value_name = "FILE", help_heading = h::SCHEMA)]
    pub role_passwords: Option<PathBuf>,

    /// Only run the preflight checks and report them.
    #[arg(long = "validate", help_heading = h::PREFLIGHT)]
    pub validate: bool,
    /// Fail when the summed size of the source databases to migrate exceeds BYTES (-1: no
    /// limit).
    #[arg(
        long = "dbs-max-total-size",
        value_name = "BYTES",
        allow_negative_numbers = true,
        value_parser = parse_bytes_or_minus_one,
        help_heading = h::PREFLIGHT
    )]
    pub dbs_max_total_size: Option<i64>,
    /// Allow a target whose major version is older than the source's.
    #[arg(long = "skip-db-version-check", help_heading = h::PREFLIGHT)]
    pub skip_db_version_check: bool,

    /// Do not rehearse the schema before writing (by default preflight creates each
    /// database's whole schema on the target in a transaction it rolls back, and reports every
    /// statement the target refuses).
    #[arg(long = "no-rehearsal", help_heading = h::PREFLIGHT)]
    pub no_rehearsal: bool,
    /// Skip an object the target refuses (and the objects depending on it) instead of failing
    /// its database: everything else is created and copied, the database ends failed listing
    /// them (objects_failed), and --resume creates them once the cause is fixed.
    #[arg(long = "keep-going", help_heading = h::PREFLIGHT)]
    pub keep_going: bool,

    /// Use this method only, never fall back (default: replication, falling back to dump when
    /// it is not possible).
    #[arg(
        long = "force-method",
        value_enum,
        conflicts_with_all = ["dump_only", "repl_only"],
        help_heading = h::METHOD
    )]
    pub force_method: Option<MethodArg>,
    /// Same as --force-method dump.
    #[arg(long = "dump-only", conflicts_with = "repl_only", help_heading = h::METHOD)]
    pub dump_only: bool,
    /// Same as --force-method replication.
    #[arg(long = "repl-only", help_heading = h::METHOD)]
    pub repl_only: bool,
    /// Name replication objects after the md5 of the database name.
    #[arg(short = 'm', long = "mangle", help_heading = h::METHOD)]
    pub mangle: bool,
    /// How the target server reaches the source for the subscription, when it differs from
    /// --source (a URI or key=value string).
    ///
    /// Also a way to keep the source password out of the target's pg_subscription: a conninfo
    /// without one, authenticated by a passfile or a client certificate on the target server.
    #[arg(
        long = "subscription-conninfo",
        value_name = "CONNINFO",
        help_heading = h::METHOD
    )]
    pub subscription_conninfo: Option<String>,
    /// Set REPLICA IDENTITY FULL on the source's tables that have no primary key or replica
    /// identity, so that their database can use replication; put back at the cut-over
    /// (--stop-replication) or by --cleanup. Needs ownership of those tables.
    #[arg(
        long = "replica-identity-full",
        conflicts_with_all = ["dump_only", "schema_only"],
        help_heading = h::METHOD
    )]
    pub replica_identity_full: bool,

    /// Wait until replication lag is at most BYTES (-1: do not wait).
    ///
    /// The wait also needs every table ready (copied by the subscription). 0 with
    /// --stop-replication is the cut-over.
    #[arg(
        long = "max-replication-lag",
        value_name = "BYTES",
        allow_negative_numbers = true,
        value_parser = parse_bytes_or_minus_one,
        help_heading = h::CUTOVER
    )]
    pub max_replication_lag: Option<i64>,
    /// Upper bound for every replication wait (e.g. 600, 30m, 2h; default 1h).
    #[arg(
        long = "replication-timeout",
        value_name = "DURATION",
        value_parser = parse_duration,
        help_heading = h::CUTOVER
    )]
    pub replication_timeout: Option<std::time::Duration>,
    /// After the wait, sync sequences and drop subscription, publication and slot
    /// (requires --max-replication-lag).
    #[arg(long = "stop-replication", help_heading = h::CUTOVER)]
    pub stop_replication: bool,
    /// Keep replicating for DURATION (e.g. 10m, 2h) before the lag counts as in sync, applying
    /// the source's schema changes on the target as they are seen; then end, or cut over with
    /// --stop-replication or --cutover (requires --max-replication-lag or --cutover).
    #[arg(long = "follow", value_name = "DURATION", value_parser = parse_duration, help_heading = h::CUTOVER)]
    pub follow: Option<std::time::Duration>,
    /// How often a run that waits on its replication compares the source's schema with the
    /// one at set-up and applies what changed on the target (default 5s).
    #[arg(long = "schema-check-interval", value_name = "DURATION", value_parser = parse_duration, help_heading = h::CUTOVER)]
    pub schema_check_interval: Option<std::time::Duration>,
    /// The fenced cut-over: once every table is ready and the lag is at most
    /// --cutover-max-lag, fence the source's writes (new sessions read-only, the application
    /// roles' sessions ended), wait until the target confirmed the source's WAL position after
    /// the fence, sync sequences, verify (--verify), drop the replication objects. The source
    /// stays fenced; --unfence lifts it.
    #[arg(
        long = "cutover",
        conflicts_with_all = ["stop_replication", "dump_only", "schema_only"],
        help_heading = h::CUTOVER
    )]
    pub cutover: bool,
    /// With --cutover or --fail-back: the fence is not applied while the lag is above SIZE
    /// (default 16MB).
    #[arg(long = "cutover-max-lag", value_name = "SIZE", value_parser = parse_size, help_heading = h::CUTOVER)]
    pub cutover_max_lag: Option<u64>,
    /// With --cutover or --fail-back: abort (lift the fence as it was, keep replicating, exit
    /// 1) when the switch is not reached within DURATION after the fence (e.g. 500ms, 30s, 2m).
    #[arg(long = "max-downtime", value_name = "DURATION", value_parser = parse_duration, help_heading = h::CUTOVER)]
    pub max_downtime: Option<std::time::Duration>,
    /// With --cutover or --fail-back: comma-separated roles whose sessions the fence ends
    /// (default: the roles that own or may write the migrated tables, and those with their
    /// privileges).
    #[arg(long = "fence-roles", value_name = "ROLES", help_heading = h::CUTOVER)]
    pub fence_roles: Option<String>,
    /// With --cutover: end with reverse replication from the target to the source (publication
    /// and slot on the target, subscription on the source, from the barrier on), so the old
    /// server receives every write made on the new one; --cleanup removes it.
    #[arg(long = "fail-back-ready", requires = "cutover", help_heading = h::CUTOVER)]
    pub fail_back_ready: bool,
    /// Only switch back to the source a database whose --fail-back-ready replication runs: the
    /// fenced cut-over in the reverse direction (the target fenced, sequences and the reverse
    /// objects as in --cutover), then the source's fence lifted; takes -s, -t, --only-db, -f,
    /// --json, --verify and the --cutover knobs.
    #[arg(
        long = "fail-back",
        conflicts_with_all = ["cutover", "unfence", "cleanup", "validate", "verify_only", "resume", "clean", "print_ddl"],
        help_heading = h::CUTOVER
    )]
    pub fail_back: bool,
    /// Only lift the fences an earlier --cutover (on the source) or --fail-back (on the
    /// target) left (the databases' setting and comment as they were before it); takes -s, -t,
    /// --only-db, -f and --json.
    #[arg(
        long = "unfence",
        conflicts_with_all = ["cutover", "cleanup", "validate", "verify_only", "resume", "clean", "print_ddl"],
        help_heading = h::CUTOVER
    )]
    pub unfence: bool,
    /// Only remove the replication objects an earlier run left, on both sides.
    #[arg(long = "cleanup", help_heading = h::CUTOVER)]
    pub cleanup: bool,

    /// Parallel copy workers, each with one source and one target session (default: CPU
    /// cores, at least 2).
    ///
    /// From 1 to 1024; lowered, with a warning, to what the free connection slots of both
    /// servers allow.
    #[arg(
        long = "jobs",
        short = 'j',
        value_name = "N",
        allow_negative_numbers = true,
        value_parser = parse_sessions,
        help_heading = h::DATA
    )]
    pub jobs: Option<usize>,
    /// Target sessions creating schema objects concurrently (default: twice --jobs, at most
    /// 16; DDL waits on the disk much of the time).
    ///
    /// Fewer, with a warning, when the target refuses more connections.
    #[arg(
        long = "schema-jobs",
        value_name = "N",
        allow_negative_numbers = true,
        value_parser = parse_sessions,
        help_heading = h::DATA
    )]
    pub schema_jobs: Option<usize>,
    /// Databases migrated at once (default 4), sharing --jobs and --schema-jobs: one
    /// database's schema is created while another's tables copy.
    ///
    /// Lowered to what the servers' free connection slots hold (each database in flight keeps
    /// three sessions of its own on each side). The report stays in the source's order.
    #[arg(
        long = "db-jobs",
        value_name = "N",
        allow_negative_numbers = true,
        value_parser = parse_sessions,
        help_heading = h::DATA
    )]
    pub db_jobs: Option<usize>,
    /// COPY format: binary where every column type allows it (auto), or force one.
    #[arg(
        long = "copy-format",
        value_enum,
        default_value = "auto",
        help_heading = h::DATA
    )]
    pub copy_format: CopyFormatArg,
    /// Copy tables larger than SIZE in parallel parts (e.g. 512MB, 2GB; 0 disables; default
    /// 1GB).
    #[arg(
        long = "split-tables-larger-than",
        value_name = "SIZE",
        allow_negative_numbers = true,
        value_parser = parse_size,
        help_heading = h::DATA
    )]
    pub split_tables_larger_than: Option<u64>,
    /// Where the loaded tables' planner statistics come from: the source's, restored on a
    /// PostgreSQL 18+ target (restore, the default; analyze on older targets), ANALYZE on the
    /// target, or none.
    #[arg(
        long = "statistics",
        value_enum,
        value_name = "MODE",
        help_heading = h::DATA
    )]
    pub statistics: Option<StatisticsArg>,
    /// Do not ANALYZE the loaded tables (the same as --statistics none).
    #[arg(long = "no-analyze", conflicts_with = "statistics", help_heading = h::DATA)]
    pub no_analyze: bool,
    /// Do not copy the rows of extension configuration tables.
    #[arg(long = "no-replicate-extension-tables", help_heading = h::DATA)]
    pub no_replicate_extension_tables: bool,

    /// After each database's data is in, compare the target with the source (the dump method
    /// compares with the source as of the copy's snapshot); any difference gives exit code 1.
    #[arg(long = "verify", help_heading = h::VERIFICATION)]
    pub verify: bool,
    /// Only compare the source and target databases now, writing nothing on either side; any
    /// difference gives exit code 1.
    ///
    /// Also after a migration made by another tool.
    #[arg(
        long = "verify-only",
        conflicts_with_all = ["validate", "schema_only", "cleanup", "print_ddl", "verify"],
        help_heading = h::VERIFICATION
    )]
    pub verify_only: bool,
    /// Differing keys listed per table at most (default 10).
    #[arg(
        long = "verify-max-rows",
        value_name = "N",
        allow_negative_numbers = true,
        value_parser = parse_count::<usize>,
        help_heading = h::VERIFICATION
    )]
    pub verify_max_rows: Option<usize>,
    /// With --verify or --verify-only: also compare the planner statistics (pg_stats) of the
    /// compared tables, listing the columns whose statistics differ (they do not make the
    /// database differ).
    #[arg(long = "verify-statistics", help_heading = h::VERIFICATION)]
    pub verify_statistics: bool,

    /// Continue an interrupted or failed migration: databases done are skipped, committed
    /// table parts kept, the rest copied in a new snapshot.
    #[arg(
        long = "resume",
        conflicts_with_all = ["clean", "cleanup", "verify_only"],
        help_heading = h::RECOVERY
    )]
    pub resume: bool,
    /// Remove what an unfinished earlier run wrote to a target database (the database if it
    /// created it, else exactly the objects its ledger lists), then migrate it again. A
    /// finished migration (its record) is refused: the database may have been written to since.
    #[arg(long = "clean", conflicts_with = "cleanup", help_heading = h::RECOVERY)]
    pub clean: bool,
    /// Retries of a copy task that failed with a transient error (lost connection, server
    /// restart, 57P01, 40001, 40P01, 53300...), on new sessions, waiting 1 s, 2 s, 4 s... (at
    /// most 30 s) in between; 0 disables retries.
    #[arg(
        long = "copy-retries",
        value_name = "N",
        allow_negative_numbers = true,
        value_parser = parse_count::<u32>,
        default_value_t = crate::copy::retry::DEFAULT_RETRIES,
        help_heading = h::RECOVERY
    )]
    pub copy_retries: u32,
    /// Cancel a table part (or large-object batch) that moved no byte for this long, on both
    /// sides, and retry it on new sessions like a lost connection (--copy-retries); then fail
    /// naming the stall (e.g. 90, 10m; default 5m; 0 or off: never).
    #[arg(
        long = "stall-timeout",
        value_name = "DURATION",
        value_parser = parse_duration_or_off,
        help_heading = h::RECOVERY
    )]
    pub stall_timeout: Option<std::time::Duration>,

    /// Only show what the migrations recorded on the target are doing, writing nothing (the
    /// same as `db-migrate status`: takes -s, -t, --only-db, -f, --json and --watch only).
    #[arg(long = "status", help_heading = h::STATUS)]
    pub status: bool,
    /// With --status: read again every SECONDS until interrupted.
    #[arg(
        long = "watch",
        value_name = "SECONDS",
        requires = "status",
        value_parser = parse_watch,
        help_heading = h::STATUS
    )]
    pub watch: Option<u64>,

    /// Write the result as JSON to FILE ("-" for stdout).
    #[arg(long = "json", value_name = "FILE", help_heading = h::OUTPUT)]
    pub json: Option<String>,
    /// How the result is printed: a table (default), or the line format of aiven-db-migrate
    /// (legacy: "Roles:"/"Databases:" lines on stdout, its failure line on stderr).
    #[arg(
        long = "output-format",
        value_enum,
        default_value = "table",
        help_heading = h::OUTPUT
    )]
    pub output_format: OutputFormatArg,
    /// Serve Prometheus metrics on ADDR while the run lasts (a port alone: 127.0.0.1:PORT).
    #[arg(long = "metrics-listen", value_name = "ADDR", help_heading = h::OUTPUT)]
    pub metrics_listen: Option<String>,
    /// Show the generated placeholder passwords in the report.
    #[arg(long = "show-passwords", help_heading = h::OUTPUT)]
    pub show_passwords: bool,
    /// Tag for every log line (default: 4 random characters).
    #[arg(long = "migration-id", help_heading = h::OUTPUT)]
    pub migration_id: Option<String>,
    /// More detail in the log (repeat for more).
    #[arg(
        short = 'v',
        long = "verbose",
        action = clap::ArgAction::Count,
        help_heading = h::OUTPUT
    )]
    pub verbose: u8,
    /// Debug logging.
    #[arg(short = 'd', long = "debug", help_heading = h::OUTPUT)]
    pub debug: bool,
    /// Log lines as text (coloured only on a terminal without NO_COLOR) or one JSON object per
    /// line (for log collectors).
    ///
    /// A JSON line holds timestamp, level, message, migration_id and the event's fields, such
    /// as database.
    #[arg(
        long = "log-format",
        value_enum,
        default_value = "text",
        help_heading = h::OUTPUT
    )]
    pub log_format: super::logging::LogFormat,

    /// Accepted for compatibility and ignored: db-migrate runs no pg_dump or pg_restore.
    #[arg(long = "pgbin", value_name = "DIR", help_heading = h::COMPATIBILITY)]
    pub pgbin: Option<PathBuf>,
    /// Accepted for compatibility and ignored: extension configuration tables are copied by
    /// default (see --no-replicate-extension-tables).
    #[arg(
        long = "replicate-extension-tables",
        conflicts_with = "no_replicate_extension_tables",
        help_heading = h::COMPATIBILITY
    )]
    pub replicate_extension_tables: bool,
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

/// Parses durations: plain seconds, or a number with ms, s, m or h.
pub fn parse_duration(s: &str) -> std::result::Result<std::time::Duration, String> {
    let t = s.trim();
    if let Some(ms) = t.strip_suffix("ms") {
        return ms
            .trim()
            .parse::<u64>()
            .map(std::time::Duration::from_millis)
            .map_err(|_| {
                format!("invalid duration {s:?}: use seconds, or a number with ms, s, m or h")
            });
    }
    let (num, mult) = match t.chars().last() {
        Some('s') => (&t[..t.len() - 1], 1),
        Some('m') => (&t[..t.len() - 1], 60),
        Some('h') => (&t[..t.len() - 1], 3600),
        _ => (t, 1),
    };
    let n: u64 = num.trim().parse().map_err(|_| {
        format!("invalid duration {s:?}: use seconds, or a number with ms, s, m or h")
    })?;
    Ok(std::time::Duration::from_secs(n * mult))
}

/// `--stall-timeout`: a duration as [`parse_duration`] takes it, or `off` (the same as 0).
pub fn parse_duration_or_off(s: &str) -> std::result::Result<std::time::Duration, String> {
    if s.trim().eq_ignore_ascii_case("off") {
        return Ok(std::time::Duration::ZERO);
    }
    parse_duration(s).map_err(|e| format!("{e}, or off"))
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

/// `--verify-max-rows`, `--copy-retries`: a whole number from 0 to the type's largest. Negative
/// numbers reach this parser (rather than clap's "unexpected argument") so that the error says
/// which values are allowed.
pub fn parse_count<T>(s: &str) -> std::result::Result<T, String>
where
    T: std::str::FromStr + std::fmt::Display + num_bounded::Max,
{
    s.trim()
        .parse::<T>()
        .map_err(|_| format!("expected a whole number from 0 to {}", T::MAX))
}

/// The largest value of the counters [`parse_count`] reads, for its message.
pub mod num_bounded {
    pub trait Max {
        const MAX: Self;
    }
    impl Max for u32 {
        const MAX: u32 = u32::MAX;
    }
    impl Max for usize {
        const MAX: usize = usize::MAX;
    }
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

/// `--statistics` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StatisticsArg {
    Restore,
    Analyze,
    None,
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
        format!("invalid size {s:?}: expected 0 or more, with an optional unit (kB, MB, GB, TB)")
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

/// `db-migrate status` (and `pg_migrate --status`): what the migrations recorded on a target
/// are doing, read without writing anything.
#[derive(Debug, Parser)]
#[command(
    name = "db-migrate status",
    version,
    about = "Show the migrations recorded on a target: stage, parts copied, rate, replication \
             lag, whether the run is alive and what --resume would do. Writes nothing.",
    long_about = None
)]
pub struct StatusArgs {
    /// Source server (optional): with it, the replication lag of the subscriptions' slots is
    /// read there.
    #[arg(
        short = 's',
        long = "source",
        env = "SOURCE_SERVICE_URI",
        hide_env_values = true,
        help_heading = h::CONNECTIONS
    )]
    pub source: Option<String>,
    /// Target server: a postgres:// URI or a libpq key=value string.
    #[arg(
        short = 't',
        long = "target",
        env = "TARGET_SERVICE_URI",
        hide_env_values = true,
        help_heading = h::CONNECTIONS
    )]
    pub target: Option<String>,
    /// Comma-separated target databases to leave out.
    #[arg(short = 'f', long = "filtered-db", help_heading = h::SELECTION)]
    pub filtered_db: Option<String>,
    /// Comma-separated target databases to look at; the others are left out.
    #[arg(long = "only-db", help_heading = h::SELECTION)]
    pub only_db: Option<String>,
    /// Also write the status as JSON to FILE, replaced at every reading ("-": only the JSON,
    /// on stdout).
    #[arg(long = "json", value_name = "FILE", help_heading = h::OUTPUT)]
    pub json: Option<String>,
    /// Read again every SECONDS until interrupted (JSON to stdout: one document per line).
    #[arg(
        long = "watch",
        value_name = "SECONDS",
        value_parser = parse_watch,
        help_heading = h::STATUS
    )]
    pub watch: Option<u64>,
}

/// `--watch`: whole seconds from 1 to a day.
pub fn parse_watch(s: &str) -> std::result::Result<u64, String> {
    s.trim()
        .parse::<u64>()
        .ok()
        .filter(|n| (1..=86_400).contains(n))
        .ok_or_else(|| "expected whole seconds from 1 to 86400".to_owned())
}
