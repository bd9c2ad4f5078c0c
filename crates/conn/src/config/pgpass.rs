//! The password file (`~/.pgpass`, `passfile`, `PGPASSFILE`) with libpq's matching rules. Its
//! own file because it reads the file system and has its own escaping rules, and it is only
//! consulted when a password is actually needed.

use std::path::{Path, PathBuf};

use super::ConnInfo;
use super::values::{default_socket_dir, is_default_socket_dir, non_empty};

impl ConnInfo {
    /// The password to send: `password`, else the first matching line of the password file
    /// (`passfile`, which `PGPASSFILE` fills, else `~/.pgpass`) for (host, port, dbname, user),
    /// with libpq's rules: `*` wildcards, `\:` and `\\` escapes, `#` comment lines, host
    /// `localhost` matching the default unix-socket directory, and the file ignored with a
    /// warning when it is readable or writable by group or others (wider than 0600).
    pub fn resolve_password(&self) -> Option<String> {
        if let Some(password) = non_empty(&self.password) {
            return Some(password.to_owned());
        }
        let path = match &self.passfile {
            Some(path) if !path.as_os_str().is_empty() => path.clone(),
            _ => PathBuf::from(std::env::var_os("HOME")?).join(".pgpass"),
        };
        // libpq keys the lookup on host if given, else hostaddr, else the default socket dir;
        // the default socket directory is spelled "localhost" in the file.
        let host = match (non_empty(&self.host), self.hostaddr) {
            (Some(host), _) => host.to_owned(),
            (None, Some(addr)) => addr.to_string(),
            (None, None) => default_socket_dir().to_owned(),
        };
        let host = if is_default_socket_dir(&host) {
            "localhost".to_owned()
        } else {
            host
        };
        let port = self.port().to_string();
        password_from_file(&path, &host, &port, &self.dbname(), &self.user())
    }
}

/// libpq's `passwordFromFile`: the password of the first line matching all four fields.
pub(super) fn password_from_file(
    path: &Path,
    host: &str,
    port: &str,
    dbname: &str,
    user: &str,
) -> Option<String> {
    if dbname.is_empty() || user.is_empty() {
        return None;
    }
    // A missing file is the normal case, not worth a word.
    let metadata = std::fs::metadata(path).ok()?;
    if !metadata.is_file() {
        tracing::warn!(
            "password file \"{}\" is not a plain file; ignoring it",
            path.display()
        );
        return None;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if metadata.permissions().mode() & 0o077 != 0 {
            tracing::warn!(
                "password file \"{}\" has group or world access; permissions should be u=rw \
                 (0600) or less; ignoring it",
                path.display()
            );
            return None;
        }
    }
    let bytes =
        match db_migrate_core::input::read_bounded(path, db_migrate_core::input::MAX_INPUT_BYTES) {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(
                    "password file \"{}\" could not be read: {e}; ignoring it",
                    path.display()
                );
                return None;
            }
        };
    let content = String::from_utf8_lossy(&bytes);
    content
        .split('\n')
        .map(|line| line.trim_end_matches(['\r', '\n']))
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .find_map(|line| {
            let rest = pgpass_field(line, host)?;
            let rest = pgpass_field(rest, port)?;
            let rest = pgpass_field(rest, dbname)?;
            let rest = pgpass_field(rest, user)?;
            Some(pgpass_unescape(rest))
        })
        .filter(|password| !password.is_empty())
}

/// libpq's `pwdfMatchesString`: if the line's first field is `*` or equals `token` (with `\`
/// escaping the next character), the rest of the line after the field's `:`.
///
/// Like libpq, an unescaped `:` still matches a `:` in the token while the token is not used
/// up, so `::1:5432:...` matches host `::1`.
pub(super) fn pgpass_field<'a>(line: &'a str, token: &str) -> Option<&'a str> {
    if let Some(rest) = line.strip_prefix("*:") {
        return Some(rest);
    }
    let mut rest = line;
    let mut token = token.chars();
    loop {
        let mut chars = rest.chars();
        let (c, escaped) = match chars.next()? {
            '\\' => (chars.next()?, true),
            c => (c, false),
        };
        if c == ':' && !escaped && token.as_str().is_empty() {
            return Some(chars.as_str());
        }
        if token.next() != Some(c) {
            return None;
        }
        rest = chars.as_str();
    }
}

