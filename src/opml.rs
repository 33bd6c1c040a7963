//! OPML: the subscription lists feed readers import and export.
//!
//! Owns these pure conversions; the caller reads and writes the files and
//! supplies the time, and what the archive knows of each feed:
//!
//! - [`export`]: our `[[feeds]]`, with each one's title and site as its
//!   own document gives them (`store::FeedHome`) -> an OPML 2.0 document, for
//!   `tickerfeed opml export` and `GET /feeds.opml`; [`export_views`]: our
//!   `[[views]]` as a list of their feeds, for `GET /views.opml`.
//! - [`parse`]: an OPML 1.0, 1.1 or 2.0 document as real readers write it
//!   -> [`Opml`]: each feed once, with its folders (their names and their
//!   own `category` paths) and its `category` paths as categories, plus
//!   every outline that was left out and why.
//! - [`to_config_entries`] -> [`ImportPlan`] -> [`append_to_config`]: those
//!   feeds as `[[feeds]]` text to append to `config.toml`, with names and
//!   tags that pass `config::resolve`, leaving out URLs already configured.
//!
//! The plan cannot see every way a hand-written config could clash with
//! appended `[[feeds]]` tables, so the caller runs [`crate::config::resolve_str`]
//! on the result of [`append_to_config`] before writing it.

use std::collections::{HashMap, HashSet};
use std::fmt;

use chrono::{DateTime, Utc};
use quick_xml::events::{BytesStart, Event};
use quick_xml::{Reader, XmlVersion};
use url::Url;

use crate::config::{Config, FeedConfig, ViewConfig};
use crate::markup::push_xml_attr;
use crate::store::FeedHome;

/// Longest feed name or tag `config::resolve` accepts.
const MAX_NAME_LEN: usize = 64;

/// One feed found in an OPML document.
#[derive(Debug, Clone, PartialEq)]
pub struct OpmlFeed {
    /// The outline's `text`, else its `title`; `None` when both are blank.
    pub title: Option<String>,
    pub xml_url: Url,
    /// The site's address as written (`htmlUrl`); not checked, only shown.
    pub html_url: Option<String>,
    /// Enclosing folders, outermost first (each its name, then the
    /// segments of its own `category` attribute), then the segments of the
    /// outline's `category` attribute; each once, as written.
    pub categories: Vec<String>,
}

/// What [`parse`] found in an OPML document.
#[derive(Debug, Clone, PartialEq)]
pub struct Opml {
    /// In document order; a URL listed twice (a feed in two folders) appears
    /// once, with the categories of both places.
    pub feeds: Vec<OpmlFeed>,
    /// Outlines with an `xmlUrl` that are not importable feeds.
    pub skipped: Vec<SkippedOutline>,
}

/// An outline [`parse`] left out, with where it was and why.
#[derive(Debug, Clone, PartialEq)]
pub struct SkippedOutline {
    /// 1-based line of the `<outline` tag.
    pub line: usize,
    /// Its `text` or `title`, for messages.
    pub title: Option<String>,
    pub reason: SkipReason,
}

/// Why an outline with an `xmlUrl` was not imported.
#[derive(Debug, Clone, PartialEq)]
pub enum SkipReason {
    /// `type` names something other than a feed, such as FreshRSS's
    /// `HTML+XPath` (a scraped web page, which only FreshRSS can read).
    NotAFeed { outline_type: String },
    /// `xmlUrl` does not parse as an absolute URL.
    BadUrl { url: String, error: url::ParseError },
    /// `xmlUrl` is absolute but not http(s): `file:` paths belong to the
    /// machine that exported them, `feed:` and the like to one reader.
    UnsupportedScheme { url: String },
    /// `isComment="true"`: the author commented the outline out.
    Commented,
}

impl fmt::Display for SkippedOutline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: ", self.line)?;
        if let Some(title) = &self.title {
            write!(f, "{title:?}: ")?;
        }
        match &self.reason {
            SkipReason::NotAFeed { outline_type } => {
                write!(f, "type {outline_type:?} is not a feed tickerfeed can read")
            }
            SkipReason::BadUrl { url, error } => write!(f, "xmlUrl {url:?} is not a URL: {error}"),
            SkipReason::UnsupportedScheme { url } => {
                write!(f, "xmlUrl {url:?} is not an http(s) URL")
            }
            SkipReason::Commented => f.write_str("commented out (isComment=\"true\")"),
        }
    }
}

/// Why a document could not be read as OPML.
#[derive(Debug, thiserror::Error)]
pub enum OpmlError {
    #[error("not an OPML file: it is empty")]
    Empty,
    #[error("not an OPML file: it has no XML element at all")]
    NoElement,
    #[error("not an OPML file: the root element is <{found}> at line {line}, not <opml>{hint}")]
    NotOpml {
        found: String,
        line: usize,
        /// What the root suggests the file is instead, when we can tell.
        hint: &'static str,
    },
    #[error("not an OPML file: <opml> has no <body>, the element that holds the feed list")]
    NoBody,
    // The reason is in the message rather than a `source`: quick-xml's
    // error shows its cause and also returns it as its source, so a
    // printed error chain said the reason twice.
    #[error("malformed XML at line {line}: {reason}")]
    Xml {
        line: usize,
        reason: quick_xml::Error,
    },
    #[error("malformed XML at line {line}: element <{found}> after the end of <opml>")]
    SecondRoot { found: String, line: usize },
    #[error("the file ends inside <{element}> opened at line {line}: is it truncated?")]
    Truncated { element: String, line: usize },
}

// ---------------------------------------------------------------------------
// Export

/// Whether an exported list keeps the user names and passwords of feeds
/// behind basic authentication.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credentials {
    /// For the operator moving to another reader (`tickerfeed opml export`);
    /// a URL that takes its key from the environment is written as the
    /// config writes it (`?api_key=${NEWS_API_KEY}`), never with the value.
    Kept,
    /// For anyone (`/feeds.opml`).
    Withheld,
}

/// Renders `feeds` as an OPML 2.0 subscription list.
///
/// One `<outline type="rss">` per feed, in config order: the feed's name
/// as `text` (the name the operator chose, which `opml import` reads
/// back), the title its own document gives (from `homes`, what the
/// archive learnt by polling it) as `title`, else the name again, its
/// site's address as `htmlUrl` when the archive knows one, so the reader
/// importing the list can link to the site, and its tags as OPML 2.0
/// category paths (`category="/markets,/uk"`). `file:` feeds are left
/// out: their paths mean nothing on another machine and would disclose
/// local paths over HTTP. The output depends only on the arguments.
///
/// A feed a confirmed permanent redirect moved (`FeedHome::moved_to`,
/// `feeds.effective_url`, secrets blanked) has that as its `xmlUrl`: the
/// address another reader should subscribe to; unless the config gives
/// it another URL since (`FeedHome::moved_from`), which is not moved.
pub fn export(
    title: &str,
    feeds: &[FeedConfig],
    homes: &HashMap<String, FeedHome>,
    credentials: Credentials,
    now: DateTime<Utc>,
) -> String {
    document(title, now, |out| {
        for feed in feeds
            .iter()
            .filter(|f| matches!(f.url.scheme(), "http" | "https"))
        {
            let home = homes.get(&feed.name);
            out.push_str("    <outline type=\"rss\"");
            push_attr(out, "text", &feed.name);
            let own_title = home.and_then(|h| h.title.as_deref());
            push_attr(out, "title", own_title.unwrap_or(&feed.name));
            let url = match credentials {
                // A key from the environment stays there: the export
                // names its variable, as the config does.
                Credentials::Kept => feed
                    .url_template
                    .clone()
                    .unwrap_or_else(|| feed.url.to_string()),
                Credentials::Withheld => {
                    crate::link::without_credentials(feed.url.as_str(), &feed.filled)
                }
            };
            let moved = home
                .filter(|h| {
                    h.moved_from == crate::link::blank_secrets(feed.url.as_str(), &feed.filled)
                })
                .and_then(|h| h.moved_to.as_deref());
            let url = match moved {
                Some(moved) => match credentials {
                    // Its secrets as the config gives them (a variable's
                    // name where it names one); a secret the config no
                    // longer gives leaves the configured URL, which
                    // redirects again, as polling does (`FeedRow::fetch_url`).
                    Credentials::Kept => moved_as_written(moved, feed).unwrap_or(url),
                    Credentials::Withheld => crate::link::without_credentials(moved, &feed.filled),
                },
                None => url,
            };
            push_attr(out, "xmlUrl", &url);
            // Only a web page: a reader may open it on a click.
            if let Some(site) = home
                .and_then(|h| h.site_url.as_deref())
                .filter(|u| Url::parse(u).is_ok_and(|u| matches!(u.scheme(), "http" | "https")))
            {
                let site = match credentials {
                    Credentials::Kept => site.to_string(),
                    Credentials::Withheld => crate::link::without_credentials(site, &feed.filled),
                };
                push_attr(out, "htmlUrl", &site);
            }
            if !feed.tags.is_empty() {
                // Tags are plain names (no ',' or '/'), so each is one path.
                let paths: Vec<String> = feed.tags.iter().map(|t| format!("/{t}")).collect();
                push_attr(out, "category", &paths.join(","));
            }
            out.push_str("/>\n");
        }
    })
}

