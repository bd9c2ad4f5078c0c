//! Where the command line writes its results (`--json`, `--print-ddl`), opened before any work.
//!
//! Why up front: a migration can run for hours, and a `--json` path in a missing directory
//! found only at the end loses the one record of what was done. Why not `std::io::stdout()`:
//! Rust's standard output silently discards writes when file descriptor 1 is closed
//! (`pg_migrate --json - >&-` would exit 0 having written nothing); a duplicate of the
//! descriptor reports that, and a closed pipe, as errors.

use std::fs::File;
use std::io::{Seek, Write};

use crate::error::{Error, ErrorKind, Result};

/// An output opened and checked: standard output, or a file.
#[derive(Debug)]
pub struct Output {
    flag: &'static str,
    dest: String,
    file: File,
}

impl Output {
    /// Opens `dest` for `flag` (`"-"`: standard output). A file is created if missing but not
    /// truncated until [`Output::write`], so an existing file keeps its contents if the run
    /// never gets that far.
    pub fn open(flag: &'static str, dest: &str) -> Result<Output> {
        let io_error = |what: String| Error::new(ErrorKind::Io, what);
        let file = if dest == "-" {
            use std::os::fd::AsFd;
            let stdout = std::io::stdout();
            let fd = stdout.as_fd().try_clone_to_owned().map_err(|e| {
                io_error(format!(
                    "{flag} -: standard output is not open for writing ({e})"
                ))
            })?;
            let file = File::from(fd);
            if was_closed(&file) {
                return Err(io_error(format!(
                    "{flag} -: standard output is closed; redirect it to a file or give {flag} FILE"
                )));
            }
            file
        } else {
            std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .open(dest)
                .map_err(|e| {
                    io_error(format!(
                        "cannot write {flag} file \"{}\": {e}",
                        dest.escape_debug()
                    ))
                })?
        };
        Ok(Output {
            flag,
            dest: dest.to_owned(),
            file,
        })
    }

    /// Refuses an output that is one of the run's input files (`inputs`: the flag or key that
    /// names it, and the path), or the same file as another output: `--json` pointed at the
    /// `--role-passwords` file would replace the passwords with the report. Compared by device
    /// and inode, so another spelling of the same path (a symlink, `./`) is caught too.
    pub fn check_not_input(&self, inputs: &[(&str, &std::path::Path)]) -> Result<()> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            if self.is_stdout() {
                return Ok(());
            }
            let Ok(me) = self.file.metadata() else {
                return Ok(());
            };
            for (what, path) in inputs {
                if let Ok(m) = std::fs::metadata(path)
                    && m.dev() == me.dev()
                    && m.ino() == me.ino()
                {
                    return Err(Error::new(
                        ErrorKind::Config,
                        format!(
                            "{} file \"{}\" is the {what} file \"{}\": the output would overwrite \
                             it; write {} elsewhere",
                            self.flag,
                            self.dest.escape_debug(),
                            path.display(),
                            self.flag
                        ),
                    ));
                }
            }
        }
        #[cfg(not(unix))]
        let _ = inputs;
        Ok(())
    }

    pub fn is_stdout(&self) -> bool {
        self.dest == "-"
    }

    /// Writes `bytes` as the whole output (a file is truncated first) and flushes it.
    pub fn write(mut self, bytes: &[u8]) -> Result<()> {
        let result = (|| {
            if !self.is_stdout() {
                self.file.set_len(0)?;
                self.file.rewind()?;
            }
            self.file.write_all(bytes)?;
            self.file.flush()?;
            if !self.is_stdout() {
                self.file.sync_all()?;
            }
            Ok::<_, std::io::Error>(())
        })();
        result.map_err(|e| {
            let what = if self.is_stdout() {
                format!("{} -: cannot write to standard output: {e}", self.flag)
            } else {
                format!(
                    "cannot write {} file \"{}\": {e}",
                    self.flag,
                    self.dest.escape_debug()
                )
            };
            Error::new(ErrorKind::Io, what)
        })
    }
}

/// True when standard output was closed when the process started: Rust's runtime then puts
/// `/dev/null`, opened read-write, on descriptor 1 (a shell's `> /dev/null` opens it write-only,
/// which stays allowed).
fn was_closed(stdout: &File) -> bool {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::{FileTypeExt, MetadataExt};
        let is_dev_null = stdout.metadata().is_ok_and(|m| {
            m.file_type().is_char_device()
                && std::fs::metadata("/dev/null").is_ok_and(|null| null.rdev() == m.rdev())
        });
        let read_write = std::fs::read_to_string("/proc/self/fdinfo/1").is_ok_and(|info| {
            info.lines()
                .find_map(|l| l.strip_prefix("flags:"))
                .and_then(|f| u32::from_str_radix(f.trim(), 8).ok())
                .is_some_and(|flags| flags & 0o3 == 0o2)
        });
        is_dev_null && read_write
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = stdout;
        false
    }
}

/// Refuses combinations of outputs that would lose one of them: both to standard output, or
/// both to the same file; and `--json` with `--print-ddl`, which writes SQL and produces no
/// result to record.
pub fn check_combination(json: Option<&str>, print_ddl: Option<&str>) -> Result<()> {
    match (json, print_ddl) {
        (Some("-"), Some("-")) => Err(Error::config(
            "--json - and --print-ddl - both want standard output: write one of them to a file",
        )),
        (Some(_), Some(_)) => Err(Error::config(
            "--print-ddl only writes SQL and migrates nothing, so --json would have no result \
             to write: drop --json, or run without --print-ddl",
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_in_a_missing_directory_is_refused_naming_the_flag() {
        let e = Output::open("--json", "/nonexistent/dir/x.json")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("--json") && e.contains("/nonexistent/dir/x.json"),
            "{e}"
        );
    }

    #[test]
    fn an_existing_file_is_replaced_only_when_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.json");
        std::fs::write(&path, "old contents that are longer").unwrap();
        let out = Output::open("--json", path.to_str().unwrap()).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "old contents that are longer"
        );
        out.write(b"new\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new\n");
    }

    #[test]
    fn outputs_that_would_lose_each_other_are_refused() {
        assert!(check_combination(Some("-"), Some("-")).is_err());
        assert!(check_combination(Some("a.json"), Some("b.sql")).is_err());
        assert!(check_combination(Some("-"), None).is_ok());
        assert!(check_combination(None, Some("-")).is_ok());
    }
}
