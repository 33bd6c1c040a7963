//! The polling loop: sleep until the earliest due feed, refresh it under a
//! concurrency limit, repeat until shutdown.
//!
//! Every feed runs on its own schedule; a slow or hanging feed occupies one
//! slot until the fetch timeout and never delays the others. Due times come
//! from the archive on start (`PollState::next_due` over the feed's row),
//! so a restart neither refetches everything nor silently skips a poll that
//! fell due while the daemon was down. A failed refresh is logged and the
//! loop carries on; the loop itself never dies on a job's error.
//!
//! When a WebSub subscription starts or ends (`replan`), idle feeds take
//! their due time from the archive again, so a hub that starts pushing
//! slows its feed's polling at once, and one that is gone hands the feed
//! back to its schedule.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::cause::chain as error_chain;
use crate::clock::{MAX_SLEEP, SharedClock};
use crate::config::FeedConfig;
use crate::model::{FeedId, Outcome};
use crate::pipeline::{Pipeline, Refreshed};
use crate::schedule::PollState;
use crate::store::{FeedRow, StoreError};

/// How long in-flight refreshes may take to finish after shutdown begins.
pub const DRAIN_DEADLINE: Duration = Duration::from_secs(20);

/// Liveness of the loop, for `health` (`/healthz` and the systemd
/// watchdog): when it last went round, and when a feed was last refreshed.
/// (Whether the archive takes writes is the store's: `Store::write_failure`.)
#[derive(Debug)]
pub struct Heartbeat {
    last_tick: AtomicI64,
    last_success: AtomicI64,
}

impl Heartbeat {
    pub fn new(now: DateTime<Utc>) -> Arc<Self> {
        Arc::new(Heartbeat {
            last_tick: AtomicI64::new(now.timestamp()),
            last_success: AtomicI64::new(0),
        })
    }

    fn tick(&self, now: DateTime<Utc>) {
        self.last_tick.store(now.timestamp(), Ordering::Release);
    }

    fn succeeded(&self, now: DateTime<Utc>) {
        self.last_success.store(now.timestamp(), Ordering::Release);
    }

    /// When the loop last went round.
    pub fn last_tick(&self) -> DateTime<Utc> {
        DateTime::from_timestamp(self.last_tick.load(Ordering::Acquire), 0).unwrap_or_default()
    }

    /// When a feed was last refreshed without error, if ever in this run.
    pub fn last_success(&self) -> Option<DateTime<Utc>> {
        match self.last_success.load(Ordering::Acquire) {
            0 => None,
            t => DateTime::from_timestamp(t, 0),
        }
    }

    /// The loop wakes at least every `MAX_SLEEP`; three times that
    /// without a tick means it is stuck.
    pub fn stalled(&self, now: DateTime<Utc>) -> bool {
        now - self.last_tick() > chrono::Duration::from_std(MAX_SLEEP * 3).expect("small duration")
    }
}

struct Slot {
    feed: FeedConfig,
    due: DateTime<Utc>,
    running: bool,
}

/// The scheduled feeds, and the idle ones ordered by due time, so that
/// each turn of the loop reads only the feeds it dispatches: scanning
/// every slot on each turn (one turn per finished poll) cost a pass over
/// N feeds N x N steps, 10^10 at 100,000 feeds.
#[derive(Default)]
struct Slots {
    by_id: HashMap<FeedId, Slot>,
    /// `(due, id)` of every slot that is not running, and of no other.
    idle: BTreeSet<(DateTime<Utc>, FeedId)>,
}

impl Slots {
    fn len(&self) -> usize {
        self.by_id.len()
    }

    fn get(&self, id: FeedId) -> Option<&Slot> {
        self.by_id.get(&id)
    }

    fn insert(&mut self, id: FeedId, slot: Slot) {
        self.remove(id);
        if !slot.running {
            self.idle.insert((slot.due, id));
        }
        self.by_id.insert(id, slot);
    }

    fn remove(&mut self, id: FeedId) -> Option<Slot> {
        let slot = self.by_id.remove(&id)?;
        if !slot.running {
            self.idle.remove(&(slot.due, id));
        }
        Some(slot)
    }

    fn retain(&mut self, keep: impl Fn(FeedId) -> bool) {
        let gone: Vec<FeedId> = self.by_id.keys().copied().filter(|id| !keep(*id)).collect();
        for id in gone {
            self.remove(id);
        }
    }

