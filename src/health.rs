//! Health: one snapshot of how the daemon is doing, and its two renderings.
//!
//! [`Health::snapshot`] asks the archive, the scheduler's heartbeat and the
//! ticker board once, and judges the answers into a [`HealthStatus`].
//! systemd supervision ([`HealthSnapshot::watchdog_report`]: `WATCHDOG=1`
//! and the `STATUS=` line) and `GET /healthz` ([`HealthSnapshot::to_json`])
//! render that same snapshot, so the service manager and a load balancer
//! can never disagree about what "healthy" means.
//!
//! # The rule
//! Checked in this order; the first that holds is the status.
//!
//! | status | when | `/healthz` | watchdog |
//! |---|---|---|---|
//! | `scheduler stalled` | the polling loop has not gone round for 3 × its longest sleep | 503 | not pinged |
//! | `database not answering` | reading the feeds or counting items failed | 503 | not pinged |
//! | `degraded` | no configured feed is ok while at least one has been polled and is failing, paused or retired; or the board's provider gave no quote at its latest refresh; or the archive's last write failed for want of space, permission or I/O (disk full, read-only, a file size limit) and none has committed since; or the archive file was deleted or replaced under the daemon; or a reader blocks the archive's checkpoints | 200 | pinged |
//! | `ok` | otherwise | 200 | pinged |
//!
//! The first two are faults of this process, which a restart (systemd) or
//! another instance (a load balancer) can cure. `degraded` means the
//! daemon works but delivers nothing new: usually the network, a proxy or
//! the publishers are at fault, so restarting it or taking it out of
//! rotation would only lose the archive it still serves. One failing feed
//! out of 200 is not a degraded daemon (`feeds.failing` still says so);
//! all of them is. A daemon that has not finished its first polls, or has
//! no feeds, is `ok`: nothing has gone wrong yet. An archive that takes no
//! writes, or whose write-ahead log a reader keeps growing
//! (`store::checkpoint`), is `degraded` too: the daemon serves what it
//! has, and only the operator can free the disk or close the reader; the
//! reason says which, with the path. So is an archive file deleted or
//! replaced under the daemon, which writes nothing more until restarted:
//! a restart would cure it, but whether it should start on the file now
//! at the path (perhaps an empty new one) is the operator's call
//! (`store::writes` says why the daemon does not exit).
//!
//! A reload the daemon refused (an invalid config) leaves the status as it
//! is, since the running config still works, but both renderings say so
//! ([`ReloadState`]) until a reload is taken: otherwise the file and the
//! running daemon disagree unseen until the next restart fails.
//!
//! # Where each feed stands
//! A configured feed is counted once, by [`FeedCondition`] of its row:
//! `retired` (the server answered 410 Gone), `failing` (its last attempt
//! failed), `paused` (its site asked us to wait: 429/503 with Retry-After,
//! or a poll deferred by such a pause), `pending` (not polled yet, or not
//! since a changed URL ended its retirement), else `ok`. So
//! `total = ok + failing + paused + retired + pending`.
//!
//! Time comes from the injected clock; uptime from a monotonic `Instant`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};

use crate::clock::SharedClock;
use crate::model::OutcomeKind;
use crate::quotes::board::BoardSlot;
use crate::scheduler::Heartbeat;
use crate::store::{FeedRow, Store};

/// What the daemon's health is read from. Cheap to clone: systemd
/// supervision and the HTTP server share one.
#[derive(Clone)]
pub struct Health {
    store: Store,
    heartbeat: Arc<Heartbeat>,
    board: BoardSlot,
    clock: SharedClock,
    started: Instant,
    reload: Arc<ReloadState>,
}

/// The last reload the daemon refused, until one is taken; shared by the
/// reload task, which sets it, and health, which reports it.
#[derive(Debug, Default)]
pub struct ReloadState {
    refused: Mutex<Option<RefusedReload>>,
}

/// A config reload the daemon refused: it runs with the config it had.
#[derive(Debug, Clone, PartialEq)]
pub struct RefusedReload {
    pub at: DateTime<Utc>,
    /// Why, as logged: the file, and each problem with its line and key.
    pub error: String,
}

impl ReloadState {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<RefusedReload>> {
        self.refused.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn refused(&self, at: DateTime<Utc>, error: String) {
        *self.lock() = Some(RefusedReload { at, error });
    }

