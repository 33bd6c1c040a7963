//! What every outgoing POST of `push` shares: alerts to webhooks, WebSub
//! pushes to subscribers and pings to an external hub.
//!
//! Owns the two HTTP clients (one whose resolver only answers with public
//! addresses, `guard::PublicOnly`, and one for destinations allowed to be
//! private), how an answer is classified ([`Delivery`]: 2xx delivered,
//! anything else retried no sooner than its `Retry-After`, a guard
//! refusal never), the HMAC-SHA256 signature, and the retry schedule
//! (exponential backoff with jitter until a deadline). The senders keep
//! their own queues and bodies.

use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use url::Url;

use super::guard::{self, PublicOnly};
use crate::cause::chain as error_chain;
use crate::politeness::parse_retry_after;

/// The first retry's delay; doubles with each attempt.
const BACKOFF_BASE: Duration = Duration::from_secs(1);
/// The longest delay backoff alone imposes, and the longest a
/// `Retry-After` is obeyed for: a receiver asking for days (or a
/// mistaken date) would otherwise push its messages past their
/// `retry_for` at once, failing them unsent; it is asked again then.
const BACKOFF_MAX: Duration = Duration::from_secs(3_600);
/// How long one delivery may take, connection included.
const SEND_TIMEOUT: Duration = Duration::from_secs(15);

/// Why a sender could not start.
#[derive(Debug, thiserror::Error)]
pub enum SenderError {
    #[error("failed to build the webhook client")]
    Client(#[source] reqwest::Error),
}

/// How one delivery ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Delivery {
    Delivered,
    /// Worth trying again, not before the given delay.
    Retry {
        error: String,
        retry_after: Option<Duration>,
    },
    /// The receiver answered that it will not take this message as it is
    /// (400, 413, 415, 422: its content, not the receiver's state): worth
    /// trying again on its own backoff, but no reason to hold back the
    /// other messages for the same receiver, which it may well take.
    Rejected(String),
    /// No answer came (a timeout, a refused or reset connection): worth
    /// trying again, and the destination's other messages are unlikely
    /// to fare better meanwhile.
    Unanswered(String),
    /// Trying again cannot help (a refused destination, a pruned item).
    Refused(String),
}

/// The guarded and the unguarded client. Neither follows redirects nor
/// uses a proxy: either would lead past the guard.
#[derive(Debug, Clone)]
pub struct Clients {
    public: reqwest::Client,
    any: reqwest::Client,
}

impl Clients {
    /// Both clients, sending as `user_agent`.
    pub fn new(user_agent: &str) -> Result<Clients, SenderError> {
        let build = |guarded: bool| {
            let b = crate::trust::client_builder()
                .user_agent(user_agent)
                .timeout(SEND_TIMEOUT)
                .connect_timeout(SEND_TIMEOUT / 3)
                .redirect(reqwest::redirect::Policy::none())
                .no_proxy();
            if guarded {
                b.dns_resolver(PublicOnly)
            } else {
                b
            }
            .build()
            .map_err(SenderError::Client)
        };
        Ok(Clients {
            public: build(true)?,
            any: build(false)?,
        })
    }

    /// The client for a destination that may (`allow_private`) or may not
    /// be on a private network.
    pub fn pick(&self, allow_private: bool) -> &reqwest::Client {
        if allow_private {
            &self.any
        } else {
            &self.public
        }
    }

    /// Why `url` may not be requested at all, before any request: an IP
    /// literal that is not public when private destinations are not
    /// allowed. Names are checked as they resolve.
    pub fn refusal(url: &Url, allow_private: bool) -> Option<Delivery> {
        (!allow_private)
            .then(|| guard::refusal(url))
            .flatten()
            .map(Delivery::Refused)
    }
}

