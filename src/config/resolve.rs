//! Raw config -> [`Config`], collecting every problem with its key and line.
//!
//! Line numbers come from toml's spanned document (`DeTable`): each problem
//! carries the path of the key at fault (`feeds[2].schedule`), and
//! [`Locator`] walks that path through the document to find where it was
//! written. Unknown keys arrive here from `serde_ignored` as paths too.
//! A value of the wrong type stops serde; the file is then read again as
//! a tree with each such value taken out in turn, so all are listed.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use toml::de::{DeTable, DeValue};
use url::Url;

use super::raw::{
    RawAlert, RawConfig, RawDefaults, RawFeed, RawFetch, RawLog, RawMarket, RawOutput, RawPlan,
    RawServer, RawStorage, RawSymbol, RawView, RawWeb, RawWebSub,
};
use super::{
    AlertConfig, AlertFormat, AlertSource, Config, DEFAULT_USER_AGENT, FeedConfig, FetchConfig,
    InstrumentConfig, MarketConfig, OutputConfig, Plan, Robots, ServerConfig, StorageConfig,
    ViewConfig, WebConfig, WebSubConfig,
};
use super::{Secret, SecretUse, UnsetSecret};
use crate::model::ProviderKind;
use crate::schedule::{Schedule, TimeZone};
use crate::select::{Rule, Selection, fts_query};

/// One thing wrong with a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Path of the key at fault, e.g. `feeds[2].schedule`; empty for a
    /// problem with the file as a whole (a TOML syntax error).
    pub key: String,
    /// 1-based line in the file, when known.
    pub line: Option<usize>,
    pub message: String,
}

impl Problem {
    /// `config.toml:12: feeds[2].schedule: message`
    pub fn located(&self, file: &Path) -> String {
        let mut s = file.display().to_string();
        if let Some(line) = self.line {
            s.push_str(&format!(":{line}"));
        }
        if !self.key.is_empty() {
            s.push_str(&format!(": {}", self.key));
        }
        s.push_str(&format!(": {}", self.message));
        s
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.located(Path::new("config")))
    }
}

/// One step of a key path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    Key(String),
    Index(usize),
}

fn path_text(path: &[Seg]) -> String {
    let mut s = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) if s.is_empty() => s.push_str(k),
            Seg::Key(k) => {
                s.push('.');
                s.push_str(k);
            }
            Seg::Index(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
}

fn ignored_path(p: &serde_ignored::Path<'_>) -> Vec<Seg> {
    use serde_ignored::Path as P;
    match p {
        P::Root => Vec::new(),
        P::Seq { parent, index } => {
            let mut v = ignored_path(parent);
            v.push(Seg::Index(*index));
            v
        }
        P::Map { parent, key } => {
            let mut v = ignored_path(parent);
            v.push(Seg::Key(key.clone()));
            v
        }
        P::Some { parent } | P::NewtypeStruct { parent } | P::NewtypeVariant { parent } => {
            ignored_path(parent)
        }
    }
}

/// Finds where a key path was written in the source text.
///
/// The document with its spans is parsed only when a problem needs a
/// line: a valid config is parsed once, by the deserializer. Parsing it
/// up front as well kept two trees of the whole file alive during
/// resolving: about 400 MB and 1 s more for a 100,000-feed config.
struct Locator<'a> {
    text: &'a str,
    doc: std::cell::OnceCell<Option<DeTable<'a>>>,
}

impl<'a> Locator<'a> {
    fn doc(&self) -> Option<&DeTable<'a>> {
        self.doc
            .get_or_init(|| DeTable::parse(self.text).ok().map(|d| d.into_inner()))
            .as_ref()
    }

    fn line_of(&self, path: &[Seg]) -> Option<usize> {
        let mut table = self.doc()?;
        let mut offset = None;
        let mut iter = path.iter().peekable();
        while let Some(seg) = iter.next() {
            let Seg::Key(k) = seg else { return offset };
            let (key, value) = table.iter().find(|(key, _)| key.get_ref().as_ref() == k)?;
            offset = Some(key.span().start);
            let mut value = value;
            while let Some(Seg::Index(i)) = iter.peek() {
                iter.next();
                match value.get_ref() {
                    DeValue::Array(items) => match items.get(*i) {
                        Some(item) => {
                            value = item;
                            if !value.span().is_empty() {
                                offset = Some(value.span().start);
                            }
                        }
                        None => break,
                    },
                    _ => break,
                }
            }
            match value.get_ref() {
                DeValue::Table(t) => table = t,
                _ => break,
            }
        }
        offset.map(|o| line_at(self.text, o))
    }
}

fn line_at(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

struct Resolver<'a> {
    locator: Locator<'a>,
    problems: Vec<Problem>,
    /// Keys taken out of the file because their value had the wrong type
    /// (already reported): what follows from their absence is not
    /// reported again.
    wrong_typed: Vec<Vec<Seg>>,
    /// Secrets whose environment variable is unset: problems only for the
    /// commands that use them (`resolve_str_leaving_unset`).
    unset: Vec<UnsetSecret>,
}

impl Resolver<'_> {
    fn problem(&mut self, path: &[Seg], message: impl Into<String>) {
        if self.wrong_typed.iter().any(|w| path.starts_with(w)) {
            return;
        }
        self.problems.push(Problem {
            key: path_text(path),
            line: self.locator.line_of(path),
            message: message.into(),
        });
    }

    /// The secret at `path`, for `used_by`, is not in the environment.
    fn unset(&mut self, path: &[Seg], used_by: SecretUse, message: impl Into<String>) {
        let problem = Problem {
            key: path_text(path),
            line: self.locator.line_of(path),
            message: message.into(),
        };
        self.unset.push(UnsetSecret { used_by, problem });
    }

    /// A required key `k` of the table at `whole` is absent, unless it was
    /// written with a value of the wrong type, which says so already.
    fn missing(&mut self, whole: &[Seg], k: &str, message: impl Into<String>) {
        let mut written = whole.to_vec();
        written.push(key(k));
        if !self.wrong_typed.contains(&written) {
            self.problem(whole, message);
        }
    }
}

fn key(k: &str) -> Seg {
    Seg::Key(k.to_string())
}

/// Resolves config text; `base` is the folder relative paths start from.
/// A secret whose environment variable is unset is a problem.
pub fn resolve_str(text: &str, base: &Path) -> Result<Config, Vec<Problem>> {
    let config = resolve_str_leaving_unset(text, base)?;
    config
        .require_secrets(|_| true)
        .map_err(|e| e.problems().to_vec())?;
    Ok(config)
}

/// [`resolve_str`], keeping a secret whose environment variable is unset
/// in `unset_secrets` instead; when the file has other problems, those
/// secrets are listed with them, in the order of the file.
pub(super) fn resolve_str_leaving_unset(text: &str, base: &Path) -> Result<Config, Vec<Problem>> {
    let syntax = |e: toml::de::Error| Problem {
        key: String::new(),
        line: e.span().map(|s| line_at(text, s.start)),
        message: in_plain_words(e.message().trim()),
    };
    let mut unknown = Vec::new();
    let de = toml::Deserializer::parse(text).map_err(|e| vec![syntax(e)])?;
    let mut note_unknown = |p: serde_ignored::Path<'_>| unknown.push(ignored_path(&p));
    let read =
        serde_path_to_error::deserialize(serde_ignored::Deserializer::new(de, &mut note_unknown));
    let mut r = Resolver {
        locator: Locator {
            text,
            doc: std::cell::OnceCell::new(),
        },
        problems: Vec::new(),
        wrong_typed: Vec::new(),
        unset: Vec::new(),
    };
    let raw: RawConfig = match read {
        Ok(raw) => raw,
        Err(e) => {
            // A value of the wrong type is named by its key
            // ("output.max_items"), which toml's own message leaves out.
            let key = e.path().to_string();
            let at = error_path(e.path());
            let mut problem = syntax(e.into_inner());
            let Some(at) = at.filter(|at| !at.is_empty()) else {
                return Err(vec![problem]);
            };
            problem.key = key;
            r.problems.push(problem);
            match read_around_wrong_types(&mut r, at) {
                Some((raw, found)) => {
                    unknown = found;
                    raw
                }
                None => return Err(sorted(r.problems)),
            }
        }
    };

    for path in &unknown {
        r.problem(path, "unknown key");
    }
    let mut config = resolve(&mut r, raw, base);
    if r.problems.is_empty() {
        config.unset_secrets = sorted_by_line(r.unset, |u| &u.problem);
        Ok(config)
    } else {
        r.problems.extend(r.unset.into_iter().map(|u| u.problem));
        Err(sorted(r.problems))
    }
}

/// serde's message for a value of the wrong type with its Rust type said
/// as an operator would say it: "invalid type: string \"eight\", expected
/// i64" reads "... expected a whole number".
fn in_plain_words(message: &str) -> String {
    const TYPES: [(&str, &str); 13] = [
        ("i8", "a whole number"),
        ("i16", "a whole number"),
        ("i32", "a whole number"),
        ("i64", "a whole number"),
        ("isize", "a whole number"),
        ("u8", "a whole number from 0 to 255"),
        ("u16", "a whole number from 0 to 65535"),
        ("u32", "a whole number, 0 or more"),
        ("u64", "a whole number, 0 or more"),
        ("usize", "a whole number, 0 or more"),
        ("f32", "a number"),
        ("f64", "a number"),
        ("a sequence", "a list"),
    ];
    let Some((head, expected)) = message.rsplit_once(", expected ") else {
        return message.to_string();
    };
    match TYPES.iter().find(|(rust, _)| *rust == expected) {
        Some((_, plain)) => format!("{head}, expected {plain}"),
        None => message.to_string(),
    }
}

/// In the order of the file, whatever order they were found in.
fn sorted(problems: Vec<Problem>) -> Vec<Problem> {
    sorted_by_line(problems, |p| p)
}

fn sorted_by_line<T>(mut found: Vec<T>, problem: impl Fn(&T) -> &Problem) -> Vec<T> {
    found.sort_by_key(|t| problem(t).line.unwrap_or(usize::MAX));
    found
}

