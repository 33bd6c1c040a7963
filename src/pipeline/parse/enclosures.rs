//! RSS enclosures with a relative URL, which feed-rs drops.
//!
//! feed-rs keeps an RSS `<enclosure>` as a MediaRSS content whose `url` is
//! a `Url`, and leaves the element out when the address cannot be made
//! absolute (`parser/rss2::handle_enclosure`). We parse without a base URI,
//! so that links stay as written and `normalize` resolves them against the
//! site the feed names; the price was that `url="/media/ep1.mp3"` survived
//! only under an absolute `xml:base`.
//!
//! This pass reads those enclosures back from the document feed-rs read and
//! hands each to its entry as a `rel="enclosure"` link with the address as
//! written: the form an Atom enclosure already takes, so `normalize`
//! resolves both the same way. Entries are matched to `<item>`s by
//! position, walking the document as feed-rs does (the first `<channel>`
//! under the root, its RSS `<item>` children, their RSS `<enclosure>`
//! children, `xml:base` stacked per element); if the counts disagree,
//! nothing is added.

use feed_rs::model::{Feed, FeedType, Link};
use quick_xml::NsReader;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;
use url::Url;

use super::fast::Ns;

/// `feed`, parsed by feed-rs from `xml`, with the relative enclosures it
/// dropped added to their entries.
pub(super) fn recover(mut feed: Feed, xml: &str) -> Feed {
    if !matches!(feed.feed_type, FeedType::RSS2 | FeedType::RSS0) || !xml.contains("enclosure") {
        return feed;
    }
    match dropped(xml) {
        Some((items, found)) if items == feed.entries.len() => {
            for (item, link) in found {
                feed.entries[item].links.push(link);
            }
        }
        _ => {}
    }
    feed
}

/// The number of items feed-rs read from `xml`, and the enclosures it
/// dropped as (item index, link); `None` if the document does not read.
fn dropped(xml: &str) -> Option<(usize, Vec<(usize, Link)>)> {
    let mut reader = NsReader::from_str(xml);
    reader.config_mut().expand_empty_elements = true;
    let mut depth = 0u32;
    // feed-rs's `xml:base` stack: (depth, base) for each element that set
    // one it could resolve.
    let mut bases: Vec<(u32, Url)> = Vec::new();
    let mut channel_seen = false;
    let mut in_channel = false;
    let mut items = 0usize;
    let mut in_item = false;
    let mut found = Vec::new();
    loop {
        let (resolved, event) = reader.read_resolved_event().ok()?;
        match event {
            Event::Start(start) => {
                depth += 1;
                push_base(&mut bases, depth, &start);
                // An unbound or undeclared prefix takes the document's
                // default, which is RSS's for an `<rss>` root.
                let rss = match resolved {
                    ResolveResult::Bound(ns) => Ns::of(ns.as_ref()) == Ns::Rss,
                    ResolveResult::Unknown(_) | ResolveResult::Unbound => true,
                };
                let qname = start.name().0;
                let local = qname.rsplit(':').next().unwrap_or(qname);
                match depth {
                    2 if !channel_seen && local == "channel" => {
                        channel_seen = true;
                        in_channel = true;
                    }
                    3 if in_channel && rss && local == "item" => {
                        items += 1;
                        in_item = true;
                    }
                    4 if in_item && rss && local == "enclosure" => {
                        if let Some(link) = relative_enclosure(&start, bases.last()) {
                            found.push((items - 1, link));
                        }
                    }
                    _ => {}
                }
            }
            Event::End(_) => {
                depth = depth.checked_sub(1)?;
                while bases.last().is_some_and(|(d, _)| *d > depth) {
                    bases.pop();
                }
                match depth {
                    // feed-rs reads nothing after the first channel.
                    1 if in_channel => return Some((items, found)),
                    2 => in_item = false,
                    _ => {}
                }
            }
            Event::Eof => return Some((items, found)),
            _ => {}
        }
    }
}

