//! JSON Feed 1.1 document of the merged feed
//! (<https://www.jsonfeed.org/version/1.1/>).
//!
//! Owns the JSON bytes handed back to [`super::render`]. The document is a
//! set of borrowed serde structs; absent values are left out, never `null`.
//! Every source of an item goes in the `_tickerfeed` extension object,
//! whose `about` points at the namespace document shared with Atom and RSS
//! ([`TF_NS`]).
//!
//! JSON Feed requires `content_html` or `content_text` on every item; the
//! fallbacks mirror the Atom ones: content, then summary, then the title.

use serde::Serialize;

use super::atom::{TF_NS, rfc3339};
use super::{Entry, EntrySource, Format, MergedFeed, RenderError};

const VERSION: &str = "https://jsonfeed.org/version/1.1";

#[derive(Serialize)]
struct JsonFeed<'a> {
    version: &'static str,
    title: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    home_page_url: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    feed_url: Option<&'a str>,
    #[serde(skip_serializing_if = "str::is_empty")]
    description: &'a str,
    items: Vec<JsonItem<'a>>,
}

#[derive(Serialize)]
struct JsonItem<'a> {
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<&'a str>,
    #[serde(skip_serializing_if = "str::is_empty")]
    title: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    content_html: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content_text: Option<&'a str>,
    /// Plain text, per the spec.
    #[serde(skip_serializing_if = "Option::is_none")]
    summary: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    date_published: Option<String>,
    date_modified: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    authors: Vec<JsonAuthor<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tags: Vec<&'a str>,
    #[serde(rename = "_tickerfeed", skip_serializing_if = "Option::is_none")]
    tickerfeed: Option<TickerfeedItem<'a>>,
}

#[derive(Serialize)]
struct JsonAuthor<'a> {
    name: &'a str,
}

/// The `_tickerfeed` object of an item (docs/namespace.md).
#[derive(Serialize)]
struct TickerfeedItem<'a> {
    about: &'static str,
    sources: Vec<JsonSource<'a>>,
}

#[derive(Serialize)]
struct JsonSource<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<&'a str>,
    feed_url: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    home_page_url: Option<&'a str>,
}

/// Renders `feed` as a JSON Feed 1.1 document.
pub fn render(feed: &MergedFeed) -> Result<Vec<u8>, RenderError> {
    let doc = JsonFeed {
        version: VERSION,
        title: &feed.title,
        home_page_url: feed.home_url.as_deref(),
        feed_url: feed.self_url.as_deref(),
        description: &feed.description,
        items: feed.entries.iter().map(item).collect(),
    };
    let mut out = serde_json::to_vec_pretty(&doc).map_err(|source| RenderError::Write {
        format: Format::Json,
        source: Box::new(source),
    })?;
    out.push(b'\n');
    Ok(out)
}

fn item(entry: &Entry) -> JsonItem<'_> {
    let (content_html, content_text, summary) =
        match (entry.content_html.as_deref(), entry.summary_html.as_deref()) {
            (Some(content), summary) => {
                let summary = summary.map(html_to_text).filter(|s| !s.is_empty());
                (Some(content), None, summary)
            }
            // JSON Feed requires content: a lone summary becomes it (and is
            // not repeated as `summary`), and with neither the title does.
            (None, Some(summary)) => (Some(summary), None, None),
            (None, None) => (None, Some(entry.title.as_str()), None),
        };
    JsonItem {
        id: &entry.id,
        url: entry.url.as_deref(),
        title: &entry.title,
        content_html,
        content_text,
        summary,
        date_published: entry.published.map(rfc3339),
        date_modified: rfc3339(entry.updated),
        authors: entry
            .authors
            .iter()
            .map(|name| JsonAuthor { name })
            .collect(),
        tags: entry.categories.iter().map(String::as_str).collect(),
        tickerfeed: (!entry.sources.is_empty()).then(|| TickerfeedItem {
            about: TF_NS,
            sources: entry.sources.iter().map(source).collect(),
        }),
    }
}

fn source(source: &EntrySource) -> JsonSource<'_> {
    JsonSource {
        name: &source.name,
        title: source.title.as_deref(),
        feed_url: &source.feed_url,
        home_page_url: source.site_url.as_deref(),
    }
}

