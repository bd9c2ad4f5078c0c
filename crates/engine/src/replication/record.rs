//! What a replication run keeps in its publication's comment for a later run: the schema
//! fingerprint taken at setup ([`super::fingerprint`]) and the tables whose replica identity
//! `--replica-identity-full` set to FULL, with their earlier setting ([`super::identity`]).
//!
//! Why the publication's comment: the cut-over (`--stop-replication`) and `--cleanup` often run
//! as a separate invocation, maybe from another container, and have nothing but the two
//! servers to go by. They already find the publication by name; its comment lives exactly as
//! long as the replication does, on the server that holds the tables to put back, and needs no
//! privilege beyond owning the publication. One comment, two sections:
//!
//! ```text
//! db-migrate replica identity full v1      (only when tables were altered)
//! <oid> <d|n|i> <table, escaped>           (one line per table)
//! db-migrate schema fingerprint v3         (the fingerprint's own serialised form)
//! <hash>[:<oid>] <object, escaped>
//! ```
//!
//! Identities are escaped like the fingerprint's (no line break can end up in a line), and
//! every identity line starts with a digit, so the fingerprint's header can never be mistaken
//! for a table. A comment written before this section existed is a bare fingerprint and reads
//! as one with no tables altered.

use super::fingerprint::{Fingerprint, escape_identity, unescape_identity};
use super::identity::IdentityChange;
use crate::conn::Session;
use crate::error::{Error, Result};
use crate::sql::{quote_ident, quote_literal};

/// Header of the replica identity section.
const IDENTITY_HEADER: &str = "db-migrate replica identity full v1";

/// Where the fingerprint's serialised form starts (any of its versions).
const FINGERPRINT_PREFIX: &str = "db-migrate schema fingerprint ";

/// The comment text for `changes` and, once it is taken, the `fingerprint`.
pub fn compose(changes: &[IdentityChange], fingerprint: Option<&Fingerprint>) -> String {
    let mut out = String::new();
    if !changes.is_empty() {
        out.push_str(IDENTITY_HEADER);
        for c in changes {
            out.push_str(&format!(
                "\n{} {} {}",
                c.oid,
                c.previous,
                escape_identity(&c.table)
            ));
        }
    }
    if let Some(f) = fingerprint {
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&f.serialize());
    }
    out
}

/// What a comment holds: the tables altered, and the fingerprint when there is one. Text this
/// module never wrote (a comment someone else set) holds neither.
pub fn parse(text: &str) -> (Vec<IdentityChange>, Option<Fingerprint>) {
    let Some(rest) = text.strip_prefix(IDENTITY_HEADER) else {
        return (Vec::new(), Fingerprint::deserialize(text));
    };
    let mut changes = Vec::new();
    let mut fingerprint = None;
    let lines = rest.split('\n').skip(1);
    let mut offset = IDENTITY_HEADER.len() + 1;
    for line in lines {
        if line.starts_with(FINGERPRINT_PREFIX) {
            fingerprint = text.get(offset..).and_then(Fingerprint::deserialize);
            break;
        }
        offset += line.len() + 1;
        if let Some(c) = parse_change(line) {
            changes.push(c);
        }
    }
    (changes, fingerprint)
}

/// One `<oid> <previous> <table>` line.
fn parse_change(line: &str) -> Option<IdentityChange> {
    let mut parts = line.splitn(3, ' ');
    let oid = parts.next()?.parse().ok()?;
    let previous = parts.next()?;
    let previous = match previous {
        "d" | "n" | "i" => previous.chars().next()?,
        _ => return None,
    };
    let table = unescape_identity(parts.next()?)?;
    Some(IdentityChange {
        oid,
        previous,
        table,
    })
}

/// Sets publication `publication`'s comment to [`compose`] of the arguments.
pub async fn store(
    src: &Session,
    publication: &str,
    changes: &[IdentityChange],
    fingerprint: Option<&Fingerprint>,
) -> Result<()> {
    src.batch_execute(&format!(
        "COMMENT ON PUBLICATION {} IS {}",
        quote_ident(publication),
        quote_literal(&compose(changes, fingerprint))
    ))
    .await
    .map_err(Error::from_pg)
}

/// The tables altered, as publication `publication`'s comment records them (none when it has no
/// comment or does not exist). A failed read is an error: what it would list must not be left
/// altered without a word.
pub async fn stored_changes(src: &Session, publication: &str) -> Result<Vec<IdentityChange>> {
    let text =
        crate::catalog::replication::state::publication_comment_checked(src, publication).await?;
    Ok(text.map(|t| parse(&t).0).unwrap_or_default())
}

/// The fingerprint publication `publication`'s comment holds, if any.
pub async fn stored_fingerprint(src: &Session, publication: &str) -> Option<Fingerprint> {
    let text = crate::catalog::replication::state::publication_comment(src, publication).await?;
    parse(&text).1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(oid: u32, previous: char, table: &str) -> IdentityChange {
        IdentityChange {
            oid,
            previous,
            table: table.into(),
        }
    }

    #[test]
    fn altered_tables_and_the_fingerprint_round_trip_together() {
        let changes = vec![
            change(16384, 'd', "public.loose"),
            change(
                16390,
                'n',
                "\"we\nird\".\"db-migrate schema fingerprint v2\"",
            ),
            change(16391, 'i', "public.\"back\\slash\""),
        ];
        let mut fp_text = String::from("db-migrate schema fingerprint v2");
        fp_text.push_str("\n0123456789abcdef table public.loose");
        let fp = Fingerprint::deserialize(&fp_text).unwrap();
        let text = compose(&changes, Some(&fp));
        assert_eq!(parse(&text), (changes.clone(), Some(fp.clone())));
        // Before the fingerprint is taken, the tables alone.
        assert_eq!(parse(&compose(&changes, None)), (changes, None));
    }

    #[test]
    fn a_bare_fingerprint_of_an_earlier_version_reads_as_no_table_altered() {
        let fp = Fingerprint::deserialize(
            "db-migrate schema fingerprint v2\n0123456789abcdef table public.t",
        )
        .unwrap();
        let text = compose(&[], Some(&fp));
        assert_eq!(text, fp.serialize());
        assert_eq!(parse(&text), (Vec::new(), Some(fp)));
    }

    #[test]
    fn a_comment_someone_else_wrote_holds_nothing() {
        assert_eq!(parse("our billing publication"), (Vec::new(), None));
        assert_eq!(parse(""), (Vec::new(), None));
        // Lines this module never writes are ignored, not guessed at.
        let text =
            format!("{IDENTITY_HEADER}\nnot-an-oid d public.t\n12 x public.u\n13 d public.v");
        assert_eq!(parse(&text).0, vec![change(13, 'd', "public.v")]);
    }
}
