//! Schema drift detection: logical replication does not carry DDL, so a schema change on the
//! source during a migration silently breaks it (or leaves the target different).
//!
//! A [`Fingerprint`] maps every user object of a database (schemas, tables with their columns,
//! defaults and replica identity, sequences, views, constraints, indexes, functions, triggers,
//! enum types) to a hash of its definition as the server itself deparses it (`format_type`,
//! `pg_get_expr`, `pg_get_constraintdef`, `pg_get_indexdef`, `pg_get_viewdef`,
//! `pg_get_functiondef`, `pg_get_triggerdef`). The server's deparsers are already normalised
//! (whitespace, casing, qualification with `search_path = ''`) and, unlike pg_query's
//! fingerprint, keep constants: a changed default or CHECK bound is a change. Comparing two
//! fingerprints names the objects added, removed or changed.
//!
//! The fingerprint taken when replication is set up is stored as the publication's comment
//! ([`super::record`]), so that a later run (the cut-over) can tell what changed since.
//!
//! Tables and sequences keep their OID beside the hash: a table renamed on the source is one
//! object removed and one added by name, and only its OID, which a rename keeps, tells it from
//! a table dropped and another created (whose rows the target must not keep).

use std::collections::BTreeMap;

use md5::{Digest, Md5};

use crate::catalog::replication::definitions::object_definitions;
use crate::catalog::replication::drift_objects::relation_oids;
use crate::conn::Session;
use crate::error::Result;

/// Header of the serialised form (publication comment) this version writes: one line per
/// object, `<hash>[:<oid>] <identity>`, the OID for tables and sequences, the identity escaped
/// (`\\`, `\n`, `\r`), since names may contain any character, line breaks included.
const HEADER: &str = "db-migrate schema fingerprint v5";

/// The fourth form, the same lines without relations' privileges, row-level security switches
/// and comments ([`V5_KINDS`]): still read, that kind then left out of its changes (a run set
/// up by an older version would otherwise see every relation with a grant as changed).
const HEADER_V4: &str = "db-migrate schema fingerprint v4";

/// The kinds the fifth form added.
const V5_KINDS: [&str; 1] = ["access "];

/// The third form, also without policies, rules and extended statistics ([`V4_KINDS`]).
const HEADER_V3: &str = "db-migrate schema fingerprint v3";

/// The kinds the fourth form added.
const V4_KINDS: [&str; 3] = ["policy ", "rule ", "statistics "];

/// The second form, without OIDs: still read (renames made before such a cut-over run
/// started then read as a table dropped and one created).
const HEADER_V2: &str = "db-migrate schema fingerprint v2";

/// The first form, identities unescaped (a name with a line break could not be read back);
/// still read, so that a cut-over by this version finds what an older one stored.
const HEADER_V1: &str = "db-migrate schema fingerprint v1";

/// `\` -> `\\`, line feed -> `\n`, carriage return -> `\r`.
pub(super) fn escape_identity(ident: &str) -> String {
    let mut out = String::with_capacity(ident.len());
    for c in ident.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out
}

/// The inverse of [`escape_identity`]; `None` for an escape it never writes.
pub(super) fn unescape_identity(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        out.push(match chars.next()? {
            '\\' => '\\',
            'n' => '\n',
            'r' => '\r',
            _ => return None,
        });
    }
    Some(out)
}

/// Object kind + identity -> hash of the definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    objects: BTreeMap<String, String>,
    /// The OIDs of the tables and sequences among `objects`, by the same key.
    oids: BTreeMap<String, u32>,
    /// The form it was stored in (5 when read from a database): the kinds later forms added
    /// are unknown to it.
    form: u8,
}

impl Default for Fingerprint {
    fn default() -> Self {
        Fingerprint {
            objects: BTreeMap::new(),
            oids: BTreeMap::new(),
            form: 5,
        }
    }
}

