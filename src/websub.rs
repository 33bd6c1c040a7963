//! The WebSub subscriber (W3C WebSub, subscriber role): hubs push the
//! feeds they advertise, so their news arrives in seconds, not at the
//! next poll.
//!
//! Owns the subscription lifecycle; the archive keeps its state
//! (`store::subscriptions`), so a restart resumes it.
//!
//! - **Subscribe.** A poll that finds a hub (`pipeline::hub`) sends a
//!   [`Discovered`] here. Unless a subscription for that feed, hub and
//!   topic is live or waiting, we POST `hub.mode=subscribe` with a callback
//!   URL of our own (`<callback_url>websub/callback/<id>`, an unguessable
//!   id per subscription), a random secret per subscription
//!   (`hub.secret`, never logged) and the lease we would like. A failed or
//!   denied subscription is asked again only by a poll at least
//!   [`RESUBSCRIBE_AFTER`] later, so a broken hub is not hammered.
//! - **Verify.** The hub's GET on the callback is answered with its
//!   `hub.challenge` only when the callback id, topic and mode match a
//!   subscription we asked for; 404 otherwise. `hub.mode=denied` ends it.
//! - **Renew.** At [`RENEW_AT`] of the lease we subscribe again (same
//!   callback and secret); a failed renewal is retried while the lease
//!   runs. A lease that ends unrenewed expires the subscription.
//! - **A new callback URL.** A subscription asked for under another
//!   `[websub] callback_url` than the current one (a reload or a restart
//!   changed it; the archive keeps the URL each was asked for under) is
//!   asked for again at once under the current one, with the same callback
//!   id and secret. The old callback is not unsubscribed: its hub would
//!   verify that at the old URL, which either no longer reaches us or
//!   reaches the same live subscription, so the hub could not be told
//!   apart from someone ending ours. Its lease runs out unrenewed instead.
//! - **Unsubscribe.** When a feed with a live subscription leaves the
//!   config (or opts out with `websub = false`), we POST
//!   `hub.mode=unsubscribe` for it at once (once: the archive notes it;
//!   a request the hub could not take is asked again while the lease
//!   runs), rather than leave the hub pushing to a 410 until the lease
//!   runs out.
//!   The hub's verification of an unsubscribe is confirmed only for a
//!   subscription we no longer want, so nobody else can end one of ours.
//!   A pending subscription of such a feed ends, and a subscribe
//!   verification for a feed we no longer want gets 404. A feed that
//!   comes back before the hub confirmed is subscribed again at once. A
//!   feed that advertises another hub now is subscribed there, and its
//!   old hub is told to stop the same way.
//! - **Receive.** `POST` on the callback: the body's `X-Hub-Signature`
//!   (`sha1=`, `sha256=`, `sha384=` or `sha512=`, compared in constant
//!   time) must match the subscription's secret. A good push is ingested
//!   at once by `Pipeline::ingest_pushed`, the same road as a polled
//!   document. A push with a missing or bad signature is answered 2xx like
//!   a good one (as the spec allows, so a forger learns nothing) but its
//!   content is ignored; a push to an unknown or ended subscription gets
//!   410 Gone, which tells the hub to drop it. Both are counted in
//!   `/metrics` and logged once per subscription, not per push. The
//!   subscription is looked up ([`Subscriber::callback`]) before the
//!   body is read, so a push to a made-up callback is refused before it
//!   can send megabytes; an id that is not of the shape we hand out (32
//!   hex digits, [`is_callback_id`]) is refused without being looked up,
//!   remembered or logged: the path is the sender's to choose, up to
//!   64 KB of it.
//!
//! While a subscription is live, `schedule::PollState::next_due` polls the
//! feed at the slower `[websub] fallback_poll`; the scheduler is told to
//! re-plan whenever a subscription starts or ends (`replan`).
//!
//! Hubs are named by feed documents, which are not trusted: a hub on a
//! loopback, private or link-local address is used only for a feed that
//! is itself polled from such an address (the operator's own network);
//! otherwise `push::guard` refuses it, as for alerts.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use tokio::sync::{Notify, mpsc, watch};
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};
use url::Url;

use crate::cause::chain as error_chain;
use crate::clock::SharedClock;
use crate::config::{FeedConfig, Secret, WebSubConfig};
use crate::link::redact;
use crate::model::FeedId;
use crate::pipeline::{Discovered, Pipeline};
use crate::push::guard::{self, on_private_network};
use crate::push::webhook::Clients;
use crate::store::{REPLACED, StoreError, SubState, Subscription};

/// A failed, denied or unverified subscription is asked for again only
/// by a poll this long after the last request.
pub const RESUBSCRIBE_AFTER: Duration = Duration::from_secs(3_600);

/// Renew when this share of the lease has passed.
pub const RENEW_AT: f64 = 0.8;

/// Why a request never reached a hub.
enum NotAsked {
    /// Our policy: a hub on a private address for a feed that is not on
    /// the operator's network. Asking again would be refused again.
    Refused(String),
    /// The network or the hub: worth another try.
    Failed(String),
}

/// Why a subscription ends when its feed leaves the config.
const NO_LONGER_WANTED: &str = "the feed no longer subscribes";

/// How long a hub has to verify a subscribe request.
const VERIFY_WITHIN: Duration = Duration::from_secs(600);

/// The longest the renewal loop sleeps without looking again.
const MAX_SLEEP: Duration = Duration::from_secs(30);

/// Callback ids remembered for logging once; past this the memory starts
/// over (a flood of pushes to made-up ids must not grow it without end).
/// Only ids of our shape ([`is_callback_id`]) get here, so each entry is
/// under 50 bytes: at most about 1 MB in all, with the set's overhead.
const WARNED_CAP: usize = 10_000;

/// Random bytes in a callback id we hand out; the id is their hex.
const CALLBACK_ID_BYTES: usize = 16;

