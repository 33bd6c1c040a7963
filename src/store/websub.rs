//! The WebSub hub's state: subscriptions, topics' last published
//! documents, and pushes waiting to be delivered.
//!
//! Owns `websub_subscribers`, `websub_topics` and `websub_deliveries`.
//! A subscription is written only after its callback echoed the hub's
//! challenge (`push::hub`), with a lease that ends at `expires_at`; an
//! expired one is no longer pushed to and is removed by
//! [`Store::websub_expire`]. The subscriber's `hub.secret` is kept as
//! given: each push is signed with it, so it cannot be hashed. It is the
//! subscriber's own shared secret, never logged (docs/schema.md).
//!
//! [`Store::websub_topic_changed`] records a topic's new document hash and
//! queues one delivery per active subscriber in the same transaction, so a
//! change is either recorded with its pushes or not at all (and noticed
//! again after a restart). A delivery row carries no body: the sender
//! (`push::publish`) posts the topic's document as it is when sent, so a
//! subscriber that was down catches up with one push of the latest
//! content. The row is deleted after a 2xx, retried with backoff
//! otherwise, and kept as `failed` once retries ran out, the same outbox
//! discipline as `alerts`.
//!
//! A change recorded while a push is in flight must not be lost: the row
//! then stays as it is (it already stands for "send the newest
//! document"), but the 2xx that comes back answers the document the
//! sender rendered before that change. So each [`PushRow`] carries the
//! topic's change it was read for ([`TopicChange`]), and
//! [`Store::websub_pushed`] deletes the row only while that is still the
//! topic's latest; otherwise the row stays pending and due, and the newer
//! document goes out next.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};

use super::{Store, StoreError, begin_write, cached, op};
use crate::clock::{from_db_time, to_db_time};
use crate::config::Secret;

/// A verified subscription, as the hub records it.
#[derive(Debug, Clone, PartialEq)]
pub struct HubSubscriber {
    pub topic: String,
    pub callback: String,
    /// The subscriber's `hub.secret`, for `X-Hub-Signature`.
    pub secret: Option<Secret>,
    pub lease: Duration,
    pub verified_at: DateTime<Utc>,
}

impl HubSubscriber {
    /// When the lease ends.
    pub fn expires_at(&self) -> DateTime<Utc> {
        self.verified_at + chrono::Duration::from_std(self.lease).unwrap_or(chrono::Duration::MAX)
    }
}

/// A topic's change as `websub_topics` records it: which document, and
/// when it was recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct TopicChange {
    pub content_sha256: String,
    /// As stored (whole seconds), compared as stored.
    pub changed_at: String,
}

/// A push waiting to be delivered, with what sending it needs.
#[derive(Debug, Clone, PartialEq)]
pub struct PushRow {
    pub topic: String,
    pub callback: String,
    pub secret: Option<Secret>,
    /// When the oldest change this push carries was recorded.
    pub created_at: DateTime<Utc>,
    /// Attempts made so far.
    pub attempts: u32,
    pub next_attempt_at: DateTime<Utc>,
    /// The topic's latest change when the push was read: a 2xx completes
    /// the push only if no newer one was recorded meanwhile. `None` if
    /// the topic had no record (a row queued by hand).
    pub read_at_change: Option<TopicChange>,
}

/// What a 2xx did to its push.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    /// The subscriber has the topic's latest change: the push left the
    /// queue.
    Done,
    /// The topic changed while the push was in flight: it stays queued,
    /// due now, for the newer document.
    Superseded,
}

/// The hub at scrape time, for `/metrics`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HubCounts {
    /// Active subscriptions per topic.
    pub subscribers: Vec<(String, i64)>,
    /// Deliveries per state (`pending`, `failed`).
    pub deliveries: Vec<(String, i64)>,
}