    /// Changes a slot's config (its due time stays).
    fn set_feed(&mut self, id: FeedId, feed: FeedConfig) {
        if let Some(slot) = self.by_id.get_mut(&id) {
            slot.feed = feed;
        }
    }

    /// Moves a slot's due time; a running slot's is replaced when it
    /// finishes.
    fn set_due(&mut self, id: FeedId, due: DateTime<Utc>) {
        let Some(slot) = self.by_id.get_mut(&id) else {
            return;
        };
        if !slot.running {
            self.idle.remove(&(slot.due, id));
            self.idle.insert((due, id));
        }
        slot.due = due;
    }

    /// The earliest due time of an idle slot.
    fn next_due(&self) -> Option<DateTime<Utc>> {
        self.idle.first().map(|(due, _)| *due)
    }

    /// Marks up to `n` idle slots due by `now` running, earliest first,
    /// and returns them.
    fn start_due(&mut self, now: DateTime<Utc>, n: usize) -> Vec<(FeedId, &Slot)> {
        let mut started = Vec::new();
        while started.len() < n {
            match self.idle.first() {
                Some(&(due, id)) if due <= now => {
                    self.idle.pop_first();
                    if let Some(slot) = self.by_id.get_mut(&id) {
                        slot.running = true;
                    }
                    started.push(id);
                }
                _ => break,
            }
        }
        started
            .into_iter()
            .filter_map(|id| self.by_id.get(&id).map(|s| (id, s)))
            .collect()
    }

    /// A finished slot is idle again, due at `due`.
    fn finished(&mut self, id: FeedId, due: DateTime<Utc>) {
        let Some(slot) = self.by_id.get_mut(&id) else {
            return;
        };
        if !slot.running {
            self.idle.remove(&(slot.due, id));
        }
        slot.running = false;
        slot.due = due;
        self.idle.insert((due, id));
    }
}

/// Runs the polling loop over the feeds in `feeds` (replaced on reload)
/// until `shutdown` is cancelled, then lets in-flight refreshes finish
/// within [`DRAIN_DEADLINE`].
pub async fn run(
    pipeline: Pipeline,
    mut feeds: watch::Receiver<Vec<(FeedConfig, FeedId)>>,
    concurrency: usize,
    heartbeat: Arc<Heartbeat>,
    replan: Arc<Notify>,
    shutdown: CancellationToken,
) -> Result<(), StoreError> {
    let clock: SharedClock = pipeline.clock.clone();
    let mut slots = Slots::default();
    let initial = feeds.borrow_and_update().clone();
    plan(&pipeline, &mut slots, initial).await?;
    info!(feeds = slots.len(), concurrency, "scheduler started");
    // Lag counts from the start for a feed that fell due while the daemon
    // was stopped: the gauge says how far the scheduler falls behind, and
    // an alert on it must not fire after every restart.
    let started = clock.now();

    let mut running: JoinSet<Result<Refreshed, StoreError>> = JoinSet::new();
    // Which feed each task polls, so even a panicked task frees its slot.
    let mut tasks: HashMap<tokio::task::Id, FeedId> = HashMap::new();
    loop {
        let now = clock.now();
        heartbeat.tick(now);
        // Dispatch everything due, earliest first, while slots are free.
        let free = concurrency.saturating_sub(running.len());
        for (id, slot) in slots.start_due(now, free) {
            pipeline
                .metrics
                .scheduler_lag((now - slot.due.max(started)).num_milliseconds() as f64 / 1000.0);
            let feed = slot.feed.clone();
            let pipeline = pipeline.clone();
            let handle = running.spawn(async move {
                let row = pipeline.store.feed_row(id).await?;
                pipeline.refresh_feed(&feed, &row).await
            });
            tasks.insert(handle.id(), id);
        }

        let next_wake = slots
            .next_due()
            .map(|t| (t - now).to_std().unwrap_or(Duration::ZERO))
            .unwrap_or(MAX_SLEEP)
            .min(MAX_SLEEP);
        // With every slot busy, only a finished job can free one.
        let sleep_for = if running.len() >= concurrency {
            MAX_SLEEP
        } else {
            next_wake
        };

        tokio::select! {
            _ = shutdown.cancelled() => break,
            changed = feeds.changed() => {
                if changed.is_ok() {
                    let next = feeds.borrow_and_update().clone();
                    if let Err(e) = plan(&pipeline, &mut slots, next).await {
                        error!(error = %e, "could not re-plan feeds after a reload; keeping the old plan");
                    } else {
                        info!(feeds = slots.len(), "feeds re-planned after reload");
                    }
                }
            }
            _ = replan.notified() => {
                if let Err(e) = replan_idle(&pipeline, &mut slots).await {
                    warn!(error = %e, "could not re-plan feeds after a WebSub change; keeping the old plan");
                }
            }
            Some(joined) = running.join_next_with_id(), if !running.is_empty() => {
                finish(&mut slots, &mut tasks, joined, &heartbeat, pipeline.store.path(), clock.now());
            }
            _ = tokio::time::sleep(sleep_for) => {}
        }
    }

    info!(
        in_flight = running.len(),
        "scheduler stopping; letting in-flight polls finish"
    );
    let drained = tokio::time::timeout(DRAIN_DEADLINE, async {
        while let Some(joined) = running.join_next_with_id().await {
            finish(
                &mut slots,
                &mut tasks,
                joined,
                &heartbeat,
                pipeline.store.path(),
                clock.now(),
            );
        }
    })
    .await;
    if drained.is_err() {
        warn!(
            abandoned = running.len(),
            "in-flight polls did not finish within {DRAIN_DEADLINE:?}; abandoning them (each fetch is stored whole or not at all)"
        );
        running.abort_all();
    }
    Ok(())
}