/// Why a hub's verification request is refused (answered 404).
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("no subscription has this callback")]
    Unknown,
    #[error("the topic or mode does not match a subscription we asked for")]
    Mismatch,
    #[error("no hub.challenge")]
    NoChallenge,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// How a push was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushAnswer {
    /// Signed right and recorded: 2xx.
    Ingested,
    /// Missing or bad signature: 2xx, content ignored.
    Ignored,
    /// No such live subscription: 410 Gone.
    Unknown,
    /// The archive could not record it: 5xx, so the hub retries.
    Failed,
}

/// A live subscription a push is addressed to, found
/// ([`Subscriber::callback`]) before the push's body is read.
#[derive(Debug)]
pub struct Callback(Subscription);

/// Whether `id` could be a callback id we handed out: `random_hex` of
/// `CALLBACK_ID_BYTES`, lowercase, as every subscription since the first
/// was made. Any other path is someone else's invention.
pub fn is_callback_id(id: &str) -> bool {
    id.len() == 2 * CALLBACK_ID_BYTES && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The subscriber; cheap to clone.
#[derive(Clone)]
pub struct Subscriber(Arc<Inner>);

struct Inner {
    pipeline: Pipeline,
    clock: SharedClock,
    /// `[websub] callback_url`, ending in `/` (a reload may change it).
    callback_base: RwLock<Url>,
    /// The lease asked of hubs, in seconds (`[websub]
    /// subscribe_lease_seconds`; a reload may change it).
    lease_secs: AtomicU64,
    max_body: usize,
    /// The configured feeds (replaced on reload).
    feeds: watch::Receiver<Vec<(FeedConfig, FeedId)>>,
    /// One client for hubs on public addresses only, one for hubs of feeds
    /// on the operator's own network (the alerts' pair).
    clients: Clients,
    /// Callback ids whose refused pushes were logged already.
    warned: Mutex<HashSet<String>>,
    /// Tells the scheduler that a feed's subscription started or ended.
    replan: Arc<Notify>,
    /// Wakes the renewal loop after a verification changed the plan.
    wake: Notify,
}

impl std::fmt::Debug for Subscriber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscriber")
            .field("callback_base", &self.callback_base().as_str())
            .finish_non_exhaustive()
    }
}

impl Subscriber {
    /// A subscriber for `config`, or `None` when `callback_url` is unset.
    /// `replan` is notified whenever a subscription starts or ends;
    /// `clients` are the daemon's guarded pair (shared with alerts).
    pub fn new(
        config: &WebSubConfig,
        pipeline: Pipeline,
        feeds: watch::Receiver<Vec<(FeedConfig, FeedId)>>,
        clients: Clients,
        max_body: usize,
        replan: Arc<Notify>,
    ) -> Option<Subscriber> {
        let callback_base = config.callback_url.clone()?;
        Some(Subscriber(Arc::new(Inner {
            clock: Arc::clone(&pipeline.clock),
            pipeline,
            callback_base: RwLock::new(callback_base),
            lease_secs: AtomicU64::new(config.lease.as_secs()),
            max_body,
            feeds,
            clients,
            warned: Mutex::new(HashSet::new()),
            replan,
            wake: Notify::new(),
        })))
    }

    /// Asks hubs for `lease` from the next subscription or renewal on (a
    /// reloaded `[websub] subscribe_lease_seconds`); leases granted stay.
    pub fn set_lease(&self, lease: Duration) {
        self.0.lease_secs.store(lease.as_secs(), Ordering::Relaxed);
    }

    fn lease_secs(&self) -> u64 {
        self.0.lease_secs.load(Ordering::Relaxed)
    }

    /// Gives hubs `base` (a reloaded `[websub] callback_url`) from now on:
    /// each live subscription made under another is asked for again under
    /// it at once, by the renewal loop.
    pub fn set_callback_base(&self, base: &Url) {
        let mut current = self
            .0
            .callback_base
            .write()
            .unwrap_or_else(|p| p.into_inner());
        if *current == *base {
            return;
        }
        *current = base.clone();
        drop(current);
        info!(callback_url = %base, "[websub] callback_url changed: live WebSub subscriptions are asked for again under it");
        self.0.wake.notify_one();
    }

