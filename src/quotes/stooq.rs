//! Stooq "light quote" CSV: batches, no currency, local Warsaw times.
//!
//! Owns the request shape
//! (`GET {base}/q/l/?s=a,b&f=sd2t2ohlcvp&h&e=csv&apikey=KEY`, browser
//! User-Agent) and [`parse`], which also reads the `e=json` variant. Hands
//! one result per requested symbol to
//! [`ProviderClient`](super::client::ProviderClient); one request costs one
//! unit of budget however many symbols it carries.
//!
//! We ask for `p` (previous close) on top of the documented
//! `sd2t2ohlcv`, because without it there is no change to show; the parser
//! reads columns by header name, so a reply without `Prev` still parses.
//!
//! Traps (`market-providers.md` §3.5): unknown symbols are rows of `N/D`;
//! the daily quota is an HTTP 200 saying `Exceeded the daily hits limit`;
//! a missing key or the bot wall is an HTML page, with 200 or 404. Stooq has
//! no currency column, so `currency` stays `None`; `.uk` lines are probably
//! in pence, but that is unconfirmed, so they are not rescaled: every Stooq
//! payload on record (§4.1) is a US line, and the only evidence is another
//! client's rescaling. The suffix could not settle it either: some London
//! lines (ETFs) trade in pounds, and nothing in the reply tells which.

use std::collections::HashMap;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use reqwest::header::{ACCEPT, HeaderMap, HeaderValue, USER_AGENT};
use serde_json::Value;
use url::Url;

use super::client::{BROWSER_USER_AGENT, ProviderRequest, encode, endpoint, push_api_key};
use super::{QuoteError, decimal_from_json, decimal_from_text, excerpt, looks_like_html};
use crate::config::Secret;
use crate::model::{ProviderKind, Quote, Session};

/// The request for a batch of provider symbols (`aapl.us`, `bp.uk`, `^spx`).
pub(crate) fn request(base: &Url, api_key: Option<&Secret>, symbols: &[String]) -> ProviderRequest {
    let list: Vec<String> = symbols.iter().map(|s| encode(s, b"")).collect();
    let mut query = format!("s={}&f=sd2t2ohlcvp&h&e=csv", list.join(","));
    push_api_key(&mut query, api_key);
    let mut headers = HeaderMap::new();
    headers.insert(USER_AGENT, HeaderValue::from_static(BROWSER_USER_AGENT));
    headers.insert(ACCEPT, HeaderValue::from_static("text/csv,*/*;q=0.8"));
    ProviderRequest {
        url: endpoint(base, "/q/l/", &query),
        headers,
    }
}

/// One data row, whichever format it came in.
struct Row {
    symbol: String,
    date: Option<String>,
    time: Option<String>,
    close: Option<String>,
    prev: Option<String>,
}

/// Parses one reply (CSV, or JSON if the body is JSON); one result per
/// `requested` symbol, in order. Rows match requested symbols ignoring case
/// (`aapl.us` comes back as `AAPL.US`).
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
    let text = String::from_utf8_lossy(body);
    if status == 429 || text.contains("Exceeded the daily hits limit") {
        return all(QuoteError::RateLimited { retry_after: None });
    }
    if looks_like_html(content_type, body) || text.to_ascii_lowercase().contains("apikey") {
        return all(QuoteError::Blocked);
    }
    match status {
        200..=299 => {}
        // Without a (valid) key Stooq answers 404 or an HTML page.
        401 | 403 | 404 => return all(QuoteError::Blocked),
        _ => return all(QuoteError::Http { status }),
    }
    let trimmed = text.trim_start_matches('\u{feff}').trim();
    let rows = if trimmed.starts_with('{') {
        json_rows(trimmed)
    } else {
        csv_rows(trimmed)
    };
    let rows = match rows {
        Ok(rows) => rows,
        Err(what) => return all(QuoteError::Malformed(format!("{what}: {}", excerpt(body)))),
    };
    let by_symbol: HashMap<String, &Row> = rows
        .iter()
        .rev() // so the first row for a symbol wins
        .map(|r| (r.symbol.to_ascii_lowercase(), r))
        .collect();
    requested
        .iter()
        .map(|symbol| {
            let result = match by_symbol.get(&symbol.to_ascii_lowercase()) {
                Some(row) => quote_from(row, symbol, now),
                None => Err(QuoteError::Malformed(format!("no row for {symbol}"))),
            };
            (symbol.clone(), result)
        })
        .collect()
}

