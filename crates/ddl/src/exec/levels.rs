//! One dependency level split into parts that no two sessions can deadlock on.

use super::*;

/// Splits one level's objects into at most `ways` parts of similar size, each in creation
/// order, such that objects touching the same relation (their own table, or a relation they
/// depend on, such as the table a foreign key references) are in the same part.
///
/// Why: each part runs in transactions of [`BATCH_OBJECTS`] objects on its own session, and
/// DDL on one table takes conflicting locks (`ADD PRIMARY KEY` an ACCESS EXCLUSIVE lock,
/// `CREATE INDEX` a SHARE lock, a foreign key SHARE ROW EXCLUSIVE locks on both tables). Split
/// blindly, two sessions wait on each other's tables until the server's deadlock detector
/// aborts one batch (after `deadlock_timeout`, and the batch runs again): on 5,000 tables this
/// cost a third of the post-data time.
pub fn split_by_relation<'a>(
    these: &[&'a SchemaObject],
    ways: usize,
) -> Vec<Vec<&'a SchemaObject>> {
    fn find(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    let n = these.len();
    let mut parent: Vec<usize> = (0..n).collect();
    let mut first_user: HashMap<u32, usize> = HashMap::new();
    for (i, o) in these.iter().enumerate() {
        let own = (o.id.classid == class::PG_CLASS).then_some(o.id.objid);
        let referenced = o
            .depends_on
            .iter()
            .chain(&o.deps)
            .filter(|d| d.classid == class::PG_CLASS)
            .map(|d| d.objid);
        for rel in o.table.into_iter().chain(own).chain(referenced) {
            match first_user.get(&rel) {
                Some(&j) => {
                    let (a, b) = (find(&mut parent, i), find(&mut parent, j));
                    parent[a.max(b)] = a.min(b);
                }
                None => {
                    first_user.insert(rel, i);
                }
            }
        }
    }
    // Groups of connected objects, in order of their first object.
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut group_of: HashMap<usize, usize> = HashMap::new();
    for i in 0..n {
        let root = find(&mut parent, i);
        let g = *group_of.entry(root).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[g].push(i);
    }
    // Largest groups first, each to the part with the fewest objects so far.
    let ways = ways.clamp(1, n.max(1));
    let mut order: Vec<usize> = (0..groups.len()).collect();
    order.sort_by_key(|&g| std::cmp::Reverse(groups[g].len()));
    let mut parts: Vec<Vec<usize>> = vec![Vec::new(); ways];
    for g in order {
        let lightest = (0..ways).min_by_key(|&p| parts[p].len()).unwrap_or(0);
        parts[lightest].extend(&groups[g]);
    }
    parts
        .into_iter()
        .filter(|p| !p.is_empty())
        .map(|mut p| {
            p.sort_unstable();
            p.into_iter().map(|i| these[i]).collect()
        })
        .collect()
}
