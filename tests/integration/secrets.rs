//! A feed URL's key or password from the environment (`${NAME}` in
//! `[[feeds]] url`): the real binary sends it to the feed's server and
//! nowhere else (not the archive, not the log, not an OPML export).

use crate::util::*;

const KEY: &str = "s3cr3t-K3Y-9f2c";
const PASSWORD: &str = "pa55-W0RD-7d1e";
/// `reader:pa55-W0RD-7d1e`, as basic authentication sends it.
const BASIC: &str = "Basic cmVhZGVyOnBhNTUtVzBSRC03ZDFl";

/// The variables the tests' configs name, and their values.
const SECRETS: [(&str, &str); 3] = [
    ("TF_TEST_NEWS_KEY", KEY),
    ("TF_TEST_FEED_PASSWORD", PASSWORD),
    ("TF_TEST_MARKET_KEY", "m4rket-K3Y-1b7e"),
];

/// The binary on `dir`'s config with the secrets in its environment and
/// the log at debug; its exit code, stdout and stderr (the log).
fn run_keyed(dir: &TestDir, args: &[&str]) -> (Option<i32>, String, String) {
    run_with(dir, &SECRETS, args)
}

/// The binary on `dir`'s config with `env` and the log at debug.
fn run_with(dir: &TestDir, env: &[(&str, &str)], args: &[&str]) -> (Option<i32>, String, String) {
    run_on(&dir.config_path(), env, args)
}

