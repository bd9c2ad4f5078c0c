//! Replication objects left by an earlier run: finding them ([`find_earlier_run`]), cutting a
//! healthy earlier run over or refusing to touch it ([`check_earlier_run`], called for every
//! database before any schema work), and removing them (`--cleanup`, [`cleanup`]). Its own file
//! because these entry points look at the objects under both the plain and the mangled names,
//! whatever this run's options say.

use std::time::Duration;

use tracing::info;

use super::objects::TargetFacts;
use super::wait::{Replicating, wait_and_stop};
use super::{
    InitialDataPath, ObjectNames, PathTaken, ReplicationOptions, ReplicationOutcome, identity,
    objects, on_source, on_target, record,
};
use crate::conn::Session;
use crate::error::{Error, ErrorKind, Phase, Result, Side};
use crate::pair::DbPair;
use crate::remedy::{Remedy, Setting};
use crate::sql::quote_ident;

/// Objects of an earlier run found for one database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EarlierRun {
    pub database: String,
    pub names: ObjectNames,
    pub publication: bool,
    pub slot: Option<objects::SlotState>,
    pub subscription: Option<objects::SubState>,
}

impl EarlierRun {
    pub fn is_empty(&self) -> bool {
        !self.publication && self.slot.is_none() && self.subscription.is_none()
    }

    /// Publication, slot and an enabled subscription on that slot all exist.
    pub fn is_healthy(&self) -> bool {
        self.is_whole() && self.subscription.as_ref().is_some_and(|s| s.enabled)
    }

    /// Publication, slot and a subscription on that slot all exist, the subscription maybe
    /// disabled: a run that stopped on a schema change the target refused disables it (see
    /// `following`), and the cut-over enables it again.
    pub fn is_whole(&self) -> bool {
        self.publication
            && self.slot.as_ref().is_some_and(|s| {
                s.logical_pgoutput && s.database.as_deref() == Some(self.database.as_str())
            })
            && self
                .subscription
                .as_ref()
                .is_some_and(|s| s.slot_name.as_deref() == Some(self.names.slot.as_str()))
    }

    /// "publication "x" and slot "y" on the source, subscription "z" on the target".
    pub fn describe(&self) -> String {
        let mut src = Vec::new();
        if self.publication {
            src.push(format!(
                "publication {}",
                quote_ident(&self.names.publication)
            ));
        }
        if self.slot.is_some() {
            src.push(format!(
                "replication slot {}",
                quote_ident(&self.names.slot)
            ));
        }
        let mut parts = Vec::new();
        if !src.is_empty() {
            parts.push(format!("{} on the source", src.join(" and ")));
        }
        if let Some(s) = &self.subscription {
            parts.push(format!(
                "subscription {} ({}) on the target",
                quote_ident(&self.names.subscription),
                if s.enabled { "enabled" } else { "disabled" }
            ));
        }
        parts.join(", ")
    }

    /// The error for a run that must not touch these objects.
    pub fn refusal(&self) -> Error {
        let finish = if self.is_whole() {
            format!(
                "to finish that migration (cut over), run the same command again with {} BYTES {}; ",
                Setting::MaxReplicationLag,
                Setting::StopReplication
            )
        } else {
            "they are incomplete, so that migration cannot be finished; ".to_owned()
        };
        let mut e = Error::new(
            ErrorKind::Validation,
            format!(
                "replication objects of an earlier run exist: {}; {finish}to remove them, run with {} (and the source and target of this run)",
                self.describe(),
                Setting::Cleanup
            ),
        );
        if self.is_whole() {
            e = e.with_remedy(Remedy::CutOver);
        }
        e.with_remedy(Remedy::RemoveReplication)
            .with_database(self.database.clone())
            .with_phase(crate::error::Phase::Replication)
    }
}

/// Sessions for looking up (and dropping) an earlier run's objects: the source database, the
/// target database when it exists (a missing one simply has no subscription), and the
/// target's facts.
async fn sessions_for_lookup(pair: &DbPair) -> Result<(Session, Option<Session>, TargetFacts)> {
    let dbname = pair.source_db();
    let src = pair.open(Side::Source, Phase::Replication).await?;
    // A source fenced by a cut-over (--cutover) starts our sessions read-only too: these
    // write (drop the objects, adopt new tables, lift the fence).
    src.batch_execute("SET default_transaction_read_only = off")
        .await
        .map_err(|e| on_source(e, dbname))?;
    let tgt = match pair.open(Side::Target, Phase::Replication).await {
        Ok(t) => Some(t),
        Err(e) if e.sqlstate().map(|c| c.code()) == Some("3D000") => None,
        Err(e) => return Err(e),
    };
    let tfacts = match &tgt {
        Some(t) => {
            let servers = pair.servers(&src, t).await?;
            TargetFacts::read(t, &servers.target)
                .await
                .map_err(|e| on_target(e, dbname))?
        }
        None => TargetFacts::default(),
    };
    Ok((src, tgt, tfacts))
}

