//! The message-level protocol of our client, with no I/O: fuzzable. Frame checks, the
//! startup/authentication state machine (`startup`), the simple-query collector, replication command
//! texts and results, and the CopyData scanner. Its own file because it must never panic on
//! malformed input and is driven by the cargo-fuzz target `backend_messages`.

use bytes::{Bytes, BytesMut};
use postgres_protocol::message::backend::{DataRowBody, ErrorFields, Message, RowDescriptionBody};
use postgres_protocol::message::frontend;
use tokio_postgres::error::SqlState;
use tokio_postgres::fallible_iterator::FallibleIterator;

use db_migrate_core::error::{Error, ErrorKind, Result};

mod copy;
mod replication;
mod startup;

pub use copy::{CopyScan, copy_rows};
pub use replication::{SlotInfo, SystemInfo, create_slot_command, is_valid_slot_name};
pub use startup::{Startup, StartupStep};

/// The largest backend message we accept (1 GiB, the server's own limit on a field).
pub const MAX_MESSAGE_LEN: usize = 1 << 30;

fn protocol(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::Protocol, msg)
}

/// The (name, value) of a ParameterStatus message.
fn parameter_status(
    body: &postgres_protocol::message::backend::ParameterStatusBody,
) -> Result<(String, String)> {
    let malformed = |e: std::io::Error| protocol(format!("malformed ParameterStatus: {e}"));
    Ok((
        body.name().map_err(malformed)?.to_owned(),
        body.value().map_err(malformed)?.to_owned(),
    ))
}

/// A printable name for a backend message tag.
pub fn tag_name(tag: u8) -> String {
    if tag.is_ascii_graphic() {
        format!("'{}'", tag as char)
    } else {
        format!("0x{tag:02x}")
    }
}

/// Reads a backend message header: `Ok(None)` when fewer than 5 bytes are buffered, else
/// `(tag, declared length)` where the length counts itself (4 bytes) and the body. Rejects
/// lengths below 4 and above [`MAX_MESSAGE_LEN`].
pub fn check_header(buf: &[u8]) -> Result<Option<(u8, usize)>> {
    let [tag, a, b, c, d, ..] = *buf else {
        return Ok(None);
    };
    let len = u32::from_be_bytes([a, b, c, d]) as usize;
    if len < 4 {
        return Err(protocol(format!(
            "invalid message length {len} for message {} (below 4)",
            tag_name(tag)
        )));
    }
    if len > MAX_MESSAGE_LEN {
        return Err(protocol(format!(
            "invalid message length {len} for message {} (above 1 GiB)",
            tag_name(tag)
        )));
    }
    Ok(Some((tag, len)))
}

/// How many more bytes are needed before [`next_message`] can return the buffered message
/// (0 when it can, or when the header itself is incomplete and 5 bytes are the minimum).
pub fn bytes_missing(buf: &[u8]) -> Result<usize> {
    match check_header(buf)? {
        None => Ok(5 - buf.len()),
        Some((_, len)) => Ok((len + 1).saturating_sub(buf.len())),
    }
}

/// Takes one complete message off the front of `buf`, or `Ok(None)` when it is not all
/// there yet. The header is checked before anything else is read.
pub fn next_message(buf: &mut BytesMut) -> Result<Option<Message>> {
    let Some((tag, len)) = check_header(buf)? else {
        return Ok(None);
    };
    if buf.len() < len + 1 {
        return Ok(None);
    }
    match Message::parse(buf) {
        Ok(Some(m)) => Ok(Some(m)),
        Ok(None) => Err(protocol(format!(
            "incomplete message {} although its declared length is buffered",
            tag_name(tag)
        ))),
        Err(e) => Err(protocol(format!(
            "malformed message {} from the server: {e}",
            tag_name(tag)
        ))),
    }
}

/// An `ErrorResponse` / `NoticeResponse` in readable form.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerMessage {
    /// Non-localized severity (`V`) when sent, else the localized one (`S`).
    pub severity: String,
    /// The SQLSTATE (`C`), e.g. `42501`.
    pub code: String,
    pub message: String,
    pub detail: Option<String>,
    pub hint: Option<String>,
}

