//! Functions, procedures, aggregates, casts, operators, operator families and operator
//! classes.
//!
//! Rows come from [`db_migrate_catalog::objects`]; this module turns them into statements.
//! Functions are created from the server's own `pg_get_functiondef` (`CREATE OR REPLACE
//! FUNCTION` with every clause: SET, SECURITY DEFINER, volatility, parallel safety, cost, rows,
//! LEAKPROOF, WINDOW, SQL-standard bodies); the executor runs with
//! `check_function_bodies = off`. Functions that are created along with a type (base type I/O,
//! range canonical) or internally by one (range constructors) belong to [`super::types`].
//!
//! Operator family and class members (`pg_amop` / `pg_amproc` rows) go where their
//! `pg_depend` entry says, as pg_dump does: into the `CREATE OPERATOR CLASS` of their class, or
//! for "loose" members into an `ALTER OPERATOR FAMILY ... ADD` of their family. They are
//! aliases of that class or family.

use super::arguments::ArgNames;
use crate::model::{
    Alias, Collected, ObjId, ObjectKind, Owner, Privilege, SchemaObject, Section, acl_sql, class,
    comment_sql, owner_sql,
};
use db_migrate_catalog::objects::{
    self, AggregateRow, CastRow, FunctionRow, OpClassRow, OpFamilyRow, OpMember, OperatorRow,
};
use db_migrate_conn::Session;
use db_migrate_core::error::Result;
use db_migrate_core::sql::{quote_ident, quote_literal};

/// Every routine-like object of the session's database.
pub async fn collect(s: &Session) -> Result<Collected> {
    let mut c = Collected::default();
    for f in objects::list_functions(s).await? {
        c.objects.push(function_object(&f));
    }
    for a in objects::list_aggregates(s).await? {
        c.objects.push(aggregate_object(&a));
    }
    for cast in objects::list_casts(s).await? {
        c.objects.push(cast_object(&cast));
    }
    for op in objects::list_operators(s).await? {
        c.objects.push(operator_object(&op));
    }
    let (families, classes) = objects::list_opfamilies_and_classes(s).await?;
    for f in &families {
        c.aliases.extend(member_aliases(
            ObjId::new(class::PG_OPFAMILY, f.oid),
            &f.members,
        ));
        c.objects.push(opfamily_object(f));
    }
    for oc in &classes {
        c.aliases.extend(member_aliases(
            ObjId::new(class::PG_OPCLASS, oc.oid),
            &oc.members,
        ));
        c.objects.push(opclass_object(oc));
    }
    Ok(c)
}

fn object(classid: u32, oid: u32, kind: ObjectKind, schema: &str, name: &str) -> SchemaObject {
    SchemaObject::new(
        ObjId::new(classid, oid),
        kind,
        Section::PreData,
        Some(schema),
        name,
    )
}

/// A function or procedure, from `pg_get_functiondef`.
pub fn function_object(f: &FunctionRow) -> SchemaObject {
    let keyword = if f.kind == 'p' {
        "PROCEDURE"
    } else {
        "FUNCTION"
    };
    let names = ArgNames {
        names: &f.arg_names,
        modes: &f.arg_modes,
    };
    let sig = format!("{}({})", f.name.sql(), names.quote_list(&f.identity_args));
    let mut o = object(
        class::PG_PROC,
        f.oid,
        ObjectKind::Function,
        &f.name.schema,
        &f.name.name,
    );
    o.create
        .push(names.quote_definition(f.definition.trim_end()));
    o.owner = Some(Box::new(Owner {
        role: f.acl.owner.clone(),
        sql: format!(
            "ALTER {keyword} {sig} OWNER TO {}",
            quote_ident(&f.acl.owner)
        ),
    }));
    o.set_acl(acl_sql(
        &format!("{keyword} {sig}"),
        &f.acl.owner,
        f.acl.acl.as_deref(),
        &f.acl.default,
        None,
    ));
    o.extend_comments(comment_sql(keyword, &sig, f.comment.as_deref()));
    // C, internal and untrusted languages need a superuser.
    if !f.trusted {
        o.privilege = Privilege::MaySkip;
    }
    o
}

