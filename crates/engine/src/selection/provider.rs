//! Databases and roles that belong to a managed service, not to its user.
//!
//! A managed PostgreSQL keeps its own databases (for its agents and metadata) and roles (its
//! administrators, replication and monitoring agents, the provider's stand-in for superuser).
//! The user cannot connect to those databases (pg_hba rejects them, or `datallowconn` is off)
//! and cannot create those roles on another service (they are superusers or reserved names), so
//! migrating them only fails. They are left out by default, each with one line in the report;
//! naming a database in `--only-db`, or `--include-provider-objects`, brings them back.
//!
//! The names are the ones the providers document as theirs; the README lists them.

/// A provider's reserved databases and roles. Role entries ending in `*` are prefixes that the
/// provider reserves as a whole (`rds_*` on RDS, `cloudsql*` on Cloud SQL).
pub struct Provider {
    pub name: &'static str,
    pub databases: &'static [&'static str],
    pub roles: &'static [&'static str],
}

/// Every provider whose reserved names db-migrate knows.
pub const PROVIDERS: &[Provider] = &[
    Provider {
        // Aurora PostgreSQL uses the same administrative database and roles as RDS.
        name: "AWS RDS / Aurora",
        databases: &["rdsadmin"],
        roles: &[
            "rdsadmin",
            "rdsrepladmin",
            "rdstopmgr",
            "rdsproxyadmin",
            "rds_*",
        ],
    },
    Provider {
        name: "Google Cloud SQL",
        databases: &["cloudsqladmin"],
        roles: &["cloudsql*"],
    },
    Provider {
        name: "Google AlloyDB",
        databases: &["alloydbadmin", "alloydbmetadata"],
        roles: &["alloydb*"],
    },
    Provider {
        name: "Azure Database for PostgreSQL",
        databases: &["azure_maintenance", "azure_sys"],
        roles: &["azure_pg_admin", "azure_superuser", "azuresu"],
    },
    Provider {
        name: "Aiven",
        databases: &["_aiven"],
        roles: &["_aiven*"],
    },
];

fn matches(entry: &str, name: &str) -> bool {
    match entry.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => entry == name,
    }
}

/// The provider a database name belongs to, if any.
pub fn database_provider(name: &str) -> Option<&'static str> {
    PROVIDERS
        .iter()
        .find(|p| p.databases.iter().any(|d| matches(d, name)))
        .map(|p| p.name)
}

/// The provider a role name belongs to, if any.
pub fn role_provider(name: &str) -> Option<&'static str> {
    PROVIDERS
        .iter()
        .find(|p| p.roles.iter().any(|r| matches(r, name)))
        .map(|p| p.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_names_are_recognised() {
        assert_eq!(database_provider("rdsadmin"), Some("AWS RDS / Aurora"));
        assert_eq!(database_provider("cloudsqladmin"), Some("Google Cloud SQL"));
        assert_eq!(database_provider("_aiven"), Some("Aiven"));
        assert_eq!(
            database_provider("azure_maintenance"),
            Some("Azure Database for PostgreSQL")
        );
        assert_eq!(database_provider("shop"), None);
        assert_eq!(role_provider("rds_superuser"), Some("AWS RDS / Aurora"));
        assert_eq!(role_provider("rdsrepladmin"), Some("AWS RDS / Aurora"));
        assert_eq!(role_provider("cloudsqlsuperuser"), Some("Google Cloud SQL"));
        assert_eq!(
            role_provider("azure_pg_admin"),
            Some("Azure Database for PostgreSQL")
        );
        assert_eq!(role_provider("alloydbadmin"), Some("Google AlloyDB"));
        assert_eq!(role_provider("app"), None);
        assert_eq!(role_provider("rds"), None);
    }
}
