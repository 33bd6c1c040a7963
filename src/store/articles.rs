//! Articles behind teasers (`[[feeds]] fulltext`): the queue of item pages
//! to fetch and what came back, in `item_articles`.
//!
//! A row is written as `pending` in the transaction that archives its item
//! (`queue`, from `feeds::record_in`), so a crash can neither lose the
//! fetch nor make it twice; a fetch that was under way when the process
//! stopped is simply still pending. `pipeline::fulltext` takes the rows
//! that are due ([`Store::due_articles`]) and records each answer
//! ([`Store::record_article`]): `fetched` with the extracted article,
//! `failed` or `disallowed` (robots.txt) with the error, or still `pending`
//! with a later `next_attempt_at` after a transient failure. A row that is
//! not `pending` is never fetched again, unless its item changes (an update
//! in place re-queues it). A failure never touches the item: the feed's own
//! text stays as it was, and a refetch that fails keeps the article stored
//! before.
//!
//! The article's text is searchable (the `article` column of the search
//! index, migration 9: changing it re-queues the item for indexing), and
//! mentions found in it are added to `item_mentions`.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};

use super::{Store, StoreError, begin_write, cached, op};
use crate::clock::to_db_time;
use crate::model::Mention;

/// An article page due for fetching.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueArticle {
    pub item_id: i64,
    pub uid: String,
    /// The item's link, as archived.
    pub url: String,
    /// Attempts already made (transient failures).
    pub attempts: u32,
    /// The name of the feed the item was first archived from: for logs,
    /// and whose `user_agent` fetches the page.
    pub feed: String,
    /// When it was queued, as the archive holds it: a result counts only
    /// for that queueing ([`Store::record_article`]).
    pub queued: String,
}

/// What became of one article fetch, as the store records it.
#[derive(Debug, Clone, PartialEq)]
pub enum ArticleResult {
    /// The page was fetched and an article extracted from it.
    Fetched {
        status: u16,
        final_url: Option<String>,
        title: Option<String>,
        byline: Option<String>,
        /// Sanitised HTML.
        html: String,
        text: String,
        /// Configured symbols the article mentions, and how each was found.
        mentions: Vec<Mention>,
    },
    /// Not fetched: the site's robots.txt disallows it for our user agent.
    Disallowed { reason: String },
    /// Failed for good (4xx, too large, not HTML, nothing to extract, or
    /// the last of the attempts).
    Failed { status: Option<u16>, error: String },
    /// Failed for now: try again at `retry_at` (counts as an attempt).
    Retry {
        status: Option<u16>,
        error: String,
        retry_at: DateTime<Utc>,
    },
    /// Nothing was sent (the site is paused): try again at `until`,
    /// without counting an attempt.
    Deferred { until: DateTime<Utc> },
}

impl ArticleResult {
    /// The row's state afterwards, and the metrics label.
    pub fn as_str(&self) -> &'static str {
        match self {
            ArticleResult::Fetched { .. } => "fetched",
            ArticleResult::Disallowed { .. } => "disallowed",
            ArticleResult::Failed { .. } => "failed",
            ArticleResult::Retry { .. } => "retry",
            ArticleResult::Deferred { .. } => "deferred",
        }
    }
}

/// Queues the pages of `carried_ids` (items just archived, or just credited
/// to a `fulltext` feed; one queued before is left as it is) and re-queues
/// those of `updated_ids` (items changed in place) that had a row already. Only
/// http(s) links are queued. Returns how many pages it queued.
pub(crate) fn queue(
    tx: &Connection,
    carried_ids: &[i64],
    updated_ids: &[i64],
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    let now = to_db_time(now);
    let mut queued = 0;
    for id in carried_ids {
        queued += cached(
            tx,
            "INSERT OR IGNORE INTO item_articles (item_id, url, queued_at, next_attempt_at)
             SELECT id, url, ?2, ?2 FROM items
             WHERE id = ?1 AND (url LIKE 'http://%' OR url LIKE 'https://%')",
            params![id, now],
        )
        .map_err(op("queue an article page"))?;
    }
    for id in updated_ids {
        // The item changed: its page may have too. What was extracted
        // before stays until a new fetch replaces it.
        queued += cached(
            tx,
            "UPDATE item_articles
             SET url = coalesce((SELECT url FROM items WHERE id = ?1), url),
                 state = 'pending', attempts = 0, queued_at = ?2, next_attempt_at = ?2
             WHERE item_id = ?1
               AND EXISTS (SELECT 1 FROM items WHERE id = ?1
                           AND (url LIKE 'http://%' OR url LIKE 'https://%'))",
            params![id, now],
        )
        .map_err(op("queue a changed item's article page"))?;
    }
    Ok(queued)
}

