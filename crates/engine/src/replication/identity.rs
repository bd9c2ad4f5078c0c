//! Tables that cannot replicate UPDATE and DELETE: no primary key and no usable replica
//! identity.
//!
//! Why this blocks the replication method: once such a table is in a publication, the
//! *source's* application fails on every UPDATE and DELETE of it ("cannot update table ...
//! because it does not have a replica identity and publishes updates"). A migration must never
//! break the source, so with `--repl-only` preflight fails listing the tables and the fix, and
//! otherwise the database is migrated by dump, with that reason.
//!
//! `--replica-identity-full` (opt-in) offers the third way: for the migration, such tables are
//! set to `REPLICA IDENTITY FULL` on the source ([`plan_full`], [`set_full`]), which makes their
//! UPDATE and DELETE replicable at the price of whole old rows in the WAL while replication
//! runs. That needs ownership of each table (or membership in its owner); preflight names the
//! tables it could not alter and nothing is altered then. The tables and their earlier setting
//! are recorded in the publication's comment ([`super::record`]) in the transaction that alters
//! them and creates the publication (no crash can leave a table FULL unrecorded), so that the cut-over or `--cleanup`, possibly another invocation, puts each back
//! ([`restore`]) once the publication is gone (not before: with the publication still there,
//! the source's UPDATE and DELETE would fail again). A setup that fails or falls back puts them
//! back at once. Restoring skips a table dropped meanwhile, leaves one whose identity someone
//! else changed meanwhile as it is (both with a warning), and is idempotent.
//!
//! Every `ALTER TABLE` runs with a short `lock_timeout` ([`LOCK_TIMEOUT`]): it waits for the
//! table's lock, and a long transaction holding it would otherwise queue the application's
//! own statements on that table behind the migration's.

use crate::catalog::replication::tables::{
    IdentityGap, NamedTable, current_identities, identity_gaps,
};
use crate::conn::Session;
use crate::error::{Error, Result};
use crate::remedy::Setting;
use crate::sql::qualified;

/// How long an `ALTER TABLE ... REPLICA IDENTITY` waits for its table's lock.
pub const LOCK_TIMEOUT: &str = "10s";

/// How many tables a message lists before "and N more".
const SHOWN: usize = 20;

/// The tables of the source database without identity, as `schema.table` (quoted where
/// needed), limited to `only` (schema, table) when the publication lists tables.
pub async fn tables_without_identity(
    source_db: &Session,
    only: Option<&[(String, String)]>,
) -> Result<Vec<String>> {
    let tables = crate::catalog::replication::tables::tables_without_identity(source_db).await?;
    Ok(selected_names(&tables, only))
}

/// The tables of the source database without identity, with owner and setting, limited to
/// `only` like [`tables_without_identity`].
pub async fn identity_gaps_selected(
    source_db: &Session,
    only: Option<&[(String, String)]>,
) -> Result<Vec<IdentityGap>> {
    Ok(identity_gaps(source_db)
        .await?
        .into_iter()
        .filter(|g| is_selected(&g.table, only))
        .collect())
}

fn is_selected(t: &NamedTable, only: Option<&[(String, String)]>) -> bool {
    only.is_none_or(|only| only.iter().any(|(s, n)| *s == t.schema && *n == t.name))
}

/// The display names of `tables` that are in `only` (all when `None`). The checks list tables
/// the same way, so the filter is written once.
pub(crate) fn selected_names(
    tables: &[NamedTable],
    only: Option<&[(String, String)]>,
) -> Vec<String> {
    tables
        .iter()
        .filter(|t| is_selected(t, only))
        .map(|t| t.display.clone())
        .collect()
}

/// The first [`SHOWN`] of `items`, control characters escaped, and how many more.
fn shown(items: &[String]) -> String {
    let mut shown = items
        .iter()
        .take(SHOWN)
        .map(|t| crate::text::escape_controls(t).into_owned())
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > SHOWN {
        shown.push_str(&format!(" and {} more", items.len() - SHOWN));
    }
    shown
}

/// Why replication is refused for `tables`, with the fix.
pub fn reason(tables: &[String]) -> String {
    let shown = shown(tables);
    format!(
        "{} tables have neither a primary key nor a usable replica identity, so once published \
         their UPDATE and DELETE would fail on the source: {shown} (fix on the source: add a \
         primary key, or ALTER TABLE ... REPLICA IDENTITY USING INDEX on a unique index of NOT \
         NULL columns, or ALTER TABLE ... REPLICA IDENTITY FULL; or let db-migrate set FULL \
         for the migration only with {})",
        tables.len(),
        Setting::ReplicaIdentityFull
    )
}

/// A table `--replica-identity-full` set to FULL, and what to put back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityChange {
    /// Restoring finds the table by OID, whatever it is called by then.
    pub oid: u32,
    /// `relreplident` before: `d` (DEFAULT), `n` (NOTHING) or `i` (USING INDEX whose index is
    /// gone, which behaves as NOTHING and is put back as NOTHING: the index cannot be named).
    pub previous: char,
    /// The name when it was altered (`regclass` output), for messages.
    pub table: String,
}

