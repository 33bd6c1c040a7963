//! Price history: the bars a provider keeps, turned into dated prices that
//! can fill a gap in the recorded quote series.
//!
//! Owns the provider-neutral [`Bar`] and [`Interval`], which providers offer
//! history ([`offers_history`]: Yahoo v8 chart with `period1`/`period2`,
//! Twelve Data `time_series`, Finnhub `stock/candle` where the plan allows),
//! which bar size a window needs ([`Interval::for_window`]), and how bars
//! become points ([`points_from_bars`]). The request shapes and the pure
//! parsers live in each provider's module; the HTTP and budget part in
//! [`ProviderClient::fetch_history`](super::client::ProviderClient::fetch_history).
//! Hands [`Quote`]s (one per bar, `as_of` the bar's end) to the price
//! reactions, which store only the ones that fill a gap.
//!
//! A bar's time is when it *starts* (all three providers). Its close is the
//! last price before it ends, so a bar becomes the point (start + length,
//! close): a one-minute bar starting 15:59 gives the price at 16:00, the
//! session's close. A daily bar becomes its session's close, dated by the
//! exchange calendar. A bar that has not ended yet (today's daily bar, the
//! current minute) says nothing final and is dropped.

use chrono::{DateTime, Duration, Utc};
use rust_decimal::Decimal;

use super::calendar::Exchange;
use crate::model::{ProviderKind, Quote, Session};

/// One bar as a provider reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bar {
    pub start: DateTime<Utc>,
    pub close: Decimal,
}

/// What a history reply holds besides the bars.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Bars {
    pub bars: Vec<Bar>,
    /// As the provider spells it (`GBp` included; normalised later).
    pub currency: Option<String>,
    /// The provider's own "now" (Yahoo's `regularMarketTime`): bars ending
    /// after it are unfinished.
    pub as_of: Option<DateTime<Utc>>,
    /// The bar size the reply says it holds (Yahoo's `dataGranularity`),
    /// which wins over the size asked for.
    pub interval: Option<Interval>,
}

/// Bar sizes we ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interval {
    Minute1,
    Minute5,
    Day1,
}

impl Interval {
    pub fn length(self) -> Duration {
        match self {
            Interval::Minute1 => Duration::minutes(1),
            Interval::Minute5 => Duration::minutes(5),
            Interval::Day1 => Duration::days(1),
        }
    }

    /// The finest bars `kind` keeps for a window starting at `from`, or
    /// `None` when the window is older than its intraday history. Yahoo
    /// keeps one-minute bars for about 30 days but serves at most 7 days of
    /// them per request and counts from now, so 7 days; five-minute bars
    /// for 60 days. Twelve Data and Finnhub serve minute bars for years.
    /// Daily bars are never chosen for intraday points: a day's close is not
    /// the price 15 minutes after a headline.
    pub fn for_window(kind: ProviderKind, from: DateTime<Utc>, now: DateTime<Utc>) -> Option<Self> {
        let age = now - from;
        match kind {
            ProviderKind::Yahoo if age <= Duration::days(6) => Some(Interval::Minute1),
            ProviderKind::Yahoo if age <= Duration::days(59) => Some(Interval::Minute5),
            ProviderKind::Yahoo => None,
            ProviderKind::TwelveData | ProviderKind::Finnhub => Some(Interval::Minute1),
            ProviderKind::Stooq | ProviderKind::AlphaVantage => None,
        }
    }
}

/// Whether we can ask `kind` for past prices. Stooq's history is daily CSV
/// only and Alpha Vantage's intraday series costs one of 25 daily requests,
/// so neither is used for backfill.
pub fn offers_history(kind: ProviderKind) -> bool {
    matches!(
        kind,
        ProviderKind::Yahoo | ProviderKind::TwelveData | ProviderKind::Finnhub
    )
}

/// Turns bars of `interval` into quotes dated at each bar's end (daily bars:
/// the session's close on `exchange`), in major currency units, keeping only
/// bars that had ended by `now` and by the reply's own as-of time.
pub fn points_from_bars(
    kind: ProviderKind,
    provider_symbol: &str,
    bars: &Bars,
    interval: Interval,
    exchange: &Exchange,
    now: DateTime<Utc>,
) -> Vec<Quote> {
    let latest = bars.as_of.map_or(now, |t| t.min(now));
    let interval = bars.interval.unwrap_or(interval);
    bars.bars
        .iter()
        .filter_map(|bar| {
            let end = match interval {
                Interval::Day1 => {
                    exchange
                        .session_on(exchange.zone.local_date(bar.start))?
                        .close
                }
                _ => bar.start + interval.length(),
            };
            (end <= latest).then(|| {
                let mut q = Quote::new(kind, provider_symbol, bar.close, now);
                q.currency = bars.currency.clone();
                q.as_of = Some(end);
                q.session = Session::Regular;
                q.normalized()
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{from_db_time, to_db_time};
    use crate::quotes::calendar::NYSE;
    use crate::quotes::test_support::dec;

    fn t(s: &str) -> DateTime<Utc> {
        from_db_time(s).unwrap()
    }

    #[test]
    fn minute_bars_are_dated_at_their_end_and_unfinished_ones_dropped() {
        let bars = Bars {
            bars: vec![
                Bar {
                    start: t("2026-07-24T19:58:00Z"),
                    close: dec("3210"),
                },
                Bar {
                    start: t("2026-07-24T19:59:00Z"),
                    close: dec("3215.5"),
                },
            ],
            currency: Some("GBp".into()),
            as_of: Some(t("2026-07-24T19:59:30Z")),
            interval: None,
        };
        let points = points_from_bars(
            ProviderKind::Yahoo,
            "BP.L",
            &bars,
            Interval::Minute1,
            &NYSE,
            t("2026-07-25T00:00:00Z"),
        );
        assert_eq!(points.len(), 1, "the 19:59 bar had not ended at 19:59:30");
        assert_eq!(
            points[0].as_of.map(to_db_time).as_deref(),
            Some("2026-07-24T19:59:00Z")
        );
        assert_eq!(points[0].price, dec("32.1"));
        assert_eq!(points[0].currency.as_deref(), Some("GBP"));
    }

    #[test]
    fn daily_bars_become_the_session_close() {
        let bars = Bars {
            bars: vec![Bar {
                start: t("2026-07-23T13:30:00Z"),
                close: dec("321.66"),
            }],
            currency: Some("USD".into()),
            as_of: None,
            interval: None,
        };
        let points = points_from_bars(
            ProviderKind::Yahoo,
            "AAPL",
            &bars,
            Interval::Day1,
            &NYSE,
            t("2026-07-24T00:00:00Z"),
        );
        assert_eq!(
            points[0].as_of.map(to_db_time).as_deref(),
            Some("2026-07-23T20:00:00Z")
        );
    }

    #[test]
    fn bar_sizes_by_age() {
        let now = t("2026-07-24T20:00:00Z");
        let ago = |d: i64| now - Duration::days(d);
        assert_eq!(
            Interval::for_window(ProviderKind::Yahoo, ago(2), now),
            Some(Interval::Minute1)
        );
        assert_eq!(
            Interval::for_window(ProviderKind::Yahoo, ago(30), now),
            Some(Interval::Minute5)
        );
        assert_eq!(
            Interval::for_window(ProviderKind::Yahoo, ago(90), now),
            None
        );
        assert_eq!(
            Interval::for_window(ProviderKind::TwelveData, ago(90), now),
            Some(Interval::Minute1)
        );
        assert_eq!(Interval::for_window(ProviderKind::Stooq, ago(0), now), None);
    }
}
