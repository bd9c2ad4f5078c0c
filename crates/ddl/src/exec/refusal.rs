//! What the target refused: the objects the executor records under `--keep-going` and in a
//! rehearsal ([`FailedObject`], the report's `objects_failed`), and which errors count as a
//! refusal ([`is_refusal`]). The executor's vocabulary, used by the rehearsal
//! ([`crate::rehearsal`]) that runs it, so here below both.

use crate::model::SchemaObject;
use db_migrate_core::error::Error;

/// An object the target refused to create: in a rehearsal, or in a run with `--keep-going`
/// (the report's and JSON's `objects_failed`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FailedObject {
    /// Its description, e.g. `table "app"."t"`.
    pub name: String,
    /// Its kind, e.g. `table`.
    pub kind: String,
    /// The statement the target refused (not shown for user mappings and servers, whose
    /// options may hold credentials).
    pub statement: String,
    /// The target's SQLSTATE, when it gave one.
    pub sqlstate: Option<String>,
    pub message: String,
    /// The objects not created because they depend on it (directly or not).
    pub skipped_dependents: Vec<String>,
}

impl FailedObject {
    pub fn of(o: &SchemaObject, statement: &str, err: &Error) -> Self {
        FailedObject {
            name: o.describe(),
            kind: o.kind.label(),
            statement: statement.to_string(),
            sqlstate: err.sqlstate().map(|c| c.code().to_string()),
            message: err.message().to_string(),
            skipped_dependents: Vec::new(),
        }
    }

    /// One line for reports and preflight findings.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "{}: the target refuses {}: {}{}",
            self.name,
            self.statement,
            self.message,
            self.sqlstate
                .as_deref()
                .map(|c| format!(" (SQLSTATE {c})"))
                .unwrap_or_default()
        );
        if !self.skipped_dependents.is_empty() {
            s.push_str(&format!(
                "; {} dependent object{} skipped with it: {}",
                self.skipped_dependents.len(),
                if self.skipped_dependents.len() == 1 {
                    ""
                } else {
                    "s"
                },
                self.skipped_dependents.join(", ")
            ));
        }
        s
    }
}

/// Whether `e` is the target refusing a statement, which `--keep-going` (and a rehearsal)
/// records and goes on from, rather than a lost session, a cancelled statement, a deadlock or
/// a server out of resources (such as a lock table too small for a rehearsal's transaction),
/// which end the work as they would without it.
pub fn is_refusal(e: &Error) -> bool {
    match e.sqlstate() {
        None => false,
        Some(code) => !["08", "40", "53", "57", "58"]
            .iter()
            .any(|class| code.code().starts_with(class)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_object_names_its_statement_code_and_dependents() {
        let f = FailedObject {
            name: "table \"s\".\"t\"".into(),
            kind: "table".into(),
            statement: "CREATE TABLE \"s\".\"t\" ()".into(),
            sqlstate: Some("42P07".into()),
            message: "relation \"t\" already exists".into(),
            skipped_dependents: vec!["index \"s\".\"i\"".into()],
        };
        assert_eq!(
            f.summary(),
            "table \"s\".\"t\": the target refuses CREATE TABLE \"s\".\"t\" (): relation \"t\" \
             already exists (SQLSTATE 42P07); 1 dependent object skipped with it: index \
             \"s\".\"i\""
        );
    }
}