/// The views (`[[views]]`) as OPML 2.0, for `/views.opml`: one outline per
/// view pointing at its Atom feed under `base`, so a reader can subscribe
/// to all of them at once. (The list of sources is [`export`].)
pub fn export_views(title: &str, views: &[ViewConfig], base: &Url, now: DateTime<Utc>) -> String {
    document(&format!("{title}: views"), now, |out| {
        for view in views {
            let Ok(url) = base.join(&format!("views/{}.atom", view.name)) else {
                continue;
            };
            out.push_str("    <outline type=\"rss\"");
            push_attr(out, "text", &view.title);
            push_attr(out, "title", &view.title);
            push_attr(out, "xmlUrl", url.as_str());
            out.push_str("/>\n");
        }
    })
}

/// An OPML 2.0 document: its head, then what `body` writes as outlines.
fn document(title: &str, now: DateTime<Utc>, body: impl FnOnce(&mut String)) -> String {
    let mut out =
        String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<opml version=\"2.0\">\n");
    out.push_str("  <head>\n");
    // The title gets the attribute escaping too, as it always has: a
    // reference for a tab or line break is the same text to any reader.
    out.push_str("    <title>");
    push_xml_attr(&mut out, title);
    out.push_str("</title>\n");
    // OPML 2.0 wants RFC 822 dates; "GMT" is the zone name RFC 822 knows.
    out.push_str(&format!(
        "    <dateCreated>{}</dateCreated>\n",
        now.format("%a, %d %b %Y %H:%M:%S GMT")
    ));
    out.push_str("    <docs>http://opml.org/spec2.opml</docs>\n");
    out.push_str("  </head>\n  <body>\n");
    body(&mut out);
    out.push_str("  </body>\n</opml>\n");
    out
}

/// ` name="value"`, the value escaped.
fn push_attr(out: &mut String, name: &str, value: &str) {
    out.push(' ');
    out.push_str(name);
    out.push_str("=\"");
    push_xml_attr(out, value);
    out.push('"');
}

// ---------------------------------------------------------------------------
// Parse

/// Reads an OPML subscription list.
///
/// Lenient where readers differ: any `version`, `xmlUrl` in any letter case,
/// `text` or `title`, `type` `rss`, `atom` or missing, folders nested to any
/// depth. Outlines without `xmlUrl` are folders. Strict about the document
/// itself: the root must be `<opml>` with a `<body>`, and errors name the
/// line.
pub fn parse(xml: &[u8]) -> Result<Opml, OpmlError> {
    let text = decode(xml);
    if text.trim().is_empty() {
        return Err(OpmlError::Empty);
    }
    let mut lines = LineCounter::new(&text);
    let mut reader = Reader::from_str(&text);
    let mut stack: Vec<Open> = Vec::new();
    let mut seen_root = false;
    let mut seen_body = false;
    let mut opml = Opml {
        feeds: Vec::new(),
        skipped: Vec::new(),
    };
    let mut index_of: HashMap<Url, usize> = HashMap::new();

    loop {
        let start = reader.buffer_position() as usize;
        let event = match reader.read_event() {
            Ok(event) => event,
            Err(source) => {
                let line = lines.line_at(reader.error_position() as usize);
                return Err(OpmlError::Xml {
                    line,
                    reason: source,
                });
            }
        };
        let (element, is_empty) = match event {
            Event::Start(e) => (e, false),
            Event::Empty(e) => (e, true),
            Event::End(_) => {
                stack.pop();
                continue;
            }
            Event::Eof => break,
            _ => continue,
        };
        let line = lines.line_at(start);
        let name = element.name().as_ref().to_string();
        let kind = match stack.last().map(|open| &open.kind) {
            None if seen_root => {
                // quick-xml does not check that there is only one root.
                return Err(OpmlError::SecondRoot { found: name, line });
            }
            None => {
                seen_root = true;
                if !name.eq_ignore_ascii_case("opml") {
                    let hint = root_hint(&name);
                    return Err(OpmlError::NotOpml {
                        found: name,
                        line,
                        hint,
                    });
                }
                Kind::Root
            }
            Some(Kind::Root) if name.eq_ignore_ascii_case("body") => {
                seen_body = true;
                Kind::Body
            }
            Some(Kind::Body | Kind::Outline { .. }) if name.eq_ignore_ascii_case("outline") => {
                let attrs = OutlineAttrs::read(&element)
                    .map_err(|reason| OpmlError::Xml { line, reason })?;
                let folders = stack.iter().flat_map(|open| match &open.kind {
                    Kind::Outline { folder } => folder.as_slice(),
                    _ => &[],
                });
                let folder = match attrs.outline(folders.map(String::as_str), line) {
                    Outline::Folder(categories) => categories,
                    Outline::Feed(feed) => {
                        add_feed(&mut opml.feeds, &mut index_of, feed);
                        Vec::new()
                    }
                    Outline::Skipped(skipped) => {
                        opml.skipped.push(skipped);
                        Vec::new()
                    }
                };
                Kind::Outline { folder }
            }
            Some(_) => Kind::Other,
        };
        if !is_empty {
            stack.push(Open { name, line, kind });
        }
    }

    if let Some(open) = stack.last() {
        return Err(OpmlError::Truncated {
            element: open.name.clone(),
            line: open.line,
        });
    }
    if !seen_root {
        return Err(OpmlError::NoElement);
    }
    if !seen_body {
        return Err(OpmlError::NoBody);
    }
    Ok(opml)
}

/// Adds `feed`, or merges it into the earlier entry with the same URL:
/// Feedly and others list a feed once per folder it is in.
/// The web address behind the `feed:` scheme that older readers and
/// browsers exported (`feed://example.com/rss` is `http://example.com/rss`,
/// `feed:https://example.com/rss` is `https://example.com/rss`); any other
/// address as it is.
fn without_feed_scheme(url: &str) -> std::borrow::Cow<'_, str> {
    let Some(rest) = url
        .get(..5)
        .filter(|s| s.eq_ignore_ascii_case("feed:"))
        .map(|_| &url[5..])
    else {
        return url.into();
    };
    match rest.strip_prefix("//") {
        Some(host_and_path) => format!("http://{host_and_path}").into(),
        None => rest.into(),
    }
}

fn add_feed(feeds: &mut Vec<OpmlFeed>, index_of: &mut HashMap<Url, usize>, feed: OpmlFeed) {
    match index_of.get(&feed.xml_url) {
        Some(&i) => {
            let earlier = &mut feeds[i];
            for c in &feed.categories {
                add_category(&mut earlier.categories, c);
            }
            if earlier.title.is_none() {
                earlier.title = feed.title;
            }
            if earlier.html_url.is_none() {
                earlier.html_url = feed.html_url;
            }
        }
        None => {
            index_of.insert(feed.xml_url.clone(), feeds.len());
            feeds.push(feed);
        }
    }
}

/// Decodes the document to text. A BOM wins, then the XML declaration's
/// `encoding`, then UTF-8.
///
/// Undecodable bytes become U+FFFD instead of failing the import: readers
/// do write Windows-1252 titles into files declared UTF-8, and a mangled
/// title costs less than refusing the whole list (names are slugs anyway).
fn decode(xml: &[u8]) -> std::borrow::Cow<'_, str> {
    let declared = declared_encoding(xml).unwrap_or(encoding_rs::UTF_8);
    // `decode` sniffs the BOM itself and lets it override `declared`.
    declared.decode(xml).0
}

