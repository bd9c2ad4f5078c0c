//! What the executor did not create: the objects the target refused (`--keep-going`,
//! rehearsals) and those skipped with them, shared by every session of a database's run.

use super::*;

/// The objects whose creating statement the target refused (`--keep-going`, rehearsals), in
/// the order they were refused.
#[derive(Debug, Clone, Default)]
pub struct Refusals(Arc<Mutex<Vec<FailedObject>>>);

/// Two handles are equal when they share their list (one run's).
impl PartialEq for Refusals {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for Refusals {}

impl Refusals {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<FailedObject>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn push(&self, f: FailedObject) {
        self.lock().push(f);
    }

    /// The refusals so far, each with the objects skipped because of it (from `skipped`, and
    /// the post-data ones recorded by [`Refusals::skip_dependent`]).
    pub fn with_dependents(&self, skipped: &Skipped) -> Vec<FailedObject> {
        let mut out = self.lock().clone();
        for f in &mut out {
            f.skipped_dependents.extend(skipped.dependents_of(&f.name));
        }
        out
    }

    /// For a post-data object about to be created under `--keep-going`: whether one of
    /// `depends_on` (descriptions) was refused or skipped with a refusal, in which case
    /// `name` is recorded among that refusal's dependents and must be skipped too (it would
    /// fail with "does not exist", or worse, be created without what it needs).
    pub fn skip_dependent(&self, name: &str, depends_on: &[String]) -> bool {
        let mut list = self.lock();
        let root = list.iter().position(|f| {
            depends_on
                .iter()
                .any(|d| *d == f.name || f.skipped_dependents.contains(d))
        });
        match root {
            Some(i) => {
                list[i].skipped_dependents.push(name.to_string());
                true
            }
            None => false,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }
}

/// Objects the target refused (for lack of privilege, or because it lacks what they need),
/// and those skipped with them: each one's description, the description of the refused object
/// at the root of it, and why that one was refused.
#[derive(Debug, Clone, Default)]
pub struct Skipped(Arc<Mutex<HashMap<ObjId, SkipEntry>>>);

/// One skipped object: (its description, the root's description, why the root was refused,
/// the kind of warning its dependents get: privilege for a refused root, schema for one the
/// target cannot create).
type SkipEntry = (String, String, String, WarningKind);

impl Skipped {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ObjId, SkipEntry>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records `o` as refused by the target for lack of privilege.
    pub fn refused(&self, o: &SchemaObject) {
        let d = o.describe();
        let why = format!("the target user lacks the privilege to create {d}");
        self.lock()
            .insert(o.id, (d.clone(), d, why, WarningKind::Privilege));
    }

    /// Records `o` as not created, for the reason `why` (a sentence about `o`).
    pub fn not_created(&self, o: &SchemaObject, why: &str) {
        let d = o.describe();
        self.lock()
            .insert(o.id, (d.clone(), d, why.to_string(), WarningKind::Schema));
    }

    /// When `o` depends on a skipped object, records `o` as skipped too and returns the
    /// warning that says so; `None` when `o` may be created.
    pub fn dependent(&self, o: &SchemaObject) -> Option<Warning> {
        let mut map = self.lock();
        let (direct, root, why, kind) = o.depends_on.iter().find_map(|d| map.get(d))?.clone();
        let through = if direct == root {
            String::new()
        } else {
            format!(" (skipped because it depends on {root})")
        };
        map.insert(o.id, (o.describe(), root.clone(), why.clone(), kind));
        Some(
            Warning::new(
                kind,
                format!(
                    "skipped {}: it depends on {direct}, which was skipped{through}: {why}",
                    o.describe()
                ),
            )
            .on(o.describe()),
        )
    }

    /// The objects skipped because `root` (a description) was refused, itself excluded, sorted.
    pub fn dependents_of(&self, root: &str) -> Vec<String> {
        let mut out: Vec<String> = self
            .lock()
            .values()
            .filter(|(d, r, _, _)| r == root && d != root)
            .map(|(d, _, _, _)| d.clone())
            .collect();
        out.sort();
        out
    }

    /// Whether object `id` was skipped (refused, or skipped with one).
    pub fn contains(&self, id: &ObjId) -> bool {
        self.lock().contains_key(id)
    }

    /// How many objects were skipped.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(name: &str) -> FailedObject {
        FailedObject {
            name: name.into(),
            kind: "index".into(),
            statement: String::new(),
            sqlstate: Some("42P07".into()),
            message: String::new(),
            skipped_dependents: Vec::new(),
        }
    }

    #[test]
    fn post_data_dependents_of_a_refusal_are_skipped_and_listed_with_it() {
        let r = Refusals::default();
        r.push(refused("index \"app\".\"t_id\""));
        assert!(!r.skip_dependent("index \"app\".\"other\"", &["table \"app\".\"t\"".into()]));
        assert!(r.skip_dependent(
            "constraint \"app\".\"t t_parent_fkey\"",
            &["index \"app\".\"t_id\"".into()]
        ));
        // Through a dependent already skipped: the same root.
        assert!(r.skip_dependent(
            "trigger \"app\".\"t x\"",
            &["constraint \"app\".\"t t_parent_fkey\"".into()]
        ));
        let listed = r.with_dependents(&Skipped::default());
        assert_eq!(
            listed[0].skipped_dependents,
            [
                "constraint \"app\".\"t t_parent_fkey\"",
                "trigger \"app\".\"t x\""
            ]
        );
    }
}
