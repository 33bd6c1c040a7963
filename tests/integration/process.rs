//! The real binary as a child process: commands, exit codes, config
//! errors, signals, restarts.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::util::*;

fn run_cmd(dir: &TestDir, args: &[&str]) -> (i32, String, String) {
    run_with_config(&dir.config_path(), args)
}

fn run_with_config(config: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let out = bin()
        .arg("--config")
        .arg(config)
        .args(args)
        .env_remove("RUST_LOG")
        .env_remove("TICKERFEED_CONFIG")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `tickerfeed run` as systemd's `tickerfeed.socket` starts it: Python
/// stands in for systemd, binds 127.0.0.1:0, prints the port, writes it
/// into the config wherever it says `PASSED_PORT` (a callback URL must
/// name the port the daemon listens on), puts the socket on fd 3, sets
/// `LISTEN_PID` to its own pid and execs the daemon (which keeps the pid).
pub(crate) fn socket_activated(dir: &TestDir) -> std::process::Command {
    let script = r#"
import os, socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.bind(("127.0.0.1", 0))
s.listen(16)
port = str(s.getsockname()[1])
print(port, flush=True)
path = sys.argv[1]
text = open(path).read()
if "PASSED_PORT" in text:
    open(path, "w").write(text.replace("PASSED_PORT", port))
os.dup2(s.fileno(), 3)
os.set_inheritable(3, True)
os.environ["LISTEN_FDS"] = "1"
os.environ["LISTEN_PID"] = str(os.getpid())
os.execv(sys.argv[2], sys.argv[2:])
"#;
    let mut cmd = std::process::Command::new("python3");
    cmd.args(["-c", script])
        .arg(dir.config_path())
        .arg(env!("CARGO_BIN_EXE_tickerfeed"))
        .arg("--config")
        .arg(dir.config_path())
        .arg("run");
    cmd
}

/// `tickerfeed run` in the background, with its stderr lines collected.
pub(crate) struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
    pub(crate) log: Vec<String>,
}

impl Running {
    pub(crate) fn start(dir: &TestDir) -> Running {
        Self::start_with(dir, &[])
    }

    pub(crate) fn start_with(dir: &TestDir, env: &[(&str, &str)]) -> Running {
        let mut cmd = bin();
        cmd.arg("--config").arg(dir.config_path()).arg("run");
        Self::spawn(cmd, env)
    }

    /// `cmd` (the binary, or a wrapper that execs it) with `env`.
    pub(crate) fn spawn(mut cmd: std::process::Command, env: &[(&str, &str)]) -> Running {
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Running {
            child,
            lines,
            log: Vec::new(),
        }
    }

