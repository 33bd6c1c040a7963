//! Items: dedup on ingest, pages and search for the merged feed, and
//! retention.
//!
//! Dedup is layered, cheapest first, all inside the fetch's transaction:
//! 1. this feed already carried this key (`item_sources` primary key):
//!    the same item, updated in place if its content changed (the old
//!    version kept in `item_revisions`, at most `MAX_REVISIONS`) and this
//!    feed is the one it was first archived from. An article an earlier
//!    version archived, whose hash is the entry's as that version read it
//!    (`NewItem::earlier_hash`), did not change: it is rewritten as this
//!    version reads it, without a revision or a new `changed_at`;
//! 2. a tombstone matches (the item was deleted on purpose): skipped;
//! 3. this feed carried an item with the same canonical link and title
//!    under another key (its guid changed), or, for an entry the feed now
//!    lists under a guid it shares with others, held the bare guid with the
//!    same text: the new key is an alias;
//! 4. another feed carried an item with the same globally meaningful guid
//!    (a URL, `urn:` or `tag:` id; bare numbers like "1234" are only unique
//!    within their feed), or whose link is that guid;
//! 5. another feed carried an item with the same canonical link (not a bare
//!    home page, which some feeds give every item), as link or guid.
//!
//! A match on 3, 4 or 5 credits the existing article to this feed too,
//! with the layer in `item_sources.matched_by` and the why in `reason`.
//!
//! A new item's place in every output (`sort_at`) is set here too: its
//! date, or its arrival when it came too late to be seen (`SortTimes`).
//!
//! Retention spares an item whose alert is still pending in the outbox:
//! the message is composed from it.

use chrono::{DateTime, TimeDelta, Utc};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, ParamsFromIter, ToSql, params, params_from_iter};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};

use super::known::KnownIds;
use super::{Store, StoreError, begin_write, cached, json_array_from, json_list, op, selection};
use crate::clock::{from_db_time, to_db_time};
use crate::link::{canonical_url, without_credentials};
use crate::model::{
    BoardView, Entry, EntrySource, FeedId, ItemKey, ItemUid, NewItem, published_as_seen,
};
use crate::select::{Selection, fts_query};

use super::feeds::IngestSummary;

/// Which items the merged feed wants.
#[derive(Debug, Clone, PartialEq)]
pub struct RecentQuery {
    pub limit: usize,
    /// Which items the output shows (a tag feed, a view, the merged feed's
    /// excludes).
    pub selection: Selection,
    /// Only items older than this position (paging back, RFC 5005).
    pub before: Option<Cursor>,
    /// Only items matching this full-text search.
    pub search: Option<String>,
    /// Only the item with this uid (an article's page).
    pub uid: Option<String>,
}

impl RecentQuery {
    pub fn newest(limit: usize) -> Self {
        RecentQuery {
            limit,
            selection: Selection::default(),
            before: None,
            search: None,
            uid: None,
        }
    }
}

/// A position in the merged feed's order (newest first): the sort time and
/// id of the last item on a page. Pages end at a position, not an offset,
/// so items arriving meanwhile never shift an older page.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Cursor {
    pub sort_at: String,
    pub id: i64,
}

impl Cursor {
    /// `2026-11-24T09:00:00Z~123`, safe in a query string once encoded.
    pub fn encode(&self) -> String {
        format!("{}~{}", self.sort_at, self.id)
    }

    pub fn decode(s: &str) -> Option<Cursor> {
        let (sort_at, id) = s.rsplit_once('~')?;
        from_db_time(sort_at)?;
        Some(Cursor {
            sort_at: sort_at.to_string(),
            id: id.parse().ok()?,
        })
    }
}

/// One page of the merged feed.
#[derive(Debug, Clone)]
pub struct Page {
    pub entries: Vec<Entry>,
    /// Where the next (older) page starts, when there is one.
    pub next: Option<Cursor>,
}

/// One search hit, for `tickerfeed search`.
#[derive(Debug, Clone)]
pub struct SearchHit {
    pub uid: String,
    pub title: String,
    pub url: Option<String>,
    pub feed: String,
    /// Its place in the merged feed's order (`items.sort_at`), the time
    /// a search's `since` is compared with.
    pub sort_at: String,
    /// Its text around the terms, with the terms in `[brackets]`: from
    /// its summary, content or article, never its title (which the hit
    /// shows already), as [`Store::snippets`] picks it; the summary's
    /// opening when only the title or feed name matched; empty when the
    /// item has no text.
    pub snippet: String,
    /// bm25, lower is better.
    pub rank: f64,
}

/// An article's life in the archive, for its page.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemHistory {
    pub first_seen: Option<DateTime<Utc>>,
    /// Earlier versions, newest first.
    pub revisions: Vec<Revision>,
    /// The article behind the item, sanitised HTML, when its feed has
    /// `fulltext` on and the page was fetched (`store::articles`).
    pub article_html: Option<String>,
    /// The symbols it mentions, as recorded, alphabetical: also those
    /// found while the board had no price (its snapshot has none).
    pub mentions: Vec<String>,
}

/// One earlier version of an article.
#[derive(Debug, Clone, PartialEq)]
pub struct Revision {
    /// 0 for the version first archived.
    pub revision: i64,
    /// When the next version replaced it.
    pub replaced_at: Option<DateTime<Utc>>,
    pub title: String,
}

/// What [`Store::snippets`] puts around each matched term: control
/// characters no text in the archive holds, so a page can escape the
/// snippet and then mark the terms.
pub const SNIPPET_MARKS: (&str, &str) = ("\u{2}", "\u{3}");

/// The snippets of item `uid`'s text columns for the full-text query
/// `fts`, terms between [`SNIPPET_MARKS`]: its summary, content and
/// article, in that order, those it has. A column without the terms gives
/// its opening with no marks, so the first one holding a mark is the hit.
/// Both the pages ([`Store::snippets`]) and `tickerfeed search`
/// ([`Store::search`]) take their snippets from here, so neither repeats
/// the title it shows.
fn text_snippets(conn: &Connection, fts: &str, uid: &str) -> Result<Vec<String>, StoreError> {
    // One lookup per item: the index is asked for this row's match only,
    // where a MATCH over the whole index walked every item containing the
    // word (70 ms for a common one at 100,000). Only the text columns
    // (summary, content, article: 1, 2 and 4) are asked; snippet() over
    // column -1 picks the title when the terms are there, and the page
    // showed the title twice.
    let columns: Option<[Option<String>; 3]> = conn
        .prepare_cached(
            "SELECT snippet(items_fts, 1, ?1, ?2, '…', 24),
                    snippet(items_fts, 2, ?1, ?2, '…', 24),
                    snippet(items_fts, 4, ?1, ?2, '…', 24)
             FROM items_fts
             WHERE items_fts MATCH ?3
               AND rowid = (SELECT id FROM items WHERE uid = ?4)",
        )
        .and_then(|mut stmt| {
            stmt.query_row(params![SNIPPET_MARKS.0, SNIPPET_MARKS.1, fts, uid], |r| {
                Ok([r.get(0)?, r.get(1)?, r.get(2)?])
            })
            .optional()
        })
        .map_err(op("find snippets"))?;
    Ok(columns
        .into_iter()
        .flatten()
        .flatten()
        .filter(|text| !text.is_empty())
        .collect())
}

