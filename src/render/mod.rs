//! Render stage: the merged feed, from stored rows, in three formats.
//!
//! [`MergedFeed`] is the view model the HTTP layer and the `render` command
//! build from the archive's plain model types (`model::Entry`, filled by the
//! store); `atom`, `rss` and `json` turn it into bytes. Every value comes
//! from stored data (no "now" for missing dates; only a feed with no
//! entries is dated by its caller), so the same archive always renders the
//! same bytes, and entry ids never change.
//!
//! Imports point one way. The three format renderers are siblings and never
//! import each other (nor do their tests: shared inputs are in `samples`);
//! what they share lives beside them, and imports nothing from them:
//!
//! - `strip`: the human-readable ticker strip (HTML), appended by all three;
//! - `tf`: the project namespace URI, the ticker scheme and the
//!   `tf:snapshot` / `tf:quote` attributes (Atom and RSS);
//! - `xml`: the element writer (Atom) and the Atom namespace URI (also RSS);
//! - this module: the view model, [`Format`] and [`rfc3339`], the date form
//!   Atom, JSON Feed, `tf` and the strip write.
//!
//! `export` is apart from the feeds: the line formats (JSON Lines, CSV) of
//! `tickerfeed export` and `/export.jsonl`, written item by item from the
//! store's export rows rather than from a `MergedFeed`.
//!
//! `chart` is for pages only: the symbol page's price chart, an inline SVG
//! drawn from the store's price series and the items that mention the
//! symbol.
//!
//! Escaping itself is `crate::markup`, shared with the pipeline and OPML.

pub mod atom;
pub mod chart;
pub mod export;
pub mod html;
pub mod json;
pub mod rss;
pub mod strip;
mod text;
pub mod tf;
pub mod xml;

#[cfg(test)]
mod samples;

use std::borrow::Cow;

use chrono::{DateTime, SecondsFormat, Utc};

use crate::model::{Entry, Snapshot};
use crate::select::Channel;

/// Output format of the merged feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    Atom,
    Rss,
    Json,
    /// The news page (`render/html.rs`).
    Html,
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Atom => "application/atom+xml; charset=utf-8",
            Format::Rss => "application/rss+xml; charset=utf-8",
            Format::Json => "application/feed+json; charset=utf-8",
            Format::Html => "text/html; charset=utf-8",
        }
    }

    /// The media type alone, for `<link rel="alternate" type=...>`.
    pub fn media_type(self) -> &'static str {
        match self {
            Format::Atom => "application/atom+xml",
            Format::Rss => "application/rss+xml",
            Format::Json => "application/feed+json",
            Format::Html => "text/html",
        }
    }

    /// The three feed formats, in the order pages offer them.
    pub const FEEDS: [Format; 3] = [Format::Atom, Format::Rss, Format::Json];

    pub fn extension(self) -> &'static str {
        match self {
            Format::Atom => "atom",
            Format::Rss => "rss",
            Format::Json => "json",
            Format::Html => "html",
        }
    }

    /// A feed format by its extension (`/feed.atom`); pages have paths of
    /// their own.
    pub fn from_extension(ext: &str) -> Option<Self> {
        match ext {
            "atom" => Some(Format::Atom),
            "rss" => Some(Format::Rss),
            "json" => Some(Format::Json),
            _ => None,
        }
    }
}

/// The merged feed as a reader will see it.
#[derive(Debug, Clone, PartialEq)]
pub struct MergedFeed {
    pub title: String,
    /// A permanent IRI for the feed itself (Atom `<id>`).
    pub id: String,
    /// Absolute URL of this very document, when known (Atom `rel="self"`,
    /// JSON Feed `feed_url`, RSS `atom:link`).
    pub self_url: Option<String>,
    /// RFC 5005 paging: the newest page (`rel="first"`), and the next,
    /// older page (`rel="next"`, JSON Feed `next_url`) when there is one.
    pub first_url: Option<String>,
    pub next_url: Option<String>,
    /// The WebSub hub this document's topic (its `self_url`) is published
    /// through (Atom and RSS `rel="hub"`, JSON Feed `hubs`); `None` without
    /// `[websub]`, and for searches and older pages, which are no topics.
    pub hub_url: Option<String>,
    /// Absolute URL of the home page (RSS `<link>`, JSON `home_page_url`).
    /// When unknown, the self URL or the first entry's link stands in.
    pub home_url: Option<String>,
    /// The server's public root under which each entry has its page
    /// (`items/<uid>`), while the web face serves pages: the link of an
    /// entry that has none of its own ([`MergedFeed::link_of`]).
    pub item_pages: Option<url::Url>,
    pub description: String,
    /// Newest change among the entries; for a feed with none, the time
    /// the caller gave (`merged_feed`), never the epoch.
    pub updated: DateTime<Utc>,
    /// Newest first.
    pub entries: Vec<Entry>,
    /// Append the human-readable ticker strip to entries with a snapshot
    /// (`[output] market`); the machine-readable elements are always there.
    pub market_strip: bool,
    /// The site's name, for pages (`[output] title`).
    pub site_title: String,
    /// The views (`[[views]]` name and title, in config order), which the
    /// pages' navigation links to.
    pub site_views: Vec<(String, String)>,
    /// The site's public root URL (`[server] base_url`), for pages' links.
    pub site_url: String,
    /// This channel's feeds, for pages' autodiscovery links.
    pub feed_urls: Vec<(Format, String)>,
    /// The live board, for pages: the board as it stands, not as stamped.
    pub board: Option<Snapshot>,
    /// For pages, in the board's place when `[market]` is configured but
    /// the board has no quote to show: why, in words.
    pub board_notice: Option<String>,
    /// When the document is rendered, for pages' "5 minutes ago".
    pub now: DateTime<Utc>,
    /// For a search page: each entry's text around the search terms, the
    /// terms between `store::SNIPPET_MARKS`, by entry uid.
    pub snippets: std::collections::HashMap<String, String>,
    /// The search this document answers, if any.
    pub query: Option<String>,
    /// Pages may load images from other sites (`[web] remote_images`).
    pub remote_images: bool,
}

