//! WebSub publishing (issue 18): tickerfeed as the hub for its own feeds,
//! pinging an external hub, and the `rel="hub"`/`rel="self"` links. A
//! daemon runs in-process on 127.0.0.1:0 with the real wall clock (leases
//! and retries are wall times) against a loopback feed polled every
//! second, with a loopback subscriber (or hub) that records each request.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, Request, Response};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::process::Running;
use crate::serve::{Daemon, validate_atom};
use crate::util::*;

/// The served feeds' public base (`TestDir`'s config): topics are named
/// by it, so they stay the same when the daemon restarts on a new port.
const BASE: &str = "http://feeds.test/";
const TOPIC: &str = "http://feeds.test/feed.atom";
const SECRET: &str = "subscriber-s3cret";

/// One request the subscriber got.
#[derive(Clone, Debug)]
struct Got {
    method: Method,
    query: Vec<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
}

impl Got {
    fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

#[derive(Default)]
struct State {
    got: Vec<Got>,
    /// Answer a verification with something other than the challenge.
    refuse: bool,
    /// Answer this many more POSTs with 503 and `Retry-After: 1`.
    fail_posts: usize,
}

/// A loopback WebSub subscriber (or, for pings, a hub): echoes
/// `hub.challenge` on GET unless told not to, answers 200 to POSTs.
#[derive(Clone)]
struct Subscriber {
    addr: std::net::SocketAddr,
    state: Arc<Mutex<State>>,
}

impl Subscriber {
    async fn start() -> Subscriber {
        let state: Arc<Mutex<State>> = Arc::default();
        let s = Arc::clone(&state);
        let app = Router::new().fallback(move |req: Request<Body>| {
            let s = Arc::clone(&s);
            async move {
                let (parts, body) = req.into_parts();
                let body = axum::body::to_bytes(body, 1 << 22).await.unwrap();
                let query: Vec<(String, String)> =
                    url::form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes())
                        .into_owned()
                        .collect();
                let mut st = s.lock().unwrap();
                let got = Got {
                    method: parts.method,
                    query,
                    headers: parts.headers,
                    body,
                };
                let answer = match (&got.method, got.param("hub.challenge")) {
                    (&Method::GET, Some(c)) if !st.refuse => c.to_string(),
                    _ => "ok".to_string(),
                };
                let fail = got.method == Method::POST && st.fail_posts > 0;
                st.got.push(got);
                if fail {
                    st.fail_posts -= 1;
                    return Response::builder()
                        .status(503)
                        .header("retry-after", "1")
                        .body(Body::from("busy"))
                        .unwrap();
                }
                Response::new(Body::from(answer))
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Subscriber { addr, state }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn refuse(&self) {
        self.state.lock().unwrap().refuse = true;
    }

    fn got(&self, method: Method) -> Vec<Got> {
        let st = self.state.lock().unwrap();
        st.got
            .iter()
            .filter(|g| g.method == method)
            .cloned()
            .collect()
    }

    /// Waits until a request with `method` satisfies `pred`.
    async fn wait_for(&self, method: Method, pred: impl Fn(&Got) -> bool) -> Got {
        for _ in 0..400 {
            if let Some(g) = self.got(method.clone()).into_iter().find(|g| pred(g)) {
                return g;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "no matching {method} came; got {:#?}",
            self.got(method.clone())
        );
    }
}

/// The wire feed with `items` (guid, title).
fn wire(server: &FeedServer, items: &[(&str, &str)]) {
    let items: Vec<(&str, &str, &str)> = items
        .iter()
        .map(|(g, t)| (*g, *t, "https://wire.test/story"))
        .collect();
    server.set("/wire.xml", Reply::feed(rss("Wire", &items)));
}

/// A daemon on the real clock polling the wire every second, with
/// `websub` as its `[websub]` section.
async fn daemon(server: &FeedServer, dir: &TestDir, websub: &str) -> Daemon {
    let feeds = feed_block(
        "wire",
        &server.url("/wire.xml"),
        "schedule = \"* * * * * *\"\ntags = [\"energy\"]",
    );
    let config = dir.write_config(&format!("{feeds}\n[websub]\n{websub}\n"));
    Daemon::start_with_clock(config, Arc::new(tickerfeed::clock::SystemClock)).await
}

const OWN_HUB: &str = "serve_hub = true\nallow_private = true";

/// The wire with one item, a daemon with `websub` as its `[websub]`, and
/// a subscriber.
async fn start(websub: &str) -> (FeedServer, TestDir, Daemon, Subscriber) {
    let server = FeedServer::start().await;
    wire(&server, &[("w1", "Oil steady")]);
    let dir = TestDir::new();
    let d = daemon(&server, &dir, websub).await;
    (server, dir, d, Subscriber::start().await)
}

async fn request(d: &Daemon, form: &[(&str, &str)]) -> reqwest::Response {
    post_form(&d.base, form).await
}

async fn subscribe(d: &Daemon, callback: &str) -> reqwest::Response {
    request(
        d,
        &[
            ("hub.mode", "subscribe"),
            ("hub.topic", TOPIC),
            ("hub.callback", callback),
            ("hub.lease_seconds", "3600"),
            ("hub.secret", SECRET),
        ],
    )
    .await
}

fn subscriptions(dir: &TestDir) -> i64 {
    dir.count("SELECT count(*) FROM websub_subscribers")
}

async fn wait_for_subscriptions(dir: &TestDir, n: i64) {
    assert!(
        eventually(|| subscriptions(dir) == n).await,
        "{} subscriptions, not {n}",
        subscriptions(dir)
    );
}

fn hmac_hex(key: &str, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// A push carrying `title`, checked: the document with its type, the
/// hub and self links, and a signature that is the HMAC of the body.
async fn wait_for_push(sub: &Subscriber, title: &str) -> Got {
    let push = sub
        .wait_for(Method::POST, |g| g.text().contains(title))
        .await;
    assert_eq!(
        push.header("content-type"),
        "application/atom+xml; charset=utf-8"
    );
    assert_eq!(
        push.header("link"),
        format!("<{BASE}websub>; rel=\"hub\", <{TOPIC}>; rel=\"self\"")
    );
    assert_eq!(
        push.header("x-hub-signature"),
        format!("sha256={}", hmac_hex(SECRET, &push.body)),
        "the signature is the HMAC-SHA256 of the body as received"
    );
    push
}

#[tokio::test]
async fn a_subscriber_verifies_and_gets_each_change_signed() {
    let (server, dir, d, sub) = start(OWN_HUB).await;
    d.wait_for_entries(1).await;

    let answer = subscribe(&d, &sub.url("/cb?reader=7")).await;
    assert_eq!(answer.status(), 202);
    let check = sub.wait_for(Method::GET, |_| true).await;
    assert_eq!(check.param("hub.mode"), Some("subscribe"));
    assert_eq!(check.param("hub.topic"), Some(TOPIC));
    assert_eq!(check.param("hub.lease_seconds"), Some("3600"));
    assert_eq!(
        check.param("reader"),
        Some("7"),
        "the callback's own query kept"
    );
    assert!(check.param("hub.challenge").unwrap().len() >= 16);
    wait_for_subscriptions(&dir, 1).await;

    // A new item is polled: the subscriber gets the new document.
    wire(
        &server,
        &[("w1", "Oil steady"), ("w2", "BP raises dividend")],
    );
    let push = wait_for_push(&sub, "BP raises dividend").await;
    assert!(push.text().contains("Oil steady"));
    assert!(push.text().contains("<link rel=\"hub\""));
    // Delivered, so nothing waits.
    assert!(eventually(|| dir.count("SELECT count(*) FROM websub_deliveries") == 0).await);

    let metrics = d.get("/metrics", &[]).await.text().await.unwrap();
    assert!(
        metrics.contains("tickerfeed_websub_pushes_total{result=\"sent\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains(&format!(
            "tickerfeed_websub_subscribers{{topic=\"{TOPIC}\"}} 1"
        )),
        "{metrics}"
    );
    d.stop().await;
}

#[tokio::test]
async fn a_push_the_subscriber_could_not_take_is_sent_again() {
    let (server, dir, d, sub) = start(OWN_HUB).await;
    assert_eq!(subscribe(&d, &sub.url("/cb")).await.status(), 202);
    wait_for_subscriptions(&dir, 1).await;
    sub.state.lock().unwrap().fail_posts = 1;
    wire(
        &server,
        &[("w1", "Oil steady"), ("w2", "BP raises dividend")],
    );
    // The first attempt got 503; the push was kept and sent again, with
    // the topic's document as it is when sent.
    wait_for_push(&sub, "BP raises dividend").await;
    assert!(sub.got(Method::POST).len() >= 2, "retried after the 503");
    assert!(eventually(|| dir.count("SELECT count(*) FROM websub_deliveries") == 0).await);
    let metrics = d.get("/metrics", &[]).await.text().await.unwrap();
    assert!(
        metrics.contains("tickerfeed_websub_pushes_total{result=\"retried\"} 1"),
        "{metrics}"
    );
    d.stop().await;
}

#[tokio::test]
async fn a_full_hub_denies_new_subscriptions_and_still_takes_renewals() {
    let (_server, dir, d, sub) = start(&format!("{OWN_HUB}\nmax_subscriptions = 1")).await;
    assert_eq!(subscribe(&d, &sub.url("/first")).await.status(), 202);
    wait_for_subscriptions(&dir, 1).await;

    assert_eq!(subscribe(&d, &sub.url("/second")).await.status(), 202);
    let denied = sub
        .wait_for(Method::GET, |g| g.param("hub.mode") == Some("denied"))
        .await;
    assert_eq!(denied.param("hub.topic"), Some(TOPIC));
    assert!(
        denied
            .param("hub.reason")
            .unwrap()
            .contains("1 subscriptions")
    );
    assert!(denied.param("hub.challenge").is_none());

    // The first subscriber renews: verified again, still one lease.
    assert_eq!(subscribe(&d, &sub.url("/first")).await.status(), 202);
    let checks = || {
        sub.got(Method::GET)
            .iter()
            .filter(|g| g.param("hub.mode") == Some("subscribe"))
            .count()
    };
    assert!(eventually(|| checks() == 2).await);
    let modes: Vec<String> = sub
        .got(Method::GET)
        .iter()
        .map(|g| g.param("hub.mode").unwrap_or("").to_string())
        .collect();
    assert_eq!(modes, ["subscribe", "denied", "subscribe"]);
    assert_eq!(subscriptions(&dir), 1);
    d.stop().await;
}

#[tokio::test]
async fn a_callback_that_does_not_echo_the_challenge_is_not_subscribed() {
    let (server, dir, d, sub) = start(OWN_HUB).await;
    sub.refuse();
    assert_eq!(subscribe(&d, &sub.url("/cb")).await.status(), 202);
    sub.wait_for(Method::GET, |g| g.param("hub.mode") == Some("subscribe"))
        .await;
    // Give the hub time to record what it would have recorded.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(subscriptions(&dir), 0);

    wire(
        &server,
        &[("w1", "Oil steady"), ("w2", "BP raises dividend")],
    );
    let feed = d.wait_for_entries(2).await;
    assert!(feed.contains("BP raises dividend"));
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert!(
        sub.got(Method::POST).is_empty(),
        "no push without a verified lease"
    );
    d.stop().await;
}

#[tokio::test]
async fn unsubscribing_stops_the_pushes() {
    let (server, dir, d, sub) = start(OWN_HUB).await;
    assert_eq!(subscribe(&d, &sub.url("/cb")).await.status(), 202);
    wait_for_subscriptions(&dir, 1).await;
    wire(
        &server,
        &[("w1", "Oil steady"), ("w2", "BP raises dividend")],
    );
    wait_for_push(&sub, "BP raises dividend").await;

    let answer = request(
        &d,
        &[
            ("hub.mode", "unsubscribe"),
            ("hub.topic", TOPIC),
            ("hub.callback", &sub.url("/cb")),
        ],
    )
    .await;
    assert_eq!(answer.status(), 202);
    sub.wait_for(Method::GET, |g| g.param("hub.mode") == Some("unsubscribe"))
        .await;
    wait_for_subscriptions(&dir, 0).await;
    let pushes = sub.got(Method::POST).len();

    wire(
        &server,
        &[
            ("w1", "Oil steady"),
            ("w2", "BP raises dividend"),
            ("w3", "Shell sells refinery"),
        ],
    );
    d.wait_for_entries(3).await;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(
        sub.got(Method::POST).len(),
        pushes,
        "no push after unsubscribing"
    );
    d.stop().await;
}

#[tokio::test]
async fn a_lease_survives_a_restart() {
    let (server, dir, d, sub) = start(OWN_HUB).await;
    assert_eq!(subscribe(&d, &sub.url("/cb")).await.status(), 202);
    wait_for_subscriptions(&dir, 1).await;
    d.stop().await;
    let (expires, secret): (String, String) = dir
        .db()
        .query_row(
            "SELECT expires_at, secret FROM websub_subscribers",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert!(!expires.is_empty());
    assert_eq!(secret, SECRET, "kept to sign pushes");

    // The next run, on another port, pushes the next change to it.
    let d = daemon(&server, &dir, OWN_HUB).await;
    wire(
        &server,
        &[("w1", "Oil steady"), ("w2", "BP raises dividend")],
    );
    wait_for_push(&sub, "BP raises dividend").await;
    assert_eq!(
        sub.got(Method::GET).len(),
        1,
        "not verified again: the lease was remembered"
    );
    d.stop().await;
}

#[tokio::test]
async fn requests_that_cannot_be_taken_are_refused_with_a_reason() {
    let (server, _dir, d, sub) = start(OWN_HUB).await;
    let cb = sub.url("/cb");
    let refused = |form: Vec<(&'static str, String)>| {
        let d = &d;
        async move {
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let r = request(d, &form).await;
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let (status, why) = refused(vec![
        ("hub.mode", "subscribe".into()),
        ("hub.topic", "https://elsewhere.example/feed.atom".into()),
        ("hub.callback", cb.clone()),
    ])
    .await;
    assert_eq!(status, 404);
    assert!(why.contains("not a feed this hub publishes"), "{why}");
    let (status, why) = refused(vec![
        ("hub.mode", "subscribe".into()),
        ("hub.topic", TOPIC.into()),
        ("hub.callback", cb.clone()),
        ("hub.secret", "x".repeat(200)),
    ])
    .await;
    assert_eq!(status, 400);
    assert!(why.contains("hub.secret"), "{why}");
    let (status, why) = refused(vec![
        ("hub.mode", "publish".into()),
        ("hub.url", TOPIC.into()),
    ])
    .await;
    assert_eq!(status, 400);
    assert!(why.contains("hub.mode"), "{why}");
    // Tag and view feeds are topics too.
    let tag = request(
        &d,
        &[
            ("hub.mode", "subscribe"),
            ("hub.topic", "http://feeds.test/tags/energy.json"),
            ("hub.callback", &cb),
        ],
    )
    .await;
    assert_eq!(tag.status(), 202);
    d.stop().await;

    // Without allow_private, a loopback callback is refused at once.
    let dir = TestDir::new();
    let d = daemon(&server, &dir, "serve_hub = true").await;
    let r = subscribe(&d, &cb).await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("allow_private"));
    d.stop().await;
    assert!(
        sub.got(Method::GET)
            .iter()
            .all(|g| g.param("hub.topic") == Some("http://feeds.test/tags/energy.json"))
    );
}

#[tokio::test]
async fn every_feed_format_names_the_hub_and_itself() {
    let (server, _dir, d, _sub) = start(OWN_HUB).await;
    let atom = d.wait_for_entries(1).await;
    let hub = format!("{BASE}websub");
    assert!(
        atom.contains(&format!("<link rel=\"hub\" href=\"{hub}\"/>")),
        "{atom}"
    );
    assert!(atom.contains(&format!(
        "rel=\"self\" type=\"application/atom+xml\" href=\"{TOPIC}\""
    )));

    let r = d.get("/feed.atom", &[]).await;
    assert_eq!(
        r.headers()["link"],
        format!("<{hub}>; rel=\"hub\", <{TOPIC}>; rel=\"self\"").as_str()
    );
    let rss = d.get("/tags/energy.rss", &[]).await;
    assert_eq!(
        rss.headers()["link"],
        format!("<{hub}>; rel=\"hub\", <{BASE}tags/energy.rss>; rel=\"self\"").as_str()
    );
    let rss = rss.text().await.unwrap();
    assert!(
        rss.contains(&format!("<atom:link href=\"{hub}\" rel=\"hub\">")),
        "{rss}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&d.get("/feed.json", &[]).await.text().await.unwrap()).unwrap();
    assert_eq!(
        json["hubs"],
        serde_json::json!([{ "type": "WebSub", "url": hub }])
    );
    // A search is no topic: no hub.
    let search = d.get("/feed.atom?q=oil", &[]).await;
    assert!(search.headers().get("link").is_none());
    assert!(!search.text().await.unwrap().contains("rel=\"hub\""));
    d.stop().await;

    // Without [websub], no hub anywhere.
    let dir = TestDir::new();
    let d = daemon(&server, &dir, "").await;
    let r = d.get("/feed.atom", &[]).await;
    assert!(r.headers().get("link").is_none());
    assert!(!r.text().await.unwrap().contains("rel=\"hub\""));
    let json = d.get("/feed.json", &[]).await.text().await.unwrap();
    assert!(!json.contains("hubs"));
    assert_eq!(
        request(&d, &[("hub.mode", "subscribe")]).await.status(),
        404
    );
    d.stop().await;
}

#[tokio::test]
#[ignore = "needs xmllint (Debian libxml2-utils); .ci/run installs it and runs ignored tests"]
async fn atom_with_the_hub_link_validates_against_rfc4287_relax_ng() {
    let (_server, _dir, d, _sub) = start(OWN_HUB).await;
    let atom = d.wait_for_entries(1).await;
    assert!(atom.contains("rel=\"hub\""));
    validate_atom(&atom);
    d.stop().await;
}

#[tokio::test]
async fn an_external_hub_is_pinged_when_a_feed_changes() {
    let server = FeedServer::start().await;
    wire(&server, &[("w1", "Oil steady")]);
    let hub = Subscriber::start().await;
    let dir = TestDir::new();
    let d = daemon(
        &server,
        &dir,
        &format!("hub = \"{}\"\nallow_private = true", hub.url("/hub")),
    )
    .await;
    let is_ping = |g: &Got| {
        let form: Vec<(String, String)> =
            url::form_urlencoded::parse(&g.body).into_owned().collect();
        form.contains(&("hub.mode".into(), "publish".into()))
            && form.contains(&("hub.url".into(), TOPIC.into()))
    };
    // The first publication of each topic.
    let first = hub.wait_for(Method::POST, |g| is_ping(g)).await;
    assert_eq!(
        first.header("content-type"),
        "application/x-www-form-urlencoded"
    );
    let atom = d.get("/feed.atom", &[]).await.text().await.unwrap();
    assert!(atom.contains(&format!("<link rel=\"hub\" href=\"{}\"/>", hub.url("/hub"))));

    let before = hub.got(Method::POST).iter().filter(|g| is_ping(g)).count();
    wire(
        &server,
        &[("w1", "Oil steady"), ("w2", "BP raises dividend")],
    );
    d.wait_for_entries(2).await;
    assert!(
        eventually(|| hub.got(Method::POST).iter().filter(|g| is_ping(g)).count() > before).await,
        "the change was announced"
    );
    let metrics = d.get("/metrics", &[]).await.text().await.unwrap();
    assert!(
        metrics.contains("tickerfeed_websub_pings_total{result=\"sent\"}"),
        "{metrics}"
    );
    d.stop().await;
}

/// The real binary polling the wire every second, with `websub` as its
/// `[websub]` section; reloaded with [`reload_websub`].
fn running_with(server: &FeedServer, dir: &TestDir, websub: &str) -> (Running, String) {
    write_websub(server, dir, websub);
    let mut d = Running::start(dir);
    let addr = d.wait_for_listen();
    (d, format!("http://{addr}"))
}

fn write_websub(server: &FeedServer, dir: &TestDir, websub: &str) {
    let feeds = feed_block(
        "wire",
        &server.url("/wire.xml"),
        "schedule = \"* * * * * *\"",
    );
    dir.write_config_only(&format!("{feeds}\n[websub]\n{websub}\n"));
}

/// Rewrites `[websub]` and reloads: returns once the reload is done.
fn reload_websub(d: &mut Running, server: &FeedServer, dir: &TestDir, websub: &str) {
    write_websub(server, dir, websub);
    d.signal("HUP");
    // Said after what the reload does with `[websub]`.
    d.wait_for("config reloaded");
}

/// A form POSTed to `/websub` of the daemon at `base`.
async fn post_form(base: &str, form: &[(&str, &str)]) -> reqwest::Response {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    reqwest::Client::new()
        .post(format!("{base}/websub"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap()
}

async fn atom(base: &str) -> String {
    reqwest::get(format!("{base}/feed.atom"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// `serve_hub` turned on by a reload: the feeds name the hub, `POST
/// /websub` takes subscriptions, changes are pushed. Turned off: the feeds
/// stop naming it, `/websub` says it is no hub, nothing is pushed, and the
/// subscription and the push still waiting stay in the archive; turned on
/// again, that push goes out with the newest document. No restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_turns_our_hub_on_and_off_and_keeps_what_waits() {
    let server = FeedServer::start().await;
    wire(&server, &[("w1", "Oil steady")]);
    let sub = Subscriber::start().await;
    let dir = TestDir::new();
    let (mut d, base) = running_with(&server, &dir, "allow_private = true");
    let hub_link = format!("<link rel=\"hub\" href=\"{BASE}websub\"/>");
    assert!(!atom(&base).await.contains("rel=\"hub\""));
    let form = [
        ("hub.mode", "subscribe"),
        ("hub.topic", TOPIC),
        ("hub.callback", &sub.url("/cb")),
        ("hub.lease_seconds", "3600"),
        ("hub.secret", SECRET),
    ];
    assert_eq!(post_form(&base, &form).await.status(), 404);

    reload_websub(&mut d, &server, &dir, OWN_HUB);
    assert!(atom(&base).await.contains(&hub_link));
    assert_eq!(post_form(&base, &form).await.status(), 202);
    wait_for_subscriptions(&dir, 1).await;
    wire(
        &server,
        &[("w1", "Oil steady"), ("w2", "BP raises dividend")],
    );
    wait_for_push(&sub, "BP raises dividend").await;

    // The subscriber is down: the push for w3 waits in the archive.
    sub.state.lock().unwrap().fail_posts = usize::MAX;
    wire(
        &server,
        &[
            ("w1", "Oil steady"),
            ("w2", "BP raises dividend"),
            ("w3", "Shell sells"),
        ],
    );
    sub.wait_for(Method::POST, |g| g.text().contains("Shell sells"))
        .await;
    reload_websub(&mut d, &server, &dir, "allow_private = true");
    assert!(!atom(&base).await.contains("rel=\"hub\""));
    assert_eq!(post_form(&base, &form).await.status(), 404);
    let posts = sub.got(Method::POST).len();
    sub.state.lock().unwrap().fail_posts = 0;
    wire(
        &server,
        &[
            ("w1", "Oil steady"),
            ("w2", "BP raises dividend"),
            ("w3", "Shell sells"),
            ("w4", "Gas falls"),
        ],
    );
    assert!(
        eventually(|| dir.count("SELECT count(*) FROM items WHERE title = 'Gas falls'") == 1).await
    );
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(sub.got(Method::POST).len(), posts, "pushed while off");
    assert_eq!(subscriptions(&dir), 1, "the subscription is kept");
    assert_eq!(
        dir.count("SELECT count(*) FROM websub_deliveries"),
        1,
        "the push waiting is kept"
    );

    reload_websub(&mut d, &server, &dir, OWN_HUB);
    assert!(atom(&base).await.contains(&hub_link));
    let push = wait_for_push(&sub, "Gas falls").await;
    assert!(push.text().contains("Shell sells"));
    assert!(eventually(|| dir.count("SELECT count(*) FROM websub_deliveries") == 0).await);

    d.stop_with_nothing_waiting();
}

/// An external hub named by a reload is advertised and pinged when a
/// feed changes; a `max_subscriptions` lowered by a reload is what our
/// hub holds to from then on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_applies_the_hub_settings() {
    let server = FeedServer::start().await;
    wire(&server, &[("w1", "Oil steady")]);
    let sub = Subscriber::start().await;
    let dir = TestDir::new();
    let (mut d, base) = running_with(&server, &dir, OWN_HUB);
    let subscribe_at = |path: &str| {
        let callback = sub.url(path);
        let base = base.clone();
        async move {
            post_form(
                &base,
                &[
                    ("hub.mode", "subscribe"),
                    ("hub.topic", TOPIC),
                    ("hub.callback", &callback),
                ],
            )
            .await
            .status()
        }
    };
    assert_eq!(subscribe_at("/first").await, 202);
    wait_for_subscriptions(&dir, 1).await;

    reload_websub(
        &mut d,
        &server,
        &dir,
        &format!("{OWN_HUB}\nmax_subscriptions = 1"),
    );
    assert_eq!(subscribe_at("/second").await, 202);
    sub.wait_for(Method::GET, |g| {
        g.param("hub.mode") == Some("denied") && g.param("hub.reason").is_some()
    })
    .await;
    assert_eq!(subscriptions(&dir), 1);

    let hub = Subscriber::start().await;
    reload_websub(
        &mut d,
        &server,
        &dir,
        &format!("hub = \"{}\"\nallow_private = true", hub.url("/hub")),
    );
    assert!(
        atom(&base)
            .await
            .contains(&format!("<link rel=\"hub\" href=\"{}\"/>", hub.url("/hub")))
    );
    wire(
        &server,
        &[("w1", "Oil steady"), ("w2", "BP raises dividend")],
    );
    // Each served feed that changed is pinged about, in no set order.
    let ping = hub
        .wait_for(Method::POST, |g| {
            url::form_urlencoded::parse(&g.body).any(|(k, v)| k == "hub.url" && v == TOPIC)
        })
        .await;
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&ping.body)
        .into_owned()
        .collect();
    assert!(
        form.contains(&("hub.mode".into(), "publish".into())),
        "{form:?}"
    );

    d.signal("TERM");
    assert_eq!(d.wait_exit(), 0, "{}", d.log.join("\n"));
}