/// The binary on the config at `config` with `env` and none of the other
/// secrets, and the log at debug.
fn run_on(
    config: &std::path::Path,
    env: &[(&str, &str)],
    args: &[&str],
) -> (Option<i32>, String, String) {
    let mut cmd = bin();
    cmd.arg("--config")
        .arg(config)
        .args(args)
        .env("RUST_LOG", "debug")
        .env_remove("TICKERFEED_CONFIG");
    for (var, _) in SECRETS {
        cmd.env_remove(var);
    }
    cmd.envs(env.iter().copied());
    let out = cmd.output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Every text (and blob) value of every column of every table in the
/// archive that holds `needle`, as `table.column: value`.
fn archive_rows_holding(dir: &TestDir, needle: &str) -> Vec<String> {
    let db = dir.db();
    let tables: Vec<String> = db
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut found = Vec::new();
    for table in tables {
        let mut stmt = db.prepare(&format!("SELECT * FROM \"{table}\"")).unwrap();
        let columns: Vec<String> = stmt.column_names().map(str::to_owned).collect();
        let mut rows = stmt.query([]).unwrap();
        while let Some(row) = rows.next().unwrap() {
            for (i, column) in columns.iter().enumerate() {
                let text = match row.get_ref(i).unwrap() {
                    rusqlite::types::ValueRef::Text(t) | rusqlite::types::ValueRef::Blob(t) => {
                        String::from_utf8_lossy(t).into_owned()
                    }
                    _ => continue,
                };
                if text.contains(needle) {
                    found.push(format!("{table}.{column}: {text}"));
                }
            }
        }
    }
    found
}

/// A feed whose key comes from the environment (moved for good to a new
/// home that carries the key), one behind basic authentication with its
/// password from the environment, and two that fail (an HTTP error, a
/// refused connection): the servers get the secrets, and after four polls
/// no column of any table of the archive, no log line at debug and no
/// line `poll` prints holds either.
#[tokio::test(flavor = "multi_thread")]
async fn feed_secrets_from_the_environment_reach_the_server_only() {
    let server = FeedServer::start().await;
    server.set(
        "/keyed.xml",
        Reply::redirect(301, &format!("/moved.xml?api_key={KEY}")),
    );
    // A relative item link: resolved against the feed's address, it must
    // not take the password along.
    let body = rss(
        "Keyed",
        &[
            ("k1", "First story", "https://news.test/1"),
            ("k2", "Second story", "/2"),
        ],
    );
    server.set("/moved.xml", Reply::feed(body.clone()));
    // With no site link of its own, the feed's address is the base.
    server.set(
        "/basic.xml",
        Reply::feed(
            body.replace("k1", "b1")
                .replace("k2", "b2")
                .replace("<link>https://example.com/</link>", ""),
        ),
    );
    // No site link and an item with no link of its own: its `#fn1`
    // resolves against the feed's address, which must not take the key
    // along into the archived (and served) summary.
    server.set(
        "/bare.xml",
        Reply::feed(
            "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Bare</title>\
             <item><title>Linkless</title><guid isPermaLink=\"false\">bare-1</guid>\
             <description>&lt;a href=\"#fn1\"&gt;note&lt;/a&gt;</description></item>\
             </channel></rss>"
                .to_string(),
        ),
    );
    server.set("/broken.xml", Reply::status(500));
    // A new home with a key the config does not hold: followed at each
    // poll, never moved to (the archive could not give its key back).
    server.set(
        "/other.xml",
        Reply::redirect(301, "/elsewhere.xml?api_key=another-key-0a9b"),
    );
    server.set(
        "/elsewhere.xml",
        Reply::feed(body.replace("k1", "o1").replace("k2", "o2")),
    );
    let basic = format!(
        "http://reader:${{TF_TEST_FEED_PASSWORD}}@{}/basic.xml",
        server.addr
    );
    let dir = TestDir::new();
    dir.write_config_only(&format!(
        "{}{}{}{}{}{}",
        feed_block(
            "keyed",
            &format!(
                "{}?api_key=${{TF_TEST_NEWS_KEY}}&lang=en",
                server.url("/keyed.xml")
            ),
            ""
        ),
        feed_block("basic", &basic, ""),
        feed_block(
            "bare",
            &format!("{}?api_key=${{TF_TEST_NEWS_KEY}}", server.url("/bare.xml")),
            ""
        ),
        feed_block(
            "broken",
            &format!("{}?token=${{TF_TEST_NEWS_KEY}}", server.url("/broken.xml")),
            ""
        ),
        feed_block(
            "refused",
            "http://reader:${TF_TEST_FEED_PASSWORD}@127.0.0.1:1/feed?api_key=${TF_TEST_NEWS_KEY}",
            ""
        ),
        feed_block(
            "other",
            &format!("{}?api_key=${{TF_TEST_NEWS_KEY}}", server.url("/other.xml")),
            ""
        ),
    ));
    let dir = std::sync::Arc::new(dir);
    let mut outputs = String::new();
    // `[fetch] redirect_confirmations` is 3: the fourth poll fetches the
    // new home directly.
    for _ in 0..4 {
        let d = std::sync::Arc::clone(&dir);
        let (code, out, err) = tokio::task::spawn_blocking(move || run_keyed(&d, &["poll"]))
            .await
            .unwrap();
        assert_eq!(code, Some(0), "{err}");
        outputs.push_str(&out);
        outputs.push_str(&err);
    }

    // The servers got the secrets.
    let keyed = server.seen("/keyed.xml");
    assert_eq!(keyed.len(), 3, "{keyed:?}");
    assert!(
        keyed[0].uri.contains(&format!("api_key={KEY}&lang=en")),
        "{keyed:?}"
    );
    let moved = server.seen("/moved.xml");
    assert_eq!(
        moved.len(),
        4,
        "moved for good, then fetched with the key: {moved:?}"
    );
    assert!(
        moved
            .iter()
            .all(|s| s.uri.ends_with(&format!("?api_key={KEY}"))),
        "{moved:?}"
    );
    for seen in server.seen("/basic.xml") {
        assert_eq!(seen.headers["authorization"], BASIC);
    }
    assert!(server.seen("/broken.xml")[0].uri.contains(KEY));
    assert_eq!(server.seen("/other.xml").len(), 4);
    assert_eq!(server.seen("/elsewhere.xml").len(), 4);

    // The archive kept where they were, not what they are.
    let polled: Vec<String> =
        dir.column("SELECT coalesce(effective_url, url) FROM feeds ORDER BY name");
    assert_eq!(
        polled,
        vec![
            format!("{}?api_key=****", server.url("/bare.xml")),
            format!("http://reader:****@{}/basic.xml", server.addr),
            format!("{}?token=****", server.url("/broken.xml")),
            format!("{}?api_key=****", server.url("/moved.xml")),
            format!("{}?api_key=****", server.url("/other.xml")),
            "http://reader:****@127.0.0.1:1/feed?api_key=****".to_string(),
        ]
    );
    assert_eq!(dir.count("SELECT count(*) FROM feed_url_changes"), 1);
    assert!(dir.count("SELECT count(*) FROM fetches WHERE result = 'error'") >= 2);
    // The relative link names the page, not our access to the feed.
    assert!(
        dir.column::<String>("SELECT url FROM items WHERE url IS NOT NULL")
            .contains(&format!("http://{}/2", server.addr))
    );
    let note: String = dir
        .db()
        .query_row(
            "SELECT summary_html FROM items WHERE title = 'Linkless'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(note.contains("/bare.xml?api_key=****#fn1"), "{note}");
    for secret in [KEY, PASSWORD, "another-key-0a9b"] {
        assert_eq!(archive_rows_holding(&dir, secret), Vec::<String>::new());
        assert!(!outputs.contains(secret), "{outputs}");
    }
    // The debug log was on: it did log the feeds' addresses.
    assert!(outputs.contains("DEBUG"), "{outputs}");
}

/// `check` refuses a feed URL naming a variable that is not set, naming
/// the feed, its key and the variable; with it set, the config is fine.
#[test]
fn an_unset_variable_in_a_feed_url_is_refused() {
    let dir = TestDir::new();
    dir.write_config_only(&feed_block(
        "wire",
        "https://news.test/feed?api_key=${TF_TEST_SURELY_UNSET_KEY_5c1d}",
        "",
    ));
    let out = bin()
        .arg("--config")
        .arg(dir.config_path())
        .arg("check")
        .env_remove("TF_TEST_SURELY_UNSET_KEY_5c1d")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("feeds[0].url"), "{err}");
    assert!(err.contains("feed \"wire\""), "{err}");
    assert!(
        err.contains("the environment variable TF_TEST_SURELY_UNSET_KEY_5c1d"),
        "{err}"
    );

    let out = bin()
        .arg("--config")
        .arg(dir.config_path())
        .arg("check")
        .env("TF_TEST_SURELY_UNSET_KEY_5c1d", KEY)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(!err.contains("warning") && !err.contains(KEY), "{err}");
}

/// A key written into the config works, but `check` says how to take it
/// from the environment instead, without repeating it.
#[test]
fn check_warns_of_a_key_written_into_the_config() {
    let dir = TestDir::new();
    dir.write_config_only(&format!(
        "{}{}",
        feed_block("wire", &format!("https://news.test/feed?api_key={KEY}"), ""),
        feed_block(
            "basic",
            &format!("https://reader:{PASSWORD}@news.test/feed"),
            ""
        )
    ));
    let out = bin()
        .arg("--config")
        .arg(dir.config_path())
        .arg("check")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("feed \"wire\": its url holds a key written into the config")
            && err.contains("url = \"https://news.test/feed?api_key=${WIRE_KEY}\""),
        "{err}"
    );
    assert!(
        err.contains("url = \"https://reader:${BASIC_KEY}@news.test/feed\""),
        "{err}"
    );
    assert!(!err.contains(KEY) && !err.contains(PASSWORD), "{err}");
}

