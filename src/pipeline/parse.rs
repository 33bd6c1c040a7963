//! Parse stage: bytes -> a feed-rs `Feed`, whatever the bytes are.
//!
//! Every parse runs behind `catch_unwind`: feed-rs (through quick-xml) can
//! panic on some inputs, and one hostile document must cost one poll, not
//! the daemon. Entries without an id get a marker instead of feed-rs's
//! random UUID fallback, so `normalize` can build a stable key itself. A body
//! that is an HTML page is reported as "not a feed", with the feed it links
//! to when it advertises one.

use std::sync::LazyLock;

use feed_rs::model::Feed;
use feed_rs::parser::{ParseErrorKind, ParseFeedError};
use regex::Regex;
use url::Url;

/// What feed-rs puts in `Entry::id` when the document gave none.
pub const GENERATED_ID: &str = "\u{0}tickerfeed:no-id";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ParseError {
    #[error("empty body")]
    Empty,
    #[error("not a feed (content type {}){}", .content_type.as_deref().unwrap_or("unknown"), .alternate.as_ref().map(|a| format!("; the page links a feed at {a}")).unwrap_or_default())]
    NotAFeed {
        content_type: Option<String>,
        alternate: Option<String>,
    },
    #[error("invalid feed: {0}")]
    Invalid(String),
    #[error("the feed parser crashed on this document")]
    Panicked,
}

/// Parses a feed document fetched from `base` (used to make the feed link
/// of an HTML page absolute).
pub fn parse(body: &[u8], base: &Url, content_type: Option<&str>) -> Result<Feed, ParseError> {
    let text_start = skip_bom_and_space(body);
    if text_start.is_empty() {
        return Err(ParseError::Empty);
    }
    match parse_isolated(body) {
        Ok(feed) => Ok(feed),
        Err(ParseError::Invalid(e)) if looks_like_html(text_start) => {
            let _ = e;
            Err(ParseError::NotAFeed {
                content_type: content_type.map(str::to_string),
                alternate: alternate_link(body, base),
            })
        }
        Err(ParseError::Invalid(_)) if has_versionless_rss_root(body) => {
            // feed-rs 3.0 rejects <rss> without a version (feed-rs#275);
            // real feeds omit it, so read it as RSS 2.0.
            parse_isolated(&with_rss_version(body))
        }
        Err(e) => Err(e),
    }
}

fn parse_isolated(body: &[u8]) -> Result<Feed, ParseError> {
    let parser = feed_rs::parser::Builder::new()
        // No base: relative links stay relative so that normalize can
        // resolve them against the site the feed names.
        .base_uri(None::<&str>)
        .id_generator(|_links, _title, _uri| GENERATED_ID.to_string())
        // Sanitising happens in normalize, with links made absolute.
        .sanitize_content(false)
        .build();
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| parser.parse(body))) {
        Ok(Ok(feed)) => Ok(feed),
        Ok(Err(e)) => Err(ParseError::Invalid(describe(&e))),
        Err(_) => Err(ParseError::Panicked),
    }
}

fn describe(e: &ParseFeedError) -> String {
    match e {
        ParseFeedError::ParseError(ParseErrorKind::NoFeedRoot) => {
            "no RSS, Atom or JSON Feed root element".into()
        }
        other => other.to_string(),
    }
}

fn skip_bom_and_space(body: &[u8]) -> &[u8] {
    let b = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    &b[start..]
}

fn looks_like_html(start: &[u8]) -> bool {
    let head: Vec<u8> = start.iter().take(512).map(u8::to_ascii_lowercase).collect();
    head.starts_with(b"<!doctype html")
        || head.starts_with(b"<html")
        || (head.starts_with(b"<!--") && head.windows(5).any(|w| w == b"<html"))
}

static RSS_ROOT: LazyLock<regex::bytes::Regex> =
    LazyLock::new(|| regex::bytes::Regex::new(r"<rss(\s[^>]*)?>").expect("static regex"));

