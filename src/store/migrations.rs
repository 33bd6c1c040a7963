//! The archive's schema, as an append-only list of migrations.
//!
//! Append only. Never edit, reorder or delete an entry: its position is the
//! schema version stored in `PRAGMA user_version`. Analysts query the file
//! directly, so a migration never drops or renames what a documented view
//! exposes (see docs/schema.md).

use rusqlite::{Connection, Transaction, TransactionBehavior, params};

/// `PRAGMA application_id`: "TkFd", so `file(1)` and tools can tell our
/// archive from any other SQLite file.
pub const APPLICATION_ID: i32 = 0x546b_4664;

/// One step of the schema: SQL, or SQL plus work only Rust can do (such
/// as stripping HTML to backfill a column).
pub(crate) enum Migration {
    Sql(&'static str),
    Code(fn(&Transaction<'_>) -> rusqlite::Result<()>),
}

pub(crate) const MIGRATIONS: &[Migration] = &[
    // 1: feeds, items, which feeds carried which items, tags, the fetch log.
    Migration::Sql(
        r#"
CREATE TABLE feeds (
    id                   INTEGER PRIMARY KEY,
    name                 TEXT NOT NULL UNIQUE,
    url                  TEXT NOT NULL,
    schedule             TEXT NOT NULL,
    in_config            INTEGER NOT NULL DEFAULT 1,
    title                TEXT,
    site_url             TEXT,
    feed_guid            TEXT,
    feed_updated_at      TEXT,
    etag                 TEXT,
    last_modified        TEXT,
    body_sha256          TEXT,
    last_attempt_at      TEXT,
    last_success_at      TEXT,
    last_status          INTEGER,
    last_result          TEXT,
    last_error           TEXT,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    not_before_at        TEXT,
    next_due_at          TEXT,
    created_at           TEXT NOT NULL
) STRICT;

CREATE TABLE feed_tags (
    feed_id INTEGER NOT NULL REFERENCES feeds(id) ON DELETE CASCADE,
    tag     TEXT NOT NULL,
    PRIMARY KEY (tag, feed_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE items (
    id             INTEGER PRIMARY KEY,
    uid            TEXT NOT NULL UNIQUE,
    origin_feed_id INTEGER NOT NULL REFERENCES feeds(id),
    guid           TEXT,
    url            TEXT,
    canonical_url  TEXT,
    title          TEXT NOT NULL,
    summary_html   TEXT,
    content_html   TEXT,
    authors        TEXT NOT NULL DEFAULT '[]',
    categories     TEXT NOT NULL DEFAULT '[]',
    published_at   TEXT,
    updated_at     TEXT,
    first_seen_at  TEXT NOT NULL,
    changed_at     TEXT NOT NULL,
    sort_at        TEXT NOT NULL,
    content_sha256 TEXT NOT NULL
) STRICT;
CREATE INDEX items_by_sort ON items(sort_at DESC, id DESC);
CREATE INDEX items_by_canonical_url ON items(canonical_url) WHERE canonical_url IS NOT NULL;
CREATE INDEX items_by_guid ON items(guid) WHERE guid IS NOT NULL;

CREATE TABLE item_sources (
    feed_id       INTEGER NOT NULL REFERENCES feeds(id),
    item_key      TEXT NOT NULL,
    item_id       INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,
    matched_by    TEXT NOT NULL,
    first_seen_at TEXT NOT NULL,
    last_seen_at  TEXT NOT NULL,
    PRIMARY KEY (feed_id, item_key)
) STRICT, WITHOUT ROWID;
CREATE INDEX item_sources_by_item ON item_sources(item_id);

CREATE TABLE fetches (
    id            INTEGER PRIMARY KEY,
    feed_id       INTEGER NOT NULL REFERENCES feeds(id),
    started_at    TEXT NOT NULL,
    url           TEXT NOT NULL,
    status        INTEGER,
    result        TEXT NOT NULL,
    error         TEXT,
    bytes         INTEGER,
    duration_ms   INTEGER NOT NULL,
    items_seen    INTEGER NOT NULL DEFAULT 0,
    items_new     INTEGER NOT NULL DEFAULT 0,
    items_updated INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX fetches_by_feed ON fetches(feed_id, started_at);

CREATE VIEW v_items AS
SELECT i.id, i.uid, i.title, i.url, i.canonical_url, i.guid,
       i.summary_html, i.content_html, i.authors, i.categories,
       i.published_at, i.updated_at, i.first_seen_at, i.changed_at, i.sort_at,
       f.name AS feed,
       (SELECT count(*) FROM item_sources s WHERE s.item_id = i.id) AS source_count
FROM items i JOIN feeds f ON f.id = i.origin_feed_id;

CREATE VIEW v_item_sources AS
SELECT s.item_id, i.uid, i.title, f.name AS feed, s.item_key, s.matched_by,
       s.first_seen_at, s.last_seen_at
FROM item_sources s JOIN items i ON i.id = s.item_id JOIN feeds f ON f.id = s.feed_id;

CREATE VIEW v_feeds AS
SELECT f.id, f.name, f.url, f.schedule, f.in_config, f.title, f.site_url,
       f.last_attempt_at, f.last_success_at, f.last_status, f.last_result, f.last_error,
       f.consecutive_failures, f.next_due_at,
       (SELECT count(*) FROM item_sources s WHERE s.feed_id = f.id) AS items,
       (SELECT group_concat(tag, ',') FROM feed_tags t WHERE t.feed_id = f.id) AS tags
FROM feeds f;
"#,
    ),
    // 2: market quotes as a time series, the board stamped on each new item,
    // and which configured symbols each item mentions.
    Migration::Sql(
        r#"
CREATE TABLE quotes (
    id              INTEGER PRIMARY KEY,
    symbol          TEXT NOT NULL,
    provider        TEXT NOT NULL,
    provider_symbol TEXT NOT NULL,
    price           TEXT NOT NULL,
    change          TEXT,
    change_percent  TEXT,
    currency        TEXT,
    previous_close  TEXT,
    as_of           TEXT,
    fetched_at      TEXT NOT NULL,
    session         TEXT NOT NULL
) STRICT;
CREATE INDEX quotes_by_symbol ON quotes(symbol, fetched_at);

CREATE TABLE snapshots (
    item_id  INTEGER PRIMARY KEY REFERENCES items(id) ON DELETE CASCADE,
    label    TEXT NOT NULL,
    taken_at TEXT NOT NULL
) STRICT;

CREATE TABLE snapshot_quotes (
    item_id   INTEGER NOT NULL REFERENCES snapshots(item_id) ON DELETE CASCADE,
    position  INTEGER NOT NULL,
    quote_id  INTEGER NOT NULL REFERENCES quotes(id),
    symbol    TEXT NOT NULL,
    name      TEXT,
    stale     INTEGER NOT NULL,
    mentioned INTEGER NOT NULL,
    PRIMARY KEY (item_id, position)
) STRICT, WITHOUT ROWID;
CREATE INDEX snapshot_quotes_by_quote ON snapshot_quotes(quote_id);

CREATE TABLE item_mentions (
    item_id INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,
    symbol  TEXT NOT NULL,
    PRIMARY KEY (item_id, symbol)
) STRICT, WITHOUT ROWID;
CREATE INDEX item_mentions_by_symbol ON item_mentions(symbol, item_id);

CREATE VIEW v_quotes AS
SELECT id, symbol, provider, provider_symbol,
       CAST(price AS REAL) AS price, price AS price_text,
       CAST(change AS REAL) AS change, CAST(change_percent AS REAL) AS change_percent,
       currency, CAST(previous_close AS REAL) AS previous_close,
       as_of, fetched_at, session
FROM quotes;

CREATE VIEW v_latest_quotes AS
SELECT q.* FROM v_quotes q
WHERE q.id = (SELECT q2.id FROM quotes q2 WHERE q2.symbol = q.symbol
              ORDER BY q2.fetched_at DESC, q2.id DESC LIMIT 1);

CREATE VIEW v_snapshot_quotes AS
SELECT s.item_id, s.label, s.taken_at, sq.position, sq.symbol, sq.name, sq.stale, sq.mentioned,
       q.price, q.price_text, q.change, q.change_percent, q.currency, q.previous_close,
       q.as_of, q.fetched_at, q.session, q.provider
FROM snapshots s
JOIN snapshot_quotes sq ON sq.item_id = s.item_id
JOIN v_quotes q ON q.id = sq.quote_id;

CREATE VIEW v_item_mentions AS
SELECT m.item_id, i.title, i.url, i.first_seen_at, m.symbol,
       sq.price AS price_at_ingest, sq.currency, sq.as_of AS price_at_ingest_as_of, sq.stale,
       lq.price AS latest_price, lq.fetched_at AS latest_at,
       CASE WHEN sq.price > 0 AND lq.price IS NOT NULL
            THEN round((lq.price - sq.price) * 100.0 / sq.price, 2) END AS change_since_ingest_percent
FROM item_mentions m
JOIN items i ON i.id = m.item_id
LEFT JOIN v_snapshot_quotes sq ON sq.item_id = m.item_id AND sq.symbol = m.symbol
LEFT JOIN v_latest_quotes lq ON lq.symbol = m.symbol;
"#,
    ),
    // 3: politeness: where a feed really lives (after confirmed permanent
    // redirects), retirement on 410, the publisher's skip windows, host
    // pauses, and a fuller fetch log.
    Migration::Sql(
        r#"
ALTER TABLE feeds ADD COLUMN effective_url TEXT;
ALTER TABLE feeds ADD COLUMN redirect_candidate TEXT;
ALTER TABLE feeds ADD COLUMN redirect_seen INTEGER NOT NULL DEFAULT 0;
ALTER TABLE feeds ADD COLUMN retired_at TEXT;
ALTER TABLE feeds ADD COLUMN retired_reason TEXT;
ALTER TABLE feeds ADD COLUMN skip_hours TEXT;
ALTER TABLE feeds ADD COLUMN skip_days TEXT;

ALTER TABLE fetches ADD COLUMN final_url TEXT;
ALTER TABLE fetches ADD COLUMN wire_bytes INTEGER;
ALTER TABLE fetches ADD COLUMN validator_hit INTEGER NOT NULL DEFAULT 0;
ALTER TABLE fetches ADD COLUMN redirects TEXT;
ALTER TABLE fetches ADD COLUMN retry_after_secs INTEGER;
ALTER TABLE fetches ADD COLUMN error_class TEXT;

CREATE TABLE feed_url_changes (
    id         INTEGER PRIMARY KEY,
    feed_id    INTEGER NOT NULL REFERENCES feeds(id),
    changed_at TEXT NOT NULL,
    old_url    TEXT NOT NULL,
    new_url    TEXT NOT NULL,
    reason     TEXT NOT NULL
) STRICT;

CREATE TABLE host_pauses (
    host         TEXT PRIMARY KEY,
    paused_until TEXT NOT NULL,
    reason       TEXT NOT NULL
) STRICT;

DROP VIEW v_feeds;
CREATE VIEW v_feeds AS
SELECT f.id, f.name, f.url, f.schedule, f.in_config, f.title, f.site_url,
       f.last_attempt_at, f.last_success_at, f.last_status, f.last_result, f.last_error,
       f.consecutive_failures, f.next_due_at,
       (SELECT count(*) FROM item_sources s WHERE s.feed_id = f.id) AS items,
       (SELECT group_concat(tag, ',') FROM feed_tags t WHERE t.feed_id = f.id) AS tags,
       coalesce(f.effective_url, f.url) AS polled_url,
       f.retired_at, f.retired_reason, f.not_before_at, f.skip_hours, f.skip_days
FROM feeds f;
"#,
    ),
    // 4: the archive as a searchable, revisioned record: plain-text copies of
    // summary and content for search, full-text index kept in sync by
    // triggers, previous versions of changed items, tombstones for deleted
    // ones, and the reason behind every merge.
    Migration::Code(migration_4),
    // 5: full-text indexing in batches. FTS5 writes an index segment for
    // every statement that touches it inside a transaction, so indexing each
    // new item from its INSERT trigger cost more than storing it. Triggers
    // now queue new and changed items in `fts_pending`, and the store
    // indexes the queue in one statement (`items::index_pending`; before
    // each commit then, in batches of `items::SEARCH_BATCH` since).
    // Removing terms stays immediate, and only for rows that were indexed.
    Migration::Sql(
        r#"
CREATE TABLE fts_pending (item_id INTEGER PRIMARY KEY);

DROP TRIGGER items_fts_insert;
DROP TRIGGER items_fts_delete;
DROP TRIGGER items_fts_update;

CREATE TRIGGER items_fts_insert AFTER INSERT ON items BEGIN
    INSERT OR IGNORE INTO fts_pending (item_id) VALUES (new.id);
END;
CREATE TRIGGER items_fts_delete AFTER DELETE ON items BEGIN
    INSERT INTO items_fts(items_fts, rowid, title, summary, content, feed)
    SELECT 'delete', old.id, old.title, old.summary_text, old.content_text,
           (SELECT name FROM feeds WHERE id = old.origin_feed_id)
    WHERE NOT EXISTS (SELECT 1 FROM fts_pending WHERE item_id = old.id);
    DELETE FROM fts_pending WHERE item_id = old.id;
END;
CREATE TRIGGER items_fts_update AFTER UPDATE OF title, summary_text, content_text ON items BEGIN
    INSERT INTO items_fts(items_fts, rowid, title, summary, content, feed)
    SELECT 'delete', old.id, old.title, old.summary_text, old.content_text,
           (SELECT name FROM feeds WHERE id = old.origin_feed_id)
    WHERE NOT EXISTS (SELECT 1 FROM fts_pending WHERE item_id = old.id);
    INSERT OR IGNORE INTO fts_pending (item_id) VALUES (new.id);
END;
"#,
    ),
    // 6: a feed's tags by feed. The primary key starts with the tag, so
    // every "tags of this feed" (each fetch reads its feed's row, each
    // config load replaces every feed's tags) scanned the whole table:
    // quadratic in the number of feeds, most of a 10,000-feed re-poll.
    Migration::Sql("CREATE INDEX feed_tags_by_feed ON feed_tags (feed_id);"),
    // 7: new items queued for search by the store, not by a trigger. A
    // trigger makes every item INSERT a multi-row write, so SQLite opened
    // a statement journal for it and copied each page the insert touched
    // (the row's page and one per index) before changing it: a tenth of
    // the writer's time in a first poll. `items::insert_item` queues the
    // item in the same transaction instead; updates and deletes keep their
    // triggers.
    Migration::Sql("DROP TRIGGER items_fts_insert;"),
    // 8: alerts (issue 18). `alerts` remembers when each alert was first
    // configured; `alert_outbox` holds the messages due, written in the
    // transaction that archives the item, deleted once a receiver answered
    // 2xx, kept as `failed` when retries ran out.
    Migration::Sql(
        r#"
CREATE TABLE alerts (
    name          TEXT PRIMARY KEY,
    configured_at TEXT NOT NULL,
    in_config     INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE alert_outbox (
    alert           TEXT NOT NULL,
    item_uid        TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error      TEXT,
    state           TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'failed')),
    PRIMARY KEY (alert, item_uid)
);
CREATE INDEX alert_outbox_due ON alert_outbox (state, next_attempt_at);
"#,
    ),
    // 9: when each capped alert sent its messages in the last hour, so
    // `max_per_hour` holds across restarts (a crash loop cannot reset it).
    Migration::Sql(
        r#"
CREATE TABLE alert_sends (
    alert   TEXT NOT NULL,
    sent_at TEXT NOT NULL
);
CREATE INDEX alert_sends_by_alert ON alert_sends (alert, sent_at);
"#,
    ),
    // 10: which items each view's `include` rule matches, kept as items
    // arrive and change, so a view of rare rules reads its set from an
    // index instead of testing every row's text (`store::rules`).
    Migration::Sql(
        r#"
CREATE TABLE rules (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    field         TEXT NOT NULL,
    pattern       TEXT NOT NULL,
    complete      INTEGER NOT NULL DEFAULT 0,
    backfilled_to INTEGER NOT NULL DEFAULT 0,
    UNIQUE (field, pattern)
);
CREATE TABLE rule_hits (
    rule_id INTEGER NOT NULL,
    item_id INTEGER NOT NULL,
    PRIMARY KEY (rule_id, item_id)
) WITHOUT ROWID;
CREATE TRIGGER items_rule_hits_delete AFTER DELETE ON items BEGIN
    DELETE FROM rule_hits WHERE rule_id IN (SELECT id FROM rules) AND item_id = old.id;
END;
"#,
    ),
    // 11: how each mention was found (issue 19): `tag`, `exchange`,
    // `cashtag`, `name` or `corroborated`; NULL for mentions recorded before
    // tickerfeed said. `v_item_mentions` is recreated with the same columns
    // in the same order, plus `matched_by` at the end, so queries written
    // against it keep working.
    Migration::Sql(
        r#"
ALTER TABLE item_mentions ADD COLUMN matched_by TEXT
    CHECK (matched_by IN ('tag', 'exchange', 'cashtag', 'name', 'corroborated'));
DROP VIEW v_item_mentions;
CREATE VIEW v_item_mentions AS
SELECT m.item_id, i.title, i.url, i.first_seen_at, m.symbol,
       sq.price AS price_at_ingest, sq.currency, sq.as_of AS price_at_ingest_as_of, sq.stale,
       lq.price AS latest_price, lq.fetched_at AS latest_at,
       CASE WHEN sq.price > 0 AND lq.price IS NOT NULL
            THEN round((lq.price - sq.price) * 100.0 / sq.price, 2) END AS change_since_ingest_percent,
       m.matched_by
FROM item_mentions m
JOIN items i ON i.id = m.item_id
LEFT JOIN v_snapshot_quotes sq ON sq.item_id = m.item_id AND sq.symbol = m.symbol
LEFT JOIN v_latest_quotes lq ON lq.symbol = m.symbol;
"#,
    ),
    // 12: the article behind the teaser (`[[feeds]] fulltext`, issue 19).
    // `item_articles` holds one row per item whose page is (or was) to be
    // fetched: queued as `pending` in the transaction that archives the
    // item, so a crash can neither lose nor double the fetch; the worker
    // (`pipeline::fulltext`) records what came back. The feed's own text
    // stays in `items`, untouched.
    //
    // Search covers the article: the index gains an `article` column, so it
    // is rebuilt once here (every item, in this migration's transaction).
    // The delete trigger on items runs BEFORE the row goes, while its
    // article (deleted by the cascade) can still be read for the index's
    // 'delete' command; an article's text changing re-queues its item.
    Migration::Sql(
        r#"
CREATE TABLE item_articles (
    item_id         INTEGER PRIMARY KEY REFERENCES items(id) ON DELETE CASCADE,
    url             TEXT NOT NULL,
    state           TEXT NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'fetched', 'failed', 'disallowed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    queued_at       TEXT NOT NULL,
    next_attempt_at TEXT NOT NULL,
    attempted_at    TEXT,
    status          INTEGER,
    final_url       TEXT,
    error           TEXT,
    extracted_at    TEXT,
    title           TEXT,
    byline          TEXT,
    content_html    TEXT,
    content_text    TEXT
) STRICT;
CREATE INDEX item_articles_due ON item_articles (next_attempt_at) WHERE state = 'pending';

DROP TRIGGER items_fts_delete;
DROP TRIGGER items_fts_update;
DROP TABLE items_fts;
DROP VIEW v_search_source;

CREATE VIEW v_search_source AS
SELECT i.id AS id, i.title AS title, i.summary_text AS summary, i.content_text AS content,
       f.name AS feed, a.content_text AS article
FROM items i JOIN feeds f ON f.id = i.origin_feed_id
LEFT JOIN item_articles a ON a.item_id = i.id;

CREATE VIRTUAL TABLE items_fts USING fts5(
    title, summary, content, feed, article,
    content = 'v_search_source', content_rowid = 'id',
    tokenize = 'porter unicode61 remove_diacritics 2'
);
INSERT INTO items_fts(items_fts) VALUES ('rebuild');
-- The rebuild indexed everything, the queue included.
DELETE FROM fts_pending;

CREATE TRIGGER items_fts_delete BEFORE DELETE ON items BEGIN
    INSERT INTO items_fts(items_fts, rowid, title, summary, content, feed, article)
    SELECT 'delete', s.id, s.title, s.summary, s.content, s.feed, s.article
    FROM v_search_source s
    WHERE s.id = old.id AND NOT EXISTS (SELECT 1 FROM fts_pending WHERE item_id = old.id);
    DELETE FROM fts_pending WHERE item_id = old.id;
END;
CREATE TRIGGER items_fts_update AFTER UPDATE OF title, summary_text, content_text ON items BEGIN
    INSERT INTO items_fts(items_fts, rowid, title, summary, content, feed, article)
    SELECT 'delete', old.id, old.title, old.summary_text, old.content_text,
           (SELECT name FROM feeds WHERE id = old.origin_feed_id),
           (SELECT content_text FROM item_articles WHERE item_id = old.id)
    WHERE NOT EXISTS (SELECT 1 FROM fts_pending WHERE item_id = old.id);
    INSERT OR IGNORE INTO fts_pending (item_id) VALUES (new.id);
END;
CREATE TRIGGER item_articles_fts_update BEFORE UPDATE OF content_text ON item_articles
WHEN old.content_text IS NOT new.content_text BEGIN
    INSERT INTO items_fts(items_fts, rowid, title, summary, content, feed, article)
    SELECT 'delete', s.id, s.title, s.summary, s.content, s.feed, s.article
    FROM v_search_source s
    WHERE s.id = old.item_id
      AND NOT EXISTS (SELECT 1 FROM fts_pending WHERE item_id = old.item_id);
    INSERT OR IGNORE INTO fts_pending (item_id) VALUES (old.item_id);
END;

CREATE VIEW v_item_articles AS
SELECT a.item_id, i.uid, i.title AS item_title, f.name AS feed, a.url, a.state, a.attempts,
       a.queued_at, a.next_attempt_at, a.attempted_at, a.status, a.final_url, a.error,
       a.extracted_at, a.title, a.byline, a.content_html, a.content_text,
       length(a.content_text) AS text_chars
FROM item_articles a JOIN items i ON i.id = a.item_id JOIN feeds f ON f.id = i.origin_feed_id;
"#,
    ),
    // 13: the WebSub hub (issue 18). `websub_subscribers` holds verified
    // leases (with the subscriber's own shared secret, needed to sign each
    // push); `websub_topics` the hash of each topic's last published
    // document, so a change is noticed across restarts; `websub_deliveries`
    // one pending push per subscription, written in the transaction that
    // records the change, deleted after a 2xx.
    Migration::Sql(
        r#"
CREATE TABLE websub_subscribers (
    topic         TEXT NOT NULL,
    callback      TEXT NOT NULL,
    secret        TEXT,
    lease_seconds INTEGER NOT NULL,
    verified_at   TEXT NOT NULL,
    expires_at    TEXT NOT NULL,
    PRIMARY KEY (topic, callback)
);
CREATE TABLE websub_topics (
    topic          TEXT PRIMARY KEY,
    content_sha256 TEXT NOT NULL,
    changed_at     TEXT NOT NULL
);
CREATE TABLE websub_deliveries (
    topic           TEXT NOT NULL,
    callback        TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error      TEXT,
    state           TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'failed')),
    PRIMARY KEY (topic, callback),
    FOREIGN KEY (topic, callback) REFERENCES websub_subscribers (topic, callback) ON DELETE CASCADE
);
CREATE INDEX websub_deliveries_due ON websub_deliveries (state, next_attempt_at);
"#,
    ),
    // 14: WebSub subscriptions (issue 18): one row per feed, hub and topic
    // we asked to be pushed, with the callback id and secret the hub
    // signs with, and where the lease stands. A feed's live subscription
    // slows its polling (`FeedRow::pushed_until`).
    Migration::Sql(
        r#"
CREATE TABLE websub_subscriptions (
    id               INTEGER PRIMARY KEY,
    feed_id          INTEGER NOT NULL REFERENCES feeds(id),
    hub              TEXT NOT NULL,
    topic            TEXT NOT NULL,
    callback_id      TEXT NOT NULL UNIQUE,
    secret           TEXT NOT NULL,
    state            TEXT NOT NULL
                     CHECK (state IN ('pending', 'active', 'denied', 'expired', 'failed')),
    requested_at     TEXT NOT NULL,
    verified_at      TEXT,
    lease_seconds    INTEGER,
    lease_expires_at TEXT,
    renew_at         TEXT,
    last_push_at     TEXT,
    last_error       TEXT,
    UNIQUE (feed_id, hub, topic)
) STRICT;
CREATE INDEX websub_subscriptions_by_feed ON websub_subscriptions (feed_id, state);
"#,
    ),
    // 15: price reactions (issue 19). `quotes.source` tells the board's
    // recorded quotes from points backfilled out of a provider's history
    // (which the board never seeds from: `v_latest_quotes` and
    // `latest_quotes` read only `board` rows). `item_reactions` holds, per
    // mentioned symbol and horizon, when the price is to be read and which
    // quote answered; `v_item_reactions` lays them side by side.
    Migration::Sql(
        r#"
ALTER TABLE quotes ADD COLUMN source TEXT NOT NULL DEFAULT 'board'
    CHECK (source IN ('board', 'backfill'));
CREATE INDEX quotes_by_symbol_time ON quotes(symbol, coalesce(as_of, fetched_at));

CREATE TABLE item_reactions (
    item_id     INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,
    symbol      TEXT NOT NULL,
    horizon     TEXT NOT NULL CHECK (horizon IN ('then', '15m', '1h', '1d', 'close')),
    exchange    TEXT NOT NULL,
    target_at   TEXT NOT NULL,
    state       TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'found', 'missing')),
    quote_id    INTEGER REFERENCES quotes(id),
    resolved_at TEXT,
    attempts    INTEGER NOT NULL DEFAULT 0,
    note        TEXT,
    PRIMARY KEY (item_id, symbol, horizon)
) STRICT, WITHOUT ROWID;
CREATE INDEX item_reactions_pending ON item_reactions(state, target_at);

DROP VIEW v_latest_quotes;
DROP VIEW v_quotes;
CREATE VIEW v_quotes AS
SELECT id, symbol, provider, provider_symbol,
       CAST(price AS REAL) AS price, price AS price_text,
       CAST(change AS REAL) AS change, CAST(change_percent AS REAL) AS change_percent,
       currency, CAST(previous_close AS REAL) AS previous_close,
       as_of, fetched_at, session, source
FROM quotes;
CREATE VIEW v_latest_quotes AS
SELECT q.* FROM v_quotes q
WHERE q.id = (SELECT q2.id FROM quotes q2 WHERE q2.symbol = q.symbol AND q2.source = 'board'
              ORDER BY q2.fetched_at DESC, q2.id DESC LIMIT 1);

CREATE VIEW v_item_reactions AS
SELECT m.item_id, i.uid, i.title, i.url, i.published_at, i.first_seen_at AS ingested_at,
       m.symbol, r0.exchange, r0.target_at AS measured_from,
       coalesce(q0.currency, q1.currency, q2.currency, q3.currency, q4.currency) AS currency,
       CAST(q0.price AS REAL) AS price_then,
       CASE WHEN q0.id IS NOT NULL THEN
            CASE q0.source WHEN 'backfill' THEN 'backfill' ELSE 'recorded' END END AS price_then_source,
       r1.target_at AS at_15m,
       CAST(q1.price AS REAL) AS price_15m,
       round((CAST(q1.price AS REAL) - CAST(q0.price AS REAL)) * 100.0 / CAST(q0.price AS REAL), 2)
           AS change_15m_percent,
       CASE WHEN q1.id IS NOT NULL THEN
            CASE q1.source WHEN 'backfill' THEN 'backfill' ELSE 'recorded' END END AS price_15m_source,
       r2.target_at AS at_1h,
       CAST(q2.price AS REAL) AS price_1h,
       round((CAST(q2.price AS REAL) - CAST(q0.price AS REAL)) * 100.0 / CAST(q0.price AS REAL), 2)
           AS change_1h_percent,
       CASE WHEN q2.id IS NOT NULL THEN
            CASE q2.source WHEN 'backfill' THEN 'backfill' ELSE 'recorded' END END AS price_1h_source,
       r3.target_at AS at_1d,
       CAST(q3.price AS REAL) AS price_1d,
       round((CAST(q3.price AS REAL) - CAST(q0.price AS REAL)) * 100.0 / CAST(q0.price AS REAL), 2)
           AS change_1d_percent,
       CASE WHEN q3.id IS NOT NULL THEN
            CASE q3.source WHEN 'backfill' THEN 'backfill' ELSE 'recorded' END END AS price_1d_source,
       r4.target_at AS close_at,
       CAST(q4.price AS REAL) AS price_close,
       round((CAST(q4.price AS REAL) - CAST(q0.price AS REAL)) * 100.0 / CAST(q0.price AS REAL), 2)
           AS change_close_percent,
       CASE WHEN q4.id IS NOT NULL THEN
            CASE q4.source WHEN 'backfill' THEN 'backfill' ELSE 'recorded' END END AS price_close_source,
       (SELECT count(*) FROM item_reactions p
        WHERE p.item_id = m.item_id AND p.symbol = m.symbol AND p.state = 'pending') AS pending
FROM item_mentions m
JOIN items i ON i.id = m.item_id
LEFT JOIN item_reactions r0 ON r0.item_id = m.item_id AND r0.symbol = m.symbol AND r0.horizon = 'then'
LEFT JOIN quotes q0 ON q0.id = r0.quote_id
LEFT JOIN item_reactions r1 ON r1.item_id = m.item_id AND r1.symbol = m.symbol AND r1.horizon = '15m'
LEFT JOIN quotes q1 ON q1.id = r1.quote_id
LEFT JOIN item_reactions r2 ON r2.item_id = m.item_id AND r2.symbol = m.symbol AND r2.horizon = '1h'
LEFT JOIN quotes q2 ON q2.id = r2.quote_id
LEFT JOIN item_reactions r3 ON r3.item_id = m.item_id AND r3.symbol = m.symbol AND r3.horizon = '1d'
LEFT JOIN quotes q3 ON q3.id = r3.quote_id
LEFT JOIN item_reactions r4 ON r4.item_id = m.item_id AND r4.symbol = m.symbol AND r4.horizon = 'close'
LEFT JOIN quotes q4 ON q4.id = r4.quote_id;
"#,
    ),
    // 16: when we asked a hub to unsubscribe a feed that left the config,
    // so a restart neither asks again nor forgets it asked, and a feed
    // that comes back is renewed at once.
    Migration::Sql("ALTER TABLE websub_subscriptions ADD COLUMN unsubscribe_requested_at TEXT;"),
    // 17: the last document's <ttl> / sy:updatePeriod, so a 304 (which
    // brings no document) still honours it.
    Migration::Sql("ALTER TABLE feeds ADD COLUMN ttl_secs INTEGER;"),
    // 18: `v_item_mentions` compared the price at ingest with the latest
    // whatever their listings, so a symbol moved to another listing (the
    // ADR in dollars, then the London line in pence made pounds) showed a
    // 92 % fall. The change is now computed only for one listing: the same
    // currency, or where a provider gives none, the same provider symbol.
    // `latest_currency` (at the end, so queries by position keep working)
    // says what the latest price is in.
    Migration::Sql(
        r#"
DROP VIEW v_item_mentions;
CREATE VIEW v_item_mentions AS
SELECT m.item_id, i.title, i.url, i.first_seen_at, m.symbol,
       sq.price AS price_at_ingest, sq.currency, sq.as_of AS price_at_ingest_as_of, sq.stale,
       lq.price AS latest_price, lq.fetched_at AS latest_at,
       CASE WHEN sq.price > 0 AND lq.price IS NOT NULL
                 AND (sq.currency = lq.currency
                      OR ((sq.currency IS NULL OR lq.currency IS NULL)
                          AND sqq.provider_symbol = lq.provider_symbol COLLATE NOCASE))
            THEN round((lq.price - sq.price) * 100.0 / sq.price, 2) END AS change_since_ingest_percent,
       m.matched_by,
       lq.currency AS latest_currency
FROM item_mentions m
JOIN items i ON i.id = m.item_id
LEFT JOIN v_snapshot_quotes sq ON sq.item_id = m.item_id AND sq.symbol = m.symbol
LEFT JOIN snapshot_quotes ssq ON ssq.item_id = m.item_id AND ssq.symbol = m.symbol
LEFT JOIN quotes sqq ON sqq.id = ssq.quote_id
LEFT JOIN v_latest_quotes lq ON lq.symbol = m.symbol;
"#,
    ),
    // 19: the files attached to an item (a podcast's episode), as JSON,
    // NULL when it has none, so the merged feeds pass them on.
    Migration::Sql("ALTER TABLE items ADD COLUMN enclosures TEXT;"),
    // 20: `v_items` gains `enclosures` (at the end, so queries by position
    // keep working): the analyst's view of an item has everything the
    // merged feeds republish.
    Migration::Sql(
        r#"
DROP VIEW v_items;
CREATE VIEW v_items AS
SELECT i.id, i.uid, i.title, i.url, i.canonical_url, i.guid,
       i.summary_html, i.content_html, i.authors, i.categories,
       i.published_at, i.updated_at, i.first_seen_at, i.changed_at, i.sort_at,
       f.name AS feed,
       (SELECT count(*) FROM item_sources s WHERE s.item_id = i.id) AS source_count,
       i.summary_text, i.content_text, i.revision, i.enclosures
FROM items i JOIN feeds f ON f.id = i.origin_feed_id;
"#,
    ),
    // 21: an item's id is never given again. `items.id` is a plain rowid,
    // which SQLite numbers from the largest one left, so once retention
    // deleted the newest items (or all of them) their ids came back on new
    // articles, and an analyst reading `WHERE id > :last` missed those.
    // AUTOINCREMENT would mean copying the whole table; a one-row mark of
    // the highest id ever deleted, kept by a trigger, does the same.
    Migration::Sql(
        r#"
CREATE TABLE item_id_mark (highest_deleted INTEGER NOT NULL) STRICT;
INSERT INTO item_id_mark VALUES ((SELECT coalesce(max(id), 0) FROM items));
CREATE TRIGGER items_id_mark AFTER DELETE ON items
WHEN old.id > (SELECT highest_deleted FROM item_id_mark) BEGIN
    UPDATE item_id_mark SET highest_deleted = old.id;
END;
"#,
    ),
    // 22: `v_item_reactions` rounded a floating-point change of its own
    // while exports rounded the exact decimal one, so a change of exactly
    // half a hundredth that binary cannot hold (3.00045 against 3) read
    // 0.01 in the view and 0.02 in an export. Each change is now computed
    // once, in exact decimal, when its price is read, and kept in
    // `item_reactions.change_percent`, which the view and exports both read.
    Migration::Code(migration_22),
    // 23: the archive holds no feed's secret. A feed URL's password or
    // key (`https://u:pass@host/`, `?api_key=...`) was kept wherever the
    // URL was: the feed's address and where it moved, the fetch log, the
    // URL history, errors quoting them. They are blanked as tickerfeed now
    // writes them (`link::blank_secrets`); a fetch fills them back in
    // from the config.
    Migration::Code(blank_feed_secrets),
    // 24: whether the provider said a quote's price is struck once a day
    // (Yahoo's `MUTUALFUND`: a fund's NAV). The board seeds from the
    // archive after a restart, and without it judged a fund's NAV by the
    // session's clock, stale all day, until the first refresh.
    Migration::Sql("ALTER TABLE quotes ADD COLUMN daily INTEGER NOT NULL DEFAULT 0;"),
    // 25: until when an alert's receiver is waited for, after it did not
    // answer: a message queued meanwhile waits too, so it does not reach
    // the receiver before the older ones once it is back.
    Migration::Sql("ALTER TABLE alerts ADD COLUMN held_until TEXT;"),
    // 26: the callback URL each WebSub subscription was last asked for
    // under, so that a changed `[websub] callback_url` (a reload or a
    // restart) subscribes it again under the new one.
    Migration::Sql("ALTER TABLE websub_subscriptions ADD COLUMN callback_url TEXT;"),
    // 27: `v_item_mentions.change_since_ingest_percent` rounded a
    // floating-point change, while the item's page works in exact decimal,
    // so a change of exactly half a hundredth that binary cannot hold
    // (3.00045 against 3, +0.015 %) read 0.01 in the view and +0.02 on the
    // page. The view now computes it exactly, in 64-bit integers: both
    // prices at the scale of the longer fraction, then (l - s) * 10000 / s
    // by long division, 2 places, a half away from zero (as
    // `store::reactions::store_changes` and the page round). That holds
    // where each price has at most 16 digits at that scale; beyond it (a
    // widened float's 321.6600036621094) the floating-point figure as
    // before, and so for a change past about 10^12 % (where SQLite's
    // integers overflow into floating point, no real price's). A negative
    // price at ingest now has a change too, as on the
    // page; a price at ingest of 0 still has none. Same columns, same
    // order.
    //
    // The quotes are found by key: the view joined `v_snapshot_quotes`,
    // which SQLite built whole for every query (0.3 s to read one item's
    // mentions in an archive of 50,000), and `v_latest_quotes` by symbol,
    // which tested every quote of the symbol for each mention (10 s to
    // read all 50,000 with 250 quotes a symbol). Now 7-15 ms and 1.7 s.
    Migration::Sql(
        r#"
DROP VIEW v_item_mentions;
CREATE VIEW v_item_mentions AS
SELECT item_id, title, url, first_seen_at, symbol,
       price_at_ingest, currency, price_at_ingest_as_of, stale,
       latest_price, latest_at,
       CASE WHEN NOT coalesce(comparable, 0) THEN NULL
            -- Exact: the change in hundredths of a percent is
            -- (l - s) * 10000 / s, taken two digits at a time so that no
            -- product outgrows 64 bits, then a half away from zero by what
            -- is left over.
            WHEN fits THEN
                 ((l - s) / s * 10000
                  + (l - s) % s * 100 / s * 100
                  + (l - s) % s * 100 % s * 100 / s
                  + CASE WHEN 2 * abs((l - s) % s * 100 % s * 100 % s) < abs(s) THEN 0
                         WHEN ((l - s) % s * 100 % s * 100 % s < 0) = (s < 0) THEN 1
                         ELSE -1 END) / 100.0
            ELSE round((latest_price - price_at_ingest) * 100.0 / price_at_ingest, 2)
       END AS change_since_ingest_percent,
       matched_by, latest_currency
FROM (
  -- Each price as an integer at the scale of the longer fraction (29.7
  -- and 29.72 as 2970 and 2972), where both have at most 16 digits.
  SELECT *,
         CAST(replace(a, '.', '') AS INTEGER)
         * CAST('1' || substr('0000000000000000', 1, max(a_f, b_f) - a_f) AS INTEGER) AS s,
         CAST(replace(b, '.', '') AS INTEGER)
         * CAST('1' || substr('0000000000000000', 1, max(a_f, b_f) - b_f) AS INTEGER) AS l,
         length(replace(replace(a, '-', ''), '.', '')) + max(a_f, b_f) - a_f <= 16
         AND length(replace(replace(b, '-', ''), '.', '')) + max(a_f, b_f) - b_f <= 16
         AND a NOT GLOB '*[eE]*' AND b NOT GLOB '*[eE]*' AS fits
  FROM (
    -- a and b: the prices at ingest and now as stored (exact decimal
    -- text), and how many digits follow each one's point.
    SELECT *,
           CASE WHEN instr(a, '.') > 0 THEN length(a) - instr(a, '.') ELSE 0 END AS a_f,
           CASE WHEN instr(b, '.') > 0 THEN length(b) - instr(b, '.') ELSE 0 END AS b_f
    FROM (
      SELECT m.item_id, i.title, i.url, i.first_seen_at, m.symbol,
             sq.price AS price_at_ingest, sq.currency,
             sq.as_of AS price_at_ingest_as_of, ssq.stale,
             lq.price AS latest_price, lq.fetched_at AS latest_at,
             m.matched_by, lq.currency AS latest_currency,
             -- The rule of version 18: a change only between prices of
             -- one listing.
             sq.price <> 0 AND lq.price IS NOT NULL
             AND (sq.currency = lq.currency
                  OR ((sq.currency IS NULL OR lq.currency IS NULL)
                      AND sq.provider_symbol = lq.provider_symbol COLLATE NOCASE)) AS comparable,
             sq.price_text AS a,
             lq.price_text AS b
      FROM item_mentions m
      JOIN items i ON i.id = m.item_id
      -- The quote in the item's snapshot, and the latest board quote of
      -- the symbol, each found by its key: joining v_snapshot_quotes
      -- built it whole for every query, and v_latest_quotes by symbol
      -- tested every quote of the symbol, both growing with the archive.
      LEFT JOIN snapshot_quotes ssq ON ssq.item_id = m.item_id AND ssq.symbol = m.symbol
      LEFT JOIN v_quotes sq ON sq.id = ssq.quote_id
      LEFT JOIN v_quotes lq ON lq.id = (SELECT q.id FROM quotes q
                                        WHERE q.symbol = m.symbol AND q.source = 'board'
                                        ORDER BY q.fetched_at DESC, q.id DESC LIMIT 1)
    )
  )
);
"#,
    ),
    // 28: a WebSub subscription made before 23 whose topic holds its
    // feed's key or password kept it there (tickerfeed no longer subscribes
    // such topics). The topic is blanked as 23 blanked feed addresses, and
    // a live subscription ends: the hub cannot be asked to unsubscribe it
    // (that takes the exact topic), so it is marked `expired`, its pushes
    // get 410 Gone, which tells the hub to drop it, and the feed is polled.
    Migration::Code(end_keyed_subscriptions),
    // 29: a hash of the URL each alert last sent to (never the URL: it may
    // hold a key), so that a restart with another URL sends what waits
    // there at once, as a reload does, instead of after the backoff
    // earned at the old one.
    Migration::Sql("ALTER TABLE alerts ADD COLUMN url_sha256 TEXT;"),
    // 30: `v_latest_quotes` read unfiltered, or `WHERE symbol IN (...)`,
    // tested every row of `quotes` against its symbol's latest (0.2 s on
    // 200,000 quotes, docs/performance.md). It now starts from
    // `quote_symbols`, every symbol `quotes` has held, kept by a trigger,
    // and finds each one's latest board quote by a seek on
    // `quotes_by_symbol`, as before: one row per symbol, the newest by
    // `fetched_at`, of a tie the highest `id`. Same columns, same order,
    // same rows. A filter on `symbol` is a filter on the table's key, so
    // one symbol, a list or a join by symbol is a seek each (walking the
    // distinct symbols down `quotes`' index instead made one symbol cost a
    // seek per symbol held). A symbol whose quotes were all deleted keeps
    // its row there, and has no row in the view, as before. No view reads
    // this one (`v_item_mentions` stopped at 27), so it alone is recreated.
    Migration::Sql(
        r#"
CREATE TABLE quote_symbols (symbol TEXT PRIMARY KEY) STRICT, WITHOUT ROWID;
INSERT INTO quote_symbols (symbol) SELECT DISTINCT symbol FROM quotes;
CREATE TRIGGER quotes_symbol AFTER INSERT ON quotes BEGIN
    INSERT OR IGNORE INTO quote_symbols (symbol) VALUES (new.symbol);
END;
DROP VIEW v_latest_quotes;
CREATE VIEW v_latest_quotes AS
SELECT q.id, s.symbol AS symbol, q.provider, q.provider_symbol, q.price, q.price_text,
       q.change, q.change_percent, q.currency, q.previous_close, q.as_of, q.fetched_at,
       q.session, q.source
FROM quote_symbols s
JOIN v_quotes q ON q.id = (SELECT q2.id FROM quotes q2 WHERE q2.symbol = s.symbol AND q2.source = 'board'
                           ORDER BY q2.fetched_at DESC, q2.id DESC LIMIT 1);
"#,
    ),
    // 31: each author's email address beside the name (`authors`), for
    // Atom's `<email>`: RSS gives it inside `<author>`, Atom on its own.
    // Not part of `content_sha256`, as enclosures are not: items archived
    // before have none, and are not each seen as edited for it.
    Migration::Sql("ALTER TABLE items ADD COLUMN author_emails TEXT;"),
    // 32: a row an analyst inserted with plain SQL was neither queued nor
    // indexed, and when it then changed (tickerfeed's update, or by hand)
    // the triggers removed its old text from an index that never held it,
    // which FTS5 takes for a corrupt index ("database disk image is
    // malformed"). The triggers now remove text only for a row the index
    // holds (its `items_fts_docsize` row, FTS5's own record of it, one
    // seek), and queue a changed row whether the index held it or not.
    // No insert trigger: one makes every insert a multi-row write with a
    // statement journal (7's reason, 6 % of a first poll); tickerfeed
    // queues its own rows, and finds rows inserted by hand past the
    // index's highest id when it indexes. Rows inserted by hand before are
    // queued here, once, whatever their id.
    Migration::Sql(
        r#"
DROP TRIGGER items_fts_delete;
CREATE TRIGGER items_fts_delete BEFORE DELETE ON items BEGIN
    INSERT INTO items_fts(items_fts, rowid, title, summary, content, feed, article)
    SELECT 'delete', s.id, s.title, s.summary, s.content, s.feed, s.article
    FROM v_search_source s
    WHERE s.id = old.id AND EXISTS (SELECT 1 FROM items_fts_docsize WHERE id = old.id);
    DELETE FROM fts_pending WHERE item_id = old.id;
END;

DROP TRIGGER items_fts_update;
CREATE TRIGGER items_fts_update AFTER UPDATE OF title, summary_text, content_text ON items BEGIN
    INSERT INTO items_fts(items_fts, rowid, title, summary, content, feed, article)
    SELECT 'delete', old.id, old.title, old.summary_text, old.content_text,
           (SELECT name FROM feeds WHERE id = old.origin_feed_id),
           (SELECT content_text FROM item_articles WHERE item_id = old.id)
    WHERE EXISTS (SELECT 1 FROM items_fts_docsize WHERE id = old.id);
    INSERT OR IGNORE INTO fts_pending (item_id) VALUES (new.id);
END;

DROP TRIGGER item_articles_fts_update;
CREATE TRIGGER item_articles_fts_update BEFORE UPDATE OF content_text ON item_articles
WHEN old.content_text IS NOT new.content_text BEGIN
    INSERT INTO items_fts(items_fts, rowid, title, summary, content, feed, article)
    SELECT 'delete', s.id, s.title, s.summary, s.content, s.feed, s.article
    FROM v_search_source s
    WHERE s.id = old.item_id
      AND EXISTS (SELECT 1 FROM items_fts_docsize WHERE id = old.item_id);
    INSERT OR IGNORE INTO fts_pending (item_id) VALUES (old.item_id);
END;

INSERT OR IGNORE INTO fts_pending (item_id)
SELECT id FROM items WHERE id NOT IN (SELECT id FROM items_fts_docsize);
"#,
    ),
    // 33: `v_items` gains `author_emails` (at the end, so queries by
    // position keep working): 31 stored it in `items` only. No view reads
    // `v_items`, so it alone is recreated.
    Migration::Sql(
        r#"
DROP VIEW v_items;
CREATE VIEW v_items AS
SELECT i.id, i.uid, i.title, i.url, i.canonical_url, i.guid,
       i.summary_html, i.content_html, i.authors, i.categories,
       i.published_at, i.updated_at, i.first_seen_at, i.changed_at, i.sort_at,
       f.name AS feed,
       (SELECT count(*) FROM item_sources s WHERE s.item_id = i.id) AS source_count,
       i.summary_text, i.content_text, i.revision, i.enclosures, i.author_emails
FROM items i JOIN feeds f ON f.id = i.origin_feed_id;
"#,
    ),
    // 34: the error of each alert's last failed attempt, cleared by a
    // delivery: read from the outbox's rows, `tickerfeed alerts` kept
    // showing an error after its receiver had taken messages again.
    // Filled from the outbox as it stands (the newest error per alert).
    Migration::Sql(
        "ALTER TABLE alerts ADD COLUMN last_error TEXT;
         UPDATE alerts SET last_error =
             (SELECT o.last_error FROM alert_outbox o
              WHERE o.alert = alerts.name AND o.last_error IS NOT NULL
              ORDER BY o.next_attempt_at DESC LIMIT 1);",
    ),
    // 35: what each quote provider (at its endpoint) has been asked lately
    // and whether it asked us to wait, shared by every process on the
    // archive: kept in one process's memory, `tickerfeed quotes` runs
    // beside the daemon (or from cron) spent the provider's budget again
    // each, and asked it while the daemon's 429 pause ran.
    Migration::Sql(
        "CREATE TABLE provider_pauses (
             provider TEXT NOT NULL,
             endpoint TEXT NOT NULL,
             paused_until TEXT,
             reason TEXT,
             strikes INTEGER NOT NULL DEFAULT 0,
             PRIMARY KEY (provider, endpoint)
         );
         CREATE TABLE provider_spends (
             provider TEXT NOT NULL,
             endpoint TEXT NOT NULL,
             spent_at TEXT NOT NULL,
             credits INTEGER NOT NULL
         );
         CREATE INDEX provider_spends_by_time ON provider_spends (provider, endpoint, spent_at);",
    ),
    // 36: when `tickerfeed alerts retry` last put a failed alert message
    // back; its retry window (`retry_for_hours`) runs from then, from
    // `created_at` while NULL. Timed from `created_at` alone (which says
    // when the alert was made, and keeps saying it), a retried message's
    // window had long closed, so its first failure (a 502 while the
    // receiver restarted) failed it again for good. Rows from before keep
    // NULL: their window runs from `created_at`, as it did.
    Migration::Sql("ALTER TABLE alert_outbox ADD COLUMN retried_at TEXT;"),
];