/// The `encoding` of an `<?xml ...?>` declaration at the very start.
fn declared_encoding(xml: &[u8]) -> Option<&'static encoding_rs::Encoding> {
    let head = &xml[..xml.len().min(256)];
    let head = head.strip_prefix(b"<?xml")?;
    let end = head.windows(2).position(|w| w == b"?>")?;
    let decl = std::str::from_utf8(&head[..end]).ok()?;
    let rest = &decl[decl.find("encoding")? + "encoding".len()..];
    let rest = rest.trim_start().strip_prefix('=')?.trim_start();
    let quote = rest.chars().next().filter(|q| matches!(q, '"' | '\''))?;
    let value = &rest[1..];
    let label = &value[..value.find(quote)?];
    // A UTF-16 label on bytes we could read as ASCII is wrong: the bytes are
    // ASCII-compatible. `output_encoding` maps it (and "replacement") to UTF-8.
    encoding_rs::Encoding::for_label(label.as_bytes()).map(|e| e.output_encoding())
}

/// What a root element other than `<opml>` suggests the file is.
fn root_hint(root: &str) -> &'static str {
    match root.to_ascii_lowercase().as_str() {
        "rss" | "feed" | "rdf:rdf" | "channel" => {
            ": this is a feed, not a list of feeds; add its URL as a [[feeds]] entry instead"
        }
        "html" | "xhtml" => {
            ": this is a web page; export the OPML file from your feed reader's settings"
        }
        _ => "",
    }
}

/// An element open on the stack.
struct Open {
    name: String,
    line: usize,
    kind: Kind,
}

enum Kind {
    Root,
    Body,
    /// `folder` is what a feed inside inherits as categories: the
    /// folder's name, then its own `category` segments.
    Outline {
        folder: Vec<String>,
    },
    /// `<head>` and anything we do not read.
    Other,
}

/// The attributes of one `<outline>` we care about, unescaped and trimmed,
/// blank ones as `None`.
#[derive(Default)]
struct OutlineAttrs {
    text: Option<String>,
    title: Option<String>,
    xml_url: Option<String>,
    html_url: Option<String>,
    outline_type: Option<String>,
    category: Option<String>,
    is_comment: bool,
}

enum Outline {
    /// A folder, with the categories it hands to the feeds inside.
    Folder(Vec<String>),
    Feed(OpmlFeed),
    Skipped(SkippedOutline),
}

impl OutlineAttrs {
    fn read(element: &BytesStart<'_>) -> Result<OutlineAttrs, quick_xml::Error> {
        let mut attrs = OutlineAttrs::default();
        for attr in element.attributes() {
            let attr = attr?;
            // Readers disagree on case (`xmlUrl`, `xmlurl`, `xmlURL`), and
            // namespaced extras (`frss:xPathItem`) keep their prefix, so they
            // never match these plain names.
            let slot = match attr.key.as_ref().to_ascii_lowercase().as_str() {
                "text" => &mut attrs.text,
                "title" => &mut attrs.title,
                "xmlurl" => &mut attrs.xml_url,
                "htmlurl" => &mut attrs.html_url,
                "type" => &mut attrs.outline_type,
                "category" => &mut attrs.category,
                "iscomment" => {
                    attrs.is_comment =
                        attr.normalized_value(XmlVersion::Implicit1_0)?.trim() == "true";
                    continue;
                }
                _ => continue,
            };
            let value = attr.normalized_value(XmlVersion::Implicit1_0)?;
            let value = value.trim();
            if !value.is_empty() {
                *slot = Some(value.to_string());
            }
        }
        Ok(attrs)
    }

    /// Decides what this outline is. `folders` are the enclosing folders'
    /// names, outermost first.
    fn outline<'a>(self, folders: impl Iterator<Item = &'a str>, line: usize) -> Outline {
        let title = self.text.or(self.title);
        let Some(xml_url) = self.xml_url else {
            // A folder's `category` describes what it holds, so its feeds
            // carry it as they carry the folder's name.
            let mut categories = Vec::new();
            if let Some(name) = &title {
                add_category(&mut categories, name);
            }
            add_category_attr(&mut categories, self.category.as_deref());
            return Outline::Folder(categories);
        };
        let skipped = |reason| {
            Outline::Skipped(SkippedOutline {
                line,
                title: title.clone(),
                reason,
            })
        };
        if self.is_comment {
            return skipped(SkipReason::Commented);
        }
        if let Some(t) = &self.outline_type
            && !matches!(
                t.to_ascii_lowercase().as_str(),
                "rss" | "atom" | "json" | "jsonfeed"
            )
        {
            return skipped(SkipReason::NotAFeed {
                outline_type: t.clone(),
            });
        }
        let url = match Url::parse(&without_feed_scheme(&xml_url)) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => u,
            Ok(_) => return skipped(SkipReason::UnsupportedScheme { url: xml_url }),
            Err(error) => {
                return skipped(SkipReason::BadUrl {
                    url: xml_url,
                    error,
                });
            }
        };
        let mut categories: Vec<String> = Vec::new();
        folders.for_each(|c| add_category(&mut categories, c));
        add_category_attr(&mut categories, self.category.as_deref());
        Outline::Feed(OpmlFeed {
            title,
            xml_url: url,
            html_url: self.html_url,
            categories,
        })
    }
}

/// Adds the categories of an outline's `category` attribute. OPML 2.0: "a
/// string of comma-separated slash-delimited category strings", e.g.
/// "/Boston/Weather,/Harvard". Our tags are flat, so every path segment
/// counts; Newsboat writes plain "tag1,tag2".
fn add_category_attr(categories: &mut Vec<String>, attr: Option<&str>) {
    for segment in attr
        .into_iter()
        .flat_map(|a| a.split(','))
        .flat_map(|p| p.split('/'))
    {
        add_category(categories, segment);
    }
}

/// Adds `category`, trimmed, unless it is blank or already there.
fn add_category(categories: &mut Vec<String>, category: &str) {
    let c = category.trim();
    if !c.is_empty() && !categories.iter().any(|x| x == c) {
        categories.push(c.to_string());
    }
}

/// Byte offset -> 1-based line, counting forward from the last answer so a
/// long document is scanned once.
struct LineCounter<'a> {
    text: &'a str,
    offset: usize,
    line: usize,
}

impl<'a> LineCounter<'a> {
    fn new(text: &'a str) -> Self {
        LineCounter {
            text,
            offset: 0,
            line: 1,
        }
    }

    fn line_at(&mut self, offset: usize) -> usize {
        let offset = offset.min(self.text.len());
        let bytes = self.text.as_bytes();
        if offset >= self.offset {
            self.line += bytes[self.offset..offset]
                .iter()
                .filter(|&&b| b == b'\n')
                .count();
        } else {
            self.line = 1 + bytes[..offset].iter().filter(|&&b| b == b'\n').count();
        }
        self.offset = offset;
        self.line
    }
}

// ---------------------------------------------------------------------------
// Import into config.toml

/// What importing a list of feeds would change in the config.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportPlan {
    /// New `[[feeds]]` entries, in the order given.
    pub added: Vec<PlannedFeed>,
    /// Feeds whose URL the config already has, left alone.
    pub already_configured: Vec<AlreadyConfigured>,
}

/// A `[[feeds]]` entry to add.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedFeed {
    /// Valid (`[A-Za-z0-9._-]{1,64}`) and unused.
    pub name: String,
    pub url: Url,
    /// Valid tags, each once.
    pub tags: Vec<String>,
    /// The title in the OPML file, kept as a comment above the entry.
    pub title: Option<String>,
}

/// A feed left out because its URL is configured already.
#[derive(Debug, Clone, PartialEq)]
pub struct AlreadyConfigured {
    pub url: Url,
    pub title: Option<String>,
    /// The name it has in the config.
    pub existing_name: String,
}

