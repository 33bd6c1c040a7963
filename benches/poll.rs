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
//! In the same run and on the same served corpus it also times three peers
//! (issue 7): a requests + feedparser + SQLite loop and the Python `reader`
//! library (both scripts in bench/peers/), and Newsboat (`newsboat -x
//! reload`). Each gets tickerfeed's concurrency, a fresh database on disk
//! per run, a first poll and a re-poll, and is measured the same way; runs
//! interleave the tools so that machine noise hits all of them alike. The
//! report adds a side-by-side table, peer / tickerfeed ratios and the
//! issue's targets against the fastest (and smallest) peer. A peer whose
//! tool is missing is reported as skipped, not a crash.
//!
//! It measures a process, not a function, on purpose: start-up, opening
//! SQLite, the HTTP client, the async runtime and logging are part of what a
//! `poll` costs, and none of them would show up in an in-process loop.
//! Wall time comes from the bench's own clock; user and system CPU time and
//! peak RSS come from GNU time (`/usr/bin/time`, Debian package `time`),
//! because std has no `wait4` to read a child's rusage.
//!
//! Run without `--bench` (as `cargo test --benches` does) it becomes a smoke
//! test: a tiny corpus, one run, the same checks, no peers, no results file.
//!
//! Settings come from the environment (see bench/README.md):
//! `TF_BENCH_FEEDS` (200), `TF_BENCH_ITEMS` (50), `TF_BENCH_RUNS` (5),
//! `TF_BENCH_HOSTS` (one per feed), `TF_BENCH_CONCURRENCY` (16),
//! `TF_BENCH_GZIP` (1), `TF_BENCH_BIN` (the binary cargo built alongside
//! this bench), `TF_BENCH_PEERS` (1 with `--bench`; 0 turns the peers off),
//! `TF_BENCH_PYTHON` (python3), `TF_BENCH_FEATURES` (0; 1 adds a `[market]`
//! of named instruments and views with include rules to the config, and
//! company names to some items, so mentions and rule hits are recorded and
//! checked), and `TF_BENCH_SERVE=1`, which only serves the corpus and
//! writes the config, for profiling by hand.
//!
//! In bench mode it writes `bench/results/poll-<feeds>x<items>[-features]`
//! `.md` (the report) and `.json` (the headline figures, which
//! bench/growth.py tabulates and plots across sizes). The smoke test runs
//! both modes.

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
/// And against the peers (issue 20; issue 7 asked 5x): the fastest peer's
/// wall time over tickerfeed's, for the first poll and for the re-poll
/// (tickerfeed's peak RSS must also be no higher than the smallest peer's).
const TARGET_PEER_SPEEDUP: f64 = 10.0;
/// Issue 20: the CPU (user + system) of a first poll.
const TARGET_FIRST_CPU_S: f64 = 0.45;

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
    if bench_mode {
        bench(&settings, &bin, true);
    } else {
        // The smoke test runs both modes: the plain pipeline, and the one
        // with `[market]` and view rules, whose extra checks (mentions and
        // rule hits in the archive) must hold too.
        for features in [false, true] {
            bench(
                &Settings {
                    features,
                    ..settings.clone()
                },
                &bin,
                false,
            );
        }
    }
}

/// Generates and serves the corpus for `settings`, runs and checks every
/// run, and prints the report (and, in bench mode, writes it).
fn bench(settings: &Settings, bin: &Path, bench_mode: bool) {
    // One listening port per "host": tickerfeed limits requests per host
    // and port, and 200 real feeds come from many hosts, not one.
    let listeners: Vec<std::net::TcpListener> = (0..settings.hosts)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("bind the feed server"))
        .collect();
    let addrs: Vec<SocketAddr> = listeners
        .iter()
        .map(|l| l.local_addr().expect("feed server address"))
        .collect();
    let started = Instant::now();
    let corpus = Arc::new(Corpus::generate(settings, &addrs));
    eprintln!(
        "corpus generated in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let server = FeedServer::start(listeners, Arc::clone(&corpus), settings.gzip);

    if settings.serve_only {
        serve_for_profiling(settings, &corpus);
        return;
    }

    let peers = if settings.peers {
        Peers::detect(settings)
    } else {
        Peers::off()
    };
    for p in &peers.skipped {
        eprintln!("peer {} skipped: {}", p.name, p.reason);
    }

    let machine = Machine::describe();
    eprintln!(
        "poll bench: {} feeds x {} items ({} KiB of feeds) over {} hosts, {}, concurrency {}, gzip {}, {} run(s); binary {}",
        settings.feeds,
        settings.items,
        corpus.raw_bytes / 1024,
        settings.hosts,
        settings.mode(),
        settings.concurrency,
        if settings.gzip { "on" } else { "off" },
        settings.runs,
        bin.display()
    );

    // Each run times every tool in turn (tickerfeed, then each peer), so
    // that a burst of other work on the machine lands on all of them.
    let mut runs = Vec::new();
    for run in 1..=settings.runs {
        let mut r = run_once(settings, &corpus, &server, bin);
        eprintln!(
            "  run {run}/{}: tickerfeed: first poll {:.3} s, re-poll {:.3} s",
            settings.runs, r.first.wall_s, r.repoll.wall_s
        );
        for peer in &peers.available {
            let p = run_peer(peer, settings, &corpus, &server);
            eprintln!(
                "  run {run}/{}: {}: first poll {:.3} s, re-poll {:.3} s, {} items stored",
                settings.runs, peer.name, p.first.wall_s, p.repoll.wall_s, p.stored
            );
            r.peers.push(p);
        }
        runs.push(r);
    }

    let report = Report {
        settings,
        corpus: &corpus,
        machine: &machine,
        bin,
        runs: &runs,
        peers: &peers,
    };
    print!("{}", report.text_table());
    if bench_mode {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/results");
        std::fs::create_dir_all(&dir).expect("create bench/results");
        let stem = settings.results_stem();
        let path = dir.join(format!("{stem}.md"));
        std::fs::write(&path, report.markdown()).expect("write the results file");
        println!("written to {}", path.display());
        // The same figures for bench/growth.py, which tabulates and plots
        // every size.
        let path = dir.join(format!("{stem}.json"));
        let json = serde_json::to_string_pretty(&report.json()).expect("figures are JSON");
        std::fs::write(&path, json + "\n").expect("write the results file");
        println!("written to {}", path.display());
    }
    server.stop();
}

// ---------------------------------------------------------------------------
// Settings

