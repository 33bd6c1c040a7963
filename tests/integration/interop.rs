//! Interoperability: the real daemon, fed by loopback feeds and a Yahoo
//! board replayed on loopback, read by software we did not write (xmllint,
//! Python feedparser, Newsboat, feed-rs) and checked against the JSON Feed
//! 1.1 rules. The merged feed, a tag feed and two views (issue 16) are
//! checked alike: a view promises what the merged feed promises.
//!
//! Every test starts the binary once on `127.0.0.1:0` and waits until the
//! first polls have landed. The tests need outside tools, so they are
//! `#[ignore]`d: `.ci/run` installs the tools and runs `cargo test --
//! --ignored`. The Python helpers live in `tests/interop/`.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::process::Running;
use crate::util::*;

const AAPL: &str = include_str!("../fixtures/quotes/yahoo/chart_AAPL_range5d.json");
const VOD: &str = include_str!("../fixtures/quotes/yahoo/chart_VOD.L_pence.json");
/// What the fixtures above price, as tickerfeed writes it (VOD.L's pence
/// become pounds).
const AAPL_PRICE: &str = "328.879";
const VOD_PRICE: &str = "1.1575";

/// Unique articles across the three feeds: one is carried by all three.
const ALL: usize = 6;
/// Articles from the feeds tagged `business` (`biz` and `tech`).
const BUSINESS: usize = 4;

/// Where the Python helpers live.
const INTEROP: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop");

/// The story every feed carries: the same URL-like guid in two RSS feeds,
/// and the same canonical link (plus tracking noise) in the Atom feed. The
/// other items bring what readers trip over: escaped markup in titles,
/// non-ASCII text, a script to sanitise, relative links, an author.
const SHARED: &str = "https://news.test/markets/rally";

/// An RSS 2.0 feed: `(guid, title, link, RFC 822 date, description)`.
fn rss_feed(title: &str, items: &[(&str, &str, &str, &str, &str)]) -> String {
    let mut s = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<rss version=\"2.0\"><channel><title>{title}</title><link>https://news.test/</link><description>{title} news</description>\n"
    );
    for (guid, title, link, date, description) in items {
        s.push_str(&format!(
            "<item><guid>{guid}</guid><title>{title}</title><link>{link}</link><pubDate>{date}</pubDate><description>{description}</description></item>\n"
        ));
    }
    s.push_str("</channel></rss>\n");
    s
}

fn world_feed() -> String {
    rss_feed(
        "World",
        &[
            (
                SHARED,
                "Markets rally as $AAPL leads",
                SHARED,
                "Mon, 02 Jun 2025 09:00:00 GMT",
                "&lt;p&gt;Stocks rose &amp;amp; bonds fell.&lt;/p&gt;&lt;pre&gt;FTSE 100    8,123.45   +0.62%    DAX    18,456.12   +0.41%    CAC 40    7,512.30   -0.12%    Nikkei 225    38,912.44   +1.05%&lt;/pre&gt;",
            ),
            (
                "world-2",
                "Café owners in Zürich – “smart” quotes &amp; ümlauts",
                "https://world.test/2",
                "Mon, 02 Jun 2025 08:00:00 GMT",
                "&lt;p&gt;Crème brûlée ☕ &lt;script&gt;alert(1)&lt;/script&gt;&lt;/p&gt;",
            ),
            (
                "world-3",
                "Storm warning for the coast",
                "https://world.test/3",
                "Sun, 01 Jun 2025 18:00:00 GMT",
                "Plain text, no markup.",
            ),
        ],
    )
}

