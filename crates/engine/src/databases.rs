//! Creating target databases that match the source: encoding, collation and ctype, locale
//! provider, connection limit, comment, database-level settings, owner and privileges
//! (`GRANT ... ON DATABASE`, including a `REVOKE CONNECT ... FROM PUBLIC` that hardens it).
//!
//! Where the target cannot reproduce a property (a libc locale the target machine lacks, a
//! locale provider older targets do not have, an owner the migration user may not set), the
//! database is still created with the target's default and a warning says exactly what differs,
//! so nothing changes silently. The encoding is never substituted: a database in another
//! encoding would change what data can be stored, so that fails instead.

use crate::catalog::databases::DatabaseInfo;
use crate::conn::Session;
use crate::error::{Error, Result};
use crate::remedy::{Remedy, Setting};
use crate::sql::{quote_ident, quote_literal, set_clause};
use crate::warning::Warning;

/// What happened to one database in the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbOutcome {
    /// True when this run created the database; false when it already existed.
    pub created: bool,
    /// Differences from the source an operator should know about.
    pub warnings: Vec<Warning>,
}

/// Locale clauses for `CREATE DATABASE`, as far as the target supports them.
fn locale_clauses(src: &DatabaseInfo, target_version: u32, warnings: &mut Vec<Warning>) -> String {
    let mut sql = format!(
        " LC_COLLATE {} LC_CTYPE {}",
        quote_literal(&src.collate),
        quote_literal(&src.ctype)
    );
    match src.locale_provider {
        'i' if target_version >= 150000 => {
            sql.push_str(" LOCALE_PROVIDER icu");
            if let Some(loc) = &src.locale {
                sql.push_str(&format!(" ICU_LOCALE {}", quote_literal(loc)));
            }
            if let Some(rules) = &src.icu_rules {
                if target_version >= 160000 {
                    sql.push_str(&format!(" ICU_RULES {}", quote_literal(rules)));
                } else {
                    warnings.push(db_warning(
                        src,
                        format!(
                            "ICU rules are not supported by the target (PostgreSQL {}); created without them",
                            target_version / 10000
                        ),
                    ));
                }
            }
        }
        'b' if target_version >= 170000 => {
            sql.push_str(" LOCALE_PROVIDER builtin");
            if let Some(loc) = &src.locale {
                sql.push_str(&format!(" BUILTIN_LOCALE {}", quote_literal(loc)));
            }
        }
        'c' => {}
        other => warnings.push(db_warning(src, format!(
            "the source uses locale provider '{}' which the target (PostgreSQL {}) does not support; created with the libc provider",
            match other {
                'i' => "icu",
                'b' => "builtin",
                _ => "unknown",
            },
            target_version / 10000
        ))),
    }
    sql
}

/// A warning about how database `src` was created in the target: its text names the database
/// (`database "app": ...`), which is also its object.
fn db_warning(src: &DatabaseInfo, message: String) -> Warning {
    Warning::database_setting(message)
        .on(format!("database \"{}\"", src.name))
        .in_database(&src.name)
}

/// True when an error from `CREATE DATABASE` is about a locale the target does not have.
fn is_locale_error(e: &Error) -> bool {
    let m = e.message().to_ascii_lowercase();
    m.contains("locale")
        || m.contains("collation")
        || m.contains("lc_collate")
        || m.contains("lc_ctype")
}

/// Makes sure `src` exists in the target: creates it when missing (and `createdb`), with the
/// source's comment, settings and (unless `no_acl`) privileges. An existing database (a managed
/// service's `defaultdb`, or one a user made beforehand) keeps its owner and gets the source's
/// comment, settings and privileges where they differ (see [`adjust_existing`]).
pub async fn ensure_database(
    target: &Session,
    src: &DatabaseInfo,
    existing: Option<&DatabaseInfo>,
    createdb: bool,
    no_acl: bool,
) -> Result<DbOutcome> {
    let mut warnings = Vec::new();
    if let Some(existing) = existing {
        adjust_existing(target, src, existing, no_acl, &mut warnings).await;
        return Ok(DbOutcome {
            created: false,
            warnings,
        });
    }
    if !createdb {
        return Err(Error::validation(format!(
            "database \"{}\" does not exist in the target and {} was given: create it first or drop {}",
            src.name,
            Setting::NoCreatedb,
            Setting::NoCreatedb
        ))
        .with_remedy(Remedy::Drop {
            setting: Setting::NoCreatedb,
        }));
    }
    let plan = create_plan(target, src, &mut warnings).await?;
    let owner_kept = create(target, src, &plan, &mut warnings).await?;
    let name = &plan.name;

    if let Some(comment) = &src.comment {
        let sql = format!("COMMENT ON DATABASE {name} IS {}", quote_literal(comment));
        if let Err(e) = target.batch_execute(&sql).await {
            warnings.push(db_warning(
                src,
                format!("could not set its comment: {}", Error::from_pg(e).message()),
            ));
        }
    }
    if !no_acl {
        let statements = privilege_statements(src, owner_kept);
        apply_privileges(target, src, &statements, &mut warnings).await;
    }
    apply_settings(target, src, &src.settings, &mut warnings).await;
    Ok(DbOutcome {
        created: true,
        warnings,
    })
}