#[derive(Clone)]
struct Settings {
    feeds: usize,
    items: usize,
    /// Distinct hosts (loopback ports) the feeds are spread over.
    hosts: usize,
    runs: usize,
    concurrency: usize,
    gzip: bool,
    serve_only: bool,
    /// Time the peers too (bench mode only).
    peers: bool,
    /// The Python interpreter the Python peers run under.
    python: String,
    /// Features on: a `[market]` of named instruments and views with
    /// include rules in the config, and company names in some items, so
    /// the mention matcher and the rule index do their work in the poll.
    features: bool,
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
            // The smoke test checks the bench, not the peers (and CI has
            // none of them installed).
            peers: bench_mode && flag("TF_BENCH_PEERS", true),
            python: std::env::var("TF_BENCH_PYTHON").unwrap_or_else(|_| "python3".into()),
            features: flag("TF_BENCH_FEATURES", false),
        }
    }

    /// Which mode ran, for the report.
    fn mode(&self) -> &'static str {
        if self.features {
            "features on ([market] of 8 named instruments, 4 views with 3 include rules)"
        } else {
            "features off (no [market], no views)"
        }
    }

    /// `poll-200x50` or `poll-200x50-features`: the results files' name.
    fn results_stem(&self) -> String {
        format!(
            "poll-{}x{}{}",
            self.feeds,
            self.items,
            if self.features { "-features" } else { "" }
        )
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
    /// Features on: distinct articles that name one of [`INSTRUMENTS`]
    /// (each names one, so this is the `item_mentions` rows a correct
    /// first poll records).
    mentioning: usize,
    /// Distinct wire articles: what the `wire` view's URL rule matches.
    wire_articles: usize,
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
/// Features on: 1 in this many of a feed's own articles, and of the wire
/// articles, names one of [`INSTRUMENTS`].
const MENTION_EVERY: usize = 8;
/// The example config's `[market]` (config.toml): symbol and names. With
/// features on the bench configures these, and some items name them.
const INSTRUMENTS: &[(&str, &[&str])] = &[
    ("RELX", &["RELX plc"]),
    ("NGG", &["National Grid"]),
    ("GSK", &["GSK plc", "GlaxoSmithKline"]),
    ("BTI", &["British American Tobacco"]),
    ("RIO", &["Rio Tinto"]),
    ("VOD", &["Vodafone"]),
    ("BP", &["BP plc"]),
    ("AZN", &["AstraZeneca"]),
];

/// Features on: puts the `n`th instrument's first name at the head of the
/// title, and every other time a cashtag for it in the text too (the same
/// symbol, so still one mention).
fn name_company(a: &mut Article, n: usize) {
    let (symbol, names) = INSTRUMENTS[n % INSTRUMENTS.len()];
    a.title = format!("{}: {}", names[0], a.title);
    if n % 2 == 1 {
        a.html = format!("<p>Shares of ${symbol} moved on the news.</p>\n{}", a.html);
    }
}
/// On average, each wire article appears in this many feeds.
const COPIES_PER_WIRE_ARTICLE: usize = 4;

impl Corpus {
    fn generate(s: &Settings, addrs: &[SocketAddr]) -> Corpus {
        let mut rng = Rng(0x7469_636b_6572_6665);
        let shared_per_feed = (0..s.items).filter(|i| i % SHARED_EVERY == 2).count();
        let pool_size = (s.feeds * shared_per_feed / COPIES_PER_WIRE_ARTICLE).max(shared_per_feed);
        let mut wire: Vec<Article> = (0..pool_size)
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
        // After the generation, so that the rng's sequence (and so the
        // corpus) is the same in both modes apart from the names.
        let mentions_wire = |k: usize| s.features && k % MENTION_EVERY == 1;
        for (k, w) in wire.iter_mut().enumerate() {
            if mentions_wire(k) {
                name_company(w, k / MENTION_EVERY);
            }
        }

        let mut corpus = Corpus {
            feeds: Vec::new(),
            docs: HashMap::new(),
            items: 0,
            articles: 0,
            rss_feeds: 0,
            atom_feeds: 0,
            raw_bytes: 0,
            gzip_bytes: 0,
            mentioning: 0,
            wire_articles: 0,
        };
        // Feed documents before gzip, which runs on every core at the end.
        let mut plain: Vec<(String, String, &'static str)> = Vec::with_capacity(s.feeds);
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
                    let mut a = Article {
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
                    };
                    if s.features && (f + i) % MENTION_EVERY == 0 {
                        name_company(&mut a, f + i / MENTION_EVERY);
                        corpus.mentioning += 1;
                    }
                    articles.push(a);
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
            corpus.raw_bytes += body.len();
            plain.push((file.clone(), body, content_type));
            corpus.feeds.push((
                name,
                format!("http://{}/feeds/{file}", addrs[f % addrs.len()]),
            ));
        }
        corpus.articles += wire_used.len();
        corpus.wire_articles = wire_used.len();
        corpus.mentioning += wire_used.iter().filter(|k| mentions_wire(**k)).count();
        drop(wire);
        // gzip is most of the generation time at 100,000 feeds (about
        // 1.4 GB of XML): split it over the cores.
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let chunk = plain.len().div_ceil(threads).max(1);
        let done: Vec<Vec<(String, Doc)>> = std::thread::scope(|scope| {
            let workers: Vec<_> = plain
                .chunks_mut(chunk)
                .map(|part| {
                    scope.spawn(move || {
                        part.iter_mut()
                            .map(|(file, body, content_type)| {
                                let body = std::mem::take(body).into_bytes();
                                let doc = Doc {
                                    etag: format!("\"{:016x}\"", fnv1a(&body)),
                                    gzipped: gzip(&body),
                                    body,
                                    content_type,
                                };
                                (std::mem::take(file), doc)
                            })
                            .collect()
                    })
                })
                .collect();
            workers
                .into_iter()
                .map(|w| w.join().expect("gzip worker"))
                .collect()
        });
        for (file, doc) in done.into_iter().flatten() {
            corpus.gzip_bytes += doc.gzipped.len();
            corpus.docs.insert(file, doc);
        }
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
    conditional: AtomicU64,
    gzipped: AtomicU64,
}

/// What the server answered while one process ran: the evidence that a
/// tool really fetched every feed, and how it asked.
#[derive(Clone, Copy, Default)]
struct Served {
    /// 200 with a body.
    ok: u64,
    /// 304 to a conditional request.
    not_modified: u64,
    /// Anything else (unknown paths).
    other: u64,
    /// Requests carrying If-None-Match or If-Modified-Since.
    conditional: u64,
    /// 200s whose body went out gzipped.
    gzipped: u64,
}

impl Served {
    fn requests(&self) -> u64 {
        self.ok + self.not_modified + self.other
    }
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
            conditional: c.conditional.swap(0, Ordering::Relaxed),
            gzipped: c.gzipped.swap(0, Ordering::Relaxed),
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
    let if_none_match = req.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok());
    let if_modified_since = req
        .get(header::IF_MODIFIED_SINCE)
        .and_then(|v| v.to_str().ok());
    if if_none_match.is_some() || if_modified_since.is_some() {
        c.conditional.fetch_add(1, Ordering::Relaxed);
    }
    // If-None-Match wins over If-Modified-Since (RFC 9110 13.2.2); the
    // weak comparison is what a GET uses. If-Modified-Since counts only
    // without it, as on real servers, so a client that keeps only the date
    // still gets its 304.
    let matches = match if_none_match {
        Some(v) => v.split(',').any(|t| {
            let t = t.trim();
            t == "*" || t.trim_start_matches("W/") == doc.etag
        }),
        None => if_modified_since
            .and_then(|v| httpdate::parse_http_date(v).ok())
            .is_some_and(|since| since >= std::time::SystemTime::from(base_time())),
    };
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
        c.gzipped.fetch_add(1, Ordering::Relaxed);
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
    if s.features {
        c.push_str(&features_config());
    }
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

/// Features on: the example config's `[market]`, whose provider answers
/// nowhere, and views of each kind of criterion, three of them with
/// include rules (title, URL, any field), whose matches the store records
/// at ingest.
fn features_config() -> String {
    // A port nothing listens on: bound once to find a free one, then
    // closed. The board's refresh beside the poll is refused at once, so
    // the bench never reaches the internet and the items get no quotes.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("find a free port");
    let symbols: Vec<String> = INSTRUMENTS
        .iter()
        .map(|(symbol, names)| {
            let names: Vec<String> = names.iter().map(|n| format!("{n:?}")).collect();
            format!(
                "  {{ symbol = \"{symbol}\", names = [{}] }},\n",
                names.join(", ")
            )
        })
        .collect();
    format!(
        r#"
[market]
provider = "yahoo"
base_url = "http://{closed}"
# 29 February: the daemon would never refresh; `poll` refreshes once.
schedule = "0 0 29 2 *"
symbols = [
{}]

[[views]]
name = "uk-majors"
tags = ["business"]
symbols = ["BP", "AZN", "GSK", "RELX"]

[[views]]
name = "inflation"
include = [{{ title = "(?i)\\binflation\\b" }}]

[[views]]
name = "wire"
include = [{{ url = "^https://wire\\.example/" }}]

[[views]]
name = "deals"
include = [{{ any = "(?i)\\b(merger|M&A)\\b" }}]
"#,
        symbols.concat()
    )
}

/// Features on: what the first poll recorded, read from the archive.
#[derive(Clone, Default)]
struct Recorded {
    mentions: u64,
    /// Per view rule: its pattern and the items it matched.
    rule_hits: Vec<(String, u64)>,
}

impl Recorded {
    fn read(db: &Path) -> Recorded {
        let conn =
            rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
                .unwrap_or_else(|e| panic!("open {}: {e}", db.display()));
        let mentions = conn
            .query_row("SELECT count(*) FROM item_mentions", [], |r| {
                r.get::<_, i64>(0)
            })
            .unwrap_or_else(|e| panic!("count mentions in {}: {e}", db.display()));
        let rule_hits = conn
            .prepare(
                "SELECT r.pattern, count(h.item_id) FROM rules r
                 LEFT JOIN rule_hits h ON h.rule_id = r.id GROUP BY r.id ORDER BY r.id",
            )
            .and_then(|mut st| {
                st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?
                    .collect::<Result<Vec<_>, _>>()
            })
            .unwrap_or_else(|e| panic!("count rule hits in {}: {e}", db.display()));
        Recorded {
            mentions: mentions.max(0) as u64,
            rule_hits: rule_hits
                .into_iter()
                .map(|(p, n)| (p, n.max(0) as u64))
                .collect(),
        }
    }

    fn text(&self) -> String {
        let hits: Vec<String> = self
            .rule_hits
            .iter()
            .map(|(p, n)| format!("`{p}` {n}"))
            .collect();
        format!(
            "{} mentions recorded; rule hits: {}",
            self.mentions,
            hits.join(", ")
        )
    }
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

/// tickerfeed's poll summary line, and its phases from the log.
struct Summary {
    polled: usize,
    failed: usize,
    new: usize,
    phases: Option<Phases>,
}

struct Run {
    first: Measured,
    repoll: Measured,
    /// New items the first poll reported (checked: the distinct articles).
    first_new: usize,
    archive_bytes: u64,
    /// Features on: mentions and rule hits the first poll recorded.
    recorded: Option<Recorded>,
    /// Where each poll's time went, from its log.
    first_phases: Option<Phases>,
    repoll_phases: Option<Phases>,
    /// One per available peer, in `Peers::available` order.
    peers: Vec<PeerRun>,
}

fn run_once(s: &Settings, corpus: &Corpus, server: &FeedServer, bin: &Path) -> Run {
    let dir = tempfile::Builder::new()
        .prefix("tickerfeed-bench-")
        .tempdir()
        .expect("temp dir");
    let config = write_config(dir.path(), s, corpus);
    let (first, first_sum) = poll(bin, &config, dir.path(), server);
    let archive_bytes = dir_size(&dir.path().join("archive"));
    let recorded = s
        .features
        .then(|| Recorded::read(&dir.path().join("archive/tickerfeed.db")));
    let (repoll, repoll_sum) = poll(bin, &config, dir.path(), server);

    let mut problems = check_run(s, corpus, (&first, &first_sum), (&repoll, &repoll_sum));
    if let Some(rec) = &recorded {
        problems.extend(check_recorded(corpus, rec));
    }
    if !problems.is_empty() {
        panic!(
            "the poll did not do what the bench expects:\n  {}",
            problems.join("\n  ")
        );
    }
    Run {
        first,
        repoll,
        first_new: first_sum.new,
        archive_bytes,
        recorded,
        first_phases: first_sum.phases,
        repoll_phases: repoll_sum.phases,
        peers: Vec::new(),
    }
}

/// Features on: every article naming a company got its one mention, and
/// every view rule matched something (the wire rule exactly the wire
/// articles).
fn check_recorded(corpus: &Corpus, rec: &Recorded) -> Vec<String> {
    let mut p = Vec::new();
    if rec.mentions != corpus.mentioning as u64 {
        p.push(format!(
            "first poll: {} mentions recorded, expected {} (one per article naming a company)",
            rec.mentions, corpus.mentioning
        ));
    }
    if rec.rule_hits.len() != 3 {
        p.push(format!(
            "first poll: {} view rules in the archive, expected 3",
            rec.rule_hits.len()
        ));
    }
    for (pattern, hits) in &rec.rule_hits {
        let expected = pattern
            .contains("wire")
            .then_some(corpus.wire_articles as u64);
        if *hits == 0 || expected.is_some_and(|e| e != *hits) {
            p.push(format!(
                "first poll: rule {pattern:?} matched {hits} items (expected {})",
                expected.map_or_else(|| "some".into(), |e| e.to_string())
            ));
        }
    }
    p
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
    // The log's clock, to place its lines against the process start.
    #[allow(clippy::disallowed_methods)]
    let spawned: DateTime<Utc> = std::time::SystemTime::now().into();
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
    let mut summary = parse_summary(&stdout).unwrap_or_else(|| {
        panic!(
            "no summary line in the poll's output:\n{}",
            tail(&stdout, 20)
        )
    });
    summary.phases = Phases::from_log(&String::from_utf8_lossy(&out.stderr), spawned, m.wall_s);
    (m, summary)
}

/// Where a `tickerfeed poll`'s wall time went, from its log: the
/// `archive opened` line (`app::open`, with its steps) and the `poll pass
/// finished` line (`scheduler::poll_once`), placed by their timestamps
/// against the moment the bench started the process. Seconds.
#[derive(Clone, Copy, Default)]
struct Phases {
    /// Process start, reading and checking the config, logging set up.
    start: f64,
    /// `app::open`: the archive opened and migrated, feeds, alerts and
    /// rules synced into it, clients and the board set up.
    open: f64,
    /// Of `open`: the feeds synced into the archive.
    feeds_sync: f64,
    /// From the archive opened to the pass starting (the board refreshes
    /// beside the pass, so this is only the hand-over).
    board: f64,
    /// Every feed fetched and stored.
    polls: f64,
    /// The search index brought up to date at the end.
    search_index: f64,
    /// The rest: summary output, the store closing (a last checkpoint),
    /// the process exiting.
    exit: f64,
}

impl Phases {
    fn from_log(log: &str, spawned: DateTime<Utc>, wall_s: f64) -> Option<Phases> {
        // `2026-12-06T05:29:00.123456Z  INFO tickerfeed::app: archive opened feeds=6 elapsed_ms=12 ...`
        let line = |msg: &str| -> Option<(f64, HashMap<&str, f64>)> {
            let l = log.lines().find(|l| l.contains(msg))?;
            let at = DateTime::parse_from_rfc3339(l.split_whitespace().next()?).ok()?;
            let since_spawn = (at.with_timezone(&Utc) - spawned).as_seconds_f64();
            let fields = l
                .split_whitespace()
                .filter_map(|kv| kv.split_once('='))
                .filter_map(|(k, v)| Some((k, v.parse::<f64>().ok()? / 1000.0)))
                .collect();
            Some((since_spawn, fields))
        };
        let (opened_at, open) = line("archive opened")?;
        let (finished_at, pass) = line("poll pass finished")?;
        let open_s = *open.get("elapsed_ms")?;
        let polls = *pass.get("poll_ms")?;
        let search_index = *pass.get("search_index_ms")?;
        let start = opened_at - open_s;
        Some(Phases {
            start,
            open: open_s,
            feeds_sync: *open.get("feeds_sync_ms")?,
            board: (finished_at - search_index - polls) - opened_at,
            polls,
            search_index,
            exit: wall_s - finished_at,
        })
    }

    fn text(&self) -> String {
        format!(
            "start and config {:.2} s, archive open {:.2} s (feeds synced {:.2} s), board {:.2} s, \
             polls {:.2} s, search index {:.2} s, exit {:.2} s",
            self.start,
            self.open,
            self.feeds_sync,
            self.board,
            self.polls,
            self.search_index,
            self.exit
        )
    }

    fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "start_s": self.start,
            "open_s": self.open,
            "feeds_sync_s": self.feeds_sync,
            "board_s": self.board,
            "polls_s": self.polls,
            "search_index_s": self.search_index,
            "exit_s": self.exit,
        })
    }
}

