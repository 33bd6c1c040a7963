//! The web face (issue 17): the news page, article pages, tag, view and
//! search pages, assets and the 404, with their security headers and the
//! feeds' serving discipline. A daemon runs in-process on 127.0.0.1:0
//! against a loopback feed server; the real-browser checks are in `browser`.

use std::collections::HashSet;
use std::time::Duration;

use crate::serve::Daemon;
use crate::util::*;

/// Titles, authors and categories that try to get markup onto the page.
const HOSTILE_TITLE: &str = "&lt;script&gt;alert(1)&lt;/script&gt; Oil &amp; gas";
const HOSTILE_AUTHOR: &str = "x\" onerror=\"alert(2)";

fn hostile_feed() -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>Hostile</title><link>https://h.test/</link><description>d</description>
<item><guid>h1</guid><title>{HOSTILE_TITLE}</title><link>https://h.test/1</link><dc:creator>{HOSTILE_AUTHOR}</dc:creator><category>&lt;img src=x onerror=alert(3)&gt;</category><pubDate>Mon, 23 Nov 2026 08:00:00 GMT</pubDate><description>&lt;p&gt;Crude &lt;b&gt;oil&lt;/b&gt; rose.&lt;script&gt;alert(4)&lt;/script&gt;&lt;/p&gt;</description></item>
</channel></rss>"#
    )
}

async fn web_daemon(extra: &str) -> (FeedServer, TestDir, Daemon) {
    let server = FeedServer::start().await;
    let items: Vec<(String, String, String)> = (0..5)
        .map(|i| {
            (
                format!("w{i}"),
                format!("World story {i}"),
                format!("https://w.test/{i}"),
            )
        })
        .collect();
    let refs: Vec<(&str, &str, &str)> = items
        .iter()
        .map(|(a, b, c)| (a.as_str(), b.as_str(), c.as_str()))
        .collect();
    server.set("/world.xml", Reply::feed(rss("World", &refs)));
    server.set("/hostile.xml", Reply::feed(hostile_feed()));
    let dir = TestDir::new();
    let config = dir.write_config(&format!(
        "{}{}{extra}",
        feed_block("world", &server.url("/world.xml"), "tags = [\"world\"]"),
        feed_block("hostile", &server.url("/hostile.xml"), "tags = [\"odd\"]"),
    ));
    let d = Daemon::start(config).await;
    d.wait_for_entries(6).await;
    (server, dir, d)
}

/// The path of a link into the site: a path from the root, or an absolute
/// URL under the test's base URL.
fn local(href: &str) -> Option<String> {
    let path = match href.strip_prefix("http://feeds.test") {
        Some("") => "/",
        Some(p) => p,
        None if href.starts_with('/') => href,
        None => return None,
    };
    Some(path.replace("&amp;", "&"))
}

/// Every `href="..."` on a page.
fn hrefs(html: &str) -> Vec<String> {
    html.split("href=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_string)
        .collect()
}

async fn html_of(d: &Daemon, path: &str) -> (u16, reqwest::header::HeaderMap, String) {
    let resp = d.get(path, &[]).await;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    (status, headers, resp.text().await.unwrap())
}

/// The card (`<article class="item">`) of a page's item whose card holds
/// `title`.
fn card_of<'a>(html: &'a str, title: &str) -> &'a str {
    html.split("<article class=\"item\">")
        .skip(1)
        .find(|c| c.contains(title))
        .unwrap_or_else(|| panic!("no card for {title}: {html}"))
        .split("</article>")
        .next()
        .unwrap()
}

/// The path of the first article page the front page links to.
async fn first_article(d: &Daemon) -> String {
    let (_, _, front) = html_of(d, "/").await;
    hrefs(&front)
        .into_iter()
        .filter_map(|h| local(&h))
        .find(|p| p.starts_with("/items/"))
        .unwrap_or_else(|| panic!("no article link in {front}"))
}

/// Waits until a search page shows `n` items: new items are searchable
/// once indexed, within about two seconds of their poll (longer on a
/// loaded machine).
async fn wait_for_search(d: &Daemon, path: &str, n: usize) {
    for _ in 0..200 {
        let html = d.get(path, &[]).await.text().await.unwrap();
        if html.matches("<article class=\"item\">").count() >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{path} never showed {n} items");
}

fn assert_page_headers(path: &str, headers: &reqwest::header::HeaderMap) {
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"),
        "{path}: {headers:?}"
    );
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'none'"), "{path}: {csp}");
    assert!(
        !csp.contains("script-src"),
        "{path}: scripts allowed: {csp}"
    );
    assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
    assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
    assert!(headers.contains_key("referrer-policy"), "{path}");
}

#[tokio::test]
async fn the_front_page_shows_the_river_with_feed_links_and_security_headers() {
    let (_server, _dir, d) = web_daemon("").await;
    let (status, headers, html) = html_of(&d, "/").await;
    assert_eq!(status, 200);
    assert_page_headers("/", &headers);
    assert!(html.starts_with("<!DOCTYPE html>"), "{html}");
    assert_eq!(html.matches("<h1>").count(), 1, "{html}");
    // Newest first: the world feed's items are dated 10:00 to 14:00.
    let first = html.find("World story 4").unwrap();
    let last = html.find("World story 0").unwrap();
    assert!(first < last, "newest first");
    // Autodiscovery for every format, and time elements.
    for (kind, path) in [
        ("application/atom+xml", "feed.atom"),
        ("application/rss+xml", "feed.rss"),
        ("application/feed+json", "feed.json"),
    ] {
        assert!(
            html.contains(&format!(
                r#"<link rel="alternate" type="{kind}" href="http://feeds.test/{path}""#
            )),
            "{kind}: {html}"
        );
    }
    // The exact time is text every reader gets (keyboard, touch, screen
    // reader), not a `title` only a mouse can show.
    assert!(
        html.contains(
            "<time datetime=\"2026-11-23T14:00:00Z\">19 hours ago (23 Nov 14:00 UTC)</time>"
        ),
        "{html}"
    );
    // Served like the feeds: ETag, 304, gzip, HEAD.
    let etag = headers["etag"].to_str().unwrap().to_string();
    assert_eq!(d.get("/", &[("if-none-match", &etag)]).await.status(), 304);
    let gz = d.get("/", &[("accept-encoding", "gzip")]).await;
    assert_eq!(gz.headers()["content-encoding"], "gzip");
    let head = d.http.head(format!("{}/", d.base)).send().await.unwrap();
    assert_eq!(head.status(), 200);
    d.stop().await;
}

