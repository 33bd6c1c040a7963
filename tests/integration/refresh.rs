//! One poll end to end, checked in the archive an analyst would open.

use std::time::Duration;

use crate::util::*;

#[tokio::test]
async fn repoll_of_unchanged_feed_stores_nothing_new() {
    let server = FeedServer::start().await;
    server.set(
        "/a.xml",
        Reply::feed(rss(
            "A",
            &[
                ("a1", "One", "https://a.test/1"),
                ("a2", "Two", "https://a.test/2"),
            ],
        )),
    );
    let dir = TestDir::new();
    let config = dir.write_config(&feed_block("a", &server.url("/a.xml"), ""));
    let (_c, clock) = fixed_clock("2026-11-24T09:00:00Z");

    let first = poll(&config, clock.clone()).await;
    assert_eq!(first[0].1.summary.new, 2);
    let second = poll(&config, clock.clone()).await;
    assert_eq!(second[0].1.summary.new, 0);
    assert_eq!(second[0].1.outcome.as_str(), "unchanged");
    assert_eq!(dir.count("SELECT count(*) FROM items"), 2);
    assert_eq!(dir.count("SELECT count(*) FROM fetches"), 2);
}

#[tokio::test]
async fn conditional_get_sends_validators_back_and_304_is_cheap() {
    let server = FeedServer::start().await;
    server.set(
        "/a.xml",
        Reply::feed(rss("A", &[("a1", "One", "https://a.test/1")]))
            .with_etag("\"v1\"")
            .header("last-modified", "Mon, 23 Nov 2026 10:00:00 GMT"),
    );
    let dir = TestDir::new();
    let config = dir.write_config(&feed_block("a", &server.url("/a.xml"), ""));
    let (_c, clock) = fixed_clock("2026-11-24T09:00:00Z");
    poll(&config, clock.clone()).await;
    let again = poll(&config, clock.clone()).await;
    assert_eq!(again[0].1.outcome.as_str(), "not_modified");
    assert_eq!(again[0].1.status, Some(304));

    let seen = server.seen("/a.xml");
    assert_eq!(seen.len(), 2);
    assert!(seen[0].headers.get("if-none-match").is_none());
    assert_eq!(seen[1].headers["if-none-match"], "\"v1\"");
    assert_eq!(
        seen[1].headers["if-modified-since"],
        "Mon, 23 Nov 2026 10:00:00 GMT"
    );
    let ua = seen[0].headers["user-agent"].to_str().unwrap();
    assert!(ua.starts_with("tickerfeed/"), "{ua}");
    assert!(seen[1].headers.get("cache-control").is_none());
}

#[tokio::test]
async fn same_article_in_several_feeds_is_one_item_with_every_source() {
    let server = FeedServer::start().await;
    // Same global guid in a and b; same link (with tracking junk) in c,
    // whose guid is its own.
    server.set(
        "/a.xml",
        Reply::feed(rss(
            "A",
            &[(
                "https://news.test/story-1",
                "Story",
                "https://news.test/story-1",
            )],
        )),
    );
    server.set(
        "/b.xml",
        Reply::feed(rss(
            "B",
            &[(
                "https://news.test/story-1",
                "Story (B)",
                "https://news.test/story-1?from=b",
            )],
        )),
    );
    server.set(
        "/c.xml",
        Reply::feed(rss(
            "C",
            &[("c-77", "Story", "http://NEWS.test/story-1?utm_source=c#top")],
        )),
    );
    let dir = TestDir::new();
    let config = dir.write_config(&format!(
        "{}{}{}",
        feed_block("a", &server.url("/a.xml"), ""),
        feed_block("b", &server.url("/b.xml"), ""),
        feed_block("c", &server.url("/c.xml"), "")
    ));
    let (_c, clock) = fixed_clock("2026-11-24T09:00:00Z");
    poll(&config, clock).await;

    assert_eq!(dir.count("SELECT count(*) FROM items"), 1);
    let sources: Vec<(String, String)> = dir
        .db()
        .prepare("SELECT feed, matched_by FROM v_item_sources ORDER BY feed")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(sources.len(), 3, "{sources:?}");
    let matched: Vec<&str> = sources.iter().map(|(_, m)| m.as_str()).collect();
    assert_eq!(matched.iter().filter(|m| **m == "new").count(), 1);
    // Feeds are polled concurrently, so which one came first varies; the
    // others matched by guid or link.
    assert!(
        matched.iter().all(|m| ["new", "guid", "url"].contains(m)),
        "{sources:?}"
    );
}