    /// Waits for a log line containing `needle`; returns it.
    pub(crate) fn wait_for(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(line) = self.lines.recv_timeout(Duration::from_millis(100)) {
                self.log.push(line.clone());
                if line.contains(needle) {
                    return line;
                }
            }
        }
        panic!("no log line with {needle:?}; got:\n{}", self.log.join("\n"));
    }

    /// The address the daemon logged it listens on.
    pub(crate) fn wait_for_listen(&mut self) -> String {
        let line = self.wait_for("tickerfeed running");
        line.split("listen=")
            .nth(1)
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .to_string()
    }

    /// Sets the running daemon's file size limit (`ulimit -f`, systemd's
    /// `LimitFSIZE=`), soft to `bytes` (`"unlimited"` to lift it), hard
    /// unlimited so it can be lifted again. Under a limit of one byte no
    /// write to the archive passes: a full disk, as a test can arrange one.
    pub(crate) fn limit_file_size(&self, bytes: &str) {
        let ok = std::process::Command::new("prlimit")
            .arg(format!("--pid={}", self.child.id()))
            .arg(format!("--fsize={bytes}:unlimited"))
            .status()
            .unwrap()
            .success();
        assert!(ok, "prlimit --fsize={bytes} failed");
    }

    pub(crate) fn signal(&self, sig: &str) {
        let ok = std::process::Command::new("kill")
            .args([&format!("-{sig}"), &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok);
    }

    /// SIGTERM; asserts a clean exit, and that no reload logged a change
    /// that waits for a restart.
    pub(crate) fn stop_with_nothing_waiting(&mut self) {
        self.signal("TERM");
        assert_eq!(self.wait_exit(), 0, "{}", self.log.join("\n"));
        assert!(
            !self.log.iter().any(|l| l.contains("next restart")),
            "{}",
            self.log.join("\n")
        );
    }

    pub(crate) fn wait_exit(&mut self) -> i32 {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(200)) {
                    self.log.push(line);
                }
                return status.code().unwrap_or(-1);
            }
            assert!(
                Instant::now() < deadline,
                "did not exit; log:\n{}",
                self.log.join("\n")
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn check_lists_every_problem_with_its_line_and_starts_nothing() {
    let dir = TestDir::new();
    std::fs::write(
        dir.config_path(),
        "[server]\nlisten = \"127.0.0.1:0\"\n\n[[feeds]]\nname = \"a\"\nurl = \"gopher://x\"\nschedule = \"0 9 * *\"\n\n[[feeds]]\nname = \"a\"\nurl = \"https://example.com/feed\"\nshedule = \"@hourly\"\n",
    )
    .unwrap();
    let (code, _, err) = run_cmd(&dir, &["check"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("4 problems"), "{err}");
    assert!(err.contains(":6: feeds[0].url:"), "{err}");
    assert!(err.contains(":7: feeds[0].schedule:"), "{err}");
    assert!(
        err.contains(":10: feeds[1].name: duplicate feed name \"a\" (first used at line 5)"),
        "{err}"
    );
    assert!(err.contains(":12: feeds[1].shedule: unknown key"), "{err}");

    // `run` refuses the same file and creates no archive.
    let (code, _, err) = run_cmd(&dir, &["run"]);
    assert_eq!(code, 2, "{err}");
    assert!(!dir.db_path().exists());
}

/// A value of the wrong type used to be reported alone: each run of
/// `check` showed one, and the unknown key only once they were all fixed.
#[test]
fn check_lists_every_wrong_type_with_the_other_problems() {
    let dir = TestDir::new();
    std::fs::write(
        dir.config_path(),
        "[server]\nlisten = \"127.0.0.1:0\"\n\n[output]\nmax_items = \"ten\"\n\n[[feeds]]\nname = \"a\"\nurl = \"https://example.com/feed\"\nfulltext = \"yes\"\nshedule = \"@hourly\"\n",
    )
    .unwrap();
    let (code, _, err) = run_cmd(&dir, &["check"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("3 problems"), "{err}");
    assert!(err.contains(":5: output.max_items: invalid type"), "{err}");
    assert!(
        err.contains(":10: feeds[0].fulltext: invalid type"),
        "{err}"
    );
    assert!(err.contains(":11: feeds[0].shedule: unknown key"), "{err}");
}

#[test]
fn check_accepts_the_shipped_config() {
    let out = bin()
        .args([
            "--config",
            concat!(env!("CARGO_MANIFEST_DIR"), "/config.toml"),
            "check",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(": ok (3 feeds)"));
}

#[test]
fn config_path_comes_from_the_environment_too() {
    let dir = TestDir::new();
    dir.write_config("");
    let out = bin()
        .arg("check")
        .env("TICKERFEED_CONFIG", dir.config_path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let missing = bin()
        .arg("check")
        .env("TICKERFEED_CONFIG", dir.path().join("nope.toml"))
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("nope.toml"));
}

/// An alert aimed at this machine without `allow_private` loads (an
/// upgrade never stops a daemon that ran before), but `check` warns that
/// its messages would all be refused.
#[test]
fn check_warns_of_an_alert_whose_messages_would_be_refused() {
    let dir = TestDir::new();
    let alert = |name: &str, extra: &str| {
        format!("[[alerts]]\nname = \"{name}\"\nurl = \"http://127.0.0.1:9000/hook\"\n{extra}\n")
    };
    dir.write_config(&format!(
        "{}{}",
        alert("local", ""),
        alert("allowed", "allow_private = true")
    ));
    let out = bin()
        .args(["--config", dir.config_path().to_str().unwrap(), "check"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("warning:")
            && err.contains("alert \"local\"")
            && err.contains("allow_private = true"),
        "{err}"
    );
    assert!(!err.contains("\"allowed\""), "{err}");
}

/// Listening on every address without `base_url` loads, but `check` says
/// the feeds would name `0.0.0.0` as their address; with `base_url` set,
/// or on a named address, it says nothing.
#[test]
fn check_warns_of_self_links_to_an_address_that_names_no_host() {
    let dir = TestDir::new();
    let check = |server: &str| {
        let feed = feed_block("a", "http://127.0.0.1:9/a.xml", "");
        std::fs::write(dir.config_path(), format!("[server]\n{server}\n{feed}")).unwrap();
        let out = bin()
            .args(["--config", dir.config_path().to_str().unwrap(), "check"])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{err}");
        err
    };
    let err = check("listen = \"0.0.0.0:8080\"");
    assert!(
        err.contains("warning:")
            && err.contains("http://0.0.0.0:8080/")
            && err.contains("base_url"),
        "{err}"
    );
    assert!(!err.contains("hub"), "{err}");
    assert!(check("listen = \"[::]:8080\"").contains("http://[::]:8080/"));
    // A hub's topics are the feeds' own addresses: they name no host either.
    let hub = check("listen = \"0.0.0.0:8080\"\n[websub]\nserve_hub = true");
    assert!(
        hub.contains("warning:") && hub.contains("hub's topics") && hub.contains("base_url"),
        "{hub}"
    );
    let named = check("listen = \"0.0.0.0:8080\"\nbase_url = \"https://news.example.org/\"");
    assert!(!named.contains("warning"), "{named}");
    let local = check("listen = \"127.0.0.1:8080\"");
    assert!(!local.contains("warning"), "{local}");
}

/// `check` warns of `listen` on port 0 without `base_url`: the daemon runs
/// (unlike `render`, which refuses it), but its feeds would name the port
/// it picks at each start, which readers lose at the next.
#[test]
fn check_warns_of_self_links_to_a_port_picked_at_start() {
    let dir = TestDir::new();
    let feed = feed_block("a", "http://127.0.0.1:9/a.xml", "");
    let check = |server: &str| {
        std::fs::write(dir.config_path(), format!("[server]\n{server}\n{feed}")).unwrap();
        run_cmd(&dir, &["check"])
    };
    let (code, _, err) = check("listen = \"127.0.0.1:0\"");
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("warning:")
            && err.contains("listen = \"127.0.0.1:0\"")
            && err.contains("at each start")
            && err.contains("base_url"),
        "{err}"
    );
    let (code, _, named) =
        check("listen = \"127.0.0.1:0\"\nbase_url = \"https://news.example.org/\"");
    assert_eq!(code, 0, "{named}");
    assert!(!named.contains("warning"), "{named}");
}

/// A config that does not load makes `run` exit with the status the
/// systemd unit will not restart on: restarting every 5 s cannot mend it,
/// and would fill the journal with the same error.
#[test]
fn a_bad_config_stops_the_service_instead_of_restarting_it() {
    let dir = TestDir::new();
    std::fs::write(dir.config_path(), "[[feeds]]\nname = \"no url\"\n").unwrap();
    let out = bin()
        .args(["--config", dir.config_path().to_str().unwrap(), "run"])
        .output()
        .unwrap();
    let status = out.status.code().unwrap();
    let unit = include_str!("../../systemd/tickerfeed.service");
    let prevented: Vec<i32> = unit
        .lines()
        .filter_map(|l| l.strip_prefix("RestartPreventExitStatus="))
        .flat_map(|v| v.split_whitespace().map(|n| n.parse().unwrap()))
        .collect();
    assert!(
        prevented.contains(&status),
        "run exits {status} on a bad config; the unit restarts on it ({prevented:?})"
    );
}

#[tokio::test]
async fn poll_feeds_and_render_commands() {
    let server = FeedServer::start().await;
    server.set(
        "/a.xml",
        Reply::feed(rss(
            "A",
            &[
                ("a1", "Alpha", "https://a.test/1"),
                ("a2", "Beta", "https://a.test/2"),
            ],
        )),
    );
    server.set("/bad.xml", Reply::status(500));
    let dir = TestDir::new();
    dir.write_config(&format!(
        "{}{}",
        feed_block("a", &server.url("/a.xml"), "tags = [\"t\"]"),
        feed_block("bad", &server.url("/bad.xml"), "")
    ));
    let cfg = dir.config_path();
    let run = |args: &'static [&'static str]| {
        let cfg = cfg.clone();
        tokio::task::spawn_blocking(move || {
            let out = bin().arg("--config").arg(&cfg).args(args).output().unwrap();
            (
                out.status.code(),
                String::from_utf8_lossy(&out.stdout).into_owned(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            )
        })
    };
    // A failing feed does not make `poll` fail.
    let (code, out, err) = run(&["poll"]).await.unwrap();
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("a: ok (HTTP 200), 2 items, 2 new"), "{out}");
    // With the address that failed, so the operator knows what to fix.
    let failed = format!(
        "bad: error: HTTP 500 Internal Server Error ({})",
        server.url("/bad.xml")
    );
    assert!(out.contains(&failed), "{out}");
    assert!(
        out.contains("2 feeds polled, 1 failed, 2 new items"),
        "{out}"
    );

    let (code, out, _) = run(&["poll", "--feed", "a"]).await.unwrap();
    assert_eq!(code, Some(0));
    assert!(
        out.contains("1 feed polled") && !out.contains("bad"),
        "{out}"
    );
    let (code, _, err) = run(&["poll", "--feed", "zzz"]).await.unwrap();
    assert_eq!(code, Some(1));
    assert!(err.contains("no feed named \"zzz\""), "{err}");

    let (_, out, _) = run(&["feeds"]).await.unwrap();
    assert!(
        out.contains("failing (2 in a row)") || out.contains("failing (1 in a row)"),
        "{out}"
    );
    assert!(out.contains("last error: HTTP 500"), "{out}");
    assert!(out.contains("items:      2"), "{out}");
    assert!(out.contains("next due:"), "{out}");

    let (code, out, _) = run(&["render", "--format", "rss", "--limit", "1"])
        .await
        .unwrap();
    assert_eq!(code, Some(0));
    let channel = rss::Channel::read_from(out.as_bytes()).unwrap();
    assert_eq!(channel.items().len(), 1);
    let (_, out, _) = run(&["render", "--tag", "t"]).await.unwrap();
    assert_eq!(out.matches("<entry>").count(), 2);
    let (_, out, _) = run(&["render", "--format", "json"]).await.unwrap();
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["items"].as_array().unwrap().len(), 2);
}

/// Runs the binary on `config` with `args`, its stdout a pipe whose
/// reading end is already closed, so its first write fails (EPIPE): the
/// exit code and stderr.
fn with_stdout_closed(config: &std::path::Path, args: &[&str]) -> (Option<i32>, String) {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = bin()
        .arg("--config")
        .arg(config)
        .args(args)
        .env_remove("RUST_LOG")
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `tickerfeed feeds | head -1`: a reader that stops early is not an
/// error for any command that writes to stdout. Each runs with stdout a
/// pipe whose reading end is already closed, so its first write fails
/// (EPIPE): exit 0, and nothing on stderr about it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_stdout_ends_every_command_quietly() {
    let server = FeedServer::start().await;
    server.set("/tankers.xml", Reply::feed(TANKERS_FEED));
    let dir = TestDir::new();
    dir.write_config(&feed_block("tankers", &server.url("/tankers.xml"), ""));
    let (code, _, err) = cli(&dir, &["poll"]).await;
    assert_eq!(code, 0, "{err}");
    let cfg = dir.config_path();
    let closed = |args: &'static [&'static str]| {
        let cfg = cfg.clone();
        tokio::task::spawn_blocking(move || with_stdout_closed(&cfg, args))
    };
    for args in [
        &["feeds"][..],
        &["render"],
        &["render", "--format", "json"],
        &["search", "tanker", "--limit", "500"],
        &["views"],
        &["export"],
        &["opml", "export"],
    ] {
        let (code, err) = closed(args).await.unwrap();
        assert_eq!(code, Some(0), "{args:?}: {err}");
        assert!(
            !err.to_lowercase().contains("broken pipe") && !err.contains("error"),
            "{args:?}: {err}"
        );
    }
}

/// A command with work left after it reports finishes it when its reader
/// has gone (review): `opml import --write` still writes the config after
/// listing the feeds it already has (it returned at the first line, exit 0,
/// nothing written), and `quotes` with no symbol answered still exits 1
/// (the closed pipe's exit 0 hid it).
#[test]
fn a_command_with_work_after_its_report_finishes_it_when_stdout_is_closed() {
    let closed = |dir: &TestDir, args: &[&str]| with_stdout_closed(&dir.config_path(), args);
    let dir = TestDir::new();
    dir.write_config(&feed_block("jvns", "https://jvns.ca/atom.xml", ""));
    let opml = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/opml/miniflux.opml"
    );
    let (code, err) = closed(&dir, &["opml", "import", opml, "--write"]);
    assert_eq!(code, Some(0), "{err}");
    let config = std::fs::read_to_string(dir.config_path()).unwrap();
    assert!(config.contains("https://lwn.net/headlines/rss"), "{config}");

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = TestDir::new();
    dir.write_config(&format!(
        "[market]\nprovider = \"yahoo\"\nbase_url = \"http://127.0.0.1:{port}\"\n\
         symbols = [{{ symbol = \"BP\" }}]\n"
    ));
    let (code, err) = closed(&dir, &["quotes"]);
    assert_eq!(code, Some(1), "{err}");
}