    pub fn taken(&self) {
        *self.lock() = None;
    }

    pub fn last_refused(&self) -> Option<RefusedReload> {
        self.lock().clone()
    }
}

/// The archive's part of the snapshot: what writing to it found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ArchiveHealth {
    /// Since when the archive refuses writes, and the latest reason
    /// (`Store::write_failure`).
    pub write_failure: Option<(DateTime<Utc>, String)>,
    /// The archive file was deleted or replaced under the daemon, and
    /// what to do (`Store::file_replaced`).
    pub replaced: Option<String>,
    /// A reader keeps the write-ahead log from being emptied.
    pub log_blocked: bool,
    pub wal_path: String,
    pub wal_bytes: u64,
}

/// The verdict of one snapshot; see the module doc for the rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HealthStatus {
    Ok,
    Degraded,
    SchedulerStalled,
    DatabaseNotAnswering,
}

impl HealthStatus {
    /// The `status` of `/healthz`.
    pub fn as_str(self) -> &'static str {
        match self {
            HealthStatus::Ok => "ok",
            HealthStatus::Degraded => "degraded",
            HealthStatus::SchedulerStalled => "scheduler stalled",
            HealthStatus::DatabaseNotAnswering => "database not answering",
        }
    }

    /// Whether the process itself works: `/healthz` answers 200 and the
    /// watchdog is pinged. `degraded` is serving: see the module doc.
    pub fn is_serving(self) -> bool {
        matches!(self, HealthStatus::Ok | HealthStatus::Degraded)
    }
}

/// Where one configured feed stands, from its last recorded attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedCondition {
    Ok,
    Failing,
    Paused,
    Retired,
    Pending,
}

impl FeedCondition {
    /// The word for it, as `/healthz` counts and the operator's page shows.
    pub fn as_str(self) -> &'static str {
        match self {
            FeedCondition::Ok => "ok",
            FeedCondition::Failing => "failing",
            FeedCondition::Paused => "paused",
            FeedCondition::Retired => "retired",
            FeedCondition::Pending => "pending",
        }
    }

    /// Where the operator's page lists it: what needs a look first.
    pub fn urgency(self) -> u8 {
        match self {
            FeedCondition::Failing => 0,
            FeedCondition::Paused => 1,
            FeedCondition::Retired => 2,
            FeedCondition::Pending => 3,
            FeedCondition::Ok => 4,
        }
    }

    pub fn of(row: &FeedRow) -> FeedCondition {
        if row.retired_at.is_some() {
            return FeedCondition::Retired;
        }
        match row.last_result {
            None | Some(OutcomeKind::Retired) => FeedCondition::Pending,
            Some(OutcomeKind::Failed) => FeedCondition::Failing,
            Some(OutcomeKind::Throttled | OutcomeKind::Deferred) => FeedCondition::Paused,
            // Answered 410 once, but `retired_at` was cleared because its
            // URL changed in the config: the next poll decides.
            Some(OutcomeKind::Gone) => FeedCondition::Pending,
            Some(OutcomeKind::Fresh | OutcomeKind::NotModified | OutcomeKind::Unchanged) => {
                FeedCondition::Ok
            }
        }
    }
}

/// Configured feeds by [`FeedCondition`]; feeds removed from the config
/// are not counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FeedCounts {
    pub total: usize,
    pub ok: usize,
    pub failing: usize,
    pub paused: usize,
    pub retired: usize,
    pub pending: usize,
}

impl FeedCounts {
    pub fn of<'a>(rows: impl IntoIterator<Item = &'a FeedRow>) -> FeedCounts {
        let mut counts = FeedCounts::default();
        for row in rows.into_iter().filter(|r| r.in_config) {
            counts.total += 1;
            *match FeedCondition::of(row) {
                FeedCondition::Ok => &mut counts.ok,
                FeedCondition::Failing => &mut counts.failing,
                FeedCondition::Paused => &mut counts.paused,
                FeedCondition::Retired => &mut counts.retired,
                FeedCondition::Pending => &mut counts.pending,
            } += 1;
        }
        counts
    }

    /// No feed delivers, and at least one has been polled and found
    /// wanting (not merely not polled yet).
    fn none_healthy(&self) -> bool {
        self.ok == 0 && self.failing + self.paused + self.retired > 0
    }

    /// "3 feeds (0 ok, 2 failing, 1 paused)": the categories beyond `ok`
    /// and `failing` only when there are any.
    pub fn describe(&self) -> String {
        let mut parts = vec![
            format!("{} ok", self.ok),
            format!("{} failing", self.failing),
        ];
        for (n, what) in [
            (self.paused, "paused"),
            (self.retired, "retired"),
            (self.pending, "not polled yet"),
        ] {
            if n > 0 {
                parts.push(format!("{n} {what}"));
            }
        }
        format!("{} feeds ({})", self.total, parts.join(", "))
    }
}

