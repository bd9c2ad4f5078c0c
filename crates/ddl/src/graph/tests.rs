//! The order of collected objects and the table parts split out of a cycle.

use std::collections::HashSet;

use super::order::permute;
use super::*;
use crate::model::{Alias, Collected, ObjId, ObjectKind, SchemaObject, Section, class};

fn obj(oid: u32, kind: ObjectKind, section: Section, name: &str) -> SchemaObject {
    SchemaObject::new(
        ObjId::new(class::PG_CLASS, oid),
        kind,
        section,
        Some("s"),
        name,
    )
}

fn dep(dependent: u32, referenced: u32) -> Depend {
    Depend {
        dependent: ObjId::new(class::PG_CLASS, dependent),
        referenced: ObjId::new(class::PG_CLASS, referenced),
        deptype: b'n',
    }
}

fn names(s: &Schema) -> Vec<&str> {
    s.objects.iter().map(|o| o.name.as_str()).collect()
}

#[test]
fn permute_moves_each_element_to_its_place() {
    let mut v = vec!['a', 'b', 'c', 'd', 'e'];
    permute(&mut v, &[3, 0, 4, 1, 2]);
    assert_eq!(v, vec!['d', 'a', 'e', 'b', 'c']);
    let mut w = vec![1, 2, 3];
    permute(&mut w, &[0, 1, 2]);
    assert_eq!(w, vec![1, 2, 3]);
}

#[test]
fn dependencies_win_over_kind_and_name_order() {
    let c = Collected {
        objects: vec![
            obj(1, ObjectKind::View, Section::PreData, "a_view"),
            obj(2, ObjectKind::View, Section::PreData, "b_view"),
            obj(3, ObjectKind::Table, Section::PreData, "t"),
        ],
        ..Default::default()
    };
    // a_view reads b_view, which reads t.
    let s = order(c, &[dep(1, 2), dep(2, 3)]);
    assert_eq!(names(&s), vec!["t", "b_view", "a_view"]);
    assert_eq!(s.levels, vec![0, 1, 2]);
    assert!(s.warnings.is_empty());
}

#[test]
fn aliases_redirect_dependencies() {
    let mut c = Collected {
        objects: vec![
            obj(1, ObjectKind::Table, Section::PreData, "a_uses_type"),
            obj(2, ObjectKind::Table, Section::PreData, "b_row_type_owner"),
        ],
        ..Default::default()
    };
    // Table 1 has a column of table 2's row type (pg_type 900, aliased to table 2).
    c.aliases.push(Alias {
        alias: ObjId::new(class::PG_TYPE, 900),
        target: ObjId::new(class::PG_CLASS, 2),
    });
    let d = Depend {
        dependent: ObjId::new(class::PG_CLASS, 1),
        referenced: ObjId::new(class::PG_TYPE, 900),
        deptype: b'n',
    };
    let s = order(c, &[d]);
    assert_eq!(names(&s), vec!["b_row_type_owner", "a_uses_type"]);
}

#[test]
fn pre_data_depending_on_post_data_moves_after_it() {
    let c = Collected {
        objects: vec![
            obj(1, ObjectKind::View, Section::PreData, "v"),
            obj(2, ObjectKind::Constraint, Section::PostData, "pk"),
            obj(3, ObjectKind::Table, Section::PreData, "t"),
            obj(4, ObjectKind::View, Section::PreData, "v_on_v"),
        ],
        ..Default::default()
    };
    let s = order(c, &[dep(1, 2), dep(2, 3), dep(4, 1)]);
    assert_eq!(names(&s), vec!["t", "pk", "v", "v_on_v"]);
    assert!(s.objects[2].section == Section::PostData);
    assert!(s.objects[3].section == Section::PostData);
}

#[test]
fn extension_members_are_left_to_the_extension() {
    let c = Collected {
        objects: vec![
            obj(1, ObjectKind::Function, Section::PreData, "ext_fn"),
            obj(2, ObjectKind::Function, Section::PreData, "mine"),
        ],
        ..Default::default()
    };
    let member = Depend {
        dependent: ObjId::new(class::PG_CLASS, 1),
        referenced: ObjId::new(class::PG_EXTENSION, 50),
        deptype: b'e',
    };
    assert_eq!(names(&order(c, &[member])), vec!["mine"]);
}

#[test]
fn owned_sequences_come_before_their_table() {
    let c = Collected {
        objects: vec![
            obj(1, ObjectKind::Table, Section::PreData, "t"),
            obj(2, ObjectKind::Sequence, Section::PreData, "t_id_seq"),
        ],
        ..Default::default()
    };
    let auto = Depend {
        deptype: b'a',
        ..dep(2, 1)
    };
    // The default of t calls nextval(seq): recorded on pg_attrdef, aliased to t here.
    let s = order(c, &[auto, dep(1, 2)]);
    assert_eq!(names(&s), vec!["t_id_seq", "t"]);
}

