//! Privileges of `pg_catalog` and `information_schema` objects that differ from their initial
//! ones ([`db_migrate_catalog::system_acls`]): objects with no statements to create them, only
//! GRANT / REVOKE, run after the data. Changing them needs the bootstrap superuser or a grant
//! option: where the target refuses, each is a warning naming the object ("privileges not
//! applied"); `--no-acl` leaves them out like every other privilege.

use std::collections::BTreeMap;

use crate::model::{
    Collected, ObjId, ObjectKind, SchemaObject, Section, acl_sql, class, parse_aclitem,
};
use db_migrate_catalog::system_acls::{SystemAclRow, list_system_acls};
use db_migrate_conn::Session;
use db_migrate_core::error::Result;
use db_migrate_core::sql::quote_ident;

/// One object per system relation or function (its columns' privileges included).
pub async fn collect(s: &Session) -> Result<Collected> {
    let mut objects: BTreeMap<ObjId, SchemaObject> = BTreeMap::new();
    for r in list_system_acls(s).await? {
        let acl = system_acl_statements(&r);
        if acl.is_empty() {
            continue;
        }
        let classid = if r.is_function {
            class::PG_PROC
        } else {
            class::PG_CLASS
        };
        let id = ObjId::new(classid, r.oid);
        objects
            .entry(id)
            .or_insert_with(|| {
                SchemaObject::new(
                    id,
                    ObjectKind::SystemPrivileges,
                    Section::PostData,
                    None,
                    r.object.clone(),
                )
            })
            .extend_acl(acl);
    }
    Ok(Collected {
        objects: objects.into_values().collect(),
        ..Default::default()
    })
}

/// The REVOKE / GRANT statements that turn the initial privileges into the source's.
pub fn system_acl_statements(r: &SystemAclRow) -> Vec<String> {
    match &r.column {
        None => acl_sql(&r.object, &r.owner, r.acl.as_deref(), &r.initial, None),
        Some(col) => {
            // Column privileges are not rebuilt by acl_sql: revoke the initial ones first.
            let mut out: Vec<String> = r
                .initial
                .iter()
                .filter_map(|a| parse_aclitem(a))
                .map(|a| {
                    format!(
                        "REVOKE ALL ({}) ON {} FROM {}",
                        quote_ident(col),
                        r.object,
                        a.grantee
                            .as_deref()
                            .map_or("PUBLIC".to_string(), quote_ident)
                    )
                })
                .collect();
            out.extend(acl_sql(
                &r.object,
                &r.owner,
                Some(r.acl.as_deref().unwrap_or(&[])),
                &[],
                Some(col),
            ));
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hardening_revoke_and_a_column_grant_are_replayed() {
        let revoke = SystemAclRow {
            oid: 1,
            object: "FUNCTION pg_catalog.now()".into(),
            owner: "postgres".into(),
            acl: Some(vec!["postgres=X/postgres".into()]),
            initial: vec!["=X/postgres".into(), "postgres=X/postgres".into()],
            is_function: true,
            ..Default::default()
        };
        assert_eq!(
            system_acl_statements(&revoke),
            vec!["REVOKE EXECUTE ON FUNCTION pg_catalog.now() FROM PUBLIC",]
        );
        let column = SystemAclRow {
            oid: 2,
            object: "TABLE pg_catalog.pg_proc".into(),
            column: Some("prosrc".into()),
            owner: "postgres".into(),
            acl: Some(vec!["auditor=r/postgres".into()]),
            ..Default::default()
        };
        assert_eq!(
            system_acl_statements(&column),
            vec!["GRANT SELECT (\"prosrc\") ON TABLE pg_catalog.pg_proc TO \"auditor\""]
        );
    }
}