fn modify_word(c: char) -> &'static str {
    match c {
        's' => "SHAREABLE",
        'w' => "READ_WRITE",
        _ => "READ_ONLY",
    }
}

/// `CREATE AGGREGATE name (args) (SFUNC = ..., STYPE = ..., ...)`.
pub fn aggregate_sql(a: &AggregateRow) -> String {
    let args = if a.args.is_empty() {
        "*".to_string()
    } else {
        ArgNames {
            names: &a.arg_names,
            modes: &a.arg_modes,
        }
        .quote_list(&a.args)
    };
    let mut items = Vec::new();
    if let Some(f) = &a.transfn {
        items.push(format!("SFUNC = {}", f.sql()));
    }
    items.push(format!("STYPE = {}", a.transtype));
    if a.transspace != 0 {
        items.push(format!("SSPACE = {}", a.transspace));
    }
    if let Some(f) = &a.finalfn {
        items.push(format!("FINALFUNC = {}", f.sql()));
    }
    if a.finalextra {
        items.push("FINALFUNC_EXTRA".to_string());
    }
    let default_modify = if a.aggkind == 'n' { 'r' } else { 'w' };
    if a.finalmodify != default_modify {
        items.push(format!("FINALFUNC_MODIFY = {}", modify_word(a.finalmodify)));
    }
    if let Some(f) = &a.combinefn {
        items.push(format!("COMBINEFUNC = {}", f.sql()));
    }
    if let Some(f) = &a.serialfn {
        items.push(format!("SERIALFUNC = {}", f.sql()));
    }
    if let Some(f) = &a.deserialfn {
        items.push(format!("DESERIALFUNC = {}", f.sql()));
    }
    if let Some(v) = &a.initval {
        items.push(format!("INITCOND = {}", quote_literal(v)));
    }
    if let Some(f) = &a.mtransfn {
        items.push(format!("MSFUNC = {}", f.sql()));
    }
    if let Some(f) = &a.minvtransfn {
        items.push(format!("MINVFUNC = {}", f.sql()));
    }
    if let Some(t) = &a.mtranstype {
        items.push(format!("MSTYPE = {t}"));
    }
    if a.mtransspace != 0 {
        items.push(format!("MSSPACE = {}", a.mtransspace));
    }
    if let Some(f) = &a.mfinalfn {
        items.push(format!("MFINALFUNC = {}", f.sql()));
    }
    if a.mfinalextra {
        items.push("MFINALFUNC_EXTRA".to_string());
    }
    if a.mfinalmodify != default_modify {
        items.push(format!(
            "MFINALFUNC_MODIFY = {}",
            modify_word(a.mfinalmodify)
        ));
    }
    if let Some(v) = &a.minitval {
        items.push(format!("MINITCOND = {}", quote_literal(v)));
    }
    if let Some(op) = &a.sortop {
        items.push(format!(
            "SORTOP = OPERATOR({}.{})",
            quote_ident(&op.schema),
            op.name
        ));
    }
    match a.parallel {
        's' => items.push("PARALLEL = SAFE".to_string()),
        'r' => items.push("PARALLEL = RESTRICTED".to_string()),
        _ => {}
    }
    if a.aggkind == 'h' {
        items.push("HYPOTHETICAL".to_string());
    }
    format!(
        "CREATE AGGREGATE {}({args}) ({})",
        a.name.sql(),
        items.join(", ")
    )
}