fn biz_feed() -> String {
    rss_feed(
        "Business",
        &[
            (
                SHARED,
                "Markets rally as $AAPL leads",
                SHARED,
                "Mon, 02 Jun 2025 09:00:00 GMT",
                "&lt;p&gt;Stocks rose &amp;amp; bonds fell.&lt;/p&gt;&lt;pre&gt;FTSE 100    8,123.45   +0.62%    DAX    18,456.12   +0.41%    CAC 40    7,512.30   -0.12%    Nikkei 225    38,912.44   +1.05%&lt;/pre&gt;",
            ),
            (
                "biz-2",
                "Vodafone cuts prices",
                "https://biz.test/2",
                "Mon, 02 Jun 2025 07:30:00 GMT",
                "&lt;p&gt;See &lt;a href=\"/deals\"&gt;the deals&lt;/a&gt;.&lt;/p&gt;",
            ),
            (
                "biz-3",
                "Q&amp;A: what earnings season means",
                "https://biz.test/3",
                "Sun, 01 Jun 2025 12:00:00 GMT",
                "Questions &amp;amp; answers.",
            ),
        ],
    )
}

fn tech_feed() -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>Tech</title>
  <id>urn:uuid:6f1c1d9e-7d1a-4a4e-9d43-6a3f4d0b7c10</id>
  <updated>2025-06-02T09:10:00Z</updated>
  <link rel="alternate" href="https://tech.test/"/>
  <entry>
    <title>Markets rally as $AAPL leads</title>
    <id>urn:tech:rally</id>
    <link href="{SHARED}?utm_source=tech&amp;utm_medium=feed"/>
    <published>2025-06-02T09:05:00Z</published>
    <updated>2025-06-02T09:05:00Z</updated>
    <summary>Stocks rose.</summary>
  </entry>
  <entry>
    <title type="html">Apple Inc. ships &lt;em&gt;a thing&lt;/em&gt;</title>
    <id>urn:tech:2</id>
    <link href="https://tech.test/2"/>
    <published>2025-06-01T09:00:00Z</published>
    <updated>2025-06-01T09:00:00Z</updated>
    <author><name>Ada</name></author>
    <content type="html">&lt;p&gt;Read &lt;a href="/more"&gt;more&lt;/a&gt;&lt;/p&gt;</content>
  </entry>
</feed>
"#
    )
}

/// Two views over the fixtures (issue 16), each a criterion plus a rule,
/// each selecting fewer articles than the merged feed and the business
/// tag feed, so a view that served either would show too many.
pub(crate) const VIEWS: &str = r#"
[[views]]
name = "business-desk"
title = "Business desk"
tags = ["business"]
exclude = [{ title = '(?i)\brally\b' }]

[[views]]
name = "world-desk"
title = "World desk"
query = "café OR storm OR vodafone"
exclude = [{ url = '^https://biz\.test/' }]
"#;

/// What each view of [`VIEWS`] selects: its name, its title and the titles
/// of its articles, newest first, as the merged JSON Feed writes them.
/// `business-desk` is the business tag feed without the story every feed
/// carries; `world-desk` finds "Café" (accent and all), "Storm" and
/// "Vodafone", and its rule drops the Vodafone story from biz.test.
const VIEW_ARTICLES: [(&str, &str, &[&str]); 2] = [
    (
        "business-desk",
        "Business desk",
        &[
            "Vodafone cuts prices",
            "Q&A: what earnings season means",
            "Apple Inc. ships a thing",
        ],
    ),
    (
        "world-desk",
        "World desk",
        &[
            "Café owners in Zürich – “smart” quotes & ümlauts",
            "Storm warning for the coast",
        ],
    ),
];

/// The daemon, its loopback feeds and its temp dir, stopped on drop. The
/// browser proof (`web`) serves its pages from the same daemon.
pub(crate) struct Interop {
    /// `http://127.0.0.1:<port>`, where the daemon listens.
    base: String,
    dir: TestDir,
    daemon: Running,
    _server: FeedServer,
}

impl Interop {
    /// Starts the binary on three feeds (two tagged `business`) and a Yahoo
    /// board, and waits until every article is in the merged feed.
    /// `max_items` is the page size.
    pub(crate) async fn start(max_items: usize) -> Interop {
        Interop::start_with(max_items, "").await
    }

