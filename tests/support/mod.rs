//! Throw-away PostgreSQL clusters for the integration tests.
//!
//! Each test binary includes this module with `mod support;` and gets up to four clusters,
//! started lazily on first use and shared by every test of that binary:
//!
//! - [`source()`]: major `PG_SOURCE_VERSION` (default 15);
//! - [`target()`]: major `PG_TARGET_VERSION` (default 15), always a different cluster;
//! - [`tls_cluster()`]: the source major with `ssl = on`, a test CA, and a `pg_hba.conf` that
//!   rejects plain TCP, takes passwords over TLS and authenticates [`CERT_USER`] by certificate
//!   ([`tls_cluster_sha384()`]: the same with SHA-384 certificates, for channel binding).
//!
//! Server binaries are looked up in `PG_SOURCE_BIN` / `PG_TARGET_BIN`, else `PG_BIN`, else
//! `.pg/<major>/bin` (installed by `scripts/install-postgres.sh <major>`), else
//! `/usr/lib/postgresql/<major>/bin`. When the tests run as root the servers run as user
//! `postgres` (through `runuser`), since `initdb` refuses root.
//!
//! Every cluster listens on `127.0.0.1` at a free port (TCP: password auth, SCRAM) and on a Unix
//! socket in its own temporary directory (trust). It is configured for logical replication
//! (`wal_level = logical`, 20 slots and WAL senders) and for speed (`fsync = off`...).
//! Clusters are stopped (`pg_ctl stop -m immediate`) and their directories removed when the test
//! binary exits (a `libc::atexit` hook); clusters left behind by a killed test binary are reaped
//! when the next one starts. `PG_HARNESS_KEEP=1` keeps them (and prints where they are) for
//! debugging.
//!
//! Tests use their own tokio runtime, so nothing here keeps a client across calls: every helper
//! opens a fresh superuser connection over the Unix socket.
#![allow(dead_code)]

pub mod cli;
pub mod fake_server;
pub mod oracle;
pub mod port_cut;
mod server;
mod tls;

use std::path::PathBuf;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use tokio_postgres::{Client, NoTls, SimpleQueryMessage};

/// The bootstrap superuser of every harness cluster.
pub const SUPERUSER: &str = "postgres";
/// Password of [`SUPERUSER`] (needed over TCP; the Unix socket trusts everyone).
pub const SUPERUSER_PASSWORD: &str = "db-migrate-test-superuser-pw";
/// The role of [`tls_cluster()`] that logs in by client certificate (its CN).
pub const CERT_USER: &str = "db_migrate_cert_user";
/// The role of [`tls_cluster()`] whose `pg_hba.conf` line is `password` (cleartext over TLS),
/// for the auth methods that cannot do channel binding; its password is
/// [`SUPERUSER_PASSWORD`].
pub const PASSWORD_METHOD_USER: &str = "db_migrate_password_method_user";

/// One running throw-away cluster.
#[derive(Debug)]
pub struct Cluster {
    /// Major version, from the running server (e.g. 15).
    pub major: u32,
    /// TCP port on 127.0.0.1; also the port number of the Unix socket.
    pub port: u16,
    /// Directory holding the Unix socket `.s.PGSQL.<port>`.
    pub socket_dir: PathBuf,
    /// The data directory (PGDATA); the server log is `socket_dir/postgres.log`.
    pub data_dir: PathBuf,
    /// Directory with `initdb`, `pg_ctl` and `postgres` this cluster was started from.
    pub bin_dir: PathBuf,
    /// Certificates and keys, for [`tls_cluster()`] only.
    pub tls: Option<TlsFiles>,
    version_num: u32,
}

/// PEM files of the TLS test PKI (all keys are PKCS#8 ECDSA P-256).
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// The test CA that signed the server and client certificates.
    pub ca_cert: PathBuf,
    /// Server certificate for DNS `localhost` and IP `127.0.0.1`.
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    /// Client certificate with CN = `client_cn`, signed by `ca_cert`.
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    /// A CA that did NOT sign the server certificate (verification against it must fail).
    pub other_ca_cert: PathBuf,
    /// The CN of the client certificate, a LOGIN role on the cluster ([`CERT_USER`]).
    pub client_cn: String,
}

