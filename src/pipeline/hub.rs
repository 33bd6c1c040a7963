//! WebSub discovery: which hub, if any, pushes a feed, and under which
//! topic URL (W3C WebSub §4).
//!
//! Read from what a poll brought back: HTTP `Link:` headers first (the
//! spec's preferred place), then the document itself: Atom `<link
//! rel="hub">`, RSS `<atom:link rel="hub">`, JSON Feed `hubs`. The topic
//! is the `rel="self"` link (JSON Feed's `feed_url`), else the URL that
//! was fetched. Only feed-level links count: the document is read up to
//! its first entry. Hands a [`HubLink`] to the orchestrator, which passes
//! it to the subscriber (`websub`); knows nothing of subscribing.

use std::sync::LazyLock;

use regex::Regex;
use url::Url;

/// A hub that says it pushes a feed, and the topic to subscribe to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubLink {
    pub hub: Url,
    pub topic: Url,
}

fn re(p: &str) -> Regex {
    Regex::new(p).expect("static regex")
}

/// One `<url>; params` element of a `Link:` header.
static HEADER_LINK: LazyLock<Regex> = LazyLock::new(|| re(r"<([^>]*)>((?:\s*;[^,<]*)*)"));
/// `rel=hub`, `rel="hub self"`.
static REL_PARAM: LazyLock<Regex> =
    LazyLock::new(|| re(r#"(?i)(?:^|;)\s*rel\s*=\s*(?:"([^"]*)"|([^\s;,]+))"#));
/// `<link ...>` or `<atom:link ...>` (any prefix) in a feed document.
static DOC_LINK: LazyLock<Regex> = LazyLock::new(|| re(r"(?is)<(?:[a-z0-9_-]+:)?link\b([^>]*)>"));
static ATTR: LazyLock<Regex> =
    LazyLock::new(|| re(r#"(?is)\b(rel|href)\s*=\s*(?:"([^"]*)"|'([^']*)')"#));
/// Where a document's first entry starts: links after it are an entry's.
/// Searched in the raw bytes, so only the head before it is decoded.
static FIRST_ENTRY: LazyLock<regex::bytes::Regex> = LazyLock::new(|| {
    regex::bytes::Regex::new(r"(?i)<(?:[a-z0-9_-]+:)?(?:entry|item)\b").expect("static regex")
});

/// The hub and topic that `headers` (the response's `Link:` values) and
/// `body` advertise, resolved against `base` (the URL the body came
/// from). `None` when no http(s) hub is named.
pub fn discover(headers: &[String], body: &[u8], base: &Url) -> Option<HubLink> {
    let mut from_headers = Links::default();
    for value in headers {
        from_headers.add_header(value, base);
    }
    let doc = document_links(body, base);
    let hub = from_headers.hub.or_else(|| doc.hub.clone())?;
    let topic = from_headers
        .topic
        .or(doc.topic)
        .unwrap_or_else(|| base.clone());
    Some(HubLink { hub, topic })
}

#[derive(Debug, Default)]
struct Links {
    hub: Option<Url>,
    topic: Option<Url>,
}

impl Links {
    fn offer(&mut self, rels: &str, href: &str, base: &Url) {
        let Some(url) = base.join(href.trim()).ok().filter(is_web) else {
            return;
        };
        for rel in rels.split_ascii_whitespace() {
            if rel.eq_ignore_ascii_case("hub") && self.hub.is_none() {
                self.hub = Some(url.clone());
            } else if rel.eq_ignore_ascii_case("self") && self.topic.is_none() {
                self.topic = Some(url.clone());
            }
        }
    }

    fn add_header(&mut self, value: &str, base: &Url) {
        for link in HEADER_LINK.captures_iter(value) {
            if let Some(rel) = REL_PARAM.captures(&link[2]) {
                let rels = rel.get(1).or(rel.get(2)).map_or("", |m| m.as_str());
                self.offer(rels, &link[1], base);
            }
        }
    }
}

fn is_web(u: &Url) -> bool {
    crate::link::is_web(u) && u.host_str().is_some()
}

/// The feed-level hub and self links of an Atom, RSS or JSON Feed document.
fn document_links(body: &[u8], base: &Url) -> Links {
    let mut links = Links::default();
    let start = body
        .iter()
        .position(|b| !b.is_ascii_whitespace() && *b != 0xEF && *b != 0xBB && *b != 0xBF);
    if start.is_some_and(|i| body[i] == b'{') {
        json_links(body, base, &mut links);
        return links;
    }
    // Elements are ASCII in every encoding feeds use bar UTF-16, which
    // simply yields nothing.
    let head = FIRST_ENTRY.find(body).map_or(body, |m| &body[..m.start()]);
    let head = String::from_utf8_lossy(head);
    for link in DOC_LINK.captures_iter(&head) {
        let (mut rel, mut href) = (None, None);
        for attr in ATTR.captures_iter(&link[1]) {
            let value = attr.get(2).or(attr.get(3)).map_or("", |m| m.as_str());
            match attr[1].to_ascii_lowercase().as_str() {
                "rel" => rel = Some(value.to_string()),
                _ => href = Some(unescape(value)),
            }
        }
        if let (Some(rel), Some(href)) = (rel, href) {
            links.offer(&rel, &href, base);
        }
    }
    links
}

/// JSON Feed 1.x: `hubs: [{type, url}]` (a WebSub one) and `feed_url`.
fn json_links(body: &[u8], base: &Url, links: &mut Links) {
    #[derive(serde::Deserialize)]
    struct Hub {
        #[serde(rename = "type", default)]
        kind: String,
        #[serde(default)]
        url: String,
    }
    #[derive(serde::Deserialize)]
    struct Doc {
        #[serde(default)]
        hubs: Vec<Hub>,
        feed_url: Option<String>,
    }
    let Ok(doc) = serde_json::from_slice::<Doc>(body) else {
        return;
    };
    if let Some(hub) = doc
        .hubs
        .iter()
        .find(|h| h.kind.eq_ignore_ascii_case("websub") || h.kind.eq_ignore_ascii_case("WebSub"))
    {
        links.offer("hub", &hub.url, base);
    }
    if let Some(url) = &doc.feed_url {
        links.offer("self", url, base);
    }
}

/// The five XML entities, which is all an attribute URL carries in practice.
fn unescape(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&#38;", "&")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Url {
        Url::parse("https://news.example.com/feed.xml").unwrap()
    }

    fn link(hub: &str, topic: &str) -> Option<HubLink> {
        Some(HubLink {
            hub: Url::parse(hub).unwrap(),
            topic: Url::parse(topic).unwrap(),
        })
    }

    #[test]
    fn atom_hub_and_self_links() {
        let doc = br#"<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom">
            <title>T</title><link href="https://news.example.com/"/>
            <link rel="self" href="/atom?x=1&amp;y=2"/>
            <link href='https://hub.example.net/' rel='hub'/>
            <entry><link rel="hub" href="https://wrong.example/"/></entry></feed>"#;
        assert_eq!(
            discover(&[], doc, &base()),
            link(
                "https://hub.example.net/",
                "https://news.example.com/atom?x=1&y=2"
            )
        );
    }

    #[test]
    fn rss_atom_link_without_self_uses_the_fetched_url() {
        let doc = br#"<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"><channel>
            <atom:link rel="hub" href="http://pubsubhubbub.appspot.com/"/>
            <item><title>a</title></item></channel></rss>"#;
        assert_eq!(
            discover(&[], doc, &base()),
            link(
                "http://pubsubhubbub.appspot.com/",
                "https://news.example.com/feed.xml"
            )
        );
    }

    #[test]
    fn link_headers_come_first() {
        let doc = br#"<feed><link rel="hub" href="https://doc-hub.example/"/></feed>"#;
        let headers = vec![
            r#"<https://news.example.com/>; rel="alternate", <https://hub.example/h>; rel="hub""#
                .to_string(),
            "</topic>; rel=self".to_string(),
        ];
        assert_eq!(
            discover(&headers, doc, &base()),
            link("https://hub.example/h", "https://news.example.com/topic")
        );
        // One element naming both relations.
        let both = vec![r#"<https://hub.example/>; rel="hub self""#.to_string()];
        assert_eq!(
            discover(&both, b"", &base()),
            link("https://hub.example/", "https://hub.example/")
        );
    }

    #[test]
    fn json_feed_hubs() {
        let doc = br#"{"version":"https://jsonfeed.org/version/1.1","title":"T",
            "feed_url":"https://news.example.com/feed.json",
            "hubs":[{"type":"rssCloud","url":"https://cloud.example/"},{"type":"WebSub","url":"https://hub.example/"}],
            "items":[]}"#;
        assert_eq!(
            discover(&[], doc, &base()),
            link("https://hub.example/", "https://news.example.com/feed.json")
        );
    }

    #[test]
    fn no_hub_or_a_hub_that_is_not_http() {
        assert_eq!(
            discover(&[], b"<rss><channel></channel></rss>", &base()),
            None
        );
        let doc = br#"<feed><link rel="hub" href="javascript:alert(1)"/></feed>"#;
        assert_eq!(discover(&[], doc, &base()), None);
        let self_only = br#"<feed><link rel="self" href="https://x.example/"/></feed>"#;
        assert_eq!(discover(&[], self_only, &base()), None);
    }
}
