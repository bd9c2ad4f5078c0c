//! Setting replication up for one database: publication as planned, slot (with an exported
//! snapshot on a replication connection, or by function), the caller's initial data, the
//! subscription, its worker's start, the stored schema fingerprint; and [`undo`] of whatever a
//! failed setup had created. With `--replica-identity-full`, the tables without identity are
//! set FULL, the publication created and the tables recorded in its comment
//! ([`super::record`]) in one transaction, so that the source's UPDATE and DELETE never fail and
//! no table is left FULL unrecorded. [`super::migrate_database`] decides whether to set up at
//! all.

use std::future::Future;
use std::time::{Duration, Instant};

use tracing::{info, warn};

use super::identity::{self, IdentityChange};
use super::objects::{SourceFacts, TargetFacts};
use super::{
    Fingerprint, InitialData, InitialDataPath, ObjectNames, PathTaken, PublicationForm,
    ReplicationOptions, ReplicationOutcome, ReplicationPlan, SlotCreation, Via, fallback, objects,
    on_source, on_target, plan, record,
};
use crate::catalog::replication::state;
use crate::conn::wire::connect_replication;
use crate::conn::{ConnInfo, Session};
use crate::error::{Error, ErrorKind, Result, Side};
use crate::remedy::Setting;
use crate::sql::quote_ident;

/// What this run created, for the cleanup after a setup failure.
#[derive(Default)]
pub(super) struct Created {
    pub(super) publication: bool,
    pub(super) slot: bool,
    pub(super) subscription: bool,
    /// Tables this run set to REPLICA IDENTITY FULL (put back by [`undo`]).
    pub(super) identity: Vec<IdentityChange>,
}

/// What the setup works with.
pub(super) struct SetupCtx<'a> {
    pub(super) source: &'a ConnInfo,
    pub(super) src: &'a Session,
    pub(super) tgt: &'a Session,
    pub(super) sfacts: &'a SourceFacts,
    pub(super) plan: &'a ReplicationPlan,
    pub(super) sub_via: Via,
    pub(super) dbname: &'a str,
    pub(super) names: &'a ObjectNames,
    pub(super) opts: &'a ReplicationOptions,
    /// `MigrateOptions.copy.extension_tables` ([`super::RunFacts`]).
    pub(super) extension_tables: bool,
    /// The tables to set REPLICA IDENTITY FULL (`--replica-identity-full`; empty otherwise).
    pub(super) identity_full: &'a [IdentityChange],
}

