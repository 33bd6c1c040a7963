//! The files feed-rs drops: enclosures and MediaRSS contents with a
//! relative URL, an RSS item's enclosure beside MediaRSS, and RSS 1.0's
//! MediaRSS.
//!
//! feed-rs keeps an RSS `<enclosure>` or a `<media:content>` as a
//! `MediaContent` whose `url` is a `Url`, and leaves the element out when
//! the address cannot be made absolute (`parser/rss2::handle_enclosure`,
//! `parser/mediarss::handle_media_content`). We parse without a base URI,
//! so that links stay as written and `normalize` resolves them against the
//! site the feed names; the price was that `url="/media/ep1.mp3"` survived
//! only under an absolute `xml:base`. It loses files in three more ways:
//! an RSS 2.0 item's enclosures, whatever their address, when the item
//! also has MediaRSS contents (its media objects are merged, and a
//! `content` list only fills an empty one); every MediaRSS content of an
//! RSS 1.0 item (`parser/rss1` does not read the namespace); and, in Atom,
//! relative contents as in RSS.
//!
//! This pass reads those files back from the document feed-rs read and
//! hands each to its entry as a `rel="enclosure"` link with the address as
//! written (or as the `xml:base` in effect made it): the form an Atom
//! enclosure already takes, so `normalize` resolves them all the same way,
//! against the site the feed names, else the feed's own URL. Its `type` is
//! read as feed-rs reads one it keeps: dropped unless it is a valid media
//! type. So that a recovered file is not listed after the files written
//! after it (RSS renders only an item's first), an item that gets one back
//! has the files feed-rs kept (its MediaRSS and RSS contents, and in Atom
//! its enclosure links) moved beside it, all as links in document order. A
//! file two elements name (an enclosure and a MediaRSS content of one
//! address) is listed once, where it first appears, its type and length
//! filled in from the other when it lacks them.
//!
//! Entries are matched to items by position, walking the document as
//! feed-rs does (RSS 2.0: the first `<channel>` under the root and its
//! `<item>` children; RSS 1.0: the root's `<item>` children that have a
//! `<link>`, as feed-rs keeps no other; Atom: the root's `<entry>`
//! children; then their RSS `<enclosure>`s, Atom enclosure links and
//! MediaRSS contents, `xml:base` stacked per element); if the counts
//! disagree, nothing is added. Most feeds give no file feed-rs would drop,
//! and pay for this second read of the document only when a scan of its
//! start tags finds one it may have dropped ([`Tags::worth_a_second_read`]).

use std::collections::HashMap;
use std::str::FromStr;

use feed_rs::model::{Entry, Feed, FeedType, Link, MediaContent};
use quick_xml::NsReader;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;
use url::Url;

use super::fast::Ns;

/// `feed`, parsed by feed-rs from `xml`, with the files it dropped added
/// to their entries.
pub(super) fn recover(mut feed: Feed, xml: &str) -> Feed {
    let format = match feed.feed_type {
        FeedType::RSS2 | FeedType::RSS0 => Format::Rss2,
        FeedType::RSS1 => Format::Rss1,
        FeedType::Atom => Format::Atom,
        FeedType::JSON => return feed,
    };
    if !Tags::scan(xml).worth_a_second_read(format) {
        return feed;
    }
    match files(xml, format) {
        Some(items) if items.len() == feed.entries.len() => {
            for (entry, files) in feed.entries.iter_mut().zip(items) {
                place(entry, files);
            }
        }
        _ => {}
    }
    feed
}

/// The shapes of document this pass reads as feed-rs does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    /// RSS 2.0 and 0.9x: items in the first channel.
    Rss2,
    /// RSS 1.0: items beside the channel, kept only with a link; feed-rs
    /// reads no MediaRSS in them.
    Rss1,
    /// Atom 1.0: entries under the root.
    Atom,
}

impl Format {
    /// How deep an item (or entry) is: the root is 1.
    fn item_depth(self) -> u32 {
        match self {
            Format::Rss2 => 3,
            Format::Rss1 | Format::Atom => 2,
        }
    }
}