#[tokio::test]
async fn numeric_guids_are_not_merged_across_feeds() {
    let server = FeedServer::start().await;
    server.set(
        "/a.xml",
        Reply::feed(rss("A", &[("1", "Alpha story", "https://a.test/x")])),
    );
    server.set(
        "/b.xml",
        Reply::feed(rss("B", &[("1", "Beta story", "https://b.test/y")])),
    );
    let dir = TestDir::new();
    let config = dir.write_config(&format!(
        "{}{}",
        feed_block("a", &server.url("/a.xml"), ""),
        feed_block("b", &server.url("/b.xml"), "")
    ));
    let (_c, clock) = fixed_clock("2026-11-24T09:00:00Z");
    poll(&config, clock).await;
    assert_eq!(dir.count("SELECT count(*) FROM items"), 2);
}

#[tokio::test]
async fn changed_item_is_updated_in_place_keeping_first_seen() {
    let server = FeedServer::start().await;
    server.set(
        "/a.xml",
        Reply::feed(rss("A", &[("a1", "Draft headline", "https://a.test/1")])),
    );
    let dir = TestDir::new();
    let config = dir.write_config(&feed_block("a", &server.url("/a.xml"), ""));
    let (c, clock) = fixed_clock("2026-11-24T09:00:00Z");
    poll(&config, clock.clone()).await;

    server.set(
        "/a.xml",
        Reply::feed(rss("A", &[("a1", "Final headline", "https://a.test/1")])),
    );
    c.advance(chrono::Duration::minutes(15));
    let r = poll(&config, clock.clone()).await;
    assert_eq!((r[0].1.summary.new, r[0].1.summary.updated), (0, 1));

    let (title, first, changed): (String, String, String) = dir
        .db()
        .query_row(
            "SELECT title, first_seen_at, changed_at FROM items",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(title, "Final headline");
    assert_eq!(first, "2026-11-24T09:00:00Z");
    assert_eq!(changed, "2026-11-24T09:15:00Z");
    assert_eq!(dir.count("SELECT count(*) FROM items"), 1);
}

#[tokio::test]
async fn feed_without_guids_keeps_stable_keys_across_polls() {
    let server = FeedServer::start().await;
    // No guid at all; the second item has no link either.
    let body = rss(
        "A",
        &[
            ("", "Linked", "https://a.test/linked"),
            ("", "Title only", ""),
        ],
    );
    server.set("/a.xml", Reply::feed(body.clone()));
    let dir = TestDir::new();
    let config = dir.write_config(&feed_block("a", &server.url("/a.xml"), ""));
    let (_c, clock) = fixed_clock("2026-11-24T09:00:00Z");
    poll(&config, clock.clone()).await;
    // Serve it again with different bytes (a comment) so it is re-parsed.
    server.set(
        "/a.xml",
        Reply::feed(body.replace("<channel>", "<channel><!-- again -->")),
    );
    let r = poll(&config, clock.clone()).await;
    assert_eq!(r[0].1.outcome.as_str(), "ok");
    assert_eq!(r[0].1.summary.new, 0);
    assert_eq!(dir.count("SELECT count(*) FROM items"), 2);
    let keys: Vec<String> = dir
        .db()
        .prepare("SELECT item_key FROM item_sources ORDER BY item_key")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(
        keys[0].starts_with("hash:") && keys[1] == "link:https://a.test/linked",
        "{keys:?}"
    );
}

#[tokio::test]
async fn failing_feeds_are_recorded_and_the_others_carry_on() {
    let server = FeedServer::start().await;
    server.set(
        "/good.xml",
        Reply::feed(rss("Good", &[("g1", "Fine", "https://g.test/1")])),
    );
    server.set("/500.xml", Reply::status(500));
    server.set("/404.xml", Reply::status(404));
    server.set(
        "/html.xml",
        Reply::feed("<!DOCTYPE html><html><head><link rel=\"alternate\" type=\"application/rss+xml\" href=\"/real.xml\"></head></html>")
            .header("content-type", "text/html"),
    );
    server.set(
        "/truncated.xml",
        Reply::feed("<rss version=\"2.0\"><channel><title>T</title><item><title>cut"),
    );
    server.set("/empty.xml", Reply::feed(""));
    server.set(
        "/slow.xml",
        Reply::feed(rss("Slow", &[])).delayed(Duration::from_secs(30)),
    );
    // Nothing listens on this port: bind then drop a listener to find one.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let dir = TestDir::new();
    let mut feeds = String::new();
    for name in ["good", "500", "404", "html", "truncated", "empty", "slow"] {
        feeds.push_str(&feed_block(name, &server.url(&format!("/{name}.xml")), ""));
    }
    feeds.push_str(&feed_block(
        "refused",
        &format!("http://{closed}/x.xml"),
        "",
    ));
    let mut config = dir.write_config(&feeds);
    config.fetch.timeout = Duration::from_secs(2);
    let (_c, clock) = fixed_clock("2026-11-24T09:00:00Z");
    let results = poll(&config, clock).await;

    let error_of = |name: &str| {
        results
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, r)| r.error.clone())
            .unwrap_or_default()
    };
    assert!(error_of("good").is_empty());
    assert!(error_of("500").contains("HTTP 500"), "{}", error_of("500"));
    assert!(error_of("404").contains("HTTP 404"));
    assert!(
        error_of("html").contains("not a feed"),
        "{}",
        error_of("html")
    );
    assert!(
        error_of("html").contains("/real.xml"),
        "{}",
        error_of("html")
    );
    assert!(
        error_of("truncated").contains("invalid feed"),
        "{}",
        error_of("truncated")
    );
    assert!(error_of("empty").contains("empty body"));
    assert!(
        error_of("slow").contains("timed out"),
        "{}",
        error_of("slow")
    );
    assert!(
        error_of("refused").contains("connect"),
        "{}",
        error_of("refused")
    );

    // The good feed's item is stored; every failure is on its feed row.
    assert_eq!(dir.count("SELECT count(*) FROM items"), 1);
    assert_eq!(
        dir.count("SELECT count(*) FROM feeds WHERE last_result = 'error' AND last_error IS NOT NULL AND consecutive_failures = 1"),
        7
    );
    assert_eq!(
        dir.count("SELECT count(*) FROM fetches WHERE result = 'error'"),
        7
    );
}

