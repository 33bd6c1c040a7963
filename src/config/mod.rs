//! Configuration: `config.toml` read once, checked whole, resolved into
//! typed values.
//!
//! `raw` mirrors the file; `resolve` turns it into [`Config`] and collects
//! every problem with the key and line at fault, so `tickerfeed check` can
//! list them all at once. Relative paths resolve against the config file's
//! folder. Nothing downstream reads the environment or the file again; a
//! reload (SIGHUP) loads a whole new [`Config`] and compares it with the
//! running one.

mod raw;
mod resolve;
mod secret;

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use url::Url;

use crate::model::ProviderKind;
use crate::schedule::Schedule;
use crate::select::{Channel, Output, Rule, Selection};

pub use resolve::{Problem, resolve_str};
pub use secret::{Secret, SecretUse, UnsetSecret};

/// The default `User-Agent`: product, version and where to read about it,
/// so a feed owner who sees us in their logs knows who we are.
pub const DEFAULT_USER_AGENT: &str = concat!(
    "tickerfeed/",
    env!("CARGO_PKG_VERSION"),
    " (+https://github.com/tickerfeed/tickerfeed)"
);

/// The whole resolved configuration.
///
/// Equality is on values, secrets included (a reload compares the running
/// config with the new one); `Debug` never prints a secret.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The file it came from, for reloads and messages.
    pub source: PathBuf,
    pub storage: StorageConfig,
    pub server: ServerConfig,
    pub output: OutputConfig,
    pub fetch: FetchConfig,
    pub log_level: Option<String>,
    pub feeds: Vec<FeedConfig>,
    /// The ticker board; `None` when the config has no `[market]`.
    pub market: Option<MarketConfig>,
    /// `[[views]]`, in config order.
    pub views: Vec<ViewConfig>,
    pub web: WebConfig,
    /// `[[alerts]]`, in config order.
    pub alerts: Vec<AlertConfig>,
    /// `[websub]`: publishing through a hub or being one, and subscribing
    /// to the hubs polled feeds advertise.
    pub websub: WebSubConfig,
    /// The secrets whose environment variables were not set, in the order
    /// of the file: always empty from [`Config::load`], which refuses them.
    pub unset_secrets: Vec<UnsetSecret>,
}

/// `[websub]`, resolved: WebSub (W3C Recommendation, README "WebSub").
/// Everything is off by default.
///
/// Subscribing: when `callback_url` is set, a polled feed that advertises
/// a hub is subscribed to, and while the subscription is live the feed is
/// polled at most every `fallback_poll` (see `schedule::PollState`).
#[derive(Debug, Clone, PartialEq)]
pub struct WebSubConfig {
    /// An external hub (`hub = "https://..."`): advertised in every feed
    /// and pinged (`hub.mode=publish`) when a feed's content changes.
    pub hub: Option<Url>,
    /// tickerfeed is the hub for its own feeds, at `<base_url>/websub`.
    pub serve_hub: bool,
    /// Allow loopback, private and link-local callbacks and hub (off by
    /// default, so a subscription request cannot aim the daemon at its
    /// own network).
    pub allow_private: bool,
    /// The lease granted when a subscriber asks for none.
    pub default_lease: Duration,
    /// The longest lease granted; longer requests get this.
    pub max_lease: Duration,
    /// How long a push to a subscriber is retried before it is kept as
    /// failed.
    pub retry_for: Duration,
    /// Live subscriptions our hub keeps at most; past it new ones are
    /// denied (`hub.mode=denied`), renewals still taken.
    pub max_subscriptions: usize,
    /// The public base URL where hubs reach this daemon (ends in `/`);
    /// each subscription's callback is `<callback_url>websub/callback/<id>`.
    /// `None`: no subscribing.
    pub callback_url: Option<Url>,
    /// The slower polling floor while a subscription is live (6 h by
    /// default): pushes bring the news, polls only check nothing was missed.
    pub fallback_poll: Duration,
    /// The lease asked of hubs (`hub.lease_seconds`, 10 days by default);
    /// the hub's answer decides.
    pub lease: Duration,
}

impl Default for WebSubConfig {
    fn default() -> Self {
        WebSubConfig {
            hub: None,
            serve_hub: false,
            allow_private: false,
            default_lease: Duration::from_secs(10 * 86_400),
            max_lease: Duration::from_secs(30 * 86_400),
            retry_for: Duration::from_secs(24 * 3_600),
            max_subscriptions: 10_000,
            callback_url: None,
            fallback_poll: Duration::from_secs(6 * 3_600),
            lease: Duration::from_secs(10 * 86_400),
        }
    }
}

