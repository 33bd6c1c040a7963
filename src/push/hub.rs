//! The WebSub hub (W3C WebSub §5): subscription requests and the
//! verification of intent.
//!
//! `POST /websub` (the `http` module) hands the form to [`Hub::accept`],
//! which checks it at once, answering with a [`Refusal`] (4xx) what can be
//! refused synchronously: a mode other than subscribe or unsubscribe, a
//! topic that is not one of our feeds, a callback that is not an absolute
//! http(s) URL (or, unless `[websub] allow_private`, an IP literal that is
//! not public), a secret of 200 bytes or more. An acceptable request is
//! queued (answered 202) for the [`Verifier`], which GETs the callback
//! with `hub.mode`, `hub.topic`, a random `hub.challenge` and, to
//! subscribe, the lease the hub grants (`hub.lease_seconds`, within
//! `[websub] max_lease_seconds`). Only a 2xx whose body is the challenge
//! activates the subscription (recorded in the archive,
//! `store::websub`) or removes it. When the hub will not take a
//! subscription (it holds `[websub] max_subscriptions` already, and this
//! is no renewal), it tells the callback with `hub.mode=denied` and a
//! `hub.reason` (§5.2) instead of verifying.
//!
//! Callbacks named by a host are checked as they resolve (the guarded
//! client, `push::webhook::Clients`). The secret is never logged.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};
use url::Url;

use super::webhook::Clients;
use crate::cause::chain as error_chain;
use crate::clock::SharedClock;
use crate::config::{Secret, WebSubConfig};
use crate::store::{HubSubscriber, Store};

/// Subscription requests waiting for verification, at most; past it a
/// request is answered 503.
const QUEUE: usize = 256;
/// Verifications in flight at once.
const PARALLEL: usize = 8;
/// The shortest lease granted, whatever is asked.
const MIN_LEASE: Duration = Duration::from_secs(60);
/// The most of a verification answer read: it should be the challenge.
const ANSWER_CAP: usize = 1_024;
/// WebSub §5.1: `hub.secret` MUST be less than 200 bytes.
const SECRET_MAX: usize = 199;

/// What a subscriber asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Subscribe,
    Unsubscribe,
}

impl Mode {
    fn as_str(self) -> &'static str {
        match self {
            Mode::Subscribe => "subscribe",
            Mode::Unsubscribe => "unsubscribe",
        }
    }
}

/// A request that passed the synchronous checks.
#[derive(Debug, Clone, PartialEq)]
pub struct Intent {
    pub mode: Mode,
    pub topic: String,
    pub callback: Url,
    /// The lease the hub grants (subscribe only).
    pub lease: Duration,
    pub secret: Option<Secret>,
}

/// Why a request is refused at once, with the status to answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("{0}")]
    BadRequest(String),
    #[error(
        "hub.topic {0:?} is not a feed this hub publishes: the feeds are listed at /feeds.opml and /views.opml"
    )]
    UnknownTopic(String),
    #[error("too many subscription requests are waiting for verification; try again shortly")]
    Busy,
}

impl Refusal {
    /// The HTTP status for this refusal.
    pub fn status(&self) -> u16 {
        match self {
            Refusal::BadRequest(_) => 400,
            Refusal::UnknownTopic(_) => 404,
            Refusal::Busy => 503,
        }
    }
}

/// The hub's front: checks requests and queues them for verification.
/// Cheap to clone.
#[derive(Debug, Clone)]
pub struct Hub {
    queue: mpsc::Sender<Intent>,
    config: Arc<WebSubConfig>,
}

impl Hub {
    /// A hub for `config`, and the verifier that must run for its queued
    /// requests to be verified.
    pub fn new(
        config: &WebSubConfig,
        store: Store,
        clock: SharedClock,
        clients: Clients,
    ) -> (Hub, Verifier) {
        let (tx, rx) = mpsc::channel(QUEUE);
        let config = Arc::new(config.clone());
        (
            Hub {
                queue: tx,
                config: Arc::clone(&config),
            },
            Verifier {
                queue: rx,
                parts: Arc::new(VerifierParts {
                    store,
                    clock,
                    clients,
                    config,
                }),
            },
        )
    }

