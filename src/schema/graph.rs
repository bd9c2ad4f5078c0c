//! Reading a whole database's schema and ordering it.
//!
//! The order comes from `pg_depend` (normal and automatic dependencies), redirected through the
//! readers' [`Alias`]es onto the objects we create, plus the dependencies readers add
//! themselves. Ties are broken like pg_dump does (kind, schema, name), so the output is stable
//! and related objects stay together. Objects that belong to an extension (`deptype = 'e'`) are
//! left to `CREATE EXTENSION`.
//!
//! Two rules the catalogs do not record are applied here:
//! - a pre-data object that depends on a post-data object (a view relying on a primary key for
//!   its GROUP BY, say) moves to post-data, with everything that depends on it;
//! - a sequence's automatic dependency on the table that owns it is ignored: the sequence must
//!   exist before a column default calls it, and `OWNED BY` is a separate object.
//!
//! Cycles that remain (rare with `check_function_bodies = off`) are broken by emitting the
//! lowest-priority object of the cycle first, with a warning naming the objects involved.

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashMap, HashSet};

use super::model::{Alias, Collected, ObjId, ObjectKind, SchemaObject, Section, class};
use super::{globals, relations, routines, types};
use crate::conn::Session;
use crate::error::{Error, Result};

/// One `pg_depend` row we care about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Depend {
    pub dependent: ObjId,
    pub referenced: ObjId,
    pub deptype: u8,
}

/// A database's schema, in creation order.
#[derive(Debug, Clone, Default)]
pub struct Schema {
    pub objects: Vec<SchemaObject>,
    /// For each object, its depth in the dependency graph: everything an object depends on has
    /// a smaller level, so the objects of one level can be created concurrently.
    pub levels: Vec<u32>,
    pub warnings: Vec<String>,
}

impl Schema {
    pub fn pre_data(&self) -> impl Iterator<Item = &SchemaObject> {
        self.objects
            .iter()
            .filter(|o| o.section == Section::PreData)
    }

    pub fn post_data(&self) -> impl Iterator<Item = &SchemaObject> {
        self.objects
            .iter()
            .filter(|o| o.section == Section::PostData)
    }

    /// The objects of one section with their levels, in creation order.
    pub fn section_with_levels(&self, section: Section) -> Vec<(&SchemaObject, u32)> {
        self.objects
            .iter()
            .zip(self.levels.iter().copied())
            .filter(|(o, _)| o.section == section)
            .collect()
    }
}

/// Reads `pg_depend` rows between user objects (OIDs from `FirstNormalObjectId` on).
pub async fn load_depend(s: &Session) -> Result<Vec<Depend>> {
    let rows = s
        .query(
            "SELECT classid::int8, objid::int8, refclassid::int8, refobjid::int8, deptype::text \
               FROM pg_catalog.pg_depend \
              WHERE deptype IN ('n', 'a', 'e') AND objid >= 16384 AND refobjid >= 16384",
            &[],
        )
        .await
        .map_err(|e| Error::from_pg(e).with_phase("reading pg_depend"))?;
    Ok(rows
        .iter()
        .map(|r| Depend {
            dependent: ObjId::new(r.get::<_, i64>(0) as u32, r.get::<_, i64>(1) as u32),
            referenced: ObjId::new(r.get::<_, i64>(2) as u32, r.get::<_, i64>(3) as u32),
            deptype: r.get::<_, String>(4).bytes().next().unwrap_or(b'n'),
        })
        .collect())
}

/// Reads every object of the session's database and orders it.
pub async fn read_schema(s: &Session) -> Result<Schema> {
    let mut all = Collected::default();
    all.extend(globals::collect(s).await?);
    all.extend(types::collect(s).await?);
    all.extend(routines::collect(s).await?);
    all.extend(relations::collect(s).await?);
    let depend = load_depend(s).await?;
    Ok(order(all, &depend))
}

/// Sort key for ties: section, kind, schema, name, then the original position.
type Key = (Section, ObjectKind, String, String, usize);

fn key(o: &SchemaObject, i: usize) -> Key {
    (
        o.section,
        o.kind,
        o.schema.clone().unwrap_or_default(),
        o.name.clone(),
        i,
    )
}

