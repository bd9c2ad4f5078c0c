//! `--resume` of a run of the replication method that stopped during its initial copy (ledger
//! stage `data`, method `replication`).
//!
//! The interrupted run left its publication and slot on the source. The slot's consistent point
//! is the snapshot its copy read, and the ledger ([`crate::ledger`]) says which tables are fully
//! in. So [`resume_database`]:
//!
//! 1. empties on the target the tables that are not fully copied and hands them to the
//!    subscription in the ledger ([`crate::ledger::hand_to_subscription`], one transaction), then
//!    drops them from the publication (`ALTER PUBLICATION ... DROP TABLE`; the `FOR TABLE` form
//!    only);
//! 2. lets the caller create what the interrupted run had not (post-data objects, large
//!    objects, sequence values), copying no rows of those tables ([`ResumeData::Before`]);
//! 3. creates the subscription on the old slot, `create_slot = false`, `copy_data = false`,
//!    through the same privilege paths as a fresh run ([`objects::create_subscription`]): the
//!    tables copied earlier get exactly the changes after their snapshot;
//! 4. adds the other tables back to the publication and runs `ALTER SUBSCRIPTION ... REFRESH
//!    PUBLICATION WITH (copy_data = true)`: PostgreSQL's table synchronisation copies each one and
//!    hands it over to the apply worker with no row missed or doubled (until then the apply
//!    worker skips their changes, as for any table the subscription does not know or has not
//!    synchronised yet);
//! 5. waits until the subscription has copied them (`pg_subscription_rel` ready, bounded by
//!    `--replication-timeout`), then lets the caller create the post-data objects that wait for
//!    all tables ([`ResumeData::AfterSync`]: foreign keys, materialized-view refreshes), which
//!    the emptied tables could not satisfy before;
//! 6. goes on as an uninterrupted run: lag wait, cut-over (`wait.rs`).
//!
//! Refused before anything is written ([`check`], which preflight runs too): the slot or the
//! publication is gone (the changes since the snapshot are lost), or the publication is `FOR
//! ALL TABLES` while tables are not fully copied (a table cannot be dropped from it). A resume
//! interrupted after step 1 finds the handed-over tables in the ledger; one interrupted after
//! step 3 finds the subscription and continues with step 4 (nothing is emptied again).

use std::collections::BTreeSet;
use std::future::Future;

use tracing::info;

use super::objects::TargetFacts;
use super::wait::{Replicating, wait_and_stop};
use super::{
    Fingerprint, InitialDataPath, ObjectNames, Outcome, PathTaken, PublicationForm,
    ReplicationOptions, ReplicationOutcome, Via, objects, on_source, on_target, record, setup,
};
use crate::catalog::replication::publication;
use crate::conn::Session;
use crate::error::{Error, ErrorKind, Phase, Result, Side};
use crate::pair::DbPair;
use crate::remedy::{Remedy, Setting};
use crate::sql::{qualified, quote_ident};

/// A (schema, table) pair.
pub type TableName = (String, String);

/// What an interrupted run of the replication method left, as [`check`] found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interrupted {
    /// The names its objects have (plain or mangled, whichever exist).
    pub names: ObjectNames,
    /// The ledger's run id.
    pub run_id: String,
    /// The publication is `FOR ALL TABLES`.
    pub all_tables: bool,
    /// The tables the publication publishes now.
    pub published: BTreeSet<TableName>,
    /// Tables whose every part the ledger records copied.
    pub copied: BTreeSet<TableName>,
    /// Tables the subscription copies: published (or handed over by an earlier resume) and not
    /// fully copied.
    pub to_subscription: BTreeSet<TableName>,
}

/// What the caller's data step of a resume does ([`resume_database`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResumeData {
    /// Before the subscription exists: create what the interrupted run had not (post-data
    /// objects, large objects, sequence values), copying no rows of these tables, whose rows the
    /// subscription copies. When there are any, the post-data objects that wait for all tables
    /// (foreign keys, materialized-view refreshes) wait for [`ResumeData::AfterSync`].
    Before { to_subscription: Vec<TableName> },
    /// The subscription has copied these tables (never empty): create the post-data objects
    /// that wait for all tables.
    AfterSync { to_subscription: Vec<TableName> },
}

