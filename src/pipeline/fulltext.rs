//! Fulltext stage: the article behind each new teaser (`[[feeds]]
//! fulltext = true`).
//!
//! The store queues an item's page in the transaction that archives it
//! (`store::articles`) and wakes [`Articles`], which works through that
//! queue in the background, apart from feed polls: for each page due it
//! fetches the page, asking `robots.txt` ([`RobotsCache`]) before the
//! request and before each redirect hop (a hop robots.txt disallows, on
//! that hop's site, is never requested), with the feed fetcher's
//! client, per-site limits and pauses, as the user agent of the item's
//! feed (its `[[feeds]] user_agent`, else `[fetch] user_agent`; robots.txt
//! is read for that agent too) and at least its `Crawl-delay` after the
//! site's previous page (a page whose turn is more than a second off is
//! put back until then, [`ArticleResult::Deferred`], rather than hold a
//! slot; a redirect hop waits for its turn in the slot, keeping its
//! link's place in the site's line), but with its own
//! size and time caps (`[fetch] article_*`; the time cap is the page's
//! whole budget, robots.txt reads included) and at most `[fetch]
//! article_concurrency` pages at once, extracts and sanitises the article
//! (`pipeline::extract`), finds the mentions in it, and hands the store
//! one [`ArticleResult`]. Nothing here changes the item itself.
//!
//! Failures are data: a 4xx, a page too large, not HTML or without an
//! article fails for good at once; a timeout, a refused connection, a 5xx,
//! a 429 or an unreachable robots.txt is tried again after a backoff
//! ([`BACKOFF`]), at most [`MAX_ATTEMPTS`] times in all; a page whose
//! time ran out while its site's robots.txt was still being read, as soon
//! as that reading brings the site's rules (`Articles::retry_once_answered`;
//! a reading that fails leaves it its backoff). Each item's
//! final failure is logged once, at `warn`.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};
use url::Url;

use super::Pipeline;
use super::extract::extract;
use super::fetch::{Admitted, FetchError, Fetched, Fetcher, HopCheck, Refusal, Validators};
use super::robots::{RobotsCache, Verdict};
use crate::clock::SharedClock;
use crate::config::FeedConfig;
use crate::metrics::Metrics;
use crate::quotes::board::BoardSlot;
use crate::store::{ArticleResult, DueArticle, Store, StoreError};

/// Attempts at one page before it is recorded as failed.
pub const MAX_ATTEMPTS: u32 = 3;
/// Wait after the first and the second transient failure.
pub const BACKOFF: [Duration; 2] = [Duration::from_secs(15 * 60), Duration::from_secs(2 * 3600)];
/// The longest the worker sleeps without looking at the queue. A fetch in
/// this process wakes it at once; the look catches pages queued by another
/// process (a `tickerfeed poll`) and retries that fell due.
pub const IDLE_CHECK: Duration = Duration::from_secs(5);
/// Pages taken from the queue per look.
const BATCH: usize = 64;

/// The article fetcher; cheap to clone.
#[derive(Debug, Clone)]
pub struct Articles {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Store,
    fetcher: Fetcher,
    robots: RobotsCache,
    /// `[fetch] user_agent`: pages of feeds without their own.
    user_agent: String,
    /// `[[feeds]] user_agent` by feed name, for the feeds that set one
    /// (replaced on a reload, [`Articles::use_feeds`]).
    feed_agents: RwLock<HashMap<String, String>>,
    clock: SharedClock,
    board: BoardSlot,
    metrics: Arc<Metrics>,
    concurrency: usize,
}