/// `opml export` (the operator's list, with credentials) writes the
/// variable the config names, never its value.
#[test]
fn opml_export_names_the_variable_not_the_key() {
    let dir = TestDir::new();
    dir.write_config_only(&feed_block(
        "wire",
        "https://news.test/feed?api_key=${TF_TEST_NEWS_KEY}",
        "",
    ));
    let (code, out, err) = run_keyed(&dir, &["opml", "export"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.contains("xmlUrl=\"https://news.test/feed?api_key=${TF_TEST_NEWS_KEY}\""),
        "{out}"
    );
    assert!(!out.contains(KEY), "{out}");
}

/// An export read back by `opml import` is the same list: the feeds whose
/// key comes from the environment are recognised by their `${NAME}`, not
/// added again beside themselves; and into a config without them, a
/// `${NAME}` in a user name comes back as written, not percent-encoded
/// into a literal user name.
#[test]
fn an_exported_list_imported_again_keeps_its_variables() {
    let dir = TestDir::new();
    dir.write_config_only(&format!(
        "{}{}",
        feed_block(
            "wire",
            "https://news.test/feed?api_key=${TF_TEST_NEWS_KEY}",
            ""
        ),
        feed_block("auth", "https://${TF_TEST_NEWS_KEY}@auth.test/feed.xml", ""),
    ));
    let (code, exported, err) = run_keyed(&dir, &["opml", "export"]);
    assert_eq!(code, Some(0), "{err}");
    let list = dir.path().join("list.opml");
    std::fs::write(&list, &exported).unwrap();
    let out = bin()
        .arg("--config")
        .arg(dir.config_path())
        .args(["opml", "import"])
        .arg(&list)
        .env("TF_TEST_NEWS_KEY", KEY)
        .env("TF_TEST_FEED_PASSWORD", PASSWORD)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.contains("nothing to add"), "{out}");
    assert!(!out.contains("wire-2") && !out.contains("auth-2"), "{out}");

    let elsewhere = TestDir::new();
    elsewhere.write_config_only(&feed_block("other", "https://other.test/feed", ""));
    let out = bin()
        .arg("--config")
        .arg(elsewhere.config_path())
        .args(["opml", "import"])
        .arg(&list)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.contains("url = \"https://${TF_TEST_NEWS_KEY}@auth.test/feed.xml\""),
        "{out}"
    );
    assert!(
        out.contains("url = \"https://news.test/feed?api_key=${TF_TEST_NEWS_KEY}\""),
        "{out}"
    );
}

