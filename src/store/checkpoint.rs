//! WAL checkpoints, off the writer's thread.
//!
//! In WAL mode every commit appends pages to the log, and a checkpoint
//! copies them back into the database file. SQLite's automatic checkpoint
//! runs inside the commit that crosses its threshold: the single writer
//! copies about a thousand pages and waits for two fsyncs, and every fetch
//! queued behind it waits too. Measured on the poll bench: 6 % of a first
//! poll's wall time on the reference VM, 18 % where an fsync takes 5 ms.
//!
//! [`Checkpointer`] moves that work to a thread of its own with its own
//! connection: the writer's commit hook only counts the log's pages and
//! wakes it once per [`Thresholds::background`] pages written
//! (`WakePolicy`), and WAL lets a checkpoint copy pages while the writer
//! goes on.
//!
//! One limit: a checkpoint beside a busy writer never reaches the writer's
//! latest commit, and the log can only start over from its beginning once
//! everything in it has been copied. Left alone, the log would grow for as
//! long as the writer never pauses (gigabytes over a 10,000-feed poll).
//! Past [`Thresholds::inline`] pages the writer therefore checkpoints in its own commit,
//! as SQLite would have: by then the checkpointer has copied nearly all of
//! it, so that costs little, and the next transaction restarts the log.
//!
//! What no checkpoint can pass is a reader's snapshot: an analyst's
//! `sqlite3` left inside a transaction (`BEGIN; SELECT ...`) pins every
//! page committed after it in the log, which then grows for as long as
//! the reader stays, by every commit, until the disk is full. Nothing is
//! lost, but only the reader's owner can end it, so the writer's hook
//! flags the log as blocked ([`LogWatch`]) once it passes
//! [`Thresholds::blocked`] pages (twice the length the writer's own
//! checkpoints keep it under), and the daemon tells the operator
//! (`app::watch_archive`, `/healthz`, `/metrics`). The flag drops when the
//! log starts over.

use std::os::raw::c_int;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;

use rusqlite::Connection;
use rusqlite::hooks::Wal;
use rusqlite::wal::CheckpointMode;

use super::{BUSY_TIMEOUT, StoreError};

/// When to checkpoint, in pages of the log.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Thresholds {
    /// Wake the checkpointer.
    pub background: c_int,
    /// The writer checkpoints itself in its commit.
    pub inline: c_int,
    /// The log is this long although the writer checkpoints at every
    /// commit past `inline`: a reader's snapshot blocks the checkpoints.
    pub blocked: c_int,
}

impl Thresholds {
    /// SQLite's own threshold to wake the checkpointer (about 4 MB with 4
    /// KiB pages); the writer steps in at ten times that, so the log stays
    /// under about 40 MB however long the writer stays busy. Past twice
    /// that (about 80 MB), a log the writer's checkpoint cannot copy whole
    /// is held by a reader ([`LogWatch`]).
    pub(crate) const DEFAULT: Thresholds = Thresholds {
        background: 1_000,
        inline: 10_000,
        blocked: 20_000,
    };
}

/// What the writer's commit hook does about the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Nothing,
    Wake,
    Inline,
}

/// Decides, after each commit, from the log's length in pages, whether to
/// wake the checkpointer or checkpoint in the commit.
///
/// A checkpoint beside a busy writer leaves the log as long as it was, so
/// waking on length alone woke the thread after every commit past the
/// threshold: at 10,000 feeds that was a checkpoint, with its two fsyncs,
/// per fetch (2,169 fsyncs in one poll, each copying the same hot index
/// pages again). It wakes once per [`Thresholds::background`] pages
/// written instead.
struct WakePolicy {
    at: Thresholds,
    /// The log's length at the last wake.
    woken_at: c_int,
}

impl WakePolicy {
    fn new(at: Thresholds) -> Self {
        WakePolicy { at, woken_at: 0 }
    }

