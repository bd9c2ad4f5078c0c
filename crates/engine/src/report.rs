//! The result of a run: what happened to every role and database, what preflight found, and
//! the warnings an operator should read. The same structure is printed as a table on stderr and
//! written as JSON by `--json`.
//!
//! # JSON field names (stable)
//!
//! ```json
//! {
//!   "migration_id": "a1B2",
//!   "validation": { "ok": true, "findings": [
//!       { "severity": "error|warning|info", "check": "extensions", "database": "app" | null,
//!         "message": "..." } ] },
//!   "roles": [ { "rolname": "alice", "status": "created|exists|failed",
//!                "message": "role created", "rolpassword": "<hidden>" | "placeholder_..." | null } ],
//!   "databases": [ { "dbname": "app", "method": "dump|replication" | null,
//!                    "status": "done|running|failed", "message": "...",
//!                    "remedies": [ { "action": "remove_replication" } ],
//!                    "schema_objects": 42,
//!                    "data": { "tables": [ { "schema": "public", "table": "t", "rows": 10,
//!                                             "bytes": 300, "seconds": 0.1,
//!                                             "format": "binary|text", "parts": 1 } ],
//!                              "sequences": 1, "large_objects": 0, "bytes": 300,
//!                              "rows": 10, "seconds": 0.2, "warnings": [ <warning> ] },
//!                    "verify": { "status": "equal|differs|failed", ... },
//!                    "cutover": { "outcome": "switched|aborted|failed|interrupted", ... } } ],
//!   "warnings": [ <warning> ]
//! }
//! ```
//!
//! A `<warning>` ([`crate::Warning`]) is
//! `{ "kind": "schema", "database": "app" | null, "object": "view \"public\".\"v\"" | null,
//! "message": "...", "remedies": [...] }` (`remedies` only when it has some, see
//! [`crate::Remedy`]); `kind` is one of `connection`, `capacity`, `role`, `database`,
//! `ownership`, `privilege`, `schema`, `selection`, `data`, `sequence`, `replication`, `verify`,
//! `recovery` ([`crate::WarningKind`]); `database` is the database whose migration it is about
//! (null for run-wide ones and inside `data`, whose database is the entry's), `object` the
//! object the message is about. The text of the human report is
//! `database "<database>": <message>`, or the message alone without a database.
//!
//! `verify` (only with `--verify` / `--verify-only`) is documented in
//! [`crate::verify::report`]; `cutover` (only with `--cutover`) in
//! [`crate::replication::timeline`].
//!
//! A message names a setting through [`crate::Setting`] (`` `cleanup` ``), which the command
//! line writes as its flag (`--cleanup`); `remedies` are what the operator can do next, as
//! values (`{ "action": "raise", "setting": "replication_timeout" }`).
//!
//! `rolpassword` is null for roles without a generated or supplied password, `"<hidden>"` unless
//! `--show-passwords` was given.

use std::fmt::Write as _;

use serde::Serialize;

use crate::warning::{Warning, WarningKind};

/// How a database's data was (or is being) moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    Dump,
    Replication,
}

impl Method {
    /// The method as the ledger records it ("dump", "replication").
    pub fn parse(s: &str) -> Option<Method> {
        match s {
            "dump" => Some(Method::Dump),
            "replication" => Some(Method::Replication),
            _ => None,
        }
    }
}

/// The state of one database's migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DbStatus {
    Done,
    Running,
    Failed,
}

/// The outcome for one role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RoleStatus {
    Created,
    Exists,
    Failed,
}

/// Severity of a preflight finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    /// What the run will do, e.g. the replication path of a database (not a problem).
    Info,
}

