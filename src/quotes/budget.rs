//! Request budgets and cooldowns, one [`Budget`] per provider.
//!
//! Owns the free-tier limits (Finnhub 60/min, Twelve Data 8 credits/min and
//! 800/day, Alpha Vantage 25/day, our own 30/min for Yahoo, 60/min for
//! Stooq) and the cooldown after a provider says "too many requests".
//! [`client::ProviderClient`](super::client::ProviderClient) asks it before
//! every request and, when it says no, hands back
//! [`QuoteError::BudgetExhausted`] instead of sleeping: the board keeps its
//! last good quotes (marked stale) and asks again at its next scheduled
//! refresh.
//!
//! Pure: every method takes `now`, nothing sleeps or reads the clock, so the
//! tests drive it with fixed times.
//!
//! Windows slide rather than reset on the minute or at midnight: a sliding
//! window that allows `n` in any 60 s also allows at most `n` in every
//! calendar minute, so it is safe whichever way a provider counts. The
//! counters and the cooldown are kept in the archive too
//! ([`ProviderLedger`]): [`Budget::load`] takes what every process on it
//! spent, so a restart, a `tickerfeed quotes` run and the daemon keep to
//! one budget and one cooldown.

use std::collections::VecDeque;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Timelike, Utc};

use super::QuoteError;
use crate::config::Plan;
use crate::model::ProviderKind;
use crate::store::ProviderLedger;

/// Cooldown after a 429 that came without `Retry-After`.
pub const DEFAULT_COOLDOWN: StdDuration = StdDuration::from_secs(60);
/// Longest cooldown we accept, from `Retry-After` or from backing off.
pub const MAX_COOLDOWN: StdDuration = StdDuration::from_secs(60 * 60);

/// At most `credits` in any `per`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub credits: u32,
    pub per: Duration,
}

impl RateLimit {
    pub fn per_second(credits: u32) -> Self {
        RateLimit {
            credits,
            per: Duration::seconds(1),
        }
    }

    pub fn per_minute(credits: u32) -> Self {
        RateLimit {
            credits,
            per: Duration::minutes(1),
        }
    }

    pub fn per_day(credits: u32) -> Self {
        RateLimit {
            credits,
            per: Duration::days(1),
        }
    }

    /// How long a spend counts against the limit: `per`, and twice that
    /// for a window shorter than a minute (Finnhub's 30 a second). A spend
    /// is counted when the refresh decides it, and the provider counts
    /// the request when it arrives: the time between varies by more than
    /// such a window can absorb (a process's start, a new connection, a
    /// busy machine), so 30 requests decided within a second could arrive
    /// within less than one, and the 31st is a 429. A board never asks
    /// that fast but for many `tickerfeed quotes` in a row, and the minute's
    /// limit binds long before. A minute's or a day's window is counted
    /// as the provider counts it, to the millisecond: Twelve Data's 8 a
    /// minute, spent by a refresh every minute, are free again at the next.
    fn counts_for(&self) -> Duration {
        if self.per < Duration::minutes(1) {
            self.per * 2
        } else {
            self.per
        }
    }
}

#[derive(Debug, Clone)]
struct Window {
    limit: RateLimit,
    /// (when, credits), oldest first; only spends that still count
    /// ([`RateLimit::counts_for`]).
    spent: VecDeque<(DateTime<Utc>, u32)>,
    used: u32,
}

impl Window {
    fn forget_before(&mut self, now: DateTime<Utc>) {
        while let Some(&(at, credits)) = self.spent.front() {
            if at + self.limit.counts_for() > now {
                break;
            }
            self.spent.pop_front();
            self.used -= credits;
        }
    }

    fn left(&self) -> u32 {
        self.limit.credits.saturating_sub(self.used)
    }

    /// When `n` more credits will fit, given no further spending.
    fn fits_at(&self, n: u32, now: DateTime<Utc>) -> DateTime<Utc> {
        if n > self.limit.credits {
            // Never fits; the client splits requests to `max_burst`, so this
            // only happens with a hand-made budget. Say "one window from now".
            return now + self.limit.counts_for();
        }
        let need = (self.used + n).saturating_sub(self.limit.credits);
        let mut freed = 0;
        for &(at, credits) in &self.spent {
            freed += credits;
            if freed >= need {
                return at + self.limit.counts_for();
            }
        }
        now
    }
}