/// Plans `[[feeds]]` entries for `feeds` that `existing` does not have.
///
/// A URL counts as configured when it equals a configured URL after URL
/// parsing (so host case and default ports do not matter, but `http` vs
/// `https` and trailing slashes do). Names are slugs of the title (else of
/// the host), lowercase, with other characters folded to ASCII or turned
/// into `-`, cut to 64 characters and made unique against the config and
/// each other with `-2`, `-3`, ... Tags are the categories slugged the
/// same way. Schedules are left to `[defaults]`.
pub fn to_config_entries(feeds: &[OpmlFeed], existing: &Config) -> ImportPlan {
    // Compared case-insensitively so an import never adds "bbc" next to an
    // existing "BBC": the two would be told apart only by case in logs and
    // in the archive.
    let mut taken: HashSet<String> = existing
        .feeds
        .iter()
        .map(|f| f.name.to_ascii_lowercase())
        .collect();
    let mut plan = ImportPlan {
        added: Vec::new(),
        already_configured: Vec::new(),
    };
    for feed in feeds {
        // A feed whose key comes from the environment is exported with its
        // `${NAME}` (`opml export`): that is the same feed.
        let same = |f: &FeedConfig| {
            f.url == feed.xml_url
                || f.url_template
                    .as_deref()
                    .is_some_and(|t| Url::parse(t).is_ok_and(|t| t == feed.xml_url))
        };
        if let Some(configured) = existing.feeds.iter().find(|f| same(f)) {
            if plan
                .already_configured
                .iter()
                .any(|a| a.url == feed.xml_url)
            {
                continue;
            }
            plan.already_configured.push(AlreadyConfigured {
                url: feed.xml_url.clone(),
                title: feed.title.clone(),
                existing_name: configured.name.clone(),
            });
            continue;
        }
        let tags = feed
            .categories
            .iter()
            .map(|c| slug(c))
            .filter(|t| !t.is_empty())
            .fold(Vec::new(), |mut tags, t| {
                if !tags.contains(&t) {
                    tags.push(t);
                }
                tags
            });
        // Callers may pass a list `parse` did not dedupe.
        if let Some(planned) = plan.added.iter_mut().find(|p| p.url == feed.xml_url) {
            for t in tags {
                if !planned.tags.contains(&t) {
                    planned.tags.push(t);
                }
            }
            continue;
        }
        let name = unique_name(&base_name(feed), &taken);
        taken.insert(name.clone());
        plan.added.push(PlannedFeed {
            name,
            url: feed.xml_url.clone(),
            tags,
            title: feed.title.clone(),
        });
    }
    plan
}

/// A `${NAME}` (a variable the config fills from the environment) in a
/// URL, as written or as the URL parser writes it in a user name or a
/// path, its braces percent-encoded (`$%7BNAME%7D`).
static VARIABLE: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    regex::Regex::new(r"\$(?:\{|%7[Bb])([A-Za-z_][A-Za-z0-9_]*)(?:\}|%7[Dd])")
        .expect("constant pattern")
});

/// `url` with each `${NAME}` as written: parsing percent-encodes its
/// braces in a user name or a path (`https://$%7BTOKEN%7D@host/`), which
/// the config would read as a literal name.
fn variables_as_written(url: &str) -> std::borrow::Cow<'_, str> {
    VARIABLE.replace_all(url, "$${$1}")
}

/// Where `feed` moved (`moved`, as the archive keeps it) as the config
/// would write it: its secrets filled from the configured URL, then each
/// value a `${NAME}` of the config gave written as that `${NAME}` again,
/// wherever it is (a user name, a password, a path, a query), so the
/// export never holds the value, nor a name percent-encoded by parsing.
/// `None` when that cannot be done (the configured URL cannot fill the
/// move's blanks, or its values cannot be told apart): the configured
/// URL, which redirects again, is exported instead.
fn moved_as_written(moved: &str, feed: &FeedConfig) -> Option<String> {
    let filled = crate::link::refill_secrets(moved, &feed.url)?;
    let Some(template) = &feed.url_template else {
        return Some(filled.into());
    };
    let mut values = variable_values(template, &feed.url)?;
    // A variable unset for this command (one that reads without the
    // secrets) left the blank in the URL: it cannot be told back into
    // its name (every unset one would read as the first).
    if values
        .iter()
        .any(|(_, value)| value.contains(crate::link::BLANK))
    {
        return None;
    }
    // A value holding another is named whole.
    values.sort_by_key(|(_, value)| std::cmp::Reverse(value.len()));
    let mut written = String::from(filled);
    for (name, value) in values.iter().filter(|(_, v)| !v.is_empty()) {
        written = if value.chars().count() < crate::link::SHORTEST_BLANKED {
            named_where_the_template_names_it(&written, template, name, value)
        } else {
            written.replace(value.as_str(), &format!("${{{name}}}"))
        };
    }
    Some(written)
}

/// `url` with `value` written as `${var}` only where it stands as the
/// template writes `${var}`: after the same key (`lang=` of
/// `?lang=${LANG}`) and between delimiters of the same kind (a query
/// parameter's, a whole path segment's, a user name's). A value as short
/// as `en` is letters of the host and the path too (`green.example`,
/// `/en/` where only the query named it), which must stay as they are. (A
/// short value is no secret: the archive keeps it, and one left where
/// the template does not put it is only not named.)
fn named_where_the_template_names_it(url: &str, template: &str, var: &str, value: &str) -> String {
    // Where the template names it: the key back to the delimiter before
    // it, that delimiter, and the character after the name.
    let places: Vec<(&str, Option<char>, Option<char>)> = VARIABLE
        .captures_iter(template)
        .filter(|c| &c[1] == var)
        .filter_map(|c| c.get(0))
        .map(|whole| {
            let before = &template[..whole.start()];
            let key_at = before.rfind(|c| "/?&#@:".contains(c)).map_or(0, |i| i + 1);
            let delimiter = before[..key_at].chars().next_back();
            (
                &before[key_at..],
                delimiter,
                template[whole.end()..].chars().next(),
            )
        })
        .collect();
    let same_before = |written: Option<char>, found: Option<char>| match written {
        Some('?' | '&') => matches!(found, Some('?' | '&')),
        written => found == written,
    };
    let same_after = |written: Option<char>, found: Option<char>| match written {
        None | Some('&' | '#') => matches!(found, None | Some('&' | '#')),
        Some('/' | '?') => matches!(found, None | Some('/' | '?' | '#')),
        written => found == written,
    };
    let mut out = String::with_capacity(url.len());
    let mut kept = 0;
    for (at, _) in url.match_indices(value) {
        let end = at + value.len();
        let named = places.iter().any(|(key, before, after)| {
            url[..at].strip_suffix(key).is_some_and(|head| {
                same_before(*before, head.chars().next_back())
                    && same_after(*after, url[end..].chars().next())
            })
        });
        if named && at >= kept {
            out.push_str(&url[kept..at]);
            out.push_str(&format!("${{{var}}}"));
            kept = end;
        }
    }
    out.push_str(&url[kept..]);
    out
}

/// The value each `${NAME}` of `template` (a feed's URL as the config
/// writes it) took in `filled` (the URL made of it), as `filled` spells
/// it. Both are compared as the URL parser writes them, so a name it
/// percent-encodes lines up with a value it encodes the same way. `None`
/// when `filled` is not `template` with its names filled, or a name took
/// two values (it spells one value differently in two parts of the URL).
fn variable_values(template: &str, filled: &Url) -> Option<Vec<(String, String)>> {
    let parsed = Url::parse(template).ok()?;
    let written = parsed.as_str();
    let mut pattern = String::from("^");
    let mut names = Vec::new();
    let mut end = 0;
    for var in VARIABLE.captures_iter(written) {
        let whole = var.get(0)?;
        pattern.push_str(&regex::escape(&written[end..whole.start()]));
        pattern.push_str("(.*?)");
        names.push(var[1].to_string());
        end = whole.end();
    }
    pattern.push_str(&regex::escape(&written[end..]));
    pattern.push('$');
    let found = regex::Regex::new(&pattern)
        .ok()?
        .captures(filled.as_str())?;
    let mut values: Vec<(String, String)> = Vec::new();
    for (i, name) in names.into_iter().enumerate() {
        let value = found.get(i + 1)?.as_str();
        match values.iter().find(|(n, _)| *n == name) {
            Some((_, v)) if v != value => return None,
            Some(_) => {}
            None => values.push((name, value.to_string())),
        }
    }
    Some(values)
}