impl ServerMessage {
    /// Reads the fields of an ErrorResponse or NoticeResponse body. Invalid UTF-8 is
    /// replaced, never trusted.
    pub fn parse(mut fields: ErrorFields<'_>) -> Result<ServerMessage> {
        let mut out = ServerMessage::default();
        let mut localized = String::new();
        while let Some(f) = fields
            .next()
            .map_err(|e| protocol(format!("malformed error fields from the server: {e}")))?
        {
            let v = String::from_utf8_lossy(f.value_bytes()).into_owned();
            match f.type_() {
                b'V' => out.severity = v,
                b'S' => localized = v,
                b'C' => out.code = v,
                b'M' => out.message = v,
                b'D' => out.detail = Some(v),
                b'H' => out.hint = Some(v),
                _ => {}
            }
        }
        if out.severity.is_empty() {
            out.severity = localized;
        }
        Ok(out)
    }

    /// The crate error for this server error: kind from the SQLSTATE class (28 = Auth,
    /// 08 = Connect, 57014 = Cancelled, else Sql), message with detail and hint, SQLSTATE
    /// kept.
    pub fn into_error(self) -> Error {
        let kind = match self.code.as_str() {
            c if c.starts_with("28") => ErrorKind::Auth,
            c if c.starts_with("08") => ErrorKind::Connect,
            "57014" => ErrorKind::Cancelled,
            _ => ErrorKind::Sql,
        };
        let mut msg = if self.message.is_empty() {
            "the server reported an error without a message".to_string()
        } else {
            self.message
        };
        if let Some(detail) = self.detail {
            msg.push_str(&format!(" (detail: {detail})"));
        }
        if let Some(hint) = self.hint {
            msg.push_str(&format!(" (hint: {hint})"));
        }
        let mut e = Error::new(kind, msg);
        if self.code.len() == 5 && self.code.bytes().all(|b| b.is_ascii_alphanumeric()) {
            e = e.with_sqlstate(SqlState::from_code(&self.code));
        }
        e
    }
}

/// Column names of a RowDescription.
pub fn row_description(body: &RowDescriptionBody) -> Result<Vec<String>> {
    let mut fields = body.fields();
    let mut out = Vec::new();
    while let Some(f) = fields
        .next()
        .map_err(|e| protocol(format!("malformed RowDescription: {e}")))?
    {
        out.push(f.name().to_owned());
    }
    Ok(out)
}

/// The values of a DataRow as text (`None` for NULL). `columns` is the number of columns
/// the RowDescription announced; a row of another width is a protocol error.
pub fn data_row(body: &DataRowBody, columns: usize) -> Result<Vec<Option<String>>> {
    let buf = body.buffer();
    let mut ranges = body.ranges();
    let mut out = Vec::with_capacity(columns.min(1600));
    while let Some(r) = ranges
        .next()
        .map_err(|e| protocol(format!("malformed DataRow: {e}")))?
    {
        out.push(match r {
            None => None,
            Some(range) => {
                let bytes = buf
                    .get(range)
                    .ok_or_else(|| protocol("malformed DataRow: value out of bounds"))?;
                Some(
                    std::str::from_utf8(bytes)
                        .map_err(|_| protocol("DataRow value is not valid UTF-8"))?
                        .to_owned(),
                )
            }
        });
    }
    if out.len() != columns {
        return Err(protocol(format!(
            "DataRow has {} values but RowDescription announced {columns} columns",
            out.len()
        )));
    }
    Ok(out)
}

/// The result of a simple query: the last row-returning statement's columns and rows, and
/// the last command tag.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryResult {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Option<String>>>,
    /// The CommandComplete tag of the last statement (`CREATE_REPLICATION_SLOT`, `SELECT 1`).
    pub command_tag: Option<String>,
}

impl QueryResult {
    /// Index of a column by name.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }

    /// The value of column `name` in row `row` (`None` for NULL, a missing row or column).
    pub fn get(&self, row: usize, name: &str) -> Option<&str> {
        let i = self.column(name)?;
        self.rows.get(row)?.get(i)?.as_deref()
    }
}

/// What the simple-query collector wants next.
#[derive(Debug, PartialEq, Eq)]
pub enum Progress {
    /// Read another message.
    More,
    /// ReadyForQuery arrived: call [`QueryCollector::finish`].
    Done,
}

