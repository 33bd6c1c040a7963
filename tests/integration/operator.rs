//! What the operator sees at 3 a.m. when something outside the daemon
//! goes wrong: a reload of a config that does not load, an archive that
//! takes no writes. Each is the real binary, its log, `/healthz` and
//! `/metrics`, and what the archive holds once the fault is mended.

use std::time::Duration;

use crate::process::{Running, one_hourly_feed};
use crate::util::*;

async fn get(addr: &str, path: &str) -> String {
    reqwest::get(format!("http://{addr}{path}"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

async fn health(addr: &str) -> serde_json::Value {
    serde_json::from_str(&get(addr, "/healthz").await).unwrap()
}

/// A reload of a config with a mistake in it is refused, naming the file,
/// the line and the key, and the daemon keeps the config it has. Until a
/// reload is taken, `/healthz` and `/metrics` say that the daemon does not
/// run the file's config: a monitor sees it before the next restart fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_reload_names_the_mistake_and_monitors_see_the_old_config_runs() {
    let (_server, dir) = one_hourly_feed().await;
    let good = std::fs::read_to_string(dir.config_path()).unwrap();
    let mut d = Running::start(&dir);
    let addr = d.wait_for_listen();
    d.wait_for("polled");

    std::fs::write(
        dir.config_path(),
        good.replace("max_items = 50", "max_items = \"fifty\""),
    )
    .unwrap();
    d.signal("HUP");
    d.wait_for("reload refused, keeping the running config");
    let problem = d.wait_for("output.max_items");
    let config = dir.config_path().display().to_string();
    assert!(problem.contains(&format!("{config}:6:")), "{problem}");

    let h = health(&addr).await;
    // The daemon still serves what it has: refusing a reload is no fault.
    assert_eq!(h["status"], "ok", "{h}");
    assert_eq!(h["config"]["reload_refused"], true, "{h}");
    let why = h["config"]["reload_error"].as_str().unwrap();
    assert!(
        why.contains(&config) && why.contains("output.max_items"),
        "{why}"
    );
    let metrics = get(&addr, "/metrics").await;
    assert!(
        metrics.contains("tickerfeed_config_last_reload_successful 0"),
        "{metrics}"
    );
    assert!(get(&addr, "/feed.atom").await.contains("Alpha"));

    std::fs::write(dir.config_path(), &good).unwrap();
    d.signal("HUP");
    d.wait_for("config reloaded");
    assert_eq!(health(&addr).await["config"]["reload_refused"], false);
    assert!(
        get(&addr, "/metrics")
            .await
            .contains("tickerfeed_config_last_reload_successful 1")
    );
    d.signal("TERM");
    assert_eq!(d.wait_exit(), 0, "{}", d.log.join("\n"));
}

/// The archive stops taking writes (its disk is full; a trigger stands in
/// for ENOSPC, which needs root to arrange): each poll that cannot be
/// written says so with the archive's path and the reason, `/healthz` is
/// degraded and says why, `/metrics` has it. Nothing fetched meanwhile is
/// lost: the feed's new validator was not stored either, so once writes
/// pass again the document is fetched whole and its new item archived.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_archive_that_takes_no_writes_is_named_and_loses_nothing() {
    let server = FeedServer::start().await;
    let alpha = ("a1", "Alpha", "https://a.test/1");
    server.set(
        "/a.xml",
        Reply::feed(rss("A", &[alpha])).with_etag("\"v1\""),
    );
    let dir = TestDir::new();
    dir.write_config(&feed_block(
        "a",
        &server.url("/a.xml"),
        "schedule = \"* * * * * *\"",
    ));
    let mut d = Running::start(&dir);
    let addr = d.wait_for_listen();
    d.wait_for("polled");

    let rw = rusqlite::Connection::open(dir.db_path()).unwrap();
    // The search index's writes fail too, and go on failing after the
    // polls' pass again.
    rw.execute_batch(
        "CREATE TRIGGER disk_full BEFORE INSERT ON fetches
         BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END;
         CREATE TRIGGER index_full BEFORE DELETE ON fts_pending
         BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END;",
    )
    .unwrap();
    server.set(
        "/a.xml",
        Reply::feed(rss("A", &[alpha, ("a2", "Beta", "https://a.test/2")])).with_etag("\"v2\""),
    );
    let line = d.wait_for("could not be written to the archive");
    let archive = dir.db_path().display().to_string();
    assert!(
        line.contains(&archive) && line.contains("database or disk is full"),
        "{line}"
    );
    let h = health(&addr).await;
    assert_eq!(h["status"], "degraded", "{h}");
    let why = h["reason"].as_str().unwrap();
    assert!(
        why.contains("cannot be written to the archive") && why.contains("disk is full"),
        "{why}"
    );
    assert_eq!(h["archive"]["writable"], false, "{h}");
    assert!(
        get(&addr, "/metrics")
            .await
            .contains("tickerfeed_archive_writable 0")
    );

    // Space returns, for polls first.
    rw.execute_batch("DROP TRIGGER disk_full").unwrap();
    d.wait_for("the archive takes writes again");
    assert!(
        eventually(|| dir.titles() == ["Alpha", "Beta"]).await,
        "{:?}",
        dir.titles()
    );
    let h = health(&addr).await;
    assert_eq!(h["status"], "ok", "{h}");
    assert!(
        get(&addr, "/metrics")
            .await
            .contains("tickerfeed_archive_writable 1")
    );

    // Indexing for search, retried every 2 s, says it fails once, not at
    // every retry (1,800 lines an hour), and says when it works again.
    d.wait_for("could not index new items for search");
    tokio::time::sleep(Duration::from_secs(5)).await;
    rw.execute_batch("DROP TRIGGER index_full").unwrap();
    d.wait_for("indexed for search again");
    let failures = d
        .log
        .iter()
        .filter(|l| l.contains("could not index new items for search"))
        .count();
    assert_eq!(failures, 1, "{}", d.log.join("\n"));
    d.signal("TERM");
    assert_eq!(d.wait_exit(), 0, "{}", d.log.join("\n"));
}

/// Under a file size limit (`ulimit -f`, systemd's `LimitFSIZE=`) a write
/// past it raised SIGXFSZ, which killed the daemon with nothing in its log,
/// at every restart again. Now such a write fails like one to a full disk:
/// the daemon stays up, names the archive, says it is degraded, and the
/// archive stays intact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_size_limit_is_a_full_disk_not_a_silent_death() {
    let server = FeedServer::start().await;
    let big = "x".repeat(20_000);
    server.set(
        "/a.xml",
        Reply::feed(rss_of(100, |i| format!("Item {i} {big}"))),
    );
    let dir = TestDir::new();
    dir.write_config(&feed_block(
        "a",
        &server.url("/a.xml"),
        "schedule = \"* * * * * *\"",
    ));
    // A fresh archive is well under 1 MB; the feed's 2 MB of items are not.
    let mut limited = std::process::Command::new("python3");
    limited
        .args([
            "-c",
            // Python ignores SIGXFSZ itself, and an ignored signal stays
            // ignored across exec: the daemon gets the default, as from
            // systemd or a shell.
            "import os, resource, signal, sys\n\
             resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))\n\
             signal.signal(signal.SIGXFSZ, signal.SIG_DFL)\n\
             os.execv(sys.argv[1], sys.argv[1:])",
        ])
        .arg(env!("CARGO_BIN_EXE_tickerfeed"))
        .arg("--config")
        .arg(dir.config_path())
        .arg("run");
    let mut d = Running::spawn(limited, &[]);
    let addr = d.wait_for_listen();
    let line = d.wait_for("could not be written to the archive");
    assert!(
        line.contains(&dir.db_path().display().to_string()),
        "{line}"
    );
    // SQLite's cause once, not again behind its result code ("disk I/O
    // error: Error code 778: disk I/O error").
    assert_eq!(line.matches("disk I/O error").count(), 1, "{line}");
    assert!(!line.contains("Error code"), "{line}");
    let h = health(&addr).await;
    assert_eq!(h["status"], "degraded", "{h}");
    assert_eq!(h["archive"]["writable"], false, "{h}");
    d.signal("TERM");
    assert_eq!(d.wait_exit(), 0, "{}", d.log.join("\n"));
    let integrity: String = dir
        .db()
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(integrity, "ok");
}
