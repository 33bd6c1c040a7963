//! Exports: every archived item (or a view's), one at a time, with the
//! feeds that carried it, the symbols it mentions, the board stamped on it
//! and (once connected) its price reactions, handed to a caller's sink.
//!
//! # Constant memory
//! One statement walks the items in archive order (`items.id`, the order
//! they were first archived) and each row is read, completed by a few
//! cached per-item lookups (sources, mentions, snapshot) and handed to the
//! sink before the next row is stepped: nothing is collected, so a million
//! items take the memory of one. The walk is the table's own rowid order,
//! so SQLite never sorts (a test below holds the query plan to that);
//! a view's criteria are the same `WHERE` fragment the feeds use
//! (`selection::filter`), whose index-backed sets hold item ids only.
//!
//! # Connection and consistency
//! An export runs on a read-only connection of its own, opened for it, not
//! on the store's shared reader: a million-item export takes seconds, and
//! the feeds and pages served meanwhile must not wait behind it. The whole
//! walk is one read transaction, so an export is one consistent state of
//! the archive even while the daemon keeps writing (WAL). While it runs,
//! SQLite cannot fold the `-wal` file back past that state; the daemon's
//! checkpoints catch up when it ends.
//!
//! The function blocks: callers run it on a blocking thread (the `export`
//! command, the `/export.jsonl` handler's blocking task). Formats are
//! `render::export`'s; this module hands on [`ExportItem`]s.

use std::io;

use chrono::{DateTime, Utc};
use rusqlite::types::Value;
use rusqlite::{Connection, OpenFlags, params_from_iter};

use super::{
    BUSY_TIMEOUT, ItemReaction, Store, StoreError, json_array_from, op, quotes::snapshot_of,
    selection,
};
use crate::clock::to_db_time;
use crate::model::{Enclosure, Snapshot};
use crate::select::Selection;

/// Which items an export holds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExportQuery {
    /// A view's selection (`--view`), or every item (the default).
    pub selection: Selection,
    /// Only items first archived at or after this time. Archive time, not
    /// the publisher's date: an export run after the previous one's start
    /// gets exactly what arrived since, however the items were dated.
    pub since: Option<DateTime<Utc>>,
}

/// One exported item, as stored. Times are the archive's text (RFC 3339,
/// UTC, `Z`), passed through unparsed.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportItem {
    pub id: i64,
    pub uid: String,
    pub title: String,
    pub url: Option<String>,
    pub canonical_url: Option<String>,
    pub guid: Option<String>,
    /// The origin feed's name.
    pub feed: String,
    pub published_at: Option<String>,
    pub updated_at: Option<String>,
    pub first_seen_at: String,
    pub changed_at: String,
    pub sort_at: String,
    pub revision: i64,
    pub authors: Vec<String>,
    pub categories: Vec<String>,
    pub summary_text: Option<String>,
    pub content_text: Option<String>,
    /// Every (feed, key) that carried it, in the order they first did.
    pub sources: Vec<ExportSource>,
    /// Configured symbols it mentions, sorted.
    pub mentions: Vec<String>,
    /// The board stamped on it when first archived.
    pub snapshot: Option<Snapshot>,
    /// Price reactions after the item (issue 19), one per mentioned
    /// symbol with a reaction planned; `None` when it has none. Kept typed
    /// rather than as a `serde_json::Value`, whose objects sort their keys:
    /// the fields go out in the order docs/export.md lists them.
    pub reactions: Option<Vec<ItemReaction>>,
    /// The files attached to it (`items.enclosures`).
    pub enclosures: Vec<Enclosure>,
    /// Each author's email address beside `authors` (`items.author_emails`):
    /// empty when no author has one.
    pub author_emails: Vec<Option<String>>,
}

/// One feed that carried an exported item (`item_sources`).
#[derive(Debug, Clone, PartialEq)]
pub struct ExportSource {
    pub feed: String,
    pub item_key: String,
    /// `new`, `guid`, `url` or `alias`.
    pub matched_by: String,
    pub first_seen_at: String,
    pub last_seen_at: String,
}

/// Why an export stopped.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The sink refused an item (a full disk, a closed pipe, a reader that
    /// went away).
    #[error("failed to write the export")]
    Write(#[source] io::Error),
}

/// The item columns, in `read_item`'s order. CROSS JOIN keeps `items` the
/// outer loop, so rows come in rowid order without a sort.
const SELECT_ITEMS: &str = "SELECT i.id, i.uid, i.title, i.url, i.canonical_url, i.guid, f.name,
        i.published_at, i.updated_at, i.first_seen_at, i.changed_at, i.sort_at, i.revision,
        i.authors, i.categories, i.summary_text, i.content_text, i.enclosures, i.author_emails
 FROM items i CROSS JOIN feeds f ON f.id = i.origin_feed_id";

