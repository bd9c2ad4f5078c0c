//! User-defined types: enums, composite types, domains, range types (with their multirange),
//! base types and bare shell types.
//!
//! Rows come from [`db_migrate_catalog::objects::list_types`]; this module turns them into
//! statements. Catalog rows that `pg_depend` mentions but that are created along with a type
//! are reported as [`Alias`]es of it: array types, the relation of a composite type, domain
//! constraints, multirange types and their arrays, range and multirange constructor functions
//! and range-to-multirange casts.
//!
//! A base type and its I/O functions depend on each other (the functions take or return the
//! type), and so does a range type with a `CANONICAL` function. Such a type is one object whose
//! statements are those pg_dump emits: the shell type, the functions, then the full
//! `CREATE TYPE`. The functions are aliases of the type and not objects of their own.

use std::collections::HashMap;

use super::arguments::ArgNames;
use crate::model::{
    Alias, Collected, ObjId, ObjectKind, Privilege, SchemaObject, Section, acl_sql, class,
    comment_sql, owner_sql,
};
use db_migrate_catalog::objects::{
    self, BaseInfo, CompositeAttr, DomainInfo, FunctionRow, QName, RangeInfo, TypeCommon,
    TypeDetail, TypeRow,
};
use db_migrate_conn::Session;
use db_migrate_core::error::Result;
use db_migrate_core::sql::{quote_ident, quote_literal};

/// Every user type of the session's database.
pub async fn collect(s: &Session) -> Result<Collected> {
    let mut c = Collected::default();
    let types = objects::list_types(s).await?;
    let needs_bundle = types.iter().any(|t| match &t.detail {
        TypeDetail::Base(_) => true,
        TypeDetail::Range(r) => r.canonical.is_some(),
        _ => false,
    });
    let mut bundled: HashMap<u32, Vec<FunctionRow>> = HashMap::new();
    if needs_bundle {
        for (typ, f) in objects::list_bundled_functions(s).await? {
            bundled.entry(typ).or_default().push(f);
        }
    }
    for t in &types {
        let functions = bundled.remove(&t.common.oid).unwrap_or_default();
        c.aliases.extend(type_aliases(t, &functions));
        c.objects.push(type_object(t, &functions));
    }
    // Array types of every other type (extension members', relations' row types): an object
    // using `hstore[]` depends on what creates `hstore`.
    for (array, element) in objects::list_array_types(s).await? {
        c.aliases.push(Alias {
            alias: ObjId::new(class::PG_TYPE, array),
            target: ObjId::new(class::PG_TYPE, element),
        });
    }
    for (classid, oid, typ) in objects::list_type_internal_rows(s).await? {
        c.aliases.push(Alias {
            alias: ObjId::new(classid, oid),
            target: ObjId::new(class::PG_TYPE, typ),
        });
    }
    Ok(c)
}

/// The catalog rows created along with `t` (see the module docs).
pub fn type_aliases(t: &TypeRow, functions: &[FunctionRow]) -> Vec<Alias> {
    let target = ObjId::new(class::PG_TYPE, t.common.oid);
    let mut ids = Vec::new();
    if t.common.array != 0 {
        ids.push(ObjId::new(class::PG_TYPE, t.common.array));
    }
    match &t.detail {
        TypeDetail::Composite(_) if t.common.relid != 0 => {
            ids.push(ObjId::new(class::PG_CLASS, t.common.relid));
        }
        TypeDetail::Domain(d) => {
            ids.extend(
                d.constraints
                    .iter()
                    .map(|c| ObjId::new(class::PG_CONSTRAINT, c.oid)),
            );
        }
        TypeDetail::Range(r) => {
            if let Some((multi, _, multi_array)) = &r.multirange {
                ids.push(ObjId::new(class::PG_TYPE, *multi));
                if *multi_array != 0 {
                    ids.push(ObjId::new(class::PG_TYPE, *multi_array));
                }
            }
        }
        _ => {}
    }
    ids.extend(functions.iter().map(|f| ObjId::new(class::PG_PROC, f.oid)));
    ids.into_iter()
        .map(|alias| Alias { alias, target })
        .collect()
}

