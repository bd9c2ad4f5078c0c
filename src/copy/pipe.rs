//! The byte pipe between a `COPY ... TO STDOUT` stream and a `COPY ... FROM STDIN` sink.
//!
//! Nothing here parses rows: COPY data is opaque bytes on both ends, and any split of it into
//! CopyData messages is valid for the receiving server (text and binary alike). The server sends
//! one CopyData message per row, so small rows arrive as a flood of tiny messages; [`Coalesce`]
//! glues them into chunks of about [`CHUNK_SIZE`] bytes so that the sink sees few, large
//! messages (fewer wake-ups, fewer channel hand-offs, fewer frontend headers). A message that is
//! already as large as a chunk is passed on without copying.
//!
//! Memory stays bounded whatever the table size: [`pump`] holds at most one partial chunk, and it
//! waits for the sink to accept a chunk before it reads on. With tokio-postgres' `CopyInSink`,
//! "accepted" means queued in a channel of capacity one (plus one slot per sender) in front of the
//! connection task, whose write buffer flushes at 128 KiB; the source connection stops reading its
//! socket when our side does not take messages. So a worker keeps roughly four chunks (about
//! 1 MiB) in flight, and reading the source overlaps writing the target because the two
//! connection tasks run independently of the pump.
//!
//! Everything is generic over `Stream` / `Sink` so that the benchmark can drive it with
//! in-memory ends.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use futures::{Sink, SinkExt, Stream, StreamExt};

/// Target size of the chunks handed to the sink: 256 KiB.
pub const CHUNK_SIZE: usize = 256 * 1024;

/// When the source has nothing ready, a partial chunk of at least this many bytes is handed on
/// rather than held back, so a slow source does not leave the sink idle.
pub const MIN_FLUSH: usize = 64 * 1024;

/// Stream adapter: coalesces the `Bytes` items of `inner` into chunks of about `target` bytes.
///
/// Items of `target` bytes or more are passed through unchanged (no copy) when no partial chunk
/// is pending. A partial chunk is emitted when it reaches `target`, when the inner stream ends,
/// and when the inner stream is not ready and the chunk holds at least `min_flush` bytes. An
/// inner error is returned after the pending chunk has been discarded (a failed COPY is
/// abandoned, not completed).
pub struct Coalesce<S> {
    inner: S,
    buf: BytesMut,
    target: usize,
    min_flush: usize,
    /// An item that did not fit the pending chunk, emitted after it.
    held: Option<Bytes>,
    /// Items (CopyData messages) taken from `inner` so far.
    messages: u64,
    done: bool,
}

impl<S> Coalesce<S> {
    pub fn new(inner: S) -> Self {
        Self::with_sizes(inner, CHUNK_SIZE, MIN_FLUSH)
    }

    pub fn with_sizes(inner: S, target: usize, min_flush: usize) -> Self {
        let target = target.max(1);
        Coalesce {
            inner,
            buf: BytesMut::new(),
            target,
            min_flush: min_flush.min(target),
            held: None,
            messages: 0,
            done: false,
        }
    }

    /// How many items the inner stream has produced so far (for COPY TO: one per row, plus the
    /// trailer in binary format).
    pub fn messages(&self) -> u64 {
        self.messages
    }

    fn take_buf(&mut self) -> Bytes {
        std::mem::take(&mut self.buf).freeze()
    }
}

