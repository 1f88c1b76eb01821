//! Reading the files a user hands over without trusting them: only regular files, only up to a
//! size that fits what they should hold, so that `/dev/zero`, a FIFO or a huge file gets an
//! error naming it instead of exhausting memory or hanging.

use std::io::Read;
use std::path::Path;

use crate::Error;

/// The largest configuration, experiment or results file read (TOML or JSON written by people or
/// by descent; a comparison's `results.json` of thousands of runs stays far below it).
pub const TEXT_LIMIT: u64 = 64 << 20;

/// The text of `path` if it is a regular file of at most `limit` bytes. `data` chooses whether a
/// failure is reported as bad data (a user's input) or as a run folder that cannot be used.
pub fn read_text(path: &Path, limit: u64, data: bool) -> Result<String, Error> {
    let error = |message: String| if data { Error::data(path, message) } else { Error::run(path, message) };
    let metadata = std::fs::metadata(path).map_err(|e| error(format!("cannot read: {e}")))?;
    if !metadata.is_file() {
        return Err(error("is not a regular file".into()));
    }
    if metadata.len() > limit {
        return Err(error(format!("is {} bytes, more than the {limit} such a file may hold", metadata.len())));
    }
    let mut text = String::new();
    std::fs::File::open(path)
        .and_then(|file| file.take(limit + 1).read_to_string(&mut text))
        .map_err(|e| error(format!("cannot read: {e}")))?;
    if text.len() as u64 > limit {
        return Err(error(format!("grew past the {limit} bytes such a file may hold while it was read")));
    }
    Ok(text)
}

/// Writes `bytes` to `path` through a temporary file beside it, flushed, then renamed over
/// `path`: a crash never leaves a torn file, and a symbolic link at `path` is replaced, never
/// followed. The temporary name is unique to this process and write, and created only if nothing
/// is there (so it follows no link either); it is removed if the write fails.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    use std::io::Write;
    use std::sync::atomic::{AtomicU64, Ordering};
    static WRITES: AtomicU64 = AtomicU64::new(0);
    let name = path.file_name().map_or("file".into(), |n| n.to_string_lossy().into_owned());
    let unique = format!(".{name}.{}.{}.tmp", std::process::id(), WRITES.fetch_add(1, Ordering::Relaxed));
    let temporary = path.with_file_name(unique);
    let result = (|| {
        let mut file = std::fs::OpenOptions::new().write(true).create_new(true).open(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&temporary);
        Error::run(path, format!("cannot write: {e}"))
    })
}

/// The lock file of a run or report folder (see [`FolderLock`]); not one of the user's files.
pub const LOCK_FILE: &str = ".descent.lock";

/// An advisory lock on a run or report folder, held while the value lives: a second process
/// that tries to write into the same folder gets an error naming the first, instead of two
/// writers interleaving checkpoints. The lock is the operating system's (`flock`), so it is
/// released when the process ends, however it ends; the file stays and is reused.
#[derive(Debug)]
pub struct FolderLock {
    _file: std::fs::File,
}

impl FolderLock {
    /// Locks `dir` (which must exist), or says which process holds it.
    pub fn acquire(dir: &Path) -> Result<Self, Error> {
        use std::io::Write;
        let path = dir.join(LOCK_FILE);
        if std::fs::symlink_metadata(&path).is_ok_and(|m| !m.is_file()) {
            return Err(Error::run(&path, "is not a regular file (descent's lock file is)"));
        }
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| Error::run(&path, format!("cannot open: {e}")))?;
        match file.try_lock() {
            Ok(()) => {
                // Best effort: the process id helps a person find the other writer.
                let _ = file.set_len(0).and_then(|()| write!(file, "{}", std::process::id()));
                Ok(FolderLock { _file: file })
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                let holder = std::fs::read_to_string(&path).unwrap_or_default();
                let holder = if holder.trim().is_empty() {
                    "another process".to_string()
                } else {
                    format!("process {}", holder.trim())
                };
                Err(Error::run(dir, format!("in use by {holder}; wait for it to finish or stop it")))
            }
            Err(std::fs::TryLockError::Error(e)) => Err(Error::run(&path, format!("cannot lock: {e}"))),
        }
    }
}

/// Whether `dir` may receive a new run or report: it does not exist yet, or it is an empty
/// folder. Anything else holds someone's files (a run of descent's is recognised, and refused or
/// continued, by the caller before this).
pub fn is_free_folder(dir: &Path) -> bool {
    match std::fs::symlink_metadata(dir) {
        Err(e) => e.kind() == std::io::ErrorKind::NotFound,
        Ok(metadata) => {
            metadata.is_dir()
                && std::fs::read_dir(dir)
                    .is_ok_and(|entries| entries.flatten().all(|entry| entry.file_name() == LOCK_FILE))
        }
    }
}

/// Bytes of memory the machine can give now (Linux's `MemAvailable`), if known.
pub fn available_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|line| line.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Refuses `bytes` (None when counting them overflowed) that the machine does not have, naming
/// `field` and what needs them.
pub fn check_memory(bytes: Option<u64>, field: &'static str, what: &str) -> Result<(), Error> {
    let gib = |b: u64| b as f64 / (1u64 << 30) as f64;
    match (bytes, available_memory()) {
        (None, _) => {
            Err(Error::Invalid { field, message: "asks for more memory than can be counted", value: what.to_string() })
        }
        (Some(bytes), Some(available)) if bytes > available => Err(Error::Invalid {
            field,
            message: "is too large for the memory this machine has available",
            value: format!("{what}: {:.1} GiB needed, {:.1} GiB available", gib(bytes), gib(available)),
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_small_regular_files_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.toml");
        std::fs::write(&file, "x = 1\n").unwrap();
        assert_eq!(read_text(&file, 100, true).unwrap(), "x = 1\n");
        let message = read_text(&file, 3, true).unwrap_err().to_string();
        assert!(message.contains("a.toml: is 6 bytes, more than the 3"), "{message}");
        let message = read_text(dir.path(), 100, true).unwrap_err().to_string();
        assert!(message.contains("is not a regular file"), "{message}");
        let message = read_text(Path::new("/dev/zero"), 100, true).unwrap_err().to_string();
        assert!(message.contains("/dev/zero: is not a regular file"), "{message}");
    }

    #[test]
    fn atomic_writes_replace_a_link_instead_of_writing_through_it() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("user.txt");
        std::fs::write(&target, "the user's").unwrap();
        let link = dir.path().join("curves.svg");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        write_atomically(&link, b"<svg/>").unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "the user's");
        assert_eq!(std::fs::read_to_string(&link).unwrap(), "<svg/>");
        assert!(!std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
        // Nothing is left behind: only the two files.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }

    #[test]
    fn only_new_or_empty_folders_are_free() {
        let dir = tempfile::tempdir().unwrap();
        assert!(is_free_folder(dir.path()) && is_free_folder(&dir.path().join("new")));
        std::fs::write(dir.path().join("metrics.csv"), "mine").unwrap();
        assert!(!is_free_folder(dir.path()) && !is_free_folder(&dir.path().join("metrics.csv")));
    }

    #[test]
    fn memory_that_cannot_be_counted_or_had_is_refused() {
        assert!(check_memory(None, "hidden", "the model").is_err());
        assert!(check_memory(Some(1 << 20), "hidden", "the model").is_ok());
        if available_memory().is_some() {
            let message = check_memory(Some(u64::MAX / 2), "hidden", "the model").unwrap_err().to_string();
            assert!(message.contains("hidden is too large for the memory this machine has available"), "{message}");
        }
    }
}
