//! Exchange calendars: when each market the board quotes is open.
//!
//! Owns a small, documented model of the exchanges the shipped config uses
//! (its US-listed ADRs on NYSE and Nasdaq) and the London lines the same
//! companies trade as: regular session hours in the exchange's own time
//! zone, weekends, and full-day closures and early closes by each
//! exchange's standing rules (`Rules`: NYSE Rule 7.2, the England and
//! Wales bank holidays), for any year. Hands [`TradingSession`]s to the
//! price reactions (`quotes::reactions`), which measure "+15 min", "+1
//! trading day" and "next close" in trading time, and to the board
//! (`quotes::board`), which marks a price from before the latest session
//! stale. [`listed_on`] places each configured symbol on an exchange for
//! the reactions (New York when nothing says otherwise);
//! [`evidently_listed_on`] only where its spelling or config shows it, for
//! the board and for exchange notation (`quotes::mentions`).
//!
//! The rules are checked against the exchanges' published calendars for
//! 2025 to 2027 and the LSE's short days of 2023, and against 2028 written
//! out by hand (the tests hold the lists). Closures announced apart
//! from the rules (a national day of mourning, as 2025-01-09 was; a
//! coronation) are listed in `Exchange::one_off_closures` when announced,
//! from 2025 on: tickerfeed measures reactions to news it archives, so
//! earlier years' exceptions (the moved and added bank holidays of 2022
//! and 2023) are left out.
//!
//! What it does not model, on purpose: pre- and post-market sessions (the
//! board's providers report the regular-session price) and lunch breaks
//! (none on these exchanges).
//!
//! Time zones: the two zones involved have fixed, statutory daylight-saving
//! rules (US: second Sunday of March to first Sunday of November, at 02:00
//! local; UK: last Sunday of March to last Sunday of October, at 01:00
//! UTC), so they are computed here rather than pulling the whole tz
//! database in as a dependency. Sessions never open near a change-over, so
//! a session's offset is the offset at noon UTC on its day.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};

/// A calendar date as written in the lists: (year, month, day).
type Ymd = (i32, u32, u32);
/// A local time of day: (hour, minute).
type Hm = (u32, u32);

/// The time zone an exchange keeps its hours in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zone {
    /// America/New_York: UTC−5, UTC−4 in summer.
    NewYork,
    /// Europe/London: UTC, UTC+1 in summer.
    London,
}

impl Zone {
    /// The IANA name, for docs and `Debug`.
    pub fn name(self) -> &'static str {
        match self {
            Zone::NewYork => "America/New_York",
            Zone::London => "Europe/London",
        }
    }

    /// Seconds east of UTC at instant `t`.
    pub fn offset_at(self, t: DateTime<Utc>) -> i64 {
        let year = t.year();
        match self {
            Zone::NewYork => {
                // 02:00 EST (07:00 UTC) to 02:00 EDT (06:00 UTC).
                let start = utc_at(nth_weekday(year, 3, Weekday::Sun, 2), 7, 0);
                let end = utc_at(nth_weekday(year, 11, Weekday::Sun, 1), 6, 0);
                if start <= t && t < end {
                    -4 * 3600
                } else {
                    -5 * 3600
                }
            }
            Zone::London => {
                let start = utc_at(last_weekday(year, 3, Weekday::Sun), 1, 0);
                let end = utc_at(last_weekday(year, 10, Weekday::Sun), 1, 0);
                if start <= t && t < end { 3600 } else { 0 }
            }
        }
    }

    /// The local calendar date at instant `t`.
    pub fn local_date(self, t: DateTime<Utc>) -> NaiveDate {
        (t + Duration::seconds(self.offset_at(t))).date_naive()
    }

    /// Local wall time `time` on `date` as UTC. Only for times of day away
    /// from a change-over (true of every session's open and close).
    fn to_utc(self, date: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
        let noon = utc_at(date, 12, 0);
        Utc.from_utc_datetime(&date.and_time(time)) - Duration::seconds(self.offset_at(noon))
    }
}

/// One exchange's calendar.
#[derive(Debug)]
pub struct Exchange {
    /// ISO 10383 market identifier: `XNYS`, `XNAS`, `XLON`.
    pub mic: &'static str,
    pub name: &'static str,
    pub zone: Zone,
    /// Regular session, local time.
    open: Hm,
    close: Hm,
    /// The standing rules of its holidays and early closes.
    rules: Rules,
    /// Weekdays closed apart from the rules, as announced.
    one_off_closures: &'static [Ymd],
}

