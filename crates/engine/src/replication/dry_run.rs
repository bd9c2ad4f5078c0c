//! `--cutover --validate`: what a fenced cut-over would do now, changing nothing: per database
//! that replicates, whether it would be refused (tables not ready, the lag, the fence's
//! privileges) and why, the lag and how fast it falls, the roles and sessions the fence would
//! affect, and the window estimated from the apply rate measured over a one-second sample.

use std::time::{Duration, Instant};

use super::{ReplicationOptions, fence, find_earlier_run, on_source, session};
use crate::conn::{ConnInfo, Session};
use crate::error::{Error, Phase, Result, Side};
use crate::pair::DbPair;
use crate::remedy::Setting;

/// How long the apply rate is measured.
pub const SAMPLE: Duration = Duration::from_secs(1);

/// What the fence, the barrier round trip and the switch cost besides applying the lag, as
/// measured on the test clusters (fence 0.01 to 0.06 s, barrier confirmation 0.2 to 0.5 s,
/// dropping the objects 0.03 s): the estimate's fixed part.
pub const FIXED_SECONDS: f64 = 0.5;

/// The dry run's result lives with the cut-over's other report types (`timeline`), which
/// the result holds without importing the stages that produce them.
pub use super::timeline::DryRun;

async fn confirmed_lsn(src: &Session, slot: &str) -> Option<String> {
    src.query_opt(
        "SELECT confirmed_flush_lsn::text FROM pg_catalog.pg_replication_slots
          WHERE slot_name = $1",
        &[&slot],
    )
    .await
    .ok()
    .flatten()
    .and_then(|r| r.get(0))
}

async fn lsn_diff(src: &Session, a: &str, b: &str) -> Option<f64> {
    src.query_one(
        "SELECT pg_catalog.pg_wal_lsn_diff($1::text::pg_lsn, $2::text::pg_lsn)::float8",
        &[&a, &b],
    )
    .await
    .ok()
    .map(|r| r.get(0))
}

/// The dry run of `pair`'s database; `None` when it does not replicate.
pub async fn dry_run(pair: &DbPair, opts: &ReplicationOptions) -> Result<Option<DryRun>> {
    let db = pair.source_db();
    let Some(run) = find_earlier_run(pair).await? else {
        return Ok(None);
    };
    let co = opts.cutover.clone().unwrap_or_default();
    let mut out = DryRun {
        database: db.to_owned(),
        ready: false,
        refusal: None,
        tables_total: 0,
        tables_not_ready: 0,
        lag_bytes: None,
        lag_falling_bytes_per_second: None,
        apply_bytes_per_second: None,
        fence_roles: Vec::new(),
        session_roles: Vec::new(),
        sessions: 0,
        estimated_window_seconds: None,
    };
    if run.is_whole() && !run.is_healthy() {
        out.refusal = Some(
            "the subscription is disabled (a schema change the target refused stopped the \
             replication, or by hand): apply the change on the target, then the cut-over \
             enables it again"
                .to_owned(),
        );
        return Ok(Some(out));
    }
    if !run.is_healthy() {
        out.refusal = Some(format!(
            "the replication objects are incomplete ({}): remove them with {}",
            run.describe(),
            Setting::Cleanup
        ));
        return Ok(Some(out));
    }
    let src = pair.open(Side::Source, Phase::Replication).await?;
    let tgt = pair.open(Side::Target, Phase::Replication).await?;
    let names = &run.names;
    let first = session::lag_status(&src, &tgt, db, names, Instant::now()).await?;
    let c1 = confirmed_lsn(&src, &names.slot).await;
    let t = Instant::now();
    tokio::time::sleep(SAMPLE).await;
    let st = session::lag_status(&src, &tgt, db, names, Instant::now()).await?;
    let c2 = confirmed_lsn(&src, &names.slot).await;
    let secs = t.elapsed().as_secs_f64();
    out.tables_total = st.tables_total;
    out.tables_not_ready = st.tables_not_ready;
    out.lag_bytes = st.lag_bytes;
    if let (Some(a), Some(b)) = (first.lag_bytes, st.lag_bytes) {
        out.lag_falling_bytes_per_second = Some((a - b) as f64 / secs);
    }
    if let (Some(a), Some(b)) = (&c1, &c2) {
        out.apply_bytes_per_second = lsn_diff(&src, b, a).await.map(|d| d / secs);
    }
    let mut excluded = vec![pair.source().user()];
    if let Some(ci) = &opts.subscription_conninfo {
        excluded.push(ci.user());
    }
    match fence::readiness(&src, db, &names.publication, &co, &excluded).await {
        Ok(plan) => {
            out.sessions = fence::fenced_pids(&src, db, &plan.session_roles)
                .await?
                .len();
            out.fence_roles = plan.roles;
            out.session_roles = plan.session_roles;
        }
        Err(e) => out.refusal = Some(e.message().to_owned()),
    }
    if out.refusal.is_none() && !st.in_sync(co.max_lag) {
        out.refusal = Some(if st.tables_not_ready > 0 {
            "tables are not yet ready in pg_subscription_rel (still being copied)".to_owned()
        } else if !st.slot_active {
            "the subscription's worker is not streaming from the slot".to_owned()
        } else {
            format!("the lag is above {}", Setting::CutoverMaxLag)
        });
    }
    out.ready = out.refusal.is_none();
    let lag = st.lag_bytes.unwrap_or(0).max(0) as f64;
    out.estimated_window_seconds = match out.apply_bytes_per_second {
        _ if lag == 0.0 => Some(FIXED_SECONDS),
        Some(rate) if rate > 0.0 => Some(lag / rate + FIXED_SECONDS),
        _ => None,
    };
    Ok(Some(out))
}

/// The dry run of every database of the source that replicates (`only` and `filtered` as
/// `--only-db` and `-f`).
pub async fn dry_run_all(
    source: &ConnInfo,
    target: &ConnInfo,
    only: &[String],
    filtered: &[String],
    opts: &ReplicationOptions,
) -> Result<Vec<DryRun>> {
    let s = crate::conn::connect(source, None).await?;
    let dbs: Vec<String> = s
        .query(
            "SELECT datname::text FROM pg_catalog.pg_database
              WHERE datallowconn AND NOT datistemplate ORDER BY 1",
            &[],
        )
        .await
        .map_err(|e| Error::from(e).with_side(Side::Source))?
        .iter()
        .map(|r| r.get(0))
        .collect();
    drop(s);
    let mut out = Vec::new();
    for db in dbs {
        if (!only.is_empty() && !only.contains(&db)) || filtered.contains(&db) {
            continue;
        }
        let pair = DbPair::new(source, target, &db, Default::default());
        match dry_run(&pair, opts).await {
            Ok(Some(d)) => out.push(d),
            Ok(None) => {}
            Err(e) => return Err(on_source(e, &db)),
        }
    }
    Ok(out)
}
