//! Normalize stage: a parsed feed -> [`NewItem`]s ready to store.
//!
//! Owns item identity (the feed-scoped [`ItemKey`]), canonical links for
//! cross-feed dedup (defined in [`crate::link`], which the store shares),
//! absolute links, plain-text titles and sanitised HTML.
//! Nothing here depends on the time of the poll, so the same document always
//! normalises to the same items.
//!
//! Reading an entry better (plain text keeping its paragraphs, RSS author
//! names without their brackets) changes what is archived, not what the
//! entry is: keys are made of the text as first read, and every item
//! carries the content hash the previous version gave it
//! ([`NewItem::earlier_hash`]), by which the store tells an article an
//! earlier version archived, unchanged, from an edited one.

use chrono::{DateTime, Datelike, Utc};
use feed_rs::model::{Entry, FeedType, Link, Text};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use url::Url;

use super::parse::{GENERATED_ID, ParsedFeed, TextBases};

/// Files kept per entry: a podcast episode has one, a gallery a few.
const MAX_ENCLOSURES: usize = 16;

/// Categories kept per entry, in the feed's order. Real feeds tag an
/// article with a handful; a document of half a million is an attack on
/// every page that lists them, not information.
const MAX_CATEGORIES: usize = 256;

/// Whether a publisher's date is one the archive can keep: years 1 to 9999,
/// which every stored time and every reader of it can write and read back
/// (year 0 in a feed's time zone is year -1 in UTC). Dates outside are
/// typing errors or attacks, and are dropped as if not given.
fn storable(at: &DateTime<Utc>) -> bool {
    (1..=9999).contains(&at.year())
}
use crate::link::{canonical, is_web};
use crate::markup::escape_text;
use crate::model::{Enclosure, FeedMeta, ItemKey, NewItem};

/// Feed-level data and the items of `parsed`, fetched from `feed_url`.
pub fn normalize(parsed: ParsedFeed, feed_url: &Url) -> (FeedMeta, Vec<NewItem>) {
    let ParsedFeed {
        feed,
        not_permalinks,
        text_bases,
    } = parsed;
    // An RSS title is text that publishers escape as if it were HTML, often
    // once too often (`AT&amp;amp;T`, `Ben &amp;#8217;s`), which feedparser
    // reads as HTML too; Atom and JSON Feed say what their text is.
    let rss = matches!(
        feed.feed_type,
        FeedType::RSS0 | FeedType::RSS1 | FeedType::RSS2
    );
    let meta = FeedMeta {
        title: feed
            .title
            .as_ref()
            .map(|t| title_to_plain(t, rss))
            .filter(|t| !t.is_empty()),
        // Only the web's: a `javascript:` home page would go on to readers
        // in every output that names the source.
        site_url: alternate(&feed.links)
            .and_then(|l| join(&l.href, feed_url))
            .filter(is_web)
            .map(String::from)
            .filter(|u| u != feed_url.as_str()),
        feed_guid: Some(feed.id.trim().to_string())
            .filter(|id| !id.is_empty() && id != GENERATED_ID),
        // `feeds.feed_updated_at` keeps the same fixed-width years as the
        // items' dates.
        updated: feed.updated.filter(storable),
    };
    // Relative item links resolve against the site the feed describes when
    // it names one (a `file:` feed's links point at the web, not the disk),
    // else against the feed's own URL.
    let base = meta
        .site_url
        .as_deref()
        .and_then(|s| Url::parse(s).ok())
        .filter(is_web)
        .unwrap_or_else(|| feed_url.clone());
    // feed-rs labels an RSS 1.0 description text/plain and an RSS 2.0 one
    // HTML; both hold HTML in practice (escaped, or tags the repair pass
    // escapes as it does in 2.0), as feedparser reads them too.
    let html_summary = feed.feed_type == FeedType::RSS1;
    let mut text_bases = text_bases.into_iter();
    let mut items: Vec<NewItem> = feed
        .entries
        .into_iter()
        .map(|e| {
            let read = Reading {
                html_summary,
                rss,
                guid_is_permalink: !not_permalinks.contains(e.id.trim()),
                bases: text_bases.next().unwrap_or_default(),
            };
            normalize_entry(e, &base, read)
        })
        .collect();
    disambiguate(&mut items);
    (meta, items)
}

/// How [`normalize_entry`] reads an entry, beyond the entry itself.
struct Reading {
    /// The summary is HTML whatever feed-rs labelled it.
    html_summary: bool,
    /// The title is RSS's (see [`title_to_plain`]).
    rss: bool,
    /// The entry's guid may stand for a link it lacks: it did not say
    /// `isPermaLink="false"` ([`ParsedFeed::not_permalinks`]).
    guid_is_permalink: bool,
    /// The `xml:base` in scope for its summary and content.
    bases: TextBases,
}

fn normalize_entry(e: Entry, feed_url: &Url, read: Reading) -> NewItem {
    let Reading {
        html_summary,
        rss,
        guid_is_permalink,
        bases,
    } = read;
    // `feed_url` here is the base for relative links (see `normalize`).
    let guid =
        Some(e.id.trim().to_string()).filter(|id| !id.is_empty() && !id.contains(GENERATED_ID));
    let guid_link = || {
        guid.as_deref()
            .and_then(|g| Url::parse(g).ok())
            .filter(is_web)
    };
    let link = alternate(&e.links)
        .and_then(|l| join(&l.href, feed_url))
        .filter(is_web)
        // An RSS guid is the permalink unless it says it is not
        // (`isPermaLink="false"`, which feed-rs drops and the parse stage
        // reads back), so a guid that is a web address stands for the
        // link an entry lacks (as feedparser and Miniflux read it).
        .or_else(|| guid_link().filter(|_| guid_is_permalink));
    // The link as versions that did not know `isPermaLink` read it, the
    // guid taken whatever it said: what the hashes of an item they
    // archived were made of, so that it is not revised for a link the
    // publisher never changed. (Entries that share such a guid were told
    // apart by its canonical link then, and are by their hashes now: a
    // feed whose linkless entries share one may have them archived once
    // more.)
    let first_link = match (&link, guid_is_permalink) {
        (None, false) => guid_link(),
        _ => link.clone(),
    };
    let url = link.as_ref().map(Url::to_string);
    let first_url = first_link.as_ref().map(Url::to_string);
    let canonical = link.clone().map(canonical);
    // Relative links inside the HTML resolve against the `xml:base` in
    // scope for it (RFC 4287 §2) when the document sets one, else against
    // the article when we know it, else against the feed.
    let base = link.unwrap_or_else(|| feed_url.clone());
    let first_base = first_link.unwrap_or_else(|| feed_url.clone());
    let title = e
        .title
        .as_ref()
        .map(|t| title_to_plain(t, rss))
        .unwrap_or_default();
    // Each text as archived, and as the previous version archived it when
    // that differs (plain text before it kept its paragraphs, HTML whose
    // relative links resolved against a guid that is no permalink).
    let summary = e
        .summary
        .as_ref()
        .map(|t| {
            let content_type = if html_summary {
                "text/html"
            } else {
                t.content_type.as_str()
            };
            to_html_as_before(
                &t.content,
                content_type,
                bases.summary.as_ref().unwrap_or(&base),
                &first_base,
            )
        })
        .filter(|s| !s.now.trim().is_empty());
    let content = e
        .content
        .as_ref()
        .and_then(|c| {
            let body = c.body.as_deref()?;
            Some(to_html_as_before(
                body,
                c.content_type.as_str(),
                bases.content.as_ref().unwrap_or(&base),
                &first_base,
            ))
        })
        .filter(|s| !s.now.trim().is_empty());
    let enclosures = enclosures(&e, feed_url);
    let first_authors: Vec<&str> = e
        .authors
        .iter()
        .filter_map(|p| p.name.as_deref().map(str::trim))
        .filter(|n| !n.is_empty())
        .collect();
    let (authors, author_emails): (Vec<String>, Vec<Option<String>>) = e
        .authors
        .iter()
        .filter_map(|p| Some((author_name(p)?.to_string(), author_email(p))))
        .unzip();
    let mut categories: Vec<String> = Vec::new();
    let mut seen: HashSet<&str> = HashSet::new();
    for c in &e.categories {
        let term = c.label.as_deref().unwrap_or(&c.term).trim();
        if categories.len() == MAX_CATEGORIES {
            break;
        }
        if !term.is_empty() && seen.insert(term) {
            categories.push(term.to_string());
        }
    }
    let published = e.published.filter(storable).or(e.updated.filter(storable));
    let updated = e.updated.filter(storable);

    // The title as read before RSS titles had their references decoded,
    // when it was: what keys are made of, so an item an earlier version
    // archived keeps its key (`key_hash`, and the hash key below).
    let first_title = e
        .title
        .as_ref()
        .filter(|t| decodes_references(t, rss))
        .map(|t| title_to_plain(t, false));
    let key_title = first_title.as_deref().unwrap_or(&title);
    let (summary_html, summary_before) = Archived::split(summary);
    let (content_html, content_before) = Archived::split(content);
    // The texts and authors as the previous version archived them: what
    // keys are made of (an item keeps its key), and what tells an entry an
    // archive from before holds unchanged from an edited one.
    let first_summary = summary_before.as_deref().or(summary_html.as_deref());
    let first_content = content_before.as_deref().or(content_html.as_deref());
    let first_authors = first_authors.join("\n");
    let authors_now = authors.join("\n");
    let hash_with = |title: &str,
                     url: Option<&str>,
                     summary: Option<&str>,
                     content: Option<&str>,
                     authors: &str| {
        hash_fields(&[
            title,
            url.unwrap_or(""),
            summary.unwrap_or(""),
            content.unwrap_or(""),
            authors,
            &categories.join("\n"),
            &published.map(|p| p.to_rfc3339()).unwrap_or_default(),
        ])
    };
    let content_hash = hash_with(
        &title,
        url.as_deref(),
        summary_html.as_deref(),
        content_html.as_deref(),
        &authors_now,
    );
    let read_as_before = first_url == url
        && first_summary == summary_html.as_deref()
        && first_content == content_html.as_deref()
        && first_authors == authors_now;
    let earlier_hash = if read_as_before {
        content_hash.clone()
    } else {
        hash_with(
            &title,
            first_url.as_deref(),
            first_summary,
            first_content,
            &first_authors,
        )
    };
    let key_hash = match &first_title {
        Some(t) => hash_with(
            t,
            first_url.as_deref(),
            first_summary,
            first_content,
            &first_authors,
        ),
        None => earlier_hash.clone(),
    };
    let key = match (&guid, &canonical) {
        (Some(g), _) => ItemKey::of_guid(g).0,
        (None, Some(c)) => format!("link:{c}"),
        // No id and no link: the content is all there is. Hash what a
        // publisher rarely edits, not the whole body.
        (None, None) => format!(
            "hash:{}",
            hash_fields(&[
                key_title,
                first_summary.unwrap_or(""),
                first_content.unwrap_or(""),
                &published.map(|p| p.to_rfc3339()).unwrap_or_default(),
            ])
        ),
    };
    NewItem {
        key: ItemKey(key),
        guid,
        url,
        canonical_url: canonical,
        title,
        summary_text: summary_html.as_deref().map(sanitized_to_text),
        content_text: content_html.as_deref().map(sanitized_to_text),
        summary_html,
        content_html,
        authors,
        author_emails,
        categories,
        enclosures,
        published,
        updated,
        content_hash,
        earlier_hash,
        key_hash,
        mentions: Vec::new(),
    }
}

