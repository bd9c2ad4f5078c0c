//! The statements of one object as the executor runs them: which parts it has (the object,
//! its owner, privileges, comment...), and which of them the target user may run.

use super::*;

/// Why a statement of an object is there: decides what a failure means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Part {
    Create,
    /// An inheritance link of a table this object creates
    /// ([`crate::relations::is_inherit_link`]): refused for a rule of the target's major
    /// (42804), the table stays on its own with a warning; any other failure is a creating
    /// statement's.
    Link,
    /// One storage parameter or attribute option ([`SchemaObject::options`]): refused as
    /// unknown or invalid (22023), the object stays without it, with a warning.
    Option,
    Owner,
    Acl,
    Comment,
}

/// When the target's refusal of an object's creating statement skips the object with a warning
/// (and every object that depends on it) instead of failing the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SkipRule {
    /// Never: the refusal fails the database (or, with `--keep-going`, is recorded).
    #[default]
    Never,
    /// Refused for lack of privilege (SQLSTATE 42501): [`Privilege::MaySkip`].
    Denied,
    /// Refused for any reason ([`is_refusal`]): a subscription, which a
    /// target refuses for its privileges (superuser, `pg_create_subscription`) or for the
    /// connection string (a non-superuser's must hold a password), and which the migrated
    /// data never needs (see [`crate::subscriptions`]).
    Refused,
}

impl SkipRule {
    pub fn of(o: &SchemaObject) -> SkipRule {
        if o.kind == ObjectKind::Subscription {
            SkipRule::Refused
        } else if o.privilege == Privilege::MaySkip {
            SkipRule::Denied
        } else {
            SkipRule::Never
        }
    }

    /// Whether `err`, the target refusing a creating statement, skips the object.
    pub fn skips(self, err: &Error) -> bool {
        match self {
            SkipRule::Never => false,
            SkipRule::Denied => err.sqlstate() == Some(&SqlState::INSUFFICIENT_PRIVILEGE),
            SkipRule::Refused => is_refusal(err),
        }
    }

    /// The warning saying why `describe` was skipped, for `err`.
    pub fn warning(describe: &str, err: &Error) -> Warning {
        if err.sqlstate() == Some(&SqlState::INSUFFICIENT_PRIVILEGE) {
            Warning::privilege(format!(
                "skipped {describe}: the target user lacks the privilege: {}",
                err.message()
            ))
        } else {
            Warning::schema(format!(
                "skipped {describe}: the target refuses it: {}",
                err.message()
            ))
        }
        .on(describe)
    }
}

/// What error messages, reports and findings show instead of a statement that may hold
/// credentials (see [`conceals`]).
pub const CONCEALED: &str = "(statement not shown: it may contain credentials)";

/// Whether the creating statements of `kind` may hold credentials: the options of user
/// mappings and servers, a subscription's connection string. Such a statement is never shown
/// ([`CONCEALED`]), and the target's messages about it are passed through
/// [`db_migrate_core::redact::redact`] (a malformed connection string is echoed in them).
pub fn conceals(kind: ObjectKind) -> bool {
    matches!(
        kind,
        ObjectKind::UserMapping | ObjectKind::ForeignServer | ObjectKind::Subscription
    )
}

