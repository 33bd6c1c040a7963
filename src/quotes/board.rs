//! The ticker board: the configured instruments' latest quotes, kept fresh
//! on the market schedule and read at ingest.
//!
//! Ingest never waits on a provider: it reads [`Board::view`], a copy of
//! what the last refreshes brought. Only successes replace a cached quote;
//! when a refresh fails for a symbol (or the provider is down), the last
//! good quote stays on the board and is marked stale, so quote trouble
//! never blocks or fails feed ingestion. Every successful quote is appended
//! to the archive's time series first, so snapshots can point at it.
//!
//! A quote is stale in the view when our copy is old (fetched longer ago
//! than `stale_after`), when the provider was failing, or, however
//! recently fetched, when its price is from before the latest session its
//! exchange has opened (the previous close shown as current while the
//! market trades, or a weekend's price that missed Friday) or trails the
//! clock by more than `stale_after` plus the usual 15 minutes' delay while
//! the market trades (a provider hours behind). A price struck once a day
//! (a fund's NAV: `daily` in the config, or Yahoo's `MUTUALFUND`, which
//! the archive keeps for a restart) is judged only by its day: stale once
//! the next trading day's is overdue (that evening in New York, the next
//! morning in London: when each market's funds publish). Stooq and Finnhub
//! say no session, so only the price's own time (`as_of`) against the
//! exchange calendar (`calendar::evidently_listed_on`) tells, for
//! symbols whose market a calendar here knows.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use chrono::{DateTime, TimeDelta, Utc};
use tokio::sync::Notify;
use tracing::{info, warn};

use super::calendar::{self, Exchange, TradingSession, Zone};
use super::client::{ProviderClient, Wanted};
use super::history::{Bars, Interval};
use super::mentions::{Instrument, Mention, MentionMatcher};
use super::{Budget, Quote, QuoteError};
use crate::clock::SharedClock;
use crate::config::{InstrumentConfig, MarketConfig, Secret};
use crate::model::{BoardView, NewItem, ProviderKind, SnapshotQuote};
use crate::schedule::Schedule;
use crate::store::{Store, StoreError};

/// One cached quote.
#[derive(Debug, Clone)]
struct Held {
    quote_id: i64,
    quote: SnapshotQuote,
    /// The last refresh for this symbol failed; `quote` is the last good one.
    failing: bool,
    /// The provider says the price is struck once a day (`Quote::daily`),
    /// as archived with the quote, so a restart keeps judging it so.
    daily: bool,
}

#[derive(Debug, Default)]
struct State {
    held: HashMap<String, Held>,
    last_refresh: Option<DateTime<Utc>>,
    last_success: Option<DateTime<Utc>>,
    last_error: Option<String>,
    /// `last_error`'s kind in plain words ([`QuoteError::in_plain_words`]).
    last_error_words: Option<String>,
}

/// What a refresh did, for logs and `tickerfeed quotes`.
#[derive(Debug, Clone, Default)]
pub struct RefreshReport {
    pub ok: usize,
    /// Symbol and error, in plain words; the symbols not asked at all
    /// (`held_back`) too.
    pub failed: Vec<(String, String)>,
    /// The symbols no request was sent for, since the provider's budget
    /// was spent or it asked us to wait, and why (the first one's error).
    pub held_back: Vec<String>,
    pub held_back_why: Option<String>,
}

/// The board's state for `/quotes.json` and `tickerfeed quotes`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BoardStatus {
    pub label: String,
    pub provider: String,
    pub last_refresh: Option<DateTime<Utc>>,
    pub last_success: Option<DateTime<Utc>>,
    /// The whole last error, the provider's address included: for the
    /// log and `tickerfeed quotes`, never a page or `/healthz`.
    #[serde(skip)]
    pub last_error: Option<String>,
    /// The last error's symbol and kind, without the provider's address
    /// (`AAPL: connection refused`): what the public pages show, `/feeds`,
    /// `/quotes.json` and `/healthz` (as `last_error`).
    #[serde(rename = "last_error")]
    pub last_error_words: Option<String>,
    pub quotes: Vec<StatusQuote>,
}

#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusQuote {
    pub symbol: String,
    pub name: Option<String>,
    pub provider_symbol: String,
    pub price: String,
    pub change: Option<String>,
    pub change_percent: Option<String>,
    pub currency: Option<String>,
    pub previous_close: Option<String>,
    pub as_of: Option<DateTime<Utc>>,
    pub fetched: DateTime<Utc>,
    pub session: String,
    pub stale: bool,
}

#[derive(Debug)]
pub struct Board {
    // Both locks are cloned out of (an `Arc`), so neither is held across
    // an `.await` and a swap never waits for a slow provider.
    /// What `[market]` sets, swapped whole by [`Board::reconfigure`].
    setup: RwLock<Arc<Setup>>,
    /// Swapped by [`Board::replace_api_key`].
    client: RwLock<Arc<ProviderClient>>,
    /// Kept to build a client with a new key on reload.
    http: reqwest::Client,
    state: Mutex<State>,
    /// Told when a reload changed the instruments or the schedule.
    reconfigured: Notify,
    /// When the board was set up: the daemon's start, or the reload that
    /// added `[market]`. Its age counts from here until a refresh succeeds.
    started_at: DateTime<Utc>,
    /// Given to every provider client ([`ProviderClient::with_clock`]).
    clock: SharedClock,
}

/// The board's `[market]` and the mention matcher built from it.
#[derive(Debug)]
struct Setup {
    /// As configured, without the API key: that lives only in the client.
    config: MarketConfig,
    matcher: MentionMatcher,
    /// Where each of `config.instruments` evidently trades, in the same
    /// order; `None` for a market no calendar here knows (`7203.T`), or an
    /// `exchange` without a calendar (the daemon refuses one; `tickerfeed
    /// quotes` still shows its board).
    exchanges: Vec<Option<&'static Exchange>>,
}

impl Setup {
    fn instrument(&self, symbol: &str) -> Option<&InstrumentConfig> {
        self.config.instruments.iter().find(|i| i.symbol == symbol)
    }

