//! libpq's connection service files (`pg_service.conf`): `service=name` (or `PGSERVICE`) names
//! an INI-like section whose `key=value` lines fill whatever the connection string itself left
//! unset.
//!
//! Why it is read rather than ignored: a conninfo of only `service=prod` that dropped the
//! service would connect to the default socket, and could migrate a local server instead of
//! the intended one.
//!
//! libpq's rules, mirrored (`parseServiceInfo` / `parseServiceFile` in `fe-connect.c`):
//! - the per-user file is `servicefile` (libpq 18), else `PGSERVICEFILE`, else
//!   `~/.pg_service.conf`; the system-wide file is `pg_service.conf` in `PGSYSCONFDIR`, else in
//!   the compiled-in sysconfdir. A service defined in the per-user file is taken from there
//!   alone: the system file is only read when the per-user file does not define it;
//! - precedence is: the connection string > the service > the `PG*` environment > defaults
//!   (libpq's `conninfo_add_defaults` applies the service before the environment, and only to
//!   keys still unset);
//! - lines are trimmed of leading and trailing whitespace; empty lines and lines starting with
//!   `#` are comments; `[name]` opens a section (text after the `]` is ignored); within the
//!   wanted section the first `key=value` of a key wins and a later section ends it; the value
//!   is everything after the first `=`, kept verbatim (no quoting);
//! - a key libpq does not know, a line without `=`, or a nested `service`/`servicefile` is an
//!   error, and so is a named service that no file defines.
//!
//! Where we are more forgiving: whitespace between a key and its `=` is allowed. Where we are
//! stricter: a file above [`MAX_SERVICE_FILE_BYTES`] is refused rather than read whole (a
//! service file is a few lines; a huge one is a mistake, e.g. a path to a data file).
//!
//! Error messages name the service, the files and line numbers, never a line's text: a line
//! may hold a password.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::values::{is_known_keyword, non_empty, show, show_key};
use db_migrate_core::error::{Error, Result};

/// The compiled-in sysconfdir of Debian's and Ubuntu's libpq (`pg_config --sysconfdir` prints
/// it there), which is what the container image and most servers we run on ship. Upstream's
/// default (`/usr/local/pgsql/etc`) only applies to source builds; `PGSYSCONFDIR` overrides
/// either, as in libpq.
pub(super) const DEFAULT_SYSCONFDIR: &str = "/etc/postgresql-common";

/// The largest service file read. libpq has no limit, but a real one is a few hundred bytes.
pub(super) const MAX_SERVICE_FILE_BYTES: u64 = 1 << 20;

/// The settings one service gives, in file order, each with the line it came from.
#[derive(Debug)]
pub(super) struct Service {
    pub(super) name: String,
    pub(super) file: PathBuf,
    /// key -> (value, 1-based line); the first line of a key wins, as in libpq.
    pub(super) values: BTreeMap<String, (String, usize)>,
}

