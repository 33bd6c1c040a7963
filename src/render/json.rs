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
//!
//! A snapshot becomes the item's `_market` object (same `about`, the fields
//! of `tf:snapshot` and `tf:quote`), and each mentioned ticker a tag. With
//! `market_strip` on, the strip (`super::strip`) is appended to
//! `content_html`; where the title is the content, it becomes HTML first.

use std::borrow::Cow;

use serde::Serialize;

use super::text::html_to_text;
use super::tf::TF_NS;
use super::{Format, MergedFeed, RenderError, rfc3339, strip};
use crate::model::{Entry, EntrySource, Snapshot, SnapshotQuote};

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
    /// The next, older page of the archive.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_url: Option<&'a str>,
    /// JSON Feed 1.1 `hubs`: the WebSub hub of this feed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    hubs: Vec<JsonHub<'a>>,
    items: Vec<JsonItem<'a>>,
}

/// One entry of `hubs`: `{"type": "WebSub", "url": ...}`.
#[derive(Serialize)]
struct JsonHub<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    url: &'a str,
}

#[derive(Serialize)]
struct JsonItem<'a> {
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "str::is_empty")]
    title: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    content_html: Option<Cow<'a, str>>,
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
    #[serde(skip_serializing_if = "Vec::is_empty")]
    attachments: Vec<JsonAttachment<'a>>,
    #[serde(rename = "_tickerfeed", skip_serializing_if = "Option::is_none")]
    tickerfeed: Option<TickerfeedItem<'a>>,
    #[serde(rename = "_market", skip_serializing_if = "Option::is_none")]
    market: Option<MarketItem<'a>>,
}

#[derive(Serialize)]
struct JsonAuthor<'a> {
    name: &'a str,
}

/// A file attached to an item; `mime_type` is required by the spec.
#[derive(Serialize)]
struct JsonAttachment<'a> {
    url: &'a str,
    mime_type: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    size_in_bytes: Option<u64>,
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

/// The `_market` object of an item: `tf:snapshot` (docs/namespace.md).
#[derive(Serialize)]
struct MarketItem<'a> {
    about: &'static str,
    taken: String,
    label: &'a str,
    quotes: Vec<JsonQuote<'a>>,
}

/// One `tf:quote`, with the same names. Decimals are strings, as stored;
/// `stale` and `mentioned` are JSON booleans.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonQuote<'a> {
    symbol: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    provider_symbol: &'a str,
    provider: &'a str,
    price: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    change: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    change_percent: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    currency: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    previous_close: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    as_of: Option<String>,
    fetched: String,
    session: &'a str,
    stale: bool,
    mentioned: bool,
}

/// Renders `feed` as a JSON Feed 1.1 document.
pub fn render(feed: &MergedFeed) -> Result<Vec<u8>, RenderError> {
    let doc = JsonFeed {
        version: VERSION,
        title: &feed.title,
        home_page_url: feed.home_url.as_deref(),
        // The feed's identity, the same on every page (JSON Feed 1.1 calls
        // it the feed's unique identifier); pages link on with next_url.
        feed_url: feed.first_url.as_deref().or(feed.self_url.as_deref()),
        description: &feed.description,
        next_url: feed.next_url.as_deref(),
        hubs: feed
            .hub_url
            .iter()
            .map(|url| JsonHub {
                kind: "WebSub",
                url,
            })
            .collect(),
        items: feed.entries.iter().map(|entry| item(feed, entry)).collect(),
    };
    let mut out = serde_json::to_vec_pretty(&doc).map_err(|source| RenderError::Write {
        format: Format::Json,
        source: Box::new(source),
    })?;
    out.push(b'\n');
    Ok(out)
}

