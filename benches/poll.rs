//! `cargo bench --bench poll`: how long one `tickerfeed poll` takes over N
//! generated feeds of M items, and what it costs in CPU, memory and disk.
//!
//! The bench owns everything outside the binary under test: it generates a
//! mixed RSS 2.0 / Atom 1.0 corpus (some articles shared across feeds under
//! the same link, so cross-feed dedup does real work), serves it from a
//! loopback HTTP server with ETags and gzip, writes a config into a temp
//! dir, and runs the *release binary* as a child process, exactly as a user
//! would: a first poll into an empty archive, then a re-poll where every
//! feed answers 304. Each run starts from a fresh archive; the report gives
//! medians with min and max.
//!
//! It measures a process, not a function, on purpose: start-up, opening
//! SQLite, the HTTP client, the async runtime and logging are part of what a
//! `poll` costs, and none of them would show up in an in-process loop.
//! Wall time comes from the bench's own clock; user and system CPU time and
//! peak RSS come from GNU time (`/usr/bin/time`, Debian package `time`),
//! because std has no `wait4` to read a child's rusage.
//!
//! Run without `--bench` (as `cargo test --benches` does) it becomes a smoke
//! test: a tiny corpus, one run, the same checks, no results file.
//!
//! Settings come from the environment (see bench/README.md):
//! `TF_BENCH_FEEDS` (200), `TF_BENCH_ITEMS` (50), `TF_BENCH_RUNS` (5),
//! `TF_BENCH_HOSTS` (one per feed), `TF_BENCH_CONCURRENCY` (16),
//! `TF_BENCH_GZIP` (1), `TF_BENCH_BIN` (the binary cargo built alongside
//! this bench), and `TF_BENCH_SERVE=1`, which only serves the corpus and
//! writes the config, for profiling by hand.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::get;
use chrono::{DateTime, TimeZone, Utc};

/// The issue's targets, for a 200 x 50 corpus on a 2-core machine.
const TARGET_FIRST_S: f64 = 0.4;
const TARGET_REPOLL_S: f64 = 0.1;

/// GNU time; `%e %U %S %M` is wall, user, system (seconds) and peak RSS (KiB).
const GNU_TIME: &str = "/usr/bin/time";

fn main() {
    // cargo bench passes --bench; cargo test --benches passes nothing.
    let bench_mode = std::env::args().any(|a| a == "--bench");
    let settings = Settings::from_env(bench_mode);
    let bin = tickerfeed_binary();
    assert!(
        bin.is_file(),
        "no tickerfeed binary at {} (build it with `cargo build --release`)",
        bin.display()
    );

    // One listening port per "host": tickerfeed limits requests per host
    // and port, and 200 real feeds come from many hosts, not one.
    let listeners: Vec<std::net::TcpListener> = (0..settings.hosts)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("bind the feed server"))
        .collect();
    let addrs: Vec<SocketAddr> = listeners
        .iter()
        .map(|l| l.local_addr().expect("feed server address"))
        .collect();
    let corpus = Arc::new(Corpus::generate(&settings, &addrs));
    let server = FeedServer::start(listeners, Arc::clone(&corpus), settings.gzip);

    if settings.serve_only {
        serve_for_profiling(&settings, &corpus);
        return;
    }

    let machine = Machine::describe();
    eprintln!(
        "poll bench: {} feeds x {} items ({} KiB of feeds), concurrency {}, gzip {}, {} run(s); binary {}",
        settings.feeds,
        settings.items,
        corpus.raw_bytes / 1024,
        settings.concurrency,
        if settings.gzip { "on" } else { "off" },
        settings.runs,
        bin.display()
    );

    let mut runs = Vec::new();
    for run in 1..=settings.runs {
        let r = run_once(&settings, &corpus, &server, &bin);
        eprintln!(
            "  run {run}/{}: first poll {:.3} s, re-poll {:.3} s",
            settings.runs, r.first.wall_s, r.repoll.wall_s
        );
        runs.push(r);
    }

    let report = Report {
        settings: &settings,
        corpus: &corpus,
        machine: &machine,
        bin: &bin,
        runs: &runs,
    };
    print!("{}", report.text_table());
    if bench_mode {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/results");
        std::fs::create_dir_all(&dir).expect("create bench/results");
        let path = dir.join(format!("poll-{}x{}.md", settings.feeds, settings.items));
        std::fs::write(&path, report.markdown()).expect("write the results file");
        println!("written to {}", path.display());
    }
    server.stop();
}

// ---------------------------------------------------------------------------
// Settings

struct Settings {
    feeds: usize,
    items: usize,
    /// Distinct hosts (loopback ports) the feeds are spread over.
    hosts: usize,
    runs: usize,
    concurrency: usize,
    gzip: bool,
    serve_only: bool,
}

impl Settings {
    fn from_env(bench_mode: bool) -> Settings {
        let num = |name: &str, default: usize| -> usize {
            match std::env::var(name) {
                Ok(v) => v
                    .trim()
                    .parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .unwrap_or_else(|| panic!("{name}={v:?}: expected a positive integer")),
                Err(_) => default,
            }
        };
        let flag = |name: &str, default: bool| match std::env::var(name).as_deref() {
            Ok("0") | Ok("false") | Ok("no") | Ok("off") => false,
            Ok(_) => true,
            Err(_) => default,
        };
        // The smoke test ignores the sizes: it checks that the bench works,
        // not how fast tickerfeed is.
        let (feeds, items, runs) = if bench_mode {
            (
                num("TF_BENCH_FEEDS", 200),
                num("TF_BENCH_ITEMS", 50),
                num("TF_BENCH_RUNS", 5),
            )
        } else {
            (6, 5, 1)
        };
        // Two descriptors per host in this process (listener and accepted
        // connection); stay well inside the open-files limit.
        let max_hosts = (open_files_limit().unwrap_or(1024).saturating_sub(128) / 2).max(1);
        let hosts = num("TF_BENCH_HOSTS", feeds).min(feeds).min(max_hosts);
        Settings {
            feeds,
            items,
            hosts,
            runs,
            // 16 and not the example config's 8: with every feed on loopback
            // the slots are never idle waiting for a network, and 16 keeps
            // both cores busy even while some fetches wait on the single
            // SQLite writer. A real daemon waits on the network more, so it
            // wants at least this many.
            concurrency: num("TF_BENCH_CONCURRENCY", 16),
            gzip: flag("TF_BENCH_GZIP", true),
            serve_only: flag("TF_BENCH_SERVE", false),
        }
    }
}

