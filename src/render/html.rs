//! The news page: a channel's items as server-rendered HTML5, newest first,
//! under the live ticker board, for people without a feed reader.
//!
//! Templates live in `templates/` and are compiled with askama, which
//! escapes every value it inserts; the only values inserted as they are
//! (`|safe`) are HTML this crate wrote itself (the ticker strips, whose
//! every text goes through `markup::push_html`). Item summaries are shown
//! as plain text cut from the sanitised HTML, so no publisher markup
//! reaches the page. The page carries no script at all (the server's
//! Content-Security-Policy forbids it), and its one stylesheet is served
//! at a fingerprinted URL ([`STYLE_PATH`]).

use std::sync::LazyLock;

use askama::Template;
use chrono::{DateTime, Datelike, Utc};
use regex::Regex;
use rust_decimal::Decimal;
use sha2::{Digest, Sha256};

use super::chart::{Marker, draws, price_chart};
use super::strip::{shown_price, strip_html, strip_line_html};
use super::text::{entry_text, shorten, shown_title};
use super::{Format, MergedFeed, RenderError, rfc3339};
use crate::markup::push_html;
use crate::model::market::ShownChange;
use crate::model::{Entry, Snapshot};
use crate::store::{ItemHistory, SNIPPET_MARKS, SymbolItem};

/// The stylesheet, compiled in.
pub const STYLE: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/style.css"));

/// The favicon: the board's up arrow, as SVG.
pub const ICON: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#0b5394"/><path d="M8 3l5 8H3z" fill="#fff"/></svg>"##;

/// `style-<hash>.css`: the URL changes whenever the stylesheet does, so it
/// can be cached for a year.
pub static STYLE_PATH: LazyLock<String> = LazyLock::new(|| {
    let digest = Sha256::digest(STYLE.as_bytes());
    format!("style-{}.css", hex::encode(&digest[..6]))
});

/// A template rendered into a page's bytes.
trait ToBytes {
    fn to_bytes(&self) -> Result<Vec<u8>, RenderError>;
}

impl<T: Template> ToBytes for T {
    fn to_bytes(&self) -> Result<Vec<u8>, RenderError> {
        self.render()
            .map(String::into_bytes)
            .map_err(|e| RenderError::Write {
                format: Format::Html,
                source: Box::new(e),
            })
    }
}

/// How pages show a time in full.
const FULL_TIME: &str = "%-d %b %Y %H:%M UTC";

/// Longest summary shown on the river, in characters.
const SUMMARY_CHARS: usize = 280;

/// What every page has around its content.
struct Chrome {
    site_title: String,
    home_url: String,
    style_url: String,
    icon_url: String,
    feeds: Vec<FeedLink>,
    nav: Vec<NavLink>,
    /// The live board as a strip, when `[market]` is configured.
    board: Option<String>,
    /// Why there is no board, when `[market]` is configured.
    board_notice: Option<String>,
    /// The search in the search box.
    query: String,
}

/// A link to one of the channel's feeds (autodiscovery and the footer).
struct FeedLink {
    media_type: &'static str,
    /// Absolute, for readers that find it through autodiscovery.
    href: String,
    /// On this site, for people clicking it ([`on_site`]).
    local: String,
    title: String,
    label: &'static str,
}

/// A link in the site's navigation ([`site_nav`]), or a folded list of
/// them (`children`, under `label`).
struct NavLink {
    href: String,
    label: String,
    /// It is the page shown (`aria-current="page"`); for a folded list,
    /// one of its links is, and it is shown open.
    current: bool,
    children: Vec<NavLink>,
}

/// Views shown as links of their own in the navigation; more are folded
/// under one "Views" disclosure, so that a config with dozens keeps the
/// navigation to a line on a phone instead of pushing the news down.
const NAV_VIEWS: usize = 5;

/// The pages that lead to the rest, under `home` (the root's path): the
/// news, each of `views` (name, title; folded past [`NAV_VIEWS`]), and the
/// feeds page. Every page has it, the 404 too, so the views are found
/// without their OPML. The link to `current` (the path of the page shown,
/// when it is one of them) says so, to a screen reader as well as to the
/// eye.
fn site_nav(home: &str, views: &[(String, String)], current: Option<&str>) -> Vec<NavLink> {
    let link = |href: String, label: &str| NavLink {
        current: current == Some(href.as_str()),
        href,
        label: label.to_string(),
        children: Vec::new(),
    };
    let views: Vec<NavLink> = views
        .iter()
        .map(|(name, title)| link(format!("{home}views/{name}"), title))
        .collect();
    let views = if views.len() > NAV_VIEWS {
        vec![NavLink {
            href: String::new(),
            label: format!("Views ({})", views.len()),
            current: views.iter().any(|v| v.current),
            children: views,
        }]
    } else {
        views
    };
    std::iter::once(link(home.to_string(), "News"))
        .chain(views)
        .chain(std::iter::once(link(format!("{home}feeds"), "Feeds")))
        .collect()
}

/// One item on the river.
struct Card {
    page_url: String,
    title: String,
    url: Option<String>,
    sources: String,
    time_iso: String,
    /// How long ago, and the exact minute ([`shown_time`]).
    time_shown: String,
    summary: String,
    /// On a search page: the text around the terms, terms in `<mark>`.
    snippet: Option<String>,
    strip: Option<ItemStrip>,
}

/// An item's snapshot as the pages show it: the full strip, and the same
/// folded to one line ([`strip_line_html`]). The river writes each once,
/// as one `<details>`: the line its summary, the strip what it opens to.
/// A phone shows the line; a wider screen (the stylesheet) the strip
/// alone. Two copies of the strip, one hidden by width, were each met by
/// readers without the stylesheet (text browsers, reader views), and the
/// symbols twice.
struct ItemStrip {
    full: String,
    line: String,
}