pub fn aggregate_object(a: &AggregateRow) -> SchemaObject {
    let identity = if a.identity_args.is_empty() {
        "*".to_string()
    } else {
        ArgNames {
            names: &a.arg_names,
            modes: &a.arg_modes,
        }
        .quote_list(&a.identity_args)
    };
    let sig = format!("{}({identity})", a.name.sql());
    let mut o = object(
        class::PG_PROC,
        a.oid,
        ObjectKind::Aggregate,
        &a.name.schema,
        &a.name.name,
    );
    o.create.push(aggregate_sql(a));
    o.owner = Some(owner_sql(ObjectKind::Aggregate, &sig, &a.acl.owner));
    // GRANT takes a plain list of argument types, without ORDER BY or `*`.
    o.set_acl(acl_sql(
        &format!("FUNCTION {}({})", a.name.sql(), a.flat_args),
        &a.acl.owner,
        a.acl.acl.as_deref(),
        &a.acl.default,
        None,
    ));
    o.extend_comments(comment_sql("AGGREGATE", &sig, a.comment.as_deref()));
    o
}

/// `CREATE CAST (source AS target) WITH FUNCTION f(args) | WITHOUT FUNCTION | WITH INOUT
/// [AS ASSIGNMENT | AS IMPLICIT]`.
pub fn cast_sql(c: &CastRow) -> String {
    let method = match (c.method, &c.function) {
        ('f', Some(f)) => format!("WITH FUNCTION {}", f.sql()),
        ('i', _) => "WITH INOUT".to_string(),
        _ => "WITHOUT FUNCTION".to_string(),
    };
    let context = match c.context {
        'a' => " AS ASSIGNMENT",
        'i' => " AS IMPLICIT",
        _ => "",
    };
    format!(
        "CREATE CAST ({} AS {}) {method}{context}",
        c.source, c.target
    )
}

pub fn cast_object(c: &CastRow) -> SchemaObject {
    let name = format!("({} AS {})", c.source, c.target);
    let mut o = SchemaObject::new(
        ObjId::new(class::PG_CAST, c.oid),
        ObjectKind::Cast,
        Section::PreData,
        None,
        &name,
    );
    o.create.push(cast_sql(c));
    o.extend_comments(comment_sql("CAST", &name, c.comment.as_deref()));
    // Binary-coercible casts need a superuser; so do casts between types the user cannot own.
    if c.method == 'b' || c.builtin_types {
        o.privilege = Privilege::MaySkip;
    }
    o
}

/// `"schema".op`: an operator name is a symbol, never quoted; its schema is.
fn oper_sql(name: &objects::QName) -> String {
    format!("{}.{}", quote_ident(&name.schema), name.name)
}

/// The operator's signature for ALTER / COMMENT: `"s".op(left, right)` (`NONE` for a prefix
/// operator).
pub fn operator_signature(op: &OperatorRow) -> String {
    format!(
        "{}({}, {})",
        oper_sql(&op.name),
        op.left.as_deref().unwrap_or("NONE"),
        op.right.as_deref().unwrap_or("NONE")
    )
}

/// `CREATE OPERATOR "s".op (FUNCTION = ..., LEFTARG = ..., ...)`. A COMMUTATOR or NEGATOR that
/// does not exist yet is created as a shell by the server and completed when it is created.
pub fn operator_sql(op: &OperatorRow) -> String {
    let mut items = Vec::new();
    if let Some(f) = &op.function {
        items.push(format!("FUNCTION = {}", f.sql()));
    }
    if let Some(l) = &op.left {
        items.push(format!("LEFTARG = {l}"));
    }
    if let Some(r) = &op.right {
        items.push(format!("RIGHTARG = {r}"));
    }
    if let Some(c) = &op.commutator {
        items.push(format!("COMMUTATOR = OPERATOR({})", oper_sql(c)));
    }
    if let Some(n) = &op.negator {
        items.push(format!("NEGATOR = OPERATOR({})", oper_sql(n)));
    }
    if let Some(f) = &op.restrict {
        items.push(format!("RESTRICT = {}", f.sql()));
    }
    if let Some(f) = &op.join {
        items.push(format!("JOIN = {}", f.sql()));
    }
    if op.hashes {
        items.push("HASHES".to_string());
    }
    if op.merges {
        items.push("MERGES".to_string());
    }
    format!(
        "CREATE OPERATOR {} ({})",
        oper_sql(&op.name),
        items.join(", ")
    )
}

