//! What the connected user may create objects as and in: whether it is a superuser, the roles
//! it may make owners of objects (`SET` on PostgreSQL 16+, `MEMBER` before), and each
//! tablespace with whether it may create objects there. Read on the target by the schema
//! executor ([`crate::schema::ExecState::read`]), which decides per object whether to set its
//! owner and tablespace.
//!
//! Its own file because these three reads are one question (what may this user create, and
//! how) that belongs to no object family; the executor keeps the decisions.

use db_migrate_conn::Session;
use db_migrate_core::error::{Error, Result};

/// What the connected user may create as and in (see the module doc).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserRights {
    /// `current_user`.
    pub user: String,
    /// `rolsuper` of `current_user`.
    pub superuser: bool,
    /// Roles whose `pg_has_role(current_user, role, 'SET')` (`'MEMBER'` before 16) is true.
    pub can_own_as: Vec<String>,
    /// Every tablespace, with `has_tablespace_privilege(.., 'CREATE')`.
    pub tablespaces: Vec<(String, bool)>,
}

/// Reads [`UserRights`] on `s`.
pub async fn user_rights(s: &Session) -> Result<UserRights> {
    let row = s
        .query_one(
            "SELECT rolsuper, rolname::text FROM pg_catalog.pg_roles \
              WHERE rolname = current_user",
            &[],
        )
        .await
        .map_err(Error::from_pg)?;
    let (superuser, user): (bool, String) = (row.get(0), row.get(1));
    let privilege = if s.server_version_num() >= 160000 {
        "SET"
    } else {
        "MEMBER"
    };
    let can_own_as = s
        .query(
            &format!(
                "SELECT rolname::text FROM pg_catalog.pg_roles \
                  WHERE pg_catalog.pg_has_role(current_user, oid, '{privilege}')"
            ),
            &[],
        )
        .await
        .map_err(Error::from_pg)?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let tablespaces = s
        .query(
            "SELECT spcname::text, \
                    pg_catalog.has_tablespace_privilege(oid, 'CREATE') \
               FROM pg_catalog.pg_tablespace",
            &[],
        )
        .await
        .map_err(Error::from_pg)?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    Ok(UserRights {
        user,
        superuser,
        can_own_as,
        tablespaces,
    })
}

/// The schemas of the session's database in which the session's user may not create objects
/// (`has_schema_privilege(..., 'CREATE')`, memberships included): objects the source keeps
/// there are refused on the target whatever they are made of. The schema rehearsal rehearses
/// every object of these (`crate::schema::rehearsal`).
pub async fn schemas_without_create(s: &Session) -> Result<Vec<String>> {
    let rows = s
        .query(
            "SELECT n.nspname::text FROM pg_catalog.pg_namespace n \
              WHERE NOT pg_catalog.has_schema_privilege(n.oid, 'CREATE') ORDER BY 1",
            &[],
        )
        .await
        .map_err(|e| {
            Error::from_pg(e).with_step("reading the schemas the user may not create in")
        })?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}
