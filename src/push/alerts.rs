//! The alert sender: delivers the outbox (`store::alerts`) to webhooks.
//!
//! Each pending message whose time has come is composed from the archive
//! (`push::message`), POSTed with an `Idempotency-Key` (`alert:uid`) and,
//! when the alert has a secret, `X-Tickerfeed-Signature: sha256=<hex
//! HMAC-SHA256 of the body>`, and deleted only after a 2xx answer. Any
//! other answer or a network error is counted and retried after an
//! exponential backoff with jitter, never sooner than a `Retry-After`
//! asks (obeyed for up to an hour); once the next attempt would fall more
//! than `retry_for_hours` after the item was archived, or after
//! `tickerfeed alerts retry` last put the message back (its window starts
//! afresh: `OutboxRow::window_from`), the message is kept as `failed`. A
//! destination refused by the SSRF guard (`push::guard`) fails at once.
//!
//! An alert with `max_per_hour` POSTs at most that many messages in any
//! hour, whatever the receiver answers: when more are due than it has
//! room for, the last slot carries one summary of the rest of the pass's
//! batch (`message::compose_summary`; any beyond `BATCH` wait for the
//! next slot), and when it has no room they wait for the hour to move
//! on. Nothing is dropped. The count is also kept in the archive
//! (`alert_sends`), so a restart resumes it.
//!
//! Each alert's share of a pass is sent by a task of its own, its
//! messages in the order they are due, and an alert gets no new share
//! while one is in flight; so a receiver that hangs until the send timeout
//! (`push::webhook`) delays only its own alert: the other alerts' messages,
//! those queued meanwhile included, go in the next passes. When a receiver
//! fails a message (answers other than 2xx, [`Delivery::Retry`], or not
//! at all, [`Delivery::Unanswered`]; a first refusal of a message's own
//! content, [`Delivery::Rejected`], excepted), its alert's other due messages are
//! not tried in that pass: they stay pending, their attempts uncounted,
//! held until the failed message's retry (held in the transaction that
//! records it, so a stop cannot come between), and so are those queued
//! meanwhile. So the backoff and a `Retry-After` hold back the alert,
//! not one message of it, and a receiver that was down gets the alert's
//! messages in the order they were archived once it is back.
//!
//! The messages of an alert removed from the config wait for it to come
//! back for a day (`REMOVED_WAIT`) after they were queued, then are kept as
//! failed. The sender looks for them at most once a minute, reading: the
//! writer is taken only when there are some. A reload that gives an alert
//! another URL makes its waiting messages due there at once; with a share
//! in flight, that share sends no more to the old URL, and what waits goes
//! to the new one as soon as its message in flight is answered. (A start
//! with another URL does the same before the sender runs, `app::open`.)
//!
//! Delivery is at least once: a message whose 2xx arrived but whose
//! deletion did not (a crash in between) is sent again, with the same
//! key. Shutdown cancels whatever is in flight; its row stays pending. How
//! a message ended is recorded in one transaction (a summary's rows all
//! leave the outbox at once; an unanswered message's retry and the hold
//! on its alert's others go together), so a stop cannot split it. A
//! share that panics (a bug) is logged as an error naming its alert, and
//! each message it had not settled counts a failed attempt, retried after
//! the backoff like any other, not at once in a loop.
//!
//! `tickerfeed_alert_deliveries_total` counts a message as the archive
//! records its outcome, on the writer's thread once that transaction
//! commits (`Courier::record`): so it counts what the archive counted, a
//! message a stop cut while its outcome was being written included, and
//! not a message whose rows were settled meanwhile (gone, or counted
//! already by a share that panicked).
//!
//! Due times are wall times (the [`Clock`](crate::clock::Clock)), so they
//! survive restarts; waiting is done with tokio timers, at most
//! [`IDLE_CHECK`] at a time, so messages queued by another process (a
//! `tickerfeed poll`) or a clock that jumped are noticed.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};

use super::message::{self, AlertItem, Message};
use super::unrecorded::Unrecorded;
use super::webhook::{Clients, Delivery, classify, jitter_fraction, next_attempt};
pub use super::webhook::{SenderError, signature};
use crate::clock::SharedClock;
use crate::config::AlertConfig;
use crate::metrics::Metrics;
use crate::model::Entry;
use crate::store::{OutboxRow, RecentQuery, Store, StoreError};

/// The longest the sender sleeps without looking at the outbox.
pub const IDLE_CHECK: Duration = Duration::from_secs(5);
/// Messages read from the outbox at once.
const BATCH: usize = 50;
/// How long the messages of an alert removed from the config wait for it
/// to come back, from when they were queued: the default
/// `retry_for_hours`. Then they are kept as failed, like any message out
/// of retries, instead of waiting (and keeping their items from
/// retention, and counting as pending in `/metrics`) for ever.
const REMOVED_WAIT: chrono::Duration = chrono::Duration::hours(24);
/// How often the sender looks for such messages: they wait a day, so a
/// minute late is nothing, and the idle loop passes every few seconds.
const ORPHAN_CHECK: chrono::Duration = chrono::Duration::minutes(1);

#[derive(Clone)]
struct Target {
    config: AlertConfig,
    client: reqwest::Client,
}

/// What delivering a message takes: cheap to clone, so that each alert's
/// share of a pass runs as a task of its own.
#[derive(Clone)]
struct Courier {
    store: Store,
    clock: SharedClock,
    metrics: Arc<Metrics>,
}

/// Delivers alert messages until `shutdown`.
pub struct Sender {
    courier: Courier,
    /// Kept to build targets again on reload.
    clients: Clients,
    targets: HashMap<String, Target>,
    names: Vec<String>,
    /// Per capped alert, when its recent messages were POSTed, whatever
    /// the answer (the last hour's; also recorded in the archive, so a
    /// restart resumes the count).
    sent: HashMap<String, VecDeque<DateTime<Utc>>>,
    /// When [`Sender::fail_orphans`] last looked.
    orphans_checked: Option<DateTime<Utc>>,
    /// Per alert, how its messages ended where the archive refused to
    /// record it: the alert gets no share until they are written, so a
    /// message delivered is not sent again, and one failed holds the
    /// alert as its record would have.
    unrecorded: Unrecorded<String, Unwritten>,
}

/// How one message (a row, or a summary's rows) ended, where the archive
/// refused to record it: written again later ([`Sender::write_unrecorded`]).
struct Unwritten {
    /// The alert as the message was sent (a reload may change or remove it
    /// meanwhile): its `retry_for` sets the retry of a failure.
    target: Target,
    rows: Vec<OutboxRow>,
    outcome: Delivery,
}

