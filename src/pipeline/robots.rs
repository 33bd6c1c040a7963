//! robots.txt for article pages: may we fetch this page?
//!
//! Owns the per-origin cache of robots.txt files (scheme, host and port,
//! as RFC 9309 scopes them) and the answer for one URL. Feeds are not
//! checked (a feed is published to be polled); article pages are, since
//! fetching them is crawling a site. Rules are read by `texting_robots`
//! for the product token of the user agent the page is fetched as (up to
//! its first `/` or space: `tickerfeed` for the default `[fetch]
//! user_agent`; a feed's own `[[feeds]] user_agent` for its pages), falling
//! back to the `*` group as usual.
//!
//! The cache is keyed by user agent and origin: a site's robots.txt is
//! fetched as, and its rules read for, each user agent that asks (a
//! site may serve each agent its own file, and a verdict for one agent's
//! group must never answer for another). Most configs use one agent, so
//! this costs nothing; one with its own agent per feed asks each site
//! once per agent.
//!
//! What an answer means (RFC 9309 §2.3.1):
//! - 2xx: the rules in the file (a file that cannot be read allows all);
//! - 4xx other than 429, 410 included: no rules, everything allowed;
//! - 429, 503 with Retry-After, 5xx, timeouts, connection failures: the
//!   site cannot say, so nothing is fetched for now ([`Verdict::Unknown`]);
//!   the caller retries later.
//!
//! `Crawl-delay` (not in RFC 9309, but widely sent) from the group that
//! applies to us (ours, else `*`; a line before any `User-agent` counts
//! for all) comes with an allowed page's verdict, capped at
//! [`MAX_CRAWL_DELAY`]: the fetcher starts that site's pages at least that
//! far apart (`pipeline::fetch`, `Admitted`). Another agent's delay is
//! ignored.
//!
//! Answers are kept [`TTL`] (a day, as RFC 9309 suggests at most), and
//! "cannot say" for [`ERROR_TTL`], so a site with many queued pages is
//! asked once, not once per page. robots.txt is fetched through the same
//! [`Fetcher`] as everything else (same site limits, pauses, user agent),
//! but asking for `text/plain` (`ACCEPT`), not the pages' HTML, within
//! 20 s. The page that asked waits only the time it has left (its
//! `article_timeout_secs`) and if that runs out is told so
//! ([`Verdict::Unanswered`]); the reading goes on without it, so what the
//! site answers is kept, and [`RobotsCache::answered`] says when it is in.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tracing::warn;
use url::Url;

use super::fetch::{FetchError, Fetched, Fetcher, Validators};
use crate::store::Store;

/// How long a fetched robots.txt (or its absence) is trusted.
pub const TTL: Duration = Duration::from_secs(24 * 3600);
/// How long "the site could not say" is kept before asking again.
pub const ERROR_TTL: Duration = Duration::from_secs(15 * 60);
/// Cached answers kept before expired ones are dropped. One per user agent
/// and origin, not per origin: the bound is for memory, and each agent's
/// answer for a site is a file of its own, so a config with an agent per
/// feed reaches it sooner (and prunes sooner) rather than keep that many
/// times as many files. A soft bound: answers still fresh are kept.
const MAX_SLOTS: usize = 4096;
/// What robots.txt requests accept: the plain text RFC 9309 §2.3 says it
/// is, not the pages' `text/html` (a site may answer that with an HTML
/// page), though a server that labels it otherwise is still read.
const ACCEPT: &str = "text/plain, */*;q=0.5";
/// The longest `Crawl-delay` honoured; a longer one counts as this. A page
/// whose turn is further off than a second is put back in the queue
/// until then (`fetch::CRAWL_PATIENCE`), so no delay holds other sites'
/// pages up (a redirect hop waits in its slot, so this also bounds that
/// wait); the cap is for the site's own readers: an hour between pages
/// (or `1e30` seconds) would leave most of a busy feed's articles
/// unfetched for days. A minute still lets through 60 pages of a site an
/// hour, 1,440 a day, more than the feeds we follow publish.
pub const MAX_CRAWL_DELAY: Duration = Duration::from_secs(60);
/// How much of a robots.txt is read; the rest is ignored (RFC 9309 §2.5
/// asks crawlers to parse at least 500 KiB).
const MAX_BYTES: usize = 512 * 1024;