/// Classifies the answer to a POST sent at `now`: 2xx delivered; a
/// refusal of the message's content rejected; another status retried, not
/// before its `Retry-After`; no answer retried; a
/// refusal by the guard (a name resolving only to private addresses)
/// never retried.
pub fn classify(result: Result<reqwest::Response, reqwest::Error>, now: DateTime<Utc>) -> Delivery {
    match result {
        Ok(resp) if resp.status().is_success() => Delivery::Delivered,
        Ok(resp) if [400, 413, 415, 422].contains(&resp.status().as_u16()) => {
            Delivery::Rejected(format!("HTTP {}", resp.status()))
        }
        Ok(resp) => {
            let retry_after = resp
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| parse_retry_after(v, now));
            Delivery::Retry {
                error: format!("HTTP {}", resp.status()),
                retry_after,
            }
        }
        Err(e) => {
            // reqwest's text names the URL, whose path and query may hold
            // the receiver's token: the error is stored, logged and shown
            // by `tickerfeed alerts`, which hides the path.
            let text = error_chain(&e.without_url());
            if text.contains("refused: ") {
                Delivery::Refused(text)
            } else {
                Delivery::Unanswered(text)
            }
        }
    }
}

/// `sha256=<hex HMAC-SHA256 of body keyed with secret>`.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// When to try again after `attempts` failed attempts (the last at `now`)
/// at a message whose retry window began at `window_from` (when it was
/// queued, or put back by hand since): exponential backoff
/// (`BACKOFF_BASE` doubling per attempt, at most `BACKOFF_MAX`) scaled by
/// `jitter` (0.5 to 1.0, so retries of many messages spread out), and
/// never before `retry_after` (itself at most `BACKOFF_MAX`). `None` once
/// that falls past `retry_for` after `window_from`.
pub fn next_attempt(
    attempts: u32,
    window_from: DateTime<Utc>,
    now: DateTime<Utc>,
    retry_after: Option<Duration>,
    retry_for: Duration,
    jitter: f64,
) -> Option<DateTime<Utc>> {
    let doublings = attempts.min(20);
    let backoff = BACKOFF_BASE
        .saturating_mul(1 << doublings)
        .min(BACKOFF_MAX)
        .mul_f64(jitter.clamp(0.5, 1.0));
    let delay = backoff.max(retry_after.unwrap_or_default().min(BACKOFF_MAX));
    let next = now + chrono::Duration::from_std(delay).ok()?;
    // The archive keeps whole seconds: round up, so the stored time is
    // never earlier than the delay asked for (a `Retry-After: 2` must not
    // become 1.3 s).
    let next = match next.timestamp_subsec_nanos() {
        0 => next,
        n => next + chrono::Duration::nanoseconds(1_000_000_000 - i64::from(n)),
    };
    let deadline = window_from + chrono::Duration::from_std(retry_for).ok()?;
    (next <= deadline).then_some(next)
}

/// A random number from 0.5 to 1.0 (std's per-process random hash keys;
/// jitter needs no better randomness).
pub fn jitter_fraction() -> f64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(0);
    0.5 + (h.finish() % 1_000) as f64 / 2_000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_honours_retry_after() {
        let at = DateTime::parse_from_rfc3339("2026-11-24T09:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let day = Duration::from_secs(86_400);
        let secs = |next: Option<DateTime<Utc>>| (next.unwrap() - at).num_seconds();
        assert_eq!(secs(next_attempt(0, at, at, None, day, 1.0)), 1);
        assert_eq!(secs(next_attempt(3, at, at, None, day, 1.0)), 8);
        assert_eq!(secs(next_attempt(3, at, at, None, day, 0.5)), 4);
        assert_eq!(secs(next_attempt(30, at, at, None, day, 1.0)), 3_600);
        let asked = Some(Duration::from_secs(120));
        assert_eq!(secs(next_attempt(0, at, at, asked, day, 1.0)), 120);
        // A month's Retry-After is obeyed for an hour, not taken as a
        // reason to give up.
        let month = Some(Duration::from_secs(30 * 86_400));
        assert_eq!(secs(next_attempt(0, at, at, month, day, 1.0)), 3_600);
        // Past the retry window: failed.
        let late = at + chrono::Duration::hours(24);
        assert_eq!(next_attempt(0, at, late, None, day, 1.0), None);
        let f = jitter_fraction();
        assert!((0.5..=1.0).contains(&f), "{f}");
    }

    #[test]
    fn signature_is_hex_hmac_sha256() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn private_literals_are_refused_unless_allowed() {
        let url = Url::parse("http://127.0.0.1:9/cb").unwrap();
        assert!(matches!(
            Clients::refusal(&url, false),
            Some(Delivery::Refused(_))
        ));
        assert_eq!(Clients::refusal(&url, true), None);
    }
}
