//! HTTP, over axum: the merged feed, per-tag and per-view feeds, the feed
//! and view lists as OPML, the board as JSON, health and metrics; the pages
//! people read are in `pages`, served through the same cache; the streamed
//! archive export (`/export.jsonl`, off by default) in `export`.
//!
//! Rendering happens once per archive change, not per request: documents
//! are cached with their validators and their gzip and brotli forms (each
//! made when a client first asks for it, once however many ask meanwhile,
//! on a blocking thread rather than a worker that serves connections; one
//! that panics is started again by a later request, at most three times a
//! render), keyed by the whole request (format, channel, search, page), and
//! re-rendered only when `Store::generation` has moved (pages that show
//! the live board also when the board refreshes). Requests that arrive
//! while a document is being rendered wait for that render instead
//! of starting their own. ETags derive from the bytes, so a re-render that
//! changes nothing still answers 304; the OPML lists, made per request
//! (`/feeds.opml`) or per config load (`/views.opml`), answer with the
//! same validators. One-off documents (a search, an
//! older page) are rendered a few at a time at most, so they cannot crowd
//! the feeds off the archive's read connection.
//!
//! `/websub/callback/{id}` is where WebSub hubs verify our subscriptions
//! (GET) and push new documents (POST); `websub::Subscriber` decides the
//! answers, this module only maps them to HTTP. A push is refused (410)
//! before its body is read unless its id names a live subscription, and
//! only `PUSH_BODIES_AT_ONCE` bodies are read at a time.
//!
//! [`serve`] drives hyper's HTTP/1.1 server itself rather than through
//! `axum::serve`, for what that does not set: a deadline for a request's
//! headers and a cap on open connections, so slow clients cannot hold the
//! daemon's file descriptors. The routes that read a body (the two WebSub
//! POSTs) give it `BODY_TIMEOUT` to arrive, through `read_body`.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use futures_util::FutureExt;
use futures_util::future::{BoxFuture, Shared};
use sha2::{Digest, Sha256};
use std::sync::OnceLock;
use tokio::net::TcpListener;
use tokio::sync::{OnceCell, Semaphore};
use tokio_util::sync::CancellationToken;
use tracing::{debug, error};
use url::Url;

mod export;
mod pages;

use crate::clock::SharedClock;
use crate::config::{Config, OutputConfig};
use crate::health::Health;
use crate::metrics::Metrics;
use crate::push::hub::Hub;
use crate::push::publish::{Document, Documents, link_header};
use crate::quotes::board::BoardSlot;
use crate::render::{self, Format};
use crate::scheduler::Heartbeat;
use crate::select::{Channel, Output};
use crate::store::{Cursor, RecentQuery, Store};
use crate::websub::{PushAnswer, Subscriber};
use pages::{
    asset, bad_request_under, feeds_page, item_page, not_found, not_found_under, page,
    page_headers, search_page, show_board, symbol_page,
};

/// Everything the handlers need.
#[derive(Clone)]
pub struct HttpState(Arc<Inner>);

struct Inner {
    metrics: Arc<Metrics>,
    /// The board now (a reload may add or remove `[market]`).
    board: BoardSlot,
    store: Store,
    /// Swapped whole on reload.
    published: RwLock<Arc<Published>>,
    health: Health,
    clock: SharedClock,
    /// Wall time at start, from the clock: dates documents while the
    /// archive is empty.
    started_at: DateTime<Utc>,
    /// When the running config began to be served (start, or the last
    /// reload): no document is older than that, since what a document
    /// says may have changed with it (a title, a filter).
    config_since: Mutex<SystemTime>,
    cache: Mutex<HashMap<DocKey, Arc<Slot>>>,
    /// Renders of one-off documents (`?q=`, `?before=`) in progress.
    one_off: Semaphore,
    /// The WebSub hub behind `POST /websub`, with `[websub] serve_hub`
    /// (a reload may turn it on or off, or change its settings).
    hub: RwLock<Option<Hub>>,
    /// The WebSub subscriber, when `[websub] callback_url` is set.
    subscriber: OnceLock<Subscriber>,
    /// Pushed bodies being read or ingested ([`PUSH_BODIES_AT_ONCE`]).
    pushes: Semaphore,
    /// `/export.jsonl` streams in progress (`export::EXPORTS`).
    exports: Arc<Semaphore>,
    /// `/feeds.opml` as last served, so the same list keeps its date.
    feeds_opml: Mutex<Option<Arc<Rendered>>>,
}

#[derive(Debug, thiserror::Error)]
enum ServeError {
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Render(#[from] render::RenderError),
    #[error("{ONE_OFF_RENDERS} searches or older pages are already being rendered")]
    Busy,
    #[error("the config no longer serves this feed")]
    Gone,
}

/// A merged document's cache key: the whole request.
type DocKey = DocRequest;

/// Which document a request asks for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct DocRequest {
    format: Format,
    /// The main feed, a tag's or a view's.
    channel: Channel,
    /// `?q=`: a full-text search served as a feed.
    search: Option<String>,
    /// `?before=`: an older page (RFC 5005).
    before: Option<Cursor>,
}

impl DocRequest {
    /// A search or an older page: asked for by one reader, or by a script,
    /// rather than polled by every subscriber like the feeds themselves.
    fn is_one_off(&self) -> bool {
        self.search.is_some() || self.before.is_some()
    }
}

/// The longest search text (`?q=`) served: far past any real search.
const MAX_SEARCH_CHARS: usize = 500;

/// Query parameters of the feed endpoints and the pages.
#[derive(Debug, Default)]
struct FeedParams {
    q: Option<String>,
    before: Option<String>,
}

impl FeedParams {
    /// Reads a request's query; other parameters are left alone. A
    /// parameter given twice (`?q=a&q=b`, a form sent with a link's query
    /// kept) is refused rather than one of them taken: which search or
    /// page was meant is not known, and a wrong guess would answer it.
    fn read(query: Option<&str>) -> Result<FeedParams, String> {
        let mut params = FeedParams::default();
        for (name, value) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            let slot = match name.as_ref() {
                "q" => &mut params.q,
                "before" => &mut params.before,
                _ => continue,
            };
            if slot.replace(value.into_owned()).is_some() {
                return Err(format!(
                    "The address gives ?{name}= more than once: give it once."
                ));
            }
        }
        Ok(params)
    }
}

/// The query of a feed or a page as [`FeedParams::read`] reads it, or
/// why it does not read, which [`feed`] answers in the requested format
/// (axum's `Query` would answer its own raw text, "Failed to deserialize
/// query string").
struct Params(Result<FeedParams, String>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Params {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(Params(FeedParams::read(parts.uri.query())))
    }
}

/// Documents kept at most; beyond it the cache drops its one-off
/// documents (searches, older pages), and starts over only if that is not
/// enough: arbitrary `?q=` and `?before=` values must not grow memory
/// without bound, nor push the feeds every reader polls out of the cache.
const CACHE_CAP: usize = 512;

/// One-off documents (a search, an older page) rendered at the same time,
/// at most. Each is a query on the archive's single read connection (a
/// search over 100,000 items takes about 14 ms of it), which the feeds
/// every reader polls share. Past this many, a one-off request is turned
/// away with 503 and `Retry-After` instead of queueing, so a script firing
/// hundreds of distinct searches cannot make subscribers wait behind it.
/// Documents already rendered for the current archive are served from the
/// cache regardless.
const ONE_OFF_RENDERS: usize = 2;

/// A cached document for one store generation. The cell is filled by
/// the first request that needs it; requests arriving meanwhile wait on
/// the same render. Without this, every open connection asking for a
/// document just after the archive changed rendered it again (32 renders
/// of a 100-entry feed per change under `wrk -c32`, serialised on the one
/// reader connection: a stall of a quarter of a second).
struct Slot {
    stamp: Stamp,
    /// The ETag and date of the document this one replaces, if it was
    /// rendered: its date holds the new one's back from going backwards.
    previous: Option<(String, SystemTime)>,
    doc: OnceCell<Arc<Rendered>>,
}

/// What a cached document was rendered from: the archive's generation, and
/// for pages (which show the live board, and say "5 minutes ago") the
/// board's last refresh and the minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    generation: u64,
    board: Option<DateTime<Utc>>,
    minute: Option<i64>,
}

impl Stamp {
    fn now(inner: &Inner, format: Format) -> Stamp {
        let (board, minute) = match format {
            Format::Html => (
                inner.board.get().and_then(|b| b.last_refresh()),
                Some(inner.clock.now().timestamp().div_euclid(60)),
            ),
            _ => (None, None),
        };
        Stamp {
            generation: inner.store.generation(),
            board,
            minute,
        }
    }

    /// A document rendered at `self` serves a request made at `wanted`. A
    /// newer generation than our reading is fine too. A page is rendered
    /// again at most once a minute for its ages; while they read the same,
    /// its bytes and ETag do too, so readers still get 304.
    fn covers(&self, wanted: &Stamp) -> bool {
        self.generation >= wanted.generation
            && self.board == wanted.board
            && self.minute == wanted.minute
    }
}

/// Brotli's quality for served renders. Each render is compressed at most
/// once, so a slower level than a proxy's per-request one pays. On a 100-item
/// Atom feed of prose (229 KB; optimised build, loaded 2-core machine):
/// gzip 66 KB in 4-7 ms, brotli 4 64 KB in 5-9 ms, 5 61 KB in 10-15 ms,
/// 6 60 KB in 13-17 ms, 9 60 KB in 50-80 ms. Feeds of markup and
/// repeated phrases gain more over gzip than prose does.
const BROTLI_QUALITY: u32 = 5;

/// A compressed form of a render, in the making or made. Shared, so that
/// every request for the form awaits the one compression, and one that
/// goes away meanwhile (its client hung up) leaves it running for the
/// others and for the next, which would otherwise compress again. `None`
/// if the compression could not finish (it panicked, or the runtime is
/// shutting down): the plain bytes are served instead to the requests
/// that awaited it, and a later request starts another ([`Form`]).
type Compression = Shared<BoxFuture<'static, Option<Bytes>>>;

