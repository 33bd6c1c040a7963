//! The article behind the teaser (issue 19, `[[feeds]] fulltext = true`):
//! a loopback site serving our own article pages (tests/fixtures/articles)
//! behind a feed of one-line teasers.

use std::time::Duration;

use tickerfeed::app::Opened;
use tickerfeed::clock::SharedClock;
use tickerfeed::config::Config;
use tokio_util::sync::CancellationToken;

use crate::util::{FeedServer, Reply, TestDir, fixed_clock, rss};

const WIRE_STORY: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/articles/wire-story.html"
));
const BLOG_POST: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/articles/blog-post.html"
));

fn page(body: &[u8]) -> Reply {
    Reply::feed(body.to_vec()).header("content-type", "text/html")
}

/// A config whose one feed, `teasers`, has `fulltext` on; `fetch` goes
/// into `[fetch]`. A board that knows Rio Tinto (never refreshed: mentions
/// need only its names).
fn config(dir: &TestDir, server: &FeedServer, fetch: &str) -> Config {
    // No spacing unless the test is about it.
    let spacing = if fetch.contains("per_host_spacing_ms") {
        ""
    } else {
        "per_host_spacing_ms = 0\n"
    };
    dir.write_config(&format!(
        "{spacing}{fetch}\n\
         [[feeds]]\nname = \"teasers\"\nurl = \"{}\"\nfulltext = true\n\
         [market]\nprovider = \"stooq\"\nbase_url = \"http://127.0.0.1:9/\"\n\
         symbols = [{{ symbol = \"RIO\", names = [\"Rio Tinto\"] }}]\n",
        server.url("/feed.xml")
    ))
}

/// One `tickerfeed poll`: the feeds, then the article pages due.
async fn poll(config: &Config, clock: SharedClock) -> Opened {
    let opened = tickerfeed::app::open(config, clock).await.unwrap();
    poll_feeds(&opened).await;
    opened.articles.fetch_due().await.unwrap();
    opened
}