impl Store {
    /// Woken whenever a fetch queued article pages (in this process).
    pub fn article_signal(&self) -> std::sync::Arc<tokio::sync::Notify> {
        std::sync::Arc::clone(&self.article_signal)
    }

    /// Up to `limit` article pages due at `now`, longest waiting first.
    pub async fn due_articles(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<DueArticle>, StoreError> {
        self.read(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT a.item_id, i.uid, a.url, a.attempts, f.name, a.queued_at
                     FROM item_articles a
                     JOIN items i ON i.id = a.item_id
                     JOIN feeds f ON f.id = i.origin_feed_id
                     WHERE a.state = 'pending' AND a.next_attempt_at <= ?1
                     ORDER BY a.next_attempt_at, a.item_id
                     LIMIT ?2",
                )
                .map_err(op("select due articles"))?;
            let rows = stmt
                .query_map(params![to_db_time(now), limit as i64], |r| {
                    Ok(DueArticle {
                        item_id: r.get(0)?,
                        uid: r.get(1)?,
                        url: r.get(2)?,
                        attempts: r.get(3)?,
                        feed: r.get(4)?,
                        queued: r.get(5)?,
                    })
                })
                .map_err(op("select due articles"))?
                .collect::<Result<_, _>>()
                .map_err(op("read a due article"))?;
            Ok(rows)
        })
        .await
    }

    /// Records what one fetch of `item_id`'s page, queued at `queued`
    /// ([`DueArticle::queued`]), came to, at `now`. Returns how many
    /// mentions the article added.
    pub async fn record_article(
        &self,
        item_id: i64,
        queued: String,
        result: ArticleResult,
        now: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        let stored = matches!(result, ArticleResult::Fetched { .. });
        let added = self
            .write(move |conn| {
                let tx = begin_write(conn, "begin recording an article")?;
                let added = record_in(&tx, item_id, &queued, &result, &to_db_time(now))?;
                tx.commit().map_err(op("commit an article"))?;
                Ok(added)
            })
            .await?;
        // A stored article changes what search (once indexed), the item's
        // page and its mentions show; a failure changes none of them.
        if stored {
            self.bump_generation();
        }
        Ok(added)
    }

    /// Article rows by state (`pending`, `fetched`, `failed`,
    /// `disallowed`), for `/metrics`.
    pub async fn article_counts(&self) -> Result<Vec<(String, i64)>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn
                .prepare_cached("SELECT state, count(*) FROM item_articles GROUP BY state")
                .map_err(op("count articles"))?;
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(op("count articles"))?
                .collect::<Result<_, _>>()
                .map_err(op("count articles"))?;
            Ok(rows)
        })
        .await
    }
}

/// The stored article of item `item_id`, sanitised HTML, if any (a
/// failed refetch keeps the one extracted before).
pub(crate) fn article_html(conn: &Connection, item_id: i64) -> Result<Option<String>, StoreError> {
    conn.prepare_cached(
        "SELECT content_html FROM item_articles WHERE item_id = ?1 AND content_html IS NOT NULL",
    )
    .and_then(|mut s| s.query_row([item_id], |r| r.get(0)).optional())
    .map_err(op("read an item's article"))
}