/// A guid that identifies an article across feeds, not just inside one.
fn guid_is_global(guid: &str) -> bool {
    guid.contains("://") || guid.starts_with("urn:") || guid.starts_with("tag:")
}

/// A link worth matching across feeds: not a site's bare home page.
fn url_is_specific(canonical: &str) -> bool {
    match url::Url::parse(canonical) {
        Ok(u) => !u.path().trim_end_matches('/').is_empty() || u.query().is_some(),
        Err(_) => false,
    }
}

/// The archive-wide id of a new article: stable for the same feed name and
/// key, so rebuilding an archive from the same feeds gives the same ids.
fn mint_uid(feed_name: &str, key: &str) -> ItemUid {
    let mut h = Sha256::new();
    h.update((feed_name.len() as u64).to_be_bytes());
    h.update(feed_name.as_bytes());
    h.update(key.as_bytes());
    let digest = h.finalize();
    ItemUid(hex::encode(&digest[..16]))
}

/// How much older than the newest entry of its document that the feed had
/// already given (else than the feed's previous success) a new entry may
/// be and still count as late (`SortTimes`). Older, it is the feed's
/// backfill (a widened window, an archive imported by a new platform) and
/// keeps its date.
const BACKFILL_BEFORE: TimeDelta = TimeDelta::days(1);

/// Where one document's new items sort in the merged feed and on the
/// pages: each by its published (else updated) date, never later than its
/// arrival, so a feed cannot pin items to the top with future dates.
///
/// Nor far down the head (the fewest items a served feed shows:
/// `[output] max_items`, or a view's if smaller): an entry that appears
/// now dated below the head's middle (a feed that dates by the day, a
/// story held back, posts made while the feed or this daemon was down, a
/// feed polled less often than the head turns over) would soon, or at
/// once, be out of every document a subscriber's reader polls. Such a
/// late entry sorts at its arrival, late entries of one document a second
/// apart in their own order. Not so a feed's backlog (its first
/// successful document: a new feed's fifty old posts are not news), nor
/// backfill ([`BACKFILL_BEFORE`]): a feed that widens its window would
/// otherwise put months-old posts on top.
struct SortTimes {
    now: DateTime<Utc>,
    /// The fewest items a served feed shows (`AtIngest::head`); `None`:
    /// not told, and no entry is late.
    head: Option<usize>,
    /// The feed's previous successful fetch; `None`: this is its backlog.
    previous_success: Option<DateTime<Utc>>,
    /// Each late entry's place below its arrival by its date (by document
    /// index), worked out at the document's first new entry.
    late: Option<HashMap<usize, i64>>,
}

impl SortTimes {
    fn new(
        head: Option<usize>,
        previous_success: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Self {
        SortTimes {
            now,
            head,
            previous_success,
            late: None,
        }
    }

    fn dated(item: &NewItem, now: DateTime<Utc>) -> DateTime<Utc> {
        published_as_seen(item.published.or(item.updated), now).unwrap_or(now)
    }

    /// Where the document's entry at `index`, a new one, sorts.
    fn of(
        &mut self,
        tx: &Connection,
        feed_id: FeedId,
        items: &[NewItem],
        index: usize,
    ) -> Result<DateTime<Utc>, StoreError> {
        let dated = Self::dated(&items[index], self.now);
        let (Some(head), Some(previous_success)) = (self.head, self.previous_success) else {
            return Ok(dated);
        };
        if self.late.is_none() {
            self.late = Some(self.late_entries(tx, feed_id, items, head, previous_success)?);
        }
        Ok(match self.late.as_ref().and_then(|late| late.get(&index)) {
            Some(below) => self.now - TimeDelta::seconds(*below),
            None => dated,
        })
    }

    /// The document's late entries, each with how many seconds below its
    /// arrival it sorts: newest first, a tie in the document's order.
    fn late_entries(
        &self,
        tx: &Connection,
        feed_id: FeedId,
        items: &[NewItem],
        head: usize,
        previous_success: DateTime<Utc>,
    ) -> Result<HashMap<usize, i64>, StoreError> {
        // What the feed had already given: the rest of the document is
        // new, or taken for new (an entry under a key it shares with
        // others, an alias).
        let now_s = to_db_time(self.now);
        let mut recorded = tx
            .prepare_cached(WAS_GIVEN)
            .map_err(op("prepare a look-up of what the feed had given"))?;
        let mut given = HashSet::new();
        let mut newest: Option<DateTime<Utc>> = None;
        for (i, item) in items.iter().enumerate() {
            if recorded
                .query_row(params![feed_id.0, item.key.0, now_s], |r| {
                    r.get::<_, bool>(0)
                })
                .map_err(op("look up what the feed had given"))?
            {
                given.insert(i);
                newest = newest.max(Some(Self::dated(item, self.now)));
            }
        }
        // The head's middle, moved up by the document's own new entries,
        // which land above: an entry that keeps its date is in the newer
        // half of the head even after them, so half a head of later
        // arrivals leave it in every served feed. None: the archive holds
        // fewer, and every entry is in it.
        let fresh = items.len() - given.len();
        let edge: Option<String> = tx
            .prepare_cached(HEAD_EDGE)
            .and_then(|mut s| {
                s.query_row([(head / 2).saturating_sub(fresh) as i64], |r| r.get(0))
                    .optional()
            })
            .map_err(op("read the middle of the merged feed's head"))?;
        let Some(edge) = edge.as_deref().and_then(from_db_time) else {
            return Ok(HashMap::new());
        };
        // The reference for backfill: the newest date among this
        // document's entries the feed had given. None of them (an outage
        // that turned the whole window over, a new platform behind the
        // same address): when the feed last answered.
        let since = newest.unwrap_or(previous_success) - BACKFILL_BEFORE;
        // Ranked among the new ones only.
        let mut late: Vec<(usize, DateTime<Utc>)> = (items.iter().enumerate())
            .filter(|(i, _)| !given.contains(i))
            .map(|(i, item)| (i, Self::dated(item, self.now)))
            .filter(|&(_, at)| at < edge && at >= since)
            .collect();
        late.sort_by_key(|&(_, at)| std::cmp::Reverse(at));
        Ok((late.into_iter().enumerate())
            .map(|(rank, (i, _))| (i, rank as i64))
            .collect())
    }
}

/// The place of an item of the merged feed's head: the parameter is how
/// many newer ones it has.
const HEAD_EDGE: &str =
    "SELECT sort_at FROM items ORDER BY sort_at DESC, id DESC LIMIT 1 OFFSET ?1";

/// Whether the feed had given the entry under this key before now: it is
/// archived, or was, until retention deleted it (a tombstone).
const WAS_GIVEN: &str = "SELECT EXISTS (SELECT 1 FROM item_sources
                        WHERE feed_id = ?1 AND item_key = ?2 AND first_seen_at < ?3)
     OR EXISTS (SELECT 1 FROM tombstones WHERE feed_id = ?1 AND item_key = ?2)";

