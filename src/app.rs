//! Wiring and lifecycle of the daemon and the one-shot commands.
//!
//! `run` opens the archive, syncs the configured feeds into it, binds the
//! listener, starts HTTP and the scheduler, and on shutdown stops them in
//! order: scheduling stops, in-flight polls finish (bounded), HTTP drains,
//! the search queue is indexed, and the store is dropped last.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{Notify, mpsc, watch};
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};
use url::Url;

use crate::clock::{SharedClock, sleep_until};
use crate::config::{AlertConfig, FeedConfig, FetchConfig};
use crate::config::{Config, MarketConfig, Secret, SecretUse, StorageConfig, WebSubConfig};
use crate::metrics::Metrics;
use crate::model::FeedId;
use crate::pipeline::Pipeline;
use crate::pipeline::fetch::Fetcher;
use crate::pipeline::fulltext::Articles;
use crate::push;
use crate::quotes::board::{Board, BoardSlot};
use crate::quotes::reactions::{Reactions, UnknownExchange};
use crate::scheduler::{self, Heartbeat};
use crate::select::Channel;
use crate::store::{AlertRule, DaemonLock, Store};
use crate::systemd::{self, Notifier};
use crate::websub::Subscriber;
use crate::{http, render};

/// The archive opened and the configured feeds registered in it.
pub struct Opened {
    pub store: Store,
    pub pipeline: Pipeline,
    pub feeds: Vec<(FeedConfig, FeedId)>,
    /// Fetches the pages `[[feeds]] fulltext` queued.
    pub articles: Articles,
    /// The price-reaction task's setup, with `[market]`.
    pub reactions: Option<Arc<Reactions>>,
}

/// The secrets [`open`] needs: it registers every feed's URL in the
/// archive, where a URL without its key's value would be taken for the
/// feed's, and sets up the board, whose provider takes the key.
pub fn opening_needs(secret: &SecretUse) -> bool {
    matches!(secret, SecretUse::Feed(_) | SecretUse::Market)
}

/// Opens the archive for `config` and registers its feeds.
pub async fn open(config: &Config, clock: SharedClock) -> Result<Opened> {
    config.require_secrets(opening_needs)?;
    // Each step's time goes in one log line: at 100,000 feeds opening is
    // seconds, and which step grows is what an operator asks.
    let started = Instant::now();
    let store = open_archive(config)?;
    let store_opened = started.elapsed();
    // Before any fetch is recorded: items archived from now on queue the
    // alerts they match (so a `tickerfeed poll` queues them too, and the
    // daemon sends them), and keep the views' rules' matches (the daemon
    // backfills the rest, `backfill_rules`). One transaction, as a reload
    // registers them (`reload_until_stopped`).
    // An alert started with another URL than it last had: what waits for
    // it goes there now, not after the backoff earned at the old one. (A
    // reload's moves are the running sender's: `push::alerts`.)
    let synced = store
        .sync_config(
            &config.feeds,
            alert_rules(config),
            view_rules(config),
            clock.now(),
            true,
        )
        .await
        .context("registering the configured feeds, alerts and views' rules in the archive")?;
    for (alert, n) in synced.moved {
        info!(alert = %alert, messages = n, "alert URL changed since the last start: its waiting messages are sent there now");
    }
    let ids = synced.ids;
    store.set_head(head(config));
    let config_synced = started.elapsed();
    let feeds: Vec<(FeedConfig, FeedId)> = config
        .feeds
        .iter()
        .map(|f| (f.clone(), ids[&f.name]))
        .collect();
    let fetcher =
        Fetcher::new(&config.fetch, Arc::clone(&clock)).context("setting up the HTTP client")?;
    // Every instrument's exchange has a calendar, or nothing starts.
    let reactions = config
        .market
        .as_ref()
        .map(Reactions::new)
        .transpose()
        .context("checking [market] exchanges for price reactions")?
        .map(Arc::new);
    let board = match &config.market {
        Some(market) => {
            let http = quote_client(&config.fetch).context("setting up the quote client")?;
            Some(Arc::new(seeded_board(market, http, &store, &clock).await?))
        }
        None => None,
    };
    // Site pauses survive restarts: a Retry-After of a day is honoured
    // even if we are restarted in between.
    for (host, until) in store
        .host_pauses(clock.now())
        .await
        .context("reading host pauses")?
    {
        fetcher.pause_host(&host, until);
    }
    let pipeline = Pipeline {
        store: store.clone(),
        fetcher,
        clock,
        board: BoardSlot::new(board),
        board_settled: None,
        policy: config.fetch.clone(),
        metrics: Arc::new(Metrics::new()),
        hubs: None,
    };
    let articles = Articles::new(&pipeline, &config.feeds);
    let ms = |d: Duration| d.as_millis() as u64;
    info!(
        feeds = feeds.len(),
        elapsed_ms = ms(started.elapsed()),
        store_open_ms = ms(store_opened),
        // Feeds, alerts and rules, registered together; the name is the
        // one `benches/poll.rs` reads.
        feeds_sync_ms = ms(config_synced - store_opened),
        clients_board_ms = ms(started.elapsed() - config_synced),
        "archive opened"
    );
    Ok(Opened {
        store,
        pipeline,
        feeds,
        articles,
        reactions,
    })
}

/// Opens the archive at `[storage] path`, creating it with its folder
/// where there is none: how `run` and `poll` open it, and `quotes` where
/// it may create one (`cli::archive_to_write`).
pub fn open_archive(config: &Config) -> Result<Store> {
    Store::open(&config.storage.path).context("opening the archive")
}

/// The HTTP client the board asks quote providers with.
pub fn quote_client(fetch: &FetchConfig) -> reqwest::Result<reqwest::Client> {
    crate::trust::client_builder()
        .user_agent(&fetch.user_agent)
        .connect_timeout(fetch.connect_timeout)
        .build()
}

/// The board for `market`, set up at `now`, showing the last quotes the
/// archive holds until its first refresh.
pub async fn seeded_board(
    market: &MarketConfig,
    http: reqwest::Client,
    store: &Store,
    clock: &SharedClock,
) -> Result<Board> {
    let board = Board::new(market.clone(), http, Arc::clone(clock));
    board
        .seed(store)
        .await
        .context("loading the last known quotes from the archive")?;
    Ok(board)
}

/// The include rules of every view, whose matches the archive keeps.
fn view_rules(config: &Config) -> Vec<crate::select::Rule> {
    config
        .views
        .iter()
        .flat_map(|v| v.selection.include.iter().cloned())
        .collect()
}

/// Tests what the archive already holds against rules a start or reload
/// added; views use the regex on each row until it is done.
async fn backfill_rules(store: Store, stop: CancellationToken) {
    match store.backfill_rules(|| stop.is_cancelled()).await {
        Ok(0) => {}
        Ok(n) => info!(rules = n, "view rules indexed over the archive"),
        Err(e) => {
            warn!(error = %e, "could not index the views' rules; views test each item instead")
        }
    }
}

