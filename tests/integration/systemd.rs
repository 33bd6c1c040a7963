//! systemd notifications, sent in-process to a real Unix datagram socket in
//! a temp dir that stands in for the manager's `$NOTIFY_SOCKET`.
//!
//! Each test binds its own socket and builds its `Notifier` with that path,
//! never through the environment, so tests run in parallel safely. Socket
//! activation (`systemd::listen_fds`) is not tested here: it needs fd 3,
//! which the test harness may already use; the real binary is tested under
//! socket activation instead.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tempfile::TempDir;
use tickerfeed::systemd::{self, Notifier, NotifyError};
use tokio::net::UnixDatagram;
use tokio_util::sync::CancellationToken;

/// A stand-in for systemd's notify socket.
struct Manager {
    _dir: TempDir,
    path: PathBuf,
    sock: UnixDatagram,
}

impl Manager {
    fn new() -> Manager {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let sock = UnixDatagram::bind(&path).unwrap();
        Manager {
            _dir: dir,
            path,
            sock,
        }
    }

    fn notifier(&self) -> Notifier {
        Notifier::new(Some(self.path.clone()))
    }

    /// The next datagram, as text.
    async fn recv(&self) -> String {
        let mut buf = vec![0u8; 4096];
        let n = tokio::time::timeout(Duration::from_secs(5), self.sock.recv(&mut buf))
            .await
            .expect("no notification within 5 s")
            .unwrap();
        String::from_utf8(buf[..n].to_vec()).unwrap()
    }
}

#[tokio::test]
async fn lifecycle_messages_arrive_in_order() {
    let m = Manager::new();
    let n = m.notifier();
    assert!(n.is_enabled());

    n.ready().unwrap();
    n.status("3 feeds, 120 items, last poll 2026-11-24T09:00:00Z")
        .unwrap();
    n.watchdog_ping().unwrap();
    n.reloading().unwrap();
    n.ready().unwrap();
    n.stopping().unwrap();

    assert_eq!(m.recv().await, "READY=1\n");
    assert_eq!(
        m.recv().await,
        "STATUS=3 feeds, 120 items, last poll 2026-11-24T09:00:00Z\n"
    );
    assert_eq!(m.recv().await, "WATCHDOG=1\n");
    assert!(m.recv().await.starts_with("RELOADING=1\nMONOTONIC_USEC="));
    assert_eq!(m.recv().await, "READY=1\n");
    assert_eq!(m.recv().await, "STOPPING=1\n");
}

#[tokio::test]
async fn reloading_carries_the_monotonic_clock() {
    let m = Manager::new();
    let now = || match sd_notify::NotifyState::monotonic_usec_now().unwrap() {
        sd_notify::NotifyState::MonotonicUsec(us) => us,
        other => panic!("unexpected {other:?}"),
    };
    let before = now();
    m.notifier().reloading().unwrap();
    let after = now();

    let msg = m.recv().await;
    let usec: i128 = msg
        .lines()
        .find_map(|l| l.strip_prefix("MONOTONIC_USEC="))
        .unwrap_or_else(|| panic!("no MONOTONIC_USEC in {msg:?}"))
        .parse()
        .unwrap();
    // systemd compares it with its own CLOCK_MONOTONIC reading of the
    // reload request, so it must be that clock, not wall time.
    assert!(
        (before..=after).contains(&usec),
        "{before} <= {usec} <= {after}"
    );
}

#[tokio::test]
async fn status_text_cannot_add_assignments() {
    let m = Manager::new();
    m.notifier()
        .status("title from a feed\nREADY=1\nMAINPID=1")
        .unwrap();
    assert_eq!(
        m.recv().await,
        "STATUS=title from a feed READY=1 MAINPID=1\n"
    );
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn abstract_namespace_socket() {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::net::SocketAddr;

    let name = format!("tickerfeed-test-{}-abstract", std::process::id());
    let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    let std_sock = std::os::unix::net::UnixDatagram::bind_addr(&addr).unwrap();
    std_sock.set_nonblocking(true).unwrap();
    let sock = UnixDatagram::from_std(std_sock).unwrap();

    Notifier::new(Some(PathBuf::from(format!("@{name}"))))
        .ready()
        .unwrap();

    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(Duration::from_secs(5), sock.recv(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&buf[..n], b"READY=1\n");
}

#[tokio::test]
async fn without_a_manager_every_call_is_a_quiet_no_op() {
    let n = Notifier::new(None);
    assert!(!n.is_enabled());
    n.ready().unwrap();
    n.status("anything").unwrap();
    n.watchdog_ping().unwrap();
    n.reloading().unwrap();
    n.stopping().unwrap();
    assert!(Notifier::default().ready().is_ok());
}

#[tokio::test]
async fn a_vanished_manager_is_an_error_naming_the_socket() {
    let m = Manager::new();
    let gone = m.path.with_file_name("gone");
    let err = Notifier::new(Some(gone.clone())).ready().unwrap_err();
    assert!(matches!(err, NotifyError::Send { .. }), "{err:?}");
    assert!(
        err.to_string().contains(&gone.display().to_string()),
        "{err}"
    );
}

/// A health check that answers from a script, one entry per call; calls
/// past the end repeat the last entry.
fn scripted(
    script: Vec<Result<&'static str, &'static str>>,
) -> (
    Arc<AtomicUsize>,
    impl FnMut() -> std::future::Ready<Result<String, String>>,
) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&calls);
    let check = move || {
        let i = counter.fetch_add(1, Ordering::SeqCst);
        let answer = script[i.min(script.len() - 1)];
        std::future::ready(answer.map(str::to_string).map_err(str::to_string))
    };
    (calls, check)
}

