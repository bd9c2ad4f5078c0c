//! Options of a migration, as the library understands them. The CLI (`src/cli/options.rs` of the root package) turns flags
//! into these; library users build them directly.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use crate::conn::ConnInfo;
use crate::error::{Error, ErrorKind, Result};
use crate::remedy::Setting;

/// Real passwords for roles, from `--role-passwords FILE`.
///
/// The file is a JSON object mapping role names to passwords:
///
/// ```json
/// { "alice": "correct horse battery staple", "app user": "s3cret" }
/// ```
///
/// Role names are matched exactly (case-sensitive, as in `pg_roles.rolname`). Passwords are sent
/// to the target as SCRAM-SHA-256 verifiers computed locally, so the plain text never reaches the
/// server, its logs or ours. Neither `Debug` nor any error shows the contents.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct RolePasswords(BTreeMap<String, String>);

impl RolePasswords {
    pub fn new(map: BTreeMap<String, String>) -> Self {
        RolePasswords(map)
    }

    /// Reads the JSON file described above.
    pub fn from_file(path: &Path) -> Result<Self> {
        let cannot = |e: &dyn fmt::Display| {
            Error::new(
                ErrorKind::Config,
                format!(
                    "cannot read {} file \"{}\": {e}",
                    Setting::RolePasswords,
                    path.display()
                ),
            )
        };
        let bytes = crate::input::read_bounded(path, crate::input::MAX_INPUT_BYTES)
            .map_err(|e| cannot(&e))?;
        let text = String::from_utf8(bytes).map_err(|_| cannot(&"it is not UTF-8 text"))?;
        Self::from_json(&text).map_err(|e| {
            e.context(format!(
                "{} file \"{}\"",
                Setting::RolePasswords,
                path.display()
            ))
        })
    }

    /// Parses the JSON object. Errors give the position but never the contents.
    pub fn from_json(text: &str) -> Result<Self> {
        let map: BTreeMap<String, String> = serde_json::from_str(text).map_err(|e| {
            Error::config(format!(
                "expected a JSON object of role name to password strings (line {}, column {})",
                e.line(),
                e.column()
            ))
        })?;
        // A NUL cannot travel in the protocol's C strings: libpq clients stop at it, so the role
        // would get a password nobody can type. Refused, naming the role (never the password).
        if let Some((role, _)) = map.iter().find(|(_, pw)| pw.contains('\0')) {
            return Err(Error::config(format!(
                "the password of role \"{}\" contains a NUL character, which no PostgreSQL \
                 client can send",
                crate::text::escape_controls(role)
            )));
        }
        if let Some(role) = map.keys().find(|r| r.is_empty() || r.contains('\0')) {
            return Err(Error::config(format!(
                "invalid role name \"{}\": role names are not empty and hold no NUL character",
                crate::text::escape_controls(role)
            )));
        }
        Ok(RolePasswords(map))
    }

