//! Following the source's schema while a run waits on its replication: every
//! [`super::ReplicationOptions::schema_check_interval`] the source's fingerprint is read and
//! compared with the one taken at set-up; what changed is applied on the target, in the order
//! the apply worker needs it:
//!
//! 1. tables and sequences renamed ([`super::follow_relations`]; told from a drop and a
//!    creation by their OID), so that a renamed table is not taken for a new one;
//! 2. tables created on the source ([`super::adopt`]: created, published, copied by the
//!    subscription);
//! 3. sequences and functions ([`super::follow_objects`]), since a new column's default may use
//!    one;
//! 4. columns and enum values ([`super::follow`]), then the older rows of columns added with a
//!    default the target computes otherwise, once they are in ([`super::follow_backfill`]);
//! 5. views, indexes, constraints and triggers ([`super::follow_objects`]), and relations'
//!    privileges, row-level security switches and comments ([`super::follow_access`]);
//! 6. tables dropped (then `REFRESH PUBLICATION`), sequences dropped and sequences whose
//!    options changed ([`super::follow_relations`]).
//!
//! A change that would refuse rows still in flight (a dropped column or table, `SET NOT NULL`,
//! a narrowing type, a constraint, a unique index) is held back until the rows from before it
//! are applied: the source's WAL position is read after the check first saw the change held
//! back, and once the subscription confirmed it, every row committed before the change is on
//! the target. The check that holds a change back waits a moment ([`RIPE_WAIT`]) for that and
//! tries the change itself, so a refusal comes within one check interval of the change. A
//! rename, which rows from before it and after it both need, goes when those rows are in, or
//! when the apply worker stops on a row that needs it (its error count grows, or the lag stops
//! falling). What is still held back when the run cuts over is applied once the target caught
//! up, before anything is dropped.
//!
//! A change the target refuses ends the run at that check, naming the object, the statement,
//! the server's reason and SQLSTATE, and disables the subscription (`ALTER SUBSCRIPTION ...
//! DISABLE`): its apply worker would otherwise retry the rows that need the change every few
//! seconds until the timeout. The cut-over run enables it again once the operator applied the
//! change (see `earlier_run`).

use std::collections::{BTreeMap, BTreeSet};

use tracing::{info, warn};

use super::follow::{
    self, Followed, Gate, Position, SchemaChangeApplied, When, unix_now, unplaced,
};
use super::follow_access;
use super::follow_backfill::{self, Backfill};
use super::follow_objects::{AFTER_COLUMNS, BEFORE_COLUMNS, Drift, follow_objects};
use super::follow_relations::{self, Moving};
use super::session::Replicating;
use super::{Fingerprint, ObjectNames, Refusal, adopt, objects, on_source, on_target};
use crate::catalog::replication::{publication, state};
use crate::error::Result;
use crate::remedy::Setting;
use crate::sql::{quote_ident, quote_literal};
use crate::warning::Warning;

/// How long a check waits, at most, for the rows from before a change it held back to be
/// applied, before it leaves the change to the next check; never more than half the check
/// interval, so that the checks keep their pace (a worker that waits on a rename does not
/// confirm anything until the rename is applied).
const RIPE_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// How long a check's read of the source waits for a lock (see
/// [`Following::bound_lock_waits`]).
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

pub use super::follow::object_of;

/// What the steps of one pass share: the gate, the post-data objects applied before (see
/// [`Followed::memo`]) and what changed.
struct Step<'a> {
    gate: &'a Gate<'a>,
    memo: BTreeMap<String, String>,
    drift: Drift<'a>,
}

/// Takes a step's result into `this`: `false`, with a warning, when the step could not read
/// (tried again at the next check; the steps after it wait, see [`Following::pass`]).
fn take(this: &mut Followed, r: Result<Followed>, what: &str, dbname: &str) -> bool {
    match r {
        Ok(f) => {
            this.merge(f);
            true
        }
        Err(e) => {
            warn!(database = %dbname, "could not follow the source's {what} (tried again at the next check): {e}");
            false
        }
    }
}

