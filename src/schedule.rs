//! When a feed is due: crontab schedules, pure functions of the time.
//!
//! Schedules mean what they mean in crontab: five fields (minute, hour,
//! day of month, month, day of week with 0 or 7 = Sunday and 1 = Monday),
//! or six with seconds first, or `@hourly`-style nicknames; day of month and
//! day of week combine with OR when both are restricted, as in Vixie cron.
//! croner implements exactly that (the `cron` crate counts 1 as Sunday and
//! needs a seconds field, see crate-notes.md). Times are evaluated in the
//! configured zone, local by default like crontab, and handed on in UTC.
//! Nothing here reads the clock: callers pass `now`.
//!
//! Also the one home of next-due: [`PollState::next_due`] combines the
//! schedule with a feed's floor (backoff, hints, pauses) and the
//! publisher's [`SkipWindows`] and, while a WebSub hub pushes the feed, the
//! slower fallback rate; the pipeline, the scheduler and the `feeds`
//! command all ask it.

use std::fmt;

use chrono::{DateTime, Local, Utc, Weekday};
use croner::parser::{CronParser, Seconds, Year};

/// The zone schedules are read in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeZone {
    /// The machine's zone (`/etc/localtime` or `TZ`), as crontab does.
    Local,
    Utc,
}

/// A parsed cron schedule. Cheap to clone: a parsed pattern is about 5 KB
/// of bit sets, and 10,000 feeds share a handful of schedules.
#[derive(Clone)]
pub struct Schedule {
    expr: String,
    cron: std::sync::Arc<croner::Cron>,
    tz: TimeZone,
}

impl PartialEq for Schedule {
    fn eq(&self, other: &Self) -> bool {
        self.expr == other.expr && self.tz == other.tz
    }
}

impl fmt::Debug for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Schedule({:?}, {:?})", self.expr, self.tz)
    }
}

/// One field of a crontab line: its name, its number of values, and the
/// lowest and highest value it takes (day of week 7 is Sunday again).
#[derive(Clone, Copy)]
struct Field {
    name: &'static str,
    values: u32,
    min: u32,
    max: u32,
}

const FIELDS: [Field; 6] = [
    Field {
        name: "second",
        values: 60,
        min: 0,
        max: 59,
    },
    Field {
        name: "minute",
        values: 60,
        min: 0,
        max: 59,
    },
    Field {
        name: "hour",
        values: 24,
        min: 0,
        max: 23,
    },
    Field {
        name: "day-of-month",
        values: 31,
        min: 1,
        max: 31,
    },
    Field {
        name: "month",
        values: 12,
        min: 1,
        max: 12,
    },
    Field {
        name: "day-of-week",
        values: 7,
        min: 0,
        max: 7,
    },
];

/// The fields of `expr` beside what each is; `None` for a nickname or a
/// wrong number of fields. Five fields have no seconds.
fn fields(expr: &str) -> Option<Vec<(&str, Field)>> {
    let fields: Vec<&str> = expr.split_whitespace().collect();
    let kinds = match fields.len() {
        5 => &FIELDS[1..],
        6 => &FIELDS[..],
        _ => return None,
    };
    Some(fields.into_iter().zip(kinds.iter().copied()).collect())
}

/// The first number outside its field's range (`25` in `0 25 * * *`'s
/// hour), which croner refuses only as "Number out of bounds", naming no
/// field. Steps are [`check_steps`]'s; names (`MON`, `JAN`) and
/// croner's extensions (`L`, `#`, `W`) are left to croner.
fn out_of_range(expr: &str) -> Option<ScheduleError> {
    for (field, Field { name, min, max, .. }) in fields(expr)? {
        for part in field.split(',') {
            let values = part.split_once('/').map_or(part, |(v, _)| v);
            for value in values.split('-') {
                let Ok(n) = value.parse::<u32>() else {
                    continue;
                };
                if n < min || n > max {
                    return Some(ScheduleError::OutOfRange {
                        expr: expr.to_string(),
                        field: name,
                        value: n,
                        min,
                        max,
                    });
                }
            }
        }
    }
    None
}