/// May a page be fetched?
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Yes, at least `crawl_delay` after the last page of its site that
    /// had one (the matched group's `Crawl-delay`, at most
    /// [`MAX_CRAWL_DELAY`]).
    Allowed { crawl_delay: Option<Duration> },
    /// The site's robots.txt disallows the page for our user agent.
    Disallowed,
    /// robots.txt could not be had; ask again no earlier than `retry_at`
    /// (a site's `Retry-After`, or [`ERROR_TTL`]).
    Unknown {
        error: String,
        retry_at: DateTime<Utc>,
    },
    /// robots.txt is still being read, past the time the page had: ask
    /// again once it is answered ([`RobotsCache::answered`]); `retry_at`
    /// ([`ERROR_TTL`] on) is for a caller that cannot wait for that.
    Unanswered {
        error: String,
        retry_at: DateTime<Utc>,
    },
}

/// The rules of one origin.
#[derive(Debug)]
enum Rules {
    AllowAll,
    Parsed(texting_robots::Robot),
    Unknown {
        error: String,
        retry_at: DateTime<Utc>,
    },
}

/// One origin's slot: its rules once fetched, behind an async lock held
/// while they are fetched.
type Slot = Arc<tokio::sync::Mutex<Option<Cached>>>;

#[derive(Debug)]
struct Cached {
    rules: Rules,
    until: DateTime<Utc>,
}

impl Cached {
    /// What these rules say of `url`.
    fn verdict(&self, url: &Url) -> Verdict {
        match &self.rules {
            Rules::AllowAll => Verdict::Allowed { crawl_delay: None },
            Rules::Parsed(robot) if robot.allowed(url.as_str()) => Verdict::Allowed {
                crawl_delay: crawl_delay(robot.delay),
            },
            Rules::Parsed(_) => Verdict::Disallowed,
            Rules::Unknown { error, retry_at } => Verdict::Unknown {
                error: error.clone(),
                retry_at: *retry_at,
            },
        }
    }
}

/// robots.txt files by origin, shared by all article fetches.
#[derive(Debug, Clone)]
pub struct RobotsCache {
    fetcher: Fetcher,
    /// Where a pause a robots.txt asks for is kept, so it outlives the
    /// process like a feed's.
    store: Store,
    /// One slot per user agent and origin; its async lock makes concurrent
    /// checks on one site wait for one fetch of its robots.txt.
    origins: Arc<Mutex<HashMap<(String, String), Slot>>>,
}

impl RobotsCache {
    /// A cache fetching through `fetcher`; the pauses sites ask for go to
    /// `store`.
    pub fn new(fetcher: Fetcher, store: Store) -> Self {
        RobotsCache {
            fetcher: fetcher
                .for_pages(MAX_BYTES, Duration::from_secs(20))
                .accepting(ACCEPT)
                .keeping_prefix(),
            store,
            origins: Arc::default(),
        }
    }

