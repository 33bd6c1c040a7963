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
//!   keeps it as failed after `[websub] retry_for_hours`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use sha2::{Digest, Sha256};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};
use url::Url;

use super::webhook::{Clients, Delivery, classify, jitter_fraction, next_attempt, signature};
use crate::clock::SharedClock;
use crate::config::WebSubConfig;
use crate::metrics::Metrics;
use crate::store::{PushRow, Store};

/// How often the archive's generation is looked at.
const WATCH_EVERY: Duration = Duration::from_millis(250);
/// The longest the sender sleeps without looking at the queue.
const IDLE_CHECK: Duration = Duration::from_secs(5);
/// How often ended leases are removed.
const EXPIRE_EVERY: Duration = Duration::from_secs(60);
/// Pushes read from the queue at once.
const BATCH: usize = 50;
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

    /// Watches, pings and pushes until `shutdown`; pings in flight are
    /// cancelled with it.
    pub async fn run(self, shutdown: CancellationToken) {
        info!(hub = %self.hub_url, own_hub = self.config.serve_hub, "WebSub publishing");
        let pings = TaskTracker::new();
        tokio::join!(self.watch(&pings, &shutdown), self.send(&shutdown));
        pings.close();
        pings.wait().await;
        debug!("WebSub publisher stopped");
    }

    async fn watch(&self, pings: &TaskTracker, shutdown: &CancellationToken) {
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
                _ = shutdown.cancelled() => break,
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
        loop {
            let rows = match self.store.due_websub_pushes(self.clock.now(), BATCH).await {
                Ok(rows) => rows,
                Err(e) => {
                    warn!(error = %e, "could not read the WebSub pushes");
                    Vec::new()
                }
            };
            for row in &rows {
                let outcome = tokio::select! {
                    _ = shutdown.cancelled() => return,
                    outcome = self.push(row) => outcome,
                };
                if let Err(e) = self.record(row, outcome).await {
                    warn!(topic = %row.topic, error = %e, "could not record a WebSub push; it will be sent again");
                }
            }
            if !rows.is_empty() {
                continue;
            }
            let wait = match self.store.next_websub_push_due(self.clock.now()).await {
                Ok(Some(at)) => (at - self.clock.now())
                    .to_std()
                    .unwrap_or(Duration::ZERO)
                    .clamp(Duration::from_millis(50), IDLE_CHECK),
                Ok(None) => IDLE_CHECK,
                Err(e) => {
                    warn!(error = %e, "could not read the WebSub pushes");
                    IDLE_CHECK
                }
            };
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
        match outcome {
            Delivery::Delivered => {
                self.metrics.websub_push("sent");
                debug!(topic = %topic, attempts = row.attempts + 1, "WebSub push delivered");
                self.store.websub_pushed(topic, callback).await
            }
            Delivery::Refused(error) => {
                self.metrics.websub_push("failed");
                warn!(topic = %topic, error = %error, "WebSub push failed for good");
                self.store
                    .websub_push_failed(topic, callback, &error, None)
                    .await
            }
            Delivery::Retry { error, retry_after } => {
                let next = next_attempt(
                    row.attempts,
                    row.created_at,
                    self.clock.now(),
                    retry_after,
                    self.config.retry_for,
                    jitter_fraction(),
                );
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
                self.store
                    .websub_push_failed(topic, callback, &error, next)
                    .await
            }
        }
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
    use super::*;

    #[test]
    fn link_header_names_hub_and_self() {
        assert_eq!(
            link_header("https://tf.example/websub", "https://tf.example/feed.atom"),
            "<https://tf.example/websub>; rel=\"hub\", <https://tf.example/feed.atom>; rel=\"self\""
        );
    }
}