/// The soft limit on open files, from /proc/self/limits.
fn open_files_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// The binary under test: the one cargo built for this bench (same
/// profile, so `cargo bench` always measures the current source), unless
/// `TF_BENCH_BIN` names another, for before/after comparisons.
fn tickerfeed_binary() -> PathBuf {
    match std::env::var_os("TF_BENCH_BIN") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_BIN_EXE_tickerfeed")),
    }
}

// ---------------------------------------------------------------------------
// The corpus

/// One served feed document.
struct Doc {
    body: Vec<u8>,
    gzipped: Vec<u8>,
    content_type: &'static str,
    etag: String,
}

struct Corpus {
    /// Feed name and its URL on the loopback server.
    feeds: Vec<(String, String)>,
    docs: HashMap<String, Doc>,
    /// Items in all documents together.
    items: usize,
    /// Distinct articles: what a correct first poll reports as new.
    articles: usize,
    rss_feeds: usize,
    atom_feeds: usize,
    raw_bytes: usize,
    gzip_bytes: usize,
}

/// An article as it appears in one feed.
struct Article {
    title: String,
    link: String,
    guid: String,
    /// RSS only: whether the guid is the permalink.
    guid_is_link: bool,
    published: DateTime<Utc>,
    author: String,
    category: &'static str,
    html: String,
}

/// Fixed so that the corpus, and so the archive, is the same on every run
/// and every machine.
fn base_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 15, 12, 0, 0)
        .single()
        .expect("a valid date")
}

/// 1 in this many item slots carries a wire article shared with other feeds.
const SHARED_EVERY: usize = 5;
/// On average, each wire article appears in this many feeds.
const COPIES_PER_WIRE_ARTICLE: usize = 4;

impl Corpus {
    fn generate(s: &Settings, addrs: &[SocketAddr]) -> Corpus {
        let mut rng = Rng(0x7469_636b_6572_6665);
        let shared_per_feed = (0..s.items).filter(|i| i % SHARED_EVERY == 2).count();
        let pool_size = (s.feeds * shared_per_feed / COPIES_PER_WIRE_ARTICLE).max(shared_per_feed);
        let wire: Vec<Article> = (0..pool_size)
            .map(|k| {
                let published = base_time() - chrono::Duration::minutes(7 * k as i64);
                let slug = slug(&mut rng);
                Article {
                    title: title(&mut rng),
                    link: format!(
                        "https://wire.example/{}/{slug}-{k}",
                        published.format("%Y/%m/%d")
                    ),
                    guid: String::new(),
                    guid_is_link: false,
                    published,
                    author: "Wire Staff".into(),
                    category: pick(&mut rng, CATEGORIES),
                    html: description(&mut rng, "https://wire.example"),
                }
            })
            .collect();

        let mut corpus = Corpus {
            feeds: Vec::new(),
            docs: HashMap::new(),
            items: 0,
            articles: 0,
            rss_feeds: 0,
            atom_feeds: 0,
            raw_bytes: 0,
            gzip_bytes: 0,
        };
        let mut wire_used = HashSet::new();
        for f in 0..s.feeds {
            let site = format!("https://www.outlet-{f:03}.example");
            let atom = f % 2 == 1;
            let name = format!("feed-{f:03}");
            let file = format!("{name}.{}", if atom { "atom" } else { "rss" });
            let self_url = format!("http://{}/feeds/{file}", addrs[f % addrs.len()]);
            let mut in_this_feed = HashSet::new();
            let mut articles = Vec::with_capacity(s.items);
            for i in 0..s.items {
                if i % SHARED_EVERY == 2 {
                    // Never the same wire article twice in one feed: inside
                    // a feed, two keys are two items even with one link.
                    let k = loop {
                        let k = rng.below(pool_size);
                        if in_this_feed.insert(k) {
                            break k;
                        }
                    };
                    wire_used.insert(k);
                    let w = &wire[k];
                    // RSS feeds add tracking parameters, as syndicating
                    // sites do; canonicalisation must strip them to match.
                    let link = if atom {
                        w.link.clone()
                    } else {
                        format!("{}?utm_source=outlet-{f:03}&utm_medium=rss", w.link)
                    };
                    let guid = if atom {
                        format!("tag:outlet-{f:03}.example,2026:wire-{k}")
                    } else {
                        format!("{f}-wire-{k}")
                    };
                    articles.push(Article {
                        title: w.title.clone(),
                        link,
                        guid,
                        guid_is_link: false,
                        published: w.published,
                        author: w.author.clone(),
                        category: w.category,
                        html: w.html.clone(),
                    });
                } else {
                    let published =
                        base_time() - chrono::Duration::minutes((i * 23 + f * 3) as i64);
                    let link = format!(
                        "{site}/news/{}/{}-{f}-{i}",
                        published.format("%Y/%m/%d"),
                        slug(&mut rng)
                    );
                    // Half the RSS items use their permalink as guid, half
                    // a CMS number: both are common.
                    let (guid, guid_is_link) = if atom {
                        (format!("tag:outlet-{f:03}.example,2026:{i}"), false)
                    } else if i % 2 == 0 {
                        (link.clone(), true)
                    } else {
                        (format!("{}", 100_000 + f * 1000 + i), false)
                    };
                    articles.push(Article {
                        title: title(&mut rng),
                        link,
                        guid,
                        guid_is_link,
                        published,
                        author: format!(
                            "{} {}",
                            pick(&mut rng, FIRST_NAMES),
                            pick(&mut rng, LAST_NAMES)
                        ),
                        category: pick(&mut rng, CATEGORIES),
                        html: description(&mut rng, &site),
                    });
                }
            }
            corpus.articles += s.items - shared_per_feed;
            corpus.items += articles.len();
            let (body, content_type) = if atom {
                corpus.atom_feeds += 1;
                (
                    atom_doc(&name, &site, &self_url, &articles),
                    "application/atom+xml; charset=utf-8",
                )
            } else {
                corpus.rss_feeds += 1;
                (
                    rss_doc(&name, &site, &self_url, &articles),
                    "application/rss+xml; charset=utf-8",
                )
            };
            let gzipped = gzip(body.as_bytes());
            corpus.raw_bytes += body.len();
            corpus.gzip_bytes += gzipped.len();
            corpus.docs.insert(
                file.clone(),
                Doc {
                    etag: format!("\"{:016x}\"", fnv1a(body.as_bytes())),
                    body: body.into_bytes(),
                    gzipped,
                    content_type,
                },
            );
            corpus.feeds.push((
                name,
                format!("http://{}/feeds/{file}", addrs[f % addrs.len()]),
            ));
        }
        corpus.articles += wire_used.len();
        corpus
    }
}

