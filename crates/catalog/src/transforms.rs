//! Transforms (`pg_transform`) and conversions (`pg_conversion`) of one database: two small
//! families with a catalog of their own, read into plain structs for
//! [`crate::schema::transforms`]. Like every reader, objects of extensions are left out (their
//! extension creates them), and so are the built-in ones (OIDs below `FirstNormalObjectId`).

use tokio_postgres::Row;

use crate::class;
use crate::scope::{FIRST_NORMAL_OBJECT_ID, USER_SCHEMAS};
use db_migrate_conn::Session;
use db_migrate_core::error::{Error, Result};

/// One transform: `CREATE TRANSFORM FOR <type> LANGUAGE <lang> (...)`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TransformRow {
    pub oid: u32,
    /// `format_type(trftype)`.
    pub type_name: String,
    /// The type is built in: only a superuser may create a transform for it.
    pub builtin_type: bool,
    pub language: String,
    /// `"schema"."name"(identity args)` of the FROM SQL / TO SQL functions (`pg_proc`
    /// OIDs alongside, for the dependency graph).
    pub from_sql: Option<(u32, String)>,
    pub to_sql: Option<(u32, String)>,
    pub comment: Option<String>,
}

/// One conversion: `CREATE [DEFAULT] CONVERSION ... FOR 'src' TO 'dst' FROM func`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConversionRow {
    pub oid: u32,
    pub schema: String,
    pub name: String,
    pub owner: String,
    pub source_encoding: String,
    pub target_encoding: String,
    /// `"schema"."name"` of the function and its OID.
    pub function: (u32, String),
    pub is_default: bool,
    pub comment: Option<String>,
}

async fn query(s: &Session, phase: &'static str, sql: &str) -> Result<Vec<Row>> {
    s.query(sql, &[])
        .await
        .map_err(|e| Error::from_pg(e).with_step(phase))
}

fn not_ext_member(classid: u32, oid_col: &str) -> String {
    format!(
        "NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend xd WHERE xd.classid = {classid} \
           AND xd.objid = {oid_col} AND xd.deptype = 'e')"
    )
}

/// `"schema"."name"(identity arguments)` of the function whose OID is `col`.
fn signature(col: &str) -> String {
    format!(
        "(SELECT pg_catalog.quote_ident(pn.nspname) || '.' || pg_catalog.quote_ident(pp.proname) \
                 || '(' || pg_catalog.pg_get_function_identity_arguments(pp.oid) || ')' \
            FROM pg_catalog.pg_proc pp \
            JOIN pg_catalog.pg_namespace pn ON pn.oid = pp.pronamespace WHERE pp.oid = {col})"
    )
}

pub async fn list_transforms(s: &Session) -> Result<Vec<TransformRow>> {
    let sql = format!(
        "SELECT t.oid, pg_catalog.format_type(t.trftype, NULL), t.trftype < {FIRST_NORMAL_OBJECT_ID}, \
                l.lanname::text, NULLIF(t.trffromsql, 0), {from}, NULLIF(t.trftosql, 0), {to}, \
                pg_catalog.obj_description(t.oid, 'pg_transform')::text \
           FROM pg_catalog.pg_transform t \
           JOIN pg_catalog.pg_language l ON l.oid = t.trflang \
          WHERE t.oid >= {FIRST_NORMAL_OBJECT_ID} AND {member} \
          ORDER BY 2, 4",
        from = signature("t.trffromsql"),
        to = signature("t.trftosql"),
        member = not_ext_member(class::PG_TRANSFORM, "t.oid"),
    );
    Ok(query(s, "reading transforms", &sql)
        .await?
        .iter()
        .map(|r| {
            let pair = |i: usize| -> Option<(u32, String)> {
                let oid: Option<u32> = r.get(i);
                let sig: Option<String> = r.get(i + 1);
                oid.zip(sig)
            };
            TransformRow {
                oid: r.get(0),
                type_name: r.get(1),
                builtin_type: r.get(2),
                language: r.get(3),
                from_sql: pair(4),
                to_sql: pair(6),
                comment: r.get(8),
            }
        })
        .collect())
}

pub async fn list_conversions(s: &Session) -> Result<Vec<ConversionRow>> {
    let sql = format!(
        "SELECT c.oid, n.nspname::text, c.conname::text, \
                pg_catalog.pg_get_userbyid(c.conowner)::text, \
                pg_catalog.pg_encoding_to_char(c.conforencoding)::text, \
                pg_catalog.pg_encoding_to_char(c.contoencoding)::text, \
                c.conproc::oid, \
                (SELECT pg_catalog.quote_ident(pn.nspname) || '.' || pg_catalog.quote_ident(pp.proname) \
                   FROM pg_catalog.pg_proc pp JOIN pg_catalog.pg_namespace pn ON pn.oid = pp.pronamespace \
                  WHERE pp.oid = c.conproc), \
                c.condefault, pg_catalog.obj_description(c.oid, 'pg_conversion')::text \
           FROM pg_catalog.pg_conversion c \
           JOIN pg_catalog.pg_namespace n ON n.oid = c.connamespace \
          WHERE c.oid >= {FIRST_NORMAL_OBJECT_ID} AND {USER_SCHEMAS} AND {member} \
          ORDER BY 2, 3",
        member = not_ext_member(class::PG_CONVERSION, "c.oid"),
    );
    Ok(query(s, "reading conversions", &sql)
        .await?
        .iter()
        .map(|r| ConversionRow {
            oid: r.get(0),
            schema: r.get(1),
            name: r.get(2),
            owner: r.get(3),
            source_encoding: r.get(4),
            target_encoding: r.get(5),
            function: (r.get(6), r.get(7)),
            is_default: r.get(8),
            comment: r.get(9),
        })
        .collect())
}
