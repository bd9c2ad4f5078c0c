//! The write fence of a fenced cut-over (`--cutover`): the source's applications stop writing,
//! without a proxy, using only what a managed service's admin user may do.
//!
//! - **New sessions** of the database start read-only: `ALTER DATABASE ... SET
//!   default_transaction_read_only = on` (database owner, a member of its owner, or superuser).
//! - **Existing sessions** of the application roles (`--fence-roles`; by default the roles that
//!   own the published tables or hold INSERT, UPDATE, DELETE or TRUNCATE on them), and of the
//!   login roles that have their privileges, are ended with `pg_terminate_backend` (superuser,
//!   `pg_signal_backend`, or privileges of the session's role), after a bounded wait for the
//!   transactions they have in flight. Only client backends that started before the fence: the
//!   replication's walsender, the migration user and the subscription's user are never
//!   touched; sessions that connect after the fence are read-only already.
//!
//! What the fence changed is recorded on the source itself, in the database's comment
//! (`COMMENT ON DATABASE`, the same privilege as the setting), together with the comment it
//! replaced, in one transaction with the setting. So the fence can be lifted exactly as it was
//! by this run (abort, failure, interrupt) and by a later `--unfence` ([`unfence`]), even after
//! the process was killed. A successful cut-over leaves the source fenced on purpose: the
//! applications move to the target.
//!
//! Not fenced: a session that turns `default_transaction_read_only` (or
//! `transaction_read_only`) off itself, superuser sessions not named in `--fence-roles`, and
//! roles that hold no write privilege on the migrated tables. Roles whose own
//! `default_transaction_read_only` setting (`ALTER ROLE ... SET`) would override the
//! database's are refused by [`readiness`].

use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::conn::{ConnInfo, Session};
use crate::error::{Error, ErrorKind, Result, Side};
use crate::remedy::{Remedy, Setting};
use crate::sql::{quote_ident, quote_literal};

/// `--cutover-max-lag`'s default: 16 MiB.
pub const DEFAULT_CUTOVER_MAX_LAG: u64 = 16 << 20;

/// How long the fence waits for the fenced sessions' transactions in flight before it ends
/// them, at most (less when `--max-downtime` leaves less).
pub const DEFAULT_DRAIN: Duration = Duration::from_secs(5);

/// The start of the database comment that records a fence.
pub const FENCE_MARK: &str = "db-migrate fence: ";

/// `--cutover` and its flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CutoverOptions {
    /// `--cutover-max-lag`: the fence is not applied while the lag is above this.
    pub max_lag: u64,
    /// `--max-downtime`: the switch must be reached within this after the fence, else the
    /// cut-over is aborted and the fence lifted.
    pub max_downtime: Option<Duration>,
    /// `--fence-roles`: the application roles whose sessions are ended. `None`: the roles that
    /// own or write the published tables.
    pub fence_roles: Option<Vec<String>>,
    /// The bound on waiting for transactions in flight before ending sessions.
    pub drain: Duration,
    /// `--fail-back-ready`: end with reverse replication from the target to the source
    /// (`failback.rs`).
    pub fail_back_ready: bool,
}

impl Default for CutoverOptions {
    fn default() -> Self {
        CutoverOptions {
            max_lag: DEFAULT_CUTOVER_MAX_LAG,
            max_downtime: None,
            fence_roles: None,
            drain: DEFAULT_DRAIN,
            fail_back_ready: false,
        }
    }
}

/// What a fence changed, as recorded in the database's comment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FenceRecord {
    /// The database's own `default_transaction_read_only` setting before the fence (`None`:
    /// not set).
    pub read_only_before: Option<String>,
    /// The database's comment before the fence.
    pub comment_before: Option<String>,
    /// The roles whose sessions the fence ended.
    pub roles: Vec<String>,
}

/// What [`readiness`] found: the fence can be applied, to these roles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FencePlan {
    pub database: String,
    /// The fence roles (owners and writers, or `--fence-roles`).
    pub roles: Vec<String>,
    /// The login roles whose sessions are ended (the fence roles and the roles with their
    /// privileges, without the excluded ones).
    pub session_roles: Vec<String>,
    /// The record to write; an earlier fence's when the database is fenced already (a killed
    /// run), whose state before is the one to go back to.
    pub record: FenceRecord,
    /// The database was fenced by an earlier run already.
    pub earlier: bool,
}