/// How an alert's share of a pass ended: the alert, how many messages it
/// POSTed that count against `max_per_hour`, the pass's time, and the
/// outcomes the archive refused to record.
type ShareDone = (String, usize, DateTime<Utc>, Vec<Unwritten>);

/// The alerts' shares of passes still being sent, each a task: an alert
/// with one in flight gets no other until it ends.
#[derive(Default)]
struct InFlight {
    tasks: JoinSet<ShareDone>,
    alerts: HashMap<tokio::task::Id, String>,
    /// Per share, the messages it was handed (a row each, then a
    /// summary's rows): those it had not settled when it panicked count a
    /// failed attempt each ([`Courier::share_panicked`]).
    messages: HashMap<tokio::task::Id, Vec<Vec<OutboxRow>>>,
    /// Per alert in flight, cancelled when a reload points it at another
    /// URL: its share sends no more to the old one.
    moving: HashMap<String, CancellationToken>,
    /// Alerts a reload pointed at another URL while their share was in
    /// flight: what waits for them is made due at the new one once the
    /// share ends, so the backoff or hold it earned at the old URL does
    /// not stand ([`Sender::moved`]).
    moved: HashSet<String>,
}

impl InFlight {
    fn busy(&self, alert: &str) -> bool {
        self.alerts.values().any(|a| a == alert)
    }
}

impl Sender {
    /// A sender for `alerts`, through `clients` (the daemon's one pair,
    /// shared with WebSub).
    pub fn new(
        store: Store,
        clock: SharedClock,
        metrics: Arc<Metrics>,
        alerts: &[AlertConfig],
        clients: Clients,
    ) -> Sender {
        let mut sender = Sender {
            courier: Courier {
                store,
                clock,
                metrics,
            },
            clients,
            targets: HashMap::new(),
            names: Vec::new(),
            sent: HashMap::new(),
            orphans_checked: None,
            unrecorded: Unrecorded::default(),
        };
        sender.configure(alerts);
        sender
    }

    /// Sends for `alerts` from now on (a reload). An alert that stays keeps
    /// its hourly window; one that goes stops sending, and its messages
    /// wait in the outbox in case it comes back (for [`REMOVED_WAIT`]).
    /// Returns the alerts that stay with another `url`: what waits for
    /// them goes there (see [`Sender::moved`]).
    fn configure(&mut self, alerts: &[AlertConfig]) -> Vec<String> {
        let moved = alerts
            .iter()
            .filter(|a| {
                self.targets
                    .get(&a.name)
                    .is_some_and(|t| t.config.url != a.url)
            })
            .map(|a| a.name.clone())
            .collect();
        self.targets = alerts
            .iter()
            .map(|a| {
                (
                    a.name.clone(),
                    Target {
                        config: a.clone(),
                        client: self.clients.pick(a.allow_private).clone(),
                    },
                )
            })
            .collect();
        self.names = alerts.iter().map(|a| a.name.clone()).collect();
        self.sent.retain(|name, _| self.targets.contains_key(name));
        moved
    }

    /// The alerts `names` were pointed at a new URL: their waiting
    /// messages are due now, there. The backoff (or `Retry-After`, or the
    /// wait for a receiver that did not answer) was earned at the old
    /// URL, and the new one may well answer at once: an operator who
    /// fixed the URL expects the backlog now, not in up to an hour.
    async fn moved(&self, names: &[String]) {
        let now = self.courier.clock.now();
        for name in names {
            match self.courier.store.alert_messages_due(name, now).await {
                Ok(0) => {}
                Ok(n) => {
                    info!(alert = %name, messages = n, "alert URL changed: its waiting messages are sent there now")
                }
                Err(e) => {
                    warn!(alert = %name, error = %e, "could not send an alert's waiting messages to its new URL now; they go at their retries")
                }
            }
        }
    }

    /// `tickerfeed alerts test NAME`: sends alert `name`'s message for the
    /// newest item its selection shows, now, outside the outbox, with the
    /// idempotency key `name:test-<uid>` (so a receiver never mistakes it
    /// for a real message), and says how the receiver answered.
    pub async fn send_test(&self, name: &str) -> Result<String, String> {
        let target = self
            .targets
            .get(name)
            .ok_or_else(|| format!("no alert is named {name:?}"))?;
        let query = RecentQuery {
            selection: target.config.selection.clone(),
            ..RecentQuery::newest(1)
        };
        let reading = |e: StoreError| format!("reading the archive: {e}");
        let entry = self
            .courier
            .store
            .recent(query)
            .await
            .map_err(reading)?
            .pop()
            .ok_or("the archive holds no item this alert would send yet")?;
        // Dated as the real message is: when the item was archived.
        let archived_at = self
            .courier
            .store
            .item_history(entry.uid())
            .await
            .map_err(reading)?
            .and_then(|history| history.first_seen)
            .unwrap_or_else(|| self.courier.clock.now());
        let item = self
            .courier
            .alert_item(entry, archived_at)
            .await
            .map_err(reading)?;
        let key = message::test_key(name, item.entry.uid());
        let msg = message::compose_as(&target.config, &item, &key);
        match self.courier.post(target, &key, msg).await {
            Delivery::Delivered => Ok(format!("delivered ({:?}, key {key})", item.entry.title)),
            Delivery::Retry { error, retry_after } => Err(match retry_after {
                Some(d) => format!("{error} (Retry-After {} s)", d.as_secs()),
                None => error,
            }),
            Delivery::Unanswered(error) | Delivery::Rejected(error) => Err(error),
            Delivery::Refused(why) => Err(why),
        }
    }

