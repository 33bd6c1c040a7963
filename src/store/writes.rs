//! Whether the archive takes writes, as the writer last found it.
//!
//! Set by a write SQLite refused for the archive itself
//! ([`StoreError::refuses_writes`]: a full disk, an I/O error, which is
//! what a file size limit gives, a read-only file or folder, a file it
//! cannot open); a constraint or a bad row is that write's fault, not the
//! archive's, and leaves it alone. Cleared by the next transaction that
//! commits a change, whichever task wrote it (a poll, the board's quotes,
//! alerts, search indexing), so `/healthz` and `tickerfeed_archive_writable`
//! say what the writer finds now, not what the last poll found.
//!
//! A refused write comes back as [`StoreError::Unwritable`], which says
//! why in plain words ([`why_refused`]: SQLite says "disk I/O error" for a
//! file size limit as for a failing disk), so every log line that reports
//! it and `/healthz` say the same as a refused start. The reason is asked
//! of the system (getrlimit, statvfs, the files' sizes) at every refusal,
//! a few system calls beside the write that failed: kept, it would outlive
//! a limit raised or space freed while no write committed, and SQLite
//! gives a file size limit as a full disk or as an I/O error depending on
//! how much of a write fit.
//!
//! An archive that takes no writes at start stops the daemon: it has
//! nothing to record its polls in, and a restart by systemd, once the disk
//! is mended, is the cure.
//!
//! # An archive file deleted or replaced under the daemon
//! SQLite keeps writing to the file it opened, whatever now has its name
//! (it checks only for rollback journals, and at close): after `rm -r` of
//! the data folder, or a backup restored with `mv backup.db tickerfeed.db`,
//! everything archived went to a file nobody would see again, lost at
//! exit, while `/healthz` said ok. [`Writes::check_file`] (the daemon asks
//! every 2 s) compares the path's device and inode with those the open
//! found; once they differ, or the path is gone, every write is refused
//! ([`StoreError::Replaced`]) for the rest of the run, and the archive
//! reports it as a write failure that names the path and says to restart.
//!
//! It refuses rather than exits: the file the daemon holds open is then
//! the only copy of a deleted archive, which the operator can still copy
//! out of `/proc/<pid>/fd/` while it runs and not once it has exited; an
//! exit would have systemd start an empty archive in its place at 3 a.m.
//! A restored backup waits for the restart the operator makes anyway, and
//! `/healthz` (degraded, with the reason) and the log say so meanwhile.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use tracing::info;

use super::StoreError;
use crate::cause::chain as error_chain;

/// Since when the archive refuses writes, and the latest refusal.
#[derive(Debug, Clone, PartialEq)]
pub struct WriteFailure {
    /// The first refusal since the archive last took a write. An
    /// `Instant`: the store has no clock; health dates it by its own.
    pub since: Instant,
    /// `cannot write to the archive <path>: <why, in plain words>: <what
    /// failed>: <SQLite's cause>`.
    pub error: String,
}

/// The writer's state; shared by every clone of a `Store`.
#[derive(Debug)]
pub(crate) struct Writes {
    path: PathBuf,
    failing: Mutex<Option<WriteFailure>>,
    /// The archive file's device and inode when the writer opened it;
    /// `None` when they could not be read (nothing is checked then).
    opened: Option<(u64, u64)>,
    /// Why the archive takes no more writes: its file was deleted or
    /// replaced ([`Writes::check_file`]). Never cleared.
    replaced: Mutex<Option<String>>,
}

/// The device and inode of the file at `path`.
fn file_id(path: &Path) -> std::io::Result<(u64, u64)> {
    std::fs::metadata(path).map(|m| (m.dev(), m.ino()))
}

impl Writes {
    /// For the archive at `path`, just opened.
    pub(crate) fn new(path: PathBuf) -> Writes {
        Writes {
            opened: file_id(&path).ok(),
            path,
            failing: Mutex::new(None),
            replaced: Mutex::new(None),
        }
    }

    fn replaced_lock(&self) -> std::sync::MutexGuard<'_, Option<String>> {
        self.replaced.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Why the archive takes no more writes, once its file was deleted or
    /// replaced under the daemon.
    pub(crate) fn replaced(&self) -> Option<String> {
        self.replaced_lock().clone()
    }

    /// A write refused because the archive file was replaced, noted as a
    /// refusal; `None` while it was not.
    pub(crate) fn refused<T>(&self) -> Option<Result<T, StoreError>> {
        let why = self.replaced()?;
        Some(self.observe(Err(StoreError::Replaced { why }), false))
    }

    /// Whether the file at the archive's path is still the one the writer
    /// has open (see the module doc). The first time it is not, closes the
    /// archive to writes for good and returns why; otherwise `None`. A
    /// path that cannot be looked at for another reason (a folder made
    /// unreadable) proves nothing, and is left alone.
    pub(crate) fn check_file(&self) -> Option<String> {
        let opened = self.opened?;
        let what = match file_id(&self.path) {
            Ok(now) if now == opened => return None,
            Ok(_) => "replaced by another file",
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => "deleted",
            Err(_) => return None,
        };
        let why = {
            let mut replaced = self.replaced_lock();
            if replaced.is_some() {
                return None;
            }
            let why = format!(
                "the archive file {} was {what} under the daemon: restart it; until then nothing is written, as nobody would see it (the file it has open stays readable at /proc/{}/fd/ until it exits)",
                self.path.display(),
                std::process::id()
            );
            *replaced = Some(why.clone());
            why
        };
        // Reported as a write failure from now on, before any write tries.
        let _ = self.refused::<()>();
        Some(why)
    }

