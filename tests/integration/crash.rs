//! Crash safety: `kill -9` the real binary at many points during a poll,
//! then restart: no duplicate items, no lost items, no corrupt archive.

use std::time::Duration;

use crate::util::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_at_random_points_loses_and_duplicates_nothing() {
    const FEEDS: usize = 30;
    const ITEMS: usize = 30;
    let server = FeedServer::start().await;
    let dir = TestDir::new();
    let mut feeds = String::new();
    for f in 0..FEEDS {
        let items: Vec<(String, String, String)> = (0..ITEMS)
            .map(|i| {
                // Every third article is in every feed, so cross-feed
                // merges are interrupted too.
                let owner = if i % 3 == 0 {
                    "all".to_string()
                } else {
                    f.to_string()
                };
                (
                    format!("https://crash.test/{owner}/{i}"),
                    format!("Story {owner}-{i}"),
                    format!("https://crash.test/{owner}/{i}"),
                )
            })
            .collect();
        let refs: Vec<(&str, &str, &str)> = items
            .iter()
            .map(|(a, b, c)| (a.as_str(), b.as_str(), c.as_str()))
            .collect();
        let path = format!("/f{f}.xml");
        server.set(&path, Reply::feed(rss(&format!("Feed {f}"), &refs)));
        feeds.push_str(&feed_block(&format!("f{f}"), &server.url(&path), ""));
    }
    dir.write_config(&feeds);
    let cfg = dir.config_path();

    // A fixed pseudo-random sequence of kill points (xorshift), so a
    // failure can be reproduced.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut kills = 0;
    for _ in 0..25 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let after = Duration::from_millis(x % 400);
        let cfg = cfg.clone();
        let finished = tokio::task::spawn_blocking(move || {
            let mut child = bin()
                .arg("--config")
                .arg(&cfg)
                .arg("poll")
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap();
            std::thread::sleep(after);
            let done = child.try_wait().unwrap().is_some();
            // SIGKILL: no chance to clean up.
            let _ = child.kill();
            let _ = child.wait();
            done
        })
        .await
        .unwrap();
        if !finished {
            kills += 1;
        }
        // Forget the validators and body hashes so every pass re-ingests.
        let rw = rusqlite::Connection::open(dir.db_path());
        if let Ok(rw) = rw {
            let _ = rw.execute(
                "UPDATE feeds SET body_sha256 = NULL, etag = NULL, last_modified = NULL",
                [],
            );
        }
    }
    assert!(
        kills >= 10,
        "only {kills} runs were killed mid-poll; the test proves little"
    );

    // A full poll after all that.
    let out = tokio::task::spawn_blocking(move || {
        bin()
            .arg("--config")
            .arg(&cfg)
            .arg("poll")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    assert_eq!(dir.integrity(), "ok");
    // Every article once: each feed's own two thirds, plus the shared third
    // once; each item credited to every feed that lists it.
    let shared = ITEMS.div_ceil(3);
    assert_eq!(
        dir.count("SELECT count(*) FROM items"),
        (FEEDS * (ITEMS - shared) + shared) as i64
    );
    assert_eq!(
        dir.count(
            "SELECT count(*) FROM (SELECT canonical_url FROM items GROUP BY 1 HAVING count(*) > 1)"
        ),
        0
    );
    assert_eq!(
        dir.count("SELECT count(*) FROM item_sources"),
        (FEEDS * ITEMS) as i64
    );
    assert_eq!(
        dir.count("SELECT count(*) FROM (SELECT feed_id FROM item_sources GROUP BY 1 HAVING count(*) = 30)"),
        FEEDS as i64
    );
}
