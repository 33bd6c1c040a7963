//! The thin HTTP layer shared by all quote providers.
//!
//! Owns [`ProviderClient`]: it splits the requested symbols into requests
//! (batches for Twelve Data and Stooq, one symbol at a time otherwise), asks
//! the provider's [`Budget`] before each request, sends it, reads a capped
//! body and hands status, content type and body to the provider's pure
//! `parse`. It maps the results back to *our* symbols and hands them to the
//! board refresher.
//!
//! It never sleeps and never retries: a request the budget or a cooldown
//! holds back comes back as [`QuoteError::BudgetExhausted`] (or
//! [`QuoteError::Paused`], with the cause), and a rate-limit
//! answer starts a cooldown, so the board refresh finishes at once and
//! keeps its last good quotes. Every URL that reaches a log line or an
//! error is redacted.
//!
//! A client given the archive ([`ProviderClient::keep_ledger_in`]) keeps
//! the budget there, so every process on it (the daemon, `tickerfeed
//! quotes` from cron, a `poll`) spends one budget and honours one
//! cooldown: each spend is checked and recorded in one transaction, each
//! cooldown and good answer written as it comes. Should the archive fail,
//! the client keeps to its own process's budget meanwhile. A spend is
//! timed as its request is decided and a cooldown from its answer's
//! arrival, by the process's clock ([`ProviderClient::with_clock`]), as
//! the provider counts them, not by when the refresh began.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::Duration as StdDuration;

use chrono::{DateTime, Utc};
use reqwest::header::{CONTENT_TYPE, HeaderMap, RETRY_AFTER};
use tracing::{debug, warn};
use url::Url;

use super::history::{Bars, Interval, offers_history};
use super::{Budget, QuoteError, alphavantage, finnhub, redact, stooq, twelvedata, yahoo};
use crate::clock::SharedClock;
use crate::config::Secret;
use crate::link::BLANK;
use crate::model::{ProviderKind, Quote};
use crate::politeness::parse_retry_after;
use crate::store::{LedgerChange, Store};

/// Sent to Yahoo and Stooq, which block clients that do not look like a
/// browser (reqwest sends no User-Agent at all by default).
pub const BROWSER_USER_AGENT: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0.0.0 Safari/537.36";

/// A quote reply is a few kB; anything much larger is not what we asked for.
const MAX_BODY_BYTES: usize = 1 << 20;

/// Per request, whatever the shared client's own timeout: a hung provider
/// must not hold up the board refresh.
const REQUEST_TIMEOUT: StdDuration = StdDuration::from_secs(15);

/// One request as a provider module shapes it.
#[derive(Debug)]
pub(crate) struct ProviderRequest {
    pub url: Url,
    pub headers: HeaderMap,
}

/// An answer as it arrived, before a provider's `parse` reads it.
struct Reply {
    status: u16,
    content_type: Option<String>,
    retry_after: Option<StdDuration>,
    body: Vec<u8>,
}

/// Result per symbol, in the order requested.
pub type QuoteResults = Vec<(String, Result<Quote, QuoteError>)>;

/// One instrument to quote: our symbol, the provider's, and the exchange
/// its config names, if any (a provider that gives only a quote's trading
/// day dates it by that exchange's close).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    pub symbol: String,
    pub provider_symbol: String,
    pub exchange: Option<String>,
}

/// A blank key (an empty variable) is no key.
fn usable(api_key: Option<Secret>) -> Option<Secret> {
    api_key.filter(|k| !k.expose().trim().is_empty())
}

/// One provider, with its endpoint, key and budget.
#[derive(Debug)]
pub struct ProviderClient {
    kind: ProviderKind,
    base_url: Url,
    api_key: Option<Secret>,
    http: reqwest::Client,
    // A std mutex: it is never held across an `.await`.
    budget: Mutex<Budget>,
    /// Where the budget is shared with other processes, once given.
    archive: OnceLock<Store>,
    /// Read as each request is decided and each answer arrives
    /// ([`ProviderClient::at`]); without one, a refresh's own time.
    clock: Option<SharedClock>,
}

impl ProviderClient {
    /// `base_url` defaults to the provider's real host; tests point it at
    /// `http://127.0.0.1:PORT`. The budget starts at the free tier
    /// ([`Budget::free_tier`]); see [`ProviderClient::with_budget`].
    pub fn new(
        kind: ProviderKind,
        base_url: Option<Url>,
        api_key: Option<Secret>,
        http: reqwest::Client,
    ) -> Self {
        ProviderClient {
            kind,
            base_url: base_url.unwrap_or_else(|| default_base_url(kind)),
            api_key: usable(api_key),
            http,
            budget: Mutex::new(Budget::free_tier(kind)),
            archive: OnceLock::new(),
            clock: None,
        }
    }

    /// Counts its spends as each request is decided and its pauses from
    /// when the answer that asked for one came, by `clock`.
    pub fn with_clock(self, clock: SharedClock) -> Self {
        ProviderClient {
            clock: Some(clock),
            ..self
        }
    }

    /// The time now, for a refresh that began at `began`: a spend is
    /// counted when its request is decided and a pause from when the
    /// answer that asked for it arrived, as the provider counts them, not
    /// from the refresh's start (a refresh of many symbols asks one after
    /// another, and a slow answer's `Retry-After` would end early by as
    /// long as it took).
    fn at(&self, began: DateTime<Utc>) -> DateTime<Utc> {
        self.clock.as_ref().map_or(began, |c| c.now().max(began))
    }

    /// From now on keeps the budget in `store`'s ledger of this provider
    /// at this endpoint, shared with every process on it (module doc).
    pub fn keep_ledger_in(&self, store: &Store) {
        let _ = self.archive.set(store.clone());
    }

    /// The ledger's key: the provider and its endpoint, secrets blanked.
    fn ledger_key(&self) -> (String, String) {
        (
            self.kind.as_str().to_string(),
            redact(self.base_url.as_str()),
        )
    }