    fn callback_base(&self) -> Url {
        self.0
            .callback_base
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The largest push body accepted: `[fetch] max_body_bytes`, as for a
    /// poll, since a hub pushes the document a poll would fetch; a smaller
    /// cap would turn away pushes of feeds that poll fine. How many are
    /// read at once is the `http` module's to bound.
    pub fn max_body(&self) -> usize {
        self.0.max_body
    }

    /// Subscribes to what polls discover and renews leases until
    /// `shutdown`.
    pub async fn run(
        self,
        mut discoveries: mpsc::UnboundedReceiver<Discovered>,
        shutdown: CancellationToken,
    ) {
        // Leases are looked after when one is due (or a verification
        // changed the plan), not after every poll that found a hub.
        let mut tend_at = tokio::time::Instant::now();
        // A reload that removes a feed unsubscribes it at once.
        let mut feeds = self.0.feeds.clone();
        loop {
            if tokio::time::Instant::now() >= tend_at {
                // A round asks its hubs one after another, each for up to
                // the clients' 15 s: a callback URL changed under hundreds
                // of subscriptions, or renewals to a hub that hangs, would
                // hold a stop for minutes, past systemd's `TimeoutStopSec`
                // and into SIGKILL. So a stop ends the round where it is,
                // the request in flight with it. Nothing is lost: each
                // request is recorded before it is sent, with when to look
                // at it again (`request`, `unsubscribe`), so the next start
                // takes up what this round did not reach, as after a failed
                // request (an abandoned unsubscribe counts as asked: the
                // hub's pushes get 410 until its lease runs out).
                let tended = tokio::select! {
                    biased;
                    _ = shutdown.cancelled() => return,
                    tended = self.tend() => tended,
                };
                let wait = match tended {
                    Ok(wait) => wait,
                    Err(e) => {
                        warn!(error = %e, "could not renew WebSub subscriptions; trying again shortly");
                        MAX_SLEEP
                    }
                };
                tend_at = tokio::time::Instant::now() + wait;
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                found = discoveries.recv() => match found {
                    // Asks a hub too: ended by a stop like a round.
                    Some(found) => tokio::select! {
                        biased;
                        _ = shutdown.cancelled() => return,
                        asked = self.discovered(found) => if let Err(e) = asked {
                            warn!(error = %e, "could not record a WebSub subscription");
                        }
                    },
                    None => return,
                },
                _ = self.0.wake.notified() => tend_at = tokio::time::Instant::now(),
                Ok(()) = feeds.changed() => tend_at = tokio::time::Instant::now(),
                _ = tokio::time::sleep_until(tend_at) => {}
            }
        }
    }

    fn feed(&self, id: FeedId) -> Option<FeedConfig> {
        self.0
            .feeds
            .borrow()
            .iter()
            .find(|(_, fid)| *fid == id)
            .map(|(f, _)| f.clone())
            // `websub = false` on the feed.
            .filter(|f| f.push_fallback.is_some())
    }

    /// Every feed that subscribes, by id: [`Subscriber::feed`] for a whole
    /// round of the renewal loop, in one pass over the config.
    fn feeds_by_id(&self) -> HashMap<FeedId, FeedConfig> {
        self.0
            .feeds
            .borrow()
            .iter()
            .filter(|(f, _)| f.push_fallback.is_some())
            .map(|(f, id)| (*id, f.clone()))
            .collect()
    }

    /// A poll found `found.link`: subscribe unless that subscription is
    /// live, waiting for the hub, or was tried recently.
    async fn discovered(&self, found: Discovered) -> Result<(), StoreError> {
        let Some(feed) = self.feed(found.feed_id) else {
            return Ok(());
        };
        let now = self.0.clock.now();
        let (hub, topic) = (found.link.hub.as_str(), found.link.topic.as_str());
        let known = self
            .0
            .pipeline
            .store
            .subscription_to(found.feed_id, hub, topic)
            .await?;
        if let Some(s) = &known {
            let waiting = s.state == SubState::Pending && s.renew_at.is_some_and(|t| t > now);
            let quiet = if s.state == SubState::Denied {
                RESUBSCRIBE_AFTER * 24
            } else {
                RESUBSCRIBE_AFTER
            };
            let recent =
                now - s.requested_at < chrono::Duration::from_std(quiet).unwrap_or_default();
            if s.state == SubState::Active || waiting || recent {
                return Ok(());
            }
        }
        if let Some(why) = self.refusal(&feed.url, &found.link.hub) {
            self.warn_once(&format!("refused-hub:{hub}"), || {
                warn!(feed = %feed.name, hub, "not subscribing to the hub this feed advertises: {why}")
            });
            return Ok(());
        }
        self.request(&feed, found.feed_id, hub, topic, false).await
    }

    /// Why `hub` may not be asked for `feed`, if it may not: it is on a
    /// private address and the feed is not.
    fn refusal(&self, feed_url: &Url, hub: &Url) -> Option<String> {
        if on_private_network(feed_url) {
            None
        } else {
            guard::refusal(hub)
        }
    }

    /// POSTs `form` to `hub` for a feed polled from `feed_url`, with the
    /// client for where that feed lives; refused, like the first request
    /// (`discovered`), for a hub on a private address when the feed is not
    /// on the operator's network (its URL may have changed since).
    async fn ask_hub(
        &self,
        feed_url: &Url,
        hub: &str,
        form: String,
    ) -> Result<reqwest::Response, NotAsked> {
        if let Some(why) = Url::parse(hub)
            .ok()
            .and_then(|h| self.refusal(feed_url, &h))
        {
            return Err(NotAsked::Refused(why));
        }
        post_form(self.0.clients.pick(on_private_network(feed_url)), hub, form)
            .await
            .map_err(|e| NotAsked::Failed(error_chain(&e)))
    }

    /// Asks `hub` to push `topic` (a first request, or a `renewal` of an
    /// active subscription), recording the request first so that a hub
    /// that verifies before it answers finds it.
    async fn request(
        &self,
        feed: &FeedConfig,
        feed_id: FeedId,
        hub: &str,
        topic: &str,
        renewal: bool,
    ) -> Result<(), StoreError> {
        let now = self.0.clock.now();
        let store = &self.0.pipeline.store;
        let retry_at = if renewal {
            // Replaced by the verification; otherwise the next try.
            now + retry_delay(
                store.subscription_to(feed_id, hub, topic).await?.as_ref(),
                now,
            )
        } else {
            now + chrono::Duration::from_std(VERIFY_WITHIN).unwrap_or_default()
        };
        let (sub, replaced) = store
            .request_subscription(
                feed_id,
                hub,
                topic,
                &random_hex(CALLBACK_ID_BYTES),
                &Secret::new(random_hex(32)),
                now,
                retry_at,
            )
            .await?;
        // The hubs this feed no longer names are told to stop first.
        for old in &replaced {
            self.unsubscribe(old, REPLACED).await?;
        }
        let callback = self.callback_url(&sub.callback_id);
        store
            .subscription_called_back_at(&sub.callback_id, callback.as_str())
            .await?;
        let lease = self.lease_secs().to_string();
        let form = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("hub.mode", "subscribe")
            .append_pair("hub.topic", topic)
            .append_pair("hub.callback", callback.as_str())
            .append_pair("hub.lease_seconds", &lease)
            .append_pair("hub.secret", sub.secret.expose())
            .finish();
        let error = match self.ask_hub(&feed.url, hub, form).await {
            Err(NotAsked::Refused(why)) => {
                self.0.pipeline.metrics.websub_request("failed");
                warn!(feed = %feed.name, hub, "not asking the WebSub hub the feed subscribed to: {why}; the subscription ends");
                store
                    .subscription_ended(&sub.callback_id, SubState::Failed, &why)
                    .await?;
                self.0.replan.notify_one();
                return Ok(());
            }
            Ok(resp) if resp.status().is_success() => None,
            Ok(resp) => {
                let status = resp.status();
                let text = answer_start(resp).await;
                // A hub that echoes the request would echo our secret, and
                // the error is shown on `/feeds` and by `tickerfeed feeds`.
                let text = text.replace(sub.secret.expose(), "****");
                let text: String = text.trim().chars().take(200).collect();
                Some(format!("the hub answered {status}: {text}"))
            }
            Err(NotAsked::Failed(e)) => Some(e),
        };
        let what = if renewal { "renew" } else { "subscribe" };
        // A feed that names no `rel="self"` is its polled URL as topic,
        // which may carry an API key: logged blanked, as everywhere.
        match error {
            None => {
                self.0.pipeline.metrics.websub_request("accepted");
                info!(feed = %feed.name, hub, topic = %redact(topic), "asked the WebSub hub to {what}; waiting for its verification");
            }
            Some(error) => {
                self.0.pipeline.metrics.websub_request("failed");
                warn!(feed = %feed.name, hub, topic = %redact(topic), error = %error, "WebSub {what} request failed");
                let error = format!("{what} request failed: {error}");
                if sub.state == SubState::Active {
                    store
                        .subscription_retry(&sub.callback_id, &error, retry_at)
                        .await?;
                } else {
                    store
                        .subscription_ended(&sub.callback_id, SubState::Failed, &error)
                        .await?;
                }
            }
        }
        Ok(())
    }

    fn callback_url(&self, callback_id: &str) -> Url {
        self.callback_base()
            .join(&format!("websub/callback/{callback_id}"))
            .expect("a hex id joins onto an http(s) base")
    }

    /// Asks `sub`'s hub to stop pushing, `why`: its feed left the config
    /// or opted out ([`NO_LONGER_WANTED`]; asked once, as
    /// `unsubscribe_requested_at` records, unless the hub could not take
    /// the request (no answer, a 5xx or a 429): then again at its
    /// `renew_at`, [`retry_delay`] later, while the lease runs. The
    /// subscription stays active until the hub verifies the request, or
    /// its lease ends if the hub never does; pushes meanwhile get 410), or
    /// it names another hub now ([`REPLACED`]; the subscription ended
    /// already).
    async fn unsubscribe(&self, sub: &Subscription, why: &str) -> Result<(), StoreError> {
        // The callback the hub knows the subscription by, which a changed
        // `[websub] callback_url` has not asked it to replace yet.
        let callback = (sub.callback_url.clone())
            .unwrap_or_else(|| self.callback_url(&sub.callback_id).into());
        let form = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("hub.mode", "unsubscribe")
            .append_pair("hub.topic", &sub.topic)
            .append_pair("hub.callback", &callback)
            .finish();
        // Recorded first, so that a hub that verifies before it answers
        // finds the request (and a restart does not ask again).
        let store = &self.0.pipeline.store;
        let now = self.0.clock.now();
        let lease_end = sub.lease_expires_at.unwrap_or(now);
        store
            .subscription_unsubscribe_requested(
                &sub.callback_id,
                now,
                &format!("{why}; asking the hub to unsubscribe"),
                lease_end,
            )
            .await?;
        // Where the feed lives: its last URL, which the archive keeps after
        // the feed left the config.
        let row = store.feed_row(sub.feed_id).await?;
        let (feed, feed_url) = (&row.name, &row.url);
        // The error, and whether asking again may go better.
        let error = match Url::parse(feed_url) {
            Err(e) => Some((
                format!("the feed's URL {feed_url:?} does not parse: {e}"),
                false,
            )),
            Ok(feed_url) => match self.ask_hub(&feed_url, &sub.hub, form).await {
                Ok(resp) if resp.status().is_success() => None,
                Ok(resp) => {
                    let status = resp.status();
                    let passing = status.is_server_error() || status.as_u16() == 429;
                    Some((format!("the hub answered {status}"), passing))
                }
                Err(NotAsked::Refused(e)) => Some((e, false)),
                Err(NotAsked::Failed(e)) => Some((e, true)),
            },
        };
        let retry_at = (now + retry_delay(Some(sub), now)).min(lease_end);
        let (note, look_again) = match error {
            None => {
                self.0
                    .pipeline
                    .metrics
                    .websub_request("unsubscribe_accepted");
                info!(feed = %feed, hub = %sub.hub, topic = %redact(&sub.topic), "{why}: asked the WebSub hub to stop pushing");
                let note = format!("{why}; waiting for the hub to confirm the unsubscribe");
                (note, lease_end)
            }
            Some((error, true)) if retry_at < lease_end => {
                self.0.pipeline.metrics.websub_request("unsubscribe_failed");
                let at = retry_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
                warn!(feed = %feed, hub = %sub.hub, error = %error, retry_at = %at, "WebSub unsubscribe request failed; asking again");
                let note = format!(
                    "{why}; the unsubscribe request failed ({error}), asking again at {at}"
                );
                (note, retry_at)
            }
            Some((error, _)) => {
                self.0.pipeline.metrics.websub_request("unsubscribe_failed");
                warn!(feed = %feed, hub = %sub.hub, error = %error, "WebSub unsubscribe request failed; the lease runs out on its own");
                let note = format!(
                    "{why}; the unsubscribe request failed ({error}), so the lease runs out on its own"
                );
                (note, lease_end)
            }
        };
        // Unless the hub confirmed it meanwhile.
        store
            .subscription_retry(&sub.callback_id, &note, look_again)
            .await
    }

    /// Expires ended leases, gives up on unverified requests, renews what
    /// is due, unsubscribes feeds that left; returns how long until the
    /// next of these.
    async fn tend(&self) -> Result<Duration, StoreError> {
        let store = &self.0.pipeline.store;
        let now = self.0.clock.now();
        let expired = store.expire_subscriptions(now).await?;
        if expired > 0 {
            warn!(
                subscriptions = expired,
                "WebSub leases ended without a renewal; those feeds are polled on their schedules again"
            );
            self.0.replan.notify_one();
        }
        let mut next = now + chrono::Duration::from_std(MAX_SLEEP).unwrap_or_default();
        // Only live subscriptions need looking after; the others ended.
        let live: Vec<Subscription> = store
            .subscriptions()
            .await?
            .into_iter()
            .filter(|s| matches!(s.state, SubState::Pending | SubState::Active))
            .collect();
        let feeds = if live.is_empty() {
            HashMap::new()
        } else {
            self.feeds_by_id()
        };
        for sub in live {
            // Removed from the config, or opted out.
            let Some(feed) = feeds.get(&sub.feed_id) else {
                match sub.state {
                    // Asked again when a failed request is due. One the
                    // hub took is looked at next when its lease ends, and
                    // expiring it comes first. Its next time is read on the
                    // next round.
                    SubState::Active
                        if sub.unsubscribe_requested_at.is_none()
                            || (sub.renew_at.is_some_and(|at| at <= now)
                                && sub.lease_expires_at.is_some_and(|end| now < end)) =>
                    {
                        self.unsubscribe(&sub, NO_LONGER_WANTED).await?;
                        next = now;
                    }
                    SubState::Active => {
                        if let Some(at) = sub.renew_at {
                            next = next.min(at);
                        }
                    }
                    SubState::Pending => {
                        store
                            .subscription_ended(
                                &sub.callback_id,
                                SubState::Expired,
                                NO_LONGER_WANTED,
                            )
                            .await?
                    }
                    _ => {}
                }
                continue;
            };
            // Back in the config while we were unsubscribing it: subscribe
            // again now (the hub's verification of the unsubscribe gets 404).
            if sub.state == SubState::Active && sub.unsubscribe_requested_at.is_some() {
                self.request(feed, sub.feed_id, &sub.hub, &sub.topic, true)
                    .await?;
                next = now;
                continue;
            }
            // Made under another `[websub] callback_url` (a reload or a
            // restart changed it), or under one not known (asked for before
            // the archive kept it: the upgrade may come with a new URL):
            // asked for again under this one now, with the same id and
            // secret. The hub's lease on an old callback is not renewed and
            // runs out; pushes that still reach us there are taken until
            // then.
            if sub
                .callback_url
                .as_deref()
                .is_none_or(|url| url != self.callback_url(&sub.callback_id).as_str())
            {
                let renewal = sub.state == SubState::Active;
                self.request(feed, sub.feed_id, &sub.hub, &sub.topic, renewal)
                    .await?;
                next = now;
                continue;
            }
            let Some(renew_at) = sub.renew_at else {
                continue;
            };
            match sub.state {
                SubState::Pending if renew_at <= now => {
                    store
                        .subscription_ended(
                            &sub.callback_id,
                            SubState::Failed,
                            "the hub never verified the subscription",
                        )
                        .await?;
                }
                SubState::Active if renew_at <= now => {
                    self.request(feed, sub.feed_id, &sub.hub, &sub.topic, true)
                        .await?;
                    // Its new retry time is read on the next round.
                    next = now;
                }
                SubState::Pending | SubState::Active => {
                    next = next.min(renew_at);
                    if let Some(end) = sub.lease_expires_at {
                        next = next.min(end);
                    }
                }
                _ => {}
            }
        }
        Ok((next - now)
            .to_std()
            .unwrap_or(Duration::ZERO)
            .max(Duration::from_millis(50))
            .min(MAX_SLEEP))
    }

    /// Answers a hub's GET on a callback (`query` holds its `hub.*`
    /// parameters): the challenge to echo when it verifies a subscription
    /// we asked for; an empty body for an accepted denial.
    pub async fn verify(
        &self,
        callback_id: &str,
        query: &HashMap<String, String>,
    ) -> Result<String, VerifyError> {
        if !is_callback_id(callback_id) {
            return Err(VerifyError::Unknown);
        }
        let store = &self.0.pipeline.store;
        let sub = store
            .subscription(callback_id)
            .await?
            .ok_or(VerifyError::Unknown)?;
        let param = |k: &str| query.get(k).map(String::as_str);
        if param("hub.topic") != Some(sub.topic.as_str()) {
            return Err(VerifyError::Mismatch);
        }
        let now = self.0.clock.now();
        match param("hub.mode") {
            Some("subscribe")
                if matches!(sub.state, SubState::Pending | SubState::Active)
                    && self.feed(sub.feed_id).is_some() =>
            {
                let challenge = param("hub.challenge").ok_or(VerifyError::NoChallenge)?;
                let lease = param("hub.lease_seconds")
                    .and_then(|l| l.trim().parse::<u64>().ok())
                    .unwrap_or(self.lease_secs())
                    .clamp(1, 10 * 365 * 86_400);
                let expires = now + chrono::Duration::seconds(lease as i64);
                let renew_at =
                    now + chrono::Duration::milliseconds((lease as f64 * RENEW_AT * 1000.0) as i64);
                store
                    .subscription_verified(callback_id, lease, now, expires, renew_at)
                    .await?;
                self.0.pipeline.metrics.websub_request("verified");
                info!(feed_id = %sub.feed_id, hub = %sub.hub, lease_seconds = lease, "WebSub subscription verified; the hub pushes this feed now");
                self.0.replan.notify_one();
                self.0.wake.notify_one();
                Ok(challenge.to_string())
            }
            Some("denied") if matches!(sub.state, SubState::Pending | SubState::Active) => {
                let reason = param("hub.reason").unwrap_or("no reason given");
                // The hub's words go into the log and the archive as one
                // line: a line break in them could forge a log line.
                let reason = crate::markup::one_line(&reason.chars().take(200).collect::<String>());
                store
                    .subscription_ended(
                        callback_id,
                        SubState::Denied,
                        &format!("the hub denied the subscription: {reason}"),
                    )
                    .await?;
                self.0.pipeline.metrics.websub_request("denied");
                warn!(feed_id = %sub.feed_id, hub = %sub.hub, reason = %reason, "the WebSub hub denied the subscription; the feed stays on its schedule");
                self.0.replan.notify_one();
                Ok(String::new())
            }
            // Confirmed only for a subscription we no longer want: one
            // whose feed left or opted out, or that ended already.
            Some("unsubscribe")
                if self.feed(sub.feed_id).is_none()
                    || !matches!(sub.state, SubState::Pending | SubState::Active) =>
            {
                let challenge = param("hub.challenge").ok_or(VerifyError::NoChallenge)?;
                // One that ended already is confirmed quietly.
                if matches!(sub.state, SubState::Pending | SubState::Active) {
                    store
                        .subscription_ended(
                            callback_id,
                            SubState::Expired,
                            &format!("{NO_LONGER_WANTED}; the hub confirmed the unsubscribe"),
                        )
                        .await?;
                    self.0.replan.notify_one();
                    self.0.pipeline.metrics.websub_request("unsubscribed");
                    info!(feed_id = %sub.feed_id, hub = %sub.hub, "the WebSub hub verified our unsubscribe; it stops pushing this feed");
                }
                Ok(challenge.to_string())
            }
            _ => Err(VerifyError::Mismatch),
        }
    }

    /// The live subscription a hub's POST on `callback_id` is for, looked
    /// up before its body is read: [`PushAnswer::Unknown`] (410) when there
    /// is none, [`PushAnswer::Failed`] when the archive does not answer.
    pub async fn callback(&self, callback_id: &str) -> Result<Callback, PushAnswer> {
        let metrics = &self.0.pipeline.metrics;
        if !is_callback_id(callback_id) {
            // Counted, but neither kept nor logged: the id is whatever
            // the sender put in the path.
            metrics.websub_received("unknown_subscription");
            return Err(PushAnswer::Unknown);
        }
        match self.0.pipeline.store.subscription(callback_id).await {
            Ok(Some(s)) if matches!(s.state, SubState::Pending | SubState::Active) => {
                Ok(Callback(s))
            }
            Ok(_) => {
                metrics.websub_received("unknown_subscription");
                self.warn_once(&format!("unknown:{callback_id}"), || {
                    warn!(callback_id, "WebSub push for no live subscription: answered 410 Gone (logged once per callback)")
                });
                Err(PushAnswer::Unknown)
            }
            Err(e) => {
                metrics.websub_received("failed");
                error!(error = %e, "could not look up a WebSub subscription for a push");
                Err(PushAnswer::Failed)
            }
        }
    }

    /// A hub's POST on a callback: checks `signature` (`X-Hub-Signature`)
    /// and ingests `body` through the pipeline.
    pub async fn receive(
        &self,
        Callback(sub): Callback,
        signature: Option<&str>,
        content_type: Option<String>,
        body: Vec<u8>,
    ) -> PushAnswer {
        let store = &self.0.pipeline.store;
        let metrics = &self.0.pipeline.metrics;
        let callback_id = sub.callback_id.as_str();
        let signed = signature.is_some_and(|h| signature_matches(h, sub.secret.expose(), &body));
        if !signed {
            metrics.websub_received("bad_signature");
            let what = if signature.is_some() { "a bad" } else { "no" };
            let first = self.warn_once(&format!("signature:{callback_id}"), || {
                warn!(feed_id = %sub.feed_id, hub = %sub.hub, "WebSub push with {what} X-Hub-Signature: content ignored (logged once per subscription)")
            });
            if first {
                let note = format!("a push with {what} X-Hub-Signature was ignored");
                if let Err(e) = store
                    .subscription_pushed(callback_id, self.0.clock.now(), Some(&note))
                    .await
                {
                    warn!(error = %e, "could not note an ignored WebSub push");
                }
            }
            return PushAnswer::Ignored;
        }
        let (Some(feed), Ok(row)) = (self.feed(sub.feed_id), store.feed_row(sub.feed_id).await)
        else {
            metrics.websub_received("unknown_subscription");
            return PushAnswer::Unknown;
        };
        if row.retired_at.is_some() || !row.in_config {
            metrics.websub_received("unknown_subscription");
            return PushAnswer::Unknown;
        }
        match self
            .0
            .pipeline
            .ingest_pushed(&feed, &row, body, content_type)
            .await
        {
            Ok(r) => {
                metrics.websub_received("ingested");
                info!(
                    feed = %feed.name,
                    result = r.outcome.as_str(),
                    new = r.summary.new,
                    updated = r.summary.updated,
                    merged = r.summary.merged,
                    error = r.error.as_deref().unwrap_or(""),
                    "WebSub push ingested"
                );
                if let Err(e) = store
                    .subscription_pushed(callback_id, self.0.clock.now(), None)
                    .await
                {
                    warn!(error = %e, "could not note a WebSub push");
                }
                PushAnswer::Ingested
            }
            Err(e) => {
                metrics.websub_received("failed");
                error!(feed = %feed.name, error = %e, "could not record a WebSub push; the hub will retry");
                PushAnswer::Failed
            }
        }
    }

    /// Runs `log` the first time `key` is seen; says whether it did.
    fn warn_once(&self, key: &str, log: impl FnOnce()) -> bool {
        let mut warned = self.0.warned.lock().unwrap_or_else(|p| p.into_inner());
        if warned.len() >= WARNED_CAP {
            warned.clear();
        }
        let first = warned.insert(key.to_string());
        drop(warned);
        if first {
            log();
        }
        first
    }
}

/// How long after a failed renewal to try again: a quarter of what is
/// left of the lease, from a second to ten minutes.
fn retry_delay(sub: Option<&Subscription>, now: DateTime<Utc>) -> chrono::Duration {
    let left = sub
        .and_then(|s| s.lease_expires_at)
        .map(|end| end - now)
        .unwrap_or_default();
    (left / 4).clamp(chrono::Duration::seconds(1), chrono::Duration::minutes(10))
}

/// A subscriber request to `hub` (WebSub §5.1): `form` POSTed as
/// `application/x-www-form-urlencoded`.
async fn post_form(
    client: &reqwest::Client,
    hub: &str,
    form: String,
) -> reqwest::Result<reqwest::Response> {
    client
        .post(hub)
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body(form)
        .send()
        .await
}

/// Whether `header` (`X-Hub-Signature: method=hex`) is the HMAC of `body`
/// keyed with `secret`, for method `sha1`, `sha256`, `sha384` or
/// `sha512`. The comparison takes the same time wherever the bytes
/// differ.
pub fn signature_matches(header: &str, secret: &str, body: &[u8]) -> bool {
    let Some((method, hex_sig)) = header.trim().split_once('=') else {
        return false;
    };
    let Ok(sig) = hex::decode(hex_sig.trim()) else {
        return false;
    };
    fn check<M: Mac + KeyInit>(key: &[u8], body: &[u8], sig: &[u8]) -> bool {
        let mut mac = <M as KeyInit>::new_from_slice(key).expect("HMAC takes a key of any length");
        mac.update(body);
        mac.verify_slice(sig).is_ok()
    }
    let key = secret.as_bytes();
    match method.trim().to_ascii_lowercase().as_str() {
        "sha1" => check::<Hmac<sha1::Sha1>>(key, body, &sig),
        "sha256" => check::<Hmac<sha2::Sha256>>(key, body, &sig),
        "sha384" => check::<Hmac<sha2::Sha384>>(key, body, &sig),
        "sha512" => check::<Hmac<sha2::Sha512>>(key, body, &sig),
        _ => false,
    }
}

/// What a hub's refusal says, for the log and `/feeds`: only its start, so
/// a hub (any feed can name one) that answers with an endless body costs
/// a few kilobytes, not the daemon's memory.
async fn answer_start(mut resp: reqwest::Response) -> String {
    const SHOWN: usize = 4096;
    let mut body = Vec::new();
    while body.len() < SHOWN
        && let Ok(Some(chunk)) = resp.chunk().await
    {
        body.extend_from_slice(&chunk);
    }
    body.truncate(SHOWN);
    String::from_utf8_lossy(&body).into_owned()
}

/// `bytes` random bytes from the operating system, as hex.
fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    // Without the OS's randomness a secret would be guessable; a machine
    // that cannot provide it cannot run anything safely.
    getrandom::fill(&mut buf).expect("the operating system provides random bytes");
    hex::encode(buf)
}

