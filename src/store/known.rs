//! What the archive's articles are known by across feeds: a fingerprint of
//! every item's guid and canonical link, kept in the writer's memory so
//! that dedup (`items::ingest`) asks SQLite about a value only when some
//! item may carry it. In a first poll nearly every article is new, and the
//! index lookups that proved each one new were a tenth of the writer's
//! time; a fingerprint lookup is a hash.
//!
//! The set may say "maybe" wrongly, never "no" wrongly:
//! - a value is added as soon as an item with it is inserted or updated,
//!   so later items of the same fetch or transaction see it;
//! - values of deleted items, or of a transaction that rolled back, stay
//!   (each costs one lookup that finds nothing);
//! - another program writing to the archive (a `tickerfeed poll` beside
//!   the daemon) moves the writer's `PRAGMA data_version`, checked inside
//!   every write transaction that records items (`feeds::begin`; one that
//!   records only 304s and failures never reads the set), and the set is
//!   rebuilt from the archive's guid and link indexes before it is used
//!   again. The first such transaction of a run builds it.
//!
//! Memory: one `u64` per distinct value, about 10 bytes with the table's
//! overhead; 200,000 items with a guid and a link cost about 4 MB.

use std::collections::HashSet;
use std::hash::{BuildHasher, RandomState};

use rusqlite::Connection;

use super::{StoreError, op};

/// Every item's guid and canonical link, fingerprinted (see the module doc).
#[derive(Debug, Default)]
pub(crate) struct KnownIds {
    hasher: RandomState,
    fingerprints: HashSet<u64>,
    /// The writer's `data_version` when the set was last checked against
    /// the archive; `None` until it is first built.
    as_of: Option<i64>,
}

/// The values `KnownIds` holds: read from the partial indexes alone, not
/// from the items' rows.
const ALL_IDS: &str = "SELECT guid FROM items WHERE guid IS NOT NULL
     UNION ALL
     SELECT canonical_url FROM items WHERE canonical_url IS NOT NULL";

impl KnownIds {
    /// Brings the set up to date with the archive as `tx` sees it. Call it
    /// inside a transaction that holds the write lock, so that nothing can
    /// be committed between this check and the lookups that rely on it.
    pub(crate) fn refresh(&mut self, tx: &Connection) -> Result<(), StoreError> {
        let version: i64 = tx
            .query_row("PRAGMA data_version", [], |r| r.get(0))
            .map_err(op("read data_version"))?;
        if self.as_of == Some(version) {
            return Ok(());
        }
        self.fingerprints.clear();
        let mut stmt = tx
            .prepare(ALL_IDS)
            .map_err(op("read the archive's guids and links"))?;
        let mut rows = stmt
            .query([])
            .map_err(op("read the archive's guids and links"))?;
        while let Some(row) = rows
            .next()
            .map_err(op("read the archive's guids and links"))?
        {
            let value = row
                .get_ref(0)
                .map_err(op("read the archive's guids and links"))?;
            if let Ok(text) = value.as_str() {
                self.fingerprints.insert(self.hasher.hash_one(text));
            }
        }
        self.as_of = Some(version);
        Ok(())
    }

    /// Whether an item may carry `value` as its guid or canonical link.
    /// `false` is certain; `true` needs the archive to confirm.
    pub(crate) fn may_hold(&self, value: &str) -> bool {
        self.fingerprints.contains(&self.hasher.hash_one(value))
    }

    /// Records the guid and canonical link of an item just written.
    pub(crate) fn add(&mut self, guid: Option<&str>, canonical_url: Option<&str>) {
        for value in [guid, canonical_url].into_iter().flatten() {
            self.fingerprints.insert(self.hasher.hash_one(value));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn archive() -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        super::super::migrations::migrate(&mut conn).unwrap();
        conn.execute_batch(
            "INSERT INTO feeds (id, name, url, schedule, created_at)
             VALUES (1, 'f', 'https://f.test/feed.xml', '* * * * *', '2026-11-24T09:00:00Z');
             INSERT INTO items (uid, origin_feed_id, guid, canonical_url, title, first_seen_at,
                                changed_at, sort_at, content_sha256)
             VALUES ('u1', 1, 'tag:f.test,2026:1', 'https://f.test/a', 'A', '2026-11-24T09:00:00Z',
                     '2026-11-24T09:00:00Z', '2026-11-24T09:00:00Z', 'x');",
        )
        .unwrap();
        conn
    }

    #[test]
    fn holds_what_the_archive_and_later_writes_carry_and_nothing_else() {
        let conn = archive();
        let mut known = KnownIds::default();
        known.refresh(&conn).unwrap();
        assert!(known.may_hold("tag:f.test,2026:1"));
        assert!(known.may_hold("https://f.test/a"));
        assert!(!known.may_hold("https://f.test/b"));
        known.add(None, Some("https://f.test/b"));
        assert!(known.may_hold("https://f.test/b"));
    }

    #[test]
    fn another_connections_commit_is_seen_at_the_next_refresh() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.db");
        let mine = archive();
        mine.execute("VACUUM INTO ?1", [path.to_str().unwrap()])
            .unwrap();
        let mine = Connection::open(&path).unwrap();
        let mut known = KnownIds::default();
        known.refresh(&mine).unwrap();
        assert!(!known.may_hold("https://f.test/by-hand"));

        Connection::open(&path)
            .unwrap()
            .execute(
                "INSERT INTO items (uid, origin_feed_id, canonical_url, title, first_seen_at,
                                    changed_at, sort_at, content_sha256)
                 VALUES ('u2', 1, 'https://f.test/by-hand', 'B', '2026-11-24T09:00:00Z',
                         '2026-11-24T09:00:00Z', '2026-11-24T09:00:00Z', 'y')",
                [],
            )
            .unwrap();
        known.refresh(&mine).unwrap();
        assert!(known.may_hold("https://f.test/by-hand"));
    }

    /// Rebuilding reads the two partial indexes, never the items' rows
    /// (hundreds of megabytes in a large archive).
    #[test]
    fn rebuilding_reads_only_the_indexes() {
        let conn = archive();
        let plan: Vec<String> = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {ALL_IDS}"))
            .unwrap()
            .query_map([], |r| r.get(3))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert!(
            plan.iter()
                .filter(|l| l.starts_with("SCAN") || l.starts_with("SEARCH"))
                .all(|l| l.contains("COVERING INDEX")),
            "{plan:#?}"
        );
    }
}