/// The standing rules an exchange closes by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rules {
    /// NYSE Rule 7.2 (Nasdaq keeps the same days): New Year's Day, Martin
    /// Luther King Jr. Day, Washington's Birthday, Good Friday, Memorial
    /// Day, Juneteenth (from 2022), Independence Day, Labor Day, Thanksgiving and
    /// Christmas. A holiday on a Sunday is kept on the Monday, one on a
    /// Saturday on the Friday before, except New Year's Day (that Friday
    /// ends the year, and trades). Closes at 13:00 on the day after
    /// Thanksgiving, and on 3 July and 24 December when they are trading
    /// days.
    Nyse,
    /// The England and Wales bank holidays: New Year's Day, Good Friday,
    /// Easter Monday, the first and last Mondays of May, the last Monday
    /// of August, Christmas and Boxing Day, a weekend one moved to the next
    /// free weekday. Closes at 12:30 on the last trading day before
    /// Christmas and on the last of the year (24 and 31 December, or the
    /// Fridays before when those are weekend days, as in 2023).
    EnglandAndWales,
}

impl Rules {
    /// Whether the rules close the market on weekday `date`.
    fn closed_on(self, date: NaiveDate) -> bool {
        let y = date.year();
        let day = |m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default();
        let easter = easter_sunday(y);
        match self {
            Rules::Nyse => {
                let new_year = match day(1, 1).weekday() {
                    Weekday::Sat => None,
                    _ => Some(to_weekday_nearby(day(1, 1))),
                };
                let juneteenth = (y >= 2022).then(|| to_weekday_nearby(day(6, 19)));
                [new_year, juneteenth].contains(&Some(date))
                    || [(7, 4), (12, 25)]
                        .map(|(m, d)| to_weekday_nearby(day(m, d)))
                        .contains(&date)
                    || [
                        nth_weekday(y, 1, Weekday::Mon, 3),
                        nth_weekday(y, 2, Weekday::Mon, 3),
                        easter - Duration::days(2),
                        last_weekday(y, 5, Weekday::Mon),
                        nth_weekday(y, 9, Weekday::Mon, 1),
                        nth_weekday(y, 11, Weekday::Thu, 4),
                    ]
                    .contains(&date)
            }
            Rules::EnglandAndWales => {
                let christmas = to_free_weekdays(&[day(12, 25), day(12, 26)]);
                to_free_weekdays(&[day(1, 1)]).contains(&date)
                    || christmas.contains(&date)
                    || [
                        easter - Duration::days(2),
                        easter + Duration::days(1),
                        nth_weekday(y, 5, Weekday::Mon, 1),
                        last_weekday(y, 5, Weekday::Mon),
                        last_weekday(y, 8, Weekday::Mon),
                    ]
                    .contains(&date)
            }
        }
    }

    /// The local closing time on trading day `date`, when the rules end its
    /// session early.
    fn early_close_on(self, date: NaiveDate) -> Option<Hm> {
        let (m, d) = (date.month(), date.day());
        match self {
            Rules::Nyse => {
                let after_thanksgiving =
                    nth_weekday(date.year(), 11, Weekday::Thu, 4) + Duration::days(1);
                ((m, d) == (7, 3) || (m, d) == (12, 24) || date == after_thanksgiving)
                    .then_some((13, 0))
            }
            Rules::EnglandAndWales => {
                let y = date.year();
                let last_trading_day_before = |end: NaiveDate| {
                    let mut d = end - Duration::days(1);
                    while is_weekend(d) || self.closed_on(d) {
                        d -= Duration::days(1);
                    }
                    d
                };
                let christmas = NaiveDate::from_ymd_opt(y, 12, 25).unwrap_or_default();
                let new_year = NaiveDate::from_ymd_opt(y + 1, 1, 1).unwrap_or_default();
                (date == last_trading_day_before(christmas)
                    || date == last_trading_day_before(new_year))
                .then_some((12, 30))
            }
        }
    }
}

fn is_weekend(date: NaiveDate) -> bool {
    matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
}

/// The US way of keeping a holiday that falls on a weekend: Saturday's on
/// the Friday before, Sunday's on the Monday after.
fn to_weekday_nearby(date: NaiveDate) -> NaiveDate {
    match date.weekday() {
        Weekday::Sat => date - Duration::days(1),
        Weekday::Sun => date + Duration::days(1),
        _ => date,
    }
}