/// What applying the fence did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Applied {
    /// Sessions ended with `pg_terminate_backend`.
    pub sessions_ended: u64,
    /// Time spent waiting for transactions in flight.
    pub drain_seconds: f64,
    /// Sessions that still had a transaction open when the wait ended (ended all the same).
    pub in_flight_at_end: u64,
}

/// Databases fenced by this process and not lifted (for the message of a second signal).
static FENCED: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn registry() -> std::sync::MutexGuard<'static, Vec<String>> {
    FENCED.lock().unwrap_or_else(|p| p.into_inner())
}

/// The databases this process fenced and has not lifted (a successful cut-over's stay).
pub fn fenced() -> Vec<String> {
    registry().clone()
}

fn on_src(e: impl Into<Error>, db: &str) -> Error {
    e.into().with_side(Side::Source).with_database(db)
}

fn refuse(db: &str, why: String) -> Error {
    Error::new(
        ErrorKind::Validation,
        format!("cut-over refused, nothing was changed (replication keeps running): {why}"),
    )
    .with_side(Side::Source)
    .with_database(db)
}

/// The state of the database the fence changes.
struct DbState {
    comment: Option<String>,
    read_only: Option<String>,
    may_alter: bool,
}

async fn db_state(src: &Session, db: &str) -> Result<DbState> {
    let row = src
        .query_one(
            "SELECT pg_catalog.shobj_description(d.oid, 'pg_database'),
                    (SELECT substr(c, 31) FROM pg_catalog.pg_db_role_setting s,
                            unnest(s.setconfig) c
                      WHERE s.setdatabase = d.oid AND s.setrole = 0
                        AND c LIKE 'default\\_transaction\\_read\\_only=%'),
                    pg_catalog.pg_has_role(current_user, d.datdba, 'USAGE')
                      OR (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user)
               FROM pg_catalog.pg_database d WHERE d.datname = $1",
            &[&db],
        )
        .await
        .map_err(|e| on_src(e, db))?;
    Ok(DbState {
        comment: row.get(0),
        read_only: row.get(1),
        may_alter: row.get::<_, Option<bool>>(2).unwrap_or(false),
    })
}

/// The record of a fence in a comment, when it is one.
pub fn parse_record(comment: Option<&str>) -> Option<FenceRecord> {
    serde_json::from_str(comment?.strip_prefix(FENCE_MARK)?).ok()
}

/// Checks that the fence can be applied to `db` (whose publication `publication` lists the
/// migrated tables) with the source user's privileges, changing nothing. `excluded`: roles
/// whose sessions are never ended besides the migration user (the subscription's user).
pub async fn readiness(
    src: &Session,
    db: &str,
    publication: &str,
    opts: &CutoverOptions,
    excluded: &[String],
) -> Result<FencePlan> {
    // A session opened after an earlier fence starts read-only: ours must write.
    src.batch_execute("SET default_transaction_read_only = off")
        .await
        .map_err(|e| on_src(e, db))?;
    let state = db_state(src, db).await?;
    let me: String = src
        .query_one("SELECT current_user::text", &[])
        .await
        .map_err(|e| on_src(e, db))?
        .get(0);
    if !state.may_alter {
        return Err(refuse(
            db,
            format!(
                "the fence sets default_transaction_read_only on the database, which only its \
                 owner (or a member of the owner's role) or a superuser may do, and {} is \
                 neither: GRANT the owner's role to {} on the source, or run the cut-over as the \
                 owner",
                quote_ident(&me),
                quote_ident(&me)
            ),
        ));
    }
    let roles = fence_roles(src, db, publication, opts, excluded).await?;
    let session_roles = session_roles(src, db, &roles, excluded, &me).await?;
    let earlier = parse_record(state.comment.as_deref());
    Ok(FencePlan {
        database: db.to_owned(),
        record: earlier.clone().unwrap_or(FenceRecord {
            read_only_before: state.read_only,
            comment_before: state.comment,
            roles: roles.clone(),
        }),
        earlier: earlier.is_some(),
        roles,
        session_roles,
    })
}