/// The statement and parameters for `q`.
fn export_sql(q: &ExportQuery) -> (String, Vec<Value>) {
    let filter = selection::filter(&q.selection);
    let mut sql = format!("{SELECT_ITEMS} WHERE {}", filter.sql());
    let mut params = filter.params;
    if let Some(since) = q.since {
        sql.push_str(" AND i.first_seen_at >= ?");
        params.push(Value::Text(to_db_time(since)));
    }
    sql.push_str(" ORDER BY i.id");
    (sql, params)
}

impl Store {
    /// Hands every item `q` selects to `each`, in archive order, and
    /// returns how many it handed. Blocks: run it on a blocking thread.
    /// Stops at the first error, from the archive or from `each`.
    pub fn export_blocking(
        &self,
        q: &ExportQuery,
        mut each: impl FnMut(&ExportItem) -> io::Result<()>,
    ) -> Result<u64, ExportError> {
        let mut conn = self.export_connection()?;
        let tx = conn
            .transaction()
            .map_err(op("begin the export's read transaction"))?;
        let (sql, params) = export_sql(q);
        let mut stmt = tx.prepare(&sql).map_err(op("select items to export"))?;
        let mut rows = stmt
            .query(params_from_iter(params))
            .map_err(op("select items to export"))?;
        let mut n = 0;
        while let Some(row) = rows.next().map_err(op("read an exported item"))? {
            let mut item = read_item(row).map_err(op("read an exported item"))?;
            complete(&tx, &mut item)?;
            each(&item).map_err(ExportError::Write)?;
            n += 1;
        }
        Ok(n)
    }

    /// A read-only connection for one export (see the module doc), with
    /// the `regexp` function views' rules need.
    fn export_connection(&self) -> Result<Connection, StoreError> {
        let open_err = super::open_err(&self.path);
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(open_err)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
        selection::register_regexp(&conn).map_err(open_err)?;
        Ok(conn)
    }
}

fn read_item(r: &rusqlite::Row<'_>) -> rusqlite::Result<ExportItem> {
    let list = |i: usize| -> rusqlite::Result<Vec<String>> {
        Ok(serde_json::from_str(&r.get::<_, String>(i)?).unwrap_or_default())
    };
    Ok(ExportItem {
        id: r.get(0)?,
        uid: r.get(1)?,
        title: r.get(2)?,
        url: r.get(3)?,
        canonical_url: r.get(4)?,
        guid: r.get(5)?,
        feed: r.get(6)?,
        published_at: r.get(7)?,
        updated_at: r.get(8)?,
        first_seen_at: r.get(9)?,
        changed_at: r.get(10)?,
        sort_at: r.get(11)?,
        revision: r.get(12)?,
        authors: list(13)?,
        categories: list(14)?,
        summary_text: r.get(15)?,
        content_text: r.get(16)?,
        enclosures: json_array_from(r, 17)?,
        author_emails: json_array_from(r, 18)?,
        sources: Vec::new(),
        mentions: Vec::new(),
        snapshot: None,
        reactions: None,
    })
}

/// Fills in what an item's other tables say about it.
fn complete(conn: &Connection, item: &mut ExportItem) -> Result<(), StoreError> {
    // The origin first, as the feeds name it: the time alone ties within
    // a pass (see `Store::recent`).
    item.sources = conn
        .prepare_cached(
            "SELECT f.name, s.item_key, s.matched_by, s.first_seen_at, s.last_seen_at
             FROM item_sources s JOIN feeds f ON f.id = s.feed_id
             JOIN items i ON i.id = s.item_id
             WHERE s.item_id = ?1
             ORDER BY s.feed_id <> i.origin_feed_id, s.first_seen_at, f.id, s.item_key",
        )
        .and_then(|mut s| {
            s.query_map([item.id], |r| {
                Ok(ExportSource {
                    feed: r.get(0)?,
                    item_key: r.get(1)?,
                    matched_by: r.get(2)?,
                    first_seen_at: r.get(3)?,
                    last_seen_at: r.get(4)?,
                })
            })?
            .collect()
        })
        .map_err(op("read an exported item's sources"))?;
    item.mentions = super::symbols::mentions_of(conn, item.id)?;
    item.snapshot = snapshot_of(conn, item.id)?;
    item.reactions = reactions_of(conn, item.id)?;
    Ok(())
}