const FIND_SOURCE: &str = "SELECT s.item_id, i.origin_feed_id, i.content_sha256
     FROM item_sources s JOIN items i ON i.id = s.item_id
     WHERE s.feed_id = ?1 AND s.item_key = ?2";

/// The items one fetch archived for the first time, and those whose text
/// it changed, for what the writer does after ingest (alerts, rules).
#[derive(Debug, Default)]
pub(crate) struct Touched {
    pub(crate) new: Vec<i64>,
    pub(crate) changed: Vec<i64>,
    /// Articles another feed archived first, now credited to this one.
    pub(crate) credited: Vec<i64>,
    /// Articles an earlier version archived, unchanged, now written as
    /// this version reads them ([`NewItem::earlier_hash`]): no revision.
    pub(crate) rewritten: Vec<i64>,
}

/// The feed a document being archived came from.
pub(crate) struct FromFeed<'a> {
    pub(crate) id: FeedId,
    pub(crate) name: &'a str,
    /// The feed's last successful fetch before this one; `None`: this
    /// document is its backlog, whose dates [`SortTimes`] keeps.
    pub(crate) previous_success: Option<DateTime<Utc>>,
    /// The fewest items a served feed shows (`AtIngest::head`).
    pub(crate) head: Option<usize>,
}

/// Archives `items`; returns what changed and the ids of the items
/// inserted and of those updated in place.
pub(crate) fn ingest(
    tx: &Connection,
    known: &mut KnownIds,
    feed: FromFeed<'_>,
    items: &[NewItem],
    board: Option<&BoardView>,
    now: DateTime<Utc>,
) -> Result<(IngestSummary, Touched), StoreError> {
    let (feed_id, feed_name) = (feed.id, feed.name);
    let mut touched = Touched::default();
    let mut sort_times = SortTimes::new(feed.head, feed.previous_success, now);
    let now_s = to_db_time(now);
    let mut summary = IngestSummary {
        seen: items.len(),
        ..Default::default()
    };
    let mut find_source = tx
        .prepare_cached(FIND_SOURCE)
        .map_err(op("prepare source lookup"))?;
    // Tombstones are written only by pruning, never during a fetch.
    let any_tombstones: bool = tx
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM tombstones)")
        .and_then(|mut s| s.query_row([], |r| r.get(0)))
        .map_err(op("check for tombstones"))?;
    for (index, item) in items.iter().enumerate() {
        let mut look_up = |key: &ItemKey| -> Result<Option<(i64, i64, String)>, StoreError> {
            find_source
                .query_row(params![feed_id.0, key.0], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })
                .optional()
                .map_err(op("look up item"))
        };
        let mut carried = look_up(&item.key)?;
        // A key this feed has shown shared by several entries (one guid
        // for all, `normalize::disambiguate`) names none of them when an
        // entry comes alone under it: it is known by its shared key, or is
        // new, rather than an edit of whichever entry held the bare key
        // (an archive from before every sharer had its link added) or a
        // second copy of one archived under its shared key. Asked only
        // when it could be so: the entry differs from the one holding the
        // key, or none holds it and some item may carry its guid or link
        // (`KnownIds`), which a new article's almost never does.
        let may_be_shared = match &carried {
            Some((_, origin, hash)) => *origin == feed_id.0 && !item.hashes_to(hash),
            None => item
                .guid
                .as_deref()
                .or(item.canonical_url.as_deref())
                .is_none_or(|v| known.may_hold(v)),
        };
        let shared;
        let item = if may_be_shared && key_was_shared(tx, feed_id, &item.key)? {
            let mut key = item.shared_key();
            carried = look_up(&key)?;
            if carried.is_none() {
                // Its siblings shared its link too.
                let twice = item.twice_shared_key();
                carried = look_up(&twice)?;
                if carried.is_some() {
                    key = twice;
                }
            }
            shared = NewItem {
                key,
                ..item.clone()
            };
            &shared
        } else {
            item
        };
        if let Some((item_id, origin, hash)) = carried {
            if origin == feed_id.0 && hash == item.earlier_hash && hash != item.content_hash {
                // Archived by an earlier version, unchanged since: written
                // as this version reads it, no revision, no new date.
                rewrite_item(tx, item_id, item)?;
                touched.rewritten.push(item_id);
            } else if origin == feed_id.0 && hash != item.content_hash {
                update_item(tx, item_id, item, &now_s)?;
                known.add(item.guid.as_deref(), item.canonical_url.as_deref());
                summary.updated += 1;
                touched.changed.push(item_id);
            }
            cached(
                tx,
                "UPDATE item_sources SET last_seen_at = ?3 WHERE feed_id = ?1 AND item_key = ?2",
                params![feed_id.0, item.key.0, now_s],
            )
            .map_err(op("touch item source"))?;
            continue;
        }
        // Deleted on purpose (prune, retention): never bring it back.
        if any_tombstones && is_tombstoned(tx, feed_id, item)? {
            continue;
        }
        // A guid that changed on an article this feed already carries (same
        // canonical link and title): the new key becomes an alias.
        if let Some((item_id, old_key, why)) = find_alias(tx, known, feed_id, item)? {
            cached(tx,
                "INSERT INTO item_sources (feed_id, item_key, item_id, matched_by, first_seen_at, last_seen_at, reason)
                 VALUES (?1, ?2, ?3, 'alias', ?4, ?4, ?5)",
                params![
                    feed_id.0,
                    item.key.0,
                    item_id,
                    now_s,
                    format!("key changed from {old_key:?} to {:?}; {why}", item.key.0)
                ],
            )
            .map_err(op("record item alias"))?;
            summary.merged += 1;
            continue;
        }
        let (item_id, matched_by, reason) = match find_elsewhere(tx, known, feed_id, item)? {
            Some((id, layer, reason)) => {
                summary.merged += 1;
                touched.credited.push(id);
                (id, layer, Some(reason))
            }
            None => {
                summary.new += 1;
                let sort_at = sort_times.of(tx, feed_id, items, index)?;
                let id = insert_item(tx, feed_id, feed_name, item, sort_at, now)?;
                known.add(item.guid.as_deref(), item.canonical_url.as_deref());
                // Only new articles are stamped: the board as it stood when
                // the archive first saw them.
                super::quotes::stamp_item(tx, id, board, &item.mentions, now)?;
                touched.new.push(id);
                (id, "new", None)
            }
        };
        cached(tx,
            "INSERT INTO item_sources (feed_id, item_key, item_id, matched_by, first_seen_at, last_seen_at, reason)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6)",
            params![feed_id.0, item.key.0, item_id, matched_by, now_s, reason],
        )
        .map_err(op("record item source"))?;
    }
    Ok((summary, touched))
}

/// Items waiting in `fts_pending` that the writer indexes as soon as a
/// commit leaves it idle (no fetch waiting), in a transaction of its own
/// (`feeds::drain`). Below it, or while fetches keep the writer busy, the
/// queue waits for [`Store::index_for_search`], which the daemon calls
/// every two seconds and a poll when it ends. FTS5 writes an index segment
/// per indexing transaction and merges segments as they pile up: indexing
/// once per fetch (most transactions in a poll hold one fetch) cost a
/// tenth of a first poll's wall time in flushes and merges. Recording
/// transactions never index (issue 20): the writer indexes between them,
/// when no fetch is waiting.
pub(crate) const SEARCH_BATCH: i64 = 1_000;