    /// Sends what is due, then sleeps until the next message is due, a
    /// fetch queues one, a capped alert may send again, or [`IDLE_CHECK`]
    /// passes; until `shutdown`.
    pub async fn run(
        mut self,
        mut alerts: watch::Receiver<Vec<AlertConfig>>,
        shutdown: CancellationToken,
    ) {
        let signal = self.courier.store.outbox_signal();
        // Dropped at shutdown, which cuts what is in flight: its rows
        // stay pending.
        let mut in_flight = InFlight::default();
        self.resume_windows().await;
        info!(alerts = self.names.len(), "alert sender running");
        loop {
            self.write_unrecorded().await;
            let now = self.courier.clock.now();
            // Alerts at their hourly cap wait for the window to move; the
            // others are read and waited on as usual.
            let held: HashMap<String, DateTime<Utc>> = self
                .targets
                .iter()
                .filter_map(|(name, t)| {
                    let cap = t.config.max_per_hour?;
                    let window = self.sent.get(name)?;
                    released_at(window, cap, now).map(|at| (name.clone(), at))
                })
                .collect();
            let open: Vec<String> = self
                .names
                .iter()
                .filter(|n| {
                    !held.contains_key(*n) && !in_flight.busy(n) && !self.unrecorded.holds(n)
                })
                .cloned()
                .collect();
            let sent = tokio::select! {
                _ = shutdown.cancelled() => break,
                sent = self.send_due(&open, &mut in_flight) => sent,
            };
            if sent > 0 {
                continue;
            }
            self.fail_orphans().await;
            let next_due = match self.courier.store.next_alert_due(&open).await {
                Ok(at) => at,
                Err(e) => {
                    warn!(error = %e, "could not read the alert outbox");
                    None
                }
            };
            let wait = next_due
                .into_iter()
                .chain(held.values().copied())
                .chain(self.unrecorded.next_write())
                .min()
                .map_or(IDLE_CHECK, |at| {
                    (at - self.courier.clock.now())
                        .to_std()
                        .unwrap_or(Duration::ZERO)
                        .clamp(Duration::from_millis(50), IDLE_CHECK)
                });
            tokio::select! {
                _ = shutdown.cancelled() => break,
                Some(done) = in_flight.tasks.join_next_with_id() => {
                    if let Some(moved) = self.share_done(&mut in_flight, done).await {
                        self.moved(&[moved]).await;
                    }
                }
                _ = signal.notified() => {}
                // A closed channel means no more reloads, not a stop.
                Ok(()) = alerts.changed() => {
                    let new = alerts.borrow_and_update().clone();
                    let (later, now): (Vec<String>, Vec<String>) = self
                        .configure(&new)
                        .into_iter()
                        .partition(|name| in_flight.busy(name));
                    self.moved(&now).await;
                    for name in later {
                        if let Some(stop) = in_flight.moving.get(&name) {
                            stop.cancel();
                        }
                        in_flight.moved.insert(name);
                    }
                    info!(alerts = self.names.len(), "alert sender reconfigured");
                }
                _ = tokio::time::sleep(wait) => {}
            }
        }
        debug!("alert sender stopped");
    }

    /// Keeps as failed the messages of alerts no longer configured that
    /// waited [`REMOVED_WAIT`] for them to come back; looks at most once
    /// every [`ORPHAN_CHECK`] (of the clock, so a clock that jumped is
    /// noticed at once).
    async fn fail_orphans(&mut self) {
        let now = self.courier.clock.now();
        if self
            .orphans_checked
            .is_some_and(|at| at <= now && now - at < ORPHAN_CHECK)
        {
            return;
        }
        self.orphans_checked = Some(now);
        let before = now - REMOVED_WAIT;
        match self
            .courier
            .store
            .alert_messages_orphaned(&self.names, before)
            .await
        {
            Ok(failed) => {
                for (alert, n) in failed {
                    warn!(alert = %alert, messages = n, "alert removed from the config: its unsent messages waited a day for it to come back and are kept as failed");
                    for _ in 0..n {
                        self.courier.metrics.alert_delivery(&alert, FAILED);
                    }
                }
            }
            Err(e) => warn!(error = %e, "could not look for removed alerts' messages"),
        }
    }

    /// Reads the last hour's sends of capped alerts from the archive, so a
    /// restart does not grant a fresh hour. Unreadable: start from empty
    /// windows (the cap then counts from now), which loses no message.
    async fn resume_windows(&mut self) {
        let since = self.courier.clock.now() - chrono::Duration::hours(1);
        match self.courier.store.alert_sends_since(since).await {
            Ok(sends) => {
                for (alert, at) in sends {
                    if self.targets.contains_key(&alert) {
                        self.sent.entry(alert).or_default().push_back(at);
                    }
                }
            }
            Err(e) => {
                warn!(error = %e, "could not read recent alert sends; the hourly caps start afresh")
            }
        }
    }

    /// One pass over the due messages of the alerts named `open`: each
    /// alert's share is sent by a task of its own (`in_flight`), so a
    /// receiver that hangs until the send timeout holds up no other
    /// alert, this pass's or the next's. Returns how many messages were
    /// handed out.
    async fn send_due(&mut self, open: &[String], in_flight: &mut InFlight) -> usize {
        let now = self.courier.clock.now();
        let rows = match self.courier.store.due_alerts(open, now, BATCH).await {
            Ok(rows) => rows,
            Err(e) => {
                warn!(error = %e, "could not read the alert outbox");
                return 0;
            }
        };
        // Per alert, in the order they are due.
        let mut by_alert: Vec<(String, Vec<OutboxRow>)> = Vec::new();
        for row in rows {
            match by_alert.iter_mut().find(|(a, _)| *a == row.alert) {
                Some((_, list)) => list.push(row),
                None => by_alert.push((row.alert.clone(), vec![row])),
            }
        }
        let mut handed = 0;
        for (alert, list) in by_alert {
            let Some(target) = self.targets.get(&alert) else {
                continue;
            };
            // What an alert may send under its cap is settled before its
            // share goes: none of its others is in flight meanwhile.
            let (single, summary) = match target.config.max_per_hour {
                None => (list.len(), 0),
                Some(cap) => split(
                    list.len(),
                    room(self.sent.entry(alert.clone()).or_default(), cap, now),
                ),
            };
            if single + summary == 0 {
                continue;
            }
            handed += single + summary;
            let (courier, target) = (self.courier.clone(), target.clone());
            let moving = CancellationToken::new();
            let stop = moving.clone();
            let mut messages: Vec<Vec<OutboxRow>> =
                list[..single].iter().map(|r| vec![r.clone()]).collect();
            if summary > 0 {
                messages.push(list[single..single + summary].to_vec());
            }
            let task = in_flight.tasks.spawn(async move {
                let (n, unwritten) = courier
                    .send_share(&target, &list, single, summary, now, &stop)
                    .await;
                (target.config.name, n, now, unwritten)
            });
            in_flight.alerts.insert(task.id(), alert.clone());
            in_flight.messages.insert(task.id(), messages);
            in_flight.moving.insert(alert, moving);
        }
        handed
    }