/// The password field: up to the first unescaped `:`, with `\x` meaning `x`.
pub(super) fn pgpass_unescape(field: &str) -> String {
    let mut out = String::new();
    let mut chars = field.chars();
    while let Some(c) = chars.next() {
        match c {
            ':' => break,
            '\\' => out.push(chars.next().unwrap_or('\\')),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_util::*;

    // --- pgpass -----------------------------------------------------------------------------

    /// A password file with the given lines and permissions, and a conninfo pointing at it.
    fn with_pgpass(lines: &str, mode: u32, conninfo: &str) -> (tempfile::TempDir, ConnInfo) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pgpass");
        std::fs::write(&path, lines).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        }
        #[cfg(not(unix))]
        let _ = mode;
        let mut info = parse(conninfo);
        info.passfile = Some(path);
        (dir, info)
    }

    #[test]
    fn pgpass_first_matching_line_wins() {
        let file = "# comment line: *:*:*:*:nope\n\
                    db:5432:app:alice:first\n\
                    db:5432:app:alice:second\n";
        let (_dir, info) = with_pgpass(file, 0o600, "host=db user=alice dbname=app");
        assert_eq!(info.resolve_password().as_deref(), Some("first"));
    }

    #[test]
    fn pgpass_wildcards_match_any_value() {
        let file = "other:*:*:*:wrong\n*:6543:*:alice:wild\n*:*:*:*:fallback\n";
        let (_d, info) = with_pgpass(file, 0o600, "host=db port=6543 user=alice dbname=app");
        assert_eq!(info.resolve_password().as_deref(), Some("wild"));
        let (_d, info) = with_pgpass(file, 0o600, "host=db user=bob dbname=app");
        assert_eq!(info.resolve_password().as_deref(), Some("fallback"));
    }

    #[test]
    fn pgpass_backslash_escapes_colons_and_backslashes_in_every_field() {
        let file = "db:5432:we\\:ird\\\\db:alice:pa\\:ss\\\\word:ignored\r\n";
        let (_d, info) = with_pgpass(file, 0o600, r"host=db user=alice dbname='we:ird\\db'");
        assert_eq!(info.resolve_password().as_deref(), Some(r"pa:ss\word"));
    }

    #[test]
    fn pgpass_ipv6_hostaddr_matches_with_or_without_escapes() {
        let (_d, info) = with_pgpass("::1:5432:*:*:v6\n", 0o600, "hostaddr=::1 user=u");
        assert_eq!(info.resolve_password().as_deref(), Some("v6"));
        let (_d, info) = with_pgpass("\\:\\:1:5432:*:*:v6\n", 0o600, "hostaddr=::1 user=u");
        assert_eq!(info.resolve_password().as_deref(), Some("v6"));
    }

    #[test]
    fn pgpass_localhost_matches_the_default_unix_socket() {
        let file = "localhost:5432:*:*:local\n/srv/sock:5432:*:*:custom\n";
        for conninfo in [
            "user=u",
            "host=/tmp user=u",
            "host=/var/run/postgresql/ user=u",
        ] {
            let (_d, info) = with_pgpass(file, 0o600, conninfo);
            assert_eq!(
                info.resolve_password().as_deref(),
                Some("local"),
                "{conninfo}"
            );
        }
        let (_d, info) = with_pgpass(file, 0o600, "host=/srv/sock user=u");
        assert_eq!(info.resolve_password().as_deref(), Some("custom"));
        let (_d, info) = with_pgpass(file, 0o600, "host=localhost user=u");
        assert_eq!(info.resolve_password().as_deref(), Some("local"));
    }

    #[test]
    fn pgpass_with_no_matching_line_gives_nothing() {
        let (_d, info) = with_pgpass(
            "db:5432:app:alice:pw\n",
            0o600,
            "host=db user=bob dbname=app",
        );
        assert_eq!(info.resolve_password(), None);
    }

    #[cfg(unix)]
    #[test]
    fn pgpass_readable_by_group_or_others_is_ignored() {
        for mode in [0o644, 0o640, 0o604, 0o660] {
            let (_d, info) = with_pgpass("*:*:*:*:pw\n", mode, "host=db user=u");
            assert_eq!(info.resolve_password(), None, "mode {mode:o}");
        }
        let (_d, info) = with_pgpass("*:*:*:*:pw\n", 0o400, "host=db user=u");
        assert_eq!(info.resolve_password().as_deref(), Some("pw"));
    }

    #[test]
    fn an_explicit_password_wins_over_pgpass() {
        let (_d, info) = with_pgpass("*:*:*:*:file\n", 0o600, "host=db user=u password=given");
        assert_eq!(info.resolve_password().as_deref(), Some("given"));
    }

    #[test]
    fn pgpassfile_from_the_environment_is_used() {
        let (_d, from_string) = with_pgpass("*:*:*:*:envfile\n", 0o600, "host=db user=u");
        let path = from_string.passfile.clone().unwrap();
        let info = parse_env("host=db user=u", &[("PGPASSFILE", path.to_str().unwrap())]).unwrap();
        assert_eq!(info.resolve_password().as_deref(), Some("envfile"));
    }

    #[test]
    fn a_missing_or_directory_pgpass_gives_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut info = parse("host=db user=u");
        info.passfile = Some(dir.path().join("absent"));
        assert_eq!(info.resolve_password(), None);
        info.passfile = Some(dir.path().to_owned());
        assert_eq!(info.resolve_password(), None);
    }
}
