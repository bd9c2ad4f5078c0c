//! Which catalog rows are the user's: the one definition of the user-schema filter and of
//! `FirstNormalObjectId`, shared by every catalog reader and by the schema engine, and the
//! condition that leaves out an extension's relations ([`EXTENSION_MEMBER`]).
//!
//! Its own file because both are used by nearly every query of `catalog/` and `schema/`, and
//! the catalog must not import them from the schema engine (the data flow runs catalog ->
//! schema, never back).
//!
//! Each comes as a constant for `format!` and as a macro expanding to a literal, so SQL held in
//! a `const` can take it through `concat!` without a second copy of the text.

/// The user-schema condition on a `pg_namespace` alias given as a string literal: not
/// `information_schema`, no `pg_` prefix (`pg_catalog`, `pg_toast`, temporary schemas), not
/// db-migrate's own `db_migrate` (a run's ledger, or the record of a finished migration that
/// stays in each database a run migrated: a server migrated to is often migrated from later,
/// and its records are not the user's schema).
/// `user_schemas!("n")` is [`USER_SCHEMAS`].
macro_rules! user_schemas {
    ($alias:literal) => {
        concat!(
            $alias,
            ".nspname <> 'information_schema' AND ",
            $alias,
            ".nspname !~ '^pg_' AND ",
            $alias,
            ".nspname <> 'db_migrate'"
        )
    };
}
pub(crate) use user_schemas;

/// `FirstNormalObjectId` as an integer literal, for `concat!` in constant SQL. Everything else
/// uses [`FIRST_NORMAL_OBJECT_ID`].
macro_rules! first_normal_object_id {
    () => {
        16384
    };
}
pub(crate) use first_normal_object_id;

/// SQL condition (on a `pg_namespace` alias `n`) that keeps user schemas only.
pub const USER_SCHEMAS: &str = user_schemas!("n");

/// The first OID a user-created object can get (`FirstNormalObjectId`): objects below it were
/// created by initdb (built-in types, functions, the bootstrap superuser, predefined roles).
pub const FIRST_NORMAL_OBJECT_ID: u32 = first_normal_object_id!();

/// SQL condition (on a `pg_class` alias `c`) that holds when the relation belongs to an
/// extension: what `CREATE EXTENSION` makes is never the user's to publish or to list. Here
/// rather than with one of the replication readers, since both the publication's and the
/// tables' queries use it.
pub(crate) const EXTENSION_MEMBER: &str = "EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                     WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
                       AND d.objid = c.oid AND d.deptype = 'e')";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_macros_and_the_constants_agree() {
        assert_eq!(
            USER_SCHEMAS,
            "n.nspname <> 'information_schema' AND n.nspname !~ '^pg_' \
             AND n.nspname <> 'db_migrate'"
        );
        assert_eq!(
            user_schemas!("tn"),
            "tn.nspname <> 'information_schema' AND tn.nspname !~ '^pg_' \
             AND tn.nspname <> 'db_migrate'"
        );
        assert_eq!(FIRST_NORMAL_OBJECT_ID, 16384);
        assert_eq!(concat!(first_normal_object_id!()), "16384");
    }
}
