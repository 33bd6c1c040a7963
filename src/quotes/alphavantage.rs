//! Alpha Vantage `GLOBAL_QUOTE`: one symbol per request, end-of-day data.
//!
//! Owns the request shape
//! (`GET {base}/query?function=GLOBAL_QUOTE&symbol=X&apikey=KEY`) and
//! [`parse`]. Hands a [`Quote`] or [`QuoteError`] to
//! [`ProviderClient`](super::client::ProviderClient). With 25 requests a day
//! on the free plan this is an end-of-day source, not a live one.
//!
//! Every error is an HTTP 200 (`market-providers.md` §3.6): `Note` and
//! `Information` are rate limits (except "premium endpoint", which is a plan
//! limit), `Error Message` a bad key, and `{"Global Quote": {}}` an unknown
//! symbol. Without `entitlement` the data is end of day, so the quote is
//! dated at the trading day's close on its exchange (the configured one,
//! else the one its symbol shows), with `Session::Closed`; the `Global
//! Quote - DATA DELAYED BY 15 MINUTES` wrapper (premium) is intraday, dated
//! 15 minutes before the fetch while that day's session runs, and its
//! session is `Unknown`. No currency is given.

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use reqwest::header::{ACCEPT, HeaderMap, HeaderValue};
use serde_json::{Map, Value};
use url::Url;

use super::calendar;
use super::client::{ProviderRequest, encode, endpoint, push_api_key};
use super::{QuoteError, decimal_from_json, excerpt, looks_like_html};
use crate::config::Secret;
use crate::model::{ProviderKind, Quote, Session};

/// The request for one symbol.
pub(crate) fn request(base: &Url, api_key: Option<&Secret>, symbol: &str) -> ProviderRequest {
    let mut query = format!("function=GLOBAL_QUOTE&symbol={}", encode(symbol, b""));
    push_api_key(&mut query, api_key);
    let mut headers = HeaderMap::new();
    headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
    ProviderRequest {
        url: endpoint(base, "/query", &query),
        headers,
    }
}

