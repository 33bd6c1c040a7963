//! Price reactions after the news: for each item and each configured symbol
//! it mentions, the price when the item arrived and 15 minutes, one hour
//! and one trading day later, and at the session's close.
//!
//! Owns the definitions of those points in trading time ([`plan`], on the
//! exchange calendar of `model::calendar`) and the background task that
//! reads them off the recorded quote series as they pass ([`Reactions::run`])
//! and, where the series has a gap, backfills it from the provider's
//! history (`Reactions::backfill`). The matching rule and the table live
//! in `store::reactions`; analysts read `v_item_reactions`.
//!
//! # The points
//! - **then**: the item's arrival (`first_seen_at`) if the market is open,
//!   else the next open: news that breaks after the close is measured from
//!   the next session, not from a stale closing price.
//! - **+15m**, **+1h**: 15 and 60 minutes of *trading* after `then`; time
//!   with the market shut does not count (`Exchange::advance`), so "+1h" of
//!   a story at 15:30 New York time is 10:00 on the next trading day.
//! - **+1d**: the same point of the next session (its open plus the time
//!   `then` was into its own session), cut at that session's close if it
//!   closes early.
//! - **close**: the close of the session `then` falls in.
//!
//! # Backfill
//! Only targets whose window passed with no recorded quote are backfilled,
//! with one point each (the bar that the matching rule would pick), marked
//! `source = 'backfill'`. Requests go through the board's own client and
//! budget, and only when the budget keeps a full board refresh (and half
//! of each window) spare, so backfill never holds up the board
//! (`Budget::try_spend_spare`). When the budget says no, gaps wait for the
//! next pass. A provider without history, a plan without candles, or a
//! window older than the provider keeps minute bars, marks the target
//! `missing` with a note saying why.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::QuoteError;
use super::board::Board;
use super::calendar::{self, Exchange};
use super::history::{Interval, offers_history, points_from_bars};
use crate::clock::SharedClock;
use crate::config::MarketConfig;
use crate::model::{Horizon, Quote};
use crate::store::{Gap, PlannedReaction, Store, StoreError};

/// How far from a target a quote may be and still count (see
/// `store::reactions`). Three refreshes of the shipped board (every 5
/// minutes), so one or two failed refreshes do not leave a gap.
pub const TOLERANCE: Duration = Duration::minutes(15);

/// How long after a target's window we wait for late (delayed) quotes
/// before asking the provider's history.
pub const SETTLE: Duration = Duration::minutes(30);

/// Mentions in items older than this are not planned when the task first
/// meets them (say, after an upgrade): their windows are long past and
/// backfilling them all would spend the budget on history.
pub const LOOKBACK: Duration = Duration::days(7);

/// Backfill attempts that failed for a passing reason (a rate limit, a
/// transport error) before a target is given up.
const MAX_ATTEMPTS: i64 = 5;

/// A gap the budget never let us fill is given up after this long.
const GIVE_UP_AFTER: Duration = Duration::days(7);

/// Longest sleep between passes: new items are planned within it.
const MAX_SLEEP: StdDuration = StdDuration::from_secs(300);

/// Mentions planned per pass.
const PLAN_BATCH: usize = 1000;

/// The points of a reaction to news that arrived at `ingested`, on `exchange`.
pub fn plan(exchange: &Exchange, ingested: DateTime<Utc>) -> Vec<(Horizon, DateTime<Utc>)> {
    let session = exchange.session_at_or_after(ingested);
    let then = ingested.max(session.open);
    let next = exchange.next_session(&session);
    let day_after = (next.open + (then - session.open)).min(next.close);
    vec![
        (Horizon::Then, then),
        (
            Horizon::Min15,
            exchange.advance(then, Duration::minutes(15)),
        ),
        (Horizon::Hour1, exchange.advance(then, Duration::hours(1))),
        (Horizon::Day1, day_after),
        (Horizon::Close, session.close),
    ]
}

/// The point among `points` that answers `target` (the rule of
/// `store::reactions`, applied to bars before they are stored).
fn pick(points: &[Quote], horizon: Horizon, target: DateTime<Utc>) -> Option<&Quote> {
    let timed = points.iter().filter_map(|q| q.as_of.map(|t| (t, q)));
    match horizon {
        Horizon::Close => timed
            .filter(|(t, _)| (target - TOLERANCE..=target + TOLERANCE).contains(t))
            .max_by_key(|(t, _)| *t),
        _ => timed
            .filter(|(t, _)| (target..=target + TOLERANCE).contains(t))
            .min_by_key(|(t, _)| *t),
    }
    .map(|(_, q)| q)
}

