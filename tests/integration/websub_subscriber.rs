//! WebSub, tickerfeed as subscriber (issue 18): a loopback publisher
//! serves a feed that advertises a loopback test hub; the daemon runs
//! in-process with the wall clock (leases are wall time), subscribes,
//! answers the hub's challenge, ingests a signed push, ignores a forged
//! one, renews its lease before it ends, polls at the fallback rate while
//! the hub pushes, and goes back to its cron schedule when the hub is gone.
//! A feed that leaves the config is unsubscribed: across a restart
//! in-process, and under SIGHUP with the real binary.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::routing::post;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use tokio_util::sync::CancellationToken;

use crate::process::Running;
use crate::util::*;

/// A subscribe request the hub got, and how our verification went.
#[derive(Clone, Debug)]
struct Request {
    /// When it arrived.
    at: Instant,
    form: HashMap<String, String>,
    /// Whether the lease this subscription had been granted before was
    /// still running when the request came (a renewal in time).
    lease_running: bool,
    /// Our callback's answer to the challenge: status, and whether the
    /// body was the challenge.
    verified: Option<(u16, bool)>,
}

#[derive(Default)]
struct HubLog {
    requests: Vec<Request>,
    /// Per callback, when the lease granted last runs out.
    leases: HashMap<String, Instant>,
}

/// A loopback WebSub hub that accepts every subscription (and
/// unsubscription), verifies it at once with a lease of `lease` seconds,
/// and can be stopped, or told to hang.
struct TestHub {
    addr: SocketAddr,
    log: Arc<Mutex<HubLog>>,
    stop: CancellationToken,
    hang: Arc<AtomicBool>,
}

#[derive(Clone)]
struct HubState {
    log: Arc<Mutex<HubLog>>,
    lease: u64,
    http: reqwest::Client,
    /// Take requests (they are logged) and never answer them.
    hang: Arc<AtomicBool>,
}

async fn subscribe(State(hub): State<HubState>, body: String) -> axum::http::StatusCode {
    take_request(hub, body, Verify::After).await
}

/// A hub that verifies the request before it answers it, as some do.
async fn subscribe_verifying_first(
    State(hub): State<HubState>,
    body: String,
) -> axum::http::StatusCode {
    take_request(hub, body, Verify::First).await
}

/// A hub that accepts unsubscribe requests but is slow to verify them:
/// never, within a test.
async fn subscribe_unsubscribing_slowly(
    State(hub): State<HubState>,
    body: String,
) -> axum::http::StatusCode {
    take_request(hub, body, Verify::NotUnsubscribes).await
}

/// A hub that cannot take the first unsubscribe request (503), and takes
/// the rest as `/hub` does.
async fn subscribe_failing_an_unsubscribe(
    State(hub): State<HubState>,
    body: String,
) -> axum::http::StatusCode {
    take_request(hub, body, Verify::AfterFailingOneUnsubscribe).await
}

/// A hub that accepts requests and never verifies them, within a test.
async fn subscribe_silently(State(hub): State<HubState>, body: String) -> axum::http::StatusCode {
    take_request(hub, body, Verify::Never).await
}

/// When the test hub verifies a request.
#[derive(Clone, Copy, PartialEq)]
enum Verify {
    /// Never.
    Never,
    /// After answering it, as most hubs do.
    After,
    /// Before answering it.
    First,
    /// After answering, subscribes only.
    NotUnsubscribes,
    /// After answering, but the first unsubscribe gets 503 and nothing
    /// more.
    AfterFailingOneUnsubscribe,
}

async fn take_request(hub: HubState, body: String, when: Verify) -> axum::http::StatusCode {
    let form: HashMap<String, String> = url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    let index = {
        let mut log = hub.log.lock().unwrap();
        let callback = form.get("hub.callback").cloned().unwrap_or_default();
        let lease_running = log
            .leases
            .get(&callback)
            .is_some_and(|end| *end > Instant::now());
        log.requests.push(Request {
            at: Instant::now(),
            form: form.clone(),
            lease_running,
            verified: None,
        });
        log.requests.len() - 1
    };
    if hub.hang.load(Ordering::Relaxed) {
        std::future::pending::<()>().await;
    }
    if when == Verify::Never
        || (when == Verify::NotUnsubscribes && form["hub.mode"] == "unsubscribe")
    {
        return axum::http::StatusCode::ACCEPTED;
    }
    if when == Verify::AfterFailingOneUnsubscribe && form["hub.mode"] == "unsubscribe" {
        let unsubscribes = hub.log.lock().unwrap().requests[..index]
            .iter()
            .filter(|r| r.form["hub.mode"] == "unsubscribe")
            .count();
        if unsubscribes == 0 {
            return axum::http::StatusCode::SERVICE_UNAVAILABLE;
        }
    }
    // Verify asynchronously, as hubs do after answering 202.
    let verification = tokio::spawn(async move {
        let challenge = format!("challenge-{index}");
        let mut url = url::Url::parse(&form["hub.callback"]).unwrap();
        url.query_pairs_mut()
            .append_pair("hub.mode", &form["hub.mode"])
            .append_pair("hub.topic", &form["hub.topic"])
            .append_pair("hub.challenge", &challenge)
            .append_pair("hub.lease_seconds", &hub.lease.to_string());
        let resp = hub.http.get(url).send().await.unwrap();
        let status = resp.status().as_u16();
        let echoed = resp.text().await.unwrap() == challenge;
        let mut log = hub.log.lock().unwrap();
        if status == 200 && echoed {
            log.leases.insert(
                form["hub.callback"].clone(),
                Instant::now() + Duration::from_secs(hub.lease),
            );
        }
        log.requests[index].verified = Some((status, echoed));
    });
    if when == Verify::First {
        verification.await.unwrap();
    }
    axum::http::StatusCode::ACCEPTED
}

/// A hub that refuses every subscription, quoting the parameters it was
/// sent, as some error pages do.
async fn refuse_echoing(body: String) -> (axum::http::StatusCode, String) {
    let form: HashMap<String, String> = url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    let quoted = format!("rejected: hub.secret={}", form["hub.secret"]);
    (axum::http::StatusCode::BAD_REQUEST, quoted)
}