#[test]
fn default_privileges_come_after_everything() {
    let c = Collected {
        objects: vec![
            obj(1, ObjectKind::DefaultPrivileges, Section::PreData, "dp"),
            obj(2, ObjectKind::Table, Section::PreData, "t"),
            obj(3, ObjectKind::Trigger, Section::PostData, "trg"),
        ],
        ..Default::default()
    };
    let s = order(c, &[]);
    assert_eq!(names(&s), vec!["t", "trg", "dp"]);
    assert_eq!(s.objects[2].section, Section::PostData);
}

#[test]
fn cycles_are_broken_with_a_warning() {
    let c = Collected {
        objects: vec![
            obj(1, ObjectKind::Function, Section::PreData, "f"),
            obj(2, ObjectKind::Table, Section::PreData, "t"),
        ],
        ..Default::default()
    };
    let s = order(c, &[dep(1, 2), dep(2, 1)]);
    assert_eq!(s.objects.len(), 2);
    assert_eq!(s.warnings.len(), 1);
    assert!(s.warnings[0].message.contains("cycle"), "{}", s.warnings[0]);
}

#[test]
fn only_defaults_and_checks_on_a_cycle_are_split_out() {
    let mut t = obj(2, ObjectKind::Table, Section::PreData, "t");
    t.id = ObjId::new(class::PG_CLASS, 2);
    let mut f = obj(1, ObjectKind::Function, Section::PreData, "f");
    f.id = ObjId::new(class::PG_PROC, 1);
    let seq = obj(3, ObjectKind::Sequence, Section::PreData, "t_id_seq");
    let on_cycle = ObjId::new(class::PG_ATTRDEF, 10);
    let check_on_cycle = ObjId::new(class::PG_CONSTRAINT, 11);
    let calls_nextval = ObjId::new(class::PG_ATTRDEF, 12);
    let aliases = [on_cycle, check_on_cycle, calls_nextval].map(|alias| Alias {
        alias,
        target: t.id,
    });
    let c = Collected {
        objects: vec![t.clone(), f.clone(), seq.clone()],
        aliases: aliases.to_vec(),
        ..Default::default()
    };
    let depend = |dependent: ObjId, referenced: ObjId| Depend {
        dependent,
        referenced,
        deptype: b'n',
    };
    let d = [
        // f reads t (a SQL-standard body); t's default and CHECK call f.
        depend(f.id, t.id),
        depend(on_cycle, f.id),
        depend(check_on_cycle, f.id),
        // Another default calls nextval of a sequence: no cycle.
        depend(calls_nextval, seq.id),
    ];
    let split = cycle_parts(&[&c], &d);
    assert_eq!(split, HashSet::from([on_cycle, check_on_cycle]));
    // Without the function reading the table there is nothing to split.
    assert!(cycle_parts(&[&c], &d[1..]).is_empty());
}

#[test]
fn objects_know_what_they_depend_on_including_through_extension_members() {
    let mut ext = obj(1, ObjectKind::Extension, Section::PreData, "file_fdw");
    ext.id = ObjId::new(class::PG_EXTENSION, 1);
    let mut server = obj(2, ObjectKind::ForeignServer, Section::PreData, "files");
    server.id = ObjId::new(class::PG_FOREIGN_SERVER, 2);
    let table = obj(3, ObjectKind::ForeignTable, Section::PreData, "imported");
    let fdw = ObjId::new(class::PG_FOREIGN_DATA_WRAPPER, 50);
    let d = [
        // The wrapper belongs to the extension; the server uses the wrapper.
        Depend {
            dependent: fdw,
            referenced: ext.id,
            deptype: b'e',
        },
        Depend {
            dependent: server.id,
            referenced: fdw,
            deptype: b'n',
        },
        Depend {
            dependent: table.id,
            referenced: server.id,
            deptype: b'n',
        },
    ];
    let c = Collected {
        objects: vec![table, server, ext],
        ..Default::default()
    };
    let s = order(c, &d);
    assert_eq!(names(&s), vec!["file_fdw", "files", "imported"]);
    assert_eq!(s.objects[0].depends_on, vec![]);
    assert_eq!(
        s.objects[1].depends_on,
        vec![ObjId::new(class::PG_EXTENSION, 1)]
    );
    assert_eq!(
        s.objects[2].depends_on,
        vec![ObjId::new(class::PG_FOREIGN_SERVER, 2)]
    );
}
