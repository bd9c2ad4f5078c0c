//! COPY on our own sessions, and COPY pass-through between two of them: the source's CopyData
//! messages are written to the target as they were read (see the module docs of
//! [`super`]). Its own file because it is the hot path of the data copy and has its own
//! buffering and error-side rules.

use bytes::BytesMut;
use postgres_protocol::message::frontend;
use tokio::io::AsyncReadExt;

use super::proto;
use super::session::{WireSession, read_result, write_all};
use db_migrate_core::error::{Error, Result, Side};

impl WireSession {
    /// Sends a COPY statement and waits for the server to enter COPY mode (CopyInResponse when
    /// `copy_in`, else CopyOutResponse). A server error (after which the server sends
    /// ReadyForQuery) is returned with its SQLSTATE and leaves the session usable.
    async fn start_copy(&mut self, sql: &str, copy_in: bool) -> Result<()> {
        use postgres_protocol::message::backend::Message;
        if self.broken {
            return Err(self.unusable());
        }
        let out = proto::encode("the COPY statement", |b| frontend::query(sql, b))?;
        let r = async {
            write_all(self.io.as_mut(), &out, &self.info, self.mode).await?;
            let mut error = None;
            loop {
                match self.read_message().await? {
                    Message::CopyInResponse(_) if copy_in && error.is_none() => return Ok(()),
                    Message::CopyOutResponse(_) if !copy_in && error.is_none() => return Ok(()),
                    Message::ErrorResponse(body) => {
                        error.get_or_insert(
                            proto::ServerMessage::parse(body.fields())?.into_error(),
                        );
                    }
                    Message::ReadyForQuery(_) => {
                        return Err(error.unwrap_or_else(|| {
                            Error::protocol("the server did not start the COPY")
                        }));
                    }
                    Message::NoticeResponse(_)
                    | Message::ParameterStatus(_)
                    | Message::NotificationResponse(_)
                    | Message::CommandComplete(_)
                    | Message::EmptyQueryResponse => {}
                    _ => return Err(Error::protocol("unexpected message before COPY started")),
                }
            }
        }
        .await;
        self.settle(r)
    }

    /// Reads the rest of a statement up to ReadyForQuery (a COPY's CopyDone included) and
    /// returns its last command tag, or its server error.
    async fn finish_statement(&mut self) -> Result<Option<String>> {
        use postgres_protocol::message::backend::Message;
        let r = async {
            let mut collector = proto::QueryCollector::new();
            loop {
                match self.read_message().await? {
                    Message::CopyDone => {}
                    msg => {
                        if collector.handle(msg)? == proto::Progress::Done {
                            return collector.finish().map(|r| r.command_tag);
                        }
                    }
                }
            }
        }
        .await;
        self.settle(r)
    }

    /// Sends `message` (CopyDone or CopyFail) to end a COPY IN and reads the statement's end.
    async fn end_copy_in(&mut self, message: &[u8]) -> Result<Option<String>> {
        let r = write_all(self.io.as_mut(), message, &self.info, self.mode).await;
        self.settle(r)?;
        self.finish_statement().await
    }
}

/// What [`pass_through`] moved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CopyStats {
    /// Rows the target's COPY reported.
    pub rows: u64,
    /// COPY data bytes (message headers excluded).
    pub bytes: u64,
    /// CopyData messages read from the source (one per row, plus the trailer in binary format).
    pub messages: u64,
}

/// Read-buffer size of [`pass_through`]: each read takes what the socket holds, up to this.
pub const PASS_BUFFER: usize = 256 * 1024;

/// The buffered bytes worth a write when the source has nothing more ready at once.
const MIN_WRITE: usize = 64 * 1024;