/// Files attached to an entry, once each, in the feed's order, at most
/// `MAX_ENCLOSURES`: RSS `<enclosure>` (and the MediaRSS or iTunes media
/// feed-rs reads beside it, which it does not tell apart), Atom links with
/// `rel="enclosure"`, and JSON Feed attachments of audio or video (which
/// feed-rs hands over as links). Only http(s) addresses. Not part of the
/// content hash: an item is kept with the files it first came with, and
/// archives from before they were stored do not see every item "edited".
fn enclosures(e: &Entry, base: &Url) -> Vec<Enclosure> {
    let media = e.media.iter().flat_map(|m| &m.content).filter_map(|c| {
        Some(Enclosure {
            url: c.url.as_ref()?.to_string(),
            media_type: c.content_type.as_ref().map(ToString::to_string),
            length: c.size,
        })
    });
    let links = e
        .links
        .iter()
        .filter(|l| is_enclosure(l))
        .map(|l| Enclosure {
            url: l.href.clone(),
            media_type: l.media_type.clone(),
            length: l.length,
        });
    let mut seen = HashSet::new();
    media
        .chain(links)
        .filter_map(|mut enclosure| {
            let url = join(&enclosure.url, base).filter(is_web)?;
            enclosure.url = url.to_string();
            seen.insert(enclosure.url.clone()).then_some(enclosure)
        })
        .take(MAX_ENCLOSURES)
        .collect()
}

/// Some feeds give every item the same guid. Dropping the repeats would
/// lose articles, and letting the first keep the bare key would hand it to
/// whichever entry is listed first: in a newest-first feed, each new
/// article would take over the last one's row. So every entry sharing a
/// key gets its link (or content hash) added ([`NewItem::shared_key`]);
/// entries that share the link too get their content hash as well
/// ([`NewItem::twice_shared_key`]), since a number by place in the
/// document would move as new entries are listed above them. Only the
/// same entry listed twice is numbered.
fn disambiguate(items: &mut [NewItem]) {
    let shared = repeated_keys(items);
    if shared.is_empty() {
        return;
    }
    for item in items.iter_mut().filter(|i| shared.contains(&i.key.0)) {
        item.key = item.shared_key();
    }
    let twice = repeated_keys(items);
    for item in items.iter_mut().filter(|i| twice.contains(&i.key.0)) {
        item.key = item.twice_shared_key();
    }
    let mut seen: HashMap<String, usize> = HashMap::new();
    for item in items.iter_mut() {
        let again = seen.entry(item.key.0.clone()).or_insert(0);
        *again += 1;
        if *again > 1 {
            item.key = ItemKey(format!("{}|{}", item.key.0, again));
        }
    }
}

/// The keys more than one of `items` has.
fn repeated_keys(items: &[NewItem]) -> HashSet<String> {
    let mut count: HashMap<&str, usize> = HashMap::new();
    for item in items {
        *count.entry(item.key.0.as_str()).or_insert(0) += 1;
    }
    count
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .map(|(k, _)| k.to_string())
        .collect()
}

fn hash_fields(fields: &[&str]) -> String {
    let mut h = Sha256::new();
    for f in fields {
        h.update((f.len() as u64).to_be_bytes());
        h.update(f.as_bytes());
    }
    hex::encode(h.finalize())
}

/// The link a reader would open: `rel="alternate"` (or no rel), else a
/// `related` one. Never the comments (`<comments>`, `wfw:commentRss`), an
/// enclosure, replies or the entry's own feed: an entry with only those has
/// no page of its own.
fn alternate(links: &[Link]) -> Option<&Link> {
    let with = |rels: &[Option<&str>]| {
        links
            .iter()
            .find(|l| l.target.is_none() && rels.contains(&l.rel.as_deref()) && !is_enclosure(l))
    };
    with(&[None, Some("alternate")]).or_else(|| with(&[Some("related")]))
}

/// Whether `link` is a file attached to the entry: Atom's
/// `rel="enclosure"`, or a JSON Feed attachment of audio or video (feed-rs
/// hands attachments over as links without a rel).
fn is_enclosure(link: &Link) -> bool {
    match link.rel.as_deref() {
        Some("enclosure") => true,
        None => link
            .media_type
            .as_deref()
            .is_some_and(|t| t.starts_with("audio/") || t.starts_with("video/")),
        Some(_) => false,
    }
}

/// `href` made absolute against `base`.
fn join(href: &str, base: &Url) -> Option<Url> {
    let href = href.trim();
    if href.is_empty() {
        return None;
    }
    base.join(href).ok()
}

fn is_plain(t: &Text) -> bool {
    is_plain_type(t.content_type.as_str())
}

fn is_plain_type(content_type: &str) -> bool {
    content_type.starts_with("text/plain")
}

/// A feed's or an item's title as plain text, whitespace collapsed. A
/// plain `rss` title that holds a character reference (`&amp;`, `&#8217;`)
/// has its references decoded once, as feedparser reads one; anything
/// that reads like a tag stays text.
fn title_to_plain(t: &Text, rss: bool) -> String {
    let s = if !is_plain(t) {
        html_to_text(&t.content)
    } else if decodes_references(t, rss) {
        match super::sanitize::decode_references(&t.content) {
            Some(decoded) => decoded.into_owned(),
            None => html_to_text(&t.content.replace('<', "&lt;")),
        }
    } else {
        t.content.clone()
    };
    crate::markup::collapse_whitespace_owned(s)
}

/// Whether [`title_to_plain`] decodes `t`'s references: a plain `rss`
/// title that holds one.
fn decodes_references(t: &Text, rss: bool) -> bool {
    rss && is_plain(t) && holds_reference(&t.content)
}

/// Whether `text` holds an HTML character reference ended by `;`: `&name;`,
/// `&#digits;` or `&#xhex;`. A bare `&` (`AT&T`, `Q&A`) is no reason to
/// read a title as HTML.
fn holds_reference(text: &str) -> bool {
    text.match_indices('&').any(|(at, _)| {
        let rest = &text[at + 1..];
        let (body, digits): (&str, fn(&char) -> bool) = match rest.strip_prefix('#') {
            Some(n) => match n.strip_prefix(['x', 'X']) {
                Some(h) => (h, char::is_ascii_hexdigit),
                None => (n, char::is_ascii_digit),
            },
            None => (rest, char::is_ascii_alphanumeric),
        };
        let len = body.chars().take_while(digits).count();
        len > 0 && body[len..].starts_with(';')
    })
}

