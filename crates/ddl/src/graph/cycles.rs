//! Table parts that close a dependency cycle, split out of their table the way pg_dump does
//! (see the [module docs](super)).

use std::collections::HashSet;

use super::resolve::{Resolver, edges, extension_members};
use crate::model::{Alias, Collected, ObjId, ObjectKind, SchemaObject, class};
use crate::scc::components;
use db_migrate_catalog::depend::Depend;

/// Column defaults and CHECK constraints written inside their table's `CREATE TABLE` that close
/// a dependency cycle: the default or CHECK calls something (typically a function with a
/// SQL-standard body) that itself depends on the table. Like pg_dump, such a part is split out
/// of the table (see [`crate::relations::build_split`]): the table is created without it, the
/// function after the table, and the part after the function.
///
/// The identities returned are the `pg_attrdef` / `pg_constraint` rows concerned.
pub fn cycle_parts(collected: &[&Collected], depend: &[Depend]) -> HashSet<ObjId> {
    let members = extension_members(depend);
    let objects: Vec<&SchemaObject> = collected
        .iter()
        .flat_map(|c| c.objects.iter())
        .filter(|o| !crate::extensions::left_to_extension(o, &members))
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
