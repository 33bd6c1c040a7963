//! Twelve Data `/quote`: batches, numbers as strings, errors inside HTTP 200.
//!
//! Owns the request shape (`GET {base}/quote?symbol=A,B&apikey=KEY`) and
//! [`parse`]. Hands one result per requested symbol to
//! [`ProviderClient`](super::client::ProviderClient), which charges one
//! credit per symbol.
//!
//! Shapes: with one symbol the reply is the bare quote object; with several
//! it is an object keyed by symbol, each value a quote or an error object.
//! An error is `{"code": N, "message": …, "status": "error"}`, with the
//! matching HTTP status *or with 200*, so the body decides: 429 is the rate
//! limit, 404 an unknown symbol, 401 a bad key, 403 a plan that does not
//! cover the symbol.
//!
//! History for price reactions: `time_series` asked in UTC
//! (`history_request`, [`parse_history`]), one credit per request.

use chrono::{DateTime, Utc};
use reqwest::header::{ACCEPT, HeaderMap, HeaderValue};
use serde_json::{Map, Value};
use url::Url;

use super::client::{ProviderRequest, encode, endpoint, push_api_key};
use super::history::{Bar, Bars, Interval};
use super::{QuoteError, decimal_from_json, excerpt, looks_like_html, redact, time_from_epoch};
use crate::config::Secret;
use crate::model::{ProviderKind, Quote, Session};

/// The request for a batch of provider symbols.
pub(crate) fn request(base: &Url, api_key: Option<&Secret>, symbols: &[String]) -> ProviderRequest {
    let list: Vec<String> = symbols.iter().map(|s| encode(s, b"")).collect();
    let mut query = format!("symbol={}", list.join(","));
    push_api_key(&mut query, api_key);
    let mut headers = HeaderMap::new();
    headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
    ProviderRequest {
        url: endpoint(base, "/quote", &query),
        headers,
    }
}

/// Parses one `/quote` reply; one result per `requested` symbol, in order.
pub fn parse(
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
    requested: &[String],
    now: DateTime<Utc>,
) -> Vec<(String, Result<Quote, QuoteError>)> {
    let all = |err: QuoteError| {
        requested
            .iter()
            .map(|s| (s.clone(), Err(err.clone())))
            .collect()
    };
    if looks_like_html(content_type, body) {
        return all(if status == 429 {
            QuoteError::RateLimited { retry_after: None }
        } else {
            QuoteError::Blocked
        });
    }
    let value: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(err) => {
            return all(match status {
                200..=299 => QuoteError::Malformed(format!("{err}: {}", excerpt(body))),
                _ => error_for_code(i64::from(status), ""),
            });
        }
    };
    let Some(object) = value.as_object() else {
        return all(QuoteError::Malformed("reply is not a JSON object".into()));
    };
    // A whole-request error: the rate limit, a bad key.
    if is_error(object) {
        return all(error_object(object, status));
    }
    if !(200..=299).contains(&status) {
        return all(error_for_code(i64::from(status), ""));
    }
    // One symbol: the bare quote. Several: keyed by symbol (Twelve Data
    // echoes the symbol as requested, but match case-insensitively anyway).
    let bare = object.get("symbol").is_some_and(Value::is_string);
    requested
        .iter()
        .map(|symbol| {
            let entry = if bare {
                let echoed = object
                    .get("symbol")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                (requested.len() == 1 || echoed.eq_ignore_ascii_case(symbol)).then_some(object)
            } else {
                object
                    .get(symbol)
                    .or_else(|| {
                        object
                            .iter()
                            .find(|(k, _)| k.eq_ignore_ascii_case(symbol))
                            .map(|(_, v)| v)
                    })
                    .and_then(Value::as_object)
            };
            let result = match entry {
                None => Err(QuoteError::Malformed(format!("no entry for {symbol}"))),
                Some(e) if is_error(e) => Err(error_object(e, status)),
                Some(e) => quote_from(e, symbol, now),
            };
            (symbol.clone(), result)
        })
        .collect()
}

