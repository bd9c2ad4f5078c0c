//! Ordering the collected objects: the dependency edges sorted topologically with pg_dump's
//! ties, the two rules the catalogs do not record, and each object's level (see the
//! [module docs](super)).

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::resolve::{Resolver, edges, extension_members};
use crate::model::{Collected, ObjectKind, SchemaObject, Section};
use crate::schema::Schema;
use db_migrate_catalog::depend::Depend;
use db_migrate_core::warning::Warning;

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
        .filter(|o| !crate::extensions::left_to_extension(o, &members))
        .collect();
    let refs: Vec<&SchemaObject> = objects.iter().collect();
    let edges = edges(&refs, &Resolver::new(&refs, &aliases, depend), depend);
    for (from, targets) in edges.iter().enumerate() {
        let id = objects[from].id;
        for &t in targets {
            objects[t].depends_on.push(id);
        }
    }
    move_to_post_data(&mut objects, &edges);
    let out = topological(&objects, &edges, &mut warnings);
    let (places, levels) = places_and_levels(&objects, &edges, &out);
    for o in objects.iter_mut() {
        if is_last(o) {
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

/// Pre-data objects that depend on post-data ones move to post-data, and so on down their
/// dependents.
fn move_to_post_data(objects: &mut [SchemaObject], edges: &[Vec<usize>]) {
    let mut moved = true;
    while moved {
        moved = false;
        for from in 0..objects.len() {
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
}

/// The objects' indexes in a dependency order: Kahn's algorithm with a priority queue for
/// deterministic, pg_dump-like ties ([`SortKey`]). A cycle is broken by emitting its first
/// remaining object by priority, with a warning in `warnings`.
fn topological(
    objects: &[SchemaObject],
    edges: &[Vec<usize>],
    warnings: &mut Vec<Warning>,
) -> Vec<usize> {
    let n = objects.len();
    let mut indegree = vec![0usize; n];
    for targets in edges {
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
    out
}

/// Default privileges come last of all: applied earlier, they would also grant on the objects
/// created after them, which the source did not have.
fn is_last(o: &SchemaObject) -> bool {
    o.kind == ObjectKind::DefaultPrivileges
}

/// Where each object goes (the index of the object at each place) and its level there, given
/// the dependency order `out`: pre-data strictly before post-data, keeping the topological
/// order inside each, then the default privileges ([`is_last`]) one level below everything.
fn places_and_levels(
    objects: &[SchemaObject],
    edges: &[Vec<usize>],
    out: &[usize],
) -> (Vec<usize>, Vec<u32>) {
    let n = objects.len();
    // Depth of each object: one more than the deepest object it depends on.
    let mut level = vec![0u32; n];
    for &i in out {
        for &t in &edges[i] {
            level[t] = level[t].max(level[i] + 1);
        }
    }
    let max_level = level.iter().copied().max().unwrap_or(0);
    let mut places = Vec::with_capacity(n);
    let mut levels = Vec::with_capacity(n);
    for pass in [Some(Section::PreData), Some(Section::PostData), None] {
        for &i in out {
            let o = &objects[i];
            let here = match pass {
                Some(section) => !is_last(o) && o.section == section,
                None => is_last(o),
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
    (places, levels)
}

/// Reorders `v` in place so that `v[k]` becomes the old `v[order[k]]` (`order` a permutation),
/// by following its cycles: building a second vector of the objects would hold two copies of
/// their fixed part (about 400 bytes each) at once.
pub(super) fn permute<T>(v: &mut [T], order: &[usize]) {
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