/// [`to_html`] against `base` (the `xml:base` in scope for the text,
/// else the article's link, else the feed's address), keeping HTML as the
/// previous version read it, against `first_base` (the article's link as
/// it read it, [`normalize_entry`]'s `first_link`, else the feed's
/// address), as the text before when that differs: the publisher changed
/// nothing, so it is no edit ([`Archived`]). Both bases are the same for
/// nearly every entry, and HTML without a URL attribute reads the same
/// against either: sanitised once.
fn to_html_as_before(body: &str, content_type: &str, base: &Url, first_base: &Url) -> Archived {
    if base == first_base || is_plain_type(content_type) || !names_an_address(body) {
        return to_html(body, content_type, base);
    }
    let now = sanitize(body, base);
    let before = sanitize(body, first_base);
    Archived {
        before: (before != now).then_some(before),
        now,
    }
}

/// Whether HTML may hold an address the sanitiser makes absolute (an
/// `href`, `src` or `cite` attribute, in any case): HTML without one reads
/// the same against any base, so it is sanitised once.
fn names_an_address(html: &str) -> bool {
    let bytes = html.as_bytes();
    [b"href".as_slice(), b"src", b"cite"].iter().any(|name| {
        bytes
            .windows(name.len())
            .any(|w| w.eq_ignore_ascii_case(name))
    })
}

/// A summary or content of `content_type` as HTML: plain text is escaped
/// and keeps its paragraphs ([`paragraphs`]), HTML sanitised. Plain text is
/// an Atom text construct of type text and a JSON Feed's `summary` and
/// `content_text`: text that reads like a tag (`Use the <details>
/// element`) is text there, which sanitising as HTML would drop.
fn to_html(body: &str, content_type: &str, base: &Url) -> Archived {
    if is_plain_type(content_type) {
        let before = escape_text(body);
        let now = paragraphs(&before);
        Archived {
            before: (now != before).then(|| before.into_owned()),
            now,
        }
    } else {
        Archived::same(sanitize(body, base))
    }
}

/// A text as archived now, and as the previous version archived it when
/// that was different.
struct Archived {
    now: String,
    before: Option<String>,
}

impl Archived {
    fn same(now: String) -> Self {
        Archived { now, before: None }
    }

    /// The text now and before, when there is one.
    fn split(this: Option<Self>) -> (Option<String>, Option<String>) {
        this.map_or((None, None), |a| (Some(a.now), a.before))
    }
}

/// Escaped plain text as HTML a reader shows as it was written: trimmed,
/// each run of lines apart from the next by a blank line a `<p>`, each
/// line break inside one a `<br>` (newlines kept after them, so the text
/// of the HTML, `summary_text`, keeps them too). A single line stays bare,
/// as before: most plain-text summaries are one line, and are archived as
/// they always were. Left as bare newlines, which HTML collapses, every
/// paragraph ran into the next in readers and on our pages.
fn paragraphs(escaped: &str) -> String {
    let text = escaped.trim();
    if !text.contains(['\n', '\r']) {
        return text.to_string();
    }
    // Old Mac line ends too (`lines` knows only `\n` and `\r\n`).
    let unified;
    let text = if text.contains('\r') {
        unified = text.replace("\r\n", "\n").replace('\r', "\n");
        &unified
    } else {
        text
    };
    let mut out = String::with_capacity(text.len() + 32);
    let mut open = false;
    for line in text.lines().map(str::trim) {
        if line.is_empty() {
            if open {
                out.push_str("</p>\n\n");
                open = false;
            }
            continue;
        }
        if open {
            out.push_str("<br>\n");
        } else {
            out.push_str("<p>");
            open = true;
        }
        out.push_str(line);
    }
    out.push_str("</p>");
    out
}

/// The name of an author as a reader wants it, or `None` when the feed gave
/// only an email address. RSS 2.0's `<author>` is an email with the name
/// in brackets (`jane@example.com (Jane Doe)`); feed-rs takes the address
/// out and keeps the brackets, which are no part of the name. Only one
/// pair around the whole name goes: `(Jane Doe) (Reuters)` is two, and
/// `(Jane Doe (Reuters))` is one, keeping the inner. An address written
/// hard against its bracket (`jane@example.com(Jane Doe)`) leaves the name
/// with a `)` no `(` opened (the parsers take the byte after the address
/// as a separator), which goes too.
fn author_name(person: &feed_rs::model::Person) -> Option<&str> {
    let name = person.name.as_deref()?.trim();
    let name = match person.email {
        Some(_) => unbracketed(name),
        None => name,
    };
    Some(name).filter(|n| !n.is_empty())
}

/// `name` without one pair of brackets around the whole of it, or without
/// a last `)` that closes nothing: see [`author_name`].
fn unbracketed(name: &str) -> &str {
    let mut depth = 0i32;
    for (at, c) in name.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                // The bracket that opened the name closes here: the pair
                // goes only if it closes at the end.
                if depth == 0 && name.starts_with('(') {
                    return if at == name.len() - 1 {
                        name[1..at].trim()
                    } else {
                        name
                    };
                }
            }
            _ => {}
        }
    }
    if depth < 0 && name.ends_with(')') {
        name[..name.len() - 1].trim()
    } else {
        name
    }
}

/// An author's email address, when the feed gave one that reads as a plain
/// address: a local part, one `@`, a domain with a dot, and nothing Atom's
/// `<email>` (an RFC 2822 addr-spec) would not take or a reader would
/// choke on (spaces, brackets, quotes, commas). A junk `<email>` in a
/// source is left out, not passed on to make the merged feed invalid.
fn author_email(person: &feed_rs::model::Person) -> Option<String> {
    let email = person.email.as_deref()?.trim();
    let email = email.strip_prefix("mailto:").unwrap_or(email);
    let (local, domain) = email.split_once('@')?;
    let plain = |part: &str| {
        !part.is_empty()
            && !part.starts_with('.')
            && !part.ends_with('.')
            && part
                .chars()
                .all(|c| !c.is_whitespace() && !c.is_control() && !"@<>()[],;:\"\\".contains(c))
    };
    (plain(local) && plain(domain) && domain.contains('.')).then(|| email.to_string())
}

thread_local! {
    /// The base URL relative links resolve against in the current
    /// `sanitize` call (read by the sanitiser's URL rewriter).
    static BASE: std::cell::RefCell<Option<Url>> = const { std::cell::RefCell::new(None) };
    /// One sanitiser per thread: building ammonia's allow-lists for every
    /// item was a measurable share of a poll.
    static SANITIZER: ammonia::Builder<'static> = {
        let mut b = ammonia::Builder::default();
        b.link_rel(Some(super::sanitize::LINK_REL));
        b.url_relative(ammonia::UrlRelative::Custom(Box::new(rebase)));
        b
    };
}

/// A relative URL made absolute against this thread's `BASE`.
fn rebase(url: &str) -> Option<std::borrow::Cow<'_, str>> {
    BASE.with(|base| {
        base.borrow()
            .as_ref()
            .and_then(|b| b.join(url).ok())
            .map(|u| std::borrow::Cow::Owned(u.to_string()))
    })
}

/// Sanitised HTML: no scripts, styles, event handlers or `javascript:`
/// URLs; relative links and image sources made absolute against `base`.
///
/// The streaming sanitiser answers for the plain markup feeds nearly always
/// hold, with ammonia's output byte for byte; what it does not model
/// (tables, forms, misnesting, foreign content) goes to ammonia itself,
/// unless its tags have so many attributes that ammonia would take
/// minutes: then only its text is kept.
pub fn sanitize(html: &str, base: &Url) -> String {
    super::sanitize::clean(html, Some(base), super::sanitize::Allow::Feed).unwrap_or_else(|| {
        if too_costly_for_ammonia(html) {
            escape_text(&sanitized_to_text(html)).into_owned()
        } else {
            sanitize_with_ammonia(html, base)
        }
    })
}

/// Whether `html` has more attributes in one tag (or piled on its `<html>`
/// element) than ammonia parses in reasonable time: html5ever's cost is
/// quadratic in them ([`super::sanitize::attributes_stay_few`]). Such HTML
/// is hostile, so it is reduced to its text by `sanitized_to_text`'s
/// single pass: linear, and markup-free once escaped.
fn too_costly_for_ammonia(html: &str) -> bool {
    let costly = !super::sanitize::attributes_stay_few(html);
    if costly {
        tracing::warn!(
            "HTML with too many attributes for the sanitiser (over {} in a tag) was reduced to its text",
            super::sanitize::AMMONIA_MAX_ATTRS
        );
    }
    costly
}