/// Migrations 23 and 28 blank secrets with this: their own copy of the
/// rules as they stood when 23 was written, so that editing
/// `link::blank_secrets` can never change what they do to an old archive.
fn blank_as_of_23() -> impl Fn(&str) -> String + Send + 'static {
    let userinfo =
        regex::Regex::new(r#"://([^/?#@\s:"'<>]*)(:[^/?#@\s"'<>]*)?@"#).expect("constant pattern");
    let key_param = regex::Regex::new(
        r#"(?i)\b([a-z_]*(?:api_?key|token|secret|passw(?:or)?d)|(?:[a-z]+[_-])*key)(=|:\s*)([^&\s#"'<>()\[\]]*)"#,
    )
    .expect("constant pattern");
    move |text: &str| -> String {
        let text = userinfo.replace_all(text, |c: &regex::Captures<'_>| match c.get(2) {
            Some(_) => format!("://{}:****@", &c[1]),
            None if c[1].is_empty() => "://@".to_owned(),
            None => "://****@".to_owned(),
        });
        key_param
            .replace_all(&text, |c: &regex::Captures<'_>| {
                let end = if c[3].ends_with(';') { ";" } else { "" };
                format!("{}{}****{end}", &c[1], &c[2])
            })
            .into_owned()
    }
}