/// Reads the file again after a value of the wrong type (at `first`,
/// already reported), as a tree from which each such value is taken out
/// in turn, so that `check` lists them all in one run rather than one per
/// run. Returns the config without them and its unknown keys, or `None`
/// when the file cannot be read further (the problems found so far are in
/// `r`).
///
/// The fast path, a valid file, never gets here: it is read once,
/// without a tree.
fn read_around_wrong_types(
    r: &mut Resolver<'_>,
    first: Vec<Seg>,
) -> Option<(RawConfig, Vec<Vec<Seg>>)> {
    // Enough for any file written by hand; a bound all the same, since
    // each round reads the whole tree.
    const MAX_WRONG_TYPES: usize = 100;
    let mut tree: toml::Table = r.locator.text.parse().ok()?;
    let mut at = first;
    for _ in 0..MAX_WRONG_TYPES {
        at = take_out(&mut tree, &at)?;
        r.wrong_typed.push(at);
        let mut unknown = Vec::new();
        let mut note_unknown = |p: serde_ignored::Path<'_>| unknown.push(ignored_path(&p));
        let read = serde_path_to_error::deserialize(serde_ignored::Deserializer::new(
            toml::Value::Table(tree.clone()),
            &mut note_unknown,
        ));
        let e = match read {
            Ok(raw) => return Some((raw, unknown)),
            Err(e) => e,
        };
        at = error_path(e.path())?;
        // Taken out already and still at fault: the tree cannot be read
        // further. (No key of `RawConfig` is required, so one taken out is
        // never "missing"; what its absence means is `Resolver::missing`'s.)
        if r.wrong_typed.iter().any(|w| at.starts_with(w)) {
            return None;
        }
        r.problem(&at, in_plain_words(e.inner().message().trim()));
    }
    None
}

/// serde_path_to_error's path as ours; `None` when it has a step we
/// cannot follow in the file.
fn error_path(path: &serde_path_to_error::Path) -> Option<Vec<Seg>> {
    use serde_path_to_error::Segment as S;
    path.iter()
        .map(|seg| match seg {
            S::Seq { index } => Some(Seg::Index(*index)),
            S::Map { key } => Some(Seg::Key(key.clone())),
            S::Enum { variant } => Some(Seg::Key(variant.clone())),
            S::Unknown => None,
        })
        .collect()
}

/// Removes the value at `path` from `tree`; returns the path of what was
/// removed. An item of an array takes the whole array with it: removing
/// the item alone would renumber the ones after it, and problems found in
/// them would name the wrong item and line.
fn take_out(tree: &mut toml::Table, path: &[Seg]) -> Option<Vec<Seg>> {
    let end = path.iter().rposition(|s| matches!(s, Seg::Key(_)))?;
    let path = &path[..=end];
    let (Seg::Key(last), parents) = path.split_last()? else {
        return None;
    };
    let mut table = tree;
    let mut steps = parents.iter().peekable();
    while let Some(step) = steps.next() {
        let Seg::Key(k) = step else { return None };
        let mut value = table.get_mut(k)?;
        while let Some(Seg::Index(i)) = steps.peek() {
            steps.next();
            value = value.as_array_mut()?.get_mut(*i)?;
        }
        table = value.as_table_mut()?;
    }
    table.remove(last)?;
    Some(path.to_vec())
}

/// The whole file, one section at a time. Problems are sorted by line
/// afterwards, so the order of the calls does not show in `check`.
fn resolve(r: &mut Resolver<'_>, raw: RawConfig, base: &Path) -> Config {
    let storage = resolve_storage(r, raw.storage, base);
    let server = resolve_server(r, raw.server);
    let output = resolve_output(r, raw.output);
    let defaults = resolve_defaults(r, raw.defaults);
    let fetch = resolve_fetch(r, raw.fetch);
    let log_level = resolve_log(r, raw.log);
    let websub = resolve_websub(r, raw.websub);
    let mut feeds = resolve_feeds(r, raw.feeds, base, &defaults);
    // `websub = false` on a feed left `push_fallback` unset; every other
    // feed subscribes when `[websub]` does.
    for f in &mut feeds {
        f.push_fallback = f
            .push_fallback
            .and(websub.callback_url.as_ref().map(|_| websub.fallback_poll));
    }
    let market_written = raw.market.is_some();
    let market = raw.market.and_then(|m| resolve_market(r, m, defaults.tz));
    let views_market = match &market {
        Some(m) => ViewsMarket::Valid(m),
        // Its own problems are reported; the views' symbols are not also
        // told that it is missing.
        None if market_written => ViewsMarket::Invalid,
        None => ViewsMarket::Absent,
    };
    let views = resolve_views(r, raw.views, &feeds, views_market, output.max_items);
    let web = resolve_web(r, raw.web, &output);
    // A linkless item's page, as the feeds link it: only at a public URL
    // (a receiver elsewhere cannot open the listen address), and only
    // while pages are served.
    let item_pages = server.base_url.as_ref().filter(|_| web.enabled);
    let alerts = resolve_alerts(r, raw.alerts, &feeds, &views, &output, item_pages);
    Config {
        source: base.join("config.toml"),
        storage,
        server,
        output,
        fetch,
        log_level,
        feeds,
        market,
        views,
        web,
        alerts,
        websub,
        unset_secrets: Vec::new(),
    }
}

/// `[websub]`: the external hub and our callback must be http(s) URLs;
/// leases and the fallback are bounded.
fn resolve_websub(r: &mut Resolver<'_>, raw: RawWebSub) -> WebSubConfig {
    let at = |k: &str| [key("websub"), key(k)];
    let defaults = WebSubConfig::default();
    let hub = raw.hub.and_then(|text| match Url::parse(&text) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => Some(u),
        Ok(u) => {
            r.problem(
                &at("hub"),
                format!(
                    "{text:?} has scheme {:?}: the hub must be an http or https URL",
                    u.scheme()
                ),
            );
            None
        }
        Err(e) => {
            r.problem(&at("hub"), format!("{text:?} is not a valid URL: {e}"));
            None
        }
    });
    let callback_url = raw.callback_url.and_then(|text| match Url::parse(&text) {
        Ok(u)
            if matches!(u.scheme(), "http" | "https")
                && u.host_str().is_some()
                && u.query().is_none()
                && u.fragment().is_none() =>
        {
            // Callback paths are joined onto it.
            Some(as_directory(u))
        }
        _ => {
            r.problem(
                &at("callback_url"),
                format!(
                    "{text:?} is not an absolute http(s) URL without query or fragment (the public address hubs reach this daemon at, e.g. \"https://news.example.com/\")"
                ),
            );
            None
        }
    });
    let max_lease = ranged(
        r,
        &at("max_lease_seconds"),
        raw.max_lease_seconds,
        defaults.max_lease.as_secs(),
        60,
        366 * 86_400,
    );
    let default_lease = ranged(
        r,
        &at("lease_seconds"),
        raw.lease_seconds,
        defaults.default_lease.as_secs().min(max_lease),
        60,
        max_lease,
    );
    let retry_hours = ranged(
        r,
        &at("retry_for_hours"),
        raw.retry_for_hours,
        24,
        1,
        24 * 30,
    );
    let max_subscriptions = ranged(
        r,
        &at("max_subscriptions"),
        raw.max_subscriptions,
        defaults.max_subscriptions as u64,
        1,
        1_000_000,
    ) as usize;
    let fallback_minutes = ranged(
        r,
        &at("fallback_poll_minutes"),
        raw.fallback_poll_minutes,
        defaults.fallback_poll.as_secs() / 60,
        1,
        366 * 1_440,
    );
    let subscribe_lease = ranged(
        r,
        &at("subscribe_lease_seconds"),
        raw.subscribe_lease_seconds,
        defaults.lease.as_secs(),
        1,
        366 * 86_400,
    );
    WebSubConfig {
        max_subscriptions,
        hub,
        serve_hub: raw.serve_hub.unwrap_or(false),
        allow_private: raw.allow_private.unwrap_or(false),
        default_lease: Duration::from_secs(default_lease),
        max_lease: Duration::from_secs(max_lease),
        retry_for: Duration::from_secs(retry_hours * 3_600),
        callback_url,
        fallback_poll: Duration::from_secs(fallback_minutes * 60),
        lease: Duration::from_secs(subscribe_lease),
    }
}

/// `[web]`: the news pages.
fn resolve_web(r: &mut Resolver<'_>, raw: RawWeb, output: &OutputConfig) -> WebConfig {
    let robots = match raw.robots.as_deref() {
        None | Some("allow") => Robots::Allow,
        Some("disallow") => Robots::Disallow,
        Some(other) => {
            r.problem(
                &[key("web"), key("robots")],
                format!("{other:?} is not \"allow\" or \"disallow\""),
            );
            Robots::Allow
        }
    };
    WebConfig {
        enabled: raw.enabled.unwrap_or(true),
        title: raw.title.unwrap_or_else(|| output.title.clone()),
        robots,
        remote_images: raw.remote_images.unwrap_or(false),
        export: raw.export.unwrap_or(false),
    }
}

/// `[storage]`: where the archive lives and how long things are kept.
fn resolve_storage(r: &mut Resolver<'_>, raw: RawStorage, base: &Path) -> StorageConfig {
    const DEFAULT_PATH: &str = "data/tickerfeed.db";
    let path = raw.path.unwrap_or_else(|| DEFAULT_PATH.into());
    if path.trim().is_empty() {
        r.problem(&[key("storage"), key("path")], "must not be empty");
    }
    let max_age_days = raw.max_age_days.map(|_| {
        ranged(
            r,
            &[key("storage"), key("max_age_days")],
            raw.max_age_days,
            0,
            1,
            36_500,
        ) as u32
    });
    let max_items_per_feed = raw.max_items_per_feed.map(|_| {
        ranged(
            r,
            &[key("storage"), key("max_items_per_feed")],
            raw.max_items_per_feed,
            0,
            1,
            10_000_000,
        ) as usize
    });
    let fetch_log_days = ranged(
        r,
        &[key("storage"), key("fetch_log_days")],
        raw.fetch_log_days,
        30,
        1,
        36_500,
    ) as u32;
    StorageConfig {
        path_is_default: path == DEFAULT_PATH,
        path: base.join(path),
        fetch_log_days,
        max_age_days,
        max_items_per_feed,
    }
}