#[tokio::test]
async fn a_failed_feed_is_retried_and_recovers() {
    let server = FeedServer::start().await;
    server.set_sequence(
        "/a.xml",
        vec![
            Reply::status(503),
            Reply::feed(rss("A", &[("a1", "Back", "https://a.test/1")])),
        ],
    );
    let dir = TestDir::new();
    let config = dir.write_config(&feed_block("a", &server.url("/a.xml"), ""));
    let (_c, clock) = fixed_clock("2026-11-24T09:00:00Z");
    assert!(poll(&config, clock.clone()).await[0].1.error.is_some());
    assert!(poll(&config, clock.clone()).await[0].1.error.is_none());
    assert_eq!(dir.count("SELECT consecutive_failures FROM feeds"), 0);
    assert_eq!(dir.count("SELECT count(*) FROM items"), 1);
}

#[tokio::test]
async fn local_file_feeds_work() {
    let dir = TestDir::new();
    std::fs::write(
        dir.path().join("local.xml"),
        rss("Local", &[("l1", "From disk", "/story")]),
    )
    .unwrap();
    let config = dir.write_config(&feed_block("local", "file:local.xml", ""));
    let (_c, clock) = fixed_clock("2026-11-24T09:00:00Z");
    let r = poll(&config, clock).await;
    assert_eq!(r[0].1.summary.new, 1, "{:?}", r[0].1.error);
    let url: String = dir
        .db()
        .query_row("SELECT url FROM items", [], |r| r.get(0))
        .unwrap();
    // Relative links resolve against the site the feed names.
    assert_eq!(url, "https://example.com/story");
}

