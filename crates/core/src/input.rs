//! Files the user names (`--role-passwords`, and the connection's `sslrootcert`, `sslcert`,
//! `sslkey` and `passfile`), read with a bound.
//!
//! Why a bound: a path is whatever the user typed, and `/dev/zero`, a FIFO whose writer never
//! stops or a log file given by mistake would otherwise be read into memory until the kernel's
//! OOM killer ends the run (21 GB in 35 s for `--role-passwords /dev/zero`). Pipes stay
//! allowed, since process substitution (`--role-passwords <(vault read ...)`) keeps secrets off
//! the disk; what they may not do is exceed the bound.

use std::fmt;
use std::io::Read;
use std::path::Path;

/// The most any input file may hold: far above a real password map or certificate bundle (the
/// system's CA bundle is about 200 kB), far below what hurts.
pub const MAX_INPUT_BYTES: u64 = 16 << 20;

/// Why an input file could not be read. Its `Display` never shows the file's contents.
#[derive(Debug)]
pub enum ReadError {
    Io(std::io::Error),
    /// The file is a directory.
    Directory,
    /// More than the bound: the wrong file, a device or an endless pipe.
    TooLarge(u64),
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Io(e) => write!(f, "{e}"),
            ReadError::Directory => write!(f, "it is a directory, not a file"),
            ReadError::TooLarge(limit) => write!(
                f,
                "it holds more than {} MiB, which no such file does (a device such as /dev/zero, \
                 an endless pipe, or the wrong file?)",
                limit >> 20
            ),
        }
    }
}

/// Reads the whole file at `path`, at most `limit` bytes of it.
pub fn read_bounded(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    let file = std::fs::File::open(path).map_err(ReadError::Io)?;
    if file.metadata().map_err(ReadError::Io)?.is_dir() {
        return Err(ReadError::Directory);
    }
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(ReadError::Io)?;
    if bytes.len() as u64 > limit {
        return Err(ReadError::TooLarge(limit));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_endless_device_is_refused_at_the_bound() {
        let e = read_bounded(Path::new("/dev/zero"), 1 << 20).unwrap_err();
        assert!(matches!(e, ReadError::TooLarge(_)), "{e}");
        assert!(e.to_string().contains("more than 1 MiB"), "{e}");
    }

    #[test]
    fn a_file_within_the_bound_is_read_whole_and_a_directory_is_named() {
        let dir = std::env::temp_dir().join(format!("db-migrate-input-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f");
        std::fs::write(&path, b"0123456789").unwrap();
        assert_eq!(read_bounded(&path, 10).unwrap(), b"0123456789");
        assert!(matches!(
            read_bounded(&path, 9),
            Err(ReadError::TooLarge(9))
        ));
        assert!(matches!(read_bounded(&dir, 10), Err(ReadError::Directory)));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
