//! What an alert POSTs: one item in one of three formats.
//!
//! - `json`: tickerfeed's own schema, `"schema": "tickerfeed.alert/1"`
//!   (README "Alerts" documents every field). Fields are only ever added
//!   within a schema version; a change that breaks readers gets a new one.
//! - `ntfy`: ntfy's JSON publishing, POSTed to the server's root with the
//!   topic (the alert URL's last path segment) in the body, with `title`,
//!   `message`, `tags` (the mentioned symbols, and an emoji for the first
//!   one's direction) and `click` (the article).
//! - `slack`: an incoming webhook's `{"text": ...}`, with `<link|title>`
//!   and the text escaped as Slack asks (`&`, `<`, `>`).
//!
//! Every format carries the item's snapshot, mentioned symbols first (the
//! order the archive keeps them in), and names the symbols the item
//! mentions even without a price (the board had no quote as it was
//! archived, or the mention was found later): `json`'s `mentions`, ntfy's
//! `tags`, a line of ntfy's message and slack's text. An item whose feed
//! gave it no link is linked to its page on this site, as the feeds link
//! it, when the alert knows the server's public URL
//! (`AlertConfig::item_pages`).

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use url::Url;

use crate::clock::to_db_time;
use crate::config::{AlertConfig, AlertFormat};
use crate::model::{Entry, SnapshotQuote};

/// The `schema` field of a `json` message.
pub const JSON_SCHEMA: &str = "tickerfeed.alert/1";

/// One item as an alert tells of it.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertItem {
    pub entry: Entry,
    /// The symbols it mentions as the archive records them
    /// (`item_mentions`, `Store::item_mentions`), priced or not.
    pub mentions: Vec<String>,
    /// When it was first archived.
    pub archived_at: DateTime<Utc>,
}

impl AlertItem {
    /// The symbols it mentions, in the order its snapshot lists them
    /// ([`Entry::mentioned_symbols`]).
    fn symbols(&self) -> Vec<&str> {
        self.entry.mentioned_symbols(&self.mentions)
    }
}

/// A request ready to send.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub url: Url,
    pub body: Vec<u8>,
}

/// The idempotency key of `alert`'s message for item `uid`.
pub fn idempotency_key(alert: &str, uid: &str) -> String {
    format!("{alert}:{uid}")
}

/// The key of `tickerfeed alerts test`'s message for `uid`: another than
/// the real message's, so a receiver that drops a key it has seen never
/// takes the test for the real one and drops that.
pub fn test_key(alert: &str, uid: &str) -> String {
    format!("{alert}:test-{uid}")
}

/// `alert`'s message for `item`.
pub fn compose(alert: &AlertConfig, item: &AlertItem) -> Message {
    compose_as(alert, item, &idempotency_key(&alert.name, item.entry.uid()))
}

/// [`compose`], the body naming `key` (the header's) as its idempotency key.
pub fn compose_as(alert: &AlertConfig, item: &AlertItem, key: &str) -> Message {
    let pages = alert.item_pages.as_ref();
    let (url, body) = match alert.format {
        AlertFormat::Json => (
            alert.url.clone(),
            json!({
                "schema": JSON_SCHEMA,
                "kind": "item",
                "alert": alert.name,
                "idempotency_key": key,
                "item": item_json(item, pages),
            }),
        ),
        AlertFormat::Ntfy => ntfy(&alert.url, item, pages),
        AlertFormat::Slack => (
            alert.url.clone(),
            json!({ "text": slack_text(item, pages) }),
        ),
    };
    Message {
        url,
        body: serde_json::to_vec(&body).expect("a JSON value always serialises"),
    }
}

