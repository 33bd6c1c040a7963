//! Integration tests: real HTTP servers on 127.0.0.1 port 0, real SQLite
//! files in temp dirs, the real binary for process-level behaviour.
//!
//! Where tests go:
//! - `alerts`: webhooks fed from the outbox: formats, signatures,
//!   retries, Retry-After, the SSRF guard, what fires and what does not.
//! - `readme`: the README's first two commands stay true.
//! - `refresh`: one poll end to end (fetch, parse, dedup, store) and what
//!   the archive holds afterwards.
//! - `schema`: docs/schema.md against a populated archive: every table and
//!   view documented, every cookbook query runs.
//! - `serve`: the merged feed over HTTP (formats, validators, tags, health).
//! - `archive`: the archive as a public record: provenance, aliases,
//!   revisions, tombstones, search, paging, readers beside the writer.
//! - `export`: `tickerfeed export` and `/export.jsonl` on an archive the
//!   binary polled from loopback: line contents, CSV header, filters,
//!   errors, atomic `--out`, the `[web] export` switch.
//! - `crash`: `kill -9` during polls, then a restart: nothing lost or
//!   doubled, the archive intact.
//! - `interop`: the real binary read by outside software (xmllint,
//!   feedparser, Newsboat, feed-rs) and the JSON Feed 1.1 rules.
//! - `fulltext`: the article behind the teaser (`[[feeds]] fulltext`):
//!   extraction from real-structured pages, search, mentions, robots.txt,
//!   failures, never fetching a page twice.
//! - `layers`: the crate's architecture: imports point down the layers
//!   `src/lib.rs` lists.
//! - `market`: the ticker board: providers replayed on loopback, snapshots
//!   stamped at ingest, the market views.
//! - `mentions_eval`: mentions against labelled real headlines: precision
//!   and recall of at least 0.95 (issue 19).
//! - `opml`: import real exports from other readers, export and serve.
//! - `reactions`: price reactions after the news: market hours, recorded
//!   quotes, backfill from replayed history within the budget.
//! - `polite`: politeness and survival on the wire: encodings, caps,
//!   timeouts, redirects, 410, Retry-After, backoff, hints, host limits.
//! - `secrets`: feed URLs whose keys come from the environment: the
//!   server gets them; the archive, the log and exports never do; the
//!   commands that only read run without them.
//! - `process`: the real binary: commands, exit codes, config errors,
//!   signals.
//! - `operator`: faults outside the daemon as the operator sees them (log,
//!   `/healthz`, `/metrics`): a refused reload, an archive that takes no
//!   writes; nothing lost once they are mended.
//! - `service`: the real binary under a stand-in service manager: notify
//!   messages, reload on SIGHUP, socket activation.
//! - `survive`: the broken-feed corpus in tests/fixtures/feeds and
//!   pathological documents: parsed or refused, never a crash.
//! - `views`: views and rules: selections served as feeds, the merged
//!   feed's excludes, the dry run, config errors.
//! - `web`: the pages: the news river, articles, tags, views, search,
//!   assets, the 404, security headers and escaping.
//! - `websub_subscriber`: tickerfeed subscribing to a loopback WebSub hub:
//!   verification, signed and forged pushes, renewal, fallback polling.
//! - `systemd`: sd_notify messages against a real datagram socket;
//!   `supervise`.
//! - `websub_hub`: WebSub publishing: our hub (subscribe, verify,
//!   signed pushes, unsubscribe, leases across restarts, refusals), the
//!   `rel="hub"`/`rel="self"` links and headers, pinging an external hub.
//! - `tls`: feeds over HTTPS against the system's certificate store
//!   (`SSL_CERT_FILE`): trusted, untrusted, none at all.
//! - `browser`: the pages in outside software: the Nu HTML Checker,
//!   headless Chromium at a phone's and a desktop's width, axe-core.

mod alerts;
mod archive;
mod browser;
mod crash;
mod export;
mod fulltext;
pub(crate) mod interop;
mod layers;
mod market;
mod mentions_eval;
mod operator;
mod opml;
mod polite;
pub(crate) mod process;
mod reactions;
mod readme;
mod refresh;
mod schema;
mod secrets;
pub(crate) mod serve;
mod service;
mod survive;
mod systemd;
mod tls;
mod util;
mod views;
mod web;
mod websub_hub;
mod websub_subscriber;
