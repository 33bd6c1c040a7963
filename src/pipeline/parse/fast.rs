//! Fast path: ordinary RSS 2.0 and Atom 1.0 read with quick-xml straight
//! into feed-rs's model, without the repair pass or feed-rs's element tree.
//!
//! The general path copies the document through `repair.rs` and then lets
//! feed-rs build an element, a name, an attribute list and a text string for
//! every node, most of which it throws away. For the documents nearly every
//! feed serves (well-formed RSS 2.0 or Atom 1.0 that the repair pass leaves
//! as it is), this module reads the decoded text once and builds the same
//! [`Feed`] feed-rs would: it walks the elements exactly as feed-rs 3.0.0 does
//! (`xml/mod.rs`, `parser/rss2`, `parser/atom`, `parser/common`: the same
//! namespace table, the same one-text-node rule, the same trimming, URL
//! parsing, defaults and overwrites), with dates read by `dates.rs`.
//!
//! It hands the document back (`None`) at the first thing that is not
//! ordinary, and the caller runs the general path, so declining is always
//! safe:
//!
//! - anything the repair pass would change: a DTD, a reference other than
//!   XML's five or a numeric one repair keeps, markup inside HTML-holding
//!   elements or text constructs, an unclosed `br`/`img`, nesting past [`MAX_DEPTH`], a second
//!   XML declaration, Atom 0.3 or RSS 0.90 namespaces, sloppy Atom types;
//! - anything feed-rs maps that is not written here: enclosures, MediaRSS,
//!   iTunes, Podcast, XHTML or out-of-line content, `xml:base`;
//! - any XML error, other roots and versions (RSS 0.9x and 1.0, Atom 0.3, a
//!   lone Atom entry), and a document that ends early.
//!
//! `tests` compares this path with the general one on every fixture, the
//! bench corpus's shapes and a battery of near-misses.

use std::borrow::Cow;
use std::sync::LazyLock;

use feed_rs::model::{
    Category, Content, Entry, Feed, FeedType, Generator, Image, Link, LinkTarget, Person, Text,
};
use quick_xml::NsReader;
use quick_xml::events::{BytesRef, BytesStart, Event};
use quick_xml::name::ResolveResult;
use regex::Regex;

use super::repair::{self, MAX_DEPTH};
use super::{GENERATED_ID, atom03, dates, guids};

/// Atom 1.0's namespace.
const NS_ATOM10: &str = "http://www.w3.org/2005/Atom";

/// The document is not ordinary enough for this path.
struct Decline;

type Fast<T> = Result<T, Decline>;

/// The feed-rs `Feed` for `text` (decoded, starting at its first `<`), and
/// the text of each RSS `<guid>` that says it is no permalink, which
/// feed-rs's model has no room for (`guids.rs`); `None` when the general
/// path must read the document.
pub(super) fn parse(text: &str) -> Option<(Feed, Vec<Cow<'_, str>>)> {
    let mut src = Source::new(text);
    let feed = document(&mut src).ok()?;
    Some((assign_missing_ids(feed), src.not_permalinks))
}

fn document(src: &mut Source<'_>) -> Fast<Feed> {
    let root = src.next_element_at_depth(1)?.ok_or(Decline)?;
    if root.tag.qname().contains(':') {
        return Err(Decline);
    }
    match root.tag.local() {
        // feed-rs reads "" as 2.0 too, and repair leaves both alone.
        "rss" if matches!(root.tag.attr("version")?.as_deref(), Some("2.0" | "")) => {
            src.default_ns = Ns::Rss;
            rss(src, &root)
        }
        "feed" if root.tag.attr("xmlns")?.as_deref() == Some(NS_ATOM10) => {
            src.default_ns = Ns::Atom;
            atom_feed(src, &root)
        }
        _ => Err(Decline),
    }
}

/// feed-rs's `assign_missing_ids` with our generator (`parse_isolated`).
fn assign_missing_ids(mut feed: Feed) -> Feed {
    if feed.id.is_empty() {
        feed.id = GENERATED_ID.to_string();
    }
    for entry in &mut feed.entries {
        if entry.id.is_empty() {
            entry.id = GENERATED_ID.to_string();
        }
    }
    feed
}

// ---------------------------------------------------------------------------
// Events, as feed-rs's `ElementSource` sees them

/// feed-rs's namespace table (`xml::NS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ns {
    Atom,
    Rss,
    Unknown,
    Content,
    DublinCore,
    MediaRss,
    Itunes,
    Podcast,
    Wfw,
}

