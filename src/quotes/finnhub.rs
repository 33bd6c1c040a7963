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
//!
//! History for price reactions: `stock/candle` (`history_request`,
//! [`parse_history`]), a paid feature; the free plan's refusal is
//! `NotEntitled` and the reaction is left unpriced.

use chrono::{DateTime, Utc};
use reqwest::header::{ACCEPT, HeaderMap, HeaderName, HeaderValue};
use serde::Deserialize;
use url::Url;

use super::client::{ProviderRequest, encode, endpoint};
use super::history::{Bar, Bars, Interval};
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

/// The history request for one symbol: `stock/candle` bars of `interval`
/// (`resolution` 1, 5 or D) from `from` to `to`, epoch seconds. Candles are
/// a paid feature since 2024; a free key gets "You don't have access to
/// this resource." (`NotEntitled`), and backfill then gives up.
pub(crate) fn history_request(
    base: &Url,
    api_key: Option<&Secret>,
    symbol: &str,
    interval: Interval,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> ProviderRequest {
    let mut req = request(base, api_key, symbol);
    let resolution = match interval {
        Interval::Minute1 => "1",
        Interval::Minute5 => "5",
        Interval::Day1 => "D",
    };
    req.url = endpoint(
        base,
        "/api/v1/stock/candle",
        &format!(
            "symbol={}&resolution={resolution}&from={}&to={}",
            encode(symbol, b""),
            from.timestamp(),
            to.timestamp()
        ),
    );
    req
}

#[derive(Deserialize)]
struct Candles {
    s: Option<String>,
    #[serde(default)]
    t: Vec<i64>,
    #[serde(default)]
    c: Vec<serde_json::Number>,
    error: Option<String>,
}

/// Parses a `stock/candle` reply: parallel arrays `t` (bar starts) and `c`
/// (closes) with `"s": "ok"`, or `{"s": "no_data"}` for an empty window.
pub fn parse_history(
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<Bars, QuoteError> {
    let reply: Candles = read(status, content_type, body, |c: &Candles| c.error.as_deref())?;
    match reply.s.as_deref() {
        Some("ok") => {}
        Some("no_data") => return Ok(Bars::default()),
        other => return Err(QuoteError::Malformed(format!("candle status {other:?}"))),
    }
    let bars = reply
        .t
        .iter()
        .zip(&reply.c)
        .filter_map(|(start, close)| {
            Some(Bar {
                start: time_from_epoch(*start)?,
                close: decimal_from_number(close)?,
            })
        })
        .collect();
    Ok(Bars {
        bars,
        currency: None,
        as_of: None,
        interval: None,
    })
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
    let reply: Reply = read(status, content_type, body, |r: &Reply| r.error.as_deref())?;
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

/// What every Finnhub reply goes through before its own fields are read:
/// 429 and HTML pages, an `error` message (with any status), a non-2xx
/// status, then the JSON itself.
fn read<T: serde::de::DeserializeOwned>(
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
    error: impl Fn(&T) -> Option<&str>,
) -> Result<T, QuoteError> {
    if status == 429 {
        return Err(QuoteError::RateLimited { retry_after: None });
    }
    if looks_like_html(content_type, body) {
        return Err(QuoteError::Blocked);
    }
    let reply: T = match serde_json::from_slice(body) {
        Ok(r) => r,
        Err(err) if (200..=299).contains(&status) => {
            return Err(QuoteError::Malformed(format!("{err}: {}", excerpt(body))));
        }
        Err(_) => return Err(status_error(status, "")),
    };
    if let Some(message) = error(&reply) {
        return Err(error_message(status, message));
    }
    if !(200..=299).contains(&status) {
        return Err(status_error(status, ""));
    }
    Ok(reply)
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

    #[test]
    fn history_bars() {
        let bars = parse_history(200, JSON, &fixture("finnhub/candles_aapl_daily.json")).unwrap();
        assert_eq!(bars.bars.len(), 3);
        assert_eq!(bars.bars[0].start, at(1_569_297_600));
        assert_eq!(bars.bars[2].close, dec("219.89"));
        let empty = parse_history(200, JSON, &fixture("finnhub/candles_no_data.json")).unwrap();
        assert!(empty.bars.is_empty());
        // Candles are not on the free plan.
        assert_eq!(
            parse_history(403, JSON, &fixture("finnhub/not_entitled.json")).unwrap_err(),
            QuoteError::NotEntitled
        );
    }

    #[test]
    fn history_request_keeps_the_key_in_the_header() {
        let base = Url::parse("https://finnhub.io").unwrap();
        let req = history_request(
            &base,
            Some(&Secret::new("k3y")),
            "AAPL",
            Interval::Minute5,
            at(1_784_834_040),
            at(1_784_835_900),
        );
        assert_eq!(
            req.url.as_str(),
            "https://finnhub.io/api/v1/stock/candle?symbol=AAPL&resolution=5&from=1784834040&to=1784835900"
        );
        assert_eq!(req.headers["x-finnhub-token"], "k3y");
    }
}
