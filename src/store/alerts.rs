//! Alerts' outbox: which messages are due to which webhook.
//!
//! Owns the `alerts` and `alert_outbox` tables. `queue` runs inside the
//! transaction that archives a fetch's items (`feeds::record_in`): each
//! configured alert's selection is asked, with the same SQL builder that
//! serves views (`selection::filter`), which of the items first archived
//! by this fetch it shows, and a row per match is written then and there.
//! So an item is archived with its alerts or not at all: a crash between
//! archiving and sending loses nothing, and replaying a fetch queues
//! nothing twice (the item is no longer new, and `(alert, item_uid)` is
//! the primary key).
//!
//! Only items first archived while an alert is configured are ever
//! queued for it: adding an alert does not send the archive's past.
//! `alerts.configured_at` records when each alert was first seen, and
//! `alerts.url_sha256` a hash of its URL, so a start can tell the alert
//! was moved ([`Store::sync_config`]).
//!
//! The sender (`push::alerts`) reads due rows, and deletes a row only
//! after its receiver answered 2xx; otherwise it records the error and
//! the next attempt, or marks the row `failed` when retries ran out
//! ([`Store::alert_messages_orphaned`] does so for the rows of an alert
//! removed from the config). When
//! a receiver failed a message (answered other than 2xx, or not at all;
//! the sender excepts a first rejection of a message's content), its
//! alert's other pending rows, and those queued until then, are held
//! until that retry
//! (`hold`, in the transaction that records the unanswered attempt,
//! [`Store::alert_attempts_failed`]), their attempts uncounted.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};

use super::{Store, StoreError, begin_write, cached, items, op, selection};
use crate::clock::{from_db_time, to_db_time};
use crate::select::Selection;

/// An alert as the writer evaluates it at ingest.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRule {
    pub name: String,
    pub selection: Selection,
    /// The hex SHA-256 of the alert's `url`: the archive keeps this, never
    /// the URL, which may hold a key.
    pub url_sha256: String,
}

/// One message waiting in the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxRow {
    pub alert: String,
    pub item_uid: String,
    pub created_at: DateTime<Utc>,
    /// When its retry window (`retry_for_hours`) began: when `tickerfeed
    /// alerts retry` last put it back (`retried_at`), else `created_at`.
    pub window_from: DateTime<Utc>,
    /// Attempts made so far.
    pub attempts: u32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    /// `pending` or `failed`.
    pub state: String,
}

/// One alert's messages in one state, for `/metrics`.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxCount {
    pub alert: String,
    /// `pending` or `failed`.
    pub state: String,
    pub messages: i64,
    /// When the oldest of them was queued.
    pub oldest: DateTime<Utc>,
}

/// One alert's messages in the outbox, for the operator's page.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertState {
    pub alert: String,
    pub pending: i64,
    pub failed: i64,
    /// The error of the alert's last failed attempt (a receiver's answer,
    /// or the guard's refusal), `None` once a later message was delivered
    /// and none waits for a retry.
    pub last_error: Option<String>,
}

/// Queues a message for each alert whose selection shows one of
/// `new_ids` (items this fetch archived for the first time), in `tx`.
/// Returns how many were queued.
pub(crate) fn queue(
    tx: &Connection,
    rules: &[AlertRule],
    new_ids: &[i64],
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    if rules.is_empty() || new_ids.is_empty() {
        return Ok(0);
    }
    // A `query` criterion reads the search index, which new items join in
    // batches (`items::SEARCH_BATCH`); index them now so the alert sees
    // them. Only archives with such an alert pay for it.
    if rules.iter().any(|r| r.selection.query.is_some()) {
        items::index_pending(tx)?;
    }
    let ids = Value::Text(super::json_list(new_ids));
    let now = to_db_time(now);
    let mut queued = 0;
    for rule in rules {
        let filter = selection::filter(&rule.selection);
        let sql = queue_sql(&filter.sql());
        let params = [
            Value::Text(rule.name.clone()),
            Value::Text(now.clone()),
            Value::Text(now.clone()),
            Value::Text(rule.name.clone()),
            ids.clone(),
        ]
        .into_iter()
        .chain(filter.params);
        queued += tx
            .prepare_cached(&sql)
            .and_then(|mut s| s.execute(params_from_iter(params)))
            .map_err(op("queue alerts for new items"))?;
    }
    Ok(queued)
}

