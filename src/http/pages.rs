//! The pages people read (issue 17): the news river and the pages of
//! tags, views and searches (rendered through the feeds' cache, see the
//! parent module), and those rendered on demand, a few at a time: an
//! article, a symbol, the operator's page. Also the stylesheet, favicon,
//! `robots.txt`, the 404 page, and the security headers every page gets.

use std::time::SystemTime;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use tracing::error;

use super::{
    HttpState, Inner, Params, Published, Rendered, ServeError, busy, feed, respond, unavailable,
};
use crate::link::without_credentials;
use crate::model::Snapshot;
use crate::quotes::board::BoardStatus;
use crate::render::{self, Format};
use crate::select::Channel;
use crate::store::RecentQuery;

/// Items listed (and marked) on a symbol's page.
const SYMBOL_ITEMS: usize = 50;

/// Points at most on a symbol's chart: enough for its shape at any width.
const CHART_POINTS: usize = 480;

/// What a page rendered on demand (an article, a symbol, the operator's
/// page) is framed by: the site's name, the live board, the main feeds'
/// links, and `entries` as its content.
fn page_frame(
    inner: &Inner,
    published: &Published,
    entries: Vec<crate::model::Entry>,
    now: DateTime<Utc>,
) -> render::MergedFeed {
    let mut view = render::merged_feed(
        &published.output.title,
        &published.output.description,
        &published.base,
        Format::Html,
        &Channel::Main,
        entries,
        now,
    );
    view.market_strip = published.output.market_strip;
    view.site_title = published.web.title.clone();
    view.site_views = published.views.clone();
    show_board(&mut view, inner, now);
    view.now = now;
    view.remote_images = published.web.remote_images;
    view
}

/// The live board on `page` as a snapshot taken `now`; with `[market]`
/// configured and no quote to show (the provider has not answered since
/// the board was set up), a notice in its place saying so, with the
/// provider and the last refresh's error as `/feeds` shows them.
pub(super) fn show_board(page: &mut render::MergedFeed, inner: &Inner, now: DateTime<Utc>) {
    let Some(board) = inner.board.get() else {
        return;
    };
    match board.view(now) {
        Some(view) => {
            page.board = Some(Snapshot {
                label: view.label,
                taken_at: now,
                quotes: view.quotes.into_iter().map(|(_, q)| q).collect(),
            });
        }
        None => page.board_notice = Some(board_notice(&board.status(now))),
    }
}

/// A board without quotes, in words: "Market data unavailable: no quotes
/// received yet from yahoo; the last request failed (the Feeds page says
/// why)." Readers learn that the board is missing and whose it is; the
/// kind of failure is on /feeds, and the error itself (an address, the
/// provider's words) is the operator's, in the log and `tickerfeed quotes`.
fn board_notice(status: &BoardStatus) -> String {
    let provider = &status.provider;
    match (&status.last_refresh, &status.last_error) {
        (_, Some(_)) => format!(
            "Market data unavailable: no quotes received yet from {provider}; \
             the last request failed (the Feeds page says why)."
        ),
        (None, None) => format!(
            "Market data unavailable: no quotes received yet from {provider}; \
             the first request has not been answered yet."
        ),
        (Some(_), None) => {
            format!("Market data unavailable: no quotes received yet from {provider}.")
        }
    }
}

/// A channel's page; 404 when `[web] enabled = false`.
pub(super) async fn page(
    state: State<HttpState>,
    params: Params,
    headers: HeaderMap,
    channel: Channel,
) -> Response {
    let published = state.published();
    if !published.web.enabled {
        return not_found_under(&published);
    }
    feed(state, params, headers, Format::Html, channel).await
}

/// `/items/<uid>`: one article's page. Rendered on demand, a few at a
/// time like searches, so a crawler walking every article cannot crowd
/// the feeds off the archive's read connection.
pub(super) async fn item_page(
    State(state): State<HttpState>,
    Path(uid): Path<String>,
    headers: HeaderMap,
) -> Response {
    let published = state.published();
    if !published.web.enabled {
        return not_found_under(&published);
    }
    let inner = &state.0;
    let Ok(_permit) = inner.one_off.try_acquire() else {
        return busy(&ServeError::Busy);
    };
    match item_doc(inner, &published, &uid).await {
        Ok(Some(doc)) => respond(&headers, &doc).await,
        Ok(None) => not_found_under(&published),
        Err(e) => {
            error!(error = %e, uid, "could not render an article page");
            unavailable()
        }
    }
}

