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

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Instant;

use tracing::info;

use super::StoreError;
use crate::push::webhook::error_chain;

/// Since when the archive refuses writes, and the latest refusal.
#[derive(Debug, Clone, PartialEq)]
pub struct WriteFailure {
    /// The first refusal since the archive last took a write. An
    /// `Instant`: the store has no clock; health dates it by its own.
    pub since: Instant,
    /// `archive <path>: <what failed>: <SQLite's cause>`.
    pub error: String,
}

/// The writer's state; shared by every clone of a `Store`.
#[derive(Debug)]
pub(crate) struct Writes {
    path: PathBuf,
    failing: Mutex<Option<WriteFailure>>,
}

impl Writes {
    pub(crate) fn new(path: PathBuf) -> Writes {
        Writes {
            path,
            failing: Mutex::new(None),
        }
    }

    fn failing(&self) -> std::sync::MutexGuard<'_, Option<WriteFailure>> {
        self.failing.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// What one use of the writer found: `committed` when it returned Ok
    /// having committed a change.
    pub(crate) fn observe<T>(&self, result: &Result<T, StoreError>, committed: bool) {
        match result {
            Ok(_) if committed && self.failing().take().is_some() => {
                info!(database = %self.path.display(), "the archive takes writes again");
            }
            Err(e) if e.refuses_writes() => {
                let error = format!("archive {}: {}", self.path.display(), error_chain(e));
                let mut failing = self.failing();
                let since = failing.as_ref().map_or_else(Instant::now, |f| f.since);
                *failing = Some(WriteFailure { since, error });
            }
            _ => {}
        }
    }

    pub(crate) fn failure(&self) -> Option<WriteFailure> {
        self.failing().clone()
    }
}