/// `[server]`: the listen address and the public URL for self links.
fn resolve_server(r: &mut Resolver<'_>, raw: RawServer) -> ServerConfig {
    let listen_text = raw.listen.unwrap_or_else(|| "127.0.0.1:8080".into());
    let listen = listen_text.parse::<SocketAddr>().unwrap_or_else(|_| {
        r.problem(
            &[key("server"), key("listen")],
            format!("{listen_text:?} is not an address and port like \"127.0.0.1:8080\""),
        );
        SocketAddr::from(([127, 0, 0, 1], 8080))
    });
    let base_url = raw.base_url.and_then(|text| match Url::parse(&text) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => {
            // Self links are joined onto it.
            Some(as_directory(u))
        }
        _ => {
            r.problem(
                &[key("server"), key("base_url")],
                format!("{text:?} is not an absolute http(s) URL"),
            );
            None
        }
    });
    ServerConfig { listen, base_url }
}

/// `[output]`: what the merged feed is called, how long it is and what
/// it leaves out.
fn resolve_output(r: &mut Resolver<'_>, raw: RawOutput) -> OutputConfig {
    let max_items = ranged(
        r,
        &[key("output"), key("max_items")],
        raw.max_items,
        100,
        1,
        10_000,
    );
    OutputConfig {
        title: raw.title.unwrap_or_else(|| "tickerfeed".into()),
        description: raw
            .description
            .unwrap_or_else(|| "News from several feeds, merged by tickerfeed".into()),
        max_items: max_items as usize,
        market_strip: raw.market.unwrap_or(true),
        exclude: resolve_rules(r, &[key("output"), key("exclude")], &raw.exclude),
    }
}

/// A list of rules (`include`, `exclude`), each compiled; a rule that
/// cannot be is reported at its own line and left out.
fn resolve_rules(r: &mut Resolver<'_>, at: &[Seg], raw: &[toml::Table]) -> Vec<Rule> {
    let mut rules = Vec::new();
    for (j, table) in raw.iter().enumerate() {
        let mut path = at.to_vec();
        path.push(Seg::Index(j));
        match Rule::from_table(table.iter().map(|(k, v)| (k.as_str(), Some(v))), |v| {
            v.as_str()
        }) {
            Ok(rule) => rules.push(rule),
            Err(e) => {
                if let Some((field, _)) = table.iter().next().filter(|_| table.len() == 1) {
                    path.push(key(field));
                }
                r.problem(&path, e.to_string());
            }
        }
    }
    rules
}

/// Reports each name in the `section` array that an earlier entry already
/// used, at the later one, saying where the first is. Checked on what was
/// written, before resolving, so a second "a" is reported even when the
/// first "a" has faults of its own.
fn report_duplicates<'n>(
    r: &mut Resolver<'_>,
    section: &str,
    what: &str,
    names: impl Iterator<Item = Option<&'n str>>,
) {
    let mut first_use: HashMap<&str, usize> = HashMap::new();
    let mut duplicates = Vec::new();
    for (i, name) in names.enumerate() {
        let Some(name) = name else { continue };
        match first_use.get(name) {
            Some(&first) => duplicates.push((i, name, first)),
            None => {
                first_use.insert(name, i);
            }
        }
    }
    for (i, name, first) in duplicates {
        let msg = match r
            .locator
            .line_of(&[key(section), Seg::Index(first), key("name")])
        {
            Some(l) => format!("duplicate {what} name {name:?} (first used at line {l})"),
            None => format!("duplicate {what} name {name:?}"),
        };
        r.problem(&[key(section), Seg::Index(i), key("name")], msg);
    }
}

/// `[market]` as the views' symbols see it.
#[derive(Clone, Copy)]
enum ViewsMarket<'a> {
    Absent,
    /// Written, with problems of its own.
    Invalid,
    Valid(&'a MarketConfig),
}

/// `[[views]]`: named selections. Every name they use (feeds, tags,
/// symbols) must be configured, so a typo is an error here rather than a
/// view that silently shows nothing.
fn resolve_views(
    r: &mut Resolver<'_>,
    raw: Vec<RawView>,
    feeds: &[FeedConfig],
    market: ViewsMarket<'_>,
    default_max: usize,
) -> Vec<ViewConfig> {
    report_duplicates(r, "views", "view", raw.iter().map(|v| v.name.as_deref()));
    raw.into_iter()
        .enumerate()
        .filter_map(|(i, view)| resolve_view(r, i, view, feeds, market, default_max))
        .collect()
}

fn resolve_view(
    r: &mut Resolver<'_>,
    i: usize,
    raw: RawView,
    feeds: &[FeedConfig],
    market: ViewsMarket<'_>,
    default_max: usize,
) -> Option<ViewConfig> {
    let at = |k: &str| vec![key("views"), Seg::Index(i), key(k)];
    let item = |k: &str, j: usize| vec![key("views"), Seg::Index(i), key(k), Seg::Index(j)];
    let problems_before = r.problems.len();
    let name = match raw.name {
        // Served at /views/{name}.atom: no dot, so the format is the text
        // after the only one.
        Some(n) if is_plain_name(&n) && !n.contains('.') => Some(n),
        Some(n) => {
            r.problem(
                &at("name"),
                format!("{n:?} is not a valid view name: use 1-64 letters, digits, '-' or '_'"),
            );
            None
        }
        None => {
            r.missing(
                &[key("views"), Seg::Index(i)],
                "name",
                "missing key \"name\"",
            );
            None
        }
    };
    for (j, f) in raw.feeds.iter().enumerate() {
        if !feeds.iter().any(|c| &c.name == f) {
            r.problem(&item("feeds", j), format!("no feed is named {f:?}"));
        }
    }
    for (j, t) in raw.tags.iter().enumerate() {
        if !feeds.iter().any(|c| c.tags.contains(t)) {
            r.problem(&item("tags", j), format!("no feed has the tag {t:?}"));
        }
    }
    // Criteria combine with AND: feeds that carry none of the tags leave
    // the view empty for ever, which nothing else would say.
    let named: Vec<&FeedConfig> = feeds
        .iter()
        .filter(|c| raw.feeds.contains(&c.name))
        .collect();
    if !raw.tags.is_empty()
        && named.len() == raw.feeds.len()
        && !named.is_empty()
        && !named
            .iter()
            .any(|c| raw.tags.iter().any(|t| c.tags.contains(t)))
    {
        r.problem(
            &[key("views"), Seg::Index(i), key("tags")],
            "none of this view's feeds has any of its tags, and a view's criteria combine with AND: it would never show an item",
        );
    }
    for (j, s) in raw.symbols.iter().enumerate() {
        match market {
            ViewsMarket::Absent => r.problem(
                &item("symbols", j),
                "symbols need a [market] section listing them",
            ),
            ViewsMarket::Valid(m) if !m.instruments.iter().any(|ins| &ins.symbol == s) => r
                .problem(
                    &item("symbols", j),
                    format!("{s:?} is not one of [market] symbols"),
                ),
            ViewsMarket::Valid(_) | ViewsMarket::Invalid => {}
        }
    }
    if let Some(pct) = raw.min_move_pct {
        if raw.symbols.is_empty() || matches!(market, ViewsMarket::Absent) {
            r.problem(
                &at("min_move_pct"),
                "min_move_pct needs `symbols` (and a [market] section): it selects by how much they moved",
            );
        } else if !(pct.is_finite() && pct > 0.0 && pct <= 1000.0) {
            r.problem(
                &at("min_move_pct"),
                format!("{pct} is out of range: use a percentage above 0, e.g. 1.5"),
            );
        }
    }
    if let Some(q) = &raw.query
        && fts_query(q).is_none()
    {
        r.problem(&at("query"), "an empty query; remove the key instead");
    }
    let include = resolve_rules(r, &at("include"), &raw.include);
    let exclude = resolve_rules(r, &at("exclude"), &raw.exclude);
    let selection = Selection {
        feeds: raw.feeds,
        tags: raw.tags,
        symbols: raw.symbols,
        min_move_pct: raw.min_move_pct,
        query: raw.query,
        include,
        exclude,
    };
    if selection.is_everything() && r.problems.len() == problems_before {
        r.problem(
            &[key("views"), Seg::Index(i)],
            "a view needs at least one criterion: symbols, min_move_pct, query, tags, feeds, include or exclude",
        );
    }
    let max_items = ranged(
        r,
        &at("max_items"),
        raw.max_items,
        default_max as u64,
        1,
        10_000,
    ) as usize;
    let name = name?;
    (r.problems.len() == problems_before).then(|| ViewConfig {
        title: raw.title.unwrap_or_else(|| name.clone()),
        name,
        selection,
        max_items,
    })
}

/// `[[alerts]]`: webhooks. The view or feed an alert names must be
/// configured, and its URL http or https, so `check` catches a typo
/// before an alert silently never fires.
fn resolve_alerts(
    r: &mut Resolver<'_>,
    raw: Vec<RawAlert>,
    feeds: &[FeedConfig],
    views: &[ViewConfig],
    output: &OutputConfig,
    item_pages: Option<&Url>,
) -> Vec<AlertConfig> {
    report_duplicates(r, "alerts", "alert", raw.iter().map(|a| a.name.as_deref()));
    raw.into_iter()
        .enumerate()
        .filter_map(|(i, alert)| resolve_alert(r, i, alert, feeds, views, output, item_pages))
        .collect()
}

