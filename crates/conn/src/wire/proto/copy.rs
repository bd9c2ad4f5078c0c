//! The CopyData scanner behind COPY pass-through, without I/O: which leading bytes of a COPY-out
//! stream are whole or partial CopyData messages that may be forwarded as they are. Its own
//! file because it is the per-row hot path and carries its state across reads.

use super::{check_header, protocol};
use db_migrate_core::error::Result;

/// Scans a COPY-out stream for the CopyData messages that may be forwarded verbatim.
///
/// A backend CopyData message (`'d'`, length, data) and a frontend one are framed
/// identically, so a run of them can be written to a session in COPY IN mode as it was
/// read. The scanner carries its state across buffers: a message may be split anywhere
/// (only a header cut short is held back, so the bytes in hand stay bounded whatever the
/// row size).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CopyScan {
    /// Data bytes of the current CopyData message not seen yet.
    pending: usize,
    /// CopyData messages started so far (one per row, for COPY TO).
    pub messages: u64,
    /// Data bytes (headers excluded) seen so far.
    pub bytes: u64,
}

impl CopyScan {
    /// Scans `buf` from its start (the caller forwards and drops everything scanned before
    /// the next call). Returns how many leading bytes belong to CopyData messages, and
    /// whether another message (CopyDone, an error, a notice) starts right after them.
    pub fn scan(&mut self, buf: &[u8]) -> Result<(usize, bool)> {
        let mut pos = 0;
        loop {
            if self.pending > 0 {
                let take = self.pending.min(buf.len() - pos);
                pos += take;
                self.pending -= take;
                self.bytes += take as u64;
                if self.pending > 0 {
                    return Ok((pos, false));
                }
            }
            match check_header(&buf[pos..])? {
                None => return Ok((pos, false)),
                Some((b'd', len)) => {
                    self.messages += 1;
                    self.pending = len - 4;
                    pos += 5;
                }
                Some(_) => return Ok((pos, true)),
            }
        }
    }
}

/// The row count of a `COPY n` command tag.
pub fn copy_rows(tag: &str) -> Result<u64> {
    tag.strip_prefix("COPY ")
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| protocol(format!("unexpected command tag {tag:?} after COPY")))
}

#[cfg(test)]
mod tests {
    use super::super::tests::msg;
    use super::*;

    /// Scans `stream` delivered in pieces of `piece` bytes, forwarding (collecting) what the
    /// scanner releases, as `pass_through` does. Returns (forwarded bytes, whether a non-data
    /// message was reached, messages, data bytes).
    fn scan_in_pieces(stream: &[u8], piece: usize) -> (Vec<u8>, bool, u64, u64) {
        let mut scan = CopyScan::default();
        let mut buf: Vec<u8> = Vec::new();
        let mut forwarded = Vec::new();
        for chunk in stream.chunks(piece) {
            buf.extend_from_slice(chunk);
            let (n, end) = scan.scan(&buf).unwrap();
            forwarded.extend(buf.drain(..n));
            if end {
                return (forwarded, true, scan.messages, scan.bytes);
            }
        }
        (forwarded, false, scan.messages, scan.bytes)
    }

    #[test]
    fn copy_scan_releases_copydata_frames_whole_or_in_pieces_and_stops_at_copydone() {
        let rows: Vec<Vec<u8>> = vec![
            b"1\ta\n".to_vec(),
            vec![b'x'; 3000],
            Vec::new(),
            b"2\n".to_vec(),
        ];
        let mut data_frames = Vec::new();
        for r in &rows {
            data_frames.extend(msg(b'd', r));
        }
        let mut stream = data_frames.clone();
        stream.extend(msg(b'c', b""));
        stream.extend(msg(b'C', b"COPY 4\0"));
        let total: u64 = rows.iter().map(|r| r.len() as u64).sum();
        for piece in [1, 2, 4, 5, 6, 7, 100, 3004, 100_000] {
            let (fwd, end, messages, bytes) = scan_in_pieces(&stream, piece);
            assert!(end, "piece {piece}: CopyDone reached");
            assert_eq!(
                fwd, data_frames,
                "piece {piece}: exactly the CopyData frames"
            );
            assert_eq!((messages, bytes), (4, total), "piece {piece}");
        }
    }

    #[test]
    fn copy_scan_holds_back_only_a_cut_header() {
        let mut scan = CopyScan::default();
        let frame = msg(b'd', b"abc");
        assert_eq!(
            scan.scan(&frame[..3]).unwrap(),
            (0, false),
            "3 header bytes: wait"
        );
        assert_eq!(
            scan.scan(&frame[..6]).unwrap(),
            (6, false),
            "header and 1 data byte go"
        );
        assert_eq!(scan.scan(&frame[6..]).unwrap(), (2, false));
        assert_eq!((scan.messages, scan.bytes), (1, 3));
    }

    #[test]
    fn copy_scan_rejects_impossible_lengths() {
        let mut scan = CopyScan::default();
        assert!(scan.scan(&[b'd', 0, 0, 0, 3]).is_err(), "length below 4");
        assert!(
            scan.scan(&[b'd', 0x7f, 0xff, 0xff, 0xff]).is_err(),
            "above 1 GiB"
        );
        assert_eq!(copy_rows("COPY 12").unwrap(), 12);
        assert!(copy_rows("INSERT 0 1").is_err());
    }
}