    /// Whether `url` may be fetched as `user_agent` at `now`, answered by
    /// `deadline` (the page's timeout). A robots.txt slower than that
    /// leaves this page without an answer, to be tried again later, but
    /// its reading goes on (within its own limit) and what it finds is
    /// kept for the site's other pages: a page that reached a site with
    /// little time left does not make its robots.txt count as one that
    /// cannot be had.
    pub async fn check(
        &self,
        url: &Url,
        user_agent: &str,
        now: DateTime<Utc>,
        deadline: tokio::time::Instant,
    ) -> Verdict {
        let origin = url.origin().ascii_serialization();
        let slot = {
            let mut origins = self.origins.lock().unwrap_or_else(|p| p.into_inner());
            if origins.len() >= MAX_SLOTS {
                // Forget what has run out (and is not being fetched), so a
                // long-running daemon does not keep every site it ever saw.
                origins.retain(|_, slot| {
                    slot.try_lock()
                        .map_or(true, |c| c.as_ref().is_some_and(|c| c.until > now))
                });
            }
            Arc::clone(
                origins
                    .entry((user_agent.to_string(), origin.clone()))
                    .or_default(),
            )
        };
        let error = |what: &str| {
            format!("robots.txt of {origin} {what} within the page's time (article_timeout_secs)")
        };
        let unanswered = |what: &str| Verdict::Unanswered {
            error: error(what),
            retry_at: ask_again(now),
        };
        // Another page of the site may be reading it: wait as long as this
        // page may, and no longer.
        let Ok(mut slot) = tokio::time::timeout_at(deadline, slot.lock_owned()).await else {
            return unanswered("was still being read");
        };
        if let Some(cached) = slot.as_ref().filter(|c| c.until > now) {
            return cached.verdict(url);
        }
        // The reading owns the slot, so it finishes and fills it even if
        // this page stops waiting.
        let cache = self.clone();
        let (site, agent, url) = (origin.clone(), user_agent.to_string(), url.clone());
        let reading = tokio::spawn(async move {
            let rules = cache.fetch_rules(&site, &agent, now).await;
            let ttl = match &rules {
                Rules::Unknown { .. } => ERROR_TTL,
                _ => TTL,
            };
            let cached = slot.insert(Cached {
                rules,
                until: now + chrono::Duration::from_std(ttl).unwrap_or_default(),
            });
            cached.verdict(&url)
        });
        match tokio::time::timeout_at(deadline, reading).await {
            Ok(Ok(verdict)) => verdict,
            // The reading panicked: nothing was kept, so waiting for it
            // would only read it again at once.
            Ok(Err(_)) => Verdict::Unknown {
                error: error("could not be read"),
                retry_at: ask_again(now),
            },
            Err(_) => unanswered("was not answered"),
        }
    }

    /// Resolves once no reading of `url`'s robots.txt for `user_agent` is
    /// under way (a [`Verdict::Unanswered`]'s reading is over), saying
    /// whether it left the site's rules in the cache for
    /// [`RobotsCache::check`]. A reading that failed is no answer: the
    /// cache would only repeat its error until [`ERROR_TTL`]. Waits for
    /// the reading's lock, so it costs no polling.
    pub async fn answered(&self, url: &Url, user_agent: &str) -> bool {
        let key = (user_agent.to_string(), url.origin().ascii_serialization());
        let slot = {
            let origins = self.origins.lock().unwrap_or_else(|p| p.into_inner());
            origins.get(&key).map(Arc::clone)
        };
        let Some(slot) = slot else {
            return false;
        };
        let cached = slot.lock().await;
        cached
            .as_ref()
            .is_some_and(|c| !matches!(c.rules, Rules::Unknown { .. }))
    }

    async fn fetch_rules(&self, origin: &str, user_agent: &str, now: DateTime<Utc>) -> Rules {
        let Ok(url) = Url::parse(&format!("{origin}/robots.txt")) else {
            return Rules::AllowAll;
        };
        match self
            .fetcher
            .fetch(&url, &Validators::default(), Some(user_agent), now)
            .await
        {
            Ok(Fetched::Body {
                mut body, transfer, ..
            }) => {
                if transfer.truncated {
                    // RFC 9309 §2.5: parse what was read; the cut line is
                    // not a rule.
                    body.truncate(body.iter().rposition(|&b| b == b'\n').map_or(0, |n| n + 1));
                }
                parse(&product_token(user_agent), &body)
            }
            // No validators were sent, so a 304 is the server's oddity:
            // there is nothing to read, which means no rules.
            Ok(Fetched::NotModified { .. }) => Rules::AllowAll,
            Err(FetchError::Gone) => Rules::AllowAll,
            Err(FetchError::Status { status }) if (400..500).contains(&status) => Rules::AllowAll,
            Err(FetchError::Throttled {
                retry_after,
                site,
                answered_at,
                ..
            }) => {
                // The site's feeds wait too, so the same cap as theirs,
                // counted from the answer, and after a restart too.
                let retry_at = self.fetcher.pause_as_asked(&site, retry_after, answered_at);
                let reason = format!("robots.txt: HTTP 429 or 503 until {retry_at}");
                if let Err(e) = self
                    .store
                    .record_host_pause(site.clone(), retry_at, reason)
                    .await
                {
                    warn!(site = %site, error = %e, "could not store the pause a robots.txt asked for");
                }
                Rules::Unknown {
                    error: format!("robots.txt: the site asked us to wait until {retry_at}"),
                    retry_at,
                }
            }
            Err(FetchError::HostPaused { until, .. }) => Rules::Unknown {
                error: format!("robots.txt not fetched: the site is paused until {until}"),
                retry_at: until,
            },
            Err(e) => Rules::Unknown {
                error: format!("robots.txt unavailable: {e}"),
                retry_at: ask_again(now),
            },
        }
    }
}