/// How many requests (or credits) one provider may still spend, and whether
/// it is cooling down after a rate-limit answer.
#[derive(Debug, Clone)]
pub struct Budget {
    windows: Vec<Window>,
    cooldown_until: Option<DateTime<Utc>>,
    /// Why the cooldown runs (the answer that started it).
    cooldown_why: String,
    /// Rate-limit answers without `Retry-After` since the last good response;
    /// each one doubles the next cooldown (60 s, 2 min, 4 min … 1 h), so a
    /// daily quota or a Yahoo IP block is not retried every minute.
    strikes: u32,
}

impl Budget {
    pub fn new(limits: impl IntoIterator<Item = RateLimit>) -> Self {
        Budget {
            windows: limits
                .into_iter()
                .map(|limit| Window {
                    limit,
                    spent: VecDeque::new(),
                    used: 0,
                })
                .collect(),
            cooldown_until: None,
            cooldown_why: String::new(),
            strikes: 0,
        }
    }

    /// From when spends matter to the longest window at `now`: older ones
    /// the ledger may forget.
    pub fn since(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let longest = self.windows.iter().map(|w| w.limit.counts_for()).max();
        now - longest.unwrap_or_default()
    }

    /// Takes the spends, cooldown and back-off count the archive holds
    /// (every process's, this one's included) in place of its own.
    pub fn load(&mut self, ledger: &ProviderLedger) {
        for w in &mut self.windows {
            w.spent = ledger.spent.iter().copied().collect();
            w.used = w.spent.iter().map(|(_, credits)| credits).sum();
        }
        let (until, why) = ledger.pause.clone().unzip();
        self.cooldown_until = until;
        self.cooldown_why = why.unwrap_or_default();
        self.strikes = ledger.strikes;
    }

    /// Why the cooldown running at `now` runs, if one does.
    pub fn cooling_why(&self, now: DateTime<Utc>) -> Option<&str> {
        self.cooling_until(now).map(|_| self.cooldown_why.as_str())
    }

    fn paused(&self, until: DateTime<Utc>) -> QuoteError {
        QuoteError::Paused {
            until,
            why: self.cooldown_why.clone(),
        }
    }

    /// The back-off count (see [`Budget::cool_down`]), as the archive keeps it.
    pub fn strikes(&self) -> u32 {
        self.strikes
    }

    /// A budget with no limits; cooldowns still apply.
    pub fn unlimited() -> Self {
        Budget::new([])
    }

    /// The free-tier limits as of late 2026 (`market-providers.md` §1).
    pub fn free_tier(kind: ProviderKind) -> Self {
        match kind {
            ProviderKind::Finnhub => {
                Budget::new([RateLimit::per_minute(60), RateLimit::per_second(30)])
            }
            ProviderKind::TwelveData => {
                Budget::new([RateLimit::per_minute(8), RateLimit::per_day(800)])
            }
            ProviderKind::AlphaVantage => Budget::new([RateLimit::per_day(25)]),
            // Unpublished; Yahoo throttles per IP, so stay well below.
            ProviderKind::Yahoo => Budget::new([RateLimit::per_minute(30)]),
            ProviderKind::Stooq => Budget::new([RateLimit::per_minute(60)]),
        }
    }

    /// The limits `plan` gives, or the free tier's without one.
    pub fn of_plan(kind: ProviderKind, plan: Option<&Plan>) -> Self {
        let Some(plan) = plan else {
            return Budget::free_tier(kind);
        };
        Budget::new(
            [
                plan.per_second.map(RateLimit::per_second),
                plan.per_minute.map(RateLimit::per_minute),
                plan.per_day.map(RateLimit::per_day),
            ]
            .into_iter()
            .flatten(),
        )
    }

    pub fn limits(&self) -> Vec<RateLimit> {
        self.windows.iter().map(|w| w.limit).collect()
    }

    /// The most credits one spend can ever take (the smallest window), or
    /// `None` when unlimited.
    pub fn max_burst(&self) -> Option<u32> {
        self.windows.iter().map(|w| w.limit.credits).min()
    }

    /// Credits that can be spent right now: 0 while cooling down,
    /// `u32::MAX` when unlimited.
    pub fn available(&mut self, now: DateTime<Utc>) -> u32 {
        if self.cooling_until(now).is_some() {
            return 0;
        }
        self.windows
            .iter_mut()
            .map(|w| {
                w.forget_before(now);
                w.left()
            })
            .min()
            .unwrap_or(u32::MAX)
    }

