//! Extensions: what `CREATE EXTENSION` makes on the target is never created again one by one,
//! and what users added to or changed on an extension's objects comes along.
//!
//! - Members (`pg_depend.deptype = 'e'`) are left out of the schema ([`left_to_extension`]),
//!   and so are the pieces that exist only because of a member: `OWNED BY` of a member
//!   sequence, the attachment of a member partition, the refresh of a member materialized
//!   view.
//! - What hangs off a member table (indexes, constraints, triggers, policies, rules, extended
//!   statistics) has no `pg_depend` mark telling whether the extension's script made it or a
//!   user added it later. So each is kept as an [`ExtensionPart`], and once the target's
//!   `CREATE EXTENSION` has run, those of the same name on the same table there are dropped
//!   from the schema ([`drop_provided`]): what remains is what users added (an extra GiST
//!   index on `spatial_ref_sys`, a trigger, a policy), created like any other object.
//! - Privileges of members that differ from what the extension's script left
//!   (`pg_init_privs`) are replayed, after the extension ([`member_acl_objects`]).
//! - Comments on members (and their columns) are the script's or a user's, which the catalog
//!   does not tell: each is kept ([`member_comment_objects`]), and [`drop_provided`] drops
//!   those the target's `CREATE EXTENSION` gave the same text; the others are set in
//!   post-data.
//! - `CREATE EXTENSION ... VERSION` names the source's version; when the target does not
//!   offer it, the target's default is installed with a warning naming both
//!   (the executor's [`version_plan`](crate::exec::version_plan)); an extension the target
//!   does not offer at all is skipped with a warning, and so is everything that depends on it.
//! - The rows of configuration tables (`extconfig`, selected by `extcondition`) are the data
//!   engine's job ([`crate::copy`]).

use std::collections::HashSet;

pub use super::model::ExtensionSpec;
use super::model::{ObjId, ObjectKind, SchemaObject, Section, acl_delta_sql, class};
use super::relations::synthetic;
pub use super::schema::ExtensionPart;
use super::schema::Schema;
use db_migrate_catalog::extensions::{
    MemberAcl, MemberComment, TablePartName, existing_parts, list_member_comments, list_members,
};
use db_migrate_catalog::relations::RelationCatalog;
use db_migrate_conn::Session;
use db_migrate_core::error::Result;
use db_migrate_core::sql::{quote_ident, quote_literal};
use db_migrate_core::warning::Warning;

/// Identities of the privilege objects of extension members: `pg_init_privs` rows never appear
/// in `pg_depend`, so `(pg_init_privs, member OID)` cannot collide with a real object.
pub const MEMBER_ACL: u32 = 3394;
/// Identities of the comment objects of extension members (`pg_description`'s OID), numbered
/// by their position in [`Schema::member_comments`].
pub const MEMBER_COMMENT: u32 = 2609;

/// `CREATE EXTENSION IF NOT EXISTS "name" WITH SCHEMA "schema" [VERSION 'v']`.
pub fn create_extension_sql(spec: &ExtensionSpec, version: Option<&str>) -> String {
    let mut sql = format!(
        "CREATE EXTENSION IF NOT EXISTS {} WITH SCHEMA {}",
        quote_ident(&spec.name),
        quote_ident(&spec.schema)
    );
    if let Some(v) = version {
        sql.push_str(&format!(" VERSION {}", quote_literal(v)));
    }
    sql
}

/// Whether `o` is made by `CREATE EXTENSION` rather than by us: a member, or a piece that
/// exists only because of one (see the module docs). Extensions themselves are not.
pub fn left_to_extension(o: &SchemaObject, members: &HashSet<ObjId>) -> bool {
    if o.kind == ObjectKind::Extension {
        return false;
    }
    if members.contains(&o.id) {
        return true;
    }
    matches!(
        o.id.classid,
        synthetic::OWNED_BY | synthetic::ATTACH | synthetic::REFRESH
    ) && members.contains(&ObjId::new(class::PG_CLASS, o.id.objid))
}

