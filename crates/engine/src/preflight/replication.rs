//! Replication checks for preflight (`--validate` and the start of a migration), and
//! [`replication_blockers`] over the servers' facts preflight read, which the replication stage
//! applies again to its database right before it creates anything.
//!
//! Server level ([`preflight_servers`]): `wal_level = logical` on the source, a free replication
//! slot and WAL sender per database to migrate, enough logical replication workers on the
//! target. Without them replication is impossible: when the method is forced these are errors,
//! otherwise warnings saying the dump method will be used.
//!
//! Database level ([`preflight_database`]): tables whose UPDATE and DELETE cannot be
//! replicated (no primary key and no usable replica identity; an error with `--repl-only`,
//! otherwise a warning that the database goes by dump, see [`crate::replication::identity`];
//! with `--replica-identity-full` a warning naming the tables that will be set FULL, or an
//! error naming those the source user may not alter), unlogged tables and large objects
//! (warnings: neither is replicated).

#[cfg(test)]
use crate::catalog::server::LogicalCapacity;
use crate::catalog::server::Servers;
use crate::conn::Session;
use crate::error::Result;
use crate::remedy::Setting;
use crate::report::{Severity, ValidationReport};

/// The check name in findings.
pub const CHECK: &str = "replication";

/// Why replication of `databases` databases between the two servers is impossible, one reason
/// per problem (empty when it is possible): [`fixed_blockers`], then [`capacity_blockers`].
pub fn replication_blockers(servers: &Servers, databases: usize) -> Vec<String> {
    let mut out = fixed_blockers(servers);
    out.extend(capacity_blockers(servers, databases));
    out
}

/// What rules replication out whatever the number of databases: versions, `wal_level`, and a
/// source in recovery (a hot standby).
pub fn fixed_blockers(servers: &Servers) -> Vec<String> {
    let s = &servers.source.logical;
    let mut out = Vec::new();
    if servers.source.version_num < 100000 {
        out.push(
            "the source server is older than PostgreSQL 10 and has no logical replication".into(),
        );
    }
    if servers.target.version_num < 100000 {
        out.push(
            "the target server is older than PostgreSQL 10 and has no logical replication".into(),
        );
    }
    if s.wal_level != "logical" {
        out.push(format!(
            "wal_level is \"{}\" on the source; logical replication needs wal_level = logical (a server restart is needed to change it)",
            s.wal_level
        ));
    }
    if servers.source.in_recovery {
        // PostgreSQL 16+ can create a logical slot on a standby, but no version can create the
        // publication there; the dump method's exported snapshot works on a standby.
        out.push(
            "the source is a standby server in recovery (pg_is_in_recovery()), which is read-only: \
             the replication method creates a publication on the source; replicate from its \
             primary"
                .into(),
        );
    }
    out
}

/// How many databases the servers can replicate at the same time: the fewest of the source's
/// free replication slots and WAL senders and the target's free logical replication workers
/// (each replicating database holds one of each while its subscription runs).
pub fn replication_room(servers: &Servers) -> i64 {
    let (s, t) = (&servers.source.logical, &servers.target.logical);
    let free_slots = s.max_replication_slots - s.used_replication_slots;
    let free_senders = s.max_wal_senders - s.used_wal_senders;
    let free_workers = t.max_logical_replication_workers - t.used_logical_replication_workers;
    free_slots.min(free_senders).min(free_workers).max(0)
}

/// Why the servers cannot replicate `databases` databases at the same time: free slots and WAL
/// senders on the source, free logical replication workers on the target (empty when they can).
pub fn capacity_blockers(servers: &Servers, databases: usize) -> Vec<String> {
    let (s, t) = (&servers.source.logical, &servers.target.logical);
    let n = databases.max(1) as i64;
    let mut out = Vec::new();
    let free_slots = s.max_replication_slots - s.used_replication_slots;
    if free_slots < n {
        out.push(format!(
            "the source has {free_slots} free replication slots (max_replication_slots = {}, {} in use) and {n} are needed",
            s.max_replication_slots, s.used_replication_slots
        ));
    }
    let free_senders = s.max_wal_senders - s.used_wal_senders;
    if free_senders < n {
        out.push(format!(
            "the source has {free_senders} free WAL senders (max_wal_senders = {}, {} in use) and {n} are needed",
            s.max_wal_senders, s.used_wal_senders
        ));
    }
    let free_workers = t.max_logical_replication_workers - t.used_logical_replication_workers;
    if free_workers < n {
        out.push(format!(
            "the target has {free_workers} free logical replication workers (max_logical_replication_workers = {}, {} running) and {n} are needed",
            t.max_logical_replication_workers, t.used_logical_replication_workers
        ));
    }
    out
}

/// Server-level replication checks for `databases` databases. `forced`: replication was asked
/// for explicitly (`--force-method replication` / `--repl-only`), so a blocker is an error.
pub fn preflight_servers(
    servers: &Servers,
    databases: usize,
    forced: bool,
    report: &mut ValidationReport,
) {
    let severity = if forced {
        Severity::Error
    } else {
        Severity::Warning
    };
    for b in replication_blockers(servers, databases) {
        let msg = if forced && databases > 1 && fixed_blockers(servers).is_empty() {
            // Only the number at once is short: waves would fit.
            format!(
                "logical replication of {databases} databases at once is not possible: {b}; \
                 raise the setting, or cut over in the same run ({} 0 \
                 {}), which replicates the databases in waves that fit",
                Setting::MaxReplicationLag,
                Setting::StopReplication
            )
        } else if forced {
            format!("logical replication is not possible: {b}")
        } else {
            format!("logical replication is not possible ({b}); the dump method will be used")
        };
        report.push(severity, CHECK, None, msg);
    }
}

