//! What the migration user may use in one database to create replication objects without
//! superuser: the `aiven_extras` extension's SECURITY DEFINER functions (looked up by
//! signature, so an older extension version without one of them is seen as such) and `CREATE`
//! on the database (a publication and a `pg_create_subscription` subscription need it), and
//! whether the server offers `aiven_extras` for installation where it is missing (the tool we
//! replace installed it in each target database so that a non-superuser could subscribe).

use db_migrate_conn::Session;
use db_migrate_core::error::Result;
use db_migrate_core::sql::quote_literal;

/// The `aiven_extras` functions the session's database offers, and `CREATE` on it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DatabaseReplicationRights {
    /// `aiven_extras.pg_create_publication_for_all_tables(text, text)`.
    pub pub_all: bool,
    /// `aiven_extras.pg_create_publication(text, text, text[])`.
    pub pub_list: bool,
    /// `aiven_extras.pg_create_subscription(text, text, text, text, boolean, boolean)`.
    pub create_sub: bool,
    /// `aiven_extras.pg_drop_subscription(text)`.
    pub drop_sub: bool,
    /// `aiven_extras.pg_list_all_subscriptions()`.
    pub list_subs: bool,
    /// `aiven_extras.pg_alter_subscription_refresh_publication(text, boolean)`.
    pub refresh_sub: bool,
    /// `aiven_extras.pg_alter_subscription_disable(text)` and `..._enable(text)`.
    pub disable_enable_sub: bool,
    /// `CREATE` on the session's database.
    pub create_in_database: bool,
    /// `aiven_extras` is not installed in the session's database but the server offers it
    /// (`pg_available_extensions`): how its default version installs.
    pub extras_available: Option<ExtrasInstall>,
}

/// What installing the default version of `aiven_extras` needs (its control file).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExtrasInstall {
    /// `superuser = true` in the control file.
    pub superuser: bool,
    /// `trusted = true` (PostgreSQL 13+): a user with CREATE on the database may install it.
    pub trusted: bool,
}

/// The extension's name.
pub const AIVEN_EXTRAS: &str = "aiven_extras";

/// Each right, and the functions it needs (all of them: disabling and enabling come together).
const FUNCTIONS: [&[&str]; 7] = [
    &["aiven_extras.pg_create_publication_for_all_tables(text,text)"],
    &["aiven_extras.pg_create_publication(text,text,text[])"],
    &["aiven_extras.pg_create_subscription(text,text,text,text,boolean,boolean)"],
    &["aiven_extras.pg_drop_subscription(text)"],
    &["aiven_extras.pg_list_all_subscriptions()"],
    &["aiven_extras.pg_alter_subscription_refresh_publication(text,boolean)"],
    &[
        "aiven_extras.pg_alter_subscription_disable(text)",
        "aiven_extras.pg_alter_subscription_enable(text)",
    ],
];

/// Reads [`DatabaseReplicationRights`] on a session to the database.
pub async fn database_replication_rights(s: &Session) -> Result<DatabaseReplicationRights> {
    let exists = FUNCTIONS
        .iter()
        .map(|needs| {
            let each: Vec<String> = needs
                .iter()
                .map(|f| {
                    format!(
                        "pg_catalog.to_regprocedure({}) IS NOT NULL",
                        quote_literal(f)
                    )
                })
                .collect();
            format!("({})", each.join(" AND "))
        })
        .collect::<Vec<_>>()
        .join(", ");
    let trusted = if s.server_version_num() >= 130000 {
        "COALESCE(v.trusted, false)"
    } else {
        "false"
    };
    let row = s
        .query_one(
            &format!(
                "SELECT {exists}, \
                        pg_catalog.has_database_privilege(pg_catalog.current_database(), 'CREATE'), \
                        a.superuser, a.trusted \
                   FROM (SELECT 1) one \
                   LEFT JOIN (SELECT COALESCE(v.superuser, true) AS superuser, {trusted} AS trusted \
                                FROM pg_catalog.pg_available_extensions e \
                                LEFT JOIN pg_catalog.pg_available_extension_versions v \
                                  ON v.name = e.name AND v.version = e.default_version \
                               WHERE e.name = $1 AND e.installed_version IS NULL) a ON true"
            ),
            &[&AIVEN_EXTRAS],
        )
        .await?;
    let extras_available = row
        .get::<_, Option<bool>>(8)
        .map(|superuser| ExtrasInstall {
            superuser,
            trusted: row.get::<_, Option<bool>>(9).unwrap_or(false),
        });
    Ok(DatabaseReplicationRights {
        pub_all: row.get(0),
        pub_list: row.get(1),
        create_sub: row.get(2),
        drop_sub: row.get(3),
        list_subs: row.get(4),
        refresh_sub: row.get(5),
        disable_enable_sub: row.get(6),
        create_in_database: row.get(7),
        extras_available,
    })
}