fn time(r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<DateTime<Utc>> {
    Ok(from_db_time(&r.get::<_, String>(i)?).unwrap_or(DateTime::UNIX_EPOCH))
}

impl Store {
    /// Records (or renews) a verified subscription.
    pub async fn websub_subscribe(&self, sub: HubSubscriber) -> Result<(), StoreError> {
        self.write(move |conn| {
            cached(
                conn,
                "INSERT INTO websub_subscribers
                     (topic, callback, secret, lease_seconds, verified_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (topic, callback) DO UPDATE SET
                     secret = excluded.secret, lease_seconds = excluded.lease_seconds,
                     verified_at = excluded.verified_at, expires_at = excluded.expires_at",
                params![
                    sub.topic,
                    sub.callback,
                    sub.secret.as_ref().map(|s| s.expose().to_string()),
                    sub.lease.as_secs() as i64,
                    to_db_time(sub.verified_at),
                    to_db_time(sub.expires_at()),
                ],
            )
            .map(drop)
            .map_err(op("record a WebSub subscription"))
        })
        .await
    }

    /// Removes a subscription and its pending push; whether there was one.
    pub async fn websub_unsubscribe(
        &self,
        topic: &str,
        callback: &str,
    ) -> Result<bool, StoreError> {
        let (topic, callback) = (topic.to_string(), callback.to_string());
        self.write(move |conn| {
            let tx = begin_write(conn, "begin a WebSub unsubscribe")?;
            cached(
                &tx,
                "DELETE FROM websub_deliveries WHERE topic = ?1 AND callback = ?2",
                params![topic, callback],
            )
            .map_err(op("remove a WebSub delivery"))?;
            let n = cached(
                &tx,
                "DELETE FROM websub_subscribers WHERE topic = ?1 AND callback = ?2",
                params![topic, callback],
            )
            .map_err(op("remove a WebSub subscription"))?;
            tx.commit().map_err(op("commit a WebSub unsubscribe"))?;
            Ok(n > 0)
        })
        .await
    }

    /// Every subscription, active or not, by topic and callback.
    pub async fn websub_subscribers(&self) -> Result<Vec<HubSubscriber>, StoreError> {
        self.read(|conn| {
            conn.prepare_cached(
                "SELECT topic, callback, secret, lease_seconds, verified_at
                 FROM websub_subscribers ORDER BY topic, callback",
            )
            .and_then(|mut s| {
                s.query_map([], |r| {
                    Ok(HubSubscriber {
                        topic: r.get(0)?,
                        callback: r.get(1)?,
                        secret: r.get::<_, Option<String>>(2)?.map(Secret::new),
                        lease: Duration::from_secs(r.get::<_, i64>(3)?.max(0) as u64),
                        verified_at: time(r, 4)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()
            })
            .map_err(op("list WebSub subscriptions"))
        })
        .await
    }

    /// Leases running at `now` other than `(topic, callback)`'s: what a
    /// new subscription would join (a renewal replaces its own).
    pub async fn websub_other_leases(
        &self,
        topic: &str,
        callback: &str,
        now: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        let (topic, callback) = (topic.to_string(), callback.to_string());
        self.read(move |conn| {
            conn.prepare_cached(
                "SELECT count(*) FROM websub_subscribers
                 WHERE expires_at > ?1 AND NOT (topic = ?2 AND callback = ?3)",
            )
            .and_then(|mut s| {
                s.query_row(params![to_db_time(now), topic, callback], |r| {
                    r.get::<_, i64>(0)
                })
            })
            .map(|n| n.max(0) as usize)
            .map_err(op("count WebSub leases"))
        })
        .await
    }

    /// The topics with at least one lease running at `now`.
    pub async fn websub_subscribed_topics(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<String>, StoreError> {
        self.read(move |conn| {
            conn.prepare_cached(
                "SELECT DISTINCT topic FROM websub_subscribers WHERE expires_at > ?1 ORDER BY topic",
            )
            .and_then(|mut s| {
                s.query_map([to_db_time(now)], |r| r.get(0))?
                    .collect::<Result<Vec<_>, _>>()
            })
            .map_err(op("list subscribed WebSub topics"))
        })
        .await
    }

    /// Records `sha256` as `topic`'s document at `now`. When it differs
    /// from the last one recorded (or none was), queues a push to every
    /// subscriber whose lease runs at `now`, in the same transaction, and
    /// returns how many; `None` when the document did not change.
    ///
    /// A push already pending keeps its place and backoff (it will carry
    /// the newest document anyway); a failed one is queued afresh.
    pub async fn websub_topic_changed(
        &self,
        topic: &str,
        sha256: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<usize>, StoreError> {
        let (topic, sha256) = (topic.to_string(), sha256.to_string());
        self.write(move |conn| {
            let tx = begin_write(conn, "begin a WebSub topic change")?;
            let old: Option<String> = tx
                .prepare_cached("SELECT content_sha256 FROM websub_topics WHERE topic = ?1")
                .and_then(|mut s| s.query_row([&topic], |r| r.get(0)).optional())
                .map_err(op("read a WebSub topic"))?;
            if old.as_deref() == Some(sha256.as_str()) {
                return Ok(None);
            }
            let now = to_db_time(now);
            cached(
                &tx,
                "INSERT INTO websub_topics (topic, content_sha256, changed_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (topic) DO UPDATE SET
                     content_sha256 = excluded.content_sha256, changed_at = excluded.changed_at",
                params![topic, sha256, now],
            )
            .map_err(op("record a WebSub topic"))?;
            // In an upsert's SET every unqualified column is the old row's.
            let queued = cached(
                &tx,
                "INSERT INTO websub_deliveries (topic, callback, created_at, next_attempt_at)
                 SELECT topic, callback, ?2, ?2 FROM websub_subscribers
                 WHERE topic = ?1 AND expires_at > ?2
                 ON CONFLICT (topic, callback) DO UPDATE SET
                     created_at = CASE WHEN state = 'failed' THEN excluded.created_at ELSE created_at END,
                     next_attempt_at = CASE WHEN state = 'failed' THEN excluded.next_attempt_at ELSE next_attempt_at END,
                     attempts = CASE WHEN state = 'failed' THEN 0 ELSE attempts END,
                     state = 'pending'",
                params![topic, now],
            )
            .map_err(op("queue WebSub pushes"))?;
            tx.commit().map_err(op("commit a WebSub topic change"))?;
            Ok(Some(queued))
        })
        .await
    }

    /// Pushes due at `now` whose lease still runs, the longest waiting
    /// first.
    pub async fn due_websub_pushes(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<PushRow>, StoreError> {
        self.read(move |conn| {
            conn.prepare_cached(
                "SELECT d.topic, d.callback, s.secret, d.created_at, d.attempts, d.next_attempt_at,
                        t.content_sha256, t.changed_at
                 FROM websub_deliveries d
                 JOIN websub_subscribers s USING (topic, callback)
                 LEFT JOIN websub_topics t USING (topic)
                 WHERE d.state = 'pending' AND d.next_attempt_at <= ?1 AND s.expires_at > ?1
                 ORDER BY d.next_attempt_at, d.created_at LIMIT ?2",
            )
            .and_then(|mut s| {
                s.query_map(params![to_db_time(now), limit as i64], |r| {
                    Ok(PushRow {
                        topic: r.get(0)?,
                        callback: r.get(1)?,
                        secret: r.get::<_, Option<String>>(2)?.map(Secret::new),
                        created_at: time(r, 3)?,
                        attempts: r.get(4)?,
                        next_attempt_at: time(r, 5)?,
                        read_at_change: match (r.get(6)?, r.get(7)?) {
                            (Some(content_sha256), Some(changed_at)) => Some(TopicChange {
                                content_sha256,
                                changed_at,
                            }),
                            _ => None,
                        },
                    })
                })?
                .collect::<Result<Vec<_>, _>>()
            })
            .map_err(op("read due WebSub pushes"))
        })
        .await
    }

    /// When the next pending push whose lease runs at `now` is due (a
    /// push for an ended lease waits for [`Store::websub_expire`]).
    pub async fn next_websub_push_due(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.read(move |conn| {
            conn.prepare_cached(
                "SELECT min(d.next_attempt_at) FROM websub_deliveries d
                 JOIN websub_subscribers s USING (topic, callback)
                 WHERE d.state = 'pending' AND s.expires_at > ?1",
            )
            .and_then(|mut s| s.query_row([to_db_time(now)], |r| r.get::<_, Option<String>>(0)))
            .map(|t| t.as_deref().and_then(from_db_time))
            .map_err(op("read when the next WebSub push is due"))
        })
        .await
    }

    /// A subscriber accepted `row`'s push. The push leaves the queue
    /// only if the topic's latest change is still the one `row` was read
    /// at ([`Pushed::Done`]). A change recorded since (its hash, or, for
    /// a document changed and changed back, its time) means the 2xx
    /// answered an older document: the row stays pending and due, with
    /// its attempts and error cleared and its retry window starting at
    /// that change ([`Pushed::Superseded`]).
    pub async fn websub_pushed(&self, row: &PushRow) -> Result<Pushed, StoreError> {
        let (topic, callback) = (row.topic.clone(), row.callback.clone());
        let (sha256, changed_at) = match &row.read_at_change {
            Some(c) => (Some(c.content_sha256.clone()), Some(c.changed_at.clone())),
            None => (None, None),
        };
        self.write(move |conn| {
            let tx = begin_write(conn, "begin recording a WebSub push")?;
            let deleted = cached(
                &tx,
                "DELETE FROM websub_deliveries WHERE topic = ?1 AND callback = ?2
                 AND NOT EXISTS (SELECT 1 FROM websub_topics WHERE topic = ?1
                     AND (content_sha256 IS NOT ?3 OR changed_at IS NOT ?4))",
                params![topic, callback, sha256, changed_at],
            )
            .map_err(op("remove a delivered WebSub push"))?;
            let mut kept = 0;
            if deleted == 0 {
                // The row was due when read and only this sender moves a
                // pending row's next_attempt_at, so it is due still.
                kept = cached(
                    &tx,
                    "UPDATE websub_deliveries
                     SET attempts = 0, last_error = NULL, state = 'pending',
                         created_at = coalesce(
                             (SELECT changed_at FROM websub_topics WHERE topic = ?1), created_at)
                     WHERE topic = ?1 AND callback = ?2",
                    params![topic, callback],
                )
                .map_err(op("keep a superseded WebSub push"))?;
            }
            tx.commit().map_err(op("commit recording a WebSub push"))?;
            // Neither: the subscription went meanwhile, and its push with it.
            Ok(if kept > 0 {
                Pushed::Superseded
            } else {
                Pushed::Done
            })
        })
        .await
    }

    /// A push failed: count it, keep its error, and retry at `next`, or,
    /// with `next` `None`, keep it as failed.
    pub async fn websub_push_failed(
        &self,
        topic: &str,
        callback: &str,
        error: &str,
        next: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        let (topic, callback, error) = (topic.to_string(), callback.to_string(), error.to_string());
        self.write(move |conn| {
            cached(
                conn,
                "UPDATE websub_deliveries
                 SET attempts = attempts + 1, last_error = ?3,
                     next_attempt_at = coalesce(?4, next_attempt_at),
                     state = CASE WHEN ?4 IS NULL THEN 'failed' ELSE 'pending' END
                 WHERE topic = ?1 AND callback = ?2",
                params![topic, callback, error, next.map(to_db_time)],
            )
            .map(drop)
            .map_err(op("record a failed WebSub push"))
        })
        .await
    }

    /// Removes subscriptions whose lease ended before `now` (and their
    /// pushes); how many.
    pub async fn websub_expire(&self, now: DateTime<Utc>) -> Result<usize, StoreError> {
        self.write(move |conn| {
            let tx = begin_write(conn, "begin expiring WebSub leases")?;
            let now = to_db_time(now);
            cached(
                &tx,
                "DELETE FROM websub_deliveries WHERE (topic, callback) IN
                     (SELECT topic, callback FROM websub_subscribers WHERE expires_at <= ?1)",
                [&now],
            )
            .map_err(op("remove pushes of expired WebSub leases"))?;
            let n = cached(
                &tx,
                "DELETE FROM websub_subscribers WHERE expires_at <= ?1",
                [&now],
            )
            .map_err(op("remove expired WebSub leases"))?;
            tx.commit().map_err(op("commit expiring WebSub leases"))?;
            Ok(n)
        })
        .await
    }

    /// Active subscribers per topic and pushes per state, for `/metrics`.
    pub async fn websub_counts(&self, now: DateTime<Utc>) -> Result<HubCounts, StoreError> {
        self.read(move |conn| {
            let pairs = |sql: &str, p: &[&dyn rusqlite::ToSql]| {
                conn.prepare_cached(sql).and_then(|mut s| {
                    s.query_map(p, |r| Ok((r.get(0)?, r.get(1)?)))?
                        .collect::<Result<Vec<_>, _>>()
                })
            };
            Ok(HubCounts {
                subscribers: pairs(
                    "SELECT topic, count(*) FROM websub_subscribers
                     WHERE expires_at > ?1 GROUP BY topic",
                    &[&to_db_time(now)],
                )
                .map_err(op("count WebSub subscribers"))?,
                deliveries: pairs(
                    "SELECT state, count(*) FROM websub_deliveries GROUP BY state",
                    &[],
                )
                .map_err(op("count WebSub pushes"))?,
            })
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn sub(topic: &str, callback: &str, verified_at: DateTime<Utc>) -> HubSubscriber {
        HubSubscriber {
            topic: topic.into(),
            callback: callback.into(),
            secret: Some(Secret::new("s3cret")),
            lease: Duration::from_secs(3_600),
            verified_at,
        }
    }

    #[tokio::test]
    async fn a_change_queues_one_push_per_live_lease_and_an_unchanged_document_none() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("a.db")).unwrap();
        let t0 = at("2026-11-24T09:00:00Z");
        store
            .websub_subscribe(sub("T", "http://a/", t0))
            .await
            .unwrap();
        store
            .websub_subscribe(sub("T", "http://b/", t0))
            .await
            .unwrap();
        // Its lease ended before the change.
        let old = t0 - chrono::Duration::hours(2);
        store
            .websub_subscribe(sub("T", "http://c/", old))
            .await
            .unwrap();
        store
            .websub_subscribe(sub("U", "http://a/", t0))
            .await
            .unwrap();

        assert_eq!(
            store.websub_topic_changed("T", "h1", t0).await.unwrap(),
            Some(2)
        );
        assert_eq!(
            store.websub_topic_changed("T", "h1", t0).await.unwrap(),
            None
        );
        // A second change while both are pending queues nothing new.
        assert_eq!(
            store.websub_topic_changed("T", "h2", t0).await.unwrap(),
            Some(2)
        );
        let due = store.due_websub_pushes(t0, 10).await.unwrap();
        assert_eq!(due.len(), 2);
        assert_eq!(due[0].secret.as_ref().unwrap().expose(), "s3cret");
        assert_eq!(store.next_websub_push_due(t0).await.unwrap(), Some(t0));
        // Once the leases ended, nothing is due any more.
        let later = t0 + chrono::Duration::hours(2);
        assert_eq!(store.next_websub_push_due(later).await.unwrap(), None);

        let to_a = due.iter().find(|d| d.callback == "http://a/").unwrap();
        assert_eq!(store.websub_pushed(to_a).await.unwrap(), Pushed::Done);
        store
            .websub_push_failed("T", "http://b/", "HTTP 500", None)
            .await
            .unwrap();
        assert!(store.due_websub_pushes(t0, 10).await.unwrap().is_empty());
        // A failed push is queued afresh by the next change.
        assert_eq!(
            store.websub_topic_changed("T", "h3", t0).await.unwrap(),
            Some(2)
        );
        let due = store.due_websub_pushes(t0, 10).await.unwrap();
        assert_eq!(due.len(), 2);
        assert!(due.iter().all(|d| d.attempts == 0));

        let counts = store.websub_counts(t0).await.unwrap();
        assert_eq!(counts.subscribers, vec![("T".into(), 2), ("U".into(), 1)]);
        assert_eq!(store.websub_expire(t0).await.unwrap(), 1);
        assert!(store.websub_unsubscribe("T", "http://b/").await.unwrap());
        assert_eq!(store.due_websub_pushes(t0, 10).await.unwrap().len(), 1);
        assert!(store.due_websub_pushes(later, 10).await.unwrap().is_empty());
        assert_eq!(
            store.websub_subscribed_topics(t0).await.unwrap(),
            vec!["T".to_string(), "U".to_string()]
        );
    }

    /// Review round 2: a change recorded while a push was in flight was
    /// lost. The change left the pending row as it was, then the 2xx for
    /// the older document deleted it, and later checks found the hash
    /// unchanged, so the new document never went out.
    #[tokio::test]
    async fn a_change_while_a_push_is_in_flight_keeps_the_push_queued() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("a.db")).unwrap();
        let t0 = at("2026-11-24T09:00:00Z");
        let t1 = t0 + chrono::Duration::seconds(30);
        store
            .websub_subscribe(sub("T", "http://a/", t0))
            .await
            .unwrap();
        store.websub_topic_changed("T", "h1", t0).await.unwrap();
        let in_flight = store.due_websub_pushes(t0, 10).await.unwrap().remove(0);
        // The sender is posting h1's document when h2 is recorded...
        assert_eq!(
            store.websub_topic_changed("T", "h2", t1).await.unwrap(),
            Some(1)
        );
        // ...and the subscriber's 2xx for h1 arrives.
        assert_eq!(
            store.websub_pushed(&in_flight).await.unwrap(),
            Pushed::Superseded
        );
        let due = store.due_websub_pushes(t1, 10).await.unwrap();
        assert_eq!(due.len(), 1, "the push for h2 is still queued, and due");
        assert_eq!((due[0].attempts, due[0].created_at), (0, t1));
        // Once h2's document is accepted, the push is done.
        assert_eq!(store.websub_pushed(&due[0]).await.unwrap(), Pushed::Done);
        assert!(store.due_websub_pushes(t1, 10).await.unwrap().is_empty());

        // A document changed and changed back during the push (h2 -> h3
        // -> h2) may have been sent as h3: the change's time tells.
        let t2 = t1 + chrono::Duration::seconds(30);
        store.websub_topic_changed("T", "h3", t2).await.unwrap();
        let in_flight = store.due_websub_pushes(t2, 10).await.unwrap().remove(0);
        let t3 = t2 + chrono::Duration::seconds(30);
        store.websub_topic_changed("T", "h4", t3).await.unwrap();
        store.websub_topic_changed("T", "h3", t3).await.unwrap();
        assert_eq!(
            store.websub_pushed(&in_flight).await.unwrap(),
            Pushed::Superseded
        );
        assert_eq!(store.due_websub_pushes(t3, 10).await.unwrap().len(), 1);
    }
}
