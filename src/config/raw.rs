//! The serde mirror of `config.toml`: field names and types only, no logic.
//!
//! Everything is optional here so that one missing key does not hide the
//! other problems; `resolve` decides what is required and turns text into
//! real values (cron, URLs, durations), naming the key and line at fault.
//! Unknown keys are collected by `serde_ignored` in
//! `config::resolve::resolve_str` (which `Config::load` calls) rather than
//! rejected by `deny_unknown_fields`, so `check` can list all of them.

use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
pub struct RawConfig {
    #[serde(default)]
    pub storage: RawStorage,
    #[serde(default)]
    pub server: RawServer,
    #[serde(default)]
    pub output: RawOutput,
    #[serde(default)]
    pub defaults: RawDefaults,
    #[serde(default)]
    pub fetch: RawFetch,
    #[serde(default)]
    pub log: RawLog,
    #[serde(default)]
    pub feeds: Vec<RawFeed>,
    pub market: Option<RawMarket>,
    #[serde(default)]
    pub views: Vec<RawView>,
    #[serde(default)]
    pub web: RawWeb,
    #[serde(default)]
    pub alerts: Vec<RawAlert>,
    #[serde(default)]
    pub websub: RawWebSub,
}

/// `[websub]`: WebSub (W3C), off by default.
#[derive(Debug, Default, Deserialize)]
pub struct RawWebSub {
    /// An external hub to ping when a feed changes.
    pub hub: Option<String>,
    /// Be the hub for our own feeds at `<base_url>/websub`.
    pub serve_hub: Option<bool>,
    /// Allow loopback, private and link-local callbacks (and hub).
    pub allow_private: Option<bool>,
    pub lease_seconds: Option<i64>,
    pub max_lease_seconds: Option<i64>,
    pub retry_for_hours: Option<i64>,
    pub max_subscriptions: Option<i64>,
    /// Our public URL, for hubs to call back (subscribing).
    pub callback_url: Option<String>,
    pub fallback_poll_minutes: Option<i64>,
    pub subscribe_lease_seconds: Option<i64>,
}

/// `[[alerts]]`: a webhook called for each item newly archived into a
/// view, a feed or the main feed.
#[derive(Debug, Default, Deserialize)]
pub struct RawAlert {
    pub name: Option<String>,
    pub view: Option<String>,
    pub feed: Option<String>,
    pub url: Option<String>,
    pub format: Option<String>,
    pub secret_env: Option<String>,
    pub max_per_hour: Option<i64>,
    pub allow_private: Option<bool>,
    pub retry_for_hours: Option<i64>,
}

