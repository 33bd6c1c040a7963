//! Yahoo Finance v8 chart endpoint: keyless, one symbol per request, best effort.
//!
//! Owns the request shape
//! (`GET {base}/v8/finance/chart/{SYMBOL}?range=1d&interval=1d`, symbol
//! percent-encoded, browser User-Agent) and [`parse`], which turns a
//! captured reply into a [`Quote`] in major currency units (`GBp` → GBP) or a
//! [`QuoteError`]. Hands both to [`ProviderClient`](super::client::ProviderClient).
//!
//! Traps handled here (`market-providers.md` §3.1):
//! - `chartPreviousClose` is the close before the *chart range*, so it is the
//!   previous session's close only when `range` is `1d`;
//! - bar values are single-precision floats widened to double
//!   (`321.6600036621094`);
//! - unknown symbols are a 404 with a JSON `chart.error`, throttling is a 429
//!   with the plain text `Edge: Too Many Requests`, and cloud IPs get a 403
//!   HTML page.
//!
//! History for price reactions: the same endpoint with
//! `period1`/`period2` and `interval=1m|5m|1d` (`history_request`,
//! [`parse_history`]); bars keep Yahoo's single-precision rounding fix.
//!
//! The v7 quote endpoint (batch, cookie and crumb) is not implemented; a
//! crumb error (`finance.error`, 401) is still recognised as `Unauthorized`
//! in case the chart endpoint starts to want one too.

use chrono::{DateTime, Utc};
use reqwest::header::{ACCEPT, HeaderMap, HeaderValue, USER_AGENT};
use rust_decimal::Decimal;
use serde::Deserialize;
use url::Url;

use super::client::{BROWSER_USER_AGENT, ProviderRequest, encode, endpoint};
use super::history::{self, Bar, Interval};
use super::{QuoteError, decimal_from_number, excerpt, looks_like_html, time_from_epoch};
use crate::model::{ProviderKind, Quote, Session};

/// The request for one symbol.
pub(crate) fn request(base: &Url, symbol: &str) -> ProviderRequest {
    let path = format!("/v8/finance/chart/{}", encode(symbol, b""));
    let mut headers = HeaderMap::new();
    headers.insert(USER_AGENT, HeaderValue::from_static(BROWSER_USER_AGENT));
    headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
    ProviderRequest {
        url: endpoint(base, &path, "range=1d&interval=1d"),
        headers,
    }
}

#[derive(Deserialize)]
struct Envelope {
    chart: Option<Chart>,
    /// The v7/v10 error shape, seen when Yahoo wants a crumb.
    finance: Option<Finance>,
}

#[derive(Deserialize)]
struct Chart {
    result: Option<Vec<ChartResult>>,
    error: Option<ApiError>,
}

#[derive(Deserialize)]
struct Finance {
    error: Option<ApiError>,
}

#[derive(Deserialize)]
struct ApiError {
    code: Option<String>,
    description: Option<String>,
}

