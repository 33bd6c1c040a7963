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
//!   2 parse      pipeline::parse      bytes -> feed-rs model, repaired, isolated from panics
//!   3 normalize  pipeline::normalize  keys, canonical links, absolute links, sanitised HTML
//!   3b enrich    pipeline::enrich     which configured instruments an item mentions
//!   4 store      store                dedup, aliases, revisions, snapshots, fetch log:
//!                                     one transaction per fetch
//! quotes::board   refreshes the ticker board on its own schedule; read at ingest
//! HTTP /feed.{atom,rss,json}: http -> store (a page of items) -> render
//! ```
//!
//! Around it: `config` (read and checked once), `clock` (the only reader of
//! wall time), `app` (wiring and lifecycle), `cli` (commands), `health`
//! (one snapshot of the daemon's health, rendered for systemd and
//! `/healthz`), `systemd` (notify, watchdog, socket activation), `shutdown`
//! (signals), `metrics` (Prometheus), `opml` (feed lists), `model` (shared
//! domain types), `markup` (escaping for XML and HTML, shared by pipeline,
//! render and opml), `link` (canonical article links, shared by normalize
//! and the store's dedup), `politeness`
//! (the registrable-domain bucket that per-host limits and pauses count
//! per, and `Retry-After` parsing, for fetch and quotes).
pub mod app;
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
pub mod quotes;
pub mod render;
pub mod schedule;
pub mod scheduler;
pub mod shutdown;
pub mod store;
pub mod systemd;