fn hash(text: &str) -> String {
    let d = Md5::digest(text.as_bytes());
    d.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

impl Fingerprint {
    /// Reads the fingerprint of the session's database. The session must run with
    /// `search_path = ''` (every [`crate::conn::connect()`] session does), so that names come out
    /// schema-qualified.
    pub async fn read(session: &Session) -> Result<Fingerprint> {
        let objects = object_definitions(session)
            .await?
            .into_iter()
            .map(|d| (format!("{} {}", d.kind, d.identity), hash(&d.definition)))
            .collect::<BTreeMap<_, _>>();
        let oids = relation_oids(session)
            .await?
            .into_iter()
            .map(|r| (format!("{} {}", r.kind, r.identity), r.oid))
            .filter(|(k, _)| objects.contains_key(k))
            .collect();
        Ok(Fingerprint {
            objects,
            oids,
            form: 5,
        })
    }

    /// The tables and sequences renamed (or moved to another schema) from `self` (earlier) to
    /// `now`, as `(key then, key now)` (`table public.a`, `table public.b`): the same OID under
    /// another name. Nothing for a fingerprint stored without OIDs.
    pub fn renames(&self, now: &Fingerprint) -> Vec<(String, String)> {
        let by_oid: BTreeMap<u32, &String> = now.oids.iter().map(|(k, o)| (*o, k)).collect();
        self.oids
            .iter()
            .filter_map(|(k, oid)| {
                let to = by_oid.get(oid)?;
                (*to != k && !now.objects.contains_key(k)).then(|| (k.clone(), (*to).clone()))
            })
            .collect()
    }

    /// Whether the fingerprint holds the object `key` (`index public.i`).
    pub fn contains(&self, key: &str) -> bool {
        self.objects.contains_key(key)
    }

    /// Whether it holds the OIDs of its tables and sequences (read by this version, or stored
    /// as `v3`): only then does [`Fingerprint::renames`] see the renames made since.
    pub fn has_oids(&self) -> bool {
        !self.oids.is_empty()
    }

    pub fn len(&self) -> usize {
        self.objects.len()
    }

    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }

    /// What changed from `self` (earlier) to `now`: one line per object, e.g.
    /// `table public.t changed`, `index public.i added`, `function public.f(integer) removed`.
    pub fn changes(&self, now: &Fingerprint) -> Vec<String> {
        let mut out = Vec::new();
        let form = self.form.min(now.form);
        let unknown = |k: &str| {
            (form < 4 && V4_KINDS.iter().any(|kind| k.starts_with(kind)))
                || (form < 5 && V5_KINDS.iter().any(|kind| k.starts_with(kind)))
        };
        for (k, v) in now.objects.iter().filter(|(k, _)| !unknown(k)) {
            match self.objects.get(k) {
                None => out.push(format!("{k} added")),
                Some(old) if old != v => out.push(format!("{k} changed")),
                _ => {}
            }
        }
        for k in self.objects.keys().filter(|k| !unknown(k)) {
            if !now.objects.contains_key(k) {
                out.push(format!("{k} removed"));
            }
        }
        out
    }

    /// The text stored as the publication comment.
    pub fn serialize(&self) -> String {
        // One read from an older version's text keeps saying what it lacks.
        let mut s = String::from(match self.form {
            5.. => HEADER,
            4 => HEADER_V4,
            _ => HEADER_V3,
        });
        for (k, v) in &self.objects {
            s.push('\n');
            s.push_str(v);
            if let Some(oid) = self.oids.get(k) {
                s.push_str(&format!(":{oid}"));
            }
            s.push(' ');
            s.push_str(&escape_identity(k));
        }
        s
    }

    /// Reads what [`Fingerprint::serialize`] wrote; `None` for any other text.
    pub fn deserialize(text: &str) -> Option<Fingerprint> {
        let mut lines = text.split('\n');
        let header = lines.next()?;
        let (form, escaped) = match header {
            HEADER => (5, true),
            HEADER_V4 => (4, true),
            // The first three forms hold the same kinds (they differ in escaping and OIDs,
            // which the text itself shows).
            HEADER_V3 | HEADER_V2 => (3, true),
            HEADER_V1 => (3, false),
            _ => return None,
        };
        let mut objects = BTreeMap::new();
        let mut oids = BTreeMap::new();
        for line in lines {
            let (h, k) = line.split_once(' ')?;
            let k = if escaped {
                unescape_identity(k)?
            } else {
                k.to_owned()
            };
            let h = match h.split_once(':') {
                Some((h, oid)) => {
                    oids.insert(k.clone(), oid.parse().ok()?);
                    h
                }
                None => h,
            };
            objects.insert(k, h.to_owned());
        }
        Some(Fingerprint {
            objects,
            oids,
            form,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_name_objects_and_round_trip() {
        let mut a = Fingerprint::default();
        a.objects.insert("table public.t".into(), hash("a int"));
        a.objects.insert("index public.i".into(), hash("x"));
        let mut b = a.clone();
        b.objects
            .insert("table public.t".into(), hash("a int, b text"));
        b.objects.remove("index public.i");
        b.objects.insert("table public.u".into(), hash("c int"));
        let c = a.changes(&b);
        assert_eq!(
            c,
            vec![
                "table public.t changed",
                "table public.u added",
                "index public.i removed"
            ]
        );
        assert_eq!(Fingerprint::deserialize(&b.serialize()), Some(b.clone()));
        assert!(a.changes(&a).is_empty());
        assert_eq!(Fingerprint::deserialize("some comment"), None);
    }

    #[test]
    fn policies_rules_and_statistics_are_no_change_against_an_older_versions_fingerprint() {
        let mut now = Fingerprint::default();
        now.objects.insert("table public.t".into(), hash("a int"));
        now.objects
            .insert("policy public.t.own".into(), hash("* PERMISSIVE TO PUBLIC"));
        now.objects
            .insert("statistics public.s".into(), hash("CREATE STATISTICS"));
        let v3 = format!("{HEADER_V3}\n{} table public.t", hash("a int"));
        let older = Fingerprint::deserialize(&v3).expect("v3 read");
        assert!(older.changes(&now).is_empty(), "{:?}", older.changes(&now));
        // Stored by this version, they are changes like any other.
        let mut earlier = now.clone();
        earlier.objects.remove("policy public.t.own");
        let earlier = Fingerprint::deserialize(&earlier.serialize()).expect("v5 read");
        assert_eq!(earlier.changes(&now), vec!["policy public.t.own added"]);
    }

    #[test]
    fn access_entries_are_no_change_against_a_fourth_form_and_a_change_against_this_one() {
        let mut now = Fingerprint::default();
        now.objects.insert("table public.t".into(), hash("a int"));
        now.objects
            .insert("access public.t".into(), hash("reader SELECT"));
        let v4 = format!("{HEADER_V4}\n{} table public.t", hash("a int"));
        let older = Fingerprint::deserialize(&v4).expect("v4 read");
        assert!(older.changes(&now).is_empty(), "{:?}", older.changes(&now));
        // Read back, a fourth form stays one (its text says what it lacks).
        assert!(older.serialize().starts_with(HEADER_V4));
        let mut earlier = now.clone();
        earlier.objects.remove("access public.t");
        let earlier = Fingerprint::deserialize(&earlier.serialize()).expect("v5 read");
        assert_eq!(earlier.changes(&now), vec!["access public.t added"]);
    }

    #[test]
    fn any_name_round_trips_line_breaks_and_backslashes_included() {
        let mut a = Fingerprint::default();
        for name in [
            "table public.\"multi\nline\"",
            "table public.\"cr\r\nlf\"",
            "table public.\"back\\slash\\n\"",
            "index public.\"tab\tand \u{202e}rtl\"",
            "table public.\"trailing\\\"",
        ] {
            a.objects.insert(name.into(), hash(name));
        }
        let text = a.serialize();
        assert_eq!(Fingerprint::deserialize(&text), Some(a.clone()));
        assert!(
            a.changes(&Fingerprint::deserialize(&text).unwrap())
                .is_empty()
        );
    }

    #[test]
    fn a_renamed_table_keeps_its_oid_and_round_trips() {
        let mut a = Fingerprint::default();
        a.objects.insert("table public.a".into(), hash("x int"));
        a.oids.insert("table public.a".into(), 16384);
        a.objects.insert("table public.gone".into(), hash("x int"));
        a.oids.insert("table public.gone".into(), 16390);
        let mut b = Fingerprint::default();
        b.objects
            .insert("table \"new\".\"b b\"".into(), hash("x int"));
        b.oids.insert("table \"new\".\"b b\"".into(), 16384);
        b.objects.insert("table public.gone".into(), hash("x int"));
        b.oids.insert("table public.gone".into(), 16400);
        assert_eq!(
            a.renames(&b),
            vec![(
                "table public.a".to_owned(),
                "table \"new\".\"b b\"".to_owned()
            )]
        );
        assert_eq!(Fingerprint::deserialize(&b.serialize()), Some(b.clone()));
        let v2 = format!("{HEADER_V2}\n0123456789abcdef table public.a");
        assert!(
            Fingerprint::deserialize(&v2)
                .unwrap()
                .renames(&b)
                .is_empty()
        );
    }

    #[test]
    fn fingerprints_stored_by_the_first_version_are_still_read() {
        let text = format!("{HEADER_V1}\n0123456789abcdef table public.t");
        let f = Fingerprint::deserialize(&text).unwrap();
        assert_eq!(f.objects["table public.t"], "0123456789abcdef");
    }
}