/// What a scan of the start tags found: files feed-rs may have dropped.
#[derive(Debug, Default)]
struct Tags {
    /// A tag named `enclosure` or `content` (any prefix) whose `url` is not
    /// absolute, or cannot be read.
    relative: bool,
    /// A tag named `enclosure` with a `url`.
    enclosure: bool,
    /// A tag named `content` with a `url` (Atom's and `content:encoded`
    /// have none).
    content: bool,
}

impl Tags {
    /// The start tags of `xml`. It errs towards finding (a tag in a
    /// comment or CDATA section counts, so does one it cannot read).
    fn scan(xml: &str) -> Tags {
        let mut tags = Tags::default();
        let b = xml.as_bytes();
        let mut i = 0;
        while let Some(lt) = memchr::memchr(b'<', &b[i..]) {
            i += lt + 1;
            // Nor in a name: a run of `<` must not be read to its end from each.
            let name_len = b[i..]
                .iter()
                .position(|&c| c.is_ascii_whitespace() || matches!(c, b'/' | b'>' | b'<'))
                .unwrap_or(b.len() - i);
            let name = &b[i..i + name_len];
            let local = name.rsplit(|&c| c == b':').next().unwrap_or(name);
            let enclosure = local == b"enclosure";
            if !enclosure && local != b"content" {
                continue;
            }
            i += name_len;
            // No `<` can be inside a tag: reading on past one would read the
            // rest of the document again for each such tag in a CDATA section.
            let tag_len = memchr::memchr(b'<', &b[i..]).unwrap_or(b.len() - i);
            match url_attribute(&xml[i..i + tag_len]) {
                Ok(Some(url)) => {
                    if enclosure {
                        tags.enclosure = true;
                    } else {
                        tags.content = true;
                    }
                    tags.relative |= match quick_xml::escape::unescape(url) {
                        Ok(url) => Url::parse(&url) == Err(url::ParseError::RelativeUrlWithoutBase),
                        Err(_) => true,
                    };
                }
                Ok(None) => {}
                Err(()) => tags.relative = true,
            }
        }
        tags
    }

    /// Whether feed-rs can have dropped a file of a `format` document with
    /// these tags: a relative one; in RSS 2.0, an enclosure beside a
    /// MediaRSS content; in RSS 1.0, any MediaRSS content.
    fn worth_a_second_read(&self, format: Format) -> bool {
        match format {
            Format::Rss2 => self.relative || (self.enclosure && self.content),
            Format::Rss1 => self.relative || self.content,
            Format::Atom => self.relative,
        }
    }
}

/// The raw value of the `url` attribute of the tag whose attributes start
/// `rest` (which ends before the next `<`); `Err` when the attributes do
/// not read.
fn url_attribute(rest: &str) -> Result<Option<&str>, ()> {
    let mut rest = rest;
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_ascii_whitespace());
        if rest.is_empty() {
            return Err(());
        }
        if rest.starts_with(['>', '/']) {
            return Ok(None);
        }
        let (name, after) = rest.split_once('=').ok_or(())?;
        let after = after.trim_start_matches(|c: char| c.is_ascii_whitespace());
        let quote = after
            .chars()
            .next()
            .filter(|q| matches!(q, '"' | '\''))
            .ok_or(())?;
        let (value, after) = after[1..].split_once(quote).ok_or(())?;
        if name.trim_end() == "url" {
            return Ok(Some(value));
        }
        rest = after;
    }
}

/// One file of an item, as feed-rs meets it.
enum File {
    /// feed-rs read it, at this link's address: it is in the entry's media
    /// or links, unless feed-rs dropped it later, as it does an RSS item's
    /// `<enclosure>`s beside MediaRSS contents; then this link stands in.
    Kept(Link),
    /// feed-rs dropped it (its address is relative) or never read it
    /// (RSS 1.0's MediaRSS): the link it comes back as.
    Recovered(Link),
}

/// A MediaRSS element feed-rs reads the children of.
struct Media {
    depth: u32,
    /// For a `<media:content>` (not a `<media:group>`): where its file
    /// goes in the item's, its base, its address and itself as a link;
    /// read when it ends, as a resolvable `<media:player>` inside gives
    /// feed-rs an address too.
    content: Option<(usize, Option<Url>, Address, Link)>,
}

/// A file's `url` as feed-rs reads it.
enum Address {
    /// Absolute, or made so by the `xml:base` in effect.
    Resolves(Url),
    /// Relative with nothing to resolve it: the address as written.
    Relative(String),
    /// Missing, empty or invalid.
    Dropped,
}

