//! The archive: one SQLite file, and the only module that touches rusqlite.
//!
//! # Connections and threads
//! [`Store`] owns a writer and a read-only reader connection, so HTTP
//! renders never wait behind a long ingest (WAL lets them read the last
//! committed state). rusqlite is blocking, so every call runs on tokio's
//! blocking pool through `Store::write` / `Store::read`, or, for
//! recording fetches, in the one drainer task that records what is queued
//! (`feeds::drain`); no lock is held across an `.await`. A third
//! connection, on a thread of its own, only checkpoints the WAL
//! (`checkpoint.rs`), so the writer never waits for that copy and its
//! fsyncs.
//!
//! # Transactions
//! Everything one fetch produces (new and updated items, their sources, the
//! feed's state and its fetch-log row, and what hangs on new items: view
//! rule matches, alert messages, article pages to fetch) is written in one
//! transaction (`feeds::record_attempt`). A crash at any point leaves either all of it or
//! none of it, and because keys are unique, replaying the same fetch after a
//! restart stores nothing twice. Fetches that finish while the writer is
//! busy share the next transaction (group commit, `feeds::drain`), which
//! pays the commit once for all of them. New items are indexed for search
//! after that transaction commits, in batches of their own: by the drainer
//! when no fetch is waiting and `items::SEARCH_BATCH` items are, else by
//! [`Store::index_for_search`] (the daemon's two-second tick, a poll's
//! end), so within about two seconds and never inside a fetch's
//! transaction. A fetch that finishes while a batch is being indexed waits
//! for that one batch.
//!
//! # Compatibility
//! `PRAGMA application_id` marks the file as ours and `user_version` counts
//! applied migrations (`migrations.rs`). A file from a newer tickerfeed is
//! refused rather than half-understood. Tables may change between versions;
//! the `v_*` views are the documented, stable interface (docs/schema.md).
//!
//! # Change tracking
//! [`Store::generation`] increases whenever what the merged feed shows may
//! have changed: items, a feed's title or links (a fetch with a new body),
//! the feed list, in this process or (noticed through `PRAGMA
//! data_version`, see [`Store::notice_external_writes`]) in another one
//! such as a `tickerfeed poll` run beside the daemon. The HTTP layer keys
//! its render cache on it; a poll where every feed answered 304 leaves it
//! alone.

pub mod alerts;
pub mod articles;
mod checkpoint;
pub mod export;
pub mod feeds;
pub mod items;
mod known;
mod lock;
pub(crate) mod migrations;
pub mod providers;
pub mod quotes;
pub mod reactions;
mod rules;
mod selection;
pub mod subscriptions;
pub mod symbols;
pub mod websub;
mod writes;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags};

use crate::clock::from_db_time;

pub use alerts::{AlertRule, AlertState, OutboxCount, OutboxRow};
pub use articles::{ArticleResult, DueArticle};
pub use export::{ExportError, ExportItem, ExportQuery, ExportSource};
pub use feeds::{Attempt, Document, Exchange, FeedHome, FeedRow, IngestSummary};
pub use items::{Cursor, ItemHistory, Page, RecentQuery, Revision, SNIPPET_MARKS, SearchHit};
pub use lock::{DaemonLock, LockError};
pub use providers::{LedgerChange, ProviderLedger};
pub use reactions::{Gap, ItemReaction, PlannedReaction, ReactionPoint, ReactionSubject, Resolved};
pub use rules::Synced;
pub use selection::Match;
pub use subscriptions::{REPLACED, SubState, Subscription, latest_per_feed};
pub use symbols::SymbolItem;
pub use websub::{HubCounts, HubSubscriber, PushRow, Pushed, TopicChange};
pub use writes::WriteFailure;

