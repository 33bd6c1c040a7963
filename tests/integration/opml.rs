//! OPML through the real binary and over HTTP: import real exports from
//! other readers, export and serve the feed list.

use crate::util::*;

fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/opml")).join(name)
}

fn run(dir: &TestDir, args: &[&str]) -> (bool, String, String) {
    let o = bin()
        .arg("--config")
        .arg(dir.config_path())
        .args(args)
        .output()
        .unwrap();
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn imports_from_three_readers_dry_run_then_write() {
    let dir = TestDir::new();
    dir.write_config(&feed_block(
        "existing",
        "https://www.theguardian.com/uk/business/rss",
        "tags = [\"business\"]",
    ));
    let before = std::fs::read_to_string(dir.config_path()).unwrap();
    for export in ["miniflux.opml", "freshrss.opml", "netnewswire.opml"] {
        let path = fixture(export);
        // Dry run: shows the entries, writes nothing.
        let (ok, out, err) = run(&dir, &["opml", "import", path.to_str().unwrap()]);
        assert!(ok, "{export}: {err}");
        assert!(out.contains("[[feeds]]"), "{export}: {out}");
        assert_eq!(std::fs::read_to_string(dir.config_path()).unwrap(), before);
    }
    for export in [
        "miniflux.opml",
        "freshrss.opml",
        "netnewswire.opml",
        "newsboat.opml",
    ] {
        let (ok, out, err) = run(
            &dir,
            &[
                "opml",
                "import",
                fixture(export).to_str().unwrap(),
                "--write",
            ],
        );
        assert!(ok, "{export}: {err}");
        assert!(
            out.contains("appended") || out.contains("nothing to add"),
            "{export}: {out}"
        );
    }
    // The result is a valid config with the imported feeds.
    let (ok, out, err) = run(&dir, &["check"]);
    assert!(ok, "{err}");
    let n: usize = out
        .split("ok (")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(n > 5, "{out}");
    // Importing the same file again adds nothing.
    let (ok, out, _) = run(
        &dir,
        &[
            "opml",
            "import",
            fixture("miniflux.opml").to_str().unwrap(),
            "--write",
        ],
    );
    assert!(ok);
    assert!(out.contains("nothing to add"), "{out}");
    // Not OPML: a clear error, nothing written.
    std::fs::write(dir.path().join("feed.xml"), rss("Not OPML", &[])).unwrap();
    let (ok, _, err) = run(
        &dir,
        &[
            "opml",
            "import",
            dir.path().join("feed.xml").to_str().unwrap(),
            "--write",
        ],
    );
    assert!(!ok);
    assert!(err.contains("OPML"), "{err}");
}

#[tokio::test]
async fn exports_and_serves_the_feed_list_with_tags() {
    let dir = TestDir::new();
    let config = dir.write_config(&format!(
        "{}{}",
        feed_block(
            "world",
            "https://example.com/world.xml",
            "tags = [\"world\", \"news\"]"
        ),
        feed_block("biz & co", "https://example.com/biz.xml", "").replace("biz & co", "biz")
    ));
    let (ok, out, err) = run(&dir, &["opml", "export"]);
    assert!(ok, "{err}");
    // Nothing polled yet, nothing to read: no archive is made for it.
    assert!(!dir.db_path().exists());
    let doc = tickerfeed::opml::parse(out.as_bytes()).unwrap();
    assert_eq!(doc.feeds.len(), 2);
    assert_eq!(
        doc.feeds[0].categories,
        vec!["world".to_string(), "news".to_string()]
    );

    let (_c, clock) = fixed_clock("2026-11-24T09:00:00Z");
    let opened = tickerfeed::app::open(&config, clock.clone()).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = tokio_util::sync::CancellationToken::new();
    let task = tokio::spawn(tickerfeed::app::serve_with(
        config,
        clock,
        stop.clone(),
        opened,
        listener,
        tickerfeed::systemd::Notifier::default(),
    ));
    let resp = reqwest::get(format!("http://{addr}/feeds.opml"))
        .await
        .unwrap();
    assert_eq!(resp.headers()["content-type"], "text/x-opml; charset=utf-8");
    let served = tickerfeed::opml::parse(&resp.bytes().await.unwrap()).unwrap();
    assert_eq!(served.feeds.len(), 2);
    stop.cancel();
    task.await.unwrap().unwrap();
}

/// The exported list gave a reader no site to link each feed to
/// (`htmlUrl`) and only the operator's names: once a feed is polled, the
/// export (and `/feeds.opml`) carries the site its document links to and
/// its own title, and importing the export gives back the names and URLs
/// the operator wrote.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_links_each_polled_feed_to_its_site_and_round_trips() {
    let server = FeedServer::start().await;
    server.set(
        "/markets.xml",
        Reply::feed(
            "<?xml version=\"1.0\"?>\n<rss version=\"2.0\"><channel><title>Markets &amp; Money</title>\
             <link>https://markets.example/home?a=1&amp;b=2</link><description>d</description>\
             <item><guid>m1</guid><title>Oil up</title><link>https://markets.example/1</link></item>\
             </channel></rss>\n",
        ),
    );
    let dir = TestDir::new();
    let config = dir.write_config(&format!(
        "{}{}",
        feed_block("desk", &server.url("/markets.xml"), "tags = [\"markets\"]"),
        // Never polled: nothing known of it yet.
        feed_block("later", "https://example.org/later.xml", ""),
    ));
    let (code, _, err) = cli(&dir, &["poll", "--feed", "desk"]).await;
    assert_eq!(code, 0, "{err}");

    let (code, exported, err) = cli(&dir, &["opml", "export"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(
        exported.contains(&format!(
            r#"text="desk" title="Markets &amp; Money" xmlUrl="{}" htmlUrl="https://markets.example/home?a=1&amp;b=2""#,
            server.url("/markets.xml")
        )),
        "{exported}"
    );
    assert!(
        exported.contains(r#"text="later" title="later" xmlUrl="https://example.org/later.xml"/>"#),
        "{exported}"
    );

    // Served too, to anyone.
    let d = crate::serve::Daemon::start(config).await;
    let served = d.get("/feeds.opml", &[]).await.text().await.unwrap();
    d.stop().await;
    let served = tickerfeed::opml::parse(served.as_bytes()).unwrap();
    assert_eq!(
        served.feeds[0].html_url.as_deref(),
        Some("https://markets.example/home?a=1&b=2")
    );

    // Imported into another config: the operator's names and URLs.
    let other = TestDir::new();
    other.write_config("");
    let list = other.path().join("export.opml");
    std::fs::write(&list, &exported).unwrap();
    let (code, said, err) = cli(
        &other,
        &["opml", "import", list.to_str().unwrap(), "--write"],
    )
    .await;
    assert_eq!(code, 0, "{said}{err}");
    let imported = tickerfeed::config::Config::load(&other.config_path()).unwrap();
    let feeds: Vec<_> = imported
        .feeds
        .iter()
        .map(|f| (f.name.as_str(), f.url.as_str(), f.tags.clone()))
        .collect();
    let markets = server.url("/markets.xml");
    assert_eq!(
        feeds,
        vec![
            ("desk", markets.as_str(), vec!["markets".to_string()]),
            ("later", "https://example.org/later.xml", vec![]),
        ]
    );
}

#[cfg(unix)]
#[test]
fn an_import_writes_through_a_linked_config_and_keeps_its_permissions() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TestDir::new();
    dir.write_config(&feed_block(
        "existing",
        "https://www.theguardian.com/uk/business/rss",
        "",
    ));
    let config = dir.config_path();
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o600)).unwrap();
    let link = dir.path().join("linked.toml");
    std::os::unix::fs::symlink(&config, &link).unwrap();
    let o = bin()
        .arg("--config")
        .arg(&link)
        .args(["opml", "import"])
        .arg(fixture("netnewswire.opml"))
        .arg("--write")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink(),
        "the link was replaced by a copy"
    );
    assert!(
        std::fs::read_to_string(&config)
            .unwrap()
            .contains("imported from netnewswire.opml"),
        "the linked config did not get the feeds"
    );
    let mode = std::fs::metadata(&config).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "permissions widened to {mode:o}");
}