    /// [`Interop::start`] with more config at the end of the file, such as
    /// [`VIEWS`].
    pub(crate) async fn start_with(max_items: usize, extra: &str) -> Interop {
        let server = FeedServer::start().await;
        let json = |body: &str| Reply::feed(body).header("content-type", "application/json");
        server.set("/v8/finance/chart/AAPL", json(AAPL));
        server.set("/v8/finance/chart/VOD.L", json(VOD));
        server.set("/world.xml", Reply::feed(world_feed()));
        server.set("/biz.xml", Reply::feed(biz_feed()));
        server.set(
            "/tech.atom",
            Reply::feed(tech_feed()).header("content-type", "application/atom+xml"),
        );
        let dir = TestDir::new();
        let config = format!(
            r#"[server]
listen = "127.0.0.1:0"
base_url = "http://feeds.test/"
[output]
title = "Interop"
description = "tickerfeed under outside readers"
max_items = {max_items}
[fetch]
timeout_secs = 5
per_host_spacing_ms = 50
{}{}{}
[market]
label = "NASDAQ - LSE"
provider = "yahoo"
schedule = "*/5 * * * *"
base_url = "{}"
symbols = [
  {{ symbol = "AAPL", name = "Apple", names = ["Apple Inc."] }},
  {{ symbol = "VOD", provider_symbol = "VOD.L", names = ["Vodafone"] }},
]
"#,
            feed_block("world", &server.url("/world.xml"), "tags = [\"world\"]"),
            feed_block("biz", &server.url("/biz.xml"), "tags = [\"business\"]"),
            feed_block("tech", &server.url("/tech.atom"), "tags = [\"business\"]"),
            server.url(""),
        );
        let config = format!("{config}{extra}");
        std::fs::write(dir.config_path(), config).unwrap();

        // Archive a board first: the daemon seeds from it at start, so
        // the first polls are stamped with quotes whichever task runs first.
        let config_path = dir.config_path();
        let out = tokio::task::spawn_blocking(move || {
            bin()
                .arg("--config")
                .arg(config_path)
                .arg("quotes")
                .env_remove("RUST_LOG")
                .output()
                .unwrap()
        })
        .await
        .unwrap();
        let printed = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && printed.contains(AAPL_PRICE),
            "tickerfeed quotes: {printed}{}",
            String::from_utf8_lossy(&out.stderr)
        );

        let mut daemon = Running::start_with(&dir, &[]);
        let listen = tokio::task::block_in_place(|| daemon.wait_for_listen());
        let interop = Interop {
            base: format!("http://{listen}"),
            dir,
            daemon,
            _server: server,
        };
        interop.wait_for_items(ALL).await;
        interop
    }

    /// The daemon's archive.
    pub(crate) fn db_path(&self) -> std::path::PathBuf {
        self.dir.db_path()
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        let resp = reqwest::get(self.url(path)).await.unwrap();
        assert_eq!(resp.status(), 200, "GET {path}");
        resp
    }

    async fn text(&self, path: &str) -> String {
        self.get(path).await.text().await.unwrap()
    }

    /// Waits until the archive holds `n` items. Every feed carries an
    /// article only it has, so by then all three first polls have landed.
    async fn wait_for_items(&self, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let health: Value = serde_json::from_str(&self.text("/healthz").await).unwrap();
            if health["items"].as_u64() == Some(n as u64) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the archive never reached {n} items: {health}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The daemon's counter `tickerfeed_http_requests_total` for a route
    /// and status, 0 when it has no sample yet.
    async fn requests(&self, route: &str, status: u16) -> u64 {
        self.counter(&format!(
            "tickerfeed_http_requests_total{{route=\"{route}\",status=\"{status}\"}}"
        ))
        .await
    }

    /// How many times the daemon has rendered a document of a view
    /// (`tickerfeed_view_renders_total`), 0 before the first.
    async fn view_renders(&self, view: &str) -> u64 {
        self.counter(&format!("tickerfeed_view_renders_total{{view=\"{view}\"}}"))
            .await
    }

    /// A counter's sample from `/metrics`, 0 when it has none yet.
    async fn counter(&self, sample: &str) -> u64 {
        let metrics = self.text("/metrics").await;
        let name = format!("{sample} ");
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(&name))
            .map_or(0, |v| v.trim().parse().unwrap())
    }

    /// The articles of a view's JSON Feed once it shows `n`: a view with a
    /// `query` sees items once they are indexed for search, which the
    /// store does in batches, a moment after `/healthz` counts them.
    async fn view_articles(&self, name: &str, n: usize) -> Vec<Article> {
        let path = format!("/views/{name}.json");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let got = articles(self, &path).await;
            if got.len() == n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "{path} never showed {n} items; it shows {got:#?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Reloads the config with SIGHUP and waits until the daemon has taken
    /// it. A reload empties the daemon's cache of rendered documents, so
    /// the next request for a feed renders it again from the archive.
    fn reload(&mut self) {
        self.daemon.signal("HUP");
        self.daemon.wait_for("config reloaded");
    }
}