#[derive(Template)]
#[template(path = "river.html")]
struct River<'a> {
    chrome: &'a Chrome,
    title: &'a str,
    entries: Vec<Card>,
    older_url: Option<String>,
    /// On an older page, its first page: the title says which page this
    /// is, and the reader can go back to the newest.
    newest_url: Option<String>,
}

#[derive(Template)]
#[template(path = "item.html")]
struct Article<'a> {
    chrome: &'a Chrome,
    entry: Card,
    authors: String,
    categories: String,
    /// (label, RFC 3339, shown)
    times: Vec<(&'static str, String, String)>,
    /// The sanitised content (or summary) the archive holds.
    content: Option<String>,
    /// The article behind the teaser (`[[feeds]] fulltext`), sanitised.
    article: Option<String>,
    prices: Vec<PriceSince>,
    /// ("First version", "on 24 Nov 2026 09:00 UTC", title), newest
    /// first.
    revisions: Vec<(String, String, String)>,
}

/// One mentioned symbol's price when the article was archived and now.
struct PriceSince {
    symbol: String,
    /// The symbol's page.
    href: String,
    /// "not recorded" for a mention found while the board had no price.
    then: String,
    now: String,
    change: String,
    /// `up`, `down` or `flat`: a class; the change's sign and arrow say it too.
    direction: &'static str,
}

/// The operator's page: every feed's state, failing first, and the board's
/// provider. Plain values filled by the HTTP layer, which knows health.
pub struct StatusPage {
    /// e.g. "13 feeds (11 ok, 1 failing, 1 paused)".
    pub summary: String,
    pub feeds: Vec<FeedLine>,
    pub board: Option<BoardLine>,
    /// `[[alerts]]`, failing ones first.
    pub alerts: Vec<AlertLine>,
    /// Every tag a configured feed has, by name.
    pub tags: Vec<TagLine>,
}

/// One tag on the feeds page: the only page that lists them, each with
/// its own page and feeds.
pub struct TagLine {
    pub tag: String,
    /// Configured feeds that carry it.
    pub feeds: usize,
}

/// One alert on the operator's page.
pub struct AlertLine {
    pub name: String,
    /// What it watches, in words (`view bp-watch`).
    pub watches: String,
    /// Messages waiting to be delivered (retrying included).
    pub pending: i64,
    /// Messages given up on after `retry_for_hours`.
    pub failed: i64,
    pub last_error: Option<String>,
}

/// One feed on the operator's page.
pub struct FeedLine {
    pub name: String,
    /// `ok`, `failing`, `paused`, `retired` or `pending`: a word, and a class.
    pub condition: &'static str,
    /// `FeedRow::state_in_words`.
    pub state: String,
    pub url: String,
    pub moved: Option<String>,
    /// When, and the HTTP status.
    pub last_fetch: String,
    pub last_error: Option<String>,
    pub items: i64,
    pub next_due: String,
    /// The publisher's skip windows, when any.
    pub hints: Option<String>,
    /// Its latest WebSub subscription, in words, when it has one.
    pub push: Option<String>,
    /// Its tags as configured, each linked to its page.
    pub tags: Vec<String>,
}

/// The board's provider on the operator's page.
pub struct BoardLine {
    pub provider: String,
    pub last_refresh: String,
    pub last_success: String,
    /// Its kind only (`AAPL: connection refused`): the provider's address
    /// is not for a public page.
    pub last_error: Option<String>,
}

#[derive(Template)]
#[template(path = "feeds.html")]
struct Feeds<'a> {
    chrome: &'a Chrome,
    summary: &'a str,
    feeds: &'a [FeedLine],
    board: &'a Option<BoardLine>,
    alerts: &'a [AlertLine],
    tags: &'a [TagLine],
}

/// The operator's page, with `feed`'s chrome (the site's name, the live
/// board, the main feeds' links).
pub fn render_status(feed: &MergedFeed, page: &StatusPage) -> Result<Vec<u8>, RenderError> {
    let chrome = chrome(feed, Some(&format!("{}feeds", root_path(&feed.site_url))));
    Feeds {
        chrome: &chrome,
        summary: &page.summary,
        feeds: &page.feeds,
        board: &page.board,
        alerts: &page.alerts,
        tags: &page.tags,
    }
    .to_bytes()
}

#[derive(Template)]
#[template(path = "symbol.html")]
struct SymbolPage<'a> {
    chrome: &'a Chrome,
    heading: String,
    symbol: &'a str,
    /// The chart, or the sentence that stands for it ([`draws`]).
    chart: String,
    /// Whether `chart` is one, with a caption.
    drawn: bool,
    items: Vec<Mention>,
}

/// One news item on a symbol's page, numbered as its chart marker.
struct Mention {
    href: String,
    title: String,
    iso: String,
    shown: String,
}

/// A symbol's page: its recorded prices as a chart with a numbered marker
/// at each item that mentions it (newest first, the list below in the same
/// order), for `symbol` named `name`.
pub fn render_symbol(
    feed: &MergedFeed,
    symbol: &str,
    name: Option<&str>,
    series: &[(DateTime<Utc>, Decimal)],
    items: &[SymbolItem],
    currency: Option<&str>,
) -> Result<Vec<u8>, RenderError> {
    let chrome = chrome(feed, None);
    let home = root_path(&feed.site_url);
    let href = |item: &SymbolItem| format!("{home}items/{}", item.uid.0);
    let markers: Vec<Marker> = items
        .iter()
        .map(|i| Marker {
            at: i.first_seen,
            title: i.title.clone(),
            href: href(i),
        })
        .collect();
    SymbolPage {
        chrome: &chrome,
        heading: match name {
            Some(name) => format!("{symbol} ({name}): news and price"),
            None => format!("{symbol}: news and price"),
        },
        symbol,
        chart: price_chart(symbol, series, &markers, currency),
        drawn: draws(series),
        items: items
            .iter()
            .map(|i| Mention {
                href: href(i),
                title: i.title.clone(),
                iso: rfc3339(i.date),
                shown: shown_time(feed.now, i.date),
            })
            .collect(),
    }
    .to_bytes()
}

