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
//! A cycle through a column default or CHECK constraint of a table (a function with a
//! SQL-standard body that reads the table, used in the table's default or CHECK) is broken the
//! way pg_dump breaks it: [`read_schema`] finds such parts ([`cycle_parts`]) and has the table
//! built without them, each part becoming an object of its own
//! ([`ObjectKind::TablePart`]) that runs after the function.
//!
//! Cycles that remain (rare with `check_function_bodies = off`) are broken by emitting the
//! lowest-priority object of the cycle first, with a warning naming the objects involved.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};

use super::model::{Alias, Collected, ObjId, ObjectKind, SchemaObject, Section, class};
use super::{db_objects, relations, routines, types};
pub use db_migrate_catalog::depend::{Depend, load_depend};
use db_migrate_conn::Session;
use db_migrate_core::error::{Error, Result};
use db_migrate_core::warning::Warning;

/// A database's schema, in creation order.
#[derive(Debug, Clone, Default)]
pub struct Schema {
    pub objects: Vec<SchemaObject>,
    /// For each object, its depth in the dependency graph: everything an object depends on has
    /// a smaller level, so the objects of one level can be created concurrently.
    pub levels: Vec<u32>,
    pub warnings: Vec<Warning>,
    /// What hangs off extension member tables: the extension's own, or added by users, which
    /// only the target can tell ([`super::extensions::drop_provided`]).
    pub extension_parts: Vec<super::extensions::ExtensionPart>,
    /// The comments on extension members, the script's or users' (see
    /// [`super::extensions::member_comment_objects`]).
    pub member_comments: Vec<db_migrate_catalog::extensions::MemberComment>,
    /// The source's extension members as `pg_identify_object`'s `(type, identity)`: a
    /// member without a comment here whose comment the target's script set had it removed
    /// by a user.
    pub extension_members: Vec<(String, String)>,
    /// The source server's `server_version_num` (0 when unknown): what a rehearsal may take
    /// for granted depends on whether the target is of the same major.
    pub source_version: u32,
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

/// Reads every object of the session's database and orders it.
///
/// Everything is read in one `REPEATABLE READ` snapshot, so DDL running on the source
/// meanwhile cannot leave a table read without its columns, or a constraint without its
/// table. A second session, opened like `s` and importing that snapshot, reads part of the
/// catalog at the same time; when it cannot be had (no free connection slot, a server that
/// refuses to export snapshots) `s` reads everything.
pub async fn read_schema(s: &Session) -> Result<Schema> {
    s.batch_execute(db_migrate_core::sql::BEGIN_SNAPSHOT)
        .await
        .map_err(|e| Error::from_pg(e).with_step("starting the catalog snapshot"))?;
    let helper = snapshot_helper(s).await;
    let read = read_in_snapshot(s, helper.as_ref().unwrap_or(s)).await;
    // Read-only: ending the transaction cannot lose anything, and an error here only means
    // the session is gone.
    let _ = s.batch_execute("COMMIT").await;
    read
}

/// A second session in `s`'s snapshot, or `None` (see [`read_schema`]).
async fn snapshot_helper(s: &Session) -> Option<Session> {
    let why = async {
        let snapshot: String = s
            .query_one(db_migrate_core::sql::EXPORT_SNAPSHOT, &[])
            .await
            .map_err(Error::from_pg)?
            .get(0);
        let helper = db_migrate_conn::connect(s.info(), None).await?;
        helper
            .batch_execute(&db_migrate_core::sql::import_snapshot(&snapshot))
            .await
            .map_err(Error::from_pg)?;
        // The helper waits on a lock no longer than `s` would: a lock it waits for may be
        // queued behind an application's `ALTER TABLE` that waits for `s`'s locks, while `s`
        // waits for the helper, a wait no deadlock detector sees (a schema read while the
        // replication follows the source, see the engine's `replication::following`).
        let timeout: String = s
            .query_one("SHOW lock_timeout", &[])
            .await
            .map_err(Error::from_pg)?
            .get(0);
        helper
            .batch_execute(&format!(
                "SET lock_timeout = {}",
                db_migrate_core::sql::quote_literal(&timeout)
            ))
            .await
            .map_err(Error::from_pg)?;
        Ok::<_, Error>(helper)
    };
    match why.await {
        Ok(h) => Some(h),
        Err(e) => {
            tracing::debug!("reading the catalog on one session: {e}");
            None
        }
    }
}

async fn read_in_snapshot(s: &Session, other: &Session) -> Result<Schema> {
    let mut all = Collected::default();
    // The relation catalog's slow part runs on `other` from the start, alongside the rest.
    let others = async {
        let mut c = db_objects::collect(s).await?;
        c.extend(types::collect(s).await?);
        c.extend(routines::collect(s).await?);
        let acls = db_migrate_catalog::extensions::list_member_acls(s).await?;
        c.objects
            .extend(super::extensions::member_acl_objects(&acls));
        let comments = db_migrate_catalog::extensions::list_member_comments(s).await?;
        c.objects
            .extend(super::extensions::member_comment_objects(&comments));
        c.extend(super::transforms::collect(s).await?);
        c.extend(super::publications::collect(s).await?);
        c.extend(super::subscriptions::collect(s).await?);
        c.extend(super::system_acls::collect(s).await?);
        c.extend(super::security_labels::collect(s).await?);
        let members = db_migrate_catalog::extensions::list_members(s).await?;
        let paths = db_migrate_catalog::search_paths::read(s).await?;
        Ok::<_, Error>((c, (comments, members, paths)))
    };
    let (others, catalog, depend) = futures::try_join!(
        others,
        db_migrate_catalog::relations::read_on(s, other),
        load_depend(s)
    )?;
    let (others, (member_comments, source_members, search_paths)) = others;
    all.extend(others);
    let mut rels = relations::build(&catalog);
    let split = cycle_parts(&[&all, &rels], &depend);
    if !split.is_empty() {
        rels = relations::build_split(&catalog, &split);
    }
    // The relations are most of the objects: the others are put in front of them, in place,
    // rather than all of them being copied behind the others (a second vector of 100,000
    // tables' objects, about 170 MB, for a moment).
    rels.objects.splice(0..0, std::mem::take(&mut all.objects));
    rels.aliases.splice(0..0, std::mem::take(&mut all.aliases));
    rels.warnings
        .splice(0..0, std::mem::take(&mut all.warnings));
    let all = rels;
    // The catalog's rows are done with once the objects are built: dropped before the
    // ordering's own structures are made, so that the two never take memory at once.
    let extension_parts =
        super::extensions::parts_on_member_tables(&catalog, &extension_members(&depend));
    drop(catalog);
    let mut schema = order(all, &depend);
    drop(depend);
    super::search_paths::assign(&mut schema, &search_paths);
    schema.extension_parts = extension_parts;
    schema.member_comments = member_comments;
    schema.extension_members = source_members;
    schema.source_version = s.server_version_num();
    Ok(schema)
}

/// Objects that belong to an extension (`deptype = 'e'`).
fn extension_members(depend: &[Depend]) -> HashSet<ObjId> {
    depend
        .iter()
        .filter(|d| d.deptype == b'e')
        .map(|d| d.dependent)
        .collect()
}

/// Finds the object a `pg_depend` identity stands for: its own, or through aliases.
struct Resolver {
    index: HashMap<ObjId, usize>,
    aliases: HashMap<ObjId, ObjId>,
    /// Extension member -> its extension.
    members: HashMap<ObjId, ObjId>,
}

impl Resolver {
    /// Extension members stand for their extension: whatever uses one needs the extension.
    fn new(objects: &[&SchemaObject], aliases: &[Alias], depend: &[Depend]) -> Self {
        let mut index: HashMap<ObjId, usize> = HashMap::new();
        for (i, o) in objects.iter().enumerate() {
            index.entry(o.id).or_insert(i);
        }
        let aliases = aliases
            .iter()
            .map(|Alias { alias, target }| (*alias, *target))
            .collect();
        let members = depend
            .iter()
            .filter(|d| d.deptype == b'e')
            .map(|d| (d.dependent, d.referenced))
            .collect();
        Resolver {
            index,
            aliases,
            members,
        }
    }