    /// Checks a subscription request (`form`, the decoded body) whose
    /// topic must satisfy `is_topic`, and queues it for verification.
    pub fn accept(
        &self,
        form: &[(String, String)],
        is_topic: impl Fn(&str) -> bool,
    ) -> Result<(), Refusal> {
        let intent = self.check(form, is_topic)?;
        self.queue.try_send(intent).map_err(|_| Refusal::Busy)
    }

    fn check(
        &self,
        form: &[(String, String)],
        is_topic: impl Fn(&str) -> bool,
    ) -> Result<Intent, Refusal> {
        let field = |name: &str| {
            form.iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let bad = |why: String| Refusal::BadRequest(why);
        let mode = match field("hub.mode") {
            Some("subscribe") => Mode::Subscribe,
            Some("unsubscribe") => Mode::Unsubscribe,
            Some(other) => {
                return Err(bad(format!(
                    "hub.mode {other:?} is not subscribe or unsubscribe (publishers ping the external hub, not this one)"
                )));
            }
            None => return Err(bad("missing hub.mode (subscribe or unsubscribe)".into())),
        };
        let topic = field("hub.topic").ok_or_else(|| bad("missing hub.topic".into()))?;
        if !is_topic(topic) {
            return Err(Refusal::UnknownTopic(topic.to_string()));
        }
        let text = field("hub.callback").ok_or_else(|| bad("missing hub.callback".into()))?;
        let callback = match Url::parse(text) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => u,
            Ok(_) => {
                return Err(bad(format!(
                    "hub.callback {text:?} is not an absolute http or https URL"
                )));
            }
            Err(e) => return Err(bad(format!("hub.callback {text:?} is not a URL: {e}"))),
        };
        if let Some(why) = Clients::refusal(&callback, self.config.allow_private) {
            return Err(bad(format!("hub.callback {text:?}: {why:?}")));
        }
        let lease = match field("hub.lease_seconds") {
            None | Some("") => self.config.default_lease,
            Some(s) => match s.trim().parse::<u64>() {
                Ok(secs) => {
                    Duration::from_secs(secs).clamp(MIN_LEASE, self.config.max_lease.max(MIN_LEASE))
                }
                Err(_) => {
                    return Err(bad(format!(
                        "hub.lease_seconds {s:?} is not a whole number of seconds"
                    )));
                }
            },
        };
        let secret = match field("hub.secret") {
            None | Some("") => None,
            Some(s) if s.len() > SECRET_MAX => {
                return Err(bad(format!(
                    "hub.secret is {} bytes: WebSub requires less than 200",
                    s.len()
                )));
            }
            Some(s) => Some(Secret::new(s)),
        };
        Ok(Intent {
            mode,
            topic: topic.to_string(),
            callback,
            lease,
            secret,
        })
    }
}

/// Verifies queued requests with the callbacks and records the outcome.
pub struct Verifier {
    queue: mpsc::Receiver<Intent>,
    parts: Arc<VerifierParts>,
}

/// How a verification ended, for the log and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verified {
    Subscribed,
    Unsubscribed,
    /// The callback did not confirm: not subscribed (or not removed).
    NotConfirmed(String),
    Denied(String),
}

impl Verifier {
    /// Verifies requests, a few at a time, until `shutdown`, or until its
    /// [`Hub`] is dropped and what it queued is verified.
    pub async fn run(mut self, shutdown: CancellationToken) {
        let mut running = JoinSet::new();
        info!("WebSub hub verifying subscriptions");
        loop {
            while running.len() >= PARALLEL {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = running.join_next() => {}
                }
            }
            let intent = tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = running.join_next(), if !running.is_empty() => continue,
                intent = self.queue.recv() => match intent {
                    Some(i) => i,
                    // The hub was put aside (a reload turned it off or
                    // changed its settings): the requests it answered 202
                    // are still verified, then this ends.
                    None => {
                        while !running.is_empty() {
                            tokio::select! {
                                _ = shutdown.cancelled() => break,
                                _ = running.join_next() => {}
                            }
                        }
                        break;
                    }
                },
            };
            let this = Arc::clone(&self.parts);
            running.spawn(async move { this.verify(intent).await });
        }
        // What is in flight is cancelled: the subscriber retries its
        // request (it never got a verification).
        running.abort_all();
        debug!("WebSub hub stopped");
    }
}