impl IdentityChange {
    /// The `REPLICA IDENTITY` clause that puts the table back.
    pub fn restore_clause(&self) -> &'static str {
        match self.previous {
            'd' => "DEFAULT",
            _ => "NOTHING",
        }
    }
}

/// The changes `--replica-identity-full` makes for `gaps`, or the tables it may not alter,
/// each with the reason (the source user neither owns it nor is a member of its owner).
pub fn plan_full(gaps: &[IdentityGap]) -> std::result::Result<Vec<IdentityChange>, Vec<String>> {
    let refused: Vec<String> = gaps
        .iter()
        .filter(|g| !g.acts_for_owner)
        .map(|g| {
            format!(
                "{} (owned by {}, and the source user is neither that role nor a member of it)",
                g.table.display,
                crate::sql::quote_ident(&g.owner)
            )
        })
        .collect();
    if !refused.is_empty() {
        return Err(refused);
    }
    Ok(gaps
        .iter()
        .map(|g| IdentityChange {
            oid: g.oid,
            previous: g.replident,
            table: g.table.display.clone(),
        })
        .collect())
}

/// Why `--replica-identity-full` cannot be used: the tables it may not alter, and the fix.
pub fn full_refusal(refused: &[String]) -> String {
    format!(
        "{} cannot set REPLICA IDENTITY FULL on {} tables, so no table is \
         altered: {} (fix: migrate as the owner or a member of it, GRANT <owner> TO <source \
         user>, or give these tables a primary key or replica identity on the source yourself)",
        Setting::ReplicaIdentityFull,
        refused.len(),
        shown(refused)
    )
}

/// What the operator must know about `changes`: which tables were (or, in `--validate`, would
/// be) set FULL, for how long, and what it costs.
pub fn full_notice(changes: &[IdentityChange], done: bool) -> String {
    let names: Vec<String> = changes.iter().map(|c| c.table.clone()).collect();
    format!(
        "{full} {} REPLICA IDENTITY FULL on {} tables of the source for the \
         migration (put back at the cut-over with {stop}, or by {cleanup}): {}; \
         while replication runs, every UPDATE and DELETE on them writes the whole old row to the \
         WAL",
        if done { "set" } else { "will set" },
        changes.len(),
        shown(&names),
        full = Setting::ReplicaIdentityFull,
        stop = Setting::StopReplication,
        cleanup = Setting::Cleanup,
    )
}

/// Runs `sql` in a transaction with [`LOCK_TIMEOUT`]; rolls back when it fails, leaving the
/// session usable.
async fn in_transaction(src: &Session, sql: &str) -> Result<()> {
    let batch = format!("BEGIN; SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'; {sql} COMMIT");
    match src.batch_execute(&batch).await {
        Ok(()) => Ok(()),
        Err(e) => {
            let _ = src.batch_execute("ROLLBACK").await;
            Err(Error::from_pg(e))
        }
    }
}

/// Sets every table of `changes` to `REPLICA IDENTITY FULL` inside the transaction the caller
/// opened on `src` (with [`LOCK_TIMEOUT`] for the rest of it), which also creates the
/// publication and records the changes in its comment: either all of that happens or none.
pub async fn set_full(src: &Session, changes: &[IdentityChange]) -> Result<()> {
    let oids: Vec<u32> = changes.iter().map(|c| c.oid).collect();
    let now = current_identities(src, &oids).await?;
    let sql: String = now
        .iter()
        .map(|t| {
            format!(
                "ALTER TABLE ONLY {} REPLICA IDENTITY FULL;",
                qualified(&t.schema, &t.name)
            )
        })
        .collect::<Vec<_>>()
        .join(" ");
    src.batch_execute(&format!("SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'; {sql}"))
        .await
        .map_err(|e| {
            Error::from_pg(e)
                .with_step("setting REPLICA IDENTITY FULL (`replica_identity_full`)")
                .context("no table was altered")
        })
}

/// What [`restore`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Restored {
    /// e.g. `public.loose (DEFAULT)`: back at (or already at) their earlier setting.
    pub restored: Vec<String>,
    /// Tables dropped meanwhile, or whose identity someone else changed (left as they are).
    pub warnings: Vec<String>,
    /// Tables that could not be put back, with the error and the statement to run by hand.
    pub failed: Vec<String>,
}

impl Restored {
    /// "replica identity of 2 tables put back (public.a (DEFAULT), ...)", or empty.
    pub fn describe(&self) -> String {
        if self.restored.is_empty() {
            return String::new();
        }
        format!(
            "replica identity of {} tables put back ({})",
            self.restored.len(),
            shown(&self.restored)
        )
    }
}