impl ImportPlan {
    /// The `[[feeds]]` blocks to append to `config.toml`, under a comment
    /// saying what was imported from where and when; empty when nothing
    /// is added. `source` is how to name the input (its file name).
    pub fn to_toml(&self, source: &str, now: DateTime<Utc>) -> String {
        if self.added.is_empty() {
            return String::new();
        }
        let n = self.added.len();
        let mut out = format!(
            "# {n} feed{} imported from {} by `tickerfeed opml import` on {} UTC",
            if n == 1 { "" } else { "s" },
            crate::markup::one_line(source),
            now.format("%Y-%m-%d %H:%M"),
        );
        if !self.already_configured.is_empty() {
            out.push_str(&format!(
                "; {} already configured, not repeated",
                self.already_configured.len()
            ));
        }
        out.push_str(".\n");
        for feed in &self.added {
            out.push_str("\n[[feeds]]\n");
            if let Some(title) = &feed.title {
                out.push_str(&format!("# {}\n", crate::markup::one_line(title)));
            }
            out.push_str(&format!("name = {}\n", toml_string(&feed.name)));
            out.push_str(&format!(
                "url = {}\n",
                toml_string(&variables_as_written(feed.url.as_str()))
            ));
            if !feed.tags.is_empty() {
                let tags: Vec<String> = feed.tags.iter().map(|t| toml_string(t)).collect();
                out.push_str(&format!("tags = [{}]\n", tags.join(", ")));
            }
        }
        out
    }
}

/// `config_text` with the plan's `[[feeds]]` blocks appended after a blank
/// line; unchanged when the plan adds nothing. Check the result with
/// [`crate::config::resolve_str`] before writing it.
pub fn append_to_config(
    config_text: &str,
    plan: &ImportPlan,
    source: &str,
    now: DateTime<Utc>,
) -> String {
    let addition = plan.to_toml(source, now);
    if addition.is_empty() {
        return config_text.to_string();
    }
    let mut out = config_text.to_string();
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    if !out.is_empty() {
        out.push('\n');
    }
    out.push_str(&addition);
    out
}

/// The slug a feed's name starts from: its title, else its host.
fn base_name(feed: &OpmlFeed) -> String {
    let from_title = feed.title.as_deref().map(slug).unwrap_or_default();
    if !from_title.is_empty() {
        return from_title;
    }
    let host = feed.xml_url.host_str().unwrap_or_default();
    let from_host = slug(host.strip_prefix("www.").unwrap_or(host));
    if from_host.is_empty() {
        "feed".to_string()
    } else {
        from_host
    }
}

/// `base`, or `base-2`, `base-3`, ... whichever is free; at most 64 bytes.
fn unique_name(base: &str, taken: &HashSet<String>) -> String {
    if !taken.contains(base) {
        return base.to_string();
    }
    (2..)
        .map(|n| {
            let suffix = format!("-{n}");
            let stem = trim_separators(&base[..base.len().min(MAX_NAME_LEN - suffix.len())]);
            format!("{stem}{suffix}")
        })
        .find(|candidate| !taken.contains(candidate))
        .expect("some numbered name is free: `taken` is finite")
}

/// Lowercase ASCII made of `[a-z0-9._-]`, at most 64 bytes, no separator at
/// either end; empty when nothing usable is left.
fn slug(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() || c == '.' || c == '_' {
            out.push(c);
        } else if let Some(ascii) = fold_to_ascii(c) {
            out.push_str(ascii);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    // Everything pushed is ASCII, so byte indices are char boundaries.
    let out = trim_separators(&out);
    trim_separators(&out[..out.len().min(MAX_NAME_LEN)]).to_string()
}

fn trim_separators(s: &str) -> &str {
    s.trim_matches(|c| matches!(c, '-' | '.' | '_'))
}

/// Plain ASCII for common accented Latin letters (already lowercase), so
/// "Économie" gives "economie" and not "conomie".
fn fold_to_ascii(c: char) -> Option<&'static str> {
    Some(match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' => "a",
        'æ' => "ae",
        'ç' | 'ć' | 'č' => "c",
        'ď' | 'đ' | 'ð' => "d",
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ė' | 'ę' | 'ě' => "e",
        'ğ' => "g",
        'ì' | 'í' | 'î' | 'ï' | 'ī' | 'į' | 'ı' => "i",
        'ĺ' | 'ľ' | 'ł' => "l",
        'ñ' | 'ń' | 'ň' => "n",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ő' => "o",
        'œ' => "oe",
        'ŕ' | 'ř' => "r",
        'ś' | 'š' | 'ş' | 'ș' => "s",
        'ß' => "ss",
        'ť' | 'ţ' | 'ț' => "t",
        'þ' => "th",
        'ù' | 'ú' | 'û' | 'ü' | 'ū' | 'ů' | 'ű' | 'ų' => "u",
        'ý' | 'ÿ' => "y",
        'ź' | 'ż' | 'ž' => "z",
        _ => return None,
    })
}