impl Articles {
    /// An article fetcher sharing `pipeline`'s archive, client, site
    /// limits, clock, board and metrics, fetching the pages of each of
    /// `feeds` as its user agent.
    pub fn new(pipeline: &Pipeline, feeds: &[FeedConfig]) -> Self {
        let policy = &pipeline.policy;
        let fetcher = pipeline
            .fetcher
            .for_pages(policy.article_max_bytes, policy.article_timeout);
        Articles {
            inner: Arc::new(Inner {
                store: pipeline.store.clone(),
                robots: RobotsCache::new(fetcher.clone(), pipeline.store.clone()),
                fetcher,
                user_agent: policy.user_agent.clone(),
                feed_agents: RwLock::new(feed_agents(feeds)),
                clock: Arc::clone(&pipeline.clock),
                board: pipeline.board.clone(),
                metrics: Arc::clone(&pipeline.metrics),
                concurrency: policy.article_concurrency.max(1),
            }),
        }
    }

    /// Fetches the pages of `feeds` (a reloaded config's) as their user
    /// agents from now on.
    pub fn use_feeds(&self, feeds: &[FeedConfig]) {
        *self
            .inner
            .feed_agents
            .write()
            .unwrap_or_else(|p| p.into_inner()) = feed_agents(feeds);
    }

    /// The user agent `due`'s page is fetched, and robots.txt read, as:
    /// its feed's own, else `[fetch] user_agent`. The feed is the one the
    /// item was first archived from ([`DueArticle::feed`]), which is the
    /// one that queued the page unless another feed archived it first.
    fn user_agent(&self, due: &DueArticle) -> String {
        let agents = self
            .inner
            .feed_agents
            .read()
            .unwrap_or_else(|p| p.into_inner());
        agents
            .get(&due.feed)
            .unwrap_or(&self.inner.user_agent)
            .clone()
    }

    /// Fetches pages as they are queued or fall due until `shutdown`,
    /// looking at the queue at least every [`IDLE_CHECK`]. A fetch cut off
    /// by shutdown stays queued and is made after the next start.
    pub async fn run(self, shutdown: CancellationToken) {
        self.run_looking_every(IDLE_CHECK, shutdown).await
    }

