//! Inheritance children whose columns `CREATE TABLE ... INHERITS` cannot reproduce.
//!
//! `INHERITS` puts the parents' columns first (merged by name) and the child's own after them.
//! A source gets other orders two ways: a table created on its own and then `ALTER TABLE ...
//! INHERIT` (all its columns are its own, in any order), and a parent's `ADD COLUMN` after the
//! child had columns of its own (the inherited column comes last). pg_dump loses both orders.
//! Before PostgreSQL 16, `INHERITS` also refuses a child column of its own that is generated
//! (42611), although `CREATE TABLE` + `INHERIT` made one.
//!
//! Such a child is built like its owner built it, through a stand-in parent: a plain table
//! with the child's leading inherited columns (with the child's own types, defaults, NOT NULL
//! and generation expressions). The child is created `INHERITS (stand-in)` with its own columns
//! up to the first later inherited one; then, in column order, each inherited column is added
//! to the stand-in (so it reaches the child as inherited, at the end) and each own column to
//! the child alone. The child's CHECKs follow (its own on the child, the inherited ones on the
//! stand-in), then `INHERIT` of the real parents, `NO INHERIT` of the stand-in (which leaves
//! the inheritance counts and the local flags the source has) and `DROP TABLE` of it. So the
//! order of the columns and `attislocal` / `conislocal` are the source's.

use super::{Ctx, alter_only, column_definition, default_constraint_name, qname};
use db_migrate_catalog::relations::{Column, Relation};
use db_migrate_core::sql::{qualified, quote_ident};

/// Whether `statement` is the `ALTER TABLE ONLY "s"."child" INHERIT "s"."parent"` of a
/// stand-in-built child ([`plan`]). A target of a newer major may refuse a link its source
/// allowed (since PostgreSQL 16 a child column is generated exactly where its parent's is;
/// 15 left tables that break that rule): the executor then keeps the child on its own with a
/// warning rather than failing the database.
pub(crate) fn is_inherit_link(statement: &str) -> bool {
    /// The rest after one `"schema"."name"` (identifiers always quoted, quotes doubled).
    fn qualified_name(s: &str) -> Option<&str> {
        fn ident(s: &str) -> Option<&str> {
            let mut rest = s.strip_prefix('"')?;
            loop {
                let end = rest.find('"')?;
                rest = &rest[end + 1..];
                match rest.strip_prefix('"') {
                    Some(more) => rest = more,
                    None => return Some(rest),
                }
            }
        }
        ident(ident(s)?.strip_prefix('.')?)
    }
    statement
        .strip_prefix("ALTER TABLE ONLY ")
        .and_then(qualified_name)
        .and_then(|rest| rest.strip_prefix(" INHERIT "))
        .and_then(qualified_name)
        == Some("")
}

/// The statements that create a stand-in-built child (see the module docs).
pub(super) struct InheritPlan {
    /// Run before `CREATE TABLE` of the child: the stand-in's.
    pub before: String,
    /// Column definitions of `CREATE TABLE child (...)`.
    pub items: Vec<String>,
    /// `INHERITS (...)`: the stand-in.
    pub inherits: String,
    /// Run right after `CREATE TABLE`.
    pub after: Vec<String>,
}

/// Whether the child must be built through a stand-in: its column order is not what
/// `INHERITS` gives, or one of its own columns is generated and inherited too.
pub(super) fn needed(ctx: &Ctx, rel: &Relation) -> bool {
    let parents = ctx.parents(rel.oid);
    if rel.is_partition || parents.is_empty() || rel.of_type().is_some() {
        return false;
    }
    let inherited = inherited_names(ctx, rel);
    let cols = ctx.columns(rel.oid);
    if cols
        .iter()
        .any(|c| c.is_local && c.generated.is_some() && inherited.contains(&c.name.as_str()))
    {
        return true;
    }
    let own = cols
        .iter()
        .map(|c| c.name.as_str())
        .filter(|n| !inherited.contains(n));
    let expected: Vec<&str> = inherited.iter().copied().chain(own).collect();
    !cols.iter().map(|c| c.name.as_str()).eq(expected)
}

/// The parents' column names, merged in the order `INHERITS` merges them.
fn inherited_names<'a>(ctx: &Ctx<'a>, rel: &Relation) -> Vec<&'a str> {
    let mut names: Vec<&str> = Vec::new();
    for p in ctx.parents(rel.oid) {
        for c in ctx.columns(*p) {
            if !names.contains(&c.name.as_str()) {
                names.push(&c.name);
            }
        }
    }
    names
}

/// The stand-in's name: in the child's schema, after the md5 of the child's name (the same
/// whenever the same schema is read, unlike an OID, and never a name a user would choose).
fn stand_in_name(rel: &Relation) -> String {
    use md5::{Digest, Md5};
    let digest = Md5::digest(rel.name.as_bytes());
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    qualified(&rel.schema, &format!("db_migrate_inherit_{hex}"))
}

