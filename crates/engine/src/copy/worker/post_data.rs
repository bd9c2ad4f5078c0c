//! Post-data jobs run by the workers as soon as a table is loaded: each in its own transaction
//! with its ledger row, a refusal under `--keep-going` recorded instead of failing the copy.

use super::*;
use crate::remedy::Setting;

/// Runs post-data jobs in order on `tgt`. With a ledger (`ledger`: its run id), each job runs
/// in one transaction with the ledger row that records it, and jobs the ledger lists already
/// (a retry after a lost COMMIT) are skipped.
pub(crate) async fn run_jobs(
    mut tgt: impl Statements,
    target_db: &str,
    jobs: &[crate::copy::PostDataJob],
    ledger: Option<&str>,
    retry: bool,
    warnings: &std::sync::Mutex<Vec<crate::warning::Warning>>,
) -> Result<()> {
    for job in jobs {
        if let Some(refusals) = &job.refusals
            && refusals.skip_dependent(&job.describe, &job.depends_on)
        {
            tracing::warn!(
                "{} not created ({}): it depends on an object the target refused",
                job.describe,
                Setting::KeepGoing
            );
            continue;
        }
        let locate = |e: Error| {
            e.with_side(Side::Target)
                .with_database(target_db)
                .with_object(job.describe.clone())
                .with_phase(crate::error::Phase::PostData)
        };
        let Some(run) = ledger else {
            let mut refused = false;
            for stmt in &job.statements {
                if let Err(e) = tgt.run(stmt).await {
                    let e = concealed(job, e);
                    if skipped(job, &e, warnings) || keep_going(job, stmt, &e) {
                        refused = true;
                        break;
                    }
                    return Err(locate(e));
                }
            }
            if !refused {
                run_refusable(&mut tgt, job, warnings).await?;
            }
            continue;
        };
        if retry
            && tgt
                .exists(&crate::ledger::parts::post_data_exists_sql(
                    &job.describe,
                    &job.statements,
                ))
                .await
                .map_err(locate)?
        {
            // Recorded: its transaction committed before the connection was lost.
            run_refusable(&mut tgt, job, warnings).await?;
            continue;
        }
        // One round trip, as without a ledger: the statements and the ledger row in one
        // transaction.
        let mut batch = vec!["BEGIN".to_string()];
        batch.extend(job.statements.iter().cloned());
        batch.push(crate::ledger::parts::post_data_sql(
            run,
            &job.describe,
            &job.statements,
        ));
        batch.push("COMMIT".to_string());
        if let Err(e) = tgt.run(&batch.join(";\n")).await {
            let _ = tgt.run("ROLLBACK").await;
            let e = concealed(job, e);
            if skipped(job, &e, warnings) || keep_going(job, &job.statements.join(";\n"), &e) {
                continue;
            }
            return Err(locate(e));
        }
        run_refusable(&mut tgt, job, warnings).await?;
    }
    Ok(())
}

/// `e` with its message redacted when `job`'s statements may hold credentials
/// ([`crate::copy::PostDataJob::conceal`]).
fn concealed(job: &crate::copy::PostDataJob, e: Error) -> Error {
    if job.conceal { e.redacted() } else { e }
}

/// When `e` is a refusal that skips `job` ([`crate::copy::PostDataJob::skip`]): its warning,
/// and true: the copy goes on without it, as the schema stage would.
fn skipped(
    job: &crate::copy::PostDataJob,
    e: &Error,
    warnings: &std::sync::Mutex<Vec<crate::warning::Warning>>,
) -> bool {
    if !job.skip.skips(e) {
        return false;
    }
    let w = crate::schema::exec::SkipRule::warning(&job.describe, e);
    tracing::info!("{}", w.message);
    warnings.lock().expect("not poisoned").push(w);
    true
}

/// With `--keep-going` ([`crate::copy::PostDataJob::refusals`]): records `job` as refused when
/// `e` is the target refusing `statement` (not a lost session or a cancelled statement), and
/// returns true: the copy goes on without it.
fn keep_going(job: &crate::copy::PostDataJob, statement: &str, e: &Error) -> bool {
    let Some(refusals) = &job.refusals else {
        return false;
    };
    if !crate::schema::rehearsal::is_refusal(e) {
        return false;
    }
    let statement = if job.conceal {
        crate::schema::exec::CONCEALED
    } else {
        statement
    };
    // In the report (objects_failed): logged at info (-v), not printed twice.
    tracing::info!(
        "{} not created ({}): {} ({statement})",
        job.describe,
        Setting::KeepGoing,
        e.message()
    );
    refusals.push(crate::schema::rehearsal::FailedObject {
        name: job.describe.clone(),
        kind: job
            .describe
            .split_once(" \"")
            .map_or(job.describe.as_str(), |(k, _)| k)
            .to_string(),
        statement: statement.to_string(),
        sqlstate: e.sqlstate().map(|c| c.code().to_string()),
        message: e.message().to_string(),
        skipped_dependents: Vec::new(),
    });
    true
}

/// Runs `job`'s owner, privilege and comment statements one by one (see
/// [`crate::copy::PostDataJob::refusable`]): one the server refuses is a warning. Only a lost
/// connection (or a cancelled run) is an error, since then nothing more can run.
async fn run_refusable(
    tgt: &mut impl Statements,
    job: &crate::copy::PostDataJob,
    warnings: &std::sync::Mutex<Vec<crate::warning::Warning>>,
) -> Result<()> {
    use crate::warning::{Warning, WarningKind};
    for (kind, stmt) in &job.refusable {
        let Err(e) = tgt.run(stmt).await else {
            continue;
        };
        if e.sqlstate().is_none() {
            return Err(e
                .with_side(Side::Target)
                .with_object(job.describe.clone())
                .with_phase(crate::error::Phase::PostData));
        }
        let what = match kind {
            WarningKind::Ownership => "owner not kept",
            WarningKind::Privilege => "privileges not applied",
            // A storage parameter of a view or table moved to post-data
            // (`crate::schema::model::SchemaObject::options`).
            _ if stmt.starts_with("ALTER ") => "option not set",
            _ if job.describe.starts_with("security label") => "security label not applied",
            _ => "comment not applied",
        };
        tracing::info!("{}: {what}: {}", job.describe, e.message());
        warnings.lock().expect("not poisoned").push(
            Warning::new(*kind, format!("{}: {what}: {}", job.describe, e.message()))
                .on(job.describe.clone()),
        );
    }
    Ok(())
}
