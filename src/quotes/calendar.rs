//! Exchange calendars: when each market the board quotes is open.
//!
//! Owns a small, documented model of the exchanges the shipped config uses
//! (its US-listed ADRs on NYSE and Nasdaq) and the London lines the same
//! companies trade as: regular session hours in the exchange's own time
//! zone, weekends, and a compiled-in list of full-day closures and early
//! closes for 2025 to 2027 ([`HOLIDAYS_KNOWN_THROUGH`]). Hands
//! [`TradingSession`]s to the price reactions (`quotes::reactions`), which
//! measure "+15 min", "+1 trading day" and "next close" in trading time.
//!
//! What it does not model, on purpose: pre- and post-market sessions (the
//! board's providers report the regular-session price), lunch breaks (none
//! on these exchanges), and unscheduled closures (a national day of
//! mourning is added to the list when announced, as 2025-01-09 was).
//! After [`HOLIDAYS_KNOWN_THROUGH`] only weekends close a market, so the
//! lists need a yearly update (each exchange publishes its next years'
//! holidays well ahead); a test checks every listed date is a weekday.
//!
//! Time zones: the two zones involved have fixed, statutory daylight-saving
//! rules (US: second Sunday of March to first Sunday of November, at 02:00
//! local; UK: last Sunday of March to last Sunday of October, at 01:00
//! UTC), so they are computed here rather than pulling the whole tz
//! database in as a dependency. Sessions never open near a change-over, so
//! a session's offset is the offset at noon UTC on its day.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};

/// The last year whose closures the lists below hold.
pub const HOLIDAYS_KNOWN_THROUGH: i32 = 2027;

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
    /// Days with no session (weekdays only; weekends are always closed).
    holidays: &'static [Ymd],
    /// Days the session ends early, and the local closing time.
    early_closes: &'static [(Ymd, Hm)],
}

/// NYSE and Nasdaq keep the same holidays (NYSE Rule 7.2; Nasdaq follows).
const US_HOLIDAYS: &[Ymd] = &[
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
];

/// 13:00 closes: the day before Independence Day, the day after
/// Thanksgiving, Christmas Eve (when a weekday and not itself a holiday).
const US_EARLY_CLOSES: &[(Ymd, Hm)] = &[
    ((2025, 7, 3), (13, 0)),
    ((2025, 11, 28), (13, 0)),
    ((2025, 12, 24), (13, 0)),
    ((2026, 11, 27), (13, 0)),
    ((2026, 12, 24), (13, 0)),
    ((2027, 11, 26), (13, 0)),
];

/// England and Wales bank holidays, on which the LSE is closed.
const LONDON_HOLIDAYS: &[Ymd] = &[
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
];

/// 12:30 closes on Christmas Eve and New Year's Eve.
const LONDON_EARLY_CLOSES: &[(Ymd, Hm)] = &[
    ((2025, 12, 24), (12, 30)),
    ((2025, 12, 31), (12, 30)),
    ((2026, 12, 24), (12, 30)),
    ((2026, 12, 31), (12, 30)),
    ((2027, 12, 24), (12, 30)),
    ((2027, 12, 31), (12, 30)),
];

pub static NYSE: Exchange = Exchange {
    mic: "XNYS",
    name: "New York Stock Exchange",
    zone: Zone::NewYork,
    open: (9, 30),
    close: (16, 0),
    holidays: US_HOLIDAYS,
    early_closes: US_EARLY_CLOSES,
};

pub static NASDAQ: Exchange = Exchange {
    mic: "XNAS",
    name: "Nasdaq",
    zone: Zone::NewYork,
    open: (9, 30),
    close: (16, 0),
    holidays: US_HOLIDAYS,
    early_closes: US_EARLY_CLOSES,
};

pub static LSE: Exchange = Exchange {
    mic: "XLON",
    name: "London Stock Exchange",
    zone: Zone::London,
    open: (8, 0),
    close: (16, 30),
    holidays: LONDON_HOLIDAYS,
    early_closes: LONDON_EARLY_CLOSES,
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

/// The exchange an instrument trades on when the config does not say:
/// London for the London suffixes the providers use (Yahoo `.L`, Stooq
/// `.uk`, Alpha Vantage `.LON`), New York otherwise (the shipped board is
/// US-listed ADRs). NYSE and Nasdaq share hours and holidays, so which of
/// the two a US symbol is does not change a reaction.
pub fn for_provider_symbol(provider_symbol: &str) -> &'static Exchange {
    let s = provider_symbol.to_ascii_lowercase();
    if s.ends_with(".l") || s.ends_with(".uk") || s.ends_with(".lon") {
        &LSE
    } else {
        &NYSE
    }
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
    fn is_holiday(&self, date: NaiveDate) -> bool {
        let key = (date.year(), date.month(), date.day());
        self.holidays.contains(&key)
    }

    /// The session on local `date`, or `None` on weekends and holidays.
    pub fn session_on(&self, date: NaiveDate) -> Option<TradingSession> {
        if matches!(date.weekday(), Weekday::Sat | Weekday::Sun) || self.is_holiday(date) {
            return None;
        }
        let key = (date.year(), date.month(), date.day());
        let (ch, cm) = self
            .early_closes
            .iter()
            .find(|(d, _)| *d == key)
            .map_or(self.close, |(_, close)| *close);
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

    #[test]
    fn every_listed_closure_is_a_weekday_within_the_known_years() {
        for e in EXCHANGES {
            let early = e.early_closes.iter().map(|(d, _)| d);
            for &(y, m, d) in e.holidays.iter().chain(early) {
                let day = date(y, m, d);
                assert!(
                    !matches!(day.weekday(), Weekday::Sat | Weekday::Sun),
                    "{} {day} is a weekend day",
                    e.mic
                );
                assert!(y <= HOLIDAYS_KNOWN_THROUGH);
            }
        }
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
