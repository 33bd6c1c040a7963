//! Parse stage: bytes -> a feed-rs `Feed` ([`ParsedFeed`]), whatever the
//! bytes are.
//!
//! A feed server can send anything: a feed in any encoding, a feed with
//! HTML entities in it, an RSS version feed-rs does not know, Atom 0.3, an
//! HTML page, an image, a billion-laughs bomb. Each of those costs at most
//! one poll, never the daemon, and most of them parse. Step by step:
//!
//! 1. **Sniff.** Nothing but whitespace is [`ParseError::Empty`]; an image,
//!    an archive or other binary is [`ParseError::NotAFeed`].
//! 2. **Decode** to UTF-8 ourselves (`charset.rs`: BOM, then the XML
//!    declaration, then the HTTP charset, then UTF-8, with fallbacks and
//!    U+FFFD for bytes nothing decodes), because feed-rs panics on UTF-16BE
//!    and never reads the HTTP charset.
//! 3. **JSON** goes through `jsonfeed.rs`, which coerces loose JSON Feed
//!    fields into what feed-rs accepts. JSON that is not a JSON Feed is not
//!    a feed.
//! 4. **XML**: junk before the declaration is dropped; an HTML page, or any
//!    document whose root is not a feed root, is "not a feed", with the feed
//!    the page links to when it advertises one. Ordinary RSS 2.0 and Atom
//!    1.0 (nothing to repair, no extension feed-rs maps specially) are read
//!    by `fast.rs` straight into feed-rs's model, with the same result as
//!    the steps below at under two thirds of the instructions
//!    (bench/results/parse-fast-path.md). Other feed documents go through
//!    `repair.rs` (no DTDs or entity expansion, HTML entities, a nesting
//!    limit, RSS versions, Atom 0.3 via `atom03.rs`).
//! 5. **feed-rs** parses the result behind `catch_unwind`. Entries without
//!    an id get a marker instead of feed-rs's random UUID fallback, so
//!    `normalize` can build a stable key itself. Dates are read by
//!    `dates.rs`: strictly first, then with feed-rs's repairs. The files
//!    feed-rs drops (an enclosure or MediaRSS content with a relative URL,
//!    an RSS item's enclosures beside MediaRSS, RSS 1.0's MediaRSS) are
//!    read back by `enclosures.rs`, in their places among the item's
//!    files, in a second read only documents with such a file pay for
//!    (the fast path declines every RSS enclosure and every MediaRSS
//!    element of an item or entry, and RSS 1.0).
//! 6. HTML in the result that nests deeper than [`MAX_DEPTH`] is reduced to
//!    its text (`deep_html.rs`): sanitising it would take time quadratic in
//!    its depth.
//! 7. What the document says that feed-rs's model has no room for goes
//!    beside it in the [`ParsedFeed`]: the RSS guids that say
//!    `isPermaLink="false"` (`guids.rs`: noted by the fast path as it
//!    reads, scanned for on the other route, and only when some item may
//!    lack a link), and the `xml:base` in scope for each Atom entry's
//!    summary and content (`xml_base.rs`: only for a document that names
//!    `xml:base`, which the fast path declines).
//!
//! What was repaired is logged (`debug` for XML repairs, `info` for an
//! encoding fallback, `warn` when characters or markup were lost); the
//! caller sees only the feed or the error.

mod atom03;
pub(super) mod charset;
mod dates;
mod deep_html;
mod enclosures;
mod fast;
mod guids;
mod html_entities;
mod jsonfeed;
mod repair;
mod xml_base;

use std::collections::HashSet;
use std::sync::LazyLock;

use feed_rs::model::Feed;
use feed_rs::parser::{ParseErrorKind, ParseFeedError};
use regex::Regex;
use tracing::{debug, info, warn};
use url::Url;

use crate::link::redact;
use crate::model::FailureKind;

use jsonfeed::Json;
pub use repair::MAX_DEPTH;
use repair::RepairError;

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
    /// Elements nested deeper than [`MAX_DEPTH`]: refused before any parser
    /// recursed into them.
    #[error("invalid feed: elements nest more than {limit} levels deep")]
    TooDeep { limit: usize },
    #[error("the feed parser crashed on this document")]
    Panicked,
}

impl ParseError {
    /// How a poll that ends with this error failed.
    pub fn failure_kind(&self) -> FailureKind {
        match self {
            ParseError::Empty => FailureKind::Empty,
            ParseError::NotAFeed { .. } => FailureKind::NotAFeed,
            ParseError::Panicked => FailureKind::ParserPanic,
            ParseError::Invalid(_) | ParseError::TooDeep { .. } => FailureKind::Parse,
        }
    }
}

