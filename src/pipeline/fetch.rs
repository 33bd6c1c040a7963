//! Fetch stage: a feed URL -> bytes, politely.
//!
//! Owns the HTTP client (one for the whole process, so connections are
//! reused), conditional GET with the validators exactly as the server sent
//! them, redirects (followed by hand, so the chain and its kind are known),
//! decompression (by hand too, so bytes on the wire are counted and the size
//! cap applies to the decoded stream: a gzip bomb stops at the cap), per-site
//! limits (concurrency and spacing), pauses after 429/503, and timeouts.
//! Knows nothing about XML: it hands a [`Fetched`] to `pipeline::parse`.
//! Never retries; the scheduler owns when to try again.
//!
//! A caller that may not request just any URL (article pages, which obey
//! robots.txt) fetches with [`Fetcher::fetch_checked`]: its [`HopCheck`] is
//! asked before every request, the link and each redirect hop, so a hop it
//! refuses is never sent, and may ask for a crawl delay: the least time
//! between the starts of two such requests to one site (robots.txt's
//! `Crawl-delay`), kept by the same per-site gate as the spacing. Only
//! the link gives up on a turn that is far off ([`CRAWL_PATIENCE`]); a
//! redirect hop waits for its turn, since giving up after the link was
//! requested would only request it again next time. Turns go first come,
//! first served, by when each fetch first asked for one: a hop keeps the
//! place its link had, so the site's other pages cannot take every turn
//! before it. Feeds are fetched unchecked, so never wait for a crawl delay.
//!
//! Limits and pauses count per bucket, `politeness::`[`domain_key`]: the
//! registrable domain, so `a.example.com` and `b.example.com` share them,
//! while IP addresses, `localhost` and their ports stay apart. Connections
//! are still pooled per host (reqwest does that by itself).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Timelike, Utc};
use reqwest::StatusCode;
use reqwest::header::{
    ACCEPT, ACCEPT_ENCODING, AGE, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE, DATE, ETAG,
    EXPIRES, HeaderMap, HeaderValue, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED, LINK,
    LOCATION, RETRY_AFTER, USER_AGENT,
};
use tokio::io::AsyncReadExt;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use url::Url;

use crate::cause::chain as error_chain;
use crate::clock::SharedClock;
use crate::config::FetchConfig;
use crate::model::FailureKind;
use crate::politeness::{domain_key, domain_key_of_host, parse_retry_after};

/// Validators from the previous response, sent back verbatim.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// One redirect hop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hop {
    pub status: u16,
    pub to: Url,
}

/// What every answered request reports, whatever its outcome.
#[derive(Debug, Clone, Default)]
pub struct Transfer {
    /// Redirects followed, in order.
    pub hops: Vec<Hop>,
    /// Bytes received on the wire (compressed), body only.
    pub wire_bytes: u64,
    /// `Cache-Control: max-age` or `Expires`, less the answer's `Age`, as
    /// a duration from now ([`cache_hint`]).
    pub cache_hint: Option<Duration>,
    /// The final response's `Link:` header values (WebSub discovery,
    /// `pipeline::hub`).
    pub links: Vec<String>,
    /// The body is only the first `max_body` bytes of a longer one
    /// (a fetcher [`keeping_prefix`](Fetcher::keeping_prefix)).
    pub truncated: bool,
}

impl Transfer {
    /// Where the redirects ended, when every hop was permanent (301/308):
    /// only then may the feed's URL move.
    pub fn permanently_moved_to(&self) -> Option<&Url> {
        let last = self.hops.last()?;
        self.hops
            .iter()
            .all(|h| matches!(h.status, 301 | 308))
            .then_some(&last.to)
    }
}

/// What a fetch brought back.
#[derive(Debug)]
pub enum Fetched {
    /// A 2xx body, decompressed.
    Body {
        status: u16,
        body: Vec<u8>,
        content_type: Option<String>,
        validators: Validators,
        transfer: Transfer,
    },
    /// 304: our copy is current.
    NotModified {
        validators: Validators,
        transfer: Transfer,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("could not build the HTTP client: {0}")]
    Client(String),
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    #[error("could not connect: {0}")]
    Connect(String),
    #[error("HTTP {status}{}", reason_suffix(*.status))]
    Status { status: u16 },
    #[error(
        "HTTP 410 Gone: the feed was removed; it will not be polled again until its config changes"
    )]
    Gone,
    #[error("HTTP {status}{}: the host asked us to wait{}", reason_suffix(*.status), .retry_after.map(|d| format!(" {}s", d.as_secs())).unwrap_or_default())]
    Throttled {
        status: u16,
        /// Counted from `answered_at`, as the server counts it.
        retry_after: Option<Duration>,
        /// When the answer came, by the fetcher's clock.
        answered_at: DateTime<Utc>,
        /// The politeness bucket of the URL that answered: after a
        /// redirect, the target's site, which is the one that asked.
        site: String,
    },
    /// `host` is the politeness bucket, e.g. `example.com` when
    /// `a.example.com` asked us to wait.
    #[error("{host} is paused until {until} (a request there was asked to wait)")]
    HostPaused { host: String, until: DateTime<Utc> },
    /// The link's site's next turn under its crawl delay
    /// ([`Admitted::crawl_delay`]) is more than [`CRAWL_PATIENCE`] away:
    /// nothing was sent, ask again at `until` rather than hold a fetch slot
    /// for it. Never after a redirect: a hop waits for its turn.
    #[error(
        "{host} asks for time between pages (robots.txt Crawl-delay): its next turn is at {until}"
    )]
    CrawlTurn { host: String, until: DateTime<Utc> },
    #[error("redirect loop: {}", chain(.0))]
    RedirectLoop(Vec<Hop>),
    #[error("too many redirects: {}", chain(.0))]
    TooManyRedirects(Vec<Hop>),
    #[error("redirect without a usable Location header")]
    BadRedirect,
    #[error("body larger than the {cap}-byte limit (after decompression)")]
    TooLarge { cap: usize },
    #[error("could not decompress the {encoding} body: {reason}")]
    Decode { encoding: String, reason: String },
    #[error("transfer failed: {0}")]
    Transfer(String),
    /// A [`HopCheck`] refused a request, which was not sent.
    #[error("{}", .0.reason)]
    Refused(Refusal),
    #[error("cannot read {path}: {source}")]
    File {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

fn chain(hops: &[Hop]) -> String {
    hops.iter()
        .map(|h| format!("{} -> {}", h.status, h.to))
        .collect::<Vec<_>>()
        .join(", ")
}

fn reason_suffix(status: u16) -> String {
    StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .map(|r| format!(" {r}"))
        .unwrap_or_default()
}

impl FetchError {
    /// The HTTP status, when the server answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            FetchError::Status { status } | FetchError::Throttled { status, .. } => Some(*status),
            FetchError::Gone => Some(410),
            _ => None,
        }
    }

    /// The failure this error is, for a poll that ends with it. `None`
    /// for the answers that end a poll without failing it: 410 (the feed
    /// is gone), 429/503 (the server asked us to wait) and a paused site
    /// (nothing was sent).
    pub fn failure_kind(&self) -> Option<FailureKind> {
        Some(match self {
            FetchError::Client(_) => FailureKind::Client,
            FetchError::Timeout(_) => FailureKind::Timeout,
            FetchError::Connect(_) => FailureKind::Connect,
            FetchError::Status { status } if *status >= 500 => FailureKind::Http5xx,
            FetchError::Status { .. } => FailureKind::Http4xx,
            FetchError::RedirectLoop(_) => FailureKind::RedirectLoop,
            FetchError::TooManyRedirects(_) | FetchError::BadRedirect => FailureKind::Redirect,
            FetchError::TooLarge { .. } => FailureKind::TooLarge,
            FetchError::Decode { .. } => FailureKind::Decode,
            FetchError::Transfer(_) => FailureKind::Transfer,
            FetchError::File { .. } => FailureKind::File,
            // Feeds are fetched unchecked, so never refused; and a refusal
            // sent nothing, like a pause.
            FetchError::Gone
            | FetchError::Throttled { .. }
            | FetchError::HostPaused { .. }
            | FetchError::CrawlTurn { .. }
            | FetchError::Refused(_) => {
                return None;
            }
        })
    }
}

