//! Politeness rules shared by the feed fetcher and the quote client: which
//! bucket a URL's limits and pauses count against, and how long a
//! `Retry-After` asks us to wait.
//!
//! A bottom-layer module: it imports nothing of the crate, so
//! `pipeline::fetch` and `quotes::client` can both use it without importing
//! each other.
//!
//! # Buckets
//!
//! [`domain_key`] names the bucket. Concurrency and spacing limits (still
//! `per_host_*` in the config) and `Retry-After` pauses all count per
//! bucket, and the store's `host_pauses` table is keyed by it. Connection reuse is not: reqwest pools per host by
//! itself.
//!
//! - A name under a suffix the public suffix list knows is keyed by its
//!   registrable domain (eTLD+1), without its port: `a.example.com`,
//!   `b.example.com:8443` and `example.com` are all `example.com`;
//!   `news.bbc.co.uk` is `bbc.co.uk`, never `co.uk`. A port does not change
//!   who runs a site, so a feed list cannot split one operator's load (or
//!   dodge its `Retry-After`) across buckets by naming another port.
//! - Everything else keeps the per-host key it always had, `host` or
//!   `host:port` as in the URL: IP addresses (`127.0.0.1:8081` and
//!   `127.0.0.1:8082` are two buckets, which the loopback tests rely on),
//!   `localhost`, single-label and intranet names the list does not know
//!   (`nas.lan`), and a bare public suffix (`co.uk`). For those we cannot
//!   tell who owns what, so nothing is grouped.
//!
//! [`domain_key_of_host`] maps a `host` or `host:port` (such as a pause a
//! version before this one stored) to its bucket.
//!
//! Names arrive from [`Url`] already lower-cased and IDNA-encoded
//! (`Bücher.example` is `xn--bcher-kva.example`); a trailing dot is ignored.
//! The list is the `psl` crate's, compiled in: no file and no network at run
//! time, and `cargo update -p psl` brings a newer list.

use std::time::Duration;

use chrono::{DateTime, Utc};
use url::{Host, Url};

/// The politeness bucket `url` counts against (see the module doc).
pub fn domain_key(url: &Url) -> String {
    let port = url.port();
    match url.host() {
        Some(Host::Domain(name)) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            match registrable_domain(&name) {
                Some(domain) => domain.to_string(),
                None => with_port(&name, port),
            }
        }
        // `host_str` keeps the brackets around an IPv6 address, so the port
        // stays unambiguous: `[::1]:8081`.
        Some(Host::Ipv4(_) | Host::Ipv6(_)) => {
            with_port(url.host_str().expect("an IP host has a string form"), port)
        }
        None => url.scheme().to_string(),
    }
}

/// The bucket of `host` or `host:port` as written in a URL, such as the
/// keys an earlier version stored in `host_pauses` (`a.example.com`); a key
/// [`domain_key`] made maps to itself.
pub fn domain_key_of_host(host: &str) -> String {
    // A scheme without a default port, so an explicit `:80` or `:443` stays
    // as written (`Url` drops it for http and https).
    match Url::parse(&format!("key://{host}/")) {
        Ok(url) if url.host().is_some() => domain_key(&url),
        _ => host.to_string(),
    }
}

/// The registrable domain of `name`, when the public suffix list knows its
/// suffix. Names matched only by the list's implicit `*` rule (`localhost`,
/// `nas.lan`) have none, and neither has a bare suffix (`co.uk`).
fn registrable_domain(name: &str) -> Option<&str> {
    let domain = psl::domain(name.as_bytes())?;
    if !domain.suffix().is_known() {
        return None;
    }
    std::str::from_utf8(domain.as_bytes()).ok()
}

fn with_port(host: &str, port: Option<u16>) -> String {
    match port {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    }
}