fn resolve_alert(
    r: &mut Resolver<'_>,
    i: usize,
    raw: RawAlert,
    feeds: &[FeedConfig],
    views: &[ViewConfig],
    output: &OutputConfig,
    item_pages: Option<&Url>,
) -> Option<AlertConfig> {
    let at = |k: &str| vec![key("alerts"), Seg::Index(i), key(k)];
    let whole = [key("alerts"), Seg::Index(i)];
    let problems_before = r.problems.len();
    let name = match raw.name {
        // Half of the idempotency key `name:uid`: no colon, no dot.
        Some(n) if is_plain_name(&n) && !n.contains('.') => Some(n),
        Some(n) => {
            r.problem(
                &at("name"),
                format!("{n:?} is not a valid alert name: use 1-64 letters, digits, '-' or '_'"),
            );
            None
        }
        None => {
            r.missing(&whole, "name", "missing key \"name\"");
            None
        }
    };
    let main = |feeds: Vec<String>| Selection {
        feeds,
        exclude: output.exclude.clone(),
        ..Selection::default()
    };
    let (watches, selection) = match (raw.view, raw.feed) {
        (Some(_), Some(_)) => {
            r.problem(
                &at("feed"),
                "an alert watches a view or a feed, not both: remove `view` or `feed`",
            );
            (AlertSource::Main, main(Vec::new()))
        }
        (Some(v), None) => match views.iter().find(|c| c.name == v) {
            Some(view) => (AlertSource::View(v), view.selection.clone()),
            None => {
                r.problem(&at("view"), format!("no view is named {v:?}"));
                (AlertSource::Main, main(Vec::new()))
            }
        },
        (None, Some(f)) => {
            if !feeds.iter().any(|c| c.name == f) {
                r.problem(&at("feed"), format!("no feed is named {f:?}"));
            }
            (AlertSource::Feed(f.clone()), main(vec![f]))
        }
        (None, None) => (AlertSource::Main, main(Vec::new())),
    };
    let url = match raw.url {
        Some(text) => match Url::parse(&text) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => Some(u),
            Ok(u) => {
                r.problem(
                    &at("url"),
                    // Not the URL itself: its path or query may hold
                    // the receiver's token, and this is logged.
                    format!(
                        "{} has scheme {:?}: alert URLs must be http or https",
                        crate::link::origin_shown(&u),
                        u.scheme()
                    ),
                );
                None
            }
            Err(e) => {
                // Not the text: it may hold the receiver's token, and
                // this is logged; the key's line points at it.
                r.problem(&at("url"), format!("not a valid URL: {e}"));
                None
            }
        },
        None => {
            r.missing(&whole, "url", "missing key \"url\"");
            None
        }
    };
    let format = match raw.format.as_deref() {
        None | Some("json") => AlertFormat::Json,
        Some("ntfy") => AlertFormat::Ntfy,
        Some("slack") => AlertFormat::Slack,
        Some(other) => {
            r.problem(
                &at("format"),
                format!("unknown format {other:?}: use json, ntfy or slack"),
            );
            AlertFormat::Json
        }
    };
    if format == AlertFormat::Ntfy
        && let Some(u) = &url
        && u.path_segments()
            .and_then(|mut s| s.next_back())
            .is_none_or(str::is_empty)
    {
        r.problem(
            &at("url"),
            "an ntfy URL names its topic as the last part of the path, e.g. https://ntfy.sh/my-topic",
        );
    }
    let secret = match raw.secret_env.as_deref() {
        None => None,
        Some(var) => match std::env::var(var) {
            Ok(v) if !v.trim().is_empty() => Some(Secret::new(v)),
            _ => {
                r.unset(
                    &at("secret_env"),
                    SecretUse::Alert(name.clone().unwrap_or_default()),
                    format!("the environment variable {var} is not set"),
                );
                None
            }
        },
    };
    let max_per_hour = raw
        .max_per_hour
        .map(|_| ranged(r, &at("max_per_hour"), raw.max_per_hour, 60, 1, 3_600) as u32);
    let retry_hours = ranged(
        r,
        &at("retry_for_hours"),
        raw.retry_for_hours,
        24,
        1,
        24 * 30,
    );
    let name = name?;
    (r.problems.len() == problems_before).then(|| AlertConfig {
        name,
        watches,
        selection,
        url: url.expect("no problem was recorded, so the URL resolved"),
        format,
        secret,
        max_per_hour,
        allow_private: raw.allow_private.unwrap_or(false),
        retry_for: Duration::from_secs(retry_hours * 3_600),
        item_pages: item_pages.cloned(),
    })
}

/// `[defaults]`, resolved: what feeds (and the market schedule) fall back on.
struct Defaults {
    /// The zone every schedule is evaluated in.
    tz: TimeZone,
    /// The schedule of a feed that names none.
    schedule: Schedule,
    /// `fulltext` of a feed that does not say.
    fulltext: bool,
}

fn resolve_defaults(r: &mut Resolver<'_>, raw: RawDefaults) -> Defaults {
    let tz = match raw.timezone.as_deref() {
        None => TimeZone::Local,
        Some(t) if t.eq_ignore_ascii_case("local") => TimeZone::Local,
        Some(t) if t.eq_ignore_ascii_case("utc") => TimeZone::Utc,
        Some(t) => {
            r.problem(
                &[key("defaults"), key("timezone")],
                format!("{t:?} is not a supported time zone: use \"local\" or \"UTC\""),
            );
            TimeZone::Local
        }
    };
    let expr = raw.schedule.unwrap_or_else(|| "*/15 * * * *".into());
    let schedule = match Schedule::parse(&expr, tz) {
        Ok(s) => s,
        Err(e) => {
            r.problem(&[key("defaults"), key("schedule")], e.to_string());
            Schedule::parse("*/15 * * * *", tz).expect("the built-in default schedule is valid")
        }
    };
    Defaults {
        tz,
        schedule,
        fulltext: raw.fulltext.unwrap_or(false),
    }
}

/// `[fetch]`: the HTTP client and the politeness limits.
fn resolve_fetch(r: &mut Resolver<'_>, raw: RawFetch) -> FetchConfig {
    let user_agent = match raw.user_agent {
        Some(ua) if ua.trim().is_empty() => {
            r.problem(&[key("fetch"), key("user_agent")], "must not be empty");
            DEFAULT_USER_AGENT.into()
        }
        Some(ua) => ua,
        None => DEFAULT_USER_AGENT.into(),
    };
    // `[fetch]` integers: the key, its value, default and allowed range.
    let mut n = |k: &str, v: Option<i64>, default: u64, min: u64, max: u64| {
        ranged(r, &[key("fetch"), key(k)], v, default, min, max)
    };
    let secs = Duration::from_secs;
    FetchConfig {
        user_agent,
        timeout: secs(n("timeout_secs", raw.timeout_secs, 30, 1, 600)),
        connect_timeout: secs(n(
            "connect_timeout_secs",
            raw.connect_timeout_secs,
            10,
            1,
            120,
        )),
        max_body_bytes: n(
            "max_body_bytes",
            raw.max_body_bytes,
            16 * 1024 * 1024,
            1024,
            1 << 30,
        ) as usize,
        concurrency: n("concurrency", raw.concurrency, 8, 1, 256) as usize,
        per_host_concurrency: n("per_host_concurrency", raw.per_host_concurrency, 2, 1, 64)
            as usize,
        per_host_spacing: Duration::from_millis(n(
            "per_host_spacing_ms",
            raw.per_host_spacing_ms,
            500,
            0,
            600_000,
        )),
        max_retry_after: secs(n(
            "max_retry_after_secs",
            raw.max_retry_after_secs,
            86_400,
            60,
            30 * 86_400,
        )),
        backoff_base: secs(n(
            "backoff_base_secs",
            raw.backoff_base_secs,
            300,
            1,
            86_400,
        )),
        backoff_max: secs(n(
            "backoff_max_secs",
            raw.backoff_max_secs,
            86_400,
            60,
            7 * 86_400,
        )),
        max_hint: secs(n(
            "max_hint_secs",
            raw.max_hint_secs,
            86_400,
            60,
            7 * 86_400,
        )),
        redirect_confirmations: n(
            "redirect_confirmations",
            raw.redirect_confirmations,
            3,
            1,
            1000,
        ) as u32,
        article_concurrency: n("article_concurrency", raw.article_concurrency, 2, 1, 64) as usize,
        article_timeout: secs(n(
            "article_timeout_secs",
            raw.article_timeout_secs,
            20,
            1,
            600,
        )),
        article_max_bytes: n(
            "article_max_bytes",
            raw.article_max_bytes,
            2 * 1024 * 1024,
            1024,
            1 << 30,
        ) as usize,
    }
}

/// `[log]`: the level is only checked here; `cli` installs it.
fn resolve_log(r: &mut Resolver<'_>, raw: RawLog) -> Option<String> {
    if let Some(level) = &raw.level
        && tracing_subscriber::EnvFilter::try_new(level).is_err()
    {
        r.problem(
            &[key("log"), key("level")],
            format!(
                "{level:?} is not a log level or filter (try \"info\" or \"tickerfeed=debug\")"
            ),
        );
    }
    raw.level
}

/// `[[feeds]]`: every entry, with names unique across them.
fn resolve_feeds(
    r: &mut Resolver<'_>,
    raw: Vec<RawFeed>,
    base: &Path,
    defaults: &Defaults,
) -> Vec<FeedConfig> {
    report_duplicates(r, "feeds", "feed", raw.iter().map(|f| f.name.as_deref()));
    // Feeds that write the same schedule share one parsed copy.
    let mut schedules: HashMap<String, Schedule> = HashMap::new();
    raw.into_iter()
        .enumerate()
        .filter_map(|(i, feed)| resolve_feed(r, i, feed, base, defaults, &mut schedules))
        .collect()
}

/// `[market]`: the ticker board. `None` (with problems recorded) when the
/// provider or schedule is unusable.
fn resolve_market(r: &mut Resolver<'_>, raw: RawMarket, tz: TimeZone) -> Option<MarketConfig> {
    let at = |k: &str| [key("market"), key(k)];
    let provider = match raw.provider.as_deref() {
        None => {
            r.missing(
                &[key("market")],
                "provider",
                "missing key \"provider\" (yahoo, finnhub, twelvedata, stooq or alphavantage)",
            );
            None
        }
        Some(p) => match p.parse::<ProviderKind>() {
            Ok(k) => Some(k),
            Err(_) => {
                r.problem(&at("provider"), format!("{p:?} is not a provider: use yahoo, finnhub, twelvedata, stooq or alphavantage"));
                None
            }
        },
    };
    let schedule = match Schedule::parse(raw.schedule.as_deref().unwrap_or("*/5 * * * *"), tz) {
        Ok(s) => Some(s),
        Err(e) => {
            r.problem(&at("schedule"), e.to_string());
            None
        }
    };
    let instruments = resolve_instruments(r, raw.symbols);
    let base_url = raw.base_url.and_then(|text| match Url::parse(&text) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => Some(u),
        _ => {
            r.problem(
                &at("base_url"),
                format!("{text:?} is not an absolute http(s) URL"),
            );
            None
        }
    });
    let api_key = resolve_api_key(r, raw.api_key_env.as_deref(), provider);
    // Default: three schedule periods, so one missed refresh is not "stale".
    let stale_after = match raw.stale_after_secs {
        Some(_) => Duration::from_secs(ranged(
            r,
            &at("stale_after_secs"),
            raw.stale_after_secs,
            900,
            10,
            7 * 86_400,
        )),
        None => schedule
            .as_ref()
            .and_then(|s| s.period())
            .map(|p| p * 3)
            .unwrap_or(Duration::from_secs(900)),
    };
    let plan = raw.plan.map(|plan| resolve_plan(r, plan));
    Some(MarketConfig {
        label: raw.label.unwrap_or_else(|| "Markets".into()),
        provider: provider?,
        schedule: schedule?,
        instruments,
        base_url,
        api_key,
        stale_after,
        plan,
    })
}