    /// [`Articles::run`], looking at the queue unprompted every
    /// `idle_check`.
    pub async fn run_looking_every(self, idle_check: Duration, shutdown: CancellationToken) {
        let queued = self.inner.store.article_signal();
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                done = self.fetch_due() => if let Err(e) = done {
                    warn!(error = %e, "could not work through the article queue; trying again shortly");
                },
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = queued.notified() => {}
                _ = tokio::time::sleep(idle_check) => {}
            }
        }
    }

    /// Fetches every page due now, `article_concurrency` at a time, and
    /// indexes what was stored for search. Returns how many pages were
    /// handled (whatever came of them).
    pub async fn fetch_due(&self) -> Result<usize, StoreError> {
        let inner = &self.inner;
        let mut handled: HashSet<i64> = HashSet::new();
        loop {
            let due = inner.store.due_articles(inner.clock.now(), BATCH).await?;
            // Every result moves a row out of "due now"; the check guards
            // against a clock that stands still on a pause ending now.
            let due: Vec<DueArticle> = due
                .into_iter()
                .filter(|d| !handled.contains(&d.item_id))
                .collect();
            if due.is_empty() {
                break;
            }
            let limit = Arc::new(tokio::sync::Semaphore::new(inner.concurrency));
            let mut set = JoinSet::new();
            for article in due {
                handled.insert(article.item_id);
                let permit = Arc::clone(&limit)
                    .acquire_owned()
                    .await
                    .expect("the semaphore is never closed");
                let me = self.clone();
                set.spawn(async move {
                    let _permit = permit;
                    me.fetch_one(article).await
                });
            }
            while let Some(joined) = set.join_next().await {
                match joined {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => return Err(e),
                    Err(e) => warn!(error = %e, "an article fetch task panicked"),
                }
            }
        }
        if !handled.is_empty() {
            inner.store.index_for_search().await?;
        }
        Ok(handled.len())
    }

    /// Fetches one page and records what came of it.
    async fn fetch_one(&self, due: DueArticle) -> Result<(), StoreError> {
        let inner = &self.inner;
        let user_agent = self.user_agent(&due);
        let robots = RobotsHops {
            robots: &inner.robots,
            user_agent: &user_agent,
            unanswered: Mutex::new(None),
        };
        let result = self.fetch_article(&due, &robots).await;
        let label = result.as_str();
        let added = inner
            .store
            .record_article(
                due.item_id,
                due.queued.clone(),
                result.clone(),
                inner.clock.now(),
            )
            .await?;
        inner.metrics.article(label);
        if matches!(result, ArticleResult::Retry { .. })
            && let Some(url) = robots.into_unanswered()
        {
            self.retry_once_answered(&due, url, user_agent);
        }
        let (uid, url, feed) = (&due.uid, &due.url, &due.feed);
        match &result {
            ArticleResult::Fetched { text, .. } => info!(
                item_uid = %uid, article_url = %url, feed, chars = text.chars().count(),
                new_mentions = added, "article fetched"
            ),
            ArticleResult::Disallowed { reason } => {
                warn!(item_uid = %uid, article_url = %url, feed, reason = %reason, "article not fetched")
            }
            ArticleResult::Failed { error, .. } => {
                warn!(item_uid = %uid, article_url = %url, feed, error = %error, "article fetch failed; the item keeps the feed's text")
            }
            ArticleResult::Retry {
                error, retry_at, ..
            } => debug!(
                item_uid = %uid, article_url = %url, feed, error = %error, retry_at = %retry_at,
                "article fetch failed; will try again"
            ),
            ArticleResult::Deferred { until } => {
                debug!(item_uid = %uid, article_url = %url, feed, until = %until, "article fetch deferred: the site is paused")
            }
        }
        Ok(())
    }

    /// Makes `due`'s page, which gave up waiting for the robots.txt of
    /// `url`'s site (read as `user_agent`), due again once that reading
    /// answers with the site's rules, and wakes the worker: the answer is
    /// in the cache then, so the page need not wait out its backoff (a
    /// reading that failed leaves the page its backoff). The page goes through the
    /// site's limits, spacing and `Crawl-delay` like any other. A task
    /// that waits on the reading's lock (no polling); if the process ends
    /// first, the page keeps the retry time it was given.
    fn retry_once_answered(&self, due: &DueArticle, url: Url, user_agent: String) {
        let me = self.clone();
        let (item_id, queued) = (due.item_id, due.queued.clone());
        tokio::spawn(async move {
            let inner = &me.inner;
            if !inner.robots.answered(&url, &user_agent).await {
                // Not read after all: asked now, the page would only
                // spend an attempt on the cached error. It keeps its retry.
                return;
            }
            let now = inner.clock.now();
            match inner
                .store
                .record_article(item_id, queued, ArticleResult::Deferred { until: now }, now)
                .await
            {
                Ok(_) => inner.store.article_signal().notify_one(),
                Err(e) => {
                    debug!(item_id, error = %e, "could not bring a page forward after its robots.txt answered");
                }
            }
        });
    }

    /// What fetching `due`'s page, asking `robots`, comes to. Never
    /// fails: every outcome is a result to record.
    async fn fetch_article(&self, due: &DueArticle, robots: &RobotsHops<'_>) -> ArticleResult {
        let inner = &self.inner;
        let now = inner.clock.now();
        let url = match Url::parse(&due.url) {
            Ok(u) if crate::link::is_web(&u) => u,
            _ => {
                return ArticleResult::Failed {
                    status: None,
                    error: format!("{:?} is not an http(s) link", due.url),
                };
            }
        };
        let fetched = inner
            .fetcher
            .fetch_checked(
                &url,
                &Validators::default(),
                Some(robots.user_agent),
                now,
                robots,
            )
            .await;
        match fetched {
            Ok(Fetched::Body {
                status,
                body,
                content_type,
                transfer,
                ..
            }) => {
                if !is_html(content_type.as_deref()) {
                    return ArticleResult::Failed {
                        status: Some(status),
                        error: format!(
                            "not an HTML page (Content-Type: {})",
                            content_type.as_deref().unwrap_or("none")
                        ),
                    };
                }
                let final_url = transfer.hops.last().map(|h| h.to.clone());
                let base = final_url.clone().unwrap_or_else(|| url.clone());
                let extracted = tokio::task::spawn_blocking(move || {
                    extract(&body, content_type.as_deref(), &base)
                })
                .await;
                match extracted {
                    Ok(Ok(article)) => {
                        let mentions = inner
                            .board
                            .get()
                            .map(|b| {
                                b.mentions_in_article(
                                    article.title.as_deref().unwrap_or(""),
                                    &article.text,
                                )
                            })
                            .unwrap_or_default();
                        ArticleResult::Fetched {
                            status,
                            final_url: final_url.map(|u| u.to_string()),
                            title: article.title,
                            byline: article.byline,
                            html: article.html,
                            text: article.text,
                            mentions,
                        }
                    }
                    Ok(Err(e)) => ArticleResult::Failed {
                        status: Some(status),
                        error: e.to_string(),
                    },
                    Err(_) => ArticleResult::Failed {
                        status: Some(status),
                        error: "the article extractor failed on this page".into(),
                    },
                }
            }
            Ok(Fetched::NotModified { .. }) => ArticleResult::Failed {
                status: Some(304),
                error: "HTTP 304 to a request that was not conditional".into(),
            },
            Err(e) => self.fetch_failed(due, e, now).await,
        }
    }

    /// A page request that brought no page back.
    async fn fetch_failed(
        &self,
        due: &DueArticle,
        e: FetchError,
        now: DateTime<Utc>,
    ) -> ArticleResult {
        let status = e.status();
        match &e {
            FetchError::Refused(Refusal { reason, retry_at }) => match retry_at {
                Some(at) => retry(due, now, None, reason.clone(), Some(*at)),
                None => ArticleResult::Disallowed {
                    reason: reason.clone(),
                },
            },
            FetchError::HostPaused { until, .. } | FetchError::CrawlTurn { until, .. } => {
                ArticleResult::Deferred { until: *until }
            }
            FetchError::Throttled {
                retry_after,
                site,
                answered_at,
                ..
            } => {
                // As for feeds: the whole site waits, after a restart too,
                // counted from the answer.
                let until = self
                    .inner
                    .fetcher
                    .pause_as_asked(site, *retry_after, *answered_at);
                if let Err(err) = self
                    .inner
                    .store
                    .record_host_pause(site.clone(), until, e.to_string())
                    .await
                {
                    warn!(site = %site, error = %err, "could not store the pause an article page asked for");
                }
                retry(due, now, status, e.to_string(), Some(until))
            }
            FetchError::Timeout(_) | FetchError::Connect(_) | FetchError::Transfer(_) => {
                retry(due, now, status, e.to_string(), None)
            }
            FetchError::Status { status: s } if *s >= 500 => {
                retry(due, now, status, e.to_string(), None)
            }
            _ => ArticleResult::Failed {
                status,
                error: e.to_string(),
            },
        }
    }
}