#[tokio::test]
async fn hostile_titles_authors_and_categories_never_reach_a_page_unescaped() {
    let (_server, _dir, d) = web_daemon("").await;
    wait_for_search(&d, "/search?q=oil", 1).await;
    let (_, _, front) = html_of(&d, "/").await;
    assert!(
        front.contains("alert(1)"),
        "the hostile item is on the front page"
    );
    let mut pages = vec![front];
    for path in ["/tags/odd", "/search?q=oil"] {
        pages.push(html_of(&d, path).await.2);
    }
    // Every article page, the hostile one among them.
    let (_, _, front) = html_of(&d, "/").await;
    for path in hrefs(&front).into_iter().filter_map(|h| local(&h)) {
        if path.starts_with("/items/") {
            pages.push(html_of(&d, &path).await.2);
        }
    }
    assert!(pages.len() >= 9, "every article page was read");
    for page in &pages {
        for bad in ["<script", "onerror=\"alert", "<img src=x", "alert(4)"] {
            assert!(!page.contains(bad), "{bad} reached a page:\n{page}");
        }
    }
    // The hostile title is shown as text (escaped, in whichever entity
    // spelling the template engine uses).
    assert!(
        pages[0].contains("script&#62;alert(1)&#60;/script&#62; Oil &#38; gas")
            || pages[0].contains("script&gt;alert(1)&lt;/script&gt; Oil &amp; gas"),
        "{}",
        pages[0]
    );
    d.stop().await;
}

