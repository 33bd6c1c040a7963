//! The real binary as systemd runs it: readiness, watchdog, reload and stop
//! notifications on a real datagram socket, socket activation, SIGHUP.

use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

use crate::process::Running;
use crate::util::*;

/// Stands in for systemd's notify socket.
struct Manager {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    sock: UnixDatagram,
}

impl Manager {
    fn new() -> Manager {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let sock = UnixDatagram::bind(&path).unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(15)))
            .unwrap();
        Manager {
            _dir: dir,
            path,
            sock,
        }
    }

    /// The next datagram that contains `needle`, skipping others; the
    /// skipped ones are returned too, in order.
    fn until(&self, needle: &str) -> Vec<String> {
        let mut seen = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut buf = vec![0u8; 4096];
        while Instant::now() < deadline {
            let n = self
                .sock
                .recv(&mut buf)
                .unwrap_or_else(|e| panic!("waiting for {needle:?}: {e}; got {seen:?}"));
            let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
            let done = msg.lines().any(|l| l == needle || l.starts_with(needle));
            seen.push(msg);
            if done {
                return seen;
            }
        }
        panic!("no {needle:?}; got {seen:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_reload_and_stop_with_state_kept() {
    let server = FeedServer::start().await;
    server.set(
        "/a.xml",
        Reply::feed(rss("A", &[("a1", "Alpha", "https://a.test/1")])).with_etag("\"a-v1\""),
    );
    server.set(
        "/b.xml",
        Reply::feed(rss("B", &[("b1", "Beta", "https://b.test/1")])),
    );
    let dir = TestDir::new();
    let feed_a = feed_block("a", &server.url("/a.xml"), "schedule = \"@hourly\"");
    dir.write_config(&feed_a);
    let manager = Manager::new();
    let notify = manager.path.to_str().unwrap().to_string();
    let mut d = Running::start_with(
        &dir,
        &[("NOTIFY_SOCKET", &notify), ("WATCHDOG_USEC", "2000000")],
    );

    // READY=1 comes only once the listener answers.
    let addr = d.wait_for_listen();
    let first = manager.until("READY=1");
    assert!(first.last().unwrap().contains("READY=1"), "{first:?}");
    let health = reqwest::get(format!("http://{addr}/healthz"))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    // The watchdog is pinged with a status line while healthy.
    let pings = manager.until("WATCHDOG=1");
    let status = pings.last().unwrap();
    assert!(status.contains("STATUS=1 feeds"), "{status}");
    d.wait_for("polled");
    assert_eq!(server.seen("/a.xml").len(), 1);

    // Reload with a second feed: RELOADING=1 then READY=1, b starts, a keeps
    // its state (not refetched: it is hourly and was just polled).
    dir.write_config(&format!(
        "{feed_a}{}",
        feed_block("b", &server.url("/b.xml"), "")
    ));
    d.signal("HUP");
    let reload = manager.until("READY=1");
    let reloading = reload
        .iter()
        .position(|m| m.contains("RELOADING=1"))
        .expect("RELOADING=1 sent");
    assert!(reload[reloading].contains("MONOTONIC_USEC="), "{reload:?}");
    assert!(reloading < reload.len() - 1);
    d.wait_for("config reloaded");
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.seen("/b.xml").is_empty() {
        assert!(Instant::now() < deadline, "the added feed was never polled");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        server.seen("/a.xml").len(),
        1,
        "reload refetched a feed that was not due"
    );
    let body = reqwest::get(format!("http://{addr}/feed.atom"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut body = body;
    while !body.contains("Beta") {
        assert!(Instant::now() < deadline, "{body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
        body = reqwest::get(format!("http://{addr}/feed.atom"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
    }
    assert!(body.contains("Alpha"));

    // An invalid config is refused; the running one stays.
    std::fs::write(dir.config_path(), "[[feeds]]\nname = \"broken\"\n").unwrap();
    d.signal("HUP");
    manager.until("READY=1");
    d.wait_for("reload refused");
    assert_eq!(
        reqwest::get(format!("http://{addr}/healthz"))
            .await
            .unwrap()
            .status(),
        200
    );

    // A config that cannot be read is refused with its cause.
    std::fs::remove_file(dir.config_path()).unwrap();
    std::fs::create_dir(dir.config_path()).unwrap();
    d.signal("HUP");
    manager.until("READY=1");
    let refused = d.wait_for("reload refused");
    assert!(refused.contains("directory"), "{refused}");
    std::fs::remove_dir(dir.config_path()).unwrap();

    // Removing a feed keeps its archive; a changed log level waits for a
    // restart, and says so.
    dir.write_config(&format!("{feed_a}\n[log]\nlevel = \"debug\"\n"));
    d.signal("HUP");
    manager.until("READY=1");
    d.wait_for("[log] level changed: it takes effect at the next restart");
    d.wait_for("config reloaded");
    dir.write_config(&feed_a);
    d.signal("HUP");
    manager.until("READY=1");
    d.wait_for("config reloaded");

    d.signal("TERM");
    manager.until("STOPPING=1");
    assert_eq!(d.wait_exit(), 0, "{}", d.log.join("\n"));
    assert_eq!(dir.count("SELECT count(*) FROM items"), 2);
    assert_eq!(dir.count("SELECT in_config FROM feeds WHERE name = 'b'"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_on_a_socket_passed_by_the_service_manager() {
    let dir = TestDir::new();
    dir.write_config("");
    let mut cmd = crate::process::socket_activated(&dir);
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("python3 runs");
    let mut port = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut port,
    )
    .unwrap();
    let port: u16 = port.trim().parse().unwrap();
    let mut ok = false;
    for _ in 0..100 {
        if let Ok(r) = reqwest::get(format!("http://127.0.0.1:{port}/healthz")).await {
            assert_eq!(r.status(), 200);
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let status = child.wait().unwrap();
    assert!(ok, "the daemon never answered on the passed socket");
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_under_load_keeps_every_feeds_state() {
    let server = FeedServer::start().await;
    let dir = TestDir::new();
    let mut feeds = String::new();
    for i in 0..12 {
        let path = format!("/f{i}.xml");
        server.set(
            &path,
            Reply::feed(rss("L", &[(&format!("l{i}"), &format!("Item {i}"), "")]))
                .with_etag(&format!("\"v{i}\"")),
        );
        // Every second: polls keep running through the reload.
        feeds.push_str(&feed_block(
            &format!("f{i}"),
            &server.url(&path),
            "schedule = \"* * * * * *\"",
        ));
    }
    dir.write_config(&feeds);
    // All twelve feeds sit on one loopback host: lift the per-host limits
    // that would otherwise (rightly) spread them out.
    let text = std::fs::read_to_string(dir.config_path()).unwrap();
    std::fs::write(
        dir.config_path(),
        text.replace(
            "timeout_secs = 5",
            "timeout_secs = 5\nper_host_spacing_ms = 0\nper_host_concurrency = 16",
        ),
    )
    .unwrap();
    let mut d = Running::start_with(&dir, &[]);
    let addr = d.wait_for_listen();
    // Readers hammer the merged feed all along.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let hammer = {
        let stop = std::sync::Arc::clone(&stop);
        let addr = addr.clone();
        tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut failures = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                match client.get(format!("http://{addr}/feed.atom")).send().await {
                    Ok(r) if r.status().is_success() => {}
                    _ => failures += 1,
                }
            }
            failures
        })
    };
    // Wait until every feed has been polled twice (validators learned).
    let deadline = Instant::now() + Duration::from_secs(20);
    while (0..12).any(|i| server.seen(&format!("/f{i}.xml")).len() < 2) {
        assert!(Instant::now() < deadline, "feeds were not polled");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let before: Vec<usize> = (0..12)
        .map(|i| server.seen(&format!("/f{i}.xml")).len())
        .collect();
    // Reload with a changed title and one more feed.
    server.set("/new.xml", Reply::feed(rss("N", &[("n1", "New", "")])));
    std::fs::write(
        dir.config_path(),
        std::fs::read_to_string(dir.config_path())
            .unwrap()
            .replace("title = \"Merged\"", "title = \"Merged, reloaded\"")
            + &feed_block("new", &server.url("/new.xml"), ""),
    )
    .unwrap();
    d.signal("HUP");
    d.wait_for("config reloaded");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert_eq!(
        hammer.await.unwrap(),
        0,
        "readers saw errors during the reload"
    );
    // Every old feed kept polling, and every request after the reload still
    // carried the validators learned before it: no state was lost.
    for (i, n) in before.iter().enumerate() {
        let seen = server.seen(&format!("/f{i}.xml"));
        assert!(
            seen.len() > *n,
            "feed f{i} stopped polling after the reload"
        );
        for s in &seen[*n..] {
            assert_eq!(
                s.headers["if-none-match"],
                format!("\"v{i}\"").as_str(),
                "feed f{i} lost its validators"
            );
        }
    }
    assert!(!server.seen("/new.xml").is_empty());
    let title = reqwest::get(format!("http://{addr}/feed.atom"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(title.contains("Merged, reloaded"));
    d.signal("TERM");
    assert_eq!(d.wait_exit(), 0);
    assert_eq!(
        dir.count("SELECT count(*) FROM feeds WHERE consecutive_failures > 0"),
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_journald_log_lines_carry_no_timestamp_of_their_own() {
    let dir = TestDir::new();
    dir.write_config("");
    let mut plain = Running::start_with(&dir, &[]);
    let line = plain.wait_for("tickerfeed running");
    assert!(
        line.starts_with("20"),
        "a terminal log line starts with the time: {line}"
    );
    plain.signal("TERM");
    plain.wait_exit();
    let mut journal = Running::start_with(&dir, &[("JOURNAL_STREAM", "8:12345")]);
    let line = journal.wait_for("tickerfeed running");
    assert!(
        line.trim_start().starts_with("INFO"),
        "journald adds its own time: {line}"
    );
    journal.signal("TERM");
    journal.wait_exit();
}

// Issue 15: reload compared `[market]` through its Debug text, where every
// key prints `****`, so pointing `api_key_env` at another variable (the
// only way the key can change under a running daemon: its environment is
// fixed) went unnoticed and the provider kept getting the old key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_notices_a_changed_api_key_and_the_provider_gets_the_new_one() {
    const OLD: &str = "old-key-5e1f";
    const NEW: &str = "new-key-9c2d";
    let server = FeedServer::start().await;
    server.set(
        "/api/v1/quote?symbol=AAPL",
        Reply::feed(include_str!("../fixtures/quotes/finnhub/quote_full.json"))
            .header("content-type", "application/json"),
    );
    let market = |var: &str| {
        format!(
            "[market]\nprovider = \"finnhub\"\nbase_url = \"{}\"\napi_key_env = \"{var}\"\nschedule = \"* * * * * *\"\nsymbols = [\"AAPL\"]\n",
            server.url("")
        )
    };
    let tokens = || -> Vec<String> {
        server
            .seen("/api/v1/quote")
            .iter()
            .map(|s| s.headers["x-finnhub-token"].to_str().unwrap().to_string())
            .collect()
    };
    let dir = TestDir::new();
    dir.write_config_only(&market("TF_TEST_KEY_OLD"));
    let mut d = Running::start_with(&dir, &[("TF_TEST_KEY_OLD", OLD), ("TF_TEST_KEY_NEW", NEW)]);
    d.wait_for("tickerfeed running");
    let deadline = Instant::now() + Duration::from_secs(10);
    while tokens().is_empty() {
        assert!(
            Instant::now() < deadline,
            "the board never asked the provider"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    dir.write_config_only(&market("TF_TEST_KEY_NEW"));
    d.signal("HUP");
    d.wait_for("API key changed");
    d.wait_for("config reloaded");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !tokens().iter().any(|t| t == NEW) {
        assert!(
            Instant::now() < deadline,
            "the provider never got the new key: {:?}\n{}",
            tokens(),
            d.log.join("\n")
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Once switched, the old key is not sent again.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let sent = tokens();
    let first_new = sent.iter().position(|t| t == NEW).unwrap();
    assert!(sent[first_new..].iter().all(|t| t == NEW), "{sent:?}");

    d.signal("TERM");
    assert_eq!(d.wait_exit(), 0, "{}", d.log.join("\n"));
    for line in &d.log {
        assert!(
            !line.contains(OLD) && !line.contains(NEW),
            "key leaked: {line}"
        );
    }
}

/// `/quotes.json` once it shows `needle` (10 s at most).
async fn board_showing(addr: &str, needle: &str, d: &Running) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let board = reqwest::get(format!("http://{addr}/quotes.json"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if board.contains(needle) {
            return board;
        }
        assert!(
            Instant::now() < deadline,
            "{needle} never reached the board: {board}\n{}",
            d.log.join("\n")
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A reload that adds an instrument to `[market]` (same provider and
/// endpoint) puts it on the board at once, without waiting for the board's
/// next scheduled refresh (on 1 January here) or a restart; one that names
/// an exchange without a calendar is refused, saying so; one that names
/// another provider at another endpoint is asked from then on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_puts_an_added_instrument_on_the_board_at_once() {
    let server = FeedServer::start().await;
    for symbol in ["AAPL", "MSFT"] {
        server.set(
            &format!("/api/v1/quote?symbol={symbol}"),
            Reply::feed(include_str!("../fixtures/quotes/finnhub/quote_full.json"))
                .header("content-type", "application/json"),
        );
    }
    let market_at = |provider: &str, base_url: &str, symbols: &str| {
        format!(
            "[market]\nprovider = \"{provider}\"\nbase_url = \"{base_url}\"\napi_key_env = \"TF_TEST_KEY\"\n\
             schedule = \"0 0 0 1 1 *\"\nsymbols = [{symbols}]\n"
        )
    };
    let market = |provider: &str, symbols: &str| market_at(provider, &server.url(""), symbols);
    let asked = |symbol: &str| {
        server
            .seen("/api/v1/quote")
            .iter()
            .any(|s| s.uri.ends_with(&format!("symbol={symbol}")))
    };
    let dir = TestDir::new();
    dir.write_config_only(&market("finnhub", "\"AAPL\""));
    let mut d = Running::start_with(&dir, &[("TF_TEST_KEY", "k")]);
    let addr = d.wait_for_listen();
    d.wait_for("board refreshed");
    assert!(asked("AAPL") && !asked("MSFT"));

    dir.write_config_only(&market("finnhub", "\"AAPL\", \"MSFT\""));
    d.signal("HUP");
    d.wait_for("[market] reloaded");
    d.wait_for("config reloaded");
    let board = board_showing(&addr, "\"MSFT\"", &d).await;
    assert!(board.contains("\"AAPL\""), "{board}");

    dir.write_config_only(&market(
        "finnhub",
        "{ symbol = \"7203\", provider_symbol = \"7203.T\", exchange = \"XTKS\" }",
    ));
    d.signal("HUP");
    d.wait_for("reload refused, keeping the running config: [market] symbol \"7203\": unknown exchange \"XTKS\"");

    // Another provider at another endpoint: asked from now on, with the
    // key, and its price replaces the old provider's on the board.
    let other = FeedServer::start().await;
    other.set(
        "/quote",
        Reply::feed(include_str!(
            "../fixtures/quotes/twelvedata/quote_aapl.json"
        ))
        .header("content-type", "application/json"),
    );
    dir.write_config_only(&market_at("twelvedata", &other.url(""), "\"AAPL\""));
    d.signal("HUP");
    d.wait_for("[market] provider changed");
    // The twelvedata fixture's price.
    let board = board_showing(&addr, "156.89999", &d).await;
    let board: serde_json::Value = serde_json::from_str(&board).unwrap();
    assert_eq!(board["provider"], "twelvedata", "{board}");
    assert!(
        other
            .seen("/quote")
            .iter()
            .any(|s| s.uri.ends_with("symbol=AAPL&apikey=k")),
        "{:?}",
        other.seen("/quote")
    );
    d.signal("TERM");
    assert_eq!(d.wait_exit(), 0, "{}", d.log.join("\n"));
}

/// A reload that adds `[market]` starts the board: `/quotes.json` shows
/// it and items archived from then on carry a snapshot. One that removes
/// it stops the board (the provider is asked no more, `/quotes.json` is
/// 404, new items carry none) and keeps what was archived. No restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_adds_and_removes_the_market() {
    let server = FeedServer::start().await;
    server.set(
        "/api/v1/quote?symbol=AAPL",
        Reply::feed(include_str!("../fixtures/quotes/finnhub/quote_full.json"))
            .header("content-type", "application/json"),
    );
    let news = |items: &[(&str, &str, &str)]| {
        server.set("/news.xml", Reply::feed(rss("News", items)));
    };
    let first = ("n1", "Apple ($AAPL) opens a store", "https://n.test/1");
    let second = ("n2", "Apple ($AAPL) beats estimates", "https://n.test/2");
    let third = ("n3", "Apple ($AAPL) cuts prices", "https://n.test/3");
    news(&[first]);
    let feeds = feed_block(
        "news",
        &server.url("/news.xml"),
        "schedule = \"* * * * * *\"",
    );
    // Asked every second, so a board left running would show.
    let market = format!(
        "[market]\nprovider = \"finnhub\"\nbase_url = \"{}\"\napi_key_env = \"TF_TEST_KEY\"\n\
         schedule = \"* * * * * *\"\nsymbols = [\"AAPL\"]\n",
        server.url("")
    );
    let asked = || server.seen("/api/v1/quote").len();
    let dir = TestDir::new();
    let archived = |guid: &str| {
        dir.db_path().exists()
            && dir.count(&format!("SELECT count(*) FROM items WHERE guid = '{guid}'")) == 1
    };
    let snapshot_of = |guid: &str| {
        dir.count(&format!(
            "SELECT count(*) FROM snapshots s JOIN items i ON i.id = s.item_id WHERE i.guid = '{guid}'"
        ))
    };
    dir.write_config_only(&feeds);
    let mut d = Running::start_with(&dir, &[("TF_TEST_KEY", "k")]);
    let addr = d.wait_for_listen();
    let quotes = || async {
        reqwest::get(format!("http://{addr}/quotes.json"))
            .await
            .unwrap()
            .status()
            .as_u16()
    };
    assert!(eventually(|| archived("n1")).await, "n1 never archived");
    assert_eq!(quotes().await, 404);
    assert_eq!(snapshot_of("n1"), 0);

    dir.write_config_only(&format!("{feeds}{market}"));
    d.signal("HUP");
    d.wait_for("[market] added");
    d.wait_for("config reloaded");
    board_showing(&addr, "\"AAPL\"", &d).await;
    news(&[first, second]);
    assert!(eventually(|| archived("n2")).await, "n2 never archived");
    assert_eq!(snapshot_of("n2"), 1, "{}", d.log.join("\n"));
    assert_eq!(snapshot_of("n1"), 0, "an item archived before keeps none");

    dir.write_config_only(&feeds);
    d.signal("HUP");
    d.wait_for("[market] removed");
    d.wait_for("config reloaded");
    assert_eq!(quotes().await, 404);
    let after = asked();
    news(&[first, second, third]);
    assert!(eventually(|| archived("n3")).await, "n3 never archived");
    assert_eq!(snapshot_of("n3"), 0, "stamped by a removed board");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(asked(), after, "the removed board still asks its provider");
    // What the board archived stays.
    assert_eq!(snapshot_of("n2"), 1);
    assert!(dir.count("SELECT count(*) FROM quotes") > 0);

    d.stop_with_nothing_waiting();
}

/// `/metrics`' board age counts from the reload that added `[market]`,
/// not from the daemon's start: a board set up a moment ago whose provider
/// has not answered yet is not as old as the daemon's run, which paged an
/// operator with an alert on the age the moment they added a market to a
/// daemon running for days. (The prices it shows, seeded from the archive,
/// are marked stale by their own times.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_board_added_by_a_reload_is_as_old_as_the_reload() {
    let server = FeedServer::start().await;
    // No quote path is served: the provider never answers (404).
    server.set(
        "/news.xml",
        Reply::feed(rss("News", &[("n1", "Quiet day", "https://n.test/1")])),
    );
    let feeds = feed_block("news", &server.url("/news.xml"), "schedule = \"@hourly\"");
    let market = format!(
        "[market]\nprovider = \"finnhub\"\nbase_url = \"{}\"\napi_key_env = \"TF_TEST_KEY\"\n\
         schedule = \"@hourly\"\nsymbols = [\"AAPL\"]\n",
        server.url("")
    );
    let dir = TestDir::new();
    dir.write_config_only(&feeds);
    let mut d = Running::start_with(&dir, &[("TF_TEST_KEY", "k")]);
    let addr = d.wait_for_listen();
    // The daemon has run a while when the market is added.
    tokio::time::sleep(Duration::from_secs(3)).await;
    dir.write_config_only(&format!("{feeds}{market}"));
    let reloaded = Instant::now();
    d.signal("HUP");
    d.wait_for("[market] added");
    let metrics = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let since_reload = reloaded.elapsed().as_secs_f64();
    let age: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("tickerfeed_quotes_age_seconds "))
        .unwrap_or_else(|| panic!("no board age in {metrics}"))
        .parse()
        .unwrap();
    assert!(
        age <= since_reload + 0.5,
        "the board reads {age} s old, {since_reload:.1} s after the reload that added it"
    );
    d.signal("TERM");
    assert_eq!(d.wait_exit(), 0, "{}", d.log.join("\n"));
}

/// `/healthz` says how old the board is as `/metrics` does: while its
/// provider has never answered, since the board was set up, a number that
/// grows; it was `null` until the first quote, so a monitor of `age_secs`
/// never saw a provider that had been silent since the start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_counts_the_age_of_a_board_whose_provider_never_answered() {
    let server = FeedServer::start().await;
    // No quote path is served: the provider never answers (404).
    server.set(
        "/news.xml",
        Reply::feed(rss("News", &[("n1", "Quiet day", "https://n.test/1")])),
    );
    let dir = TestDir::new();
    dir.write_config_only(&format!(
        "{}[market]\nprovider = \"finnhub\"\nbase_url = \"{}\"\napi_key_env = \"TF_TEST_KEY\"\n\
         schedule = \"@hourly\"\nsymbols = [\"AAPL\"]\n",
        feed_block("news", &server.url("/news.xml"), "schedule = \"@hourly\""),
        server.url("")
    ));
    let mut d = Running::start_with(&dir, &[("TF_TEST_KEY", "k")]);
    let addr = d.wait_for_listen();
    let age = || async {
        let body = reqwest::get(format!("http://{addr}/healthz"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let h: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(h["board"]["last_success"], serde_json::Value::Null, "{h}");
        h["board"]["age_secs"]
            .as_i64()
            .unwrap_or_else(|| panic!("no board age in {h}"))
    };
    let first = age().await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let later = age().await;
    assert!(later > first, "{first} s, then {later} s two seconds later");
    d.signal("TERM");
    assert_eq!(d.wait_exit(), 0, "{}", d.log.join("\n"));
}

/// Retention tightened by a reload runs at once: the operator who lowers
/// `max_items_per_feed` sees the archive shrink now, not at the next daily
/// run or restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_that_tightens_retention_prunes_at_once() {
    let server = FeedServer::start().await;
    server.set(
        "/a.xml",
        Reply::feed(rss(
            "A",
            &[
                ("a1", "One", "https://a.test/1"),
                ("a2", "Two", "https://a.test/2"),
                ("a3", "Three", "https://a.test/3"),
            ],
        )),
    );
    let feed = feed_block("a", &server.url("/a.xml"), "schedule = \"@hourly\"");
    let dir = TestDir::new();
    dir.write_config_only(&feed);
    let mut d = Running::start(&dir);
    d.wait_for("tickerfeed running");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !dir.db_path().exists() || dir.count("SELECT count(*) FROM items") < 3 {
        assert!(Instant::now() < deadline, "the first poll never archived");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    dir.write_config_only(&format!("[storage]\nmax_items_per_feed = 1\n{feed}"));
    d.signal("HUP");
    d.wait_for("config reloaded");
    d.wait_for("retention: deleted old items");
    assert_eq!(dir.count("SELECT count(*) FROM items"), 1);
    assert_eq!(dir.count("SELECT count(*) FROM tombstones"), 2);
    d.signal("TERM");
    d.wait_exit();
}

/// A reload sent the moment the daemon says it is running is taken, not
/// fatal: SIGHUP's default action ends a process, so the handler must be
/// in place before "tickerfeed running" (and READY=1) go out. (The window
/// grew with the tasks started after that line, and an export test's
/// reload killed the daemon on a loaded machine.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_right_after_start_is_taken() {
    let dir = TestDir::new();
    dir.write_config_only("");
    let mut d = Running::start(&dir);
    d.wait_for("tickerfeed running");
    d.signal("HUP");
    d.wait_for("config reloaded");
    d.signal("TERM");
    assert_eq!(d.wait_exit(), 0, "{}", d.log.join("\n"));
}

/// What waits for a restart is compared with what the daemon started with,
/// not with the config the last reload loaded: a changed `[log] level` is
/// reported at every reload until the restart, and a reload that puts it
/// back says nothing. (It used to say it once, then nothing while the change
/// still waited, then that the undoing would take effect at the restart.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_only_changes_are_reported_against_the_running_config() {
    let dir = TestDir::new();
    dir.write_config_only("");
    let mut d = Running::start(&dir);
    d.wait_for("tickerfeed running");
    let warning = "[log] level changed: it takes effect at the next restart";
    let reload = |d: &mut Running, config: &str| -> Vec<String> {
        dir.write_config_only(config);
        let from = d.log.len();
        d.signal("HUP");
        d.wait_for("config reloaded");
        d.log[from..].to_vec()
    };

    let debug = "[log]\nlevel = \"debug\"\n";
    let first = reload(&mut d, debug);
    assert!(first.iter().any(|l| l.contains(warning)), "{first:#?}");
    // Another reload before the restart: the change still waits.
    let again = reload(&mut d, &format!("[web]\ntitle = \"Other\"\n{debug}"));
    assert!(again.iter().any(|l| l.contains(warning)), "{again:#?}");
    // Put back as the daemon runs it: nothing waits any more.
    let undone = reload(&mut d, "");
    assert!(
        !undone.iter().any(|l| l.contains("next restart")),
        "{undone:#?}"
    );

    d.signal("TERM");
    assert_eq!(d.wait_exit(), 0, "{}", d.log.join("\n"));
}

/// A reload that moves the archive and tightens retention says that the
/// path waits for the restart, not all of `[storage]`: the retention is
/// applied at once, in the same reload.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_moved_archive_is_named_as_what_waits_for_the_restart() {
    let dir = TestDir::new();
    dir.write_config_only("");
    let mut d = Running::start(&dir);
    d.wait_for("tickerfeed running");
    dir.write_config_only("[storage]\npath = \"elsewhere.db\"\nmax_items_per_feed = 5\n");
    let from = d.log.len();
    d.signal("HUP");
    d.wait_for("config reloaded");
    let lines = &d.log[from..];
    assert!(
        lines
            .iter()
            .any(|l| l.contains("[storage] path changed: it takes effect at the next restart")),
        "{lines:#?}"
    );
    d.signal("TERM");
    assert_eq!(d.wait_exit(), 0, "{}", d.log.join("\n"));
}

/// The reload's log line names the feeds it added and removed (counts, and
/// up to five names, then how many more), so an operator sees at a
/// glance that the edit took, not only "feeds=206".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reload_line_names_the_feeds_added_and_removed() {
    let feeds = |names: &[&str]| -> String {
        names
            .iter()
            .map(|n| {
                feed_block(
                    n,
                    &format!("https://{n}.test/f.xml"),
                    "schedule = \"@yearly\"",
                )
            })
            .collect()
    };
    let dir = TestDir::new();
    dir.write_config_only(&feeds(&["wire", "markets", "energy"]));
    let mut d = Running::start(&dir);
    d.wait_for("tickerfeed running");
    let added: Vec<String> = (1..=7).map(|i| format!("desk-{i}")).collect();
    let mut after: Vec<&str> = vec!["markets", "energy"];
    after.extend(added.iter().map(String::as_str));
    dir.write_config_only(&feeds(&after));
    d.signal("HUP");
    let line = d.wait_for("config reloaded");
    for said in [
        "feeds=9",
        "added=7",
        "removed=1",
        "added_feeds=\"desk-1, desk-2, desk-3, desk-4, desk-5 and 2 more\"",
        "removed_feeds=\"wire\"",
    ] {
        assert!(line.contains(said), "{said}: {line}");
    }
    d.signal("TERM");
    assert_eq!(d.wait_exit(), 0, "{}", d.log.join("\n"));
}