async fn item_doc(
    inner: &Inner,
    published: &Published,
    uid: &str,
) -> Result<Option<Rendered>, ServeError> {
    let page = inner
        .store
        .page(RecentQuery {
            uid: Some(uid.to_string()),
            ..RecentQuery::newest(1)
        })
        .await?;
    let Some(history) = inner.store.item_history(uid).await? else {
        return Ok(None);
    };
    if page.entries.is_empty() {
        return Ok(None);
    }
    let now = inner.clock.now();
    let view = page_frame(inner, published, page.entries, now);
    let body = render::html::render_item(&view, &history, now)?;
    // Its sources, fetched article and prices change apart from the entry.
    Ok(Some(
        Rendered::new(Format::Html, body, SystemTime::from(view.updated)).undated(),
    ))
}

/// `/feeds`: the operator's page. Rendered on demand (a few at a time,
/// like searches) and never cached by clients: it is about now.
pub(super) async fn feeds_page(State(state): State<HttpState>, headers: HeaderMap) -> Response {
    let published = state.published();
    if !published.web.enabled {
        return not_found_under(&published);
    }
    let inner = &state.0;
    let Ok(_permit) = inner.one_off.try_acquire() else {
        return busy(&ServeError::Busy);
    };
    match status_doc(inner, &published).await {
        Ok(doc) => {
            let mut resp = respond(&headers, &doc).await;
            resp.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            resp
        }
        Err(e) => {
            error!(error = %e, "could not render the feeds page");
            unavailable()
        }
    }
}

async fn status_doc(inner: &Inner, published: &Published) -> Result<Rendered, ServeError> {
    use crate::health::FeedCondition;
    let rows = inner.store.feed_rows().await?;
    let per_feed = inner.store.items_per_feed().await?;
    let subscriptions = inner.store.subscriptions().await?;
    let latest = crate::store::latest_per_feed(&subscriptions);
    let now = inner.clock.now();
    let when = |t: Option<DateTime<Utc>>| {
        t.map(|t| t.format("%-d %b %Y %H:%M:%S UTC").to_string())
            .unwrap_or_else(|| "never".into())
    };
    // By name, once: a search of the config per row was quadratic at
    // 100,000 feeds.
    let configured: std::collections::HashMap<&str, _> = published
        .feeds
        .iter()
        .map(|f| (f.name.as_str(), f))
        .collect();
    let no_values = crate::link::Filled::default();
    let mut lines: Vec<(FeedCondition, render::html::FeedLine)> = rows
        .iter()
        .filter(|r| r.in_config)
        .map(|r| {
            let condition = FeedCondition::of(r);
            let config = configured.get(r.name.as_str());
            let next_due = r.next_due_in_words(config.copied(), now, when);
            // The archive keeps the feed's address blanked already; an
            // archive written before values were blanked by value is
            // blanked here as well, while the config knows them.
            let filled = config.map_or(&no_values, |f| &f.filled);
            let skip = r.poll_state().skip;
            let line = render::html::FeedLine {
                name: r.name.clone(),
                condition: condition.as_str(),
                state: r.state_in_words(now, when),
                url: without_credentials(&r.url, filled),
                moved: r
                    .effective_url
                    .as_deref()
                    .map(|u| without_credentials(u, filled)),
                last_fetch: match r.last_status {
                    Some(s) => format!("{} (HTTP {s})", when(r.last_attempt_at)),
                    None => when(r.last_attempt_at),
                },
                last_error: r.last_error.clone(),
                items: per_feed.get(&r.id).copied().unwrap_or(0),
                next_due,
                hints: (!skip.is_empty()).then(|| {
                    let (hours, days) = skip.to_db();
                    let mut parts = Vec::new();
                    if let Some(h) = hours {
                        parts.push(format!("skip hours (UTC) {h}"));
                    }
                    if let Some(d) = days {
                        parts.push(format!("skip days {d}"));
                    }
                    parts.join("; ")
                }),
                // The feed's latest subscription: live, or why it is not.
                push: latest.get(&r.id).map(|s| s.in_words(now, when)),
                tags: config.map(|f| f.tags.clone()).unwrap_or_default(),
            };
            (condition, line)
        })
        .collect();
    lines.sort_by(|a, b| (a.0.urgency(), &a.1.name).cmp(&(b.0.urgency(), &b.1.name)));
    // As `/healthz` counts them, paused, retired and new feeds too.
    let summary = crate::health::FeedCounts::of(&rows).describe();
    let board = inner.board.get().map(|b| {
        let status = b.status(now);
        render::html::BoardLine {
            provider: status.provider,
            last_refresh: when(status.last_refresh),
            last_success: when(status.last_success),
            // The kind only: the full error names the provider's address,
            // and this page is public (the log and the CLI have it all).
            last_error: status.last_error_words,
        }
    });
    let states = inner.store.alert_states().await?;
    let mut alerts: Vec<render::html::AlertLine> = published
        .alerts
        .iter()
        .map(|(name, watches)| {
            let state = states.iter().find(|s| &s.alert == name);
            render::html::AlertLine {
                name: name.clone(),
                watches: watches.clone(),
                pending: state.map_or(0, |s| s.pending),
                failed: state.map_or(0, |s| s.failed),
                last_error: state.and_then(|s| s.last_error.clone()),
            }
        })
        .collect();
    // Failing alerts first, as feeds.
    alerts.sort_by_key(|a| (a.failed == 0 && a.last_error.is_none(), a.name.clone()));
    // A BTreeMap: the tags by name.
    let mut tags = std::collections::BTreeMap::<&str, usize>::new();
    for tag in published.feeds.iter().flat_map(|f| &f.tags) {
        *tags.entry(tag).or_default() += 1;
    }
    let view = page_frame(inner, published, Vec::new(), now);
    let page = render::html::StatusPage {
        tags: tags
            .into_iter()
            .map(|(tag, feeds)| render::html::TagLine {
                tag: tag.to_string(),
                feeds,
            })
            .collect(),
        alerts,
        summary,
        feeds: lines.into_iter().map(|(_, l)| l).collect(),
        board,
    };
    let body = render::html::render_status(&view, &page)?;
    Ok(Rendered::new(Format::Html, body, SystemTime::from(now)))
}

