//! Price reactions: for each item and each symbol it mentions, the price
//! when it arrived and at later points (`model::Horizon`), read from the
//! recorded quote series.
//!
//! Owns `item_reactions` (one row per item, symbol and horizon: when to
//! read the price, which `quotes` row answered, and the change against the
//! `then` price, computed once in exact decimal by `store_changes`) and
//! the rule that matches a target time to a quote (below; the tolerance
//! is `quotes::reactions::TOLERANCE`, 15 minutes). The targets
//! themselves come from the exchange calendar in `quotes::reactions`, which
//! plans them ([`Store::plan_reactions`]), resolves them as they pass
//! ([`Store::resolve_reactions`]) and backfills the gaps it reports.
//! Hands [`ItemReaction`]s to whoever shows or exports an item
//! ([`Store::item_reactions`], `reactions_of`); analysts read the view
//! `v_item_reactions` (docs/schema.md).
//!
//! # Matching a target to a quote
//! A quote's time is its provider's `as_of`, or when we fetched it if the
//! provider gave none. For a target `t`:
//! - `then`, `15m`, `1h`, `1d`: the first quote at or after `t`, no later
//!   than `t + tolerance`;
//! - `close`: the last quote within `tolerance` either side of the close,
//!   because the closing price is the last trade *at or before* the close
//!   (a provider may stamp it a second early or a few seconds late).
//!
//! Later quotes are of the listing the `then` quote came from: its
//! currency when both give one, else its provider symbol (in any case), so
//! a symbol moved to another listing by a reload (the London line in
//! pounds, then the ADR in dollars) never makes a change across the two.
//! The same rule as [`SnapshotQuote::same_listing`](crate::model::SnapshotQuote::same_listing),
//! in SQL.
//!
//! Recorded (`board`) quotes win over backfilled ones at the same time. A
//! target is looked at only once its window has passed, and declared a gap
//! (for backfill) only after a further settling time, since delayed data
//! (London lines on Yahoo run 15 minutes behind) arrives after the fact. A
//! `close` waits for that settling time before it is matched at all: the
//! last quote of its window may be one of those late arrivals.

use std::collections::BTreeMap;
use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use rust_decimal::{Decimal, RoundingStrategy};

use super::{Store, StoreError, begin_write, op};
use crate::clock::{from_db_time, to_db_time};
use crate::model::Horizon;

/// A mention that has no reaction rows yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReactionSubject {
    pub item_id: i64,
    pub symbol: String,
    pub ingested_at: DateTime<Utc>,
}

/// The targets for one mention, as the calendar computed them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedReaction {
    pub item_id: i64,
    pub symbol: String,
    /// The exchange's MIC (`XNYS`).
    pub exchange: String,
    pub targets: Vec<(Horizon, DateTime<Utc>)>,
}

/// A target whose window passed with no quote recorded in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gap {
    pub item_id: i64,
    pub symbol: String,
    pub horizon: Horizon,
    pub target_at: DateTime<Utc>,
    /// Backfill attempts so far.
    pub attempts: i64,
}

/// What one resolving pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resolved {
    pub found: usize,
    pub gaps: Vec<Gap>,
}

/// One horizon of an item's reaction to news about one symbol.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReactionPoint {
    pub horizon: &'static str,
    pub target_at: DateTime<Utc>,
    /// `pending`, `found` or `missing`.
    pub state: String,
    pub price: Option<Decimal>,
    /// The price's own time (the quote's `as_of`).
    pub price_at: Option<DateTime<Utc>>,
    /// `recorded` (the board's series) or `backfill` (provider history).
    pub source: Option<&'static str>,
    /// Against the `then` price, in percent, rounded to 2 places.
    pub change_percent: Option<Decimal>,
}

/// An item's reaction for one mentioned symbol, horizons in order.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ItemReaction {
    pub symbol: String,
    pub exchange: String,
    pub currency: Option<String>,
    pub points: Vec<ReactionPoint>,
}