/// A name the config does not have, among 30 feeds: the error names it,
/// suggests the close ones and points at the list, on a line or two
/// (it once printed every configured name). With a handful configured
/// (views, alerts), it lists them. Every command that takes a name says
/// it the same way.
#[test]
fn an_unknown_name_is_said_with_the_closest_names_not_all_of_them() {
    let dir = TestDir::new();
    let mut feeds: String = (1..=28)
        .map(|i| {
            feed_block(
                &format!("desk-{i:02}"),
                &format!("https://x.test/{i}.xml"),
                &format!("tags = [\"energy\", \"desk{}\"]", i % 7),
            )
        })
        .collect();
    for name in ["reuters-markets", "reuters-world"] {
        feeds.push_str(&feed_block(name, "https://r.test/f.xml", ""));
    }
    feeds.push_str(
        "[[views]]\nname = \"oil\"\nquery = \"oil\"\n\
         [[views]]\nname = \"banks\"\nquery = \"bank\"\n\
         [[views]]\nname = \"gas\"\nquery = \"gas\"\n\
         [[views]]\nname = \"coal\"\nquery = \"coal\"\n\
         [[views]]\nname = \"power\"\nquery = \"power\"\n\
         [[views]]\nname = \"metals\"\nquery = \"metal\"\n\
         [[alerts]]\nname = \"majors\"\nview = \"oil\"\nurl = \"https://hooks.test/x\"\n",
    );
    dir.write_config(&feeds);

    let (code, out, err) = run_cmd(&dir, &["poll", "--feed", "reuters-markts"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("no feed named \"reuters-markts\"")
            && err.contains("did you mean \"reuters-markets\"?")
            && err.contains("`tickerfeed feeds` lists all 30 feeds"),
        "{err}"
    );
    // The error itself (a poll logs the archive's opening before it).
    let said = |err: &str| {
        err.lines()
            .filter(|l| l.starts_with("error:"))
            .collect::<String>()
    };
    assert!(!err.contains("desk-") && said(&err).len() < 200, "{err}");
    // Part of a name finds the names holding it; nothing close, no guess.
    let (_, _, err) = run_cmd(&dir, &["poll", "--feed", "reuters"]);
    assert!(
        err.contains("did you mean \"reuters-world\" or \"reuters-markets\"?")
            || err.contains("did you mean \"reuters-markets\" or \"reuters-world\"?"),
        "{err}"
    );
    let (_, _, err) = run_cmd(&dir, &["poll", "--feed", "nosuch"]);
    assert!(
        !err.contains("did you mean") && said(&err).len() < 200,
        "{err}"
    );
    assert!(err.contains("no feed named \"nosuch\""), "{err}");

    let (code, _, err) = run_cmd(&dir, &["render", "--tag", "enrgy"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("no feed has the tag \"enrgy\"")
            && err.contains("did you mean \"energy\"?")
            && err.contains("the `tags` of the config's [[feeds]] name all 8 tags"),
        "{err}"
    );
    for args in [
        &["render", "--view", "oli"][..],
        &["views", "test", "oli"],
        &["export", "--view", "oli"],
    ] {
        let (code, _, err) = run_cmd(&dir, args);
        assert_eq!(code, 1, "{args:?}: {err}");
        assert!(
            // Each says it in the same words; two letters swapped are one
            // edit away.
            err.contains("no view is named \"oli\"")
                && err.contains("did you mean \"oil\"?")
                && err.contains("`tickerfeed views` lists all 6 views"),
            "{args:?}: {err}"
        );
    }
    for args in [
        &["alerts", "test", "majros"][..],
        &["alerts", "retry", "--alert", "majros"],
    ] {
        let (code, _, err) = run_cmd(&dir, args);
        assert_eq!(code, 1, "{args:?}: {err}");
        assert!(
            err.contains("no alert is named \"majros\"") && err.contains("(alerts: majors)"),
            "{args:?}: {err}"
        );
    }
}

/// `--limit 0` shows nothing, and `search` then said "no items match"
/// of items that do: every `--limit` refuses 0 as a usage error (exit 2)
/// that says what to use.
#[test]
fn a_limit_of_0_is_refused_not_taken_for_no_match() {
    let dir = TestDir::new();
    dir.write_config("");
    for args in [
        &["search", "oil", "--limit", "0"][..],
        &["render", "--limit", "0"],
        &[
            "views",
            "test",
            "--rule",
            "{ title = \"oil\" }",
            "--limit",
            "0",
        ],
    ] {
        let (code, out, err) = run_cmd(&dir, args);
        assert_eq!(code, 2, "{args:?}: {out}{err}");
        assert!(!out.contains("no items match"), "{args:?}: {out}");
        assert!(
            err.contains("--limit") && err.contains("use 1 or more"),
            "{args:?}: {err}"
        );
    }
}

/// A `--since` that is no date is a mistake in what was typed, as a
/// `--limit` of 0 is, but it exited 1, the code of a command that failed
/// at its work: it is a usage error (exit 2), refused before anything is
/// opened, with what was typed and what would do.
#[test]
fn a_since_that_is_no_date_is_a_usage_error() {
    let dir = TestDir::new();
    dir.write_config("");
    let out = dir.path().join("items.jsonl");
    for args in [
        &["search", "oil", "--since", "yesterday"][..],
        &[
            "export",
            "--since",
            "yesterday",
            "--out",
            out.to_str().unwrap(),
        ],
    ] {
        let (code, stdout, err) = run_cmd(&dir, args);
        assert_eq!(code, 2, "{args:?}: {stdout}{err}");
        assert!(stdout.is_empty(), "{args:?}: {stdout}");
        assert!(
            err.contains("'yesterday'")
                && err.contains("--since")
                && err.contains("not a date like 2026-11-24 or an RFC 3339 time"),
            "{args:?}: {err}"
        );
    }
    assert!(!dir.db_path().exists(), "nothing was opened");
    assert!(!out.exists());
}

/// `search ""` said "no items match", as if the archive lacked them: an
/// empty query (or one of spaces) is said to be empty, exit 1.
#[test]
fn an_empty_search_says_the_query_is_empty() {
    let dir = TestDir::new();
    dir.write_config("");
    for query in ["", "   "] {
        let (code, out, err) = run_cmd(&dir, &["search", query]);
        assert_eq!(code, 1, "{query:?}: {out}{err}");
        assert!(!out.contains("no items match"), "{query:?}: {out}");
        assert!(
            err.contains("error: the query is empty"),
            "{query:?}: {err}"
        );
    }
}

/// `render` with `[server] listen` on port 0 and no `base_url` has no
/// address for its self links: it says to set `base_url` and exits 2
/// rather than print links to port 0; with `base_url` set, the links are
/// under it.
#[test]
fn render_without_base_url_on_port_0_asks_for_base_url() {
    let dir = TestDir::new();
    let write = |server: &str| {
        std::fs::write(
            dir.config_path(),
            format!(
                "[server]\nlisten = \"127.0.0.1:0\"\n{server}{}",
                feed_block("a", "https://a.test/a.xml", "")
            ),
        )
        .unwrap();
    };
    write("");
    let (code, out, err) = run_cmd(&dir, &["render"]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(!out.contains(":0/"), "{out}");
    assert!(err.contains("set [server] base_url"), "{err}");

    write("base_url = \"http://feeds.test/\"\n");
    // `render` reads an archive and creates none.
    drop(tickerfeed::store::Store::open(&dir.db_path()).unwrap());
    let (code, out, err) = run_cmd(&dir, &["render"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("href=\"http://feeds.test/feed.atom\""),
        "{out}"
    );
}

/// A site that answers 429 pauses its feeds; `poll` says so, and does not
/// count them as failed (the README: a pause is not a failure).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poll_reports_a_paused_site_apart_from_failures() {
    let server = FeedServer::start().await;
    server.set("/a.xml", Reply::status(429).header("retry-after", "3600"));
    // Another site: the pause is the whole site's.
    let other = FeedServer::start().await;
    other.set("/bad.xml", Reply::status(500));
    let dir = TestDir::new();
    dir.write_config(&format!(
        "{}{}",
        feed_block("a", &server.url("/a.xml"), ""),
        feed_block("bad", &other.url("/bad.xml"), "")
    ));
    let config = dir.config_path();
    let poll = || {
        let config = config.clone();
        tokio::task::spawn_blocking(move || run_with_config(&config, &["poll"]))
    };
    let (code, out, err) = poll().await.unwrap();
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("a: paused until "), "{out}");
    assert!(out.contains("bad: error: HTTP 500"), "{out}");
    assert!(
        out.contains("2 feeds polled, 1 failed, 1 paused by their site, 0 new items"),
        "{out}"
    );
    // The next pass sends nothing to the paused site: deferred, not failed.
    let (_, out, _) = poll().await.unwrap();
    assert!(out.contains("a: paused until "), "{out}");
    assert!(out.contains("1 failed, 1 paused"), "{out}");
    assert_eq!(server.seen("/a.xml").len(), 1);
    // `feeds` says why a feed sends nothing, whatever its own state.
    let config = dir.config_path();
    let (_, out, _) = tokio::task::spawn_blocking(move || run_with_config(&config, &["feeds"]))
        .await
        .unwrap();
    let a = &out[out.find("\na\n").unwrap()..out.find("\nbad\n").unwrap()];
    assert!(a.contains("site:       paused until "), "{out}");
    let bad = &out[out.find("\nbad\n").unwrap()..];
    assert!(!bad.contains("site:"), "{out}");
}

/// What the daemon's log says at 3 a.m. of a site that asked it to wait
/// and of a feed gone for good: a pause is not a "poll failed" warning,
/// and a retired feed names no next poll.
// Multi-threaded: the test blocks on the child's log while the loopback
// feed servers must keep answering.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_tells_a_paused_site_and_a_retired_feed_from_failures() {
    let server = FeedServer::start().await;
    server.set("/a.xml", Reply::status(429).header("retry-after", "3600"));
    let other = FeedServer::start().await;
    other.set("/g.xml", Reply::status(410));
    let dir = TestDir::new();
    dir.write_config(&format!(
        "{}{}",
        feed_block("a", &server.url("/a.xml"), ""),
        feed_block("g", &other.url("/g.xml"), "")
    ));
    let mut d = Running::start(&dir);
    let paused = d.wait_for("paused by its site");
    assert!(paused.contains("feed=\"a\""), "{paused}");
    assert!(paused.contains("until="), "{paused}");
    // The two feeds are polled side by side: the retired one's line may
    // have been read already, while waiting for the paused one's.
    if !d.log.iter().any(|l| l.contains("feed retired (410 Gone)")) {
        d.wait_for("feed retired (410 Gone)");
    }
    d.signal("TERM");
    assert_eq!(d.wait_exit(), 0, "{}", d.log.join("\n"));
    let failed: Vec<&String> = d.log.iter().filter(|l| l.contains("poll failed")).collect();
    assert!(
        failed
            .iter()
            .all(|l| l.contains("feed=\"g\"") && !l.contains("next=")),
        "{failed:?}"
    );
    assert_eq!(failed.len(), 1, "{}", d.log.join("\n"));
}

/// The operator edits the config of a running daemon and, before the
/// reload, asks how the feeds are doing: `feeds` (and `render`, `quotes`)
/// register nothing, so the daemon keeps the feeds it registered (it
/// still polls the one removed, and `/healthz` counts it), and the
/// listing says what waits for the reload. They used to register the
/// edited config in the archive behind the daemon's back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn looking_at_the_feeds_registers_nothing() {
    let server = FeedServer::start().await;
    for path in ["/a.xml", "/b.xml", "/c.xml"] {
        server.set(
            path,
            Reply::feed(rss("X", &[("x1", "Alpha", "https://x.test/1")])),
        );
    }
    let dir = TestDir::new();
    let block = |name: &str| feed_block(name, &server.url(&format!("/{name}.xml")), "");
    dir.write_config(&format!("{}{}", block("a"), block("b")));
    let run = |args: &'static [&'static str]| {
        let config = dir.config_path();
        tokio::task::spawn_blocking(move || run_with_config(&config, args))
    };
    let (code, _, err) = run(&["poll"]).await.unwrap();
    assert_eq!(code, 0, "{err}");
    let registered =
        || dir.column::<String>("SELECT name || ' ' || in_config FROM feeds ORDER BY name");
    assert_eq!(registered(), ["a 1", "b 1"]);

    // b removed, c added; no reload.
    dir.write_config(&format!("{}{}", block("a"), block("c")));
    let (code, out, err) = run(&["feeds"]).await.unwrap();
    assert_eq!(code, 0, "{err}");
    let section = |name: &str| {
        let start = out
            .find(&format!("\n{name}\n"))
            .unwrap_or_else(|| panic!("{out}"));
        let rest = &out[start + name.len() + 2..];
        rest[..rest.find("\n\n").map_or(rest.len(), |e| e + 1)]
            .lines()
            .take_while(|l| l.starts_with("  "))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert!(
        section("b").contains("not in") && section("b").contains("polled until the daemon reloads"),
        "{out}"
    );
    assert!(
        section("c").contains("new in")
            && section("c").contains("registered when the daemon reloads"),
        "{out}"
    );
    assert!(section("a").contains("next due:"), "{out}");
    let (code, _, err) = run(&["render"]).await.unwrap();
    assert_eq!(code, 0, "{err}");
    assert_eq!(registered(), ["a 1", "b 1"]);

    // `poll` acts on the config: now it is registered.
    run(&["poll"]).await.unwrap();
    assert_eq!(registered(), ["a 1", "b 0", "c 1"]);
}