/// Runs `cmd` (under GNU time when there is one) to completion, with the
/// bench's clock around it and the feed server's counts for just this
/// process. Every tool, tickerfeed or peer, is measured here, the same way.
/// The caller judges the exit status and output.
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
            phases: None,
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
    // The documents themselves, for `cargo bench --bench stages`.
    let docs = dir.join("corpus");
    std::fs::create_dir_all(&docs).expect("corpus dir");
    for (file, doc) in &corpus.docs {
        std::fs::write(docs.join(file), &doc.body).expect("write a corpus document");
    }
    println!(
        "serving {} feeds x {} items from {} loopback ports, {}\nconfig: {}\n\
         poll:   tickerfeed --config {} poll   (rm -r {}/archive for a first poll again)\n\
         stages: cargo bench --bench stages -- {}\n\
         close stdin or press Ctrl-C to stop",
        s.feeds,
        s.items,
        s.hosts,
        s.mode(),
        config.display(),
        config.display(),
        dir.display(),
        docs.display()
    );
    let _ = std::io::stdout().flush();
    let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
}

// ---------------------------------------------------------------------------
// The peers: the same corpus, polled by the tools issue 7 compares against

#[derive(Clone, Copy, PartialEq, Eq)]
enum PeerKind {
    /// bench/peers/feedparser_sqlite.py: requests + feedparser + sqlite3.
    FeedparserSqlite,
    /// bench/peers/reader_poll.py: the `reader` library.
    Reader,
    /// `newsboat -x reload`.
    Newsboat,
}