/// feed-rs's `xml_base_push`: an absolute `xml:base`, or a relative one
/// joined to the base in effect; one that resolves to nothing is ignored.
fn push_base(bases: &mut Vec<(u32, Url)>, depth: u32, start: &BytesStart<'_>) {
    let Some(value) = attr(start, "xml:base") else {
        return;
    };
    let base = match Url::parse(&value) {
        Ok(url) => Some(url),
        Err(url::ParseError::RelativeUrlWithoutBase) => {
            bases.last().and_then(|(_, last)| last.join(&value).ok())
        }
        Err(_) => None,
    };
    if let Some(base) = base {
        bases.push((depth, base));
    }
}

/// The `<enclosure>` as a link when feed-rs dropped it: its `url` is
/// relative and no `xml:base` in effect makes it absolute.
fn relative_enclosure(start: &BytesStart<'_>, base: Option<&(u32, Url)>) -> Option<Link> {
    let href = attr(start, "url")?;
    let href = href.trim();
    if href.is_empty() || Url::parse(href) != Err(url::ParseError::RelativeUrlWithoutBase) {
        return None;
    }
    if base.is_some_and(|(_, b)| b.join(href).is_ok()) {
        return None;
    }
    Some(Link {
        href: href.to_string(),
        target: None,
        rel: Some("enclosure".to_string()),
        media_type: attr(start, "type")
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty()),
        href_lang: None,
        title: None,
        length: attr(start, "length").and_then(|l| l.parse().ok()),
    })
}

/// The last attribute named `name` (prefix included), unescaped as feed-rs
/// does: as written when it does not unescape.
fn attr(start: &BytesStart<'_>, name: &str) -> Option<String> {
    start
        .attributes()
        .flatten()
        .filter(|a| a.key.0 == name)
        .last()
        .map(|a| match quick_xml::escape::unescape(&a.value) {
            Ok(value) => value.into_owned(),
            Err(_) => a.value.into_owned(),
        })
}

#[cfg(test)]
mod tests {
    use super::super::parse;
    use url::Url;

    /// An enclosure link: href, type, length.
    type Found = (String, Option<String>, Option<u64>);

    /// The enclosure links of each entry.
    fn enclosures(doc: &str) -> Vec<Vec<Found>> {
        let base = Url::parse("https://example.com/feed.xml").unwrap();
        let feed = parse(doc.as_bytes(), &base, None).unwrap();
        feed.entries
            .iter()
            .map(|e| {
                e.links
                    .iter()
                    .filter(|l| l.rel.as_deref() == Some("enclosure"))
                    .map(|l| (l.href.clone(), l.media_type.clone(), l.length))
                    .collect()
            })
            .collect()
    }

    #[test]
    fn relative_enclosures_reach_their_own_items_as_written() {
        let doc = r#"<rss version="2.0"><channel><title>P</title>
            <item><title>none</title></item>
            <item><title>two</title>
              <enclosure url=" /media/ep2.mp3 " length="12" type="audio/mpeg"/>
              <enclosure url="ep2.jpg?a=1&amp;b=2" length="x"/>
              <enclosure url="https://cdn.test/ep2.ogg"/></item>
            <item xml:base="https://cdn.test/files/"><enclosure url="ep3.mp3"/></item>
            <item xml:base="relative/"><enclosure url="ep4.mp3"/></item>
            </channel></rss>"#;
        assert_eq!(
            enclosures(doc),
            [
                vec![],
                vec![
                    ("/media/ep2.mp3".into(), Some("audio/mpeg".into()), Some(12)),
                    ("ep2.jpg?a=1&b=2".into(), None, None),
                ],
                // feed-rs made it absolute itself.
                vec![],
                // A relative base resolves to nothing, so feed-rs drops it.
                vec![("ep4.mp3".into(), None, None)],
            ]
        );
    }

    #[test]
    fn enclosures_outside_rss_items_are_left_alone() {
        let doc = r#"<rss version="2.0" xmlns:x="urn:x"><channel><title>P</title>
            <enclosure url="/channel.mp3"/>
            <item><x:enclosure url="/other-namespace.mp3"/><foo><enclosure url="/nested.mp3"/></foo></item>
            </channel><channel><item><enclosure url="/second-channel.mp3"/></item></channel></rss>"#;
        assert_eq!(enclosures(doc), [Vec::new()]);
    }
}