/// The British way: each of `days`, in order, on itself or else the next
/// weekday none of the earlier ones took (so Christmas on a Saturday is
/// kept on Monday the 27th, and Boxing Day on Tuesday the 28th).
fn to_free_weekdays(days: &[NaiveDate]) -> Vec<NaiveDate> {
    let mut kept: Vec<NaiveDate> = Vec::with_capacity(days.len());
    for &day in days {
        let mut d = day;
        while is_weekend(d) || kept.contains(&d) {
            d += Duration::days(1);
        }
        kept.push(d);
    }
    kept
}

/// Easter Sunday of the Gregorian calendar (the anonymous algorithm of
/// Meeus, Jones and Butcher).
fn easter_sunday(year: i32) -> NaiveDate {
    let a = year % 19;
    let (b, c) = (year / 100, year % 100);
    let (d, e) = (b / 4, b % 4);
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let (i, k) = (c / 4, c % 4);
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    NaiveDate::from_ymd_opt(year, month as u32, day as u32).unwrap_or_default()
}

/// NYSE and Nasdaq: closures announced apart from Rule 7.2.
const US_ONE_OFF_CLOSURES: &[Ymd] = &[
    (2025, 1, 9), // national day of mourning, President Carter
];

pub static NYSE: Exchange = Exchange {
    mic: "XNYS",
    name: "New York Stock Exchange",
    zone: Zone::NewYork,
    open: (9, 30),
    close: (16, 0),
    rules: Rules::Nyse,
    one_off_closures: US_ONE_OFF_CLOSURES,
};

pub static NASDAQ: Exchange = Exchange {
    mic: "XNAS",
    name: "Nasdaq",
    zone: Zone::NewYork,
    open: (9, 30),
    close: (16, 0),
    rules: Rules::Nyse,
    one_off_closures: US_ONE_OFF_CLOSURES,
};

pub static LSE: Exchange = Exchange {
    mic: "XLON",
    name: "London Stock Exchange",
    zone: Zone::London,
    open: (8, 0),
    close: (16, 30),
    rules: Rules::EnglandAndWales,
    one_off_closures: &[],
};

/// Every exchange with a calendar.
pub static EXCHANGES: [&Exchange; 3] = [&NYSE, &NASDAQ, &LSE];

/// The exchange a config names, by MIC or common name (`XNYS`, `NYSE`,
/// `XNAS`, `NASDAQ`, `XLON`, `LSE`), case-insensitive.
pub fn exchange(code: &str) -> Option<&'static Exchange> {
    let code = code.trim().to_ascii_uppercase();
    let mic = match code.as_str() {
        "NYSE" => "XNYS",
        "NASDAQ" => "XNAS",
        "LSE" | "LON" => "XLON",
        other => other,
    };
    EXCHANGES.iter().copied().find(|e| e.mic == mic)
}

/// The exchange an instrument trades on: the one its config's `exchange`
/// names (`None` when no calendar has it, which the daemon refuses at
/// start), else the one its provider symbol implies
/// ([`for_provider_symbol`]). Price reactions place a symbol by this
/// rule; the board and exchange notation by [`evidently_listed_on`],
/// which does not take an unknown market for New York.
pub fn listed_on(exchange: Option<&str>, provider_symbol: &str) -> Option<&'static Exchange> {
    match exchange {
        Some(code) => self::exchange(code),
        None => Some(for_provider_symbol(provider_symbol)),
    }
}

/// The exchange an instrument evidently trades on: the one its config's
/// `exchange` names, else the one its provider symbol shows (a London
/// suffix, or a plain US ticker: `AAPL`, `BRK.B`, `BF-B`, `aapl.us`).
/// `None` for any other spelling (`7203.T`, `SAP.DE`, `^N225`,
/// `EURUSD=X`, `BTC-USD`): a market no calendar here knows, which
/// [`listed_on`] takes for New York. The board judges a price's session
/// only by a calendar that is the symbol's own: Tokyo's close is before
/// every New York open.
pub fn evidently_listed_on(
    exchange: Option<&str>,
    provider_symbol: &str,
) -> Option<&'static Exchange> {
    if exchange.is_some() || without_london_suffix(provider_symbol).is_some() {
        return listed_on(exchange, provider_symbol);
    }
    let ticker = match provider_symbol.rsplit_once('.') {
        Some((ticker, us)) if us.eq_ignore_ascii_case("us") => ticker,
        _ => provider_symbol,
    };
    // A share class (`BRK.B`, `BF-B`) is A, B or C; other one-letter
    // suffixes are Yahoo's venues (`.T` Tokyo, `.F` Frankfurt).
    let root = match ticker.rsplit_once(['.', '-']) {
        Some((root, class))
            if ["A", "B", "C"]
                .iter()
                .any(|c| class.eq_ignore_ascii_case(c)) =>
        {
            root
        }
        _ => ticker,
    };
    let plain = (1..=6).contains(&root.len()) && root.bytes().all(|b| b.is_ascii_alphabetic());
    plain.then_some(&NYSE)
}