#[tokio::test]
async fn links_between_pages_resolve_and_paging_visits_every_item_once() {
    let (_server, _dir, d) = web_daemon("").await;
    let mut seen = Vec::new();
    let mut next = Some("/?".to_string());
    let mut pages = 0;
    while let Some(path) = next.take() {
        let (status, headers, html) = html_of(&d, &path).await;
        assert_eq!(status, 200, "{path}");
        assert_page_headers(&path, &headers);
        pages += 1;
        for href in hrefs(&html) {
            let Some(target) = local(&href) else {
                continue;
            };
            if target.starts_with("/items/") {
                seen.push(target.clone());
            }
            let answer = d.get(&target, &[]).await.status();
            assert_eq!(
                answer, 200,
                "{path} links to {target}, which answers {answer}"
            );
        }
        next = html
            .split("rel=\"next\" href=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .and_then(local);
        assert!(pages < 10, "paging does not end");
    }
    let distinct: HashSet<&String> = seen.iter().collect();
    assert_eq!(distinct.len(), 6, "{seen:?}");
    d.stop().await;
}

#[tokio::test]
async fn older_pages_split_the_river_without_repeats() {
    let (_server, dir, d) = web_daemon("").await;
    let config = {
        let text = std::fs::read_to_string(dir.config_path())
            .unwrap()
            .replace("max_items = 50", "max_items = 2");
        std::fs::write(dir.config_path(), text).unwrap();
        tickerfeed::config::Config::load(&dir.config_path()).unwrap()
    };
    d.stop().await;
    let d = Daemon::start(config).await;
    let mut titles = Vec::new();
    let mut next = Some("/".to_string());
    while let Some(path) = next.take() {
        let (_, _, html) = html_of(&d, &path).await;
        // An older page says so, in its title and heading (a screen
        // reader's first words), and leads back to the newest.
        let older = path != "/";
        for shown in ["<title>Older news: ", "<h1>Older news: "] {
            assert_eq!(html.contains(shown), older, "{path}: {html}");
        }
        assert_eq!(
            html.contains("<a rel=\"first\" href=\"/\">Newest news</a>"),
            older,
            "{path}: {html}"
        );
        for chunk in html.split("<article class=\"item\">").skip(1) {
            let title = chunk
                .split("\">")
                .nth(1)
                .and_then(|t| t.split("</a>").next())
                .unwrap()
                .to_string();
            titles.push(title);
        }
        next = html
            .split("rel=\"next\" href=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .and_then(local);
        assert!(titles.len() <= 6, "{titles:?}");
    }
    let distinct: HashSet<&String> = titles.iter().collect();
    assert_eq!((titles.len(), distinct.len()), (6, 6), "{titles:?}");
    d.stop().await;
}

#[tokio::test]
async fn article_search_tag_and_view_pages() {
    let (_server, _dir, d) = web_daemon(
        "[[views]]\nname = \"calm\"\ntitle = \"Calm news\"\ntags = [\"world\"]\nexclude = [{ title = \"4\" }]\n",
    )
    .await;
    wait_for_search(&d, "/search?q=story", 5).await;
    let article = first_article(&d).await;
    let (status, headers, html) = html_of(&d, &article).await;
    assert_eq!(status, 200);
    assert_page_headers(&article, &headers);
    assert!(html.contains("First seen"), "{html}");
    assert!(html.contains("https://w.test/4"), "{html}");
    assert_eq!(html_of(&d, "/items/0000").await.0, 404);

    let (status, _, html) = html_of(&d, "/search?q=story").await;
    assert_eq!(status, 200);
    assert_eq!(
        html.matches("<article class=\"item\">").count(),
        5,
        "{html}"
    );
    assert!(html.contains("<mark>"), "terms highlighted: {html}");
    assert!(
        html.contains("href=\"http://feeds.test/feed.atom?q=story\""),
        "subscribe to this search: {html}"
    );
    // A search text longer than any real one is refused, not rendered
    // and cached.
    let long = "story ".repeat(100);
    let (status, _, body) = html_of(&d, &format!("/search?q={}", long.trim())).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("(?q=) is longer than 500 characters: shorten it. The news is on"),
        "{body}"
    );

    let (status, _, html) = html_of(&d, "/tags/world").await;
    assert_eq!(status, 200);
    assert_eq!(html.matches("<article class=\"item\">").count(), 5);
    assert!(html.contains("tags/world.atom"), "{html}");
    let (status, _, html) = html_of(&d, "/views/calm").await;
    assert_eq!(status, 200);
    assert!(html.contains("<h1>Calm news</h1>"), "{html}");
    assert_eq!(html.matches("<article class=\"item\">").count(), 4);
    assert_eq!(html_of(&d, "/tags/nope").await.0, 404);
    d.stop().await;
}

/// QA: `/search?q=a&q=b` answered axum's raw "Failed to deserialize query
/// string: duplicate field `q`". A page whose query repeats a parameter,
/// or whose `?before=` is no page, answers the site's 400 page saying
/// what is wrong; a feed, the same sentence as a line of text.
#[tokio::test]
async fn a_repeated_or_malformed_query_gets_the_sites_400_page() {
    let (_server, _dir, d) = web_daemon("[[views]]\nname = \"calm\"\ntags = [\"world\"]\n").await;
    for (path, problem) in [
        ("/search?q=a&q=b", "The address gives ?q= more than once"),
        (
            "/?before=x&before=y",
            "The address gives ?before= more than once",
        ),
        (
            "/views/calm?q=oil&q=gas",
            "The address gives ?q= more than once",
        ),
        (
            "/tags/world?before=nonsense",
            "?before= is not one tickerfeed wrote: follow the &#34;Older news&#34; link (in a feed, its rel=&#34;next&#34; link). The news is on",
        ),
    ] {
        let (status, headers, body) = html_of(&d, path).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert_page_headers(path, &headers);
        assert!(body.contains("<h1>Bad request</h1>"), "{path}: {body}");
        assert!(body.contains(problem), "{path}: {body}");
        assert!(body.contains("href=\"/feeds\""), "{path}: {body}");
        assert!(!body.contains("deserialize"), "{path}: {body}");
    }
    let resp = d.get("/feed.atom?q=a&q=b", &[]).await;
    assert_eq!(resp.status(), 400);
    assert_eq!(
        resp.text().await.unwrap(),
        "The address gives ?q= more than once: give it once.\n"
    );
    // One of each, and parameters it does not know, still read.
    assert_eq!(html_of(&d, "/search?q=story&utm_source=x").await.0, 200);
    d.stop().await;
}

#[tokio::test]
async fn assets_robots_and_the_not_found_page() {
    let (_server, _dir, d) = web_daemon("[web]\nrobots = \"disallow\"\n").await;
    let (_, _, front) = html_of(&d, "/").await;
    let style = hrefs(&front)
        .into_iter()
        .find(|h| h.contains("/style-") && h.ends_with(".css"))
        .and_then(|h| local(&h))
        .unwrap();
    let css = d.get(&style, &[]).await;
    assert_eq!(css.status(), 200);
    assert!(
        css.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("max-age=31536000")
    );
    assert!(
        css.text()
            .await
            .unwrap()
            .contains("prefers-color-scheme: dark")
    );
    let robots = d.get("/robots.txt", &[]).await.text().await.unwrap();
    assert_eq!(robots, "User-agent: *\nDisallow: /\n");
    assert_eq!(d.get("/favicon.svg", &[]).await.status(), 200);
    let (status, headers, html) = html_of(&d, "/no/such/page").await;
    assert_eq!(status, 404);
    assert_page_headers("404", &headers);
    assert!(html.contains("<h1>Not found</h1>"), "{html}");
    d.stop().await;
}

/// A person following a stale link to a tag or view that is no longer
/// served (`/tags/gone`, `/views/gone`) gets the site's 404 page, with its
/// security headers, like any other missing page; a reader asking for the
/// feed (`/tags/gone.atom`) still gets the short text pointing at the list.
#[tokio::test]
async fn an_unknown_tag_or_view_page_is_the_sites_not_found_page() {
    let (_server, _dir, d) = web_daemon("").await;
    for path in ["/tags/gone", "/views/gone"] {
        let (status, headers, html) = html_of(&d, path).await;
        assert_eq!(status, 404, "{path}");
        assert_page_headers(path, &headers);
        assert!(html.contains("<h1>Not found</h1>"), "{path}: {html}");
    }
    let (status, headers, text) = html_of(&d, "/views/gone.atom").await;
    assert_eq!(status, 404);
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain"),
        "{headers:?}"
    );
    assert!(text.contains("/views.opml"), "{text}");
    d.stop().await;
}

/// A reader landing on a dead link (or a malformed search) finds the
/// site's name and search box at the top, as on every other page.
#[tokio::test]
async fn the_not_found_page_has_the_site_title_and_search_box() {
    let (_server, _dir, d) = web_daemon("[web]\ntitle = \"Market Desk\"\n").await;
    let masthead = |html: &str| {
        let start = html
            .find("<div class=\"masthead\">")
            .unwrap_or_else(|| panic!("no masthead: {html}"));
        let len = html[start..].find("</div>").unwrap();
        html[start..start + len].to_string()
    };
    let (_, _, front) = html_of(&d, "/").await;
    let front = masthead(&front);
    assert!(
        front.contains("<a href=\"/\">Market Desk</a>")
            && front.contains("<form class=\"search\" action=\"/search\""),
        "{front}"
    );
    for (path, status) in [("/no/such/page", 404), ("/search?q=a&q=b", 400)] {
        let (got, _, html) = html_of(&d, path).await;
        assert_eq!(got, status, "{path}");
        assert_eq!(masthead(&html), front, "{path}");
    }
    d.stop().await;
}