#[tokio::test]
async fn supervise_pings_the_watchdog_only_while_healthy() {
    let m = Manager::new();
    let notifier = m.notifier().with_watchdog(Some(Duration::from_millis(200)));
    let (_calls, check) = scripted(vec![
        Ok("2 feeds, 10 items"),
        Err("database does not answer"),
        Ok("2 feeds, 11 items"),
    ]);
    let stop = CancellationToken::new();
    let task = tokio::spawn(systemd::supervise(notifier, check, stop.clone()));

    assert_eq!(m.recv().await, "WATCHDOG=1\nSTATUS=2 feeds, 10 items\n");
    assert_eq!(
        m.recv().await,
        "STATUS=unhealthy: database does not answer\n"
    );
    assert_eq!(m.recv().await, "WATCHDOG=1\nSTATUS=2 feeds, 11 items\n");

    stop.cancel();
    // A ping may have been in flight when we cancelled; STOPPING=1 comes
    // last either way.
    let last = loop {
        let msg = m.recv().await;
        if !msg.starts_with("WATCHDOG=1\n") {
            break msg;
        }
    };
    assert!(last.starts_with("STOPPING=1\nSTATUS=stopping"), "{last:?}");
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("supervise did not return after shutdown")
        .unwrap();
}

#[tokio::test]
async fn supervise_without_a_watchdog_only_reports_status() {
    let m = Manager::new();
    let (_calls, check) = scripted(vec![Ok("1 feed, 0 items, no poll yet")]);
    let stop = CancellationToken::new();
    let task = tokio::spawn(systemd::supervise(m.notifier(), check, stop.clone()));

    assert_eq!(m.recv().await, "STATUS=1 feed, 0 items, no poll yet\n");
    stop.cancel();
    assert!(m.recv().await.starts_with("STOPPING=1\n"));
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn supervise_treats_a_hung_check_as_unhealthy() {
    let m = Manager::new();
    let notifier = m.notifier().with_watchdog(Some(Duration::from_millis(200)));
    // A database stuck behind a lock: the check never answers.
    let check = std::future::pending::<Result<String, String>>;
    let stop = CancellationToken::new();
    let task = tokio::spawn(systemd::supervise(notifier, check, stop.clone()));

    let msg = m.recv().await;
    assert!(
        msg.starts_with("STATUS=unhealthy: health check did not answer"),
        "{msg:?}"
    );
    assert!(!msg.contains("WATCHDOG=1"), "{msg:?}");
    // Shutdown is not held up by the hung check.
    stop.cancel();
    assert!(m.recv().await.starts_with("STOPPING=1\n"));
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn supervise_does_nothing_outside_systemd() {
    let (calls, check) = scripted(vec![Ok("unused")]);
    let notifier = Notifier::new(None).with_watchdog(Some(Duration::from_millis(10)));
    // Returns at once, without waiting for shutdown and without running
    // (and paying for) a single health check.
    tokio::time::timeout(
        Duration::from_secs(1),
        systemd::supervise(notifier, check, CancellationToken::new()),
    )
    .await
    .expect("supervise waited although there is no manager");
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

/// Issue 15, defect 2, as systemd sees it: a daemon whose every feed fails
/// keeps pinging the watchdog (a restart would not make the feeds answer)
/// and says `degraded` with the counts on its status line, like `/healthz`.
#[tokio::test]
async fn a_daemon_whose_feeds_all_fail_pings_and_says_degraded() {
    use crate::util::{FeedServer, Reply, TestDir, feed_block, fixed_clock};

    let server = FeedServer::start().await;
    server.set("/broken.xml", Reply::status(500));
    let dir = TestDir::new();
    let config = dir.write_config(&feed_block("broken", &server.url("/broken.xml"), ""));
    let (_c, clock) = fixed_clock("2026-11-24T09:00:00Z");
    let opened = tickerfeed::app::open(&config, clock.clone()).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let m = Manager::new();
    let notifier = m.notifier().with_watchdog(Some(Duration::from_millis(200)));
    let stop = CancellationToken::new();
    let daemon = tokio::spawn(tickerfeed::app::serve_with(
        config,
        clock,
        stop.clone(),
        opened,
        listener,
        notifier,
    ));

    let mut seen = Vec::new();
    let degraded = loop {
        let msg = m.recv().await;
        if msg.contains("STATUS=degraded") {
            break msg;
        }
        seen.push(msg);
        assert!(seen.len() < 100, "never degraded: {seen:?}");
    };
    assert_eq!(
        degraded,
        "WATCHDOG=1\nSTATUS=degraded: no configured feed is healthy; \
         1 feeds (0 ok, 1 failing), 0 items, last successful poll none yet\n"
    );
    stop.cancel();
    daemon.await.unwrap().unwrap();
}