impl Store {
    /// Mentions of `symbols` in items first seen since `since` that have no
    /// reaction planned yet, oldest first, at most `limit`. The symbol index
    /// finds the mentions and each costs two primary-key lookups (its item's
    /// time, an existing plan): tens of milliseconds for tens of thousands
    /// of mentions, once every few minutes.
    pub async fn unplanned_reactions(
        &self,
        symbols: Vec<String>,
        since: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<ReactionSubject>, StoreError> {
        self.read(move |conn| {
            let list = super::json_list(&symbols);
            let mut stmt = conn
                .prepare_cached(
                    "SELECT m.item_id, m.symbol, i.first_seen_at
                     FROM item_mentions m JOIN items i ON i.id = m.item_id
                     WHERE m.symbol IN (SELECT value FROM json_each(?1))
                       AND i.first_seen_at >= ?2
                       AND NOT EXISTS (SELECT 1 FROM item_reactions r
                                       WHERE r.item_id = m.item_id AND r.symbol = m.symbol)
                     ORDER BY i.first_seen_at, m.item_id LIMIT ?3",
                )
                .map_err(op("prepare unplanned reactions"))?;
            let rows = stmt
                .query_map(params![list, to_db_time(since), limit as i64], |r| {
                    Ok(ReactionSubject {
                        item_id: r.get(0)?,
                        symbol: r.get(1)?,
                        ingested_at: from_db_time(&r.get::<_, String>(2)?)
                            .unwrap_or(DateTime::UNIX_EPOCH),
                    })
                })
                .map_err(op("select unplanned reactions"))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(op("read unplanned reaction"))?;
            Ok(rows)
        })
        .await
    }

    /// Stores the targets of each plan, all pending. A plan for a mention
    /// already planned changes nothing.
    pub async fn plan_reactions(&self, plans: Vec<PlannedReaction>) -> Result<(), StoreError> {
        self.write(move |conn| {
            let tx = begin_write(conn, "begin planning reactions")?;
            plan_in(&tx, &plans)?;
            tx.commit().map_err(op("commit reaction plans"))
        })
        .await
    }

    /// Matches every pending target whose window (`tolerance`, see the
    /// module doc) has passed by `now` to a quote, and reports as gaps
    /// those still unmatched `settle` after their window.
    pub async fn resolve_reactions(
        &self,
        now: DateTime<Utc>,
        tolerance: Duration,
        settle: Duration,
    ) -> Result<Resolved, StoreError> {
        self.write(move |conn| {
            let tx = begin_write(conn, "begin resolving reactions")?;
            let due: Vec<(i64, String, String, String, i64)> = tx
                .prepare_cached(
                    "SELECT item_id, symbol, horizon, target_at, attempts FROM item_reactions
                     WHERE state = 'pending' AND target_at <= ?1
                     ORDER BY target_at LIMIT 10000",
                )
                .and_then(|mut s| {
                    s.query_map([to_db_time(now - tolerance)], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                    })?
                    .collect()
                })
                .map_err(op("select due reactions"))?;
            let mut out = Resolved::default();
            let mut priced = std::collections::BTreeSet::new();
            for (item_id, symbol, horizon, target, attempts) in due {
                let (Some(horizon), Some(target_at)) =
                    (Horizon::from_name(&horizon), from_db_time(&target))
                else {
                    continue;
                };
                // The close is the *last* quote of its window, and delayed
                // data (London on Yahoo, 15 minutes behind) brings the
                // closing auction's price after the window has passed:
                // taken at once, the close would be the last trade before it.
                if horizon == Horizon::Close && now < target_at + tolerance + settle {
                    continue;
                }
                match matching_quote(&tx, item_id, &symbol, horizon, target_at, tolerance)? {
                    Some(quote_id) => {
                        tx.prepare_cached(
                            "UPDATE item_reactions SET state = 'found', quote_id = ?4, resolved_at = ?5
                             WHERE item_id = ?1 AND symbol = ?2 AND horizon = ?3",
                        )
                        .and_then(|mut s| {
                            s.execute(params![
                                item_id,
                                symbol,
                                horizon.as_str(),
                                quote_id,
                                to_db_time(now)
                            ])
                        })
                        .map_err(op("record reaction"))?;
                        out.found += 1;
                        priced.insert((item_id, symbol));
                    }
                    None if now >= target_at + tolerance + settle => out.gaps.push(Gap {
                        item_id,
                        symbol,
                        horizon,
                        target_at,
                        attempts,
                    }),
                    None => {}
                }
            }
            // A `then` price can come after the later ones (backfilled), so
            // every change of a newly priced reaction is written again.
            for (item_id, symbol) in priced {
                store_changes(&tx, item_id, &symbol)?;
            }
            tx.commit().map_err(op("commit reactions"))?;
            Ok(out)
        })
        .await
    }

