//! Tables created on the source while it replicates, brought in by the cut-over run.
//!
//! Logical replication carries no DDL. A table created on the source after the setup is not in
//! a `FOR TABLE` publication, and in a `FOR ALL TABLES` one its changes reach a target that
//! lacks the table (the apply worker stops on them). Either way its rows would be lost at the
//! cut-over. So before it waits for the lag, the cut-over run:
//!
//! 1. creates each such table on the target, with its sequences, defaults, indexes, constraints
//!    and triggers, from the source's catalog as the schema engine reads it;
//! 2. adds it to a `FOR TABLE` publication (`ALTER PUBLICATION ... ADD TABLE`; on PostgreSQL 13+
//!    a new partition of a published partitioned table is published already);
//! 3. runs `ALTER SUBSCRIPTION ... REFRESH PUBLICATION WITH (copy_data = true)`, which copies
//!    just the tables new to the subscription, each in a snapshot of its own from which its
//!    changes then stream; the lag wait then waits for those copies too.
//!
//! In that order: until the refresh, the subscription ignores changes of tables it does not
//! know, and the table copy holds everything committed before it.

use std::collections::{BTreeSet, HashSet};

use tracing::info;

use crate::catalog::replication::tables::{
    drift_names_of_tables, existing_relations, user_sequences,
};
use crate::conn::Session;
use crate::error::{Error, ErrorKind, Result};
use crate::schema::model::{ObjId, ObjectKind, SchemaObject, Section, class};
use crate::schema::{SchemaOptions, exec, read_schema};
use crate::sql::quote_ident;

use super::objects::{self, TargetFacts};
use crate::catalog::replication::publication;

/// What [`adopt_new_tables`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Adopted {
    /// Tables created on the target (`"schema"."name"`).
    pub created: Vec<String>,
    /// Tables added to the publication.
    pub published: Vec<String>,
    /// Schema warnings of the creation.
    pub warnings: Vec<crate::warning::Warning>,
    /// The schema-drift entries (see [`super::Fingerprint::changes`]) of what was created:
    /// `table public.t added`, its sequences, indexes, constraints and triggers.
    pub drift_keys: Vec<String>,
}

impl Adopted {
    pub fn is_empty(&self) -> bool {
        self.created.is_empty() && self.published.is_empty()
    }

    pub fn merge(&mut self, other: Adopted) {
        self.created.extend(other.created);
        self.published.extend(other.published);
        self.warnings.extend(other.warnings);
        self.drift_keys.extend(other.drift_keys);
    }

    /// Every table created or published, once, sorted.
    pub fn all_tables(&self) -> Vec<String> {
        let mut all: Vec<String> = self
            .created
            .iter()
            .chain(&self.published)
            .cloned()
            .collect();
        all.sort();
        all.dedup();
        all
    }

    /// Whether a schema-drift entry is something this adoption created.
    pub fn covers(&self, drift: &str) -> bool {
        let Some(key) = drift.strip_suffix(" added") else {
            return false;
        };
        self.drift_keys.iter().any(|k| k == key)
            || self.created.iter().any(|t| {
                ["constraint", "trigger"]
                    .iter()
                    .any(|kind| key.starts_with(&format!("{kind} {t}.")))
            })
    }

    /// `tables created on the source during replication, now replicated: a, b`.
    pub fn describe(&self) -> String {
        format!(
            "tables created on the source during replication were added (created on the target, published, copied by the subscription): {}",
            self.all_tables().join(", ")
        )
    }
}

/// The kinds that belong to one table and come with it.
fn belongs_to_table(kind: ObjectKind) -> bool {
    matches!(
        kind,
        ObjectKind::TableAttach
            | ObjectKind::TablePart
            | ObjectKind::SequenceOwnedBy
            | ObjectKind::Index
            | ObjectKind::IndexAttach
            | ObjectKind::Constraint
            | ObjectKind::ForeignKey
            | ObjectKind::Trigger
            | ObjectKind::Rule
            | ObjectKind::Policy
            | ObjectKind::Statistics
    )
}

