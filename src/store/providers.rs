//! What each quote provider has been asked lately, and whether it asked
//! us to wait: the ledger every process on the archive keeps to, so that
//! `tickerfeed quotes` from cron, a `poll` and the daemon share one
//! budget and honour one another's 429 pause.
//!
//! A provider is keyed by its name and endpoint (the base URL, secrets
//! blanked): another endpoint is another account or proxy, with a budget
//! of its own, as in one process. What the ledger means (which windows,
//! how long a pause) is the quote client's; the store only keeps it, and
//! lets the client decide and write in one transaction
//! ([`Store::change_provider_ledger`]), so two processes cannot both
//! spend the last credit.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};

use super::{Store, StoreError, begin_write, cached, op};
use crate::clock::{from_db_time, to_db_time};

/// One provider's recent spending and pause, as the archive holds them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProviderLedger {
    /// (when, credits), oldest first, from the `since` asked for on.
    pub spent: Vec<(DateTime<Utc>, u32)>,
    /// Until when the provider is not to be asked, and why; kept after it
    /// has ended.
    pub pause: Option<(DateTime<Utc>, String)>,
    /// Rate-limit answers since the last good one (the back-off's count).
    pub strikes: u32,
}

/// What one look at a ledger writes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LedgerChange {
    /// Credits spent at a time.
    pub spend: Option<(DateTime<Utc>, u32)>,
    /// A new pause (its end, and why), replacing the one kept.
    pub pause: Option<(DateTime<Utc>, String)>,
    pub strikes: Option<u32>,
}

impl Store {
    /// `provider` at `endpoint`'s ledger, spends from `since` on.
    pub async fn provider_ledger(
        &self,
        provider: String,
        endpoint: String,
        since: DateTime<Utc>,
    ) -> Result<ProviderLedger, StoreError> {
        self.read(move |conn| read_ledger(conn, &provider, &endpoint, since))
            .await
    }

    /// Reads `provider` at `endpoint`'s ledger (spends from `since` on),
    /// hands it to `decide` and writes the change it returns, all in one
    /// write transaction: what another process spent is seen, and nobody
    /// spends between the look and the write. Spends before `since` are
    /// deleted (no window reaches back that far). Returns what `decide`
    /// returned beside its change.
    pub async fn change_provider_ledger<T, F>(
        &self,
        provider: String,
        endpoint: String,
        since: DateTime<Utc>,
        decide: F,
    ) -> Result<T, StoreError>
    where
        F: FnOnce(ProviderLedger) -> (LedgerChange, T) + Send + 'static,
        T: Send + 'static,
    {
        self.write(move |conn| {
            let tx = begin_write(conn, "begin changing a provider's ledger")?;
            let ledger = read_ledger(&tx, &provider, &endpoint, since)?;
            let (change, out) = decide(ledger);
            if let Some((at, credits)) = change.spend {
                cached(
                    &tx,
                    "INSERT INTO provider_spends (provider, endpoint, spent_at, credits)
                     VALUES (?1, ?2, ?3, ?4)",
                    params![provider, endpoint, spend_time(at), credits],
                )
                .map_err(op("record a provider's spend"))?;
            }
            if change.pause.is_some() || change.strikes.is_some() {
                let (until, reason) = change.pause.unzip();
                cached(
                    &tx,
                    "INSERT INTO provider_pauses (provider, endpoint, paused_until, reason, strikes)
                     VALUES (?1, ?2, ?3, ?4, coalesce(?5, 0))
                     ON CONFLICT (provider, endpoint) DO UPDATE SET
                         paused_until = coalesce(?3, paused_until),
                         reason = coalesce(?4, reason),
                         strikes = coalesce(?5, strikes)",
                    params![
                        provider,
                        endpoint,
                        until.map(to_db_time),
                        reason,
                        change.strikes
                    ],
                )
                .map_err(op("record a provider's pause"))?;
            }
            cached(
                &tx,
                "DELETE FROM provider_spends
                 WHERE provider = ?1 AND endpoint = ?2 AND spent_at < ?3",
                params![provider, endpoint, spend_time(since)],
            )
            .map_err(op("forget a provider's old spends"))?;
            tx.commit().map_err(op("commit a provider's ledger"))?;
            Ok(out)
        })
        .await
    }
}