/// Collects the replies to one simple query until ReadyForQuery. An ErrorResponse is kept and
/// returned by [`QueryCollector::finish`] (the server still sends ReadyForQuery after it, so
/// the session stays usable).
#[derive(Debug, Default)]
pub struct QueryCollector {
    result: QueryResult,
    described: bool,
    error: Option<Error>,
    /// Notices the server sent, for logging.
    pub notices: Vec<ServerMessage>,
    /// ParameterStatus updates (name, value).
    pub parameters: Vec<(String, String)>,
}

impl QueryCollector {
    pub fn new() -> Self {
        Self::default()
    }

    /// Handles one message. An `Err` is fatal for the session (protocol violation); server
    /// errors for the statement are kept for [`QueryCollector::finish`].
    pub fn handle(&mut self, msg: Message) -> Result<Progress> {
        match msg {
            Message::RowDescription(body) => {
                self.result.columns = row_description(&body)?;
                self.result.rows.clear();
                self.described = true;
            }
            Message::DataRow(body) => {
                if !self.described {
                    return Err(protocol("DataRow without a RowDescription"));
                }
                let row = data_row(&body, self.result.columns.len())?;
                self.result.rows.push(row);
            }
            Message::CommandComplete(body) => {
                let tag = body
                    .tag()
                    .map_err(|e| protocol(format!("malformed CommandComplete: {e}")))?;
                self.result.command_tag = Some(tag.to_owned());
            }
            Message::EmptyQueryResponse => {}
            Message::ErrorResponse(body) => {
                let err = ServerMessage::parse(body.fields())?.into_error();
                self.error.get_or_insert(err);
            }
            Message::NoticeResponse(body) => {
                self.notices.push(ServerMessage::parse(body.fields())?);
            }
            Message::ParameterStatus(body) => {
                self.parameters.push(parameter_status(&body)?);
            }
            Message::NotificationResponse(_) => {}
            Message::ReadyForQuery(_) => return Ok(Progress::Done),
            Message::CopyInResponse(_) | Message::CopyOutResponse(_) => {
                return Err(protocol(
                    "the server started a COPY outside of pass_through",
                ));
            }
            _ => return Err(protocol("unexpected message in a simple-query reply")),
        }
        Ok(Progress::More)
    }

    /// The result, or the statement's server error.
    pub fn finish(self) -> Result<QueryResult> {
        match self.error {
            Some(e) => Err(e),
            None => Ok(self.result),
        }
    }
}

/// One frontend message, written by `f` (what `msg` names is in the error).
pub fn encode(msg: &str, f: impl FnOnce(&mut BytesMut) -> std::io::Result<()>) -> Result<Bytes> {
    let mut buf = BytesMut::new();
    f(&mut buf).map_err(|e| protocol(format!("cannot encode {msg}: {e}")))?;
    Ok(buf.freeze())
}

/// The StartupMessage (protocol 3.0) with the given parameters.
pub fn startup_message(params: &[(&str, &str)]) -> Result<Bytes> {
    encode("the startup message", |buf| {
        frontend::startup_message(params.iter().copied(), buf)
    })
}

