//! Which items each view's `include` rules match, kept as items arrive.
//!
//! Owns the `rules` and `rule_hits` tables. No index can answer a regex,
//! so a view whose only criterion is a rule few items match used to test
//! every row's text before its page was full (118 ms over 100,000 items,
//! docs/performance.md, "Views"). Instead, the writer tests each new or
//! changed item against the configured include rules in the transaction
//! that archives it, and a backfill tests what was archived before a rule
//! was configured. A view then reads a rule's matches from `rule_hits`
//! like any other indexed set (`selection::rule_sql`).
//!
//! Correctness never waits for the backfill: until a rule is `complete`,
//! the view tests rows with `regexp` as before; `rule_sql` decides that in
//! SQL, per query. Rules are matched on the item's own text only, so
//! their hits never depend on the config (feeds, tags) and stay right
//! across reloads; a rule no view uses any more is dropped with its hits,
//! and one added again is backfilled again.
//!
//! Hands on: [`Store::sync_config`] (at start and on reload, with the
//! feeds and alerts, in one transaction), [`Store::sync_rules`],
//! [`Store::backfill_rules`] (the daemon runs it after each sync), and
//! [`record_hits`] / [`refresh_hits`] for the writer.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};

use super::alerts::AlertRule;
use super::{Store, StoreError, begin_write, cached, op, selection};
use crate::config::FeedConfig;
use crate::model::FeedId;
use crate::select::Rule;

/// A configured include rule and its row in `rules`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct IndexedRule {
    pub(crate) id: i64,
    pub(crate) rule: Rule,
}

/// What the writer applies to the new and changed items of each fetch,
/// besides archiving them.
#[derive(Debug, Default)]
pub(crate) struct AtIngest {
    /// Alerts whose messages are queued for new items.
    pub(crate) alerts: Vec<AlertRule>,
    /// Rules whose matches are recorded for new and changed items.
    pub(crate) rules: Vec<IndexedRule>,
    /// The fewest items a served feed shows (`[output] max_items`, or a
    /// view's): a new entry dated far down them sorts at its arrival
    /// (`items::SortTimes`). `None` until [`Store::set_head`].
    pub(crate) head: Option<usize>,
}

/// The writer's [`AtIngest`], replaced whole by [`Store::sync_config`],
/// [`Store::sync_rules`] and [`Store::set_head`], each for its part.
pub(crate) type IngestRules = Arc<Mutex<Arc<AtIngest>>>;

/// What [`Store::sync_config`] registered.
#[derive(Debug)]
pub struct Synced {
    /// Each configured feed's id, by name.
    pub ids: HashMap<String, FeedId>,
    /// The alerts whose URL is not the one the archive last recorded for
    /// them, with how many waiting messages were made due (`sync_alerts_in`).
    pub moved: Vec<(String, usize)>,
    /// How many rules need a backfill ([`Store::backfill_rules`]).
    pub incomplete: usize,
}

/// Items tested per backfill transaction: small enough that ingestion
/// waits for the writer at most a few milliseconds between batches.
const BACKFILL_BATCH: i64 = 2_000;

/// Records which of `ids` (new items) each rule matches, in `tx`.
pub(crate) fn record_hits(
    tx: &Connection,
    rules: &[IndexedRule],
    ids: &[i64],
) -> Result<(), StoreError> {
    if rules.is_empty() || ids.is_empty() {
        return Ok(());
    }
    let ids = Value::Text(super::json_list(ids));
    for r in rules {
        let (test, params) = selection::rule_test(&r.rule);
        let sql = format!(
            "INSERT OR IGNORE INTO rule_hits (rule_id, item_id)
             SELECT ?, i.id FROM items i
             WHERE i.id IN (SELECT value FROM json_each(?)) AND {test}"
        );
        let params = [Value::Integer(r.id), ids.clone()]
            .into_iter()
            .chain(params);
        tx.prepare_cached(&sql)
            .and_then(|mut s| s.execute(params_from_iter(params)))
            .map_err(op("record rule matches"))?;
    }
    Ok(())
}

/// Tests `ids` (items whose text changed) again: a new title may match a
/// rule the old one did not, or stop matching.
pub(crate) fn refresh_hits(
    tx: &Connection,
    rules: &[IndexedRule],
    ids: &[i64],
) -> Result<(), StoreError> {
    if rules.is_empty() || ids.is_empty() {
        return Ok(());
    }
    for id in ids {
        cached(
            tx,
            "DELETE FROM rule_hits WHERE rule_id IN (SELECT id FROM rules) AND item_id = ?1",
            [id],
        )
        .map_err(op("forget a changed item's rule matches"))?;
    }
    record_hits(tx, rules, ids)
}

