//! The schema stages of one database: the schema read (or taken from preflight) and filtered,
//! the target session with the ledger started, the sessions the DDL runs on, pre-data, what the
//! target's `CREATE EXTENSION` provided, and what the data stage needs from the schema (the
//! copy's scope and the post-data plan).

use std::collections::HashMap;

use tracing::info;

use crate::conn::Session;
use crate::copy::{CopyOptions, PostDataJob, PostDataPlan};
use crate::error::{Phase, Result, Side};
use crate::report::DatabaseResult;
use crate::schema::model::{ObjectKind, Section};
use crate::schema::{ExecState, Schema, SchemaOptions, exec, read_schema};
use crate::selection::{DbSelection, filter_schema};
use crate::warning::Warning;

use super::super::budget::SchemaPermits;
use super::super::until_cancelled;
use super::Db;

/// Schema objects worth one more schema session (see [`ddl_sessions`]): below this, the
/// connection costs more than the parallel creation saves (measured on a tenant database of
/// 77 objects with `scripts/bench-databases`).
const OBJECTS_PER_SCHEMA_SESSION: usize = 200;

/// The source's schema of this database, filtered by the selection: read by the rehearsal in
/// preflight, moments ago, or now. Hands on the schema; its filter's and its own warnings join
/// the run's, and on a fresh run the entry lists its tables as not started until the copy
/// reports its own (should the database fail before; a resumed run's copy knows which are in
/// already).
pub(in crate::migrate) async fn read(
    db: &Db<'_>,
    rehearsed: Option<crate::preflight::FilteredSchema>,
    entry: &mut DatabaseResult,
    warnings: &mut Vec<Warning>,
) -> Result<Schema> {
    let (pair, selection) = (db.pair, db.selection);
    let started = std::time::Instant::now();
    let schema = match rehearsed {
        Some(s) => s,
        None => {
            let source = pair.open(Side::Source, Phase::ReadingSchema).await?;
            let mut schema = read_schema(&source)
                .await
                .map_err(pair.tag(Side::Source, Phase::ReadingSchema))?;
            let filter_warnings =
                filter_schema(&mut schema, selection, &db.opts().excluded_extensions);
            crate::preflight::FilteredSchema {
                schema,
                filter_warnings,
            }
        }
    };
    warnings.extend(schema.filter_warnings);
    let schema = schema.schema;
    if !db.resuming {
        entry.tables = crate::recovery::tables_not_started(&schema, selection);
    }
    info!(
        database = %db.name(),
        objects = schema.objects.len(),
        seconds = format!("{:.2}", started.elapsed().as_secs_f64()),
        "schema read"
    );
    warnings.extend(schema.warnings.iter().cloned());
    Ok(schema)
}

/// The database's target session, which creates the schema and writes the ledger: the roles
/// the schema's objects act as are taken (before the facts are read: they list the roles the
/// migration user may act as), the facts read, and the ledger started (resuming: brought up to
/// date). Hands on the session and the facts.
pub(in crate::migrate) async fn open_target(
    db: &Db<'_>,
    schema: &Schema,
) -> Result<(Session, ExecState)> {
    let target = db.pair.open(Side::Target, Phase::PreData).await?;
    exec::prepare_session(&target).await?;
    db.memberships
        .lock()
        .await
        .take(
            &target,
            schema.objects.iter().flat_map(|o| o.acting_roles()),
        )
        .await;
    let mut facts = ExecState::read(&target).await?;
    facts.keep_going = db.opts().keep_going;
    if !db.resuming {
        crate::recovery::start_ledger(&target, db.run, schema).await?;
    } else {
        crate::ledger::upgrade(&target).await?;
    }
    Ok((target, facts))
}

/// The target sessions beyond the database's own that the DDL runs on, with their permits from
/// the run's pool; both are given back when this is dropped (the sessions first).
pub(in crate::migrate) struct DdlSessions {
    extra: Vec<Session>,
    _permits: SchemaPermits,
}

impl DdlSessions {
    /// All the sessions the DDL runs on, the database's own first.
    pub fn with<'s>(&'s self, target: &'s Session) -> Vec<&'s Session> {
        std::iter::once(target).chain(self.extra.iter()).collect()
    }
}