struct Peer {
    kind: PeerKind,
    name: &'static str,
    /// The Python interpreter, or the newsboat binary.
    program: PathBuf,
    /// Versions of what it runs, e.g. "feedparser 6.0.14, requests 2.34.2".
    version: String,
    /// The concurrency it was given, in its own terms.
    concurrency: String,
}

struct SkippedPeer {
    name: &'static str,
    reason: String,
}

struct Peers {
    /// False with `TF_BENCH_PEERS=0` and in the smoke test.
    enabled: bool,
    available: Vec<Peer>,
    skipped: Vec<SkippedPeer>,
    /// Version and path of the interpreter the Python peers ran under.
    python: Option<String>,
}

const FEEDPARSER_SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/bench/peers/feedparser_sqlite.py"
);
const READER_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/bench/peers/reader_poll.py");

impl Peers {
    fn off() -> Peers {
        Peers {
            enabled: false,
            available: Vec::new(),
            skipped: Vec::new(),
            python: None,
        }
    }

    /// Finds each peer's tool and its version; a missing one is skipped
    /// with the reason and how to install it.
    fn detect(s: &Settings) -> Peers {
        let mut peers = Peers {
            enabled: true,
            available: Vec::new(),
            skipped: Vec::new(),
            python: None,
        };
        let n = s.concurrency;
        let python_peers = [
            (
                PeerKind::FeedparserSqlite,
                "feedparser + SQLite",
                "import feedparser, requests; \
                 print('feedparser', feedparser.__version__ + ', requests', requests.__version__)",
                "pip install feedparser requests",
                format!("{n} threads fetch and parse, the main thread writes"),
            ),
            (
                PeerKind::Reader,
                "reader",
                // An import is not enough: reader loads its parser (and the
                // feedparser it bundles) on the first update, and reader
                // 3.x's bundled copy needs `sgmllib`, which feedparser
                // 6.0.12 and later no longer install. So the probe runs an
                // update against a closed port; only a failed import raises.
                "import reader; r = reader.make_reader(':memory:'); \
                 r.add_feed('http://127.0.0.1:9/probe'); \
                 list(r.update_feeds_iter(scheduled=False)); \
                 print('reader', reader.__version__)",
                "pip install reader sgmllib3k",
                format!("update_feeds_iter(workers={n})"),
            ),
        ];
        // Resolve the interpreter once and run it directly: through a pyenv
        // or asdf shim, every start would also pay for the shim's script.
        let probe = "import sys, sqlite3; print(sys.executable); \
                     print(sys.version.split()[0], sqlite3.sqlite_version)";
        match python_probe(Path::new(&s.python), probe) {
            Ok(out) => {
                let mut lines = out.lines();
                let exe = PathBuf::from(lines.next().unwrap_or(&s.python));
                let mut v = lines.next().unwrap_or("").split_whitespace();
                peers.python = Some(format!(
                    "Python {}, its sqlite3 module on SQLite {} (`{}`)",
                    v.next().unwrap_or("?"),
                    v.next().unwrap_or("?"),
                    exe.display()
                ));
                for (kind, name, probe, install, concurrency) in python_peers {
                    match python_probe(&exe, probe) {
                        Ok(version) => peers.available.push(Peer {
                            kind,
                            name,
                            program: exe.clone(),
                            version,
                            concurrency,
                        }),
                        Err(e) => peers.skipped.push(SkippedPeer {
                            name,
                            reason: format!("{e} ({install})"),
                        }),
                    }
                }
            }
            Err(e) => {
                for (_, name, ..) in python_peers {
                    peers.skipped.push(SkippedPeer {
                        name,
                        reason: format!("no Python: {e} (set TF_BENCH_PYTHON)"),
                    });
                }
            }
        }
        let newsboat = find_on_path("newsboat").ok_or_else(|| "no newsboat on PATH".to_string());
        let version = newsboat.and_then(|bin| {
            let out = Command::new(&bin)
                .arg("-v")
                .output()
                .map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
            let first = String::from_utf8_lossy(&out.stdout)
                .lines()
                .next()
                .unwrap_or("")
                .to_string();
            if out.status.success() && !first.is_empty() {
                Ok((bin, first))
            } else {
                Err(format!("`{} -v` failed ({})", bin.display(), out.status))
            }
        });
        match version {
            Ok((program, version)) => peers.available.push(Peer {
                kind: PeerKind::Newsboat,
                name: "Newsboat",
                program,
                version,
                concurrency: format!("reload-threads {n}"),
            }),
            Err(e) => peers.skipped.push(SkippedPeer {
                name: "Newsboat",
                reason: format!("{e} (apt-get install newsboat)"),
            }),
        }
        peers
    }
}

