//! What an operator can do next, and the settings a message names, as values.
//!
//! Why values and not words: the engine has more than one front end. The command line names a
//! setting by its flag (`--cleanup`, `--jobs`), a library user by the option of
//! `MigrateOptions` they set, a program by a stable name in the JSON. So the engine never
//! writes a flag: a message names a setting through [`Setting`] (whose `Display` is its
//! neutral name in backquotes, `` `cleanup` ``), and says what to do next through
//! [`Remedy`], which errors ([`crate::Error::remedies`]) and warnings
//! ([`crate::warning::Warning::remedies`]) also carry as values. The command line renders both
//! in its own words: one function there maps every [`Setting`] to its flag.

use std::fmt;

use serde::Serialize;

/// A setting of a run that a message names: why something was done ("data not copied
/// (`schema_only`)"), which bound was reached ("not in sync within `replication_timeout`"),
/// or what to run next. Its `Display` is its [`Setting::name`] in backquotes, distinct from
/// any other text of a message, so that a front end can put its own word for it in its place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Setting {
    /// The source server's connection string.
    Source,
    /// The target server's connection string.
    Target,
    /// The databases to migrate, by name (`only_dbs`).
    OnlyDbs,
    /// The databases left out, by name (`filtered_dbs`).
    FilteredDbs,
    /// The tables to migrate.
    WithTable,
    /// The tables left out.
    SkipTable,
    /// The schemas to migrate.
    Schema,
    /// The schemas left out.
    ExcludeSchema,
    /// The tables whose rows are left out.
    ExcludeTableData,
    /// Also migrate the provider's own objects and databases.
    IncludeProviderObjects,
    /// The most bytes the selected databases may hold.
    DbsMaxTotalSize,
    /// Go on past a source older than the target's major version allows.
    SkipDbVersionCheck,
    /// Do not create the target databases (`createdb = false`).
    NoCreatedb,
    /// The passwords of roles, from a file.
    RolePasswords,
    /// Migrate the schema and no data.
    SchemaOnly,
    /// Objects the target refuses are skipped with their dependents instead of failing.
    KeepGoing,
    /// Rehearse the schema on the target before creating it; left out with `no_rehearsal`.
    NoRehearsal,
    /// The parallel copy sessions.
    Jobs,
    /// The target sessions that create schema objects.
    SchemaJobs,
    /// How long a copy may move no byte before it is cancelled.
    StallTimeout,
    /// No ANALYZE after the copy.
    NoAnalyze,
    /// Force a method of moving the data (`dump` or `replication`).
    ForceMethod,
    /// Only the replication method (`force_method` replication).
    ReplOnly,
    /// Continue an interrupted run where it stopped.
    Resume,
    /// Remove what an unfinished earlier run wrote on the target, then start over.
    Clean,
    /// Only remove the replication objects an earlier run left.
    Cleanup,
    /// Wait until the replication lag is at most this many bytes.
    MaxReplicationLag,
    /// Stop the replication once in sync: the cut-over.
    StopReplication,
    /// The bound on every replication wait.
    ReplicationTimeout,
    /// The fenced cut-over.
    Cutover,
    /// The most lag the fenced cut-over starts its fence with.
    CutoverMaxLag,
    /// The most time the fenced cut-over may keep writes fenced.
    MaxDowntime,
    /// The roles the fenced cut-over fences.
    FenceRoles,
    /// Lift the fences an earlier cut-over left.
    Unfence,
    /// Keep a reverse replication ready for a fail-back after the cut-over.
    FailBackReady,
    /// Set tables without a replica identity to REPLICA IDENTITY FULL for the migration.
    ReplicaIdentityFull,
    /// Compare source and target after the copy (or at the cut-over).
    Verify,
    /// Only compare source and target.
    VerifyOnly,
    /// The most differing rows a comparison lists.
    VerifyMaxRows,
    /// Where the Prometheus metrics are served.
    MetricsListen,
}

impl Setting {
    /// Every setting.
    pub const ALL: [Setting; 40] = [
        Setting::Source,
        Setting::Target,
        Setting::OnlyDbs,
        Setting::FilteredDbs,
        Setting::WithTable,
        Setting::SkipTable,
        Setting::Schema,
        Setting::ExcludeSchema,
        Setting::ExcludeTableData,
        Setting::IncludeProviderObjects,
        Setting::DbsMaxTotalSize,
        Setting::SkipDbVersionCheck,
        Setting::NoCreatedb,
        Setting::RolePasswords,
        Setting::SchemaOnly,
        Setting::KeepGoing,
        Setting::NoRehearsal,
        Setting::Jobs,
        Setting::SchemaJobs,
        Setting::StallTimeout,
        Setting::NoAnalyze,
        Setting::ForceMethod,
        Setting::ReplOnly,
        Setting::Resume,
        Setting::Clean,
        Setting::Cleanup,
        Setting::MaxReplicationLag,
        Setting::StopReplication,
        Setting::ReplicationTimeout,
        Setting::Cutover,
        Setting::CutoverMaxLag,
        Setting::MaxDowntime,
        Setting::FenceRoles,
        Setting::Unfence,
        Setting::FailBackReady,
        Setting::ReplicaIdentityFull,
        Setting::Verify,
        Setting::VerifyOnly,
        Setting::VerifyMaxRows,
        Setting::MetricsListen,
    ];

