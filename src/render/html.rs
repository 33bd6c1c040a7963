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
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::strip::strip_html;
use super::text::html_to_text;
use super::{Format, MergedFeed, RenderError, rfc3339};
use crate::model::Entry;

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

/// Longest summary shown on the river, in characters.
const SUMMARY_CHARS: usize = 280;

/// What every page has around its content.
struct Chrome {
    site_title: String,
    home_url: String,
    style_url: String,
    icon_url: String,
    feeds: Vec<FeedLink>,
    /// The live board as a strip, when `[market]` is configured.
    board: Option<String>,
}

/// A link to one of the channel's feeds (autodiscovery and the footer).
struct FeedLink {
    media_type: &'static str,
    href: String,
    title: String,
    label: &'static str,
}

/// One item on the river.
struct Card {
    page_url: String,
    title: String,
    url: Option<String>,
    sources: String,
    time_iso: String,
    time_full: String,
    time_ago: String,
    summary: String,
    strip: Option<String>,
}

#[derive(Template)]
#[template(path = "river.html")]
struct River<'a> {
    chrome: &'a Chrome,
    title: &'a str,
    entries: Vec<Card>,
    older_url: Option<String>,
}

#[derive(Template)]
#[template(path = "not_found.html")]
struct NotFound<'a> {
    style_path: &'a str,
}

/// The 404 page. It points at the feeds and views by their root paths,
/// since it answers for any path.
pub fn not_found_page() -> String {
    NotFound {
        style_path: &STYLE_PATH,
    }
    .render()
    .unwrap_or_else(|_| "not found\n".into())
}

/// The river page of `feed`, as of `now` (for "5 minutes ago").
pub fn render(feed: &MergedFeed, now: DateTime<Utc>) -> Result<Vec<u8>, RenderError> {
    let chrome = chrome(feed);
    let page = River {
        chrome: &chrome,
        title: &feed.title,
        entries: feed.entries.iter().map(|e| card(feed, e, now)).collect(),
        older_url: feed.next_url.clone(),
    };
    page.render()
        .map(String::into_bytes)
        .map_err(|e| RenderError::Write {
            format: Format::Html,
            source: Box::new(e),
        })
}

fn chrome(feed: &MergedFeed) -> Chrome {
    let home = feed.home_url.clone().unwrap_or_else(|| "/".into());
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
        home_url: home,
        feeds,
        board: feed
            .board
            .as_ref()
            .filter(|b| !b.quotes.is_empty())
            .map(strip_html),
    }
}

fn card(feed: &MergedFeed, entry: &Entry, now: DateTime<Utc>) -> Card {
    let time = entry.published.unwrap_or(entry.updated);
    let summary = entry
        .summary_html
        .as_deref()
        .or(entry.content_html.as_deref())
        .map(html_to_text)
        .map(|text| shorten(&text, SUMMARY_CHARS))
        .unwrap_or_default();
    Card {
        page_url: entry.url.clone().unwrap_or_default(),
        title: entry.title.clone(),
        url: entry.url.clone(),
        sources: entry
            .sources
            .iter()
            .map(|s| s.title.clone().unwrap_or_else(|| s.name.clone()))
            .collect::<Vec<_>>()
            .join(", "),
        time_iso: rfc3339(time),
        time_full: time.format("%-d %b %Y %H:%M UTC").to_string(),
        time_ago: ago(now, time),
        summary,
        strip: entry
            .snapshot
            .as_ref()
            .filter(|s| feed.market_strip && !s.quotes.is_empty())
            .map(strip_html),
    }
}

/// `text` cut at a word boundary to about `max` characters, with `…`.
fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let cut: String = text.chars().take(max).collect();
    let end = cut.rfind(' ').unwrap_or(cut.len());
    format!("{}…", cut[..end].trim_end())
}

/// How long ago `t` was, in words a reader takes in at a glance.
fn ago(now: DateTime<Utc>, t: DateTime<Utc>) -> String {
    let secs = (now - t).num_seconds();
    let plural = |n: i64, unit: &str| format!("{n} {unit}{} ago", if n == 1 { "" } else { "s" });
    match secs {
        s if s < 60 => "just now".into(),
        s if s < 3600 => plural(s / 60, "minute"),
        s if s < 86_400 => plural(s / 3600, "hour"),
        s if s < 30 * 86_400 => plural(s / 86_400, "day"),
        _ => t.format("%-d %b %Y").to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_at_a_glance() {
        let now = DateTime::parse_from_rfc3339("2026-11-24T09:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let ago_by = |secs| ago(now, now - chrono::Duration::seconds(secs));
        assert_eq!(ago_by(5), "just now");
        assert_eq!(ago_by(60), "1 minute ago");
        assert_eq!(ago_by(7200), "2 hours ago");
        assert_eq!(ago_by(86_400 * 3), "3 days ago");
        assert_eq!(ago_by(86_400 * 40), "15 Oct 2026");
    }

    #[test]
    fn long_summaries_are_cut_at_a_word() {
        assert_eq!(shorten("short", 10), "short");
        assert_eq!(shorten("one two three four", 10), "one two…");
    }
}