/// Plain text of sanitised HTML, for JSON Feed's `summary`: tags dropped
/// (block-level ones leave a space so words do not run together), entities
/// decoded, whitespace collapsed. The input comes from the sanitiser, so
/// comments and `<script>` are already gone; quoted attribute values may
/// still contain `>`, so the scan tracks quotes inside tags.
fn html_to_text(html: &str) -> String {
    let mut text = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(c) = rest.chars().next() {
        if c == '<' && starts_tag(&rest[1..]) {
            let end = tag_end(rest);
            if is_block_tag(&rest[..end]) {
                text.push(' ');
            }
            rest = &rest[end..];
        } else if c == '&' {
            let (decoded, len) = decode_entity(rest);
            text.push_str(decoded.as_deref().unwrap_or("&"));
            rest = &rest[len..];
        } else {
            text.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Whether the text after a `<` opens a tag (as in the HTML tokenizer: a
/// letter, `/` or `!`); otherwise the `<` is a literal character.
fn starts_tag(after: &str) -> bool {
    after
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '/' || c == '!')
}

/// Byte length of the tag at the start of `s`, up to and including its
/// `>`, or all of `s` when the tag never closes.
fn tag_end(s: &str) -> usize {
    let mut quote = None;
    for (i, c) in s.char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '>') => return i + 1,
            _ => {}
        }
    }
    s.len()
}

fn is_block_tag(tag: &str) -> bool {
    const BLOCK: &[&str] = &[
        "address",
        "article",
        "aside",
        "blockquote",
        "br",
        "dd",
        "div",
        "dl",
        "dt",
        "figcaption",
        "figure",
        "footer",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "li",
        "ol",
        "p",
        "pre",
        "section",
        "table",
        "td",
        "th",
        "tr",
        "ul",
    ];
    let name: String = tag
        .trim_start_matches(['<', '/'])
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    BLOCK.contains(&name.as_str())
}