/// The objects that create the tables `new` (relation OIDs) and what belongs to them, in
/// creation order: the tables, their sequences the target lacks (`missing_sequences`), then
/// everything that depends on them and belongs to a table (defaults, indexes, constraints,
/// triggers...).
pub fn objects_for_tables<'a>(
    schema: &'a [SchemaObject],
    new: &HashSet<u32>,
    missing_sequences: &HashSet<u32>,
) -> Vec<&'a SchemaObject> {
    let mut taken: HashSet<ObjId> = new
        .iter()
        .map(|o| ObjId::new(class::PG_CLASS, *o))
        .collect();
    // Sequences of the new tables: a table's default depends on its serial sequence.
    for o in schema {
        if taken.contains(&o.id) {
            for d in &o.depends_on {
                if d.classid == class::PG_CLASS && missing_sequences.contains(&d.objid) {
                    taken.insert(*d);
                }
            }
        }
    }
    loop {
        let before = taken.len();
        for o in schema {
            if !taken.contains(&o.id)
                && belongs_to_table(o.kind)
                && o.depends_on.iter().any(|d| taken.contains(d))
                // Whatever else it needs must be there already or come now.
                && o.depends_on.iter().all(|d| {
                    taken.contains(d) || d.classid != class::PG_CLASS || !new_or_missing(d.objid, new, missing_sequences)
                })
            {
                taken.insert(o.id);
            }
        }
        if taken.len() == before {
            break;
        }
    }
    schema.iter().filter(|o| taken.contains(&o.id)).collect()
}

fn new_or_missing(oid: u32, new: &HashSet<u32>, seqs: &HashSet<u32>) -> bool {
    new.contains(&oid) || seqs.contains(&oid)
}

/// The schema-drift names ([`super::Fingerprint`]) of the tables `new`, their indexes and
/// the sequences they own: what the adoption created.
async fn drift_keys(src: &Session, new: &HashSet<u32>) -> Result<Vec<String>> {
    let oids: Vec<u32> = new.iter().copied().collect();
    drift_names_of_tables(src, &oids).await
}

/// Source sequences that the target lacks, by OID.
async fn missing_sequences(src: &Session, tgt: &Session) -> Result<HashSet<u32>> {
    let sequences = user_sequences(src).await?;
    let names: Vec<String> = sequences.iter().map(|(_, n)| n.clone()).collect();
    let present = existing_relations(tgt, &names).await?;
    Ok(sequences
        .into_iter()
        .filter(|(_, n)| !present.contains(n))
        .map(|(oid, _)| oid)
        .collect())
}

