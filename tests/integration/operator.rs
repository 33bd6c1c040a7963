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

/// The value of `/metrics`' sample `name` (a HELP line starts alike).
async fn sample(addr: &str, name: &str) -> String {
    let metrics = get(addr, "/metrics").await;
    let prefix = format!("{name} ");
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no {name} in {metrics}"))
        .to_string()
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
    assert_eq!(
        sample(&addr, "tickerfeed_config_last_reload_successful").await,
        "0"
    );
    assert!(get(&addr, "/feed.atom").await.contains("Alpha"));

    std::fs::write(dir.config_path(), &good).unwrap();
    d.signal("HUP");
    d.wait_for("config reloaded");
    assert_eq!(health(&addr).await["config"]["reload_refused"], false);
    assert_eq!(
        sample(&addr, "tickerfeed_config_last_reload_successful").await,
        "1"
    );
    d.signal("TERM");
    assert_eq!(d.wait_exit(), 0, "{}", d.log.join("\n"));
}

/// The archive stops taking writes (its disk is full; a file size limit of
/// one byte, set on the running daemon, stands in for ENOSPC, which needs
/// root to arrange): each poll that cannot be written says so with the
/// archive's path and the reason in plain words, as a refused start does
/// (SQLite says only "disk I/O error"), `/healthz` is degraded and says
/// why, `/metrics` has it. Nothing fetched meanwhile is lost: the feed's new
/// validator was not stored either, so once writes pass again the document
/// is fetched whole and its new item archived. A write that fails for its
/// own reason (a constraint: here the search index's) is no archive that
/// takes no writes.
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

    d.limit_file_size("1");
    server.set(
        "/a.xml",
        Reply::feed(rss("A", &[alpha, ("a2", "Beta", "https://a.test/2")])).with_etag("\"v2\""),
    );
    let line = d.wait_for("could not be written to the archive");
    let archive = dir.db_path().display().to_string();
    let limit = format!(
        "cannot write to the archive {archive}: this process may write no file past 1 bytes (a file size limit"
    );
    assert!(
        line.contains(&limit)
            && line.contains("raise or remove the limit")
            && line.contains("disk I/O error"),
        "{line}"
    );
    let h = health(&addr).await;
    assert_eq!(h["status"], "degraded", "{h}");
    let why = h["reason"].as_str().unwrap();
    assert!(
        why.contains("the archive cannot be written to") && why.contains(&limit),
        "{why}"
    );
    assert_eq!(h["archive"]["writable"], false, "{h}");
    // The archive named, why in plain words, SQLite's cause once.
    let error = h["archive"]["write_error"].as_str().unwrap();
    assert!(error.starts_with(&limit), "{error}");
    assert_eq!(error.matches("disk I/O error").count(), 1, "{error}");
    assert_eq!(sample(&addr, "tickerfeed_archive_writable").await, "0");

    // The search index's writes will fail, for a reason of their own.
    let rw = rusqlite::Connection::open(dir.db_path()).unwrap();
    rw.execute_batch(
        "CREATE TRIGGER index_full BEFORE DELETE ON fts_pending
         BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END;",
    )
    .unwrap();
    // Space returns.
    d.limit_file_size("unlimited");
    d.wait_for("the archive takes writes again");
    assert!(
        eventually(|| dir.titles() == ["Alpha", "Beta"]).await,
        "{:?}",
        dir.titles()
    );
    let h = health(&addr).await;
    assert_eq!(h["status"], "ok", "{h}");
    assert_eq!(sample(&addr, "tickerfeed_archive_writable").await, "1");

    // Indexing for search, retried every 2 s, says it fails once, not at
    // every retry (1,800 lines an hour), and says when it works again.
    // Its failure is no archive that takes no writes: polls still pass.
    d.wait_for("could not index new items for search");
    tokio::time::sleep(Duration::from_secs(5)).await;
    let h = health(&addr).await;
    assert_eq!(h["status"], "ok", "{h}");
    assert_eq!(h["archive"]["writable"], true, "{h}");
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

/// The daemon after one poll, its archive file changed under it by
/// `change`: `/healthz` is degraded within a few seconds, naming the path
/// and what happened (`what`), the log says so at error, and the archive
/// is reported as taking no writes.
async fn archive_changed_under_the_daemon(change: impl FnOnce(&TestDir), what: &str) {
    let (_server, dir) = one_hourly_feed().await;
    let mut d = Running::start(&dir);
    let addr = d.wait_for_listen();
    d.wait_for("polled");

    change(&dir);
    let said = format!(
        "the archive file {} was {what} under the daemon: restart it",
        dir.db_path().display()
    );
    // The archive is checked every 2 s.
    let mut h = health(&addr).await;
    for _ in 0..50 {
        if h["status"] != "ok" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        h = health(&addr).await;
    }
    assert_eq!(h["status"], "degraded", "{h}");
    assert!(h["reason"].as_str().unwrap().contains(&said), "{h}");
    assert_eq!(h["archive"]["writable"], false, "{h}");
    assert_eq!(sample(&addr, "tickerfeed_archive_writable").await, "0");
    let line = d.wait_for(&said);
    assert!(line.contains("ERROR"), "{line}");
    d.signal("TERM");
    d.wait_exit();
}

