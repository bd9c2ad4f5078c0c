//! A warning of a run: what an operator should read although the run went on. Every stage
//! produces [`Warning`]s; the result ([`crate::MigrateResult::warnings`]) holds them, the human
//! report groups them by [`WarningKind`] and the JSON carries their fields.
//!
//! Its own file because every stage (roles, databases, schema, copy, replication, recovery...)
//! produces warnings and none of them owns the type; the report only prints them.
//!
//! The text an operator reads ([`Warning`]'s `Display`) is `database "<name>": <message>` for
//! a warning about one database's migration, else the message alone; the message names the
//! object it is about, `object` repeats that name for a program grouping them, the way the
//! messages write it: `role "alice"`, `database "app"`, `table "public"."t"` (a schema object's
//! description), `membership of role "a" in role "b"`. A warning about several objects at once
//! (the tables without replica identity, a dependency cycle's members) has no `object`, or the
//! one it acted on.

use std::fmt;

use serde::Serialize;

/// What a warning is about, for an operator (or a program) to group them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WarningKind {
    /// Sessions could not be opened as asked (e.g. the servers lack sessions for the checks).
    Connection,
    /// Fewer sessions than asked for: the servers' free connection slots.
    Capacity,
    /// Roles: passwords, settings, comments and memberships that were not migrated as on the
    /// source.
    Role,
    /// A target database created differently from the source (locale, owner, comment, settings).
    Database,
    /// Objects owned by the migration user instead of their source owner; memberships it took
    /// to keep owners.
    Ownership,
    /// Objects skipped, or privileges and comments not applied, for lack of privilege.
    Privilege,
    /// Schema objects that could not be reproduced as on the source.
    Schema,
    /// Objects left out because the selection flags left out what they need.
    Selection,
    /// The data copy.
    Data,
    /// Sequence values that could not be copied.
    Sequence,
    /// Logical replication: tables it cannot carry, schema drift, objects of earlier runs.
    Replication,
    /// `--verify` could not verify.
    Verify,
    /// The ledger of a run and `--clean`: what was removed, what could not be.
    Recovery,
}

impl WarningKind {
    /// The kind as the JSON report names it (`schema`, `ownership`...).
    pub fn name(self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    }

    /// Every kind, in the order the human report prints them.
    pub const ALL: [WarningKind; 13] = [
        WarningKind::Connection,
        WarningKind::Capacity,
        WarningKind::Role,
        WarningKind::Database,
        WarningKind::Ownership,
        WarningKind::Privilege,
        WarningKind::Schema,
        WarningKind::Selection,
        WarningKind::Data,
        WarningKind::Sequence,
        WarningKind::Replication,
        WarningKind::Verify,
        WarningKind::Recovery,
    ];

    /// The short heading of the kind's group in the human report.
    pub fn heading(self) -> &'static str {
        match self {
            WarningKind::Connection => "Connections",
            WarningKind::Capacity => "Connection slots",
            WarningKind::Role => "Roles",
            WarningKind::Database => "Databases",
            WarningKind::Ownership => "Owners",
            WarningKind::Privilege => "Privileges",
            WarningKind::Schema => "Schema",
            WarningKind::Selection => "Selection",
            WarningKind::Data => "Data",
            WarningKind::Sequence => "Sequences",
            WarningKind::Replication => "Replication",
            WarningKind::Verify => "Verification",
            WarningKind::Recovery => "Recovery",
        }
    }
}

/// One warning: its kind, the database whose migration it is about (none for run-wide ones),
/// the object it is about (as the message names it) and the message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    pub kind: WarningKind,
    pub database: Option<String>,
    pub object: Option<String>,
    pub message: String,
    /// What the operator can do about it, as values (the message says it in words too).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub remedies: Vec<crate::Remedy>,
}

macro_rules! constructors {
    ($($name:ident => $kind:ident),* $(,)?) => {
        $(
            #[doc = concat!("A warning of kind [`WarningKind::", stringify!($kind), "`].")]
            pub fn $name(message: impl Into<String>) -> Warning {
                Warning::new(WarningKind::$kind, message)
            }
        )*
    };
}