/// Why a [`HopCheck`] refused a request.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    /// Said to whoever records the outcome.
    pub reason: String,
    /// The check could not say now (a robots.txt that could not be had):
    /// ask again no earlier than this. `None`: the answer is no.
    pub retry_at: Option<DateTime<Utc>>,
}

/// A request a [`HopCheck`] lets through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Admitted {
    /// Start it at least this long after the start of the last request
    /// to its site that had a crawl delay (robots.txt's `Crawl-delay`).
    pub crawl_delay: Option<Duration>,
}

/// Asked before each request of a [`Fetcher::fetch_checked`]: the link
/// itself (`from` is `None`) and every redirect hop after it (`from` is
/// the URL that redirected to it).
pub trait HopCheck: Sync {
    /// Whether `url` may be requested at `now`, and how far apart. The
    /// fetch's timeout runs out at `deadline`, and the time the check takes
    /// counts against it.
    fn admit(
        &self,
        url: &Url,
        from: Option<&Url>,
        now: DateTime<Utc>,
        deadline: tokio::time::Instant,
    ) -> impl Future<Output = Result<Admitted, Refusal>> + Send;
}

/// What a plain [`Fetcher::fetch`] asks: nothing, every hop goes.
struct Unchecked;

impl HopCheck for Unchecked {
    async fn admit(
        &self,
        _: &Url,
        _: Option<&Url>,
        _: DateTime<Utc>,
        _: tokio::time::Instant,
    ) -> Result<Admitted, Refusal> {
        Ok(Admitted::default())
    }
}

/// The most redirects one fetch follows.
const MAX_REDIRECTS: usize = 10;

/// The longest a link waits, holding its caller's fetch slot, for its
/// site's next turn under a crawl delay; a turn further away ends the fetch
/// with [`FetchError::CrawlTurn`], so one site asking for long gaps
/// cannot keep every slot waiting while other sites' pages queue. Redirect
/// hops wait however long their turn is: the link was requested already,
/// and a fetch put back would request it, and be redirected, again,
/// finding the hop's turn as far off each time.
pub const CRAWL_PATIENCE: Duration = Duration::from_secs(1);

/// A request's place under its site's crawl delay ([`Admitted::crawl_delay`]).
#[derive(Debug, Clone, Copy)]
struct CrawlPlace {
    delay: Duration,
    /// Where the fetch stands in its site's line for turns, the lowest
    /// first: numbered when the fetch first asked for a turn, and kept by
    /// its redirect hops ([`Buckets::place`]).
    place: u64,
    /// How far off a turn may be before the fetch gives up on it
    /// ([`CRAWL_PATIENCE`] for the link); `None`: wait however long.
    patience: Option<Duration>,
}

/// Per-site politeness: at most `per_bucket` requests at once, and at least
/// `spacing` between the starts of two requests, so a config with 500 feeds
/// on one site never bursts. Also holds pauses asked for by `Retry-After`.
/// Keyed by [`domain_key`]; the config still calls these limits
/// `per_host_*`.
#[derive(Debug)]
struct Buckets {
    per_bucket: usize,
    spacing: Duration,
    /// The longest a 429 or 503 may pause a site (`[fetch]
    /// max_retry_after_secs`).
    max_pause: Duration,
    gates: Mutex<HashMap<String, Arc<Gate>>>,
    /// The last [`CrawlPlace::place`] given; one count for every site, so
    /// a hop to another site keeps its order there too.
    places: AtomicU64,
}

#[derive(Debug)]
struct Gate {
    permits: Arc<Semaphore>,
    next_start: tokio::sync::Mutex<tokio::time::Instant>,
    /// Turns of requests with a crawl delay ([`Admitted::crawl_delay`]).
    /// Apart from `next_start`, so feeds never wait for them. A request
    /// waits for its turn before taking a permit, so a page waiting its
    /// turn does not hold up the site's feeds, but takes it only once the
    /// permit is held, before claiming its start ([`Gate::take_crawl_turn`]):
    /// a turn claimed before queueing for the permit would be spent in the
    /// queue, and two pages that queued behind a slow request would then go
    /// out back to back.
    crawl: Mutex<CrawlTurns>,
    /// Told whenever a request leaves the line of `crawl`, so the next one
    /// looks again.
    crawl_moved: Notify,
    paused_until: Mutex<Option<DateTime<Utc>>>,
}

/// A site's turns under its crawl delay.
#[derive(Debug)]
struct CrawlTurns {
    /// The earliest start of the next request with a crawl delay: the
    /// last such start plus its delay.
    next: tokio::time::Instant,
    /// The requests waiting for a turn, by [`CrawlPlace::place`]: the
    /// lowest takes the next one. Before, whichever request took the
    /// site's permit first took the turn, so a redirect hop, which comes
    /// back for a second turn, could lose it to the site's other pages at
    /// every turn until none was left.
    line: BTreeSet<u64>,
}

/// A request's place in its site's line for turns ([`CrawlTurns::line`]),
/// given up when dropped: when the fetch ends or gives up without a turn.
struct InLine<'a> {
    gate: &'a Gate,
    place: u64,
}

