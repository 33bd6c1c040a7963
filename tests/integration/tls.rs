//! Feeds over HTTPS, verified against the system's certificate store as
//! the operator's machine has it: `tickerfeed poll` (the real binary)
//! against a TLS server on 127.0.0.1 whose certificate a test CA signed
//! (tests/fixtures/tls), with `SSL_CERT_FILE` standing in for the store.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::util::{FeedServer, Reply, TestDir, cli_with_env, feed_block, rss};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tls")
        .join(name)
}

/// An HTTPS server on 127.0.0.1 answering every request with `body` as
/// RSS, under the test CA's certificate for 127.0.0.1; it counts the
/// requests it answered (a handshake the client refused is none).
struct HttpsFeed {
    port: u16,
    answered: Arc<AtomicUsize>,
}

impl HttpsFeed {
    fn start(body: String) -> HttpsFeed {
        let certs = CertificateDer::pem_file_iter(fixture("server.pem"))
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let key = PrivateKeyDer::from_pem_file(fixture("server.key")).unwrap();
        let tls = Arc::new(
            rustls::ServerConfig::builder_with_provider(Arc::new(
                rustls::crypto::aws_lc_rs::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap(),
        );
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let answered = Arc::new(AtomicUsize::new(0));
        let counter = answered.clone();
        std::thread::spawn(move || {
            for tcp in listener.incoming().map_while(Result::ok) {
                let (tls, body, counter) = (tls.clone(), body.clone(), counter.clone());
                std::thread::spawn(move || {
                    let conn = rustls::ServerConnection::new(tls).unwrap();
                    let mut stream = rustls::StreamOwned::new(conn, tcp);
                    let mut request = Vec::new();
                    let mut buf = [0u8; 4096];
                    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut buf) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => request.extend_from_slice(&buf[..n]),
                        }
                    }
                    let head = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    );
                    if stream.write_all(head.as_bytes()).is_ok()
                        && stream.write_all(body.as_bytes()).is_ok()
                    {
                        stream.conn.send_close_notify();
                        let _ = stream.flush();
                        counter.fetch_add(1, Ordering::SeqCst);
                    }
                });
            }
        });
        HttpsFeed { port, answered }
    }

    fn url(&self) -> String {
        format!("https://127.0.0.1:{}/feed.xml", self.port)
    }

    fn answered(&self) -> usize {
        self.answered.load(Ordering::SeqCst)
    }
}

/// `tickerfeed poll` with `SSL_CERT_FILE` as the system's whole store: an
/// empty `SSL_CERT_DIR` names no directory (the machine's environment may
/// name one).
async fn poll_trusting(dir: &TestDir, cert_file: &Path) -> (i32, String, String) {
    let env = [
        ("SSL_CERT_FILE", cert_file.as_os_str()),
        ("SSL_CERT_DIR", std::ffi::OsStr::new("")),
    ];
    cli_with_env(dir, &["poll"], &env).await
}

fn secure_feed() -> String {
    rss(
        "Secure wire",
        &[("s1", "Sent over TLS", "https://s.test/1")],
    )
}

/// A config of two feeds: "secure" over HTTPS, "plain" over HTTP.
async fn secure_and_plain() -> (HttpsFeed, FeedServer, TestDir) {
    let server = HttpsFeed::start(secure_feed());
    let plain = FeedServer::start().await;
    plain.set(
        "/plain.xml",
        Reply::feed(rss(
            "Plain",
            &[("p1", "Sent in the clear", "https://p.test/1")],
        )),
    );
    let dir = TestDir::new();
    dir.write_config(&format!(
        "{}{}",
        feed_block("secure", &server.url(), ""),
        feed_block("plain", &plain.url("/plain.xml"), "")
    ));
    (server, plain, dir)
}

#[tokio::test]
async fn an_https_feed_whose_server_the_store_trusts_is_archived() {
    let server = HttpsFeed::start(secure_feed());
    let dir = TestDir::new();
    dir.write_config(&feed_block("secure", &server.url(), ""));

    let (code, out, err) = poll_trusting(&dir, &fixture("ca.pem")).await;

    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("secure: ok (HTTP 200)"), "{out}\n{err}");
    assert_eq!(dir.titles(), ["Sent over TLS"]);
    assert_eq!(server.answered(), 1);
}

#[tokio::test]
async fn a_server_the_store_does_not_trust_fails_its_feed_alone() {
    let (server, _plain, dir) = secure_and_plain().await;

    // A store that holds another CA: the handshake is refused.
    let (_, out, err) = poll_trusting(&dir, &fixture("other-ca.pem")).await;

    let line = out
        .lines()
        .find(|l| l.starts_with("secure: "))
        .unwrap_or_else(|| panic!("{out}\n{err}"));
    assert!(line.contains("error"), "{line}");
    assert!(line.to_lowercase().contains("certificate"), "{line}");
    assert_eq!(
        server.answered(),
        0,
        "nothing is sent to an unverified server"
    );
    assert_eq!(dir.titles(), ["Sent in the clear"]);
}

#[tokio::test]
async fn without_any_ca_certificate_plain_feeds_are_still_polled() {
    let (server, _plain, dir) = secure_and_plain().await;

    // A machine without CA certificates (a bare container): before, no
    // HTTP client could be built and the poll stopped at "builder error".
    let missing = dir.path().join("no-such-bundle.pem");
    let (code, out, err) = poll_trusting(&dir, &missing).await;

    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(dir.titles(), ["Sent in the clear"], "{out}\n{err}");
    let line = out
        .lines()
        .find(|l| l.starts_with("secure: "))
        .unwrap_or_else(|| panic!("{out}\n{err}"));
    assert!(
        line.contains("no CA certificates were found on this machine")
            && line.contains("SSL_CERT_FILE"),
        "the failure says what is missing and how to mend it: {line}"
    );
    assert_eq!(server.answered(), 0);
}