/// Runs `python -c code`; its stdout, or why it failed (the last line of
/// stderr, such as "ModuleNotFoundError: No module named 'reader'").
fn python_probe(python: &Path, code: &str) -> Result<String, String> {
    let out = Command::new(python)
        .arg("-c")
        .arg(code)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", python.display()))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        let stderr = String::from_utf8_lossy(&out.stderr);
        Err(stderr.lines().last().unwrap_or("failed").trim().to_string())
    }
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// One peer's first poll and re-poll, on a fresh database.
struct PeerRun {
    first: Measured,
    /// Newsboat only: the reload between the first poll and the re-poll,
    /// which it needs before it sends conditional requests (see `run_peer`).
    settle: Option<Measured>,
    repoll: Measured,
    /// Rows in the peer's item table after the first poll.
    stored: u64,
    /// And after the re-poll (which should add nothing).
    stored_after_repoll: u64,
    /// The database folder after the first poll.
    db_bytes: u64,
}

fn run_peer(peer: &Peer, s: &Settings, corpus: &Corpus, server: &FeedServer) -> PeerRun {
    let dir = tempfile::Builder::new()
        .prefix("tickerfeed-bench-peer-")
        .tempdir()
        .expect("temp dir");
    let d = dir.path();
    let urls = d.join("urls");
    let list: String = corpus.feeds.iter().map(|(_, u)| format!("{u}\n")).collect();
    std::fs::write(&urls, list).expect("write the peer's URL list");
    // The database gets its own folder, so its size includes -wal and
    // -shm files, as tickerfeed's archive size does.
    let db_dir = d.join("db");
    std::fs::create_dir(&db_dir).expect("create the peer's db folder");
    let n = s.concurrency.to_string();
    let (db, table) = match peer.kind {
        PeerKind::FeedparserSqlite => (db_dir.join("feeds.sqlite"), "entries"),
        PeerKind::Reader => (db_dir.join("reader.sqlite"), "entries"),
        PeerKind::Newsboat => (db_dir.join("cache.db"), "rss_item"),
    };
    // Newsboat exits 0 even when every feed fails; its error log is the
    // only place a failure shows.
    let error_log = d.join("newsboat-errors.log");
    if peer.kind == PeerKind::Newsboat {
        let home = d.join("home");
        std::fs::create_dir(&home).expect("create newsboat's home");
        let config = format!(
            "# Written by benches/poll.rs.\nreload-threads {n}\nerror-log \"{}\"\n",
            error_log.display()
        );
        std::fs::write(d.join("config"), config).expect("write newsboat's config");
    }
    let command = || {
        let mut c = Command::new(&peer.program);
        match peer.kind {
            PeerKind::FeedparserSqlite => {
                c.arg(FEEDPARSER_SCRIPT).arg(&urls).arg(&db).arg(&n);
            }
            PeerKind::Reader => {
                c.arg(READER_SCRIPT).arg(&urls).arg(&db).arg(&n);
            }
            PeerKind::Newsboat => {
                c.arg("-q")
                    .arg("-u")
                    .arg(&urls)
                    .arg("-c")
                    .arg(&db)
                    .arg("-C")
                    .arg(d.join("config"))
                    .arg("-x")
                    .arg("reload");
                // Keep it away from the real user's ~/.newsboat and XDG dirs.
                let home = d.join("home");
                c.env("HOME", &home)
                    .env("XDG_CONFIG_HOME", home.join(".config"))
                    .env("XDG_DATA_HOME", home.join(".local/share"))
                    .env("XDG_CACHE_HOME", home.join(".cache"));
            }
        }
        c
    };
    let invoke = |phase: &str| {
        let (m, out) = measure(command(), d, server);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let errors = std::fs::read_to_string(&error_log).unwrap_or_default();
        if !out.status.success() || !errors.trim().is_empty() {
            panic!(
                "peer {} failed in its {phase} ({}):\n{}\n{}\n{}",
                peer.name,
                out.status,
                tail(&stdout, 10),
                tail(&stderr, 20),
                tail(&errors, 10)
            );
        }
        m
    };

    let first = invoke("first poll");
    let db_bytes = dir_size(&db_dir);
    let stored = count_rows(&db, table);
    // Newsboat 2.x loses the ETag and Last-Modified of a feed's first
    // download (it saves them with an UPDATE before the feed's row is
    // inserted), so its second reload downloads everything again and only
    // the third is conditional. The re-poll the issue means is the
    // all-304 one, so that is the one timed; the second reload is measured
    // too and shown in the report, not hidden.
    let settle = (peer.kind == PeerKind::Newsboat).then(|| invoke("second reload"));
    let repoll = invoke("re-poll");
    let stored_after_repoll = count_rows(&db, table);

    // Timings of a peer that skipped feeds would mean nothing.
    let feeds = s.feeds as u64;
    let mut problems = Vec::new();
    if first.served.ok != feeds || first.served.requests() != feeds {
        problems.push(format!(
            "first poll: {} x 200 in {} requests for {feeds} feeds",
            first.served.ok,
            first.served.requests()
        ));
    }
    for (phase, m) in [
        ("second reload", settle.as_ref()),
        ("re-poll", Some(&repoll)),
    ] {
        let Some(m) = m else { continue };
        if m.served.requests() != feeds || m.served.other != 0 {
            problems.push(format!(
                "{phase}: {} requests ({} x 200, {} x 304, {} other) for {feeds} feeds",
                m.served.requests(),
                m.served.ok,
                m.served.not_modified,
                m.served.other
            ));
        }
    }
    if stored == 0 {
        problems.push(format!("first poll stored nothing in {table}"));
    }
    if !problems.is_empty() {
        panic!(
            "peer {} did not do the work the bench expects:\n  {}",
            peer.name,
            problems.join("\n  ")
        );
    }
    PeerRun {
        first,
        settle,
        repoll,
        stored,
        stored_after_repoll,
        db_bytes,
    }
}