impl Ns {
    pub(super) fn of(uri: &str) -> Ns {
        match uri {
            "http://purl.org/rss/1.0/" => Ns::Rss,
            NS_ATOM10 => Ns::Atom,
            "http://purl.org/rss/1.0/modules/content/" => Ns::Content,
            "http://purl.org/dc/elements/1.1/" => Ns::DublinCore,
            "http://search.yahoo.com/mrss/" => Ns::MediaRss,
            "http://www.itunes.com/dtds/podcast-1.0.dtd" => Ns::Itunes,
            "https://podcastindex.org/namespace/1.0" => Ns::Podcast,
            "http://wellformedweb.org/CommentAPI/" => Ns::Wfw,
            _ => Ns::Unknown,
        }
    }
}

/// A start tag, its attributes checked when it was read.
struct Tag<'a> {
    /// `None` when the name is unbound: the document's default applies
    /// when the element is handed out, as in feed-rs.
    ns: Option<Ns>,
    start: BytesStart<'a>,
}

impl Tag<'_> {
    fn qname(&self) -> &str {
        self.start.name().0
    }

    /// The name after its last colon (feed-rs's `parse_name`).
    fn local(&self) -> &str {
        let q = self.qname();
        q.rsplit(':').next().unwrap_or(q)
    }

    /// The value of the first attribute named `name` (prefix included),
    /// unescaped; `read_tag` has checked every attribute parses and
    /// unescapes.
    fn attr(&self, name: &str) -> Fast<Option<String>> {
        for a in self.start.attributes() {
            let a = a.map_err(|_| Decline)?;
            if a.key.0 == name {
                return unescape(&a.value).map(Some);
            }
        }
        Ok(None)
    }

    /// Every attribute, unescaped, in document order.
    fn attrs(&self) -> Fast<Vec<(&str, String)>> {
        self.start
            .attributes()
            .map(|a| {
                let a = a.map_err(|_| Decline)?;
                Ok((a.key.0, unescape(&a.value)?))
            })
            .collect()
    }
}

fn unescape(raw: &str) -> Fast<String> {
    quick_xml::escape::unescape(raw)
        .map(Cow::into_owned)
        .map_err(|_| Decline)
}

/// feed-rs's coalesced events: text, CDATA and references run together.
enum Ev<'a> {
    Start(Tag<'a>),
    End,
    Text(Cow<'a, str>),
    Eof,
}

/// An element handed to a handler, with its depth (feed-rs's `Element`).
struct Element<'a> {
    ns: Ns,
    tag: Tag<'a>,
    depth: u32,
}

struct Source<'a> {
    reader: NsReader<&'a [u8]>,
    /// The next event, read but not consumed (feed-rs's `peek`).
    peeked: Option<Ev<'a>>,
    /// An event held back while the text before it is handed out.
    stash: Option<Ev<'a>>,
    /// An empty element's end, due after its start.
    pending_end: bool,
    /// feed-rs's `current_depth`: changed only by `next_element_at_depth`.
    depth: u32,
    default_ns: Ns,
    /// Elements open in the reader, for the nesting limit and the end of
    /// the root (repair drops what follows it).
    open: usize,
    root_closed: bool,
    /// The `open` depth of an element whose content the repair pass reads
    /// as HTML text: inside it, only text may appear.
    html_at: Option<usize>,
    /// The `open` depth of an element that may be an Atom text construct
    /// of type `text`: an element inside makes the repair pass read it as
    /// HTML.
    text_at: Option<usize>,
    /// Whether anything but an XML declaration has been read.
    begun: bool,
    /// The text of each `<guid>` that says `isPermaLink="false"`, as read.
    not_permalinks: Vec<Cow<'a, str>>,
}

impl<'a> Source<'a> {
    fn new(text: &'a str) -> Source<'a> {
        let mut reader = NsReader::from_str(text);
        let config = reader.config_mut();
        // Empty elements come apart here, so that an `<img>` left open (a
        // repair) can be told from `<img/>`.
        config.expand_empty_elements = false;
        config.trim_markup_names_in_closing_tags = true;
        config.trim_text(false);
        Source {
            reader,
            peeked: None,
            stash: None,
            pending_end: false,
            depth: 0,
            default_ns: Ns::Unknown,
            open: 0,
            root_closed: false,
            html_at: None,
            text_at: None,
            begun: false,
            not_permalinks: Vec::new(),
        }
    }

    fn peek(&mut self) -> Fast<&Ev<'a>> {
        if self.peeked.is_none() {
            self.peeked = Some(self.fetch()?);
        }
        Ok(self.peeked.as_ref().expect("just filled"))
    }

