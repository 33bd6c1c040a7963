//! The refresh pipeline: one feed, one poll, top to bottom.
//!
//! [`Pipeline::refresh_feed`] is the only place that knows the order:
//! fetch, read the answer (parse, normalize and enrich a new document off
//! the async threads), plan the next poll, record. How the poll ended is
//! one [`Outcome`], decided in `Pipeline::read` (or, for a retired feed,
//! before any request) and carried unchanged to the store, metrics, logs
//! and the scheduler. A feed that fails is data,
//! not an error: its failure is recorded on the feed row and in the fetch
//! log, and `refresh_feed` returns `Ok`. Only a failure to write the
//! archive itself comes back as `Err`.
//!
//! A document a WebSub hub pushes ([`Pipeline::ingest_pushed`]) takes the
//! same road from step 2 on, as if a poll had just fetched it; a poll
//! that finds a hub advertised (`hub`) hands it to the subscriber.

pub mod enrich;
pub mod extract;
pub mod fetch;
pub mod fulltext;
pub mod hints;
pub mod hub;
pub mod normalize;
pub mod parse;
pub mod robots;
mod sanitize;
#[cfg(test)]
mod splitmix;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use url::Url;

use crate::clock::SharedClock;
use crate::config::{FeedConfig, FetchConfig};
use crate::metrics::Metrics;
use crate::model::{FeedId, Outcome};
use crate::politeness::domain_key;
use crate::quotes::board::BoardSlot;
use crate::schedule::{DocHints, PollState};
use crate::store::{Attempt, Document, Exchange, FeedRow, IngestSummary, Store, StoreError};
use fetch::{FetchError, Fetched, Fetcher, Transfer, Validators};

/// What a refresh needs, shared by all of them.
#[derive(Debug, Clone)]
pub struct Pipeline {
    pub store: Store,
    pub fetcher: Fetcher,
    pub clock: SharedClock,
    /// The ticker board, when `[market]` is configured (a reload may add
    /// or remove it).
    pub board: BoardSlot,
    /// A board refresh that new items wait for before they are stamped
    /// (their fetch and parse go on meanwhile): the `poll` command's, which
    /// runs beside the pass's first fetches. `None` in the daemon, whose
    /// board refreshes on its own schedule and never holds up ingestion.
    pub board_settled: Option<tokio::sync::watch::Receiver<bool>>,
    /// Backoff, hint and redirect policy (`[fetch]`).
    pub policy: FetchConfig,
    pub metrics: Arc<Metrics>,
    /// Where the hubs polled feeds advertise go: the WebSub subscriber,
    /// when `[websub] callback_url` is set (`None` for one-shot polls).
    pub hubs: Option<tokio::sync::mpsc::UnboundedSender<Discovered>>,
}

/// A poll of feed `feed_id` found `link` advertised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discovered {
    pub feed_id: FeedId,
    pub link: hub::HubLink,
}

/// Where a document came from: a poll, or a hub's push.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Poll,
    Push,
}

/// How a refresh went, for logs, the scheduler and the `poll` summary.
#[derive(Debug, Clone)]
pub struct Refreshed {
    pub outcome: Outcome,
    /// The address asked (the configured one, or where the feed moved),
    /// in the form the archive keeps it ([`crate::link::blank_secrets`]):
    /// what the log and `poll` may show.
    pub url: String,
    pub status: Option<u16>,
    pub summary: IngestSummary,
    pub error: Option<String>,
    pub elapsed_ms: u128,
    pub next_due: DateTime<Utc>,
}

/// What the answer to one request amounts to, before the next poll is
/// planned: everything [`Attempt`] records but the plan.
struct Answer {
    outcome: Outcome,
    error: Option<String>,
    document: Option<Document>,
    validators: Validators,
    exchange: Exchange,
    /// The server's shortest polling interval (caching headers, `<ttl>`,
    /// `sy:updatePeriod`).
    hint: Option<Duration>,
    /// What the document says about its polling, when a body came.
    doc_hints: Option<DocHints>,
    /// The site a 429 or 503 asked to wait (a redirect's target, when the
    /// target answered it): what the archive records as paused.
    paused_site: Option<String>,
    /// The WebSub hub the answer advertises.
    hub: Option<hub::HubLink>,
}