    /// An alert's share ended (`done`): what it sent counts against
    /// its hourly cap, and it may be sent to again. Returns the alert when
    /// a reload pointed it at another URL meanwhile.
    ///
    /// A share that panicked (a bug: nothing a receiver answers should
    /// panic) counts a failed attempt for each message it had not settled
    /// (a row, or a summary's rows), with the usual backoff: left due, they
    /// were handed to a new share at once, which would panic again, in a
    /// loop.
    async fn share_done(
        &mut self,
        in_flight: &mut InFlight,
        done: Result<(tokio::task::Id, ShareDone), tokio::task::JoinError>,
    ) -> Option<String> {
        let alert = match done {
            Ok((id, (alert, n, at, unwritten))) => {
                in_flight.alerts.remove(&id);
                in_flight.messages.remove(&id);
                if n > 0 {
                    let window = self.sent.entry(alert.clone()).or_default();
                    window.extend(std::iter::repeat_n(at, n));
                }
                self.keep_unwritten(&alert, unwritten);
                alert
            }
            Err(e) => {
                let alert = in_flight.alerts.remove(&e.id()).unwrap_or_default();
                let messages = in_flight.messages.remove(&e.id()).unwrap_or_default();
                error!(alert = %alert, error = %e, "an alert delivery task failed; its unsent messages are retried after a backoff");
                // An alert a reload removed meanwhile has none: its rows
                // wait for it to come back, as its other messages do.
                if let Some(target) = self.targets.get(&alert) {
                    let error = format!("tickerfeed failed sending this ({e})");
                    let unwritten = self.courier.share_panicked(target, &messages, &error).await;
                    self.keep_unwritten(&alert, unwritten);
                }
                alert
            }
        };
        in_flight.moving.remove(&alert);
        in_flight.moved.remove(&alert).then_some(alert)
    }

    /// `alert`'s messages whose outcome the archive refused: kept until
    /// written, and the alert gets no share meanwhile.
    fn keep_unwritten(&mut self, alert: &str, unwritten: Vec<Unwritten>) {
        let now = self.courier.clock.now();
        for u in unwritten {
            self.unrecorded.keep(alert.to_string(), u, now);
        }
    }

    /// Records again the outcomes the archive refused, those whose backoff
    /// passed; an alert whose outcomes are all written is sent to again.
    async fn write_unrecorded(&mut self) {
        let courier = &self.courier;
        let now = courier.clock.now();
        self.unrecorded
            .write_due(now, |alert, u| async move {
                let rows: Vec<&OutboxRow> = u.rows.iter().collect();
                match courier.record(&u.target, &rows, u.outcome.clone()).await {
                    Ok(_) => {
                        info!(alert = %alert, items = rows.len(), "alert delivery recorded after the archive refused it");
                        None
                    }
                    Err(e) => {
                        warn!(alert = %alert, error = %e, "still could not record an alert delivery; the alert waits (its message is not sent again) and the write is retried");
                        Some(u)
                    }
                }
            })
            .await;
    }
}

impl Courier {
    /// A capped alert POSTed a message at `now` (whatever the answer): it
    /// counts for the next hour in the archive (the sender adds it to the in-memory window once
    /// the alert's share is done, `Sender::share_done`).
    async fn count_send(&self, alert: &str, now: DateTime<Utc>) {
        if let Err(e) = self.store.alert_sent(alert, now).await {
            warn!(alert = %alert, error = %e, "could not record an alert send; a restart within the hour may allow more than max_per_hour");
        }
    }

    /// One alert's share of a pass: `rows[..single]` one by one, then the
    /// rest as one summary when `summary` says so; for a capped alert, how
    /// many messages it POSTed, which count against `max_per_hour`
    /// whatever the answer (so a failing receiver gets no more requests
    /// an hour than one that accepts them).
    ///
    /// When the receiver fails a message (answers other than 2xx, or not
    /// at all), the alert's remaining rows are not tried in this pass:
    /// they stay pending, uncounted, held until that message's retry, so
    /// the backoff (or `Retry-After`) holds back the alert, not one
    /// message of it. The first message of a share it rejects for its
    /// content ([`Delivery::Rejected`]) holds nothing; a second does.
    ///
    /// Also returns the outcomes the archive refused to record: the share
    /// ends at the first, as the alert waits until they are written.
    async fn send_share(
        &self,
        target: &Target,
        rows: &[OutboxRow],
        single: usize,
        summary: usize,
        now: DateTime<Utc>,
        moved: &CancellationToken,
    ) -> (usize, Vec<Unwritten>) {
        let capped = target.config.max_per_hour.is_some();
        let mut posted = 0;
        let mut rejected = false;
        let mut unwritten = Vec::new();
        for row in &rows[..single] {
            // A reload pointed the alert elsewhere: the rest wait for the
            // new URL (made due there once this share ends).
            if moved.is_cancelled() {
                return (posted, unwritten);
            }
            let (outcome, sent) = self.deliver(target, row).await;
            // A second rejection in one share: the receiver refuses more
            // than one message's content (a format or a topic it does not
            // take), so the alert is held as for any failure; else a
            // receiver answering 400 to everything would get the whole
            // backlog at every pass.
            let outcome = match outcome {
                Delivery::Rejected(error) if rejected => Delivery::Retry {
                    error,
                    retry_after: None,
                },
                other => other,
            };
            rejected |= matches!(outcome, Delivery::Rejected(_));
            let failed = holds_the_alert(&outcome);
            // The outcome first: a stop while the writer is busy must not
            // leave the cap counted and the message's fate unrecorded.
            let refused = self
                .write_or_keep(target, vec![row.clone()], outcome, &mut unwritten)
                .await;
            if sent && capped {
                self.count_send(&target.config.name, now).await;
                posted += 1;
            }
            if failed || refused {
                // `record` held the others until the retry, or the alert
                // waits until the archive takes the outcome.
                return (posted, unwritten);
            }
        }
        if summary > 0
            && !moved.is_cancelled()
            && self
                .deliver_summary(target, &rows[single..], &mut unwritten)
                .await
            && capped
        {
            self.count_send(&target.config.name, now).await;
            posted += 1;
        }
        (posted, unwritten)
    }

