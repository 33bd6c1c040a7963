//! tickerfeed: a feed aggregator daemon that stamps every news item with a
//! snapshot of a stock-market ticker board.
//!
//! The pipeline, one module per stage:
//!
//! ```text
//! schedule (cron + hints -> next due)       scheduler (loop, limits, shutdown)
//!                         | feed due
//!                         v
//! pipeline::refresh_feed
//!   1 fetch      pipeline::fetch      conditional GET, size cap, timeouts
//!   2 parse      pipeline::parse      bytes -> feed-rs model, isolated from panics
//!   3 normalize  pipeline::normalize  keys, absolute links, sanitised HTML
//!   4 store      store                dedup, insert/update in one transaction
//! HTTP /feed.{atom,rss,json}: http -> store (recent items) -> render
//! ```
pub mod app;
pub mod cli;
pub mod clock;
pub mod config;
pub mod http;
pub mod metrics;
pub mod model;
pub mod opml;
pub mod pipeline;
pub mod quotes;
pub mod render;
pub mod schedule;
pub mod scheduler;
pub mod shutdown;
pub mod store;
pub mod systemd;