pub fn operator_object(op: &OperatorRow) -> SchemaObject {
    let sig = operator_signature(op);
    let mut o = object(
        class::PG_OPERATOR,
        op.oid,
        ObjectKind::Operator,
        &op.name.schema,
        &op.name.name,
    );
    o.create.push(operator_sql(op));
    o.owner = Some(owner_sql(ObjectKind::Operator, &sig, &op.owner));
    o.extend_comments(comment_sql("OPERATOR", &sig, op.comment.as_deref()));
    o
}

/// One `OPERATOR n op(l, r) [FOR ORDER BY f]` or `FUNCTION n (l, r) f(args)` item.
pub fn member_sql(m: &OpMember) -> String {
    match m {
        OpMember::Operator {
            strategy,
            operator,
            left,
            right,
            order_by,
            ..
        } => {
            let mut s = format!(
                "OPERATOR {strategy} {}({left}, {right})",
                oper_sql(operator)
            );
            if let Some(f) = order_by {
                s.push_str(&format!(" FOR ORDER BY {}", f.sql()));
            }
            s
        }
        OpMember::Function {
            number,
            left,
            right,
            function,
            ..
        } => format!("FUNCTION {number} ({left}, {right}) {}", function.sql()),
    }
}

fn member_aliases(target: ObjId, members: &[OpMember]) -> Vec<Alias> {
    members
        .iter()
        .map(|m| Alias {
            alias: ObjId::new(m.classid(), m.oid()),
            target,
        })
        .collect()
}

/// `CREATE OPERATOR FAMILY` and its loose members.
pub fn opfamily_object(f: &OpFamilyRow) -> SchemaObject {
    let q = format!("{} USING {}", f.name.sql(), quote_ident(&f.method));
    let mut o = object(
        class::PG_OPFAMILY,
        f.oid,
        ObjectKind::OperatorFamily,
        &f.name.schema,
        &f.name.name,
    );
    o.create.push(format!("CREATE OPERATOR FAMILY {q}"));
    if !f.members.is_empty() {
        let items: Vec<String> = ordered_members(&f.members)
            .into_iter()
            .map(member_sql)
            .collect();
        o.create.push(format!(
            "ALTER OPERATOR FAMILY {q} ADD {}",
            items.join(", ")
        ));
    }
    o.owner = Some(owner_sql(ObjectKind::OperatorFamily, &q, &f.owner));
    o.extend_comments(comment_sql("OPERATOR FAMILY", &q, f.comment.as_deref()));
    o.privilege = Privilege::MaySkip;
    o
}

/// Operators first, then functions, each by number.
fn ordered_members(members: &[OpMember]) -> Vec<&OpMember> {
    let mut v: Vec<&OpMember> = members.iter().collect();
    v.sort_by_key(|m| match m {
        OpMember::Operator { strategy, .. } => (0, *strategy),
        OpMember::Function { number, .. } => (1, *number),
    });
    v
}

/// `CREATE OPERATOR CLASS ... FOR TYPE ... USING ... FAMILY ... AS ...`.
pub fn opclass_sql(c: &OpClassRow) -> String {
    let mut items: Vec<String> = ordered_members(&c.members)
        .into_iter()
        .map(member_sql)
        .collect();
    if let Some(st) = &c.storage {
        items.push(format!("STORAGE {st}"));
    }
    if items.is_empty() {
        // Every member belongs to the family: a STORAGE of the indexed type is a no-op that
        // keeps the statement valid (what pg_dump does).
        items.push(format!("STORAGE {}", c.for_type));
    }
    format!(
        "CREATE OPERATOR CLASS {}{} FOR TYPE {} USING {} FAMILY {} AS {}",
        c.name.sql(),
        if c.default { " DEFAULT" } else { "" },
        c.for_type,
        quote_ident(&c.method),
        c.family.sql(),
        items.join(", ")
    )
}