/// Streams `COPY ... TO STDOUT` (`out_sql`) on `src` into `COPY ... FROM STDIN` (`in_sql`) on
/// `tgt` (after `in_prelude`, e.g. `BEGIN; TRUNCATE ...`, run while the source starts), writing the source's CopyData messages to the target as they were read (see the
/// module docs). Memory is one buffer of [`PASS_BUFFER`] bytes whatever the row sizes: a message
/// larger than the buffer is forwarded in pieces.
///
/// `progress(bytes, messages)` is called after every write. Errors carry the side that failed
/// ([`Side`]). When one side fails after both COPYs started, the other session is abandoned
/// (marked unusable: the caller closes it, which ends its statement and transaction); a target
/// error seen while the source streams stops the copy at once. Nothing is committed on the
/// target unless the source's COPY ended without error.
pub async fn pass_through(
    src: &mut WireSession,
    out_sql: &str,
    tgt: &mut WireSession,
    in_sql: &str,
    in_prelude: Option<&str>,
    progress: impl FnMut(u64, u64),
) -> Result<CopyStats> {
    // Until the inner future has returned, both sessions are mid-protocol: if it is dropped
    // half-way (a cancelled task), they stay marked busy and are closed, never reused.
    src.busy = true;
    tgt.busy = true;
    let r = pass_through_inner(src, out_sql, tgt, in_sql, in_prelude, progress).await;
    src.busy = false;
    tgt.busy = false;
    if r.is_err() && in_prelude.is_some() {
        // The prelude may have left a transaction open on the target: closing the session is
        // the sure way to end it.
        tgt.broken = true;
    }
    r
}

async fn pass_through_inner(
    src: &mut WireSession,
    out_sql: &str,
    tgt: &mut WireSession,
    in_sql: &str,
    in_prelude: Option<&str>,
    mut progress: impl FnMut(u64, u64),
) -> Result<CopyStats> {
    let target_start = async {
        if let Some(sql) = in_prelude {
            tgt.simple_query(sql).await?;
        }
        tgt.start_copy(in_sql, true).await
    };
    let (a, b) = tokio::join!(src.start_copy(out_sql, false), target_start);
    match (a, b) {
        (Ok(()), Ok(())) => {}
        (Err(e), Ok(())) => {
            // The target waits for data: fail its COPY (nothing was written).
            let fail = proto::encode("CopyFail", |b| {
                frontend::copy_fail("the source COPY failed", b)
            })?;
            // Its answer is the expected 57014 error, or a broken session: either way the
            // source's error is the one to report.
            let _ = tgt.end_copy_in(&fail).await;
            return Err(e.with_side(Side::Source));
        }
        (Ok(()), Err(e)) => {
            src.broken = true;
            return Err(e.with_side(Side::Target));
        }
        (Err(e), Err(_)) => return Err(e.with_side(Side::Source)),
    }
    let mut scan = proto::CopyScan::default();
    if let Err(e) = stream(src, tgt, &mut scan, &mut progress).await {
        match e.side() {
            Some(Side::Target) => src.broken = true,
            _ => tgt.broken = true,
        }
        return Err(e);
    }
    // The source's CopyDone, CommandComplete and ReadyForQuery, or its error.
    if let Err(e) = src.finish_statement().await {
        // Abandon the target's COPY: closing its session rolls it back.
        tgt.broken = true;
        return Err(e.with_side(Side::Source));
    }
    let done = proto::encode("CopyDone", |b| {
        frontend::copy_done(b);
        Ok(())
    })?;
    let tag = tgt
        .end_copy_in(&done)
        .await
        .map_err(|e| e.with_side(Side::Target))?;
    let rows = match tag {
        Some(t) => proto::copy_rows(&t).map_err(|e| e.with_side(Side::Target))?,
        None => {
            return Err(Error::protocol("the target sent no COPY result").with_side(Side::Target));
        }
    };
    Ok(CopyStats {
        rows,
        bytes: scan.bytes,
        messages: scan.messages,
    })
}