/// A search that finds nothing says so, rather than that the archive
/// has no items (it has: none match).
#[tokio::test]
async fn a_search_without_results_says_nothing_matched() {
    let (_server, _dir, d) =
        web_daemon("[[views]]\nname = \"zebras\"\ninclude = [{ title = \"(?i)zebra\" }]\n").await;
    wait_for_search(&d, "/search?q=world", 5).await;
    let (status, _, html) = html_of(&d, "/search?q=zebra").await;
    assert_eq!(status, 200);
    assert!(!html.contains("<article class=\"item\">"), "{html}");
    assert!(
        html.contains("No item matches \u{201c}zebra\u{201d}."),
        "{html}"
    );
    assert!(!html.contains("the archive has no items"), "{html}");
    // Nor does an empty view say the archive is empty.
    let (status, _, html) = html_of(&d, "/views/zebras").await;
    assert_eq!(status, 200);
    assert!(
        html.contains("Nothing here yet: no archived item belongs on this page."),
        "{html}"
    );
    d.stop().await;
}

/// A search hit only in an item's title shows its summary's opening, not
/// the title a second time; one without a summary shows no text at all;
/// a hit in the summary shows the words around it, marked.
#[tokio::test]
async fn a_search_hit_in_the_title_shows_the_summary_not_the_title_again() {
    let server = FeedServer::start().await;
    server.set("/tankers.xml", Reply::feed(TANKERS_FEED));
    let dir = TestDir::new();
    let config = dir.write_config(&feed_block("tankers", &server.url("/tankers.xml"), ""));
    let d = Daemon::start(config).await;
    d.wait_for_entries(3).await;
    wait_for_search(&d, "/search?q=tanker", 3).await;
    let (status, _, html) = html_of(&d, "/search?q=tanker").await;
    assert_eq!(status, 200);
    let card = |title: &str| card_of(&html, title);
    let titled = card("Tanker rates jump");
    assert_eq!(titled.matches("Gulf lanes").count(), 1, "{titled}");
    assert!(
        titled.contains(
            "<p class=\"summary\" dir=\"auto\">Charterers paid record day rates on Monday.</p>"
        ),
        "{titled}"
    );
    let bare = card("Tanker quiet week");
    assert_eq!(bare.matches("quiet week").count(), 1, "{bare}");
    assert!(!bare.contains("class=\"summary\""), "{bare}");
    let in_text = card("Harbour notes");
    assert!(
        in_text.contains("A <mark>tanker</mark> berthed late after fog."),
        "{in_text}"
    );
    d.stop().await;
}

/// A phrase in double quotes is found, and marked, only where its words
/// stand together: an item with the phrase in its title alone shows its
/// summary's opening with nothing marked (not a lone "talks" from it),
/// one with the phrase in its summary has the phrase marked, and one with
/// the words apart is no hit.
#[tokio::test]
async fn a_phrase_search_marks_the_phrase_only() {
    let server = FeedServer::start().await;
    server.set(
        "/deals.xml",
        Reply::feed(
            r#"<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Deals</title><link>https://d.test/</link><description>d</description>
<item><guid>d1</guid><title>BP in M&amp;A talks with Shell</title><link>https://d.test/1</link><pubDate>Mon, 23 Nov 2026 08:00:00 GMT</pubDate><description>Shares rose as talks began.</description></item>
<item><guid>d2</guid><title>Market wrap</title><link>https://d.test/2</link><pubDate>Mon, 23 Nov 2026 09:00:00 GMT</pubDate><description>Bankers said the M&amp;A talks could last weeks.</description></item>
<item><guid>d3</guid><title>Unions and pay</title><link>https://d.test/3</link><pubDate>Mon, 23 Nov 2026 10:00:00 GMT</pubDate><description>Unions held talks; M&amp;A desks were quiet.</description></item>
</channel></rss>"#,
        ),
    );
    let dir = TestDir::new();
    let config = dir.write_config(&feed_block("deals", &server.url("/deals.xml"), ""));
    let d = Daemon::start(config).await;
    d.wait_for_entries(3).await;
    let path = "/search?q=%22M%26A%20talks%22";
    wait_for_search(&d, path, 2).await;
    let (status, _, html) = html_of(&d, path).await;
    assert_eq!(status, 200);
    assert_eq!(
        html.matches("<article class=\"item\">").count(),
        2,
        "{html}"
    );
    let card = |title: &str| card_of(&html, title);
    let titled = card("talks with Shell");
    assert!(
        titled.contains("<p class=\"summary\" dir=\"auto\">Shares rose as talks began.</p>"),
        "{titled}"
    );
    assert!(!titled.contains("<mark>"), "{titled}");
    let in_text = card("Market wrap");
    assert!(
        in_text.contains("Bankers said the <mark>M&amp;A talks</mark> could last weeks."),
        "{in_text}"
    );
    d.stop().await;
}

/// Behind a proxy that serves the site under a path (`base_url` with
/// `/news/`), the 404 page's stylesheet and links are under it too, like
/// every other page's.
#[tokio::test]
async fn the_not_found_page_links_under_the_base_path() {
    let server = FeedServer::start().await;
    server.set(
        "/w.xml",
        Reply::feed(rss("World", &[("w1", "Story", "https://w.test/1")])),
    );
    let dir = TestDir::new();
    let mut config = dir.write_config(&feed_block("world", &server.url("/w.xml"), ""));
    config.server.base_url = Some(url::Url::parse("http://feeds.test/news/").unwrap());
    let d = Daemon::start(config).await;
    let (status, _, html) = html_of(&d, "/no/such/page").await;
    assert_eq!(status, 404);
    for href in hrefs(&html) {
        assert!(href.starts_with("/news/"), "{href}: {html}");
    }
    assert!(html.contains("href=\"/news/feed.atom\""), "{html}");
    d.stop().await;
}