/// Brings tables created on the source since the setup into the replication (see the module
/// docs). `src` and `tgt` are sessions to the database on both sides. With a table selection
/// (`selected`), only its tables are brought in: the others were left out on purpose. A table
/// in `renaming` (renamed on the source, the target's still under its old name, see
/// [`super::follow_relations`]) is no new table: the target renames its own.
pub async fn adopt_new_tables(
    src: &Session,
    tgt: &Session,
    tfacts: &TargetFacts,
    names: &super::ObjectNames,
    schema_opts: SchemaOptions,
    selected: Option<&[(String, String)]>,
    renaming: &BTreeSet<String>,
) -> Result<Adopted> {
    let (publication, subscription) = (names.publication.as_str(), names.subscription.as_str());
    let mut adopted = Adopted::default();
    let on_source = |e: Error| e.with_side(crate::error::Side::Source);
    let on_target = |e: Error| e.with_side(crate::error::Side::Target);

    // 1. Tables the target lacks.
    let mut missing = publication::missing_on_target(src, tgt, selected)
        .await
        .map_err(on_source)?;
    missing.retain(|(_, name)| !renaming.contains(name));
    if !missing.is_empty() {
        let new: HashSet<u32> = missing.iter().map(|(o, _)| *o).collect();
        let seqs = missing_sequences(src, tgt).await.map_err(on_source)?;
        let schema = read_schema(src)
            .await
            .map_err(|e| on_source(e).with_step("reading the schema of new tables"))?;
        let wanted = objects_for_tables(&schema.objects, &new, &seqs);
        exec::prepare_session(tgt).await.map_err(on_target)?;
        let facts = crate::schema::ExecState::read(tgt)
            .await
            .map_err(on_target)?;
        // A new partition is attached after its own indexes exist, so that the partitioned
        // table's indexes adopt them rather than being created on it a second time; the index
        // attachments then find them attached already.
        let order = |o: &&SchemaObject| match (o.section, o.kind) {
            (_, ObjectKind::TableAttach) => 2,
            (_, ObjectKind::IndexAttach) => 3,
            (Section::PreData, _) => 0,
            (Section::PostData, _) => 1,
        };
        let mut ordered = wanted.clone();
        ordered.sort_by_key(order);
        info!(
            tables = missing.len(),
            "creating tables created on the source during replication"
        );
        let report = exec::apply(tgt, ordered, schema_opts, &facts)
            .await
            .map_err(|e| on_target(e).with_step("creating new tables"))?;
        adopted.warnings.extend(report.warnings);
        adopted.drift_keys = drift_keys(src, &new).await.map_err(on_source)?;
        adopted.created = missing.iter().map(|(_, n)| n.clone()).collect();
    }

    // 2. Publish what a list does not hold yet.
    let all_tables = publication::publication_is_all_tables(src, publication)
        .await
        .map_err(on_source)?
        .ok_or_else(|| {
            Error::new(
                ErrorKind::Validation,
                format!(
                    "publication {} disappeared from the source",
                    quote_ident(publication)
                ),
            )
            .with_side(crate::error::Side::Source)
        })?;
    if !all_tables {
        let members: HashSet<u32> = publication::publication_members(src, publication)
            .await
            .map_err(on_source)?
            .into_iter()
            .collect();
        // An extension's tables are never "created during replication": the setup listed the
        // configuration tables it publishes, and the others are the extension's own.
        let unlisted: Vec<publication::PublishableTable> =
            publication::publishable_tables(src, false)
                .await
                .map_err(on_source)?
                .into_iter()
                .filter(|t| !members.contains(&t.oid))
                .filter(|t| {
                    selected
                        .is_none_or(|list| list.iter().any(|(s, n)| *s == t.schema && *n == t.name))
                })
                .collect();
        let refused: Vec<String> = unlisted
            .iter()
            .filter(|t| !t.acts_for_owner)
            .map(publication::PublishableTable::refusal)
            .collect();
        if !refused.is_empty() {
            return Err(Error::new(
                ErrorKind::Validation,
                format!(
                    "tables created on the source during replication cannot be added to publication {}: {}; grant the source user membership in their owners, or drop them, then run the cut-over again (the replication objects are kept)",
                    quote_ident(publication),
                    refused.join(", ")
                ),
            )
            .with_side(crate::error::Side::Source)
            .with_sqlstate(crate::error::SqlState::INSUFFICIENT_PRIVILEGE));
        }
        let names: Vec<String> = unlisted.iter().map(|t| t.qualified()).collect();
        objects::add_tables_to_publication(src, publication, &names)
            .await
            .map_err(|e| {
                on_source(e).with_object(format!("publication {}", quote_ident(publication)))
            })?;
        adopted.published = unlisted.into_iter().map(|t| t.display).collect();
    }

    // 3. The subscription learns of them and copies them.
    if !adopted.is_empty() {
        objects::refresh_subscription(tgt, subscription, tfacts)
            .await
            .map_err(|e| {
                on_target(e).with_object(format!("subscription {}", quote_ident(subscription)))
            })?;
    }
    Ok(adopted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(
        classid: u32,
        oid: u32,
        kind: ObjectKind,
        section: Section,
        deps: &[ObjId],
    ) -> SchemaObject {
        let mut o = SchemaObject::new(
            ObjId::new(classid, oid),
            kind,
            section,
            Some("public"),
            format!("o{oid}"),
        );
        o.depends_on = deps.to_vec();
        o
    }

    #[test]
    fn a_new_table_comes_with_its_sequence_index_and_keys_but_nothing_else() {
        let t_old = ObjId::new(class::PG_CLASS, 10);
        let t_new = ObjId::new(class::PG_CLASS, 20);
        let seq_new = ObjId::new(class::PG_CLASS, 21);
        let seq_old = ObjId::new(class::PG_CLASS, 11);
        let schema = vec![
            obj(
                class::PG_CLASS,
                11,
                ObjectKind::Sequence,
                Section::PreData,
                &[],
            ),
            obj(
                class::PG_CLASS,
                21,
                ObjectKind::Sequence,
                Section::PreData,
                &[],
            ),
            obj(
                class::PG_CLASS,
                10,
                ObjectKind::Table,
                Section::PreData,
                &[seq_old],
            ),
            obj(
                class::PG_CLASS,
                20,
                ObjectKind::Table,
                Section::PreData,
                &[seq_new],
            ),
            obj(
                class::PG_CONSTRAINT,
                30,
                ObjectKind::Constraint,
                Section::PostData,
                &[t_new],
            ),
            obj(
                class::PG_CONSTRAINT,
                31,
                ObjectKind::Constraint,
                Section::PostData,
                &[t_old],
            ),
            obj(
                class::PG_CONSTRAINT,
                32,
                ObjectKind::ForeignKey,
                Section::PostData,
                &[t_new, t_old],
            ),
            obj(
                class::PG_REWRITE,
                40,
                ObjectKind::View,
                Section::PreData,
                &[t_new],
            ),
        ];
        let new = HashSet::from([20]);
        let seqs = HashSet::from([21]);
        let got: Vec<u32> = objects_for_tables(&schema, &new, &seqs)
            .iter()
            .map(|o| o.id.objid)
            .collect();
        assert_eq!(got, vec![21, 20, 30, 32]);
    }
}