/// `Retry-After` in either form (RFC 9110 §10.2.3): delay-seconds, or an
/// HTTP date measured from `now`. A date in the past means "now".
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at: DateTime<Utc> = httpdate::parse_http_date(value).ok()?.into();
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(url: &str) -> String {
        domain_key(&Url::parse(url).unwrap())
    }

    #[test]
    fn subdomains_share_a_bucket() {
        assert_eq!(key("https://a.example.com/feed"), "example.com");
        assert_eq!(key("https://b.example.com/feed"), "example.com");
        assert_eq!(key("https://example.com/"), "example.com");
        assert_eq!(key("https://deep.er.example.com/x"), "example.com");
        // Scheme does not matter: one operator either way.
        assert_eq!(key("http://www.example.com/rss"), "example.com");
        // Tumblr rate-limits across all its blogs (FreshRSS#8925).
        assert_eq!(key("https://staff.tumblr.com/rss"), "tumblr.com");
        assert_eq!(key("https://other.tumblr.com/rss"), "tumblr.com");
    }

    #[test]
    fn different_domains_do_not() {
        assert_ne!(key("https://example.com/"), key("https://example.org/"));
        assert_ne!(key("https://a.example.com/"), key("https://a.example.net/"));
        assert_ne!(key("https://example.com/"), key("https://myexample.com/"));
        assert_eq!(key("https://example.com.evil.net/"), "evil.net");
    }

    #[test]
    fn multi_label_suffixes_are_not_one_bucket() {
        assert_eq!(key("https://news.bbc.co.uk/rss.xml"), "bbc.co.uk");
        // `gov.uk` is itself a listed suffix: each department is its own site.
        assert_eq!(key("https://www.gov.uk/feed"), "www.gov.uk");
        assert_ne!(
            key("https://feeds.bbc.co.uk/"),
            key("https://www.theguardian.co.uk/")
        );
        assert_eq!(key("https://a.b.example.com.au/"), "example.com.au");
        // Private-section suffixes count too: two users' pages are two sites.
        assert_ne!(
            key("https://alice.github.io/"),
            key("https://bob.github.io/")
        );
        assert_eq!(key("https://alice.github.io/feed.xml"), "alice.github.io");
        // A bare suffix has no registrable domain: it stays itself.
        assert_eq!(key("https://co.uk/"), "co.uk");
    }

    #[test]
    fn ip_addresses_keep_their_own_bucket_per_port() {
        assert_eq!(key("http://127.0.0.1:8081/a.xml"), "127.0.0.1:8081");
        assert_eq!(key("http://127.0.0.1:8082/a.xml"), "127.0.0.1:8082");
        assert_eq!(key("http://127.0.0.1/a.xml"), "127.0.0.1");
        assert_eq!(key("http://10.0.0.1/a.xml"), "10.0.0.1");
        assert_ne!(key("http://10.0.0.1/"), key("http://10.0.0.2/"));
        assert_eq!(key("http://[::1]:8081/a.xml"), "[::1]:8081");
        assert_eq!(key("http://[::1]/a.xml"), "[::1]");
        assert_eq!(key("http://[2001:DB8::1]:80/"), "[2001:db8::1]");
    }

    #[test]
    fn localhost_and_unknown_suffixes_keep_host_and_port() {
        assert_eq!(key("http://localhost:8081/"), "localhost:8081");
        assert_eq!(key("http://localhost:8082/"), "localhost:8082");
        assert_eq!(key("http://localhost/"), "localhost");
        assert_eq!(key("http://nas.lan:8080/feed"), "nas.lan:8080");
        assert_ne!(key("http://a.nas.lan/"), key("http://b.nas.lan/"));
        assert_eq!(key("http://intranet/feed"), "intranet");
    }

    #[test]
    fn a_port_on_a_listed_domain_does_not_split_it() {
        assert_eq!(key("https://example.com:8443/feed"), "example.com");
        assert_eq!(
            key("http://a.example.com:8081/"),
            key("http://b.example.com:8082/")
        );
        // The scheme's own port was never part of the key.
        assert_eq!(key("https://example.com:443/"), key("https://example.com/"));
    }

    #[test]
    fn case_idns_and_trailing_dots_do_not_split_a_domain() {
        assert_eq!(key("https://NEWS.Example.COM/"), "example.com");
        assert_eq!(key("https://news.example.com./"), "example.com");
        // IDNs arrive punycoded from `Url`; both spellings are one site.
        assert_eq!(key("https://blog.bücher.de/"), "xn--bcher-kva.de");
        assert_eq!(
            key("https://blog.BÜCHER.de/"),
            key("https://xn--bcher-kva.de/")
        );
        assert_eq!(key("https://a.例え.jp/"), key("https://b.例え.jp/"));
        assert_eq!(key("https://news.xn--fiqs8s/"), "news.xn--fiqs8s");
    }

    #[test]
    fn stored_hosts_map_to_their_bucket_and_keys_to_themselves() {
        let k = domain_key_of_host;
        assert_eq!(k("a.example.com"), "example.com");
        assert_eq!(k("news.bbc.co.uk:8080"), "bbc.co.uk");
        for stored in [
            "example.com",
            "bbc.co.uk",
            "127.0.0.1:8081",
            "127.0.0.1:80",
            "127.0.0.1",
            "[::1]:8081",
            "[::1]",
            "localhost:8081",
            "nas.lan:8080",
            "file",
        ] {
            assert_eq!(k(stored), stored);
        }
        for url in [
            "https://a.example.com/",
            "http://127.0.0.1:8081/",
            "https://127.0.0.1:80/",
            "http://[2001:db8::1]:8081/",
            "https://blog.bücher.de/",
            "http://localhost:8081/",
        ] {
            assert_eq!(k(&key(url)), key(url), "{url}");
        }
    }

    #[test]
    fn urls_without_a_host_are_keyed_by_scheme() {
        assert_eq!(key("file:///var/feeds/a.xml"), "file");
    }

    // Moved from pipeline/fetch.rs, which had its own copy of the parser.
    #[test]
    fn retry_after_in_both_forms() {
        let now: DateTime<Utc> = DateTime::parse_from_rfc3339("2026-11-24T12:00:00Z")
            .unwrap()
            .into();
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Tue, 24 Nov 2026 12:10:00 GMT", now),
            Some(Duration::from_secs(600))
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }

    // Moved from quotes/client.rs, which had the other copy.
    #[test]
    fn retry_after_trims_and_clamps_past_dates() {
        // Wed, 21 Oct 2015 07:28:00 GMT
        let now = DateTime::from_timestamp(1_445_412_480, 0).unwrap();
        let cases = [
            ("120", Some(120)),
            (" 0 ", Some(0)),
            ("Wed, 21 Oct 2015 07:30:00 GMT", Some(120)),
            ("Wed, 21 Oct 2015 07:00:00 GMT", Some(0)),
            ("soon", None),
            ("-5", None),
        ];
        for (value, want) in cases {
            assert_eq!(
                parse_retry_after(value, now),
                want.map(Duration::from_secs),
                "{value}"
            );
        }
    }
}