impl Answer {
    fn new(outcome: Outcome) -> Self {
        Answer {
            outcome,
            error: None,
            document: None,
            validators: Validators::default(),
            exchange: Exchange::default(),
            hint: None,
            doc_hints: None,
            paused_site: None,
            hub: None,
        }
    }
}

impl Pipeline {
    /// One poll of `feed`, whose archive row is `row`.
    pub async fn refresh_feed(
        &self,
        feed: &FeedConfig,
        row: &FeedRow,
    ) -> Result<Refreshed, StoreError> {
        if row.retired_at.is_some() {
            // 410 Gone before: no more requests until the config changes.
            return Ok(Refreshed {
                outcome: Outcome::Retired,
                url: row.polled_url().to_owned(),
                status: row.last_status,
                summary: IngestSummary::default(),
                error: row.retired_reason.clone(),
                elapsed_ms: 0,
                next_due: DateTime::<Utc>::MAX_UTC,
            });
        }
        let started_at = self.clock.now();
        let timer = Instant::now();
        // The configured URL, or where it moved after a confirmed
        // permanent redirect (reset by `sync_feeds` when the config changes).
        let url = row.fetch_url(&feed.url);
        let validators = Validators {
            etag: row.etag.clone(),
            last_modified: row.last_modified.clone(),
        };

        // 1 fetch
        let fetched = self
            .fetcher
            .fetch(&url, &validators, feed.user_agent.as_deref(), started_at)
            .await;
        self.conclude(feed, row, url, started_at, timer, fetched, Source::Poll)
            .await
    }

    /// A document a WebSub hub pushed for `feed` (whose row is `row`),
    /// its signature already checked: read, planned and recorded exactly
    /// as if a poll had just fetched it (dedup, snapshot, mentions,
    /// alerts). The validators stay the row's, since no request was made;
    /// the fetch log shows the push with no HTTP status.
    pub async fn ingest_pushed(
        &self,
        feed: &FeedConfig,
        row: &FeedRow,
        body: Vec<u8>,
        content_type: Option<String>,
    ) -> Result<Refreshed, StoreError> {
        let started_at = self.clock.now();
        let timer = Instant::now();
        let url = row.fetch_url(&feed.url);
        let fetched = Ok(Fetched::Body {
            status: 200,
            body,
            content_type,
            validators: Validators {
                etag: row.etag.clone(),
                last_modified: row.last_modified.clone(),
            },
            transfer: Transfer::default(),
        });
        self.conclude(feed, row, url, started_at, timer, fetched, Source::Push)
            .await
    }