/// Runs a helper script from `tests/interop` with `python3`; returns its
/// JSON report, failing with the report when the script found problems.
fn python(script: &str, args: &[&str]) -> Value {
    let out = Command::new("python3")
        .arg(Path::new(INTEROP).join(script))
        .args(args)
        // Deprecations in the reader itself show up beside a failure.
        .env("PYTHONWARNINGS", "default")
        .output()
        .expect("python3 is installed");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !stderr.is_empty() {
        eprintln!("{script} {args:?} said:\n{stderr}");
    }
    assert!(
        out.status.success(),
        "{script} {args:?} failed:\n{stdout}\n{stderr}"
    );
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{script}: {e}:\n{stdout}\n{stderr}"))
}

/// One item of the merged feed, as the daemon's JSON Feed lists it.
#[derive(Debug, Clone)]
struct Article {
    id: String,
    title: String,
    url: String,
    /// `date_published` as a Unix time.
    published: i64,
}

/// The items of a JSON Feed document the daemon serves, newest first.
async fn articles(t: &Interop, path: &str) -> Vec<Article> {
    let feed: Value = serde_json::from_str(&t.text(path).await).unwrap();
    let field = |item: &Value, key: &str| item[key].as_str().unwrap().to_string();
    feed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| Article {
            id: field(item, "id"),
            title: field(item, "title"),
            url: field(item, "url"),
            published: chrono::DateTime::parse_from_rfc3339(&field(item, "date_published"))
                .unwrap()
                .timestamp(),
        })
        .collect()
}

/// The path of a link the daemon wrote: it writes its configured
/// `base_url`, `http://feeds.test/`, not the address it listens on.
pub(crate) fn served_path(url: &str) -> &str {
    if url.starts_with('/') {
        // Pages link within the site by path.
        return url;
    }
    url.strip_prefix("http://feeds.test")
        .unwrap_or_else(|| panic!("{url} is not under base_url"))
}

/// Runs `xmllint --relaxng` (RFC 4287 Appendix B grammar) on a document.
fn validate_atom(doc: &str) {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), doc).unwrap();
    let schema = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/schemas/atom.rng");
    let out = Command::new("xmllint")
        .args(["--noout", "--relaxng", schema])
        .arg(file.path())
        .output()
        .expect("xmllint is installed (Debian package libxml2-utils)");
    assert!(
        out.status.success(),
        "{}\n{doc}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs xmllint (Debian libxml2-utils); .ci/run installs it"]
