//! The short report at the end of a run, for a person: what happened (a line per database:
//! status, method, size, time), then only what needs attention (failures with their fix,
//! warnings grouped with their counts and the first few, the next command to run). The full
//! detail is in `--json` and, as a table of every message, with `-v`
//! ([`crate::report::MigrateResult::render_table`]).
//!
//! The same text on a terminal and in a pipe; on a terminal, long messages wrap at its width.

use std::fmt::Write as _;

use crate::report::{DbStatus, MigrateResult, RoleStatus, Severity};
use crate::status::render::{bytes, duration};
use crate::text::escape_controls as esc;
use crate::warning::WarningKind;

/// Warnings of a kind shown in full; the rest are counted (all are in `--json` and `-v`).
pub const FIRST_WARNINGS: usize = 3;

/// What the next command is built from.
pub struct Next {
    /// `pg_migrate -s ... -t ...` with the passwords redacted.
    pub base: String,
    /// `db-migrate status -t ...`.
    pub status: String,
}

/// The short report; `width`: the terminal's columns (`None`: no wrapping). Its sections in
/// order: the headline, preflight's findings, roles, databases, what failed or differs, the
/// warnings, the next command.
pub fn render(r: &MigrateResult, width: Option<usize>, next: &Next) -> String {
    let width = width.unwrap_or(usize::MAX).max(40);
    let mut out = String::new();
    if !r.databases.is_empty() {
        let count = |s: DbStatus| r.databases.iter().filter(|d| d.status == s).count();
        let _ = writeln!(
            out,
            "Run {}: {} done, {} replicating, {} failed of {} database{}",
            esc(&r.migration_id),
            count(DbStatus::Done),
            count(DbStatus::Running),
            count(DbStatus::Failed),
            r.databases.len(),
            if r.databases.len() == 1 { "" } else { "s" }
        );
    }
    preflight(&mut out, r, width);
    roles(&mut out, r, width);
    databases(&mut out, r, width);
    failures(&mut out, r, width);
    warnings(&mut out, r, width);
    next_command(&mut out, r, width, next);
    out
}

/// Preflight's errors and warnings (its notes are in `-v`).
fn preflight(out: &mut String, r: &MigrateResult, width: usize) {
    let attention: Vec<_> = (r.validation.findings.iter())
        .filter(|f| f.severity != Severity::Info)
        .collect();
    if !attention.is_empty() {
        out.push_str("Preflight:\n");
        for f in attention {
            let label = if f.severity == Severity::Error {
                "error"
            } else {
                "warning"
            };
            let db = f
                .database
                .as_deref()
                .map(|d| format!("database \"{}\": ", esc(d)))
                .unwrap_or_default();
            wrap(
                out,
                &format!("{label} [{}] {db}{}", f.check, esc(&f.message)),
                width,
                "  ",
            );
        }
    }
}

/// The roles by status (the first few named), then each failed role with why.
fn roles(out: &mut String, r: &MigrateResult, width: usize) {
    if !r.roles.is_empty() {
        let mut parts = Vec::new();
        for (status, word) in [
            (RoleStatus::Created, "created"),
            (RoleStatus::Exists, "already there"),
            (RoleStatus::Failed, "failed"),
        ] {
            let names: Vec<_> = (r.roles.iter().filter(|x| x.status == status))
                .map(|x| esc(&x.rolname).into_owned())
                .collect();
            if !names.is_empty() {
                parts.push(format!("{} {word} ({})", names.len(), first_few(&names, 5)));
            }
        }
        wrap(out, &format!("Roles: {}", parts.join(", ")), width, "");
        for x in r.roles.iter().filter(|x| x.status == RoleStatus::Failed) {
            let line = format!("role \"{}\": {}", esc(&x.rolname), esc(&x.message));
            wrap(out, &line, width, "  ");
        }
    }
}

/// A line per database: status, method, size, time, verification.
fn databases(out: &mut String, r: &MigrateResult, width: usize) {
    if !r.databases.is_empty() {
        out.push_str("Databases:\n");
        let w = (r.databases.iter())
            .map(|d| esc(&d.dbname).chars().count())
            .max()
            .unwrap_or(0)
            .max(8);
        for d in &r.databases {
            let status = match d.status {
                DbStatus::Done => "done",
                DbStatus::Running => "replicating",
                DbStatus::Failed => "failed",
            };
            let method = match d.method {
                Some(crate::report::Method::Dump) => "dump",
                Some(crate::report::Method::Replication) => "replication",
                None => "-",
            };
            let mut line = format!("  {:<w$}  {status:<11}  {method:<11}", esc(&d.dbname));
            if d.data.as_ref().is_some_and(|c| c.tables.is_empty()) {
                line.push_str("  no tables");
            } else if let Some(c) = &d.data {
                let _ = write!(
                    line,
                    "  {} in {} tables, copied in {}",
                    bytes(c.bytes),
                    c.tables.len(),
                    duration(c.seconds.round() as u64)
                );
            }
            if let Some(v) = &d.verify {
                let _ = write!(line, ", verify: {}", v.status.as_str());
            }
            wrap(out, line.trim(), width, "  ");
        }
    }
}