static SOURCE: OnceLock<Result<Cluster, String>> = OnceLock::new();
static TARGET: OnceLock<Result<Cluster, String>> = OnceLock::new();
static TLS: OnceLock<Result<Cluster, String>> = OnceLock::new();
static TLS_SHA384: OnceLock<Result<Cluster, String>> = OnceLock::new();

/// The source cluster (major `PG_SOURCE_VERSION`, default 15).
pub fn source() -> &'static Cluster {
    server::get(&SOURCE, server::Kind::Source)
}

/// The target cluster (major `PG_TARGET_VERSION`, default 15); never the same as [`source()`].
pub fn target() -> &'static Cluster {
    server::get(&TARGET, server::Kind::Target)
}

/// A cluster of the source major that requires TLS on TCP.
///
/// `pg_hba.conf` (first match wins): Unix socket trust; `hostssl` + [`CERT_USER`] → `cert`;
/// `hostssl` + [`PASSWORD_METHOD_USER`] → `password`; `hostnossl` → `reject`; `hostssl` →
/// `scram-sha-256`. So plain TCP is rejected, TLS
/// connections log in by password, and the certificate user by its client certificate.
pub fn tls_cluster() -> &'static Cluster {
    server::get(&TLS, server::Kind::Tls)
}

/// [`tls_cluster()`] with ECDSA P-384 certificates signed with SHA-384 (the default ones use
/// SHA-256): channel binding hashes the server certificate with its signature's hash, and only
/// a server of another hash shows that we pick the one the server picks.
pub fn tls_cluster_sha384() -> &'static Cluster {
    server::get(&TLS_SHA384, server::Kind::TlsSha384)
}

/// A cluster started on a copy of the stopped data directory `template` with the server
/// binaries in `bin_dir` (stopped and removed at exit like the others). Its superuser is
/// [`SUPERUSER`]; what its `pg_hba.conf` accepts is the template's.
pub fn cluster_from_data_dir(
    template: &std::path::Path,
    bin_dir: &std::path::Path,
) -> Result<Cluster, String> {
    server::start_copy(template, bin_dir)
}