/// What the store evaluates at ingest for each configured alert.
/// The fewest items a served feed shows: the merged feed's and tag feeds'
/// `[output] max_items`, or a view's if smaller. Every served feed is a
/// selection from the archive, so an entry among the archive's newest
/// this many is among the newest of every feed that selects it.
fn head(config: &Config) -> usize {
    (config.views.iter().map(|v| v.max_items)).fold(config.output.max_items, usize::min)
}

/// The feeds a reload added and removed, by name, in config order: what
/// an operator checks the reload against (a renamed feed is both).
fn feeds_changed<'a>(
    before: &'a [(FeedConfig, FeedId)],
    after: &'a [FeedConfig],
) -> (Vec<&'a str>, Vec<&'a str>) {
    let was: std::collections::HashSet<&str> =
        before.iter().map(|(f, _)| f.name.as_str()).collect();
    let is: std::collections::HashSet<&str> = after.iter().map(|f| f.name.as_str()).collect();
    let added = after
        .iter()
        .map(|f| f.name.as_str())
        .filter(|n| !was.contains(n))
        .collect();
    let removed = before
        .iter()
        .map(|(f, _)| f.name.as_str())
        .filter(|n| !is.contains(n))
        .collect();
    (added, removed)
}

/// Up to five names for a log line, then how many more: a reload that
/// swaps a whole OPML import must not write hundreds of names.
fn few(names: &[&str]) -> String {
    const SAID: usize = 5;
    let mut out = names[..names.len().min(SAID)].join(", ");
    if names.len() > SAID {
        out.push_str(&format!(" and {} more", names.len() - SAID));
    }
    out
}

fn alert_rules(config: &Config) -> Vec<AlertRule> {
    config
        .alerts
        .iter()
        .map(|a| AlertRule {
            name: a.name.clone(),
            selection: a.selection.clone(),
            url_sha256: hex::encode(Sha256::digest(a.url.as_str())),
        })
        .collect()
}

/// The daemon: poll on schedules and serve HTTP until `shutdown`.
///
/// `activated` is the listening socket systemd passed (socket activation);
/// without one, `[server] listen` is bound here. `notifier` tells systemd
/// about readiness, reloads, health and stopping (a no-op outside it).
pub async fn run(
    config: Config,
    clock: SharedClock,
    shutdown: CancellationToken,
    activated: Option<std::net::TcpListener>,
    notifier: Notifier,
) -> Result<()> {
    // One daemon per archive, decided before this one registers its feeds.
    let _archive = DaemonLock::take(&config.storage.path).context("locking the archive")?;
    // The archive is open and migrated before anything listens.
    let opened = open(&config, Arc::clone(&clock)).await?;
    let listener = match activated {
        Some(socket) => TcpListener::from_std(socket)
            .context("serving on the socket systemd passed (tickerfeed.socket)")?,
        None => TcpListener::bind(config.server.listen)
            .await
            .with_context(|| format!("listening on {}", config.server.listen))?,
    };
    serve_with(config, clock, shutdown, opened, listener, notifier).await
}

