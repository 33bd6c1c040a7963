//! Market quotes: one price snapshot per configured instrument.
//!
//! Fetches the provider-neutral [`Quote`] (a model type, whose
//! [`Quote::normalized`] is the one place minor currency units are
//! rescaled). Owns the error classes every provider is mapped onto
//! ([`QuoteError`]) and API-key hygiene ([`redact`]; the keys themselves are
//! [`crate::config::Secret`]s).
//! Each provider module (`yahoo`, `finnhub`, `twelvedata`, `stooq`,
//! `alphavantage`) has a pure `parse` over a captured response plus the shape
//! of its request; [`client::ProviderClient`] runs those requests under a
//! [`budget::Budget`]; [`mentions::MentionMatcher`] finds which configured
//! instruments a news item talks about. [`reactions`] measures what the
//! price did after an item, in trading time on the exchange calendars of
//! [`calendar`], backfilling gaps in the series from the providers'
//! history ([`history`]).
//!
//! Hands [`Quote`]s keyed by *our* configured symbol to the board refresher,
//! which caches them, and from there to the store, which archives a snapshot
//! with each new item.
//!
//! Invariants:
//! - prices are `Decimal` in major units (GBP, not pence); never `f64`;
//! - `as_of` is the provider's time and never our fetch time (`fetched_at`);
//! - nothing here reads the wall clock: callers pass `now`;
//! - an API key never reaches a `Debug`/`Display` string, a log line or an
//!   error: keys live in [`Secret`](crate::config::Secret), and every URL or
//!   transport error text goes through [`redact`] first.

pub mod alphavantage;
pub mod board;
pub mod budget;
/// Exchange calendars are domain data (the strip reads them too); kept
/// reachable here, beside the board and reactions that use them most.
pub use crate::model::calendar;
pub mod client;
pub mod finnhub;
pub mod history;
pub mod mentions;
pub mod reactions;
pub mod stooq;
pub mod twelvedata;
pub mod yahoo;

/// Lives with the URL helpers, since feed URLs carry keys too.
pub use crate::link::redact;

#[cfg(test)]
mod loopback;

/// What the provider tests share: exact decimals, epoch times and the
/// captured payloads in tests/fixtures/quotes.
#[cfg(test)]
pub(crate) mod test_support {
    use std::str::FromStr;

    use chrono::{DateTime, Utc};
    use rust_decimal::Decimal;

    pub fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    pub fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(secs, 0).unwrap()
    }

    /// A payload under tests/fixtures/quotes, e.g. `finnhub/quote_full.json`.
    pub fn fixture(path: &str) -> Vec<u8> {
        let full = format!(
            "{}/tests/fixtures/quotes/{path}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
    }
}

use std::str::FromStr;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use crate::model::{ProviderKind, Quote};

pub use budget::{Budget, RateLimit};
pub use client::ProviderClient;
pub use mentions::{Instrument, MatchedBy, Mention, MentionMatcher};

/// What the quote client needs to know about a provider's API. The kind
/// itself (names, whether it needs a key) is defined in `model::market`,
/// where config, the store and the board reach it too; these belong here,
/// beside the client that shapes requests.
impl ProviderKind {
    /// Most symbols one request may carry.
    pub fn max_batch(self) -> usize {
        match self {
            // Twelve Data documents up to 120 symbols per call, but the
            // budget (8 credits/min on the free plan) is the real limit.
            ProviderKind::TwelveData => 120,
            // Undocumented; keep URLs short.
            ProviderKind::Stooq => 50,
            ProviderKind::Yahoo | ProviderKind::Finnhub | ProviderKind::AlphaVantage => 1,
        }
    }

    /// Whether the provider bills one credit per symbol rather than per request.
    pub fn charges_per_symbol(self) -> bool {
        matches!(self, ProviderKind::TwelveData)
    }
}