    /// Records how the message of `rows` ended; when the archive refuses,
    /// keeps it in `unwritten` (to be written again, and the message not
    /// sent again meanwhile) and says so.
    async fn write_or_keep(
        &self,
        target: &Target,
        rows: Vec<OutboxRow>,
        outcome: Delivery,
        unwritten: &mut Vec<Unwritten>,
    ) -> bool {
        let refs: Vec<&OutboxRow> = rows.iter().collect();
        match self.record(target, &refs, outcome.clone()).await {
            Ok(_) => false,
            Err(e) => {
                warn!(alert = %target.config.name, items = rows.len(), error = %e, "could not record an alert delivery; the alert waits (its message is not sent again) and the write is retried");
                unwritten.push(Unwritten {
                    target: target.clone(),
                    rows,
                    outcome,
                });
                true
            }
        }
    }

    /// `entry` as an alert tells of it, first archived at `archived_at`:
    /// with the symbols the archive records it mentions, which its snapshot
    /// lacks when the board had no price for them.
    async fn alert_item(
        &self,
        entry: Entry,
        archived_at: DateTime<Utc>,
    ) -> Result<AlertItem, StoreError> {
        let mentions = self.store.item_mentions(entry.uid()).await?;
        Ok(AlertItem {
            entry,
            mentions,
            archived_at,
        })
    }

    /// The item `row` stands for, or how this delivery ends without it.
    async fn item(&self, row: &OutboxRow) -> Result<AlertItem, Delivery> {
        let query = RecentQuery {
            uid: Some(row.item_uid.clone()),
            ..RecentQuery::newest(1)
        };
        let retry = |e: StoreError| Delivery::Retry {
            error: format!("reading the item: {e}"),
            retry_after: None,
        };
        match self.store.recent(query).await {
            Ok(mut entries) if !entries.is_empty() => self
                .alert_item(entries.remove(0), row.created_at)
                .await
                .map_err(retry),
            Ok(_) => Err(Delivery::Refused(
                "the item is no longer in the archive".into(),
            )),
            Err(e) => Err(retry(e)),
        }
    }

    /// Sends `row`'s message: how it ended, and whether it was POSTed.
    async fn deliver(&self, target: &Target, row: &OutboxRow) -> (Delivery, bool) {
        let item = match self.item(row).await {
            Ok(item) => item,
            Err(outcome) => return (outcome, false),
        };
        let msg = message::compose(&target.config, &item);
        let key = message::idempotency_key(&target.config.name, &row.item_uid);
        let outcome = self.post(target, &key, msg).await;
        let sent = !matches!(outcome, Delivery::Refused(_));
        (outcome, sent)
    }

    /// Sends `rows` as one summary message; its rows are recorded with the
    /// outcome together, and the message is counted once in the metrics
    /// (retried when any of its rows will be). True when it was POSTed.
    /// Outcomes the archive refused go to `unwritten`.
    async fn deliver_summary(
        &self,
        target: &Target,
        rows: &[OutboxRow],
        unwritten: &mut Vec<Unwritten>,
    ) -> bool {
        let mut items = Vec::new();
        let mut included = Vec::new();
        for row in rows {
            match self.item(row).await {
                Ok(item) => {
                    items.push(item);
                    included.push(row.clone());
                }
                // Ends without being sent, as it would alone.
                Err(outcome) => {
                    self.write_or_keep(target, vec![row.clone()], outcome, unwritten)
                        .await;
                }
            }
        }
        if items.is_empty() {
            return false;
        }
        let (key, msg) = message::compose_summary(&target.config, &items);
        let outcome = self.post(target, &key, msg).await;
        let sent = !matches!(outcome, Delivery::Refused(_));
        if outcome == Delivery::Delivered {
            info!(alert = %target.config.name, items = items.len(), "alert summary sent (max_per_hour)");
        }
        // All its rows leave the outbox in one transaction, or count the
        // failed attempt in one: deleted one by one, a stop in between (it
        // cuts the share) left the rest pending, and they went again under
        // other keys (alone, or in another summary), which a receiver
        // cannot drop.
        self.write_or_keep(target, included, outcome, unwritten)
            .await;
        sent
    }

