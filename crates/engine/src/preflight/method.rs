//! The method each database of a run uses, decided once, in preflight, from the servers' facts;
//! preflight prints it (a `method` finding per database) and the run follows it.
//!
//! Why one place: replication capacity belongs to the whole run, not to one database. Each
//! database that replicates keeps a replication slot and a WAL sender on the source and a
//! logical replication worker on the target for as long as its subscription runs, which, by
//! default, is past the end of the run. Checked one database at a time, every database fits;
//! counted across the run, the fifth of five databases on a target with
//! `max_logical_replication_workers = 4` does not, and its subscription would never start
//! streaming. So the first databases of the run (in run order) that may replicate take the
//! room there is ([`crate::preflight::replication::replication_room`]) and the rest use the
//! dump method, and preflight says so before anything is written.
//!
//! The decision, for the default method (nothing forced):
//! - a reason that rules replication out for every database ([`fixed_blockers`]: versions,
//!   `wal_level`, a source that is a hot standby) sends every database to dump;
//! - a reason of the database's own (tables without replica identity, a path with blockers, no
//!   selected table with rows) sends that database to dump and takes no room;
//! - a database with an earlier run's replication objects is not planned: the run resumes or
//!   cuts over that replication, whose slot and worker are already counted as in use;
//! - the others replicate while there is room, then use dump. With `--max-replication-lag`
//!   and `--stop-replication` each database's replication ends before the next one starts, so
//!   one database's worth of room is enough for all.
//!
//! `--force-method replication` / `--repl-only` plans replication everywhere (what rules it out
//! is a preflight error instead); `--force-method dump` and `--schema-only` plan nothing, as the
//! run never considers replication then.

use std::collections::BTreeMap;

use futures::StreamExt;

use crate::catalog::server::Servers;
use crate::conn::connect;
use crate::options::{MigrateOptions, RunMode};
use crate::replication::plan::PathVerdict;
use crate::report::{Method, ValidationReport};

use super::Preflight;
use super::replication::{
    CHECK, capacity_blockers, fixed_blockers, preflight_selected, preflight_servers,
    replication_room,
};

/// The check name of the per-database method findings.
pub const METHOD_CHECK: &str = "method";

/// One database's planned method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    pub method: Method,
    /// Why the dump method, when replication was not ruled out by the options.
    pub reason: Option<String>,
}

/// The planned method of each database preflight could plan, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MethodPlan {
    by_database: BTreeMap<String, Planned>,
}

impl MethodPlan {
    pub fn get(&self, database: &str) -> Option<&Planned> {
        self.by_database.get(database)
    }

    /// Why `database` uses the dump method although the options allowed replication; `None`
    /// when it replicates or was not planned.
    pub fn dump_reason(&self, database: &str) -> Option<&str> {
        self.get(database)
            .filter(|p| p.method == Method::Dump)
            .and_then(|p| p.reason.as_deref())
    }

    /// The databases in name order with their plan.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Planned)> {
        self.by_database.iter().map(|(k, v)| (k.as_str(), v))
    }
}

/// What [`decide`] needs to know about one database, in run order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub name: String,
    /// Why this database cannot replicate, found by its own checks.
    pub own_reason: Option<String>,
}

/// The plan for `candidates` (in run order) between `servers`. `forced_replication`:
/// `--force-method replication`; `all_at_once`: the replications of the run all run at the
/// same time (false with `--max-replication-lag` and `--stop-replication`).
pub fn decide(
    servers: &Servers,
    candidates: &[Candidate],
    forced_replication: bool,
    all_at_once: bool,
) -> MethodPlan {
    let mut plan = MethodPlan::default();
    let mut set = |name: &str, method, reason| {
        plan.by_database
            .insert(name.to_owned(), Planned { method, reason });
    };
    if forced_replication {
        for c in candidates {
            set(&c.name, Method::Replication, None);
        }
        return plan;
    }
    let fixed = fixed_blockers(servers);
    if !fixed.is_empty() {
        let reason = fixed.join("; ");
        for c in candidates {
            set(&c.name, Method::Dump, Some(reason.clone()));
        }
        return plan;
    }
    let room = replication_room(servers);
    let wanted = candidates.iter().filter(|c| c.own_reason.is_none()).count();
    let needed = if all_at_once { wanted } else { 1 };
    let shortage = || {
        let mut reason = capacity_blockers(servers, needed).join("; ");
        if room > 0 {
            reason.push_str(&format!(
                "; the run's first {room} databases that can replicate take what there is"
            ));
        }
        reason
    };
    let mut taken = 0;
    for c in candidates {
        if let Some(reason) = &c.own_reason {
            set(&c.name, Method::Dump, Some(reason.clone()));
        } else if (all_at_once && taken >= room) || (!all_at_once && room < 1) {
            set(&c.name, Method::Dump, Some(shortage()));
        } else {
            taken += 1;
            set(&c.name, Method::Replication, None);
        }
    }
    plan
}