/// Creates the publication as planned. When the source refuses `FOR ALL TABLES` (42501) though
/// the facts said it would not, the tables are listed instead, if the user may publish them all;
/// otherwise the refusal (42501, naming the tables) sends the database to the dump method.
/// Returns the form, how it was created, and the tables listed.
///
/// `in_transaction`: the caller has a transaction open on the source session (which also sets
/// replica identities FULL), so a refused first attempt is rolled back to a savepoint.
async fn create_planned_publication(
    ctx: &SetupCtx<'_>,
    in_transaction: bool,
) -> Result<(
    PublicationForm,
    Via,
    Vec<crate::catalog::replication::publication::PublishableTable>,
)> {
    let (src, dbname, names) = (ctx.src, ctx.dbname, ctx.names);
    let object = || format!("publication {}", quote_ident(&names.publication));
    let plan = ctx.plan;
    let list = |p: &ReplicationPlan| p.table_names();
    info!(database = %dbname, publication = %names.publication, via = plan.publication_via.describe(), form = ?plan.form, "creating the publication");
    if in_transaction {
        src.batch_execute("SAVEPOINT db_migrate_publication")
            .await
            .map_err(|e| on_source(Error::from_pg(e), dbname))?;
    }
    let first = match plan.form {
        PublicationForm::AllTables => {
            objects::create_publication(src, &names.publication, None, plan.publication_via).await
        }
        PublicationForm::TableList => {
            let l = list(plan);
            objects::create_publication(src, &names.publication, Some(&l), plan.publication_via)
                .await
        }
    };
    match first {
        Ok(()) => Ok((plan.form, plan.publication_via, plan.tables.clone())),
        Err(e) if plan.form == PublicationForm::AllTables && e.is_insufficient_privilege() => {
            warn!(database = %dbname, "FOR ALL TABLES refused ({e}); listing the tables instead");
            if in_transaction {
                src.batch_execute("ROLLBACK TO SAVEPOINT db_migrate_publication")
                    .await
                    .map_err(|e| on_source(Error::from_pg(e), dbname))?;
            }
            let plan::PublicationPlan {
                via,
                tables,
                blockers,
                ..
            } = plan::publication_plan(
                src,
                ctx.sfacts,
                ctx.opts.tables.as_deref(),
                true,
                ctx.extension_tables,
            )
            .await
            .map_err(|e| on_source(e, dbname))?;
            if !blockers.is_empty() {
                return Err(Error::new(
                    ErrorKind::Validation,
                    format!(
                        "{e}; and a table list is not possible: {}",
                        blockers.join("; ")
                    ),
                )
                .with_sqlstate(crate::error::SqlState::INSUFFICIENT_PRIVILEGE)
                .with_side(Side::Source)
                .with_object(object()));
            }
            let l: Vec<(String, String)> = tables
                .iter()
                .map(|t| (t.schema.clone(), t.name.clone()))
                .collect();
            objects::create_publication(src, &names.publication, Some(&l), via)
                .await
                .map_err(|e| on_source(e, dbname).with_object(object()))?;
            Ok((PublicationForm::TableList, via, tables))
        }
        Err(e) => Err(on_source(e, dbname).with_object(object())),
    }
}

/// Sets replication up for `ctx.dbname`, step by step: the publication, the baseline
/// fingerprint, the slot and the initial data, the subscription and its worker, the baseline
/// kept. Records what it created in `created` (for [`undo`] when it fails).
pub(super) async fn setup<C, F>(
    ctx: &SetupCtx<'_>,
    created: &mut Created,
    initial_data: C,
) -> Result<(ReplicationOutcome, Fingerprint)>
where
    C: FnOnce(InitialData) -> F,
    F: Future<Output = Result<String>>,
{
    let SetupCtx {
        src,
        tgt,
        sub_via,
        dbname,
        names,
        opts,
        ..
    } = *ctx;
    let (form, pub_via, listed) = publication(ctx, created).await?;
    let published_tables = listed.len();
    let extension_listed: Vec<String> = listed
        .iter()
        .filter(|t| t.extension)
        .map(|t| t.display.clone())
        .collect();

    // The schema the initial copy is based on.
    let baseline = Fingerprint::read(src)
        .await
        .map_err(|e| on_source(e, dbname))?;

    let (copy_summary, path, refused) = slot_and_initial_data(ctx, created, initial_data).await?;

    subscribe(ctx, created, path).await?;

    wait_for_worker(src, tgt, dbname, names, opts.worker_start_timeout).await?;

    keep_baseline(src, names, created, &baseline).await;

    let slot_creation = if path == InitialDataPath::ExportedSnapshot {
        SlotCreation::ReplicationConnection
    } else {
        SlotCreation::Function
    };
    let path = PathTaken {
        publication: Some(pub_via),
        publication_form: Some(form),
        published_tables,
        slot: Some(slot_creation),
        subscription: Some(sub_via),
        initial_data: path,
        replication_connection_refused: refused,
    };
    let how = match path.initial_data {
        InitialDataPath::ExportedSnapshot => {
            format!("initial data copied in the slot's exported snapshot ({copy_summary})")
        }
        _ => format!(
            "no replication connection ({}), so the slot was created with pg_create_logical_replication_slot() and the subscription copies the initial data itself",
            path.replication_connection_refused.as_deref().unwrap_or("")
        ),
    };
    let warnings = warnings(src, dbname, created).await;
    let form_text = plan::form_text(
        form,
        published_tables,
        &extension_listed,
        &ctx.plan.extension_tables_left_out,
    );
    let message = format!(
        "logical replication running: publication {form_text} via {}, subscription via {}; {how}",
        pub_via.describe(),
        sub_via.describe()
    );
    Ok((
        ReplicationOutcome::running(names.clone(), path, message, warnings),
        baseline,
    ))
}

