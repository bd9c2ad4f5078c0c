//! A relation's privileges, row-level security switches and comments changed on the source
//! during replication (`GRANT`, `REVOKE`, `ALTER TABLE ... ENABLE ROW LEVEL SECURITY`,
//! `COMMENT ON`): the fingerprint's `access` entry of the relation changed, and the target's
//! are brought level with the source's, at once (no row needs them).
//!
//! Privileges are compared without grantor and without the owner's own (see
//! `catalog::replication::access`), and granted or revoked by the target's user. A statement
//! the target refuses (a grant to a role it lacks) is a warning, not a stop: the rows do not
//! need it, so the replication goes on and the change stays listed as not applied.

use crate::catalog::replication::access::{Access, Grant, relation_access};
use crate::conn::Session;
use crate::error::{Error, Result, Side};
use crate::sql::quote_literal;
use crate::warning::Warning;

use super::follow::{Followed, Gate, SchemaChangeApplied, object_of, unix_now};

/// The statements that make the target's access of relation `regclass` the source's.
pub fn access_changes(regclass: &str, src: &Access, tgt: &Access) -> Vec<String> {
    let keyword = match src.kind {
        'S' => "SEQUENCE",
        'v' => "VIEW",
        'm' => "MATERIALIZED VIEW",
        'f' => "FOREIGN TABLE",
        _ => "TABLE",
    };
    // GRANT and REVOKE name sequences as SEQUENCE and every other relation as TABLE.
    let on = if src.kind == 'S' { "SEQUENCE" } else { "TABLE" };
    let what = |g: &Grant| match &g.column {
        Some(c) => format!("{} ({c})", g.privilege, c = crate::sql::quote_ident(c)),
        None => g.privilege.clone(),
    };
    let same = |a: &Grant, b: &Grant| {
        a.column == b.column && a.grantee == b.grantee && a.privilege == b.privilege
    };
    let mut out = Vec::new();
    for t in &tgt.grants {
        match src.grants.iter().find(|s| same(s, t)) {
            None => out.push(format!(
                "REVOKE {} ON {on} {regclass} FROM {}",
                what(t),
                t.grantee
            )),
            Some(s) if t.grantable && !s.grantable => out.push(format!(
                "REVOKE GRANT OPTION FOR {} ON {on} {regclass} FROM {}",
                what(t),
                t.grantee
            )),
            Some(_) => {}
        }
    }
    for s in &src.grants {
        let held = tgt
            .grants
            .iter()
            .find(|t| same(s, t))
            .is_some_and(|t| t.grantable || !s.grantable);
        if !held {
            out.push(format!(
                "GRANT {} ON {on} {regclass} TO {}{}",
                what(s),
                s.grantee,
                if s.grantable {
                    " WITH GRANT OPTION"
                } else {
                    ""
                }
            ));
        }
    }
    if src.kind != 'S' {
        if src.row_security != tgt.row_security {
            let verb = if src.row_security {
                "ENABLE"
            } else {
                "DISABLE"
            };
            out.push(format!("ALTER TABLE {regclass} {verb} ROW LEVEL SECURITY"));
        }
        if src.force_row_security != tgt.force_row_security {
            let verb = if src.force_row_security {
                "FORCE"
            } else {
                "NO FORCE"
            };
            out.push(format!("ALTER TABLE {regclass} {verb} ROW LEVEL SECURITY"));
        }
    }
    let text = |c: &Option<String>| c.as_deref().map_or("NULL".into(), quote_literal);
    if src.comment != tgt.comment {
        out.push(format!(
            "COMMENT ON {keyword} {regclass} IS {}",
            text(&src.comment)
        ));
    }
    let comment_of = |a: &Access, col: &str| {
        a.column_comments
            .iter()
            .find(|(c, _)| c == col)
            .map(|(_, d)| d.clone())
    };
    let columns = (src.column_comments.iter())
        .chain(&tgt.column_comments)
        .map(|(c, _)| c.clone());
    let mut seen = std::collections::BTreeSet::new();
    for col in columns.filter(|c| seen.insert(c.clone())) {
        let wanted = comment_of(src, &col);
        if wanted != comment_of(tgt, &col) {
            out.push(format!(
                "COMMENT ON COLUMN {regclass}.{} IS {}",
                crate::sql::quote_ident(&col),
                text(&wanted)
            ));
        }
    }
    out
}