/// A feed document as the parse stage hands it to `normalize`: feed-rs's
/// model of it, and what the document says that the model has no room
/// for.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedFeed {
    pub feed: Feed,
    /// RSS guids, trimmed as entry ids are, whose `<guid>` says
    /// `isPermaLink="false"`: none is the link of an item that lacks one.
    /// Read only when `normalize` could take some item's guid for its link
    /// (`guids.rs`); empty otherwise.
    pub not_permalinks: HashSet<String>,
    /// For each of `feed.entries`, in order, the `xml:base` in scope for
    /// its summary and content (`xml_base.rs`); empty when the document
    /// sets none for them, as nearly every one does.
    pub text_bases: Vec<TextBases>,
}

impl ParsedFeed {
    /// `feed`, of a document that says nothing beyond it.
    fn of(feed: Feed) -> Self {
        ParsedFeed {
            feed,
            not_permalinks: HashSet::new(),
            text_bases: Vec::new(),
        }
    }
}

/// The `xml:base` in scope for an Atom entry's summary and content,
/// absolute (resolved against the document's address); `None` where the
/// document sets none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TextBases {
    pub summary: Option<Url>,
    pub content: Option<Url>,
}

/// Parses a feed document fetched from `base` (used to make the feed link
/// of an HTML page absolute, and as the outermost base of `xml:base`),
/// served with `content_type` (whose charset is one of the encoding
/// sources).
pub fn parse(
    body: &[u8],
    base: &Url,
    content_type: Option<&str>,
) -> Result<ParsedFeed, ParseError> {
    parse_via(body, base, content_type, Route::Fast).map(|(parsed, _)| parsed)
}

/// Which reader made a feed of an XML document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    /// `fast.rs`, when it takes the document.
    Fast,
    /// The repair pass and feed-rs.
    General,
}

/// [`parse`], with the fast path tried first (`Route::Fast`) or not at all;
/// returns the route that made the feed.
fn parse_via(
    body: &[u8],
    base: &Url,
    content_type: Option<&str>,
    route: Route,
) -> Result<(ParsedFeed, Route), ParseError> {
    let not_a_feed = |alternate: Option<String>| ParseError::NotAFeed {
        content_type: content_type.map(str::to_string),
        alternate,
    };
    if skip_bom_and_space(body).is_empty() {
        return Err(ParseError::Empty);
    }
    if is_binary(body) {
        return Err(not_a_feed(None));
    }

    let decoded = charset::decode(body, content_type);
    if decoded.lossy {
        warn!(
            feed_url = %redact(base.as_str()),
            encoding = decoded.encoding.name(),
            source = ?decoded.source,
            "feed has bytes no encoding it names can decode; replaced with U+FFFD"
        );
    } else if let Some(failed) = decoded.fell_back_from {
        info!(
            feed_url = %redact(base.as_str()),
            declared = failed.name(),
            used = decoded.encoding.name(),
            source = ?decoded.source,
            "feed is not in the encoding it declares; decoded with another one it names"
        );
    }
    // quick-xml lets characters XML 1.0 forbids through, and a title with a
    // form feed in it would make our own Atom output invalid.
    let text = crate::markup::xml_chars(decoded.text).into_owned();
    // A second BOM (a file with one, included by a page that sent one).
    let text = text.trim_start_matches(|c: char| c.is_whitespace() || c == '\u{FEFF}');
    if text.is_empty() {
        return Err(ParseError::Empty);
    }

    if text.starts_with(['{', '[']) {
        return match jsonfeed::prepare(text) {
            Json::Feed(json) => parse_isolated(json.as_bytes())
                .map(|f| (ParsedFeed::of(defuse(f, base)), Route::General)),
            Json::NotAFeed => Err(not_a_feed(None)),
            Json::Invalid(e) => Err(ParseError::Invalid(e)),
        };
    }

    let page = text;
    let text = skip_leading_junk(page);
    if looks_like_html(text.as_bytes()) {
        return Err(not_a_feed(alternate_link(page, base)));
    }
    match repair::root_element(text) {
        Some(root) if root.is_feed() => {}
        _ => return Err(not_a_feed(alternate_link(page, base))),
    }
    // A panic in the fast path (a bug, not the document's fault) costs
    // only the fast path: the general one still reads the document.
    if route == Route::Fast
        && let Ok(Some((feed, not_permalinks))) = std::panic::catch_unwind(|| fast::parse(text))
    {
        let parsed = ParsedFeed {
            not_permalinks: guids::kept(&feed, not_permalinks),
            // The fast path declines every `xml:base`: none is in scope.
            ..ParsedFeed::of(defuse(feed, base))
        };
        return Ok((parsed, Route::Fast));
    }
    let (xml, repairs) = repair::repair(text).map_err(|e| match e {
        RepairError::TooDeep => ParseError::TooDeep { limit: MAX_DEPTH },
        RepairError::Truncated { open } => {
            ParseError::Invalid(format!("document ends inside <{open}>; truncated?"))
        }
    })?;
    if !repairs.is_empty() {
        // The feed's URL may carry an API key (`link::redact`).
        debug!(feed_url = %redact(base.as_str()), ?repairs, "repaired feed XML before parsing");
    }
    let feed = enclosures::recover(defuse(parse_isolated(xml.as_bytes())?, base), &xml);
    let has_items = ["<item>", "<item ", "<entry>", "<entry "]
        .iter()
        .any(|tag| xml.contains(tag));
    if feed.entries.is_empty() && has_items {
        warn!(feed_url = %redact(base.as_str()), "feed parsed with no entries, but the document has items");
    }
    let parsed = ParsedFeed {
        not_permalinks: guids::read(&feed, &xml),
        text_bases: xml_base::text_bases(&feed, &xml, base),
        feed,
    };
    Ok((parsed, Route::General))
}

