//! `--verify-only`: the databases selected by `-f` / `--only-db` compared one after the other,
//! nothing written on either side, whatever tool migrated them.

use crate::catalog::databases::list_databases;
use crate::conn::connect;
use crate::error::Side;
use crate::options::MigrateOptions;
use crate::pair::DbPair;
use crate::report::{DatabaseResult, DbStatus, MigrateResult};
use crate::selection::preflight::select_databases;

use super::VerifyJob;

/// Compares every selected source database with the target database of the same name.
pub async fn verify_databases(opts: &MigrateOptions) -> MigrateResult {
    let mut result = MigrateResult {
        migration_id: opts.migration_id.clone(),
        ..Default::default()
    };
    let lists = async {
        let s = connect(&opts.source, None)
            .await
            .map_err(|e| e.with_side(Side::Source))?;
        let t = connect(&opts.target, None)
            .await
            .map_err(|e| e.with_side(Side::Target))?;
        let a = list_databases(&s)
            .await
            .map_err(|e| e.with_side(Side::Source))?;
        let b = list_databases(&t)
            .await
            .map_err(|e| e.with_side(Side::Target))?;
        Ok::<_, crate::Error>((a, b))
    };
    let (source_dbs, target_dbs) = match lists.await {
        Ok(l) => l,
        Err(e) => {
            result.validation.error("connection", None, e.to_string());
            return result;
        }
    };
    // The same selection as a migration, with the same errors: a name that does not exist, or
    // a selection that leaves nothing, is a failed verification, never an empty success.
    let selected = select_databases(&source_dbs, opts, &mut result.validation);
    if !result.validation.ok {
        return result;
    }
    for name in selected.iter().map(String::as_str) {
        if !target_dbs.iter().any(|d| d.name == name) {
            result.databases.push(DatabaseResult::new(
                name,
                None,
                DbStatus::Failed,
                "verify: the database does not exist on the target".into(),
            ));
            continue;
        }
        let pair = DbPair::new(&opts.source, &opts.target, name, opts.cancel.clone());
        let job = VerifyJob::new(&pair, &super::Settings::of(opts));
        let entry = match job.run().await {
            Ok(v) => {
                let mut e = DatabaseResult::new(name, None, DbStatus::Done, v.summary());
                e.verify = Some(v);
                e
            }
            Err(e) => DatabaseResult::new(name, None, DbStatus::Failed, format!("verify: {e}")),
        };
        result.databases.push(entry);
    }
    result
}