    /// The end of the current cooldown, if one is running at `now`.
    pub fn cooling_until(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cooldown_until.filter(|until| *until > now)
    }

    /// Spends `n` credits, or says when they would be available. Spends
    /// nothing on failure.
    pub fn try_spend(&mut self, n: u32, now: DateTime<Utc>) -> Result<(), QuoteError> {
        if let Some(until) = self.cooling_until(now) {
            return Err(self.paused(until));
        }
        let mut until: Option<DateTime<Utc>> = None;
        for w in &mut self.windows {
            w.forget_before(now);
            if w.used + n > w.limit.credits {
                let at = w.fits_at(n, now);
                until = Some(until.map_or(at, |u| u.max(at)));
            }
        }
        if let Some(until) = until {
            return Err(QuoteError::BudgetExhausted { until });
        }
        for w in &mut self.windows {
            w.spent.push_back((now, n));
            w.used += n;
        }
        Ok(())
    }

    /// Spends `n` credits for work that can wait (backfilling history),
    /// only if afterwards every window still has `reserve` credits and at
    /// least half of its limit left for the work that cannot (the board's
    /// refresh). Spends nothing on failure; the error says when `n` plus
    /// what must stay would fit.
    pub fn try_spend_spare(
        &mut self,
        n: u32,
        reserve: u32,
        now: DateTime<Utc>,
    ) -> Result<(), QuoteError> {
        if let Some(until) = self.cooling_until(now) {
            return Err(self.paused(until));
        }
        let mut until: Option<DateTime<Utc>> = None;
        for w in &mut self.windows {
            w.forget_before(now);
            let keep = reserve.max(w.limit.credits / 2);
            if w.left() < n.saturating_add(keep) {
                let at = w.fits_at(n.saturating_add(keep), now);
                until = Some(until.map_or(at, |u| u.max(at)));
            }
        }
        if let Some(until) = until {
            return Err(QuoteError::BudgetExhausted { until });
        }
        self.try_spend(n, now)
    }

    /// Starts (or extends) a cooldown after a rate-limit answer, and returns
    /// its end. `Retry-After` is honoured up to [`MAX_COOLDOWN`]; without it
    /// the wait is [`DEFAULT_COOLDOWN`], doubled for each rate-limit answer
    /// since the last good one.
    pub fn cool_down(
        &mut self,
        retry_after: Option<StdDuration>,
        why: &str,
        now: DateTime<Utc>,
    ) -> DateTime<Utc> {
        let wait = match retry_after {
            Some(wait) => wait,
            None => DEFAULT_COOLDOWN.saturating_mul(1 << self.strikes.min(16)),
        }
        .min(MAX_COOLDOWN);
        self.strikes = self.strikes.saturating_add(1);
        let wait = Duration::from_std(wait).unwrap_or(Duration::hours(1));
        // Cut to the second: the archive keeps whole seconds (so every
        // process sees the same end), and a refresh due as the wait ends
        // (a schedule on whole seconds) starts a millisecond or two past
        // that second, while the pause, counted from the answer's
        // arrival, ended those milliseconds later still: the refresh the
        // provider's wait was sized for was refused, and a whole period
        // lost. At most a second early by the provider's count, which
        // `Retry-After`'s whole seconds cannot tell.
        let until = now + wait;
        let until = until.with_nanosecond(0).unwrap_or(until);
        if self.cooldown_until.is_none_or(|kept| kept < until) {
            self.cooldown_until = Some(until);
            self.cooldown_why = why.to_string();
        }
        self.cooldown_until.unwrap_or(until)
    }