/// One preflight finding: what is wrong and what to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub severity: Severity,
    /// A short stable name of the check (`connection`, `same-server`, `version`, `languages`,
    /// `extensions`, `databases`, `size`, `large-objects`, `roles`).
    pub check: &'static str,
    /// The source database the finding concerns, if any. Errors tied to one database fail only
    /// that database in a migration; the others go on.
    pub database: Option<String>,
    pub message: String,
    /// What the operator can do about it, as values ([`crate::Remedy`]); the message says it in
    /// words.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub remedies: Vec<crate::remedy::Remedy>,
}

/// Everything preflight found. `ok` is true when there is no error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ValidationReport {
    pub ok: bool,
    pub findings: Vec<Finding>,
}

impl Default for ValidationReport {
    /// An empty report is a passing one.
    fn default() -> Self {
        ValidationReport {
            ok: true,
            findings: Vec::new(),
        }
    }
}

impl ValidationReport {
    pub fn push(
        &mut self,
        severity: Severity,
        check: &'static str,
        database: Option<&str>,
        message: impl Into<String>,
    ) {
        self.findings.push(Finding {
            severity,
            check,
            database: database.map(str::to_owned),
            message: message.into(),
            remedies: Vec::new(),
        });
        self.ok = !self.has_errors();
    }

    /// Adds what the operator can do about the finding pushed last, as values (its message
    /// says it in words).
    pub fn remedies(&mut self, remedies: impl IntoIterator<Item = crate::remedy::Remedy>) {
        if let Some(f) = self.findings.last_mut() {
            f.remedies.extend(remedies);
        }
    }

    /// Adds `other`'s findings after this report's (a check run on its own, e.g. one per
    /// database at once).
    pub fn absorb(&mut self, other: ValidationReport) {
        for f in other.findings {
            self.ok &= f.severity != Severity::Error;
            self.findings.push(f);
        }
    }

    pub fn error(
        &mut self,
        check: &'static str,
        database: Option<&str>,
        message: impl Into<String>,
    ) {
        self.push(Severity::Error, check, database, message);
    }

    pub fn warning(
        &mut self,
        check: &'static str,
        database: Option<&str>,
        message: impl Into<String>,
    ) {
        self.push(Severity::Warning, check, database, message);
    }

    pub fn info(
        &mut self,
        check: &'static str,
        database: Option<&str>,
        message: impl Into<String>,
    ) {
        self.push(Severity::Info, check, database, message);
    }

    pub fn has_errors(&self) -> bool {
        self.findings.iter().any(|f| f.severity == Severity::Error)
    }

    /// Errors that concern the whole run (not one database): a migration does not start.
    pub fn global_errors(&self) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .filter(|f| f.severity == Severity::Error && f.database.is_none())
    }

    /// The errors that concern one database: that database fails, the others go on.
    pub fn database_errors<'a>(&'a self, db: &'a str) -> impl Iterator<Item = &'a Finding> {
        self.findings
            .iter()
            .filter(move |f| f.severity == Severity::Error && f.database.as_deref() == Some(db))
    }
}

/// The outcome for one role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoleResult {
    pub rolname: String,
    pub status: RoleStatus,
    pub message: String,
    /// The password set on the target: a generated placeholder or one from `--role-passwords`.
    /// Serialized as `"<hidden>"` unless the run was asked to show passwords.
    #[serde(serialize_with = "serialize_password")]
    pub rolpassword: Option<RolePassword>,
}

/// A password set on the target, with the decision whether to reveal it.
#[derive(Clone, PartialEq, Eq)]
pub struct RolePassword {
    pub value: String,
    pub reveal: bool,
    /// True for a generated `placeholder_...` password, false for one from `--role-passwords`.
    pub placeholder: bool,
}

impl RolePassword {
    /// What the report shows: the value only when revealing a generated placeholder was asked
    /// for. Real passwords from `--role-passwords` are never shown.
    pub fn shown(&self) -> &str {
        if self.reveal && self.placeholder {
            &self.value
        } else {
            "<hidden>"
        }
    }
}

impl std::fmt::Debug for RolePassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RolePassword({})", self.shown())
    }
}