/// The ticker board's part of the snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct BoardHealth {
    /// The provider's name (`finnhub`).
    pub provider: String,
    pub last_success: Option<DateTime<Utc>>,
    /// `Board::age`: since the last success, or since the board was set
    /// up while its provider has not answered, as the metric counts it.
    pub age: chrono::TimeDelta,
    /// The last failure's symbol and kind in plain words (`AAPL:
    /// connection refused`), as `/feeds` and `/quotes.json` give it: anyone
    /// who reaches the port reads `/healthz`, and the whole error names the
    /// provider's address with its query (key parameters blanked, but not
    /// a key in `base_url`'s path) in a chain of causes. The log and
    /// `tickerfeed quotes` give it whole.
    pub last_error: Option<String>,
    /// The latest refresh archived no quote at all (a refresh where only
    /// some instruments failed is not a failing provider).
    pub failing: bool,
}

/// Everything health knows at one instant.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthSnapshot {
    pub at: DateTime<Utc>,
    pub status: HealthStatus,
    /// Why the status is not `ok`, in words for an operator.
    pub reason: Option<String>,
    /// Why the database did not answer, if it did not.
    pub database_error: Option<String>,
    pub scheduler_last_tick: DateTime<Utc>,
    pub feeds: FeedCounts,
    /// `None` when the database did not answer.
    pub items: Option<i64>,
    /// In this run of the daemon.
    pub last_successful_poll: Option<DateTime<Utc>>,
    /// `None` without a `[market]` config.
    pub board: Option<BoardHealth>,
    pub database_bytes: u64,
    pub uptime: Duration,
    pub archive: ArchiveHealth,
    /// The last reload refused, while no later one was taken.
    pub reload_refused: Option<RefusedReload>,
}

impl Health {
    pub fn new(
        store: Store,
        heartbeat: Arc<Heartbeat>,
        board: BoardSlot,
        clock: SharedClock,
    ) -> Health {
        Health {
            store,
            heartbeat,
            board,
            clock,
            started: Instant::now(),
            reload: Arc::default(),
        }
    }

    /// What writing to the archive found; cheap (no query), so `/metrics`
    /// reads it at every scrape.
    pub fn archive(&self) -> ArchiveHealth {
        let now = self.clock.now();
        ArchiveHealth {
            write_failure: self.store.write_failure().map(|f| {
                let ago = chrono::TimeDelta::from_std(f.since.elapsed()).unwrap_or_default();
                (now - ago, f.error)
            }),
            replaced: self.store.file_replaced(),
            log_blocked: self.store.log_blocked(),
            wal_path: self.store.wal_path().display().to_string(),
            wal_bytes: self.store.wal_bytes(),
        }
    }

    /// Where the reload task says whether it took the config.
    pub fn reload_state(&self) -> Arc<ReloadState> {
        Arc::clone(&self.reload)
    }

    /// Reads everything once and judges it.
    pub async fn snapshot(&self) -> HealthSnapshot {
        let now = self.clock.now();
        let (feeds, items, database_error) = match self.read_archive().await {
            Ok((feeds, items)) => (feeds, Some(items), None),
            Err(e) => (FeedCounts::default(), None, Some(e.to_string())),
        };
        let board = self.board.get().map(|b| {
            let status = b.status(now);
            BoardHealth {
                failing: status.last_refresh.is_some()
                    && status.last_success != status.last_refresh,
                provider: status.provider,
                last_success: status.last_success,
                age: b.age(now),
                last_error: status.last_error_words,
            }
        });
        let scheduler_last_tick = self.heartbeat.last_tick();
        let archive = self.archive();
        let (status, reason) = judge(
            self.heartbeat.stalled(now).then_some(scheduler_last_tick),
            database_error.as_deref(),
            &feeds,
            board.as_ref(),
            &archive,
        );
        HealthSnapshot {
            at: now,
            status,
            reason,
            database_error,
            scheduler_last_tick,
            feeds,
            items,
            last_successful_poll: self.heartbeat.last_success(),
            board,
            database_bytes: self.store.size_bytes(),
            uptime: self.started.elapsed(),
            archive,
            reload_refused: self.reload.last_refused(),
        }
    }