/// The exchange an instrument trades on when the config does not say:
/// London for the London suffixes the providers use (Yahoo `.L`, Stooq
/// `.uk`, Alpha Vantage `.LON`), New York otherwise (the shipped board is
/// US-listed ADRs). NYSE and Nasdaq share hours and holidays, so which of
/// the two a US symbol is does not change a reaction.
pub fn for_provider_symbol(provider_symbol: &str) -> &'static Exchange {
    if without_london_suffix(provider_symbol).is_some() {
        &LSE
    } else {
        &NYSE
    }
}

/// `provider_symbol` without the London suffix a provider adds to it
/// (`BP.L`, `bp.uk`, `TSCO.LON` give `BP`, `bp`, `TSCO`: the ticker the
/// exchange itself uses), or `None` when it has none.
pub fn without_london_suffix(provider_symbol: &str) -> Option<&str> {
    let (ticker, suffix) = provider_symbol.rsplit_once('.')?;
    ["l", "uk", "lon"]
        .iter()
        .any(|s| suffix.eq_ignore_ascii_case(s))
        .then_some(ticker)
}

/// One regular session, as UTC instants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TradingSession {
    pub open: DateTime<Utc>,
    pub close: DateTime<Utc>,
}

impl TradingSession {
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.open <= t && t < self.close
    }
}

impl Exchange {
    /// The session on local `date`, or `None` on weekends and holidays.
    pub fn session_on(&self, date: NaiveDate) -> Option<TradingSession> {
        let key = (date.year(), date.month(), date.day());
        if is_weekend(date) || self.rules.closed_on(date) || self.one_off_closures.contains(&key) {
            return None;
        }
        let (ch, cm) = self.rules.early_close_on(date).unwrap_or(self.close);
        Some(TradingSession {
            open: self.zone.to_utc(date, hm(self.open)),
            close: self.zone.to_utc(date, hm((ch, cm))),
        })
    }

    /// The session running at `t`, or else the next one to open.
    pub fn session_at_or_after(&self, t: DateTime<Utc>) -> TradingSession {
        let mut date = self.zone.local_date(t);
        // Never more than a long weekend plus a holiday or two ahead.
        loop {
            if let Some(s) = self.session_on(date)
                && t < s.close
            {
                return s;
            }
            date = date.succ_opt().unwrap_or(date);
        }
    }

    /// The latest session to have opened by `t`: the one running, else
    /// the last one that closed.
    pub fn session_started_by(&self, t: DateTime<Utc>) -> TradingSession {
        let mut date = self.zone.local_date(t);
        // Never more than a long weekend plus a holiday or two back.
        loop {
            if let Some(s) = self.session_on(date)
                && s.open <= t
            {
                return s;
            }
            date = date.pred_opt().unwrap_or(date);
        }
    }

    /// The first session on a local date after `date`: a Friday's is
    /// Monday's, or Tuesday's when Monday is a holiday.
    pub fn session_after_day(&self, date: NaiveDate) -> TradingSession {
        let mut day = date;
        // Never more than a long weekend plus a holiday or two ahead.
        loop {
            day = day.succ_opt().unwrap_or(day);
            if let Some(s) = self.session_on(day) {
                return s;
            }
        }
    }

    /// When `s` closes on a full day: its close, or on an early-close day
    /// (13:00 in New York the day after Thanksgiving) the regular closing
    /// time it would have had.
    pub fn regular_close(&self, s: &TradingSession) -> DateTime<Utc> {
        self.zone
            .to_utc(self.zone.local_date(s.open), hm(self.close))
    }

    /// The session after `s`.
    pub fn next_session(&self, s: &TradingSession) -> TradingSession {
        self.session_at_or_after(s.close)
    }

