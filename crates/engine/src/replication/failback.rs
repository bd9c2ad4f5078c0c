//! `--cutover --fail-back-ready`: the fenced cut-over ends with reverse replication from the
//! target (the new server) to the source (the old one), so that the old server receives every
//! write made on the new one and an application can go back to it.
//!
//! Set up at the barrier, before the forward objects are dropped: the source is fenced and the
//! target has applied everything up to the barrier, so nothing is written on either side. On
//! the target: a publication `FOR TABLE` the tables the forward publication listed, then a
//! logical slot (its consistent point is the start of the reverse stream: every write on the
//! target from then on). On the source: a subscription on that slot with `copy_data = false`
//! (and `origin = none` on PostgreSQL 16+, where it can be set, so that nothing applied from
//! elsewhere goes round again), through the source's own privilege path (superuser,
//! `aiven_extras`, `pg_create_subscription`). The source's write fence does not stop the
//! apply worker (it does not take the database's `default_transaction_read_only`; tried on
//! 15): the old server stays read-only for the applications but stays current.
//!
//! When any of it fails, what was created is dropped and the cut-over is aborted like any
//! failure after the fence (the fence lifted, the forward replication running). `--cleanup`
//! removes the reverse objects ([`cleanup`]). The switch back is [`fail_back`] (`--fail-back`):
//! the same fenced cut-over in the reverse direction.

use std::time::Duration;

use super::objects::{self, TargetFacts};
use super::{ObjectNames, ReplicationOptions, on_source, on_target};
use crate::conn::Session;
use crate::error::{Phase, Result, Side};
use crate::pair::DbPair;
use crate::remedy::Setting;
use crate::sql::quote_ident;

/// `--cleanup` of the reverse objects of `db`: the subscription on the source, then the
/// publication and the slot on the target. Returns what was dropped and what could not be.
pub(super) async fn cleanup(
    pair: &DbPair,
    src: &Session,
    tgt: &Session,
) -> Result<(Vec<String>, Vec<String>)> {
    let db = pair.source_db();
    let names = ObjectNames::fail_back(db);
    let (mut dropped, mut failed) = (Vec::new(), Vec::new());
    let servers = pair.servers(src, tgt).await?;
    let subscriber = TargetFacts::read(src, &servers.source)
        .await
        .map_err(|e| on_source(e, db))?;
    if objects::subscription_state(src, &names.subscription, &subscriber)
        .await
        .map_err(|e| on_source(e, db))?
        .is_some()
    {
        let what = format!(
            "fail-back subscription {} on the source",
            quote_ident(&names.subscription)
        );
        match objects::drop_subscription(src, &names.subscription, &subscriber).await {
            Ok(()) => dropped.push(what),
            Err(e) => failed.push(format!("{what}: {e}")),
        }
    }
    if objects::publication_exists(tgt, &names.publication)
        .await
        .map_err(|e| on_target(e, db))?
    {
        let what = format!(
            "fail-back publication {} on the target",
            quote_ident(&names.publication)
        );
        match objects::drop_publication(tgt, &names.publication).await {
            Ok(()) => dropped.push(what),
            Err(e) => failed.push(format!("{what}: {e}")),
        }
    }
    if objects::slot_state(tgt, &names.slot)
        .await
        .map_err(|e| on_target(e, db))?
        .is_some()
    {
        let what = format!(
            "fail-back replication slot {} on the target",
            quote_ident(&names.slot)
        );
        match objects::drop_slot(tgt, &names.slot, Duration::from_secs(30)).await {
            Ok(()) => dropped.push(what),
            Err(e) => failed.push(format!("{what}: {e}")),
        }
    }
    Ok((dropped, failed))
}

