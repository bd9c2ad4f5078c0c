//! The ledger: what a run has written to one target database, recorded in that database.
//!
//! A migration runs for hours and the container it runs in may be stopped at any moment, so
//! progress is kept where a later run in another container finds it: in the schema
//! [`LEDGER_SCHEMA`] of the target database itself. It holds
//!
//! - `run`: one row: run id, source identity (`system_identifier`, database oid and name), the
//!   method, the options that shape the result, the stage reached, and whether this tool
//!   created the database (then `--clean` may drop it) or which schemas and extensions existed
//!   before (then `--clean` removes only what came after);
//! - `part`: every copy part of every table (its row filter, so a resumed run copies exactly
//!   the parts not yet in, even if the table grew meanwhile), its state, rows, bytes and the
//!   snapshot it was read in. **A part's COPY and the update of its row commit in one target
//!   transaction**, so a part is in the target exactly once or not at all;
//! - `large_object`: large objects whose contents committed (same transaction as the batch);
//! - `post_data`: post-data objects created (same transaction as their statements);
//! - `planned`: the schema objects the run creates, for `--clean` of a database it did not
//!   create;
//! - `not_created`: with `--keep-going`, the pre-data objects the target refused (and their
//!   dependents), which `--resume` creates before it copies.
//!
//! When every database of the run is done (the replication method: at cut-over), each ledger
//! shrinks to its `run` row, stamped `finished_at` with the copy's totals ([`finish`]): the
//! record that `db-migrate status` shows as done and that lets a later `--resume` or cut-over
//! run report the database done without touching it, where a database holding objects and no
//! record proves nothing. It is one small table, which `DROP SCHEMA db_migrate CASCADE`
//! removes. Reports, verification and schema comparisons skip [`LEDGER_SCHEMA`].
//!
//! This module is the store and nothing above it: it imports no stage, so every stage may use
//! it. The data engine's records are [`parts`]; what preflight concludes from a target's
//! ledger is `preflight::target_state`.

pub mod parts;

use crate::conn::Session;
use crate::error::{Error, Result, Side};
use crate::sql::{quote_ident, quote_literal};

/// The schema of the ledger in every target database being migrated. Code that compares or
/// reports a target's objects skips it.
pub const LEDGER_SCHEMA: &str = "db_migrate";

/// How far a database's migration got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    /// Pre-data objects are being created (an interrupted run left them incomplete).
    PreData,
    /// Pre-data is complete; the data (and post-data) are being copied.
    Data,
    /// Data and post-data are in; a subscription carries the changes until cut-over.
    Replicating,
    /// The database's migration is finished. The ledger stays, as the proof that a later
    /// `--resume` or cut-over run may report it done without touching it; once every database
    /// of the run is done it shrinks to the record of the finished migration ([`finish`], see
    /// `recovery::finish_ledgers`).
    Done,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::PreData => "pre-data",
            Stage::Data => "data",
            Stage::Replicating => "replicating",
            Stage::Done => "done",
        }
    }

    fn parse(s: &str) -> Stage {
        match s {
            "data" => Stage::Data,
            "replicating" => Stage::Replicating,
            "done" => Stage::Done,
            _ => Stage::PreData,
        }
    }

    /// What a run that stopped in this stage had done, for messages.
    pub fn reached(self) -> &'static str {
        match self {
            Stage::PreData => "stopped while creating the schema",
            Stage::Data => "stopped during the data copy",
            Stage::Replicating => "copied the data and is replicating changes",
            Stage::Done => "finished this database",
        }
    }
}

/// The `run` row of a ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRecord {
    pub run_id: String,
    pub source_system_identifier: Option<u64>,
    pub source_database_oid: u32,
    pub source_database: String,
    /// "dump" or "replication"; `None` until the data stage decided.
    pub method: Option<String>,
    /// The options that shape the result (see [`shaping_options`]).
    pub options: String,
    pub stage: Stage,
    pub created_database: bool,
    /// Schemas and extensions that existed before the run (`--clean` keeps them).
    pub existing_schemas: Vec<String>,
    pub existing_extensions: Vec<String>,
    /// When the run started, as text (for messages).
    pub started_at: String,
    /// Parts committed / parts recorded.
    pub parts_copied: u64,
    pub parts_total: u64,
    /// When the run finished the whole migration, as text: the ledger is then only this
    /// record ([`finish`]).
    pub finished_at: Option<String>,
}