/// The statement that queues one alert's messages for the new items
/// (`?5`, a JSON list of ids) its selection (`filter`) shows. While the
/// alert's receiver is waited for (`alerts.held_until`, it failed a
/// message), they are due when the message it failed is retried,
/// not before: so they reach it after the older ones.
fn queue_sql(filter: &str) -> String {
    format!(
        "INSERT OR IGNORE INTO alert_outbox (alert, item_uid, created_at, next_attempt_at)
         SELECT ?, i.uid, ?,
                max(?, coalesce((SELECT held_until FROM alerts WHERE name = ?), ''))
         FROM items i
         WHERE i.id IN (SELECT value FROM json_each(?)) AND {filter}"
    )
}

/// Per alert not among `names` (a JSON list), how many of its messages
/// are pending and were queued before `before`.
fn orphans(
    conn: &Connection,
    names: &str,
    before: &str,
) -> Result<Vec<(String, usize)>, StoreError> {
    conn.prepare_cached(
        "SELECT alert, count(*) FROM alert_outbox
         WHERE state = 'pending' AND created_at < ?2
           AND alert NOT IN (SELECT value FROM json_each(?1))
         GROUP BY alert ORDER BY alert",
    )
    .and_then(|mut s| {
        s.query_map(params![names, before], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as usize))
        })?
        .collect::<Result<Vec<_>, _>>()
    })
    .map_err(op("read removed alerts' messages"))
}

fn read_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<OutboxRow> {
    let time = |i: usize| -> rusqlite::Result<DateTime<Utc>> {
        Ok(from_db_time(&r.get::<_, String>(i)?).unwrap_or(DateTime::UNIX_EPOCH))
    };
    Ok(OutboxRow {
        alert: r.get(0)?,
        item_uid: r.get(1)?,
        created_at: time(2)?,
        attempts: r.get(3)?,
        next_attempt_at: time(4)?,
        last_error: r.get(5)?,
        state: r.get(6)?,
        window_from: time(7)?,
    })
}

const ROW_COLUMNS: &str =
    "alert, item_uid, created_at, attempts, next_attempt_at, last_error, state,
     coalesce(retried_at, created_at)";

/// Makes `alert`'s waiting messages due at `now`, and lifts the hold on
/// them: its receiver moved, so the backoff earned at the old one no
/// longer applies. Returns how many were made due.
fn make_due(tx: &Connection, alert: &str, now: DateTime<Utc>) -> rusqlite::Result<usize> {
    let n = cached(
        tx,
        "UPDATE alert_outbox SET next_attempt_at = ?2
         WHERE alert = ?1 AND state = 'pending' AND next_attempt_at > ?2",
        params![alert, to_db_time(now)],
    )?;
    cached(
        tx,
        "UPDATE alerts SET held_until = NULL WHERE name = ?1",
        params![alert],
    )?;
    Ok(n)
}

/// Records the configured alerts in `tx`, which the caller commits (the
/// first time each name is seen, with `now` as its `configured_at`); the
/// writer applies them once it has ([`Store::sync_config`]).
///
/// Returns the alerts whose URL is not the one the archive last
/// recorded for them (a restart, or a reload, with another `url`), with
/// how many waiting messages were made due. With `send_moved_now` (a
/// start) their waiting messages are made due at once
/// ([`Store::alert_messages_due`]) in the same transaction that records
/// the new URL, so no stop in between can leave them waiting out the
/// old URL's backoff; a reload leaves that to the running sender, which
/// knows what is in flight to the old URL. An archive from before
/// version 29 knows no URL yet: its alerts are taken as unchanged.
pub(crate) fn sync_alerts_in(
    tx: &Connection,
    alerts: &[AlertRule],
    now: DateTime<Utc>,
    send_moved_now: bool,
) -> Result<Vec<(String, usize)>, StoreError> {
    cached(tx, "UPDATE alerts SET in_config = 0", []).map_err(op("mark alerts"))?;
    let mut moved = Vec::new();
    for AlertRule {
        name, url_sha256, ..
    } in alerts
    {
        let before: Option<String> = tx
            .prepare_cached("SELECT url_sha256 FROM alerts WHERE name = ?1")
            .and_then(|mut s| {
                s.query_row([name], |r| r.get(0))
                    .optional()
                    .map(Option::flatten)
            })
            .map_err(op("read an alert's URL"))?;
        if before.is_some_and(|b| b != *url_sha256) {
            let due = if send_moved_now {
                make_due(tx, name, now).map_err(op("make alert messages due"))?
            } else {
                0
            };
            moved.push((name.clone(), due));
        }
        cached(
            tx,
            "INSERT INTO alerts (name, configured_at, url_sha256) VALUES (?1, ?2, ?3)
             ON CONFLICT(name) DO UPDATE SET in_config = 1, url_sha256 = ?3",
            params![name, to_db_time(now), url_sha256],
        )
        .map_err(op("record an alert"))?;
    }
    Ok(moved)
}