/// Migration 23.
fn blank_feed_secrets(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    use rusqlite::functions::FunctionFlags;
    let blank = blank_as_of_23();
    tx.create_scalar_function(
        "tickerfeed_blank_secrets",
        1,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        move |ctx| Ok(ctx.get::<Option<String>>(0)?.map(|text| blank(&text))),
    )?;
    // Every column that can hold a feed's address or text quoting one.
    // Item links are the publishers' pages, not our access to a feed.
    for (table, columns) in [
        (
            "feeds",
            &[
                "url",
                "effective_url",
                "redirect_candidate",
                "last_error",
                "retired_reason",
            ][..],
        ),
        ("fetches", &["url", "final_url", "redirects", "error"][..]),
        ("feed_url_changes", &["old_url", "new_url", "reason"][..]),
        ("host_pauses", &["reason"][..]),
    ] {
        for column in columns {
            tx.execute(
                &format!(
                    "UPDATE {table} SET {column} = tickerfeed_blank_secrets({column})
                     WHERE {column} IS NOT tickerfeed_blank_secrets({column})"
                ),
                [],
            )?;
        }
    }
    tx.remove_function("tickerfeed_blank_secrets", 1)
}

/// Migration 28.
fn end_keyed_subscriptions(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    let blank = blank_as_of_23();
    // Newest first: two keys of one feed at one hub (a key that changed)
    // blank to one topic, which `UNIQUE (feed_id, hub, topic)` allows once.
    // The newest row keeps it; the older ones ended when the newer one
    // replaced them, and are deleted.
    let rows: Vec<(i64, i64, String, String, String, Option<String>)> = tx
        .prepare(
            "SELECT id, feed_id, hub, topic, state, last_error FROM websub_subscriptions
             ORDER BY id DESC",
        )?
        .query_map([], |r| r.try_into())?
        .collect::<Result<_, _>>()?;
    let mut taken = tx.prepare(
        "SELECT 1 FROM websub_subscriptions WHERE feed_id = ?1 AND hub = ?2 AND topic = ?3",
    )?;
    let mut end = tx.prepare(
        "UPDATE websub_subscriptions SET topic = ?2, state = 'expired', renew_at = NULL,
                                         last_error = ?3
         WHERE id = ?1",
    )?;
    // One that ended already keeps its state and why (an error quoting
    // the topic quotes its key too, so that is blanked as well).
    let mut blank_ended =
        tx.prepare("UPDATE websub_subscriptions SET topic = ?2, last_error = ?3 WHERE id = ?1")?;
    for (id, feed_id, hub, topic, state, last_error) in rows {
        let blanked = blank(&topic);
        if blanked == topic {
            continue;
        }
        if taken.exists(params![feed_id, hub, blanked])? {
            tx.execute("DELETE FROM websub_subscriptions WHERE id = ?1", [id])?;
        } else if state == "pending" || state == "active" {
            end.execute(params![id, blanked, ENDED_BY_28])?;
        } else {
            blank_ended.execute(params![id, blanked, last_error.map(|e| blank(&e))])?;
        }
    }
    Ok(())
}