fn rss_doc(name: &str, site: &str, self_url: &str, items: &[Article]) -> String {
    let mut x = String::with_capacity(items.len() * 1400 + 1000);
    let _ = write!(
        x,
        r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom" xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel>
<title>Outlet {name} - Top stories</title>
<link>{site}/</link>
<description>The latest headlines from {name}</description>
<language>en-gb</language>
<lastBuildDate>{}</lastBuildDate>
<ttl>15</ttl>
<atom:link href="{self_url}" rel="self" type="application/rss+xml"/>
"#,
        base_time().to_rfc2822()
    );
    for a in items {
        let _ = write!(
            x,
            r#"<item>
<title>{}</title>
<link>{}</link>
<guid isPermaLink="{}">{}</guid>
<pubDate>{}</pubDate>
<dc:creator>{}</dc:creator>
<category>{}</category>
<description><![CDATA[{}]]></description>
</item>
"#,
            xml_escape(&a.title),
            xml_escape(&a.link),
            a.guid_is_link,
            xml_escape(&a.guid),
            a.published.to_rfc2822(),
            xml_escape(&a.author),
            a.category,
            a.html
        );
    }
    x.push_str("</channel>\n</rss>\n");
    x
}

fn atom_doc(name: &str, site: &str, self_url: &str, items: &[Article]) -> String {
    let mut x = String::with_capacity(items.len() * 1600 + 1000);
    let _ = write!(
        x,
        r#"<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en">
<title>Outlet {name}</title>
<subtitle>The latest headlines from {name}</subtitle>
<id>tag:{},2026:feed</id>
<updated>{}</updated>
<link rel="alternate" type="text/html" href="{site}/"/>
<link rel="self" type="application/atom+xml" href="{self_url}"/>
"#,
        site.trim_start_matches("https://www."),
        base_time().to_rfc3339()
    );
    for a in items {
        let _ = write!(
            x,
            r#"<entry>
<title type="text">{}</title>
<id>{}</id>
<link rel="alternate" type="text/html" href="{}"/>
<published>{}</published>
<updated>{}</updated>
<author><name>{}</name></author>
<category term="{}"/>
<summary type="html">{}</summary>
</entry>
"#,
            xml_escape(&a.title),
            xml_escape(&a.guid),
            xml_escape(&a.link),
            a.published.to_rfc3339(),
            (a.published + chrono::Duration::minutes(5)).to_rfc3339(),
            xml_escape(&a.author),
            a.category,
            xml_escape(&a.html)
        );
    }
    x.push_str("</feed>\n");
    x
}

/// Two paragraphs of HTML as news sites write them: a related link, an
/// image with a site-relative source (so the sanitiser rewrites URLs), and
/// the odd entity.
fn description(rng: &mut Rng, site: &str) -> String {
    let mut h = String::with_capacity(900);
    h.push_str("<p>");
    h.push_str(&sentence(rng));
    h.push(' ');
    h.push_str(&sentence(rng));
    let _ = write!(
        h,
        r#" Read more: <a href="{site}/news/related/{}">{}</a>. "#,
        slug(rng),
        words(rng, 4)
    );
    h.push_str(&sentence(rng));
    h.push_str("</p>\n<p>");
    let _ = write!(
        h,
        r#"<img src="/images/2026/01/{:08x}.jpg" alt="{}" width="640" height="360"> "#,
        rng.next() as u32,
        words(rng, 3)
    );
    h.push_str(&sentence(rng));
    h.push_str(" Analysts at S&amp;P said <em>");
    h.push_str(&words(rng, 5));
    h.push_str("</em>. ");
    h.push_str(&sentence(rng));
    h.push_str("</p>");
    h
}

fn title(rng: &mut Rng) -> String {
    let n = 6 + rng.below(6);
    let mut t = words(rng, n);
    if rng.below(8) == 0 {
        t.push_str(" after M&A talks");
    }
    capitalise(&t)
}

fn sentence(rng: &mut Rng) -> String {
    let n = 9 + rng.below(10);
    let mut s = capitalise(&words(rng, n));
    s.push('.');
    s
}

fn slug(rng: &mut Rng) -> String {
    let n = 3 + rng.below(3);
    words(rng, n).replace(' ', "-")
}

fn words(rng: &mut Rng, n: usize) -> String {
    let mut s = String::new();
    for i in 0..n {
        if i > 0 {
            s.push(' ');
        }
        s.push_str(pick(rng, WORDS));
    }
    s
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

fn pick<T: Copy>(rng: &mut Rng, from: &[T]) -> T {
    from[rng.below(from.len())]
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).expect("gzip into memory");
    enc.finish().expect("gzip into memory")
}