impl Drop for InLine<'_> {
    fn drop(&mut self) {
        self.gate.leave_line(self.place);
    }
}

impl Buckets {
    /// A new [`CrawlPlace::place`], after every one given before.
    fn place(&self) -> u64 {
        self.places.fetch_add(1, Ordering::Relaxed)
    }

    /// The gate of bucket `key`, a [`domain_key`].
    fn gate(&self, key: &str) -> Arc<Gate> {
        let mut gates = self.gates.lock().unwrap_or_else(|p| p.into_inner());
        Arc::clone(gates.entry(key.to_string()).or_insert_with(|| {
            Arc::new(Gate {
                permits: Arc::new(Semaphore::new(self.per_bucket)),
                next_start: tokio::sync::Mutex::new(tokio::time::Instant::now()),
                crawl: Mutex::new(CrawlTurns {
                    next: tokio::time::Instant::now(),
                    line: BTreeSet::new(),
                }),
                crawl_moved: Notify::new(),
                paused_until: Mutex::new(None),
            })
        }))
    }
}

impl Gate {
    fn pause(&self, until: DateTime<Utc>) {
        let mut paused = self.paused_until.lock().unwrap_or_else(|p| p.into_inner());
        if paused.is_none_or(|p| p < until) {
            *paused = Some(until);
        }
    }

    /// Claims the next start on this site, `spacing` after the one
    /// before; returns when to start if that is later than now. Only a
    /// real wait should go to the timer: it rounds every deadline up to its
    /// next millisecond tick, so sleeping until now made each request wait
    /// up to a millisecond for nothing (a 304 from loopback took 1.06 ms,
    /// most of it that).
    async fn claim_start(&self, spacing: Duration) -> Option<tokio::time::Instant> {
        claim(&mut *self.next_start.lock().await, spacing)
    }

    fn crawl_turns(&self) -> std::sync::MutexGuard<'_, CrawlTurns> {
        self.crawl.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Puts the request at `place` in the line for turns, until it takes
    /// one or the returned guard is dropped.
    fn line_up(&self, place: u64) -> InLine<'_> {
        self.crawl_turns().line.insert(place);
        InLine { gate: self, place }
    }

    fn leave_line(&self, place: u64) {
        if self.crawl_turns().line.remove(&place) {
            self.crawl_moved.notify_waiters();
        }
    }

    /// When the next request with a crawl delay may start: the next turn,
    /// or now if that has passed; and whether the request at `place` is
    /// first in line for it. Only a look: [`Gate::take_crawl_turn`] takes
    /// it.
    fn crawl_turn(&self, place: u64) -> (tokio::time::Instant, bool) {
        let turns = self.crawl_turns();
        let first = turns.line.first().is_none_or(|p| *p == place);
        (turns.next.max(tokio::time::Instant::now()), first)
    }

    /// Takes the crawl turn for the request at `place`, starting now, if
    /// the turn has come and the request is first in line, moves it
    /// `delay` on and takes the request out of the line; `false` if the
    /// turn is not yet, or a request that came first is now in line, so
    /// this one must wait.
    fn take_crawl_turn(&self, place: u64, delay: Duration) -> bool {
        let mut turns = self.crawl_turns();
        let now = tokio::time::Instant::now();
        if turns.next > now || turns.line.first().is_some_and(|p| *p != place) {
            return false;
        }
        turns.next = now + delay;
        turns.line.remove(&place);
        drop(turns);
        self.crawl_moved.notify_waiters();
        true
    }

    /// The turn just taken starts at `start` (the site's spacing puts
    /// it off): the next turn is `delay` after that.
    fn crawl_turn_after(&self, start: tokio::time::Instant, delay: Duration) {
        let mut turns = self.crawl_turns();
        turns.next = turns.next.max(start + delay);
    }

    fn paused_until(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let paused = *self.paused_until.lock().unwrap_or_else(|p| p.into_inner());
        paused.filter(|u| *u > now)
    }
}

/// Claims the start `next` holds (or now, if that has passed) and moves
/// `next` `gap` past it; returns the start if it is later than now.
fn claim(next: &mut tokio::time::Instant, gap: Duration) -> Option<tokio::time::Instant> {
    let now = tokio::time::Instant::now();
    let start = (*next).max(now);
    *next = start + gap;
    (start > now).then_some(start)
}

/// What feed requests accept.
const ACCEPT_FEEDS: &str = "application/rss+xml, application/atom+xml, application/feed+json, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.8";

/// What article page requests accept (`Fetcher::for_pages`).
const ACCEPT_PAGES: &str = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5";

/// The process-wide feed fetcher.
#[derive(Debug, Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    max_body: usize,
    timeout: Duration,
    accept: &'static str,
    /// A body over `max_body` is cut there instead of refused.
    keep_prefix: bool,
    buckets: Arc<Buckets>,
    /// Read again when an answer comes: a `Retry-After` in seconds counts
    /// from then ([`FetchError::Throttled`]'s `answered_at`), as the server
    /// counts it, not from when the fetch began, which may be a site's
    /// spacing and a slow server's timeout earlier. Feeds, article pages
    /// and robots.txt alike.
    clock: SharedClock,
}

impl Fetcher {
    pub fn new(cfg: &FetchConfig, clock: SharedClock) -> Result<Self, FetchError> {
        Self::resolving(cfg, &[], clock)
    }

    /// Like [`Fetcher::new`], but each name in `names` connects to its
    /// address instead of asking DNS, as curl's `--resolve` does; the port
    /// still comes from the URL. The daemon never uses it: tests serve
    /// several domain names from one loopback server with it.
    pub fn resolving(
        cfg: &FetchConfig,
        names: &[(&str, IpAddr)],
        clock: SharedClock,
    ) -> Result<Self, FetchError> {
        let mut builder = crate::trust::client_builder();
        for (name, ip) in names {
            builder = builder.resolve(name, SocketAddr::new(*ip, 0));
        }
        let client = builder
            .user_agent(cfg.user_agent.clone())
            .connect_timeout(cfg.connect_timeout)
            // The total timeout covers the body too, so a server that drips
            // one byte a second is cut off.
            .timeout(cfg.timeout)
            // Followed by hand: we need to know each hop's status.
            .redirect(reqwest::redirect::Policy::none())
            // Decoded by hand: we count wire bytes and cap decoded bytes.
            .no_gzip()
            .no_brotli()
            .no_deflate()
            // A kept connection pays off only for the next feed of the same
            // site in the same burst, which the per-site spacing delays.
            // Kept longer, every site polled in the last minute and a half
            // held a socket and its buffers: 25 KB each, 323 MiB at
            // 10,000 sites (bench/results/scale-pilots.md).
            .pool_idle_timeout(cfg.per_host_spacing * 2 + Duration::from_secs(2))
            .tcp_nodelay(true)
            .build()
            .map_err(|e| FetchError::Client(e.to_string()))?;
        Ok(Fetcher {
            client,
            max_body: cfg.max_body_bytes,
            timeout: cfg.timeout,
            accept: ACCEPT_FEEDS,
            keep_prefix: false,
            buckets: Arc::new(Buckets {
                per_bucket: cfg.per_host_concurrency,
                spacing: cfg.per_host_spacing,
                max_pause: cfg.max_retry_after,
                gates: Mutex::new(HashMap::new()),
                places: AtomicU64::new(0),
            }),
            clock,
        })
    }