    /// Records a backfill attempt for `gaps` that found nothing to fill
    /// them: counted, with `note`; `give_up` marks them `missing` for good.
    pub async fn note_backfill(
        &self,
        gaps: Vec<Gap>,
        give_up: bool,
        note: String,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.write(move |conn| {
            let tx = begin_write(conn, "begin noting backfill")?;
            {
                let mut stmt = tx
                    .prepare_cached(
                        "UPDATE item_reactions
                         SET attempts = attempts + 1, note = ?4,
                             state = CASE WHEN ?5 THEN 'missing' ELSE state END,
                             resolved_at = CASE WHEN ?5 THEN ?6 ELSE resolved_at END
                         WHERE item_id = ?1 AND symbol = ?2 AND horizon = ?3 AND state = 'pending'",
                    )
                    .map_err(op("prepare backfill note"))?;
                for g in &gaps {
                    stmt.execute(params![
                        g.item_id,
                        g.symbol,
                        g.horizon.as_str(),
                        note,
                        give_up,
                        to_db_time(now)
                    ])
                    .map_err(op("note backfill"))?;
                }
            }
            tx.commit().map_err(op("commit backfill notes"))
        })
        .await
    }

    /// The earliest time after `now` that a pending target's window
    /// closes, so the reaction task can sleep until then.
    pub async fn next_reaction_due(
        &self,
        now: DateTime<Utc>,
        tolerance: Duration,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.read(move |conn| {
            let first: Option<String> = conn
                .query_row(
                    "SELECT min(target_at) FROM item_reactions
                     WHERE state = 'pending' AND target_at > ?1",
                    [to_db_time(now - tolerance)],
                    |r| r.get(0),
                )
                .map_err(op("select next reaction"))?;
            Ok(first
                .as_deref()
                .and_then(from_db_time)
                .map(|t| t + tolerance))
        })
        .await
    }

    /// The reactions of one item, one entry per mentioned symbol that has
    /// any planned (for `tickerfeed export` and the pages).
    pub async fn item_reactions(&self, item_id: i64) -> Result<Vec<ItemReaction>, StoreError> {
        self.read(move |conn| reactions_of(conn, item_id)).await
    }
}

