//! Quotes as a time series, and the snapshots stamped on items.
//!
//! Every successful board refresh appends its quotes to `quotes`; an item
//! archived for the first time gets a row in `snapshots` and one
//! `snapshot_quotes` row per quote on the board at that moment, pointing at
//! the `quotes` row it saw. Snapshots are written once and never changed.
//! Prices are stored as decimal text (exact); the `v_*` views add REAL
//! columns for arithmetic in SQL.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, params};
use rust_decimal::Decimal;

use super::{Store, StoreError, begin_write, op};
use crate::clock::{from_db_time, to_db_time};
use crate::model::{BoardView, Mention, Quote, Snapshot, SnapshotQuote};

impl Store {
    /// Appends quotes to the time series; returns their row ids in order.
    pub async fn record_quotes(&self, quotes: Vec<Quote>) -> Result<Vec<i64>, StoreError> {
        self.insert_quotes(quotes, "board").await
    }

    /// Appends points taken from a provider's history to fill gaps in the
    /// series, marked `source = 'backfill'`; returns their row ids.
    pub async fn record_backfill(&self, quotes: Vec<Quote>) -> Result<Vec<i64>, StoreError> {
        self.insert_quotes(quotes, "backfill").await
    }

    async fn insert_quotes(
        &self,
        quotes: Vec<Quote>,
        source: &'static str,
    ) -> Result<Vec<i64>, StoreError> {
        self.write(move |conn| {
            let tx = begin_write(conn, "begin recording quotes")?;
            let mut ids = Vec::with_capacity(quotes.len());
            {
                let mut stmt = tx
                    .prepare_cached(
                        "INSERT INTO quotes (symbol, provider, provider_symbol, price, change,
                                             change_percent, currency, previous_close, as_of,
                                             fetched_at, session, source, daily)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                    )
                    .map_err(op("prepare quote insert"))?;
                for q in &quotes {
                    stmt.execute(params![
                        q.symbol,
                        q.provider.as_str(),
                        q.provider_symbol,
                        q.price.to_string(),
                        q.change.map(|d| d.to_string()),
                        q.change_percent.map(|d| d.to_string()),
                        q.currency,
                        q.previous_close.map(|d| d.to_string()),
                        q.as_of.map(to_db_time),
                        to_db_time(q.fetched_at),
                        q.session.as_str(),
                        source,
                        q.daily,
                    ])
                    .map_err(op("insert quote"))?;
                    ids.push(tx.last_insert_rowid());
                }
            }
            tx.commit().map_err(op("commit quotes"))?;
            Ok(ids)
        })
        .await
    }

    /// The newest stored quote of each of `symbols`, to seed the board
    /// after a restart, with its row id and whether the provider said its
    /// price is struck once a day (`Quote::daily`). The `stale`/`mentioned`
    /// flags are left false.
    pub async fn latest_quotes(
        &self,
        symbols: Vec<String>,
    ) -> Result<Vec<(i64, SnapshotQuote, bool)>, StoreError> {
        self.read(move |conn| {
            let mut out = Vec::new();
            let mut stmt = conn
                .prepare_cached(
                    "SELECT id, symbol, provider, provider_symbol, price, change, change_percent,
                            currency, previous_close, as_of, fetched_at, session, daily
                     FROM quotes WHERE symbol = ?1 AND source = 'board'
                     ORDER BY fetched_at DESC, id DESC LIMIT 1",
                )
                .map_err(op("prepare latest quote"))?;
            for symbol in &symbols {
                let mut rows = stmt.query([symbol]).map_err(op("select latest quote"))?;
                if let Some(r) = rows.next().map_err(op("read quote"))? {
                    let quote = read_quote(r, 1, None, false, false).map_err(op("read quote"))?;
                    let id = r.get(0).map_err(op("read quote"))?;
                    let daily = r.get(12).map_err(op("read quote"))?;
                    out.push((id, quote, daily));
                }
            }
            Ok(out)
        })
        .await
    }
}

fn dec(s: Option<String>) -> Option<Decimal> {
    s.and_then(|s| Decimal::from_str(&s).ok())
}