/// Parses one reply for `symbol` (the provider symbol requested), listed
/// on the `exchange` its config names, if any.
pub fn parse(
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
    symbol: &str,
    exchange: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Quote, QuoteError> {
    if status == 429 {
        return Err(QuoteError::RateLimited { retry_after: None });
    }
    if looks_like_html(content_type, body) {
        return Err(QuoteError::Blocked);
    }
    if !(200..=299).contains(&status) {
        return Err(QuoteError::Http { status });
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|err| QuoteError::Malformed(format!("{err}: {}", excerpt(body))))?;
    let object = value
        .as_object()
        .ok_or_else(|| QuoteError::Malformed("reply is not a JSON object".into()))?;

    if object.contains_key("Note") {
        return Err(QuoteError::RateLimited { retry_after: None });
    }
    if let Some(info) = object.get("Information") {
        let info = info.as_str().unwrap_or_default().to_ascii_lowercase();
        return Err(if info.contains("premium endpoint") {
            QuoteError::NotEntitled
        } else {
            QuoteError::RateLimited { retry_after: None }
        });
    }
    if object.contains_key("Error Message") {
        return Err(QuoteError::Unauthorized);
    }
    let Some((wrapper, fields)) = object
        .iter()
        .find(|(k, _)| k.starts_with("Global Quote"))
        .and_then(|(k, v)| Some((k, v.as_object()?)))
    else {
        return Err(QuoteError::Malformed(format!(
            "no Global Quote object: {}",
            excerpt(body)
        )));
    };
    if fields.is_empty() {
        return Err(QuoteError::UnknownSymbol);
    }
    let end_of_day = wrapper == "Global Quote";
    quote_from(fields, symbol, exchange, end_of_day, now)
}

fn quote_from(
    fields: &Map<String, Value>,
    symbol: &str,
    exchange: Option<&str>,
    end_of_day: bool,
    now: DateTime<Utc>,
) -> Result<Quote, QuoteError> {
    let field = |name: &str| fields.get(name).and_then(decimal_from_json);
    let price = field("05. price").ok_or_else(|| QuoteError::Malformed("no 05. price".into()))?;
    let mut quote = Quote::new(ProviderKind::AlphaVantage, symbol, price, now);
    quote.previous_close = field("08. previous close");
    quote.change = field("09. change");
    quote.change_percent = field("10. change percent");
    quote.as_of = fields
        .get("07. latest trading day")
        .and_then(Value::as_str)
        .and_then(|d| NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d").ok())
        .map(|d| time_of_day(d, exchange, symbol, end_of_day, now));
    quote.session = if end_of_day {
        Session::Closed
    } else {
        Session::Unknown
    };
    Ok(quote.normalized())
}

/// How far behind the premium wrapper's prices are, as its name says.
const DELAYED_BY: TimeDelta = TimeDelta::minutes(15);

/// When a quote that gives only its trading day was the price: end-of-day
/// data is that day's close on the symbol's exchange (the configured one,
/// else the one its spelling shows); delayed data is
/// [`DELAYED_BY`] ago while that session runs, its close after. Never
/// later than `now`. Midnight UTC was the day's start, before any trade,
/// which made a current price look like the previous session's
/// (`quotes::board` marks those stale). A day the calendar has no session
/// on, or a symbol of a market no calendar here knows, keeps midnight UTC.
fn time_of_day(
    day: NaiveDate,
    exchange: Option<&str>,
    symbol: &str,
    end_of_day: bool,
    now: DateTime<Utc>,
) -> DateTime<Utc> {
    let exchange = calendar::evidently_listed_on(exchange, symbol);
    let Some(session) = exchange.and_then(|e| e.session_on(day)) else {
        return day.and_time(chrono::NaiveTime::MIN).and_utc();
    };
    let latest = if end_of_day { now } else { now - DELAYED_BY };
    session.close.min(latest)
}

#[cfg(test)]
mod tests {
    use crate::quotes::test_support::{dec, fixture};

    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    const NOW: &str = "2025-11-07T09:00:00Z";
    const JSON: Option<&str> = Some("application/json");

    #[test]
    fn global_quote_and_delayed_wrapper() {
        let cases = [
            (
                &fixture("alphavantage/global_quote_ibm.json"),
                Session::Closed,
            ),
            (
                &fixture("alphavantage/delayed_wrapper.json"),
                Session::Unknown,
            ),
        ];
        for (body, session) in cases {
            let q = parse(200, JSON, body, "IBM", None, utc(NOW)).unwrap();
            assert_eq!(q.provider, ProviderKind::AlphaVantage);
            assert_eq!(q.provider_symbol, "IBM");
            assert_eq!(q.price, dec("312.42"));
            assert_eq!(q.previous_close, Some(dec("306.77")));
            assert_eq!(q.change, Some(dec("5.65")));
            assert_eq!(q.change_percent, Some(dec("1.8418")));
            // Thursday's close in New York (16:00 EST), the day before.
            assert_eq!(q.as_of, Some(utc("2025-11-06T21:00:00Z")));
            assert_eq!(q.fetched_at, utc(NOW));
            assert_eq!(q.currency, None);
            assert_eq!(q.session, session);
        }
    }

    /// A delayed price fetched while its session runs is from 15 minutes
    /// ago, not from the day's midnight: the board does not call it the
    /// previous session's. A London symbol's day closes at London's close.
    #[test]
    fn a_trading_days_quote_is_dated_within_that_days_session() {
        let day = NaiveDate::from_ymd_opt(2025, 11, 6).unwrap();
        let during = utc("2025-11-06T15:00:00Z");
        assert_eq!(
            time_of_day(day, None, "IBM", false, during),
            utc("2025-11-06T14:45:00Z")
        );
        assert_eq!(time_of_day(day, None, "IBM", true, during), during);
        assert_eq!(
            time_of_day(day, None, "TSCO.LON", true, utc(NOW)),
            utc("2025-11-06T16:30:00Z")
        );
        let q = parse(
            200,
            JSON,
            &fixture("alphavantage/delayed_wrapper.json"),
            "IBM",
            None,
            during,
        )
        .unwrap();
        let nyse = calendar::for_provider_symbol("IBM");
        assert!(q.as_of.unwrap() >= nyse.session_at_or_after(during).open);
        // The exchange the config names, over the one the spelling shows:
        // a plain ticker configured on London closes with London.
        assert_eq!(
            time_of_day(day, Some("LSE"), "BARC", true, utc(NOW)),
            utc("2025-11-06T16:30:00Z")
        );
        let q = parse(
            200,
            JSON,
            &fixture("alphavantage/global_quote_ibm.json"),
            "BARC",
            Some("LSE"),
            utc(NOW),
        )
        .unwrap();
        assert_eq!(q.as_of, Some(utc("2025-11-06T16:30:00Z")));
        // A Saturday has no session: midnight UTC, as given.
        let saturday = NaiveDate::from_ymd_opt(2025, 11, 8).unwrap();
        assert_eq!(
            time_of_day(saturday, None, "IBM", true, utc(NOW)),
            utc("2025-11-08T00:00:00Z")
        );
    }

    #[test]
    fn error_classes() {
        let cases: &[(u16, &[u8], QuoteError)] = &[
            (200, &fixture("alphavantage/rate_limit_daily.json"), QuoteError::RateLimited { retry_after: None }),
            (200, &fixture("alphavantage/rate_limit_legacy_note.json"), QuoteError::RateLimited { retry_after: None }),
            (200, &fixture("alphavantage/unknown_symbol.json"), QuoteError::UnknownSymbol),
            (
                200,
                br#"{"Error Message": "the parameter apikey is invalid or missing. Please claim your free API key on (https://www.alphavantage.co/support/#api-key)."}"#,
                QuoteError::Unauthorized,
            ),
            (
                200,
                br#"{"Information": "Thank you for using Alpha Vantage! This is a premium endpoint."}"#,
                QuoteError::NotEntitled,
            ),
            (429, b"", QuoteError::RateLimited { retry_after: None }),
            (503, b"", QuoteError::Http { status: 503 }),
        ];
        for (status, body, want) in cases {
            assert_eq!(
                parse(*status, JSON, body, "IBM", None, utc(NOW)).unwrap_err(),
                *want,
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        assert!(matches!(
            parse(200, JSON, b"{}", "IBM", None, utc(NOW)),
            Err(QuoteError::Malformed(_))
        ));
    }

    #[test]
    fn request_shape() {
        let base = Url::parse("https://www.alphavantage.co").unwrap();
        let req = request(&base, Some(&Secret::new("k3y")), "TSCO.LON");
        assert_eq!(
            req.url.as_str(),
            "https://www.alphavantage.co/query?function=GLOBAL_QUOTE&symbol=TSCO.LON&apikey=k3y"
        );
    }
}
