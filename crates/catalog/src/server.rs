//! Server-level facts preflight needs: who we are, what the server can install, what a database
//! has installed. Queries only; nothing here writes.
//!
//! Everything is read through bind parameters and fully qualified catalog names (sessions run
//! with `search_path = ''`). Facts that a non-superuser may be refused (`pg_control_system()`)
//! come back as `None` instead of an error.

use std::cmp::Ordering;

use db_migrate_conn::Session;
use db_migrate_core::error::{Error, ErrorKind, Result};

/// Everything db-migrate needs to know about one server and the migration user on it, read
/// once when preflight connects ([`server_facts`]) and handed to every stage (through
/// [`Servers`] on the per-database [`crate::pair::DbPair`]), so that no stage asks the server
/// again: version and identity, the user's attributes and provider roles, what logical
/// replication has left, and the connection slots the user may still open.
///
/// Facts that belong to one database (installed extensions, `aiven_extras` functions, `CREATE`
/// on the database) are not here: they are read on that database's session.
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
    /// `rolcreaterole` of `current_user`.
    pub createrole: bool,
    /// `rolreplication` of `current_user`: it may open replication connections and create
    /// slots.
    pub replication: bool,
    /// `rolbypassrls` of `current_user`.
    pub bypassrls: bool,
    /// The provider roles that stand in for superuser on managed services
    /// ([`PROVIDER_ADMIN_ROLES`], and RDS's `rds_replication`) of which the user is a member,
    /// in name order.
    pub provider_roles: Vec<String>,
    /// PostgreSQL 16+: the user has the privileges of `pg_create_subscription`.
    pub pg_create_subscription: bool,
    /// `extwlist.extensions` (pgextwlist) split on commas, or `None` when the setting does not
    /// exist on the server.
    pub extwlist: Option<Vec<String>>,
    /// Aiven's superuser gatekeeper (`aiven_gatekeeper`), when it is seen on the server.
    pub gatekeeper: Option<Gatekeeper>,
    /// `pg_is_in_recovery()`: a hot standby (or a server still recovering). It can be read
    /// (the dump method's exported snapshot works on a standby), never written: no publication
    /// or replication objects can be created there.
    pub in_recovery: bool,
    /// What logical replication has left on this server.
    pub logical: LogicalCapacity,
    /// What the server can still give this user in sessions.
    pub connections: ConnectionSlots,
}

/// Aiven's `aiven_gatekeeper` module (aiven-pg-security): it refuses `CREATE ROLE ...
/// SUPERUSER` and `ALTER ROLE ... SUPERUSER` for every name not in
/// `aiven.pg_security_agent_reserved_roles`, whoever runs the statement, so a source superuser
/// role outside that list cannot be migrated at all.
///
/// Seen either in `shared_preload_libraries` (readable only by superusers and members of
/// `pg_read_all_settings`) or by the settings the module defines (`aiven.pg_security_agent`,
/// `aiven.pg_security_agent_reserved_roles`), which `pg_settings` lists only once the module is
/// loaded. Both are read through `pg_settings`, which hides what the user may not see instead
/// of failing the query; when neither is visible the gatekeeper is not seen, as with the tool we
/// replace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gatekeeper {
    /// `aiven.pg_security_agent_reserved_roles` split on commas, or `None` when the migration
    /// user may not read it (a non-superuser on Aiven): then no role counts as reserved.
    pub reserved_roles: Option<Vec<String>>,
}

/// The library name of Aiven's gatekeeper in `shared_preload_libraries`.
pub const GATEKEEPER_LIBRARY: &str = "aiven_gatekeeper";

/// Whether a `shared_preload_libraries` value loads [`GATEKEEPER_LIBRARY`], by name or by path
/// (`'$libdir/aiven_gatekeeper'`, `/opt/lib/aiven_gatekeeper.so`).
pub fn preloads_gatekeeper(shared_preload_libraries: &str) -> bool {
    split_list_setting(shared_preload_libraries)
        .iter()
        .any(|item| {
            let item = item.trim_matches('"');
            let base = item.rsplit('/').next().unwrap_or(item);
            base.strip_suffix(".so").unwrap_or(base) == GATEKEEPER_LIBRARY
        })
}

/// Provider roles that stand in for superuser on managed services (RDS, Cloud SQL, Azure,
/// AlloyDB).
pub const PROVIDER_ADMIN_ROLES: [&str; 4] = [
    "rds_superuser",
    "cloudsqlsuperuser",
    "azure_pg_admin",
    "alloydbsuperuser",
];

/// RDS's role that carries the right to replicate (granted to the master user).
pub const RDS_REPLICATION_ROLE: &str = "rds_replication";