/// Polls every feed of `opened` once, queueing the pages of new items.
async fn poll_feeds(opened: &Opened) {
    for (name, r) in
        tickerfeed::scheduler::poll_once(&opened.pipeline, opened.feeds.clone(), 4).await
    {
        r.unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

/// The archive of `config` opened, and its article worker running until
/// the token is cancelled, looking at the queue unprompted only once an
/// hour: within a test, only a wake-up makes it fetch.
async fn open_with_a_waking_worker(
    config: &Config,
    clock: SharedClock,
) -> (Opened, CancellationToken, tokio::task::JoinHandle<()>) {
    let opened = tickerfeed::app::open(config, clock).await.unwrap();
    let stop = CancellationToken::new();
    let worker = tokio::spawn(
        opened
            .articles
            .clone()
            .run_looking_every(Duration::from_secs(3600), stop.clone()),
    );
    (opened, stop, worker)
}

/// `(state, attempts, status, error, article text)` of the item linking to `path`.
fn article(
    dir: &TestDir,
    path: &str,
) -> (String, i64, Option<i64>, Option<String>, Option<String>) {
    dir.db()
        .query_row(
            "SELECT a.state, a.attempts, a.status, a.error, a.content_text
             FROM item_articles a JOIN items i ON i.id = a.item_id WHERE i.url LIKE '%' || ?1",
            [path],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .unwrap_or_else(|e| panic!("no article row for {path}: {e}"))
}

#[tokio::test]
async fn the_article_is_archived_beside_the_teaser_searchable_and_mined_for_mentions() {
    let server = FeedServer::start().await;
    let dir = TestDir::new();
    let (story, blog) = (
        "/business/miner-resumes-shipments",
        "/2026/11/23/quiet-week",
    );
    let feed = rss(
        "Teasers",
        &[
            ("s1", "Miner resumes shipments", &server.url(story)),
            ("s2", "A quiet week", &server.url(blog)),
        ],
    );
    server.set("/feed.xml", Reply::feed(feed.clone()));
    server.set(story, page(WIRE_STORY));
    server.set(blog, page(BLOG_POST));
    let config = config(&dir, &server, "");
    let (clock, shared) = fixed_clock("2026-11-23T12:00:00Z");

    let opened = poll(&config, shared.clone()).await;

    let (state, attempts, status, error, text) = article(&dir, story);
    assert_eq!(
        (state.as_str(), attempts, status, error),
        ("fetched", 1, Some(200), None)
    );
    let text = text.unwrap();
    for kept in [
        "resumed iron ore shipments",
        "quahog bed",
        "rose 1.2 per cent",
    ] {
        assert!(text.contains(kept), "{kept:?} missing from {text}");
    }
    let html: String = dir
        .db()
        .query_row(
            "SELECT content_html FROM item_articles WHERE content_text LIKE '%quahog%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    for gone in [
        "Sport",
        "Weather",
        "Related stories",
        "Copper prices",
        "Advertisement",
        "Sunshine Cruises",
        "Get the morning briefing",
        "All rights reserved",
        "cookies",
        "TRACKER-SECRET",
        "Inline advert",
    ] {
        assert!(!text.contains(gone), "{gone:?} kept in the text: {text}");
        assert!(!html.contains(gone), "{gone:?} kept in the HTML: {html}");
    }
    assert!(!html.contains("<script"), "{html}");

    // The blog layout, in windows-1252 declared only in the page.
    let (state, _, _, _, text) = article(&dir, blog);
    assert_eq!(state, "fetched");
    let text = text.unwrap();
    assert!(text.contains("Cocoa was the exception"), "{text}");
    assert!(text.contains("naïve view"), "decoded as declared: {text}");
    for gone in [
        "Recent posts",
        "Lowfee",
        "Spam spam",
        "Proudly powered",
        "G-TRACKER",
    ] {
        assert!(!text.contains(gone), "{gone:?} kept in the text: {text}");
    }

    // The feed's own text is kept as the feed sent it.
    let summary: String = dir
        .db()
        .query_row(
            "SELECT summary_html FROM items WHERE url LIKE '%' || ?1",
            [story],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(summary, "About Miner resumes shipments");

    // Search finds a word only the article has, and the mention only the
    // article makes is recorded.
    let hits = opened.store.search("quahog", 10, None).await.unwrap();
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(hits[0].title, "Miner resumes shipments");
    assert_eq!(
        dir.count(
            "SELECT count(*) FROM item_mentions m JOIN items i ON i.id = m.item_id
             WHERE m.symbol = 'RIO' AND i.title = 'Miner resumes shipments'"
        ),
        1
    );
    // robots.txt was asked once for the site, and (absent) allowed all.
    assert_eq!(server.seen("/robots.txt").len(), 1);
    let metrics = opened.pipeline.metrics.encode(0, Some(0), None);
    assert!(
        metrics.contains("tickerfeed_article_fetches_total{result=\"fetched\"} 2"),
        "{metrics}"
    );
    drop(opened);

    // A later poll of the same items fetches no page again.
    clock.advance(chrono::Duration::hours(1));
    server.set(
        "/feed.xml",
        Reply::feed(feed.replace("</channel>", "<!-- touched --></channel>")),
    );
    drop(poll(&config, shared.clone()).await);
    assert_eq!(server.seen(story).len(), 1);
    assert_eq!(server.seen(blog).len(), 1);

    // An item that changes is fetched again.
    clock.advance(chrono::Duration::hours(1));
    server.set(
        "/feed.xml",
        Reply::feed(feed.replace("About A quiet week", "About A quiet week, updated")),
    );
    drop(poll(&config, shared).await);
    assert_eq!(server.seen(story).len(), 1);
    assert_eq!(server.seen(blog).len(), 2);
    assert_eq!(article(&dir, blog).0, "fetched");
}

/// Serves a feed of two teasers and their pages: an open story under
/// `/news/` and one under `/members/`; returns their paths.
fn open_and_members_only(server: &FeedServer) -> (&'static str, &'static str) {
    let (open, closed) = ("/news/open-story", "/members/closed-story");
    serve_teasers(server, &[("a", "Open", open), ("b", "Closed", closed)]);
    server.set(open, page(WIRE_STORY));
    server.set(closed, page(WIRE_STORY));
    (open, closed)
}

/// Serves the feed `/feed.xml`, "Teasers", whose items (guid, title,
/// path) link to pages of `server`.
fn serve_teasers(server: &FeedServer, items: &[(&str, &str, &str)]) {
    let links: Vec<(&str, &str, String)> = items
        .iter()
        .map(|&(guid, title, path)| (guid, title, server.url(path)))
        .collect();
    let links: Vec<(&str, &str, &str)> = links
        .iter()
        .map(|(guid, title, url)| (*guid, *title, url.as_str()))
        .collect();
    server.set("/feed.xml", Reply::feed(rss("Teasers", &links)));
}

/// Serves `txt` as the server's robots.txt.
fn serve_robots(server: &FeedServer, txt: &str) {
    server.set("/robots.txt", robots_txt(txt));
}

/// `txt` answered as a robots.txt.
fn robots_txt(txt: &str) -> Reply {
    Reply::feed(txt.to_string()).header("content-type", "text/plain")
}

#[tokio::test]
async fn pages_robots_txt_disallows_are_not_fetched_and_say_why() {
    let server = FeedServer::start().await;
    let dir = TestDir::new();
    let (open, closed) = open_and_members_only(&server);
    serve_robots(
        &server,
        "User-agent: *\nDisallow: /\n\nUser-agent: tickerfeed\nDisallow: /members/\n",
    );
    let config = config(&dir, &server, "");
    let (_clock, shared) = fixed_clock("2026-11-23T12:00:00Z");
    drop(poll(&config, shared.clone()).await);

    assert!(
        server.seen(closed).is_empty(),
        "a disallowed page was fetched"
    );
    let (state, attempts, _, error, text) = article(&dir, closed);
    assert_eq!((state.as_str(), attempts, text), ("disallowed", 0, None));
    assert!(error.unwrap().contains("robots.txt"));
    // Our own group applies, not `*`'s "Disallow: /".
    assert_eq!(article(&dir, open).0, "fetched");

    drop(poll(&config, shared).await);
    assert!(server.seen(closed).is_empty());
    assert_eq!(server.seen("/robots.txt").len(), 1, "robots.txt is cached");
}

/// A robots.txt longer than we read (512 KiB) is not "unknown": its first
/// 512 KiB are its rules (RFC 9309 §2.5), and what comes after is ignored.
#[tokio::test]
async fn the_start_of_an_oversized_robots_txt_is_obeyed() {
    let server = FeedServer::start().await;
    let dir = TestDir::new();
    let (open, closed) = open_and_members_only(&server);
    let mut robots = String::from("User-agent: tickerfeed\nDisallow: /members/\n");
    while robots.len() < 600 * 1024 {
        robots.push_str("# a site that lists every one of its old paths, one by one\n");
    }
    // Past the part read: a rule that would stop the open story.
    robots.push_str("Disallow: /news/\n");
    server.set(
        "/robots.txt",
        Reply::feed(robots).header("content-type", "text/plain"),
    );
    let config = config(&dir, &server, "");
    let (_clock, shared) = fixed_clock("2026-11-23T12:00:00Z");
    drop(poll(&config, shared).await);

    assert!(
        server.seen(closed).is_empty(),
        "a disallowed page was fetched"
    );
    assert_eq!(article(&dir, closed).0, "disallowed");
    assert_eq!(article(&dir, open).0, "fetched");
}

/// A robots.txt answered with 429 pauses the site, like any 429, for at
/// most `[fetch] max_retry_after_secs` (a day here): a Retry-After of
/// centuries neither panics nor stops the site's pages and feed for good.
#[tokio::test]
async fn a_robots_txt_429_pauses_the_site_at_most_the_configured_cap() {
    let server = FeedServer::start().await;
    let dir = TestDir::new();
    let story = "/news/story";
    serve_teasers(&server, &[("a", "Story", story)]);
    server.set(
        "/robots.txt",
        Reply::status(429).header("retry-after", "9000000000000"),
    );
    server.set(story, page(WIRE_STORY));
    let config = config(&dir, &server, "max_retry_after_secs = 86400");
    let (clock, shared) = fixed_clock("2026-11-23T12:00:00Z");
    drop(poll(&config, shared.clone()).await);
    assert!(server.seen(story).is_empty());
    let due: String = dir
        .db()
        .query_row(
            "SELECT a.next_attempt_at FROM item_articles a WHERE a.state = 'pending'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(due, "2026-11-24T12:00:00Z", "paused for the cap, a day");

    // A day later the site is asked again, and the page is fetched.
    server.set("/robots.txt", Reply::status(404));
    clock.advance(chrono::Duration::days(1));
    drop(poll(&config, shared).await);
    assert_eq!(article(&dir, story).0, "fetched");
}

#[tokio::test]
async fn failed_pages_leave_the_item_as_it_was_and_are_not_fetched_on_the_next_poll() {
    let server = FeedServer::start().await;
    let dir = TestDir::new();
    let (missing, slow, huge, pdf) = ("/missing", "/slow", "/huge", "/report.pdf");
    serve_teasers(
        &server,
        &[
            ("a", "Missing", missing),
            ("b", "Slow", slow),
            ("c", "Huge", huge),
            ("d", "Report", pdf),
        ],
    );
    // `missing` is not scripted: 404.
    server.set(slow, page(WIRE_STORY).delayed(Duration::from_secs(4)));
    let mut big = WIRE_STORY.to_vec();
    big.extend(std::iter::repeat_n(b' ', 64 * 1024));
    server.set(huge, page(&big));
    server.set(
        pdf,
        Reply::feed(b"%PDF-1.7".to_vec()).header("content-type", "application/pdf"),
    );
    let config = config(
        &dir,
        &server,
        "article_timeout_secs = 1\narticle_max_bytes = 32768",
    );
    let (clock, shared) = fixed_clock("2026-11-23T12:00:00Z");
    let opened = poll(&config, shared.clone()).await;

    let (state, attempts, status, error, text) = article(&dir, missing);
    assert_eq!(
        (state.as_str(), attempts, status, text),
        ("failed", 1, Some(404), None)
    );
    assert!(error.unwrap().contains("404"));
    // A timeout is worth another try, later.
    let (state, attempts, _, error, text) = article(&dir, slow);
    assert_eq!((state.as_str(), attempts, text), ("pending", 1, None));
    assert!(error.unwrap().contains("timed out"));
    let (state, _, _, error, _) = article(&dir, huge);
    assert_eq!(state, "failed");
    assert!(error.unwrap().contains("32768-byte limit"));
    let (state, _, _, error, _) = article(&dir, pdf);
    assert_eq!(state, "failed");
    assert!(error.unwrap().contains("not an HTML page"));
    // The items are as the feed sent them.
    assert_eq!(
        dir.count(
            "SELECT count(*) FROM items WHERE summary_html LIKE 'About %' AND content_html IS NULL"
        ),
        4
    );
    let metrics = opened.pipeline.metrics.encode(0, Some(0), None);
    assert!(
        metrics.contains("tickerfeed_article_fetches_total{result=\"failed\"} 3"),
        "{metrics}"
    );
    assert!(
        metrics.contains("tickerfeed_article_fetches_total{result=\"retry\"} 1"),
        "{metrics}"
    );
    drop(opened);

    let requests = |path| server.seen(path).len();
    let before: Vec<usize> = [missing, slow, huge, pdf].map(requests).to_vec();
    drop(poll(&config, shared.clone()).await);
    assert_eq!([missing, slow, huge, pdf].map(requests).to_vec(), before);

    // After the backoff the slow page is tried again, and after the last
    // attempt it fails for good.
    server.set(slow, page(WIRE_STORY).delayed(Duration::from_secs(4)));
    for _ in 0..3 {
        clock.advance(chrono::Duration::hours(3));
        drop(poll(&config, shared.clone()).await);
    }
    let (state, attempts, _, error, _) = article(&dir, slow);
    assert_eq!((state.as_str(), attempts), ("failed", 3));
    assert!(error.unwrap().contains("gave up after 3 attempts"));
    assert_eq!(requests(missing), before[0], "failures are not retried");
}

/// The daemon fetches pages in the background, on its own: the item's page
/// shows the article under the feed's teaser, and `/metrics` counts it.
#[tokio::test]
async fn the_daemon_fetches_articles_and_the_item_page_shows_them() {
    let server = FeedServer::start().await;
    let dir = TestDir::new();
    let story = "/business/miner-resumes-shipments";
    serve_teasers(&server, &[("s1", "Miner resumes shipments", story)]);
    server.set(story, page(WIRE_STORY));
    let config = config(&dir, &server, "");
    let daemon = crate::serve::Daemon::start(config).await;
    let mut uid = None;
    for _ in 0..300 {
        uid = dir
            .db()
            .query_row(
                "SELECT uid FROM v_item_articles WHERE state = 'fetched'",
                [],
                |r| r.get::<_, String>(0),
            )
            .ok();
        if uid.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let uid = uid.expect("the daemon fetched the article");
    let page = daemon
        .get(&format!("/items/{uid}"), &[])
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("About Miner resumes shipments"), "{page}");
    assert!(page.contains("<h2>The article</h2>"), "{page}");
    assert!(page.contains("quahog bed"), "{page}");
    assert!(!page.contains("TRACKER-SECRET"), "{page}");
    // The article came after the entry, and so may sources and prices: the
    // page has no date to revalidate by, only its ETag.
    let later = daemon
        .get(
            &format!("/items/{uid}"),
            &[("if-modified-since", "Fri, 01 Jan 2100 00:00:00 GMT")],
        )
        .await;
    assert_eq!(later.status(), 200);
    assert!(later.headers().get("last-modified").is_none());
    assert!(later.headers().get("etag").is_some());
    let metrics = daemon.get("/metrics", &[]).await.text().await.unwrap();
    assert!(
        metrics.contains("tickerfeed_articles{result=\"fetched\"} 1"),
        "{metrics}"
    );
    daemon.stop().await;
}

/// An article another feed archived first still gets its page fetched
/// once a `fulltext` feed brings it too.
#[tokio::test]
async fn an_article_first_archived_by_another_feed_gets_its_page() {
    let server = FeedServer::start().await;
    let dir = TestDir::new();
    let story = "/business/miner-resumes-shipments";
    server.set(story, page(WIRE_STORY));
    let items = [("s1", "Miner resumes shipments", server.url(story))];
    let items: Vec<(&str, &str, &str)> =
        items.iter().map(|(g, t, u)| (*g, *t, u.as_str())).collect();
    server.set("/wire.xml", Reply::feed(rss("Wire", &items)));
    server.set("/feed.xml", Reply::feed(rss("Teasers", &[])));
    let config = dir.write_config(&format!(
        "per_host_spacing_ms = 0\n\
         [[feeds]]\nname = \"wire\"\nurl = \"{}\"\n\
         [[feeds]]\nname = \"teasers\"\nurl = \"{}\"\nfulltext = true\n",
        server.url("/wire.xml"),
        server.url("/feed.xml")
    ));
    let (_clock, shared) = fixed_clock("2026-11-23T12:00:00Z");

    poll(&config, shared.clone()).await;
    let queued: i64 = dir
        .db()
        .query_row("SELECT count(*) FROM item_articles", [], |r| r.get(0))
        .unwrap();
    assert_eq!(queued, 0, "the wire feed does not fetch pages");

    server.set("/feed.xml", Reply::feed(rss("Teasers", &items)));
    poll(&config, shared).await;
    let (state, _, status, error, text) = article(&dir, story);
    assert_eq!(
        (state.as_str(), status, error),
        ("fetched", Some(200), None)
    );
    assert!(text.unwrap().contains("quahog bed"));
    let sources: i64 = dir
        .db()
        .query_row("SELECT count(*) FROM item_sources", [], |r| r.get(0))
        .unwrap();
    assert_eq!(sources, 2, "one article, carried by both feeds");
}

/// The background worker fetches a page as soon as a poll queues it, not
/// at its next look at the queue: here that look is an hour away, so only
/// the wake-up from the poll can fetch the second story in time.
#[tokio::test]
async fn a_queued_page_wakes_the_article_worker() {
    let server = FeedServer::start().await;
    let dir = TestDir::new();
    let (first, second) = ("/business/first-story", "/business/second-story");
    server.set(first, page(WIRE_STORY));
    server.set(second, page(BLOG_POST));
    let (_clock, shared) = fixed_clock("2026-11-23T12:00:00Z");
    let config = config(&dir, &server, "");
    let (opened, stop, worker) = open_with_a_waking_worker(&config, shared).await;
    let fetched = |path: &str| {
        let state = dir
            .db()
            .query_row(
                "SELECT a.state FROM item_articles a JOIN items i ON i.id = a.item_id
                 WHERE i.url LIKE '%' || ?1",
                [path],
                |r| r.get::<_, String>(0),
            )
            .ok();
        state.as_deref() == Some("fetched")
    };
    let stories = [
        ("s1", "Miner resumes shipments", server.url(first)),
        ("s2", "Quahog beds reopen", server.url(second)),
    ];
    for (n, (path, title)) in [(first, "first"), (second, "second")]
        .into_iter()
        .enumerate()
    {
        // The feed gains one story per poll.
        let items: Vec<(&str, &str, &str)> = stories[..=n]
            .iter()
            .map(|(g, t, u)| (*g, *t, u.as_str()))
            .collect();
        server.set("/feed.xml", Reply::feed(rss("Teasers", &items)));
        poll_feeds(&opened).await;
        let mut done = false;
        for _ in 0..300 {
            done = fetched(path);
            if done {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(
            done,
            "the {title} story's page was not fetched after its poll"
        );
    }
    stop.cancel();
    worker.await.unwrap();
}

/// A feed whose one link, `/go/story`, redirects to `/story` on another
/// site, which answers its robots.txt with `robots`; polled once. The
/// link's server, the other one and the archive.
async fn polled_through_redirect(robots: Reply) -> (FeedServer, FeedServer, TestDir) {
    let server = FeedServer::start().await;
    let other = FeedServer::start().await;
    let dir = TestDir::new();
    server.set(
        "/feed.xml",
        Reply::feed(rss("Teasers", &[("a", "Moved", &server.url("/go/story"))])),
    );
    server.set("/go/story", Reply::redirect(302, &other.url("/story")));
    other.set("/robots.txt", robots);
    other.set("/story", page(WIRE_STORY));
    let config = config(&dir, &server, "");
    let (_clock, shared) = fixed_clock("2026-11-23T12:00:00Z");
    drop(poll(&config, shared).await);
    (server, other, dir)
}

/// A page that redirects to another site whose robots.txt disallows where
/// it leads: that page is never requested, and nothing is kept.
#[tokio::test]
async fn a_redirect_to_a_site_that_disallows_us_keeps_nothing() {
    let (_, other, dir) = polled_through_redirect(robots_txt("User-agent: *\nDisallow: /\n")).await;
    let (state, _, _, error, text) = article(&dir, "/go/story");
    assert_eq!((state.as_str(), text), ("disallowed", None));
    assert!(error.unwrap().contains("redirected to"));
    assert_eq!(other.seen("/robots.txt").len(), 1);
    assert!(
        other.seen("/story").is_empty(),
        "the disallowed page the link redirected to was requested"
    );
}

/// A page that redirects to another site whose robots.txt cannot be had
/// is tried again later, and the reason kept for it names the redirect,
/// from the link to where it led: the robots.txt that failed was not the
/// link's site's, which the reason alone used to suggest.
#[tokio::test]
async fn a_redirect_to_a_site_whose_robots_txt_cannot_be_had_names_the_redirect() {
    let (server, other, dir) = polled_through_redirect(Reply::status(500)).await;
    let (state, attempts, _, error, text) = article(&dir, "/go/story");
    assert_eq!((state.as_str(), attempts, text), ("pending", 1, None));
    let error = error.unwrap();
    let redirect = format!(
        "{} redirected to {}",
        server.url("/go/story"),
        other.url("/story")
    );
    assert!(error.contains(&redirect), "{error}");
    assert!(
        error.contains("robots.txt unavailable: HTTP 500"),
        "{error}"
    );
    assert!(other.seen("/story").is_empty());
}

/// A page that redirects to a path of its own site that robots.txt
/// disallows is not followed there either: the same origin is no
/// exemption.
#[tokio::test]
async fn a_redirect_to_a_disallowed_path_of_the_same_site_keeps_nothing() {
    let server = FeedServer::start().await;
    let dir = TestDir::new();
    serve_teasers(&server, &[("a", "Moved", "/news/moved")]);
    server.set(
        "/news/moved",
        Reply::redirect(301, &server.url("/members/closed-story")),
    );
    server.set("/members/closed-story", page(WIRE_STORY));
    serve_robots(&server, "User-agent: *\nDisallow: /members/\n");
    let config = config(&dir, &server, "");
    let (_clock, shared) = fixed_clock("2026-11-23T12:00:00Z");
    drop(poll(&config, shared).await);
    let (state, _, _, error, text) = article(&dir, "/news/moved");
    assert_eq!((state.as_str(), text), ("disallowed", None));
    assert!(error.unwrap().contains("redirected to"));
    assert_eq!(server.seen("/robots.txt").len(), 1, "robots.txt is cached");
    assert!(
        server.seen("/members/closed-story").is_empty(),
        "the disallowed page the link redirected to was requested"
    );
}

/// A 429 on an article page pauses its site like one on a feed: across a
/// restart too (the next `tickerfeed poll` leaves the site alone).
#[tokio::test]
async fn a_page_429_pause_survives_a_restart() {
    a_429_at_pauses_the_site_across_a_restart("/story").await;
}

/// So does a 429 on robots.txt, which was kept in memory only.
#[tokio::test]
async fn a_robots_txt_429_pause_survives_a_restart() {
    a_429_at_pauses_the_site_across_a_restart("/robots.txt").await;
}

/// A feed whose article `/story` is to be fetched, on a site that answers
/// `path` with a 429 for ten minutes: one `poll` asks `path` once and
/// stores the pause; the next `poll`, a new process within the pause,
/// sends the site nothing.
async fn a_429_at_pauses_the_site_across_a_restart(path: &str) {
    let server = FeedServer::start().await;
    let dir = TestDir::new();
    serve_teasers(&server, &[("a", "Story", "/story")]);
    server.set(path, Reply::status(429).header("retry-after", "600"));
    let config = config(&dir, &server, "");
    let (_clock, shared) = fixed_clock("2026-11-23T12:00:00Z");
    drop(poll(&config, shared.clone()).await);
    assert_eq!(server.seen(path).len(), 1, "{path}");
    // Behind a robots.txt that cannot say, the page is not asked.
    assert_eq!(
        server.seen("/story").len(),
        usize::from(path == "/story"),
        "{path}"
    );
    assert_eq!(dir.count("SELECT count(*) FROM host_pauses"), 1, "{path}");
    drop(poll(&config, shared).await);
    assert_eq!(
        server.seen("/feed.xml").len(),
        1,
        "the paused site was polled ({path})"
    );
    assert_eq!(server.seen(path).len(), 1, "{path}");
}

/// A page that redirects out of http(s) (`ftp:`, `file:`) fails for good
/// at once: it is not a transient transfer error to try twice more.
#[tokio::test]
async fn a_redirect_out_of_http_fails_at_once() {
    let server = FeedServer::start().await;
    let dir = TestDir::new();
    serve_teasers(&server, &[("a", "Odd", "/odd")]);
    server.set("/odd", Reply::redirect(302, "ftp://127.0.0.1/story"));
    let config = config(&dir, &server, "");
    let (_clock, shared) = fixed_clock("2026-11-23T12:00:00Z");
    drop(poll(&config, shared).await);
    let (state, attempts, _, error, _) = article(&dir, "/odd");
    assert_eq!((state.as_str(), attempts), ("failed", 1), "{error:?}");
}

/// The site of [`open_and_members_only`] with `robots` as its robots.txt,
/// polled once: the server, the archive and the two pages' paths.
async fn polled_under(robots: &str) -> (FeedServer, TestDir, (&'static str, &'static str)) {
    let server = FeedServer::start().await;
    let dir = TestDir::new();
    let pages = open_and_members_only(&server);
    serve_robots(&server, robots);
    let config = config(&dir, &server, "");
    let (_clock, shared) = fixed_clock("2026-11-23T12:00:00Z");
    drop(poll(&config, shared).await);
    (server, dir, pages)
}

/// The user agent a request was sent as.
fn agent(seen: &crate::util::Seen) -> String {
    seen.headers["user-agent"].to_str().unwrap().to_string()
}

/// robots.txt is asked for as the plain text it is, not with the article
/// pages' `Accept: text/html` (a site may answer that with an HTML page).
#[tokio::test]
async fn robots_txt_is_asked_for_as_plain_text() {
    let (server, _dir, (open, _)) = polled_under("User-agent: *\nDisallow: /members/\n").await;

    let accept = |path: &str| {
        let seen = server.seen(path);
        assert_eq!(seen.len(), 1, "{path}");
        seen[0].headers["accept"].to_str().unwrap().to_string()
    };
    let robots = accept("/robots.txt");
    assert!(robots.starts_with("text/plain"), "{robots}");
    assert!(!robots.contains("text/html"), "{robots}");
    assert!(accept(open).starts_with("text/html"));
}

/// A feed with its own `user_agent` has its article pages fetched, and
/// robots.txt read, as that user agent; another feed's pages on the same
/// site keep the global one, and its verdict is not taken from the other
/// agent's rules.
#[tokio::test]
async fn a_feeds_own_user_agent_fetches_its_pages_and_reads_robots_txt_for_it() {
    let server = FeedServer::start().await;
    let dir = TestDir::new();
    // `own`, with its own agent, links to an open and a members' page.
    let (own_open, own_closed) = open_and_members_only(&server);
    let plain_closed = "/members/plain-story";
    server.set(
        "/plain.xml",
        Reply::feed(rss(
            "Plain",
            &[("c", "Plain closed", &server.url(plain_closed))],
        )),
    );
    server.set(plain_closed, page(WIRE_STORY));
    // Only the feed's own agent is kept out of /members/.
    serve_robots(&server, "User-agent: deskbot\nDisallow: /members/\n");
    let config = dir.write_config(&format!(
        "per_host_spacing_ms = 0\n\
         [[feeds]]\nname = \"own\"\nurl = \"{}\"\nfulltext = true\n\
         user_agent = \"deskbot/2.0 (+https://desk.test/bot)\"\n\
         [[feeds]]\nname = \"plain\"\nurl = \"{}\"\nfulltext = true\n",
        server.url("/feed.xml"),
        server.url("/plain.xml"),
    ));
    let (_clock, shared) = fixed_clock("2026-11-23T12:00:00Z");
    drop(poll(&config, shared).await);

    assert!(
        server.seen(own_closed).is_empty(),
        "a page the feed's own agent is disallowed was fetched"
    );
    assert_eq!(article(&dir, own_closed).0, "disallowed");
    assert_eq!(article(&dir, own_open).0, "fetched");
    assert_eq!(
        agent(&server.seen(own_open)[0]),
        "deskbot/2.0 (+https://desk.test/bot)"
    );
    // The global agent is not kept out, so its page is fetched, as itself.
    assert_eq!(article(&dir, plain_closed).0, "fetched");
    assert!(agent(&server.seen(plain_closed)[0]).starts_with("tickerfeed/"));
    // robots.txt was asked once per agent, each as itself.
    let mut asked: Vec<String> = server.seen("/robots.txt").iter().map(agent).collect();
    asked.sort();
    assert_eq!(asked.len(), 2, "{asked:?}");
    assert_eq!(asked[0], "deskbot/2.0 (+https://desk.test/bot)");
    assert!(asked[1].starts_with("tickerfeed/"), "{asked:?}");
}

/// A site whose `Crawl-delay` puts its next page's turn seconds away does
/// not keep the only article slot waiting: that page is put back until its
/// turn, unrequested and without an attempt counted, and another site's page
/// is fetched meanwhile; it is fetched once its turn has come.
#[tokio::test]
async fn a_long_crawl_delay_does_not_hold_up_other_sites_pages() {
    let server = FeedServer::start().await;
    let other = FeedServer::start().await;
    let dir = TestDir::new();
    let (first, second, elsewhere) = ("/news/first", "/news/second", "/news/elsewhere");
    server.set(
        "/feed.xml",
        Reply::feed(rss(
            "Teasers",
            &[
                ("a", "First", &server.url(first)),
                ("b", "Second", &server.url(second)),
                ("c", "Elsewhere", &other.url(elsewhere)),
            ],
        )),
    );
    for path in [first, second] {
        server.set(path, page(WIRE_STORY));
    }
    other.set(elsewhere, page(BLOG_POST));
    serve_robots(&server, "User-agent: *\nCrawl-delay: 3\n");
    let config = config(&dir, &server, "article_concurrency = 1");
    let (clock, shared) = fixed_clock("2026-11-23T12:00:00Z");
    drop(poll(&config, shared.clone()).await);

    assert_eq!(article(&dir, elsewhere).0, "fetched");
    let states = [first, second].map(|path| (article(&dir, path).0, article(&dir, path).1));
    assert!(
        states.contains(&("fetched".into(), 1)) && states.contains(&("pending".into(), 0)),
        "one page of the site fetched, the other put back without an attempt: {states:?}"
    );
    let requested = server.seen(first).len() + server.seen(second).len();
    assert_eq!(requested, 1, "the page put back was not requested");
    let next: String = dir
        .db()
        .query_row(
            "SELECT next_attempt_at FROM item_articles WHERE state = 'pending'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(
        next.as_str() > "2026-11-23T12:00:01",
        "put back until its turn: {next}"
    );

    // Its turn comes (three seconds on): the next pass fetches it.
    clock.advance(chrono::Duration::seconds(4));
    drop(poll(&config, shared).await);
    assert_eq!(article(&dir, first).0, "fetched");
    assert_eq!(article(&dir, second).0, "fetched");
}

/// `Crawl-delay` in the group that applies to us spaces the site's article
/// pages that far apart (per_host_spacing is 0 here).
#[tokio::test]
async fn a_crawl_delay_spaces_a_sites_article_pages() {
    let (server, dir, (first, second)) = polled_under("User-agent: *\nCrawl-delay: 1\n").await;

    fetched_a_second_apart(&server, &dir, first, second);
}

/// A link that redirects within a site whose `Crawl-delay` is longer than
/// a page waits in its slot (`CRAWL_PATIENCE`): the hop waits for its turn
/// and the page is fetched. Put back instead, the next try would request
/// the link again, be redirected again and find the next turn as far off,
/// so the page was never fetched while the site was asked for the link
/// again every few seconds.
#[tokio::test]
async fn a_redirect_under_a_long_crawl_delay_is_followed_not_put_back() {
    let server = FeedServer::start().await;
    let dir = TestDir::new();
    let (link, story) = ("/go/story", "/news/story");
    serve_teasers(&server, &[("a", "Moved", link)]);
    server.set(link, Reply::redirect(301, &server.url(story)));
    server.set(story, page(WIRE_STORY));
    serve_robots(&server, "User-agent: *\nCrawl-delay: 2\n");
    let config = config(&dir, &server, "");
    let (_clock, shared) = fixed_clock("2026-11-23T12:00:00Z");
    drop(poll(&config, shared).await);

    let (state, attempts, _, error, _) = article(&dir, link);
    assert_eq!((state.as_str(), attempts), ("fetched", 1), "{error:?}");
    assert_eq!(server.seen(link).len(), 1);
    let (asked, followed) = (server.seen(link)[0].at, server.seen(story)[0].at);
    assert!(
        followed - asked >= Duration::from_millis(1900),
        "the hop was sent {:?} after the link under Crawl-delay: 2",
        followed - asked
    );
}

/// The daemon reloaded (SIGHUP) with a feed that sets its own
/// `user_agent` fetches that feed's article pages, and their robots.txt,
/// as that agent, not as the one the daemon started with.
// Multi-threaded: the test blocks on the child's log while the loopback
// server must keep answering.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_fetches_pages_as_the_user_agent_of_their_feed() {
    let server = FeedServer::start().await;
    let dir = TestDir::new();
    let (wire, desk) = ("/wire/story", "/desk/story");
    for (feed, path) in [("/wire.xml", wire), ("/desk.xml", desk)] {
        server.set(
            feed,
            Reply::feed(rss("Teasers", &[(path, "Story", &server.url(path))])),
        );
        server.set(path, page(WIRE_STORY));
    }
    serve_robots(&server, "User-agent: *\nDisallow: /members/\n");
    let wire_feed = format!(
        "per_host_spacing_ms = 0\n\
         [[feeds]]\nname = \"wire\"\nurl = \"{}\"\nfulltext = true\n",
        server.url("/wire.xml")
    );
    dir.write_config(&wire_feed);
    let mut d = crate::process::Running::start(&dir);
    d.wait_for("article fetched");

    dir.write_config(&format!(
        "{wire_feed}[[feeds]]\nname = \"desk\"\nurl = \"{}\"\nfulltext = true\n\
         user_agent = \"deskbot/2.0 (+https://desk.test/bot)\"\n",
        server.url("/desk.xml")
    ));
    d.signal("HUP");
    d.wait_for("config reloaded");
    while !d.wait_for("article fetched").contains(desk) {}

    assert_eq!(
        agent(&server.seen(desk)[0]),
        "deskbot/2.0 (+https://desk.test/bot)"
    );
    assert!(agent(&server.seen(wire)[0]).starts_with("tickerfeed/"));
    let robots: Vec<String> = server.seen("/robots.txt").iter().map(agent).collect();
    assert!(
        robots.iter().any(|a| a.starts_with("deskbot/")),
        "robots.txt not read as the reloaded feed's agent: {robots:?}"
    );
    d.signal("TERM");
    assert_eq!(d.wait_exit(), 0, "{}", d.log.join("\n"));
}

/// `Crawl-delay` spaces the starts of a site's pages even when they queue
/// for the site's connection: here a slow poll of the site's feed holds its
/// only one (`per_host_concurrency = 1`) while two of its pages wait, and
/// once it is free they must not go out back to back. Before, each page
/// took its turn before queueing and spent it there.
#[tokio::test]
async fn a_crawl_delay_holds_for_pages_that_queued_for_the_sites_connection() {
    let (server, dir) = pages_queued_behind_a_slow_feed("per_host_concurrency = 1").await;
    fetched_a_second_apart(&server, &dir, QUEUED.1, QUEUED.2);
}

/// A page that queued for the site's connection and found its crawl turn
/// taken gives the connection back without spending a start of the
/// site's `per_host_spacing_ms`: it goes out at its turn, not a spacing
/// after it. Before, each turn it lost cost the site a start (0.9 s here,
/// so the second page went 1.8 s after the first).
#[tokio::test]
async fn a_page_that_lost_its_crawl_turn_spent_no_start_of_the_sites_spacing() {
    let (server, dir) =
        pages_queued_behind_a_slow_feed("per_host_concurrency = 1\nper_host_spacing_ms = 900")
            .await;
    let apart = fetched_a_second_apart(&server, &dir, QUEUED.1, QUEUED.2);
    assert!(
        apart < Duration::from_millis(1500),
        "pages {apart:?} apart under Crawl-delay: 1 and a 0.9 s spacing"
    );
}

/// Turns under a `Crawl-delay` go first come, first served, and a
/// redirect hop keeps the place of the link that led to it: the hop goes
/// out at the site's next turn after the link, however many of the
/// site's pages wait for theirs meanwhile. Before, the hop queued behind
/// them, and lost each turn to a page that had been waiting longer, so
/// it went out last.
#[tokio::test]
async fn a_redirect_hop_keeps_its_place_among_the_sites_waiting_pages() {
    let server = FeedServer::start().await;
    let dir = TestDir::new();
    let (link, story) = ("/go/moved", "/news/moved");
    let others = ["/news/one", "/news/two", "/news/three", "/news/four"];
    let mut teasers = vec![("moved", "Moved", link)];
    teasers.extend(others.iter().map(|&path| (path, path, path)));
    serve_teasers(&server, &teasers);
    server.set(link, Reply::redirect(302, &server.url(story)));
    for path in others.iter().chain([&story]) {
        server.set(path, page(WIRE_STORY));
    }
    serve_robots(&server, "User-agent: *\nCrawl-delay: 0.5\n");
    // Every page in a slot of its own, waiting for the site's turns.
    let config = config(&dir, &server, "article_concurrency = 5");
    let (_clock, shared) = fixed_clock("2026-11-23T12:00:00Z");
    drop(poll(&config, shared).await);

    for path in others.iter().chain([&link]) {
        assert_eq!(article(&dir, path).0, "fetched", "{path}");
    }
    let mut turns: Vec<(std::time::Instant, &str)> = others
        .iter()
        .chain([&link, &story])
        .map(|&path| (server.seen(path)[0].at, path))
        .collect();
    turns.sort();
    let order: Vec<&str> = turns.iter().map(|(_, path)| *path).collect();
    let at = |path| order.iter().position(|p| *p == path).unwrap();
    assert_eq!(
        at(story),
        at(link) + 1,
        "requested in this order: {order:?}"
    );
}

/// The disallowed page and the two pages of [`pages_queued_behind_a_slow_feed`].
const QUEUED: (&str, &str, &str) = ("/members/closed", "/news/first", "/news/second");

/// Two pages of a site with `Crawl-delay: 1` queued behind a slow poll of
/// the site's feed, with `fetch` as the `[fetch]` settings; returns once
/// both were handled.
async fn pages_queued_behind_a_slow_feed(fetch: &str) -> (FeedServer, TestDir) {
    let server = FeedServer::start().await;
    let dir = TestDir::new();
    let (closed, first, second) = QUEUED;
    serve_robots(
        &server,
        "User-agent: *\nCrawl-delay: 1\nDisallow: /members/\n",
    );
    for path in [first, second] {
        server.set(path, page(WIRE_STORY));
    }
    let teasers = |paths: &[&str]| {
        let urls: Vec<String> = paths.iter().map(|p| server.url(p)).collect();
        let items: Vec<(&str, &str, &str)> = paths
            .iter()
            .zip(&urls)
            .map(|(p, u)| (*p, *p, u.as_str()))
            .collect();
        Reply::feed(rss("Teasers", &items))
    };
    server.set("/feed.xml", teasers(&[closed]));
    let config = config(&dir, &server, fetch);
    let (clock, shared) = fixed_clock("2026-11-23T12:00:00Z");
    let opened = tickerfeed::app::open(&config, shared).await.unwrap();
    let poll_feeds = || tickerfeed::scheduler::poll_once(&opened.pipeline, opened.feeds.clone(), 4);
    // robots.txt is read (for the disallowed page), so the pages below
    // need nothing but their turn and the site's connection.
    poll_feeds().await;
    opened.articles.fetch_due().await.unwrap();
    assert_eq!(article(&dir, closed).0, "disallowed");

    // The feed gains two pages, then answers slowly.
    let both = teasers(&[closed, first, second]);
    server.set_sequence(
        "/feed.xml",
        vec![both.clone(), both.delayed(Duration::from_secs(2))],
    );
    clock.advance(chrono::Duration::hours(1));
    poll_feeds().await;
    clock.advance(chrono::Duration::hours(1));
    let pages = async {
        // Once the slow poll holds the site's connection.
        tokio::time::sleep(Duration::from_millis(300)).await;
        opened.articles.fetch_due().await.unwrap()
    };
    let (_, handled) = tokio::join!(poll_feeds(), pages);
    assert_eq!(handled, 2);
    drop(opened);
    (server, dir)
}

/// Both pages were fetched, and the server saw them requested at least
/// (nearly) a second apart, as `Crawl-delay: 1` asks. No upper bound: the
/// machine may be slow. Returns how far apart.
fn fetched_a_second_apart(
    server: &FeedServer,
    dir: &TestDir,
    first: &str,
    second: &str,
) -> Duration {
    assert_eq!(article(dir, first).0, "fetched");
    assert_eq!(article(dir, second).0, "fetched");
    let (a, b) = (server.seen(first)[0].at, server.seen(second)[0].at);
    let apart = if a > b { a - b } else { b - a };
    assert!(
        apart >= Duration::from_millis(900),
        "pages {apart:?} apart under Crawl-delay: 1"
    );
    apart
}

/// `article_timeout_secs` is the page's whole budget: reading its site's
/// robots.txt counts against it. A robots.txt slower than that cuts the
/// page off as a timeout would (tried again later, the page unrequested);
/// the site's next page waits for the same reading, not a second one.
/// Before, the robots.txt had its own 20 s on top.
#[tokio::test]
async fn a_slow_robots_txt_counts_against_the_article_timeout() {
    let (server, dir, config, (open, closed)) = robots_txt_slower_than_a_page(3).await;
    let (_clock, shared) = fixed_clock("2026-11-23T12:00:00Z");
    drop(poll(&config, shared).await);

    for path in [open, closed] {
        let (state, attempts, _, error, _) = article(&dir, path);
        assert_eq!((state.as_str(), attempts), ("pending", 1), "{path}");
        let error = error.unwrap();
        assert!(error.contains("article_timeout_secs"), "{path}: {error}");
    }
    assert!(server.seen(open).is_empty());
    assert_eq!(server.seen("/robots.txt").len(), 1);
}

/// A robots.txt slower than the page that asked for it is still read to
/// the end, and its answer serves the site's next pages: a page that ran
/// out of time does not make the site count as "cannot say" for 15
/// minutes, holding up its other pages.
#[tokio::test]
async fn a_robots_txt_read_past_a_pages_timeout_still_answers_the_next_page() {
    let (server, dir, config, (open, closed)) = robots_txt_slower_than_a_page(2).await;
    let (clock, shared) = fixed_clock("2026-11-23T12:00:00Z");
    let opened = poll(&config, shared).await;
    assert_eq!(article(&dir, open).0, "pending");

    // The reading answers a second after the page gave up on it; a page
    // the feed adds a minute later is judged by that answer.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (later, members) = ("/news/later-story", "/members/later-story");
    serve_teasers(
        &server,
        &[
            ("a", "Open", open),
            ("b", "Closed", closed),
            ("c", "Later", later),
            ("d", "Members", members),
        ],
    );
    server.set(later, page(WIRE_STORY));
    server.set(members, page(WIRE_STORY));
    clock.advance(chrono::Duration::minutes(1));
    poll_feeds(&opened).await;
    opened.articles.fetch_due().await.unwrap();

    assert_eq!(article(&dir, later).0, "fetched");
    assert_eq!(article(&dir, members).0, "disallowed");
    assert!(server.seen(members).is_empty());
    assert_eq!(server.seen("/robots.txt").len(), 1);
}

/// A page that gave up waiting for its site's robots.txt is tried again
/// as soon as the reading answers, not 15 minutes later: here the clock
/// stands still and the worker's own look at the queue is an hour away,
/// so only the answer can bring the pages back. The site is still asked
/// for its robots.txt once, and the open page requested once.
#[tokio::test]
async fn a_page_that_outwaited_its_robots_txt_is_tried_again_once_it_answers() {
    let (server, dir, config, (open, closed)) = robots_txt_slower_than_a_page(2).await;
    let (_clock, shared) = fixed_clock("2026-11-23T12:00:00Z");
    let (opened, stop, worker) = open_with_a_waking_worker(&config, shared).await;
    poll_feeds(&opened).await;
    let states = || (article(&dir, open).0, article(&dir, closed).0);
    let started = std::time::Instant::now();
    while states() != ("fetched".into(), "disallowed".into())
        && started.elapsed() < Duration::from_secs(20)
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.cancel();
    worker.await.unwrap();

    assert_eq!(states(), ("fetched".into(), "disallowed".into()));
    // Each ran out of time once, then had its answer.
    assert_eq!(article(&dir, open).1, 2);
    assert_eq!(server.seen(open).len(), 1);
    assert!(server.seen(closed).is_empty());
    assert_eq!(server.seen("/robots.txt").len(), 1);
}

/// A robots.txt that, read past the page's time, then fails (a 500) is no
/// answer: the page keeps its 15 minutes instead of being asked again at
/// once, which would only spend one of its attempts on the cached error.
#[tokio::test]
async fn a_page_that_outwaited_a_robots_txt_that_failed_keeps_its_retry() {
    let (server, dir, config, (open, _)) = robots_txt_slower_than_a_page(2).await;
    server.set(
        "/robots.txt",
        Reply::status(500).delayed(Duration::from_secs(2)),
    );
    let (_clock, shared) = fixed_clock("2026-11-23T12:00:00Z");
    let (opened, stop, worker) = open_with_a_waking_worker(&config, shared).await;
    poll_feeds(&opened).await;
    let started = std::time::Instant::now();
    while server.seen("/robots.txt").is_empty() || started.elapsed() < Duration::from_secs(4) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.cancel();
    worker.await.unwrap();

    let (state, attempts, ..) = article(&dir, open);
    assert_eq!((state.as_str(), attempts), ("pending", 1));
    assert_eq!(server.seen("/robots.txt").len(), 1);
    assert!(server.seen(open).is_empty());
}

/// A site whose robots.txt (disallowing `/members/`) answers after
/// `secs` seconds, with an open and a members-only page, polled with
/// `article_timeout_secs = 1`.
async fn robots_txt_slower_than_a_page(
    secs: u64,
) -> (FeedServer, TestDir, Config, (&'static str, &'static str)) {
    let server = FeedServer::start().await;
    let dir = TestDir::new();
    let pages = open_and_members_only(&server);
    server.set(
        "/robots.txt",
        robots_txt("User-agent: *\nDisallow: /members/\n").delayed(Duration::from_secs(secs)),
    );
    let config = config(&dir, &server, "article_timeout_secs = 1");
    (server, dir, config, pages)
}