#[tokio::test]
async fn a_pass_over_more_feeds_than_one_read_of_their_rows_polls_each_once() {
    // The pass reads its feeds' rows a chunk at a time (256): 600 feeds
    // cross two chunk boundaries.
    const FEEDS: usize = 600;
    let server = FeedServer::start().await;
    let mut feeds = String::new();
    for i in 0..FEEDS {
        let path = format!("/f{i}.xml");
        let (guid, link) = (format!("g{i}"), format!("https://f.test/{i}"));
        server.set(
            &path,
            Reply::feed(rss(&format!("F{i}"), &[(&guid, "Item", &link)])),
        );
        feeds.push_str(&feed_block(&format!("f{i:03}"), &server.url(&path), ""));
    }
    let dir = TestDir::new();
    let mut config = dir.write_config(&feeds);
    // One loopback site stands for 600: no spacing between its requests.
    config.fetch.per_host_concurrency = 16;
    config.fetch.per_host_spacing = Duration::ZERO;
    let (_c, clock) = fixed_clock("2026-11-24T09:00:00Z");

    let results = poll(&config, clock).await;
    let names: Vec<&str> = results.iter().map(|(n, _)| n.as_str()).collect();
    let expected: Vec<String> = (0..FEEDS).map(|i| format!("f{i:03}")).collect();
    assert_eq!(
        names, expected,
        "one result per feed, in the config's order"
    );
    assert!(results.iter().all(|(_, r)| r.summary.new == 1));
    assert_eq!(server.seen_all().len(), FEEDS, "each feed fetched once");
    assert_eq!(dir.count("SELECT count(*) FROM items"), FEEDS as i64);
    assert_eq!(
        dir.count("SELECT count(DISTINCT feed_id) FROM fetches"),
        FEEDS as i64
    );
}

/// The operator reading the log of a failed poll sees which address
/// failed, not only the feed's name (an "HTTP 404" alone does not say
/// which URL to fix), with a key in its query blanked.
#[tokio::test]
async fn a_failed_polls_log_line_names_the_address_asked() {
    let server = FeedServer::start().await;
    server.set("/gone-missing.xml", Reply::status(404));
    let url = format!("{}?api_key=hunter2", server.url("/gone-missing.xml"));
    let dir = TestDir::new();
    dir.write_config(&feed_block("missing", &url, ""));

    let mut poll = bin();
    poll.arg("--config").arg(dir.config_path()).arg("poll");
    let polled = tokio::task::spawn_blocking(move || poll.output().unwrap())
        .await
        .unwrap();
    let log = String::from_utf8_lossy(&polled.stderr);
    let line = log
        .lines()
        .find(|l| l.contains("poll failed") && l.contains("missing"))
        .unwrap_or_else(|| panic!("no failure line: {log}"));
    let shown = format!("url={}?api_key=****", server.url("/gone-missing.xml"));
    assert!(line.contains(&shown), "{line}");
    assert!(!log.contains("hunter2"), "{log}");
}