/// Makes `slots` match `feeds`: new feeds get a due time from the
/// archive (so their state survives a reload), removed ones are dropped (a
/// poll in flight finishes and is recorded), and changed ones take their
/// new config and schedule. Retired feeds (410) are left out.
async fn plan(
    pipeline: &Pipeline,
    slots: &mut Slots,
    feeds: Vec<(FeedConfig, FeedId)>,
) -> Result<(), StoreError> {
    // By id: a search of the list for each feed was quadratic, about 5
    // billion comparisons at start with 100,000 feeds.
    let rows: HashMap<FeedId, FeedRow> = pipeline
        .store
        .feed_rows()
        .await?
        .into_iter()
        .map(|r| (r.id, r))
        .collect();
    let now = pipeline.clock.now();
    let keep: std::collections::HashSet<FeedId> = feeds.iter().map(|(_, id)| *id).collect();
    slots.retain(|id| keep.contains(&id));
    for (feed, id) in feeds {
        let row = rows.get(&id);
        if let Some(r) = row.filter(|r| r.retired_at.is_some()) {
            info!(feed = %feed.name, reason = r.retired_reason.as_deref().unwrap_or("gone"), "feed retired; not polling it until its config changes");
            slots.remove(id);
            continue;
        }
        let due = row.map(FeedRow::poll_state).unwrap_or_default().next_due(
            &feed.schedule,
            feed.respect_hints,
            feed.push_fallback,
            now,
        );
        match slots.get(id) {
            Some(slot) => {
                if slot.feed != feed {
                    slots.set_due(id, due);
                }
                slots.set_feed(id, feed);
            }
            None => {
                slots.insert(
                    id,
                    Slot {
                        feed,
                        due,
                        running: false,
                    },
                );
            }
        }
    }
    Ok(())
}

/// Due times of the feeds not being polled, from the archive again (a
/// WebSub subscription started or ended: `PollState::pushed_until`).
async fn replan_idle(pipeline: &Pipeline, slots: &mut Slots) -> Result<(), StoreError> {
    let rows = pipeline.store.feed_rows().await?;
    let now = pipeline.clock.now();
    for row in rows {
        if let Some(slot) = slots.get(row.id).filter(|s| !s.running) {
            let due = row.poll_state().next_due(
                &slot.feed.schedule,
                slot.feed.respect_hints,
                slot.feed.push_fallback,
                now,
            );
            slots.set_due(row.id, due);
        }
    }
    Ok(())
}