    /// A fetcher for article pages (`[[feeds]] fulltext`): the same
    /// client, user agent, per-site limits and pauses as this one (a page
    /// and a feed on one site share its budget), with its own size and
    /// time caps, asking for HTML.
    pub fn for_pages(&self, max_body: usize, timeout: Duration) -> Fetcher {
        Fetcher {
            max_body,
            timeout,
            accept: ACCEPT_PAGES,
            ..self.clone()
        }
    }

    /// This fetcher, sending `accept` as its `Accept` header: for
    /// documents that are neither feeds nor pages, such as robots.txt.
    pub fn accepting(self, accept: &'static str) -> Fetcher {
        Fetcher { accept, ..self }
    }

    /// This fetcher, but a body longer than its cap is cut at the cap
    /// (and marked [`Transfer::truncated`]) instead of refused: for
    /// documents whose start is useful alone, such as robots.txt.
    pub fn keeping_prefix(self) -> Fetcher {
        Fetcher {
            keep_prefix: true,
            ..self
        }
    }

    /// Pauses every request to `host`'s bucket until `until` (from a
    /// Retry-After), across all feeds in it. `host` is a bucket key
    /// ([`domain_key`]) or a plain `host[:port]`, such as a `host_pauses` row
    /// written before buckets were registrable domains: both land in the
    /// same bucket.
    pub fn pause_host(&self, host: &str, until: DateTime<Utc>) {
        self.buckets.gate(&domain_key_of_host(host)).pause(until);
    }

    /// Pauses `site`'s bucket as a 429 or 503 at `now` asked: for its
    /// `retry_after` (none means an hour), at most `[fetch]
    /// max_retry_after_secs`, ending on a whole second. Returns until when.
    /// Feeds, article pages and robots.txt all pause a site through this
    /// one rule.
    pub fn pause_as_asked(
        &self,
        site: &str,
        retry_after: Option<Duration>,
        now: DateTime<Utc>,
    ) -> DateTime<Utc> {
        let wait = retry_after
            .unwrap_or(Duration::from_secs(3600))
            .min(self.buckets.max_pause);
        let until = chrono::Duration::from_std(wait)
            .ok()
            .and_then(|d| now.checked_add_signed(d))
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        // Cut to the second, as the quote side's cooldown is: a feed's
        // next poll is the first firing at or after the pause, and cron
        // fires on whole seconds. Counted to the millisecond (12:00:00.005
        // + an hour), the pause ended just after the 13:00:00 firing; that
        // poll, started a few ms past 13:00:00, could find the site still
        // paused, was deferred to the next firing, and a whole period was
        // lost. At most a second early by the server's count, which
        // `Retry-After`'s whole seconds cannot tell; and the archive keeps
        // whole seconds, so a restart reads back the same end.
        let until = until.with_nanosecond(0).unwrap_or(until);
        self.pause_host(site, until);
        until
    }

    /// When `host`'s bucket may be asked again, if it is paused at `now`.
    pub fn host_paused_until(&self, host: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.buckets
            .gate(&domain_key_of_host(host))
            .paused_until(now)
    }