    /// A snapshot rendered for systemd supervision (`systemd::supervise`).
    pub async fn watchdog_check(self) -> Result<String, String> {
        self.snapshot().await.watchdog_report()
    }

    async fn read_archive(&self) -> Result<(FeedCounts, i64), crate::store::StoreError> {
        let rows = self.store.feed_rows().await?;
        let items = self.store.item_count().await?;
        Ok((FeedCounts::of(&rows), items))
    }
}

/// The rule of the module doc. `stalled_since` is the last tick of a
/// stalled scheduler, `None` while it goes round.
fn judge(
    stalled_since: Option<DateTime<Utc>>,
    database_error: Option<&str>,
    feeds: &FeedCounts,
    board: Option<&BoardHealth>,
    archive: &ArchiveHealth,
) -> (HealthStatus, Option<String>) {
    if let Some(tick) = stalled_since {
        return (
            HealthStatus::SchedulerStalled,
            Some(format!(
                "scheduler has not gone round since {}",
                tick.to_rfc3339_opts(SecondsFormat::Secs, true)
            )),
        );
    }
    if let Some(e) = database_error {
        return (
            HealthStatus::DatabaseNotAnswering,
            Some(format!("database does not answer: {e}")),
        );
    }
    let mut why = Vec::new();
    if feeds.none_healthy() {
        why.push("no configured feed is healthy".to_string());
    }
    if board.is_some_and(|b| b.failing) {
        why.push("the quote provider gave no quote at the latest refresh".to_string());
    }
    if let Some(replaced) = &archive.replaced {
        // Its writes fail for this reason only; saying it once is enough.
        why.push(replaced.clone());
    } else if let Some((since, e)) = &archive.write_failure {
        why.push(format!(
            "the archive cannot be written to since {} (polls are fetched again until it can): {e}",
            since.to_rfc3339_opts(SecondsFormat::Secs, true)
        ));
    }
    if archive.log_blocked {
        why.push(format!(
            "a reader has held the archive open and its write-ahead log {} keeps growing ({} MB): close the reader (a sqlite3 session left inside a transaction, a long query or backup)",
            archive.wal_path,
            archive.wal_bytes / 1_000_000
        ));
    }
    if why.is_empty() {
        (HealthStatus::Ok, None)
    } else {
        (HealthStatus::Degraded, Some(why.join("; ")))
    }
}

impl HealthSnapshot {
    /// For systemd: `Ok(line)` means ping the watchdog and show `line` as
    /// `STATUS=`; `Err(why)` means do not ping (`supervise` shows
    /// `unhealthy: <why>`), so a stuck daemon gets restarted. A degraded
    /// daemon is pinged, with a status line that starts `degraded:`.
    pub fn watchdog_report(&self) -> Result<String, String> {
        let last = self
            .last_successful_poll
            .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
            .unwrap_or_else(|| "none yet".into());
        let summary = format!(
            "{}, {} items, last successful poll {last}",
            self.feeds.describe(),
            self.items.unwrap_or(0)
        );
        let summary = match &self.reload_refused {
            Some(r) => format!(
                "{summary}; reload refused at {}, running the previous config (see the log)",
                r.at.to_rfc3339_opts(SecondsFormat::Secs, true)
            ),
            None => summary,
        };
        let reason = self.reason.clone().unwrap_or_default();
        match self.status {
            HealthStatus::Ok => Ok(summary),
            HealthStatus::Degraded => Ok(format!("degraded: {reason}; {summary}")),
            HealthStatus::SchedulerStalled | HealthStatus::DatabaseNotAnswering => Err(reason),
        }
    }

