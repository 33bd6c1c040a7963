//! tickerfeed: a feed aggregator daemon that stamps every news item with a
//! snapshot of a stock-market ticker board.
//!
//! The pipeline, one module per stage:
//!
//! ```text
//! schedule (cron + floors + skip windows -> next due)   scheduler (loop, reload, shutdown)
//!                         | feed due
//!                         v
//! Pipeline::refresh_feed (pipeline/mod.rs, the orchestrator)
//!   1 fetch      pipeline::fetch      conditional GET, redirects, per-site limits,
//!                                     decoded-size cap, timeouts, Retry-After
//!   2 read       pipeline::parse      bytes -> feed-rs model: ordinary RSS 2.0 and Atom 1.0
//!                                     by a quick-xml fast path, the rest repaired and
//!                                     read by feed-rs; isolated from panics; beside it
//!                                     what the model has no room for (guids that are no
//!                                     permalinks, the xml:base of each text)
//!                pipeline::normalize  keys, canonical links, absolute links, sanitised HTML
//!                                     (pipeline::sanitize streams it; ammonia behind)
//!                pipeline::enrich     which configured instruments a new item mentions
//!                                     -> one model::Outcome for the poll
//!   3 plan       schedule::PollState  the next due time (cron, backoff, hints, pauses)
//!   4 record     store                dedup, aliases, revisions, snapshots, fetch log:
//!                                     one transaction per fetch, with what new
//!                                     items bring: view rule matches, the
//!                                     alerts due (outbox), article pages to fetch;
//!                                     the search index after it commits
//! pipeline::fulltext  fetches queued article pages politely, extracts and
//!                 keeps the article beside the item (fulltext feeds)
//! push::alerts    sends the outbox to webhooks; deletes a message after a 2xx
//! push::publish   WebSub: a changed feed is pinged to an external hub and
//!                 pushed to our hub's subscribers (push::hub verifies them)
//! websub          subscribes to hubs polls discover (pipeline::hub); a push
//!                 is checked and ingested by Pipeline::ingest_pushed
//! quotes::board   refreshes the ticker board on its own schedule; read at ingest
//! quotes::reactions  reads each mention's price reaction off the board's series
//!                 as its times pass (exchange calendars), backfilling gaps from
//!                 provider history within the board's budget
//! HTTP /feed.{atom,rss,json}, /tags/..., /views/..., and the pages (/, /items/...):
//!     http -> store (a page of model::Entry, chosen by a select::Selection) -> render
//!     (render::html with templates/ for the pages people read)
//! tickerfeed export, HTTP /export.jsonl: store::export walks the archive on
//!     a read-only connection of its own, one item at a time -> render::export
//!     (JSON Lines, CSV) -> a file, stdout or a streamed body
//! ```
//!
//! Imports point one way: a module imports only modules listed before it
//! (a test in `tests/integration/layers.rs` holds this order):
//!
//! 1. `clock` (the only reader of wall time), `markup` (escaping for XML and
//!    HTML), `cause` (an error and its causes on one line), `link` (canonical article links), `politeness` (the
//!    registrable-domain bucket that per-site limits and pauses count per,
//!    and `Retry-After` parsing), `schedule` (crontab schedules, skip
//!    windows, next due), `trust` (the certificate authorities every
//!    outgoing HTTP client trusts, read once);
//! 2. `model` (domain types: items, entries, snapshots, quotes, providers,
//!    a poll's [`model::Outcome`]), `select` (views and rules: which
//!    archived items an output shows), `config` (read and checked once,
//!    with `Secret`s);
//! 3. `store` (the archive; the only user of rusqlite), `render` (Atom,
//!    RSS, JSON Feed, the ticker strip, the HTML pages and the price chart
//!    from model types), `opml` (feed lists);
//! 4. `quotes` (providers, the board, mentions), `metrics` (Prometheus),
//!    `push` (the alert sender, its message formats and SSRF guard, the
//!    WebSub hub and publisher);
//! 5. `pipeline` (the stages and the orchestrator);
//! 6. `scheduler` (the loop), `websub` (the WebSub subscriber: subscribes
//!    to the hubs polls discover, renews leases, checks and ingests
//!    pushes through the pipeline), `health` (one snapshot for systemd and
//!    `/healthz`);
//! 7. `systemd` (notify, watchdog, socket activation), `shutdown`
//!    (signals), `http` (the server);
//! 8. `app` (wiring and lifecycle), `cli` (commands).
pub mod app;
pub mod cause;
pub mod cli;
pub mod clock;
pub mod config;
pub mod health;
pub mod http;
pub mod link;
pub mod markup;
pub mod metrics;
pub mod model;
pub mod opml;
pub mod pipeline;
pub mod politeness;
pub mod push;
pub mod quotes;
pub mod render;
pub mod schedule;
pub mod scheduler;
pub mod select;
pub mod shutdown;
pub mod store;
pub mod systemd;
pub mod trust;
pub mod websub;