/// `[market.plan]`: at least one window, each a count of at least 1.
fn resolve_plan(r: &mut Resolver<'_>, raw: RawPlan) -> Plan {
    let mut window = |name: &str, value: Option<i64>| {
        let path = [key("market"), key("plan"), key(name)];
        match value {
            None => None,
            Some(v) => match u32::try_from(v) {
                Ok(n) if n >= 1 => Some(n),
                _ => {
                    r.problem(
                        &path,
                        format!(
                            "{v} is not a limit: give the plan's requests per window, at least 1, or leave {name} out for no limit in that window"
                        ),
                    );
                    None
                }
            },
        }
    };
    let plan = Plan {
        per_second: window("per_second", raw.per_second),
        per_minute: window("per_minute", raw.per_minute),
        per_day: window("per_day", raw.per_day),
    };
    if raw.per_second.is_none() && raw.per_minute.is_none() && raw.per_day.is_none() {
        r.problem(
            &[key("market"), key("plan")],
            "an empty plan: give its limits (per_second, per_minute, per_day), or leave [market.plan] out for the provider's free tier",
        );
    }
    plan
}

/// `[market] symbols`: plain symbols or tables, each listed once.
fn resolve_instruments(r: &mut Resolver<'_>, raw: Vec<RawSymbol>) -> Vec<InstrumentConfig> {
    let mut instruments: Vec<InstrumentConfig> = Vec::new();
    for (i, sym) in raw.into_iter().enumerate() {
        let path = [key("market"), key("symbols"), Seg::Index(i)];
        let (symbol, name, names, provider_symbol, exclude, case_sensitive, cik, exchange, daily) =
            match sym {
                RawSymbol::Plain(s) => (
                    Some(s),
                    None,
                    Vec::new(),
                    None,
                    Vec::new(),
                    false,
                    None,
                    None,
                    false,
                ),
                RawSymbol::Table(t) => (
                    t.symbol,
                    t.name,
                    t.names,
                    t.provider_symbol,
                    t.exclude,
                    t.case_sensitive,
                    t.cik,
                    t.exchange,
                    t.daily,
                ),
            };
        let Some(symbol) = symbol
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
        else {
            r.missing(
                &path,
                "symbol",
                "a symbol table needs a non-empty \"symbol\"",
            );
            continue;
        };
        if !symbol
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '^' | '=' | '_'))
        {
            r.problem(&path, format!("{symbol:?} is not a ticker symbol"));
            continue;
        }
        if instruments.iter().any(|x| x.symbol == symbol) {
            r.problem(&path, format!("symbol {symbol:?} is listed twice"));
            continue;
        }
        for (j, pattern) in exclude.iter().enumerate() {
            if let Err(e) = regex::Regex::new(pattern) {
                let at = [
                    key("market"),
                    key("symbols"),
                    Seg::Index(i),
                    key("exclude"),
                    Seg::Index(j),
                ];
                r.problem(&at, format!("{pattern:?} is not a valid regex: {e}"));
            }
        }
        // EDGAR writes CIKs zero-padded to ten digits; compare the number.
        let cik = match cik.map(|c| c.trim().trim_start_matches('0').to_string()) {
            Some(c) if c.is_empty() || !c.chars().all(|d| d.is_ascii_digit()) => {
                r.problem(
                    &[key("market"), key("symbols"), Seg::Index(i), key("cik")],
                    "a CIK is the SEC's number for the filer, digits only",
                );
                None
            }
            c => c,
        };
        instruments.push(InstrumentConfig {
            provider_symbol: provider_symbol.unwrap_or_else(|| symbol.clone()),
            symbol,
            name,
            names: names.into_iter().filter(|n| !n.trim().is_empty()).collect(),
            exclude,
            case_sensitive,
            cik,
            exchange: exchange
                .map(|e| e.trim().to_string())
                .filter(|e| !e.is_empty()),
            daily,
        });
    }
    if instruments.is_empty() {
        r.problem(&[key("market"), key("symbols")], "list at least one symbol");
    }
    instruments
}

/// `[market] api_key_env`: the key is read here, once per load (startup or
/// reload), from the environment variable the config names.
fn resolve_api_key(
    r: &mut Resolver<'_>,
    var: Option<&str>,
    provider: Option<ProviderKind>,
) -> Option<Secret> {
    let at = [key("market"), key("api_key_env")];
    match (var, provider) {
        (Some(var), _) => match std::env::var(var) {
            Ok(v) if !v.trim().is_empty() => Some(Secret::new(v)),
            _ => {
                r.unset(
                    &at,
                    SecretUse::Market,
                    format!("the environment variable {var} is not set"),
                );
                None
            }
        },
        (None, Some(p)) if p.needs_api_key() => {
            r.problem(
                &at,
                format!("{} needs an API key: name the environment variable that holds it, e.g. api_key_env = \"{}_API_KEY\"", p.as_str(), p.as_str().to_uppercase()),
            );
            None
        }
        (None, _) => None,
    }
}

/// Characters allowed in feed names, tags and view names: they appear in URLs
/// (`/tags/{tag}.atom`) and in log lines, so keep them plain.
fn is_plain_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn resolve_feed(
    r: &mut Resolver<'_>,
    i: usize,
    raw: RawFeed,
    base: &Path,
    defaults: &Defaults,
    schedules: &mut HashMap<String, Schedule>,
) -> Option<FeedConfig> {
    let (default_schedule, tz, default_fulltext) =
        (&defaults.schedule, defaults.tz, defaults.fulltext);
    let at = |k: &str| [key("feeds"), Seg::Index(i), key(k)];
    let whole = [key("feeds"), Seg::Index(i)];
    let name = match raw.name {
        Some(n) if is_plain_name(&n) => Some(n),
        Some(n) => {
            r.problem(
                &at("name"),
                format!(
                    "{n:?} is not a valid feed name: use 1-64 letters, digits, '-', '_' or '.'"
                ),
            );
            None
        }
        None => {
            r.missing(&whole, "name", "missing key \"name\"");
            None
        }
    };
    let mut url_template = None;
    let mut url_values = crate::link::Filled::default();
    let feed = name.as_deref().unwrap_or("?");
    let url = match raw.url {
        Some(text) => match fill_from_environment(&text) {
            Err(why) => {
                r.problem(&at("url"), format!("feed {feed:?}: {why}"));
                None
            }
            Ok(filled) => {
                if let Some(var) = filled.unset.first() {
                    r.unset(
                        &at("url"),
                        SecretUse::Feed(feed.to_string()),
                        format!(
                            "feed {feed:?}: the environment variable {var} (${{{var}}} in its url) is not set"
                        ),
                    );
                }
                // `****` cannot stand where a URL takes only digits (a
                // port, `http://127.0.0.1:${TF_PORT}/feed.xml`): there the
                // unset variable reads 0, so the commands that read
                // without the secrets still have the feed, and show it as
                // the config writes it (`url_template`).
                let parsed = match parse_feed_url(&filled.url, &text, base) {
                    Err(_) if !filled.unset.is_empty() => {
                        parse_feed_url(&filled.url_unset_as_zero, &text, base)
                    }
                    parsed => parsed,
                };
                match parsed {
                    Ok(u) => {
                        url_template = (filled.url != text).then_some(text);
                        url_values = crate::link::Filled::of(filled.values);
                        Some(u)
                    }
                    // Not the URL as it would be with the value: no
                    // problem of its own, and no feed in the config.
                    Err(_) if !filled.unset.is_empty() => None,
                    Err(msg) => {
                        r.problem(&at("url"), msg);
                        None
                    }
                }
            }
        },
        None => {
            r.missing(&whole, "url", "missing key \"url\"");
            None
        }
    };
    let schedule = match raw.schedule {
        Some(expr) => match schedules.get(&expr) {
            Some(known) => Some(known.clone()),
            None => match Schedule::parse(&expr, tz) {
                Ok(s) => {
                    schedules.insert(expr, s.clone());
                    Some(s)
                }
                Err(e) => {
                    r.problem(&at("schedule"), e.to_string());
                    None
                }
            },
        },
        None => Some(default_schedule.clone()),
    };
    let mut tags = Vec::new();
    for (j, tag) in raw.tags.into_iter().enumerate() {
        if is_plain_name(&tag) {
            if !tags.contains(&tag) {
                tags.push(tag);
            }
        } else {
            r.problem(
                &[key("feeds"), Seg::Index(i), key("tags"), Seg::Index(j)],
                format!("{tag:?} is not a valid tag: use 1-64 letters, digits, '-', '_' or '.'"),
            );
        }
    }
    let user_agent = match raw.user_agent {
        Some(ua) if ua.trim().is_empty() => {
            r.problem(&at("user_agent"), "must not be empty");
            None
        }
        ua => ua,
    };
    Some(FeedConfig {
        name: name?,
        url: url?,
        url_template,
        filled: url_values,
        schedule: schedule?,
        tags,
        user_agent,
        respect_hints: raw.respect_hints.unwrap_or(true),
        fulltext: raw.fulltext.unwrap_or(default_fulltext),
        // A placeholder meaning "subscribes if `[websub]` does"; the real
        // floor is set once `[websub]` is resolved (`resolve`).
        push_fallback: raw.websub.unwrap_or(true).then_some(Duration::ZERO),
    })
}

/// A feed URL's text with its `${NAME}`s filled from the environment
/// ([`fill_from_environment`]).
struct FromEnvironment {
    /// What to fetch: each `${NAME}` holding its value, or `****` where
    /// the variable is unset or empty, as the archive writes a key: a URL
    /// that no command that fetches will take (`SecretUse::Feed`).
    url: String,
    /// `url` with `0` in place of `****`, for a variable in the port,
    /// where `****` cannot stand.
    url_unset_as_zero: String,
    /// The values filled in, which are blanked wherever the URL is kept,
    /// shown or logged (`link::Filled`).
    values: Vec<String>,
    /// The variables unset or empty, in the order the URL names them.
    unset: Vec<String>,
}

