//! Names of the replication objects of one database.
//!
//! `aiven_db_migrate_<X>_pub`, `aiven_db_migrate_<X>_slot` and `aiven_db_migrate_<X>_sub`, the
//! names of the tool we replace, so that a migration it started can be finished or cleaned up
//! by us. `X` is the database name, or the md5 of the database name (32 lower-case hex
//! digits) when asked (`-m` / `--mangle`) and also, automatically, when the plain names could not
//! work:
//!
//! - a name would be longer than 63 bytes (the server would truncate it silently);
//! - the database name has characters a replication slot name cannot hold (slot names are
//!   lower-case ASCII letters, digits and underscores only).
//!
//! The three names always use the same `X`. Names are always quoted when they reach SQL.

use md5::{Digest, Md5};

/// The prefix shared by every object we create.
pub use crate::catalog::replication::PREFIX;

/// The three object names for one database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectNames {
    pub publication: String,
    pub slot: String,
    pub subscription: String,
    /// True when `X` is the md5 of the database name.
    pub mangled: bool,
}

fn md5_hex(s: &str) -> String {
    let digest = Md5::digest(s.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn build(x: &str, mangled: bool) -> ObjectNames {
    ObjectNames {
        publication: format!("{PREFIX}{x}_pub"),
        slot: format!("{PREFIX}{x}_slot"),
        subscription: format!("{PREFIX}{x}_sub"),
        mangled,
    }
}

impl ObjectNames {
    /// The names for `dbname`: mangled when `mangle` is set or when the plain names would not
    /// be valid (see the module docs).
    pub fn for_database(dbname: &str, mangle: bool) -> ObjectNames {
        if !mangle {
            let plain = build(dbname, false);
            if plain.all().iter().all(|n| n.len() <= 63)
                && crate::conn::wire::proto::is_valid_slot_name(&plain.slot)
            {
                return plain;
            }
        }
        build(&md5_hex(dbname), true)
    }

    /// The names an earlier run could have used for `dbname`: plain (when valid) and mangled.
    pub fn candidates(dbname: &str) -> Vec<ObjectNames> {
        let mut out = vec![ObjectNames::for_database(dbname, false)];
        let mangled = ObjectNames::for_database(dbname, true);
        if !out.contains(&mangled) {
            out.push(mangled);
        }
        out
    }

    /// The names of the reverse replication (`--fail-back-ready`): publication and slot on
    /// the target, subscription on the source; always from md5(dbname), never those of the
    /// forward direction.
    pub fn fail_back(dbname: &str) -> ObjectNames {
        build(&format!("fb_{}", md5_hex(dbname)), true)
    }

    pub fn all(&self) -> [&str; 3] {
        [&self.publication, &self.slot, &self.subscription]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names_for_simple_databases() {
        let n = ObjectNames::for_database("app_1", false);
        assert_eq!(n.publication, "aiven_db_migrate_app_1_pub");
        assert_eq!(n.slot, "aiven_db_migrate_app_1_slot");
        assert_eq!(n.subscription, "aiven_db_migrate_app_1_sub");
        assert!(!n.mangled);
        assert_eq!(ObjectNames::candidates("app_1").len(), 2);
    }

    #[test]
    fn mangle_uses_md5_of_the_database_name() {
        let n = ObjectNames::for_database("app", true);
        // md5("app")
        assert_eq!(
            n.slot,
            "aiven_db_migrate_d2a57dc1d883fd21fb9951699df71cc7_slot"
        );
        assert!(n.mangled);
    }

    #[test]
    fn long_or_unusual_names_are_mangled_automatically() {
        let long = "a".repeat(45);
        let n = ObjectNames::for_database(&long, false);
        assert!(n.mangled);
        assert!(n.all().iter().all(|x| x.len() <= 63));
        for db in ["App", "my db", "weird\"name", "ünï", "a-b"] {
            let n = ObjectNames::for_database(db, false);
            assert!(n.mangled, "{db}");
            assert!(crate::conn::wire::proto::is_valid_slot_name(&n.slot));
        }
        // 41 bytes of name: exactly 63 for the slot.
        let edge = "b".repeat(41);
        let n = ObjectNames::for_database(&edge, false);
        assert!(!n.mangled);
        assert_eq!(n.slot.len(), 63);
    }
}
