//! `--fail-back-ready`'s reverse replication, set up by the fenced cut-over at the barrier (see
//! [`super::failback`] for the whole story): its readiness before the fence ([`check`]), the
//! forward publication's tables ([`published_tables`]) and the set-up ([`set_up`]). Apart from
//! the fail-back itself, which runs a cut-over: the cut-over reaches down here, never back up.

use std::time::Duration;

use super::objects::{self, SourceFacts, TargetFacts, Via};
use super::{ObjectNames, ReplicationOptions, on_source, on_target};
use crate::conn::Session;
use crate::error::Result;
use crate::pair::DbPair;
use crate::remedy::{Remedy, Setting};
use crate::sql::quote_ident;

/// Sets up the reverse replication of `pair`'s database: `src` and `tgt` are the forward
/// direction's sessions (both writable), `tables` what the forward publication lists.
/// Returns a description for the timeline.
pub(super) async fn set_up(
    pair: &DbPair,
    src: &Session,
    tgt: &Session,
    tables: &[(String, String)],
) -> Result<String> {
    let db = pair.source_db();
    let names = ObjectNames::fail_back(db);
    let servers = pair.servers(src, tgt).await?;
    let publisher = SourceFacts::read(tgt, &servers.target)
        .await
        .map_err(|e| on_target(e, db))?;
    let subscriber = TargetFacts::read(src, &servers.source)
        .await
        .map_err(|e| on_source(e, db))?;
    let sub_via = subscriber.subscription_via().map_err(|why| {
        on_source(
            objects::invalid(format!(
                "{} needs a subscription on the source: {why}",
                Setting::FailBackReady
            )),
            db,
        )
    })?;
    let mut created = (false, false, false);
    let r = async {
        objects::create_publication(
            tgt,
            &names.publication,
            Some(tables),
            publisher.publication_via(false),
        )
        .await
        .map_err(|e| on_target(e, db))?;
        created.0 = true;
        objects::create_slot_sql(tgt, &names.slot)
            .await
            .map_err(|e| on_target(e, db))?;
        created.1 = true;
        let conninfo = super::setup::subscription_conninfo(
            pair.target(),
            &ReplicationOptions::default(),
            pair.target_db(),
        );
        objects::create_subscription(src, &names, &conninfo, false, sub_via)
            .await
            .map_err(|e| on_source(e, db))?;
        created.2 = true;
        let mut origin = "";
        if src.server_version_num() >= 160000 && sub_via != Via::AivenExtras {
            src.batch_execute(&format!(
                "ALTER SUBSCRIPTION {} SET (origin = none)",
                quote_ident(&names.subscription)
            ))
            .await
            .map_err(|e| on_source(e, db))?;
            origin = ", origin = none";
        }
        Ok::<_, crate::Error>(format!(
            "publication {} and slot {} on the target, subscription {} on the source (copy_data = false{origin}, via {}): writes on the target reach the source",
            quote_ident(&names.publication),
            quote_ident(&names.slot),
            quote_ident(&names.subscription),
            sub_via.describe()
        ))
    }
    .await;
    if r.is_err() {
        if created.2 {
            let _ = objects::drop_subscription(src, &names.subscription, &subscriber).await;
        }
        if created.1
            && objects::slot_state(tgt, &names.slot)
                .await
                .ok()
                .flatten()
                .is_some()
        {
            let _ = objects::drop_slot(tgt, &names.slot, Duration::from_secs(10)).await;
        }
        if created.0 {
            let _ = objects::drop_publication(tgt, &names.publication).await;
        }
    }
    r.map_err(|e| {
        e.context(format!(
            "the reverse replication ({}) could not be set up",
            Setting::FailBackReady
        ))
    })
}

/// Readiness of `--fail-back-ready`, before the fence (nothing changed): the source user can
/// subscribe on the source, and the target user can create a slot on the target.
pub(super) async fn check(pair: &DbPair, src: &Session, tgt: &Session) -> Result<()> {
    let db = pair.source_db();
    let servers = pair.servers(src, tgt).await?;
    let subscriber = TargetFacts::read(src, &servers.source)
        .await
        .map_err(|e| on_source(e, db))?;
    let publisher = SourceFacts::read(tgt, &servers.target)
        .await
        .map_err(|e| on_target(e, db))?;
    let mut why = Vec::new();
    if let Err(w) = subscriber.subscription_via() {
        why.push(format!("on the source: {w}"));
    }
    if !publisher.may_replicate() {
        why.push(
            "on the target: the target user may not create a replication slot (it needs the \
             REPLICATION attribute, a provider admin role or superuser)"
                .to_owned(),
        );
    }
    if why.is_empty() {
        return Ok(());
    }
    Err(crate::Error::new(
        crate::error::ErrorKind::Validation,
        format!(
            "cut-over refused, nothing was changed (replication keeps running): \
             {ready} needs the reverse replication, and {}; drop {ready} or \
             grant what is missing",
            why.join("; "),
            ready = Setting::FailBackReady,
        ),
    )
    .with_remedy(Remedy::Drop {
        setting: Setting::FailBackReady,
    })
    .with_database(db))
}

/// The tables `publication` lists on the source, as `(schema, table)`.
pub(super) async fn published_tables(
    src: &Session,
    publication: &str,
) -> Result<Vec<(String, String)>> {
    Ok(src
        .query(
            "SELECT schemaname::text, tablename::text FROM pg_catalog.pg_publication_tables
              WHERE pubname = $1 ORDER BY 1, 2",
            &[&publication],
        )
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect())
}