/// The `CREATE DATABASE` statements to try for `src`, the faithful one first.
struct CreatePlan {
    /// The database's name, quoted.
    name: String,
    /// `CREATE DATABASE` with its template and encoding, which are never relaxed.
    base: String,
    limit: String,
    /// The `OWNER` clause, empty when the source's owner is not in the target.
    owner: String,
    /// Each statement, with the warning that says what it left out.
    attempts: Vec<(String, Option<Warning>)>,
}

/// The statements that create `src`: the source's locale, connection limit and owner as far
/// as the target has them (a warning for each it lacks), then without the owner, for a
/// migration user who may not set it.
async fn create_plan(
    target: &Session,
    src: &DatabaseInfo,
    warnings: &mut Vec<Warning>,
) -> Result<CreatePlan> {
    let name = quote_ident(&src.name);
    let base = format!(
        "CREATE DATABASE {name} WITH TEMPLATE template0 ENCODING {}",
        quote_literal(&src.encoding)
    );
    let limit = if src.connection_limit >= 0 {
        format!(" CONNECTION LIMIT {}", src.connection_limit)
    } else {
        String::new()
    };
    let owner_exists = crate::catalog::roles::role_exists(target, &src.owner).await?;
    let owner = if owner_exists {
        format!(" OWNER {}", quote_ident(&src.owner))
    } else {
        warnings.push(db_warning(
            src,
            format!(
                "owner role \"{}\" does not exist in the target; the database is owned by the migration user",
                src.owner
            ),
        ));
        String::new()
    };
    let locale = locale_clauses(src, target.server_version_num(), warnings);

    // Try the faithful statement first, then relax what the target cannot honour, saying so.
    let mut attempts: Vec<(String, Option<Warning>)> =
        vec![(format!("{base}{locale}{limit}{owner}"), None)];
    if !owner.is_empty() {
        attempts.push((
            format!("{base}{locale}{limit}"),
            Some(db_warning(
                src,
                format!(
                    "the migration user may not make \"{}\" the owner; the database is owned by the migration user",
                    src.owner
                ),
            )),
        ));
    }
    Ok(CreatePlan {
        name,
        base,
        limit,
        owner,
        attempts,
    })
}

/// Runs `plan`'s statements until one creates the database, each retried without its locale
/// when the target lacks that locale; returns whether the database has the source's owner.
async fn create(
    target: &Session,
    src: &DatabaseInfo,
    plan: &CreatePlan,
    warnings: &mut Vec<Warning>,
) -> Result<bool> {
    let CreatePlan {
        name,
        base,
        limit,
        owner,
        attempts,
    } = plan;
    let mut last_err = None;
    let mut created = false;
    // Whether the database was created with the source's owner (the first attempt).
    let mut owner_kept = false;
    for (i, (sql, note)) in attempts.iter().enumerate() {
        match target.batch_execute(sql).await.map_err(Error::from_pg) {
            Ok(()) => {
                if let Some(n) = note {
                    warnings.push(n.clone());
                }
                created = true;
                owner_kept = i == 0 && !owner.is_empty();
                break;
            }
            Err(e) if is_locale_error(&e) => {
                // The target machine lacks the locale: fall back to the target's defaults.
                let relaxed = format!("{base}{limit}{}", if i == 0 { owner } else { "" });
                tracing::info!(
                    database = %src.name,
                    "target lacks the source locale ({}); using the target default: {}",
                    src.collate,
                    e.message()
                );
                match target.batch_execute(&relaxed).await.map_err(Error::from_pg) {
                    Ok(()) => {
                        warnings.push(db_warning(src, format!(
                            "the target does not support the source locale (collate \"{}\", ctype \"{}\"{}): created with the target's default locale ({})",
                            src.collate,
                            src.ctype,
                            src.locale
                                .as_deref()
                                .map(|l| format!(", locale \"{l}\""))
                                .unwrap_or_default(),
                            e.message()
                        )));
                        if let Some(n) = note {
                            warnings.push(n.clone());
                        }
                        created = true;
                        owner_kept = i == 0 && !owner.is_empty();
                        break;
                    }
                    Err(e2) => last_err = Some(e2),
                }
            }
            Err(e) if e.is_insufficient_privilege() && i + 1 < attempts.len() => last_err = Some(e),
            Err(e) => {
                last_err = Some(e);
                break;
            }
        }
    }
    if !created {
        let e = last_err.unwrap_or_else(|| Error::protocol("CREATE DATABASE was not attempted"));
        return Err(e.with_object(format!("CREATE DATABASE {name}")));
    }
    Ok(owner_kept)
}