/// The path of test-only server module `name` (tests/fixtures/NAME/) to load with
/// `shared_preload_libraries`, built with pgxs by scripts/test-module.sh when missing, or why it
/// cannot be built here.
pub fn test_module(name: &str) -> Result<std::path::PathBuf, String> {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/test-module.sh");
    let out = std::process::Command::new("bash")
        .arg(&script)
        .arg(name)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    if !out.status.success() {
        return Err(format!(
            "{} {name} failed ({}):\n{}",
            script.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(std::path::PathBuf::from(
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
    ))
}

/// A cluster like [`target()`] (its own, not shared) run by the server binaries in `bin_dir`,
/// with `extra_conf` appended to its postgresql.conf (e.g. a `shared_preload_libraries` line
/// loading a test module by absolute path). Stopped and removed at exit like the others.
pub fn cluster_with_conf(bin_dir: &std::path::Path, extra_conf: &str) -> Result<Cluster, String> {
    server::start_configured(bin_dir, extra_conf)
}

/// A fresh identifier: `prefix` (lowercased, shortened if needed) + process id + counter +
/// random suffix. At most 63 bytes, unique across parallel tests and test binaries.
/// A hot standby of `primary` (streaming replication, read-only), started for the caller.
pub fn standby_of(primary: &Cluster) -> Result<Cluster, String> {
    server::start_standby(primary)
}

pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let suffix = format!("{}_{}_{}", std::process::id(), n, random_token(6));
    let prefix = prefix.to_lowercase();
    let sep = if prefix.is_empty() || prefix.ends_with('_') {
        ""
    } else {
        "_"
    };
    let mut cut = prefix.len().min(63 - suffix.len() - sep.len());
    while !prefix.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}{sep}{suffix}", &prefix[..cut])
}

/// `"name"` with embedded double quotes doubled.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `'text'` with embedded single quotes doubled (standard_conforming_strings is on).
pub fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

impl Cluster {
    /// `postgres://user:password@127.0.0.1:port/db`, each part percent-encoded.
    pub fn uri(&self, user: &str, password: &str, db: &str) -> String {
        let enc = |s: &str| utf8_percent_encode(s, NON_ALPHANUMERIC).to_string();
        format!(
            "postgres://{}:{}@127.0.0.1:{}/{}",
            enc(user),
            enc(password),
            self.port,
            enc(db)
        )
    }

    /// [`Self::uri`] for [`SUPERUSER`].
    pub fn superuser_uri(&self, db: &str) -> String {
        self.uri(SUPERUSER, SUPERUSER_PASSWORD, db)
    }

    /// Key=value conninfo for the Unix socket (trust auth, no password), values quoted:
    /// `host='<socket_dir>' port='<port>' user='..' dbname='..'`.
    pub fn socket_uri(&self, user: &str, db: &str) -> String {
        let q = |s: &str| format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"));
        format!(
            "host={} port={} user={} dbname={}",
            q(&self.socket_dir.to_string_lossy()),
            q(&self.port.to_string()),
            q(user),
            q(db)
        )
    }

    /// A new superuser connection over the Unix socket; its connection task is spawned on the
    /// current runtime. Panics with a clear message on failure.
    pub async fn connect(&self, db: &str) -> Client {
        match self.try_connect(db).await {
            Ok(client) => client,
            Err(e) => panic!(
                "cannot connect to test cluster (PostgreSQL {}, socket {}, port {}) database {db:?} as {SUPERUSER}: {}",
                self.major,
                self.socket_dir.display(),
                self.port,
                pg_error(&e)
            ),
        }
    }

    /// [`Self::connect`] for a database that may not exist yet.
    pub async fn try_connect(&self, db: &str) -> Result<Client, tokio_postgres::Error> {
        let mut config = tokio_postgres::Config::new();
        config
            .host_path(&self.socket_dir)
            .port(self.port)
            .user(SUPERUSER)
            .dbname(db)
            .application_name("db-migrate-test-harness");
        let (client, connection) = config.connect(NoTls).await?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(client)
    }

    /// Runs `sql` (may hold several statements) as superuser in `db`; panics with the SQL and
    /// the error.
    pub async fn execute(&self, db: &str, sql: &str) {
        let client = self.connect(db).await;
        if let Err(e) = client.batch_execute(sql).await {
            panic!(
                "SQL failed on test cluster port {} database {db:?}: {}\n--- SQL ---\n{sql}",
                self.port,
                pg_error(&e)
            );
        }
    }

    /// Rows of the (last) result of `sql` in text form (`None` for NULL), for assertions.
    pub async fn query_strings(&self, db: &str, sql: &str) -> Vec<Vec<Option<String>>> {
        let client = self.connect(db).await;
        let messages = client.simple_query(sql).await.unwrap_or_else(|e| {
            panic!(
                "query failed on test cluster port {} database {db:?}: {}\n--- SQL ---\n{sql}",
                self.port,
                pg_error(&e)
            )
        });
        let mut rows = Vec::new();
        for message in messages {
            match message {
                SimpleQueryMessage::Row(row) => rows.push(
                    (0..row.len())
                        .map(|i| row.get(i).map(str::to_owned))
                        .collect(),
                ),
                // A later statement's result replaces the earlier ones.
                SimpleQueryMessage::RowDescription(_) => rows.clear(),
                _ => {}
            }
        }
        rows
    }

    /// Creates a database with a unique name built from `prefix` and returns the name.
    pub async fn create_database(&self, prefix: &str) -> String {
        let name = unique_name(prefix);
        self.execute(
            "postgres",
            &format!("CREATE DATABASE {}", quote_ident(&name)),
        )
        .await;
        name
    }

    /// Creates a LOGIN SUPERUSER role with a random password: `(name, password)`.
    pub async fn create_superuser(&self, prefix: &str) -> (String, String) {
        self.create_role(prefix, "LOGIN SUPERUSER").await
    }

    /// A "managed-service admin" like cloud providers hand out: LOGIN CREATEDB CREATEROLE
    /// (+ REPLICATION if asked), not superuser. Returns `(name, password)`.
    pub async fn create_admin(&self, prefix: &str, replication: bool) -> (String, String) {
        let attributes = if replication {
            "LOGIN CREATEDB CREATEROLE REPLICATION"
        } else {
            "LOGIN CREATEDB CREATEROLE"
        };
        self.create_role(prefix, attributes).await
    }

    async fn create_role(&self, prefix: &str, attributes: &str) -> (String, String) {
        let name = unique_name(prefix);
        let password = format!("pw_{}", random_token(20));
        self.execute(
            "postgres",
            &format!(
                "CREATE ROLE {} {attributes} PASSWORD {}",
                quote_ident(&name),
                quote_literal(&password)
            ),
        )
        .await;
        (name, password)
    }

    /// Restarts the server (`pg_ctl stop -m fast`, then start on the same port); panics with
    /// pg_ctl's output on failure. Only for a cluster of the test's own ([`cluster_with_conf`]):
    /// the shared ones serve other tests at the same time.
    pub fn restart(&self) {
        if let Err(e) = server::restart(self) {
            panic!("restarting the test cluster on port {}: {e}", self.port);
        }
    }

    /// `server_version_num` of the running server, e.g. 150018.
    pub fn version_num(&self) -> u32 {
        self.version_num
    }
}

/// Formats a tokio-postgres error with SQLSTATE, message, detail and hint when the server sent
/// them (its `Display` alone often says only "db error").
pub fn pg_error(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => {
            let mut s = format!("{} {}: {}", db.severity(), db.code().code(), db.message());
            if let Some(detail) = db.detail() {
                s.push_str(&format!(" (detail: {detail})"));
            }
            if let Some(hint) = db.hint() {
                s.push_str(&format!(" (hint: {hint})"));
            }
            s
        }
        None => format!("{e} ({e:?})"),
    }
}

