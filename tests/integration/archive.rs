//! The archive as a public record: dedup with provenance, guid changes,
//! revisions, tombstones, search, paging, readers beside a writer.

use std::time::Duration;

use crate::util::*;

#[tokio::test]
async fn one_article_in_three_feeds_with_tracking_junk_is_one_item_with_three_sources() {
    let server = FeedServer::start().await;
    server.set(
        "/a.xml",
        Reply::feed(rss(
            "A",
            &[(
                "a-1",
                "Rates held",
                "https://news.test/rates?utm_source=a&utm_medium=rss",
            )],
        )),
    );
    server.set(
        "/b.xml",
        Reply::feed(rss(
            "B",
            &[(
                "b-9",
                "Rates held",
                "http://NEWS.test:80/rates?fbclid=xyz#comments",
            )],
        )),
    );
    server.set(
        "/c.xml",
        Reply::feed(rss(
            "C",
            &[(
                "c-3",
                "Rates held",
                "https://news.test/rates?gclid=1&mc_cid=2",
            )],
        )),
    );
    let dir = TestDir::new();
    let config = dir.write_config(&format!(
        "{}{}{}",
        feed_block("a", &server.url("/a.xml"), ""),
        feed_block("b", &server.url("/b.xml"), ""),
        feed_block("c", &server.url("/c.xml"), "")
    ));
    poll(&config, fixed_clock("2026-11-24T09:00:00Z").1).await;
    assert_eq!(dir.count("SELECT count(*) FROM items"), 1);
    assert_eq!(dir.count("SELECT count(*) FROM v_item_sources"), 3);
    // Every merge says why.
    assert_eq!(dir.count("SELECT count(*) FROM v_item_sources WHERE matched_by != 'new' AND reason LIKE 'same canonical link%'"), 2);
    let canonical: String = dir
        .db()
        .query_row("SELECT canonical_url FROM items", [], |r| r.get(0))
        .unwrap();
    assert_eq!(canonical, "https://news.test/rates");
}

#[tokio::test]
async fn a_guid_flip_does_not_resurrect_the_article() {
    let server = FeedServer::start().await;
    server.set(
        "/f.xml",
        Reply::feed(rss(
            "F",
            &[("old-guid-1", "Same story", "https://f.test/story")],
        )),
    );
    let dir = TestDir::new();
    let config = dir.write_config(&feed_block("f", &server.url("/f.xml"), ""));
    let (c, clock) = fixed_clock("2026-11-24T09:00:00Z");
    poll(&config, clock.clone()).await;
    // The CMS moved: every guid changed, link and title did not.
    server.set(
        "/f.xml",
        Reply::feed(rss(
            "F",
            &[("new-guid-77", "Same story", "https://f.test/story")],
        )),
    );
    c.advance(chrono::Duration::minutes(15));
    let r = poll(&config, clock.clone()).await;
    assert_eq!(r[0].1.summary.new, 0);
    assert_eq!(dir.count("SELECT count(*) FROM items"), 1);
    let reason: String = dir
        .db()
        .query_row(
            "SELECT reason FROM v_item_sources WHERE matched_by = 'alias'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(
        reason.contains("old-guid-1") && reason.contains("new-guid-77"),
        "{reason}"
    );
}