fn fnv1a(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// SplitMix64: deterministic, and no `rand` dev-dependency for a corpus.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[rustfmt::skip]
const WORDS: &[&str] = &[
    "markets", "shares", "rally", "slump", "central", "bank", "holds", "rates", "inflation",
    "cools", "investors", "weigh", "earnings", "outlook", "oil", "prices", "climb", "supply",
    "cuts", "government", "bond", "yields", "retreat", "tech", "stocks", "lead", "gains",
    "regulators", "probe", "merger", "deal", "talks", "stall", "chipmaker", "forecast",
    "quarterly", "revenue", "beats", "estimates", "union", "strike", "ends", "ports", "reopen",
    "election", "campaign", "budget", "deficit", "widens", "currency", "weakens", "against",
    "dollar", "exporters", "benefit", "housing", "market", "cools", "mortgage", "demand",
    "falls", "consumer", "confidence", "rebounds", "retail", "sales", "surprise", "analysts",
    "say", "the", "a", "of", "in", "on", "for", "with", "as", "after", "amid", "record",
    "first", "since", "week", "year", "global", "energy", "transition", "policy", "shift",
];
#[rustfmt::skip]
const CATEGORIES: &[&str] = &[
    "Business", "Markets", "World", "Technology", "Economy", "Energy", "Politics",
];
#[rustfmt::skip]
const FIRST_NAMES: &[&str] = &["Ana", "Ben", "Chloe", "Dev", "Ewa", "Farid", "Grace", "Hiro"];
#[rustfmt::skip]
const LAST_NAMES: &[&str] = &["Okafor", "Smith", "Nguyen", "Rossi", "Kowalski", "Haddad"];

// ---------------------------------------------------------------------------
// The feed server

#[derive(Default)]
struct Counters {
    ok: AtomicU64,
    not_modified: AtomicU64,
    other: AtomicU64,
}

#[derive(Clone, Copy, Default)]
struct Served {
    ok: u64,
    not_modified: u64,
    other: u64,
}

struct ServerState {
    corpus: Arc<Corpus>,
    gzip: bool,
    counters: Counters,
}

struct FeedServer {
    state: Arc<ServerState>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FeedServer {
    /// Serves on its own thread with a single-threaded runtime, so that it
    /// takes at most one core's worth of time from the binary under test
    /// (and in practice far less: every body is prepared in advance).
    fn start(listeners: Vec<std::net::TcpListener>, corpus: Arc<Corpus>, gzip: bool) -> FeedServer {
        let state = Arc::new(ServerState {
            corpus,
            gzip,
            counters: Counters::default(),
        });
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let app = Router::new()
            .route("/feeds/{file}", get(serve_feed))
            .with_state(Arc::clone(&state));
        for l in &listeners {
            l.set_nonblocking(true).expect("non-blocking listener");
        }
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("feed server runtime");
            rt.block_on(async move {
                let shutdown = tokio_util::sync::CancellationToken::new();
                let mut servers = tokio::task::JoinSet::new();
                for l in listeners {
                    let listener = tokio::net::TcpListener::from_std(l).expect("tokio listener");
                    let app = app.clone();
                    let shutdown = shutdown.clone();
                    servers.spawn(async move {
                        axum::serve(listener, app)
                            .with_graceful_shutdown(async move { shutdown.cancelled().await })
                            .await
                            .expect("feed server");
                    });
                }
                let _ = stopped.await;
                shutdown.cancel();
                while servers.join_next().await.is_some() {}
            });
        });
        FeedServer {
            state,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// Counts since the last call.
    fn take_counts(&self) -> Served {
        let c = &self.state.counters;
        Served {
            ok: c.ok.swap(0, Ordering::Relaxed),
            not_modified: c.not_modified.swap(0, Ordering::Relaxed),
            other: c.other.swap(0, Ordering::Relaxed),
        }
    }

    fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn serve_feed(
    State(st): State<Arc<ServerState>>,
    UrlPath(file): UrlPath<String>,
    req: HeaderMap,
) -> Response {
    let c = &st.counters;
    let Some(doc) = st.corpus.docs.get(&file) else {
        c.other.fetch_add(1, Ordering::Relaxed);
        return status_only(StatusCode::NOT_FOUND);
    };
    let last_modified = base_time().format("%a, %d %b %Y %H:%M:%S GMT").to_string();
    // If-None-Match wins over If-Modified-Since (RFC 9110 13.2.2); the
    // weak comparison is what a GET uses.
    let matches = req
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',').any(|t| {
                let t = t.trim();
                t == "*" || t.trim_start_matches("W/") == doc.etag
            })
        });
    let mut resp = Response::builder()
        .header(header::ETAG, &doc.etag)
        .header(header::LAST_MODIFIED, last_modified)
        .header(header::CACHE_CONTROL, "max-age=60")
        .header(header::VARY, "Accept-Encoding");
    if matches {
        c.not_modified.fetch_add(1, Ordering::Relaxed);
        return resp
            .status(StatusCode::NOT_MODIFIED)
            .body(Body::empty())
            .expect("valid response");
    }
    let gzip = st.gzip
        && req
            .get(header::ACCEPT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(',').any(|e| e.trim().starts_with("gzip")));
    let body = if gzip {
        resp = resp.header(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        doc.gzipped.clone()
    } else {
        doc.body.clone()
    };
    c.ok.fetch_add(1, Ordering::Relaxed);
    resp.status(StatusCode::OK)
        .header(header::CONTENT_TYPE, doc.content_type)
        .body(Body::from(body))
        .expect("valid response")
}

fn status_only(status: StatusCode) -> Response {
    Response::builder()
        .status(status)
        .body(Body::empty())
        .expect("valid response")
}

// ---------------------------------------------------------------------------
// Running the binary

fn write_config(dir: &Path, s: &Settings, corpus: &Corpus) -> PathBuf {
    let mut c = String::new();
    let _ = write!(
        c,
        r#"# Written by benches/poll.rs.
[storage]
path = "archive/tickerfeed.db"

[server]
listen = "127.0.0.1:0"

[output]
title = "Bench"

[defaults]
schedule = "*/15 * * * *"
timezone = "UTC"

[fetch]
concurrency = {}
# Loopback "hosts" stand for many real ones: with fewer ports than feeds
# (TF_BENCH_HOSTS), the per-host politeness limits are raised so the bench
# measures the pipeline, as issue 7 asks ("per-host limits raised").
per_host_concurrency = {}
per_host_spacing_ms = 0

[log]
# What the example config ships with; logging is part of the cost.
level = "info"
"#,
        s.concurrency, s.concurrency
    );
    for (i, (name, url)) in corpus.feeds.iter().enumerate() {
        let tag = if i % 2 == 0 { "business" } else { "world" };
        let _ = write!(
            c,
            "\n[[feeds]]\nname = \"{name}\"\nurl = \"{url}\"\ntags = [\"{tag}\"]\n"
        );
    }
    let path = dir.join("config.toml");
    std::fs::write(&path, c).expect("write the bench config");
    path
}

/// One child process, measured.
#[derive(Clone)]
struct Measured {
    wall_s: f64,
    user_s: Option<f64>,
    sys_s: Option<f64>,
    max_rss_kib: Option<f64>,
    /// CPU time the bench process (in effect, the feed server) used meanwhile.
    server_cpu_s: Option<f64>,
    served: Served,
}

/// tickerfeed's poll summary line.
struct Summary {
    polled: usize,
    failed: usize,
    new: usize,
}

struct Run {
    first: Measured,
    repoll: Measured,
    archive_bytes: u64,
}

fn run_once(s: &Settings, corpus: &Corpus, server: &FeedServer, bin: &Path) -> Run {
    let dir = tempfile::Builder::new()
        .prefix("tickerfeed-bench-")
        .tempdir()
        .expect("temp dir");
    let config = write_config(dir.path(), s, corpus);
    let (first, first_sum) = poll(bin, &config, dir.path(), server);
    let archive_bytes = dir_size(&dir.path().join("archive"));
    let (repoll, repoll_sum) = poll(bin, &config, dir.path(), server);

    let problems = check_run(s, corpus, (&first, &first_sum), (&repoll, &repoll_sum));
    if !problems.is_empty() {
        panic!(
            "the poll did not do what the bench expects:\n  {}",
            problems.join("\n  ")
        );
    }
    Run {
        first,
        repoll,
        archive_bytes,
    }
}

fn check_run(
    s: &Settings,
    corpus: &Corpus,
    (first, first_sum): (&Measured, &Summary),
    (repoll, repoll_sum): (&Measured, &Summary),
) -> Vec<String> {
    let mut p = Vec::new();
    for (phase, m, sum) in [
        ("first poll", first, first_sum),
        ("re-poll", repoll, repoll_sum),
    ] {
        if sum.polled != s.feeds || sum.failed != 0 {
            p.push(format!(
                "{phase}: {} feeds polled, {} failed (expected {}, 0)",
                sum.polled, sum.failed, s.feeds
            ));
        }
        if m.served.other != 0 {
            p.push(format!(
                "{phase}: {} requests for unknown paths",
                m.served.other
            ));
        }
    }
    if first_sum.new != corpus.articles {
        p.push(format!(
            "first poll: {} new items, expected {} distinct articles ({} items, some shared across feeds)",
            first_sum.new, corpus.articles, corpus.items
        ));
    }
    if first.served.ok != s.feeds as u64 {
        p.push(format!(
            "first poll: server sent {} bodies for {} feeds",
            first.served.ok, s.feeds
        ));
    }
    if repoll.served.not_modified != s.feeds as u64 || repoll.served.ok != 0 || repoll_sum.new != 0
    {
        p.push(format!(
            "re-poll: {} x 304, {} x 200, {} new (expected {} x 304 and nothing new)",
            repoll.served.not_modified, repoll.served.ok, repoll_sum.new, s.feeds
        ));
    }
    p
}

fn poll(bin: &Path, config: &Path, dir: &Path, server: &FeedServer) -> (Measured, Summary) {
    let mut cmd = Command::new(bin);
    cmd.arg("--config")
        .arg(config)
        .arg("poll")
        // The config's level is what we measure, whatever the shell has.
        .env_remove("RUST_LOG")
        .env_remove("TICKERFEED_CONFIG");
    let (m, out) = measure(cmd, dir, server);
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        panic!(
            "tickerfeed poll failed ({}):\n{}\n{}",
            out.status,
            tail(&stdout, 20),
            tail(&stderr, 20)
        );
    }
    let summary = parse_summary(&stdout).unwrap_or_else(|| {
        panic!(
            "no summary line in the poll's output:\n{}",
            tail(&stdout, 20)
        )
    });
    (m, summary)
}

