//! Server-level facts preflight needs: who we are, what the server can install, what a database
//! has installed. Queries only; nothing here writes.
//!
//! Everything is read through bind parameters and fully qualified catalog names (sessions run
//! with `search_path = ''`). Facts that a non-superuser may be refused (`pg_control_system()`)
//! come back as `None` instead of an error.

use std::cmp::Ordering;

use crate::conn::Session;
use crate::error::{Error, ErrorKind, Result};

/// Facts about the server and the session's user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerFacts {
    /// `server_version_num`, e.g. 150004.
    pub version_num: u32,
    /// `pg_control_system().system_identifier`: the same for a cluster and its physical
    /// standbys, different for every `initdb`. `None` when the user may not call the function.
    pub system_identifier: Option<u64>,
    /// `current_user`.
    pub current_user: String,
    /// `rolsuper` of `current_user`.
    pub is_superuser: bool,
    /// `extwlist.extensions` (pgextwlist) split on commas, or `None` when the setting does not
    /// exist on the server.
    pub extwlist: Option<Vec<String>>,
}

impl ServerFacts {
    /// The major version (12, 13, ...).
    pub fn major(&self) -> u32 {
        self.version_num / 10000
    }
}

/// An extension the server could install (`pg_available_extensions`), at its default version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AvailableExtension {
    pub name: String,
    /// The version `CREATE EXTENSION` installs without `VERSION`; `None` when the control file
    /// names none.
    pub default_version: Option<String>,
    /// Whether installing the default version requires superuser.
    pub superuser: bool,
    /// Whether a non-superuser with CREATE on the database may install it (PG13+; always false
    /// before 13).
    pub trusted: bool,
}

/// An extension installed in a database (`pg_extension`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstalledExtension {
    pub name: String,
    pub version: String,
    /// The schema holding the extension's objects.
    pub schema: String,
}

fn read_error(what: &'static str) -> impl FnOnce(tokio_postgres::Error) -> Error {
    move |e| Error::from_pg(e).with_step(what)
}

/// Splits a comma-separated setting value, dropping blanks around items and empty items.
fn split_list_setting(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Reads [`ServerFacts`] through `s`.
pub async fn server_facts(s: &Session) -> Result<ServerFacts> {
    let row = s
        .query_one(
            "SELECT current_user::text, \
                    COALESCE((SELECT r.rolsuper FROM pg_catalog.pg_roles r \
                               WHERE r.rolname = current_user), false), \
                    pg_catalog.current_setting('extwlist.extensions', true)",
            &[],
        )
        .await
        .map_err(read_error("reading server facts"))?;
    let current_user: String = row.get(0);
    let is_superuser: bool = row.get(1);
    let extwlist: Option<String> = row.get(2);

    // Revoked from PUBLIC on a stock server (granted to pg_monitor-like roles on some
    // services): a refusal only means we cannot use this fact.
    let system_identifier = match s
        .query_one(
            "SELECT system_identifier FROM pg_catalog.pg_control_system()",
            &[],
        )
        .await
    {
        Ok(row) => Some(row.get::<_, i64>(0) as u64),
        Err(e) => {
            let e = Error::from_pg(e);
            if e.kind() == ErrorKind::Sql {
                tracing::debug!("pg_control_system() not readable: {e}");
                None
            } else {
                return Err(e.with_step("reading pg_control_system()"));
            }
        }
    };

    Ok(ServerFacts {
        version_num: s.server_version_num(),
        system_identifier,
        current_user,
        is_superuser,
        extwlist: extwlist.map(|v| split_list_setting(&v)),
    })
}

/// Every extension the server could install, at its default version, in name order.
pub async fn available_extensions(s: &Session) -> Result<Vec<AvailableExtension>> {
    let trusted = if s.server_version_num() >= 130000 {
        "COALESCE(v.trusted, false)"
    } else {
        "false"
    };
    let sql = format!(
        "SELECT e.name::text, e.default_version::text, COALESCE(v.superuser, true), {trusted} \
           FROM pg_catalog.pg_available_extensions e \
           LEFT JOIN pg_catalog.pg_available_extension_versions v \
             ON v.name = e.name AND v.version = e.default_version \
          ORDER BY e.name"
    );
    let rows = s
        .query(&sql, &[])
        .await
        .map_err(read_error("reading pg_available_extensions"))?;
    Ok(rows
        .iter()
        .map(|r| AvailableExtension {
            name: r.get(0),
            default_version: r.get(1),
            superuser: r.get(2),
            trusted: r.get(3),
        })
        .collect())
}

/// The extensions installed in the session's database, in name order.
pub async fn installed_extensions(s: &Session) -> Result<Vec<InstalledExtension>> {
    let rows = s
        .query(
            "SELECT e.extname::text, e.extversion::text, n.nspname::text \
               FROM pg_catalog.pg_extension e \
               JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace \
              ORDER BY e.extname",
            &[],
        )
        .await
        .map_err(read_error("reading pg_extension"))?;
    Ok(rows
        .iter()
        .map(|r| InstalledExtension {
            name: r.get(0),
            version: r.get(1),
            schema: r.get(2),
        })
        .collect())
}

/// The names of the procedural languages in the session's database (`pg_language`, including
/// the built-in `internal`, `c` and `sql`), in name order.
pub async fn languages(s: &Session) -> Result<Vec<String>> {
    let rows = s
        .query(
            "SELECT l.lanname::text FROM pg_catalog.pg_language l ORDER BY l.lanname",
            &[],
        )
        .await
        .map_err(read_error("reading pg_language"))?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Whether the session's database holds any large object (`pg_largeobject_metadata`, which
/// every user may read).
pub async fn has_large_objects(s: &Session) -> Result<bool> {
    let row = s
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_largeobject_metadata)",
            &[],
        )
        .await
        .map_err(read_error("reading pg_largeobject_metadata"))?;
    Ok(row.get(0))
}