/// The object creating `t`; `functions` are the functions created with it (base type I/O,
/// range canonical), from [`objects::list_bundled_functions`].
pub fn type_object(t: &TypeRow, functions: &[FunctionRow]) -> SchemaObject {
    let c = &t.common;
    let q = c.name.sql();
    let kind = match &t.detail {
        TypeDetail::Domain(_) => ObjectKind::Domain,
        TypeDetail::Shell => ObjectKind::ShellType,
        _ => ObjectKind::Type,
    };
    let mut o = SchemaObject::new(
        ObjId::new(class::PG_TYPE, c.oid),
        kind,
        Section::PreData,
        Some(&c.name.schema),
        &c.name.name,
    );
    match &t.detail {
        TypeDetail::Enum(labels) => o.create.push(enum_sql(&q, labels)),
        TypeDetail::Composite(attrs) => {
            o.create.push(composite_sql(&q, attrs));
            for a in attrs {
                o.extend_comments(comment_sql(
                    "COLUMN",
                    &format!("{q}.{}", quote_ident(&a.name)),
                    a.comment.as_deref(),
                ));
            }
        }
        TypeDetail::Domain(d) => {
            o.create.extend(domain_sql(&q, d));
            for con in &d.constraints {
                o.extend_comments(comment_sql(
                    "CONSTRAINT",
                    &format!("{} ON DOMAIN {q}", quote_ident(&con.name)),
                    con.comment.as_deref(),
                ));
            }
        }
        TypeDetail::Range(r) => {
            if r.canonical.is_some() {
                o.create.push(format!("CREATE TYPE {q}"));
                o.create.extend(functions.iter().map(function_sql));
                o.privilege = Privilege::MaySkip;
            }
            o.create.push(range_create(&c.name, r));
        }
        TypeDetail::Base(b) => {
            o.create.push(format!("CREATE TYPE {q}"));
            o.create.extend(functions.iter().map(function_sql));
            o.create.push(base_sql(&q, b));
            o.privilege = Privilege::MaySkip;
        }
        TypeDetail::Shell => o.create.push(format!("CREATE TYPE {q}")),
    }
    set_owner_acl_comment(&mut o, c, kind, &q);
    // The bundled functions' own owner, privileges and comments.
    for f in functions {
        let names = ArgNames {
            names: &f.arg_names,
            modes: &f.arg_modes,
        };
        let sig = format!("{}({})", f.name.sql(), names.quote_list(&f.identity_args));
        if let Some(owner) = &mut o.owner {
            owner.sql.push_str(&format!(
                "; ALTER FUNCTION {sig} OWNER TO {}",
                quote_ident(&f.acl.owner)
            ));
        }
        o.extend_acl(acl_sql(
            &format!("FUNCTION {sig}"),
            &f.acl.owner,
            f.acl.acl.as_deref(),
            &f.acl.default,
            None,
        ));
        o.extend_comments(comment_sql("FUNCTION", &sig, f.comment.as_deref()));
    }
    o
}

fn set_owner_acl_comment(o: &mut SchemaObject, c: &TypeCommon, kind: ObjectKind, q: &str) {
    let keyword = if kind == ObjectKind::Domain {
        "DOMAIN"
    } else {
        "TYPE"
    };
    o.owner = Some(owner_sql(kind, q, &c.acl.owner));
    if kind != ObjectKind::ShellType {
        o.set_acl(acl_sql(
            &format!("{keyword} {q}"),
            &c.acl.owner,
            c.acl.acl.as_deref(),
            &c.acl.default,
            None,
        ));
    }
    if let Some(comment) = comment_sql(keyword, q, c.comment.as_deref()) {
        let others = o.comments().to_vec();
        o.set_comments(std::iter::once(comment).chain(others).collect());
    }
}

/// A function created along with a type: its `pg_get_functiondef` text.
fn function_sql(f: &FunctionRow) -> String {
    ArgNames {
        names: &f.arg_names,
        modes: &f.arg_modes,
    }
    .quote_definition(f.definition.trim_end())
}

/// `CREATE TYPE t AS ENUM ('a', 'b')`, labels in `enumsortorder` order.
pub fn enum_sql(q: &str, labels: &[String]) -> String {
    let labels: Vec<String> = labels.iter().map(|l| quote_literal(l)).collect();
    format!("CREATE TYPE {q} AS ENUM ({})", labels.join(", "))
}

/// `CREATE TYPE t AS (a integer COLLATE c, ...)`.
pub fn composite_sql(q: &str, attrs: &[CompositeAttr]) -> String {
    let cols: Vec<String> = attrs
        .iter()
        .map(|a| {
            let mut col = format!("{} {}", quote_ident(&a.name), a.type_sql);
            if let Some(coll) = &a.collation {
                col.push_str(&format!(" COLLATE {}", coll.sql()));
            }
            col
        })
        .collect();
    format!("CREATE TYPE {q} AS ({})", cols.join(", "))
}