/// `server_version` as reported in ParameterStatus ("15.4", "16beta1",
/// "13.12 (Debian 13.12-1)") as `server_version_num` (150004, 160000, 130012).
pub fn parse_server_version(text: &str) -> Option<u32> {
    let digits = |s: &str| -> Option<u32> {
        let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        s[..end].parse().ok()
    };
    let major = digits(text)?;
    let rest = &text[text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len())..];
    let minor = rest.strip_prefix('.').and_then(digits).unwrap_or(0);
    if major >= 10 {
        major.checked_mul(10000)?.checked_add(minor.min(9999))
    } else {
        // 9.6.x: major 9, minor 6, patch.
        let patch = rest
            .strip_prefix('.')
            .and_then(|r| r.find('.').map(|i| &r[i + 1..]))
            .and_then(digits)
            .unwrap_or(0);
        Some(major * 10000 + minor.min(99) * 100 + patch.min(99))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BufMut;

    pub(super) fn msg(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut v = vec![tag];
        v.extend_from_slice(&((body.len() + 4) as u32).to_be_bytes());
        v.extend_from_slice(body);
        v
    }

    #[test]
    fn lengths_are_checked_before_bodies() {
        // Below 4.
        let mut b = BytesMut::from(&[b'Z', 0, 0, 0, 3][..]);
        assert_eq!(
            next_message(&mut b).err().unwrap().kind(),
            ErrorKind::Protocol
        );
        // Above 1 GiB: rejected from the header alone, nothing allocated.
        let mut b = BytesMut::from(&[b'D', 0x7f, 0xff, 0xff, 0xff][..]);
        let e = next_message(&mut b).err().unwrap();
        assert!(e.message().contains("above 1 GiB"), "{e}");
        let mut b = BytesMut::from(&[b'D', 0xff, 0xff, 0xff, 0xff, 1, 2][..]);
        assert!(next_message(&mut b).is_err());
        // Incomplete: wait.
        let mut b = BytesMut::from(&[b'Z', 0, 0][..]);
        assert!(next_message(&mut b).unwrap().is_none());
        let mut b = BytesMut::from(&[b'Z', 0, 0, 0, 5][..]);
        assert!(next_message(&mut b).unwrap().is_none());
        assert_eq!(bytes_missing(&b).unwrap(), 1);
        // Complete.
        let mut b = BytesMut::from(&msg(b'Z', b"I")[..]);
        assert!(matches!(
            next_message(&mut b).unwrap(),
            Some(postgres_protocol::message::backend::Message::ReadyForQuery(
                _
            ))
        ));
        assert!(b.is_empty());
        // A body that lies about its contents.
        let mut b = BytesMut::from(&msg(b'C', b"no terminator")[..]);
        assert!(next_message(&mut b).is_err());
        let mut b = BytesMut::from(&msg(b'?', b"")[..]);
        assert!(next_message(&mut b).is_err());
    }

    pub(super) fn error_body(code: &str, message: &str) -> Vec<u8> {
        let mut v = Vec::new();
        for (t, s) in [
            (b'S', "FATAL"),
            (b'V', "FATAL"),
            (b'C', code),
            (b'M', message),
        ] {
            v.push(t);
            v.extend_from_slice(s.as_bytes());
            v.push(0);
        }
        v.push(0);
        v
    }

    #[test]
    fn query_collector_reads_rows_and_keeps_errors_until_ready() {
        let mut c = QueryCollector::new();
        let mut rd = Vec::new();
        rd.put_u16(2);
        for name in ["slot_name", "snapshot_name"] {
            rd.extend_from_slice(name.as_bytes());
            rd.push(0);
            rd.extend_from_slice(&[0; 18]);
        }
        let mut row = Vec::new();
        row.put_u16(2);
        row.put_i32(1);
        row.extend_from_slice(b"s");
        row.put_i32(-1);
        let mut stream = msg(b'T', &rd);
        stream.extend(msg(b'D', &row));
        stream.extend(msg(b'C', b"SELECT 1\0"));
        stream.extend(msg(b'Z', b"I"));
        let mut b = BytesMut::from(&stream[..]);
        while let Some(m) = next_message(&mut b).unwrap() {
            if c.handle(m).unwrap() == Progress::Done {
                break;
            }
        }
        let r = c.finish().unwrap();
        assert_eq!(r.columns, vec!["slot_name", "snapshot_name"]);
        assert_eq!(r.rows, vec![vec![Some("s".to_string()), None]]);
        assert_eq!(r.get(0, "slot_name"), Some("s"));
        assert_eq!(r.command_tag.as_deref(), Some("SELECT 1"));

        // A row of the wrong width is a protocol error.
        let mut c = QueryCollector::new();
        let mut b = BytesMut::from(&msg(b'T', &rd)[..]);
        c.handle(next_message(&mut b).unwrap().unwrap()).unwrap();
        let mut short = Vec::new();
        short.put_u16(1);
        short.put_i32(-1);
        let mut b = BytesMut::from(&msg(b'D', &short)[..]);
        assert!(c.handle(next_message(&mut b).unwrap().unwrap()).is_err());

        let mut c = QueryCollector::new();
        let mut stream = msg(
            b'E',
            &error_body("42710", "replication slot \"x\" already exists"),
        );
        stream.extend(msg(b'Z', b"I"));
        let mut b = BytesMut::from(&stream[..]);
        assert_eq!(
            c.handle(next_message(&mut b).unwrap().unwrap()).unwrap(),
            Progress::More
        );
        assert_eq!(
            c.handle(next_message(&mut b).unwrap().unwrap()).unwrap(),
            Progress::Done
        );
        assert_eq!(c.finish().unwrap_err().sqlstate().unwrap().code(), "42710");
    }
}