impl WebSubConfig {
    /// Whether any of WebSub's publishing side is on.
    pub fn publishes(&self) -> bool {
        self.hub.is_some() || self.serve_hub
    }

    /// What the publishing side (our hub and the publisher) runs on: this
    /// with the subscribing keys at their defaults, so two configs whose
    /// publishing is the same compare equal.
    pub fn publishing(&self) -> WebSubConfig {
        let subscribing = WebSubConfig::default();
        WebSubConfig {
            callback_url: subscribing.callback_url,
            fallback_poll: subscribing.fallback_poll,
            lease: subscribing.lease,
            ..self.clone()
        }
    }
}

/// `[[alerts]]`: a webhook POSTed once for each item first archived (after
/// the alert was configured) that its selection shows.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertConfig {
    /// Letters, digits, `-` and `_`: half of each message's idempotency
    /// key (`name:uid`).
    pub name: String,
    /// What it watches, as written.
    pub watches: AlertSource,
    /// What it watches, resolved: the view's selection, or the main
    /// feed's (less `[output] exclude`), narrowed to one feed for `feed`.
    pub selection: Selection,
    /// `http` or `https`.
    pub url: Url,
    pub format: AlertFormat,
    /// The HMAC-SHA256 key for `X-Tickerfeed-Signature`, read from the
    /// variable `secret_env` names when the config is loaded.
    pub secret: Option<Secret>,
    /// At most this many messages an hour; the excess is coalesced into
    /// one summary message.
    pub max_per_hour: Option<u32>,
    /// Allow loopback, private and link-local destinations (off by
    /// default, so a config edit cannot aim the daemon at its own network).
    pub allow_private: bool,
    /// How long a message is retried before it is kept as failed.
    pub retry_for: Duration,
    /// `[server] base_url` while `[web]` serves pages: an item without a
    /// link of its own is linked to its page there (`items/<uid>`), as the
    /// feeds link it.
    pub item_pages: Option<Url>,
}

/// What an alert watches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlertSource {
    Main,
    Feed(String),
    View(String),
}

impl AlertSource {
    /// What the alert watches, in the words the operator's lists use
    /// (`tickerfeed alerts`, the operator's page).
    pub fn in_words(&self) -> String {
        match self {
            AlertSource::Main => "the main feed".to_string(),
            AlertSource::Feed(f) => format!("feed {f}"),
            AlertSource::View(v) => format!("view {v}"),
        }
    }
}

/// The body an alert POSTs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertFormat {
    /// tickerfeed's own, versioned schema (README "Alerts").
    Json,
    /// ntfy's JSON publishing: topic, title, message, tags, click.
    Ntfy,
    /// Slack's incoming webhook (`{"text": ...}`), which Mattermost and
    /// Discord's Slack-compatible endpoints also take.
    Slack,
}

impl AlertFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertFormat::Json => "json",
            AlertFormat::Ntfy => "ntfy",
            AlertFormat::Slack => "slack",
        }
    }
}

/// `[web]`: the news pages served beside the feeds.
#[derive(Debug, Clone, PartialEq)]
pub struct WebConfig {
    /// Serve `/` and the other pages (the feeds are served either way).
    pub enabled: bool,
    /// The site's name at the top of every page; `[output] title` by default.
    pub title: String,
    /// Whether search engines may index the pages (`/robots.txt`).
    pub robots: Robots,
    /// Let item content load images from other sites. Off by default: a
    /// remote image tells its host who read the page, and when.
    pub remote_images: bool,
    /// Serve `/export.jsonl`, the whole archive as JSON Lines. Off by
    /// default: anyone who can reach the server could download every item.
    pub export: bool,
}

/// What `/robots.txt` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Robots {
    Allow,
    Disallow,
}