/// Brings the access of each relation whose `access` entry the `drift` names level with the
/// source's (see the module docs); those that are end in `followed.level` (`access public.t`).
pub async fn follow_access(
    src: &Session,
    tgt: &Session,
    drift: &[String],
    gate: &Gate<'_>,
    followed: &mut Followed,
) -> Result<()> {
    let entries = drift.iter().filter(|d| d.starts_with("access "));
    let mut objects: Vec<&str> = entries.map(|d| object_of(d)).collect();
    objects.dedup();
    for object in objects {
        let regclass = &object["access ".len()..];
        let source = relation_access(src, regclass)
            .await
            .map_err(|e| e.with_side(Side::Source))?;
        let Some(source) = source else {
            // Gone from the source: its own entry (the table's drop) says what to do.
            followed.level.insert(object.to_owned());
            continue;
        };
        let read_target = || async {
            relation_access(tgt, regclass)
                .await
                .map_err(|e| e.with_side(Side::Target))
        };
        // Not on the target yet (a table created or renamed that a later check brings).
        let Some(target) = read_target().await? else {
            continue;
        };
        let seen = gate.seen.get(object).copied().unwrap_or_else(unix_now);
        for sql in access_changes(regclass, &source, &target) {
            match tgt.batch_execute(&sql).await {
                Ok(()) => {
                    let change = format!("access of {regclass} changed");
                    tracing::info!("schema change followed on the target: {change}: {sql}");
                    let applied = SchemaChangeApplied::applied(change, sql, seen);
                    followed.applied.push(applied);
                }
                Err(e) => followed.warnings.push(
                    Warning::replication(format!(
                        "the source's change of privileges, row-level security or comments of \
                         {regclass} could not be applied on the target: {}; statement: {sql}",
                        Error::from_pg(e).with_side(Side::Target)
                    ))
                    .on(object.to_owned()),
                ),
            }
        }
        let now = read_target().await?;
        if now.is_some_and(|t| t.definition == source.definition) {
            followed.level.insert(object.to_owned());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(column: Option<&str>, grantee: &str, privilege: &str, grantable: bool) -> Grant {
        Grant {
            column: column.map(Into::into),
            grantee: grantee.into(),
            privilege: privilege.into(),
            grantable,
        }
    }

    #[test]
    fn the_target_gets_the_grants_switches_and_comments_it_lacks_and_loses_those_the_source_dropped()
     {
        let source = Access {
            kind: 'r',
            grants: vec![
                grant(None, "reader", "SELECT", false),
                grant(None, "\"App Writer\"", "INSERT", true),
                grant(Some("secret"), "auditor", "SELECT", false),
            ],
            row_security: true,
            force_row_security: false,
            comment: Some("the app's table".into()),
            column_comments: vec![("id".into(), "key".into())],
            ..Access::default()
        };
        let target = Access {
            kind: 'r',
            grants: vec![
                grant(None, "PUBLIC", "SELECT", false),
                grant(None, "\"App Writer\"", "INSERT", false),
            ],
            column_comments: vec![("note".into(), "old".into())],
            ..Access::default()
        };
        assert_eq!(
            access_changes("public.t", &source, &target),
            [
                "REVOKE SELECT ON TABLE public.t FROM PUBLIC",
                "GRANT SELECT ON TABLE public.t TO reader",
                "GRANT INSERT ON TABLE public.t TO \"App Writer\" WITH GRANT OPTION",
                "GRANT SELECT (\"secret\") ON TABLE public.t TO auditor",
                "ALTER TABLE public.t ENABLE ROW LEVEL SECURITY",
                "COMMENT ON TABLE public.t IS 'the app''s table'",
                "COMMENT ON COLUMN public.t.\"id\" IS 'key'",
                "COMMENT ON COLUMN public.t.\"note\" IS NULL",
            ]
        );
        assert!(access_changes("public.t", &source, &source).is_empty());
        // A sequence is granted on as one; its comment names its kind.
        let seq = Access {
            kind: 'S',
            grants: vec![grant(None, "app", "USAGE", false)],
            comment: Some("ids".into()),
            ..Access::default()
        };
        assert_eq!(
            access_changes("public.s", &seq, &Access::default()),
            [
                "GRANT USAGE ON SEQUENCE public.s TO app",
                "COMMENT ON SEQUENCE public.s IS 'ids'",
            ]
        );
    }
}