impl Address {
    fn of(start: &BytesStart<'_>, base: Option<&Url>) -> Address {
        let Some(href) = attr(start, "url") else {
            return Address::Dropped;
        };
        if let Some(url) = parse_uri(&href, base) {
            return Address::Resolves(url);
        }
        let href = href.trim();
        if href.is_empty() || Url::parse(href) != Err(url::ParseError::RelativeUrlWithoutBase) {
            return Address::Dropped;
        }
        Address::Relative(href.to_string())
    }

    /// The file an element with this address is, `link` being the
    /// element read as a link; `read`: whether feed-rs reads the element.
    fn file(self, link: Link, read: bool) -> Option<File> {
        match self {
            Address::Resolves(url) if read => Some(File::Kept(Link {
                href: url.into(),
                ..link
            })),
            Address::Resolves(url) => Some(File::Recovered(Link {
                href: url.into(),
                ..link
            })),
            Address::Relative(href) => Some(File::Recovered(Link { href, ..link })),
            Address::Dropped => None,
        }
    }
}

/// feed-rs's `util::parse_uri`: `href`, if absolute or `base` makes it so.
fn parse_uri(href: &str, base: Option<&Url>) -> Option<Url> {
    match Url::parse(href) {
        Ok(url) => Some(url),
        Err(url::ParseError::RelativeUrlWithoutBase) => base.and_then(|b| b.join(href).ok()),
        Err(_) => None,
    }
}

/// Each item's files in document order (RSS enclosures, Atom enclosure
/// links and MediaRSS contents; a content that holds another first), read
/// from a `format` document; `None` if the document does not read.
fn files(xml: &str, format: Format) -> Option<Vec<Vec<File>>> {
    let mut reader = NsReader::from_str(xml);
    reader.config_mut().expand_empty_elements = true;
    let item_depth = format.item_depth();
    // feed-rs reads the MediaRSS of RSS 2.0 items and Atom entries only.
    let media_read = format != Format::Rss1;
    // An unbound or undeclared prefix takes the document's default, which
    // feed-rs sets by its root: Atom's for a `<feed>`, else RSS's.
    let default_ns = match format {
        Format::Atom => Ns::Atom,
        Format::Rss2 | Format::Rss1 => Ns::Rss,
    };
    let mut depth = 0u32;
    // feed-rs's `xml:base` stack: (depth, base) for each element that set
    // one it could resolve.
    let mut bases: Vec<(u32, Url)> = Vec::new();
    let mut channel_seen = false;
    let mut in_channel = false;
    let mut items = Vec::new();
    let mut in_item = false;
    // RSS 1.0: whether the item has a link (feed-rs keeps no other), and
    // whether the element just opened is one.
    let mut has_link = false;
    let mut in_link = false;
    // The current item's files (a content's filled in when it ends) and
    // open MediaRSS elements.
    let mut files: Vec<Option<File>> = Vec::new();
    let mut open: Vec<Media> = Vec::new();
    loop {
        let (resolved, event) = reader.read_resolved_event().ok()?;
        match event {
            Event::Start(start) => {
                in_link = false;
                depth += 1;
                push_base(&mut bases, depth, &start);
                let ns = match resolved {
                    ResolveResult::Bound(ns) => Ns::of(ns.as_ref()),
                    ResolveResult::Unknown(_) | ResolveResult::Unbound => default_ns,
                };
                let qname = start.name().0;
                let local = qname.rsplit(':').next().unwrap_or(qname);
                let base = bases.last().map(|(_, b)| b);
                let (item_ns, item) = match format {
                    Format::Atom => (Ns::Atom, "entry"),
                    Format::Rss2 | Format::Rss1 => (Ns::Rss, "item"),
                };
                if format == Format::Rss2 && depth == 2 {
                    if !channel_seen && local == "channel" {
                        channel_seen = true;
                        in_channel = true;
                    }
                } else if depth == item_depth
                    && (in_channel || format != Format::Rss2)
                    && ns == item_ns
                    && local == item
                {
                    in_item = true;
                    has_link = false;
                    files.clear();
                    open.clear();
                } else if in_item && depth == item_depth + 1 {
                    match (format, ns, local) {
                        (Format::Rss2, Ns::Rss, "enclosure") => {
                            let link = link(&start, "length");
                            files.push(Address::of(&start, base).file(link, true));
                        }
                        (Format::Rss1, Ns::Rss, "link") => in_link = true,
                        (Format::Atom, Ns::Atom, "link")
                            if attr(&start, "rel").as_deref() == Some("enclosure") =>
                        {
                            if let Some(href) = attr(&start, "href") {
                                files.push(Some(File::Kept(atom_link(&start, &href, base))));
                            }
                        }
                        _ => {}
                    }
                }
                // The MediaRSS elements feed-rs reads: the item's, and
                // those in a group or a content it reads.
                let read = ns == Ns::MediaRss
                    && ((in_item && depth == item_depth + 1)
                        || open.last().is_some_and(|m| m.depth + 1 == depth));
                if !read {
                    continue;
                }
                match local {
                    "group" => open.push(Media {
                        depth,
                        content: None,
                    }),
                    "content" => {
                        let address = Address::of(&start, base);
                        let link = link(&start, "fileSize");
                        open.push(Media {
                            depth,
                            content: Some((files.len(), base.cloned(), address, link)),
                        });
                        files.push(None);
                    }
                    "player" => {
                        if let Some(Media {
                            depth: d,
                            content: Some((_, base, address, _)),
                        }) = open.last_mut()
                            && *d + 1 == depth
                            && let Some(url) =
                                attr(&start, "url").and_then(|u| parse_uri(&u, base.as_ref()))
                        {
                            *address = Address::Resolves(url);
                        }
                    }
                    _ => {}
                }
            }
            // feed-rs reads any text, even space, as the link's.
            Event::Text(ref t) if in_link && !t.is_empty() => has_link = true,
            Event::CData(ref t) if in_link && !t.is_empty() => has_link = true,
            Event::GeneralRef(_) if in_link => has_link = true,
            Event::End(_) => {
                in_link = false;
                if let Some(media) = open.pop_if(|m| m.depth == depth)
                    && let Some((at, _, address, link)) = media.content
                {
                    files[at] = address.file(link, media_read);
                }
                depth = depth.checked_sub(1)?;
                while bases.last().is_some_and(|(d, _)| *d > depth) {
                    bases.pop();
                }
                if in_item && depth + 1 == item_depth {
                    in_item = false;
                    let files = files.drain(..).flatten().collect();
                    if format != Format::Rss1 || has_link {
                        items.push(files);
                    }
                }
                // feed-rs reads nothing after the first channel.
                if format == Format::Rss2 && depth == 1 && in_channel {
                    return Some(items);
                }
            }
            Event::Eof => return Some(items),
            _ => {}
        }
    }
}

