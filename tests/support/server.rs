//! Starting, stopping and reaping the throw-away clusters (initdb / pg_ctl as child processes).

use std::ffi::CString;
use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Mutex, Once, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use super::{CERT_USER, Cluster, PASSWORD_METHOD_USER, SUPERUSER, SUPERUSER_PASSWORD, quote_ident};

/// Temporary directories of harness clusters are named `<tmp>/db-migrate-pg-XXXXXX`.
const DIR_PREFIX: &str = "db-migrate-pg-";
/// Holds the pid of the test process that owns a cluster directory (for reaping leftovers).
const OWNER_FILE: &str = "owner.pid";
const DEFAULT_MAJOR: u32 = 15;
const START_ATTEMPTS: usize = 5;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    Source,
    Target,
    Tls,
    /// Like [`Kind::Tls`] with ECDSA P-384 / SHA-384 certificates.
    TlsSha384,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Source => "source",
            Kind::Target => "target",
            Kind::Tls => "tls",
            Kind::TlsSha384 => "tls-sha384",
        }
    }

    /// Which PG_<ROLE>_VERSION / PG_<ROLE>_BIN pair selects this cluster's binaries.
    fn env_role(self) -> &'static str {
        match self {
            Kind::Source | Kind::Tls | Kind::TlsSha384 => "SOURCE",
            Kind::Target => "TARGET",
        }
    }
}

