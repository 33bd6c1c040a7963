//! Wiring and lifecycle of the daemon and the one-shot commands.
//!
//! `run` opens the archive, syncs the configured feeds into it, binds the
//! listener, starts HTTP and the scheduler, and on shutdown stops them in
//! order: scheduling stops, in-flight polls finish (bounded), HTTP drains,
//! and the store is dropped last.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::clock::SharedClock;
use crate::config::Config;
use crate::config::FeedConfig;
use crate::model::FeedId;
use crate::pipeline::Pipeline;
use crate::pipeline::fetch::Fetcher;
use crate::quotes::board::Board;
use crate::schedule::Schedule;
use crate::scheduler::{self, Heartbeat};
use crate::store::Store;
use crate::{http, render};

/// The archive opened and the configured feeds registered in it.
pub struct Opened {
    pub store: Store,
    pub pipeline: Pipeline,
    pub feeds: Vec<(FeedConfig, FeedId)>,
}

/// Opens the archive for `config` and registers its feeds.
pub async fn open(config: &Config, clock: SharedClock) -> Result<Opened> {
    let store = Store::open(&config.storage.path).context("opening the archive")?;
    let ids = store
        .sync_feeds(&config.feeds, clock.now())
        .await
        .context("registering the configured feeds in the archive")?;
    let feeds = config
        .feeds
        .iter()
        .map(|f| (f.clone(), ids[&f.name]))
        .collect();
    let fetcher = Fetcher::new(&config.fetch).context("setting up the HTTP client")?;
    let board = match &config.market {
        None => None,
        Some(market) => {
            let http = reqwest::Client::builder()
                .user_agent(config.fetch.user_agent.clone())
                .connect_timeout(config.fetch.connect_timeout)
                .build()
                .context("setting up the quote client")?;
            let board = Board::new(market.clone(), http);
            board
                .seed(&store)
                .await
                .context("loading the last known quotes from the archive")?;
            Some(Arc::new(board))
        }
    };
    // Host pauses survive restarts: a Retry-After of a day is honoured
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
        board,
        policy: config.fetch.clone(),
    };
    Ok(Opened {
        store,
        pipeline,
        feeds,
    })
}

/// The daemon: poll on schedules and serve HTTP until `shutdown`.
pub async fn run(config: Config, clock: SharedClock, shutdown: CancellationToken) -> Result<()> {
    let Opened {
        store,
        pipeline,
        feeds,
    } = open(&config, Arc::clone(&clock)).await?;
    let listener = TcpListener::bind(config.server.listen)
        .await
        .with_context(|| format!("listening on {}", config.server.listen))?;
    serve_with(config, clock, shutdown, store, pipeline, feeds, listener).await
}

/// The daemon on an already bound listener (socket activation, tests).
pub async fn serve_with(
    config: Config,
    clock: SharedClock,
    shutdown: CancellationToken,
    store: Store,
    pipeline: Pipeline,
    feeds: Vec<(FeedConfig, FeedId)>,
    listener: TcpListener,
) -> Result<()> {
    let local = listener
        .local_addr()
        .context("reading the listening address")?;
    let heartbeat = Heartbeat::new(clock.now());
    let tags: HashSet<String> = config
        .feeds
        .iter()
        .flat_map(|f| f.tags.iter().cloned())
        .collect();
    let state = http::HttpState::new(
        pipeline.board.clone(),
        store.clone(),
        config.output.clone(),
        config.public_base(),
        tags,
        Arc::clone(&heartbeat),
        Arc::clone(&clock),
    );
    // HTTP gets its own token, cancelled only after polls have drained, so
    // the feed stays readable while the scheduler winds down.
    let http_stop = CancellationToken::new();
    let http_task = tokio::spawn(http::serve(listener, state, http_stop.clone()));
    info!(
        listen = %local,
        feed = %config.public_base().join(&render::path_for(render::Format::Atom, None)).map(|u| u.to_string()).unwrap_or_default(),
        feeds = feeds.len(),
        database = %store.path().display(),
        "tickerfeed running"
    );

    // Notice writes by other processes (a `tickerfeed poll` beside us) so
    // the HTTP cache does not serve a stale document.
    let watcher = {
        let store = store.clone();
        let stop = shutdown.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tokio::time::sleep(Duration::from_secs(2)) => {
                        if let Err(e) = store.notice_external_writes().await {
                            warn!(error = %e, "could not check the archive for outside changes");
                        }
                    }
                }
            }
        })
    };

    // The board refreshes on its own schedule, independently of feeds.
    let refresher = pipeline.board.clone().map(|board| {
        let schedule = config
            .market
            .as_ref()
            .map(|m| m.schedule.clone())
            .expect("a board exists only with a [market] config");
        tokio::spawn(refresh_board(
            board,
            schedule,
            store.clone(),
            Arc::clone(&clock),
            shutdown.clone(),
        ))
    });

    let scheduled = scheduler::run(
        pipeline,
        feeds,
        config.fetch.concurrency,
        heartbeat,
        shutdown.clone(),
    )
    .await;
    http_stop.cancel();
    let _ = watcher.await;
    if let Some(r) = refresher {
        let _ = r.await;
    }
    match tokio::time::timeout(Duration::from_secs(10), http_task).await {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(e))) => warn!(error = %e, "HTTP server stopped with an error"),
        Ok(Err(e)) => warn!(error = %e, "HTTP server task failed"),
        Err(_) => warn!("HTTP connections did not drain within 10 s; closing them"),
    }
    scheduled.context("running the scheduler")?;
    drop(store);
    info!("stopped cleanly");
    Ok(())
}

/// Refreshes the board now and then on `schedule` until `shutdown`.
async fn refresh_board(
    board: Arc<Board>,
    schedule: Schedule,
    store: Store,
    clock: SharedClock,
    shutdown: CancellationToken,
) {
    loop {
        let now = clock.now();
        match board.refresh(&store, now).await {
            Ok(report) => board.log_refresh(&report),
            Err(e) => {
                warn!(error = %e, "could not archive quotes; the board keeps its last values")
            }
        }
        let wait = schedule
            .next_after(clock.now())
            .and_then(|t| (t - clock.now()).to_std().ok())
            .unwrap_or(Duration::from_secs(300));
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
    }
}