    fn next(&mut self) -> Fast<Ev<'a>> {
        match self.peeked.take() {
            Some(ev) => Ok(ev),
            None => self.fetch(),
        }
    }

    /// feed-rs's `fetch_next`, refusing what the repair pass would change.
    fn fetch(&mut self) -> Fast<Ev<'a>> {
        if let Some(ev) = self.stash.take() {
            return Ok(ev);
        }
        if self.pending_end {
            // An empty element's end: it never counted as open.
            self.pending_end = false;
            return Ok(Ev::End);
        }
        let mut text: Option<Cow<'a, str>> = None;
        let held = |text: Option<Cow<'a, str>>, ev: Ev<'a>, stash: &mut Option<Ev<'a>>| match text {
            Some(t) => {
                *stash = Some(ev);
                Ev::Text(t)
            }
            None => ev,
        };
        loop {
            if self.root_closed {
                return Ok(text.map_or(Ev::Eof, Ev::Text));
            }
            let (resolved, event) = self.reader.read_resolved_event().map_err(|_| Decline)?;
            let ns = match resolved {
                ResolveResult::Bound(ns) => Some(Ns::of(ns.as_ref())),
                ResolveResult::Unknown(_) | ResolveResult::Unbound => None,
            };
            let first = !self.begun;
            self.begun = true;
            match event {
                Event::Start(start) => {
                    self.open_tag(&start, false)?;
                    let ev = Ev::Start(Tag { ns, start });
                    return Ok(held(text, ev, &mut self.stash));
                }
                Event::Empty(start) => {
                    self.open_tag(&start, true)?;
                    self.pending_end = true;
                    // An empty root: repair drops what follows it.
                    self.root_closed = self.open == 0;
                    let ev = Ev::Start(Tag { ns, start });
                    return Ok(held(text, ev, &mut self.stash));
                }
                Event::End(_) => {
                    self.close();
                    return Ok(held(text, Ev::End, &mut self.stash));
                }
                Event::Text(t) => {
                    if !t.is_empty() {
                        push(&mut text, t.into_inner());
                    }
                }
                Event::CData(t) => {
                    if !t.is_empty() {
                        push(&mut text, t.into_inner());
                    }
                }
                Event::GeneralRef(r) => {
                    let ch = reference(&r)?;
                    text.get_or_insert(Cow::Borrowed("")).to_mut().push(ch);
                }
                Event::Eof => {
                    if self.open > 0 {
                        // Truncated: the general path reports it.
                        return Err(Decline);
                    }
                    return Ok(text.map_or(Ev::Eof, Ev::Text));
                }
                // Repair turns these into text inside HTML-holding elements.
                Event::Comment(_) | Event::PI(_) if self.html_at.is_some() => return Err(Decline),
                Event::Comment(_) | Event::PI(_) => {}
                // Repair drops a declaration anywhere but first.
                Event::Decl(_) if first => {}
                Event::Decl(_) | Event::DocType(_) => return Err(Decline),
            }
        }
    }

    /// Checks a start tag the way the repair pass would leave it alone.
    fn open_tag(&mut self, start: &BytesStart<'_>, empty: bool) -> Fast<()> {
        if self.html_at.is_some() || self.text_at.is_some() {
            // Markup inside an RSS description or an HTML text construct:
            // repair escapes it as text; inside a text one, it labels the
            // construct HTML first.
            return Err(Decline);
        }
        let qname = start.name().0;
        let local = ordinary_name(qname)?;
        let prefixed = local.len() != qname.len();
        if !empty
            && !prefixed
            && ["br", "hr", "img", "wbr"]
                .iter()
                .any(|v| v.eq_ignore_ascii_case(local))
        {
            return Err(Decline);
        }
        let mut holds_html =
            (!prefixed && local == "description") || (prefixed && local == "encoded");
        let text_construct = atom03::is_atom10_text_construct(local);
        let mut typed_text = text_construct;
        for a in start.attributes() {
            let a = a.map_err(|_| Decline)?;
            let key = a.key.0;
            ordinary_name(key)?;
            let value: &str = &a.value;
            if key == "xml:base" || value.contains('<') {
                return Err(Decline);
            }
            if value.contains('&') {
                check_references(value)?;
            }
            if key == "xmlns" || key.starts_with("xmlns:") {
                let uri = value.trim();
                if uri == atom03::NS_03 || uri == repair::NS_RSS090 || value.contains('&') {
                    return Err(Decline);
                }
            }
            if key == "type" {
                if value == "html" {
                    holds_html = true;
                }
                typed_text = text_construct && value == "text";
                if text_construct && atom03::sloppy_atom10_type(local, value).is_some() {
                    return Err(Decline);
                }
            }
        }
        if empty {
            return if self.open >= MAX_DEPTH {
                Err(Decline)
            } else {
                Ok(())
            };
        }
        self.open += 1;
        if self.open > MAX_DEPTH {
            return Err(Decline);
        }
        if holds_html {
            self.html_at = Some(self.open);
        } else if typed_text {
            self.text_at = Some(self.open);
        }
        Ok(())
    }

    fn close(&mut self) {
        if self.html_at == Some(self.open) {
            self.html_at = None;
        }
        if self.text_at == Some(self.open) {
            self.text_at = None;
        }
        self.open = self.open.saturating_sub(1);
        if self.open == 0 {
            self.root_closed = true;
        }
    }

    /// feed-rs's `next_element_at_depth`.
    fn next_element_at_depth(&mut self, iter_depth: u32) -> Fast<Option<Element<'a>>> {
        loop {
            match self.next()? {
                Ev::Start(tag) => {
                    self.depth += 1;
                    if self.depth == iter_depth {
                        return Ok(Some(Element {
                            ns: tag.ns.unwrap_or(self.default_ns),
                            tag,
                            depth: self.depth,
                        }));
                    }
                }
                Ev::End => self.depth = self.depth.checked_sub(1).ok_or(Decline)?,
                Ev::Text(_) => {}
                Ev::Eof => {
                    return if self.depth > 0 {
                        Err(Decline)
                    } else {
                        Ok(None)
                    };
                }
            }
            if self.depth < iter_depth - 1 {
                return Ok(None);
            }
        }
    }

    /// The children of `parent`, one at a time.
    fn child(&mut self, parent: &Element<'_>) -> Fast<Option<Element<'a>>> {
        self.next_element_at_depth(parent.depth + 1)
    }

    /// feed-rs's `child_as_text`: the text right after the start tag, if
    /// any.
    fn text(&mut self) -> Fast<Option<Cow<'a, str>>> {
        if matches!(self.peek()?, Ev::Text(_))
            && let Ev::Text(t) = self.next()?
        {
            return Ok(Some(t));
        }
        Ok(None)
    }

    /// feed-rs's `child_as_text_sloppy`, for an element with no children
    /// (markup would be serialised: declined).
    fn text_sloppy(&mut self) -> Fast<Cow<'a, str>> {
        if let Some(t) = self.text()? {
            return Ok(t);
        }
        match self.peek()? {
            Ev::End => Ok(Cow::Borrowed("")),
            _ => Err(Decline),
        }
    }
}