pub fn opclass_object(c: &OpClassRow) -> SchemaObject {
    let q = format!("{} USING {}", c.name.sql(), quote_ident(&c.method));
    let mut o = object(
        class::PG_OPCLASS,
        c.oid,
        ObjectKind::OperatorClass,
        &c.name.schema,
        &c.name.name,
    );
    o.create.push(opclass_sql(c));
    o.owner = Some(owner_sql(ObjectKind::OperatorClass, &q, &c.owner));
    o.extend_comments(comment_sql("OPERATOR CLASS", &q, c.comment.as_deref()));
    o.deps.push(ObjId::new(class::PG_OPFAMILY, c.family_oid));
    o.privilege = Privilege::MaySkip;
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use db_migrate_catalog::objects::{Acl, ProcSig, QName};

    fn acl() -> Acl {
        Acl {
            owner: "o".into(),
            acl: None,
            default: vec!["=X/o".into(), "o=X/o".into()],
        }
    }

    #[test]
    fn procedures_use_their_own_keyword() {
        let f = FunctionRow {
            oid: 1,
            name: QName::new("s", "p"),
            kind: 'p',
            identity_args: "IN a integer".into(),
            arg_names: vec!["a".into()],
            arg_modes: Vec::new(),
            definition: "CREATE OR REPLACE PROCEDURE s.p(IN a integer)\n LANGUAGE sql\nBEGIN ATOMIC\n SELECT 1;\nEND\n".into(),
            language: "sql".into(),
            trusted: true,
            acl: Acl {
                acl: Some(vec!["o=X/o".into(), "bob=X/o".into()]),
                ..acl()
            },
            comment: Some("proc".into()),
        };
        let o = function_object(&f);
        assert!(o.create[0].starts_with("CREATE OR REPLACE PROCEDURE s.p(IN \"a\" integer)"));
        assert!(o.create[0].ends_with("END"));
        // Argument names quoted (see super::arguments).
        assert_eq!(
            o.owner.as_ref().unwrap().sql,
            "ALTER PROCEDURE \"s\".\"p\"(IN \"a\" integer) OWNER TO \"o\""
        );
        assert_eq!(
            o.comments(),
            vec!["COMMENT ON PROCEDURE \"s\".\"p\"(IN \"a\" integer) IS 'proc'"]
        );
        assert!(o.acl().contains(
            &"REVOKE EXECUTE ON PROCEDURE \"s\".\"p\"(IN \"a\" integer) FROM PUBLIC".to_string()
        ));
        assert_eq!(o.privilege, Privilege::Normal);
        let c = function_object(&FunctionRow {
            kind: 'f',
            trusted: false,
            language: "c".into(),
            ..f
        });
        assert_eq!(c.privilege, Privilege::MaySkip);
    }

    fn agg() -> AggregateRow {
        AggregateRow {
            oid: 2,
            name: QName::new("s", "a"),
            args: String::new(),
            identity_args: String::new(),
            arg_names: Vec::new(),
            arg_modes: Vec::new(),
            flat_args: String::new(),
            aggkind: 'n',
            transfn: Some(QName::new("pg_catalog", "int8inc")),
            transtype: "bigint".into(),
            transspace: 0,
            finalfn: None,
            finalextra: false,
            finalmodify: 'r',
            combinefn: None,
            serialfn: None,
            deserialfn: None,
            initval: Some("0".into()),
            mtransfn: None,
            minvtransfn: None,
            mtranstype: None,
            mtransspace: 0,
            mfinalfn: None,
            mfinalextra: false,
            mfinalmodify: 'r',
            minitval: None,
            sortop: None,
            parallel: 's',
            acl: acl(),
            comment: Some("count".into()),
        }
    }

    #[test]
    fn aggregates_without_arguments_use_a_star() {
        let o = aggregate_object(&agg());
        assert_eq!(
            o.create,
            vec![
                "CREATE AGGREGATE \"s\".\"a\"(*) (SFUNC = \"pg_catalog\".\"int8inc\", \
                 STYPE = bigint, INITCOND = '0', PARALLEL = SAFE)"
            ]
        );
        assert_eq!(
            o.owner.as_ref().unwrap().sql,
            "ALTER AGGREGATE \"s\".\"a\"(*) OWNER TO \"o\""
        );
        assert_eq!(
            o.comments(),
            vec!["COMMENT ON AGGREGATE \"s\".\"a\"(*) IS 'count'"]
        );
    }

    #[test]
    fn hypothetical_and_moving_aggregates() {
        let a = AggregateRow {
            args: "VARIADIC \"any\" ORDER BY VARIADIC \"any\"".into(),
            identity_args: "VARIADIC \"any\" ORDER BY VARIADIC \"any\"".into(),
            flat_args: "\"any\"".into(),
            aggkind: 'h',
            finalfn: Some(QName::new("s", "fin")),
            finalextra: true,
            finalmodify: 'w',
            mfinalmodify: 'w',
            sortop: Some(QName::new("pg_catalog", "<")),
            parallel: 'u',
            mtransfn: Some(QName::new("s", "m")),
            minvtransfn: Some(QName::new("s", "mi")),
            mtranstype: Some("bigint".into()),
            ..agg()
        };
        let sql = aggregate_sql(&a);
        assert!(sql.starts_with(
            "CREATE AGGREGATE \"s\".\"a\"(VARIADIC \"any\" ORDER BY VARIADIC \"any\") ("
        ));
        assert!(sql.contains("FINALFUNC_EXTRA"), "{sql}");
        assert!(!sql.contains("FINALFUNC_MODIFY"), "{sql}");
        assert!(sql.contains("MSFUNC = \"s\".\"m\", MINVFUNC = \"s\".\"mi\", MSTYPE = bigint"));
        assert!(sql.contains("SORTOP = OPERATOR(\"pg_catalog\".<)"), "{sql}");
        assert!(sql.ends_with(", HYPOTHETICAL)"), "{sql}");
        let o = aggregate_object(&a);
        assert!(o.acl().is_empty());
    }

    #[test]
    fn casts() {
        let mut c = CastRow {
            oid: 3,
            source: "\"s\".\"t\"".into(),
            target: "text".into(),
            method: 'f',
            context: 'a',
            function: Some(ProcSig {
                name: QName::new("s", "t_text"),
                args: "\"s\".\"t\"".into(),
            }),
            builtin_types: false,
            comment: Some("c".into()),
        };
        assert_eq!(
            cast_sql(&c),
            "CREATE CAST (\"s\".\"t\" AS text) WITH FUNCTION \"s\".\"t_text\"(\"s\".\"t\") AS ASSIGNMENT"
        );
        let o = cast_object(&c);
        assert_eq!(
            o.comments(),
            vec!["COMMENT ON CAST (\"s\".\"t\" AS text) IS 'c'"]
        );
        c.method = 'i';
        c.context = 'i';
        assert_eq!(
            cast_sql(&c),
            "CREATE CAST (\"s\".\"t\" AS text) WITH INOUT AS IMPLICIT"
        );
        c.method = 'b';
        c.context = 'e';
        assert_eq!(
            cast_sql(&c),
            "CREATE CAST (\"s\".\"t\" AS text) WITHOUT FUNCTION"
        );
        assert_eq!(cast_object(&c).privilege, Privilege::MaySkip);
    }

    #[test]
    fn operators_name_their_commutators() {
        let op = OperatorRow {
            oid: 4,
            name: QName::new("s s", "==="),
            left: None,
            right: Some("integer".into()),
            function: Some(QName::new("s s", "f")),
            commutator: Some(QName::new("s s", "===")),
            negator: Some(QName::new("s s", "!==")),
            restrict: Some(QName::new("pg_catalog", "eqsel")),
            join: None,
            merges: false,
            hashes: true,
            owner: "o".into(),
            comment: None,
        };
        assert_eq!(
            operator_sql(&op),
            "CREATE OPERATOR \"s s\".=== (FUNCTION = \"s s\".\"f\", RIGHTARG = integer, \
             COMMUTATOR = OPERATOR(\"s s\".===), NEGATOR = OPERATOR(\"s s\".!==), \
             RESTRICT = \"pg_catalog\".\"eqsel\", HASHES)"
        );
        assert_eq!(
            operator_object(&op).owner.unwrap().sql,
            "ALTER OPERATOR \"s s\".===(NONE, integer) OWNER TO \"o\""
        );
    }

    #[test]
    fn operator_classes_and_families() {
        let cls = OpClassRow {
            oid: 5,
            name: QName::new("s", "c_ops"),
            method: "btree".into(),
            default: true,
            for_type: "\"s\".\"c\"".into(),
            family: QName::new("s", "c_ops"),
            family_oid: 6,
            storage: None,
            owner: "o".into(),
            members: vec![
                OpMember::Function {
                    oid: 11,
                    number: 1,
                    left: "\"s\".\"c\"".into(),
                    right: "\"s\".\"c\"".into(),
                    function: ProcSig {
                        name: QName::new("s", "cmp"),
                        args: "\"s\".\"c\", \"s\".\"c\"".into(),
                    },
                },
                OpMember::Operator {
                    oid: 10,
                    strategy: 1,
                    operator: QName::new("s", "<"),
                    left: "\"s\".\"c\"".into(),
                    right: "\"s\".\"c\"".into(),
                    order_by: None,
                },
            ],
            comment: Some("cmp".into()),
        };
        assert_eq!(
            opclass_sql(&cls),
            "CREATE OPERATOR CLASS \"s\".\"c_ops\" DEFAULT FOR TYPE \"s\".\"c\" USING \"btree\" \
             FAMILY \"s\".\"c_ops\" AS OPERATOR 1 \"s\".<(\"s\".\"c\", \"s\".\"c\"), \
             FUNCTION 1 (\"s\".\"c\", \"s\".\"c\") \"s\".\"cmp\"(\"s\".\"c\", \"s\".\"c\")"
        );
        let o = opclass_object(&cls);
        assert_eq!(
            o.comments(),
            vec!["COMMENT ON OPERATOR CLASS \"s\".\"c_ops\" USING \"btree\" IS 'cmp'"]
        );
        assert_eq!(o.privilege, Privilege::MaySkip);
        let empty = OpClassRow {
            members: vec![],
            ..cls.clone()
        };
        assert!(opclass_sql(&empty).ends_with(" AS STORAGE \"s\".\"c\""));
        let fam = OpFamilyRow {
            oid: 6,
            name: QName::new("s", "c_ops"),
            method: "btree".into(),
            owner: "o".into(),
            members: cls.members.clone(),
            comment: None,
        };
        let f = opfamily_object(&fam);
        assert_eq!(
            f.create[0],
            "CREATE OPERATOR FAMILY \"s\".\"c_ops\" USING \"btree\""
        );
        assert!(
            f.create[1].starts_with(
                "ALTER OPERATOR FAMILY \"s\".\"c_ops\" USING \"btree\" ADD OPERATOR 1"
            )
        );
        let aliases = member_aliases(ObjId::new(class::PG_OPFAMILY, 6), &fam.members);
        assert_eq!(aliases[0].alias, ObjId::new(class::PG_AMPROC, 11));
        assert_eq!(aliases[1].alias, ObjId::new(class::PG_AMOP, 10));
    }
}