#[derive(Deserialize)]
struct ChartResult {
    meta: Meta,
    #[serde(default)]
    timestamp: Vec<Option<i64>>,
    indicators: Option<Indicators>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Meta {
    currency: Option<String>,
    regular_market_price: Option<serde_json::Number>,
    regular_market_time: Option<i64>,
    previous_close: Option<serde_json::Number>,
    chart_previous_close: Option<serde_json::Number>,
    range: Option<String>,
    data_granularity: Option<String>,
    current_trading_period: Option<TradingPeriods>,
    /// `EQUITY` in the verbatim AAPL chart; `MUTUALFUND` for a fund.
    instrument_type: Option<String>,
}

#[derive(Deserialize)]
struct TradingPeriods {
    pre: Option<Period>,
    regular: Option<Period>,
    post: Option<Period>,
}

#[derive(Deserialize, Clone, Copy)]
struct Period {
    start: i64,
    end: i64,
}

impl Period {
    fn contains(self, t: i64) -> bool {
        self.start <= t && t < self.end
    }
}

#[derive(Deserialize)]
struct Indicators {
    #[serde(default)]
    quote: Vec<Bars>,
}

#[derive(Deserialize)]
struct Bars {
    #[serde(default)]
    close: Vec<Option<serde_json::Number>>,
}

/// The history request for one symbol: bars of `interval` from `from` to
/// `to` (`period1`/`period2`, epoch seconds), regular session only.
pub(crate) fn history_request(
    base: &Url,
    symbol: &str,
    interval: Interval,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> ProviderRequest {
    let mut req = request(base, symbol);
    let interval = match interval {
        Interval::Minute1 => "1m",
        Interval::Minute5 => "5m",
        Interval::Day1 => "1d",
    };
    req.url.set_query(Some(&format!(
        "period1={}&period2={}&interval={interval}&includePrePost=false",
        from.timestamp(),
        to.timestamp()
    )));
    req
}

/// Parses one chart reply for `symbol` (the provider symbol requested).
pub fn parse(
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
    symbol: &str,
    now: DateTime<Utc>,
) -> Result<Quote, QuoteError> {
    quote_from(chart_result(status, content_type, body)?, symbol, now)
}

/// Parses a history reply (the same chart object, with many bars): each
/// bar's start and close. Bars with a null close (a halt, Tokyo's lunch)
/// are skipped.
pub fn parse_history(
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<history::Bars, QuoteError> {
    let result = chart_result(status, content_type, body)?;
    let closes = result
        .indicators
        .as_ref()
        .and_then(|i| i.quote.first())
        .map(|q| q.close.as_slice())
        .unwrap_or_default();
    let bars = result
        .timestamp
        .iter()
        .zip(closes)
        .filter_map(|(start, close)| {
            Some(Bar {
                start: time_from_epoch((*start)?)?,
                close: decimal_from_number(close.as_ref()?)?
                    .round_sf(7)?
                    .normalize(),
            })
        })
        .collect();
    Ok(history::Bars {
        bars,
        currency: result.meta.currency.clone(),
        as_of: result.meta.regular_market_time.and_then(time_from_epoch),
        interval: match result.meta.data_granularity.as_deref() {
            Some("1m") => Some(Interval::Minute1),
            Some("5m") => Some(Interval::Minute5),
            Some("1d") => Some(Interval::Day1),
            _ => None,
        },
    })
}

/// The first chart result of a reply, or the error the reply stands for.
fn chart_result(
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<ChartResult, QuoteError> {
    if status == 429 {
        return Err(QuoteError::RateLimited { retry_after: None });
    }
    if looks_like_html(content_type, body) {
        return Err(QuoteError::Blocked);
    }
    let envelope: Envelope = match serde_json::from_slice(body) {
        Ok(e) => e,
        Err(err) => {
            return Err(match status {
                200..=299 => QuoteError::Malformed(format!("{err}: {}", excerpt(body))),
                401 => QuoteError::Unauthorized,
                // Yahoo's 403s are IP or bot blocks, HTML or not.
                403 => QuoteError::Blocked,
                _ => QuoteError::Http { status },
            });
        }
    };
    if let Some(err) = envelope.finance.and_then(|f| f.error) {
        return Err(api_error(status, &err));
    }
    let Some(chart) = envelope.chart else {
        return Err(status_error(status, "no chart object"));
    };
    if let Some(err) = chart.error {
        return Err(api_error(status, &err));
    }
    if !(200..=299).contains(&status) {
        return Err(status_error(status, ""));
    }
    chart
        .result
        .and_then(|r| r.into_iter().next())
        .ok_or(QuoteError::UnknownSymbol)
}

fn quote_from(result: ChartResult, symbol: &str, now: DateTime<Utc>) -> Result<Quote, QuoteError> {
    let meta = &result.meta;
    let price = meta
        .regular_market_price
        .as_ref()
        .and_then(decimal_from_number)
        .ok_or_else(|| QuoteError::Malformed("no meta.regularMarketPrice".into()))?;
    let mut quote = Quote::new(ProviderKind::Yahoo, symbol, price, now);
    quote.currency = meta.currency.clone();
    quote.as_of = meta.regular_market_time.and_then(time_from_epoch);
    quote.previous_close = previous_close(&result);
    quote.session = match (meta.regular_market_time, &meta.current_trading_period) {
        (Some(t), Some(periods)) => session_at(t, periods),
        _ => Session::Unknown,
    };
    quote.daily = meta.instrument_type.as_deref() == Some("MUTUALFUND");
    Ok(quote.normalized())
}

/// `meta.previousClose` when Yahoo sends it; else the close of the bar
/// before the one the current price belongs to; else `chartPreviousClose`,
/// but only for a one-day range, where it *is* the previous session's close
/// (for `range=5d` it is the close five sessions back).
fn previous_close(result: &ChartResult) -> Option<Decimal> {
    let meta = &result.meta;
    if let Some(prev) = meta.previous_close.as_ref().and_then(decimal_from_number) {
        return Some(prev);
    }
    if let Some(prev) = previous_bar_close(result) {
        return Some(prev);
    }
    if meta.range.as_deref() == Some("1d") {
        return meta
            .chart_previous_close
            .as_ref()
            .and_then(decimal_from_number);
    }
    None
}

fn previous_bar_close(result: &ChartResult) -> Option<Decimal> {
    let closes = &result.indicators.as_ref()?.quote.first()?.close;
    // The current price's bar is the last one that started at or before
    // `regularMarketTime`; without times, assume it is the last bar. Looking
    // for the bar before it (rather than the second-to-last non-null close)
    // keeps a null close on today's bar from pushing us back a day.
    let current = match (result.meta.regular_market_time, result.timestamp.len()) {
        (Some(t), n) if n == closes.len() => result
            .timestamp
            .iter()
            .rposition(|ts| ts.is_some_and(|ts| ts <= t))?,
        _ => closes.iter().rposition(Option::is_some)?,
    };
    let prev = closes[..current].iter().rev().find_map(Option::as_ref)?;
    // Bars are single-precision floats widened to double: 321.66 arrives as
    // 321.6600036621094. A float32 holds about 7 significant digits, so
    // rounding to 7 gives back the price Yahoo stored.
    Some(decimal_from_number(prev)?.round_sf(7)?.normalize())
}

/// The session of `regularMarketPrice`, from its time
/// (`regularMarketTime`). v8's regular price is the regular session's
/// only (extended-hours prices are other fields), so a time inside the
/// regular period (`start <= t < end`) is `Regular` and any other is that
/// session's close: Yahoo stamps the closing print a second or so after
/// the close, inside `post` (`market-providers.md` §4.3), and a time
/// before the day's first period is a previous session's close (§7).
/// Without periods the session is unknown.
fn session_at(t: i64, periods: &TradingPeriods) -> Session {
    match (periods.pre, periods.regular, periods.post) {
        (_, Some(regular), _) if regular.contains(t) => Session::Regular,
        (None, None, None) => Session::Unknown,
        _ => Session::Closed,
    }
}

fn api_error(status: u16, err: &ApiError) -> QuoteError {
    let code = err.code.as_deref().unwrap_or_default();
    let description = err.description.as_deref().unwrap_or_default();
    if code.eq_ignore_ascii_case("Not Found") {
        QuoteError::UnknownSymbol
    } else if code.eq_ignore_ascii_case("Unauthorized") || status == 401 {
        QuoteError::Unauthorized
    } else {
        status_error(status, &format!("{code}: {description}"))
    }
}

fn status_error(status: u16, what: &str) -> QuoteError {
    match status {
        200..=299 => QuoteError::Malformed(what.to_owned()),
        401 => QuoteError::Unauthorized,
        403 => QuoteError::Blocked,
        429 => QuoteError::RateLimited { retry_after: None },
        _ => QuoteError::Http { status },
    }
}

#[cfg(test)]
mod tests {
    use crate::quotes::test_support::{at, dec, fixture};

    use super::*;

    const NOW: i64 = 1_784_903_530;
    const JSON: Option<&str> = Some("application/json;charset=utf-8");

    #[test]
    fn aapl_five_day_chart() {
        let q = parse(
            200,
            JSON,
            &fixture("yahoo/chart_AAPL_range5d.json"),
            "AAPL",
            at(NOW),
        )
        .unwrap();
        assert_eq!(q.provider, ProviderKind::Yahoo);
        assert_eq!(q.provider_symbol, "AAPL");
        assert_eq!(q.price, dec("328.879"));
        assert_eq!(q.currency.as_deref(), Some("USD"));
        assert_eq!(q.as_of, Some(at(1_784_903_522)));
        assert_eq!(q.fetched_at, at(NOW));
        assert_eq!(q.session, Session::Regular);
        // The previous bar, not chartPreviousClose (333.74, five sessions back).
        assert_eq!(q.previous_close, Some(dec("321.66")));
        assert_eq!(q.change, Some(dec("7.219")));
        assert_eq!(q.change_percent, Some(dec("2.2443")));
    }

    /// A fund's chart says `MUTUALFUND`: its price is a NAV, struck once a
    /// day. The verbatim AAPL chart says `EQUITY`.
    #[test]
    fn a_fund_is_priced_once_a_day() {
        let fund = fixture("yahoo/chart_FXAIX_fund_derived.json");
        let q = parse(200, JSON, &fund, "FXAIX", at(NOW)).unwrap();
        assert!(q.daily);
        assert_eq!(q.price, dec("267.17"));
        assert_eq!(q.as_of, Some(at(1_790_726_907)));
        let aapl = fixture("yahoo/chart_AAPL_range5d.json");
        assert!(!parse(200, JSON, &aapl, "AAPL", at(NOW)).unwrap().daily);
    }

    #[test]
    fn vod_pence_become_pounds() {
        let q = parse(
            200,
            JSON,
            &fixture("yahoo/chart_VOD.L_pence.json"),
            "VOD.L",
            at(NOW),
        )
        .unwrap();
        assert_eq!(q.price, dec("1.1575"));
        assert_eq!(q.currency.as_deref(), Some("GBP"));
        assert_eq!(q.as_of, Some(at(1_781_287_549)));
        // No previousClose, no bars, no range: we do not guess.
        assert_eq!(q.previous_close, None);
        assert_eq!(q.change, None);
        assert_eq!(q.session, Session::Unknown);
    }

    #[test]
    fn error_classes() {
        let cases: &[(u16, Option<&str>, &[u8], QuoteError)] = &[
            (404, JSON, &fixture("yahoo/chart_not_found.json"), QuoteError::UnknownSymbol),
            (
                429,
                Some("text/plain"),
                &fixture("yahoo/edge_429.txt"),
                QuoteError::RateLimited { retry_after: None },
            ),
            (
                403,
                Some("text/html"),
                b"<!DOCTYPE html><html><body>Forbidden</body></html>",
                QuoteError::Blocked,
            ),
            (200, None, b"<html><body>consent</body></html>", QuoteError::Blocked),
            (401, JSON, &fixture("yahoo/quote_v7_401_crumb.json"), QuoteError::Unauthorized),
            (401, JSON, &fixture("yahoo/quote_v7_401_unable.json"), QuoteError::Unauthorized),
            (
                422,
                JSON,
                br#"{"chart":{"result":null,"error":{"code":"Unprocessable Entity","description":"Invalid input - interval=1d is not supported"}}}"#,
                QuoteError::Http { status: 422 },
            ),
            (502, Some("text/plain"), b"Bad Gateway", QuoteError::Http { status: 502 }),
            (
                200,
                JSON,
                br#"{"chart":{"result":[],"error":null}}"#,
                QuoteError::UnknownSymbol,
            ),
        ];
        for (status, ct, body, want) in cases {
            assert_eq!(
                parse(*status, *ct, body, "X", at(NOW)).unwrap_err(),
                *want,
                "{status} {}",
                String::from_utf8_lossy(body)
            );
        }
        assert!(matches!(
            parse(200, JSON, b"{\"chart\":", "X", at(NOW)),
            Err(QuoteError::Malformed(_))
        ));
    }

    /// A one-bar chart as `range=1d` returns it, with room for overrides.
    fn one_day(meta_extra: &str, closes: &str, timestamps: &str) -> Vec<u8> {
        format!(
            r#"{{"chart":{{"result":[{{"meta":{{"currency":"USD","regularMarketPrice":46.75,"regularMarketTime":1784903522,
            "chartPreviousClose":45.78,"range":"1d",
            "currentTradingPeriod":{{"pre":{{"start":1784880000,"end":1784899800}},"regular":{{"start":1784899800,"end":1784923200}},"post":{{"start":1784923200,"end":1784937600}}}}
            {meta_extra}}},"timestamp":{timestamps},"indicators":{{"quote":[{{"close":{closes}}}]}}}}],"error":null}}}}"#
        )
        .into_bytes()
    }

    #[test]
    fn previous_close_preference() {
        let cases = [
            // meta.previousClose wins over everything.
            (
                r#","previousClose":45.5"#,
                "[46.75]",
                "[1784899800]",
                Some("45.5"),
            ),
            // One bar and range=1d: chartPreviousClose is the previous session.
            ("", "[46.75]", "[1784899800]", Some("45.78")),
            // Today's bar has no close yet: still the bar before it.
            (
                "",
                "[45.1,44.0,null]",
                "[1784727000,1784813400,1784899800]",
                Some("44"),
            ),
            // A null inside the series is skipped.
            (
                "",
                "[45.1,null,46.75]",
                "[1784727000,1784813400,1784899800]",
                Some("45.1"),
            ),
        ];
        for (extra, closes, ts, want) in cases {
            let q = parse(200, JSON, &one_day(extra, closes, ts), "RELX", at(NOW)).unwrap();
            assert_eq!(q.previous_close, want.map(dec), "{extra} {closes}");
        }
        // Five-day range and no earlier bar: chartPreviousClose is not used.
        let body = String::from_utf8(one_day("", "[46.75]", "[1784899800]"))
            .unwrap()
            .replace(r#""range":"1d""#, r#""range":"5d""#);
        let q = parse(200, JSON, body.as_bytes(), "RELX", at(NOW)).unwrap();
        assert_eq!(q.previous_close, None);
    }

    #[test]
    fn session_from_trading_periods() {
        let periods = TradingPeriods {
            pre: Some(Period {
                start: 100,
                end: 200,
            }),
            regular: Some(Period {
                start: 200,
                end: 300,
            }),
            post: Some(Period {
                start: 300,
                end: 400,
            }),
        };
        // The regular price is never an extended-hours trade: outside the
        // regular period it is a session's close, not "after hours" (the
        // closing print is stamped a second after the close, inside post).
        let cases = [
            (99, Session::Closed), // the previous session's close
            (100, Session::Closed),
            (199, Session::Closed),
            (200, Session::Regular),
            (299, Session::Regular),
            (300, Session::Closed),
            (301, Session::Closed),
            (400, Session::Closed),
        ];
        for (t, want) in cases {
            assert_eq!(session_at(t, &periods), want, "{t}");
        }
        let regular_only = TradingPeriods {
            pre: None,
            regular: Some(Period {
                start: 200,
                end: 300,
            }),
            post: None,
        };
        assert_eq!(session_at(250, &regular_only), Session::Regular);
        assert_eq!(session_at(300, &regular_only), Session::Closed);
        let none = TradingPeriods {
            pre: None,
            regular: None,
            post: None,
        };
        assert_eq!(session_at(250, &none), Session::Unknown);
    }

    #[test]
    fn request_shape() {
        let base = Url::parse("https://query1.finance.yahoo.com").unwrap();
        let cases = [
            ("AAPL", "/v8/finance/chart/AAPL"),
            ("^GSPC", "/v8/finance/chart/%5EGSPC"),
            ("USDSGD=X", "/v8/finance/chart/USDSGD%3DX"),
            ("BRK-B", "/v8/finance/chart/BRK-B"),
            ("VOD.L", "/v8/finance/chart/VOD.L"),
        ];
        for (symbol, path) in cases {
            let req = request(&base, symbol);
            assert_eq!(req.url.path(), path);
            assert_eq!(req.url.query(), Some("range=1d&interval=1d"));
            assert_eq!(req.headers[USER_AGENT], BROWSER_USER_AGENT);
        }
    }

    #[test]
    fn history_bars_from_the_daily_chart() {
        let bars = parse_history(200, JSON, &fixture("yahoo/chart_AAPL_range5d.json")).unwrap();
        assert_eq!(bars.bars.len(), 5);
        assert_eq!(bars.bars[0].start, at(1_784_554_200));
        // Single-precision bars read back as the price Yahoo stored.
        assert_eq!(bars.bars[3].close, dec("321.66"));
        assert_eq!(bars.currency.as_deref(), Some("USD"));
        assert_eq!(bars.as_of, Some(at(1_784_903_522)));
        assert_eq!(bars.interval, Some(Interval::Day1));
        let minute =
            parse_history(200, JSON, &fixture("yahoo/chart_AAPL_1m_derived.json")).unwrap();
        assert_eq!(minute.interval, Some(Interval::Minute1));
        assert_eq!(minute.bars[1].close, dec("323.25"));
        assert_eq!(minute.bars[2].close, dec("323.4"));
        assert_eq!(
            parse_history(404, JSON, &fixture("yahoo/chart_not_found.json")).unwrap_err(),
            QuoteError::UnknownSymbol
        );
    }

    #[test]
    fn history_request_shape() {
        let base = Url::parse("https://query1.finance.yahoo.com").unwrap();
        let req = history_request(
            &base,
            "BP.L",
            Interval::Minute1,
            at(1_784_834_040),
            at(1_784_835_900),
        );
        assert_eq!(
            req.url.as_str(),
            "https://query1.finance.yahoo.com/v8/finance/chart/BP.L?period1=1784834040&period2=1784835900&interval=1m&includePrePost=false"
        );
    }
}