/// robots.txt, asked about the link and about each hop it redirects to
/// before that hop is requested, on whatever site it is; its
/// `Crawl-delay` spaces that site's pages.
struct RobotsHops<'a> {
    robots: &'a RobotsCache,
    /// The page's, so the rules are read for the agent that will ask.
    user_agent: &'a str,
    /// The hop whose robots.txt was still being read when the page's time
    /// ran out ([`Verdict::Unanswered`]).
    unanswered: Mutex<Option<Url>>,
}

impl RobotsHops<'_> {
    fn into_unanswered(self) -> Option<Url> {
        self.unanswered
            .into_inner()
            .unwrap_or_else(|p| p.into_inner())
    }
}

impl HopCheck for RobotsHops<'_> {
    async fn admit(
        &self,
        url: &Url,
        from: Option<&Url>,
        now: DateTime<Utc>,
        deadline: tokio::time::Instant,
    ) -> Result<Admitted, Refusal> {
        let site = url.origin().ascii_serialization();
        let verdict = self.robots.check(url, self.user_agent, now, deadline).await;
        // After a redirect the reason names it: the robots.txt in question
        // is the hop's site's, which may not be the link's.
        let reason = |why: String| match from {
            Some(from) => format!("{from} redirected to {url}; {why}"),
            None => why,
        };
        match verdict {
            Verdict::Allowed { crawl_delay } => Ok(Admitted { crawl_delay }),
            Verdict::Disallowed => Err(Refusal {
                reason: reason(format!(
                    "robots.txt of {site} disallows {} for our user agent",
                    if from.is_some() { "it" } else { "this page" }
                )),
                retry_at: None,
            }),
            Verdict::Unknown { error, retry_at } => Err(Refusal {
                reason: reason(error),
                retry_at: Some(retry_at),
            }),
            Verdict::Unanswered { error, retry_at } => {
                *self.unanswered.lock().unwrap_or_else(|p| p.into_inner()) = Some(url.clone());
                Err(Refusal {
                    reason: reason(error),
                    retry_at: Some(retry_at),
                })
            }
        }
    }
}

