//! WebSub publishing: noticing that a feed changed, pinging an external
//! hub, and pushing the new document to our own hub's subscribers.
//!
//! A topic is one served feed document: the merged feed, a tag's or a
//! view's, in each format, by its public URL (the document's `rel="self"`).
//! The [`Publisher`] watches `Store::generation`; when it moves, it asks
//! the served documents ([`Documents`], implemented by the HTTP layer, so
//! a push carries exactly the bytes a reader would fetch, rendered once
//! through the same cache) for each topic that matters (every topic with
//! an external hub; with our hub only, those with a live lease), and
//! records the hash of each (`Store::websub_topic_changed`). The hashes
//! live in the archive, so a change made while the daemon was down is
//! published at the next start.
//!
//! - External hub (`[websub] hub`): a changed topic is pinged with a form
//!   POST `hub.mode=publish&hub.url=<topic>`, a few times with backoff if
//!   the hub does not answer 2xx; best effort, logged and counted.
//! - Our hub (`serve_hub`): the change queues one push per subscriber in
//!   the same transaction; the sender POSTs the topic's current document
//!   with its `Content-Type`, `Link` headers (hub and self) and, when the
//!   subscriber gave a secret, `X-Hub-Signature: sha256=<hex HMAC>`;
//!   deletes the push after a 2xx, retries with backoff, jitter and
//!   `Retry-After` otherwise (`push::webhook`, shared with alerts), and
//!   keeps it as failed after `[websub] retry_for_hours`. A 2xx for a
//!   document the topic changed from while it was in flight leaves the
//!   push queued, so the newer document follows (`Store::websub_pushed`).
//!   A few pushes go out at once, so a subscriber that does not answer
//!   holds up no other. A push whose outcome the archive refuses to record
//!   is not sent again until it is (`push::unrecorded`).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};
use url::Url;

use super::unrecorded::Unrecorded;
use super::webhook::{Clients, Delivery, classify, jitter_fraction, next_attempt, signature};
use crate::clock::SharedClock;
use crate::config::WebSubConfig;
use crate::metrics::Metrics;
use crate::store::{PushRow, Pushed, Store};

/// How often the archive's generation is looked at.
const WATCH_EVERY: Duration = Duration::from_millis(250);
/// The longest the sender sleeps without looking at the queue.
const IDLE_CHECK: Duration = Duration::from_secs(5);
/// How often ended leases are removed.
const EXPIRE_EVERY: Duration = Duration::from_secs(60);
/// Pushes read from the queue at once.
const BATCH: usize = 50;
/// Pushes of one batch in flight at once: a subscriber that hangs until
/// the send timeout holds one of them, not every other subscriber's.
const PUSHES_AT_ONCE: usize = 8;
/// Attempts at pinging the external hub about one change.
const PING_ATTEMPTS: u32 = 4;

/// A served feed document, as a reader would fetch it.
#[derive(Debug, Clone)]
pub struct Document {
    /// `Content-Type`, with its charset.
    pub content_type: &'static str,
    pub body: Bytes,
}

/// The served feed documents, by topic URL (implemented by `http`).
pub trait Documents: Send + Sync + 'static {
    /// Every topic served now.
    fn topics(&self) -> Vec<String>;
    /// `topic`'s current document; `None` when it is no longer served (or
    /// the archive did not answer).
    fn document<'a>(
        &'a self,
        topic: &'a str,
    ) -> Pin<Box<dyn Future<Output = Option<Document>> + Send + 'a>>;
}

/// The `Link` header value for `topic` published through `hub` (WebSub
/// §4 discovery; also on every push, §7).
pub fn link_header(hub: &str, topic: &str) -> String {
    format!("<{hub}>; rel=\"hub\", <{topic}>; rel=\"self\"")
}

/// Watches for changes and publishes them until shutdown.
pub struct Publisher {
    store: Store,
    clock: SharedClock,
    metrics: Arc<Metrics>,
    documents: Arc<dyn Documents>,
    clients: Clients,
    config: WebSubConfig,
    /// The hub the feeds advertise: the external one or our `/websub`.
    hub_url: Url,
    /// Woken when a change queued pushes.
    queued: Notify,
}