const PATH_TOKEN: &str = "pAth-T0k3n-5e8a";

/// Many services put a reader's token in the feed's path
/// (`https://host/${TOKEN}/feed.xml`), where no key parameter names it.
/// The token used to be kept in the archive (the feed's address, the
/// fetch log, the redirect chain, an error quoting the URL), served on
/// `/feeds`, `/feeds.opml`, in the merged feeds' sources and exports,
/// and logged. Now the server gets it and nothing else does: after polls
/// and a run, it is in no byte of the archive, no page or feed served, no
/// command's output and no log line.
#[tokio::test(flavor = "multi_thread")]
async fn a_token_in_a_feed_path_reaches_the_server_only() {
    let server = FeedServer::start().await;
    let feed_path = format!("/{PATH_TOKEN}/feed.xml");
    // No site link: the feed's address is the base its relative links
    // resolve against.
    server.set(
        &feed_path,
        Reply::feed(
            rss(
                "Patrons",
                &[
                    ("p1", "Patron post", "https://news.test/1"),
                    ("p2", "Second post", "/2"),
                ],
            )
            .replace("<link>https://example.com/</link>", ""),
        ),
    );
    // A move for good within the token's folder: followed, never moved to,
    // as the archive could not fill the token back in.
    let old_path = format!("/{PATH_TOKEN}/old.xml");
    server.set(&old_path, Reply::redirect(301, &feed_path));
    let dir = TestDir::new();
    dir.write_config_only(&format!(
        "{}{}{}",
        feed_block(
            "patrons",
            &format!("http://{}/${{TF_TEST_PATH_TOKEN}}/feed.xml", server.addr),
            ""
        ),
        feed_block(
            "moving",
            &format!("http://{}/${{TF_TEST_PATH_TOKEN}}/old.xml", server.addr),
            ""
        ),
        feed_block(
            "refused",
            "http://127.0.0.1:1/${TF_TEST_PATH_TOKEN}/feed.xml",
            ""
        ),
    ));
    let dir = std::sync::Arc::new(dir);
    let mut said = String::new();
    let command = |args: &'static [&'static str]| {
        let d = std::sync::Arc::clone(&dir);
        tokio::task::spawn_blocking(move || {
            run_with(&d, &[("TF_TEST_PATH_TOKEN", PATH_TOKEN)], args)
        })
    };
    for _ in 0..2 {
        let (code, out, err) = command(&["poll"]).await.unwrap();
        assert_eq!(code, Some(0), "{err}");
        said.push_str(&out);
        said.push_str(&err);
    }
    // The debug log was on and named the addresses.
    assert!(said.contains("DEBUG"), "{said}");
    assert!(said.contains("/****/feed.xml"), "{said}");

    // Fetched at the right address, each time.
    assert_eq!(server.seen(&feed_path).len(), 4);
    assert_eq!(server.seen(&old_path).len(), 2);

    // A feed added since: `feeds` lists it before any poll registers it.
    let config = std::fs::read_to_string(dir.config_path()).unwrap();
    std::fs::write(
        dir.config_path(),
        config
            + &feed_block(
                "later",
                &format!("http://{}/${{TF_TEST_PATH_TOKEN}}/later.xml", server.addr),
                "",
            ),
    )
    .unwrap();
    let (code, out, err) = command(&["feeds"]).await.unwrap();
    assert_eq!(code, Some(0), "{err}");
    // Not yet registered: as the config writes it, the variable's name.
    assert!(out.contains("/${TF_TEST_PATH_TOKEN}/later.xml"), "{out}");
    said.push_str(&out);
    for args in [
        &["feeds"][..],
        &["export"][..],
        &["export", "--format", "csv"][..],
        &["opml", "export"][..],
    ] {
        let (code, out, err) = command(args).await.unwrap();
        assert_eq!(code, Some(0), "{args:?}: {err}");
        said.push_str(&out);
        said.push_str(&err);
    }

    // The running service, its pages and feeds.
    let mut daemon =
        crate::process::Running::start_with(&dir, &[("TF_TEST_PATH_TOKEN", PATH_TOKEN)]);
    let listen = daemon.wait_for_listen();
    let http = reqwest::Client::new();
    for page in [
        "/feeds",
        "/feeds.opml",
        "/feed.atom",
        "/feed.rss",
        "/feed.json",
    ] {
        let resp = http
            .get(format!("http://{listen}{page}"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{page}");
        let body = resp.text().await.unwrap();
        assert!(body.contains("/****/"), "{page} names the feed: {body}");
        said.push_str(&body);
    }
    daemon.stop_with_nothing_waiting();
    said.push_str(&daemon.log.join("\n"));

    assert!(!said.contains(PATH_TOKEN), "{said}");
    assert_eq!(archive_rows_holding(&dir, PATH_TOKEN), Vec::<String>::new());
    // Every byte on disk, the write-ahead log included.
    let data = dir.db_path().parent().unwrap().to_owned();
    for file in std::fs::read_dir(&data).unwrap() {
        let path = file.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        assert!(
            !bytes
                .windows(PATH_TOKEN.len())
                .any(|w| w == PATH_TOKEN.as_bytes()),
            "{} holds the token",
            path.display()
        );
    }
    // The archive keeps where the token was.
    assert_eq!(
        dir.column::<String>("SELECT coalesce(effective_url, url) FROM feeds ORDER BY name"),
        vec![
            format!("http://{}/****/later.xml", server.addr),
            format!("http://{}/****/old.xml", server.addr),
            format!("http://{}/****/feed.xml", server.addr),
            "http://127.0.0.1:1/****/feed.xml".to_string(),
        ]
    );
}

/// An archive written before values were blanked wherever they stand kept
/// a path token as it was: in the feed's address, the fetch log (the URL
/// asked, where it redirected, an error quoting it), the URL history, a
/// site's pause quoting the address, and a WebSub subscription to it. The
/// next start or `poll`, whose config gives the token, blanks it there
/// (the subscription ends, since the hub keeps the topic whole), and the
/// feed is still fetched at its address.
#[tokio::test(flavor = "multi_thread")]
async fn an_archive_that_kept_a_path_token_forgets_it() {
    let server = FeedServer::start().await;
    let feed_path = format!("/{PATH_TOKEN}/feed.xml");
    server.set(
        &feed_path,
        Reply::feed(rss(
            "Patrons",
            &[("p1", "Patron post", "https://news.test/1")],
        )),
    );
    let dir = TestDir::new();
    dir.write_config_only(&feed_block(
        "patrons",
        &format!("http://{}/${{TF_TEST_PATH_TOKEN}}/feed.xml", server.addr),
        "",
    ));
    let dir = std::sync::Arc::new(dir);
    let poll = || {
        let d = std::sync::Arc::clone(&dir);
        tokio::task::spawn_blocking(move || {
            run_with(&d, &[("TF_TEST_PATH_TOKEN", PATH_TOKEN)], &["poll"])
        })
    };
    let (code, _, err) = poll().await.unwrap();
    assert_eq!(code, Some(0), "{err}");
    // What an earlier version wrote.
    let asked = server.url(&feed_path);
    {
        let db = rusqlite::Connection::open(dir.db_path()).unwrap();
        db.execute(
            "UPDATE feeds SET url = ?1, last_error = ?2",
            [
                asked.as_str(),
                &format!("could not connect: error sending request for url ({asked})"),
            ],
        )
        .unwrap();
        db.execute(
            "UPDATE fetches SET url = ?1, final_url = ?1, redirects = ?2, error = ?3",
            [
                asked.as_str(),
                &format!("301 -> {asked}"),
                &format!("error sending request for url ({asked})"),
            ],
        )
        .unwrap();
        db.execute(
            "INSERT INTO feed_url_changes (feed_id, changed_at, old_url, new_url, reason)
             SELECT id, '2026-01-01T00:00:00Z', ?1, ?1, ?2 FROM feeds",
            [asked.as_str(), &format!("moved for good to {asked}")],
        )
        .unwrap();
        db.execute(
            "INSERT INTO host_pauses (host, paused_until, reason)
             VALUES ('elsewhere.test', '2000-01-01T00:00:00Z', ?1)",
            [&format!("429 Too Many Requests from {asked}")],
        )
        .unwrap();
        db.execute(
            "INSERT INTO websub_subscriptions (feed_id, hub, topic, callback_id, secret, state,
                                               requested_at, verified_at, lease_expires_at)
             SELECT id, 'http://127.0.0.1:1/hub', ?1, 'cb-1', 'hub-secret', 'active',
                    '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z', '2099-01-01T00:00:00Z'
             FROM feeds",
            [asked.as_str()],
        )
        .unwrap();
    }
    assert!(!archive_rows_holding(&dir, PATH_TOKEN).is_empty());

    let (code, _, err) = poll().await.unwrap();
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(archive_rows_holding(&dir, PATH_TOKEN), Vec::<String>::new());
    assert_eq!(
        dir.column::<String>("SELECT url FROM feeds"),
        vec![format!("http://{}/****/feed.xml", server.addr)]
    );
    assert_eq!(server.seen(&feed_path).len(), 2);
    assert_eq!(
        dir.column::<String>("SELECT state || ': ' || last_error FROM websub_subscriptions"),
        vec![
            "expired: ended: the topic held a value the feed's URL takes from the environment \
             (a ${NAME} of its url), which the archive does not keep, and the hub cannot be \
             asked to unsubscribe without the exact topic (its pushes get 410 Gone); the feed \
             is polled"
                .to_string()
        ]
    );
}