#[cfg(test)]
mod tests {
    use super::test_support::subscriber;
    use super::*;

    fn sign<M: Mac + KeyInit>(key: &str, body: &[u8]) -> String {
        let mut mac = <M as KeyInit>::new_from_slice(key.as_bytes()).unwrap();
        mac.update(body);
        hex::encode(mac.finalize().into_bytes())
    }

    #[test]
    fn signatures_of_every_method_the_spec_names() {
        let body = b"<feed>news</feed>";
        for (method, sig) in [
            ("sha1", sign::<Hmac<sha1::Sha1>>("k", body)),
            ("sha256", sign::<Hmac<sha2::Sha256>>("k", body)),
            ("sha384", sign::<Hmac<sha2::Sha384>>("k", body)),
            ("sha512", sign::<Hmac<sha2::Sha512>>("k", body)),
        ] {
            let header = format!("{method}={sig}");
            assert!(signature_matches(&header, "k", body), "{method}");
            assert!(!signature_matches(&header, "other key", body), "{method}");
            assert!(
                !signature_matches(&header, "k", b"<feed>forged</feed>"),
                "{method}"
            );
            assert!(
                signature_matches(&format!("{}={sig}", method.to_uppercase()), "k", body),
                "{method}"
            );
        }
        // RFC 4231 test case 2, as `push::alerts` signs.
        assert!(signature_matches(
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            "Jefe",
            b"what do ya want for nothing?"
        ));
    }