/// The cluster in `cell`, started on first use. A failed start is remembered, so every later
/// caller fails fast with the same message instead of trying again.
pub(super) fn get(
    cell: &'static OnceLock<Result<Cluster, String>>,
    kind: Kind,
) -> &'static Cluster {
    let result = cell.get_or_init(|| {
        std::panic::catch_unwind(|| start(kind)).unwrap_or_else(|panic| {
            Err(panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "panic".into()))
        })
    });
    match result {
        Ok(cluster) => cluster,
        Err(message) => panic!(
            "test cluster '{}' could not be started: {message}",
            kind.name()
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// Binaries and the server user

struct Binaries {
    dir: PathBuf,
    major: u32,
}

fn env_nonempty(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn find_binaries(kind: Kind) -> Result<Binaries, String> {
    let role = kind.env_role();
    let version_var = format!("PG_{role}_VERSION");
    let requested = match env_nonempty(&version_var) {
        Some(v) => Some(
            v.trim()
                .parse::<u32>()
                .map_err(|_| format!("{version_var}={v:?} is not a major version number"))?,
        ),
        None => None,
    };
    let major = requested.unwrap_or(DEFAULT_MAJOR);

    let bin_var = format!("PG_{role}_BIN");
    let candidates: Vec<(PathBuf, String)> = if let Some(dir) = env_nonempty(&bin_var) {
        vec![(PathBuf::from(dir), bin_var.clone())]
    } else if let Some(dir) = env_nonempty("PG_BIN") {
        vec![(PathBuf::from(dir), "PG_BIN".into())]
    } else {
        vec![
            (
                Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join(".pg")
                    .join(major.to_string())
                    .join("bin"),
                "installed by scripts/install-postgres.sh".into(),
            ),
            (
                PathBuf::from(format!("/usr/lib/postgresql/{major}/bin")),
                "distribution package".into(),
            ),
        ]
    };

    let mut tried = String::new();
    for (dir, origin) in &candidates {
        let missing: Vec<&str> = ["initdb", "pg_ctl", "postgres"]
            .into_iter()
            .filter(|b| !dir.join(b).is_file())
            .collect();
        if !missing.is_empty() {
            let _ = write!(
                tried,
                "\n  {} ({origin}): missing {}",
                dir.display(),
                missing.join(", ")
            );
            continue;
        }
        let found = binary_major(dir)?;
        if requested.is_some_and(|m| m != found) {
            return Err(format!(
                "{version_var}={major} but {}/postgres ({origin}) is PostgreSQL {found}",
                dir.display()
            ));
        }
        return Ok(Binaries {
            dir: dir.clone(),
            major: found,
        });
    }
    Err(format!(
        "no PostgreSQL {major} server binaries (initdb, pg_ctl, postgres) for the {} cluster; tried:{tried}\n\
         Install them with `scripts/install-postgres.sh {major}` (into .pg/{major}), or point \
         {bin_var} / PG_BIN at a bin directory, or choose another major with {version_var}.",
        kind.name()
    ))
}

/// Major version of `dir/postgres`, which must actually run as the server user.
fn binary_major(dir: &Path) -> Result<u32, String> {
    let postgres = dir.join("postgres");
    let mut cmd = server_command(&postgres)?;
    cmd.arg("--version").current_dir("/");
    let out = run(cmd, "postgres --version")?;
    // "postgres (PostgreSQL) 16.14" / "postgres (PostgreSQL) 15.18 (Debian 15.18-1.pgdg+1)"
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace()
        .find_map(|w| w.split('.').next()?.parse::<u32>().ok())
        .ok_or_else(|| {
            format!(
                "cannot read a version from `{} --version`: {text:?}",
                postgres.display()
            )
        })
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// (uid, gid) of user `postgres` when the tests run as root (servers then run as that user);
/// `None` when not root (servers run as the current user).
fn server_owner() -> Result<Option<(u32, u32)>, String> {
    static OWNER: OnceLock<Result<Option<(u32, u32)>, String>> = OnceLock::new();
    OWNER
        .get_or_init(|| {
            if !is_root() {
                return Ok(None);
            }
            let name = CString::new("postgres").unwrap();
            // SAFETY: getpwnam with a valid C string; the result is read immediately, before any
            // other passwd call could reuse its static buffer (only this OnceLock calls it).
            let pw = unsafe { libc::getpwnam(name.as_ptr()) };
            if pw.is_null() {
                return Err(
                    "the tests run as root, and initdb refuses root, but there is no \
                            'postgres' user to run the servers as (useradd --system postgres)"
                        .into(),
                );
            }
            // SAFETY: pw is non-null and points to a valid passwd record.
            let (uid, gid) = unsafe { ((*pw).pw_uid, (*pw).pw_gid) };
            Ok(Some((uid, gid)))
        })
        .clone()
}

/// A command that runs `program` as the server user.
fn server_command(program: &Path) -> Result<Command, String> {
    Ok(if server_owner()?.is_some() {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", "postgres", "--"]).arg(program);
        cmd
    } else {
        Command::new(program)
    })
}

fn run(mut cmd: Command, what: &str) -> Result<Output, String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {what} ({cmd:?}): {e}"))?;
    if out.status.success() {
        Ok(out)
    } else {
        Err(format!(
            "{what} failed ({}): {cmd:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout).trim_end(),
            String::from_utf8_lossy(&out.stderr).trim_end()
        ))
    }
}

fn chown(path: &Path, owner: Option<(u32, u32)>) -> Result<(), String> {
    match owner {
        Some((uid, gid)) => std::os::unix::fs::chown(path, Some(uid), Some(gid))
            .map_err(|e| format!("cannot chown {}: {e}", path.display())),
        None => Ok(()),
    }
}

fn write_file(
    path: &Path,
    contents: &str,
    mode: u32,
    owner: Option<(u32, u32)>,
) -> Result<(), String> {
    fs::write(path, contents).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .map_err(|e| format!("cannot chmod {}: {e}", path.display()))?;
    chown(path, owner)
}

// ---------------------------------------------------------------------------------------------
// Start

/// What the exit hook needs to stop a cluster and delete its directory.
struct Registered {
    base: PathBuf,
    data: PathBuf,
    bin_dir: PathBuf,
}

static REGISTERED: Mutex<Vec<Registered>> = Mutex::new(Vec::new());

fn start(kind: Kind) -> Result<Cluster, String> {
    prepare_process();
    let bins = find_binaries(kind)?;
    start_with(kind, bins, "")
}

/// A cluster like the [`Kind::Target`] one, run by the server binaries in `bin_dir`, with
/// `extra_conf` (postgresql.conf lines, e.g. `shared_preload_libraries`) appended after the
/// harness's settings.
pub(super) fn start_configured(bin_dir: &Path, extra_conf: &str) -> Result<Cluster, String> {
    prepare_process();
    let major = binary_major(bin_dir)?;
    let bins = Binaries {
        dir: bin_dir.to_path_buf(),
        major,
    };
    start_with(Kind::Target, bins, extra_conf)
}

fn start_with(kind: Kind, bins: Binaries, extra_conf: &str) -> Result<Cluster, String> {
    let owner = server_owner()?;

    let base = tempfile::Builder::new()
        .prefix(DIR_PREFIX)
        .tempdir()
        .map_err(|e| format!("cannot create a temporary directory: {e}"))?
        .keep();
    let data = base.join("data");
    // Register first: from here on the exit hook stops whatever runs and removes the directory.
    REGISTERED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(Registered {
            base: base.clone(),
            data: data.clone(),
            bin_dir: bins.dir.clone(),
        });
    fs::write(base.join(OWNER_FILE), std::process::id().to_string())
        .map_err(|e| format!("cannot write into {}: {e}", base.display()))?;
    // The server user owns the directory: initdb creates data/ in it, the server puts its socket
    // and log there.
    fs::set_permissions(&base, fs::Permissions::from_mode(0o755))
        .map_err(|e| format!("cannot chmod {}: {e}", base.display()))?;
    chown(&base, owner)?;

    initdb(&bins, &base, &data, owner)?;

    let tls = match kind {
        Kind::Tls => Some(&rcgen::PKCS_ECDSA_P256_SHA256),
        Kind::TlsSha384 => Some(&rcgen::PKCS_ECDSA_P384_SHA384),
        Kind::Source | Kind::Target => None,
    }
    .map(|alg| super::tls::generate(&base.join("tls"), CERT_USER, owner, alg))
    .transpose()?;

    let mut conf = format!(
        "\n# --- db-migrate test harness ---\n\
         listen_addresses = '127.0.0.1'\n\
         unix_socket_directories = {}\n\
         wal_level = logical\n\
         max_replication_slots = 20\n\
         max_wal_senders = 20\n\
         max_logical_replication_workers = 10\n\
         max_worker_processes = 24\n\
         max_connections = 200\n\
         fsync = off\n\
         synchronous_commit = off\n\
         full_page_writes = off\n\
         shared_buffers = 128MB\n\
         password_encryption = 'scram-sha-256'\n\
         log_line_prefix = '%m [%p] %q%u@%d '\n",
        conf_string(&base)
    );
    if let Some(tls) = &tls {
        let _ = write!(
            conf,
            "ssl = on\nssl_cert_file = {}\nssl_key_file = {}\nssl_ca_file = {}\n",
            conf_string(&tls.server_cert),
            conf_string(&tls.server_key),
            conf_string(&tls.ca_cert)
        );
        let hba = format!(
            "# db-migrate test harness: TLS required on TCP (first match wins)\n\
             local   all          all                       trust\n\
             local   replication  all                       trust\n\
             hostssl all          {CERT_USER} 127.0.0.1/32 cert\n\
             hostssl replication  {CERT_USER} 127.0.0.1/32 cert\n\
             hostssl all          {PASSWORD_METHOD_USER} 127.0.0.1/32 password\n\
             hostnossl all        all  127.0.0.1/32         reject\n\
             hostnossl replication all 127.0.0.1/32         reject\n\
             hostssl all          all  127.0.0.1/32         scram-sha-256\n\
             hostssl replication  all  127.0.0.1/32         scram-sha-256\n"
        );
        write_file(&data.join("pg_hba.conf"), &hba, 0o600, owner)?;
    }
    if !extra_conf.is_empty() {
        let _ = writeln!(conf, "{extra_conf}");
    }
    let conf_path = data.join("postgresql.conf");
    fs::OpenOptions::new()
        .append(true)
        .open(&conf_path)
        .and_then(|mut f| f.write_all(conf.as_bytes()))
        .map_err(|e| format!("cannot append to {}: {e}", conf_path.display()))?;

    let port = pg_ctl_start(&bins, &base, &data)?;

    let mut cluster = Cluster {
        major: bins.major,
        port,
        socket_dir: base.clone(),
        data_dir: data,
        bin_dir: bins.dir,
        tls,
        version_num: 0,
    };
    let version_num = setup(&cluster, kind)?;
    cluster.version_num = version_num;
    cluster.major = major_of(version_num);
    Ok(cluster)
}

/// A cluster on a copy of the stopped data directory `template` (e.g. the cached regression
/// database of `scripts/regression-db.sh`), run by the binaries in `bin_dir`. The copy gets the
/// harness's settings appended, so it listens like every other harness cluster; `template`
/// itself is never started or changed.
pub(super) fn start_copy(template: &Path, bin_dir: &Path) -> Result<Cluster, String> {
    prepare_process();
    let owner = server_owner()?;
    let bins = Binaries {
        dir: bin_dir.to_path_buf(),
        major: binary_major(bin_dir)?,
    };
    let base = tempfile::Builder::new()
        .prefix(DIR_PREFIX)
        .tempdir()
        .map_err(|e| format!("cannot create a temporary directory: {e}"))?
        .keep();
    let data = base.join("data");
    REGISTERED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(Registered {
            base: base.clone(),
            data: data.clone(),
            bin_dir: bins.dir.clone(),
        });
    fs::write(base.join(OWNER_FILE), std::process::id().to_string())
        .map_err(|e| format!("cannot write into {}: {e}", base.display()))?;
    fs::set_permissions(&base, fs::Permissions::from_mode(0o755))
        .map_err(|e| format!("cannot chmod {}: {e}", base.display()))?;
    chown(&base, owner)?;
    // `cp -a` keeps the owner (the server user) and the 0700 mode the server insists on.
    let mut cp = Command::new("cp");
    cp.arg("-a").arg(template).arg(&data);
    run(cp, "copying the data directory")?;
    let _ = fs::remove_file(data.join("postmaster.pid"));
    let conf = format!(
        "\n# --- db-migrate test harness ---\n\
         listen_addresses = '127.0.0.1'\n\
         unix_socket_directories = {}\n\
         wal_level = logical\n\
         max_replication_slots = 20\n\
         max_wal_senders = 20\n\
         max_connections = 200\n\
         fsync = off\n\
         synchronous_commit = off\n\
         full_page_writes = off\n\
         log_line_prefix = '%m [%p] %q%u@%d '\n",
        conf_string(&base)
    );
    let conf_path = data.join("postgresql.conf");
    fs::OpenOptions::new()
        .append(true)
        .open(&conf_path)
        .and_then(|mut f| f.write_all(conf.as_bytes()))
        .map_err(|e| format!("cannot append to {}: {e}", conf_path.display()))?;
    let port = pg_ctl_start(&bins, &base, &data)?;
    let mut cluster = Cluster {
        major: bins.major,
        port,
        socket_dir: base.clone(),
        data_dir: data,
        bin_dir: bins.dir,
        tls: None,
        version_num: 0,
    };
    let version_num = setup(&cluster, Kind::Source)?;
    cluster.version_num = version_num;
    cluster.major = major_of(version_num);
    Ok(cluster)
}

/// A hot standby of `primary`: `pg_basebackup -R` (streaming the WAL it needs, over the
/// primary's socket, where the harness's `pg_hba.conf` trusts local replication) into a
/// directory of its own, started with the harness's settings, so it listens like every other
/// harness cluster and follows the primary by streaming replication. Read-only, as standbys
/// are: nothing is created on it.
pub(super) fn start_standby(primary: &Cluster) -> Result<Cluster, String> {
    prepare_process();
    let owner = server_owner()?;
    let bins = Binaries {
        dir: primary.bin_dir.clone(),
        major: primary.major,
    };
    let base = tempfile::Builder::new()
        .prefix(DIR_PREFIX)
        .tempdir()
        .map_err(|e| format!("cannot create a temporary directory: {e}"))?
        .keep();
    let data = base.join("data");
    REGISTERED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(Registered {
            base: base.clone(),
            data: data.clone(),
            bin_dir: bins.dir.clone(),
        });
    fs::write(base.join(OWNER_FILE), std::process::id().to_string())
        .map_err(|e| format!("cannot write into {}: {e}", base.display()))?;
    fs::set_permissions(&base, fs::Permissions::from_mode(0o755))
        .map_err(|e| format!("cannot chmod {}: {e}", base.display()))?;
    chown(&base, owner)?;
    let mut backup = server_command(&bins.dir.join("pg_basebackup"))?;
    backup
        .arg("-D")
        .arg(&data)
        .arg("-h")
        .arg(&primary.socket_dir)
        .args(["-p", &primary.port.to_string(), "-U", SUPERUSER])
        .args(["-R", "-X", "stream", "-c", "fast"])
        .current_dir(&base)
        .env_remove("PGDATA");
    run(backup, "pg_basebackup")?;
    // The copied postgresql.conf has the primary's socket directory; the appended one wins.
    let conf = format!(
        "\n# --- db-migrate test harness: standby ---\n\
         unix_socket_directories = {}\n\
         hot_standby = on\n",
        conf_string(&base)
    );
    let conf_path = data.join("postgresql.conf");
    fs::OpenOptions::new()
        .append(true)
        .open(&conf_path)
        .and_then(|mut f| f.write_all(conf.as_bytes()))
        .map_err(|e| format!("cannot append to {}: {e}", conf_path.display()))?;
    let port = pg_ctl_start(&bins, &base, &data)?;
    let mut cluster = Cluster {
        major: bins.major,
        port,
        socket_dir: base.clone(),
        data_dir: data,
        bin_dir: bins.dir,
        tls: None,
        version_num: 0,
    };
    let version_num = setup(&cluster, Kind::Source)?;
    cluster.version_num = version_num;
    cluster.major = major_of(version_num);
    Ok(cluster)
}

fn major_of(version_num: u32) -> u32 {
    if version_num >= 100_000 {
        version_num / 10_000
    } else {
        version_num / 100 // 9.6 -> 906; not supported by the tool anyway
    }
}

/// A postgresql.conf string literal.
fn conf_string(path: &Path) -> String {
    format!("'{}'", path.to_string_lossy().replace('\'', "''"))
}

fn initdb(
    bins: &Binaries,
    base: &Path,
    data: &Path,
    owner: Option<(u32, u32)>,
) -> Result<(), String> {
    let pwfile = base.join("superuser.pw");
    write_file(&pwfile, SUPERUSER_PASSWORD, 0o600, owner)?;
    let mut failures = String::new();
    for locale in ["C.UTF-8", "C"] {
        let mut cmd = server_command(&bins.dir.join("initdb"))?;
        cmd.arg("-D")
            .arg(data)
            .args(["-U", SUPERUSER, "-E", "UTF8", "-N"])
            .arg(format!("--locale={locale}"))
            .args(["--auth-local=trust", "--auth-host=scram-sha-256"])
            .arg(format!("--pwfile={}", pwfile.display()))
            .current_dir(base)
            .env_remove("PGDATA");
        match run(cmd, "initdb") {
            Ok(_) => {
                let _ = fs::remove_file(&pwfile);
                return Ok(());
            }
            Err(e) => {
                let _ = writeln!(failures, "with --locale={locale}: {e}");
                // initdb removes a data directory it created when it fails; make sure.
                let _ = fs::remove_dir_all(data);
            }
        }
    }
    Err(failures)
}

fn free_port() -> Result<u16, String> {
    let listener =
        TcpListener::bind("127.0.0.1:0").map_err(|e| format!("cannot bind 127.0.0.1:0: {e}"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("cannot read the bound port: {e}"))
}

/// Starts the server on a free port (retrying with another one if the start fails, e.g. when
/// someone else took the port first) and waits until it accepts connections.
fn pg_ctl_start(bins: &Binaries, base: &Path, data: &Path) -> Result<u16, String> {
    let log = base.join("postgres.log");
    let mut failures = String::new();
    for attempt in 1..=START_ATTEMPTS {
        let port = free_port()?;
        let mut cmd = server_command(&bins.dir.join("pg_ctl"))?;
        cmd.arg("-D")
            .arg(data)
            .arg("-l")
            .arg(&log)
            .args(["-w", "-t", "120", "-o"])
            .arg(format!("-p {port}"))
            .arg("start")
            .current_dir(base)
            .env_remove("PGDATA")
            .env_remove("PGPORT");
        match run(cmd, "pg_ctl start") {
            Ok(_) => return Ok(port),
            Err(e) => {
                let tail = fs::read_to_string(&log)
                    .map(|s| {
                        let lines: Vec<&str> = s.lines().collect();
                        lines[lines.len().saturating_sub(15)..].join("\n")
                    })
                    .unwrap_or_default();
                let _ = writeln!(
                    failures,
                    "attempt {attempt} (port {port}): {e}\n--- {} (tail) ---\n{tail}",
                    log.display()
                );
                stop_cluster(&bins.dir, data);
            }
        }
    }
    Err(format!("the server did not start:\n{failures}"))
}

/// Stops `cluster` with `pg_ctl stop -m fast` (every session is terminated, 57P01) and starts
/// it again on the same port and data directory, waiting until it accepts connections: what a
/// migration sees when its target is restarted by an operator or a failover.
pub(super) fn restart(cluster: &Cluster) -> Result<(), String> {
    let mut stop = server_command(&cluster.bin_dir.join("pg_ctl"))?;
    stop.arg("-D")
        .arg(&cluster.data_dir)
        .args(["-m", "fast", "-w", "-t", "60", "stop"])
        .current_dir("/")
        .env_remove("PGDATA");
    run(stop, "pg_ctl stop -m fast")?;
    let mut start = server_command(&cluster.bin_dir.join("pg_ctl"))?;
    start
        .arg("-D")
        .arg(&cluster.data_dir)
        .arg("-l")
        .arg(cluster.socket_dir.join("postgres.log"))
        .args(["-w", "-t", "120", "-o"])
        .arg(format!("-p {}", cluster.port))
        .arg("start")
        .current_dir("/")
        .env_remove("PGDATA")
        .env_remove("PGPORT");
    run(start, "pg_ctl start (restart)")?;
    Ok(())
}

/// First connection: reads `server_version_num` and creates what the cluster kind needs.
/// Runs on its own thread and runtime, since callers may be inside any (or no) tokio runtime.
fn setup(cluster: &Cluster, kind: Kind) -> Result<u32, String> {
    let socket_dir = cluster.socket_dir.clone();
    let port = cluster.port;
    std::thread::spawn(move || -> Result<u32, String> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot build a tokio runtime: {e}"))?;
        rt.block_on(async move {
            let mut config = tokio_postgres::Config::new();
            config
                .host_path(&socket_dir)
                .port(port)
                .user(SUPERUSER)
                .dbname("postgres")
                .connect_timeout(Duration::from_secs(30));
            let (client, connection) = config
                .connect(tokio_postgres::NoTls)
                .await
                .map_err(|e| format!("cannot connect after start: {}", super::pg_error(&e)))?;
            let connection = tokio::spawn(connection);
            let rows = client
                .simple_query("SHOW server_version_num")
                .await
                .map_err(|e| format!("SHOW server_version_num: {}", super::pg_error(&e)))?;
            let version = rows
                .iter()
                .find_map(|m| match m {
                    tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_owned),
                    _ => None,
                })
                .and_then(|v| v.parse::<u32>().ok())
                .ok_or("SHOW server_version_num returned no number")?;
            if matches!(kind, Kind::Tls | Kind::TlsSha384) {
                let sql = format!(
                    "CREATE ROLE {} LOGIN; CREATE ROLE {} LOGIN PASSWORD {}",
                    quote_ident(CERT_USER),
                    quote_ident(PASSWORD_METHOD_USER),
                    super::quote_literal(SUPERUSER_PASSWORD)
                );
                client
                    .batch_execute(&sql)
                    .await
                    .map_err(|e| format!("{sql}: {}", super::pg_error(&e)))?;
            }
            drop(client);
            let _ = connection.await;
            Ok(version)
        })
    })
    .join()
    .map_err(|_| "the setup thread panicked".to_string())?
}

// ---------------------------------------------------------------------------------------------
// Stop, exit hook, leftovers

/// Once per process: reap clusters of dead test processes, then arrange for ours to be stopped
/// when the process exits.
fn prepare_process() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        reap_leftovers();
        // SAFETY: registering a plain extern "C" fn without arguments.
        let rc = unsafe { libc::atexit(stop_all_at_exit) };
        if rc != 0 {
            eprintln!("test harness: atexit registration failed; clusters will outlive the tests");
        }
    });
}