/// What a command that needs an archive says where there is none.
fn no_archive_at(path: &std::path::Path) -> String {
    format!(
        "error: no archive at {} yet: `tickerfeed poll` or the service \
         (`tickerfeed run`) creates it",
        path.display()
    )
}

/// The commands that only look at the archive, run where there is none
/// (a mistyped `[storage] path`, or before the first poll), created an
/// empty one (its folder, the file, its `-wal` and `-shm`) and reported
/// that nothing was ever polled. Each now says there is no archive, at
/// which path and what creates it, exits 1 and leaves nothing behind;
/// `opml export` lists the configured feeds without their titles. An
/// archive at an older schema version is still opened, and upgraded.
#[test]
fn looking_where_there_is_no_archive_says_so_and_creates_nothing() {
    let dir = TestDir::new();
    dir.write_config(&format!(
        "[storage]\nmax_age_days = 30\n{}\
         [[views]]\nname = \"oil\"\nquery = \"oil\"\n\
         [[alerts]]\nname = \"majors\"\nview = \"oil\"\nurl = \"https://hooks.test/x\"\n",
        feed_block("a", "https://a.test/a.xml", "")
    ));
    let before = || {
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    assert_eq!(before(), ["config.toml"]);
    let out_file = dir.path().join("items.jsonl");
    let out_arg = out_file.to_str().unwrap();
    let archive = dir.db_path();
    for args in [
        &["feeds"][..],
        &["render"],
        &["render", "--view", "oil"],
        &["views"],
        &["views", "test", "oil"],
        &["views", "test", "--rule", "{ title = \"oil\" }"],
        &["alerts"],
        &["alerts", "test", "majors"],
        &["alerts", "retry"],
        &["search", "oil"],
        &["prune"],
        &["export"],
        &[
            "export", "--format", "csv", "--view", "oil", "--out", out_arg,
        ],
    ] {
        let (code, out, err) = run_cmd(&dir, args);
        assert_eq!(code, 1, "{args:?}: {out}{err}");
        assert_eq!(err.trim_end(), no_archive_at(&archive), "{args:?}");
        assert_eq!(before(), ["config.toml"], "{args:?} left files behind");
    }
    let (code, out, err) = run_cmd(&dir, &["opml", "export"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("xmlUrl=\"https://a.test/a.xml\""), "{out}");
    assert_eq!(before(), ["config.toml"]);

    // An archive an older tickerfeed left is read, upgraded as every
    // command upgrades it.
    tickerfeed::store::create_archive_at_version(&archive, 1).unwrap();
    let version = || -> i64 {
        dir.db()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap()
    };
    assert_eq!(version(), 1);
    let (code, out, err) = run_cmd(&dir, &["feeds"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("archive: ") && out.contains("0 items"),
        "{out}"
    );
    assert!(version() > 1);
}

/// `tickerfeed quotes` run with a mistyped `[storage] path` created an
/// empty archive there (its folder, the file, `-wal` and `-shm`) and kept
/// the quotes where no daemon reads them. It now says there is no
/// archive, at which path and what creates it, as the commands that only
/// look do, exits 1 and leaves nothing on disk; at the archive's real
/// path it refreshes the board as before.
#[test]
fn quotes_with_a_mistyped_archive_path_creates_nothing() {
    let dir = TestDir::new();
    let (market, _) = market_down();
    dir.write_config(&market);
    let (code, out, err) = run_cmd(&dir, &["poll"]);
    assert_eq!(code, 0, "{out}{err}");
    // The config's folder and the archive's, which the poll made.
    let files = || {
        let mut names: Vec<String> = [dir.path().to_path_buf(), dir.db_path().with_file_name("")]
            .iter()
            .flat_map(|d| std::fs::read_dir(d).unwrap())
            .map(|e| e.unwrap().path().display().to_string())
            .collect();
        names.sort();
        names
    };
    let before = files();
    assert!(
        before.contains(&dir.db_path().display().to_string()),
        "{before:?}"
    );

    dir.write_config(&format!(
        "[storage]\npath = \"dat/tickerfeed.db\"\n{market}"
    ));
    let (code, out, err) = run_cmd(&dir, &["quotes"]);
    assert_eq!(code, 1, "{out}{err}");
    assert_eq!(
        err.trim_end(),
        no_archive_at(&dir.path().join("dat/tickerfeed.db"))
    );
    assert_eq!(out, "");
    assert_eq!(files(), before, "quotes left files behind");

    // At the real path the board is refreshed (the provider is down here).
    dir.write_config(&market);
    let (code, out, err) = run_cmd(&dir, &["quotes"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("AAPL: transport error"), "{out}{err}");
}

/// `tickerfeed quotes` could not be the first command: on a setup with a
/// `[market]` and no feeds (or before the first poll) it said there was
/// no archive and exited 1, so the board could not be tried before a
/// poll. It now creates the archive as `poll` does, at the default path
/// (its folder too) or at a written one whose folder is there, and
/// archives the quotes it prints; at a written path whose folder is not
/// there it still creates nothing (the test above).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quotes_runs_first_on_a_market_only_setup() {
    let server = FeedServer::start().await;
    server.set(
        "/api/v1/quote?symbol=AAPL",
        Reply::feed(include_str!("../fixtures/quotes/finnhub/quote_full.json"))
            .header("content-type", "application/json"),
    );
    let market = format!(
        "[market]\nprovider = \"finnhub\"\nbase_url = \"{}\"\n\
         api_key_env = \"TF_TEST_FINNHUB_KEY\"\nsymbols = [\"AAPL\"]\n",
        server.url("")
    );
    let key = [("TF_TEST_FINNHUB_KEY", std::ffi::OsStr::new("k"))];
    for (storage, archive) in [
        ("", "data/tickerfeed.db"),
        ("[storage]\npath = \"quotes.db\"\n", "quotes.db"),
    ] {
        let dir = TestDir::new();
        dir.write_config_only(&format!("{storage}{market}"));
        let (code, out, err) = cli_with_env(&dir, &["quotes"], &key).await;
        assert_eq!(code, 0, "{archive}: {out}{err}");
        assert!(
            out.lines()
                .any(|l| l.trim_start().starts_with("AAPL ") && l.contains("311.51 ")),
            "{archive}: {out}"
        );
        let db = rusqlite::Connection::open_with_flags(
            dir.path().join(archive),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .unwrap();
        let kept: i64 = db
            .query_row(
                "SELECT count(*) FROM quotes WHERE symbol = 'AAPL' AND price = '311.51'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(kept, 1, "{archive}: the quote printed is archived");
    }
}

/// A config with one feed `a` (one item, "Alpha") served at `/a.xml`.
/// Hourly: after the first poll nothing is due for a while.
pub(crate) async fn one_hourly_feed() -> (FeedServer, TestDir) {
    let server = FeedServer::start().await;
    server.set(
        "/a.xml",
        Reply::feed(rss("A", &[("a1", "Alpha", "https://a.test/1")])),
    );
    let dir = TestDir::new();
    dir.write_config(&feed_block(
        "a",
        &server.url("/a.xml"),
        "schedule = \"@hourly\"",
    ));
    (server, dir)
}

// Multi-threaded: the test blocks on the child's log while the loopback
// feed server must keep answering.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_cleanly_and_a_restart_does_not_refetch() {
    let (server, dir) = one_hourly_feed().await;

    let mut d = Running::start(&dir);
    let listen = d.wait_for("tickerfeed running");
    let addr = listen
        .split("listen=")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    d.wait_for("polled");
    let body = reqwest::get(format!("http://{addr}/feed.atom"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(body.contains("Alpha"));
    d.signal("TERM");
    assert_eq!(d.wait_exit(), 0, "{}", d.log.join("\n"));
    assert!(
        d.log.iter().any(|l| l.contains("stopped cleanly")),
        "{}",
        d.log.join("\n")
    );
    assert_eq!(server.seen("/a.xml").len(), 1);

    // Restart: state comes from the archive, so the feed is not due yet.
    let mut d = Running::start(&dir);
    d.wait_for("scheduler started");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        server.seen("/a.xml").len(),
        1,
        "restart refetched a feed that was not due"
    );
    d.signal("INT");
    assert_eq!(d.wait_exit(), 0);
    assert_eq!(dir.integrity(), "ok");
}

/// A second `run` on the archive a daemon already runs on (port 0, so no
/// port conflict stops it) exits 1 naming the archive, before it polls or
/// registers anything: the feed is fetched once, by the first. `poll`
/// still runs beside it, and once it stops a new one starts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_daemon_on_one_archive_refuses_to_start() {
    let (server, dir) = one_hourly_feed().await;
    let mut first = Running::start(&dir);
    first.wait_for("polled");

    let mut second = Running::start(&dir);
    assert_eq!(second.wait_exit(), 1, "{}", second.log.join("\n"));
    let log = second.log.join("\n");
    assert!(
        log.contains("another tickerfeed daemon is running on the archive")
            && log.contains("tickerfeed.db"),
        "{log}"
    );
    assert_eq!(server.seen("/a.xml").len(), 1, "{log}");
    // `poll` takes no lock: it runs beside the daemon.
    let config = dir.config_path();
    let (code, out, err) = tokio::task::spawn_blocking(move || run_with_config(&config, &["poll"]))
        .await
        .unwrap();
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(server.seen("/a.xml").len(), 2);

    first.signal("TERM");
    assert_eq!(first.wait_exit(), 0);
    // A restart (systemd's, or the operator's) finds the archive free.
    let mut again = Running::start(&dir);
    again.wait_for("scheduler started");
    again.signal("TERM");
    assert_eq!(again.wait_exit(), 0, "{}", again.log.join("\n"));
}

// Multi-threaded: the test blocks on the child's log while the loopback
// feed server must keep answering.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_an_in_flight_poll_finish_and_a_second_signal_forces_exit() {
    let server = FeedServer::start().await;
    server.set(
        "/slow.xml",
        Reply::feed(rss("Slow", &[("s1", "Late but kept", "https://s.test/1")]))
            .delayed(Duration::from_millis(1500)),
    );
    let dir = TestDir::new();
    dir.write_config(&feed_block("slow", &server.url("/slow.xml"), ""));
    let mut d = Running::start(&dir);
    d.wait_for("scheduler started");
    // The poll is in flight (the server waits 1.5 s before answering).
    while server.seen("/slow.xml").is_empty() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    d.signal("TERM");
    assert_eq!(d.wait_exit(), 0, "{}", d.log.join("\n"));
    // Nothing lost: the in-flight poll was stored.
    assert_eq!(dir.count("SELECT count(*) FROM items"), 1);

    // Now a poll that hangs; a second signal ends the drain at once.
    server.set(
        "/slow.xml",
        Reply::feed(rss("Slow", &[])).delayed(Duration::from_secs(60)),
    );
    std::fs::write(
        dir.config_path(),
        std::fs::read_to_string(dir.config_path())
            .unwrap()
            .replace("timeout_secs = 5", "timeout_secs = 120"),
    )
    .unwrap();
    // Make it due again by forgetting the last attempt.
    {
        let rw = rusqlite::Connection::open(dir.db_path()).unwrap();
        rw.execute("UPDATE feeds SET last_attempt_at = NULL", [])
            .unwrap();
    }
    let mut d = Running::start(&dir);
    d.wait_for("scheduler started");
    let before = server.seen("/slow.xml").len();
    while server.seen("/slow.xml").len() == before {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    d.signal("TERM");
    d.wait_for("letting in-flight polls finish");
    let started = Instant::now();
    d.signal("TERM");
    let code = d.wait_exit();
    assert_ne!(code, 0);
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(dir.integrity(), "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn self_links_use_the_port_actually_bound() {
    let dir = TestDir::new();
    // No base_url, port 0: links must name the real port, not ":0".
    std::fs::write(dir.config_path(), "[server]\nlisten = \"127.0.0.1:0\"\n").unwrap();
    let mut d = Running::start(&dir);
    let addr = d.wait_for_listen();
    let atom = reqwest::get(format!("http://{addr}/feed.atom"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        atom.contains(&format!("href=\"http://{addr}/feed.atom\"")),
        "{atom}"
    );
    assert!(!atom.contains(":0/"), "{atom}");
    d.signal("TERM");
    assert_eq!(d.wait_exit(), 0);
}

/// A feed that names a WebSub hub but no `rel="self"` would be subscribed
/// to under the URL it was polled from, which carries its API key: the
/// hub would be given (and keep) the key, so the feed is polled instead,
/// and no log line shows the key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_feed_whose_websub_topic_holds_its_key_is_polled_and_its_key_never_logged() {
    let server = FeedServer::start().await;
    let hub = server.url("/hub");
    server.set(
        "/keyed.xml",
        Reply::feed(format!(
            r#"<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"><channel>
<title>Keyed</title><link>https://example.com/</link><description>test</description>
<atom:link rel="hub" href="{hub}"/>
<item><guid>k1</guid><title>Story</title><link>https://example.com/k1</link></item>
</channel></rss>
"#
        )),
    );
    server.set("/hub", Reply::status(202));
    let dir = TestDir::new();
    dir.write_config(&format!(
        "[websub]\ncallback_url = \"http://127.0.0.1:9/\"\n{}",
        feed_block(
            "keyed",
            &format!("{}?api_key=hunter2", server.url("/keyed.xml")),
            ""
        )
    ));
    let mut d = Running::start(&dir);
    d.wait_for("polled");
    d.signal("TERM");
    d.wait_exit();
    let log = d.log.join("\n");
    assert!(!log.contains("hunter2"), "{log}");
    assert!(!log.contains("asked the WebSub hub"), "{log}");
    assert!(server.seen("/hub").is_empty(), "the hub was asked");
}

/// QA: for a feed that answered 410, `tickerfeed feeds` said it is retired
/// ("edit its url to try again") and then named its next poll. It says
/// what `/feeds` says: not polled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feeds_names_no_next_poll_for_a_retired_feed() {
    let server = FeedServer::start().await;
    server.set("/g.xml", Reply::status(410));
    server.set(
        "/a.xml",
        Reply::feed(rss("A", &[("a1", "Alpha", "https://a.test/1")])),
    );
    let dir = TestDir::new();
    dir.write_config(&format!(
        "{}{}",
        feed_block("a", &server.url("/a.xml"), ""),
        feed_block("g", &server.url("/g.xml"), "")
    ));
    cli(&dir, &["poll"]).await;
    let (code, out, err) = cli(&dir, &["feeds"]).await;
    assert_eq!(code, 0, "{err}");
    let g = &out[out.find("\ng\n").unwrap_or_else(|| panic!("{out}"))..];
    assert!(g.contains("state:      retired: "), "{out}");
    assert!(g.contains("next due:   not polled"), "{out}");
    // The live feed still names its next poll.
    let a = &out[out.find("\na\n").unwrap()..out.find("\ng\n").unwrap()];
    assert!(a.contains("next due:   20"), "{out}");
}