    pub fn is_open(&self, t: DateTime<Utc>) -> bool {
        self.session_at_or_after(t).contains(t)
    }

    /// `t` moved on by `by` of trading time: time outside sessions does not
    /// count, so 30 minutes before the close plus one hour is 30 minutes
    /// after the next open. A `t` outside a session starts from the next open.
    pub fn advance(&self, t: DateTime<Utc>, by: Duration) -> DateTime<Utc> {
        let mut session = self.session_at_or_after(t);
        let mut at = t.max(session.open);
        let mut left = by;
        loop {
            let room = session.close - at;
            if left <= room {
                return at + left;
            }
            left -= room;
            session = self.next_session(&session);
            at = session.open;
        }
    }
}

fn hm((h, m): (u32, u32)) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).unwrap_or(NaiveTime::MIN)
}

fn utc_at(date: NaiveDate, h: u32, m: u32) -> DateTime<Utc> {
    Utc.from_utc_datetime(&date.and_time(hm((h, m))))
}

/// The `n`th (1-based) `weekday` of a month.
fn nth_weekday(year: i32, month: u32, weekday: Weekday, n: u8) -> NaiveDate {
    NaiveDate::from_weekday_of_month_opt(year, month, weekday, n)
        .unwrap_or(NaiveDate::from_ymd_opt(year, month, 1).unwrap_or_default())
}