impl TestHub {
    async fn start(lease: u64) -> TestHub {
        let log: Arc<Mutex<HubLog>> = Arc::default();
        let hang = Arc::new(AtomicBool::new(false));
        let state = HubState {
            log: Arc::clone(&log),
            lease,
            http: reqwest::Client::new(),
            hang: Arc::clone(&hang),
        };
        let app = Router::new()
            .route("/hub", post(subscribe))
            .route("/hub-verifying-first", post(subscribe_verifying_first))
            .route(
                "/hub-unsubscribing-slowly",
                post(subscribe_unsubscribing_slowly),
            )
            .route("/silent-hub", post(subscribe_silently))
            .route(
                "/hub-failing-an-unsubscribe",
                post(subscribe_failing_an_unsubscribe),
            )
            .route("/refusing-hub", post(refuse_echoing))
            .with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = CancellationToken::new();
        let s = stop.clone();
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move { s.cancelled().await })
                .await
                .unwrap()
        });
        TestHub {
            addr,
            log,
            stop,
            hang,
        }
    }

    /// From now on, takes each request and never answers it, as a hub
    /// that is stuck does.
    fn hang(&self) {
        self.hang.store(true, Ordering::Relaxed);
    }

    fn url(&self) -> String {
        format!("http://{}/hub", self.addr)
    }

    fn requests(&self) -> Vec<Request> {
        self.log.lock().unwrap().requests.clone()
    }

    /// Waits until `n` subscribe requests were verified.
    async fn wait_verified(&self, n: usize) -> Vec<Request> {
        for _ in 0..1200 {
            let done: Vec<Request> = self
                .requests()
                .into_iter()
                .filter(|r| r.verified.is_some())
                .collect();
            if done.len() >= n {
                return done;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "the hub never verified {n} subscriptions: {:?}",
            self.requests()
        );
    }
}

/// The publisher's feed: `items` as (guid, title), advertising `hub`.
fn feed(self_url: &str, hub: &str, items: &[(&str, &str)]) -> String {
    let mut s = format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"><channel>
<title>Wire</title><link>https://example.com/</link><description>test</description>
<atom:link rel="self" href="{self_url}"/><atom:link rel="hub" href="{hub}"/>
"#
    );
    for (i, (guid, title)) in items.iter().enumerate() {
        s.push_str(&format!(
            "<item><guid>{guid}</guid><title>{title}</title><link>https://example.com/{guid}</link><pubDate>Mon, 23 Nov 2026 {:02}:00:00 GMT</pubDate></item>\n",
            10 + i
        ));
    }
    s.push_str("</channel></rss>\n");
    s
}

fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The daemon in-process with the wall clock, listening where its
/// `[websub] callback_url` says.
struct Subscriber {
    base: String,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Subscriber {
    async fn start(dir: &TestDir, extra: &str) -> Subscriber {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        Subscriber::start_on(dir, extra, listener).await
    }

    /// The daemon on `listener`: a restart keeps its callbacks' address.
    async fn start_on(dir: &TestDir, extra: &str, listener: tokio::net::TcpListener) -> Subscriber {
        Subscriber::start_named(dir, extra, listener, "127.0.0.1").await
    }

    /// [`Subscriber::start_on`], its callback URL naming it `host`.
    async fn start_named(
        dir: &TestDir,
        extra: &str,
        listener: tokio::net::TcpListener,
        host: &str,
    ) -> Subscriber {
        let port = listener.local_addr().unwrap().port();
        let base = format!("http://{host}:{port}");
        let config = dir.write_config(&format!(
            "[websub]\ncallback_url = \"{base}/\"\nsubscribe_lease_seconds = 12\nfallback_poll_minutes = 60\n{extra}"
        ));
        let clock: tickerfeed::clock::SharedClock = Arc::new(tickerfeed::clock::SystemClock);
        let opened = tickerfeed::app::open(&config, clock.clone()).await.unwrap();
        let stop = CancellationToken::new();
        let task = tokio::spawn(tickerfeed::app::serve_with(
            config,
            clock,
            stop.clone(),
            opened,
            listener,
            tickerfeed::systemd::Notifier::default(),
        ));
        Subscriber { base, stop, task }
    }

    /// The text the daemon serves at `path`.
    async fn page(&self, path: &str) -> String {
        reqwest::get(format!("{}{path}", self.base))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// Waits (5 s at most) until `/metrics` has counted each of
    /// `results` of our hub requests once.
    async fn counted_once(&self, results: &[&str]) {
        let counted = |metrics: &str| {
            results.iter().all(|result| {
                metrics.contains(&format!(
                    "tickerfeed_websub_subscribe_requests_total{{result=\"{result}\"}} 1"
                ))
            })
        };
        let mut metrics = String::new();
        for _ in 0..100 {
            metrics = self.page("/metrics").await;
            if counted(&metrics) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("not each of {results:?} counted once: {metrics}");
    }

    async fn stop(self) {
        self.stop.cancel();
        self.task.await.unwrap().unwrap();
    }

    /// Stops the daemon and starts it again on the same address (so its
    /// callbacks stay where hubs know them) with `feeds`.
    async fn restart(self, dir: &TestDir, feeds: &str) -> Subscriber {
        self.restart_after(dir, feeds, || {}).await
    }

    /// [`Subscriber::restart`], doing `meanwhile` while it is stopped.
    async fn restart_after(
        self,
        dir: &TestDir,
        feeds: &str,
        meanwhile: impl FnOnce(),
    ) -> Subscriber {
        let addr = self.base.trim_start_matches("http://").to_string();
        self.stop().await;
        meanwhile();
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        Subscriber::start_on(dir, feeds, listener).await
    }
}

fn titled(dir: &TestDir, title: &str) -> i64 {
    dir.count(&format!(
        "SELECT count(*) FROM v_items WHERE title = '{title}'"
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribes_ingests_signed_pushes_renews_and_falls_back_to_polling() {
    let hub = TestHub::start(12).await;
    let publisher = FeedServer::start().await;
    let self_url = publisher.url("/feed.xml");
    let first = feed(&self_url, &hub.url(), &[("a", "Polled news")]);
    publisher.set("/feed.xml", Reply::feed(first));
    let dir = TestDir::new();
    // Every second by cron: without the subscription, polls are frequent.
    let daemon = Subscriber::start(
        &dir,
        &feed_block("wire", &self_url, "schedule = \"* * * * * *\""),
    )
    .await;
    let http = reqwest::Client::new();

    // 1. The daemon subscribes, and answers the hub's challenge.
    let verified = hub.wait_verified(1).await;
    let request = &verified[0];
    let verified_at = Instant::now();
    assert_eq!(request.verified, Some((200, true)), "{request:?}");
    let form = &request.form;
    assert_eq!(form["hub.mode"], "subscribe");
    assert_eq!(form["hub.topic"], self_url);
    assert_eq!(form["hub.lease_seconds"], "12");
    let callback = form["hub.callback"].clone();
    assert!(
        callback.starts_with(&format!("{}/websub/callback/", daemon.base)),
        "{callback}"
    );
    let secret = form["hub.secret"].clone();
    assert!(secret.len() >= 32, "a random secret per subscription");
    assert_eq!(titled(&dir, "Polled news"), 1);
    let state: String = dir
        .db()
        .query_row("SELECT state FROM websub_subscriptions", [], |r| r.get(0))
        .unwrap();
    assert_eq!(state, "active");
    // `tickerfeed feeds` says so.
    let out = tokio::process::Command::from(bin())
        .arg("--config")
        .arg(dir.config_path())
        .arg("feeds")
        .output()
        .await
        .unwrap();
    let out = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.contains(&format!("websub:     pushed by {}", hub.url())),
        "{out}"
    );
    // And so does the operator's page, without the secret.
    let page = daemon.page("/feeds").await;
    assert!(
        page.contains(&format!("<dt>WebSub</dt><dd>pushed by {}", hub.url())),
        "{page}"
    );
    assert!(!page.contains(&form["hub.secret"]), "{page}");

    // A verification that does not match what we asked for is refused.
    let wrong_topic = http
        .get(format!(
            "{callback}?hub.mode=subscribe&hub.topic=http://elsewhere.test/&hub.challenge=x"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_topic.status(), 404);
    let unknown = http
        .get(format!(
            "{}/websub/callback/0123?hub.mode=subscribe&hub.topic={self_url}&hub.challenge=x",
            daemon.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);

    // 2. A signed push is ingested at once, through the pipeline.
    let pushed = feed(
        &self_url,
        &hub.url(),
        &[("a", "Polled news"), ("b", "Pushed news")],
    );
    let resp = http
        .post(&callback)
        .header("content-type", "application/rss+xml")
        .header("x-hub-signature", sign(&secret, pushed.as_bytes()))
        .body(pushed.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(titled(&dir, "Pushed news"), 1);

    // 3. A forged push (wrong key, or none) is answered alike, but ignored.
    let forged = feed(&self_url, &hub.url(), &[("c", "Forged news")]);
    for signature in [Some(sign("not the secret", forged.as_bytes())), None] {
        let mut req = http.post(&callback).body(forged.clone());
        if let Some(s) = signature {
            req = req.header("x-hub-signature", s);
        }
        assert_eq!(req.send().await.unwrap().status(), 200);
    }
    assert_eq!(titled(&dir, "Forged news"), 0);
    // A push to a callback we never handed out: 410 Gone.
    let stray = http
        .post(format!("{}/websub/callback/0123", daemon.base))
        .header("x-hub-signature", sign(&secret, forged.as_bytes()))
        .body(forged.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(stray.status(), 410);
    assert_eq!(titled(&dir, "Forged news"), 0);
    let metrics = http
        .get(format!("{}/metrics", daemon.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        "tickerfeed_websub_received_total{result=\"ingested\"} 1",
        "tickerfeed_websub_received_total{result=\"bad_signature\"} 2",
        "tickerfeed_websub_received_total{result=\"unknown_subscription\"} 1",
    ] {
        assert!(metrics.contains(line), "{line} missing from:\n{metrics}");
    }

    // 4. The lease is renewed before it ends, with the same callback.
    let renewed = hub.wait_verified(2).await;
    let renewal = &renewed[1];
    assert!(renewal.lease_running, "renewed only after the lease ended");
    assert_eq!(renewal.form["hub.callback"], callback);
    assert_eq!(renewal.form["hub.secret"], secret);
    assert_eq!(renewal.verified, Some((200, true)));
    // While the hub pushed, the feed was polled at the fallback rate (an
    // hour), not every second: at most a poll already under way when the
    // subscription was verified.
    let polls_while_live = publisher
        .seen("/feed.xml")
        .iter()
        .filter(|s| s.at > verified_at && s.at < renewal.at)
        .count();
    assert!(
        polls_while_live <= 1,
        "{polls_while_live} polls while the hub pushed"
    );

    // 5. The hub disappears: renewals fail, the lease ends, and the feed
    // is polled on its cron schedule again.
    let requests_before = hub.requests().len();
    hub.stop.cancel();
    let gone_at = Instant::now();
    let mut resumed = 0;
    for _ in 0..1200 {
        resumed = publisher
            .seen("/feed.xml")
            .iter()
            .filter(|s| s.at > gone_at)
            .count();
        if resumed >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        resumed >= 3,
        "polling never resumed after the hub went away"
    );
    let (state, error): (String, Option<String>) = dir
        .db()
        .query_row(
            "SELECT state, last_error FROM websub_subscriptions",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(state, "expired");
    assert!(error.unwrap_or_default().contains("renew"), "why it lapsed");
    assert_eq!(hub.requests().len(), requests_before, "the hub was gone");
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_feed_that_opts_out_or_holds_a_key_is_not_subscribed_and_a_denial_ends_a_subscription() {
    let hub = TestHub::start(600).await;
    let publisher = FeedServer::start().await;
    let doc = |url: &str| feed(url, &hub.url(), &[("a", "News")]);
    publisher.set("/out.xml", Reply::feed(doc(&publisher.url("/out.xml"))));
    publisher.set("/in.xml", Reply::feed(doc(&publisher.url("/in.xml"))));
    // A feed whose address holds its key: a hub must be given the topic
    // whole, and would keep the key, so it is polled instead.
    let keyed = publisher.url("/keyed.xml?api_key=hub-k3y-51c0");
    publisher.set("/keyed.xml", Reply::feed(doc(&keyed)));
    let dir = TestDir::new();
    let feeds = format!(
        "{}{}{}",
        feed_block("out", &publisher.url("/out.xml"), "websub = false"),
        feed_block("in", &publisher.url("/in.xml"), ""),
        feed_block("keyed", &keyed, "")
    );
    let daemon = Subscriber::start(&dir, &feeds).await;
    let verified = hub.wait_verified(1).await;
    assert_eq!(verified[0].form["hub.topic"], publisher.url("/in.xml"));
    assert_eq!(dir.count("SELECT count(*) FROM websub_subscriptions"), 1);

    // The hub later denies it (WebSub §5.2): the subscription ends.
    let callback = &verified[0].form["hub.callback"];
    let resp = reqwest::Client::new()
        .get(format!(
            // A reason with a line break, as a hub forging a log line
            // would send it.
            "{callback}?hub.mode=denied&hub.topic={}&hub.reason=closed%0A2026-01-01T00:00:00Z%20ERROR%20forged",
            publisher.url("/in.xml")
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let (state, error): (String, String) = dir
        .db()
        .query_row(
            "SELECT state, last_error FROM websub_subscriptions",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(state, "denied");
    assert!(error.contains("closed"), "{error}");
    assert!(
        !error.contains('\n'),
        "the hub's reason is one line in the log and the archive: {error:?}"
    );
    // Pushes for it are refused now.
    let push = reqwest::Client::new()
        .post(callback)
        .body(doc(&publisher.url("/in.xml")))
        .send()
        .await
        .unwrap();
    assert_eq!(push.status(), 410);
    // The keyed feed was polled; a subscription would have followed it.
    let deadline = Instant::now() + Duration::from_secs(10);
    while dir.count(
        "SELECT count(*) FROM fetches x JOIN feeds f ON f.id = x.feed_id WHERE f.name = 'keyed'",
    ) == 0
    {
        assert!(Instant::now() < deadline, "the keyed feed was never polled");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        hub.requests().len(),
        1,
        "neither the opted-out feed nor the keyed one subscribed"
    );
    assert_eq!(
        dir.count("SELECT count(*) FROM websub_subscriptions WHERE topic LIKE '%k3y%'"),
        0
    );
    daemon.stop().await;
}

/// A hub that refuses the subscription with the request echoed in its
/// answer: the error is kept and shown, our secret in it is not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_that_echoes_the_secret_is_shown_without_it() {
    let hub = TestHub::start(600).await;
    let refusing = format!("http://{}/refusing-hub", hub.addr);
    let publisher = FeedServer::start().await;
    let self_url = publisher.url("/in.xml");
    publisher.set(
        "/in.xml",
        Reply::feed(feed(&self_url, &refusing, &[("a", "News")])),
    );
    let dir = TestDir::new();
    let daemon = Subscriber::start(&dir, &feed_block("in", &self_url, "")).await;
    let mut failed = None;
    for _ in 0..300 {
        failed = dir
            .db()
            .query_row(
                "SELECT secret, last_error FROM websub_subscriptions WHERE state = 'failed'",
                [],
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)),
            )
            .ok();
        if failed.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (secret, error) = failed.expect("the refused subscription is recorded as failed");
    assert!(error.contains("400 Bad Request"), "{error}");
    assert!(error.contains("hub.secret=****"), "{error}");
    assert!(!error.contains(&secret), "{error}");
    let page = daemon.page("/feeds").await;
    assert!(page.contains("<dt>WebSub</dt><dd>failed at"), "{page}");
    assert!(!page.contains(&secret), "{page}");
    daemon.stop().await;
}

/// A feed with a live subscription leaves the config: at the next start
/// the daemon asks the hub to unsubscribe its callback at once (not left
/// to 410s until the lease ends) and confirms the hub's verification. An
/// unsubscribe for a subscription it still wants is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_feed_that_leaves_the_config_is_unsubscribed_at_its_hub() {
    unsubscribed_at_its_hub("/hub").await;
}

/// The same with a hub that verifies before it answers the request: the
/// confirmation it got is what the archive keeps.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unsubscribe_verified_before_the_hub_answers_is_kept_as_confirmed() {
    unsubscribed_at_its_hub("/hub-verifying-first").await;
}

/// What the unsubscribe tests start from: a test hub; a publisher of
/// "wire" (at `self_url`), which advertises the hub's `hub_path`; and of
/// "quiet" (its `[[feeds]]` block), a feed without a hub that keeps the
/// config non-empty when "wire" leaves.
struct Publishing {
    hub: TestHub,
    hub_url: String,
    /// Serves both feeds for as long as the test holds this.
    _publisher: FeedServer,
    self_url: String,
    quiet: String,
}

impl Publishing {
    async fn start(hub_path: &str) -> Publishing {
        Publishing::start_leasing(hub_path, 3_600).await
    }

    /// [`Publishing::start`], with a hub that grants leases of `lease`
    /// seconds.
    async fn start_leasing(hub_path: &str, lease: u64) -> Publishing {
        let hub = TestHub::start(lease).await;
        let hub_url = format!("http://{}{hub_path}", hub.addr);
        let publisher = FeedServer::start().await;
        let self_url = publisher.url("/wire.xml");
        publisher.set(
            "/wire.xml",
            Reply::feed(feed(&self_url, &hub_url, &[("a", "News")])),
        );
        let quiet = feed_block("quiet", &publisher.url("/quiet.xml"), "");
        publisher.set("/quiet.xml", Reply::feed(rss("Quiet", &[])));
        Publishing {
            hub,
            hub_url,
            _publisher: publisher,
            self_url,
            quiet,
        }
    }

    /// "wire"'s `[[feeds]]` block, with `extra`.
    fn wire(&self, extra: &str) -> String {
        feed_block("wire", &self.self_url, extra)
    }
}

async fn unsubscribed_at_its_hub(hub_path: &str) {
    let p = Publishing::start(hub_path).await;
    let (hub, self_url, quiet) = (&p.hub, &p.self_url, &p.quiet);
    let dir = TestDir::new();
    let daemon = Subscriber::start(&dir, &format!("{}{quiet}", p.wire(""))).await;
    let verified = hub.wait_verified(1).await;
    let callback = verified[0].form["hub.callback"].clone();
    let state = || -> (String, String) {
        dir.db()
            .query_row(
                "SELECT state, coalesce(last_error, '') FROM websub_subscriptions",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap()
    };
    assert_eq!(state().0, "active");

    // Someone else asks the hub to end it: the hub checks with us, and we
    // still want the feed.
    let forged = reqwest::get(format!(
        "{callback}?hub.mode=unsubscribe&hub.topic={self_url}&hub.challenge=forged"
    ))
    .await
    .unwrap();
    assert_eq!(forged.status(), 404);
    assert_eq!(state().0, "active");

    // The operator removes the feed; the daemon comes back on its address.
    let daemon = daemon.restart(&dir, quiet).await;
    let done = hub.wait_verified(2).await;
    let unsubscribe = &done[1];
    assert_eq!(
        unsubscribe.form["hub.mode"], "unsubscribe",
        "{unsubscribe:?}"
    );
    assert_eq!(&unsubscribe.form["hub.topic"], self_url);
    assert_eq!(unsubscribe.form["hub.callback"], callback);
    assert!(
        !unsubscribe.form.contains_key("hub.secret"),
        "an unsubscribe carries no secret: {unsubscribe:?}"
    );
    assert_eq!(
        unsubscribe.verified,
        Some((200, true)),
        "the daemon confirms the unsubscribe it asked for"
    );
    let (state, note) = state();
    assert_eq!(state, "expired");
    assert_eq!(
        dir.count(
            "SELECT count(*) FROM websub_subscriptions WHERE unsubscribe_requested_at IS NOT NULL"
        ),
        1
    );
    assert!(note.contains("the hub confirmed the unsubscribe"), "{note}");
    // A hub that verifies first answers the request after the
    // verification: its acceptance is counted a moment later.
    daemon
        .counted_once(&["unsubscribe_accepted", "unsubscribed"])
        .await;
    // Asked once, not on every round of the renewal loop.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(hub.requests().len(), 2, "{:?}", hub.requests());
    daemon.stop().await;
}

/// The hub cannot take the unsubscribe request (a 503): it is asked again
/// while the lease runs (a quarter of what is left of it later), and the
/// operator sees when; the second request is taken and confirmed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unsubscribe_the_hub_could_not_take_is_asked_again() {
    let p = Publishing::start_leasing("/hub-failing-an-unsubscribe", 8).await;
    let (hub, quiet) = (&p.hub, &p.quiet);
    let dir = TestDir::new();
    let daemon = Subscriber::start(&dir, &format!("{}{quiet}", p.wire(""))).await;
    let callback = hub.wait_verified(1).await[0].form["hub.callback"].clone();
    let row = || -> (String, String, String) {
        dir.db()
            .query_row(
                "SELECT state, coalesce(last_error, ''), coalesce(unsubscribe_requested_at, '')
                   FROM websub_subscriptions",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap()
    };
    let unsubscribes = || -> Vec<Request> {
        hub.requests()
            .into_iter()
            .filter(|r| r.form["hub.mode"] == "unsubscribe")
            .collect()
    };

    let daemon = daemon.restart(&dir, quiet).await;
    assert!(
        eventually(|| row().1.contains("the hub answered 503 Service Unavailable")).await,
        "{:?}",
        row()
    );
    let (state, note, first_asked) = row();
    assert_eq!(state, "active");
    assert!(note.contains("asking again at"), "{note}");
    assert_eq!(unsubscribes().len(), 1);

    // Confirmed, and the hub has noted our answer to its challenge.
    assert!(
        eventually(
            || row().0 == "expired" && unsubscribes().get(1).is_some_and(|r| r.verified.is_some())
        )
        .await,
        "never asked again: {:?} {:?}",
        row(),
        hub.requests()
    );
    let asked = unsubscribes();
    assert_eq!(asked.len(), 2, "{asked:?}");
    assert!(asked.iter().all(|r| r.form["hub.callback"] == callback));
    assert_eq!(asked[1].verified, Some((200, true)));
    let (_, note, still_first) = row();
    assert!(note.contains("the hub confirmed the unsubscribe"), "{note}");
    assert_eq!(still_first, first_asked, "the first request's time is kept");
    // The hub's 202 may be counted a moment after its verification.
    daemon
        .counted_once(&["unsubscribe_failed", "unsubscribe_accepted", "unsubscribed"])
        .await;
    daemon.stop().await;
}

/// A subscription the hub has not verified yet, of a feed that leaves:
/// it simply ends (there is nothing at the hub to unsubscribe), and a
/// verification that comes later is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_subscription_of_a_feed_that_leaves_ends() {
    let p = Publishing::start("/silent-hub").await;
    let (hub, self_url, quiet) = (&p.hub, &p.self_url, &p.quiet);
    let dir = TestDir::new();
    let state = || -> Option<(String, String)> {
        dir.db()
            .query_row(
                "SELECT state, coalesce(last_error, '') FROM websub_subscriptions",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .ok()
    };
    let daemon = Subscriber::start(&dir, &format!("{}{quiet}", p.wire(""))).await;
    // The subscription is recorded before it is sent: wait for both.
    assert!(
        eventually(|| state().is_some_and(|(s, _)| s == "pending") && !hub.requests().is_empty())
            .await
    );
    let callback = hub.requests()[0].form["hub.callback"].clone();

    let daemon = daemon.restart(&dir, quiet).await;
    assert!(
        eventually(|| state().is_some_and(|(s, _)| s == "expired")).await,
        "{:?}",
        state()
    );
    assert_eq!(state().unwrap().1, "the feed no longer subscribes");
    let late = reqwest::get(format!(
        "{callback}?hub.mode=subscribe&hub.topic={self_url}&hub.challenge=late&hub.lease_seconds=60"
    ))
    .await
    .unwrap();
    assert_eq!(late.status(), 404);
    assert_eq!(
        hub.requests().len(),
        1,
        "nothing to unsubscribe: {:?}",
        hub.requests()
    );
    daemon.stop().await;
}

/// The hub has not confirmed the unsubscribe yet: a restart does not ask
/// again (the archive remembers it asked), the operator sees it is
/// unsubscribing, and when the feed comes back it is subscribed again at
/// once, under the same callback.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unsubscribe_is_asked_once_and_a_feed_that_comes_back_is_subscribed_again() {
    let p = Publishing::start("/hub-unsubscribing-slowly").await;
    let (hub, hub_url, self_url, quiet) = (&p.hub, &p.hub_url, &p.self_url, &p.quiet);
    // The feed opts out rather than leaving, so `/feeds` still lists it.
    let wire = |extra: &str| p.wire(extra);
    let dir = TestDir::new();
    let daemon = Subscriber::start(&dir, &format!("{}{quiet}", wire(""))).await;
    let callback = hub.wait_verified(1).await[0].form["hub.callback"].clone();

    let daemon = daemon
        .restart(&dir, &format!("{}{quiet}", wire("websub = false")))
        .await;
    // Recorded before it is sent; the note says how it went once the hub
    // answered.
    let asked = eventually(|| {
        hub.requests().len() == 2
            && dir.count(
                "SELECT count(*) FROM websub_subscriptions
                  WHERE unsubscribe_requested_at IS NOT NULL
                    AND last_error LIKE '%waiting for the hub to confirm%'",
            ) == 1
    })
    .await;
    assert!(asked, "{:?}", hub.requests());
    assert_eq!(hub.requests()[1].form["hub.mode"], "unsubscribe");
    let page = daemon.page("/feeds").await;
    assert!(
        page.contains(&format!(
            "<dt>WebSub</dt><dd>unsubscribing from {hub_url} since"
        )),
        "{page}"
    );
    assert!(page.contains("waiting for the hub to confirm"), "{page}");

    // A hub (or anyone) verifying a subscribe for the opted-out feed is
    // refused: it would start the pushes again.
    let resubscribe = reqwest::get(format!(
        "{callback}?hub.mode=subscribe&hub.topic={self_url}&hub.challenge=again&hub.lease_seconds=60"
    ))
    .await
    .unwrap();
    assert_eq!(resubscribe.status(), 404);

    // Restarted, still opted out: not asked again.
    let daemon = daemon
        .restart(&dir, &format!("{}{quiet}", wire("websub = false")))
        .await;
    daemon.page("/healthz").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(hub.requests().len(), 2, "{:?}", hub.requests());

    // Back in: subscribed again at once, the same callback.
    let daemon = daemon.restart(&dir, &format!("{}{quiet}", wire(""))).await;
    let again = hub.wait_verified(2).await;
    let renewal = again.last().unwrap();
    assert_eq!(renewal.form["hub.mode"], "subscribe", "{renewal:?}");
    assert_eq!(renewal.form["hub.callback"], callback);
    assert_eq!(renewal.verified, Some((200, true)));
    assert_eq!(
        dir.count(
            "SELECT count(*) FROM websub_subscriptions
              WHERE state = 'active' AND unsubscribe_requested_at IS NULL"
        ),
        1
    );
    daemon.stop().await;
}

/// A test hub, and an archive (made by a daemon polling the returned
/// `quiet` feed from the returned publisher) whose feed "moved", now at a
/// public URL, has a live subscription `cb-moved` to that hub, due for
/// renewal, made when it lived on the operator's network. It was polled
/// a moment ago and is paused for years, so no test ever fetches its
/// public URL.
async fn public_feed_subscribed() -> (Publishing, TestDir) {
    let p = Publishing::start("/hub").await;
    let dir = TestDir::new();
    Subscriber::start(&dir, &p.quiet).await.stop().await;
    // The daemon reads the wall clock (leases are wall time).
    use tickerfeed::clock::Clock;
    let now = tickerfeed::clock::SystemClock.now();
    let at = |d: chrono::Duration| tickerfeed::clock::to_db_time(now + d);
    rusqlite::Connection::open(dir.db_path())
        .unwrap()
        .execute_batch(&format!(
            "INSERT INTO feeds (name, url, schedule, created_at, last_attempt_at, not_before_at)
             VALUES ('moved', 'https://news.example/feed.xml', '@hourly', '{a}', '{a}', '{far}');
             INSERT INTO websub_subscriptions
                 (feed_id, hub, topic, callback_id, secret, state, requested_at,
                  verified_at, lease_seconds, lease_expires_at, renew_at)
             SELECT id, '{hub}', 'https://news.example/feed.xml', 'cb-moved', 's3cret', 'active',
                    '{a}', '{a}', 3600, '{end}', '{a}'
             FROM feeds WHERE name = 'moved';",
            a = at(chrono::Duration::zero()),
            far = at(chrono::Duration::days(3_650)),
            end = at(chrono::Duration::hours(1)),
            hub = p.hub_url,
        ))
        .unwrap();
    (p, dir)
}

/// A feed that subscribed to a hub on the operator's network, from a URL
/// on it too, later moved to a public URL and then left the config: the
/// unsubscribe is refused like any request to a private address for a
/// public feed (the hub's address came from a document, not the operator).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unsubscribe_to_a_private_hub_for_a_public_feed_is_refused() {
    let (p, dir) = public_feed_subscribed().await;
    let (hub, quiet) = (&p.hub, &p.quiet);
    let daemon = Subscriber::start(&dir, quiet).await;
    let note = || -> String {
        dir.db()
            .query_row(
                "SELECT coalesce(last_error, '') FROM websub_subscriptions WHERE callback_id = 'cb-moved'",
                [],
                |r| r.get(0),
            )
            .unwrap()
    };
    eventually(|| note().contains("failed")).await;
    let note = note();
    assert!(
        note.contains("the unsubscribe request failed (refused: 127.0.0.1 is not a public address"),
        "{note}"
    );
    assert!(hub.requests().is_empty(), "{:?}", hub.requests());
    daemon.stop().await;
}

/// A feed subscribed, from the operator's network, to a hub there; its URL
/// is public now. The renewal is not sent to the private address, and the
/// subscription ends at once instead of failing again every few minutes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renewal_to_a_private_hub_for_a_public_feed_ends_the_subscription() {
    let (p, dir) = public_feed_subscribed().await;
    let (hub, quiet) = (&p.hub, &p.quiet);
    let moved = feed_block(
        "moved",
        "https://news.example/feed.xml",
        "schedule = \"@hourly\"",
    );
    let daemon = Subscriber::start(&dir, &format!("{quiet}{moved}")).await;
    let ended = || -> Option<String> {
        dir.db()
            .query_row(
                "SELECT last_error FROM websub_subscriptions
                  WHERE callback_id = 'cb-moved' AND state = 'failed'",
                [],
                |r| r.get(0),
            )
            .ok()
    };
    eventually(|| ended().is_some()).await;
    let ended = ended().expect("the subscription ends");
    assert!(
        ended.contains("refused: 127.0.0.1 is not a public address"),
        "{ended}"
    );
    assert!(hub.requests().is_empty(), "{:?}", hub.requests());
    assert_eq!(
        dir.count("SELECT count(*) FROM fetches WHERE url LIKE 'https://news.example/%'"),
        0,
        "the public URL is never fetched"
    );
    daemon.stop().await;
}

/// The feed starts advertising another hub: its next poll subscribes
/// there, and the old hub is told to stop (not left to push into 410s).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_feed_that_moves_to_another_hub_is_unsubscribed_from_the_old_one() {
    let (old_hub, new_hub) = (TestHub::start(3_600).await, TestHub::start(3_600).await);
    let publisher = FeedServer::start().await;
    let self_url = publisher.url("/wire.xml");
    let advertising = |hub: &TestHub| Reply::feed(feed(&self_url, &hub.url(), &[("a", "News")]));
    publisher.set("/wire.xml", advertising(&old_hub));
    let dir = TestDir::new();
    let wire = feed_block("wire", &self_url, "");
    let daemon = Subscriber::start(&dir, &wire).await;
    let first = old_hub.wait_verified(1).await[0].clone();

    publisher.set("/wire.xml", advertising(&new_hub));
    // The next poll waits for the fallback rate (an hour here): move the
    // last one back past it while the daemon is down.
    let daemon = daemon
        .restart_after(&dir, &wire, || {
            rusqlite::Connection::open(dir.db_path())
                .unwrap()
                .execute(
                    "UPDATE feeds SET last_attempt_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-2 hours')",
                    [],
                )
                .unwrap();
        })
        .await;
    let subscribed = new_hub.wait_verified(1).await;
    assert_eq!(subscribed[0].form["hub.mode"], "subscribe");
    let told = old_hub.wait_verified(2).await;
    let unsubscribe = &told[1];
    assert_eq!(
        unsubscribe.form["hub.mode"], "unsubscribe",
        "{unsubscribe:?}"
    );
    assert_eq!(unsubscribe.form["hub.callback"], first.form["hub.callback"]);
    assert_eq!(unsubscribe.verified, Some((200, true)));
    let (state, note): (String, String) = dir
        .db()
        .query_row(
            "SELECT state, last_error FROM websub_subscriptions WHERE hub = ?1",
            [old_hub.url()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(state, "expired");
    assert_eq!(note, "the feed now advertises another hub or topic");
    daemon.stop().await;
}

/// The operator removes a subscribed feed and sends SIGHUP: the real
/// daemon asks the hub to unsubscribe right after the reload, without
/// waiting for the renewal loop's next look (every 30 s).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_that_removes_a_feed_unsubscribes_it_at_once() {
    let p = Publishing::start("/hub").await;
    let (hub, quiet) = (&p.hub, &p.quiet);
    let dir = TestDir::new();
    let websub = "[websub]\ncallback_url = \"http://127.0.0.1:PASSED_PORT/\"\n";
    dir.write_config_only(&format!("{websub}{}{quiet}", p.wire("")));
    // The callback URL names the port systemd's stand-in binds.
    let cmd = crate::process::socket_activated(&dir);
    let mut d = Running::spawn(cmd, &[]);
    tokio::task::block_in_place(|| d.wait_for("tickerfeed running"));
    let verified = hub.wait_verified(1).await;
    assert_eq!(verified[0].form["hub.mode"], "subscribe");

    let config = std::fs::read_to_string(dir.config_path()).unwrap();
    let websub = config
        .lines()
        .find(|l| l.starts_with("callback_url"))
        .map(|l| format!("[websub]\n{l}\n"))
        .unwrap();
    dir.write_config_only(&format!("{websub}{quiet}"));
    let reloaded = Instant::now();
    d.signal("HUP");
    tokio::task::block_in_place(|| d.wait_for("config reloaded"));
    let done = hub.wait_verified(2).await;
    assert_eq!(done[1].form["hub.mode"], "unsubscribe", "{:?}", done[1]);
    assert_eq!(
        done[1].form["hub.callback"],
        verified[0].form["hub.callback"]
    );
    assert_eq!(done[1].verified, Some((200, true)));
    assert!(
        done[1].at - reloaded < Duration::from_secs(10),
        "asked {:?} after the reload",
        done[1].at - reloaded
    );
    d.signal("TERM");
    assert_eq!(
        tokio::task::block_in_place(|| d.wait_exit()),
        0,
        "{}",
        d.log.join("\n")
    );
    let state: String = dir
        .db()
        .query_row("SELECT state FROM websub_subscriptions", [], |r| r.get(0))
        .unwrap();
    assert_eq!(state, "expired");
}

/// A reload that changes `subscribe_lease_seconds` is what the next
/// subscription asks hubs for (here, that of a feed the same reload
/// adds), without a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_changes_the_lease_asked_of_hubs() {
    let p = Publishing::start("/hub").await;
    let dir = TestDir::new();
    let websub = "[websub]\ncallback_url = \"http://127.0.0.1:PASSED_PORT/\"\nsubscribe_lease_seconds = 600\n";
    dir.write_config_only(&format!("{websub}{}", p.quiet));
    let cmd = crate::process::socket_activated(&dir);
    let mut d = Running::spawn(cmd, &[]);
    tokio::task::block_in_place(|| d.wait_for("tickerfeed running"));
    // The port the stand-in for systemd wrote into the config.
    let config = std::fs::read_to_string(dir.config_path()).unwrap();
    let edited = config
        .replace(
            "subscribe_lease_seconds = 600",
            "subscribe_lease_seconds = 900",
        )
        .replace(&p.quiet, &format!("{}{}", p.quiet, p.wire("")));
    std::fs::write(dir.config_path(), edited).unwrap();
    d.signal("HUP");
    tokio::task::block_in_place(|| d.wait_for("config reloaded"));
    let asked = p.hub.wait_verified(1).await;
    assert_eq!(asked[0].form["hub.mode"], "subscribe");
    assert_eq!(asked[0].form["hub.lease_seconds"], "900", "{:?}", asked[0]);
    tokio::task::block_in_place(|| d.stop_with_nothing_waiting());
}

/// A reload that changes `[websub] callback_url` (the daemon moved to
/// another address) asks the hub again at once, for each live
/// subscription, under the new callback (same id, same secret), and the
/// hub's verification there makes it live. Before, the reload only
/// warned that it waited for a restart, and the hub went on pushing to
/// the old URL until the lease ran out. The old callback is not
/// unsubscribed: its lease runs out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_that_changes_the_callback_url_subscribes_again_under_it() {
    let p = Publishing::start("/hub").await;
    let dir = TestDir::new();
    let websub = "[websub]\ncallback_url = \"http://127.0.0.1:PASSED_PORT/\"\n";
    dir.write_config_only(&format!("{websub}{}", p.wire("")));
    let cmd = crate::process::socket_activated(&dir);
    let mut d = Running::spawn(cmd, &[]);
    tokio::task::block_in_place(|| d.wait_for("tickerfeed running"));
    let first = p.hub.wait_verified(1).await;
    let old = first[0].form["hub.callback"].clone();
    assert!(old.starts_with("http://127.0.0.1:"), "{old}");

    // Another name for the same daemon, as a moved proxy would give it.
    let config = std::fs::read_to_string(dir.config_path()).unwrap();
    std::fs::write(
        dir.config_path(),
        config.replace(
            "callback_url = \"http://127.0.0.1:",
            "callback_url = \"http://localhost:",
        ),
    )
    .unwrap();
    let reloaded = Instant::now();
    d.signal("HUP");
    tokio::task::block_in_place(|| d.wait_for("config reloaded"));
    let done = p.hub.wait_verified(2).await;
    let again = &done[1];
    assert_eq!(again.form["hub.mode"], "subscribe", "{again:?}");
    assert_eq!(
        again.form["hub.callback"],
        old.replace("http://127.0.0.1:", "http://localhost:")
    );
    assert_eq!(again.form["hub.secret"], first[0].form["hub.secret"]);
    assert_eq!(again.verified, Some((200, true)), "{again:?}");
    assert!(
        again.at - reloaded < Duration::from_secs(10),
        "asked {:?} after the reload",
        again.at - reloaded
    );
    let (state, callback): (String, String) = dir
        .db()
        .query_row(
            "SELECT state, callback_url FROM websub_subscriptions",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(
        (state.as_str(), callback),
        ("active", again.form["hub.callback"].clone())
    );
    // Once, and without asking the hub to drop the old callback.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(p.hub.requests().len(), 2, "{:?}", p.hub.requests());
    assert!(
        !d.log
            .join("\n")
            .contains("takes effect at the next restart"),
        "{}",
        d.log.join("\n")
    );
    tokio::task::block_in_place(|| d.stop_with_nothing_waiting());
}

/// SIGTERM while the renewal loop asks a hub that stopped answering: here
/// a reload moved `[websub] callback_url`, so each of three live
/// subscriptions is asked for again, one after another, and the first
/// request hangs. The daemon exits 0 at once, the request abandoned and the
/// rest left to the next start. Before, the stop waited out each request
/// (15 s apiece, 45 s here), past systemd's `TimeoutStopSec=45`, which
/// ends it in SIGKILL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_does_not_wait_for_a_hub_that_hangs() {
    let hub = TestHub::start(3_600).await;
    let publisher = FeedServer::start().await;
    let mut feeds = String::new();
    for name in ["one", "two", "three"] {
        let self_url = publisher.url(&format!("/{name}.xml"));
        let doc = feed(&self_url, &hub.url(), &[(name, "News")]);
        publisher.set(&format!("/{name}.xml"), Reply::feed(doc));
        feeds.push_str(&feed_block(name, &self_url, ""));
    }
    let dir = TestDir::new();
    let websub = "[websub]\ncallback_url = \"http://127.0.0.1:PASSED_PORT/\"\n";
    dir.write_config_only(&format!("{websub}{feeds}"));
    let mut d = Running::spawn(crate::process::socket_activated(&dir), &[]);
    tokio::task::block_in_place(|| d.wait_for("tickerfeed running"));
    hub.wait_verified(3).await;

    hub.hang();
    let config = std::fs::read_to_string(dir.config_path()).unwrap();
    let moved = config.replace("http://127.0.0.1:", "http://localhost:");
    std::fs::write(dir.config_path(), moved).unwrap();
    d.signal("HUP");
    // The renewal loop is waiting on the hub.
    for _ in 0..200 {
        if hub.requests().len() > 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(hub.requests().len(), 4, "{:?}", hub.requests());

    let stopping = Instant::now();
    d.signal("TERM");
    assert_eq!(
        tokio::task::block_in_place(|| d.wait_exit()),
        0,
        "{}",
        d.log.join("\n")
    );
    assert!(
        stopping.elapsed() < Duration::from_secs(8),
        "stopped {:?} after SIGTERM:\n{}",
        stopping.elapsed(),
        d.log.join("\n")
    );
    assert!(
        !d.log.iter().any(|l| l.contains("did not stop")),
        "{}",
        d.log.join("\n")
    );
    assert_eq!(hub.requests().len(), 4, "{:?}", hub.requests());
}

/// A restart with another `[websub] callback_url` does the same as a
/// reload: the archive keeps the callback each subscription was asked
/// for under, and a live one under another is asked for again at once,
/// not at its renewal. So is one whose callback is not known (asked for
/// before the archive kept it, version 26), as the same restart may be
/// an upgrade.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_with_another_callback_url_subscribes_again_under_it() {
    let p = Publishing::start("/hub").await;
    let dir = TestDir::new();
    let s = Subscriber::start(&dir, &p.wire("")).await;
    let first = p.hub.wait_verified(1).await;
    let addr = s.base.trim_start_matches("http://").to_string();
    s.stop().await;
    rusqlite::Connection::open(dir.db_path())
        .unwrap()
        .execute("UPDATE websub_subscriptions SET callback_url = NULL", [])
        .unwrap();
    let listener = tokio::net::TcpListener::bind(&addr).await.unwrap();
    let s = Subscriber::start_named(&dir, &p.wire(""), listener, "localhost").await;
    let done = p.hub.wait_verified(2).await;
    assert_eq!(done[1].form["hub.mode"], "subscribe", "{:?}", done[1]);
    assert_eq!(
        done[1].form["hub.callback"],
        first[0].form["hub.callback"].replace("http://127.0.0.1:", "http://localhost:")
    );
    assert_eq!(done[1].verified, Some((200, true)));
    s.stop().await;
}

/// An archive from before version 23 whose subscription's topic holds its
/// feed's key (tickerfeed subscribed such topics then): the upgrade blanks
/// the key out of the topic and ends the subscription, which could not be
/// renewed or unsubscribed without it, so the feed is polled on its
/// schedule rather than left waiting for pushes at the fallback rate (an
/// hour here), and a push to its callback gets 410 Gone. Before, the row
/// kept the key and stayed `active`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_old_subscription_whose_topic_holds_the_key_ends_and_the_feed_is_polled() {
    let hub = TestHub::start(600).await;
    let publisher = FeedServer::start().await;
    let keyed = publisher.url("/keyed.xml?api_key=old-k3y-77");
    publisher.set(
        "/keyed.xml",
        Reply::feed(feed(&keyed, &hub.url(), &[("a", "News")])),
    );
    let dir = TestDir::new();
    let feeds = feed_block("keyed", &keyed, "schedule = \"* * * * * *\"");
    // The daemon's address, which the subscription's callback URL names.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    // An archive at version 26, the feed's key blanked from its address (as
    // 23 did), the subscription as made before 23: live for a day, under
    // the current callback URL.
    tickerfeed::store::create_archive_at_version(&dir.db_path(), 26).unwrap();
    {
        use tickerfeed::clock::Clock;
        let now = tickerfeed::clock::SystemClock.now();
        let at = |d: chrono::Duration| tickerfeed::clock::to_db_time(now + d);
        rusqlite::Connection::open(dir.db_path())
            .unwrap()
            .execute_batch(&format!(
                "INSERT INTO feeds (name, url, schedule, created_at)
                 VALUES ('keyed', '{blanked}', '* * * * * *', '{a}');
                 INSERT INTO websub_subscriptions
                     (feed_id, hub, topic, callback_id, secret, state, requested_at,
                      verified_at, lease_seconds, lease_expires_at, renew_at, callback_url)
                 SELECT id, '{hub}', '{keyed}', 'cb-keyed', 's3cret', 'active', '{a}', '{a}',
                        86400, '{end}', '{renew}', '{base}/websub/callback/cb-keyed'
                 FROM feeds WHERE name = 'keyed';",
                blanked = publisher.url("/keyed.xml?api_key=****"),
                hub = hub.url(),
                a = at(chrono::Duration::zero()),
                end = at(chrono::Duration::days(1)),
                renew = at(chrono::Duration::hours(19)),
            ))
            .unwrap();
    }
    let daemon = Subscriber::start_on(&dir, &feeds, listener).await;
    let polls = || {
        dir.count(
            "SELECT count(*) FROM fetches x JOIN feeds f ON f.id = x.feed_id WHERE f.name = 'keyed'",
        )
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while polls() < 2 {
        assert!(
            Instant::now() < deadline,
            "the feed waited for pushes: {} polls since the start",
            polls()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (topic, state, renew_at, error): (String, String, Option<String>, String) = dir
        .db()
        .query_row(
            "SELECT topic, state, renew_at, last_error FROM websub_subscriptions",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap();
    assert_eq!(topic, publisher.url("/keyed.xml?api_key=****"));
    assert_eq!((state.as_str(), renew_at), ("expired", None));
    assert!(error.contains("polled"), "{error}");
    let push = reqwest::Client::new()
        .post(format!("{base}/websub/callback/cb-keyed"))
        .body("<feed/>")
        .send()
        .await
        .unwrap();
    assert_eq!(push.status(), 410);
    assert!(hub.requests().is_empty(), "{:?}", hub.requests());
    daemon.stop().await;
}

/// A POST to a callback id we never handed out is answered 410 Gone
/// before its body arrives: a client that announces 16 MiB and sends one
/// byte gets its refusal at once. The body used to be read first, with no
/// deadline, so 512 such clients stalling held 8 GiB and every connection
/// the daemon serves, and `/feed.atom` and `/healthz` stopped answering.
/// A made-up id of 60,000 characters is refused alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_to_an_unknown_callback_is_refused_before_its_body_arrives() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = TestDir::new();
    let daemon = Subscriber::start(&dir, "").await;
    let addr = daemon.base.trim_start_matches("http://").to_string();
    for id in [
        "0123456789abcdef0123456789abcdef".to_string(),
        "x".repeat(60_000),
    ] {
        let mut c = tokio::net::TcpStream::connect(&addr).await.unwrap();
        let head = format!(
            "POST /websub/callback/{id} HTTP/1.1\r\nHost: x\r\n\
             Content-Type: application/atom+xml\r\nContent-Length: 16777216\r\n\r\n<"
        );
        c.write_all(head.as_bytes()).await.unwrap();
        let mut answer = [0u8; 12];
        tokio::time::timeout(Duration::from_secs(5), c.read_exact(&mut answer))
            .await
            .unwrap_or_else(|_| panic!("no answer before the body (id of {} bytes)", id.len()))
            .unwrap();
        assert_eq!(&answer, b"HTTP/1.1 410", "id of {} bytes", id.len());
    }
    daemon.stop().await;
}