/// [`sanitize`] by ammonia alone: the reference the streaming sanitiser
/// is held to (its differential tests and the stages bench), and its
/// fallback.
#[doc(hidden)]
pub fn sanitize_with_ammonia(html: &str, base: &Url) -> String {
    BASE.with(|b| *b.borrow_mut() = Some(base.clone()));
    serialize(SANITIZER.with(|s| s.clean(html)), html.len())
}

/// A cleaned document as HTML, serialised straight into one buffer sized
/// from its input (`to_string` would serialise into a buffer of its own and
/// then copy that through the formatter).
fn serialize(clean: ammonia::Document, input_len: usize) -> String {
    let mut out = Vec::with_capacity(input_len + input_len / 8);
    clean
        .write_to(&mut out)
        .expect("writing to a Vec cannot fail");
    String::from_utf8(out).expect("html5ever writes UTF-8")
}

/// Text of HTML that `sanitize` produced: tags dropped, the few entities
/// its serialiser writes decoded. One linear pass; `html_to_text` (which
/// parses) is for HTML of unknown shape.
pub fn sanitized_to_text(html: &str) -> String {
    const ENTITIES: [(&str, &str); 6] = [
        ("&amp;", "&"),
        ("&lt;", "<"),
        ("&gt;", ">"),
        ("&quot;", "\""),
        ("&#39;", "'"),
        ("&nbsp;", "\u{a0}"),
    ];
    let b = html.as_bytes();
    let mut out = String::with_capacity(html.len());
    let mut i = 0;
    while let Some(found) = memchr::memchr2(b'<', b'&', &b[i..]) {
        let at = i + found;
        out.push_str(&html[i..at]);
        if b[at] == b'<' {
            // Skip to the tag's end, minding quoted attribute values (the
            // serialiser leaves `>` unescaped inside them).
            let mut quote = None;
            i = at + 1;
            while let Some(&c) = b.get(i) {
                i += 1;
                match (quote, c) {
                    (None, b'"' | b'\'') => quote = Some(c),
                    (Some(q), c) if c == q => quote = None,
                    (None, b'>') => break,
                    _ => {}
                }
            }
        } else {
            let rest = &html[at..];
            let (text, len) = ENTITIES
                .iter()
                .find(|(entity, _)| rest.starts_with(entity))
                .map_or(("&", 1), |(entity, text)| (*text, entity.len()));
            out.push_str(text);
            i = at + len;
        }
    }
    out.push_str(&html[i..]);
    out
}

/// Text content of an HTML fragment, entities decoded.
pub fn html_to_text(html: &str) -> String {
    // No tags survive an empty allow-list; what is left is text with the
    // serialiser's entities, which `sanitized_to_text` decodes.
    match super::sanitize::clean(html, None, super::sanitize::Allow::Nothing) {
        Some(clean) => sanitized_to_text(&clean),
        None if too_costly_for_ammonia(html) => sanitized_to_text(html),
        None => sanitized_to_text(&html_to_text_ammonia_html(html)),
    }
}