/// Indexes the search queue in `tx` if it holds at least `at_least`
/// items; returns how many it indexed.
pub(crate) fn index_queue(tx: &Connection, at_least: i64) -> Result<usize, StoreError> {
    let waiting: i64 = tx
        .prepare_cached("SELECT count(*) FROM fts_pending")
        .and_then(|mut s| s.query_row([], |r| r.get(0)))
        .map_err(op("count items waiting for search"))?;
    if waiting == 0 || waiting < at_least {
        return Ok(0);
    }
    index_pending(tx)
}

/// Indexes the items queued in `fts_pending` (new or changed since the
/// last call) for full-text search, in one statement: one statement per
/// batch, rather than one per item, is what keeps FTS5 from writing a
/// segment per item. A queued row the index holds already (an analyst's
/// `'rebuild'` indexed it) is left as it is: indexing it twice would
/// leave terms no 'delete' removes.
pub(crate) fn index_pending(tx: &Connection) -> Result<usize, StoreError> {
    let indexed = cached(
        tx,
        "INSERT INTO items_fts (rowid, title, summary, content, feed, article)
         SELECT s.id, s.title, s.summary, s.content, s.feed, s.article
         FROM fts_pending p JOIN v_search_source s ON s.id = p.item_id
         WHERE NOT EXISTS (SELECT 1 FROM items_fts_docsize d WHERE d.id = p.item_id)",
        [],
    )
    .map_err(op("index new items for search"))?;
    cached(tx, "DELETE FROM fts_pending", []).map_err(op("clear the search queue"))?;
    Ok(indexed)
}

/// Queues for search the items added after the newest indexed one: rows
/// another program inserted by hand (tickerfeed queues its own as it
/// inserts them). Looks only past the index's highest rowid, so it costs
/// two index lookups however large the archive; a row inserted by hand
/// below it is queued when it changes (trigger `items_fts_update`).
pub(crate) fn queue_unindexed(conn: &Connection) -> Result<usize, StoreError> {
    cached(
        conn,
        "INSERT OR IGNORE INTO fts_pending (item_id)
         SELECT id FROM items
         WHERE id > (SELECT coalesce(max(id), 0) FROM items_fts_docsize)",
        [],
    )
    .map_err(op("queue unindexed items for search"))
}

const FIND_ELSEWHERE: &str = "SELECT i.id FROM items i
     WHERE (i.guid = ?1 OR i.canonical_url = ?1)
       AND NOT EXISTS (SELECT 1 FROM item_sources s WHERE s.item_id = i.id AND s.feed_id = ?2)
     ORDER BY i.id LIMIT 1";

fn find_elsewhere(
    tx: &Connection,
    known: &KnownIds,
    feed_id: FeedId,
    item: &NewItem,
) -> Result<Option<(i64, &'static str, String)>, StoreError> {
    // What identifies the article beyond this feed: a global guid (and, when
    // it is a URL, its canonical form, since feeds often use the link as
    // guid) and the canonical link. Each is compared with other items'
    // guids and links alike, so the match does not depend on which feed
    // was polled first.
    // Only values some item may carry are looked up (`KnownIds`).
    let mut candidates: Vec<(String, &'static str)> = Vec::new();
    if let Some(guid) = item.guid.as_deref().filter(|g| guid_is_global(g)) {
        if known.may_hold(guid) {
            candidates.push((guid.to_string(), "guid"));
        }
        if let Some(c) =
            canonical_url(guid).filter(|c| c != guid && known.may_hold(c) && url_is_specific(c))
        {
            candidates.push((c, "guid"));
        }
    }
    if let Some(url) = item
        .canonical_url
        .as_deref()
        .filter(|u| known.may_hold(u) && url_is_specific(u))
    {
        candidates.push((url.to_string(), "url"));
    }
    if candidates.is_empty() {
        return Ok(None);
    }
    // "Not already carried by this feed": inside one feed, distinct keys
    // are distinct items even when they share a link.
    let mut stmt = tx
        .prepare_cached(FIND_ELSEWHERE)
        .map_err(op("prepare cross-feed match"))?;
    for (value, layer) in candidates {
        let value = &value;
        let found: Option<i64> = stmt
            .query_row(params![value, feed_id.0], |r| r.get(0))
            .optional()
            .map_err(op("match item across feeds"))?;
        if let Some(id) = found {
            let what = if layer == "guid" {
                "guid"
            } else {
                "canonical link"
            };
            return Ok(Some((
                id,
                layer,
                format!("same {what} as an article already archived: {value}"),
            )));
        }
    }
    Ok(None)
}

/// The columns an item's content fills, bound as `?3` to `?17` by both the
/// insert and the update (after two leading parameters of their own), so
/// the two statements cannot disagree on order: guid, url, canonical_url,
/// title, summary_html, content_html, authors, categories, published_at,
/// updated_at, content_sha256, summary_text, content_text, enclosures,
/// author_emails.
struct ContentColumns<'i> {
    item: &'i NewItem,
    authors: String,
    /// JSON, NULL when no author has one.
    author_emails: Option<String>,
    categories: String,
    /// JSON, NULL when there are none.
    enclosures: Option<String>,
    published: Option<String>,
    updated: Option<String>,
}

impl<'i> ContentColumns<'i> {
    fn of(item: &'i NewItem) -> Self {
        ContentColumns {
            item,
            authors: json_list(&item.authors),
            author_emails: author_emails(item),
            categories: json_list(&item.categories),
            enclosures: (!item.enclosures.is_empty())
                .then(|| serde_json::to_string(&item.enclosures).expect("strings and numbers")),
            published: item.published.map(to_db_time),
            updated: item.updated.map(to_db_time),
        }
    }

    /// `head` (`?1`, `?2`), the content columns, then `tail`.
    fn bind<'a>(
        &'a self,
        head: &'a [&'a dyn ToSql; 2],
        tail: &'a [&'a dyn ToSql],
    ) -> ParamsFromIter<impl Iterator<Item = &'a dyn ToSql>> {
        let i = self.item;
        let content: [&'a dyn ToSql; 15] = [
            &i.guid,
            &i.url,
            &i.canonical_url,
            &i.title,
            &i.summary_html,
            &i.content_html,
            &self.authors,
            &self.categories,
            &self.published,
            &self.updated,
            &i.content_hash,
            &i.summary_text,
            &i.content_text,
            &self.enclosures,
            &self.author_emails,
        ];
        params_from_iter(
            head.iter()
                .copied()
                .chain(content)
                .chain(tail.iter().copied()),
        )
    }
}