/// A configured symbol, where it trades, and how the provider spells it.
#[derive(Debug, Clone)]
struct Tracked {
    symbol: String,
    provider_symbol: String,
    exchange: &'static Exchange,
}

fn find<'a>(tracked: &'a [Tracked], symbol: &str) -> Option<&'a Tracked> {
    tracked.iter().find(|t| t.symbol == symbol)
}

/// An `exchange` in config that has no calendar.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "[market] symbol {symbol:?}: unknown exchange {exchange:?} (known: XNYS or NYSE, XNAS or NASDAQ, XLON or LSE)"
)]
pub struct UnknownExchange {
    pub symbol: String,
    pub exchange: String,
}

/// What one pass did, for the log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReactionReport {
    pub planned: usize,
    pub found: usize,
    pub backfilled: usize,
    pub missing: usize,
    /// Gaps left for a later pass (budget, passing errors).
    pub waiting: usize,
}

/// The reaction task's configuration: the board's instruments and their
/// exchanges.
#[derive(Debug)]
pub struct Reactions {
    /// Swapped whole by a reload ([`Reactions::reconfigure`]); each pass
    /// works with the list it started with.
    tracked: RwLock<Arc<Vec<Tracked>>>,
    /// The provider refused history to our key (Finnhub's free plan has no
    /// candles): further gaps are given up without asking again, until a
    /// restart.
    history_refused: AtomicBool,
}

impl Reactions {
    /// Each instrument's exchange is the one its config names, else the one
    /// its provider symbol implies (`calendar::listed_on`).
    pub fn new(market: &MarketConfig) -> Result<Reactions, UnknownExchange> {
        Ok(Reactions {
            tracked: RwLock::new(Arc::new(Self::tracked_of(market)?)),
            history_refused: AtomicBool::new(false),
        })
    }

    /// From the next pass on, follows `market`'s instruments (a reload).
    /// An unknown exchange changes nothing.
    pub fn reconfigure(&self, market: &MarketConfig) -> Result<(), UnknownExchange> {
        let tracked = Arc::new(Self::tracked_of(market)?);
        *self.tracked.write().unwrap_or_else(|p| p.into_inner()) = tracked;
        Ok(())
    }

    /// Checks `market`'s exchanges, for a reload to refuse a config before
    /// it applies any of it.
    pub fn check(market: &MarketConfig) -> Result<(), UnknownExchange> {
        Self::tracked_of(market).map(|_| ())
    }

    fn tracked_of(market: &MarketConfig) -> Result<Vec<Tracked>, UnknownExchange> {
        market
            .instruments
            .iter()
            .map(|i| {
                let exchange = calendar::listed_on(i.exchange.as_deref(), &i.provider_symbol)
                    .ok_or_else(|| UnknownExchange {
                        symbol: i.symbol.clone(),
                        exchange: i.exchange.clone().unwrap_or_default(),
                    })?;
                Ok(Tracked {
                    symbol: i.symbol.clone(),
                    provider_symbol: i.provider_symbol.clone(),
                    exchange,
                })
            })
            .collect()
    }