/// `[web]`: the news pages.
#[derive(Debug, Default, Deserialize)]
pub struct RawWeb {
    pub enabled: Option<bool>,
    pub title: Option<String>,
    pub robots: Option<String>,
    pub remote_images: Option<bool>,
    pub export: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawStorage {
    pub path: Option<String>,
    pub fetch_log_days: Option<i64>,
    pub max_age_days: Option<i64>,
    pub max_items_per_feed: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawServer {
    pub listen: Option<String>,
    pub base_url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawOutput {
    pub title: Option<String>,
    pub description: Option<String>,
    pub max_items: Option<i64>,
    pub market: Option<bool>,
    /// Rules, `{ title = "(?i)sponsored" }`: a table each, read by
    /// `select::Rule::from_table` (its keys are the rule's field, so they
    /// are not serde fields).
    #[serde(default)]
    pub exclude: Vec<toml::Table>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawDefaults {
    pub schedule: Option<String>,
    pub timezone: Option<String>,
    pub fulltext: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawFetch {
    pub user_agent: Option<String>,
    pub timeout_secs: Option<i64>,
    pub connect_timeout_secs: Option<i64>,
    pub max_body_bytes: Option<i64>,
    pub concurrency: Option<i64>,
    pub per_host_concurrency: Option<i64>,
    pub per_host_spacing_ms: Option<i64>,
    pub max_retry_after_secs: Option<i64>,
    pub backoff_base_secs: Option<i64>,
    pub backoff_max_secs: Option<i64>,
    pub max_hint_secs: Option<i64>,
    pub redirect_confirmations: Option<i64>,
    pub article_concurrency: Option<i64>,
    pub article_timeout_secs: Option<i64>,
    pub article_max_bytes: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawLog {
    pub level: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawFeed {
    pub name: Option<String>,
    pub url: Option<String>,
    pub schedule: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    pub user_agent: Option<String>,
    pub respect_hints: Option<bool>,
    pub fulltext: Option<bool>,
    pub websub: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawMarket {
    pub label: Option<String>,
    pub provider: Option<String>,
    pub schedule: Option<String>,
    #[serde(default)]
    pub symbols: Vec<RawSymbol>,
    pub base_url: Option<String>,
    pub api_key_env: Option<String>,
    pub stale_after_secs: Option<i64>,
    pub plan: Option<RawPlan>,
}

/// `[market.plan]`: the provider's limits on the operator's plan.
#[derive(Debug, Default, Deserialize)]
pub struct RawPlan {
    pub per_second: Option<i64>,
    pub per_minute: Option<i64>,
    pub per_day: Option<i64>,
}

/// `"BP"` or `{ symbol = "BP", names = ["BP plc"], provider_symbol = "BP.L" }`.
#[derive(Debug)]
pub enum RawSymbol {
    Plain(String),
    Table(RawSymbolTable),
}

/// By hand, not `#[serde(untagged)]`: an untagged enum reads the table
/// into a buffer first, where `serde_ignored` cannot see an unknown key
/// (`nmes = [...]` was taken silently), and a wrong type inside it is
/// reported only as "did not match any variant", naming no key.
impl<'de> Deserialize<'de> for RawSymbol {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Symbol;
        impl<'de> serde::de::Visitor<'de> for Symbol {
            type Value = RawSymbol;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a symbol (\"BP\") or a table ({ symbol = \"BP\", names = [...] })")
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<RawSymbol, E> {
                Ok(RawSymbol::Plain(v.to_owned()))
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<RawSymbol, A::Error> {
                RawSymbolTable::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(RawSymbol::Table)
            }
        }
        d.deserialize_any(Symbol)
    }
}

#[derive(Debug, Deserialize)]
pub struct RawSymbolTable {
    pub symbol: Option<String>,
    /// Shown in the strip instead of the symbol's own name.
    pub name: Option<String>,
    /// Names and aliases that count as a mention in news text.
    #[serde(default)]
    pub names: Vec<String>,
    /// The provider's spelling (`BP.L`, `bp.uk`), when it differs.
    pub provider_symbol: Option<String>,
    /// Regexes: an item where one matches mentions this symbol only by
    /// tag, cashtag, exchange notation or CIK, never by name.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Names count only as written (or in capitals), never in other case.
    #[serde(default)]
    pub case_sensitive: bool,
    /// SEC EDGAR Central Index Key: a filing that names it mentions the symbol.
    pub cik: Option<String>,
    /// Where it trades (`XNYS`, `XNAS`, `XLON`, or `NYSE`, `NASDAQ`,
    /// `LSE`), for the market hours of price reactions and the venue of
    /// exchange notation that mentions it.
    pub exchange: Option<String>,
    /// Priced once a day (a mutual fund's NAV), not traded through the
    /// session.
    #[serde(default)]
    pub daily: bool,
}

/// `[[views]]`: a named selection served as its own feed.
#[derive(Debug, Default, Deserialize)]
pub struct RawView {
    pub name: Option<String>,
    pub title: Option<String>,
    #[serde(default)]
    pub symbols: Vec<String>,
    pub min_move_pct: Option<f64>,
    pub query: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub feeds: Vec<String>,
    #[serde(default)]
    pub include: Vec<toml::Table>,
    #[serde(default)]
    pub exclude: Vec<toml::Table>,
    pub max_items: Option<i64>,
}
