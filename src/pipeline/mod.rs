//! The refresh pipeline: one feed, one attempt, top to bottom.
//!
//! [`refresh_feed`] fetches, parses, normalizes and stores, and is the only
//! place that knows the order. A feed that fails is data, not an error: its
//! failure is recorded on the feed row and in the fetch log, and
//! `refresh_feed` returns `Ok`. Only a failure to write the archive itself
//! comes back as `Err`.

pub mod enrich;
pub mod fetch;
pub mod normalize;
pub mod parse;

use std::sync::Arc;
use std::time::Instant;

use sha2::{Digest, Sha256};

use crate::clock::SharedClock;
use crate::config::FeedConfig;
use crate::model::FeedId;
use crate::quotes::board::Board;
use crate::schedule;
use crate::store::{Attempt, AttemptOutcome, FeedRow, IngestSummary, Store, StoreError};
use fetch::{Fetched, Fetcher, Validators};

/// What a refresh needs, shared by all of them.
#[derive(Debug, Clone)]
pub struct Pipeline {
    pub store: Store,
    pub fetcher: Fetcher,
    pub clock: SharedClock,
    /// The ticker board, when `[market]` is configured.
    pub board: Option<Arc<Board>>,
}

/// How a refresh went, for logs and the `poll` summary.
#[derive(Debug, Clone)]
pub struct Refreshed {
    /// `ok`, `not_modified`, `unchanged` or `error`.
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
        let validators = if row.url == feed.url.as_str() {
            Validators {
                etag: row.etag.clone(),
                last_modified: row.last_modified.clone(),
            }
        } else {
            Validators::default()
        };

        // 1 fetch
        let fetched = self
            .fetcher
            .fetch(&feed.url, &validators, feed.user_agent.as_deref())
            .await;
        let (status, bytes, outcome) = match fetched {
            Err(e) => (
                e.status(),
                None,
                AttemptOutcome::Failed {
                    error: e.to_string(),
                },
            ),
            Ok(Fetched::NotModified { validators }) => (
                Some(304),
                Some(0),
                AttemptOutcome::NotModified {
                    etag: validators.etag,
                    last_modified: validators.last_modified,
                },
            ),
            Ok(Fetched::Body {
                status,
                body,
                content_type,
                validators,
            }) => {
                let bytes = body.len() as u64;
                let body_sha256: String = Sha256::digest(&body)
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect();
                let outcome = if row.body_sha256.as_deref() == Some(body_sha256.as_str())
                    && row.url == feed.url.as_str()
                {
                    // Servers that ignore validators still send the same
                    // bytes: skip parsing them again.
                    AttemptOutcome::Unchanged {
                        etag: validators.etag,
                        last_modified: validators.last_modified,
                    }
                } else {
                    // 2 parse and 3 normalize, off the async threads: both
                    // are CPU work on documents of up to the size cap.
                    let url = feed.url.clone();
                    let board = self.board.clone();
                    let parsed = tokio::task::spawn_blocking(move || {
                        parse::parse(&body, &url, content_type.as_deref()).map(|f| {
                            let (meta, mut items) = normalize::normalize(f, &url);
                            // 3b enrich
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
                        Ok(Err(e)) => AttemptOutcome::Failed {
                            error: e.to_string(),
                        },
                        Err(_) => AttemptOutcome::Failed {
                            error: parse::ParseError::Panicked.to_string(),
                        },
                    }
                };
                (Some(status), Some(bytes), outcome)
            }
        };

        // 4 store, with the next due time for `feeds` to show.
        let now = self.clock.now();
        let next_due = schedule::next_due(&feed.schedule, Some(started_at), None, now);
        let result = match &outcome {
            AttemptOutcome::Fetched { .. } => "ok",
            AttemptOutcome::NotModified { .. } => "not_modified",
            AttemptOutcome::Unchanged { .. } => "unchanged",
            AttemptOutcome::Failed { .. } => "error",
        };
        let error = match &outcome {
            AttemptOutcome::Failed { error } => Some(error.clone()),
            _ => None,
        };
        let attempt = Attempt {
            feed_id: row.id,
            started_at,
            url: feed.url.to_string(),
            status,
            bytes,
            duration: timer.elapsed(),
            outcome,
            next_due: Some(next_due),
        };
        let summary = self.store.record_attempt(attempt, now).await?;
        Ok(Refreshed {
            result,
            status,
            summary,
            error,
            elapsed_ms: timer.elapsed().as_millis(),
            next_due,
        })
    }
}

/// Convenience for callers that hold only ids.
pub fn find_row(rows: &[FeedRow], id: FeedId) -> Option<&FeedRow> {
    rows.iter().find(|r| r.id == id)
}