fn item<'a>(feed: &MergedFeed, entry: &'a Entry) -> JsonItem<'a> {
    let strip = strip::for_entry(feed, entry);
    let strip = strip.as_deref();
    let (content_html, content_text, summary) =
        match (entry.content_html.as_deref(), entry.summary_html.as_deref()) {
            (Some(content), summary) => {
                let summary = summary.map(html_to_text).filter(|s| !s.is_empty());
                (Some(strip::append(content, strip)), None, summary)
            }
            // JSON Feed requires content: a lone summary becomes it (and is
            // not repeated as `summary`), and with neither the title does.
            (None, Some(summary)) => (Some(strip::append(summary, strip)), None, None),
            (None, None) => match strip {
                Some(strip) => (
                    Some(Cow::Owned(strip::title_html(&entry.title) + strip)),
                    None,
                    None,
                ),
                None => (None, Some(entry.title.as_str()), None),
            },
        };
    let mut tags: Vec<&str> = entry.categories.iter().map(String::as_str).collect();
    for quote in entry.snapshot.iter().flat_map(|s| &s.quotes) {
        // JSON Feed tags have no scheme, so a ticker already there as a
        // plain category is not repeated.
        if quote.mentioned && !tags.contains(&quote.symbol.as_str()) {
            tags.push(&quote.symbol);
        }
    }
    JsonItem {
        id: &entry.id,
        url: feed.link_of(entry),
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
        tags,
        attachments: entry
            .enclosures
            .iter()
            .map(|file| JsonAttachment {
                url: &file.url,
                mime_type: file
                    .media_type
                    .as_deref()
                    .unwrap_or("application/octet-stream"),
                size_in_bytes: file.length,
            })
            .collect(),
        tickerfeed: (!entry.sources.is_empty()).then(|| TickerfeedItem {
            about: TF_NS,
            sources: entry.sources.iter().map(source).collect(),
        }),
        market: entry.snapshot.as_ref().map(market),
    }
}

fn market(snapshot: &Snapshot) -> MarketItem<'_> {
    MarketItem {
        about: TF_NS,
        taken: rfc3339(snapshot.taken_at),
        label: &snapshot.label,
        quotes: snapshot.quotes.iter().map(quote).collect(),
    }
}