    /// Steps 2 to 4 of a poll (or a push) whose answer is `fetched`.
    #[allow(clippy::too_many_arguments)]
    async fn conclude(
        &self,
        feed: &FeedConfig,
        row: &FeedRow,
        url: Url,
        started_at: DateTime<Utc>,
        timer: Instant,
        fetched: Result<Fetched, FetchError>,
        source: Source,
    ) -> Result<Refreshed, StoreError> {
        // 2 read the answer; a new document is parsed, normalized and
        // enriched off the async threads
        let mut answer = self.read(fetched, feed, row, &url).await;
        if source == Source::Push {
            // Nothing crossed the wire from the publisher.
            answer.exchange.status = None;
            answer.exchange.wire_bytes = None;
            answer.hub = None;
        }
        // The archive keeps a move blanked and fills its key back from the
        // config at each fetch: a new home whose key the config cannot
        // give is followed at each poll, never moved to.
        if answer
            .exchange
            .permanent_redirect
            .as_deref()
            .is_some_and(|to| !crate::link::secrets_refillable(to, &feed.url, &feed.filled))
        {
            answer.exchange.permanent_redirect = None;
        }
        // 3 plan the next poll
        let now = self.clock.now();
        let not_before = self.floor(feed, row, &answer, started_at);
        let next_due = PollState {
            last_attempt: Some(started_at),
            not_before,
            skip: answer
                .doc_hints
                .as_ref()
                .map_or_else(|| row.poll_state().skip, |h| h.skip.clone()),
            pushed_until: row.pushed_until,
        }
        .next_due(&feed.schedule, feed.respect_hints, feed.push_fallback, now);
        let hub = answer.hub.take();
        // 4 record
        let (outcome, exchange, error) = (
            answer.outcome,
            answer.exchange.clone(),
            answer.error.clone(),
        );
        let attempt = Attempt {
            feed_id: row.id,
            started_at,
            url: url.to_string(),
            duration: timer.elapsed(),
            outcome,
            error: answer.error,
            document: answer.document,
            etag: answer.validators.etag,
            last_modified: answer.validators.last_modified,
            exchange: answer.exchange,
            next_due,
            not_before,
            doc_hints: answer.doc_hints,
            redirect_confirmations: self.policy.redirect_confirmations,
            pause_key: answer.paused_site.unwrap_or_else(|| domain_key(&url)),
            fulltext: feed.fulltext,
            filled: feed.filled.clone(),
        };
        let summary = self.store.record_attempt(attempt, now).await?;
        self.metrics
            .fetch(outcome, &exchange, timer.elapsed().as_secs_f64(), &summary);
        // Once the poll is recorded: the subscriber decides whether the hub
        // is news (it usually is not).
        if let (Some(link), Some(hubs), Some(_)) = (hub, &self.hubs, feed.push_fallback) {
            let _ = hubs.send(Discovered {
                feed_id: row.id,
                link,
            });
        }
        Ok(Refreshed {
            outcome,
            url: crate::link::blank_secrets(url.as_str(), &feed.filled),
            status: exchange.status,
            summary,
            error,
            elapsed_ms: timer.elapsed().as_millis(),
            next_due,
        })
    }

    /// Turns what the fetch brought back into the poll's [`Outcome`] and
    /// what goes with it. The one place the outcome of a request is decided.
    async fn read(
        &self,
        fetched: Result<Fetched, FetchError>,
        feed: &FeedConfig,
        row: &FeedRow,
        url: &Url,
    ) -> Answer {
        match fetched {
            Err(e) => self.read_error(e, feed),
            Ok(Fetched::NotModified {
                validators,
                transfer,
            }) => {
                let mut answer = Answer::new(Outcome::NotModified);
                answer.hub = self.discover_hub(&transfer.links, b"", url, feed);
                answer.exchange = exchange(Some(304), Some(0), &transfer, url);
                // The document's own hint, as its last copy gave it.
                answer.hint = transfer.cache_hint.max(row.doc_min_interval());
                answer.validators = validators;
                answer
            }
            Ok(Fetched::Body {
                status,
                body,
                content_type,
                validators,
                transfer,
            }) => {
                let body_sha256 = hex::encode(Sha256::digest(&body));
                let doc_hints = hints::from_document(&body);
                let exchange = exchange(Some(status), Some(body.len() as u64), &transfer, url);
                let fetched = exchange
                    .final_url
                    .as_deref()
                    .and_then(|u| Url::parse(u).ok())
                    .unwrap_or_else(|| url.clone());
                // A relative link resolved against `https://user:pass@host/`,
                // `…/rss?api_key=K` or `…/TOKEN/rss` would carry the secret
                // into the item (`#fn1` keeps the query), which is archived
                // and served, and into the log lines that name the base:
                // links name pages, not our access to the feed. A link
                // below a token in the path is left with `****` there.
                let base = Url::parse(&crate::link::without_credentials(
                    fetched.as_str(),
                    &feed.filled,
                ))
                .unwrap_or(fetched);
                let hub = self.discover_hub(&transfer.links, &body, &base, feed);
                let mut answer = if row.body_sha256.as_deref() == Some(body_sha256.as_str()) {
                    // Servers that ignore validators still send the same
                    // bytes: skip parsing them again.
                    Answer::new(Outcome::Unchanged)
                } else {
                    self.read_document(row.id, body, base, content_type, body_sha256)
                        .await
                };
                answer.hub = hub;
                // Kept by the store only with a feed it holds (new or the
                // same bytes), never with a document it could not read.
                answer.validators = validators;
                answer.exchange = exchange;
                answer.hint = transfer.cache_hint.max(doc_hints.min_interval);
                answer.doc_hints = Some(doc_hints);
                answer
            }
        }
    }