    async fn post(&self, target: &Target, key: &str, msg: Message) -> Delivery {
        if let Some(refused) = Clients::refusal(&msg.url, target.config.allow_private) {
            return refused;
        }
        let mut req = target
            .client
            .post(msg.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("Idempotency-Key", key);
        if let Some(secret) = &target.config.secret {
            req = req.header(
                "X-Tickerfeed-Signature",
                signature(secret.expose(), &msg.body),
            );
        }
        classify(req.body(msg.body).send().await, self.clock.now())
    }

    /// A share for `target` panicked: each of its `messages` (a row, or
    /// a summary's rows) it had not settled (delivered, or recorded as
    /// failed) counts a failed attempt with `error`, as [`Courier::record`]
    /// counts any: retried after the backoff, or kept as failed once out of
    /// retries, and one message in the metrics however many rows it holds.
    /// Returns those the archive refused to record.
    async fn share_panicked(
        &self,
        target: &Target,
        messages: &[Vec<OutboxRow>],
        error: &str,
    ) -> Vec<Unwritten> {
        let mut unwritten = Vec::new();
        for message in messages {
            let outcome = Delivery::Retry {
                error: error.to_string(),
                retry_after: None,
            };
            self.write_or_keep(target, message.clone(), outcome, &mut unwritten)
                .await;
        }
        unwritten
    }

    /// Records how the delivery of one message (a row, or a summary's
    /// `rows`) ended, and counts the message in the metrics as the archive
    /// counted it ([`Courier::count_failed`]). Returns when the message is
    /// to be tried again, if the archive counted the attempt and it is.
    async fn record(
        &self,
        target: &Target,
        rows: &[&OutboxRow],
        outcome: Delivery,
    ) -> Result<Option<DateTime<Utc>>, crate::store::StoreError> {
        let alert = &target.config.name;
        // Its receiver failed it: the alert's other messages wait for
        // this one's retry, held as it is recorded.
        let hold_others = holds_the_alert(&outcome);
        let (error, retry_after) = match outcome {
            Delivery::Delivered => {
                for row in rows {
                    debug!(alert = %alert, uid = %row.item_uid, attempts = row.attempts + 1, "alert delivered");
                }
                let uids = rows.iter().map(|r| r.item_uid.clone()).collect();
                let (metrics, name) = (Arc::clone(&self.metrics), alert.clone());
                // Not counted when its rows were gone (settled meanwhile):
                // the archive recorded no delivery.
                let count = move |left: usize| {
                    if left > 0 {
                        metrics.alert_delivery(&name, SENT);
                    }
                };
                self.store.alert_delivered(alert, uids, count).await?;
                return Ok(None);
            }
            Delivery::Refused(error) => {
                warn!(alert = %alert, error = %error, items = rows.len(), "alert failed for good");
                let count = self.count_failed(alert, vec![false; rows.len()]);
                let failed = rows.iter().map(|r| ((*r).clone(), None)).collect();
                self.store
                    .alert_attempts_failed(failed, &error, false, count)
                    .await?;
                return Ok(None);
            }
            Delivery::Retry { error, retry_after } => (error, retry_after),
            Delivery::Unanswered(error) | Delivery::Rejected(error) => (error, None),
        };
        let now = self.clock.now();
        let failed: Vec<_> = rows
            .iter()
            .map(|row| {
                let next = next_attempt(
                    row.attempts,
                    row.window_from,
                    now,
                    retry_after,
                    target.config.retry_for,
                    jitter_fraction(),
                );
                ((*row).clone(), next)
            })
            .collect();
        // One line per failed attempt, however many items the message (a
        // summary) holds: a line per item flooded the log.
        let items = rows.len();
        let given_up = failed.iter().filter(|(_, n)| n.is_none()).count();
        match failed.iter().filter_map(|(_, n)| *n).max() {
            Some(next) => {
                warn!(alert = %alert, error = %error, items, given_up, next = %next, "alert not delivered; will retry")
            }
            None => {
                warn!(alert = %alert, error = %error, items, "alert not delivered and out of retries; kept as failed")
            }
        }
        let count = self.count_failed(alert, failed.iter().map(|(_, n)| n.is_some()).collect());
        let nexts: Vec<_> = failed.iter().map(|(_, next)| *next).collect();
        let counted = self
            .store
            .alert_attempts_failed(failed, &error, hold_others, count)
            .await?;
        // Not counted: the row was settled meanwhile (by the sender, for a
        // share that panicked), so nothing waits for this retry.
        Ok(nexts
            .into_iter()
            .zip(counted)
            .filter_map(|(next, counted)| next.filter(|_| counted))
            .max())
    }

    /// Counts a failed attempt at one message (`retried` says, per row,
    /// whether it will be tried again) as the archive records it: told on
    /// the writer's thread which rows the archive counted, so a share cut
    /// by a stop while its write runs is counted as the archive counts it,
    /// and rows settled meanwhile (gone, or recorded already) are not. The
    /// message counts once, retried when any counted row will be.
    fn count_failed(
        &self,
        alert: &str,
        retried: Vec<bool>,
    ) -> impl FnOnce(&[bool]) + Send + 'static {
        let (metrics, alert) = (Arc::clone(&self.metrics), alert.to_string());
        move |counted: &[bool]| {
            let mut counted = counted.iter().zip(retried).filter(|(c, _)| **c).peekable();
            if counted.peek().is_some() {
                let retried = counted.any(|(_, retried)| retried);
                metrics.alert_delivery(&alert, if retried { RETRIED } else { FAILED });
            }
        }
    }
}

/// Whether `outcome` holds the alert's other messages until its retry:
/// the receiver failed it (answered other than 2xx, with or without a
/// `Retry-After`, or not at all), and its other messages are unlikely to
/// fare better meanwhile; sending them anyway is what made a receiver
/// answering 500 get every message of a backlog at once. Not a message
/// the receiver rejected for its content ([`Delivery::Rejected`], a 400
/// say): held on it, the alert would send nothing more until that
/// message's `retry_for_hours` ran out (a second rejection in a share
/// holds: `send_share`).
fn holds_the_alert(outcome: &Delivery) -> bool {
    matches!(outcome, Delivery::Retry { .. } | Delivery::Unanswered(_))
}

/// The `result` labels of `tickerfeed_alert_deliveries_total`.
const SENT: &str = "sent";
const RETRIED: &str = "retried";
const FAILED: &str = "failed";

/// Messages a capped alert may still send in the hour before `now`;
/// drops older deliveries from `window`.
fn room(window: &mut VecDeque<DateTime<Utc>>, cap: u32, now: DateTime<Utc>) -> usize {
    let hour_ago = now - chrono::Duration::hours(1);
    while window.front().is_some_and(|t| *t <= hour_ago) {
        window.pop_front();
    }
    (cap as usize).saturating_sub(window.len())
}

/// When a capped alert whose `window` is full may send again; `None` when
/// it has room now.
fn released_at(
    window: &VecDeque<DateTime<Utc>>,
    cap: u32,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let mut w = window.clone();
    if room(&mut w, cap, now) > 0 {
        return None;
    }
    w.front().map(|t| *t + chrono::Duration::hours(1))
}

/// How `due` messages fit in `room`: how many go one by one, and how many
/// are coalesced into the one summary message that takes the last slot.
fn split(due: usize, room: usize) -> (usize, usize) {
    match room {
        0 => (0, 0),
        r if due <= r => (due, 0),
        r => (r - 1, due - (r - 1)),
    }
}

