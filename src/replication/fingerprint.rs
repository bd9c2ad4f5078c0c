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
//! The fingerprint taken when replication is set up is stored as the publication's comment, so
//! that a later run (the cut-over) can tell what changed since.

use std::collections::BTreeMap;

use md5::{Digest, Md5};

use crate::conn::Session;
use crate::error::Result;

/// Header of the serialised form (publication comment) this version writes: one line per
/// object, its identity escaped (`\\`, `\n`, `\r`), since names may contain any character,
/// line breaks included.
const HEADER: &str = "db-migrate schema fingerprint v2";

/// The first form, identities unescaped (a name with a line break could not be read back);
/// still read, so that a cut-over by this version finds what an older one stored.
const HEADER_V1: &str = "db-migrate schema fingerprint v1";

/// `\` -> `\\`, line feed -> `\n`, carriage return -> `\r`.
fn escape_identity(ident: &str) -> String {
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
fn unescape_identity(text: &str) -> Option<String> {
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
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fingerprint {
    objects: BTreeMap<String, String>,
}

const USER_NS: &str = "n.nspname <> 'information_schema' AND n.nspname !~ '^pg_'";

fn query(server_version_num: u32) -> String {
    let plain_functions = if server_version_num >= 110000 {
        "p.prokind IN ('f', 'p')"
    } else {
        "NOT p.proisagg AND NOT p.proiswindow"
    };
    let not_ext = |classid: &str, oid: &str| {
        format!(
            "NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = '{classid}'::pg_catalog.regclass AND d.objid = {oid} AND d.deptype = 'e')"
        )
    };
    format!(
        "SELECT 'schema', n.nspname::text, pg_catalog.pg_get_userbyid(n.nspowner)::text
           FROM pg_catalog.pg_namespace n WHERE {USER_NS} AND {ns_ext}
         UNION ALL
         SELECT CASE c.relkind WHEN 'S' THEN 'sequence' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view'
                               WHEN 'f' THEN 'foreign table' ELSE 'table' END,
                c.oid::pg_catalog.regclass::text,
                c.relkind::text || ' ' || c.relreplident::text || ' ' || c.relpersistence::text || ' ' ||
                coalesce((SELECT pg_catalog.string_agg(pg_catalog.quote_ident(a.attname) || ' ' ||
                              pg_catalog.format_type(a.atttypid, a.atttypmod) ||
                              CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END ||
                              coalesce(' DEFAULT ' || pg_catalog.pg_get_expr(ad.adbin, ad.adrelid), ''),
                              ', ' ORDER BY a.attnum)
                          FROM pg_catalog.pg_attribute a
                          LEFT JOIN pg_catalog.pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
                          WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '') ||
                CASE WHEN c.relkind IN ('v', 'm') THEN ' AS ' || coalesce(pg_catalog.pg_get_viewdef(c.oid), '') ELSE '' END
           FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
          WHERE c.relkind IN ('r', 'p', 'S', 'v', 'm', 'f') AND {USER_NS} AND {rel_ext}
         UNION ALL
         SELECT 'constraint', co.conrelid::pg_catalog.regclass::text || '.' || pg_catalog.quote_ident(co.conname),
                pg_catalog.pg_get_constraintdef(co.oid)
           FROM pg_catalog.pg_constraint co JOIN pg_catalog.pg_class c ON c.oid = co.conrelid
           JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
          WHERE {USER_NS} AND {rel_ext}
         UNION ALL
         SELECT 'index', i.indexrelid::pg_catalog.regclass::text, pg_catalog.pg_get_indexdef(i.indexrelid)
           FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = i.indrelid
           JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
          WHERE {USER_NS} AND {rel_ext}
         UNION ALL
         SELECT 'function', p.oid::pg_catalog.regprocedure::text, pg_catalog.pg_get_functiondef(p.oid)
           FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
          WHERE {USER_NS} AND {plain_functions} AND {proc_ext}
         UNION ALL
         SELECT 'trigger', t.tgrelid::pg_catalog.regclass::text || '.' || pg_catalog.quote_ident(t.tgname),
                pg_catalog.pg_get_triggerdef(t.oid)
           FROM pg_catalog.pg_trigger t JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
           JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
          WHERE NOT t.tgisinternal AND {USER_NS} AND {rel_ext}
         UNION ALL
         SELECT 'type', t.oid::pg_catalog.regtype::text,
                (SELECT pg_catalog.string_agg(pg_catalog.quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder)
                   FROM pg_catalog.pg_enum e WHERE e.enumtypid = t.oid)
           FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
          WHERE t.typtype = 'e' AND {USER_NS} AND {type_ext}",
        ns_ext = not_ext("pg_catalog.pg_namespace", "n.oid"),
        rel_ext = not_ext("pg_catalog.pg_class", "c.oid"),
        proc_ext = not_ext("pg_catalog.pg_proc", "p.oid"),
        type_ext = not_ext("pg_catalog.pg_type", "t.oid"),
    )
}

fn hash(text: &str) -> String {
    let d = Md5::digest(text.as_bytes());
    d.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

impl Fingerprint {
    /// Reads the fingerprint of the session's database. The session must run with
    /// `search_path = ''` (every [`crate::conn::connect`] session does), so that names come out
    /// schema-qualified.
    pub async fn read(session: &Session) -> Result<Fingerprint> {
        let rows = session
            .simple_query(&query(session.server_version_num()))
            .await?;
        let mut objects = BTreeMap::new();
        for m in rows {
            if let tokio_postgres::SimpleQueryMessage::Row(r) = m {
                let kind = r.get(0).unwrap_or("");
                let ident = r.get(1).unwrap_or("");
                let def = r.get(2).unwrap_or("");
                objects.insert(format!("{kind} {ident}"), hash(def));
            }
        }
        Ok(Fingerprint { objects })
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
        for (k, v) in &now.objects {
            match self.objects.get(k) {
                None => out.push(format!("{k} added")),
                Some(old) if old != v => out.push(format!("{k} changed")),
                _ => {}
            }
        }
        for k in self.objects.keys() {
            if !now.objects.contains_key(k) {
                out.push(format!("{k} removed"));
            }
        }
        out
    }

    /// The text stored as the publication comment.
    pub fn serialize(&self) -> String {
        let mut s = String::from(HEADER);
        for (k, v) in &self.objects {
            s.push('\n');
            s.push_str(v);
            s.push(' ');
            s.push_str(&escape_identity(k));
        }
        s
    }

    /// Reads what [`Fingerprint::serialize`] wrote; `None` for any other text.
    pub fn deserialize(text: &str) -> Option<Fingerprint> {
        let mut lines = text.split('\n');
        let escaped = match lines.next()? {
            HEADER => true,
            HEADER_V1 => false,
            _ => return None,
        };
        let mut objects = BTreeMap::new();
        for line in lines {
            let (h, k) = line.split_once(' ')?;
            let k = if escaped {
                unescape_identity(k)?
            } else {
                k.to_owned()
            };
            objects.insert(k, h.to_owned());
        }
        Some(Fingerprint { objects })
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
    fn fingerprints_stored_by_the_first_version_are_still_read() {
        let text = format!("{HEADER_V1}\n0123456789abcdef table public.t");
        let f = Fingerprint::deserialize(&text).unwrap();
        assert_eq!(f.objects["table public.t"], "0123456789abcdef");
    }
}
