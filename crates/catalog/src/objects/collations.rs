//! Collations (libc, ICU and builtin providers, with the columns each major added).
//!
//! Its own file as one object family of [`super`]; callers use the re-exports there.

use crate::class;
use crate::scope::USER_SCHEMAS;
use db_migrate_conn::Session;
use db_migrate_core::error::Result;

use super::{QName, char_col, not_ext_member, query};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollationRow {
    pub oid: u32,
    pub name: QName,
    pub owner: String,
    /// `c` libc, `i` icu, `b` builtin (17+), `d` database default.
    pub provider: char,
    pub collate: Option<String>,
    pub ctype: Option<String>,
    /// ICU or builtin locale (`colllocale` 17+, `colliculocale` 15-16; before 15 ICU
    /// collations keep it in `collcollate`).
    pub locale: Option<String>,
    /// ICU tailoring rules (16+).
    pub icu_rules: Option<String>,
    pub deterministic: bool,
    pub comment: Option<String>,
}

pub async fn list_collations(s: &Session) -> Result<Vec<CollationRow>> {
    let v = s.server_version_num();
    let locale = if v >= 170000 {
        "c.colllocale"
    } else if v >= 150000 {
        "c.colliculocale"
    } else {
        "NULL::text"
    };
    let rules = if v >= 160000 {
        "c.collicurules"
    } else {
        "NULL::text"
    };
    let sql = format!(
        "SELECT c.oid, n.nspname::text AS schema, c.collname::text AS name, \
                pg_catalog.pg_get_userbyid(c.collowner)::text AS owner, \
                c.collprovider::text AS provider, c.collcollate::text AS collate, \
                c.collctype::text AS ctype, {locale}::text AS locale, {rules}::text AS rules, \
                c.collisdeterministic AS deterministic, \
                pg_catalog.obj_description(c.oid, 'pg_collation') AS comment \
           FROM pg_catalog.pg_collation c \
           JOIN pg_catalog.pg_namespace n ON n.oid = c.collnamespace \
          WHERE {USER_SCHEMAS} AND {member} \
          ORDER BY n.nspname, c.collname",
        member = not_ext_member(class::PG_COLLATION, "c.oid"),
    );
    Ok(query(s, "reading collations", &sql)
        .await?
        .iter()
        .map(|r| {
            let provider = char_col(r, "provider");
            let collate: Option<String> = r.get("collate");
            let mut locale: Option<String> = r.get("locale");
            if locale.is_none() && provider == 'i' {
                locale = collate.clone();
            }
            CollationRow {
                oid: r.get("oid"),
                name: QName::new(r.get("schema"), r.get("name")),
                owner: r.get("owner"),
                provider,
                collate,
                ctype: r.get("ctype"),
                locale,
                icu_rules: r.get("rules"),
                deterministic: r.get("deterministic"),
                comment: r.get("comment"),
            }
        })
        .collect())
}