/// The daemon on an open archive and an already bound listener.
pub async fn serve_with(
    config: Config,
    clock: SharedClock,
    shutdown: CancellationToken,
    opened: Opened,
    listener: TcpListener,
    notifier: Notifier,
) -> Result<()> {
    let Opened {
        store,
        mut pipeline,
        feeds,
        articles,
        reactions,
    } = opened;
    let local = listener
        .local_addr()
        .context("reading the listening address")?;
    // Listen for SIGHUP before anything says we are up: its default
    // action ends the process, so a reload sent as soon as the log or
    // systemd says "running" must find the handler in place.
    let hangups = signal(SignalKind::hangup())
        .map_err(|e| warn!(error = %e, "cannot listen for SIGHUP; reload needs a restart"))
        .ok();
    let heartbeat = Heartbeat::new(clock.now());
    let state = http::HttpState::new(
        Arc::clone(&pipeline.metrics),
        pipeline.board.clone(),
        store.clone(),
        http::Published::from_config(&config, Some(local), clock.now()),
        Arc::clone(&heartbeat),
        Arc::clone(&clock),
    );
    // One guarded client pair for everything that posts to addresses the
    // config or a subscriber names: alerts, the hub, the publisher and the
    // subscriber. With `[websub] serve_hub`, `POST /websub` answers from
    // the start (`Publishing` sets the hub before HTTP serves); the reload
    // task owns the hub and the publisher from then on.
    let push_clients = push::webhook::Clients::new(&config.fetch.user_agent)
        .context("building the webhook and WebSub HTTP clients")?;
    let websub = WebSubParts {
        http: state.clone(),
        store: store.clone(),
        clock: Arc::clone(&clock),
        metrics: Arc::clone(&pipeline.metrics),
        clients: push_clients.clone(),
    };
    // WebSub: changed feeds are pushed to our hub's subscribers and
    // announced to an external hub; whatever changed while the daemon was
    // down goes first.
    let publishing = Publishing::start(&websub, &config, local, &shutdown);
    // systemd is told what `/healthz` says: one snapshot, two renderings.
    let health = state.health();
    // HTTP gets its own token, cancelled only after polls have drained, so
    // the feed stays readable while the scheduler winds down.
    let http_stop = CancellationToken::new();
    let http_task = tokio::spawn(http::serve(listener, state.clone(), http_stop.clone()));
    info!(
        listen = %local,
        feed = %config.public_base(Some(local)).join(&Channel::Main.path(render::Format::Atom.extension())).map(|u| u.to_string()).unwrap_or_default(),
        feeds = feeds.len(),
        database = %store.path().display(),
        "tickerfeed running"
    );

    let mut tasks = Vec::new();
    // Notice writes by other processes (a `tickerfeed poll` beside us) so
    // the HTTP cache does not serve a stale document, and index for search
    // what the last fetches archived.
    tasks.push(tokio::spawn(watch_archive(store.clone(), shutdown.clone())));
    let (storage_tx, storage_rx) = watch::channel(config.storage.clone());
    tasks.push(tokio::spawn(housekeeping(
        store.clone(),
        Arc::clone(&clock),
        storage_rx,
        shutdown.clone(),
    )));
    // Alerts go out as soon as a fetch queues them, and whatever an
    // earlier run left in the outbox goes first.
    tasks.push(tokio::spawn(backfill_rules(
        store.clone(),
        shutdown.clone(),
    )));
    let (alerts_tx, alerts_rx) = watch::channel(config.alerts.clone());
    tasks.push(push::alerts::spawn(
        store.clone(),
        Arc::clone(&clock),
        Arc::clone(&pipeline.metrics),
        alerts_rx,
        push_clients.clone(),
        shutdown.clone(),
    ));
    // Article pages (`[[feeds]] fulltext`) are fetched apart from feed
    // polls, at their own lower concurrency; what an earlier run left
    // queued goes first.
    tasks.push(tokio::spawn(articles.clone().run(shutdown.clone())));
    // The board's refresher and the price reactions: started here, and
    // by a reload that adds `[market]`; the reload task owns them.
    let market = match (pipeline.board.get(), reactions) {
        (Some(board), Some(reactions)) => Some(Market::start(
            board,
            reactions,
            store.clone(),
            Arc::clone(&clock),
            &shutdown,
        )),
        _ => None,
    };
    let (feeds_tx, feeds_rx) = watch::channel(feeds);
    // WebSub: polls hand the hubs they find to the subscriber, which tells
    // the scheduler when a subscription starts or ends.
    let replan = Arc::new(Notify::new());
    let (hubs_tx, hubs_rx) = mpsc::unbounded_channel();
    let subscriber = if let Some(subscriber) = Subscriber::new(
        &config.websub,
        pipeline.clone(),
        feeds_rx.clone(),
        push_clients.clone(),
        config.fetch.max_body_bytes,
        Arc::clone(&replan),
    ) {
        pipeline.hubs = Some(hubs_tx);
        state.answer_hubs(subscriber.clone());
        tasks.push(tokio::spawn(
            subscriber.clone().run(hubs_rx, shutdown.clone()),
        ));
        Some(subscriber)
    } else {
        None
    };
    let live = Live {
        http: state,
        bound: local,
        board: pipeline.board.clone(),
        market,
        websub,
        publishing,
        retiring: Vec::new(),
        subscriber,
        feeds: feeds_tx,
        articles,
        alerts: alerts_tx,
        storage: storage_tx,
    };
    tasks.push(tokio::spawn(reload_on_hangup(
        hangups,
        config.clone(),
        store.clone(),
        live,
        notifier.clone(),
        Arc::clone(&clock),
        shutdown.clone(),
    )));

    // Ready: archive open and migrated, listener bound, work started.
    if let Err(e) = notifier.ready() {
        warn!(error = %e, "could not tell systemd we are ready");
    }
    // What `WATCHDOG=1` vouches for: the scheduler goes round and the
    // database answers (see `health`); a degraded daemon is still pinged.
    tasks.push(tokio::spawn(systemd::supervise(
        notifier,
        move || health.clone().watchdog_check(),
        shutdown.clone(),
    )));

    let scheduled = scheduler::run(
        pipeline,
        feeds_rx,
        config.fetch.concurrency,
        heartbeat,
        replan,
        shutdown.clone(),
    )
    .await;
    http_stop.cancel();
    // Each task ends on `shutdown`, but one held up anyway (a hub or a
    // webhook that does not answer) must not keep the stop past systemd's
    // `TimeoutStopSec=45` and into SIGKILL: up to 20 s of polls draining,
    // then these 10 s, then up to 10 s of HTTP draining fit inside it.
    let stop_by = tokio::time::Instant::now() + Duration::from_secs(10);
    for mut task in tasks {
        if tokio::time::timeout_at(stop_by, &mut task).await.is_err() {
            task.abort();
            warn!(task = %task.id(), "a task did not stop within 10 s after the polls did; ended it where it was");
        }
    }
    match tokio::time::timeout(Duration::from_secs(10), http_task).await {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(e))) => warn!(error = %e, "HTTP server stopped with an error"),
        Ok(Err(e)) => warn!(error = %e, "HTTP server task failed"),
        Err(_) => warn!("HTTP connections did not drain within 10 s; closing them"),
    }
    scheduled.context("running the scheduler")?;
    // What the last polls queued for search; otherwise the next start would.
    if let Err(e) = store.index_for_search().await {
        warn!(error = %e, "could not index the last items for search; the next start will");
    }
    drop(store);
    info!("stopped cleanly");
    Ok(())
}

async fn watch_archive(store: Store, stop: CancellationToken) {
    // Each of these fails every two seconds for as long as the disk is
    // full: one line when it starts and one when it ends, not 1,800 an
    // hour.
    let mut outside = Streak::default();
    let mut indexing = Streak::default();
    let mut blocked = false;
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tokio::time::sleep(Duration::from_secs(2)) => {
                if let Some(why) = store.check_file() {
                    error!(database = %store.path().display(), "{why}");
                }
                // Its writes are refused for good: trying them every 2 s
                // would only log the same refusal again.
                if store.file_replaced().is_some() {
                    continue;
                }
                outside.note(
                    store.notice_external_writes().await,
                    &store,
                    ["could not check the archive for outside changes; retrying every 2 s", "the archive can be checked for outside changes again"],
                );
                indexing.note(
                    store.index_for_search().await.map(drop),
                    &store,
                    ["could not index new items for search; retrying every 2 s", "new items are indexed for search again"],
                );
                if store.log_blocked() != blocked {
                    blocked = !blocked;
                    log_blocked_wal(&store, blocked);
                }
            }
        }
    }
}

/// The operator's part when a reader blocks the log: only they can end it
/// (`store::checkpoint`).
fn log_blocked_wal(store: &Store, blocked: bool) {
    let wal = store.wal_path();
    if blocked {
        warn!(
            wal = %wal.display(),
            wal_bytes = store.wal_bytes(),
            "the archive's write-ahead log keeps growing: a reader has held the archive open (a sqlite3 session left inside a transaction, a long query or backup), and checkpoints cannot pass its snapshot; close it. Nothing is lost; the log is emptied once it closes"
        );
    } else {
        info!(wal = %wal.display(), "the write-ahead log is checkpointed again: the reader holding it has gone");
    }
}

/// A periodic task's failures, logged when they start and when they end.
#[derive(Default)]
struct Streak {
    failing: bool,
}

impl Streak {
    /// `said`: what to log when it starts failing, and when it works again.
    fn note(
        &mut self,
        result: Result<(), crate::store::StoreError>,
        store: &Store,
        [failed, recovered]: [&str; 2],
    ) {
        match result {
            Err(e) if !self.failing => {
                self.failing = true;
                warn!(database = %store.path().display(), error = %crate::cause::chain(&e), "{failed}");
            }
            Ok(()) if self.failing => {
                self.failing = false;
                info!(database = %store.path().display(), "{recovered}");
            }
            _ => {}
        }
    }
}