/// Refuses a step larger than its field's number of values (`*/61`
/// minutes, `*/25` hours), which croner accepts. `expr` has already
/// parsed, so its fields are well formed.
fn check_steps(expr: &str) -> Result<(), ScheduleError> {
    // A nickname has no fields to check.
    let Some(fields) = fields(expr) else {
        return Ok(());
    };
    for (field, Field { name, values, .. }) in fields {
        for part in field.split(',') {
            let Some(step) = part
                .split_once('/')
                .and_then(|(_, s)| s.parse::<u32>().ok())
            else {
                continue;
            };
            if step > values {
                return Err(ScheduleError::StepTooLarge {
                    expr: expr.to_string(),
                    part: part.to_string(),
                    field: name,
                    values,
                    step,
                });
            }
        }
    }
    Ok(())
}

/// Why a schedule was refused; each message quotes the expression.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    /// It does not read as a crontab line at all.
    #[error(
        "invalid cron schedule {expr:?}: {reason} (expected 5 fields like \"*/15 * * * *\", 6 with seconds first, or @hourly/@daily/@weekly/@monthly/@yearly)"
    )]
    Syntax { expr: String, reason: String },
    /// A number outside its field's range: hour 25, minute 60, month 0.
    #[error(
        "invalid cron schedule {expr:?}: {value} is outside the {field} field's range {min}-{max}"
    )]
    OutOfRange {
        expr: String,
        field: &'static str,
        value: u32,
        min: u32,
        max: u32,
    },
    /// It reads, but no date matches every field ("0 9 31 2 *").
    #[error("invalid cron schedule {expr:?}: it never fires (no date matches all of its fields)")]
    NeverFires { expr: String },
    /// A step larger than its field, which croner reads as the field's
    /// first value alone: `*/61` in the minute field fires only at :00,
    /// once an hour, never every 61 minutes as whoever wrote it meant.
    #[error(
        "invalid cron schedule {expr:?}: step {step} in {part:?} is more than the {field} field's {values} values, so it would fire only at the field's first value"
    )]
    StepTooLarge {
        expr: String,
        part: String,
        field: &'static str,
        values: u32,
        step: u32,
    },
}

impl Schedule {
    pub fn parse(expr: &str, tz: TimeZone) -> Result<Self, ScheduleError> {
        let parser = CronParser::builder()
            .seconds(Seconds::Optional)
            .year(Year::Disallowed)
            .build();
        let cron = parser.parse(expr).map_err(|e| {
            out_of_range(expr).unwrap_or_else(|| ScheduleError::Syntax {
                expr: expr.to_string(),
                reason: e.to_string(),
            })
        })?;
        check_steps(expr)?;
        let schedule = Schedule {
            expr: expr.trim().to_string(),
            cron: std::sync::Arc::new(cron),
            tz,
        };
        // A pattern like "0 0 30 2 *" parses but never fires; say so now
        // rather than leave a feed silently unpolled.
        let probe = DateTime::from_timestamp(1_767_225_600, 0).expect("a fixed valid timestamp");
        if schedule.next_after(probe).is_none() {
            return Err(ScheduleError::NeverFires {
                expr: expr.to_string(),
            });
        }
        Ok(schedule)
    }

    /// The expression as written.
    pub fn expr(&self) -> &str {
        &self.expr
    }

    /// Typical time between firings (measured from a fixed date), for
    /// defaults that scale with the schedule.
    pub fn period(&self) -> Option<std::time::Duration> {
        let probe = DateTime::from_timestamp(1_767_225_600, 0)?;
        let a = self.next_after(probe)?;
        let b = self.next_after(a)?;
        (b - a).to_std().ok()
    }

    /// The first firing strictly after `t`.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self.tz {
            TimeZone::Utc => self.cron.find_next_occurrence(&t, false).ok(),
            TimeZone::Local => self
                .cron
                .find_next_occurrence(&t.with_timezone(&Local), false)
                .ok()
                .map(|l| l.with_timezone(&Utc)),
        }
    }
}

/// What a document says about its own polling (`pipeline::hints` reads
/// it; the archive keeps it for the polls that bring no document: a 304
/// honours the `<ttl>` the last document gave).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DocHints {
    /// `<ttl>`, or `sy:updatePeriod` / `sy:updateFrequency`: the longer.
    pub min_interval: Option<std::time::Duration>,
    pub skip: SkipWindows,
}

/// Hours (0-23, GMT) and days in which the publisher asks not to be polled.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SkipWindows {
    pub hours: Vec<u32>,
    pub days: Vec<Weekday>,
}

impl SkipWindows {
    pub fn is_empty(&self) -> bool {
        self.hours.is_empty() && self.days.is_empty()
    }

