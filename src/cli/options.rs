//! Turns the parsed flags into [`MigrateOptions`], the library's view of a run: the checks that
//! involve several flags at once, and the defaults the flags leave to the library.

use super::args::{CopyFormatArg, MethodArg, PgArgs, StatisticsArg};
use crate::conn::ConnInfo;
use crate::error::{Error, Result};
use crate::options::{MigrateOptions, RolePasswords, RunMode, random_migration_id};

/// Splits a comma-separated list, trimming blanks around names and dropping empty items.
fn split_list(v: &Option<String>) -> Vec<String> {
    v.as_deref()
        .map(|s| {
            s.split(',')
                .map(str::trim)
                .filter(|x| !x.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

impl TryFrom<&PgArgs> for MigrateOptions {
    type Error = Error;

    fn try_from(a: &PgArgs) -> Result<Self> {
        let source = a.source.as_deref().ok_or_else(|| {
            Error::config("no source given: use -s/--source or set SOURCE_SERVICE_URI")
        })?;
        let target = a.target.as_deref().ok_or_else(|| {
            Error::config("no target given: use -t/--target or set TARGET_SERVICE_URI")
        })?;
        let source = ConnInfo::parse(source).map_err(|e| e.context("invalid --source"))?;
        let target = ConnInfo::parse(target).map_err(|e| e.context("invalid --target"))?;
        let dbs_max_total_size = match a.dbs_max_total_size {
            None => None,
            Some(n) if n < 0 => None, // -1 means "no limit", as in the tool we replace
            Some(n) => Some(n as u64),
        };
        if let Some(id) = &a.migration_id {
            check_migration_id(id)?;
        }
        crate::cli::output::check_combination(a.json.as_deref(), a.print_ddl.as_deref())?;
        let role_passwords = match &a.role_passwords {
            Some(p) => RolePasswords::from_file(p)?,
            None => RolePasswords::default(),
        };
        if a.schema_only && (a.repl_only || a.force_method == Some(MethodArg::Replication)) {
            return Err(Error::config(
                "--schema-only copies no data, so there is nothing to replicate: drop \
                 --repl-only / --force-method replication, or --schema-only",
            ));
        }
        Ok(MigrateOptions {
            source,
            target,
            filtered_dbs: db_list("-f/--filtered-db", &a.filtered_db)?,
            only_dbs: db_list("--only-db", &a.only_db)?,
            excluded_roles: split_list(&a.excluded_roles),
            excluded_extensions: split_list(&a.excluded_extensions),
            createdb: !a.no_createdb,
            skip_db_version_check: a.skip_db_version_check,
            dbs_max_total_size,
            show_passwords: a.show_passwords,
            role_passwords,
            migration_id: a.migration_id.clone().unwrap_or_else(random_migration_id),
            schema_only: a.schema_only,
            schema: crate::schema::SchemaOptions {
                no_owner: a.no_owner,
                no_acl: a.no_acl,
                no_publications: a.no_publications,
                no_subscriptions: a.no_subscriptions,
            },
            schema_jobs: match a.schema_jobs {
                Some(n) => Some(
                    std::num::NonZeroUsize::new(n)
                        .ok_or_else(|| Error::config("--schema-jobs must be at least 1"))?,
                ),
                None => None,
            },
            databases_at_once: a.db_jobs.and_then(std::num::NonZeroUsize::new),
            copy: copy_options(a)?,
            force_method: force_method(a),
            replication: replication_options(a)?,
            mode: mode(a),
            verify: verify_options(a)?,
            resume: a.resume,
            clean: a.clean,
            rehearsal: !a.no_rehearsal,
            keep_going: a.keep_going,
            selection: crate::selection::Selection::parse(
                &a.with_table,
                &a.skip_table,
                &a.schema,
                &a.exclude_schema,
                &a.exclude_table_data,
            )?,
            include_provider_objects: a.include_provider_objects,
            cancel: Default::default(),
        })
    }
}

/// `--jobs`, `--copy-format`, `--split-tables-larger-than`, `--statistics`, `--copy-retries`,
/// `--stall-timeout` and their defaults; quiet progress when the JSON goes to stdout.
fn copy_options(a: &PgArgs) -> Result<crate::copy::CopyOptions> {
    let mut c = crate::copy::CopyOptions::default();
    if let Some(j) = a.jobs {
        c.jobs = std::num::NonZeroUsize::new(j)
            .ok_or_else(|| Error::config("--jobs must be at least 1"))?;
    }
    c.format = match a.copy_format {
        CopyFormatArg::Auto => crate::copy::CopyFormat::Auto,
        CopyFormatArg::Binary => crate::copy::CopyFormat::Binary,
        CopyFormatArg::Text => crate::copy::CopyFormat::Text,
    };
    if let Some(size) = a.split_tables_larger_than {
        c.split_larger_than = size;
    }
    use crate::copy::statistics::StatisticsMode;
    c.statistics = match (a.no_analyze, a.statistics) {
        (true, _) | (_, Some(StatisticsArg::None)) => StatisticsMode::None,
        (_, Some(StatisticsArg::Analyze)) => StatisticsMode::Analyze,
        (_, Some(StatisticsArg::Restore) | None) => StatisticsMode::Restore,
    };
    c.retries = a.copy_retries;
    if let Some(t) = a.stall_timeout {
        c.stall_timeout = crate::stall::bound_from(t);
    }
    c.extension_tables = !a.no_replicate_extension_tables;
    if a.json.as_deref() == Some("-") {
        c.progress = crate::copy::ProgressMode::Quiet;
    }
    Ok(c)
}

/// The method `--force-method` (or the older `--dump-only` / `--repl-only`) imposes, if any.
fn force_method(a: &PgArgs) -> Option<crate::report::Method> {
    match (a.force_method, a.dump_only, a.repl_only) {
        (Some(MethodArg::Dump), _, _) | (None, true, _) => Some(crate::report::Method::Dump),
        (Some(MethodArg::Replication), _, _) | (None, _, true) => {
            Some(crate::report::Method::Replication)
        }
        _ => None,
    }
}

/// The replication method's flags, checked together: a `--follow` needs a lag to wait for,
/// the cut-over's flags need `--cutover` (see [`cutover_options`]), `--stop-replication`
/// needs a lag.
fn replication_options(a: &PgArgs) -> Result<crate::replication::ReplicationOptions> {
    let mut r = crate::replication::ReplicationOptions {
        mangle: a.mangle,
        stop_replication: a.stop_replication,
        replica_identity_full: a.replica_identity_full,
        max_replication_lag: a.max_replication_lag.filter(|n| *n >= 0).map(|n| n as u64),
        ..Default::default()
    };
    if let Some(t) = a.replication_timeout {
        r.replication_timeout = t;
    }
    r.follow_for = a.follow;
    if let Some(t) = a.schema_check_interval {
        r.schema_check_interval = t.max(std::time::Duration::from_millis(100));
    }
    if a.follow.is_some() && a.max_replication_lag.is_none_or(|n| n < 0) && !a.cutover {
        return Err(Error::config(
            "--follow keeps a replication wait going: add --max-replication-lag (or --cutover)",
        ));
    }
    if !(a.cutover || a.fail_back)
        && (a.max_downtime.is_some() || a.fence_roles.is_some() || a.cutover_max_lag.is_some())
    {
        return Err(Error::config(
            "--max-downtime, --fence-roles and --cutover-max-lag are for a fenced cut-over: add --cutover (or --fail-back)",
        ));
    }
    if a.cutover || a.fail_back {
        let co = cutover_options(a)?;
        // The run waits for this lag first (bounded by --replication-timeout),
        // unless --max-replication-lag names another.
        if a.cutover {
            r.max_replication_lag = r.max_replication_lag.or(Some(co.max_lag));
            r.stop_replication = true;
        }
        r.cutover = Some(co);
    }
    if let Some(c) = &a.subscription_conninfo {
        r.subscription_conninfo =
            Some(ConnInfo::parse(c).map_err(|e| e.context("invalid --subscription-conninfo"))?);
    }
    if r.replica_identity_full && a.force_method == Some(MethodArg::Dump) {
        return Err(Error::config(
            "--replica-identity-full is for the replication method and cannot be used with --force-method dump",
        ));
    }
    if r.stop_replication && r.max_replication_lag.is_none() {
        return Err(Error::config(
            "--stop-replication requires --max-replication-lag >= 0 (the lag to wait for before stopping)",
        ));
    }
    Ok(r)
}

/// The fenced cut-over's flags (`--cutover` or `--fail-back`): `--max-downtime`,
/// `--fail-back-ready`, `--cutover-max-lag`, `--fence-roles`.
fn cutover_options(a: &PgArgs) -> Result<crate::replication::fence::CutoverOptions> {
    let mut co = crate::replication::fence::CutoverOptions {
        max_downtime: a.max_downtime,
        fail_back_ready: a.fail_back_ready,
        ..Default::default()
    };
    if let Some(lag) = a.cutover_max_lag {
        co.max_lag = lag;
    }
    if a.fence_roles.is_some() {
        let roles = split_list(&a.fence_roles);
        if roles.is_empty() {
            return Err(Error::config(
                "--fence-roles: empty value (give comma-separated role names)",
            ));
        }
        co.fence_roles = Some(roles);
    }
    if a.max_downtime == Some(std::time::Duration::ZERO) {
        return Err(Error::config(
            "--max-downtime 0 would abort every cut-over: give a bound above 0",
        ));
    }
    Ok(co)
}

/// What the run does, the first of `--print-ddl`, `--verify-only`, `--validate` and
/// `--cleanup` given, else a migration.
fn mode(a: &PgArgs) -> RunMode {
    if a.print_ddl.is_some() {
        RunMode::PrintDdl
    } else if a.verify_only {
        RunMode::VerifyOnly
    } else if a.validate {
        RunMode::Validate
    } else if a.cleanup {
        RunMode::Cleanup
    } else {
        RunMode::Migrate
    }
}

/// `--verify`, `--verify-max-rows` and `--verify-statistics`, which need data to compare.
fn verify_options(a: &PgArgs) -> Result<crate::verify::VerifyOptions> {
    if a.verify && a.schema_only {
        return Err(Error::config(
            "--verify compares data, which --schema-only does not copy: drop one of them",
        ));
    }
    if a.verify_statistics && !(a.verify || a.verify_only) {
        return Err(Error::config(
            "--verify-statistics is part of a comparison: add --verify or --verify-only",
        ));
    }
    Ok(crate::verify::VerifyOptions {
        after_copy: a.verify,
        max_rows: a.verify_max_rows.unwrap_or(crate::verify::DEFAULT_MAX_ROWS),
        statistics: a.verify_statistics,
    })
}

/// `--migration-id` goes into every log line and the report: control characters (a newline, an
/// escape sequence) would let it forge log lines or repaint a terminal, so they are refused.
fn check_migration_id(id: &str) -> Result<()> {
    if id.is_empty() || id.chars().count() > 64 {
        return Err(Error::config(
            "--migration-id must be 1 to 64 characters long",
        ));
    }
    if let Some(c) = id
        .chars()
        .find(|c| c.is_control() || crate::text::is_bidi_control(*c))
    {
        return Err(Error::config(format!(
            "--migration-id must not contain control characters (found {})",
            c.escape_unicode()
        )));
    }
    Ok(())
}

/// A database list flag: given but empty (an unset shell variable, say) is an error, not
/// "every database".
pub(crate) fn db_list(flag: &str, v: &Option<String>) -> Result<Vec<String>> {
    let list = split_list(v);
    if v.is_some() && list.is_empty() {
        return Err(Error::config(format!(
            "{flag}: empty value (give comma-separated database names)"
        )));
    }
    Ok(list)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::args::*;
    use clap::Parser;

    fn parse(args: &[&str]) -> PgArgs {
        let argv = std::iter::once("pg_migrate".to_string())
            .chain(normalize_args(args.iter().map(|s| s.to_string())));
        PgArgs::try_parse_from(argv).unwrap()
    }

    #[test]
    fn python_two_letter_flags_are_accepted() {
        let a = parse(&["-s", "host=a", "-t", "host=b", "-xr", "r1, r2", "-xe=ext"]);
        let o = MigrateOptions::try_from(&a).unwrap();
        assert_eq!(o.excluded_roles, vec!["r1", "r2"]);
        assert_eq!(o.excluded_extensions, vec!["ext"]);
    }

    #[test]
    fn sizes_take_postgres_units() {
        assert_eq!(parse_size("1048576"), Ok(1 << 20));
        assert_eq!(parse_size("512MB"), Ok(512 << 20));
        assert_eq!(parse_size("2 GB"), Ok(2 << 30));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("0"), Ok(0));
        assert!(parse_size("lots").unwrap_err().contains("invalid size"));
        assert!(parse_size("5 parsecs").unwrap_err().contains("unit"));
    }

    #[test]
    fn data_flags_reach_the_copy_options() {
        let a = parse(&[
            "-s",
            "host=a",
            "-t",
            "host=b",
            "--jobs",
            "3",
            "--copy-format",
            "text",
            "--split-tables-larger-than",
            "1MB",
            "--no-analyze",
            "--no-replicate-extension-tables",
        ]);
        let o = MigrateOptions::try_from(&a).unwrap();
        assert_eq!(o.copy.jobs.get(), 3);
        assert_eq!(o.copy.format, crate::copy::CopyFormat::Text);
        assert_eq!(o.copy.split_larger_than, 1 << 20);
        assert_eq!(
            o.copy.statistics,
            crate::copy::statistics::StatisticsMode::None
        );
        assert!(!o.copy.extension_tables);
    }

    #[test]
    fn schema_only_refuses_a_forced_replication() {
        for extra in [&["--repl-only"][..], &["--force-method", "replication"][..]] {
            let mut args = vec!["-s", "host=a", "-t", "host=b", "--schema-only"];
            args.extend_from_slice(extra);
            let err = MigrateOptions::try_from(&parse(&args)).unwrap_err();
            assert!(err.to_string().contains("nothing to replicate"), "{err}");
        }
        let mut args = vec![
            "-s",
            "host=a",
            "-t",
            "host=b",
            "--schema-only",
            "--dump-only",
        ];
        assert!(MigrateOptions::try_from(&parse(&args)).is_ok());
        args.truncate(5);
        assert!(MigrateOptions::try_from(&parse(&args)).is_ok());
    }

    #[test]
    fn schema_sessions_default_to_twice_the_jobs_and_can_be_set() {
        let o = |extra: &[&str]| {
            let mut args = vec!["-s", "host=a", "-t", "host=b"];
            args.extend_from_slice(extra);
            MigrateOptions::try_from(&parse(&args))
        };
        assert_eq!(o(&["--jobs", "3"]).unwrap().ddl_sessions(), 6);
        assert_eq!(o(&["--jobs", "12"]).unwrap().ddl_sessions(), 16);
        assert_eq!(
            o(&["--jobs", "12", "--schema-jobs", "24"])
                .unwrap()
                .ddl_sessions(),
            24
        );
        assert_eq!(
            o(&["--jobs", "3", "--schema-jobs", "1"])
                .unwrap()
                .ddl_sessions(),
            1
        );
    }

    #[test]
    fn out_of_range_numbers_are_refused_naming_the_flag_and_the_range() {
        let try_parse = |args: &[&str]| {
            let argv = ["pg_migrate", "-s", "host=a", "-t", "host=b"]
                .into_iter()
                .chain(args.iter().copied());
            PgArgs::try_parse_from(argv).map(|a| MigrateOptions::try_from(&a))
        };
        for (args, flag, range) in [
            (&["--jobs", "-1"][..], "--jobs", "1 to 1024"),
            (&["--jobs", "0"][..], "--jobs", "1 to 1024"),
            (&["--jobs", "100000"][..], "--jobs", "1 to 1024"),
            (&["-j", "two"][..], "--jobs", "1 to 1024"),
            (&["--schema-jobs", "0"][..], "--schema-jobs", "1 to 1024"),
            (&["--schema-jobs", "-3"][..], "--schema-jobs", "1 to 1024"),
            (
                &["--max-replication-lag=-7"][..],
                "--max-replication-lag",
                "-1 for none",
            ),
            (
                &["--dbs-max-total-size=-5"][..],
                "--dbs-max-total-size",
                "-1 for none",
            ),
        ] {
            let err = try_parse(args).unwrap_err().to_string();
            assert!(err.contains(flag) && err.contains(range), "{args:?}: {err}");
        }
        assert!(try_parse(&["--max-replication-lag=-1"]).unwrap().is_ok());
        assert!(try_parse(&["--jobs", "1024"]).unwrap().is_ok());
    }

    #[test]
    fn a_migration_id_with_control_characters_is_refused() {
        for id in ["a\nb", "x\u{1b}[2J", "ab\u{202e}cd", ""] {
            let a = parse(&["-s", "host=a", "-t", "host=b", "--migration-id", id]);
            let err = MigrateOptions::try_from(&a).unwrap_err().to_string();
            assert!(err.contains("--migration-id"), "{id:?}: {err}");
        }
        let a = parse(&[
            "-s",
            "host=a",
            "-t",
            "host=b",
            "--migration-id",
            "cut-over 2",
        ]);
        assert_eq!(
            MigrateOptions::try_from(&a).unwrap().migration_id,
            "cut-over 2"
        );
    }

    #[test]
    fn method_flags_choose_and_force_the_method() {
        let o = |extra: &[&str]| {
            let mut args = vec!["-s", "host=a", "-t", "host=b"];
            args.extend_from_slice(extra);
            MigrateOptions::try_from(&parse(&args)).unwrap()
        };
        assert_eq!(o(&[]).force_method, None);
        assert_eq!(
            o(&["--dump-only"]).force_method,
            Some(crate::report::Method::Dump)
        );
        let r = o(&["--repl-only"]);
        assert_eq!(r.force_method, Some(crate::report::Method::Replication));
        let r = o(&[
            "--force-method",
            "replication",
            "--max-replication-lag",
            "0",
            "--stop-replication",
            "-m",
        ]);
        assert_eq!(r.force_method, Some(crate::report::Method::Replication));
        assert!(r.replication.stop_replication && r.replication.mangle);
        assert_eq!(r.replication.max_replication_lag, Some(0));
        assert_eq!(
            o(&["--max-replication-lag", "-1"])
                .replication
                .max_replication_lag,
            None
        );
        assert_eq!(
            o(&["--replication-timeout", "30m"])
                .replication
                .replication_timeout,
            std::time::Duration::from_secs(1800)
        );
    }

    #[test]
    fn stall_timeout_takes_replication_timeouts_durations_and_off() {
        let o = |extra: &[&str]| {
            let mut args = vec!["-s", "host=a", "-t", "host=b"];
            args.extend_from_slice(extra);
            MigrateOptions::try_from(&parse(&args))
                .unwrap()
                .copy
                .stall_timeout
        };
        let s = std::time::Duration::from_secs;
        assert_eq!(o(&[]), Some(crate::stall::DEFAULT_STALL_TIMEOUT));
        assert_eq!(o(&["--stall-timeout", "10s"]), Some(s(10)));
        assert_eq!(o(&["--stall-timeout", "2m"]), Some(s(120)));
        assert_eq!(o(&["--stall-timeout", "90"]), Some(s(90)));
        assert_eq!(o(&["--stall-timeout", "0"]), None);
        assert_eq!(o(&["--stall-timeout", "off"]), None);
        let e = crate::cli::args::parse_duration_or_off("soon").unwrap_err();
        assert!(e.contains("or off"), "{e}");
    }

    #[test]
    fn replica_identity_full_is_opt_in_and_only_with_the_replication_method() {
        let o = |extra: &[&str]| {
            let mut args = vec!["-s", "host=a", "-t", "host=b"];
            args.extend_from_slice(extra);
            MigrateOptions::try_from(&parse(&args))
        };
        assert!(!o(&[]).unwrap().replication.replica_identity_full);
        assert!(
            o(&["--replica-identity-full"])
                .unwrap()
                .replication
                .replica_identity_full
        );
        let e = o(&["--replica-identity-full", "--force-method", "dump"]).unwrap_err();
        assert!(e.to_string().contains("--replica-identity-full"), "{e}");
        for clash in ["--dump-only", "--schema-only"] {
            let argv = [
                "pg_migrate",
                "-s",
                "a",
                "-t",
                "b",
                "--replica-identity-full",
                clash,
            ];
            let e = PgArgs::try_parse_from(argv).unwrap_err().to_string();
            assert!(e.contains("--replica-identity-full"), "{clash}: {e}");
        }
    }

    #[test]
    fn cutover_flags_make_the_fenced_cut_over() {
        let o = |extra: &[&str]| {
            let mut args = vec!["-s", "host=a", "-t", "host=b"];
            args.extend_from_slice(extra);
            MigrateOptions::try_from(&parse(&args))
        };
        let r = o(&["--cutover"]).unwrap().replication;
        let co = r.cutover.clone().expect("--cutover");
        assert_eq!(co.max_lag, 16 << 20);
        assert_eq!(co.max_downtime, None);
        assert_eq!(co.fence_roles, None);
        assert!(r.is_cut_over() && r.stop_replication);
        assert_eq!(r.max_replication_lag, Some(16 << 20));
        let r = o(&[
            "--cutover",
            "--cutover-max-lag",
            "1MB",
            "--max-downtime",
            "500ms",
            "--fence-roles",
            "app, web",
            "--max-replication-lag",
            "0",
        ])
        .unwrap()
        .replication;
        let co = r.cutover.unwrap();
        assert_eq!(co.max_lag, 1 << 20);
        assert_eq!(co.max_downtime, Some(std::time::Duration::from_millis(500)));
        assert_eq!(co.fence_roles, Some(vec!["app".into(), "web".into()]));
        assert_eq!(r.max_replication_lag, Some(0));
        assert!(o(&["--cutover", "--max-downtime", "0"]).is_err());
        assert!(o(&["--cutover", "--fence-roles", " , "]).is_err());
        assert_eq!(o(&[]).unwrap().replication.cutover, None);
        // The fence's flags only mean something with --cutover; --unfence is a mode of its own.
        for args in [
            &["--max-downtime", "30s"][..],
            &["--fence-roles", "app"][..],
            &["--cutover-max-lag", "1MB"][..],
        ] {
            assert!(o(args).is_err(), "{args:?}");
        }
        assert!(
            o(&["--fail-back", "--max-downtime", "30s"])
                .unwrap()
                .replication
                .cutover
                .is_some()
        );
        for args in [
            &["--fail-back-ready"][..],
            &["--fail-back", "--cutover"][..],
            &[
                "--cutover",
                "--stop-replication",
                "--max-replication-lag",
                "0",
            ][..],
            &["--unfence", "--cutover"][..],
            &["--unfence", "--cleanup"][..],
        ] {
            let argv = ["pg_migrate", "-s", "a", "-t", "b"]
                .into_iter()
                .chain(args.iter().copied());
            assert!(PgArgs::try_parse_from(argv).is_err(), "{args:?}");
        }
        assert_eq!(
            parse_duration("30ms"),
            Ok(std::time::Duration::from_millis(30))
        );
        assert_eq!(
            parse_duration("2m"),
            Ok(std::time::Duration::from_secs(120))
        );
        assert!(parse_duration("5 weeks").is_err());
    }

    #[test]
    fn stop_replication_needs_a_lag_to_wait_for() {
        let a = parse(&["-s", "host=a", "-t", "host=b", "--stop-replication"]);
        let e = MigrateOptions::try_from(&a).unwrap_err();
        assert!(e.to_string().contains("--max-replication-lag"), "{e}");
    }

    #[test]
    fn minus_one_size_means_no_limit() {
        let a = parse(&["-s", "host=a", "-t", "host=b", "--dbs-max-total-size", "-1"]);
        assert_eq!(
            MigrateOptions::try_from(&a).unwrap().dbs_max_total_size,
            None
        );
        let a = parse(&["-s", "host=a", "-t", "host=b", "--dbs-max-total-size", "0"]);
        assert_eq!(
            MigrateOptions::try_from(&a).unwrap().dbs_max_total_size,
            Some(0)
        );
    }

    #[test]
    fn filtered_names_are_kept_verbatim_apart_from_surrounding_blanks() {
        let a = parse(&[
            "-s",
            "host=a",
            "-t",
            "host=b",
            "-f",
            "a'; DROP DATABASE x; --, \"q\"",
        ]);
        let o = MigrateOptions::try_from(&a).unwrap();
        assert_eq!(o.filtered_dbs, vec!["a'; DROP DATABASE x; --", "\"q\""]);
    }
}