/// Why a provider gave us no quote for a symbol. Clone, because one failed
/// batch request fails every symbol in it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuoteError {
    #[error("the provider does not know this symbol")]
    UnknownSymbol,
    #[error("rate limited by the provider{}", retry_note(.retry_after))]
    RateLimited {
        retry_after: Option<std::time::Duration>,
    },
    #[error("unauthorized: the API key is missing, wrong or revoked")]
    Unauthorized,
    #[error("not entitled: the plan does not cover this symbol or endpoint")]
    NotEntitled,
    /// An HTML page, a bot wall or a proof-of-work challenge instead of
    /// data; for Stooq also what a missing or refused key looks like.
    #[error("blocked: the provider answered with an HTML page or bot wall, or wants a key")]
    Blocked,
    #[error("malformed response: {0}")]
    Malformed(String),
    #[error("unexpected HTTP status {status}")]
    Http { status: u16 },
    /// The request failed before a response arrived; the text is redacted.
    #[error("transport error: {0}")]
    Transport(String),
    /// Our own budget held the request back; nothing was sent.
    #[error("request budget exhausted until {}", to_the_second(.until))]
    BudgetExhausted { until: DateTime<Utc> },
    /// The provider asked us to wait (a 429, a bot wall), and the wait has
    /// not ended; nothing was sent. `why` is the answer that asked.
    #[error("the provider asked us to wait ({why}) until {}", to_the_second(.until))]
    Paused { until: DateTime<Utc>, why: String },
}

/// A time as errors print it: to the second, as the archive keeps it
/// (chrono's own `Display` prints nanoseconds).
fn to_the_second(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

fn retry_note(retry_after: &Option<std::time::Duration>) -> String {
    retry_after
        .map(|wait| format!(" (retry after {} s)", wait.as_secs()))
        .unwrap_or_default()
}

impl QuoteError {
    /// The kind of failure in a few plain words, with no address, symbol
    /// or provider text in it: what a public page (`/feeds`) says, while
    /// the log and `tickerfeed quotes` give the whole error. A transport
    /// error is known only by its text (reqwest's, whose message names the
    /// URL), so its kind is read from the causes that text ends with.
    pub fn in_plain_words(&self) -> String {
        match self {
            QuoteError::UnknownSymbol => "unknown symbol".into(),
            QuoteError::RateLimited { .. } => "rate limited".into(),
            QuoteError::Unauthorized => "API key refused".into(),
            QuoteError::NotEntitled => "not covered by the plan".into(),
            QuoteError::Blocked => "blocked".into(),
            QuoteError::Malformed(_) => "unreadable answer".into(),
            QuoteError::Http { status } => format!("HTTP {status}"),
            QuoteError::BudgetExhausted { .. } => "request budget used up".into(),
            QuoteError::Paused { .. } => "the provider asked us to wait".into(),
            QuoteError::Transport(text) => {
                let text = text.to_lowercase();
                let says = |words: &[&str]| words.iter().any(|w| text.contains(w));
                if says(&["connection refused"]) {
                    "connection refused"
                } else if says(&["timed out", "timeout"]) {
                    "timed out"
                } else if says(&["dns error", "failed to lookup", "name or service not known"]) {
                    "host not found"
                } else if says(&["certificate", "tls", "ssl"]) {
                    "secure connection failed"
                } else if says(&["unreachable"]) {
                    "unreachable"
                } else {
                    "connection failed"
                }
                .into()
            }
        }
    }

    /// A short stable label for the error's class. (Nothing uses it yet:
    /// logs and `tickerfeed quotes` print the `Display` text.)
    pub fn code(&self) -> &'static str {
        match self {
            QuoteError::UnknownSymbol => "unknown_symbol",
            QuoteError::RateLimited { .. } => "rate_limited",
            QuoteError::Unauthorized => "unauthorized",
            QuoteError::NotEntitled => "not_entitled",
            QuoteError::Blocked => "blocked",
            QuoteError::Malformed(_) => "malformed",
            QuoteError::Http { .. } => "http",
            QuoteError::Transport(_) => "transport",
            QuoteError::BudgetExhausted { .. } => "budget_exhausted",
            QuoteError::Paused { .. } => "paused",
        }
    }

    /// Until when no request is sent, when that is why this came back
    /// (our budget, or the provider's pause) rather than an answer.
    pub fn held_until(&self) -> Option<DateTime<Utc>> {
        match self {
            QuoteError::BudgetExhausted { until } | QuoteError::Paused { until, .. } => {
                Some(*until)
            }
            _ => None,
        }
    }

    /// Why a provider that answered with `self` pauses us, in a few words
    /// (`rate limited, Retry-After 120 s`): the cause a [`QuoteError::Paused`]
    /// keeps.
    pub fn pause_cause(&self) -> String {
        match self {
            QuoteError::RateLimited {
                retry_after: Some(wait),
            } => format!("rate limited, Retry-After {} s", wait.as_secs()),
            other => other.in_plain_words(),
        }
    }
}