/// The quote that answers a target, by the rule in the module doc. Once
/// the item's price "then" is found, later prices must be in its currency
/// when both say theirs: a symbol moved to another listing (the ADR in
/// dollars, then the London line in pounds) must not make a change of
/// two currencies. Quotes without a currency are taken as before.
fn matching_quote(
    conn: &Connection,
    item_id: i64,
    symbol: &str,
    horizon: Horizon,
    target: DateTime<Utc>,
    tolerance: Duration,
) -> Result<Option<i64>, StoreError> {
    // Both orders use the (symbol, time) index; recorded quotes first.
    let (sql, from) = match horizon {
        Horizon::Close => (
            "SELECT id FROM quotes
             WHERE symbol = ?1 AND coalesce(as_of, fetched_at) BETWEEN ?2 AND ?3
               AND (?5 IS NULL OR currency = ?4
                    OR ((currency IS NULL OR ?4 IS NULL) AND provider_symbol = ?5 COLLATE NOCASE))
             ORDER BY coalesce(as_of, fetched_at) DESC, source = 'backfill', id DESC LIMIT 1",
            target - tolerance,
        ),
        _ => (
            "SELECT id FROM quotes
             WHERE symbol = ?1 AND coalesce(as_of, fetched_at) BETWEEN ?2 AND ?3
               AND (?5 IS NULL OR currency = ?4
                    OR ((currency IS NULL OR ?4 IS NULL) AND provider_symbol = ?5 COLLATE NOCASE))
             ORDER BY coalesce(as_of, fetched_at), source = 'backfill', id LIMIT 1",
            target,
        ),
    };
    // Later prices are of the same listing as the first (module doc).
    let then: Option<(Option<String>, String)> = match horizon {
        Horizon::Then => None,
        _ => conn
            .prepare_cached(
                "SELECT q.currency, q.provider_symbol
                 FROM item_reactions r JOIN quotes q ON q.id = r.quote_id
                 WHERE r.item_id = ?1 AND r.symbol = ?2 AND r.horizon = ?3",
            )
            .and_then(|mut s| {
                s.query_row(params![item_id, symbol, Horizon::Then.as_str()], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()
            })
            .map_err(op("read the listing of a reaction's first price"))?,
    };
    let (then_currency, then_listing) = then.unzip();
    conn.prepare_cached(sql)
        .and_then(|mut s| {
            s.query_row(
                params![
                    symbol,
                    to_db_time(from),
                    to_db_time(target + tolerance),
                    then_currency.flatten(),
                    then_listing
                ],
                |r| r.get(0),
            )
            .optional()
        })
        .map_err(op("match reaction quote"))
}

/// Stores `plans` on an open transaction. The plans were read before this
/// write, so an item may have been pruned since: its plan is dropped, not
/// an error that would hold back the rest of the batch.
fn plan_in(conn: &Connection, plans: &[PlannedReaction]) -> Result<(), StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "INSERT OR IGNORE INTO item_reactions
                 (item_id, symbol, horizon, exchange, target_at)
             SELECT ?1, ?2, ?3, ?4, ?5 WHERE EXISTS (SELECT 1 FROM items WHERE id = ?1)",
        )
        .map_err(op("prepare reaction plan"))?;
    for plan in plans {
        for (horizon, at) in &plan.targets {
            stmt.execute(params![
                plan.item_id,
                plan.symbol,
                horizon.as_str(),
                plan.exchange,
                to_db_time(*at)
            ])
            .map_err(op("insert reaction plan"))?;
        }
    }
    Ok(())
}