    /// A good answer arrived: the next cooldown starts from the default again.
    pub fn record_success(&mut self) {
        self.strikes = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_790_000_000 + secs, 0).unwrap()
    }

    fn exhausted_until(r: Result<(), QuoteError>) -> DateTime<Utc> {
        match r {
            Err(QuoteError::BudgetExhausted { until }) => until,
            other => panic!("expected BudgetExhausted, got {other:?}"),
        }
    }

    #[test]
    fn free_tier_defaults() {
        let cases = [
            (
                ProviderKind::Finnhub,
                vec![RateLimit::per_minute(60), RateLimit::per_second(30)],
            ),
            (
                ProviderKind::TwelveData,
                vec![RateLimit::per_minute(8), RateLimit::per_day(800)],
            ),
            (ProviderKind::AlphaVantage, vec![RateLimit::per_day(25)]),
            (ProviderKind::Yahoo, vec![RateLimit::per_minute(30)]),
            (ProviderKind::Stooq, vec![RateLimit::per_minute(60)]),
        ];
        for (kind, limits) in cases {
            assert_eq!(Budget::free_tier(kind).limits(), limits, "{kind}");
        }
    }

    #[test]
    fn minute_window_slides() {
        let mut b = Budget::new([RateLimit::per_minute(8)]);
        b.try_spend(5, at(0)).unwrap();
        b.try_spend(3, at(10)).unwrap();
        assert_eq!(b.available(at(20)), 0);
        // The first 5 free up 60 s after they were spent.
        assert_eq!(exhausted_until(b.try_spend(1, at(20))), at(60));
        assert_eq!(exhausted_until(b.try_spend(6, at(20))), at(70));
        b.try_spend(5, at(60)).unwrap();
        assert_eq!(b.available(at(60)), 0);
        assert_eq!(b.available(at(70)), 3);
    }

    /// Finnhub's 30 a second: a spend counts for two seconds, as the
    /// requests decided in one can arrive within less than one.
    #[test]
    fn a_second_window_counts_its_spends_twice_as_long() {
        let mut b = Budget::free_tier(ProviderKind::Finnhub);
        b.try_spend(30, at(0)).unwrap();
        assert_eq!(b.available(at(1)), 0);
        assert_eq!(exhausted_until(b.try_spend(1, at(1))), at(2));
        assert_eq!(b.available(at(2)), 30);
    }

    #[test]
    fn failed_spend_spends_nothing() {
        let mut b = Budget::new([RateLimit::per_minute(8), RateLimit::per_day(10)]);
        b.try_spend(8, at(0)).unwrap();
        assert!(b.try_spend(3, at(61)).is_err()); // the daily window says no
        assert_eq!(b.available(at(61)), 2);
        b.try_spend(2, at(61)).unwrap();
    }

    #[test]
    fn daily_window_reports_the_later_end() {
        let mut b = Budget::new([RateLimit::per_minute(8), RateLimit::per_day(10)]);
        b.try_spend(8, at(0)).unwrap();
        b.try_spend(2, at(100)).unwrap();
        assert_eq!(
            exhausted_until(b.try_spend(1, at(200))),
            at(0) + Duration::days(1)
        );
    }

    #[test]
    fn alpha_vantage_allows_25_a_day() {
        let mut b = Budget::free_tier(ProviderKind::AlphaVantage);
        for i in 0..25 {
            b.try_spend(1, at(i * 60)).unwrap();
        }
        assert_eq!(
            exhausted_until(b.try_spend(1, at(3600))),
            at(0) + Duration::days(1)
        );
        b.try_spend(1, at(86_400)).unwrap();
    }

    /// Twelve Data's 8 a minute, all spent by a refresh a few
    /// milliseconds past the minute and kept in the archive: another
    /// process (or the next load) may spend them again as the next minute
    /// starts, as the provider counts, not a second later. Kept to the
    /// second, the refresh a period after a full one was refused.
    #[tokio::test]
    async fn a_full_budget_kept_in_the_archive_is_free_again_a_period_later() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::Store::open(&dir.path().join("a.db")).unwrap();
        let key = || ("twelvedata".to_string(), "https://api.test/".to_string());
        let first = at(0) + Duration::milliseconds(2);
        store
            .change_provider_ledger(key().0, key().1, first - Duration::days(1), move |_| {
                let change = crate::store::LedgerChange {
                    spend: Some((first, 8)),
                    ..Default::default()
                };
                (change, ())
            })
            .await
            .unwrap();
        let next = first + Duration::minutes(1);
        let ledger = store
            .provider_ledger(key().0, key().1, next - Duration::days(1))
            .await
            .unwrap();
        let mut b = Budget::new([RateLimit::per_minute(8)]);
        b.load(&ledger);
        assert_eq!(b.available(next - Duration::milliseconds(1)), 0);
        assert_eq!(b.available(next), 8);
        b.try_spend(8, next).unwrap();
    }

    #[test]
    fn too_big_a_spend_never_fits() {
        let mut b = Budget::new([RateLimit::per_minute(8)]);
        assert_eq!(b.max_burst(), Some(8));
        assert_eq!(exhausted_until(b.try_spend(9, at(0))), at(60));
        assert_eq!(b.available(at(0)), 8);
    }

    #[test]
    fn spare_spending_leaves_the_reserve_and_half_of_each_window() {
        // Yahoo's 30 a minute with an 8-symbol board: backfill may spend
        // while 8 + 1 and 15 + 1 fit.
        let mut b = Budget::free_tier(ProviderKind::Yahoo);
        for i in 0..15 {
            b.try_spend_spare(1, 8, at(i)).unwrap();
        }
        assert_eq!(exhausted_until(b.try_spend_spare(1, 8, at(20))), at(60));
        // The board itself still has its 15.
        for i in 0..15 {
            b.try_spend(1, at(21 + i)).unwrap();
        }
        // Twelve Data's 8 a minute is all the board's: backfill never fits.
        let mut td = Budget::free_tier(ProviderKind::TwelveData);
        assert!(td.try_spend_spare(1, 8, at(0)).is_err());
        assert_eq!(td.available(at(0)), 8, "nothing was spent");
    }

    #[test]
    fn cooldown_uses_retry_after_capped_at_an_hour() {
        let cases = [
            (Some(StdDuration::from_secs(120)), at(120)),
            (Some(StdDuration::from_secs(0)), at(0)),
            (Some(StdDuration::from_secs(86_400)), at(3600)),
            (None, at(60)),
        ];
        for (retry_after, want) in cases {
            let mut b = Budget::unlimited();
            assert_eq!(
                b.cool_down(retry_after, "429", at(0)),
                want,
                "{retry_after:?}"
            );
        }
    }

    #[test]
    fn cooldown_blocks_spending_until_it_ends() {
        let mut b = Budget::free_tier(ProviderKind::Finnhub);
        let until = b.cool_down(Some(StdDuration::from_secs(30)), "429", at(0));
        assert!(
            matches!(b.try_spend(1, at(10)), Err(QuoteError::Paused { until: u, .. }) if u == until)
        );
        assert_eq!(b.available(at(10)), 0);
        assert_eq!(b.cooling_until(at(10)), Some(until));
        b.try_spend(1, at(30)).unwrap();
        assert_eq!(b.cooling_until(at(30)), None);
    }

    #[test]
    fn repeated_rate_limits_back_off_until_a_success() {
        let mut b = Budget::unlimited();
        let mut now = at(0);
        let mut waits = Vec::new();
        for _ in 0..8 {
            let until = b.cool_down(None, "429", now);
            waits.push((until - now).num_seconds());
            now = until;
        }
        assert_eq!(waits, [60, 120, 240, 480, 960, 1920, 3600, 3600]);
        b.record_success();
        assert_eq!(b.cool_down(None, "429", now) - now, Duration::seconds(60));
    }

    /// After a 429 answered at 19:31:00.002088 with `Retry-After: 120`,
    /// the refresh scheduled at 19:33:00 (started 0.9 ms past it) is not
    /// refused, and the pause says its cause. Before, the pause ran until
    /// 19:33:00.002088, refused that refresh as "request budget
    /// exhausted", and lost a whole schedule period.
    #[test]
    fn the_refresh_due_as_a_pause_ends_is_not_refused() {
        let answered = at(0) + Duration::nanoseconds(2_088_008);
        let mut b = Budget::free_tier(ProviderKind::Yahoo);
        let until = b.cool_down(
            Some(StdDuration::from_secs(120)),
            "rate limited, Retry-After 120 s",
            answered,
        );
        assert_eq!(until, at(120));
        assert_eq!(
            b.try_spend(1, at(119)),
            Err(QuoteError::Paused {
                until: at(120),
                why: "rate limited, Retry-After 120 s".into()
            })
        );
        b.try_spend(1, at(120) + Duration::nanoseconds(942_000))
            .unwrap();
    }

    #[test]
    fn a_shorter_cooldown_does_not_cut_a_longer_one() {
        let mut b = Budget::unlimited();
        b.cool_down(Some(StdDuration::from_secs(600)), "429", at(0));
        assert_eq!(
            b.cool_down(Some(StdDuration::from_secs(5)), "429", at(1)),
            at(600)
        );
    }
}
