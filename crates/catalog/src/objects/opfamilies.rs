//! Access methods, operator families and operator classes with their members (`pg_amop`,
//! `pg_amproc`), assigned to the family or the class as pg_dump does.
//!
//! Its own file as one object family of [`super`]; callers use the re-exports there.

use crate::class;
use crate::scope::{FIRST_NORMAL_OBJECT_ID, USER_SCHEMAS};
use db_migrate_conn::Session;
use db_migrate_core::error::Result;

use super::{
    ProcSig, QName, char_col, not_ext_member, obj_name, proc_name, proc_sig, query, type_name,
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessMethodRow {
    pub oid: u32,
    pub name: String,
    /// `t` table, `i` index.
    pub kind: char,
    pub handler: Option<QName>,
    pub comment: Option<String>,
}

/// Access methods created with `CREATE ACCESS METHOD` (OIDs from `FirstNormalObjectId` on),
/// not those an extension brings.
pub async fn list_access_methods(s: &Session) -> Result<Vec<AccessMethodRow>> {
    let sql = format!(
        "SELECT a.oid, a.amname::text AS name, a.amtype::text AS kind, {h} AS handler, \
                pg_catalog.obj_description(a.oid, 'pg_am') AS comment \
           FROM pg_catalog.pg_am a \
          WHERE a.oid >= {FIRST_NORMAL_OBJECT_ID} AND {member} ORDER BY a.amname",
        h = proc_name("a.amhandler"),
        member = not_ext_member(class::PG_AM, "a.oid"),
    );
    Ok(query(s, "reading access methods", &sql)
        .await?
        .iter()
        .map(|r| AccessMethodRow {
            oid: r.get("oid"),
            name: r.get("name"),
            kind: char_col(r, "kind"),
            handler: QName::from_parts(r.get("handler")),
            comment: r.get("comment"),
        })
        .collect())
}

/// One member of an operator family or class (a `pg_amop` or `pg_amproc` row).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpMember {
    Operator {
        oid: u32,
        strategy: i16,
        operator: QName,
        /// The operator's operand types (`NONE` for a missing left operand).
        left: String,
        right: String,
        /// The sort family of an ordering operator (`FOR ORDER BY`).
        order_by: Option<QName>,
    },
    Function {
        oid: u32,
        number: i16,
        left: String,
        right: String,
        function: ProcSig,
    },
}

impl OpMember {
    pub fn oid(&self) -> u32 {
        match self {
            OpMember::Operator { oid, .. } | OpMember::Function { oid, .. } => *oid,
        }
    }

