//! In-memory PostgreSQL servers that speak just enough of the protocol for one COPY, to drive
//! `db_migrate::conn::wire::pass_through` without a cluster: its framing, its error paths and
//! its speed (the `pass_through` benchmark).

#![allow(dead_code)]

use bytes::{BufMut, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader, DuplexStream};

/// A backend message: tag, length, body.
pub fn message(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 5);
    out.push(tag);
    out.extend_from_slice(&(body.len() as u32 + 4).to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// An ErrorResponse (or, with tag `N`, a NoticeResponse).
pub fn error_message(tag: u8, severity: &str, code: &str, text: &str) -> Vec<u8> {
    let mut body = Vec::new();
    for (field, value) in [
        (b'S', severity),
        (b'V', severity),
        (b'C', code),
        (b'M', text),
    ] {
        body.push(field);
        body.extend_from_slice(value.as_bytes());
        body.push(0);
    }
    body.push(0);
    message(tag, &body)
}

fn command_complete(tag: &str) -> Vec<u8> {
    let mut body = tag.as_bytes().to_vec();
    body.push(0);
    message(b'C', &body)
}

fn ready() -> Vec<u8> {
    message(b'Z', b"I")
}

/// CopyOutResponse / CopyInResponse for text format with one column.
fn copy_response(tag: u8) -> Vec<u8> {
    message(tag, &[0, 0, 1, 0, 0])
}

/// Reads one frontend message (tag, body); `None` at the end of the stream.
async fn read_frontend(io: &mut (impl AsyncRead + Unpin)) -> Option<(u8, Vec<u8>)> {
    let mut header = [0u8; 5];
    io.read_exact(&mut header).await.ok()?;
    let len = u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
    let mut body = vec![0u8; len - 4];
    io.read_exact(&mut body).await.ok()?;
    Some((header[0], body))
}

/// How the fake source ends its COPY.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceEnd {
    /// CopyDone, CommandComplete, ReadyForQuery.
    Complete,
    /// An ErrorResponse with this SQLSTATE after this many rows, then ReadyForQuery.
    ErrorAfter(usize, &'static str),
    /// The connection closes in the middle of the row after this many rows.
    CloseAfter(usize),
    /// The COPY statement itself fails with this SQLSTATE (no CopyOutResponse).
    Refuse(&'static str),
}

/// Serves one `COPY ... TO STDOUT`: waits for the Query, then sends every row as one CopyData
/// message (as the server does), a NoticeResponse after the first row, and ends as `end` says.
/// Rows are written in batches so that messages straddle the client's reads.
pub async fn serve_copy_out(mut io: DuplexStream, rows: Vec<Bytes>, end: SourceEnd) {
    let Some((b'Q', _)) = read_frontend(&mut io).await else {
        return;
    };
    if let SourceEnd::Refuse(code) = end {
        let mut out = error_message(b'E', "ERROR", code, "permission denied for table t");
        out.extend_from_slice(&ready());
        let _ = io.write_all(&out).await;
        let mut rest = Vec::new();
        let _ = io.read_to_end(&mut rest).await;
        return;
    }
    let mut out = BytesMut::new();
    out.extend_from_slice(&copy_response(b'H'));
    for (i, row) in rows.iter().enumerate() {
        match end {
            SourceEnd::ErrorAfter(n, code) if n == i => {
                out.extend_from_slice(&error_message(b'E', "ERROR", code, "source failed"));
                out.extend_from_slice(&ready());
                let _ = io.write_all(&out).await;
                return;
            }
            SourceEnd::CloseAfter(n) if n == i => {
                out.put_u8(b'd');
                out.put_u32(row.len() as u32 + 4);
                out.extend_from_slice(&row[..row.len() / 2]);
                let _ = io.write_all(&out).await;
                return;
            }
            _ => {}
        }
        out.put_u8(b'd');
        out.put_u32(row.len() as u32 + 4);
        out.extend_from_slice(row);
        if i == 0 {
            // A notice cut in two writes: the client must wait for the rest of it.
            let notice = error_message(b'N', "NOTICE", "00000", "a notice");
            let (a, b) = notice.split_at(notice.len() / 2);
            out.extend_from_slice(a);
            if io.write_all(&out.split()).await.is_err() {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            out.extend_from_slice(b);
        }
        if out.len() >= 100_000 && io.write_all(&out.split()).await.is_err() {
            return;
        }
    }
    out.extend_from_slice(&message(b'c', b""));
    out.extend_from_slice(&command_complete(&format!("COPY {}", rows.len())));
    out.extend_from_slice(&ready());
    let _ = io.write_all(&out).await;
    // Stay open until the client goes.
    let mut rest = Vec::new();
    let _ = io.read_to_end(&mut rest).await;
}

/// How the fake target's COPY ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetEnd {
    /// CopyDone: the data was committed (CommandComplete `COPY rows`).
    Done,
    /// CopyFail with this message.
    Failed(String),
    /// The client closed the connection in the middle of the COPY.
    Disconnected,
    /// The fake reported an error itself (`fail_after_bytes`).
    Errored,
}

/// Serves one `COPY ... FROM STDIN`: waits for the Query, sends CopyInResponse, collects the
/// data of the CopyData messages until CopyDone (answered with `COPY <newlines>`), CopyFail or
/// the end of the stream. With `fail_after_bytes`, it reports an ErrorResponse (SQLSTATE 23505)
/// once that many bytes arrived, as a server does on a constraint violation, and then discards
/// data. Returns the data and how the COPY ended.
pub async fn serve_copy_in(
    io: DuplexStream,
    fail_after_bytes: Option<usize>,
) -> (Vec<u8>, TargetEnd) {
    // Buffered, as a server reads its socket: the fake's own cost stays small in benchmarks.
    let mut io = BufReader::with_capacity(256 * 1024, io);
    let Some((b'Q', _)) = read_frontend(&mut io).await else {
        return (Vec::new(), TargetEnd::Disconnected);
    };
    if io.write_all(&copy_response(b'G')).await.is_err() {
        return (Vec::new(), TargetEnd::Disconnected);
    }
    let mut data = Vec::new();
    let mut errored = false;
    loop {
        match read_frontend(&mut io).await {
            None => {
                let end = if errored {
                    TargetEnd::Errored
                } else {
                    TargetEnd::Disconnected
                };
                return (data, end);
            }
            Some((b'd', body)) => {
                if errored {
                    continue;
                }
                data.extend_from_slice(&body);
                if fail_after_bytes.is_some_and(|n| data.len() >= n) {
                    errored = true;
                    let e = error_message(b'E', "ERROR", "23505", "duplicate key value");
                    let _ = io.write_all(&e).await;
                }
            }
            Some((b'c', _)) => {
                if errored {
                    let _ = io.write_all(&ready()).await;
                    return (data, TargetEnd::Errored);
                }
                let rows = data.iter().filter(|&&b| b == b'\n').count();
                let mut out = command_complete(&format!("COPY {rows}"));
                out.extend_from_slice(&ready());
                let _ = io.write_all(&out).await;
                return (data, TargetEnd::Done);
            }
            Some((b'f', body)) => {
                let mut out = error_message(b'E', "ERROR", "57014", "COPY from stdin failed");
                out.extend_from_slice(&ready());
                let _ = io.write_all(&out).await;
                let text = String::from_utf8_lossy(&body)
                    .trim_end_matches('\0')
                    .to_string();
                return (data, TargetEnd::Failed(text));
            }
            Some(_) => return (data, TargetEnd::Disconnected),
        }
    }
}

/// Text rows `"<i>\t<padding>\n"` of about `width` bytes.
pub fn text_rows(count: usize, width: usize) -> Vec<Bytes> {
    (0..count)
        .map(|i| {
            let mut row = format!("{i}\t");
            while row.len() + 1 < width {
                row.push((b'a' + (i % 26) as u8) as char);
            }
            row.push('\n');
            Bytes::from(row)
        })
        .collect()
}