/// `len` random lowercase alphanumerics (std's randomly keyed hasher, time and a counter).
fn random_token(len: usize) -> String {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    static CALLS: AtomicU64 = AtomicU64::new(0);
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut out = String::with_capacity(len);
    while out.len() < len {
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_u64(CALLS.fetch_add(1, Ordering::Relaxed));
        hasher.write_u32(std::process::id());
        if let Ok(t) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
            hasher.write_u128(t.as_nanos());
        }
        let mut bits = hasher.finish();
        for _ in 0..8 {
            if out.len() == len {
                break;
            }
            out.push(ALPHABET[(bits % ALPHABET.len() as u64) as usize] as char);
            bits /= ALPHABET.len() as u64;
        }
    }
    out
}

/// Whether both clusters offer every extension of `names`; if not, says which is missing where.
pub async fn offered(test: &str, names: &[&str]) -> bool {
    for (side, c) in [("source", source()), ("target", target())] {
        for name in names {
            let rows = c
                .query_strings(
                    "postgres",
                    &format!(
                        "SELECT 1 FROM pg_available_extensions WHERE name = {}",
                        quote_literal(name)
                    ),
                )
                .await;
            if rows.is_empty() {
                eprintln!(
                    "SKIPPED {test}: the {side} (PostgreSQL {}) does not offer extension {name} \
                     (Debian's postgresql-15-* packages provide it for 15, \
                     scripts/postgis-build.sh PostGIS for 16 to 18)",
                    c.major
                );
                return false;
            }
        }
    }
    true
}