/// The indexes, constraints, triggers, policies, rules and extended statistics of the tables
/// in `members`.
pub fn parts_on_member_tables(
    cat: &RelationCatalog,
    members: &HashSet<ObjId>,
) -> Vec<ExtensionPart> {
    let tables: std::collections::HashMap<u32, (&str, &str)> = cat
        .relations
        .iter()
        .filter(|r| members.contains(&ObjId::new(class::PG_CLASS, r.oid)))
        .map(|r| (r.oid, (r.schema.as_str(), r.name.as_str())))
        .collect();
    let mut out = Vec::new();
    let mut add = |relid: u32, kind: &'static str, id: ObjId, name: &str| {
        if let Some((schema, table)) = tables.get(&relid) {
            out.push(ExtensionPart {
                id,
                name: TablePartName {
                    kind,
                    schema: schema.to_string(),
                    table: table.to_string(),
                    name: name.to_string(),
                },
            });
        }
    };
    for i in &cat.indexes {
        add(
            i.relid,
            "index",
            ObjId::new(class::PG_CLASS, i.oid),
            &i.name,
        );
    }
    for c in &cat.constraints {
        let id = ObjId::new(class::PG_CONSTRAINT, c.oid);
        add(c.relid, "constraint", id, &c.name);
    }
    for t in &cat.triggers {
        add(
            t.relid,
            "trigger",
            ObjId::new(class::PG_TRIGGER, t.oid),
            &t.name,
        );
    }
    for p in &cat.policies {
        add(
            p.relid,
            "policy",
            ObjId::new(class::PG_POLICY, p.oid),
            &p.name,
        );
    }
    for r in cat.rules.iter().filter(|r| !r.is_view_rule) {
        add(
            r.relid,
            "rule",
            ObjId::new(class::PG_REWRITE, r.oid),
            &r.name,
        );
    }
    for s in &cat.statistics {
        let id = ObjId::new(class::PG_STATISTIC_EXT, s.oid);
        add(s.relid, "statistics", id, &s.name);
    }
    out
}

/// What the target's `CREATE EXTENSION`s made already (see [`drop_provided`]), found without
/// changing the schema: the objects to leave out, the objects to add (comment removals, at
/// level 0) and the warnings.
pub struct Provided {
    pub there: HashSet<ObjId>,
    pub extra: Vec<SchemaObject>,
    pub warnings: Vec<Warning>,
}

/// Finds what [`drop_provided`] drops and adds, leaving `schema` as it is: the rehearsal
/// creates the schema without changing it, so that the run can use the very same copy.
pub async fn provided(target: &Session, schema: &Schema) -> Result<Provided> {
    let mut warnings = Vec::new();
    let mut extra = Vec::new();
    let names: Vec<TablePartName> = schema
        .extension_parts
        .iter()
        .map(|p| p.name.clone())
        .collect();
    let mut there: HashSet<ObjId> = existing_parts(target, &names)
        .await?
        .into_iter()
        .filter_map(|i| schema.extension_parts.get(i).map(|p| p.id))
        .collect();
    if !schema.extension_members.is_empty() {
        let (comments, members) =
            futures::try_join!(list_member_comments(target), list_members(target))?;
        warnings = uncarried_comments(&schema.member_comments, &comments);
        there.extend(comments_not_to_set(
            &schema.member_comments,
            &comments,
            &members,
        ));
        let removals = comments_to_remove(
            &schema.member_comments,
            &schema.extension_members,
            &comments,
        );
        let first = schema.member_comments.len() as u32 + 1;
        for (n, row) in removals.into_iter().enumerate() {
            let id = ObjId::new(MEMBER_COMMENT, first + n as u32);
            if let Some(mut o) = comment_object(id, row, None) {
                // `row.extension` is the target's OID; the extension exists since pre-data.
                o.deps.clear();
                extra.push(o);
            }
        }
    }
    Ok(Provided {
        there,
        extra,
        warnings,
    })
}

/// Drops from `schema` the parts of member tables that the target's `CREATE EXTENSION`
/// already made (same kind and name on the same table), and returns how many. Comments the
/// target's script set on members whose comment a source user removed are removed
/// ([`comments_to_remove`]). Runs after pre-data, before post-data. Returns also the warnings
/// for member comments that cannot be carried and differ on the target
/// ([`uncarried_comments`]).
pub async fn drop_provided(target: &Session, schema: &mut Schema) -> Result<(usize, Vec<Warning>)> {
    let Provided {
        there,
        extra,
        warnings,
    } = provided(target, schema).await?;
    let dropped = drop_objects(schema, &there);
    for o in extra {
        schema.objects.push(o);
        schema.levels.push(0);
    }
    Ok((dropped, warnings))
}

/// Whether `(object_type, identity)` is one of `members`, or a column of one of them.
fn is_member(members: &HashSet<(&str, &str)>, object_type: &str, identity: &str) -> bool {
    match object_type.strip_suffix(" column") {
        Some(table) => identity
            .rsplit_once('.')
            .is_some_and(|(rel, _)| members.contains(&(table, rel))),
        None => members.contains(&(object_type, identity)),
    }
}

