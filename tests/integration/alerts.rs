//! Alerts (issue 18): webhooks fed from a durable outbox. A daemon runs
//! in-process on 127.0.0.1:0 with the real wall clock (retries are due at
//! wall times), a loopback feed server, and a loopback receiver that
//! records each request and answers as scripted.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Request, Response};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use tickerfeed::clock::SharedClock;
use tickerfeed::config::{Config, Secret};

use crate::serve::Daemon;
use crate::util::*;

/// One request the receiver got.
#[derive(Clone, Debug)]
struct Received {
    at: Instant,
    path: String,
    headers: HeaderMap,
    body: Bytes,
}

impl Received {
    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

/// A scripted answer: status and headers.
type Answer = (u16, Vec<(String, String)>);

#[derive(Default)]
struct Log {
    got: Vec<Received>,
    /// Per path: (status, headers) in order; the last repeats; 200 by default.
    script: HashMap<String, VecDeque<Answer>>,
    /// How long each answer takes.
    delay: Duration,
    /// Per path, how long its answers take instead.
    delays: HashMap<String, Duration>,
}

/// A loopback webhook receiver.
#[derive(Clone)]
struct Receiver {
    addr: SocketAddr,
    log: Arc<Mutex<Log>>,
}

impl Receiver {
    async fn start() -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        Receiver::start_on(listener).await
    }