/// What needs attention per database: why it failed, the objects `--keep-going` left out,
/// its cut-over, a verification that found differences.
fn failures(out: &mut String, r: &MigrateResult, width: usize) {
    for d in r.databases.iter().filter(|d| d.status == DbStatus::Failed) {
        let line = format!(
            "database \"{}\" failed: {}",
            esc(&d.dbname),
            esc(&d.message)
        );
        wrap(out, &line, width, "");
    }
    for d in r.databases.iter().filter(|d| !d.objects_failed.is_empty()) {
        let names: Vec<_> = (d.objects_failed.iter())
            .map(|o| esc(&o.name).into_owned())
            .collect();
        let line = format!(
            "database \"{}\": {} not created (--keep-going): {}",
            esc(&d.dbname),
            names.len(),
            first_few(&names, FIRST_WARNINGS)
        );
        wrap(out, &line, width, "");
    }
    for d in &r.databases {
        if let Some(c) = &d.cutover {
            c.render(out, &d.dbname);
        }
        if let Some(v) = d.verify.as_ref().filter(|v| !v.is_equal()) {
            v.render(out, &d.dbname);
        }
    }
}

/// The command to run next: `--resume` after a failure, the cut-over while databases
/// replicate; none after a run that is over.
fn next_command(out: &mut String, r: &MigrateResult, width: usize, next: &Next) {
    let replicating: Vec<_> = (r.databases.iter())
        .filter(|d| d.status == DbStatus::Running)
        .map(|d| esc(&d.dbname).into_owned())
        .collect();
    if r.databases.iter().any(|d| d.status == DbStatus::Failed) {
        let line = format!(
            "Next: fix what is said above, then `{} --resume` (the same flags) continues \
             where this run stopped; `{}` shows where it is",
            next.base, next.status
        );
        wrap(out, &line, width, "");
    } else if !replicating.is_empty() {
        let line = format!(
            "Next: {} keep{} replicating; `{}` shows the lag; when it is small, the same \
             command with --cutover switches to the target",
            first_few(&replicating, 5),
            if replicating.len() == 1 { "s" } else { "" },
            next.status
        );
        wrap(out, &line, width, "");
    }
}

/// The run's warnings by kind: a count, the first [`FIRST_WARNINGS`] in full.
fn warnings(out: &mut String, r: &MigrateResult, width: usize) {
    if r.warnings.is_empty() {
        return;
    }
    let _ = writeln!(out, "Warnings ({}):", r.warnings.len());
    for kind in WarningKind::ALL {
        let group: Vec<_> = r.warnings.iter().filter(|w| w.kind == kind).collect();
        if group.is_empty() {
            continue;
        }
        let _ = writeln!(out, "  {} ({}):", kind.heading(), group.len());
        for w in group.iter().take(FIRST_WARNINGS) {
            wrap(out, &format!("- {}", esc(&w.to_string())), width, "    ");
        }
        if group.len() > FIRST_WARNINGS {
            let _ = writeln!(
                out,
                "    and {} more (all in --json, or with -v)",
                group.len() - FIRST_WARNINGS
            );
        }
    }
}

fn first_few(names: &[String], n: usize) -> String {
    let mut s = names.iter().take(n).cloned().collect::<Vec<_>>().join(", ");
    if names.len() > n {
        let _ = write!(s, " and {} more", names.len() - n);
    }
    s
}

/// Appends `text` at `indent`, wrapped at word boundaries to `width` columns (continuation
/// lines two columns further in); a word longer than the line stays whole.
pub fn wrap(out: &mut String, text: &str, width: usize, indent: &str) {
    let cont = format!("{indent}  ");
    let mut line = String::from(indent);
    let mut empty = true;
    for word in text.split(' ') {
        let len = line.chars().count();
        if !empty && len + 1 + word.chars().count() > width {
            out.push_str(&line);
            out.push('\n');
            line = cont.clone();
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(word);
        empty = false;
    }
    out.push_str(&line);
    out.push('\n');
}

/// The terminal's width, when standard error is one.
pub fn terminal_width() -> Option<usize> {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return None;
    }
    console::Term::stderr()
        .size_checked()
        .map(|(_, w)| w as usize)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::DatabaseResult;
    use crate::warning::Warning;

    fn next() -> Next {
        Next {
            base: "pg_migrate -s S -t T".into(),
            status: "db-migrate status -t T".into(),
        }
    }

    #[test]
    fn long_messages_wrap_at_the_width() {
        let mut out = String::new();
        wrap(&mut out, &"word ".repeat(40), 30, "  ");
        assert!(out.lines().count() > 5, "{out}");
        assert!(out.lines().all(|l| l.chars().count() <= 30), "{out}");
    }

    #[test]
    fn a_line_per_database_then_only_what_needs_attention() {
        let mut r = MigrateResult::default();
        r.databases.push(DatabaseResult::new(
            "shop",
            Some(crate::report::Method::Dump),
            DbStatus::Done,
            "a very long message nobody needs on success".into(),
        ));
        r.databases.push(DatabaseResult::new(
            "crm",
            None,
            DbStatus::Failed,
            "the target refused: run with --clean".into(),
        ));
        for i in 0..5 {
            r.warnings
                .push(Warning::schema(format!("view v{i} skipped")).in_database("shop"));
        }
        let text = render(&r, Some(60), &next());
        assert!(text.contains("  shop      done         dump"), "{text}");
        assert!(!text.contains("nobody needs"), "{text}");
        assert!(
            text.contains("database \"crm\" failed: the target refused: run"),
            "{text}"
        );
        assert!(text.contains("Schema (5):"), "{text}");
        assert!(
            text.contains("view v2 skipped") && !text.contains("view v3"),
            "{text}"
        );
        assert!(text.contains("and 2 more"), "{text}");
        assert!(text.contains("--resume"), "{text}");
        assert!(text.lines().all(|l| l.chars().count() <= 60), "{text}");
    }
}