    /// The hub a poll's answer advertises, when there is a subscriber to
    /// hand it to (`[websub] callback_url`); otherwise nobody would read it,
    /// and the search costs a pass over the document.
    /// The hub a document names, unless its topic would hold the feed's
    /// secret: a hub must be given the topic whole, and would keep it (and
    /// we would archive it); such a feed is polled.
    fn discover_hub(
        &self,
        links: &[String],
        body: &[u8],
        base: &Url,
        feed: &FeedConfig,
    ) -> Option<hub::HubLink> {
        self.hubs.as_ref()?;
        hub::discover(links, body, base).filter(|h| {
            let secret = crate::link::holds_secret(h.topic.as_str(), &feed.filled);
            if secret {
                tracing::debug!(
                    topic = %crate::link::without_credentials(h.topic.as_str(), &feed.filled),
                    "a WebSub topic that holds a key or password is not subscribed to; the feed is polled"
                );
            }
            !secret
        })
    }

    /// A fetch that brought no feed back: failed, throttled, gone, or
    /// not sent because the site is paused.
    fn read_error(&self, e: FetchError, feed: &FeedConfig) -> Answer {
        let outcome = match &e {
            FetchError::HostPaused { until, .. } => Outcome::Deferred { until: *until },
            FetchError::Throttled {
                retry_after,
                site,
                answered_at,
                ..
            } => {
                // The server asked us to wait: pause its whole domain
                // (a redirect's target, when it was the target that
                // asked), from when it asked.
                let until = self
                    .fetcher
                    .pause_as_asked(site, *retry_after, *answered_at);
                Outcome::Throttled { until }
            }
            FetchError::Gone => Outcome::Gone,
            other => Outcome::Failed(
                other
                    .failure_kind()
                    .expect("the errors that are no failure are matched above"),
            ),
        };
        let mut answer = Answer::new(outcome);
        answer.exchange.status = e.status();
        if let FetchError::Throttled {
            retry_after, site, ..
        } = &e
        {
            answer.exchange.retry_after = *retry_after;
            answer.paused_site = Some(site.clone());
        }
        if let FetchError::RedirectLoop(hops) | FetchError::TooManyRedirects(hops) = &e {
            answer.exchange.redirects = Some(describe_hops(hops));
        }
        // reqwest's errors quote the whole URL, and a feed's may carry an
        // API key or a token: the text goes to the log, the archive and
        // `/feeds`.
        answer.error = Some(crate::link::blank_secrets(&e.to_string(), &feed.filled));
        answer
    }