impl Robots {
    pub fn text(self) -> &'static str {
        match self {
            Robots::Allow => "User-agent: *\nDisallow:\n",
            Robots::Disallow => "User-agent: *\nDisallow: /\n",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct StorageConfig {
    /// Absolute, or relative to the current directory when the config file
    /// itself was given relatively.
    pub path: PathBuf,
    /// `path` is the default, `data/tickerfeed.db` beside the config
    /// (unset, or written as such): no typo put it there, so a command
    /// that writes creates its folder as `poll` does (`cli::quotes`).
    pub path_is_default: bool,
    /// Days of fetch log kept.
    pub fetch_log_days: u32,
    /// Items first seen longer ago than this are deleted (tombstoned) by
    /// `prune` and the daily run; `None` keeps everything.
    pub max_age_days: Option<u32>,
    /// Per feed, items beyond the newest this many are deleted.
    pub max_items_per_feed: Option<usize>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// Public URL of the server (ends in `/`), for self links in the merged
    /// feed. When unset, `http://<listen>/` is used.
    pub base_url: Option<Url>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OutputConfig {
    pub title: String,
    pub description: String,
    pub max_items: usize,
    /// Append the human-readable ticker strip to entries.
    pub market_strip: bool,
    /// `[output] exclude`: what the merged feed (and its tag feeds) leave
    /// out. The archive keeps it.
    pub exclude: Vec<Rule>,
}

/// `[[views]]`: a named selection over the archive, served as its own
/// feed at `/views/{name}.atom`, `.rss` and `.json`.
#[derive(Debug, Clone, PartialEq)]
pub struct ViewConfig {
    /// Letters, digits, `-` and `_`: the feed's path.
    pub name: String,
    pub title: String,
    pub selection: Selection,
    pub max_items: usize,
}

/// `[market]`: the ticker board.
#[derive(Debug, Clone, PartialEq)]
pub struct MarketConfig {
    pub label: String,
    pub provider: ProviderKind,
    pub schedule: Schedule,
    pub instruments: Vec<InstrumentConfig>,
    /// Overrides the provider's public URL (a proxy, a mirror, a test server).
    pub base_url: Option<Url>,
    /// Read from the environment variable named by `api_key_env` when the
    /// config is loaded (at start and on each reload); never logged (its
    /// Debug prints `****`), but compared by value.
    pub api_key: Option<Secret>,
    /// A quote fetched longer ago than this when an item is stamped is
    /// marked stale; so is a price that trails the clock by more than this
    /// (plus the usual 15 minutes' delay) while its exchange trades.
    pub stale_after: Duration,
    /// `[market.plan]`: the limits of the operator's plan with the
    /// provider, in place of its free tier's; `None`: the free tier.
    pub plan: Option<Plan>,
}

/// A provider plan's limits, in requests (Twelve Data: credits, one per
/// symbol) per window; a window not given has no limit. Given, they
/// replace the free tier's limits whole, so a paid plan without a daily
/// cap leaves `per_day` out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    pub per_second: Option<u32>,
    pub per_minute: Option<u32>,
    pub per_day: Option<u32>,
}

/// One symbol on the board.
#[derive(Debug, Clone, PartialEq)]
pub struct InstrumentConfig {
    /// Our symbol, shown in the strip and used in the archive.
    pub symbol: String,
    /// Display name, when given.
    pub name: Option<String>,
    /// Names and aliases that count as a mention.
    pub names: Vec<String>,
    /// The provider's spelling of the symbol.
    pub provider_symbol: String,
    /// Regexes (checked to compile when the config is loaded): an item one
    /// matches mentions this symbol only by tag, cashtag, exchange or CIK.
    pub exclude: Vec<String>,
    /// Names match only as configured or in capitals.
    pub case_sensitive: bool,
    /// SEC EDGAR Central Index Key, digits only, without leading zeros.
    pub cik: Option<String>,
    /// Where it trades, as written (checked against the exchange calendars
    /// when the price-reaction task starts); `None`: implied by the
    /// provider symbol (`model::calendar::listed_on` for price reactions'
    /// market hours; `evidently_listed_on` for the board's sessions and
    /// which exchange notation names it).
    pub exchange: Option<String>,
    /// Priced once a day, after the close (a mutual fund's NAV): the board
    /// takes a day's price as current until the next trading day's is due:
    /// that evening in New York, the next morning in London
    /// (`quotes::board`).
    pub daily: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FetchConfig {
    pub user_agent: String,
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub max_body_bytes: usize,
    /// Feeds fetched at once, across all sites.
    pub concurrency: usize,
    /// Requests in flight to one site at once (a registrable domain, or an
    /// IP address or `localhost` with its port: `politeness::domain_key`).
    /// The key keeps its old name, from when sites were hosts.
    pub per_host_concurrency: usize,
    /// Least time between the starts of two requests to one site.
    pub per_host_spacing: Duration,
    /// Longest pause a `Retry-After` can impose on a site.
    pub max_retry_after: Duration,
    /// First delay after a failure; doubles per failure in a row.
    pub backoff_base: Duration,
    /// Longest delay failures can cause; a failing feed is still tried
    /// at least this often, never dropped.
    pub backoff_max: Duration,
    /// Longest floor server hints (`ttl`, `max-age`, ...) can set.
    pub max_hint: Duration,
    /// Polls in a row that must see the same permanent redirect before the
    /// feed's URL follows it.
    pub redirect_confirmations: u32,
    /// Article pages (`[[feeds]] fulltext`) fetched at once, across all
    /// sites; kept below `concurrency` so articles never crowd out feeds.
    pub article_concurrency: usize,
    /// Time cap on one article page, end to end: robots.txt reads and
    /// each redirect hop, bodies included; not the wait for its site's
    /// turn.
    pub article_timeout: Duration,
    /// Size cap on one article page, after decompression.
    pub article_max_bytes: usize,
}

/// One `[[feeds]]` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedConfig {
    /// Unique; the feed's identity in the archive.
    pub name: String,
    /// What to fetch: each `${NAME}` of the configured text filled with
    /// that environment variable's value, so it may hold a secret. The
    /// archive keeps it blanked (`link::blank_secrets`).
    pub url: Url,
    /// The URL as written, when it names environment variables
    /// (`https://news.test/feed?api_key=${NEWS_API_KEY}`): what is shown
    /// to the operator (`opml export`) in place of the values.
    pub url_template: Option<String>,
    /// The values `url` took from the environment: blanked wherever the
    /// URL, or text quoting it, is stored, served or logged
    /// (`link::blank_secrets`, `link::without_credentials`), be they in
    /// its path, query, fragment or user info.
    pub filled: crate::link::Filled,
    pub schedule: Schedule,
    pub tags: Vec<String>,
    /// Overrides `[fetch] user_agent` for this feed.
    pub user_agent: Option<String>,
    /// Let server hints (`ttl`, `skipHours`, `max-age`...) slow polling
    /// down; `false` for the operator's own feeds.
    pub respect_hints: bool,
    /// Fetch the page of each item new to this feed (new to the archive, or
    /// first archived by another feed) and keep the article extracted from
    /// it beside the feed's own text (`pipeline::fulltext`).
    pub fulltext: bool,
    /// The polling floor while a WebSub subscription for this feed is
    /// live: `[websub] fallback_poll`, or `None` when subscribing is off
    /// (no `[websub] callback_url`, or `websub = false` on the feed).
    pub push_fallback: Option<Duration>,
}

impl FeedConfig {
    /// The URL as written in the config, when it holds a secret written
    /// there rather than named from the environment (`?api_key=abc123`,
    /// `https://reader:hunter2@host/`), with the secret blanked: what
    /// `check` and the start warn of.
    pub fn written_secret(&self) -> Option<String> {
        let written = self.url_template.as_deref().unwrap_or(self.url.as_str());
        // A `${NAME}` is a secret kept elsewhere: as if blanked already.
        let named = resolve::fill_variables(written, |_| Ok("****".into())).ok()?;
        let blanked = crate::link::blank_secrets(&named, &crate::link::Filled::default());
        (blanked != named).then_some(blanked)
    }
}

/// Why a config could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {}", .path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}", Invalid { path, problems })]
    Invalid {
        path: PathBuf,
        problems: Vec<Problem>,
    },
}

impl ConfigError {
    /// Every problem found, for `check`.
    pub fn problems(&self) -> &[Problem] {
        match self {
            ConfigError::Read { .. } => &[],
            ConfigError::Invalid { problems, .. } => problems,
        }
    }
}

struct Invalid<'a> {
    path: &'a Path,
    problems: &'a [Problem],
}