/// Looks for objects of an earlier run for `dbname` (plain and mangled names). A missing target
/// database simply has no subscription.
pub async fn find_earlier_run(pair: &DbPair) -> Result<Option<EarlierRun>> {
    let dbname = pair.source_db();
    let (src, tgt, tfacts) = sessions_for_lookup(pair).await?;
    for names in ObjectNames::candidates(dbname) {
        let run = find_objects(&src, tgt.as_ref(), &tfacts, dbname, &names).await?;
        if !run.is_empty() {
            return Ok(Some(run));
        }
    }
    Ok(None)
}

pub(super) async fn find_objects(
    src: &Session,
    tgt: Option<&Session>,
    tfacts: &TargetFacts,
    dbname: &str,
    names: &ObjectNames,
) -> Result<EarlierRun> {
    let publication = objects::publication_exists(src, &names.publication)
        .await
        .map_err(|e| on_source(e, dbname))?;
    let slot = objects::slot_state(src, &names.slot)
        .await
        .map_err(|e| on_source(e, dbname))?;
    let subscription = match tgt {
        Some(t) => objects::subscription_state(t, &names.subscription, tfacts)
            .await
            .map_err(|e| on_target(e, dbname))?,
        None => None,
    };
    Ok(EarlierRun {
        database: dbname.to_owned(),
        names: names.clone(),
        publication,
        slot,
        subscription,
    })
}

/// Call before any schema work, for every method. `Ok(None)`: no earlier run, go on.
/// `Ok(Some(outcome))`: a healthy earlier run was cut over by this call (the options ask for
/// `--max-replication-lag` and `--stop-replication`): report it and skip the database.
/// `Err`: an earlier run's objects exist and this run must not touch them (the error names them
/// and the two commands that deal with them).
pub async fn check_earlier_run(
    pair: &DbPair,
    opts: &ReplicationOptions,
) -> Result<Option<ReplicationOutcome>> {
    let dbname = pair.source_db();
    let Some(run) = find_earlier_run(pair).await? else {
        return Ok(None);
    };
    if !(run.is_whole() && opts.is_cut_over()) {
        return Err(run.refusal());
    }
    info!(database = %dbname, "cutting over the replication of an earlier run");
    let src = pair.open(Side::Source, Phase::Replication).await?;
    // A source fenced by a cut-over (--cutover) starts our sessions read-only too: these
    // write (drop the objects, adopt new tables, lift the fence).
    src.batch_execute("SET default_transaction_read_only = off")
        .await
        .map_err(|e| on_source(e, dbname))?;
    let tgt = pair.open(Side::Target, Phase::Replication).await?;
    let servers = pair.servers(&src, &tgt).await?;
    let tfacts = TargetFacts::read(&tgt, &servers.target)
        .await
        .map_err(|e| on_target(e, dbname))?;
    if !run.is_healthy() {
        // Disabled when a schema change the target refused stopped the replication (or by
        // hand): the operator applied it since and asks to cut over.
        objects::enable_subscription(&tgt, &run.names.subscription, &tfacts)
            .await
            .map_err(|e| {
                on_target(e, dbname)
                    .with_object(format!(
                        "subscription {}",
                        quote_ident(&run.names.subscription)
                    ))
                    .context("the subscription is disabled and could not be enabled again")
            })?;
        info!(database = %dbname, "the disabled subscription was enabled again");
    }
    let baseline = record::stored_fingerprint(&src, &run.names.publication).await;
    let mut outcome = ReplicationOutcome::running(
        run.names.clone(),
        PathTaken {
            publication: None,
            publication_form: None,
            published_tables: 0,
            slot: None,
            subscription: None,
            initial_data: InitialDataPath::EarlierRun,
            replication_connection_refused: None,
        },
        String::new(),
        Vec::new(),
    );
    if baseline.is_none() {
        outcome.warnings.push(
            crate::warning::Warning::replication(
                "no schema fingerprint was stored by the earlier run; schema drift cannot be checked",
            )
            .in_database(dbname),
        );
    }
    wait_and_stop(
        Replicating {
            pair,
            src: &src,
            tgt: &tgt,
            tfacts: &tfacts,
            dbname,
            opts,
        },
        baseline,
        &mut outcome,
    )
    .await?;
    Ok(Some(outcome))
}

