//! RSS 2.0 document of the merged feed.
//!
//! Owns the RSS bytes handed back to [`super::render`]. Built with the `rss`
//! crate, which escapes text and attribute values itself, so nothing here
//! escapes by hand (doing so would give `&amp;amp;`). Values only lose the
//! characters XML cannot carry at all (`markup::xml_chars`), which quick-xml
//! would write verbatim.
//!
//! RSS 2.0 lacks some of what Atom has, so:
//! - authors go in `dc:creator`: RSS `<author>` must be an email address;
//! - the self link is an `atom:link rel="self"`, written as a plain extension
//!   because the crate's `atom` feature is off;
//! - `<source>` names the first feed that carried the item, `tf:sources` all
//!   of them (docs/namespace.md).
//!
//! A snapshot becomes `tf:snapshot` (the same attributes as in Atom, written
//! alphabetically) and one `<category domain="…#ticker">` per mentioned
//! ticker. With `market_strip` on, the strip (`super::strip`) is appended to
//! the description; an item with no description gets the strip as one.

use std::collections::BTreeMap;

use rss::extension::dublincore::DublinCoreExtension;
use rss::extension::{Extension, ExtensionMap};
use rss::{Category, Channel, Enclosure, Guid, Item, Source};

use super::tf::{self, TF_NS, TF_TICKER_SCHEME};
use super::xml::ATOM_NS;
use super::{Format, MergedFeed, RenderError, strip};
use crate::model::{Entry, EntrySource, Snapshot};

/// Renders `feed` as an RSS 2.0 document.
pub fn render(feed: &MergedFeed) -> Result<Vec<u8>, RenderError> {
    let mut channel = Channel {
        title: xml_text(&feed.title),
        link: xml_text(channel_link(feed)),
        // RSS requires a description; an empty one trips validators.
        description: xml_text(if feed.description.is_empty() {
            &feed.title
        } else {
            &feed.description
        }),
        last_build_date: Some(feed.updated.to_rfc2822()),
        generator: Some(format!("tickerfeed {}", env!("CARGO_PKG_VERSION"))),
        items: feed.entries.iter().map(|entry| item(feed, entry)).collect(),
        ..Channel::default()
    };
    // `dc` is declared by the crate whenever an item has a `dc:creator`.
    let mut namespaces = BTreeMap::from([("tf".to_string(), TF_NS.to_string())]);
    // atom:link for self, the WebSub hub and, RFC 5005 style, the first
    // and next pages. The hub is another kind of resource: no type.
    let links: Vec<Extension> = [
        ("self", &feed.self_url),
        ("hub", &feed.hub_url),
        ("first", &feed.first_url),
        ("next", &feed.next_url),
    ]
    .into_iter()
    .filter_map(|(rel, url)| {
        url.as_ref().map(|url| {
            let mut attrs =
                BTreeMap::from([("href".into(), xml_text(url)), ("rel".into(), rel.into())]);
            if rel != "hub" {
                attrs.insert("type".into(), "application/rss+xml".into());
            }
            Extension {
                name: "atom:link".into(),
                attrs,
                ..Extension::default()
            }
        })
    })
    .collect();
    if !links.is_empty() {
        namespaces.insert("atom".into(), ATOM_NS.into());
        channel.extensions = BTreeMap::from([(
            "atom".to_string(),
            BTreeMap::from([("link".to_string(), links)]),
        )]);
    }
    channel.namespaces = namespaces;

    channel
        .write_to(Vec::new())
        .map_err(|source| RenderError::Write {
            format: Format::Rss,
            source: Box::new(source),
        })
}

/// The channel `<link>`, which RSS 2.0 requires and readers show as "visit
/// website". In order: the home page; the feed's own URL, which at least
/// opens and, unlike an article link, stays the same from one poll to the
/// next; the first entry that has a link. With none of them (no URLs known
/// and no entry links) the link is empty: a reader resolves an empty
/// reference to the document itself, while a made-up value such as
/// `about:blank` would be followed as written.
fn channel_link(feed: &MergedFeed) -> &str {
    feed.home_url
        .as_deref()
        .or(feed.self_url.as_deref())
        .or_else(|| feed.entries.iter().find_map(|e| e.url.as_deref()))
        .unwrap_or("")
}