/// Why migration 28 ended a subscription (`websub_subscriptions.last_error`).
const ENDED_BY_28: &str = "ended by the upgrade to schema version 28: the topic held the \
     feed's key or password, which the archive does not keep, and the hub cannot be asked to \
     unsubscribe without the exact topic (its pushes get 410 Gone); the feed is polled";

fn migration_22(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute_batch("ALTER TABLE item_reactions ADD COLUMN change_percent TEXT;")?;
    let pairs: Vec<(i64, String, String, String, String)> = tx
        .prepare(
            "SELECT r.item_id, r.symbol, r.horizon, q0.price, q.price
             FROM item_reactions r
             JOIN quotes q ON q.id = r.quote_id
             JOIN item_reactions r0 ON r0.item_id = r.item_id AND r0.symbol = r.symbol
                                   AND r0.horizon = 'then'
             JOIN quotes q0 ON q0.id = r0.quote_id",
        )?
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })?
        .collect::<Result<_, _>>()?;
    {
        let mut update = tx.prepare(
            "UPDATE item_reactions SET change_percent = ?4
             WHERE item_id = ?1 AND symbol = ?2 AND horizon = ?3",
        )?;
        for (item_id, symbol, horizon, then, price) in pairs {
            let change = frozen_change_v22(&then, &price);
            update.execute(params![item_id, symbol, horizon, change])?;
        }
    }
    tx.execute_batch(
        r#"
DROP VIEW v_item_reactions;
CREATE VIEW v_item_reactions AS
SELECT m.item_id, i.uid, i.title, i.url, i.published_at, i.first_seen_at AS ingested_at,
       m.symbol, r0.exchange, r0.target_at AS measured_from,
       coalesce(q0.currency, q1.currency, q2.currency, q3.currency, q4.currency) AS currency,
       CAST(q0.price AS REAL) AS price_then,
       CASE WHEN q0.id IS NOT NULL THEN
            CASE q0.source WHEN 'backfill' THEN 'backfill' ELSE 'recorded' END END AS price_then_source,
       r1.target_at AS at_15m,
       CAST(q1.price AS REAL) AS price_15m,
       CAST(r1.change_percent AS REAL) AS change_15m_percent,
       CASE WHEN q1.id IS NOT NULL THEN
            CASE q1.source WHEN 'backfill' THEN 'backfill' ELSE 'recorded' END END AS price_15m_source,
       r2.target_at AS at_1h,
       CAST(q2.price AS REAL) AS price_1h,
       CAST(r2.change_percent AS REAL) AS change_1h_percent,
       CASE WHEN q2.id IS NOT NULL THEN
            CASE q2.source WHEN 'backfill' THEN 'backfill' ELSE 'recorded' END END AS price_1h_source,
       r3.target_at AS at_1d,
       CAST(q3.price AS REAL) AS price_1d,
       CAST(r3.change_percent AS REAL) AS change_1d_percent,
       CASE WHEN q3.id IS NOT NULL THEN
            CASE q3.source WHEN 'backfill' THEN 'backfill' ELSE 'recorded' END END AS price_1d_source,
       r4.target_at AS close_at,
       CAST(q4.price AS REAL) AS price_close,
       CAST(r4.change_percent AS REAL) AS change_close_percent,
       CASE WHEN q4.id IS NOT NULL THEN
            CASE q4.source WHEN 'backfill' THEN 'backfill' ELSE 'recorded' END END AS price_close_source,
       (SELECT count(*) FROM item_reactions p
        WHERE p.item_id = m.item_id AND p.symbol = m.symbol AND p.state = 'pending') AS pending
FROM item_mentions m
JOIN items i ON i.id = m.item_id
LEFT JOIN item_reactions r0 ON r0.item_id = m.item_id AND r0.symbol = m.symbol AND r0.horizon = 'then'
LEFT JOIN quotes q0 ON q0.id = r0.quote_id
LEFT JOIN item_reactions r1 ON r1.item_id = m.item_id AND r1.symbol = m.symbol AND r1.horizon = '15m'
LEFT JOIN quotes q1 ON q1.id = r1.quote_id
LEFT JOIN item_reactions r2 ON r2.item_id = m.item_id AND r2.symbol = m.symbol AND r2.horizon = '1h'
LEFT JOIN quotes q2 ON q2.id = r2.quote_id
LEFT JOIN item_reactions r3 ON r3.item_id = m.item_id AND r3.symbol = m.symbol AND r3.horizon = '1d'
LEFT JOIN quotes q3 ON q3.id = r3.quote_id
LEFT JOIN item_reactions r4 ON r4.item_id = m.item_id AND r4.symbol = m.symbol AND r4.horizon = 'close'
LEFT JOIN quotes q4 ON q4.id = r4.quote_id;
"#,
    )
}