/// The history request for one symbol: `time_series` bars of `interval`
/// between `from` and `to`, asked and answered in UTC (`timezone=UTC`), so
/// no exchange time zone is involved; `outputsize` at its maximum, as a
/// day of minute bars is more than the default 30. One credit, like a quote.
pub(crate) fn history_request(
    base: &Url,
    api_key: Option<&Secret>,
    symbol: &str,
    interval: Interval,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> ProviderRequest {
    let interval = match interval {
        Interval::Minute1 => "1min",
        Interval::Minute5 => "5min",
        Interval::Day1 => "1day",
    };
    let stamp = |t: DateTime<Utc>| t.format("%Y-%m-%d%%20%H:%M:%S").to_string();
    let mut query = format!(
        "symbol={}&interval={interval}&start_date={}&end_date={}&timezone=UTC&order=asc&outputsize=5000",
        encode(symbol, b""),
        stamp(from),
        stamp(to)
    );
    push_api_key(&mut query, api_key);
    let mut headers = HeaderMap::new();
    headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
    ProviderRequest {
        url: endpoint(base, "/time_series", &query),
        headers,
    }
}

/// Parses a `time_series` reply: `values` of `{datetime, close}` (UTC, as
/// asked), `meta.currency`. "No data is available on the specified dates"
/// (code 400) is an empty history, not an error.
pub fn parse_history(
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<Bars, QuoteError> {
    if looks_like_html(content_type, body) {
        return Err(if status == 429 {
            QuoteError::RateLimited { retry_after: None }
        } else {
            QuoteError::Blocked
        });
    }
    let value: Value = serde_json::from_slice(body).map_err(|err| match status {
        200..=299 => QuoteError::Malformed(format!("{err}: {}", excerpt(body))),
        _ => error_for_code(i64::from(status), ""),
    })?;
    let Some(object) = value.as_object() else {
        return Err(QuoteError::Malformed("reply is not a JSON object".into()));
    };
    if is_error(object) {
        let message = object.get("message").and_then(Value::as_str).unwrap_or("");
        if message
            .to_ascii_lowercase()
            .contains("no data is available")
        {
            return Ok(Bars::default());
        }
        return Err(error_object(object, status));
    }
    if !(200..=299).contains(&status) {
        return Err(error_for_code(i64::from(status), ""));
    }
    let values = object.get("values").and_then(Value::as_array);
    let bars = values
        .into_iter()
        .flatten()
        .filter_map(|v| {
            let text = v.get("datetime")?.as_str()?;
            let start = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S")
                .or_else(|_| {
                    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
                        .map(|d| d.and_time(chrono::NaiveTime::MIN))
                })
                .ok()?
                .and_utc();
            Some(Bar {
                start,
                close: decimal_from_json(v.get("close")?)?,
            })
        })
        .collect();
    Ok(Bars {
        bars,
        currency: object
            .get("meta")
            .and_then(|m| m.get("currency"))
            .and_then(Value::as_str)
            .map(str::to_owned),
        as_of: None,
        interval: None,
    })
}

fn quote_from(
    entry: &Map<String, Value>,
    symbol: &str,
    now: DateTime<Utc>,
) -> Result<Quote, QuoteError> {
    let field = |name: &str| entry.get(name).and_then(decimal_from_json);
    let price =
        field("close").ok_or_else(|| QuoteError::Malformed(format!("no close for {symbol}")))?;
    let mut quote = Quote::new(ProviderKind::TwelveData, symbol, price, now);
    quote.previous_close = field("previous_close");
    quote.change = field("change");
    quote.change_percent = field("percent_change");
    quote.currency = entry
        .get("currency")
        .and_then(Value::as_str)
        .map(str::to_owned);
    quote.as_of = entry
        .get("timestamp")
        .and_then(epoch_seconds)
        .and_then(time_from_epoch);
    quote.session = match entry.get("is_market_open").and_then(Value::as_bool) {
        Some(true) => Session::Regular,
        Some(false) => Session::Closed,
        None => Session::Unknown,
    };
    Ok(quote.normalized())
}

/// `timestamp` is a number today; accept a numeric string too.
fn epoch_seconds(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn is_error(object: &Map<String, Value>) -> bool {
    object.get("status").and_then(Value::as_str) == Some("error")
        || (object.contains_key("code")
            && object.contains_key("message")
            && !object.contains_key("close"))
}

fn error_object(object: &Map<String, Value>, status: u16) -> QuoteError {
    let code = object
        .get("code")
        .and_then(epoch_seconds)
        .unwrap_or(i64::from(status));
    let message = object
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or_default();
    error_for_code(code, message)
}

fn error_for_code(code: i64, message: &str) -> QuoteError {
    match code {
        429 => QuoteError::RateLimited { retry_after: None },
        404 => QuoteError::UnknownSymbol,
        401 => QuoteError::Unauthorized,
        403 => QuoteError::NotEntitled,
        400 | 200..=299 => QuoteError::Malformed(format!("code {code}: {}", redact(message))),
        _ => QuoteError::Http {
            status: u16::try_from(code).unwrap_or(0),
        },
    }
}

#[cfg(test)]
mod tests {
    use crate::quotes::test_support::{at, dec, fixture};

    use super::*;

    fn syms(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    const JSON: Option<&str> = Some("application/json; charset=utf-8");

    #[test]
    fn single_quote() {
        let now = at(1_663_704_100);
        let out = parse(
            200,
            JSON,
            &fixture("twelvedata/quote_aapl.json"),
            &syms(&["AAPL"]),
            now,
        );
        assert_eq!(out.len(), 1);
        let q = out[0].1.as_ref().unwrap();
        assert_eq!(out[0].0, "AAPL");
        assert_eq!(q.provider, ProviderKind::TwelveData);
        assert_eq!(q.price, dec("156.89999"));
        assert_eq!(q.previous_close, Some(dec("154.48")));
        assert_eq!(q.change, Some(dec("2.42")));
        assert_eq!(q.change_percent, Some(dec("1.56654")));
        assert_eq!(q.currency.as_deref(), Some("USD"));
        assert_eq!(q.as_of, Some(at(1_663_703_999)));
        assert_eq!(q.session, Session::Closed);
        assert_eq!(q.fetched_at, now);
    }

    #[test]
    fn batch_with_an_unknown_symbol() {
        let out = parse(
            200,
            JSON,
            &fixture("twelvedata/batch_aapl_hsi.json"),
            &syms(&["AAPL", "HSI", "MSFT"]),
            at(1),
        );
        assert_eq!(out[0].1.as_ref().unwrap().price, dec("156.89999"));
        assert_eq!(out[1], ("HSI".into(), Err(QuoteError::UnknownSymbol)));
        assert!(matches!(out[2].1, Err(QuoteError::Malformed(_))));
    }

    #[test]
    fn whole_request_errors_apply_to_every_symbol() {
        let cases: &[(u16, &[u8], QuoteError)] = &[
            // The rate limit, with the matching status and inside a 200.
            (429, &fixture("twelvedata/rate_limit.json"), QuoteError::RateLimited { retry_after: None }),
            (200, &fixture("twelvedata/rate_limit.json"), QuoteError::RateLimited { retry_after: None }),
            (404, &fixture("twelvedata/symbol_not_found.json"), QuoteError::UnknownSymbol),
            (200, &fixture("twelvedata/symbol_not_found.json"), QuoteError::UnknownSymbol),
            (
                401,
                br#"{"code":401,"message":"**apikey** parameter is incorrect or not specified.","status":"error"}"#,
                QuoteError::Unauthorized,
            ),
            (
                200,
                br#"{"code":403,"message":"/quote is available exclusively with pro or enterprise plans.","status":"error"}"#,
                QuoteError::NotEntitled,
            ),
            (502, b"Bad Gateway", QuoteError::Http { status: 502 }),
            (403, b"<!doctype html><html></html>", QuoteError::Blocked),
        ];
        for (status, body, want) in cases {
            let out = parse(*status, JSON, body, &syms(&["AAPL", "MSFT"]), at(1));
            for (_, r) in &out {
                assert_eq!(
                    r.as_ref().unwrap_err(),
                    want,
                    "{status} {}",
                    String::from_utf8_lossy(body)
                );
            }
        }
    }

    #[test]
    fn market_open_means_regular() {
        let body = br#"{"symbol":"AAPL","currency":"USD","timestamp":"1663703999","close":"156.9","previous_close":"154.48","is_market_open":true}"#;
        let q = parse(200, JSON, body, &syms(&["AAPL"]), at(1))
            .remove(0)
            .1
            .unwrap();
        assert_eq!(q.session, Session::Regular);
        assert_eq!(q.as_of, Some(at(1_663_703_999)));
        assert_eq!(q.change, Some(dec("2.42")));
    }

    #[test]
    fn request_shape() {
        let base = Url::parse("https://api.twelvedata.com").unwrap();
        let req = request(
            &base,
            Some(&Secret::new("k3y")),
            &syms(&["AAPL", "EUR/USD"]),
        );
        assert_eq!(
            req.url.as_str(),
            "https://api.twelvedata.com/quote?symbol=AAPL,EUR%2FUSD&apikey=k3y"
        );
    }

    #[test]
    fn history_bars() {
        let bars =
            parse_history(200, JSON, &fixture("twelvedata/time_series_aapl_1min.json")).unwrap();
        // The documentation's example holds a single one-minute bar.
        assert_eq!(bars.bars.len(), 1);
        // Asked in UTC, read as UTC.
        assert_eq!(bars.bars[0].start.to_rfc3339(), "2021-09-16T15:59:00+00:00");
        assert_eq!(bars.bars[0].close, dec("148.85001"));
        assert_eq!(bars.currency.as_deref(), Some("USD"));
        let empty =
            parse_history(200, JSON, &fixture("twelvedata/time_series_no_data.json")).unwrap();
        assert!(empty.bars.is_empty());
        assert_eq!(
            parse_history(429, JSON, &fixture("twelvedata/rate_limit.json")).unwrap_err(),
            QuoteError::RateLimited { retry_after: None }
        );
    }

    #[test]
    fn history_request_shape() {
        let base = Url::parse("https://api.twelvedata.com").unwrap();
        let req = history_request(
            &base,
            Some(&Secret::new("k3y")),
            "AAPL",
            Interval::Minute1,
            at(1_784_834_040),
            at(1_784_835_900),
        );
        assert_eq!(
            req.url.as_str(),
            "https://api.twelvedata.com/time_series?symbol=AAPL&interval=1min&start_date=2026-07-23%2019:14:00&end_date=2026-07-23%2019:45:00&timezone=UTC&order=asc&outputsize=5000&apikey=k3y"
        );
    }
}