impl Warning {
    /// A warning about no object in particular, of no database (see [`Warning::on`],
    /// [`Warning::in_database`]).
    pub fn new(kind: WarningKind, message: impl Into<String>) -> Warning {
        Warning {
            kind,
            database: None,
            object: None,
            message: message.into(),
            remedies: Vec::new(),
        }
    }

    constructors! {
        connection => Connection,
        capacity => Capacity,
        role => Role,
        database_setting => Database,
        ownership => Ownership,
        privilege => Privilege,
        schema => Schema,
        selection => Selection,
        data => Data,
        sequence => Sequence,
        replication => Replication,
        verify => Verify,
        recovery => Recovery,
    }

    /// The same warning, about `object` (named as the message names it).
    pub fn on(mut self, object: impl Into<String>) -> Warning {
        self.object = Some(object.into());
        self
    }

    /// The same warning with `remedy` said at the end of its message and kept as a value.
    pub fn remedy(mut self, remedy: crate::Remedy) -> Warning {
        self.message = format!("{}; {remedy}", self.message);
        self.remedies.push(remedy);
        self
    }

    /// The same warning keeping `remedy` as a value only: its message says it already.
    pub fn with_remedy(mut self, remedy: crate::Remedy) -> Warning {
        self.remedies.push(remedy);
        self
    }

    /// The same warning, about the migration of database `name`; one that names its database
    /// already keeps it.
    pub fn in_database(mut self, name: &str) -> Warning {
        if self.database.is_none() {
            self.database = Some(name.to_owned());
        }
        self
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.database {
            Some(db) => write!(f, "database \"{db}\": {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// Sets the database of every warning of `warnings` that names none.
pub fn in_database(warnings: Vec<Warning>, name: &str) -> impl Iterator<Item = Warning> + '_ {
    warnings.into_iter().map(move |w| w.in_database(name))
}

/// `warnings` counted by kind as a JSON object (`{"schema": 2, "ownership": 1}`), kinds with
/// none left out: what a run's ledger records of a database's warnings so far.
pub fn counts_by_kind_json(warnings: &[Warning]) -> String {
    let mut counts = std::collections::BTreeMap::<String, u64>::new();
    for w in warnings {
        *counts.entry(w.kind.name()).or_default() += 1;
    }
    serde_json::to_string(&counts).unwrap_or_else(|_| "{}".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_shape() {
        let w = Warning::ownership("2 object(s) owned by role \"su\" ...")
            .on("su")
            .in_database("app");
        let v = serde_json::to_value(&w).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "kind": "ownership",
                "database": "app",
                "object": "su",
                "message": "2 object(s) owned by role \"su\" ...",
            })
        );
        let v = serde_json::to_value(Warning::capacity("`jobs` lowered")).unwrap();
        assert_eq!(v["kind"], "capacity");
        assert_eq!(v["database"], serde_json::Value::Null);
        assert_eq!(v["object"], serde_json::Value::Null);
    }

    #[test]
    fn display_is_the_text_of_the_report() {
        let w = Warning::schema("skipped view \"a\".\"v\": ...").on("view \"a\".\"v\"");
        assert_eq!(w.to_string(), "skipped view \"a\".\"v\": ...");
        let w = w.in_database("shop").in_database("other");
        assert_eq!(
            w.to_string(),
            "database \"shop\": skipped view \"a\".\"v\": ..."
        );
    }

    #[test]
    fn kinds_serialize_snake_case_and_are_all_listed() {
        for k in WarningKind::ALL {
            let v = serde_json::to_value(k).unwrap();
            let s = v.as_str().unwrap();
            assert!(s.chars().all(|c| c.is_ascii_lowercase() || c == '_'), "{s}");
            assert!(!k.heading().is_empty());
        }
        let mut sorted = WarningKind::ALL;
        sorted.sort();
        assert_eq!(sorted, WarningKind::ALL);
    }

    #[test]
    fn a_ledger_records_warnings_counted_by_kind() {
        let w = [
            Warning::schema("a"),
            Warning::ownership("b"),
            Warning::schema("c"),
        ];
        assert_eq!(counts_by_kind_json(&w), r#"{"ownership":1,"schema":2}"#);
        assert_eq!(counts_by_kind_json(&[]), "{}");
    }
}