fn item(feed: &MergedFeed, entry: &Entry) -> Item {
    let strip = strip::for_entry(feed, entry);
    let description = match (
        entry
            .content_html
            .as_deref()
            .or(entry.summary_html.as_deref()),
        strip.as_deref(),
    ) {
        (Some(html), strip) => Some(xml_text(&strip::append(html, strip))),
        (None, Some(strip)) => Some(xml_text(strip)),
        (None, None) => None,
    };
    let tickers = entry
        .snapshot
        .iter()
        .flat_map(|s| &s.quotes)
        .filter(|q| q.mentioned)
        .map(|q| Category {
            name: xml_text(&q.symbol),
            domain: Some(TF_TICKER_SCHEME.into()),
        });
    let mut extensions = tf_sources(&entry.sources);
    if let Some(snapshot) = &entry.snapshot {
        extensions
            .entry("tf".into())
            .or_default()
            .insert("snapshot".into(), vec![tf_snapshot(snapshot)]);
    }
    Item {
        // A post without a title (as Mastodon's) gets the pages' stand-in:
        // readers list items by title.
        title: Some(xml_text(&super::text::title_of(entry))),
        link: feed.link_of(entry).as_deref().map(xml_text),
        description,
        categories: entry
            .categories
            .iter()
            .map(|name| Category {
                name: xml_text(name),
                domain: None,
            })
            .chain(tickers)
            .collect(),
        // Entry ids are `tag:` URIs, not pages: not permalinks.
        guid: Some(Guid {
            value: xml_text(&entry.id),
            permalink: false,
        }),
        pub_date: Some(entry.date().to_rfc2822()),
        source: entry.sources.first().map(|first| Source {
            url: xml_text(&first.feed_url),
            title: Some(xml_text(first.title.as_deref().unwrap_or(&first.name))),
        }),
        // RSS carries one enclosure per item: the first.
        enclosure: entry.enclosures.first().map(|file| Enclosure {
            url: xml_text(&file.url),
            // Both are required; 0 is the usual "unknown length".
            length: file.length.unwrap_or(0).to_string(),
            mime_type: xml_text(
                file.media_type
                    .as_deref()
                    .unwrap_or("application/octet-stream"),
            ),
        }),
        dublin_core_ext: (!entry.authors.is_empty()).then(|| DublinCoreExtension {
            creators: entry.authors.iter().map(|a| xml_text(a)).collect(),
            ..DublinCoreExtension::default()
        }),
        extensions,
        ..Item::default()
    }
}

/// `tf:snapshot` with one `tf:quote` per quote, the same attributes as in
/// Atom (`tf::quote_attrs`). The crate escapes the values.
fn tf_snapshot(snapshot: &Snapshot) -> Extension {
    let attrs = |pairs: Vec<(&str, String)>| {
        pairs
            .into_iter()
            .map(|(key, value)| (key.to_string(), xml_text(&value)))
            .collect()
    };
    let quotes: Vec<_> = snapshot
        .quotes
        .iter()
        .map(|quote| Extension {
            name: "tf:quote".into(),
            attrs: attrs(tf::quote_attrs(quote)),
            ..Extension::default()
        })
        .collect();
    Extension {
        name: "tf:snapshot".into(),
        attrs: attrs(tf::snapshot_attrs(snapshot)),
        children: if quotes.is_empty() {
            BTreeMap::new()
        } else {
            BTreeMap::from([("quote".to_string(), quotes)])
        },
        ..Extension::default()
    }
}

/// `tf:sources`, the same shape as in Atom. Empty when there are no sources.
fn tf_sources(sources: &[EntrySource]) -> ExtensionMap {
    if sources.is_empty() {
        return ExtensionMap::default();
    }
    let listed = sources
        .iter()
        .map(|source| {
            let mut attrs = BTreeMap::from([
                ("name".to_string(), xml_text(&source.name)),
                ("feedUrl".to_string(), xml_text(&source.feed_url)),
            ]);
            if let Some(site_url) = &source.site_url {
                attrs.insert("siteUrl".into(), xml_text(site_url));
            }
            Extension {
                name: "tf:source".into(),
                value: source.title.as_deref().map(xml_text),
                attrs,
                children: BTreeMap::new(),
            }
        })
        .collect();
    let wrapper = Extension {
        name: "tf:sources".into(),
        children: BTreeMap::from([("source".to_string(), listed)]),
        ..Extension::default()
    };
    extension_map("tf", "sources", wrapper)
}