#[tokio::test]
async fn pages_can_be_turned_off() {
    let (_server, _dir, d) = web_daemon("[web]\nenabled = false\n").await;
    assert_eq!(d.get("/", &[]).await.status(), 404);
    assert_eq!(d.get("/tags/world", &[]).await.status(), 404);
    // Not the site's 404 page, whose stylesheet and front page are gone
    // too: a line naming the feeds.
    let missing = d.get("/no/such/page", &[]).await;
    assert_eq!(missing.status(), 404);
    assert!(
        missing.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain"),
        "{:?}",
        missing.headers()
    );
    let text = missing.text().await.unwrap();
    assert!(
        text.contains("/feed.atom") && !text.contains("front page"),
        "{text}"
    );
    assert_eq!(d.get("/feed.atom", &[]).await.status(), 200);
    // The feeds do not send readers' "open website" to those 404s.
    let atom = d.get("/feed.atom", &[]).await.text().await.unwrap();
    let atom = atom_syndication::Feed::read_from(atom.as_bytes()).unwrap();
    assert!(
        atom.links().iter().all(|l| l.rel() != "alternate"),
        "{:?}",
        atom.links()
    );
    let json: serde_json::Value =
        serde_json::from_str(&d.get("/feed.json", &[]).await.text().await.unwrap()).unwrap();
    assert!(json.get("home_page_url").is_none(), "{json}");
    let rss = d.get("/feed.rss", &[]).await.text().await.unwrap();
    let rss = rss::Channel::read_from(rss.as_bytes()).unwrap();
    assert!(rss.link().ends_with("/feed.rss"), "{}", rss.link());
    d.stop().await;
}

