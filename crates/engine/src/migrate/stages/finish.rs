//! The last stage of one database: the ledger's record of how it ended, and what its report
//! says of objects that were not created or could not keep their owner.

use crate::conn::Session;
use crate::error::{Phase, Result, Side};
use crate::report::{DatabaseResult, DbStatus, Method};
use crate::schema::model::ObjectKind;
use crate::schema::{ExecState, Schema, SchemaOptions, exec};
use crate::warning::Warning;

use super::Db;
use super::message::{self, Message};

/// The ledger records the database done (removed when the whole run is, see
/// recovery::finish_ledgers); a replication left running keeps it until cut-over. The schema
/// session may have been lost to a target restart that the copy healed by retrying: the ledger
/// is then written on a new one, which this hands on.
pub(in crate::migrate) async fn record_end(
    db: &Db<'_>,
    target: Session,
    entry: &DatabaseResult,
    facts: &ExecState,
    report: &exec::ExecReport,
    warnings: &[Warning],
) -> Result<Session> {
    let target = if target.is_closed() {
        db.pair.open(Side::Target, Phase::PostData).await?
    } else {
        target
    };
    let replication = entry.method == Some(Method::Replication);
    let so_far = [warnings, &report.warnings[..]].concat();
    if replication && entry.status == DbStatus::Running {
        crate::ledger::set_stage(
            &target,
            crate::ledger::Stage::Replicating,
            None,
            Some(&so_far),
        )
        .await?;
    } else if !(replication && entry.status == DbStatus::Failed) && facts.refused.is_empty() {
        crate::ledger::set_stage(&target, crate::ledger::Stage::Done, None, Some(&so_far)).await?;
    }
    Ok(target)
}

/// What the report line and the entry say of the objects not created and the owners not kept:
/// --keep-going leaves the database not done while objects are missing (--resume creates them;
/// the ledger lists the pre-data ones, post-data ones are not recorded created); objects the
/// migration user owns get their warnings (`post_data_owners_lost` count with the schema
/// stage's); then the count of skipped objects and schema warnings.
pub(in crate::migrate) async fn outcome(
    db: &Db<'_>,
    facts: &ExecState,
    report: &exec::ExecReport,
    post_data_owners_lost: usize,
    entry: &mut DatabaseResult,
    warnings: &mut Vec<Warning>,
    message: &mut Message,
) {
    let failed = facts.refused.with_dependents(&facts.skipped);
    if !failed.is_empty() {
        message.push(message::refused(&failed));
        entry.objects_failed = failed;
    }
    if report.owners_not_kept + post_data_owners_lost > 0 {
        message.push(message::owners_lost(
            report.owners_not_kept + post_data_owners_lost,
        ));
        warnings.extend(crate::owners::lost_owner_warnings(
            &report.owners_lost,
            Some(&*db.memberships.lock().await),
            db.opts().schema.no_owner,
        ));
    }
    if !facts.skipped.is_empty() {
        message.push(message::not_created(facts.skipped.len()));
    }
    if !report.warnings.is_empty() {
        message.push(message::schema_warnings(report.warnings.len()));
    }
}

/// The warning about the source's subscriptions this run created, disabled (see
/// [`crate::schema::subscriptions`]): those the target has, disabled, whichever stage created
/// them; none when the target refused them all (each refusal has its own warning).
pub(in crate::migrate) async fn subscriptions_left_disabled(
    target: &Session,
    schema: &Schema,
    opts: SchemaOptions,
) -> crate::Result<Option<crate::warning::Warning>> {
    let ours: Vec<&str> = schema
        .objects
        .iter()
        .filter(|o| o.kind == ObjectKind::Subscription)
        .map(|o| o.name.as_str())
        .collect();
    if ours.is_empty() || opts.no_subscriptions {
        return Ok(None);
    }
    let disabled: Vec<String> = crate::catalog::subscriptions::disabled_subscriptions(target)
        .await
        .map_err(|e| e.with_side(Side::Target))?
        .into_iter()
        .filter(|n| ours.contains(&n.as_str()))
        .collect();
    Ok((!disabled.is_empty()).then(|| crate::schema::subscriptions::disabled_warning(&disabled)))
}