fn extension_map(prefix: &str, local_name: &str, extension: Extension) -> ExtensionMap {
    BTreeMap::from([(
        prefix.to_string(),
        BTreeMap::from([(local_name.to_string(), vec![extension])]),
    )])
}

/// `s` as the `rss` crate should get it: see `markup::xml_chars`.
fn xml_text(s: &str) -> String {
    crate::markup::xml_chars(s).into_owned()
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::super::samples::{
        at, awkward_snapshot, awkward_source, empty_feed, market_feed, sample_feed, snapshot,
    };
    use super::*;

    fn render_str(feed: &MergedFeed) -> String {
        String::from_utf8(render(feed).unwrap()).unwrap()
    }

    fn parse(feed: &MergedFeed) -> Channel {
        Channel::from_str(&render_str(feed)).unwrap()
    }

    #[test]
    fn starts_with_utf8_xml_declaration() {
        let xml = render_str(&sample_feed());
        assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?><rss version=\"2.0\""));
    }

    #[test]
    fn the_hub_is_an_untyped_atom_link_when_there_is_one() {
        let mut feed = sample_feed();
        let links = |c: &Channel| -> Vec<(String, Option<String>)> {
            c.extensions
                .get("atom")
                .and_then(|a| a.get("link"))
                .into_iter()
                .flatten()
                .filter(|l| l.attrs.get("rel").map(String::as_str) == Some("hub"))
                .map(|l| (l.attrs["href"].clone(), l.attrs.get("type").cloned()))
                .collect()
        };
        assert!(links(&parse(&feed)).is_empty());
        feed.hub_url = Some("https://tf.example.net/websub".into());
        assert_eq!(
            links(&parse(&feed)),
            [("https://tf.example.net/websub".to_string(), None)]
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
    fn channel_carries_required_elements() {
        let channel = parse(&sample_feed());
        assert_eq!(channel.title, "Markets & <b>news</b>");
        assert_eq!(channel.link, "https://tf.example.net/");
        assert_eq!(channel.description, "Headlines with a ticker board");
        assert_eq!(
            channel.last_build_date.as_deref(),
            Some("Sun, 1 Mar 2026 12:00:00 +0000")
        );
        assert_eq!(
            channel.generator,
            Some(format!("tickerfeed {}", env!("CARGO_PKG_VERSION")))
        );
        assert_eq!(channel.namespaces["atom"], ATOM_NS);
        assert_eq!(channel.namespaces["tf"], TF_NS);
        assert_eq!(channel.namespaces["dc"], "http://purl.org/dc/elements/1.1/");
        let self_link = &channel.extensions["atom"]["link"][0];
        assert_eq!(self_link.attrs["rel"], "self");
        assert_eq!(self_link.attrs["href"], "https://tf.example.net/feed.atom");
        assert_eq!(self_link.attrs["type"], "application/rss+xml");
    }

    #[test]
    fn channel_link_falls_back_to_self_then_first_entry_link() {
        let mut feed = sample_feed();
        feed.home_url = None;
        assert_eq!(parse(&feed).link, "https://tf.example.net/feed.atom");

        feed.self_url = None;
        feed.entries[0].url = None;
        let channel = parse(&feed);
        assert_eq!(channel.link, "https://example.org/b");
        assert!(!channel.namespaces.contains_key("atom"));
        assert!(channel.extensions.is_empty());

        let channel = parse(&empty_feed());
        assert_eq!(channel.link, "");
        // An empty description would trip validators: the title stands in.
        assert_eq!(channel.description, "Empty");
    }

    #[test]
    fn items_keep_their_order_and_ids() {
        let channel = parse(&sample_feed());
        let guids: Vec<_> = channel
            .items
            .iter()
            .map(|i| {
                let guid = i.guid.as_ref().unwrap();
                assert!(!guid.permalink);
                guid.value.as_str()
            })
            .collect();
        assert_eq!(
            guids,
            [
                "tag:tickerfeed,2026:item:a",
                "tag:tickerfeed,2026:item:b",
                "tag:tickerfeed,2026:item:c",
                "tag:tickerfeed,2026:item:d"
            ]
        );
        assert!(
            render_str(&sample_feed())
                .contains("<guid isPermaLink=\"false\">tag:tickerfeed,2026:item:a</guid>")
        );
    }

    #[test]
    fn full_item_round_trips() {
        let channel = parse(&sample_feed());
        let a = &channel.items[0];
        assert_eq!(a.title.as_deref(), Some("Shares <b>rise</b> & fall"));
        assert_eq!(
            a.link.as_deref(),
            Some("https://www.bbc.co.uk/news/a?x=1&y=2")
        );
        // Content wins over the summary.
        assert_eq!(
            a.description.as_deref(),
            Some("<p>Long <em>story</em> &amp; more</p>")
        );
        let categories: Vec<_> = a.categories.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(categories, ["markets", "energy & oil"]);
        assert_eq!(
            a.pub_date.as_deref(),
            Some("Sun, 1 Mar 2026 09:30:00 +0000")
        );
        assert_eq!(a.author, None);
        assert_eq!(
            a.dublin_core_ext.as_ref().unwrap().creators,
            ["Ann Author", "Bob"]
        );
        let source = a.source.as_ref().unwrap();
        assert_eq!(source.url, "https://feeds.bbci.co.uk/news/world/rss.xml");
        assert_eq!(source.title.as_deref(), Some("BBC News - World"));
    }

    #[test]
    fn markup_in_titles_is_escaped_text() {
        let xml = render_str(&sample_feed());
        assert!(xml.contains("<title>Shares &lt;b&gt;rise&lt;/b&gt; &amp; fall</title>"));
        assert!(xml.contains("<title>Markets &amp; &lt;b&gt;news&lt;/b&gt;</title>"));
    }

    #[test]
    fn description_falls_back_to_the_summary() {
        let channel = parse(&sample_feed());
        assert_eq!(channel.items[1].description, None);
        assert_eq!(channel.items[2].description, None);
        assert_eq!(
            channel.items[3].description.as_deref(),
            Some("<p>Only a <b>summary</b></p>")
        );
    }

    #[test]
    fn pub_date_is_rfc822_from_published_else_updated() {
        let channel = parse(&sample_feed());
        let dates: Vec<_> = channel
            .items
            .iter()
            .map(|i| i.pub_date.as_deref().unwrap())
            .collect();
        assert_eq!(
            dates,
            [
                "Sun, 1 Mar 2026 09:30:00 +0000",
                "Sat, 28 Feb 2026 08:00:00 +0000",
                "Fri, 27 Feb 2026 08:00:00 +0000",
                "Thu, 26 Feb 2026 07:00:00 +0000"
            ]
        );
        for date in dates {
            chrono::DateTime::parse_from_rfc2822(date).unwrap();
        }
        assert_eq!(
            at(2026, 3, 1, 9, 30).to_rfc2822(),
            "Sun, 1 Mar 2026 09:30:00 +0000"
        );
    }

    #[test]
    fn source_names_the_first_feed_with_awkward_values_intact() {
        let channel = parse(&sample_feed());
        let source = channel.items[1].source.as_ref().unwrap();
        let awkward = awkward_source();
        assert_eq!(source.url, awkward.feed_url);
        assert_eq!(source.title, awkward.title);
        assert!(channel.items[2].source.is_none());
    }

    #[test]
    fn tf_sources_list_every_source_and_round_trip_awkward_values() {
        let channel = parse(&sample_feed());
        let sources = &channel.items[0].extensions["tf"]["sources"];
        assert_eq!(sources.len(), 1);
        assert_eq!(sources[0].name, "tf:sources");
        let listed = &sources[0].children["source"];
        assert_eq!(listed.len(), 2);

        assert_eq!(listed[0].name, "tf:source");
        assert_eq!(listed[0].attrs["name"], "bbc-world");
        assert_eq!(
            listed[0].attrs["feedUrl"],
            "https://feeds.bbci.co.uk/news/world/rss.xml"
        );
        assert_eq!(
            listed[0].attrs["siteUrl"],
            "https://www.bbc.co.uk/news/world"
        );
        assert_eq!(listed[0].value.as_deref(), Some("BBC News - World"));

        let awkward = awkward_source();
        assert_eq!(listed[1].attrs["name"], awkward.name);
        assert_eq!(listed[1].attrs["feedUrl"], awkward.feed_url);
        assert_eq!(listed[1].attrs["siteUrl"], awkward.site_url.unwrap());
        assert_eq!(listed[1].value, awkward.title);

        assert!(channel.items[2].extensions.is_empty());
    }

    #[test]
    fn characters_xml_cannot_carry_are_dropped() {
        let mut feed = sample_feed();
        feed.entries[0].title = "bell\u{7}".into();
        feed.entries[0].sources[0].name = "esc\u{1B}ape".into();
        let channel = parse(&feed);
        assert_eq!(channel.items[0].title.as_deref(), Some("bell"));
        let listed = &channel.items[0].extensions["tf"]["sources"][0].children["source"];
        assert_eq!(listed[0].attrs["name"], "escape");
    }

    #[test]
    fn empty_feed_is_still_a_feed() {
        let channel = parse(&empty_feed());
        assert_eq!(channel.title, "Empty");
        assert!(channel.items.is_empty());
        assert_eq!(
            channel.last_build_date.as_deref(),
            Some("Thu, 1 Jan 1970 00:00:00 +0000")
        );
        let parsed = feed_rs::parser::parse(render(&empty_feed()).unwrap().as_slice()).unwrap();
        assert!(parsed.entries.is_empty());
    }

    #[test]
    fn feed_rs_reads_every_item() {
        let parsed = feed_rs::parser::parse(render(&sample_feed()).unwrap().as_slice()).unwrap();
        assert_eq!(parsed.feed_type, feed_rs::model::FeedType::RSS2);
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
        let authors: Vec<_> = parsed.entries[0]
            .authors
            .iter()
            .filter_map(|p| p.name.as_deref())
            .collect();
        assert_eq!(authors, ["Ann Author", "Bob"]);
    }

    fn tf_snapshot_of(item: &Item) -> Option<&Extension> {
        item.extensions
            .get("tf")
            .and_then(|tf| tf.get("snapshot"))
            .map(|s| {
                assert_eq!(s.len(), 1);
                &s[0]
            })
    }

    #[test]
    fn snapshot_elements_carry_every_quote() {
        let channel = parse(&market_feed());
        assert_eq!(channel.namespaces["tf"], TF_NS);
        let snapshot = tf_snapshot_of(&channel.items[0]).unwrap();
        assert_eq!(snapshot.name, "tf:snapshot");
        assert_eq!(
            snapshot.attrs,
            BTreeMap::from([
                ("label".to_string(), "NYSE - LSE".to_string()),
                ("taken".to_string(), "2026-07-24T15:52:10Z".to_string()),
            ])
        );
        let quotes = &snapshot.children["quote"];
        let symbols: Vec<_> = quotes.iter().map(|q| q.attrs["symbol"].as_str()).collect();
        assert_eq!(symbols, ["BP", "RELX", "NGG"]);
        let bp: Vec<_> = quotes[0]
            .attrs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(quotes[0].name, "tf:quote");
        assert_eq!(
            bp,
            [
                ("asOf", "2026-07-24T15:52:02Z"),
                ("change", "0.20"),
                ("changePercent", "0.67"),
                ("currency", "USD"),
                ("fetched", "2026-07-24T15:52:05Z"),
                ("mentioned", "true"),
                ("name", "BP plc"),
                ("previousClose", "29.52"),
                ("price", "29.72"),
                ("provider", "yahoo"),
                ("providerSymbol", "BP.L"),
                ("session", "regular"),
                ("stale", "false"),
                ("symbol", "BP"),
            ]
        );
        assert_eq!(quotes[1].attrs["changePercent"], "-1.10");
        assert_eq!(quotes[1].attrs["stale"], "true");
        let ngg: Vec<_> = quotes[2].attrs.keys().map(String::as_str).collect();
        assert_eq!(
            ngg,
            [
                "changePercent",
                "fetched",
                "mentioned",
                "price",
                "provider",
                "providerSymbol",
                "session",
                "stale",
                "symbol"
            ]
        );
    }

    #[test]
    fn awkward_snapshot_values_round_trip() {
        let channel = parse(&market_feed());
        let snapshot = tf_snapshot_of(&channel.items[1]).unwrap();
        let awkward = awkward_snapshot();
        assert_eq!(snapshot.attrs["label"], awkward.label);
        let quote = &snapshot.children["quote"][0].attrs;
        let expected = &awkward.quotes[0];
        assert_eq!(quote["symbol"], expected.symbol);
        assert_eq!(&quote["name"], expected.name.as_ref().unwrap());
        assert_eq!(quote["providerSymbol"], expected.provider_symbol);
        assert_eq!(quote["provider"], expected.provider);
        assert_eq!(&quote["currency"], expected.currency.as_ref().unwrap());
        // Escaped once by the crate, not twice.
        assert!(!render_str(&market_feed()).contains("&amp;amp;"));
    }

    #[test]
    fn one_category_per_mentioned_ticker() {
        let channel = parse(&market_feed());
        let categories: Vec<_> = channel.items[0]
            .categories
            .iter()
            .map(|c| (c.name.as_str(), c.domain.as_deref()))
            .collect();
        assert_eq!(
            categories,
            [
                ("markets", None),
                ("BP", None),
                ("BP", Some(TF_TICKER_SCHEME))
            ]
        );
        let awkward = &channel.items[1].categories;
        assert_eq!(awkward.len(), 1);
        assert_eq!(awkward[0].name, awkward_snapshot().quotes[0].symbol);
        assert_eq!(awkward[0].domain.as_deref(), Some(TF_TICKER_SCHEME));
    }

    #[test]
    fn strip_follows_the_description() {
        let channel = parse(&market_feed());
        let strip = strip::strip_html(&snapshot());
        let descriptions: Vec<_> = channel
            .items
            .iter()
            .map(|i| i.description.clone().unwrap())
            .collect();
        assert_eq!(
            descriptions,
            [
                format!("<p>Long</p>{strip}"),
                strip::strip_html(&awkward_snapshot()),
                strip.clone(),
                format!("<p>Short</p>{strip}"),
                "<p>Plain</p>".to_string(),
            ]
        );
    }

    #[test]
    fn without_the_strip_the_machine_readable_part_remains() {
        let mut feed = market_feed();
        feed.market_strip = false;
        let channel = parse(&feed);
        let descriptions: Vec<_> = channel
            .items
            .iter()
            .map(|i| i.description.as_deref())
            .collect();
        assert_eq!(
            descriptions,
            [
                Some("<p>Long</p>"),
                None,
                None,
                Some("<p>Short</p>"),
                Some("<p>Plain</p>")
            ]
        );
        for item in &channel.items[..4] {
            assert!(!tf_snapshot_of(item).unwrap().children["quote"].is_empty());
            assert!(
                item.categories
                    .iter()
                    .any(|c| c.domain.as_deref() == Some(TF_TICKER_SCHEME))
            );
        }
    }

    #[test]
    fn no_snapshot_no_market_elements() {
        let channel = parse(&market_feed());
        let m5 = &channel.items[4];
        assert!(tf_snapshot_of(m5).is_none());
        assert!(m5.categories.is_empty());
        for item in parse(&sample_feed()).items {
            assert!(tf_snapshot_of(&item).is_none());
            assert!(item.categories.iter().all(|c| c.domain.is_none()));
        }
        assert!(!render_str(&sample_feed()).contains("tf:snapshot"));
    }

    #[test]
    fn snapshot_without_quotes_has_no_children_and_no_strip() {
        let mut feed = market_feed();
        feed.entries[0].snapshot.as_mut().unwrap().quotes.clear();
        let channel = parse(&feed);
        let snapshot = tf_snapshot_of(&channel.items[0]).unwrap();
        assert_eq!(snapshot.attrs["label"], "NYSE - LSE");
        assert!(snapshot.children.is_empty());
        assert_eq!(channel.items[0].description.as_deref(), Some("<p>Long</p>"));
    }

    #[test]
    fn feed_rs_reads_snapshot_items() {
        let parsed = feed_rs::parser::parse(render(&market_feed()).unwrap().as_slice()).unwrap();
        assert_eq!(parsed.entries.len(), 5);
        let summary = &parsed.entries[0].summary.as_ref().unwrap().content;
        assert!(summary.contains("▼ −1.10% 46.75 USD (stale)"), "{summary}");
    }
}