/// Compressions of one form of one render started at most: the first and
/// two more after failures. A failed one is not kept, so a later request
/// tries again: a cause that passes (the blocking task cancelled) costs a
/// request or two served plain, not every request until the archive
/// changes. A compressor that panics on these bytes every time would
/// otherwise run on every request (10-15 ms of brotli on a large feed,
/// and an error logged) for as long as the render is served; counted per
/// render, it runs three times, and the next render (other bytes) starts
/// afresh. A backoff from the `Clock` would still retry a long-lived
/// render without end, for nothing: a panic that repeats on the same
/// bytes is a bug to fix, not something to wait out.
const COMPRESSION_ATTEMPTS: u32 = 3;

/// One compressed form of a render: its latest compression and how many
/// were started ([`COMPRESSION_ATTEMPTS`]).
#[derive(Debug, Default)]
struct Form {
    attempt: Option<Compression>,
    started: u32,
}

/// One rendered document and its validators.
#[derive(Debug)]
struct Rendered {
    /// Its `Content-Type`.
    content_type: &'static str,
    /// `Bytes`, so answering a request clones a pointer, not the document.
    body: Bytes,
    /// Started when a client first asks for it ([`Rendered::encoded`]): a
    /// search or an older page is often read once, by one client, which
    /// wants one coding, and brotli costs twice what gzip does. Only
    /// starting or looking up a compression happens under the lock, so a
    /// request that finds it held waits a few microseconds at most.
    gzip: Mutex<Form>,
    /// Brotli, at [`BROTLI_QUALITY`], made as `gzip` is.
    br: Mutex<Form>,
    /// Compressions started, whatever their coding: what the tests count.
    #[cfg(test)]
    compressions: Arc<std::sync::atomic::AtomicUsize>,
    /// How many of the next compressions panic: the tests' fault switch.
    #[cfg(test)]
    panics: Arc<std::sync::atomic::AtomicUsize>,
    /// Strong validator of the identity bytes, quoted.
    etag: String,
    last_modified: SystemTime,
    /// Whether `last_modified` is sent. A page that shows what changes
    /// apart from its entries (the live board, an item's sources and
    /// fetched article) has no date that moves with its bytes: it is
    /// revalidated by its ETag alone.
    dated: bool,
    /// WebSub discovery (§4): `Link: <hub>; rel="hub", <self>; rel="self"`
    /// for a topic's document when a hub is configured.
    link: Option<HeaderValue>,
}

impl Rendered {
    /// `body` with a strong ETag of its bytes; its compressed forms are
    /// made on demand, each once per render, not per request.
    fn new(format: Format, body: Vec<u8>, last_modified: SystemTime) -> Rendered {
        Rendered::typed(format.content_type(), body, last_modified)
    }

    /// [`Rendered::new`] for a document that is no feed or page (an OPML
    /// list), served as `content_type`.
    fn typed(content_type: &'static str, body: Vec<u8>, last_modified: SystemTime) -> Rendered {
        let digest = Sha256::digest(&body);
        Rendered {
            content_type,
            etag: format!("\"{}\"", hex::encode(&digest[..12])),
            body: Bytes::from(body),
            gzip: Mutex::default(),
            br: Mutex::default(),
            #[cfg(test)]
            compressions: Default::default(),
            #[cfg(test)]
            panics: Default::default(),
            last_modified,
            dated: true,
            link: None,
        }
    }

    /// The document's bytes in `coding`, compressed the first time they
    /// are asked for. The compression runs on tokio's blocking threads:
    /// a large feed takes brotli 10-15 ms, which on an async worker would
    /// stall every other connection that worker serves. Requests asking
    /// meanwhile wait for it without holding a worker either. `None` when
    /// the compression awaited failed, or failed [`COMPRESSION_ATTEMPTS`]
    /// times: the caller serves the plain bytes. A request that finds the
    /// last compression failed starts another, if any is left; none waits
    /// on one that has already failed.
    async fn encoded(&self, coding: Coding) -> Option<Bytes> {
        let Some(form) = self.form(coding) else {
            return Some(self.body.clone());
        };
        let compression = {
            // Nothing panics while the lock is held; a poisoned one would
            // still hold a consistent `Form`.
            let mut form = form.lock().unwrap_or_else(PoisonError::into_inner);
            match &form.attempt {
                // Made, or in the making: shared.
                Some(attempt) if !matches!(attempt.peek(), Some(None)) => attempt.clone(),
                Some(_) if form.started >= COMPRESSION_ATTEMPTS => return None,
                _ => {
                    form.started += 1;
                    let attempt = self.compress(coding, form.started);
                    form.attempt = Some(attempt.clone());
                    attempt
                }
            }
        };
        compression.await
    }

    /// Starts compressing the body in `coding` on a blocking thread, the
    /// `started`-th time for this form.
    fn compress(&self, coding: Coding, started: u32) -> Compression {
        let body = self.body.clone();
        #[cfg(test)]
        let (compressions, panics) = (Arc::clone(&self.compressions), Arc::clone(&self.panics));
        let job = tokio::task::spawn_blocking(move || {
            #[cfg(test)]
            {
                use std::sync::atomic::Ordering::SeqCst;
                compressions.fetch_add(1, SeqCst);
                if panics
                    .fetch_update(SeqCst, SeqCst, |n| n.checked_sub(1))
                    .is_ok()
                {
                    panic!("a compression the test makes panic");
                }
            }
            coding.compress(&body)
        });
        async move {
            job.await
                .inspect_err(|e| {
                    let left = COMPRESSION_ATTEMPTS - started;
                    error!(error = %e, ?coding, attempts_left = left, "could not compress a render")
                })
                .ok()
        }
        .boxed()
        .shared()
    }

    /// The document's bytes in `coding` if they are at hand: the plain
    /// ones, or a compressed form already made. Starts no compression.
    fn made(&self, coding: Coding) -> Option<Bytes> {
        match self.form(coding) {
            None => Some(self.body.clone()),
            Some(form) => form
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .attempt
                .as_ref()?
                .peek()?
                .clone(),
        }
    }

    /// Where the form in `coding` is kept; `None` for the plain bytes.
    fn form(&self, coding: Coding) -> Option<&Mutex<Form>> {
        match coding {
            Coding::Identity => None,
            Coding::Gzip => Some(&self.gzip),
            Coding::Br => Some(&self.br),
        }
    }

    /// This document without a `Last-Modified` (see `dated`).
    fn undated(self) -> Rendered {
        Rendered {
            dated: false,
            ..self
        }
    }
}

/// What the config says about the served documents.
#[derive(Debug, Clone)]
pub struct Published {
    pub output: OutputConfig,
    /// Public base URL, for self links.
    pub base: Url,
    /// What each served channel shows: the main feed, `/tags/<tag>.*`,
    /// `/views/<name>.*`.
    pub outputs: HashMap<Channel, Output>,
    /// The views as an OPML list of outputs, for `/views.opml`.
    pub views_opml: String,
    /// `[web]`: the pages.
    pub web: crate::config::WebConfig,
    /// Each view's name and title, in config order: the pages' navigation.
    pub views: Vec<(String, String)>,
    /// The configured feeds, for the operator's page (next due).
    pub feeds: Vec<crate::config::FeedConfig>,
    /// `[market]` symbols and their display names, for symbol pages.
    pub symbols: Vec<(String, Option<String>)>,
    /// `[[alerts]]`: each name and what it watches, for the operator's page.
    pub alerts: Vec<(String, String)>,
    /// The WebSub hub the feeds advertise (`[websub]`), if any.
    pub hub: Option<Url>,
}

impl Published {
    /// `bound` is the address actually listened on; `now` dates the views'
    /// OPML document (the time of this load or reload).
    pub fn from_config(
        config: &Config,
        bound: Option<std::net::SocketAddr>,
        now: chrono::DateTime<Utc>,
    ) -> Self {
        let base = config.public_base(bound);
        Published {
            output: config.output.clone(),
            outputs: config
                .channels()
                .into_iter()
                .filter_map(|c| config.output(&c).map(|o| (c, o)))
                .collect(),
            views_opml: crate::opml::export_views(&config.output.title, &config.views, &base, now),
            web: config.web.clone(),
            views: config
                .views
                .iter()
                .map(|v| (v.name.clone(), v.title.clone()))
                .collect(),
            feeds: config.feeds.clone(),
            alerts: config
                .alerts
                .iter()
                .map(|a| (a.name.clone(), a.watches.in_words()))
                .collect(),
            symbols: config
                .market
                .iter()
                .flat_map(|m| &m.instruments)
                .map(|i| (i.symbol.clone(), i.name.clone()))
                .collect(),
            hub: config.hub_url(bound),
            base,
        }
    }

    /// The URL of `channel`'s feed in `format`: a WebSub topic.
    fn topic_url(&self, channel: &Channel, format: Format) -> Option<String> {
        self.base
            .join(&render::path_of(channel, format))
            .ok()
            .map(|u| u.to_string())
    }

    /// Every WebSub topic: each served channel's feed in each format.
    pub fn topics(&self) -> Vec<String> {
        let mut topics: Vec<String> = self
            .outputs
            .keys()
            .flat_map(|c| Format::FEEDS.iter().filter_map(|f| self.topic_url(c, *f)))
            .collect();
        topics.sort();
        topics
    }

    /// The channel and format `topic` (a URL) serves, if it is one of ours.
    pub fn topic(&self, topic: &str) -> Option<(Channel, Format)> {
        let wanted = Url::parse(topic).ok()?.to_string();
        self.outputs.keys().find_map(|c| {
            Format::FEEDS
                .iter()
                .find(|f| self.topic_url(c, **f).as_deref() == Some(wanted.as_str()))
                .map(|f| (c.clone(), *f))
        })
    }
}

impl HttpState {
    pub fn new(
        metrics: Arc<Metrics>,
        board: BoardSlot,
        store: Store,
        published: Published,
        heartbeat: Arc<Heartbeat>,
        clock: SharedClock,
    ) -> Self {
        let health = Health::new(store.clone(), heartbeat, board.clone(), Arc::clone(&clock));
        HttpState(Arc::new(Inner {
            metrics,
            board,
            store,
            published: RwLock::new(Arc::new(published)),
            health,
            started_at: clock.now(),
            config_since: Mutex::new(SystemTime::from(clock.now())),
            clock,
            cache: Mutex::new(HashMap::new()),
            one_off: Semaphore::new(ONE_OFF_RENDERS),
            hub: RwLock::new(None),
            subscriber: OnceLock::new(),
            pushes: Semaphore::new(PUSH_BODIES_AT_ONCE),
            exports: Arc::new(Semaphore::new(export::EXPORTS)),
            feeds_opml: Mutex::default(),
        }))
    }