impl fmt::Display for Invalid<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        write!(
            f,
            "{} has {n} problem{}:",
            self.path.display(),
            if n == 1 { "" } else { "s" }
        )?;
        for p in self.problems {
            write!(f, "\n  {}", p.located(self.path))?;
        }
        Ok(())
    }
}

impl Config {
    /// What `channel` shows: the main feed less `[output] exclude`, a
    /// tag's feed (the main feed's items carried by a feed with the tag,
    /// the same excludes applied), or a view. `None` for a tag no feed has
    /// or a view that is not configured.
    pub fn output(&self, channel: &Channel) -> Option<Output> {
        let main = |tags: Vec<String>| Selection {
            tags,
            exclude: self.output.exclude.clone(),
            ..Selection::default()
        };
        match channel {
            Channel::Main => Some(Output {
                title: self.output.title.clone(),
                selection: main(Vec::new()),
                max_items: self.output.max_items,
            }),
            Channel::Tag(tag) => self
                .feeds
                .iter()
                .any(|f| f.tags.contains(tag))
                .then(|| Output {
                    title: format!("{}: {tag}", self.output.title),
                    selection: main(vec![tag.clone()]),
                    max_items: self.output.max_items,
                }),
            Channel::View(name) => self.views.iter().find(|v| &v.name == name).map(|v| Output {
                title: v.title.clone(),
                selection: v.selection.clone(),
                max_items: v.max_items,
            }),
        }
    }