/// Daily: trims the fetch log to `[storage] fetch_log_days` and applies
/// the retention settings, if any.
async fn housekeeping(
    store: Store,
    clock: SharedClock,
    mut storage: watch::Receiver<StorageConfig>,
    stop: CancellationToken,
) {
    loop {
        let current = storage.borrow_and_update().clone();
        let days = current.fetch_log_days;
        let cutoff = clock.now() - chrono::Duration::days(i64::from(days));
        match store.prune_fetch_log(cutoff).await {
            Ok(0) => {}
            Ok(n) => info!(rows = n, days, "trimmed the fetch log"),
            Err(e) => warn!(error = %e, "could not trim the fetch log"),
        }
        if current.max_age_days.is_some() || current.max_items_per_feed.is_some() {
            match prune(&store, &current, clock.now()).await {
                Ok(0) => {}
                Ok(n) => info!(items = n, "retention: deleted old items (tombstoned)"),
                Err(e) => warn!(error = %e, "retention run failed"),
            }
        }
        // A reload that changes retention runs it at once: an operator
        // who tightens it expects the archive to shrink now, not tomorrow.
        let next = clock.now() + chrono::Duration::days(1);
        tokio::select! {
            _ = stop.cancelled() => break,
            Ok(()) = storage.changed() => {}
            _ = sleep_until(&*clock, next) => {}
        }
    }
}

/// Applies `[storage]` retention once.
pub async fn prune(
    store: &Store,
    storage: &StorageConfig,
    now: DateTime<Utc>,
) -> Result<usize, crate::store::StoreError> {
    store
        .prune(
            storage
                .max_age_days
                .map(|d| chrono::Duration::days(i64::from(d))),
            storage.max_items_per_feed,
            now,
        )
        .await
}

/// What a reload hands the new config to, while the daemon runs.
struct Live {
    /// What the HTTP server publishes (`[output]`, views, web), and the
    /// address it listens on (self links when `base_url` is unset).
    http: http::HttpState,
    bound: std::net::SocketAddr,
    /// The board everything reads, which a reload that adds or removes
    /// `[market]` swaps.
    board: BoardSlot,
    /// The board's tasks, with `[market]`.
    market: Option<Market>,
    /// What WebSub's publishing side is built from.
    websub: WebSubParts,
    /// Our hub and the publisher, as `[websub]` sets them now.
    publishing: Publishing,
    /// Verifiers of hubs a reload put aside, finishing what they accepted.
    retiring: Vec<tokio::task::JoinHandle<()>>,
    /// The WebSub subscriber, when `[websub] callback_url` was set at
    /// start (a reload may change the URL, not set or unset it).
    subscriber: Option<Subscriber>,
    /// The feeds the scheduler polls.
    feeds: watch::Sender<Vec<(FeedConfig, FeedId)>>,
    /// The article worker, which fetches each feed's pages as its user
    /// agent.
    articles: Articles,
    /// The alerts the sender delivers.
    alerts: watch::Sender<Vec<AlertConfig>>,
    /// Retention and the fetch log's length, for housekeeping.
    storage: watch::Sender<StorageConfig>,
}

/// What WebSub's publishing side is built from, at start and by a reload.
struct WebSubParts {
    http: http::HttpState,
    store: Store,
    clock: SharedClock,
    metrics: Arc<Metrics>,
    /// The guarded client pair, shared with alerts and the subscriber.
    clients: push::webhook::Clients,
}

/// WebSub's publishing side as the running config sets it: our hub
/// (`POST /websub` and the verifier behind it, with `[websub] serve_hub`)
/// and the publisher (with an external `hub` or `serve_hub`). A reload
/// that changes what it runs on ([`Publishing::runs`]) stops it and starts
/// another; subscriptions, pending pushes and topic hashes live in the
/// archive, so the new one carries on where the old one stopped.
struct Publishing {
    /// `[websub]` as started, without the subscribing keys.
    websub: WebSubConfig,
    /// The hub the feeds advertise (`rel="hub"`).
    hub_url: Option<Url>,
    /// A child of the daemon's shutdown: cancelled alone by a reload.
    stop: CancellationToken,
    publisher: Option<tokio::task::JoinHandle<()>>,
    /// Ends on its own once its hub is put aside and what that hub
    /// accepted is verified; at shutdown at the latest.
    verifier: Option<tokio::task::JoinHandle<()>>,
}

impl Publishing {
    fn start(
        parts: &WebSubParts,
        config: &Config,
        bound: std::net::SocketAddr,
        shutdown: &CancellationToken,
    ) -> Publishing {
        let websub = config.websub.publishing();
        let hub_url = config.hub_url(Some(bound));
        let stop = shutdown.child_token();
        // The verifier is not stopped with `stop` but by its hub being put
        // aside, so it verifies what was accepted (answered 202) first.
        let verifier = websub.serve_hub.then(|| {
            let (hub, verifier) = push::hub::Hub::new(
                &websub,
                parts.store.clone(),
                Arc::clone(&parts.clock),
                parts.clients.clone(),
            );
            parts.http.set_hub(Some(hub));
            tokio::spawn(verifier.run(shutdown.clone()))
        });
        if !websub.serve_hub {
            parts.http.set_hub(None);
        }
        let publisher = hub_url.clone().map(|hub_url| {
            let publisher = push::publish::Publisher::new(
                parts.store.clone(),
                Arc::clone(&parts.clock),
                Arc::clone(&parts.metrics),
                Arc::new(parts.http.clone()),
                parts.clients.clone(),
                websub.clone(),
                hub_url,
            );
            tokio::spawn(publisher.run(stop.clone(), shutdown.clone()))
        });
        Publishing {
            websub,
            hub_url,
            stop,
            publisher,
            verifier,
        }
    }

    /// Whether it runs as `config` (listening on `bound`) would have it.
    fn runs(&self, config: &Config, bound: std::net::SocketAddr) -> bool {
        self.websub == config.websub.publishing() && self.hub_url == config.hub_url(Some(bound))
    }

    /// Puts the hub aside (`POST /websub` answers that this is no hub) and
    /// stops the publisher; a push in flight is cut, and stays queued in
    /// the archive (a ping goes on, until shutdown). Returns the verifier, still verifying
    /// what the hub accepted.
    async fn stop(&mut self, http: &http::HttpState) -> Option<tokio::task::JoinHandle<()>> {
        http.set_hub(None);
        self.stop.cancel();
        if let Some(Err(e)) = match self.publisher.take() {
            Some(task) => Some(task.await),
            None => None,
        } {
            error!(error = %e, "the WebSub publisher failed");
        }
        self.verifier.take()
    }
}

impl Live {
    /// The board the running `[market]` keeps, if any.
    fn running_board(&self) -> Option<&Board> {
        self.market.as_ref().map(|m| &*m.board)
    }
}