/// The last `weekday` of a month.
fn last_weekday(year: i32, month: u32, weekday: Weekday) -> NaiveDate {
    NaiveDate::from_weekday_of_month_opt(year, month, weekday, 5)
        .unwrap_or_else(|| nth_weekday(year, month, weekday, 4))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{from_db_time, to_db_time};

    fn t(s: &str) -> DateTime<Utc> {
        from_db_time(s).unwrap()
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn session(e: &Exchange, y: i32, m: u32, d: u32) -> Option<(String, String)> {
        e.session_on(date(y, m, d))
            .map(|s| (to_db_time(s.open), to_db_time(s.close)))
    }

    fn pair(a: &str, b: &str) -> Option<(String, String)> {
        Some((a.into(), b.into()))
    }

    #[test]
    fn regular_hours_follow_daylight_saving() {
        // New York: EST in January, EDT in July; the US changes three weeks
        // before London in March and a week after it in autumn.
        let cases = [
            (
                &NYSE,
                (2026, 1, 6),
                pair("2026-01-06T14:30:00Z", "2026-01-06T21:00:00Z"),
            ),
            (
                &NYSE,
                (2026, 7, 24),
                pair("2026-07-24T13:30:00Z", "2026-07-24T20:00:00Z"),
            ),
            (
                &NYSE,
                (2026, 3, 6),
                pair("2026-03-06T14:30:00Z", "2026-03-06T21:00:00Z"),
            ),
            (
                &NYSE,
                (2026, 3, 9),
                pair("2026-03-09T13:30:00Z", "2026-03-09T20:00:00Z"),
            ),
            (
                &NYSE,
                (2026, 10, 30),
                pair("2026-10-30T13:30:00Z", "2026-10-30T20:00:00Z"),
            ),
            (
                &NYSE,
                (2026, 11, 2),
                pair("2026-11-02T14:30:00Z", "2026-11-02T21:00:00Z"),
            ),
            (
                &LSE,
                (2026, 1, 6),
                pair("2026-01-06T08:00:00Z", "2026-01-06T16:30:00Z"),
            ),
            (
                &LSE,
                (2026, 3, 27),
                pair("2026-03-27T08:00:00Z", "2026-03-27T16:30:00Z"),
            ),
            (
                &LSE,
                (2026, 3, 30),
                pair("2026-03-30T07:00:00Z", "2026-03-30T15:30:00Z"),
            ),
            (
                &LSE,
                (2026, 10, 23),
                pair("2026-10-23T07:00:00Z", "2026-10-23T15:30:00Z"),
            ),
            (
                &LSE,
                (2026, 10, 26),
                pair("2026-10-26T08:00:00Z", "2026-10-26T16:30:00Z"),
            ),
        ];
        for (e, (y, m, d), want) in cases {
            assert_eq!(session(e, y, m, d), want, "{} {y}-{m}-{d}", e.mic);
        }
    }

    #[test]
    fn weekends_holidays_and_early_closes() {
        assert_eq!(session(&NYSE, 2026, 7, 25), None, "Saturday");
        assert_eq!(session(&NYSE, 2026, 7, 26), None, "Sunday");
        assert_eq!(
            session(&NYSE, 2026, 7, 3),
            None,
            "Independence Day observed"
        );
        assert_eq!(session(&NYSE, 2026, 11, 26), None, "Thanksgiving");
        assert_eq!(
            session(&NYSE, 2026, 11, 27),
            pair("2026-11-27T14:30:00Z", "2026-11-27T18:00:00Z"),
            "13:00 close the day after Thanksgiving"
        );
        // Boxing Day 2026 is a Saturday: London closes on Monday the 28th,
        // New York does not.
        assert_eq!(session(&LSE, 2026, 12, 28), None);
        assert!(session(&NYSE, 2026, 12, 28).is_some());
        assert_eq!(
            session(&LSE, 2026, 12, 24),
            pair("2026-12-24T08:00:00Z", "2026-12-24T12:30:00Z")
        );
        // Easter Monday closes London only.
        assert_eq!(session(&LSE, 2026, 4, 6), None);
        assert!(session(&NYSE, 2026, 4, 6).is_some());
    }

    /// The exchanges' calendars. 2025 to 2027 as published (NYSE's holidays
    /// and early closures, for NYSE and Nasdaq; gov.uk's bank holidays for
    /// England and Wales; the LSE's Christmas trading hours), the lists
    /// tickerfeed compiled in before the rules; 2028 written out by hand
    /// from the rules' text, a check of the date arithmetic.
    const PUBLISHED_US_CLOSED: &[Ymd] = &[
        (2025, 1, 1),
        (2025, 1, 9), // national day of mourning, President Carter
        (2025, 1, 20),
        (2025, 2, 17),
        (2025, 4, 18),
        (2025, 5, 26),
        (2025, 6, 19),
        (2025, 7, 4),
        (2025, 9, 1),
        (2025, 11, 27),
        (2025, 12, 25),
        (2026, 1, 1),
        (2026, 1, 19),
        (2026, 2, 16),
        (2026, 4, 3),
        (2026, 5, 25),
        (2026, 6, 19),
        (2026, 7, 3), // Independence Day, observed
        (2026, 9, 7),
        (2026, 11, 26),
        (2026, 12, 25),
        (2027, 1, 1),
        (2027, 1, 18),
        (2027, 2, 15),
        (2027, 3, 26),
        (2027, 5, 31),
        (2027, 6, 18), // Juneteenth, observed
        (2027, 7, 5),  // Independence Day, observed
        (2027, 9, 6),
        (2027, 11, 25),
        (2027, 12, 24), // Christmas, observed
        // 2028: New Year's Day is a Saturday and is not kept.
        (2028, 1, 17),
        (2028, 2, 21),
        (2028, 4, 14),
        (2028, 5, 29),
        (2028, 6, 19),
        (2028, 7, 4),
        (2028, 9, 4),
        (2028, 11, 23),
        (2028, 12, 25),
    ];
    const PUBLISHED_US_EARLY: &[Ymd] = &[
        (2025, 7, 3),
        (2025, 11, 28),
        (2025, 12, 24),
        (2026, 11, 27),
        (2026, 12, 24),
        (2027, 11, 26),
        (2028, 7, 3),
        (2028, 11, 24),
    ];
    const PUBLISHED_LONDON_CLOSED: &[Ymd] = &[
        (2025, 1, 1),
        (2025, 4, 18),
        (2025, 4, 21),
        (2025, 5, 5),
        (2025, 5, 26),
        (2025, 8, 25),
        (2025, 12, 25),
        (2025, 12, 26),
        (2026, 1, 1),
        (2026, 4, 3),
        (2026, 4, 6),
        (2026, 5, 4),
        (2026, 5, 25),
        (2026, 8, 31),
        (2026, 12, 25),
        (2026, 12, 28), // Boxing Day, substitute
        (2027, 1, 1),
        (2027, 3, 26),
        (2027, 3, 29),
        (2027, 5, 3),
        (2027, 5, 31),
        (2027, 8, 30),
        (2027, 12, 27), // Christmas Day, substitute
        (2027, 12, 28), // Boxing Day, substitute
        (2028, 1, 3),   // New Year's Day, substitute
        (2028, 4, 14),
        (2028, 4, 17),
        (2028, 5, 1),
        (2028, 5, 29),
        (2028, 8, 28),
        (2028, 12, 25),
        (2028, 12, 26),
    ];
    const PUBLISHED_LONDON_EARLY: &[Ymd] = &[
        (2025, 12, 24),
        (2025, 12, 31),
        (2026, 12, 24),
        (2026, 12, 31),
        (2027, 12, 24),
        (2027, 12, 31),
        // 2028: the 24th and the 31st are Sundays.
        (2028, 12, 22),
        (2028, 12, 29),
    ];

    /// Weekdays of `year` the calendar closes, and those it ends early.
    fn closures(e: &Exchange, year: i32) -> (Vec<Ymd>, Vec<Ymd>) {
        let (mut closed, mut early) = (Vec::new(), Vec::new());
        let mut d = date(year, 1, 1);
        while d.year() == year {
            let key = (d.year(), d.month(), d.day());
            if !is_weekend(d) {
                match e.session_on(d) {
                    None => closed.push(key),
                    Some(s) if s.close != e.regular_close(&s) => early.push(key),
                    Some(_) => {}
                }
            }
            d += Duration::days(1);
        }
        (closed, early)
    }

    #[test]
    fn the_rules_give_the_calendars_of_2025_to_2028() {
        let of = |list: &[Ymd], y: i32| -> Vec<Ymd> {
            list.iter().copied().filter(|d| d.0 == y).collect()
        };
        for y in 2025..=2028 {
            for e in [&NYSE, &NASDAQ] {
                assert_eq!(
                    closures(e, y),
                    (of(PUBLISHED_US_CLOSED, y), of(PUBLISHED_US_EARLY, y)),
                    "{} {y}",
                    e.mic
                );
            }
            assert_eq!(
                closures(&LSE, y),
                (
                    of(PUBLISHED_LONDON_CLOSED, y),
                    of(PUBLISHED_LONDON_EARLY, y)
                ),
                "XLON {y}"
            );
        }
    }

    #[test]
    fn easter_and_the_weekend_rules() {
        for (y, m, d) in [
            (2024, 3, 31),
            (2025, 4, 20),
            (2026, 4, 5),
            (2038, 4, 25),
            (2285, 3, 22),
        ] {
            assert_eq!(easter_sunday(y), date(y, m, d));
        }
        // Christmas on a Sunday (2033): Boxing Day Monday, Christmas kept
        // on Tuesday in London; New York closes Monday only.
        assert_eq!(session(&LSE, 2033, 12, 26), None);
        assert_eq!(session(&LSE, 2033, 12, 27), None);
        assert_eq!(session(&NYSE, 2033, 12, 26), None);
        assert!(session(&NYSE, 2033, 12, 27).is_some());
        // 2023, the LSE's own notice: the 24th and the 31st were Sundays,
        // and the Fridays before closed at 12:30.
        let (_, early) = closures(&LSE, 2023);
        assert_eq!(early, [(2023, 12, 22), (2023, 12, 29)]);
        // A Sunday New Year's Day (2034) is kept on Monday by both.
        assert_eq!(session(&NYSE, 2034, 1, 2), None);
        assert_eq!(session(&LSE, 2034, 1, 2), None);
    }

    #[test]
    fn the_session_at_or_after_skips_nights_weekends_and_holidays() {
        let cases = [
            // Inside a session: that session.
            ("2026-07-24T15:00:00Z", "2026-07-24T13:30:00Z"),
            // Before the open: the same day's session.
            ("2026-07-24T12:00:00Z", "2026-07-24T13:30:00Z"),
            // At the close: the next session (closing time is not open).
            ("2026-07-24T20:00:00Z", "2026-07-27T13:30:00Z"),
            // Friday evening, in New York still Friday: Monday.
            ("2026-07-25T01:00:00Z", "2026-07-27T13:30:00Z"),
            // Thursday evening before the Independence Day holiday: Monday.
            ("2026-07-02T22:00:00Z", "2026-07-06T13:30:00Z"),
        ];
        for (at, open) in cases {
            assert_eq!(
                to_db_time(NYSE.session_at_or_after(t(at)).open),
                open,
                "{at}"
            );
        }
        assert!(NYSE.is_open(t("2026-07-24T19:59:59Z")));
        assert!(!NYSE.is_open(t("2026-07-24T20:00:00Z")));
    }

    #[test]
    fn trading_time_advances_over_closes_and_weekends() {
        let cases = [
            ("2026-07-24T14:00:00Z", 15, "2026-07-24T14:15:00Z"),
            // Friday 15:30 ET plus one hour: 30 min left Friday, 30 Monday.
            ("2026-07-24T19:30:00Z", 60, "2026-07-27T14:00:00Z"),
            // Exactly reaching the close stays on the close.
            ("2026-07-24T19:00:00Z", 60, "2026-07-24T20:00:00Z"),
            // From a Saturday: the clock starts at Monday's open.
            ("2026-07-25T15:00:00Z", 15, "2026-07-27T13:45:00Z"),
            // Across the early close after Thanksgiving (13:00 ET).
            ("2026-11-27T17:30:00Z", 60, "2026-11-30T15:00:00Z"),
        ];
        for (from, minutes, want) in cases {
            assert_eq!(
                to_db_time(NYSE.advance(t(from), Duration::minutes(minutes))),
                want,
                "{from} + {minutes} min"
            );
        }
    }

    #[test]
    fn exchanges_by_name_and_by_provider_symbol() {
        assert_eq!(exchange("nyse").map(|e| e.mic), Some("XNYS"));
        assert_eq!(exchange("XNAS").map(|e| e.mic), Some("XNAS"));
        assert_eq!(exchange(" lse ").map(|e| e.mic), Some("XLON"));
        assert!(exchange("XTKS").is_none());
        assert_eq!(for_provider_symbol("BP.L").mic, "XLON");
        assert_eq!(for_provider_symbol("bp.uk").mic, "XLON");
        assert_eq!(for_provider_symbol("TSCO.LON").mic, "XLON");
        assert_eq!(for_provider_symbol("BP").mic, "XNYS");
        assert_eq!(for_provider_symbol("aapl.us").mic, "XNYS");
        assert_eq!(without_london_suffix("bp.uk"), Some("bp"));
        assert_eq!(without_london_suffix("TSCO.LON"), Some("TSCO"));
        assert_eq!(without_london_suffix("BRK.B"), None);
        // A configured exchange wins; one without a calendar places nothing.
        assert_eq!(listed_on(Some("LSE"), "BP").map(|e| e.mic), Some("XLON"));
        assert_eq!(listed_on(None, "BP.L").map(|e| e.mic), Some("XLON"));
        assert_eq!(listed_on(None, "BP").map(|e| e.mic), Some("XNYS"));
        assert!(listed_on(Some("XTKS"), "7203.T").is_none());
        // The latest session to have opened: the running one, else the
        // last to close, across weekends and holidays (Easter in London).
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        let opened = |e: &Exchange, t: &str| e.session_started_by(at(t)).open;
        assert_eq!(
            opened(&NYSE, "2026-10-05T15:00:00Z"),
            at("2026-10-05T13:30:00Z")
        );
        assert_eq!(
            opened(&NYSE, "2026-10-05T13:29:59Z"),
            at("2026-10-02T13:30:00Z")
        );
        assert_eq!(
            opened(&NYSE, "2026-10-04T12:00:00Z"),
            at("2026-10-02T13:30:00Z")
        );
        assert_eq!(
            opened(&LSE, "2026-04-06T12:00:00Z"),
            at("2026-04-02T07:00:00Z")
        );
        // Only a spelling that shows the market places it evidently.
        for us in ["AAPL", "GOOGL", "BRK.B", "BF-B", "aapl.us", "brk-b.us"] {
            assert_eq!(
                evidently_listed_on(None, us).map(|e| e.mic),
                Some("XNYS"),
                "{us}"
            );
        }
        for elsewhere in [
            "7203.T", "BMW.F", "SAP.DE", "^N225", "EURUSD=X", "BTC-USD", "0700.HK",
        ] {
            assert!(
                evidently_listed_on(None, elsewhere).is_none(),
                "{elsewhere}"
            );
        }
        assert_eq!(
            evidently_listed_on(None, "bp.uk").map(|e| e.mic),
            Some("XLON")
        );
        assert_eq!(
            evidently_listed_on(Some("NYSE"), "7203.T").map(|e| e.mic),
            Some("XNYS")
        );
    }

    #[test]
    fn local_dates() {
        assert_eq!(
            Zone::NewYork.local_date(t("2026-07-25T01:00:00Z")),
            date(2026, 7, 24)
        );
        assert_eq!(
            Zone::London.local_date(t("2026-07-24T23:30:00Z")),
            date(2026, 7, 25)
        );
        assert_eq!(
            Zone::London.local_date(t("2026-01-24T23:30:00Z")),
            date(2026, 1, 24)
        );
    }
}