fn member_set(members: &[(String, String)]) -> HashSet<(&str, &str)> {
    members
        .iter()
        .map(|(t, i)| (t.as_str(), i.as_str()))
        .collect()
}

/// The comment objects of `source` members not to set on the target: those whose comment the
/// target's member already has, and those of members the target's extension does not have
/// (the extension is missing or of another version, which is a warning of its own).
fn comments_not_to_set(
    source: &[MemberComment],
    target: &[MemberComment],
    target_members: &[(String, String)],
) -> Vec<ObjId> {
    let same: HashSet<(&str, &str, &str)> = target
        .iter()
        .map(|c| {
            (
                c.object_type.as_str(),
                c.identity.as_str(),
                c.comment.as_str(),
            )
        })
        .collect();
    let members = member_set(target_members);
    (source.iter().enumerate())
        .filter(|(_, c)| {
            same.contains(&(
                c.object_type.as_str(),
                c.identity.as_str(),
                c.comment.as_str(),
            )) || !is_member(&members, &c.object_type, &c.identity)
        })
        .map(|(n, _)| ObjId::new(MEMBER_COMMENT, n as u32 + 1))
        .collect()
}

/// The target's comments on members that the source also has as members, without a comment:
/// the extension's script set them and a user removed them on the source
/// (`COMMENT ON ... IS NULL`), so they are removed on the target too.
fn comments_to_remove<'t>(
    source: &[MemberComment],
    source_members: &[(String, String)],
    target: &'t [MemberComment],
) -> Vec<&'t MemberComment> {
    let commented: HashSet<(&str, &str)> = source
        .iter()
        .map(|c| (c.object_type.as_str(), c.identity.as_str()))
        .collect();
    let members = member_set(source_members);
    target
        .iter()
        .filter(|c| {
            !commented.contains(&(c.object_type.as_str(), c.identity.as_str()))
                && is_member(&members, &c.object_type, &c.identity)
        })
        .collect()
}

/// `COMMENT ON ... IS 'text'` (`None`: `IS NULL`) on one extension member, a post-data object
/// after the extension; `None` for a kind that has no `COMMENT ON` form here.
fn comment_object(id: ObjId, r: &MemberComment, text: Option<&str>) -> Option<SchemaObject> {
    let kw = super::model::identified_keyword(&r.object_type)?;
    let mut o = SchemaObject::new(
        id,
        ObjectKind::MemberComment,
        Section::PostData,
        None,
        format!(
            "comment on {} {} (member of an extension)",
            r.object_type, r.identity
        ),
    );
    o.push_comment(format!(
        "COMMENT ON {kw} {} IS {}",
        r.identity,
        text.map_or_else(|| "NULL".to_string(), quote_literal)
    ));
    o.deps = vec![ObjId::new(class::PG_EXTENSION, r.extension)];
    Some(o)
}

/// One post-data object per comment of an extension member, `COMMENT ON ... IS ...` after the
/// extension (see [`drop_provided`] for the ones the target already has). A kind that has no
/// `COMMENT ON` form here is left out; [`uncarried_comments`] names it once the target's
/// comments are known, unless the target's `CREATE EXTENSION` set the same comment.
pub fn member_comment_objects(rows: &[MemberComment]) -> Vec<SchemaObject> {
    rows.iter()
        .enumerate()
        .filter_map(|(n, r)| {
            comment_object(
                ObjId::new(MEMBER_COMMENT, n as u32 + 1),
                r,
                Some(&r.comment),
            )
        })
        .collect()
}

/// A warning for each comment of a source member of a kind that has no `COMMENT ON` form here
/// whose target member does not already have it (the target's `CREATE EXTENSION` sets the
/// script's own comments: no false alarm for those).
pub fn uncarried_comments(source: &[MemberComment], target: &[MemberComment]) -> Vec<Warning> {
    let same: HashSet<(&str, &str, &str)> = target
        .iter()
        .map(|c| {
            (
                c.object_type.as_str(),
                c.identity.as_str(),
                c.comment.as_str(),
            )
        })
        .collect();
    source
        .iter()
        .filter(|r| comment_object(ObjId::new(MEMBER_COMMENT, 0), r, Some(&r.comment)).is_none())
        .filter(|r| {
            !same.contains(&(
                r.object_type.as_str(),
                r.identity.as_str(),
                r.comment.as_str(),
            ))
        })
        .map(|r| {
            Warning::schema(format!(
                "the comment on {} {} (member of an extension) is not migrated: comments \
                 on that kind of member are not carried, and the target's extension has \
                 another",
                r.object_type, r.identity
            ))
            .on(format!("{} {}", r.object_type, r.identity))
        })
        .collect()
}