/// The service the connection string (`service`, `servicefile`) or the environment
/// (`PGSERVICE`, `PGSERVICEFILE`, `PGSYSCONFDIR`, `HOME`) asks for, read from its file; `None`
/// when no service is named.
pub(super) fn lookup(
    given: &BTreeMap<String, String>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<Service>> {
    let from_string = |key: &str| given.get(key).cloned();
    // A key in the string, even empty, keeps its environment variable out (libpq's rule).
    let name = match from_string("service") {
        Some(name) => name,
        None => env("PGSERVICE").unwrap_or_default(),
    };
    if name.is_empty() {
        return Ok(None);
    }
    let user_file = non_empty(&from_string("servicefile"))
        .map(PathBuf::from)
        .or_else(|| non_empty(&env("PGSERVICEFILE")).map(PathBuf::from))
        .or_else(|| non_empty(&env("HOME")).map(|home| Path::new(home).join(".pg_service.conf")));
    let sysconfdir = non_empty(&env("PGSYSCONFDIR"))
        .unwrap_or(DEFAULT_SYSCONFDIR)
        .to_owned();
    let system_file = Path::new(&sysconfdir).join("pg_service.conf");

    let mut searched = Vec::new();
    for file in user_file.into_iter().chain([system_file]) {
        // libpq skips a file it cannot stat; one that exists but cannot be read is an error.
        if std::fs::metadata(&file).is_err() {
            searched.push(format!("{} (no such file)", show_path(&file)));
            continue;
        }
        let text = read_bounded(&file)?;
        if let Some(values) = parse_section(&text, &name, &file)? {
            return Ok(Some(Service { name, file, values }));
        }
        searched.push(show_path(&file));
    }
    Err(Error::config(format!(
        "definition of service {} not found; searched {}",
        show(&name),
        searched.join(", ")
    )))
}

/// A path for an error message.
fn show_path(path: &Path) -> String {
    show(&path.to_string_lossy())
}

/// The whole file, refusing one above [`MAX_SERVICE_FILE_BYTES`] and anything but a plain file.
fn read_bounded(path: &Path) -> Result<String> {
    let cannot = |why: String| {
        Error::config(format!(
            "cannot read service file {}: {why}",
            show_path(path)
        ))
    };
    let file = std::fs::File::open(path).map_err(|e| cannot(e.to_string()))?;
    let metadata = file.metadata().map_err(|e| cannot(e.to_string()))?;
    if !metadata.is_file() {
        return Err(cannot("not a plain file".to_owned()));
    }
    let mut bytes = Vec::new();
    // `take` too, not only the size in the metadata: the file may grow while it is read.
    file.take(MAX_SERVICE_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| cannot(e.to_string()))?;
    if bytes.len() as u64 > MAX_SERVICE_FILE_BYTES {
        return Err(cannot(format!(
            "larger than {} MiB; a service file is a few lines",
            MAX_SERVICE_FILE_BYTES >> 20
        )));
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// The `key=value` lines of section `[name]` in `text`, or `None` when the file does not define
/// it. Only the wanted section is checked, as in libpq: another service's typo is not our
/// business.
pub(super) fn parse_section(
    text: &str,
    name: &str,
    file: &Path,
) -> Result<Option<BTreeMap<String, (String, usize)>>> {
    let mut found: Option<BTreeMap<String, (String, usize)>> = None;
    for (index, line) in text.split('\n').enumerate() {
        let number = index + 1;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(header) = line.strip_prefix('[') {
            if found.is_some() {
                break;
            }
            if header
                .strip_prefix(name)
                .is_some_and(|rest| rest.starts_with(']'))
            {
                found = Some(BTreeMap::new());
            }
            continue;
        }
        let Some(values) = found.as_mut() else {
            continue;
        };
        let at = |what: &str| {
            Error::config(format!(
                "{what} in service file {}, line {number}",
                show_path(file)
            ))
        };
        let Some((key, value)) = line.split_once('=') else {
            return Err(at("syntax error (expected key=value)"));
        };
        let key = key.trim_end();
        if key == "service" || key == "servicefile" {
            return Err(at(&format!(
                "nested {} specifications are not supported",
                show(key)
            )));
        }
        if !is_known_keyword(key) {
            return Err(at(&format!("invalid connection option {}", show_key(key))));
        }
        values
            .entry(key.to_owned())
            .or_insert_with(|| (value.to_owned(), number));
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ConnInfo;
    use crate::config::test_util::assert_contains;
    use std::collections::HashMap;

    /// A temporary directory holding a per-user file and a sysconfdir with a system file.
    struct Files {
        dir: tempfile::TempDir,
    }

    impl Files {
        fn new(user: Option<&str>, system: Option<&str>) -> Files {
            let dir = tempfile::tempdir().unwrap();
            std::fs::create_dir(dir.path().join("etc")).unwrap();
            if let Some(text) = user {
                std::fs::write(dir.path().join(".pg_service.conf"), text).unwrap();
            }
            if let Some(text) = system {
                std::fs::write(dir.path().join("etc/pg_service.conf"), text).unwrap();
            }
            Files { dir }
        }

        fn home(&self) -> String {
            self.dir.path().to_string_lossy().into_owned()
        }

        fn sysconfdir(&self) -> String {
            self.dir.path().join("etc").to_string_lossy().into_owned()
        }

        /// Parses `s` with HOME and PGSYSCONFDIR pointing here, plus `vars`.
        fn parse(&self, s: &str, vars: &[(&str, &str)]) -> Result<ConnInfo> {
            let mut env: HashMap<String, String> = HashMap::from([
                ("HOME".to_owned(), self.home()),
                ("PGSYSCONFDIR".to_owned(), self.sysconfdir()),
            ]);
            for (k, v) in vars {
                env.insert(k.to_string(), v.to_string());
            }
            ConnInfo::parse_with_env(s, &move |name| env.get(name).cloned())
        }
    }

    const PROD: &str = "# production\n\
                        [staging]\nhost=staging.example.com\n\n\
                        [prod]  # the real one\n  host=db.example.com  \nport=6432\n\
                        user=app\npassword=s3cr3t pw\nsslmode=verify-full\nport=1\n\
                        [prod]\nhost=ignored.example.com\n";

    #[test]
    fn a_service_fills_the_connection_from_its_section() {
        let files = Files::new(Some(PROD), None);
        let info = files.parse("service=prod", &[]).unwrap();
        assert_eq!(info.host.as_deref(), Some("db.example.com"));
        assert_eq!(info.port, Some(6432), "the first line of a key wins");
        assert_eq!(info.user.as_deref(), Some("app"));
        assert_eq!(
            info.password.as_deref(),
            Some("s3cr3t pw"),
            "values are verbatim"
        );
        assert_eq!(info.sslmode(), crate::config::SslMode::VerifyFull);
        assert!(info.warnings.is_empty(), "{:?}", info.warnings);
        // Handed on resolved: the target's libpq has no such file.
        let rendered = info.to_libpq_string(false);
        assert!(!rendered.contains("service"), "{rendered}");
        assert!(rendered.contains("host='db.example.com'"), "{rendered}");
        // The URI form and PGSERVICE name it too.
        let info = files.parse("postgres:///app?service=prod", &[]).unwrap();
        assert_eq!(info.host.as_deref(), Some("db.example.com"));
        let info = files.parse("", &[("PGSERVICE", "staging")]).unwrap();
        assert_eq!(info.host.as_deref(), Some("staging.example.com"));
    }

    #[test]
    fn the_string_beats_the_service_which_beats_the_environment() {
        let files = Files::new(Some(PROD), None);
        let env = [
            ("PGHOST", "envhost"),
            ("PGPORT", "7000"),
            ("PGDATABASE", "envdb"),
        ];
        let info = files.parse("service=prod port=5433 user=''", &env).unwrap();
        assert_eq!(info.port, Some(5433), "the string wins");
        assert_eq!(info.user, None, "an empty key in the string still wins");
        assert_eq!(
            info.host.as_deref(),
            Some("db.example.com"),
            "service > env"
        );
        assert_eq!(info.dbname.as_deref(), Some("envdb"), "env fills the rest");
        // A service key in the string beats PGSERVICE.
        let info = files
            .parse("service=staging", &[("PGSERVICE", "prod")])
            .unwrap();
        assert_eq!(info.host.as_deref(), Some("staging.example.com"));
        assert_eq!(info.port, None);
    }

    #[test]
    fn the_user_file_comes_first_and_whole_then_the_system_file() {
        let files = Files::new(
            Some("[prod]\nhost=user.example.com\n"),
            Some("[prod]\nhost=system.example.com\nport=9\n[sys]\nhost=sys.example.com\n"),
        );
        let info = files.parse("service=prod", &[]).unwrap();
        assert_eq!(info.host.as_deref(), Some("user.example.com"));
        assert_eq!(info.port, None, "sections are not merged across files");
        let info = files.parse("service=sys", &[]).unwrap();
        assert_eq!(info.host.as_deref(), Some("sys.example.com"));
    }

    #[test]
    fn servicefile_and_pgservicefile_choose_the_user_file() {
        let files = Files::new(Some("[a]\nhost=home\n"), None);
        let other = files.dir.path().join("other.conf");
        std::fs::write(&other, "[a]\nhost=other\n").unwrap();
        let third = files.dir.path().join("third.conf");
        std::fs::write(&third, "[a]\nhost=third\n").unwrap();
        let other = other.to_string_lossy();
        let third = third.to_string_lossy();

        let info = files
            .parse("service=a", &[("PGSERVICEFILE", &other)])
            .unwrap();
        assert_eq!(info.host.as_deref(), Some("other"));
        let info = files
            .parse(
                &format!("service=a servicefile='{third}'"),
                &[("PGSERVICEFILE", &other)],
            )
            .unwrap();
        assert_eq!(info.host.as_deref(), Some("third"));
    }

    #[test]
    fn an_unknown_service_names_itself_and_the_files_searched() {
        let files = Files::new(Some("[prod]\npassword=s3cr3t\n"), None);
        let err = files.parse("service=prdo", &[]).unwrap_err();
        assert_eq!(err.kind(), db_migrate_core::error::ErrorKind::Config);
        let err = err.to_string();
        assert_contains(
            &err,
            &[
                "service \"prdo\" not found",
                ".pg_service.conf\"",
                "etc/pg_service.conf\" (no such file)",
            ],
        );
        assert!(!err.contains("s3cr3t"), "{err}");
        // Without HOME only the system file is searched.
        let err = ConnInfo::parse_with_env("service=x", &|name| {
            (name == "PGSYSCONFDIR").then(|| "/nonexistent-dir".to_owned())
        })
        .unwrap_err()
        .to_string();
        assert_contains(
            &err,
            &[
                "\"x\"",
                "\"/nonexistent-dir/pg_service.conf\" (no such file)",
            ],
        );
    }

    #[test]
    fn bad_lines_in_the_service_name_the_file_and_line_never_the_text() {
        for (text, expected) in [
            ("[p]\nhost=h\npassword s3cr3t\n", "syntax error"),
            ("[p]\nhost=h\npasswrod=s3cr3t\n", "\"passwrod\""),
            ("[p]\nhost=h\nservice=q\n", "nested \"service\""),
            ("[p]\nhost=h\ns3cr3t x=1\n", "not a keyword"),
        ] {
            let files = Files::new(Some(text), None);
            let err = files.parse("service=p", &[]).unwrap_err().to_string();
            assert_contains(&err, &[expected, ".pg_service.conf\", line 3"]);
            assert!(!err.contains("s3cr3t"), "{err}");
        }
        // Another section's mistakes are not looked at; key whitespace is forgiven.
        let files = Files::new(Some("[q]\nnonsense\n[p]\nhost =h\n"), None);
        let info = files.parse("service=p", &[]).unwrap();
        assert_eq!(info.host.as_deref(), Some("h"));
        // A bad value names the key, the value and where it came from.
        let files = Files::new(Some("[p]\nport=fast\n"), None);
        let err = files.parse("service=p", &[]).unwrap_err().to_string();
        assert_contains(&err, &["port", "\"fast\"", "service \"p\"", "line 2"]);
    }

    #[test]
    fn a_huge_or_unreadable_service_file_is_refused() {
        let files = Files::new(None, None);
        let big = files.dir.path().join(".pg_service.conf");
        let line = "# padding padding padding padding padding padding padding padding\n";
        let text = line.repeat((MAX_SERVICE_FILE_BYTES as usize / line.len()) + 1);
        std::fs::write(&big, format!("[p]\nhost=h\n{text}")).unwrap();
        let err = files.parse("service=p", &[]).unwrap_err().to_string();
        assert_contains(&err, &["cannot read service file", "1 MiB"]);

        let dir_as_file = files.dir.path().join("etc/pg_service.conf");
        std::fs::create_dir(&dir_as_file).unwrap();
        std::fs::remove_file(&big).unwrap();
        let err = files.parse("service=p", &[]).unwrap_err().to_string();
        assert_contains(&err, &["cannot read service file", "not a plain file"]);
    }

    #[test]
    fn no_service_means_no_file_is_read() {
        let files = Files::new(Some("this is not a service file"), None);
        assert!(files.parse("host=h", &[]).is_ok());
        assert!(files.parse("service=''", &[("PGSERVICE", "x")]).is_ok());
    }
}