/// The columns of `f=sd2t2ohlcv`, for a reply that came without a header.
const DEFAULT_HEADER: [&str; 8] = [
    "symbol", "date", "time", "open", "high", "low", "close", "volume",
];

fn csv_rows(text: &str) -> Result<Vec<Row>, &'static str> {
    let mut lines = text
        .lines()
        .map(|l| l.trim_end_matches('\r'))
        .filter(|l| !l.trim().is_empty());
    let first = lines.next().ok_or("empty body")?;
    let (header, first_data): (Vec<String>, Option<&str>) =
        if first.to_ascii_lowercase().starts_with("symbol,") {
            (
                first
                    .split(',')
                    .map(|h| h.trim().to_ascii_lowercase())
                    .collect(),
                None,
            )
        } else {
            (
                DEFAULT_HEADER.iter().map(|h| h.to_string()).collect(),
                Some(first),
            )
        };
    let column = |name: &str| header.iter().position(|h| h == name);
    let symbol_at = column("symbol").ok_or("no Symbol column")?;
    let close_at = column("close").ok_or("no Close column")?;
    let (date_at, time_at) = (column("date"), column("time"));
    // Stooq uses `Prev` in CSV and `Prev_Close` in JSON.
    let prev_at = column("prev").or_else(|| column("prev_close"));

    let mut rows = Vec::new();
    for line in first_data.into_iter().chain(lines) {
        // `Name` may contain commas and is last: let the last column take the rest.
        let fields: Vec<&str> = line.splitn(header.len(), ',').map(str::trim).collect();
        let get = |at: Option<usize>| at.and_then(|i| fields.get(i)).map(|s| s.to_string());
        let Some(symbol) = get(Some(symbol_at)) else {
            continue;
        };
        rows.push(Row {
            symbol,
            date: get(date_at),
            time: get(time_at),
            close: get(Some(close_at)),
            prev: get(prev_at),
        });
    }
    Ok(rows)
}

fn json_rows(text: &str) -> Result<Vec<Row>, &'static str> {
    let value: Value = serde_json::from_str(text).map_err(|_| "invalid JSON")?;
    let symbols = value
        .get("symbols")
        .and_then(Value::as_array)
        .ok_or("no symbols array")?;
    let as_text = |v: Option<&Value>| match v? {
        Value::String(s) => Some(s.clone()),
        // Through Decimal, so a number keeps the text Stooq sent.
        other => decimal_from_json(other).map(|d| d.to_string()),
    };
    Ok(symbols
        .iter()
        .filter_map(|entry| {
            Some(Row {
                symbol: entry.get("symbol")?.as_str()?.to_owned(),
                date: as_text(entry.get("date")),
                time: as_text(entry.get("time")),
                close: as_text(entry.get("close")),
                prev: as_text(entry.get("prev_close").or_else(|| entry.get("prev"))),
            })
        })
        .collect())
}

fn quote_from(row: &Row, symbol: &str, now: DateTime<Utc>) -> Result<Quote, QuoteError> {
    let is_nd = |v: &Option<String>| v.as_deref().is_none_or(|s| s.eq_ignore_ascii_case("N/D"));
    if is_nd(&row.close) || is_nd(&row.date) {
        return Err(QuoteError::UnknownSymbol);
    }
    let price = row
        .close
        .as_deref()
        .and_then(decimal_from_text)
        .ok_or_else(|| QuoteError::Malformed(format!("bad close for {symbol}")))?;
    let mut quote = Quote::new(ProviderKind::Stooq, symbol, price, now);
    quote.previous_close = row.prev.as_deref().and_then(decimal_from_text);
    quote.as_of = warsaw_time(row.date.as_deref(), row.time.as_deref());
    quote.session = Session::Unknown;
    Ok(quote.normalized())
}

/// Stooq's date and time columns, read as Europe/Warsaw local time (US
/// closes show as `22:00`, which only fits Central European time).
fn warsaw_time(date: Option<&str>, time: Option<&str>) -> Option<DateTime<Utc>> {
    let date = NaiveDate::parse_from_str(date?.trim(), "%Y-%m-%d").ok()?;
    let time = time
        .and_then(|t| NaiveTime::parse_from_str(t.trim(), "%H:%M:%S").ok())
        .unwrap_or(NaiveTime::MIN);
    warsaw_to_utc(date.and_time(time))
}