fn insert_item(
    tx: &Connection,
    feed_id: FeedId,
    feed_name: &str,
    item: &NewItem,
    sort_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<i64, StoreError> {
    let uid = mint_uid(feed_name, &item.key.0);
    let (now_s, sort_s) = (to_db_time(now), to_db_time(sort_at));
    let content = ContentColumns::of(item);
    cached(
        tx,
        // Numbered past every id retention ever deleted (migration 21):
        // an id is never given again.
        "INSERT INTO items (id, uid, origin_feed_id, guid, url, canonical_url, title, summary_html,
                            content_html, authors, categories, published_at, updated_at,
                            content_sha256, summary_text, content_text, enclosures,
                            author_emails, first_seen_at, changed_at, sort_at)
         VALUES (max((SELECT coalesce(max(id), 0) FROM items),
                     (SELECT highest_deleted FROM item_id_mark)) + 1,
                 ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18,
                 ?18, ?19)",
        content.bind(&[&uid.0, &feed_id.0], &[&now_s, &sort_s]),
    )
    .map_err(op("insert item"))?;
    let id = tx.last_insert_rowid();
    cached(tx, "INSERT INTO fts_pending (item_id) VALUES (?1)", [id])
        .map_err(op("queue a new item for search"))?;
    Ok(id)
}

/// Most previous versions kept per item. A feed that rewrites an item on
/// every poll (a live blog, a counter in the text) would otherwise store
/// it thousands of times; past the cap the item is still updated in place.
const MAX_REVISIONS: i64 = 25;

fn update_item(
    tx: &Connection,
    item_id: i64,
    item: &NewItem,
    now_s: &str,
) -> Result<(), StoreError> {
    cached(
        tx,
        "INSERT INTO item_revisions (item_id, revision, replaced_at, title, url, summary_html,
                                     content_html, published_at, updated_at, content_sha256)
         SELECT id, revision, ?2, title, url, summary_html, content_html, published_at,
                updated_at, content_sha256
         FROM items WHERE id = ?1 AND revision < ?3",
        params![item_id, now_s, MAX_REVISIONS],
    )
    .map_err(op("keep the previous version of an item"))?;
    cached(
        tx,
        "UPDATE items SET guid = ?3, url = ?4, canonical_url = ?5, title = ?6, summary_html = ?7,
                content_html = ?8, authors = ?9, categories = ?10, published_at = ?11,
                updated_at = ?12, content_sha256 = ?13, summary_text = ?14, content_text = ?15,
                enclosures = ?16, author_emails = ?17, changed_at = ?2, revision = revision + 1
         WHERE id = ?1",
        ContentColumns::of(item).bind(&[&item_id, &now_s], &[]),
    )
    .map_err(op("update item"))?;
    Ok(())
}

/// Writes `item` over the article an earlier version archived from the
/// same entry ([`NewItem::earlier_hash`]): its text as this version reads
/// it (plain text with its paragraphs, author names without brackets) and
/// the hash of that, without a revision or a new `changed_at`, since the
/// publisher changed nothing. Its guid, links and dates are the entry's
/// own, as they were.
fn rewrite_item(tx: &Connection, item_id: i64, item: &NewItem) -> Result<(), StoreError> {
    cached(
        tx,
        "UPDATE items SET summary_html = ?2, content_html = ?3, authors = ?4,
                content_sha256 = ?5, author_emails = ?6
         WHERE id = ?1",
        params![
            item_id,
            item.summary_html,
            item.content_html,
            json_list(&item.authors),
            item.content_hash,
            author_emails(item)
        ],
    )
    .map_err(op("rewrite an item as this version reads it"))?;
    // Apart, and only when they differ: writing the plain texts takes the
    // item out of the search index until it is indexed again (the
    // `items_fts_update` trigger), which an article whose only change is
    // its authors' brackets need not be.
    cached(
        tx,
        "UPDATE items SET summary_text = ?2, content_text = ?3
         WHERE id = ?1 AND (summary_text IS NOT ?2 OR content_text IS NOT ?3)",
        params![item_id, item.summary_text, item.content_text],
    )
    .map_err(op("rewrite an item's text as this version reads it"))?;
    Ok(())
}

/// `items.author_emails` of `item`: a JSON array beside its authors, NULL
/// when none has an address (nearly every item).
fn author_emails(item: &NewItem) -> Option<String> {
    item.author_emails
        .iter()
        .any(Option::is_some)
        .then(|| serde_json::to_string(&item.author_emails).expect("strings and nulls"))
}

/// Whether `feed_id` carries entries under `key` with something added
/// ([`NewItem::shared_key`]): keys `key|...`, which sort from `key|` up
/// to, not including, `key}` (`}` follows `|`).
fn key_was_shared(tx: &Connection, feed_id: FeedId, key: &ItemKey) -> Result<bool, StoreError> {
    tx.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM item_sources
                         WHERE feed_id = ?1 AND item_key >= ?2 || '|' AND item_key < ?2 || '}')",
    )
    .and_then(|mut s| s.query_row(params![feed_id.0, key.0], |r| r.get(0)))
    .map_err(op("look for a shared key"))
}

const IS_TOMBSTONED: &str = "SELECT EXISTS (SELECT 1 FROM tombstones
                    WHERE (feed_id = ?1 AND item_key = ?2)
                       OR (?3 IS NOT NULL AND canonical_url = ?3)
                       OR (?4 IS NOT NULL AND guid = ?4))";

/// Whether pruning deleted `item`: by this feed's key, or by a link or
/// guid that names one article (a site's home page, which some feeds give
/// every entry, would bury every later entry).
fn is_tombstoned(tx: &Connection, feed_id: FeedId, item: &NewItem) -> Result<bool, StoreError> {
    let guid = item.guid.as_deref().filter(|g| guid_is_global(g));
    let canonical = item.canonical_url.as_deref().filter(|u| url_is_specific(u));
    tx.prepare_cached(IS_TOMBSTONED)
        .and_then(|mut s| {
            s.query_row(params![feed_id.0, item.key.0, canonical, guid], |r| {
                r.get(0)
            })
        })
        .map_err(op("check tombstones"))
}

/// An item of this feed with the same canonical link and title. CROSS JOIN
/// keeps SQLite's join order: look the link up first (a handful of rows),
/// then check this feed carried it. Left to choose, the planner walked all
/// of the feed's sources for every new item, which grows with the archive.
const FIND_ALIAS: &str = "SELECT i.id, s.item_key FROM items i
     CROSS JOIN item_sources s ON s.item_id = i.id AND s.feed_id = ?1
     WHERE i.canonical_url = ?2 AND i.title = ?3
     ORDER BY s.first_seen_at LIMIT 1";

/// The entry of this feed that `item` is, known under another key: the
/// key it had, and why they are the same.
fn find_alias(
    tx: &Connection,
    known: &KnownIds,
    feed_id: FeedId,
    item: &NewItem,
) -> Result<Option<(i64, String, &'static str)>, StoreError> {
    if let Some(url) = item
        .canonical_url
        .as_deref()
        .filter(|u| known.may_hold(u) && url_is_specific(u))
    {
        let found = tx
            .prepare_cached(FIND_ALIAS)
            .and_then(|mut s| {
                s.query_row(params![feed_id.0, url, item.title], |r| {
                    Ok((r.get(0)?, r.get(1)?, "same canonical link and title"))
                })
                .optional()
            })
            .map_err(op("look for a changed guid"))?;
        if found.is_some() {
            return Ok(found);
        }
    }
    // An entry that came alone under the guid its feed now gives several
    // (so it holds the bare key), listed now under its shared key, with a
    // link that does not tell it apart (the site's home page): the same
    // text makes it the same entry.
    let Some(bare) = item
        .guid
        .as_deref()
        .map(ItemKey::of_guid)
        .filter(|bare| *bare != item.key)
    else {
        return Ok(None);
    };
    let held = tx
        .prepare_cached(FIND_SOURCE)
        .and_then(|mut s| {
            s.query_row(params![feed_id.0, bare.0], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(2)?))
            })
            .optional()
        })
        .map_err(op("look for the entry holding a shared guid"))?;
    Ok(held
        .filter(|(_, hash)| item.hashes_to(hash))
        .map(|(id, _)| (id, bare.0, "its guid is shared; same content")))
}