impl<S, E> Stream for Coalesce<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
{
    type Item = Result<Bytes, E>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if let Some(item) = this.held.take() {
            if item.len() >= this.target {
                return Poll::Ready(Some(Ok(item)));
            }
            this.buf.reserve(this.target);
            this.buf.extend_from_slice(&item);
        }
        if this.done {
            return Poll::Ready(None);
        }
        loop {
            match this.inner.poll_next_unpin(cx) {
                Poll::Ready(Some(Ok(item))) => {
                    this.messages += 1;
                    if item.len() >= this.target {
                        if this.buf.is_empty() {
                            return Poll::Ready(Some(Ok(item)));
                        }
                        this.held = Some(item);
                        return Poll::Ready(Some(Ok(this.take_buf())));
                    }
                    if this.buf.len() + item.len() > this.target && !this.buf.is_empty() {
                        let out = this.take_buf();
                        this.buf.reserve(this.target);
                        this.buf.extend_from_slice(&item);
                        return Poll::Ready(Some(Ok(out)));
                    }
                    if this.buf.capacity() == 0 {
                        this.buf.reserve(this.target);
                    }
                    this.buf.extend_from_slice(&item);
                    if this.buf.len() >= this.target {
                        return Poll::Ready(Some(Ok(this.take_buf())));
                    }
                }
                Poll::Ready(Some(Err(e))) => {
                    this.done = true;
                    this.buf = BytesMut::new();
                    return Poll::Ready(Some(Err(e)));
                }
                Poll::Ready(None) => {
                    this.done = true;
                    if this.buf.is_empty() {
                        return Poll::Ready(None);
                    }
                    return Poll::Ready(Some(Ok(this.take_buf())));
                }
                Poll::Pending => {
                    if this.buf.len() >= this.min_flush {
                        return Poll::Ready(Some(Ok(this.take_buf())));
                    }
                    return Poll::Pending;
                }
            }
        }
    }
}

/// Which end of a [`pump`] failed.
#[derive(Debug)]
pub enum PumpError<E1, E2> {
    /// Reading the source stream failed.
    Source(E1),
    /// Handing data to the sink failed.
    Sink(E2),
}

/// What a [`pump`] moved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PumpStats {
    /// Bytes of COPY data moved.
    pub bytes: u64,
    /// Items read from the source (CopyData messages: rows for COPY TO).
    pub messages: u64,
    /// Chunks handed to the sink.
    pub chunks: u64,
}

/// Moves every byte of `source` into `sink` in chunks of about [`CHUNK_SIZE`], calling
/// `on_chunk(bytes, messages)` after each chunk the sink accepted (for progress). Does not close
/// the sink: the caller finishes it (for a COPY, `finish()` returns the row count).
pub async fn pump<S, K, E1, E2>(
    source: S,
    sink: &mut K,
    mut on_chunk: impl FnMut(u64, u64),
) -> Result<PumpStats, PumpError<E1, E2>>
where
    S: Stream<Item = Result<Bytes, E1>> + Unpin,
    K: Sink<Bytes, Error = E2> + Unpin,
{
    pump_with(Coalesce::new(source), sink, &mut on_chunk).await
}

/// [`pump`] with explicit chunk sizes (benchmarks and tests).
pub async fn pump_sized<S, K, E1, E2>(
    source: S,
    sink: &mut K,
    target: usize,
    min_flush: usize,
    mut on_chunk: impl FnMut(u64, u64),
) -> Result<PumpStats, PumpError<E1, E2>>
where
    S: Stream<Item = Result<Bytes, E1>> + Unpin,
    K: Sink<Bytes, Error = E2> + Unpin,
{
    pump_with(
        Coalesce::with_sizes(source, target, min_flush),
        sink,
        &mut on_chunk,
    )
    .await
}

