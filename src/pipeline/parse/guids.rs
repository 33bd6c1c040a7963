//! RSS guids that say they are no permalinks, which feed-rs cannot tell.
//!
//! RSS 2.0: a `<guid>` is the item's permalink unless it says
//! `isPermaLink="false"`. feed-rs keeps the guid as the entry's id and
//! drops the attribute, and `normalize` takes a guid that is a web address
//! for the link an item lacks; a publisher whose guids are its CMS's
//! internal addresses (`<guid isPermaLink="false">https://cms.internal/id/8841</guid>`)
//! said not to. This module hands `normalize` the guids that said so
//! ([`super::ParsedFeed::not_permalinks`]).
//!
//! They matter only for an item `normalize` may take its guid for, one
//! whose id is a web address and whose first link is not one
//! ([`may_stand_in`]); in nearly every feed each item has its `<link>`,
//! and nothing more is read. Otherwise the fast path has noted them as it
//! read (`fast.rs`), and a document feed-rs read is scanned once more for
//! them ([`scan`]). Both routes keep the same guids, so the fast path's
//! differential tests compare like with like. The attribute's name and
//! value are read without regard to case (`isPermalink="False"` is
//! common, and means the same).

use std::borrow::Cow;
use std::collections::HashSet;

use feed_rs::model::{Entry, Feed, FeedType};
use quick_xml::NsReader;
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;
use url::Url;

use super::fast::Ns;
use crate::link::is_web;

/// Whether the `<guid>` tag `start` says it is no permalink.
pub(super) fn denies_permalink(start: &BytesStart<'_>) -> bool {
    start.attributes().flatten().any(|a| {
        a.key.0.eq_ignore_ascii_case("isPermaLink") && {
            let value = quick_xml::escape::unescape(&a.value).unwrap_or(Cow::Borrowed(&a.value));
            value.trim().eq_ignore_ascii_case("false")
        }
    })
}

/// The guids among `noted` (as the fast path read them, untrimmed) that
/// `normalize` needs to know of in `feed`.
pub(super) fn kept(feed: &Feed, noted: Vec<Cow<'_, str>>) -> HashSet<String> {
    if noted.is_empty() || !may_stand_in(feed) {
        return HashSet::new();
    }
    collect(noted)
}

/// The guids of `xml`, the document feed-rs read as `feed`, that say they
/// are no permalinks, when `normalize` may need them.
pub(super) fn read(feed: &Feed, xml: &str) -> HashSet<String> {
    if !may_stand_in(feed) {
        return HashSet::new();
    }
    collect(scan(xml))
}

/// Trimmed, as feed-rs trims a guid into an entry's id; an empty one is
/// no id.
fn collect<'a>(guids: impl IntoIterator<Item = Cow<'a, str>>) -> HashSet<String> {
    guids
        .into_iter()
        .map(|g| g.trim().to_string())
        .filter(|g| !g.is_empty())
        .collect()
}

/// Whether `normalize` may take some entry's guid for its link: an RSS
/// entry whose id may be a web address and whose first link (as
/// `normalize::alternate` picks an RSS item's: no rel, not comments) is
/// not an absolute web address. A relative link counts as none, which errs
/// towards reading the guids.
fn may_stand_in(feed: &Feed) -> bool {
    matches!(feed.feed_type, FeedType::RSS0 | FeedType::RSS2)
        && feed
            .entries
            .iter()
            .any(|e| may_be_web(e.id.trim()) && !has_web_link(e))
}

/// `id` starts like a web address (`Url::parse` reads `http:x` as one):
/// checked before any URL is parsed, since most guids are not.
fn may_be_web(id: &str) -> bool {
    let starts = |scheme: &str| {
        id.get(..scheme.len())
            .is_some_and(|s| s.eq_ignore_ascii_case(scheme))
    };
    starts("http:") || starts("https:")
}

fn has_web_link(e: &Entry) -> bool {
    e.links
        .iter()
        .find(|l| l.target.is_none() && matches!(l.rel.as_deref(), None | Some("alternate")))
        .and_then(|l| Url::parse(l.href.trim()).ok())
        .is_some_and(|u| is_web(&u))
}