/// Migration 22's change of `price` against `then`: a frozen copy of the
/// rule in `store::reactions::store_changes` as it stood when the migration
/// was written (exact decimal, 2 places, a half away from zero; none for a
/// `then` of 0, an unreadable price or an overflow), so that editing the
/// live rule can never change what this migration writes.
fn frozen_change_v22(then: &str, price: &str) -> Option<String> {
    use rust_decimal::{Decimal, RoundingStrategy};
    let then: Decimal = then.parse().ok().filter(|t: &Decimal| !t.is_zero())?;
    let change = price
        .parse::<Decimal>()
        .ok()?
        .checked_sub(then)?
        .checked_mul(Decimal::ONE_HUNDRED)?
        .checked_div(then)?;
    Some(
        change
            .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
            .normalize()
            .to_string(),
    )
}

fn migration_4(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute_batch(
        r#"
ALTER TABLE items ADD COLUMN summary_text TEXT;
ALTER TABLE items ADD COLUMN content_text TEXT;
ALTER TABLE items ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;
ALTER TABLE item_sources ADD COLUMN reason TEXT;

CREATE TABLE item_revisions (
    item_id        INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,
    revision       INTEGER NOT NULL,
    replaced_at    TEXT NOT NULL,
    title          TEXT NOT NULL,
    url            TEXT,
    summary_html   TEXT,
    content_html   TEXT,
    published_at   TEXT,
    updated_at     TEXT,
    content_sha256 TEXT NOT NULL,
    PRIMARY KEY (item_id, revision)
) STRICT, WITHOUT ROWID;

CREATE TABLE tombstones (
    id            INTEGER PRIMARY KEY,
    uid           TEXT NOT NULL,
    feed_id       INTEGER,
    item_key      TEXT,
    guid          TEXT,
    canonical_url TEXT,
    title         TEXT,
    deleted_at    TEXT NOT NULL,
    reason        TEXT NOT NULL
) STRICT;
CREATE INDEX tombstones_by_key ON tombstones(feed_id, item_key);
CREATE INDEX tombstones_by_url ON tombstones(canonical_url) WHERE canonical_url IS NOT NULL;
CREATE INDEX tombstones_by_guid ON tombstones(guid) WHERE guid IS NOT NULL;
"#,
    )?;
    // Backfill the plain-text columns before the index exists, so its
    // triggers never see a row they did not index.
    let rows: Vec<(i64, Option<String>, Option<String>)> = tx
        .prepare("SELECT id, summary_html, content_html FROM items")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    {
        let mut update =
            tx.prepare("UPDATE items SET summary_text = ?2, content_text = ?3 WHERE id = ?1")?;
        for (id, summary, content) in rows {
            update.execute(params![
                id,
                summary.as_deref().map(frozen_text_v4),
                content.as_deref().map(frozen_text_v4)
            ])?;
        }
    }
    tx.execute_batch(
        r#"
CREATE VIEW v_search_source AS
SELECT i.id AS id, i.title AS title, i.summary_text AS summary, i.content_text AS content,
       f.name AS feed
FROM items i JOIN feeds f ON f.id = i.origin_feed_id;

CREATE VIRTUAL TABLE items_fts USING fts5(
    title, summary, content, feed,
    content = 'v_search_source', content_rowid = 'id',
    tokenize = 'porter unicode61 remove_diacritics 2'
);
INSERT INTO items_fts(items_fts) VALUES ('rebuild');

CREATE TRIGGER items_fts_insert AFTER INSERT ON items BEGIN
    INSERT INTO items_fts(rowid, title, summary, content, feed)
    VALUES (new.id, new.title, new.summary_text, new.content_text,
            (SELECT name FROM feeds WHERE id = new.origin_feed_id));
END;
CREATE TRIGGER items_fts_delete AFTER DELETE ON items BEGIN
    INSERT INTO items_fts(items_fts, rowid, title, summary, content, feed)
    VALUES ('delete', old.id, old.title, old.summary_text, old.content_text,
            (SELECT name FROM feeds WHERE id = old.origin_feed_id));
END;
CREATE TRIGGER items_fts_update AFTER UPDATE OF title, summary_text, content_text ON items BEGIN
    INSERT INTO items_fts(items_fts, rowid, title, summary, content, feed)
    VALUES ('delete', old.id, old.title, old.summary_text, old.content_text,
            (SELECT name FROM feeds WHERE id = old.origin_feed_id));
    INSERT INTO items_fts(rowid, title, summary, content, feed)
    VALUES (new.id, new.title, new.summary_text, new.content_text,
            (SELECT name FROM feeds WHERE id = new.origin_feed_id));
END;

DROP VIEW v_items;
CREATE VIEW v_items AS
SELECT i.id, i.uid, i.title, i.url, i.canonical_url, i.guid,
       i.summary_html, i.content_html, i.authors, i.categories,
       i.published_at, i.updated_at, i.first_seen_at, i.changed_at, i.sort_at,
       f.name AS feed,
       (SELECT count(*) FROM item_sources s WHERE s.item_id = i.id) AS source_count,
       i.summary_text, i.content_text, i.revision
FROM items i JOIN feeds f ON f.id = i.origin_feed_id;

DROP VIEW v_item_sources;
CREATE VIEW v_item_sources AS
SELECT s.item_id, i.uid, i.title, f.name AS feed, s.item_key, s.matched_by,
       s.first_seen_at, s.last_seen_at, s.reason
FROM item_sources s JOIN items i ON i.id = s.item_id JOIN feeds f ON f.id = s.feed_id;

CREATE VIEW v_item_revisions AS
SELECT r.item_id, i.uid, r.revision, r.replaced_at, r.title, r.url,
       r.summary_html, r.content_html, r.published_at, r.updated_at
FROM item_revisions r JOIN items i ON i.id = r.item_id;
"#,
    )
}