/// The publication as planned. With `--replica-identity-full`, the tables are set FULL before
/// it exists (from its creation on, an UPDATE or DELETE of a table without identity fails on
/// the source) and recorded in its comment, all in one transaction. Returns the form, how it
/// was created, and the tables listed.
async fn publication(
    ctx: &SetupCtx<'_>,
    created: &mut Created,
) -> Result<(
    PublicationForm,
    Via,
    Vec<crate::catalog::replication::publication::PublishableTable>,
)> {
    let (src, dbname, names) = (ctx.src, ctx.dbname, ctx.names);
    // The tables are set FULL before the publication exists (from its creation on, an UPDATE
    // or DELETE of a table without identity fails on the source) and recorded in its comment
    // for a later cut-over or --cleanup, all in one transaction: a change that could not be
    // recorded is not made, and nothing is left half done.
    if ctx.identity_full.is_empty() {
        let p = create_planned_publication(ctx, false).await?;
        created.publication = true;
        Ok(p)
    } else {
        info!(database = %dbname, tables = ctx.identity_full.len(), "setting REPLICA IDENTITY FULL ({})", Setting::ReplicaIdentityFull);
        let publication = || format!("publication {}", quote_ident(&names.publication));
        let atomic = async {
            src.batch_execute("BEGIN")
                .await
                .map_err(|e| on_source(Error::from_pg(e), dbname))?;
            identity::set_full(src, ctx.identity_full)
                .await
                .map_err(|e| on_source(e, dbname))?;
            let p = create_planned_publication(ctx, true).await?;
            record::store(src, &names.publication, ctx.identity_full, None)
                .await
                .map_err(|e| {
                    on_source(e, dbname).with_object(publication()).context(
                        "could not record the tables set to REPLICA IDENTITY FULL in the publication's comment, which a later cut-over needs to put them back; nothing was altered",
                    )
                })?;
            src.batch_execute("COMMIT")
                .await
                .map_err(|e| on_source(Error::from_pg(e), dbname).with_object(publication()))?;
            Ok::<_, Error>(p)
        };
        match atomic.await {
            Ok(p) => {
                created.publication = true;
                created.identity = ctx.identity_full.to_vec();
                Ok(p)
            }
            Err(e) => {
                // Nothing of it stays (a failed COMMIT has rolled back already).
                let _ = src.batch_execute("ROLLBACK").await;
                Err(e)
            }
        }
    }
}

/// The slot (with an exported snapshot on a replication connection, or by function when the
/// source refuses one) and the caller's initial data. Returns the copy's summary, the path
/// taken and why a replication connection was refused.
async fn slot_and_initial_data<C, F>(
    ctx: &SetupCtx<'_>,
    created: &mut Created,
    initial_data: C,
) -> Result<(String, InitialDataPath, Option<String>)>
where
    C: FnOnce(InitialData) -> F,
    F: Future<Output = Result<String>>,
{
    let (source, src, dbname, names) = (ctx.source, ctx.src, ctx.dbname, ctx.names);
    let mut refused = ctx.plan.no_replication_connection.clone();
    let repl = match ctx.plan.slot {
        SlotCreation::ReplicationConnection => connect_replication(source, Some(dbname)).await,
        SlotCreation::Function => Err(Error::new(
            ErrorKind::Auth,
            refused.clone().unwrap_or_default(),
        )),
    };
    let (copy_summary, path) = match repl {
        Ok(mut repl) => {
            info!(database = %dbname, slot = %names.slot, "creating the slot with an exported snapshot");
            let slot = repl.create_logical_slot(&names.slot).await;
            let slot = match slot {
                Ok(s) => s,
                Err(e) => {
                    repl.close().await;
                    return Err(on_source(e, dbname)
                        .with_object(format!("replication slot {}", quote_ident(&names.slot))));
                }
            };
            created.slot = true;
            let summary = initial_data(InitialData::InSnapshot(slot.snapshot_name.clone())).await;
            // The snapshot is no longer needed: end the walsender session.
            repl.close().await;
            (
                summary.map_err(|e| e.with_database(dbname).with_step("initial data copy"))?,
                InitialDataPath::ExportedSnapshot,
            )
        }
        Err(e) if plan::refused_replication_connection(&e) => {
            let blockers = fallback::subscription_copy_blockers(src)
                .await
                .map_err(|e| on_source(e, dbname))?;
            if !blockers.is_empty() {
                return Err(fallback::refusal(&blockers, &e.to_string()));
            }
            warn!(database = %dbname, "no replication connection ({e}); creating the slot with pg_create_logical_replication_slot() and letting the subscription copy the data");
            refused = Some(e.to_string());
            objects::create_slot_sql(src, &names.slot)
                .await
                .map_err(|e| {
                    on_source(e, dbname)
                        .with_object(format!("replication slot {}", quote_ident(&names.slot)))
                })?;
            created.slot = true;
            let summary = initial_data(InitialData::PostDataOnly).await.map_err(|e| {
                e.with_database(dbname)
                    .with_phase(crate::error::Phase::PostData)
            })?;
            (summary, InitialDataPath::SubscriptionCopy)
        }
        Err(e) => return Err(on_source(e, dbname)),
    };
    Ok((copy_summary, path, refused))
}