impl Store {
    /// The newest items, newest first, with every feed that carried each.
    pub async fn recent(&self, q: RecentQuery) -> Result<Vec<Entry>, StoreError> {
        Ok(self.page(q).await?.entries)
    }

    /// One page of the merged feed: `q.limit` entries, newest first, and
    /// where the next page starts.
    pub async fn page(&self, q: RecentQuery) -> Result<Page, StoreError> {
        self.read(move |conn| {
            let mut entries = Vec::new();
            let mut ids = Vec::new();
            let mut next = None;
            {
                let mut filter = selection::filter(&q.selection);
                if let Some(text) = &q.search {
                    filter.search(text);
                }
                if let Some(c) = &q.before {
                    filter.before(&c.sort_at, c.id);
                }
                if let Some(uid) = &q.uid {
                    filter.uid(uid);
                }
                let sql = page_sql(&filter);
                let mut stmt = conn
                    .prepare_cached(&sql)
                    .map_err(op("select recent items"))?;
                let mut params = filter.params;
                // One more than asked: its presence says an older page exists.
                params.push(Value::Integer(q.limit as i64 + 1));
                let mut rows = stmt
                    .query(params_from_iter(params))
                    .map_err(op("select recent items"))?;
                let mut last: Option<Cursor> = None;
                while let Some(r) = rows.next().map_err(op("read item"))? {
                    if entries.len() == q.limit {
                        next = last.take();
                        break;
                    }
                    last = Some(Cursor {
                        sort_at: r.get(10).map_err(op("read item"))?,
                        id: r.get(0).map_err(op("read item"))?,
                    });
                    let list = |i: usize| -> rusqlite::Result<Vec<String>> {
                        Ok(serde_json::from_str(&r.get::<_, String>(i)?).unwrap_or_default())
                    };
                    let time = |i: usize| -> rusqlite::Result<Option<DateTime<Utc>>> {
                        Ok(r.get::<_, Option<String>>(i)?
                            .as_deref()
                            .and_then(from_db_time))
                    };
                    ids.push(r.get::<_, i64>(0).map_err(op("read item"))?);
                    let read = || -> rusqlite::Result<Entry> {
                        Ok(Entry {
                            id: ItemUid(r.get(1)?).entry_id(),
                            title: r.get(2)?,
                            url: r.get(3)?,
                            summary_html: r.get(4)?,
                            content_html: r.get(5)?,
                            authors: list(6)?,
                            author_emails: json_array_from(r, 12)?,
                            categories: list(7)?,
                            enclosures: json_array_from(r, 11)?,
                            published: match time(13)? {
                                Some(first_seen) => published_as_seen(time(8)?, first_seen),
                                None => time(8)?,
                            },
                            updated: time(9)?.unwrap_or(DateTime::UNIX_EPOCH),
                            sources: Vec::new(),
                            snapshot: None,
                        })
                    };
                    entries.push(read().map_err(op("read item"))?);
                }
            }
            // The feed the article was archived from first (the outputs'
            // `source`): times are kept to the second, and the feeds of
            // one pass tie, so the time alone cannot say which it was.
            let mut stmt = conn
                .prepare_cached(
                    "SELECT f.name, f.title, coalesce(f.effective_url, f.url), f.site_url, f.feed_guid,
                            f.feed_updated_at, f.url
                     FROM item_sources s JOIN feeds f ON f.id = s.feed_id
                     JOIN items i ON i.id = s.item_id
                     WHERE s.item_id = ?1
                     ORDER BY s.feed_id <> i.origin_feed_id, s.first_seen_at, f.id",
                )
                .map_err(op("select item sources"))?;
            // The archive keeps the feeds' addresses with the values
            // their URLs took from the environment blanked already.
            let no_values = crate::link::Filled::default();
            for (entry, id) in entries.iter_mut().zip(ids) {
                entry.snapshot = super::quotes::snapshot_of(conn, id)?;
                let sources = stmt
                    .query_map([id], |r| {
                        Ok(EntrySource {
                            name: r.get(0)?,
                            title: r.get(1)?,
                            feed_url: without_credentials(&r.get::<_, String>(2)?, &no_values),
                            site_url: r.get(3)?,
                            feed_guid: Some(match r.get::<_, Option<String>>(4)? {
                                Some(guid) => guid,
                                None => without_credentials(&r.get::<_, String>(6)?, &no_values),
                            }),
                            updated: r
                                .get::<_, Option<String>>(5)?
                                .as_deref()
                                .and_then(from_db_time),
                        })
                    })
                    .map_err(op("select item sources"))?;
                entry.sources = sources
                    .collect::<Result<_, _>>()
                    .map_err(op("read item source"))?;
            }
            Ok(Page { entries, next })
        })
        .await
    }