impl RunRecord {
    /// "earlier" or "unfinished", for messages about the migration a ledger records.
    pub fn kind(&self) -> &'static str {
        if self.stage == Stage::Done {
            "earlier"
        } else {
            "unfinished"
        }
    }

    /// "run Ab3x of 2026-12-01 19:30:02+00 stopped during the data copy (12 of 40 parts
    /// copied)".
    pub fn summary(&self) -> String {
        if let Some(finished) = &self.finished_at {
            return format!(
                "run {} of {} finished the migration at {finished}",
                self.run_id, self.started_at
            );
        }
        let mut s = format!(
            "run {} of {} {}",
            self.run_id,
            self.started_at,
            self.stage.reached()
        );
        if self.parts_total > 0 {
            s.push_str(&format!(
                " ({} of {} table parts copied)",
                self.parts_copied, self.parts_total
            ));
        }
        s
    }
}

fn qname(table: &str) -> String {
    format!("{}.{}", quote_ident(LEDGER_SCHEMA), quote_ident(table))
}

fn tgt(e: tokio_postgres::Error, what: &'static str) -> Error {
    Error::from_pg(e)
        .with_side(Side::Target)
        .with_object(format!("ledger schema {}", quote_ident(LEDGER_SCHEMA)))
        .with_step(what)
}