/// How long a writer or reader waits for a lock held by another process
/// (for example `sqlite3` or a `tickerfeed poll` beside the daemon).
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Compiled statements each connection keeps (see `Store::open`).
const STATEMENT_CACHE: usize = 128;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("failed to create folder {} for the database", .path.display())]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// [`Store::open_existing`] found no archive at `path`, and created
    /// nothing there.
    #[error("no archive at {}", .path.display())]
    NoArchive { path: PathBuf },
    #[error("failed to open database at {}", .path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: SqliteCause,
    },
    #[error("{} is not a tickerfeed archive (its application_id is {found:#x})", .path.display())]
    Foreign { path: PathBuf, found: i32 },
    #[error(
        "{} has schema version {found}, newer than this tickerfeed understands ({known}); upgrade tickerfeed",
        .path.display()
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        known: usize,
    },
    #[error("failed to migrate database at {}", .path.display())]
    Migrate {
        path: PathBuf,
        #[source]
        source: SqliteCause,
    },
    #[error("database: failed to {op}")]
    Query {
        op: &'static str,
        #[source]
        source: SqliteCause,
    },
    /// A write, or opening the archive, was refused because the archive
    /// takes no writes (see [`StoreError::refuses_writes`]); `why` says so
    /// in plain words, with what to do (`writes::why_refused`). It says
    /// the refused write and SQLite's cause in its own message, and has no
    /// source: every log line that shows only an error's message (most
    /// say `%e`) tells what failed, and a chain printed whole (anyhow's
    /// `{:#}`, `cause::chain`) says it once.
    #[error("{why}: {}", crate::cause::chain(refused.as_ref()))]
    Unwritable {
        why: String,
        refused: Box<StoreError>,
    },
    /// Refused before it reached SQLite: the archive file was deleted or
    /// replaced under the daemon (`writes.rs`); `why` says which, and what
    /// to do.
    #[error("{why}")]
    Replaced { why: String },
    #[error("database task panicked or was cancelled")]
    Task(#[source] tokio::task::JoinError),
    #[error("the database writer stopped before recording this fetch")]
    WriterLost,
    #[error("failed to start the database's checkpoint thread")]
    Thread {
        #[source]
        source: std::io::Error,
    },
}

impl StoreError {
    /// Whether SQLite refused the write for the archive itself, not for
    /// what was written: no space (`SQLITE_FULL`), an I/O error
    /// (`SQLITE_IOERR*`, also a write past a file size limit), a read-only
    /// file, folder or mount (`SQLITE_READONLY*`), a file (the archive,
    /// its WAL or shared memory) that cannot be opened (`SQLITE_CANTOPEN`).
    /// A constraint, a bad row or a lock held by another program is not.
    pub fn refuses_writes(&self) -> bool {
        use rusqlite::ErrorCode::{CannotOpen, DiskFull, ReadOnly, SystemIoFailure};
        matches!(
            self,
            StoreError::Unwritable { .. } | StoreError::Replaced { .. }
        ) || matches!(
            self.sqlite_code(),
            Some(DiskFull | SystemIoFailure | ReadOnly | CannotOpen)
        )
    }

    /// SQLite's primary result code, when SQLite failed.
    pub(crate) fn sqlite_code(&self) -> Option<rusqlite::ErrorCode> {
        match self {
            StoreError::Open { source, .. }
            | StoreError::Migrate { source, .. }
            | StoreError::Query { source, .. } => source.code(),
            _ => None,
        }
    }
}

/// What SQLite said, as one cause that reads once. rusqlite shows SQLite's
/// message and gives, as its source, the result code, whose text is
/// SQLite's generic wording of the same thing, so a chain printed whole
/// said it twice: "database or disk is full: Error code 13: database or
/// disk is full". The code stays here, for [`StoreError::refuses_writes`].
#[derive(Debug)]
pub struct SqliteCause(rusqlite::Error);

impl From<rusqlite::Error> for SqliteCause {
    fn from(e: rusqlite::Error) -> Self {
        SqliteCause(e)
    }
}

impl SqliteCause {
    /// SQLite's primary result code, when SQLite (not rusqlite) failed.
    pub fn code(&self) -> Option<rusqlite::ErrorCode> {
        self.0.sqlite_error_code()
    }
}

impl std::fmt::Display for SqliteCause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            rusqlite::Error::SqliteFailure(e, None) => {
                f.write_str(rusqlite::ffi::code_to_str(e.extended_code))
            }
            e => e.fmt(f),
        }
    }
}