/// `[market]` while it is configured: the board, and the tasks that keep
/// it and the price reactions current. Started at start or by a reload
/// that adds `[market]`; stopped by one that removes it, or at shutdown.
struct Market {
    board: Arc<Board>,
    reactions: Arc<Reactions>,
    /// A child of the daemon's shutdown: cancelled alone when `[market]`
    /// is removed.
    stop: CancellationToken,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Market {
    fn start(
        board: Arc<Board>,
        reactions: Arc<Reactions>,
        store: Store,
        clock: SharedClock,
        shutdown: &CancellationToken,
    ) -> Market {
        let stop = shutdown.child_token();
        let tasks = vec![
            // The board refreshes on its own schedule, independently of
            // feeds.
            tokio::spawn(refresh_board(
                Arc::clone(&board),
                store.clone(),
                Arc::clone(&clock),
                stop.clone(),
            )),
            // Price reactions: read off the board's series as their times
            // pass, gaps backfilled from the provider's history within its
            // budget.
            tokio::spawn(Arc::clone(&reactions).run(
                store,
                Arc::clone(&board),
                clock,
                stop.clone(),
            )),
        ];
        Market {
            board,
            reactions,
            stop,
            tasks,
        }
    }

    /// Stops both tasks, letting a refresh or a reactions pass in progress
    /// finish (what it archives is kept), and waits for them.
    async fn stop(self) {
        self.stop.cancel();
        for task in self.tasks {
            if let Err(e) = task.await {
                error!(error = %e, "a [market] task failed");
            }
        }
    }
}

/// The board and price reactions a reload that adds `market` starts:
/// seeded with the last quotes the archive holds, as at start. The quote
/// client is built with the running `[fetch]` (which waits for a restart).
async fn new_market(
    market: &MarketConfig,
    fetch: &FetchConfig,
    store: &Store,
    clock: &SharedClock,
) -> Result<(Arc<Board>, Arc<Reactions>)> {
    let reactions = Reactions::new(market).context("checking [market] exchanges")?;
    let fetch = fetch.clone();
    let http = tokio::task::spawn_blocking(move || quote_client(&fetch))
        .await
        .context("setting up the quote client")?
        .context("setting up the quote client")?;
    let board = seeded_board(market, http, store, clock).await?;
    Ok((Arc::new(board), Arc::new(reactions)))
}

/// SIGHUP re-reads the config. Added feeds start, removed feeds stop (their
/// archive stays; a hub that pushes one is asked to unsubscribe), changed
/// schedules and user agents apply (to article pages too); validators, backoff and due
/// times live in the archive, so nothing is lost. `[output]`, the views,
/// the alerts and `[storage]` retention apply at once (an added alert fires
/// for items archived from then on; a removed one's unsent messages wait in
/// the outbox, a day at most; a moved one's go to its new URL at once;
/// changed retention runs now). A changed `[market]` applies
/// at once: the instruments (the board, its mentions and the price
/// reactions follow them; the board refreshes right away), label,
/// staleness, schedule, provider, endpoint and API key. Adding `[market]`
/// starts a board and its tasks ([`Market`]); removing it takes the board
/// off everything that reads it and stops them (what they archived stays).
/// A changed `[websub]` publishing side (our hub, the external hub and
/// their settings) stops the running [`Publishing`] and starts another.
/// A changed `subscribe_lease_seconds` is asked of hubs from the next
/// subscription or renewal on; a changed `[websub] callback_url`
/// subscribes each live subscription again under it at once. Changes to
/// `[storage] path`, `[server] listen`, `[fetch]`, setting or unsetting
/// `[websub] callback_url` (whether there is a subscriber) and `[log]`
/// wait for a restart, with a warning at every reload until then.
/// An invalid
/// config (an instrument's exchange without a calendar included) is
/// refused with a logged error and the running one stays.
async fn reload_on_hangup(
    hangups: Option<tokio::signal::unix::Signal>,
    running: Config,
    store: Store,
    mut live: Live,
    notifier: Notifier,
    clock: SharedClock,
    stop: CancellationToken,
) {
    reload_until_stopped(hangups, running, &store, &mut live, notifier, clock, &stop).await;
    // The tasks a start or a reload handed this one: stopped with it.
    if let Some(market) = live.market.take() {
        market.stop().await;
    }
    // Both end with the daemon's token: `POST /websub` keeps answering as
    // a hub while HTTP drains.
    let publishing = [
        live.publishing.publisher.take(),
        live.publishing.verifier.take(),
    ];
    for task in live
        .retiring
        .into_iter()
        .chain(publishing.into_iter().flatten())
    {
        let _ = task.await;
    }
}

/// The reload loop of [`reload_on_hangup`], until `stop`.
async fn reload_until_stopped(
    hangups: Option<tokio::signal::unix::Signal>,
    running: Config,
    store: &Store,
    live: &mut Live,
    notifier: Notifier,
    clock: SharedClock,
    stop: &CancellationToken,
) {
    let Some(mut hangups) = hangups else {
        // No reloads, but what the start handed over runs until shutdown.
        stop.cancelled().await;
        return;
    };
    // What the daemon was started with: the parts that wait for a restart
    // are compared with it, not with the last config loaded, so a change
    // still waiting is reported again at the next reload, and one undone
    // is not reported at all.
    let started = running;
    let reloads = live.http.health().reload_state();
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            got = hangups.recv() => if got.is_none() { return },
        }
        if let Err(e) = notifier.reloading() {
            warn!(error = %e, "could not tell systemd we are reloading");
        }
        // A config that loads but names an exchange without a calendar is
        // refused like one that does not load.
        let loaded = Config::load(&started.source)
            // With its cause: "cannot read config file …: permission denied".
            .map_err(|e| format!("{:#}", anyhow::Error::new(e)))
            .and_then(|new| {
                let market = market_reload(live.running_board(), new.market.as_ref())
                    .map_err(|e| e.to_string())?;
                Ok((new, market))
            });
        match loaded {
            Err(e) => {
                error!("reload refused, keeping the running config: {e}");
                let _ = notifier.status("reload refused: invalid config (see the log)");
                reloads.refused(clock.now(), e);
            }
            Ok((new, market)) => {
                let new_key = key_for_board(live.running_board(), new.market.as_ref());
                for (what, changed) in [
                    // Retention applies at once; only the archive waits.
                    ("[storage] path", new.storage.path != started.storage.path),
                    (
                        "[server] listen",
                        new.server.listen != started.server.listen,
                    ),
                    ("[fetch]", new.fetch != started.fetch),
                    // The subscriber is built at start, or not: a changed
                    // URL applies at once, setting or unsetting it waits.
                    (
                        "[websub] callback_url set or unset",
                        new.websub.callback_url.is_some() != started.websub.callback_url.is_some(),
                    ),
                    // The log's filter is set once, before anything logs.
                    ("[log] level", new.log_level != started.log_level),
                ] {
                    if changed {
                        warn!("{what} changed: it takes effect at the next restart");
                    }
                }
                // One transaction: a failure leaves the archive and the
                // writer on the running config, as the log says.
                // Moves are the sender's (it knows what is in flight).
                let registered = store
                    .sync_config(
                        &new.feeds,
                        alert_rules(&new),
                        view_rules(&new),
                        clock.now(),
                        false,
                    )
                    .await
                    .map(|synced| synced.ids);
                match registered {
                    Ok(ids) => {
                        let feeds = new
                            .feeds
                            .iter()
                            .map(|f| (f.clone(), ids[&f.name]))
                            .collect();
                        // The agents first: a new feed's pages may be queued
                        // as soon as the scheduler has it.
                        live.articles.use_feeds(&new.feeds);
                        let before = live.feeds.send_replace(feeds);
                        live.alerts.send_replace(new.alerts.clone());
                        store.set_head(head(&new));
                        tokio::spawn(backfill_rules(store.clone(), stop.clone()));
                        live.storage.send_if_modified(|s| {
                            let changed = *s != new.storage;
                            *s = new.storage.clone();
                            changed
                        });
                        if let (Some(board), Some(key)) = (live.running_board(), new_key) {
                            board.replace_api_key(key);
                            // Which variable holds it is in the config; the
                            // key itself is never logged.
                            info!(
                                "[market] API key changed: the board uses the new one from its next refresh"
                            );
                        }
                        match (&live.market, market) {
                            (Some(running), MarketReload::Apply(market)) => {
                                let board = &running.board;
                                let provider = board.provider();
                                board.reconfigure(&market);
                                if market.provider != provider {
                                    info!(
                                        from = provider.as_str(),
                                        to = market.provider.as_str(),
                                        "[market] provider changed: the board asks the new one from now on"
                                    );
                                }
                                // market_reload checked the exchanges already.
                                if let Err(e) = running.reactions.reconfigure(&market) {
                                    error!(error = %e, "price reactions keep the instruments they had");
                                }
                                info!(
                                    instruments = market.instruments.len(),
                                    "[market] reloaded: the board refreshes now"
                                );
                            }
                            (None, MarketReload::Add(market)) => {
                                match new_market(&market, &started.fetch, store, &clock).await {
                                    Ok((board, reactions)) => {
                                        // Shown and stamped on new items
                                        // from now on; its first refresh
                                        // starts at once.
                                        live.board.set(Some(Arc::clone(&board)));
                                        live.market = Some(Market::start(
                                            board,
                                            reactions,
                                            store.clone(),
                                            Arc::clone(&clock),
                                            stop,
                                        ));
                                        info!(
                                            instruments = market.instruments.len(),
                                            "[market] added: the board refreshes now"
                                        );
                                    }
                                    Err(e) => error!(
                                        "[market] added but not started, the daemon runs without a board until the next reload: {e:#}"
                                    ),
                                }
                            }
                            (Some(_), MarketReload::Remove) => {
                                // Off the pages and feeds, and off the
                                // items archived from now on, before the
                                // tasks wind down; archived quotes,
                                // snapshots and reactions stay.
                                live.board.set(None);
                                if let Some(market) = live.market.take() {
                                    market.stop().await;
                                }
                                info!("[market] removed: the board and price reactions stopped");
                            }
                            _ => {}
                        }
                        if let Some(subscriber) = &live.subscriber {
                            subscriber.set_lease(new.websub.lease);
                            if let Some(url) = &new.websub.callback_url {
                                subscriber.set_callback_base(url);
                            }
                        }
                        if !live.publishing.runs(&new, live.bound) {
                            // The old publisher stops before the new one
                            // starts, so no push goes out twice at once.
                            if let Some(verifier) = live.publishing.stop(&live.websub.http).await {
                                live.retiring.push(verifier);
                            }
                            live.retiring.retain(|task| !task.is_finished());
                            live.publishing =
                                Publishing::start(&live.websub, &new, live.bound, stop);
                            info!(
                                hub = new
                                    .hub_url(Some(live.bound))
                                    .map(|u| u.to_string())
                                    .unwrap_or_default(),
                                serve_hub = new.websub.serve_hub,
                                "[websub] reloaded: publishing with the new settings"
                            );
                        }
                        live.http.update(http::Published::from_config(
                            &new,
                            Some(live.bound),
                            clock.now(),
                        ));
                        let (added, removed) = feeds_changed(&before, &new.feeds);
                        info!(
                            feeds = new.feeds.len(),
                            added = added.len(),
                            removed = removed.len(),
                            added_feeds = few(&added),
                            removed_feeds = few(&removed),
                            "config reloaded"
                        );
                        reloads.taken();
                    }
                    Err(e) => {
                        let e = crate::cause::chain(&e);
                        error!(error = %e, "reload failed: could not register the feeds, alerts and view rules; keeping the running config");
                        reloads.refused(
                            clock.now(),
                            format!("could not register the feeds, alerts and view rules: {e}"),
                        );
                    }
                }
            }
        }
        if let Err(e) = notifier.ready() {
            warn!(error = %e, "could not tell systemd the reload is done");
        }
    }
}