    /// The setting's stable name: the JSON's, and the one its `Display` writes in backquotes.
    pub fn name(self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    }
}

impl fmt::Display for Setting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}`", self.name())
    }
}

/// What the operator can do next about an error or a warning. Its `Display` says it in
/// neutral words, naming settings through [`Setting`]; a message that already says it in its
/// own words carries it too, so that a program reads the value rather than the text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Remedy {
    /// Run the same command again with [`Setting::Resume`]: the run continues where it stopped
    /// (committed parts are kept).
    Resume,
    /// Run again with [`Setting::Clean`]: what the unfinished run wrote is removed and the
    /// database is migrated from the start.
    StartOver,
    /// Run with [`Setting::Cleanup`]: the replication objects left on the servers (publication,
    /// slot, subscription) are removed.
    RemoveReplication,
    /// Run the same command again with [`Setting::MaxReplicationLag`] and
    /// [`Setting::StopReplication`]: wait until the lag is small, then cut over.
    CutOver,
    /// Run again with [`Setting::Unfence`]: lift the fence a cut-over left on the source.
    Unfence,
    /// Compare the database with the source with [`Setting::VerifyOnly`] (nothing is written).
    VerifyOnly,
    /// Raise a bound or a timeout that was reached.
    Raise { setting: Setting },
    /// Leave out a setting that was given.
    Drop { setting: Setting },
    /// Run `statement` (a GRANT) on the `side` server as a user allowed to, then run again.
    Grant {
        statement: String,
        side: crate::Side,
    },
}

impl fmt::Display for Remedy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Remedy::Resume => write!(
                f,
                "run the same command with {}: what was committed is kept",
                Setting::Resume
            ),
            Remedy::StartOver => write!(f, "run with {} to start over", Setting::Clean),
            Remedy::RemoveReplication => write!(
                f,
                "remove the replication objects with {}",
                Setting::Cleanup
            ),
            Remedy::CutOver => write!(
                f,
                "run the same command again with {} BYTES {} to cut over",
                Setting::MaxReplicationLag,
                Setting::StopReplication
            ),
            Remedy::Unfence => write!(f, "lift the fence with {}", Setting::Unfence),
            Remedy::VerifyOnly => {
                write!(f, "compare it with the source with {}", Setting::VerifyOnly)
            }
            Remedy::Raise { setting } => write!(f, "raise {setting}"),
            Remedy::Drop { setting } => write!(f, "drop {setting}"),
            Remedy::Grant { statement, side } => write!(f, "{statement} on the {side}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_setting_is_listed_once_with_a_snake_case_name() {
        let mut names: Vec<_> = Setting::ALL.iter().map(|s| s.name()).collect();
        for n in &names {
            assert!(
                !n.is_empty() && n.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                "{n}"
            );
        }
        names.sort();
        names.dedup();
        assert_eq!(names.len(), Setting::ALL.len());
    }

    #[test]
    fn a_setting_is_named_in_backquotes() {
        assert_eq!(Setting::Cleanup.to_string(), "`cleanup`");
        assert_eq!(
            Setting::MaxReplicationLag.to_string(),
            "`max_replication_lag`"
        );
    }

    #[test]
    fn a_remedy_is_a_tagged_value_in_json_and_neutral_words_in_text() {
        let v = serde_json::to_value(Remedy::Raise {
            setting: Setting::ReplicationTimeout,
        })
        .unwrap();
        assert_eq!(
            v,
            serde_json::json!({"action": "raise", "setting": "replication_timeout"})
        );
        assert_eq!(
            serde_json::to_value(Remedy::RemoveReplication).unwrap(),
            serde_json::json!({"action": "remove_replication"})
        );
        assert_eq!(
            Remedy::RemoveReplication.to_string(),
            "remove the replication objects with `cleanup`"
        );
        assert!(!Remedy::CutOver.to_string().contains("--"));
        let grant = Remedy::Grant {
            statement: "GRANT pg_signal_backend TO \"me\"".into(),
            side: crate::Side::Source,
        };
        assert_eq!(
            serde_json::to_value(&grant).unwrap(),
            serde_json::json!({"action": "grant", "statement": "GRANT pg_signal_backend TO \"me\"", "side": "source"})
        );
        assert_eq!(
            grant.to_string(),
            "GRANT pg_signal_backend TO \"me\" on the source"
        );
    }
}
