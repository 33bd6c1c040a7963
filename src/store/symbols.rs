//! What the symbol page reads about one configured symbol: its recorded
//! quotes as a price series, thinned for a chart, and the archived items
//! that mention it; and, on the write side, `record_mentions`, which
//! records what the enrich stage found and how (`item_mentions.matched_by`).
//!
//! Both run on the read-only connection and find their rows through an
//! index, so a symbol page costs the same however many symbols the archive
//! holds: `quotes_by_symbol (symbol, fetched_at)` for the series (which
//! also gives its order, so nothing is sorted) and
//! `item_mentions_by_symbol (symbol, item_id)` for the items. Neither
//! writes. Prices are read from the exact decimal text, never from REAL.

use std::collections::HashSet;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use rusqlite::{Connection, OptionalExtension, params};

use super::{Store, StoreError, op};
use crate::clock::{from_db_time, to_db_time};
use crate::model::{FeedId, ItemUid, Mention, listed_date, published_as_seen};

/// Records an item's mentions (at ingest, or later from its article),
/// each with how the matcher found it (`tag`, `exchange`, `cashtag`,
/// `name`, `corroborated`), in the caller's transaction. A symbol the
/// item already mentions keeps its first record. Returns how many were
/// new.
pub(crate) fn record_mentions(
    tx: &Connection,
    item_id: i64,
    mentions: &[Mention],
) -> Result<usize, StoreError> {
    let mut added = 0;
    for m in mentions {
        added += tx
            .prepare_cached(
                "INSERT OR IGNORE INTO item_mentions (item_id, symbol, matched_by) VALUES (?1, ?2, ?3)",
            )
            .and_then(|mut s| s.execute(params![item_id, m.symbol, m.matched_by.as_str()]))
            .map_err(op("record item mention"))?;
    }
    Ok(added)
}

/// The symbols an item mentions, as recorded (at ingest and from its
/// article), in alphabetical order: whether or not a price was had.
pub(crate) fn mentions_of(conn: &Connection, item_id: i64) -> Result<Vec<String>, StoreError> {
    conn.prepare_cached("SELECT symbol FROM item_mentions WHERE item_id = ?1 ORDER BY symbol")
        .and_then(|mut s| s.query_map([item_id], |r| r.get(0))?.collect())
        .map_err(op("read an item's mentions"))
}

/// A symbol's quotes from `since` on, oldest first, with the time each is
/// dated by (the provider's `as_of` when it gave one, else when we fetched
/// it) and the index's order. Only the board's own quotes: a point
/// backfilled for a price reaction is fetched now but dated in the past,
/// so in fetch order it would send the chart's line back in time.
const SYMBOL_HISTORY: &str = "SELECT coalesce(as_of, fetched_at), price FROM quotes
                              WHERE symbol = ?1 AND fetched_at >= ?2 AND source = 'board'
                              ORDER BY fetched_at, id";
const SYMBOL_HISTORY_COUNT: &str =
    "SELECT count(*) FROM quotes WHERE symbol = ?1 AND fetched_at >= ?2 AND source = 'board'";

/// The items that mention a symbol, latest archived first. The index finds
/// the symbol's mentions; they are then sorted by time, not by id: ids
/// follow ingest order only nearly (fetches recorded in one group commit,
/// rows inserted by hand), and a few thousand rows sort in no time.
const SYMBOL_ITEMS: &str =
    "SELECT i.uid, i.title, i.url, i.first_seen_at, i.published_at, i.changed_at
                            FROM item_mentions m JOIN items i ON i.id = m.item_id
                            WHERE m.symbol = ?1
                            ORDER BY i.first_seen_at DESC, i.id DESC
                            LIMIT ?2";

/// An archived item that mentions a symbol: a line of the symbol page's
/// list, and a marker on its chart.
#[derive(Debug, Clone, PartialEq)]
pub struct SymbolItem {
    pub uid: ItemUid,
    /// Plain text, as archived (not escaped).
    pub title: String,
    /// The article's link, when it has one.
    pub url: Option<String>,
    /// When the archive first saw the item (`first_seen_at`), the time its
    /// mention was recorded: where its chart marker goes.
    pub first_seen: DateTime<Utc>,
    /// The date the list shows it by, the river's for the same item
    /// (`model::listed_date`).
    pub date: DateTime<Utc>,
}