/// Runs `cmd` (under GNU time when there is one) to completion, with the
/// bench's clock around it and the feed server's counts for just this
/// process. The caller judges the exit status and output.
fn measure(cmd: Command, dir: &Path, server: &FeedServer) -> (Measured, std::process::Output) {
    let time_out = dir.join("time.out");
    let use_time = Path::new(GNU_TIME).is_file();
    let mut cmd = if use_time {
        let mut c = Command::new(GNU_TIME);
        c.arg("-f").arg("%e %U %S %M").arg("-o").arg(&time_out);
        c.arg(cmd.get_program()).args(cmd.get_args());
        // Carries `env` and `env_remove` over (no caller uses `env_clear`).
        for (k, v) in cmd.get_envs() {
            match v {
                Some(v) => c.env(k, v),
                None => c.env_remove(k),
            };
        }
        if let Some(d) = cmd.get_current_dir() {
            c.current_dir(d);
        }
        c
    } else {
        cmd
    };
    cmd.stdin(Stdio::null());

    let _ = server.take_counts();
    let cpu_before = self_cpu_s();
    let started = Instant::now();
    let out = cmd.output().unwrap_or_else(|e| {
        panic!("run {:?}: {e}", cmd.get_program());
    });
    let wall_s = started.elapsed().as_secs_f64();
    let server_cpu_s = match (cpu_before, self_cpu_s()) {
        (Some(a), Some(b)) => Some(b - a),
        _ => None,
    };
    let served = server.take_counts();

    let (user_s, sys_s, max_rss_kib) = if use_time {
        let t = std::fs::read_to_string(&time_out).expect("read GNU time's output");
        // On a non-zero exit GNU time writes a line before the numbers.
        let f: Vec<f64> = t
            .lines()
            .last()
            .unwrap_or("")
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        assert_eq!(f.len(), 4, "unexpected GNU time output: {t:?}");
        (Some(f[1]), Some(f[2]), Some(f[3]))
    } else {
        (None, None, None)
    };
    let m = Measured {
        wall_s,
        user_s,
        sys_s,
        max_rss_kib,
        server_cpu_s,
        served,
    };
    (m, out)
}