/// Rows in one table of a peer's database, read by the bench itself rather
/// than trusting the peer's own summary.
fn count_rows(db: &Path, table: &str) -> u64 {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap_or_else(|e| panic!("open {}: {e}", db.display()));
    conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| {
        r.get::<_, i64>(0)
    })
    .map(|n| n.max(0) as u64)
    .unwrap_or_else(|e| panic!("count rows in {table} of {}: {e}", db.display()))
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
    peers: &'a Peers,
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
             {:.1} MiB of XML ({:.1} MiB gzipped, gzip {}), concurrency {}, {} run(s), each on a fresh archive; mode: {}",
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
            self.runs.len(),
            s.mode()
        )
    }

    /// Features on: what the first poll recorded (the median run's
    /// figures are the same in every run: the checks make them so).
    fn recorded_line(&self) -> Option<String> {
        let rec = self.runs.first()?.recorded.as_ref()?;
        Some(format!(
            "features on: {} of {} distinct articles name a company; {}",
            self.corpus.mentioning,
            self.corpus.articles,
            rec.text()
        ))
    }

    /// Where the time went, from the log of the run with the median first
    /// poll.
    fn phases_lines(&self) -> Vec<String> {
        let Some(run) = self.median_run() else {
            return Vec::new();
        };
        let mut lines = Vec::new();
        for (phase, p) in [
            ("first poll", run.first_phases),
            ("re-poll", run.repoll_phases),
        ] {
            if let Some(p) = p {
                lines.push(format!("{phase}, from its log: {}", p.text()));
            }
        }
        lines
    }

    fn median_run(&self) -> Option<&Run> {
        let mut runs: Vec<&Run> = self.runs.iter().collect();
        runs.sort_by(|a, b| a.first.wall_s.total_cmp(&b.first.wall_s));
        runs.get(runs.len() / 2).copied()
    }

    /// The headline figures as JSON, beside the markdown, for
    /// bench/growth.py.
    fn json(&self) -> serde_json::Value {
        let s = self.settings;
        let rows = self.rows();
        let phase = |r: &Row| {
            serde_json::json!({
                "wall_s": r.wall.median,
                "wall_min_s": r.wall.min,
                "wall_max_s": r.wall.max,
                "user_s": r.user.map(|x| x.median),
                "sys_s": r.sys.map(|x| x.median),
                "cpu_s": r.cpu.map(|x| x.median),
                "peak_rss_mib": r.rss_mib.map(|x| x.median),
                "server_cpu_s": r.server_cpu.map(|x| x.median),
            })
        };
        let archive = self.archive().median;
        let recorded = self.runs.first().and_then(|r| r.recorded.as_ref());
        serde_json::json!({
            "feeds": s.feeds,
            "items_per_feed": s.items,
            "items": self.corpus.items,
            "articles": self.corpus.articles,
            "hosts": s.hosts,
            "concurrency": s.concurrency,
            "gzip": s.gzip,
            "features": s.features,
            "mentions": recorded.map(|r| r.mentions),
            "rule_hits": recorded.map(|r| r.rule_hits.iter().map(|(_, n)| *n).sum::<u64>()),
            "runs": self.runs.len(),
            "xml_bytes": self.corpus.raw_bytes,
            "first_poll": phase(&rows[0]),
            "re_poll": phase(&rows[1]),
            "archive_bytes": archive,
            "archive_bytes_per_item": archive / self.corpus.items as f64,
            "archive_bytes_per_article": archive / self.corpus.articles as f64,
            "date": self.machine.date,
            "source": self.machine.source,
            "binary": self.bin.display().to_string(),
            "busy_cores_before": self.machine.busy_before,
            "first_poll_phases": self.median_run().and_then(|r| r.first_phases).map(|p| p.json()),
            "re_poll_phases": self.median_run().and_then(|r| r.repoll_phases).map(|p| p.json()),
            "cpus": self.machine.cpus,
        })
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
        if let Some(line) = self.recorded_line() {
            let _ = writeln!(o, "{line}");
        }
        for line in self.phases_lines() {
            let _ = writeln!(o, "{line}");
        }
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
        o.push_str(&self.peers_text());
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
        if let Some(line) = self.recorded_line() {
            let _ = writeln!(o, "- {}.", capitalise(&line));
        }
        for line in self.phases_lines() {
            let _ = writeln!(o, "- {}.", capitalise(&line));
        }
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
        for (i, r) in self.runs.iter().enumerate() {
            let _ = writeln!(
                o,
                "| {} | {:.3} | {} | {} | {:.3} | {} | {} | {} |",
                i + 1,
                r.first.wall_s,
                cpu_text(&r.first),
                rss_text(&r.first),
                r.repoll.wall_s,
                cpu_text(&r.repoll),
                rss_text(&r.repoll),
                r.archive_bytes
            );
        }
        o.push_str(&self.peers_markdown());
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
                "- Mode (`TF_BENCH_FEATURES`): with features off the config has no `[market]` and no views. With features on it has the example config's `[market]` (8 instruments with their names; the provider's address is a closed loopback port, so the board's refresh beside the poll fails at once and no quotes are stored) and four views: one of tags and symbols, and three with an include rule each (a title regex, a URL regex, an any-field regex), whose matches the store records at ingest. One in eight of each feed's own articles, and of the wire articles, names one of the companies in its title (every other one with a cashtag in its text too), so the mention matcher records mentions. The bench reads the archive after the first poll and checks one mention per such article and hits for every rule (the URL rule: exactly the wire articles).",
                "- feeds/s and items/s are feeds (or feed items) divided by the median wall time.",
                "- Peers (bench/README.md has the details): each is a child process measured exactly as tickerfeed is (the bench's clock, GNU time for CPU and peak RSS), on its own fresh database on disk in a temp dir, in the same runs, after tickerfeed. The feedparser loop and reader are bench/peers/*.py, run directly by the resolved Python interpreter (no shim); Newsboat runs as `newsboat -x reload` with HOME and the XDG dirs in the temp dir. The server's answers (200 or 304, conditional requests, gzip) are counted per process, and each peer's stored rows are read from its database by the bench.",
            ]
            .join("\n")
        );
        o
    }
}

/// One phase (first poll or re-poll) of one tool, over the runs.
struct PhaseStats {
    wall: Stat,
    cpu: Option<Stat>,
    rss_mib: Option<Stat>,
}

impl PhaseStats {
    fn of(m: &[&Measured]) -> PhaseStats {
        PhaseStats {
            wall: Stat::of(m.iter().map(|m| m.wall_s)).expect("at least one run"),
            cpu: Stat::of_opt(m.iter().map(|m| Some(m.user_s? + m.sys_s?))),
            rss_mib: Stat::of_opt(m.iter().map(|m| m.max_rss_kib.map(|k| k / 1024.0))),
        }
    }
}

/// One tool over the runs, for the tables that set the tools side by side.
struct ToolRow {
    name: String,
    first: PhaseStats,
    repoll: PhaseStats,
    /// tickerfeed: new items of the first poll; a peer: rows in its item
    /// table after the first poll.
    stored: Stat,
    db_mib: Stat,
    served_first: Vec<Served>,
    served_repoll: Vec<Served>,
}

impl ToolRow {
    /// The higher of the two phases' median peak RSS.
    fn peak_rss_mib(&self) -> Option<f64> {
        Some(self.first.rss_mib?.median.max(self.repoll.rss_mib?.median))
    }
}

/// "200 x 200, 0 x 304; 0 conditional, 200 gzip", with a range where the
/// runs differ.
fn answers(served: &[Served]) -> String {
    let range = |f: fn(&Served) -> u64| {
        let min = served.iter().map(f).min().unwrap_or(0);
        let max = served.iter().map(f).max().unwrap_or(0);
        if min == max {
            min.to_string()
        } else {
            format!("{min}-{max}")
        }
    };
    let mut s = format!(
        "{} x 200, {} x 304",
        range(|s| s.ok),
        range(|s| s.not_modified)
    );
    if served.iter().any(|s| s.other > 0) {
        let _ = write!(s, ", {} other", range(|s| s.other));
    }
    let _ = write!(
        s,
        "; {} conditional, {} gzip",
        range(|s| s.conditional),
        range(|s| s.gzipped)
    );
    s
}

/// Each peer's name and its first-poll, re-poll and peak-RSS ratios to
/// tickerfeed (`tools[0]`), for the printed and the markdown report.
fn ratio_rows(tools: &[ToolRow]) -> Vec<[String; 4]> {
    let tf = &tools[0];
    tools[1..]
        .iter()
        .map(|t| {
            let rss = match (t.peak_rss_mib(), tf.peak_rss_mib()) {
                (Some(a), Some(b)) => ratio(a, b),
                _ => "n/a".into(),
            };
            [
                t.name.to_string(),
                ratio(t.first.wall.median, tf.first.wall.median),
                ratio(t.repoll.wall.median, tf.repoll.wall.median),
                rss,
            ]
        })
        .collect()
}