impl Store {
    /// The keys of the items feed `feed_id` already carries. The enrich
    /// stage looks for mentions only in items outside this set: mentions
    /// are recorded only when an item is first archived, and most of what
    /// a changed feed lists is already there. Read on the reader
    /// connection, so it never waits for the writer.
    pub async fn item_keys(&self, feed_id: FeedId) -> Result<HashSet<String>, StoreError> {
        self.read(move |c| {
            let mut stmt = c
                .prepare_cached("SELECT item_key FROM item_sources WHERE feed_id = ?1")
                .map_err(op("prepare item key lookup"))?;
            let keys = stmt
                .query_map([feed_id.0], |r| r.get(0))
                .and_then(|rows| rows.collect::<rusqlite::Result<HashSet<String>>>())
                .map_err(op("read a feed's item keys"))?;
            Ok(keys)
        })
        .await
    }

    /// The symbols item `uid` mentions, as recorded (`item_mentions`,
    /// alphabetical), whether or not the board had a price for them: what
    /// an alert names. Empty for an item the archive does not hold.
    pub async fn item_mentions(&self, uid: &str) -> Result<Vec<String>, StoreError> {
        let uid = uid.to_string();
        self.read(move |conn| {
            let id = conn
                .prepare_cached("SELECT id FROM items WHERE uid = ?1")
                .and_then(|mut s| s.query_row([&uid], |r| r.get::<_, i64>(0)).optional())
                .map_err(op("find an item"))?;
            match id {
                Some(id) => mentions_of(conn, id),
                None => Ok(Vec::new()),
            }
        })
        .await
    }

    /// The recorded prices of `symbol`, oldest first, for a chart.
    ///
    /// Each quote is dated by the provider's `as_of` when it gave one, else
    /// by when tickerfeed fetched it; quotes with the same date (a closed
    /// market re-quoted at every refresh) count once, with the latest
    /// fetched price. `since` keeps the quotes fetched at or after it
    /// (`None`: all of them). With more than `limit_points` quotes, the
    /// series is thinned to `limit_points` of them evenly spaced in the
    /// series, always keeping the first and the last (`limit_points = 1`
    /// keeps the latest, `0` none). A price that is not a decimal, or a
    /// time that is not RFC 3339 (only possible in a hand-edited archive),
    /// is skipped.
    pub async fn symbol_history(
        &self,
        symbol: &str,
        since: Option<DateTime<Utc>>,
        limit_points: usize,
    ) -> Result<Vec<(DateTime<Utc>, Decimal)>, StoreError> {
        let symbol = symbol.to_string();
        // Every stored time sorts after the empty string.
        let since = since.map(to_db_time).unwrap_or_default();
        self.read(move |conn| {
            // The count and the rows must come from one snapshot, or a
            // refresh committed in between would move the indexes kept.
            let tx = conn
                .transaction()
                .map_err(op("begin reading a symbol's quotes"))?;
            let count: i64 = tx
                .prepare_cached(SYMBOL_HISTORY_COUNT)
                .and_then(|mut s| s.query_row((&symbol, &since), |r| r.get(0)))
                .map_err(op("count a symbol's quotes"))?;
            let kept = evenly_spaced(usize::try_from(count).unwrap_or(0), limit_points);
            let mut points = Vec::with_capacity(kept.len());
            if let Some(&last_kept) = kept.last() {
                let mut stmt = tx
                    .prepare_cached(SYMBOL_HISTORY)
                    .map_err(op("prepare a symbol's quotes"))?;
                let mut rows = stmt
                    .query((&symbol, &since))
                    .map_err(op("read a symbol's quotes"))?;
                let mut kept = kept.iter().copied().peekable();
                let mut index = 0;
                // Rows not kept are stepped over unread: a year of
                // minute quotes is half a million rows for a few hundred
                // points.
                while let Some(row) = rows.next().map_err(op("read a symbol's quote"))? {
                    if kept.next_if_eq(&index).is_some() {
                        let at: String = row.get(0).map_err(op("read a quote's time"))?;
                        let price: String = row.get(1).map_err(op("read a quote's price"))?;
                        if let (Some(at), Ok(price)) =
                            (from_db_time(&at), Decimal::from_str(&price))
                        {
                            points.push((at, price));
                        }
                    }
                    if index == last_kept {
                        break;
                    }
                    index += 1;
                }
            }
            Ok(one_per_time(points))
        })
        .await
    }