    /// Makes `POST /websub` answer for `hub` (`[websub] serve_hub`), or,
    /// with `None`, say this is no hub. The hub put aside is dropped, so
    /// its verifier's queue closes.
    pub fn set_hub(&self, hub: Option<Hub>) {
        *self.0.hub.write().unwrap_or_else(|p| p.into_inner()) = hub;
    }

    /// The hub behind `POST /websub`, if it serves one now.
    fn hub(&self) -> Option<Hub> {
        self.0.hub.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Answers WebSub hubs on `/websub/callback/{id}` with `subscriber`
    /// (without one, those requests get 404).
    pub fn answer_hubs(&self, subscriber: Subscriber) {
        let _ = self.0.subscriber.set(subscriber);
    }

    /// Applies a reloaded config: new titles, tags, views and limits show at
    /// once.
    pub fn update(&self, published: Published) {
        *self.0.published.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(published);
        *lock(&self.0.config_since) = SystemTime::from(self.0.clock.now());
        lock(&self.0.cache).clear();
    }

    /// The health `/healthz` reports, for systemd supervision to report
    /// the same.
    pub fn health(&self) -> Health {
        self.0.health.clone()
    }

    fn published(&self) -> Arc<Published> {
        Arc::clone(&self.0.published.read().unwrap_or_else(|p| p.into_inner()))
    }
}

pub fn router(state: HttpState) -> Router {
    Router::new()
        .route(
            "/",
            get(|s: State<HttpState>, p: Params, h: HeaderMap| page(s, p, h, Channel::Main)),
        )
        .route("/{asset}", get(asset))
        .route("/search", get(search_page))
        .route("/items/{uid}", get(item_page))
        .route("/feeds", get(feeds_page))
        .route("/symbols/{symbol}", get(symbol_page))
        .route(
            "/feed.atom",
            get(|s: State<HttpState>, p: Params, h: HeaderMap| {
                feed(s, p, h, Format::Atom, Channel::Main)
            }),
        )
        .route(
            "/feed.rss",
            get(|s: State<HttpState>, p: Params, h: HeaderMap| {
                feed(s, p, h, Format::Rss, Channel::Main)
            }),
        )
        .route(
            "/feed.json",
            get(|s: State<HttpState>, p: Params, h: HeaderMap| {
                feed(s, p, h, Format::Json, Channel::Main)
            }),
        )
        .route("/tags/{file}", get(tag_feed))
        .route("/views/{file}", get(view_feed))
        .route("/views.opml", get(views_opml))
        .route("/healthz", get(healthz))
        .route("/quotes.json", get(quotes))
        .route("/export.jsonl", get(export::export_jsonl))
        .route("/feeds.opml", get(feeds_opml))
        .route("/metrics", get(metrics))
        .route("/websub", post(websub))
        .route(
            "/websub/callback/{id}",
            get(websub_verify).post(websub_push),
        )
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            count_requests,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            page_headers,
        ))
        .with_state(state)
}

/// A hub verifying (or denying) a subscription: the challenge echoed
/// with 200, or 404 when it does not match a subscription we asked for.
async fn websub_verify(
    State(state): State<HttpState>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let Some(subscriber) = state.0.subscriber.get() else {
        return not_found_text("no WebSub subscriptions here\n");
    };
    match subscriber.verify(&id, &query).await {
        Ok(challenge) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            challenge,
        )
            .into_response(),
        Err(crate::websub::VerifyError::Store(e)) => {
            error!(error = %e, "could not answer a WebSub verification");
            unavailable()
        }
        Err(e) => {
            // A made-up id is up to 64 KB of path: only ours are named.
            let callback_id = if crate::websub::is_callback_id(&id) {
                id.as_str()
            } else {
                "(not one we hand out)"
            };
            debug!(callback_id, error = %e, "WebSub verification refused");
            not_found_text("no such subscription\n")
        }
    }
}

/// Bodies pushed to our callbacks read (and ingested) at a time; more
/// wait for a turn, within [`BODY_TIMEOUT`], then get 503 (hubs retry).
/// Each may be `[fetch] max_body_bytes` (a push is the feed a poll would
/// fetch, 16 MiB by default), so this bounds what pushes hold to 64 MiB
/// at the default, where [`MAX_CONNECTIONS`] of them held 8 GiB. Only the
/// hub a callback id was given to knows it, but any feed may name a hub.
/// Half what `[fetch] concurrency` lets polls hold by default; a push is
/// ingested in milliseconds, so a burst from a busy hub waits its turn
/// briefly rather than being turned away.
const PUSH_BODIES_AT_ONCE: usize = 4;

/// A hub pushing a document: 200 once ingested (and, so a forger learns
/// nothing, for a bad signature too, whose content is ignored); 410, at
/// once and before the body is read, for no live subscription; 413 past
/// `[fetch] max_body_bytes`; 408 for a body not in within
/// [`BODY_TIMEOUT`]; 503 when the archive could not record it or other
/// pushes held every turn until then (the hub retries).
async fn websub_push(
    State(state): State<HttpState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let deadline = tokio::time::Instant::now() + BODY_TIMEOUT;
    let Some(subscriber) = state.0.subscriber.get() else {
        return not_found_text("no WebSub subscriptions here\n");
    };
    // Before a byte of the body: anyone may POST to a made-up id.
    let callback = match subscriber.callback(&id).await {
        Ok(callback) => callback,
        Err(answer) => return push_answer(answer),
    };
    let Ok(Ok(_turn)) = tokio::time::timeout_at(deadline, state.0.pushes.acquire()).await else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, HeaderValue::from_static("10"))],
            "other pushes are being read; try again shortly\n",
        )
            .into_response();
    };
    let body = match read_body(body, subscriber.max_body(), deadline).await {
        Ok(body) => body,
        Err(refused) => return refused,
    };
    let text = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .map(str::to_string)
    };
    let signature = text("x-hub-signature");
    let content_type = text("content-type");
    push_answer(
        subscriber
            .receive(callback, signature.as_deref(), content_type, body.to_vec())
            .await,
    )
}

/// The HTTP answer to a push.
fn push_answer(answer: PushAnswer) -> Response {
    match answer {
        PushAnswer::Ingested | PushAnswer::Ignored => StatusCode::OK.into_response(),
        PushAnswer::Unknown => (StatusCode::GONE, "no such subscription\n").into_response(),
        PushAnswer::Failed => unavailable(),
    }
}

/// How long a request's body has, from when its handler starts, to
/// arrive whole. Hyper's [`HEADER_TIMEOUT`] ends with the headers; without
/// this, a client that announces a large body and stalls holds its
/// connection, and what it sent, for ever, and [`MAX_CONNECTIONS`] of
/// them stop the daemon answering anyone. Thirty seconds carries a 16 MiB
/// push at 4.5 Mbit/s; hubs push from servers.
const BODY_TIMEOUT: Duration = Duration::from_secs(30);

/// A request's whole body, if it is at most `limit` bytes and in by
/// `deadline`; otherwise the answer to send: 413, at once when the
/// announced length is already past `limit`, or 408. Hyper closes the
/// connection after either, the rest of the body unread.
async fn read_body(
    body: Body,
    limit: usize,
    deadline: tokio::time::Instant,
) -> Result<Bytes, Response> {
    use axum::body::HttpBody;
    let too_large = || {
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is larger than this daemon accepts here ({limit} bytes)\n"),
        )
            .into_response()
    };
    if body.size_hint().lower() > limit as u64 {
        return Err(too_large());
    }
    match tokio::time::timeout_at(deadline, axum::body::to_bytes(body, limit)).await {
        Ok(Ok(bytes)) => Ok(bytes),
        // Past the limit, or a body that broke off (whose client is gone).
        Ok(Err(_)) => Err(too_large()),
        Err(_) => Err((
            StatusCode::REQUEST_TIMEOUT,
            format!(
                "the body did not arrive within {} seconds\n",
                BODY_TIMEOUT.as_secs()
            ),
        )
            .into_response()),
    }
}

fn not_found_text(body: &'static str) -> Response {
    (StatusCode::NOT_FOUND, body).into_response()
}

/// 503 with `Retry-After` for a one-off render turned away.
fn busy(e: &ServeError) -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::RETRY_AFTER, HeaderValue::from_static("1"))],
        format!("{e}; try again in a second\n"),
    )
        .into_response()
}

/// 503 when the archive does not answer.
fn unavailable() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        "the archive is not answering; try again shortly\n",
    )
        .into_response()
}

/// Connections served at once. A slot is held from accept to close; at
/// the cap, new connections wait in the kernel's queue. Under systemd's
/// default of 1,024 open files, this leaves the rest for the archive,
/// feed fetches and alerts.
const MAX_CONNECTIONS: usize = 512;

/// How long a client may take to send a request's headers. A client that
/// opens connections and drips bytes (slowloris) would otherwise hold each
/// one, and its file descriptor, for ever.
const HEADER_TIMEOUT: Duration = Duration::from_secs(30);

/// Serves until `shutdown` is cancelled, then drains open requests: each
/// connection finishes the request it is on and closes.
pub async fn serve(
    listener: TcpListener,
    state: HttpState,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};

    let app = router(state);
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    // Each connection holds a receiver; all dropped means all closed.
    let (open_tx, open_rx) = tokio::sync::watch::channel(());
    loop {
        let slot = tokio::select! {
            _ = shutdown.cancelled() => break,
            slot = Arc::clone(&slots).acquire_owned() => slot.expect("never closed"),
        };
        let stream = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors, or a connection reset before
                    // it was taken: wait a moment instead of spinning.
                    tracing::warn!(error = %e, "could not accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        let (shutdown, open) = (shutdown.clone(), open_rx.clone());
        tokio::spawn(async move {
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service);
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = shutdown.cancelled() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
            drop((slot, open));
        });
    }
    drop(open_rx);
    open_tx.closed().await;
    Ok(())
}