impl Store {
    /// Woken whenever a fetch queued alert messages (in this process).
    pub fn outbox_signal(&self) -> Arc<tokio::sync::Notify> {
        Arc::clone(&self.outbox_signal)
    }

    /// Pending messages of the alerts named `alerts` due at `now`, the
    /// longest waiting first.
    pub async fn due_alerts(
        &self,
        alerts: &[String],
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<OutboxRow>, StoreError> {
        let names = super::json_list(alerts);
        self.read(move |conn| {
            let sql = format!(
                "SELECT {ROW_COLUMNS} FROM alert_outbox
                 WHERE state = 'pending' AND next_attempt_at <= ?1
                   AND alert IN (SELECT value FROM json_each(?2))
                 ORDER BY next_attempt_at, created_at LIMIT ?3"
            );
            conn.prepare_cached(&sql)
                .and_then(|mut s| {
                    s.query_map(params![to_db_time(now), names, limit as i64], read_row)?
                        .collect::<Result<Vec<_>, _>>()
                })
                .map_err(op("read due alerts"))
        })
        .await
    }

    /// When the next pending message of the alerts named `alerts` is due.
    pub async fn next_alert_due(
        &self,
        alerts: &[String],
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        let names = super::json_list(alerts);
        self.read(move |conn| {
            conn.prepare_cached(
                "SELECT min(next_attempt_at) FROM alert_outbox
                 WHERE state = 'pending' AND alert IN (SELECT value FROM json_each(?1))",
            )
            .and_then(|mut s| s.query_row([names], |r| r.get::<_, Option<String>>(0)))
            .map(|t| t.as_deref().and_then(from_db_time))
            .map_err(op("read when the next alert is due"))
        })
        .await
    }

    /// Every message in the outbox, pending and failed, oldest first.
    pub async fn outbox(&self) -> Result<Vec<OutboxRow>, StoreError> {
        self.read(|conn| {
            let sql = format!("SELECT {ROW_COLUMNS} FROM alert_outbox ORDER BY created_at, alert");
            conn.prepare(&sql)
                .and_then(|mut s| s.query_map([], read_row)?.collect::<Result<Vec<_>, _>>())
                .map_err(op("list the alert outbox"))
        })
        .await
    }

    /// Per alert the archive knows: how many of its messages wait, how
    /// many failed for good, and its last error unless a delivery came
    /// since (`alerts.last_error`), for the operator's page and
    /// `tickerfeed alerts`.
    pub async fn alert_states(&self) -> Result<Vec<AlertState>, StoreError> {
        self.read(|conn| {
            conn.prepare_cached(
                "SELECT a.name, coalesce(sum(o.state = 'pending'), 0),
                        coalesce(sum(o.state = 'failed'), 0), a.last_error
                 FROM alerts a LEFT JOIN alert_outbox o ON o.alert = a.name
                 GROUP BY a.name ORDER BY a.name",
            )
            .and_then(|mut s| {
                s.query_map([], |r| {
                    Ok(AlertState {
                        alert: r.get(0)?,
                        pending: r.get(1)?,
                        failed: r.get(2)?,
                        last_error: r.get(3)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()
            })
            .map_err(op("summarise the alert outbox"))
        })
        .await
    }

    /// Messages in the outbox per alert and state, for `/metrics`.
    pub async fn outbox_counts(&self) -> Result<Vec<OutboxCount>, StoreError> {
        self.read(|conn| {
            conn.prepare_cached(
                "SELECT alert, state, count(*), min(created_at) FROM alert_outbox
                 GROUP BY alert, state",
            )
            .and_then(|mut s| {
                s.query_map([], |r| {
                    let oldest: String = r.get(3)?;
                    Ok(OutboxCount {
                        alert: r.get(0)?,
                        state: r.get(1)?,
                        messages: r.get(2)?,
                        oldest: from_db_time(&oldest).unwrap_or(DateTime::UNIX_EPOCH),
                    })
                })?
                .collect::<Result<Vec<_>, _>>()
            })
            .map_err(op("count the alert outbox"))
        })
        .await
    }

    /// Puts the failed messages of the alerts named `alerts` back to
    /// pending, due at `now`, their attempts counted afresh and their
    /// retry window starting at `now` (`retried_at`; `created_at` keeps
    /// saying when the message was queued): the operator fixed what failed
    /// them (`tickerfeed alerts retry`), and a window timed from
    /// `created_at` had closed, so one more failure would fail it again at
    /// once. Only those
    /// whose item is still in the archive: retention may have deleted the
    /// others' (it keeps the items of pending messages only), and their
    /// message could not be sent. Returns how many were put back, and how
    /// many stay failed for that.
    pub async fn alert_messages_retried(
        &self,
        alerts: &[String],
        now: DateTime<Utc>,
    ) -> Result<(usize, usize), StoreError> {
        let names = super::json_list(alerts);
        self.write(move |conn| {
            let tx = begin_write(conn, "begin retrying failed alert messages")?;
            let retried = cached(
                &tx,
                "UPDATE alert_outbox
                 SET state = 'pending', attempts = 0, next_attempt_at = ?2, retried_at = ?2
                 WHERE state = 'failed' AND alert IN (SELECT value FROM json_each(?1))
                   AND EXISTS (SELECT 1 FROM items WHERE uid = alert_outbox.item_uid)",
                params![names, to_db_time(now)],
            )
            .map_err(op("put failed alert messages back to pending"))?;
            let gone: i64 = tx
                .prepare_cached(
                    "SELECT count(*) FROM alert_outbox
                     WHERE state = 'failed' AND alert IN (SELECT value FROM json_each(?1))",
                )
                .and_then(|mut s| s.query_row([&names], |r| r.get(0)))
                .map_err(op("count failed alert messages whose item is gone"))?;
            tx.commit()
                .map_err(op("commit retrying failed alert messages"))?;
            Ok((retried, usize::try_from(gone).unwrap_or(0)))
        })
        .await
    }

    /// A receiver accepted `alert`'s message for `uids` (one item, or a
    /// summary of them): they leave the outbox together, or (a stop or
    /// crash first) none does and the message is sent again. Returns how
    /// many were still there to leave: none when they were settled
    /// meanwhile. `recorded` is told the same as the transaction commits
    /// (see [`Store::alert_attempts_failed`]).
    pub async fn alert_delivered(
        &self,
        alert: &str,
        uids: Vec<String>,
        recorded: impl FnOnce(usize) + Send + 'static,
    ) -> Result<usize, StoreError> {
        let alert = alert.to_string();
        // One statement: its rows go all at once.
        self.write(move |conn| {
            let left = cached(
                conn,
                "DELETE FROM alert_outbox
                 WHERE alert = ?1 AND item_uid IN (SELECT value FROM json_each(?2))",
                params![alert, super::json_list(&uids)],
            )
            .map_err(op("remove a delivered alert summary"))?;
            // The receiver takes messages again: its last error is over,
            // unless a message it rejected for its content (the others go
            // meanwhile) still waits for its retry: that one's error stays.
            cached(
                conn,
                "UPDATE alerts SET last_error =
                     (SELECT o.last_error FROM alert_outbox o
                      WHERE o.alert = ?1 AND o.state = 'pending' AND o.attempts > 0
                        AND o.last_error IS NOT NULL
                      ORDER BY o.next_attempt_at DESC LIMIT 1)
                 WHERE name = ?1 AND last_error IS NOT NULL",
                params![alert],
            )
            .map_err(op("clear an alert's last error"))?;
            recorded(left);
            Ok(left)
        })
        .await
    }

    /// A capped alert sent a message (one item or a summary) at `at`: it
    /// counts against `max_per_hour` until an hour later, restarts
    /// included. Older sends are forgotten here.
    pub async fn alert_sent(&self, alert: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        let alert = alert.to_string();
        self.write(move |conn| {
            let hour_ago = to_db_time(at - chrono::Duration::hours(1));
            cached(
                conn,
                "DELETE FROM alert_sends WHERE alert = ?1 AND sent_at <= ?2",
                params![alert, hour_ago],
            )
            .and_then(|_| {
                cached(
                    conn,
                    "INSERT INTO alert_sends (alert, sent_at) VALUES (?1, ?2)",
                    params![alert, to_db_time(at)],
                )
            })
            .map(drop)
            .map_err(op("record an alert send"))
        })
        .await
    }

    /// Per alert, when it sent messages after `since`, oldest first: the
    /// hourly windows a starting sender resumes.
    pub async fn alert_sends_since(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<(String, DateTime<Utc>)>, StoreError> {
        self.read(move |conn| {
            conn.prepare_cached(
                "SELECT alert, sent_at FROM alert_sends WHERE sent_at > ?1 ORDER BY sent_at",
            )
            .and_then(|mut s| {
                s.query_map([to_db_time(since)], |r| {
                    let at: String = r.get(1)?;
                    Ok((r.get(0)?, from_db_time(&at).unwrap_or(DateTime::UNIX_EPOCH)))
                })?
                .collect::<Result<Vec<_>, _>>()
            })
            .map_err(op("read recent alert sends"))
        })
        .await
    }

    /// An attempt at a message failed: each of its `rows` (one, or the
    /// items of a summary) counts the attempt, keeps `error` and is
    /// retried at its `next`, or, with `None`, kept as failed; all in one
    /// transaction, so a stop cannot split a message. Only a row that
    /// still has the attempts it was read with is counted: an outcome
    /// already recorded (a share that panicked after recording some of
    /// its rows) is not counted twice, and a row gone meanwhile not at
    /// all. Returns, per row, whether it was counted.
    ///
    /// `counted` is told the same on the writer's thread as the
    /// transaction commits: a caller that counts attempts besides the
    /// archive (the sender's metrics) counts there what the archive
    /// counted, even when it is cut (a stop) while the write waits for
    /// the lock or runs, which does not stop the write.
    ///
    /// With `hold_others` (the receiver failed it), the alert's other
    /// pending messages are held until `next` in the same transaction
    /// (`hold`): a stop in between would leave them due before it, to
    /// reach the receiver first once it is back.
    pub async fn alert_attempts_failed(
        &self,
        rows: Vec<(OutboxRow, Option<DateTime<Utc>>)>,
        error: &str,
        hold_others: bool,
        counted: impl FnOnce(&[bool]) + Send + 'static,
    ) -> Result<Vec<bool>, StoreError> {
        let error = error.to_string();
        self.write(move |conn| {
            let tx = begin_write(conn, "begin recording a failed alert attempt")?;
            let mut each = Vec::with_capacity(rows.len());
            for (row, next) in &rows {
                let n = cached(
                    &tx,
                    "UPDATE alert_outbox
                     SET attempts = attempts + 1, last_error = ?3,
                         next_attempt_at = coalesce(?4, next_attempt_at),
                         state = CASE WHEN ?4 IS NULL THEN 'failed' ELSE 'pending' END
                     WHERE alert = ?1 AND item_uid = ?2 AND attempts = ?5",
                    params![
                        row.alert,
                        row.item_uid,
                        error,
                        next.map(to_db_time),
                        row.attempts
                    ],
                )
                .map_err(op("record a failed alert attempt"))?;
                if let Some(until) = next.filter(|_| hold_others && n > 0) {
                    hold(&tx, &row.alert, until)?;
                }
                each.push(n > 0);
            }
            if let Some((row, _)) = rows.first().filter(|_| each.iter().any(|c| *c)) {
                cached(
                    &tx,
                    "UPDATE alerts SET last_error = ?2 WHERE name = ?1",
                    params![row.alert, error],
                )
                .map_err(op("record an alert's last error"))?;
            }
            tx.commit()
                .map_err(op("commit recording a failed alert attempt"))?;
            counted(&each);
            Ok(each)
        })
        .await
    }

    /// Keeps as failed the pending messages of alerts not among
    /// `configured` (removed from the config) that were queued before
    /// `queued_before`: they waited for the alert to come back for as long
    /// as it would have retried them. Returns how many, per alert.
    ///
    /// The sender asks while idle, and nearly always there are none: that
    /// is found on the reader, and the writer (which may wait up to
    /// `BUSY_TIMEOUT` for a `tickerfeed poll` beside the daemon) is taken
    /// only when there are some.
    pub async fn alert_messages_orphaned(
        &self,
        configured: &[String],
        queued_before: DateTime<Utc>,
    ) -> Result<Vec<(String, usize)>, StoreError> {
        let names = super::json_list(configured);
        let before = to_db_time(queued_before);
        let (n, b) = (names.clone(), before.clone());
        if self
            .read(move |conn| orphans(conn, &n, &b))
            .await?
            .is_empty()
        {
            return Ok(Vec::new());
        }
        self.write(move |conn| {
            let tx = begin_write(conn, "begin failing removed alerts' messages")?;
            // Read again in the transaction: the sender or another
            // process may have settled some since.
            let found = orphans(&tx, &names, &before)?;
            if !found.is_empty() {
                cached(
                    &tx,
                    "UPDATE alert_outbox
                     SET state = 'failed',
                         last_error = 'the alert was removed from the config before this was sent'
                     WHERE state = 'pending' AND created_at < ?2
                       AND alert NOT IN (SELECT value FROM json_each(?1))",
                    params![names, before],
                )
                .map_err(op("fail removed alerts' messages"))?;
            }
            tx.commit()
                .map_err(op("commit failing removed alerts' messages"))?;
            Ok(found)
        })
        .await
    }

    /// Makes `alert`'s pending messages due at `now` (its receiver moved:
    /// a reload gave it another URL), and ends any wait for its old
    /// receiver; returns how many were waiting. Their attempts stay
    /// counted.
    pub async fn alert_messages_due(
        &self,
        alert: &str,
        now: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        let alert = alert.to_string();
        self.write(move |conn| {
            let tx = begin_write(conn, "begin sending alert messages now")?;
            let n = make_due(&tx, &alert, now).map_err(op("make alert messages due"))?;
            tx.commit()
                .map_err(op("commit making alert messages due"))?;
            Ok(n)
        })
        .await
    }
}

/// Holds `alert`'s pending messages until `until` (never earlier than they
/// were due), without counting an attempt, and with them those queued
/// before then (`alerts.held_until`), in `tx`: their receiver failed one
/// of its messages, and they wait for that message's retry rather than
/// each being tried (and waiting out a timeout) meanwhile, or reaching
/// the receiver before it once it is back.
fn hold(tx: &Connection, alert: &str, until: DateTime<Utc>) -> Result<(), StoreError> {
    let until = to_db_time(until);
    cached(
        tx,
        "UPDATE alert_outbox SET next_attempt_at = ?2
         WHERE alert = ?1 AND state = 'pending' AND next_attempt_at < ?2",
        params![alert, until],
    )
    .and_then(|_| {
        cached(
            tx,
            "UPDATE alerts SET held_until = ?2 WHERE name = ?1",
            params![alert, until],
        )
    })
    .map(drop)
    .map_err(op("hold alert messages"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::select::{Field, Rule};

    /// An archive holding one item (`u1`), opened by the store and by
    /// another connection, as another program (a poll, `sqlite3`) would.
    fn archive_with_one_item() -> (tempfile::TempDir, Store, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.db");
        let store = Store::open(&path).unwrap();
        let other = Connection::open(&path).unwrap();
        other
            .execute_batch(super::super::ONE_FEED_ONE_ITEM)
            .unwrap();
        (dir, store, other)
    }

    /// `tickerfeed alerts retry` puts back only messages it can send:
    /// retention may have deleted a failed message's item (it keeps only
    /// pending messages' items), and such a message would fail at once.
    #[tokio::test]
    async fn a_retry_leaves_failed_the_messages_whose_item_is_gone() {
        let (_dir, store, other) = archive_with_one_item();
        for uid in ["u1", "pruned"] {
            other
                .execute(
                    "INSERT INTO alert_outbox (alert, item_uid, created_at, next_attempt_at,
                                               attempts, state)
                     VALUES ('a', ?1, '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z', 9, 'failed')",
                    [uid],
                )
                .unwrap();
        }
        let now = from_db_time("2026-02-01T00:00:00Z").unwrap();
        let (retried, gone) = store
            .alert_messages_retried(&["a".to_string()], now)
            .await
            .unwrap();
        assert_eq!((retried, gone), (1, 1));
        let states: Vec<(String, String, i64)> = other
            .prepare("SELECT item_uid, state, attempts FROM alert_outbox ORDER BY item_uid")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(
            states,
            [
                ("pruned".to_string(), "failed".to_string(), 9),
                ("u1".to_string(), "pending".to_string(), 0)
            ]
        );
        // The retried one's retry window starts now; when it was queued
        // stays. One never retried (`retried_at` NULL, as every row from
        // before version 36) keeps its window from when it was queued.
        let queued = from_db_time("2026-01-01T00:00:00Z").unwrap();
        let mut windows: Vec<_> = store
            .outbox()
            .await
            .unwrap()
            .into_iter()
            .map(|r| (r.item_uid, r.created_at, r.window_from))
            .collect();
        windows.sort();
        assert_eq!(
            windows,
            [
                ("pruned".to_string(), queued, queued),
                ("u1".to_string(), queued, now)
            ]
        );
    }

    /// Audit s22: the sender looks for removed alerts' messages on every
    /// idle pass, and each look took the writer, so beside a `tickerfeed
    /// poll` holding it the alert loop stalled for up to the busy timeout
    /// (10 s) each time. With nothing to fail it now only reads: it
    /// answers at once while another connection holds the write lock.
    #[tokio::test]
    async fn looking_for_removed_alerts_messages_takes_no_write_lock_when_there_are_none() {
        let (_dir, store, other) = archive_with_one_item();
        // An old message of an alert still configured: not an orphan.
        other
            .execute(
                "INSERT INTO alert_outbox (alert, item_uid, created_at, next_attempt_at)
                 VALUES ('kept', 'u1', '2020-01-01T00:00:00Z', '2020-01-01T00:00:00Z')",
                [],
            )
            .unwrap();
        // Another process (a poll) holds the write lock meanwhile.
        other.execute_batch("BEGIN IMMEDIATE").unwrap();
        let cutoff = from_db_time("2026-01-01T00:00:00Z").unwrap();
        let started = std::time::Instant::now();
        let found = store
            .alert_messages_orphaned(&["kept".to_string()], cutoff)
            .await
            .unwrap();
        assert!(found.is_empty());
        assert!(
            started.elapsed() < std::time::Duration::from_secs(2),
            "waited {:?} for the writer",
            started.elapsed()
        );
        // With the lock released, an orphan is still failed.
        other.execute_batch("COMMIT").unwrap();
        let found = store.alert_messages_orphaned(&[], cutoff).await.unwrap();
        assert_eq!(found, [("kept".to_string(), 1)]);
        let state: String = other
            .query_row("SELECT state FROM alert_outbox", [], |r| r.get(0))
            .unwrap();
        assert_eq!(state, "failed");
    }

    /// Queueing reads the new items by id, never the whole archive: the
    /// cost of an alert does not grow with the archive for rule-only
    /// selections (criteria on feeds, tags or symbols build their set from
    /// an index, as views do).
    #[test]
    fn queueing_looks_items_up_by_id() {
        let mut conn = Connection::open_in_memory().unwrap();
        super::super::migrations::migrate(&mut conn).unwrap();
        selection::register_regexp(&conn).unwrap();
        let selection = Selection {
            feeds: vec!["wire".into()],
            include: vec![Rule::new(Field::Title, "BP").unwrap()],
            ..Selection::default()
        };
        let filter = selection::filter(&selection);
        let sql = format!("EXPLAIN QUERY PLAN {}", queue_sql(&filter.sql()));
        let mut stmt = conn.prepare(&sql).unwrap();
        let unbound = vec![rusqlite::types::Null; stmt.parameter_count()];
        let plan: Vec<String> = stmt
            .query_map(params_from_iter(unbound), |r| r.get::<_, String>(3))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert!(
            plan.iter()
                .any(|l| l.starts_with("SEARCH i USING INTEGER PRIMARY KEY")),
            "{plan:#?}"
        );
        assert!(
            !plan
                .iter()
                .any(|l| l.starts_with("SCAN i") || l.starts_with("SCAN items")),
            "{plan:#?}"
        );
    }
}