/// The `[market]` API key a reload hands the running board on its own:
/// when the board asks `new`'s provider at `new`'s endpoint (a key for
/// another provider must never be sent to the running one: that one comes
/// with its own client, [`Board::reconfigure`]) and its requests do not
/// carry that key already.
fn key_for_board(board: Option<&Board>, new: Option<&MarketConfig>) -> Option<Option<Secret>> {
    let (board, new) = (board?, new?);
    (board.asks_endpoint_of(new) && !board.sends_api_key_of(new)).then(|| new.api_key.clone())
}

/// What a reload does with `[market]`.
#[derive(Debug, PartialEq)]
enum MarketReload {
    /// As the board runs it, but perhaps for its API key ([`key_for_board`]).
    Unchanged,
    /// The running board and price reactions take it now.
    Apply(Box<MarketConfig>),
    /// The section added: a board and its tasks start.
    Add(Box<MarketConfig>),
    /// The section removed: the board and its tasks stop.
    Remove,
}

/// How a reload treats `new`, given the `board` running (none without
/// `[market]`); compared with the board, not with the last config loaded,
/// so a section whose board could not be started is tried again by the
/// next reload. A `[market]` naming an exchange without a calendar is
/// refused, whether it changes the running board or adds one.
fn market_reload(
    board: Option<&Board>,
    new: Option<&MarketConfig>,
) -> Result<MarketReload, UnknownExchange> {
    if let Some(new) = new {
        Reactions::check(new)?;
    }
    Ok(match (board, new) {
        (None, None) => MarketReload::Unchanged,
        (Some(board), Some(new)) if board.runs(new) => MarketReload::Unchanged,
        (Some(_), Some(new)) => MarketReload::Apply(Box::new(new.clone())),
        (None, Some(new)) => MarketReload::Add(Box::new(new.clone())),
        (Some(_), None) => MarketReload::Remove,
    })
}