/// What to tell the operator when `changes` could not be put back at all (`error`): the
/// tables and the statement to run on the source, since nothing else remembers them.
pub fn not_restored(changes: &[IdentityChange], error: &Error) -> String {
    format!(
        "replica identity of {} tables set to FULL not put back ({error}); run on the source \
         ALTER TABLE ... REPLICA IDENTITY DEFAULT (NOTHING where it was) for: {}",
        changes.len(),
        changes
            .iter()
            .map(|c| format!(
                "{} ({})",
                crate::text::escape_controls(&c.table),
                c.restore_clause()
            ))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// Puts every table of `changes` back to its earlier replica identity, each in its own
/// transaction (one locked table does not keep the others FULL). Call only once the
/// publication is gone.
pub async fn restore(src: &Session, changes: &[IdentityChange]) -> Result<Restored> {
    let mut out = Restored::default();
    if changes.is_empty() {
        return Ok(out);
    }
    let oids: Vec<u32> = changes.iter().map(|c| c.oid).collect();
    let now = current_identities(src, &oids).await?;
    for c in changes {
        let Some(t) = now.iter().find(|t| t.oid == c.oid) else {
            out.warnings.push(format!(
                "table {} was set to REPLICA IDENTITY FULL for the migration and has been dropped \
                 on the source since; skipped",
                crate::text::escape_controls(&c.table)
            ));
            continue;
        };
        let name = qualified(&t.schema, &t.name);
        let back = format!(
            "{} ({})",
            crate::text::escape_controls(&t.display),
            c.restore_clause()
        );
        // Already back (an earlier restore, or the owner did it): nothing to do.
        if t.replident == c.previous || (c.previous == 'i' && t.replident == 'n') {
            out.restored.push(back);
            continue;
        }
        if t.replident != 'f' {
            out.warnings.push(format!(
                "the replica identity of table {} was changed on the source since the migration \
                 set it to FULL (now {}); left as it is",
                crate::text::escape_controls(&t.display),
                match t.replident {
                    'd' => "DEFAULT",
                    'n' => "NOTHING",
                    _ => "USING INDEX",
                }
            ));
            continue;
        }
        let sql = format!(
            "ALTER TABLE ONLY {name} REPLICA IDENTITY {};",
            c.restore_clause()
        );
        match in_transaction(src, &sql).await {
            Ok(()) => out.restored.push(back),
            Err(e) => out.failed.push(format!(
                "table {}: {e} (run on the source: {sql})",
                crate::text::escape_controls(&t.display)
            )),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reason_names_the_tables_and_every_fix() {
        let r = reason(&["public.a".into(), "\"we\nird\".b".into()]);
        assert!(r.starts_with("2 tables"), "{r}");
        assert!(
            r.contains("public.a") && r.contains("\"we\\nird\".b"),
            "{r}"
        );
        assert!(r.contains("primary key") && r.contains("USING INDEX") && r.contains("FULL"));
    }
}

#[cfg(test)]
mod full_tests {
    use super::*;

    fn gap(name: &str, replident: char, owner: &str, acts_for_owner: bool) -> IdentityGap {
        IdentityGap {
            oid: 100,
            table: NamedTable {
                schema: "public".into(),
                name: name.into(),
                display: format!("public.{name}"),
            },
            replident,
            owner: owner.into(),
            acts_for_owner,
        }
    }

    #[test]
    fn tables_the_user_may_alter_are_planned_with_their_earlier_setting() {
        let plan = plan_full(&[gap("a", 'd', "app", true), gap("b", 'n', "app", true)]).unwrap();
        assert_eq!(
            plan.iter()
                .map(|c| (c.table.as_str(), c.previous, c.restore_clause()))
                .collect::<Vec<_>>(),
            vec![("public.a", 'd', "DEFAULT"), ("public.b", 'n', "NOTHING")]
        );
    }

    #[test]
    fn an_index_identity_whose_index_is_gone_is_put_back_as_nothing() {
        let plan = plan_full(&[gap("c", 'i', "app", true)]).unwrap();
        assert_eq!(plan[0].restore_clause(), "NOTHING");
    }

    #[test]
    fn one_table_the_user_may_not_alter_refuses_them_all_naming_its_owner() {
        let refused = plan_full(&[
            gap("a", 'd', "app", true),
            gap("b", 'd', "other owner", false),
        ])
        .unwrap_err();
        assert_eq!(
            refused,
            vec![
                "public.b (owned by \"other owner\", and the source user is neither that role nor a member of it)"
            ]
        );
        let text = full_refusal(&refused);
        assert!(text.contains("no table is altered"), "{text}");
        assert!(
            text.contains("public.b") && !text.contains("public.a"),
            "{text}"
        );
    }

    #[test]
    fn the_notice_names_the_first_tables_the_count_and_the_wal_cost() {
        let changes: Vec<IdentityChange> = (0..25)
            .map(|i| IdentityChange {
                oid: i,
                previous: 'd',
                table: format!("public.t{i}"),
            })
            .collect();
        let text = full_notice(&changes, true);
        assert!(
            text.contains("set REPLICA IDENTITY FULL on 25 tables"),
            "{text}"
        );
        assert!(
            text.contains("public.t19") && !text.contains("public.t20,"),
            "{text}"
        );
        assert!(text.contains("and 5 more"), "{text}");
        assert!(text.contains("whole old row to the WAL"), "{text}");
        assert!(full_notice(&changes, false).contains("will set"));
    }
}