/// HTML nested too deep for `normalize` to sanitise in reasonable time
/// becomes text (`deep_html.rs`).
fn defuse(mut feed: Feed, base: &Url) -> Feed {
    let reduced = deep_html::defuse(&mut feed, MAX_DEPTH);
    if reduced > 0 {
        warn!(
            feed_url = %redact(base.as_str()),
            reduced,
            "HTML nested more than {MAX_DEPTH} levels deep was reduced to its text"
        );
    }
    feed
}

fn parse_isolated(body: &[u8]) -> Result<Feed, ParseError> {
    let parser = feed_rs::parser::Builder::new()
        // No base: relative links stay relative so that normalize can
        // resolve them against the site the feed names.
        .base_uri(None::<&str>)
        .id_generator(|_links, _title, _uri| GENERATED_ID.to_string())
        // Sanitising happens in normalize, with links made absolute.
        .sanitize_content(false)
        // Well-formed dates read strictly, before feed-rs's regex repairs.
        .timestamp_parser(dates::timestamp)
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

/// Images, archives, PDFs and other bodies that are not text at all.
fn is_binary(body: &[u8]) -> bool {
    const MAGIC: &[&[u8]] = &[
        b"\x89PNG\r\n\x1a\n",
        b"GIF87a",
        b"GIF89a",
        b"\xFF\xD8\xFF",
        b"%PDF-",
        b"PK\x03\x04",
        b"\x1F\x8B",
        b"\x28\xB5\x2F\xFD",
        b"\x00\x00\x01\x00",
        b"\x00asm",
        b"OggS",
        b"ID3",
    ];
    let riff_webp = body.len() >= 12 && &body[..4] == b"RIFF" && &body[8..12] == b"WEBP";
    let iso_media = body.len() >= 8 && &body[4..8] == b"ftyp";
    // Other binary decodes to something without a root element, which is
    // "not a feed" too; these are only the common ones, named early.
    MAGIC.iter().any(|m| body.starts_with(m)) || riff_webp || iso_media
}

/// Drops what some servers print before the document (PHP warnings, say):
/// everything before an XML declaration, or before a feed root when the
/// text does not start with markup, found in the first few kilobytes. A
/// declaration after a feed root is content (a code sample in CDATA), not
/// the start of the document.
fn skip_leading_junk(text: &str) -> &str {
    const WINDOW: usize = 4096;
    const ROOTS: [&str; 3] = ["<rss", "<feed", "<rdf:RDF"];
    let mut end = text.len().min(WINDOW);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let head = &text[..end];
    if let Some(at) = head.find("<?xml")
        && !ROOTS.iter().any(|root| head[..at].contains(root))
    {
        return &text[at..];
    }
    if text.starts_with('<') {
        return text;
    }
    ROOTS
        .iter()
        .filter_map(|root| head.find(root))
        .min()
        .map_or(text, |at| &text[at..])
}

fn looks_like_html(start: &[u8]) -> bool {
    let head: Vec<u8> = start.iter().take(512).map(u8::to_ascii_lowercase).collect();
    head.starts_with(b"<!doctype html")
        || head.starts_with(b"<html")
        || (head.starts_with(b"<!--") && head.windows(5).any(|w| w == b"<html"))
}

static LINK_TAG: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?is)<link\b[^>]*>").expect("static regex"));
static ATTR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?is)([a-z-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))"#).expect("static regex")
});

