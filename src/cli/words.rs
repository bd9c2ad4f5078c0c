//! The engine's words in the command line's: every [`Setting`] a message names (in backquotes,
//! `` `cleanup` ``, see [`crate::remedy`]) is shown as its flag (`--cleanup`), and so is every
//! [`crate::Remedy`] a message says, since remedies name their settings the same way.
//!
//! Why here and only here: the engine serves library users too, who set options, not flags;
//! so it names settings as values and the command line, which owns the flags, says them in
//! its words. Everything the command line prints or writes from the engine's results goes
//! through [`text`] (the report, errors, the status) or [`json`] (the `--json` document).

use std::borrow::Cow;

use crate::remedy::Setting;

/// The flag that sets `setting` (with its value's placeholder where the words need one).
pub fn flag(setting: Setting) -> &'static str {
    match setting {
        Setting::Source => "--source",
        Setting::Target => "--target",
        Setting::OnlyDbs => "--only-db",
        Setting::FilteredDbs => "-f/--filtered-db",
        Setting::WithTable => "--with-table",
        Setting::SkipTable => "--skip-table",
        Setting::Schema => "--schema",
        Setting::ExcludeSchema => "--exclude-schema",
        Setting::ExcludeTableData => "--exclude-table-data",
        Setting::IncludeProviderObjects => "--include-provider-objects",
        Setting::DbsMaxTotalSize => "--dbs-max-total-size",
        Setting::SkipDbVersionCheck => "--skip-db-version-check",
        Setting::NoCreatedb => "--no-createdb",
        Setting::RolePasswords => "--role-passwords",
        Setting::SchemaOnly => "--schema-only",
        Setting::KeepGoing => "--keep-going",
        Setting::NoRehearsal => "--no-rehearsal",
        Setting::Jobs => "--jobs",
        Setting::SchemaJobs => "--schema-jobs",
        Setting::StallTimeout => "--stall-timeout",
        Setting::NoAnalyze => "--no-analyze",
        Setting::ForceMethod => "--force-method",
        Setting::ReplOnly => "--repl-only",
        Setting::Resume => "--resume",
        Setting::Clean => "--clean",
        Setting::Cleanup => "--cleanup",
        Setting::MaxReplicationLag => "--max-replication-lag",
        Setting::StopReplication => "--stop-replication",
        Setting::ReplicationTimeout => "--replication-timeout",
        Setting::Cutover => "--cutover",
        Setting::CutoverMaxLag => "--cutover-max-lag",
        Setting::MaxDowntime => "--max-downtime",
        Setting::FenceRoles => "--fence-roles",
        Setting::Unfence => "--unfence",
        Setting::FailBackReady => "--fail-back-ready",
        Setting::ReplicaIdentityFull => "--replica-identity-full",
        Setting::Verify => "--verify",
        Setting::VerifyOnly => "--verify-only",
        Setting::VerifyMaxRows => "--verify-max-rows",
        Setting::MetricsListen => "--metrics-listen",
    }
}

/// `text` with every setting it names (`` `name` ``) written as its flag. Backquoted words that
/// name no setting are left as they are.
pub fn text(text: &str) -> Cow<'_, str> {
    if !text.contains('`') {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('`') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let named = after.find('`').and_then(|close| {
            let name = &after[..close];
            (Setting::ALL.iter())
                .find(|s| s.name() == name)
                .map(|s| (flag(*s), close))
        });
        match named {
            Some((flag, close)) => {
                out.push_str(flag);
                rest = &after[close + 1..];
            }
            None => {
                out.push('`');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// Every string of a JSON document through [`text`]: the `--json` report says what the
/// printed one says. Typed values (a remedy's `setting`) keep their names.
pub fn json(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::String(s) => {
            if let Cow::Owned(o) = text(s) {
                *s = o;
            }
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(json),
        serde_json::Value::Object(o) => o.values_mut().for_each(json),
        _ => {}
    }
}

/// An error as the command line prints it.
pub fn error(e: &crate::error::Error) -> String {
    text(&e.to_string()).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remedy::Remedy;
    use clap::CommandFactory;

    #[test]
    fn every_setting_is_a_flag_of_pg_migrate() {
        let cmd = crate::cli::PgArgs::command();
        for s in Setting::ALL {
            let long = flag(s).rsplit("--").next().unwrap();
            assert!(
                cmd.get_arguments().any(|a| a.get_long() == Some(long)),
                "{s:?}: {}",
                flag(s)
            );
        }
    }

    #[test]
    fn settings_become_flags_and_other_backquotes_stay() {
        assert_eq!(
            text("wait (`max_replication_lag` BYTES `stop_replication`), or `x`"),
            "wait (--max-replication-lag BYTES --stop-replication), or `x`"
        );
        assert_eq!(text("a ` alone"), "a ` alone");
        assert!(matches!(text("no setting"), Cow::Borrowed(_)));
    }

    #[test]
    fn remedies_are_said_in_flag_words() {
        let said = |r: Remedy| text(&r.to_string()).into_owned();
        assert!(said(Remedy::Resume).starts_with("run the same command with --resume:"));
        assert_eq!(said(Remedy::StartOver), "run with --clean to start over");
        assert_eq!(
            said(Remedy::RemoveReplication),
            "remove the replication objects with --cleanup"
        );
        assert!(said(Remedy::CutOver).contains("--max-replication-lag BYTES --stop-replication"));
        assert_eq!(
            said(Remedy::Raise {
                setting: Setting::ReplicationTimeout
            }),
            "raise --replication-timeout"
        );
    }

    #[test]
    fn a_stalled_copy_names_the_stall_timeout_flag() {
        let e = crate::stall::error(std::time::Duration::from_secs(12), None);
        let text = error(&e);
        assert!(text.contains("--stall-timeout"), "{text}");
    }

    #[test]
    fn the_json_report_says_it_in_flag_words_and_keeps_the_values() {
        let mut v = serde_json::json!({
            "message": "lag too high: raise `cutover_max_lag`",
            "remedies": [{"action": "raise", "setting": "cutover_max_lag"}],
        });
        json(&mut v);
        assert_eq!(v["message"], "lag too high: raise --cutover-max-lag");
        assert_eq!(v["remedies"][0]["setting"], "cutover_max_lag");
    }
}