/// The subscription (copying the data itself on the `SubscriptionCopy` path).
async fn subscribe(ctx: &SetupCtx<'_>, created: &mut Created, path: InitialDataPath) -> Result<()> {
    let (source, tgt, sub_via, dbname, names, opts) = (
        ctx.source,
        ctx.tgt,
        ctx.sub_via,
        ctx.dbname,
        ctx.names,
        ctx.opts,
    );
    let conninfo = subscription_conninfo(source, opts, dbname);
    let copy_data = path == InitialDataPath::SubscriptionCopy;
    info!(database = %dbname, subscription = %names.subscription, via = sub_via.describe(), copy_data, "creating the subscription");
    objects::create_subscription(tgt, names, &conninfo, copy_data, sub_via)
        .await
        .map_err(|e| {
            let e = on_target(e, dbname).with_object(format!("subscription {}", quote_ident(&names.subscription)));
            if e.kind() == ErrorKind::Connect || e.message().contains("could not connect to the publisher") {
                e.context("the target server cannot connect to the source (check the network path from the target to the source, the source's pg_hba.conf for the target's address, TLS settings, or pass the address the target should use)")
            } else {
                e
            }
        })?;
    created.subscription = true;

    Ok(())
}

/// Keeps the baseline with the publication, when it is not too large: a failure is only logged.
async fn keep_baseline(
    src: &Session,
    names: &ObjectNames,
    created: &Created,
    baseline: &Fingerprint,
) {
    // Keep the baseline with the publication so that a later cut-over run can compare (with
    // the tables set FULL, which stay recorded when the fingerprint is too large to keep).
    let comment = record::compose(&created.identity, Some(baseline));
    if comment.len() <= 4 << 20
        && let Err(e) =
            record::store(src, &names.publication, &created.identity, Some(baseline)).await
    {
        tracing::debug!("could not store the schema fingerprint: {e}");
    }
}

/// The set-up's warnings: the tables set FULL, the tables that cannot replicate UPDATE/DELETE.
async fn warnings(src: &Session, dbname: &str, created: &Created) -> Vec<crate::warning::Warning> {
    let mut warnings = Vec::new();
    if !created.identity.is_empty() {
        warnings.push(
            crate::warning::Warning::replication(identity::full_notice(&created.identity, true))
                .in_database(dbname),
        );
    }
    if let Ok(t) = super::identity::tables_without_identity(src, None).await
        && !t.is_empty()
    {
        warnings.push(
            crate::warning::Warning::replication(format!(
                "{} tables without primary key or replica identity cannot replicate UPDATE/DELETE: {}",
                t.len(),
                t.join(", ")
            ))
            .in_database(dbname),
        );
    }
    warnings
}