fn finish(
    slots: &mut Slots,
    tasks: &mut HashMap<tokio::task::Id, FeedId>,
    joined: Result<(tokio::task::Id, Result<Refreshed, StoreError>), tokio::task::JoinError>,
    heartbeat: &Heartbeat,
    database: &std::path::Path,
    now: DateTime<Utc>,
) {
    let (task, result) = match joined {
        Ok((task, Ok(r))) => (task, Ok(r)),
        // With its causes: "failed to commit a fetch" alone does not say
        // the disk is full or the archive read-only.
        Ok((task, Err(e))) => (task, Err(error_chain(&e))),
        // Parsing is isolated already, so a panic here is a bug; the feed
        // still gets its next poll on schedule.
        Err(e) => (e.id(), Err(format!("poll task panicked: {e}"))),
    };
    let Some(id) = tasks.remove(&task) else {
        return;
    };
    let Some(slot) = slots.get(id) else {
        return;
    };
    match result {
        Ok(r) if r.outcome == Outcome::Gone => {
            log_refresh(&slot.feed.name, &r);
            warn!(feed = %slot.feed.name, "feed retired (410 Gone); not polling it until its config changes");
            slots.remove(id);
        }
        Ok(r) => {
            log_refresh(&slot.feed.name, &r);
            if r.error.is_none() {
                heartbeat.succeeded(now);
            }
            slots.finished(id, r.next_due);
        }
        Err(e) => {
            // Nothing was recorded, so the archive's plan is stale: try
            // again at the next firing.
            let due = PollState {
                last_attempt: Some(now),
                ..PollState::default()
            }
            .next_due(
                &slot.feed.schedule,
                slot.feed.respect_hints,
                slot.feed.push_fallback,
                now,
            );
            // Nothing of it was kept, validators included: the next poll
            // fetches the whole document again, so nothing is lost.
            error!(feed = %slot.feed.name, database = %database.display(), error = %e, "poll could not be written to the archive; fetching it again at its next poll");
            slots.finished(id, due);
        }
    }
}

/// One line per poll per feed; a failure or a pause also names the
/// address asked, which an "HTTP 404" alone does not.
pub fn log_refresh(feed: &str, r: &Refreshed) {
    match (&r.error, r.outcome) {
        (None, _) => info!(
            feed,
            result = r.outcome.as_str(),
            status = r.status,
            new = r.summary.new,
            updated = r.summary.updated,
            merged = r.summary.merged,
            elapsed_ms = r.elapsed_ms as u64,
            next = %r.next_due,
            "polled"
        ),
        // Not a failure: the site asked us to wait (or another feed's
        // answer did), and we do.
        (Some(error), Outcome::Throttled { until } | Outcome::Deferred { until }) => info!(
            feed,
            result = r.outcome.as_str(),
            url = %r.url,
            status = r.status,
            reason = %error,
            %until,
            "paused by its site"
        ),
        // Retired: there is no next poll to name.
        (Some(error), Outcome::Gone | Outcome::Retired) => warn!(
            feed,
            result = r.outcome.as_str(),
            url = %r.url,
            status = r.status,
            error = %error,
            elapsed_ms = r.elapsed_ms as u64,
            "poll failed"
        ),
        (Some(error), _) => warn!(
            feed,
            result = r.outcome.as_str(),
            url = %r.url,
            status = r.status,
            error = %error,
            elapsed_ms = r.elapsed_ms as u64,
            next = %r.next_due,
            "poll failed"
        ),
    }
}

/// How many feeds' rows `poll_once` reads at a time.
const ROW_CHUNK: usize = 256;