    /// The body of `GET /healthz`. Fields are only ever added: monitoring
    /// scripts read them.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "status": self.status.as_str(),
            "reason": self.reason,
            "version": env!("CARGO_PKG_VERSION"),
            "uptime_secs": self.uptime.as_secs(),
            "feeds": {
                "total": self.feeds.total,
                "ok": self.feeds.ok,
                "failing": self.feeds.failing,
                "paused": self.feeds.paused,
                "retired": self.feeds.retired,
                "pending": self.feeds.pending,
            },
            "items": self.items,
            "last_successful_poll": self.last_successful_poll.map(|t| t.to_rfc3339()),
            "scheduler_last_tick": self.scheduler_last_tick.to_rfc3339(),
            "database_bytes": self.database_bytes,
            "archive": {
                "writable": self.archive.write_failure.is_none() && self.archive.replaced.is_none(),
                "replaced": self.archive.replaced,
                "write_error": self.archive.write_failure.as_ref().map(|(_, e)| e),
                "write_failing_since": self.archive.write_failure.as_ref().map(|(t, _)| t.to_rfc3339()),
                "wal_bytes": self.archive.wal_bytes,
                "wal_blocked": self.archive.log_blocked,
            },
            "config": {
                "reload_refused": self.reload_refused.is_some(),
                "reload_refused_at": self.reload_refused.as_ref().map(|r| r.at.to_rfc3339()),
                "reload_error": self.reload_refused.as_ref().map(|r| &r.error),
            },
            "board": self.board.as_ref().map(|b| serde_json::json!({
                "provider": b.provider,
                "last_success": b.last_success.map(|t| t.to_rfc3339()),
                "age_secs": b.age.num_seconds(),
                "last_error": b.last_error,
                "failing": b.failing,
            })),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(
        ok: usize,
        failing: usize,
        paused: usize,
        retired: usize,
        pending: usize,
    ) -> FeedCounts {
        FeedCounts {
            total: ok + failing + paused + retired + pending,
            ok,
            failing,
            paused,
            retired,
            pending,
        }
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn status(feeds: FeedCounts) -> HealthStatus {
        judge(None, None, &feeds, None, &ArchiveHealth::default()).0
    }

    #[test]
    fn one_healthy_feed_keeps_the_daemon_ok() {
        assert_eq!(status(counts(1, 199, 0, 0, 0)), HealthStatus::Ok);
        assert_eq!(status(counts(1, 0, 3, 2, 0)), HealthStatus::Ok);
    }

    #[test]
    fn no_healthy_feed_is_degraded() {
        assert_eq!(status(counts(0, 200, 0, 0, 0)), HealthStatus::Degraded);
        assert_eq!(status(counts(0, 1, 1, 1, 0)), HealthStatus::Degraded);
        assert_eq!(status(counts(0, 0, 2, 0, 0)), HealthStatus::Degraded);
        assert_eq!(status(counts(0, 0, 0, 2, 0)), HealthStatus::Degraded);
        // The first poll to finish failed; the others are still running.
        assert_eq!(status(counts(0, 1, 0, 0, 9)), HealthStatus::Degraded);
    }

    #[test]
    fn nothing_polled_yet_or_no_feeds_is_ok() {
        assert_eq!(status(counts(0, 0, 0, 0, 5)), HealthStatus::Ok);
        assert_eq!(status(FeedCounts::default()), HealthStatus::Ok);
    }

    #[test]
    fn a_failing_quote_provider_is_degraded() {
        let board = |failing| BoardHealth {
            last_success: None,
            age: chrono::TimeDelta::zero(),
            provider: "finnhub".into(),
            last_error: Some("AAPL: rate limited".into()),
            failing,
        };
        let feeds = counts(3, 0, 0, 0, 0);
        let (s, why) = judge(
            None,
            None,
            &feeds,
            Some(&board(true)),
            &ArchiveHealth::default(),
        );
        assert_eq!(s, HealthStatus::Degraded);
        assert!(why.unwrap().contains("quote provider"));
        assert_eq!(
            judge(
                None,
                None,
                &feeds,
                Some(&board(false)),
                &ArchiveHealth::default()
            )
            .0,
            HealthStatus::Ok
        );
    }

    #[test]
    fn a_stalled_scheduler_wins_over_a_dead_database() {
        let tick = at("2026-11-24T08:50:00Z");
        let feeds = counts(0, 3, 0, 0, 0);
        let (s, why) = judge(
            Some(tick),
            Some("locked"),
            &feeds,
            None,
            &ArchiveHealth::default(),
        );
        assert_eq!(s, HealthStatus::SchedulerStalled);
        assert_eq!(
            why.unwrap(),
            "scheduler has not gone round since 2026-11-24T08:50:00Z"
        );
        let (s, why) = judge(
            None,
            Some("locked"),
            &feeds,
            None,
            &ArchiveHealth::default(),
        );
        assert_eq!(s, HealthStatus::DatabaseNotAnswering);
        assert_eq!(why.unwrap(), "database does not answer: locked");
        assert!(!s.is_serving());
    }

    fn snapshot(feeds: FeedCounts) -> HealthSnapshot {
        let (status, reason) = judge(None, None, &feeds, None, &ArchiveHealth::default());
        HealthSnapshot {
            at: at("2026-11-24T09:00:00Z"),
            status,
            reason,
            database_error: None,
            scheduler_last_tick: at("2026-11-24T09:00:00Z"),
            feeds,
            items: Some(120),
            last_successful_poll: Some(at("2026-11-24T08:59:00Z")),
            board: None,
            database_bytes: 4096,
            uptime: Duration::from_secs(60),
            archive: ArchiveHealth::default(),
            reload_refused: None,
        }
    }

    /// systemd and /healthz say the same thing, each in its own words.
    #[test]
    fn both_renderings_say_degraded() {
        let s = snapshot(counts(0, 2, 1, 0, 0));
        assert_eq!(
            s.watchdog_report().unwrap(),
            "degraded: no configured feed is healthy; 3 feeds (0 ok, 2 failing, 1 paused), \
             120 items, last successful poll 2026-11-24T08:59:00Z"
        );
        let json = s.to_json();
        assert_eq!(json["status"], "degraded");
        assert_eq!(json["reason"], "no configured feed is healthy");
        assert_eq!(json["feeds"]["failing"], 2);
        assert_eq!(json["feeds"]["paused"], 1);
    }

    #[test]
    fn a_healthy_status_line_keeps_its_shape() {
        let s = snapshot(counts(2, 1, 0, 0, 0));
        assert_eq!(
            s.watchdog_report().unwrap(),
            "3 feeds (2 ok, 1 failing), 120 items, last successful poll 2026-11-24T08:59:00Z"
        );
        assert_eq!(s.to_json()["status"], "ok");
        assert!(s.to_json()["reason"].is_null());
    }

    /// A reader that blocks checkpoints is named with the log's path and
    /// what to do, in both renderings; the daemon still serves.
    #[test]
    fn a_blocked_write_ahead_log_is_degraded_and_says_to_close_the_reader() {
        let archive = ArchiveHealth {
            log_blocked: true,
            wal_path: "/var/lib/tickerfeed/tickerfeed.db-wal".into(),
            wal_bytes: 250_000_000,
            ..ArchiveHealth::default()
        };
        let (status, why) = judge(None, None, &counts(3, 0, 0, 0, 0), None, &archive);
        assert_eq!(status, HealthStatus::Degraded);
        assert!(status.is_serving());
        let why = why.unwrap();
        assert!(
            why.contains("/var/lib/tickerfeed/tickerfeed.db-wal")
                && why.contains("250 MB")
                && why.contains("close the reader"),
            "{why}"
        );
    }

    /// A refused reload leaves the daemon `ok` (it runs the config it
    /// had), but `systemctl status` keeps saying so until a reload is
    /// taken, not only until the next watchdog ping.
    #[test]
    fn a_refused_reload_stays_on_the_status_line() {
        let mut s = snapshot(counts(2, 0, 0, 0, 0));
        s.reload_refused = Some(RefusedReload {
            at: at("2026-11-24T08:30:00Z"),
            error: "config.toml:6: output.max_items: invalid type".into(),
        });
        assert_eq!(
            s.watchdog_report().unwrap(),
            "2 feeds (2 ok, 0 failing), 120 items, last successful poll 2026-11-24T08:59:00Z; \
             reload refused at 2026-11-24T08:30:00Z, running the previous config (see the log)"
        );
        let json = s.to_json();
        assert_eq!(json["status"], "ok");
        assert_eq!(json["config"]["reload_refused"], true);
    }
}