/// What ammonia with an empty allow-list writes for `html` (the reference
/// and fallback of [`html_to_text`]'s streaming path).
pub(crate) fn html_to_text_ammonia_html(html: &str) -> String {
    serialize(ammonia::Builder::empty().clean(html), html.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::parse::parse;

    fn items(xml: &str) -> Vec<NewItem> {
        let base = Url::parse("https://example.com/feed.xml").unwrap();
        normalize(parse(xml.as_bytes(), &base, None).unwrap(), &base).1
    }

    #[test]
    fn keys_prefer_guid_then_link_then_content() {
        let got = items(
            r#"<rss version="2.0"><channel><title>T</title>
            <item><title>A</title><guid> g1 </guid><link>https://example.com/a</link></item>
            <item><title>B</title><link>https://example.com/b?utm_source=rss</link></item>
            <item><title>C</title><description>only text</description></item>
            </channel></rss>"#,
        );
        assert_eq!(got[0].key.0, "id:g1");
        assert_eq!(got[1].key.0, "link:https://example.com/b");
        assert!(got[2].key.0.starts_with("hash:"));
        // Stable: the same document gives the same keys.
        let again = items(
            r#"<rss version="2.0"><channel><title>T</title>
            <item><title>C</title><description>only text</description></item>
            </channel></rss>"#,
        );
        assert_eq!(again[0].key, got[2].key);
    }

    /// Categories are kept in order, once each, and at most
    /// `MAX_CATEGORIES`: a document of thousands (40,000 took 7 s to
    /// normalise) is cut, not stored.
    #[test]
    fn categories_are_kept_once_each_up_to_the_cap() {
        let mut xml = String::from(
            r#"<rss version="2.0"><channel><title>T</title><item><title>A</title><guid>a</guid>"#,
        );
        for i in 0..2_000 {
            xml.push_str(&format!(
                "<category>c{}</category><category>c{}</category>",
                i,
                i / 2
            ));
        }
        xml.push_str("</item></channel></rss>");
        let got = items(&xml).remove(0).categories;
        assert_eq!(got.len(), MAX_CATEGORIES);
        assert_eq!(got[..3], ["c0", "c1", "c2"]);
        assert_eq!(got.last().unwrap(), &format!("c{}", MAX_CATEGORIES - 1));
    }

    /// A date the archive could not write and read back (year 0 in a feed's
    /// time zone is year -1 in UTC; year 9999 late in the evening west of
    /// Greenwich is 10000) is dropped as if not given.
    #[test]
    fn dates_outside_years_1_to_9999_are_dropped() {
        let got = items(
            r#"<feed xmlns="http://www.w3.org/2005/Atom"><title>T</title><id>urn:t</id>
            <updated>2026-01-01T00:00:00Z</updated>
            <entry><title>A</title><id>urn:a</id>
              <published>0000-01-01T00:00:00+01:00</published>
              <updated>2026-01-02T00:00:00Z</updated></entry>
            <entry><title>B</title><id>urn:b</id>
              <updated>9999-12-31T23:00:00-05:00</updated></entry>
            <entry><title>C</title><id>urn:c</id>
              <updated>0001-01-01T00:00:00Z</updated></entry>
            </feed>"#,
        );
        let dates: Vec<_> = got
            .iter()
            .map(|i| (i.published.map(|d| d.year()), i.updated.map(|d| d.year())))
            .collect();
        assert_eq!(
            dates,
            [(Some(2026), Some(2026)), (None, None), (Some(1), Some(1))]
        );
    }

    /// The feed's own `<updated>` follows the items' rule: a year the
    /// archive could not write as four digits is dropped; years 1 and 9999
    /// (and a date in the future, kept as items' dates are) stay.
    #[test]
    fn a_feed_date_outside_years_1_to_9999_is_dropped() {
        let updated = |date: &str| {
            let xml = format!(
                r#"<feed xmlns="http://www.w3.org/2005/Atom"><title>T</title><id>urn:t</id>
                <updated>{date}</updated></feed>"#
            );
            let base = Url::parse("https://example.com/feed.xml").unwrap();
            normalize(parse(xml.as_bytes(), &base, None).unwrap(), &base)
                .0
                .updated
                .map(|d| d.to_rfc3339())
        };
        assert_eq!(updated("0000-01-01T00:00:00+01:00"), None);
        assert_eq!(updated("9999-12-31T23:00:00-05:00"), None);
        assert_eq!(
            updated("0001-01-01T00:00:00Z").as_deref(),
            Some("0001-01-01T00:00:00+00:00")
        );
        assert_eq!(
            updated("2099-01-01T00:00:00Z").as_deref(),
            Some("2099-01-01T00:00:00+00:00")
        );
    }

    /// A feed's home page is passed on only when it is a web address: a
    /// `javascript:` or `data:` one would reach readers in every output
    /// that names the source.
    #[test]
    fn a_home_page_that_is_no_web_address_is_dropped() {
        let site = |link: &str| {
            let xml = format!(
                r#"<rss version="2.0"><channel><title>T</title><link>{link}</link></channel></rss>"#
            );
            let base = Url::parse("https://example.com/feed.xml").unwrap();
            normalize(parse(xml.as_bytes(), &base, None).unwrap(), &base)
                .0
                .site_url
        };
        assert_eq!(site("javascript:alert(document.domain)"), None);
        assert_eq!(site("data:text/html,hi"), None);
        assert_eq!(site("/news").as_deref(), Some("https://example.com/news"));
    }

    /// Content that is text (an Atom `<content>` of type `text`, or with no
    /// type) is escaped, not read as HTML; `html` content is sanitised.
    #[test]
    fn text_content_is_escaped_and_html_content_sanitised() {
        let atom = items(
            r#"<feed xmlns="http://www.w3.org/2005/Atom"><title>T</title><id>urn:t</id>
            <updated>2026-01-01T00:00:00Z</updated>
            <entry><title>A</title><id>urn:a</id><updated>2026-01-01T00:00:00Z</updated>
              <content type="text">Use &lt;details&gt; &amp; not &lt;script&gt;x()&lt;/script&gt;</content></entry>
            <entry><title>B</title><id>urn:b</id><updated>2026-01-01T00:00:00Z</updated>
              <content>a &lt; b</content></entry>
            <entry><title>C</title><id>urn:c</id><updated>2026-01-01T00:00:00Z</updated>
              <content type="html">&lt;p&gt;ok&lt;script&gt;x()&lt;/script&gt;&lt;/p&gt;</content></entry>
            </feed>"#,
        );
        let contents: Vec<Option<&str>> = atom.iter().map(|i| i.content_html.as_deref()).collect();
        assert_eq!(
            contents,
            [
                Some("Use &lt;details&gt; &amp; not &lt;script&gt;x()&lt;/script&gt;"),
                Some("a &lt; b"),
                Some("<p>ok</p>"),
            ]
        );
    }

    /// Plain text (a JSON Feed's `content_text` and `summary`, Atom text)
    /// reads as written: paragraphs apart, lines broken where they were,
    /// escaped as before; the ends trimmed. One line stays as it was.
    #[test]
    fn plain_text_keeps_its_paragraphs_and_line_breaks() {
        let base = Url::parse("https://example.com/feed.json").unwrap();
        let doc = r#"{"version": "https://jsonfeed.org/version/1.1", "title": "T",
            "items": [{"id": "1", "url": "https://example.com/1", "title": "Letter",
              "summary": "One line & done",
              "content_text": "Dear all,\r\nrates rose <a lot>.\r\n\r\n   \n\nMore next week.\n"}]}"#;
        let feed = parse(doc.as_bytes(), &base, Some("application/feed+json")).unwrap();
        let json = normalize(feed, &base).1;
        assert_eq!(json[0].summary_html.as_deref(), Some("One line &amp; done"));
        assert_eq!(
            json[0].content_html.as_deref(),
            Some("<p>Dear all,<br>\nrates rose &lt;a lot&gt;.</p>\n\n<p>More next week.</p>")
        );
        // Search and snippets read the lines too.
        assert_eq!(
            json[0].content_text.as_deref(),
            Some("Dear all,\nrates rose <a lot>.\n\nMore next week.")
        );
        let atom = items(
            "<feed xmlns=\"http://www.w3.org/2005/Atom\"><title>T</title><id>urn:t</id>
            <updated>2026-01-01T00:00:00Z</updated>
            <entry><title>A</title><id>urn:a</id><updated>2026-01-01T00:00:00Z</updated>
              <summary type=\"text\">First,\n  second.\n\n  Third.</summary></entry></feed>",
        );
        assert_eq!(
            atom[0].summary_html.as_deref(),
            Some("<p>First,<br>\nsecond.</p>\n\n<p>Third.</p>")
        );
    }

    /// RSS 2.0's `<author>` is an email address with the name in brackets:
    /// the name is the person's, without them or the address, in each
    /// shape feeds use; `dc:creator` is a name already.
    #[test]
    fn rss_author_names_lose_their_brackets_and_address() {
        let got = items(
            r#"<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>T</title>
            <item><guid>1</guid><title>1</title><author>jane@example.com (Jane Doe)</author></item>
            <item><guid>2</guid><title>2</title><author>desk@example.com (Doe, Jane)</author></item>
            <item><guid>3</guid><title>3</title><author>Bob Roe &lt;bob@example.com&gt;</author></item>
            <item><guid>4</guid><title>4</title><author>news@example.com</author></item>
            <item><guid>5</guid><title>5</title><author>Ann Lee</author></item>
            <item><guid>6</guid><title>6</title><dc:creator>Kim (Markets desk)</dc:creator>
              <dc:creator>sam@example.com (Sam Poe)</dc:creator></item>
            <item><guid>7</guid><title>7</title><author>x@example.com (Al) (Reuters)</author></item>
            <item><guid>8</guid><title>8</title><author>x@example.com (Jane Doe (Reuters))</author></item>
            <item><guid>9</guid><title>9</title><author>jane@example.com(Jane Doe)</author></item>
            </channel></rss>"#,
        );
        let authors: Vec<Vec<&str>> = got
            .iter()
            .map(|i| i.authors.iter().map(String::as_str).collect())
            .collect();
        assert_eq!(
            authors,
            [
                vec!["Jane Doe"],
                vec!["Doe, Jane"],
                vec!["Bob Roe"],
                vec![],
                vec!["Ann Lee"],
                vec!["Kim (Markets desk)", "Sam Poe"],
                vec!["(Al) (Reuters)"],
                vec!["Jane Doe (Reuters)"],
                vec!["Jane Doe"],
            ]
        );
        // The address beside each name, where there was one.
        let emails: Vec<Vec<Option<&str>>> = got
            .iter()
            .map(|i| i.author_emails.iter().map(Option::as_deref).collect())
            .collect();
        assert_eq!(
            emails,
            [
                vec![Some("jane@example.com")],
                vec![Some("desk@example.com")],
                vec![Some("bob@example.com")],
                vec![],
                vec![None],
                vec![None, Some("sam@example.com")],
                vec![Some("x@example.com")],
                vec![Some("x@example.com")],
                vec![Some("jane@example.com")],
            ]
        );
    }

    /// An Atom source's `<email>` that is no plain address is left out
    /// (its author kept), so the merged feed's `<email>`, an RFC 2822
    /// addr-spec in RFC 4287, stays valid.
    #[test]
    fn an_email_that_is_no_plain_address_is_left_out() {
        let entries: String = [
            "@",
            "jane@",
            "@example.com",
            "jane@localhost",
            "&lt;jane@example.com&gt;",
            "jane doe@example.com",
            "jane@example..com.",
            "mailto:jane@example.com",
        ]
        .iter()
        .enumerate()
        .map(|(n, email)| {
            format!(
                "<entry><id>urn:{n}</id><title>{n}</title><updated>2026-01-01T00:00:00Z</updated>
                 <author><name>Jane</name><email>{email}</email></author></entry>"
            )
        })
        .collect();
        let got = items(&format!(
            "<feed xmlns=\"http://www.w3.org/2005/Atom\"><title>T</title><id>urn:t</id>
            <updated>2026-01-01T00:00:00Z</updated>{entries}</feed>"
        ));
        let emails: Vec<Option<&str>> = got
            .iter()
            .map(|i| {
                assert_eq!(i.authors, ["Jane"]);
                i.author_emails[0].as_deref()
            })
            .collect();
        assert_eq!(
            emails,
            [
                None,
                None,
                None,
                None,
                None,
                None,
                None,
                Some("jane@example.com")
            ]
        );
    }

    /// What an archive from before paragraphs and bare author names holds
    /// for an entry ([`NewItem::earlier_hash`]), and the keys, are of the
    /// text and names as it read them: an entry without id or link keeps
    /// its key, and one archived unchanged is told from an edited one.
    #[test]
    fn keys_and_the_earlier_hash_are_of_the_text_as_first_read() {
        let atom = items(
            "<feed xmlns=\"http://www.w3.org/2005/Atom\"><title>T</title><id>urn:t</id>
            <updated>2026-01-01T00:00:00Z</updated>
            <entry><title>A</title><updated>2026-01-01T00:00:00Z</updated>
              <summary type=\"text\">a &lt; b\n\nc</summary></entry></feed>",
        );
        let published = "2026-01-01T00:00:00+00:00";
        let before = "a &lt; b\n\nc";
        assert_eq!(
            atom[0].key.0,
            format!("hash:{}", hash_fields(&["A", before, "", published]))
        );
        assert_eq!(
            atom[0].earlier_hash,
            hash_fields(&["A", "", before, "", "", "", published])
        );
        assert_ne!(atom[0].content_hash, atom[0].earlier_hash);
        let rss = items(
            r#"<rss version="2.0"><channel><title>T</title>
            <item><guid>1</guid><title>1</title><author>jane@example.com (Jane Doe)</author></item>
            <item><guid>2</guid><title>2</title><author>Ann Lee</author></item>
            </channel></rss>"#,
        );
        assert_eq!(
            rss[0].earlier_hash,
            hash_fields(&["1", "", "", "", "(Jane Doe)", "", ""])
        );
        // Read alike by both versions: one hash.
        assert_eq!(rss[1].earlier_hash, rss[1].content_hash);
    }

    /// Text may hold no element, so an Atom text construct of type text
    /// (or none) that does is HTML its publisher did not label: shown as
    /// HTML, not as tags. CDATA in one is text.
    #[test]
    fn atom_text_holding_elements_is_read_as_html() {
        let atom = items(
            r#"<feed xmlns="http://www.w3.org/2005/Atom"><title>T</title><id>urn:t</id>
            <updated>2026-01-01T00:00:00Z</updated>
            <entry><title>A <i>new</i> chip</title><id>urn:a</id><updated>2026-01-01T00:00:00Z</updated>
              <summary type="text">In <b>short</b>: a &lt; b</summary>
              <content><p>Hi <a href="/x" onclick="x()">there</a></p><script>x()</script></content></entry>
            <entry><title>B</title><id>urn:b</id><updated>2026-01-01T00:00:00Z</updated>
              <content><![CDATA[Use <details>]]><!-- c --></content></entry>
            </feed>"#,
        );
        assert_eq!(atom[0].title, "A new chip");
        assert_eq!(
            atom[0].summary_html.as_deref(),
            Some("In <b>short</b>: a &lt; b")
        );
        assert_eq!(
            atom[0].content_html.as_deref(),
            Some(
                r#"<p>Hi <a href="https://example.com/x" rel="noopener noreferrer nofollow">there</a></p>"#
            )
        );
        assert_eq!(atom[1].content_html.as_deref(), Some("Use &lt;details&gt;"));
    }

    /// An Atom entry whose content is kept elsewhere (`src`, with a MIME
    /// type as RFC 4287 asks) is read; the feed is not refused for it.
    #[test]
    fn atom_content_kept_elsewhere_does_not_refuse_the_feed() {
        let atom = items(
            r#"<feed xmlns="http://www.w3.org/2005/Atom"><title>T</title><id>urn:t</id>
            <updated>2026-01-01T00:00:00Z</updated>
            <entry><title>A</title><id>urn:a</id><updated>2026-01-01T00:00:00Z</updated>
              <summary>S</summary><content src="https://example.com/a.html" type="text/html"/></entry>
            <entry><title>B</title><id>urn:b</id><updated>2026-01-01T00:00:00Z</updated>
              <content src="https://example.com/b.txt" type="text/plain"/></entry>
            </feed>"#,
        );
        let read: Vec<(&str, Option<&str>, Option<&str>)> = atom
            .iter()
            .map(|i| {
                (
                    i.title.as_str(),
                    i.summary_html.as_deref(),
                    i.content_html.as_deref(),
                )
            })
            .collect();
        assert_eq!(read, [("A", Some("S"), None), ("B", None, None)]);
    }

    /// An RSS 1.0 description is HTML, as an RSS 2.0 one is, whether
    /// escaped or written as tags; feed-rs labels it plain text.
    #[test]
    fn an_rss_1_0_description_is_html() {
        let rdf = items(
            r#"<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/">
            <channel rdf:about="https://example.com/"><title>T</title><link>https://example.com/</link></channel>
            <item rdf:about="https://example.com/1"><title>A</title><link>https://example.com/1</link>
              <description>&lt;p&gt;Hi &lt;b&gt;there&lt;/b&gt; &amp;amp; a &amp;lt; b&lt;/p&gt;</description></item>
            <item rdf:about="https://example.com/2"><title>B</title><link>https://example.com/2</link>
              <description><p>Raw <i>tags</i></p></description></item>
            </rdf:RDF>"#,
        );
        let summaries: Vec<Option<&str>> = rdf.iter().map(|i| i.summary_html.as_deref()).collect();
        assert_eq!(
            summaries,
            [
                Some("<p>Hi <b>there</b> &amp; a &lt; b</p>"),
                Some("<p>Raw <i>tags</i></p>")
            ]
        );
    }

    /// An item's link is its page: not its comments, enclosure or replies;
    /// with none, a guid that is a web address (RSS's permalink).
    #[test]
    fn the_link_is_the_entrys_page() {
        let rss = items(
            r#"<rss version="2.0"><channel><title>T</title>
            <item><title>A</title><guid isPermaLink="false">a</guid><comments>https://example.com/a#comments</comments></item>
            <item><title>B</title><guid>https://example.com/permalink-b</guid></item>
            <item><title>C</title><guid>c</guid><comments>https://example.com/c#comments</comments><link>https://example.com/c</link></item>
            </channel></rss>"#,
        );
        let links: Vec<Option<&str>> = rss.iter().map(|i| i.url.as_deref()).collect();
        assert_eq!(
            links,
            [
                None,
                Some("https://example.com/permalink-b"),
                Some("https://example.com/c")
            ]
        );
        let atom = items(
            r#"<feed xmlns="http://www.w3.org/2005/Atom"><title>T</title><id>urn:t</id>
            <updated>2026-01-01T00:00:00Z</updated>
            <entry><title>Episode</title><id>urn:e1</id><updated>2026-01-01T00:00:00Z</updated>
              <link rel="enclosure" href="https://example.com/ep1.mp3" type="audio/mpeg"/></entry>
            <entry><title>Post</title><id>urn:e2</id><updated>2026-01-01T00:00:00Z</updated>
              <link rel="replies" href="https://example.com/2/comments.atom"/>
              <link rel="alternate" href="https://example.com/2"/></entry>
            <entry><title>Linked</title><id>urn:e3</id><updated>2026-01-01T00:00:00Z</updated>
              <link rel="related" href="https://other.example/story"/></entry>
            </feed>"#,
        );
        let links: Vec<Option<&str>> = atom.iter().map(|i| i.url.as_deref()).collect();
        assert_eq!(
            links,
            [
                None,
                Some("https://example.com/2"),
                Some("https://other.example/story")
            ]
        );
    }

    /// Files attached to an entry, from each format, once each and made
    /// absolute; they do not count in the content hash, so an archive from
    /// before they were kept sees no item edited.
    #[test]
    fn enclosures_are_kept_apart_from_the_content_hash() {
        let atom = items(
            r#"<feed xmlns="http://www.w3.org/2005/Atom"><title>T</title><id>urn:t</id>
            <updated>2026-01-01T00:00:00Z</updated>
            <entry><title>Episode</title><id>urn:e1</id><updated>2026-01-01T00:00:00Z</updated>
              <link rel="alternate" href="https://example.com/1"/>
              <link rel="enclosure" href="/ep1.mp3" type="audio/mpeg" length="99"/>
              <link rel="enclosure" href="https://example.com/ep1.mp3" type="audio/mpeg"/>
              <link rel="enclosure" href="javascript:alert(1)"/></entry>
            <entry><title>Episode</title><id>urn:e1</id><updated>2026-01-01T00:00:00Z</updated>
              <link rel="alternate" href="https://example.com/1"/></entry>
            </feed>"#,
        );
        assert_eq!(
            atom[0].enclosures,
            [Enclosure {
                url: "https://example.com/ep1.mp3".into(),
                media_type: Some("audio/mpeg".into()),
                length: Some(99),
            }]
        );
        assert_eq!(atom[0].url.as_deref(), Some("https://example.com/1"));
        assert_eq!(atom[0].content_hash, atom[1].content_hash);
        let json = {
            let base = Url::parse("https://example.com/feed.json").unwrap();
            let doc = r#"{"version": "https://jsonfeed.org/version/1.1", "title": "T",
                "items": [{"id": "1", "url": "https://example.com/1", "title": "Show",
                  "attachments": [{"url": "https://example.com/1.m4a", "mime_type": "audio/x-m4a",
                                   "size_in_bytes": 7}]}]}"#;
            let feed = parse(doc.as_bytes(), &base, Some("application/feed+json")).unwrap();
            normalize(feed, &base).1
        };
        assert_eq!(json[0].url.as_deref(), Some("https://example.com/1"));
        assert_eq!(json[0].enclosures[0].url, "https://example.com/1.m4a");
        assert_eq!(json[0].enclosures[0].length, Some(7));
    }

    /// A relative MediaRSS file of an Atom or RSS 1.0 feed resolves
    /// against the site the feed names, as its links do (Atom's `xml:base`
    /// first), where feed-rs dropped it.
    #[test]
    fn relative_media_files_of_atom_and_rss1_resolve_against_the_site() {
        let urls = |xml: &str| -> Vec<Vec<String>> {
            items(xml)
                .into_iter()
                .map(|i| i.enclosures.into_iter().map(|e| e.url).collect())
                .collect()
        };
        let atom = urls(
            r#"<feed xmlns="http://www.w3.org/2005/Atom" xmlns:media="http://search.yahoo.com/mrss/">
            <title>T</title><id>urn:t</id><link href="https://site.test/news/"/>
            <entry><id>urn:1</id><title>1</title><media:content url="1.mp4"/>
              <link rel="enclosure" href="/1.mp3"/></entry>
            <entry xml:base="https://cdn.test/v/"><id>urn:2</id><title>2</title>
              <media:content url="2.mp4"/></entry></feed>"#,
        );
        assert_eq!(
            atom,
            [
                vec!["https://site.test/news/1.mp4", "https://site.test/1.mp3"],
                vec!["https://cdn.test/v/2.mp4"],
            ]
        );
        let rss1 = urls(
            r#"<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
            xmlns="http://purl.org/rss/1.0/" xmlns:media="http://search.yahoo.com/mrss/">
            <channel rdf:about="https://site.test/"><title>T</title>
              <link>https://site.test/news/</link><description>D</description></channel>
            <item rdf:about="https://site.test/1"><title>1</title><link>https://site.test/1</link>
              <media:content url="/media/1.mp4"/></item></rdf:RDF>"#,
        );
        assert_eq!(rss1, [vec!["https://site.test/media/1.mp4"]]);
    }

    #[test]
    fn duplicate_guids_are_kept_apart() {
        let got = items(
            r#"<rss version="2.0"><channel><title>T</title>
            <item><title>A</title><guid>same</guid><link>https://example.com/a</link></item>
            <item><title>B</title><guid>same</guid><link>https://example.com/b</link></item>
            <item><title>C</title><guid>same</guid><link>https://example.com/b</link></item>
            </channel></rss>"#,
        );
        let keys: Vec<&str> = got.iter().map(|i| i.key.0.as_str()).collect();
        assert_eq!(keys[0], "id:same|https://example.com/a");
        // B and C share the link too: their text tells them apart.
        assert_eq!(
            keys[1..],
            [
                format!(
                    "id:same|https://example.com/b|{}",
                    &got[1].content_hash[..16]
                ),
                format!(
                    "id:same|https://example.com/b|{}",
                    &got[2].content_hash[..16]
                ),
            ]
        );
        assert_ne!(keys[1], keys[2]);
        // The same entry listed twice is numbered.
        let twice = items(
            r#"<rss version="2.0"><channel><title>T</title>
            <item><title>A</title><guid>same</guid><link>https://example.com/a</link></item>
            <item><title>A</title><guid>same</guid><link>https://example.com/a</link></item>
            </channel></rss>"#,
        );
        assert_eq!(twice[1].key.0, format!("{}|2", twice[0].key.0));
        // The same entries listed in another order keep their keys.
        let reversed = items(
            r#"<rss version="2.0"><channel><title>T</title>
            <item><title>B</title><guid>same</guid><link>https://example.com/b</link></item>
            <item><title>A</title><guid>same</guid><link>https://example.com/a</link></item>
            </channel></rss>"#,
        );
        assert_eq!(reversed[0].key.0, "id:same|https://example.com/b");
        assert_eq!(reversed[1].key.0, "id:same|https://example.com/a");
    }

    /// RSS 2.0: a guid is the permalink unless it says
    /// `isPermaLink="false"`. One that says so is no link for an item
    /// without one (feed-rs drops the attribute), read on the fast path
    /// and on feed-rs's (an HTML entity sends the document there); one
    /// that says "true", or nothing, stands for the link as before.
    #[test]
    fn a_guid_that_is_no_permalink_is_no_link() {
        for extra in ["", "<copyright>&copy; Wire</copyright>"] {
            let got = items(&format!(
                r#"<rss version="2.0"><channel><title>T</title>{extra}
                <item><title>A</title><guid isPermaLink="false">https://internal.g.example/cms/id/8841</guid></item>
                <item><title>B</title><guid isPermaLink="true">https://site.test/b</guid></item>
                <item><title>C</title><guid>https://site.test/c</guid></item>
                <item><title>D</title><link>javascript:x()</link><guid isPermalink="FALSE">https://internal.g.example/cms/id/8842</guid></item>
                </channel></rss>"#
            ));
            let urls: Vec<(Option<&str>, Option<&str>)> = got
                .iter()
                .map(|i| (i.url.as_deref(), i.canonical_url.as_deref()))
                .collect();
            assert_eq!(
                urls,
                [
                    (None, None),
                    (Some("https://site.test/b"), Some("https://site.test/b")),
                    (Some("https://site.test/c"), Some("https://site.test/c")),
                    (None, None),
                ],
                "{extra}"
            );
            // Still known by its guid.
            assert_eq!(got[0].key.0, "id:https://internal.g.example/cms/id/8841");
            assert_eq!(
                got[0].guid.as_deref(),
                Some("https://internal.g.example/cms/id/8841")
            );
        }
    }

    /// An item an earlier version archived with its no-permalink guid for
    /// its link (it read the guid whatever it said) is the same article:
    /// its earlier hash and key hash are those it was archived under, its
    /// relative links as they resolved then, so the store rewrites it
    /// instead of revising it.
    #[test]
    fn an_item_archived_with_its_guid_for_a_link_is_not_revised() {
        let doc = |attribute: &str| {
            items(&format!(
                r#"<rss version="2.0"><channel><title>T</title>
                <item><title>A</title><guid{attribute}>https://internal.g.example/cms/id/8841</guid>
                <description>&lt;p&gt;See &lt;a href="photos/1"&gt;photos&lt;/a&gt;&lt;/p&gt;</description></item>
                </channel></rss>"#
            ))
        };
        // As the earlier version read it: the attribute unknown to it.
        let before = doc("");
        let now = doc(r#" isPermaLink="false""#);
        assert_eq!(
            before[0].url.as_deref(),
            Some("https://internal.g.example/cms/id/8841")
        );
        assert_eq!(now[0].url, None);
        assert!(
            now[0]
                .summary_html
                .as_deref()
                .unwrap()
                .contains("https://example.com/photos/1"),
            "{:?}",
            now[0].summary_html
        );
        assert_ne!(now[0].content_hash, before[0].content_hash);
        assert_eq!(now[0].earlier_hash, before[0].content_hash);
        assert_eq!(now[0].key_hash, before[0].key_hash);
    }

    /// Atom content and summary resolve their relative links against the
    /// `xml:base` in scope for them (on the feed, the entry or the element,
    /// each relative to the one outside), not against the entry's link; an
    /// archive of the text as read before is no edit. Without one, against
    /// the entry's link, as before.
    #[test]
    fn atom_texts_resolve_against_the_xml_base_in_scope() {
        let got = items(
            r#"<feed xmlns="http://www.w3.org/2005/Atom" xml:base="http://base.example/news/">
            <title>T</title><id>urn:t</id><updated>2026-01-01T00:00:00Z</updated>
            <entry><id>urn:1</id><title>1</title><updated>2026-01-01T00:00:00Z</updated>
              <link href="story/1"/>
              <summary type="html">&lt;a href="s/1"&gt;one&lt;/a&gt;</summary>
              <content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p>Hello <a href="rel/2">two</a></p></div></content></entry>
            <entry xml:base="2026/"><id>urn:2</id><title>2</title><updated>2026-01-01T00:00:00Z</updated>
              <link href="story/2"/>
              <content type="html" xml:base="/top/">&lt;img src="i.png"&gt;</content></entry>
            </feed>"#,
        );
        assert_eq!(
            got[0].url.as_deref(),
            Some("http://base.example/news/story/1")
        );
        let content = got[0].content_html.as_deref().unwrap();
        assert!(
            content.contains(r#"href="http://base.example/news/rel/2""#),
            "{content}"
        );
        let summary = got[0].summary_html.as_deref().unwrap();
        assert!(
            summary.contains(r#"href="http://base.example/news/s/1""#),
            "{summary}"
        );
        let content = got[1].content_html.as_deref().unwrap();
        assert!(
            content.contains(r#"src="http://base.example/top/i.png""#),
            "{content}"
        );
        // The hash the previous version gave it: read against the link.
        let before = items(
            r#"<feed xmlns="http://www.w3.org/2005/Atom">
            <title>T</title><id>urn:t</id><updated>2026-01-01T00:00:00Z</updated>
            <entry><id>urn:1</id><title>1</title><updated>2026-01-01T00:00:00Z</updated>
              <link href="http://base.example/news/story/1"/>
              <summary type="html">&lt;a href="s/1"&gt;one&lt;/a&gt;</summary>
              <content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p>Hello <a href="rel/2">two</a></p></div></content></entry>
            </feed>"#,
        );
        assert!(
            before[0]
                .content_html
                .as_deref()
                .unwrap()
                .contains("http://base.example/news/story/rel/2")
        );
        assert_eq!(got[0].earlier_hash, before[0].content_hash);
        assert_eq!(got[0].key, before[0].key);
        assert_ne!(got[0].content_hash, before[0].content_hash);
    }

    /// WordPress's Atom: `xml:base` on the feed is `<site>/wp-atom.php`,
    /// and each content's own is the post's permalink, its link. The
    /// content (a footnote's `#fn1` too) resolves against the post as
    /// before, and a summary without an address reads as before: nothing
    /// an archive holds is revised.
    #[test]
    fn wordpress_atom_reads_as_before() {
        let got = items(
            r##"<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en-US" xml:base="https://blog.test/wp-atom.php">
            <title>T</title><id>https://blog.test/feed/atom/</id><updated>2026-01-01T00:00:00Z</updated>
            <entry><id>https://blog.test/?p=7</id><title type="html">Post</title><updated>2026-01-01T00:00:00Z</updated>
              <link rel="alternate" type="text/html" href="https://blog.test/2026/01/post/"/>
              <summary type="html"><![CDATA[The first words [&#8230;]]]></summary>
              <content type="html" xml:base="https://blog.test/2026/01/post/"><![CDATA[<p>Text<sup><a href="#fn1">1</a></sup> <img src="pic.png"></p>]]></content>
            </entry></feed>"##,
        );
        let content = got[0].content_html.as_deref().unwrap();
        assert!(
            content.contains(r##"href="https://blog.test/2026/01/post/#fn1""##)
                && content.contains(r#"src="https://blog.test/2026/01/post/pic.png""#),
            "{content}"
        );
        assert_eq!(got[0].earlier_hash, got[0].content_hash);
        assert!(!names_an_address("<p>The first words [&#8230;]</p>"));
        assert!(names_an_address(r#"<A HREF="x">"#));
        assert!(names_an_address(r#"<img Src=pic.png>"#));
        assert!(names_an_address(r#"<q cite="/x">"#));
    }

    /// A feed's `javascript:` or `data:` link is not passed on to readers
    /// (pages, feeds); the item is kept, without a link.
    #[test]
    fn only_web_links_are_kept() {
        let got = items(
            r#"<rss version="2.0"><channel><title>T</title>
            <item><title>A</title><guid>a</guid><link>javascript:alert(document.domain)</link></item>
            <item><title>B</title><guid>b</guid><link>data:text/html,&lt;script&gt;x()&lt;/script&gt;</link></item>
            <item><title>C</title><guid>c</guid><link>/c</link></item>
            </channel></rss>"#,
        );
        let urls: Vec<Option<&str>> = got.iter().map(|i| i.url.as_deref()).collect();
        assert_eq!(urls, [None, None, Some("https://example.com/c")]);
        assert_eq!(got[0].canonical_url, None);
    }

    #[test]
    fn html_is_sanitised_and_links_made_absolute() {
        let got = items(
            r#"<rss version="2.0"><channel><title>T</title><item><title>A &amp; B</title>
            <link>https://example.com/news/a</link>
            <description><![CDATA[<p onclick="x()">Hi <a href="/b">b</a> <a href="javascript:alert(1)">j</a><img src="i.png"><script>alert(1)</script></p>]]></description>
            </item></channel></rss>"#,
        );
        let html = got[0].summary_html.as_deref().unwrap();
        assert!(
            !html.contains("onclick") && !html.contains("script") && !html.contains("javascript:"),
            "{html}"
        );
        assert!(html.contains(r#"href="https://example.com/b""#), "{html}");
        assert!(
            html.contains(r#"src="https://example.com/news/i.png""#),
            "{html}"
        );
        assert_eq!(got[0].title, "A & B");
    }

    #[test]
    fn relative_item_links_resolve_against_the_feed() {
        let got = items(
            r#"<rss version="2.0"><channel><title>T</title><item><title>A</title><link>/a</link></item></channel></rss>"#,
        );
        assert_eq!(got[0].url.as_deref(), Some("https://example.com/a"));
    }

    #[test]
    fn sanitized_text_matches_the_parsing_path() {
        let base = Url::parse("https://example.com/a/").unwrap();
        for raw in [
            "<p>Snow &amp; ice on the <b>glacier</b> &lt;tonight&gt;</p>",
            r#"<p><a href="x" title="a > b">link</a>ed&nbsp;text</p><ul><li>one</li><li>two</li></ul>"#,
            "<div onclick=\"x()\">caf\u{e9} <script>alert(1)</script><img src=\"i.png\" alt='q\"uote'>end</div>",
            "plain text with \"quotes\" and 'apostrophes' & ampersands",
        ] {
            let clean = sanitize(raw, &base);
            assert_eq!(sanitized_to_text(&clean), html_to_text(&clean), "{clean}");
        }
    }

    #[test]
    fn the_shared_sanitiser_uses_each_calls_base() {
        let a = sanitize(
            r#"<a href="x">x</a>"#,
            &Url::parse("https://a.test/dir/").unwrap(),
        );
        let b = sanitize(
            r#"<a href="x">x</a>"#,
            &Url::parse("https://b.test/").unwrap(),
        );
        assert!(
            a.contains("https://a.test/dir/x") && b.contains("https://b.test/x"),
            "{a} {b}"
        );
    }

    /// RSS titles escaped once too often read as their publisher meant
    /// them, the feed's and the items' alike; decoded once, so text that
    /// reads like a tag stays text. Atom text says it is text: kept.
    #[test]
    fn rss_titles_decode_their_character_references_once() {
        let base = Url::parse("https://example.com/feed.xml").unwrap();
        let read = |xml: &str| {
            let (meta, items) = normalize(parse(xml.as_bytes(), &base, None).unwrap(), &base);
            (meta.title.unwrap(), items[0].title.clone())
        };
        let rss = r#"<?xml version="1.0"?><rss version="2.0"><channel>
            <title>AT&amp;amp;T News</title><link>https://example.com/</link>
            <item><title>Ben &amp;#8217;s &amp;lt;b&amp;gt; week, Q&amp;A &lt;i&gt;</title>
            <link>https://example.com/a</link></item></channel></rss>"#;
        assert_eq!(
            read(rss),
            ("AT&T News".into(), "Ben \u{2019}s <b> week, Q&A <i>".into())
        );
        let atom = r#"<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom">
            <title>AT&amp;amp;T News</title><id>urn:x</id><updated>2026-01-01T00:00:00Z</updated>
            <entry><title>AT&amp;amp;T</title><id>urn:y</id><updated>2026-01-01T00:00:00Z</updated>
            </entry></feed>"#;
        assert_eq!(read(atom), ("AT&amp;T News".into(), "AT&amp;T".into()));
    }

    /// Decoding a title's references leaves text that only looks like one
    /// alone: a legacy name without its `;` before a letter
    /// (`Bread&nothing`, `&copyright`) is not `¬hing`.
    #[test]
    fn an_rss_title_decodes_only_what_is_a_reference() {
        let base = Url::parse("https://example.com/feed.xml").unwrap();
        let rss = r#"<?xml version="1.0"?><rss version="2.0"><channel>
            <title>Bread&amp;nothing &amp;amp; &amp;copyright</title><link>https://example.com/</link>
            <item><title>x</title><link>https://example.com/a</link></item></channel></rss>"#;
        let (meta, _) = normalize(parse(rss.as_bytes(), &base, None).unwrap(), &base);
        assert_eq!(meta.title.unwrap(), "Bread&nothing & &copyright");
    }

    /// An RSS item with neither a guid nor a link is known by a hash of its
    /// title and text. Decoding its title's references must not change that
    /// key, or every such item an earlier version archived would be
    /// archived a second time.
    #[test]
    fn a_linkless_items_key_does_not_follow_its_decoded_title() {
        let base = Url::parse("https://example.com/feed.xml").unwrap();
        let rss = r#"<?xml version="1.0"?><rss version="2.0"><channel>
            <title>t</title><link>https://example.com/</link>
            <item><title>AT&amp;amp;T wins</title><description>Body</description></item>
            </channel></rss>"#;
        let (_, items) = normalize(parse(rss.as_bytes(), &base, None).unwrap(), &base);
        assert_eq!(items[0].title, "AT&T wins");
        let before = format!("hash:{}", hash_fields(&["AT&amp;T wins", "Body", "", ""]));
        assert_eq!(items[0].key.0, before);
    }

    /// Entries that share a link (a feed linking every entry to its home
    /// page) are keyed by their link and a hash of their content; decoding
    /// a title's references must not change that key either, or each would
    /// be archived a second time (the title counts as edited instead).
    #[test]
    fn a_shared_links_key_does_not_follow_a_decoded_title() {
        let base = Url::parse("https://example.com/feed.xml").unwrap();
        let rss = r#"<?xml version="1.0"?><rss version="2.0"><channel>
            <title>t</title><link>https://example.com/</link>
            <item><title>AT&amp;amp;T wins</title><link>https://example.com/</link></item>
            <item><title>Q&amp;amp;A today</title><link>https://example.com/</link></item>
            </channel></rss>"#;
        let (_, items) = normalize(parse(rss.as_bytes(), &base, None).unwrap(), &base);
        for (item, first_read) in items.iter().zip(["AT&amp;T wins", "Q&amp;A today"]) {
            let before = hash_fields(&[first_read, "https://example.com/", "", "", "", "", ""]);
            assert_eq!(
                item.key.0,
                format!("link:https://example.com/|{}", &before[..16])
            );
            assert_ne!(item.content_hash, before, "the title reads as edited");
        }
        assert_eq!(items[0].title, "AT&T wins");
    }

    #[test]
    fn html_titles_become_text() {
        assert_eq!(
            html_to_text("<b>Bold</b> &amp; <i>it</i> &lt;tag&gt;"),
            "Bold & it <tag>"
        );
        // Decoded once: an escaped entity stays an entity's text.
        assert_eq!(
            html_to_text("AT&amp;amp;T &amp;lt;b&amp;gt;"),
            "AT&amp;T &lt;b&gt;"
        );
    }
}