/// One database's schema following (see the module docs).
pub(super) struct Following<'a> {
    r: Replicating<'a>,
    names: &'a ObjectNames,
    /// The fingerprint taken at set-up; `None` (not recorded) follows nothing.
    baseline: Option<Fingerprint>,
    /// The fingerprint the previous check read: what differs from it was seen now.
    last: Option<Fingerprint>,
    /// The source's objects changed since the set-up (see [`Fingerprint::changes`]).
    pub drift: Vec<String>,
    pub followed: Followed,
    pub adopted: adopt::Adopted,
    /// When each object was last seen changed on the source (Unix seconds).
    seen: BTreeMap<String, f64>,
    /// Objects gone from the source during this run (`index public.i`): one created and
    /// dropped since the set-up is in no drift entry, and the target may have it.
    gone: BTreeSet<String>,
    /// Objects with changes held back, the source's WAL position read after they were seen,
    /// and when it was read (Unix seconds).
    pending_lsn: BTreeMap<String, Position>,
    /// The apply worker's error count at the previous look (PostgreSQL 15+).
    apply_errors: Option<i64>,
    /// Tables and sequences renamed on the source since the set-up (`(key then, key now)`).
    pub renamed: Vec<(String, String)>,
    /// The tables whose rename or drop the target has not followed yet.
    moving: Moving,
    /// The change the target refused, once one stopped the replication.
    pub refusal: Option<Refusal>,
    /// Columns added whose older rows wait for the source's values (see
    /// [`super::follow_backfill`]).
    backfills: Vec<Backfill>,
}

impl<'a> Following<'a> {
    pub fn new(r: Replicating<'a>, names: &'a ObjectNames, baseline: Option<Fingerprint>) -> Self {
        Following {
            r,
            names,
            last: baseline.clone(),
            baseline,
            drift: Vec::new(),
            followed: Followed::default(),
            adopted: adopt::Adopted::default(),
            seen: BTreeMap::new(),
            gone: BTreeSet::new(),
            pending_lsn: BTreeMap::new(),
            apply_errors: None,
            renamed: Vec::new(),
            moving: Moving::default(),
            refusal: None,
            backfills: Vec::new(),
        }
    }

    /// Whether changes that may go `when` are held back.
    pub fn pending(&self, when: When) -> bool {
        self.followed.pending.contains(&when)
    }

    /// Whether the apply worker failed since the previous look (it waits on a row that needs a
    /// change held back, e.g. a renamed column).
    pub async fn worker_failing(&mut self) -> bool {
        let Ok(Some((errors, _))) =
            state::subscription_error_counts(self.r.tgt, &self.names.subscription).await
        else {
            return false;
        };
        let grew = self.apply_errors.is_some_and(|e| errors > e);
        self.apply_errors = Some(errors);
        grew
    }

    /// Brings tables created on the source since the set-up into the replication. Returns
    /// whether there were any. Its source reads wait for locks no longer than a check's do
    /// ([`Following::bound_lock_waits`]); one that gave up is tried again at the next check.
    pub async fn adopt(&mut self) -> Result<bool> {
        let earlier = self.bound_lock_waits().await?;
        let result = self.adopt_bounded().await;
        self.restore_lock_waits(&earlier).await?;
        match result {
            Err(e) if e.sqlstate() == Some(&crate::error::SqlState::LOCK_NOT_AVAILABLE) => {
                warn!(database = %self.r.dbname, "tables created on the source: {e}; tried again at the next check");
                Ok(false)
            }
            other => other,
        }
    }

    async fn adopt_bounded(&mut self) -> Result<bool> {
        let Replicating {
            src,
            tgt,
            tfacts,
            dbname,
            opts,
            ..
        } = self.r;
        let a = adopt::adopt_new_tables(
            src,
            tgt,
            tfacts,
            self.names,
            opts.schema,
            opts.tables.as_deref().filter(|t| !t.is_empty()),
            &self.moving.renaming,
        )
        .await
        .map_err(|e| {
            e.with_database(dbname)
                .with_step("adding tables created during replication")
                .context("nothing was dropped: the replication keeps running")
        })?;
        if a.is_empty() {
            return Ok(false);
        }
        info!(database = %dbname, "{}", a.describe());
        let now = unix_now();
        for t in a.all_tables() {
            let object = format!("table {t}");
            self.followed.applied.push(SchemaChangeApplied::applied(
                format!(
                    "{object} created on the target and added to the replication (the \
                     subscription copies its rows)"
                ),
                format!("ALTER SUBSCRIPTION ... REFRESH PUBLICATION for {t}"),
                self.seen.get(&object).copied().unwrap_or(now),
            ));
        }
        self.adopted.merge(a);
        Ok(true)
    }