    /// Takes what the archive's ledger says was spent and whether a
    /// cooldown runs (another process's included), before deciding how
    /// to split a refresh into requests.
    async fn load_ledger(&self, now: DateTime<Utc>) {
        let Some(store) = self.archive.get() else {
            return;
        };
        let (provider, endpoint) = self.ledger_key();
        let since = self.budget().since(now);
        match store.provider_ledger(provider, endpoint, since).await {
            Ok(ledger) => self.budget().load(&ledger),
            Err(err) => self.ledger_failed(&err),
        }
    }

    fn ledger_failed(&self, err: &crate::store::StoreError) {
        warn!(provider = %self.kind, error = %crate::cause::chain(err), "could not keep the provider's budget in the archive; keeping to this process's own meanwhile");
    }

    /// Runs `f` on the budget and returns what it returns: with an
    /// archive, on the archive's ledger inside one transaction (so no
    /// other process spends in between), writing the change `f` returns;
    /// without one, or when the archive fails, on this process's own.
    async fn on_budget<T, F>(&self, now: DateTime<Utc>, f: F) -> T
    where
        F: Fn(&mut Budget) -> (LedgerChange, T) + Clone + Send + 'static,
        T: Send + 'static,
    {
        if let Some(store) = self.archive.get() {
            let (provider, endpoint) = self.ledger_key();
            let mut budget = self.budget().clone();
            let since = budget.since(now);
            let decide = f.clone();
            let done = store
                .change_provider_ledger(provider, endpoint, since, move |ledger| {
                    budget.load(&ledger);
                    let (change, out) = decide(&mut budget);
                    (change, (budget, out))
                })
                .await;
            match done {
                Ok((budget, out)) => {
                    *self.budget() = budget;
                    return out;
                }
                Err(err) => self.ledger_failed(&err),
            }
        }
        f(&mut self.budget()).1
    }

    /// Spends `cost` credits as `try_spend` decides on the budget (all
    /// of it, or only spare credits), or says why not (nothing spent).
    async fn spend<F>(&self, cost: u32, now: DateTime<Utc>, try_spend: F) -> Result<(), QuoteError>
    where
        F: Fn(&mut Budget) -> Result<(), QuoteError> + Clone + Send + 'static,
    {
        self.on_budget(now, move |budget| {
            let spent = try_spend(budget);
            let change = LedgerChange {
                spend: spent.is_ok().then_some((now, cost)),
                ..LedgerChange::default()
            };
            (change, spent)
        })
        .await
    }

    /// Starts a cooldown after a rate-limit answer (`why`), in every
    /// process's budget; returns its end.
    async fn cool_down(
        &self,
        retry_after: Option<StdDuration>,
        why: String,
        now: DateTime<Utc>,
    ) -> DateTime<Utc> {
        self.on_budget(now, move |budget| {
            let until = budget.cool_down(retry_after, &why, now);
            let change = LedgerChange {
                pause: budget.cooling_why(now).map(|why| (until, why.to_string())),
                strikes: Some(budget.strikes()),
                ..LedgerChange::default()
            };
            (change, until)
        })
        .await
    }

    /// A good answer: the next cooldown starts from the default again.
    async fn record_success(&self, now: DateTime<Utc>) {
        if self.budget().strikes() == 0 {
            return;
        }
        self.on_budget(now, |budget| {
            budget.record_success();
            let change = LedgerChange {
                strikes: Some(0),
                ..LedgerChange::default()
            };
            (change, ())
        })
        .await
    }

    /// Whether this client asks `kind` at `base_url` (as
    /// [`ProviderClient::new`] would take it: none is the provider's own).
    pub fn asks(&self, kind: ProviderKind, base_url: Option<&Url>) -> bool {
        self.kind == kind
            && match base_url {
                Some(url) => *url == self.base_url,
                None => self.base_url == default_base_url(kind),
            }
    }

    /// Whether requests go out with `api_key` (as [`ProviderClient::new`]
    /// would take it: a blank key is no key).
    pub fn sends_api_key(&self, api_key: Option<&Secret>) -> bool {
        self.api_key == usable(api_key.cloned())
    }

    /// Replaces the free-tier budget, for paid plans.
    pub fn with_budget(self, budget: Budget) -> Self {
        ProviderClient {
            budget: Mutex::new(budget),
            ..self
        }
    }

    pub fn kind(&self) -> ProviderKind {
        self.kind
    }

    pub fn base_url(&self) -> &Url {
        &self.base_url
    }

    /// The end of the current cooldown, if any: the refresher can skip this
    /// provider without calling [`ProviderClient::fetch`].
    pub fn cooling_until(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.budget().cooling_until(now)
    }

    /// Credits left right now (0 while cooling down).
    pub fn available(&self, now: DateTime<Utc>) -> u32 {
        self.budget().available(now)
    }