/// A stand-in column with the child column's own type, collation, NOT NULL and default or
/// generation expression, so the child inherits exactly what it has.
fn stand_in_column(ctx: &Ctx, rel: &Relation, col: &Column) -> String {
    let mut sql = format!("{} {}", quote_ident(&col.name), col.type_name);
    if let Some((s, n)) = col.collation() {
        sql.push_str(&format!(" COLLATE {}", qualified(s, n)));
    }
    match (col.generated, &col.default) {
        (Some(g), Some(expr)) => sql.push_str(&format!(
            " GENERATED ALWAYS AS ({expr}) {}",
            if g == 'v' { "VIRTUAL" } else { "STORED" }
        )),
        (None, Some(expr)) if col.identity.is_none() && !ctx.default_is_split(col) => {
            sql.push_str(&format!(" DEFAULT {expr}"));
        }
        _ => {}
    }
    if col.not_null {
        // PostgreSQL 18: the child's not-null constraint keeps the name the stand-in gives it,
        // so the stand-in's is named for the child: the source's name, or (from a source older
        // than 18, which has none) the name the child would get by itself, never the
        // stand-in's own default. Servers before 18 ignore the name.
        let name = match ctx.not_null.get(&(rel.oid, col.num)) {
            Some(nn) => nn.name.clone(),
            None => default_constraint_name(&rel.name, &col.name, "not_null"),
        };
        sql.push_str(&format!(" CONSTRAINT {} NOT NULL", quote_ident(&name)));
    }
    sql
}

pub(super) fn plan(ctx: &Ctx, rel: &Relation) -> InheritPlan {
    let inherited = inherited_names(ctx, rel);
    let cols = ctx.columns(rel.oid);
    let stand_in = stand_in_name(rel);
    // Leading columns that an `INHERITS` parent can hold: up to the first purely own one.
    let lead = cols
        .iter()
        .take_while(|c| inherited.contains(&c.name.as_str()))
        .count();
    let first_late = cols[lead..]
        .iter()
        .position(|c| !c.is_local)
        .map_or(cols.len(), |i| lead + i);

    let mut create_stand_in = format!(
        "CREATE {}TABLE {stand_in} (\n    {}\n)",
        if rel.persistence == 'u' {
            "UNLOGGED "
        } else {
            ""
        },
        cols[..lead]
            .iter()
            .map(|c| stand_in_column(ctx, rel, c))
            .collect::<Vec<_>>()
            .join(",\n    ")
    );
    if lead == 0 {
        create_stand_in = format!("CREATE TABLE {stand_in} ()");
    }

    // The child's own leading columns merge with the stand-in's (name and type only: the rest
    // comes from the stand-in, and a generation expression may not be repeated).
    let mut items: Vec<String> = cols[..lead]
        .iter()
        .filter(|c| c.is_local)
        .map(|c| {
            let mut sql = format!("{} {}", quote_ident(&c.name), c.type_name);
            if let Some((s, n)) = c.collation() {
                sql.push_str(&format!(" COLLATE {}", qualified(s, n)));
            }
            sql
        })
        .collect();
    items.extend(
        cols[lead..first_late]
            .iter()
            .map(|c| column_definition(ctx, rel, c)),
    );

    let mut after = Vec::new();
    for c in &cols[first_late..] {
        if c.is_local {
            after.push(format!(
                "{} ADD COLUMN {}",
                alter_only(rel),
                column_definition(ctx, rel, c)
            ));
        } else {
            after.push(format!(
                "ALTER TABLE {stand_in} ADD COLUMN {}",
                stand_in_column(ctx, rel, c)
            ));
        }
    }
    for c in ctx
        .constraints
        .get(&rel.oid)
        .map(Vec::as_slice)
        .unwrap_or(&[])
        .iter()
        .filter(|c| c.kind == 'c' && c.validated && !ctx.check_is_split(c))
    {
        let on = if c.is_local {
            alter_only(rel)
        } else {
            format!("ALTER TABLE {stand_in}")
        };
        after.push(format!(
            "{on} ADD CONSTRAINT {} {}",
            quote_ident(&c.name),
            c.definition
        ));
    }
    for parent in ctx.parents(rel.oid).iter().filter_map(|p| ctx.rels.get(p)) {
        after.push(format!("{} INHERIT {}", alter_only(rel), qname(parent)));
    }
    after.push(format!("{} NO INHERIT {stand_in}", alter_only(rel)));
    after.push(format!("DROP TABLE {stand_in}"));
    InheritPlan {
        before: create_stand_in,
        items,
        inherits: stand_in,
        after,
    }
}

#[cfg(test)]
mod tests {
    use super::is_inherit_link;

    #[test]
    fn inherit_links_are_told_from_other_statements() {
        assert!(is_inherit_link(
            "ALTER TABLE ONLY \"public\".\"gtest_normal_child\" INHERIT \"public\".\"gtest_normal\""
        ));
        assert!(is_inherit_link(
            "ALTER TABLE ONLY \"a \"\" INHERIT \"\"b\".\"c\" INHERIT \"s\".\"p\"\"\""
        ));
        for other in [
            "ALTER TABLE ONLY \"s\".\"c\" NO INHERIT \"s\".\"stand_in\"",
            "ALTER TABLE ONLY \"s\".\"c INHERIT \"s\".\"p\"",
            "ALTER TABLE ONLY \"s\".\"c\" INHERIT \"s\".\"p\"; DROP TABLE x",
            "ALTER TABLE \"s\".\"c\" INHERIT \"s\".\"p\"",
        ] {
            assert!(!is_inherit_link(other), "{other}");
        }
    }
}