#[tokio::test]
async fn the_operators_page_lists_failing_feeds_first_with_their_error() {
    let server = FeedServer::start().await;
    server.set(
        "/a.xml",
        Reply::feed(rss("A", &[("a1", "Alpha", "https://a.test/1")])),
    );
    server.set("/z.xml", Reply::status(500));
    // A site that asks us to wait: paused, neither ok nor failing.
    let busy = FeedServer::start().await;
    busy.set("/p.xml", Reply::status(429).header("retry-after", "3600"));
    let dir = TestDir::new();
    let config = dir.write_config(&format!(
        "{}{}{}",
        feed_block("a-good", &server.url("/a.xml"), ""),
        feed_block("z-broken", &server.url("/z.xml"), ""),
        feed_block("p-busy", &busy.url("/p.xml"), ""),
    ));
    let d = Daemon::start(config).await;
    d.wait_for_entries(1).await;
    let mut html = String::new();
    for _ in 0..100 {
        html = html_of(&d, "/feeds").await.2;
        if html.contains("HTTP 500") && html.contains("1 paused") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (status, headers, _) = html_of(&d, "/feeds").await;
    assert_eq!(status, 200);
    assert_page_headers("/feeds", &headers);
    let broken = html.find("z-broken").expect("the broken feed is listed");
    let good = html.find("a-good").expect("the good feed is listed");
    assert!(broken < good, "failing feeds come first:\n{html}");
    // Every feed is counted, as `/healthz` counts them.
    assert!(
        html.contains("3 feeds (1 ok, 1 failing, 1 paused)"),
        "{html}"
    );
    // Until when it backs off, in the page's own way of writing times.
    let state = &html[html.find("failing (1 in a row)").expect(&html)..];
    let state = &state[..state.find("</dd>").unwrap()];
    assert!(
        state.starts_with("failing (1 in a row), backing off until ")
            && state.ends_with(" UTC")
            && !state.contains('Z'),
        "{state}"
    );
    // Each feed's item count: the good one carried one, the broken and
    // the paused none.
    let counts: Vec<&str> = html
        .split("<dt>Items</dt><dd>")
        .skip(1)
        .map(|rest| &rest[..rest.find("</dd>").unwrap()])
        .collect();
    assert_eq!(counts, ["0", "0", "1"], "{html}");
    assert!(
        html.contains("/healthz") && html.contains("/metrics"),
        "{html}"
    );
    d.stop().await;
}

/// Every feed's `rel="alternate"` (RSS `<link>`, JSON Feed
/// `home_page_url`) is the page showing the same selection.
#[tokio::test]
async fn each_feed_points_readers_at_its_own_page() {
    let (_server, _dir, d) = web_daemon("[[views]]\nname = \"calm\"\ntags = [\"world\"]\n").await;
    for (feed, page) in [
        ("/feed.atom", "http://feeds.test/"),
        ("/tags/world.atom", "http://feeds.test/tags/world"),
        ("/views/calm.atom", "http://feeds.test/views/calm"),
    ] {
        let atom = d.get(feed, &[]).await.text().await.unwrap();
        assert!(
            atom.contains(&format!("<link rel=\"alternate\" href=\"{page}\"/>")),
            "{feed}: {atom}"
        );
        let local = page.trim_start_matches("http://feeds.test");
        assert_eq!(d.get(local, &[]).await.status(), 200, "{page}");
    }
    let json: serde_json::Value =
        serde_json::from_str(&d.get("/tags/world.json", &[]).await.text().await.unwrap()).unwrap();
    assert_eq!(json["home_page_url"], "http://feeds.test/tags/world");
    d.stop().await;
}

/// An article that changed after it was archived shows its earlier
/// versions on its page, newest first, in plain words ("First version",
/// not the archive's "version 0").
#[tokio::test]
async fn an_article_page_lists_earlier_versions() {
    let server = FeedServer::start().await;
    server.set_sequence(
        "/r.xml",
        vec![
            Reply::feed(rss("R", &[("r1", "First headline", "https://r.test/1")])),
            Reply::feed(rss("R", &[("r1", "Second headline", "https://r.test/1")])),
            Reply::feed(rss(
                "R",
                &[("r1", "Corrected headline", "https://r.test/1")],
            )),
        ],
    );
    let dir = TestDir::new();
    let config = dir.write_config(&feed_block("r", &server.url("/r.xml"), ""));
    let (_c, clock) = fixed_clock("2026-11-24T09:00:00Z");
    for _ in 0..3 {
        poll(&config, clock.clone()).await;
    }
    let d = Daemon::start(config).await;
    let (_, _, front) = html_of(&d, "/").await;
    let article = hrefs(&front)
        .into_iter()
        .filter_map(|h| local(&h))
        .find(|p| p.starts_with("/items/"))
        .unwrap();
    let (status, _, html) = html_of(&d, &article).await;
    assert_eq!(status, 200);
    // Feed text is isolated from the page's own (a Hebrew or Arabic title
    // must not reorder the words around it).
    assert!(
        html.contains("<h1 dir=\"auto\">Corrected headline</h1>"),
        "{html}"
    );
    assert!(html.contains("Earlier versions"), "{html}");
    assert!(
        html.contains(
            "<li>Version 2, replaced on 24 Nov 2026 09:00 UTC: <bdi>Second headline</bdi></li>\n\
             <li>First version, replaced on 24 Nov 2026 09:00 UTC: <bdi>First headline</bdi></li>"
        ),
        "{html}"
    );
    d.stop().await;
}

/// A feed whose title is escaped once too often (`AT&amp;amp;T News`,
/// common in RSS) is named as its publisher meant on the pages and in the
/// merged feeds, not "AT&amp;T News".
#[tokio::test]
async fn a_feed_title_escaped_twice_is_shown_as_meant() {
    let server = FeedServer::start().await;
    let doc = rss(
        "AT&amp;amp;T News",
        &[("a1", "Ben &amp;#8217;s week", "https://a.test/1")],
    );
    server.set("/att.xml", Reply::feed(doc));
    let dir = TestDir::new();
    let config = dir.write_config(&feed_block("att", &server.url("/att.xml"), ""));
    let d = Daemon::start(config).await;
    d.wait_for_entries(1).await;
    // (/feeds names each feed by its config name.)
    for page in ["/", "/feed.atom", "/feed.rss"] {
        let text = d.get(page, &[]).await.text().await.unwrap();
        // Pages write `&` as `&#38;`, the feeds as `&amp;`.
        let escaped = ["AT&amp;T News", "AT&#38;T News"];
        assert!(escaped.iter().any(|t| text.contains(t)), "{page}: {text}");
        assert!(!text.contains("amp;amp;"), "{page}: {text}");
    }
    let front = d.get("/", &[]).await.text().await.unwrap();
    assert!(front.contains("Ben \u{2019}s week"), "{front}");
    let json: serde_json::Value =
        serde_json::from_str(&d.get("/feed.json", &[]).await.text().await.unwrap()).unwrap();
    let item = &json["items"][0];
    assert_eq!(item["title"], "Ben \u{2019}s week");
    assert_eq!(item["_tickerfeed"]["sources"][0]["title"], "AT&T News");
    d.stop().await;
}

/// A daemon polling one feed whose first item has no link (and a plain
/// guid), its second a link of its own.
async fn linkless_daemon(extra: &str) -> (FeedServer, TestDir, Daemon) {
    let server = FeedServer::start().await;
    let doc = rss(
        "Wire",
        &[
            ("n1", "No link story", ""),
            ("n2", "Linked story", "https://l.test/2"),
        ],
    );
    server.set("/wire.xml", Reply::feed(doc));
    let dir = TestDir::new();
    let config = dir.write_config(&format!(
        "{}{extra}",
        feed_block("wire", &server.url("/wire.xml"), "")
    ));
    let d = Daemon::start(config).await;
    d.wait_for_entries(2).await;
    (server, dir, d)
}

/// Each item's link in Atom, RSS and JSON Feed, by title.
async fn item_links(d: &Daemon) -> Vec<(String, [Option<String>; 3])> {
    let atom = d.get("/feed.atom", &[]).await.text().await.unwrap();
    let atom = atom_syndication::Feed::read_from(atom.as_bytes()).unwrap();
    let rss = d.get("/feed.rss", &[]).await.text().await.unwrap();
    let rss = rss::Channel::read_from(rss.as_bytes()).unwrap();
    let json: serde_json::Value =
        serde_json::from_str(&d.get("/feed.json", &[]).await.text().await.unwrap()).unwrap();
    let mut links: Vec<(String, [Option<String>; 3])> = atom
        .entries()
        .iter()
        .map(|e| {
            let title = e.title().to_string();
            let atom = e
                .links()
                .iter()
                .find(|l| l.rel() == "alternate")
                .map(|l| l.href().to_string());
            let rss = rss
                .items()
                .iter()
                .find(|i| i.title() == Some(title.as_str()))
                .and_then(|i| i.link().map(str::to_string));
            let json = json["items"]
                .as_array()
                .unwrap()
                .iter()
                .find(|i| i["title"] == title.as_str())
                .and_then(|i| i["url"].as_str().map(str::to_string));
            (title, [atom, rss, json])
        })
        .collect();
    links.sort();
    links
}

/// An item without a link gets its page on this site as its link in every
/// feed, so a reader's "open" works; an item with a link keeps it.
#[tokio::test]
async fn an_item_without_a_link_links_to_its_page() {
    let (_server, dir, d) = linkless_daemon("").await;
    let uid = dir
        .column::<String>("SELECT uid FROM items WHERE guid = 'n1'")
        .remove(0);
    let page = format!("http://feeds.test/items/{uid}");
    let own = "https://l.test/2".to_string();
    assert_eq!(
        item_links(&d).await,
        [
            (
                "Linked story".into(),
                [Some(own.clone()), Some(own.clone()), Some(own)]
            ),
            (
                "No link story".into(),
                [Some(page.clone()), Some(page.clone()), Some(page)]
            ),
        ]
    );
    assert_eq!(d.get(&format!("/items/{uid}"), &[]).await.status(), 200);
    d.stop().await;
}

/// With the web face off there is no page to link to: the item stays
/// without a link rather than pointing at a 404.
#[tokio::test]
async fn without_pages_an_item_without_a_link_gets_none() {
    let (_server, _dir, d) = linkless_daemon("[web]\nenabled = false\n").await;
    let own = "https://l.test/2".to_string();
    assert_eq!(
        item_links(&d).await,
        [
            (
                "Linked story".into(),
                [Some(own.clone()), Some(own.clone()), Some(own)]
            ),
            ("No link story".into(), [None, None, None]),
        ]
    );
    d.stop().await;
}

/// The part of `html` between `open` and the next `close`; a test fails
/// when the page has no `open`.
fn section<'a>(html: &'a str, open: &str, close: &str) -> &'a str {
    html.split(open)
        .nth(1)
        .and_then(|rest| rest.split(close).next())
        .unwrap_or_else(|| panic!("no {open} on the page: {html}"))
}

