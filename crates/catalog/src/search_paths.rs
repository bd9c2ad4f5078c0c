//! What decides the search_path that a `LANGUAGE sql` function's body is parsed with when the
//! server inlines it into a generated column, an index expression, a CHECK constraint or a
//! materialized view: the session's. On the source that was the search_path the application's
//! role was given (`ALTER ROLE app_admin [IN DATABASE d] SET search_path ...`, or `ALTER
//! DATABASE d SET search_path ...`); our sessions run with an empty one, so a body naming a
//! function unqualified fails (`function st_makeenvelope(...) does not exist`).
//!
//! Read here: each role's search_path as the source gives it in this database (role in
//! database, then role, then database: the order the server applies them), the SQL functions
//! whose body is parsed at inlining (no `SET search_path` of their own, no pre-parsed `BEGIN
//! ATOMIC` body), and the schema of each extension (an extension's SQL functions, such as
//! earthdistance's `ll_to_earth`, name their own types unqualified and assume the extension's
//! schema on the path).

use std::collections::{HashMap, HashSet};

use db_migrate_conn::Session;
use db_migrate_core::error::{Error, Result};

/// The facts of one source database (see the module docs).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchPathFacts {
    /// Role name -> (its search_path as stored, e.g. `app, public`; where it was set).
    pub roles: HashMap<String, (String, SetAt)>,
    /// The database's own `ALTER DATABASE ... SET search_path`, for roles with none of theirs.
    pub database: Option<String>,
    /// OIDs of the `LANGUAGE sql` functions whose body is parsed with the session's search_path.
    pub sql_functions: HashSet<u32>,
    /// Extension OID -> the schema it was created in.
    pub extension_schemas: HashMap<u32, String>,
}

/// Where a role's search_path was set on the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetAt {
    /// `ALTER ROLE r IN DATABASE d SET`.
    RoleInDatabase,
    /// `ALTER ROLE r SET`.
    Role,
}

impl SearchPathFacts {
    /// The search_path the source gives `role` in this database and where it comes from, or
    /// `None` when the source sets none (then nothing is set for it here either).
    pub fn of(&self, role: &str) -> Option<(&str, &'static str)> {
        match self.roles.get(role) {
            Some((p, SetAt::RoleInDatabase)) => Some((p, "ALTER ROLE ... IN DATABASE ... SET")),
            Some((p, SetAt::Role)) => Some((p, "ALTER ROLE ... SET")),
            None => self
                .database
                .as_deref()
                .map(|p| (p, "ALTER DATABASE ... SET")),
        }
    }
}

/// The `search_path` value of a stored `setconfig` array, if any.
const PATH_OF: &str = "(SELECT substr(c, 13) FROM pg_catalog.unnest(s.setconfig) c \
                       WHERE c LIKE 'search\\_path=%' LIMIT 1)";

/// Reads the facts of the session's database. `pg_db_role_setting` is readable by every user
/// on stock PostgreSQL; where a provider revoked it, no search_path is known (and none is set).
pub async fn read(s: &Session) -> Result<SearchPathFacts> {
    let mut facts = SearchPathFacts::default();
    let settings = s
        .query(
            &format!(
                "SELECT r.rolname::text, s.setdatabase <> 0, {PATH_OF}
                   FROM pg_catalog.pg_db_role_setting s
                   LEFT JOIN pg_catalog.pg_roles r ON r.oid = s.setrole
                  WHERE s.setdatabase IN (0, (SELECT d.oid FROM pg_catalog.pg_database d
                                               WHERE d.datname = pg_catalog.current_database()))
                    AND NOT (s.setrole = 0 AND s.setdatabase = 0)"
            ),
            &[],
        )
        .await;
    match settings {
        Ok(rows) => {
            for r in rows {
                let (role, in_db, path): (Option<String>, bool, Option<String>) =
                    (r.get(0), r.get(1), r.get(2));
                let Some(path) = path else { continue };
                match role {
                    None => facts.database = Some(path),
                    Some(role) => {
                        let at = if in_db {
                            SetAt::RoleInDatabase
                        } else {
                            SetAt::Role
                        };
                        let e = facts.roles.entry(role).or_insert((path.clone(), at));
                        if at == SetAt::RoleInDatabase {
                            *e = (path, at);
                        }
                    }
                }
            }
        }
        Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE) => {
            tracing::debug!("pg_db_role_setting is not readable; no owner search_path known");
        }
        Err(e) => return Err(Error::from_pg(e).with_step("reading pg_db_role_setting")),
    }
    let atomic = if s.server_version_num() >= 140000 {
        "AND p.prosqlbody IS NULL"
    } else {
        ""
    };
    let functions = s
        .query(
            &format!(
                "SELECT p.oid::int8 FROM pg_catalog.pg_proc p
                  WHERE p.prolang = (SELECT l.oid FROM pg_catalog.pg_language l
                                      WHERE l.lanname = 'sql')
                    AND p.pronamespace <> 'pg_catalog'::pg_catalog.regnamespace {atomic}
                    AND NOT EXISTS (SELECT 1 FROM pg_catalog.unnest(p.proconfig) c
                                     WHERE c LIKE 'search\\_path=%')"
            ),
            &[],
        )
        .await
        .map_err(|e| Error::from_pg(e).with_step("listing SQL functions"))?;
    facts.sql_functions = functions
        .iter()
        .map(|r| r.get::<_, i64>(0) as u32)
        .collect();
    let extensions = s
        .query(
            "SELECT e.oid::int8, n.nspname::text FROM pg_catalog.pg_extension e
               JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace",
            &[],
        )
        .await
        .map_err(|e| Error::from_pg(e).with_step("listing extension schemas"))?;
    facts.extension_schemas = extensions
        .iter()
        .map(|r| (r.get::<_, i64>(0) as u32, r.get(1)))
        .collect();
    Ok(facts)
}