impl std::error::Error for SqliteCause {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.0 {
            // The result code, said already (see the type's doc).
            rusqlite::Error::SqliteFailure(..) => None,
            e => e.source(),
        }
    }
}

/// Executes `sql` through the connection's statement cache. The write path
/// runs the same few statements for every item; compiling each once per
/// connection, not once per call, is most of what a poll costs.
pub(crate) fn cached<P: rusqlite::Params>(
    conn: &Connection,
    sql: &str,
    params: P,
) -> rusqlite::Result<usize> {
    conn.prepare_cached(sql)?.execute(params)
}

/// Indexes for search, in one transaction (so a crash cannot leave items
/// indexed and still queued, which would index them twice), every item
/// queued in `fts_pending` and every row another program inserted past the
/// index's highest rowid.
fn index_everything_waiting(conn: &mut Connection) -> Result<usize, StoreError> {
    index_waiting(conn, 1)
}

/// Indexes the queue when at least `at_least` items wait in it. Rows
/// inserted by hand are looked for only when everything is to be indexed
/// (`at_least` 1): while the queue holds items, every one of them lies past
/// the index's highest rowid, and the writer asks after each commit.
fn index_waiting(conn: &mut Connection, at_least: i64) -> Result<usize, StoreError> {
    let tx = begin_write(conn, "begin indexing for search")?;
    if at_least <= 1 {
        items::queue_unindexed(&tx)?;
    }
    let indexed = items::index_queue(&tx, at_least)?;
    tx.commit().map_err(op("commit indexing for search"))?;
    Ok(indexed)
}

/// Keeps one query plan per cached statement. The bundled SQLite is built
/// with STAT4, which otherwise marks a statement for re-compilation when a
/// newly bound value might change its plan (partial indexes, `?n IS NOT
/// NULL`): the per-item lookups were being compiled again on nearly every
/// call, a sixth of a first poll's CPU. Our statements are written for one
/// plan, so the query planner stability guarantee costs nothing.
fn stable_plans(conn: &Connection) -> rusqlite::Result<()> {
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)
        .map(drop)
}

/// `values` as the JSON array `json_each(?)` reads: how one statement
/// takes a list of any length.
/// Tests' archive content: one feed (id 1) and one item of it (id 1, uid
/// `u1`).
#[cfg(test)]
pub(crate) const ONE_FEED_ONE_ITEM: &str = r#"
INSERT INTO feeds (id, name, url, schedule, created_at)
VALUES (1, 'wire', 'https://wire.test/rss', '*/15 * * * *', '2026-01-01T00:00:00Z');
INSERT INTO items (id, uid, origin_feed_id, title, first_seen_at, changed_at, sort_at,
                   content_sha256)
VALUES (1, 'u1', 1, 'Kept', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z',
        '2026-01-01T00:00:00Z', 'h1');
"#;

