//! Publications as schema objects, written like pg_dump writes them: `CREATE PUBLICATION`
//! with its options, then one `ALTER PUBLICATION ... ADD TABLE ONLY` per table (column list,
//! row filter) and `ADD TABLES IN SCHEMA` per schema, after the data (post-data), so that
//! adding the tables takes no time away from the load.
//!
//! `FOR ALL TABLES` and `TABLES IN SCHEMA` need a superuser: where the target refuses them,
//! the publication is skipped with a warning ([`Privilege::MaySkip`]). `--no-publications`
//! leaves every publication out ([`super::SchemaOptions::no_publications`]).

use crate::model::{
    Alias, Collected, ObjId, ObjectKind, Privilege, SchemaObject, Section, class, comment_sql,
    owner_sql,
};
use db_migrate_catalog::publications::{PublicationRow, list_publications};
use db_migrate_conn::Session;
use db_migrate_core::error::Result;
use db_migrate_core::sql::{qualified, quote_ident};

/// Every publication of the session's database except db-migrate's own.
pub async fn collect(s: &Session) -> Result<Collected> {
    let mut c = Collected::default();
    for p in list_publications(s).await? {
        for t in &p.tables {
            c.aliases.push(Alias {
                alias: ObjId::new(class::PG_PUBLICATION_REL, t.oid),
                target: ObjId::new(class::PG_PUBLICATION, p.oid),
            });
        }
        for (oid, _) in &p.schemas {
            c.aliases.push(Alias {
                alias: ObjId::new(class::PG_PUBLICATION_NAMESPACE, *oid),
                target: ObjId::new(class::PG_PUBLICATION, p.oid),
            });
        }
        c.objects.push(publication_object(&p));
    }
    Ok(c)
}

/// The `WITH (...)` options, all spelt out like pg_dump does.
fn options(p: &PublicationRow) -> String {
    let publish: Vec<&str> = [
        (p.insert, "insert"),
        (p.update, "update"),
        (p.delete, "delete"),
        (p.truncate, "truncate"),
    ]
    .iter()
    .filter(|(on, _)| *on)
    .map(|(_, w)| *w)
    .collect();
    let mut sql = format!("WITH (publish = '{}'", publish.join(", "));
    if p.via_root {
        sql.push_str(", publish_via_partition_root = true");
    }
    sql.push(')');
    sql
}

pub fn publication_object(p: &PublicationRow) -> SchemaObject {
    let q = quote_ident(&p.name);
    let mut o = SchemaObject::new(
        ObjId::new(class::PG_PUBLICATION, p.oid),
        ObjectKind::Publication,
        Section::PostData,
        None,
        &p.name,
    );
    o.create.push(format!(
        "CREATE PUBLICATION {q}{} {}",
        if p.all_tables { " FOR ALL TABLES" } else { "" },
        options(p)
    ));
    for t in &p.tables {
        let mut add = format!(
            "ALTER PUBLICATION {q} ADD TABLE ONLY {}",
            qualified(&t.schema, &t.name)
        );
        if let Some(cols) = &t.columns {
            let cols: Vec<String> = cols.iter().map(|c| quote_ident(c)).collect();
            add.push_str(&format!(" ({})", cols.join(", ")));
        }
        if let Some(filter) = &t.row_filter {
            add.push_str(&format!(" WHERE ({filter})"));
        }
        o.create.push(add);
        o.deps.push(ObjId::new(class::PG_CLASS, t.relid));
    }
    for (_, schema) in &p.schemas {
        o.create.push(format!(
            "ALTER PUBLICATION {q} ADD TABLES IN SCHEMA {}",
            quote_ident(schema)
        ));
    }
    if p.all_tables || !p.schemas.is_empty() {
        o.privilege = Privilege::MaySkip;
    }
    o.owner = Some(owner_sql(ObjectKind::Publication, &q, &p.owner));
    o.extend_comments(comment_sql("PUBLICATION", &q, p.comment.as_deref()));
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use db_migrate_catalog::publications::PublishedTable;

    #[test]
    fn publications_spell_out_options_tables_and_schemas() {
        let p = PublicationRow {
            oid: 1,
            name: "p\"1".into(),
            owner: "o".into(),
            insert: true,
            update: true,
            truncate: true,
            via_root: true,
            tables: vec![PublishedTable {
                oid: 2,
                relid: 3,
                schema: "s".into(),
                name: "t".into(),
                columns: Some(vec!["a".into(), "B".into()]),
                row_filter: Some("(a > 0)".into()),
            }],
            schemas: vec![(4, "s2".into())],
            ..Default::default()
        };
        let o = publication_object(&p);
        assert_eq!(
            o.create,
            vec![
                "CREATE PUBLICATION \"p\"\"1\" WITH (publish = 'insert, update, truncate', \
                 publish_via_partition_root = true)",
                "ALTER PUBLICATION \"p\"\"1\" ADD TABLE ONLY \"s\".\"t\" (\"a\", \"B\") WHERE ((a > 0))",
                "ALTER PUBLICATION \"p\"\"1\" ADD TABLES IN SCHEMA \"s2\"",
            ]
        );
        assert_eq!(o.privilege, Privilege::MaySkip);
        assert_eq!(o.deps, vec![ObjId::new(class::PG_CLASS, 3)]);
    }
}