/// Europe/Warsaw local time to UTC without a time-zone database: Poland
/// keeps CET (UTC+1) and follows the EU summer-time rule for CEST (UTC+2),
/// from the last Sunday of March 01:00 UTC to the last Sunday of October
/// 01:00 UTC. chrono-tz would do this, but it is not a dependency and one
/// rule for one zone does not justify it. A local time that occurs twice
/// (the October change) is read as the first, summer-time one. `None` at
/// the very start of chrono's calendar, where UTC would fall before it.
fn warsaw_to_utc(local: NaiveDateTime) -> Option<DateTime<Utc>> {
    let utc = |offset| {
        local
            .checked_sub_signed(Duration::hours(offset))
            .map(|t| Utc.from_utc_datetime(&t))
    };
    let summer = utc(2)?;
    if is_eu_summer_time(summer) {
        Some(summer)
    } else {
        utc(1)
    }
}

fn is_eu_summer_time(t: DateTime<Utc>) -> bool {
    let change = |month: u32| {
        let day = last_sunday(t.year(), month);
        Utc.from_utc_datetime(&day.and_hms_opt(1, 0, 0).expect("01:00 exists"))
    };
    change(3) <= t && t < change(10)
}

fn last_sunday(year: i32, month: u32) -> NaiveDate {
    let first_of_next =
        NaiveDate::from_ymd_opt(year, month + 1, 1).expect("month is March or October");
    let last = first_of_next
        .pred_opt()
        .expect("not the first day of the calendar");
    last - Duration::days(i64::from(last.weekday().num_days_from_sunday()))
}