    fn budget(&self) -> std::sync::MutexGuard<'_, Budget> {
        // A poisoned lock means a panic while counting; the counters are
        // still consistent enough to keep limiting requests.
        self.budget.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Quotes for `symbols`. Returns one result per instrument, in order,
    /// keyed by our symbol. Partial success is normal: each symbol carries
    /// its own error.
    pub async fn fetch(&self, symbols: &[Wanted], now: DateTime<Utc>) -> QuoteResults {
        let mut wanted: Vec<String> = Vec::new();
        // A provider symbol is asked once; the first instrument's exchange
        // dates its quote.
        let mut exchanges: HashMap<&str, Option<&str>> = HashMap::new();
        for w in symbols {
            if !wanted.contains(&w.provider_symbol) {
                wanted.push(w.provider_symbol.clone());
                exchanges.insert(&w.provider_symbol, w.exchange.as_deref());
            }
        }
        let mut by_provider_symbol: HashMap<String, Result<Quote, QuoteError>> = HashMap::new();

        if self.kind.needs_api_key() && self.api_key.is_none() {
            for s in wanted.drain(..) {
                by_provider_symbol.insert(s, Err(QuoteError::Unauthorized));
            }
        }

        self.load_ledger(now).await;
        let mut rest = &wanted[..];
        while !rest.is_empty() {
            let asked_at = self.at(now);
            let mut len = rest.len().min(self.kind.max_batch());
            if self.kind.charges_per_symbol() {
                let mut budget = self.budget();
                let affordable = budget
                    .available(asked_at)
                    .min(budget.max_burst().unwrap_or(u32::MAX));
                len = len.min(usize::try_from(affordable).unwrap_or(usize::MAX).max(1));
            }
            let (chunk, tail) = rest.split_at(len);
            let cost = if self.kind.charges_per_symbol() {
                u32::try_from(len).unwrap_or(u32::MAX)
            } else {
                1
            };
            if let Err(err) = self
                .spend(cost, asked_at, move |b| b.try_spend(cost, asked_at))
                .await
            {
                debug!(provider = %self.kind, symbols = rest.len(), error = %err, "quote request held back");
                for s in rest {
                    by_provider_symbol.insert(s.clone(), Err(err.clone()));
                }
                break;
            }
            rest = tail;

            let results = self.request(chunk, &exchanges, now).await;
            let mut stop = None;
            // The wait asked for (the header's, if any answer gave one)
            // and the first answer that asked.
            let mut limited: Option<(Option<StdDuration>, String)> = None;
            for (_, r) in &results {
                match r {
                    Err(e @ QuoteError::RateLimited { retry_after }) => {
                        let (wait, _) = limited.get_or_insert_with(|| (None, e.pause_cause()));
                        *wait = wait.or(*retry_after);
                    }
                    Err(e @ QuoteError::Blocked) => {
                        limited.get_or_insert_with(|| (None, e.pause_cause()));
                    }
                    // The key is wrong for every symbol: stop spending requests.
                    Err(QuoteError::Unauthorized) => stop = Some(QuoteError::Unauthorized),
                    _ => {}
                }
            }
            let answered_at = self.at(now);
            match limited {
                Some((retry_after, why)) => {
                    let until = self.cool_down(retry_after, why, answered_at).await;
                    debug!(provider = %self.kind, %until, "provider cooling down");
                }
                // Only an answer from the provider resets the back-off.
                None if results
                    .iter()
                    .any(|(_, r)| !matches!(r, Err(QuoteError::Transport(_)))) =>
                {
                    self.record_success(answered_at).await
                }
                None => {}
            }
            debug!(provider = %self.kind, symbols = chunk.len(), credits = cost, "quote request done");
            by_provider_symbol.extend(results);
            if let Some(err) = stop {
                for s in rest {
                    by_provider_symbol.insert(s.clone(), Err(err.clone()));
                }
                break;
            }
        }

        symbols
            .iter()
            .map(
                |Wanted {
                     symbol: ours,
                     provider_symbol: theirs,
                     ..
                 }| {
                    let result = by_provider_symbol
                        .get(theirs)
                        .cloned()
                        .unwrap_or_else(|| {
                            Err(QuoteError::Malformed(format!("no result for {theirs}")))
                        })
                        .map(|mut q| {
                            q.symbol = ours.clone();
                            q
                        });
                    (ours.clone(), result)
                },
            )
            .collect()
    }

    /// Past prices of one provider symbol: bars of `interval` between
    /// `from` and `to` (see [`history`](super::history)). One request, one
    /// credit, spent only if every budget window keeps `reserve` credits
    /// (and at least half of itself) for the board afterwards
    /// ([`Budget::try_spend_spare`]): backfill can wait, the board cannot.
    /// A rate-limit answer cools the provider down for the board too, as
    /// it should: the provider counts both against the same key.
    /// Providers without history answer `NotEntitled` without a request.
    pub async fn fetch_history(
        &self,
        provider_symbol: &str,
        interval: Interval,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        reserve: u32,
        now: DateTime<Utc>,
    ) -> Result<Bars, QuoteError> {
        if !offers_history(self.kind) {
            return Err(QuoteError::NotEntitled);
        }
        if self.kind.needs_api_key() && self.api_key.is_none() {
            return Err(QuoteError::Unauthorized);
        }
        let asked_at = self.at(now);
        self.load_ledger(asked_at).await;
        self.spend(1, asked_at, move |b| {
            b.try_spend_spare(1, reserve, asked_at)
        })
        .await?;
        let key = self.api_key.as_ref();
        let req = match self.kind {
            ProviderKind::Yahoo => {
                yahoo::history_request(&self.base_url, provider_symbol, interval, from, to)
            }
            ProviderKind::TwelveData => twelvedata::history_request(
                &self.base_url,
                key,
                provider_symbol,
                interval,
                from,
                to,
            ),
            _ => finnhub::history_request(&self.base_url, key, provider_symbol, interval, from, to),
        };
        let reply = self.send(req, now).await?;
        let answered_at = self.at(now);
        let ct = reply.content_type.as_deref();
        let result = self.keyless(match self.kind {
            ProviderKind::Yahoo => yahoo::parse_history(reply.status, ct, &reply.body),
            ProviderKind::TwelveData => twelvedata::parse_history(reply.status, ct, &reply.body),
            _ => finnhub::parse_history(reply.status, ct, &reply.body),
        });
        match result {
            Err(QuoteError::RateLimited { retry_after }) => {
                let retry_after = retry_after.or(reply.retry_after);
                let err = QuoteError::RateLimited { retry_after };
                self.cool_down(retry_after, err.pause_cause(), answered_at)
                    .await;
                Err(err)
            }
            Err(QuoteError::Blocked) => {
                self.cool_down(None, QuoteError::Blocked.pause_cause(), answered_at)
                    .await;
                Err(QuoteError::Blocked)
            }
            other => {
                self.record_success(answered_at).await;
                other
            }
        }
    }

