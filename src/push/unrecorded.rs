//! Outcomes of deliveries the archive did not take, kept in memory and
//! written again with a backoff; what they are about is not sent
//! meanwhile.
//!
//! Both senders (`push::alerts`, `push::publish`) read what is due from
//! the archive and record there how each POST ended. When that record
//! fails (a filesystem remounted read-only, a file-size limit such as
//! systemd's `LimitFSIZE`, another process holding the write lock past
//! the busy timeout), the row stays due in the archive, and the next pass
//! read it and sent it again: a receiver that had answered 2xx got the
//! same message again and again, as fast as its round trip on a
//! read-only archive, every busy timeout under a held lock. So the
//! sender keeps the outcome here, under the key of what it holds back
//! (an alert, a subscription), and sends nothing for that key until the
//! outcome is written: a delivered message is never POSTed again for
//! this, only its record is retried; a failed one waits for the retry
//! the record sets, which also holds what else waits for that receiver.
//!
//! Memory only: at a stop, what is kept here is lost and its rows are
//! still pending in the archive, so a restart sends them once more (the
//! same `Idempotency-Key`: delivery is at least once).

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::time::Duration;

use chrono::{DateTime, Utc};

/// The wait before the first retry of a write; doubled after each
/// refusal, up to [`LONGEST_WAIT`]. Short: a lock held by `tickerfeed
/// prune` or an analyst is usually released within seconds, and each
/// retry under a held lock waits the busy timeout anyway.
const FIRST_WAIT: Duration = Duration::from_secs(1);
/// The longest wait between retries: a read-only or full filesystem may
/// last, and each refusal is logged.
const LONGEST_WAIT: Duration = Duration::from_secs(60);

/// Outcomes (`V`) not yet written, per key (`K`) of what they hold back,
/// oldest first.
pub(super) struct Unrecorded<K, V> {
    waiting: HashMap<K, Waiting<V>>,
}

struct Waiting<V> {
    /// Written in this order, so an alert's messages settle as they went.
    outcomes: Vec<V>,
    /// Refused writes in a row.
    refused: u32,
    next_write: DateTime<Utc>,
}

impl<K: Eq + Hash + Clone, V> Default for Unrecorded<K, V> {
    fn default() -> Self {
        Unrecorded {
            waiting: HashMap::new(),
        }
    }
}

impl<K: Eq + Hash + Clone, V> Unrecorded<K, V> {
    /// Whether `key` has an outcome not yet written: nothing is sent for
    /// it until it is.
    pub(super) fn holds(&self, key: &K) -> bool {
        self.waiting.contains_key(key)
    }

    pub(super) fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }

    /// The archive refused to record `outcome` (for `key`) at `now`: it is
    /// written again after the backoff (after what `key` already waits
    /// with, if anything).
    pub(super) fn keep(&mut self, key: K, outcome: V, now: DateTime<Utc>) {
        let waiting = self.waiting.entry(key).or_insert_with(|| Waiting {
            outcomes: Vec::new(),
            refused: 1,
            next_write: now + wait(1),
        });
        waiting.outcomes.push(outcome);
    }

    /// When the next write is due, if any waits.
    pub(super) fn next_write(&self) -> Option<DateTime<Utc>> {
        self.waiting.values().map(|w| w.next_write).min()
    }

    /// Writes again the outcomes whose time came by `now`, each through
    /// `write`, which returns the outcome when the archive refused it
    /// again: that one and those after it for its key wait for a longer
    /// backoff. A key whose outcomes are all written is released.
    pub(super) async fn write_due<F, Fut>(&mut self, now: DateTime<Utc>, mut write: F)
    where
        F: FnMut(K, V) -> Fut,
        Fut: Future<Output = Option<V>>,
    {
        let due: Vec<K> = self
            .waiting
            .iter()
            .filter(|(_, w)| w.next_write <= now)
            .map(|(k, _)| k.clone())
            .collect();
        for key in due {
            let Some(mut waiting) = self.waiting.remove(&key) else {
                continue;
            };
            let mut outcomes = std::mem::take(&mut waiting.outcomes).into_iter();
            let mut left = Vec::new();
            for outcome in outcomes.by_ref() {
                if let Some(refused) = write(key.clone(), outcome).await {
                    left.push(refused);
                    break;
                }
            }
            left.extend(outcomes);
            if !left.is_empty() {
                waiting.refused += 1;
                waiting.next_write = now + wait(waiting.refused);
                waiting.outcomes = left;
                self.waiting.insert(key, waiting);
            }
        }
    }
}

/// The backoff after `refused` refusals in a row.
fn wait(refused: u32) -> chrono::Duration {
    let wait = FIRST_WAIT
        .saturating_mul(1 << refused.saturating_sub(1).min(16))
        .min(LONGEST_WAIT);
    chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
    }

    #[tokio::test]
    async fn a_refused_outcome_holds_its_key_until_written_in_order() {
        let mut u: Unrecorded<&str, u32> = Unrecorded::default();
        u.keep("a", 1, at(0));
        u.keep("a", 2, at(0));
        assert!(u.holds(&"a") && !u.holds(&"b"));
        assert_eq!(u.next_write(), Some(at(1)));
        // Not due yet: nothing is written.
        let mut written = Vec::new();
        u.write_due(at(0), |_, v| {
            written.push(v);
            async { None }
        })
        .await;
        assert!(written.is_empty());
        // Refused again: the backoff doubles, both still wait.
        u.write_due(at(1), |_, v| async move { Some(v) }).await;
        assert!(u.holds(&"a"));
        assert_eq!(u.next_write(), Some(at(3)));
        // Written, in order: released.
        u.write_due(at(3), |_, v| {
            written.push(v);
            async { None }
        })
        .await;
        assert_eq!(written, [1, 2]);
        assert!(u.is_empty() && u.next_write().is_none());
    }

    #[test]
    fn the_backoff_doubles_up_to_a_minute() {
        let secs: Vec<i64> = [1, 2, 3, 7, 100].map(|n| wait(n).num_seconds()).into();
        assert_eq!(secs, [1, 2, 4, 60, 60]);
    }
}