/// Parses a JSON value that should hold a decimal: a number (via its text,
/// never through `f64` arithmetic) or a string such as `"312.4200"` or
/// `"1.8418%"`. `null`, `""` and `"N/D"` give `None`.
pub(crate) fn decimal_from_json(value: &serde_json::Value) -> Option<Decimal> {
    match value {
        serde_json::Value::Number(n) => decimal_from_number(n),
        serde_json::Value::String(s) => decimal_from_text(s),
        _ => None,
    }
}

/// A JSON number as a `Decimal`. serde_json keeps integers exact and prints
/// floats in the shortest form that reads back to the same value, which is
/// the text the provider sent for any price with up to 15 significant digits.
pub(crate) fn decimal_from_number(n: &serde_json::Number) -> Option<Decimal> {
    if let Some(i) = n.as_i64() {
        return Some(Decimal::from(i));
    }
    if let Some(u) = n.as_u64() {
        return Some(Decimal::from(u));
    }
    decimal_from_text(&n.to_string())
}

/// A decimal in text: trims blanks, a leading `+` and a trailing `%`;
/// accepts exponent notation (`1e-7`).
pub(crate) fn decimal_from_text(text: &str) -> Option<Decimal> {
    let t = text.trim();
    let t = t.strip_suffix('%').unwrap_or(t).trim();
    let t = t.strip_prefix('+').unwrap_or(t);
    if t.is_empty() || t.eq_ignore_ascii_case("N/D") {
        return None;
    }
    Decimal::from_str(t)
        .or_else(|_| Decimal::from_scientific(t))
        .ok()
}

/// Epoch seconds as a UTC time; `None` for 0 or out-of-range values, which
/// providers use for "no data".
pub(crate) fn time_from_epoch(secs: i64) -> Option<DateTime<Utc>> {
    if secs <= 0 {
        return None;
    }
    DateTime::from_timestamp(secs, 0)
}

/// Whether a body is an HTML page (a bot wall, consent page or error page)
/// rather than the data format we asked for.
pub(crate) fn looks_like_html(content_type: Option<&str>, body: &[u8]) -> bool {
    if content_type.is_some_and(|ct| ct.to_ascii_lowercase().contains("text/html")) {
        return true;
    }
    let head = String::from_utf8_lossy(&body[..body.len().min(256)]);
    let head = head
        .trim_start_matches('\u{feff}')
        .trim_start()
        .to_ascii_lowercase();
    head.starts_with("<!doctype") || head.starts_with("<html") || head.starts_with("<head")
}

/// A short, redacted excerpt of a body for a `Malformed` message.
pub(crate) fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(120)]);
    redact(text.trim())
}

#[cfg(test)]
mod tests {
    use super::test_support::{at, dec};

    /// What the public feeds page says of a failed quote: its kind, never
    /// the address reqwest's text names.
    #[test]
    fn errors_in_plain_words_name_the_kind_and_no_address() {
        let transport = |text: &str| QuoteError::Transport(text.into()).in_plain_words();
        let refused = "error sending request for url (http://10.0.0.5:8080/quote?symbols=AAPL&token=****): \
                       client error (Connect): tcp connect error: Connection refused (os error 111)";
        assert_eq!(transport(refused), "connection refused");
        assert_eq!(
            transport("error sending request for url (https://q.example/v1): operation timed out"),
            "timed out"
        );
        assert_eq!(
            transport(
                "error sending request for url (https://q.example/v1): client error (Connect): dns error: failed to lookup address information"
            ),
            "host not found"
        );
        assert_eq!(
            transport("error sending request for url (https://q.example/v1)"),
            "connection failed"
        );
        assert_eq!(
            QuoteError::Http { status: 503 }.in_plain_words(),
            "HTTP 503"
        );
        assert_eq!(
            QuoteError::Malformed("at http://10.0.0.5/ line 1".into()).in_plain_words(),
            "unreadable answer"
        );
    }
    use super::*;
    use crate::model::Session;