/// Orders collected objects by their dependencies (see the module docs).
pub fn order(collected: Collected, depend: &[Depend]) -> Schema {
    let Collected {
        objects,
        aliases,
        mut warnings,
    } = collected;

    // Extension members are created by CREATE EXTENSION.
    let members: HashSet<ObjId> = depend
        .iter()
        .filter(|d| d.deptype == b'e')
        .map(|d| d.dependent)
        .collect();
    let mut objects: Vec<SchemaObject> = objects
        .into_iter()
        .filter(|o| !members.contains(&o.id) || o.kind == ObjectKind::Extension)
        .collect();

    // ObjId -> index; an object can be reached through its own id or an alias.
    let mut index: HashMap<ObjId, usize> = HashMap::new();
    for (i, o) in objects.iter().enumerate() {
        index.entry(o.id).or_insert(i);
    }
    let alias_map: HashMap<ObjId, ObjId> = aliases
        .iter()
        .map(|Alias { alias, target }| (*alias, *target))
        .collect();
    let resolve = |id: ObjId| -> Option<usize> {
        if let Some(&i) = index.get(&id) {
            return Some(i);
        }
        let mut cur = id;
        for _ in 0..8 {
            cur = *alias_map.get(&cur)?;
            if let Some(&i) = index.get(&cur) {
                return Some(i);
            }
        }
        None
    };

    let n = objects.len();
    let mut edges: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); n]; // referenced -> dependents
    let add_edge = |from: usize, to: usize, edges: &mut Vec<BTreeSet<usize>>| {
        if from != to {
            edges[from].insert(to);
        }
    };
    for d in depend.iter().filter(|d| d.deptype != b'e') {
        let (Some(dep), Some(refd)) = (resolve(d.dependent), resolve(d.referenced)) else {
            continue;
        };
        // A sequence owned by a column: the sequence comes first (see module docs).
        if objects[dep].kind == ObjectKind::Sequence
            && d.dependent.classid == class::PG_CLASS
            && matches!(
                objects[refd].kind,
                ObjectKind::Table | ObjectKind::ForeignTable
            )
        {
            continue;
        }
        add_edge(refd, dep, &mut edges);
    }
    for (i, o) in objects.iter().enumerate() {
        for d in &o.deps {
            if let Some(r) = resolve(*d) {
                add_edge(r, i, &mut edges);
            }
        }
    }

    // Pre-data objects that depend on post-data ones move to post-data.
    let mut moved = true;
    while moved {
        moved = false;
        for from in 0..n {
            if objects[from].section != Section::PostData {
                continue;
            }
            let deps: Vec<usize> = edges[from].iter().copied().collect();
            for to in deps {
                if objects[to].section == Section::PreData {
                    objects[to].section = Section::PostData;
                    moved = true;
                }
            }
        }
    }

    // Kahn's algorithm with a priority queue for deterministic, pg_dump-like ties.
    let mut indegree = vec![0usize; n];
    for targets in &edges {
        for &t in targets {
            indegree[t] += 1;
        }
    }
    let keys: Vec<Key> = objects.iter().enumerate().map(|(i, o)| key(o, i)).collect();
    let mut ready: BinaryHeap<Reverse<(Key, usize)>> = (0..n)
        .filter(|&i| indegree[i] == 0)
        .map(|i| Reverse((keys[i].clone(), i)))
        .collect();
    let mut done = vec![false; n];
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let next = match ready.pop() {
            Some(Reverse((_, i))) => i,
            None => {
                // A cycle: emit the first remaining object by priority and say so.
                let i = (0..n)
                    .filter(|&i| !done[i])
                    .min_by(|&a, &b| keys[a].cmp(&keys[b]))
                    .expect("objects remain");
                let cycle: Vec<String> = (0..n)
                    .filter(|&j| !done[j] && indegree[j] > 0)
                    .take(5)
                    .map(|j| objects[j].describe())
                    .collect();
                warnings.push(format!(
                    "dependency cycle among {}: created {} first",
                    cycle.join(", "),
                    objects[i].describe()
                ));
                indegree[i] = 0;
                i
            }
        };
        if done[next] {
            continue;
        }
        done[next] = true;
        out.push(next);
        for &t in &edges[next] {
            if indegree[t] > 0 {
                indegree[t] -= 1;
                if indegree[t] == 0 && !done[t] {
                    ready.push(Reverse((keys[t].clone(), t)));
                }
            }
        }
    }

    // Depth of each object: one more than the deepest object it depends on.
    let mut level = vec![0u32; n];
    for &i in &out {
        for &t in &edges[i] {
            level[t] = level[t].max(level[i] + 1);
        }
    }
    let max_level = level.iter().copied().max().unwrap_or(0);

    // Pre-data strictly before post-data, keeping the topological order inside each. Default
    // privileges come last of all: applied earlier, they would also grant on the objects
    // created after them, which the source did not have.
    let mut ordered: Vec<Option<SchemaObject>> = objects.into_iter().map(Some).collect();
    let mut pre = Vec::new();
    let mut post = Vec::new();
    let mut last = Vec::new();
    for i in out {
        let mut o = ordered[i].take().expect("each object once");
        if o.kind == ObjectKind::DefaultPrivileges {
            o.section = Section::PostData;
            last.push((o, max_level + 1));
        } else if o.section == Section::PreData {
            pre.push((o, level[i]));
        } else {
            post.push((o, level[i]));
        }
    }
    pre.extend(post);
    pre.extend(last);
    let (objects, levels) = pre.into_iter().unzip();
    Schema {
        objects,
        levels,
        warnings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(s.warnings[0].contains("cycle"), "{}", s.warnings[0]);
    }
}