#[derive(Template)]
#[template(path = "not_found.html")]
struct NotFound<'a> {
    style_path: &'a str,
    home: &'a str,
    /// The masthead's, as on every page, so a reader on a dead link can
    /// search.
    site_title: &'a str,
    nav: Vec<NavLink>,
    /// The page's title ("Not found", "Bad request").
    heading: &'a str,
    /// What is wrong with the address, a sentence.
    problem: &'a str,
}

/// The 404 page, with the site's masthead (`site_title` and the search
/// box) and navigation to `views` (name, title). It points at the pages
/// and feeds by their paths from the root under `home` (the path of
/// `[server] base_url`: `/`, or `/news/` behind a proxy), since it
/// answers for any path.
pub fn not_found_page(home: &str, site_title: &str, views: &[(String, String)]) -> String {
    NotFound {
        style_path: &STYLE_PATH,
        home,
        site_title,
        nav: site_nav(home, views, None),
        heading: "Not found",
        problem: "There is nothing at this address.",
    }
    .render()
    .unwrap_or_else(|_| "not found\n".into())
}

/// The 400 page: the 404's, saying what is wrong with the address's query
/// (`problem`, a sentence) instead.
pub fn bad_request_page(
    home: &str,
    site_title: &str,
    views: &[(String, String)],
    problem: &str,
) -> String {
    NotFound {
        style_path: &STYLE_PATH,
        home,
        site_title,
        nav: site_nav(home, views, None),
        heading: "Bad request",
        problem,
    }
    .render()
    .unwrap_or_else(|_| format!("{problem}\n"))
}

/// The river page of `feed`, as of `now` (for "5 minutes ago").
pub fn render(feed: &MergedFeed, now: DateTime<Utc>) -> Result<Vec<u8>, RenderError> {
    // This page's own address: `/`, a view's or a tag's is in the
    // navigation; an older page (`?before=`) and a search are not.
    let here = feed.self_url.as_deref().map(|u| on_site(&feed.site_url, u));
    let chrome = chrome(feed, here.as_deref());
    let page = River {
        chrome: &chrome,
        title: &feed.title,
        entries: feed.entries.iter().map(|e| card(feed, e, now)).collect(),
        older_url: feed.next_url.as_deref().map(|u| on_site(&feed.site_url, u)),
        newest_url: feed
            .first_url
            .as_deref()
            .filter(|first| feed.self_url.as_deref() != Some(*first))
            .map(|u| on_site(&feed.site_url, u)),
    };
    page.to_bytes()
}

/// The page of the one entry in `feed` (an article), with its history:
/// when it was first archived and its earlier versions.
pub fn render_item(
    feed: &MergedFeed,
    history: &ItemHistory,
    now: DateTime<Utc>,
) -> Result<Vec<u8>, RenderError> {
    let Some(entry) = feed.entries.first() else {
        return Ok(not_found_page(
            &root_path(&feed.site_url),
            &feed.site_title,
            &feed.site_views,
        )
        .into_bytes());
    };
    let chrome = chrome(feed, None);
    let stamp = |t: DateTime<Utc>| (rfc3339(t), t.format(FULL_TIME).to_string());
    let mut times = Vec::new();
    if let Some(t) = entry.published {
        let (iso, shown) = stamp(t);
        times.push(("Published", iso, shown));
    }
    if let Some(t) = history.first_seen {
        let (iso, shown) = stamp(t);
        times.push(("First seen", iso, shown));
    }
    if !history.revisions.is_empty() {
        let (iso, shown) = stamp(entry.updated);
        times.push(("Updated", iso, shown));
    }
    let local_images = |html: &str| {
        if feed.remote_images {
            html.to_string()
        } else {
            images_as_links(html)
        }
    };
    let page = Article {
        chrome: &chrome,
        entry: card(feed, entry, now),
        authors: entry.authors.join(", "),
        categories: entry.categories.join(", "),
        times,
        content: entry
            .content_html
            .as_deref()
            .or(entry.summary_html.as_deref())
            .map(local_images),
        article: history.article_html.as_deref().map(local_images),
        prices: prices_since(
            entry,
            &history.mentions,
            feed.board.as_ref(),
            &root_path(&feed.site_url),
        ),
        revisions: history
            .revisions
            .iter()
            .map(|r| {
                let when = r
                    .replaced_at
                    .map(|t| format!("on {}", t.format(FULL_TIME)))
                    .unwrap_or_else(|| "at an unknown time".into());
                // The archive counts changes from 0; a reader counts
                // versions from the first.
                let version = match r.revision {
                    0 => "First version".to_string(),
                    n => format!("Version {}", n + 1),
                };
                (version, when, r.title.clone())
            })
            .collect(),
    };
    page.to_bytes()
}