fn push<'a>(text: &mut Option<Cow<'a, str>>, more: Cow<'a, str>) {
    match text {
        None => *text = Some(more),
        Some(t) => t.to_mut().push_str(&more),
    }
}

/// An element or attribute name the repair pass and quick-xml read alike:
/// ASCII, at most one colon. Returns the local part.
fn ordinary_name(qname: &str) -> Fast<&str> {
    let ok = qname
        .bytes()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.' | b':'))
        && qname.bytes().filter(|c| *c == b':').count() <= 1
        && qname
            .bytes()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == b'_');
    if !ok {
        return Err(Decline);
    }
    Ok(qname.rsplit(':').next().unwrap_or(qname))
}

/// What a reference in text stands for, if the repair pass would leave
/// its meaning alone: XML's five, and numeric references it keeps (or only
/// respells).
fn reference(name: &str) -> Fast<char> {
    Ok(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        _ if name.starts_with('#') => numeric_reference(name)?,
        _ => return Err(Decline),
    })
}

/// The character of `#123` or `#x7b`, when the repair pass keeps its
/// meaning and quick-xml resolves it to the same character.
fn numeric_reference(name: &str) -> Fast<char> {
    let whole = format!("&{name};");
    let mut out = String::new();
    let consumed = repair::reference_as_repaired(whole.as_bytes(), &mut out);
    let ch = BytesRef::new(name)
        .resolve_char_ref()
        .ok()
        .flatten()
        .ok_or(Decline)?;
    if consumed == whole.len() && (out == whole || out == format!("&#{};", ch as u32)) {
        Ok(ch)
    } else {
        Err(Decline)
    }
}