/// Creates the scratch database `name` of a rehearsal ([`crate::schema::rehearsal`]) as the
/// run would create `src` (encoding, locale where the target has it, database-level settings),
/// owned by the migration user so that it can drop it again. Comment, privileges and owner are
/// left out: they belong to the database, not to the objects the rehearsal creates in it.
/// What a scratch database fixes at creation for the databases rehearsed in it: encoding and
/// locale (its settings are set again for each, see [`reuse_scratch`]).
pub(crate) fn scratch_key(target: &Session, src: &DatabaseInfo) -> String {
    let locale = locale_clauses(src, target.server_version_num(), &mut Vec::new());
    format!("{}{locale}", src.encoding)
}

/// A scratch database made ready for another source database of the same
/// [`scratch_key`]: the previous one's settings removed, this one's set.
pub(crate) async fn reuse_scratch(target: &Session, src: &DatabaseInfo, name: &str) -> Result<()> {
    target
        .batch_execute(&format!("ALTER DATABASE {} RESET ALL", quote_ident(name)))
        .await
        .map_err(Error::from_pg)?;
    let scratch = DatabaseInfo {
        name: name.to_string(),
        ..src.clone()
    };
    apply_settings(target, &scratch, &src.settings, &mut Vec::new()).await;
    Ok(())
}

pub(crate) async fn create_scratch(target: &Session, src: &DatabaseInfo, name: &str) -> Result<()> {
    let base = format!(
        "CREATE DATABASE {} WITH TEMPLATE template0 ENCODING {}",
        quote_ident(name),
        quote_literal(&src.encoding)
    );
    let locale = locale_clauses(src, target.server_version_num(), &mut Vec::new());
    match target
        .batch_execute(&format!("{base}{locale}"))
        .await
        .map_err(Error::from_pg)
    {
        Ok(()) => {}
        Err(e) if is_locale_error(&e) => {
            target.batch_execute(&base).await.map_err(Error::from_pg)?
        }
        Err(e) => return Err(e),
    }
    let scratch = DatabaseInfo {
        name: name.to_string(),
        ..src.clone()
    };
    apply_settings(target, &scratch, &src.settings, &mut Vec::new()).await;
    Ok(())
}

/// An existing target database gets what the source's has and it lacks, never losing what the
/// target put there itself: the comment when it differs; each setting whose value differs (the
/// target's other settings stay); and, when the source's privileges are not the defaults, the
/// grants and revokes that give PUBLIC and every role the source's ACL names the source's
/// privileges (PUBLIC always: a hardening `REVOKE CONNECT ... FROM PUBLIC` comes along). The
/// source owner's own entry stands for the target owner's (the owner of the
/// existing database keeps it); roles the source does not name keep theirs. What the target
/// user may not change (it does not own the database) is a warning per statement.
async fn adjust_existing(
    target: &Session,
    src: &DatabaseInfo,
    existing: &DatabaseInfo,
    no_acl: bool,
    warnings: &mut Vec<Warning>,
) {
    let name = quote_ident(&src.name);
    if src.comment.is_some() && src.comment != existing.comment {
        let comment = src.comment.as_deref().unwrap_or_default();
        let sql = format!("COMMENT ON DATABASE {name} IS {}", quote_literal(comment));
        if let Err(e) = target.batch_execute(&sql).await {
            warnings.push(db_warning(
                src,
                format!("could not set its comment: {}", Error::from_pg(e).message()),
            ));
        }
    }
    let differing: Vec<String> = src
        .settings
        .iter()
        .filter(|s| !existing.settings.contains(s))
        .cloned()
        .collect();
    apply_settings(target, src, &differing, warnings).await;
    if !no_acl {
        let statements = existing_privilege_statements(src, existing);
        apply_privileges(target, src, &statements, warnings).await;
    }
}

