//! OIDs of the system catalogs, as they appear in `pg_depend.classid` / `refclassid`. Fixed
//! across all supported majors. And [`ObjId`], the (catalog, OID) pair that names one object.
//!
//! Its own file because catalog readers and the schema engine both name objects by
//! (catalog, OID); the schema engine re-exports it as `schema::model::class` (and [`ObjId`] as
//! `schema::model::ObjId`).

/// The identity of a catalog row, as `pg_depend` records it (`classid`, `objid`). Column-level
/// dependencies (`objsubid`) are folded onto their relation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjId {
    pub classid: u32,
    pub objid: u32,
}

impl ObjId {
    pub const fn new(classid: u32, objid: u32) -> Self {
        ObjId { classid, objid }
    }
}

pub const PG_CLASS: u32 = 1259;
pub const PG_TYPE: u32 = 1247;
pub const PG_PROC: u32 = 1255;
pub const PG_NAMESPACE: u32 = 2615;
pub const PG_CONSTRAINT: u32 = 2606;
pub const PG_ATTRDEF: u32 = 2604;
pub const PG_REWRITE: u32 = 2618;
pub const PG_TRIGGER: u32 = 2620;
pub const PG_POLICY: u32 = 3256;
pub const PG_EXTENSION: u32 = 3079;
pub const PG_COLLATION: u32 = 3456;
pub const PG_CAST: u32 = 2605;
pub const PG_OPERATOR: u32 = 2617;
pub const PG_OPCLASS: u32 = 2616;
pub const PG_OPFAMILY: u32 = 2753;
pub const PG_AMOP: u32 = 2602;
pub const PG_AMPROC: u32 = 2603;
pub const PG_LANGUAGE: u32 = 2612;
pub const PG_TS_CONFIG: u32 = 3602;
pub const PG_TS_DICT: u32 = 3600;
pub const PG_TS_PARSER: u32 = 3601;
pub const PG_TS_TEMPLATE: u32 = 3764;
pub const PG_FOREIGN_DATA_WRAPPER: u32 = 2328;
pub const PG_FOREIGN_SERVER: u32 = 1417;
pub const PG_USER_MAPPING: u32 = 1418;
pub const PG_EVENT_TRIGGER: u32 = 3466;
pub const PG_STATISTIC_EXT: u32 = 3381;
pub const PG_DEFAULT_ACL: u32 = 826;
pub const PG_LARGEOBJECT_METADATA: u32 = 2613;
pub const PG_CONVERSION: u32 = 2607;
pub const PG_TRANSFORM: u32 = 3576;
pub const PG_AM: u32 = 2601;
pub const PG_PUBLICATION: u32 = 6104;
pub const PG_PUBLICATION_REL: u32 = 6106;
pub const PG_PUBLICATION_NAMESPACE: u32 = 6237;
pub const PG_SUBSCRIPTION: u32 = 6100;