/// The replication method's checks (wal_level, standby, slots, senders, workers; per database:
/// tables without replica identity, unlogged tables, large objects, the path), then the method
/// of each database ([`decide`]) into [`Preflight::methods`], each printed as a finding.
/// Nothing when the dump method is forced, for a cleanup, or when no data moves
/// (`--schema-only`: its warnings would be about a method that is not used). Blockers are
/// errors only when replication is forced; otherwise they explain the dump method.
pub async fn replication_preflight(opts: &MigrateOptions, pf: &mut Preflight) {
    if opts.force_method == Some(Method::Dump) || opts.mode == RunMode::Cleanup || opts.schema_only
    {
        return;
    }
    let (Some(target), Some(servers)) = (&pf.target, pf.servers()) else {
        return;
    };
    let forced = opts.force_method == Some(Method::Replication);
    // With the cut-over in the run, each database's replication ends before its room is
    // needed again: the run goes in waves of what fits (see migrate::budget), one database's
    // worth is enough to start.
    let all_at_once =
        !(opts.replication.max_replication_lag.is_some() && opts.replication.stop_replication);
    if forced {
        let needed = if all_at_once { pf.selected.len() } else { 1 };
        preflight_servers(&servers, needed, true, &mut pf.report);
    } else {
        for b in fixed_blockers(&servers) {
            pf.report.warning(
                CHECK,
                None,
                format!("logical replication is not possible ({b}); the dump method will be used"),
            );
        }
    }
    let path_check = crate::replication::plan::PathCheck {
        source: &opts.source,
        target: &opts.target,
        target_default: target,
        selected: opts.replication.tables.as_deref(),
        forced,
        servers: &servers,
        extension_tables: opts.copy.extension_tables,
    };
    // Each database's checks on a session of its own, several at once; their findings in the
    // selection's order. (Futures built first: a closure inside the stream would make the
    // preflight future fail to be `Send`.)
    let path_check = &path_check;
    let pending: Vec<_> = pf
        .selected
        .iter()
        .filter(|name| pf.report.database_errors(name).next().is_none())
        .map(|name| {
            // Only the selected tables are published, so only they are checked.
            let only: Option<Vec<(String, String)>> = pf
                .selections
                .get(name)
                .and_then(|r| r.selection.data_tables().map(<[_]>::to_vec));
            async move {
                let mut report = ValidationReport::default();
                let mut own_reason = None;
                if let Ok(s) = connect(&opts.source, Some(name)).await {
                    own_reason = preflight_selected(
                        &s,
                        name,
                        forced,
                        opts.replication.replica_identity_full,
                        only.as_deref(),
                        &mut report,
                    )
                    .await;
                    // The path it will take (publication form, slot, subscription), or why
                    // not, for this database's selected tables.
                    let check = crate::replication::plan::PathCheck {
                        selected: only.as_deref().or(path_check.selected),
                        ..*path_check
                    };
                    let path =
                        crate::replication::plan::preflight_path(&check, &s, name, &mut report)
                            .await;
                    match path {
                        PathVerdict::Blocked(reason) if !forced => {
                            own_reason = own_reason.or(Some(reason))
                        }
                        // Not planned: the run goes on with that replication as before.
                        PathVerdict::EarlierRun => return (report, None),
                        _ => {}
                    }
                }
                if only.as_ref().is_some_and(|t| t.is_empty()) && !forced {
                    own_reason = Some("no selected table has rows to replicate".into());
                }
                let candidate = Candidate {
                    name: name.clone(),
                    own_reason,
                };
                (report, Some(candidate))
            }
        })
        .collect();
    let checked: Vec<_> = futures::stream::iter(pending)
        .buffered(super::DB_CONCURRENCY)
        .collect()
        .await;
    let mut candidates = Vec::new();
    for (report, candidate) in checked {
        pf.report.absorb(report);
        candidates.extend(candidate);
    }
    let plan = decide(&servers, &candidates, forced, all_at_once);
    report_plan(&plan, &candidates, &mut pf.report);
    pf.methods = plan;
}