/// `--fail-back`: the fenced cut-over in the reverse direction, for a database whose
/// `--fail-back-ready` replication runs: the target's writes fenced (recorded in the target
/// database's comment, lifted by `--unfence`), the barrier on the target, sequences from the
/// target to the source, `--verify`, the reverse objects dropped; then the source's own fence
/// (the forward cut-over's) is lifted, so the applications can write there again. `None`:
/// the database has no reverse replication.
pub async fn fail_back(
    pair: &DbPair,
    opts: &ReplicationOptions,
) -> Result<Option<super::ReplicationOutcome>> {
    let db = pair.source_db();
    let names = ObjectNames::fail_back(db);
    let src = pair.open(Side::Source, Phase::Replication).await?;
    let tgt = pair.open(Side::Target, Phase::Replication).await?;
    for s in [&src, &tgt] {
        s.batch_execute("SET default_transaction_read_only = off")
            .await
            .map_err(|e| crate::Error::from(e).with_database(db))?;
    }
    let servers = pair.servers(&src, &tgt).await?;
    let subscriber = TargetFacts::read(&src, &servers.source)
        .await
        .map_err(|e| on_source(e, db))?;
    if objects::subscription_state(&src, &names.subscription, &subscriber)
        .await
        .map_err(|e| on_source(e, db))?
        .is_none()
    {
        return Ok(None);
    }
    // A subscription made by a --fail-back-ready a moment ago may not stream yet.
    super::setup::wait_for_worker(&tgt, &src, db, &names, opts.worker_start_timeout).await?;
    // The reverse direction: the target publishes, the source subscribes.
    let reverse = DbPair::new(
        pair.target(),
        pair.source(),
        pair.target_db(),
        pair.cancel().clone(),
    )
    .into_target_db(db);
    let mut co = opts.cutover.clone().unwrap_or_default();
    co.fail_back_ready = false;
    let ropts = ReplicationOptions {
        cutover: Some(co),
        ..opts.clone()
    };
    let mut outcome = super::ReplicationOutcome::running(
        names,
        super::PathTaken {
            publication: None,
            publication_form: None,
            published_tables: 0,
            slot: None,
            subscription: None,
            initial_data: super::InitialDataPath::EarlierRun,
            replication_connection_refused: None,
        },
        "fail-back to the source".to_owned(),
        Vec::new(),
    );
    let c = super::cutover::CutOver {
        pair: &reverse,
        opts: &ropts,
        src: &tgt,
        tgt: &src,
        tfacts: &subscriber,
        dbname: db,
        deadline: std::time::Instant::now() + opts.replication_timeout,
        drift_note: "",
    };
    super::cutover::cut_over(&c, &mut outcome).await?;
    if let Some(r) = &mut outcome.cutover {
        r.reverse = true;
    }
    // The forward cut-over's words, for the reverse direction.
    outcome.message = outcome
        .message
        .replace("the source's writes fenced", "the target's writes fenced")
        .replace(
            "the target is writable and the source stays fenced",
            "the target stays fenced",
        );
    if outcome.status == crate::report::DbStatus::Done {
        // The applications come back to the source: its fence (the forward cut-over's) goes.
        let comment: Option<String> = src
            .query_one(
                "SELECT pg_catalog.shobj_description(d.oid, 'pg_database')
                   FROM pg_catalog.pg_database d WHERE d.datname = $1",
                &[&db],
            )
            .await
            .map_err(|e| on_source(e, db))?
            .get(0);
        let note = match super::fence::parse_record(comment.as_deref()) {
            Some(record) => match super::fence::lift(&src, db, &record).await {
                Ok(done) => format!("the source's fence lifted ({done}): the source is writable"),
                Err(e) => format!(
                    "the source's fence could NOT be lifted ({e}): run {}",
                    Setting::Unfence
                ),
            },
            None => "the source held no fence record".to_owned(),
        };
        outcome.message = format!("{}; {note}", outcome.message);
    }
    Ok(Some(outcome))
}

/// [`fail_back`] for every database of the source with reverse replication (`only` and
/// `filtered` as `--only-db` and `-f`).
pub async fn fail_back_all(
    source: &crate::conn::ConnInfo,
    target: &crate::conn::ConnInfo,
    only: &[String],
    filtered: &[String],
    opts: &ReplicationOptions,
    cancel: tokio_util::sync::CancellationToken,
) -> Result<Vec<(String, Result<super::ReplicationOutcome>)>> {
    let s = crate::conn::connect(source, None).await?;
    let dbs: Vec<String> = s
        .query(
            "SELECT datname::text FROM pg_catalog.pg_database
              WHERE datallowconn AND NOT datistemplate ORDER BY 1",
            &[],
        )
        .await
        .map_err(|e| crate::Error::from(e).with_side(Side::Source))?
        .iter()
        .map(|r| r.get(0))
        .collect();
    drop(s);
    let mut out = Vec::new();
    for db in dbs {
        if (!only.is_empty() && !only.contains(&db)) || filtered.contains(&db) {
            continue;
        }
        let pair = DbPair::new(source, target, &db, cancel.clone());
        match fail_back(&pair, opts).await {
            Ok(Some(o)) => out.push((db, Ok(o))),
            Ok(None) => {}
            Err(e) => out.push((db, Err(e))),
        }
    }
    Ok(out)
}