/// `N feeds polled, F failed, X new items`, the poll's last line.
fn parse_summary(stdout: &str) -> Option<Summary> {
    let line = stdout.lines().rev().find(|l| l.contains("feeds polled"))?;
    let nums: Vec<usize> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter(|t| !t.is_empty())
        .filter_map(|t| t.parse().ok())
        .collect();
    match nums[..] {
        [polled, failed, new] => Some(Summary {
            polled,
            failed,
            new,
        }),
        _ => None,
    }
}

fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// User + system CPU of this process so far, from /proc/self/stat.
fn self_cpu_s() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which is in parentheses and may hold
    // spaces; utime and stime are fields 14 and 15 overall.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    // USER_HZ is 100 on every Linux ABI that matters here.
    Some((utime + stime) / 100.0)
}

fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|e| e.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// `TF_BENCH_SERVE=1`: serve the corpus and leave a config behind, so a
/// profiler can run the binary by hand. Stops when stdin closes or on
/// Ctrl-C.
fn serve_for_profiling(s: &Settings, corpus: &Corpus) {
    let dir = tempfile::Builder::new()
        .prefix("tickerfeed-bench-")
        .tempdir()
        .expect("temp dir")
        .keep();
    let config = write_config(&dir, s, corpus);
    println!(
        "serving {} feeds x {} items from {} loopback ports\nconfig: {}\n\
         poll:   tickerfeed --config {} poll   (rm -r {}/archive for a first poll again)\n\
         close stdin or press Ctrl-C to stop",
        s.feeds,
        s.items,
        s.hosts,
        config.display(),
        config.display(),
        dir.display()
    );
    let _ = std::io::stdout().flush();
    let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
}

// ---------------------------------------------------------------------------
// The report

struct Machine {
    cpus: usize,
    cpu_model: String,
    memory: String,
    kernel: String,
    rustc: String,
    filesystem: String,
    source: String,
    date: String,
    /// Cores kept busy by other processes just before the runs: they take
    /// CPU from the binary under test and show up in its wall time.
    busy_before: Option<f64>,
}

impl Machine {
    fn busy_text(&self) -> String {
        self.busy_before
            .map_or_else(|| "unknown".into(), |b| format!("{b:.2}"))
    }

    /// A quarter of a core busy elsewhere already moves wall times.
    fn noisy(&self) -> bool {
        self.busy_before.is_some_and(|b| b > 0.25)
    }
}

impl Machine {
    fn describe() -> Machine {
        let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
        let cpuinfo = read("/proc/cpuinfo");
        let cpu_model = cpuinfo
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_else(|| "unknown".into());
        let memory = read("/proc/meminfo")
            .lines()
            .find(|l| l.starts_with("MemTotal:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kib| kib.parse::<f64>().ok())
            .map(|kib| format!("{:.1} GiB", kib / 1024.0 / 1024.0))
            .unwrap_or_else(|| "unknown".into());
        let manifest = env!("CARGO_MANIFEST_DIR");
        let git = |args: &[&str]| command_output("git", &[&["-C", manifest], args].concat());
        let source = match git(&["rev-parse", "--short", "HEAD"]) {
            Some(head) => {
                let dirty = git(&[
                    "status",
                    "--porcelain",
                    "--",
                    "src",
                    "Cargo.toml",
                    "Cargo.lock",
                ])
                .is_some_and(|s| !s.is_empty());
                if dirty {
                    format!("{head} with uncommitted changes in src/ or Cargo.*")
                } else {
                    head
                }
            }
            None => "unknown".into(),
        };
        // The report says when it was measured; the rule against reading the
        // wall clock is for the daemon, whose time comes from `Clock`.
        #[allow(clippy::disallowed_methods)]
        let now: DateTime<Utc> = std::time::SystemTime::now().into();
        Machine {
            cpus: std::thread::available_parallelism().map_or(0, |n| n.get()),
            cpu_model,
            memory,
            kernel: read("/proc/sys/kernel/osrelease").trim().to_string(),
            rustc: command_output("rustc", &["--version"]).unwrap_or_else(|| "unknown".into()),
            filesystem: filesystem_of(&std::env::temp_dir()),
            source,
            date: now.format("%Y-%m-%d %H:%M UTC").to_string(),
            busy_before: busy_cores(Duration::from_secs(1)),
        }
    }
}

/// How many cores' worth of CPU the whole machine used over `window`,
/// from the aggregate line of /proc/stat (idle and iowait count as free).
/// Called while the bench itself is idle, it measures everyone else.
fn busy_cores(window: Duration) -> Option<f64> {
    let sample = || -> Option<(u64, u64)> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let line = stat.lines().next()?.strip_prefix("cpu ")?;
        let f: Vec<u64> = line
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        let total: u64 = f.iter().take(8).sum();
        let idle = f.get(3)? + f.get(4)?;
        Some((total, idle))
    };
    let (t0, i0) = sample()?;
    std::thread::sleep(window);
    let (t1, i1) = sample()?;
    let total = t1.checked_sub(t0).filter(|t| *t > 0)? as f64;
    let busy = total - i1.checked_sub(i0)? as f64;
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    Some(busy / total * cpus)
}

fn command_output(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// "ext4 on /" for the mount holding `path`, from /proc/mounts.
fn filesystem_of(path: &Path) -> String {
    let path = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    mounts
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 3).then(|| (f[1].to_string(), f[2].to_string()))
        })
        .filter(|(mnt, _)| path.starts_with(mnt))
        .max_by_key(|(mnt, _)| mnt.len())
        .map(|(mnt, fs)| format!("{} ({fs} on {mnt})", path.display()))
        .unwrap_or_else(|| path.display().to_string())
}

/// Median, min and max of a sample.
#[derive(Clone, Copy)]
struct Stat {
    median: f64,
    min: f64,
    max: f64,
}

impl Stat {
    fn of(values: impl IntoIterator<Item = f64>) -> Option<Stat> {
        let mut v: Vec<f64> = values.into_iter().collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        };
        Some(Stat {
            median,
            min: v[0],
            max: v[n - 1],
        })
    }

    /// Of a field every run has, or of none when any run lacks it.
    fn of_opt(values: impl IntoIterator<Item = Option<f64>>) -> Option<Stat> {
        values
            .into_iter()
            .collect::<Option<Vec<f64>>>()
            .and_then(Stat::of)
    }
}

