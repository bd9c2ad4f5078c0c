//! Subscriptions as schema objects, written like pg_dump writes them: `CREATE SUBSCRIPTION ...
//! WITH (connect = false, slot_name = ...)` with every option that differs from its default,
//! then the owner and the comment, after the data (post-data).
//!
//! `connect = false` creates the subscription disabled and makes no slot on its publisher: a
//! copy that started pulling at once would pull, from wherever the source pulls, changes the
//! migrated data already holds, or take the source's slot from it. The operator points it at
//! its publisher and enables it; [`disabled_warning`] says so once per database.
//!
//! Creating one needs a superuser (or `pg_create_subscription`, PostgreSQL 16+) and a password
//! in its connection string for a non-superuser owner: where the target refuses it, whatever
//! the reason, it is skipped with a warning ([`super::exec::SkipRule::Refused`]), never a
//! failed database. `--no-subscriptions` leaves every one out
//! ([`super::SchemaOptions::no_subscriptions`]).
//!
//! The connection string usually holds a password: the executor never shows the statement
//! text of a subscription, and passes the target's messages about one through
//! [`db_migrate_core::redact::redact`] ([`super::exec::conceals`]).

use crate::model::{
    Collected, ObjId, ObjectKind, Privilege, SchemaObject, Section, class, comment_sql, owner_sql,
};
use db_migrate_catalog::subscriptions::{SubscriptionRow, SubscriptionsRead, list_subscriptions};
use db_migrate_conn::Session;
use db_migrate_core::error::Result;
use db_migrate_core::sql::{quote_ident, quote_literal};
use db_migrate_core::warning::Warning;

/// Every subscription of the session's database except db-migrate's own; a warning naming
/// them when the source user may not read their connection strings.
pub async fn collect(s: &Session) -> Result<Collected> {
    let mut c = Collected::default();
    match list_subscriptions(s).await? {
        SubscriptionsRead::Read(rows) => {
            c.objects.extend(rows.iter().map(subscription_object));
        }
        SubscriptionsRead::Unreadable(names) if !names.is_empty() => {
            c.warnings.push(unreadable_warning(&names));
        }
        SubscriptionsRead::Unreadable(_) => {}
    }
    Ok(c)
}