    /// Fetches `url`, conditionally when `validators` are known.
    pub async fn fetch(
        &self,
        url: &Url,
        validators: &Validators,
        user_agent: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Fetched, FetchError> {
        self.fetch_checked(url, validators, user_agent, now, &Unchecked)
            .await
    }

    /// [`Fetcher::fetch`], asking `check` before each request, the first
    /// and every redirect hop: a hop it refuses is not sent, and the fetch
    /// ends with [`FetchError::Refused`].
    pub async fn fetch_checked(
        &self,
        url: &Url,
        validators: &Validators,
        user_agent: Option<&str>,
        now: DateTime<Utc>,
        check: &impl HopCheck,
    ) -> Result<Fetched, FetchError> {
        self.fetch_within(url, validators, user_agent, now, check)
            .await
    }

    /// A fetch begun at `now`; the answer comes at `clock`'s reading
    /// then, or at `now` without one.
    async fn fetch_within(
        &self,
        url: &Url,
        validators: &Validators,
        user_agent: Option<&str>,
        now: DateTime<Utc>,
        check: &impl HopCheck,
    ) -> Result<Fetched, FetchError> {
        if url.scheme() == "file" {
            return self.fetch_file(url).await;
        }
        let mut current = url.clone();
        // The URL that redirected to `current`, if any.
        let mut from: Option<Url> = None;
        let mut transfer = Transfer::default();
        let mut visited: HashSet<Url> = HashSet::from([url.clone()]);
        // The timeout is the whole fetch's: the hops of a redirect chain
        // share it, and so do the checks before them (robots.txt). Time
        // waiting for the site's turn (its crawl delay, concurrency and
        // spacing) does not count: that wait is ours, not the site's
        // slowness, and is bounded apart (`CRAWL_PATIENCE`).
        let mut spent = Duration::ZERO;
        // The fetch's place in line for its site's turns: the link's, kept
        // by its hops.
        let mut place = None;
        let left = |spent: Duration| {
            self.timeout
                .checked_sub(spent)
                .filter(|left| !left.is_zero())
                .ok_or(FetchError::Timeout(self.timeout))
        };
        loop {
            let asked = tokio::time::Instant::now();
            // Asked before the site's permit is taken: the check may itself
            // fetch from the site (its robots.txt).
            let admitted = check
                .admit(&current, from.as_ref(), now, asked + left(spent)?)
                .await
                .map_err(FetchError::Refused)?;
            spent += asked.elapsed();
            let budget = left(spent)?;
            // The site's permit is held until the body is read, so a
            // slow download counts against the site's concurrency.
            let crawl = admitted.crawl_delay.map(|delay| CrawlPlace {
                delay,
                place: *place.get_or_insert_with(|| self.buckets.place()),
                // Only the link may be put back for its turn.
                patience: transfer.hops.is_empty().then_some(CRAWL_PATIENCE),
            });
            let (resp, _permit, took) = self
                .send(&current, validators, user_agent, now, budget, crawl)
                .await?;
            spent += took;
            let status = resp.status();
            if status.is_redirection() && status != StatusCode::NOT_MODIFIED {
                let to = resp
                    .headers()
                    .get(LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|l| current.join(l.trim()).ok())
                    // Out of http(s) (`ftp:`, `file:`) is no redirect we
                    // follow: a permanent error, not a failed transfer.
                    .filter(crate::link::is_web)
                    .ok_or(FetchError::BadRedirect)?;
                transfer.hops.push(Hop {
                    status: status.as_u16(),
                    to: to.clone(),
                });
                if !visited.insert(to.clone()) {
                    return Err(FetchError::RedirectLoop(transfer.hops));
                }
                if transfer.hops.len() > MAX_REDIRECTS {
                    return Err(FetchError::TooManyRedirects(transfer.hops));
                }
                from = Some(std::mem::replace(&mut current, to));
                continue;
            }
            // Never before the start: a clock stepped back meanwhile
            // would end the pause before the poll that earned it began.
            let answered_at = self.clock.now().max(now);
            return self.finish(resp, transfer, answered_at).await;
        }
    }

    async fn send(
        &self,
        url: &Url,
        validators: &Validators,
        user_agent: Option<&str>,
        now: DateTime<Utc>,
        timeout: Duration,
        crawl: Option<CrawlPlace>,
    ) -> Result<(reqwest::Response, OwnedSemaphorePermit, Duration), FetchError> {
        let key = domain_key(url);
        let gate = self.buckets.gate(&key);
        let paused = |gate: &Gate| match gate.paused_until(now) {
            Some(until) => Err(FetchError::HostPaused {
                host: key.clone(),
                until,
            }),
            None => Ok(()),
        };
        paused(&gate)?;
        let _line = crawl.map(|c| gate.line_up(c.place));
        // Handed back with the response: the caller holds it while it
        // reads the body.
        let permit = loop {
            if let Some(CrawlPlace {
                patience, place, ..
            }) = crawl
            {
                // Listening before looking, so a move in between is heard.
                let mut moved = std::pin::pin!(gate.crawl_moved.notified());
                moved.as_mut().enable();
                let (turn, first) = gate.crawl_turn(place);
                let wait = turn.saturating_duration_since(tokio::time::Instant::now());
                if patience.is_some_and(|p| wait > p) {
                    return Err(FetchError::CrawlTurn {
                        host: key,
                        until: now
                            + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX),
                    });
                }
                if !first {
                    moved.await;
                    continue;
                }
                if !wait.is_zero() {
                    tokio::time::sleep_until(turn).await;
                }
            }
            let permit = Arc::clone(&gate.permits)
                .acquire_owned()
                .await
                .expect("host semaphores are never closed");
            // The turn moved on while this one queued for the permit (the
            // spacing put off the last turn's start), or a request that
            // came first lined up meanwhile: give the permit back and wait
            // for the next turn, which may be too far off for a link now. Asked before the
            // site's spacing is claimed, so a lost turn spends no start
            // of the site's (its feeds' too).
            let delay = crawl.map(|c| c.delay);
            if crawl.is_some_and(|c| !gate.take_crawl_turn(c.place, c.delay)) {
                continue;
            }
            if let Some(start) = gate.claim_start(self.buckets.spacing).await {
                if let Some(delay) = delay {
                    gate.crawl_turn_after(start, delay);
                }
                tokio::time::sleep_until(start).await;
            }
            // The request ahead may have been told to wait (a 429): those
            // queued behind it wait too, rather than go out anyway.
            paused(&gate)?;
            break permit;
        };
        let mut headers = HeaderMap::new();
        let mut put = |name, value: Option<&str>| {
            if let Some(v) = value.and_then(|v| HeaderValue::from_str(v).ok()) {
                headers.insert(name, v);
            }
        };
        put(IF_NONE_MATCH, validators.etag.as_deref());
        put(IF_MODIFIED_SINCE, validators.last_modified.as_deref());
        put(USER_AGENT, user_agent);
        put(ACCEPT_ENCODING, Some("gzip, deflate, br"));
        put(ACCEPT, Some(self.accept));
        let sent = tokio::time::Instant::now();
        let resp = self
            .client
            .get(url.clone())
            .headers(headers)
            // What is left of this fetcher's timeout (the client's is the
            // feeds'; pages have their own).
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| self.transport_error(e))?;
        Ok((resp, permit, sent.elapsed()))
    }

    /// Reads the answer `resp`, which came at `answered_at`.
    async fn finish(
        &self,
        mut resp: reqwest::Response,
        mut transfer: Transfer,
        answered_at: DateTime<Utc>,
    ) -> Result<Fetched, FetchError> {
        let status = resp.status();
        let headers = resp.headers().clone();
        let header = |name| {
            headers
                .get(name)
                .and_then(|v: &HeaderValue| v.to_str().ok())
                .map(str::to_string)
        };
        let validators = Validators {
            etag: header(ETAG),
            last_modified: header(LAST_MODIFIED),
        };
        transfer.cache_hint = cache_hint(
            header(CACHE_CONTROL).as_deref(),
            header(EXPIRES).as_deref(),
            header(DATE).as_deref(),
            header(AGE).as_deref(),
            answered_at,
        );
        transfer.links = headers
            .get_all(LINK)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(str::to_string)
            .collect();
        if status == StatusCode::NOT_MODIFIED {
            return Ok(Fetched::NotModified {
                validators,
                transfer,
            });
        }
        if status == StatusCode::GONE {
            return Err(FetchError::Gone);
        }
        // 429 always means "slow down"; 503 only when it says for how long
        // (without Retry-After it is an ordinary outage, and backoff applies).
        // A date is as far off as it is from the answer's arrival.
        let retry_after = header(RETRY_AFTER).and_then(|v| parse_retry_after(&v, answered_at));
        if status.as_u16() == 429 || (status.as_u16() == 503 && retry_after.is_some()) {
            return Err(FetchError::Throttled {
                status: status.as_u16(),
                retry_after,
                answered_at,
                site: domain_key(resp.url()),
            });
        }
        if !status.is_success() {
            return Err(FetchError::Status {
                status: status.as_u16(),
            });
        }
        let mut sink = Decoder::new(
            header(CONTENT_ENCODING).as_deref(),
            Capped::new(self.max_body, self.keep_prefix),
        )?;
        while let Some(chunk) = resp.chunk().await.map_err(|e| self.transport_error(e))? {
            transfer.wire_bytes += chunk.len() as u64;
            sink.write(&chunk)?;
            if sink.capped().overflowed {
                // The rest is not wanted: stop reading (and decompressing).
                transfer.truncated = true;
                break;
            }
        }
        let body = if transfer.truncated {
            std::mem::take(&mut sink.capped_mut().buf)
        } else {
            sink.finish()?
        };
        Ok(Fetched::Body {
            status: status.as_u16(),
            body,
            content_type: header(CONTENT_TYPE),
            validators,
            transfer,
        })
    }

    async fn fetch_file(&self, url: &Url) -> Result<Fetched, FetchError> {
        let path = url.to_file_path().map_err(|()| FetchError::File {
            path: url.to_string(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a local path"),
        })?;
        let file_err = |source| FetchError::File {
            path: path.display().to_string(),
            source,
        };
        let file = tokio::fs::File::open(&path).await.map_err(file_err)?;
        let mut body = Vec::new();
        file.take(self.max_body as u64 + 1)
            .read_to_end(&mut body)
            .await
            .map_err(file_err)?;
        if body.len() > self.max_body {
            return Err(FetchError::TooLarge { cap: self.max_body });
        }
        Ok(Fetched::Body {
            status: 200,
            transfer: Transfer {
                wire_bytes: body.len() as u64,
                ..Transfer::default()
            },
            body,
            content_type: None,
            validators: Validators::default(),
        })
    }

    fn transport_error(&self, e: reqwest::Error) -> FetchError {
        if e.is_timeout() {
            FetchError::Timeout(self.timeout)
        } else if e.is_connect() {
            // reqwest's own message is vague ("error sending request");
            // its causes say what happened (refused, DNS, TLS...).
            FetchError::Connect(error_chain(&e))
        } else {
            FetchError::Transfer(error_chain(&e))
        }
    }
}