/// [`Store::sync_rules`] inside `tx`, which the caller commits: the rules
/// the writer is to test from then on, and how many need a backfill.
pub(crate) fn sync_rules_in(
    tx: &Connection,
    rules: &[Rule],
) -> Result<(Vec<IndexedRule>, usize), StoreError> {
    let mut indexed = Vec::new();
    for rule in rules {
        cached(
            tx,
            "INSERT INTO rules (field, pattern) VALUES (?1, ?2)
             ON CONFLICT (field, pattern) DO NOTHING",
            params![rule.field.as_str(), rule.pattern.as_str()],
        )
        .map_err(op("register a rule"))?;
        let id: i64 = tx
            .prepare_cached("SELECT id FROM rules WHERE field = ?1 AND pattern = ?2")
            .and_then(|mut s| {
                s.query_row(params![rule.field.as_str(), rule.pattern.as_str()], |r| {
                    r.get(0)
                })
            })
            .map_err(op("look a rule up"))?;
        if !indexed.iter().any(|r: &IndexedRule| r.id == id) {
            indexed.push(IndexedRule {
                id,
                rule: rule.clone(),
            });
        }
    }
    let mut kept: Vec<i64> = indexed.iter().map(|r| r.id).collect();
    kept.sort_unstable();
    let keep = Value::Text(super::json_list(&kept));
    // Every other rule's matches, also those of rules another
    // process dropped while our writer still recorded them.
    // Rule ids are never reused (AUTOINCREMENT), so such
    // leftovers could never be read as another rule's. Deleted
    // range by range between the kept ids, which the primary
    // key finds at once: `NOT IN` read every match in the
    // archive on each start, reload and poll.
    let bounds = std::iter::once(i64::MIN)
        .chain(kept.iter().copied())
        .chain(std::iter::once(i64::MAX));
    for (after, before) in bounds.clone().zip(bounds.skip(1)) {
        cached(
            tx,
            "DELETE FROM rule_hits WHERE rule_id > ?1 AND rule_id < ?2",
            [after, before],
        )
        .map_err(op("drop unused rules' matches"))?;
    }
    cached(
        tx,
        "DELETE FROM rules WHERE id NOT IN (SELECT value FROM json_each(?1))",
        [&keep],
    )
    .map_err(op("drop unused rules"))?;
    let incomplete: i64 = tx
        .query_row("SELECT count(*) FROM rules WHERE NOT complete", [], |r| {
            r.get(0)
        })
        .map_err(op("count rules to backfill"))?;
    Ok((indexed, incomplete as usize))
}

impl Store {
    /// Makes `rules` (every view's include rules) the ones the archive
    /// keeps matches for: new ones are registered (incomplete until
    /// [`Store::backfill_rules`] has tested the archive), dropped ones are
    /// deleted with their matches, and the writer tests new and changed
    /// items against them from now on. Returns how many need a backfill.
    pub async fn sync_rules(&self, rules: Vec<Rule>) -> Result<usize, StoreError> {
        let (indexed, incomplete) = self
            .write(move |conn| {
                let tx = begin_write(conn, "begin syncing rules")?;
                let synced = sync_rules_in(&tx, &rules)?;
                tx.commit().map_err(op("commit rule sync"))?;
                Ok(synced)
            })
            .await?;
        self.replace_at_ingest(|at| AtIngest {
            alerts: at.alerts.clone(),
            rules: indexed,
            head: at.head,
        });
        Ok(incomplete)
    }

