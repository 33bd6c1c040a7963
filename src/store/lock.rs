//! One daemon per archive: an exclusive lock held for the daemon's life.
//!
//! Two `tickerfeed run` on one archive would both poll every feed (twice
//! the requests to each publisher, each one's validators overwriting the
//! other's) and send every alert twice; the second one's start would also
//! re-register its config's feeds under the first. The port normally
//! stops a second daemon, but only after it has registered its feeds, and
//! not at all with `listen = "127.0.0.1:0"` or socket activation.
//!
//! The lock is `flock` on `<archive>.lock` beside the archive, not on the
//! archive itself: SQLite keeps POSIX locks on the database file, which the
//! kernel drops when any descriptor of that file in the process closes.
//! The kernel releases the lock when the process dies, so a crash leaves no
//! stale lock, only the empty file. `poll` and the commands that look take
//! no lock: they are meant to run beside the daemon.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

/// Why the daemon's lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "another tickerfeed daemon is running on the archive {} (it holds {}); stop it first",
        .archive.display(),
        .lock.display()
    )]
    Held { archive: PathBuf, lock: PathBuf },
    #[error("failed to lock {}", .lock.display())]
    Take {
        lock: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Held while the daemon runs; dropping it (or the process ending)
/// releases the archive.
#[derive(Debug)]
pub struct DaemonLock {
    _file: File,
}

impl DaemonLock {
    /// Takes the archive at `archive` for this daemon, or says which other
    /// one has it. Creates the archive's folder if needed, as opening it
    /// would.
    pub fn take(archive: &Path) -> Result<DaemonLock, LockError> {
        let mut name = archive.as_os_str().to_owned();
        name.push(".lock");
        let lock = PathBuf::from(name);
        let take_err = |source| LockError::Take {
            lock: lock.clone(),
            source,
        };
        if let Some(dir) = archive.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(take_err)?;
        }
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock)
            .map_err(take_err)?;
        match file.try_lock() {
            Ok(()) => Ok(DaemonLock { _file: file }),
            Err(TryLockError::WouldBlock) => Err(LockError::Held {
                archive: archive.to_path_buf(),
                lock,
            }),
            Err(TryLockError::Error(source)) => Err(take_err(source)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_one_archive_is_refused_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let archive = dir.path().join("data/tickerfeed.db");
        let first = DaemonLock::take(&archive).unwrap();
        let err = DaemonLock::take(&archive).unwrap_err();
        assert!(matches!(err, LockError::Held { .. }), "{err}");
        assert!(err.to_string().contains("tickerfeed.db"), "{err}");
        drop(first);
        DaemonLock::take(&archive).unwrap();
    }
}