/// Spawns the sender for the alerts `alerts` holds now and after each
/// reload; it idles while there are none.
pub fn spawn(
    store: Store,
    clock: SharedClock,
    metrics: Arc<Metrics>,
    alerts: watch::Receiver<Vec<AlertConfig>>,
    clients: Clients,
    shutdown: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    let sender = Sender::new(store, clock, metrics, &alerts.borrow(), clients);
    tokio::spawn(sender.run(alerts, shutdown))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(attempts: u32) -> OutboxRow {
        let at = DateTime::parse_from_rfc3339("2026-11-24T09:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        OutboxRow {
            alert: "a".into(),
            item_uid: "u".into(),
            created_at: at,
            window_from: at,
            attempts,
            next_attempt_at: at,
            last_error: None,
            state: "pending".into(),
        }
    }

    /// Alert "a" to `url`, which may be private (a loopback receiver).
    fn alert_a(url: &str, max_per_hour: Option<u32>) -> AlertConfig {
        AlertConfig {
            name: "a".into(),
            watches: crate::config::AlertSource::Main,
            selection: crate::select::Selection::default(),
            url: url.parse().unwrap(),
            format: crate::config::AlertFormat::Json,
            secret: None,
            max_per_hour,
            allow_private: true,
            retry_for: Duration::from_secs(24 * 3600),
            item_pages: None,
        }
    }

    /// `tickerfeed_alert_deliveries_total`'s samples, as `/metrics` has them.
    fn deliveries(metrics: &Metrics) -> Vec<String> {
        metrics
            .encode(0, Some(0), None)
            .lines()
            .filter(|l| l.starts_with("tickerfeed_alert_deliveries_total{"))
            .map(str::to_string)
            .collect()
    }

    /// Audit s22: a share that panicked left its rows due, so the next
    /// pass (at once) handed them to a new share, which panicked again: a
    /// tight loop of panics, and of requests when it panicked after
    /// sending. Now each row it had not settled counts a failed attempt
    /// and waits out the backoff. (No receiver answer makes a share panic,
    /// so the share here is a task that panics, joined as the sender
    /// joins its shares.)
    #[tokio::test]
    async fn a_share_that_panics_counts_a_failed_attempt_and_backs_off() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.db");
        let store = Store::open(&path).unwrap();
        let db = rusqlite::Connection::open(&path).unwrap();
        db.execute_batch(crate::store::ONE_FEED_ONE_ITEM).unwrap();
        let now = row(0).created_at;
        db.execute(
            "INSERT INTO alert_outbox (alert, item_uid, created_at, next_attempt_at)
             VALUES ('a', 'u1', ?1, ?1)",
            [crate::clock::to_db_time(now)],
        )
        .unwrap();
        let alert = alert_a("http://127.0.0.1:9/hook", None);
        let clock = Arc::new(crate::clock::FixedClock::new(now));
        let metrics = Arc::new(Metrics::new());
        let clients = Clients::new("tickerfeed-test").unwrap();
        let mut sender = Sender::new(store.clone(), clock, metrics.clone(), &[alert], clients);
        let open = ["a".to_string()];
        let rows = store.due_alerts(&open, now, BATCH).await.unwrap();
        assert_eq!(rows.len(), 1);

        let mut in_flight = InFlight::default();
        let task = in_flight
            .tasks
            .spawn(async { panic!("a bug composing the message") });
        in_flight.alerts.insert(task.id(), "a".into());
        in_flight.messages.insert(task.id(), vec![rows]);
        let done = in_flight.tasks.join_next_with_id().await.unwrap();
        assert!(done.as_ref().is_err_and(|e| e.is_panic()));
        sender.share_done(&mut in_flight, done).await;

        assert!(!in_flight.busy("a"), "the alert may be sent to again");
        assert_eq!(
            store.due_alerts(&open, now, BATCH).await.unwrap(),
            [],
            "not handed to a new share at once"
        );
        let kept = store.outbox().await.unwrap();
        assert_eq!(kept.len(), 1);
        assert_eq!((kept[0].attempts, kept[0].state.as_str()), (1, "pending"));
        assert!(kept[0].next_attempt_at > now, "{:?}", kept[0]);
        assert!(
            kept[0].last_error.as_deref().unwrap().contains("panicked"),
            "{:?}",
            kept[0].last_error
        );
        // The attempt the archive counted, and only it.
        assert_eq!(
            deliveries(&metrics),
            ["tickerfeed_alert_deliveries_total{alert=\"a\",result=\"retried\"} 1"]
        );
    }

    /// A share that panicked while sending a summary counts one failed
    /// attempt for the summary, as a summary that failed is counted: one
    /// message retried in the metrics, not one per item it holds; each of
    /// its rows waits out the backoff.
    #[tokio::test]
    async fn a_summary_whose_share_panicked_counts_as_one_message() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _db, now) = outbox_of_three(dir.path());
        let clock = Arc::new(crate::clock::FixedClock::new(now));
        let metrics = Arc::new(Metrics::new());
        let clients = Clients::new("tickerfeed-test").unwrap();
        let alert = alert_a("http://127.0.0.1:9/hook", Some(2));
        let mut sender = Sender::new(store.clone(), clock, metrics.clone(), &[alert], clients);
        let open = ["a".to_string()];
        let rows = store.due_alerts(&open, now, BATCH).await.unwrap();
        assert_eq!(rows.len(), 3);

        // One message on its own, then a summary of two (the cap's split).
        let mut in_flight = InFlight::default();
        let task = in_flight
            .tasks
            .spawn(async { panic!("a bug composing the summary") });
        in_flight.alerts.insert(task.id(), "a".into());
        let messages = vec![vec![rows[0].clone()], rows[1..].to_vec()];
        in_flight.messages.insert(task.id(), messages);
        let done = in_flight.tasks.join_next_with_id().await.unwrap();
        sender.share_done(&mut in_flight, done).await;

        let kept = store.outbox().await.unwrap();
        assert_eq!(kept.len(), 3);
        for row in &kept {
            assert_eq!(
                (row.attempts, row.state.as_str()),
                (1, "pending"),
                "{row:?}"
            );
            assert!(row.next_attempt_at > now, "{row:?}");
        }
        assert_eq!(
            deliveries(&metrics),
            ["tickerfeed_alert_deliveries_total{alert=\"a\",result=\"retried\"} 2"]
        );
    }

    /// An archive at `dir` with three items and alert "a"'s message for
    /// each, due at the returned time; and another connection to it.
    fn outbox_of_three(dir: &std::path::Path) -> (Store, rusqlite::Connection, DateTime<Utc>) {
        let path = dir.join("a.db");
        let store = Store::open(&path).unwrap();
        let db = rusqlite::Connection::open(&path).unwrap();
        db.execute_batch(crate::store::ONE_FEED_ONE_ITEM).unwrap();
        let now = row(0).created_at;
        for (id, uid) in [(2, "u2"), (3, "u3")] {
            db.execute(
                "INSERT INTO items (id, uid, origin_feed_id, title, first_seen_at, changed_at,
                                    sort_at, content_sha256)
                 SELECT ?1, ?2, origin_feed_id, title, first_seen_at, changed_at, sort_at, ?2
                 FROM items WHERE id = 1",
                rusqlite::params![id, uid],
            )
            .unwrap();
        }
        db.execute(
            "INSERT INTO alert_outbox (alert, item_uid, created_at, next_attempt_at)
             SELECT 'a', uid, ?1, ?1 FROM items",
            [crate::clock::to_db_time(now)],
        )
        .unwrap();
        (store, db, now)
    }

    /// Alert "a" to `url`, capped at one message an hour.
    fn target_a(url: &str) -> Target {
        let clients = Clients::new("tickerfeed-test").unwrap();
        Target {
            config: alert_a(url, Some(1)),
            client: clients.pick(true).clone(),
        }
    }

    /// What sends for `store`, counting in `metrics`, at `now`.
    fn courier(store: &Store, metrics: &Arc<Metrics>, now: DateTime<Utc>) -> Courier {
        Courier {
            store: store.clone(),
            clock: Arc::new(crate::clock::FixedClock::new(now)),
            metrics: Arc::clone(metrics),
        }
    }

    /// Sends alert "a"'s three messages to `url`, `single` of them one by
    /// one and the rest as a summary, while `db` holds the write lock; the
    /// daemon stops (the share is cut) once `reached` says the receiver
    /// was reached and the share waits for the lock to record it. Then
    /// the lock is released, and what was already writing finishes.
    async fn cut_while_recording(
        courier: Courier,
        db: &rusqlite::Connection,
        url: String,
        single: usize,
        reached: &mut tokio::sync::mpsc::UnboundedReceiver<()>,
    ) {
        let (store, now) = (courier.store.clone(), courier.clock.now());
        let target = target_a(&url);
        let rows = store.due_alerts(&["a".into()], now, BATCH).await.unwrap();
        assert_eq!(rows.len(), 3);
        // Another process (a poll) holds the write lock from now on.
        db.execute_batch("BEGIN IMMEDIATE").unwrap();
        let share = tokio::spawn(async move {
            let stop = CancellationToken::new();
            courier
                .send_share(&target, &rows, single, 3 - single, now, &stop)
                .await
        });
        reached.recv().await.expect("the receiver was reached");
        tokio::time::sleep(Duration::from_millis(300)).await;
        share.abort();
        assert!(share.await.is_err_and(|e| e.is_cancelled()));
        db.execute_batch("COMMIT").unwrap();
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    /// Audit s22: a stop cuts the shares in flight. A summary the
    /// receiver accepted had its rows deleted one by one, so a stop in
    /// between left the rest pending, and they went again under other
    /// keys (alone, or in another summary), which the receiver cannot
    /// drop as repeats. Here the stop comes while the first deletion waits
    /// for the write lock (held by another process): all of the summary's
    /// rows go, or none.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_summary_cut_by_a_stop_leaves_the_outbox_whole() {
        let dir = tempfile::tempdir().unwrap();
        let (store, db, now) = outbox_of_three(dir.path());
        // A receiver that accepts, and says when it did.
        let (reached_tx, mut reached) = tokio::sync::mpsc::unbounded_channel::<()>();
        let app = axum::Router::new().fallback(move || {
            let reached_tx = reached_tx.clone();
            async move {
                let _ = reached_tx.send(());
                "ok"
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

        let metrics = Arc::new(Metrics::new());
        cut_while_recording(courier(&store, &metrics, now), &db, url, 0, &mut reached).await;
        let left: i64 = db
            .query_row("SELECT count(*) FROM alert_outbox", [], |r| r.get(0))
            .unwrap();
        assert_eq!(left, 0, "a summary's rows leave the outbox together");
        // The archive recorded the delivery after the stop cut the share:
        // so does the metric (it counted nothing).
        assert_eq!(
            deliveries(&metrics),
            ["tickerfeed_alert_deliveries_total{alert=\"a\",result=\"sent\"} 1"]
        );
    }

    /// Audit s22: when a receiver did not answer, the unanswered message's
    /// retry and the hold on the alert's other messages were two writes; a
    /// stop between them left the others due before that retry, so once
    /// the receiver was back they reached it first, out of order.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_unanswered_message_cut_by_a_stop_still_holds_the_others() {
        let dir = tempfile::tempdir().unwrap();
        let (store, db, now) = outbox_of_three(dir.path());
        // A receiver that closes each connection without answering.
        let (reached_tx, mut reached) = tokio::sync::mpsc::unbounded_channel::<()>();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                drop(conn);
                let _ = reached_tx.send(());
            }
        });

        let metrics = Arc::new(Metrics::new());
        cut_while_recording(courier(&store, &metrics, now), &db, url, 3, &mut reached).await;
        let rows = store.outbox().await.unwrap();
        let tried: Vec<_> = rows.iter().filter(|r| r.attempts == 1).collect();
        assert_eq!(tried.len(), 1, "{rows:#?}");
        let retry = tried[0].next_attempt_at;
        assert!(retry > now, "{rows:#?}");
        for r in rows.iter().filter(|r| r.attempts == 0) {
            assert_eq!(r.next_attempt_at, retry, "held until the retry: {rows:#?}");
        }
        assert_eq!(
            deliveries(&metrics),
            ["tickerfeed_alert_deliveries_total{alert=\"a\",result=\"retried\"} 1"]
        );
    }

    /// The deliveries metric counted each attempt the sender made, also
    /// those the archive did not count: here the messages' rows are gone
    /// from the outbox before their outcomes are recorded (settled
    /// meanwhile), so the archive records neither the delivery nor the
    /// failed attempts, and the metric counted one sent and two retried.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_attempt_the_archive_did_not_count_is_not_in_the_metrics() {
        let dir = tempfile::tempdir().unwrap();
        let (store, db, now) = outbox_of_three(dir.path());
        // A receiver that accepts the first message and not the others.
        let answered = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let app = axum::Router::new().fallback(move || {
            let first = answered.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0;
            async move {
                if first {
                    axum::http::StatusCode::OK
                } else {
                    axum::http::StatusCode::INTERNAL_SERVER_ERROR
                }
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let rows = store.due_alerts(&["a".into()], now, BATCH).await.unwrap();
        db.execute("DELETE FROM alert_outbox", []).unwrap();

        let metrics = Arc::new(Metrics::new());
        let target = Target {
            config: alert_a(&url, None),
            ..target_a(&url)
        };
        courier(&store, &metrics, now)
            .send_share(&target, &rows, 3, 0, now, &CancellationToken::new())
            .await;
        assert_eq!(deliveries(&metrics), Vec::<String>::new());
    }

    #[test]
    fn a_cap_sends_one_by_one_then_coalesces_into_its_last_slot() {
        assert_eq!(split(3, 5), (3, 0));
        assert_eq!(split(5, 5), (5, 0));
        assert_eq!(split(6, 5), (4, 2));
        assert_eq!(split(4, 1), (0, 4));
        assert_eq!(split(4, 0), (0, 0));
        let at = |m: i64| row(0).created_at + chrono::Duration::minutes(m);
        let mut window: VecDeque<_> = [at(0), at(10)].into();
        assert_eq!(room(&mut window, 2, at(30)), 0);
        assert_eq!(released_at(&window, 2, at(30)), Some(at(60)));
        // An hour after the first delivery, one slot is free again.
        assert_eq!(room(&mut window, 2, at(60)), 1);
        assert_eq!(window.len(), 1);
        assert_eq!(released_at(&window, 2, at(60)), None);
    }
}