/// `/tags/<tag>.atom|.rss|.json`, or the tag's page at `/tags/<tag>`.
async fn tag_feed(
    state: State<HttpState>,
    Path(file): Path<String>,
    params: Params,
    headers: HeaderMap,
) -> Response {
    serve_named(state, &file, params, headers, Channel::Tag).await
}

/// `/views/<name>.atom|.rss|.json`, or the view's page at `/views/<name>`.
async fn view_feed(
    state: State<HttpState>,
    Path(file): Path<String>,
    params: Params,
    headers: HeaderMap,
) -> Response {
    serve_named(state, &file, params, headers, Channel::View).await
}

/// A tag's or view's feed (`name.ext`) or page (`name`): 404 naming where
/// the known ones are listed when the config serves no such channel.
async fn serve_named(
    state: State<HttpState>,
    file: &str,
    params: Params,
    headers: HeaderMap,
    channel_of: fn(String) -> Channel,
) -> Response {
    let published = state.0.published();
    let served = |name: &str| {
        published
            .outputs
            .contains_key(&channel_of(name.to_string()))
    };
    // A tag may end in `.json` itself (`uk.json`): its page is the whole
    // name when no tag `uk` takes the extension.
    let (name, format) = match split_file(file) {
        Some((name, format)) if served(name) || !served(file) => (name, format),
        _ => (file, Format::Html),
    };
    let channel = channel_of(name.to_string());
    if !served(name) {
        // A person at a page gets the site's 404 page; a reader asking for
        // a feed, where the known ones are listed.
        if format == Format::Html {
            return not_found_under(&published);
        }
        let body = match &channel {
            Channel::View(_) => "no such view: the views are listed at /views.opml\n".to_string(),
            _ => format!("no feed has the tag {name:?}: the tags are listed in /feeds.opml\n"),
        };
        return (StatusCode::NOT_FOUND, body).into_response();
    }
    if let Channel::View(name) = &channel {
        state.0.0.metrics.view_request(name);
    }
    match format {
        Format::Html => page(state, params, headers, channel).await,
        _ => feed(state, params, headers, format, channel).await,
    }
}

/// `name.ext` with a feed format's extension.
fn split_file(file: &str) -> Option<(&str, Format)> {
    file.rsplit_once('.')
        .and_then(|(name, ext)| Format::from_extension(ext).map(|f| (name, f)))
}

/// The `Content-Type` of the OPML lists.
const OPML_TYPE: &str = "text/x-opml; charset=utf-8";

/// The views as OPML, made at the config's load (and reload), so dated
/// by it.
async fn views_opml(State(state): State<HttpState>, headers: HeaderMap) -> Response {
    let since = *lock(&state.0.config_since);
    let body = state.published().views_opml.clone().into_bytes();
    respond(&headers, &Rendered::typed(OPML_TYPE, body, since)).await
}

async fn feed(
    State(state): State<HttpState>,
    Params(params): Params,
    headers: HeaderMap,
    format: Format,
    channel: Channel,
) -> Response {
    let bad_request = |problem: &str| bad_request_under(&state.published(), format, problem);
    let params = match params {
        Ok(params) => params,
        Err(problem) => return bad_request(&problem),
    };
    let before = match params.before.as_deref().map(Cursor::decode) {
        None => None,
        Some(Some(c)) => Some(c),
        Some(None) => {
            return bad_request(
                "The address's ?before= is not one tickerfeed wrote: follow the \"Older news\" link (in a feed, its rel=\"next\" link).",
            );
        }
    };
    let search = params.q.filter(|q| !q.trim().is_empty());
    // The text is repeated in the document (title, links, search box) and
    // every distinct one is cached: a long one is refused, not stored.
    if search
        .as_ref()
        .is_some_and(|q| q.chars().count() > MAX_SEARCH_CHARS)
    {
        return bad_request(&format!(
            "The search (?q=) is longer than {MAX_SEARCH_CHARS} characters: shorten it."
        ));
    }
    let request = DocRequest {
        format,
        channel,
        search,
        before,
    };
    let doc = match rendered(&state.0, request).await {
        Ok(doc) => doc,
        Err(ServeError::Gone) => {
            return (StatusCode::NOT_FOUND, "not found\n").into_response();
        }
        Err(e @ ServeError::Busy) => return busy(&e),
        Err(e) => {
            error!(error = %e, "could not render the merged feed");
            return unavailable();
        }
    };
    respond(&headers, &doc).await
}

/// A rendered document as the answer to a request with `headers`: 304
/// when the client's validators match, brotli or gzip as it prefers
/// ([`Coding::asked`]), and the cache headers every document carries.
async fn respond(headers: &HeaderMap, doc: &Rendered) -> Response {
    let mut coding = Coding::asked(headers);
    // A form's ETag is the plain one's with a suffix, known before the
    // form is made: a 304, which carries no body, makes none.
    let mut etag = coding.etag(&doc.etag);
    let mut resp = if not_modified(headers, doc, &etag) {
        not_modified_response(doc.made(coding).map(|bytes| bytes.len()))
    } else {
        let bytes = match doc.encoded(coding).await {
            Some(bytes) => bytes,
            None => {
                coding = Coding::Identity;
                etag = coding.etag(&doc.etag);
                doc.body.clone()
            }
        };
        let mut r = Response::new(Body::from(bytes));
        if let Some(name) = coding.name() {
            r.headers_mut()
                .insert(header::CONTENT_ENCODING, HeaderValue::from_static(name));
        }
        r
    };
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(doc.content_type),
    );
    h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    if let Some(link) = &doc.link {
        h.insert(header::LINK, link.clone());
    }
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=60"),
    );
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    if let Some(v) = doc
        .dated
        .then(|| HeaderValue::from_str(&httpdate::fmt_http_date(doc.last_modified)).ok())
        .flatten()
    {
        h.insert(header::LAST_MODIFIED, v);
    }
    resp
}

/// A 304, with the length the 200 would have if it is known: a 304 may
/// carry only that one (RFC 9110 §8.6), or none. With none, its body is
/// one of unknown length, since axum gives an empty body's response
/// `Content-Length: 0`, which hyper passes on to a HEAD.
fn not_modified_response(length: Option<usize>) -> Response {
    match length {
        Some(length) => {
            let mut r = StatusCode::NOT_MODIFIED.into_response();
            r.headers_mut()
                .insert(header::CONTENT_LENGTH, HeaderValue::from(length));
            r
        }
        None => {
            let unknown = futures_util::stream::empty::<Result<Bytes, std::convert::Infallible>>();
            let mut r = Response::new(Body::from_stream(unknown));
            *r.status_mut() = StatusCode::NOT_MODIFIED;
            r
        }
    }
}

/// The cached document, re-rendered if the archive changed since; at most
/// one render per document and generation at a time.
async fn rendered(inner: &Inner, key: DocKey) -> Result<Arc<Rendered>, ServeError> {
    let stamp = Stamp::now(inner, key.format);
    let slot = {
        let mut cache = lock(&inner.cache);
        match cache.get(&key) {
            Some(slot) if slot.stamp.covers(&stamp) => Arc::clone(slot),
            stale => {
                // A slot replaced before it rendered hands on what it had.
                let previous = stale.and_then(|slot| match slot.doc.get() {
                    Some(doc) => Some((doc.etag.clone(), doc.last_modified)),
                    None => slot.previous.clone(),
                });
                if cache.len() >= CACHE_CAP {
                    cache.retain(|k, _| !k.is_one_off());
                }
                if cache.len() >= CACHE_CAP {
                    cache.clear();
                }
                let slot = Arc::new(Slot {
                    stamp,
                    previous,
                    doc: OnceCell::new(),
                });
                cache.insert(key.clone(), Arc::clone(&slot));
                slot
            }
        }
    };
    // If the render fails, or the request doing it goes away, the cell
    // stays empty and the next request in line renders.
    let one_off = key.is_one_off();
    slot.doc
        .get_or_try_init(|| async {
            let _permit = if one_off {
                Some(inner.one_off.try_acquire().map_err(|_| ServeError::Busy)?)
            } else {
                None
            };
            let mut doc = render_doc(inner, key).await?;
            date_replacement(inner, slot.previous.as_ref(), &mut doc);
            Ok(Arc::new(doc))
        })
        .await
        .map(Arc::clone)
}

/// Dates `doc`, which replaces `previous` (that document's ETag and
/// date, if one was served). Bytes that changed while no entry did (a
/// source renamed, an item pruned, a feed's title in `/feeds.opml`) must
/// not keep the last copy's date: a reader revalidating by date alone
/// would get 304 and keep it. The same bytes keep the date they were
/// given.
fn date_replacement(inner: &Inner, previous: Option<&(String, SystemTime)>, doc: &mut Rendered) {
    match previous {
        Some((etag, last_modified)) if *etag == doc.etag => {
            doc.last_modified = doc.last_modified.max(*last_modified);
        }
        Some((_, last_modified)) if doc.last_modified <= *last_modified => {
            let later = *last_modified + std::time::Duration::from_secs(1);
            doc.last_modified = later.max(SystemTime::from(inner.clock.now()));
        }
        Some(_) => {}
        // The first copy since the start or a reload: what it was
        // before is not known, and the config may have changed its
        // bytes (a title, a filter) while no entry did.
        None => {
            doc.last_modified = doc.last_modified.max(*lock(&inner.config_since));
        }
    }
}

