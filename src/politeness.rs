//! Politeness rules shared by the feed fetcher and the quote client; for
//! now, how long a `Retry-After` asks us to wait.
//!
//! A bottom-layer module: it imports nothing of the crate, so
//! `pipeline::fetch` and `quotes::client` can both use it without importing
//! each other.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// `Retry-After` in either form (RFC 9110 §10.2.3): delay-seconds, or an
/// HTTP date measured from `now`. A date in the past means "now".
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at: DateTime<Utc> = httpdate::parse_http_date(value).ok()?.into();
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Moved from pipeline/fetch.rs, which had its own copy of the parser.
    #[test]
    fn retry_after_in_both_forms() {
        let now: DateTime<Utc> = DateTime::parse_from_rfc3339("2026-11-24T12:00:00Z")
            .unwrap()
            .into();
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Tue, 24 Nov 2026 12:10:00 GMT", now),
            Some(Duration::from_secs(600))
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }

    // Moved from quotes/client.rs, which had the other copy.
    #[test]
    fn retry_after_trims_and_clamps_past_dates() {
        let now = DateTime::from_timestamp(1_445_412_480, 0).unwrap(); // Wed, 21 Oct 2015 07:28:00 GMT
        let cases = [
            ("120", Some(120)),
            (" 0 ", Some(0)),
            ("Wed, 21 Oct 2015 07:30:00 GMT", Some(120)),
            ("Wed, 21 Oct 2015 07:00:00 GMT", Some(0)),
            ("soon", None),
            ("-5", None),
        ];
        for (value, want) in cases {
            assert_eq!(
                parse_retry_after(value, now),
                want.map(Duration::from_secs),
                "{value}"
            );
        }
    }
}