struct Row {
    phase: &'static str,
    wall: Stat,
    user: Option<Stat>,
    sys: Option<Stat>,
    cpu: Option<Stat>,
    rss_mib: Option<Stat>,
    server_cpu: Option<Stat>,
    feeds_per_s: f64,
    items_per_s: f64,
    target_s: f64,
}

struct Report<'a> {
    settings: &'a Settings,
    corpus: &'a Corpus,
    machine: &'a Machine,
    bin: &'a Path,
    runs: &'a [Run],
}

fn fmt_opt(s: Option<Stat>, digits: usize) -> String {
    s.map_or_else(|| "n/a".into(), |s| format!("{:.*}", digits, s.median))
}

fn mib(bytes: f64) -> f64 {
    bytes / 1024.0 / 1024.0
}

impl Report<'_> {
    fn rows(&self) -> Vec<Row> {
        let s = self.settings;
        let phase = |phase, target_s, pick: &dyn Fn(&Run) -> &Measured| {
            let m: Vec<&Measured> = self.runs.iter().map(pick).collect();
            let wall = Stat::of(m.iter().map(|m| m.wall_s)).expect("at least one run");
            let user = Stat::of_opt(m.iter().map(|m| m.user_s));
            let sys = Stat::of_opt(m.iter().map(|m| m.sys_s));
            Row {
                phase,
                wall,
                user,
                sys,
                cpu: Stat::of_opt(m.iter().map(|m| Some(m.user_s? + m.sys_s?))),
                rss_mib: Stat::of_opt(m.iter().map(|m| m.max_rss_kib.map(|k| k / 1024.0))),
                server_cpu: Stat::of_opt(m.iter().map(|m| m.server_cpu_s)),
                feeds_per_s: s.feeds as f64 / wall.median,
                items_per_s: self.corpus.items as f64 / wall.median,
                target_s,
            }
        };
        vec![
            phase("first poll (empty archive)", TARGET_FIRST_S, &|r| &r.first),
            phase("re-poll (all 304)", TARGET_REPOLL_S, &|r| &r.repoll),
        ]
    }

    fn archive(&self) -> Stat {
        Stat::of(self.runs.iter().map(|r| r.archive_bytes as f64)).expect("at least one run")
    }

    /// The issue's targets are for 200 x 50; other sizes get no verdict.
    fn verdict(&self, r: &Row) -> String {
        if (self.settings.feeds, self.settings.items) != (200, 50) {
            return format!("({} s at 200x50)", r.target_s);
        }
        let ok = r.wall.median <= r.target_s;
        format!("<= {} s: {}", r.target_s, if ok { "met" } else { "MISSED" })
    }

    fn headline(&self) -> String {
        let s = self.settings;
        let c = self.corpus;
        format!(
            "{} feeds x {} items = {} items ({} distinct articles; {} RSS 2.0 + {} Atom 1.0 feeds) from {} loopback hosts (ports), \
             {:.1} MiB of XML ({:.1} MiB gzipped, gzip {}), concurrency {}, {} run(s), each on a fresh archive",
            s.feeds,
            s.items,
            c.items,
            c.articles,
            c.rss_feeds,
            c.atom_feeds,
            s.hosts,
            mib(c.raw_bytes as f64),
            mib(c.gzip_bytes as f64),
            if s.gzip { "on" } else { "off" },
            s.concurrency,
            self.runs.len()
        )
    }

    fn archive_line(&self) -> String {
        let a = self.archive();
        format!(
            "archive after the first poll: {:.2} MiB median ({} bytes), {:.0} bytes per archived article, \
             {:.0} bytes per feed item",
            mib(a.median),
            a.median as u64,
            a.median / self.corpus.articles as f64,
            a.median / self.corpus.items as f64
        )
    }

    fn text_table(&self) -> String {
        let mut o = String::new();
        let _ = writeln!(o, "\ntickerfeed poll benchmark");
        let _ = writeln!(o, "{}", self.headline());
        let _ = writeln!(
            o,
            "{} CPUs ({}), {} of them busy with other work before the runs; medians (min-max) over the runs\n",
            self.machine.cpus,
            self.machine.cpu_model,
            self.machine.busy_text()
        );
        if self.machine.noisy() {
            let _ = writeln!(
                o,
                "WARNING: other work was using the CPUs; wall times are inflated, CPU times less so\n"
            );
        }
        let _ = writeln!(
            o,
            "{:<28} {:>22} {:>7} {:>7} {:>7} {:>9} {:>8} {:>9}  target",
            "phase", "wall s", "user s", "sys s", "CPU s", "RSS MiB", "feeds/s", "items/s",
        );
        for r in self.rows() {
            let _ = writeln!(
                o,
                "{:<28} {:>22} {:>7} {:>7} {:>7} {:>9} {:>8.0} {:>9.0}  {}",
                r.phase,
                format!("{:.3} ({:.3}-{:.3})", r.wall.median, r.wall.min, r.wall.max),
                fmt_opt(r.user, 2),
                fmt_opt(r.sys, 2),
                fmt_opt(r.cpu, 2),
                fmt_opt(r.rss_mib, 1),
                r.feeds_per_s,
                r.items_per_s,
                self.verdict(&r)
            );
        }
        let _ = writeln!(o, "\n{}", self.archive_line());
        let rows = self.rows();
        let _ = writeln!(
            o,
            "feed server CPU (in the bench process, same machine): {} s per first poll, {} s per re-poll",
            fmt_opt(rows[0].server_cpu, 2),
            fmt_opt(rows[1].server_cpu, 2)
        );
        if rows[0].user.is_none() {
            let _ = writeln!(
                o,
                "no {GNU_TIME}: CPU time and peak RSS not measured (apt-get install time)"
            );
        }
        o
    }

    fn markdown(&self) -> String {
        let m = self.machine;
        let s = self.settings;
        let mut o = String::new();
        let _ = writeln!(
            o,
            "# `tickerfeed poll` benchmark: {} feeds x {} items\n",
            s.feeds, s.items
        );
        let _ = writeln!(
            o,
            "Written by `cargo bench --bench poll` (benches/poll.rs) on {}. See bench/README.md.\n",
            m.date
        );
        let _ = writeln!(o, "{}.\n", self.headline());
        if m.noisy() {
            let _ = writeln!(
                o,
                "**Other work was using {} cores before the runs: wall times are inflated; compare CPU times.**\n",
                m.busy_text()
            );
        }
        let _ = writeln!(o, "## Results (median, min-max in brackets)\n");
        let _ = writeln!(
            o,
            "| phase | wall s | user s | sys s | CPU s | peak RSS MiB | feeds/s | items/s | target |"
        );
        let _ = writeln!(o, "|---|---|---|---|---|---|---|---|---|");
        let range = |s: Option<Stat>, d: usize| {
            s.map_or_else(
                || "n/a".into(),
                |s| format!("{:.*} ({:.*}-{:.*})", d, s.median, d, s.min, d, s.max),
            )
        };
        for r in self.rows() {
            let _ = writeln!(
                o,
                "| {} | **{}** | {} | {} | {} | {} | {:.0} | {:.0} | {} |",
                r.phase,
                range(Some(r.wall), 3),
                range(r.user, 2),
                range(r.sys, 2),
                range(r.cpu, 2),
                range(r.rss_mib, 1),
                r.feeds_per_s,
                r.items_per_s,
                self.verdict(&r)
            );
        }
        let rows = self.rows();
        let _ = writeln!(o, "\n- {}.", capitalise(&self.archive_line()));
        let _ = writeln!(
            o,
            "- The feed server ran in the bench process on the same cores and used {} s CPU per first poll, {} s per re-poll.",
            fmt_opt(rows[0].server_cpu, 2),
            fmt_opt(rows[1].server_cpu, 2)
        );
        let _ = writeln!(
            o,
            "- Every run was checked: all feeds polled without error, the first poll's new items equal the distinct articles, the re-poll got {} x 304 and stored nothing.",
            s.feeds
        );
        let _ = writeln!(o, "\n### Per run\n");
        let _ = writeln!(
            o,
            "| run | first poll wall s | CPU s | RSS MiB | re-poll wall s | CPU s | RSS MiB | archive bytes |"
        );
        let _ = writeln!(o, "|---|---|---|---|---|---|---|---|");
        let cpu = |m: &Measured| match (m.user_s, m.sys_s) {
            (Some(u), Some(s)) => format!("{:.2}", u + s),
            _ => "n/a".into(),
        };
        let rss = |m: &Measured| {
            m.max_rss_kib
                .map_or_else(|| "n/a".into(), |k| format!("{:.1}", k / 1024.0))
        };
        for (i, r) in self.runs.iter().enumerate() {
            let _ = writeln!(
                o,
                "| {} | {:.3} | {} | {} | {:.3} | {} | {} | {} |",
                i + 1,
                r.first.wall_s,
                cpu(&r.first),
                rss(&r.first),
                r.repoll.wall_s,
                cpu(&r.repoll),
                rss(&r.repoll),
                r.archive_bytes
            );
        }
        let _ = writeln!(
            o,
            "\n### Peers (from the issue, measured earlier on this machine; not re-run by this bench)\n"
        );
        let _ = writeln!(o, "| first poll, 200 x 50 | wall s |\n|---|---|");
        let _ = writeln!(
            o,
            "| tickerfeed (this run{}) | {:.3} |",
            if (s.feeds, s.items) == (200, 50) {
                ""
            } else {
                ", other size"
            },
            rows[0].wall.median
        );
        for (peer, secs) in [
            ("feedparser + SQLite loop", 2.2),
            ("Newsboat", 3.1),
            ("Python reader", 6.3),
        ] {
            let _ = writeln!(o, "| {peer} | {secs:.1} |");
        }
        let _ = writeln!(o, "\n## Machine\n");
        let _ = writeln!(o, "- CPUs available: {} ({})", m.cpus, m.cpu_model);
        let _ = writeln!(o, "- Memory: {}", m.memory);
        let _ = writeln!(
            o,
            "- Cores busy with other work in the second before the runs: {} (from /proc/stat; other work competes with the binary under test for the same cores)",
            m.busy_text()
        );
        let _ = writeln!(o, "- Kernel: Linux {}", m.kernel);
        let _ = writeln!(o, "- Toolchain: {}", m.rustc);
        let _ = writeln!(o, "- Archive written to: {}", m.filesystem);
        let _ = writeln!(o, "- Source: {}", m.source);
        let _ = writeln!(o, "- Binary: `{}`", self.bin.display());
        let _ = writeln!(o, "\n## Method\n");
        let _ = writeln!(
            o,
            "{}",
            [
                "- The corpus is generated once per bench process with a fixed seed and fixed dates, so it is byte-identical on every run and machine. Half the feeds are RSS 2.0, half Atom 1.0; every item has a guid/id, title, link, date, author, category and two paragraphs of HTML with a link and a site-relative image. One item slot in five carries a \"wire\" article that about four feeds share under the same link (RSS feeds add `utm_` parameters to it), so cross-feed dedup by canonical link does real work.",
                "- A loopback HTTP server (axum, one thread, bodies and gzip prepared in advance) serves the feeds on 127.0.0.1 with a strong ETag per feed; it answers 304 to a matching If-None-Match and gzips when asked. It listens on one port per \"host\" (`TF_BENCH_HOSTS`, by default one per feed), because tickerfeed limits and spaces requests per host and port, and real feeds come from many hosts.",
                "- Each run writes a config into a fresh temp dir (archive on disk there) and runs the release binary as a child: `tickerfeed --config <dir>/config.toml poll`, first into the empty archive, then again (every feed answers 304). Log level is `info`, as in the example config.",
                "- Wall time is measured by the bench around the child process. User and system CPU and peak RSS (max resident set size) come from GNU time (`/usr/bin/time -f '%e %U %S %M'`), which reads the child's rusage; they have 10 ms and 1 KiB resolution.",
                "- Archive size is the total of the archive folder (database, WAL, shared memory) after the first poll's process has exited.",
                "- feeds/s and items/s are feeds (or feed items) divided by the median wall time.",
            ]
            .join("\n")
        );
        o
    }
}