impl MergedFeed {
    /// The page a reader opens for `entry`: its own link, else its page
    /// on this site, when pages are served ([`Entry::link_or_page`]).
    pub fn link_of<'a>(&self, entry: &'a Entry) -> Option<Cow<'a, str>> {
        entry.link_or_page(self.item_pages.as_ref())
    }

    /// The web face is off: no link may point at a page, which would be a
    /// 404 (a reader's "open website", an entry's page).
    pub fn without_pages(&mut self) {
        self.home_url = None;
        self.item_pages = None;
    }
}

/// Errors while writing a document.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("failed to write {format:?} document")]
    Write {
        format: Format,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// Renders `feed` in `format`.
pub fn render(feed: &MergedFeed, format: Format) -> Result<Vec<u8>, RenderError> {
    match format {
        Format::Atom => atom::render(feed),
        Format::Rss => rss::render(feed),
        Format::Json => json::render(feed),
        Format::Html => html::render(feed, feed.now),
    }
}

/// Where `channel` is served in `format`, relative to the server's base
/// URL: a feed file, or the page.
pub fn path_of(channel: &Channel, format: Format) -> String {
    match format {
        Format::Html => channel.page_path(),
        _ => channel.path(format.extension()),
    }
}

/// The feed's id, the same in every format.
fn channel_id(channel: &Channel) -> String {
    let path = channel.path(Format::Atom.extension());
    format!("tag:tickerfeed,2026:{}", path.trim_end_matches(".atom"))
}

/// Assembles a merged document from stored entries (newest first).
///
/// `base` is the public URL of the server; the document's self link and
/// the home link point there. The feed's `updated` is its newest entry's,
/// so an unchanged archive renders byte-for-byte the same document.
///
/// `updated_if_empty` dates a feed with no entries (an empty archive, a
/// search with no match, a quiet tag): when the archive last changed, else
/// when the daemon started. The epoch used to stand in, and validators flag
/// it as an implausible date (issue 15).
pub fn merged_feed(
    title: &str,
    description: &str,
    base: &url::Url,
    format: Format,
    channel: &Channel,
    entries: Vec<Entry>,
    updated_if_empty: DateTime<Utc>,
) -> MergedFeed {
    let self_url = base
        .join(&path_of(channel, format))
        .ok()
        .map(|u| u.to_string());
    let updated = entries
        .iter()
        .map(|e| e.updated)
        .max()
        .unwrap_or(updated_if_empty);
    MergedFeed {
        feed_urls: Format::FEEDS
            .iter()
            .filter_map(|f| {
                let url = base.join(&channel.path(f.extension())).ok()?;
                Some((*f, url.to_string()))
            })
            .collect(),
        site_title: title.to_string(),
        site_views: Vec::new(),
        board: None,
        board_notice: None,
        now: updated,
        snippets: Default::default(),
        query: None,
        remote_images: false,
        first_url: self_url.clone(),
        next_url: None,
        hub_url: None,
        title: title.to_string(),
        id: channel_id(channel),
        self_url,
        // The page that shows this channel (`rel="alternate"`), so a
        // reader's "open website" lands on the same selection.
        home_url: base.join(&channel.page_path()).ok().map(|u| u.to_string()),
        item_pages: Some(base.clone()),
        site_url: base.to_string(),
        description: description.to_string(),
        updated,
        entries,
        market_strip: true,
    }
}

/// RFC 3339 in UTC with a `Z`, fractional seconds only when present, as both
/// Atom and JSON Feed want it.
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}