/// The secrets live in a root-only environment file: an analyst without
/// them still lists the feeds, searches and exports the archive a poll
/// with them made, and sees a feed not yet polled as the config writes
/// it (the variable's name, not `****` as if it were the key); `poll` and
/// `quotes`, which send what needs them, still refuse, naming the
/// variables they need, and `check` says which commands need them. A
/// variable in a URL's port (`http://127.0.0.1:${TF_TEST_NEWS_PORT}/`),
/// where `****` cannot stand, dropped its feed from the config read
/// without it: registered, `feeds` said it was no longer in the config;
/// not yet, it was not listed at all.
#[tokio::test(flavor = "multi_thread")]
async fn commands_that_only_read_run_without_the_secrets() {
    let server = FeedServer::start().await;
    server.set(
        "/keyed.xml",
        Reply::feed(rss(
            "Keyed",
            &[("k1", "Tanker story", "https://news.test/1")],
        )),
    );
    server.set(
        "/local.xml",
        Reply::feed(rss(
            "Local",
            &[("l1", "Harbour notes", "https://news.test/2")],
        )),
    );
    let dir = TestDir::new();
    let feeds = format!(
        "{}{}",
        feed_block(
            "keyed",
            &format!("{}?api_key=${{TF_TEST_NEWS_KEY}}", server.url("/keyed.xml")),
            "",
        ),
        feed_block(
            "local",
            "http://127.0.0.1:${TF_TEST_NEWS_PORT}/local.xml",
            ""
        )
    );
    let market = format!(
        "[market]\nprovider = \"finnhub\"\nbase_url = \"{}\"\napi_key_env = \"TF_TEST_MARKET_KEY\"\nsymbols = [\"AAPL\"]\n",
        server.url("/")
    );
    dir.write_config_only(&format!("{feeds}{market}"));
    let cfg = dir.config_path();
    // The local feed's port is in the environment file too.
    let port = server.addr.port().to_string();
    let run = |args: &'static [&'static str], keys: bool| {
        let cfg = cfg.clone();
        let port = port.clone();
        tokio::task::spawn_blocking(move || {
            let mut env = Vec::new();
            if keys {
                env.extend(SECRETS);
                env.push(("TF_TEST_NEWS_PORT", port.as_str()));
            }
            run_on(&cfg, &env, args)
        })
    };
    let (code, _, err) = run(&["poll"], true).await.unwrap();
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(server.seen("/keyed.xml").len(), 1);
    assert_eq!(server.seen("/local.xml").len(), 1);

    // Feeds added since, not yet registered.
    dir.write_config_only(&format!(
        "{feeds}{}{}{market}",
        feed_block(
            "later",
            "https://later.test/feed?token=${TF_TEST_NEWS_KEY}",
            ""
        ),
        feed_block(
            "later-local",
            "http://127.0.0.1:${TF_TEST_NEWS_PORT}/later.xml",
            ""
        )
    ));
    let without_keys = |args: &'static [&'static str]| run(args, false);
    let (code, out, err) = without_keys(&["feeds"]).await.unwrap();
    assert_eq!(code, Some(0), "{err}");
    let listed = |name: &str| -> String {
        let mut lines = out.lines().skip_while(|l| *l != name);
        let head = lines.next().unwrap_or_else(|| panic!("no {name} in {out}"));
        let rest: Vec<&str> = lines.take_while(|l| l.starts_with(' ')).collect();
        format!("{head}\n{}", rest.join("\n"))
    };
    assert!(
        listed("local").contains(&format!("url:        {}", server.url("/local.xml")))
            && listed("local").contains("next due:"),
        "{out}"
    );
    assert!(!listed("local").contains("not in"), "{out}");
    assert!(
        listed("later-local")
            .contains("url:        http://127.0.0.1:${TF_TEST_NEWS_PORT}/later.xml"),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "url:        {}?api_key=****",
            server.url("/keyed.xml")
        )),
        "{out}"
    );
    assert!(
        out.contains("url:        https://later.test/feed?token=${TF_TEST_NEWS_KEY}"),
        "{out}"
    );
    let (code, out, err) = without_keys(&["search", "tanker"]).await.unwrap();
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("Tanker story"), "{out}");
    let (code, out, err) = without_keys(&["export"]).await.unwrap();
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("Tanker story"), "{out}");
    for read in [
        &["render"][..],
        &["views"],
        &["alerts"],
        &["opml", "export"],
    ] {
        let (code, _, err) = without_keys(read).await.unwrap();
        assert_eq!(code, Some(0), "{read:?}: {err}");
    }

    let (code, _, err) = without_keys(&["poll"]).await.unwrap();
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("feed \"keyed\": the environment variable TF_TEST_NEWS_KEY")
            && err.contains("market.api_key_env: the environment variable TF_TEST_MARKET_KEY"),
        "{err}"
    );
    assert_eq!(server.seen("/keyed.xml").len(), 1, "not fetched again");
    let (code, _, err) = without_keys(&["quotes"]).await.unwrap();
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("TF_TEST_MARKET_KEY") && !err.contains("TF_TEST_NEWS_KEY"),
        "{err}"
    );
    let (code, _, err) = without_keys(&["check"]).await.unwrap();
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("TF_TEST_NEWS_KEY")
            && err.contains("TF_TEST_MARKET_KEY")
            && err.contains("run without them"),
        "{err}"
    );
}