    /// One HTTP request for `chunk` (provider symbols, placed on the
    /// `exchanges` their config names); one result per symbol.
    async fn request(
        &self,
        chunk: &[String],
        exchanges: &HashMap<&str, Option<&str>>,
        now: DateTime<Utc>,
    ) -> QuoteResults {
        let key = self.api_key.as_ref();
        let req = match self.kind {
            ProviderKind::Yahoo => yahoo::request(&self.base_url, &chunk[0]),
            ProviderKind::Finnhub => finnhub::request(&self.base_url, key, &chunk[0]),
            ProviderKind::TwelveData => twelvedata::request(&self.base_url, key, chunk),
            ProviderKind::Stooq => stooq::request(&self.base_url, key, chunk),
            ProviderKind::AlphaVantage => alphavantage::request(&self.base_url, key, &chunk[0]),
        };
        let all = |err: QuoteError| -> QuoteResults {
            chunk
                .iter()
                .map(|s| (s.clone(), Err(err.clone())))
                .collect()
        };
        let reply = match self.send(req, now).await {
            Ok(reply) => reply,
            Err(err) => return all(err),
        };
        let Reply {
            status,
            content_type,
            retry_after,
            body,
        } = reply;

        let ct = content_type.as_deref();
        // The parsers read a stranger's bytes: should one still panic, that
        // is this request's malformed answer, not the end of the board's
        // refresh task.
        let kind = self.kind;
        let parsed = std::panic::catch_unwind(|| match kind {
            ProviderKind::Yahoo => vec![(
                chunk[0].clone(),
                yahoo::parse(status, ct, &body, &chunk[0], now),
            )],
            ProviderKind::Finnhub => vec![(
                chunk[0].clone(),
                finnhub::parse(status, ct, &body, &chunk[0], now),
            )],
            ProviderKind::AlphaVantage => vec![(
                chunk[0].clone(),
                alphavantage::parse(
                    status,
                    ct,
                    &body,
                    &chunk[0],
                    exchanges.get(chunk[0].as_str()).copied().flatten(),
                    now,
                ),
            )],
            ProviderKind::TwelveData => twelvedata::parse(status, ct, &body, chunk, now),
            ProviderKind::Stooq => stooq::parse(status, ct, &body, chunk, now),
        });
        let Ok(results) = parsed else {
            return all(QuoteError::Malformed(
                "the answer could not be read (the parser failed on it)".into(),
            ));
        };
        results
            .into_iter()
            .map(|(symbol, result)| {
                let result = match self.keyless(result) {
                    // The pure parsers never see headers; the header's wait
                    // wins over none.
                    Err(QuoteError::RateLimited { retry_after: None }) if retry_after.is_some() => {
                        Err(QuoteError::RateLimited { retry_after })
                    }
                    other => other,
                };
                (symbol, result)
            })
            .collect()
    }

    /// Sends one request and reads its capped body. `Err` only for what
    /// happened before an answer: a transport failure or an oversized body.
    async fn send(&self, req: ProviderRequest, now: DateTime<Utc>) -> Result<Reply, QuoteError> {
        let shown_url = redact(req.url.as_str());
        let started = std::time::Instant::now();
        let response = match self
            .http
            .get(req.url)
            .headers(req.headers)
            .timeout(REQUEST_TIMEOUT)
            .send()
            .await
        {
            Ok(r) => r,
            Err(err) => {
                let err = self.transport_error(&err);
                debug!(provider = %self.kind, url = %shown_url, error = %err, "quote request failed");
                return Err(err);
            }
        };
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            // A date is as far off as it is from the answer's arrival.
            .and_then(|v| parse_retry_after(v, self.at(now)));
        let body = match read_capped(response, MAX_BODY_BYTES).await {
            Ok(body) => body,
            Err(BodyError::TooLarge) => {
                return Err(QuoteError::Malformed(format!(
                    "body larger than {MAX_BODY_BYTES} bytes"
                )));
            }
            Err(BodyError::Transport(err)) => return Err(self.transport_error(&err)),
        };
        debug!(
            provider = %self.kind,
            url = %shown_url,
            status,
            bytes = body.len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "quote response"
        );
        Ok(Reply {
            status,
            content_type,
            retry_after,
            body,
        })
    }

    /// reqwest's error text names the URL (key included) and hides the cause
    /// in `source()`: join the chain, then blank the key.
    fn transport_error(&self, err: &reqwest::Error) -> QuoteError {
        let mut text = err.to_string();
        let mut source = std::error::Error::source(err);
        while let Some(cause) = source {
            let cause_text = cause.to_string();
            if !text.contains(&cause_text) {
                text.push_str(": ");
                text.push_str(&cause_text);
            }
            source = cause.source();
        }
        QuoteError::Transport(self.without_key(&text))
    }

    /// `text` (an error's, a body's excerpt) with key parameters blanked
    /// ([`redact`]) and this client's own key blanked wherever it stands,
    /// in whatever form a provider echoed it.
    fn without_key(&self, text: &str) -> String {
        let text = redact(text);
        let Some(key) = &self.api_key else {
            return text;
        };
        let key = key.expose();
        let text = text.replace(key, BLANK);
        // An excerpt cut short ([`super::excerpt`]) may end inside the key.
        match (4..key.len())
            .rev()
            .filter_map(|n| key.get(..n))
            .find(|start| text.ends_with(start))
        {
            Some(start) => format!("{}{BLANK}", &text[..text.len() - start.len()]),
            None => text,
        }
    }

    /// A parser's `Malformed` excerpt comes from the provider's body, which
    /// may quote the request and its key back.
    fn keyless<T>(&self, result: Result<T, QuoteError>) -> Result<T, QuoteError> {
        result.map_err(|err| match err {
            QuoteError::Malformed(text) => QuoteError::Malformed(self.without_key(&text)),
            other => other,
        })
    }
}

/// The provider's real endpoint host.
pub fn default_base_url(kind: ProviderKind) -> Url {
    let base = match kind {
        ProviderKind::Yahoo => "https://query1.finance.yahoo.com/",
        ProviderKind::Finnhub => "https://finnhub.io/",
        ProviderKind::TwelveData => "https://api.twelvedata.com/",
        ProviderKind::Stooq => "https://stooq.com/",
        ProviderKind::AlphaVantage => "https://www.alphavantage.co/",
    };
    Url::parse(base).expect("constant URL")
}