/// Hands `entry` the files among `files` that feed-rs dropped. The item's
/// files then go to `normalize` as links in document order: those feed-rs
/// kept are taken out of its media and enclosure links and put in their
/// places; a file listed twice (one address) is kept once.
fn place(entry: &mut Entry, files: Vec<File>) {
    // What feed-rs kept, as links, and where each address is among them
    // and among the placed: a search of the lists for each file was
    // quadratic in an item's files.
    let mut kept: Vec<Option<Link>> = entry
        .media
        .iter()
        .flat_map(|m| &m.content)
        .filter_map(content_link)
        .chain(entry.links.iter().filter(|l| is_enclosure(l)).cloned())
        .map(Some)
        .collect();
    let mut at: HashMap<String, Place> = HashMap::new();
    for (i, link) in kept.iter().enumerate().rev() {
        if let Some(link) = link {
            at.entry(link.href.clone()).or_default().kept.push(i);
        }
    }
    let mut placed: Vec<Link> = Vec::new();
    let mut recovered = false;
    for file in files {
        let (link, dropped) = match file {
            File::Kept(link) => match at.get_mut(&link.href).and_then(|p| p.kept.pop()) {
                // What feed-rs kept there may be another element's: two
                // that name one file are merged, and only one is kept.
                Some(i) => {
                    let mut kept = kept[i].take().expect("each place is taken once");
                    let filled = fill(&mut kept, link);
                    (kept, filled)
                }
                // feed-rs read it, then dropped it.
                None => (link, true),
            },
            File::Recovered(link) => (link, true),
        };
        if !at.contains_key(&link.href) {
            at.insert(link.href.clone(), Place::default());
        }
        let place = at.get_mut(&link.href).expect("inserted above");
        if let Some(i) = place.placed {
            recovered |= fill(&mut placed[i], link);
            continue;
        }
        place.placed = Some(placed.len());
        recovered |= dropped;
        placed.push(link);
    }
    if !recovered {
        return;
    }
    for media in &mut entry.media {
        media.content.clear();
    }
    entry.links.retain(|l| !is_enclosure(l));
    entry.links.extend(placed);
    // Whatever feed-rs kept that this pass did not find, after.
    entry.links.extend(
        kept.into_iter()
            .flatten()
            .filter(|l| at.get(&l.href).is_none_or(|p| p.placed.is_none())),
    );
}