/// The statements that give an existing database the source's privileges (see
/// [`adjust_existing`]).
fn existing_privilege_statements(src: &DatabaseInfo, existing: &DatabaseInfo) -> Vec<String> {
    use crate::schema::model::parse_aclitem;
    let Some(acl) = &src.acl else {
        return Vec::new();
    };
    let owner_as_target = |r: &str| {
        if r == src.owner {
            existing.owner.clone()
        } else {
            r.to_string()
        }
    };
    let render = |g: &Option<String>, privileges: &[(char, bool)], grantor: &str| {
        let mut text = match g {
            Some(r) => crate::sql::quote_ident(r),
            None => String::new(),
        };
        text.push('=');
        for (p, go) in privileges {
            text.push(*p);
            if *go {
                text.push('*');
            }
        }
        text.push('/');
        text.push_str(&crate::sql::quote_ident(grantor));
        text
    };
    let wanted: Vec<String> = acl
        .iter()
        .filter_map(|a| parse_aclitem(a))
        .map(|i| {
            let grantee = i.grantee.as_deref().map(owner_as_target);
            render(&grantee, &i.privileges, &owner_as_target(&i.grantor))
        })
        .collect();
    // PUBLIC always counts as named: a source ACL without a PUBLIC entry revoked it.
    let named: Vec<Option<String>> = std::iter::once(None)
        .chain(
            acl.iter()
                .filter_map(|a| parse_aclitem(a))
                .map(|i| i.grantee.as_deref().map(owner_as_target)),
        )
        .collect();
    // What the target has now, for the grantees the source names (PUBLIC included).
    let current: Vec<String> = existing
        .acl
        .as_deref()
        .unwrap_or(&existing.acl_default)
        .iter()
        .filter(|a| parse_aclitem(a).is_some_and(|i| named.contains(&i.grantee)))
        .cloned()
        .collect();
    crate::schema::model::acl_delta_sql(
        &format!("DATABASE {}", quote_ident(&src.name)),
        &existing.owner,
        &wanted,
        &current,
    )
}

/// Runs privilege statements on a database, each on its own; a refused one is a warning.
async fn apply_privileges(
    target: &Session,
    src: &DatabaseInfo,
    statements: &[String],
    warnings: &mut Vec<Warning>,
) {
    for sql in statements {
        if let Err(e) = target.batch_execute(sql).await {
            warnings.push(
                Warning::new(
                    crate::warning::WarningKind::Privilege,
                    format!(
                        "database \"{}\": privileges not applied: {} ({sql})",
                        src.name,
                        Error::from_pg(e).message()
                    ),
                )
                .on(format!("database \"{}\"", src.name))
                .in_database(&src.name),
            );
        }
    }
}

/// `ALTER DATABASE ... SET` for each of `entries` (`name=value`); a refused one is a warning.
async fn apply_settings(
    target: &Session,
    src: &DatabaseInfo,
    entries: &[String],
    warnings: &mut Vec<Warning>,
) {
    let name = quote_ident(&src.name);
    for entry in entries {
        let Some(clause) = set_clause(entry) else {
            continue;
        };
        let sql = format!("ALTER DATABASE {name} SET {clause}");
        if let Err(e) = target.batch_execute(&sql).await {
            let setting = entry.split('=').next().unwrap_or(entry);
            warnings.push(db_warning(
                src,
                format!(
                    "could not apply setting \"{setting}\": {}",
                    Error::from_pg(e).message()
                ),
            ));
        }
    }
}

