//! Test harness: a scriptable feed server on 127.0.0.1:0, a temp dir with a
//! real config and SQLite archive, and ways to run the pipeline in-process
//! or the real binary as a child process.

#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use axum::response::Response;
use chrono::{DateTime, Utc};
use tickerfeed::clock::{FixedClock, SharedClock};
use tickerfeed::config::Config;

/// One scripted answer.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Answer 304 when the request's If-None-Match equals this.
    pub etag: Option<String>,
    pub delay: Duration,
    /// Send the body one byte at a time, this far apart.
    pub drip: Option<Duration>,
    /// Held until the server has seen a request for this path (at most
    /// 30 s): proves two requests were under way at once.
    pub after: Option<String>,
}

impl Reply {
    pub fn feed(body: impl Into<Vec<u8>>) -> Self {
        Reply {
            status: 200,
            headers: vec![("content-type".into(), "application/rss+xml".into())],
            body: body.into(),
            etag: None,
            delay: Duration::ZERO,
            drip: None,
            after: None,
        }
    }

    pub fn status(status: u16) -> Self {
        Reply {
            status,
            headers: vec![],
            body: format!("status {status}").into_bytes(),
            etag: None,
            delay: Duration::ZERO,
            drip: None,
            after: None,
        }
    }

    pub fn with_etag(mut self, etag: &str) -> Self {
        self.etag = Some(etag.into());
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn dripping(mut self, every: Duration) -> Self {
        self.drip = Some(every);
        self
    }

    /// A redirect to `to`.
    pub fn redirect(status: u16, to: &str) -> Self {
        Reply::status(status).header("location", to)
    }

    pub fn delayed(mut self, d: Duration) -> Self {
        self.delay = d;
        self
    }

    /// Answered only once the server has seen a request for `path`.
    pub fn after(mut self, path: &str) -> Self {
        self.after = Some(path.into());
        self
    }
}

/// A request the server saw.
#[derive(Clone, Debug)]
pub struct Seen {
    pub at: std::time::Instant,
    pub method: Method,
    pub path: String,
    /// Path and query.
    pub uri: String,
    /// The client's address: the same port means the same connection.
    pub peer: Option<SocketAddr>,
    pub headers: HeaderMap,
}

#[derive(Default)]
struct Script {
    /// Per path: replies in order; the last one repeats.
    replies: HashMap<String, VecDeque<Reply>>,
    seen: Vec<Seen>,
    in_flight: usize,
    max_in_flight: usize,
}

/// A loopback HTTP server serving scripted replies.
#[derive(Clone)]
pub struct FeedServer {
    pub addr: SocketAddr,
    script: Arc<Mutex<Script>>,
}

impl FeedServer {
    pub async fn start() -> Self {
        let script: Arc<Mutex<Script>> = Arc::default();
        let s = Arc::clone(&script);
        let app = Router::new().fallback(move |req: Request<Body>| {
            let s = Arc::clone(&s);
            async move { answer(&s, req).await }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await
            .unwrap();
        });
        FeedServer { addr, script }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Replaces the script for `path` with one reply, repeated.
    pub fn set(&self, path: &str, reply: Reply) {
        self.set_sequence(path, vec![reply]);
    }

    pub fn set_sequence(&self, path: &str, replies: Vec<Reply>) {
        self.script
            .lock()
            .unwrap()
            .replies
            .insert(path.into(), replies.into());
    }

    /// The most requests the server was answering at once.
    pub fn max_in_flight(&self) -> usize {
        self.script.lock().unwrap().max_in_flight
    }

    /// Every request, in order.
    pub fn seen_all(&self) -> Vec<Seen> {
        self.script.lock().unwrap().seen.clone()
    }

    pub fn seen(&self, path: &str) -> Vec<Seen> {
        self.script
            .lock()
            .unwrap()
            .seen
            .iter()
            .filter(|s| s.path == path)
            .cloned()
            .collect()
    }
}

async fn answer(script: &Mutex<Script>, req: Request<Body>) -> Response {
    let path = req.uri().path().to_string();
    let full = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    let reply = {
        let mut s = script.lock().unwrap();
        s.in_flight += 1;
        s.max_in_flight = s.max_in_flight.max(s.in_flight);
        s.seen.push(Seen {
            at: std::time::Instant::now(),
            method: req.method().clone(),
            path: path.clone(),
            uri: req.uri().to_string(),
            headers: req.headers().clone(),
            peer: req
                .extensions()
                .get::<axum::extract::ConnectInfo<SocketAddr>>()
                .map(|c| c.0),
        });
        // A script for the exact path and query wins over one for the path.
        let key = if s.replies.contains_key(&full) {
            full
        } else {
            path.clone()
        };
        match s.replies.get_mut(&key) {
            Some(q) if q.len() > 1 => q.pop_front(),
            Some(q) => q.front().cloned(),
            None => None,
        }
    };
    let Some(reply) = reply else {
        script.lock().unwrap().in_flight -= 1;
        return Response::builder()
            .status(404)
            .body(Body::from("no such feed"))
            .unwrap();
    };
    if let Some(path) = &reply.after {
        let seen = || script.lock().unwrap().seen.iter().any(|s| &s.path == path);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while !seen() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    tokio::time::sleep(reply.delay).await;
    script.lock().unwrap().in_flight -= 1;
    let matches = reply.etag.as_deref().is_some_and(|e| {
        req.headers()
            .get("if-none-match")
            .and_then(|v| v.to_str().ok())
            == Some(e)
    });
    let mut b = Response::builder().status(if matches { 304 } else { reply.status });
    for (n, v) in &reply.headers {
        b = b.header(n.as_str(), v.as_str());
    }
    if let Some(e) = &reply.etag {
        b = b.header("etag", e.as_str());
    }
    let body = if matches { Vec::new() } else { reply.body };
    let body = match reply.drip {
        None => Body::from(body),
        Some(every) => Body::from_stream(futures_util::stream::unfold(0usize, move |i| {
            let byte = body.get(i).copied();
            async move {
                let byte = byte?;
                tokio::time::sleep(every).await;
                Some((Ok::<_, std::io::Error>(vec![byte]), i + 1))
            }
        })),
    };
    b.body(body).unwrap_or_else(|_| {
        Response::builder()
            .status(StatusCode::INTERNAL_SERVER_ERROR)
            .body(Body::empty())
            .unwrap()
    })
}

/// An RSS 2.0 document with the given `(guid, title, link, pubDate)` items.
pub fn rss(title: &str, items: &[(&str, &str, &str)]) -> String {
    let mut s = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<rss version=\"2.0\"><channel><title>{title}</title><link>https://example.com/</link><description>test</description>\n"
    );
    for (i, (guid, title, link)) in items.iter().enumerate() {
        s.push_str("<item>");
        if !guid.is_empty() {
            s.push_str(&format!("<guid>{guid}</guid>"));
        }
        s.push_str(&format!("<title>{title}</title>"));
        if !link.is_empty() {
            s.push_str(&format!("<link>{link}</link>"));
        }
        s.push_str(&format!(
            "<pubDate>Mon, 23 Nov 2026 {:02}:00:00 GMT</pubDate><description>About {title}</description></item>\n",
            10 + i
        ));
    }
    s.push_str("</channel></rss>\n");
    s
}

/// An RSS 2.0 document titled "T" of `n` items: guid `g<i>`, link
/// `https://t.test/<i>`, title `title_of(i)`.
pub fn rss_of(n: usize, title_of: impl Fn(usize) -> String) -> String {
    let items: Vec<(String, String, String)> = (0..n)
        .map(|i| (format!("g{i}"), title_of(i), format!("https://t.test/{i}")))
        .collect();
    let refs: Vec<(&str, &str, &str)> = items
        .iter()
        .map(|(g, t, l)| (g.as_str(), t.as_str(), l.as_str()))
        .collect();
    rss("T", &refs)
}

/// Three tanker stories for search snippets: "tanker" in one's title (it
/// has a summary too), in one's title alone (no summary), and in one's
/// summary alone.
pub const TANKERS_FEED: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Tankers</title><link>https://t.test/</link><description>d</description>
<item><guid>t1</guid><title>Tanker rates jump as Gulf lanes reopen</title><link>https://t.test/1</link><pubDate>Mon, 23 Nov 2026 08:00:00 GMT</pubDate><description>Charterers paid record day rates on Monday.</description></item>
<item><guid>t2</guid><title>Tanker quiet week</title><link>https://t.test/2</link><pubDate>Mon, 23 Nov 2026 09:00:00 GMT</pubDate></item>
<item><guid>t3</guid><title>Harbour notes</title><link>https://t.test/3</link><pubDate>Mon, 23 Nov 2026 10:00:00 GMT</pubDate><description>A tanker berthed late after fog.</description></item>
</channel></rss>"#;

/// A `[market]` whose provider (finnhub, its key `PATH`'s value) is at a
/// loopback port nothing listens on, and that port. AAPL is mentioned by
/// "Apple Inc.".
pub fn market_down() -> (String, u16) {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let market = format!(
        "[market]\nprovider = \"finnhub\"\nbase_url = \"http://127.0.0.1:{closed}/\"\n\
         api_key_env = \"PATH\"\nsymbols = [{{ symbol = \"AAPL\", names = [\"Apple Inc.\"] }}]\n"
    );
    (market, closed)
}

/// A temp dir holding a config and (after a run) the archive.
pub struct TestDir {
    pub dir: tempfile::TempDir,
}

impl TestDir {
    pub fn new() -> Self {
        TestDir {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("config.toml")
    }

    pub fn db_path(&self) -> PathBuf {
        self.dir.path().join("data/tickerfeed.db")
    }

    /// Writes `config.toml` with the given `[[feeds]]` block appended to a
    /// base that listens on port 0.
    pub fn write_config(&self, feeds: &str) -> Config {
        self.write_config_only(feeds);
        Config::load(&self.config_path()).expect("test config loads")
    }

    /// Writes the config without loading it (for configs that need
    /// environment the test process does not have).
    pub fn write_config_only(&self, feeds: &str) {
        let text = format!(
            "[server]\nlisten = \"127.0.0.1:0\"\nbase_url = \"http://feeds.test/\"\n[output]\ntitle = \"Merged\"\nmax_items = 50\n[fetch]\ntimeout_secs = 5\n{feeds}"
        );
        std::fs::write(self.config_path(), text).unwrap();
    }

    /// Opens the archive as an analyst would.
    pub fn db(&self) -> rusqlite::Connection {
        rusqlite::Connection::open_with_flags(
            self.db_path(),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .unwrap()
    }

    /// SQLite's `PRAGMA integrity_check` of the archive: `ok` when whole.
    pub fn integrity(&self) -> String {
        self.db()
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap()
    }

    pub fn count(&self, sql: &str) -> i64 {
        self.db().query_row(sql, [], |r| r.get(0)).unwrap()
    }

    /// Every archived item's title, in archive order.
    pub fn titles(&self) -> Vec<String> {
        self.column("SELECT title FROM items ORDER BY id")
    }

    /// The first column of every row `sql` selects.
    pub fn column<T: rusqlite::types::FromSql>(&self, sql: &str) -> Vec<T> {
        self.db()
            .prepare(sql)
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }
}

/// Waits (10 s at most) until `done` holds; whether it did.
pub async fn eventually(done: impl Fn() -> bool) -> bool {
    for _ in 0..200 {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    done()
}

pub fn feed_block(name: &str, url: &str, extra: &str) -> String {
    format!("[[feeds]]\nname = \"{name}\"\nurl = \"{url}\"\n{extra}\n")
}

pub fn fixed_clock(at: &str) -> (FixedClock, SharedClock) {
    let t: DateTime<Utc> = DateTime::parse_from_rfc3339(at)
        .unwrap()
        .with_timezone(&Utc);
    let c = FixedClock::new(t);
    (c.clone(), Arc::new(c))
}

/// One `poll` pass in-process, like `tickerfeed poll`.
pub async fn poll(
    config: &Config,
    clock: SharedClock,
) -> Vec<(String, tickerfeed::pipeline::Refreshed)> {
    let opened = tickerfeed::app::open(config, clock).await.unwrap();
    tickerfeed::scheduler::poll_once(&opened.pipeline, opened.feeds, 4)
        .await
        .into_iter()
        .map(|(n, r)| (n, r.unwrap()))
        .collect()
}

/// The real binary.
pub fn bin() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_tickerfeed"))
}

/// Runs the real binary with `dir`'s config and `args`, off the async
/// threads (a loopback server in the test must keep answering): its exit
/// code (-1 when killed by a signal), stdout and stderr.
pub async fn cli(dir: &TestDir, args: &[&str]) -> (i32, String, String) {
    cli_with_env(dir, args, &[]).await
}

/// [`cli`] with `env` set for the binary.
pub async fn cli_with_env(
    dir: &TestDir,
    args: &[&str],
    env: &[(&str, &std::ffi::OsStr)],
) -> (i32, String, String) {
    let cfg = dir.config_path();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let env: Vec<(String, std::ffi::OsString)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_os_string()))
        .collect();
    tokio::task::spawn_blocking(move || {
        let out = bin()
            .arg("--config")
            .arg(&cfg)
            .args(&args)
            .envs(env)
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    })
    .await
    .unwrap()
}