/// A feed URL's `${NAME}`s, each replaced by the value of the environment
/// variable NAME, read here, once per load (start, reload, every
/// command), as `api_key_env` is: so a key need not be written in the
/// config. The value goes in as it is (percent-encode what a URL cannot
/// hold there). The error names the variable, never a value.
fn fill_from_environment(text: &str) -> Result<FromEnvironment, String> {
    let mut found: Vec<(String, Option<String>)> = Vec::new();
    fill_variables(text, |var| {
        let value = std::env::var(var).ok().filter(|v| !v.trim().is_empty());
        found.push((var.to_string(), value));
        Ok(String::new())
    })?;
    let filled = |unset_as: &str| {
        fill_variables(text, |var| {
            let value = found.iter().find(|(name, _)| name == var);
            Ok(value
                .and_then(|(_, v)| v.clone())
                .unwrap_or_else(|| unset_as.to_string()))
        })
    };
    Ok(FromEnvironment {
        url: filled(crate::link::BLANK)?,
        url_unset_as_zero: filled("0")?,
        values: found.iter().filter_map(|(_, v)| v.clone()).collect(),
        unset: found
            .iter()
            .filter(|(_, v)| v.is_none())
            .map(|(name, _)| name.clone())
            .collect(),
    })
}

/// `text` with each `${NAME}` replaced by `value(NAME)`. No escape: no
/// feed URL needs a literal `${`, and a `$` not followed by `{` is left
/// alone.
pub(super) fn fill_variables(
    text: &str,
    mut value: impl FnMut(&str) -> Result<String, String>,
) -> Result<String, String> {
    let mut filled = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("${") {
        filled.push_str(&rest[..at]);
        let after = &rest[at + 2..];
        let var = after
            .find('}')
            .map(|end| &after[..end])
            .filter(|v| {
                v.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                    && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            })
            .ok_or_else(|| {
                "\"${\" must start an environment variable's name closed by \"}\", as in ${NEWS_API_KEY}".to_string()
            })?;
        filled.push_str(&value(var)?);
        rest = &after[var.len() + 1..];
    }
    filled.push_str(rest);
    Ok(filled)
}

/// Feed URLs are `http`, `https` or `file`. A `file:` URL with a relative
/// path (`file:feeds/local.xml`) resolves against the config's folder, like
/// every other path in the config. `text` is the URL with its variables
/// filled, `written` the config's text, which is what errors quote.
fn parse_feed_url(text: &str, written: &str, base: &Path) -> Result<Url, String> {
    if let Some(rest) = text.strip_prefix("file:")
        && !rest.starts_with('/')
    {
        let abs = std::path::absolute(base.join(rest))
            .map_err(|e| format!("{written:?}: cannot make the path absolute: {e}"))?;
        return Url::from_file_path(&abs)
            .map_err(|()| format!("{written:?} is not a usable file path"));
    }
    match Url::parse(text) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => Ok(u),
        Ok(u) if u.scheme() == "file" => Ok(u),
        Ok(u) => Err(format!(
            "{written:?} has scheme {:?}: feed URLs must be http, https or file",
            u.scheme()
        )),
        Err(e) => Err(format!("{written:?} is not a valid URL: {e}")),
    }
}

/// An integer setting with a default and an allowed range.
fn ranged(
    r: &mut Resolver<'_>,
    path: &[Seg],
    value: Option<i64>,
    default: u64,
    min: u64,
    max: u64,
) -> u64 {
    match value {
        None => default,
        Some(v) if v >= min as i64 && v <= max as i64 => v as u64,
        Some(v) => {
            r.problem(path, format!("{v} is out of range: use {min} to {max}"));
            default
        }
    }
}