/// Tests' view of how SQLite runs `sql`: the detail of each line of its
/// `EXPLAIN QUERY PLAN`, parameters left unbound.
#[cfg(test)]
pub(crate) fn query_plan(conn: &Connection, sql: &str) -> Vec<String> {
    let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
    let unbound = vec![rusqlite::types::Null; stmt.parameter_count()];
    stmt.query_map(rusqlite::params_from_iter(unbound), |r| {
        r.get::<_, String>(3)
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

/// Tests' pairs of prices (then, now) for a change in percent: for each
/// price at ingest (a dozen of all sizes, one negative, and `more_thens`),
/// a change of exactly k + 1/2 hundredths of a percent up and down, which
/// binary cannot hold and rounding must take away from zero, and a few
/// later prices of other sizes.
#[cfg(test)]
pub(crate) fn change_test_pairs(
    more_thens: &[&str],
) -> Vec<(rust_decimal::Decimal, rust_decimal::Decimal)> {
    use rust_decimal::Decimal;
    let thens = [
        "3",
        "7",
        "100",
        "0.72",
        "1.1",
        "13.37",
        "0.0003",
        "172.53",
        "4.6155",
        "98765.4321",
        "-37.63",
    ];
    let mut pairs = Vec::new();
    for then in thens.iter().chain(more_thens) {
        let then: Decimal = then.parse().expect("a test's decimal");
        for k in [0, 1, 2, 12, 49, 50, 99, 150, 999, 1234, 98765] {
            let half = Decimal::new(5 * (2 * k + 1), 5);
            for sign in [Decimal::ONE, Decimal::NEGATIVE_ONE] {
                pairs.push((then, then + then * half * sign));
            }
        }
        for other in ["0.01", "1", "2.5", "3.00015", "99.99", "0.7344", "-1"] {
            pairs.push((then, other.parse().expect("a test's decimal")));
        }
    }
    pairs
}

pub(crate) fn json_list<T: serde::Serialize>(values: &[T]) -> String {
    serde_json::to_string(values).expect("a list of numbers or strings is JSON")
}

/// An item's column of a JSON array (`enclosures`, `author_emails`) read
/// back: empty when NULL, or when another program wrote something that is
/// not the array it expects.
pub(crate) fn json_array_from<T: serde::de::DeserializeOwned>(
    r: &rusqlite::Row<'_>,
    column: usize,
) -> rusqlite::Result<Vec<T>> {
    Ok(r.get::<_, Option<String>>(column)?
        .and_then(|json| serde_json::from_str(&json).ok())
        .unwrap_or_default())
}

/// Wraps a rusqlite error with the operation that failed.
pub(crate) fn op(op: &'static str) -> impl FnOnce(rusqlite::Error) -> StoreError {
    move |source| StoreError::Query {
        op,
        source: source.into(),
    }
}

/// Wraps a rusqlite error met while opening the archive at `path`.
pub(crate) fn open_err(path: &Path) -> impl Fn(rusqlite::Error) -> StoreError + Copy + '_ {
    move |source| StoreError::Open {
        path: path.to_path_buf(),
        source: source.into(),
    }
}

/// A write transaction that takes the write lock at `BEGIN` (IMMEDIATE),
/// where the busy timeout waits out another process's writer (a
/// `tickerfeed poll` or `prune` beside the daemon). A deferred one that
/// reads first fails at its first write with "database is locked", at
/// once, whenever another connection wrote since its read began.
pub(crate) fn begin_write<'c>(
    conn: &'c mut Connection,
    what: &'static str,
) -> Result<rusqlite::Transaction<'c>, StoreError> {
    conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(op(what))
}

/// Handle to the archive; cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    path: PathBuf,
    // Declared (so dropped) before the writer: the last connection to close
    // checkpoints and removes the WAL, and that should be the writer.
    reader: Arc<Mutex<Connection>>,
    // Held for its Drop (it stops the checkpoint thread before the writer
    // closes) and for whether the log is blocked.
    checkpointer: Arc<checkpoint::Checkpointer>,
    writer: Arc<Mutex<Connection>>,
    generation: Arc<AtomicU64>,
    data_version: Arc<AtomicI64>,
    /// Fetches waiting to be recorded together (`feeds::drain`).
    fetch_queue: Arc<Mutex<feeds::FetchQueue>>,
    /// The writer's fingerprints of the archive's guids and links.
    known_ids: Arc<Mutex<known::KnownIds>>,
    /// [`Store::last_change`] as of a generation: it reads every item, and
    /// every empty search or view asks for it.
    last_change: Arc<Mutex<Option<LastChange>>>,
    /// The alerts and rules the writer applies to new items
    /// (`alerts::queue`, `rules::record_hits`).
    at_ingest: rules::IngestRules,
    /// Told when a fetch queued alert messages.
    outbox_signal: Arc<tokio::sync::Notify>,
    /// Told when a fetch queued article pages.
    article_signal: Arc<tokio::sync::Notify>,
    /// Whether the archive takes writes (`writes.rs`).
    writes: Arc<writes::Writes>,
}

/// [`Store::last_change`]'s answer and the generation it was read at.
type LastChange = (u64, Option<DateTime<Utc>>);

/// Creates the folder `path` is to be in.
fn create_parent(path: &Path) -> Result<(), StoreError> {
    match path.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(dir) => std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
            path: dir.to_path_buf(),
            source,
        }),
        None => Ok(()),
    }
}