fn has_versionless_rss_root(body: &[u8]) -> bool {
    RSS_ROOT
        .find(body)
        .is_some_and(|m| !m.as_bytes().windows(8).any(|w| w == b"version="))
}

fn with_rss_version(body: &[u8]) -> Vec<u8> {
    RSS_ROOT
        .replace(body, &b"<rss version=\"2.0\"$1>"[..])
        .into_owned()
}

static LINK_TAG: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?is)<link\b[^>]*>").expect("static regex"));
static ATTR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?is)([a-z-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))"#).expect("static regex")
});

/// The first `<link rel="alternate" type="application/rss+xml|atom+xml">`
/// of an HTML page, made absolute.
fn alternate_link(body: &[u8], base: &Url) -> Option<String> {
    let head = String::from_utf8_lossy(&body[..body.len().min(256 * 1024)]);
    for tag in LINK_TAG.find_iter(&head) {
        let (mut rel, mut ty, mut href) = (None, None, None);
        for a in ATTR.captures_iter(tag.as_str()) {
            let value = a
                .get(2)
                .or(a.get(3))
                .or(a.get(4))
                .map(|m| m.as_str().to_string());
            match a[1].to_ascii_lowercase().as_str() {
                "rel" => rel = value,
                "type" => ty = value,
                "href" => href = value,
                _ => {}
            }
        }
        let is_alt = rel.is_some_and(|r| {
            r.to_ascii_lowercase()
                .split_whitespace()
                .any(|r| r == "alternate")
        });
        let is_feed = ty.is_some_and(|t| {
            let t = t.to_ascii_lowercase();
            t.contains("rss+xml") || t.contains("atom+xml") || t.contains("feed+json")
        });
        if is_alt
            && is_feed
            && let Some(abs) = href.and_then(|h| base.join(&h).ok())
        {
            return Some(abs.to_string());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Url {
        Url::parse("https://example.com/news/feed.xml").unwrap()
    }

    #[test]
    fn rss_without_version_is_read_as_rss2() {
        let body = br#"<?xml version="1.0"?><rss><channel><title>T</title><item><title>A</title><guid>1</guid></item></channel></rss>"#;
        let feed = parse(body, &base(), None).unwrap();
        assert_eq!(feed.entries.len(), 1);
    }

    #[test]
    fn entries_without_id_get_the_marker_not_a_uuid() {
        let body = br#"<rss version="2.0"><channel><title>T</title><item><title>Only a title</title></item></channel></rss>"#;
        let feed = parse(body, &base(), None).unwrap();
        assert_eq!(feed.entries[0].id, GENERATED_ID);
    }

    #[test]
    fn html_page_is_not_a_feed_and_names_its_feed() {
        let body = br#"<!DOCTYPE html><html><head><link rel="alternate" type="application/rss+xml" href="/rss.xml"></head><body>hi</body></html>"#;
        let err = parse(body, &base(), Some("text/html; charset=utf-8")).unwrap_err();
        assert_eq!(
            err,
            ParseError::NotAFeed {
                content_type: Some("text/html; charset=utf-8".into()),
                alternate: Some("https://example.com/rss.xml".into()),
            }
        );
        assert!(err.to_string().contains("https://example.com/rss.xml"));
    }

    #[test]
    fn empty_and_truncated_bodies_are_errors() {
        assert_eq!(
            parse(b"  \n", &base(), None).unwrap_err(),
            ParseError::Empty
        );
        let truncated = br#"<rss version="2.0"><channel><title>T</title><item><title>A"#;
        assert!(matches!(
            parse(truncated, &base(), None),
            Err(ParseError::Invalid(_))
        ));
    }

    #[test]
    fn utf16be_does_not_take_the_process_down() {
        let text = r#"<?xml version="1.0" encoding="UTF-16BE"?><rss version="2.0"><channel><title>T</title></channel></rss>"#;
        let mut body = vec![0xFE, 0xFF];
        for u in text.encode_utf16() {
            body.extend_from_slice(&u.to_be_bytes());
        }
        // Whatever feed-rs does with it (it panics in 3.0.0), we get a Result.
        let _ = parse(&body, &base(), None);
    }
}