/// Unlogged user tables (`oid::regclass::text`), only those in `only` when given.
async fn unlogged_tables(
    session: &Session,
    only: Option<&[(String, String)]>,
) -> Result<Vec<String>> {
    let tables = crate::catalog::replication::tables::unlogged_tables(session).await?;
    Ok(crate::replication::identity::selected_names(&tables, only))
}

fn list(names: &[String]) -> String {
    const SHOWN: usize = 20;
    let mut s = names
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > SHOWN {
        s.push_str(&format!(" and {} more", names.len() - SHOWN));
    }
    s
}

/// Database-level replication checks (warnings) on a session to the source database `dbname`.
///
/// `forced` (`--repl-only`): tables that cannot replicate UPDATE/DELETE are an error;
/// otherwise a warning that the database is migrated by dump, and that reason is returned.
pub async fn preflight_database(
    source_db: &Session,
    dbname: &str,
    forced: bool,
    report: &mut ValidationReport,
) -> Option<String> {
    preflight_selected(source_db, dbname, forced, false, None, report).await
}

/// [`preflight_database`] for the selected tables only: `only` holds the `(schema, table)`
/// pairs whose rows move (`None`: every table).
///
/// `identity_full` (`--replica-identity-full`): tables without identity are not a reason to
/// use the dump method; instead a warning names those that will be set FULL (what
/// `--validate` shows), or an error names those the source user may not alter (then none is).
///
/// Returns why this database goes by dump when that was decided here (its tables cannot
/// replicate UPDATE and DELETE and replication is not forced).
pub async fn preflight_selected(
    source_db: &Session,
    dbname: &str,
    forced: bool,
    identity_full: bool,
    only: Option<&[(String, String)]>,
    report: &mut ValidationReport,
) -> Option<String> {
    let db = Some(dbname);
    let mut dump_reason = None;
    let gaps = crate::replication::identity::identity_gaps_selected(source_db, only).await;
    let names = gaps.as_ref().map(|g| {
        g.iter()
            .map(|g| g.table.display.clone())
            .collect::<Vec<_>>()
    });
    match (&gaps, names) {
        (Ok(gaps), _) if !gaps.is_empty() && identity_full => {
            match crate::replication::identity::plan_full(gaps) {
                Ok(changes) => report.warning(
                    CHECK,
                    db,
                    crate::replication::identity::full_notice(&changes, false),
                ),
                Err(refused) => report.error(
                    CHECK,
                    db,
                    crate::replication::identity::full_refusal(&refused),
                ),
            }
        }
        (_, Ok(t)) if !t.is_empty() && forced => report.error(
            CHECK,
            db,
            format!(
                "logical replication ({}) is not possible: {}",
                Setting::ReplOnly,
                crate::replication::identity::reason(&t)
            ),
        ),
        (_, Ok(t)) if !t.is_empty() => {
            let reason = crate::replication::identity::reason(&t);
            report.warning(
                CHECK,
                db,
                format!("{reason}; this database will be migrated by dump"),
            );
            dump_reason = Some(reason);
        }
        (_, Ok(_)) => {}
        (_, Err(e)) => report.warning(
            CHECK,
            db,
            format!("could not list tables without replica identity: {e}"),
        ),
    }
    let unlogged = unlogged_tables(source_db, only).await;
    match unlogged {
        Ok(t) if !t.is_empty() => report.warning(
            CHECK,
            db,
            format!(
                "{} unlogged tables are not replicated (their initial data is copied, later changes are not): {}",
                t.len(),
                list(&t)
            ),
        ),
        Ok(_) => {}
        Err(e) => report.warning(CHECK, db, format!("could not list unlogged tables: {e}")),
    }
    match source_db
        .query_one(
            "SELECT pg_catalog.count(*) FROM pg_catalog.pg_largeobject_metadata",
            &[],
        )
        .await
    {
        Ok(row) => {
            let n: i64 = row.get(0);
            if n > 0 {
                report.warning(
                    CHECK,
                    db,
                    format!("{n} large objects are not replicated by logical replication"),
                );
            }
        }
        Err(e) => report.warning(
            CHECK,
            db,
            format!(
                "could not count large objects: {}",
                crate::Error::from_pg(e)
            ),
        ),
    }
    dump_reason
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blockers_explain_each_missing_prerequisite() {
        let mut source = crate::preflight::test_facts(true, None);
        source.logical = LogicalCapacity {
            wal_level: "logical".into(),
            max_replication_slots: 10,
            used_replication_slots: 2,
            max_wal_senders: 10,
            used_wal_senders: 0,
            ..Default::default()
        };
        let mut target = crate::preflight::test_facts(true, None);
        target.version_num = 160000;
        target.logical.max_logical_replication_workers = 4;
        let ok = Servers { source, target };
        assert!(replication_blockers(&ok, 3).is_empty());
        let mut bad = ok.clone();
        bad.source.logical.wal_level = "replica".into();
        bad.source.logical.used_replication_slots = 10;
        bad.target.logical.max_logical_replication_workers = 0;
        let b = replication_blockers(&bad, 1);
        assert_eq!(b.len(), 3, "{b:?}");
        assert!(b[0].contains("wal_level is \"replica\""));
        assert!(b[1].contains("free replication slots"));
        assert!(b[2].contains("logical replication workers"));
    }
}