/// Refreshes the board now and then on its schedule until `shutdown`, and
/// at once when a reload changed its instruments.
async fn refresh_board(
    board: Arc<Board>,
    store: Store,
    clock: SharedClock,
    shutdown: CancellationToken,
) {
    loop {
        let now = clock.now();
        match board.refresh(&store, now).await {
            Ok(report) => board.log_refresh(&report),
            Err(e) => {
                // With its causes: "failed to commit quotes" alone does not
                // say the disk is full.
                warn!(database = %store.path().display(), error = %crate::cause::chain(&e), "could not archive quotes; the board keeps its last values")
            }
        }
        let now = clock.now();
        let next = board
            .schedule()
            .next_after(now)
            .unwrap_or(now + chrono::Duration::minutes(5));
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = board.reconfigured() => {}
            _ = sleep_until(&*clock, next) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::clock::Clock;

    /// A view that shows fewer items than the merged feed sets the head:
    /// an entry among the archive's newest that many is in every feed.
    #[test]
    fn the_head_is_the_fewest_items_a_served_feed_shows() {
        let config = |views: &str| {
            let text = format!(
                "[output]\nmax_items = 100\n[[feeds]]\nname = \"wire\"\nurl = \"https://w.test/feed.xml\"\n{views}"
            );
            crate::config::resolve_str(&text, Path::new("/etc/tickerfeed")).unwrap()
        };
        assert_eq!(head(&config("")), 100);
        let views = "[[views]]\nname = \"wire\"\nfeeds = [\"wire\"]\nmax_items = 10\n\
                     [[views]]\nname = \"all\"\nfeeds = [\"wire\"]\nmax_items = 500\n";
        assert_eq!(head(&config(views)), 10);
    }

    fn market(provider: &str, key: &str) -> MarketConfig {
        let text = format!("[market]\nprovider = \"{provider}\"\nsymbols = [\"AAPL\"]\n");
        let mut m = crate::config::resolve_str(&text, Path::new("/etc/tickerfeed"))
            .unwrap()
            .market
            .unwrap();
        m.api_key = Some(Secret::new(key));
        m
    }

    fn board(market: &MarketConfig) -> Board {
        Board::new(
            market.clone(),
            reqwest::Client::new(),
            Arc::new(crate::clock::FixedClock::new(DateTime::UNIX_EPOCH)),
        )
    }

    #[test]
    fn a_new_key_for_the_same_provider_is_handed_over() {
        let running = market("stooq", "k1");
        let board = board(&running);
        let new = market("stooq", "k2");
        assert_eq!(
            key_for_board(Some(&board), Some(&new)),
            Some(Some(Secret::new("k2")))
        );
        assert_eq!(key_for_board(Some(&board), Some(&running)), None);
        board.replace_api_key(Some(Secret::new("k2")));
        assert_eq!(
            key_for_board(Some(&board), Some(&new)),
            None,
            "already sent"
        );
    }

    #[test]
    fn a_key_for_another_provider_is_never_sent_to_the_running_one() {
        let board = board(&market("stooq", "k1"));
        assert_eq!(
            key_for_board(Some(&board), Some(&market("yahoo", "k2"))),
            None
        );
        let mut moved = market("stooq", "k2");
        moved.base_url = Some(url::Url::parse("http://127.0.0.1:9/").unwrap());
        assert_eq!(key_for_board(Some(&board), Some(&moved)), None);
        assert_eq!(key_for_board(None, Some(&moved)), None);
        // Another provider's key comes with that provider's own client.
        let yahoo = market("yahoo", "k2");
        board.reconfigure(&yahoo);
        assert!(board.sends_api_key_of(&yahoo));
        assert_eq!(key_for_board(Some(&board), Some(&yahoo)), None);
        assert_eq!(
            key_for_board(Some(&board), Some(&market("yahoo", "k3"))),
            Some(Some(Secret::new("k3")))
        );
    }

    /// 2026-11-24T09:00:00Z, on a clock the test moves.
    fn fixed_clock() -> (crate::clock::FixedClock, SharedClock) {
        let at = DateTime::parse_from_rfc3339("2026-11-24T09:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let c = crate::clock::FixedClock::new(at);
        (c.clone(), Arc::new(c))
    }

    /// Waits, paused, up to `clock::MAX_SLEEP` and a second (tokio's time, which
    /// runs ahead while nothing else has work) for `done`.
    async fn within_max_sleep(done: impl Fn() -> bool) -> bool {
        let deadline =
            tokio::time::Instant::now() + crate::clock::MAX_SLEEP + Duration::from_secs(1);
        while tokio::time::Instant::now() < deadline {
            if done() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        done()
    }

    /// Review s29: the board's refresh loop slept the whole time to its
    /// next firing on tokio's (monotonic) timer, so after a suspend or a
    /// forward NTP step it refreshed up to a whole period late (a day,
    /// with a daily `[market] schedule`), and new items were stamped with
    /// the old quotes. Now it reads the clock again at least every
    /// `clock::MAX_SLEEP`: the clock moved past the next firing, it refreshes
    /// within that, not twelve hours later.
    #[tokio::test]
    async fn the_board_refreshes_soon_after_the_clock_jumps_past_its_firing() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let asked = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&asked);
        let provider = axum::Router::new().fallback(move || {
            counted.fetch_add(1, Ordering::SeqCst);
            async {
                "Symbol,Date,Time,Open,High,Low,Close,Volume,Name\n\
                 AAPL.US,2026-11-23,22:00:00,190.1,191.5,189.2,190.9,1000,APPLE\n"
            }
        });
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, provider).await.unwrap() });
        let dir = tempfile::tempdir().unwrap();
        let text = format!(
            "[storage]\npath = \"{}\"\n[market]\nprovider = \"stooq\"\nbase_url = \"http://{addr}/\"\nschedule = \"0 21 * * *\"\nsymbols = [\"AAPL\"]\n",
            dir.path().join("a.db").display()
        );
        let config = crate::config::resolve_str(&text, Path::new("/etc/tickerfeed")).unwrap();
        let store = Store::open(&config.storage.path).unwrap();
        let (c, clock) = fixed_clock();
        let board = Arc::new(Board::new(
            config.market.clone().unwrap(),
            reqwest::Client::new(),
            Arc::clone(&clock),
        ));
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(refresh_board(
            Arc::clone(&board),
            store,
            Arc::clone(&clock),
            shutdown.clone(),
        ));
        // The first refresh, at once.
        let started = c.now();
        for _ in 0..100 {
            if board.last_refresh().is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(board.last_refresh(), Some(started));
        assert_eq!(asked.load(Ordering::SeqCst), 1);
        // The machine sleeps through the evening's firing and wakes an
        // hour after it (a FixedClock moved, tokio's timers not).
        tokio::time::pause();
        let firing = board.schedule().next_after(started).unwrap();
        c.set(firing + chrono::Duration::hours(1));
        assert!(
            within_max_sleep(|| board.last_refresh() == Some(c.now())).await,
            "refreshed last at {:?}, the clock reads {}",
            board.last_refresh(),
            c.now()
        );
        assert_eq!(asked.load(Ordering::SeqCst), 2);
        shutdown.cancel();
        task.await.unwrap();
    }

    /// Review s29: housekeeping slept 86,400 s on tokio's timer, so a
    /// machine suspended overnight (or put forward by NTP) trimmed the
    /// fetch log and applied retention a day late. Now a day by the clock
    /// is noticed within `clock::MAX_SLEEP`.
    #[tokio::test]
    async fn housekeeping_runs_soon_after_the_clock_jumps_a_day() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.db");
        let text = format!(
            "[storage]\npath = \"{}\"\nfetch_log_days = 1\n",
            path.display()
        );
        let config = crate::config::resolve_str(&text, Path::new("/etc/tickerfeed")).unwrap();
        let store = Store::open(&path).unwrap();
        // A fetch an hour ago: the first run (now) keeps it, a run a day
        // on trims it.
        let db = rusqlite::Connection::open(&path).unwrap();
        db.execute_batch(
            "INSERT INTO feeds (id, name, url, schedule, created_at)
             VALUES (1, 'f', 'http://f.test/', '@hourly', '2026-11-24T08:00:00Z');
             INSERT INTO fetches (feed_id, started_at, url, status, result, duration_ms)
             VALUES (1, '2026-11-24T08:00:00Z', 'http://f.test/', 200, 'ok', 5);",
        )
        .unwrap();
        let fetches = || -> i64 {
            db.query_row("SELECT count(*) FROM fetches", [], |r| r.get(0))
                .unwrap()
        };
        let (c, clock) = fixed_clock();
        let (_storage_tx, storage_rx) = watch::channel(config.storage.clone());
        let stop = CancellationToken::new();
        let task = tokio::spawn(housekeeping(store, clock, storage_rx, stop.clone()));
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(fetches(), 1, "an hour old: kept");
        tokio::time::pause();
        c.advance(chrono::Duration::days(2));
        assert!(
            within_max_sleep(|| fetches() == 0).await,
            "a day on by the clock, the fetch log is not trimmed"
        );
        stop.cancel();
        task.await.unwrap();
    }

    /// A daemon that could not listen for SIGHUP keeps its board's tasks
    /// (and publishing) until shutdown: it only gives up reloads.
    #[tokio::test]
    async fn without_sighup_the_market_runs_until_shutdown() {
        let dir = tempfile::tempdir().unwrap();
        let text = format!(
            "[storage]\npath = \"{}\"\n[market]\nprovider = \"stooq\"\nbase_url = \"http://127.0.0.1:9/\"\nsymbols = [\"AAPL\"]\n",
            dir.path().join("a.db").display()
        );
        let config = crate::config::resolve_str(&text, Path::new("/etc/tickerfeed")).unwrap();
        let clock: SharedClock = Arc::new(crate::clock::SystemClock);
        let opened = open(&config, Arc::clone(&clock)).await.unwrap();
        let shutdown = CancellationToken::new();
        let market = Market::start(
            opened.pipeline.board.get().unwrap(),
            opened.reactions.clone().unwrap(),
            opened.store.clone(),
            Arc::clone(&clock),
            &shutdown,
        );
        let market_stopped = market.stop.clone();
        let bound = "127.0.0.1:0".parse().unwrap();
        let http = http::HttpState::new(
            Arc::clone(&opened.pipeline.metrics),
            opened.pipeline.board.clone(),
            opened.store.clone(),
            http::Published::from_config(&config, Some(bound), clock.now()),
            Heartbeat::new(clock.now()),
            Arc::clone(&clock),
        );
        let websub = WebSubParts {
            http: http.clone(),
            store: opened.store.clone(),
            clock: Arc::clone(&clock),
            metrics: Arc::clone(&opened.pipeline.metrics),
            clients: push::webhook::Clients::new("test").unwrap(),
        };
        let live = Live {
            publishing: Publishing::start(&websub, &config, bound, &shutdown),
            http,
            bound,
            board: opened.pipeline.board.clone(),
            market: Some(market),
            websub,
            retiring: Vec::new(),
            subscriber: None,
            feeds: watch::channel(opened.feeds.clone()).0,
            articles: opened.articles.clone(),
            alerts: watch::channel(Vec::new()).0,
            storage: watch::channel(config.storage.clone()).0,
        };
        let reloads = tokio::spawn(reload_on_hangup(
            None,
            config.clone(),
            opened.store.clone(),
            live,
            Notifier::new(None),
            Arc::clone(&clock),
            shutdown.clone(),
        ));
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(!market_stopped.is_cancelled(), "the board's tasks stopped");
        assert!(!reloads.is_finished());
        shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(10), reloads)
            .await
            .expect("stopped with the daemon")
            .unwrap();
        assert!(market_stopped.is_cancelled());
    }

    #[test]
    fn a_reload_applies_market_changes_the_running_board_can_take() {
        let running = market("stooq", "k1");
        let board = board(&running);
        let reload = |new: &MarketConfig| market_reload(Some(&board), Some(new));
        // Only the key: handed over on its own (key_for_board).
        assert_eq!(reload(&market("stooq", "k2")), Ok(MarketReload::Unchanged));
        let mut more = running.clone();
        more.instruments.push(more.instruments[0].clone());
        more.instruments[1].symbol = "MSFT".into();
        assert_eq!(
            reload(&more),
            Ok(MarketReload::Apply(Box::new(more.clone())))
        );
        let mut relabelled = running.clone();
        relabelled.label = "NYSE".into();
        assert_eq!(
            reload(&relabelled),
            Ok(MarketReload::Apply(Box::new(relabelled.clone())))
        );
        // Another provider or endpoint: at once, with a client of its own.
        let yahoo = market("yahoo", "k1");
        assert_eq!(
            reload(&yahoo),
            Ok(MarketReload::Apply(Box::new(yahoo.clone())))
        );
        let mut moved = running.clone();
        moved.base_url = Some(url::Url::parse("http://127.0.0.1:9/").unwrap());
        assert_eq!(
            reload(&moved),
            Ok(MarketReload::Apply(Box::new(moved.clone())))
        );
        // Added or removed: started or stopped.
        assert_eq!(
            market_reload(None, Some(&running)),
            Ok(MarketReload::Add(Box::new(running.clone())))
        );
        assert_eq!(market_reload(Some(&board), None), Ok(MarketReload::Remove));
        assert_eq!(market_reload(None, None), Ok(MarketReload::Unchanged));
        // An exchange without a calendar is refused, changed or added.
        let mut tokyo = running.clone();
        tokyo.instruments[0].exchange = Some("XTKS".into());
        assert!(reload(&tokyo).is_err());
        assert!(market_reload(None, Some(&tokyo)).is_err());
        tokyo.provider = crate::model::ProviderKind::Yahoo;
        assert!(reload(&tokyo).is_err());
    }
}