/// The fence roles: `--fence-roles` (which must exist: a typo would fence nobody), or the
/// roles that own or write the tables `publication` lists.
async fn fence_roles(
    src: &Session,
    db: &str,
    publication: &str,
    opts: &CutoverOptions,
    excluded: &[String],
) -> Result<Vec<String>> {
    let roles: Vec<String> = match &opts.fence_roles {
        Some(r) => r.clone(),
        None => src
            .query(
                "WITH t AS (
                   SELECT c.relowner, c.relacl
                     FROM pg_catalog.pg_publication_tables p
                     JOIN pg_catalog.pg_namespace n ON n.nspname = p.schemaname
                     JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = p.tablename
                    WHERE p.pubname = $1),
                 r AS (
                   SELECT relowner AS oid FROM t
                   UNION
                   SELECT a.grantee FROM t, LATERAL pg_catalog.aclexplode(t.relacl) a
                    WHERE a.privilege_type IN ('INSERT', 'UPDATE', 'DELETE', 'TRUNCATE')
                      AND a.grantee <> 0)
                 SELECT ro.rolname::text FROM pg_catalog.pg_roles ro JOIN r USING (oid)
                  WHERE ro.rolname <> current_user AND ro.rolname !~ '^pg_'
                    AND NOT ro.rolname = ANY($2)
                  ORDER BY 1",
                &[&publication, &excluded],
            )
            .await
            .map_err(|e| on_src(e, db))?
            .iter()
            .map(|r| r.get(0))
            .collect(),
    };
    // Named roles must exist: a typo would fence nobody.
    if opts.fence_roles.is_some() {
        let missing: Vec<String> = src
            .query(
                "SELECT r FROM unnest($1::text[]) r
                  WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = r)",
                &[&roles],
            )
            .await
            .map_err(|e| on_src(e, db))?
            .iter()
            .map(|r| r.get(0))
            .collect();
        if !missing.is_empty() {
            return Err(refuse(
                db,
                format!(
                    "{} names roles that do not exist on the source: {}",
                    Setting::FenceRoles,
                    missing.join(", ")
                ),
            ));
        }
    }
    Ok(roles)
}

/// The login roles whose sessions the fence ends; refused when `me` may not end them or one
/// has a read-only setting of its own.
async fn session_roles(
    src: &Session,
    db: &str,
    roles: &[String],
    excluded: &[String],
    me: &str,
) -> Result<Vec<String>> {
    // The login roles whose sessions are ended: the fence roles and those with their
    // privileges (superusers only when named), never the migration and subscription users.
    let rows = src
        .query(
            "SELECT m.rolname::text,
                    (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user)
                    OR pg_catalog.pg_has_role(current_user, 'pg_signal_backend', 'USAGE')
                       AND NOT m.rolsuper
                    OR pg_catalog.pg_has_role(current_user, m.oid, 'USAGE') AND NOT m.rolsuper,
                    EXISTS (SELECT 1 FROM pg_catalog.pg_db_role_setting s, unnest(s.setconfig) c,
                                          pg_catalog.pg_database d
                             WHERE s.setrole = m.oid AND s.setdatabase IN (0, d.oid)
                               AND d.datname = $3
                               AND c LIKE 'default\\_transaction\\_read\\_only=%')
               FROM pg_catalog.pg_roles m
              WHERE m.rolcanlogin AND m.rolname <> current_user AND NOT m.rolname = ANY($2)
                AND EXISTS (SELECT 1 FROM unnest($1::text[]) f
                             WHERE m.rolname = f
                                OR NOT m.rolsuper AND pg_catalog.pg_has_role(m.oid, f, 'USAGE'))
              ORDER BY 1",
            &[&roles, &excluded, &db],
        )
        .await
        .map_err(|e| on_src(e, db))?;
    let mut session_roles = Vec::new();
    let mut cannot_signal = Vec::new();
    let mut own_setting = Vec::new();
    for r in &rows {
        let name: String = r.get(0);
        if !r.get::<_, Option<bool>>(1).unwrap_or(false) {
            cannot_signal.push(quote_ident(&name));
        }
        if r.get::<_, bool>(2) {
            own_setting.push(quote_ident(&name));
        }
        session_roles.push(name);
    }
    if !cannot_signal.is_empty() {
        return Err(refuse(
            db,
            format!(
                "the fence ends the sessions of the application roles, and {} may not end those \
                 of {}: GRANT pg_signal_backend TO {} on the source (superusers' sessions need a \
                 superuser), or name the roles to fence with {}",
                quote_ident(me),
                cannot_signal.join(", "),
                quote_ident(me),
                Setting::FenceRoles
            ),
        )
        .with_remedy(Remedy::Grant {
            statement: format!("GRANT pg_signal_backend TO {}", quote_ident(me)),
            side: Side::Source,
        }));
    }
    if !own_setting.is_empty() {
        return Err(refuse(
            db,
            format!(
                "roles {} have their own default_transaction_read_only setting (ALTER ROLE ... \
                 SET), which overrides the database's, so the fence would not hold for their new \
                 sessions: ALTER ROLE ... RESET default_transaction_read_only, or leave them out \
                 with {}",
                own_setting.join(", "),
                Setting::FenceRoles
            ),
        ));
    }
    Ok(session_roles)
}