/// The item's object, its link its page under `pages` when it has none
/// of its own ([`Entry::link_or_page`]).
fn item_json(item: &AlertItem, pages: Option<&Url>) -> Value {
    let entry = &item.entry;
    let snapshot = entry.snapshot.as_ref().map(|s| {
        json!({
            "label": s.label,
            "taken_at": to_db_time(s.taken_at),
            "quotes": s.quotes.iter().map(quote_json).collect::<Vec<_>>(),
        })
    });
    json!({
            "uid": entry.uid(),
            "id": entry.id,
            "title": entry.title,
            "link": entry.link_or_page(pages),
            "published": entry.published.map(to_db_time),
            "updated": to_db_time(entry.updated),
            "archived_at": to_db_time(item.archived_at),
            "authors": entry.authors,
            // As the JSONL export gives it: beside `authors`, `null` for an
            // author without one, `[]` when none has one.
            "author_emails": entry.author_emails,
            "categories": entry.categories,
            "sources": entry.sources.iter().map(|s| json!({
                "name": s.name,
                "title": s.title,
                "feed_url": s.feed_url,
            })).collect::<Vec<_>>(),
            "mentions": item.symbols(),
            "snapshot": snapshot,
    })
}

/// The idempotency key of a summary of the items `uids`: the same set
/// gets the same key, so a retried summary is recognised as a repeat.
pub fn summary_key(alert: &str, uids: &[&str]) -> String {
    use sha2::{Digest, Sha256};
    let mut sorted = uids.to_vec();
    sorted.sort_unstable();
    let digest = Sha256::digest(sorted.join("\n").as_bytes());
    format!("{alert}:summary-{}", hex::encode(&digest[..8]))
}

/// One message standing for several items, sent when `max_per_hour`
/// would be exceeded: in `json`, `"kind": "summary"` with each item (and
/// its own idempotency key) under `items`; in ntfy and slack, a count
/// and one line per item.
pub fn compose_summary(alert: &AlertConfig, items: &[AlertItem]) -> (String, Message) {
    let uids: Vec<&str> = items.iter().map(|i| i.entry.uid()).collect();
    let key = summary_key(&alert.name, &uids);
    let heading = format!("{} new items ({})", items.len(), alert.name);
    let (url, body) = match alert.format {
        AlertFormat::Json => (
            alert.url.clone(),
            json!({
                "schema": JSON_SCHEMA,
                "kind": "summary",
                "alert": alert.name,
                "idempotency_key": key,
                "items": items.iter().map(|i| json!({
                    "idempotency_key": idempotency_key(&alert.name, i.entry.uid()),
                    "item": item_json(i, alert.item_pages.as_ref()),
                })).collect::<Vec<_>>(),
            }),
        ),
        AlertFormat::Ntfy => {
            let (root, topic) = ntfy_root(&alert.url);
            let lines: Vec<&str> = items.iter().map(|i| i.entry.title.as_str()).collect();
            (
                root,
                json!({
                    "topic": topic,
                    "title": heading,
                    "message": lines.join("\n"),
                    "tags": ["newspaper"],
                }),
            )
        }
        AlertFormat::Slack => {
            let mut lines = vec![format!("*{}*", slack_escape(&heading))];
            lines.extend(
                items
                    .iter()
                    .map(|i| format!("• {}", slack_link(&i.entry, alert.item_pages.as_ref()))),
            );
            (alert.url.clone(), json!({ "text": lines.join("\n") }))
        }
    };
    let body = serde_json::to_vec(&body).expect("a JSON value always serialises");
    (key, Message { url, body })
}

fn quote_json(q: &SnapshotQuote) -> Value {
    let text = |d: &Option<rust_decimal::Decimal>| d.map(|d| d.to_string());
    json!({
        "symbol": q.symbol,
        "name": q.name,
        "mentioned": q.mentioned,
        "price": q.price.to_string(),
        "change": text(&q.change),
        "change_percent": text(&q.change_percent),
        "currency": q.currency,
        "as_of": q.as_of.map(to_db_time),
        "session": q.session,
        "stale": q.stale,
    })
}

/// `BP 29.72 GBP +1.23%`.
fn quote_line(q: &SnapshotQuote) -> String {
    let mut s = format!("{} {}", q.symbol, q.price);
    if let Some(c) = &q.currency {
        s.push_str(&format!(" {c}"));
    }
    if let Some(p) = q.change_percent {
        let sign = if p.is_sign_negative() { "" } else { "+" };
        s.push_str(&format!(" {sign}{p}%"));
    }
    if q.stale {
        s.push_str(" (stale)");
    }
    s
}