/// One piece of a version string: a run of digits or a run of letters. Everything else
/// (`.`, `-`, `_`, `+`, blanks...) only separates pieces.
#[derive(Debug, PartialEq, Eq)]
enum Piece<'a> {
    Num(&'a str),
    Word(&'a str),
}

fn pieces(v: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let bytes = v.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        if bytes[i].is_ascii_digit() {
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            out.push(Piece::Num(&v[start..i]));
        } else if v[i..].starts_with(|c: char| c.is_alphabetic()) {
            while i < bytes.len() && v[i..].starts_with(|c: char| c.is_alphabetic()) {
                i += v[i..].chars().next().map_or(1, char::len_utf8);
            }
            out.push(Piece::Word(&v[start..i]));
        } else {
            i += v[i..].chars().next().map_or(1, char::len_utf8);
        }
    }
    out
}

/// Compares two digit runs numerically, whatever their length (no overflow).
fn cmp_numeric(a: &str, b: &str) -> Ordering {
    let a = a.trim_start_matches('0');
    let b = b.trim_start_matches('0');
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// Where one version ran out of pieces: is the rest of the other one a later release (a
/// non-zero number follows), a pre-release (a word follows: "2.0dev" < "2.0"), or equal
/// (only zeros: "1.0" == "1.0.0")?
fn cmp_rest(rest: &[Piece<'_>]) -> Ordering {
    for p in rest {
        match p {
            Piece::Num(n) if n.bytes().all(|b| b == b'0') => continue,
            Piece::Num(_) => return Ordering::Greater,
            Piece::Word(_) => return Ordering::Less,
        }
    }
    Ordering::Equal
}

/// Compares free-form extension versions ("1.1", "3.4.2", "2.0dev", "1.10") the natural way:
/// runs of digits numerically ("1.10" > "1.9"), runs of letters alphabetically (ignoring case
/// first), a number after a word (`1.0.1` > `1.0beta`), a trailing word marks a pre-release
/// ("2.0dev" < "2.0" < "2.0.1") and trailing zeros do not count ("1.0" == "1.0.0").
/// Separators other than digits and letters are ignored. Never fails.
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    let pa = pieces(a);
    let pb = pieces(b);
    for (x, y) in pa.iter().zip(pb.iter()) {
        let ord = match (x, y) {
            (Piece::Num(x), Piece::Num(y)) => cmp_numeric(x, y),
            (Piece::Word(x), Piece::Word(y)) => x
                .to_lowercase()
                .cmp(&y.to_lowercase())
                .then_with(|| x.cmp(y)),
            (Piece::Num(_), Piece::Word(_)) => Ordering::Greater,
            (Piece::Word(_), Piece::Num(_)) => Ordering::Less,
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    let n = pa.len().min(pb.len());
    if pa.len() > n {
        cmp_rest(&pa[n..])
    } else if pb.len() > n {
        cmp_rest(&pb[n..]).reverse()
    } else {
        Ordering::Equal
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    #[test]
    fn numeric_runs_compare_as_numbers() {
        assert_eq!(compare_versions("1.10", "1.9"), Greater);
        assert_eq!(compare_versions("1.9", "1.10"), Less);
        assert_eq!(compare_versions("1.1", "1.1"), Equal);
        assert_eq!(compare_versions("3.4.2", "3.4.10"), Less);
        assert_eq!(compare_versions("2.0", "10.0"), Less);
        assert_eq!(compare_versions("1.01", "1.1"), Equal);
        assert_eq!(
            compare_versions(
                "1.99999999999999999999999999",
                "1.100000000000000000000000000"
            ),
            Less
        );
    }

    #[test]
    fn longer_release_is_newer_and_trailing_zeros_do_not_count() {
        assert_eq!(compare_versions("1.1", "1.1.1"), Less);
        assert_eq!(compare_versions("1.1.1", "1.1"), Greater);
        assert_eq!(compare_versions("1.0", "1.0.0"), Equal);
        assert_eq!(compare_versions("1", "1.0"), Equal);
    }

    #[test]
    fn words_mark_pre_releases() {
        assert_eq!(compare_versions("2.0dev", "2.0"), Less);
        assert_eq!(compare_versions("2.0", "2.0dev"), Greater);
        assert_eq!(compare_versions("2.0dev", "1.9"), Greater);
        assert_eq!(compare_versions("1.0beta1", "1.0beta2"), Less);
        assert_eq!(compare_versions("1.0alpha", "1.0beta"), Less);
        assert_eq!(compare_versions("1.0.1", "1.0beta"), Greater);
        assert_eq!(compare_versions("1.0RC1", "1.0rc1"), Less);
        assert_eq!(compare_versions("3.4.0dev", "3.4.0"), Less);
    }

    #[test]
    fn separators_and_odd_input_never_fail() {
        assert_eq!(compare_versions("1-2", "1.2"), Equal);
        assert_eq!(compare_versions("", ""), Equal);
        assert_eq!(compare_versions("", "1"), Less);
        assert_eq!(compare_versions("unknown", "unknown"), Equal);
        assert_eq!(compare_versions("ünï 1", "ünï 2"), Less);
        assert_eq!(compare_versions("...", "1"), Less);
        let _ = compare_versions("\u{0}\u{ffff}9x", "9x\u{0}");
    }

    #[test]
    fn ordering_is_antisymmetric_on_samples() {
        let samples = [
            "", "0", "1", "1.0", "1.0.0", "1.1", "1.9", "1.10", "2.0dev", "2.0", "2.0.1",
            "1.0beta", "1.0beta2", "1.0alpha", "3.4.2", "abc", "ABC", "1a", "1.a",
        ];
        for a in samples {
            for b in samples {
                assert_eq!(
                    compare_versions(a, b),
                    compare_versions(b, a).reverse(),
                    "{a:?} vs {b:?}"
                );
            }
        }
    }

    #[test]
    fn list_settings_split_on_commas() {
        assert_eq!(
            split_list_setting(" hstore, pgcrypto ,,postgis"),
            vec!["hstore", "pgcrypto", "postgis"]
        );
        assert!(split_list_setting("").is_empty());
    }
}