/// An item's price reactions (`store::reactions`): one per mentioned
/// symbol, or `None` when it has none. Figures not known yet stay unknown;
/// nothing is estimated here.
fn reactions_of(conn: &Connection, item_id: i64) -> Result<Option<Vec<ItemReaction>>, StoreError> {
    let reactions = super::reactions::reactions_of(conn, item_id)?;
    Ok((!reactions.is_empty()).then_some(reactions))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::select::Rule;

    #[test]
    fn the_walk_never_sorts_whatever_the_selection() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("a.db")).unwrap();
        let conn = store.export_connection().unwrap();
        let since = crate::clock::from_db_time("2026-11-24T00:00:00Z");
        let queries = [
            ExportQuery::default(),
            ExportQuery {
                since,
                selection: Selection {
                    feeds: vec!["a".into()],
                    tags: vec!["t".into()],
                    symbols: vec!["BP".into()],
                    min_move_pct: Some(1.0),
                    query: Some("oil".into()),
                    include: vec![Rule::new(crate::select::Field::Title, "x").unwrap()],
                    exclude: vec![Rule::new(crate::select::Field::Any, "y").unwrap()],
                },
            },
        ];
        for q in queries {
            let (sql, params) = export_sql(&q);
            let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
            let plan: Vec<String> = stmt
                .query_map(params_from_iter(params), |r| r.get::<_, String>(3))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            assert!(
                !plan.iter().any(|step| step.contains("TEMP B-TREE")),
                "an export must stream in rowid order, not sort: {plan:#?}"
            );
            assert!(
                plan.iter().any(|s| s.starts_with("SCAN i")),
                "items are the outer loop: {plan:#?}"
            );
        }
    }

    /// An archive with `n` items of one feed, written by hand.
    fn archive(n: i64) -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.db");
        let store = Store::open(&path).unwrap();
        let conn = Connection::open(&path).unwrap();
        conn.execute(
            "INSERT INTO feeds (id, name, url, schedule, created_at)
             VALUES (1, 'wire', 'http://x/', '* * * * *', '2026-11-24T00:00:00Z')",
            [],
        )
        .unwrap();
        for id in 1..=n {
            let at = format!("2026-11-24T00:00:{id:02}Z");
            conn.execute(
                "INSERT INTO items (id, uid, origin_feed_id, title, first_seen_at, changed_at,
                                    sort_at, content_sha256)
                 VALUES (?1, ?2, 1, 'BP results', ?3, ?3, ?3, '')",
                rusqlite::params![id, format!("{id:032}"), at],
            )
            .unwrap();
        }
        (dir, store)
    }

    #[test]
    fn items_come_in_archive_order_from_since_on() {
        let (_dir, store) = archive(5);
        let mut ids = Vec::new();
        let q = ExportQuery {
            since: crate::clock::from_db_time("2026-11-24T00:00:03Z"),
            ..ExportQuery::default()
        };
        let n = store
            .export_blocking(&q, |item| {
                ids.push(item.id);
                Ok(())
            })
            .unwrap();
        assert_eq!((n, ids), (3, vec![3, 4, 5]));
    }

    #[test]
    fn a_failing_sink_stops_the_walk_at_once() {
        let (_dir, store) = archive(5);
        let mut seen = 0;
        let err = store
            .export_blocking(&ExportQuery::default(), |_| {
                seen += 1;
                Err(io::Error::new(io::ErrorKind::BrokenPipe, "reader gone"))
            })
            .unwrap_err();
        assert!(matches!(err, ExportError::Write(_)), "{err:?}");
        assert_eq!(seen, 1);
    }

    /// A reaction's fields go out in the order docs/export.md lists them
    /// (`symbol`, `exchange`, `currency`, `points`; each point `horizon` to
    /// `change_percent`), like every other object of a line: they were once
    /// a `serde_json::Value`, whose objects sort their keys.
    #[test]
    fn reactions_keep_the_documented_field_order() {
        let (dir, store) = archive(1);
        let conn = Connection::open(dir.path().join("a.db")).unwrap();
        conn.execute_batch(
            "INSERT INTO item_mentions (item_id, symbol, matched_by) VALUES (1, 'BP', 'name');
             INSERT INTO quotes (id, symbol, provider, provider_symbol, price, currency, as_of,
                                 fetched_at, session, source)
             VALUES (1, 'BP', 'yahoo', 'BP.L', '4.6155', 'GBP', '2026-11-24T09:00:00Z',
                     '2026-11-24T09:01:00Z', 'regular', 'board');
             INSERT INTO item_reactions (item_id, symbol, horizon, exchange, target_at, state,
                                         quote_id, resolved_at)
             VALUES (1, 'BP', 'then', 'XLON', '2026-11-24T09:00:00Z', 'found', 1,
                     '2026-11-24T09:05:00Z'),
                    (1, 'BP', '15m', 'XLON', '2026-11-24T09:15:00Z', 'pending', NULL, NULL);",
        )
        .unwrap();
        // As resolving the `then` price does.
        crate::store::reactions::store_changes(&conn, 1, "BP").unwrap();
        let mut out = crate::render::export::ExportWriter::new(
            crate::render::export::ExportFormat::Jsonl,
            Vec::new(),
        )
        .unwrap();
        store
            .export_blocking(&ExportQuery::default(), |item| out.write(item))
            .unwrap();
        let line = String::from_utf8(out.finish().unwrap()).unwrap();
        let reactions = &line[line.find(r#""reactions":"#).unwrap()..];
        assert!(
            reactions.starts_with(
                r#""reactions":[{"symbol":"BP","exchange":"XLON","currency":"GBP","points":[{"horizon":"then","target_at":"2026-11-24T09:00:00Z","state":"found","price":"4.6155","price_at":"2026-11-24T09:00:00Z","source":"recorded","change_percent":"0"},{"horizon":"15m","#
            ),
            "{reactions}"
        );
    }
}