/// An RSS guid that says `isPermaLink="false"` is no link for an item
/// without one: the archive holds no url for it (nor a canonical one to
/// match other feeds by), and the merged feed links it to its own page.
#[tokio::test]
async fn a_guid_that_is_no_permalink_is_no_link_in_the_archive_or_the_feed() {
    let server = FeedServer::start().await;
    server.set(
        "/cms.xml",
        Reply::feed(
            r#"<?xml version="1.0"?><rss version="2.0"><channel><title>CMS</title>
            <link>https://cms.test/</link>
            <item><title>Internal id</title><description>Body</description>
              <guid isPermaLink="false">https://internal.g.example/cms/id/8841</guid></item>
            <item><title>Permalink</title>
              <guid>https://cms.test/2026/permalink</guid></item>
            </channel></rss>"#,
        ),
    );
    let dir = TestDir::new();
    let config = dir.write_config(&feed_block("cms", &server.url("/cms.xml"), ""));
    let (_c, clock) = fixed_clock("2026-11-24T09:00:00Z");
    poll(&config, clock).await;

    let row = |title: &str| -> (String, Option<String>, Option<String>) {
        dir.db()
            .query_row(
                "SELECT uid, url, canonical_url FROM v_items WHERE title = ?1",
                [title],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap()
    };
    let (uid, url, canonical) = row("Internal id");
    assert_eq!((url, canonical), (None, None));
    let (_, url, _) = row("Permalink");
    assert_eq!(url.as_deref(), Some("https://cms.test/2026/permalink"));

    let (code, rss, err) = cli(&dir, &["render", "--format", "rss"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(
        rss.contains(&format!("<link>http://feeds.test/items/{uid}</link>")),
        "{rss}"
    );
    assert!(
        !rss.contains("internal.g.example/cms/id/8841</link>"),
        "{rss}"
    );
}

/// Atom content resolves its relative links against the `xml:base` in
/// scope (RFC 4287, XML Base), not against the entry's link, in the
/// archive and the merged feed.
#[tokio::test]
async fn atom_content_resolves_its_links_against_the_xml_base_in_scope() {
    let server = FeedServer::start().await;
    server.set(
        "/base.atom",
        Reply::feed(
            r#"<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom" xml:base="http://base.example/news/">
            <title>Based</title><id>urn:based</id><updated>2026-11-24T08:00:00Z</updated>
            <entry><id>urn:based:1</id><title>Hello</title><updated>2026-11-24T08:00:00Z</updated>
              <link href="story/1"/>
              <content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p>Hello <a href="rel/2">two</a></p></div></content></entry>
            </feed>"#,
        )
        .header("content-type", "application/atom+xml"),
    );
    let dir = TestDir::new();
    let config = dir.write_config(&feed_block("based", &server.url("/base.atom"), ""));
    let (_c, clock) = fixed_clock("2026-11-24T09:00:00Z");
    poll(&config, clock).await;

    let (url, content): (Option<String>, String) = dir
        .db()
        .query_row("SELECT url, content_html FROM v_items", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(url.as_deref(), Some("http://base.example/news/story/1"));
    assert!(
        content.contains(r#"href="http://base.example/news/rel/2""#),
        "{content}"
    );
    let (code, atom, err) = cli(&dir, &["render", "--format", "atom"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(atom.contains("http://base.example/news/rel/2"), "{atom}");
    assert!(!atom.contains("news/story/rel/2"), "{atom}");
}

/// A feed's own `<updated>` in year 0 (year -1 in UTC) was archived as
/// `-0001-12-31T23:00:00Z`, breaking the fixed-width times the archive
/// promises; it is dropped as an item's date would be.
#[tokio::test]
async fn a_feed_date_in_year_0_is_not_archived() {
    let server = FeedServer::start().await;
    server.set(
        "/a.xml",
        Reply::feed(
            r#"<feed xmlns="http://www.w3.org/2005/Atom"><title>A</title><id>urn:a</id>
            <updated>0000-01-01T00:00:00+01:00</updated>
            <entry><title>One</title><id>urn:1</id><link href="https://a.test/1"/>
              <updated>0000-01-01T00:00:00+01:00</updated></entry></feed>"#,
        ),
    );
    let dir = TestDir::new();
    let config = dir.write_config(&feed_block("a", &server.url("/a.xml"), ""));
    let (_c, clock) = fixed_clock("2026-11-24T09:00:00Z");
    assert_eq!(poll(&config, clock).await[0].1.summary.new, 1);
    assert_eq!(
        dir.column::<Option<String>>("SELECT feed_updated_at FROM feeds"),
        [None]
    );
    assert_eq!(
        dir.column::<Option<String>>("SELECT updated_at FROM items"),
        [None]
    );
}