/// The page at `path` once it says `words` (the provider's first
/// failure takes a moment), or as it is after five seconds.
async fn html_once(d: &Daemon, path: &str, words: &str) -> String {
    let mut html = String::new();
    for _ in 0..100 {
        html = html_of(d, path).await.2;
        if html.contains(words) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    html
}

/// A daemon polling one feed, "wire", served as `reply`, with a `[market]`
/// of AAPL whose provider is down, once the feed's one item is archived.
async fn wire_with_market_down(reply: Reply) -> (FeedServer, TestDir, Daemon) {
    let server = FeedServer::start().await;
    server.set("/wire.xml", reply);
    let dir = TestDir::new();
    let (market, _) = market_down();
    let config = dir.write_config(&format!(
        "{}{market}",
        feed_block("wire", &server.url("/wire.xml"), "")
    ));
    let d = Daemon::start(config).await;
    d.wait_for_entries(1).await;
    (server, dir, d)
}

/// QA: with `[market]` configured and its provider down since the start,
/// the front, view and symbol pages showed no board and no word about it.
/// They say in the board's place that no quote came, from which provider,
/// and that the last request failed, pointing at the Feeds page for why:
/// neither the provider's address nor its API key (the key here is
/// `PATH`'s value, which finnhub sends in the query) is on a public page.
/// Without `[market]`, nothing.
#[tokio::test]
async fn a_board_without_quotes_says_why_in_its_place() {
    let (market, closed) = market_down();
    let (_server, _dir, d) = web_daemon(&format!(
        "[[views]]\nname = \"calm\"\ntags = [\"world\"]\n{market}"
    ))
    .await;
    let key = std::env::var("PATH").unwrap();
    for path in ["/", "/views/calm", "/symbols/AAPL"] {
        let html = html_once(&d, path, "the last request failed").await;
        let notice = section(
            &html,
            "<section class=\"board\" aria-label=\"Market board\">",
            "</section>",
        );
        assert!(
            notice.contains(
                "Market data unavailable: no quotes received yet from finnhub; \
                 the last request failed (the Feeds page says why)."
            ),
            "{path}: {notice}"
        );
        assert!(!html.contains(&format!("127.0.0.1:{closed}")), "{notice}");
        assert!(
            !html.contains(&key),
            "{path}: the API key is shown: {notice}"
        );
    }
    d.stop().await;

    let (_server, _dir, d) = web_daemon("").await;
    let (_, _, html) = html_of(&d, "/").await;
    assert!(!html.contains("class=\"board\""), "{html}");
    assert!(!html.contains("Market data"), "{html}");
    d.stop().await;
}

/// QA: the public feeds page showed the market provider's last error as
/// reqwest says it, "error sending request for url
/// (http://10.0.0.5:8080/…)": the provider's address on a public page.
/// It says the kind of failure in plain words; the log and `tickerfeed
/// quotes` keep the whole error.
#[tokio::test]
async fn the_feeds_page_says_why_the_provider_failed_without_its_address() {
    let (market, closed) = market_down();
    let (_server, _dir, d) = web_daemon(&market).await;
    let html = html_once(&d, "/feeds", "<dt>Last error</dt>").await;
    let board = section(&html, "<h2>Market board</h2>", "</dl>");
    assert!(
        board.contains("<dt>Last error</dt><dd class=\"error\">AAPL: connection refused ("),
        "{board}"
    );
    assert!(!html.contains(&format!("127.0.0.1:{closed}")), "{html}");
    assert!(!html.contains("error sending request"), "{html}");
    d.stop().await;
}

/// QA: an item archived while the provider was down has its mention
/// recorded but no price on its snapshot, and its page showed no mention
/// at all, nor a way to the symbol's page.
#[tokio::test]
async fn a_mention_without_a_price_links_to_its_symbol_page() {
    let (_server, dir, d) = wire_with_market_down(Reply::feed(rss(
        "Wire",
        &[("a1", "Apple Inc. beats forecasts", "https://a.test/1")],
    )))
    .await;
    assert_eq!(
        dir.column::<String>("SELECT symbol FROM item_mentions"),
        ["AAPL"]
    );
    assert_eq!(
        dir.count("SELECT count(*) FROM snapshot_quotes"),
        0,
        "no price was had"
    );
    let article = first_article(&d).await;
    let (status, _, html) = html_of(&d, &article).await;
    assert_eq!(status, 200);
    assert!(
        html.contains(r#"<th scope="row"><a href="/symbols/AAPL">AAPL</a></th><td class="num">not recorded</td><td class="num">n/a</td><td class="num flat">n/a</td>"#),
        "{html}"
    );
    assert_eq!(html_of(&d, "/symbols/AAPL").await.0, 200);
    d.stop().await;
}

/// QA: tag pages and tag feeds existed, but no page listed them. The
/// feeds page has a "Tags" table (each tag, its number of feeds, its page
/// and feeds), and each feed there links its tags' pages; every one of
/// those links answers.
#[tokio::test]
async fn the_feeds_page_lists_the_tags_with_links_that_answer() {
    let (_server, _dir, d) = web_daemon(&feed_block(
        "more-world",
        "file:missing.xml",
        "tags = [\"world\"]",
    ))
    .await;
    let (status, _, html) = html_of(&d, "/feeds").await;
    assert_eq!(status, 200);
    let tags = section(&html, "<h2 id=\"tags\">Tags</h2>", "</table>");
    for (tag, feeds) in [("odd", 1), ("world", 2)] {
        assert!(
            tags.contains(&format!(
                r#"<tr><th scope="row"><a href="/tags/{tag}">{tag}</a></th><td class="num">{feeds}</td>"#
            )),
            "{tag}: {tags}"
        );
        for ext in ["atom", "rss", "json"] {
            assert!(
                tags.contains(&format!(r#"href="/tags/{tag}.{ext}""#)),
                "{tag}.{ext}: {tags}"
            );
        }
    }
    assert!(
        html.contains(r#"<dt>Tags</dt><dd><a href="/tags/odd">odd</a></dd>"#),
        "{html}"
    );
    let linked: std::collections::BTreeSet<String> = hrefs(&html)
        .into_iter()
        .filter(|h| h.starts_with("/tags/"))
        .collect();
    assert_eq!(linked.len(), 8, "{linked:?}");
    for path in linked {
        assert_eq!(html_of(&d, &path).await.0, 200, "{path}");
    }
    d.stop().await;
}

/// QA: `/symbols/<SYM>` dated each item by when it was archived (16:57
/// for a story published at 10:00) where every other page shows its
/// publication. It shows the river's date, in the river's words.
#[tokio::test]
async fn a_symbol_page_dates_its_items_as_the_river_does() {
    // Archived at 09:00, two hours after it was published.
    let (_server, _dir, d) = wire_with_market_down(Reply::feed(
        "<rss version=\"2.0\"><channel><title>Wire</title>\
         <item><guid>a1</guid><title>Apple Inc. beats forecasts</title>\
         <link>https://a.test/1</link><pubDate>Tue, 24 Nov 2026 07:00:00 GMT</pubDate></item>\
         </channel></rss>",
    ))
    .await;
    let time = "<time datetime=\"2026-11-24T07:00:00Z\">2 hours ago (24 Nov 07:00 UTC)</time>";
    let river = html_of(&d, "/").await.2;
    assert!(river.contains(time), "{river}");
    let symbol = html_of(&d, "/symbols/AAPL").await.2;
    assert!(symbol.contains("Apple Inc. beats forecasts"), "{symbol}");
    assert!(symbol.contains(time), "{symbol}");
    d.stop().await;
}

/// QA: the front page linked only to items and feeds, so the views and
/// the feeds page could not be found from the site, and the 404 page sent
/// people to an OPML file. Every page, the 404 too, has a navigation
/// list to the news, each view's page (by its title) and the feeds page.
#[tokio::test]
async fn every_page_links_to_the_views_and_the_feeds_page() {
    let (_server, _dir, d) = web_daemon(
        "[[views]]\nname = \"calm\"\ntitle = \"Calm news\"\ntags = [\"world\"]\n\
         [[views]]\nname = \"odd\"\ntags = [\"odd\"]\n",
    )
    .await;
    let article = first_article(&d).await;
    // The link to the page shown says so (a unit test in render::html
    // covers each page kind).
    for (path, current) in [
        ("/", Some(r#"<a href="/" aria-current="page">News</a>"#)),
        (
            "/views/odd",
            Some(r#"<a href="/views/odd" aria-current="page">odd</a>"#),
        ),
        (article.as_str(), None),
        ("/no/such/page", None),
    ] {
        let html = html_of(&d, path).await.2;
        let nav = section(
            &html,
            "<nav class=\"site-nav\" aria-label=\"Site\">",
            "</nav>",
        );
        assert_eq!(
            nav.matches("aria-current").count(),
            current.iter().count(),
            "{path}: {nav}"
        );
        if let Some(current) = current {
            assert!(nav.contains(current), "{path}: {nav}");
        }
        let nav = nav.replace(r#" aria-current="page""#, "");
        for link in [
            r#"<li><a href="/">News</a></li>"#,
            r#"<li><a href="/views/calm">Calm news</a></li>"#,
            r#"<li><a href="/views/odd">odd</a></li>"#,
            r#"<li><a href="/feeds">Feeds</a></li>"#,
        ] {
            assert!(nav.contains(link), "{path}: {link} missing from {nav}");
        }
    }
    let (status, headers, html) = html_of(&d, "/no/such/page").await;
    assert_eq!(status, 404);
    assert_page_headers("404", &headers);
    assert!(!html.contains("views.opml"), "{html}");
    assert!(
        html.contains(r#"<a href="/feeds">the feeds page</a>"#),
        "{html}"
    );
    // Each link leads to a page.
    for path in ["/views/calm", "/views/odd", "/feeds"] {
        let (status, headers, _) = html_of(&d, path).await;
        assert_eq!(status, 200, "{path}");
        assert_page_headers(path, &headers);
    }
    d.stop().await;
}