/// `/symbols/<symbol>`: the news mentioning a configured symbol, newest
/// first, under a chart of its recorded prices. Rendered on demand, a few
/// at a time, like searches.
pub(super) async fn symbol_page(
    State(state): State<HttpState>,
    Path(symbol): Path<String>,
    headers: HeaderMap,
) -> Response {
    let published = state.published();
    let Some((configured, name)) = published
        .symbols
        .iter()
        .find(|(s, _)| s.eq_ignore_ascii_case(&symbol))
        .filter(|_| published.web.enabled)
    else {
        return not_found_under(&published);
    };
    if *configured != symbol {
        // `/symbols/bp` typed by hand: the page is at the symbol as
        // configured, one address per page.
        let to = format!("{}symbols/{configured}", published.base.path());
        return (StatusCode::MOVED_PERMANENTLY, [(header::LOCATION, to)], "").into_response();
    }
    let symbol = configured;
    let inner = &state.0;
    let Ok(_permit) = inner.one_off.try_acquire() else {
        return busy(&ServeError::Busy);
    };
    match symbol_doc(inner, &published, symbol, name.as_deref()).await {
        Ok(doc) => respond(&headers, &doc).await,
        Err(e) => {
            error!(error = %e, symbol, "could not render a symbol page");
            unavailable()
        }
    }
}

async fn symbol_doc(
    inner: &Inner,
    published: &Published,
    symbol: &str,
    name: Option<&str>,
) -> Result<Rendered, ServeError> {
    let series = inner
        .store
        .symbol_history(symbol, None, CHART_POINTS)
        .await?;
    let items = inner.store.symbol_items(symbol, SYMBOL_ITEMS).await?;
    let now = inner.clock.now();
    let view = page_frame(inner, published, Vec::new(), now);
    let currency = view
        .board
        .as_ref()
        .and_then(|b| b.quotes.iter().find(|q| q.symbol == symbol))
        .and_then(|q| q.currency.clone());
    let body =
        render::html::render_symbol(&view, symbol, name, &series, &items, currency.as_deref())?;
    let updated = items.first().map(|i| i.first_seen).unwrap_or(now);
    // Its chart moves with every price recorded, not with the items.
    Ok(Rendered::new(Format::Html, body, SystemTime::from(updated)).undated())
}

