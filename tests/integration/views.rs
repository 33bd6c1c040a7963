//! Views and rules (issue 16): named selections over the archive served as
//! their own feeds, `[output] exclude` on the merged feed, the dry run,
//! config errors, paging and reload. A daemon runs in-process on
//! 127.0.0.1:0 against a loopback feed server.

use std::collections::HashSet;
use std::time::Duration;

use crate::serve::Daemon;
use crate::util::*;

/// Two feeds: a wire with company news, a blog with a sponsored post.
fn serve_feeds(server: &FeedServer) -> String {
    server.set(
        "/wire.xml",
        Reply::feed(rss(
            "Wire",
            &[
                (
                    "w1",
                    "BP results beat guidance",
                    "https://wire.test/bp-results",
                ),
                (
                    "w2",
                    "Refinery outage in Texas",
                    "https://wire.test/refinery",
                ),
                ("w3", "Live: markets open", "https://wire.test/live/markets"),
                ("w4", "Shell buys solar firm", "https://wire.test/shell"),
            ],
        )),
    );
    server.set(
        "/blog.xml",
        Reply::feed(rss(
            "Blog",
            &[
                ("b1", "Sponsored: the best oil ETF", "https://blog.test/etf"),
                ("b2", "Why oil prices fell", "https://blog.test/oil"),
            ],
        )),
    );
    format!(
        "{}{}",
        feed_block("wire", &server.url("/wire.xml"), "tags = [\"business\"]"),
        feed_block("blog", &server.url("/blog.xml"), "tags = [\"opinion\"]"),
    )
}

const VIEWS: &str = r#"
[[views]]
name = "oil"
title = "Oil and refining"
query = "oil OR refinery"

[[views]]
name = "wire-only"
feeds = ["wire"]
exclude = [{ url = "/live/" }]

[[views]]
name = "opinion"
tags = ["opinion"]
include = [{ title = "(?i)oil" }]
exclude = [{ title = "(?i)^sponsored" }]
"#;

fn titles(atom: &str) -> HashSet<String> {
    atom.split("<entry>")
        .skip(1)
        .filter_map(|e| {
            let start = e.find("<title type=\"text\">")? + "<title type=\"text\">".len();
            let end = e[start..].find("</title>")?;
            Some(e[start..start + end].to_string())
        })
        .collect()
}

fn set(titles: &[&str]) -> HashSet<String> {
    titles.iter().map(|t| t.to_string()).collect()
}