/// The refusal to continue: its message says how to start over (after removing the replication
/// objects left, when `msg` names them), kept as values too.
fn refused(dbname: &str, msg: String) -> Error {
    let mut e = Error::new(ErrorKind::Validation, msg.clone());
    if msg.contains(&Setting::Cleanup.to_string()) {
        e = e.with_remedy(Remedy::RemoveReplication);
    }
    e.with_remedy(Remedy::StartOver)
        .with_database(dbname)
        .with_phase(Phase::Replication)
}

/// Finds the interrupted run's publication and slot on the source (`src`, its database) and
/// what the target's ledger (`tgt`) says is copied; the error says why the run cannot be
/// continued and how to start over. Writes nothing.
pub async fn check(
    src: &Session,
    tgt: &Session,
    dbname: &str,
    mangle: bool,
) -> Result<Interrupted> {
    let mut found = None;
    for names in ObjectNames::candidates(dbname) {
        let publication = objects::publication_exists(src, &names.publication)
            .await
            .map_err(|e| on_source(e, dbname))?;
        let slot = objects::slot_state(src, &names.slot)
            .await
            .map_err(|e| on_source(e, dbname))?;
        if publication || slot.is_some() {
            found = Some((names, publication, slot));
            break;
        }
    }
    let (names, publication, slot) =
        found.unwrap_or_else(|| (ObjectNames::for_database(dbname, mangle), false, None));
    if let Some(why) = unusable(&names, publication, slot.as_ref(), dbname) {
        return Err(refused(dbname, why));
    }
    let pub_name = format!("publication {}", quote_ident(&names.publication));
    let all_tables = publication::publication_is_all_tables(src, &names.publication)
        .await
        .map_err(|e| on_source(e, dbname))?
        .unwrap_or(false);
    let published: BTreeSet<TableName> =
        publication::publication_table_names(src, &names.publication)
            .await
            .map_err(|e| on_source(e, dbname))?
            .into_iter()
            .collect();
    let ledger = crate::ledger::parts::read_copy_state(tgt)
        .await
        .map_err(|e| on_target(e, dbname))?;
    let handed = crate::ledger::subscription_tables(tgt)
        .await
        .map_err(|e| on_target(e, dbname))?;
    let copied: BTreeSet<TableName> = ledger
        .parts
        .iter()
        .filter(|(_, parts)| !parts.is_empty() && parts.iter().all(|p| p.copied))
        .map(|(k, _)| k.clone())
        .collect();
    let to_subscription: BTreeSet<TableName> = published
        .iter()
        .chain(handed.iter())
        .filter(|t| !copied.contains(*t))
        .cloned()
        .collect();
    if all_tables && !to_subscription.is_empty() {
        return Err(refused(
            dbname,
            format!(
                "the interrupted migration used the replication method with {pub_name} FOR ALL \
                 TABLES, and {} not fully copied ({}): a table cannot be dropped from a FOR ALL \
                 TABLES publication for the subscription to copy it, so {resume} cannot continue \
                 it; run with {cleanup} to remove its replication objects, then with {clean} to \
                 start over",
                if to_subscription.len() == 1 {
                    "1 table is".to_string()
                } else {
                    format!("{} tables are", to_subscription.len())
                },
                display(&to_subscription),
                resume = Setting::Resume,
                cleanup = Setting::Cleanup,
                clean = Setting::Clean,
            ),
        ));
    }
    Ok(Interrupted {
        names,
        run_id: ledger.run_id,
        all_tables,
        published,
        copied,
        to_subscription,
    })
}