/// When to ask again after a robots.txt could not be had at `now`.
fn ask_again(now: DateTime<Utc>) -> DateTime<Utc> {
    now + chrono::Duration::from_std(ERROR_TTL).unwrap_or_default()
}

/// The rules in a robots.txt body; one that cannot be read sets none.
fn parse(agent: &str, body: &[u8]) -> Rules {
    match std::panic::catch_unwind(|| texting_robots::Robot::new(agent, body)) {
        Ok(Ok(robot)) => Rules::Parsed(robot),
        _ => Rules::AllowAll,
    }
}

/// A `Crawl-delay` of `secs` seconds, capped at [`MAX_CRAWL_DELAY`]; none
/// for zero, a negative value or one that is not a number.
fn crawl_delay(secs: Option<f32>) -> Option<Duration> {
    let secs = secs.filter(|s| *s > 0.0)?;
    Some(
        Duration::try_from_secs_f32(secs)
            .unwrap_or(MAX_CRAWL_DELAY)
            .min(MAX_CRAWL_DELAY),
    )
}

/// `tickerfeed` of `tickerfeed/0.1 (+https://…)`: the name robots.txt
/// groups are matched against.
fn product_token(user_agent: &str) -> String {
    let token: String = user_agent
        .trim()
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
        .collect();
    if token.is_empty() {
        "tickerfeed".to_string()
    } else {
        token
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed(txt: &str, path: &str) -> bool {
        match parse("tickerfeed", txt.as_bytes()) {
            Rules::Parsed(r) => r.allowed(&format!("https://news.test{path}")),
            Rules::AllowAll => true,
            Rules::Unknown { .. } => unreachable!(),
        }
    }

    #[test]
    fn our_group_else_the_star_group() {
        let txt =
            "User-agent: *\nDisallow: /private/\n\nUser-agent: tickerfeed\nDisallow: /paywall/\n";
        assert!(!allowed(txt, "/paywall/story"));
        // Our own group replaces `*`: its rules do not add up.
        assert!(allowed(txt, "/private/story"));
        let star = "User-agent: *\nDisallow: /private/\n";
        assert!(!allowed(star, "/private/story"));
        assert!(allowed(star, "/news/story"));
        assert!(allowed("", "/anything"));
    }

    fn delay(txt: &str) -> Option<Duration> {
        match parse("tickerfeed", txt.as_bytes()) {
            Rules::Parsed(r) => crawl_delay(r.delay),
            _ => unreachable!(),
        }
    }

    #[test]
    fn the_crawl_delay_of_the_group_that_applies_capped() {
        let other = "User-agent: otherbot\nCrawl-delay: 30\n\nUser-agent: *\nDisallow: /x/\n";
        assert_eq!(delay(other), None, "another agent's delay");
        let star = "User-agent: otherbot\nCrawl-delay: 30\n\nUser-agent: *\nCrawl-delay: 2.5\n";
        assert_eq!(delay(star), Some(Duration::from_millis(2500)));
        let ours = "User-agent: *\nCrawl-delay: 5\n\nUser-agent: tickerfeed\nCrawl-delay: 1\n";
        assert_eq!(delay(ours), Some(Duration::from_secs(1)));
        assert_eq!(
            delay("User-agent: *\nCrawl-delay: 86400\n"),
            Some(MAX_CRAWL_DELAY)
        );
        assert_eq!(crawl_delay(Some(f32::INFINITY)), Some(MAX_CRAWL_DELAY));
        for nonsense in [0.0, -3.0, f32::NAN] {
            assert_eq!(crawl_delay(Some(nonsense)), None, "{nonsense}");
        }
    }

    #[test]
    fn product_tokens() {
        assert_eq!(
            product_token("tickerfeed/0.1 (+https://x.test)"),
            "tickerfeed"
        );
        assert_eq!(product_token("My-Bot_2 rest"), "My-Bot_2");
        assert_eq!(product_token("  "), "tickerfeed");
    }
}
