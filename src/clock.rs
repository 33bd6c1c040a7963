//! Wall time, injected.
//!
//! Cron schedules, staleness and "first seen" stamps all depend on the wall
//! clock, and `tokio::time::pause()` does not move it. So logic never reads
//! the time itself: it asks a [`Clock`]. The daemon uses [`SystemClock`];
//! tests use [`FixedClock`] and move it by hand. This is the only module that
//! may call `Utc::now()`.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};

/// The longest a loop waiting for a wall time sleeps without reading the
/// clock again. Its next run is a wall time, but tokio's timers count
/// monotonic time, which a suspend stops and an NTP step does not move:
/// one sleep for the whole wait ran late by the jump, up to a whole
/// period. So a jump delays the scheduler's polls, the board's refreshes
/// and housekeeping by at most this much.
pub const MAX_SLEEP: std::time::Duration = std::time::Duration::from_secs(30);

/// Returns once `clock` reads `at` or later, looking at it at least every
/// [`MAX_SLEEP`].
pub async fn sleep_until(clock: &dyn Clock, at: DateTime<Utc>) {
    // `to_std` fails for a negative wait: `at` has passed.
    while let Ok(left) = (at - clock.now()).to_std() {
        if left.is_zero() {
            return;
        }
        tokio::time::sleep(left.min(MAX_SLEEP)).await;
    }
}

/// A source of wall time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> DateTime<Utc>;
}

/// Shared handle to the clock the whole process uses.
pub type SharedClock = Arc<dyn Clock>;

/// The real wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        #[allow(clippy::disallowed_methods)] // the one place allowed to read wall time
        Utc::now()
    }
}

/// A clock that only moves when told to, for tests.
#[derive(Debug, Clone)]
pub struct FixedClock(Arc<Mutex<DateTime<Utc>>>);

impl FixedClock {
    pub fn new(at: DateTime<Utc>) -> Self {
        Self(Arc::new(Mutex::new(at)))
    }

    pub fn set(&self, at: DateTime<Utc>) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = at;
    }

    pub fn advance(&self, by: Duration) {
        let mut now = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *now += by;
    }
}

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The archive's one time format: RFC 3339 in UTC with whole seconds and a
/// `Z` suffix, so that text order is time order in SQL.
pub fn to_db_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Reads a time written by [`to_db_time`] (or any RFC 3339 time).
pub fn from_db_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Reads what a person types for "from this moment on": a date
/// (`2026-11-24`, meaning its start in UTC) or an RFC 3339 time
/// (`2026-11-24T09:00:00Z`, `2026-11-24T10:00:00+01:00`). Used by
/// `--since` and `?since=`, whose errors name the argument.
pub fn from_date_or_time(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    from_db_time(s).or_else(|| {
        chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .ok()
            .map(|d| d.and_time(chrono::NaiveTime::MIN).and_utc())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_clock_moves_only_when_told() {
        let start = from_db_time("2026-11-24T09:00:00Z").unwrap();
        let clock = FixedClock::new(start);
        assert_eq!(clock.now(), start);
        clock.advance(Duration::minutes(5));
        assert_eq!(to_db_time(clock.now()), "2026-11-24T09:05:00Z");
    }

    #[test]
    fn db_time_sorts_as_text() {
        let a = to_db_time(from_db_time("2026-01-02T03:04:05+02:00").unwrap());
        assert_eq!(a, "2026-01-02T01:04:05Z");
        assert!(a < to_db_time(from_db_time("2026-01-02T01:04:06Z").unwrap()));
    }

    #[test]
    fn a_date_is_its_start_and_a_time_is_itself() {
        let day = from_date_or_time("2026-11-24").unwrap();
        assert_eq!(to_db_time(day), "2026-11-24T00:00:00Z");
        let t = from_date_or_time("2026-11-24T10:00:00+01:00").unwrap();
        assert_eq!(to_db_time(t), "2026-11-24T09:00:00Z");
        for bad in ["yesterday", "2026-13-01", "24/11/2026", ""] {
            assert_eq!(from_date_or_time(bad), None, "{bad}");
        }
    }
}