/// The character an entity at the start of `s` stands for, and the entity's
/// byte length. An unknown or malformed entity decodes to `None` with a
/// length of 1, so the `&` is kept as text.
fn decode_entity(s: &str) -> (Option<String>, usize) {
    let Some(end) = s
        .char_indices()
        .take(12)
        .find(|&(_, c)| c == ';')
        .map(|(i, _)| i)
    else {
        return (None, 1);
    };
    let name = &s[1..end];
    let decoded = match name {
        "amp" => Some('&'),
        "lt" => Some('<'),
        "gt" => Some('>'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        "nbsp" => Some('\u{A0}'),
        _ => name
            .strip_prefix("#x")
            .or_else(|| name.strip_prefix("#X"))
            .map(|hex| u32::from_str_radix(hex, 16))
            .or_else(|| name.strip_prefix('#').map(str::parse))
            .and_then(Result::ok)
            .and_then(char::from_u32),
    };
    match decoded {
        Some(c) => (Some(c.to_string()), end + 1),
        None => (None, 1),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::super::atom::tests::{awkward_source, empty_feed, sample_feed};
    use super::*;

    fn parse(feed: &MergedFeed) -> Value {
        serde_json::from_slice(&render(feed).unwrap()).unwrap()
    }

    #[test]
    fn same_feed_same_bytes() {
        assert_eq!(
            render(&sample_feed()).unwrap(),
            render(&sample_feed()).unwrap()
        );
    }

    #[test]
    fn top_level_fields() {
        let doc = parse(&sample_feed());
        assert_eq!(doc["version"], "https://jsonfeed.org/version/1.1");
        assert_eq!(doc["title"], "Markets & <b>news</b>");
        assert_eq!(doc["home_page_url"], "https://tf.example.net/");
        assert_eq!(doc["feed_url"], "https://tf.example.net/feed.atom");
        assert_eq!(doc["description"], "Headlines with a ticker board");
        assert_eq!(doc["items"].as_array().unwrap().len(), 4);
    }

    #[test]
    fn full_item() {
        let doc = parse(&sample_feed());
        let awkward = awkward_source();
        assert_eq!(
            doc["items"][0],
            json!({
                "id": "tag:tickerfeed,2026:item:a",
                "url": "https://www.bbc.co.uk/news/a?x=1&y=2",
                "title": "Shares <b>rise</b> & fall",
                "content_html": "<p>Long <em>story</em> &amp; more</p>",
                "summary": "Short & sweet",
                "date_published": "2026-03-01T09:30:00Z",
                "date_modified": "2026-03-01T11:00:00Z",
                "authors": [{"name": "Ann Author"}, {"name": "Bob"}],
                "tags": ["markets", "energy & oil"],
                "_tickerfeed": {
                    "about": TF_NS,
                    "sources": [
                        {
                            "name": "bbc-world",
                            "title": "BBC News - World",
                            "feed_url": "https://feeds.bbci.co.uk/news/world/rss.xml",
                            "home_page_url": "https://www.bbc.co.uk/news/world"
                        },
                        {
                            "name": awkward.name,
                            "title": awkward.title,
                            "feed_url": awkward.feed_url,
                            "home_page_url": awkward.site_url
                        }
                    ]
                }
            })
        );
    }

    #[test]
    fn absent_values_are_left_out_and_content_falls_back() {
        let doc = parse(&sample_feed());
        let items = doc["items"].as_array().unwrap();
        assert_eq!(
            items[1],
            json!({
                "id": "tag:tickerfeed,2026:item:b",
                "url": "https://example.org/b",
                "title": "Link only",
                "content_text": "Link only",
                "date_modified": "2026-02-28T08:00:00Z",
                "_tickerfeed": {
                    "about": TF_NS,
                    "sources": [{
                        "name": awkward_source().name,
                        "title": awkward_source().title,
                        "feed_url": awkward_source().feed_url,
                        "home_page_url": awkward_source().site_url
                    }]
                }
            })
        );
        assert_eq!(
            items[2],
            json!({
                "id": "tag:tickerfeed,2026:item:c",
                "title": "Bare <i>title</i>",
                "content_text": "Bare <i>title</i>",
                "date_modified": "2026-02-27T08:00:00Z"
            })
        );
        // A summary alone becomes the content, not a second copy of it.
        assert_eq!(items[3]["content_html"], "<p>Only a <b>summary</b></p>");
        assert!(items[3].get("summary").is_none());
        assert!(
            !render(&sample_feed())
                .unwrap()
                .windows(4)
                .any(|w| w == b"null")
        );
    }

    #[test]
    fn empty_feed_is_still_a_feed() {
        let doc = parse(&empty_feed());
        assert_eq!(
            doc,
            json!({
                "version": "https://jsonfeed.org/version/1.1",
                "title": "Empty",
                "items": []
            })
        );
        let parsed = feed_rs::parser::parse(render(&empty_feed()).unwrap().as_slice()).unwrap();
        assert!(parsed.entries.is_empty());
    }

    #[test]
    fn feed_rs_reads_every_item() {
        let parsed = feed_rs::parser::parse(render(&sample_feed()).unwrap().as_slice()).unwrap();
        assert_eq!(parsed.feed_type, feed_rs::model::FeedType::JSON);
        let ids: Vec<_> = parsed.entries.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "tag:tickerfeed,2026:item:a",
                "tag:tickerfeed,2026:item:b",
                "tag:tickerfeed,2026:item:c",
                "tag:tickerfeed,2026:item:d"
            ]
        );
    }

    #[test]
    fn html_to_text_keeps_words_apart_and_decodes_entities() {
        assert_eq!(
            html_to_text("<p>One &amp; <b>two</b></p><p>three&nbsp;&#8364;&#x41;</p>"),
            "One & two three €A"
        );
        assert_eq!(
            html_to_text(r#"<a href="x" title="a > b">link</a>ed"#),
            "linked"
        );
        assert_eq!(html_to_text("1 < 2 &bogus; & 3"), "1 < 2 &bogus; & 3");
        assert_eq!(html_to_text("line<br>break<br/>s"), "line break s");
        assert_eq!(html_to_text("<p>unclosed <a href=\"x"), "unclosed");
    }
}