impl Publisher {
    pub fn new(
        store: Store,
        clock: SharedClock,
        metrics: Arc<Metrics>,
        documents: Arc<dyn Documents>,
        clients: Clients,
        config: WebSubConfig,
        hub_url: Url,
    ) -> Publisher {
        Publisher {
            store,
            clock,
            metrics,
            documents,
            clients,
            config,
            hub_url,
            queued: Notify::new(),
        }
    }

    /// Watches, pings and pushes until `stop`. The pings it started go on
    /// until `shutdown` (`stop`'s parent, or itself): each announces a
    /// change already recorded, which a publisher a reload starts after
    /// this one does not see as one to announce. At `shutdown` they are
    /// cancelled and waited for.
    pub async fn run(self, stop: CancellationToken, shutdown: CancellationToken) {
        info!(hub = %self.hub_url, own_hub = self.config.serve_hub, "WebSub publishing");
        let pings = TaskTracker::new();
        tokio::join!(self.watch(&pings, &stop, &shutdown), self.send(&stop));
        pings.close();
        if shutdown.is_cancelled() {
            pings.wait().await;
        }
        debug!("WebSub publisher stopped");
    }

    /// Publishes changes until `stop`; the pings they start end at
    /// `shutdown`.
    async fn watch(
        &self,
        pings: &TaskTracker,
        stop: &CancellationToken,
        shutdown: &CancellationToken,
    ) {
        let mut seen = 0;
        let mut expired_at = tokio::time::Instant::now();
        loop {
            let generation = self.store.generation();
            if generation != seen {
                seen = generation;
                self.publish_changes(pings, shutdown).await;
            }
            if self.config.serve_hub && expired_at.elapsed() >= EXPIRE_EVERY {
                expired_at = tokio::time::Instant::now();
                match self.store.websub_expire(self.clock.now()).await {
                    Ok(0) => {}
                    Ok(n) => info!(leases = n, "WebSub leases ended"),
                    Err(e) => warn!(error = %e, "could not remove ended WebSub leases"),
                }
            }
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tokio::time::sleep(WATCH_EVERY) => {}
            }
        }
    }

    /// Looks at each topic that matters and publishes those that changed.
    async fn publish_changes(&self, pings: &TaskTracker, shutdown: &CancellationToken) {
        let served = self.documents.topics();
        let topics = if self.config.hub.is_some() {
            served
        } else {
            match self.store.websub_subscribed_topics(self.clock.now()).await {
                Ok(subscribed) => served
                    .into_iter()
                    .filter(|t| subscribed.contains(t))
                    .collect(),
                Err(e) => {
                    warn!(error = %e, "could not read the WebSub subscriptions");
                    return;
                }
            }
        };
        for topic in topics {
            let Some(doc) = self.documents.document(&topic).await else {
                continue;
            };
            let hash = hex::encode(Sha256::digest(&doc.body));
            match self
                .store
                .websub_topic_changed(&topic, &hash, self.clock.now())
                .await
            {
                Ok(None) => {}
                Ok(Some(queued)) => {
                    debug!(topic = %topic, pushes = queued, "WebSub topic changed");
                    if queued > 0 {
                        self.queued.notify_one();
                    }
                    if let Some(hub) = &self.config.hub {
                        pings.spawn(ping(
                            Ping {
                                client: self.clients.pick(self.config.allow_private).clone(),
                                hub: hub.clone(),
                                topic,
                                allow_private: self.config.allow_private,
                                clock: Arc::clone(&self.clock),
                                metrics: Arc::clone(&self.metrics),
                            },
                            shutdown.clone(),
                        ));
                    }
                }
                Err(e) => {
                    warn!(topic = %topic, error = %e, "could not record a WebSub topic's change")
                }
            }
        }
    }

    /// Delivers due pushes; sleeps until the next is due, a change queues
    /// one, or [`IDLE_CHECK`] passes.
    async fn send(&self, shutdown: &CancellationToken) {
        if !self.config.serve_hub {
            return;
        }
        // Per subscription (topic, callback), the push outcome the archive
        // refused to record: its row stays due there, and is not sent
        // again until the outcome is written.
        let mut unrecorded: Unrecorded<(String, String), (PushRow, Delivery)> =
            Unrecorded::default();
        loop {
            unrecorded
                .write_due(self.clock.now(), |_, (row, outcome)| async move {
                    match self.record(&row, outcome.clone()).await {
                        Ok(()) => {
                            info!(topic = %row.topic, "WebSub push recorded after the archive refused it");
                            None
                        }
                        Err(e) => {
                            warn!(topic = %row.topic, error = %e, "still could not record a WebSub push; it is not sent again meanwhile and the write is retried");
                            Some((row, outcome))
                        }
                    }
                })
                .await;
            let rows = match self.store.due_websub_pushes(self.clock.now(), BATCH).await {
                Ok(rows) => rows,
                Err(e) => {
                    warn!(error = %e, "could not read the WebSub pushes");
                    Vec::new()
                }
            };
            let rows: Vec<PushRow> = rows
                .into_iter()
                .filter(|r| !unrecorded.holds(&(r.topic.clone(), r.callback.clone())))
                .collect();
            let pushed = rows.len();
            let pushes = futures_util::stream::iter(rows)
                .map(|row| async move {
                    let outcome = self.push(&row).await;
                    match self.record(&row, outcome.clone()).await {
                        Ok(()) => None,
                        Err(e) => {
                            warn!(topic = %row.topic, error = %e, "could not record a WebSub push; it is not sent again meanwhile and the write is retried");
                            Some((row, outcome))
                        }
                    }
                })
                .buffer_unordered(PUSHES_AT_ONCE)
                .collect::<Vec<_>>();
            tokio::select! {
                _ = shutdown.cancelled() => return,
                refused = pushes => {
                    let now = self.clock.now();
                    for (row, outcome) in refused.into_iter().flatten() {
                        let key = (row.topic.clone(), row.callback.clone());
                        unrecorded.keep(key, (row, outcome), now);
                    }
                }
            }
            if pushed > 0 {
                continue;
            }
            let now = self.clock.now();
            let next_due = match self.store.next_websub_push_due(now).await {
                // Due already yet nothing was sent: the pushes due are
                // those waiting for their outcome to be written.
                Ok(Some(at)) if at <= now && !unrecorded.is_empty() => None,
                Ok(at) => at,
                Err(e) => {
                    warn!(error = %e, "could not read the WebSub pushes");
                    None
                }
            };
            let wait = next_due
                .into_iter()
                .chain(unrecorded.next_write())
                .min()
                .map_or(IDLE_CHECK, |at| {
                    (at - self.clock.now())
                        .to_std()
                        .unwrap_or(Duration::ZERO)
                        .clamp(Duration::from_millis(50), IDLE_CHECK)
                });
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = self.queued.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// POSTs `row`'s topic as it is now to its subscriber.
    async fn push(&self, row: &PushRow) -> Delivery {
        let Ok(callback) = Url::parse(&row.callback) else {
            return Delivery::Refused(format!("{:?} is not a URL", row.callback));
        };
        if let Some(refused) = Clients::refusal(&callback, self.config.allow_private) {
            return refused;
        }
        let Some(doc) = self.documents.document(&row.topic).await else {
            return Delivery::Retry {
                error: "the topic's document could not be rendered (or is no longer served)".into(),
                retry_after: None,
            };
        };
        let mut req = self
            .clients
            .pick(self.config.allow_private)
            .post(callback)
            .header(reqwest::header::CONTENT_TYPE, doc.content_type)
            .header(
                reqwest::header::LINK,
                link_header(self.hub_url.as_str(), &row.topic),
            );
        if let Some(secret) = &row.secret {
            req = req.header("X-Hub-Signature", signature(secret.expose(), &doc.body));
        }
        classify(req.body(doc.body).send().await, self.clock.now())
    }

    async fn record(
        &self,
        row: &PushRow,
        outcome: Delivery,
    ) -> Result<(), crate::store::StoreError> {
        let (topic, callback) = (&row.topic, &row.callback);
        // A subscription queues at most one push, so there is nothing of
        // its own to hold back (as alerts do): no answer is retried like
        // any other failure. Counted and logged once written: a write the
        // archive refused is tried again (`Unrecorded`), and counts once.
        let (error, retry_after) = match outcome {
            Delivery::Delivered => {
                let pushed = self.store.websub_pushed(row).await?;
                self.metrics.websub_push("sent");
                debug!(topic = %topic, attempts = row.attempts + 1, "WebSub push delivered");
                if pushed == Pushed::Superseded {
                    debug!(topic = %topic, "WebSub topic changed while it was pushed; pushing it again");
                }
                return Ok(());
            }
            Delivery::Refused(error) => {
                self.store
                    .websub_push_failed(topic, callback, &error, None)
                    .await?;
                self.metrics.websub_push("failed");
                warn!(topic = %topic, error = %error, "WebSub push failed for good");
                return Ok(());
            }
            Delivery::Retry { error, retry_after } => (error, retry_after),
            Delivery::Unanswered(error) | Delivery::Rejected(error) => (error, None),
        };
        let next = next_attempt(
            row.attempts,
            row.created_at,
            self.clock.now(),
            retry_after,
            self.config.retry_for,
            jitter_fraction(),
        );
        self.store
            .websub_push_failed(topic, callback, &error, next)
            .await?;
        self.metrics
            .websub_push(if next.is_some() { "retried" } else { "failed" });
        match next {
            Some(at) => {
                info!(topic = %topic, error = %error, next = %at, "WebSub push not delivered; will retry")
            }
            None => {
                warn!(topic = %topic, error = %error, "WebSub push not delivered and out of retries; kept as failed")
            }
        }
        Ok(())
    }
}

/// One ping of the external hub about one topic.
struct Ping {
    client: reqwest::Client,
    hub: Url,
    topic: String,
    allow_private: bool,
    clock: SharedClock,
    metrics: Arc<Metrics>,
}

/// Tells the external hub that a topic changed (`hub.mode=publish`),
/// trying [`PING_ATTEMPTS`] times with backoff (never sooner than a
/// `Retry-After`, never later than a minute).
async fn ping(p: Ping, shutdown: CancellationToken) {
    let (hub, topic) = (&p.hub, &p.topic);
    let body = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("hub.mode", "publish")
        .append_pair("hub.url", topic)
        .finish();
    let mut delay = Duration::from_secs(1);
    for attempt in 1..=PING_ATTEMPTS {
        let outcome = match Clients::refusal(hub, p.allow_private) {
            Some(refused) => refused,
            None => {
                let sent = p
                    .client
                    .post(hub.clone())
                    .header(
                        reqwest::header::CONTENT_TYPE,
                        "application/x-www-form-urlencoded",
                    )
                    .body(body.clone())
                    .send()
                    .await;
                classify(sent, p.clock.now())
            }
        };
        let (error, retry_after) = match outcome {
            Delivery::Delivered => {
                p.metrics.websub_ping("sent");
                debug!(hub = %hub, topic = %topic, "WebSub hub pinged");
                return;
            }
            Delivery::Refused(error) => {
                p.metrics.websub_ping("failed");
                warn!(hub = %hub, topic = %topic, error = %error, "WebSub hub not pinged");
                return;
            }
            Delivery::Retry { error, retry_after } => (error, retry_after),
            Delivery::Unanswered(error) | Delivery::Rejected(error) => (error, None),
        };
        if attempt == PING_ATTEMPTS {
            p.metrics.websub_ping("failed");
            warn!(hub = %hub, topic = %topic, error = %error, attempts = attempt, "WebSub hub not pinged; giving up on this change");
            return;
        }
        p.metrics.websub_ping("retried");
        let wait = delay
            .mul_f64(jitter_fraction())
            .max(retry_after.unwrap_or_default())
            .min(Duration::from_secs(60));
        info!(hub = %hub, topic = %topic, error = %error, retry_in_ms = wait.as_millis() as u64, "WebSub hub ping failed; will retry");
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
        delay *= 2;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;
    use crate::clock::SystemClock;
    use crate::store::HubSubscriber;

    const TOPIC: &str = "http://tf.test/feed.atom";

    /// One topic whose document is `version N`, N as the test sets it.
    struct Versions(Arc<AtomicU32>);

    impl Documents for Versions {
        fn topics(&self) -> Vec<String> {
            vec![TOPIC.to_string()]
        }

        fn document<'a>(
            &'a self,
            _topic: &'a str,
        ) -> Pin<Box<dyn Future<Output = Option<Document>> + Send + 'a>> {
            let version = self.0.load(Ordering::SeqCst);
            Box::pin(async move {
                Some(Document {
                    content_type: "application/atom+xml",
                    body: Bytes::from(format!("version {version}")),
                })
            })
        }
    }

    /// Our hub's publisher over `store`, serving [`Versions`] of `version`,
    /// running until the returned token is cancelled.
    fn publishing(
        store: &Store,
        clock: &SharedClock,
        version: &Arc<AtomicU32>,
    ) -> (CancellationToken, tokio::task::JoinHandle<()>) {
        let publisher = Publisher::new(
            store.clone(),
            Arc::clone(clock),
            Arc::new(Metrics::new()),
            Arc::new(Versions(Arc::clone(version))),
            Clients::new("test").unwrap(),
            WebSubConfig {
                serve_hub: true,
                allow_private: true,
                ..WebSubConfig::default()
            },
            Url::parse("http://tf.test/websub").unwrap(),
        );
        let stop = CancellationToken::new();
        let run = tokio::spawn(publisher.run(stop.clone(), stop.clone()));
        (stop, run)
    }

    /// A reload that restarts publishing (another `retry_for_hours`, say)
    /// while a ping of the external hub waits to be tried again: the ping
    /// still goes out. The change it announces is recorded, so the
    /// publisher started after sees nothing to announce, and the hub
    /// would not hear of it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_ping_waiting_to_be_retried_outlives_a_reload() {
        let pings = Arc::new(AtomicU32::new(0));
        let app = {
            let pings = Arc::clone(&pings);
            axum::Router::new().route(
                "/hub",
                axum::routing::post(move || {
                    let first = pings.fetch_add(1, Ordering::SeqCst) == 0;
                    async move {
                        if first {
                            axum::http::StatusCode::SERVICE_UNAVAILABLE
                        } else {
                            axum::http::StatusCode::NO_CONTENT
                        }
                    }
                }),
            )
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let hub = Url::parse(&format!("http://{}/hub", listener.local_addr().unwrap())).unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("a.db")).unwrap();
        let clock: SharedClock = Arc::new(SystemClock);
        let version = Arc::new(AtomicU32::new(1));
        let start = |stop: &CancellationToken, shutdown: &CancellationToken| {
            let publisher = Publisher::new(
                store.clone(),
                Arc::clone(&clock),
                Arc::new(Metrics::new()),
                Arc::new(Versions(Arc::clone(&version))),
                Clients::new("test").unwrap(),
                WebSubConfig {
                    hub: Some(hub.clone()),
                    allow_private: true,
                    ..WebSubConfig::default()
                },
                hub.clone(),
            );
            tokio::spawn(publisher.run(stop.clone(), shutdown.clone()))
        };
        let shutdown = CancellationToken::new();
        let first = shutdown.child_token();
        let run = start(&first, &shutdown);
        wait_until("the first ping", async || pings.load(Ordering::SeqCst) == 1).await;
        // The reload: this publisher stops, another starts.
        first.cancel();
        run.await.unwrap();
        let run = start(&shutdown.child_token(), &shutdown);
        wait_until("the ping tried again", async || {
            pings.load(Ordering::SeqCst) == 2
        })
        .await;
        shutdown.cancel();
        run.await.unwrap();
    }

    /// Polls `done` every 20 ms for up to 30 s (generous: a loaded machine
    /// is slow, and only a broken publisher takes that long).
    async fn wait_until(what: &str, mut done: impl AsyncFnMut() -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while !done().await {
            assert!(
                tokio::time::Instant::now() < deadline,
                "waited 30 s for {what}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Review round 2: a change recorded while a push to the same
    /// subscriber was in flight was lost. The change left the pending push
    /// as it was, the 2xx for the older document then deleted it, and the
    /// topic's hash already said "published", so the new document never
    /// went out. The subscriber holds its answer to the first push until
    /// the change is recorded, so the order is certain.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_change_while_a_push_is_in_flight_is_pushed_after_it() {
        let got: Arc<Mutex<Vec<String>>> = Arc::default();
        let (release, released) = tokio::sync::watch::channel(false);
        let app = {
            let got = Arc::clone(&got);
            axum::Router::new().route(
                "/cb",
                axum::routing::post(move |body: String| {
                    let got = Arc::clone(&got);
                    let mut released = released.clone();
                    async move {
                        let first = body == "version 1";
                        got.lock().unwrap().push(body);
                        if first {
                            let _ = released.wait_for(|open| *open).await;
                        }
                        "ok"
                    }
                }),
            )
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let callback = format!("http://{}/cb", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("a.db");
        let store = Store::open(&db).unwrap();
        let clock: SharedClock = Arc::new(SystemClock);
        let subscriber = HubSubscriber {
            topic: TOPIC.into(),
            callback,
            secret: None,
            lease: Duration::from_secs(3600),
            verified_at: clock.now(),
        };
        store.websub_subscribe(subscriber.clone()).await.unwrap();
        let version = Arc::new(AtomicU32::new(1));
        let (stop, run) = publishing(&store, &clock, &version);

        wait_until("the first push", async || !got.lock().unwrap().is_empty()).await;
        // While the subscriber still holds its answer, the feed changes,
        // written by another connection (as a `tickerfeed poll` would) and
        // noticed as the daemon notices it.
        version.store(2, Ordering::SeqCst);
        Store::open(&db)
            .unwrap()
            .websub_subscribe(HubSubscriber {
                topic: "http://tf.test/other.atom".into(),
                ..subscriber
            })
            .await
            .unwrap();
        store.notice_external_writes().await.unwrap();
        let v2 = hex::encode(Sha256::digest(b"version 2"));
        wait_until("the change to be recorded", async || {
            let due = store.due_websub_pushes(clock.now(), 10).await.unwrap();
            due.iter().any(|p| {
                p.read_at_change
                    .as_ref()
                    .is_some_and(|c| c.content_sha256 == v2)
            })
        })
        .await;
        release.send(true).unwrap();

        wait_until("the push queue to empty", async || {
            store
                .next_websub_push_due(clock.now())
                .await
                .unwrap()
                .is_none()
        })
        .await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while got.lock().unwrap().len() < 2 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        stop.cancel();
        run.await.unwrap();
        assert_eq!(
            *got.lock().unwrap(),
            ["version 1", "version 2"],
            "the change made during the first push reached the subscriber"
        );
    }

    /// A subscriber that does not answer (until the send timeout) holds
    /// one push, not every other subscriber's: the other gets the document
    /// while the first is still waiting.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_hanging_subscriber_does_not_hold_back_the_others() {
        let got: Arc<Mutex<Vec<String>>> = Arc::default();
        let (release, released) = tokio::sync::watch::channel(false);
        let app = {
            let got = Arc::clone(&got);
            axum::Router::new().route(
                "/{who}",
                axum::routing::post(
                    move |axum::extract::Path(who): axum::extract::Path<String>| {
                        let got = Arc::clone(&got);
                        let mut released = released.clone();
                        async move {
                            if who == "1-hangs" {
                                let _ = released.wait_for(|open| *open).await;
                            }
                            got.lock().unwrap().push(who);
                            "ok"
                        }
                    },
                ),
            )
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("a.db")).unwrap();
        let clock: SharedClock = Arc::new(SystemClock);
        // The hanging one subscribed first, so its push is due first.
        for who in ["1-hangs", "2-answers"] {
            store
                .websub_subscribe(HubSubscriber {
                    topic: TOPIC.into(),
                    callback: format!("{base}/{who}"),
                    secret: None,
                    lease: Duration::from_secs(3600),
                    verified_at: clock.now(),
                })
                .await
                .unwrap();
        }
        let (stop, run) = publishing(&store, &clock, &Arc::new(AtomicU32::new(1)));
        wait_until("the answering subscriber's push", async || {
            got.lock().unwrap().iter().any(|w| w == "2-answers")
        })
        .await;
        assert_eq!(*got.lock().unwrap(), ["2-answers"], "the other still waits");
        // Its push is still in flight, not given up on (sent one after the
        // other, it would have timed out first, and counted an attempt).
        let hanging_attempts: i64 = rusqlite::Connection::open(dir.path().join("a.db"))
            .unwrap()
            .query_row(
                "SELECT attempts FROM websub_deliveries WHERE callback LIKE '%/1-hangs'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(hanging_attempts, 0);
        release.send(true).unwrap();
        wait_until("the waiting subscriber's push", async || {
            got.lock().unwrap().len() == 2
        })
        .await;
        stop.cancel();
        run.await.unwrap();
    }

    #[test]
    fn link_header_names_hub_and_self() {
        assert_eq!(
            link_header("https://tf.example/websub", "https://tf.example/feed.atom"),
            "<https://tf.example/websub>; rel=\"hub\", <https://tf.example/feed.atom>; rel=\"self\""
        );
    }
}