/// The statements of one object that this run will execute, with their part. A tablespace the
/// target lacks is a warning (in `warnings`).
pub(super) fn planned(
    o: &SchemaObject,
    opts: SchemaOptions,
    state: &ExecState,
    owners_lost: &mut Vec<(String, String)>,
    warnings: &mut Vec<Warning>,
) -> Vec<(Part, String)> {
    if (opts.no_publications && o.kind == ObjectKind::Publication)
        || (opts.no_subscriptions && o.kind == ObjectKind::Subscription)
    {
        return Vec::new();
    }
    let mut out: Vec<(Part, String)> = match version_plan(o, state) {
        VersionPlan::Default { statement, warning } => {
            warnings.push(Warning::schema(warning).on(o.describe()));
            vec![(Part::Create, statement)]
        }
        _ => o
            .create
            .iter()
            .filter(|s| match state.missing_compression(s) {
                None => true,
                Some(method) => {
                    warnings.push(
                        Warning::schema(format!(
                            "{}: a column keeps the target's default_toast_compression instead \
                             of {method}, which the target server was built without ({s})",
                            o.describe()
                        ))
                        .on(o.describe()),
                    );
                    false
                }
            })
            .map(|s| {
                let part = if crate::relations::is_inherit_link(s) {
                    Part::Link
                } else {
                    Part::Create
                };
                (part, s.clone())
            })
            .collect(),
    };
    out.extend(o.options().iter().map(|s| (Part::Option, s.clone())));
    if let Some(ts) = o.tablespace()
        && !out.is_empty()
    {
        match state.tablespace_refusal(ts) {
            None => {
                // Like pg_dump: the statements name no tablespace, the setting places them.
                out.insert(
                    0,
                    (
                        Part::Create,
                        format!("SET default_tablespace = {}", quote_literal(ts)),
                    ),
                );
                out.push((Part::Create, "SET default_tablespace = ''".into()));
            }
            Some(why) => warnings.push(
                Warning::schema(format!(
                    "{} is created in the target database's default tablespace instead of \
                     tablespace {}: {why}",
                    o.describe(),
                    quote_ident(ts)
                ))
                .on(o.describe()),
            ),
        }
    }
    if let Some(path) = o.search_path()
        && !out.is_empty()
        && let Some(set) = db_migrate_core::sql::set_clause(&format!("search_path={path}"))
    {
        // Only around this object's statements (see crate::search_paths); a failure rolls the
        // setting back with the batch's transaction.
        out.insert(0, (Part::Create, format!("SET {set}")));
        out.push((Part::Create, "SET search_path = ''".into()));
    }
    let mut lost_owner = None;
    if let Some(owner) = &o.owner
        && !opts.no_owner
        // An object this run creates belongs to the target user already: `ALTER ... OWNER TO`
        // itself would only cost a statement (one per object on schemas of thousands).
        && (owner.role != state.user || o.create.is_empty())
    {
        if state.may_own_as(&owner.role) {
            out.push((Part::Owner, owner.sql.clone()));
        } else {
            owners_lost.push((owner.role.clone(), o.describe()));
            lost_owner = Some(owner.role.as_str());
        }
    }
    // A rehearsal leaves out what the run only warns about when refused and what no later
    // statement needs: privileges, comments and security labels (see crate::rehearsal).
    // Except a schema's privileges: CREATE INDEX and REFRESH MATERIALIZED VIEW resolve names
    // as the table's owner, who needs USAGE on the schemas of the search_path it is given
    // (see crate::search_paths).
    if state.rehearsal && o.kind != ObjectKind::Schema {
        return out;
    }
    if !opts.no_acl {
        out.extend(
            o.acl()
                .iter()
                .filter(|s| !lost_owner.is_some_and(|r| is_owner_self_grant(s, r)))
                .map(|s| (Part::Acl, s.clone())),
        );
    }
    if state.rehearsal {
        return out;
    }
    out.extend(o.comments().iter().map(|s| (Part::Comment, s.clone())));
    out
}

/// True for the privilege statements that only rebuild the owner's own privileges (`REVOKE
/// ALL ... FROM owner`, `GRANT ... TO owner`). When the migration user owns the object
/// instead, it holds those privileges as the owner already; granting them to the source's owner
/// as well would be a grant the source does not have.
pub fn is_owner_self_grant(stmt: &str, owner: &str) -> bool {
    let q = quote_ident(owner);
    (stmt.starts_with("REVOKE ") && stmt.ends_with(&format!(" FROM {q}")))
        || (stmt.starts_with("GRANT ")
            && (stmt.ends_with(&format!(" TO {q}"))
                || stmt.ends_with(&format!(" TO {q} WITH GRANT OPTION"))))
}

/// The statements of `o` as run by this executor, for other stages (the data engine runs
/// post-data work per table). Owners that may not be set are left out and counted; a missing
/// tablespace is left out without a warning (see [`post_data_statements`] for one).
pub fn statements_for(
    o: &SchemaObject,
    opts: SchemaOptions,
    state: &ExecState,
    owners_not_kept: &mut usize,
) -> Vec<String> {
    let mut lost = Vec::new();
    let out = planned(o, opts, state, &mut lost, &mut Vec::new())
        .into_iter()
        .map(|(_, s)| s)
        .collect();
    *owners_not_kept += lost.len();
    out
}

/// What creates a post-data object, then its refusable statements with their warning kind
/// (see [`post_data_statements`]).
pub type PostDataStatements = (Vec<String>, Vec<(WarningKind, String)>);

/// The statements of `o` for the data engine's post-data work, or `None` with a warning in
/// `report` when `o` depends on an object skipped for lack of privilege: first what creates the
/// object (a failure fails the database), then its owner, privilege and comment statements
/// with the kind of warning their refusal is (as [`apply`] treats them: the object is there,
/// only its owner or a grant is not).
pub fn post_data_statements(
    o: &SchemaObject,
    opts: SchemaOptions,
    state: &ExecState,
    report: &mut ExecReport,
) -> Option<PostDataStatements> {
    if let Some(w) = state.skipped.dependent(o) {
        report.warnings.push(w);
        return None;
    }
    let mut create = Vec::new();
    let mut refusable = Vec::new();
    for (part, sql) in planned(
        o,
        opts,
        state,
        &mut report.owners_lost,
        &mut report.warnings,
    ) {
        match part {
            Part::Create | Part::Link => create.push(sql),
            Part::Option => refusable.push((WarningKind::Schema, sql)),
            Part::Owner => refusable.push((WarningKind::Ownership, sql)),
            Part::Acl => refusable.push((WarningKind::Privilege, sql)),
            Part::Comment => refusable.push((WarningKind::Schema, sql)),
        }
    }
    report.owners_not_kept = report.owners_lost.len();
    Some((create, refusable))
}