    pub fn get(&self, role: &str) -> Option<&str> {
        self.0.get(role).map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for RolePasswords {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RolePasswords({} roles, values hidden)", self.0.len())
    }
}

/// Everything a migration needs to know. `Default` gives the CLI defaults with empty conninfos.
#[derive(Debug, Clone)]
pub struct MigrateOptions {
    pub source: ConnInfo,
    pub target: ConnInfo,
    /// Source databases to leave out (`-f`).
    pub filtered_dbs: Vec<String>,
    /// When not empty, only these source databases are migrated (`--only-db`).
    pub only_dbs: Vec<String>,
    /// Roles to leave out (`-xr`).
    pub excluded_roles: Vec<String>,
    /// Extensions to skip in checks (`-xe`).
    pub excluded_extensions: Vec<String>,
    /// Create missing databases in the target (`--no-createdb` turns this off).
    pub createdb: bool,
    /// Allow a target major older than the source (`--skip-db-version-check`).
    pub skip_db_version_check: bool,
    /// Upper bound for the summed size of the source databases to migrate, in bytes.
    pub dbs_max_total_size: Option<u64>,
    /// Show generated placeholder passwords in the report (`--show-passwords`).
    pub show_passwords: bool,
    /// Real passwords for roles (`--role-passwords`).
    pub role_passwords: RolePasswords,
    /// Tag on every log line and in the result (`--migration-id`).
    pub migration_id: String,
    /// Migrate the schema only, no data (`--schema-only`).
    pub schema_only: bool,
    /// `--no-owner` / `--no-acl`.
    pub schema: crate::schema::SchemaOptions,
    /// Target sessions that create schema objects (`--schema-jobs`); `None`: twice
    /// `copy.jobs` (see [`MigrateOptions::ddl_sessions`]).
    pub schema_jobs: Option<std::num::NonZeroUsize>,
    /// Databases migrated at once (`--db-jobs`); `None`: the default of
    /// `migrate::budget`, lowered to what the servers' free connection slots hold.
    /// They share `--jobs` and `--schema-jobs` (the run's pools, not one per database).
    pub databases_at_once: Option<std::num::NonZeroUsize>,
    /// The data stage: `--jobs`, `--copy-format`, `--split-tables-larger-than`, `--no-analyze`,
    /// `--no-replicate-extension-tables`, progress and cancellation.
    pub copy: crate::copy::CopyOptions,
    /// `--force-method dump|replication` (`--dump-only`, `--repl-only`): never fall back.
    /// `None`: try replication, fall back to dump when it is not possible.
    pub force_method: Option<crate::report::Method>,
    /// The replication method's settings (`--mangle`, `--max-replication-lag`,
    /// `--replication-timeout`, `--stop-replication`, `--subscription-conninfo`,
    /// `--replica-identity-full`).
    pub replication: crate::replication::ReplicationOptions,
    /// What the run does: migrate (the default), only check, print the DDL, clean up, or only
    /// verify. One field, so that no two flags can disagree about it.
    pub mode: RunMode,
    /// `--verify`, `--verify-only`, `--verify-max-rows`.
    pub verify: crate::verify::VerifyOptions,
    /// `--resume`: continue the unfinished migrations the target databases' ledgers record
    /// (see [`crate::ledger`]); databases migrated earlier are skipped.
    pub resume: bool,
    /// `--clean`: first remove what an unfinished earlier run wrote (the database, when the
    /// ledger says this tool created it; else exactly the objects the ledger lists).
    pub clean: bool,
    /// Rehearse each database's schema in preflight (see [`crate::schema::rehearsal`]);
    /// `--no-rehearsal` turns it off.
    pub rehearsal: bool,
    /// `--keep-going`: an object the target refuses (and its dependents) is skipped and listed
    /// (`objects_failed`) instead of failing its database; the rehearsal's findings are then
    /// warnings.
    pub keep_going: bool,
    /// What moves within each database: `--with-table`, `--skip-table`, `--schema`,
    /// `--exclude-schema`, `--exclude-table-data` (see [`crate::selection`]).
    pub selection: crate::selection::Selection,
    /// `--include-provider-objects`: also migrate the managed service's own databases and
    /// roles ([`crate::selection::provider`]), which are left out by default.
    pub include_provider_objects: bool,
    /// The run's cancellation (Ctrl-C, SIGTERM; a library user cancels it to stop the run):
    /// every stage watches it. No new database, table or object starts once it fires, and
    /// running statements are cancelled on both servers.
    pub cancel: tokio_util::sync::CancellationToken,
}

/// What a run does ([`crate::PgMigrate::run`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RunMode {
    /// Preflight, roles, then each database's schema and data (and replication).
    #[default]
    Migrate,
    /// `--validate`: every preflight check, reported together; nothing is written.
    Validate,
    /// `--print-ddl`: the SQL each database's schema would be created with; nothing is
    /// written to the target.
    PrintDdl,
    /// `--cleanup`: only remove the replication objects an earlier run left, on both sides.
    Cleanup,
    /// `--verify-only`: compare the selected databases of both servers now; nothing is written.
    VerifyOnly,
}

/// The most target sessions that create schema objects when `--schema-jobs` is not given.
pub const DEFAULT_DDL_SESSIONS_MAX: usize = 16;