/// The conninfo the target server uses to reach the source database.
pub(super) fn subscription_conninfo(
    source: &ConnInfo,
    opts: &ReplicationOptions,
    dbname: &str,
) -> String {
    let base = opts.subscription_conninfo.as_ref().unwrap_or(source);
    let mut ci = base.with_dbname(dbname);
    if ci.password.is_none() {
        ci.password = ci.resolve_password();
    }
    ci.passfile = None;
    ci.other.remove("replication");
    if ci.connect_timeout.is_none() {
        ci.connect_timeout = Some(Duration::from_secs(10));
    }
    ci.to_libpq_string(true)
}

/// Waits until the subscription's worker streams from the slot (the slot is active).
pub(super) async fn wait_for_worker(
    src: &Session,
    tgt: &Session,
    dbname: &str,
    names: &ObjectNames,
    limit: Duration,
) -> Result<()> {
    let started = Instant::now();
    loop {
        let slot = objects::slot_state(src, &names.slot)
            .await
            .map_err(|e| on_source(e, dbname))?;
        if slot.as_ref().is_some_and(|s| s.active) {
            return Ok(());
        }
        if started.elapsed() >= limit {
            break;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // Gather what the target can tell without reading its log.
    let mut details = Vec::new();
    if let Ok(running) = state::apply_worker_running(tgt, &names.subscription).await {
        let running = running.unwrap_or(false);
        details.push(if running {
            "its apply worker is running but not streaming".to_string()
        } else {
            "its apply worker is not running (it keeps failing and restarting)".to_string()
        });
    }
    if let Ok(Some((apply, sync))) =
        state::subscription_error_counts(tgt, &names.subscription).await
    {
        details.push(format!("{apply} apply errors, {sync} sync errors so far"));
    }
    Err(Error::new(
        ErrorKind::Connect,
        format!(
            "the target's subscription {} did not start streaming from the source within {} s ({}); the target server's log says why (network path from the target to the source, pg_hba.conf on the source, TLS, or privileges)",
            quote_ident(&names.subscription),
            limit.as_secs(),
            details.join("; ")
        ),
    )
    .with_side(Side::Target)
    .with_database(dbname))
}

/// Drops what a failed setup created, then puts back the replica identities it set; returns
/// what could not be dropped or put back, and what was put back.
pub(super) async fn undo(
    src: &Session,
    tgt: &Session,
    tfacts: &TargetFacts,
    names: &ObjectNames,
    created: &Created,
) -> (Vec<String>, String) {
    let mut failed = Vec::new();
    if created.subscription
        && let Err(e) = objects::drop_subscription(tgt, &names.subscription, tfacts).await
    {
        failed.push(format!(
            "subscription {}: {e}",
            quote_ident(&names.subscription)
        ));
    }
    if created.publication
        && let Err(e) = objects::drop_publication(src, &names.publication).await
    {
        failed.push(format!(
            "publication {}: {e}",
            quote_ident(&names.publication)
        ));
    }
    if created.slot
        && let Err(e) = objects::drop_slot(src, &names.slot, Duration::from_secs(20)).await
    {
        failed.push(format!("slot {}: {e}", quote_ident(&names.slot)));
    }
    let mut restored = String::new();
    if !created.identity.is_empty() {
        if created.publication && failed.iter().any(|f| f.starts_with("publication ")) {
            // The publication is still there: putting them back would make the source's
            // UPDATE and DELETE fail; --cleanup does it from the recorded comment.
            failed.push(format!(
                "{} tables stay REPLICA IDENTITY FULL until {} drops the publication",
                created.identity.len(),
                Setting::Cleanup
            ));
        } else {
            match identity::restore(src, &created.identity).await {
                Ok(r) => {
                    failed.extend(r.failed.iter().cloned());
                    for w in &r.warnings {
                        warn!("{w}");
                    }
                    restored = r.describe();
                }
                Err(e) => failed.push(identity::not_restored(&created.identity, &e)),
            }
        }
    }
    (failed, restored)
}