    /// Full-text search, best first (bm25 with the title weighted up).
    pub async fn search(
        &self,
        text: &str,
        limit: usize,
        since: Option<DateTime<Utc>>,
    ) -> Result<Vec<SearchHit>, StoreError> {
        let Some(fts) = fts_query(text) else {
            return Ok(Vec::new());
        };
        self.read(move |conn| {
            // The best ?3 matches are picked from the full-text index alone
            // (bm25 needs nothing else), and only they are joined to their
            // items and get snippets; CROSS JOIN keeps SQLite from turning
            // that join around. Sorting the joined rows instead read every
            // matching item's row first: 0.13 s of CPU for a word found in
            // 60,000 of 100,000 items, against 0.045 s (bench/serve.sh).
            let mut stmt = conn
                .prepare_cached(
                    "WITH best AS (
                         SELECT rowid AS id, bm25(items_fts, 10.0, 3.0, 1.0, 2.0, 1.0) AS rank
                         FROM items_fts
                         WHERE items_fts MATCH ?1
                           AND (?2 IS NULL OR rowid IN (SELECT id FROM items WHERE sort_at >= ?2))
                         ORDER BY rank LIMIT ?3)
                     SELECT i.uid, i.title, i.url, f.name, i.sort_at, best.rank
                     FROM best
                     CROSS JOIN items i
                     CROSS JOIN feeds f
                     WHERE i.id = best.id AND f.id = i.origin_feed_id
                     ORDER BY best.rank",
                )
                .map_err(op("search"))?;
            let mut hits: Vec<SearchHit> = stmt
                .query_map(params![fts, since.map(to_db_time), limit as i64], |r| {
                    Ok(SearchHit {
                        uid: r.get(0)?,
                        title: r.get(1)?,
                        url: r.get(2)?,
                        feed: r.get(3)?,
                        sort_at: r.get(4)?,
                        snippet: String::new(),
                        rank: r.get(5)?,
                    })
                })
                .map_err(op("search"))?
                .collect::<Result<_, _>>()
                .map_err(op("read search hit"))?;
            for hit in &mut hits {
                let texts = text_snippets(conn, &fts, &hit.uid)?;
                // Unlike a page, the command has no summary of its own to
                // fall back on, so a hit in the title alone shows the
                // opening of the first text it has.
                let shown = texts
                    .iter()
                    .find(|text| text.contains(SNIPPET_MARKS.0))
                    .or(texts.first());
                if let Some(text) = shown {
                    hit.snippet = text
                        .replace(SNIPPET_MARKS.0, "[")
                        .replace(SNIPPET_MARKS.1, "]");
                }
            }
            Ok(hits)
        })
        .await
    }

    /// Each of `uids`' text around the terms of a full-text search, the
    /// terms between [`SNIPPET_MARKS`], for pages that highlight them. An
    /// item the search does not match has none, nor has one it matches only
    /// in its title or its feed's name: the page shows the title already,
    /// and its summary says more than the title again would.
    pub async fn snippets(
        &self,
        text: &str,
        uids: Vec<String>,
    ) -> Result<HashMap<String, String>, StoreError> {
        let Some(fts) = fts_query(text).filter(|_| !uids.is_empty()) else {
            return Ok(HashMap::new());
        };
        self.read(move |conn| {
            let mut found = HashMap::with_capacity(uids.len());
            for uid in uids {
                let hit = text_snippets(conn, &fts, &uid)?
                    .into_iter()
                    .find(|text| text.contains(SNIPPET_MARKS.0));
                if let Some(snippet) = hit {
                    found.insert(uid, snippet);
                }
            }
            Ok(found)
        })
        .await
    }

    /// When the archive first saw the article `uid`, and its earlier
    /// versions, newest first; `None` when no item has that uid.
    pub async fn item_history(&self, uid: &str) -> Result<Option<ItemHistory>, StoreError> {
        let uid = uid.to_string();
        self.read(move |conn| {
            let Some((id, first_seen)) = conn
                .prepare_cached("SELECT id, first_seen_at FROM items WHERE uid = ?1")
                .and_then(|mut s| {
                    s.query_row([&uid], |r| {
                        Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
                    })
                    .optional()
                })
                .map_err(op("find an item"))?
            else {
                return Ok(None);
            };
            let revisions = conn
                .prepare_cached(
                    "SELECT revision, replaced_at, title FROM item_revisions
                     WHERE item_id = ?1 ORDER BY revision DESC",
                )
                .and_then(|mut s| {
                    s.query_map([id], |r| {
                        Ok(Revision {
                            revision: r.get(0)?,
                            replaced_at: from_db_time(&r.get::<_, String>(1)?),
                            title: r.get(2)?,
                        })
                    })?
                    .collect::<Result<Vec<_>, _>>()
                })
                .map_err(op("read an item's revisions"))?;
            let article_html = super::articles::article_html(conn, id)?;
            let mentions = super::symbols::mentions_of(conn, id)?;
            Ok(Some(ItemHistory {
                first_seen: from_db_time(&first_seen),
                revisions,
                article_html,
                mentions,
            }))
        })
        .await
    }

    /// Deletes items older than `max_age` (by first sight) and, per feed,
    /// all but the newest `max_per_feed` it was the origin of, leaving a
    /// tombstone for each so they never come back; an item with an alert
    /// still to send waits for it. Returns how many.
    pub async fn prune(
        &self,
        max_age: Option<chrono::Duration>,
        max_per_feed: Option<usize>,
        now: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        let deleted = self
            .write(move |conn| {
                let tx = begin_write(conn, "begin pruning")?;
                let mut doomed: Vec<i64> = Vec::new();
                if let Some(age) = max_age {
                    let cutoff = to_db_time(now - age);
                    let mut stmt = tx
                        .prepare("SELECT id FROM items WHERE first_seen_at < ?1")
                        .map_err(op("select old items"))?;
                    doomed.extend(
                        stmt.query_map([cutoff], |r| r.get::<_, i64>(0))
                            .map_err(op("select old items"))?
                            .filter_map(Result::ok),
                    );
                }
                if let Some(keep) = max_per_feed {
                    let mut stmt = tx
                        .prepare(
                            "SELECT id FROM (
                                 SELECT id, row_number() OVER (PARTITION BY origin_feed_id
                                                               ORDER BY sort_at DESC, id DESC) AS n
                                 FROM items)
                             WHERE n > ?1",
                        )
                        .map_err(op("select surplus items"))?;
                    doomed.extend(
                        stmt.query_map([keep as i64], |r| r.get::<_, i64>(0))
                            .map_err(op("select surplus items"))?
                            .filter_map(Result::ok),
                    );
                }
                doomed.sort_unstable();
                doomed.dedup();
                // An alert still to be sent needs its item (the message is
                // composed from it): kept until the alert is sent or given
                // up, so a receiver down for longer than retention keeps
                // costs no alert.
                let awaited: HashSet<i64> = tx
                    .prepare(
                        "SELECT i.id FROM alert_outbox o JOIN items i ON i.uid = o.item_uid
                         WHERE o.state = 'pending'",
                    )
                    .and_then(|mut stmt| {
                        stmt.query_map([], |r| r.get(0))?
                            .collect::<Result<_, _>>()
                    })
                    .map_err(op("select items awaiting an alert"))?;
                doomed.retain(|id| !awaited.contains(id));
                let reason = match (max_age, max_per_feed) {
                    (Some(a), Some(n)) => format!("retention: older than {} days or beyond {n} per feed", a.num_days()),
                    (Some(a), None) => format!("retention: older than {} days", a.num_days()),
                    (None, Some(n)) => format!("retention: beyond {n} items per feed"),
                    (None, None) => "prune".to_string(),
                };
                for id in &doomed {
                    // One tombstone per key any feed knew the item by, plus
                    // its link and guid, so no feed can bring it back.
                    cached(&tx,
                        "INSERT INTO tombstones (uid, feed_id, item_key, guid, canonical_url, title, deleted_at, reason)
                         SELECT i.uid, s.feed_id, s.item_key, i.guid, i.canonical_url, i.title, ?2, ?3
                         FROM items i JOIN item_sources s ON s.item_id = i.id WHERE i.id = ?1",
                        params![id, to_db_time(now), reason],
                    )
                    .map_err(op("write tombstone"))?;
                    cached(&tx, "DELETE FROM items WHERE id = ?1", [id])
                        .map_err(op("delete item"))?;
                }
                tx.commit().map_err(op("commit pruning"))?;
                Ok(doomed.len())
            })
            .await?;
        if deleted > 0 {
            self.bump_generation();
        }
        Ok(deleted)
    }
}