    /// Up to `limit` archived items that mention `symbol`, the latest
    /// archived first (by `first_seen_at`, then by id).
    pub async fn symbol_items(
        &self,
        symbol: &str,
        limit: usize,
    ) -> Result<Vec<SymbolItem>, StoreError> {
        let symbol = symbol.to_string();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(move |conn| {
            let mut stmt = conn
                .prepare_cached(SYMBOL_ITEMS)
                .map_err(op("prepare the items mentioning a symbol"))?;
            let rows = stmt
                .query_map((&symbol, limit), |r| {
                    let time = |i: usize| -> rusqlite::Result<Option<DateTime<Utc>>> {
                        Ok(r.get::<_, Option<String>>(i)?
                            .as_deref()
                            .and_then(from_db_time))
                    };
                    let first_seen = time(3)?.unwrap_or(DateTime::UNIX_EPOCH);
                    let published = published_as_seen(time(4)?, first_seen);
                    Ok(SymbolItem {
                        uid: ItemUid(r.get(0)?),
                        title: r.get(1)?,
                        url: r.get(2)?,
                        first_seen,
                        date: listed_date(published, time(5)?.unwrap_or(first_seen)),
                    })
                })
                .map_err(op("read the items mentioning a symbol"))?;
            rows.collect::<Result<Vec<_>, _>>()
                .map_err(op("read an item mentioning a symbol"))
        })
        .await
    }
}

/// Which of `count` rows to keep so that at most `limit` remain, evenly
/// spaced, the first and the last among them; in increasing order.
fn evenly_spaced(count: usize, limit: usize) -> Vec<usize> {
    match limit {
        _ if count <= limit => (0..count).collect(),
        0 => Vec::new(),
        1 => vec![count - 1],
        // `count > limit`, so the step is above 1 and no index repeats.
        _ => (0..limit)
            .map(|i| (i as u128 * (count - 1) as u128 / (limit - 1) as u128) as usize)
            .collect(),
    }
}