    /// Registers a config in the archive: its feeds ([`Store::sync_feeds`]),
    /// alerts (`alerts::sync_alerts_in`, with `send_moved_now` at a start)
    /// and views' include `rules` ([`Store::sync_rules`]), all in one
    /// transaction, and only once it has committed makes the writer queue
    /// the new alerts and test the new rules. A failure at any step leaves
    /// the archive and the writer on the config they had: a reload that
    /// fails keeps the running config whole, so the scheduler, the alert
    /// sender and the writer never disagree about which one runs.
    pub async fn sync_config(
        &self,
        feeds: &[FeedConfig],
        alerts: Vec<AlertRule>,
        rules: Vec<Rule>,
        now: DateTime<Utc>,
        send_moved_now: bool,
    ) -> Result<Synced, StoreError> {
        let wanted = super::feeds::wanted_feeds(feeds);
        let queued = alerts.clone();
        let (ids, moved, (indexed, incomplete)) = self
            .write(move |conn| {
                let tx = begin_write(conn, "begin registering the config")?;
                let ids = super::feeds::sync_feeds_in(&tx, &wanted, now)?;
                let moved = super::alerts::sync_alerts_in(&tx, &queued, now, send_moved_now)?;
                let rules = sync_rules_in(&tx, &rules)?;
                tx.commit().map_err(op("commit the config"))?;
                Ok((ids, moved, rules))
            })
            .await?;
        self.bump_generation();
        self.replace_at_ingest(|at| AtIngest {
            alerts,
            rules: indexed,
            head: at.head,
        });
        Ok(Synced {
            ids,
            moved,
            incomplete,
        })
    }

    /// Tells the writer the fewest items a served feed shows (`[output]
    /// max_items`, or a view's), so a new entry dated far down them sorts
    /// at its arrival instead, where a reader polling the feed sees it.
    pub fn set_head(&self, max_items: usize) {
        self.replace_at_ingest(|at| AtIngest {
            alerts: at.alerts.clone(),
            rules: at.rules.clone(),
            head: Some(max_items),
        });
    }

    /// Replaces the writer's [`AtIngest`] with `f` of the current one.
    pub(crate) fn replace_at_ingest(&self, f: impl FnOnce(&AtIngest) -> AtIngest) {
        let mut at = self.at_ingest.lock().unwrap_or_else(|p| p.into_inner());
        *at = Arc::new(f(&at));
    }

    /// Tests what the archive held before each incomplete rule was
    /// registered, a batch per transaction, oldest first, until every rule
    /// is complete, or until `stopping` says so between batches. Items
    /// archived meanwhile are tested by the writer, so nothing is missed;
    /// a stopped backfill resumes where it was. Returns how many rules it
    /// completed.
    pub async fn backfill_rules(&self, stopping: impl Fn() -> bool) -> Result<usize, StoreError> {
        let mut completed = 0;
        while !stopping() {
            let step = self
                .write(|conn| {
                    let tx = begin_write(conn, "begin a rule backfill")?;
                    let next: Option<(i64, String, String, i64)> = tx
                        .query_row(
                            "SELECT id, field, pattern, backfilled_to FROM rules
                             WHERE NOT complete ORDER BY id LIMIT 1",
                            [],
                            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                        )
                        .optional()
                        .map_err(op("find a rule to backfill"))?;
                    let Some((id, field, pattern, from)) = next else {
                        return Ok(None);
                    };
                    let Some(rule) = crate::select::Field::from_key(&field)
                        .and_then(|f| Rule::new(f, &pattern).ok())
                    else {
                        // Written by an older or newer tickerfeed and not
                        // valid here: no view can use it; drop it.
                        cached(&tx, "DELETE FROM rules WHERE id = ?1", [id])
                            .map_err(op("drop an unreadable rule"))?;
                        tx.commit().map_err(op("commit a rule backfill"))?;
                        return Ok(Some(false));
                    };
                    let upto: Option<i64> = tx
                        .query_row(
                            "SELECT max(id) FROM (SELECT id FROM items WHERE id > ?1
                                                  ORDER BY id LIMIT ?2)",
                            params![from, BACKFILL_BATCH],
                            |r| r.get(0),
                        )
                        .map_err(op("find the next backfill batch"))?;
                    let done = match upto {
                        None => {
                            cached(&tx, "UPDATE rules SET complete = 1 WHERE id = ?1", [id])
                                .map_err(op("complete a rule"))?;
                            true
                        }
                        Some(upto) => {
                            let (test, params) = selection::rule_test(&rule);
                            let sql = format!(
                                "INSERT OR IGNORE INTO rule_hits (rule_id, item_id)
                                 SELECT ?, i.id FROM items i WHERE i.id > ? AND i.id <= ? AND {test}"
                            );
                            let params = [Value::Integer(id), Value::Integer(from), Value::Integer(upto)]
                                .into_iter()
                                .chain(params);
                            tx.prepare_cached(&sql)
                                .and_then(|mut s| s.execute(params_from_iter(params)))
                                .map_err(op("backfill rule matches"))?;
                            cached(
                                &tx,
                                "UPDATE rules SET backfilled_to = ?2 WHERE id = ?1",
                                params![id, upto],
                            )
                            .map_err(op("advance a rule backfill"))?;
                            false
                        }
                    };
                    tx.commit().map_err(op("commit a rule backfill"))?;
                    Ok(Some(done))
                })
                .await?;
            match step {
                None => return Ok(completed),
                Some(true) => {
                    completed += 1;
                    // A view whose rule just completed may now be served
                    // from its set; same items, so no new generation.
                }
                Some(false) => {}
            }
        }
        Ok(completed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::select::Field;

    /// A sync keeps the matches of the rules still configured and drops
    /// every other: a rule no view uses now, and ids no rule has (a rule
    /// another process dropped while our writer recorded its matches),
    /// below, between and above the kept ones.
    #[tokio::test]
    async fn a_sync_drops_the_matches_of_every_rule_it_does_not_keep() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("a.db")).unwrap();
        let rule = |p: &str| Rule::new(Field::Title, p).unwrap();
        store
            .sync_rules(vec![rule("a"), rule("b"), rule("c")])
            .await
            .unwrap();
        let ids = || {
            store.read(|c| {
                c.prepare("SELECT id FROM rules ORDER BY id")
                    .and_then(|mut s| {
                        s.query_map([], |r| r.get(0))?
                            .collect::<Result<Vec<i64>, _>>()
                    })
                    .map_err(op("list rules"))
            })
        };
        let [a, b, c] = ids().await.unwrap()[..] else {
            panic!("three rules")
        };
        let orphans = [a - 1, a + 100, c + 100];
        store
            .write(move |conn| {
                for rule_id in [a, b, c].into_iter().chain(orphans) {
                    conn.execute(
                        "INSERT INTO rule_hits (rule_id, item_id) VALUES (?1, 1), (?1, 2)",
                        [rule_id],
                    )
                    .map_err(op("add a match"))?;
                }
                Ok(())
            })
            .await
            .unwrap();