    #[test]
    fn malformed_signatures_do_not_match() {
        let good = sign::<Hmac<sha2::Sha256>>("k", b"x");
        for header in [
            "",
            "sha256",
            "sha256=",
            "sha256=zz",
            &format!("md5={good}"),
            &format!("sha256={}", &good[..10]),
            &good,
        ] {
            assert!(!signature_matches(header, "k", b"x"), "{header:?}");
        }
    }

    #[test]
    fn failed_renewals_retry_within_what_is_left_of_the_lease() {
        let now = DateTime::from_timestamp(1_767_225_600, 0).unwrap();
        assert_eq!(retry_delay(None, now), chrono::Duration::seconds(1));
        let sub = Subscription {
            feed_id: FeedId(1),
            hub: "h".into(),
            topic: "t".into(),
            callback_id: "c".into(),
            secret: Secret::new("s"),
            state: SubState::Active,
            requested_at: now,
            lease_expires_at: Some(now + chrono::Duration::seconds(40)),
            renew_at: None,
            last_push_at: None,
            last_error: None,
            unsubscribe_requested_at: None,
            callback_url: None,
        };
        assert_eq!(retry_delay(Some(&sub), now), chrono::Duration::seconds(10));
        let long = Subscription {
            lease_expires_at: Some(now + chrono::Duration::days(2)),
            ..sub
        };
        assert_eq!(retry_delay(Some(&long), now), chrono::Duration::minutes(10));
        assert_eq!(random_hex(16).len(), 32);
        assert_ne!(random_hex(16), random_hex(16));
    }

