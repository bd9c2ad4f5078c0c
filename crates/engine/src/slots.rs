//! Free connection slots of both servers, and `--jobs` / `--schema-jobs` fitted to them.
//!
//! Why: every copy worker holds a source and a target session, and the schema stage holds
//! `--schema-jobs` target sessions. Asking for more than a server has free ends in "sorry, too
//! many clients already" in the middle of a database (and takes every slot the application
//! needs). So the run works out, from the numbers preflight read when it connected
//! ([`crate::catalog::server::ConnectionSlots`]), what each server can still give this user:
//! `max_connections` less the slots reserved for superusers (and, from PostgreSQL 16, for
//! `pg_use_reserved_connections`) less the client sessions open now, and the role's
//! `CONNECTION LIMIT` less its open sessions; and lowers the session counts, with a warning.
//! Walsenders and the subscription's workers use their own slots (`max_wal_senders`,
//! `max_worker_processes`), so they are not counted here.

use crate::catalog::server::ServerFacts;
use crate::options::MigrateOptions;
use crate::remedy::Setting;
use crate::warning::Warning;
use std::num::NonZeroUsize;

/// What one server can still give the migration user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FreeSlots {
    /// Sessions this user may still open (never negative).
    pub free: u64,
    /// How that was worked out, for the warning.
    pub why: String,
}

/// The free slots of a server for the migration user, from the numbers preflight read
/// ([`ServerFacts::connections`]).
pub fn free_slots(facts: &ServerFacts) -> FreeSlots {
    let c = facts.connections;
    compute(c.max, c.reserved, c.open, c.role_limit, c.role_open)
}

/// The arithmetic of [`free_slots`].
pub fn compute(max: i64, reserved: i64, open: i64, role_limit: i64, role_open: i64) -> FreeSlots {
    let server = (max - reserved - open).max(0);
    let mut why =
        format!("max_connections {max}, {reserved} reserved, {open} in use: {server} free");
    let mut free = server;
    if role_limit >= 0 {
        let role = (role_limit - role_open).max(0);
        why.push_str(&format!(
            "; the role's CONNECTION LIMIT {role_limit}, {role_open} in use: {role} free"
        ));
        free = free.min(role);
    }
    FreeSlots {
        free: free as u64,
        why,
    }
}

/// Sessions a database's migration opens on top of the two the orchestrator holds (which are
/// already counted as in use): on the source, the copy workers plus the snapshot coordinator
/// and the schema reader; on the target, the session that reads the target's facts, plus the
/// schema sessions, or later the copy workers and the copy's control session. (A worker that
/// copies large objects opens one more pair; databases with large objects may still need a few
/// slots more than this.)
const SOURCE_EXTRA: u64 = 2;
const TARGET_EXTRA_COPY: u64 = 2;
const TARGET_EXTRA_SCHEMA: u64 = 1;

/// `opts` with `--jobs` and the schema sessions lowered to what the servers can give, and one
/// warning per lowered value; `None` when both fit.
pub fn fit(
    opts: &MigrateOptions,
    source: &FreeSlots,
    target: &FreeSlots,
) -> Option<(MigrateOptions, Vec<Warning>)> {
    let jobs = opts.copy.jobs.get() as u64;
    let ddl = opts.ddl_sessions() as u64;
    let source_room = source.free.saturating_sub(SOURCE_EXTRA).max(1);
    let target_room = target.free.saturating_sub(TARGET_EXTRA_COPY).max(1);
    let fitted_jobs = jobs.min(source_room).min(target_room);
    let fitted_ddl = ddl.min(target.free.saturating_sub(TARGET_EXTRA_SCHEMA).max(1));
    if fitted_jobs == jobs && fitted_ddl == ddl {
        return None;
    }
    let mut out = opts.clone();
    let mut warnings = Vec::new();
    if fitted_jobs < jobs {
        let (side, slots) = if source_room <= target_room {
            ("source", source)
        } else {
            ("target", target)
        };
        warnings.push(Warning::capacity(format!(
            "{} lowered from {jobs} to {fitted_jobs}: the {side} has too few free connection \
             slots ({}); raise max_connections or the role's connection limit, or close \
             other sessions, for more parallelism",
            Setting::Jobs,
            slots.why
        )));
        out.copy.jobs = NonZeroUsize::new(fitted_jobs as usize).unwrap_or(NonZeroUsize::MIN);
    }
    // Set explicitly so that the default (twice --jobs) does not follow the lowered --jobs.
    out.schema_jobs = Some(NonZeroUsize::new(fitted_ddl as usize).unwrap_or(NonZeroUsize::MIN));
    if fitted_ddl < ddl {
        warnings.push(Warning::capacity(format!(
            "schema sessions ({}) lowered from {ddl} to {fitted_ddl}: the target \
             has too few free connection slots ({})",
            Setting::SchemaJobs,
            target.why
        )));
    }
    Some((out, warnings))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(jobs: usize, schema_jobs: Option<usize>) -> MigrateOptions {
        let mut o = MigrateOptions::default();
        o.copy.jobs = NonZeroUsize::new(jobs).unwrap();
        o.schema_jobs = schema_jobs.map(|n| NonZeroUsize::new(n).unwrap());
        o
    }

    #[test]
    fn free_slots_count_reserved_slots_and_the_role_limit() {
        assert_eq!(compute(100, 3, 10, -1, 2).free, 87);
        assert_eq!(compute(100, 3, 10, 5, 2).free, 3);
        assert_eq!(compute(10, 3, 20, -1, 0).free, 0);
        assert!(compute(100, 3, 10, 5, 2).why.contains("CONNECTION LIMIT 5"));
    }

    #[test]
    fn jobs_and_schema_sessions_are_lowered_with_a_warning_naming_the_flag() {
        let plenty = compute(1000, 3, 0, -1, 0);
        let few = compute(20, 3, 7, -1, 0); // 10 free
        assert!(fit(&opts(4, None), &plenty, &plenty).is_none());
        let (o, w) = fit(&opts(100, Some(100)), &few, &plenty).unwrap();
        assert_eq!(o.copy.jobs.get(), 8);
        assert_eq!(o.ddl_sessions(), 100);
        assert!(
            w[0].message.contains("`jobs` lowered from 100 to 8")
                && w[0].message.contains("source"),
            "{w:?}"
        );
        let (o, w) = fit(&opts(2, Some(100)), &plenty, &few).unwrap();
        assert_eq!((o.copy.jobs.get(), o.ddl_sessions()), (2, 9));
        let (o, _) = fit(&opts(50, Some(100)), &plenty, &few).unwrap();
        assert_eq!((o.copy.jobs.get(), o.ddl_sessions()), (8, 9));
        assert!(
            w[0].message.contains("`schema_jobs`") && w[0].message.contains("target"),
            "{w:?}"
        );
        // Never below one session.
        let none = compute(5, 3, 5, -1, 0);
        let (o, _) = fit(&opts(4, None), &none, &none).unwrap();
        assert_eq!((o.copy.jobs.get(), o.ddl_sessions()), (1, 1));
    }
}
