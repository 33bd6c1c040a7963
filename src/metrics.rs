//! Prometheus metrics: what the daemon did, for `/metrics`.
//!
//! Counters, histograms and the scheduler's lag are updated where the work
//! happens (the pipeline records each fetch, the HTTP layer each request and
//! render, the scheduler its lag at each dispatch); values that are cheap to
//! read at scrape time (database size, item count, board age) are set just
//! before encoding. Encoding is prometheus-client's
//! OpenMetrics text, which Prometheus scrapes natively.

use std::sync::atomic::AtomicU64;

use chrono::{DateTime, Utc};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::model::Outcome;
use crate::store::{Exchange, IngestSummary, OutboxCount};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FetchLabels {
    /// [`Outcome::as_str`]: `ok`, `not_modified`, `unchanged`, `error`,
    /// `throttled`, `gone` or `deferred` (nothing sent: the site is paused).
    result: String,
    /// `2xx`, `3xx`, `4xx`, `5xx`, or `none` (no answer).
    status_class: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabel {
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ViewLabel {
    view: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AlertLabels {
    alert: String,
    /// Deliveries: `sent`, `retried` or `failed`; the outbox: `pending`
    /// or `failed`.
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AlertLabel {
    alert: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabel {
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TopicLabel {
    topic: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    route: String,
    status: String,
}

/// Every metric the daemon exports.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    fetches: Family<FetchLabels, Counter>,
    fetch_seconds: Histogram,
    bytes: Family<KindLabel, Counter>,
    items: Family<KindLabel, Counter>,
    parse_errors: Counter,
    http: Family<HttpLabels, Counter>,
    renders: Counter,
    view_requests: Family<ViewLabel, Counter>,
    view_renders: Family<ViewLabel, Counter>,
    scheduler_lag: Gauge<f64, AtomicU64>,
    /// No labels; no sample at all without a board (a 0 would read as a
    /// board refreshed this instant).
    quotes_age: Family<Vec<(String, String)>, Gauge<f64, AtomicU64>>,
    database_bytes: Gauge,
    archive_items: Gauge,
    wal_bytes: Gauge,
    wal_blocked: Gauge,
    archive_writable: Gauge,
    reload_successful: Gauge,
    alert_deliveries: Family<AlertLabels, Counter>,
    alert_outbox: Family<AlertLabels, Gauge>,
    /// Per alert with messages pending; none for the others.
    alert_oldest_pending: Family<AlertLabel, Gauge<f64, AtomicU64>>,
    article_fetches: Family<ResultLabel, Counter>,
    articles: Family<ResultLabel, Gauge>,
    websub_pushes: Family<ResultLabel, Counter>,
    websub_pings: Family<ResultLabel, Counter>,
    websub_subscribers: Family<TopicLabel, Gauge>,
    websub_queue: Family<ResultLabel, Gauge>,
    websub_received: Family<ResultLabel, Counter>,
    websub_requests: Family<ResultLabel, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let fetches = Family::<FetchLabels, Counter>::default();
        registry.register(
            "tickerfeed_fetches",
            "Feed fetches by result and HTTP status class",
            fetches.clone(),
        );
        // 10 ms to ~40 s.
        let fetch_seconds = Histogram::new(exponential_buckets(0.01, 2.0, 13));
        registry.register(
            "tickerfeed_fetch_duration_seconds",
            "Time per feed fetch (from its turn: waiting for its site, request, parse and store)",
            fetch_seconds.clone(),
        );
        let bytes = Family::<KindLabel, Counter>::default();
        registry.register(
            "tickerfeed_fetch_bytes",
            "Body bytes fetched: kind=wire (compressed) or decoded",
            bytes.clone(),
        );
        let items = Family::<KindLabel, Counter>::default();
        registry.register(
            "tickerfeed_items",
            "Items ingested: kind=new, updated or merged",
            items.clone(),
        );
        let parse_errors = Counter::default();
        registry.register(
            "tickerfeed_parse_errors",
            "Documents that could not be read as a feed",
            parse_errors.clone(),
        );
        let http = Family::<HttpLabels, Counter>::default();
        registry.register(
            "tickerfeed_http_requests",
            "HTTP requests served by route and status",
            http.clone(),
        );
        let renders = Counter::default();
        registry.register(
            "tickerfeed_renders",
            "Served documents rendered (the rest come from the render cache)",
            renders.clone(),
        );
        let view_requests = Family::<ViewLabel, Counter>::default();
        registry.register(
            "tickerfeed_view_requests",
            "Requests for each view's feeds ([[views]]), whatever the answer",
            view_requests.clone(),
        );
        let view_renders = Family::<ViewLabel, Counter>::default();
        registry.register(
            "tickerfeed_view_renders",
            "Documents rendered for each view (the rest come from the render cache)",
            view_renders.clone(),
        );
        let scheduler_lag = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "tickerfeed_scheduler_lag_seconds",
            "How late the last poll started after it fell due (or after the daemon started, for a feed due while it was stopped)",
            scheduler_lag.clone(),
        );
        let quotes_age = Family::<Vec<(String, String)>, Gauge<f64, AtomicU64>>::default();
        registry.register(
            "tickerfeed_quotes_age_seconds",
            "Seconds since the ticker board's last successful refresh, or since the board was set up (the daemon's start, or the reload that added [market]) while it has had none; not how old its prices are",
            quotes_age.clone(),
        );
        let database_bytes = Gauge::default();
        registry.register(
            "tickerfeed_database_bytes",
            "Size of the archive and its WAL",
            database_bytes.clone(),
        );
        let archive_items = Gauge::default();
        registry.register(
            "tickerfeed_archive_items",
            "Items in the archive",
            archive_items.clone(),
        );
        let wal_bytes = Gauge::default();
        registry.register(
            "tickerfeed_wal_bytes",
            "Size of the archive's write-ahead log",
            wal_bytes.clone(),
        );
        let wal_blocked = Gauge::default();
        registry.register(
            "tickerfeed_wal_blocked",
            "1 while a reader holding the archive open keeps checkpoints from emptying the write-ahead log, which grows with every write",
            wal_blocked.clone(),
        );
        let archive_writable = Gauge::default();
        registry.register(
            "tickerfeed_archive_writable",
            "0 from a write the archive refused (disk full, read-only, I/O error) until a write commits; 1 otherwise",
            archive_writable.clone(),
        );
        let reload_successful = Gauge::default();
        registry.register(
            "tickerfeed_config_last_reload_successful",
            "0 when the last config reload was refused (the daemon runs the config it had, not the file's); 1 otherwise",
            reload_successful.clone(),
        );
        let alert_deliveries = Family::<AlertLabels, Counter>::default();
        registry.register(
            "tickerfeed_alert_deliveries",
            "Alert messages delivered or attempted, as the archive recorded them, by alert and result: sent (2xx), retried (will be tried again) or failed (kept as failed); a max_per_hour summary is one message however many items it carries",
            alert_deliveries.clone(),
        );
        let alert_outbox = Family::<AlertLabels, Gauge>::default();
        registry.register(
            "tickerfeed_alert_outbox",
            "Alert messages in the outbox by alert and result: pending or failed",
            alert_outbox.clone(),
        );
        let alert_oldest_pending = Family::<AlertLabel, Gauge<f64, AtomicU64>>::default();
        registry.register(
            "tickerfeed_alert_oldest_pending_seconds",
            "Per alert with messages pending, how long ago the oldest of them was queued; no sample for an alert with none",
            alert_oldest_pending.clone(),
        );
        let article_fetches = Family::<ResultLabel, Counter>::default();
        registry.register(
            "tickerfeed_article_fetches",
            "Article page fetches ([[feeds]] fulltext) by result: fetched, failed, disallowed (robots.txt), retry (will be tried again) or deferred (site paused)",
            article_fetches.clone(),
        );
        let articles = Family::<ResultLabel, Gauge>::default();
        registry.register(
            "tickerfeed_articles",
            "Items' article pages in the archive by state: pending, fetched, failed or disallowed",
            articles.clone(),
        );
        let websub_pushes = Family::<ResultLabel, Counter>::default();
        registry.register(
            "tickerfeed_websub_pushes",
            "WebSub pushes to our hub's subscribers by result: sent (2xx), retried or failed (kept as failed)",
            websub_pushes.clone(),
        );
        let websub_pings = Family::<ResultLabel, Counter>::default();
        registry.register(
            "tickerfeed_websub_pings",
            "Publish pings to the external WebSub hub by result: sent (2xx), retried or failed (given up)",
            websub_pings.clone(),
        );
        let websub_subscribers = Family::<TopicLabel, Gauge>::default();
        registry.register(
            "tickerfeed_websub_subscribers",
            "Live WebSub leases on our hub, by topic",
            websub_subscribers.clone(),
        );
        let websub_queue = Family::<ResultLabel, Gauge>::default();
        registry.register(
            "tickerfeed_websub_queue",
            "WebSub pushes waiting by result: pending or failed",
            websub_queue.clone(),
        );
        let websub_received = Family::<ResultLabel, Counter>::default();
        registry.register(
            "tickerfeed_websub_received",
            "Documents WebSub hubs pushed to our callbacks, by result: ingested, bad_signature (ignored), unknown_subscription (410) or failed (not recorded)",
            websub_received.clone(),
        );
        let websub_requests = Family::<ResultLabel, Counter>::default();
        registry.register(
            "tickerfeed_websub_subscribe_requests",
            "Subscribe and renewal requests to WebSub hubs, by result: accepted (2xx) or failed; and the hubs' answers: verified or denied",
            websub_requests.clone(),
        );
        Metrics {
            registry,
            article_fetches,
            articles,
            websub_pushes,
            websub_pings,
            websub_subscribers,
            websub_queue,
            websub_received,
            websub_requests,
            alert_deliveries,
            alert_outbox,
            alert_oldest_pending,
            fetches,
            fetch_seconds,
            bytes,
            items,
            parse_errors,
            http,
            renders,
            view_requests,
            view_renders,
            scheduler_lag,
            quotes_age,
            database_bytes,
            archive_items,
            wal_bytes,
            wal_blocked,
            archive_writable,
            reload_successful,
        }
    }

    /// One poll that reached the fetch stage: how it ended, what crossed
    /// the wire, how long it took, what it changed in the archive.
    pub fn fetch(
        &self,
        outcome: Outcome,
        exchange: &Exchange,
        seconds: f64,
        summary: &IngestSummary,
    ) {
        let status_class = match exchange.status {
            Some(s) => format!("{}xx", s / 100),
            None => "none".into(),
        };
        self.fetches
            .get_or_create(&FetchLabels {
                result: outcome.as_str().into(),
                status_class,
            })
            .inc();
        self.fetch_seconds.observe(seconds);
        for (kind, n) in [("wire", exchange.wire_bytes), ("decoded", exchange.bytes)] {
            if let Some(n) = n {
                self.bytes
                    .get_or_create(&KindLabel { kind: kind.into() })
                    .inc_by(n);
            }
        }
        for (kind, n) in [
            ("new", summary.new),
            ("updated", summary.updated),
            ("merged", summary.merged),
        ] {
            if n > 0 {
                self.items
                    .get_or_create(&KindLabel { kind: kind.into() })
                    .inc_by(n as u64);
            }
        }
        if matches!(outcome, Outcome::Failed(kind) if kind.is_parse()) {
            self.parse_errors.inc();
        }
    }

    /// One HTTP request served.
    pub fn http_request(&self, route: &str, status: u16) {
        self.http
            .get_or_create(&HttpLabels {
                route: route.into(),
                status: status.to_string(),
            })
            .inc();
    }

    /// One document rendered for HTTP (a render cache miss).
    pub fn render(&self) {
        self.renders.inc();
    }

    /// One request for a view's feed.
    pub fn view_request(&self, view: &str) {
        self.view_requests
            .get_or_create(&ViewLabel { view: view.into() })
            .inc();
    }

    /// One document rendered for a view (counted in `render` too).
    pub fn view_render(&self, view: &str) {
        self.view_renders
            .get_or_create(&ViewLabel { view: view.into() })
            .inc();
    }

    /// One alert message delivered or attempted: `sent`, `retried` or
    /// `failed`. A `max_per_hour` summary is one, whatever it carries.
    pub fn alert_delivery(&self, alert: &str, result: &str) {
        self.alert_deliveries
            .get_or_create(&AlertLabels {
                alert: alert.into(),
                result: result.into(),
            })
            .inc();
    }

    /// The outbox at scrape time (`now`): each of the `configured`
    /// alerts reads 0 pending and 0 failed unless `counts` lists more (an
    /// alert whose sample vanished once its outbox emptied looked like one
    /// no longer scraped); a removed alert's messages are listed while
    /// they wait. An alert with nothing pending has no oldest pending
    /// message.
    pub fn alert_outbox(&self, configured: &[&str], counts: &[OutboxCount], now: DateTime<Utc>) {
        self.alert_outbox.clear();
        self.alert_oldest_pending.clear();
        for alert in configured {
            for state in ["pending", "failed"] {
                self.alert_outbox
                    .get_or_create(&AlertLabels {
                        alert: alert.to_string(),
                        result: state.into(),
                    })
                    .set(0);
            }
        }
        for c in counts {
            self.alert_outbox
                .get_or_create(&AlertLabels {
                    alert: c.alert.clone(),
                    result: c.state.clone(),
                })
                .set(c.messages);
            if c.state == "pending" {
                let age = (now - c.oldest).num_milliseconds().max(0) as f64 / 1000.0;
                self.alert_oldest_pending
                    .get_or_create(&AlertLabel {
                        alert: c.alert.clone(),
                    })
                    .set(age);
            }
        }
    }

    /// One article page fetch and how it ended
    /// (`store::ArticleResult::as_str`).
    pub fn article(&self, result: &str) {
        self.article_fetches
            .get_or_create(&ResultLabel {
                result: result.into(),
            })
            .inc();
    }

    /// One WebSub push attempt: `sent`, `retried` or `failed`.
    pub fn websub_push(&self, result: &str) {
        self.websub_pushes
            .get_or_create(&ResultLabel {
                result: result.into(),
            })
            .inc();
    }

    /// The article rows at scrape time: `(state, rows)`.
    pub fn articles(&self, counts: &[(String, i64)]) {
        self.articles.clear();
        for (state, n) in counts {
            self.articles
                .get_or_create(&ResultLabel {
                    result: state.clone(),
                })
                .set(*n);
        }
    }

    /// One publish ping of the external hub: `sent`, `retried` or `failed`.
    pub fn websub_ping(&self, result: &str) {
        self.websub_pings
            .get_or_create(&ResultLabel {
                result: result.into(),
            })
            .inc();
    }

    /// The hub at scrape time: live leases per topic and pushes per state.
    pub fn websub_hub(&self, subscribers: &[(String, i64)], queue: &[(String, i64)]) {
        self.websub_subscribers.clear();
        for (topic, n) in subscribers {
            self.websub_subscribers
                .get_or_create(&TopicLabel {
                    topic: topic.clone(),
                })
                .set(*n);
        }
        self.websub_queue.clear();
        for (state, n) in queue {
            self.websub_queue
                .get_or_create(&ResultLabel {
                    result: state.clone(),
                })
                .set(*n);
        }
    }

    /// One push a hub made to one of our callbacks: `ingested`,
    /// `bad_signature`, `unknown_subscription` or `failed`.
    pub fn websub_received(&self, result: &str) {
        self.websub_received
            .get_or_create(&ResultLabel {
                result: result.into(),
            })
            .inc();
    }

    /// One subscribe request (`accepted`, `failed`) or hub answer
    /// (`verified`, `denied`); for unsubscribing, the request
    /// (`unsubscribe_accepted`, `unsubscribe_failed`) and the hub's
    /// verification (`unsubscribed`).
    pub fn websub_request(&self, result: &str) {
        self.websub_requests
            .get_or_create(&ResultLabel {
                result: result.into(),
            })
            .inc();
    }

    pub fn scheduler_lag(&self, seconds: f64) {
        self.scheduler_lag.set(seconds.max(0.0));
    }

    /// What the operator must act on, at scrape time: the archive's
    /// write-ahead log (its size, and whether a reader blocks it), whether
    /// the archive takes writes, and whether the last reload was refused.
    pub fn operator_state(
        &self,
        wal_bytes: u64,
        wal_blocked: bool,
        writable: bool,
        reload_refused: bool,
    ) {
        self.wal_bytes.set(wal_bytes as i64);
        self.wal_blocked.set(i64::from(wal_blocked));
        self.archive_writable.set(i64::from(writable));
        self.reload_successful.set(i64::from(!reload_refused));
    }

    /// The OpenMetrics text, with the scrape-time values filled in.
    /// `items` is `None` when the archive could not be counted: the gauge
    /// keeps the last count rather than show a number the archive never
    /// held (a -1, or a 0 an alert on "the archive emptied" fires on).
    pub fn encode(
        &self,
        database_bytes: u64,
        items: Option<i64>,
        quotes_age: Option<f64>,
    ) -> String {
        self.database_bytes.set(database_bytes as i64);
        if let Some(items) = items {
            self.archive_items.set(items);
        }
        if let Some(age) = quotes_age {
            self.quotes_age.get_or_create(&Vec::new()).set(age);
        }
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{FailureKind, OutcomeKind};

    #[test]
    fn text_format_has_the_recorded_values() {
        let m = Metrics::new();
        let answered = Exchange {
            status: Some(200),
            bytes: Some(400),
            wire_bytes: Some(100),
            ..Exchange::default()
        };
        let stored = IngestSummary {
            seen: 4,
            new: 3,
            updated: 1,
            merged: 0,
            alerts: 0,
            articles: 0,
        };
        m.fetch(Outcome::Fresh, &answered, 0.05, &stored);
        m.fetch(
            Outcome::Failed(FailureKind::NotAFeed),
            &Exchange::default(),
            1.0,
            &IngestSummary::default(),
        );
        m.http_request("/feed.atom", 304);
        m.render();
        let text = m.encode(12345, Some(7), Some(30.0));
        for needle in [
            r#"tickerfeed_fetches_total{result="ok",status_class="2xx"} 1"#,
            r#"tickerfeed_fetches_total{result="error",status_class="none"} 1"#,
            r#"tickerfeed_fetch_bytes_total{kind="wire"} 100"#,
            r#"tickerfeed_items_total{kind="new"} 3"#,
            "tickerfeed_parse_errors_total 1",
            r#"tickerfeed_http_requests_total{route="/feed.atom",status="304"} 1"#,
            "tickerfeed_renders_total 1",
            "tickerfeed_database_bytes 12345",
            "tickerfeed_archive_items 7",
            "tickerfeed_fetch_duration_seconds_count 2",
            "# EOF",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in\n{text}");
        }
    }

    /// A scrape that could not count the archive shows the last count,
    /// never a number the archive did not hold.
    #[test]
    fn an_archive_that_cannot_be_counted_keeps_its_last_count() {
        let m = Metrics::new();
        assert!(
            m.encode(0, Some(42), None)
                .contains("tickerfeed_archive_items 42\n")
        );
        let text = m.encode(0, None, None);
        assert!(text.contains("tickerfeed_archive_items 42\n"), "{text}");
    }

    /// Every outcome a poll that reached the fetch stage can have is
    /// counted under its one spelling, the one the archive stores.
    #[test]
    fn every_counted_outcome_is_labelled_by_its_one_spelling() {
        let m = Metrics::new();
        let t = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH;
        let outcomes = [
            Outcome::Fresh,
            Outcome::NotModified,
            Outcome::Unchanged,
            Outcome::Failed(FailureKind::Timeout),
            Outcome::Throttled { until: t },
            Outcome::Gone,
            Outcome::Deferred { until: t },
        ];
        let kinds: Vec<_> = outcomes.iter().map(|o| o.kind()).collect();
        for kind in OutcomeKind::ALL.into_iter().filter(|k| k.counted()) {
            assert!(kinds.contains(&kind), "{kind} is not exercised here");
        }
        for outcome in outcomes {
            m.fetch(
                outcome,
                &Exchange::default(),
                0.1,
                &IngestSummary::default(),
            );
        }
        let text = m.encode(0, Some(0), None);
        for outcome in outcomes {
            let needle = format!(
                r#"tickerfeed_fetches_total{{result="{}",status_class="none"}} 1"#,
                outcome.as_str()
            );
            assert!(text.contains(&needle), "missing {needle:?} in\n{text}");
        }
    }
}