/// What each verification needs, shared by those in flight.
struct VerifierParts {
    store: Store,
    clock: SharedClock,
    clients: Clients,
    config: Arc<WebSubConfig>,
}

impl VerifierParts {
    async fn verify(&self, intent: Intent) -> Verified {
        let outcome = self.verify_inner(&intent).await;
        // The callback's path and query may carry the subscriber's own
        // token: log its origin only.
        let callback = intent.callback.origin().ascii_serialization();
        match &outcome {
            Verified::Subscribed | Verified::Unsubscribed => {
                info!(topic = %intent.topic, callback = %callback, mode = intent.mode.as_str(), lease_s = intent.lease.as_secs(), "WebSub intent verified")
            }
            Verified::NotConfirmed(why) | Verified::Denied(why) => {
                info!(topic = %intent.topic, callback = %callback, mode = intent.mode.as_str(), why = %why, "WebSub request not taken")
            }
        }
        outcome
    }

    async fn verify_inner(&self, intent: &Intent) -> Verified {
        if intent.mode == Mode::Subscribe {
            let max = self.config.max_subscriptions;
            match self
                .store
                .websub_other_leases(&intent.topic, intent.callback.as_str(), self.clock.now())
                .await
            {
                Ok(n) if n >= max => {
                    let reason = format!("this hub holds {max} subscriptions already");
                    self.deny(intent, &reason).await;
                    return Verified::Denied(reason);
                }
                Ok(_) => {}
                Err(e) => warn!(error = %e, "could not count WebSub subscriptions"),
            }
        }
        let challenge = challenge();
        let mut url = intent.callback.clone();
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("hub.mode", intent.mode.as_str())
                .append_pair("hub.topic", &intent.topic)
                .append_pair("hub.challenge", &challenge);
            if intent.mode == Mode::Subscribe {
                q.append_pair("hub.lease_seconds", &intent.lease.as_secs().to_string());
            }
        }
        let client = self.clients.pick(self.config.allow_private);
        let answer = match client.get(url).send().await {
            Ok(resp) if resp.status().is_success() => read_capped(resp).await,
            Ok(resp) => return Verified::NotConfirmed(format!("HTTP {}", resp.status())),
            // Without the URL: its path and query (the challenge too) are
            // not logged.
            Err(e) => return Verified::NotConfirmed(error_chain(&e.without_url())),
        };
        if answer.as_deref().map(str::trim) != Some(challenge.as_str()) {
            return Verified::NotConfirmed("the callback did not echo hub.challenge".into());
        }
        let recorded = match intent.mode {
            Mode::Subscribe => self
                .store
                .websub_subscribe(HubSubscriber {
                    topic: intent.topic.clone(),
                    callback: intent.callback.to_string(),
                    secret: intent.secret.clone(),
                    lease: intent.lease,
                    verified_at: self.clock.now(),
                })
                .await
                .map(|()| Verified::Subscribed),
            Mode::Unsubscribe => self
                .store
                .websub_unsubscribe(&intent.topic, intent.callback.as_str())
                .await
                .map(|_| Verified::Unsubscribed),
        };
        recorded.unwrap_or_else(|e| {
            warn!(error = %e, "could not record a verified WebSub request");
            Verified::NotConfirmed(format!("the archive did not record it: {e}"))
        })
    }

    /// WebSub §5.2: tells the callback the subscription was refused.
    async fn deny(&self, intent: &Intent, reason: &str) {
        let mut url = intent.callback.clone();
        url.query_pairs_mut()
            .append_pair("hub.mode", "denied")
            .append_pair("hub.topic", &intent.topic)
            .append_pair("hub.reason", reason);
        let client = self.clients.pick(self.config.allow_private);
        if let Err(e) = client.get(url).send().await {
            debug!(error = %error_chain(&e.without_url()), "could not tell a callback its subscription was denied");
        }
    }
}

/// The body of a verification answer, if it is short text.
async fn read_capped(mut resp: reqwest::Response) -> Option<String> {
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = resp.chunk().await {
        if body.len() + chunk.len() > ANSWER_CAP {
            return None;
        }
        body.extend_from_slice(&chunk);
    }
    String::from_utf8(body).ok()
}