/// The settings and counts that decide whether logical replication fits on a server: the
/// source needs `wal_level = logical` and a free slot and WAL sender per database, the target
/// a free logical replication worker per database.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogicalCapacity {
    pub wal_level: String,
    pub max_replication_slots: i64,
    pub used_replication_slots: i64,
    pub max_wal_senders: i64,
    pub used_wal_senders: i64,
    pub max_logical_replication_workers: i64,
    /// Subscription workers running now.
    pub used_logical_replication_workers: i64,
}

/// The numbers behind the sessions this user may still open (see [`crate::slots`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConnectionSlots {
    /// `max_connections`.
    pub max: i64,
    /// Slots this user may not take: `superuser_reserved_connections` plus (PostgreSQL 16+)
    /// `reserved_connections`, 0 for a superuser.
    pub reserved: i64,
    /// Client sessions open on the server now (this one included).
    pub open: i64,
    /// The role's `CONNECTION LIMIT`, -1 for none (always -1 for a superuser).
    pub role_limit: i64,
    /// Sessions of this role open now (this one included).
    pub role_open: i64,
}

impl ServerFacts {
    /// The major version (12, 13, ...).
    pub fn major(&self) -> u32 {
        self.version_num / 10000
    }

    /// The user's attributes in the shape the role and owner checks take.
    pub fn user(&self) -> crate::roles::UserFacts {
        crate::roles::UserFacts {
            name: self.current_user.clone(),
            superuser: self.is_superuser,
            createrole: self.createrole,
            replication: self.replication,
            bypassrls: self.bypassrls,
        }
    }

    /// The user is a member of a provider's admin role (`rds_superuser`, `cloudsqlsuperuser`,
    /// `azure_pg_admin`, `alloydbsuperuser`).
    pub fn provider_admin(&self) -> bool {
        self.provider_roles
            .iter()
            .any(|r| PROVIDER_ADMIN_ROLES.contains(&r.as_str()))
    }
}

/// The facts of both servers of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Servers {
    pub source: ServerFacts,
    pub target: ServerFacts,
}