extern "C" fn stop_all_at_exit() {
    let registered = std::mem::take(&mut *REGISTERED.lock().unwrap_or_else(|e| e.into_inner()));
    if registered.is_empty() {
        return;
    }
    if env_nonempty("PG_HARNESS_KEEP").is_some_and(|v| v != "0") {
        for r in &registered {
            eprintln!(
                "test harness: PG_HARNESS_KEEP set, leaving cluster {} running (log: {})",
                r.data.display(),
                r.base.join("postgres.log").display()
            );
        }
        return;
    }
    // Stop them in parallel, then delete the directories.
    let stops: Vec<_> = registered
        .iter()
        .map(|r| {
            if r.data.join("postmaster.pid").exists() {
                spawn_stop(&r.bin_dir, &r.data)
            } else {
                None
            }
        })
        .collect();
    for (r, child) in registered.iter().zip(stops) {
        let stopped = match child {
            Some(mut child) => child.wait().is_ok_and(|s| s.success()),
            None => true,
        };
        if !stopped {
            kill_postmaster(&r.data);
        }
        let _ = fs::remove_dir_all(&r.base);
    }
}

fn spawn_stop(bin_dir: &Path, data: &Path) -> Option<std::process::Child> {
    let mut cmd = server_command(&bin_dir.join("pg_ctl")).ok()?;
    cmd.arg("-D")
        .arg(data)
        .args(["-m", "immediate", "-w", "-t", "30", "stop"])
        .current_dir("/")
        .env_remove("PGDATA")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd.spawn().ok()
}