/// Why an interrupted run's objects cannot be continued on (`publication`: it exists; `slot`:
/// the slot's state when it exists), with the commands that start over; `None` when they can.
fn unusable(
    names: &ObjectNames,
    publication: bool,
    slot: Option<&objects::SlotState>,
    dbname: &str,
) -> Option<String> {
    let slot_usable =
        slot.is_some_and(|s| s.logical_pgoutput && s.database.as_deref() == Some(dbname));
    if publication && slot_usable {
        return None;
    }
    let pub_name = format!("publication {}", quote_ident(&names.publication));
    let slot_name = format!("replication slot {}", quote_ident(&names.slot));
    let slot_text = match slot {
        Some(_) => format!("{slot_name} is not a pgoutput slot of database \"{dbname}\""),
        None => format!("{slot_name} is gone from the source"),
    };
    let (gone, left) = match (publication, slot.is_some()) {
        (false, false) => (format!("its {pub_name} and {slot_name} are gone"), None),
        (false, true) if slot_usable => (format!("its {pub_name} is gone"), Some(slot_name)),
        (false, true) => (
            format!("its {pub_name} is gone and {slot_text}"),
            Some(slot_name),
        ),
        (true, true) => (
            format!("its {slot_text}"),
            Some(format!("{pub_name} and {slot_name}")),
        ),
        (true, false) => (format!("its {slot_text}"), Some(pub_name)),
    };
    let way = match left {
        Some(left) => format!(
            "run with {} to remove the {left} that is left, then with {} to start \
             over (with {} dump for the dump method)",
            Setting::Cleanup,
            Setting::Clean,
            Setting::ForceMethod
        ),
        None => format!(
            "run with {} to start over (with {} dump for the dump method)",
            Setting::Clean,
            Setting::ForceMethod
        ),
    };
    Some(format!(
        "the interrupted migration used the replication method and {gone}, so {} cannot \
         continue it (the changes since its snapshot are not kept); {way}",
        Setting::Resume
    ))
}

fn display(tables: &BTreeSet<TableName>) -> String {
    tables
        .iter()
        .map(|(s, t)| qualified(s, t))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Continues the interrupted run of `pair`'s database (see the module docs). `initial_data`
/// creates what the interrupted run had not, in the two steps of [`ResumeData`].
pub async fn resume_database<C, F>(
    pair: &DbPair,
    opts: &ReplicationOptions,
    initial_data: C,
) -> Result<Outcome>
where
    C: Fn(ResumeData) -> F,
    F: Future<Output = Result<String>>,
{
    let dbname = pair.source_db();
    let src = pair.open(Side::Source, Phase::Replication).await?;
    let tgt = pair.open(Side::Target, Phase::Replication).await?;
    let servers = pair.servers(&src, &tgt).await?;
    let tfacts = TargetFacts::read(&tgt, &servers.target)
        .await
        .map_err(|e| on_target(e, dbname))?;
    let it = check(&src, &tgt, dbname, opts.mangle).await?;
    let names = &it.names;
    let (subscription, sub_via) = subscription_to_resume(&tgt, &tfacts, dbname, names).await?;
    let to_subscription: Vec<TableName> = it.to_subscription.iter().cloned().collect();
    info!(
        database = %dbname,
        publication = %names.publication,
        slot = %names.slot,
        copied = it.copied.len(),
        to_subscription = to_subscription.len(),
        "resuming the interrupted replication-method run on its slot"
    );
    let r = Resuming {
        pair,
        opts,
        src: &src,
        tgt: &tgt,
        tfacts: &tfacts,
        it: &it,
        sub_via,
        to_subscription: &to_subscription,
    };
    let copy_summary = if subscription.is_none() {
        hand_over_and_subscribe(&r, &initial_data).await?
    } else {
        "the subscription on the interrupted run's slot existed already".to_string()
    };
    setup::wait_for_worker(&src, &tgt, dbname, names, opts.worker_start_timeout).await?;

    let published = publish_the_rest(&r, &initial_data).await?;

    let baseline = keep_baseline(&src, dbname, names).await?;

    let (form, message) = resumed_message(&r, published, &copy_summary);
    let mut outcome = ReplicationOutcome::running(
        names.clone(),
        PathTaken {
            publication: None,
            publication_form: Some(form),
            published_tables: published,
            slot: None,
            subscription: Some(sub_via),
            initial_data: InitialDataPath::Resumed,
            replication_connection_refused: None,
        },
        message,
        Vec::new(),
    );
    if opts.lag_to_wait_for().is_some() {
        wait_and_stop(
            Replicating {
                pair,
                src: &src,
                tgt: &tgt,
                tfacts: &tfacts,
                dbname,
                opts,
            },
            Some(baseline),
            &mut outcome,
        )
        .await?;
    }
    Ok(Outcome::Replicated(outcome))
}

/// The subscription an earlier resume may have created (it must use the interrupted run's
/// slot), and how a subscription can be created on the target.
async fn subscription_to_resume(
    tgt: &Session,
    tfacts: &TargetFacts,
    dbname: &str,
    names: &ObjectNames,
) -> Result<(Option<objects::SubState>, Via)> {
    let sub_object = || format!("subscription {}", quote_ident(&names.subscription));
    let subscription = objects::subscription_state(tgt, &names.subscription, tfacts)
        .await
        .map_err(|e| on_target(e, dbname))?;
    if let Some(s) = &subscription
        && s.slot_name.as_deref() != Some(names.slot.as_str())
    {
        return Err(refused(
            dbname,
            format!(
                "{} on the target does not use the interrupted run's replication slot {}; run \
                 with {} to remove the replication objects, then with {} to start over",
                sub_object(),
                quote_ident(&names.slot),
                Setting::Cleanup,
                Setting::Clean
            ),
        ));
    }
    let sub_via = tfacts.subscription_via().map_err(|why| {
        refused(
            dbname,
            format!("the subscription cannot be created on the target: {why}"),
        )
    })?;
    Ok((subscription, sub_via))
}

/// What the steps of a resume work with.
struct Resuming<'a> {
    pair: &'a DbPair,
    opts: &'a ReplicationOptions,
    src: &'a Session,
    tgt: &'a Session,
    tfacts: &'a TargetFacts,
    it: &'a Interrupted,
    sub_via: Via,
    /// The tables the subscription copies (not fully copied by the interrupted run).
    to_subscription: &'a [TableName],
}

