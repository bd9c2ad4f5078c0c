//! `--cleanup` of one database: the replication objects of an earlier run removed on both sides.

use super::*;

impl PgMigrate {
    /// `--cleanup` for one database: drops what an earlier run left on both sides and puts
    /// back the replica identities it had set FULL; the warnings are about those tables.
    pub(super) async fn cleanup_database(&self, pair: &DbPair) -> (DatabaseResult, Vec<Warning>) {
        let name = pair.source_db();
        let r = replication::cleanup(pair).await;
        let warnings = match &r {
            Ok(r) => r
                .warnings
                .iter()
                .map(|w| Warning::replication(w.clone()).in_database(name))
                .collect(),
            Err(_) => Vec::new(),
        };
        let entry = match r {
            Ok(r) if r.failed.is_empty() => {
                let mut message = if r.dropped.is_empty() {
                    "no replication objects of an earlier run found".to_string()
                } else {
                    format!("dropped {}", r.dropped.join(", "))
                };
                if !r.identity_restored.is_empty() {
                    message.push_str(&format!(
                        "; replica identity put back on {}",
                        r.identity_restored.join(", ")
                    ));
                }
                DatabaseResult::new(name, Some(Method::Replication), DbStatus::Done, message)
            }
            Ok(r) => DatabaseResult::new(
                name,
                Some(Method::Replication),
                DbStatus::Failed,
                format!(
                    "could not drop {}{}",
                    r.failed.join(", "),
                    if r.dropped.is_empty() {
                        String::new()
                    } else {
                        format!(" (dropped {})", r.dropped.join(", "))
                    }
                ),
            ),
            Err(e) => DatabaseResult::new(
                name,
                Some(Method::Replication),
                DbStatus::Failed,
                e.to_string(),
            ),
        };
        (entry, warnings)
    }
}