#[tokio::test]
async fn a_changed_item_keeps_its_previous_version_and_churn_is_capped() {
    let server = FeedServer::start().await;
    let dir = TestDir::new();
    let config = dir.write_config(&feed_block("f", &server.url("/f.xml"), ""));
    let (c, clock) = fixed_clock("2026-11-24T09:00:00Z");
    for version in 0..30 {
        server.set(
            "/f.xml",
            Reply::feed(rss(
                "F",
                &[(
                    "live-1",
                    &format!("Live blog, update {version}"),
                    "https://f.test/live",
                )],
            )),
        );
        poll(&config, clock.clone()).await;
        c.advance(chrono::Duration::minutes(1));
    }
    assert_eq!(dir.count("SELECT count(*) FROM items"), 1);
    let first: String = dir
        .db()
        .query_row(
            "SELECT title FROM v_item_revisions WHERE revision = 0",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(first, "Live blog, update 0");
    // 29 changes, 25 versions kept; the item itself is current.
    assert_eq!(dir.count("SELECT count(*) FROM item_revisions"), 25);
    let title: String = dir
        .db()
        .query_row("SELECT title FROM items", [], |r| r.get(0))
        .unwrap();
    assert_eq!(title, "Live blog, update 29");
    assert_eq!(dir.count("SELECT revision FROM items"), 29);
}

/// Whatever a reader types into the search box is a search, never an
/// error: FTS5 syntax, quotes, control characters (a NUL failed the query,
/// which the daemon answered 503 "the archive is not answering").
#[tokio::test]
async fn any_search_text_is_answered() {
    let server = FeedServer::start().await;
    server.set(
        "/n.xml",
        Reply::feed(rss("News", &[("n1", "Oil prices", "https://n.test/1")])),
    );
    let dir = TestDir::new();
    let config = dir.write_config(&feed_block("news", &server.url("/n.xml"), ""));
    poll(&config, fixed_clock("2026-11-24T09:00:00Z").1).await;
    let store = tickerfeed::store::Store::open(&config.storage.path).unwrap();
    for text in [
        "oil\0",
        "x\0y",
        "\0",
        "oil\u{1}",
        "\"",
        "NEAR(a b)",
        "a:b",
        "^x",
        "*",
        "OR",
    ] {
        store
            .search(text, 10, None)
            .await
            .unwrap_or_else(|e| panic!("{text:?}: {e}"));
    }
    assert_eq!(store.search("oil\0", 10, None).await.unwrap().len(), 1);
}

/// `tickerfeed search` with `args`, run on `dir`'s config.
async fn search_command(dir: &TestDir, args: &[&str]) -> std::process::Output {
    let cfg = dir.config_path();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        bin()
            .arg("--config")
            .arg(&cfg)
            .arg("search")
            .args(args)
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_finds_words_in_content_and_ranks_title_hits_first() {
    let server = FeedServer::start().await;
    let body = rss(
        "News",
        &[
            ("n1", "Weather report", "https://n.test/1"),
            ("n2", "Glacier melt accelerates", "https://n.test/2"),
            ("n3", "Markets open", "https://n.test/3"),
        ],
    )
    // The weather story mentions glaciers only in its text.
    .replace(
        "About Weather report",
        "&lt;p&gt;Snow on the &lt;b&gt;glacier&lt;/b&gt; tonight&lt;/p&gt;",
    );
    server.set("/n.xml", Reply::feed(body));
    let dir = TestDir::new();
    let config = dir.write_config(&feed_block("news", &server.url("/n.xml"), ""));
    poll(&config, fixed_clock("2026-11-24T09:00:00Z").1).await;

    let out = search_command(&dir, &["glacier"]).await;
    assert!(out.status.success());
    let out = String::from_utf8_lossy(&out.stdout).into_owned();
    let lines: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with(|c: char| c.is_ascii_digit()))
        .collect();
    assert_eq!(lines.len(), 2, "{out}");
    // "glacier" stems to match "Glacier" in a title: title hit first.
    assert!(lines[0].contains("Glacier melt"), "{out}");
    assert!(lines[1].contains("Weather report"), "{out}");
    // The snippet shows the match, HTML stripped.
    assert!(out.contains("[glacier]") && !out.contains("<b>"), "{out}");
    // The date a hit shows is the one `--since` compares with: the
    // entries are dated the 23rd and archived the 24th, and a hit shown
    // as from one day was once left out by a `--since` of that day.
    let shown = &lines[0][lines[0].rfind(", ").unwrap() + 2..lines[0].len() - 1];
    assert_eq!(shown, "2026-11-23", "{out}");
    let search_since = async |since: &str| {
        let out = search_command(&dir, &["glacier", "--since", since]).await;
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let since_shown = search_since("2026-11-23").await;
    assert!(since_shown.contains("Glacier melt"), "{since_shown}");
    let since_next = search_since("2026-11-24").await;
    assert!(since_next.starts_with("no items match"), "{since_next}");
    // No match, and hostile syntax, are not errors.
    let out = search_command(&dir, &["\"AND( C++"]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `tickerfeed search` takes its snippet from the text, as the search page
/// does (`web::a_search_hit_in_the_title_shows_the_summary_not_the_title_again`):
/// a hit in the title shows the summary, not the title a second time.
#[tokio::test]
async fn the_search_command_shows_a_title_hit_with_its_summary_not_the_title_again() {
    let server = FeedServer::start().await;
    server.set("/tankers.xml", Reply::feed(TANKERS_FEED));
    let dir = TestDir::new();
    let config = dir.write_config(&feed_block("tankers", &server.url("/tankers.xml"), ""));
    poll(&config, fixed_clock("2026-11-24T09:00:00Z").1).await;
    let out = search_command(&dir, &["tanker"]).await;
    assert!(out.status.success());
    let out = String::from_utf8_lossy(&out.stdout).into_owned();
    // A hit's lines: its numbered title, then its link and snippet.
    let hit = |title: &str| {
        let mut lines = out.lines().skip_while(|l| !l.contains(title));
        let first = lines
            .next()
            .unwrap_or_else(|| panic!("no hit {title}: {out}"));
        std::iter::once(first)
            .chain(lines.take_while(|l| l.starts_with("   ")))
            .collect::<Vec<_>>()
    };
    let titled = hit("Tanker rates jump");
    assert_eq!(titled.concat().matches("Gulf lanes").count(), 1, "{out}");
    assert_eq!(
        titled[2], "   Charterers paid record day rates on Monday.",
        "{out}"
    );
    let bare = hit("Tanker quiet week");
    assert_eq!(bare.len(), 2, "its title and link, nothing again: {out}");
    assert_eq!(
        hit("Harbour notes")[2],
        "   A [tanker] berthed late after fog.",
        "{out}"
    );
}

#[tokio::test]
async fn paging_back_visits_every_item_once_while_new_items_arrive() {
    let server = FeedServer::start().await;
    let items = |n: usize| -> String {
        let v: Vec<(String, String, String)> = (0..n)
            .map(|i| {
                (
                    format!("g{i}"),
                    format!("Item {i:03}"),
                    format!("https://p.test/{i}"),
                )
            })
            .collect();
        let refs: Vec<(&str, &str, &str)> = v
            .iter()
            .map(|(a, b, c)| (a.as_str(), b.as_str(), c.as_str()))
            .collect();
        rss("P", &refs)
    };
    server.set("/p.xml", Reply::feed(items(25)));
    let dir = TestDir::new();
    let mut config = dir.write_config(&feed_block("p", &server.url("/p.xml"), ""));
    config.output.max_items = 10;
    let (c, clock) = fixed_clock("2026-11-24T09:00:00Z");
    let opened = tickerfeed::app::open(&config, clock.clone()).await.unwrap();
    tickerfeed::scheduler::poll_once(&opened.pipeline, opened.feeds.clone(), 2).await;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();

    config.server.base_url = Some(url::Url::parse(&format!("http://{addr}/")).unwrap());
    let stop = tokio_util::sync::CancellationToken::new();
    let pipeline = opened.pipeline.clone();
    let feeds = opened.feeds.clone();
    let daemon = tokio::spawn(tickerfeed::app::serve_with(
        config,
        clock.clone(),
        stop.clone(),
        opened,
        listener,
        tickerfeed::systemd::Notifier::default(),
    ));

    let mut seen: Vec<String> = Vec::new();
    let mut url = Some(format!("http://{addr}/feed.atom"));
    let mut pages = 0;
    while let Some(u) = url.take() {
        let doc = reqwest::get(&u).await.unwrap().text().await.unwrap();
        let feed = atom_syndication::Feed::read_from(doc.as_bytes()).unwrap();
        seen.extend(feed.entries().iter().map(|e| e.title().to_string()));
        url = feed
            .links()
            .iter()
            .find(|l| l.rel() == "next")
            .map(|l| l.href().to_string());
        pages += 1;
        if pages == 1 {
            // New items arrive after the first page was read.
            c.advance(chrono::Duration::minutes(5));
            server.set("/p.xml", Reply::feed(items(32)));
            tickerfeed::scheduler::poll_once(&pipeline, feeds.clone(), 2).await;
        }
        assert!(pages < 10, "paging did not end");
    }
    let mut originals: Vec<String> = (0..25).map(|i| format!("Item {i:03}")).collect();
    let mut got: Vec<String> = seen
        .iter()
        .filter(|t| originals.contains(t))
        .cloned()
        .collect();
    got.sort();
    originals.sort();
    assert_eq!(got, originals, "every original item exactly once");
    assert_eq!(
        seen.len(),
        25,
        "the new items appear only on the first page's next reload: {seen:?}"
    );
    // JSON Feed pages the same way.
    let json: serde_json::Value = serde_json::from_slice(
        &reqwest::get(format!("http://{addr}/feed.json"))
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap(),
    )
    .unwrap();
    assert!(json["next_url"].as_str().unwrap().contains("before="));
    // A search served as a feed.
    let found = reqwest::get(format!("http://{addr}/feed.rss?q=Item+007"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let channel = rss::Channel::read_from(found.as_bytes()).unwrap();
    assert_eq!(channel.items().len(), 1, "{found}");
    assert_eq!(
        reqwest::get(format!("http://{addr}/feed.atom?before=garbage"))
            .await
            .unwrap()
            .status(),
        400
    );
    stop.cancel();
    daemon.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pruned_items_leave_tombstones_and_never_come_back() {
    let server = FeedServer::start().await;
    server.set("/t.xml", Reply::feed(rss_of(8, |i| format!("Item {i}"))));
    let dir = TestDir::new();
    dir.write_config(&format!(
        "[storage]\nmax_items_per_feed = 5\n{}",
        feed_block("t", &server.url("/t.xml"), "")
    ));
    let cfg = dir.config_path();
    let run = move |args: &'static [&'static str]| {
        let cfg = cfg.clone();
        tokio::task::spawn_blocking(move || {
            let o = bin().arg("--config").arg(&cfg).args(args).output().unwrap();
            (
                o.status.success(),
                String::from_utf8_lossy(&o.stdout).into_owned(),
                String::from_utf8_lossy(&o.stderr).into_owned(),
            )
        })
    };
    let (ok, _, err) = run(&["poll"]).await.unwrap();
    assert!(ok, "{err}");
    assert_eq!(dir.count("SELECT count(*) FROM items"), 8);
    let (ok, out, err) = run(&["prune"]).await.unwrap();
    assert!(ok, "{err}");
    assert!(out.contains("deleted 3 items"), "{out}");
    assert_eq!(dir.count("SELECT count(*) FROM items"), 5);
    assert_eq!(dir.count("SELECT count(*) FROM tombstones"), 3);
    // The feed still lists them; they stay deleted.
    server.set(
        "/t.xml",
        Reply::feed(
            rss_of(8, |i| format!("Item {i}")).replace("<channel>", "<channel><!-- changed -->"),
        ),
    );
    run(&["poll"]).await.unwrap();
    assert_eq!(dir.count("SELECT count(*) FROM items"), 5);
    let (_, out, _) = run(&["feeds"]).await.unwrap();
    assert!(out.contains("archive:") && out.contains("5 items"), "{out}");
}

/// An id is never given twice: once retention deleted every item, the
/// next article archived is numbered past them, not from 1 again, so an
/// analyst who read up to an id misses nothing that came after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_id_retention_deleted_is_never_given_again() {
    let server = FeedServer::start().await;
    let feed = |items: &[(&str, &str, &str)]| Reply::feed(rss("T", items));
    server.set(
        "/t.xml",
        feed(&[
            ("g0", "Item 0", "https://t.test/0"),
            ("g1", "Item 1", "https://t.test/1"),
        ]),
    );
    let dir = TestDir::new();
    let config = dir.write_config(&feed_block("t", &server.url("/t.xml"), ""));
    let (clock, shared) = fixed_clock("2026-03-02T10:00:00Z");
    poll(&config, shared.clone()).await;
    assert_eq!(dir.count("SELECT max(id) FROM items"), 2);
    // A month later, a week's retention deletes both.
    clock.advance(chrono::Duration::days(30));
    let store = tickerfeed::store::Store::open(&dir.db_path()).unwrap();
    use tickerfeed::clock::Clock;
    let week = Some(chrono::Duration::days(7));
    assert_eq!(store.prune(week, None, clock.now()).await.unwrap(), 2);
    server.set("/t.xml", feed(&[("g2", "Item 2", "https://t.test/2")]));
    poll(&config, shared).await;
    assert_eq!(dir.titles(), ["Item 2"]);
    assert_eq!(dir.count("SELECT id FROM items"), 3);
}

/// A feed that gives every entry one guid, newest first: each new article
/// is archived as new, and none takes over an older one's row, id or
/// date (the first listed used to keep the bare guid, so every new
/// article overwrote the one before it, which came back as "new"). The
/// same when every entry also links to the site's home page: they were
/// told apart by their place in the document, so a new one shifted the
/// rest, and each took over the row of the one listed after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_sharing_one_guid_stay_apart_as_the_feed_grows() {
    for links in [
        ["https://t.test/a", "https://t.test/b", "https://t.test/c"],
        ["https://t.test/"; 3],
    ] {
        entries_sharing_one_guid_grow(links).await;
    }
}

async fn entries_sharing_one_guid_grow(links: [&str; 3]) {
    let server = FeedServer::start().await;
    let dir = TestDir::new();
    let config = dir.write_config(&feed_block("t", &server.url("/t.xml"), ""));
    let (clock, shared) = fixed_clock("2026-11-23T12:00:00Z");
    // Title, link, hour published.
    let a = ("Alpha", links[0], 9);
    let b = ("Beta", links[1], 10);
    let c = ("Gamma", links[2], 11);
    let document = |entries: &[(&str, &str, u32)]| {
        let items: String = entries
            .iter()
            .map(|(title, link, hour)| {
                format!(
                    "<item><guid>same</guid><title>{title}</title><link>{link}</link>\
                     <pubDate>Mon, 23 Nov 2026 {hour:02}:00:00 GMT</pubDate></item>"
                )
            })
            .collect();
        format!("<rss version=\"2.0\"><channel><title>T</title>{items}</channel></rss>")
    };
    let archived = || -> Vec<(String, String)> {
        dir.db()
            .prepare("SELECT uid, title FROM items ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    let mut expected = Vec::new();
    for (listed, title) in [
        (vec![a], Some("Alpha")),
        (vec![b, a], Some("Beta")),
        (vec![b], None),
        (vec![c, b], Some("Gamma")),
        (vec![c], None),
    ] {
        server.set("/t.xml", Reply::feed(document(&listed)));
        poll(&config, shared.clone()).await;
        clock.advance(chrono::Duration::hours(1));
        let now = archived();
        assert_eq!(
            now[..expected.len()],
            expected[..],
            "an older entry changed"
        );
        if let Some(title) = title {
            expected.push(now[expected.len()].clone());
            assert_eq!(expected.last().unwrap().1, title);
        }
        assert_eq!(now, expected, "listed {listed:?}");
        assert_eq!(
            dir.count("SELECT count(*) FROM item_revisions"),
            0,
            "nothing was edited ({links:?})"
        );
    }
}

/// The same feed later listing one of those entries alone: with no link
/// it is known by its text, and edited it is updated in place, not
/// archived again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entry_under_a_shared_guid_that_comes_alone_is_the_same_entry() {
    let server = FeedServer::start().await;
    let dir = TestDir::new();
    let config = dir.write_config(&feed_block("t", &server.url("/t.xml"), ""));
    let (clock, shared) = fixed_clock("2026-11-23T12:00:00Z");
    let entry = |title: &str, link: &str| {
        let link = if link.is_empty() {
            String::new()
        } else {
            format!("<link>{link}</link>")
        };
        format!("<item><guid>same</guid><title>{title}</title>{link}</item>")
    };
    let poll_with = |entries: Vec<String>| {
        server.set(
            "/t.xml",
            Reply::feed(format!(
                "<rss version=\"2.0\"><channel><title>T</title>{}</channel></rss>",
                entries.concat()
            )),
        );
        clock.advance(chrono::Duration::hours(1));
        poll(&config, shared.clone())
    };
    // No links: told apart by their text.
    poll_with(vec![entry("Ex", ""), entry("Why", "")]).await;
    poll_with(vec![entry("Ex", "")]).await;
    assert_eq!(dir.titles(), ["Ex", "Why"]);
    // With links: one edited, alone, is updated in place.
    poll_with(vec![
        entry("Bee", "https://t.test/b"),
        entry("Ay", "https://t.test/a"),
    ])
    .await;
    poll_with(vec![entry("Bee, corrected", "https://t.test/b")]).await;
    assert_eq!(dir.titles(), ["Ex", "Why", "Bee, corrected", "Ay"]);
    assert_eq!(dir.count("SELECT count(*) FROM item_revisions"), 1);
    // Sharing the link too (the home page): alone, known by its text.
    let home = "https://t.test/";
    poll_with(vec![entry("Dee", home), entry("Cee", home)]).await;
    poll_with(vec![entry("Cee", home)]).await;
    assert_eq!(
        dir.titles(),
        ["Ex", "Why", "Bee, corrected", "Ay", "Dee", "Cee"]
    );
}

/// A feed whose entries all link to the site's home page: pruning one
/// must not bury every later entry with that link (dedup never matches
/// on such links, and neither may the tombstones).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pruned_entry_linking_to_the_home_page_does_not_bury_later_ones() {
    let server = FeedServer::start().await;
    let home = "https://t.test/";
    server.set(
        "/t.xml",
        Reply::feed(rss("T", &[("g2", "Two", home), ("g1", "One", home)])),
    );
    let dir = TestDir::new();
    let config = dir.write_config(&format!(
        "[storage]\nmax_items_per_feed = 1\n{}",
        feed_block("t", &server.url("/t.xml"), "")
    ));
    let (clock, shared) = fixed_clock("2026-11-23T12:00:00Z");
    poll(&config, shared.clone()).await;
    let store = tickerfeed::store::Store::open(&config.storage.path).unwrap();
    use tickerfeed::clock::Clock;
    assert_eq!(store.prune(None, Some(1), clock.now()).await.unwrap(), 1);
    assert_eq!(dir.count("SELECT count(*) FROM tombstones"), 1);

    server.set(
        "/t.xml",
        Reply::feed(rss(
            "T",
            &[
                ("g4", "Four", home),
                ("g3", "Three", home),
                ("g2", "Two", home),
            ],
        )),
    );
    clock.advance(chrono::Duration::hours(1));
    poll(&config, shared).await;
    // "Two" was pruned and stays so; the new entries are archived.
    assert_eq!(dir.titles(), ["One", "Four", "Three"]);
}

/// Another process writing when retention or a config sync runs (a
/// `tickerfeed poll` beside the daemon): they wait for its commit, as
/// the busy timeout promises, instead of failing with "database is
/// locked" at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_wait_for_another_process_writer() {
    let server = FeedServer::start().await;
    server.set(
        "/t.xml",
        Reply::feed(rss(
            "T",
            &[
                ("g3", "Three", "https://t.test/3"),
                ("g2", "Two", "https://t.test/2"),
                ("g1", "One", "https://t.test/1"),
            ],
        )),
    );
    let dir = TestDir::new();
    let config = dir.write_config(&feed_block("t", &server.url("/t.xml"), ""));
    let (clock, shared) = fixed_clock("2026-11-23T12:00:00Z");
    poll(&config, shared).await;
    let store = tickerfeed::store::Store::open(&config.storage.path).unwrap();
    // Another process: it takes the write lock, writes, and commits a
    // moment later.
    let other_process = |path: std::path::PathBuf| {
        let (began, begun) = std::sync::mpsc::channel();
        let other = std::thread::spawn(move || {
            let conn = rusqlite::Connection::open(path).unwrap();
            conn.execute_batch("BEGIN IMMEDIATE; UPDATE feeds SET schedule = schedule;")
                .unwrap();
            began.send(()).unwrap();
            std::thread::sleep(Duration::from_millis(300));
            conn.execute_batch("COMMIT").unwrap();
        });
        begun.recv().unwrap();
        other
    };
    use tickerfeed::clock::Clock;
    let other = other_process(config.storage.path.clone());
    assert_eq!(store.prune(None, Some(1), clock.now()).await.unwrap(), 2);
    other.join().unwrap();
    let mut added = config.clone();
    added.feeds.push(added.feeds[0].clone());
    added.feeds[1].name = "u".into();
    let other = other_process(config.storage.path.clone());
    store.sync_feeds(&added.feeds, clock.now()).await.unwrap();
    other.join().unwrap();
    assert_eq!(dir.count("SELECT count(*) FROM feeds"), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_read_while_a_large_poll_writes() {
    let server = FeedServer::start().await;
    let dir = TestDir::new();
    let mut feeds = String::new();
    for f in 0..60 {
        let v: Vec<(String, String, String)> = (0..50)
            .map(|i| {
                (
                    format!("f{f}-{i}"),
                    format!("Feed {f} item {i}"),
                    format!("https://r.test/{f}/{i}"),
                )
            })
            .collect();
        let refs: Vec<(&str, &str, &str)> = v
            .iter()
            .map(|(a, b, c)| (a.as_str(), b.as_str(), c.as_str()))
            .collect();
        server.set(&format!("/f{f}.xml"), Reply::feed(rss("R", &refs)));
        feeds.push_str(&feed_block(
            &format!("f{f}"),
            &server.url(&format!("/f{f}.xml")),
            "",
        ));
    }
    let mut config = dir.write_config(&feeds);
    // One loopback host: lift the per-host spacing so the poll is one
    // burst of writes, as large polls are.
    config.fetch.per_host_spacing = Duration::ZERO;
    config.fetch.per_host_concurrency = 8;
    // Create the archive first so readers can open it.
    tickerfeed::store::Store::open(&config.storage.path).unwrap();
    let db = dir.db_path();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut readers = Vec::new();
    // sqlite3 -readonly, if installed, and rusqlite read-only.
    for kind in ["rusqlite", "sqlite3", "python"] {
        let db = db.clone();
        let stop = std::sync::Arc::clone(&stop);
        readers.push(std::thread::spawn(move || -> (usize, Vec<String>) {
            let mut ok = 0;
            let mut errors = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let result = match kind {
                    "rusqlite" => rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
                        .and_then(|c| c.query_row("SELECT count(*) FROM v_items", [], |r| r.get::<_, i64>(0)))
                        .map(|_| ())
                        .map_err(|e| e.to_string()),
                    // With the busy timeout docs/schema.md recommends: a
                    // connection that closes briefly locks out connections
                    // that open (SQLite's check for being the last one),
                    // a race between these readers, not with the writer.
                    "sqlite3" => match std::process::Command::new("sqlite3")
                        .args(["-readonly", "-cmd", ".timeout 5000"])
                        .arg(&db)
                        .arg("SELECT count(*) FROM v_items; SELECT count(*) FROM items_fts;")
                        .output()
                    {
                        Err(_) => return (usize::MAX, errors),
                        Ok(o) if o.status.success() && o.stderr.is_empty() => Ok(()),
                        Ok(o) => Err(String::from_utf8_lossy(&o.stderr).into_owned()),
                    },
                    _ => match std::process::Command::new("python3")
                        .args(["-c", "import sqlite3,sys; c=sqlite3.connect('file:'+sys.argv[1]+'?mode=ro', uri=True); print(c.execute('select count(*) from v_items').fetchone()[0])"])
                        .arg(&db)
                        .output()
                    {
                        Err(_) => return (usize::MAX, errors),
                        Ok(o) if o.status.success() => Ok(()),
                        Ok(o) => Err(String::from_utf8_lossy(&o.stderr).into_owned()),
                    },
                };
                match result {
                    Ok(()) => ok += 1,
                    Err(e) => errors.push(e),
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            (ok, errors)
        }));
    }
    let r = poll(&config, fixed_clock("2026-11-24T09:00:00Z").1).await;
    assert!(r.iter().all(|(_, r)| r.error.is_none()));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for reader in readers {
        let (ok, errors) = reader.join().unwrap();
        assert!(
            errors.is_empty(),
            "a reader failed while the daemon wrote: {errors:?}"
        );
        assert!(ok > 0);
    }
    assert_eq!(dir.count("SELECT count(*) FROM items"), 3000);
}

/// FTS5's own check, comparing the index with the text it indexes: fails
/// when a row is missing from the index or terms are left behind.
fn assert_search_index_matches(dir: &TestDir) {
    let db = rusqlite::Connection::open(dir.db_path()).unwrap();
    db.execute(
        "INSERT INTO items_fts(items_fts, rank) VALUES ('integrity-check', 1)",
        [],
    )
    .expect("the search index matches the archive");
}

#[tokio::test]
async fn search_follows_new_changed_deleted_and_hand_inserted_items() {
    let server = FeedServer::start().await;
    let dir = TestDir::new();
    dir.write_config(&format!(
        "[storage]\nmax_items_per_feed = 1\n{}",
        feed_block("w", &server.url("/w.xml"), "")
    ));
    let cfg = dir.config_path();
    let run = move |args: &'static [&'static str]| {
        let cfg = cfg.clone();
        tokio::task::spawn_blocking(move || {
            let o = bin().arg("--config").arg(&cfg).args(args).output().unwrap();
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        })
    };
    let hits = |word: &str| {
        dir.count(&format!(
            "SELECT count(*) FROM items_fts WHERE items_fts MATCH '{word}'"
        ))
    };
    server.set(
        "/w.xml",
        Reply::feed(rss(
            "W",
            &[
                ("w1", "Walrus sighting", "https://w.test/1"),
                ("w2", "Harbour news", "https://w.test/2"),
            ],
        )),
    );
    run(&["poll"]).await.unwrap();
    assert_eq!((hits("walrus"), hits("harbour")), (1, 1));
    assert_eq!(dir.count("SELECT count(*) FROM fts_pending"), 0);

    // A changed title: the old words go, the new ones come.
    server.set(
        "/w.xml",
        Reply::feed(rss(
            "W",
            &[
                ("w1", "Narwhal sighting", "https://w.test/1"),
                ("w2", "Harbour news", "https://w.test/2"),
            ],
        )),
    );
    run(&["poll"]).await.unwrap();
    assert_eq!((hits("walrus"), hits("narwhal")), (0, 1));
    assert_search_index_matches(&dir);

    // Retention deletes one of the two: its words leave the index.
    run(&["prune"]).await.unwrap();
    assert_eq!(dir.count("SELECT count(*) FROM items"), 1);
    assert_eq!(hits("narwhal") + hits("harbour"), 1);
    assert_search_index_matches(&dir);

    // A row inserted by hand waits in the queue; tickerfeed indexes it the
    // next time it opens the archive.
    rusqlite::Connection::open(dir.db_path())
        .unwrap()
        .execute(
            "INSERT INTO items (uid, origin_feed_id, title, first_seen_at, changed_at, sort_at,
                                content_sha256)
             SELECT 'by-hand', id, 'Orca pod', '2026-11-24T09:00:00Z', '2026-11-24T09:00:00Z',
                    '2026-11-24T09:00:00Z', 'x' FROM feeds",
            [],
        )
        .unwrap();
    assert_eq!(hits("orca"), 0);
    run(&["feeds"]).await.unwrap();
    assert_eq!(hits("orca"), 1);
    assert_search_index_matches(&dir);
}

/// Rows an analyst inserted with plain SQL while tickerfeed runs, not yet
/// indexed: tickerfeed's own update of one (its feed now carries it with a
/// new title), an update and a delete by hand all work, and once indexed
/// search holds exactly what the archive does, through later changes too.
/// A change used to remove the row's old text from an index that never held
/// it, which FTS5 refuses as "database disk image is malformed".
#[tokio::test]
async fn rows_inserted_by_hand_can_change_before_and_after_they_are_indexed() {
    let server = FeedServer::start().await;
    let dir = TestDir::new();
    let config = dir.write_config(&feed_block("w", &server.url("/w.xml"), ""));
    let feed = |titles: &[(&str, &str, &str)]| Reply::feed(rss("W", titles));
    server.set(
        "/w.xml",
        feed(&[("w1", "Walrus sighting", "https://w.test/1")]),
    );
    let clock = fixed_clock("2026-11-24T09:00:00Z").1;
    let opened = tickerfeed::app::open(&config, clock).await.unwrap();
    let poll_feeds = || async {
        for (name, r) in
            tickerfeed::scheduler::poll_once(&opened.pipeline, opened.feeds.clone(), 4).await
        {
            let r = r.unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(r.error, None, "{name}");
        }
    };
    poll_feeds().await;

    // The analyst's rows: one as if feed w had carried it (so the feed's
    // next document updates it), two of their own.
    let analyst = rusqlite::Connection::open(dir.db_path()).unwrap();
    analyst
        .execute_batch(
            "INSERT INTO items (uid, origin_feed_id, guid, title, first_seen_at, changed_at,
                                sort_at, content_sha256)
             SELECT r.uid, f.id, r.guid, r.title, '2026-11-24T09:00:00Z',
                    '2026-11-24T09:00:00Z', '2026-11-24T09:00:00Z', 'x'
             FROM feeds f, (SELECT 'by-hand-1' AS uid, 'w2' AS guid, 'Orca pod' AS title
                            UNION ALL SELECT 'by-hand-2', NULL, 'Seal colony'
                            UNION ALL SELECT 'by-hand-3', NULL, 'Puffin burrows') r;
             INSERT INTO item_sources (feed_id, item_key, item_id, matched_by, first_seen_at,
                                       last_seen_at)
             SELECT origin_feed_id, 'id:w2', id, 'new', first_seen_at, first_seen_at
             FROM items WHERE uid = 'by-hand-1';",
        )
        .unwrap();
    server.set(
        "/w.xml",
        feed(&[
            ("w1", "Walrus sighting", "https://w.test/1"),
            ("w2", "Orca pod returns", "https://w.test/2"),
        ]),
    );
    poll_feeds().await;
    assert_eq!(
        dir.count("SELECT count(*) FROM items WHERE title = 'Orca pod returns'"),
        1
    );
    // Changes by hand, then tickerfeed's next indexing.
    let by_hand = |sql: &'static str| {
        analyst.execute_batch(sql).unwrap();
        opened.store.index_for_search()
    };
    by_hand(
        "UPDATE items SET title = 'Seal colony grows' WHERE uid = 'by-hand-2';
         DELETE FROM items WHERE uid = 'by-hand-3';",
    )
    .await
    .unwrap();
    let hits = |word: &str| {
        dir.count(&format!(
            "SELECT count(*) FROM items_fts WHERE items_fts MATCH '{word}'"
        ))
    };
    assert_eq!(
        [
            hits("walrus"),
            hits("returns"),
            hits("grows"),
            hits("puffin")
        ],
        [1, 1, 1, 0]
    );
    assert_search_index_matches(&dir);

    // Indexed now: a change and a delete by hand take their words along.
    by_hand(
        "UPDATE items SET title = 'Sea lions' WHERE uid = 'by-hand-2';
         DELETE FROM items WHERE uid = 'by-hand-1';",
    )
    .await
    .unwrap();
    assert_eq!([hits("seal"), hits("lions"), hits("orca")], [0, 1, 0]);
    assert_search_index_matches(&dir);
}

#[tokio::test]
async fn search_keeps_to_since_and_limit() {
    let server = FeedServer::start().await;
    // Published 10:00, 11:00 and 12:00 on 23 November.
    server.set(
        "/g.xml",
        Reply::feed(rss(
            "Ice",
            &[
                ("g1", "Glacier retreats", "https://ice.test/1"),
                ("g2", "Glacier surges", "https://ice.test/2"),
                ("g3", "Glacier calves", "https://ice.test/3"),
            ],
        )),
    );
    let dir = TestDir::new();
    let config = dir.write_config(&feed_block("ice", &server.url("/g.xml"), ""));
    poll(&config, fixed_clock("2026-11-24T09:00:00Z").1).await;
    let store = tickerfeed::store::Store::open(&config.storage.path).unwrap();
    let titles = |hits: Vec<tickerfeed::store::SearchHit>| {
        let mut t: Vec<String> = hits.into_iter().map(|h| h.title).collect();
        t.sort();
        t
    };

    let all = store.search("glacier", 20, None).await.unwrap();
    assert_eq!(all.len(), 3);
    assert!(all.windows(2).all(|w| w[0].rank <= w[1].rank), "best first");
    assert!(all.iter().all(|h| h.snippet.contains("[Glacier]")));
    let since = chrono::DateTime::parse_from_rfc3339("2026-11-23T11:00:00Z")
        .unwrap()
        .to_utc();
    assert_eq!(
        titles(store.search("glacier", 20, Some(since)).await.unwrap()),
        ["Glacier calves", "Glacier surges"]
    );
    assert_eq!(store.search("glacier", 2, None).await.unwrap().len(), 2);
    assert_eq!(
        store.search("glacier", 1, Some(since)).await.unwrap().len(),
        1
    );
    assert!(store.search("moraine", 20, None).await.unwrap().is_empty());
}

/// An Atom feed of plain text in paragraphs, `second` the text of its
/// second entry (edited between polls by the upgrade test).
fn notes_atom(second: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Notes</title><id>urn:notes</id>
<updated>2026-11-24T08:00:00Z</updated><link href="https://notes.test/"/>
<entry><title>Quarterly letter</title><id>urn:notes:1</id><link href="https://notes.test/1"/>
<updated>2026-11-24T08:00:00Z</updated>
<summary type="text">
  Dear shareholders,
  revenue rose 4 % &amp; margins held.

  We expect &lt;more&gt; next year.
</summary></entry>
<entry><title>Board changes</title><id>urn:notes:2</id><link href="https://notes.test/2"/>
<updated>2026-11-24T07:00:00Z</updated>
<content type="text">{second}</content></entry>
</feed>
"#
    )
}

/// An RSS feed whose authors come in RSS 2.0's shapes.
const WIRE_RSS: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>Wire</title>
<link>https://wire.test/</link><description>d</description>
<item><title>Rates held</title><guid>https://wire.test/rates</guid><link>https://wire.test/rates</link>
<author>jane@example.com (Jane Doe)</author><pubDate>Tue, 24 Nov 2026 07:30:00 GMT</pubDate>
<description>Rates were held.</description></item>
<item><title>Oil slips</title><guid>https://wire.test/oil</guid><link>https://wire.test/oil</link>
<author>desk@example.com (Doe, Jane)</author><dc:creator>Bob Roe</dc:creator>
<pubDate>Tue, 24 Nov 2026 07:20:00 GMT</pubDate><description>Oil slipped.</description></item>
<item><title>Gold flat</title><guid>https://wire.test/gold</guid><link>https://wire.test/gold</link>
<author>Bob Roe &lt;bob@example.com&gt;</author><pubDate>Tue, 24 Nov 2026 07:10:00 GMT</pubDate>
<description>Gold was flat.</description></item>
<item><title>Desk note</title><guid>https://wire.test/note</guid><link>https://wire.test/note</link>
<author>news@example.com</author><pubDate>Tue, 24 Nov 2026 07:00:00 GMT</pubDate>
<description>A note.</description></item>
</channel></rss>
"#;

const BOARD_BEFORE: &str = "The chair retires.\n\nA search has begun.";

/// What d1a5f17, the last version that ran plain text together and kept
/// RSS authors' brackets, archived from `notes_atom(BOARD_BEFORE)` and
/// `WIRE_RSS` (read from a real poll of it): guid, key, summary_html,
/// content_html, authors, content_sha256, summary_text, content_text.
type Row = (
    &'static str,
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
    &'static str,
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
);
const ARCHIVED_BEFORE: [Row; 6] = [
    (
        "https://wire.test/gold",
        "id:https://wire.test/gold",
        Some("Gold was flat."),
        None,
        r#"["Bob Roe"]"#,
        "147dc14f569b3b4709fe072162db61bcc8d4e93219793d98037aafa5fcf4d3c8",
        Some("Gold was flat."),
        None,
    ),
    (
        "https://wire.test/note",
        "id:https://wire.test/note",
        Some("A note."),
        None,
        "[]",
        "c5d66b3f4089640dfda0c5709824520573313c124761e98768a4a3bf59f2697f",
        Some("A note."),
        None,
    ),
    (
        "https://wire.test/oil",
        "id:https://wire.test/oil",
        Some("Oil slipped."),
        None,
        r#"["(Doe, Jane)","Bob Roe"]"#,
        "013d2ffa4298a45978ca312472e2dcfb4737951f6ff3ab8445990e1a3e736453",
        Some("Oil slipped."),
        None,
    ),
    (
        "https://wire.test/rates",
        "id:https://wire.test/rates",
        Some("Rates were held."),
        None,
        r#"["(Jane Doe)"]"#,
        "4583e146e5cfdd8f2ec44b026a02dce1e80d5a82fd030c24222e14abe792d759",
        Some("Rates were held."),
        None,
    ),
    (
        "urn:notes:1",
        "id:urn:notes:1",
        Some(
            "Dear shareholders,\n  revenue rose 4 % &amp; margins held.\n\n  We expect &lt;more&gt; next year.",
        ),
        None,
        "[]",
        "8962eb3e82d0ccc2d1dfd4a0d77298575c52cface834f8100519cd11a75dc20b",
        Some(
            "Dear shareholders,\n  revenue rose 4 % & margins held.\n\n  We expect <more> next year.",
        ),
        None,
    ),
    (
        "urn:notes:2",
        "id:urn:notes:2",
        None,
        Some("The chair retires.\n\nA search has begun."),
        "[]",
        "a6a9405d7324724787d4e0f86eb1aa15484b57e26507dc63580551b20dd03e53",
        None,
        Some("The chair retires.\n\nA search has begun."),
    ),
];

/// An archive an earlier version wrote, before plain text kept its
/// paragraphs and RSS author names lost their brackets, polled again with
/// the same feeds: no article gets a revision or a new date in the merged
/// feed (each would have, once, its hash being of the text as archived),
/// yet each now reads as this version archives it; an article its
/// publisher did edit meanwhile gets its revision.
#[tokio::test]
async fn an_archive_from_before_paragraphs_and_author_names_gets_no_spurious_revision() {
    let server = FeedServer::start().await;
    server.set("/notes.atom", Reply::feed(notes_atom(BOARD_BEFORE)));
    server.set("/wire.xml", Reply::feed(WIRE_RSS));
    let dir = TestDir::new();
    let config = dir.write_config(&format!(
        "{}{}[[views]]\nname = \"jane\"\ninclude = [{{ author = \"^Jane Doe$\" }}]\n",
        feed_block("notes", &server.url("/notes.atom"), ""),
        feed_block("wire", &server.url("/wire.xml"), "")
    ));
    let (c, clock) = fixed_clock("2026-11-24T09:00:00Z");
    poll(&config, clock.clone()).await;
    // The archive as the earlier version wrote it, under the same keys.
    {
        let db = rusqlite::Connection::open(dir.db_path()).unwrap();
        for (guid, key, summary, content, authors, hash, summary_text, content_text) in
            ARCHIVED_BEFORE
        {
            let held: String = db
                .query_row(
                    "SELECT s.item_key FROM item_sources s JOIN items i ON i.id = s.item_id
                     WHERE i.guid = ?1",
                    [guid],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(held, key);
            db.execute(
                "UPDATE items SET summary_html = ?2, content_html = ?3, authors = ?4,
                        content_sha256 = ?5, summary_text = ?6, content_text = ?7,
                        author_emails = NULL
                 WHERE guid = ?1",
                rusqlite::params![
                    guid,
                    summary,
                    content,
                    authors,
                    hash,
                    summary_text,
                    content_text
                ],
            )
            .unwrap();
        }
        // Its authors in brackets matched no view by name.
        db.execute("DELETE FROM rule_hits", []).unwrap();
    }
    // The publisher edits the board entry, and the wire adds a story
    // (a document is read again only when its body changed).
    server.set(
        "/notes.atom",
        Reply::feed(notes_atom(
            "The chair retires.\n\nA search has begun; it ends in March.",
        )),
    );
    server.set(
        "/wire.xml",
        Reply::feed(WIRE_RSS.replacen(
            "<item>",
            "<item><title>Copper up</title><guid>https://wire.test/copper</guid>\
             <description>Copper rose.</description></item>\n<item>",
            1,
        )),
    );
    c.advance(chrono::Duration::minutes(15));
    let polled = poll(&config, clock.clone()).await;
    let updated = |feed: &str| {
        polled
            .iter()
            .find(|(name, _)| name == feed)
            .map(|(_, r)| r.summary.updated)
    };
    assert_eq!((updated("notes"), updated("wire")), (Some(1), Some(0)));
    let revisions: Vec<(String, i64, String)> = {
        let db = dir.db();
        let mut s = db
            .prepare("SELECT guid, revision, changed_at FROM items ORDER BY guid")
            .unwrap();
        s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    let at = |s: &str| s.to_string();
    assert_eq!(
        revisions,
        [
            (
                at("https://wire.test/copper"),
                0,
                at("2026-11-24T09:15:00Z")
            ),
            (at("https://wire.test/gold"), 0, at("2026-11-24T09:00:00Z")),
            (at("https://wire.test/note"), 0, at("2026-11-24T09:00:00Z")),
            (at("https://wire.test/oil"), 0, at("2026-11-24T09:00:00Z")),
            (at("https://wire.test/rates"), 0, at("2026-11-24T09:00:00Z")),
            (at("urn:notes:1"), 0, at("2026-11-24T09:00:00Z")),
            (at("urn:notes:2"), 1, at("2026-11-24T09:15:00Z")),
        ]
    );
    assert_eq!(
        dir.column::<String>("SELECT content_html FROM v_item_revisions"),
        ["The chair retires.\n\nA search has begun."]
    );
    // A view on an author's name finds the article now its name is one.
    assert_eq!(
        dir.column::<String>("SELECT i.title FROM rule_hits h JOIN items i ON i.id = h.item_id"),
        ["Rates held"]
    );
    // The merged feed: the same dates, the text and names as read now.
    let (code, out, err) = cli(&dir, &["render", "--format", "json"]).await;
    assert_eq!(code, 0, "{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    let entry = |title: &str| -> serde_json::Value {
        doc["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["title"] == title)
            .unwrap()
            .clone()
    };
    let letter = entry("Quarterly letter");
    assert_eq!(letter["date_modified"], "2026-11-24T09:00:00Z");
    assert_eq!(
        letter["content_html"],
        "<p>Dear shareholders,<br>\nrevenue rose 4 % &amp; margins held.</p>\n\n\
         <p>We expect &lt;more&gt; next year.</p>"
    );
    let board = entry("Board changes");
    assert_eq!(board["date_modified"], "2026-11-24T09:15:00Z");
    assert_eq!(
        board["content_html"],
        "<p>The chair retires.</p>\n\n<p>A search has begun; it ends in March.</p>"
    );
    let names = |title: &str| -> Vec<String> {
        // JSON Feed leaves out an empty list.
        entry(title)["authors"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|a| a["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(names("Rates held"), ["Jane Doe"]);
    assert_eq!(names("Oil slips"), ["Doe, Jane", "Bob Roe"]);
    assert_eq!(names("Gold flat"), ["Bob Roe"]);
    assert!(names("Desk note").is_empty());
    assert_eq!(entry("Rates held")["date_modified"], "2026-11-24T09:00:00Z");
    // Each name's address is kept when it is read again (an article whose
    // authors read as before keeps none, as first archived), and Atom
    // carries it.
    assert_eq!(
        dir.column::<Option<String>>("SELECT author_emails FROM items ORDER BY guid"),
        [
            None,
            None,
            None,
            Some(r#"["desk@example.com",null]"#.to_string()),
            Some(r#"["jane@example.com"]"#.to_string()),
            None,
            None,
        ]
    );
    let (_, atom, _) = cli(&dir, &["render", "--format", "atom"]).await;
    let atom: String = atom.split_whitespace().collect();
    assert!(
        atom.contains("<author><name>JaneDoe</name><email>jane@example.com</email></author>"),
        "{atom}"
    );
    // Read as this version archives it, the next poll finds nothing new.
    c.advance(chrono::Duration::minutes(15));
    let again = poll(&config, clock).await;
    assert!(again.iter().all(|(_, r)| r.summary.updated == 0));
    assert_eq!(dir.count("SELECT count(*) FROM item_revisions"), 1);
}