/// The streaming part of [`pass_through`]: returns when the source's next message is not
/// CopyData (left at the front of its buffer).
async fn stream(
    src: &mut WireSession,
    tgt: &mut WireSession,
    scan: &mut proto::CopyScan,
    progress: &mut impl FnMut(u64, u64),
) -> Result<()> {
    use futures::FutureExt;
    use postgres_protocol::message::backend::Message;
    let src_err = |e: Error| e.with_side(Side::Source);
    let buf = &mut src.buf;
    // Scanned CopyData bytes at the front of `buf`, not written yet.
    let mut ready = 0;
    loop {
        let (n, end) = scan.scan(&buf[ready..]).map_err(src_err)?;
        ready += n;
        if ready > 0 && (end || ready >= MIN_WRITE) {
            forward(tgt, buf, ready, scan, progress).await?;
            ready = 0;
        }
        if end {
            // A notice, a parameter change or a notification goes by; any other message
            // (CopyDone, ErrorResponse) ends the data.
            let tag = buf.first().copied();
            if !matches!(tag, Some(b'N' | b'S' | b'A')) {
                return Ok(());
            }
            match proto::next_message(buf).map_err(src_err)? {
                Some(Message::NoticeResponse(body)) => {
                    if let Ok(n) = proto::ServerMessage::parse(body.fields()) {
                        tracing::debug!("source notice during COPY: {}", n.message);
                    }
                    continue;
                }
                Some(_) => continue,
                // Not all there yet: read on.
                None => {}
            }
        }
        if ready >= MIN_WRITE {
            continue;
        }
        if buf.capacity() - buf.len() < 16 * 1024 {
            buf.reserve(PASS_BUFFER);
        }
        // Take what the source has at once.
        if let Some(r) = src.io.read_buf(buf).now_or_never() {
            read_result(&src.info, src.mode, r).map_err(src_err)?;
            continue;
        }
        // The source has nothing ready: write what there is, then wait for the source while
        // watching the target, which speaks during COPY IN only to report an error.
        if ready > 0 {
            forward(tgt, buf, ready, scan, progress).await?;
            ready = 0;
        }
        tokio::select! {
            r = src.io.read_buf(buf) => read_result(&src.info, src.mode, r).map_err(src_err)?,
            r = tgt.io.read_buf(&mut tgt.buf) => target_spoke(tgt, r)?,
        }
    }
}

/// Handles what a target in COPY IN mode sent (the result of a read into its buffer): it speaks
/// only to report an error (or a notice). The error is returned; the server then waits for
/// CopyDone or CopyFail, and the session is abandoned instead.
fn target_spoke(tgt: &mut WireSession, read: std::io::Result<usize>) -> Result<()> {
    use postgres_protocol::message::backend::Message;
    let tgt_err = |e: Error| e.with_side(Side::Target);
    read_result(&tgt.info, tgt.mode, read).map_err(tgt_err)?;
    while let Some(m) = proto::next_message(&mut tgt.buf).map_err(tgt_err)? {
        if let Message::ErrorResponse(body) = m {
            return Err(tgt_err(
                proto::ServerMessage::parse(body.fields())?.into_error(),
            ));
        }
    }
    Ok(())
}

/// Writes `n` scanned bytes from the front of `buf` to the target and drops them, then looks
/// (without waiting) whether the target reported an error meanwhile.
async fn forward(
    tgt: &mut WireSession,
    buf: &mut BytesMut,
    n: usize,
    scan: &proto::CopyScan,
    progress: &mut impl FnMut(u64, u64),
) -> Result<()> {
    use bytes::Buf;
    use futures::FutureExt;
    write_all(tgt.io.as_mut(), &buf[..n], &tgt.info, tgt.mode)
        .await
        .map_err(|e| e.with_side(Side::Target))?;
    buf.advance(n);
    progress(scan.bytes, scan.messages);
    if let Some(r) = tgt.io.read_buf(&mut tgt.buf).now_or_never() {
        target_spoke(tgt, r)?;
    }
    Ok(())
}