impl MigrateOptions {
    /// How many target sessions create schema objects concurrently (pre-data, and post-data
    /// with `--schema-only`). Why twice the copy workers by default: a DDL statement spends
    /// much of its time waiting on the disk (creating the relation files, fsyncing every new
    /// index), not on a CPU; measured on 5,000 tables and 2 cores, 4 to 6 sessions created the
    /// schema 12 to 15 % faster than 2, and more did not help. At most
    /// [`DEFAULT_DDL_SESSIONS_MAX`] unless asked for: `--jobs` defaults to the client's cores,
    /// and a big client is no reason to hold dozens of connections to a managed target.
    pub fn ddl_sessions(&self) -> usize {
        self.schema_jobs.map_or(
            (self.copy.jobs.get() * 2).min(DEFAULT_DDL_SESSIONS_MAX),
            |n| n.get(),
        )
    }
}

impl Default for MigrateOptions {
    fn default() -> Self {
        MigrateOptions {
            source: ConnInfo::default(),
            target: ConnInfo::default(),
            filtered_dbs: Vec::new(),
            only_dbs: Vec::new(),
            excluded_roles: Vec::new(),
            excluded_extensions: Vec::new(),
            createdb: true,
            skip_db_version_check: false,
            dbs_max_total_size: None,
            show_passwords: false,
            role_passwords: RolePasswords::default(),
            migration_id: random_migration_id(),
            schema_only: false,
            schema: crate::schema::SchemaOptions::default(),
            schema_jobs: None,
            databases_at_once: None,
            copy: crate::copy::CopyOptions::default(),
            force_method: None,
            replication: crate::replication::ReplicationOptions::default(),
            mode: RunMode::Migrate,
            verify: crate::verify::VerifyOptions::default(),
            resume: false,
            clean: false,
            rehearsal: true,
            keep_going: false,
            selection: crate::selection::Selection::default(),
            include_provider_objects: false,
            cancel: tokio_util::sync::CancellationToken::new(),
        }
    }
}

/// Four random characters from `[A-Za-z0-9]`, as the tool we replace uses.
pub fn random_migration_id() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..4)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// The options of a run that change what ends up in the target: a resumed run must use the
/// same ones (or its result would mix two kinds of migration).
pub fn shaping_options(opts: &MigrateOptions) -> String {
    let format = serde_json::to_value(opts.copy.format)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let method = match opts.force_method {
        Some(crate::report::Method::Dump) => "dump",
        Some(crate::report::Method::Replication) => "replication",
        None => "auto",
    };
    format!(
        "schema_only={} no_owner={} no_acl={} method={method} copy_format={format} extension_tables={}",
        opts.schema_only, opts.schema.no_owner, opts.schema.no_acl, opts.copy.extension_tables,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_passwords_parse_and_never_debug_print() {
        let p = RolePasswords::from_json(r#"{"alice": "s3cret", "we\"ird": "x"}"#).unwrap();
        assert_eq!(p.get("alice"), Some("s3cret"));
        assert_eq!(p.get("we\"ird"), Some("x"));
        assert!(!format!("{p:?}").contains("s3cret"));
    }

    #[test]
    fn role_passwords_errors_do_not_echo_contents() {
        let e = RolePasswords::from_json(r#"{"alice": 12345678}"#).unwrap_err();
        assert!(!e.to_string().contains("12345678"), "{e}");
        assert!(e.to_string().contains("line 1"), "{e}");
    }

    #[test]
    fn a_nul_in_a_password_is_refused_naming_the_role_only() {
        let e = RolePasswords::from_json(r#"{"app": "sec\u0000ret"}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("\"app\"") && e.contains("NUL"), "{e}");
        assert!(!e.contains("sec") && !e.contains("ret\""), "{e}");
        assert!(RolePasswords::from_json(r#"{"": "x"}"#).is_err());
    }

    #[test]
    fn migration_ids_are_four_alphanumerics() {
        let id = random_migration_id();
        assert_eq!(id.len(), 4);
        assert!(id.chars().all(|c| c.is_ascii_alphanumeric()));
    }
}