/// Brings `conn` up to the latest schema in one exclusive transaction.
/// Returns the version it ended at.
pub(crate) fn migrate(conn: &mut Connection) -> rusqlite::Result<usize> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Exclusive)?;
    let version: usize = tx.query_row("SELECT user_version FROM pragma_user_version", [], |r| {
        r.get::<_, i64>(0).map(|v| v as usize)
    })?;
    if version < MIGRATIONS.len() {
        apply(&tx, &MIGRATIONS[version..])?;
        tx.pragma_update(None, "user_version", MIGRATIONS.len() as i64)?;
    }
    // Only when it is not ours yet: writing it again on every open made
    // each command a write, which read-only uses (`search`, `export`)
    // should not be, and told the daemon the archive had changed.
    let app_id: i32 = tx.query_row("PRAGMA application_id", [], |r| r.get(0))?;
    if app_id != APPLICATION_ID {
        tx.pragma_update(None, "application_id", APPLICATION_ID)?;
    }
    tx.commit()?;
    Ok(MIGRATIONS.len().max(version))
}

/// Gives `conn`, a new database, the schema of version `n` (the first `n`
/// migrations), as the tickerfeed that stopped there left it: what tests
/// of an upgrade start from. Later migrations are never undone by hand,
/// so a new one cannot break such a test.
pub(crate) fn migrate_to(conn: &mut Connection, n: usize) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Exclusive)?;
    apply(&tx, &MIGRATIONS[..n])?;
    tx.pragma_update(None, "user_version", n as i64)?;
    tx.pragma_update(None, "application_id", APPLICATION_ID)?;
    tx.commit()
}

fn apply(tx: &Transaction<'_>, steps: &[Migration]) -> rusqlite::Result<()> {
    for step in steps {
        match step {
            Migration::Sql(sql) => tx.execute_batch(sql)?,
            Migration::Code(f) => f(tx)?,
        }
    }
    Ok(())
}

/// Migration 4's plain text of sanitised HTML: a frozen copy of
/// `pipeline::normalize::sanitized_to_text` as it stood when the migration
/// was written, so that editing the live function can never change what
/// this "never edit" migration does to an old archive.
fn frozen_text_v4(html: &str) -> String {
    const ENTITIES: [(&str, &str); 6] = [
        ("&amp;", "&"),
        ("&lt;", "<"),
        ("&gt;", ">"),
        ("&quot;", "\""),
        ("&#39;", "'"),
        ("&nbsp;", "\u{a0}"),
    ];
    let b = html.as_bytes();
    let mut out = String::with_capacity(html.len());
    let mut i = 0;
    while let Some(found) = memchr::memchr2(b'<', b'&', &b[i..]) {
        let at = i + found;
        out.push_str(&html[i..at]);
        if b[at] == b'<' {
            // Skip to the tag's end, minding quoted attribute values (the
            // serialiser leaves `>` unescaped inside them).
            let mut quote = None;
            i = at + 1;
            while let Some(&c) = b.get(i) {
                i += 1;
                match (quote, c) {
                    (None, b'"' | b'\'') => quote = Some(c),
                    (Some(q), c) if c == q => quote = None,
                    (None, b'>') => break,
                    _ => {}
                }
            }
        } else {
            let rest = &html[at..];
            let (text, len) = ENTITIES
                .iter()
                .find(|(entity, _)| rest.starts_with(entity))
                .map_or(("&", 1), |(entity, text)| (*text, entity.len()));
            out.push_str(text);
            i = at + len;
        }
    }
    out.push_str(&html[i..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Opening an archive that is up to date writes nothing: other
    /// connections (the daemon) see no change.
    #[test]
    fn migrating_an_up_to_date_archive_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.db");
        let mut conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        migrate(&mut conn).unwrap();
        let observer = Connection::open(&path).unwrap();
        let version = |c: &Connection| -> i64 {
            c.query_row("PRAGMA data_version", [], |r| r.get(0))
                .unwrap()
        };
        let before = version(&observer);
        migrate(&mut Connection::open(&path).unwrap()).unwrap();
        assert_eq!(version(&observer), before);
        // Nor does the rest of opening the archive, as `search` does.
        drop(crate::store::Store::open(&path).unwrap());
        let before = version(&observer);
        drop(crate::store::Store::open(&path).unwrap());
        assert_eq!(version(&observer), before);
    }

    #[test]
    fn migrating_twice_changes_nothing() {
        let mut conn = Connection::open_in_memory().unwrap();
        assert_eq!(migrate(&mut conn).unwrap(), MIGRATIONS.len());
        assert_eq!(migrate(&mut conn).unwrap(), MIGRATIONS.len());
        let app: i32 = conn
            .query_row("PRAGMA application_id", [], |r| r.get(0))
            .unwrap();
        assert_eq!(app, APPLICATION_ID);
    }

    /// Applies the first `n` migrations, as an older tickerfeed would have.
    fn at_version(n: usize) -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate_to(&mut conn, n).unwrap();
        conn
    }

    /// Rows every schema version since 1 can hold.
    fn populate(conn: &Connection, version: usize) {
        conn.execute_batch(
            r#"
INSERT INTO feeds (id, name, url, schedule, created_at, last_result)
VALUES (1, 'polar', 'https://polar.test/rss', '*/15 * * * *', '2026-01-01T00:00:00Z', 'ok');
INSERT INTO items (id, uid, origin_feed_id, guid, url, canonical_url, title, summary_html,
                   content_html, first_seen_at, changed_at, sort_at, content_sha256)
VALUES (1, 'u1', 1, 'g1', 'https://polar.test/1', 'https://polar.test/1', 'Ice report',
        '<p>Snow on the <b>glacier</b></p>', NULL, '2026-01-01T00:00:00Z',
        '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z', 'h1');
INSERT INTO item_sources (feed_id, item_key, item_id, matched_by, first_seen_at, last_seen_at)
VALUES (1, 'id:g1', 1, 'new', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z');
INSERT INTO fetches (feed_id, started_at, url, status, result, duration_ms)
VALUES (1, '2026-01-01T00:00:00Z', 'https://polar.test/rss', 200, 'ok', 12);
"#,
        )
        .unwrap();
        if version >= 7 {
            // From 7 on, tickerfeed queues a new item for search itself,
            // in the insert's transaction (no trigger does).
            conn.execute("INSERT INTO fts_pending (item_id) VALUES (1)", [])
                .unwrap();
        }
        if version >= 2 {
            conn.execute_batch(
                r#"
INSERT INTO quotes (id, symbol, provider, provider_symbol, price, fetched_at, session)
VALUES (1, 'BP', 'yahoo', 'BP', '29.72', '2026-01-01T00:00:00Z', 'regular');
INSERT INTO snapshots (item_id, label, taken_at) VALUES (1, 'LSE', '2026-01-01T00:00:00Z');
INSERT INTO snapshot_quotes (item_id, position, quote_id, symbol, stale, mentioned)
VALUES (1, 0, 1, 'BP', 0, 1);
INSERT INTO item_mentions (item_id, symbol) VALUES (1, 'BP');
"#,
            )
            .unwrap();
        }
        if version >= 4 {
            // From 4 on, tickerfeed writes the plain text beside the HTML.
            conn.execute(
                "UPDATE items SET summary_text = 'Snow on the glacier' WHERE id = 1",
                [],
            )
            .unwrap();
        }
        // Since the fulltext migration the index has an `article` column
        // (asked of the schema, so the test holds wherever that migration
        // ends up in the list).
        let has_article: bool = conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM pragma_table_info('v_search_source')
                                WHERE name = 'article')",
                [],
                |r| r.get(0),
            )
            .unwrap();
        if has_article {
            crate::store::items::index_pending(conn).unwrap();
        } else if version >= 5 {
            // From 5 on, tickerfeed indexes queued items before committing
            // (the statement as it stood before 9).
            conn.execute_batch(
                "INSERT INTO items_fts (rowid, title, summary, content, feed)
                 SELECT s.id, s.title, s.summary, s.content, s.feed
                 FROM fts_pending p JOIN v_search_source s ON s.id = p.item_id;
                 DELETE FROM fts_pending;",
            )
            .unwrap();
        }
    }

    /// A mention priced in dollars when it came in and in pounds now (the
    /// symbol moved to another listing) has no change since ingest: a
    /// 92 % "fall" from 9.50 USD to 0.72 GBP is no fall.
    #[test]
    fn the_change_since_ingest_stays_within_one_currency() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        conn.execute_batch(super::super::ONE_FEED_ONE_ITEM).unwrap();
        conn.execute_batch(
            r#"
INSERT INTO quotes (id, symbol, provider, provider_symbol, price, currency, fetched_at, session)
VALUES (1, 'VOD', 'yahoo', 'VOD', '9.5', 'USD', '2026-01-01T00:00:00Z', 'regular');
INSERT INTO snapshots (item_id, label, taken_at) VALUES (1, 'LSE', '2026-01-01T00:00:00Z');
INSERT INTO snapshot_quotes (item_id, position, quote_id, symbol, stale, mentioned)
VALUES (1, 0, 1, 'VOD', 0, 1);
INSERT INTO item_mentions (item_id, symbol) VALUES (1, 'VOD');
"#,
        )
        .unwrap();
        let latest = |conn: &Connection, price: &str, currency: &str, at: &str| {
            conn.execute(
                "INSERT INTO quotes (symbol, provider, provider_symbol, price, currency,
                                     fetched_at, session)
                 VALUES ('VOD', 'yahoo', 'VOD.L', ?1, ?2, ?3, 'regular')",
                [price, currency, at],
            )
            .unwrap();
            conn.query_row(
                "SELECT change_since_ingest_percent, latest_currency FROM v_item_mentions",
                [],
                |r| Ok((r.get::<_, Option<f64>>(0)?, r.get::<_, String>(1)?)),
            )
            .unwrap()
        };
        assert_eq!(
            latest(&conn, "0.72", "GBP", "2026-01-02T00:00:00Z"),
            (None, "GBP".into())
        );
        assert_eq!(
            latest(&conn, "9.69", "USD", "2026-01-03T00:00:00Z"),
            (Some(2.0), "USD".into())
        );
        // A provider that gives no currency: compared only within the
        // listing the price at ingest came from (`VOD`), not another.
        let without = |provider_symbol: &str, at: &str| {
            conn.execute(
                "INSERT INTO quotes (symbol, provider, provider_symbol, price, fetched_at, session)
                 VALUES ('VOD', 'finnhub', ?1, '9.69', ?2, 'regular')",
                [provider_symbol, at],
            )
            .unwrap();
            conn.query_row(
                "SELECT change_since_ingest_percent FROM v_item_mentions",
                [],
                |r| r.get::<_, Option<f64>>(0),
            )
            .unwrap()
        };
        assert_eq!(without("VOD.L", "2026-01-04T00:00:00Z"), None);
        assert_eq!(without("vod", "2026-01-05T00:00:00Z"), Some(2.0));
    }

    /// An analyst reading one item's mentions, or one symbol's, reads those
    /// rows: nothing is built whole (`v_snapshot_quotes` was, for every
    /// query) and no symbol's quotes are scanned for each mention (joining
    /// `v_latest_quotes` by symbol tested every one).
    #[test]
    fn the_mentions_view_finds_each_mentions_quotes_by_key() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        for filter in ["item_id = 1", "symbol = 'BP'"] {
            let plan = super::super::query_plan(
                &conn,
                &format!("SELECT * FROM v_item_mentions WHERE {filter}"),
            )
            .join("\n");
            assert!(!plan.contains("MATERIALIZE"), "{filter}\n{plan}");
            assert!(!plan.contains("SCAN"), "{filter}\n{plan}");
            // The latest quote: the newest of the symbol's, by its index.
            assert!(
                plan.contains("CORRELATED SCALAR SUBQUERY")
                    && !plan.contains("quotes_by_symbol_time"),
                "{filter}\n{plan}"
            );
        }
    }

    /// The filters an analyst puts on `v_latest_quotes`: none, one
    /// symbol, a list.
    const LATEST_QUOTES_SHAPES: [&str; 3] =
        ["", "WHERE symbol = 'BP'", "WHERE symbol IN ('BP', 'VOD')"];

    /// `v_latest_quotes` as version 15 made it, which tested every quote.
    const LATEST_QUOTES_OF_15: &str = "