    fn resolve(&self, id: ObjId) -> Option<usize> {
        if let Some(&i) = self.index.get(&id) {
            return Some(i);
        }
        if let Some(&i) = self.members.get(&id).and_then(|e| self.index.get(e)) {
            return Some(i);
        }
        let mut cur = id;
        for _ in 0..8 {
            cur = *self.aliases.get(&cur)?;
            if let Some(&i) = self.index.get(&cur) {
                return Some(i);
            }
        }
        None
    }
}

/// The dependency edges between `objects`, from each referenced object to its dependents,
/// each list sorted and without repeats. Plain vectors rather than sets: at 100,000 tables a
/// set per object (a tree node of its own) cost about 100 bytes more per object.
fn edges(objects: &[&SchemaObject], resolver: &Resolver, depend: &[Depend]) -> Vec<Vec<usize>> {
    let mut edges: Vec<Vec<usize>> = vec![Vec::new(); objects.len()];
    let mut add_edge = |from: usize, to: usize| {
        if from != to {
            edges[from].push(to);
        }
    };
    // What extension members depend on is the extension's business (CREATE EXTENSION).
    for d in depend
        .iter()
        .filter(|d| d.deptype != b'e' && !resolver.members.contains_key(&d.dependent))
    {
        let (Some(dep), Some(refd)) = (
            resolver.resolve(d.dependent),
            resolver.resolve(d.referenced),
        ) else {
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
        add_edge(refd, dep);
    }
    for (i, o) in objects.iter().enumerate() {
        for d in &o.deps {
            if let Some(r) = resolver.resolve(*d) {
                add_edge(r, i);
            }
        }
    }
    for e in &mut edges {
        e.sort_unstable();
        e.dedup();
        e.shrink_to_fit();
    }
    edges
}

/// Strongly connected components (Tarjan, iterative): `component[i]` for every node, given each
/// node's successors (sorted, without repeats).
pub(super) fn components(edges: &[Vec<usize>]) -> Vec<usize> {
    let n = edges.len();
    const UNSEEN: usize = usize::MAX;
    let mut index = vec![UNSEEN; n];
    let mut low = vec![0usize; n];
    let mut on_stack = vec![false; n];
    let mut component = vec![UNSEEN; n];
    let mut stack: Vec<usize> = Vec::new();
    let mut next_index = 0;
    let mut next_component = 0;
    for root in 0..n {
        if index[root] != UNSEEN {
            continue;
        }
        // (node, its successors still to visit)
        let mut work: Vec<(usize, Vec<usize>)> = Vec::new();
        index[root] = next_index;
        low[root] = next_index;
        next_index += 1;
        stack.push(root);
        on_stack[root] = true;
        work.push((root, edges[root].iter().rev().copied().collect()));
        while let Some((v, todo)) = work.last_mut() {
            let v = *v;
            if let Some(w) = todo.pop() {
                if index[w] == UNSEEN {
                    index[w] = next_index;
                    low[w] = next_index;
                    next_index += 1;
                    stack.push(w);
                    on_stack[w] = true;
                    work.push((w, edges[w].iter().rev().copied().collect()));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
                continue;
            }
            work.pop();
            if let Some((parent, _)) = work.last() {
                low[*parent] = low[*parent].min(low[v]);
            }
            if low[v] == index[v] {
                while let Some(w) = stack.pop() {
                    on_stack[w] = false;
                    component[w] = next_component;
                    if w == v {
                        break;
                    }
                }
                next_component += 1;
            }
        }
    }
    component
}

/// Column defaults and CHECK constraints written inside their table's `CREATE TABLE` that close
/// a dependency cycle: the default or CHECK calls something (typically a function with a
/// SQL-standard body) that itself depends on the table. Like pg_dump, such a part is split out
/// of the table (see [`relations::build_split`]): the table is created without it, the
/// function after the table, and the part after the function.
///
/// The identities returned are the `pg_attrdef` / `pg_constraint` rows concerned.
pub fn cycle_parts(collected: &[&Collected], depend: &[Depend]) -> HashSet<ObjId> {
    let members = extension_members(depend);
    let objects: Vec<&SchemaObject> = collected
        .iter()
        .flat_map(|c| c.objects.iter())
        .filter(|o| !super::extensions::left_to_extension(o, &members))
        .collect();
    let aliases: Vec<Alias> = collected
        .iter()
        .flat_map(|c| c.aliases.iter().copied())
        .collect();
    let resolver = Resolver::new(&objects, &aliases, depend);
    // Parts folded into their table (an alias) that use another object: only those can be
    // split out. Most schemas have none, and then the whole graph (about 100 MB at 100,000
    // tables, while the catalog's rows are still held) is not built.
    let candidates: Vec<(ObjId, usize, usize)> = depend
        .iter()
        .filter(|d| {
            d.deptype == b'n'
                && matches!(
                    d.dependent.classid,
                    class::PG_ATTRDEF | class::PG_CONSTRAINT
                )
                && !resolver.index.contains_key(&d.dependent)
        })
        .filter_map(|d| {
            let table = resolver.resolve(d.dependent)?;
            let used = resolver.resolve(d.referenced)?;
            (table != used
                && matches!(
                    objects[table].kind,
                    ObjectKind::Table | ObjectKind::ForeignTable
                ))
            .then_some((d.dependent, table, used))
        })
        .collect();
    if candidates.is_empty() {
        return HashSet::new();
    }
    let component = components(&edges(&objects, &resolver, depend));
    candidates
        .into_iter()
        .filter(|&(_, table, used)| component[table] == component[used])
        .map(|(part, _, _)| part)
        .collect()
}

/// Sort key for ties: section, kind, schema, name, then the original position. Borrowed from
/// the objects (not copies of their names: two strings per object at 100,000 tables).
type SortKey<'a> = (Section, ObjectKind, &'a str, &'a str, usize);

fn key(o: &SchemaObject, i: usize) -> SortKey<'_> {
    (
        o.section,
        o.kind,
        o.schema.as_deref().unwrap_or_default(),
        &o.name,
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
    let members = extension_members(depend);
    let mut objects: Vec<SchemaObject> = objects
        .into_iter()
        .filter(|o| !super::extensions::left_to_extension(o, &members))
        .collect();
    let n = objects.len();
    let refs: Vec<&SchemaObject> = objects.iter().collect();
    let edges = edges(&refs, &Resolver::new(&refs, &aliases, depend), depend);
    for (from, targets) in edges.iter().enumerate() {
        let id = objects[from].id;
        for &t in targets {
            objects[t].depends_on.push(id);
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
            for &to in &edges[from] {
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
    let keys: Vec<SortKey> = objects.iter().enumerate().map(|(i, o)| key(o, i)).collect();
    // A key ends with its object's index.
    let mut ready: BinaryHeap<Reverse<SortKey>> = (0..n)
        .filter(|&i| indegree[i] == 0)
        .map(|i| Reverse(keys[i]))
        .collect();
    let mut done = vec![false; n];
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let next = match ready.pop() {
            Some(Reverse(k)) => k.4,
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
                warnings.push(
                    Warning::schema(format!(
                        "dependency cycle among {}: created {} first",
                        cycle.join(", "),
                        objects[i].describe()
                    ))
                    .on(objects[i].describe()),
                );
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
                    ready.push(Reverse(keys[t]));
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
    let last = |o: &SchemaObject| o.kind == ObjectKind::DefaultPrivileges;
    let mut places = Vec::with_capacity(n);
    let mut levels = Vec::with_capacity(n);
    for pass in [Some(Section::PreData), Some(Section::PostData), None] {
        for &i in &out {
            let o = &objects[i];
            let here = match pass {
                Some(section) => !last(o) && o.section == section,
                None => last(o),
            };
            if here {
                places.push(i);
                levels.push(if pass.is_some() {
                    level[i]
                } else {
                    max_level + 1
                });
            }
        }
    }
    for o in objects.iter_mut() {
        if last(o) {
            o.section = Section::PostData;
        }
        o.shrink();
    }
    permute(&mut objects, &places);
    Schema {
        objects,
        levels,
        warnings,
        extension_parts: Vec::new(),
        member_comments: Vec::new(),
        extension_members: Vec::new(),
        source_version: 0,
    }
}

/// Reorders `v` in place so that `v[k]` becomes the old `v[order[k]]` (`order` a permutation),
/// by following its cycles: building a second vector of the objects would hold two copies of
/// their fixed part (about 400 bytes each) at once.
fn permute<T>(v: &mut [T], order: &[usize]) {
    let mut done = vec![false; v.len()];
    for start in 0..v.len() {
        let mut cur = start;
        while !done[cur] {
            done[cur] = true;
            let next = order[cur];
            if next == start {
                break;
            }
            v.swap(cur, next);
            cur = next;
        }
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
}
