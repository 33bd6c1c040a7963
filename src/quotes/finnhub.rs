//! Finnhub `/api/v1/quote`: one symbol per request, key in a header.
//!
//! Owns the request shape (`GET {base}/api/v1/quote?symbol=X` with the key in
//! `X-Finnhub-Token`, never in the URL, so it cannot leak through a logged
//! URL) and [`parse`]. Hands a [`Quote`] or [`QuoteError`] to
//! [`ProviderClient`](super::client::ProviderClient).
//!
//! Finnhub sends no currency (that needs `/stock/profile2`) and no session
//! (that needs `/stock/market-status`), so quotes carry `currency: None` and
//! `Session::Unknown`. An unknown symbol is an HTTP 200 with every field zero.
//! The free plan covers US listings only; others answer "You don't have
//! access to this resource." (`NotEntitled`).

use chrono::{DateTime, Utc};
use reqwest::header::{ACCEPT, HeaderMap, HeaderName, HeaderValue};
use serde::Deserialize;
use url::Url;

use super::client::{ProviderRequest, encode, endpoint};
use super::{QuoteError, decimal_from_number, excerpt, looks_like_html, redact, time_from_epoch};
use crate::config::Secret;
use crate::model::{ProviderKind, Quote, Session};

const TOKEN_HEADER: HeaderName = HeaderName::from_static("x-finnhub-token");

/// The request for one symbol.
pub(crate) fn request(base: &Url, api_key: Option<&Secret>, symbol: &str) -> ProviderRequest {
    let mut headers = HeaderMap::new();
    headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
    if let Some(mut token) = api_key.and_then(|k| HeaderValue::from_str(k.expose()).ok()) {
        // Keeps the value out of reqwest's and hyper's Debug output.
        token.set_sensitive(true);
        headers.insert(TOKEN_HEADER, token);
    }
    ProviderRequest {
        url: endpoint(
            base,
            "/api/v1/quote",
            &format!("symbol={}", encode(symbol, b"")),
        ),
        headers,
    }
}

#[derive(Deserialize)]
struct Reply {
    c: Option<serde_json::Number>,
    d: Option<serde_json::Number>,
    dp: Option<serde_json::Number>,
    pc: Option<serde_json::Number>,
    t: Option<i64>,
    error: Option<String>,
}

/// Parses one `/quote` reply for `symbol` (the provider symbol requested).
pub fn parse(
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
    symbol: &str,
    now: DateTime<Utc>,
) -> Result<Quote, QuoteError> {
    if status == 429 {
        return Err(QuoteError::RateLimited { retry_after: None });
    }
    if looks_like_html(content_type, body) {
        return Err(QuoteError::Blocked);
    }
    let reply: Reply = match serde_json::from_slice(body) {
        Ok(r) => r,
        Err(err) if (200..=299).contains(&status) => {
            return Err(QuoteError::Malformed(format!("{err}: {}", excerpt(body))));
        }
        Err(_) => return Err(status_error(status, "")),
    };
    if let Some(message) = &reply.error {
        return Err(error_message(status, message));
    }
    if !(200..=299).contains(&status) {
        return Err(status_error(status, ""));
    }
    // Unknown symbols come back as 200 with every field zero.
    let Some(as_of) = reply.t.and_then(time_from_epoch) else {
        return Err(QuoteError::UnknownSymbol);
    };
    let price = reply
        .c
        .as_ref()
        .and_then(decimal_from_number)
        .ok_or_else(|| QuoteError::Malformed("no price (c)".into()))?;
    let mut quote = Quote::new(ProviderKind::Finnhub, symbol, price, now);
    quote.as_of = Some(as_of);
    // `pc` is 0 when Finnhub has no previous close (a first trading day).
    quote.previous_close = reply
        .pc
        .as_ref()
        .and_then(decimal_from_number)
        .filter(|pc| !pc.is_zero());
    quote.change = reply.d.as_ref().and_then(decimal_from_number);
    quote.change_percent = reply.dp.as_ref().and_then(decimal_from_number);
    quote.session = Session::Unknown;
    Ok(quote.normalized())
}