/// A `Write` that does not grow past `cap`: it refuses what would, or,
/// keeping a prefix, keeps what fits and drops the rest.
struct Capped {
    buf: Vec<u8>,
    cap: usize,
    keep_prefix: bool,
    /// More was written than fits (only when keeping a prefix).
    overflowed: bool,
}

impl Capped {
    fn new(cap: usize, keep_prefix: bool) -> Self {
        Capped {
            buf: Vec::new(),
            cap,
            keep_prefix,
            overflowed: false,
        }
    }
}

impl Write for Capped {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let room = self.cap - self.buf.len();
        if data.len() > room {
            if !self.keep_prefix {
                return Err(std::io::Error::other(TOO_LARGE));
            }
            self.overflowed = true;
        }
        self.buf.extend_from_slice(&data[..data.len().min(room)]);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

const TOO_LARGE: &str = "decoded body over the cap";

/// Decodes a body as it arrives, into a capped buffer.
enum Decoder {
    Identity(Capped),
    Gzip(Box<flate2::write::MultiGzDecoder<Capped>>),
    Deflate(Option<Capped>, Option<Box<dyn DeflateWrite>>),
    Brotli(Box<brotli_decompressor::DecompressorWriter<Capped>>),
}

/// HTTP "deflate" is meant to be zlib-wrapped, but some servers send raw
/// deflate; the first byte tells which.
trait DeflateWrite: Write + Send {
    fn finish_into(self: Box<Self>) -> std::io::Result<Capped>;
    fn capped(&self) -> &Capped;
    fn capped_mut(&mut self) -> &mut Capped;
}

impl DeflateWrite for flate2::write::ZlibDecoder<Capped> {
    fn finish_into(self: Box<Self>) -> std::io::Result<Capped> {
        (*self).finish()
    }
    fn capped(&self) -> &Capped {
        self.get_ref()
    }
    fn capped_mut(&mut self) -> &mut Capped {
        self.get_mut()
    }
}

impl DeflateWrite for flate2::write::DeflateDecoder<Capped> {
    fn finish_into(self: Box<Self>) -> std::io::Result<Capped> {
        (*self).finish()
    }
    fn capped(&self) -> &Capped {
        self.get_ref()
    }
    fn capped_mut(&mut self) -> &mut Capped {
        self.get_mut()
    }
}

impl Decoder {
    fn new(encoding: Option<&str>, sink: Capped) -> Result<Self, FetchError> {
        let enc = encoding.unwrap_or("identity").trim().to_ascii_lowercase();
        Ok(match enc.as_str() {
            "" | "identity" => Decoder::Identity(sink),
            "gzip" | "x-gzip" => Decoder::Gzip(Box::new(flate2::write::MultiGzDecoder::new(sink))),
            "deflate" => Decoder::Deflate(Some(sink), None),
            "br" => Decoder::Brotli(Box::new(brotli_decompressor::DecompressorWriter::new(
                sink, 8192,
            ))),
            other => {
                return Err(FetchError::Decode {
                    encoding: other.to_string(),
                    reason: "unsupported content encoding".into(),
                });
            }
        })
    }

    fn name(&self) -> &'static str {
        match self {
            Decoder::Identity(_) => "identity",
            Decoder::Gzip(_) => "gzip",
            Decoder::Deflate(..) => "deflate",
            Decoder::Brotli(_) => "br",
        }
    }

    fn map_err(&self, e: std::io::Error, cap: usize) -> FetchError {
        if e.to_string().contains(TOO_LARGE) {
            FetchError::TooLarge { cap }
        } else {
            FetchError::Decode {
                encoding: self.name().into(),
                reason: e.to_string(),
            }
        }
    }

    fn capped(&self) -> &Capped {
        match self {
            Decoder::Identity(c) => c,
            Decoder::Gzip(d) => d.get_ref(),
            Decoder::Deflate(_, Some(d)) => d.capped(),
            Decoder::Deflate(Some(c), None) => c,
            Decoder::Deflate(None, None) => unreachable!("the sink moves into the decoder"),
            Decoder::Brotli(d) => d.get_ref(),
        }
    }

    fn capped_mut(&mut self) -> &mut Capped {
        match self {
            Decoder::Identity(c) => c,
            Decoder::Gzip(d) => d.get_mut(),
            Decoder::Deflate(_, Some(d)) => d.capped_mut(),
            Decoder::Deflate(Some(c), None) => c,
            Decoder::Deflate(None, None) => unreachable!("the sink moves into the decoder"),
            Decoder::Brotli(d) => d.get_mut(),
        }
    }

    fn cap(&self) -> usize {
        self.capped().cap
    }

    fn write(&mut self, data: &[u8]) -> Result<(), FetchError> {
        let cap = self.cap();
        if let Decoder::Deflate(sink, dec) = self
            && dec.is_none()
            && !data.is_empty()
        {
            let sink = sink.take().expect("sink present until the first byte");
            // zlib streams start with 0x78 (deflate, 32K window).
            *dec = Some(if data[0] == 0x78 {
                Box::new(flate2::write::ZlibDecoder::new(sink))
            } else {
                Box::new(flate2::write::DeflateDecoder::new(sink))
            });
        }
        let result = match self {
            Decoder::Identity(c) => c.write_all(data),
            Decoder::Gzip(d) => d.write_all(data),
            Decoder::Deflate(_, Some(d)) => d.write_all(data),
            Decoder::Deflate(_, None) => Ok(()),
            Decoder::Brotli(d) => d.write_all(data),
        };
        result.map_err(|e| self.map_err(e, cap))
    }