/// The text of every RSS `<guid>` in `xml` that says it is no permalink,
/// as feed-rs reads a guid's text (text, CDATA and references up to the
/// next tag); what does not read after an XML error is left out.
fn scan(xml: &str) -> Vec<Cow<'_, str>> {
    let mut reader = NsReader::from_str(xml);
    reader.config_mut().expand_empty_elements = true;
    let mut found = Vec::new();
    // The text of a guid being read.
    let mut open: Option<String> = None;
    while let Ok((resolved, event)) = reader.read_resolved_event() {
        match event {
            Event::Start(start) => {
                found.extend(open.take().map(Cow::Owned));
                // An unbound prefix takes the document's default, RSS's.
                let ns = match resolved {
                    ResolveResult::Bound(ns) => Ns::of(ns.as_ref()),
                    ResolveResult::Unknown(_) | ResolveResult::Unbound => Ns::Rss,
                };
                let qname = start.name().0;
                let local = qname.rsplit(':').next().unwrap_or(qname);
                if ns == Ns::Rss && local == "guid" && denies_permalink(&start) {
                    open = Some(String::new());
                }
            }
            Event::End(_) => found.extend(open.take().map(Cow::Owned)),
            Event::Text(t) => {
                if let Some(text) = &mut open {
                    text.push_str(&t.into_inner());
                }
            }
            Event::CData(t) => {
                if let Some(text) = &mut open {
                    text.push_str(&t.into_inner());
                }
            }
            Event::GeneralRef(r) => {
                if let Some(text) = &mut open {
                    match r.resolve_char_ref() {
                        Ok(Some(c)) => text.push(c),
                        _ => match resolve_predefined_entity(&r.xml10_content()) {
                            Some(s) => text.push_str(s),
                            // The repair pass leaves no other.
                            None => text.push_str(&format!("&{};", r.xml10_content())),
                        },
                    }
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    found.extend(open.map(Cow::Owned));
    found
}

#[cfg(test)]
mod tests {
    use super::super::parse;
    use url::Url;

    fn not_permalinks(doc: &str) -> Vec<String> {
        let base = Url::parse("https://example.com/feed.xml").unwrap();
        let mut guids: Vec<String> = parse(doc.as_bytes(), &base, None)
            .unwrap()
            .not_permalinks
            .into_iter()
            .collect();
        guids.sort();
        guids
    }

    /// Read the same on either route: the fast path's ordinary RSS, and
    /// RSS the repair pass had to mend (an HTML entity) for feed-rs.
    #[test]
    fn guids_that_say_they_are_no_permalinks_are_known_on_both_routes() {
        for extra in ["", "<copyright>&copy; Wire</copyright>"] {
            let doc = format!(
                r#"<rss version="2.0"><channel><title>T</title>{extra}
                <item><title>A</title><guid isPermaLink="false"> https://cms.test/id/1 </guid></item>
                <item><title>B</title><guid ISPERMALINK='False'><![CDATA[https://cms.test/id/]]>2</guid></item>
                <item><title>C</title><guid isPermaLink="true">https://site.test/c</guid></item>
                <item><title>D</title><guid>https://site.test/d</guid></item>
                </channel></rss>"#
            );
            assert_eq!(
                not_permalinks(&doc),
                ["https://cms.test/id/1", "https://cms.test/id/2"],
                "{extra}"
            );
        }
    }

    /// When every item has its link, `normalize` takes no guid for one:
    /// nothing is read or kept.
    #[test]
    fn items_with_their_links_need_no_guids() {
        for extra in ["", "<copyright>&copy; Wire</copyright>"] {
            let doc = format!(
                r#"<rss version="2.0"><channel><title>T</title>{extra}
                <item><title>A</title><link>https://site.test/a</link>
                <guid isPermaLink="false">https://cms.test/id/1</guid></item>
                </channel></rss>"#
            );
            assert!(not_permalinks(&doc).is_empty(), "{extra}");
        }
    }
}