    /// Every channel the config serves: the main feed, one per tag, one
    /// per view.
    pub fn channels(&self) -> Vec<Channel> {
        let mut tags: Vec<&String> = self.feeds.iter().flat_map(|f| &f.tags).collect();
        tags.sort();
        tags.dedup();
        std::iter::once(Channel::Main)
            .chain(tags.into_iter().map(|t| Channel::Tag(t.clone())))
            .chain(self.views.iter().map(|v| Channel::View(v.name.clone())))
            .collect()
    }

    /// Reads and resolves the config file at `path`; a secret whose
    /// environment variable is unset is a problem like any other.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        Self::load_with(path, resolve_str)
    }

    /// [`Config::load`] for a command that may not need the secrets: one
    /// whose variable is unset is kept in `unset_secrets` (its field holds
    /// none) rather than refused, unless the file has other problems, when
    /// it is listed with them.
    pub fn load_leaving_unset(path: &Path) -> Result<Config, ConfigError> {
        Self::load_with(path, resolve::resolve_str_leaving_unset)
    }

    fn load_with(
        path: &Path,
        resolve: fn(&str, &Path) -> Result<Config, Vec<Problem>>,
    ) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let base = path.parent().unwrap_or(Path::new(""));
        resolve(&text, base)
            .map(|mut cfg| {
                cfg.source = path.to_path_buf();
                cfg
            })
            .map_err(|problems| ConfigError::Invalid {
                path: path.to_path_buf(),
                problems,
            })
    }

    /// Refuses the unset secrets that `needed` says are used, as
    /// [`Config::load`] would have refused them.
    pub fn require_secrets(&self, needed: impl Fn(&SecretUse) -> bool) -> Result<(), ConfigError> {
        let problems: Vec<Problem> = self
            .unset_secrets
            .iter()
            .filter(|u| needed(&u.used_by))
            .map(|u| u.problem.clone())
            .collect();
        match problems.is_empty() {
            true => Ok(()),
            false => Err(ConfigError::Invalid {
                path: self.source.clone(),
                problems,
            }),
        }
    }

    /// The feed called `name`.
    pub fn feed(&self, name: &str) -> Option<&FeedConfig> {
        self.feeds.iter().find(|f| f.name == name)
    }

    /// The hub the served feeds advertise (`rel="hub"`): the external
    /// `[websub] hub`, else our own `/websub` when `serve_hub` is on.
    pub fn hub_url(&self, bound: Option<SocketAddr>) -> Option<Url> {
        match &self.websub.hub {
            Some(hub) => Some(hub.clone()),
            None if self.websub.serve_hub => self.public_base(bound).join("websub").ok(),
            None => None,
        }
    }

    /// Base URL of the served feeds: the configured public URL, else the
    /// address actually listened on (`bound`, which differs from
    /// `[server] listen` for port 0 or a socket passed by systemd), else
    /// the configured listen address.
    pub fn public_base(&self, bound: Option<SocketAddr>) -> Url {
        self.server.base_url.clone().unwrap_or_else(|| {
            let addr = bound.unwrap_or(self.server.listen);
            Url::parse(&format!("http://{addr}/"))
                .expect("a socket address always makes a valid http URL")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_config_is_valid() {
        let path = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/config.toml"));
        let cfg = Config::load(path).expect("the shipped config.toml must load");
        assert!(!cfg.feeds.is_empty());
        assert!(cfg.storage.path.ends_with("data/tickerfeed.db"));
    }

    // Issue 15: reload compared configs by their Debug text, where every
    // key prints `****`, so a changed key looked like no change at all.
    #[test]
    fn configs_differing_only_in_a_secret_are_unequal_and_neither_prints_it() {
        let text = "[market]\nprovider = \"yahoo\"\nsymbols = [\"AAPL\"]\n";
        let base = resolve_str(text, Path::new("/etc/tickerfeed")).unwrap();
        let with_key = |key: &str| {
            let mut cfg = base.clone();
            cfg.market.as_mut().unwrap().api_key = Some(Secret::new(key));
            cfg
        };
        let (old, new) = (with_key("old-key-5e1f"), with_key("new-key-9c2d"));
        assert_ne!(old, new);
        assert_ne!(old.market, new.market);
        assert_eq!(old, with_key("old-key-5e1f"));
        let (old_text, new_text) = (format!("{old:?}"), format!("{new:?}"));
        assert!(!old_text.contains("old-key-5e1f"), "{old_text}");
        assert!(!new_text.contains("new-key-9c2d"), "{new_text}");
        assert!(old_text.contains("api_key: Some(****)"), "{old_text}");
        // What the old comparison saw: no difference.
        assert_eq!(old_text, new_text);
    }
}