    fn failing(&self) -> std::sync::MutexGuard<'_, Option<WriteFailure>> {
        self.failing.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// What one use of the writer found: `committed` when it returned Ok
    /// having committed a change. A refusal is returned explained
    /// ([`StoreError::Unwritable`]).
    pub(crate) fn observe<T>(
        &self,
        result: Result<T, StoreError>,
        committed: bool,
    ) -> Result<T, StoreError> {
        match result {
            Ok(v) => {
                if committed && self.failing().take().is_some() {
                    info!(database = %self.path.display(), "the archive takes writes again");
                }
                Ok(v)
            }
            Err(e) if e.refuses_writes() => {
                let e = explained(&self.path, e);
                let mut failing = self.failing();
                let since = failing.as_ref().map_or_else(Instant::now, |f| f.since);
                *failing = Some(WriteFailure {
                    since,
                    error: error_chain(&e),
                });
                Err(e)
            }
            Err(e) => Err(e),
        }
    }

    pub(crate) fn failure(&self) -> Option<WriteFailure> {
        self.failing().clone()
    }
}

/// `e` as [`StoreError::Unwritable`] when the archive at `path` refused a
/// write for itself ([`StoreError::refuses_writes`]), with [`why_refused`];
/// otherwise `e`.
pub(crate) fn explained(path: &Path, e: StoreError) -> StoreError {
    if e.refuses_writes()
        && !matches!(
            e,
            StoreError::Unwritable { .. } | StoreError::Replaced { .. }
        )
    {
        StoreError::Unwritable {
            why: why_refused(path, &e),
            refused: Box::new(e),
        }
    } else {
        e
    }
}

/// Why the archive at `path` refused a write, in plain words, and what to
/// do. SQLite says "disk I/O error" (or "database or disk is full") for a
/// write past the file size limit as for a failing (or full) disk, and
/// "database or disk is full" or "unable to
/// open database file" without saying which folder, so the process's
/// limit and the file system are asked.
pub(crate) fn why_refused(path: &Path, e: &StoreError) -> String {
    use rusqlite::ErrorCode::{CannotOpen, DiskFull, ReadOnly, SystemIoFailure};
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let at = format!("cannot write to the archive {}", path.display());
    let code = e.sqlite_code();
    let fs = file_system(dir);
    if fs.is_some_and(|fs| fs.f_flag & libc::ST_RDONLY != 0) {
        return format!(
            "{at}: the file system holding {} is mounted read-only; remount it read-write or move the archive ([storage] path)",
            dir.display()
        );
    }
    let no_space = format!(
        "{at}: no space left for this user on the file system holding {} (the disk, or a quota, is full); free some space",
        dir.display()
    );
    if fs.is_some_and(|fs| fs.f_bavail == 0) {
        return no_space;
    }
    // A write past the limit fails as an I/O error, or as a full disk
    // when part of it fit (a log frame across the limit): blame the limit
    // only where the archive or its log has reached it.
    let near = |limit: u64| {
        let mut wal = path.as_os_str().to_owned();
        wal.push("-wal");
        [path, Path::new(&wal)]
            .iter()
            .filter_map(|f| std::fs::metadata(f).ok())
            .any(|m| m.len().saturating_add(LIMIT_MARGIN) >= limit)
    };
    if matches!(code, Some(SystemIoFailure | DiskFull))
        && let Some(limit) = file_size_limit().filter(|&l| near(l))
    {
        return format!(
            "{at}: this process may write no file past {limit} bytes (a file size limit: `ulimit -f`, systemd's LimitFSIZE=), which the archive or its log has reached; raise or remove the limit"
        );
    }
    if code == Some(DiskFull) {
        return no_space;
    }
    if matches!(code, Some(ReadOnly | CannotOpen)) {
        return format!(
            "{at}: it or its folder {} is read-only for this user, who must be able to create the -wal and -shm files beside it; give them write access (systemd: StateDirectory= or ReadWritePaths=)",
            dir.display()
        );
    }
    if code == Some(SystemIoFailure) {
        return format!("{at}: the disk reports an I/O error; see the kernel's log (dmesg)");
    }
    format!("{at}: {}", error_chain(e))
}

/// How close to the file size limit the archive or its log must be for a
/// refused write to be the limit's: SQLite extends them a page or a log
/// frame at a time.
const LIMIT_MARGIN: u64 = 1 << 20;

/// The process's file size limit (`RLIMIT_FSIZE`), if it has one.
fn file_size_limit() -> Option<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes only the struct it is handed.
    let ok = unsafe { libc::getrlimit(libc::RLIMIT_FSIZE, &mut limit) } == 0;
    (ok && limit.rlim_cur != libc::RLIM_INFINITY).then_some(limit.rlim_cur)
}

/// `statvfs` of the file system holding `dir`.
fn file_system(dir: &Path) -> Option<libc::statvfs> {
    let dir = CString::new(dir.as_os_str().as_bytes()).ok()?;
    // SAFETY: an all-zero statvfs is a valid value of the plain C struct,
    // which statvfs overwrites; `dir` is a NUL-terminated path that
    // outlives the call.
    let mut fs: libc::statvfs = unsafe { std::mem::zeroed() };
    (unsafe { libc::statvfs(dir.as_ptr(), &mut fs) } == 0).then_some(fs)
}