/// Sorts `points` by time and keeps one per time, the last read (the
/// latest fetched, as rows come in fetch order).
fn one_per_time(mut points: Vec<(DateTime<Utc>, Decimal)>) -> Vec<(DateTime<Utc>, Decimal)> {
    // Stable, so equal times stay in fetch order.
    points.sort_by_key(|(at, _)| *at);
    let mut out: Vec<(DateTime<Utc>, Decimal)> = Vec::with_capacity(points.len());
    for (at, price) in points {
        match out.last_mut() {
            Some(last) if last.0 == at => last.1 = price,
            _ => out.push((at, price)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;
    use rusqlite::Connection;

    use super::*;
    use crate::model::{ProviderKind, Quote, Session};

    fn at(s: &str) -> DateTime<Utc> {
        from_db_time(s).unwrap()
    }

    fn dec(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn quote(symbol: &str, price: &str, fetched_at: DateTime<Utc>) -> Quote {
        Quote {
            symbol: symbol.into(),
            provider_symbol: format!("{symbol}.L"),
            provider: ProviderKind::Yahoo,
            price: dec(price),
            change: None,
            change_percent: None,
            currency: Some("GBP".into()),
            previous_close: None,
            as_of: None,
            fetched_at,
            session: Session::Regular,
            daily: false,
        }
    }

    /// An archive in a temp dir with one feed.
    async fn archive(dir: &tempfile::TempDir) -> Store {
        let store = Store::open(&dir.path().join("a.db")).unwrap();
        store
            .write(|c| {
                c.execute(
                    "INSERT INTO feeds (name, url, schedule, created_at)
                     VALUES ('f', 'https://f.test/feed.xml', '* * * * *', '2026-07-24T09:00:00Z')",
                    [],
                )
                .map_err(op("add feed"))
                .map(drop)
            })
            .await
            .unwrap();
        store
    }

    /// Archives an item first seen at `first_seen`, mentioning `symbols`.
    async fn add_item(
        store: &Store,
        uid: &str,
        title: &str,
        url: Option<&str>,
        first_seen: &str,
        symbols: &[&str],
    ) {
        let (uid, title, url, first_seen) = (
            uid.to_string(),
            title.to_string(),
            url.map(str::to_string),
            first_seen.to_string(),
        );
        let symbols: Vec<String> = symbols.iter().map(|s| s.to_string()).collect();
        store
            .write(move |c| {
                c.execute(
                    "INSERT INTO items (uid, origin_feed_id, title, url, first_seen_at, changed_at,
                                        sort_at, content_sha256)
                     SELECT ?1, id, ?2, ?3, ?4, ?4, ?4, 'x' FROM feeds",
                    (&uid, &title, &url, &first_seen),
                )
                .map_err(op("add item"))?;
                let id = c.last_insert_rowid();
                for symbol in &symbols {
                    c.execute(
                        "INSERT INTO item_mentions (item_id, symbol) VALUES (?1, ?2)",
                        (id, symbol),
                    )
                    .map_err(op("add mention"))?;
                }
                Ok(())
            })
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn mentions_are_recorded_with_how_they_were_found() {
        use crate::model::MatchedBy;
        let dir = tempfile::tempdir().unwrap();
        let store = archive(&dir).await;
        add_item(
            &store,
            "u1",
            "BP and AstraZeneca",
            None,
            "2026-07-24T09:00:00Z",
            &[],
        )
        .await;
        let rows = store
            .write(|c| {
                let id: i64 = c
                    .query_row("SELECT id FROM items", [], |r| r.get(0))
                    .map_err(op("find item"))?;
                let mentions = [
                    Mention {
                        symbol: "BP".into(),
                        matched_by: MatchedBy::Corroborated,
                    },
                    Mention {
                        symbol: "AZN".into(),
                        matched_by: MatchedBy::Name,
                    },
                ];
                record_mentions(c, id, &mentions)?;
                // Recorded once: a second pass changes nothing.
                record_mentions(c, id, &mentions)?;
                let mut stmt = c
                    .prepare("SELECT symbol, matched_by FROM v_item_mentions ORDER BY symbol")
                    .map_err(op("read view"))?;
                let rows = stmt
                    .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
                    .and_then(Iterator::collect::<rusqlite::Result<Vec<_>>>)
                    .map_err(op("read view"))?;
                Ok(rows)
            })
            .await
            .unwrap();
        assert_eq!(
            rows,
            [
                ("AZN".to_string(), "name".to_string()),
                ("BP".to_string(), "corroborated".to_string())
            ]
        );
    }

    #[tokio::test]
    async fn history_is_the_symbols_exact_prices_oldest_first() {
        let dir = tempfile::tempdir().unwrap();
        let store = archive(&dir).await;
        let t0 = at("2026-07-24T09:00:00Z");
        let minute = TimeDelta::minutes(1);
        let mut quotes = Vec::new();
        for i in 0..10 {
            quotes.push(quote("VOD", &format!("72.1{i}"), t0 + minute * i));
            quotes.push(quote("BP", "400", t0 + minute * i));
        }
        // The provider dated this one earlier than we fetched it.
        quotes[2].as_of = Some(t0 + TimeDelta::seconds(30));
        store.record_quotes(quotes).await.unwrap();

        let all = store.symbol_history("VOD", None, 100).await.unwrap();
        assert_eq!(all.len(), 10);
        assert_eq!(all[0], (t0, dec("72.10")));
        assert_eq!(
            all[1],
            (t0 + TimeDelta::seconds(30), dec("72.11")),
            "as_of first"
        );
        assert_eq!(all[9], (t0 + minute * 9, dec("72.19")));
        assert!(all.windows(2).all(|w| w[0].0 < w[1].0));

        let recent = store
            .symbol_history("VOD", Some(t0 + minute * 7), 100)
            .await
            .unwrap();
        assert_eq!(
            recent.iter().map(|p| p.1).collect::<Vec<_>>(),
            [dec("72.17"), dec("72.18"), dec("72.19")]
        );
        assert!(
            store
                .symbol_history("NOPE", None, 100)
                .await
                .unwrap()
                .is_empty()
        );
    }

    #[tokio::test]
    async fn long_history_is_thinned_evenly_keeping_first_and_last() {
        let dir = tempfile::tempdir().unwrap();
        let store = archive(&dir).await;
        let t0 = at("2026-07-24T09:00:00Z");
        let quotes = (0..10)
            .map(|i| quote("VOD", &i.to_string(), t0 + TimeDelta::minutes(i)))
            .collect();
        store.record_quotes(quotes).await.unwrap();
        let prices = |limit| {
            let store = store.clone();
            async move {
                store
                    .symbol_history("VOD", None, limit)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|(_, p)| p.to_string())
                    .collect::<Vec<_>>()
            }
        };
        assert_eq!(prices(4).await, ["0", "3", "6", "9"]);
        assert_eq!(prices(2).await, ["0", "9"]);
        assert_eq!(prices(1).await, ["9"], "the latest price");
        assert!(prices(0).await.is_empty());
        assert_eq!(prices(10).await.len(), 10);
    }

    #[tokio::test]
    async fn a_closed_market_requoted_at_every_refresh_counts_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = archive(&dir).await;
        let close = at("2026-07-24T16:30:00Z");
        let mut quotes = Vec::new();
        for (i, price) in ["75.00", "75.00", "75.02"].iter().enumerate() {
            let mut q = quote("VOD", price, close + TimeDelta::hours(i as i64 + 1));
            q.as_of = Some(close);
            quotes.push(q);
        }
        store.record_quotes(quotes).await.unwrap();
        assert_eq!(
            store.symbol_history("VOD", None, 100).await.unwrap(),
            [(close, dec("75.02"))],
            "the latest fetched price for that time"
        );
    }

    #[tokio::test]
    async fn items_mentioning_a_symbol_latest_first() {
        let dir = tempfile::tempdir().unwrap();
        let store = archive(&dir).await;
        add_item(
            &store,
            "a",
            "Old",
            Some("https://n.test/a"),
            "2026-07-24T09:00:00Z",
            &["VOD"],
        )
        .await;
        add_item(
            &store,
            "c",
            "Newest",
            None,
            "2026-07-24T11:00:00Z",
            &["VOD", "BP"],
        )
        .await;
        add_item(
            &store,
            "b",
            "Middle",
            Some("https://n.test/b"),
            "2026-07-24T10:00:00Z",
            &["VOD"],
        )
        .await;
        add_item(&store, "d", "Other", None, "2026-07-24T12:00:00Z", &["BP"]).await;
        add_item(&store, "e", "None", None, "2026-07-24T13:00:00Z", &[]).await;

        let items = store.symbol_items("VOD", 10).await.unwrap();
        let uids: Vec<&str> = items.iter().map(|i| i.uid.0.as_str()).collect();
        assert_eq!(uids, ["c", "b", "a"]);
        assert_eq!(
            items[2],
            SymbolItem {
                uid: ItemUid("a".into()),
                title: "Old".into(),
                url: Some("https://n.test/a".into()),
                first_seen: at("2026-07-24T09:00:00Z"),
                // Undated: listed by when it was archived, as the river does.
                date: at("2026-07-24T09:00:00Z"),
            }
        );
        assert_eq!(items[0].url, None);
        let first_two = store.symbol_items("VOD", 2).await.unwrap();
        assert_eq!(first_two, items[..2]);
        assert!(store.symbol_items("NOPE", 10).await.unwrap().is_empty());
    }

    /// Both queries find the symbol's rows through its index, and the
    /// series needs no sort: a scan here reads every symbol's rows.
    #[test]
    fn symbol_queries_use_the_symbol_indexes() {
        let mut conn = Connection::open_in_memory().unwrap();
        super::super::migrations::migrate(&mut conn).unwrap();
        let plan = |sql: &str| -> String {
            let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
            let params = [rusqlite::types::Value::Null, rusqlite::types::Value::Null];
            stmt.query_map(rusqlite::params_from_iter(params), |r| {
                r.get::<_, String>(3)
            })
            .unwrap()
            .map(Result::unwrap)
            .collect::<Vec<_>>()
            .join("\n")
        };
        for (sql, index) in [
            (SYMBOL_HISTORY, "quotes_by_symbol"),
            (SYMBOL_HISTORY_COUNT, "quotes_by_symbol"),
            (SYMBOL_ITEMS, "item_mentions_by_symbol"),
        ] {
            let plan = plan(sql);
            assert!(plan.contains(index), "{sql}\n{plan}");
            assert!(
                !plan.lines().any(|l| l.starts_with("SCAN")),
                "{sql}\n{plan}"
            );
        }
        assert!(!plan(SYMBOL_HISTORY).contains("TEMP B-TREE"));
    }

    #[test]
    fn evenly_spaced_indexes() {
        assert_eq!(evenly_spaced(3, 5), [0, 1, 2]);
        assert_eq!(evenly_spaced(0, 5), Vec::<usize>::new());
        assert_eq!(evenly_spaced(100, 3), [0, 49, 99]);
        assert_eq!(evenly_spaced(6, 5), [0, 1, 2, 3, 5]);
        let many = evenly_spaced(1_000_003, 500);
        assert_eq!(many.len(), 500);
        assert!(many.windows(2).all(|w| w[0] < w[1]));
        assert_eq!((many[0], many[499]), (0, 1_000_002));
    }
}
