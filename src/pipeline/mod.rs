//! The refresh pipeline: one feed, one attempt, top to bottom.
//!
//! [`Pipeline::refresh_feed`] fetches, parses, normalizes and stores, and is the only
//! place that knows the order. A feed that fails is data, not an error: its
//! failure is recorded on the feed row and in the fetch log, and
//! `refresh_feed` returns `Ok`. Only a failure to write the archive itself
//! comes back as `Err`.

pub mod enrich;
pub mod fetch;
pub mod hints;
pub mod normalize;
pub mod parse;

use std::sync::Arc;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::clock::SharedClock;
use crate::config::{FeedConfig, FetchConfig};
use crate::metrics::Metrics;
use crate::model::FeedId;
use crate::quotes::board::Board;
use crate::schedule;
use crate::store::{Attempt, AttemptOutcome, FeedRow, IngestSummary, Store, StoreError};
use fetch::{FetchError, Fetched, Fetcher, Transfer, Validators};
use hints::SkipWindows;
use url::Url;

/// What a refresh needs, shared by all of them.
#[derive(Debug, Clone)]
pub struct Pipeline {
    pub store: Store,
    pub fetcher: Fetcher,
    pub clock: SharedClock,
    /// The ticker board, when `[market]` is configured.
    pub board: Option<Arc<Board>>,
    /// Backoff, hint and redirect policy (`[fetch]`).
    pub policy: FetchConfig,
    pub metrics: Arc<Metrics>,
}

/// How a refresh went, for logs and the `poll` summary.
#[derive(Debug, Clone)]
pub struct Refreshed {
    /// `ok`, `not_modified`, `unchanged`, `error`, `throttled`, `gone`,
    /// `deferred` (not sent: the host is paused) or `retired` (not sent:
    /// the feed answered 410 before).
    pub result: &'static str,
    pub status: Option<u16>,
    pub summary: IngestSummary,
    pub error: Option<String>,
    pub elapsed_ms: u128,
    pub next_due: chrono::DateTime<chrono::Utc>,
}