/// What [`cleanup`] did for one database.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CleanupReport {
    /// e.g. `subscription "aiven_db_migrate_app_sub" on the target`.
    pub dropped: Vec<String>,
    /// Objects that could not be dropped (or tables whose replica identity could not be put
    /// back), with the reason.
    pub failed: Vec<String>,
    /// Tables `--replica-identity-full` had set FULL, put back once the publication was gone,
    /// e.g. `public.loose (DEFAULT)`.
    pub identity_restored: Vec<String>,
    /// Recorded tables dropped meanwhile, or whose identity someone else changed since.
    pub warnings: Vec<String>,
}

/// `--cleanup`: drops the replication objects an earlier run left for `dbname` (plain and
/// mangled names), subscription first, then publication and slot. Objects that do not exist
/// are skipped; a missing target database is fine.
pub async fn cleanup(pair: &DbPair) -> Result<CleanupReport> {
    let dbname = pair.source_db();
    let (src, tgt, tfacts) = sessions_for_lookup(pair).await?;
    let mut report = CleanupReport::default();
    for names in ObjectNames::candidates(dbname) {
        let run = find_objects(&src, tgt.as_ref(), &tfacts, dbname, &names).await?;
        if run.subscription.is_some()
            && let Some(t) = &tgt
        {
            let what = format!(
                "subscription {} on the target",
                quote_ident(&names.subscription)
            );
            match objects::drop_subscription(t, &names.subscription, &tfacts).await {
                Ok(()) => report.dropped.push(what),
                Err(e) => report.failed.push(format!("{what}: {e}")),
            }
        }
        if run.publication {
            let what = format!(
                "publication {} on the source",
                quote_ident(&names.publication)
            );
            // Read before the comment goes with the publication; put back only once it is
            // gone (with it, UPDATE and DELETE on those tables would fail on the source).
            let altered = record::stored_changes(&src, &names.publication)
                .await
                .map_err(|e| {
                    on_source(e, dbname).context(
                        "could not read which tables were set to REPLICA IDENTITY FULL; nothing was dropped",
                    )
                })?;
            match objects::drop_publication(&src, &names.publication).await {
                Ok(()) => {
                    report.dropped.push(what);
                    restore_identities(&src, dbname, &altered, &mut report).await;
                }
                Err(e) => report.failed.push(format!("{what}: {e}")),
            }
        }
        // aiven_extras.pg_drop_subscription may have dropped the slot already.
        if run.slot.is_some()
            && objects::slot_state(&src, &names.slot)
                .await
                .map_err(|e| on_source(e, dbname))?
                .is_some()
        {
            let what = format!(
                "replication slot {} on the source",
                quote_ident(&names.slot)
            );
            match objects::drop_slot(&src, &names.slot, Duration::from_secs(30)).await {
                Ok(()) => report.dropped.push(what),
                Err(e) => report.failed.push(format!("{what}: {e}")),
            }
        } else if run.slot.is_some() {
            report.dropped.push(format!(
                "replication slot {} on the source",
                quote_ident(&names.slot)
            ));
        }
    }
    // The reverse replication of --fail-back-ready: subscription on the source, publication
    // and slot on the target.
    if let Some(t) = &tgt {
        let (dropped, failed) = super::failback::cleanup(pair, &src, t).await?;
        report.dropped.extend(dropped);
        report.failed.extend(failed);
    }
    Ok(report)
}

/// Puts back the replica identities of `altered` for [`cleanup`], into `report`.
async fn restore_identities(
    src: &Session,
    dbname: &str,
    altered: &[identity::IdentityChange],
    report: &mut CleanupReport,
) {
    if altered.is_empty() {
        return;
    }
    match identity::restore(src, altered).await {
        Ok(r) => {
            report.identity_restored.extend(r.restored);
            report.warnings.extend(r.warnings);
            report.failed.extend(r.failed);
        }
        Err(e) => report
            .failed
            .push(identity::not_restored(altered, &on_source(e, dbname))),
    }
}