fn record_in(
    tx: &Connection,
    item_id: i64,
    queued: &str,
    result: &ArticleResult,
    now: &str,
) -> Result<usize, StoreError> {
    // Queued again while its page was fetched (the item changed: its page
    // may have too), or pruned: this result is for a queueing that is no
    // more. The row waits for the new fetch, or is gone; recording the old
    // page would mark the new one done, or fail the item's foreign key
    // (and with it the rest of the pass).
    let current: Option<String> = tx
        .prepare_cached("SELECT queued_at FROM item_articles WHERE item_id = ?1")
        .and_then(|mut s| s.query_row([item_id], |r| r.get(0)).optional())
        .map_err(op("read an article's queueing"))?;
    if current.as_deref() != Some(queued) {
        return Ok(0);
    }
    match result {
        ArticleResult::Fetched {
            status,
            final_url,
            title,
            byline,
            html,
            text,
            mentions,
        } => {
            cached(
                tx,
                "UPDATE item_articles
                 SET state = 'fetched', attempts = attempts + 1, attempted_at = ?2,
                     extracted_at = ?2, status = ?3, final_url = ?4, error = NULL,
                     title = ?5, byline = ?6, content_html = ?7, content_text = ?8
                 WHERE item_id = ?1",
                params![item_id, now, status, final_url, title, byline, html, text],
            )
            .map_err(op("store an article"))?;
            let added = super::symbols::record_mentions(tx, item_id, mentions)?;
            for m in mentions {
                // The board stamped at ingest may hold the symbol: it is
                // now one the item mentions.
                cached(
                    tx,
                    "UPDATE snapshot_quotes SET mentioned = 1 WHERE item_id = ?1 AND symbol = ?2",
                    params![item_id, m.symbol],
                )
                .map_err(op("mark a mentioned quote"))?;
            }
            Ok(added)
        }
        ArticleResult::Disallowed { reason } => {
            cached(
                tx,
                "UPDATE item_articles
                 SET state = 'disallowed', attempted_at = ?2, status = NULL, error = ?3
                 WHERE item_id = ?1",
                params![item_id, now, reason],
            )
            .map_err(op("record a page robots.txt disallows"))?;
            Ok(0)
        }
        ArticleResult::Failed { status, error } => {
            cached(
                tx,
                "UPDATE item_articles
                 SET state = 'failed', attempts = attempts + 1, attempted_at = ?2,
                     status = ?3, error = ?4
                 WHERE item_id = ?1",
                params![item_id, now, status, error],
            )
            .map_err(op("record a failed article fetch"))?;
            Ok(0)
        }
        ArticleResult::Retry {
            status,
            error,
            retry_at,
        } => {
            cached(
                tx,
                "UPDATE item_articles
                 SET attempts = attempts + 1, attempted_at = ?2, status = ?3, error = ?4,
                     next_attempt_at = ?5
                 WHERE item_id = ?1",
                params![item_id, now, status, error, to_db_time(*retry_at)],
            )
            .map_err(op("record an article fetch to retry"))?;
            Ok(0)
        }
        ArticleResult::Deferred { until } => {
            cached(
                tx,
                "UPDATE item_articles SET next_attempt_at = ?2 WHERE item_id = ?1",
                params![item_id, to_db_time(*until)],
            )
            .map_err(op("defer an article fetch"))?;
            Ok(0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// When the tests' pages are queued (`DateTime::UNIX_EPOCH`).
    const EPOCH: &str = "1970-01-01T00:00:00Z";

    /// An archive with one feed and one item, indexed for search.
    fn archive() -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        super::super::migrations::migrate(&mut conn).unwrap();
        conn.execute_batch(
            r#"
INSERT INTO feeds (id, name, url, schedule, created_at)
VALUES (1, 'wire', 'https://wire.test/rss', '*/15 * * * *', '2026-01-01T00:00:00Z');
INSERT INTO items (id, uid, origin_feed_id, url, title, summary_text, first_seen_at,
                   changed_at, sort_at, content_sha256)
VALUES (1, 'u1', 1, 'https://wire.test/a', 'Teaser', 'one line', '2026-01-01T00:00:00Z',
        '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z', 'h1'),
       (2, 'u2', 1, 'ftp://wire.test/b', 'Other', NULL, '2026-01-01T00:00:00Z',
        '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z', 'h2');
INSERT INTO fts_pending (item_id) VALUES (1), (2);
"#,
        )
        .unwrap();
        super::super::items::index_pending(&conn).unwrap();
        conn
    }

    fn hits(conn: &Connection, word: &str) -> i64 {
        conn.query_row(
            "SELECT count(*) FROM items_fts WHERE items_fts MATCH ?1",
            [word],
            |r| r.get(0),
        )
        .unwrap()
    }

    fn integrity(conn: &Connection) {
        conn.execute(
            "INSERT INTO items_fts(items_fts, rank) VALUES ('integrity-check', 1)",
            [],
        )
        .unwrap();
    }

    fn fetched(text: &str) -> ArticleResult {
        ArticleResult::Fetched {
            status: 200,
            final_url: None,
            title: Some("T".into()),
            byline: None,
            html: format!("<p>{text}</p>"),
            text: text.into(),
            mentions: vec![Mention {
                symbol: "BP".into(),
                matched_by: crate::model::MatchedBy::Name,
            }],
        }
    }

    /// The item changed while its page was being fetched, so its page was
    /// queued again: the older fetch's result does not mark the new
    /// queueing done.
    #[test]
    fn a_result_for_an_earlier_queueing_is_dropped() {
        let conn = archive();
        queue(&conn, &[1], &[], DateTime::UNIX_EPOCH).unwrap();
        let requeued = DateTime::UNIX_EPOCH + chrono::Duration::hours(1);
        queue(&conn, &[], &[1], requeued).unwrap();
        record_in(&conn, 1, EPOCH, &fetched("walrus"), "2026-01-01T00:00:00Z").unwrap();
        let state: String = conn
            .query_row("SELECT state FROM item_articles", [], |r| r.get(0))
            .unwrap();
        assert_eq!(state, "pending");
        record_in(
            &conn,
            1,
            &to_db_time(requeued),
            &fetched("narwhal"),
            "2026-01-01T00:00:00Z",
        )
        .unwrap();
        let state: String = conn
            .query_row("SELECT state FROM item_articles", [], |r| r.get(0))
            .unwrap();
        assert_eq!(state, "fetched");
    }

    /// An item pruned while its page was being fetched: the result is
    /// dropped quietly, not an error for the whole pass.
    #[test]
    fn an_article_for_a_pruned_item_is_dropped() {
        let conn = archive();
        conn.execute("PRAGMA foreign_keys = ON", []).unwrap();
        queue(&conn, &[1], &[], DateTime::UNIX_EPOCH).unwrap();
        conn.execute("DELETE FROM items WHERE id = 1", []).unwrap();
        assert_eq!(
            record_in(&conn, 1, EPOCH, &fetched("walrus"), "2026-01-01T00:00:00Z").unwrap(),
            0
        );
        let mentions: i64 = conn
            .query_row("SELECT count(*) FROM item_mentions", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mentions, 0);
    }

    #[test]
    fn only_http_links_are_queued_and_only_once() {
        let conn = archive();
        let now = DateTime::UNIX_EPOCH;
        queue(&conn, &[1, 2], &[], now).unwrap();
        queue(&conn, &[1], &[], now).unwrap();
        let n: i64 = conn
            .query_row("SELECT count(*) FROM item_articles", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1);
    }

    /// The article joins the search index, a second article replaces it
    /// there, and deleting the item (as pruning does) leaves the index
    /// whole: FTS5's integrity check fails on any 'delete' whose values
    /// differ from what was indexed.
    #[test]
    fn article_text_is_indexed_replaced_and_removed_cleanly() {
        let conn = archive();
        queue(&conn, &[1], &[], DateTime::UNIX_EPOCH).unwrap();
        record_in(
            &conn,
            1,
            EPOCH,
            &fetched("walrus migration"),
            "2026-01-01T00:00:00Z",
        )
        .unwrap();
        assert_eq!(hits(&conn, "walrus"), 0, "queued, not indexed yet");
        super::super::items::index_pending(&conn).unwrap();
        assert_eq!(hits(&conn, "walrus"), 1);
        integrity(&conn);

        record_in(
            &conn,
            1,
            EPOCH,
            &fetched("narwhal season"),
            "2026-01-02T00:00:00Z",
        )
        .unwrap();
        super::super::items::index_pending(&conn).unwrap();
        assert_eq!(hits(&conn, "walrus"), 0);
        assert_eq!(hits(&conn, "narwhal"), 1);
        integrity(&conn);

        // An update of the item itself keeps the article indexed.
        conn.execute("UPDATE items SET title = 'Teaser two' WHERE id = 1", [])
            .unwrap();
        super::super::items::index_pending(&conn).unwrap();
        assert_eq!(hits(&conn, "narwhal"), 1);
        integrity(&conn);

        conn.execute("PRAGMA foreign_keys = ON", []).unwrap();
        conn.execute("DELETE FROM items WHERE id = 1", []).unwrap();
        assert_eq!(hits(&conn, "narwhal"), 0);
        let left: i64 = conn
            .query_row("SELECT count(*) FROM item_articles", [], |r| r.get(0))
            .unwrap();
        assert_eq!(left, 0, "the article went with its item");
        integrity(&conn);
    }

    #[test]
    fn a_failure_keeps_the_item_and_an_earlier_article() {
        let conn = archive();
        queue(&conn, &[1], &[], DateTime::UNIX_EPOCH).unwrap();
        record_in(&conn, 1, EPOCH, &fetched("walrus"), "2026-01-01T00:00:00Z").unwrap();
        // The item changed: queued again; the refetch fails.
        queue(&conn, &[], &[1], DateTime::UNIX_EPOCH).unwrap();
        let failed = ArticleResult::Failed {
            status: Some(404),
            error: "HTTP 404 Not Found".into(),
        };
        record_in(&conn, 1, EPOCH, &failed, "2026-01-02T00:00:00Z").unwrap();
        let (state, text, error, summary): (String, String, String, String) = conn
            .query_row(
                "SELECT a.state, a.content_text, a.error, i.summary_text
                 FROM item_articles a JOIN items i ON i.id = a.item_id",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .unwrap();
        assert_eq!(
            (
                state.as_str(),
                text.as_str(),
                error.as_str(),
                summary.as_str()
            ),
            ("failed", "walrus", "HTTP 404 Not Found", "one line")
        );
        let mentions: i64 = conn
            .query_row("SELECT count(*) FROM item_mentions", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mentions, 1);
    }
}