/// Reads the ledger of the database `s` is connected to; `None` when there is none.
pub async fn read(s: &Session) -> Result<Option<RunRecord>> {
    let present = s
        .query_one(
            "SELECT pg_catalog.to_regclass($1) IS NOT NULL, pg_catalog.to_regclass($2) IS NOT NULL",
            &[&qname("run"), &qname("part")],
        )
        .await
        .map_err(|e| tgt(e, "reading the ledger"))?;
    if !present.get::<_, bool>(0) {
        return Ok(None);
    }
    // A finished run's record has no part table ([`finish`]): its counts are in `totals`.
    let parts = if present.get::<_, bool>(1) {
        format!(
            "(SELECT pg_catalog.count(*) FILTER (WHERE p.state = 'copied') FROM {part} p),
             (SELECT pg_catalog.count(*) FROM {part} p)",
            part = qname("part")
        )
    } else {
        "COALESCE((pg_catalog.to_jsonb(r) #>> '{totals,parts_copied}')::int8, 0),
         COALESCE((pg_catalog.to_jsonb(r) #>> '{totals,parts_total}')::int8, 0)"
            .to_owned()
    };
    let row = s
        .query_opt(
            &format!(
                "SELECT r.run_id, r.source_system_identifier, r.source_database_oid::pg_catalog.int8,
                        r.source_database, r.method, r.options, r.stage, r.created_database,
                        r.existing_schemas, r.existing_extensions,
                        pg_catalog.to_char(r.started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || ' UTC',
                        {parts},
                        -- A ledger of an earlier version has no finished_at column.
                        pg_catalog.to_char((pg_catalog.to_jsonb(r) ->> 'finished_at')::timestamptz
                                               AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || ' UTC'
                   FROM {run} r LIMIT 1",
                run = qname("run")
            ),
            &[],
        )
        .await
        .map_err(|e| tgt(e, "reading the ledger"))?;
    let Some(row) = row else {
        return Ok(None);
    };
    Ok(Some(RunRecord {
        run_id: row.get(0),
        source_system_identifier: row.get::<_, Option<String>>(1).and_then(|v| v.parse().ok()),
        source_database_oid: row.get::<_, i64>(2) as u32,
        source_database: row.get(3),
        method: row.get(4),
        options: row.get(5),
        stage: Stage::parse(row.get(6)),
        created_database: row.get(7),
        existing_schemas: row.get(8),
        existing_extensions: row.get(9),
        started_at: row.get(10),
        parts_copied: row.get::<_, i64>(11) as u64,
        parts_total: row.get::<_, i64>(12) as u64,
        finished_at: row.get(13),
    }))
}

/// Creates the ledger in the database `s` is connected to and writes its `run` row (stage
/// pre-data), recording which schemas and extensions exist already.
pub async fn create(s: &Session, run: &RunRecord) -> Result<()> {
    let ddl = format!(
        "BEGIN;
         CREATE SCHEMA {schema};
         COMMENT ON SCHEMA {schema} IS 'progress of a db-migrate run; its run row stays as the record of the finished migration';
         CREATE TABLE {run} (
             run_id text NOT NULL,
             source_system_identifier text,
             source_database_oid oid NOT NULL,
             source_database text NOT NULL,
             method text,
             options text NOT NULL,
             stage text NOT NULL,
             created_database boolean NOT NULL,
             existing_schemas text[] NOT NULL,
             existing_extensions text[] NOT NULL,
             started_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
             updated_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
             warnings jsonb);
         CREATE TABLE {part} (
             schema_name text NOT NULL,
             table_name text NOT NULL,
             part integer NOT NULL,
             filter text,
             state text NOT NULL DEFAULT 'pending',
             rows bigint,
             bytes bigint,
             snapshot text,
             run_id text,
             copied_at timestamptz,
             retries integer NOT NULL DEFAULT 0,
             PRIMARY KEY (schema_name, table_name, part));
         CREATE TABLE {lo} (lo_oid oid PRIMARY KEY, run_id text NOT NULL);
         CREATE TABLE {post} (
             key text PRIMARY KEY,
             describe text NOT NULL,
             run_id text NOT NULL,
             created_at timestamptz NOT NULL DEFAULT pg_catalog.now());
         CREATE TABLE {planned} (kind text NOT NULL, schema_name text, name text NOT NULL);
         INSERT INTO {run} (run_id, source_system_identifier, source_database_oid, source_database,
                            method, options, stage, created_database, existing_schemas,
                            existing_extensions)
         SELECT {id}, {sysid}, {oid}, {db}, NULL, {options}, 'pre-data', {created},
                ARRAY(SELECT n.nspname::text FROM pg_catalog.pg_namespace n ORDER BY 1),
                ARRAY(SELECT x.extname::text FROM pg_catalog.pg_extension x ORDER BY 1);
         COMMIT",
        schema = quote_ident(LEDGER_SCHEMA),
        run = qname("run"),
        part = qname("part"),
        lo = qname("large_object"),
        post = qname("post_data"),
        planned = qname("planned"),
        id = quote_literal(&run.run_id),
        sysid = run
            .source_system_identifier
            .map(|v| quote_literal(&v.to_string()))
            .unwrap_or_else(|| "NULL".into()),
        oid = run.source_database_oid,
        db = quote_literal(&run.source_database),
        options = quote_literal(&run.options),
        created = run.created_database,
    );
    if let Err(e) = s.batch_execute(&ddl).await {
        let _ = s.batch_execute("ROLLBACK").await;
        return Err(tgt(e, "creating the ledger"));
    }
    Ok(())
}

/// Records the stage reached (and the method, once known), and with `warnings` the database's
/// warnings so far counted by kind, which `db-migrate status` shows while the run goes on.
pub async fn set_stage(
    s: &Session,
    stage: Stage,
    method: Option<&str>,
    warnings: Option<&[crate::warning::Warning]>,
) -> Result<()> {
    let counts = warnings.map(|w| {
        format!(
            ", warnings = {}::jsonb",
            quote_literal(&crate::warning::counts_by_kind_json(w))
        )
    });
    s.batch_execute(&format!(
        "UPDATE {} SET stage = {}, method = COALESCE({}, method), updated_at = pg_catalog.now(){}",
        qname("run"),
        quote_literal(stage.as_str()),
        method.map(quote_literal).unwrap_or_else(|| "NULL".into()),
        counts.unwrap_or_default()
    ))
    .await
    .map_err(|e| tgt(e, "updating the ledger"))
}

/// Brings a ledger that an earlier version of db-migrate wrote up to this version's columns
/// (`run.warnings`, `part.retries`), before a run continues it: its statements name them.
pub async fn upgrade(s: &Session) -> Result<()> {
    s.batch_execute(&format!(
        "ALTER TABLE {} ADD COLUMN IF NOT EXISTS warnings jsonb;
         ALTER TABLE {} ADD COLUMN IF NOT EXISTS retries integer NOT NULL DEFAULT 0",
        qname("run"),
        qname("part")
    ))
    .await
    .map_err(|e| tgt(e, "upgrading the ledger of an earlier version"))
}

/// Records the schema objects this run creates (for `--clean`), as (kind keyword, schema,
/// name), the kind in lower case (`materialized view`). A thousand rows per statement, each
/// statement built as it is sent: the objects are borrowed, never all copied at once.
pub async fn record_planned<'a>(
    s: &Session,
    objects: impl IntoIterator<Item = (&'static str, Option<&'a str>, &'a str)>,
) -> Result<()> {
    let mut objects = objects.into_iter().peekable();
    while objects.peek().is_some() {
        let mut sql = format!(
            "INSERT INTO {} (kind, schema_name, name) VALUES ",
            qname("planned")
        );
        for (i, (kind, schema, name)) in objects.by_ref().take(1000).enumerate() {
            if i > 0 {
                sql.push_str(", ");
            }
            let schema = schema.map(quote_literal);
            sql.push_str(&format!(
                "({}, {}, {})",
                quote_literal(&kind.to_ascii_lowercase()),
                schema.as_deref().unwrap_or("NULL"),
                quote_literal(name)
            ));
        }
        s.batch_execute(&sql)
            .await
            .map_err(|e| tgt(e, "updating the ledger"))?;
    }
    Ok(())
}

/// Records the pre-data objects this run did not create (`--keep-going`: refused by the
/// target, or skipped with one that was), by description, replacing what was recorded: a
/// `--resume` creates them before it copies (see [`read_not_created`]). The table is created
/// on first use, so ledgers of earlier versions stay readable.
pub async fn record_not_created(s: &Session, describes: &[String]) -> Result<()> {
    let mut sql = format!(
        "BEGIN; CREATE TABLE IF NOT EXISTS {t} (describe text PRIMARY KEY); DELETE FROM {t}",
        t = qname("not_created")
    );
    for chunk in describes.chunks(1000) {
        let values: Vec<String> = chunk
            .iter()
            .map(|d| format!("({})", quote_literal(d)))
            .collect();
        sql.push_str(&format!(
            "; INSERT INTO {} (describe) VALUES {} ON CONFLICT DO NOTHING",
            qname("not_created"),
            values.join(", ")
        ));
    }
    sql.push_str("; COMMIT");
    if let Err(e) = s.batch_execute(&sql).await {
        let _ = s.batch_execute("ROLLBACK").await;
        return Err(tgt(e, "updating the ledger"));
    }
    Ok(())
}

/// The pre-data objects an earlier run did not create ([`record_not_created`]); empty when
/// it created them all.
pub async fn read_not_created(s: &Session) -> Result<std::collections::HashSet<String>> {
    let present = s
        .query_one(
            "SELECT pg_catalog.to_regclass($1) IS NOT NULL",
            &[&qname("not_created")],
        )
        .await
        .map_err(|e| tgt(e, "reading the ledger"))?;
    if !present.get::<_, bool>(0) {
        return Ok(Default::default());
    }
    let rows = s
        .query(
            &format!("SELECT describe FROM {}", qname("not_created")),
            &[],
        )
        .await
        .map_err(|e| tgt(e, "reading the ledger"))?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// The comment of a finished run's record.
const RECORD_COMMENT: &str = "the record of a finished db-migrate migration, read by db-migrate \
     status and by a later resumed or cut-over run; DROP SCHEMA db_migrate CASCADE removes it";

/// Shrinks the ledger to the record of a finished migration, in one transaction: the `run`
/// row stamped `finished_at` with `totals` (the copy's figures, JSON), every other table
/// dropped. Does nothing to a ledger that is a record already.
pub async fn finish(s: &Session, totals: &str) -> Result<()> {
    let sql = format!(
        "BEGIN;
         ALTER TABLE {run} ADD COLUMN IF NOT EXISTS finished_at timestamptz,
                           ADD COLUMN IF NOT EXISTS totals jsonb;
         UPDATE {run} SET finished_at = pg_catalog.now(), totals = {totals}::jsonb,
                          updated_at = pg_catalog.now()
          WHERE finished_at IS NULL;
         DROP TABLE IF EXISTS {part}, {lo}, {post}, {planned}, {not_created};
         COMMENT ON SCHEMA {schema} IS {comment};
         COMMIT",
        run = qname("run"),
        totals = quote_literal(totals),
        part = qname("part"),
        lo = qname("large_object"),
        post = qname("post_data"),
        planned = qname("planned"),
        not_created = qname("not_created"),
        schema = quote_ident(LEDGER_SCHEMA),
        comment = quote_literal(RECORD_COMMENT),
    );
    if let Err(e) = s.batch_execute(&sql).await {
        let _ = s.batch_execute("ROLLBACK").await;
        return Err(tgt(e, "recording the finished migration"));
    }
    Ok(())
}

/// The copy's figures a finished run recorded ([`finish`]); `None` when the ledger is not a
/// finished run's record.
pub async fn totals(s: &Session) -> Result<Option<String>> {
    let sql = format!(
        "SELECT (pg_catalog.to_jsonb(r) -> 'totals')::text FROM {} r \
          WHERE pg_catalog.to_jsonb(r) ->> 'finished_at' IS NOT NULL LIMIT 1",
        qname("run")
    );
    match s.query_opt(&sql, &[]).await {
        Ok(row) => Ok(row.and_then(|r| r.get(0))),
        Err(e)
            if e.code() == Some(&tokio_postgres::error::SqlState::UNDEFINED_TABLE)
                || e.code() == Some(&tokio_postgres::error::SqlState::INVALID_SCHEMA_NAME) =>
        {
            Ok(None)
        }
        Err(e) => Err(tgt(e, "reading the ledger")),
    }
}

/// The ledger state of a table whose rows the subscription copies (`--resume` of a run of the
/// replication method): its parts are forgotten, so it counts as not copied.
pub const SUBSCRIPTION_STATE: &str = "subscription";

/// `--resume` of a run of the replication method: empties `tables` (their rows come again
/// through the subscription's table synchronisation) and replaces their parts with one row in
/// state [`SUBSCRIPTION_STATE`], in one transaction, so that a run interrupted after this still
/// knows them (and never counts rows of theirs as copied).
pub async fn hand_to_subscription(
    s: &Session,
    run_id: &str,
    tables: &[(String, String)],
) -> Result<()> {
    if tables.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = tables
        .iter()
        .map(|(sch, t)| crate::sql::qualified(sch, t))
        .collect();
    let keys: Vec<String> = tables
        .iter()
        .map(|(sch, t)| format!("({}, {})", quote_literal(sch), quote_literal(t)))
        .collect();
    let rows: Vec<String> = tables
        .iter()
        .map(|(sch, t)| {
            format!(
                "({}, {}, 0, NULL, {}, {})",
                quote_literal(sch),
                quote_literal(t),
                quote_literal(SUBSCRIPTION_STATE),
                quote_literal(run_id)
            )
        })
        .collect();
    let sql = format!(
        "BEGIN;
         TRUNCATE ONLY {tables};
         DELETE FROM {part} WHERE (schema_name, table_name) IN ({keys});
         INSERT INTO {part} (schema_name, table_name, part, filter, state, run_id) VALUES {rows};
         COMMIT",
        tables = list.join(", "),
        part = qname("part"),
        keys = keys.join(", "),
        rows = rows.join(", "),
    );
    if let Err(e) = s.batch_execute(&sql).await {
        let _ = s.batch_execute("ROLLBACK").await;
        return Err(tgt(e, "emptying the tables the subscription copies"));
    }
    Ok(())
}

/// The tables in state [`SUBSCRIPTION_STATE`] (see [`hand_to_subscription`]).
pub async fn subscription_tables(s: &Session) -> Result<Vec<(String, String)>> {
    let rows = s
        .query(
            &format!(
                "SELECT DISTINCT schema_name, table_name FROM {} WHERE state = $1 ORDER BY 1, 2",
                qname("part")
            ),
            &[&SUBSCRIPTION_STATE],
        )
        .await
        .map_err(|e| tgt(e, "reading the ledger"))?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

// ---------------------------------------------------------------------------------------------
// What a target database holds besides a ledger.

pub use crate::catalog::contents::UserObjects;

/// Counts what a target database holds that is not a system object, not a member of an
/// extension and not the ledger ([`crate::catalog::contents::user_objects`]).
pub async fn user_objects(s: &Session) -> Result<UserObjects> {
    crate::catalog::contents::user_objects(s, LEDGER_SCHEMA)
        .await
        .map_err(|e| {
            e.with_side(Side::Target)
                .with_phase(crate::error::Phase::Preflight)
        })
}

// ---------------------------------------------------------------------------------------------
// --clean

/// What `--clean` does to one database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CleanPlan {
    /// The ledger says this tool created the database: drop it (it is created again).
    DropDatabase,
    /// Drop exactly these objects (statements, with a description each), then the ledger.
    DropObjects(Vec<(String, String)>),
}

/// Decides what `--clean` removes from the database `s` is connected to, whose ledger is
/// `run`: never anything the ledger does not attribute to this tool.
pub async fn clean_plan(s: &Session, run: &RunRecord) -> Result<CleanPlan> {
    if run.created_database {
        return Ok(CleanPlan::DropDatabase);
    }
    let mut drops = new_schemas(s).await?;
    drops.extend(planned_objects(s).await?);
    drops.extend(new_extensions(s).await?);
    drops.extend(created_large_objects(s).await?);
    Ok(CleanPlan::DropObjects(drops))
}

/// The schemas created after the run started, with everything in them. (Statements, with a description each, for [`clean_plan`].)
async fn new_schemas(s: &Session) -> Result<Vec<(String, String)>> {
    let err = |e| tgt(e, "planning `clean`");
    let mut drops: Vec<(String, String)> = Vec::new();
    // Schemas created after the run started, with everything in them. (`name = ANY (text[])`
    // has no operator: both sides are compared as text.)
    for r in s
        .query(
            &format!(
                "SELECT n.nspname::text FROM pg_catalog.pg_namespace n
                  WHERE NOT (n.nspname::text = ANY ((SELECT existing_schemas FROM {run} LIMIT 1)::text[]))
                    AND n.nspname IN (SELECT p.name FROM {planned} p WHERE p.kind = 'schema'
                                      UNION SELECT p.schema_name FROM {planned} p
                                             WHERE p.schema_name IS NOT NULL)
                  ORDER BY 1",
                run = qname("run"),
                planned = qname("planned")
            ),
            &[],
        )
        .await
        .map_err(err)?
    {
        let n: String = r.get(0);
        drops.push((
            format!("DROP SCHEMA IF EXISTS {} CASCADE", quote_ident(&n)),
            format!("schema {}", quote_ident(&n)),
        ));
    }
    Ok(drops)
}

/// The planned relations, routines and types in schemas that existed before the run. (Statements, with a description each, for [`clean_plan`].)
async fn planned_objects(s: &Session) -> Result<Vec<(String, String)>> {
    let err = |e| tgt(e, "planning `clean`");
    let mut drops: Vec<(String, String)> = Vec::new();
    // Planned objects in schemas that existed before: relations, routines, types; not an
    // extension's members of the same name (the target's own `CREATE EXTENSION`, which a
    // planned object collided with: the run did not create it).
    for r in s
        .query(
            &format!(
                "WITH pre AS (SELECT existing_schemas AS s FROM {run} LIMIT 1),
                      p AS (SELECT DISTINCT kind, schema_name, name FROM {planned}, pre
                             WHERE schema_name = ANY (pre.s))
                 SELECT CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                                       WHEN 'S' THEN 'SEQUENCE' WHEN 'f' THEN 'FOREIGN TABLE'
                                       ELSE 'TABLE' END,
                        c.oid::pg_catalog.regclass::text, 1 AS ord
                   FROM p JOIN pg_catalog.pg_namespace n ON n.nspname = p.schema_name
                   JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = p.name
                  WHERE p.kind IN ('table', 'view', 'materialized view', 'sequence', 'foreign table')
                    AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
                    AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                                     WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
                                       AND d.objid = c.oid AND d.deptype = 'e')
                 UNION ALL
                 SELECT 'ROUTINE', f.oid::pg_catalog.regprocedure::text, 2
                   FROM p JOIN pg_catalog.pg_namespace n ON n.nspname = p.schema_name
                   JOIN pg_catalog.pg_proc f ON f.pronamespace = n.oid AND f.proname = p.name
                  WHERE p.kind IN ('function', 'aggregate', 'procedure')
                    AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                                     WHERE d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass
                                       AND d.objid = f.oid AND d.deptype = 'e')
                 UNION ALL
                 SELECT CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END,
                        t.oid::pg_catalog.regtype::text, 3
                   FROM p JOIN pg_catalog.pg_namespace n ON n.nspname = p.schema_name
                   JOIN pg_catalog.pg_type t ON t.typnamespace = n.oid AND t.typname = p.name
                  WHERE p.kind IN ('type', 'domain')
                    AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                                     WHERE d.classid = 'pg_catalog.pg_type'::pg_catalog.regclass
                                       AND d.objid = t.oid AND d.deptype = 'e')
                 ORDER BY 3, 2",
                run = qname("run"),
                planned = qname("planned")
            ),
            &[],
        )
        .await
        .map_err(err)?
    {
        let (kw, name): (String, String) = (r.get(0), r.get(1));
        drops.push((
            format!("DROP {kw} IF EXISTS {name} CASCADE"),
            format!("{} {name}", kw.to_ascii_lowercase()),
        ));
    }
    Ok(drops)
}

/// The extensions the run created. (Statements, with a description each, for [`clean_plan`].)
async fn new_extensions(s: &Session) -> Result<Vec<(String, String)>> {
    let err = |e| tgt(e, "planning `clean`");
    let mut drops: Vec<(String, String)> = Vec::new();
    // Extensions created after the run started.
    for r in s
        .query(
            &format!(
                "SELECT x.extname::text FROM pg_catalog.pg_extension x
                  WHERE NOT (x.extname::text = ANY ((SELECT existing_extensions FROM {run} LIMIT 1)::text[]))
                    AND x.extname IN (SELECT name FROM {planned} WHERE kind = 'extension')
                  ORDER BY 1",
                run = qname("run"),
                planned = qname("planned")
            ),
            &[],
        )
        .await
        .map_err(err)?
    {
        let n: String = r.get(0);
        drops.push((
            format!("DROP EXTENSION IF EXISTS {} CASCADE", quote_ident(&n)),
            format!("extension {}", quote_ident(&n)),
        ));
    }
    Ok(drops)
}

/// The large objects the run created. (Statements, with a description each, for [`clean_plan`].)
async fn created_large_objects(s: &Session) -> Result<Vec<(String, String)>> {
    let err = |e| tgt(e, "planning `clean`");
    let mut drops: Vec<(String, String)> = Vec::new();
    // Large objects the run created.
    for r in s
        .query(
            &format!(
                "SELECT m.oid::pg_catalog.int8 FROM pg_catalog.pg_largeobject_metadata m
                  WHERE m.oid::text IN (SELECT name FROM {planned} WHERE kind = 'large object')
                     OR m.oid IN (SELECT lo_oid FROM {lo})
                  ORDER BY 1",
                planned = qname("planned"),
                lo = qname("large_object")
            ),
            &[],
        )
        .await
        .map_err(err)?
    {
        let oid: i64 = r.get(0);
        drops.push((
            format!("SELECT pg_catalog.lo_unlink({oid})"),
            format!("large object {oid}"),
        ));
    }
    Ok(drops)
}

/// Runs a [`CleanPlan::DropObjects`] plan and drops the ledger, in one transaction.
pub async fn clean_objects(s: &Session, drops: &[(String, String)]) -> Result<()> {
    let mut sql = String::from("BEGIN;\n");
    for (stmt, _) in drops {
        sql.push_str(stmt);
        sql.push_str(";\n");
    }
    sql.push_str(&format!(
        "DROP SCHEMA IF EXISTS {} CASCADE;\nCOMMIT",
        quote_ident(LEDGER_SCHEMA)
    ));
    if let Err(e) = s.batch_execute(&sql).await {
        let _ = s.batch_execute("ROLLBACK").await;
        return Err(Error::from_pg(e)
            .with_side(Side::Target)
            .with_step("`clean`"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_round_trip_and_order() {
        for s in [Stage::PreData, Stage::Data, Stage::Replicating] {
            assert_eq!(Stage::parse(s.as_str()), s);
        }
        assert!(Stage::PreData < Stage::Data && Stage::Data < Stage::Replicating);
    }
}