    /// Log lines written while a test runs, as the daemon writes them.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Pushes to callback ids we never handed out (the URL path, up to
    /// 64 KB of it, is the sender's to choose) are refused without the id
    /// being remembered or logged: 1,000 ids of 60,000 characters used to
    /// grow what the daemon keeps by 60 MB and log 1,000 lines of 60 KB.
    /// Unknown ids of our shape are logged once each, in a short line,
    /// and kept in a few dozen bytes each.
    #[tokio::test]
    async fn pushes_to_made_up_callbacks_keep_and_log_little() {
        let dir = tempfile::tempdir().unwrap();
        let (sub, _opened) = subscriber(dir.path(), "http://127.0.0.1:9/feed.xml").await;
        let log = Captured::default();
        let writer = log.clone();
        let _logging = tracing::subscriber::set_default(
            tracing_subscriber::fmt()
                .with_ansi(false)
                .with_writer(move || writer.clone())
                .finish(),
        );
        let kept = || -> usize { sub.0.warned.lock().unwrap().iter().map(String::len).sum() };
        for i in 0..1_000 {
            let id = format!("{i:04}{}", "x".repeat(60_000));
            assert_eq!(sub.callback(&id).await.unwrap_err(), PushAnswer::Unknown);
        }
        assert_eq!(kept(), 0, "made-up ids were kept");
        assert!(log.0.lock().unwrap().is_empty(), "made-up ids were logged");
        for i in 0..1_000 {
            let id = format!("{i:032x}");
            assert_eq!(sub.callback(&id).await.unwrap_err(), PushAnswer::Unknown);
        }
        assert!(kept() <= 1_000 * 50, "{} bytes kept", kept());
        let log = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
        assert_eq!(log.lines().count(), 1_000, "one line per unknown id");
        let longest = log.lines().map(str::len).max().unwrap();
        assert!(longest < 300, "a log line of {longest} bytes");
    }