/// `html` with each `<img>` replaced by a link to the image, labelled by
/// its alt text: without `[web] remote_images` the page loads nothing from
/// other sites (each load would tell them who read what, and the CSP
/// would refuse it anyway). An image inside a link (`<a href="story"><img
/// alt="Photo"></a>`, common in feeds) becomes the bare `[Photo]`: a link
/// inside a link is not HTML, and a browser would close the outer one
/// there, leaving the story's link empty. The outer link is the one the
/// publisher meant the reader to follow.
///
/// One pass over the tags, copying what lies between them. The HTML is
/// the sanitiser's output: attribute values double-quoted (a `>` or `<`
/// inside one is allowed for, so every tag is matched whole), `<` in text
/// escaped, no comments.
fn images_as_links(html: &str) -> String {
    static TAG: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r#"</?[A-Za-z][A-Za-z0-9]*\b(?:[^>"']|"[^"]*"|'[^']*')*>"#)
            .expect("static regex")
    });
    static SRC: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r#"(?i)\ssrc="([^"]*)""#).expect("static regex"));
    static ALT: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r#"(?i)\salt="([^"]*)""#).expect("static regex"));
    let mut out = String::with_capacity(html.len());
    let mut copied = 0;
    // Links open around the current place; more than one only in HTML no
    // parser builds, and then none of them may hold another.
    let mut open_links = 0usize;
    for found in TAG.find_iter(html) {
        let tag = found.as_str();
        let (closing, rest) = match tag[1..].strip_prefix('/') {
            Some(rest) => (true, rest),
            None => (false, &tag[1..]),
        };
        let name_len = rest.bytes().take_while(u8::is_ascii_alphanumeric).count();
        let name = &rest[..name_len];
        if name.eq_ignore_ascii_case("a") {
            open_links = if closing {
                open_links.saturating_sub(1)
            } else {
                open_links + 1
            };
        }
        if closing || !name.eq_ignore_ascii_case("img") {
            continue;
        }
        out.push_str(&html[copied..found.start()]);
        copied = found.end();
        let alt = ALT
            .captures(tag)
            .map(|c| c[1].trim().to_string())
            .filter(|a| !a.is_empty())
            .unwrap_or_else(|| "image".into());
        // Both values are already escaped as the sanitiser wrote them.
        match SRC.captures(tag) {
            Some(src) if open_links == 0 => {
                out.push_str(&format!(
                    "<a class=\"image\" href=\"{}\">[{alt}]</a>",
                    &src[1]
                ));
            }
            _ => out.push_str(&format!("[{alt}]")),
        }
    }
    out.push_str(&html[copied..]);
    out
}

/// For each symbol the article mentions: its price on the article's
/// snapshot, the live board's, and the change between them; then each
/// other symbol in `mentions` (the archive's record: one found while the
/// provider was down, or in the article fetched later) with no price
/// then and no change, so it still links to its page.
fn prices_since(
    entry: &Entry,
    mentions: &[String],
    board: Option<&Snapshot>,
    home: &str,
) -> Vec<PriceSince> {
    let now_of = |symbol: &str| board.and_then(|b| b.quotes.iter().find(|q| q.symbol == symbol));
    let money = |price: Decimal, currency: &Option<String>| match currency {
        Some(c) => format!("{} {c}", shown_price(price)),
        None => shown_price(price),
    };
    let stamped = || entry.snapshot.iter().flat_map(|s| &s.quotes);
    // Each priced from the snapshot when it holds that symbol, as
    // `v_item_mentions` prices it, mentioned or not.
    entry
        .mentioned_symbols(mentions)
        .into_iter()
        .map(|symbol| {
            let now = now_of(symbol);
            let Some(then) = stamped().find(|q| q.symbol == symbol) else {
                return PriceSince {
                    href: format!("{home}symbols/{symbol}"),
                    symbol: symbol.to_string(),
                    then: "not recorded".into(),
                    now: now
                        .map(|q| money(q.price, &q.currency))
                        .unwrap_or_else(|| "n/a".into()),
                    change: "n/a".into(),
                    direction: "flat",
                };
            };
            // Two listings (the symbol moved, say, from the ADR in dollars
            // to the London line) have no change between them.
            let comparable = now.filter(|q| q.same_listing(then));
            let (change, direction) =
                match comparable.and_then(|q| change_since_ingest(then.price, q.price)) {
                    Some(change) => (change.to_string(), change.direction),
                    None => ("n/a".to_string(), "flat"),
                };
            PriceSince {
                href: format!("{home}symbols/{}", then.symbol),
                symbol: then.symbol.clone(),
                then: money(then.price, &then.currency),
                now: now
                    .map(|q| money(q.price, &q.currency))
                    .unwrap_or_else(|| "n/a".into()),
                change,
                direction,
            }
        })
        .collect()
}

/// The change an item's page shows from a mention's price at ingest to
/// `now`: exact decimal, 2 places, a half away from zero, the figure
/// `v_item_mentions.change_since_ingest_percent` gives for the same two
/// prices. `None` for a price at ingest of 0, or prices so absurd the
/// arithmetic overflows (they come from providers, and one must not fail
/// the page).
pub(crate) fn change_since_ingest(then: Decimal, now: Decimal) -> Option<ShownChange> {
    let percent = now
        .checked_sub(then)?
        .checked_mul(Decimal::ONE_HUNDRED)?
        .checked_div(then)?;
    Some(ShownChange::of(percent))
}

/// The path of the site's root, `/` or a reverse proxy's prefix like
/// `/news/`, from its public URL.
fn root_path(home: &str) -> String {
    url::Url::parse(home)
        .map(|u| u.path().to_string())
        .unwrap_or_else(|_| "/".into())
}

/// A link on this site as a path from the root (`/news/items/x`): it works
/// at whichever address the page was opened (localhost, 127.0.0.1, a
/// proxy's name), where an absolute URL under `base_url` would send the
/// browser elsewhere and put the stylesheet outside the CSP's `'self'`.
fn on_site(home: &str, url: &str) -> String {
    match url.strip_prefix(home) {
        Some(rest) => format!("{}{rest}", root_path(home)),
        None => url.to_string(),
    }
}