fn error_message(status: u16, message: &str) -> QuoteError {
    let lower = message.to_ascii_lowercase();
    if lower.contains("invalid api key") || lower.contains("api key required") {
        QuoteError::Unauthorized
    } else if lower.contains("have access") {
        QuoteError::NotEntitled
    } else if lower.contains("limit") {
        QuoteError::RateLimited { retry_after: None }
    } else {
        status_error(status, &redact(message))
    }
}

fn status_error(status: u16, what: &str) -> QuoteError {
    match status {
        200..=299 => QuoteError::Malformed(what.to_owned()),
        401 => QuoteError::Unauthorized,
        403 => QuoteError::NotEntitled,
        429 => QuoteError::RateLimited { retry_after: None },
        _ => QuoteError::Http { status },
    }
}

#[cfg(test)]
mod tests {
    use crate::quotes::test_support::{at, dec, fixture};

    use super::*;

    const JSON: Option<&str> = Some("application/json; charset=utf-8");

    #[test]
    fn quotes() {
        // (fixture, price, previous close, change, change %, as-of)
        let cases = [
            (
                &fixture("finnhub/quote_full.json"),
                "311.51",
                "311.89",
                "-0.15",
                "-0.0573",
                1_582_641_000,
            ),
            // 2020-era reply without d and dp: computed from pc.
            (
                &fixture("finnhub/quote_aapl_2020.json"),
                "112.28",
                "108.22",
                "4.06",
                "3.7516",
                1_601_197_570,
            ),
        ];
        let now = at(1_700_000_000);
        for (body, price, prev, change, pct, as_of) in cases {
            let q = parse(200, JSON, body, "AAPL", now).unwrap();
            assert_eq!(q.provider, ProviderKind::Finnhub);
            assert_eq!(q.price, dec(price));
            assert_eq!(q.previous_close, Some(dec(prev)));
            assert_eq!(q.change, Some(dec(change)));
            assert_eq!(q.change_percent, Some(dec(pct)));
            assert_eq!(q.as_of, Some(at(as_of)));
            assert_eq!(q.fetched_at, now);
            assert_eq!(q.currency, None);
            assert_eq!(q.session, Session::Unknown);
        }
    }

    #[test]
    fn error_classes() {
        let cases: &[(u16, &[u8], QuoteError)] = &[
            (
                200,
                &fixture("finnhub/quote_unknown.json"),
                QuoteError::UnknownSymbol,
            ),
            (
                429,
                &fixture("finnhub/rate_limit.json"),
                QuoteError::RateLimited { retry_after: None },
            ),
            (
                401,
                &fixture("finnhub/invalid_key.json"),
                QuoteError::Unauthorized,
            ),
            (
                401,
                &fixture("finnhub/not_entitled.json"),
                QuoteError::NotEntitled,
            ),
            (
                403,
                &fixture("finnhub/not_entitled.json"),
                QuoteError::NotEntitled,
            ),
            // The same messages inside a 200 are classified by their text.
            (
                200,
                &fixture("finnhub/rate_limit.json"),
                QuoteError::RateLimited { retry_after: None },
            ),
            (401, b"", QuoteError::Unauthorized),
            (500, b"oops", QuoteError::Http { status: 500 }),
        ];
        for (status, body, want) in cases {
            assert_eq!(
                parse(*status, JSON, body, "X", at(1)).unwrap_err(),
                *want,
                "{status} {}",
                String::from_utf8_lossy(body)
            );
        }
        assert_eq!(
            parse(403, Some("text/html"), b"<html>cf</html>", "X", at(1)).unwrap_err(),
            QuoteError::Blocked
        );
    }

    #[test]
    fn key_goes_in_the_header() {
        let base = Url::parse("https://finnhub.io").unwrap();
        let req = request(&base, Some(&Secret::new("k3y")), "BRK.B");
        assert_eq!(
            req.url.as_str(),
            "https://finnhub.io/api/v1/quote?symbol=BRK.B"
        );
        assert_eq!(req.headers["x-finnhub-token"], "k3y");
        assert!(req.headers["x-finnhub-token"].is_sensitive());
        assert!(!format!("{req:?}").contains("k3y"));
    }
}