/// The quotes, the mentioned symbols the snapshot has no price for, and
/// the sources, as plain lines, shared by ntfy and slack.
fn summary_lines(item: &AlertItem) -> Vec<String> {
    let entry = &item.entry;
    let mut lines = Vec::new();
    let quotes = entry.snapshot.iter().flat_map(|s| &s.quotes);
    if entry
        .snapshot
        .as_ref()
        .is_some_and(|s| !s.quotes.is_empty())
    {
        let shown: Vec<String> = quotes.clone().map(quote_line).collect();
        lines.push(shown.join(" · "));
    }
    let unpriced: Vec<&str> = item
        .symbols()
        .into_iter()
        .filter(|symbol| !quotes.clone().any(|q| q.symbol == *symbol))
        .collect();
    if !unpriced.is_empty() {
        lines.push(format!(
            "Mentions {} (no price recorded)",
            unpriced.join(", ")
        ));
    }
    if !entry.sources.is_empty() {
        lines.push(format!("via {}", entry.source_names().join(", ")));
    }
    lines
}

/// Where ntfy's JSON publishing goes, and the topic: the server's root
/// (or the folder the topic sits in, for a server under a path) and the
/// URL's last path segment.
fn ntfy_root(url: &Url) -> (Url, String) {
    let topic = url
        .path_segments()
        .and_then(|mut s| s.next_back())
        .unwrap_or_default()
        .to_string();
    let mut root = url.clone();
    if let Ok(mut segments) = root.path_segments_mut() {
        segments.pop().push("");
    }
    // The query stays: ntfy takes an access token as `?auth=`, on any
    // endpoint.
    (root, topic)
}

fn ntfy(url: &Url, item: &AlertItem, pages: Option<&Url>) -> (Url, Value) {
    let entry = &item.entry;
    let (root, topic) = ntfy_root(url);
    let mut tags: Vec<String> = Vec::new();
    // The direction is the first mentioned quote's: a symbol mentioned
    // without a price gets no emoji, only its tag.
    let first_quoted = entry
        .snapshot
        .iter()
        .flat_map(|s| &s.quotes)
        .find(|q| q.mentioned);
    if let Some(p) = first_quoted.and_then(|q| q.change_percent) {
        tags.push(
            if p.is_sign_negative() {
                "chart_with_downwards_trend"
            } else {
                "chart_with_upwards_trend"
            }
            .into(),
        );
    }
    tags.extend(item.symbols().into_iter().map(String::from));
    let lines = summary_lines(item);
    let text = if lines.is_empty() {
        entry.title.clone()
    } else {
        lines.join("\n")
    };
    let mut body = json!({
        "topic": topic,
        "title": entry.title,
        "message": text,
        "tags": tags,
    });
    if let Some(link) = entry.link_or_page(pages) {
        body["click"] = json!(link);
    }
    (root, body)
}

/// Slack's escaping for message text.
fn slack_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// `<link|title>`, or the title alone.
fn slack_link(entry: &Entry, pages: Option<&Url>) -> String {
    let title = slack_escape(&entry.title);
    match entry.link_or_page(pages) {
        // `|` ends the link's address, so it cannot appear in it.
        Some(link) => format!("<{}|{title}>", slack_escape(&link).replace('|', "%7C")),
        None => title,
    }
}