    fn after_commit(&mut self, pages: c_int) -> Step {
        if pages < self.woken_at {
            // The log started over.
            self.woken_at = 0;
        }
        if pages >= self.at.inline {
            Step::Inline
        } else if pages >= self.woken_at + self.at.background {
            self.woken_at = pages;
            Step::Wake
        } else {
            Step::Nothing
        }
    }
}

enum Wake {
    Check,
    Stop,
}

/// Whether a reader's snapshot keeps the log from starting over, as the
/// writer's last commit found it (see the module doc).
///
/// Length alone is not enough: one large transaction (a first retention
/// run deleting a year of items) makes a log that long with no reader at
/// all. So the log counts as blocked only when the writer's own
/// checkpoint, past [`Thresholds::blocked`], could not copy all of it, on
/// two commits in a row (a single one may find the checkpointer mid-copy).
#[derive(Debug, Default)]
pub(crate) struct LogWatch {
    /// Commits in a row that left a long log the writer could not copy.
    stuck: AtomicU32,
}

impl LogWatch {
    /// After a commit that left the log `pages` long; `copied_all`: the
    /// writer's checkpoint in it copied every frame.
    fn after_commit(&self, pages: c_int, at: Thresholds, copied_all: bool) {
        if pages >= at.blocked && !copied_all {
            self.stuck.fetch_add(1, Ordering::AcqRel);
        } else {
            self.stuck.store(0, Ordering::Release);
        }
    }

    pub(crate) fn blocked(&self) -> bool {
        self.stuck.load(Ordering::Acquire) >= 2
    }
}

/// The checkpointing thread. Dropping it stops and joins the thread, whose
/// connection closes first, so the writer's close (the last one) is the
/// one that checkpoints whatever is left and removes the log.
#[derive(Debug)]
pub(crate) struct Checkpointer {
    wake: SyncSender<Wake>,
    thread: Option<JoinHandle<()>>,
    watch: Arc<LogWatch>,
}

impl Checkpointer {
    /// Starts the thread on its own connection to `path`, and hooks the
    /// `writer`'s commits to it (replacing SQLite's automatic checkpoint).
    pub(crate) fn start(
        path: &Path,
        writer: &mut Connection,
        at: Thresholds,
    ) -> Result<Self, StoreError> {
        let open_err = super::open_err(path);
        let conn = Connection::open(path).map_err(open_err)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
        // One pending wake is enough: a checkpoint copies everything
        // committed before it starts.
        let (wake, woken) = sync_channel(1);
        let thread = std::thread::Builder::new()
            .name("tf-checkpoint".into())
            .spawn(move || run(conn, woken))
            .map_err(|source| StoreError::Thread { source })?;
        // A log that grew while blocked would otherwise keep its size on
        // disk after it starts over (SQLite reuses the file): cut it back
        // to what the writer's own checkpoints keep it under.
        let page_size: i64 = writer
            .query_row("PRAGMA page_size", [], |r| r.get(0))
            .map_err(open_err)?;
        writer
            .pragma_update(None, "journal_size_limit", i64::from(at.inline) * page_size)
            .map_err(open_err)?;
        let hook_wake = wake.clone();
        let mut policy = WakePolicy::new(at);
        let watch = Arc::new(LogWatch::default());
        let hook_watch = Arc::clone(&watch);
        writer
            .wal_hook(Some(move |wal: &mut Wal, pages: c_int| {
                let mut copied_all = false;
                match policy.after_commit(pages) {
                    // BUSY (the checkpointer is mid-copy, or a reader holds
                    // an old snapshot) is fine: the next commit tries again.
                    Step::Inline => {
                        copied_all = matches!(
                            wal.checkpoint_v2(CheckpointMode::PASSIVE),
                            Ok((log, copied)) if copied >= log
                        );
                    }
                    Step::Wake => match hook_wake.try_send(Wake::Check) {
                        Ok(()) | Err(TrySendError::Full(_)) => {}
                        // The thread is gone (the store is closing): keep
                        // the log bounded here instead.
                        Err(TrySendError::Disconnected(_)) => {
                            let _ = wal.checkpoint_v2(CheckpointMode::PASSIVE);
                        }
                    },
                    Step::Nothing => {}
                }
                hook_watch.after_commit(pages, at, copied_all);
                Ok(())
            }))
            .map_err(open_err)?;
        Ok(Checkpointer {
            wake,
            thread: Some(thread),
            watch,
        })
    }