    /// The catalog of the member row.
    pub fn classid(&self) -> u32 {
        match self {
            OpMember::Operator { .. } => class::PG_AMOP,
            OpMember::Function { .. } => class::PG_AMPROC,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpFamilyRow {
    pub oid: u32,
    pub name: QName,
    pub method: String,
    pub owner: String,
    /// Members that belong to the family itself (`ALTER OPERATOR FAMILY ... ADD`).
    pub members: Vec<OpMember>,
    pub comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpClassRow {
    pub oid: u32,
    pub name: QName,
    pub method: String,
    pub default: bool,
    pub for_type: String,
    pub family: QName,
    pub family_oid: u32,
    pub storage: Option<String>,
    pub owner: String,
    /// Members that belong to the class (`AS ...`).
    pub members: Vec<OpMember>,
    pub comment: Option<String>,
}

/// Operator families and classes with their members (four queries). A member belongs to the
/// class or the family its `pg_depend` entry names, as pg_dump decides.
pub async fn list_opfamilies_and_classes(
    s: &Session,
) -> Result<(Vec<OpFamilyRow>, Vec<OpClassRow>)> {
    let mut families = read_families(s).await?;
    let mut classes = read_classes(s).await?;
    if families.is_empty() && classes.is_empty() {
        return Ok((families, classes));
    }
    for r in query(
        s,
        "reading operator class operators",
        &operators_sql(&families, &classes),
    )
    .await?
    {
        place(
            &mut families,
            &mut classes,
            r.get("owner"),
            OpMember::Operator {
                oid: r.get("oid"),
                strategy: r.get("strategy"),
                operator: QName::from_parts(r.get("operator")).expect("operator name"),
                left: r.get("lt"),
                right: r.get("rt"),
                order_by: QName::from_parts(r.get("order_by")),
            },
        );
    }
    for r in query(
        s,
        "reading operator class functions",
        &functions_sql(&families, &classes),
    )
    .await?
    {
        let Some(function) = ProcSig::from_parts(r.get("function")) else {
            continue;
        };
        place(
            &mut families,
            &mut classes,
            r.get("owner"),
            OpMember::Function {
                oid: r.get("oid"),
                number: r.get("number"),
                left: r.get("lt"),
                right: r.get("rt"),
                function,
            },
        );
    }
    Ok((families, classes))
}

/// The user's operator families, without their members.
async fn read_families(s: &Session) -> Result<Vec<OpFamilyRow>> {
    let sql = format!(
        "SELECT f.oid, n.nspname::text AS schema, f.opfname::text AS name, \
                am.amname::text AS method, pg_catalog.pg_get_userbyid(f.opfowner)::text AS owner, \
                pg_catalog.obj_description(f.oid, 'pg_opfamily') AS comment \
           FROM pg_catalog.pg_opfamily f \
           JOIN pg_catalog.pg_namespace n ON n.oid = f.opfnamespace \
           JOIN pg_catalog.pg_am am ON am.oid = f.opfmethod \
          WHERE {USER_SCHEMAS} AND {member} ORDER BY 2, 3, 4",
        member = not_ext_member(class::PG_OPFAMILY, "f.oid"),
    );
    let families = query(s, "reading operator families", &sql)
        .await?
        .iter()
        .map(|r| OpFamilyRow {
            oid: r.get("oid"),
            name: QName::new(r.get("schema"), r.get("name")),
            method: r.get("method"),
            owner: r.get("owner"),
            members: Vec::new(),
            comment: r.get("comment"),
        })
        .collect();
    Ok(families)
}

/// The user's operator classes, without their members.
async fn read_classes(s: &Session) -> Result<Vec<OpClassRow>> {
    let sql = format!(
        "SELECT c.oid, n.nspname::text AS schema, c.opcname::text AS name, \
                am.amname::text AS method, c.opcdefault AS dflt, \
                pg_catalog.format_type(c.opcintype, NULL) AS for_type, \
                fn.nspname::text AS fschema, f.opfname::text AS fname, f.oid AS family_oid, \
                {storage} AS storage, \
                pg_catalog.pg_get_userbyid(c.opcowner)::text AS owner, \
                pg_catalog.obj_description(c.oid, 'pg_opclass') AS comment \
           FROM pg_catalog.pg_opclass c \
           JOIN pg_catalog.pg_namespace n ON n.oid = c.opcnamespace \
           JOIN pg_catalog.pg_am am ON am.oid = c.opcmethod \
           JOIN pg_catalog.pg_opfamily f ON f.oid = c.opcfamily \
           JOIN pg_catalog.pg_namespace fn ON fn.oid = f.opfnamespace \
          WHERE {USER_SCHEMAS} AND {member} ORDER BY 2, 3, 4",
        storage = type_name("c.opckeytype"),
        member = not_ext_member(class::PG_OPCLASS, "c.oid"),
    );
    let classes = query(s, "reading operator classes", &sql)
        .await?
        .iter()
        .map(|r| OpClassRow {
            oid: r.get("oid"),
            name: QName::new(r.get("schema"), r.get("name")),
            method: r.get("method"),
            default: r.get("dflt"),
            for_type: r.get("for_type"),
            family: QName::new(r.get("fschema"), r.get("fname")),
            family_oid: r.get("family_oid"),
            storage: r.get("storage"),
            owner: r.get("owner"),
            members: Vec::new(),
            comment: r.get("comment"),
        })
        .collect();
    Ok(classes)
}

/// The owner of each member (on alias `member`): its class (internal dependency) or, for
/// "loose" members, its family (the dependency on amopfamily / amprocfamily, not on a FOR
/// ORDER BY sort family). `{classid}` is left for the member's catalog.
fn owner_of(member: &str, family_col: &str) -> String {
    format!(
        "(SELECT ARRAY[d.refclassid, d.refobjid] FROM pg_catalog.pg_depend d \
           WHERE d.classid = {{classid}} AND d.objid = {member}.oid \
             AND (d.refclassid = {opc} \
                  OR (d.refclassid = {opf} AND d.refobjid = {member}.{family_col})) \
           ORDER BY d.refclassid = {opc} DESC LIMIT 1)",
        opc = class::PG_OPCLASS,
        opf = class::PG_OPFAMILY,
    )
}

/// The operators of the families and classes read, each with its owner.
fn operators_sql(families: &[OpFamilyRow], classes: &[OpClassRow]) -> String {
    let sql = format!(
        "SELECT ao.oid, {owner} AS owner, ao.amopstrategy AS strategy, \
                ARRAY[opn.nspname::text, op.oprname::text] AS operator, \
                COALESCE({l}, 'NONE') AS lt, COALESCE({r}, 'NONE') AS rt, \
                CASE WHEN ao.amoppurpose = 'o' THEN {sf} END AS order_by \
           FROM pg_catalog.pg_amop ao \
           JOIN pg_catalog.pg_operator op ON op.oid = ao.amopopr \
           JOIN pg_catalog.pg_namespace opn ON opn.oid = op.oprnamespace",
        owner = owner_of("ao", "amopfamily").replace("{classid}", &class::PG_AMOP.to_string()),
        l = type_name("op.oprleft"),
        r = type_name("op.oprright"),
        sf = obj_name(
            "pg_opfamily",
            "opfname",
            "opfnamespace",
            "ao.amopsortfamily"
        ),
    );
    wrap_members(&sql, "strategy", families, classes)
}

/// The support functions of the families and classes read, each with its owner.
fn functions_sql(families: &[OpFamilyRow], classes: &[OpClassRow]) -> String {
    let proc_sql = format!(
        "SELECT ap.oid, {owner} AS owner, ap.amprocnum AS number, \
                pg_catalog.format_type(ap.amproclefttype, NULL) AS lt, \
                pg_catalog.format_type(ap.amprocrighttype, NULL) AS rt, {f} AS function \
           FROM pg_catalog.pg_amproc ap",
        owner = owner_of("ap", "amprocfamily").replace("{classid}", &class::PG_AMPROC.to_string()),
        f = proc_sig("ap.amproc"),
    );
    wrap_members(&proc_sql, "number", families, classes)
}

/// Puts member `m` in the class or family `owner` (`[classid, oid]`) names, if it was read.
fn place(
    families: &mut [OpFamilyRow],
    classes: &mut [OpClassRow],
    owner: Option<Vec<u32>>,
    m: OpMember,
) {
    let Some(owner) = owner else { return };
    if owner.len() != 2 {
        return;
    }
    if owner[0] == class::PG_OPCLASS {
        if let Some(c) = classes.iter_mut().find(|c| c.oid == owner[1]) {
            c.members.push(m);
        }
    } else if let Some(f) = families.iter_mut().find(|f| f.oid == owner[1]) {
        f.members.push(m);
    }
}

/// Restricts a member query to members of the families and classes read (by their owner
/// column), so the database's built-in members are not all fetched.
fn wrap_members(sql: &str, sort: &str, families: &[OpFamilyRow], classes: &[OpClassRow]) -> String {
    let oids: Vec<String> = families
        .iter()
        .map(|f| f.oid)
        .chain(classes.iter().map(|c| c.oid))
        .map(|o| o.to_string())
        .collect();
    format!(
        "SELECT * FROM ({sql}) m WHERE m.owner[2] = ANY ('{{{}}}'::pg_catalog.oid[]) \
          ORDER BY m.{sort}, m.oid",
        oids.join(",")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn family(oid: u32) -> OpFamilyRow {
        OpFamilyRow {
            oid,
            name: QName::new("public", "f"),
            method: "btree".into(),
            owner: "alice".into(),
            members: vec![],
            comment: None,
        }
    }

    fn opclass(oid: u32) -> OpClassRow {
        OpClassRow {
            oid,
            name: QName::new("public", "c"),
            method: "btree".into(),
            default: false,
            for_type: "integer".into(),
            family: QName::new("public", "f"),
            family_oid: 1,
            storage: None,
            owner: "alice".into(),
            members: vec![],
            comment: None,
        }
    }

    #[test]
    fn member_queries_are_restricted_to_the_families_and_classes_read() {
        let sql = wrap_members("SELECT 1", "strategy", &[family(20000)], &[opclass(20001)]);
        assert_eq!(
            sql,
            "SELECT * FROM (SELECT 1) m WHERE m.owner[2] = ANY ('{20000,20001}'::pg_catalog.oid[]) \
             ORDER BY m.strategy, m.oid"
        );
        // None read: an empty array, so the query returns no member rather than every one.
        assert!(wrap_members("SELECT 1", "number", &[], &[]).contains("ANY ('{}'::"));
    }

    #[test]
    fn a_member_names_its_own_catalog() {
        let op = OpMember::Operator {
            oid: 7,
            strategy: 1,
            operator: QName::new("public", "<"),
            left: "integer".into(),
            right: "integer".into(),
            order_by: None,
        };
        let func = OpMember::Function {
            oid: 8,
            number: 1,
            left: "integer".into(),
            right: "integer".into(),
            function: ProcSig {
                name: QName::new("public", "cmp"),
                args: "integer, integer".into(),
            },
        };
        assert_eq!((op.oid(), op.classid()), (7, class::PG_AMOP));
        assert_eq!((func.oid(), func.classid()), (8, class::PG_AMPROC));
    }
}