/// QA: after `tickerfeed feeds` said a feed is "now fetched from
/// …/moved.rss (permanent redirect, confirmed)", the exported and served
/// lists and every entry's `tf:source feedUrl` still gave the old URL.
/// They give the one tickerfeed fetches.
#[tokio::test]
async fn a_confirmed_move_is_the_url_every_list_publishes() {
    let server = FeedServer::start().await;
    server.set("/old.rss", Reply::redirect(301, "/moved.rss"));
    server.set(
        "/moved.rss",
        Reply::feed(rss("Moved", &[("m1", "Still here", "https://m.test/1")])),
    );
    let dir = TestDir::new();
    let config = dir.write_config(&feed_block("moving", &server.url("/old.rss"), ""));
    let (old, moved) = (server.url("/old.rss"), server.url("/moved.rss"));
    // `[fetch] redirect_confirmations` is 3.
    for _ in 0..3 {
        poll(&config, fixed_clock("2026-11-24T09:00:00Z").1).await;
    }
    let (code, feeds, err) = cli(&dir, &["feeds"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(
        feeds.contains(&format!(
            "now fetched from {moved} (permanent redirect, confirmed)"
        )),
        "{feeds}"
    );
    let xml_url = |doc: &str| -> Vec<String> {
        tickerfeed::opml::parse(doc.as_bytes())
            .unwrap()
            .feeds
            .into_iter()
            .map(|f| f.xml_url.to_string())
            .collect()
    };
    let (code, exported, err) = cli(&dir, &["opml", "export"]).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(xml_url(&exported), [moved.as_str()], "{exported}");

    let d = crate::serve::Daemon::start(config).await;
    let served = d.get("/feeds.opml", &[]).await.text().await.unwrap();
    assert_eq!(xml_url(&served), [moved.as_str()], "{served}");
    let atom = d.wait_for_entries(1).await;
    assert!(atom.contains(&format!("feedUrl=\"{moved}\"")), "{atom}");
    let rss = d.get("/feed.rss", &[]).await.text().await.unwrap();
    assert!(rss.contains(&format!("feedUrl=\"{moved}\"")), "{rss}");
    // The source's id stays the configured URL: a move does not make the
    // feed another source in a reader that tells sources apart by id.
    let source_id = format!("<id>{old}</id>");
    assert!(atom.contains(&source_id), "{atom}");
    let atom = atom.replace(&source_id, "");
    for doc in [&exported, &served, &atom, &rss] {
        assert!(!doc.contains(&old), "{doc}");
    }
    d.stop().await;

    // The operator points the feed elsewhere: until the daemon reads the
    // config, the archive still holds the old URL's move, which is not
    // this URL's.
    let elsewhere = server.url("/elsewhere.rss");
    dir.write_config(&feed_block("moving", &elsewhere, ""));
    let (code, exported, err) = cli(&dir, &["opml", "export"]).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(xml_url(&exported), [elsewhere.as_str()], "{exported}");
}

/// `/feeds.opml` was made for each request and dated by it, with no
/// validators: a reader or cache revalidating the list fetched it whole
/// every time. It (and `/views.opml`) answers conditional requests as the
/// feeds do: an ETag and Last-Modified, 304 with no body for the ETag, and
/// a new ETag and a later date once a poll changes a feed's title.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_opml_lists_answer_conditional_requests() {
    let server = FeedServer::start().await;
    let titled = |title: &str| Reply::feed(rss(title, &[("a1", "Alpha", "https://a.test/1")]));
    server.set("/a.xml", titled("First title"));
    let dir = TestDir::new();
    let config = dir.write_config(&format!(
        "{}[[views]]\nname = \"oil\"\nquery = \"oil\"\n",
        feed_block("a", &server.url("/a.xml"), "schedule = \"@hourly\"")
    ));
    let (_c, clock) = fixed_clock("2026-11-24T09:00:00Z");
    poll(&config, clock.clone()).await;
    let d = crate::serve::Daemon::start_with_clock(config.clone(), clock.clone()).await;
    let header = |r: &reqwest::Response, name: &str| {
        r.headers()
            .get(name)
            .unwrap_or_else(|| panic!("no {name}: {:?}", r.headers()))
            .to_str()
            .unwrap()
            .to_string()
    };

    let first = d.get("/feeds.opml", &[]).await;
    assert_eq!(first.status(), 200);
    let (etag, date) = (header(&first, "etag"), header(&first, "last-modified"));
    assert_eq!(header(&first, "content-type"), "text/x-opml; charset=utf-8");
    assert!(
        first
            .text()
            .await
            .unwrap()
            .contains("title=\"First title\"")
    );
    for asked in [
        ("if-none-match", etag.as_str()),
        ("if-modified-since", &date),
    ] {
        let again = d.get("/feeds.opml", &[asked]).await;
        assert_eq!(again.status(), 304, "{asked:?}");
        assert_eq!(header(&again, "etag"), etag);
        assert!(again.bytes().await.unwrap().is_empty(), "{asked:?}");
    }

    server.set("/a.xml", titled("Second title"));
    poll(&config, clock).await;
    let changed = d.get("/feeds.opml", &[("if-none-match", &etag)]).await;
    assert_eq!(changed.status(), 200);
    assert_ne!(header(&changed, "etag"), etag);
    let later = httpdate::parse_http_date(&header(&changed, "last-modified")).unwrap();
    assert!(later > httpdate::parse_http_date(&date).unwrap());
    assert!(
        changed
            .text()
            .await
            .unwrap()
            .contains("title=\"Second title\"")
    );

    let views = d.get("/views.opml", &[]).await;
    assert_eq!(views.status(), 200);
    let etag = header(&views, "etag");
    let again = d.get("/views.opml", &[("if-none-match", &etag)]).await;
    assert_eq!(again.status(), 304);
    assert!(again.bytes().await.unwrap().is_empty());
    d.stop().await;
}