async fn render_doc(inner: &Inner, key: DocKey) -> Result<Rendered, ServeError> {
    let published = Arc::clone(&inner.published.read().unwrap_or_else(|p| p.into_inner()));
    let DocRequest {
        format,
        channel,
        search,
        before,
    } = key.clone();
    // Handlers only ask for channels the config serves; a reload between
    // the check and here is answered like an unknown channel.
    let output = published.outputs.get(&channel).ok_or(ServeError::Gone)?;
    let page = inner
        .store
        .page(RecentQuery {
            limit: output.max_items,
            selection: output.selection.clone(),
            before: before.clone(),
            search: search.clone(),
            uid: None,
        })
        .await?;
    // Only a document without entries needs another date, and finding the
    // archive's last change reads every item, so it is asked only then.
    let updated_if_empty = if page.entries.is_empty() {
        inner.store.last_change().await?.unwrap_or(inner.started_at)
    } else {
        inner.started_at
    };
    let mut view = render::merged_feed(
        &output.title,
        &published.output.description,
        &published.base,
        format,
        &channel,
        page.entries,
        updated_if_empty,
    );
    view.market_strip = published.output.market_strip;
    view.site_title = published.web.title.clone();
    view.site_views = published.views.clone();
    if !published.web.enabled {
        // No page shows the channel: a reader's "open website" would land
        // on a 404 (RSS's required link becomes the feed itself), and an
        // entry without a link of its own has none.
        view.without_pages();
    }
    if format == Format::Html {
        if let Some(q) = &search {
            let uids = view.entries.iter().map(|e| e.uid().to_string()).collect();
            view.snippets = inner.store.snippets(q, uids).await?;
        }
        let now = inner.clock.now();
        view.now = now;
        show_board(&mut view, inner, now);
    }
    view.query = search.clone();
    if let Some(q) = &search {
        view.title = format!("{}: search \u{201c}{q}\u{201d}", view.title);
        // A search is a feed of its own: a reader subscribed to it and to
        // the channel must not take them for one.
        let encoded: String = url::form_urlencoded::byte_serialize(q.as_bytes()).collect();
        view.id = format!("{}?q={encoded}", view.id);
        // Subscribe to this search: each feed format with the same `?q=`.
        for (_, url) in &mut view.feed_urls {
            if let Ok(mut u) = Url::parse(url) {
                u.query_pairs_mut().append_pair("q", q);
                *url = u.to_string();
            }
        }
    }
    let link = |before: Option<&Cursor>| {
        let mut url = published
            .base
            .join(&render::path_of(&channel, format))
            .ok()?;
        {
            let mut pairs = url.query_pairs_mut();
            if let Some(q) = &search {
                pairs.append_pair("q", q);
            }
            if let Some(c) = before {
                pairs.append_pair("before", &c.encode());
            }
        }
        if url.query() == Some("") {
            url.set_query(None);
        }
        Some(url.to_string())
    };
    view.self_url = link(before.as_ref());
    view.first_url = link(None);
    view.next_url = page.next.as_ref().and_then(|c| link(Some(c)));
    // A feed, not a search or an older page, is a WebSub topic: its
    // document names the hub, and so does its answer's `Link` header.
    let topic = match (&published.hub, format, key.is_one_off()) {
        (Some(hub), Format::Atom | Format::Rss | Format::Json, false) => {
            view.self_url.clone().map(|topic| (hub.to_string(), topic))
        }
        _ => None,
    };
    view.hub_url = topic.as_ref().map(|(hub, _)| hub.clone());
    let body = render::render(&view, format)?;
    let mut rendered = Rendered::new(format, body, SystemTime::from(view.updated));
    rendered.link =
        topic.and_then(|(hub, topic)| HeaderValue::from_str(&link_header(&hub, &topic)).ok());
    debug!(
        ?format,
        ?channel,
        ?search,
        bytes = rendered.body.len(),
        "rendered merged feed"
    );
    inner.metrics.render();
    if let Channel::View(name) = &channel {
        inner.metrics.view_render(name);
    }
    Ok(rendered)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Nothing panics while holding the cache lock; if it ever did, the map
    // is still a valid cache.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The content codings a cached document is served in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Coding {
    Identity,
    Gzip,
    Br,
}

impl Coding {
    /// What `Accept-Encoding` asks for: the compressed form with the
    /// higher weight, brotli on a tie (it is the smaller); the plain bytes
    /// when neither is acceptable, or when `identity` is listed with a
    /// higher weight than both. An unlisted `identity` does not compete: it
    /// is always acceptable (RFC 9110 §12.5.3), but a client that says
    /// `gzip` wants gzip. No header: the plain bytes.
    fn asked(headers: &HeaderMap) -> Coding {
        // RFC 9110 §12.5.3: a coding's own weight wins over `*`'s, so
        // `gzip;q=0, *` refuses it; a weight of 0 means "not acceptable".
        let (mut gzip, mut br, mut identity, mut any) = (None, None, None, None);
        for coding in headers
            .get_all(header::ACCEPT_ENCODING)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
        {
            let mut parts = coding.split(';');
            let name = parts.next().unwrap_or("").trim();
            // Parameter names are case-insensitive: `Q=0` is `q=0`.
            let weight = parts
                .find_map(|p| {
                    let (name, value) = p.split_once('=')?;
                    name.trim().eq_ignore_ascii_case("q").then_some(value)
                })
                .map_or(Some(1.0), |q| q.trim().parse::<f32>().ok());
            let slot = if name.eq_ignore_ascii_case("gzip") || name.eq_ignore_ascii_case("x-gzip") {
                &mut gzip
            } else if name.eq_ignore_ascii_case("br") {
                &mut br
            } else if name.eq_ignore_ascii_case("identity") {
                &mut identity
            } else if name == "*" {
                &mut any
            } else {
                continue;
            };
            *slot = weight;
        }
        let weight = |w: Option<f32>| w.or(any).unwrap_or(0.0);
        let (coding, q) = if weight(br) >= weight(gzip) {
            (Coding::Br, weight(br))
        } else {
            (Coding::Gzip, weight(gzip))
        };
        if q > 0.0 && identity.is_none_or(|i| q >= i) {
            coding
        } else {
            Coding::Identity
        }
    }

    /// `body` in this coding. CPU-bound: [`Rendered::encoded`] runs it off
    /// the async workers.
    fn compress(self, body: &[u8]) -> Bytes {
        match self {
            Coding::Identity => Bytes::copy_from_slice(body),
            Coding::Gzip => {
                let mut enc =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
                enc.write_all(body).expect("writing to a Vec cannot fail");
                Bytes::from(enc.finish().expect("writing to a Vec cannot fail"))
            }
            Coding::Br => {
                let mut enc = brotli::CompressorWriter::new(Vec::new(), 4096, BROTLI_QUALITY, 22);
                enc.write_all(body).expect("writing to a Vec cannot fail");
                // `into_inner` ends the stream.
                Bytes::from(enc.into_inner())
            }
        }
    }

    /// Its `Content-Encoding`.
    fn name(self) -> Option<&'static str> {
        match self {
            Coding::Identity => None,
            Coding::Gzip => Some("gzip"),
            Coding::Br => Some("br"),
        }
    }

    /// The ETag of the document whose identity ETag is `etag`, in this
    /// coding: each is a different representation, so it gets its own
    /// strong ETag (RFC 9110 §8.8.3).
    fn etag(self, etag: &str) -> String {
        match self {
            Coding::Identity => etag.to_string(),
            Coding::Gzip => format!("{}-gz\"", etag.trim_end_matches('"')),
            Coding::Br => format!("{}-br\"", etag.trim_end_matches('"')),
        }
    }
}

/// RFC 9110 §13.1: If-None-Match wins over If-Modified-Since.
/// `etag` is the ETag of the coding being served: a client holding the
/// gzip form that now asks for brotli has not got those bytes, so it gets
/// them, not a 304 with another form's ETag (RFC 9110 §8.8.3).
fn not_modified(headers: &HeaderMap, doc: &Rendered, etag: &str) -> bool {
    if let Some(inm) = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
    {
        return inm.split(',').map(str::trim).any(|tag| {
            let tag = tag.strip_prefix("W/").unwrap_or(tag);
            tag == "*" || tag == etag
        });
    }
    if let Some(ims) = headers
        .get(header::IF_MODIFIED_SINCE)
        .filter(|_| doc.dated)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| httpdate::parse_http_date(v).ok())
    {
        // HTTP dates have whole seconds.
        let lm = DateTime::<Utc>::from(doc.last_modified).timestamp();
        return lm <= DateTime::<Utc>::from(ims).timestamp();
    }
    false
}

/// The health snapshot as JSON: 200 while the daemon serves (`ok` or
/// `degraded`), 503 when the database or the scheduler is stuck.
async fn healthz(State(state): State<HttpState>) -> Response {
    let health = state.0.health.snapshot().await;
    let code = if health.status.is_serving() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let mut body = health.to_json();
    // What the daemon serves beside the merged feed, so an operator can
    // check that a reload took: each view with its feed's path.
    let published = state.published();
    let mut views: Vec<serde_json::Value> = published
        .outputs
        .keys()
        .filter_map(|c| match c {
            Channel::View(name) => Some(serde_json::json!({
                "name": name,
                "path": c.path(Format::Atom.extension()),
            })),
            _ => None,
        })
        .collect();
    views.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    body["views"] = serde_json::Value::Array(views);
    (
        code,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string() + "\n",
    )
        .into_response()
}

/// The current board, as JSON; 404 without a `[market]` config.
async fn quotes(State(state): State<HttpState>) -> Response {
    let inner = &state.0;
    let Some(board) = inner.board.get() else {
        return (StatusCode::NOT_FOUND, "no [market] is configured\n").into_response();
    };
    let body = serde_json::to_string_pretty(&board.status(inner.clock.now()))
        .expect("board status always serialises");
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body + "\n",
    )
        .into_response()
}

/// The configured feeds as OPML 2.0, for importing into another reader,
/// with each feed's title and site as the archive has them by now, at the
/// URL it is fetched from (where it moved for good, if it did): so read
/// for each request, as the list changes as feeds are polled (a confirmed
/// move need not change what the feeds show, so the render cache, keyed
/// on the archive's generation, would miss it). Served with the feeds'
/// validators: dated by the config's load, not the request, the same list
/// is the same bytes, so a reader revalidating gets 304, and the copy
/// last served keeps its date and compressed forms.
async fn feeds_opml(State(state): State<HttpState>, headers: HeaderMap) -> Response {
    let inner = &state.0;
    let homes = match inner.store.feed_homes().await {
        Ok(homes) => homes,
        Err(e) => {
            error!(error = %e, "could not read the feeds' sites for /feeds.opml");
            return unavailable();
        }
    };
    let published = state.published();
    let since = *lock(&inner.config_since);
    let body = crate::opml::export(
        &published.output.title,
        &published.feeds,
        &homes,
        crate::opml::Credentials::Withheld,
        DateTime::<Utc>::from(since),
    );
    let mut doc = Rendered::typed(OPML_TYPE, body.into_bytes(), since);
    let doc = {
        let mut last = lock(&inner.feeds_opml);
        match &*last {
            Some(served) if served.etag == doc.etag => Arc::clone(served),
            served => {
                let previous = served.as_ref().map(|d| (d.etag.clone(), d.last_modified));
                date_replacement(inner, previous.as_ref(), &mut doc);
                let doc = Arc::new(doc);
                *last = Some(Arc::clone(&doc));
                doc
            }
        }
    };
    respond(&headers, &doc).await
}

