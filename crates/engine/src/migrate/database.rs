//! One database's schema and data, by the method preflight chose: the schema read and
//! filtered, pre-data, the copy or the replication hand-off, post-data, verification, and the
//! message its report line carries.

use super::*;

/// What a database's contents share with the run's other databases.
pub(super) struct RunShare<'a> {
    pub memberships: &'a tokio::sync::Mutex<Memberships>,
    pub budget: &'a super::budget::Budget,
}

impl PgMigrate {
    /// `planned_dump`: preflight sent this database to the dump method, and why (see
    /// [`crate::preflight::method`]); the run follows that decision.
    pub(super) async fn schema_and_data(
        &self,
        pair: &DbPair,
        run: &crate::ledger::RunRecord,
        entry: &mut DatabaseResult,
        warnings: &mut Vec<Warning>,
        shared: RunShare<'_>,
        plan: DbPlan<'_>,
    ) -> Result<String> {
        let RunShare {
            memberships,
            budget,
        } = shared;
        let DbPlan {
            selection,
            planned_dump,
            schema: rehearsed,
        } = plan;
        let name = pair.source_db();
        let opts = &self.opts;
        // A resumed run whose schema was complete continues with the data; the ledger keeps
        // what is in already.
        let resuming = run.stage >= crate::ledger::Stage::Data;
        // A run of the replication method interrupted during its copy continues on its own
        // slot and publication (replication::resume), which are no earlier run's to refuse.
        let resume_replication = resuming
            && run.stage == crate::ledger::Stage::Data
            && run.method.as_deref() == Some("replication");
        let mut copy_opts = opts.copy.clone();
        copy_opts.ledger = true;
        copy_opts.sessions = Some(budget.copy.clone());
        // What the selection flags leave in: the copy and the publication see only that.
        if !selection.everything {
            copy_opts.selection = Some(std::sync::Arc::new(selection.clone()));
        }
        // An earlier run's replication objects: cut them over when asked to, else refuse to
        // touch this database (the error names the objects and the commands that handle them).
        // Tables the cut-over creates on the target keep --no-owner / --no-acl.
        // The publication lists exactly the selected tables whose rows move.
        let repl_opts = replication::ReplicationOptions {
            schema: opts.schema,
            tables: selection.data_tables().map(<[_]>::to_vec),
            verify: opts
                .verify
                .after_copy
                .then(|| crate::verify::Settings::of(opts)),
            statistics: opts.copy.statistics,
            ..opts.replication.clone()
        };
        if !resume_replication
            && let Some(o) = replication::check_earlier_run(pair, &repl_opts).await?
        {
            entry.method = Some(Method::Replication);
            entry.status = o.status;
            entry.cutover = o.cutover;
            entry.schema_changes = o.schema_changes;
            warnings.extend(o.warnings);
            replication::cut_over_failure(
                o.status,
                &o.message,
                o.refusal.as_ref(),
                pair.source_db(),
            )?;
            if o.status == DbStatus::Done {
                crate::recovery::mark_done(&opts.target, name, warnings).await;
            }
            let mut message = o.message;
            self.verify_replicated(pair, o.verify, entry, &mut message, warnings)
                .await?;
            return Ok(message);
        }
        let started = std::time::Instant::now();
        // Read by the rehearsal in preflight, moments ago, or now.
        let schema = match rehearsed {
            Some(s) => s,
            None => {
                let source = pair.open(Side::Source, Phase::ReadingSchema).await?;
                let mut schema = read_schema(&source)
                    .await
                    .map_err(pair.tag(Side::Source, Phase::ReadingSchema))?;
                let filter_warnings =
                    filter_schema(&mut schema, selection, &opts.excluded_extensions);
                crate::preflight::FilteredSchema {
                    schema,
                    filter_warnings,
                }
            }
        };
        warnings.extend(schema.filter_warnings);
        let mut schema = schema.schema;
        // Until the copy reports its own: should the database fail before, its tables are
        // listed as not started (a resumed run's copy knows which are in already).
        if !resuming {
            entry.tables = crate::recovery::tables_not_started(&schema, selection);
        }
        info!(
            database = %name,
            objects = schema.objects.len(),
            seconds = format!("{:.2}", started.elapsed().as_secs_f64()),
            "schema read"
        );
        warnings.extend(schema.warnings.iter().cloned());
        let target = pair.open(Side::Target, Phase::PreData).await?;
        exec::prepare_session(&target).await?;
        // Before the facts are read: they list the roles the migration user may act as.
        memberships
            .lock()
            .await
            .take(
                &target,
                schema.objects.iter().flat_map(|o| o.acting_roles()),
            )
            .await;
        let mut facts = ExecState::read(&target).await?;
        facts.keep_going = opts.keep_going;
        if !resuming {
            crate::recovery::start_ledger(&target, run, &schema).await?;
        } else {
            crate::ledger::upgrade(&target).await?;
        }
        let phase = |e: crate::Error, p| pair.tag(Side::Target, p)(e);
        // Extra sessions let independent objects be created concurrently. The target may have
        // fewer free connection slots than asked for (small managed plans, a role's CONNECTION
        // LIMIT): the schema is then created on the sessions it did accept, with a warning.
        // Drawn from the run's pool: databases in flight together share --schema-jobs.
        // A small schema is created on fewer sessions than asked for: each costs a connection
        // (a server process and its authentication), more than its share of the work saves.
        let useful = schema
            .objects
            .len()
            .div_ceil(OBJECTS_PER_SCHEMA_SESSION)
            .max(1);
        let schema_permits = budget
            .schema_sessions(opts.ddl_sessions().min(useful))
            .await;
        // The database's own target session is the first: one more connection saved.
        let wanted = schema_permits.count().saturating_sub(1);
        let mut extra = Vec::new();
        while extra.len() < wanted {
            let s = match pair.open(Side::Target, Phase::PreData).await {
                Ok(s) => s,
                Err(e) if e.sqlstate() == Some(&crate::error::SqlState::TOO_MANY_CONNECTIONS) => {
                    warnings.push(Warning::capacity(format!(
                        "schema objects are created on {} target sessions instead of {}: {}",
                        extra.len() + 1,
                        wanted + 1,
                        e.message()
                    )));
                    break;
                }
                Err(e) => return Err(e),
            };
            exec::prepare_session(&s).await?;
            extra.push(s);
        }
        let sessions: Vec<&crate::conn::Session> =
            std::iter::once(&target).chain(extra.iter()).collect();
        let started = std::time::Instant::now();
        let mut report = if resuming {
            info!(database = %name, "resuming: the pre-data schema was created by the earlier run");
            // Except what it could not create (--keep-going): those objects come now.
            let missing = crate::ledger::read_not_created(&target).await?;
            let objects: Vec<_> = schema
                .section_with_levels(Section::PreData)
                .into_iter()
                .filter(|(o, _)| missing.contains(&o.describe()))
                .collect();
            if objects.is_empty() {
                exec::ExecReport::default()
            } else {
                info!(
                    database = %name,
                    objects = objects.len(),
                    "resuming: creating the pre-data objects the earlier run did not"
                );
                let r = until_cancelled(
                    &opts.cancel,
                    exec::apply_parallel(&sessions, &objects, opts.schema, &facts),
                )
                .await
                .map_err(|e| phase(e, Phase::PreData))?;
                crate::ledger::record_not_created(&target, &not_created(&schema, &facts)).await?;
                r
            }
        } else {
            let r = until_cancelled(
                &opts.cancel,
                exec::apply_parallel(
                    &sessions,
                    &schema.section_with_levels(Section::PreData),
                    opts.schema,
                    &facts,
                ),
            )
            .await
            .map_err(|e| phase(e, Phase::PreData))?;
            if !facts.refused.is_empty() {
                crate::ledger::record_not_created(&target, &not_created(&schema, &facts)).await?;
            }
            let so_far = [&warnings[..], &r.warnings[..]].concat();
            crate::ledger::set_stage(&target, crate::ledger::Stage::Data, None, Some(&so_far))
                .await?;
            info!(
                database = %name,
                seconds = format!("{:.2}", started.elapsed().as_secs_f64()),
                "pre-data schema created"
            );
            r
        };
        // What the target's CREATE EXTENSION made is not created again.
        let (provided, uncarried) = crate::schema::extensions::drop_provided(&target, &mut schema)
            .await
            .map_err(|e| phase(e, Phase::PreData))?;
        warnings.extend(uncarried);
        if provided > 0 {
            info!(database = %name, objects = provided, "left to CREATE EXTENSION");
        }
        entry.schema_objects = Some(schema.objects.len());
        // Tables and sequences not created (--keep-going) are not copied.
        let absent: std::collections::BTreeSet<(String, String)> = schema
            .objects
            .iter()
            .filter(|o| {
                o.id.classid == crate::schema::model::class::PG_CLASS
                    && facts.skipped.contains(&o.id)
            })
            .filter_map(|o| Some((o.schema.clone()?, o.name.clone())))
            .collect();
        if !absent.is_empty() {
            let mut without = copy_opts
                .selection
                .as_deref()
                .cloned()
                .unwrap_or_else(|| DbSelection::everything(name));
            without.everything = false;
            without.no_data.extend(absent);
            copy_opts.selection = Some(std::sync::Arc::new(without));
        }
        // Tables whose rows' COPY plans a generated column or CHECK that needs a search_path.
        copy_opts.search_paths = copy_search_paths(&schema);

        let copy_report: std::sync::Mutex<Option<CopyReport>> = std::sync::Mutex::new(None);
        let mut post_data_owners_lost = 0;
        let table_states = std::sync::Mutex::new(Vec::new());
        let mut summary = format!("schema migrated ({} objects)", schema.objects.len());
        if let Some(s) = selection.summary() {
            summary.push_str("; ");
            summary.push_str(&s);
        }
        if opts.schema_only {
            let started = std::time::Instant::now();
            report.merge(
                until_cancelled(
                    &opts.cancel,
                    exec::apply_parallel(
                        &sessions,
                        &schema.section_with_levels(Section::PostData),
                        opts.schema,
                        &facts,
                    ),
                )
                .await
                .map_err(|e| phase(e, Phase::PostData))?,
            );
            info!(
                database = %name,
                seconds = format!("{:.2}", started.elapsed().as_secs_f64()),
                "post-data schema created"
            );
            summary.push_str("; data not copied (--schema-only)");
        } else {
            drop(sessions);
            drop(extra);
            drop(schema_permits);
            let plan = post_data_plan(&schema, opts.schema, &facts, &mut report);
            let mut fallback = None;
            // A selection whose tables all keep their rows out leaves nothing to publish.
            let nothing_to_publish = repl_opts.tables.as_ref().is_some_and(|t| t.is_empty());
            if !facts.refused.is_empty() && opts.force_method == Some(Method::Replication) {
                return Err(crate::Error::config(
                    "objects the target refused were skipped (--keep-going), which the \
                     replication method cannot leave out of its publication, and the \
                     replication method is forced (--repl-only / --force-method replication)",
                ));
            }
            if nothing_to_publish && opts.force_method == Some(Method::Replication) {
                return Err(crate::Error::config(
                    "no selected table has rows to replicate, and the replication method is \
                     forced (--repl-only / --force-method replication)",
                ));
            }
            if !facts.refused.is_empty() && opts.force_method.is_none() && !resume_replication {
                // A publication of all tables would name tables the target does not have.
                fallback = Some("objects were not created (--keep-going)".to_string());
            } else if resuming
                && run.method.as_deref() == Some("dump")
                && opts.force_method.is_none()
            {
                // The earlier run's tables came from the dump method's snapshot: the rest
                // follows it (a run with --keep-going that skipped objects used the dump method).
                fallback = Some("the earlier run used the dump method".to_string());
            } else if nothing_to_publish && opts.force_method.is_none() {
                fallback = Some("no selected table has rows to replicate".to_string());
            } else if let Some(reason) = planned_dump.filter(|_| !resume_replication) {
                // Preflight's decision for the whole run (replication capacity across its
                // databases, a standby source...); an interrupted replication goes on instead.
                fallback = Some(reason.to_owned());
            } else if opts.force_method != Some(Method::Dump) {
                entry.method = Some(Method::Replication);
                // Waits for a wave with room (see migrate::budget): the replication ends with
                // the cut-over in this run, and gives the room back then.
                let _room = match &budget.replication {
                    Some(pool) => Some(pool.clone().acquire_owned().await.expect("never closed")),
                    None => None,
                };
                crate::ledger::set_stage(
                    &target,
                    crate::ledger::Stage::Data,
                    Some("replication"),
                    Some(&[&warnings[..], &report.warnings[..]].concat()),
                )
                .await?;
                crate::interrupt::replication_started(
                    name,
                    crate::recovery::describe_replication_objects(name, opts.replication.mangle),
                );
                let outcome = if resume_replication {
                    // The tables the subscription copies keep their rows out of the copy,
                    // which creates what the interrupted run had not (post-data, large
                    // objects, sequences); what waits for all tables (foreign keys...) waits
                    // for the subscription's copy of them.
                    replication::resume_database(pair, &repl_opts, |step| async {
                        use replication::resume::ResumeData;
                        let mut post_data = plan.clone();
                        let (to_subscription, after_sync) = match step {
                            ResumeData::Before { to_subscription } => {
                                if !to_subscription.is_empty() {
                                    post_data.rest.clear();
                                }
                                (to_subscription, false)
                            }
                            ResumeData::AfterSync { to_subscription } => {
                                post_data.by_table.clear();
                                (to_subscription, true)
                            }
                        };
                        let mut selection = copy_opts
                            .selection
                            .as_deref()
                            .cloned()
                            .unwrap_or_else(|| DbSelection::everything(name));
                        selection.everything = false;
                        selection.no_data.extend(to_subscription);
                        let copy_opts = crate::copy::CopyOptions {
                            selection: Some(std::sync::Arc::new(selection)),
                            earlier_changes_replicated: true,
                            ..copy_opts.clone()
                        };
                        let outcome =
                            copy_database_with_states(pair, &copy_opts, None, post_data).await;
                        if after_sync {
                            let copied = outcome.result?;
                            if let Some(r) = copy_report.lock().expect("not poisoned").as_mut() {
                                r.warnings.extend(copied.warnings);
                            }
                            return Ok(String::new());
                        }
                        *table_states.lock().expect("not poisoned") = outcome.tables;
                        let copied = outcome.result?;
                        let text = copy_summary(&copied);
                        *copy_report.lock().expect("not poisoned") = Some(copied);
                        Ok(text)
                    })
                    .await
                } else {
                    replication::migrate_database(
                        pair,
                        &repl_opts,
                        replication::RunFacts::of(opts),
                        |data| async {
                            match data {
                                InitialData::InSnapshot(snapshot) => {
                                    let outcome = copy_database_with_states(
                                        pair,
                                        &copy_opts,
                                        Some(&snapshot),
                                        plan.clone(),
                                    )
                                    .await;
                                    *table_states.lock().expect("not poisoned") = outcome.tables;
                                    let copied = outcome.result?;
                                    let text = copy_summary(&copied);
                                    *copy_report.lock().expect("not poisoned") = Some(copied);
                                    Ok(text)
                                }
                                InitialData::PostDataOnly => {
                                    exec::apply(&target, schema.post_data(), opts.schema, &facts)
                                        .await
                                        .map_err(|e| phase(e, Phase::PostData))?;
                                    Ok("post-data built; the subscription copies the data".into())
                                }
                            }
                        },
                    )
                    .await
                };
                crate::interrupt::replication_done(name);
                // The copy's table states, when it ran (else the tables stay not started).
                let states = std::mem::take(&mut *table_states.lock().expect("not poisoned"));
                if !states.is_empty() {
                    entry.tables = states;
                }
                let outcome = outcome?;
                match outcome {
                    Outcome::Replicated(o) => {
                        // A subscription the migration user owns applies changes with the
                        // table owners' privileges: their memberships stay while it runs.
                        if o.status == DbStatus::Running
                            && !matches!(
                                o.path.subscription,
                                Some(replication::Via::AivenExtras | replication::Via::Superuser)
                            )
                        {
                            memberships.lock().await.keep("the subscription is owned by the migration user and applies changes as the table owners");
                        }
                        entry.status = o.status;
                        entry.cutover = o.cutover;
                        entry.schema_changes = o.schema_changes;
                        warnings.extend(o.warnings);
                        replication::cut_over_failure(
                            o.status,
                            &o.message,
                            o.refusal.as_ref(),
                            pair.source_db(),
                        )?;
                        summary.push_str("; ");
                        summary.push_str(&o.message);
                        self.verify_replicated(pair, o.verify, entry, &mut summary, warnings)
                            .await?;
                    }
                    Outcome::FallBackToDump { reason } => {
                        info!(database = %name, "replication not possible, using the dump method: {reason}");
                        fallback = Some(reason);
                    }
                }
            }
            if opts.force_method == Some(Method::Dump) || fallback.is_some() {
                entry.method = Some(Method::Dump);
                if let Some(reason) = &fallback {
                    summary.push_str(&format!(
                        "; replication not possible ({reason}), used the dump method"
                    ));
                }
                // With --verify, the snapshot the copy reads is held open until the target
                // has been compared with it.
                let held = match opts.verify.after_copy {
                    true => Some(crate::verify::SnapshotHolder::export(pair).await?),
                    false => None,
                };
                crate::ledger::set_stage(
                    &target,
                    crate::ledger::Stage::Data,
                    Some("dump"),
                    Some(&[&warnings[..], &report.warnings[..]].concat()),
                )
                .await?;
                let outcome = copy_database_with_states(
                    pair,
                    &copy_opts,
                    held.as_ref().map(|h| h.id()),
                    plan,
                )
                .await;
                // Kept until the database is done: a later failure (post-data) lists them.
                entry.tables = outcome.tables;
                let copied = outcome.result?;
                summary.push_str("; ");
                summary.push_str(&copy_summary(&copied));
                *copy_report.lock().expect("not poisoned") = Some(copied);
                if let Some(held) = held {
                    let v = self.verify_after_copy(pair, Some(held.id())).await;
                    held.release().await;
                    let v = v?;
                    summary.push_str("; ");
                    summary.push_str(&v.summary());
                    entry.verify = Some(v);
                }
            }
            if let Some(copied) = copy_report.lock().expect("not poisoned").take() {
                // Post-data owners the target refused (see PostDataJob::refusable) count with
                // the schema stage's.
                post_data_owners_lost = copied
                    .warnings
                    .iter()
                    .filter(|w| w.kind == crate::warning::WarningKind::Ownership)
                    .count();
                warnings.extend(copied.warnings.iter().cloned());
                entry.data = Some(copied);
            }
        }
        // The ledger records the database done (removed when the whole run is, see
        // recovery::finish_ledgers); a replication left running keeps it until cut-over. The
        // schema session may have been lost to a target restart that the copy healed by
        // retrying: the ledger is then written on a new one.
        let target = if target.is_closed() {
            pair.open(Side::Target, Phase::PostData).await?
        } else {
            target
        };
        let replication = entry.method == Some(Method::Replication);
        let so_far = [&warnings[..], &report.warnings[..]].concat();
        if replication && entry.status == DbStatus::Running {
            crate::ledger::set_stage(
                &target,
                crate::ledger::Stage::Replicating,
                None,
                Some(&so_far),
            )
            .await?;
        } else if !(replication && entry.status == DbStatus::Failed) && facts.refused.is_empty() {
            crate::ledger::set_stage(&target, crate::ledger::Stage::Done, None, Some(&so_far))
                .await?;
        }
        // --keep-going: the database is not done while objects are missing; --resume creates
        // them (the ledger lists the pre-data ones, post-data ones are not recorded created).
        let failed = facts.refused.with_dependents(&facts.skipped);
        if !failed.is_empty() {
            let dependents: usize = failed.iter().map(|f| f.skipped_dependents.len()).sum();
            summary.push_str(&format!(
                "; {} objects the target refused were not created (--keep-going), nor {} \
                 objects depending on them: {}; fix the cause and run again with --resume",
                failed.len(),
                dependents,
                failed
                    .iter()
                    .map(|f| f.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            entry.objects_failed = failed;
        }
        if report.owners_not_kept + post_data_owners_lost > 0 {
            summary.push_str(&format!(
                "; {} objects could not keep their owner and are owned by the migration user",
                report.owners_not_kept + post_data_owners_lost
            ));
            warnings.extend(crate::owners::lost_owner_warnings(
                &report.owners_lost,
                Some(&*memberships.lock().await),
                opts.schema.no_owner,
            ));
        }
        if !facts.skipped.is_empty() {
            summary.push_str(&format!(
                "; {} objects not created (see the warnings)",
                facts.skipped.len()
            ));
        }
        if !report.warnings.is_empty() {
            summary.push_str(&format!("; {} schema warnings", report.warnings.len()));
        }
        warnings.extend(report.warnings);
        warnings.extend(subscriptions_left_disabled(&target, &schema, opts.schema).await?);
        Ok(summary)
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
        summary: &mut String,
        warnings: &mut Vec<Warning>,
    ) -> Result<()> {
        if !self.opts.verify.after_copy {
            return Ok(());
        }
        if entry.status != DbStatus::Done {
            warnings.push(Warning::verify(
                "--verify: not verified while replication is running; verify at the cut-over \
                 (--max-replication-lag 0 --stop-replication --verify) or with --verify-only",
            ));
            return Ok(());
        }
        // Every cut-over with --verify compares; a database done otherwise is compared now.
        let v = match verified {
            Some(v) => v,
            None => self.verify_after_copy(pair, None).await?,
        };
        summary.push_str("; ");
        summary.push_str(&v.summary());
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

/// Schema objects worth one more schema session (see `schema_and_data`): below this, the
/// connection costs more than the parallel creation saves (measured on a tenant database of
/// 77 objects with `scripts/bench-databases`).
const OBJECTS_PER_SCHEMA_SESSION: usize = 200;

/// Splits the post-data objects into what the data engine runs right after a table is loaded
/// (indexes, constraints, triggers... of that table) and what waits for all tables (foreign
/// keys, materialized-view refreshes, attachments), keeping the dependency order in both.
fn post_data_plan(
    schema: &Schema,
    opts: SchemaOptions,
    facts: &ExecState,
    report: &mut exec::ExecReport,
) -> PostDataPlan {
    let tables: HashMap<u32, (String, String)> = schema
        .objects
        .iter()
        .filter(|o| matches!(o.kind, ObjectKind::Table | ObjectKind::MaterializedView))
        .map(|o| {
            (
                o.id.objid,
                (o.schema.clone().unwrap_or_default(), o.name.clone()),
            )
        })
        .collect();
    let post_data: HashMap<crate::schema::model::ObjId, String> = schema
        .objects
        .iter()
        .filter(|o| o.section == Section::PostData)
        .map(|o| (o.id, o.describe()))
        .collect();
    let mut plan = PostDataPlan::default();
    for o in schema
        .objects
        .iter()
        .filter(|o| o.section == Section::PostData)
    {
        // Objects depending on one skipped in pre-data are skipped with it (with a warning).
        let Some((statements, refusable)) = exec::post_data_statements(o, opts, facts, report)
        else {
            continue;
        };
        let job = PostDataJob {
            describe: o.describe(),
            statements,
            refusable,
            refusals: facts.keep_going.then(|| facts.refused.clone()),
            depends_on: o
                .depends_on
                .iter()
                .filter_map(|d| post_data.get(d).cloned())
                .collect(),
            skip: exec::SkipRule::of(o),
            conceal: exec::conceals(o.kind),
        };
        match o.table.and_then(|t| tables.get(&t)) {
            Some(key) => plan.by_table.entry(key.clone()).or_default().push(job),
            None => plan.rest.push(job),
        }
    }
    plan
}

/// The warning about the source's subscriptions this run created, disabled (see
/// [`crate::schema::subscriptions`]): those the target has, disabled, whichever stage created
/// them; none when the target refused them all (each refusal has its own warning).
async fn subscriptions_left_disabled(
    target: &crate::conn::Session,
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

/// The pre-data objects of `schema` that were not created (refused with `--keep-going`, or
/// skipped with one that was), by description, for the ledger.
fn not_created(schema: &Schema, facts: &ExecState) -> Vec<String> {
    schema
        .objects
        .iter()
        .filter(|o| o.section == Section::PreData && facts.skipped.contains(&o.id))
        .map(|o| o.describe())
        .collect()
}

/// One line about what the data copy did.
fn copy_summary(c: &CopyReport) -> String {
    format!(
        "data copied ({} tables, {} rows, {}, {} sequences, {} large objects in {:.1} s; {})",
        c.tables.len(),
        c.rows,
        indicatif::HumanBytes(c.bytes),
        c.sequences,
        c.large_objects,
        c.seconds,
        c.statistics.summary()
    )
}

/// The tables whose COPY needs a search_path, with it: a table created with one (generated
/// columns) or with a pre-data part of its own created with one (a CHECK constraint), see
/// `crate::schema::search_paths`.
fn copy_search_paths(
    schema: &crate::schema::Schema,
) -> std::collections::HashMap<(String, String), String> {
    use crate::schema::model::{Section, class};
    let tables: std::collections::HashMap<u32, (String, String)> = schema
        .objects
        .iter()
        .filter(|o| o.id.classid == class::PG_CLASS && o.section == Section::PreData)
        .filter_map(|o| Some((o.id.objid, (o.schema.clone()?, o.name.clone()))))
        .collect();
    schema
        .objects
        .iter()
        .filter(|o| o.section == Section::PreData)
        .filter_map(|o| {
            let path = o.search_path.clone()?;
            let table = if o.id.classid == class::PG_CLASS {
                o.id.objid
            } else {
                o.table?
            };
            Some((tables.get(&table)?.clone(), path))
        })
        .collect()
}
