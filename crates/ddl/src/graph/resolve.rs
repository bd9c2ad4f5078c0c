//! What `pg_depend` says, in terms of the objects we create: its identities resolved onto our
//! objects (their own, through the readers' [`Alias`]es, or an extension member's extension)
//! and the dependency edges between them, with the rules the catalogs do not record.

use std::collections::{HashMap, HashSet};

use crate::model::{Alias, ObjId, ObjectKind, SchemaObject, class};
use db_migrate_catalog::depend::Depend;

/// Objects that belong to an extension (`deptype = 'e'`).
pub(super) fn extension_members(depend: &[Depend]) -> HashSet<ObjId> {
    depend
        .iter()
        .filter(|d| d.deptype == b'e')
        .map(|d| d.dependent)
        .collect()
}

/// Finds the object a `pg_depend` identity stands for: its own, or through aliases.
pub(super) struct Resolver {
    pub(super) index: HashMap<ObjId, usize>,
    aliases: HashMap<ObjId, ObjId>,
    /// Extension member -> its extension.
    pub(super) members: HashMap<ObjId, ObjId>,
}

impl Resolver {
    /// Extension members stand for their extension: whatever uses one needs the extension.
    pub(super) fn new(objects: &[&SchemaObject], aliases: &[Alias], depend: &[Depend]) -> Self {
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

    pub(super) fn resolve(&self, id: ObjId) -> Option<usize> {
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
pub(super) fn edges(
    objects: &[&SchemaObject],
    resolver: &Resolver,
    depend: &[Depend],
) -> Vec<Vec<usize>> {
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