/// Creates an archive at `path` (which holds none yet) at schema version
/// `version`, as the tickerfeed that stopped there left it, for tests of
/// what an upgrade does: they fill it with plain SQL, then open it with
/// [`Store::open`], which upgrades it. Only tests call this.
#[doc(hidden)]
pub fn create_archive_at_version(path: &Path, version: usize) -> Result<(), StoreError> {
    if version > migrations::MIGRATIONS.len() {
        return Err(StoreError::TooNew {
            path: path.to_path_buf(),
            found: version as i64,
            known: migrations::MIGRATIONS.len(),
        });
    }
    create_parent(path)?;
    let mut conn = Connection::open(path).map_err(open_err(path))?;
    migrations::migrate_to(&mut conn, version).map_err(|source| StoreError::Migrate {
        path: path.to_path_buf(),
        source: source.into(),
    })
}

impl Store {
    /// Opens (creating if needed) and migrates the archive at `path`. An
    /// archive that takes no writes (a full disk, a file size limit, a
    /// read-only folder) is [`StoreError::Unwritable`], which says which:
    /// SQLite says "disk I/O error" for most of them.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        Self::open_and_migrate(path, true).map_err(|e| writes::explained(path, e))
    }

    /// Opens and migrates the archive at `path` as [`Store::open`] does,
    /// but only if there is one: with none it creates nothing (no folder,
    /// no file, no `-wal`) and is [`StoreError::NoArchive`]. For the
    /// commands that only look, which would otherwise leave an empty
    /// archive at a mistyped `[storage] path` and report that nothing was
    /// ever polled.
    pub fn open_existing(path: &Path) -> Result<Store, StoreError> {
        Self::open_and_migrate(path, false).map_err(|e| writes::explained(path, e))
    }

    fn open_and_migrate(path: &Path, create: bool) -> Result<Store, StoreError> {
        let open_err = open_err(path);
        let mut writer = if create {
            create_parent(path)?;
            Connection::open(path).map_err(open_err)?
        } else {
            let flags = OpenFlags::default().difference(OpenFlags::SQLITE_OPEN_CREATE);
            Connection::open_with_flags(path, flags).map_err(|e| {
                // SQLite says only "unable to open database file"; asked
                // after the failure, so a file that cannot be opened for
                // another reason is said as such.
                match path.try_exists() {
                    Ok(false) => StoreError::NoArchive {
                        path: path.to_path_buf(),
                    },
                    _ => open_err(e),
                }
            })?
        };
        writer.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
        // WAL: readers (the HTTP side, sqlite3, analysts' scripts) never
        // block the writer and never see a half-written fetch.
        writer
            .pragma_update_and_check(None, "journal_mode", "WAL", |_| Ok(()))
            .map_err(open_err)?;
        // NORMAL is durable against process crashes in WAL mode; only an OS
        // crash may lose the last transactions, never corrupt the file.
        writer
            .pragma_update(None, "synchronous", "NORMAL")
            .map_err(open_err)?;
        writer
            .pragma_update(None, "foreign_keys", true)
            .map_err(open_err)?;
        // Statement journals (a statement's undo log inside a transaction,
        // needed by every statement that may write several rows, such as an
        // update that fires a trigger) in memory, not in a temp file: they
        // are a few pages each, and writing them out was a tenth of an
        // ingest's CPU.
        writer
            .pragma_update(None, "temp_store", "MEMORY")
            .map_err(open_err)?;
        // A fetch's transaction runs more distinct statements (items,
        // sources, snapshots, mentions, one per view rule, alerts,
        // articles) than rusqlite's default cache of 16 holds: the least
        // recent were compiled again in every transaction, 6 % of a first
        // poll with views.
        writer.set_prepared_statement_cache_capacity(STATEMENT_CACHE);

        let app_id: i32 = writer
            .query_row("PRAGMA application_id", [], |r| r.get(0))
            .map_err(open_err)?;
        if app_id != 0 && app_id != migrations::APPLICATION_ID {
            return Err(StoreError::Foreign {
                path: path.to_path_buf(),
                found: app_id,
            });
        }
        let version: i64 = writer
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(open_err)?;
        if version > migrations::MIGRATIONS.len() as i64 {
            return Err(StoreError::TooNew {
                path: path.to_path_buf(),
                found: version,
                known: migrations::MIGRATIONS.len(),
            });
        }
        migrations::migrate(&mut writer).map_err(|source| StoreError::Migrate {
            path: path.to_path_buf(),
            source: source.into(),
        })?;
        stable_plans(&writer).map_err(open_err)?;
        // Alerts evaluate views' rules inside the recording transaction.
        selection::register_regexp(&writer).map_err(open_err)?;
        // What a previous run left queued, or another program inserted.
        index_everything_waiting(&mut writer)?;
        let checkpointer =
            checkpoint::Checkpointer::start(path, &mut writer, checkpoint::Thresholds::DEFAULT)?;

        let reader = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(open_err)?;
        reader.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
        reader.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        stable_plans(&reader).map_err(open_err)?;
        // Views' rules run on the reader (`selection.rs`).
        selection::register_regexp(&reader).map_err(open_err)?;
        let data_version: i64 = writer
            .query_row("PRAGMA data_version", [], |r| r.get(0))
            .map_err(open_err)?;

        Ok(Store {
            path: path.to_path_buf(),
            writer: Arc::new(Mutex::new(writer)),
            checkpointer: Arc::new(checkpointer),
            reader: Arc::new(Mutex::new(reader)),
            generation: Arc::new(AtomicU64::new(1)),
            data_version: Arc::new(AtomicI64::new(data_version)),
            fetch_queue: Arc::default(),
            known_ids: Arc::default(),
            last_change: Arc::default(),
            at_ingest: Arc::default(),
            outbox_signal: Arc::default(),
            article_signal: Arc::default(),
            writes: Arc::new(writes::Writes::new(path.to_path_buf())),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A number that grows whenever what the served feeds show may have
    /// changed (see the module doc).
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    fn fetch_queue(&self) -> Arc<Mutex<feeds::FetchQueue>> {
        Arc::clone(&self.fetch_queue)
    }

    fn known_ids(&self) -> Arc<Mutex<known::KnownIds>> {
        Arc::clone(&self.known_ids)
    }

    fn bump_generation(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// Runs `f` on the writer connection, off the async threads, and notes
    /// whether the archive took its writes (`writes.rs`); a refused write
    /// comes back saying why ([`StoreError::Unwritable`]).
    pub(crate) async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        let writes = Arc::clone(&self.writes);
        Self::run(Arc::clone(&self.writer), move |conn| {
            if let Some(refused) = writes.refused() {
                return refused;
            }
            // Only a change committed shows the archive takes writes: an
            // empty transaction (indexing with nothing waiting, every two
            // seconds) or a read on the writer commits nothing to disk.
            let before = conn.total_changes();
            let result = f(conn);
            let committed = conn.total_changes() != before && conn.is_autocommit();
            writes.observe(result, committed)
        })
        .await
    }

    /// Since when the archive has refused writes, and why; `None` while it
    /// takes them (see `writes.rs`).
    pub fn write_failure(&self) -> Option<WriteFailure> {
        self.writes.failure()
    }

    /// Whether the archive file is still the one the store opened; the
    /// first time it is not (deleted or replaced under the daemon), stops
    /// every write for the rest of the run and returns why (`writes.rs`).
    /// The daemon asks every two seconds.
    pub fn check_file(&self) -> Option<String> {
        self.writes.check_file()
    }

    /// Why the archive takes no more writes, once its file was deleted or
    /// replaced under the daemon ([`Store::check_file`]).
    pub fn file_replaced(&self) -> Option<String> {
        self.writes.replaced()
    }

    /// Runs `f` on the read-only connection, off the async threads.
    pub(crate) async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        Self::run(Arc::clone(&self.reader), f).await
    }

    async fn run<T, F>(conn: Arc<Mutex<Connection>>, f: F) -> Result<T, StoreError>
    where
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        tokio::task::spawn_blocking(move || {
            // A poisoned lock means an earlier closure panicked; its
            // Transaction was dropped (rolled back) while unwinding, so the
            // connection is still usable.
            let mut conn = conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            f(&mut conn)
        })
        .await
        .map_err(StoreError::Task)?
    }

    /// Indexes for search every item still waiting (see
    /// `items::SEARCH_BATCH`), and rows inserted by hand, and returns how
    /// many there were. The daemon calls it every two seconds and a poll
    /// when it ends, so an archived item is searchable within about two
    /// seconds. Indexing moves the
    /// [generation](Store::generation): a search rendered before it may
    /// have missed these items.
    pub async fn index_for_search(&self) -> Result<usize, StoreError> {
        let indexed = self.write(index_everything_waiting).await?;
        if indexed > 0 {
            self.bump_generation();
        }
        Ok(indexed)
    }

    /// Checks that the database answers. (Health reads the feed rows and
    /// counts items instead, so nothing calls this now.)
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.read(|c| {
            c.query_row("SELECT 1", [], |_| Ok(()))
                .map_err(op("answer a health check"))
        })
        .await
    }

    /// When the archive's items last changed: the newest item archived or
    /// changed, or the newest deletion (pruning), whichever is later. `None`
    /// for an archive that never held an item. Dates a document with no
    /// entries (issue 15); it reads every item's `changed_at` (no index), so
    /// callers ask only when the entries cannot date the document, and the
    /// answer is kept until [`Store::generation`] moves.
    pub async fn last_change(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let generation = self.generation();
        let kept = *self.last_change.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((at, answer)) = kept
            && at == generation
        {
            return Ok(answer);
        }
        let newest: Option<String> = self
            .read(|c| {
                c.query_row(
                    "SELECT MAX(t) FROM (SELECT MAX(changed_at) AS t FROM items
                                         UNION ALL SELECT MAX(deleted_at) FROM tombstones)",
                    [],
                    |r| r.get(0),
                )
                .map_err(op("read the archive's last change"))
            })
            .await?;
        let answer = newest.as_deref().and_then(from_db_time);
        *self.last_change.lock().unwrap_or_else(|p| p.into_inner()) = Some((generation, answer));
        Ok(answer)
    }

    /// Bumps [`Store::generation`] if another connection (another process,
    /// such as a `tickerfeed poll` beside the daemon) committed since the
    /// last call. Asked of the writer, whose `data_version` ignores its own
    /// commits: those bump the generation themselves when they change what
    /// the feeds show, and an all-304 poll must not re-render every
    /// document. Cheap; the daemon calls it every few seconds.
    pub async fn notice_external_writes(&self) -> Result<(), StoreError> {
        let version = self
            .write(|c| {
                c.query_row("PRAGMA data_version", [], |r| r.get::<_, i64>(0))
                    .map_err(op("read data_version"))
            })
            .await?;
        if self.data_version.swap(version, Ordering::AcqRel) != version {
            self.bump_generation();
        }
        Ok(())
    }

    /// Size of the database file and its WAL, in bytes.
    pub fn size_bytes(&self) -> u64 {
        [self.path.as_path(), self.wal_path().as_path()]
            .iter()
            .filter_map(|p| std::fs::metadata(p).ok())
            .map(|m| m.len())
            .sum()
    }

    /// The write-ahead log beside the archive (`<archive>-wal`).
    pub fn wal_path(&self) -> PathBuf {
        PathBuf::from(format!("{}-wal", self.path.display()))
    }

    /// Size of the write-ahead log on disk, in bytes.
    pub fn wal_bytes(&self) -> u64 {
        std::fs::metadata(self.wal_path()).map_or(0, |m| m.len())
    }

    /// Whether a reader's snapshot keeps checkpoints from emptying the
    /// write-ahead log, which then grows with every commit: someone has
    /// held the archive open (a `sqlite3` left inside a transaction, a
    /// long query). As of the last commit; see `checkpoint.rs`.
    pub fn log_blocked(&self) -> bool {
        self.checkpointer.log_blocked()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each refusal is told by its own cause: a full disk or quota where
    /// the file system still shows space is no I/O error, and an I/O
    /// error is blamed on a file size limit only where the archive or its
    /// log has reached it (here there is no file at all).
    #[test]
    fn a_refused_write_is_explained_by_its_own_cause() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.db");
        let refused = |code: i32| StoreError::Query {
            op: "write",
            source: rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), None).into(),
        };
        let why = |code| writes::why_refused(&path, &refused(code));
        assert!(
            why(rusqlite::ffi::SQLITE_FULL).contains("no space left for this user"),
            "{}",
            why(rusqlite::ffi::SQLITE_FULL)
        );
        assert!(why(rusqlite::ffi::SQLITE_READONLY).contains("read-only for this user"));
        let io = why(rusqlite::ffi::SQLITE_IOERR);
        assert!(io.contains("the disk reports an I/O error"), "{io}");
        assert!(!io.contains("file size limit"), "{io}");
        assert!(io.contains(&path.display().to_string()), "{io}");
    }
    use crate::cause::chain as error_chain;

    /// A real refusal: a write through a read-only connection.
    fn refused_write() -> StoreError {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("archive.db");
        Connection::open(&path)
            .unwrap()
            .execute_batch("CREATE TABLE t (x)")
            .unwrap();
        let ro = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
        ro.execute("INSERT INTO t VALUES (1)", [])
            .map_err(op("insert a row"))
            .unwrap_err()
    }

    #[test]
    fn a_failed_write_says_sqlites_cause_once() {
        assert_eq!(
            error_chain(&refused_write()),
            "database: failed to insert a row: attempt to write a readonly database"
        );
    }

    /// Whether the archive takes writes is decided by SQLite's reason: a
    /// read-only archive refuses them, a constraint (here a trigger that
    /// says "database or disk is full", as a test once stood in for a full
    /// disk with) does not.
    #[test]
    fn only_a_refusal_by_the_archive_is_an_archive_that_takes_no_writes() {
        assert!(refused_write().refuses_writes());
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE t (x UNIQUE);
             INSERT INTO t VALUES (1);
             CREATE TRIGGER full BEFORE INSERT ON t WHEN NEW.x = 2
             BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END;",
        )
        .unwrap();
        for x in [1, 2] {
            let e = conn
                .execute("INSERT INTO t VALUES (?1)", [x])
                .map_err(op("insert a row"))
                .unwrap_err();
            assert!(!e.refuses_writes(), "{e:?}");
        }
    }

    /// The state follows the writer, whatever task writes: set by a
    /// refused write, kept by a write that fails for its own reason or
    /// commits nothing, cleared by the first write that commits a change.
    #[tokio::test]
    async fn the_archive_takes_writes_again_at_the_first_change_committed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("archive.db");
        let store = Store::open(&path).unwrap();
        let insert = |conn: &mut Connection, name: &'static str| {
            conn.execute(
                "INSERT INTO feeds (name, url, schedule, created_at)
                 VALUES (?1, 'https://f.test/', '@hourly', '2026-01-01T00:00:00Z')",
                [name],
            )
            .map_err(op("insert a feed"))
        };
        store.write(move |c| insert(c, "a")).await.unwrap();
        assert_eq!(store.write_failure(), None);
        // SQLITE_READONLY, as from a read-only file or mount.
        let e = store
            .write(move |c| {
                c.pragma_update(None, "query_only", true)
                    .map_err(op("set query_only"))?;
                insert(c, "x")
            })
            .await
            .unwrap_err();
        // Said why in plain words, as a refused start is, then SQLite's
        // cause once.
        let why = writes::why_refused(&path, &refused_write());
        let refused = store.write_failure().expect("a refused write is noted");
        assert_eq!(
            refused.error,
            format!(
                "{why}: database: failed to insert a feed: attempt to write a readonly database"
            )
        );
        assert_eq!(error_chain(&e), refused.error);
        // A log line that shows only the error's message (`%e`) says what
        // failed too, and anyhow's whole chain (the CLI's) says it once.
        assert_eq!(e.to_string(), refused.error);
        assert_eq!(format!("{:#}", anyhow::Error::new(e)), refused.error);
        store
            .write(move |c| {
                c.pragma_update(None, "query_only", false)
                    .map_err(op("clear query_only"))?;
                insert(c, "a")
            })
            .await
            .unwrap_err();
        store.index_for_search().await.unwrap();
        assert_eq!(store.write_failure(), Some(refused));
        store.write(move |c| insert(c, "b")).await.unwrap();
        assert_eq!(store.write_failure(), None);
    }
}