    /// Whether the log is blocked, as of the writer's last commit.
    pub(crate) fn log_blocked(&self) -> bool {
        self.watch.blocked()
    }
}

fn run(conn: Connection, woken: Receiver<Wake>) {
    // A connection reads the file lazily; until it has, it does not know
    // the file is in WAL mode and every checkpoint is a no-op. Read here,
    // on this thread, because reading it parses the whole schema (a
    // millisecond or two), which the archive's opening need not wait for.
    // Should it fail, checkpoints fail too and the writer's own, past
    // `Thresholds::inline`, keep the log bounded.
    let _ = conn.pragma_update_and_check(None, "journal_mode", "WAL", |_| Ok(()));
    while let Ok(Wake::Check) = woken.recv() {
        // PASSIVE never waits for the writer or readers: it copies what it
        // can now, and the next wake copies the rest. An error (disk full,
        // say) leaves the pages in the log, where they are just as safe.
        let _ = conn.wal_checkpoint_v2(None::<&str>, CheckpointMode::PASSIVE);
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        let _ = self.wake.send(Wake::Stop);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    const PAGE: u64 = 4096;

    fn wal_mode(path: &Path) -> Connection {
        let conn = Connection::open(path).unwrap();
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |_| Ok(()))
            .unwrap();
        conn.execute_batch("CREATE TABLE filler (b BLOB)").unwrap();
        conn
    }

    /// One transaction of `pages` pages of fresh rows.
    fn commit_pages(conn: &Connection, pages: usize) {
        let tx = conn.unchecked_transaction().unwrap();
        for _ in 0..pages {
            tx.execute("INSERT INTO filler VALUES (zeroblob(3900))", [])
                .unwrap();
        }
        tx.commit().unwrap();
    }

    fn len(path: &Path) -> u64 {
        std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
    }

    /// A WAL archive in a temp dir, its log's path, a writer and its
    /// checkpointer.
    fn started(
        at: Thresholds,
    ) -> (
        tempfile::TempDir,
        PathBuf,
        PathBuf,
        Connection,
        Checkpointer,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.db");
        let wal = dir.path().join("a.db-wal");
        let mut writer = wal_mode(&path);
        let ck = Checkpointer::start(&path, &mut writer, at).unwrap();
        (dir, path, wal, writer, ck)
    }

    #[test]
    fn a_busy_writer_wakes_the_checkpointer_once_per_threshold_of_pages_not_per_commit() {
        let mut policy = WakePolicy::new(Thresholds {
            background: 100,
            inline: 1_000,
            blocked: 2_000,
        });
        // Four pages per commit, the log never starting over.
        let steps: Vec<Step> = (1..=225).map(|n| policy.after_commit(4 * n)).collect();
        let wakes = steps.iter().filter(|s| **s == Step::Wake).count();
        // 900 pages: one wake per 100 written, from the 100th on.
        assert_eq!(wakes, 9, "{steps:?}");
        // The log started over: the next wake waits for another 100 pages.
        assert_eq!(policy.after_commit(40), Step::Nothing);
        assert_eq!(policy.after_commit(100), Step::Wake);
        assert_eq!(policy.after_commit(150), Step::Nothing);
        // Past the inline threshold, every commit checkpoints itself.
        assert_eq!(policy.after_commit(1_000), Step::Inline);
        assert_eq!(policy.after_commit(1_001), Step::Inline);
    }

    #[test]
    fn committed_pages_reach_the_database_file_while_the_writer_idles() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.db");
        let mut writer = wal_mode(&path);
        let _ck = Checkpointer::start(
            &path,
            &mut writer,
            Thresholds {
                background: 20,
                inline: 100_000,
                blocked: 200_000,
            },
        )
        .unwrap();
        let before = len(&path);
        commit_pages(&writer, 60);
        // The writer does nothing more; only the checkpoint thread can move
        // the pages out of the log.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while len(&path) < before + 50 * PAGE {
            assert!(
                std::time::Instant::now() < deadline,
                "the database file stayed at {} bytes",
                len(&path)
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }

    #[test]
    fn the_log_stays_bounded_while_the_writer_never_pauses() {
        let at = Thresholds {
            background: 10,
            inline: 200,
            blocked: 100_000,
        };
        let (_dir, path, wal, writer, ck) = started(at);
        let data_version = |c: &Connection| -> i64 {
            c.query_row("PRAGMA data_version", [], |r| r.get(0))
                .unwrap()
        };
        let version = data_version(&writer);
        let mut largest = 0;
        for _ in 0..150 {
            commit_pages(&writer, 20);
            largest = largest.max(len(&wal));
        }
        // Checkpoints, and the log restarting after them, are not another
        // connection's commits: the writer's view of what the archive holds
        // (`known.rs`) stays valid through them.
        assert_eq!(data_version(&writer), version);
        // 3,000 pages went through the log; it stayed near the inline
        // threshold. Not exactly at it: while the checkpoint thread holds
        // the checkpoint lock the writer's own attempt is skipped, so a
        // loaded machine lets a few more transactions in.
        let bound = 5 * at.inline as u64 * (PAGE + 24);
        assert!(
            largest <= bound,
            "the log grew to {largest} bytes (bound {bound})"
        );
        // Stopping the thread, then closing the writer (the last
        // connection), leaves everything in the database file alone.
        drop(ck);
        drop(writer);
        assert!(!wal.exists(), "the log outlived the last connection");
        let rows: i64 = Connection::open(&path)
            .unwrap()
            .query_row("SELECT count(*) FROM filler", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 3_000);
    }

    /// An analyst's `sqlite3` left inside a transaction: no checkpoint can
    /// pass its snapshot, so the log grows with every commit. The writer
    /// flags it once the log is twice as long as its own checkpoints keep
    /// it; once the reader leaves, the log starts over, the flag drops and
    /// the file is cut back.
    #[test]
    fn a_reader_holding_a_snapshot_is_flagged_and_the_log_shrinks_once_it_leaves() {
        let (_dir, path, wal, writer, ck) = started(Thresholds {
            background: 10,
            inline: 100,
            blocked: 200,
        });
        commit_pages(&writer, 20);
        let reader = Connection::open(&path).unwrap();
        reader
            .execute_batch("BEGIN; SELECT count(*) FROM filler;")
            .unwrap();
        for _ in 0..5 {
            commit_pages(&writer, 20);
        }
        assert!(!ck.log_blocked(), "flagged at {} bytes", len(&wal));
        for _ in 0..10 {
            commit_pages(&writer, 20);
        }
        assert!(ck.log_blocked(), "the log is {} bytes", len(&wal));
        let grown = len(&wal);
        assert!(grown > 300 * PAGE, "{grown}");

        reader.execute_batch("COMMIT").unwrap();
        drop(reader);
        // The first commit's own checkpoint copies everything; the next
        // one starts the log over.
        for _ in 0..3 {
            commit_pages(&writer, 20);
        }
        assert!(!ck.log_blocked(), "still flagged after the reader left");
        assert!(
            len(&wal) <= 100 * (PAGE + 24) + 32,
            "the log kept {} bytes on disk",
            len(&wal)
        );
    }

    /// One transaction larger than the flag's length (a first retention
    /// run), with no reader: its own checkpoint copies all of it, so the
    /// operator is not told to close a reader that does not exist.
    #[test]
    fn a_large_transaction_without_a_reader_is_not_flagged() {
        let (_dir, _path, _wal, writer, ck) = started(Thresholds {
            background: 10,
            inline: 100,
            blocked: 200,
        });
        for _ in 0..3 {
            commit_pages(&writer, 250);
            assert!(!ck.log_blocked(), "flagged with no reader");
        }
    }
}