    /// The instruments as of now.
    fn tracked(&self) -> Arc<Vec<Tracked>> {
        // Only ever replaced whole, so a poisoned lock still holds a usable list.
        Arc::clone(&self.tracked.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// Plans new mentions, resolves passed targets, backfills gaps.
    pub async fn run_once(
        &self,
        store: &Store,
        board: &Board,
        now: DateTime<Utc>,
    ) -> Result<ReactionReport, StoreError> {
        let mut report = ReactionReport::default();
        let tracked = self.tracked();
        let symbols = tracked.iter().map(|t| t.symbol.clone()).collect();
        // Every pass looks at the whole lookback window, not only at items
        // newer than the last pass: a mention can be recorded after its
        // item (from the article's full text), and still deserves a plan.
        let subjects = store
            .unplanned_reactions(symbols, now - LOOKBACK, PLAN_BATCH)
            .await?;
        let plans: Vec<PlannedReaction> = subjects
            .into_iter()
            .filter_map(|s| {
                let tracked = find(&tracked, &s.symbol)?;
                Some(PlannedReaction {
                    targets: plan(tracked.exchange, s.ingested_at),
                    exchange: tracked.exchange.mic.to_string(),
                    item_id: s.item_id,
                    symbol: s.symbol,
                })
            })
            .collect();
        report.planned = plans.len();
        if !plans.is_empty() {
            store.plan_reactions(plans).await?;
        }
        let resolved = store.resolve_reactions(now, TOLERANCE, SETTLE).await?;
        report.found = resolved.found;
        if !resolved.gaps.is_empty() {
            self.backfill(&tracked, store, board, resolved.gaps, now, &mut report)
                .await?;
            if report.backfilled > 0 {
                report.found += store.resolve_reactions(now, TOLERANCE, SETTLE).await?.found;
            }
        }
        Ok(report)
    }

    /// Fills `gaps` from the provider's history, one request per symbol
    /// and day of gaps.
    async fn backfill(
        &self,
        tracked: &[Tracked],
        store: &Store,
        board: &Board,
        gaps: Vec<Gap>,
        now: DateTime<Utc>,
        report: &mut ReactionReport,
    ) -> Result<(), StoreError> {
        let kind = board.provider();
        if !offers_history(kind) {
            report.missing += gaps.len();
            let note = format!("{kind} offers no price history to backfill from");
            return store.note_backfill(gaps, true, note, now).await;
        }
        if self.history_refused.load(Ordering::Acquire) {
            report.missing += gaps.len();
            let note = format!("{kind} refused price history to this key earlier");
            return store.note_backfill(gaps, true, note, now).await;
        }
        let mut by_symbol: BTreeMap<String, Vec<Gap>> = BTreeMap::new();
        for gap in gaps {
            by_symbol.entry(gap.symbol.clone()).or_default().push(gap);
        }
        let mut budget_spent = false;
        for (symbol, mut gaps) in by_symbol {
            let Some(tracked) = find(tracked, &symbol).cloned() else {
                report.missing += gaps.len();
                let note = "the symbol is no longer on the board".to_string();
                store.note_backfill(gaps, true, note, now).await?;
                continue;
            };
            gaps.sort_by_key(|g| g.target_at);
            for cluster in clusters(gaps) {
                if budget_spent {
                    self.wait_or_give_up(store, cluster, "budget", now, report)
                        .await?;
                    continue;
                }
                match self.fill(store, board, &tracked, &cluster, now).await {
                    Ok((filled, unfilled)) => {
                        report.backfilled += filled;
                        if !unfilled.is_empty() {
                            report.missing += unfilled.len();
                            let note =
                                "the provider's history has no price in the window".to_string();
                            store.note_backfill(unfilled, true, note, now).await?;
                        }
                    }
                    Err(FillError::Store(e)) => return Err(e),
                    Err(FillError::Quote(e)) if e.held_until().is_some() => {
                        let until = e.held_until();
                        debug!(?until, "backfill waits for the budget");
                        budget_spent = true;
                        self.wait_or_give_up(store, cluster, "budget", now, report)
                            .await?;
                    }
                    Err(FillError::Quote(
                        e @ (QuoteError::NotEntitled
                        | QuoteError::Unauthorized
                        | QuoteError::UnknownSymbol
                        | QuoteError::Malformed(_)),
                    )) => {
                        if matches!(e, QuoteError::NotEntitled | QuoteError::Unauthorized) {
                            self.history_refused.store(true, Ordering::Release);
                        }
                        report.missing += cluster.len();
                        let note = format!("backfill from {kind}: {e}");
                        store.note_backfill(cluster, true, note, now).await?;
                    }
                    Err(FillError::Quote(e)) => {
                        let give_up = cluster.iter().any(|g| g.attempts + 1 >= MAX_ATTEMPTS);
                        if give_up {
                            report.missing += cluster.len();
                        } else {
                            report.waiting += cluster.len();
                        }
                        let note = format!("backfill from {kind}: {e}");
                        store.note_backfill(cluster, give_up, note, now).await?;
                    }
                    Err(FillError::TooOld) => {
                        report.missing += cluster.len();
                        let note = format!("older than the minute bars {kind} keeps");
                        store.note_backfill(cluster, true, note, now).await?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Leaves gaps the budget held back for a later pass, unless they have
    /// waited [`GIVE_UP_AFTER`].
    async fn wait_or_give_up(
        &self,
        store: &Store,
        cluster: Vec<Gap>,
        why: &str,
        now: DateTime<Utc>,
        report: &mut ReactionReport,
    ) -> Result<(), StoreError> {
        let (old, young): (Vec<Gap>, Vec<Gap>) = cluster
            .into_iter()
            .partition(|g| now - g.target_at > GIVE_UP_AFTER);
        report.waiting += young.len();
        if !old.is_empty() {
            report.missing += old.len();
            let note = format!("the request {why} never had room to backfill");
            store.note_backfill(old, true, note, now).await?;
        }
        Ok(())
    }

    /// One history request for a cluster of gaps of one symbol; stores the
    /// point that fills each gap it can. Returns how many were filled and
    /// the gaps the history could not fill.
    async fn fill(
        &self,
        store: &Store,
        board: &Board,
        tracked: &Tracked,
        cluster: &[Gap],
        now: DateTime<Utc>,
    ) -> Result<(usize, Vec<Gap>), FillError> {
        let kind = board.provider();
        let first = cluster.iter().map(|g| g.target_at).min().unwrap_or(now);
        let last = cluster.iter().map(|g| g.target_at).max().unwrap_or(now);
        let interval =
            Interval::for_window(kind, first - TOLERANCE, now).ok_or(FillError::TooOld)?;
        // Bars are keyed by their start: begin one bar early so the bar
        // ending at the first target is included.
        let from = first - TOLERANCE - interval.length();
        let to = (last + TOLERANCE).min(now);
        let bars = board
            .history(&tracked.provider_symbol, interval, from, to, now)
            .await
            .map_err(FillError::Quote)?;
        let points = points_from_bars(
            kind,
            &tracked.provider_symbol,
            &bars,
            interval,
            tracked.exchange,
            now,
        );
        let mut chosen: Vec<Quote> = Vec::new();
        let mut unfilled = Vec::new();
        for gap in cluster {
            match pick(&points, gap.horizon, gap.target_at) {
                Some(q) => {
                    if !chosen.iter().any(|c| c.as_of == q.as_of) {
                        let mut q = q.clone();
                        q.symbol = tracked.symbol.clone();
                        chosen.push(q);
                    }
                }
                None => unfilled.push(gap.clone()),
            }
        }
        let filled = cluster.len() - unfilled.len();
        if !chosen.is_empty() {
            store
                .record_backfill(chosen)
                .await
                .map_err(FillError::Store)?;
        }
        Ok((filled, unfilled))
    }

    /// Runs passes until `shutdown`: after each, sleeps until the next
    /// target's window closes, at most `MAX_SLEEP` (5 minutes).
    pub async fn run(
        self: Arc<Self>,
        store: Store,
        board: Arc<Board>,
        clock: SharedClock,
        shutdown: CancellationToken,
    ) {
        loop {
            let now = clock.now();
            match self.run_once(&store, &board, now).await {
                Ok(report) if report != ReactionReport::default() => info!(
                    planned = report.planned,
                    found = report.found,
                    backfilled = report.backfilled,
                    missing = report.missing,
                    waiting = report.waiting,
                    "price reactions updated"
                ),
                Ok(_) => {}
                Err(e) => warn!(error = %e, "could not update price reactions; trying again later"),
            }
            let now = clock.now();
            let wait = match store.next_reaction_due(now, TOLERANCE).await {
                Ok(Some(next)) if next > now => (next - now)
                    .to_std()
                    .unwrap_or(MAX_SLEEP)
                    .clamp(StdDuration::from_secs(1), MAX_SLEEP),
                _ => MAX_SLEEP,
            };
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }
}

enum FillError {
    Store(StoreError),
    Quote(QuoteError),
    TooOld,
}

/// Splits gaps sorted by target into runs spanning at most a day, so one
/// request's bars stay few (a day of minute bars is under 600).
fn clusters(gaps: Vec<Gap>) -> Vec<Vec<Gap>> {
    let mut out: Vec<Vec<Gap>> = Vec::new();
    for gap in gaps {
        match out.last_mut() {
            Some(run) if gap.target_at - run[0].target_at <= Duration::hours(24) => run.push(gap),
            _ => out.push(vec![gap]),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{from_db_time, to_db_time};
    use crate::quotes::calendar::{LSE, NYSE};

    fn t(s: &str) -> DateTime<Utc> {
        from_db_time(s).unwrap()
    }

    fn planned(e: &Exchange, at: &str) -> Vec<(&'static str, String)> {
        plan(e, t(at))
            .into_iter()
            .map(|(h, at)| (h.as_str(), to_db_time(at)))
            .collect()
    }

    fn want(points: [(&'static str, &str); 5]) -> Vec<(&'static str, String)> {
        points.iter().map(|(h, at)| (*h, at.to_string())).collect()
    }

    #[test]
    fn news_during_the_session() {
        // Wednesday 2026-07-22, 11:00 New York time.
        assert_eq!(
            planned(&NYSE, "2026-07-22T15:00:00Z"),
            want([
                ("then", "2026-07-22T15:00:00Z"),
                ("15m", "2026-07-22T15:15:00Z"),
                ("1h", "2026-07-22T16:00:00Z"),
                ("1d", "2026-07-23T15:00:00Z"),
                ("close", "2026-07-22T20:00:00Z"),
            ])
        );
    }

    #[test]
    fn news_near_the_close_runs_into_the_next_session() {
        // 15:30 New York time: +1h is half an hour into the next day.
        assert_eq!(
            planned(&NYSE, "2026-07-22T19:30:00Z"),
            want([
                ("then", "2026-07-22T19:30:00Z"),
                ("15m", "2026-07-22T19:45:00Z"),
                ("1h", "2026-07-23T14:00:00Z"),
                ("1d", "2026-07-23T19:30:00Z"),
                ("close", "2026-07-22T20:00:00Z"),
            ])
        );
    }

    #[test]
    fn news_after_the_close_is_measured_from_the_next_open() {
        assert_eq!(
            planned(&NYSE, "2026-07-22T22:10:00Z"),
            want([
                ("then", "2026-07-23T13:30:00Z"),
                ("15m", "2026-07-23T13:45:00Z"),
                ("1h", "2026-07-23T14:30:00Z"),
                ("1d", "2026-07-24T13:30:00Z"),
                ("close", "2026-07-23T20:00:00Z"),
            ])
        );
    }

    #[test]
    fn weekend_news_waits_for_monday_and_a_day_is_tuesday() {
        assert_eq!(
            planned(&LSE, "2026-07-25T10:00:00Z"),
            want([
                ("then", "2026-07-27T07:00:00Z"),
                ("15m", "2026-07-27T07:15:00Z"),
                ("1h", "2026-07-27T08:00:00Z"),
                ("1d", "2026-07-28T07:00:00Z"),
                ("close", "2026-07-27T15:30:00Z"),
            ])
        );
        // Friday afternoon news: its next trading day is Monday.
        let friday = planned(&NYSE, "2026-07-24T17:00:00Z");
        assert_eq!(friday[3], ("1d", "2026-07-27T17:00:00Z".to_string()));
    }

    #[test]
    fn a_day_later_is_cut_at_an_early_close() {
        // Thanksgiving Wednesday 14:00 ET; Thursday is shut, Friday closes 13:00.
        let p = planned(&NYSE, "2026-11-25T19:00:00Z");
        assert_eq!(p[3], ("1d", "2026-11-27T18:00:00Z".to_string()));
    }

    fn quote_at(at: &str, price: &str) -> Quote {
        let mut q = Quote::new(
            crate::model::ProviderKind::Yahoo,
            "AAPL",
            crate::quotes::test_support::dec(price),
            t(at),
        );
        q.as_of = Some(t(at));
        q
    }

    #[test]
    fn picking_follows_the_matching_rule() {
        let points = vec![
            quote_at("2026-07-23T19:44:00Z", "1"),
            quote_at("2026-07-23T19:46:00Z", "2"),
            quote_at("2026-07-23T19:59:00Z", "3"),
            quote_at("2026-07-23T20:00:00Z", "4"),
        ];
        let at = |h, s| pick(&points, h, t(s)).map(|q| q.price.to_string());
        // First at or after the target.
        assert_eq!(
            at(Horizon::Min15, "2026-07-23T19:45:00Z").as_deref(),
            Some("2")
        );
        // Last around the close.
        assert_eq!(
            at(Horizon::Close, "2026-07-23T20:00:00Z").as_deref(),
            Some("4")
        );
        // Nothing within the tolerance after.
        assert_eq!(at(Horizon::Hour1, "2026-07-23T20:01:00Z"), None);
    }
}
