//! Sequences: `CREATE SEQUENCE` with every option explicit, identity clauses, and
//! `ALTER SEQUENCE ... OWNED BY` as an object of its own.
//!
//! Its own file as one part of [`super`]'s builders; it shares their lookups ([`super::Ctx`])
//! and helpers through `use super::*`.

use super::*;

/// The options of a sequence, all explicit: `START WITH 1 INCREMENT BY 1 MINVALUE 1 ...`.
pub fn sequence_options(seq: &Sequence) -> String {
    format!(
        "START WITH {} INCREMENT BY {} MINVALUE {} MAXVALUE {} CACHE {}{}",
        seq.start,
        seq.increment,
        seq.min,
        seq.max,
        seq.cache,
        if seq.cycle { " CYCLE" } else { " NO CYCLE" }
    )
}

/// `CREATE [UNLOGGED] SEQUENCE ...`.
pub fn create_sequence(qname: &str, seq: &Sequence, unlogged: bool) -> String {
    format!(
        "CREATE {}SEQUENCE {qname} AS {} {}",
        if unlogged { "UNLOGGED " } else { "" },
        seq.data_type,
        sequence_options(seq)
    )
}

/// `ALTER SEQUENCE ... AS ... START WITH ...`: the options of an existing sequence made those
/// of `seq` (a sequence changed on the source while it replicates), its current value kept:
/// dropping it and creating it again would fail while a column's default uses it.
pub fn alter_sequence(qname: &str, seq: &Sequence) -> String {
    format!(
        "ALTER SEQUENCE {qname} AS {} {}",
        seq.data_type,
        sequence_options(seq)
    )
}

/// `GENERATED ALWAYS|BY DEFAULT AS IDENTITY (SEQUENCE NAME ... options)`.
pub fn identity_clause(kind: char, seq_qname: &str, seq: &Sequence) -> String {
    format!(
        "GENERATED {} AS IDENTITY (SEQUENCE NAME {seq_qname} {})",
        if kind == 'a' { "ALWAYS" } else { "BY DEFAULT" },
        sequence_options(seq)
    )
}

pub(super) fn build_sequence(ctx: &Ctx, rel: &Relation, seq: &Sequence, out: &mut Collected) {
    if seq.identity {
        // Created by the identity column of its table (see build_table).
        return;
    }
    let mut o = base_object(rel, ObjectKind::Sequence, Section::PreData);
    let q = qname(rel);
    o.create
        .push(create_sequence(&q, seq, rel.persistence == 'u'));
    acl_and_comments(rel, &[], &mut o);
    row_type_aliases(rel, out);
    out.objects.push(o);
    if let Some((table, _, column)) = &seq.owned_by
        && let Some(t) = ctx.rels.get(table)
    {
        let mut ob = SchemaObject::new(
            ObjId::new(synthetic::OWNED_BY, rel.oid),
            ObjectKind::SequenceOwnedBy,
            Section::PreData,
            Some(&rel.schema),
            &rel.name,
        );
        ob.create.push(format!(
            "ALTER SEQUENCE {q} OWNED BY {}.{}",
            qname(t),
            quote_ident(column)
        ));
        ob.deps = vec![rel_id(rel.oid), rel_id(t.oid)];
        out.objects.push(ob);
    }
}