/// `CREATE DOMAIN` with its validated constraints inline, then `ALTER DOMAIN ... ADD
/// CONSTRAINT ... NOT VALID` for the others (CREATE DOMAIN does not take NOT VALID).
pub fn domain_sql(q: &str, d: &DomainInfo) -> Vec<String> {
    let mut create = format!("CREATE DOMAIN {q} AS {}", d.base_sql);
    if let Some(coll) = &d.collation {
        create.push_str(&format!(" COLLATE {}", coll.sql()));
    }
    if let Some(def) = &d.default {
        create.push_str(&format!(" DEFAULT {def}"));
    }
    let named_not_null = d.constraints.iter().any(|c| c.contype == 'n');
    if d.not_null && !named_not_null {
        create.push_str(" NOT NULL");
    }
    let mut later = Vec::new();
    for c in &d.constraints {
        let item = format!("CONSTRAINT {} {}", quote_ident(&c.name), c.definition);
        if c.validated {
            create.push(' ');
            create.push_str(&item);
        } else {
            later.push(format!("ALTER DOMAIN {q} ADD {item}"));
        }
    }
    let mut out = vec![create];
    out.extend(later);
    out
}

/// `CREATE TYPE r AS RANGE (SUBTYPE = ..., ...)`, without the multirange's name.
pub fn range_sql(q: &str, r: &RangeInfo) -> String {
    let mut items = vec![format!("SUBTYPE = {}", r.subtype_sql)];
    if let Some(opc) = &r.opclass {
        items.push(format!("SUBTYPE_OPCLASS = {}", opc.sql()));
    }
    if let Some(coll) = &r.collation {
        items.push(format!("COLLATION = {}", coll.sql()));
    }
    if let Some(f) = &r.canonical {
        items.push(format!("CANONICAL = {}", f.sql()));
    }
    if let Some(f) = &r.subdiff {
        items.push(format!("SUBTYPE_DIFF = {}", f.sql()));
    }
    format!("CREATE TYPE {q} AS RANGE ({})", items.join(", "))
}

/// The multirange name the server picks for a range type without `MULTIRANGE_TYPE_NAME`
/// (`makeMultirangeTypeName`): the first `range` becomes `multirange`, else `_multirange` is
/// appended; clipped to 63 bytes.
pub fn default_multirange_name(range: &str) -> String {
    let mut name = match range.find("range") {
        Some(i) => format!("{}multi{}", &range[..i], &range[i..]),
        None => {
            let mut cut = range.len().min(63 - 11);
            while !range.is_char_boundary(cut) {
                cut -= 1;
            }
            format!("{}_multirange", &range[..cut])
        }
    };
    let mut cut = name.len().min(63);
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    name.truncate(cut);
    name
}

/// [`range_sql`] with `MULTIRANGE_TYPE_NAME` when the multirange is not the server's default
/// one (leaving it out keeps the statement valid on PostgreSQL 13 and older).
fn range_create(range: &QName, r: &RangeInfo) -> String {
    let mut sql = range_sql(&range.sql(), r);
    if let Some((_, multi, _)) = &r.multirange
        && (multi.schema != range.schema || multi.name != default_multirange_name(&range.name))
    {
        sql.pop();
        sql.push_str(&format!(", MULTIRANGE_TYPE_NAME = {})", multi.sql()));
    }
    sql
}