        // "b" is no longer configured.
        store.sync_rules(vec![rule("a"), rule("c")]).await.unwrap();
        assert_eq!(ids().await.unwrap(), [a, c]);
        let left: Vec<(i64, i64)> = store
            .read(|c| {
                c.prepare("SELECT rule_id, item_id FROM rule_hits ORDER BY 1, 2")
                    .and_then(|mut s| {
                        s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                            .collect::<Result<_, _>>()
                    })
                    .map_err(op("list matches"))
            })
            .await
            .unwrap();
        assert_eq!(left, [(a, 1), (a, 2), (c, 1), (c, 2)]);
    }

    #[test]
    fn a_changed_item_is_tested_again() {
        let mut conn = Connection::open_in_memory().unwrap();
        super::super::migrations::migrate(&mut conn).unwrap();
        selection::register_regexp(&conn).unwrap();
        conn.execute_batch(
            "INSERT INTO feeds (id, name, url, schedule, created_at) VALUES (1, 'f', 'http://f.test/', '@hourly', 't');
             INSERT INTO items (id, uid, origin_feed_id, title, content_sha256, first_seen_at, changed_at, sort_at)
             VALUES (1, 'u1', 1, 'BP results', 'h', 't', 't', 't'),
                    (2, 'u2', 1, 'Gold slips', 'h', 't', 't', 't');
             INSERT INTO rules (id, field, pattern, complete) VALUES (7, 'title', '\\bBP\\b', 1);
             INSERT INTO items_fts (items_fts) VALUES ('rebuild');",
        )
        .unwrap();
        let rules = [IndexedRule {
            id: 7,
            rule: Rule::new(Field::Title, r"\bBP\b").unwrap(),
        }];
        let hits = |c: &Connection| -> Vec<i64> {
            c.prepare("SELECT item_id FROM rule_hits WHERE rule_id = 7 ORDER BY item_id")
                .unwrap()
                .query_map([], |r| r.get(0))
                .unwrap()
                .map(Result::unwrap)
                .collect()
        };
        record_hits(&conn, &rules, &[1, 2]).unwrap();
        assert_eq!(hits(&conn), [1]);
        conn.execute_batch(
            "UPDATE items SET title = 'Gold and BP' WHERE id = 2;
             UPDATE items SET title = 'Results day' WHERE id = 1;",
        )
        .unwrap();
        refresh_hits(&conn, &rules, &[1, 2]).unwrap();
        assert_eq!(hits(&conn), [2]);
        conn.execute("DELETE FROM items WHERE id = 2", []).unwrap();
        assert_eq!(hits(&conn), Vec::<i64>::new());
    }
}