    /// A receiver on `listener`: one that comes back where it was.
    async fn start_on(listener: tokio::net::TcpListener) -> Receiver {
        let log: Arc<Mutex<Log>> = Arc::default();
        let l = Arc::clone(&log);
        let app = Router::new().fallback(move |req: Request<Body>| {
            let l = Arc::clone(&l);
            async move {
                let (parts, body) = req.into_parts();
                let body = axum::body::to_bytes(body, 1 << 20).await.unwrap();
                let path = parts.uri.path().to_string();
                let (status, headers, delay) = {
                    let mut log = l.lock().unwrap();
                    let delay = log.delays.get(&path).copied().unwrap_or(log.delay);
                    log.got.push(Received {
                        at: Instant::now(),
                        path: path.clone(),
                        headers: parts.headers,
                        body,
                    });
                    let (status, headers) = match log.script.get_mut(&path) {
                        Some(q) if q.len() > 1 => q.pop_front().unwrap(),
                        Some(q) => q.front().cloned().unwrap(),
                        None => (200, Vec::new()),
                    };
                    (status, headers, delay)
                };
                tokio::time::sleep(delay).await;
                let mut b = Response::builder().status(status);
                for (n, v) in headers {
                    b = b.header(n, v);
                }
                b.body(Body::from("ok")).unwrap()
            }
        });
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver { addr, log }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    fn script(&self, path: &str, replies: &[(u16, &[(&str, &str)])]) {
        let q = replies
            .iter()
            .map(|(s, h)| {
                let h = h.iter().map(|(n, v)| (n.to_string(), v.to_string()));
                (*s, h.collect())
            })
            .collect();
        self.log.lock().unwrap().script.insert(path.into(), q);
    }

    fn got(&self, path: &str) -> Vec<Received> {
        let log = self.log.lock().unwrap();
        log.got.iter().filter(|r| r.path == path).cloned().collect()
    }

    fn total(&self) -> usize {
        self.log.lock().unwrap().got.len()
    }

    /// Waits until `path` got `n` requests.
    async fn wait_for(&self, path: &str, n: usize) -> Vec<Received> {
        for _ in 0..300 {
            let got = self.got(path);
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{path} got {} requests, not {n}", self.got(path).len());
    }
}

/// A wire with two items about majors and two about other things.
fn wire(server: &FeedServer) -> String {
    server.set(
        "/wire.xml",
        Reply::feed(rss(
            "Wire",
            &[
                ("w1", "BP results beat guidance", "https://wire.test/bp"),
                (
                    "w2",
                    "Refinery outage in Texas",
                    "https://wire.test/refinery",
                ),
                ("w3", "Shell buys solar firm", "https://wire.test/shell"),
                ("w4", "Markets open flat", "https://wire.test/open"),
            ],
        )),
    );
    feed_block("wire", &server.url("/wire.xml"), "")
}

const MAJORS: &str = r#"
[[views]]
name = "majors"
include = [{ title = "\\b(BP|Shell)\\b" }]
"#;

/// A daemon on the real clock, for `config_text` after the wire feed.
async fn daemon(config_text: &str, secret: Option<&str>) -> (FeedServer, TestDir, Daemon) {
    let server = FeedServer::start().await;
    let feeds = wire(&server);
    let dir = TestDir::new();
    let mut config: Config = dir.write_config(&format!("{feeds}{config_text}"));
    // What `secret_env` would have read (resolve.rs tests that path), set
    // here so the test needs no process-wide environment variable.
    if let Some(s) = secret {
        for a in &mut config.alerts {
            a.secret = Some(Secret::new(s));
        }
    }
    let daemon = Daemon::start_with_clock(config, Arc::new(tickerfeed::clock::SystemClock)).await;
    (server, dir, daemon)
}

/// A daemon on `clock` (a fixed one: retries fall due only as the test
/// moves it), for `config_text` after the wire feed.
async fn daemon_on(config_text: &str, clock: SharedClock) -> (FeedServer, TestDir, Daemon) {
    let server = FeedServer::start().await;
    let feeds = wire(&server);
    let dir = TestDir::new();
    let config: Config = dir.write_config(&format!("{feeds}{config_text}"));
    let daemon = Daemon::start_with_clock(config, clock).await;
    (server, dir, daemon)
}

/// Waits a while (wall time) and says how many requests `receiver` got
/// by then: a negative check, which a slow machine can only make pass
/// less often than the sender deserves, never wrongly.
async fn total_after_a_while(receiver: &Receiver) -> usize {
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    receiver.total()
}

fn outbox(dir: &TestDir) -> Vec<(String, String, String, i64, Option<String>)> {
    dir.db()
        .prepare(
            "SELECT alert, item_uid, state, attempts, last_error FROM alert_outbox ORDER BY alert",
        )
        .unwrap()
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

async fn wait_for_empty_outbox(dir: &TestDir) {
    for _ in 0..300 {
        if dir.count("SELECT count(*) FROM alert_outbox") == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the outbox never emptied: {:?}", outbox(dir));
}

fn hmac_hex(key: &str, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

#[tokio::test]
async fn each_matching_item_reaches_each_format_once_signed() {
    let receiver = Receiver::start().await;
    let alerts = format!(
        r#"{MAJORS}
[[alerts]]
name = "majors-json"
view = "majors"
url = "{json}"
allow_private = true

[[alerts]]
name = "majors-ntfy"
view = "majors"
url = "{ntfy}"
format = "ntfy"
allow_private = true

[[alerts]]
name = "majors-slack"
view = "majors"
url = "{slack}"
format = "slack"
allow_private = true
"#,
        json = receiver.url("/hook"),
        ntfy = receiver.url("/ntfy/market-news"),
        slack = receiver.url("/services/T0/B0/x"),
    );
    let (_server, dir, d) = daemon(&alerts, Some("s3cret-key")).await;
    let json = receiver.wait_for("/hook", 2).await;
    let ntfy = receiver.wait_for("/ntfy/", 2).await;
    let slack = receiver.wait_for("/services/T0/B0/x", 2).await;
    wait_for_empty_outbox(&dir).await;
    // Nothing more comes: each item once, and the other two never.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(receiver.total(), 6);

    let mut titles = Vec::new();
    for r in &json {
        let body = r.json();
        assert_eq!(body["schema"], "tickerfeed.alert/1");
        assert_eq!(body["alert"], "majors-json");
        let uid = body["item"]["uid"].as_str().unwrap();
        assert_eq!(r.header("idempotency-key"), format!("majors-json:{uid}"));
        assert_eq!(body["idempotency_key"], r.header("idempotency-key"));
        assert_eq!(r.header("content-type"), "application/json");
        assert_eq!(
            r.header("x-tickerfeed-signature"),
            format!("sha256={}", hmac_hex("s3cret-key", &r.body)),
            "the signature is the HMAC of the body as received"
        );
        assert_eq!(body["item"]["sources"][0]["name"], "wire");
        titles.push(body["item"]["title"].as_str().unwrap().to_string());
    }
    titles.sort();
    assert_eq!(
        titles,
        ["BP results beat guidance", "Shell buys solar firm"]
    );
    for r in &ntfy {
        let body = r.json();
        assert_eq!(body["topic"], "market-news");
        assert!(
            body["title"].as_str().unwrap().contains("BP")
                || body["title"].as_str().unwrap().contains("Shell")
        );
        assert!(
            body["click"]
                .as_str()
                .unwrap()
                .starts_with("https://wire.test/")
        );
        assert!(r.header("idempotency-key").starts_with("majors-ntfy:"));
    }
    for r in &slack {
        let body = r.json();
        let text = body["text"].as_str().unwrap();
        assert!(text.starts_with("*<https://wire.test/"), "{text}");
        assert!(text.contains("via Wire"), "{text}");
    }
    // The alerts were recorded with when they were first configured.
    assert_eq!(dir.count("SELECT count(*) FROM alerts WHERE in_config"), 3);
    d.stop().await;
}

/// A daemon on the real clock polling "wire", served as `reply`, with
/// `config_text` after it.
async fn daemon_with_wire(reply: Reply, config_text: &str) -> (FeedServer, TestDir, Daemon) {
    let server = FeedServer::start().await;
    server.set("/wire.xml", reply);
    let dir = TestDir::new();
    let config = dir.write_config(&format!(
        "{}{config_text}",
        feed_block("wire", &server.url("/wire.xml"), "")
    ));
    let daemon = Daemon::start_with_clock(config, Arc::new(tickerfeed::clock::SystemClock)).await;
    (server, dir, daemon)
}

/// `[[alerts]]` "j" (json) and "n" (ntfy, topic `news`) to `receiver`'s
/// `/hook` and `/ntfy/news`.
fn json_and_ntfy(receiver: &Receiver) -> String {
    format!(
        "[[alerts]]\nname = \"j\"\nurl = \"{}\"\nallow_private = true\n\n\
         [[alerts]]\nname = \"n\"\nurl = \"{}\"\nformat = \"ntfy\"\nallow_private = true\n",
        receiver.url("/hook"),
        receiver.url("/ntfy/news")
    )
}

/// QA s26: with the market provider down since the start, an item's
/// mention is recorded without a price, and its alert named no symbol:
/// `snapshot` null, ntfy's tags empty. The symbol is in `json`'s
/// `mentions` and in ntfy's tags (with no up or down emoji: no price).
#[tokio::test]
async fn an_alert_names_a_mention_the_board_had_no_price_for() {
    let receiver = Receiver::start().await;
    let (market, _) = market_down();
    let (_server, dir, d) = daemon_with_wire(
        Reply::feed(rss(
            "Wire",
            &[("a1", "Apple Inc. beats forecasts", "https://a.test/1")],
        )),
        &format!("{market}{}", json_and_ntfy(&receiver)),
    )
    .await;
    let json = receiver.wait_for("/hook", 1).await[0].json();
    assert_eq!(json["item"]["mentions"], serde_json::json!(["AAPL"]));
    assert_eq!(json["item"]["snapshot"], serde_json::Value::Null);
    let ntfy = receiver.wait_for("/ntfy/", 1).await[0].json();
    assert_eq!(ntfy["tags"], serde_json::json!(["AAPL"]));
    assert!(
        ntfy["message"]
            .as_str()
            .unwrap()
            .starts_with("Mentions AAPL (no price recorded)"),
        "{ntfy}"
    );
    assert_eq!(
        dir.count("SELECT count(*) FROM snapshot_quotes"),
        0,
        "no price was had"
    );
    d.stop().await;
}

/// QA s26: a linkless item's alert had `"link": null`, no ntfy `click`
/// and an unlinked slack title, though the feeds link it to its page.
/// With `[server] base_url` (the tests' `http://feeds.test/`), every
/// format links the page the JSON Feed links; with the web face off
/// there is no page, and no link.
#[tokio::test]
async fn a_linkless_items_alert_links_its_page() {
    let receiver = Receiver::start().await;
    let linkless = || Reply::feed(rss("Wire", &[("n1", "No link story", "")]));
    let slack = format!(
        "{}\n[[alerts]]\nname = \"s\"\nurl = \"{}\"\nformat = \"slack\"\nallow_private = true\n",
        json_and_ntfy(&receiver),
        receiver.url("/slack")
    );
    let (_server, dir, d) = daemon_with_wire(linkless(), &slack).await;
    let json = receiver.wait_for("/hook", 1).await[0].json();
    let uid = dir.column::<String>("SELECT uid FROM items").remove(0);
    let page = format!("http://feeds.test/items/{uid}");
    assert_eq!(json["item"]["link"], page.as_str());
    let feed = d.get("/feed.json", &[]).await.text().await.unwrap();
    let feed: serde_json::Value = serde_json::from_str(&feed).unwrap();
    assert_eq!(
        feed["items"][0]["url"],
        page.as_str(),
        "as the feeds link it"
    );
    let ntfy = receiver.wait_for("/ntfy/", 1).await[0].json();
    assert_eq!(ntfy["click"], page.as_str());
    let text = receiver.wait_for("/slack", 1).await[0].json()["text"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        text.starts_with(&format!("*<{page}|No link story>*")),
        "{text}"
    );
    d.stop().await;

    let receiver = Receiver::start().await;
    let (_server, _dir, d) = daemon_with_wire(
        linkless(),
        &format!("[web]\nenabled = false\n{}", json_and_ntfy(&receiver)),
    )
    .await;
    let json = receiver.wait_for("/hook", 1).await[0].json();
    assert_eq!(json["item"]["link"], serde_json::Value::Null);
    let ntfy = receiver.wait_for("/ntfy/", 1).await[0].json();
    assert!(ntfy.get("click").is_none(), "{ntfy}");
    d.stop().await;
}

/// QA s26: `v_items` and the exports carry each author's email address
/// (schema 33), the alert's item did not. It has `author_emails` beside
/// `authors`, as the JSONL export gives it.
#[tokio::test]
async fn an_alert_carries_the_authors_email_addresses() {
    let receiver = Receiver::start().await;
    let doc = r#"<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Wire</title><link>https://wire.test/</link><description>d</description>
<item><guid>e1</guid><title>Emailed story</title><link>https://wire.test/e1</link><author>jane@example.com (Jane Doe)</author></item>
</channel></rss>"#;
    let (_server, dir, d) = daemon_with_wire(Reply::feed(doc), &json_and_ntfy(&receiver)).await;
    let item = receiver.wait_for("/hook", 1).await[0].json()["item"].clone();
    assert_eq!(item["authors"], serde_json::json!(["Jane Doe"]));
    assert_eq!(
        item["author_emails"],
        serde_json::json!(["jane@example.com"])
    );
    d.stop().await;
    let (code, jsonl, _) = cli(&dir, &["export", "--format", "jsonl"]).await;
    assert_eq!(code, 0);
    let exported: serde_json::Value = serde_json::from_str(jsonl.lines().next().unwrap()).unwrap();
    assert_eq!(
        item["author_emails"], exported["author_emails"],
        "as the export gives it"
    );
}

#[tokio::test]
async fn a_receiver_failing_then_answering_gets_it_after_a_retry() {
    let receiver = Receiver::start().await;
    receiver.script("/hook", &[(500, &[]), (200, &[])]);
    let alerts = format!(
        "{MAJORS}\n[[alerts]]\nname = \"flaky\"\nview = \"majors\"\nurl = \"{}\"\nallow_private = true\n",
        receiver.url("/hook")
    );
    let (_server, dir, d) = daemon(&alerts, None).await;
    // Two items: each fails once (500), then is delivered.
    let got = receiver.wait_for("/hook", 3).await;
    wait_for_empty_outbox(&dir).await;
    let keys: Vec<&str> = got.iter().map(|r| r.header("idempotency-key")).collect();
    assert_eq!(
        got.len(),
        3,
        "the first request failed, then each item once: {keys:?}"
    );
    // The failed message came back with its key, after the backoff.
    let first = &got[0];
    let again = got
        .iter()
        .skip(1)
        .find(|r| r.header("idempotency-key") == first.header("idempotency-key"))
        .expect("the failed message was retried");
    assert!(
        again.at - first.at >= Duration::from_millis(450),
        "retried after {:?}",
        again.at - first.at
    );
    // /metrics counts deliveries per alert and result.
    let metrics = d.get("/metrics", &[]).await.text().await.unwrap();
    for line in [
        "tickerfeed_alert_deliveries_total{alert=\"flaky\",result=\"sent\"} 2",
        "tickerfeed_alert_deliveries_total{alert=\"flaky\",result=\"retried\"} 1",
    ] {
        assert!(metrics.contains(line), "{line} missing from:\n{metrics}");
    }
    // QA s25: the outbox's samples vanished once it emptied; an alert
    // with nothing waiting reads 0.
    for line in [
        "tickerfeed_alert_outbox{alert=\"flaky\",result=\"pending\"} 0\n",
        "tickerfeed_alert_outbox{alert=\"flaky\",result=\"failed\"} 0\n",
    ] {
        assert!(metrics.contains(line), "{line} missing from:\n{metrics}");
    }
    assert!(
        !metrics.contains("tickerfeed_alert_oldest_pending_seconds{"),
        "nothing pending, no age"
    );
    d.stop().await;
}

/// A receiver whose `/slow` hangs far past the send timeout, and two
/// alerts: `a-slow` to it (first, so its messages are due first) and
/// `b-fast` to `/fast`.
async fn slow_and_fast() -> (Receiver, String) {
    let receiver = Receiver::start().await;
    receiver
        .log
        .lock()
        .unwrap()
        .delays
        .insert("/slow".into(), Duration::from_secs(600));
    let alerts = format!(
        "[[alerts]]\nname = \"a-slow\"\nurl = \"{}\"\nallow_private = true\n\n\
         [[alerts]]\nname = \"b-fast\"\nurl = \"{}\"\nallow_private = true\n",
        receiver.url("/slow"),
        receiver.url("/fast"),
    );
    (receiver, alerts)
}

/// Review round 2: one alert whose receiver hangs held every other
/// alert's messages back: the sender delivered one message at a time,
/// every due message of the hanging alert first, each waiting out the
/// 15 s send timeout. Now alerts are sent to side by side, and a receiver
/// that did not answer gets no more messages in that pass: they wait for
/// its retry, their attempts uncounted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_receiver_does_not_hold_back_other_alerts() {
    let (receiver, alerts) = slow_and_fast().await;
    let (_server, dir, d) = daemon(&alerts, None).await;
    // (attempts, held: due later than when it was queued), per pending row
    let slow_rows = || -> Vec<(i64, bool)> {
        dir.db()
            .prepare(
                "SELECT attempts, next_attempt_at > created_at FROM alert_outbox
                 WHERE alert = 'a-slow' AND state = 'pending' ORDER BY attempts DESC",
            )
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };

    // The healthy receiver gets all four items while the hanging one has
    // not answered its first request (no attempt of a-slow has ended).
    receiver.wait_for("/fast", 4).await;
    assert_eq!(
        slow_rows().iter().map(|r| r.0).collect::<Vec<_>>(),
        [0, 0, 0, 0],
        "a-slow's messages, all still pending and none attempted to the end"
    );
    assert!(receiver.got("/slow").len() <= 1);

    // Once the first request timed out, the hanging receiver's next request
    // is a retry after backoff, not its next message in the same pass: the
    // other three were held, uncounted.
    let deadline = Instant::now() + Duration::from_secs(90);
    while receiver.got("/slow").len() < 2 {
        assert!(
            Instant::now() < deadline,
            "the slow receiver was never retried"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        slow_rows(),
        [(1, true), (0, true), (0, true), (0, true)],
        "(attempts, held) of a-slow's pending messages"
    );
    assert_eq!(receiver.got("/fast").len(), 4);
    d.stop().await;
}

/// Audit s21: a receiver that was down got the messages archived while
/// it was down before the older ones: only the messages due in the pass
/// that found it not answering were held for the retry, and one queued
/// later was tried at once and then on its own, shorter, backoff. Now
/// the alert's messages queued while it is waited for wait with them,
/// and the receiver gets them in the order they were archived.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_was_down_gets_the_messages_in_order() {
    // A port with nothing listening: the receiver is down.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let server = FeedServer::start().await;
    let item = |n: usize| {
        (
            format!("w{n}"),
            format!("Item {n}"),
            format!("https://wire.test/{n}"),
        )
    };
    let feed = |n: usize| {
        let items: Vec<_> = (1..=n).map(item).collect();
        let items: Vec<(&str, &str, &str)> = items
            .iter()
            .map(|(g, t, l)| (g.as_str(), t.as_str(), l.as_str()))
            .collect();
        Reply::feed(rss("Wire", &items))
    };
    server.set("/wire.xml", feed(1));
    let dir = TestDir::new();
    let config = dir.write_config(&format!(
        "{}[[alerts]]\nname = \"down\"\nurl = \"http://127.0.0.1:{port}/hook\"\nallow_private = true\n",
        feed_block("wire", &server.url("/wire.xml"), "")
    ));
    let d =
        Daemon::start_with_clock(config.clone(), Arc::new(tickerfeed::clock::SystemClock)).await;
    // The first message has failed four times: its retry is 8 to 16 s off.
    let attempts = || dir.count("SELECT coalesce(max(attempts), 0) FROM alert_outbox");
    let deadline = Instant::now() + Duration::from_secs(60);
    while attempts() < 4 {
        assert!(Instant::now() < deadline, "{:?}", outbox(&dir));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A second item is archived (by `tickerfeed poll`), and the receiver
    // comes back.
    server.set("/wire.xml", feed(2));
    poll(&config, Arc::new(tickerfeed::clock::SystemClock)).await;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    let receiver = Receiver::start_on(listener).await;
    let got = receiver.wait_for("/hook", 2).await;
    wait_for_empty_outbox(&dir).await;
    let titles: Vec<String> = receiver
        .got("/hook")
        .iter()
        .map(|r| r.json()["item"]["title"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(titles, ["Item 1", "Item 2"], "{got:?}");
    d.stop().await;
}

/// Audit s21: while one alert's receiver hung, a message queued for
/// another alert waited for the hanging POST's 15 s timeout: a pass sent
/// to every alert side by side, but the next pass began only when the
/// slowest alert's share ended. Now each alert's share is a task of its
/// own, and the other alerts' new messages go at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_receiver_does_not_delay_other_alerts_new_messages() {
    let (receiver, alerts) = slow_and_fast().await;
    let server = FeedServer::start().await;
    server.set(
        "/wire.xml",
        Reply::feed(rss("Wire", &[("w1", "First", "https://wire.test/1")])),
    );
    // Polled every second, so a new item is queued (and the sender woken)
    // at once.
    let feeds = feed_block(
        "wire",
        &server.url("/wire.xml"),
        "schedule = \"* * * * * *\"",
    );
    let dir = TestDir::new();
    let config = dir.write_config(&format!("{feeds}{alerts}"));
    let d = Daemon::start_with_clock(config, Arc::new(tickerfeed::clock::SystemClock)).await;
    receiver.wait_for("/slow", 1).await;
    receiver.wait_for("/fast", 1).await;
    // The slow receiver holds its first POST (for up to 15 s) while a
    // second item is archived.
    server.set(
        "/wire.xml",
        Reply::feed(rss(
            "Wire",
            &[
                ("w1", "First", "https://wire.test/1"),
                ("w2", "Second", "https://wire.test/2"),
            ],
        )),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while dir.count("SELECT count(*) FROM items WHERE title = 'Second'") == 0 {
        assert!(
            Instant::now() < deadline,
            "the second item was never archived"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let archived = Instant::now();
    let got = receiver.wait_for("/fast", 2).await;
    assert_eq!(got[1].json()["item"]["title"], "Second");
    assert!(
        got[1].at - archived < Duration::from_secs(3),
        "the fast receiver got it {:?} after it was archived",
        got[1].at - archived
    );
    assert_eq!(receiver.got("/slow").len(), 1, "still hanging");
    d.stop().await;
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let receiver = Receiver::start().await;
    receiver.script("/hook", &[(429, &[("retry-after", "3")]), (200, &[])]);
    let alerts = format!(
        "[[alerts]]\nname = \"busy\"\nfeed = \"wire\"\nurl = \"{}\"\nallow_private = true\n[[output.exclude]]\ntitle = \"Refinery|Markets|Shell\"\n",
        receiver.url("/hook")
    );
    let (_server, dir, d) = daemon(&alerts, None).await;
    let got = receiver.wait_for("/hook", 2).await;
    wait_for_empty_outbox(&dir).await;
    assert_eq!(got.len(), 2, "one item (the main feed's excludes apply)");
    assert_eq!(
        got[0].header("idempotency-key"),
        got[1].header("idempotency-key")
    );
    let waited = got[1].at - got[0].at;
    assert!(waited >= Duration::from_secs(3), "retried after {waited:?}");
    assert!(waited < Duration::from_secs(8), "retried after {waited:?}");
    d.stop().await;
}

/// QA s25: `max_per_hour = 5` on a receiver answering 500 let through
/// 3,219 POSTs in 46 s: only deliveries counted against the cap, and each
/// message was tried on its own backoff, so every message of the backlog
/// got its first attempt at once. Now the cap counts requests, and a
/// failed message holds its alert's others until its retry: one request
/// per backoff step, at most the cap an hour.
#[tokio::test]
async fn a_failing_receiver_gets_one_request_per_backoff_and_at_most_the_cap() {
    let receiver = Receiver::start().await;
    receiver.script("/hook", &[(500, &[])]);
    let alerts = format!(
        "[[alerts]]\nname = \"down\"\nurl = \"{}\"\nmax_per_hour = 2\nallow_private = true\n",
        receiver.url("/hook")
    );
    let (c, clock) = fixed_clock("2026-11-24T09:00:00Z");
    let (_server, dir, d) = daemon_on(&alerts, clock).await;
    receiver.wait_for("/hook", 1).await;
    // The four items' other messages wait for the failed one's retry.
    assert_eq!(total_after_a_while(&receiver).await, 1);
    assert_eq!(dir.count("SELECT count(*) FROM alert_outbox"), 4);
    assert_eq!(
        dir.count("SELECT count(*) FROM alert_outbox WHERE attempts > 0"),
        1
    );
    // Past the first backoff (at most 1 s): the hour's last slot, so the
    // four as one summary.
    c.advance(chrono::Duration::seconds(2));
    let got = receiver.wait_for("/hook", 2).await;
    assert_eq!(got[1].json()["items"].as_array().map(Vec::len), Some(4));
    assert_eq!(total_after_a_while(&receiver).await, 2);
    // Past the next backoff, but the hour's two requests are spent.
    c.advance(chrono::Duration::minutes(10));
    assert_eq!(total_after_a_while(&receiver).await, 2);
    // An hour after the first request, the cap has room again.
    c.advance(chrono::Duration::minutes(51));
    receiver.wait_for("/hook", 3).await;
    assert_eq!(total_after_a_while(&receiver).await, 3);
    let states = dir.column::<String>("SELECT DISTINCT state FROM alert_outbox");
    assert_eq!(states, ["pending"], "nothing is lost");
    d.stop().await;
}

/// QA s25: a receiver answering 429 with `Retry-After: 3600` to the
/// first message got the other pending messages at once. Now the whole
/// alert waits the hour, and then everything arrives.
#[tokio::test]
async fn retry_after_pauses_the_whole_alert() {
    let receiver = Receiver::start().await;
    receiver.script("/hook", &[(429, &[("retry-after", "3600")]), (200, &[])]);
    let alerts = format!(
        "[[alerts]]\nname = \"busy\"\nurl = \"{}\"\nallow_private = true\n",
        receiver.url("/hook")
    );
    let (c, clock) = fixed_clock("2026-11-24T09:00:00Z");
    let (_server, dir, d) = daemon_on(&alerts, clock).await;
    receiver.wait_for("/hook", 1).await;
    assert_eq!(total_after_a_while(&receiver).await, 1);
    let due = dir.column::<String>("SELECT DISTINCT next_attempt_at FROM alert_outbox");
    assert_eq!(due, ["2026-11-24T10:00:00Z"], "all four wait the hour");
    c.advance(chrono::Duration::minutes(59));
    assert_eq!(total_after_a_while(&receiver).await, 1);
    c.advance(chrono::Duration::minutes(2));
    let got = receiver.wait_for("/hook", 5).await;
    wait_for_empty_outbox(&dir).await;
    assert_eq!(
        got[0].header("idempotency-key"),
        got[1].header("idempotency-key"),
        "the refused message first, then the others in order"
    );
    d.stop().await;
}

/// A receiver that rejects one message for its content (a 400, say: a
/// Slack text it will not take) must not hold back the alert's other
/// messages, which it takes: held on that message, the alert would send
/// nothing more until the message's `retry_for_hours` ran out. The
/// rejected message is retried on its own backoff, and nothing is lost.
#[tokio::test]
async fn a_message_rejected_for_its_content_does_not_hold_back_the_others() {
    let receiver = Receiver::start().await;
    receiver.script("/hook", &[(400, &[]), (200, &[])]);
    let alerts = format!(
        "[[alerts]]\nname = \"picky\"\nurl = \"{}\"\nallow_private = true\n",
        receiver.url("/hook")
    );
    let (c, clock) = fixed_clock("2026-11-24T09:00:00Z");
    let (_server, dir, d) = daemon_on(&alerts, clock).await;
    // The three others go without the clock moving: no hold.
    receiver.wait_for("/hook", 4).await;
    assert_eq!(total_after_a_while(&receiver).await, 4);
    let left = dir.column::<String>("SELECT last_error FROM alert_outbox");
    assert_eq!(
        left,
        ["HTTP 400 Bad Request"],
        "the rejected one waits its retry"
    );
    // The deliveries since do not hide why that one waits.
    let (_, list, _) = cli(&dir, &["alerts"]).await;
    assert!(list.contains("last error: HTTP 400 Bad Request"), "{list}");
    c.advance(chrono::Duration::seconds(2));
    receiver.wait_for("/hook", 5).await;
    wait_for_empty_outbox(&dir).await;
    let (_, list, _) = cli(&dir, &["alerts"]).await;
    assert!(!list.contains("last error"), "{list}");
    d.stop().await;
}

/// A receiver that rejects every message's content (a format or a topic
/// it does not take) answers 400 to all: past the first rejection in a
/// pass the alert is held as for any failure, so it gets two requests,
/// not the whole backlog, and nothing is lost.
#[tokio::test]
async fn a_receiver_rejecting_every_message_is_not_sent_the_backlog() {
    let receiver = Receiver::start().await;
    receiver.script("/hook", &[(400, &[])]);
    let alerts = format!(
        "[[alerts]]\nname = \"wrong-format\"\nurl = \"{}\"\nallow_private = true\n",
        receiver.url("/hook")
    );
    let (_c, clock) = fixed_clock("2026-11-24T09:00:00Z");
    let (_server, dir, d) = daemon_on(&alerts, clock).await;
    receiver.wait_for("/hook", 2).await;
    assert_eq!(total_after_a_while(&receiver).await, 2);
    let states = dir.column::<String>("SELECT DISTINCT state FROM alert_outbox");
    assert_eq!(states, ["pending"], "nothing is lost");
    assert_eq!(dir.count("SELECT count(*) FROM alert_outbox"), 4);
    d.stop().await;
}

/// QA s25: a summary the receiver failed logged an INFO line per item it
/// held ("alert not delivered"), then "alert summary sent ...
/// delivered=false". Now one WARN line per failed attempt names the
/// alert, the answer, the items and the next attempt, and "sent" is said
/// only of what was delivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_summary_logs_one_warning_and_is_not_called_sent() {
    let receiver = Receiver::start().await;
    receiver.script("/hook", &[(500, &[])]);
    let server = FeedServer::start().await;
    let feeds = wire(&server);
    let dir = TestDir::new();
    // One message an hour: the four items go as one summary.
    dir.write_config_only(&format!(
        "{feeds}[[alerts]]\nname = \"capped\"\nurl = \"{}\"\nmax_per_hour = 1\nallow_private = true\n",
        receiver.url("/hook")
    ));
    let mut d = crate::process::Running::start(&dir);
    tokio::task::block_in_place(|| d.wait_for("alert not delivered"));
    receiver.wait_for("/hook", 1).await;
    d.signal("TERM");
    assert_eq!(tokio::task::block_in_place(|| d.wait_exit()), 0);
    let log = d.log.join("\n");
    let failed: Vec<&String> = d
        .log
        .iter()
        .filter(|l| l.contains("alert not delivered"))
        .collect();
    assert_eq!(failed.len(), 1, "{log}");
    for part in ["WARN", "capped", "HTTP 500", "items=4", "next="] {
        assert!(failed[0].contains(part), "{part} missing: {}", failed[0]);
    }
    assert!(!log.contains("summary sent"), "{log}");
}

#[tokio::test]
async fn private_destinations_are_refused_without_allow_private() {
    let receiver = Receiver::start().await;
    let alerts = format!(
        "{MAJORS}\n[[alerts]]\nname = \"by-ip\"\nview = \"majors\"\nurl = \"{}\"\n\n[[alerts]]\nname = \"by-name\"\nview = \"majors\"\nurl = \"http://localhost:{}/hook\"\n",
        receiver.url("/hook"),
        receiver.addr.port(),
    );
    let (_server, dir, d) = daemon(&alerts, None).await;
    let mut rows = Vec::new();
    for _ in 0..200 {
        rows = outbox(&dir);
        if rows.len() == 4 && rows.iter().all(|r| r.2 == "failed") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(rows.len(), 4, "{rows:?}");
    for (alert, _, state, attempts, error) in &rows {
        assert_eq!((state.as_str(), *attempts), ("failed", 1), "{alert}");
        let error = error.as_deref().unwrap_or("");
        assert!(error.contains("refused"), "{alert}: {error}");
    }
    assert_eq!(receiver.total(), 0, "nothing reached the private address");
    let metrics = d.get("/metrics", &[]).await.text().await.unwrap();
    assert!(
        metrics.contains("tickerfeed_alert_outbox{alert=\"by-ip\",result=\"failed\"} 2"),
        "{metrics}"
    );
    // The operator's page shows the failing alerts with their error.
    let page = d.get("/feeds", &[]).await.text().await.unwrap();
    let section = page
        .split("<h2>Alerts</h2>")
        .nth(1)
        .and_then(|s| s.split("</table>").next())
        .unwrap_or_else(|| panic!("no alerts on the operator's page:\n{page}"));
    for name in ["by-ip", "by-name"] {
        let row = section
            .split("<tr>")
            .find(|r| r.contains(&format!(">{name}</th>")))
            .unwrap_or_else(|| panic!("{name} missing:\n{section}"));
        assert!(row.contains("view majors"), "{row}");
        assert!(
            row.contains("<td class=\"num\">2</td>"),
            "two failed: {row}"
        );
        assert!(row.contains("refused"), "the error: {row}");
    }
    d.stop().await;
}

#[tokio::test]
async fn max_per_hour_coalesces_the_excess_into_one_summary() {
    let receiver = Receiver::start().await;
    let alerts = format!(
        "[[alerts]]\nname = \"capped\"\nurl = \"{}\"\nmax_per_hour = 2\nallow_private = true\n",
        receiver.url("/hook")
    );
    let (_server, dir, d) = daemon(&alerts, None).await;
    receiver.wait_for("/hook", 2).await;
    wait_for_empty_outbox(&dir).await;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    // Nothing more comes after the first two.
    let got = receiver.got("/hook");
    assert_eq!(got.len(), 2, "the cap is two messages an hour");
    let (one, summary) = (got[0].json(), got[1].json());
    assert_eq!(one["kind"], "item");
    assert_eq!(summary["kind"], "summary");
    assert_eq!(summary["idempotency_key"], got[1].header("idempotency-key"));
    let items = summary["items"].as_array().unwrap();
    assert_eq!(items.len(), 3, "the four items: one alone, three together");
    let mut titles: Vec<&str> = items
        .iter()
        .map(|i| i["item"]["title"].as_str().unwrap())
        .chain([one["item"]["title"].as_str().unwrap()])
        .collect();
    titles.sort();
    assert_eq!(
        titles,
        [
            "BP results beat guidance",
            "Markets open flat",
            "Refinery outage in Texas",
            "Shell buys solar firm"
        ]
    );
    for i in items {
        let uid = i["item"]["uid"].as_str().unwrap();
        assert_eq!(i["idempotency_key"], format!("capped:{uid}"));
    }
    // /metrics counts the two messages, not the four items (the summary
    // counted once per item in it).
    let metrics = d.get("/metrics", &[]).await.text().await.unwrap();
    let line = "tickerfeed_alert_deliveries_total{alert=\"capped\",result=\"sent\"} 2\n";
    assert!(metrics.contains(line), "{line} missing from:\n{metrics}");
    d.stop().await;
}

/// The hour's count survives a restart: a daemon that used its two
/// messages and restarts keeps the next item waiting in the outbox instead
/// of sending it at once (a crash loop cannot reset the cap).
#[tokio::test]
async fn max_per_hour_holds_across_a_restart() {
    let receiver = Receiver::start().await;
    let alerts = format!(
        "[[alerts]]\nname = \"capped\"\nurl = \"{}\"\nmax_per_hour = 2\nallow_private = true\n",
        receiver.url("/hook")
    );
    let (server, dir, d) = daemon(&alerts, None).await;
    receiver.wait_for("/hook", 2).await;
    wait_for_empty_outbox(&dir).await;
    // The send is counted just after the outbox row goes.
    assert!(
        eventually(|| dir.count("SELECT count(*) FROM alert_sends WHERE alert = 'capped'") == 2)
            .await
    );
    d.stop().await;

    server.set(
        "/wire.xml",
        Reply::feed(rss(
            "Wire",
            &[("w9", "BP sells a stake", "https://wire.test/bp-stake")],
        )),
    );
    // Polled every second from now, so the new item comes at once.
    let feeds = feed_block(
        "wire",
        &server.url("/wire.xml"),
        "schedule = \"* * * * * *\"",
    );
    let config = dir.write_config(&format!("{feeds}{alerts}"));
    let d = Daemon::start_with_clock(config, Arc::new(tickerfeed::clock::SystemClock)).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while dir.count("SELECT count(*) FROM items WHERE title = 'BP sells a stake'") == 0 {
        assert!(Instant::now() < deadline, "the new item was never archived");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(receiver.total(), 2, "{:?}", receiver.got("/hook"));
    let waiting = outbox(&dir);
    assert_eq!(waiting.len(), 1);
    assert_eq!((waiting[0].2.as_str(), waiting[0].3), ("pending", 0));
    d.stop().await;
}

#[tokio::test]
async fn alerts_fire_only_for_items_archived_after_they_were_configured() {
    let server = FeedServer::start().await;
    let feeds = wire(&server);
    let dir = TestDir::new();
    let (_c, clock) = fixed_clock("2026-11-24T09:00:00Z");
    let before = dir.write_config(&feeds);
    poll(&before, clock.clone()).await;
    assert_eq!(dir.count("SELECT count(*) FROM items"), 4);

    // The alert is added, and the feed gains one matching item.
    let with_alert = dir.write_config(&format!(
        "{feeds}{MAJORS}\n[[alerts]]\nname = \"majors\"\nview = \"majors\"\nurl = \"https://hooks.test/x\"\n"
    ));
    server.set(
        "/wire.xml",
        Reply::feed(rss(
            "Wire",
            &[
                ("w1", "BP results beat guidance", "https://wire.test/bp"),
                ("w3", "Shell buys solar firm", "https://wire.test/shell"),
                ("w5", "BP names a new chief", "https://wire.test/bp-chief"),
                ("w6", "Gold slips", "https://wire.test/gold"),
            ],
        )),
    );
    poll(&with_alert, clock).await;
    let queued: Vec<String> = dir
        .db()
        .prepare(
            "SELECT i.title FROM alert_outbox o JOIN items i ON i.uid = o.item_uid
             WHERE o.alert = 'majors' AND o.state = 'pending' AND o.attempts = 0",
        )
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(queued, ["BP names a new chief"]);
    assert_eq!(
        dir.count("SELECT count(*) FROM alerts WHERE name = 'majors' AND configured_at = '2026-11-24T09:00:00Z'"),
        1
    );
}

/// The real binary killed with SIGKILL at pseudo-random points while it
/// archives and sends, again and again, then left to finish: every item
/// archived reaches the receiver (at least once, by its key), and the
/// outbox ends empty. The receiver is slow, so most kills land while
/// messages are in flight or still queued.
/// Retention waits for an item's alert: the receiver may be down for longer
/// than the item would be kept, and the alert must not end as "the item is
/// no longer in the archive".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_keeps_an_item_until_its_alert_is_sent() {
    let server = FeedServer::start().await;
    let feeds = wire(&server);
    let dir = TestDir::new();
    // Queued by the poll, not sent: only the daemon sends.
    let config = dir.write_config(&format!(
        "{feeds}{MAJORS}\n[[alerts]]\nname = \"majors\"\nview = \"majors\"\n\
         url = \"http://127.0.0.1:9/hook\"\nallow_private = true\n"
    ));
    let (clock, shared) = fixed_clock("2026-11-23T12:00:00Z");
    poll(&config, shared).await;
    assert_eq!(outbox(&dir).len(), 2, "BP and Shell await their alerts");
    let store = tickerfeed::store::Store::open(&config.storage.path).unwrap();
    use tickerfeed::clock::Clock;
    let left = || {
        let mut titles = dir.titles();
        titles.sort();
        titles
    };
    // One item per feed, the newest ("Markets open flat"): of the three
    // older ones, BP and Shell wait for their alerts.
    assert_eq!(store.prune(None, Some(1), clock.now()).await.unwrap(), 1);
    assert_eq!(
        left(),
        [
            "BP results beat guidance",
            "Markets open flat",
            "Shell buys solar firm"
        ]
    );
    // Once Shell's alert is sent (its outbox row gone), it goes too.
    rusqlite::Connection::open(dir.db_path())
        .unwrap()
        .execute(
            "DELETE FROM alert_outbox
             WHERE item_uid IN (SELECT uid FROM items WHERE title LIKE 'Shell%')",
            [],
        )
        .unwrap();
    assert_eq!(store.prune(None, Some(1), clock.now()).await.unwrap(), 1);
    assert_eq!(left(), ["BP results beat guidance", "Markets open flat"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_between_archive_and_send_loses_no_alert() {
    const ROUNDS: usize = 20;
    const PER_ROUND: usize = 5;
    let receiver = Receiver::start().await;
    receiver.log.lock().unwrap().delay = Duration::from_millis(40);
    let server = FeedServer::start().await;
    // Round r serves the first PER_ROUND * (r + 1) items, so every round
    // brings new ones (and those a killed poll did not archive come again).
    let serve_items = |n: usize| {
        let items: Vec<(String, String, String)> = (0..n)
            .map(|i| {
                (
                    format!("k{i}"),
                    format!("Story {i}"),
                    format!("https://kill.test/{i}"),
                )
            })
            .collect();
        let refs: Vec<(&str, &str, &str)> = items
            .iter()
            .map(|(a, b, c)| (a.as_str(), b.as_str(), c.as_str()))
            .collect();
        server.set("/k.xml", Reply::feed(rss("Kill", &refs)));
    };
    let dir = TestDir::new();
    dir.write_config(&format!(
        "{}\n[[alerts]]\nname = \"all\"\nurl = \"{}\"\nallow_private = true\n",
        feed_block("k", &server.url("/k.xml"), ""),
        receiver.url("/hook")
    ));
    let cfg = dir.config_path();
    let run = |cfg: std::path::PathBuf| {
        bin()
            .arg("--config")
            .arg(&cfg)
            .arg("run")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    // Makes the feed due at once when the daemon next starts.
    let due_now = |dir: &TestDir| {
        if let Ok(rw) = rusqlite::Connection::open(dir.db_path()) {
            let _ = rw.execute(
                "UPDATE feeds SET last_attempt_at = NULL, not_before_at = NULL,
                        body_sha256 = NULL, etag = NULL, last_modified = NULL",
                [],
            );
        }
    };

    // A fixed pseudo-random sequence of kill points (xorshift), so a
    // failure can be reproduced.
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut killed_with_work_left = 0;
    for round in 0..ROUNDS {
        serve_items(PER_ROUND * (round + 1));
        due_now(&dir);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let after = Duration::from_millis(50 + x % 450);
        let c = cfg.clone();
        tokio::task::spawn_blocking(move || {
            let mut child = run(c);
            std::thread::sleep(after);
            // SIGKILL: no chance to clean up.
            let _ = child.kill();
            let _ = child.wait();
        })
        .await
        .unwrap();
        // (A kill before the archive was created or migrated leaves no
        // outbox to count.)
        let left = rusqlite::Connection::open_with_flags(
            dir.db_path(),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .and_then(|db| {
            db.query_row("SELECT count(*) FROM alert_outbox", [], |r| {
                r.get::<_, i64>(0)
            })
        });
        if left.is_ok_and(|n| n > 0) {
            killed_with_work_left += 1;
        }
    }
    eprintln!("{killed_with_work_left} of {ROUNDS} kills left messages unsent");
    assert!(
        killed_with_work_left >= ROUNDS / 3,
        "only {killed_with_work_left} kills left messages unsent; the test proves little"
    );

    // Then a run that polls everything and is left alone until the outbox
    // is empty.
    due_now(&dir);
    let mut child = run(cfg.clone());
    let all = PER_ROUND * ROUNDS;
    for _ in 0..300 {
        if dir.count("SELECT count(*) FROM items") == all as i64 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    wait_for_empty_outbox(&dir).await;
    // Past start-up (the signal handlers are installed by then), then a
    // clean stop.
    tokio::time::sleep(Duration::from_secs(1)).await;
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");

    assert_eq!(dir.count("SELECT count(*) FROM items"), all as i64);
    let uids: Vec<String> = dir
        .db()
        .prepare("SELECT uid FROM items")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let got = receiver.got("/hook");
    let seen: std::collections::HashSet<String> = got
        .iter()
        .map(|r| r.header("idempotency-key").to_string())
        .collect();
    for uid in &uids {
        assert!(
            seen.contains(&format!("all:{uid}")),
            "never delivered: {uid}"
        );
    }
    eprintln!("{} requests for {} items", got.len(), uids.len());
    assert_eq!(dir.integrity(), "ok");
}

/// `tickerfeed alerts` lists each alert with its outbox; `alerts test
/// NAME` sends one message now, outside the outbox, and says what the
/// receiver answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_alerts_command_lists_the_outbox_and_sends_a_test() {
    let receiver = Receiver::start().await;
    let server = FeedServer::start().await;
    let feeds = wire(&server);
    let dir = TestDir::new();
    let config = dir.write_config(&format!(
        "{feeds}[[alerts]]\nname = \"open\"\nurl = \"{}\"\nallow_private = true\n\n[[alerts]]\nname = \"guarded\"\nurl = \"{}\"\n",
        receiver.url("/hook/secret-token"),
        receiver.url("/hook/secret-token"),
    ));
    let (_c, clock) = fixed_clock("2026-11-24T09:00:00Z");
    // A one-shot poll archives and queues; only the daemon sends.
    poll(&config, clock).await;
    assert_eq!(receiver.total(), 0);

    let (code, list, _) = cli(&dir, &["alerts"]).await;
    assert_eq!(code, 0, "{list}");
    // In columns: `open` is padded to `guarded`'s width.
    assert!(list.contains("open     the main feed  json"), "{list}");
    assert!(list.contains("4 pending  0 failed"), "{list}");
    assert!(
        !list.contains("secret-token"),
        "the URL's path is not shown: {list}"
    );

    let (code, answer, _) = cli(&dir, &["alerts", "test", "open"]).await;
    assert_eq!(code, 0, "{answer}");
    assert!(answer.starts_with("open: delivered"), "{answer}");
    let got = receiver.got("/hook/secret-token");
    assert_eq!(got.len(), 1);
    let key = got[0].header("idempotency-key");
    assert!(key.starts_with("open:test-"), "{key}");
    // The body says so too: a receiver that drops a key it has seen must
    // not take the test for the real message, and drop that when it comes.
    let body = got[0].json();
    assert_eq!(body["idempotency_key"], key);
    // Dated as the real message will be: when the poll archived it.
    assert_eq!(body["item"]["archived_at"], "2026-11-24T09:00:00Z");
    // The outbox is untouched.
    assert_eq!(dir.count("SELECT count(*) FROM alert_outbox"), 8);

    let (code, answer, _) = cli(&dir, &["alerts", "test", "guarded"]).await;
    assert_eq!(code, 1, "{answer}");
    assert!(answer.contains("not delivered: refused"), "{answer}");
    assert_eq!(receiver.total(), 1);
}

/// `tickerfeed alerts` printed each alert's fields two spaces after the
/// last, so with names and endpoints of different lengths nothing lined
/// up; it prints its list in columns, as `views` does, each as wide as its
/// widest cell, the endpoint whole but with its path (a token) blanked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_alerts_list_is_in_columns() {
    let dir = TestDir::new();
    dir.write_config(
        "[[views]]\nname = \"energy\"\ninclude = [{ title = \"oil\" }]\n\n\
         [[alerts]]\nname = \"a\"\nurl = \"https://hooks.example/\"\n\n\
         [[alerts]]\nname = \"breaking-energy-desk\"\nview = \"energy\"\nformat = \"slack\"\n\
         url = \"https://hooks.slack.example/services/T0/B0/secret-token\"\n\n\
         [[alerts]]\nname = \"ops\"\nformat = \"ntfy\"\nurl = \"http://ntfy.example:8080/topic\"\n",
    );
    // An archive as the daemon's start leaves it (`alerts` creates none).
    drop(tickerfeed::store::Store::open(&dir.db_path()).unwrap());
    let (code, list, err) = cli(&dir, &["alerts"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(!list.contains("secret-token"), "{list}");
    // Each alert's cells, in order, as they should appear.
    let alerts = [
        [
            "a",
            "the main feed",
            "json",
            "https://hooks.example",
            "0 pending",
        ],
        [
            "breaking-energy-desk",
            "view energy",
            "slack",
            "https://hooks.slack.example…",
            "0 pending",
        ],
        [
            "ops",
            "the main feed",
            "ntfy",
            "http://ntfy.example:8080…",
            "0 pending",
        ],
    ];
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 3, "{list}");
    // Where each cell starts on its line, in characters.
    let starts: Vec<Vec<usize>> = alerts
        .iter()
        .zip(&lines)
        .map(|(cells, line)| {
            let mut from = 0;
            cells
                .iter()
                .map(|cell| {
                    let at = from
                        + line[from..]
                            .find(cell)
                            .unwrap_or_else(|| panic!("no {cell:?} in {line:?}:\n{list}"));
                    from = at + cell.len();
                    line[..at].chars().count()
                })
                .collect()
        })
        .collect();
    assert!(
        starts.iter().all(|s| *s == starts[0]),
        "the columns do not line up ({starts:?}):\n{list}"
    );
    assert!(lines.iter().all(|l| l.ends_with("0 failed")), "{list}");
}

/// QA s25: `check`, `alerts test` and the daemon's start warned about an
/// alert to a private address with its full URL, ntfy's `?auth=` token
/// and the topic's path included, though `tickerfeed alerts` hides them.
/// Now every one shows the origin only, as the listing does; so does the
/// error for a URL of the wrong scheme.
#[tokio::test]
async fn no_command_prints_an_alert_urls_path_or_token() {
    let receiver = Receiver::start().await;
    let server = FeedServer::start().await;
    let feeds = wire(&server);
    let dir = TestDir::new();
    let url = receiver.url("/ntfy/mytopic?auth=tok123");
    dir.write_config_only(&format!(
        "{feeds}[[alerts]]\nname = \"nt\"\nurl = \"{url}\"\nformat = \"ntfy\"\n"
    ));
    for args in [&["check"][..], &["alerts", "test", "nt"], &["alerts"]] {
        let (_, out, err) = cli(&dir, args).await;
        let all = format!("{out}{err}");
        assert!(
            all.contains(&format!("http://{}…", receiver.addr)),
            "{args:?} warns, showing the origin:\n{all}"
        );
        for secret in ["tok123", "mytopic"] {
            assert!(!all.contains(secret), "{args:?} printed {secret}:\n{all}");
        }
    }
    dir.write_config_only(&format!(
        "{feeds}[[alerts]]\nname = \"nt\"\nurl = \"ftp://files.test/ntfy/mytopic?auth=tok123\"\n"
    ));
    let (code, out, err) = cli(&dir, &["check"]).await;
    assert_ne!(code, 0);
    let all = format!("{out}{err}");
    assert!(all.contains("http or https"), "{all}");
    assert!(!all.contains("tok123") && !all.contains("mytopic"), "{all}");
    assert_eq!(receiver.total(), 0);
}

/// QA s25: `tickerfeed alerts` kept showing "last error: HTTP 500" after
/// the receiver took messages again: the listing took the newest error
/// any row kept. Now an alert's last error is cleared by a delivery; the
/// message that failed for good still shows its own.
#[tokio::test]
async fn a_delivery_clears_the_alerts_last_error() {
    let receiver = Receiver::start().await;
    receiver.script("/hook", &[(500, &[]), (500, &[]), (200, &[])]);
    let alerts = format!(
        "[[alerts]]\nname = \"flaky\"\nurl = \"{}\"\nallow_private = true\nretry_for_hours = 1\n",
        receiver.url("/hook")
    );
    let (c, clock) = fixed_clock("2026-11-24T09:00:00Z");
    let (_server, dir, d) = daemon_on(&alerts, clock).await;
    receiver.wait_for("/hook", 1).await;
    assert!(
        eventually(|| dir.count("SELECT count(*) FROM alert_outbox WHERE attempts = 1") == 1).await
    );
    let (_, list, _) = cli(&dir, &["alerts"]).await;
    assert!(list.contains("last error: HTTP 500"), "{list}");
    // Past its retry_for: the first message fails for good, and the
    // other three are delivered.
    c.advance(chrono::Duration::hours(2));
    receiver.wait_for("/hook", 5).await;
    assert!(
        eventually(|| dir.count("SELECT count(*) FROM alert_outbox WHERE state = 'pending'") == 0)
            .await
    );
    let (_, list, _) = cli(&dir, &["alerts"]).await;
    assert!(list.contains("0 pending  1 failed"), "{list}");
    assert!(!list.contains("last error"), "{list}");
    assert!(
        list.contains("failed  "),
        "the failed message's own error: {list}"
    );
    let page = d.get("/feeds", &[]).await.text().await.unwrap();
    let section = page.split("<h2>Alerts</h2>").nth(1).unwrap();
    assert!(!section.contains("HTTP 500"), "{section}");
    d.stop().await;
}

/// A receiver that did not answer left reqwest's error text in the
/// outbox, the log and `tickerfeed alerts`, and that text names the URL,
/// path included: the token a webhook URL's path may hold (Slack's do),
/// which the listing otherwise hides.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_network_error_does_not_reveal_the_urls_path() {
    // A port nothing listens on: the connection is refused.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let alerts = format!(
        "[[alerts]]\nname = \"down\"\nurl = \"http://{closed}/hook/secret-token\"\nallow_private = true\n"
    );
    let (_server, dir, d) = daemon(&alerts, None).await;
    let mut errors = Vec::new();
    for _ in 0..300 {
        errors = outbox(&dir).into_iter().filter_map(|r| r.4).collect();
        if !errors.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    d.stop().await;
    assert!(!errors.is_empty(), "no attempt failed");
    for e in &errors {
        assert!(!e.contains("secret-token"), "{e}");
    }
    let cfg = dir.config_path();
    let out = tokio::task::spawn_blocking(move || {
        bin()
            .arg("--config")
            .arg(&cfg)
            .arg("alerts")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let list = String::from_utf8_lossy(&out.stdout);
    assert!(list.contains("last error: "), "{list}");
    assert!(!list.contains("secret-token"), "{list}");
}

/// SIGHUP adds an alert to a running daemon, and later removes it; no
/// restart. The added alert fires for the item archived after the reload
/// (and not for the four before it); once removed, it sends nothing more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_are_added_and_removed_by_a_reload() {
    let receiver = Receiver::start().await;
    let server = FeedServer::start().await;
    let feeds = wire(&server).replace("\n\n", "\nschedule = \"* * * * * *\"\n");
    let dir = TestDir::new();
    dir.write_config_only(&feeds);
    let mut d = crate::process::Running::start_with(&dir, &[]);
    d.wait_for("tickerfeed running");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !dir.db_path().exists() || dir.count("SELECT count(*) FROM items") < 4 {
        assert!(Instant::now() < deadline, "the first poll never archived");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let alert = format!(
        "{MAJORS}\n[[alerts]]\nname = \"majors\"\nview = \"majors\"\nurl = \"{}\"\nallow_private = true\n",
        receiver.url("/hook")
    );
    dir.write_config_only(&format!("{feeds}{alert}"));
    d.signal("HUP");
    d.wait_for("config reloaded");
    let publish = |extra: &[(&str, &str, &str)]| {
        let mut items = vec![
            ("w1", "BP results beat guidance", "https://wire.test/bp"),
            ("w3", "Shell buys solar firm", "https://wire.test/shell"),
        ];
        items.extend_from_slice(extra);
        server.set("/wire.xml", Reply::feed(rss("Wire", &items)));
    };
    publish(&[("w5", "BP names a new chief", "https://wire.test/bp-chief")]);
    let deadline = Instant::now() + Duration::from_secs(20);
    while dir.count("SELECT count(*) FROM items WHERE title = 'BP names a new chief'") == 0 {
        assert!(Instant::now() < deadline, "the new item was never archived");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let got = receiver.wait_for("/hook", 1).await;
    assert_eq!(got[0].json()["item"]["title"], "BP names a new chief");

    // Removed: a new matching item is archived but not sent.
    dir.write_config_only(&feeds);
    d.signal("HUP");
    d.wait_for("config reloaded");
    publish(&[
        ("w5", "BP names a new chief", "https://wire.test/bp-chief"),
        ("w7", "Shell sells a refinery", "https://wire.test/shell-2"),
    ]);
    let deadline = Instant::now() + Duration::from_secs(20);
    while dir.count("SELECT count(*) FROM items WHERE title = 'Shell sells a refinery'") == 0 {
        assert!(
            Instant::now() < deadline,
            "the last item was never archived"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.total(), 1, "{:?}", receiver.got("/hook"));
    d.signal("TERM");
    d.wait_exit();
}

/// Review s29: a reload whose last step fails (here the view rules', made
/// to fail by a trigger; in the field a busy timeout or a full disk) is
/// refused whole. It used to register the feeds and alerts in
/// transactions of their own, and the writer took the new alerts at once:
/// while `/healthz` said the old config ran, a new item queued the
/// reload's alert `a2`, which the sender did not know, and not the running
/// `a1`; the archive already listed the reload's feed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_that_fails_partway_keeps_the_running_alerts_and_feeds() {
    let receiver = Receiver::start().await;
    let server = FeedServer::start().await;
    let feeds = wire(&server).replace("\n\n", "\nschedule = \"* * * * * *\"\n");
    let alert = |name: &str| {
        format!(
            "[[alerts]]\nname = \"{name}\"\nview = \"majors\"\nurl = \"{}\"\nallow_private = true\n",
            receiver.url(&format!("/{name}"))
        )
    };
    let dir = TestDir::new();
    dir.write_config_only(&format!("{feeds}{MAJORS}{}", alert("a1")));
    let mut d = crate::process::Running::start_with(&dir, &[]);
    let addr = d.wait_for_listen();
    let deadline = Instant::now() + Duration::from_secs(20);
    while dir.count("SELECT count(*) FROM items") < 4 {
        assert!(Instant::now() < deadline, "the first poll never archived");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The first poll's two majors.
    receiver.wait_for("/a1", 2).await;
    // Registering a view rule fails from now on.
    rusqlite::Connection::open(dir.db_path())
        .unwrap()
        .execute_batch(
            "CREATE TRIGGER t BEFORE INSERT ON rules BEGIN SELECT RAISE(ABORT, 'x'); END",
        )
        .unwrap();

    let other = FeedServer::start().await;
    other.set("/other.xml", Reply::feed(rss("Other", &[])));
    let changed = MAJORS.replace("BP|Shell", "BP|Shell|Total");
    dir.write_config_only(&format!(
        "{feeds}{}{changed}{}",
        feed_block("other", &other.url("/other.xml"), ""),
        alert("a2")
    ));
    d.signal("HUP");
    d.wait_for("reload failed");
    let health: serde_json::Value = serde_json::from_str(
        &reqwest::get(format!("http://{addr}/healthz"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(health["config"]["reload_refused"], true, "{health}");

    server.set(
        "/wire.xml",
        Reply::feed(rss(
            "Wire",
            &[("w5", "BP names a new chief", "https://wire.test/bp-chief")],
        )),
    );
    let got = receiver.wait_for("/a1", 3).await;
    assert_eq!(got[2].json()["item"]["title"], "BP names a new chief");
    assert_eq!(
        dir.count("SELECT count(*) FROM alert_outbox WHERE alert = 'a2'"),
        0
    );
    assert_eq!(
        dir.column::<String>("SELECT name FROM alerts WHERE in_config"),
        ["a1"]
    );
    assert_eq!(dir.column::<String>("SELECT name FROM feeds"), ["wire"]);
    assert!(other.seen("/other.xml").is_empty());
    d.signal("TERM");
    d.wait_exit();
}

/// The daemon with alert "majors" (the wire's two majors) at `receiver`'s
/// `/old`, pointed by a reload at `/new` once `/old` got `requests`: both
/// messages reach `/new`. The archive's dir and the running daemon.
async fn moved_after(receiver: &Receiver, requests: usize) -> (TestDir, crate::process::Running) {
    let server = FeedServer::start().await;
    let feeds = wire(&server);
    let alert = |path: &str| {
        format!(
            "{MAJORS}\n[[alerts]]\nname = \"majors\"\nview = \"majors\"\nurl = \"{}\"\nallow_private = true\n",
            receiver.url(path)
        )
    };
    let dir = TestDir::new();
    dir.write_config_only(&format!("{feeds}{}", alert("/old")));
    let mut d = crate::process::Running::start_with(&dir, &[]);
    tokio::task::block_in_place(|| d.wait_for("tickerfeed running"));
    receiver.wait_for("/old", requests).await;

    dir.write_config_only(&format!("{feeds}{}", alert("/new")));
    d.signal("HUP");
    tokio::task::block_in_place(|| d.wait_for("config reloaded"));
    let got = receiver.wait_for("/new", 2).await;
    let mut titles: Vec<String> = got
        .iter()
        .map(|r| r.json()["item"]["title"].as_str().unwrap().to_string())
        .collect();
    titles.sort();
    assert_eq!(
        titles,
        ["BP results beat guidance", "Shell buys solar firm"]
    );
    (dir, d)
}

/// Audit s21: a reload that points an alert at a new URL (the receiver
/// moved) sends what waits for it there at once. Before, each waiting
/// message kept its retry time, backoff or `Retry-After` earned at the
/// old URL: up to an hour, though the new one may answer now.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_that_moves_an_alert_sends_what_waits_to_the_new_url_at_once() {
    let receiver = Receiver::start().await;
    receiver.script("/old", &[(503, &[("Retry-After", "3600")])]);
    // The first major's message is told to come back in an hour, and
    // the other waits with it.
    let (dir, mut d) = moved_after(&receiver, 1).await;
    assert_eq!(receiver.got("/old").len(), 1, "nothing more to the old URL");
    let deadline = Instant::now() + Duration::from_secs(10);
    while dir.count("SELECT count(*) FROM alert_outbox") > 0 {
        assert!(Instant::now() < deadline, "{:?}", outbox(&dir));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    d.signal("TERM");
    assert_eq!(tokio::task::block_in_place(|| d.wait_exit()), 0);
}

/// Review s21: a reload that moves an alert while a message is on its
/// way to the old URL. The share in flight went on sending the rest to the
/// old URL, and what the old receiver answered (an hour's `Retry-After`)
/// held everything there, so the new URL got nothing despite the log
/// saying it would. Now the share stops at the reload and what waits goes
/// to the new URL once the message in flight is answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_that_moves_an_alert_mid_send_sends_the_rest_to_the_new_url() {
    let receiver = Receiver::start().await;
    receiver.script("/old", &[(503, &[("Retry-After", "3600")])]);
    receiver
        .log
        .lock()
        .unwrap()
        .delays
        .insert("/old".into(), Duration::from_secs(3));
    // The first message is on its way to the old URL, answered in 3 s.
    let (_dir, mut d) = moved_after(&receiver, 1).await;
    assert_eq!(
        receiver.got("/old").len(),
        1,
        "the second message went to the old URL after the reload"
    );
    d.signal("TERM");
    assert_eq!(tokio::task::block_in_place(|| d.wait_exit()), 0);
}

/// Audit s21: the messages of an alert removed from the config waited for
/// it to come back for ever: `pending` in `/metrics` and in the outbox
/// (so "an empty outbox means everything was delivered" never held
/// again), and their items kept from retention. Now, a day after they
/// were queued (the default `retry_for_hours`), they are kept as failed,
/// with the reason, like messages out of retries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_alerts_messages_are_kept_as_failed_after_a_day() {
    let receiver = Receiver::start().await;
    receiver.script("/hook", &[(503, &[("Retry-After", "3600")])]);
    let alerts = format!(
        "{MAJORS}\n[[alerts]]\nname = \"gone\"\nview = \"majors\"\nurl = \"{}\"\nallow_private = true\n",
        receiver.url("/hook")
    );
    let (server, dir, d) = daemon(&alerts, None).await;
    receiver.wait_for("/hook", 1).await;
    d.stop().await;
    // Removed; one of its messages was queued more than a day ago.
    rusqlite::Connection::open(dir.db_path())
        .unwrap()
        .execute(
            "UPDATE alert_outbox SET created_at = '2020-01-01T00:00:00Z'
             WHERE item_uid = (SELECT min(item_uid) FROM alert_outbox)",
            [],
        )
        .unwrap();
    let config = dir.write_config(&format!("{}{MAJORS}", wire(&server)));
    let d = Daemon::start_with_clock(config, Arc::new(tickerfeed::clock::SystemClock)).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while dir.count("SELECT count(*) FROM alert_outbox WHERE state = 'failed'") == 0 {
        assert!(Instant::now() < deadline, "{:?}", outbox(&dir));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut states: Vec<(String, Option<String>)> = outbox(&dir)
        .into_iter()
        .map(|(_, _, state, _, error)| (state, error))
        .collect();
    states.sort();
    assert_eq!(
        states[0],
        (
            "failed".to_string(),
            Some("the alert was removed from the config before this was sent".to_string())
        )
    );
    assert_eq!(states[1].0, "pending", "the younger one still waits");
    let metrics = d.get("/metrics", &[]).await.text().await.unwrap();
    for line in [
        "tickerfeed_alert_deliveries_total{alert=\"gone\",result=\"failed\"} 1",
        "tickerfeed_alert_outbox{alert=\"gone\",result=\"failed\"} 1",
        "tickerfeed_alert_outbox{alert=\"gone\",result=\"pending\"} 1",
    ] {
        assert!(metrics.contains(line), "{line} missing from:\n{metrics}");
    }
    assert_eq!(receiver.total(), 1, "nothing more was sent");
    d.stop().await;
}

/// Audit s22: a restart with another URL for an alert kept the backoff
/// (here an hour's `Retry-After`) earned at the old one, though a reload
/// with the same change sent what waits at once. The archive now keeps a
/// hash of each alert's URL, and a start with another one sends what
/// waits there at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_with_another_url_sends_what_waits_there_at_once() {
    let receiver = Receiver::start().await;
    receiver.script("/old", &[(503, &[("Retry-After", "3600")])]);
    let alert = |path: &str| {
        format!(
            "{MAJORS}\n[[alerts]]\nname = \"majors\"\nview = \"majors\"\nurl = \"{}\"\nallow_private = true\n",
            receiver.url(path)
        )
    };
    let (server, dir, d) = daemon(&alert("/old"), None).await;
    receiver.wait_for("/old", 1).await;
    // The answer recorded: the messages wait an hour.
    let deadline = Instant::now() + Duration::from_secs(10);
    while dir.count("SELECT count(*) FROM alert_outbox WHERE attempts = 1") < 1 {
        assert!(Instant::now() < deadline, "{:?}", outbox(&dir));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    d.stop().await;

    let config = dir.write_config(&format!("{}{}", wire(&server), alert("/new")));
    let d = Daemon::start_with_clock(config, Arc::new(tickerfeed::clock::SystemClock)).await;
    let got = receiver.wait_for("/new", 2).await;
    let keys: Vec<&str> = got.iter().map(|r| r.header("Idempotency-Key")).collect();
    assert!(keys.iter().all(|k| k.starts_with("majors:")), "{keys:?}");
    wait_for_empty_outbox(&dir).await;
    assert_eq!(receiver.got("/old").len(), 1, "nothing more to the old URL");
    d.stop().await;
}

/// Audit s22: a failed message stayed failed for good, with no way for
/// an operator who fixed the cause to send it but SQL. `tickerfeed alerts
/// retry` puts it back to pending with its attempts counted afresh, and
/// the next start delivers it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_retry_sends_failed_messages_again() {
    let receiver = Receiver::start().await;
    let alert = |extra: &str| {
        format!(
            "{MAJORS}\n[[alerts]]\nname = \"majors\"\nview = \"majors\"\nurl = \"{}\"\n{extra}",
            receiver.url("/hook")
        )
    };
    // A loopback URL without allow_private: both majors fail for good.
    let (server, dir, d) = daemon(&alert(""), None).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while dir.count("SELECT count(*) FROM alert_outbox WHERE state = 'failed'") < 2 {
        assert!(Instant::now() < deadline, "{:?}", outbox(&dir));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    d.stop().await;
    // The operator fixes the config, then retries.
    let config = dir.write_config(&format!(
        "{}{}",
        wire(&server),
        alert("allow_private = true\n")
    ));
    let (code, _, err) = cli(&dir, &["alerts", "retry", "--alert", "nope"]).await;
    assert_eq!(code, 1);
    assert!(err.contains("no alert is named \"nope\""), "{err}");
    let (code, said, err) = cli(&dir, &["alerts", "retry", "--alert", "majors"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(
        said.starts_with("2 failed alert messages put back"),
        "{said}"
    );
    let states: Vec<(String, i64)> = outbox(&dir)
        .into_iter()
        .map(|(_, _, state, attempts, _)| (state, attempts))
        .collect();
    assert_eq!(states, [("pending".into(), 0), ("pending".into(), 0)]);
    assert_eq!(receiver.total(), 0);

    let d = Daemon::start_with_clock(config, Arc::new(tickerfeed::clock::SystemClock)).await;
    receiver.wait_for("/hook", 2).await;
    wait_for_empty_outbox(&dir).await;
    d.stop().await;
}

/// Review s29: `tickerfeed alerts retry` gave a failed message one
/// attempt, not a new retry window: its `retry_for_hours` was still timed
/// from when it was queued, long past, so the first passing failure after
/// the retry (a 503 while the receiver restarts) failed it again at once,
/// "out of retries". Now the window starts again at the retry, and
/// `created_at` still says when the message was queued.
#[tokio::test]
async fn a_retried_message_gets_a_new_retry_window() {
    use tickerfeed::clock::Clock;
    let receiver = Receiver::start().await;
    receiver.script("/hook", &[(500, &[])]);
    let alerts = format!(
        "[[views]]\nname = \"bp\"\ninclude = [{{ title = \"\\\\bBP\\\\b\" }}]\n\
         [[alerts]]\nname = \"bp\"\nview = \"bp\"\nurl = \"{}\"\nallow_private = true\nretry_for_hours = 1\n",
        receiver.url("/hook")
    );
    let (c, clock) = fixed_clock("2026-11-24T09:00:00Z");
    let (_server, dir, d) = daemon_on(&alerts, clock).await;
    receiver.wait_for("/hook", 1).await;
    // Two hours on, past its retry_for: the receiver fails it for good.
    c.advance(chrono::Duration::hours(2));
    receiver.wait_for("/hook", 2).await;
    assert!(
        eventually(|| dir.count("SELECT count(*) FROM alert_outbox WHERE state = 'failed'") == 1)
            .await,
        "{:?}",
        outbox(&dir)
    );
    // The operator retries it (the store call `alerts retry` makes, on
    // the daemon's clock) as the receiver restarts: one 503, then 200.
    receiver.script("/hook", &[(503, &[]), (200, &[])]);
    let store = tickerfeed::store::Store::open(&dir.db_path()).unwrap();
    let retried = store
        .alert_messages_retried(&["bp".to_string()], c.now())
        .await
        .unwrap();
    assert_eq!(retried, (1, 0));
    receiver.wait_for("/hook", 3).await;
    assert!(
        eventually(|| dir
            .count("SELECT count(*) FROM alert_outbox WHERE state = 'pending' AND attempts = 1")
            == 1)
        .await,
        "kept as failed after one 503: {:?}",
        outbox(&dir)
    );
    let (created, next): (String, String) = dir
        .db()
        .query_row(
            "SELECT created_at, next_attempt_at FROM alert_outbox",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(created, "2026-11-24T09:00:00Z", "when it was queued");
    let next = chrono::DateTime::parse_from_rfc3339(&next).unwrap();
    let wait = (next.with_timezone(&chrono::Utc) - c.now()).num_seconds();
    assert!((1..=5).contains(&wait), "retried {wait} s after the 503");
    // A few seconds on, the receiver takes it.
    c.advance(chrono::Duration::seconds(5));
    receiver.wait_for("/hook", 4).await;
    wait_for_empty_outbox(&dir).await;
    d.stop().await;
}

/// Audit s22: `/metrics` counted pending messages but not how long they
/// waited, so a receiver down for hours looked like one busy for seconds.
/// `tickerfeed_alert_oldest_pending_seconds` gives, per alert with
/// messages pending, the age of the oldest; an alert with none has no
/// sample.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_show_how_long_each_alerts_oldest_message_waited() {
    let receiver = Receiver::start().await;
    receiver.script("/down", &[(503, &[("Retry-After", "3600")])]);
    let alerts = format!(
        "{MAJORS}\n[[alerts]]\nname = \"down\"\nview = \"majors\"\nurl = \"{}\"\nallow_private = true\n\n[[alerts]]\nname = \"up\"\nview = \"majors\"\nurl = \"{}\"\nallow_private = true\n",
        receiver.url("/down"),
        receiver.url("/up"),
    );
    let (_server, dir, d) = daemon(&alerts, None).await;
    receiver.wait_for("/up", 2).await;
    receiver.wait_for("/down", 1).await;
    // One of the messages for "down" has waited two hours.
    rusqlite::Connection::open(dir.db_path())
        .unwrap()
        .execute(
            "UPDATE alert_outbox SET created_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '-2 hours')
             WHERE item_uid = (SELECT min(item_uid) FROM alert_outbox WHERE alert = 'down')",
            [],
        )
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while dir.count("SELECT count(*) FROM alert_outbox WHERE alert = 'up'") > 0 {
        assert!(Instant::now() < deadline, "{:?}", outbox(&dir));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let metrics = d.get("/metrics", &[]).await.text().await.unwrap();
    let age: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("tickerfeed_alert_oldest_pending_seconds{alert=\"down\"} "))
        .unwrap_or_else(|| panic!("no sample for \"down\" in:\n{metrics}"))
        .parse()
        .unwrap();
    assert!((7200.0..7260.0).contains(&age), "{age}");
    assert!(
        !metrics.contains("tickerfeed_alert_oldest_pending_seconds{alert=\"up\"}"),
        "an alert with nothing pending has no sample:\n{metrics}"
    );
    d.stop().await;
}

/// Per `Idempotency-Key`, how many POSTs `receiver` got at `path`.
fn posts_per_key(receiver: &Receiver, path: &str) -> HashMap<String, usize> {
    let mut per_key = HashMap::new();
    for r in receiver.got(path) {
        *per_key
            .entry(r.header("idempotency-key").to_string())
            .or_default() += 1;
    }
    per_key
}

/// Two alert messages (the majors) to `/hook`, answered 200 after
/// `delay`, so the test can stop the archive taking writes between a POST
/// and the record of its answer.
fn majors_to(receiver: &Receiver, delay: Duration) -> String {
    receiver.log.lock().unwrap().delay = delay;
    format!(
        "{MAJORS}\n[[alerts]]\nname = \"locked\"\nview = \"majors\"\nurl = \"{}\"\nallow_private = true\n",
        receiver.url("/hook")
    )
}

/// Waits until the outbox holds a message (its item is archived).
async fn wait_for_queued(dir: &TestDir) {
    assert!(
        eventually(|| dir.count("SELECT count(*) FROM alert_outbox") > 0).await,
        "nothing was queued"
    );
}

/// Review s29: a message delivered (2xx) whose outcome the archive could
/// not record (another process held the write lock past the 10 s busy
/// timeout: `tickerfeed prune`, an analyst's `BEGIN IMMEDIATE`) stayed due,
/// and was POSTed again at the next pass, every ~10 s while the lock was
/// held: the receiver showed the same alert again and again (here the
/// first message went twice). Now it is POSTed once; its record is
/// retried until the lock is released, and the other message follows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_the_archive_cannot_record_under_a_held_lock_is_not_sent_again() {
    let receiver = Receiver::start().await;
    let alerts = majors_to(&receiver, Duration::from_millis(1_500));
    let (_server, dir, d) = daemon(&alerts, None).await;
    wait_for_queued(&dir).await;
    // Held while the first message is in flight and past the busy timeout.
    let lock = rusqlite::Connection::open(dir.db_path()).unwrap();
    lock.busy_timeout(Duration::from_secs(5)).unwrap();
    lock.execute_batch("BEGIN IMMEDIATE").unwrap();
    receiver.wait_for("/hook", 1).await;
    tokio::time::sleep(Duration::from_secs(13)).await;
    let held = posts_per_key(&receiver, "/hook");
    lock.execute_batch("COMMIT").unwrap();
    drop(lock);
    assert!(
        held.values().all(|n| *n == 1),
        "each message POSTed once while the lock was held: {held:?}"
    );
    // Released: the delivery is recorded, and the other message follows.
    wait_for_empty_outbox(&dir).await;
    let got = total_after_a_while(&receiver).await;
    let per_key = posts_per_key(&receiver, "/hook");
    assert_eq!(per_key.len(), 2, "{per_key:?}");
    assert!(
        per_key.values().all(|n| *n == 1) && got == 2,
        "each message POSTed once: {per_key:?}"
    );
    d.stop().await;
}

/// Review s29: the same under a file-size limit (`LimitFSIZE`, a full
/// disk): a delivered message whose record failed was POSTed again as
/// fast as the receiver answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_the_archive_cannot_record_under_a_file_size_limit_is_not_sent_again() {
    let receiver = Receiver::start().await;
    let alerts = majors_to(&receiver, Duration::from_millis(1_000));
    let server = FeedServer::start().await;
    let feeds = wire(&server);
    let dir = TestDir::new();
    dir.write_config_only(&format!("{feeds}{alerts}"));
    let mut d = crate::process::Running::start(&dir);
    tokio::task::block_in_place(|| d.wait_for_listen());
    wait_for_queued(&dir).await;
    d.limit_file_size("1");
    receiver.wait_for("/hook", 1).await;
    tokio::task::block_in_place(|| d.wait_for("could not record an alert delivery"));
    tokio::time::sleep(Duration::from_secs(4)).await;
    let held = posts_per_key(&receiver, "/hook");
    assert_eq!(
        held.values().sum::<usize>(),
        1,
        "one POST while nothing could be recorded: {held:?}"
    );
    d.limit_file_size("unlimited");
    tokio::task::block_in_place(|| {
        d.wait_for("alert delivery recorded after the archive refused it")
    });
    wait_for_empty_outbox(&dir).await;
    let per_key = posts_per_key(&receiver, "/hook");
    assert_eq!(per_key.len(), 2, "{per_key:?}");
    assert!(
        per_key.values().all(|n| *n == 1),
        "each message POSTed once: {per_key:?}"
    );
}