    fn finish(self) -> Result<Vec<u8>, FetchError> {
        let name = self.name();
        let cap = self.cap();
        let err = |e: std::io::Error| {
            if e.to_string().contains(TOO_LARGE) {
                FetchError::TooLarge { cap }
            } else {
                FetchError::Decode {
                    encoding: name.into(),
                    reason: e.to_string(),
                }
            }
        };
        Ok(match self {
            Decoder::Identity(c) => c.buf,
            Decoder::Gzip(d) => d.finish().map_err(err)?.buf,
            Decoder::Deflate(Some(c), None) => c.buf,
            Decoder::Deflate(_, Some(d)) => d.finish_into().map_err(err)?.buf,
            Decoder::Deflate(None, None) => Vec::new(),
            Decoder::Brotli(mut d) => {
                d.close().map_err(err)?;
                d.into_inner()
                    .map_err(|_| FetchError::Decode {
                        encoding: name.into(),
                        reason: "truncated stream".into(),
                    })?
                    .buf
            }
        })
    }
}

/// How long the response stays fresh from now: its freshness lifetime,
/// `Cache-Control: max-age` (unless `no-cache`/`no-store`) else `Expires`
/// less `Date`, minus the `Age` a cache on the way says it already had
/// (RFC 9111 §4.2). Behind a CDN that has held a `max-age=900` answer
/// for 870 s, 30 s are left, not 15 min. Without `Date`, `Expires` less
/// now is already what is left. `Expires: 0`, past dates, and an `Age`
/// past the lifetime mean no hint; an unreadable `Age` is ignored, as
/// RFC 9111 §5.1 says.
pub fn cache_hint(
    cache_control: Option<&str>,
    expires: Option<&str>,
    date: Option<&str>,
    age: Option<&str>,
    now: DateTime<Utc>,
) -> Option<Duration> {
    let age = age
        .and_then(|a| a.trim().parse::<u64>().ok())
        .map_or(Duration::ZERO, Duration::from_secs);
    let left = |lifetime: Duration| Some(lifetime.saturating_sub(age)).filter(|d| !d.is_zero());
    if let Some(cc) = cache_control {
        let directives: Vec<String> = cc
            .split(',')
            .map(|d| d.trim().to_ascii_lowercase())
            .collect();
        if directives
            .iter()
            .any(|d| d == "no-cache" || d == "no-store")
        {
            return None;
        }
        if let Some(max_age) = directives.iter().find_map(|d| {
            d.strip_prefix("max-age=")
                .and_then(|v| v.trim_matches('"').parse::<u64>().ok())
        }) {
            return left(Duration::from_secs(max_age));
        }
    }
    let expires: DateTime<Utc> = httpdate::parse_http_date(expires?.trim()).ok()?.into();
    match date.and_then(|d| httpdate::parse_http_date(d.trim()).ok()) {
        Some(date) => left((expires - DateTime::<Utc>::from(date)).to_std().ok()?),
        None => (expires - now).to_std().ok().filter(|d| !d.is_zero()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Buckets with `spacing` between starts.
    fn buckets(spacing: Duration) -> Buckets {
        Buckets {
            per_bucket: 4,
            spacing,
            max_pause: Duration::from_secs(86_400),
            gates: Mutex::default(),
            places: AtomicU64::new(0),
        }
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-24T12:00:00Z")
            .unwrap()
            .into()
    }

    #[test]
    fn cache_hints() {
        let h = |cc, exp, date| cache_hint(cc, exp, date, None, now());
        assert_eq!(
            h(Some("public, max-age=3600"), None, None),
            Some(Duration::from_secs(3600))
        );
        assert_eq!(h(Some("no-cache, max-age=3600"), None, None), None);
        assert_eq!(
            h(
                None,
                Some("Tue, 24 Nov 2026 13:00:00 GMT"),
                Some("Tue, 24 Nov 2026 12:30:00 GMT")
            ),
            Some(Duration::from_secs(1800))
        );
        assert_eq!(h(None, Some("0"), None), None);
        assert_eq!(h(Some("max-age=0"), None, None), None);
    }

    /// What a cache on the way already spent of the lifetime (`Age`) is
    /// not waited for again.
    #[test]
    fn cache_hints_count_the_age_a_cache_gave_the_answer() {
        let h = |cc, exp, date, age| cache_hint(cc, exp, date, Some(age), now());
        let secs = |s| Some(Duration::from_secs(s));
        // A CDN has held a 15-minute answer for 14.5 minutes.
        assert_eq!(h(Some("public, max-age=900"), None, None, "870"), secs(30));
        assert_eq!(
            h(
                None,
                Some("Tue, 24 Nov 2026 13:00:00 GMT"),
                Some("Tue, 24 Nov 2026 12:30:00 GMT"),
                "600"
            ),
            secs(1200)
        );
        // Stale already: no hint, never one past zero.
        assert_eq!(h(Some("max-age=900"), None, None, "900"), None);
        assert_eq!(h(Some("max-age=900"), None, None, "86400"), None);
        assert_eq!(
            h(
                None,
                Some("Tue, 24 Nov 2026 13:00:00 GMT"),
                Some("Tue, 24 Nov 2026 12:30:00 GMT"),
                "3600"
            ),
            None
        );
        // An unreadable Age is ignored.
        for age in ["", "soon", "-5", "1.5", "10, 20"] {
            assert_eq!(
                h(Some("max-age=900"), None, None, age),
                secs(900),
                "{age:?}"
            );
        }
        // Without Date, Expires less now is already what is left.
        assert_eq!(
            h(None, Some("Tue, 24 Nov 2026 12:30:00 GMT"), None, "600"),
            secs(1800)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_waits_only_for_the_spacing_it_owes() {
        // No spacing: every request may start now, so none waits.
        let free = buckets(Duration::ZERO).gate("a.test");
        assert_eq!(free.claim_start(Duration::ZERO).await, None);
        assert_eq!(free.claim_start(Duration::ZERO).await, None);
        // Spaced: the first starts now, the next two a spacing apart.
        let spacing = Duration::from_millis(100);
        let spaced = buckets(spacing).gate("b.test");
        let t0 = tokio::time::Instant::now();
        assert_eq!(spaced.claim_start(spacing).await, None);
        assert_eq!(spaced.claim_start(spacing).await, Some(t0 + spacing));
        assert_eq!(spaced.claim_start(spacing).await, Some(t0 + 2 * spacing));
    }

    #[tokio::test(start_paused = true)]
    async fn crawl_turns_are_kept_apart_from_the_spacing() {
        let buckets = buckets(Duration::ZERO);
        let gate = buckets.gate("c.test");
        let delay = Duration::from_secs(1);
        let t0 = tokio::time::Instant::now();
        let (first, second) = (buckets.place(), buckets.place());
        assert_eq!(gate.crawl_turn(first), (t0, true));
        assert!(gate.take_crawl_turn(first, delay));
        // Looking is not taking; a second request now must wait.
        assert_eq!(gate.crawl_turn(second), (t0 + delay, true));
        assert_eq!(gate.crawl_turn(second), (t0 + delay, true));
        assert!(!gate.take_crawl_turn(second, delay));
        // A request without a crawl delay (a feed) does not queue behind them.
        assert_eq!(gate.claim_start(Duration::ZERO).await, None);
        // The turn is measured from when it is taken, not when it came:
        // one taken late moves the next one a whole delay past that.
        tokio::time::advance(3 * delay).await;
        assert_eq!(gate.crawl_turn(second), (t0 + 3 * delay, true));
        assert!(gate.take_crawl_turn(second, delay));
        assert_eq!(gate.crawl_turn(second), (t0 + 4 * delay, true));
    }

    #[tokio::test(start_paused = true)]
    async fn crawl_turns_go_first_come_first_served() {
        let buckets = buckets(Duration::ZERO);
        let gate = buckets.gate("c.test");
        let delay = Duration::from_secs(1);
        let t0 = tokio::time::Instant::now();
        let (link, other) = (buckets.place(), buckets.place());
        // The link takes its turn; its redirect hop lines up after a page
        // that asked later.
        assert!(gate.take_crawl_turn(link, delay));
        let waiting = gate.line_up(other);
        let hop = gate.line_up(link);
        tokio::time::advance(delay).await;
        assert_eq!(gate.crawl_turn(other), (t0 + delay, false));
        assert!(!gate.take_crawl_turn(other, delay));
        assert!(gate.take_crawl_turn(link, delay));
        drop(hop);
        assert_eq!(gate.crawl_turn(other), (t0 + 2 * delay, true));
        // A request that gives up its place lets the next one go.
        let late = buckets.place();
        let _late = gate.line_up(late);
        drop(waiting);
        tokio::time::advance(delay).await;
        assert!(gate.take_crawl_turn(late, delay));
    }

    #[test]
    fn decoders_stop_at_the_cap() {
        let big = vec![b'a'; 100_000];
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(&big).unwrap();
        let gz = gz.finish().unwrap();
        let mut d = Decoder::new(Some("gzip"), Capped::new(10_000, false)).unwrap();
        let err = d.write(&gz).unwrap_err();
        assert!(matches!(err, FetchError::TooLarge { cap: 10_000 }), "{err}");

        let mut d = Decoder::new(Some("gzip"), Capped::new(1_000_000, false)).unwrap();
        d.write(&gz).unwrap();
        assert_eq!(d.finish().unwrap(), big);
    }

    #[test]
    fn a_prefix_is_kept_in_every_encoding() {
        let big: Vec<u8> = (0..100_000u32).flat_map(|i| i.to_le_bytes()).collect();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&big).unwrap();
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        z.write_all(&big).unwrap();
        let mut br = Vec::new();
        {
            let mut w = brotli::CompressorWriter::new(&mut br, 4096, 5, 22);
            w.write_all(&big).unwrap();
        }
        for (encoding, body) in [
            ("identity", big.clone()),
            ("gzip", gz.finish().unwrap()),
            ("deflate", z.finish().unwrap()),
            ("br", br),
        ] {
            let mut d = Decoder::new(Some(encoding), Capped::new(10_000, true)).unwrap();
            for chunk in body.chunks(4096) {
                d.write(chunk).unwrap();
                if d.capped().overflowed {
                    break;
                }
            }
            assert!(d.capped().overflowed, "{encoding}");
            assert_eq!(d.capped().buf, big[..10_000], "{encoding}");
            // Refusing, the same body is an error naming the cap.
            let mut d = Decoder::new(Some(encoding), Capped::new(10_000, false)).unwrap();
            let err = body
                .chunks(4096)
                .try_for_each(|chunk| d.write(chunk))
                .unwrap_err();
            assert!(
                matches!(err, FetchError::TooLarge { cap: 10_000 }),
                "{encoding}: {err}"
            );
        }
    }

    #[test]
    fn brotli_decodes_and_is_capped() {
        let text = b"<rss version=\"2.0\"><channel><title>b</title></channel></rss>".repeat(50);
        let mut br = Vec::new();
        {
            let mut w = brotli::CompressorWriter::new(&mut br, 4096, 9, 22);
            w.write_all(&text).unwrap();
        }
        let mut d = Decoder::new(Some("br"), Capped::new(1 << 20, false)).unwrap();
        d.write(&br).unwrap();
        assert_eq!(d.finish().unwrap(), text);
        let mut d = Decoder::new(Some("br"), Capped::new(100, false)).unwrap();
        let capped = d.write(&br).and_then(|()| d.finish().map(|_| ()));
        assert!(
            matches!(capped, Err(FetchError::TooLarge { cap: 100 })),
            "{capped:?}"
        );
    }

    #[test]
    fn raw_and_zlib_deflate_both_decode() {
        let text = b"<rss version=\"2.0\"></rss>".repeat(10);
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(&text).unwrap();
        let mut raw =
            flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        raw.write_all(&text).unwrap();
        for body in [z.finish().unwrap(), raw.finish().unwrap()] {
            let mut d = Decoder::new(Some("deflate"), Capped::new(1 << 20, false)).unwrap();
            d.write(&body).unwrap();
            assert_eq!(d.finish().unwrap(), text);
        }
    }

    #[test]
    fn only_all_permanent_chains_move_a_feed() {
        let u = |s: &str| Url::parse(s).unwrap();
        let t = Transfer {
            hops: vec![
                Hop {
                    status: 301,
                    to: u("https://a/1"),
                },
                Hop {
                    status: 308,
                    to: u("https://a/2"),
                },
            ],
            ..Transfer::default()
        };
        assert_eq!(t.permanently_moved_to(), Some(&u("https://a/2")));
        let t = Transfer {
            hops: vec![
                Hop {
                    status: 301,
                    to: u("https://a/1"),
                },
                Hop {
                    status: 302,
                    to: u("https://a/2"),
                },
            ],
            ..Transfer::default()
        };
        assert_eq!(t.permanently_moved_to(), None);
    }
}