/// The frame of a page of `feed`, whose path is `current` when the site's
/// navigation links to it ([`site_nav`]).
fn chrome(feed: &MergedFeed, current: Option<&str>) -> Chrome {
    let absolute_home = feed.site_url.clone();
    let home = root_path(&absolute_home);
    let feeds = feed
        .feed_urls
        .iter()
        .map(|(format, href)| {
            let label = match format {
                Format::Atom => "Atom",
                Format::Rss => "RSS",
                Format::Json => "JSON Feed",
                Format::Html => "page",
            };
            FeedLink {
                media_type: format.media_type(),
                local: on_site(&absolute_home, href),
                href: href.clone(),
                title: format!("{} ({label})", feed.title),
                label,
            }
        })
        .collect();
    Chrome {
        style_url: format!("{home}{}", *STYLE_PATH),
        icon_url: format!("{home}favicon.svg"),
        site_title: feed.site_title.clone(),
        nav: site_nav(&home, &feed.site_views, current),
        home_url: home,
        feeds,
        board: feed
            .board
            .as_ref()
            .filter(|b| !b.quotes.is_empty())
            .map(strip_html),
        board_notice: feed.board_notice.clone(),
        query: feed.query.clone().unwrap_or_default(),
    }
}

fn card(feed: &MergedFeed, entry: &Entry, now: DateTime<Utc>) -> Card {
    let time = entry.date();
    let text = entry_text(entry);
    let title = shown_title(entry, text.as_deref());
    let summary = text
        .as_deref()
        // An untitled post short enough to be its own title is not shown
        // twice; a longer one's summary goes on past the title's cut.
        .filter(|text| *text != title)
        .map(|text| shorten(text, SUMMARY_CHARS))
        .unwrap_or_default();
    let home = root_path(&feed.site_url);
    Card {
        page_url: format!("{home}items/{}", entry.uid()),
        title,
        url: entry.url.clone(),
        sources: entry.source_names().join(", "),
        time_iso: rfc3339(time),
        time_shown: shown_time(now, time),
        summary,
        snippet: feed.snippets.get(entry.uid()).map(|s| marked(s)),
        strip: entry
            .snapshot
            .as_ref()
            .filter(|s| feed.market_strip && !s.quotes.is_empty())
            .map(|s| ItemStrip {
                full: strip_html(s),
                line: strip_line_html(s),
            }),
    }
}

/// A search snippet as HTML: its text escaped, the terms between
/// `SNIPPET_MARKS` in `<mark>`.
fn marked(snippet: &str) -> String {
    let (open, close) = SNIPPET_MARKS;
    let mut out = String::with_capacity(snippet.len() + 32);
    for (i, piece) in snippet.split(open).enumerate() {
        match piece.split_once(close) {
            Some((term, rest)) if i > 0 => {
                out.push_str("<mark>");
                push_html(&mut out, term);
                out.push_str("</mark>");
                push_html(&mut out, rest);
            }
            _ => push_html(&mut out, &piece.replace(close, "")),
        }
    }
    out
}

/// An item's time on the river: how long ago, which a reader takes in at
/// a glance, then the exact minute, as text rather than a `title` that
/// keyboard, touch and screen-reader users never get. The year is left
/// out when it is this year's; a time a month or more away is only its
/// date and minute.
fn shown_time(now: DateTime<Utc>, t: DateTime<Utc>) -> String {
    let exact = if t.year() == now.year() {
        t.format("%-d %b %H:%M UTC").to_string()
    } else {
        t.format(FULL_TIME).to_string()
    };
    match ago(now, t) {
        Some(ago) => format!("{ago} ({exact})"),
        None => exact,
    }
}