fn slack_text(item: &AlertItem, pages: Option<&Url>) -> String {
    let mut lines = vec![format!("*{}*", slack_link(&item.entry, pages))];
    lines.extend(summary_lines(item).iter().map(|l| slack_escape(l)));
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::AlertSource;
    use crate::model::{EntrySource, Snapshot};
    use crate::select::Selection;

    fn alert(format: AlertFormat, url: &str) -> AlertConfig {
        AlertConfig {
            name: "bp-moves".into(),
            watches: AlertSource::Main,
            selection: Selection::default(),
            url: Url::parse(url).unwrap(),
            format,
            secret: None,
            max_per_hour: None,
            allow_private: false,
            retry_for: std::time::Duration::from_secs(3600),
            item_pages: None,
        }
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn quote(symbol: &str, price: &str, pct: &str, mentioned: bool) -> SnapshotQuote {
        SnapshotQuote {
            symbol: symbol.into(),
            name: None,
            provider_symbol: symbol.into(),
            exchange: None,
            provider: "yahoo".into(),
            price: price.parse().unwrap(),
            change: None,
            change_percent: Some(pct.parse().unwrap()),
            currency: Some("GBP".into()),
            previous_close: None,
            as_of: None,
            fetched_at: at("2026-11-24T09:00:00Z"),
            session: "regular".into(),
            stale: false,
            mentioned,
        }
    }

    fn entry() -> Entry {
        Entry {
            id: "tag:tickerfeed,2026:item:abc123".into(),
            title: "BP <results> & more".into(),
            url: Some("https://wire.test/bp?a=1|2".into()),
            summary_html: None,
            content_html: None,
            authors: vec![],
            author_emails: vec![],
            categories: vec![],
            enclosures: Vec::new(),
            published: Some(at("2026-11-24T08:55:00Z")),
            updated: at("2026-11-24T09:00:00Z"),
            sources: vec![EntrySource {
                name: "wire".into(),
                title: Some("Wire".into()),
                feed_url: "https://wire.test/feed.xml".into(),
                site_url: None,
                feed_guid: None,
                updated: None,
            }],
            snapshot: Some(Snapshot {
                label: "LSE".into(),
                taken_at: at("2026-11-24T09:00:00Z"),
                quotes: vec![
                    quote("BP", "29.72", "-1.25", true),
                    quote("SHEL", "27.10", "0.40", false),
                ],
            }),
        }
    }

    /// `entry` as archived at 09:00, its mention of BP recorded.
    fn item(entry: Entry) -> AlertItem {
        AlertItem {
            entry,
            mentions: vec!["BP".into()],
            archived_at: at("2026-11-24T09:00:00Z"),
        }
    }

    fn body(m: &Message) -> Value {
        serde_json::from_slice(&m.body).unwrap()
    }

    /// QA s25: an item two feeds with one title carried read "via Odd &
    /// Ends, Flaky, Odd & Ends" in ntfy and slack; the pages list each
    /// title once, and so do alerts now.
    #[test]
    fn a_source_title_two_feeds_share_is_named_once() {
        let mut e = entry();
        let source = |name: &str, title: &str| EntrySource {
            name: name.into(),
            title: Some(title.into()),
            ..e.sources[0].clone()
        };
        e.sources = vec![
            source("odd", "Odd & Ends"),
            source("flaky", "Flaky"),
            source("odd2", "Odd & Ends"),
        ];
        let ntfy = compose(
            &alert(AlertFormat::Ntfy, "https://ntfy.test/my-topic"),
            &item(e.clone()),
        );
        let message = body(&ntfy)["message"].as_str().unwrap().to_string();
        assert!(message.ends_with("via Odd & Ends, Flaky"), "{message}");
        let slack = compose(
            &alert(AlertFormat::Slack, "https://hooks.slack.test/x"),
            &item(e.clone()),
        );
        let text = body(&slack)["text"].as_str().unwrap().to_string();
        assert!(text.contains("via Odd &amp; Ends, Flaky"), "{text}");
        assert!(!text.contains("Flaky, Odd"), "{text}");
    }

    #[test]
    fn json_carries_the_item_and_its_snapshot_mentioned_first() {
        let m = compose(
            &alert(AlertFormat::Json, "https://hooks.test/in"),
            &item(entry()),
        );
        let b = body(&m);
        assert_eq!(m.url.as_str(), "https://hooks.test/in");
        assert_eq!(b["schema"], JSON_SCHEMA);
        assert_eq!(b["kind"], "item");
        assert_eq!(b["idempotency_key"], "bp-moves:abc123");
        assert_eq!(b["item"]["uid"], "abc123");
        assert_eq!(b["item"]["sources"][0]["name"], "wire");
        assert_eq!(b["item"]["archived_at"], "2026-11-24T09:00:00Z");
        let quotes = &b["item"]["snapshot"]["quotes"];
        assert_eq!(quotes[0]["symbol"], "BP");
        assert_eq!(quotes[0]["mentioned"], true);
        assert_eq!(quotes[0]["price"], "29.72");
        assert_eq!(quotes[0]["change_percent"], "-1.25");
        assert_eq!(quotes[1]["mentioned"], false);
        assert_eq!(b["item"]["mentions"], json!(["BP"]));
        assert_eq!(b["item"]["author_emails"], json!([]));
    }

    /// QA s26: with the market provider down since the start, an item's
    /// mentions were recorded but its alert named none of them: `json`
    /// had only a null snapshot, ntfy's tags and slack's text no symbol.
    #[test]
    fn mentions_without_a_price_are_named_in_every_format() {
        let mut unpriced = item(entry());
        unpriced.entry.snapshot = None;
        unpriced.mentions = vec!["BP".into(), "SHEL".into()];
        let json = compose(
            &alert(AlertFormat::Json, "https://hooks.test/in"),
            &unpriced,
        );
        let b = body(&json);
        assert_eq!(b["item"]["mentions"], json!(["BP", "SHEL"]));
        assert_eq!(b["item"]["snapshot"], Value::Null);
        let ntfy = compose(&alert(AlertFormat::Ntfy, "https://ntfy.test/t"), &unpriced);
        let b = body(&ntfy);
        assert_eq!(
            b["tags"],
            json!(["BP", "SHEL"]),
            "no direction without a price"
        );
        let message = b["message"].as_str().unwrap();
        assert!(
            message.starts_with("Mentions BP, SHEL (no price recorded)\n"),
            "{message}"
        );
        let slack = compose(
            &alert(AlertFormat::Slack, "https://hooks.test/s"),
            &unpriced,
        );
        let text = body(&slack)["text"].as_str().unwrap().to_string();
        assert!(
            text.contains("\nMentions BP, SHEL (no price recorded)\n"),
            "{text}"
        );
        // With a snapshot, its mentioned symbols come first, in its order,
        // then the others recorded; only those lack a price.
        let mut mixed = item(entry());
        mixed.mentions = vec!["AAPL".into(), "BP".into()];
        let b = body(&compose(
            &alert(AlertFormat::Json, "https://hooks.test/in"),
            &mixed,
        ));
        assert_eq!(b["item"]["mentions"], json!(["BP", "AAPL"]));
        let b = body(&compose(
            &alert(AlertFormat::Ntfy, "https://ntfy.test/t"),
            &mixed,
        ));
        assert_eq!(
            b["tags"],
            json!(["chart_with_downwards_trend", "BP", "AAPL"])
        );
        let message = b["message"].as_str().unwrap();
        assert!(
            message.contains("\nMentions AAPL (no price recorded)\n"),
            "{message}"
        );
    }

    /// QA s26: a linkless item's alert had no link, though the feeds link
    /// it to its page; with `item_pages` (`[server] base_url`, pages on)
    /// every format links the page, without it none.
    #[test]
    fn a_linkless_item_links_its_page_when_there_is_one() {
        let mut linkless = item(entry());
        linkless.entry.url = None;
        let pages = |format, url| AlertConfig {
            item_pages: Some(Url::parse("https://tf.example.net/news/").unwrap()),
            ..alert(format, url)
        };
        let page = "https://tf.example.net/news/items/abc123";
        let b = body(&compose(
            &pages(AlertFormat::Json, "https://hooks.test/in"),
            &linkless,
        ));
        assert_eq!(b["item"]["link"], page);
        let b = body(&compose(
            &pages(AlertFormat::Ntfy, "https://ntfy.test/t"),
            &linkless,
        ));
        assert_eq!(b["click"], page);
        let b = body(&compose(
            &pages(AlertFormat::Slack, "https://hooks.test/s"),
            &linkless,
        ));
        let text = b["text"].as_str().unwrap();
        assert!(
            text.starts_with(&format!("*<{page}|BP &lt;results&gt; &amp; more>*")),
            "{text}"
        );
        // Its own link wins.
        let b = body(&compose(
            &pages(AlertFormat::Json, "https://hooks.test/in"),
            &item(entry()),
        ));
        assert_eq!(b["item"]["link"], "https://wire.test/bp?a=1|2");
        // No page to link to: no link.
        let b = body(&compose(
            &alert(AlertFormat::Json, "https://hooks.test/in"),
            &linkless,
        ));
        assert_eq!(b["item"]["link"], Value::Null);
        let b = body(&compose(
            &alert(AlertFormat::Ntfy, "https://ntfy.test/t"),
            &linkless,
        ));
        assert!(b.get("click").is_none(), "{b}");
        let b = body(&compose(
            &alert(AlertFormat::Slack, "https://hooks.test/s"),
            &linkless,
        ));
        assert!(
            b["text"]
                .as_str()
                .unwrap()
                .starts_with("*BP &lt;results&gt;"),
            "{b}"
        );
    }

    #[test]
    fn ntfy_posts_to_the_root_with_the_topic_in_the_body() {
        let m = compose(
            &alert(AlertFormat::Ntfy, "https://ntfy.test/my-topic"),
            &item(entry()),
        );
        let b = body(&m);
        assert_eq!(m.url.as_str(), "https://ntfy.test/");
        assert_eq!(b["topic"], "my-topic");
        assert_eq!(b["title"], "BP <results> & more");
        assert_eq!(b["click"], "https://wire.test/bp?a=1|2");
        assert_eq!(b["tags"], json!(["chart_with_downwards_trend", "BP"]));
        let message = b["message"].as_str().unwrap();
        assert!(
            message.starts_with("BP 29.72 GBP -1.25% · SHEL"),
            "{message}"
        );
        assert!(message.ends_with("via Wire"), "{message}");
        // A server under a path keeps it.
        let m = compose(
            &alert(AlertFormat::Ntfy, "https://example.test/ntfy/alerts"),
            &item(entry()),
        );
        assert_eq!(m.url.as_str(), "https://example.test/ntfy/");
        // An access token in the query goes along.
        let m = compose(
            &alert(AlertFormat::Ntfy, "https://ntfy.test/my-topic?auth=dG9rZW4"),
            &item(entry()),
        );
        assert_eq!(m.url.as_str(), "https://ntfy.test/?auth=dG9rZW4");
        assert_eq!(body(&m)["topic"], "my-topic");
    }

    #[test]
    fn a_summary_lists_each_item_with_its_own_key() {
        let mut other = entry();
        other.id = "tag:tickerfeed,2026:item:def456".into();
        other.title = "Shell buys".into();
        let items = [item(entry()), item(other)];
        let (key, m) = compose_summary(&alert(AlertFormat::Json, "https://hooks.test/in"), &items);
        let b = body(&m);
        assert_eq!(b["kind"], "summary");
        assert_eq!(b["idempotency_key"], key.as_str());
        assert!(key.starts_with("bp-moves:summary-"), "{key}");
        assert_eq!(b["items"][1]["idempotency_key"], "bp-moves:def456");
        assert_eq!(b["items"][1]["item"]["title"], "Shell buys");
        // The same set, in any order, has the same key.
        let swapped = [items[1].clone(), items[0].clone()];
        let (again, _) =
            compose_summary(&alert(AlertFormat::Json, "https://hooks.test/in"), &swapped);
        assert_eq!(key, again);
        let (_, m) = compose_summary(&alert(AlertFormat::Slack, "https://hooks.test/s"), &items);
        let text = body(&m)["text"].as_str().unwrap().to_string();
        assert!(
            text.starts_with("*2 new items (bp-moves)*\n• <https://wire.test/"),
            "{text}"
        );
        let (_, m) = compose_summary(&alert(AlertFormat::Ntfy, "https://ntfy.test/t"), &items);
        assert_eq!(body(&m)["title"], "2 new items (bp-moves)");
        assert_eq!(body(&m)["topic"], "t");
    }

    #[test]
    fn slack_text_links_the_title_and_escapes() {
        let m = compose(
            &alert(
                AlertFormat::Slack,
                "https://hooks.slack.test/services/T/B/X",
            ),
            &item(entry()),
        );
        let b = body(&m);
        let text = b["text"].as_str().unwrap();
        assert_eq!(b.as_object().unwrap().len(), 1, "{b}");
        assert!(
            text.starts_with(
                "*<https://wire.test/bp?a=1%7C2|BP &lt;results&gt; &amp; more>*\nBP 29.72 GBP -1.25%"
            ),
            "{text}"
        );
        assert!(text.ends_with("via Wire"), "{text}");
    }
}