#[cfg(test)]
mod tests {
    use crate::quotes::test_support::{dec, fixture};

    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn syms(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    const NOW: &str = "2026-10-03T08:00:00Z";
    const CSV: Option<&str> = Some("text/csv");

    #[test]
    fn quotes_from_csv_and_json() {
        // (fixture, requested, price, as-of in UTC)
        let cases: &[(&[u8], &str, &str, &str)] = &[
            // CRLF line ends; CET in December.
            (
                &fixture("stooq/quote_with_name.csv"),
                "nvr.us",
                "5908.87",
                "2021-12-31T21:00:37Z",
            ),
            // CEST in early October.
            (
                &fixture("stooq/quote_mixed.csv"),
                "aapl.us",
                "227.5",
                "2026-10-02T20:00:00Z",
            ),
            (
                &fixture("stooq/quote.json"),
                "aapl.us",
                "178.61",
                "2023-08-25T20:00:12Z",
            ),
        ];
        for (body, symbol, price, as_of) in cases {
            let out = parse(200, CSV, body, &syms(&[symbol]), utc(NOW));
            let q = out[0].1.as_ref().unwrap();
            assert_eq!(out[0].0, *symbol);
            assert_eq!(q.provider, ProviderKind::Stooq);
            assert_eq!(q.provider_symbol, *symbol);
            assert_eq!(q.price, dec(price));
            assert_eq!(q.as_of, Some(utc(as_of)));
            assert_eq!(q.fetched_at, utc(NOW));
            assert_eq!(q.currency, None);
            assert_eq!(q.previous_close, None);
            assert_eq!(q.session, Session::Unknown);
        }
    }

    #[test]
    fn unknown_symbols_are_nd_rows() {
        let out = parse(
            200,
            CSV,
            &fixture("stooq/quote_unknown_nd.csv"),
            &syms(&["appl.us"]),
            utc(NOW),
        );
        assert_eq!(
            out,
            [("appl.us".to_string(), Err(QuoteError::UnknownSymbol))]
        );

        let out = parse(
            200,
            CSV,
            &fixture("stooq/quote_mixed.csv"),
            &syms(&["aapl.us", "zzzz.us", "msft.us"]),
            utc(NOW),
        );
        assert!(out[0].1.is_ok());
        assert_eq!(out[1].1, Err(QuoteError::UnknownSymbol));
        assert!(matches!(out[2].1, Err(QuoteError::Malformed(_))));
    }

    #[test]
    fn previous_close_column_gives_a_change() {
        let body = b"Symbol,Date,Time,Open,High,Low,Close,Volume,Prev\r\nRELX.US,2026-07-24,17:52:02,46,47,45.9,46.75,100,45.78\r\n";
        let q = parse(200, CSV, body, &syms(&["relx.us"]), utc(NOW))
            .remove(0)
            .1
            .unwrap();
        assert_eq!(q.previous_close, Some(dec("45.78")));
        assert_eq!(q.change, Some(dec("0.97")));
        assert_eq!(q.change_percent, Some(dec("2.1188")));
        assert_eq!(q.as_of, Some(utc("2026-07-24T15:52:02Z")));
    }

    /// A row dated at the calendar's first day is read without its time,
    /// not a panic that would end the board's refresh task.
    #[test]
    fn a_date_at_the_start_of_the_calendar_is_no_time() {
        let body = b"Symbol,Date,Time,Open,High,Low,Close,Volume\r\nAAPL.US,-262143-01-01,00:00:00,1,1,1,1,1\r\n";
        let q = parse(200, CSV, body, &syms(&["aapl.us"]), utc(NOW))
            .remove(0)
            .1
            .unwrap();
        assert_eq!((q.price, q.as_of), (dec("1"), None));
    }

    #[test]
    fn headerless_csv_uses_the_default_columns() {
        let body = b"AAPL.US,2026-10-02,22:00:00,1,1,1,227.5,1\n";
        let q = parse(200, CSV, body, &syms(&["aapl.us"]), utc(NOW))
            .remove(0)
            .1
            .unwrap();
        assert_eq!(q.price, dec("227.5"));
    }

    #[test]
    fn error_classes() {
        let html = &fixture("stooq/apikey_or_challenge.html");
        let cases: &[(u16, Option<&str>, &[u8], QuoteError)] = &[
            (
                200,
                Some("text/plain"),
                &fixture("stooq/daily_limit.txt"),
                QuoteError::RateLimited { retry_after: None },
            ),
            (200, Some("text/html"), html, QuoteError::Blocked),
            (404, Some("text/plain"), b"Not Found", QuoteError::Blocked),
            (404, Some("text/html"), html, QuoteError::Blocked),
            // Served with a misleading content type: still HTML.
            (200, CSV, html, QuoteError::Blocked),
            (
                200,
                Some("text/plain"),
                b"Get your apikey at stooq.com",
                QuoteError::Blocked,
            ),
            (
                429,
                None,
                b"",
                QuoteError::RateLimited { retry_after: None },
            ),
            (
                503,
                Some("text/plain"),
                b"busy",
                QuoteError::Http { status: 503 },
            ),
        ];
        for (status, ct, body, want) in cases {
            let out = parse(*status, *ct, body, &syms(&["aapl.us", "bp.uk"]), utc(NOW));
            assert_eq!(out.len(), 2);
            for (_, r) in &out {
                assert_eq!(r.as_ref().unwrap_err(), want, "{status} {ct:?}");
            }
        }
        assert!(matches!(
            parse(200, CSV, b"", &syms(&["aapl.us"]), utc(NOW))[0].1,
            Err(QuoteError::Malformed(_))
        ));
    }

    #[test]
    fn warsaw_local_time_follows_the_eu_rule() {
        let local = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap();
        let cases = [
            ("2026-01-15 22:00:00", "2026-01-15T21:00:00Z"),
            ("2026-07-15 22:00:00", "2026-07-15T20:00:00Z"),
            // 2026: summer time from Sunday 29 March to Sunday 25 October.
            ("2026-03-29 01:59:59", "2026-03-29T00:59:59Z"),
            ("2026-03-29 03:00:00", "2026-03-29T01:00:00Z"),
            ("2026-10-25 02:30:00", "2026-10-25T00:30:00Z"), // the first 02:30
            ("2026-10-25 03:00:00", "2026-10-25T02:00:00Z"),
            ("2026-10-24 22:00:00", "2026-10-24T20:00:00Z"),
            ("2026-10-26 22:00:00", "2026-10-26T21:00:00Z"),
        ];
        for (input, want) in cases {
            assert_eq!(warsaw_to_utc(local(input)), Some(utc(want)), "{input}");
        }
        assert_eq!(
            last_sunday(2026, 3),
            NaiveDate::from_ymd_opt(2026, 3, 29).unwrap()
        );
        assert_eq!(
            last_sunday(2027, 10),
            NaiveDate::from_ymd_opt(2027, 10, 31).unwrap()
        );
        assert_eq!(last_sunday(2027, 10).weekday(), chrono::Weekday::Sun);
    }

    #[test]
    fn request_shape() {
        let base = Url::parse("https://stooq.com").unwrap();
        let req = request(
            &base,
            Some(&Secret::new("k3y")),
            &syms(&["aapl.us", "^spx"]),
        );
        assert_eq!(
            req.url.as_str(),
            "https://stooq.com/q/l/?s=aapl.us,%5Espx&f=sd2t2ohlcvp&h&e=csv&apikey=k3y"
        );
        assert_eq!(req.headers[USER_AGENT], BROWSER_USER_AGENT);
        let keyless = request(&base, None, &syms(&["aapl.us"]));
        assert!(!keyless.url.as_str().contains("apikey"));
    }
}