    /// Applies on the target what changed on the source and may go `until` now (see the
    /// module docs). Fails, naming it, when the target refused a change; the subscription is
    /// disabled then.
    pub async fn check(&mut self, until: When) -> Result<()> {
        let Some(base) = self.baseline.clone() else {
            return Ok(());
        };
        if !self.read_source(&base).await {
            return Ok(());
        }
        if self.drift.is_empty() && self.gone.is_empty() {
            return Ok(());
        }
        let earlier = self.bound_lock_waits().await?;
        let result = self.passes(&base, until).await;
        self.restore_lock_waits(&earlier).await?;
        result?;
        self.stop_on_refusal().await
    }

    /// Puts back the `lock_timeout` [`Following::bound_lock_waits`] returned, for what else
    /// uses the session (the cut-over's own statements).
    async fn restore_lock_waits(&self, earlier: &str) -> Result<()> {
        self.r
            .src
            .batch_execute(&format!("SET lock_timeout = {}", quote_literal(earlier)))
            .await
            .map_err(|e| on_source(crate::error::Error::from_pg(e), self.r.dbname))
    }

    /// Bounds the lock waits of the check's source reads to [`LOCK_WAIT`] and returns the
    /// session's `lock_timeout` before. The application's DDL takes an exclusive lock: queued
    /// behind a lock a read of ours holds, with another of our reads queued behind it, it
    /// waits on us and we on it, unseen by the deadlock detector, and with it every write of
    /// the application to that table. A read that gives up is a warning; the next check
    /// reads again.
    async fn bound_lock_waits(&self) -> Result<String> {
        let src = self.r.src;
        let on_src = |e| on_source(crate::error::Error::from_pg(e), self.r.dbname);
        let earlier: String = src
            .query_one("SHOW lock_timeout", &[])
            .await
            .map_err(on_src)?
            .get(0);
        src.batch_execute(&format!("SET lock_timeout = '{}ms'", LOCK_WAIT.as_millis()))
            .await
            .map_err(on_src)?;
        Ok(earlier)
    }

    /// The check's passes (see [`Following::check`]).
    async fn passes(&mut self, base: &Fingerprint, until: When) -> Result<()> {
        let ripe = self.ripe().await?;
        let this = self.pass(base, until, &ripe).await?;
        let fresh = self.absorb(this).await?;
        // A change held back for the rows before it is tried in this same check once they
        // are in (usually within a second): a refusal then stops the replication within one
        // check interval of the change, not two.
        if fresh && self.followed.refused.is_empty() && self.wait_ripe().await? {
            let ripe = self.ripe().await?;
            let this = self.pass(base, until, &ripe).await?;
            self.absorb(this).await?;
        }
        Ok(())
    }

    /// Reads the source's fingerprint and notes what changed since the previous check (when
    /// each object was seen, what went, the renames). `false` when it could not be read.
    async fn read_source(&mut self, base: &Fingerprint) -> bool {
        let dbname = self.r.dbname;
        let now = match Fingerprint::read(self.r.src).await {
            Ok(f) => f,
            Err(e) => {
                warn!(database = %dbname, "could not read the source's schema fingerprint: {e}");
                return false;
            }
        };
        let at = unix_now();
        let last = self.last.as_ref().unwrap_or(base);
        for d in last.changes(&now) {
            let object = object_of(&d).to_owned();
            if d.ends_with(" removed") {
                self.gone.insert(object.clone());
            } else {
                self.gone.remove(&object);
            }
            self.seen.insert(object, at);
        }
        if base.has_oids() {
            self.renamed = base.renames(&now);
        } else {
            // Stored without OIDs: the renames this run saw, chained (a -> b -> c is a -> c).
            for (from, to) in last.renames(&now) {
                match self.renamed.iter_mut().find(|(_, t)| *t == from) {
                    Some(r) => r.1 = to,
                    None => self.renamed.push((from, to)),
                }
            }
            self.renamed.retain(|(from, to)| from != to);
        }
        let drift = base.changes(&now);
        self.last = Some(now);
        if drift != self.drift && !drift.is_empty() {
            warn!(database = %dbname, "schema changed on the source: {}", drift.join(", "));
        }
        self.drift = drift;
        true
    }