    /// Parses, normalizes and enriches a new document off the async
    /// threads: CPU work on documents up to the size cap, isolated from
    /// parser panics.
    async fn read_document(
        &self,
        feed_id: FeedId,
        body: Vec<u8>,
        base: Url,
        content_type: Option<String>,
        body_sha256: String,
    ) -> Answer {
        // One board for the whole document: a reload that adds or removes
        // `[market]` meanwhile changes the next one, never half of this.
        let board = self.board.get();
        // Mentions are recorded only for items the archive has not seen,
        // so items the feed already carries are not searched. Should the
        // keys not be readable, every item is searched: slower, not wrong.
        let carried = match &board {
            Some(_) => self.store.item_keys(feed_id).await.unwrap_or_default(),
            None => Default::default(),
        };
        let enriching = board.clone();
        let parsed = tokio::task::spawn_blocking(move || {
            parse::parse(&body, &base, content_type.as_deref()).map(|f| {
                let (meta, mut items) = normalize::normalize(f, &base);
                if let Some(board) = &enriching {
                    enrich::enrich(&mut items, board, &carried);
                }
                (meta, items)
            })
        })
        .await
        .unwrap_or(Err(parse::ParseError::Panicked));
        match parsed {
            Ok((meta, items)) => {
                if let (Some(_), Some(settled)) = (&board, &self.board_settled) {
                    // Done, or given up (the refresh task is gone): either
                    // way the board is as fresh as this pass will get it.
                    let _ = settled.clone().wait_for(|done| *done).await;
                }
                let mut answer = Answer::new(Outcome::Fresh);
                answer.document = Some(Document {
                    meta,
                    items,
                    body_sha256,
                    board: board.as_ref().and_then(|b| b.view(self.clock.now())),
                });
                answer
            }
            Err(e) => {
                let mut answer = Answer::new(Outcome::Failed(e.failure_kind()));
                answer.error = Some(e.to_string());
                answer
            }
        }
    }

    /// The floor under the next poll: backoff after a failure, the
    /// server's pause after 429/503 or while its site is paused, its hints
    /// after a success.
    fn floor(
        &self,
        feed: &FeedConfig,
        row: &FeedRow,
        answer: &Answer,
        started_at: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        match answer.outcome {
            Outcome::Failed(_) => {
                Some(started_at + self.backoff(row.id, row.consecutive_failures + 1))
            }
            Outcome::Throttled { until } | Outcome::Deferred { until } => Some(until),
            _ if feed.respect_hints => answer.hint.map(|h| {
                started_at
                    + chrono::Duration::from_std(h.min(self.policy.max_hint)).unwrap_or_default()
            }),
            _ => None,
        }
    }

    /// Exponential backoff with jitter: base, 2x, 4x... up to the ceiling.
    /// The jitter (±15 %) is derived from the feed and the failure count, so
    /// feeds that failed together do not retry together, and tests can
    /// predict it.
    fn backoff(&self, feed: FeedId, failures: u32) -> chrono::Duration {
        let base = self.policy.backoff_base.as_secs_f64();
        let exp = base * 2f64.powi(failures.saturating_sub(1).min(30) as i32);
        let capped = exp.min(self.policy.backoff_max.as_secs_f64());
        let h = Sha256::digest(format!("{}:{failures}", feed.0));
        let unit = f64::from(u16::from_be_bytes([h[0], h[1]])) / f64::from(u16::MAX);
        let secs = (capped * (0.85 + 0.3 * unit)).min(self.policy.backoff_max.as_secs_f64());
        chrono::Duration::milliseconds((secs * 1000.0) as i64)
    }
}

/// What the fetch log records of an answered request.
fn exchange(status: Option<u16>, bytes: Option<u64>, transfer: &Transfer, url: &Url) -> Exchange {
    Exchange {
        status,
        bytes,
        wire_bytes: Some(transfer.wire_bytes),
        final_url: transfer.hops.last().map(|h| h.to.to_string()),
        redirects: (!transfer.hops.is_empty()).then(|| describe_hops(&transfer.hops)),
        permanent_redirect: transfer
            .permanently_moved_to()
            .filter(|to| *to != url)
            .map(|u| u.to_string()),
        retry_after: None,
    }
}

fn describe_hops(hops: &[fetch::Hop]) -> String {
    hops.iter()
        .map(|h| format!("{} -> {}", h.status, h.to))
        .collect::<Vec<_>>()
        .join("; ")
}