    /// Stored form: `"0,1,2"` and `"Saturday,Sunday"`.
    pub fn to_db(&self) -> (Option<String>, Option<String>) {
        let hours = (!self.hours.is_empty()).then(|| {
            self.hours
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(",")
        });
        let days = (!self.days.is_empty()).then(|| {
            self.days
                .iter()
                .map(|d| day_name(*d))
                .collect::<Vec<_>>()
                .join(",")
        });
        (hours, days)
    }

    pub fn from_db(hours: Option<&str>, days: Option<&str>) -> Self {
        SkipWindows {
            hours: hours
                .unwrap_or("")
                .split(',')
                .filter_map(|h| h.trim().parse().ok())
                .filter(|h| *h < 24)
                .collect(),
            days: days
                .unwrap_or("")
                .split(',')
                .filter_map(parse_day)
                .collect(),
        }
    }

    /// Whether `t` falls in a window.
    pub fn covers(&self, t: chrono::DateTime<chrono::Utc>) -> bool {
        use chrono::{Datelike, Timelike};
        self.hours.contains(&t.hour()) || self.days.contains(&t.weekday())
    }
}

fn day_name(d: Weekday) -> &'static str {
    match d {
        Weekday::Mon => "Monday",
        Weekday::Tue => "Tuesday",
        Weekday::Wed => "Wednesday",
        Weekday::Thu => "Thursday",
        Weekday::Fri => "Friday",
        Weekday::Sat => "Saturday",
        Weekday::Sun => "Sunday",
    }
}

pub(crate) fn parse_day(s: &str) -> Option<Weekday> {
    let s = s.trim().to_ascii_lowercase();
    Some(match s.get(..3)? {
        "mon" => Weekday::Mon,
        "tue" => Weekday::Tue,
        "wed" => Weekday::Wed,
        "thu" => Weekday::Thu,
        "fri" => Weekday::Fri,
        "sat" => Weekday::Sat,
        "sun" => Weekday::Sun,
        _ => return None,
    })
}

/// What the archive remembers of a feed's polling that bears on its next
/// poll: the one input to [`PollState::next_due`], filled from a feed's
/// row (scheduler, `feeds` command) or from the poll that just ended
/// (pipeline).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PollState {
    pub last_attempt: Option<DateTime<Utc>>,
    /// A floor set by backoff, server hints or a site's pause.
    pub not_before: Option<DateTime<Utc>>,
    /// The publisher's skip windows, as last read.
    pub skip: SkipWindows,
    /// When the lease of the feed's live WebSub subscription ends, if it
    /// has one (a hub pushes its new documents to us until then).
    pub pushed_until: Option<DateTime<Utc>>,
}

impl PollState {
    /// When the feed is next due on `schedule`. With `respect_hints` off the
    /// publisher's skip windows are ignored (hint floors are left out of
    /// `not_before` by whoever set it); backoff and site pauses always
    /// count.
    ///
    /// `push_fallback` is the feed's polling floor while a hub pushes it
    /// (`FeedConfig::push_fallback`, `None` when it does not subscribe).
    /// While the subscription is live, polls come at most that often
    /// after the last one, and never later than the first firing after
    /// the lease ends: a hub that disappears (no renewal, lease over)
    /// hands the feed back to its cron schedule by itself.
    pub fn next_due(
        &self,
        schedule: &Schedule,
        respect_hints: bool,
        push_fallback: Option<std::time::Duration>,
        now: DateTime<Utc>,
    ) -> DateTime<Utc> {
        let none = SkipWindows::default();
        let skip = if respect_hints { &self.skip } else { &none };
        let mut not_before = self.not_before;
        if let (Some(until), Some(fallback)) = (self.pushed_until, push_fallback)
            && until > now
        {
            let fallback = chrono::Duration::from_std(fallback).unwrap_or(chrono::Duration::MAX);
            let since = self.last_attempt.unwrap_or(now);
            let floor = since
                .checked_add_signed(fallback)
                .unwrap_or(until)
                .min(until);
            not_before = not_before.max(Some(floor));
        }
        next_due(schedule, self.last_attempt, not_before, skip, now)
    }
}