async fn pump_with<S, K, E1, E2, F>(
    mut chunks: Coalesce<S>,
    sink: &mut K,
    on_chunk: &mut F,
) -> Result<PumpStats, PumpError<E1, E2>>
where
    F: FnMut(u64, u64),
    S: Stream<Item = Result<Bytes, E1>> + Unpin,
    K: Sink<Bytes, Error = E2> + Unpin,
{
    let mut stats = PumpStats::default();
    let mut seen = 0u64;
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(PumpError::Source)?;
        let len = chunk.len() as u64;
        // `send` = ready + start_send + flush; for CopyInSink, flush returns once the chunk is
        // queued for the connection task, which bounds the bytes in flight.
        sink.send(chunk).await.map_err(PumpError::Sink)?;
        stats.bytes += len;
        stats.chunks += 1;
        let messages = chunks.messages();
        on_chunk(len, messages - seen);
        seen = messages;
    }
    stats.messages = chunks.messages();
    if stats.messages > seen {
        on_chunk(0, stats.messages - seen);
    }
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::stream;

    fn rows(n: usize, len: usize) -> Vec<Result<Bytes, ()>> {
        (0..n)
            .map(|i| Ok(Bytes::from(vec![(i % 251) as u8; len])))
            .collect()
    }

    fn run<T: std::future::Future>(f: T) -> T::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn coalesces_small_items_into_chunks_and_keeps_every_byte() {
        let input = rows(10_000, 100);
        let expected: Vec<u8> = input
            .iter()
            .flat_map(|r| r.as_ref().unwrap().to_vec())
            .collect();
        let collected = std::sync::Arc::new(std::sync::Mutex::new(Vec::<Bytes>::new()));
        let c2 = collected.clone();
        let mut sink = Box::pin(futures::sink::unfold((), move |_, b: Bytes| {
            let c2 = c2.clone();
            async move {
                c2.lock().unwrap().push(b);
                Ok::<_, ()>(())
            }
        }));
        let stats = run(pump_sized(
            stream::iter(input),
            &mut sink,
            4096,
            1024,
            |_, _| {},
        ))
        .unwrap();
        let out = collected.lock().unwrap().clone();
        assert_eq!(stats.bytes, 1_000_000);
        assert_eq!(stats.messages, 10_000);
        // Every chunk but the last is between target - item and target bytes.
        for c in &out[..out.len() - 1] {
            assert!(
                c.len() <= 4096 && c.len() > 4096 - 100,
                "chunk of {}",
                c.len()
            );
        }
        let joined: Vec<u8> = out.iter().flat_map(|b| b.to_vec()).collect();
        assert_eq!(joined, expected);
    }

    #[test]
    fn large_items_pass_through_without_copy() {
        let big = Bytes::from(vec![7u8; 10_000]);
        let ptr = big.as_ptr();
        let input: Vec<Result<Bytes, ()>> = vec![
            Ok(Bytes::from_static(b"ab")),
            Ok(big),
            Ok(Bytes::from_static(b"c")),
        ];
        let out: Vec<Bytes> = run(Coalesce::with_sizes(stream::iter(input), 4096, 1024)
            .map(|r| r.unwrap())
            .collect());
        assert_eq!(out.len(), 3);
        assert_eq!(&out[0][..], b"ab");
        assert_eq!(out[1].as_ptr(), ptr);
        assert_eq!(&out[2][..], b"c");
    }

    #[test]
    fn source_error_is_reported_as_source() {
        let input: Vec<Result<Bytes, &str>> = vec![Ok(Bytes::from_static(b"x")), Err("boom")];
        let mut sink = futures::sink::drain().sink_map_err(|_| "never");
        let r = run(pump(stream::iter(input), &mut sink, |_, _| {}));
        assert!(matches!(r, Err(PumpError::Source("boom"))));
    }

    #[test]
    fn sink_error_is_reported_as_sink() {
        let input = rows(10, 10);
        let mut sink = Box::pin(futures::sink::unfold((), |_, _b: Bytes| async {
            Err::<(), _>("full")
        }));
        let r = run(pump(stream::iter(input), &mut sink, |_, _| {}));
        assert!(matches!(r, Err(PumpError::Sink("full"))));
    }

    #[test]
    fn empty_source_sends_nothing() {
        let mut n = 0;
        let mut sink = futures::sink::drain();
        let stats = run(pump(
            stream::iter(Vec::<Result<Bytes, ()>>::new()),
            &mut sink,
            |_, _| n += 1,
        ))
        .unwrap();
        assert_eq!(stats, PumpStats::default());
        assert_eq!(n, 0);
    }
}