fn serialize_password<S: serde::Serializer>(
    pw: &Option<RolePassword>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match pw {
        Some(p) => s.serialize_str(p.shown()),
        None => s.serialize_none(),
    }
}

/// The outcome for one database.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DatabaseResult {
    pub dbname: String,
    pub method: Option<Method>,
    pub status: DbStatus,
    pub message: String,
    /// What the operator can do next, as values ([`crate::Remedy`]); the message says it in
    /// words.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub remedies: Vec<crate::remedy::Remedy>,
    /// The stage that failed, when the database failed on an error that names one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phase: Option<crate::error::Phase>,
    /// Objects created by the schema stage (absent when it did not run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema_objects: Option<usize>,
    /// What the data stage copied, per table (absent when it did not run). Only tables whose
    /// copy committed are listed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<crate::copy::report::CopyReport>,
    /// The comparison of source and target (`--verify`, `--verify-only`; absent otherwise). See
    /// [`crate::verify::report`] for its field names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verify: Option<crate::verify::report::VerifyReport>,
    /// The fenced cut-over (`--cutover`): its timeline and write-unavailable window, also when
    /// it was aborted or failed after the fence. See [`crate::replication::timeline`] for its
    /// field names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cutover: Option<crate::replication::timeline::CutoverReport>,
    /// Every change of the source's schema applied on the target while the replication was
    /// waited on: what, the statement, when it was seen on the source and when the target took
    /// it (`seen_unix_seconds`, `applied_unix_seconds`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub schema_changes: Vec<crate::replication::follow::SchemaChangeApplied>,
    /// When the data stage failed or was interrupted: every table with its state (copied,
    /// partly copied, failed with its error, interrupted, not started), rows, bytes, retries.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tables: Vec<crate::copy::report::TableStatus>,
    /// Objects the target refused and that were skipped with `--keep-going`, each with the
    /// objects not created because they depend on it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub objects_failed: Vec<crate::schema::rehearsal::FailedObject>,
}

impl DatabaseResult {
    /// A result with only the basic fields.
    pub fn new(dbname: &str, method: Option<Method>, status: DbStatus, message: String) -> Self {
        DatabaseResult {
            dbname: dbname.to_owned(),
            method,
            status,
            message,
            remedies: Vec::new(),
            phase: None,
            schema_objects: None,
            data: None,
            verify: None,
            cutover: None,
            schema_changes: Vec::new(),
            tables: Vec::new(),
            objects_failed: Vec::new(),
        }
    }

    /// The same result with `remedies` added (those of the error it failed on).
    pub fn with_remedies(mut self, remedies: &[crate::remedy::Remedy]) -> Self {
        self.remedies.extend_from_slice(remedies);
        self
    }
}

/// The result of [`crate::PgMigrate::migrate`].
#[derive(Debug, Clone, Default, Serialize)]
pub struct MigrateResult {
    pub migration_id: String,
    pub validation: ValidationReport,
    pub roles: Vec<RoleResult>,
    pub databases: Vec<DatabaseResult>,
    pub warnings: Vec<Warning>,
    /// `--cutover --validate`: what a fenced cut-over would do now, per replicating database
    /// (see [`crate::replication::timeline::DryRun`] for the field names).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cutover_dry_run: Vec<crate::replication::timeline::DryRun>,
}

impl MigrateResult {
    /// True when no database failed, preflight found no error and no verification found a
    /// difference.
    pub fn succeeded(&self) -> bool {
        self.validation.ok
            && self.databases.iter().all(|d| {
                d.status != DbStatus::Failed && d.verify.as_ref().is_none_or(|v| v.is_equal())
            })
    }

    /// The whole result as pretty JSON (see the module docs for the field names), with
    /// `cutover_window_seconds` when databases were cut over ([`Self::cutover_window_seconds`]).
    pub fn to_json(&self) -> String {
        let mut v = serde_json::to_value(self).expect("result serializes");
        if let (Some(w), Some(o)) = (self.cutover_window_seconds(), v.as_object_mut()) {
            o.insert("cutover_window_seconds".into(), w.into());
        }
        serde_json::to_string_pretty(&v).expect("result serializes")
    }