/// The view's Atom document once it shows `n` items: searches see new
/// items once they are indexed, within about two seconds.
async fn view_with(d: &Daemon, path: &str, n: usize) -> String {
    for _ in 0..100 {
        let body = d.get(path, &[]).await.text().await.unwrap();
        if titles(&body).len() >= n {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{path} never showed {n} items");
}

async fn daemon_with(extra: &str) -> (FeedServer, TestDir, Daemon) {
    let server = FeedServer::start().await;
    let feeds = serve_feeds(&server);
    let dir = TestDir::new();
    let config = dir.write_config(&format!("{feeds}{extra}"));
    let daemon = Daemon::start(config).await;
    daemon.wait_for_entries(6).await;
    (server, dir, daemon)
}

#[tokio::test]
async fn each_criterion_selects_what_it_says() {
    let (_server, _dir, d) = daemon_with(VIEWS).await;
    assert_eq!(d.get("/views/oil.atom", &[]).await.status(), 200);
    let oil = view_with(&d, "/views/oil.atom", 3).await;
    // Full text with OR: "oil" in the blog's titles, "refinery" on the wire.
    assert_eq!(
        titles(&oil),
        set(&[
            "Refinery outage in Texas",
            "Sponsored: the best oil ETF",
            "Why oil prices fell"
        ]),
        "{oil}"
    );
    assert!(
        oil.contains("<title type=\"text\">Oil and refining</title>"),
        "{oil}"
    );
    assert!(oil.contains("/views/oil.atom"), "self link: {oil}");

    let wire = d
        .get("/views/wire-only.atom", &[])
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(
        titles(&wire),
        set(&[
            "BP results beat guidance",
            "Refinery outage in Texas",
            "Shell buys solar firm"
        ]),
        "a feed criterion and an url exclude: {wire}"
    );

    // Tags AND include AND NOT exclude.
    let opinion = d
        .get("/views/opinion.atom", &[])
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(titles(&opinion), set(&["Why oil prices fell"]), "{opinion}");

    // The other formats carry the same items.
    let json: serde_json::Value = serde_json::from_str(
        &d.get("/views/opinion.json", &[])
            .await
            .text()
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(json["items"].as_array().unwrap().len(), 1, "{json}");
    let rss = d.get("/views/opinion.rss", &[]).await.text().await.unwrap();
    assert_eq!(rss.matches("<item>").count(), 1, "{rss}");

    // ?q= narrows a view further.
    let narrowed = d
        .get("/views/oil.atom?q=texas", &[])
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(titles(&narrowed), set(&["Refinery outage in Texas"]));

    // The merged feed is untouched by views.
    let merged = d.get("/feed.atom", &[]).await.text().await.unwrap();
    assert_eq!(titles(&merged).len(), 6);
    d.stop().await;
}

#[tokio::test]
async fn a_view_is_served_like_the_merged_feed() {
    let (_server, _dir, d) = daemon_with(VIEWS).await;
    view_with(&d, "/views/oil.atom", 3).await;
    let first = d
        .get("/views/oil.atom", &[("accept-encoding", "gzip")])
        .await;
    assert_eq!(first.headers()["content-encoding"], "gzip");
    let etag = first.headers()["etag"].to_str().unwrap().to_string();
    assert!(first.headers().contains_key("last-modified"));
    let again = d
        .get(
            "/views/oil.atom",
            &[("accept-encoding", "gzip"), ("if-none-match", &etag)],
        )
        .await;
    assert_eq!(again.status(), 304);
    let head = d
        .http
        .head(format!("{}/views/oil.rss", d.base))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);

    // An unknown view: 404 naming where the views are listed.
    let missing = d.get("/views/nope.atom", &[]).await;
    assert_eq!(missing.status(), 404);
    assert!(missing.text().await.unwrap().contains("/views.opml"));

    // The views as OPML, and in /healthz; renders and requests counted.
    let opml = d.get("/views.opml", &[]).await.text().await.unwrap();
    for name in ["oil", "wire-only", "opinion"] {
        assert!(
            opml.contains(&format!("xmlUrl=\"http://feeds.test/views/{name}.atom\"")),
            "{opml}"
        );
    }
    let health: serde_json::Value =
        serde_json::from_str(&d.get("/healthz", &[]).await.text().await.unwrap()).unwrap();
    let names: Vec<&str> = health["views"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["oil", "opinion", "wire-only"]);
    let metrics = d.get("/metrics", &[]).await.text().await.unwrap();
    assert!(
        metrics.contains(r#"tickerfeed_view_requests_total{view="oil"} 3"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"tickerfeed_view_renders_total{view="oil"}"#),
        "{metrics}"
    );
    d.stop().await;
}

#[tokio::test]
async fn output_exclude_hides_items_from_the_merged_and_tag_feeds_but_keeps_them() {
    let server = FeedServer::start().await;
    let feeds = serve_feeds(&server);
    let dir = TestDir::new();
    dir.write_config_only(&feeds);
    // `[output]` is written by the test harness; its excludes go there.
    let text = std::fs::read_to_string(dir.config_path()).unwrap().replace(
        "[output]\n",
        "[output]\nexclude = [{ title = \"(?i)\\\\bsponsored\\\\b\" }, { url = \"/live/\" }]\n",
    );
    std::fs::write(dir.config_path(), text).unwrap();
    let config = tickerfeed::config::Config::load(&dir.config_path()).unwrap();
    let d = Daemon::start(config).await;
    d.wait_for_entries(4).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let merged = d.get("/feed.atom", &[]).await.text().await.unwrap();
    assert_eq!(
        titles(&merged),
        set(&[
            "BP results beat guidance",
            "Refinery outage in Texas",
            "Shell buys solar firm",
            "Why oil prices fell"
        ])
    );
    let opinion = d.get("/tags/opinion.atom", &[]).await.text().await.unwrap();
    assert_eq!(titles(&opinion), set(&["Why oil prices fell"]));
    d.stop().await;
    // The archive keeps every item.
    assert_eq!(dir.count("SELECT count(*) FROM items"), 6);
}

#[tokio::test]
async fn paging_through_a_view_visits_each_item_once() {
    let server = FeedServer::start().await;
    let items: Vec<(String, String, String)> = (0..7)
        .map(|i| {
            (
                format!("g{i}"),
                format!("Oil note {i}"),
                format!("https://p.test/{i}"),
            )
        })
        .collect();
    let refs: Vec<(&str, &str, &str)> = items
        .iter()
        .map(|(a, b, c)| (a.as_str(), b.as_str(), c.as_str()))
        .collect();
    server.set("/p.xml", Reply::feed(rss("P", &refs)));
    let dir = TestDir::new();
    let config = dir.write_config(&format!(
        "{}[[views]]\nname = \"notes\"\ninclude = [{{ title = \"Oil note\" }}]\nmax_items = 3\n",
        feed_block("p", &server.url("/p.xml"), "")
    ));
    let d = Daemon::start(config).await;
    d.wait_for_entries(7).await;
    let mut seen = Vec::new();
    let mut next = Some("/views/notes.atom".to_string());
    while let Some(path) = next.take() {
        let body = d.get(&path, &[]).await.text().await.unwrap();
        seen.extend(titles(&body));
        next = body
            .split("<link rel=\"next\"")
            .nth(1)
            .and_then(|rest| rest.split("href=\"").nth(1))
            .and_then(|rest| rest.split('"').next())
            .map(|href| href.replace("http://feeds.test", "").replace("&amp;", "&"));
        assert!(seen.len() <= 7, "paging does not end: {seen:?}");
    }
    let distinct: HashSet<&String> = seen.iter().collect();
    assert_eq!((seen.len(), distinct.len()), (7, 7), "{seen:?}");
    d.stop().await;
}

#[test]
fn bad_views_are_config_errors_naming_the_key_and_line() {
    let dir = TestDir::new();
    dir.write_config_only(
        r#"[[feeds]]
name = "wire"
url = "https://wire.test/feed.xml"

[[feeds]]
name = "blog"
url = "https://blog.test/feed.xml"
tags = ["markets", "uk"]

[[views]]
name = "a"
include = [{ title = "(unclosed" }]

[[views]]
name = "b"

[[views]]
name = "c"
tags = ["nosuchtag"]
feeds = ["nosuchfeed"]

[[views]]
name = "d"
min_move_pct = 2.0
query = "x"

[[views]]
name = "e"
exclude = [{ title = "(i?)sponsored" }]

[[views]]
name = "f"
include = [{ headline = "x" }]

[[views]]
name = "a"
query = "y"

[[views]]
name = "g"
symbols = ["BP"]
colour = "red"

[[views]]
name = "h"
feeds = ["wire"]
tags = ["markets"]
"#,
    );
    let problems = tickerfeed::config::Config::load(&dir.config_path())
        .unwrap_err()
        .problems()
        .iter()
        .map(|p| p.located(std::path::Path::new("config.toml")))
        .collect::<Vec<_>>()
        .join("\n");
    // Each problem at the line where its key is written.
    let text = std::fs::read_to_string(dir.config_path()).unwrap();
    let line_of = |needle: &str, nth: usize| {
        text.lines()
            .enumerate()
            .filter(|(_, l)| l.contains(needle))
            .nth(nth)
            .map(|(i, _)| i + 1)
            .unwrap_or_else(|| panic!("{needle:?} is not in the config"))
    };
    for (needle, nth, expected) in [
        (
            "(unclosed",
            0,
            "views[0].include[0].title: \"(unclosed\" is not a valid regular expression: unclosed group",
        ),
        (
            "[[views]]",
            1,
            "views[1]: a view needs at least one criterion",
        ),
        (
            "nosuchtag",
            0,
            "views[2].tags[0]: no feed has the tag \"nosuchtag\"",
        ),
        (
            "nosuchfeed",
            0,
            "views[2].feeds[0]: no feed is named \"nosuchfeed\"",
        ),
        (
            "min_move_pct",
            0,
            "views[3].min_move_pct: min_move_pct needs `symbols`",
        ),
        (
            "(i?)",
            0,
            "views[4].exclude[0].title: \"(i?)sponsored\" has `(i?)`",
        ),
        (
            "headline",
            0,
            "views[5].include[0].headline: unknown field `headline`",
        ),
        (
            "name = \"a\"",
            1,
            "views[6].name: duplicate view name \"a\"",
        ),
        (
            "[\"BP\"]",
            0,
            "views[7].symbols[0]: symbols need a [market] section",
        ),
        ("colour", 0, "views[7].colour: unknown key"),
        (
            "tags = [\"markets\"]",
            0,
            "views[8].tags: none of this view's feeds has any of its tags",
        ),
    ] {
        let expected = format!("config.toml:{}: {expected}", line_of(needle, nth));
        assert!(
            problems.lines().any(|l| l.starts_with(&expected)),
            "missing {expected:?} in\n{problems}"
        );
    }
}

#[test]
fn the_dry_run_explains_each_match_and_counts_what_excludes_removed() {
    let server_dir = TestDir::new();
    // Feeds from files: the dry run reads the archive a `poll` wrote.
    let feed = server_dir.path().join("wire.xml");
    std::fs::write(
        &feed,
        rss(
            "Wire",
            &[
                ("w1", "BP results beat guidance", "https://wire.test/a"),
                ("w2", "Sponsored: BP results webinar", "https://wire.test/b"),
                ("w3", "Quiet day", "https://wire.test/c"),
            ],
        ),
    )
    .unwrap();
    let dir = TestDir::new();
    dir.write_config_only(&format!(
        "{}[[views]]\nname = \"results\"\ninclude = [{{ any = \"(?i)results|guidance\" }}]\nexclude = [{{ title = \"(?i)^sponsored\" }}]\n",
        feed_block("wire", &format!("file://{}", feed.display()), "")
    ));
    let run = |args: &[&str]| {
        let out = bin()
            .arg("--config")
            .arg(dir.config_path())
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    run(&["poll"]);
    let listed = run(&["views"]);
    assert!(
        listed.contains("results  /views/results.atom  1 item"),
        "{listed}"
    );
    let test = run(&["views", "test", "results"]);
    assert!(
        test.contains("view results: 1 item matches; its excludes removed 1"),
        "{test}"
    );
    assert!(test.contains("BP results beat guidance"), "{test}");
    assert!(
        test.contains(r#"include { any = "(?i)results|guidance" }: "results" in title"#),
        "{test}"
    );
    assert!(!test.contains("Sponsored"), "{test}");
    let adhoc = run(&["views", "test", "--rule", r#"{ title = "(?i)quiet" }"#]);
    assert!(
        adhoc.contains("1 item matches") && adhoc.contains("Quiet day"),
        "{adhoc}"
    );
    let bad = bin()
        .arg("--config")
        .arg(dir.config_path())
        .args(["views", "test", "--rule", r#"{ title = "(i?)x" }"#])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("(?i)"),
        "{bad:?}"
    );
}

// Multi-threaded: the test blocks on the child's log while the loopback
// feed server must keep answering.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_adds_changes_and_removes_views_without_a_restart() {
    let server = FeedServer::start().await;
    let feeds = serve_feeds(&server);
    let dir = TestDir::new();
    dir.write_config(&feeds);
    let mut d = crate::process::Running::start_with(&dir, &[]);
    let addr = d.wait_for_listen();
    d.wait_for("polled");
    let get = |path: &str| {
        let url = format!("http://{addr}{path}");
        async move {
            let resp = reqwest::get(url).await.unwrap();
            (resp.status().as_u16(), resp.text().await.unwrap())
        }
    };
    assert_eq!(get("/views/wire-only.atom").await.0, 404);
    for _ in 0..100 {
        if titles(&get("/feed.atom").await.1).len() == 6 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Added.
    dir.write_config(&format!("{feeds}{VIEWS}"));
    d.signal("HUP");
    d.wait_for("config reloaded");
    let (status, body) = get("/views/wire-only.atom").await;
    assert_eq!(status, 200);
    assert_eq!(titles(&body).len(), 3, "{body}");

    // Changed: the same name now selects the blog.
    dir.write_config(&format!(
        "{feeds}[[views]]\nname = \"wire-only\"\nfeeds = [\"blog\"]\n"
    ));
    d.signal("HUP");
    d.wait_for("config reloaded");
    let (_, body) = get("/views/wire-only.atom").await;
    assert_eq!(
        titles(&body),
        set(&["Sponsored: the best oil ETF", "Why oil prices fell"]),
        "{body}"
    );

    // A broken view is refused; the running views stay.
    std::fs::write(
        dir.config_path(),
        format!(
            "{}[[views]]\nname = \"bad\"\ninclude = [{{ title = \"(\" }}]\n",
            std::fs::read_to_string(dir.config_path()).unwrap()
        ),
    )
    .unwrap();
    d.signal("HUP");
    d.wait_for("reload refused");
    assert_eq!(get("/views/wire-only.atom").await.0, 200);
    assert_eq!(get("/views/bad.atom").await.0, 404);

    // Removed.
    dir.write_config(&feeds);
    d.signal("HUP");
    d.wait_for("config reloaded");
    assert_eq!(get("/views/wire-only.atom").await.0, 404);
    assert!(!get("/views.opml").await.1.contains("wire-only"));

    d.signal("TERM");
    assert_eq!(d.wait_exit(), 0, "{}", d.log.join("\n"));
}

/// A view of rules alone reads its items from the matches the archive
/// keeps (`rule_hits`), not by testing every row: items archived before
/// the view existed are found by the backfill, new ones as they arrive,
/// and an item whose title stops matching leaves. The analyst sees the
/// matches in SQL, and the view follows them.
#[tokio::test]
async fn a_rule_view_is_served_from_the_matches_kept_as_items_arrive() {
    let server = FeedServer::start().await;
    let blog =
        |items: &[(&str, &str, &str)]| server.set("/blog.xml", Reply::feed(rss("Blog", items)));
    blog(&[
        ("b1", "Sponsored: the best oil ETF", "https://blog.test/etf"),
        ("b2", "Why oil prices fell", "https://blog.test/oil"),
        ("b3", "Gold holds steady", "https://blog.test/gold"),
    ]);
    let feed = feed_block(
        "blog",
        &server.url("/blog.xml"),
        "schedule = \"* * * * * *\"",
    );
    let dir = TestDir::new();
    // Archived before any view asks for oil.
    let (_c, clock) = fixed_clock("2026-11-24T09:00:00Z");
    poll(&dir.write_config(&feed), clock).await;

    let view = "[[views]]\nname = \"oil\"\ninclude = [{ title = \"(?i)\\\\boil\\\\b\" }]\n";
    // On the real clock: the blog is polled every second.
    let d = Daemon::start_with_clock(
        dir.write_config(&format!("{feed}{view}")),
        std::sync::Arc::new(tickerfeed::clock::SystemClock),
    )
    .await;
    for _ in 0..200 {
        if dir.count("SELECT count(*) FROM rules WHERE complete") == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        dir.count("SELECT count(*) FROM rules WHERE complete"),
        1,
        "the backfill never completed"
    );
    let hits = |dir: &TestDir| -> HashSet<String> {
        dir.db()
            .prepare("SELECT i.title FROM rule_hits h JOIN items i ON i.id = h.item_id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    assert_eq!(
        hits(&dir),
        set(&["Sponsored: the best oil ETF", "Why oil prices fell"])
    );
    let body = view_with(&d, "/views/oil.atom", 2).await;
    assert_eq!(
        titles(&body),
        set(&["Sponsored: the best oil ETF", "Why oil prices fell"])
    );

    // A new item that matches, and a title that stops matching.
    blog(&[
        ("b1", "Sponsored: the best oil ETF", "https://blog.test/etf"),
        ("b2", "Why prices fell", "https://blog.test/oil"),
        ("b3", "Gold holds steady", "https://blog.test/gold"),
        ("b4", "Oil tanker seized", "https://blog.test/tanker"),
    ]);
    let want = set(&["Sponsored: the best oil ETF", "Oil tanker seized"]);
    for _ in 0..200 {
        if hits(&dir) == want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(hits(&dir), want);
    let mut shown = HashSet::new();
    for _ in 0..100 {
        shown = titles(&d.get("/views/oil.atom", &[]).await.text().await.unwrap());
        if shown == want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(shown, want);

    // The view reads the kept matches: one removed by hand (as an analyst
    // could) is gone from the view, though its title still matches.
    let analyst = rusqlite::Connection::open(dir.db_path()).unwrap();
    analyst.busy_timeout(Duration::from_secs(5)).unwrap();
    analyst
        .execute(
            "DELETE FROM rule_hits WHERE item_id = (SELECT id FROM items WHERE title = 'Oil tanker seized')",
            [],
        )
        .unwrap();
    let want = set(&["Sponsored: the best oil ETF"]);
    for _ in 0..100 {
        shown = titles(&d.get("/views/oil.atom", &[]).await.text().await.unwrap());
        if shown == want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(shown, want);
    d.stop().await;
}

/// `tickerfeed views` lines its views up in columns (name, path, count
/// right-aligned, title), whatever the lengths of names and counts; it
/// ran each row's cells together with two spaces, so a list was ragged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_views_list_is_in_columns() {
    let server = FeedServer::start().await;
    server.set(
        "/wire.xml",
        Reply::feed(rss_of(12, |i| match i {
            0..3 => format!("Oil price story {i}"),
            _ => format!("Bank story {i}"),
        })),
    );
    let dir = TestDir::new();
    dir.write_config(&format!(
        "{}[[views]]\nname = \"oil\"\ntitle = \"Oil\"\nquery = \"oil\"\n\n\
         [[views]]\nname = \"everything-on-the-wire\"\ntitle = \"All of it\"\nfeeds = [\"wire\"]\n\n\
         [[views]]\nname = \"none\"\ntitle = \"Nothing\"\nquery = \"zeppelin\"\n",
        feed_block("wire", &server.url("/wire.xml"), "")
    ));
    let (code, _, err) = cli(&dir, &["poll"]).await;
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = cli(&dir, &["views"]).await;
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    // Each column starts at the same place on every line.
    for needle in ["/views/", " items  "] {
        let at: HashSet<usize> = lines.iter().map(|l| l.find(needle).unwrap()).collect();
        assert_eq!(at.len(), 1, "{needle:?} not aligned:\n{out}");
    }
    assert!(lines[0].contains("  3 items  Oil"), "{out}");
    assert!(lines[1].contains(" 12 items  All of it"), "{out}");
    assert!(lines[2].contains("  0 items  Nothing"), "{out}");
}
