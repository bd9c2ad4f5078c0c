//! The database's report line: its parts, in the order the stages add them, joined by "; ".

use crate::copy::CopyReport;
use crate::remedy::Setting;
use crate::schema::rehearsal::FailedObject;
use crate::selection::DbSelection;

/// The report line of one database, built part by part as the stages go (a stage that fails
/// leaves it unused: the error's message replaces it).
#[derive(Debug)]
pub(in crate::migrate) struct Message {
    parts: Vec<String>,
}

impl Message {
    pub fn new(first: impl Into<String>) -> Message {
        Message {
            parts: vec![first.into()],
        }
    }

    /// How much of the schema was migrated, and what the selection left out.
    pub fn schema_migrated(objects: usize, selection: &DbSelection) -> Message {
        let mut message = Message::new(format!("schema migrated ({objects} objects)"));
        if let Some(s) = selection.summary() {
            message.push(s);
        }
        message
    }

    pub fn push(&mut self, part: impl Into<String>) {
        self.parts.push(part.into());
    }

    pub fn into_text(self) -> String {
        self.parts.join("; ")
    }
}

/// One line about what the data copy did.
pub(in crate::migrate) fn copy_summary(c: &CopyReport) -> String {
    format!(
        "data copied ({} tables, {} rows, {}, {} sequences, {} large objects in {:.1} s; {})",
        c.tables.len(),
        c.rows,
        indicatif::HumanBytes(c.bytes),
        c.sequences,
        c.large_objects,
        c.seconds,
        c.statistics.summary()
    )
}

/// Why the dump method moved the data although replication was the plan.
pub(in crate::migrate) fn fell_back(reason: &str) -> String {
    format!("replication not possible ({reason}), used the dump method")
}

/// `--keep-going`: the objects the target refused and those depending on them.
pub(in crate::migrate) fn refused(failed: &[FailedObject]) -> String {
    let dependents: usize = failed.iter().map(|f| f.skipped_dependents.len()).sum();
    format!(
        "{} objects the target refused were not created ({}), nor {} \
         objects depending on them: {}; fix the cause and run again with {}",
        failed.len(),
        Setting::KeepGoing,
        dependents,
        failed
            .iter()
            .map(|f| f.name.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        Setting::Resume
    )
}

/// Objects the migration user owns because the target refused their owner.
pub(in crate::migrate) fn owners_lost(count: usize) -> String {
    format!("{count} objects could not keep their owner and are owned by the migration user")
}

/// Objects not created (each has its warning).
pub(in crate::migrate) fn not_created(count: usize) -> String {
    format!("{count} objects not created (see the warnings)")
}

/// The schema stage's warnings, counted.
pub(in crate::migrate) fn schema_warnings(count: usize) -> String {
    format!("{count} schema warnings")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_joined_as_the_line_was_built() {
        let mut m = Message::new("schema migrated (3 objects)");
        m.push("data not copied (--schema-only)");
        m.push(not_created(2));
        m.push(schema_warnings(1));
        assert_eq!(
            m.into_text(),
            "schema migrated (3 objects); data not copied (--schema-only); 2 objects not \
             created (see the warnings); 1 schema warnings"
        );
        assert_eq!(Message::new("only").into_text(), "only");
        assert_eq!(
            fell_back("no slot"),
            "replication not possible (no slot), used the dump method"
        );
        assert_eq!(
            owners_lost(4),
            "4 objects could not keep their owner and are owned by the migration user"
        );
    }
}