/// One address among an item's files: where feed-rs kept it (first
/// last), and where it is placed.
#[derive(Default)]
struct Place {
    kept: Vec<usize>,
    placed: Option<usize>,
}

/// Fills in what `first` lacks of its type and length from `other`, a
/// second element naming the same file; whether that changed anything.
fn fill(first: &mut Link, other: Link) -> bool {
    let lacking = (first.media_type.is_none() && other.media_type.is_some())
        || (first.length.is_none() && other.length.is_some());
    first.media_type = first.media_type.take().or(other.media_type);
    first.length = first.length.or(other.length);
    lacking
}

/// An enclosure link, as feed-rs reads an Atom one (and as this pass
/// hands files over).
fn is_enclosure(link: &Link) -> bool {
    link.rel.as_deref() == Some("enclosure")
}

/// An Atom `<link rel="enclosure">` with this `href`, as feed-rs's
/// `atom::handle_link` reads it: the address resolved against the
/// `xml:base` in effect when it can be, trimmed, and the type as written.
fn atom_link(start: &BytesStart<'_>, href: &str, base: Option<&Url>) -> Link {
    let href = parse_uri(href, base).map_or_else(|| href.to_string(), String::from);
    Link {
        href: href.trim().to_string(),
        target: None,
        rel: Some("enclosure".to_string()),
        media_type: attr(start, "type"),
        href_lang: None,
        title: None,
        length: attr(start, "length").and_then(|l| l.parse().ok()),
    }
}

/// A `MediaContent` feed-rs kept, as the link `normalize` reads the same.
fn content_link(content: &MediaContent) -> Option<Link> {
    Some(Link {
        href: content.url.as_ref()?.to_string(),
        target: None,
        rel: Some("enclosure".to_string()),
        media_type: content.content_type.as_ref().map(|t| t.to_string()),
        href_lang: None,
        title: None,
        length: content.size,
    })
}

/// An enclosure or content element as a link, its size in the attribute
/// `length` names; the address is filled in by [`Address::file`].
fn link(start: &BytesStart<'_>, length: &str) -> Link {
    Link {
        href: String::new(),
        target: None,
        rel: Some("enclosure".to_string()),
        media_type: attr(start, "type").and_then(|t| media_type(&t)),
        href_lang: None,
        title: None,
        length: attr(start, length).and_then(|l| l.parse().ok()),
    }
}

/// `value` as feed-rs reads a file's `type`: the media type, written as it
/// writes one, or nothing when `value` is not one (so an absolute and a
/// relative file's type are kept alike). `MediaContent::content_type`'s
/// own type parses it, which spares naming the `mediatype` crate.
fn media_type(value: &str) -> Option<String> {
    fn parse<T: FromStr + ToString>(
        _field: fn(&MediaContent) -> &Option<T>,
        value: &str,
    ) -> Option<String> {
        value.parse::<T>().ok().map(|t| t.to_string())
    }
    parse(|c| &c.content_type, value)
}