/// 128 random bits from the OS, as hex: a callback cannot guess it, so
/// echoing it proves the request reached the subscriber.
fn challenge() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the OS provides random bytes");
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hub(allow_private: bool) -> Hub {
        let (tx, _rx) = mpsc::channel(1);
        Hub {
            queue: tx,
            config: Arc::new(WebSubConfig {
                serve_hub: true,
                allow_private,
                ..WebSubConfig::default()
            }),
        }
    }

    fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    const TOPIC: &str = "https://tf.example.net/feed.atom";

    fn check(h: &Hub, pairs: &[(&str, &str)]) -> Result<Intent, Refusal> {
        h.check(&form(pairs), |t| t == TOPIC)
    }

    #[test]
    fn requests_are_checked_before_they_are_queued() {
        let h = hub(false);
        let ok = [
            ("hub.mode", "subscribe"),
            ("hub.topic", TOPIC),
            ("hub.callback", "https://reader.example.org/cb?id=7"),
            ("hub.lease_seconds", "999999999"),
            ("hub.secret", "k"),
        ];
        let intent = check(&h, &ok).unwrap();
        assert_eq!(intent.mode, Mode::Subscribe);
        assert_eq!(intent.lease, WebSubConfig::default().max_lease, "capped");
        assert_eq!(intent.secret.unwrap().expose(), "k");

        let with = |k: &str, v: &str| {
            let mut f = ok.to_vec();
            f.retain(|(key, _)| *key != k);
            f.push((k, v));
            check(&h, &f)
        };
        assert!(matches!(
            with("hub.topic", "https://elsewhere.example/feed"),
            Err(Refusal::UnknownTopic(_))
        ));
        let refused = |r: Result<Intent, Refusal>| r.unwrap_err().to_string();
        assert!(refused(with("hub.mode", "publish")).contains("hub.mode"));
        assert!(refused(with("hub.callback", "ftp://x/cb")).contains("http or https"));
        assert!(refused(with("hub.callback", "http://127.0.0.1:9/cb")).contains("refused"));
        assert!(refused(with("hub.lease_seconds", "soon")).contains("hub.lease_seconds"));
        assert!(refused(with("hub.secret", &"s".repeat(200))).contains("less than 200"));
        assert!(with("hub.secret", &"s".repeat(199)).is_ok());
        // Loopback callbacks are fine where private ones are allowed.
        let f = form(&[
            ("hub.mode", "unsubscribe"),
            ("hub.topic", TOPIC),
            ("hub.callback", "http://127.0.0.1:9/cb"),
        ]);
        assert!(hub(true).check(&f, |t| t == TOPIC).is_ok());
        assert_eq!(challenge().len(), 32);
        assert_ne!(challenge(), challenge());
    }

    /// A hub put aside (a reload turned it off) still verifies what it
    /// answered 202 before its verifier ends: a slow callback included.
    #[tokio::test]
    async fn a_hub_put_aside_verifies_what_it_accepted() {
        let callback = axum::Router::new().route(
            "/cb",
            axum::routing::get(
                |q: axum::extract::Query<std::collections::HashMap<String, String>>| async move {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    q.0["hub.challenge"].clone()
                },
            ),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, callback).await });
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("a.db")).unwrap();
        let clock: SharedClock = Arc::new(crate::clock::SystemClock);
        let config = WebSubConfig {
            serve_hub: true,
            allow_private: true,
            ..WebSubConfig::default()
        };
        let (hub, verifier) = Hub::new(
            &config,
            store.clone(),
            Arc::clone(&clock),
            Clients::new("test").unwrap(),
        );
        let cb = format!("http://{addr}/cb");
        hub.accept(
            &form(&[
                ("hub.mode", "subscribe"),
                ("hub.topic", TOPIC),
                ("hub.callback", &cb),
            ]),
            |t| t == TOPIC,
        )
        .unwrap();
        drop(hub);
        tokio::time::timeout(
            Duration::from_secs(10),
            verifier.run(CancellationToken::new()),
        )
        .await
        .expect("the verifier ends once what it accepted is verified");
        assert_eq!(
            store.websub_subscribed_topics(clock.now()).await.unwrap(),
            [TOPIC]
        );
    }
}