/// Counts every request by route (the pattern, not the raw path, so
/// `?q=` and unknown paths cannot blow up the label set) and status.
async fn count_requests(
    State(state): State<HttpState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let response = next.run(request).await;
    state
        .0
        .metrics
        .http_request(&route, response.status().as_u16());
    response
}

/// The largest subscription request `POST /websub` reads: a callback
/// URL, one of our topics, a secret under 200 bytes and a lease fit in a
/// few kilobytes; 64 KiB leaves room for any URL a client would send.
/// (axum's default, 2 MiB, let [`MAX_CONNECTIONS`] stalled requests hold
/// 1 GiB; this, 32 MiB.)
const HUB_FORM_MAX: usize = 64 * 1024;

/// `POST /websub`: a WebSub subscription request (W3C WebSub §5.1), a
/// form with `hub.mode`, `hub.topic`, `hub.callback` and optionally
/// `hub.lease_seconds` and `hub.secret`. 202 once it is queued for
/// verification; 4xx with the reason when it cannot be taken (413 past
/// [`HUB_FORM_MAX`], 408 when the form is not in within
/// [`BODY_TIMEOUT`]).
async fn websub(State(state): State<HttpState>, headers: HeaderMap, body: Body) -> Response {
    let deadline = tokio::time::Instant::now() + BODY_TIMEOUT;
    let Some(hub) = state.hub() else {
        return (
            StatusCode::NOT_FOUND,
            "this tickerfeed is not a WebSub hub ([websub] serve_hub = false)\n",
        )
            .into_response();
    };
    let form_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !form_type {
        return (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the request as application/x-www-form-urlencoded (WebSub §5.1)\n",
        )
            .into_response();
    }
    let body = match read_body(body, HUB_FORM_MAX, deadline).await {
        Ok(body) => body,
        Err(refused) => return refused,
    };
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    let published = state.published();
    match hub.accept(&form, |topic| published.topic(topic).is_some()) {
        Ok(()) => (
            StatusCode::ACCEPTED,
            "accepted: the hub verifies intent with a GET to hub.callback\n",
        )
            .into_response(),
        Err(refusal) => {
            debug!(reason = %refusal, "WebSub request refused");
            let status = StatusCode::from_u16(refusal.status()).unwrap_or(StatusCode::BAD_REQUEST);
            (status, format!("{refusal}\n")).into_response()
        }
    }
}

impl Documents for HttpState {
    fn topics(&self) -> Vec<String> {
        self.published().topics()
    }

    fn document<'a>(
        &'a self,
        topic: &'a str,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Option<Document>> + Send + 'a>> {
        Box::pin(async move {
            let (channel, format) = self.published().topic(topic)?;
            let key = DocRequest {
                format,
                channel,
                search: None,
                before: None,
            };
            match rendered(&self.0, key).await {
                Ok(doc) => Some(Document {
                    content_type: format.content_type(),
                    body: doc.body.clone(),
                }),
                Err(e) => {
                    tracing::warn!(topic, error = %e, "could not render a WebSub topic");
                    None
                }
            }
        })
    }
}