fn quote(quote: &SnapshotQuote) -> JsonQuote<'_> {
    JsonQuote {
        symbol: &quote.symbol,
        name: quote.name.as_deref(),
        provider_symbol: &quote.provider_symbol,
        provider: &quote.provider,
        price: quote.price.to_string(),
        change: quote.change.map(|d| d.to_string()),
        change_percent: quote.change_percent.map(|d| d.to_string()),
        currency: quote.currency.as_deref(),
        previous_close: quote.previous_close.map(|d| d.to_string()),
        as_of: quote.as_of.map(rfc3339),
        fetched: rfc3339(quote.fetched_at),
        session: &quote.session,
        stale: quote.stale,
        mentioned: quote.mentioned,
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

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::super::samples::{
        awkward_snapshot, awkward_source, empty_feed, market_feed, sample_feed, snapshot,
    };
    use super::*;

    fn parse(feed: &MergedFeed) -> Value {
        serde_json::from_slice(&render(feed).unwrap()).unwrap()
    }

    #[test]
    fn hubs_lists_the_websub_hub_when_there_is_one() {
        let mut feed = sample_feed();
        assert!(parse(&feed).get("hubs").is_none());
        feed.hub_url = Some("https://tf.example.net/websub".into());
        assert_eq!(
            parse(&feed)["hubs"],
            json!([{ "type": "WebSub", "url": "https://tf.example.net/websub" }])
        );
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
    fn market_object_carries_every_quote() {
        let doc = parse(&market_feed());
        assert_eq!(
            doc["items"][0]["_market"],
            json!({
                "about": TF_NS,
                "taken": "2026-07-24T15:52:10Z",
                "label": "NYSE - LSE",
                "quotes": [
                    {
                        "symbol": "BP",
                        "name": "BP plc",
                        "providerSymbol": "BP.L",
                        "provider": "yahoo",
                        "price": "29.72",
                        "change": "0.20",
                        "changePercent": "0.67",
                        "currency": "USD",
                        "previousClose": "29.52",
                        "asOf": "2026-07-24T15:52:02Z",
                        "fetched": "2026-07-24T15:52:05Z",
                        "session": "regular",
                        "stale": false,
                        "mentioned": true
                    },
                    {
                        "symbol": "RELX",
                        "providerSymbol": "RELX",
                        "provider": "finnhub",
                        "price": "46.75",
                        "change": "-0.52",
                        "changePercent": "-1.10",
                        "currency": "USD",
                        "previousClose": "47.27",
                        "asOf": "2026-07-24T15:20:00Z",
                        "fetched": "2026-07-24T15:51:00Z",
                        "session": "regular",
                        "stale": true,
                        "mentioned": false
                    },
                    {
                        "symbol": "NGG",
                        "providerSymbol": "NGG",
                        "provider": "yahoo",
                        "price": "63.11",
                        "changePercent": "0",
                        "fetched": "2026-07-24T15:52:05Z",
                        "session": "regular",
                        "stale": false,
                        "mentioned": false
                    }
                ]
            })
        );
        let awkward = &doc["items"][1]["_market"];
        let expected = awkward_snapshot();
        assert_eq!(awkward["label"], expected.label);
        assert_eq!(awkward["quotes"][0]["symbol"], expected.quotes[0].symbol);
        assert_eq!(awkward["quotes"][0]["name"], json!(expected.quotes[0].name));
    }

    #[test]
    fn mentioned_tickers_become_tags_once() {
        let doc = parse(&market_feed());
        // `BP` is already a category of m1: not repeated.
        assert_eq!(doc["items"][0]["tags"], json!(["markets", "BP"]));
        assert_eq!(
            doc["items"][1]["tags"],
            json!([awkward_snapshot().quotes[0].symbol])
        );
        assert_eq!(doc["items"][2]["tags"], json!(["BP"]));
        assert!(doc["items"][4].get("tags").is_none());
    }

    #[test]
    fn strip_follows_the_content() {
        let doc = parse(&market_feed());
        let strip = strip::strip_html(&snapshot());
        let items = doc["items"].as_array().unwrap();
        let html: Vec<_> = items.iter().map(|i| i["content_html"].clone()).collect();
        assert_eq!(
            html,
            [
                json!(format!("<p>Long</p>{strip}")),
                json!(format!(
                    "<p>Story &lt;m2&gt;</p>{}",
                    strip::strip_html(&awkward_snapshot())
                )),
                json!(format!("<p>Story &lt;m3&gt;</p>{strip}")),
                json!(format!("<p>Short</p>{strip}")),
                json!("<p>Plain</p>"),
            ]
        );
        // The plain-text summary stays free of the strip.
        assert_eq!(items[0]["summary"], "Short");
        for item in items {
            assert!(item.get("content_text").is_none());
        }
    }

    #[test]
    fn without_the_strip_the_machine_readable_part_remains() {
        let mut feed = market_feed();
        feed.market_strip = false;
        let doc = parse(&feed);
        let items = doc["items"].as_array().unwrap();
        assert_eq!(items[0]["content_html"], "<p>Long</p>");
        assert_eq!(items[1]["content_text"], "Story <m2>");
        assert!(items[1].get("content_html").is_none());
        assert_eq!(items[3]["content_html"], "<p>Short</p>");
        for item in &items[..4] {
            assert_eq!(item["_market"]["about"], TF_NS);
            assert!(!item["_market"]["quotes"].as_array().unwrap().is_empty());
            assert!(!item["tags"].as_array().unwrap().is_empty());
        }
    }

    #[test]
    fn no_snapshot_no_market_object() {
        let doc = parse(&market_feed());
        assert!(doc["items"][4].get("_market").is_none());
        for item in parse(&sample_feed())["items"].as_array().unwrap() {
            assert!(item.get("_market").is_none());
        }
    }

    #[test]
    fn snapshot_without_quotes_has_an_empty_list_and_no_strip() {
        let mut feed = market_feed();
        feed.entries[0].snapshot.as_mut().unwrap().quotes.clear();
        let doc = parse(&feed);
        assert_eq!(doc["items"][0]["_market"]["quotes"], json!([]));
        assert_eq!(doc["items"][0]["content_html"], "<p>Long</p>");
    }

    #[test]
    fn feed_rs_reads_snapshot_items() {
        let parsed = feed_rs::parser::parse(render(&market_feed()).unwrap().as_slice()).unwrap();
        assert_eq!(parsed.entries.len(), 5);
        let body = parsed.entries[0]
            .content
            .as_ref()
            .and_then(|c| c.body.as_deref())
            .unwrap();
        assert!(body.contains("data: Yahoo Finance, Finnhub"), "{body}");
    }
}