/// feed-rs's `xml_base_push`: an absolute `xml:base`, or a relative one
/// joined to the base in effect; one that resolves to nothing is ignored.
pub(super) fn push_base(bases: &mut Vec<(u32, Url)>, depth: u32, start: &BytesStart<'_>) {
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
    use super::{Format, Tags};
    use url::Url;

    /// Whether a document of `format` is read a second time.
    fn second_read(format: Format, doc: &str) -> bool {
        Tags::scan(doc).worth_a_second_read(format)
    }

    /// A file: href, type, length.
    type Found = (String, Option<String>, Option<u64>);

    /// The files of each entry as `normalize` reads them: the media
    /// feed-rs kept, then the enclosure links.
    fn enclosures(doc: &str) -> Vec<Vec<Found>> {
        let base = Url::parse("https://example.com/feed.xml").unwrap();
        let feed = parse(doc.as_bytes(), &base, None).unwrap().feed;
        feed.entries
            .iter()
            .map(|e| {
                let media = e.media.iter().flat_map(|m| &m.content).map(|c| {
                    let url = c.url.as_ref().map(Url::to_string).unwrap_or_default();
                    (url, c.content_type.as_ref().map(|t| t.to_string()), c.size)
                });
                let links = e
                    .links
                    .iter()
                    .filter(|l| l.rel.as_deref() == Some("enclosure"))
                    .map(|l| (l.href.clone(), l.media_type.clone(), l.length));
                media.chain(links).collect()
            })
            .collect()
    }

    fn file(href: &str) -> Found {
        (href.into(), None, None)
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
                    file("ep2.jpg?a=1&b=2"),
                    file("https://cdn.test/ep2.ogg"),
                ],
                // feed-rs made it absolute itself.
                vec![file("https://cdn.test/files/ep3.mp3")],
                // A relative base resolves to nothing, so feed-rs drops it.
                vec![file("ep4.mp3")],
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

    /// A podcast whose files all have absolute addresses, and no item of
    /// which has both an enclosure and a MediaRSS content, is not read a
    /// second time: nothing in it can have been dropped.
    #[test]
    fn only_a_file_feed_rs_may_have_dropped_is_worth_a_second_read() {
        let absolute = r#"<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"
            xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>P</title>
            <item><title>1</title><enclosure url="https://cdn.test/1.mp3" length="1" type="audio/mpeg"/>
              <content:encoded><![CDATA[<p>Notes</p>]]></content:encoded></item>
            <item><enclosure type="a>b" url="http://cdn.test/2.mp3"/><enclosure/></item>
            </channel></rss>"#;
        assert!(!second_read(Format::Rss2, absolute));
        for relative in [
            r#"<enclosure url="/1.mp3"/>"#,
            r#"<enclosure type="a>b" url = '1.mp3'>"#,
            r#"<media:content medium="video" url="//cdn.test/1.mp4"/>"#,
            r#"<content url="&#47;1.mp3"/>"#,
            // Unreadable: the pass decides.
            r#"<enclosure url=/1.mp3>"#,
        ] {
            for format in [Format::Rss2, Format::Rss1, Format::Atom] {
                assert!(second_read(format, relative), "{format:?} {relative}");
            }
        }
        // feed-rs drops an RSS 2.0 item's enclosures beside MediaRSS, and
        // reads no MediaRSS in RSS 1.0; Atom keeps absolute contents.
        let media = r#"<media:content url="https://cdn.test/1.mp4"/>"#;
        let both = absolute.replace("<content:encoded>", &format!("{media}<content:encoded>"));
        assert!(second_read(Format::Rss2, &both));
        assert!(second_read(Format::Rss1, media));
        assert!(!second_read(Format::Atom, media));
        assert!(!second_read(Format::Rss2, media));
    }

    /// An item's files are listed in document order, the relative ones in
    /// their places, not after the absolute ones.
    #[test]
    fn relative_files_keep_their_place_among_the_items_files() {
        let doc = r#"<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"><channel><title>P</title>
            <item><title>1</title>
              <enclosure url="/1.mp3"/><enclosure url="https://cdn.test/1.ogg"/><enclosure url="1.m4a"/></item>
            <item><title>2</title>
              <media:content url="/2.mp4"/>
              <media:group><media:content url="https://cdn.test/2-hd.mp4"/><media:content url="2-sd.mp4"/></media:group>
              <media:content url="https://cdn.test/2.webm"/></item>
            <item><title>3</title>
              <media:content url="/3.mp4"><media:player url="https://cdn.test/player/3"/></media:content>
              <media:content url="/3.webm"><media:player url="/player/3"/></media:content>
              <media:title>not a file</media:title><foo><media:content url="/ignored.mp4"/></foo></item>
            </channel></rss>"#;
        assert_eq!(
            enclosures(doc),
            [
                vec![
                    file("/1.mp3"),
                    file("https://cdn.test/1.ogg"),
                    file("1.m4a")
                ],
                vec![
                    file("/2.mp4"),
                    file("https://cdn.test/2-hd.mp4"),
                    file("2-sd.mp4"),
                    file("https://cdn.test/2.webm"),
                ],
                // feed-rs takes a player's address for a content's.
                vec![file("https://cdn.test/player/3"), file("/3.webm")],
            ]
        );
    }

    /// A relative file's `type` is kept as feed-rs keeps an absolute one's:
    /// only when it is a media type.
    #[test]
    fn a_relative_files_invalid_type_is_dropped_as_an_absolute_ones_is() {
        let doc = r#"<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"><channel><title>P</title>
            <item><enclosure url="https://cdn.test/1.mp3" type="mp3 audio"/>
              <enclosure url="/1.ogg" type="mp3 audio"/>
              <enclosure url="/1.m4a" type="Audio/X-M4A"/>
              </item>
            <item><media:content url="/2.mp4" type="video" fileSize="7"/></item>
            </channel></rss>"#;
        assert_eq!(
            enclosures(doc),
            [
                vec![
                    file("https://cdn.test/1.mp3"),
                    file("/1.ogg"),
                    // Written as feed-rs writes a valid one: as it came.
                    ("/1.m4a".into(), Some("Audio/X-M4A".into()), None),
                ],
                vec![("/2.mp4".into(), None, Some(7))]
            ]
        );
    }

    /// Atom and RSS 1.0 get their relative MediaRSS contents back as RSS
    /// 2.0 does, in their places among the entry's files (Atom's enclosure
    /// links included), resolved by an `xml:base` that can resolve them
    /// and left for `normalize` otherwise, an invalid type dropped. RSS
    /// 1.0's absolute ones come back too (feed-rs reads none), and its
    /// items without a link, which feed-rs drops, are not counted.
    #[test]
    fn atom_and_rss1_get_their_relative_media_contents_back() {
        let atom = r#"<feed xmlns="http://www.w3.org/2005/Atom" xmlns:media="http://search.yahoo.com/mrss/">
            <title>P</title><id>urn:p</id><link href="https://site.test/"/>
            <entry><id>urn:1</id><title>1</title>
              <media:content url="/1.mp4" type="video/mp4" fileSize="5"/>
              <link rel="enclosure" href="https://cdn.test/1.mp3"/>
              <media:content url="1.webm" type="video"/>
              <media:content url="https://cdn.test/1.ogv"/></entry>
            <entry xml:base="https://cdn.test/files/"><id>urn:2</id><title>2</title>
              <media:content url="2.mp4"/></entry>
            <entry xml:base="relative/"><id>urn:3</id><title>3</title>
              <media:content url="3.mp4"/></entry>
            <entry><id>urn:4</id><title>4</title><link href="/4"/></entry>
            </feed>"#;
        assert_eq!(
            enclosures(atom),
            [
                vec![
                    ("/1.mp4".into(), Some("video/mp4".into()), Some(5)),
                    file("https://cdn.test/1.mp3"),
                    file("1.webm"),
                    file("https://cdn.test/1.ogv"),
                ],
                // feed-rs made it absolute itself.
                vec![file("https://cdn.test/files/2.mp4")],
                // A relative base resolves to nothing.
                vec![file("3.mp4")],
                vec![],
            ]
        );
        let rss1 = r#"<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
            xmlns="http://purl.org/rss/1.0/" xmlns:media="http://search.yahoo.com/mrss/">
            <channel rdf:about="https://site.test/"><title>P</title>
              <link>https://site.test/news/</link><description>D</description></channel>
            <item rdf:about="https://site.test/0"><title>no link</title>
              <media:content url="/0.mp4"/></item>
            <item rdf:about="https://site.test/1"><title>1</title><link>https://site.test/1</link>
              <media:content url="/1.mp4" type="video/mp4"/>
              <media:content url="https://cdn.test/1.webm" type="not a type"/></item>
            <item rdf:about="https://site.test/2"><title>2</title><link>https://site.test/2</link></item>
            </rdf:RDF>"#;
        assert_eq!(
            enclosures(rss1),
            [
                vec![
                    ("/1.mp4".into(), Some("video/mp4".into()), None),
                    file("https://cdn.test/1.webm"),
                ],
                vec![],
            ]
        );
        // The fast path leaves both to feed-rs and this pass.
        assert!(super::super::fast::parse(atom).is_none());
        assert!(super::super::fast::parse(rss1).is_none());
    }

    /// feed-rs drops an RSS item's enclosures, even absolute ones, when
    /// the item has MediaRSS contents: they come back, in document order,
    /// and a file both name is listed once, its type and length taken
    /// from either.
    #[test]
    fn an_enclosure_beside_media_contents_is_kept_once() {
        let doc = r#"<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"><channel><title>P</title>
            <item><title>1</title>
              <enclosure url="https://cdn.test/1.mp3" length="12" type="audio/mpeg"/>
              <media:content url="https://cdn.test/1.mp4" type="video/mp4"/></item>
            <item><title>2</title>
              <media:content url="https://cdn.test/2.mp3" fileSize="7"/>
              <enclosure url="https://cdn.test/2.mp3" length="12" type="audio/mpeg"/>
              <enclosure url="https://cdn.test/2.m4a"/></item>
            <item><title>3</title>
              <enclosure url="https://cdn.test/3.mp3" type="audio/mpeg"/>
              <media:content url="https://cdn.test/3.mp3"/></item>
            <item><title>4</title><enclosure url="https://cdn.test/4.mp3"/></item>
            </channel></rss>"#;
        assert_eq!(
            enclosures(doc),
            [
                vec![
                    (
                        "https://cdn.test/1.mp3".into(),
                        Some("audio/mpeg".into()),
                        Some(12)
                    ),
                    (
                        "https://cdn.test/1.mp4".into(),
                        Some("video/mp4".into()),
                        None
                    ),
                ],
                vec![
                    (
                        "https://cdn.test/2.mp3".into(),
                        Some("audio/mpeg".into()),
                        Some(7)
                    ),
                    file("https://cdn.test/2.m4a"),
                ],
                vec![(
                    "https://cdn.test/3.mp3".into(),
                    Some("audio/mpeg".into()),
                    None
                )],
                // Nothing lost: as feed-rs left it.
                vec![file("https://cdn.test/4.mp3")],
            ]
        );
        assert!(super::super::fast::parse(doc).is_none());
    }

    /// An item with a relative file among very many absolute ones is put
    /// in order in time linear in its files (a search of them for each
    /// took ten seconds for these 60,000).
    #[test]
    fn an_item_with_many_files_is_put_in_order_in_linear_time() {
        let files: String = (0..60_000)
            .map(|i| format!(r#"<media:content url="https://cdn.test/{i}.mp4"/>"#))
            .collect();
        let doc = format!(
            r#"<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"><channel><title>P</title>
            <item><media:content url="/0.mp4"/>{files}</item></channel></rss>"#
        );
        let feed = super::super::parse_isolated(doc.as_bytes()).unwrap();
        let started = std::time::Instant::now();
        let feed = super::recover(feed, &doc);
        let took = started.elapsed();
        let links = &feed.entries[0].links;
        assert_eq!(links.len(), 60_001);
        assert_eq!(links[0].href, "/0.mp4");
        assert_eq!(links[60_000].href, "https://cdn.test/59999.mp4");
        // Linear: about 1 s in a debug build; quadratic: 13 s. The margin
        // is for a loaded machine, not a speed target.
        assert!(took < std::time::Duration::from_secs(8), "{took:?}");
    }

    /// A description whose CDATA holds many `<content ` or `<` (HTML or
    /// hostile) is scanned once: reading on from each to the next `=` or
    /// space read the rest of the document again, seconds for these 2 MB
    /// and quadratic in a feed's size.
    #[test]
    fn the_scan_stays_linear_in_tags_that_do_not_end() {
        let doc = format!(
            r#"<rss version="2.0"><channel><item><description><![CDATA[{}]]></description>
            <guid isPermaLink="false">g</guid></item></channel></rss>"#,
            "<content x".repeat(200_000)
        );
        for doc in [doc.clone(), doc.replace("<content x", "<a<b<c<d<e")] {
            let started = std::time::Instant::now();
            Tags::scan(&doc);
            let took = started.elapsed();
            // Linear: a third of a second in a debug build; quadratic:
            // over a minute.
            assert!(took < std::time::Duration::from_secs(20), "{took:?}");
        }
    }
}