/// When a feed should next be polled, given when it was last attempted.
///
/// A feed never polled is due now. Otherwise it is due at the first firing
/// after the last attempt, which may lie in the past after downtime: the
/// missed poll then happens once, right away, instead of being skipped
/// silently (and a week of downtime does not cause a week of polls).
/// `not_before` is a floor set by backoff, server hints or a site's pause:
/// the first firing at or after it counts, so polls stay on the operator's
/// grid. Firings inside the publisher's `skip` windows are passed over.
pub fn next_due(
    schedule: &Schedule,
    last_attempt: Option<DateTime<Utc>>,
    not_before: Option<DateTime<Utc>>,
    skip: &SkipWindows,
    now: DateTime<Utc>,
) -> DateTime<Utc> {
    let by_cron = match last_attempt {
        None => now,
        Some(t) => schedule.next_after(t).unwrap_or(DateTime::<Utc>::MAX_UTC),
    };
    let mut due = match not_before {
        Some(floor) if floor > by_cron => schedule
            .next_after(floor - chrono::Duration::seconds(1))
            .unwrap_or(floor),
        _ => by_cron,
    };
    // The windows repeat every week: a schedule with no firing outside
    // them within one (a daily 03:00 against a publisher's 00-06 skip)
    // never has one, and the operator's schedule wins over the hint. The
    // count bounds the work for schedules that fire every second.
    let first = due;
    let give_up = first + chrono::Duration::days(8);
    let mut tries = 0;
    while skip.covers(due) {
        match schedule.next_after(due) {
            Some(t) if t <= give_up && tries < 100_000 => due = t,
            _ => return first,
        }
        tries += 1;
    }
    due
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Datelike, Timelike, Weekday};

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn utc(expr: &str) -> Schedule {
        Schedule::parse(expr, TimeZone::Utc).unwrap()
    }

    /// A step longer than its field fires only at the field's start
    /// (`*/61` minutes is hourly at :00), which is never what was meant:
    /// refused, naming the part at fault. A step the
    /// size of its field (`*/60`) is the field's start, as written.
    #[test]
    fn a_step_longer_than_its_field_is_refused() {
        for (expr, part, field) in [
            ("*/61 * * * *", "*/61", "minute"),
            ("0 */25 * * *", "*/25", "hour"),
            ("0 0 1-31/32 * *", "1-31/32", "day-of-month"),
            ("*/90 * * * * *", "*/90", "second"),
            ("0 9,0-23/30 * * *", "0-23/30", "hour"),
        ] {
            let e = Schedule::parse(expr, TimeZone::Utc)
                .unwrap_err()
                .to_string();
            assert!(
                e.contains(&format!("{expr:?}"))
                    && e.contains(&format!("in {part:?}"))
                    && e.contains(&format!("the {field} field")),
                "{expr}: {e}"
            );
        }
        assert_eq!(
            utc("*/60 * * * *").next_after(t("2026-11-24T12:30:00Z")),
            Some(t("2026-11-24T13:00:00Z"))
        );
        utc("*/15 */2 */3 */4 */7");
    }

    /// croner refuses hour 25 as "Component error: Number out of bounds.",
    /// which names neither the number nor the field: an operator with ten
    /// feeds' schedules could not tell which field of which is wrong.
    #[test]
    fn a_number_outside_its_field_is_named_with_the_fields_range() {
        for (expr, said) in [
            ("0 25 * * *", "25 is outside the hour field's range 0-23"),
            ("60 * * * *", "60 is outside the minute field's range 0-59"),
            (
                "0 9 0 * *",
                "0 is outside the day-of-month field's range 1-31",
            ),
            ("0 9 * 13 1-5", "13 is outside the month field's range 1-12"),
            (
                "0 9 * * 1-8",
                "8 is outside the day-of-week field's range 0-7",
            ),
            (
                "61 0 9 * * *",
                "61 is outside the second field's range 0-59",
            ),
            (
                "0 9,30/2 * * *",
                "30 is outside the hour field's range 0-23",
            ),
        ] {
            let e = Schedule::parse(expr, TimeZone::Utc)
                .unwrap_err()
                .to_string();
            assert!(e.contains(&format!("{expr:?}: {said}")), "{expr}: {e}");
            assert!(!e.contains("Component error"), "{expr}: {e}");
        }
        // Sunday as 7, and names, still read.
        utc("0 9 * * 7");
        utc("0 9 * JAN-DEC MON-FRI");
    }

    /// A schedule no date satisfies says so, without the hint about the
    /// number of fields, which it has right.
    #[test]
    fn a_schedule_that_never_fires_says_so_without_the_syntax_hint() {
        let e = Schedule::parse("0 9 31 2 *", TimeZone::Utc)
            .unwrap_err()
            .to_string();
        assert!(e.contains("\"0 9 31 2 *\": it never fires"), "{e}");
        assert!(!e.contains("expected 5 fields"), "{e}");
        let e = Schedule::parse("0 9 *", TimeZone::Utc)
            .unwrap_err()
            .to_string();
        assert!(e.contains("expected 5 fields"), "{e}");
    }

    #[test]
    fn crontab_monday_is_one() {
        // 2026-11-24 is a Tuesday; "0 9 * * 1" must fire next Monday 09:00.
        let next = utc("0 9 * * 1")
            .next_after(t("2026-11-24T12:00:00Z"))
            .unwrap();
        assert_eq!(next.weekday(), Weekday::Mon);
        assert_eq!(next, t("2026-11-30T09:00:00Z"));
    }

    #[test]
    fn sunday_is_zero_and_seven() {
        for expr in ["0 9 * * 0", "0 9 * * 7", "0 9 * * SUN"] {
            let next = utc(expr).next_after(t("2026-11-24T12:00:00Z")).unwrap();
            assert_eq!(next, t("2026-11-29T09:00:00Z"), "{expr}");
        }
    }

    #[test]
    fn five_fields_every_fifteen_minutes() {
        let s = utc("*/15 * * * *");
        assert_eq!(
            s.next_after(t("2026-11-24T10:07:30Z")).unwrap(),
            t("2026-11-24T10:15:00Z")
        );
        assert_eq!(
            s.next_after(t("2026-11-24T10:15:00Z")).unwrap(),
            t("2026-11-24T10:30:00Z")
        );
    }

    #[test]
    fn six_fields_have_seconds_first() {
        let s = utc("*/20 * * * * *");
        assert_eq!(
            s.next_after(t("2026-11-24T10:00:05Z")).unwrap(),
            t("2026-11-24T10:00:20Z")
        );
    }

    #[test]
    fn nicknames() {
        assert_eq!(
            utc("@hourly")
                .next_after(t("2026-11-24T10:07:00Z"))
                .unwrap(),
            t("2026-11-24T11:00:00Z")
        );
        assert_eq!(
            utc("@daily").next_after(t("2026-11-24T10:07:00Z")).unwrap(),
            t("2026-11-25T00:00:00Z")
        );
    }

    #[test]
    fn day_of_month_or_day_of_week_as_in_vixie_cron() {
        // The 1st of the month OR any Monday.
        let next = utc("0 9 1 * 1")
            .next_after(t("2026-11-24T12:00:00Z"))
            .unwrap();
        assert_eq!(next, t("2026-11-30T09:00:00Z"));
        let after = utc("0 9 1 * 1").next_after(next).unwrap();
        assert_eq!(after, t("2026-12-01T09:00:00Z"));
    }

    #[test]
    fn weekday_ranges_and_hours() {
        let s = utc("*/10 7-22 * * 1-5");
        // Friday 22:55 -> Monday 07:00
        let next = s.next_after(t("2026-11-27T22:55:00Z")).unwrap();
        assert_eq!(next, t("2026-11-30T07:00:00Z"));
        assert_eq!(next.minute(), 0);
    }

    #[test]
    fn bad_expressions_are_rejected_with_the_expression() {
        for expr in [
            "",
            "* * *",
            "61 * * * *",
            "* * * * * * *",
            "@every 5m",
            "0 0 30 2 *",
        ] {
            let err = Schedule::parse(expr, TimeZone::Utc)
                .unwrap_err()
                .to_string();
            assert!(err.contains(&format!("{expr:?}")), "{err}");
        }
    }

    #[test]
    fn never_polled_is_due_now_and_missed_polls_happen_once() {
        let s = utc("*/15 * * * *");
        let now = t("2026-11-24T12:00:00Z");
        assert_eq!(next_due(&s, None, None, &SkipWindows::default(), now), now);
        // Down for a day: due at the first firing after the last attempt,
        // which is in the past, so it runs once right away.
        let last = t("2026-11-23T12:00:00Z");
        assert_eq!(
            next_due(&s, Some(last), None, &SkipWindows::default(), now),
            t("2026-11-23T12:15:00Z")
        );
    }

    #[test]
    fn floor_pushes_to_the_next_firing_on_the_grid() {
        let s = utc("*/15 * * * *");
        let now = t("2026-11-24T12:00:00Z");
        let due = next_due(
            &s,
            Some(now),
            Some(t("2026-11-24T12:20:00Z")),
            &SkipWindows::default(),
            now,
        );
        assert_eq!(due, t("2026-11-24T12:30:00Z"));
        let due = next_due(
            &s,
            Some(now),
            Some(t("2026-11-24T12:30:00Z")),
            &SkipWindows::default(),
            now,
        );
        assert_eq!(due, t("2026-11-24T12:30:00Z"));
    }

    #[test]
    fn a_live_subscription_slows_polling_to_the_fallback_until_its_lease_ends() {
        let s = utc("*/15 * * * *");
        let now = t("2026-11-24T12:00:00Z");
        let six_hours = Some(std::time::Duration::from_secs(6 * 3_600));
        let mut state = PollState {
            last_attempt: Some(now),
            pushed_until: Some(t("2026-11-30T00:00:00Z")),
            ..PollState::default()
        };
        // Live: six hours after the last poll, on the grid.
        assert_eq!(
            state.next_due(&s, true, six_hours, now),
            t("2026-11-24T18:00:00Z")
        );
        // Subscribing off for this feed: the cron schedule.
        assert_eq!(
            state.next_due(&s, true, None, now),
            t("2026-11-24T12:15:00Z")
        );
        // The lease ends before the fallback is up: the first firing after
        // it, so a hub that disappears hands the feed back to cron.
        state.pushed_until = Some(t("2026-11-24T13:05:00Z"));
        assert_eq!(
            state.next_due(&s, true, six_hours, now),
            t("2026-11-24T13:15:00Z")
        );
        // The lease is over: the cron schedule again.
        let later = t("2026-11-24T14:00:00Z");
        assert_eq!(
            state.next_due(&s, true, six_hours, later),
            t("2026-11-24T12:15:00Z")
        );
        // A longer floor (backoff) still wins.
        state.pushed_until = Some(t("2026-11-30T00:00:00Z"));
        state.not_before = Some(t("2026-11-25T00:00:00Z"));
        assert_eq!(
            state.next_due(&s, true, six_hours, now),
            t("2026-11-25T00:00:00Z")
        );
    }

    #[test]
    fn skip_windows_are_passed_over() {
        let s = utc("0 * * * *");
        let skip = SkipWindows {
            hours: vec![13, 14],
            days: vec![],
        };
        let now = t("2026-11-24T12:30:00Z");
        assert_eq!(
            next_due(&s, Some(now), None, &skip, now),
            t("2026-11-24T15:00:00Z")
        );
        let weekend = SkipWindows {
            hours: vec![],
            days: vec![chrono::Weekday::Sat, chrono::Weekday::Sun],
        };
        // Friday 23:30 -> Monday 00:00.
        let fri = t("2026-11-27T23:30:00Z");
        assert_eq!(
            next_due(&s, Some(fri), None, &weekend, fri),
            t("2026-11-30T00:00:00Z")
        );
    }

    /// A schedule that fires only inside the publisher's windows polls on
    /// its own firings: the hint cannot stop a feed (it used to walk
    /// 100,000 firings, for a daily schedule to the year 2300).
    #[test]
    fn a_schedule_that_fires_only_inside_the_windows_keeps_its_firings() {
        let night = SkipWindows {
            hours: (0..=6).collect(),
            days: vec![],
        };
        let now = t("2026-11-24T12:00:00Z");
        assert_eq!(
            next_due(&utc("0 3 * * *"), Some(now), None, &night, now),
            t("2026-11-25T03:00:00Z")
        );
        let weekend = SkipWindows {
            hours: vec![],
            days: vec![chrono::Weekday::Sat, chrono::Weekday::Sun],
        };
        // Saturdays only: next Saturday.
        assert_eq!(
            next_due(&utc("0 9 * * 6"), Some(now), None, &weekend, now),
            t("2026-11-28T09:00:00Z")
        );
        // A firing outside, days away, is still found: Saturday is
        // skipped for Monday.
        assert_eq!(
            next_due(&utc("0 9 * * 1,6"), Some(now), None, &weekend, now),
            t("2026-11-30T09:00:00Z")
        );
    }
}