/// One pass over `feeds` now, at most `concurrency` at a time; results in
/// the order given.
pub async fn poll_once(
    pipeline: &Pipeline,
    feeds: Vec<(FeedConfig, FeedId)>,
    concurrency: usize,
) -> Vec<(String, Result<Refreshed, StoreError>)> {
    let started = std::time::Instant::now();
    let limit = Arc::new(tokio::sync::Semaphore::new(concurrency));
    let mut set = JoinSet::new();
    let mut out = Vec::new();
    let mut feeds = feeds.into_iter().enumerate().peekable();
    while feeds.peek().is_some() {
        // The rows a chunk at a time: one read per feed was a trip to the
        // blocking pool and a read transaction each, a sixth of a re-poll.
        let chunk: Vec<_> = feeds.by_ref().take(ROW_CHUNK).collect();
        let mut rows: HashMap<FeedId, FeedRow> = match pipeline
            .store
            .feed_rows_of(chunk.iter().map(|(_, (_, id))| *id).collect())
            .await
        {
            Ok(rows) => rows.into_iter().map(|r| (r.id, r)).collect(),
            // Each feed then reads its own row, and reports its own error.
            Err(_) => HashMap::new(),
        };
        for (i, (feed, id)) in chunk {
            // Take the slot before spawning: with 10,000 feeds, 10,000
            // parked poll futures would cost more memory than the polls.
            let permit = Arc::clone(&limit)
                .acquire_owned()
                .await
                .expect("semaphore never closed");
            while let Some(joined) = set.try_join_next() {
                match joined {
                    Ok(done) => out.push(done),
                    Err(e) => error!(error = %e, "a poll task panicked"),
                }
            }
            let pipeline = pipeline.clone();
            let row = rows.remove(&id);
            set.spawn(async move {
                let _permit = permit;
                let result = match row {
                    Some(row) => pipeline.refresh_feed(&feed, &row).await,
                    // Not read above: ask again, for this feed's own error.
                    None => match pipeline.store.feed_row(id).await {
                        Ok(row) => pipeline.refresh_feed(&feed, &row).await,
                        Err(e) => Err(e),
                    },
                };
                (i, feed.name, result)
            });
        }
    }
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok(done) => out.push(done),
            Err(e) => error!(error = %e, "a poll task panicked"),
        }
    }
    let polled = started.elapsed();
    // What the last fetches queued for search is searchable when the
    // poll returns.
    if let Err(e) = pipeline.store.index_for_search().await {
        error!(error = %e, "could not index this poll's items for search; the next open will");
    }
    info!(
        feeds = out.len(),
        poll_ms = polled.as_millis() as u64,
        search_index_ms = (started.elapsed() - polled).as_millis() as u64,
        "poll pass finished"
    );
    out.sort_by_key(|(i, _, _)| *i);
    out.into_iter().map(|(_, name, r)| (name, r)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::{Schedule, TimeZone};

    fn feed(name: &str) -> FeedConfig {
        FeedConfig {
            name: name.into(),
            url: format!("http://127.0.0.1:9/{name}").parse().unwrap(),
            url_template: None,
            filled: Default::default(),
            schedule: Schedule::parse("*/15 * * * *", TimeZone::Utc).unwrap(),
            tags: Vec::new(),
            user_agent: None,
            respect_hints: true,
            fulltext: false,
            push_fallback: None,
        }
    }

    fn at(minute: u32) -> DateTime<Utc> {
        use chrono::TimeZone as _;
        Utc.with_ymd_and_hms(2026, 1, 1, 0, minute, 0).unwrap()
    }

    fn idle(due: DateTime<Utc>) -> Slot {
        Slot {
            feed: feed("f"),
            due,
            running: false,
        }
    }

    /// The due-time index follows every change of a slot: dispatch takes
    /// the earliest due first and only what is due, running slots are
    /// never dispatched twice, and a finished or moved slot is found at
    /// its new time.
    #[test]
    fn slots_dispatch_earliest_due_first_and_track_every_change() {
        let mut slots = Slots::default();
        slots.insert(FeedId(1), idle(at(30)));
        slots.insert(FeedId(2), idle(at(10)));
        slots.insert(FeedId(3), idle(at(20)));
        slots.insert(FeedId(4), idle(at(50)));
        assert_eq!(slots.next_due(), Some(at(10)));

        let ids = |v: Vec<(FeedId, &Slot)>| v.into_iter().map(|(id, _)| id).collect::<Vec<_>>();
        assert_eq!(ids(slots.start_due(at(40), 2)), [FeedId(2), FeedId(3)]);
        // Running slots are not due again; the limit and the clock hold.
        assert_eq!(ids(slots.start_due(at(40), 5)), [FeedId(1)]);
        assert!(slots.start_due(at(40), 5).is_empty());
        assert_eq!(slots.next_due(), Some(at(50)));

        // A running slot's new due time counts only once it finishes.
        slots.set_due(FeedId(2), at(5));
        assert_eq!(slots.next_due(), Some(at(50)));
        slots.finished(FeedId(2), at(45));
        assert_eq!(slots.next_due(), Some(at(45)));

        // Moving, removing and retaining idle slots keep the index exact.
        slots.set_due(FeedId(4), at(1));
        assert_eq!(slots.next_due(), Some(at(1)));
        slots.remove(FeedId(4));
        slots.retain(|id| id != FeedId(3));
        assert_eq!(slots.len(), 2);
        slots.finished(FeedId(1), at(59));
        assert_eq!(ids(slots.start_due(at(59), 9)), [FeedId(2), FeedId(1)]);
        assert_eq!(slots.next_due(), None);
        assert_eq!(slots.idle.len(), 0);
    }
}