    /// The run's overall write-unavailable window of its fenced cut-overs: from the first
    /// database's fence to the last one's switch (or fence lifted). Databases are cut over one
    /// after the other, so an application that writes to several of them waits this long, not
    /// each database's own window. `None` when no database was fenced.
    pub fn cutover_window_seconds(&self) -> Option<f64> {
        let spans: Vec<(f64, f64)> = self
            .databases
            .iter()
            .filter_map(|d| d.cutover.as_ref())
            .filter_map(|c| {
                c.fenced_at_unix_seconds
                    .map(|t| (t, t + c.write_unavailable_seconds))
            })
            .collect();
        let start = spans.iter().map(|s| s.0).reduce(f64::min)?;
        let end = spans.iter().map(|s| s.1).reduce(f64::max)?;
        Some(end - start)
    }

    /// The human-readable report printed at the end of a run.
    pub fn render_table(&self) -> String {
        let mut out = String::new();
        render_findings(&mut out, &self.validation);
        if !self.roles.is_empty() {
            let _ = writeln!(out, "Roles:");
            let w = self
                .roles
                .iter()
                .map(|r| esc(&r.rolname).chars().count())
                .max()
                .unwrap_or(0)
                .max(4);
            let _ = writeln!(
                out,
                "  {:<w$}  {:<8}  {:<12}  message",
                "role", "status", "password"
            );
            for r in &self.roles {
                let pw = r.rolpassword.as_ref().map(|p| p.shown()).unwrap_or("-");
                let status = serde_json::to_value(r.status).unwrap_or_default();
                let _ = writeln!(
                    out,
                    "  {:<w$}  {:<8}  {:<12}  {}",
                    esc(&r.rolname),
                    status.as_str().unwrap_or(""),
                    pw,
                    esc(&r.message)
                );
            }
        }
        if !self.databases.is_empty() {
            let _ = writeln!(out, "Databases:");
            let w = self
                .databases
                .iter()
                .map(|d| esc(&d.dbname).chars().count())
                .max()
                .unwrap_or(0)
                .max(8);
            let _ = writeln!(
                out,
                "  {:<w$}  {:<11}  {:<7}  message",
                "database", "method", "status"
            );
            for d in &self.databases {
                let method = d
                    .method
                    .map(|m| serde_json::to_value(m).unwrap_or_default())
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_else(|| "-".into());
                let status = serde_json::to_value(d.status).unwrap_or_default();
                let _ = writeln!(
                    out,
                    "  {:<w$}  {:<11}  {:<7}  {}",
                    esc(&d.dbname),
                    method,
                    status.as_str().unwrap_or(""),
                    esc(&d.message)
                );
            }
        }
        let fenced = self
            .databases
            .iter()
            .filter(|d| d.cutover.is_some())
            .count();
        if fenced > 1
            && let Some(w) = self.cutover_window_seconds()
        {
            let _ = writeln!(
                out,
                "Cut-over of the run: {fenced} databases, one after the other; writes unavailable \
                 for {w:.3} s overall (the first fence to the last switch)"
            );
        }
        for d in &self.databases {
            if let Some(c) = &d.cutover {
                c.render(&mut out, &d.dbname);
            }
            if let Some(v) = &d.verify {
                v.render(&mut out, &d.dbname);
            }
        }
        render_warnings(&mut out, &self.warnings);
        out
    }
}

/// Names and messages in the human report: control characters escaped (see [`crate::text`]).
fn esc(text: &str) -> std::borrow::Cow<'_, str> {
    crate::text::escape_controls(text)
}