fn stop_cluster(bin_dir: &Path, data: &Path) {
    let ok = spawn_stop(bin_dir, data)
        .and_then(|mut c| c.wait().ok())
        .is_some_and(|s| s.success());
    if !ok {
        kill_postmaster(data);
    }
}

fn process_alive(pid: i32) -> bool {
    if pid <= 0 {
        return false;
    }
    // SAFETY: signal 0 only checks for existence and permission.
    let rc = unsafe { libc::kill(pid, 0) };
    let exists = rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
    // A dead orphan stays a zombie until init reaps it, which can take seconds here.
    exists
        && fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|stat| {
                let state = stat.rsplit_once(')')?.1.trim_start().chars().next()?;
                Some(state != 'Z' && state != 'X')
            })
            .unwrap_or(true)
}

/// SIGQUIT (immediate shutdown) to the postmaster of `data` if it still runs, SIGKILL after 10 s.
fn kill_postmaster(data: &Path) {
    let Some(pid) = fs::read_to_string(data.join("postmaster.pid"))
        .ok()
        .and_then(|s| s.lines().next()?.trim().parse::<i32>().ok())
    else {
        return;
    };
    // Make sure the pid is still that postmaster (pids get reused).
    let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let cmdline = String::from_utf8_lossy(&cmdline);
    if !process_alive(pid) || !cmdline.contains(&*data.to_string_lossy()) {
        return;
    }
    // SAFETY: plain kill(2) on a pid we just checked.
    unsafe { libc::kill(pid, libc::SIGQUIT) };
    let deadline = Instant::now() + Duration::from_secs(10);
    while process_alive(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    if process_alive(pid) {
        // SAFETY: as above.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
}

/// Removes cluster directories (stopping their servers) whose owning test process is gone, e.g.
/// after a test binary was killed before its exit hook could run.
fn reap_leftovers() {
    let Ok(entries) = fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if !entry.file_name().to_string_lossy().starts_with(DIR_PREFIX) || !path.is_dir() {
            continue;
        }
        match fs::read_to_string(path.join(OWNER_FILE))
            .ok()
            .and_then(|s| s.trim().parse::<i32>().ok())
        {
            Some(pid) if process_alive(pid) => continue,
            Some(_) => {}
            None => {
                // Owner not recorded yet (just being created) or lost: leave young ones alone.
                let young = entry
                    .metadata()
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| SystemTime::now().duration_since(t).ok())
                    .is_none_or(|age| age < Duration::from_secs(3600));
                if young {
                    continue;
                }
            }
        }
        kill_postmaster(&path.join("data"));
        let _ = fs::remove_dir_all(&path);
    }
}