/// `u` with a path that ends in `/`: a relative path joined onto a URL
/// replaces its last segment unless that segment ends in `/`, so a base
/// the config names as `https://host/tf` must become `https://host/tf/`.
fn as_directory(mut u: Url) -> Url {
    if !u.path().ends_with('/') {
        let p = format!("{}/", u.path());
        u.set_path(&p);
    }
    u
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(text: &str) -> Vec<Problem> {
        resolve_str(text, Path::new("/etc/tickerfeed")).expect_err("config should be rejected")
    }

    /// A feed URL's `${NAME}` that is no variable's name, or names one
    /// that is unset, is refused at the url's line, naming the feed; one
    /// that is set (`HOME`, set wherever the tests run) is filled in, and
    /// the template kept beside it.
    #[test]
    fn a_feed_urls_variables_come_from_the_environment() {
        let p = problems(
            "[[feeds]]\nname = \"a\"\nurl = \"https://a.test/f?key=${not-a-name}\"\n\
             [[feeds]]\nname = \"b\"\nurl = \"https://b.test/f?key=${TF_TEST_UNSET_3e7a}\"\n",
        );
        let got: Vec<(&str, Option<usize>, &str)> = p
            .iter()
            .map(|p| (p.key.as_str(), p.line, p.message.as_str()))
            .collect();
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!((got[0].0, got[0].1), ("feeds[0].url", Some(3)));
        assert!(
            got[0].2.starts_with("feed \"a\": \"${\" must start"),
            "{got:?}"
        );
        assert_eq!((got[1].0, got[1].1), ("feeds[1].url", Some(6)));
        assert_eq!(
            got[1].2,
            "feed \"b\": the environment variable TF_TEST_UNSET_3e7a (${TF_TEST_UNSET_3e7a} in its url) is not set"
        );
        let home = std::env::var("HOME").expect("tests run with a HOME");
        let cfg = resolve_str(
            "[[feeds]]\nname = \"a\"\nurl = \"https://a.test/f?dir=${HOME}&cost=$5\"\n",
            Path::new("/etc/tickerfeed"),
        )
        .unwrap();
        assert_eq!(
            cfg.feeds[0].url.query(),
            Some(format!("dir={home}&cost=$5").as_str())
        );
        assert_eq!(
            cfg.feeds[0].url_template.as_deref(),
            Some("https://a.test/f?dir=${HOME}&cost=$5")
        );
        // A refused scheme is quoted as written, never with the value.
        let p = problems("[[feeds]]\nname = \"a\"\nurl = \"ftp://a.test/f?k=${HOME}\"\n");
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].message.contains("${HOME}"), "{p:?}");
        assert!(!p[0].message.contains(&home), "{p:?}");
    }

    /// An operator's `max_items = "ten"` was reported as "invalid type:
    /// string \"ten\", expected i64" with a line but no key; in a long
    /// file, under a feed's table, the key is what says which setting,
    /// and "a whole number" what it takes.
    #[test]
    fn a_value_of_the_wrong_type_names_its_key() {
        let p = problems("[output]\nmax_items = \"ten\"\n");
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p[0].key, "output.max_items");
        assert_eq!(p[0].line, Some(2));
        // Said as an operator says it, not as Rust's "i64".
        assert_eq!(
            p[0].message,
            "invalid type: string \"ten\", expected a whole number"
        );
        let p = problems(
            "[[feeds]]\nname = \"a\"\nurl = \"https://a.test/\"\n\
             [[feeds]]\nname = \"b\"\nurl = \"https://b.test/\"\ntags = \"world\"\n",
        );
        assert_eq!(
            p[0].located(Path::new("config.toml")),
            format!("config.toml:7: feeds[1].tags: {}", p[0].message)
        );
        assert!(p[0].message.ends_with("expected a list"), "{p:?}");
        // A syntax error is the file's, not a key's.
        let p = problems("[output\n");
        assert_eq!(p[0].key, "");
    }

    #[test]
    fn minimal_config_gets_defaults() {
        let cfg = resolve_str(
            "[[feeds]]\nname = \"a\"\nurl = \"https://example.com/a.xml\"\n",
            Path::new("/etc/tickerfeed"),
        )
        .unwrap();
        assert_eq!(
            cfg.storage.path,
            Path::new("/etc/tickerfeed/data/tickerfeed.db")
        );
        assert!(cfg.storage.path_is_default);
        assert_eq!(cfg.output.max_items, 100);
        assert_eq!(cfg.feeds[0].schedule.expr(), "*/15 * * * *");
        assert_eq!(cfg.fetch.user_agent, DEFAULT_USER_AGENT);
        assert!(!cfg.feeds[0].fulltext);
        assert_eq!(cfg.fetch.article_concurrency, 2);
        assert_eq!(cfg.fetch.article_max_bytes, 2 * 1024 * 1024);
    }

    /// Only a path other than the default can be a typo (`cli::quotes`
    /// creates nothing there unless its folder is there).
    #[test]
    fn the_default_archive_path_is_known_as_such_written_or_not() {
        let path_is_default = |storage: &str| {
            resolve_str(storage, Path::new("/etc/tickerfeed"))
                .unwrap()
                .storage
                .path_is_default
        };
        assert!(path_is_default(
            "[storage]\npath = \"data/tickerfeed.db\"\n"
        ));
        assert!(!path_is_default(
            "[storage]\npath = \"dat/tickerfeed.db\"\n"
        ));
        assert!(!path_is_default(
            "[storage]\npath = \"/var/lib/tickerfeed/tickerfeed.db\"\n"
        ));
    }

    #[test]
    fn public_base_urls_end_in_a_slash_so_paths_join_under_them() {
        let cfg = resolve_str(
            r#"
[server]
base_url = "https://example.org/tf"
[websub]
callback_url = "https://example.org/hooks"
[[feeds]]
name = "a"
url = "https://example.com/a.xml"
"#,
            Path::new("/etc/tickerfeed"),
        )
        .unwrap();
        let base = cfg.server.base_url.unwrap();
        assert_eq!(base.as_str(), "https://example.org/tf/");
        assert_eq!(
            base.join("feed.atom").unwrap().as_str(),
            "https://example.org/tf/feed.atom"
        );
        let callback = cfg.websub.callback_url.unwrap();
        assert_eq!(callback.as_str(), "https://example.org/hooks/");
    }

    #[test]
    fn fulltext_per_feed_or_from_defaults() {
        let cfg = resolve_str(
            r#"
[defaults]
fulltext = true
[fetch]
article_timeout_secs = 5
[[feeds]]
name = "a"
url = "https://example.com/a.xml"
[[feeds]]
name = "b"
url = "https://example.com/b.xml"
fulltext = false
"#,
            Path::new("/etc/tickerfeed"),
        )
        .unwrap();
        assert!(cfg.feeds[0].fulltext);
        assert!(!cfg.feeds[1].fulltext);
        assert_eq!(cfg.fetch.article_timeout, Duration::from_secs(5));
    }

    #[test]
    fn websub_keys_resolve_and_bad_values_name_their_key() {
        let cfg = resolve_str(
            "[websub]\ncallback_url = \"https://news.example.com/tf\"\nfallback_poll_minutes = 90\n[[feeds]]\nname = \"a\"\nurl = \"https://example.com/a.xml\"\n[[feeds]]\nname = \"b\"\nurl = \"https://example.com/b.xml\"\nwebsub = false\n",
            Path::new("/etc/tickerfeed"),
        )
        .unwrap();
        assert_eq!(
            cfg.websub.callback_url.as_ref().map(Url::as_str),
            Some("https://news.example.com/tf/")
        );
        assert_eq!(cfg.websub.fallback_poll, Duration::from_secs(90 * 60));
        assert_eq!(
            cfg.feeds[0].push_fallback,
            Some(Duration::from_secs(90 * 60))
        );
        assert_eq!(cfg.feeds[1].push_fallback, None);
        // Off by default: no feed subscribes.
        let off = resolve_str(
            "[[feeds]]\nname = \"a\"\nurl = \"https://example.com/a.xml\"\n",
            Path::new("/etc/tickerfeed"),
        )
        .unwrap();
        assert_eq!(off.websub.callback_url, None);
        assert_eq!(off.feeds[0].push_fallback, None);
        assert_eq!(off.websub.fallback_poll, Duration::from_secs(6 * 3_600));

        let found = problems(
            "[websub]\ncallback_url = \"ftp://x.example/\"\nfallback_poll_minutes = 0\nsubscribe_lease_seconds = 0\n",
        );
        let text_of = |k: &str| {
            found
                .iter()
                .find(|p| p.key == k)
                .unwrap_or_else(|| panic!("no problem for {k}: {found:?}"))
                .clone()
        };
        let url = text_of("websub.callback_url");
        assert_eq!(url.line, Some(2));
        assert!(url.message.contains("absolute http(s) URL"), "{url:?}");
        assert_eq!(text_of("websub.fallback_poll_minutes").line, Some(3));
        assert_eq!(text_of("websub.subscribe_lease_seconds").line, Some(4));
    }

    /// A wrong type stopped the reading: `check` named it alone, and the
    /// operator found the next problem only after fixing it.
    #[test]
    fn every_wrong_type_is_listed_with_the_other_problems() {
        let text = r#"[output]
max_items = "ten"

[[feeds]]
name = "a"
url = "https://a.test/"
schedule = "not cron"
colour = "red"

[[feeds]]
name = "b"
url = "https://b.test/"
tags = ["ok", 5]
respect_hints = "yes"
"#;
        let p = problems(text);
        let keys: Vec<(&str, Option<usize>)> = p.iter().map(|p| (p.key.as_str(), p.line)).collect();
        assert_eq!(
            keys,
            [
                ("output.max_items", Some(2)),
                ("feeds[0].schedule", Some(7)),
                ("feeds[0].colour", Some(8)),
                ("feeds[1].tags[1]", Some(13)),
                ("feeds[1].respect_hints", Some(14)),
            ]
        );
        assert!(p[0].message.contains("expected a whole number"), "{p:?}");
        assert!(p[3].message.contains("expected a string"), "{p:?}");
        assert!(p[4].message.contains("expected a boolean"), "{p:?}");
    }

    /// A required key of the wrong type is reported once, not also as
    /// missing from its table.
    #[test]
    fn a_required_key_of_the_wrong_type_is_reported_once() {
        let p = problems(
            "[[feeds]]\nname = 5\nurl = \"https://a.test/\"\n[market]\nprovider = [\"yahoo\"]\nsymbols = [{ symbol = 1 }, \"BP\"]\n",
        );
        let keys: Vec<(&str, Option<usize>)> = p.iter().map(|p| (p.key.as_str(), p.line)).collect();
        assert_eq!(
            keys,
            [
                ("feeds[0].name", Some(2)),
                ("market.provider", Some(5)),
                ("market.symbols[0].symbol", Some(6)),
            ]
        );
    }

    #[test]
    fn every_problem_is_listed_with_key_and_line() {
        let text = r#"
[storage]
path = "db.sqlite"
pathh = "typo"

[[feeds]]
name = "a"
url = "ftp://example.com/feed"

[[feeds]]
name = "b"
url = "https://example.com/b"
schedule = "not cron"
colour = "red"

[[feeds]]
name = "a"
url = "https://example.com/c"
"#;
        let p = problems(text);
        let keys: Vec<(&str, Option<usize>)> = p.iter().map(|p| (p.key.as_str(), p.line)).collect();
        assert_eq!(
            keys,
            vec![
                ("storage.pathh", Some(4)),
                ("feeds[0].url", Some(8)),
                ("feeds[1].schedule", Some(13)),
                ("feeds[1].colour", Some(14)),
                ("feeds[2].name", Some(17)),
            ]
        );
        assert!(
            p[4].message.contains("first used at line 7"),
            "{}",
            p[4].message
        );
        assert!(p[1].message.contains("ftp"), "{}", p[1].message);
    }

    #[test]
    fn alerts_resolve_with_defaults_and_their_selection() {
        let text = r#"
[[feeds]]
name = "wire"
url = "https://wire.test/feed.xml"

[output]
exclude = [{ title = "(?i)^sponsored" }]

[[views]]
name = "bp"
include = [{ title = "BP" }]

[[alerts]]
name = "main"
url = "https://hooks.test/main"

[[alerts]]
name = "one-feed"
feed = "wire"
url = "http://hooks.test/wire"
format = "slack"

[[alerts]]
name = "bp"
view = "bp"
url = "https://ntfy.test/bp-news"
format = "ntfy"
secret_env = "PATH"
max_per_hour = 10
allow_private = true
retry_for_hours = 2
"#;
        let cfg = resolve_str(text, Path::new("/etc/tickerfeed")).unwrap();
        let [main, feed, view] = &cfg.alerts[..] else {
            panic!("{:?}", cfg.alerts)
        };
        assert_eq!(main.watches, AlertSource::Main);
        assert_eq!(main.format, AlertFormat::Json);
        assert_eq!(main.selection.exclude, cfg.output.exclude);
        assert_eq!(main.retry_for, Duration::from_secs(24 * 3600));
        assert!(!main.allow_private && main.secret.is_none() && main.max_per_hour.is_none());
        assert_eq!(feed.watches, AlertSource::Feed("wire".into()));
        assert_eq!(feed.selection.feeds, ["wire"]);
        assert_eq!(feed.format, AlertFormat::Slack);
        assert_eq!(view.selection, cfg.views[0].selection);
        assert_eq!(view.format, AlertFormat::Ntfy);
        assert!(view.secret.is_some() && view.allow_private);
        assert_eq!(view.max_per_hour, Some(10));
        assert_eq!(view.retry_for, Duration::from_secs(2 * 3600));
        assert!(!format!("{view:?}").contains(&std::env::var("PATH").unwrap()));
        // No `[server] base_url`: no page a receiver could open.
        assert_eq!(main.item_pages, None);
    }

    /// An alert links a linkless item's page only at `[server] base_url`,
    /// and only while `[web]` serves pages, as the feeds do.
    #[test]
    fn alerts_link_item_pages_at_the_public_url_while_pages_are_served() {
        let alert = "[[alerts]]\nname = \"a\"\nurl = \"https://hooks.test/a\"\n";
        let pages = |text: &str| {
            resolve_str(&format!("{text}{alert}"), Path::new("/etc/tickerfeed"))
                .unwrap()
                .alerts[0]
                .item_pages
                .clone()
                .map(String::from)
        };
        let public = "[server]\nbase_url = \"https://tf.example.net/news\"\n";
        assert_eq!(
            pages(public).as_deref(),
            Some("https://tf.example.net/news/")
        );
        assert_eq!(pages(&format!("{public}[web]\nenabled = false\n")), None);
        assert_eq!(pages("[server]\nlisten = \"0.0.0.0:8080\"\n"), None);
    }

    #[test]
    fn websub_is_off_by_default_and_its_problems_name_their_key() {
        let cfg = resolve_str("", Path::new("/etc/tickerfeed")).unwrap();
        assert_eq!(cfg.websub, WebSubConfig::default());
        assert!(!cfg.websub.publishes());
        assert_eq!(cfg.hub_url(None), None);

        let text = "[server]\nbase_url = \"https://tf.example.net/news\"\n[websub]\nserve_hub = true\nlease_seconds = 3600\n";
        let cfg = resolve_str(text, Path::new("/etc/tickerfeed")).unwrap();
        assert_eq!(
            cfg.hub_url(None).unwrap().as_str(),
            "https://tf.example.net/news/websub"
        );
        assert_eq!(cfg.websub.default_lease, Duration::from_secs(3600));
        let text = "[websub]\nhub = \"https://hub.example.net/\"\nserve_hub = true\n";
        let cfg = resolve_str(text, Path::new("/etc/tickerfeed")).unwrap();
        assert_eq!(
            cfg.hub_url(None).unwrap().as_str(),
            "https://hub.example.net/"
        );

        let p =
            problems("[websub]\nhub = \"ftp://hub.example.net/\"\nlease_seconds = 5\nbogus = 1\n");
        let keys: Vec<&str> = p.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(keys, ["websub.hub", "websub.lease_seconds", "websub.bogus"]);
        assert!(p[0].message.contains("http or https"), "{}", p[0].message);
        assert_eq!(p[0].line, Some(2));
        let p = problems("[websub]\nhub = \"not a url\"\n");
        assert!(p[0].message.contains("not a valid URL"), "{}", p[0].message);
    }

    #[test]
    fn alert_problems_name_their_key_and_line() {
        let text = r#"[[feeds]]
name = "wire"
url = "https://wire.test/feed.xml"

[[alerts]]
name = "a"
url = "ftp://hooks.test/x"

[[alerts]]
name = "b"
view = "nope"
url = "https://hooks.test/b"
format = "xml"

[[alerts]]
name = "c"
view = "x"
feed = "wire"
url = "https://hooks.test/c"
secret_env = "TICKERFEED_TEST_SURELY_UNSET_9f3a"
retry_for_hours = 0

[[alerts]]
name = "a"
url = "https://ntfy.test/"
format = "ntfy"

[[alerts]]
name = "bad.name"
feed = "nope"
"#;
        let p = problems(text);
        let keys: Vec<(&str, Option<usize>)> = p.iter().map(|p| (p.key.as_str(), p.line)).collect();
        assert_eq!(
            keys,
            vec![
                ("alerts[0].url", Some(7)),
                ("alerts[1].view", Some(11)),
                ("alerts[1].format", Some(13)),
                ("alerts[2].feed", Some(18)),
                ("alerts[2].secret_env", Some(20)),
                ("alerts[2].retry_for_hours", Some(21)),
                ("alerts[3].name", Some(24)),
                ("alerts[3].url", Some(25)),
                ("alerts[4]", Some(28)),
                ("alerts[4].name", Some(29)),
                ("alerts[4].feed", Some(30)),
            ]
        );
        let text_of = |k: &str| &p.iter().find(|p| p.key == k).unwrap().message;
        assert!(text_of("alerts[0].url").contains("http or https"));
        assert!(text_of("alerts[1].view").contains("no view is named \"nope\""));
        assert!(text_of("alerts[2].feed").contains("not both"));
        assert!(text_of("alerts[3].name").contains("duplicate"));
        assert!(text_of("alerts[3].url").contains("topic"));
        assert!(text_of("alerts[4]").contains("url"));
    }

    /// A typo inside a symbol's table is an unknown key like any other, and
    /// a wrong type there names its key: both were taken silently or
    /// reported as "data did not match any variant" on the `symbols` line.
    #[test]
    fn symbol_tables_name_their_unknown_keys_and_wrong_types() {
        let text = r#"[market]
provider = "stooq"
symbols = [
  "RIO",
  { symbol = "BP", nmes = ["BP plc"], exchang = "LSE" },
]
"#;
        let p = problems(text);
        let keys: Vec<(&str, Option<usize>)> = p.iter().map(|p| (p.key.as_str(), p.line)).collect();
        assert_eq!(
            keys,
            [
                ("market.symbols[1].exchang", Some(5)),
                ("market.symbols[1].nmes", Some(5)),
            ]
        );
        let wrong = problems(
            "[market]\nprovider = \"stooq\"\nsymbols = [\n  { symbol = \"BP\", names = \"BP plc\" },\n]\n",
        );
        assert_eq!(wrong.len(), 1, "{wrong:?}");
        assert_eq!(wrong[0].line, Some(4), "{wrong:?}");
        assert!(wrong[0].message.ends_with("expected a list"), "{wrong:?}");
        // A [market] with a problem of its own is not also "missing" for a
        // view that names its symbols.
        let bad_provider = problems(
            "[market]\nprovider = \"nope\"\nsymbols = [\"BP\"]\n\
             [[views]]\nname = \"bp\"\nsymbols = [\"BP\"]\n",
        );
        let keys: Vec<&str> = bad_provider.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(keys, ["market.provider"], "{bad_provider:?}");
    }

    #[test]
    fn every_section_names_its_key_and_line() {
        let text = r#"[storage]
path = ""
fetch_log_days = 0
[server]
listen = "localhost"
base_url = "ftp://x/"
[output]
max_items = 0
[defaults]
timezone = "Mars/Olympus"
schedule = "often"
[fetch]
user_agent = " "
max_hint_secs = 1
[log]
level = "loud=="
[market]
provider = "yahoo"
base_url = "nope"
stale_after_secs = 1
symbols = []
"#;
        let p = problems(text);
        let keys: Vec<(&str, Option<usize>)> = p.iter().map(|p| (p.key.as_str(), p.line)).collect();
        assert_eq!(
            keys,
            vec![
                ("storage.path", Some(2)),
                ("storage.fetch_log_days", Some(3)),
                ("server.listen", Some(5)),
                ("server.base_url", Some(6)),
                ("output.max_items", Some(8)),
                ("defaults.timezone", Some(10)),
                ("defaults.schedule", Some(11)),
                ("fetch.user_agent", Some(13)),
                ("fetch.max_hint_secs", Some(14)),
                ("log.level", Some(16)),
                ("market.base_url", Some(19)),
                ("market.stale_after_secs", Some(20)),
                ("market.symbols", Some(21)),
            ]
        );
    }

    #[test]
    fn syntax_error_has_a_line() {
        let p = problems("[server]\nlisten = \n");
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].line, Some(2));
    }

    #[test]
    fn wrong_type_is_reported() {
        let p = problems("[output]\nmax_items = \"lots\"\n");
        assert_eq!(p[0].line, Some(2));
    }

    #[test]
    fn relative_file_url_resolves_against_config_folder() {
        let cfg = resolve_str(
            "[[feeds]]\nname = \"local\"\nurl = \"file:feeds/local.xml\"\n",
            Path::new("/srv/tf"),
        )
        .unwrap();
        assert_eq!(cfg.feeds[0].url.as_str(), "file:///srv/tf/feeds/local.xml");
    }

    #[test]
    fn missing_name_and_url_are_reported() {
        let p = problems("[[feeds]]\ntags = [\"x\"]\n");
        assert_eq!(p.len(), 2);
        assert!(p.iter().all(|p| p.key == "feeds[0]"));
    }

    #[test]
    fn bad_tag_and_out_of_range_numbers() {
        let p = problems(
            "[fetch]\nconcurrency = 0\n[[feeds]]\nname = \"a\"\nurl = \"https://e.com/\"\ntags = [\"ok\", \"has space\"]\n",
        );
        let keys: Vec<&str> = p.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(keys, vec!["fetch.concurrency", "feeds[0].tags[1]"]);
    }

    #[test]
    fn symbol_mention_rules_are_checked_when_loading() {
        let text = r#"
[[feeds]]
name = "a"
url = "https://e.com/"
[market]
provider = "yahoo"
symbols = [
  { symbol = "RIO", names = ["Rio Tinto"], exclude = ['(?i)river', '(unclosed'], case_sensitive = true },
  { symbol = "BP", names = ["BP"], cik = "BP PLC" },
]
"#;
        let p = problems(text);
        let keys: Vec<&str> = p.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            vec!["market.symbols[0].exclude[1]", "market.symbols[1].cik"]
        );
        assert!(p[0].message.contains("(unclosed"), "{}", p[0].message);
        let cfg = resolve_str(
            &text
                .replace(", '(unclosed'", "")
                .replace("\"BP PLC\"", "\"0000313807\""),
            Path::new("/etc/tickerfeed"),
        )
        .unwrap();
        let m = cfg.market.unwrap();
        assert_eq!(m.instruments[0].exclude, ["(?i)river"]);
        assert!(m.instruments[0].case_sensitive);
        assert!(!m.instruments[1].case_sensitive);
        assert_eq!(m.instruments[1].cik.as_deref(), Some("313807"));
    }

    #[test]
    fn market_symbols_plain_and_tables() {
        let cfg = resolve_str(
            r#"
[market]
label = "NYSE - LSE"
provider = "yahoo"
schedule = "*/5 * * * *"
symbols = ["RELX", { symbol = "VOD", provider_symbol = "VOD.L", name = "Vodafone", names = ["Vodafone Group"] }]
"#,
            Path::new("/etc/tickerfeed"),
        )
        .unwrap();
        let m = cfg.market.unwrap();
        assert_eq!(m.provider, ProviderKind::Yahoo);
        assert_eq!(m.instruments[0].provider_symbol, "RELX");
        assert_eq!(m.instruments[1].provider_symbol, "VOD.L");
        assert_eq!(m.instruments[1].name.as_deref(), Some("Vodafone"));
        // Three five-minute periods.
        assert_eq!(m.stale_after, Duration::from_secs(900));
        assert!(cfg.output.market_strip);
    }

    #[test]
    fn market_problems_are_located() {
        let p = problems(
            "[market]\nprovider = \"bloomberg\"\nschedule = \"every minute\"\nsymbols = [\"BP\", \"BP\", \"no spaces\"]\n",
        );
        let keys: Vec<(&str, Option<usize>)> = p.iter().map(|p| (p.key.as_str(), p.line)).collect();
        assert_eq!(
            keys,
            vec![
                ("market.provider", Some(2)),
                ("market.schedule", Some(3)),
                ("market.symbols[1]", Some(4)),
                ("market.symbols[2]", Some(4)),
            ]
        );
    }

    /// A plan gives the windows it names and leaves the others unlimited;
    /// a limit under 1, an unknown window or an empty plan is named.
    #[test]
    fn a_market_plan_names_its_windows() {
        let base = "[market]\nprovider = \"yahoo\"\nsymbols = [\"AAPL\"]\n";
        let cfg = resolve_str(
            &format!("{base}[market.plan]\nper_minute = 55\nper_day = 5000\n"),
            Path::new("/etc/tickerfeed"),
        )
        .unwrap();
        assert_eq!(
            cfg.market.unwrap().plan,
            Some(Plan {
                per_second: None,
                per_minute: Some(55),
                per_day: Some(5000),
            })
        );
        let bare = resolve_str(base, Path::new("/etc/tickerfeed")).unwrap();
        assert_eq!(bare.market.unwrap().plan, None);

        let p = problems(&format!(
            "{base}[market.plan]\nper_second = 0\nper_minute = -3\nper_hour = 100\n"
        ));
        let keys: Vec<(&str, Option<usize>)> = p.iter().map(|p| (p.key.as_str(), p.line)).collect();
        assert_eq!(
            keys,
            vec![
                ("market.plan.per_second", Some(5)),
                ("market.plan.per_minute", Some(6)),
                ("market.plan.per_hour", Some(7)),
            ]
        );
        assert!(p[0].message.contains("at least 1"), "{}", p[0].message);
        let p = problems(&format!("{base}[market.plan]\n"));
        assert_eq!(p[0].key, "market.plan");
        assert!(p[0].message.contains("an empty plan"), "{}", p[0].message);
    }

    #[test]
    fn keyed_providers_need_a_key_variable() {
        let p = problems("[market]\nprovider = \"finnhub\"\nsymbols = [\"AAPL\"]\n");
        assert_eq!(p[0].key, "market.api_key_env");
        assert!(
            p[0].message.contains("finnhub needs an API key"),
            "{}",
            p[0].message
        );
        let p = problems(
            "[market]\nprovider = \"finnhub\"\napi_key_env = \"TICKERFEED_TEST_SURELY_UNSET_VAR\"\nsymbols = [\"AAPL\"]\n",
        );
        assert!(
            p[0].message
                .contains("TICKERFEED_TEST_SURELY_UNSET_VAR is not set")
        );
    }
}