/// Renders the warnings grouped by kind, each group under its heading, in the order of
/// [`WarningKind::ALL`] and in the run's order within a group.
fn render_warnings(out: &mut String, warnings: &[Warning]) {
    if warnings.is_empty() {
        return;
    }
    let _ = writeln!(out, "Warnings:");
    for kind in WarningKind::ALL {
        let mut group = warnings.iter().filter(|w| w.kind == kind).peekable();
        if group.peek().is_none() {
            continue;
        }
        let _ = writeln!(out, "  {}:", kind.heading());
        for w in group {
            let _ = writeln!(out, "    - {}", esc(&w.to_string()));
        }
    }
}

/// Renders preflight findings, errors first.
pub fn render_findings(out: &mut String, report: &ValidationReport) {
    if report.findings.is_empty() {
        return;
    }
    let _ = writeln!(out, "Preflight:");
    for sev in [Severity::Error, Severity::Warning, Severity::Info] {
        for f in report.findings.iter().filter(|f| f.severity == sev) {
            let label = match sev {
                Severity::Error => "ERROR  ",
                Severity::Warning => "WARNING",
                Severity::Info => "INFO   ",
            };
            match &f.database {
                Some(db) => {
                    let _ = writeln!(
                        out,
                        "  {label} [{}] database \"{}\": {}",
                        f.check,
                        esc(db),
                        esc(&f.message)
                    );
                }
                None => {
                    let _ = writeln!(out, "  {label} [{}] {}", f.check, esc(&f.message));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cut_over_at(name: &str, fenced_at: f64, window: f64) -> DatabaseResult {
        use crate::replication::timeline::{CutoverEnd, CutoverReport};
        let mut d = DatabaseResult::new(
            name,
            Some(Method::Replication),
            DbStatus::Done,
            String::new(),
        );
        d.cutover = Some(CutoverReport {
            outcome: CutoverEnd::Switched,
            reason: None,
            barrier_lsn: None,
            max_downtime_seconds: None,
            write_unavailable_seconds: window,
            fenced_at_unix_seconds: Some(fenced_at),
            fence: None,
            steps: Vec::new(),
            reverse: false,
        });
        d
    }

    #[test]
    fn the_runs_cutover_window_spans_the_first_fence_to_the_last_switch() {
        let mut r = MigrateResult::default();
        assert_eq!(r.cutover_window_seconds(), None);
        assert!(!r.to_json().contains("cutover_window_seconds"));
        r.databases.push(cut_over_at("a", 1000.0, 0.5));
        r.databases.push(cut_over_at("b", 1002.0, 0.25));
        assert_eq!(r.cutover_window_seconds(), Some(2.25));
        let v: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
        assert_eq!(v["cutover_window_seconds"], 2.25);
        assert!(
            r.render_table()
                .contains("2 databases, one after the other"),
            "{}",
            r.render_table()
        );
    }

    fn role(pw: Option<RolePassword>) -> RoleResult {
        RoleResult {
            rolname: "alice".into(),
            status: RoleStatus::Created,
            message: "role created".into(),
            rolpassword: pw,
        }
    }

    #[test]
    fn placeholder_passwords_are_hidden_unless_revealed() {
        let hidden = role(Some(RolePassword {
            value: "placeholder_abcdefghijklmnop".into(),
            reveal: false,
            placeholder: true,
        }));
        let json = serde_json::to_value(&hidden).unwrap();
        assert_eq!(json["rolpassword"], "<hidden>");
        assert!(!format!("{hidden:?}").contains("placeholder_abc"));

        let shown = role(Some(RolePassword {
            value: "placeholder_abcdefghijklmnop".into(),
            reveal: true,
            placeholder: true,
        }));
        assert_eq!(
            serde_json::to_value(&shown).unwrap()["rolpassword"],
            "placeholder_abcdefghijklmnop"
        );
    }

    #[test]
    fn real_passwords_are_never_shown() {
        let r = role(Some(RolePassword {
            value: "s3cret".into(),
            reveal: true,
            placeholder: false,
        }));
        assert_eq!(serde_json::to_value(&r).unwrap()["rolpassword"], "<hidden>");
        let mut res = MigrateResult::default();
        res.roles.push(r);
        assert!(!res.render_table().contains("s3cret"));
        assert!(!res.to_json().contains("s3cret"));
    }

    #[test]
    fn json_has_documented_fields() {
        let mut res = MigrateResult {
            migration_id: "abcd".into(),
            ..Default::default()
        };
        res.validation
            .warning("large-objects", Some("db"), "large objects present");
        res.databases
            .push(DatabaseResult::new("db", None, DbStatus::Done, "ok".into()));
        let v: serde_json::Value = serde_json::from_str(&res.to_json()).unwrap();
        assert_eq!(v["migration_id"], "abcd");
        assert_eq!(v["validation"]["ok"], true);
        assert_eq!(v["validation"]["findings"][0]["severity"], "warning");
        assert_eq!(v["validation"]["findings"][0]["check"], "large-objects");
        assert_eq!(v["databases"][0]["method"], serde_json::Value::Null);
        assert_eq!(v["databases"][0]["status"], "done");
        assert!(v["roles"].as_array().unwrap().is_empty());
        assert!(v["warnings"].as_array().unwrap().is_empty());
    }

    #[test]
    fn warnings_are_grouped_by_kind() {
        let res = MigrateResult {
            warnings: vec![
                Warning::schema("skipped view \"a\".\"v\": no\nprivilege")
                    .on("view \"a\".\"v\"")
                    .in_database("app"),
                Warning::capacity("`jobs` lowered from 8 to 2"),
                Warning::schema("collation \"c\" cannot be recreated").in_database("shop"),
            ],
            ..Default::default()
        };
        assert_eq!(
            res.render_table(),
            "Warnings:\n  Connection slots:\n    - `jobs` lowered from 8 to 2\n  Schema:\n    \
             - database \"app\": skipped view \"a\".\"v\": no\\nprivilege\n    \
             - database \"shop\": collation \"c\" cannot be recreated\n"
        );
        let v: serde_json::Value = serde_json::from_str(&res.to_json()).unwrap();
        assert_eq!(v["warnings"][0]["kind"], "schema");
        assert_eq!(v["warnings"][0]["database"], "app");
        assert_eq!(v["warnings"][0]["object"], "view \"a\".\"v\"");
        assert_eq!(v["warnings"][1]["object"], serde_json::Value::Null);
    }

    #[test]
    fn errors_fail_validation_warnings_do_not() {
        let mut r = ValidationReport::default();
        assert!(r.ok);
        r.warning("roles", None, "w");
        assert!(r.ok);
        r.error("databases", Some("x"), "e");
        assert!(!r.ok);
        assert_eq!(r.global_errors().count(), 0);
        assert_eq!(r.database_errors("x").count(), 1);
    }

    #[test]
    fn a_finding_carries_its_remedies_as_values_only_when_it_has_some() {
        use crate::remedy::{Remedy, Setting};
        let mut r = ValidationReport::default();
        r.warning("roles", None, "w");
        r.error(
            "target-state",
            Some("x"),
            "unfinished: resume or start over",
        );
        r.remedies([Remedy::Resume, Remedy::StartOver]);
        let v = serde_json::to_value(&r).unwrap();
        assert!(v["findings"][0].get("remedies").is_none(), "{v}");
        assert_eq!(
            v["findings"][1]["remedies"],
            serde_json::json!([{"action": "resume"}, {"action": "start_over"}])
        );
        let mut d = DatabaseResult::new("x", None, DbStatus::Failed, "e".into());
        d = d.with_remedies(&[Remedy::Drop {
            setting: Setting::NoCreatedb,
        }]);
        let v = serde_json::to_value(&d).unwrap();
        assert_eq!(v["remedies"][0]["setting"], "no_createdb");
    }
}