    /// A hub (any feed may name one) that refuses a subscription with an
    /// endless body: its answer is read only as far as shown, not whole
    /// into memory (400 MiB here) for as long as the request's timeout.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_hubs_refusal_is_read_only_as_far_as_shown() {
        use std::sync::atomic::{AtomicU64, Ordering};
        const MIB: u64 = 1 << 20;
        let sent = Arc::new(AtomicU64::new(0));
        let app = {
            let sent = Arc::clone(&sent);
            axum::Router::new().route(
                "/hub",
                axum::routing::post(move || {
                    let sent = Arc::clone(&sent);
                    async move {
                        let chunks = (0..400).map(move |_| {
                            sent.fetch_add(MIB, Ordering::SeqCst);
                            Ok::<_, std::io::Error>(axum::body::Bytes::from(vec![b'x'; 1 << 20]))
                        });
                        (
                            axum::http::StatusCode::BAD_REQUEST,
                            axum::body::Body::from_stream(futures_util::stream::iter(chunks)),
                        )
                    }
                }),
            )
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

        let dir = tempfile::tempdir().unwrap();
        let (sub, opened) = subscriber(dir.path(), &format!("{base}/feed.xml")).await;
        let (feed, feed_id) = opened.feeds[0].clone();
        let (hub, topic) = (format!("{base}/hub"), format!("{base}/feed.xml"));
        sub.request(&feed, feed_id, &hub, &topic, false)
            .await
            .unwrap();
        // What is in flight when the answer is dropped (socket buffers), not
        // the 400 MiB the hub would send.
        let sent_mib = sent.load(Ordering::SeqCst) / MIB;
        assert!(sent_mib < 100, "the hub's answer was read: {sent_mib} MiB");
        let recorded = opened.store.subscriptions().await.unwrap();
        let error = recorded[0].last_error.as_deref().unwrap();
        assert!(error.contains("400 Bad Request: xxx"), "{error}");
        assert!(error.len() < 300, "{error}");
    }
}