/// The first `<link rel="alternate" type="application/rss+xml|atom+xml">`
/// of a page, made absolute.
fn alternate_link(text: &str, base: &Url) -> Option<String> {
    let mut end = text.len().min(256 * 1024);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    for tag in LINK_TAG.find_iter(&text[..end]) {
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
        let feed = parse(body, &base(), None).unwrap().feed;
        assert_eq!(feed.entries.len(), 1);
    }

    #[test]
    fn entries_without_id_get_the_marker_not_a_uuid() {
        let body = br#"<rss version="2.0"><channel><title>T</title><item><title>Only a title</title></item></channel></rss>"#;
        let feed = parse(body, &base(), None).unwrap().feed;
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
    fn utf16be_is_transcoded_before_feed_rs_sees_it() {
        let text = r#"<?xml version="1.0" encoding="UTF-16BE"?><rss version="2.0"><channel><title>Café</title></channel></rss>"#;
        let mut body = vec![0xFE, 0xFF];
        for u in text.encode_utf16() {
            body.extend_from_slice(&u.to_be_bytes());
        }
        // feed-rs 3.0.0 panics on these bytes; it never gets them.
        let feed = parse(&body, &base(), None).unwrap().feed;
        assert_eq!(feed.title.unwrap().content, "Café");
    }

    #[test]
    fn http_charset_decodes_what_the_document_does_not_declare() {
        let (body, _, _) = encoding_rs::KOI8_R
            .encode("<rss version=\"2.0\"><channel><title>Новости</title></channel></rss>");
        let feed = parse(&body, &base(), Some("text/xml; charset=koi8-r"))
            .unwrap()
            .feed;
        assert_eq!(feed.title.unwrap().content, "Новости");
    }

    #[test]
    fn rss_094_and_atom_03_have_their_entries() {
        let rss = br#"<rss version="0.94"><channel><title>T</title><item><title>A</title></item></channel></rss>"#;
        assert_eq!(parse(rss, &base(), None).unwrap().feed.entries.len(), 1);
        let atom = br#"<feed version="0.3" xmlns="http://purl.org/atom/ns#"><title>T</title>
            <entry><title>A</title><id>urn:a</id><issued>2004-01-02T03:04:05Z</issued></entry></feed>"#;
        let feed = parse(atom, &base(), None).unwrap().feed;
        assert_eq!(feed.entries.len(), 1);
        assert!(feed.entries[0].published.is_some());
    }

    #[test]
    fn html_entities_are_decoded_and_doctypes_ignored() {
        let body = br#"<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY x "boom">]><rss version="2.0"><channel><title>Caf&eacute; &mdash; &x;</title></channel></rss>"#;
        let feed = parse(body, &base(), None).unwrap().feed;
        assert_eq!(feed.title.unwrap().content, "Café — &x;");
    }

    #[test]
    fn deep_nesting_is_refused() {
        let body = format!(
            "<rss version=\"2.0\"><channel>{}</channel></rss>",
            "<x>".repeat(MAX_DEPTH + 1)
        );
        assert_eq!(
            parse(body.as_bytes(), &base(), None).unwrap_err(),
            ParseError::TooDeep { limit: MAX_DEPTH }
        );
    }

    #[test]
    fn json_feeds_with_loose_types_parse_and_other_json_does_not() {
        let body =
            br#"{"version":"https://jsonfeed.org/version/1.1","items":[{"id":7,"title":"A"}]}"#;
        let feed = parse(body, &base(), None).unwrap().feed;
        assert_eq!(feed.entries[0].id, "7");
        assert!(matches!(
            parse(br#"{"status":"ok"}"#, &base(), Some("application/json")),
            Err(ParseError::NotAFeed { .. })
        ));
    }

    #[test]
    fn a_declaration_inside_the_feed_is_not_where_it_starts() {
        let body = br#"<rss version="2.0"><channel><title>T</title><item><title>A</title><description><![CDATA[Write <?xml version="1.0"?> first]]></description></item></channel></rss>"#;
        assert_eq!(parse(body, &base(), None).unwrap().feed.entries.len(), 1);
    }

    #[test]
    fn binary_and_plain_text_are_not_feeds() {
        for body in [
            &b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"[..],
            b"GIF89a\x01\0",
            b"Service Unavailable",
        ] {
            assert!(
                matches!(parse(body, &base(), None), Err(ParseError::NotAFeed { .. })),
                "{body:?}"
            );
        }
    }
}