impl Pipeline {
    /// One attempt at `feed`, whose archive row is `row`.
    pub async fn refresh_feed(
        &self,
        feed: &FeedConfig,
        row: &FeedRow,
    ) -> Result<Refreshed, StoreError> {
        let started_at = self.clock.now();
        let timer = Instant::now();
        if row.retired_at.is_some() {
            // 410 Gone: no more requests until the config changes.
            return Ok(Refreshed {
                result: "retired",
                status: row.last_status,
                summary: IngestSummary::default(),
                error: row.retired_reason.clone(),
                elapsed_ms: 0,
                next_due: chrono::DateTime::<chrono::Utc>::MAX_UTC,
            });
        }
        // The configured URL, or where it moved after a confirmed
        // permanent redirect (reset by `sync_feeds` when the config changes).
        let url = Url::parse(row.polled_url()).unwrap_or_else(|_| feed.url.clone());
        let validators = Validators {
            etag: row.etag.clone(),
            last_modified: row.last_modified.clone(),
        };

        // 1 fetch
        let fetched = self
            .fetcher
            .fetch(&url, &validators, feed.user_agent.as_deref(), started_at)
            .await;
        let mut attempt = Attempt {
            feed_id: row.id,
            started_at,
            url: url.to_string(),
            status: None,
            bytes: None,
            duration: Default::default(),
            outcome: AttemptOutcome::Failed {
                error: String::new(),
            },
            next_due: None,
            not_before: None,
            requested: true,
            failure: false,
            error_class: None,
            final_url: None,
            wire_bytes: None,
            redirects: None,
            permanent_redirect: None,
            redirect_confirmations: self.policy.redirect_confirmations,
            retry_after: None,
            pause_host: None,
            retire: false,
            skip: None,
        };
        let mut hint: Option<Duration> = None;
        let mut skip = SkipWindows::from_db(row.skip_hours.as_deref(), row.skip_days.as_deref());
        match fetched {
            Err(e) => {
                attempt.status = e.status();
                attempt.error_class = Some(e.class().to_string());
                match &e {
                    FetchError::HostPaused { until, .. } => {
                        attempt.requested = false;
                        attempt.not_before = Some(*until);
                    }
                    FetchError::Throttled { retry_after, .. } => {
                        // The host asked us to wait: pause the whole host,
                        // capped; no Retry-After means an hour.
                        let wait = retry_after
                            .unwrap_or(Duration::from_secs(3600))
                            .min(self.policy.max_retry_after);
                        let until =
                            started_at + chrono::Duration::from_std(wait).unwrap_or_default();
                        attempt.retry_after = *retry_after;
                        attempt.pause_host = Some((fetch::host_of(&url), until));
                        attempt.not_before = Some(until);
                        self.fetcher.pause_host(&fetch::host_of(&url), until);
                    }
                    FetchError::Gone => attempt.retire = true,
                    _ => attempt.failure = true,
                }
                if let FetchError::RedirectLoop(hops) | FetchError::TooManyRedirects(hops) = &e {
                    attempt.redirects = Some(describe_hops(hops));
                }
                attempt.outcome = AttemptOutcome::Failed {
                    error: e.to_string(),
                };
            }
            Ok(Fetched::NotModified {
                validators,
                transfer,
            }) => {
                attempt.status = Some(304);
                attempt.bytes = Some(0);
                self.note_transfer(&mut attempt, &transfer, &url);
                hint = transfer.cache_hint;
                attempt.outcome = AttemptOutcome::NotModified {
                    etag: validators.etag,
                    last_modified: validators.last_modified,
                };
            }
            Ok(Fetched::Body {
                status,
                body,
                content_type,
                validators,
                transfer,
            }) => {
                attempt.status = Some(status);
                attempt.bytes = Some(body.len() as u64);
                self.note_transfer(&mut attempt, &transfer, &url);
                let body_sha256 = hex::encode(Sha256::digest(&body));
                let doc_hints = hints::from_document(&body);
                hint = transfer.cache_hint.max(doc_hints.min_interval);
                skip = doc_hints.skip.clone();
                attempt.skip = Some(doc_hints.skip.to_db());
                attempt.outcome = if row.body_sha256.as_deref() == Some(body_sha256.as_str()) {
                    // Servers that ignore validators still send the same
                    // bytes: skip parsing them again.
                    AttemptOutcome::Unchanged {
                        etag: validators.etag,
                        last_modified: validators.last_modified,
                    }
                } else {
                    // 2 parse, 3 normalize, 3b enrich, off the async
                    // threads: CPU work on documents up to the size cap.
                    let base = Url::parse(attempt.final_url.as_deref().unwrap_or(url.as_str()))
                        .unwrap_or_else(|_| url.clone());
                    let board = self.board.clone();
                    let parsed = tokio::task::spawn_blocking(move || {
                        parse::parse(&body, &base, content_type.as_deref()).map(|f| {
                            let (meta, mut items) = normalize::normalize(f, &base);
                            if let Some(board) = &board {
                                enrich::enrich(&mut items, board);
                            }
                            (meta, items)
                        })
                    })
                    .await;
                    match parsed {
                        Ok(Ok((meta, items))) => AttemptOutcome::Fetched {
                            meta,
                            items,
                            etag: validators.etag,
                            last_modified: validators.last_modified,
                            body_sha256,
                            board: self.board.as_ref().and_then(|b| b.view(self.clock.now())),
                        },
                        Ok(Err(e)) => {
                            attempt.failure = true;
                            attempt.error_class = Some(parse_error_class(&e).to_string());
                            AttemptOutcome::Failed {
                                error: e.to_string(),
                            }
                        }
                        Err(_) => {
                            attempt.failure = true;
                            attempt.error_class = Some("parse".into());
                            AttemptOutcome::Failed {
                                error: parse::ParseError::Panicked.to_string(),
                            }
                        }
                    }
                };
            }
        }

        // Plan the next attempt: the cron schedule, bounded below by
        // backoff after a failure or by the server's hints after a success.
        let now = self.clock.now();
        let failures = if attempt.failure {
            row.consecutive_failures + 1
        } else {
            0
        };
        if attempt.failure {
            attempt.not_before = Some(started_at + self.backoff(row.id, failures));
        } else if feed.respect_hints
            && let Some(h) = hint.map(|h| h.min(self.policy.max_hint))
        {
            let floor = started_at + chrono::Duration::from_std(h).unwrap_or_default();
            attempt.not_before = attempt.not_before.max(Some(floor));
        }
        if !feed.respect_hints {
            skip = SkipWindows::default();
        }
        let next_due = schedule::next_due(
            &feed.schedule,
            Some(started_at),
            attempt.not_before,
            &skip,
            now,
        );
        attempt.next_due = Some(next_due);
        attempt.duration = timer.elapsed();

        // 4 store
        let result = attempt.result();
        let error = match &attempt.outcome {
            AttemptOutcome::Failed { error } => Some(error.clone()),
            _ => None,
        };
        let status = attempt.status;
        let (wire, decoded) = (attempt.wire_bytes, attempt.bytes);
        let parse_error = matches!(
            attempt.error_class.as_deref(),
            Some("parse" | "not_a_feed" | "empty" | "parser_panic")
        );
        let summary = self.store.record_attempt(attempt, now).await?;
        self.metrics.fetch(
            result,
            status,
            timer.elapsed().as_secs_f64(),
            wire,
            decoded,
            summary.new,
            summary.updated,
            summary.merged,
            parse_error,
        );
        Ok(Refreshed {
            result,
            status,
            summary,
            error,
            elapsed_ms: timer.elapsed().as_millis(),
            next_due,
        })
    }

    fn note_transfer(&self, attempt: &mut Attempt, transfer: &Transfer, url: &Url) {
        attempt.wire_bytes = Some(transfer.wire_bytes);
        if let Some(last) = transfer.hops.last() {
            attempt.final_url = Some(last.to.to_string());
            attempt.redirects = Some(describe_hops(&transfer.hops));
        }
        attempt.permanent_redirect = transfer
            .permanently_moved_to()
            .filter(|to| *to != url)
            .map(|u| u.to_string());
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

fn parse_error_class(e: &parse::ParseError) -> &'static str {
    match e {
        parse::ParseError::Empty => "empty",
        parse::ParseError::NotAFeed { .. } => "not_a_feed",
        parse::ParseError::Panicked => "parser_panic",
        _ => "parse",
    }
}

fn describe_hops(hops: &[fetch::Hop]) -> String {
    hops.iter()
        .map(|h| format!("{} -> {}", h.status, h.to))
        .collect::<Vec<_>>()
        .join("; ")
}