/// Checks every reference in an attribute value as `reference` does.
fn check_references(value: &str) -> Fast<()> {
    let mut rest = value;
    while let Some(at) = rest.find('&') {
        let after = &rest[at + 1..];
        let semi = after.find(';').ok_or(Decline)?;
        let name = &after[..semi];
        match name {
            "amp" | "lt" | "gt" | "quot" | "apos" => {}
            _ if name.starts_with('#') => {
                numeric_reference(name)?;
            }
            _ => return Err(Decline),
        }
        rest = &after[semi + 1..];
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// RSS 2.0 (feed-rs's `parser/rss2`)

fn rss(src: &mut Source<'_>, root: &Element<'_>) -> Fast<Feed> {
    // The first child named `channel`, whatever its namespace.
    while let Some(child) = src.child(root)? {
        if child.tag.local() == "channel" {
            return channel(src, &child);
        }
    }
    Err(Decline)
}

fn channel(src: &mut Source<'_>, channel: &Element<'_>) -> Fast<Feed> {
    let mut feed = new_feed(FeedType::RSS2);
    while let Some(child) = src.child(channel)? {
        match (child.ns, child.tag.local()) {
            (Ns::Rss, "title") => feed.title = src.text()?.map(|t| plain(&t)),
            (Ns::Rss, "link") => {
                if let Some(link) = text_link(src, None)? {
                    feed.links.push(link);
                }
            }
            (Ns::Atom, "link") => {
                if let Some(link) = atom_link(&child)? {
                    feed.links.push(link);
                }
            }
            (Ns::Rss, "description") => feed.description = src.text()?.map(|t| plain(&t)),
            (Ns::Rss, "language") => feed.language = src.text()?.map(|t| t.to_lowercase()),
            (Ns::Rss, "copyright") => feed.rights = src.text()?.map(|t| plain(&t)),
            (Ns::Rss, role @ ("managingEditor" | "webMaster")) => {
                let role = role.to_string();
                if let Some(t) = src.text()? {
                    feed.contributors.push(person(&t, &role)?);
                }
            }
            (Ns::Rss, "pubDate") => feed.published = src.text()?.and_then(|t| dates::timestamp(&t)),
            (Ns::Rss, "lastBuildDate" | "updated") => {
                feed.updated = src.text()?.and_then(|t| dates::timestamp(&t));
            }
            (Ns::Rss, "category") => {
                if let Some(t) = src.text()? {
                    let mut category = Category::new(&t);
                    category.scheme = child.tag.attr("domain")?;
                    feed.categories.push(category);
                }
            }
            (Ns::Rss, "generator") => {
                feed.generator = match src.text()? {
                    Some(t) => Some(Generator {
                        content: t.trim().to_string(),
                        uri: child.tag.attr("uri")?,
                        version: None,
                    }),
                    None => None,
                };
            }
            (Ns::Rss, "ttl") => {
                if let Some(ttl) = src.text()?.and_then(|t| t.parse::<u32>().ok()) {
                    feed.ttl = Some(ttl);
                }
            }
            (Ns::Rss, "image") => feed.logo = rss_image(src, &child)?,
            (Ns::Rss, "item") => feed.entries.push(item(src, &child)?),
            (Ns::Itunes | Ns::Podcast, _) => return Err(Decline),
            _ => {}
        }
    }
    Ok(feed)
}

fn rss_image(src: &mut Source<'_>, image: &Element<'_>) -> Fast<Option<Image>> {
    let mut logo = Image {
        uri: String::new(),
        title: None,
        link: None,
        width: None,
        height: None,
        description: None,
    };
    let size = |t: Option<Cow<'_, str>>, max: u32| {
        t.and_then(|t| t.parse::<u32>().ok())
            .filter(|n| (1..=max).contains(n))
    };
    while let Some(child) = src.child(image)? {
        match (child.ns, child.tag.local()) {
            (Ns::Rss, "url") => {
                if let Some(t) = src.text()? {
                    logo.uri = t.into_owned();
                }
            }
            (Ns::Rss, "title") => logo.title = src.text()?.map(Cow::into_owned),
            (Ns::Rss, "link") => {
                if let Some(t) = src.text()? {
                    logo.link = Some(link(&t));
                }
            }
            (Ns::Rss, "width") => {
                if let Some(w) = size(src.text()?, 144) {
                    logo.width = Some(w);
                }
            }
            (Ns::Rss, "height") => {
                if let Some(h) = size(src.text()?, 400) {
                    logo.height = Some(h);
                }
            }
            (Ns::Rss, "description") => logo.description = src.text()?.map(Cow::into_owned),
            _ => {}
        }
    }
    Ok((!logo.uri.is_empty()).then_some(logo))
}

fn item(src: &mut Source<'_>, item: &Element<'_>) -> Fast<Entry> {
    let mut entry = new_entry();
    while let Some(child) = src.child(item)? {
        match (child.ns, child.tag.local()) {
            (Ns::Rss, "title") => entry.title = src.text()?.map(|t| plain(&t)),
            (Ns::Rss, "link") => {
                if let Some(link) = text_link(src, None)? {
                    entry.links.push(link);
                }
            }
            (Ns::Rss, "description") => entry.summary = src.text()?.map(|t| html(&t)),
            (Ns::Rss, "author") => {
                if let Some(t) = src.text()? {
                    entry.authors.push(person(&t, "author")?);
                }
            }
            (Ns::Rss, "category") => {
                if let Some(t) = src.text()? {
                    let mut category = Category::new(&t);
                    category.scheme = child.tag.attr("domain")?;
                    entry.categories.push(category);
                }
            }
            (Ns::Rss, "guid") => {
                if let Some(t) = src.text()? {
                    entry.id = t.trim().to_string();
                    if guids::denies_permalink(&child.tag.start) {
                        src.not_permalinks.push(t);
                    }
                }
            }
            (Ns::Rss, "pubDate") | (Ns::DublinCore, "date") => {
                entry.published = src.text()?.and_then(|t| dates::timestamp(&t));
            }
            (Ns::Rss | Ns::Atom, "updated") => {
                entry.updated = src.text()?.and_then(|t| dates::timestamp(&t));
            }
            (Ns::Content, "encoded") => {
                entry.content = match src.text()? {
                    Some(t) if !t.is_empty() => Some(Content {
                        body: Some(t.into_owned()),
                        content_type: TYPES.html.content_type.clone(),
                        length: None,
                        src: None,
                    }),
                    _ => None,
                };
            }
            (Ns::DublinCore, "creator") => {
                if let Some(t) = src.text()? {
                    entry.authors.push(person(&t, "creator")?);
                }
            }
            (Ns::Wfw, "commentRss" | "commentRSS") => {
                if let Some(link) = text_link(src, Some(LinkTarget::CommentsFeed))? {
                    entry.links.push(link);
                }
            }
            (Ns::Rss, "comments") => {
                if let Some(link) = text_link(src, Some(LinkTarget::Comments))? {
                    entry.links.push(link);
                }
            }
            // Media objects: feed-rs's merging rules are not written here.
            (Ns::Rss, "enclosure") | (Ns::Itunes | Ns::MediaRss | Ns::Podcast, _) => {
                return Err(Decline);
            }
            _ => {}
        }
    }
    if entry.updated.is_none() && entry.published.is_some() {
        entry.updated = entry.published;
    }
    // Comment links that only repeat another link go (`clean_links`).
    let others: Vec<String> = entry
        .links
        .iter()
        .filter(|l| l.target != Some(LinkTarget::Comments))
        .map(|l| l.href.clone())
        .collect();
    entry
        .links
        .retain(|l| l.target != Some(LinkTarget::Comments) || !others.contains(&l.href));
    Ok(entry)
}

/// feed-rs's `common::handle_link`: the element's text as a link.
fn text_link(src: &mut Source<'_>, target: Option<LinkTarget>) -> Fast<Option<Link>> {
    Ok(src.text()?.map(|t| {
        let mut l = link(&t);
        l.target = target;
        l
    }))
}

// ---------------------------------------------------------------------------
// Atom 1.0 (feed-rs's `parser/atom`)

fn atom_feed(src: &mut Source<'_>, root: &Element<'_>) -> Fast<Feed> {
    let mut feed = new_feed(FeedType::Atom);
    feed.language = root.tag.attr("xml:lang")?;
    while let Some(child) = src.child(root)? {
        if child.ns != Ns::Atom {
            continue;
        }
        match child.tag.local() {
            "id" => {
                if let Some(t) = src.text()? {
                    feed.id = t.into_owned();
                }
            }
            "title" => feed.title = Some(text_construct(src, &child)?),
            "updated" => {
                if let Some(t) = src.text()? {
                    feed.updated = dates::timestamp(&t);
                }
            }
            "author" => {
                if let Some(p) = atom_person(src, &child, "author")? {
                    feed.authors.push(p);
                }
            }
            "link" => {
                if let Some(link) = atom_link(&child)? {
                    feed.links.push(link);
                }
            }
            "category" => {
                if let Some(c) = atom_category(&child)? {
                    feed.categories.push(c);
                }
            }
            "contributor" => {
                if let Some(p) = atom_person(src, &child, "contributor")? {
                    feed.contributors.push(p);
                }
            }
            "generator" => {
                feed.generator = match src.text()? {
                    Some(t) => Some(Generator {
                        content: t.trim().to_string(),
                        uri: child.tag.attr("uri")?,
                        version: child.tag.attr("version")?,
                    }),
                    None => None,
                };
            }
            "icon" => feed.icon = atom_image(src)?,
            "logo" => feed.logo = atom_image(src)?,
            "rights" => feed.rights = Some(text_construct(src, &child)?),
            "subtitle" => feed.description = Some(text_construct(src, &child)?),
            "entry" => feed.entries.push(atom_entry(src, &child)?),
            _ => {}
        }
    }
    Ok(feed)
}

fn atom_entry(src: &mut Source<'_>, element: &Element<'_>) -> Fast<Entry> {
    let mut entry = new_entry();
    while let Some(child) = src.child(element)? {
        match (child.ns, child.tag.local()) {
            (Ns::Atom, "id") => {
                if let Some(t) = src.text()? {
                    entry.id = t.into_owned();
                }
            }
            (Ns::Atom, "title") => entry.title = Some(text_construct(src, &child)?),
            (Ns::Atom, "updated") => {
                if let Some(t) = src.text()? {
                    entry.updated = dates::timestamp(&t);
                }
            }
            (Ns::Atom, "author") => {
                if let Some(p) = atom_person(src, &child, "author")? {
                    entry.authors.push(p);
                }
            }
            (Ns::Atom, "content") => {
                entry.base = None;
                entry.language = child.tag.attr("xml:lang")?;
                entry.content = Some(atom_content(src, &child)?);
            }
            (Ns::Atom, "link") => {
                if let Some(link) = atom_link(&child)? {
                    entry.links.push(link);
                }
            }
            (Ns::Atom, "summary") => entry.summary = Some(text_construct(src, &child)?),
            (Ns::Atom, "category") => {
                if let Some(c) = atom_category(&child)? {
                    entry.categories.push(c);
                }
            }
            (Ns::Atom, "contributor") => {
                if let Some(p) = atom_person(src, &child, "contributor")? {
                    entry.contributors.push(p);
                }
            }
            (Ns::Atom, "published" | "pubDate") => {
                if let Some(t) = src.text()? {
                    entry.published = dates::timestamp(&t);
                }
            }
            (Ns::Atom, "rights") => entry.rights = Some(text_construct(src, &child)?),
            (Ns::Wfw, "commentRss" | "commentRSS") => {
                if let Some(link) = text_link(src, Some(LinkTarget::CommentsFeed))? {
                    entry.links.push(link);
                }
            }
            (Ns::MediaRss, _) => return Err(Decline),
            _ => {}
        }
    }
    Ok(entry)
}

/// feed-rs's `atom::handle_text`, for `text` and `html`; XHTML and unknown
/// types are declined (feed-rs serialises the one and refuses the other).
fn text_construct(src: &mut Source<'_>, element: &Element<'_>) -> Fast<Text> {
    let ty = element.tag.attr("type")?;
    let is_html = match ty.as_deref() {
        None | Some("text") => false,
        Some("html" | "text/html") => true,
        Some(_) => return Err(Decline),
    };
    let t = src.text_sloppy()?;
    Ok(if is_html { html(&t) } else { plain(&t) })
}

/// feed-rs's `atom::handle_content`, for inline text and HTML.
fn atom_content(src: &mut Source<'_>, element: &Element<'_>) -> Fast<Content> {
    if element.tag.attr("src")?.is_some() {
        return Err(Decline);
    }
    match element.tag.attr("type")?.as_deref() {
        None | Some("text" | "html" | "text/html") => {}
        Some(_) => return Err(Decline),
    }
    let text = text_construct(src, element)?;
    Ok(Content {
        body: Some(text.content),
        content_type: text.content_type,
        length: None,
        src: None,
    })
}

/// feed-rs's `atom::handle_person`: children by local name, any namespace.
fn atom_person(src: &mut Source<'_>, element: &Element<'_>, role: &str) -> Fast<Option<Person>> {
    let (mut name, mut uri, mut email) = (None, None, None);
    while let Some(child) = src.child(element)? {
        let text = src.text()?.map(Cow::into_owned);
        match (child.tag.local(), text) {
            ("name", Some(n)) => name = Some(n),
            ("uri", u) => uri = u,
            ("email", e) => email = e,
            _ => {}
        }
    }
    Ok((name.is_some() || email.is_some()).then(|| Person {
        name,
        uri,
        email,
        role: Some(role.to_string()),
    }))
}

/// feed-rs's `atom::handle_link`.
fn atom_link(element: &Element<'_>) -> Fast<Option<Link>> {
    let Some(href) = element.tag.attr("href")? else {
        return Ok(None);
    };
    let mut l = link(&href);
    for (name, value) in element.tag.attrs()? {
        match name {
            "rel" => l.rel = Some(value),
            "type" => l.media_type = Some(value),
            "hreflang" => l.href_lang = Some(value),
            "title" => l.title = Some(value),
            "length" => l.length = value.parse::<u64>().ok(),
            _ => {}
        }
    }
    if l.rel.is_none() {
        l.rel = Some("alternate".to_string());
    }
    Ok(Some(l))
}

/// feed-rs's `atom::handle_category`.
fn atom_category(element: &Element<'_>) -> Fast<Option<Category>> {
    let Some(term) = element.tag.attr("term")? else {
        return Ok(None);
    };
    let mut category = Category::new(&term);
    for (name, value) in element.tag.attrs()? {
        match name {
            "scheme" => category.scheme = Some(value),
            "label" => category.label = Some(value),
            _ => {}
        }
    }
    Ok(Some(category))
}

/// feed-rs's `atom::handle_image`: an absolute URL normalised, anything
/// else as written.
fn atom_image(src: &mut Source<'_>) -> Fast<Option<Image>> {
    Ok(src.text()?.map(|raw| Image {
        uri: url::Url::parse(&raw).map_or_else(|_| raw.into_owned(), |u| u.to_string()),
        title: None,
        link: None,
        width: None,
        height: None,
        description: None,
    }))
}

// ---------------------------------------------------------------------------
// feed-rs's model constructors, which it keeps crate-private

fn new_feed(feed_type: FeedType) -> Feed {
    Feed {
        feed_type,
        id: String::new(),
        title: None,
        updated: None,
        authors: Vec::new(),
        description: None,
        links: Vec::new(),
        categories: Vec::new(),
        contributors: Vec::new(),
        generator: None,
        icon: None,
        language: None,
        logo: None,
        published: None,
        rating: None,
        rights: None,
        ttl: None,
        people: Vec::new(),
        entries: Vec::new(),
    }
}

fn new_entry() -> Entry {
    Entry::default()
}

/// Texts whose media types are cloned into new ones: the `mediatype`
/// crate's type is not ours to name.
struct Types {
    plain: Text,
    html: Text,
}

static TYPES: LazyLock<Types> = LazyLock::new(|| {
    let plain = Text {
        content_type: Content::default().content_type,
        src: None,
        content: String::new(),
    };
    let mut html = plain.clone();
    html.content_type = "text/html".parse().expect("a valid media type");
    Types { plain, html }
});

/// `Text::new`: trimmed, `text/plain`.
fn plain(content: &str) -> Text {
    Text {
        content_type: TYPES.plain.content_type.clone(),
        src: None,
        content: content.trim().to_string(),
    }
}

/// `Text::html`: trimmed, `text/html`.
fn html(content: &str) -> Text {
    Text {
        content_type: TYPES.html.content_type.clone(),
        src: None,
        content: content.trim().to_string(),
    }
}

/// `Link::new` without a base: an absolute URL normalised, anything else
/// as written; trimmed either way.
fn link(href: &str) -> Link {
    let href = match url::Url::parse(href) {
        Ok(u) => u.to_string().trim().to_string(),
        Err(_) => href.trim().to_string(),
    };
    Link {
        href,
        target: None,
        rel: None,
        media_type: None,
        href_lang: None,
        title: None,
        length: None,
    }
}

/// feed-rs's `parse_person_name_email` and `role`: an email address found
/// in the text, and the longer of the text around it as the name. feed-rs
/// slices one byte either side of the address, and panics when that byte
/// is inside a character; this path declines instead.
fn person(raw: &str, role: &str) -> Fast<Person> {
    static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"\b(<\[\()?(mailto:)?([A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,})(>]\))?\b")
            .expect("static regex")
    });
    let mut email = None;
    let mut name = None;
    // No `@`, no address: the regex cannot match.
    if raw.contains('@')
        && let Some(captures) = EMAIL.captures(raw)
        && let Some(address) = captures.get(3)
    {
        email = Some(address.as_str().trim().to_string());
        if let Some(span) = captures.get(0) {
            let prefix_len = span.start();
            let suffix_len = raw.len() - span.end();
            let name_str = if prefix_len > suffix_len {
                raw.get(..span.start() - 1).ok_or(Decline)?
            } else if span.end() < raw.len() {
                raw.get(span.end() + 1..).ok_or(Decline)?
            } else {
                ""
            };
            let name_str = name_str.trim();
            if !name_str.is_empty() {
                name = Some(name_str.to_string());
            }
        }
    }
    if email.is_none() {
        name = Some(raw.trim().to_string());
    }
    Ok(Person {
        name,
        uri: None,
        email,
        role: Some(role.trim().to_string()),
    })
}

#[cfg(test)]
mod tests;