/// Steps 1 to 3: the tables the subscription copies handed to it, what the interrupted run had
/// not created, the subscription on the old slot. Returns the summary of what was created.
async fn hand_over_and_subscribe<C, F>(r: &Resuming<'_>, initial_data: &C) -> Result<String>
where
    C: Fn(ResumeData) -> F,
    F: Future<Output = Result<String>>,
{
    let (pair, opts, src, tgt, it, sub_via) = (r.pair, r.opts, r.src, r.tgt, r.it, r.sub_via);
    let (dbname, names, to_subscription) = (pair.source_db(), &it.names, r.to_subscription);
    let sub_object = || format!("subscription {}", quote_ident(&names.subscription));
    let pub_object = || format!("publication {}", quote_ident(&names.publication));
    // 1. The tables the subscription copies: emptied and recorded first, so that a later
    // resume knows them even once they are out of the publication.
    crate::ledger::hand_to_subscription(tgt, &it.run_id, to_subscription)
        .await
        .map_err(|e| on_target(e, dbname))?;
    let drop: Vec<String> = to_subscription
        .iter()
        .filter(|t| it.published.contains(*t))
        .map(|(s, t)| qualified(s, t))
        .collect();
    if !drop.is_empty() {
        objects::drop_tables_from_publication(src, &names.publication, &drop)
            .await
            .map_err(|e| on_source(e, dbname).with_object(pub_object()))?;
    }
    // 2. What the interrupted run had not created.
    let summary = initial_data(ResumeData::Before {
        to_subscription: to_subscription.to_vec(),
    })
    .await
    .map_err(|e| e.with_database(dbname).with_step("initial data copy"))?;
    // 3. The subscription on the old slot.
    let conninfo = setup::subscription_conninfo(pair.source(), opts, dbname);
    info!(database = %dbname, subscription = %names.subscription, via = sub_via.describe(), "creating the subscription on the interrupted run's slot");
    objects::create_subscription(tgt, names, &conninfo, false, sub_via)
        .await
        .map_err(|e| on_target(e, dbname).with_object(sub_object()))?;
    Ok(summary)
}

/// Steps 4 and 5: the other tables back into the publication, copied by the subscription, then
/// what waits for all tables. Returns how many tables the publication lists.
async fn publish_the_rest<C, F>(r: &Resuming<'_>, initial_data: &C) -> Result<usize>
where
    C: Fn(ResumeData) -> F,
    F: Future<Output = Result<String>>,
{
    let (opts, src, tgt, names) = (r.opts, r.src, r.tgt, &r.it.names);
    let (dbname, to_subscription) = (r.pair.source_db(), r.to_subscription);
    let sub_object = || format!("subscription {}", quote_ident(&names.subscription));
    let pub_object = || format!("publication {}", quote_ident(&names.publication));
    // 4. The other tables back into the publication; the subscription copies them.
    let now: BTreeSet<TableName> = publication::publication_table_names(src, &names.publication)
        .await
        .map_err(|e| on_source(e, dbname))?
        .into_iter()
        .collect();
    let add: Vec<String> = to_subscription
        .iter()
        .filter(|t| !now.contains(*t))
        .map(|(s, t)| qualified(s, t))
        .collect();
    objects::add_tables_to_publication(src, &names.publication, &add)
        .await
        .map_err(|e| on_source(e, dbname).with_object(pub_object()))?;
    if !to_subscription.is_empty() {
        info!(database = %dbname, tables = to_subscription.len(), "the subscription copies the tables the interrupted run had not");
        objects::refresh_subscription(tgt, &names.subscription, r.tfacts)
            .await
            .map_err(|e| on_target(e, dbname).with_object(sub_object()))?;
        // 5. Once they are in, what waits for all tables.
        wait_for_sync(tgt, dbname, names, opts).await?;
        initial_data(ResumeData::AfterSync {
            to_subscription: to_subscription.to_vec(),
        })
        .await
        .map_err(|e| {
            e.with_database(dbname)
                .with_step("post-data after the subscription's copy")
        })?;
    }
    Ok(now.len() + add.len())
}

/// The schema the replication is based on from now on, kept with the publication as a fresh
/// run keeps it (with the tables --replica-identity-full set, which the comment records).
async fn keep_baseline(src: &Session, dbname: &str, names: &ObjectNames) -> Result<Fingerprint> {
    let baseline = Fingerprint::read(src)
        .await
        .map_err(|e| on_source(e, dbname))?;
    match record::stored_changes(src, &names.publication).await {
        Ok(identity) if record::compose(&identity, Some(&baseline)).len() <= 4 << 20 => {
            if let Err(e) = record::store(src, &names.publication, &identity, Some(&baseline)).await
            {
                tracing::debug!("could not store the schema fingerprint: {e}");
            }
        }
        Ok(_) => {}
        Err(e) => tracing::debug!("could not read the publication's comment: {e}"),
    }
    Ok(baseline)
}

/// The publication's form and the resumed run's message.
fn resumed_message(
    r: &Resuming<'_>,
    published: usize,
    copy_summary: &str,
) -> (PublicationForm, String) {
    let (it, sub_via, to_subscription) = (r.it, r.sub_via, r.to_subscription);
    let names = &it.names;
    let form = if it.all_tables {
        PublicationForm::AllTables
    } else {
        PublicationForm::TableList
    };
    let form_text = match form {
        PublicationForm::AllTables => "FOR ALL TABLES".to_string(),
        PublicationForm::TableList => format!("FOR TABLE ({published} tables)"),
    };
    let tables = |n: usize| {
        if n == 1 {
            "1 table".to_string()
        } else {
            format!("{n} tables")
        }
    };
    let synced = if to_subscription.is_empty() {
        String::new()
    } else {
        format!(
            "; copied by the subscription's table synchronisation: {} ({})",
            tables(to_subscription.len()),
            display(&it.to_subscription)
        )
    };
    let message = format!(
        "logical replication running: resumed the interrupted run on its publication {} \
         ({form_text}) and slot {}, subscription via {}: the slot carries the changes since that \
         run's snapshot to the {} it had copied{synced}; {copy_summary}",
        quote_ident(&names.publication),
        quote_ident(&names.slot),
        sub_via.describe(),
        tables(it.copied.len()),
    );
    (form, message)
}

/// Waits until every table of the subscription is synchronised (`pg_subscription_rel` state
/// ready), bounded by `--replication-timeout`; the error says that `--resume` goes on waiting.
async fn wait_for_sync(
    tgt: &Session,
    dbname: &str,
    names: &ObjectNames,
    opts: &ReplicationOptions,
) -> Result<()> {
    let started = std::time::Instant::now();
    let mut last_log = started;
    loop {
        let rel = crate::catalog::replication::state::subscription_tables(tgt, &names.subscription)
            .await
            .map_err(|e| on_target(e, dbname))?;
        if rel.not_ready == 0 {
            return Ok(());
        }
        if started.elapsed() >= opts.replication_timeout {
            return Err(Error::new(
                ErrorKind::Timeout,
                format!(
                    "the subscription {} has not copied {} of its {} tables within \
                     {} ({} s); the replication objects are kept: run with \
                     {} again to go on waiting",
                    quote_ident(&names.subscription),
                    rel.not_ready,
                    rel.total,
                    Setting::ReplicationTimeout,
                    opts.replication_timeout.as_secs(),
                    Setting::Resume
                ),
            )
            .with_side(Side::Target)
            .with_database(dbname));
        }
        if last_log.elapsed() >= std::time::Duration::from_secs(10) {
            last_log = std::time::Instant::now();
            info!(database = %dbname, "the subscription copies tables: {}/{} ready", rel.total - rel.not_ready, rel.total);
        }
        tokio::time::sleep(
            opts.poll_interval
                .min(std::time::Duration::from_millis(500)),
        )
        .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(pgoutput: bool, db: &str) -> objects::SlotState {
        objects::SlotState {
            logical_pgoutput: pgoutput,
            database: Some(db.into()),
            active: false,
        }
    }

    #[test]
    fn gone_or_unusable_objects_are_named_with_the_way_on() {
        let n = ObjectNames::for_database("app", false);
        assert_eq!(unusable(&n, true, Some(&slot(true, "app")), "app"), None);
        let both = unusable(&n, false, None, "app").unwrap();
        assert!(
            both.contains("its publication \"aiven_db_migrate_app_pub\" and replication slot \"aiven_db_migrate_app_slot\" are gone"),
            "{both}"
        );
        assert!(
            both.contains("; run with `clean` to start over (with `force_method` dump"),
            "{both}"
        );
        assert!(!both.contains("`cleanup`"), "{both}");
        let no_slot = unusable(&n, true, None, "app").unwrap();
        assert!(
            no_slot.contains("slot \"aiven_db_migrate_app_slot\" is gone from the source"),
            "{no_slot}"
        );
        assert!(
            no_slot.contains("`cleanup` to remove the publication \"aiven_db_migrate_app_pub\" that is left, then with `clean`"),
            "{no_slot}"
        );
        let no_pub = unusable(&n, false, Some(&slot(true, "app")), "app").unwrap();
        assert!(
            no_pub.contains("its publication \"aiven_db_migrate_app_pub\" is gone,"),
            "{no_pub}"
        );
        assert!(
            no_pub.contains("`cleanup` to remove the replication slot"),
            "{no_pub}"
        );
        let foreign = unusable(&n, true, Some(&slot(true, "other")), "app").unwrap();
        assert!(
            foreign.contains("is not a pgoutput slot of database \"app\""),
            "{foreign}"
        );
        assert!(
            foreign.contains("`cleanup` to remove the publication \"aiven_db_migrate_app_pub\" and replication slot"),
            "{foreign}"
        );
    }
}