/// The sessions of `roles` in `db`, without our own and the walsenders. Only what every user
/// may see of another role's session is used (its pid and user name: `pg_stat_activity` hides
/// `backend_start`, `state` and `xact_start` from a user with only `pg_signal_backend`).
const FENCED_PIDS: &str = "SELECT a.pid FROM pg_catalog.pg_stat_activity a
      WHERE a.datname = $1 AND a.usename = ANY($2) AND a.pid <> pg_catalog.pg_backend_pid()
        AND (a.backend_type IS NULL OR a.backend_type = 'client backend')
        AND a.pid NOT IN (SELECT r.pid FROM pg_catalog.pg_stat_replication r)";

/// How many of `pids` have a transaction in flight that wrote (holds its transaction id's
/// lock: `pg_locks` shows every session's locks to every user).
const WRITING: &str = "SELECT count(DISTINCT l.pid) FROM pg_catalog.pg_locks l
      WHERE l.pid = ANY($1) AND l.locktype = 'transactionid' AND l.mode = 'ExclusiveLock'
        AND l.granted";

pub(super) async fn fenced_pids(src: &Session, db: &str, roles: &[String]) -> Result<Vec<i32>> {
    Ok(src
        .query(FENCED_PIDS, &[&db, &roles])
        .await
        .map_err(|e| on_src(e, db))?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

/// Applies the fence planned by [`readiness`]: the record and the setting in one transaction,
/// then, after waiting at most `drain` for their transactions in flight, ends the sessions of
/// the fenced roles that existed when it committed. Sessions that start later are read-only;
/// the few of them that are in the list taken just after the commit are ended too, which
/// costs them a reconnection. On an error after the setting committed, the caller lifts the
/// fence ([`lift`]).
pub async fn apply(src: &Session, plan: &FencePlan, drain: Duration) -> Result<Applied> {
    commit_fence(src, plan).await?;
    let drained = wait_in_flight(src, plan, drain).await?;
    let ended = end_sessions(src, plan, drained.pids).await?;
    Ok(Applied {
        sessions_ended: ended,
        drain_seconds: drained.drain_seconds,
        in_flight_at_end: drained.in_flight as u64,
    })
}

/// The record and the setting, in one transaction; the database registered as fenced.
async fn commit_fence(src: &Session, plan: &FencePlan) -> Result<()> {
    let db = plan.database.as_str();
    let record = serde_json::to_string(&plan.record).expect("record serializes");
    let q = quote_ident(db);
    let mut sql = String::from("BEGIN READ WRITE; ");
    if !plan.earlier {
        sql.push_str(&format!(
            "COMMENT ON DATABASE {q} IS {}; ",
            quote_literal(&format!("{FENCE_MARK}{record}"))
        ));
    }
    sql.push_str(&format!(
        "ALTER DATABASE {q} SET default_transaction_read_only = on; COMMIT"
    ));
    if let Err(e) = src.batch_execute(&sql).await {
        let _ = src.batch_execute("ROLLBACK").await;
        return Err(on_src(e, db).context("the fence could not be applied; nothing was changed"));
    }
    registry().push(db.to_owned());
    Ok(())
}

/// What waiting for the transactions in flight found.
struct Drained {
    /// The fenced roles' sessions, listed after the commit (twice).
    pids: Vec<i32>,
    /// Time spent waiting.
    drain_seconds: f64,
    /// Sessions with a transaction in flight when the wait ended.
    in_flight: i64,
}

/// Waits at most `drain` for the fenced sessions' transactions in flight.
async fn wait_in_flight(src: &Session, plan: &FencePlan, drain: Duration) -> Result<Drained> {
    let db = plan.database.as_str();
    // Every session that can write started before the commit and is listed now (a backend is
    // listed before it runs a statement); a second look a moment later catches one that was
    // still starting.
    let mut pids = fenced_pids(src, db, &plan.session_roles).await?;
    let started = Instant::now();
    let mut in_flight: i64;
    let mut second_look = false;
    loop {
        in_flight = src
            .query_one(WRITING, &[&pids])
            .await
            .map_err(|e| on_src(e, db))?
            .get(0);
        if !second_look && started.elapsed() >= Duration::from_millis(20) {
            second_look = true;
            for p in fenced_pids(src, db, &plan.session_roles).await? {
                if !pids.contains(&p) {
                    pids.push(p);
                }
            }
            continue;
        }
        if (in_flight == 0 && second_look) || started.elapsed() >= drain {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10).min(drain)).await;
    }
    if !second_look {
        for p in fenced_pids(src, db, &plan.session_roles).await? {
            if !pids.contains(&p) {
                pids.push(p);
            }
        }
    }
    let drain_seconds = started.elapsed().as_secs_f64();
    Ok(Drained {
        pids,
        drain_seconds,
        in_flight,
    })
}

/// Ends the sessions `pids` (and the fenced roles' sessions that show up late, until the
/// looks are quiet). Returns how many were ended.
async fn end_sessions(src: &Session, plan: &FencePlan, mut pids: Vec<i32>) -> Result<u64> {
    let db = plan.database.as_str();
    let mut ended = 0u64;
    let mut signalled: Vec<i32> = Vec::new();
    let ending = Instant::now();
    let mut quiet_looks = 0;
    let mut settle_started: Option<Instant> = None;
    loop {
        let alive: Vec<i32> = src
            .query(
                "SELECT a.pid FROM pg_catalog.pg_stat_activity a WHERE a.pid = ANY($1)",
                &[&pids],
            )
            .await
            .map_err(|e| on_src(e, db))?
            .iter()
            .map(|r| r.get(0))
            .collect();
        if alive.is_empty() {
            // A session that started before the fence committed but was not yet listed (a
            // backend shows its user in pg_stat_activity only once it has started, which on a
            // loaded server can take longer than the second look) would keep writing past the
            // barrier, and its rows would never reach the target. So the fenced roles'
            // sessions are listed again until three looks 50 ms apart find none not ended
            // yet; later sessions are read-only, and one listed here only costs a
            // reconnection. An application that reconnects at once keeps the looks from being
            // quiet, so they stop 300 ms after the first round of sessions ended: the window
            // pays that at most.
            let settling = *settle_started.get_or_insert_with(Instant::now);
            if quiet_looks >= 3 || settling.elapsed() >= Duration::from_millis(300) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            let late: Vec<i32> = fenced_pids(src, db, &plan.session_roles)
                .await?
                .into_iter()
                .filter(|p| !signalled.contains(p))
                .collect();
            if late.is_empty() {
                quiet_looks += 1;
            } else {
                quiet_looks = 0;
                pids.extend(late);
            }
            continue;
        }
        let fresh: Vec<i32> = alive
            .iter()
            .copied()
            .filter(|p| !signalled.contains(p))
            .collect();
        if !fresh.is_empty() {
            let n: i64 = src
                .query_one(
                    "SELECT count(*) FILTER (WHERE pg_catalog.pg_terminate_backend(p))
                       FROM unnest($1::int4[]) p",
                    &[&fresh],
                )
                .await
                .map_err(|e| on_src(e, db))?
                .get(0);
            ended += n as u64;
            signalled.extend(fresh);
        }
        if ending.elapsed() >= Duration::from_secs(10) {
            return Err(Error::new(
                ErrorKind::Sql,
                format!(
                    "{} sessions of the fenced roles did not end within 10 s",
                    alive.len()
                ),
            )
            .with_side(Side::Source)
            .with_database(db));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(ended)
}

/// Lifts the fence of `db` exactly as [`apply`] recorded it: the database's setting as it was
/// before (reset, or its earlier value) and its earlier comment, in one transaction. A comment
/// someone changed since the fence is left as it is.
pub async fn lift(src: &Session, db: &str, record: &FenceRecord) -> Result<String> {
    let q = quote_ident(db);
    let current = db_state(src, db).await?;
    let mut sql = String::from("BEGIN READ WRITE; ");
    let mut done = Vec::new();
    match &record.read_only_before {
        None => {
            sql.push_str(&format!(
                "ALTER DATABASE {q} RESET default_transaction_read_only; "
            ));
            done.push("default_transaction_read_only reset".to_owned());
        }
        Some(v) => {
            sql.push_str(&format!(
                "ALTER DATABASE {q} SET default_transaction_read_only = {}; ",
                quote_literal(v)
            ));
            done.push(format!("default_transaction_read_only = {v} again"));
        }
    }
    if parse_record(current.comment.as_deref()).is_some() {
        let before = record
            .comment_before
            .as_deref()
            .map(quote_literal)
            .unwrap_or_else(|| "NULL".into());
        sql.push_str(&format!("COMMENT ON DATABASE {q} IS {before}; "));
        done.push("its comment put back".to_owned());
    }
    sql.push_str("COMMIT");
    if let Err(e) = src.batch_execute(&sql).await {
        let _ = src.batch_execute("ROLLBACK").await;
        return Err(on_src(e, db).context("the fence could not be lifted"));
    }
    registry().retain(|d| d != db);
    // The fenced roles' sessions opened while the fence stood took its read-only default for
    // their whole life: ended, the application reconnects writable (the fence ended every
    // earlier one, so each still there is such a session).
    match end_read_only_sessions(src, db, &record.roles).await {
        Ok(0) => {}
        Ok(n) => done.push(format!(
            "{n} session{} opened read-only during the fence ended",
            if n == 1 { "" } else { "s" }
        )),
        Err(e) => done.push(format!(
            "the sessions opened read-only during the fence could not be ended ({e}); they \
             stay read-only until they reconnect"
        )),
    }
    Ok(done.join(", "))
}

/// Ends the sessions of `roles` on database `db` (not this one); returns how many.
async fn end_read_only_sessions(src: &Session, db: &str, roles: &[String]) -> Result<u64> {
    if roles.is_empty() {
        return Ok(0);
    }
    let rows = src
        .query(
            "SELECT pg_catalog.pg_terminate_backend(a.pid)
               FROM pg_catalog.pg_stat_activity a
              WHERE a.datname = $1 AND a.usename = ANY($2)
                AND a.pid <> pg_catalog.pg_backend_pid()",
            &[&db, &roles],
        )
        .await
        .map_err(|e| on_src(e, db))?;
    Ok(rows.iter().filter(|r| r.get::<_, bool>(0)).count() as u64)
}

/// The cut-over succeeded: the fence stays on purpose (no longer "left" by an interrupt).
pub(super) fn keep(db: &str) {
    registry().retain(|d| d != db);
}

/// One database [`unfence`] looked at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unfenced {
    /// `source` or `target` (after `--fail-back` the target is the fenced one).
    pub server: &'static str,
    pub database: String,
    /// What was put back, or why it could not be.
    pub message: String,
    pub ok: bool,
}

/// `--unfence`: lifts the fences recorded on one server (`server` names it in the result) (every database whose comment
/// holds a fence record, restricted by `only` and `filtered` as `--only-db` and `-f` do),
/// exactly as recorded. Needs one session to any database of the source.
pub async fn unfence(
    server: &'static str,
    conninfo: &ConnInfo,
    only: &[String],
    filtered: &[String],
) -> Result<Vec<Unfenced>> {
    let src = crate::conn::connect(conninfo, None).await?;
    let rows = src
        .query(
            "SELECT d.datname::text, pg_catalog.shobj_description(d.oid, 'pg_database')
               FROM pg_catalog.pg_database d
              WHERE pg_catalog.shobj_description(d.oid, 'pg_database') LIKE $1 || '%'
              ORDER BY 1",
            &[&FENCE_MARK],
        )
        .await
        .map_err(|e| Error::from(e).with_side(Side::Source))?;
    let mut out = Vec::new();
    for r in rows {
        let db: String = r.get(0);
        if (!only.is_empty() && !only.contains(&db)) || filtered.contains(&db) {
            continue;
        }
        let comment: Option<String> = r.get(1);
        let Some(record) = parse_record(comment.as_deref()) else {
            out.push(Unfenced {
                server,
                database: db,
                message: "the fence record in the database's comment cannot be read; reset \
                          default_transaction_read_only and the comment by hand"
                    .into(),
                ok: false,
            });
            continue;
        };
        match lift(&src, &db, &record).await {
            Ok(done) => out.push(Unfenced {
                server,
                database: db,
                message: format!("fence lifted: {done}"),
                ok: true,
            }),
            Err(e) => out.push(Unfenced {
                server,
                database: db,
                message: e.to_string(),
                ok: false,
            }),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_survives_its_comment() {
        let r = FenceRecord {
            read_only_before: None,
            comment_before: Some("the shop's 'main' db".into()),
            roles: vec!["app".into()],
        };
        let c = format!("{FENCE_MARK}{}", serde_json::to_string(&r).unwrap());
        assert_eq!(parse_record(Some(&c)), Some(r));
        assert_eq!(parse_record(Some("a user's comment")), None);
        assert_eq!(parse_record(None), None);
    }
}