/// Review s29: the data folder's archive deleted under the running daemon
/// (`rm -r`) went unseen: it wrote on to the deleted file, lost at exit,
/// while `/healthz` said ok.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_archive_deleted_under_the_daemon_is_reported() {
    archive_changed_under_the_daemon(
        |dir| {
            for suffix in ["", "-wal", "-shm"] {
                let mut file = dir.db_path().into_os_string();
                file.push(suffix);
                std::fs::remove_file(file).unwrap();
            }
        },
        "deleted",
    )
    .await;
}

/// Review s29: a backup restored over the running daemon's archive (`mv
/// backup.db tickerfeed.db`) is reported too; the daemon does not write
/// on to the file it replaced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_archive_replaced_under_the_daemon_is_reported() {
    archive_changed_under_the_daemon(
        |dir| {
            let backup = dir.path().join("backup.db");
            dir.db()
                .execute("VACUUM INTO ?1", [backup.to_str().unwrap()])
                .unwrap();
            std::fs::rename(&backup, dir.db_path()).unwrap();
        },
        "replaced by another file",
    )
    .await;
}

/// Whether the archive takes writes is the writer's state, not the last
/// poll's: with the feed polled hourly, the board's quotes are what finds
/// the archive refusing writes, and what finds it taking them again, and
/// `/healthz` and `/metrics` follow them. (It cleared only at the next
/// recorded poll, an hour later.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_write_that_commits_says_the_archive_takes_writes_again() {
    let server = FeedServer::start().await;
    server.set(
        "/a.xml",
        Reply::feed(rss("A", &[("a1", "Alpha", "https://a.test/1")])),
    );
    server.set(
        "/api/v1/quote?symbol=AAPL",
        Reply::feed(include_str!("../fixtures/quotes/finnhub/quote_full.json"))
            .header("content-type", "application/json"),
    );
    let dir = TestDir::new();
    dir.write_config_only(&format!(
        "{}[market]\nprovider = \"finnhub\"\nbase_url = \"{}\"\napi_key_env = \"TF_TEST_KEY\"\n\
         schedule = \"*/2 * * * * *\"\nsymbols = [\"AAPL\"]\n",
        feed_block("a", &server.url("/a.xml"), "schedule = \"@hourly\""),
        server.url("")
    ));
    let mut d = Running::start_with(&dir, &[("TF_TEST_KEY", "k")]);
    let addr = d.wait_for_listen();
    d.wait_for("polled");
    d.wait_for("board refreshed");

    d.limit_file_size("1");
    let writable = |want: bool| {
        let addr = addr.clone();
        async move {
            let want = u8::from(want).to_string();
            for _ in 0..100 {
                if sample(&addr, "tickerfeed_archive_writable").await == want {
                    return true;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            false
        }
    };
    let line = d.wait_for("could not archive quotes");
    assert!(
        line.contains("disk I/O error") && line.contains("(a file size limit"),
        "{line}"
    );
    assert!(writable(false).await);
    let h = health(&addr).await;
    assert_eq!(h["status"], "degraded", "{h}");
    assert_eq!(h["archive"]["writable"], false, "{h}");

    d.limit_file_size("unlimited");
    d.wait_for("the archive takes writes again");
    assert!(writable(true).await);
    let h = health(&addr).await;
    assert_eq!(h["status"], "ok", "{h}");
    let polls = d.log.iter().filter(|l| l.contains("polled")).count();
    assert_eq!(polls, 1, "{}", d.log.join("\n"));
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
    // And why, in plain words: the limit, not the disk.
    assert!(
        line.contains("this process may write no file past 1048576 bytes (a file size limit"),
        "{line}"
    );
    let h = health(&addr).await;
    assert_eq!(h["status"], "degraded", "{h}");
    assert_eq!(h["archive"]["writable"], false, "{h}");
    d.signal("TERM");
    assert_eq!(d.wait_exit(), 0, "{}", d.log.join("\n"));
    assert_eq!(dir.integrity(), "ok");
}

/// Started on a disk that takes no writes (a file size limit of one byte
/// stands in for a full one), the daemon does not start: it names the
/// archive, says why in plain words and what to do, and exits non-zero,
/// so systemd sees a failed start. It said "disk I/O error" and no more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_on_a_disk_that_takes_no_writes_says_why_and_fails() {
    let dir = TestDir::new();
    dir.write_config(&feed_block(
        "a",
        "http://127.0.0.1:9/a.xml",
        "schedule = \"@hourly\"",
    ));
    let mut limited = std::process::Command::new("prlimit");
    limited
        .arg("--fsize=1:unlimited")
        .arg(env!("CARGO_BIN_EXE_tickerfeed"))
        .arg("--config")
        .arg(dir.config_path())
        .arg("run");
    let mut d = Running::spawn(limited, &[]);
    assert_eq!(d.wait_exit(), 1, "{}", d.log.join("\n"));
    let log = d.log.join("\n");
    assert!(
        log.contains(&format!(
            "cannot write to the archive {}: this process may write no file past 1 bytes (a file size limit",
            dir.db_path().display()
        )) && log.contains("raise or remove the limit"),
        "{log}"
    );
    assert_eq!(log.matches("disk I/O error").count(), 1, "{log}");
}