/// `[[feeds]] user_agent` by feed name, for the feeds that set one.
fn feed_agents(feeds: &[FeedConfig]) -> HashMap<String, String> {
    feeds
        .iter()
        .filter_map(|f| Some((f.name.clone(), f.user_agent.clone()?)))
        .collect()
}

/// A transient failure: try again after the backoff (or `at`, when the
/// site said), unless this was the last attempt.
fn retry(
    due: &DueArticle,
    now: DateTime<Utc>,
    status: Option<u16>,
    error: String,
    at: Option<DateTime<Utc>>,
) -> ArticleResult {
    let attempt = due.attempts + 1;
    if attempt >= MAX_ATTEMPTS {
        return ArticleResult::Failed {
            status,
            error: format!("{error} (gave up after {attempt} attempts)"),
        };
    }
    let backoff = BACKOFF[(attempt as usize - 1).min(BACKOFF.len() - 1)];
    let retry_at = at.unwrap_or(now + chrono::Duration::from_std(backoff).unwrap_or_default());
    ArticleResult::Retry {
        status,
        error,
        retry_at,
    }
}

/// HTML, or a server that did not say.
fn is_html(content_type: Option<&str>) -> bool {
    let Some(ct) = content_type else {
        return true;
    };
    let mime = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    matches!(mime.as_str(), "" | "text/html" | "application/xhtml+xml")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn due(attempts: u32) -> DueArticle {
        DueArticle {
            item_id: 1,
            uid: "u".into(),
            url: "https://news.test/a".into(),
            attempts,
            feed: "wire".into(),
            queued: "1970-01-01T00:00:00Z".into(),
        }
    }

    #[test]
    fn transient_failures_back_off_then_give_up() {
        let now = DateTime::UNIX_EPOCH;
        let first = retry(&due(0), now, None, "timed out".into(), None);
        assert_eq!(
            first,
            ArticleResult::Retry {
                status: None,
                error: "timed out".into(),
                retry_at: now + chrono::Duration::minutes(15)
            }
        );
        let second = retry(&due(1), now, Some(503), "HTTP 503".into(), None);
        assert!(
            matches!(second, ArticleResult::Retry { retry_at, .. } if retry_at == now + chrono::Duration::hours(2))
        );
        let last = retry(&due(2), now, Some(503), "HTTP 503".into(), None);
        assert!(
            matches!(&last, ArticleResult::Failed { error, .. } if error.contains("gave up after 3 attempts")),
            "{last:?}"
        );
    }

    #[test]
    fn html_pages_only() {
        assert!(is_html(Some("text/html; charset=utf-8")));
        assert!(is_html(Some("application/xhtml+xml")));
        assert!(is_html(None));
        assert!(!is_html(Some("application/pdf")));
        assert!(!is_html(Some("image/jpeg")));
    }
}