fn names_list(names: &[String]) -> String {
    names
        .iter()
        .map(|n| quote_ident(n))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The one warning of a source user that may not read `pg_subscription.subconninfo`.
pub fn unreadable_warning(names: &[String]) -> Warning {
    Warning::privilege(format!(
        "subscriptions not migrated, the source user is not a superuser and may not read \
         their connection strings (pg_subscription.subconninfo): {}; migrate as a superuser \
         of the source, or create them on the target yourself",
        names_list(names)
    ))
}

/// The warning about the subscriptions a run created (`names`, disabled on the target).
pub fn disabled_warning(names: &[String]) -> Warning {
    Warning::schema(format!(
        "subscriptions created disabled and without a replication slot (connect = false, as \
         pg_dump does): {}; point each at its publisher (ALTER SUBSCRIPTION ... CONNECTION \
         '...'), make sure its slot exists on the publisher (or ALTER SUBSCRIPTION ... SET \
         (slot_name = ...)), then ALTER SUBSCRIPTION ... ENABLE",
        names_list(names)
    ))
}

/// The `WITH (...)` options: `connect = false`, the slot, and every option that differs from
/// its default (`streaming` always where the source has it: its default changed in 18).
fn options(r: &SubscriptionRow, source_has_streaming: bool) -> String {
    let mut o = vec![
        "connect = false".to_string(),
        format!(
            "slot_name = {}",
            r.slot_name.as_deref().map_or("NONE".into(), quote_literal)
        ),
    ];
    if r.binary {
        o.push("binary = true".into());
    }
    if source_has_streaming {
        o.push(
            match r.streaming {
                't' => "streaming = on",
                'p' => "streaming = parallel",
                _ => "streaming = off",
            }
            .into(),
        );
    }
    if r.two_phase {
        o.push("two_phase = on".into());
    }
    if r.disable_on_error {
        o.push("disable_on_error = true".into());
    }
    if !r.password_required {
        o.push("password_required = false".into());
    }
    if r.run_as_owner {
        o.push("run_as_owner = true".into());
    }
    if r.failover {
        o.push("failover = true".into());
    }
    if r.synchronous_commit != "off" {
        o.push(format!(
            "synchronous_commit = {}",
            quote_literal(&r.synchronous_commit)
        ));
    }
    if !r.origin.eq_ignore_ascii_case("any") {
        o.push(format!("origin = {}", quote_literal(&r.origin)));
    }
    format!("WITH ({})", o.join(", "))
}

/// The object of one subscription (no `streaming` option from a source before 14, see
/// [`SubscriptionRow::streaming`]).
pub fn subscription_object(r: &SubscriptionRow) -> SchemaObject {
    let q = quote_ident(&r.name);
    let mut o = SchemaObject::new(
        ObjId::new(class::PG_SUBSCRIPTION, r.oid),
        ObjectKind::Subscription,
        Section::PostData,
        None,
        &r.name,
    );
    let publications: Vec<String> = r.publications.iter().map(|p| quote_ident(p)).collect();
    o.create.push(format!(
        "CREATE SUBSCRIPTION {q} CONNECTION {} PUBLICATION {} {}",
        quote_literal(&r.conninfo),
        publications.join(", "),
        options(r, r.streaming != '\0')
    ));
    o.privilege = Privilege::MaySkip;
    o.owner = Some(owner_sql(ObjectKind::Subscription, &q, &r.owner));
    o.extend_comments(comment_sql("SUBSCRIPTION", &q, r.comment.as_deref()));
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> SubscriptionRow {
        SubscriptionRow {
            oid: 7,
            name: "s\"1".into(),
            owner: "o".into(),
            conninfo: "host=h password='it''s'".into(),
            publications: vec!["p1".into(), "P 2".into()],
            synchronous_commit: "off".into(),
            streaming: 'f',
            password_required: true,
            origin: "any".into(),
            ..Default::default()
        }
    }

    #[test]
    fn defaults_write_connect_false_the_slot_and_streaming_only() {
        let o = subscription_object(&row());
        assert_eq!(
            o.create,
            vec![
                "CREATE SUBSCRIPTION \"s\"\"1\" CONNECTION 'host=h password=''it''''s''' \
                 PUBLICATION \"p1\", \"P 2\" WITH (connect = false, slot_name = NONE, \
                 streaming = off)"
            ]
        );
        assert_eq!(o.section, Section::PostData);
        assert_eq!(o.privilege, Privilege::MaySkip);
        assert_eq!(
            o.owner.unwrap().sql,
            "ALTER SUBSCRIPTION \"s\"\"1\" OWNER TO \"o\""
        );
    }

    #[test]
    fn every_option_that_differs_from_its_default_is_written() {
        let r = SubscriptionRow {
            slot_name: Some("sl'ot".into()),
            binary: true,
            streaming: 'p',
            two_phase: true,
            disable_on_error: true,
            password_required: false,
            run_as_owner: true,
            failover: true,
            synchronous_commit: "remote_apply".into(),
            origin: "none".into(),
            comment: Some("c".into()),
            ..row()
        };
        let o = subscription_object(&r);
        assert!(
            o.create[0].ends_with(
                "WITH (connect = false, slot_name = 'sl''ot', binary = true, \
                 streaming = parallel, two_phase = on, disable_on_error = true, \
                 password_required = false, run_as_owner = true, failover = true, \
                 synchronous_commit = 'remote_apply', origin = 'none')"
            ),
            "{}",
            o.create[0]
        );
        assert_eq!(
            o.comments(),
            vec!["COMMENT ON SUBSCRIPTION \"s\"\"1\" IS 'c'"]
        );
        // A source before 14 has no streaming option: none is written.
        let old = subscription_object(&SubscriptionRow {
            streaming: '\0',
            ..row()
        });
        assert!(!old.create[0].contains("streaming"), "{}", old.create[0]);
    }

    #[test]
    fn the_warnings_name_the_subscriptions_and_never_a_connection_string() {
        let w = unreadable_warning(&["a".into(), "B".into()]);
        assert!(w.message.contains("\"a\", \"B\""), "{}", w.message);
        let w = disabled_warning(&["a".into()]);
        assert!(w.message.contains("ENABLE") && w.message.contains("\"a\""));
        assert!(!format!("{:?}", row()).contains("password"));
    }
}