/// `CREATE TYPE t (INPUT = ..., OUTPUT = ..., ...)` for a base type whose shell exists.
pub fn base_sql(q: &str, b: &BaseInfo) -> String {
    let mut items = Vec::new();
    for (key, f) in [
        ("INPUT", &b.input),
        ("OUTPUT", &b.output),
        ("RECEIVE", &b.receive),
        ("SEND", &b.send),
        ("TYPMOD_IN", &b.typmod_in),
        ("TYPMOD_OUT", &b.typmod_out),
        ("ANALYZE", &b.analyze),
        ("SUBSCRIPT", &b.subscript),
    ] {
        if let Some(f) = f {
            items.push(format!("{key} = {}", f.sql()));
        }
    }
    items.push(if b.length == -1 {
        "INTERNALLENGTH = VARIABLE".to_string()
    } else {
        format!("INTERNALLENGTH = {}", b.length)
    });
    if b.by_value {
        items.push("PASSEDBYVALUE".to_string());
    }
    items.push(format!(
        "ALIGNMENT = {}",
        match b.align {
            'c' => "char",
            's' => "int2",
            'd' => "double",
            _ => "int4",
        }
    ));
    items.push(format!(
        "STORAGE = {}",
        match b.storage {
            'e' => "external",
            'x' => "extended",
            'm' => "main",
            _ => "plain",
        }
    ));
    if b.category != 'U' {
        items.push(format!(
            "CATEGORY = {}",
            quote_literal(&b.category.to_string())
        ));
    }
    if b.preferred {
        items.push("PREFERRED = true".to_string());
    }
    if let Some(d) = &b.default {
        items.push(format!("DEFAULT = {}", quote_literal(d)));
    }
    if let Some(e) = &b.element {
        items.push(format!("ELEMENT = {e}"));
    }
    if b.delimiter != ',' {
        items.push(format!(
            "DELIMITER = {}",
            quote_literal(&b.delimiter.to_string())
        ));
    }
    if b.collatable {
        items.push("COLLATABLE = true".to_string());
    }
    format!("CREATE TYPE {q} ({})", items.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use db_migrate_catalog::objects::{Acl, DomainConstraint, QName};

    fn common(oid: u32, name: &str, typtype: char) -> TypeCommon {
        TypeCommon {
            oid,
            name: QName::new("s", name),
            typtype,
            defined: true,
            array: oid + 1,
            relid: 0,
            acl: Acl {
                owner: "o".into(),
                acl: None,
                default: vec!["=U/o".into(), "o=U/o".into()],
            },
            comment: None,
        }
    }

    #[test]
    fn enum_labels_are_literals_in_order() {
        assert_eq!(
            enum_sql("\"s\".\"e\"", &["b".into(), "it's".into(), "a".into()]),
            "CREATE TYPE \"s\".\"e\" AS ENUM ('b', 'it''s', 'a')"
        );
    }

    #[test]
    fn composite_attributes_keep_collations() {
        let attrs = vec![
            CompositeAttr {
                name: "select".into(),
                type_sql: "integer".into(),
                collation: None,
                comment: Some("c".into()),
            },
            CompositeAttr {
                name: "t".into(),
                type_sql: "text".into(),
                collation: Some(QName::new("pg_catalog", "C")),
                comment: None,
            },
        ];
        assert_eq!(
            composite_sql("\"s\".\"c\"", &attrs),
            "CREATE TYPE \"s\".\"c\" AS (\"select\" integer, \"t\" text COLLATE \"pg_catalog\".\"C\")"
        );
        let t = TypeRow {
            common: TypeCommon {
                relid: 500,
                ..common(100, "c", 'c')
            },
            detail: TypeDetail::Composite(attrs),
        };
        let o = type_object(&t, &[]);
        assert_eq!(
            o.comments(),
            vec!["COMMENT ON COLUMN \"s\".\"c\".\"select\" IS 'c'"]
        );
        let aliases = type_aliases(&t, &[]);
        assert!(aliases.contains(&Alias {
            alias: ObjId::new(class::PG_CLASS, 500),
            target: ObjId::new(class::PG_TYPE, 100)
        }));
        assert!(aliases.contains(&Alias {
            alias: ObjId::new(class::PG_TYPE, 101),
            target: ObjId::new(class::PG_TYPE, 100)
        }));
    }

    #[test]
    fn domains_inline_valid_constraints_and_add_not_valid_ones() {
        let d = DomainInfo {
            base_sql: "numeric(10,2)".into(),
            collation: None,
            default: Some("0".into()),
            not_null: true,
            constraints: vec![
                DomainConstraint {
                    oid: 1,
                    name: "pos".into(),
                    contype: 'c',
                    definition: "CHECK ((VALUE > (0)::numeric))".into(),
                    validated: true,
                    comment: Some("positive".into()),
                },
                DomainConstraint {
                    oid: 2,
                    name: "small".into(),
                    contype: 'c',
                    definition: "CHECK ((VALUE < (100)::numeric)) NOT VALID".into(),
                    validated: false,
                    comment: None,
                },
            ],
        };
        assert_eq!(
            domain_sql("\"s\".\"d\"", &d),
            vec![
                "CREATE DOMAIN \"s\".\"d\" AS numeric(10,2) DEFAULT 0 NOT NULL CONSTRAINT \"pos\" \
                 CHECK ((VALUE > (0)::numeric))",
                "ALTER DOMAIN \"s\".\"d\" ADD CONSTRAINT \"small\" CHECK ((VALUE < (100)::numeric)) \
                 NOT VALID"
            ]
        );
        let t = TypeRow {
            common: common(200, "d", 'd'),
            detail: TypeDetail::Domain(d),
        };
        let o = type_object(&t, &[]);
        assert_eq!(o.kind, ObjectKind::Domain);
        assert_eq!(
            o.owner.as_ref().unwrap().sql,
            "ALTER DOMAIN \"s\".\"d\" OWNER TO \"o\""
        );
        assert_eq!(
            o.comments(),
            vec!["COMMENT ON CONSTRAINT \"pos\" ON DOMAIN \"s\".\"d\" IS 'positive'"]
        );
        assert_eq!(type_aliases(&t, &[]).len(), 3);
    }

    #[test]
    fn ranges_name_their_multirange() {
        let r = RangeInfo {
            subtype_sql: "text".into(),
            opclass: Some(QName::new("pg_catalog", "text_pattern_ops")),
            collation: Some(QName::new("pg_catalog", "C")),
            canonical: None,
            canonical_oid: 0,
            subdiff: None,
            multirange: Some((301, QName::new("s", "r_multi"), 302)),
        };
        assert_eq!(
            range_create(&QName::new("s", "r"), &r),
            "CREATE TYPE \"s\".\"r\" AS RANGE (SUBTYPE = text, SUBTYPE_OPCLASS = \
             \"pg_catalog\".\"text_pattern_ops\", COLLATION = \"pg_catalog\".\"C\", \
             MULTIRANGE_TYPE_NAME = \"s\".\"r_multi\")"
        );
        let default = RangeInfo {
            multirange: Some((301, QName::new("s", "r_multirange"), 302)),
            ..r.clone()
        };
        assert!(!range_create(&QName::new("s", "r"), &default).contains("MULTIRANGE"));
        assert_eq!(default_multirange_name("floatrange"), "floatmultirange");
        assert_eq!(
            default_multirange_name("int_range_x_range"),
            "int_multirange_x_range"
        );
        assert_eq!(default_multirange_name("tr"), "tr_multirange");
        let long = "é".repeat(31);
        let m = default_multirange_name(&long);
        assert!(m.len() <= 63 && m.ends_with("_multirange"), "{m}");
        let t = TypeRow {
            common: common(300, "r", 'r'),
            detail: TypeDetail::Range(r),
        };
        let targets: Vec<u32> = type_aliases(&t, &[])
            .iter()
            .map(|a| a.alias.objid)
            .collect();
        assert_eq!(targets, vec![301, 301, 302]);
        assert_eq!(type_object(&t, &[]).privilege, Privilege::Normal);
    }

    #[test]
    fn base_types_come_with_shell_and_functions() {
        let b = BaseInfo {
            input: Some(QName::new("s", "b_in")),
            output: Some(QName::new("s", "b_out")),
            receive: None,
            send: None,
            typmod_in: None,
            typmod_out: None,
            analyze: None,
            subscript: None,
            length: 4,
            by_value: true,
            align: 'i',
            storage: 'p',
            category: 'N',
            preferred: false,
            default: Some("0".into()),
            element: None,
            delimiter: ',',
            collatable: false,
        };
        let f = FunctionRow {
            oid: 900,
            name: QName::new("s", "b_in"),
            kind: 'f',
            identity_args: "cstring".into(),
            arg_names: Vec::new(),
            arg_modes: Vec::new(),
            definition: "CREATE OR REPLACE FUNCTION s.b_in(cstring)\n RETURNS s.b\n LANGUAGE internal\nAS $function$int4in$function$\n".into(),
            language: "internal".into(),
            trusted: false,
            acl: Acl {
                owner: "o".into(),
                acl: None,
                default: vec![],
            },
            comment: Some("in".into()),
        };
        let t = TypeRow {
            common: common(400, "b", 'b'),
            detail: TypeDetail::Base(b),
        };
        let o = type_object(&t, std::slice::from_ref(&f));
        assert_eq!(o.create[0], "CREATE TYPE \"s\".\"b\"");
        assert!(o.create[1].starts_with("CREATE OR REPLACE FUNCTION s.b_in"));
        assert_eq!(
            o.create[2],
            "CREATE TYPE \"s\".\"b\" (INPUT = \"s\".\"b_in\", OUTPUT = \"s\".\"b_out\", \
             INTERNALLENGTH = 4, PASSEDBYVALUE, ALIGNMENT = int4, STORAGE = plain, \
             CATEGORY = 'N', DEFAULT = '0')"
        );
        assert_eq!(o.privilege, Privilege::MaySkip);
        assert!(
            o.owner
                .as_ref()
                .unwrap()
                .sql
                .ends_with("; ALTER FUNCTION \"s\".\"b_in\"(cstring) OWNER TO \"o\"")
        );
        assert_eq!(
            o.comments(),
            vec!["COMMENT ON FUNCTION \"s\".\"b_in\"(cstring) IS 'in'"]
        );
        assert!(type_aliases(&t, &[f]).contains(&Alias {
            alias: ObjId::new(class::PG_PROC, 900),
            target: ObjId::new(class::PG_TYPE, 400)
        }));
    }
}