/// Prometheus metrics (OpenMetrics text).
async fn metrics(State(state): State<HttpState>) -> Response {
    let inner = &state.0;
    let now = inner.clock.now();
    let items = match inner.store.item_count().await {
        Ok(n) => Some(n),
        Err(e) => {
            tracing::warn!(error = %e, "could not count the archive's items for /metrics");
            None
        }
    };
    // A board that has not refreshed since it was set up is as old as it
    // is: an alert on its age fires for a provider that never answered,
    // but not the moment a reload adds `[market]` to a daemon running for
    // days.
    let quotes_age = inner
        .board
        .get()
        .map(|b| b.age(now).num_milliseconds() as f64 / 1000.0);
    match inner.store.outbox_counts().await {
        Ok(counts) => {
            let published = state.published();
            let configured: Vec<&str> = published.alerts.iter().map(|(a, _)| a.as_str()).collect();
            inner.metrics.alert_outbox(&configured, &counts, now)
        }
        Err(e) => tracing::warn!(error = %e, "could not count the alert outbox for /metrics"),
    }
    match inner.store.article_counts().await {
        Ok(counts) => inner.metrics.articles(&counts),
        Err(e) => tracing::warn!(error = %e, "could not count the articles for /metrics"),
    }
    if state.hub().is_some() {
        match inner.store.websub_counts(now).await {
            Ok(c) => inner.metrics.websub_hub(&c.subscribers, &c.deliveries),
            Err(e) => tracing::warn!(error = %e, "could not count the WebSub hub for /metrics"),
        }
    }
    let archive = inner.health.archive();
    inner.metrics.operator_state(
        archive.wal_bytes,
        archive.log_blocked,
        archive.write_failure.is_none(),
        inner.health.reload_state().last_refused().is_some(),
    );
    let body = inner
        .metrics
        .encode(inner.store.size_bytes(), items, quotes_age);
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::FixedClock;

    /// A request whose `Accept-Encoding` is `coding`, with `extra` headers.
    fn asking(coding: &str, extra: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_str(coding).unwrap(),
        );
        for (name, value) in extra {
            h.insert(name, HeaderValue::from_str(value).unwrap());
        }
        h
    }

    fn compressions(doc: &Rendered) -> usize {
        doc.compressions.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// A runtime with one worker thread and one blocking thread, that
    /// thread held until the sender sends: a compression asked for waits
    /// until then (the blocking pool runs its queue in order).
    fn held_blocking_thread() -> (tokio::runtime::Runtime, std::sync::mpsc::Sender<()>) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .max_blocking_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let (release, held) = std::sync::mpsc::channel::<()>();
        drop(runtime.spawn_blocking(move || held.recv()));
        (runtime, release)
    }

    impl Rendered {
        /// Whether a compression into `coding` was started.
        fn asked(&self, coding: Coding) -> bool {
            self.form(coding)
                .is_some_and(|form| form.lock().unwrap().attempt.is_some())
        }
    }

    #[tokio::test]
    async fn a_render_is_compressed_only_in_the_codings_clients_ask_for_and_once() {
        let body = "<feed>an entry</feed>".repeat(500).into_bytes();
        let doc = Rendered::new(Format::Atom, body.clone(), SystemTime::UNIX_EPOCH);
        let sent = respond(&asking("br", &[]), &doc).await;
        assert_eq!(sent.headers()[header::CONTENT_ENCODING], "br");
        // A brotli reader made no gzip form.
        assert!(doc.made(Coding::Gzip).is_none());
        let br = doc.made(Coding::Br).expect("made for the brotli reader");
        let mut plain = Vec::new();
        brotli::BrotliDecompress(&mut &br[..], &mut plain).unwrap();
        assert_eq!(plain, body);
        // The second brotli reader gets the same bytes, not a new
        // compression.
        respond(&asking("br", &[]), &doc).await;
        assert_eq!(doc.encoded(Coding::Br).await.unwrap().as_ptr(), br.as_ptr());
        assert_eq!(compressions(&doc), 1);
        respond(&asking("gzip", &[]), &doc).await;
        assert!(doc.made(Coding::Gzip).is_some());
        assert_eq!(compressions(&doc), 2);
    }

    /// Many readers asking at once for a coding no one has asked for yet
    /// share one compression, and it runs off the async worker: here the
    /// runtime has one worker thread and one blocking thread, the blocking
    /// thread is held, so the compression cannot have run while the
    /// worker answers another task and the readers still wait. Compressed
    /// on the worker (as before), the first reader's compression was done
    /// before any other task could run.
    #[test]
    fn concurrent_first_requests_share_one_compression_off_the_worker() {
        let (runtime, release) = held_blocking_thread();
        let body = "<feed>an entry</feed>".repeat(5000).into_bytes();
        let doc = Arc::new(Rendered::new(
            Format::Atom,
            body.clone(),
            SystemTime::UNIX_EPOCH,
        ));
        runtime.block_on(async {
            let readers: Vec<_> = (0..8)
                .map(|_| {
                    let doc = Arc::clone(&doc);
                    tokio::spawn(async move {
                        let sent = respond(&asking("br", &[]), &doc).await;
                        axum::body::to_bytes(sent.into_body(), usize::MAX)
                            .await
                            .unwrap()
                    })
                })
                .collect();
            while !doc.asked(Coding::Br) {
                tokio::task::yield_now().await;
            }
            // The compression is asked for; another connection's task gets
            // the worker while every reader waits for it.
            let other = tokio::spawn(async { "answered" });
            assert_eq!(other.await.unwrap(), "answered");
            assert_eq!(compressions(&doc), 0, "compressed on the worker");
            assert!(readers.iter().all(|r| !r.is_finished()));
            release.send(()).unwrap();
            let mut sent = Vec::new();
            for reader in readers {
                sent.push(reader.await.unwrap());
            }
            assert_eq!(compressions(&doc), 1);
            let made = doc.made(Coding::Br).unwrap();
            assert!(sent.iter().all(|s| s.as_ptr() == made.as_ptr()));
            let mut plain = Vec::new();
            brotli::BrotliDecompress(&mut &made[..], &mut plain).unwrap();
            assert_eq!(plain, body);
        });
    }

    /// A reader that hangs up while its form is being made does not cost
    /// the next reader a second compression: the next one gets the same.
    #[test]
    fn a_compression_outlives_the_request_that_started_it() {
        let (runtime, release) = held_blocking_thread();
        let doc = Arc::new(Rendered::new(
            Format::Atom,
            "<feed>an entry</feed>".repeat(500).into_bytes(),
            SystemTime::UNIX_EPOCH,
        ));
        runtime.block_on(async {
            let first = tokio::spawn({
                let doc = Arc::clone(&doc);
                async move { respond(&asking("gzip", &[]), &doc).await }
            });
            while !doc.asked(Coding::Gzip) {
                tokio::task::yield_now().await;
            }
            first.abort();
            assert!(first.await.unwrap_err().is_cancelled());
            release.send(()).unwrap();
            let sent = respond(&asking("gzip", &[]), &doc).await;
            assert_eq!(sent.headers()[header::CONTENT_ENCODING], "gzip");
            assert_eq!(compressions(&doc), 1);
        });
    }

    /// A compression that panics leaves its form plain only for the
    /// requests that were waiting on it: a later request compresses again
    /// and is served brotli (the failed attempt used to be kept, and the
    /// form served plain until the archive changed).
    #[test]
    fn a_compression_that_panicked_is_made_again_for_a_later_request() {
        let (runtime, release) = held_blocking_thread();
        let body = "<feed>an entry</feed>".repeat(500).into_bytes();
        let doc = Arc::new(Rendered::new(
            Format::Atom,
            body.clone(),
            SystemTime::UNIX_EPOCH,
        ));
        doc.panics.store(1, std::sync::atomic::Ordering::SeqCst);
        runtime.block_on(async {
            // Readers waiting on the compression that panics get the plain
            // bytes, as before.
            let readers: Vec<_> = (0..3)
                .map(|_| {
                    let doc = Arc::clone(&doc);
                    tokio::spawn(async move { respond(&asking("br", &[]), &doc).await })
                })
                .collect();
            while !doc.asked(Coding::Br) {
                tokio::task::yield_now().await;
            }
            release.send(()).unwrap();
            for reader in readers {
                let sent = reader.await.unwrap();
                assert!(sent.headers().get(header::CONTENT_ENCODING).is_none());
                let plain = axum::body::to_bytes(sent.into_body(), usize::MAX);
                assert_eq!(plain.await.unwrap(), body);
            }
            assert_eq!(compressions(&doc), 1);
            assert!(doc.made(Coding::Br).is_none());
            // The next request compresses again, and gets brotli.
            let sent = respond(&asking("br", &[]), &doc).await;
            assert_eq!(sent.headers()[header::CONTENT_ENCODING], "br");
            let br = axum::body::to_bytes(sent.into_body(), usize::MAX)
                .await
                .unwrap();
            let mut plain = Vec::new();
            brotli::BrotliDecompress(&mut &br[..], &mut plain).unwrap();
            assert_eq!(plain, body);
            assert_eq!(compressions(&doc), 2);
            // And that one is kept.
            respond(&asking("br", &[]), &doc).await;
            assert_eq!(doc.made(Coding::Br).unwrap(), br);
            assert_eq!(compressions(&doc), 2);
        });
    }

    /// A compression that panics every time is started at most
    /// `COMPRESSION_ATTEMPTS` times per render and form, however many
    /// requests ask: every one is answered, plain.
    #[tokio::test]
    async fn a_compression_that_always_panics_is_tried_a_bounded_number_of_times() {
        let body = "<feed>an entry</feed>".repeat(500).into_bytes();
        let doc = Rendered::new(Format::Atom, body.clone(), SystemTime::UNIX_EPOCH);
        doc.panics
            .store(usize::MAX, std::sync::atomic::Ordering::SeqCst);
        for _ in 0..10 {
            let sent = respond(&asking("gzip", &[]), &doc).await;
            assert!(sent.headers().get(header::CONTENT_ENCODING).is_none());
            let plain = axum::body::to_bytes(sent.into_body(), usize::MAX);
            assert_eq!(plain.await.unwrap(), body);
        }
        assert_eq!(compressions(&doc), COMPRESSION_ATTEMPTS as usize);
    }

    /// A client (or a cache) holding one form gets a 304 for that form
    /// only: asking for another coding, it gets the other form's bytes.
    #[tokio::test]
    async fn a_304_is_for_the_form_the_client_holds() {
        let doc = Rendered::new(Format::Atom, b"<feed/>".to_vec(), SystemTime::UNIX_EPOCH);
        let ask = |coding: &str, holds: Coding| {
            let h = asking(coding, &[(header::IF_NONE_MATCH, &holds.etag(&doc.etag))]);
            let doc = &doc;
            async move { respond(&h, doc).await.status() }
        };
        assert_eq!(ask("gzip", Coding::Gzip).await, StatusCode::NOT_MODIFIED);
        assert_eq!(ask("br", Coding::Br).await, StatusCode::NOT_MODIFIED);
        assert_eq!(ask("br", Coding::Gzip).await, StatusCode::OK);
        assert_eq!(ask("identity", Coding::Br).await, StatusCode::OK);
    }

    #[test]
    fn the_coding_served_is_the_one_the_client_prefers() {
        let asked = |value: &str| {
            let mut h = HeaderMap::new();
            h.insert(
                header::ACCEPT_ENCODING,
                HeaderValue::from_str(value).unwrap(),
            );
            Coding::asked(&h)
        };
        use Coding::{Br, Gzip, Identity};
        for (value, coding) in [
            ("gzip", Gzip),
            ("br, gzip", Br),
            ("gzip, br", Br),
            ("br, gzip;q=0.5", Br),
            ("br;q=0.5, gzip", Gzip),
            ("br;q=0, gzip", Gzip),
            ("BR", Br),
            ("*", Br),
            ("br;q=0, *", Gzip),
            ("identity, X-GZIP", Gzip),
            ("identity;q=1, gzip;q=0.5", Identity),
            ("identity;q=0.2, gzip;q=0.5", Gzip),
            ("gzip;q=0.5", Gzip),
            ("gzip;q=0, *", Br),
            ("gzip;q=0, br;q=0, *", Identity),
            ("*, gzip;q=0", Br),
            ("gzip;q=0.0", Identity),
            ("gzip;Q=0", Identity),
            ("gzip; q = 0", Identity),
            ("*;q=0", Identity),
            ("deflate", Identity),
            ("identity", Identity),
        ] {
            assert_eq!(asked(value), coding, "{value}");
        }
        assert_eq!(Coding::asked(&HeaderMap::new()), Identity);
    }

    /// The daemon's HTTP side on 127.0.0.1 over an empty archive in a
    /// temp dir; returns its state (to occupy the one-off renders) and the
    /// merged feed's URL.
    async fn start() -> (tempfile::TempDir, HttpState, String, CancellationToken) {
        let (dir, state, url, stop, _) = start_on_clock().await;
        (dir, state, url, stop)
    }

    /// [`start`], with the fixed clock it runs on.
    async fn start_on_clock() -> (
        tempfile::TempDir,
        HttpState,
        String,
        CancellationToken,
        FixedClock,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "[server]\nlisten = \"127.0.0.1:0\"\n").unwrap();
        let config = Config::load(&path).unwrap();
        let now = "2026-11-24T09:00:00Z".parse::<DateTime<Utc>>().unwrap();
        let clock = FixedClock::new(now);
        let state = HttpState::new(
            Arc::new(Metrics::new()),
            Default::default(),
            Store::open(&config.storage.path).unwrap(),
            Published::from_config(&config, None, now),
            crate::scheduler::Heartbeat::new(now),
            Arc::new(clock.clone()),
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/feed.atom", listener.local_addr().unwrap());
        let stop = CancellationToken::new();
        tokio::spawn(serve(listener, state.clone(), stop.clone()));
        (dir, state, url, stop, clock)
    }

    /// A reload that changes what a document says (its title) while no
    /// entry changed: a reader revalidating by the date it has gets the new
    /// document, not a 304 for the old one (the cache that knew the old
    /// date is gone with the reload).
    #[tokio::test]
    async fn a_reload_that_changes_a_document_moves_its_date() {
        let (dir, state, url, stop, clock) = start_on_clock().await;
        let http = reqwest::Client::new();
        let first = http.get(&url).send().await.unwrap();
        let date = first.headers()[header::LAST_MODIFIED].clone();
        assert!(first.text().await.unwrap().contains(">tickerfeed</title>"));
        clock.advance(chrono::Duration::minutes(5));
        let path = dir.path().join("config.toml");
        std::fs::write(
            &path,
            "[server]\nlisten = \"127.0.0.1:0\"\n[output]\ntitle = \"Renamed\"\n",
        )
        .unwrap();
        let config = Config::load(&path).unwrap();
        state.update(Published::from_config(
            &config,
            None,
            crate::clock::Clock::now(&clock),
        ));
        let again = http
            .get(&url)
            .header(header::IF_MODIFIED_SINCE, date)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 200);
        assert!(again.text().await.unwrap().contains(">Renamed</title>"));
        stop.cancel();
    }

    /// A reader revalidating a brotli copy of a render no one has asked
    /// brotli of yet (the daemon restarted, or re-rendered the same bytes)
    /// gets its 304 without the render being compressed for it: the ETag
    /// of each form is the plain one's with a suffix. The 304 carries what
    /// RFC 9110 §15.4.5 asks (the 200's ETag, Vary, Cache-Control) and no
    /// Content-Length until the form's length is known, then that length
    /// (§8.6), never 0.
    #[tokio::test]
    async fn a_304_for_a_form_not_made_yet_does_not_make_it() {
        let (_dir, state, url, stop) = start().await;
        // As a reader that decodes nothing itself sees the answers.
        let http = reqwest::Client::builder()
            .no_gzip()
            .no_brotli()
            .build()
            .unwrap();
        let plain = http.get(&url).send().await.unwrap();
        let etag = plain.headers()[header::ETAG].to_str().unwrap().to_string();
        let br_etag = Coding::Br.etag(&etag);
        let doc = || {
            let cache = lock(&state.0.cache);
            let slot = cache.values().next().expect("the feed is cached");
            Arc::clone(slot.doc.get().expect("rendered"))
        };
        let revalidate = |method: reqwest::Method| {
            http.request(method, &url)
                .header(header::ACCEPT_ENCODING, "br")
                .header(header::IF_NONE_MATCH, &br_etag)
                .send()
        };
        for method in [reqwest::Method::GET, reqwest::Method::HEAD] {
            let cached = revalidate(method.clone()).await.unwrap();
            assert_eq!(cached.status(), 304, "{method}");
            let h = cached.headers();
            assert_eq!(h[header::ETAG].to_str().unwrap(), br_etag, "{method}");
            assert_eq!(h[header::VARY], "Accept-Encoding", "{method}");
            assert_eq!(h[header::CACHE_CONTROL], "public, max-age=60", "{method}");
            assert_eq!(h.get(header::CONTENT_LENGTH), None, "{method}");
        }
        assert!(doc().made(Coding::Br).is_none(), "compressed for a 304");
        assert_eq!(compressions(&doc()), 0);

        let br = http
            .get(&url)
            .header(header::ACCEPT_ENCODING, "br")
            .send()
            .await
            .unwrap();
        assert_eq!(br.headers()[header::ETAG].to_str().unwrap(), br_etag);
        let length = br.bytes().await.unwrap().len().to_string();
        // To a GET, hyper leaves out any length of a 304 (it may).
        let cached = revalidate(reqwest::Method::GET).await.unwrap();
        assert_eq!(cached.status(), 304);
        if let Some(sent) = cached.headers().get(header::CONTENT_LENGTH) {
            assert_eq!(sent, &length);
        }
        let cached = revalidate(reqwest::Method::HEAD).await.unwrap();
        assert_eq!(cached.status(), 304);
        assert_eq!(cached.headers()[header::CONTENT_LENGTH], length);
        assert_eq!(compressions(&doc()), 1);
        stop.cancel();
    }

    /// While as many searches as the reader is allowed are being rendered,
    /// another search is turned away at once with 503 and Retry-After (not
    /// queued behind them), while the merged feed, a search already
    /// rendered, and the next search once one finishes are all answered.
    #[tokio::test]
    async fn searches_past_the_limit_get_503_and_the_feed_is_still_served() {
        let (_dir, state, url, stop) = start().await;
        let http = reqwest::Client::new();
        let get = |u: String| {
            let http = http.clone();
            async move { http.get(u).send().await.unwrap() }
        };
        assert_eq!(get(format!("{url}?q=earlier")).await.status(), 200);

        // As many searches as allowed in progress elsewhere.
        let busy = state
            .0
            .one_off
            .acquire_many(ONE_OFF_RENDERS as u32)
            .await
            .unwrap();
        let turned_away = get(format!("{url}?q=glacier")).await;
        assert_eq!(turned_away.status(), 503);
        assert_eq!(turned_away.headers()["retry-after"], "1");
        assert!(turned_away.text().await.unwrap().contains("try again"));
        let older = format!("{url}?before=2026-11-20T00:00:00Z~7");
        assert_eq!(get(older.clone()).await.status(), 503, "an older page");
        let page = get(format!("{url}?before=bogus")).await;
        assert_eq!(page.status(), 400, "a bad cursor is still a bad request");
        assert_eq!(get(url.clone()).await.status(), 200);
        assert_eq!(get(format!("{url}?q=earlier")).await.status(), 200);

        drop(busy);
        let answered = get(format!("{url}?q=glacier")).await;
        assert_eq!(answered.status(), 200);
        assert!(answered.text().await.unwrap().contains("glacier"));
        assert_eq!(get(older).await.status(), 200);
        stop.cancel();
    }

    /// Clients that open connections and never finish a request's headers
    /// (slowloris) are cut off after `HEADER_TIMEOUT`, so they cannot hold
    /// every file descriptor the daemon has. Time is paused: tokio jumps it
    /// ahead whenever nothing is left to do.
    #[tokio::test(start_paused = true)]
    async fn clients_that_never_finish_their_headers_are_cut_off() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (_dir, _state, url, stop) = start().await;
        let addr = url
            .trim_start_matches("http://")
            .split('/')
            .next()
            .unwrap()
            .to_string();
        let mut slow = Vec::new();
        for _ in 0..50 {
            let mut c = tokio::net::TcpStream::connect(&addr).await.unwrap();
            c.write_all(b"GET /feed.atom HTTP/1.1\r\nHost: x\r\n")
                .await
                .unwrap();
            slow.push(c);
        }
        tokio::time::sleep(HEADER_TIMEOUT - Duration::from_secs(1)).await;
        let mut c = slow.pop().unwrap();
        let mut byte = [0u8; 1];
        assert!(
            tokio::time::timeout(Duration::from_millis(100), c.read(&mut byte))
                .await
                .is_err(),
            "cut off before its time"
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
        for mut c in slow {
            let mut rest = Vec::new();
            let closed =
                tokio::time::timeout(Duration::from_secs(1), c.read_to_end(&mut rest)).await;
            assert!(
                closed.is_ok(),
                "a half-sent request still holds its connection"
            );
        }
        stop.cancel();
    }

    /// The daemon's HTTP side answering WebSub hubs, and serving a hub
    /// (`POST /websub`), over an archive in a temp dir with one live
    /// subscription; returns its state, its address and the
    /// subscription's callback id.
    async fn start_subscribed() -> (
        tempfile::TempDir,
        HttpState,
        String,
        CancellationToken,
        &'static str,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let feed_url = "http://127.0.0.1:9/feed.xml";
        let (subscriber, opened) =
            crate::websub::test_support::subscriber(dir.path(), feed_url).await;
        let config = Config::load(&dir.path().join("config.toml")).unwrap();
        let now = "2026-11-24T09:00:00Z".parse::<DateTime<Utc>>().unwrap();
        let clock: SharedClock = Arc::new(FixedClock::new(now));
        let state = HttpState::new(
            Arc::new(Metrics::new()),
            Default::default(),
            opened.store.clone(),
            Published::from_config(&config, None, now),
            crate::scheduler::Heartbeat::new(now),
            Arc::clone(&clock),
        );
        state.answer_hubs(subscriber);
        let clients = crate::push::webhook::Clients::new("t").unwrap();
        let (hub, _verifier) = Hub::new(&config.websub, opened.store.clone(), clock, clients);
        state.set_hub(Some(hub));
        let id = "0123456789abcdef0123456789abcdef";
        opened
            .store
            .request_subscription(
                opened.feeds[0].1,
                "http://127.0.0.1:9/hub",
                feed_url,
                id,
                &crate::config::Secret::new("s3cret"),
                now,
                now + chrono::Duration::hours(1),
            )
            .await
            .unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let stop = CancellationToken::new();
        tokio::spawn(serve(listener, state.clone(), stop.clone()));
        (dir, state, addr, stop, id)
    }

    /// Sends `request` on a new connection to `addr`.
    async fn send(addr: &str, request: &str) -> tokio::net::TcpStream {
        use tokio::io::AsyncWriteExt;
        let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
        c.write_all(request.as_bytes()).await.unwrap();
        c
    }

    /// All `c` is sent until it closes, within `within`.
    async fn answer(c: &mut tokio::net::TcpStream, within: Duration) -> Option<String> {
        use tokio::io::AsyncReadExt;
        let mut sent = Vec::new();
        tokio::time::timeout(within, c.read_to_end(&mut sent))
            .await
            .ok()
            .map(|_| String::from_utf8_lossy(&sent).into_owned())
    }

    /// Clients that announce a body and stall part way (a push to a live
    /// callback, a subscription request to our hub) are answered 408 and
    /// cut off after `BODY_TIMEOUT`, as slow headers are after
    /// `HEADER_TIMEOUT`: before, each held its connection, and what it had
    /// sent, for ever, and 512 of them stopped the daemon answering
    /// anyone. Time is paused: tokio jumps it ahead whenever nothing is
    /// left to do.
    #[tokio::test(start_paused = true)]
    async fn bodies_that_stall_are_cut_off() {
        let (_dir, _state, addr, stop, id) = start_subscribed().await;
        let mut slow = Vec::new();
        for _ in 0..25 {
            let push = format!(
                "POST /websub/callback/{id} HTTP/1.1\r\nHost: x\r\n\
                 Content-Length: 1000000\r\n\r\n<feed>"
            );
            slow.push(send(&addr, &push).await);
            let form = "POST /websub HTTP/1.1\r\nHost: x\r\n\
                        Content-Type: application/x-www-form-urlencoded\r\n\
                        Content-Length: 1000\r\n\r\nhub.mode=sub";
            slow.push(send(&addr, form).await);
        }
        tokio::time::sleep(BODY_TIMEOUT - Duration::from_secs(1)).await;
        for c in slow.iter_mut().rev().take(2) {
            assert_eq!(
                answer(c, Duration::from_millis(100)).await,
                None,
                "cut off before its time"
            );
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        for mut c in slow {
            let sent = answer(&mut c, Duration::from_secs(1)).await;
            let sent = sent.expect("a stalled body still holds its connection");
            assert!(sent.starts_with("HTTP/1.1 408"), "{sent}");
        }
        stop.cancel();
    }

    /// Pushes are read `PUSH_BODIES_AT_ONCE` at a time: one that finds every
    /// turn taken waits for one, and gets 503 with `Retry-After` if none
    /// comes before `BODY_TIMEOUT`, its body unread; one announcing more
    /// than `[fetch] max_body_bytes` gets 413 at once.
    #[tokio::test(start_paused = true)]
    async fn pushes_wait_for_a_turn_and_are_capped() {
        let (_dir, state, addr, stop, id) = start_subscribed().await;
        let push = |body: &str| {
            format!(
                "POST /websub/callback/{id} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
                 Content-Length: {}\r\n\r\n{body}",
                body.len()
            )
        };
        let turns = state
            .0
            .pushes
            .acquire_many(PUSH_BODIES_AT_ONCE as u32)
            .await
            .unwrap();
        let mut waiting = send(&addr, &push("<feed/>")).await;
        let sent = answer(&mut waiting, BODY_TIMEOUT + Duration::from_secs(1)).await;
        let sent = sent.expect("answered by the deadline");
        assert!(sent.starts_with("HTTP/1.1 503"), "{sent}");
        assert!(
            sent.to_ascii_lowercase().contains("retry-after: 10"),
            "{sent}"
        );
        drop(turns);
        // Unsigned, so answered 200 and ignored.
        let mut c = send(&addr, &push("<feed/>")).await;
        let sent = answer(&mut c, Duration::from_secs(5)).await.unwrap();
        assert!(sent.starts_with("HTTP/1.1 200"), "{sent}");

        let max = 16 * 1024 * 1024;
        let huge = format!(
            "POST /websub/callback/{id} HTTP/1.1\r\nHost: x\r\n\
             Content-Length: {}\r\n\r\n<",
            max + 1
        );
        let mut c = send(&addr, &huge).await;
        let sent = answer(&mut c, Duration::from_secs(1)).await.unwrap();
        assert!(sent.starts_with("HTTP/1.1 413"), "{sent}");
        stop.cancel();
    }
}