/// `base` with `path` appended to its own path (so a base like
/// `http://127.0.0.1:8080/yahoo` works) and `query` as the whole query.
pub(crate) fn endpoint(base: &Url, path: &str, query: &str) -> Url {
    let mut url = base.clone();
    let joined = format!("{}{}", base.path().trim_end_matches('/'), path);
    url.set_path(&joined);
    url.set_query((!query.is_empty()).then_some(query));
    url.set_fragment(None);
    url
}

/// Appends `&apikey=KEY` for providers that only take the key in the
/// query string (Twelve Data, Stooq, Alpha Vantage). Such URLs go through
/// `redact` before they reach a log line or an error.
pub(crate) fn push_api_key(query: &mut String, api_key: Option<&Secret>) {
    if let Some(key) = api_key {
        query.push_str("&apikey=");
        query.push_str(&encode(key.expose(), b""));
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters and the
/// bytes in `keep` (`^GSPC` → `%5EGSPC`, `USDSGD=X` → `USDSGD%3DX`).
pub(crate) fn encode(text: &str, keep: &[u8]) -> String {
    let mut out = String::with_capacity(text.len());
    for &b in text.as_bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) || keep.contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

enum BodyError {
    TooLarge,
    Transport(reqwest::Error),
}

/// Counts bytes after decompression (reqwest decodes before handing out
/// chunks) and stops at `cap`.
async fn read_capped(mut response: reqwest::Response, cap: usize) -> Result<Vec<u8>, BodyError> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Transport)? {
        if body.len() + chunk.len() > cap {
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use crate::quotes::test_support::{at, dec, fixture};

    use chrono::Duration;

    use super::super::RateLimit;
    use super::super::loopback::Loopback;
    use super::*;
    use crate::model::Session;

    /// A reload that drops `base_url` goes back to the provider's own
    /// address, so the board needs a new client for it.
    #[test]
    fn a_client_asks_its_provider_at_its_endpoint() {
        let http = reqwest::Client::new();
        let local = Url::parse("http://127.0.0.1:9/").unwrap();
        let own = ProviderClient::new(ProviderKind::Finnhub, None, None, http.clone());
        assert!(own.asks(ProviderKind::Finnhub, None));
        assert!(own.asks(
            ProviderKind::Finnhub,
            Some(&default_base_url(ProviderKind::Finnhub))
        ));
        assert!(!own.asks(ProviderKind::Finnhub, Some(&local)));
        assert!(!own.asks(ProviderKind::Yahoo, None));
        let moved = ProviderClient::new(ProviderKind::Finnhub, Some(local.clone()), None, http);
        assert!(moved.asks(ProviderKind::Finnhub, Some(&local)));
        assert!(!moved.asks(ProviderKind::Finnhub, None));
        assert!(!moved.asks(ProviderKind::TwelveData, Some(&local)));
    }

    fn pairs(symbols: &[(&str, &str)]) -> Vec<Wanted> {
        symbols
            .iter()
            .map(|(a, b)| Wanted {
                symbol: a.to_string(),
                provider_symbol: b.to_string(),
                exchange: None,
            })
            .collect()
    }

    fn http() -> reqwest::Client {
        reqwest::Client::builder().build().unwrap()
    }

    const KEY: &str = "sk-test-5ecret";

    #[test]
    fn fetch_can_run_on_a_spawned_task() {
        fn assert_send<T: Send>(_: &T) {}
        let client = ProviderClient::new(ProviderKind::Yahoo, None, None, http());
        let symbols = pairs(&[("AAPL", "AAPL")]);
        assert_send(&client.fetch(&symbols, at(0)));
    }

    #[test]
    fn endpoints_keep_a_base_path_and_encode_symbols() {
        let base = Url::parse("http://127.0.0.1:9/prefix/").unwrap();
        let url = endpoint(&base, "/v8/finance/chart/%5EGSPC", "range=1d");
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:9/prefix/v8/finance/chart/%5EGSPC?range=1d"
        );
        assert_eq!(encode("USDSGD=X", b""), "USDSGD%3DX");
        assert_eq!(encode("aapl.us,^spx", b","), "aapl.us,%5Espx");
    }

    #[tokio::test]
    async fn finnhub_key_goes_in_the_header_not_the_url() {
        let server = Loopback::start().await;
        server.serve(
            "/api/v1/quote",
            200,
            "application/json",
            &fixture("finnhub/quote_full.json"),
        );
        let client = ProviderClient::new(
            ProviderKind::Finnhub,
            Some(server.base()),
            Some(Secret::new(KEY)),
            http(),
        );
        let out = client
            .fetch(&pairs(&[("AAPL", "AAPL")]), at(1_582_641_100))
            .await;

        let quote = out[0].1.as_ref().unwrap();
        assert_eq!(out[0].0, "AAPL");
        assert_eq!(quote.price, dec("311.51"));
        let reqs = server.requests();
        assert_eq!(reqs.len(), 1);
        assert_eq!(reqs[0].target, "/api/v1/quote?symbol=AAPL");
        assert!(!reqs[0].target.contains(KEY));
        assert_eq!(reqs[0].header("x-finnhub-token").as_deref(), Some(KEY));
    }

    #[tokio::test]
    async fn yahoo_sends_a_browser_user_agent_and_encodes_the_symbol() {
        let server = Loopback::start().await;
        server.serve(
            "/v8/finance/chart/",
            200,
            "application/json",
            &fixture("yahoo/chart_AAPL_range5d.json"),
        );
        let client = ProviderClient::new(ProviderKind::Yahoo, Some(server.base()), None, http());
        let out = client
            .fetch(
                &pairs(&[("AAPL", "AAPL"), ("SPX", "^GSPC")]),
                at(1_784_903_600),
            )
            .await;

        assert_eq!(out[0].1.as_ref().unwrap().price, dec("328.879"));
        let reqs = server.requests();
        let targets: Vec<_> = reqs.iter().map(|r| r.target.as_str()).collect();
        assert_eq!(
            targets,
            [
                "/v8/finance/chart/AAPL?range=1d&interval=1d",
                "/v8/finance/chart/%5EGSPC?range=1d&interval=1d",
            ]
        );
        for r in &reqs {
            let ua = r.header("user-agent").unwrap_or_default();
            assert!(ua.starts_with("Mozilla/5.0"), "{ua}");
        }
    }

    #[tokio::test]
    async fn rate_limit_with_retry_after_cools_the_provider_down() {
        let server = Loopback::start().await;
        server.serve_with_headers(
            "/api/v1/quote",
            429,
            &[("content-type", "application/json"), ("retry-after", "120")],
            &fixture("finnhub/rate_limit.json"),
        );
        let client = ProviderClient::new(
            ProviderKind::Finnhub,
            Some(server.base()),
            Some(Secret::new(KEY)),
            http(),
        );
        let t0 = at(1_790_000_000);
        let symbols = pairs(&[("AAPL", "AAPL"), ("BP", "BP")]);

        let first = client.fetch(&symbols, t0).await;
        assert_eq!(
            first[0].1,
            Err(QuoteError::RateLimited {
                retry_after: Some(StdDuration::from_secs(120))
            })
        );
        // The second symbol was not even asked for: the cooldown started.
        let until = t0 + Duration::seconds(120);
        let paused = QuoteError::Paused {
            until,
            why: "rate limited, Retry-After 120 s".into(),
        };
        assert_eq!(first[1].1, Err(paused.clone()));
        assert_eq!(server.requests().len(), 1);
        assert_eq!(client.cooling_until(t0), Some(until));

        let second = client.fetch(&symbols, t0 + Duration::seconds(30)).await;
        assert!(second.iter().all(|(_, r)| *r == Err(paused.clone())));
        assert_eq!(server.requests().len(), 1, "no request during the cooldown");

        server.serve(
            "/api/v1/quote",
            200,
            "application/json",
            &fixture("finnhub/quote_full.json"),
        );
        let third = client.fetch(&symbols[..1], until).await;
        assert!(third[0].1.is_ok());
        assert_eq!(server.requests().len(), 2);
    }

    #[tokio::test]
    async fn yahoo_edge_429_without_retry_after_cools_down_a_minute() {
        let server = Loopback::start().await;
        server.serve(
            "/v8/finance/chart/",
            429,
            "text/plain",
            &fixture("yahoo/edge_429.txt"),
        );
        let client = ProviderClient::new(ProviderKind::Yahoo, Some(server.base()), None, http());
        let t0 = at(1_790_000_000);
        let out = client.fetch(&pairs(&[("AAPL", "AAPL")]), t0).await;
        assert_eq!(out[0].1, Err(QuoteError::RateLimited { retry_after: None }));
        assert_eq!(client.cooling_until(t0), Some(t0 + Duration::seconds(60)));
    }

    #[tokio::test]
    async fn twelvedata_batches_symbols_and_charges_a_credit_each() {
        let server = Loopback::start().await;
        server.serve(
            "/quote",
            200,
            "application/json",
            &fixture("twelvedata/batch_aapl_hsi.json"),
        );
        let client = ProviderClient::new(
            ProviderKind::TwelveData,
            Some(server.base()),
            Some(Secret::new(KEY)),
            http(),
        );
        let now = at(1_663_704_100);
        let out = client
            .fetch(&pairs(&[("AAPL", "AAPL"), ("HSI", "HSI")]), now)
            .await;

        let reqs = server.requests();
        assert_eq!(reqs.len(), 1);
        assert_eq!(
            reqs[0].target,
            format!("/quote?symbol=AAPL,HSI&apikey={KEY}")
        );
        assert_eq!(out[0].1.as_ref().unwrap().price, dec("156.89999"));
        assert_eq!(out[1].1, Err(QuoteError::UnknownSymbol));
        assert_eq!(client.available(now), 6);
    }

    #[tokio::test]
    async fn twelvedata_splits_a_batch_to_the_credits_left() {
        let server = Loopback::start().await;
        server.serve(
            "/quote",
            200,
            "application/json",
            &fixture("twelvedata/quote_aapl.json"),
        );
        let client = ProviderClient::new(
            ProviderKind::TwelveData,
            Some(server.base()),
            Some(Secret::new(KEY)),
            http(),
        )
        .with_budget(Budget::new([RateLimit::per_minute(1)]));
        let now = at(1_663_704_100);
        let out = client
            .fetch(&pairs(&[("AAPL", "AAPL"), ("MSFT", "MSFT")]), now)
            .await;
        assert!(out[0].1.is_ok());
        assert_eq!(
            out[1].1,
            Err(QuoteError::BudgetExhausted {
                until: now + Duration::minutes(1)
            })
        );
        let targets: Vec<_> = server.requests().into_iter().map(|r| r.target).collect();
        assert_eq!(targets, [format!("/quote?symbol=AAPL&apikey={KEY}")]);
    }

    #[tokio::test]
    async fn twelvedata_rate_limit_in_a_200_body_cools_down() {
        let server = Loopback::start().await;
        server.serve(
            "/quote",
            200,
            "application/json",
            &fixture("twelvedata/rate_limit.json"),
        );
        let client = ProviderClient::new(
            ProviderKind::TwelveData,
            Some(server.base()),
            Some(Secret::new(KEY)),
            http(),
        );
        let now = at(1_790_000_000);
        let out = client
            .fetch(&pairs(&[("AAPL", "AAPL"), ("MSFT", "MSFT")]), now)
            .await;
        for (_, r) in &out {
            assert_eq!(*r, Err(QuoteError::RateLimited { retry_after: None }));
        }
        assert!(client.cooling_until(now).is_some());
    }

    #[tokio::test]
    async fn stooq_batches_with_a_browser_user_agent() {
        let server = Loopback::start().await;
        server.serve("/q/l/", 200, "text/csv", &fixture("stooq/quote_mixed.csv"));
        let client = ProviderClient::new(
            ProviderKind::Stooq,
            Some(server.base()),
            Some(Secret::new(KEY)),
            http(),
        );
        let out = client
            .fetch(
                &pairs(&[("AAPL", "aapl.us"), ("ZZZZ", "zzzz.us")]),
                at(1_790_000_000),
            )
            .await;

        let aapl = out[0].1.as_ref().unwrap();
        assert_eq!(
            (aapl.symbol.as_str(), aapl.provider_symbol.as_str()),
            ("AAPL", "aapl.us")
        );
        assert_eq!(aapl.price, dec("227.5"));
        assert_eq!(out[1].1, Err(QuoteError::UnknownSymbol));
        let reqs = server.requests();
        assert_eq!(reqs.len(), 1);
        assert_eq!(
            reqs[0].target,
            format!("/q/l/?s=aapl.us,zzzz.us&f=sd2t2ohlcvp&h&e=csv&apikey={KEY}")
        );
        assert!(
            reqs[0]
                .header("user-agent")
                .unwrap_or_default()
                .starts_with("Mozilla/5.0")
        );
    }

    #[tokio::test]
    async fn stooq_html_is_blocked_with_200_and_404() {
        for status in [200, 404] {
            let server = Loopback::start().await;
            server.serve(
                "/q/l/",
                status,
                "text/html",
                &fixture("stooq/apikey_or_challenge.html"),
            );
            let client =
                ProviderClient::new(ProviderKind::Stooq, Some(server.base()), None, http());
            let out = client
                .fetch(&pairs(&[("AAPL", "aapl.us")]), at(1_790_000_000))
                .await;
            assert_eq!(out[0].1, Err(QuoteError::Blocked), "{status}");
        }
    }

    #[tokio::test]
    async fn duplicate_provider_symbols_cost_one_request() {
        let server = Loopback::start().await;
        server.serve(
            "/query",
            200,
            "application/json",
            &fixture("alphavantage/global_quote_ibm.json"),
        );
        let client = ProviderClient::new(
            ProviderKind::AlphaVantage,
            Some(server.base()),
            Some(Secret::new(KEY)),
            http(),
        );
        let out = client
            .fetch(
                &pairs(&[("IBM", "IBM"), ("XNYS:IBM", "IBM")]),
                at(1_790_000_000),
            )
            .await;
        assert_eq!(server.requests().len(), 1);
        assert_eq!(out[1].0, "XNYS:IBM");
        assert_eq!(out[1].1.as_ref().unwrap().symbol, "XNYS:IBM");
        assert_eq!(out[1].1.as_ref().unwrap().session, Session::Closed);
    }

    #[tokio::test]
    async fn alpha_vantage_budget_stops_requests() {
        let server = Loopback::start().await;
        server.serve(
            "/query",
            200,
            "application/json",
            &fixture("alphavantage/global_quote_ibm.json"),
        );
        let client = ProviderClient::new(
            ProviderKind::AlphaVantage,
            Some(server.base()),
            Some(Secret::new(KEY)),
            http(),
        )
        .with_budget(Budget::new([RateLimit::per_day(1)]));
        let now = at(1_790_000_000);
        let out = client
            .fetch(&pairs(&[("IBM", "IBM"), ("MSFT", "MSFT")]), now)
            .await;
        assert!(out[0].1.is_ok());
        assert_eq!(
            out[1].1,
            Err(QuoteError::BudgetExhausted {
                until: now + Duration::days(1)
            })
        );
        assert_eq!(server.requests().len(), 1);
        assert_eq!(
            server.requests()[0].target,
            format!("/query?function=GLOBAL_QUOTE&symbol=IBM&apikey={KEY}")
        );
    }

    #[tokio::test]
    async fn a_missing_key_sends_nothing() {
        let server = Loopback::start().await;
        for kind in [
            ProviderKind::Finnhub,
            ProviderKind::TwelveData,
            ProviderKind::AlphaVantage,
        ] {
            let client =
                ProviderClient::new(kind, Some(server.base()), Some(Secret::new(" ")), http());
            let out = client
                .fetch(&pairs(&[("IBM", "IBM")]), at(1_790_000_000))
                .await;
            assert_eq!(out[0].1, Err(QuoteError::Unauthorized), "{kind}");
        }
        assert!(server.requests().is_empty());
    }

    #[tokio::test]
    async fn an_invalid_key_stops_the_remaining_requests() {
        let server = Loopback::start().await;
        server.serve(
            "/api/v1/quote",
            401,
            "application/json",
            &fixture("finnhub/invalid_key.json"),
        );
        let client = ProviderClient::new(
            ProviderKind::Finnhub,
            Some(server.base()),
            Some(Secret::new(KEY)),
            http(),
        );
        let out = client
            .fetch(&pairs(&[("AAPL", "AAPL"), ("BP", "BP")]), at(1_790_000_000))
            .await;
        assert!(out.iter().all(|(_, r)| *r == Err(QuoteError::Unauthorized)));
        assert_eq!(server.requests().len(), 1);
    }

    #[tokio::test]
    async fn transport_errors_do_not_leak_the_key() {
        // A port that was just free: nothing listens there.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let base = Url::parse(&format!("http://127.0.0.1:{port}/")).unwrap();
        let client = ProviderClient::new(
            ProviderKind::AlphaVantage,
            Some(base),
            Some(Secret::new(KEY)),
            http(),
        );
        let out = client
            .fetch(&pairs(&[("IBM", "IBM")]), at(1_790_000_000))
            .await;
        let Err(QuoteError::Transport(text)) = &out[0].1 else {
            panic!("expected a transport error, got {:?}", out[0].1);
        };
        assert!(!text.contains(KEY), "{text}");
        assert!(!format!("{:?}", out[0].1).contains(KEY));
    }

    /// A provider's unreadable answer is excerpted into the error, which
    /// the log and `tickerfeed quotes` show; one that quotes the key back,
    /// in whatever words, must not carry it there.
    #[tokio::test]
    async fn an_unreadable_answer_that_echoes_the_key_does_not_leak_it() {
        let server = Loopback::start().await;
        let echo = format!("Sorry! Key {KEY} cannot be used for this request.");
        server.serve("/quote", 200, "application/json", echo.as_bytes());
        server.serve("/query", 200, "application/json", echo.as_bytes());
        server.serve("/time_series", 200, "application/json", echo.as_bytes());
        for kind in [ProviderKind::TwelveData, ProviderKind::AlphaVantage] {
            let client =
                ProviderClient::new(kind, Some(server.base()), Some(Secret::new(KEY)), http());
            let out = client
                .fetch(&pairs(&[("IBM", "IBM")]), at(1_790_000_000))
                .await;
            let Err(QuoteError::Malformed(text)) = &out[0].1 else {
                panic!("{kind}: expected a malformed answer, got {:?}", out[0].1);
            };
            assert!(text.contains("Sorry! Key **** cannot"), "{kind}: {text}");
        }
        let client = ProviderClient::new(
            ProviderKind::TwelveData,
            Some(server.base()),
            Some(Secret::new(KEY)),
            http(),
        );
        let history = client
            .fetch_history(
                "IBM",
                Interval::Day1,
                at(1_789_000_000),
                at(1_790_000_000),
                0,
                at(1_790_000_000),
            )
            .await;
        let Err(QuoteError::Malformed(text)) = &history else {
            panic!("expected a malformed history answer, got {history:?}");
        };
        assert!(!text.contains(KEY), "{text}");
        assert!(text.contains("****"), "{text}");
    }

    /// An excerpt ends at 120 bytes, which may fall inside the key: its
    /// first characters are blanked too.
    #[test]
    fn a_key_cut_short_by_the_excerpt_is_blanked() {
        let client = ProviderClient::new(
            ProviderKind::TwelveData,
            None,
            Some(Secret::new(KEY)),
            http(),
        );
        let body = format!("{}{KEY} was refused", "x".repeat(112));
        let shown = client.without_key(&super::super::excerpt(body.as_bytes()));
        assert!(shown.ends_with(&format!("x{BLANK}")), "{shown}");
        assert!(!shown.contains(&KEY[..4]), "{shown}");
        // A text that merely ends as a key begins is left alone below 4.
        assert_eq!(client.without_key("code sk-"), "code sk-");
    }

    #[tokio::test]
    async fn history_spends_only_what_the_board_can_spare() {
        let server = Loopback::start().await;
        server.serve(
            "/time_series",
            200,
            "application/json",
            &fixture("twelvedata/time_series_aapl_1min.json"),
        );
        let client = ProviderClient::new(
            ProviderKind::TwelveData,
            Some(server.base()),
            Some(Secret::new(KEY)),
            http(),
        )
        .with_budget(Budget::new([RateLimit::per_minute(10)]));
        let now = at(1_790_000_000);
        let (from, to) = (now - Duration::hours(1), now);
        // A board of 4 leaves room: 10 - 1 >= max(4, 5).
        let bars = client
            .fetch_history("AAPL", Interval::Minute1, from, to, 4, now)
            .await
            .unwrap();
        assert_eq!(bars.bars.len(), 1);
        assert!(
            server.requests()[0]
                .target
                .starts_with("/time_series?symbol=AAPL&interval=1min")
        );
        // A board of 9 needs nearly the whole minute: nothing is sent.
        let held = client
            .fetch_history("AAPL", Interval::Minute1, from, to, 9, now)
            .await;
        assert!(
            matches!(held, Err(QuoteError::BudgetExhausted { .. })),
            "{held:?}"
        );
        assert_eq!(server.requests().len(), 1);
        assert_eq!(client.available(now), 9, "the held request spent nothing");

        // Providers without history send nothing either.
        let stooq = ProviderClient::new(ProviderKind::Stooq, Some(server.base()), None, http());
        assert_eq!(
            stooq
                .fetch_history("aapl.us", Interval::Minute1, from, to, 0, now)
                .await
                .unwrap_err(),
            QuoteError::NotEntitled
        );
        assert_eq!(server.requests().len(), 1);
    }

    #[tokio::test]
    async fn a_rate_limited_history_request_cools_the_board_down_too() {
        let server = Loopback::start().await;
        server.serve_with_headers(
            "/api/v1/stock/candle",
            429,
            &[("content-type", "application/json"), ("retry-after", "90")],
            &fixture("finnhub/rate_limit.json"),
        );
        let client = ProviderClient::new(
            ProviderKind::Finnhub,
            Some(server.base()),
            Some(Secret::new(KEY)),
            http(),
        );
        let now = at(1_790_000_000);
        let out = client
            .fetch_history(
                "AAPL",
                Interval::Minute1,
                now - Duration::hours(1),
                now,
                1,
                now,
            )
            .await;
        assert_eq!(
            out.unwrap_err(),
            QuoteError::RateLimited {
                retry_after: Some(StdDuration::from_secs(90))
            }
        );
        assert_eq!(client.cooling_until(now), Some(now + Duration::seconds(90)));
    }

    /// A backfill pass asks one history after another, each answer seconds
    /// after the pass began: a `Retry-After` date pauses the provider
    /// until that date, and a spend counts when its request goes, not at
    /// the pass's start (which ended the pause early by as long).
    #[tokio::test]
    async fn a_history_answer_is_timed_when_it_comes_not_at_the_pass_start() {
        let began = at(1_790_000_000);
        let answered = began + Duration::seconds(20);
        let wait_until = answered + Duration::seconds(90);
        let server = Loopback::start().await;
        server.serve_with_headers(
            "/api/v1/stock/candle",
            429,
            &[
                ("content-type", "application/json"),
                (
                    "retry-after",
                    &wait_until.to_rfc2822().replace("+0000", "GMT"),
                ),
            ],
            &fixture("finnhub/rate_limit.json"),
        );
        let clock = crate::clock::FixedClock::new(answered);
        let client = ProviderClient::new(
            ProviderKind::Finnhub,
            Some(server.base()),
            Some(Secret::new(KEY)),
            http(),
        )
        .with_clock(std::sync::Arc::new(clock));
        let out = client
            .fetch_history(
                "AAPL",
                Interval::Minute1,
                began - Duration::hours(1),
                began,
                1,
                began,
            )
            .await;
        assert!(
            matches!(out, Err(QuoteError::RateLimited { .. })),
            "{out:?}"
        );
        assert_eq!(client.cooling_until(answered), Some(wait_until));
    }
}