CREATE VIEW old_latest_quotes AS
SELECT q.* FROM v_quotes q
WHERE q.id = (SELECT q2.id FROM quotes q2 WHERE q2.symbol = q.symbol AND q2.source = 'board'
              ORDER BY q2.fetched_at DESC, q2.id DESC LIMIT 1);";

    /// Reading the latest quotes, unfiltered, by symbol, by a list or
    /// joined by symbol, seeks each symbol's latest quote: no query reads
    /// through `quotes` (unfiltered, the view of version 15 tested every
    /// row, 0.2 s on 200,000 quotes), a filter on `symbol` reads only the
    /// symbols it names (a first version of 30 walked every symbol held
    /// for one), and no step goes with the number of quotes a symbol has.
    #[test]
    fn the_latest_quotes_view_seeks_each_symbols_latest_quote() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        for filter in LATEST_QUOTES_SHAPES {
            let plan =
                super::super::query_plan(&conn, &format!("SELECT * FROM v_latest_quotes {filter}"))
                    .join("\n");
            // The only scan is of the symbols held, and only when no
            // symbol is named.
            for line in plan.lines().filter(|l| l.contains("SCAN")) {
                assert!(filter.is_empty(), "{filter}\n{plan}");
                assert_eq!(line, "SCAN s", "{filter}\n{plan}");
            }
            assert!(
                plan.contains("SEARCH q2 USING INDEX quotes_by_symbol (symbol=?)"),
                "{filter}\n{plan}"
            );
        }
        // Joined by symbol, as an analyst looks up each mention's latest
        // quote: a seek per row, not the view built per row.
        let plan = super::super::query_plan(
            &conn,
            "SELECT m.item_id, l.price FROM item_mentions m
             JOIN v_latest_quotes l ON l.symbol = m.symbol",
        )
        .join("\n");
        assert!(
            plan.lines()
                .filter(|l| l.contains("SCAN"))
                .all(|l| l.contains("item_mentions") || l.contains(" m")),
            "{plan}"
        );
        // The same read of 3 symbols costs as much with 10 quotes a symbol
        // as with 300: what grows is only how deep each seek goes.
        let steps = |conn: &Connection, filter: &str| -> i32 {
            let mut stmt = conn
                .prepare(&format!("SELECT * FROM v_latest_quotes {filter}"))
                .unwrap();
            let rows = stmt.query_map([], |_| Ok(())).unwrap().count();
            assert!(rows > 0, "{filter}");
            stmt.get_status(rusqlite::StatementStatus::VmStep)
        };
        let add_quotes = |conn: &Connection, n: usize| {
            for _ in 0..n {
                for symbol in ["AZN", "BP", "VOD"] {
                    conn.execute(
                        "INSERT INTO quotes (symbol, provider, provider_symbol, price, fetched_at, session)
                         VALUES (?1, 'yahoo', ?1, '1', '2026-01-01T00:00:00Z', 'regular')",
                        [symbol],
                    )
                    .unwrap();
                }
            }
        };
        add_quotes(&conn, 10);
        let few: Vec<i32> = LATEST_QUOTES_SHAPES
            .iter()
            .map(|f| steps(&conn, f))
            .collect();
        add_quotes(&conn, 290);
        let many: Vec<i32> = LATEST_QUOTES_SHAPES
            .iter()
            .map(|f| steps(&conn, f))
            .collect();
        assert_eq!(few, many, "{LATEST_QUOTES_SHAPES:?}");
        // Nor does a read by symbol grow with the symbols held.
        for n in 0..500 {
            conn.execute(
                "INSERT INTO quotes (symbol, provider, provider_symbol, price, fetched_at, session)
                 VALUES (?1, 'yahoo', ?1, '1', '2026-01-01T00:00:00Z', 'regular')",
                [format!("X{n:03}")],
            )
            .unwrap();
        }
        let by_symbol: Vec<i32> = LATEST_QUOTES_SHAPES[1..]
            .iter()
            .map(|f| steps(&conn, f))
            .collect();
        assert_eq!(by_symbol, many[1..], "{LATEST_QUOTES_SHAPES:?}");
    }

    /// The view of version 30 gives exactly the rows of version 15's, by
    /// every shape of filter: one row per symbol with a board quote (none
    /// for a symbol with only backfilled ones), the newest by `fetched_at`,
    /// of two at the same time the one with the higher `id` (whatever the
    /// order they came in), symbols compared case by case.
    #[test]
    fn the_latest_quotes_view_gives_the_rows_of_version_15() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        conn.execute_batch(LATEST_QUOTES_OF_15).unwrap();
        conn.execute_batch(
            r#"
INSERT INTO quotes (id, symbol, provider, provider_symbol, price, currency, as_of, fetched_at, session, source)
VALUES (20, 'BP', 'yahoo', 'BP.L', '4.71', 'GBP', '2026-01-02T09:59:00Z', '2026-01-02T10:00:00Z', 'regular', 'board'),
       (11, 'BP', 'yahoo', 'BP.L', '4.72', 'GBP', '2026-01-02T09:59:30Z', '2026-01-02T10:00:00Z', 'regular', 'board'),
       (5,  'BP', 'yahoo', 'BP.L', '4.60', 'GBP', NULL, '2026-01-01T10:00:00Z', 'regular', 'board'),
       (30, 'BP', 'yahoo', 'BP.L', '4.50', 'GBP', '2026-01-01T16:30:00Z', '2026-01-03T10:00:00Z', 'closed', 'backfill'),
       (12, 'bp', 'finnhub', 'BP', '36.1', 'USD', NULL, '2026-01-02T10:00:00Z', 'regular', 'board'),
       (13, 'AZN', 'yahoo', 'AZN.L', '101', 'GBP', NULL, '2026-01-02T10:00:00Z', 'closed', 'backfill'),
       (2,  'VOD', 'yahoo', 'VOD.L', '0.72', 'GBP', NULL, '2026-01-02T11:00:00Z', 'regular', 'board'),
       (9,  'VOD', 'yahoo', 'VOD.L', '0.71', 'GBP', NULL, '2026-01-02T10:00:00Z', 'regular', 'board'),
       (40, 'VOD', 'yahoo', 'VOD.L', '0.73', 'GBP', NULL, '2026-01-02T11:00:00Z', 'post', 'board');
"#,
        )
        .unwrap();
        // And a board of twenty more, refreshed in turn.
        for n in 0..200 {
            conn.execute(
                "INSERT INTO quotes (symbol, provider, provider_symbol, price, fetched_at, session)
                 VALUES (?1, 'stooq', ?1, ?2, ?3, 'regular')",
                rusqlite::params![
                    format!("S{:02}", n % 20),
                    format!("{}.{}", 10 + n % 7, n),
                    format!("2026-01-0{}T10:00:00Z", 1 + (n * 7) % 5)
                ],
            )
            .unwrap();
        }
        let read = |view: &str, filter: &str| -> (Vec<String>, Vec<Vec<rusqlite::types::Value>>) {
            let mut stmt = conn
                .prepare(&format!("SELECT * FROM {view} {filter} ORDER BY id"))
                .unwrap();
            let columns = stmt.column_names().map(str::to_owned).collect();
            let n = stmt.column_count();
            let rows = stmt
                .query_map([], |r| (0..n).map(|i| r.get(i)).collect())
                .unwrap()
                .map(Result::unwrap)
                .collect();
            (columns, rows)
        };
        for filter in LATEST_QUOTES_SHAPES.into_iter().chain([
            "WHERE symbol IN ('AZN', 'bp', 'NONE')",
            "WHERE symbol > 'S1'",
        ]) {
            let latest = read("v_latest_quotes", filter);
            assert_eq!(latest, read("old_latest_quotes", filter), "{filter}");
            assert!(!latest.1.is_empty(), "{filter}");
        }
        let ids: Vec<i64> = conn
            .prepare("SELECT id FROM v_latest_quotes WHERE symbol IN ('AZN', 'BP', 'bp', 'VOD') ORDER BY id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(ids, [12, 20, 40]);
        let symbols: i64 = conn
            .query_row("SELECT count(*) FROM v_latest_quotes", [], |r| r.get(0))
            .unwrap();
        assert_eq!(symbols, 23);
    }

    /// Over many price pairs (changes of exactly half a hundredth of a
    /// percent that binary cannot hold, rises and falls, a negative price
    /// at ingest, prices with many places), `v_item_mentions` gives the
    /// change since ingest the item's page shows, and both are the exact
    /// change rounded half away from zero. The view rounded a
    /// floating-point change: 3.00045 against 3 (exactly +0.015 %) read
    /// 0.01 there, +0.02 on the page.
    #[test]
    fn the_view_and_the_item_page_give_the_same_change_since_ingest_for_every_price() {
        use rust_decimal::{Decimal, RoundingStrategy};
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        conn.execute_batch(super::super::ONE_FEED_ONE_ITEM).unwrap();
        conn.execute(
            "INSERT INTO snapshots (item_id, label, taken_at) VALUES (1, 'NYSE', '2026-01-01T00:00:00Z')",
            [],
        )
        .unwrap();
        let mut pairs = super::super::change_test_pairs(&["1.7253", "321.66"]);
        // A price that fell to nothing.
        pairs.push(("3".parse().unwrap(), Decimal::ZERO));
        for (n, (then, now)) in pairs.iter().enumerate() {
            let symbol = format!("S{n}");
            for (price, at) in [
                (then, "2026-01-01T00:00:00Z"),
                (now, "2026-01-02T00:00:00Z"),
            ] {
                conn.execute(
                    "INSERT INTO quotes (symbol, provider, provider_symbol, price, currency,
                                         fetched_at, session)
                     VALUES (?1, 'yahoo', ?1, ?2, 'USD', ?3, 'regular')",
                    [&symbol, &price.to_string(), at],
                )
                .unwrap();
            }
            conn.execute(
                "INSERT INTO snapshot_quotes (item_id, position, quote_id, symbol, stale, mentioned)
                 SELECT 1, ?1, min(id), ?2, 0, 1 FROM quotes WHERE symbol = ?2",
                rusqlite::params![n as i64, symbol],
            )
            .unwrap();
            conn.execute(
                "INSERT INTO item_mentions (item_id, symbol) VALUES (1, ?1)",
                [&symbol],
            )
            .unwrap();
        }
        let mut view = conn
            .prepare("SELECT change_since_ingest_percent FROM v_item_mentions WHERE symbol = ?1")
            .unwrap();
        for (n, (then, now)) in pairs.iter().enumerate() {
            let shown: Option<f64> = view.query_row([format!("S{n}")], |r| r.get(0)).unwrap();
            let exact = ((now - then) * Decimal::ONE_HUNDRED / then)
                .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
            let page = crate::render::html::change_since_ingest(*then, *now)
                .expect("a price at ingest that is not 0")
                .figure
                .replace('\u{2212}', "-");
            assert_eq!(
                page.parse::<f64>().unwrap(),
                exact.to_string().parse::<f64>().unwrap(),
                "page, {now} against {then} (exactly {exact})"
            );
            assert_eq!(
                shown,
                Some(page.parse::<f64>().unwrap()),
                "view, {now} against {then}: the page shows {page}"
            );
        }
        assert!(pairs.len() > 300, "{}", pairs.len());
        // More digits than 64-bit integers hold at one scale: the
        // floating-point figure, as before, rather than none.
        conn.execute_batch(
            r#"
INSERT INTO quotes (id, symbol, provider, provider_symbol, price, currency, fetched_at, session)
VALUES (100000, 'LONG', 'yahoo', 'LONG', '1.7252999877929688', 'USD', '2026-01-01T00:00:00Z', 'regular'),
       (100001, 'LONG', 'yahoo', 'LONG', '321.6600036621094', 'USD', '2026-01-02T00:00:00Z', 'regular');
INSERT INTO snapshot_quotes (item_id, position, quote_id, symbol, stale, mentioned)
VALUES (1, 100000, 100000, 'LONG', 0, 1);
INSERT INTO item_mentions (item_id, symbol) VALUES (1, 'LONG');
"#,
        )
        .unwrap();
        let long: Option<f64> = view.query_row(["LONG"], |r| r.get(0)).unwrap();
        assert_eq!(long, Some(18543.71));
    }

    #[test]
    fn every_earlier_version_migrates_to_the_latest_keeping_its_data() {
        for start in 1..MIGRATIONS.len() {
            let mut conn = at_version(start);
            populate(&conn, start);
            assert_eq!(
                migrate(&mut conn).unwrap(),
                MIGRATIONS.len(),
                "from {start}"
            );
            let version: i64 = conn
                .query_row("PRAGMA user_version", [], |r| r.get(0))
                .unwrap();
            assert_eq!(version as usize, MIGRATIONS.len());
            let title: String = conn
                .query_row("SELECT title FROM v_items WHERE feed = 'polar'", [], |r| {
                    r.get(0)
                })
                .unwrap();
            assert_eq!(title, "Ice report", "from {start}");
            // Text from before search existed is searchable afterwards.
            let hit: i64 = conn
                .query_row(
                    "SELECT rowid FROM items_fts WHERE items_fts MATCH 'glacier'",
                    [],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(hit, 1, "from {start}");
            if start >= 2 {
                let price: f64 = conn
                    .query_row("SELECT price_at_ingest FROM v_item_mentions", [], |r| {
                        r.get(0)
                    })
                    .unwrap();
                assert_eq!(price, 29.72);
                // Mentions from before version 11 do not say how they were found.
                let how: Option<String> = conn
                    .query_row("SELECT matched_by FROM v_item_mentions", [], |r| r.get(0))
                    .unwrap();
                assert_eq!(how, None, "from {start}");
                // Quotes held before `quote_symbols` existed are listed
                // there, so the latest quote of each is found.
                let latest: Vec<String> = conn
                    .prepare("SELECT symbol FROM v_latest_quotes")
                    .unwrap()
                    .query_map([], |r| r.get(0))
                    .unwrap()
                    .map(Result::unwrap)
                    .collect();
                assert!(!latest.is_empty(), "from {start}");
                let unlisted: i64 = conn
                    .query_row(
                        "SELECT count(*) FROM quotes WHERE symbol NOT IN (SELECT symbol FROM quote_symbols)",
                        [],
                        |r| r.get(0),
                    )
                    .unwrap();
                assert_eq!(unlisted, 0, "from {start}");
            }
            let ok: String = conn
                .query_row("PRAGMA integrity_check", [], |r| r.get(0))
                .unwrap();
            assert_eq!(ok, "ok");
            let fts_ok: rusqlite::Result<usize> = conn.execute(
                "INSERT INTO items_fts(items_fts, rank) VALUES ('integrity-check', 1)",
                [],
            );
            assert!(fts_ok.is_ok(), "from {start}: {fts_ok:?}");
        }
    }

    /// A row an analyst inserted into an archive before 32 with an `id`
    /// below the indexed ones (restored from a backup), which tickerfeed
    /// never found: the upgrade queues it, it is indexed with the next
    /// batch, and changes like any other.
    #[test]
    fn the_upgrade_to_32_queues_rows_inserted_by_hand() {
        let mut conn = at_version(31);
        populate(&conn, 31);
        conn.execute_batch(
            "INSERT INTO items (id, uid, origin_feed_id, title, first_seen_at, changed_at,
                                sort_at, content_sha256)
             VALUES (9, 'u9', 1, 'Seal colony', '2026-01-01T00:00:00Z',
                     '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z', 'h9');
             INSERT INTO fts_pending (item_id) VALUES (9);",
        )
        .unwrap();
        crate::store::items::index_pending(&conn).unwrap();
        conn.execute(
            "INSERT INTO items (id, uid, origin_feed_id, title, first_seen_at, changed_at,
                                sort_at, content_sha256)
             VALUES (3, 'by-hand', 1, 'Orca pod', '2026-01-01T00:00:00Z',
                     '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z', 'x')",
            [],
        )
        .unwrap();
        let hits = |conn: &Connection, words: &str| -> i64 {
            conn.query_row(
                "SELECT count(*) FROM items_fts WHERE items_fts MATCH ?1",
                [words],
                |r| r.get(0),
            )
            .unwrap()
        };
        migrate(&mut conn).unwrap();
        crate::store::items::index_pending(&conn).unwrap();
        assert_eq!(hits(&conn, "orca"), 1);
        conn.execute(
            "UPDATE items SET title = 'Orca pod returns' WHERE id = 3",
            [],
        )
        .unwrap();
        crate::store::items::index_pending(&conn).unwrap();
        assert_eq!(hits(&conn, "orca returns"), 1);
        conn.execute(
            "INSERT INTO items_fts(items_fts, rank) VALUES ('integrity-check', 1)",
            [],
        )
        .expect("the search index matches the archive");
    }

    /// An archive from before 22 keeps its reactions' changes, now exact:
    /// 3.00045 against 3 (exactly +0.015 %) read 0.01 in the old view.
    #[test]
    fn migration_22_computes_the_changes_already_read() {
        let mut conn = at_version(21);
        populate(&conn, 21);
        conn.execute_batch(
            r#"
INSERT INTO item_mentions (item_id, symbol) VALUES (1, 'ZZZ');
INSERT INTO quotes (id, symbol, provider, provider_symbol, price, currency, fetched_at, session)
VALUES (901, 'ZZZ', 'yahoo', 'ZZZ.L', '3', 'GBP', '2026-01-01T00:00:00Z', 'regular'),
       (902, 'ZZZ', 'yahoo', 'ZZZ.L', '3.00045', 'GBP', '2026-01-01T00:15:00Z', 'regular');
INSERT INTO item_reactions (item_id, symbol, horizon, exchange, target_at, state, quote_id)
VALUES (1, 'ZZZ', 'then', 'XLON', '2026-01-01T00:00:00Z', 'found', 901),
       (1, 'ZZZ', '15m', 'XLON', '2026-01-01T00:15:00Z', 'found', 902),
       (1, 'ZZZ', '1h', 'XLON', '2026-01-01T01:00:00Z', 'pending', NULL);
"#,
        )
        .unwrap();
        let change = |conn: &Connection| -> (Option<f64>, Option<f64>) {
            conn.query_row(
                "SELECT change_15m_percent, change_1h_percent FROM v_item_reactions
                 WHERE symbol = 'ZZZ'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap()
        };
        assert_eq!(change(&conn), (Some(0.01), None), "the old view");
        migrate(&mut conn).unwrap();
        assert_eq!(change(&conn), (Some(0.02), None));
        let stored: Vec<Option<String>> = conn
            .prepare(
                "SELECT change_percent FROM item_reactions WHERE symbol = 'ZZZ' ORDER BY target_at",
            )
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(stored, [Some("0".into()), Some("0.02".into()), None]);
    }

    /// An archive written before secrets were blanked: a feed polled with
    /// a key, moved (by a redirect) to a home with a password, a failed
    /// fetch quoting its URL. Afterwards no column holds either, and the
    /// rest of each address is as it was.
    #[test]
    fn an_old_archives_feed_secrets_are_blanked() {
        let before = MIGRATIONS
            .iter()
            .position(|m| matches!(m, Migration::Code(f) if std::ptr::fn_addr_eq(*f, blank_feed_secrets as fn(&Transaction<'_>) -> rusqlite::Result<()>)))
            .expect("the migration is listed");
        let mut conn = at_version(before);
        conn.execute_batch(
            r#"
INSERT INTO feeds (id, name, url, schedule, created_at, effective_url, redirect_candidate,
                   last_error, retired_reason)
VALUES (1, 'wire', 'https://wire.test/feed?api_key=K3Y-ONE&lang=en', '@hourly',
        '2026-01-01T00:00:00Z', 'https://reader:PA55WORD@new.test/feed?api_key=K3Y-ONE',
        'https://new.test/next?token=K3Y-ONE',
        'error sending request for url (https://wire.test/feed?api_key=K3Y-ONE&lang=en)', NULL);
INSERT INTO fetches (feed_id, started_at, url, status, result, duration_ms, final_url, redirects, error)
VALUES (1, '2026-01-01T00:00:00Z', 'https://wire.test/feed?api_key=K3Y-ONE&lang=en', 200, 'ok', 12,
        'https://reader:PA55WORD@new.test/feed?api_key=K3Y-ONE',
        '301 -> https://reader:PA55WORD@new.test/feed?api_key=K3Y-ONE', 'timed out (api_key=K3Y-ONE)');
INSERT INTO feed_url_changes (feed_id, changed_at, old_url, new_url, reason)
VALUES (1, '2026-01-01T00:00:00Z', 'https://wire.test/feed?api_key=K3Y-ONE&lang=en',
        'https://reader:PA55WORD@new.test/feed?api_key=K3Y-ONE',
        'permanent redirect seen 3 polls in a row: 301 -> https://reader:PA55WORD@new.test/feed?api_key=K3Y-ONE');
INSERT INTO host_pauses (host, paused_until, reason)
VALUES ('wire.test', '2026-01-02T00:00:00Z', 'HTTP 429 for https://wire.test/feed?api_key=K3Y-ONE');
"#,
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        let dump: Vec<String> = conn
            .prepare(
                "SELECT url || effective_url || redirect_candidate || last_error FROM feeds
                 UNION ALL SELECT url || final_url || redirects || error FROM fetches
                 UNION ALL SELECT old_url || new_url || reason FROM feed_url_changes
                 UNION ALL SELECT reason FROM host_pauses",
            )
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(dump.len(), 4);
        for text in &dump {
            assert!(
                !text.contains("K3Y-ONE") && !text.contains("PA55WORD"),
                "{text}"
            );
        }
        let (url, moved): (String, String) = conn
            .query_row("SELECT url, effective_url FROM feeds", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!(url, "https://wire.test/feed?api_key=****&lang=en");
        assert_eq!(moved, "https://reader:****@new.test/feed?api_key=****");
    }

    /// WebSub subscriptions made before 23 (built here as such an archive
    /// holds them) whose topic holds the feed's key or password: no topic
    /// keeps it, a live one ends with why, one that ended keeps its state,
    /// an older one whose topic blanks to the same is dropped, and one
    /// without a secret is left as it was.
    #[test]
    fn an_old_subscription_whose_topic_holds_a_key_ends() {
        let before = MIGRATIONS
            .iter()
            .position(|m| matches!(m, Migration::Code(f) if std::ptr::fn_addr_eq(*f, end_keyed_subscriptions as fn(&Transaction<'_>) -> rusqlite::Result<()>)))
            .expect("the migration is listed");
        let mut conn = at_version(before);
        conn.execute_batch(
            r#"
INSERT INTO feeds (id, name, url, schedule, created_at)
VALUES (1, 'wire', 'https://wire.test/feed?api_key=****', '@hourly', '2026-01-01T00:00:00Z'),
       (2, 'desk', 'https://****@desk.test/feed', '@hourly', '2026-01-01T00:00:00Z'),
       (3, 'open', 'https://open.test/feed', '@hourly', '2026-01-01T00:00:00Z');
INSERT INTO websub_subscriptions (id, feed_id, hub, topic, callback_id, secret, state,
                                  requested_at, lease_expires_at, renew_at, last_error)
VALUES (1, 1, 'https://hub.test/', 'https://wire.test/feed?api_key=OLD-K3Y', 'c1', 's1', 'expired',
        '2026-01-01T00:00:00Z', NULL, NULL, 'the feed now advertises another hub or topic'),
       (2, 1, 'https://hub.test/', 'https://wire.test/feed?api_key=K3Y-NOW', 'c2', 's2', 'active',
        '2026-01-02T00:00:00Z', '2026-01-12T00:00:00Z', '2026-01-10T00:00:00Z', NULL),
       (3, 2, 'https://hub.test/', 'https://T0KEN@desk.test/feed', 'c3', 's3', 'denied',
        '2026-01-02T00:00:00Z', NULL, NULL, 'refused: https://T0KEN@desk.test/feed'),
       (4, 3, 'https://hub.test/', 'https://open.test/feed', 'c4', 's4', 'active',
        '2026-01-02T00:00:00Z', '2026-01-12T00:00:00Z', '2026-01-10T00:00:00Z', NULL);
"#,
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        type Row = (i64, String, String, Option<String>, Option<String>);
        let rows: Vec<Row> = conn
            .prepare(
                "SELECT id, topic, state, renew_at, last_error FROM websub_subscriptions
                 ORDER BY id",
            )
            .unwrap()
            .query_map([], |r| r.try_into())
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
        assert_eq!(ids, [2, 3, 4]);
        let (_, topic, state, renew_at, why) = &rows[0];
        assert_eq!(topic, "https://wire.test/feed?api_key=****");
        assert_eq!((state.as_str(), renew_at), ("expired", &None));
        assert!(why.as_deref().unwrap().contains("polled"), "{why:?}");
        let (_, topic, state, _, why) = &rows[1];
        assert_eq!(topic, "https://****@desk.test/feed");
        assert_eq!(state, "denied");
        assert_eq!(why.as_deref(), Some("refused: https://****@desk.test/feed"));
        assert_eq!(
            rows[2],
            (
                4,
                "https://open.test/feed".into(),
                "active".into(),
                Some("2026-01-10T00:00:00Z".into()),
                None
            )
        );
    }
}
