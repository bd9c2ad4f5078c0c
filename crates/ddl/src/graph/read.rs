//! Reading a whole database's schema in one snapshot: every builder's objects, the relations
//! last (most of them), then ordered ([`super::order()`]).

use super::cycles::cycle_parts;
use super::order::order;
use super::resolve::extension_members;
use crate::model::Collected;
use crate::schema::Schema;
use crate::{db_objects, relations, routines, types};
use db_migrate_catalog::depend::load_depend;
use db_migrate_conn::Session;
use db_migrate_core::error::{Error, Result};

/// Reads every object of the session's database and orders it.
///
/// Everything is read in one `REPEATABLE READ` snapshot, so DDL running on the source
/// meanwhile cannot leave a table read without its columns, or a constraint without its
/// table. A second session, opened like `s` and importing that snapshot, reads part of the
/// catalog at the same time; when it cannot be had (no free connection slot, a server that
/// refuses to export snapshots) `s` reads everything.
pub async fn read_schema(s: &Session) -> Result<Schema> {
    s.batch_execute(db_migrate_core::sql::BEGIN_SNAPSHOT)
        .await
        .map_err(|e| Error::from_pg(e).with_step("starting the catalog snapshot"))?;
    let helper = snapshot_helper(s).await;
    let read = read_in_snapshot(s, helper.as_ref().unwrap_or(s)).await;
    // Read-only: ending the transaction cannot lose anything, and an error here only means
    // the session is gone.
    let _ = s.batch_execute("COMMIT").await;
    read
}

/// A second session in `s`'s snapshot, or `None` (see [`read_schema`]).
async fn snapshot_helper(s: &Session) -> Option<Session> {
    let why = async {
        let snapshot: String = s
            .query_one(db_migrate_core::sql::EXPORT_SNAPSHOT, &[])
            .await
            .map_err(Error::from_pg)?
            .get(0);
        let helper = db_migrate_conn::connect(s.info(), None).await?;
        helper
            .batch_execute(&db_migrate_core::sql::import_snapshot(&snapshot))
            .await
            .map_err(Error::from_pg)?;
        // The helper waits on a lock no longer than `s` would: a lock it waits for may be
        // queued behind an application's `ALTER TABLE` that waits for `s`'s locks, while `s`
        // waits for the helper, a wait no deadlock detector sees (a schema read while the
        // replication follows the source, see the engine's `replication::following`).
        let timeout: String = s
            .query_one("SHOW lock_timeout", &[])
            .await
            .map_err(Error::from_pg)?
            .get(0);
        helper
            .batch_execute(&format!(
                "SET lock_timeout = {}",
                db_migrate_core::sql::quote_literal(&timeout)
            ))
            .await
            .map_err(Error::from_pg)?;
        Ok::<_, Error>(helper)
    };
    match why.await {
        Ok(h) => Some(h),
        Err(e) => {
            tracing::debug!("reading the catalog on one session: {e}");
            None
        }
    }
}

async fn read_in_snapshot(s: &Session, other: &Session) -> Result<Schema> {
    let mut all = Collected::default();
    // The relation catalog's slow part runs on `other` from the start, alongside the rest.
    let others = async {
        let mut c = db_objects::collect(s).await?;
        c.extend(types::collect(s).await?);
        c.extend(routines::collect(s).await?);
        let acls = db_migrate_catalog::extensions::list_member_acls(s).await?;
        c.objects
            .extend(crate::extensions::member_acl_objects(&acls));
        let comments = db_migrate_catalog::extensions::list_member_comments(s).await?;
        c.objects
            .extend(crate::extensions::member_comment_objects(&comments));
        c.extend(crate::transforms::collect(s).await?);
        c.extend(crate::publications::collect(s).await?);
        c.extend(crate::subscriptions::collect(s).await?);
        c.extend(crate::system_acls::collect(s).await?);
        c.extend(crate::security_labels::collect(s).await?);
        let members = db_migrate_catalog::extensions::list_members(s).await?;
        let paths = db_migrate_catalog::search_paths::read(s).await?;
        Ok::<_, Error>((c, (comments, members, paths)))
    };
    let (others, catalog, depend) = futures::try_join!(
        others,
        db_migrate_catalog::relations::read_on(s, other),
        load_depend(s)
    )?;
    let (others, (member_comments, source_members, search_paths)) = others;
    all.extend(others);
    let mut rels = relations::build(&catalog);
    let split = cycle_parts(&[&all, &rels], &depend);
    if !split.is_empty() {
        rels = relations::build_split(&catalog, &split);
    }
    // The relations are most of the objects: the others are put in front of them, in place,
    // rather than all of them being copied behind the others (a second vector of 100,000
    // tables' objects, about 170 MB, for a moment).
    rels.objects.splice(0..0, std::mem::take(&mut all.objects));
    rels.aliases.splice(0..0, std::mem::take(&mut all.aliases));
    rels.warnings
        .splice(0..0, std::mem::take(&mut all.warnings));
    let all = rels;
    // The catalog's rows are done with once the objects are built: dropped before the
    // ordering's own structures are made, so that the two never take memory at once.
    let extension_parts =
        crate::extensions::parts_on_member_tables(&catalog, &extension_members(&depend));
    drop(catalog);
    let mut schema = order(all, &depend);
    drop(depend);
    crate::search_paths::assign(&mut schema, &search_paths);
    schema.extension_parts = extension_parts;
    schema.member_comments = member_comments;
    schema.extension_members = source_members;
    schema.source_version = s.server_version_num();
    Ok(schema)
}