/// Removes the objects whose identities are in `ids` (with their levels); returns how many.
/// In place: a second vector of every object would double the schema's size for a moment.
fn drop_objects(schema: &mut Schema, ids: &HashSet<ObjId>) -> usize {
    if ids.is_empty() {
        return 0;
    }
    let before = schema.objects.len();
    let objects = &schema.objects;
    let mut i = 0;
    schema.levels.retain(|_| {
        i += 1;
        !ids.contains(&objects[i - 1].id)
    });
    schema.objects.retain(|o| !ids.contains(&o.id));
    before - schema.objects.len()
}

/// One object per member whose privileges differ from what its extension's script left:
/// the statements that turn those into the source's, run after the extension.
pub fn member_acl_objects(rows: &[MemberAcl]) -> Vec<SchemaObject> {
    rows.iter()
        .map(|r| {
            let kind = match r.keyword.as_str() {
                "SEQUENCE" => ObjectKind::Sequence,
                "FUNCTION" | "PROCEDURE" => ObjectKind::Function,
                "TYPE" => ObjectKind::Type,
                "SCHEMA" => ObjectKind::Schema,
                "FOREIGN DATA WRAPPER" => ObjectKind::ForeignDataWrapper,
                "FOREIGN SERVER" => ObjectKind::ForeignServer,
                "LANGUAGE" => ObjectKind::Language,
                _ => ObjectKind::Table,
            };
            let mut o = SchemaObject::new(
                ObjId::new(MEMBER_ACL, r.objid),
                kind,
                Section::PreData,
                None,
                format!("{} (member of an extension)", r.identity),
            );
            o.set_acl(acl_delta_sql(
                &format!("{} {}", r.keyword, r.identity),
                &r.owner,
                &r.acl,
                &r.initial,
            ));
            o.deps = vec![
                ObjId::new(class::PG_EXTENSION, r.extension),
                ObjId::new(r.classid, r.objid),
            ];
            o
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn comment(object_type: &str, identity: &str, text: &str) -> MemberComment {
        MemberComment {
            extension: 16500,
            object_type: object_type.into(),
            identity: identity.into(),
            comment: text.into(),
        }
    }

    #[test]
    fn member_comments_are_set_only_where_the_targets_extension_differs() {
        let source = [
            comment("function", "public.st_area(geometry)", "the script's"),
            comment("function", "public.st_buffer(geometry)", "ours"),
            comment("table column", "public.spatial_ref_sys.srtext", "ours too"),
            comment("function", "public.gone_in_that_version()", "x"),
            comment("text search parser", "public.p", "x"),
        ];
        let objects = member_comment_objects(&source);
        assert_eq!(objects.len(), 4);
        // A kind without COMMENT ON here is a warning, unless the target has that comment.
        let differs = [comment("text search parser", "public.p", "the script's")];
        assert_eq!(uncarried_comments(&source, &differs).len(), 1);
        let equal = [comment("text search parser", "public.p", "x")];
        assert!(uncarried_comments(&source, &equal).is_empty());
        assert_eq!(
            objects[1].comments(),
            ["COMMENT ON FUNCTION public.st_buffer(geometry) IS 'ours'"]
        );
        assert_eq!(objects[1].section, Section::PostData);
        assert_eq!(
            objects[2].comments(),
            ["COMMENT ON COLUMN public.spatial_ref_sys.srtext IS 'ours too'"]
        );
        let target = [
            comment("function", "public.st_area(geometry)", "the script's"),
            comment("function", "public.st_buffer(geometry)", "the script's"),
        ];
        let members = [
            (
                "function".to_string(),
                "public.st_area(geometry)".to_string(),
            ),
            (
                "function".to_string(),
                "public.st_buffer(geometry)".to_string(),
            ),
            ("table".to_string(), "public.spatial_ref_sys".to_string()),
        ];
        // Same text there, and a member the target's extension lacks: not set.
        assert_eq!(
            comments_not_to_set(&source, &target, &members),
            [
                ObjId::new(MEMBER_COMMENT, 1),
                ObjId::new(MEMBER_COMMENT, 4),
                ObjId::new(MEMBER_COMMENT, 5)
            ]
        );
    }

    #[test]
    fn script_comments_a_source_user_removed_are_removed() {
        let source = [comment("function", "public.st_area(geometry)", "ours")];
        let members = [
            (
                "function".to_string(),
                "public.st_area(geometry)".to_string(),
            ),
            ("function".to_string(), "public.st_x(geometry)".to_string()),
            ("table".to_string(), "public.spatial_ref_sys".to_string()),
        ];
        let target = [
            comment("function", "public.st_area(geometry)", "the script's"),
            comment("function", "public.st_x(geometry)", "the script's"),
            comment(
                "table column",
                "public.spatial_ref_sys.srtext",
                "the script's",
            ),
            comment(
                "function",
                "public.only_in_the_targets_version()",
                "the script's",
            ),
        ];
        let removed = comments_to_remove(&source, &members, &target);
        // Set on the source (replaced, not removed) and unknown to the source: left alone.
        assert_eq!(removed, [&target[1], &target[2]]);
        let o = comment_object(ObjId::new(MEMBER_COMMENT, 2), removed[0], None).unwrap();
        assert_eq!(
            o.comments(),
            ["COMMENT ON FUNCTION public.st_x(geometry) IS NULL"]
        );
        assert_eq!(o.section, Section::PostData);
    }
    use db_migrate_catalog::relations::{Constraint, Index, Relation};

    #[test]
    fn pieces_of_members_are_left_to_the_extension() {
        let members: HashSet<ObjId> = [ObjId::new(class::PG_CLASS, 5)].into();
        let seq = SchemaObject::new(
            ObjId::new(class::PG_CLASS, 5),
            ObjectKind::Sequence,
            Section::PreData,
            Some("s"),
            "q",
        );
        let owned = SchemaObject::new(
            ObjId::new(synthetic::OWNED_BY, 5),
            ObjectKind::SequenceOwnedBy,
            Section::PreData,
            Some("s"),
            "q",
        );
        let other = SchemaObject::new(
            ObjId::new(synthetic::OWNED_BY, 6),
            ObjectKind::SequenceOwnedBy,
            Section::PreData,
            Some("s"),
            "r",
        );
        assert!(left_to_extension(&seq, &members));
        assert!(left_to_extension(&owned, &members));
        assert!(!left_to_extension(&other, &members));
    }

    #[test]
    fn parts_of_member_tables_are_named_for_the_target_check() {
        let cat = RelationCatalog {
            relations: vec![
                Relation {
                    oid: 1,
                    schema: "public".into(),
                    name: "spatial_ref_sys".into(),
                    kind: 'r',
                    ..Default::default()
                },
                Relation {
                    oid: 2,
                    schema: "public".into(),
                    name: "mine".into(),
                    kind: 'r',
                    ..Default::default()
                },
            ],
            constraints: vec![Constraint {
                oid: 10,
                relid: 1,
                name: "spatial_ref_sys_pkey".into(),
                kind: 'p',
                ..Default::default()
            }],
            indexes: vec![
                Index {
                    oid: 11,
                    relid: 1,
                    name: "srs_extra".into(),
                    ..Default::default()
                },
                Index {
                    oid: 12,
                    relid: 2,
                    name: "mine_idx".into(),
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        let members: HashSet<ObjId> = [ObjId::new(class::PG_CLASS, 1)].into();
        let parts = parts_on_member_tables(&cat, &members);
        let got: Vec<(&str, &str, ObjId)> = parts
            .iter()
            .map(|p| (p.name.kind, p.name.name.as_str(), p.id))
            .collect();
        assert_eq!(
            got,
            vec![
                ("index", "srs_extra", ObjId::new(class::PG_CLASS, 11)),
                (
                    "constraint",
                    "spatial_ref_sys_pkey",
                    ObjId::new(class::PG_CONSTRAINT, 10)
                ),
            ]
        );
    }

    #[test]
    fn member_privileges_go_from_the_scripts_to_the_sources() {
        let rows = vec![MemberAcl {
            extension: 20000,
            classid: class::PG_PROC,
            objid: 20010,
            keyword: "FUNCTION".into(),
            identity: "public.st_astext(public.geometry)".into(),
            owner: "postgres".into(),
            acl: vec!["postgres=X/postgres".into()],
            initial: vec!["=X/postgres".into(), "postgres=X/postgres".into()],
        }];
        let o = &member_acl_objects(&rows)[0];
        assert!(o.create.is_empty());
        // Only what the source changed: the hardening REVOKE from PUBLIC.
        assert_eq!(
            o.acl(),
            vec!["REVOKE EXECUTE ON FUNCTION public.st_astext(public.geometry) FROM PUBLIC"]
        );
        assert!(o.deps.contains(&ObjId::new(class::PG_EXTENSION, 20000)));
    }
}
