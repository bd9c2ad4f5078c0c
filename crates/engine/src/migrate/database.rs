//! One database's schema and data, by the method preflight chose: the stages of
//! [`super::stages`] in their order (the schema read and filtered, pre-data, the copy or the
//! replication hand-off, post-data, verification, the message its report line carries), and
//! the `--verify` of a database whose data is in.

use super::stages::data::{self, Created};
use super::stages::message::Message;
use super::stages::{DataOptions, Db, RunShare, earlier_run, finish, schema as schema_stage};
use super::*;
use crate::remedy::{Remedy, Setting};

impl PgMigrate {
    /// `planned_dump`: preflight sent this database to the dump method, and why (see
    /// [`crate::preflight::method`]); the run follows that decision. Each stage hands the next
    /// what it needs; `entry` and `warnings` hold what was done should a stage fail.
    pub(super) async fn schema_and_data(
        &self,
        pair: &DbPair,
        run: &crate::ledger::RunRecord,
        entry: &mut DatabaseResult,
        warnings: &mut Vec<Warning>,
        shared: RunShare<'_>,
        plan: DbPlan<'_>,
    ) -> Result<String> {
        let DbPlan {
            selection,
            planned_dump,
            schema: rehearsed,
        } = plan;
        let db = Db::new(self, pair, run, selection, planned_dump, shared);
        let settings = DataOptions::of(&db);
        if !db.resume_replication
            && let Some(message) =
                earlier_run::cut_over(&db, &settings.replication, entry, warnings).await?
        {
            return Ok(message);
        }
        let mut schema = schema_stage::read(&db, rehearsed, entry, warnings).await?;
        let (target, facts) = schema_stage::open_target(&db, &schema).await?;
        let ddl = schema_stage::ddl_sessions(&db, schema.objects.len(), warnings).await?;
        let sessions = ddl.with(&target);
        let mut report =
            schema_stage::pre_data(&db, &target, &sessions, &schema, &facts, &warnings[..]).await?;
        schema_stage::leave_to_extensions(&db, &target, &mut schema, warnings).await?;
        entry.schema_objects = Some(schema.objects.len());
        let settings = DataOptions {
            copy: schema_stage::copy_scope(settings.copy, &schema, &facts, db.name()),
            ..settings
        };
        let mut message = Message::schema_migrated(schema.objects.len(), selection);
        let mut post_data_owners_lost = 0;
        if self.opts.schema_only {
            report.merge(schema_stage::post_data_now(&db, &sessions, &schema, &facts).await?);
            message.push(format!("data not copied ({})", Setting::SchemaOnly));
        } else {
            drop(sessions);
            drop(ddl);
            let plan = schema_stage::post_data_plan(&schema, self.opts.schema, &facts, &mut report);
            let made = Created {
                target: &target,
                schema: &schema,
                facts: &facts,
                report: &report,
            };
            let copied =
                data::move_data(&db, &made, &settings, plan, entry, warnings, &mut message).await?;
            if let Some(copied) = copied {
                post_data_owners_lost = data::hand_in(copied, entry, warnings);
            }
        }
        let target = finish::record_end(&db, target, entry, &facts, &report, &warnings[..]).await?;
        finish::outcome(
            &db,
            &facts,
            &report,
            post_data_owners_lost,
            entry,
            warnings,
            &mut message,
        )
        .await;
        warnings.extend(report.warnings);
        warnings
            .extend(finish::subscriptions_left_disabled(&target, &schema, self.opts.schema).await?);
        Ok(message.into_text())
    }

    /// `--verify` for a database of the replication method: the comparison the cut-over made
    /// (`verified`: once the lag reached 0, before the subscription was dropped, differences
    /// compared again after catching up once more; see `replication::verify`); while
    /// replication still runs, a warning says how to verify later.
    pub(super) async fn verify_replicated(
        &self,
        pair: &DbPair,
        verified: Option<crate::verify::VerifyReport>,
        entry: &mut DatabaseResult,
        summary: &mut Message,
        warnings: &mut Vec<Warning>,
    ) -> Result<()> {
        if !self.opts.verify.after_copy {
            return Ok(());
        }
        if entry.status != DbStatus::Done {
            warnings.push(
                Warning::verify(format!(
                    "{}: not verified while replication is running; verify at the cut-over \
                     ({} 0 {} {}) or with {}",
                    Setting::Verify,
                    Setting::MaxReplicationLag,
                    Setting::StopReplication,
                    Setting::Verify,
                    Setting::VerifyOnly
                ))
                .with_remedy(Remedy::CutOver)
                .with_remedy(Remedy::VerifyOnly),
            );
            return Ok(());
        }
        // Every cut-over with --verify compares; a database done otherwise is compared now.
        let v = match verified {
            Some(v) => v,
            None => self.verify_after_copy(pair, None).await?,
        };
        summary.push(v.summary());
        entry.verify = Some(v);
        Ok(())
    }

    /// `--verify` for one database whose data is in: compares the target with the source as of
    /// `snapshot` (the copy's), or as of now.
    pub(super) async fn verify_after_copy(
        &self,
        pair: &DbPair,
        snapshot: Option<&str>,
    ) -> Result<crate::verify::VerifyReport> {
        crate::verify::VerifyJob {
            source_snapshot: snapshot,
            ..crate::verify::VerifyJob::new(pair, &crate::verify::Settings::of(&self.opts))
        }
        .run()
        .await
    }
}