/// Writes `change_percent` of each horizon of `item_id`'s reaction to
/// `symbol`: its price against the `then` price, in percent, 2 places, a
/// half away from zero (NULL without both prices, or a `then` of 0, or a
/// change too large for the arithmetic). Computed once, here, in exact
/// decimal: `v_item_reactions` and every export read this figure, so a
/// query and an export of the archive never disagree (the view once
/// rounded a floating-point change of its own: `3.00045` against `3`, a
/// change of exactly 0.015 %, was 0.01 there and 0.02 in the export).
pub(crate) fn store_changes(
    conn: &Connection,
    item_id: i64,
    symbol: &str,
) -> Result<(), StoreError> {
    let prices: Vec<(String, Option<String>)> = conn
        .prepare_cached(
            "SELECT r.horizon, q.price FROM item_reactions r LEFT JOIN quotes q ON q.id = r.quote_id
             WHERE r.item_id = ?1 AND r.symbol = ?2",
        )
        .and_then(|mut s| {
            s.query_map(params![item_id, symbol], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect()
        })
        .map_err(op("read reaction prices"))?;
    let decimal = |p: &Option<String>| p.as_deref().and_then(|p| Decimal::from_str(p).ok());
    let then = prices
        .iter()
        .find(|(h, _)| h == Horizon::Then.as_str())
        .and_then(|(_, p)| decimal(p))
        .filter(|p| !p.is_zero());
    let mut update = conn
        .prepare_cached(
            "UPDATE item_reactions SET change_percent = ?4
             WHERE item_id = ?1 AND symbol = ?2 AND horizon = ?3",
        )
        .map_err(op("prepare reaction change"))?;
    for (horizon, price) in &prices {
        let change = then.zip(decimal(price)).and_then(|(then, price)| {
            price
                .checked_sub(then)
                .and_then(|d| d.checked_mul(Decimal::ONE_HUNDRED))
                .and_then(|d| d.checked_div(then))
                .map(|c| {
                    c.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
                        .normalize()
                        .to_string()
                })
        });
        update
            .execute(params![item_id, symbol, horizon, change])
            .map_err(op("record reaction change"))?;
    }
    Ok(())
}

/// The reactions of `item_id` on an open connection (for callers already
/// inside a read, such as a streaming export).
pub(crate) fn reactions_of(
    conn: &Connection,
    item_id: i64,
) -> Result<Vec<ItemReaction>, StoreError> {
    type Row = (
        String,
        String,
        String,
        String,
        String,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
    );
    let rows: Vec<Row> = conn
        .prepare_cached(
            "SELECT r.symbol, r.exchange, r.horizon, r.target_at, r.state,
                    q.price, q.currency, coalesce(q.as_of, q.fetched_at), q.source,
                    r.change_percent
             FROM item_reactions r LEFT JOIN quotes q ON q.id = r.quote_id
             WHERE r.item_id = ?1",
        )
        .and_then(|mut s| {
            s.query_map([item_id], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                    r.get(8)?,
                    r.get(9)?,
                ))
            })?
            .collect()
        })
        .map_err(op("read item reactions"))?;
    let mut by_symbol: BTreeMap<String, ItemReaction> = BTreeMap::new();
    let mut points: BTreeMap<(String, Horizon), ReactionPoint> = BTreeMap::new();
    for (symbol, exchange, horizon, target, state, price, currency, price_at, source, change) in
        rows
    {
        let Some(horizon) = Horizon::from_name(&horizon) else {
            continue;
        };
        let entry = by_symbol
            .entry(symbol.clone())
            .or_insert_with(|| ItemReaction {
                symbol: symbol.clone(),
                exchange,
                currency: None,
                points: Vec::new(),
            });
        if entry.currency.is_none() {
            entry.currency = currency;
        }
        points.insert(
            (symbol, horizon),
            ReactionPoint {
                horizon: horizon.as_str(),
                target_at: from_db_time(&target).unwrap_or(DateTime::UNIX_EPOCH),
                state,
                price: price.and_then(|p| Decimal::from_str(&p).ok()),
                price_at: price_at.as_deref().and_then(from_db_time),
                source: source.map(|s| {
                    if s == "backfill" {
                        "backfill"
                    } else {
                        "recorded"
                    }
                }),
                // As `store_changes` wrote it, which the view reads too.
                change_percent: change.and_then(|c| Decimal::from_str(&c).ok()),
            },
        );
    }
    for ((symbol, _), point) in points {
        if let Some(entry) = by_symbol.get_mut(&symbol) {
            entry.points.push(point);
        }
    }
    Ok(by_symbol.into_values().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Quote;

    /// An archive with one feed and one item (id 1), foreign keys on.
    fn archive() -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        super::super::migrations::migrate(&mut conn).unwrap();
        conn.execute_batch("PRAGMA foreign_keys = ON;").unwrap();
        conn.execute_batch(super::super::ONE_FEED_ONE_ITEM).unwrap();
        conn
    }

    /// A later price too far from the first for the arithmetic leaves that
    /// change unknown; it panicked the item's page and export before.
    #[test]
    fn a_change_too_large_to_compute_is_unknown() {
        let conn = archive();
        conn.execute_batch(
            r#"
INSERT INTO quotes (id, symbol, provider, provider_symbol, price, currency, fetched_at, session)
VALUES (1, 'RIO', 'stooq', 'rio.uk', '1', 'GBP', '2026-01-01T00:00:00Z', 'regular'),
       (2, 'RIO', 'stooq', 'rio.uk', '70000000000000000000000000000', 'GBP',
        '2026-01-01T01:00:00Z', 'regular'),
       (3, 'RIO', 'stooq', 'rio.uk', '2', 'GBP', '2026-01-01T02:00:00Z', 'regular');
INSERT INTO item_reactions (item_id, symbol, horizon, exchange, target_at, state, quote_id)
VALUES (1, 'RIO', 'then', 'XLON', '2026-01-01T00:00:00Z', 'found', 1),
       (1, 'RIO', '1h', 'XLON', '2026-01-01T01:00:00Z', 'found', 2),
       (1, 'RIO', 'close', 'XLON', '2026-01-01T02:00:00Z', 'found', 3);
"#,
        )
        .unwrap();
        store_changes(&conn, 1, "RIO").unwrap();
        let reaction = reactions_of(&conn, 1).unwrap().remove(0);
        let changes: Vec<_> = reaction
            .points
            .iter()
            .map(|p| (p.horizon, p.change_percent))
            .collect();
        assert_eq!(
            changes,
            [
                ("then", Some(Decimal::ZERO)),
                ("1h", None),
                ("close", Some(Decimal::ONE_HUNDRED)),
            ]
        );
    }

    /// A change of exactly half a hundredth of a percent: the export rounds
    /// it as `v_item_reactions` does, away from zero, so the archive and an
    /// export of it agree.
    #[test]
    fn a_half_hundredth_change_rounds_as_the_view_does() {
        let conn = archive();
        conn.execute_batch(
            r#"
INSERT INTO item_mentions (item_id, symbol) VALUES (1, 'RIO');
INSERT INTO quotes (id, symbol, provider, provider_symbol, price, currency, fetched_at, session)
VALUES (1, 'RIO', 'yahoo', 'RIO.L', '100', 'GBP', '2026-01-01T00:00:00Z', 'regular'),
       (2, 'RIO', 'yahoo', 'RIO.L', '100.125', 'GBP', '2026-01-01T00:15:00Z', 'regular'),
       (3, 'RIO', 'yahoo', 'RIO.L', '99.875', 'GBP', '2026-01-01T01:00:00Z', 'regular');
INSERT INTO item_reactions (item_id, symbol, horizon, exchange, target_at, state, quote_id)
VALUES (1, 'RIO', 'then', 'XLON', '2026-01-01T00:00:00Z', 'found', 1),
       (1, 'RIO', '15m', 'XLON', '2026-01-01T00:15:00Z', 'found', 2),
       (1, 'RIO', '1h', 'XLON', '2026-01-01T01:00:00Z', 'found', 3);
"#,
        )
        .unwrap();
        store_changes(&conn, 1, "RIO").unwrap();
        let reaction = reactions_of(&conn, 1).unwrap().remove(0);
        let exported: Vec<_> = reaction
            .points
            .iter()
            .map(|p| p.change_percent.map(|c| c.to_string()))
            .collect();
        let (m15, h1): (f64, f64) = conn
            .query_row(
                "SELECT change_15m_percent, change_1h_percent FROM v_item_reactions",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!((m15, h1), (0.13, -0.13));
        assert_eq!(
            exported,
            [Some("0".into()), Some("0.13".into()), Some("-0.13".into())]
        );
    }

    /// An item pruned between the read that found its mention and the
    /// write of its plan: the other plans of the batch are stored.
    #[test]
    fn a_plan_for_a_pruned_item_does_not_hold_back_the_batch() {
        let conn = archive();
        let at = DateTime::UNIX_EPOCH;
        let plan = |item_id| PlannedReaction {
            item_id,
            symbol: "RIO".into(),
            exchange: "XLON".into(),
            targets: vec![(Horizon::Then, at), (Horizon::Hour1, at)],
        };
        plan_in(&conn, &[plan(2), plan(1)]).unwrap();
        let planned: Vec<i64> = conn
            .prepare("SELECT item_id FROM item_reactions")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(planned, [1, 1]);
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    /// One quote of VOD as `provider_symbol`, in `currency`, priced at
    /// `as_of` and fetched 15 minutes later (delayed data).
    fn vod(provider_symbol: &str, price: &str, currency: Option<&str>, as_of: &str) -> Quote {
        let mut q = Quote::new(
            crate::model::ProviderKind::Yahoo,
            provider_symbol,
            price.parse().unwrap(),
            at(as_of) + Duration::minutes(15),
        );
        q.symbol = "VOD".into();
        q.currency = currency.map(str::to_owned);
        q.as_of = Some(at(as_of));
        q
    }

    /// A store holding the test item, mentioning VOD, with a reaction planned at
    /// `targets`, and a connection to read it.
    async fn planned(
        dir: &tempfile::TempDir,
        targets: Vec<(Horizon, DateTime<Utc>)>,
    ) -> (Store, Connection) {
        let path = dir.path().join("a.db");
        let store = Store::open(&path).unwrap();
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(super::super::ONE_FEED_ONE_ITEM).unwrap();
        conn.execute(
            "INSERT INTO item_mentions (item_id, symbol) VALUES (1, 'VOD')",
            [],
        )
        .unwrap();
        store
            .plan_reactions(vec![PlannedReaction {
                item_id: 1,
                symbol: "VOD".into(),
                exchange: "XLON".into(),
                targets,
            }])
            .await
            .unwrap();
        (store, conn)
    }

    /// Over many price pairs (changes of exactly half a hundredth of a
    /// percent that binary cannot hold, rises and falls, negative prices,
    /// prices with many places), the change `v_item_reactions` shows is
    /// the export's, and both are the exact change rounded half away from
    /// zero. The view rounded a floating-point change of its own: 3.00045
    /// against 3 (exactly +0.015 %) read 0.01 there, 0.02 in the export.
    #[tokio::test]
    async fn the_view_and_the_export_give_the_same_change_for_every_price() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.db");
        let store = Store::open(&path).unwrap();
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(super::super::ONE_FEED_ONE_ITEM).unwrap();
        let pairs = super::super::change_test_pairs(&["1.7252999877929688"]);
        let t0 = at("2026-07-22T14:00:00Z");
        let mut quotes = Vec::new();
        let mut plans = Vec::new();
        for (n, (then, price)) in pairs.iter().enumerate() {
            let symbol = format!("S{n}");
            conn.execute(
                "INSERT INTO item_mentions (item_id, symbol) VALUES (1, ?1)",
                [&symbol],
            )
            .unwrap();
            plans.push(PlannedReaction {
                item_id: 1,
                symbol: symbol.clone(),
                exchange: "XNYS".into(),
                targets: vec![
                    (Horizon::Then, t0),
                    (Horizon::Min15, t0 + Duration::minutes(15)),
                ],
            });
            for (price, minutes) in [(then, 1), (price, 16)] {
                let when = t0 + Duration::minutes(minutes);
                let mut q = Quote::new(crate::model::ProviderKind::Yahoo, &symbol, *price, when);
                q.symbol = symbol.clone();
                q.currency = Some("USD".into());
                q.as_of = Some(when);
                quotes.push(q);
            }
        }
        store.plan_reactions(plans).await.unwrap();
        store.record_quotes(quotes).await.unwrap();
        store
            .resolve_reactions(
                at("2026-07-23T00:00:00Z"),
                Duration::minutes(15),
                Duration::minutes(30),
            )
            .await
            .unwrap();
        let exported = store.item_reactions(1).await.unwrap();
        let mut checked = 0;
        for (n, (then, price)) in pairs.iter().enumerate() {
            let symbol = format!("S{n}");
            let exact = ((price - then) * Decimal::ONE_HUNDRED / then)
                .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
                .normalize();
            let export = exported
                .iter()
                .find(|r| r.symbol == symbol)
                .and_then(|r| r.points.iter().find(|p| p.horizon == "15m"))
                .and_then(|p| p.change_percent);
            let view: Option<f64> = conn
                .query_row(
                    "SELECT change_15m_percent FROM v_item_reactions WHERE symbol = ?1",
                    [&symbol],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(export, Some(exact), "export, {price} against {then}");
            assert_eq!(
                view,
                Some(exact.to_string().parse::<f64>().unwrap()),
                "view, {price} against {then} (exactly {exact})"
            );
            checked += 1;
        }
        assert!(checked > 300, "{checked}");
    }

    /// The item's price a day later and its change, as `v_item_reactions`
    /// shows them.
    fn day_after(conn: &Connection) -> (Option<f64>, Option<f64>) {
        conn.query_row(
            "SELECT price_1d, change_1d_percent FROM v_item_reactions",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
    }

    /// The close is the last price of its window, and London's closing
    /// auction arrives 15 minutes late: taken when the window had just
    /// passed, the close was the last trade before the auction.
    #[tokio::test]
    async fn the_close_waits_for_a_delayed_closing_price() {
        let dir = tempfile::tempdir().unwrap();
        let (store, conn) = planned(&dir, vec![(Horizon::Close, at("2026-07-22T15:30:00Z"))]).await;
        let (tolerance, settle) = (Duration::minutes(15), Duration::minutes(30));
        store
            .record_quotes(vec![vod(
                "VOD.L",
                "0.72",
                Some("GBP"),
                "2026-07-22T15:25:00Z",
            )])
            .await
            .unwrap();
        let early = store
            .resolve_reactions(at("2026-07-22T15:45:00Z"), tolerance, settle)
            .await
            .unwrap();
        assert_eq!(early.found, 0, "the close is not taken before it settled");
        store
            .record_quotes(vec![vod(
                "VOD.L",
                "0.731",
                Some("GBP"),
                "2026-07-22T15:35:12Z",
            )])
            .await
            .unwrap();
        store
            .resolve_reactions(at("2026-07-22T16:15:00Z"), tolerance, settle)
            .await
            .unwrap();
        let close: f64 = conn
            .query_row("SELECT price_close FROM v_item_reactions", [], |r| r.get(0))
            .unwrap();
        assert_eq!(close, 0.731);
    }

    /// Later prices are of the listing of the first: where a provider gives
    /// no currency, the same provider symbol (a reload that moved VOD from
    /// Yahoo's VOD.L in pounds to Finnhub's ADR in dollars made a 1,219 %
    /// "rise"); the same symbol spelt in another case still counts.
    #[tokio::test]
    async fn later_prices_without_a_currency_keep_to_the_first_listing() {
        let dir = tempfile::tempdir().unwrap();
        let targets = vec![
            (Horizon::Then, at("2026-07-22T15:00:00Z")),
            (Horizon::Day1, at("2026-07-23T15:00:00Z")),
        ];
        let (store, conn) = planned(&dir, targets).await;
        store
            .record_quotes(vec![
                vod("VOD.L", "0.72", Some("GBP"), "2026-07-22T15:01:00Z"),
                vod("VOD", "9.50", None, "2026-07-23T15:01:00Z"),
            ])
            .await
            .unwrap();
        let (tolerance, settle) = (Duration::minutes(15), Duration::minutes(30));
        store
            .resolve_reactions(at("2026-07-24T00:00:00Z"), tolerance, settle)
            .await
            .unwrap();
        let day = day_after(&conn);
        assert_eq!(
            day,
            (None, None),
            "another listing is not a price of this one"
        );
        // The same listing, spelt in capitals, without a currency: it counts.
        store
            .record_quotes(vec![vod("vod.l", "0.7344", None, "2026-07-23T15:02:00Z")])
            .await
            .unwrap();
        store
            .resolve_reactions(at("2026-07-24T00:00:00Z"), tolerance, settle)
            .await
            .unwrap();
        let day = day_after(&conn);
        assert_eq!(day, (Some(0.7344), Some(2.0)));
    }
}