    fn new(market: &MarketConfig) -> Setup {
        let instruments: Vec<Instrument> =
            market.instruments.iter().map(Instrument::from).collect();
        Setup {
            matcher: MentionMatcher::new(&instruments),
            exchanges: market
                .instruments
                .iter()
                .map(|i| calendar::evidently_listed_on(i.exchange.as_deref(), &i.provider_symbol))
                .collect(),
            config: unkeyed(market),
        }
    }
}

impl Board {
    /// A board for `market`, set up now, with no quote yet, whose provider
    /// clients count spends and pauses by `clock`, as the requests go and
    /// the answers come ([`ProviderClient::with_clock`]).
    pub fn new(market: MarketConfig, http: reqwest::Client, clock: SharedClock) -> Board {
        let now = clock.now();
        let client = client_for(&market, market.api_key.clone(), &http, &clock);
        Board {
            setup: RwLock::new(Arc::new(Setup::new(&market))),
            client: RwLock::new(Arc::new(client)),
            http,
            state: Mutex::new(State::default()),
            reconfigured: Notify::new(),
            started_at: now,
            clock,
        }
    }

    /// `[market]` as of now.
    fn setup(&self) -> Arc<Setup> {
        // Only ever replaced whole, so a poisoned lock still holds a usable setup.
        Arc::clone(&self.setup.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// Whether the board asks `market`'s provider at `market`'s endpoint:
    /// only then may its client carry `market`'s API key
    /// ([`Board::replace_api_key`]).
    pub fn asks_endpoint_of(&self, market: &MarketConfig) -> bool {
        self.client()
            .asks(market.provider, market.base_url.as_ref())
    }

    /// Whether the board runs `market` as it is, its API key aside.
    pub fn runs(&self, market: &MarketConfig) -> bool {
        self.setup().config == unkeyed(market)
    }

    /// Whether the board's requests go out with `market`'s API key.
    pub fn sends_api_key_of(&self, market: &MarketConfig) -> bool {
        self.client().sends_api_key(market.api_key.as_ref())
    }

    /// From now on, quotes `market`'s instruments (in its order, with its
    /// names, label and staleness) from its provider and endpoint, finds
    /// their mentions, and refreshes on its schedule (a reload; an API key
    /// alone goes through [`Board::replace_api_key`]). Quotes of
    /// instruments no longer configured, or now quoted under another
    /// provider symbol (another listing), leave the board; the rest stay,
    /// as the last known prices, until the refresh this wakes
    /// ([`Board::reconfigured`]) replaces them. Another provider or
    /// endpoint gets a new client, with `market`'s key and a fresh budget;
    /// so does another plan, whose client takes up what the archive's
    /// ledger says was spent at its first refresh.
    pub fn reconfigure(&self, market: &MarketConfig) {
        // The client is swapped before the setup, and a refresh reads the
        // setup before the client, so no refresh asks the old provider for
        // the new provider's symbols.
        if !self.asks_endpoint_of(market) || self.setup().config.plan != market.plan {
            let client = client_for(market, market.api_key.clone(), &self.http, &self.clock);
            *self.client.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(client);
        }
        let setup = Arc::new(Setup::new(market));
        // Swapped before the quotes are dropped: a refresh or seed that
        // stores quotes after this reads the new setup, one that stored
        // them before has them dropped here.
        let old = std::mem::replace(
            &mut *self.setup.write().unwrap_or_else(|p| p.into_inner()),
            Arc::clone(&setup),
        );
        self.state().held.retain(|symbol, _| {
            let listing = |s: &Setup| s.instrument(symbol).map(|i| i.provider_symbol.clone());
            listing(&setup).is_some() && listing(&setup) == listing(&old)
        });
        self.reconfigured.notify_one();
    }

    /// Completes when a reload has reconfigured the board since the last
    /// time this completed.
    pub async fn reconfigured(&self) {
        self.reconfigured.notified().await
    }

    pub fn label(&self) -> String {
        self.setup().config.label.clone()
    }

    /// The provider the board asks.
    pub fn provider(&self) -> ProviderKind {
        self.setup().config.provider
    }

    /// When the board refreshes.
    pub fn schedule(&self) -> Schedule {
        self.setup().config.schedule.clone()
    }

    /// Past prices of one provider symbol, through the board's own client
    /// and budget, leaving room for one full board refresh in every budget
    /// window (`ProviderClient::fetch_history`), so backfill never holds
    /// up the board.
    pub async fn history(
        &self,
        provider_symbol: &str,
        interval: Interval,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Bars, QuoteError> {
        let reserve = u32::try_from(self.setup().config.instruments.len()).unwrap_or(u32::MAX);
        self.client()
            .fetch_history(provider_symbol, interval, from, to, reserve, now)
            .await
    }

    /// The client the next refresh uses.
    fn client(&self) -> Arc<ProviderClient> {
        // Only ever replaced whole, so a poisoned lock still holds a usable client.
        Arc::clone(&self.client.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// From the next refresh on, sends `api_key` to the same provider and
    /// endpoint (a reload pointed `api_key_env` at another variable). A
    /// refresh already in flight finishes with the old key. The new client
    /// keeps to the archive's ledger of this endpoint from its first
    /// refresh, which knows no keys: a cooldown the old key earned holds
    /// until it ends (keys are never written to the archive, so the
    /// ledger cannot tell one account from another).
    pub fn replace_api_key(&self, api_key: Option<Secret>) {
        let fresh = client_for(&self.setup().config, api_key, &self.http, &self.clock);
        *self.client.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(fresh);
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // Held only for map updates that cannot panic halfway.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Loads the newest archived quote of every instrument, so a restarted
    /// daemon stamps items with the last known board (aged as it is)
    /// instead of none.
    pub async fn seed(&self, store: &Store) -> Result<(), StoreError> {
        let symbols = self
            .setup()
            .config
            .instruments
            .iter()
            .map(|i| i.symbol.clone())
            .collect();
        // Before the first refresh: what other processes spent of the
        // provider's budget, and a pause it asked of them, hold here too.
        self.client().keep_ledger_in(store);
        let latest = store.latest_quotes(symbols).await?;
        let mut state = self.state();
        // A reload may have removed some while the archive was read.
        let setup = self.setup();
        for (quote_id, quote, daily) in latest {
            if setup.instrument(&quote.symbol).is_none() {
                continue;
            }
            state.held.entry(quote.symbol.clone()).or_insert(Held {
                quote_id,
                quote,
                failing: false,
                daily,
            });
        }
        Ok(())
    }

    /// Fetches every instrument once and archives the successes.
    pub async fn refresh(
        &self,
        store: &Store,
        now: DateTime<Utc>,
    ) -> Result<RefreshReport, StoreError> {
        let wanted: Vec<Wanted> = self
            .setup()
            .config
            .instruments
            .iter()
            .map(|i| Wanted {
                symbol: i.symbol.clone(),
                provider_symbol: i.provider_symbol.clone(),
                exchange: i.exchange.clone(),
            })
            .collect();
        let client = self.client();
        // A client a reload made since the seed keeps the ledger there too.
        client.keep_ledger_in(store);
        let results = client.fetch(&wanted, now).await;
        let asked: HashMap<String, String> = wanted
            .into_iter()
            .map(|w| (w.symbol, w.provider_symbol))
            .collect();
        let mut ok: Vec<Quote> = Vec::new();
        let mut report = RefreshReport::default();
        let mut first_error_words = None;
        for (symbol, result) in results {
            match result {
                Ok(q) => ok.push(q),
                Err(e) => {
                    first_error_words
                        .get_or_insert_with(|| format!("{symbol}: {}", e.in_plain_words()));
                    if e.held_until().is_some() {
                        report.held_back_why.get_or_insert_with(|| describe(&e));
                        report.held_back.push(symbol.clone());
                    }
                    report.failed.push((symbol, describe(&e)));
                }
            }
        }
        let ids = if ok.is_empty() {
            Vec::new()
        } else {
            store.record_quotes(ok.clone()).await?
        };
        let mut state = self.state();
        state.last_refresh = Some(now);
        // A reload may have removed some, or moved them to another
        // listing, while they were fetched (they stay in the archive, off
        // the board).
        let setup = self.setup();
        for (quote_id, q) in ids.into_iter().zip(ok) {
            let Some(instrument) = setup
                .instrument(&q.symbol)
                .filter(|i| asked.get(&q.symbol) == Some(&i.provider_symbol))
            else {
                continue;
            };
            let name = instrument.name.clone();
            let daily = q.daily;
            state.held.insert(
                q.symbol.clone(),
                Held {
                    quote_id,
                    quote: snapshot_quote(q, name),
                    failing: false,
                    daily,
                },
            );
            report.ok += 1;
        }
        for (symbol, _) in &report.failed {
            if let Some(h) = state.held.get_mut(symbol) {
                h.failing = true;
            }
        }
        state.last_error_words = first_error_words;
        if report.failed.is_empty() {
            state.last_error = None;
        } else {
            let (symbol, error) = &report.failed[0];
            state.last_error = Some(format!("{symbol}: {error}"));
        }
        if report.ok > 0 {
            state.last_success = Some(now);
        }
        Ok(report)
    }

    /// The board as it stands at `now`, in configured order; `None` while
    /// no instrument has a quote yet.
    pub fn view(&self, now: DateTime<Utc>) -> Option<BoardView> {
        let setup = self.setup();
        let config = &setup.config;
        let state = self.state();
        let quotes: Vec<(i64, SnapshotQuote)> = config
            .instruments
            .iter()
            .zip(&setup.exchanges)
            .filter_map(|(i, exchange)| Some((i, state.held.get(&i.symbol)?, *exchange)))
            .map(|(i, h, exchange)| {
                let mut q = h.quote.clone();
                // The config now, not at the fetch: a seeded quote (read
                // from the archive) has none, and a reload may move it.
                q.exchange.clone_from(&i.exchange);
                q.stale = h.failing
                    || too_old(config, &q, now)
                    || match exchange {
                        Some(exchange) if i.daily || h.daily => missed_a_day(exchange, &q, now),
                        Some(exchange) => {
                            before_the_session(exchange, &q, now)
                                || lagging(exchange, config, &q, now)
                        }
                        None => false,
                    };
                (h.quote_id, q)
            })
            .collect();
        (!quotes.is_empty()).then(|| BoardView {
            label: config.label.clone(),
            quotes,
        })
    }

    /// Fills `mentions` on each of `items`: the configured instruments it
    /// mentions. Only configured symbols can match, so feed text never
    /// triggers a lookup. One look at the setup for the lot: the parse
    /// threads share it, and a lock per item would have them contend.
    pub fn mark_mentions<'a>(&self, items: impl Iterator<Item = &'a mut NewItem>) {
        let setup = self.setup();
        for item in items {
            // normalize already made the plain text (for search); use it.
            let texts = [
                item.title.as_str(),
                item.summary_text.as_deref().unwrap_or(""),
                item.content_text.as_deref().unwrap_or(""),
            ];
            item.mentions = setup.matcher.find_in_feed_item(&item.categories, &texts);
        }
    }

    /// Which configured instruments an article fetched for an item
    /// (`[[feeds]] fulltext`) mentions, in its plain text. The one call
    /// site of the matcher for articles (`pipeline::fulltext`).
    pub fn mentions_in_article(&self, title: &str, text: &str) -> Vec<Mention> {
        self.setup().matcher.find(title, text, &[] as &[&str])
    }

    /// When the board last refreshed with at least one quote. Cheap: no
    /// quote copied.
    pub fn last_success(&self) -> Option<DateTime<Utc>> {
        self.state().last_success
    }

    /// When the board last asked its provider, answered or not: what pages
    /// showing the live board are rendered from, since a failed refresh
    /// changes them too (its quotes turn stale, or the notice that stands
    /// in for a board without quotes gives the new error). Cheap.
    pub fn last_refresh(&self) -> Option<DateTime<Utc>> {
        self.state().last_refresh
    }

    /// How long the board has gone without news from its provider at
    /// `now`: since its last successful refresh, or, before any, since it
    /// was set up. Not the age of the prices it shows: those seeded from
    /// the archive may be days old, and are marked stale by their own
    /// times, while a board set up a minute ago has had no chance to
    /// refresh yet.
    pub fn age(&self, now: DateTime<Utc>) -> TimeDelta {
        now - self.last_success().unwrap_or(self.started_at)
    }

    pub fn status(&self, now: DateTime<Utc>) -> BoardStatus {
        let quotes = self
            .view(now)
            .map(|v| v.quotes)
            .unwrap_or_default()
            .into_iter()
            .map(|(_, q)| StatusQuote {
                price: q.price.to_string(),
                change: q.change.map(|d| d.to_string()),
                change_percent: q.change_percent.map(|d| d.to_string()),
                previous_close: q.previous_close.map(|d| d.to_string()),
                symbol: q.symbol,
                name: q.name,
                provider_symbol: q.provider_symbol,
                currency: q.currency,
                as_of: q.as_of,
                fetched: q.fetched_at,
                session: q.session,
                stale: q.stale,
            })
            .collect();
        let state = self.state();
        BoardStatus {
            label: self.label(),
            provider: self.provider().as_str().to_string(),
            last_refresh: state.last_refresh,
            last_success: state.last_success,
            last_error: state.last_error.clone(),
            last_error_words: state.last_error_words.clone(),
            quotes,
        }
    }

    /// Logs a refresh: one line, failures named.
    pub fn log_refresh(&self, report: &RefreshReport) {
        if report.failed.is_empty() {
            info!(
                provider = self.provider().as_str(),
                quotes = report.ok,
                "board refreshed"
            );
        } else {
            warn!(
                provider = self.provider().as_str(),
                quotes = report.ok,
                failed = report.failed.len(),
                first_error = %format!("{}: {}", report.failed[0].0, report.failed[0].1),
                "board refresh incomplete; keeping the last good quotes, marked stale"
            );
        }
    }
}

/// A client that asks `market`'s provider at its endpoint with `api_key`,
/// keeps to its plan's limits (the free tier's without one) and counts by
/// `clock`.
fn client_for(
    market: &MarketConfig,
    api_key: Option<Secret>,
    http: &reqwest::Client,
    clock: &SharedClock,
) -> ProviderClient {
    ProviderClient::new(
        market.provider,
        market.base_url.clone(),
        api_key,
        http.clone(),
    )
    .with_budget(Budget::of_plan(market.provider, market.plan.as_ref()))
    .with_clock(Arc::clone(clock))
}

/// `market` without its API key, which lives only in the client.
fn unkeyed(market: &MarketConfig) -> MarketConfig {
    MarketConfig {
        api_key: None,
        ..market.clone()
    }
}

/// How old our knowledge is (fetch time), not the provider's as-of: a
/// closed market's last trade is legitimately old, and `session` says so.
/// (An open market's old trade is [`before_the_session`] or [`lagging`].)
fn too_old(config: &MarketConfig, q: &SnapshotQuote, now: DateTime<Utc>) -> bool {
    (now - q.fetched_at)
        .to_std()
        .is_ok_and(|age| age > config.stale_after)
}

/// Whether `q`'s price is from before the latest session of `exchange`
/// to have opened by `now`: a previous close while the market trades, or
/// on Saturday a price from before Friday's session, which no recent
/// fetch makes current. Without an as-of nothing is said.
fn before_the_session(exchange: &Exchange, q: &SnapshotQuote, now: DateTime<Utc>) -> bool {
    q.as_of
        .is_some_and(|as_of| as_of < exchange.session_started_by(now).open)
}

/// How far a price's own time may trail the clock beyond `stale_after`
/// while its exchange trades: exchanges let free data out 15 minutes late
/// (Alpha Vantage's delayed wrapper, FMP's Nasdaq quotes), and such a
/// price is as current as the plan allows.
const EXPECTED_DELAY: TimeDelta = TimeDelta::minutes(15);

/// Whether `q`'s price, though from today's session, trails `now` by more
/// than `stale_after` plus [`EXPECTED_DELAY`] while `exchange` trades: a
/// provider hours behind, however recently we asked it. Outside the
/// session the last price is the price.
fn lagging(
    exchange: &Exchange,
    config: &MarketConfig,
    q: &SnapshotQuote,
    now: DateTime<Utc>,
) -> bool {
    let Some(as_of) = q.as_of else {
        return false;
    };
    let allowed = TimeDelta::from_std(config.stale_after)
        .ok()
        .and_then(|t| t.checked_add(&EXPECTED_DELAY))
        .unwrap_or(TimeDelta::MAX);
    exchange.is_open(now) && now - as_of > allowed
}

/// How long after a New York session's regular close the price struck
/// once a day for it may take to reach the board: US mutual funds publish
/// that day's NAV by about 18:00 to 20:00 New York time (the FXAIX capture
/// is dated 20:08), and the board's next refresh has to fetch it. Counted
/// from 16:00 on a half day too: the NAV comes at the usual hour, not
/// three hours early because the exchange closed at 13:00.
const DAILY_PRICE_GRACE: TimeDelta = TimeDelta::hours(6);

/// How long after the open of the session that follows its day a London
/// fund's price may take to reach the board. UK (and other European) funds
/// publish a day's NAV the next morning, dated the day it values, at about
/// the time the exchange opens (08:00 in London); without this margin the
/// previous NAV would read stale each morning from the open until a
/// refresh brings the new one.
const NEXT_MORNING_GRACE: TimeDelta = TimeDelta::hours(2);

/// For a price struck once a day (`daily` in the config, or as the
/// provider says: a fund's NAV, worked out after the close and published
/// later), whether the next one is overdue: a price of trading day D is
/// the latest there can be until the price of the next trading day after D
/// is due ([`daily_price_due`]). The day is the exchange's own date, since
/// providers date a NAV at the close or at its publication hours later.
fn missed_a_day(exchange: &Exchange, q: &SnapshotQuote, now: DateTime<Utc>) -> bool {
    let Some(as_of) = q.as_of else {
        return false;
    };
    let next = exchange.session_after_day(exchange.zone.local_date(as_of));
    now >= daily_price_due(exchange, &next)
}

/// When the price struck once a day for `session` should be on the board,
/// by when its market's funds publish. New York (NYSE, Nasdaq): that
/// evening, [`DAILY_PRICE_GRACE`] after the regular close (22:00 New York
/// time, on a half day too), so Thursday's NAV is stale from Friday 22:00
/// when Friday's never came, and Friday's current until Monday evening
/// (Tuesday's, when Monday is a holiday). London: the next morning,
/// [`NEXT_MORNING_GRACE`] after the following session's open (10:00
/// London time), so Tuesday's NAV, published Wednesday morning, is current
/// until Thursday 10:00, and Thursday's until Monday 10:00 (Tuesday's,
/// after a bank holiday), when Friday's should have come. Six hours after
/// London's 16:30 close would mark every such NAV stale each night; the
/// next morning for New York would leave a missed NAV unnoticed all night.
/// A calendar in another zone has to choose here.
fn daily_price_due(exchange: &Exchange, session: &TradingSession) -> DateTime<Utc> {
    match exchange.zone {
        Zone::NewYork => exchange.regular_close(session) + DAILY_PRICE_GRACE,
        Zone::London => exchange.next_session(session).open + NEXT_MORNING_GRACE,
    }
}

fn describe(e: &QuoteError) -> String {
    e.to_string()
}

fn snapshot_quote(q: Quote, name: Option<String>) -> SnapshotQuote {
    SnapshotQuote {
        symbol: q.symbol,
        name,
        provider_symbol: q.provider_symbol,
        // Filled from the config as the board is shown (`Board::view`).
        exchange: None,
        provider: q.provider.as_str().to_string(),
        price: q.price,
        change: q.change,
        change_percent: q.change_percent,
        currency: q.currency,
        previous_close: q.previous_close,
        as_of: q.as_of,
        fetched_at: q.fetched_at,
        session: q.session.as_str().to_string(),
        stale: false,
        mentioned: false,
    }
}

/// The board as configured now, shared by everything that reads it
/// (ingest, article pages, HTTP, health): `None` without `[market]`. A
/// reload that adds or removes `[market]` swaps it, so each reader takes
/// the current board per use ([`BoardSlot::get`]) rather than keeping
/// one; a swap never waits for a refresh in progress.
#[derive(Debug, Clone, Default)]
pub struct BoardSlot(Arc<RwLock<Option<Arc<Board>>>>);

impl BoardSlot {
    pub fn new(board: Option<Arc<Board>>) -> BoardSlot {
        BoardSlot(Arc::new(RwLock::new(board)))
    }

    /// The board now, if `[market]` is configured.
    pub fn get(&self) -> Option<Arc<Board>> {
        // A poisoned lock only means a writer panicked between two whole
        // values: what it holds is still one of them.
        self.0.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Puts `board` in place of the one shown until now.
    pub fn set(&self, board: Option<Arc<Board>>) {
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = board;
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::clock::from_db_time;
    use crate::quotes::loopback::Loopback;
    use crate::quotes::test_support::fixture;

    /// A clock that stays at `t`: each refresh gives its own time.
    fn clock_at(t: DateTime<Utc>) -> SharedClock {
        Arc::new(crate::clock::FixedClock::new(t))
    }

    /// A provider as `[market] provider` names it, the path its quotes are
    /// asked at, and their content type.
    type Provider = (&'static str, &'static str, &'static str);
    const FINNHUB: Provider = ("finnhub", "/api/v1/quote", "application/json");
    const STOOQ: Provider = ("stooq", "/q/l/", "text/csv");
    const YAHOO: Provider = ("yahoo", "/v8/finance/chart/", "application/json");
    const ALPHA_VANTAGE: Provider = ("alphavantage", "/query", "application/json");

    /// Whether a board of one `symbol` (a TOML value), whose provider
    /// answers with `payload`, shows its quote stale at each of `times`,
    /// the quote fetched at that very time: only the quote's own time can
    /// make it stale.
    async fn stale_when_fetched_at(
        provider: Provider,
        payload: &str,
        symbol: &str,
        times: &[&str],
    ) -> Vec<bool> {
        stale_when_served(provider, &fixture(payload), symbol, times).await
    }

    /// [`stale_when_fetched_at`], the provider answering with `body`.
    async fn stale_when_served(
        (provider, path, content_type): Provider,
        body: &[u8],
        symbol: &str,
        times: &[&str],
    ) -> Vec<bool> {
        let server = Loopback::start().await;
        server.serve(path, 200, content_type, body);
        let board = Board::new(
            market_at(&server, provider, symbol),
            reqwest::Client::new(),
            clock_at(DateTime::UNIX_EPOCH),
        );
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("a.db")).unwrap();
        let mut stale = Vec::new();
        for now in times {
            let now = from_db_time(now).unwrap();
            let report = board.refresh(&store, now).await.unwrap();
            assert_eq!(report.ok, 1, "{:?}", report.failed);
            stale.push(board.view(now).unwrap().quotes[0].1.stale);
        }
        stale
    }

    /// `[market]` of one `symbol` (a TOML value) asked of `provider` at
    /// `server`.
    fn market_at(server: &Loopback, provider: &str, symbol: &str) -> MarketConfig {
        // Resolved as Yahoo's, which needs no key in the environment; the
        // key and the provider are set after.
        let text = format!(
            "[market]\nprovider = \"yahoo\"\nbase_url = \"{}\"\nsymbols = [{symbol}]\n",
            server.base()
        );
        let mut market = crate::config::resolve_str(&text, Path::new("/etc/tickerfeed"))
            .unwrap()
            .market
            .unwrap();
        market.provider = provider.parse().unwrap();
        market.api_key = Some(Secret::new("k"));
        market
    }

    /// A key handed over keeps the plan's limits, and a reload to another
    /// plan takes up its limits with what the archive says was spent.
    #[tokio::test]
    async fn the_plan_holds_across_a_new_key_and_changes_with_a_reload() {
        let server = Loopback::start().await;
        let quote = fixture("finnhub/quote_full.json");
        server.serve("/api/v1/quote", 200, "application/json", &quote);
        let mut market = market_at(&server, "finnhub", r#""AAPL", "MSFT""#);
        let plan = |per_minute| crate::config::Plan {
            per_second: None,
            per_minute: Some(per_minute),
            per_day: None,
        };
        market.plan = Some(plan(1));
        let board = Board::new(
            market.clone(),
            reqwest::Client::new(),
            clock_at(DateTime::UNIX_EPOCH),
        );
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("a.db")).unwrap();
        let now = from_db_time("2026-06-15T15:00:00Z").unwrap();
        board.refresh(&store, now).await.unwrap();
        assert_eq!(server.requests().len(), 1);
        board.replace_api_key(Some(Secret::new("k2")));
        board
            .refresh(&store, now + TimeDelta::seconds(1))
            .await
            .unwrap();
        assert_eq!(
            server.requests().len(),
            1,
            "the new key's client kept to the plan"
        );
        market.plan = Some(plan(3));
        board.reconfigure(&market);
        board
            .refresh(&store, now + TimeDelta::seconds(2))
            .await
            .unwrap();
        assert_eq!(
            server.requests().len(),
            3,
            "the reload's plan allowed two more"
        );
    }

    /// Asserts that [`stale_when_fetched_at`] each case's time gives the
    /// case's verdict.
    async fn assert_stale_when_fetched_at(
        provider: Provider,
        payload: &str,
        symbol: &str,
        cases: &[(&str, bool)],
    ) {
        let times: Vec<&str> = cases.iter().map(|c| c.0).collect();
        let want: Vec<bool> = cases.iter().map(|c| c.1).collect();
        assert_eq!(
            stale_when_fetched_at(provider, payload, symbol, &times).await,
            want,
            "{payload} as {symbol}"
        );
    }

    /// An analyst's report: during trading hours the board showed a
    /// previous day's Stooq or Finnhub price as current, because it had
    /// just been fetched. Neither provider says a session; the payloads are
    /// the verbatim ones of market-providers.md §4.
    #[tokio::test]
    async fn a_previous_close_is_not_current_while_its_exchange_trades() {
        // t = 2020-02-25 14:30 UTC: that Tuesday's NYSE open (09:30 EST).
        let finnhub = [
            ("2020-02-25T15:00:00Z", false),
            // After the close, and before Wednesday's open (08:00 EST):
            // the last price is the price.
            ("2020-02-25T22:00:00Z", false),
            ("2020-02-26T13:00:00Z", false),
            // Wednesday, open: Tuesday's price is not current.
            ("2020-02-26T15:00:00Z", true),
            // Saturday: Tuesday's price, from before Friday's session.
            ("2020-02-29T15:00:00Z", true),
        ];
        assert_stale_when_fetched_at(FINNHUB, "finnhub/quote_full.json", r#""AAPL""#, &finnhub)
            .await;
        // 2026-10-02 22:00 Warsaw time: that Friday's close (16:00 EDT).
        let stooq = [
            ("2026-10-02T21:00:00Z", false),
            // Saturday: Friday's close is the latest price there is.
            ("2026-10-03T15:00:00Z", false),
            // Monday, 08:00 EDT and 10:00 EDT.
            ("2026-10-05T12:00:00Z", false),
            ("2026-10-05T14:00:00Z", true),
        ];
        assert_stale_when_fetched_at(
            STOOQ,
            "stooq/quote_mixed.csv",
            r#"{ symbol = "AAPL", provider_symbol = "aapl.us" }"#,
            &stooq,
        )
        .await;
    }

    /// A symbol of a market no calendar here knows is not judged by New
    /// York's: Tokyo's last price is from before every New York open, and
    /// would read stale all through New York's session. (The quote is
    /// Yahoo's VOD.L payload, asked for as Toyota: only the symbol's
    /// spelling matters here.)
    #[tokio::test]
    async fn a_symbol_of_an_unknown_market_is_not_judged_by_new_yorks_hours() {
        assert_eq!(
            stale_when_fetched_at(
                YAHOO,
                "yahoo/chart_VOD.L_pence.json",
                r#"{ symbol = "TM", provider_symbol = "7203.T" }"#,
                // Monday 2026-06-15, 11:00 in New York.
                &["2026-06-15T15:00:00Z"]
            )
            .await,
            [false]
        );
    }

    /// Alpha Vantage gives only a quote's trading day, which the board
    /// dates at that day's close on the exchange the config names: a
    /// symbol whose spelling shows no market (`RR1`), configured on
    /// London, is not dated at midnight UTC and shown stale all through
    /// the session its price is from.
    #[tokio::test]
    async fn a_trading_day_is_dated_on_the_configured_exchange() {
        assert_eq!(
            stale_when_fetched_at(
                ALPHA_VANTAGE,
                "alphavantage/global_quote_ibm.json",
                r#"{ symbol = "RR", provider_symbol = "RR1", exchange = "LSE" }"#,
                // Thursday 2025-11-06, the quote's own day: London has
                // traded since 08:00; then Friday, during its session.
                &["2025-11-06T15:00:00Z", "2025-11-07T09:00:00Z"]
            )
            .await,
            [false, true]
        );
    }

    /// The live board carries each instrument's configured exchange into
    /// what its strip judges by: Twelve Data's `BP`, configured on London,
    /// stale since Tuesday's close, is not "closed" at 10:00 UTC on
    /// Wednesday 21 September 2022, when London trades and New York does
    /// not yet (its plain spelling alone reads as a New York ticker).
    #[tokio::test]
    async fn a_stale_quote_on_the_board_is_judged_by_its_configured_exchange() {
        let server = Loopback::start().await;
        server.serve(
            "/quote",
            200,
            "application/json",
            br#"{"symbol":"BP","currency":"GBP","timestamp":1663703999,"close":"4.52","previous_close":"4.48","is_market_open":false}"#,
        );
        let market = market_at(
            &server,
            "twelvedata",
            r#"{ symbol = "BP", exchange = "LSE" }"#,
        );
        let board = Board::new(
            market,
            reqwest::Client::new(),
            clock_at(DateTime::UNIX_EPOCH),
        );
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("a.db")).unwrap();
        let fetched = from_db_time("2022-09-20T20:00:00Z").unwrap();
        let report = board.refresh(&store, fetched).await.unwrap();
        assert_eq!(report.ok, 1, "{:?}", report.failed);

        let now = from_db_time("2022-09-21T10:00:00Z").unwrap();
        let view = board.view(now).unwrap();
        let quote = &view.quotes[0].1;
        assert_eq!(quote.exchange.as_deref(), Some("LSE"));
        assert!(quote.stale && quote.session == "closed", "{quote:?}");
        let strip = crate::render::strip::strip_html(&crate::model::Snapshot {
            label: view.label,
            taken_at: now,
            quotes: view.quotes.into_iter().map(|(_, q)| q).collect(),
        });
        assert!(!strip.contains("closed"), "{strip}");
        assert!(strip.contains("(stale)<br/>last price "), "{strip}");
    }

    /// A provider that falls hours behind during the session (its own time
    /// says so) is stale however recently it was asked; a price trailing
    /// by the 15 minutes free data is delayed is not.
    #[tokio::test]
    async fn a_price_hours_behind_is_stale_while_its_exchange_trades() {
        // Finnhub's AAPL at Tuesday 2020-02-25 14:30 UTC (09:30 EST); the
        // board refreshes every 5 minutes, so `stale_after` is 15 minutes.
        let finnhub = [
            // 20 minutes behind: within 15 minutes past the usual delay.
            ("2020-02-25T14:50:00Z", false),
            // 3 h 30 behind, the same session.
            ("2020-02-25T18:00:00Z", true),
            // After the close the last price is the price.
            ("2020-02-25T22:00:00Z", false),
        ];
        assert_stale_when_fetched_at(FINNHUB, "finnhub/quote_full.json", r#""AAPL""#, &finnhub)
            .await;
        // Alpha Vantage's delayed wrapper: 15 minutes behind, all session.
        assert_stale_when_fetched_at(
            ALPHA_VANTAGE,
            "alphavantage/delayed_wrapper.json",
            r#""IBM""#,
            &[
                ("2025-11-06T15:00:00Z", false),
                ("2025-11-06T20:30:00Z", false),
            ],
        )
        .await;
    }

    /// A fund's NAV is struck once a day, after the close: Tuesday's
    /// (published Tuesday evening, 20:08 in New York) is the latest there
    /// is all through Wednesday, until Wednesday's is due (22:00 in New
    /// York), and stale after. Before, it read stale all of Wednesday's
    /// session.
    #[tokio::test]
    async fn a_funds_nav_is_current_until_it_misses_a_day() {
        let fund = [
            ("2026-09-30T15:00:00Z", false),
            ("2026-09-30T23:00:00Z", false),
            ("2026-10-01T01:59:59Z", false),
            ("2026-10-01T02:00:00Z", true),
            ("2026-10-01T12:00:00Z", true),
        ];
        assert_stale_when_fetched_at(
            YAHOO,
            "yahoo/chart_FXAIX_fund_derived.json",
            r#"{ symbol = "FXAIX", daily = true }"#,
            &fund,
        )
        .await;
    }

    /// Yahoo's FXAIX NAV, dated `as_of` (an RFC 3339 instant) instead of
    /// Tuesday 2026-09-29 20:08 in New York.
    fn fund_nav_dated(as_of: &str) -> Vec<u8> {
        let epoch = from_db_time(as_of).unwrap().timestamp();
        let text = String::from_utf8(fixture("yahoo/chart_FXAIX_fund_derived.json")).unwrap();
        let dated = text.replace("1790726907", &epoch.to_string());
        assert_ne!(dated, text, "the capture's time moved");
        dated.into_bytes()
    }

    /// Over a weekend a NAV that missed a day is caught on Friday evening,
    /// not on Monday's open: Thursday's is stale on Saturday when Friday's
    /// never came, while Friday's is current all weekend and on Monday
    /// until Monday's is due. Before, Thursday's read current until
    /// Monday's open.
    #[tokio::test]
    async fn a_nav_that_missed_friday_is_stale_over_the_weekend() {
        let cases = [
            // Thursday 2026-10-01's NAV (20:08 in New York), then Friday's.
            (
                "2026-10-02T00:08:00Z",
                [
                    // Friday 21:59 and 22:00 in New York, Saturday noon.
                    ("2026-10-03T01:59:00Z", false),
                    ("2026-10-03T02:00:00Z", true),
                    ("2026-10-03T16:00:00Z", true),
                ],
            ),
            (
                "2026-10-03T00:08:00Z",
                [
                    // Saturday and Sunday noon, Monday 09:00 in New York.
                    ("2026-10-03T16:00:00Z", false),
                    ("2026-10-04T16:00:00Z", false),
                    ("2026-10-05T13:00:00Z", false),
                ],
            ),
        ];
        for (as_of, times) in cases {
            let (at, want): (Vec<&str>, Vec<bool>) = times.into_iter().unzip();
            let fund = r#"{ symbol = "FXAIX", daily = true }"#;
            assert_eq!(
                stale_when_served(YAHOO, &fund_nav_dated(as_of), fund, &at).await,
                want,
                "NAV of {as_of}"
            );
        }
    }

    /// A holiday Monday publishes no NAV: Friday's stays current until
    /// Tuesday's is due. Labor Day 2026 is Monday 7 September.
    #[tokio::test]
    async fn a_holiday_monday_does_not_make_fridays_nav_stale() {
        assert_eq!(
            stale_when_served(
                YAHOO,
                // Friday 2026-09-04, 20:08 in New York.
                &fund_nav_dated("2026-09-05T00:08:00Z"),
                r#"{ symbol = "FXAIX", daily = true }"#,
                // Monday 23:00 and Tuesday 21:00 in New York; Tuesday 22:00.
                &[
                    "2026-09-08T03:00:00Z",
                    "2026-09-09T01:00:00Z",
                    "2026-09-09T02:00:00Z"
                ]
            )
            .await,
            [false, false, true]
        );
    }

    /// A half day does not bring a US NAV's deadline forward: on the day
    /// after Thanksgiving (Friday 2026-11-27, New York closes at 13:00)
    /// funds publish at the usual hour, so Wednesday's NAV (the holiday
    /// has none) is current that evening until 22:00 in New York, as after
    /// a full day. Before, it read stale from 19:00.
    #[tokio::test]
    async fn a_half_day_does_not_make_the_last_nav_stale_before_the_evening() {
        assert_eq!(
            stale_when_served(
                YAHOO,
                // Wednesday 2026-11-25, 20:08 in New York.
                &fund_nav_dated("2026-11-26T01:08:00Z"),
                r#"{ symbol = "FXAIX", daily = true }"#,
                // Friday 19:00, 20:30 and 21:59 in New York; 22:00.
                &[
                    "2026-11-28T00:00:00Z",
                    "2026-11-28T01:30:00Z",
                    "2026-11-28T02:59:00Z",
                    "2026-11-28T03:00:00Z"
                ]
            )
            .await,
            [false, false, false, true]
        );
    }

    /// A London fund publishes a day's NAV the next morning, dated the day
    /// it values: Tuesday's, out on Wednesday at 08:00 in London, is the
    /// latest there is all Wednesday, overnight and on Thursday morning
    /// until Wednesday's is due (10:00 in London), and stale after. Before,
    /// it read stale from 22:30 on Wednesday, six hours after London's
    /// close, until Wednesday's came.
    #[tokio::test]
    async fn a_london_funds_nav_is_current_until_the_next_morning() {
        let fund = [
            // Wednesday 08:00 and 23:00 in London; Thursday 07:00 and 09:59.
            ("2026-09-30T07:00:00Z", false),
            ("2026-09-30T22:00:00Z", false),
            ("2026-10-01T06:00:00Z", false),
            ("2026-10-01T08:59:00Z", false),
            // Thursday 10:00.
            ("2026-10-01T09:00:00Z", true),
        ];
        assert_stale_when_fetched_at(
            YAHOO,
            "yahoo/chart_0P0000TKZO.L_fund_derived.json",
            r#""0P0000TKZO.L""#,
            &fund,
        )
        .await;
    }

    /// A restart seeds the board from the archive: a fund Yahoo said is one
    /// (`MUTUALFUND`, no `daily` in the config) is judged by its day before
    /// the first refresh too. Before, its NAV read stale all through the
    /// session until a refresh brought Yahoo's word again.
    #[tokio::test]
    async fn a_fund_seeded_from_the_archive_is_still_judged_by_its_day() {
        let server = Loopback::start().await;
        let (_, path, content_type) = YAHOO;
        let payload = fixture("yahoo/chart_FXAIX_fund_derived.json");
        server.serve(path, 200, content_type, &payload);
        let market = market_at(&server, YAHOO.0, r#""FXAIX""#);
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("a.db");
        // Wednesday 2026-09-30, 10:55 and 11:00 in New York: New York
        // trades, and Tuesday's NAV is the latest there is.
        let (fetched, now) = (
            from_db_time("2026-09-30T14:55:00Z").unwrap(),
            from_db_time("2026-09-30T15:00:00Z").unwrap(),
        );
        {
            let store = Store::open(&db).unwrap();
            let board = Board::new(market.clone(), reqwest::Client::new(), clock_at(fetched));
            assert_eq!(board.refresh(&store, fetched).await.unwrap().ok, 1);
        }
        let store = Store::open(&db).unwrap();
        let restarted = Board::new(market, reqwest::Client::new(), clock_at(fetched));
        restarted.seed(&store).await.unwrap();
        let view = restarted.view(now).unwrap();
        assert_eq!(view.quotes[0].1.symbol, "FXAIX");
        assert!(!view.quotes[0].1.stale, "{:?}", view.quotes[0].1);
    }

    /// Yahoo says when an instrument is a fund (`instrumentType`
    /// `MUTUALFUND`): its NAV is judged by its day without `daily` in the
    /// config. An equity is not.
    #[tokio::test]
    async fn yahoo_says_which_prices_are_a_funds_nav() {
        assert_stale_when_fetched_at(
            YAHOO,
            "yahoo/chart_FXAIX_fund_derived.json",
            r#""FXAIX""#,
            &[
                ("2026-09-30T15:00:00Z", false),
                ("2026-10-01T15:00:00Z", true),
            ],
        )
        .await;
        // The verbatim AAPL chart (EQUITY, 14:32 UTC): a day later, while
        // New York trades, it is a previous session's price.
        assert_stale_when_fetched_at(
            YAHOO,
            "yahoo/chart_AAPL_range5d.json",
            r#""AAPL""#,
            &[
                ("2026-07-24T14:40:00Z", false),
                ("2026-07-27T15:00:00Z", true),
            ],
        )
        .await;
    }

    /// The session that counts is the one of the quote's own exchange:
    /// London opens hours before New York.
    #[tokio::test]
    async fn the_session_is_the_one_of_the_quotes_exchange() {
        // Yahoo's VOD.L without trading periods (no session): Friday
        // 2026-06-12 19:05 London time, after the close. On Monday London
        // opens at 08:00 (07:00 UTC).
        let london = [
            ("2026-06-15T06:30:00Z", false),
            ("2026-06-15T09:00:00Z", true),
        ];
        assert_stale_when_fetched_at(YAHOO, "yahoo/chart_VOD.L_pence.json", r#""VOD.L""#, &london)
            .await;
        // Friday's New York close at Monday 09:00 UTC: London trades, New
        // York does not yet.
        assert_eq!(
            stale_when_fetched_at(
                STOOQ,
                "stooq/quote_mixed.csv",
                r#"{ symbol = "AAPL", provider_symbol = "aapl.us" }"#,
                &["2026-10-05T09:00:00Z"]
            )
            .await,
            [false]
        );
    }
}