/// What tests elsewhere (`http`) share with this module's: a subscriber
/// over a real archive.
#[cfg(test)]
pub(crate) mod test_support {
    use std::sync::Arc;

    use tokio::sync::{Notify, watch};

    use super::Subscriber;
    use crate::push::webhook::Clients;

    /// A subscriber over an archive in `dir`, with one feed at `feed_url`,
    /// and the daemon's parts it was made of.
    pub async fn subscriber(
        dir: &std::path::Path,
        feed_url: &str,
    ) -> (Subscriber, crate::app::Opened) {
        let config_path = dir.join("config.toml");
        std::fs::write(
            &config_path,
            format!(
                "[storage]\npath = \"{}\"\n[websub]\ncallback_url = \"http://127.0.0.1:9/\"\n\
                 [[feeds]]\nname = \"t\"\nurl = \"{feed_url}\"\n",
                dir.join("a.db").display()
            ),
        )
        .unwrap();
        let config = crate::config::Config::load(&config_path).unwrap();
        let clock: crate::clock::SharedClock = Arc::new(crate::clock::SystemClock);
        let opened = crate::app::open(&config, clock).await.unwrap();
        let (_tx, rx) = watch::channel(opened.feeds.clone());
        let sub = Subscriber::new(
            &config.websub,
            opened.pipeline.clone(),
            rx,
            Clients::new("t").unwrap(),
            config.fetch.max_body_bytes,
            Arc::new(Notify::new()),
        )
        .unwrap();
        (sub, opened)
    }
}