/// The stylesheet (at its fingerprinted name, cached for a year), the
/// favicon and `robots.txt`; anything else at the top level is a 404.
pub(super) async fn asset(State(state): State<HttpState>, Path(name): Path<String>) -> Response {
    const YEAR: &str = "public, max-age=31536000, immutable";
    let published = state.published();
    let (content_type, cache, body): (&str, &str, Bytes) = match name.as_str() {
        n if n == render::html::STYLE_PATH.as_str() => (
            "text/css; charset=utf-8",
            YEAR,
            Bytes::from_static(render::html::STYLE.as_bytes()),
        ),
        "favicon.svg" => (
            "image/svg+xml",
            "public, max-age=86400",
            Bytes::from_static(render::html::ICON.as_bytes()),
        ),
        "robots.txt" => (
            "text/plain; charset=utf-8",
            "public, max-age=3600",
            Bytes::from_static(published.web.robots.text().as_bytes()),
        ),
        _ => return not_found_under(&published),
    };
    if !published.web.enabled && name != "robots.txt" {
        return not_found_under(&published);
    }
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, cache),
        ],
        body,
    )
        .into_response()
}

/// 404: a short page in the site's style for people, a line of text for
/// programs that ask for something else.
pub(super) async fn not_found(State(state): State<HttpState>) -> Response {
    not_found_under(&state.published())
}

/// The 404 page, its links under the public base's path (`/news/` behind
/// a proxy that serves the site there). Without the pages
/// (`[web] enabled = false`) a line of text naming the feeds: the page's
/// stylesheet and its link to the front page would be 404s themselves.
pub(super) fn not_found_under(published: &Published) -> Response {
    let base = published.base.path();
    if !published.web.enabled {
        return (
            StatusCode::NOT_FOUND,
            format!(
                "not found: this server publishes feeds, {base}feed.atom, {base}feed.rss and {base}feed.json (its views are listed in {base}views.opml)\n"
            ),
        )
            .into_response();
    }
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        render::html::not_found_page(base, &published.web.title, &published.views),
    )
        .into_response()
}

/// 400 for a query that does not read (`problem`, a sentence): the
/// site's 400 page for a page (`format` HTML, pages served), else the
/// sentence as a line of text, for a feed reader or a script.
pub(super) fn bad_request_under(published: &Published, format: Format, problem: &str) -> Response {
    if format != Format::Html || !published.web.enabled {
        return (StatusCode::BAD_REQUEST, format!("{problem}\n")).into_response();
    }
    (
        StatusCode::BAD_REQUEST,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        render::html::bad_request_page(
            published.base.path(),
            &published.web.title,
            &published.views,
            problem,
        ),
    )
        .into_response()
}

/// The Content-Security-Policy of every page: no script at all, styles
/// only from our stylesheet, images from us (and, with `[web]
/// remote_images`, from any https site), nothing framed, forms only to us.
fn content_security_policy(remote_images: bool) -> &'static str {
    if remote_images {
        "default-src 'none'; style-src 'self'; img-src 'self' https: data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    } else {
        "default-src 'none'; style-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    }
}

/// Security headers on every HTML answer (pages and the 404), and
/// `nosniff` on everything.
pub(super) async fn page_headers(
    State(state): State<HttpState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let mut response = next.run(request).await;
    let is_html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    let h = response.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if is_html {
        let remote = state.published().web.remote_images;
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(content_security_policy(remote)),
        );
        h.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("strict-origin-when-cross-origin"),
        );
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    response
}

/// `/search?q=`: the merged feed's items matching a full-text search, as a
/// page with the subscribe-to-this-search feeds.
pub(super) async fn search_page(
    state: State<HttpState>,
    params: Params,
    headers: HeaderMap,
) -> Response {
    page(state, params, headers, Channel::Main).await
}
