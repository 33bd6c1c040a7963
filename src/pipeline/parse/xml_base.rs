//! The `xml:base` in scope for each Atom entry's summary and content,
//! which feed-rs's model does not give.
//!
//! RFC 4287 §2 and XML Base: relative references in an Atom text resolve
//! against the base in scope for its element: an `xml:base` on the
//! `<content>` or `<summary>`, the `<entry>` or the `<feed>`, each
//! relative to the one outside it, the outermost to the document's own
//! address. feed-rs resolves link `href`s that way, but hands content and
//! summary over as text, with `Entry::base` only for an `xml:base` on
//! `<content>` itself; `normalize` resolved their links against the
//! article's link instead (`<a href="rel/2">` in an entry linked to
//! `story/1` under `xml:base="http://base.example/news/"` went to
//! `…/news/story/rel/2`, not `…/news/rel/2`).
//!
//! A document that does not name `xml:base` (a substring check: nearly
//! every one) costs nothing more. One that does is read once more by
//! quick-xml for its start tags only, walking it as feed-rs does (the
//! root's `<entry>` children, or a lone `<entry>` root, and their
//! `<summary>` and `<content>`, the last of each as feed-rs keeps it), the
//! bases stacked as `enclosures.rs` stacks them. Entries are matched to
//! feed-rs's by position; if the counts disagree, nothing is given and
//! `normalize` reads them as before. The fast path declines every
//! document with an `xml:base`, so only feed-rs's route asks.

use feed_rs::model::{Feed, FeedType};
use quick_xml::NsReader;
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use url::Url;

use super::TextBases;
use super::enclosures::push_base;
use super::fast::Ns;

/// For each entry of `feed`, read by feed-rs from `xml` fetched from
/// `document`, the bases in scope for its summary and content; empty when
/// none has one (or the document cannot be matched to `feed`).
pub(super) fn text_bases(feed: &Feed, xml: &str, document: &Url) -> Vec<TextBases> {
    if feed.feed_type != FeedType::Atom
        || memchr::memmem::find(xml.as_bytes(), b"xml:base").is_none()
    {
        return Vec::new();
    }
    match read(xml, document) {
        Some(bases)
            if bases.len() == feed.entries.len()
                && bases.iter().any(|b| *b != TextBases::default()) =>
        {
            bases
        }
        _ => Vec::new(),
    }
}

/// Each entry's bases in document order; `None` if the document does not
/// read.
fn read(xml: &str, document: &Url) -> Option<Vec<TextBases>> {
    let mut reader = NsReader::from_str(xml);
    reader.config_mut().expand_empty_elements = true;
    // The document's address stands at depth 0, under every `xml:base`;
    // a base above it is one the document set.
    let mut bases: Vec<(u32, Url)> = vec![(0, document.clone())];
    let mut depth = 0u32;
    let mut entry_depth = 2;
    let mut entries: Vec<TextBases> = Vec::new();
    let mut in_entry = false;
    loop {
        let (resolved, event) = reader.read_resolved_event().ok()?;
        match event {
            Event::Start(start) => {
                depth += 1;
                push_base(&mut bases, depth, &start);
                // An unbound prefix takes the document's default, Atom's.
                let ns = match resolved {
                    ResolveResult::Bound(ns) => Ns::of(ns.as_ref()),
                    ResolveResult::Unknown(_) | ResolveResult::Unbound => Ns::Atom,
                };
                let qname = start.name().0;
                let local = qname.rsplit(':').next().unwrap_or(qname);
                if depth == 1 && local == "entry" {
                    // A lone entry: feed-rs reads the root as one.
                    entry_depth = 1;
                }
                if depth == entry_depth && ns == Ns::Atom && local == "entry" {
                    in_entry = true;
                    entries.push(TextBases::default());
                } else if in_entry && depth == entry_depth + 1 && ns == Ns::Atom {
                    let in_scope = bases
                        .last()
                        .filter(|(d, _)| *d > 0)
                        .map(|(_, base)| base.clone());
                    let entry = entries.last_mut().expect("pushed when the entry opened");
                    match local {
                        "summary" => entry.summary = in_scope,
                        "content" => entry.content = in_scope,
                        _ => {}
                    }
                }
            }
            Event::End(_) => {
                if in_entry && depth == entry_depth {
                    in_entry = false;
                }
                depth = depth.checked_sub(1)?;
                while bases.last().is_some_and(|(d, _)| *d > depth) {
                    bases.pop();
                }
            }
            Event::Eof => return Some(entries),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{TextBases, parse};
    use url::Url;

    fn bases(doc: &str) -> Vec<TextBases> {
        let base = Url::parse("https://example.com/feeds/atom.xml").unwrap();
        parse(doc.as_bytes(), &base, None).unwrap().text_bases
    }

    fn url(s: &str) -> Option<Url> {
        Some(Url::parse(s).unwrap())
    }

    /// Each text's base is the innermost `xml:base`, each relative to the
    /// one outside it, the feed's to the document's address.
    #[test]
    fn each_text_has_the_base_in_scope_for_it() {
        let got = bases(
            r#"<feed xmlns="http://www.w3.org/2005/Atom" xml:base="/news/"><title>T</title><id>urn:t</id>
            <entry><id>urn:1</id><title>1</title><summary>s</summary><content>c</content></entry>
            <entry xml:base="2026/"><id>urn:2</id><title>2</title>
              <summary xml:base="http://other.example/a/">s</summary><content xml:base="b/">c</content></entry>
            <entry><id>urn:3</id><title>3</title></entry>
            </feed>"#,
        );
        assert_eq!(
            got,
            [
                TextBases {
                    summary: url("https://example.com/news/"),
                    content: url("https://example.com/news/"),
                },
                TextBases {
                    summary: url("http://other.example/a/"),
                    content: url("https://example.com/news/2026/b/"),
                },
                TextBases::default(),
            ]
        );
    }

    /// Without an `xml:base` (or with one only in text), nothing is given.
    #[test]
    fn a_document_without_xml_base_gives_none() {
        for doc in [
            r#"<feed xmlns="http://www.w3.org/2005/Atom"><title>T</title><id>urn:t</id>
            <entry><id>urn:1</id><title>1</title><content>c</content></entry></feed>"#,
            r#"<feed xmlns="http://www.w3.org/2005/Atom"><title>T</title><id>urn:t</id>
            <entry><id>urn:1</id><title>xml:base</title><content type="html">&lt;p&gt;no xml:base here&lt;/p&gt;</content></entry></feed>"#,
        ] {
            assert!(bases(doc).is_empty(), "{doc}");
        }
    }
}