    /// The objects whose held-back changes may go: the subscription confirmed the source's
    /// WAL position read after they were seen.
    async fn ripe(&self) -> Result<BTreeSet<String>> {
        let mut ripe = BTreeSet::new();
        for (object, Position { lsn, .. }) in &self.pending_lsn {
            let confirmed = state::slot_confirmed(self.r.src, &self.names.slot, lsn)
                .await
                .map_err(|e| on_source(e, self.r.dbname))?;
            if confirmed == Some(true) {
                ripe.insert(object.clone());
            }
        }
        Ok(ripe)
    }

    /// Waits up to [`RIPE_WAIT`] for the rows before a held-back change to be applied.
    /// Returns whether some are.
    async fn wait_ripe(&self) -> Result<bool> {
        let bound = RIPE_WAIT.min(self.r.opts.schema_check_interval / 2);
        let until = std::time::Instant::now() + bound;
        while std::time::Instant::now() < until {
            if !self.ripe().await?.is_empty() {
                return Ok(true);
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        Ok(false)
    }

    /// One pass over what changed, in the order of the module docs, gated by `until` and
    /// `ripe`: the tables that move (renamed or dropped) first, so that the steps after know
    /// which objects go with them; new tables; the objects and columns; the drops last, as they
    /// wait for the rows before them. A step that could not read (a lock it would wait for, an
    /// object dropped while it read) goes again at the next check, and the steps after it wait
    /// with it: they may need what it creates (a trigger its function).
    async fn pass(
        &mut self,
        base: &Fingerprint,
        until: When,
        ripe: &BTreeSet<String>,
    ) -> Result<Followed> {
        let seen = self.seen.clone();
        let gate = Gate {
            until,
            ripe,
            seen: &seen,
        };
        let mut this = Followed::default();
        let moving = self.follow_moves(&gate, &mut this).await?;
        self.adopt_if_new().await?;
        // The drift, and what went during this run (dropped on the target if it has it).
        let mut wanted = self.drift.clone();
        wanted.extend(self.gone.iter().map(|o| format!("{o} removed")));
        wanted.dedup();
        let renamed = self.renamed.clone();
        let step = Step {
            gate: &gate,
            memo: self.followed.memo.clone(),
            drift: Drift {
                entries: &wanted,
                baseline: base,
                moving: &moving,
                renamed: &renamed,
                columns_held: false,
            },
        };
        if self.follow_shapes(&step, &mut this).await {
            self.follow_backfills(&gate, &mut this).await;
            let Replicating { src, tgt, .. } = self.r;
            let access = follow_access::follow_access(src, tgt, &self.drift, &gate, &mut this);
            if let Err(e) = access.await {
                let dbname = self.r.dbname;
                warn!(database = %dbname, "could not follow the source's privileges or comments: {e}");
            }
            self.follow_drops(&step, &mut this).await?;
        }
        Ok(this)
    }

    /// The renames of tables and sequences (applied when the gate admits them), and the
    /// tables dropped on the source that the target still has: the [`Moving`] tables whose
    /// own objects the later steps leave alone, as they come and go with their table.
    async fn follow_moves(&mut self, gate: &Gate<'_>, this: &mut Followed) -> Result<Moving> {
        let Replicating {
            src, tgt, dbname, ..
        } = self.r;
        let mut moving = match follow_relations::follow_renames(src, tgt, &self.renamed, gate).await
        {
            Ok((f, m)) => {
                this.merge(f);
                m
            }
            Err(e) => {
                warn!(database = %dbname, "could not follow the source's renamed tables: {e}");
                Moving::default()
            }
        };
        moving.dropping = follow_relations::dropping(
            tgt,
            &self.names.subscription,
            &self.drift,
            &self.renamed,
            &self.moving.dropping,
        )
        .await
        .map_err(|e| on_target(e, dbname))?;
        if self.drift.iter().any(|d| d.ends_with(" changed")) {
            moving.detaching = follow_relations::detaching(src, tgt, &self.drift)
                .await
                .map_err(|e| e.with_database(dbname))?;
            moving.attaching = follow_relations::attaching(src, tgt, &self.drift)
                .await
                .map_err(|e| e.with_database(dbname))?;
        }
        self.moving = moving.clone();
        Ok(moving)
    }

    /// Brings in the tables created on the source that no earlier step took in: not a
    /// renamed table's new name (the target renames its own), nor one adopted already.
    async fn adopt_if_new(&mut self) -> Result<()> {
        let renamed = &self.renamed;
        let is_renamed = |d: &str| renamed.iter().any(|(_, to)| object_of(d) == to);
        let new_table = self.drift.iter().any(|d| {
            d.starts_with("table ")
                && d.ends_with(" added")
                && !self.adopted.covers(d)
                && !is_renamed(d)
        });
        if new_table {
            self.adopt().await?;
        }
        Ok(())
    }

    /// Sequences and functions, then the columns and enum values (when a table or type
    /// changed), then views, indexes, constraints and triggers: each may need what the one
    /// before creates. Returns whether every step could read (see [`Following::pass`]).
    async fn follow_shapes(&self, step: &Step<'_>, this: &mut Followed) -> bool {
        let Replicating {
            src, tgt, dbname, ..
        } = self.r;
        let (gate, memo, schema) = (step.gate, &step.memo, self.r.opts.schema);
        let before = follow_objects(src, tgt, BEFORE_COLUMNS, step.drift, gate, memo, schema);
        if !take(this, before.await, "sequences and functions", dbname) {
            return false;
        }
        let columns_changed = self.drift.iter().any(|d| {
            (d.starts_with("table ") || d.starts_with("type ")) && d.ends_with(" changed")
        });
        if columns_changed
            && !take(
                this,
                follow::follow_columns(src, tgt, gate).await,
                "column changes",
                dbname,
            )
        {
            return false;
        }
        // A view or index on a column whose rename (or addition) is held back waits for it.
        let drift = Drift {
            columns_held: this.pending_objects.iter().any(|o| o.starts_with("table ")),
            ..step.drift
        };
        let after = follow_objects(src, tgt, AFTER_COLUMNS, drift, gate, memo, schema);
        take(
            this,
            after.await,
            "views, indexes, constraints and triggers",
            dbname,
        )
    }

    /// The columns added whose older rows take the source's values once the rows from before
    /// their `ADD COLUMN` are in (held back until then); a copy that fails is a refusal.
    async fn follow_backfills(&mut self, gate: &Gate<'_>, this: &mut Followed) {
        for b in std::mem::take(&mut this.backfills) {
            if !self.backfills.contains(&b) {
                self.backfills.push(b);
            }
        }
        let Replicating { src, tgt, .. } = self.r;
        let mut left = Vec::new();
        for b in std::mem::take(&mut self.backfills) {
            let object = b.object();
            if !gate.admits(When::InSync, &object) {
                this.pending.push(When::InSync);
                this.pending_objects.insert(object);
                left.push(b);
                continue;
            }
            let seen = gate.seen.get(&object).copied().unwrap_or_else(unix_now);
            let sub = &self.names.subscription;
            match follow_backfill::backfill(src, tgt, sub, self.r.tfacts, &b).await {
                Ok(filled) => {
                    info!(
                        database = %self.r.dbname,
                        "schema change followed on the target: {} ({} rows)",
                        b.describe(),
                        filled.rows
                    );
                    let statement = follow_backfill::reported(&filled);
                    let applied = SchemaChangeApplied::applied(b.describe(), statement, seen);
                    this.applied.push(applied);
                }
                Err(e) => {
                    let tried = follow::Tried {
                        object: &object,
                        describe: &b.describe(),
                        sql: &follow_backfill::statement(&b),
                        seen,
                    };
                    follow::refuse(this, tried, &e);
                }
            }
        }
        self.backfills = left;
    }

    /// The tables dropped and partitions detached or attached on the source (once the rows before are
    /// in), the sequences dropped or changed; after a table's drop or detach, `REFRESH
    /// PUBLICATION` (and the detached tables a table list no longer holds published by
    /// themselves), and the objects that waited on them are levelled (what belonged to a
    /// table went with it; a detached partition's constraints are its own now).
    async fn follow_drops(&mut self, step: &Step<'_>, this: &mut Followed) -> Result<()> {
        let Replicating {
            src, tgt, dbname, ..
        } = self.r;
        let Drift {
            entries,
            moving,
            renamed,
            ..
        } = step.drift;
        let drops = follow_relations::follow_drops_and_sequences(
            src,
            tgt,
            entries,
            &moving.dropping,
            renamed,
            step.gate,
        )
        .await;
        let before = this.applied.len();
        take(this, drops, "dropped tables and sequences", dbname);
        let recopy = !moving.detaching.is_empty() && !self.publishes_all_tables().await?;
        this.merge(
            follow_relations::follow_detaches(tgt, &moving.detaching, recopy, step.gate).await,
        );
        this.merge(follow_relations::follow_attaches(tgt, &moving.attaching, step.gate).await);
        let moved = |a: &SchemaChangeApplied| {
            a.change.starts_with("table ")
                && (a.change.ends_with(" dropped")
                    || a.change.contains(" detached from ")
                    || a.change.contains(" attached to "))
        };
        if !this.applied[before..].iter().any(moved) {
            return Ok(());
        }
        self.refresh_after_drop(this).await;
        if recopy
            && this.applied[before..]
                .iter()
                .any(|a| a.change.contains(" detached from "))
        {
            self.adopt().await?;
        }
        self.level_after_moves(step, this).await
    }

    /// After tables were dropped or partitions detached on the target: the views, indexes,
    /// constraints and triggers that waited on them are followed again with those tables no
    /// longer moving (what belonged to a dropped table went with it; a detached partition's
    /// constraints are its own now, as on the source).
    async fn level_after_moves(&self, step: &Step<'_>, this: &mut Followed) -> Result<()> {
        let Replicating {
            src, tgt, dbname, ..
        } = self.r;
        let moving = step.drift.moving;
        let mut after = moving.clone();
        after.dropping = follow_relations::dropping(
            tgt,
            &self.names.subscription,
            &self.drift,
            step.drift.renamed,
            &moving.dropping,
        )
        .await
        .map_err(|e| on_target(e, dbname))?;
        after
            .detaching
            .retain(|t, _| this.pending_objects.contains(&format!("table {t}")));
        after
            .attaching
            .retain(|t, _| this.pending_objects.contains(&format!("table {t}")));
        let drift = Drift {
            moving: &after,
            ..step.drift
        };
        let (gate, memo, schema) = (step.gate, &step.memo, self.r.opts.schema);
        let level = follow_objects(src, tgt, AFTER_COLUMNS, drift, gate, memo, schema).await;
        take(
            this,
            level,
            "views, indexes, constraints and triggers",
            dbname,
        );
        Ok(())
    }

    /// Whether the publication is `FOR ALL TABLES` (a detached partition stays published).
    async fn publishes_all_tables(&self) -> Result<bool> {
        let all = publication::publication_is_all_tables(self.r.src, &self.names.publication)
            .await
            .map_err(|e| on_source(e, self.r.dbname))?;
        Ok(all.unwrap_or(true))
    }

    /// `REFRESH PUBLICATION` once tables were dropped or partitions detached: the target's
    /// `DROP TABLE` took them out of the subscription and the source's out of a `FOR TABLE`
    /// publication (a detach out of a list that names the partitioned table); the refresh
    /// makes the subscription's list the publication's again.
    async fn refresh_after_drop(&self, this: &mut Followed) {
        let sub = &self.names.subscription;
        match objects::refresh_subscription(self.r.tgt, sub, self.r.tfacts).await {
            Ok(()) => {
                for a in this.applied.iter_mut().filter(|a| {
                    a.change.starts_with("table ")
                        && (a.change.ends_with(" dropped") || a.change.contains(" detached from "))
                }) {
                    a.statement.push_str(&format!(
                        "; ALTER SUBSCRIPTION {} REFRESH PUBLICATION",
                        quote_ident(sub)
                    ));
                }
            }
            Err(e) => this.warnings.push(Warning::replication(format!(
                "tables dropped on the source were dropped on the target, but the subscription \
                 {} could not be refreshed: {e}",
                quote_ident(sub)
            ))),
        }
    }

    /// Takes one pass's result in: what was applied, and what is held back now, with the
    /// source's WAL position after it. Returns whether changes were held back for the first
    /// time.
    async fn absorb(&mut self, mut this: Followed) -> Result<bool> {
        // Read after the catalogs showed the changes: every row committed before them lies
        // before this position.
        self.pending_lsn
            .retain(|o, _| this.pending_objects.contains(o));
        let unplaced = unplaced(&this.pending_objects, &self.pending_lsn, &self.seen);
        let fresh = !unplaced.is_empty();
        if fresh {
            let at = unix_now();
            let lsn = state::current_wal_lsn(self.r.src)
                .await
                .map_err(|e| on_source(e, self.r.dbname))?;
            for o in unplaced {
                let position = Position {
                    lsn: lsn.clone(),
                    read_at: at,
                };
                self.pending_lsn.insert(o, position);
            }
        }
        let pending = std::mem::take(&mut this.pending);
        let pending_objects = std::mem::take(&mut this.pending_objects);
        self.followed.merge(this);
        // An object with a change held back is not level, whatever another step or an earlier
        // pass found (a partition whose columns are the source's, its detach held back).
        self.followed.level.retain(|o| !pending_objects.contains(o));
        self.followed.pending = pending;
        self.followed.pending_objects = pending_objects;
        Ok(fresh)
    }

    /// The error that ends the run when the target refused a change: the subscription is
    /// disabled first, so that its apply worker does not retry (and fail on) the rows that
    /// need the change, and the message says how to go on. Kept as [`Following::refusal`]
    /// too, for the outcome that lists the changes with it.
    async fn stop_on_refusal(&mut self) -> Result<()> {
        let Some(first) = self.followed.refused.first() else {
            return Ok(());
        };
        let why: Vec<String> = self
            .followed
            .refused
            .iter()
            .map(|w| match &w.object {
                Some(o) => format!("{o}: {}", w.message),
                None => w.message.clone(),
            })
            .collect();
        let sub = quote_ident(&self.names.subscription);
        let disabled = match objects::disable_subscription(
            self.r.tgt,
            &self.names.subscription,
            self.r.tfacts,
        )
        .await
        {
            Ok(()) => format!(
                "the subscription {sub} is disabled so that its apply worker does not retry the \
                 rows that need the change (the source's slot keeps them)"
            ),
            Err(e) => format!(
                "the subscription {sub} could not be disabled ({e}): its apply worker retries \
                 until the change is applied"
            ),
        };
        let before = if self.followed.applied.is_empty() {
            String::new()
        } else {
            format!(
                "; applied before it: {}",
                self.followed.described().join(", ")
            )
        };
        let refusal = Refusal {
            message: format!(
                "replication stopped on a schema change of the source that the target refused: \
                 {}; {disabled}{before}; apply the change on the target by hand (or undo its cause on \
                 the source), then run the cut-over command ({} BYTES \
                 {}), which enables the subscription again and goes on; the \
                 replication objects are kept ({} removes them)",
                why.join("; "),
                Setting::MaxReplicationLag,
                Setting::StopReplication,
                Setting::Cleanup
            ),
            sqlstate: self.followed.refused_sqlstate.clone(),
            object: first.object.clone(),
        };
        let e = refusal.error(self.r.dbname);
        self.refusal = Some(refusal);
        Err(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_drift_entry_names_its_object() {
        assert_eq!(object_of("table public.t changed"), "table public.t");
        assert_eq!(
            object_of("function public.f(integer) added"),
            "function public.f(integer)"
        );
        assert_eq!(
            object_of("index public.\"a removed\" removed"),
            "index public.\"a removed\""
        );
    }
}