    #[test]
    fn session_names() {
        let names: Vec<_> = [
            Session::Pre,
            Session::Regular,
            Session::Post,
            Session::Closed,
            Session::Unknown,
        ]
        .iter()
        .map(|s| s.as_str())
        .collect();
        assert_eq!(names, ["pre", "regular", "post", "closed", "unknown"]);
    }

    #[test]
    fn minor_units_are_rescaled_but_change_percent_is_not() {
        let cases = [
            ("GBp", "GBP"),
            ("GBX", "GBP"),
            ("ZAc", "ZAR"),
            ("ILA", "ILS"),
        ];
        for (minor, major) in cases {
            let mut q = Quote::new(ProviderKind::Yahoo, "X", dec("115.75"), at(1));
            q.currency = Some(minor.into());
            q.previous_close = Some(dec("110"));
            q.change_percent = Some(dec("5.2273"));
            let q = q.normalized();
            assert_eq!(q.currency.as_deref(), Some(major), "{minor}");
            assert_eq!(q.price, dec("1.1575"));
            assert_eq!(q.previous_close, Some(dec("1.1")));
            assert_eq!(q.change, Some(dec("0.0575")));
            assert_eq!(q.change_percent, Some(dec("5.2273")));
            // Normalising twice must not divide twice.
            assert_eq!(q.clone().normalized(), q);
        }
    }

    #[test]
    fn pounds_are_not_pence() {
        let mut q = Quote::new(ProviderKind::Yahoo, "X", dec("46.75"), at(1));
        q.currency = Some("GBP".into());
        assert_eq!(q.normalized().price, dec("46.75"));
    }

    #[test]
    fn change_is_computed_from_previous_close() {
        let mut q = Quote::new(ProviderKind::Stooq, "X", dec("46.75"), at(1));
        q.previous_close = Some(dec("45.78"));
        let q = q.normalized();
        assert_eq!(q.change, Some(dec("0.97")));
        assert_eq!(q.change_percent, Some(dec("2.1188")));

        let mut zero = Quote::new(ProviderKind::Stooq, "X", dec("1"), at(1));
        zero.previous_close = Some(Decimal::ZERO);
        assert_eq!(zero.normalized().change_percent, None);
    }

    /// Figures too large for the arithmetic (a provider's 1e27) leave what
    /// cannot be computed unknown; before, they panicked the board's task.
    #[test]
    fn absurd_figures_leave_the_change_unknown() {
        let mut q = Quote::new(ProviderKind::Finnhub, "X", dec("1e27"), at(1));
        q.previous_close = Some(dec("1"));
        let q = q.normalized();
        assert_eq!(q.change, Some(dec("999999999999999999999999999")));
        assert_eq!(q.change_percent, None);
        let mut q = Quote::new(ProviderKind::Finnhub, "X", dec("7e28"), at(1));
        q.previous_close = Some(dec("-7e28"));
        assert_eq!(q.normalized().change, None);
    }

    #[test]
    fn provider_change_is_kept() {
        let mut q = Quote::new(ProviderKind::Finnhub, "X", dec("311.51"), at(1));
        q.previous_close = Some(dec("311.89"));
        q.change = Some(dec("-0.15"));
        q.change_percent = Some(dec("-0.0573"));
        let q = q.normalized();
        assert_eq!(q.change, Some(dec("-0.15")));
        assert_eq!(q.change_percent, Some(dec("-0.0573")));
    }