/// A page of the items `filter` selects, newest first; the last
/// parameter is the limit.
fn page_sql(filter: &selection::Filter) -> String {
    format!(
        "SELECT i.id, i.uid, i.title, i.url, i.summary_html, i.content_html,
                i.authors, i.categories, i.published_at, i.changed_at, i.sort_at, i.enclosures,
                i.author_emails, i.first_seen_at
         FROM items i
         WHERE {}
         ORDER BY i.sort_at DESC, i.id DESC
         LIMIT ?",
        filter.sql()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::super::query_plan as plan;

    /// An article an earlier version archived is rewritten as this version
    /// reads it without leaving the search index when its plain texts read
    /// the same (only its authors' brackets went), and is indexed again
    /// when they changed (the paragraphs of a plain text).
    #[test]
    fn a_rewrite_leaves_the_search_index_alone_unless_the_text_changed() {
        let mut conn = Connection::open_in_memory().unwrap();
        super::super::migrations::migrate(&mut conn).unwrap();
        conn.execute_batch(super::super::ONE_FEED_ONE_ITEM).unwrap();
        conn.execute_batch(
            "INSERT INTO fts_pending (item_id) VALUES (1);
             UPDATE items SET summary_text = 'a b', authors = '[\"(Jane)\"]' WHERE id = 1;",
        )
        .unwrap();
        index_pending(&conn).unwrap();
        let queued = |conn: &Connection| -> i64 {
            conn.query_row("SELECT count(*) FROM fts_pending", [], |r| r.get(0))
                .unwrap()
        };
        assert_eq!(queued(&conn), 0);
        let mut item = NewItem {
            key: crate::model::ItemKey("id:1".into()),
            guid: None,
            url: None,
            canonical_url: None,
            title: "Kept".into(),
            summary_html: Some("a b".into()),
            content_html: None,
            summary_text: Some("a b".into()),
            content_text: None,
            authors: vec!["Jane".into()],
            author_emails: vec![Some("jane@example.com".into())],
            categories: Vec::new(),
            enclosures: Vec::new(),
            published: None,
            updated: None,
            content_hash: "h2".into(),
            earlier_hash: "h1".into(),
            key_hash: "h1".into(),
            mentions: Vec::new(),
        };
        rewrite_item(&conn, 1, &item).unwrap();
        let authors: String = conn
            .query_row("SELECT authors FROM items WHERE id = 1", [], |r| r.get(0))
            .unwrap();
        assert_eq!(authors, r#"["Jane"]"#);
        assert_eq!(queued(&conn), 0, "the same text is not indexed again");
        item.summary_text = Some("a\nb".into());
        rewrite_item(&conn, 1, &item).unwrap();
        assert_eq!(queued(&conn), 1, "a changed text is indexed again");
    }

    /// Every lookup made for each item of every fetch goes through an
    /// index, so ingest costs the same in a year-old archive as in a new one.
    #[test]
    fn per_item_lookups_use_indexes_not_scans() {
        let mut conn = Connection::open_in_memory().unwrap();
        super::super::migrations::migrate(&mut conn).unwrap();
        for sql in [
            FIND_SOURCE,
            FIND_ALIAS,
            FIND_ELSEWHERE,
            IS_TOMBSTONED,
            WAS_GIVEN,
        ] {
            let plan = plan(&conn, sql);
            assert!(
                !plan
                    .iter()
                    .any(|l| l.starts_with("SCAN") && l != "SCAN CONSTANT ROW"),
                "{sql}\n{plan:#?}"
            );
        }
        // Not through the feed's sources (all of them, for every item).
        let alias = plan(&conn, FIND_ALIAS);
        assert!(alias[0].contains("items_by_canonical_url"), "{alias:#?}");
        // The head's edge walks the sort index as far as the head goes.
        let edge = plan(&conn, HEAD_EDGE);
        assert!(
            edge.iter().any(|l| l.contains("items_by_sort"))
                && !edge.iter().any(|l| l.contains("TEMP B-TREE")),
            "{edge:#?}"
        );
    }

    /// An article's page looks its one row up by rowid, whatever the
    /// archive's size, instead of walking the sort index to find it.
    #[test]
    fn an_article_is_found_by_its_rowid() {
        let mut conn = Connection::open_in_memory().unwrap();
        super::super::migrations::migrate(&mut conn).unwrap();
        let mut filter = selection::filter(&crate::select::Selection::default());
        filter.uid("abc");
        let sql = page_sql(&filter);
        let plan = plan(&conn, &sql);
        assert!(
            plan[0].starts_with("SEARCH i USING INTEGER PRIMARY KEY"),
            "{sql}\n{plan:#?}"
        );
    }

    /// A page of a view or a search walks the sort index and tests each
    /// id against its criteria's sets, built once from their indexes; it
    /// is never driven from a set, which reads and sorts every member (40-70
    /// ms for a common tag, symbol or word at 100,000 items; issue 16,
    /// bench/serve.sh "Views").
    #[test]
    fn pages_walk_the_sort_index_and_test_ids_against_sets() {
        use crate::select::{Field, Rule, Selection};
        let mut conn = Connection::open_in_memory().unwrap();
        super::super::migrations::migrate(&mut conn).unwrap();
        selection::register_regexp(&conn).unwrap();
        let base = Selection::default;
        let selections = [
            Selection {
                feeds: vec!["a".into()],
                ..base()
            },
            Selection {
                tags: vec!["t".into(), "u".into()],
                ..base()
            },
            Selection {
                symbols: vec!["BP".into()],
                ..base()
            },
            Selection {
                query: Some("oil".into()),
                ..base()
            },
            Selection {
                feeds: vec!["a".into()],
                tags: vec!["t".into()],
                symbols: vec!["BP".into()],
                query: Some("oil OR gas".into()),
                include: vec![Rule::new(Field::Title, "(?i)results").unwrap()],
                exclude: vec![Rule::new(Field::Any, "sponsored").unwrap()],
                ..base()
            },
        ];
        for selection in &selections {
            for search in [None, Some("refinery")] {
                let mut filter = selection::filter(selection);
                if let Some(q) = search {
                    filter.search(q);
                }
                let sql = page_sql(&filter);
                let plan = plan(&conn, &sql);
                assert!(
                    plan[0].starts_with("SCAN i USING") && plan[0].ends_with("INDEX items_by_sort"),
                    "{sql}\n{plan:#?}"
                );
                assert!(
                    !plan
                        .iter()
                        .any(|l| l.contains("TEMP B-TREE FOR ORDER BY")
                            || l.starts_with("SEARCH i ")),
                    "{sql}\n{plan:#?}"
                );
            }
        }
    }

    #[test]
    fn uids_are_stable_and_distinct() {
        let a = mint_uid("bbc", "id:1");
        assert_eq!(a, mint_uid("bbc", "id:1"));
        assert_ne!(a, mint_uid("bbc", "id:2"));
        // Length-prefixed: ("ab", "c") and ("a", "bc") differ.
        assert_ne!(mint_uid("ab", "c"), mint_uid("a", "bc"));
        assert_eq!(a.0.len(), 32);
    }

    #[test]
    fn only_global_guids_match_across_feeds() {
        assert!(guid_is_global("https://example.com/a"));
        assert!(guid_is_global("urn:uuid:1234"));
        assert!(!guid_is_global("1234"));
    }

    #[test]
    fn home_pages_do_not_match_across_feeds() {
        assert!(!url_is_specific("https://example.com/"));
        assert!(url_is_specific("https://example.com/news/1"));
        assert!(url_is_specific("https://example.com/?p=12"));
    }
}
