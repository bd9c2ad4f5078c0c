//! The columns of every user table, as the server deparses them, for following the source's
//! schema changes while it replicates (`crate::replication::follow`).

use crate::scope::USER_SCHEMAS;
use db_migrate_conn::Session;
use db_migrate_core::error::{Error, Result};

/// One column of a user table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnShape {
    pub name: String,
    /// `format_type()`, e.g. `character varying(20)`.
    pub type_sql: String,
    /// The collation when it is not the type's default, schema-qualified.
    pub collation: Option<String>,
    pub not_null: bool,
    /// `pg_get_expr()` of its default or generation expression.
    pub default: Option<String>,
    /// A stored generated column (`default` is its expression).
    pub generated: bool,
    /// The value the rows from before the column was added read (`attmissingval`, PostgreSQL
    /// 11+): a column added with a default that is not a constant (`DEFAULT now()`) gave them
    /// the value of the moment of its `ADD COLUMN`, which the target must give its copies of
    /// them too. `None` when there is none, or it is SQL NULL.
    pub missing: Option<String>,
}

/// The one element of a one-dimensional array's text form (`{7}`, `{"a \"b\""}`), `None` for
/// `NULL` or anything else.
pub fn single_element(array: &str) -> Option<String> {
    let inner = array.strip_prefix('{')?.strip_suffix('}')?;
    if let Some(quoted) = inner.strip_prefix('"') {
        let quoted = quoted.strip_suffix('"')?;
        let mut out = String::with_capacity(quoted.len());
        let mut chars = quoted.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => out.push(chars.next()?),
                '"' => return None,
                c => out.push(c),
            }
        }
        return Some(out);
    }
    (!inner.is_empty() && !inner.eq_ignore_ascii_case("NULL") && !inner.contains(','))
        .then(|| inner.to_owned())
}

/// The columns of one table, in `attnum` order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableColumns {
    /// As `regclass` writes it on a `search_path = ''` session: the schema-drift identity.
    pub regclass: String,
    pub schema: String,
    pub name: String,
    /// A partition or an inheritance child: its columns follow its parent's.
    pub is_child: bool,
    pub columns: Vec<ColumnShape>,
}

/// Every ordinary and partitioned user table that is not an extension's member.
pub async fn table_columns(s: &Session) -> Result<Vec<TableColumns>> {
    let sql = format!(
        "SELECT c.oid::pg_catalog.regclass::text, n.nspname::text, c.relname::text,
                EXISTS (SELECT 1 FROM pg_catalog.pg_inherits i WHERE i.inhrelid = c.oid),
                a.attname::text, pg_catalog.format_type(a.atttypid, a.atttypmod),
                CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation
                     THEN pg_catalog.quote_ident(cn.nspname) || '.' || pg_catalog.quote_ident(co.collname) END,
                a.attnotnull, pg_catalog.pg_get_expr(d.adbin, d.adrelid), a.attgenerated = 's',
                {missing}
           FROM pg_catalog.pg_class c
           JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
           JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
           JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
           LEFT JOIN pg_catalog.pg_collation co ON co.oid = a.attcollation
           LEFT JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace
           LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
          WHERE c.relkind IN ('r', 'p') AND {USER_SCHEMAS}
            AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend e
                             WHERE e.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
                               AND e.objid = c.oid AND e.deptype = 'e')
          ORDER BY n.nspname, c.relname, a.attnum",
        missing = if s.server_version_num() >= 110000 {
            "CASE WHEN a.atthasmissing THEN a.attmissingval::text END"
        } else {
            "NULL::text"
        }
    );
    let rows = s.query(&sql, &[]).await.map_err(Error::from_pg)?;
    let mut out: Vec<TableColumns> = Vec::new();
    for r in rows {
        let regclass: String = r.get(0);
        let column = ColumnShape {
            name: r.get(4),
            type_sql: r.get(5),
            collation: r.get(6),
            not_null: r.get(7),
            default: r.get(8),
            generated: r.get(9),
            missing: r
                .get::<_, Option<String>>(10)
                .as_deref()
                .and_then(single_element),
        };
        match out.last_mut() {
            Some(t) if t.regclass == regclass => t.columns.push(column),
            _ => out.push(TableColumns {
                regclass,
                schema: r.get(1),
                name: r.get(2),
                is_child: r.get(3),
                columns: vec![column],
            }),
        }
    }
    Ok(out)
}

/// The labels of every user enum type, in their sort order, by type (as `regtype` writes it on
/// a `search_path = ''` session).
pub async fn enum_labels(s: &Session) -> Result<Vec<(String, Vec<String>)>> {
    let sql = format!(
        "SELECT t.oid::pg_catalog.regtype::text, e.enumlabel::text
           FROM pg_catalog.pg_type t
           JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
           JOIN pg_catalog.pg_enum e ON e.enumtypid = t.oid
          WHERE {USER_SCHEMAS}
            AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend x
                             WHERE x.classid = 'pg_catalog.pg_type'::pg_catalog.regclass
                               AND x.objid = t.oid AND x.deptype = 'e')
          ORDER BY 1, e.enumsortorder"
    );
    let rows = s.query(&sql, &[]).await.map_err(Error::from_pg)?;
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for r in rows {
        let (ty, label): (String, String) = (r.get(0), r.get(1));
        match out.last_mut() {
            Some((t, labels)) if *t == ty => labels.push(label),
            _ => out.push((ty, vec![label])),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::single_element;

    #[test]
    fn the_one_element_of_an_array_literal() {
        assert_eq!(single_element("{7}").as_deref(), Some("7"));
        assert_eq!(
            single_element("{\"2026-12-08 01:00:00+00\"}").as_deref(),
            Some("2026-12-08 01:00:00+00")
        );
        assert_eq!(
            single_element(r#"{"say \"hi\" \\ bye"}"#).as_deref(),
            Some(r#"say "hi" \ bye"#)
        );
        assert_eq!(single_element("{NULL}"), None);
        assert_eq!(single_element("{1,2}"), None);
        assert_eq!(single_element("7"), None);
    }
}