    #[test]
    fn decimals_from_json_text_and_numbers() {
        let cases = [
            (serde_json::json!(328.879), Some("328.879")),
            (serde_json::json!(6346), Some("6346")),
            (serde_json::json!("312.4200"), Some("312.4200")),
            (serde_json::json!("1.8418%"), Some("1.8418")),
            (serde_json::json!("-0.5%"), Some("-0.5")),
            (serde_json::json!(1e-7), Some("0.0000001")),
            (serde_json::json!("N/D"), None),
            (serde_json::json!(""), None),
            (serde_json::Value::Null, None),
        ];
        for (input, want) in cases {
            assert_eq!(decimal_from_json(&input), want.map(dec), "{input}");
        }
    }

    #[test]
    fn errors_read_well_in_logs() {
        let cases = [
            (
                QuoteError::RateLimited {
                    retry_after: Some(std::time::Duration::from_secs(120)),
                },
                "rate limited by the provider (retry after 120 s)",
            ),
            (
                QuoteError::RateLimited { retry_after: None },
                "rate limited by the provider",
            ),
            (
                QuoteError::BudgetExhausted {
                    until: at(1_790_000_000),
                },
                "request budget exhausted until 2026-09-21 14:13:20 UTC",
            ),
            // Not with nanoseconds (a 429's pause counts from its arrival).
            (
                QuoteError::Paused {
                    until: at(1_790_000_000) + chrono::Duration::nanoseconds(2_088_008),
                    why: QuoteError::RateLimited {
                        retry_after: Some(std::time::Duration::from_secs(120)),
                    }
                    .pause_cause(),
                },
                "the provider asked us to wait (rate limited, Retry-After 120 s) until 2026-09-21 14:13:20 UTC",
            ),
        ];
        for (err, want) in cases {
            assert_eq!(err.to_string(), want);
        }
    }

    #[test]
    fn redact_blanks_key_values() {
        let cases = [
            (
                "https://www.alphavantage.co/query?function=GLOBAL_QUOTE&symbol=IBM&apikey=ABC123",
                "https://www.alphavantage.co/query?function=GLOBAL_QUOTE&symbol=IBM&apikey=****",
            ),
            (
                "https://finnhub.io/api/v1/quote?token=c0ffee&symbol=AAPL",
                "https://finnhub.io/api/v1/quote?token=****&symbol=AAPL",
            ),
            (
                "https://financialmodelingprep.com/stable/quote?symbol=AAPL&apiKey=Zz9",
                "https://financialmodelingprep.com/stable/quote?symbol=AAPL&apiKey=****",
            ),
            (
                "error sending request for url (http://127.0.0.1:9/q/l/?s=aapl.us&apikey=k3y)",
                "error sending request for url (http://127.0.0.1:9/q/l/?s=aapl.us&apikey=****)",
            ),
            ("X-Finnhub-Token: c0ffee", "X-Finnhub-Token: ****"),
            (
                r#"{"Information": "bad request", "apikey": "ABC123", "symbol": "IBM"}"#,
                r#"{"Information": "bad request", "apikey": "****", "symbol": "IBM"}"#,
            ),
            (
                r#"{"status":"error","token":"c0ffee"}"#,
                r#"{"status":"error","token":"****"}"#,
            ),
            ("{'api_key': 'Zz9'}", "{'api_key': '****'}"),
            (r#"{"monkey": "banana"}"#, r#"{"monkey": "banana"}"#),
            ("?access_token=abc&x=1", "?access_token=****&x=1"),
            ("/feed?key=AIza9&alt=rss", "/feed?key=****&alt=rss"),
            (
                "?client_secret=s3&password=pw",
                "?client_secret=****&password=****",
            ),
            ("no keys here, symbol=AAPL", "no keys here, symbol=AAPL"),
        ];
        for (input, want) in cases {
            assert_eq!(redact(input), want);
        }
    }

    #[test]
    fn html_is_recognised() {
        assert!(looks_like_html(Some("text/html; charset=utf-8"), b"{}"));
        assert!(looks_like_html(None, b"\n  <!DOCTYPE html><html>"));
        assert!(looks_like_html(None, b"<HTML><body>"));
        assert!(!looks_like_html(Some("application/json"), b"{\"c\":1}"));
        assert!(!looks_like_html(None, b"Symbol,Date"));
    }
}