/// Extra sessions let independent objects be created concurrently. The target may have fewer
/// free connection slots than asked for (small managed plans, a role's CONNECTION LIMIT): the
/// schema is then created on the sessions it did accept, with a warning. Drawn from the run's
/// pool: databases in flight together share --schema-jobs. A small schema is created on fewer
/// sessions than asked for: each costs a connection (a server process and its
/// authentication), more than its share of the work saves. Hands on the extra sessions.
pub(in crate::migrate) async fn ddl_sessions(
    db: &Db<'_>,
    objects: usize,
    warnings: &mut Vec<Warning>,
) -> Result<DdlSessions> {
    let useful = objects.div_ceil(OBJECTS_PER_SCHEMA_SESSION).max(1);
    let schema_permits = db
        .budget
        .schema_sessions(db.opts().ddl_sessions().min(useful))
        .await;
    // The database's own target session is the first: one more connection saved.
    let wanted = schema_permits.count().saturating_sub(1);
    let mut extra = Vec::new();
    while extra.len() < wanted {
        let s = match db.pair.open(Side::Target, Phase::PreData).await {
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
    Ok(DdlSessions {
        extra,
        _permits: schema_permits,
    })
}

/// Pre-data on the target: all of it on a fresh run, which then records the data stage in the
/// ledger (with the warnings `so_far`); a resumed run creates only what the earlier one could
/// not (--keep-going). Hands on the report of what was created.
pub(in crate::migrate) async fn pre_data(
    db: &Db<'_>,
    target: &Session,
    sessions: &[&Session],
    schema: &Schema,
    facts: &ExecState,
    so_far: &[Warning],
) -> Result<exec::ExecReport> {
    let name = db.name();
    let started = std::time::Instant::now();
    if db.resuming {
        info!(database = %name, "resuming: the pre-data schema was created by the earlier run");
        // Except what it could not create (--keep-going): those objects come now.
        let missing = crate::ledger::read_not_created(target).await?;
        let objects: Vec<_> = schema
            .section_with_levels(Section::PreData)
            .into_iter()
            .filter(|(o, _)| missing.contains(&o.describe()))
            .collect();
        if objects.is_empty() {
            return Ok(exec::ExecReport::default());
        }
        info!(
            database = %name,
            objects = objects.len(),
            "resuming: creating the pre-data objects the earlier run did not"
        );
        let r = create_levels(db, sessions, &objects, Phase::PreData, facts).await?;
        crate::ledger::record_not_created(target, &not_created(schema, facts)).await?;
        return Ok(r);
    }
    let objects = schema.section_with_levels(Section::PreData);
    let r = create_levels(db, sessions, &objects, Phase::PreData, facts).await?;
    if !facts.refused.is_empty() {
        crate::ledger::record_not_created(target, &not_created(schema, facts)).await?;
    }
    let so_far = [so_far, &r.warnings[..]].concat();
    crate::ledger::set_stage(target, crate::ledger::Stage::Data, None, Some(&so_far)).await?;
    info!(
        database = %name,
        seconds = format!("{:.2}", started.elapsed().as_secs_f64()),
        "pre-data schema created"
    );
    Ok(r)
}

/// What the target's CREATE EXTENSION made is not created again: it leaves the schema, which is
/// what this hands on (the warnings about what no extension carries join the run's).
pub(in crate::migrate) async fn leave_to_extensions(
    db: &Db<'_>,
    target: &Session,
    schema: &mut Schema,
    warnings: &mut Vec<Warning>,
) -> Result<()> {
    let (provided, uncarried) = crate::schema::extensions::drop_provided(target, schema)
        .await
        .map_err(db.pair.tag(Side::Target, Phase::PreData))?;
    warnings.extend(uncarried);
    if provided > 0 {
        info!(database = %db.name(), objects = provided, "left to CREATE EXTENSION");
    }
    Ok(())
}

/// The copy's options once pre-data is in: tables and sequences not created (--keep-going) are
/// not copied, and the tables whose rows' COPY plans a generated column or CHECK that needs a
/// search_path get it. Hands on the options the copy runs with.
pub(in crate::migrate) fn copy_scope(
    mut copy_opts: CopyOptions,
    schema: &Schema,
    facts: &ExecState,
    name: &str,
) -> CopyOptions {
    let absent: std::collections::BTreeSet<(String, String)> = schema
        .objects
        .iter()
        .filter(|o| {
            o.id.classid == crate::schema::model::class::PG_CLASS && facts.skipped.contains(&o.id)
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
    copy_opts.search_paths = copy_search_paths(schema);
    copy_opts
}

/// Creates `objects` (with their dependency levels) on the `--schema-jobs` `sessions`, until
/// the run is cancelled; a failure is tagged with the target and `phase`.
async fn create_levels(
    db: &Db<'_>,
    sessions: &[&Session],
    objects: &[(&crate::schema::model::SchemaObject, u32)],
    phase: Phase,
    facts: &ExecState,
) -> Result<exec::ExecReport> {
    let opts = db.opts();
    until_cancelled(
        &opts.cancel,
        exec::apply_parallel(sessions, objects, opts.schema, facts),
    )
    .await
    .map_err(db.pair.tag(Side::Target, phase))
}

/// `--schema-only`: post-data right after pre-data, on the same sessions. Hands on its report.
pub(in crate::migrate) async fn post_data_now(
    db: &Db<'_>,
    sessions: &[&Session],
    schema: &Schema,
    facts: &ExecState,
) -> Result<exec::ExecReport> {
    let started = std::time::Instant::now();
    let objects = schema.section_with_levels(Section::PostData);
    let r = create_levels(db, sessions, &objects, Phase::PostData, facts).await?;
    info!(
        database = %db.name(),
        seconds = format!("{:.2}", started.elapsed().as_secs_f64()),
        "post-data schema created"
    );
    Ok(r)
}

/// Splits the post-data objects into what the data engine runs right after a table is loaded
/// (indexes, constraints, triggers... of that table) and what waits for all tables (foreign
/// keys, materialized-view refreshes, attachments), keeping the dependency order in both.
pub(in crate::migrate) fn post_data_plan(
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
            let path = o.search_path()?.to_owned();
            let table = if o.id.classid == class::PG_CLASS {
                o.id.objid
            } else {
                o.table?
            };
            Some((tables.get(&table)?.clone(), path))
        })
        .collect()
}