impl Servers {
    /// Reads both servers' facts (preflight does this once per run; a stage called without a
    /// run's facts does it once per [`crate::pair::DbPair`]).
    pub async fn read(source: &Session, target: &Session) -> Result<Servers> {
        let (s, t) = tokio::join!(server_facts(source), server_facts(target));
        Ok(Servers {
            source: s.map_err(|e| e.with_side(db_migrate_core::error::Side::Source))?,
            target: t.map_err(|e| e.with_side(db_migrate_core::error::Side::Target))?,
        })
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

/// Reads [`ServerFacts`] through `s` (one query, and one more for the system identifier).
pub async fn server_facts(s: &Session) -> Result<ServerFacts> {
    let provider_roles = PROVIDER_ADMIN_ROLES
        .iter()
        .chain([&RDS_REPLICATION_ROLE])
        .map(|r| db_migrate_core::sql::quote_literal(r))
        .collect::<Vec<_>>()
        .join(", ");
    // pg_create_subscription exists from 16 on; before, no role of that name is found.
    let sql = format!(
        "SELECT r.rolname::text, r.rolsuper, r.rolcreaterole, r.rolreplication, r.rolbypassrls, \
                pg_catalog.current_setting('extwlist.extensions', true), \
                ARRAY(SELECT p.rolname::text FROM pg_catalog.pg_roles p \
                       WHERE p.rolname IN ({provider_roles}) \
                         AND pg_catalog.pg_has_role(r.oid, p.oid, 'MEMBER') ORDER BY 1), \
                EXISTS (SELECT 1 FROM pg_catalog.pg_roles p \
                         WHERE p.rolname = 'pg_create_subscription' \
                           AND pg_catalog.pg_has_role(r.oid, p.oid, 'USAGE')), \
                pg_catalog.current_setting('wal_level'), \
                pg_catalog.current_setting('max_replication_slots')::int8, \
                (SELECT pg_catalog.count(*) FROM pg_catalog.pg_replication_slots), \
                pg_catalog.current_setting('max_wal_senders')::int8, \
                (SELECT pg_catalog.count(*) FROM pg_catalog.pg_stat_replication), \
                pg_catalog.current_setting('max_logical_replication_workers')::int8, \
                (SELECT pg_catalog.count(*) FROM pg_catalog.pg_stat_subscription \
                  WHERE pid IS NOT NULL), \
                pg_catalog.current_setting('max_connections')::int8, \
                CASE WHEN r.rolsuper THEN 0 \
                     ELSE pg_catalog.current_setting('superuser_reserved_connections')::int8 \
                          + coalesce(nullif(pg_catalog.current_setting('reserved_connections', \
                                                                      true), '')::int8, 0) \
                END, \
                (SELECT pg_catalog.count(*) FROM pg_catalog.pg_stat_activity \
                  WHERE backend_type = 'client backend'), \
                CASE WHEN r.rolsuper THEN -1 ELSE r.rolconnlimit::int8 END, \
                (SELECT pg_catalog.count(*) FROM pg_catalog.pg_stat_activity \
                  WHERE backend_type = 'client backend' AND usename = r.rolname), \
                (SELECT g.setting FROM pg_catalog.pg_settings g \
                  WHERE g.name = 'shared_preload_libraries'), \
                EXISTS (SELECT 1 FROM pg_catalog.pg_settings g \
                         WHERE g.name IN ('aiven.pg_security_agent', \
                                          'aiven.pg_security_agent_reserved_roles')), \
                (SELECT g.setting FROM pg_catalog.pg_settings g \
                  WHERE g.name = 'aiven.pg_security_agent_reserved_roles'), \
                pg_catalog.pg_is_in_recovery() \
           FROM pg_catalog.pg_roles r WHERE r.rolname = current_user"
    );
    let row = s
        .query_one(&sql, &[])
        .await
        .map_err(read_error("reading server facts"))?;
    let extwlist: Option<String> = row.get(5);
    let preload: Option<String> = row.get(20);
    let gatekeeper = (preload.as_deref().is_some_and(preloads_gatekeeper)
        || row.get::<_, bool>(21))
    .then(|| Gatekeeper {
        reserved_roles: row
            .get::<_, Option<String>>(22)
            .map(|v| split_list_setting(&v)),
    });

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

    let version_num = s.server_version_num();
    Ok(ServerFacts {
        version_num,
        system_identifier,
        current_user: row.get(0),
        is_superuser: row.get(1),
        createrole: row.get(2),
        replication: row.get(3),
        bypassrls: row.get(4),
        extwlist: extwlist.map(|v| split_list_setting(&v)),
        provider_roles: row.get(6),
        pg_create_subscription: version_num >= 160000 && row.get::<_, bool>(7),
        gatekeeper,
        in_recovery: row.get(23),
        logical: LogicalCapacity {
            wal_level: row.get(8),
            max_replication_slots: row.get(9),
            used_replication_slots: row.get(10),
            max_wal_senders: row.get(11),
            used_wal_senders: row.get(12),
            max_logical_replication_workers: row.get(13),
            used_logical_replication_workers: row.get(14),
        },
        connections: ConnectionSlots {
            max: row.get(15),
            reserved: row.get(16),
            open: row.get(17),
            role_limit: row.get(18),
            role_open: row.get(19),
        },
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

/// The procedural languages of the session's database that were created without an extension
/// (`CREATE LANGUAGE ... HANDLER`, which only a superuser may run), in name order: the schema
/// stage creates them, handler first, where the target has none of that name.
pub async fn standalone_languages(s: &Session) -> Result<Vec<String>> {
    let rows = s
        .query(
            "SELECT l.lanname::text FROM pg_catalog.pg_language l \
              WHERE l.lanispl AND l.oid >= 16384 \
                AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d \
                                 WHERE d.classid = 'pg_catalog.pg_language'::pg_catalog.regclass \
                                   AND d.objid = l.oid AND d.deptype = 'e') \
              ORDER BY l.lanname",
            &[],
        )
        .await
        .map_err(read_error("reading pg_language"))?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// The column compression methods the server was built with (`default_toast_compression`'s
/// choices: `pglz`, and `lz4` only where built with it), or `None` before PostgreSQL 14.
pub async fn toast_compressions(s: &Session) -> Result<Option<Vec<String>>> {
    let rows = s
        .query(
            "SELECT enumvals::text[] FROM pg_catalog.pg_settings \
              WHERE name = 'default_toast_compression'",
            &[],
        )
        .await
        .map_err(read_error(
            "reading default_toast_compression from pg_settings",
        ))?;
    Ok(rows.first().map(|r| r.get(0)))
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
    fn gatekeeper_is_seen_in_preload_libraries_by_name_or_path() {
        assert!(preloads_gatekeeper("aiven_gatekeeper"));
        assert!(preloads_gatekeeper("pg_stat_statements, aiven_gatekeeper"));
        assert!(preloads_gatekeeper("$libdir/aiven_gatekeeper"));
        assert!(preloads_gatekeeper(
            "/work/target/gatekeeper/aiven_gatekeeper"
        ));
        assert!(preloads_gatekeeper(
            "pgaudit,\"/opt/lib/aiven_gatekeeper.so\""
        ));
        assert!(!preloads_gatekeeper(""));
        assert!(!preloads_gatekeeper(
            "pg_stat_statements,aiven_gatekeeper_old"
        ));
        assert!(!preloads_gatekeeper("not_aiven_gatekeeper"));
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