fn ratio(peer: f64, tickerfeed: f64) -> String {
    format!("{:.1}x", peer / tickerfeed)
}

impl Report<'_> {
    /// tickerfeed first, then each peer that ran.
    fn tools(&self) -> Vec<ToolRow> {
        let runs = self.runs;
        let mut tools = vec![ToolRow {
            name: "tickerfeed".into(),
            first: PhaseStats::of(&runs.iter().map(|r| &r.first).collect::<Vec<_>>()),
            repoll: PhaseStats::of(&runs.iter().map(|r| &r.repoll).collect::<Vec<_>>()),
            stored: Stat::of(runs.iter().map(|r| r.first_new as f64)).expect("at least one run"),
            db_mib: Stat::of(runs.iter().map(|r| mib(r.archive_bytes as f64)))
                .expect("at least one run"),
            served_first: runs.iter().map(|r| r.first.served).collect(),
            served_repoll: runs.iter().map(|r| r.repoll.served).collect(),
        }];
        for (i, peer) in self.peers.available.iter().enumerate() {
            let p: Vec<&PeerRun> = runs.iter().map(|r| &r.peers[i]).collect();
            tools.push(ToolRow {
                name: peer.name.into(),
                first: PhaseStats::of(&p.iter().map(|p| &p.first).collect::<Vec<_>>()),
                repoll: PhaseStats::of(&p.iter().map(|p| &p.repoll).collect::<Vec<_>>()),
                stored: Stat::of(p.iter().map(|p| p.stored as f64)).expect("at least one run"),
                db_mib: Stat::of(p.iter().map(|p| mib(p.db_bytes as f64)))
                    .expect("at least one run"),
                served_first: p.iter().map(|p| p.first.served).collect(),
                served_repoll: p.iter().map(|p| p.repoll.served).collect(),
            });
        }
        tools
    }

    /// One line per target of the issue that compares against the peers.
    fn peer_targets(&self, tools: &[ToolRow]) -> Vec<String> {
        let Some((tf, peers)) = tools.split_first().filter(|(_, p)| !p.is_empty()) else {
            return vec!["no peer ran, so the targets against peers are not judged".into()];
        };
        let judged = (self.settings.feeds, self.settings.items) == (200, 50);
        let verdict = |ok: bool| {
            if !judged {
                "not judged (the target is for 200 x 50)"
            } else if ok {
                "met"
            } else {
                "MISSED"
            }
        };
        let mut lines = Vec::new();
        type Wall = fn(&ToolRow) -> f64;
        let phases: [(&str, Wall); 2] = [
            ("first poll", |t| t.first.wall.median),
            ("re-poll", |t| t.repoll.wall.median),
        ];
        for (phase, wall) in phases {
            let fastest = peers
                .iter()
                .min_by(|a, b| wall(a).total_cmp(&wall(b)))
                .expect("at least one peer");
            let speedup = wall(fastest) / wall(tf);
            lines.push(format!(
                "{phase}: fastest peer {} {:.3} s / tickerfeed {:.3} s = {:.1}x (target >= {TARGET_PEER_SPEEDUP}x): {}",
                fastest.name,
                wall(fastest),
                wall(tf),
                speedup,
                verdict(speedup >= TARGET_PEER_SPEEDUP)
            ));
        }
        match tf.first.cpu {
            Some(cpu) => lines.push(format!(
                "first poll CPU: tickerfeed {:.3} s (target < {TARGET_FIRST_CPU_S} s): {}",
                cpu.median,
                verdict(cpu.median < TARGET_FIRST_CPU_S)
            )),
            None => lines.push(format!(
                "first poll CPU: not measured (no {GNU_TIME}), so not judged"
            )),
        }
        let smallest = peers
            .iter()
            .filter_map(|p| Some((p, p.peak_rss_mib()?)))
            .min_by(|a, b| a.1.total_cmp(&b.1));
        match (tf.peak_rss_mib(), smallest) {
            (Some(tf_rss), Some((p, p_rss))) => lines.push(format!(
                "peak RSS: tickerfeed {tf_rss:.1} MiB, smallest peer {} {p_rss:.1} MiB (target: no higher): {}",
                p.name,
                verdict(tf_rss <= p_rss)
            )),
            _ => lines.push(format!(
                "peak RSS: not measured (no {GNU_TIME}), so not judged"
            )),
        }
        lines
    }

    /// What each tool stored, and anything else about how it behaved that
    /// a reader of the numbers should see.
    fn tool_notes(&self, tools: &[ToolRow]) -> Vec<String> {
        let c = self.corpus;
        let mut notes = vec![format!(
            "items stored: tickerfeed's count is its first poll's new items, each distinct article once \
             (it merges an article shared by several feeds by its canonical link): {} for {} feed items. \
             A peer's count is the rows in its item table (feedparser loop and reader: `entries`, \
             Newsboat: `rss_item`), read by the bench after the first poll; they key items per feed, \
             so one row per feed item ({}) is what doing all the work looks like",
            c.articles, c.items, c.items
        )];
        for t in tools.iter().skip(1) {
            if t.stored.min != c.items as f64 || t.stored.max != c.items as f64 {
                notes.push(format!(
                    "{} stored {} rows, not one per feed item ({})",
                    t.name,
                    stat_count(t.stored),
                    c.items
                ));
            }
        }
        for (i, peer) in self.peers.available.iter().enumerate() {
            let changed: Vec<String> = self
                .runs
                .iter()
                .map(|r| &r.peers[i])
                .filter(|p| p.stored_after_repoll != p.stored)
                .map(|p| format!("{} -> {}", p.stored, p.stored_after_repoll))
                .collect();
            if !changed.is_empty() {
                notes.push(format!(
                    "{}: the re-poll changed its row count ({})",
                    peer.name,
                    changed.join(", ")
                ));
            }
        }
        for (i, peer) in self.peers.available.iter().enumerate() {
            let settles: Vec<&Measured> = self
                .runs
                .iter()
                .filter_map(|r| r.peers[i].settle.as_ref())
                .collect();
            if let Some(wall) = Stat::of(settles.iter().map(|m| m.wall_s)) {
                let served: Vec<Served> = settles.iter().map(|m| m.served).collect();
                notes.push(format!(
                    "{} forgets a new feed's ETag and Last-Modified (it saves them before the feed's row exists), \
                     so its second reload downloads everything again: {}, {:.3} s median. \
                     The bench runs that reload between the first poll and the re-poll, and times the third as the re-poll",
                    peer.name,
                    answers(&served),
                    wall.median
                ));
            }
        }
        for t in tools.iter().skip(1) {
            if t.served_repoll.iter().any(|s| s.ok > 0) {
                notes.push(format!(
                    "{} did not get a 304 for every feed on the re-poll ({}): it re-downloaded and re-parsed those feeds",
                    t.name,
                    answers(&t.served_repoll)
                ));
            }
        }
        notes
    }

    fn peers_text(&self) -> String {
        let mut o = String::new();
        let p = self.peers;
        if !p.enabled {
            let _ = writeln!(
                o,
                "\npeers: not timed (TF_BENCH_PEERS=0, or the smoke test)"
            );
            return o;
        }
        let tools = self.tools();
        let _ = writeln!(
            o,
            "\npeers: same corpus, same runs (interleaved), concurrency {} each; medians",
            self.settings.concurrency
        );
        let _ = writeln!(
            o,
            "{:<20} {:>8} {:>6} {:>8}  {:>8} {:>6} {:>8}  {:>7}  re-poll answers",
            "tool", "first s", "CPU s", "RSS MiB", "re-poll", "CPU s", "RSS MiB", "stored"
        );
        for t in &tools {
            let _ = writeln!(
                o,
                "{:<20} {:>8.3} {:>6} {:>8}  {:>8.3} {:>6} {:>8}  {:>7}  {}",
                t.name,
                t.first.wall.median,
                fmt_opt(t.first.cpu, 2),
                fmt_opt(t.first.rss_mib, 1),
                t.repoll.wall.median,
                fmt_opt(t.repoll.cpu, 2),
                fmt_opt(t.repoll.rss_mib, 1),
                stat_count(t.stored),
                answers(&t.served_repoll)
            );
        }
        if tools.len() > 1 {
            let _ = writeln!(
                o,
                "\n{:<20} {:>11} {:>9} {:>9}",
                "peer / tickerfeed", "first wall", "re-poll", "peak RSS"
            );
            for [name, first, repoll, rss] in ratio_rows(&tools) {
                let _ = writeln!(o, "{name:<20} {first:>11} {repoll:>9} {rss:>9}");
            }
        }
        let _ = writeln!(o);
        for line in self.peer_targets(&tools) {
            let _ = writeln!(o, "target: {line}");
        }
        for note in self.tool_notes(&tools).iter().skip(1) {
            let _ = writeln!(o, "note: {note}");
        }
        for s in &p.skipped {
            let _ = writeln!(o, "skipped: {}: {}", s.name, s.reason);
        }
        o
    }

    fn peers_markdown(&self) -> String {
        let mut o = String::new();
        let p = self.peers;
        let s = self.settings;
        let _ = writeln!(o, "\n## Peers: the same corpus, in the same runs\n");
        if !p.enabled {
            let _ = writeln!(o, "Not timed in this run (`TF_BENCH_PEERS=0`).");
            return o;
        }
        let tools = self.tools();
        let _ = writeln!(
            o,
            "Each run timed every tool in turn ({}) on the same served corpus, each on a fresh database on disk: \
             a first poll, then a re-poll. Medians over {} run(s), min-max in brackets. Each tool got the same concurrency ({}).\n",
            std::iter::once("tickerfeed")
                .chain(p.available.iter().map(|p| p.name))
                .collect::<Vec<_>>()
                .join(", "),
            self.runs.len(),
            s.concurrency
        );
        let _ = writeln!(
            o,
            "| tool | first poll wall s | CPU s | peak RSS MiB | re-poll wall s | CPU s | peak RSS MiB | items stored | server answers, first poll | server answers, re-poll | DB MiB |"
        );
        let _ = writeln!(o, "|---|---|---|---|---|---|---|---|---|---|---|");
        let range = |s: Option<Stat>, d: usize| {
            s.map_or_else(
                || "n/a".into(),
                |s| format!("{:.*} ({:.*}-{:.*})", d, s.median, d, s.min, d, s.max),
            )
        };
        for t in &tools {
            let _ = writeln!(
                o,
                "| {} | **{}** | {} | {} | **{}** | {} | {} | {} | {} | {} | {:.1} |",
                t.name,
                range(Some(t.first.wall), 3),
                range(t.first.cpu, 2),
                range(t.first.rss_mib, 1),
                range(Some(t.repoll.wall), 3),
                range(t.repoll.cpu, 2),
                range(t.repoll.rss_mib, 1),
                stat_count(t.stored),
                answers(&t.served_first),
                answers(&t.served_repoll),
                t.db_mib.median
            );
        }
        if tools.len() > 1 {
            let _ = writeln!(
                o,
                "\n### Ratios (peer / tickerfeed, medians; above 1 means tickerfeed is faster or smaller)\n"
            );
            let _ = writeln!(o, "| peer | first poll wall | re-poll wall | peak RSS |");
            let _ = writeln!(o, "|---|---|---|---|");
            for [name, first, repoll, rss] in ratio_rows(&tools) {
                let _ = writeln!(o, "| {name} | {first} | {repoll} | {rss} |");
            }
        }
        let _ = writeln!(o, "\n### Targets (issues 7 and 20, 200 x 50 on 2 cores)\n");
        for line in self.peer_targets(&tools) {
            let _ = writeln!(o, "- {line}");
        }
        let _ = writeln!(o, "\n### What each tool did\n");
        for note in self.tool_notes(&tools) {
            let _ = writeln!(o, "- {}.", capitalise(&note));
        }
        let _ = writeln!(
            o,
            "- Peak RSS in the ratios and targets is the higher of a tool's two phases (medians). \
             Every peer's run was checked: it exited 0 (and Newsboat's error log stayed empty), \
             the server answered one request per feed in each phase with a body for every feed on the first poll, \
             and the first poll stored at least one item."
        );
        if !p.available.is_empty() {
            let _ = writeln!(o, "\n### Peers per run\n");
            let _ = writeln!(
                o,
                "| run | tool | first poll wall s | CPU s | RSS MiB | re-poll wall s | CPU s | RSS MiB | stored | stored after re-poll |"
            );
            let _ = writeln!(o, "|---|---|---|---|---|---|---|---|---|---|");
            for (i, r) in self.runs.iter().enumerate() {
                for (peer, pr) in p.available.iter().zip(&r.peers) {
                    let _ = writeln!(
                        o,
                        "| {} | {} | {:.3} | {} | {} | {:.3} | {} | {} | {} | {} |",
                        i + 1,
                        peer.name,
                        pr.first.wall_s,
                        cpu_text(&pr.first),
                        rss_text(&pr.first),
                        pr.repoll.wall_s,
                        cpu_text(&pr.repoll),
                        rss_text(&pr.repoll),
                        pr.stored,
                        pr.stored_after_repoll
                    );
                }
            }
        }
        let _ = writeln!(o, "\n### Tools\n");
        let _ = writeln!(
            o,
            "- tickerfeed: `{}` (source below), `[fetch] concurrency = {}`",
            self.bin.display(),
            s.concurrency
        );
        if let Some(py) = &p.python {
            let _ = writeln!(o, "- {py}");
        }
        for peer in &p.available {
            let how = match peer.kind {
                PeerKind::FeedparserSqlite => "`bench/peers/feedparser_sqlite.py`",
                PeerKind::Reader => "`bench/peers/reader_poll.py`",
                PeerKind::Newsboat => "`newsboat -q -u urls -c cache.db -C config -x reload`",
            };
            let _ = writeln!(
                o,
                "- {}: {}, run as {how}, {}",
                peer.name, peer.version, peer.concurrency
            );
        }
        for sk in &p.skipped {
            let _ = writeln!(o, "- {}: **skipped**, {}", sk.name, sk.reason);
        }
        o
    }
}

/// A count over the runs: "10000", or "9990 (9980-10000)" when they differ.
fn stat_count(s: Stat) -> String {
    if s.min == s.max {
        format!("{:.0}", s.median)
    } else {
        format!("{:.0} ({:.0}-{:.0})", s.median, s.min, s.max)
    }
}

fn cpu_text(m: &Measured) -> String {
    match (m.user_s, m.sys_s) {
        (Some(u), Some(s)) => format!("{:.2}", u + s),
        _ => "n/a".into(),
    }
}

fn rss_text(m: &Measured) -> String {
    m.max_rss_kib
        .map_or_else(|| "n/a".into(), |k| format!("{:.1}", k / 1024.0))
}