/// A spend's time as `provider_spends` keeps it: to the millisecond, in
/// one fixed width, so the text sorts and compares as the time does. A
/// whole second would make a spend leave its window up to a second early
/// (read back rounded down) or late (rounded up: then a refresh a period
/// after a full one finds the budget still spent).
fn spend_time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn read_ledger(
    conn: &Connection,
    provider: &str,
    endpoint: &str,
    since: DateTime<Utc>,
) -> Result<ProviderLedger, StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT spent_at, credits FROM provider_spends
             WHERE provider = ?1 AND endpoint = ?2 AND spent_at >= ?3
             ORDER BY spent_at",
        )
        .map_err(op("prepare a provider's spends"))?;
    let spent = stmt
        .query_map(params![provider, endpoint, spend_time(since)], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, u32>(1)?))
        })
        .map_err(op("read a provider's spends"))?
        .map(|row| {
            let (at, credits) = row.map_err(op("read a provider's spend"))?;
            // A time another hand wrote wrong counts as spent now: the
            // budget errs on the side of asking less.
            Ok((from_db_time(&at).unwrap_or(since), credits))
        })
        .collect::<Result<_, StoreError>>()?;
    let row: Option<(Option<String>, Option<String>, u32)> = conn
        .prepare_cached(
            "SELECT paused_until, reason, strikes FROM provider_pauses
             WHERE provider = ?1 AND endpoint = ?2",
        )
        .map_err(op("prepare a provider's pause"))?
        .query_row(params![provider, endpoint], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()
        .map_err(op("read a provider's pause"))?;
    let (pause, strikes) = match row {
        Some((until, reason, strikes)) => (
            until
                .as_deref()
                .and_then(from_db_time)
                .map(|until| (until, reason.unwrap_or_default())),
            strikes,
        ),
        None => (None, 0),
    };
    Ok(ProviderLedger {
        spent,
        pause,
        strikes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        from_db_time(s).unwrap()
    }

    /// Two handles on one file, as two processes: what one spends and the
    /// pause it records, the other reads; a spend is kept to the
    /// millisecond, and spends older than asked for are gone.
    #[tokio::test]
    async fn a_ledger_is_shared_through_the_archive() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.db");
        let (one, other) = (Store::open(&path).unwrap(), Store::open(&path).unwrap());
        let key = || ("finnhub".to_string(), "https://finnhub.io/".to_string());
        let t0 = at("2026-12-07T19:31:00Z");
        let spent_at = t0 + chrono::Duration::milliseconds(300);
        let seen = one
            .change_provider_ledger(key().0, key().1, t0, move |ledger| {
                let change = LedgerChange {
                    spend: Some((spent_at, 2)),
                    pause: Some((at("2026-12-07T19:33:00Z"), "HTTP 429".into())),
                    strikes: Some(1),
                };
                (change, ledger)
            })
            .await
            .unwrap();
        assert_eq!(seen, ProviderLedger::default());
        let read = other.provider_ledger(key().0, key().1, t0).await.unwrap();
        assert_eq!(
            read,
            ProviderLedger {
                spent: vec![(spent_at, 2)],
                pause: Some((at("2026-12-07T19:33:00Z"), "HTTP 429".into())),
                strikes: 1,
            }
        );
        // A good answer resets the strikes and keeps the pause; a later
        // `since` forgets the spend.
        let later = at("2026-12-07T19:40:00Z");
        other
            .change_provider_ledger(key().0, key().1, later, |_| {
                let change = LedgerChange {
                    strikes: Some(0),
                    ..LedgerChange::default()
                };
                (change, ())
            })
            .await
            .unwrap();
        let read = one.provider_ledger(key().0, key().1, t0).await.unwrap();
        assert_eq!((read.spent.len(), read.strikes), (0, 0));
        assert!(read.pause.is_some());
        let elsewhere = one
            .provider_ledger(key().0, "http://127.0.0.1:1/".into(), t0)
            .await
            .unwrap();
        assert_eq!(elsewhere, ProviderLedger::default());
    }
}
