//! How the target creates an extension the source has at some version (see
//! [`crate::extensions`]): as written when the target offers the source's version, at the
//! target's default with a warning when it does not, not at all when the target does not offer
//! the extension. The executor's decision, made from what the target offers
//! ([`ExecState::extensions`]), so here with the executor.

use super::ExecState;
use crate::extensions::create_extension_sql;
use crate::model::SchemaObject;
use db_migrate_core::sql::quote_ident;

/// What the target makes of an extension object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionPlan {
    /// Create it as written (the target offers the source's version, or what the target offers
    /// is unknown: a script for review).
    AsWritten,
    /// The target lacks the source's version: create its default instead, with this warning.
    Default { statement: String, warning: String },
    /// The target does not offer the extension at all: skip it (and its dependents).
    Missing { reason: String },
}

/// How `o` (an [`ObjectKind::Extension`](crate::model::ObjectKind::Extension)) is created on a
/// target with `state`.
pub fn version_plan(o: &SchemaObject, state: &ExecState) -> VersionPlan {
    let (Some(spec), Some(offered)) = (o.extension(), &state.extensions) else {
        return VersionPlan::AsWritten;
    };
    let Some(offer) = offered.get(&spec.name) else {
        return VersionPlan::Missing {
            reason: format!(
                "the target server does not offer extension {} (version {} in the source): its \
                 files are not installed there",
                quote_ident(&spec.name),
                spec.version
            ),
        };
    };
    if offer.versions.contains(&spec.version) {
        return VersionPlan::AsWritten;
    }
    let default = offer.default.as_deref().unwrap_or("(none)");
    VersionPlan::Default {
        statement: create_extension_sql(spec, None),
        warning: format!(
            "{} is created at the target's default version {default}: the source has version \
             {}, which the target does not offer (it offers {})",
            o.describe(),
            spec.version,
            if offer.versions.is_empty() {
                "none".to_string()
            } else {
                offer.versions.join(", ")
            }
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ExtensionSpec, ObjId, ObjectKind, Section, class};
    use db_migrate_catalog::extensions::Offered;

    fn extension(name: &str, version: &str) -> SchemaObject {
        let spec = ExtensionSpec {
            name: name.into(),
            schema: "public".into(),
            version: version.into(),
        };
        let mut o = SchemaObject::new(
            ObjId::new(class::PG_EXTENSION, 20000),
            ObjectKind::Extension,
            Section::PreData,
            None,
            name,
        );
        o.create.push(create_extension_sql(&spec, Some(version)));
        o.set_extension(spec);
        o
    }

    fn offering(name: &str, versions: &[&str], default: &str) -> ExecState {
        ExecState {
            extensions: Some(
                [(
                    name.to_string(),
                    Offered {
                        versions: versions.iter().map(|v| v.to_string()).collect(),
                        default: Some(default.into()),
                    },
                )]
                .into(),
            ),
            ..Default::default()
        }
    }

    #[test]
    fn the_source_version_is_asked_for_and_kept_when_offered() {
        let o = extension("postgis", "3.3.2");
        assert_eq!(
            o.create,
            vec![
                "CREATE EXTENSION IF NOT EXISTS \"postgis\" WITH SCHEMA \"public\" VERSION '3.3.2'"
            ]
        );
        let state = offering("postgis", &["3.3.1", "3.3.2"], "3.3.2");
        assert_eq!(version_plan(&o, &state), VersionPlan::AsWritten);
        // A script for review knows nothing of the target.
        assert_eq!(
            version_plan(&o, &ExecState::default()),
            VersionPlan::AsWritten
        );
    }

    #[test]
    fn a_version_the_target_lacks_falls_back_to_its_default_with_both_named() {
        let o = extension("postgis", "3.4.2");
        let state = offering("postgis", &["3.3.2"], "3.3.2");
        let VersionPlan::Default { statement, warning } = version_plan(&o, &state) else {
            panic!("expected the default version");
        };
        assert_eq!(
            statement,
            "CREATE EXTENSION IF NOT EXISTS \"postgis\" WITH SCHEMA \"public\""
        );
        assert!(
            warning.contains("3.4.2") && warning.contains("3.3.2"),
            "{warning}"
        );
        let missing = version_plan(&o, &offering("hstore", &["1.8"], "1.8"));
        assert!(
            matches!(&missing, VersionPlan::Missing { reason } if reason.contains("\"postgis\"")),
            "{missing:?}"
        );
    }
}