async fn atom_pages_and_tag_feeds_with_snapshots_validate_against_rfc4287() {
    // Four entries a page, so the first page carries paging links too.
    let t = Interop::start(4).await;
    let first = t.text("/feed.atom").await;
    let feed = atom_syndication::Feed::read_from(first.as_bytes()).unwrap();
    let next = feed
        .links()
        .iter()
        .find(|l| l.rel() == "next")
        .expect("a first page of 4 out of 6 links to the next")
        .href()
        .to_string();
    let second = t.text(served_path(&next)).await;
    let tag = t.text("/tags/business.atom").await;
    for (doc, entries) in [(&first, 4), (&second, ALL - 4), (&tag, BUSINESS)] {
        assert_eq!(doc.matches("<entry>").count(), entries, "{doc}");
        // Every entry carries a snapshot, so the extension elements are
        // part of what the grammar accepts.
        assert_eq!(doc.matches("<tf:snapshot ").count(), entries, "{doc}");
        assert!(doc.contains("<tf:quote symbol=\"AAPL\""), "{doc}");
        tokio::task::block_in_place(|| validate_atom(doc));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs python3 with feedparser (pip install feedparser); .ci/run installs it"]
async fn feedparser_reads_atom_and_rss_with_their_snapshots() {
    let t = Interop::start(50).await;
    let all = articles(&t, "/feed.json").await;
    let business = articles(&t, "/tags/business.json").await;
    assert_eq!((all.len(), business.len()), (ALL, BUSINESS));
    for (path, json) in [
        ("/feed.atom", &all),
        ("/feed.rss", &all),
        ("/tags/business.atom", &business),
        ("/tags/business.rss", &business),
    ] {
        let report = feedparser_check(&t.url(path), json.len());
        // feedparser keeps one tf:quote per entry (the last); across the
        // feed both instruments show up, each at the fixture's price.
        let symbols: std::collections::BTreeSet<&str> = report["quotes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|q| q["symbol"].as_str().unwrap())
            .collect();
        assert_eq!(
            symbols.into_iter().collect::<Vec<_>>(),
            ["AAPL", "VOD"],
            "{report:#}"
        );
        assert_eq!(report["ticker_tags"], serde_json::json!(["AAPL", "VOD"]));
        // One article, one id and one title, whatever the format: the
        // escaping of `&`, `<` and non-ASCII text round-trips.
        assert_eq!(
            ids_and_titles(&report),
            ids_and_titles_of(json),
            "{path} read by feedparser and the JSON Feed differ"
        );
    }
}

/// Runs `feedparser_check.py` on a feed the daemon serves at `url`:
/// `entries` entries, each with a snapshot of the fixture board, served
/// gzipped, and a 304 when asked again with the validators. Returns the
/// report.
fn feedparser_check(url: &str, entries: usize) -> Value {
    let entries = entries.to_string();
    let aapl = format!("AAPL={AAPL_PRICE}");
    let vod = format!("VOD={VOD_PRICE}");
    let args = [
        url,
        "--entries",
        &entries,
        "--label",
        "NASDAQ - LSE",
        "--quote",
        &aapl,
        "--quote",
        &vod,
        "--revalidate",
    ];
    let report = tokio::task::block_in_place(|| python("feedparser_check.py", &args));
    // feedparser asked for gzip, got it and decoded it.
    assert_eq!(report["content_encoding"], "gzip", "{report:#}");
    assert_eq!(report["revalidated_status"], 304, "{report:#}");
    report
}

/// `(id, title)` of each entry feedparser read, in document order.
fn ids_and_titles(report: &Value) -> Vec<(String, String)> {
    let strings = |key: &str| -> Vec<String> {
        serde_json::from_value(report[key].clone()).unwrap_or_else(|e| panic!("{key}: {e}"))
    };
    strings("ids").into_iter().zip(strings("titles")).collect()
}

/// `(id, title)` of each article of a JSON Feed, in document order.
fn ids_and_titles_of(articles: &[Article]) -> Vec<(String, String)> {
    articles
        .iter()
        .map(|a| (a.id.clone(), a.title.clone()))
        .collect()
}

/// A Newsboat profile in `dir` subscribed to `url`, with an empty config.
///
/// One URL per profile: Newsboat keeps one `rss_item` row per guid across
/// its whole cache, so an article in both `/feed.atom` and `/feed.rss`
/// (one id in every format, and in the tag feeds) ends up under whichever
/// feed was reloaded last. See: <https://github.com/newsboat/newsboat/issues/898>
struct Newsboat {
    dir: std::path::PathBuf,
    url: String,
}

impl Newsboat {
    fn new(root: &Path, url: String) -> Newsboat {
        let dir = root.join(url.rsplit('/').next().unwrap());
        std::fs::create_dir_all(dir.join("home")).unwrap();
        std::fs::write(dir.join("urls"), format!("{url}\n")).unwrap();
        std::fs::write(dir.join("config"), "").unwrap();
        Newsboat { dir, url }
    }

    /// `newsboat -x reload`: fetches the feed once, as a cron job would.
    fn reload(&self) {
        let home = self.dir.join("home");
        let out = Command::new("newsboat")
            .arg("-u")
            .arg(self.dir.join("urls"))
            .arg("-c")
            .arg(self.dir.join("cache.db"))
            .arg("-C")
            .arg(self.dir.join("config"))
            .arg("-l")
            .arg("4")
            .arg("-d")
            .arg(self.dir.join("newsboat.log"))
            .args(["-x", "reload"])
            .env("HOME", &home)
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .env("XDG_DATA_HOME", home.join(".local/share"))
            .env("XDG_CACHE_HOME", home.join(".cache"))
            .output()
            .expect("newsboat is installed (Debian package newsboat)");
        let log = std::fs::read_to_string(self.dir.join("newsboat.log")).unwrap_or_default();
        assert!(
            out.status.success(),
            "newsboat -x reload {}: {}{}\n{log}",
            self.url,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        // Log level 4 keeps warnings and worse: a clean read has none.
        let complaints: Vec<&str> = log
            .lines()
            .filter(|l| {
                ["] WARN:", "] ERROR:", "] CRITICAL:", "] USERERROR:"]
                    .iter()
                    .any(|k| l.contains(k))
            })
            .collect();
        assert!(
            complaints.is_empty(),
            "newsboat complained about {}:\n{log}",
            self.url
        );
    }

    /// Newsboat's cache: `(guid, feedurl, title, url, pubDate, deleted)`
    /// rows, newest first.
    fn items(&self) -> Vec<(String, String, String, String, i64, bool)> {
        let db = rusqlite::Connection::open_with_flags(
            self.dir.join("cache.db"),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .unwrap();
        db.prepare(
            "SELECT guid, feedurl, title, url, pubDate, deleted FROM rss_item ORDER BY pubDate DESC",
        )
        .unwrap()
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs newsboat (Debian newsboat); .ci/run installs it"]
async fn newsboat_keeps_every_article_once_and_revalidates_with_304() {
    let t = Interop::start(50).await;
    let root = tempfile::tempdir().unwrap();
    for (path, json, route, count) in [
        ("/feed.atom", "/feed.json", "/feed.atom", ALL),
        ("/feed.rss", "/feed.json", "/feed.rss", ALL),
        (
            "/tags/business.atom",
            "/tags/business.json",
            "/tags/{file}",
            BUSINESS,
        ),
    ] {
        let expected = articles(&t, json).await;
        assert_eq!(expected.len(), count, "{json}");
        let newsboat = Newsboat::new(root.path(), t.url(path));
        // Two reloads: Newsboat stores the validators it got on the first
        // reload only once the feed is in its cache, so the second may
        // still be a full GET; the third must be conditional.
        for _ in 0..2 {
            tokio::task::block_in_place(|| newsboat.reload());
        }
        let (ok, not_modified) = (t.requests(route, 200).await, t.requests(route, 304).await);
        tokio::task::block_in_place(|| newsboat.reload());
        assert_eq!(
            (t.requests(route, 200).await, t.requests(route, 304).await),
            (ok, not_modified + 1),
            "Newsboat's third reload of {path} was not answered 304"
        );

        let got = newsboat.items();
        let want: Vec<_> = expected
            .iter()
            .map(|a| {
                let (id, title, url) = (a.id.clone(), a.title.clone(), a.url.clone());
                (id, t.url(path), title, url, a.published, false)
            })
            .collect();
        assert_eq!(got, want, "Newsboat's cache for {path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs python3; .ci/run installs it"]
async fn json_feed_pages_follow_json_feed_1_1_and_feed_rs_reads_them() {
    // Four items a page: the first page has a next_url to follow.
    let t = Interop::start(4).await;
    let first = jsonfeed_check(&t.url("/feed.json"), "http://feeds.test/feed.json", 4);
    let next = first["next_url"].as_str().expect("a next_url after 4 of 6");
    // Every page names the feed itself as feed_url: JSON Feed 1.1 makes it
    // the feed's unique identifier.
    let second = jsonfeed_check(
        &t.url(served_path(next)),
        "http://feeds.test/feed.json",
        ALL - 4,
    );
    assert_eq!(second["next_url"], Value::Null, "{second:#}");
    let tag = jsonfeed_check(
        &t.url("/tags/business.json"),
        "http://feeds.test/tags/business.json",
        BUSINESS,
    );
    let mut ids: Vec<String> = [&first, &second]
        .iter()
        .flat_map(|r| serde_json::from_value::<Vec<String>>(r["ids"].clone()).unwrap())
        .collect();
    let pages = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(
        (pages, ids.len()),
        (ALL, ALL),
        "pages overlap or miss items"
    );
    for report in [&first, &second, &tag] {
        assert_eq!(report["markets"], report["items"], "{report:#}");
    }

    // feed-rs, a JSON Feed reader we did not write, sees the same items.
    for (url, report) in [
        (t.url("/feed.json"), &first),
        (t.url(served_path(next)), &second),
        (t.url("/tags/business.json"), &tag),
    ] {
        feed_rs_reads(&url, report).await;
    }
}

/// Runs `jsonfeed_check.py` on a JSON Feed the daemon serves at `url`:
/// the JSON Feed 1.1 rules, `items` items, `feed_url` as the feed's
/// identifier, and the fixture board's prices in every `_market`.
/// Returns the report.
fn jsonfeed_check(url: &str, feed_url: &str, items: usize) -> Value {
    let items = items.to_string();
    let aapl = format!("AAPL={AAPL_PRICE}");
    let vod = format!("VOD={VOD_PRICE}");
    let args = [
        url,
        "--items",
        &items,
        "--feed-url",
        feed_url,
        "--quote",
        &aapl,
        "--quote",
        &vod,
    ];
    tokio::task::block_in_place(|| python("jsonfeed_check.py", &args))
}

/// feed-rs, a JSON Feed reader we did not write, reads the document at
/// `url` with the ids `jsonfeed_check.py` reported, each item with a
/// title, a link and a date.
async fn feed_rs_reads(url: &str, report: &Value) {
    let body = reqwest::get(url).await.unwrap().bytes().await.unwrap();
    let feed = feed_rs::parser::parse(&body[..]).unwrap();
    assert_eq!(feed.feed_type, feed_rs::model::FeedType::JSON);
    let ids: Vec<&str> = feed.entries.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(serde_json::json!(ids), report["ids"], "{url}");
    for e in &feed.entries {
        assert!(
            e.title.is_some() && !e.links.is_empty() && e.published.is_some(),
            "{e:?}"
        );
    }
}

// Views (issue 16) make the merged feed's promises for each view: valid
// Atom, RSS and JSON Feed with the same ids. The same outside readers check
// them, on a daemon configured with [`VIEWS`].

/// Each view of [`VIEWS`] with its title and the articles it should serve,
/// newest first, taken from the merged feed: a view gives an article the
/// id the merged feed gives it, so a reader subscribed to both sees one
/// article. Waits until each view's JSON Feed serves exactly those.
async fn expected_views(t: &Interop) -> Vec<(&'static str, &'static str, Vec<Article>)> {
    let merged = articles(t, "/feed.json").await;
    assert_eq!(merged.len(), ALL);
    let mut views = Vec::new();
    for (name, title, titles) in VIEW_ARTICLES {
        let want: Vec<Article> = titles
            .iter()
            .map(|title| {
                merged
                    .iter()
                    .find(|a| a.title == *title)
                    .unwrap_or_else(|| panic!("no {title:?} in the merged feed: {merged:#?}"))
                    .clone()
            })
            .collect();
        let served = t.view_articles(name, want.len()).await;
        assert_eq!(
            ids_and_titles_of(&served),
            ids_and_titles_of(&want),
            "/views/{name}.json"
        );
        views.push((name, title, want));
    }
    views
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs xmllint (Debian libxml2-utils); .ci/run installs it"]
async fn view_atom_validates_against_rfc4287() {
    let t = Interop::start_with(50, VIEWS).await;
    for (name, title, want) in expected_views(&t).await {
        let path = format!("/views/{name}.atom");
        let doc = t.text(&path).await;
        assert_eq!(doc.matches("<entry>").count(), want.len(), "{doc}");
        // A view carries the snapshot like the merged feed, so the
        // extension elements are part of what the grammar accepts here too.
        assert_eq!(doc.matches("<tf:snapshot ").count(), want.len(), "{doc}");
        tokio::task::block_in_place(|| validate_atom(&doc));
        let feed = atom_syndication::Feed::read_from(doc.as_bytes()).unwrap();
        assert_eq!(feed.title().value, title, "{path}");
        let ids: Vec<&str> = feed.entries().iter().map(|e| e.id()).collect();
        let want: Vec<&str> = want.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(ids, want, "{path}: entry ids");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs python3 with feedparser (pip install feedparser); .ci/run installs it"]
async fn feedparser_reads_view_atom_and_rss_with_ids_stable_across_renders() {
    let mut t = Interop::start_with(50, VIEWS).await;
    let views = expected_views(&t).await;
    let mut first = Vec::new();
    for (name, title, want) in &views {
        for ext in ["atom", "rss"] {
            let path = format!("/views/{name}.{ext}");
            let report = feedparser_check(&t.url(&path), want.len());
            assert_eq!(report["title"], *title, "{report:#}");
            // The view's articles, with the merged feed's ids and titles:
            // the escaping of `&`, `<` and non-ASCII text round-trips.
            assert_eq!(
                ids_and_titles(&report),
                ids_and_titles_of(want),
                "{path} read by feedparser and the merged JSON Feed differ"
            );
            first.push((path, report));
        }
    }

    // Fetched twice from the daemon's memory, a document is the same bytes
    // by construction; a reload empties that cache, so the second fetch
    // reads each view rendered again from the archive.
    let mut renders = Vec::new();
    for (name, _, _) in &views {
        renders.push(t.view_renders(name).await);
    }
    tokio::task::block_in_place(|| t.reload());
    for (path, report) in &first {
        let again = feedparser_check(&t.url(path), report["entries"].as_u64().unwrap() as usize);
        assert_eq!(
            ids_and_titles(&again),
            ids_and_titles(report),
            "{path}: a second render changed what feedparser read"
        );
    }
    for ((name, _, _), before) in views.iter().zip(renders) {
        // Two formats each, at least: the second fetch was a new render.
        assert!(
            t.view_renders(name).await >= before + 2,
            "{name} was not rendered again after the reload"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs python3; .ci/run installs it"]
async fn view_json_feed_follows_json_feed_1_1_and_feed_rs_reads_it() {
    let t = Interop::start_with(50, VIEWS).await;
    for (name, title, want) in expected_views(&t).await {
        let url = t.url(&format!("/views/{name}.json"));
        // The view's own URL is its feed_url, not the merged feed's.
        let feed_url = format!("http://feeds.test/views/{name}.json");
        let report = jsonfeed_check(&url, &feed_url, want.len());
        assert_eq!(report["title"], title, "{report:#}");
        assert_eq!(report["next_url"], Value::Null, "{report:#}");
        // Every item carries the snapshot, as in the merged feed.
        assert_eq!(report["markets"], report["items"], "{report:#}");
        let ids: Vec<&str> = want.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(report["ids"], serde_json::json!(ids), "{report:#}");
        feed_rs_reads(&url, &report).await;
    }
}