/// Reads the eleven quote columns starting at `first` (symbol, provider,
/// provider_symbol, price, change, change_percent, currency,
/// previous_close, as_of, fetched_at, session).
fn read_quote(
    r: &rusqlite::Row<'_>,
    first: usize,
    name: Option<String>,
    stale: bool,
    mentioned: bool,
) -> rusqlite::Result<SnapshotQuote> {
    let c = |i: usize| first + i;
    Ok(SnapshotQuote {
        symbol: r.get(c(0))?,
        name,
        provider: r.get(c(1))?,
        provider_symbol: r.get(c(2))?,
        // Not stored: a quote row is the provider's answer, and a
        // snapshot row keeps only the name the config gave (see
        // `SnapshotQuote::exchange`).
        exchange: None,
        price: dec(r.get(c(3))?).unwrap_or_default(),
        change: dec(r.get(c(4))?),
        change_percent: dec(r.get(c(5))?),
        currency: r.get(c(6))?,
        previous_close: dec(r.get(c(7))?),
        as_of: r
            .get::<_, Option<String>>(c(8))?
            .as_deref()
            .and_then(from_db_time),
        fetched_at: r
            .get::<_, String>(c(9))
            .map(|s| from_db_time(&s).unwrap_or(DateTime::UNIX_EPOCH))?,
        session: r.get(c(10))?,
        stale,
        mentioned,
    })
}

/// Stamps a newly archived item with the board and records its mentions.
pub(crate) fn stamp_item(
    tx: &Connection,
    item_id: i64,
    board: Option<&BoardView>,
    mentions: &[Mention],
    taken_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    super::symbols::record_mentions(tx, item_id, mentions)?;
    let mentions: Vec<String> = mentions.iter().map(|m| m.symbol.clone()).collect();
    let mentions = mentions.as_slice();
    let Some(board) = board else { return Ok(()) };
    tx.prepare_cached("INSERT INTO snapshots (item_id, label, taken_at) VALUES (?1, ?2, ?3)")
        .and_then(|mut s| s.execute(params![item_id, board.label, to_db_time(taken_at)]))
        .map_err(op("record snapshot"))?;
    let mut stmt = tx
        .prepare_cached(
            "INSERT INTO snapshot_quotes (item_id, position, quote_id, symbol, name, stale, mentioned)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )
        .map_err(op("prepare snapshot quote"))?;
    for (position, (quote_id, q)) in board.for_item(mentions).iter().enumerate() {
        stmt.execute(params![
            item_id,
            position as i64,
            quote_id,
            q.symbol,
            q.name,
            q.stale,
            q.mentioned
        ])
        .map_err(op("record snapshot quote"))?;
    }
    Ok(())
}

/// The snapshot stamped on an item, if any.
pub(crate) fn snapshot_of(conn: &Connection, item_id: i64) -> Result<Option<Snapshot>, StoreError> {
    let head: Option<(String, String)> = conn
        .prepare_cached("SELECT label, taken_at FROM snapshots WHERE item_id = ?1")
        .and_then(|mut s| {
            let mut rows = s.query([item_id])?;
            rows.next()?.map(|r| Ok((r.get(0)?, r.get(1)?))).transpose()
        })
        .map_err(op("read snapshot"))?;
    let Some((label, taken_at)) = head else {
        return Ok(None);
    };
    let mut stmt = conn
        .prepare_cached(
            "SELECT sq.name, sq.stale, sq.mentioned,
                    q.symbol, q.provider, q.provider_symbol, q.price, q.change, q.change_percent,
                    q.currency, q.previous_close, q.as_of, q.fetched_at, q.session
             FROM snapshot_quotes sq JOIN quotes q ON q.id = sq.quote_id
             WHERE sq.item_id = ?1 ORDER BY sq.position",
        )
        .map_err(op("read snapshot quotes"))?;
    let quotes = stmt
        .query_map([item_id], |r| {
            // The symbol shown is ours as stored on the snapshot row; the
            // quote row carries the same.
            read_quote(r, 3, r.get(0)?, r.get(1)?, r.get(2)?)
        })
        .map_err(op("read snapshot quotes"))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(op("read snapshot quote"))?;
    Ok(Some(Snapshot {
        label,
        taken_at: from_db_time(&taken_at).unwrap_or(DateTime::UNIX_EPOCH),
        quotes,
    }))
}