/// How long ago `t` was, in words; `None` when that is a month or more,
/// or ahead of `now` by more than a clock's drift (a publisher's clock or
/// a typo), where the date says more ("just now" about 2099 would lie).
fn ago(now: DateTime<Utc>, t: DateTime<Utc>) -> Option<String> {
    let secs = (now - t).num_seconds();
    let plural = |n: i64, unit: &str| format!("{n} {unit}{} ago", if n == 1 { "" } else { "s" });
    Some(match secs {
        -60..60 => "just now".into(),
        60..3600 => plural(secs / 60, "minute"),
        3600..86_400 => plural(secs / 3600, "hour"),
        86_400..2_592_000 => plural(secs / 86_400, "day"),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_at_a_glance_and_give_the_exact_minute() {
        let now = DateTime::parse_from_rfc3339("2026-11-24T09:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let ago_by = |secs| shown_time(now, now - chrono::Duration::seconds(secs));
        assert_eq!(ago_by(5), "just now (24 Nov 08:59 UTC)");
        assert_eq!(ago_by(60), "1 minute ago (24 Nov 08:59 UTC)");
        assert_eq!(ago_by(7200), "2 hours ago (24 Nov 07:00 UTC)");
        assert_eq!(ago_by(86_400 * 3), "3 days ago (21 Nov 09:00 UTC)");
        assert_eq!(ago_by(86_400 * 40), "15 Oct 09:00 UTC");
        assert_eq!(ago_by(86_400 * 400), "20 Oct 2025 09:00 UTC");
        assert_eq!(
            ago_by(-30),
            "just now (24 Nov 09:00 UTC)",
            "a clock a little ahead"
        );
        assert_eq!(ago_by(-86_400 * 365 * 73), "6 Nov 2099 09:00 UTC");
    }

    /// A reviewer's untitled post (a microblog's) read twice on the
    /// river: once as its title, once as its summary.
    #[test]
    fn an_untitled_post_is_not_shown_twice() {
        use crate::render::samples::sample_feed;
        let feed = sample_feed();
        let now = feed.now;
        let untitled = |summary: &str| Entry {
            title: String::new(),
            summary_html: Some(summary.to_string()),
            content_html: None,
            ..feed.entries[0].clone()
        };
        let short = card(&feed, &untitled("<p>Rates held at 4%.</p>"), now);
        assert_eq!(short.title, "Rates held at 4%.");
        assert_eq!(short.summary, "");
        let long = "word ".repeat(60);
        let long = card(&feed, &untitled(&long), now);
        assert!(long.title.ends_with('…'), "{}", long.title);
        assert!(long.summary.len() > long.title.len(), "{}", long.summary);
        let titled = card(&feed, &feed.entries[0], now);
        assert!(!titled.summary.is_empty());
    }

    /// QA: an article archived from a feed and its redirected second
    /// address, both titled alike, named the title once per feed.
    #[test]
    fn a_source_title_two_feeds_share_is_shown_once() {
        use crate::model::EntrySource;
        use crate::render::samples::{awkward_source, bbc_source, sample_feed};
        let feed = sample_feed();
        let mirror = EntrySource {
            name: "bbc-world-2".into(),
            feed_url: "https://feeds.bbci.co.uk/news/world/rss2.xml".into(),
            ..bbc_source()
        };
        let entry = Entry {
            sources: vec![bbc_source(), awkward_source(), mirror, bbc_source()],
            ..feed.entries[0].clone()
        };
        let card = card(&feed, &entry, feed.now);
        assert_eq!(
            card.sources,
            r#"BBC News - World, Q&A <b>"quoted"</b> 'single'"#
        );
    }

    /// QA: a symbol page with no chart captioned the chart that was not
    /// there.
    #[test]
    fn a_symbol_page_without_a_chart_has_no_caption() {
        use crate::render::samples::sample_feed;
        let feed = sample_feed();
        let t = feed.now;
        let page = |series: &[(DateTime<Utc>, Decimal)]| {
            String::from_utf8(render_symbol(&feed, "VOD", None, series, &[], None).unwrap())
                .unwrap()
        };
        let none = page(&[]);
        assert!(none.contains("No quotes of VOD are recorded yet"), "{none}");
        assert!(!none.contains("<figcaption>"), "{none}");
        let one_moment = page(&[(t, Decimal::ONE), (t, Decimal::TWO)]);
        assert!(!one_moment.contains("<figcaption>"), "{one_moment}");
        let two = page(&[
            (t, Decimal::ONE),
            (t + chrono::Duration::hours(1), Decimal::TWO),
        ]);
        assert!(
            two.contains("<svg") && two.contains("<figcaption>"),
            "{two}"
        );
    }

    #[test]
    fn snippets_mark_terms_and_escape_everything_else() {
        let (o, c) = SNIPPET_MARKS;
        assert_eq!(
            marked(&format!("a <b> {o}oil{c} & {o}gas{c}…")),
            "a &lt;b&gt; <mark>oil</mark> &amp; <mark>gas</mark>…"
        );
    }

    #[test]
    fn links_on_the_site_are_paths_that_work_at_any_address() {
        assert_eq!(
            on_site("https://news.example/", "https://news.example/items/x"),
            "/items/x"
        );
        assert_eq!(
            on_site(
                "https://proxy.example/news/",
                "https://proxy.example/news/feed.atom?q=a"
            ),
            "/news/feed.atom?q=a"
        );
        assert_eq!(
            on_site("https://news.example/", "https://other.example/a"),
            "https://other.example/a"
        );
    }

    #[test]
    fn remote_images_become_links_labelled_by_their_alt_text() {
        assert_eq!(
            images_as_links(
                r#"<p>Chart: <img src="https://cdn.example/c.png?a=1&amp;b=2" alt="BP &gt; 30"> and <img src="x.gif"></p>"#
            ),
            r#"<p>Chart: <a class="image" href="https://cdn.example/c.png?a=1&amp;b=2">[BP &gt; 30]</a> and <a class="image" href="x.gif">[image]</a></p>"#
        );
    }

    /// Whether a link opens inside an open link anywhere in `page`: not
    /// HTML, and a browser closes the outer link there.
    fn a_link_inside_a_link(page: &str) -> bool {
        let tags = Regex::new(r"(?i)<(/?)a[\s>]").unwrap();
        let mut open = 0usize;
        for tag in tags.captures_iter(page) {
            if !tag[1].is_empty() {
                open = open.saturating_sub(1);
            } else if open > 0 {
                return true;
            } else {
                open += 1;
            }
        }
        false
    }

    /// A feed's `<a href="story"><img alt="Photo"></a>` became a link to
    /// the image inside the story's link: the browser closed the story's
    /// link before it, so the reader had an empty story link and a
    /// `[Photo]` leading to the image. Inside a link the image is now its
    /// alt text, within the story's link; elsewhere it is still a link.
    #[test]
    fn an_image_inside_a_link_is_its_alt_text_within_that_link() {
        let html = r#"<p><a href="https://news.example/story"><img src="https://cdn.example/p.jpg" alt="Photo"> Oil jumps</a> <abbr title="x">BP</abbr> <img src="c.png" alt="Chart"></p><a href="/b"><img src="x.gif"></a>"#;
        let out = images_as_links(html);
        assert_eq!(
            out,
            r#"<p><a href="https://news.example/story">[Photo] Oil jumps</a> <abbr title="x">BP</abbr> <a class="image" href="c.png">[Chart]</a></p><a href="/b">[image]</a>"#
        );
        assert!(!a_link_inside_a_link(&out), "{out}");
        // A tag's quoted attribute holding markup is part of that tag.
        assert_eq!(
            images_as_links(r#"<a href="/s" title="<a href=x>">go</a><img src="y.png">"#),
            r#"<a href="/s" title="<a href=x>">go</a><a class="image" href="y.png">[image]</a>"#
        );
    }

    /// The article page, as a reader gets it: the story's link keeps its
    /// photo's alt text, and no link opens inside another.
    #[test]
    fn the_item_page_has_no_link_inside_a_link() {
        use crate::render::samples::market_feed;
        let sample = market_feed();
        let mut entry = sample.entries[0].clone();
        entry.content_html = Some(
            r#"<p><a href="https://news.example/story"><img src="https://cdn.example/p.jpg" alt="Photo"></a></p>"#
                .into(),
        );
        let feed = MergedFeed {
            entries: vec![entry],
            ..sample
        };
        assert!(!feed.remote_images);
        let history = ItemHistory {
            first_seen: None,
            revisions: Vec::new(),
            article_html: None,
            mentions: Vec::new(),
        };
        let page = String::from_utf8(render_item(&feed, &history, feed.now).unwrap()).unwrap();
        assert!(
            page.contains(r#"<a href="https://news.example/story">[Photo]</a>"#),
            "{page}"
        );
        assert!(!a_link_inside_a_link(&page), "{page}");
    }

    /// Prices at the edges of what a decimal holds give "n/a", not a
    /// panic that fails the item's page.
    #[test]
    fn absurd_prices_leave_the_change_unknown() {
        use crate::render::samples::{market_feed, snapshot};
        let entry = &market_feed().entries[0];
        let mut then = snapshot();
        then.quotes[0].price = Decimal::new(1, 28);
        let mut board = snapshot();
        board.quotes[0].price = Decimal::MAX;
        let entry = Entry {
            snapshot: Some(then),
            ..entry.clone()
        };
        let prices = prices_since(&entry, &[], Some(&board), "/");
        assert_eq!(prices[0].change, "n/a");
        let entry = Entry {
            snapshot: Some(snapshot()),
            ..entry
        };
        let mut normal = snapshot();
        normal.quotes[0].price = "30.02".parse().unwrap();
        let prices = prices_since(&entry, &[], Some(&normal), "/");
        assert_eq!(prices[0].change, "▲ +1.01%");
    }

    /// The item page wrote the change since an article was archived as
    /// `▲ +1.01 %`, while its own strip, the river's, symbol pages and
    /// `tickerfeed quotes` write `▲ +0.67%`: both now read as the strip
    /// does (`ShownChange`).
    #[test]
    fn the_item_page_writes_the_change_since_as_the_strip_does() {
        use crate::render::samples::{market_feed, snapshot};
        let mut board = snapshot();
        board.quotes[0].price = "30.02".parse().unwrap();
        let sample = market_feed();
        let feed = MergedFeed {
            entries: sample.entries[..1].to_vec(),
            board: Some(board),
            ..sample
        };
        let history = ItemHistory {
            first_seen: None,
            revisions: Vec::new(),
            article_html: None,
            mentions: Vec::new(),
        };
        let page = String::from_utf8(render_item(&feed, &history, feed.now).unwrap()).unwrap();
        let prices = page
            .split("<caption>Each symbol the article mentions")
            .nth(1)
            .and_then(|t| t.split("</table>").next())
            .unwrap_or_else(|| panic!("no prices table: {page}"));
        assert!(
            prices.contains("<td class=\"num up\">▲ +1.01%</td>"),
            "{prices}"
        );
        // The article's own strip, on the same page.
        assert!(page.contains("▲ +0.67%"), "{page}");
        assert!(!page.contains(" %"), "{page}");
    }

    /// On the river each item's strip is there once, folded to a line
    /// under a native disclosure that opens to the full strip (what a
    /// phone shows; a wide screen shows the strip alone); an item with no
    /// snapshot has neither.
    #[test]
    fn a_river_item_folds_its_strip_to_a_line_that_opens_to_all_of_it() {
        use crate::render::samples::{market_feed, snapshot};
        let feed = MergedFeed {
            market_strip: true,
            ..market_feed()
        };
        let page = String::from_utf8(render(&feed, feed.now).unwrap()).unwrap();
        let full = strip_html(&snapshot());
        let line = strip_line_html(&snapshot());
        let item = page.split("<article class=\"item\">").nth(1).unwrap();
        assert!(
            item.contains(&format!(
                "<details class=\"strip\"><summary>{line}</summary>{full}</details>"
            )),
            "{item}"
        );
        assert_eq!(item.matches(&full).count(), 1, "{item}");
        let plain = page.split("<article class=\"item\">").nth(5).unwrap();
        assert!(plain.contains("/items/m5"), "{plain}");
        assert!(!plain.contains("strip"), "{plain}");
    }

    /// The site navigation on `page`.
    fn nav_of(page: &str) -> &str {
        page.split("<nav class=\"site-nav\" aria-label=\"Site\">")
            .nth(1)
            .and_then(|rest| rest.split("</nav>").next())
            .unwrap_or_else(|| panic!("no site navigation: {page}"))
    }

    /// The links in the site navigation of `page` marked as the page shown.
    fn current_in_nav(page: &[u8]) -> Vec<String> {
        let page = String::from_utf8(page.to_vec()).unwrap();
        nav_of(&page)
            .split("<a ")
            .filter(|a| a.contains("aria-current=\"page\""))
            .map(|a| {
                a.split_once('>')
                    .unwrap()
                    .1
                    .split('<')
                    .next()
                    .unwrap()
                    .to_string()
            })
            .collect()
    }

    /// QA: the navigation did not say where the reader was. News is
    /// marked on the front page, a view on its page, Feeds on the feeds
    /// page; an older page, a search, a tag, an article, a symbol and
    /// the 404 mark nothing.
    #[test]
    fn the_navigation_marks_the_page_the_reader_is_on() {
        use crate::render::merged_feed;
        use crate::select::Channel;
        let base = url::Url::parse("https://tf.example.net/news/").unwrap();
        let now = crate::render::samples::sample_feed().now;
        let views = vec![
            ("desk".to_string(), "Desk".to_string()),
            ("wire".to_string(), "Wire".to_string()),
        ];
        let feed = |channel: &Channel| MergedFeed {
            site_views: views.clone(),
            ..merged_feed("Site", "", &base, Format::Html, channel, Vec::new(), now)
        };
        let river = |feed: &MergedFeed| current_in_nav(&render(feed, now).unwrap());
        assert_eq!(river(&feed(&Channel::Main)), ["News"]);
        assert_eq!(river(&feed(&Channel::View("wire".into()))), ["Wire"]);
        assert!(river(&feed(&Channel::Tag("world".into()))).is_empty());
        let older = MergedFeed {
            self_url: Some("https://tf.example.net/news/?before=x".into()),
            ..feed(&Channel::Main)
        };
        assert!(river(&older).is_empty());
        let search = MergedFeed {
            self_url: Some("https://tf.example.net/news/?q=oil".into()),
            ..feed(&Channel::Main)
        };
        assert!(river(&search).is_empty());
        let status = StatusPage {
            summary: String::new(),
            feeds: Vec::new(),
            board: None,
            alerts: Vec::new(),
            tags: Vec::new(),
        };
        let main = feed(&Channel::Main);
        assert_eq!(
            current_in_nav(&render_status(&main, &status).unwrap()),
            ["Feeds"]
        );
        let symbol = render_symbol(&main, "VOD", None, &[], &[], None).unwrap();
        assert!(current_in_nav(&symbol).is_empty());
        let article = MergedFeed {
            entries: crate::render::samples::sample_feed().entries,
            ..feed(&Channel::Main)
        };
        let history = ItemHistory {
            first_seen: None,
            revisions: Vec::new(),
            article_html: None,
            mentions: Vec::new(),
        };
        assert!(current_in_nav(&render_item(&article, &history, now).unwrap()).is_empty());
        assert!(current_in_nav(not_found_page("/news/", "News", &views).as_bytes()).is_empty());
        // A view folded under the "Views" disclosure: the disclosure is
        // open, so the marked link shows.
        let many: Vec<(String, String)> = (0..8)
            .map(|i| (format!("v{i}"), format!("View {i}")))
            .collect();
        let folded = MergedFeed {
            site_views: many,
            ..feed(&Channel::View("v6".into()))
        };
        let page = String::from_utf8(render(&folded, now).unwrap()).unwrap();
        assert!(page.contains("<details open><summary>Views (8)"), "{page}");
        assert_eq!(current_in_nav(page.as_bytes()), ["View 6"]);
    }

    /// Up to five views are links of their own in the site navigation;
    /// more are folded under one "Views" disclosure, every one still a
    /// link, so dozens of views do not push the news down a phone's screen.
    #[test]
    fn many_views_fold_under_one_disclosure_in_the_navigation() {
        let views = |n: usize| -> Vec<(String, String)> {
            (0..n)
                .map(|i| (format!("v{i}"), format!("View {i}")))
                .collect()
        };
        let page = |n: usize| not_found_page("/", "News", &views(n));
        let five = page(5);
        assert!(!five.contains("<details>"), "{five}");
        assert!(
            five.contains(r#"<li><a href="/views/v4">View 4</a></li>"#),
            "{five}"
        );
        let twelve = page(12);
        let nav = nav_of(&twelve);
        assert!(
            nav.contains("<details><summary>Views (12)</summary>"),
            "{nav}"
        );
        for i in 0..12 {
            assert!(
                nav.contains(&format!(r#"<li><a href="/views/v{i}">View {i}</a></li>"#)),
                "{nav}"
            );
        }
        assert!(nav.contains(r#"<li><a href="/">News</a></li>"#), "{nav}");
        assert!(
            nav.contains(r#"<li><a href="/feeds">Feeds</a></li>"#),
            "{nav}"
        );
    }

    /// A mention the archive records for a symbol the snapshot holds but
    /// does not mark (found later, in the fetched article) is priced from
    /// the snapshot, as `v_item_mentions` prices it, not "not recorded";
    /// one the snapshot does not hold is.
    #[test]
    fn a_recorded_mention_is_priced_from_the_snapshot_marked_or_not() {
        use crate::render::samples::{market_feed, snapshot};
        let mut then = snapshot();
        for q in &mut then.quotes {
            q.mentioned = false;
        }
        let symbol = then.quotes[0].symbol.clone();
        let entry = Entry {
            snapshot: Some(then.clone()),
            ..market_feed().entries[0].clone()
        };
        let mut now = snapshot();
        now.quotes[0].price = "30.02".parse().unwrap();
        let prices = prices_since(&entry, &[symbol.clone(), "NOPE".into()], Some(&now), "/");
        assert_eq!(prices.len(), 2);
        assert_eq!(prices[0].symbol, symbol);
        assert_ne!(prices[0].then, "not recorded");
        assert_eq!(prices[0].change, "▲ +1.01%");
        assert_eq!(prices[1].then, "not recorded");
        // Without the archive's mentions, an unmarked quote is no row.
        assert!(prices_since(&entry, &[], Some(&now), "/").is_empty());
    }

    /// A symbol moved to another listing (dollars then, pounds now): each
    /// price is shown in its own currency, and no change is made up
    /// between them.
    #[test]
    fn prices_in_two_currencies_are_not_compared() {
        use crate::render::samples::{market_feed, snapshot};
        let then = snapshot();
        let mut now = snapshot();
        now.quotes[0].price = "0.72".parse().unwrap();
        now.quotes[0].currency = Some("GBP".into());
        assert_ne!(then.quotes[0].currency, now.quotes[0].currency);
        let entry = Entry {
            snapshot: Some(then.clone()),
            ..market_feed().entries[0].clone()
        };
        let prices = prices_since(&entry, &[], Some(&now), "/");
        assert_eq!(prices[0].now, "0.72 GBP");
        assert_eq!(prices[0].change, "n/a");
        // Without a currency, another provider symbol is another listing.
        now.quotes[0].currency = None;
        now.quotes[0].provider_symbol = format!("{}.L", then.quotes[0].provider_symbol);
        assert_eq!(prices_since(&entry, &[], Some(&now), "/")[0].change, "n/a");
        now.quotes[0].provider_symbol = then.quotes[0].provider_symbol.to_lowercase();
        now.quotes[0].price = then.quotes[0].price;
        assert_ne!(prices_since(&entry, &[], Some(&now), "/")[0].change, "n/a");
        assert!(
            prices[0]
                .then
                .ends_with(then.quotes[0].currency.as_deref().unwrap()),
            "{}",
            prices[0].then
        );
    }
}
