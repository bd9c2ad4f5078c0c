//! A database's schema as the reader leaves it ([`crate::graph::read_schema`]) and the executor
//! runs it ([`crate::exec`]): its objects in creation order, with their dependency levels.
//!
//! The data only, here below everything that makes or uses it: the builders, the reader and
//! the orderer ([`crate::graph`]), the executor and the rehearsal all import it, and it
//! imports none of them.

use crate::model::{ObjId, SchemaObject, Section};
use db_migrate_catalog::extensions::{MemberComment, TablePartName};
use db_migrate_core::warning::Warning;

/// A database's schema, in creation order.
#[derive(Debug, Clone, Default)]
pub struct Schema {
    pub objects: Vec<SchemaObject>,
    /// For each object, its depth in the dependency graph: everything an object depends on has
    /// a smaller level, so the objects of one level can be created concurrently.
    pub levels: Vec<u32>,
    pub warnings: Vec<Warning>,
    /// What hangs off extension member tables: the extension's own, or added by users, which
    /// only the target can tell ([`crate::extensions::drop_provided`]).
    pub extension_parts: Vec<ExtensionPart>,
    /// The comments on extension members, the script's or users' (see
    /// [`crate::extensions::member_comment_objects`]).
    pub member_comments: Vec<MemberComment>,
    /// The source's extension members as `pg_identify_object`'s `(type, identity)`: a
    /// member without a comment here whose comment the target's script set had it removed
    /// by a user.
    pub extension_members: Vec<(String, String)>,
    /// The source server's `server_version_num` (0 when unknown): what a rehearsal may take
    /// for granted depends on whether the target is of the same major.
    pub source_version: u32,
}

impl Schema {
    pub fn pre_data(&self) -> impl Iterator<Item = &SchemaObject> {
        self.objects
            .iter()
            .filter(|o| o.section == Section::PreData)
    }

    pub fn post_data(&self) -> impl Iterator<Item = &SchemaObject> {
        self.objects
            .iter()
            .filter(|o| o.section == Section::PostData)
    }

    /// The objects of one section with their levels, in creation order.
    pub fn section_with_levels(&self, section: Section) -> Vec<(&SchemaObject, u32)> {
        self.objects
            .iter()
            .zip(self.levels.iter().copied())
            .filter(|(o, _)| o.section == section)
            .collect()
    }
}

/// Something attached to a member table: made by the extension's script or added by a user,
/// which only the target can tell once the extension exists there (see
/// [`crate::extensions::drop_provided`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtensionPart {
    pub id: ObjId,
    pub name: TablePartName,
}