/// GRANT / REVOKE statements that give a database this run created the source's privileges.
/// When the migration user owns it instead of the source's owner (`owner_kept` false), the
/// source owner's own entry is left out: the migration user holds those rights as the owner,
/// and granting them to the source's owner would be a grant the source does not have.
fn privilege_statements(src: &DatabaseInfo, owner_kept: bool) -> Vec<String> {
    let object = format!("DATABASE {}", quote_ident(&src.name));
    let mut statements = crate::schema::model::acl_sql(
        &object,
        &src.owner,
        src.acl.as_deref(),
        &src.acl_default,
        None,
    );
    if !owner_kept {
        statements.retain(|s| !crate::schema::exec::is_owner_self_grant(s, &src.owner));
    }
    statements
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db(provider: char) -> DatabaseInfo {
        DatabaseInfo {
            oid: 1,
            name: "d".into(),
            owner: "o".into(),
            encoding: "UTF8".into(),
            collate: "C.UTF-8".into(),
            ctype: "C.UTF-8".into(),
            locale_provider: provider,
            locale: Some("und-x-icu".into()),
            icu_rules: None,
            connection_limit: -1,
            allow_connections: true,
            is_template: false,
            comment: None,
            settings: vec![],
            acl: None,
            acl_default: vec!["=Tc/o".into(), "o=CTc/o".into()],
        }
    }

    #[test]
    fn an_existing_database_gets_the_sources_privileges_for_the_roles_it_names() {
        let mut src = db('c');
        src.owner = "app".into();
        src.acl = Some(vec![
            "app=CTc/app".into(),
            "reader=c/app".into(),
            "writer=Cc/app".into(),
        ]);
        let mut existing = db('c');
        existing.owner = "avnadmin".into();
        existing.acl = Some(vec![
            "=Tc/avnadmin".into(),
            "avnadmin=CTc/avnadmin".into(),
            "provider_agent=c/avnadmin".into(),
        ]);
        assert_eq!(
            existing_privilege_statements(&src, &existing),
            vec![
                "REVOKE TEMPORARY ON DATABASE \"d\" FROM PUBLIC",
                "REVOKE CONNECT ON DATABASE \"d\" FROM PUBLIC",
                "GRANT CONNECT ON DATABASE \"d\" TO \"reader\"",
                "GRANT CREATE ON DATABASE \"d\" TO \"writer\"",
                "GRANT CONNECT ON DATABASE \"d\" TO \"writer\"",
            ],
            "the owner's entry is the existing owner's; provider_agent keeps its grant"
        );
        // The source has the default privileges: the existing database is left as it is.
        src.acl = None;
        assert!(existing_privilege_statements(&src, &existing).is_empty());
    }

    #[test]
    fn database_privileges_are_rebuilt_and_a_lost_owner_gets_no_grant() {
        let mut d = db('c');
        assert!(
            privilege_statements(&d, true).is_empty(),
            "default privileges"
        );
        // REVOKE CONNECT FROM PUBLIC, CREATE for one role, the owner without TEMPORARY.
        d.acl = Some(vec!["o=Cc/o".into(), "=T/o".into(), "app=C/o".into()]);
        assert_eq!(
            privilege_statements(&d, true),
            vec![
                "REVOKE TEMPORARY, CONNECT ON DATABASE \"d\" FROM PUBLIC",
                "REVOKE CREATE, TEMPORARY, CONNECT ON DATABASE \"d\" FROM \"o\"",
                "GRANT CREATE, CONNECT ON DATABASE \"d\" TO \"o\"",
                "GRANT TEMPORARY ON DATABASE \"d\" TO PUBLIC",
                "GRANT CREATE ON DATABASE \"d\" TO \"app\"",
            ]
        );
        assert_eq!(
            privilege_statements(&d, false),
            vec![
                "REVOKE TEMPORARY, CONNECT ON DATABASE \"d\" FROM PUBLIC",
                "GRANT TEMPORARY ON DATABASE \"d\" TO PUBLIC",
                "GRANT CREATE ON DATABASE \"d\" TO \"app\"",
            ]
        );
    }

    #[test]
    fn icu_is_kept_where_the_target_supports_it() {
        let mut w = vec![];
        let s = locale_clauses(&db('i'), 150000, &mut w);
        assert!(
            s.contains("LOCALE_PROVIDER icu ICU_LOCALE 'und-x-icu'"),
            "{s}"
        );
        assert!(w.is_empty());
    }

    #[test]
    fn unsupported_providers_fall_back_with_a_warning() {
        let mut w = vec![];
        let s = locale_clauses(&db('b'), 160000, &mut w);
        assert!(!s.contains("LOCALE_PROVIDER"), "{s}");
        assert_eq!(w.len(), 1);
        assert!(w[0].to_string().contains("builtin"), "{}", w[0]);
    }
}