/// One finding per planned database: the method (info), and for a database that the servers'
/// capacity sends to dump, the reason (a warning; the other reasons have their findings
/// already).
fn report_plan(plan: &MethodPlan, candidates: &[Candidate], report: &mut ValidationReport) {
    for c in candidates {
        let Some(planned) = plan.get(&c.name) else {
            continue;
        };
        let db = Some(c.name.as_str());
        match (planned.method, &planned.reason) {
            (Method::Replication, _) => {
                report.info(METHOD_CHECK, db, "method: replication".to_owned())
            }
            (Method::Dump, Some(reason)) if c.own_reason.is_none() => {
                report.warning(
                    CHECK,
                    db,
                    format!(
                        "logical replication is not possible for this database ({reason}); the \
                         dump method will be used"
                    ),
                );
                report.info(METHOD_CHECK, db, "method: dump".to_owned());
            }
            (Method::Dump, _) => report.info(METHOD_CHECK, db, "method: dump".to_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::server::LogicalCapacity;

    fn servers(workers: i64) -> Servers {
        let mut source = crate::preflight::test_facts(true, None);
        source.logical = LogicalCapacity {
            wal_level: "logical".into(),
            max_replication_slots: 10,
            used_replication_slots: 0,
            max_wal_senders: 10,
            used_wal_senders: 0,
            ..Default::default()
        };
        let mut target = crate::preflight::test_facts(true, None);
        target.logical.max_logical_replication_workers = workers;
        Servers { source, target }
    }

    fn candidates(names: &[&str]) -> Vec<Candidate> {
        names
            .iter()
            .map(|n| Candidate {
                name: n.to_string(),
                own_reason: None,
            })
            .collect()
    }

    fn methods(plan: &MethodPlan, names: &[&str]) -> Vec<Method> {
        names.iter().map(|n| plan.get(n).unwrap().method).collect()
    }

    const FIVE: [&str; 5] = ["a", "b", "c", "d", "e"];

    #[test]
    fn the_first_databases_of_the_run_take_the_room_the_rest_use_dump() {
        let plan = decide(&servers(4), &candidates(&FIVE), false, true);
        use Method::{Dump, Replication};
        assert_eq!(
            methods(&plan, &FIVE),
            [Replication, Replication, Replication, Replication, Dump]
        );
        let reason = plan.dump_reason("e").unwrap();
        assert!(
            reason.contains("4 free logical replication workers"),
            "{reason}"
        );
        assert!(reason.contains("5 are needed"), "{reason}");
        assert!(reason.contains("first 4 databases"), "{reason}");
        assert_eq!(plan.dump_reason("a"), None);
    }

    #[test]
    fn a_database_that_cannot_replicate_anyway_takes_no_room() {
        let mut c = candidates(&FIVE);
        c[1].own_reason = Some("1 table without a primary key".into());
        let plan = decide(&servers(4), &c, false, true);
        use Method::{Dump, Replication};
        assert_eq!(
            methods(&plan, &FIVE),
            [Replication, Dump, Replication, Replication, Replication]
        );
        assert_eq!(plan.dump_reason("b"), Some("1 table without a primary key"));
    }

    #[test]
    fn a_standby_source_or_wal_level_sends_every_database_to_dump() {
        let mut s = servers(10);
        s.source.in_recovery = true;
        let plan = decide(&s, &candidates(&FIVE), false, true);
        assert!(methods(&plan, &FIVE).iter().all(|m| *m == Method::Dump));
        assert!(plan.dump_reason("c").unwrap().contains("standby"));

        let mut s = servers(10);
        s.source.logical.wal_level = "replica".into();
        let plan = decide(&s, &candidates(&FIVE), false, true);
        assert!(plan.dump_reason("a").unwrap().contains("wal_level"));
    }

    #[test]
    fn forced_replication_plans_replication_everywhere() {
        let mut s = servers(1);
        s.source.in_recovery = true;
        let plan = decide(&s, &candidates(&FIVE), true, true);
        assert!(
            methods(&plan, &FIVE)
                .iter()
                .all(|m| *m == Method::Replication)
        );
    }

    #[test]
    fn replications_that_end_one_by_one_need_room_for_one() {
        let plan = decide(&servers(1), &candidates(&FIVE), false, false);
        assert!(
            methods(&plan, &FIVE)
                .iter()
                .all(|m| *m == Method::Replication)
        );
        let plan = decide(&servers(0), &candidates(&FIVE), false, false);
        assert!(methods(&plan, &FIVE).iter().all(|m| *m == Method::Dump));
        assert!(plan.dump_reason("a").unwrap().contains("1 are needed"));
    }

    #[test]
    fn used_slots_and_senders_count_like_workers() {
        let mut s = servers(10);
        s.source.logical.used_replication_slots = 8;
        let plan = decide(&s, &candidates(&FIVE), false, true);
        assert_eq!(
            methods(&plan, &FIVE)
                .iter()
                .filter(|m| **m == Method::Replication)
                .count(),
            2
        );
        assert!(
            plan.dump_reason("e")
                .unwrap()
                .contains("free replication slots")
        );
    }
}