/// A TOML basic string: quotes, backslashes and control characters escaped.
fn toml_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use chrono::TimeZone;

    use super::*;
    use crate::config::resolve_str;

    fn fixture(name: &str) -> Vec<u8> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/opml")
            .join(name);
        std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 1, 14, 9, 30, 0).unwrap()
    }

    fn config(text: &str) -> Config {
        resolve_str(text, Path::new("/etc/tickerfeed")).expect("test config is valid")
    }

    /// (title, url, categories) of each feed, for compact assertions.
    fn summary(opml: &Opml) -> Vec<(Option<&str>, &str, Vec<&str>)> {
        opml.feeds
            .iter()
            .map(|f| {
                (
                    f.title.as_deref(),
                    f.xml_url.as_str(),
                    f.categories.iter().map(String::as_str).collect(),
                )
            })
            .collect()
    }

    fn is_plain_name(s: &str) -> bool {
        !s.is_empty()
            && s.len() <= 64
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    }

    #[test]
    fn export_escapes_and_round_trips() {
        let cfg = config(
            r#"
[[feeds]]
name = "markets"
url = "https://example.com/feed?a=1&b=<2>"
tags = ["markets", "uk"]

[[feeds]]
name = "plain"
url = "http://example.org/rss.xml"

[[feeds]]
name = "local"
url = "file:///srv/feeds/local.xml"
"#,
        );
        let xml = export(
            "News & \"Views\" <daily>\n",
            &cfg.feeds,
            &HashMap::new(),
            Credentials::Kept,
            now(),
        );
        assert!(
            xml.contains("<title>News &amp; &quot;Views&quot; &lt;daily&gt;&#10;</title>"),
            "{xml}"
        );
        assert!(
            xml.contains("<dateCreated>Tue, 14 Jan 2025 09:30:00 GMT</dateCreated>"),
            "{xml}"
        );
        assert!(
            xml.contains(
                r#"<outline type="rss" text="markets" title="markets" xmlUrl="https://example.com/feed?a=1&amp;b=%3C2%3E" category="/markets,/uk"/>"#
            ),
            "{xml}"
        );
        assert!(
            !xml.contains("file:"),
            "file: feeds are not exported: {xml}"
        );
        assert_eq!(
            xml,
            export(
                "News & \"Views\" <daily>\n",
                &cfg.feeds,
                &HashMap::new(),
                Credentials::Kept,
                now()
            ),
            "deterministic"
        );

        let back = parse(xml.as_bytes()).unwrap();
        assert!(back.skipped.is_empty());
        assert_eq!(
            summary(&back),
            vec![
                (
                    Some("markets"),
                    "https://example.com/feed?a=1&b=%3C2%3E",
                    vec!["markets", "uk"]
                ),
                (Some("plain"), "http://example.org/rss.xml", vec![]),
            ]
        );
        // Importing our own export into the same config adds nothing.
        let plan = to_config_entries(&back.feeds, &cfg);
        assert!(plan.added.is_empty());
        assert_eq!(plan.already_configured.len(), 2);
    }

    /// A reader importing the list links each feed to its site and shows
    /// its own title when the archive has learnt them by polling; the
    /// operator's name stays the `text`, which is what `opml import`
    /// names the feed after, so the list round-trips.
    /// A moved feed whose config names its secrets from the environment
    /// in its user name, password or path was exported with the user
    /// name's value, or with a name percent-encoded (`$%7BFEED_PASS%7D`,
    /// which `opml import` reads as a literal password), or with the
    /// path's token itself: each `${NAME}` is written as the config
    /// writes it, wherever it is, and no value is.
    #[test]
    fn a_moved_feed_keeps_its_variables_as_written() {
        // (the config's URL, as the environment filled it, where it moved
        // as the archive keeps it, what the export gives)
        let cases = [
            (
                "https://${FEED_USER}:${FEED_PASS}@old.test/feed.xml",
                "https://alice:pa55word@old.test/feed.xml",
                "https://alice:****@new.test/feed.xml",
                "https://${FEED_USER}:${FEED_PASS}@new.test/feed.xml",
            ),
            (
                "https://${FEED_TOKEN}@old.test/feed.xml",
                "https://t0ken9@old.test/feed.xml",
                "https://****@new.test/feed.xml",
                "https://${FEED_TOKEN}@new.test/feed.xml",
            ),
            (
                "https://old.test/${FEED_TOKEN}/feed.xml",
                "https://old.test/t0ken9/feed.xml",
                "https://new.test/v2/t0ken9/feed.xml",
                "https://new.test/v2/${FEED_TOKEN}/feed.xml",
            ),
            (
                "https://old.test/${FEED_TOKEN}/feed.xml?api_key=${FEED_KEY}",
                "https://old.test/t0ken9/feed.xml?api_key=k3yk3y",
                "https://new.test/feed.xml?api_key=****",
                "https://new.test/feed.xml?api_key=${FEED_KEY}",
            ),
            // A value too short to be blanked is named only where it
            // stands as the template writes it, not in the host's or the
            // path's letters, nor in a part the template does not name.
            (
                "https://old.test/${LANG}/feed.xml?lang=${LANG}",
                "https://old.test/en/feed.xml?lang=en",
                "https://green.test/en/ent/feed.xml?lang=en",
                "https://green.test/${LANG}/ent/feed.xml?lang=${LANG}",
            ),
            (
                "https://old.test/feed.xml?lang=${LANG}&v=2",
                "https://old.test/feed.xml?lang=en&v=2",
                "https://green.test/en/feed.xml?v=2&lang=en",
                // (as the XML writes it)
                "https://green.test/en/feed.xml?v=2&amp;lang=${LANG}",
            ),
        ];
        // Without the variables (a command that reads without the
        // secrets): the URL as configured, which redirects again.
        let unknown = [(
            "https://${FEED_USER}:${FEED_PASS}@old.test/feed.xml",
            "https://****:****@old.test/feed.xml",
            "https://****:****@new.test/feed.xml",
            "https://${FEED_USER}:${FEED_PASS}@old.test/feed.xml",
        )];
        for (template, filled, moved, exported) in cases.into_iter().chain(unknown) {
            let mut cfg = config("[[feeds]]\nname = \"wire\"\nurl = \"https://old.test/\"\n");
            let feed = &mut cfg.feeds[0];
            feed.url = Url::parse(filled).unwrap();
            feed.url_template = Some(template.to_string());
            let homes = HashMap::from([(
                "wire".to_string(),
                FeedHome {
                    moved_to: Some(moved.to_string()),
                    moved_from: crate::link::blank_secrets(filled, &feed.filled),
                    ..FeedHome::default()
                },
            )]);
            let xml = export("News", &cfg.feeds, &homes, Credentials::Kept, now());
            assert!(xml.contains(&format!("xmlUrl=\"{exported}\"")), "{xml}");
            for value in ["alice", "pa55word", "t0ken9", "k3yk3y", "%7B"] {
                assert!(!xml.contains(value), "{value} in {xml}");
            }
        }
    }

    #[test]
    fn export_gives_the_site_and_title_the_archive_knows() {
        let cfg = config(
            r#"
[[feeds]]
name = "markets"
url = "https://example.com/markets.rss"

[[feeds]]
name = "fresh"
url = "https://example.org/new.xml"

[[feeds]]
name = "odd"
url = "https://example.net/odd.xml"
"#,
        );
        let homes = HashMap::from([
            (
                "markets".to_string(),
                FeedHome {
                    title: Some("Markets & \"Money\"".into()),
                    site_url: Some("https://example.com/markets?x=1&y=2".into()),
                    moved_to: None,
                    moved_from: String::new(),
                },
            ),
            (
                "odd".to_string(),
                FeedHome {
                    title: None,
                    site_url: Some("javascript:alert(1)".into()),
                    moved_to: None,
                    moved_from: String::new(),
                },
            ),
        ]);
        let xml = export("News", &cfg.feeds, &homes, Credentials::Kept, now());
        assert!(
            xml.contains(
                r#"<outline type="rss" text="markets" title="Markets &amp; &quot;Money&quot;" xmlUrl="https://example.com/markets.rss" htmlUrl="https://example.com/markets?x=1&amp;y=2"/>"#
            ),
            "{xml}"
        );
        // Not polled yet: no site, and the name stands for the title.
        assert!(
            xml.contains(
                r#"<outline type="rss" text="fresh" title="fresh" xmlUrl="https://example.org/new.xml"/>"#
            ),
            "{xml}"
        );
        // A link that is no web page is no site to click through to.
        assert!(!xml.contains("javascript"), "{xml}");

        let back = parse(xml.as_bytes()).unwrap();
        let read: Vec<_> = back
            .feeds
            .iter()
            .map(|f| {
                (
                    f.title.as_deref(),
                    f.xml_url.as_str(),
                    f.html_url.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            read,
            vec![
                (
                    Some("markets"),
                    "https://example.com/markets.rss",
                    Some("https://example.com/markets?x=1&y=2")
                ),
                (Some("fresh"), "https://example.org/new.xml", None),
                (Some("odd"), "https://example.net/odd.xml", None),
            ]
        );
        let plan = to_config_entries(&back.feeds, &cfg);
        assert!(plan.added.is_empty());
        assert_eq!(plan.already_configured.len(), 3);
        // Into another config, each comes back under the operator's name.
        let plan = to_config_entries(&back.feeds, &config(""));
        let added: Vec<_> = plan
            .added
            .iter()
            .map(|f| (f.name.as_str(), f.url.as_str()))
            .collect();
        let before: Vec<_> = cfg
            .feeds
            .iter()
            .map(|f| (f.name.as_str(), f.url.as_str()))
            .collect();
        assert_eq!(added, before);
    }

    #[test]
    fn miniflux_fixture() {
        let opml = parse(&fixture("miniflux.opml")).unwrap();
        assert_eq!(
            summary(&opml),
            vec![
                (Some("Julia Evans"), "https://jvns.ca/atom.xml", vec!["All"]),
                (
                    Some("LWN.net"),
                    "https://lwn.net/headlines/rss",
                    vec!["All"]
                ),
                (
                    Some("\"LSE\" - Google News"),
                    "https://news.google.com/rss/search?q=LSE&hl=en-GB&gl=GB&ceid=GB:en",
                    vec!["Business & Markets"]
                ),
                (
                    Some("The Economist: Finance & economics"),
                    "https://www.economist.com/finance-and-economics/rss.xml",
                    vec!["Business & Markets"]
                ),
            ]
        );
        assert_eq!(opml.feeds[0].html_url.as_deref(), Some("https://jvns.ca/"));
        assert!(opml.skipped.is_empty());
    }

    #[test]
    fn freshrss_fixture_skips_scraped_pages() {
        let opml = parse(&fixture("freshrss.opml")).unwrap();
        assert_eq!(
            summary(&opml),
            vec![
                (
                    Some("FreshRSS releases"),
                    "https://github.com/FreshRSS/FreshRSS/releases.atom",
                    vec!["Uncategorized"]
                ),
                (
                    Some("Le Monde – Économie"),
                    "https://www.lemonde.fr/economie/rss_full.xml",
                    vec!["Économie"]
                ),
                (
                    Some("Les Echos"),
                    "https://services.lesechos.fr/rss/les-echos-finance-marches.xml",
                    vec!["Économie"]
                ),
            ]
        );
        assert_eq!(opml.skipped.len(), 1);
        let skipped = &opml.skipped[0];
        assert_eq!(skipped.line, 14);
        assert_eq!(
            skipped.reason,
            SkipReason::NotAFeed {
                outline_type: "HTML+XPath".into()
            }
        );
        assert_eq!(
            skipped.to_string(),
            "line 14: \"Boursorama – actualités\": type \"HTML+XPath\" is not a feed tickerfeed can read"
        );
    }

    #[test]
    fn feedly_fixture_merges_a_feed_listed_in_two_folders() {
        let opml = parse(&fixture("feedly.opml")).unwrap();
        assert_eq!(
            summary(&opml),
            vec![
                (
                    Some("Bloomberg Markets"),
                    "https://feeds.bloomberg.com/markets/news.rss",
                    vec!["Markets"]
                ),
                (
                    Some("FT Alphaville"),
                    "https://www.ft.com/alphaville?format=rss",
                    vec!["Markets", "Tech"]
                ),
                (
                    Some("Ars Technica - All content"),
                    "https://feeds.arstechnica.com/arstechnica/index",
                    vec!["Tech"]
                ),
            ]
        );
    }

    #[test]
    fn netnewswire_fixture() {
        let opml = parse(&fixture("netnewswire.opml")).unwrap();
        assert_eq!(
            summary(&opml),
            vec![
                (
                    Some("Daring Fireball"),
                    "https://daringfireball.net/feeds/main",
                    vec![]
                ),
                (
                    Some("inessential"),
                    "https://inessential.com/xml/rss.xml",
                    vec![]
                ),
                (
                    Some("Abnormal Returns"),
                    "https://abnormalreturns.com/feed/",
                    vec!["Finance"]
                ),
                (
                    Some("Law & Disorder – Ars Technica"),
                    "https://feeds.arstechnica.com/arstechnica/tech-policy",
                    vec!["Finance"]
                ),
            ]
        );
        // NetNewsWire writes htmlUrl="" when it knows no home page.
        assert_eq!(opml.feeds[3].html_url, None);
    }

    #[test]
    fn newsboat_fixtures() {
        let opml = parse(&fixture("newsboat.opml")).unwrap();
        assert_eq!(
            summary(&opml),
            vec![
                (
                    Some("Business | The Guardian"),
                    "https://www.theguardian.com/uk/business/rss",
                    vec![]
                ),
                (
                    Some("Le Monde.fr - Actualités et Infos en France et dans le monde"),
                    "https://www.lemonde.fr/en/rss/une.xml",
                    vec![]
                ),
                (
                    Some("Rust Blog"),
                    "https://blog.rust-lang.org/feed.xml",
                    vec![]
                ),
                (None, "https://example.org/never-fetched.xml", vec![]),
            ]
        );

        let opml = parse(&fixture("newsboat-opml2.opml")).unwrap();
        assert_eq!(
            summary(&opml),
            vec![
                (
                    Some("Business | The Guardian"),
                    "https://www.theguardian.com/uk/business/rss",
                    vec!["business", "uk news"]
                ),
                (
                    Some("Rust Blog"),
                    "https://blog.rust-lang.org/feed.xml",
                    vec!["tech", "rust"]
                ),
                (None, "https://example.org/never-fetched.xml", vec![]),
            ]
        );
    }

    #[test]
    fn nested_folders_any_case_and_skipped_outlines() {
        let text = r#"<?xml version="1.0" encoding="ISO-8859-1"?>
<opml version="2.0"><head/><body>
  <outline text="Tech">
    <outline title="Rust">
      <outline text="This Week in Rust" xmlurl="https://this-week-in-rust.org/atom.xml" type="atom" category="/Weekly,/Tech"/>
    </outline>
    <outline text="Café" xmlURL="https://example.com/cafe.xml"/>
  </outline>
  <outline text="Relative" xmlUrl="/feed.xml"/>
  <outline text="Local" xmlUrl="file:///home/me/feed.xml"/>
  <outline text="Old" xmlUrl="https://example.com/old.xml" isComment="true"/>
  <outline text="Link" type="link" url="https://example.com/"/>
</body></opml>"#;
        let (xml, _, _) = encoding_rs::WINDOWS_1252.encode(text);
        assert!(
            std::str::from_utf8(&xml).is_err(),
            "the input really is Latin-1"
        );
        let opml = parse(&xml).unwrap();
        assert_eq!(
            summary(&opml),
            vec![
                (
                    Some("This Week in Rust"),
                    "https://this-week-in-rust.org/atom.xml",
                    vec!["Tech", "Rust", "Weekly"]
                ),
                // Decoded as the declaration says, not as UTF-8.
                (Some("Café"), "https://example.com/cafe.xml", vec!["Tech"]),
            ]
        );
        let reasons: Vec<(usize, &SkipReason)> =
            opml.skipped.iter().map(|s| (s.line, &s.reason)).collect();
        assert!(matches!(reasons[0], (9, SkipReason::BadUrl { .. })));
        assert!(matches!(
            reasons[1],
            (10, SkipReason::UnsupportedScheme { .. })
        ));
        assert_eq!(reasons[2], (11, &SkipReason::Commented));
        assert_eq!(reasons.len(), 3, "a link outline has no xmlUrl: a folder");
    }

    /// A folder's own `category` reaches its feeds as tags, after its name
    /// and before theirs, through nested folders; it was ignored.
    #[test]
    fn a_folders_categories_become_its_feeds_tags() {
        let opml = parse(
            br#"<opml version="2.0"><head/><body>
  <outline text="Markets" category="finance,uk">
    <outline text="FT" xmlUrl="https://ft.test/rss" category="/UK,/Markets"/>
    <outline text="Europe" category="/Europe/Equities, finance">
      <outline text="Stoxx" xmlUrl="https://stoxx.test/rss"/>
    </outline>
  </outline>
  <outline text="Elsewhere" xmlUrl="https://else.test/rss"/>
  <outline category="/Loose"><outline text="Loose" xmlUrl="https://loose.test/rss"/></outline>
</body></opml>"#,
        )
        .unwrap();
        assert_eq!(
            summary(&opml),
            vec![
                (
                    Some("FT"),
                    "https://ft.test/rss",
                    vec!["Markets", "finance", "uk", "UK"]
                ),
                (
                    Some("Stoxx"),
                    "https://stoxx.test/rss",
                    vec!["Markets", "finance", "uk", "Europe", "Equities"]
                ),
                (Some("Elsewhere"), "https://else.test/rss", vec![]),
                (Some("Loose"), "https://loose.test/rss", vec!["Loose"]),
            ]
        );
        let plan = to_config_entries(&opml.feeds, &config(""));
        let tags: Vec<(&str, Vec<&str>)> = (plan.added.iter())
            .map(|f| (f.name.as_str(), f.tags.iter().map(String::as_str).collect()))
            .collect();
        assert_eq!(
            tags,
            [
                ("ft", vec!["markets", "finance", "uk"]),
                (
                    "stoxx",
                    vec!["markets", "finance", "uk", "europe", "equities"]
                ),
                ("elsewhere", vec![]),
                ("loose", vec!["loose"]),
            ]
        );
    }

    /// Older readers and browsers exported `feed:` addresses; they were
    /// skipped as an unsupported scheme.
    #[test]
    fn feed_scheme_addresses_are_their_web_addresses() {
        let opml = parse(
            br#"<opml version="2.0"><body>
  <outline text="A" xmlUrl="feed://example.com/a.xml"/>
  <outline text="B" xmlUrl="FEED:https://example.org/b.xml"/>
  <outline text="C" xmlUrl="feed:mailto:me@example.com"/>
</body></opml>"#,
        )
        .unwrap();
        let urls: Vec<&str> = opml.feeds.iter().map(|f| f.xml_url.as_str()).collect();
        assert_eq!(
            urls,
            ["http://example.com/a.xml", "https://example.org/b.xml"]
        );
        assert!(matches!(
            opml.skipped[0].reason,
            SkipReason::UnsupportedScheme { .. }
        ));
    }

    #[test]
    fn utf16_with_bom_is_read() {
        let text = "<?xml version=\"1.0\" encoding=\"UTF-16\"?>\n<opml version=\"2.0\"><body>\
                    <outline text=\"Zürich\" xmlUrl=\"https://example.ch/rss\"/></body></opml>";
        let mut xml = vec![0xFF, 0xFE];
        xml.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        let opml = parse(&xml).unwrap();
        assert_eq!(opml.feeds[0].title.as_deref(), Some("Zürich"));
    }

    #[test]
    fn non_opml_input_is_named() {
        let err = |input: &[u8]| parse(input).unwrap_err();

        let rss = err(
            b"<?xml version=\"1.0\"?>\n<rss version=\"2.0\"><channel><title>x</title></channel></rss>",
        );
        assert!(
            matches!(&rss, OpmlError::NotOpml { found, line: 2, .. } if found == "rss"),
            "{rss:?}"
        );
        assert!(rss.to_string().contains("this is a feed"), "{rss}");

        let atom = err(b"<feed xmlns=\"http://www.w3.org/2005/Atom\"></feed>");
        assert!(atom.to_string().contains("<feed>"), "{atom}");

        let html = err(b"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Hi</title></head><body><p>Hello<br></body></html>");
        assert!(
            html.to_string()
                .starts_with("not an OPML file: the root element is <html> at line 2"),
            "{html}"
        );
        assert!(html.to_string().contains("web page"), "{html}");
        let lowercase_doctype = err(b"\n<!doctype html>\n<html><body>x</body></html>");
        assert!(
            matches!(&lowercase_doctype, OpmlError::NotOpml { line: 3, .. }),
            "{lowercase_doctype:?}"
        );

        assert!(matches!(err(b""), OpmlError::Empty));
        assert!(matches!(err(b" \n\t"), OpmlError::Empty));
        assert!(matches!(
            err(b"{\"feeds\": [\"https://example.com/\"]}"),
            OpmlError::NoElement
        ));
        assert!(matches!(
            err(b"\x00\x9f\x92\x96 binary garbage"),
            OpmlError::NoElement
        ));

        let broken = err(b"<opml version=\"2.0\">\n<body>\n<outline text=\"a\" xmlUrl=\"https://e.com/\" <\n</body></opml>");
        assert!(
            matches!(broken, OpmlError::Xml { line: 3, .. }),
            "{broken:?}"
        );

        let truncated = err(b"<opml version=\"1.0\">\n<body>\n<outline text=\"Tech\">\n<outline text=\"a\" xmlUrl=\"https://e.com/\"/>\n");
        assert_eq!(
            truncated.to_string(),
            "the file ends inside <outline> opened at line 3: is it truncated?"
        );

        assert!(matches!(
            err(b"<opml version=\"2.0\"><head><title>t</title></head></opml>"),
            OpmlError::NoBody
        ));

        let two_roots = err(b"<opml><body/></opml>\n<opml><body/></opml>");
        assert!(
            matches!(two_roots, OpmlError::SecondRoot { line: 2, .. }),
            "{two_roots:?}"
        );
    }

    #[test]
    fn names_are_unique_and_valid() {
        let cfg = config(
            r#"
[[feeds]]
name = "FT-Alphaville"
url = "https://example.com/other"
"#,
        );
        let long_title = "A ".repeat(60) + "very long title indeed";
        let feed = |title: Option<&str>, url: &str, categories: &[&str]| OpmlFeed {
            title: title.map(str::to_string),
            xml_url: Url::parse(url).unwrap(),
            html_url: None,
            categories: categories.iter().map(|c| c.to_string()).collect(),
        };
        let feeds = vec![
            feed(
                Some("FT Alphaville"),
                "https://ft.example/1",
                &["Markets & Money"],
            ),
            feed(Some("FT: Alphaville!"), "https://ft.example/2", &[]),
            feed(
                Some("Économie — Le Monde"),
                "https://lemonde.example/",
                &["Économie", "économie"],
            ),
            feed(
                Some("日本経済新聞"),
                "https://www.nikkei.example/rss",
                &["日本"],
            ),
            feed(None, "https://www.nikkei.example/other", &[]),
            feed(Some(&long_title), "https://long.example/1", &[]),
            feed(Some(&long_title), "https://long.example/2", &[]),
        ];
        let plan = to_config_entries(&feeds, &cfg);
        let names: Vec<&str> = plan.added.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            names[..5],
            [
                "ft-alphaville-2",
                "ft-alphaville-3",
                "economie-le-monde",
                "nikkei.example",
                "nikkei.example-2",
            ]
        );
        assert!(names[5].len() <= 64, "{}", names[5]);
        assert!(
            names[6].ends_with("-2") && names[6].len() <= 64,
            "{}",
            names[6]
        );
        assert!(names.iter().all(|n| is_plain_name(n)), "{names:?}");
        let unique: HashSet<&str> = names.iter().copied().collect();
        assert_eq!(unique.len(), names.len());

        assert_eq!(plan.added[0].tags, ["markets-money"]);
        assert_eq!(plan.added[2].tags, ["economie"]);
        assert!(
            plan.added[3].tags.is_empty(),
            "nothing usable in the category"
        );
        assert!(
            plan.added
                .iter()
                .flat_map(|p| &p.tags)
                .all(|t| is_plain_name(t))
        );
    }

    #[test]
    fn configured_urls_are_skipped() {
        let cfg = config(
            r#"
[[feeds]]
name = "ars"
url = "https://FEEDS.arstechnica.com:443/arstechnica/index"
"#,
        );
        let opml = parse(&fixture("feedly.opml")).unwrap();
        let plan = to_config_entries(&opml.feeds, &cfg);
        assert_eq!(
            plan.already_configured,
            vec![AlreadyConfigured {
                url: Url::parse("https://feeds.arstechnica.com/arstechnica/index").unwrap(),
                title: Some("Ars Technica - All content".into()),
                existing_name: "ars".into(),
            }]
        );
        let added: Vec<(&str, &[String])> = plan
            .added
            .iter()
            .map(|p| (p.name.as_str(), p.tags.as_slice()))
            .collect();
        assert_eq!(
            added,
            vec![
                ("bloomberg-markets", &["markets".to_string()][..]),
                (
                    "ft-alphaville",
                    &["markets".to_string(), "tech".to_string()][..]
                ),
            ]
        );
    }

    #[test]
    fn appended_config_still_resolves() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(root.join("config.toml")).unwrap();
        let cfg = resolve_str(&text, root).expect("the shipped config is valid");

        let mut feeds = Vec::new();
        for name in [
            "miniflux.opml",
            "freshrss.opml",
            "feedly.opml",
            "netnewswire.opml",
            "newsboat.opml",
            "newsboat-opml2.opml",
        ] {
            feeds.extend(parse(&fixture(name)).unwrap().feeds);
        }
        // One the shipped config already has, and a title TOML must escape.
        feeds.push(OpmlFeed {
            title: Some("BBC \"World\" \\ News\nsecond line".into()),
            xml_url: cfg.feeds[0].url.clone(),
            html_url: None,
            categories: vec![],
        });
        feeds.push(OpmlFeed {
            title: Some("Quotes \"and\" \\backslashes\\\u{7}".into()),
            xml_url: Url::parse("https://example.net/q.xml?x=\"y\"").unwrap(),
            html_url: None,
            categories: vec!["A \"quoted\" folder".into()],
        });
        let plan = to_config_entries(&feeds, &cfg);
        // The Guardian feed is in the shipped config and in both Newsboat
        // lists; it is reported once.
        let configured: Vec<&str> = plan
            .already_configured
            .iter()
            .map(|a| a.existing_name.as_str())
            .collect();
        assert_eq!(configured, ["guardian-business", "bbc-world"]);
        assert_eq!(plan.added.len(), 18);

        let new_text = append_to_config(&text, &plan, "subscriptions.opml", now());
        assert!(new_text.starts_with(&text));
        assert!(
            new_text.contains(
                "# 18 feeds imported from subscriptions.opml by `tickerfeed opml import` on 2025-01-14 09:30 UTC; 2 already configured, not repeated.\n"
            ),
            "{new_text}"
        );
        let resolved = resolve_str(&new_text, root).unwrap_or_else(|problems| {
            panic!("appended config is invalid: {problems:?}\n{new_text}")
        });
        assert_eq!(resolved.feeds.len(), cfg.feeds.len() + plan.added.len());
        for planned in &plan.added {
            let f = resolved
                .feed(&planned.name)
                .unwrap_or_else(|| panic!("{} missing", planned.name));
            assert_eq!(f.url, planned.url);
            assert_eq!(f.tags, planned.tags);
        }

        // Nothing to add: the text comes back as it was.
        let nothing = to_config_entries(&feeds[..0], &cfg);
        assert_eq!(append_to_config(&text, &nothing, "x.opml", now()), text);
    }

    #[test]
    fn append_to_text_without_final_newline() {
        let text = "[[feeds]]\nname = \"a\"\nurl = \"https://a.example/\"";
        let cfg = config(text);
        let feeds = [OpmlFeed {
            title: Some("A".into()),
            xml_url: Url::parse("https://b.example/").unwrap(),
            html_url: None,
            categories: vec![],
        }];
        let plan = to_config_entries(&feeds, &cfg);
        let new_text = append_to_config(text, &plan, "b.opml", now());
        assert_eq!(plan.added[0].name, "a-2");
        let resolved = config(&new_text);
        assert_eq!(resolved.feeds[1].name, "a-2");
    }

    #[test]
    fn malformed_xml_gives_its_reason_once() {
        let err =
            parse(b"<opml><body>\n<outline xmlUrl=\"https://e.com/?a=1&b=2\"/></body></opml>")
                .unwrap_err();
        let text = format!("{:#}", anyhow::Error::from(err));
        assert!(text.starts_with("malformed XML at line 2: "), "{text}");
        assert_eq!(text.matches("after '&'").count(), 1, "{text}");
    }
}
