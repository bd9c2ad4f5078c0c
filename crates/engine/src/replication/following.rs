//! Following the source's schema while a run waits on its replication: every
//! [`super::ReplicationOptions::schema_check_interval`] the source's fingerprint is read and
//! compared with the one taken at set-up; what changed is applied on the target, in the order
//! the apply worker needs it:
//!
//! 1. tables created on the source ([`super::adopt`]: created, published, copied by the
//!    subscription);
//! 2. sequences and functions ([`super::follow_objects`]), since a new column's default may use
//!    one;
//! 3. columns and enum values ([`super::follow`]);
//! 4. views, indexes, constraints and triggers ([`super::follow_objects`]).
//!
//! A change that would refuse rows still in flight (a dropped column, `SET NOT NULL`, a
//! narrowing type, a constraint, a unique index) is held back until the rows from before it
//! are applied: the source's WAL position is read after the check first saw the change held
//! back, and once the subscription confirmed it, every row committed before the change is on
//! the target. A rename, which rows from before it and after it both need, goes when those
//! rows are in, or when the apply worker stops on a row that needs it (its error count grows,
//! or the lag stops falling). What is still held back when the run cuts over is applied once
//! the target caught up, before anything is dropped.
//!
//! A change the target refuses ends the run at that check, naming the object, the statement
//! and the server's reason: the apply worker would otherwise wait on it until the timeout.

use std::collections::{BTreeMap, BTreeSet};

use tracing::{info, warn};

use super::follow::{self, Followed, Gate, SchemaChangeApplied, When, unix_now};
use super::follow_objects::{AFTER_COLUMNS, BEFORE_COLUMNS, Drift, follow_objects};
use super::wait::Replicating;
use super::{Fingerprint, ObjectNames, adopt, on_source};
use crate::catalog::replication::state;
use crate::error::{Error, ErrorKind, Result, Side};

/// The object a drift entry names: `table public.t` of `table public.t changed`.
pub fn object_of(drift: &str) -> &str {
    [" added", " changed", " removed"]
        .iter()
        .find_map(|s| drift.strip_suffix(s))
        .unwrap_or(drift)
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
    /// Objects with changes held back, and the source's WAL position after they were seen.
    pending_lsn: BTreeMap<String, String>,
    /// The apply worker's error count at the previous look (PostgreSQL 15+).
    apply_errors: Option<i64>,
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
    /// whether there were any.
    pub async fn adopt(&mut self) -> Result<bool> {
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
            &self.names.publication,
            &self.names.subscription,
            opts.schema,
            opts.tables.as_deref().filter(|t| !t.is_empty()),
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
            self.followed.applied.push(SchemaChangeApplied {
                change: format!(
                    "{object} created on the target and added to the replication (the \
                     subscription copies its rows)"
                ),
                statement: format!("ALTER SUBSCRIPTION ... REFRESH PUBLICATION for {t}"),
                seen_unix_seconds: self.seen.get(&object).copied().unwrap_or(now),
                applied_unix_seconds: now,
            });
        }
        self.adopted.merge(a);
        Ok(true)
    }

    /// Applies on the target what changed on the source and may go `until` now (see the
    /// module docs). Fails, naming it, when the target refused a change.
    pub async fn check(&mut self, until: When) -> Result<()> {
        let Replicating {
            src,
            tgt,
            dbname,
            opts,
            ..
        } = self.r;
        let Some(base) = self.baseline.clone() else {
            return Ok(());
        };
        let base = &base;
        let now = match Fingerprint::read(src).await {
            Ok(f) => f,
            Err(e) => {
                warn!(database = %dbname, "could not read the source's schema fingerprint: {e}");
                return Ok(());
            }
        };
        let at = unix_now();
        for d in self.last.as_ref().unwrap_or(base).changes(&now) {
            let object = object_of(&d).to_owned();
            if d.ends_with(" removed") {
                self.gone.insert(object.clone());
            } else {
                self.gone.remove(&object);
            }
            self.seen.insert(object, at);
        }
        let drift = base.changes(&now);
        self.last = Some(now);
        if drift != self.drift && !drift.is_empty() {
            warn!(database = %dbname, "schema changed on the source: {}", drift.join(", "));
        }
        self.drift = drift;
        if self.drift.is_empty() && self.gone.is_empty() {
            return Ok(());
        }
        // The drift, and what went during this run (dropped on the target if it has it).
        let mut wanted = self.drift.clone();
        wanted.extend(self.gone.iter().map(|o| format!("{o} removed")));
        wanted.dedup();
        let new_table = self
            .drift
            .iter()
            .any(|d| d.starts_with("table ") && d.ends_with(" added") && !self.adopted.covers(d));
        if new_table {
            self.adopt().await?;
        }
        let mut ripe = BTreeSet::new();
        for (object, lsn) in &self.pending_lsn {
            let confirmed = state::slot_confirmed(src, &self.names.slot, lsn)
                .await
                .map_err(|e| on_source(e, dbname))?;
            if confirmed == Some(true) {
                ripe.insert(object.clone());
            }
        }
        let gate = Gate {
            until,
            ripe: &ripe,
            seen: &self.seen,
        };
        let memo = self.followed.memo.clone();
        let mut this = Followed::default();
        let mut take = |r: Result<Followed>, what: &str| match r {
            Ok(f) => this.merge(f),
            Err(e) => warn!(database = %dbname, "could not follow the source's {what}: {e}"),
        };
        take(
            follow_objects(
                src,
                tgt,
                &BEFORE_COLUMNS,
                Drift {
                    entries: &wanted,
                    baseline: base,
                },
                &gate,
                &memo,
                opts.schema,
            )
            .await,
            "sequences and functions",
        );
        let columns_changed = self.drift.iter().any(|d| {
            (d.starts_with("table ") || d.starts_with("type ")) && d.ends_with(" changed")
        });
        if columns_changed {
            take(
                follow::follow_columns(src, tgt, &gate).await,
                "column changes",
            );
        }
        take(
            follow_objects(
                src,
                tgt,
                &AFTER_COLUMNS,
                Drift {
                    entries: &wanted,
                    baseline: base,
                },
                &gate,
                &memo,
                opts.schema,
            )
            .await,
            "views, indexes, constraints and triggers",
        );
        // Read after the catalogs showed the changes: every row committed before them lies
        // before this position.
        if this
            .pending_objects
            .iter()
            .any(|o| !self.pending_lsn.contains_key(o))
        {
            let lsn = state::current_wal_lsn(src)
                .await
                .map_err(|e| on_source(e, dbname))?;
            for o in &this.pending_objects {
                self.pending_lsn.entry(o.clone()).or_insert(lsn.clone());
            }
        }
        self.pending_lsn
            .retain(|o, _| this.pending_objects.contains(o));
        let pending = std::mem::take(&mut this.pending);
        let pending_objects = std::mem::take(&mut this.pending_objects);
        self.followed.merge(this);
        self.followed.pending = pending;
        self.followed.pending_objects = pending_objects;
        self.stop_on_refusal()
    }

    /// The error that ends the run when the target refused a change.
    fn stop_on_refusal(&self) -> Result<()> {
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
        let mut e = Error::new(
            ErrorKind::Validation,
            format!(
                "replication stopped on a schema change of the source that the target refused \
                 (the subscription's apply worker would wait on it until the timeout): {}; \
                 apply the change on the target by hand (or undo its cause on the source), then \
                 run the same command again: the replication objects are kept",
                why.join("; ")
            ),
        )
        .with_side(Side::Target)
        .with_database(self.r.dbname);
        if let Some(o) = &first.object {
            e = e.with_object(o.clone());
        }
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
