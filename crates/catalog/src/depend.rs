//! The `pg_depend` rows between user objects: what the schema engine orders a database's
//! objects by ([`crate::schema::graph`]). Normal, automatic and extension-membership
//! dependencies only, between objects from `FirstNormalObjectId` on (built-in objects exist on
//! every target).
//!
//! Its own file because the dependency records are a catalog of their own, read once per
//! database and joined to every object family by (catalog, OID) ([`ObjId`]).

use crate::class::ObjId;
use crate::scope::first_normal_object_id;
use db_migrate_conn::Session;
use db_migrate_core::error::Result;

/// One `pg_depend` row we care about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Depend {
    pub dependent: ObjId,
    pub referenced: ObjId,
    pub deptype: u8,
}

/// Reads `pg_depend` rows between user objects (OIDs from `FirstNormalObjectId` on).
pub async fn load_depend(s: &Session) -> Result<Vec<Depend>> {
    // A million rows at 100,000 tables: converted as they arrive (see crate::stream).
    crate::stream::collect(
        s,
        "reading pg_depend",
        concat!(
            "SELECT classid::int8, objid::int8, refclassid::int8, refobjid::int8, deptype::text \
               FROM pg_catalog.pg_depend \
              WHERE deptype IN ('n', 'a', 'e') AND objid >= ",
            first_normal_object_id!(),
            " AND refobjid >= ",
            first_normal_object_id!()
        ),
        |r| Depend {
            dependent: ObjId::new(r.get::<_, i64>(0) as u32, r.get::<_, i64>(1) as u32),
            referenced: ObjId::new(r.get::<_, i64>(2) as u32, r.get::<_, i64>(3) as u32),
            deptype: r.get::<_, &str>(4).bytes().next().unwrap_or(b'n'),
        },
    )
    .await
}
