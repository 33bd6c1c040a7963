//! The command line, one subcommand each:
//! - `run`: the daemon (poll on schedules, serve HTTP);
//! - `poll`: one pass over every feed (or one) now;
//! - `render`: the merged feed (or a tag's, or a view's) on stdout;
//! - `check`: validate the config, every problem with its line;
//! - `feeds`: per-feed status;
//! - `quotes`: refresh the ticker board once and print it;
//! - `search`: full-text search of the archive;
//! - `prune`: apply `[storage]` retention now;
//! - `views` / `views test`: the configured views, and the dry run of one
//!   (or of an ad-hoc rule);
//! - `alerts` / `alerts test` / `alerts retry`: the alerts with their
//!   outbox, one test message now, failed messages back to pending;
//! - `export`: every archived item (or a view's) as JSON Lines or CSV,
//!   streamed, to stdout or atomically to a file;
//! - `opml export` / `opml import`: the feed list as OPML.
//!
//! Parsing is clap's; each command loads the config (refusing only the
//! unset secrets it would send, `Command::uses`), opens what it needs
//! (the archive alone, or the whole wiring through `app`), and reports in
//! plain words. `run` and `poll` create the archive, and so does `quotes`,
//! which adds what it fetched to show, except at a path that looks
//! mistyped (`archive_to_write`); those that look open it only if it is
//! there (`existing_archive`). Errors end here, with context, as exit
//! codes: 0 done, 1 failed, 2 bad config or usage, 130 when a second
//! signal cut the daemon's drain short. A reader that closes stdout early
//! is no error: a command that only prints stops there (exit 0), one with
//! work after its report drops the rest of it and finishes (`Report`).

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand, ValueEnum};
use tracing_subscriber::EnvFilter;

use crate::app;
use crate::clock::{SharedClock, SystemClock};
use crate::config::{Config, ConfigError, SecretUse};
use crate::model::Outcome;
use crate::render::export::{ExportFormat, ExportWriter};
use crate::render::strip::{quote_change, session_note, shown_price};
use crate::render::{self, Format};
use crate::scheduler;
use crate::select::{Channel, Rule, Selection};
use crate::shutdown;
use crate::store::{ExportQuery, RecentQuery, Store, StoreError};
use crate::systemd;

#[derive(Debug, Parser)]
#[command(
    name = "tickerfeed",
    version,
    about = "Polls news feeds on cron schedules, archives every item once in SQLite, and serves one merged Atom / RSS / JSON feed"
)]
pub struct Cli {
    /// Config file.
    #[arg(
        long,
        global = true,
        env = "TICKERFEED_CONFIG",
        default_value = "config.toml"
    )]
    pub config: PathBuf,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Poll on schedules and serve HTTP until SIGTERM or SIGINT.
    Run,
    /// One pass now over every feed (or one), store, print a summary.
    Poll {
        /// Only this feed (its name in the config).
        #[arg(long)]
        feed: Option<String>,
    },
    /// The views (`[[views]]`) with the items each shows; `views test NAME`
    /// is the dry run.
    Views {
        #[command(subcommand)]
        action: Option<ViewsAction>,
    },
    /// Print the merged feed (or a tag's, or a view's) on stdout.
    Render {
        #[arg(long, value_enum, default_value_t = OutFormat::Atom)]
        format: OutFormat,
        /// Entries (default: `[output] max_items`).
        #[arg(long, value_parser = at_least_one)]
        limit: Option<usize>,
        /// Only items from feeds with this tag.
        #[arg(long, conflicts_with = "view")]
        tag: Option<String>,
        /// A `[[views]]` feed instead of the merged feed.
        #[arg(long)]
        view: Option<String>,
    },
    /// Validate the config; list every problem with its line.
    Check,
    /// Per-feed status: url, state, last fetch, last error, items, next due ("not polled" once retired).
    Feeds,
    /// Refresh the ticker board once and print it.
    Quotes,
    /// Full-text search of the archive, best match first.
    Search {
        /// Words to find (all of them; `word*` for a prefix, `"two words"` for
        /// a phrase).
        query: String,
        /// Hits shown at most.
        #[arg(long, default_value_t = 20, value_parser = at_least_one)]
        limit: usize,
        /// Only items dated from this date on (YYYY-MM-DD or RFC 3339):
        /// their date in the merged feed, the one each hit shows.
        #[arg(long, value_parser = date_or_time)]
        since: Option<chrono::DateTime<chrono::Utc>>,
    },
    /// Apply `[storage]` retention now (items deleted leave a tombstone).
    Prune,
    /// The alerts (`[[alerts]]`) with their outbox: pending and failed
    /// messages and the last error; `alerts test NAME` sends one now;
    /// `alerts retry` puts failed messages back to pending.
    Alerts {
        #[command(subcommand)]
        action: Option<AlertsAction>,
    },
    /// Every archived item (or a view's) as JSON Lines or CSV, one item
    /// per line, with its sources, mentions and snapshot (docs/export.md).
    Export {
        #[arg(long, value_enum, default_value_t = ExportFormatArg::Jsonl)]
        format: ExportFormatArg,
        /// Only items first archived from this date or time on
        /// (YYYY-MM-DD, or RFC 3339 such as 2026-11-24T09:00:00Z).
        #[arg(long, value_parser = date_or_time)]
        since: Option<chrono::DateTime<chrono::Utc>>,
        /// Only the items a `[[views]]` view shows.
        #[arg(long)]
        view: Option<String>,
        /// Write to this file (replaced only once the export is complete)
        /// instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Export or import the feed list as OPML.
    Opml {
        #[command(subcommand)]
        action: OpmlAction,
    },
}

#[derive(Debug, Subcommand)]
pub enum AlertsAction {
    /// Send alert NAME's message for the newest item it shows, now, and
    /// print the receiver's answer (outside the outbox).
    Test {
        /// The alert (its name in the config).
        name: String,
    },
    /// Put the failed messages of every alert (or of one) back to
    /// pending, due now with their attempts counted afresh, and print how
    /// many: the daemon sends them in its next pass, or at its next start.
    Retry {
        /// Only this alert's (its name in the config).
        #[arg(long)]
        alert: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ViewsAction {
    /// The dry run: the items a view (or an ad-hoc rule) selects now,
    /// newest first, each with why, and how many the excludes removed.
    Test {
        /// The view to try (its name in the config).
        #[arg(required_unless_present = "rule")]
        name: Option<String>,
        /// An ad-hoc rule to try instead, e.g. '{ title = "(?i)sponsored" }'.
        #[arg(long, conflicts_with = "name")]
        rule: Option<String>,
        /// Items shown at most.
        #[arg(long, default_value_t = 20, value_parser = at_least_one)]
        limit: usize,
    },
}

#[derive(Debug, Subcommand)]
pub enum OpmlAction {
    /// Print the configured feeds as OPML 2.0 (tags become categories;
    /// a polled feed's own title and site, from the archive, its `title`
    /// and `htmlUrl`).
    Export,
    /// Turn an OPML file from another reader into `[[feeds]]` entries (its
    /// folders, and their categories and its own, become tags).
    Import {
        /// The OPML file (Miniflux, FreshRSS, Feedly, NetNewsWire, Newsboat...).
        file: PathBuf,
        /// Append the entries to the config file (default: only show them).
        #[arg(long)]
        write: bool,
    },
}

impl Command {
    /// Whether this command sends a request that takes the secret `used`
    /// for (`check` tells whether the daemon would start).
    fn uses(&self, used: &SecretUse) -> bool {
        match self {
            Command::Run | Command::Check => true,
            Command::Poll { .. } => app::opening_needs(used),
            Command::Quotes => matches!(used, SecretUse::Market),
            Command::Alerts {
                action: Some(AlertsAction::Test { name }),
            } => matches!(used, SecretUse::Alert(alert) if alert == name),
            _ => false,
        }
    }
}

/// A `--limit`: 0 would show nothing, and `search` would then say no item
/// matches, which is not so; refused as a usage error instead, as the
/// config refuses `max_items = 0`.
fn at_least_one(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("0 would show nothing: use 1 or more".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(format!("{e}: use a count of 1 or more")),
    }
}

/// A `--since`: a date or an RFC 3339 time. A value that is neither is
/// a usage error (exit 2), as a `--limit` of 0 is, refused before
/// anything is opened or written.
fn date_or_time(text: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    crate::clock::from_date_or_time(text).ok_or_else(|| {
        "not a date like 2026-11-24 or an RFC 3339 time like 2026-11-24T09:00:00Z".to_string()
    })
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ExportFormatArg {
    Jsonl,
    Csv,
}

impl From<ExportFormatArg> for ExportFormat {
    fn from(f: ExportFormatArg) -> Self {
        match f {
            ExportFormatArg::Jsonl => ExportFormat::Jsonl,
            ExportFormatArg::Csv => ExportFormat::Csv,
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum OutFormat {
    Atom,
    Rss,
    Json,
}

impl From<OutFormat> for Format {
    fn from(f: OutFormat) -> Self {
        match f {
            OutFormat::Atom => Format::Atom,
            OutFormat::Rss => Format::Rss,
            OutFormat::Json => Format::Json,
        }
    }
}

/// Runs the parsed command line.
pub fn main(cli: Cli) -> ExitCode {
    // Secrets live in a root-only environment file: a command that never
    // sends what needs one runs without it.
    let config = match Config::load_leaving_unset(&cli.config) {
        Ok(c) => c,
        Err(e) => return config_error(&e),
    };
    if let Err(e) = config.require_secrets(|used| cli.command.uses(used)) {
        let code = config_error(&e);
        if let Command::Check = cli.command {
            eprintln!(
                "note: only run and poll (feed urls, [market]), quotes ([market]) and \
                 `alerts test` (its secret_env) need these variables; the commands that \
                 read the archive (feeds, search, export, render, views...) run without them"
            );
        }
        return code;
    }
    // What only the market's own modules know: the exchange calendars. A
    // config error like the others (the daemon cannot start on it), for
    // `check` as for every command.
    if let Some(Err(e)) = config
        .market
        .as_ref()
        .map(crate::quotes::reactions::Reactions::check)
    {
        eprintln!("error: {}: {e}", cli.config.display());
        return ExitCode::from(2);
    }
    if let Command::Check = cli.command {
        // What only the market's own modules know: the exchange calendars
        // (the daemon refuses to start on an unknown `exchange`).
        for warning in warnings(&config, None) {
            eprintln!("warning: {}: {warning}", cli.config.display());
        }
        let said = writeln!(
            std::io::stdout(),
            "{}: ok ({})",
            cli.config.display(),
            counted(config.feeds.len(), "feed")
        );
        return exit_code(said.map(|()| ExitCode::SUCCESS).map_err(Into::into));
    }
    init_logging(config.log_level.as_deref());
    // Before the runtime starts threads: adopting systemd's socket edits
    // the environment, which is only sound while we are single-threaded.
    let activated = match &cli.command {
        Command::Run => match systemd::listen_fds() {
            Ok(socket) => socket,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        },
        _ => None,
    };
    // After the adoption: the daemon serves, and names itself by, the
    // socket systemd passed, whatever `[server] listen` says.
    let inherited = activated.as_ref().and_then(|s| s.local_addr().ok());
    for warning in warnings(&config, inherited) {
        tracing::warn!("{warning}");
    }
    let notifier = systemd::Notifier::from_env().with_watchdog(systemd::watchdog_interval());
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let clock: SharedClock = Arc::new(SystemClock);
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Run => run(config, clock, activated, notifier).await,
            Command::Poll { feed } => poll(config, clock, feed).await,
            Command::Render {
                format,
                limit,
                tag,
                view,
            } => {
                let channel = match (tag, view) {
                    (Some(t), _) => Channel::Tag(t),
                    (None, Some(v)) => Channel::View(v),
                    (None, None) => Channel::Main,
                };
                render(config, clock, format.into(), limit, channel).await
            }
            Command::Feeds => feeds(config, clock).await,
            Command::Quotes => quotes(config, clock).await,
            Command::Search {
                query,
                limit,
                since,
            } => search(config, query, limit, since).await,
            Command::Prune => prune(config, clock).await,
            Command::Views { action } => views(config, action).await,
            Command::Alerts { action } => alerts(config, clock, action).await,
            Command::Export {
                format,
                since,
                view,
                out,
            } => export(config, format.into(), since, view, out).await,
            Command::Opml { action } => opml(config, clock, action).await,
            Command::Check => unreachable!("handled before the runtime starts"),
        }
    });
    // Do not wait for abandoned blocking work (a fetch past the drain
    // deadline) once the command is over.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    exit_code(result)
}

/// The archive, for a command that only looks at it (`feeds`, `render`,
/// `views`, `alerts`, `search`, `prune`, `export`): opened as it is,
/// never created. An archive created here would be empty, so the command
/// would report that nothing was ever polled, and it would stay behind at
/// a mistyped `[storage] path`; with none, the error names the path and
/// what creates it.
fn existing_archive(config: &Config) -> Result<Store> {
    let path = &config.storage.path;
    match Store::open_existing(path) {
        Err(StoreError::NoArchive { .. }) => bail!(
            "no archive at {} yet: `tickerfeed poll` or the service (`tickerfeed run`) creates it",
            path.display()
        ),
        opened => opened.context("opening the archive"),
    }
}

/// The archive for `quotes`, which adds the quotes it fetched to show
/// and may be the first command run (a setup with a `[market]` and no
/// feeds has nothing to poll): created as `run` and `poll` create it
/// (`app::open_archive`), unless `[storage] path` looks mistyped, that
/// is, it is not the default and names a folder that is not there. Then
/// nothing is created, the quotes are not kept where no daemon reads
/// them, and the error is `existing_archive`'s, naming the path.
fn archive_to_write(config: &Config) -> Result<Store> {
    let storage = &config.storage;
    let folder_there = match storage.path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.is_dir(),
        // A bare file name: the current folder.
        _ => true,
    };
    if storage.path_is_default || folder_there {
        app::open_archive(config)
    } else {
        existing_archive(config)
    }
}

/// "1 item", "2 items": a count with its noun, as a person writes it.
fn counted(n: impl std::fmt::Display, noun: &str) -> String {
    let n = n.to_string();
    let s = if n == "1" { "" } else { "s" };
    format!("{n} {noun}{s}")
}

/// Where every command's error ends: said on stderr, exit 1; except a
/// closed stdout (`tickerfeed feeds | head -1`), which is a success, as
/// in any Unix filter: the reader had what it wanted.
fn exit_code(result: Result<ExitCode>) -> ExitCode {
    match result {
        Ok(code) => code,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// What loads but cannot work as meant, for `check` and the start's log:
/// a feed URL with a key written into the config (it works, but the key
/// belongs in the environment); an alert whose URL is on this machine or a private network without
/// `allow_private`, whose every message the sender would refuse; a server
/// without `base_url` listening on every address (`0.0.0.0`, `[::]`),
/// whose feeds (and hub topics) would name `http://0.0.0.0:…/` as their
/// own address, or on port 0, whose feeds would name a port picked anew at
/// each start. Not errors, so an upgrade never stops a daemon that ran
/// before (and a port 0 works, only not for readers across restarts).
/// `inherited` is the address of the socket systemd passed, which the
/// daemon serves on instead of `listen`.
fn warnings(config: &Config, inherited: Option<SocketAddr>) -> Vec<String> {
    let alerts = config
        .alerts
        .iter()
        .filter(|a| !a.allow_private && crate::push::guard::on_private_network(&a.url))
        .map(|a| {
            format!(
                "alert {:?}: {} is on this machine or a private network, where \
                 alerts are not sent: set allow_private = true to send them",
                a.name,
                crate::link::origin_shown(&a.url)
            )
        });
    let keys = config.feeds.iter().filter_map(|f| {
        let blanked = f.written_secret()?;
        Some(format!(
            "feed {:?}: its url holds a key written into the config ({blanked}), \
             which is then in every copy of the file: put the key in the environment \
             and name it in the url, e.g. url = \"{}\"",
            f.name,
            name_from_environment(&blanked, &f.name)
        ))
    });
    alerts
        .chain(keys)
        .chain(self_address_warning(config, inherited))
        .collect()
}

/// `blanked` (a feed URL, secrets as `****`) with each secret named from
/// the environment instead: `${WIRE_KEY}`, then `${WIRE_KEY_2}`... for
/// feed `wire` (`${FEED_1WIRE_KEY}` for `1wire`).
fn name_from_environment(blanked: &str, feed: &str) -> String {
    let var: String = feed
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    // A variable's name (`fill_variables`) starts with a letter or `_`.
    let var = match var.starts_with(|c: char| c.is_ascii_digit()) {
        true => format!("FEED_{var}"),
        false => var,
    };
    let mut parts = blanked.split("****");
    let mut out = parts.next().unwrap_or_default().to_owned();
    for (n, part) in parts.enumerate() {
        match n {
            0 => out.push_str(&format!("${{{var}_KEY}}")),
            n => out.push_str(&format!("${{{var}_KEY_{}}}", n + 1)),
        }
        out.push_str(part);
    }
    out
}

/// Why the address the feeds would give as their own, without
/// `[server] base_url`, fails their readers, if it does: that of the
/// socket systemd passed (`inherited`), else `[server] listen`.
fn self_address_warning(config: &Config, inherited: Option<SocketAddr>) -> Option<String> {
    let (listen, said) = match inherited {
        Some(addr) => (addr, format!("the socket systemd passed ({addr})")),
        None => {
            let listen = config.server.listen;
            (listen, format!("[server] listen = \"{listen}\""))
        }
    };
    // Readers take the feeds' self and home links from the documents (and
    // a hub its topics): an address that means "any" on our side names no
    // host on theirs, and a port picked at the start is gone at the next.
    let faults: Vec<&str> = [
        (
            listen.ip().is_unspecified(),
            "names no host readers can open",
        ),
        (
            listen.port() == 0,
            "has a port the daemon picks anew at each start, so readers lose it at a restart",
        ),
    ]
    .into_iter()
    .filter_map(|(fault, why)| fault.then_some(why))
    .collect();
    if config.server.base_url.is_some() || faults.is_empty() {
        return None;
    }
    // Topics are the feeds' own addresses, whichever hub is told of them.
    let named = if config.websub.serve_hub || config.websub.hub.is_some() {
        "the feeds, and the WebSub hub's topics,"
    } else {
        "the feeds"
    };
    Some(format!(
        "{said} without base_url: {named} would give {} as their own address, which {}: \
         set [server] base_url to the address readers use",
        config.public_base(inherited),
        faults.join(" and ")
    ))
}

fn config_error(e: &ConfigError) -> ExitCode {
    match e {
        ConfigError::Read { .. } => eprintln!(
            "error: {e}: {}",
            std::error::Error::source(e)
                .map(|s| s.to_string())
                .unwrap_or_default()
        ),
        ConfigError::Invalid { .. } => eprintln!("error: {e}"),
    }
    ExitCode::from(2)
}

fn init_logging(level: Option<&str>) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(level.unwrap_or("info")))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    // journald stamps every line itself; a second timestamp is noise.
    if std::env::var_os("JOURNAL_STREAM").is_some() {
        builder.without_time().init();
    } else {
        builder.init();
    }
}

async fn run(
    config: Config,
    clock: SharedClock,
    activated: Option<std::net::TcpListener>,
    notifier: systemd::Notifier,
) -> Result<ExitCode> {
    let signals = shutdown::install().context("installing signal handlers")?;
    tokio::select! {
        done = app::run(config, clock, signals.shutdown.clone(), activated, notifier) => done.map(|()| ExitCode::SUCCESS),
        _ = signals.force.cancelled() => Ok(ExitCode::from(130)),
    }
}

async fn poll(config: Config, clock: SharedClock, only: Option<String>) -> Result<ExitCode> {
    // Before the archive is opened: a mistyped name costs nothing.
    if let Some(name) = &only
        && !config.feeds.iter().any(|f| &f.name == name)
    {
        return Err(unknown_name(
            &config,
            format!("no feed named {name:?}"),
            name,
            config.feeds.iter().map(|f| f.name.as_str()),
            ("feeds", "`tickerfeed feeds` lists"),
        ));
    }
    let mut opened = app::open(&config, clock).await?;
    let feeds: Vec<_> = match &only {
        None => opened.feeds,
        Some(name) => opened
            .feeds
            .into_iter()
            .filter(|(f, _)| &f.name == name)
            .collect(),
    };
    // The board refreshes beside the first fetches (a provider's answer
    // takes as long as a feed's); the items of this pass wait for it only
    // to be stamped, once they are parsed.
    let refreshing = opened.pipeline.board.get().map(|board| {
        let (settled, settles) = tokio::sync::watch::channel(false);
        opened.pipeline.board_settled = Some(settles);
        let (store, now) = (opened.store.clone(), opened.pipeline.clock.now());
        tokio::spawn(async move {
            match board.refresh(&store, now).await {
                Ok(report) => board.log_refresh(&report),
                Err(e) => {
                    tracing::warn!(error = %e, "could not archive quotes; polling without a fresh board")
                }
            }
            settled.send_replace(true);
        })
    });
    let results = scheduler::poll_once(&opened.pipeline, feeds, config.fetch.concurrency).await;
    // A pass with nothing new did not wait for the board; its quotes are
    // archived all the same before the command ends.
    if let Some(refreshing) = refreshing {
        refreshing.await.context("refreshing the board")?;
    }
    let mut out = Report::stdout();
    let (mut new, mut failed, mut paused) = (0, 0, 0);
    for (name, result) in &results {
        match result {
            Ok(r) => {
                scheduler::log_refresh(name, r);
                new += r.summary.new;
                let status = r
                    .status
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "-".into());
                match &r.error {
                    None => writeln!(
                        out,
                        "{name}: {} (HTTP {status}), {}, {} new, {} updated, {} also in other feeds, {} ms",
                        r.outcome,
                        counted(r.summary.seen, "item"),
                        r.summary.new,
                        r.summary.updated,
                        r.summary.merged,
                        r.elapsed_ms
                    )?,
                    // The site asked us to wait (or another feed's answer
                    // did): not a failure, as the feed's state says.
                    Some(error) => match r.outcome {
                        Outcome::Throttled { until } | Outcome::Deferred { until } => {
                            paused += 1;
                            writeln!(
                                out,
                                "{name}: paused until {}: {error}",
                                crate::clock::to_db_time(until)
                            )?
                        }
                        _ => {
                            failed += 1;
                            // Which address failed, unless the error
                            // already quotes it (a connect error does).
                            let url = &r.url;
                            if error.contains(url) {
                                writeln!(out, "{name}: error: {error}")?
                            } else {
                                writeln!(out, "{name}: error: {error} ({url})")?
                            }
                        }
                    },
                }
            }
            Err(e) => {
                failed += 1;
                writeln!(out, "{name}: error: could not record the poll: {e}")?
            }
        }
    }
    let paused = if paused > 0 {
        format!(", {paused} paused by their site")
    } else {
        String::new()
    };
    writeln!(
        out,
        "{} polled, {failed} failed{paused}, {}",
        counted(results.len(), "feed"),
        counted(new, "new item")
    )?;
    // The pages of this pass's new items (`[[feeds]] fulltext`), and any
    // an earlier run left queued, before the command ends.
    if config.feeds.iter().any(|f| f.fulltext) {
        match opened.articles.fetch_due().await {
            Ok(n) => writeln!(out, "{n} article pages fetched or tried")?,
            Err(e) => writeln!(out, "articles: error: {e}")?,
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn render(
    config: Config,
    clock: SharedClock,
    format: Format,
    limit: Option<usize>,
    channel: Channel,
) -> Result<ExitCode> {
    let Some(output) = config.output(&channel) else {
        return Err(match &channel {
            Channel::Tag(t) => {
                let tags: std::collections::BTreeSet<&str> = config
                    .feeds
                    .iter()
                    .flat_map(|f| f.tags.iter().map(String::as_str))
                    .collect();
                unknown_name(
                    &config,
                    format!("no feed has the tag {t:?}"),
                    t,
                    tags,
                    ("tags", "the `tags` of the config's [[feeds]] name"),
                )
            }
            Channel::View(v) => unknown_view(&config, v),
            Channel::Main => unreachable!("the main feed always exists"),
        });
    };
    // Without `base_url` the self links are `http://<listen>/`; a port of 0
    // is only picked when the daemon binds it, so a document rendered here
    // would send readers to port 0. Refused like a bad config: `run` works
    // on it, `render` cannot.
    if config.server.base_url.is_none() && config.server.listen.port() == 0 {
        eprintln!(
            "error: [server] listen = \"{}\" has no port until the daemon starts, so the \
             feed's self links would point at port 0: set [server] base_url to the URL \
             readers fetch the feeds from",
            config.server.listen
        );
        return Ok(ExitCode::from(2));
    }
    // The archive as it is: registering this config's feeds and rules
    // would change a running daemon's behind its back (it registers them
    // at its start and reload).
    let store = existing_archive(&config)?;
    let entries = store
        .recent(RecentQuery {
            selection: output.selection,
            ..RecentQuery::newest(limit.unwrap_or(output.max_items))
        })
        .await
        .context("reading the archive")?;
    // An empty document is dated by the archive's last change, else by now
    // (this command's "start"), never by the epoch (issue 15).
    let updated_if_empty = if entries.is_empty() {
        store
            .last_change()
            .await
            .context("reading the archive")?
            .unwrap_or_else(|| clock.now())
    } else {
        clock.now()
    };
    let mut view = render::merged_feed(
        &output.title,
        &config.output.description,
        &config.public_base(None),
        format,
        &channel,
        entries,
        updated_if_empty,
    );
    view.market_strip = config.output.market_strip;
    if !config.web.enabled {
        // As the daemon serves it: no page to link to.
        view.without_pages();
    }
    let bytes = render::render(&view, format).context("rendering the merged feed")?;
    let mut out = std::io::stdout().lock();
    out.write_all(&bytes)?;
    if !bytes.ends_with(b"\n") {
        out.write_all(b"\n")?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The feeds as the archive knows them, and how the config on disk
/// differs: this command registers nothing, since a running daemon keeps
/// polling what it registered until its reload.
async fn feeds(config: Config, clock: SharedClock) -> Result<ExitCode> {
    let store = existing_archive(&config)?;
    let rows = store.feed_rows().await.context("reading feed state")?;
    let items = store.item_count().await.context("counting items")?;
    let per_feed = store
        .items_per_feed()
        .await
        .context("counting each feed's items")?;
    let subscriptions = store
        .subscriptions()
        .await
        .context("reading WebSub subscriptions")?;
    let latest = crate::store::latest_per_feed(&subscriptions);
    let now = clock.now();
    // Sites that asked us to wait (429/503): their feeds send nothing
    // until then, whatever their own state says.
    let paused: std::collections::HashMap<String, chrono::DateTime<chrono::Utc>> = store
        .host_pauses(now)
        .await
        .context("reading paused sites")?
        .into_iter()
        .map(|(host, until)| (crate::politeness::domain_key_of_host(&host), until))
        .collect();
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "archive: {} ({}, {:.1} MB)\n",
        store.path().display(),
        counted(items, "item"),
        store.size_bytes() as f64 / 1e6
    )?;
    let t = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map(crate::clock::to_db_time)
            .unwrap_or_else(|| "never".into())
    };
    // By name, once: a lookup per row in the list was quadratic at
    // 100,000 feeds.
    let configured: std::collections::HashMap<&str, &crate::config::FeedConfig> =
        config.feeds.iter().map(|f| (f.name.as_str(), f)).collect();
    for r in &rows {
        let state = r.state_in_words(now, t);
        writeln!(out, "{}", r.name)?;
        writeln!(out, "  url:        {}", r.url)?;
        if let Some(moved) = &r.effective_url {
            writeln!(
                out,
                "  redirected: now fetched from {moved} (permanent redirect, confirmed)"
            )?;
        }
        writeln!(out, "  state:      {state}")?;
        if let Some(until) = url::Url::parse(r.polled_url())
            .ok()
            .and_then(|u| paused.get(&crate::politeness::domain_key(&u)))
        {
            writeln!(
                out,
                "  site:       paused until {}: it asked us to wait (429 or 503)",
                t(Some(*until))
            )?;
        }
        if let Some(e) = &r.last_error {
            writeln!(out, "  last error: {e}")?;
        }
        writeln!(
            out,
            "  last fetch: {}{}",
            t(r.last_attempt_at),
            r.last_status
                .map(|s| format!(" (HTTP {s})"))
                .unwrap_or_default()
        )?;
        writeln!(out, "  last ok:    {}", t(r.last_success_at))?;
        let carried = per_feed.get(&r.id).copied().unwrap_or(0);
        writeln!(out, "  items:      {carried}")?;
        // The feed's latest subscription: live, or why it is not.
        if let Some(sub) = latest.get(&r.id) {
            writeln!(out, "  websub:     {}", sub.in_words(now, t))?;
        }
        if r.in_config {
            match configured.get(r.name.as_str()) {
                Some(f) => writeln!(
                    out,
                    "  next due:   {} (schedule {})",
                    r.next_due_in_words(Some(f), now, t),
                    r.schedule
                )?,
                None => writeln!(
                    out,
                    "  config:     not in {} any more: polled until the daemon reloads",
                    config.source.display()
                )?,
            }
        }
    }
    let registered: std::collections::HashSet<&str> =
        rows.iter().map(|r| r.name.as_str()).collect();
    for f in config
        .feeds
        .iter()
        .filter(|f| !registered.contains(f.name.as_str()))
    {
        writeln!(out, "{}", f.name)?;
        // As written (a `${NAME}` names its key, never shows it), unless a
        // key is written there too: then as the archive will keep it. The
        // list may be pasted anywhere.
        let url = f.written_secret().unwrap_or_else(|| {
            let written = f.url_template.as_deref().unwrap_or(f.url.as_str());
            written.to_owned()
        });
        writeln!(out, "  url:        {url}")?;
        writeln!(
            out,
            "  state:      new in {}: registered when the daemon reloads or starts, or by `tickerfeed poll`",
            config.source.display()
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

async fn quotes(config: Config, clock: SharedClock) -> Result<ExitCode> {
    let Some(market) = &config.market else {
        bail!("no [market] section in {}", config.source.display());
    };
    let http = app::quote_client(&config.fetch).context("setting up the quote client")?;
    // Only the quotes are archived: registering the config's feeds would
    // change a running daemon's behind its back.
    let store = archive_to_write(&config)?;
    let now = clock.now();
    let board = app::seeded_board(market, http, &store, &clock).await?;
    let report = board
        .refresh(&store, now)
        .await
        .context("archiving quotes")?;
    let mut out = Report::stdout();
    writeln!(out, "{} ({})", board.label(), board.provider().as_str())?;
    // Figures, change and session as the pages' strip shows them.
    for (_, q) in board.view(now).map(|v| v.quotes).unwrap_or_default() {
        let change = quote_change(&q)
            .map(|c| c.to_string())
            .unwrap_or_else(|| "▬ n/a".into());
        let notes: Vec<&str> = q
            .stale
            .then_some("stale")
            .into_iter()
            .chain(session_note(&q.session))
            .collect();
        let notes = match notes.is_empty() {
            true => String::new(),
            false => format!("  ({})", notes.join(", ")),
        };
        writeln!(
            out,
            "  {:<8} {:>12} {:<4} {:>9}{notes}",
            q.symbol,
            shown_price(q.price),
            q.currency.as_deref().unwrap_or(""),
            change,
        )?;
    }
    let held = |symbol: &String| report.held_back.contains(symbol);
    for (symbol, error) in report.failed.iter().filter(|(s, _)| !held(s)) {
        writeln!(out, "  {symbol}: {error}")?;
    }
    // Not a failure: keeping to the provider's limits is the point, and a
    // script calling this from cron should not retry harder.
    if let Some(why) = &report.held_back_why {
        writeln!(
            out,
            "  no fresh quote asked for {}: {why}; shown are the last the archive holds, marked stale",
            report.held_back.join(", ")
        )?;
    }
    Ok(
        if report.ok == 0 && report.failed.len() > report.held_back.len() {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        },
    )
}

async fn alerts(
    config: Config,
    clock: SharedClock,
    action: Option<AlertsAction>,
) -> Result<ExitCode> {
    // Names first: a mistyped one is said as such, archive or none.
    let named = match &action {
        Some(AlertsAction::Retry { alert: Some(name) }) | Some(AlertsAction::Test { name }) => {
            Some(name)
        }
        _ => None,
    };
    if let Some(name) = named
        && !config.alerts.iter().any(|a| &a.name == name)
    {
        return Err(unknown_alert(&config, name));
    }
    let store = existing_archive(&config)?;
    let mut out = Report::stdout();
    if let Some(AlertsAction::Retry { alert }) = action {
        let names: Vec<String> = match alert {
            Some(name) => vec![name],
            None => config.alerts.iter().map(|a| a.name.clone()).collect(),
        };
        let (n, gone) = store
            .alert_messages_retried(&names, clock.now())
            .await
            .context("putting failed alert messages back to pending")?;
        writeln!(
            out,
            "{n} failed alert messages put back to pending; a running daemon sends them within seconds with the config it runs (if the fix was in config.toml, reload it first: systemctl reload tickerfeed), a stopped one when it starts"
        )?;
        if gone > 0 {
            writeln!(
                out,
                "{gone} stay failed: their items are no longer in the archive ([storage] retention)"
            )?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(AlertsAction::Test { name }) = action {
        let sender = crate::push::alerts::Sender::new(
            store,
            clock,
            Arc::new(crate::metrics::Metrics::new()),
            &config.alerts,
            crate::push::webhook::Clients::new(&config.fetch.user_agent)
                .context("setting up the webhook client")?,
        );
        return Ok(match sender.send_test(&name).await {
            Ok(answer) => {
                writeln!(out, "{name}: {answer}")?;
                ExitCode::SUCCESS
            }
            Err(why) => {
                writeln!(out, "{name}: not delivered: {why}")?;
                ExitCode::FAILURE
            }
        });
    }
    if config.alerts.is_empty() {
        writeln!(
            out,
            "no alerts: add [[alerts]] to {}",
            config.source.display()
        )?;
    }
    let outbox = store.outbox().await.context("reading the alert outbox")?;
    let states = store
        .alert_states()
        .await
        .context("reading the alerts' states")?;
    // Each alert's counts and last error, as the operator's page reads
    // them; an alert the archive does not know yet has none.
    let state_of =
        |alert: &crate::config::AlertConfig| states.iter().find(|s| s.alert == alert.name);
    use Align::{Left, Right};
    // One line per alert, in columns as `views` prints its list; each
    // alert's last error and failed messages go under its line.
    let rows: Vec<[String; 6]> = config
        .alerts
        .iter()
        .map(|alert| {
            let (pending, failed) = state_of(alert).map_or((0, 0), |s| (s.pending, s.failed));
            [
                alert.name.clone(),
                alert.watches.in_words(),
                alert.format.as_str().to_string(),
                crate::link::origin_shown(&alert.url),
                format!("{pending} pending"),
                format!("{failed} failed"),
            ]
        })
        .collect();
    let lines = in_columns(&rows, [Left, Left, Left, Left, Right, Right]);
    for (alert, line) in config.alerts.iter().zip(lines) {
        writeln!(out, "{line}")?;
        // The alert's, not the newest row's: a row's error stays while it
        // waits, though the receiver may have taken messages since.
        if let Some(last) = state_of(alert).and_then(|s| s.last_error.as_deref()) {
            writeln!(out, "    last error: {last}")?;
        }
        let failed: Vec<[String; 5]> = outbox
            .iter()
            .filter(|r| r.alert == alert.name && r.state == "failed")
            .take(10)
            .map(|r| {
                [
                    "failed".to_string(),
                    r.item_uid.clone(),
                    format!("{} attempts", r.attempts),
                    format!("since {}", crate::clock::to_db_time(r.created_at)),
                    r.last_error.clone().unwrap_or_default(),
                ]
            })
            .collect();
        for line in in_columns(&failed, [Left, Left, Right, Left, Left]) {
            writeln!(out, "    {line}")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn views(config: Config, action: Option<ViewsAction>) -> Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    let Some(ViewsAction::Test { name, rule, limit }) = action else {
        let store = existing_archive(&config)?;
        if config.views.is_empty() {
            writeln!(
                out,
                "no views: add [[views]] to {}",
                config.source.display()
            )?;
        }
        let mut rows = Vec::with_capacity(config.views.len());
        for view in &config.views {
            let n = store
                .count_selected(&view.selection)
                .await
                .context("counting a view's items")?;
            let path = Channel::View(view.name.clone()).path(Format::Atom.extension());
            rows.push([
                view.name.clone(),
                format!("/{path}"),
                counted(n, "item"),
                view.title.clone(),
            ]);
        }
        use Align::{Left, Right};
        for line in in_columns(&rows, [Left, Left, Right, Left]) {
            writeln!(out, "{line}")?;
        }
        return Ok(ExitCode::SUCCESS);
    };
    let (what, selection) = match (name, rule) {
        (_, Some(text)) => (
            format!("rule {text}"),
            Selection {
                include: vec![adhoc_rule(&text)?],
                ..Selection::default()
            },
        ),
        (Some(name), None) => {
            let view = config
                .views
                .iter()
                .find(|v| v.name == name)
                .ok_or_else(|| unknown_view(&config, &name))?;
            (format!("view {name}"), view.selection.clone())
        }
        (None, None) => unreachable!("clap requires a name or --rule"),
    };
    // After the view's name and the rule: a mistake in either is said as
    // such, archive or none.
    let store = existing_archive(&config)?;
    let shown = store.count_selected(&selection).await.context("counting")?;
    let removed = if selection.exclude.is_empty() {
        0
    } else {
        store
            .count_selected(&selection.without_excludes())
            .await
            .context("counting")?
            - shown
    };
    let matches = store
        .dry_run(&selection, limit)
        .await
        .context("selecting the items")?;
    write!(
        out,
        "{what}: {} match{}",
        counted(shown, "item"),
        if shown == 1 { "es" } else { "" }
    )?;
    if !selection.exclude.is_empty() {
        write!(out, "; its excludes removed {removed}")?;
    }
    writeln!(out)?;
    for m in &matches {
        writeln!(out, "\n{}  {}", m.sort_at, m.title)?;
        if let Some(url) = &m.url {
            writeln!(out, "  {url}")?;
        }
        for why in &m.why {
            writeln!(out, "  - {why}")?;
        }
    }
    if shown as usize > matches.len() {
        writeln!(
            out,
            "\n({} more; --limit shows more)",
            shown as usize - matches.len()
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// A rule typed on the command line, in the config's own syntax.
fn adhoc_rule(text: &str) -> Result<Rule> {
    let table: toml::Table = toml::from_str(&format!("rule = {text}"))
        .ok()
        .and_then(|mut t: toml::Table| t.remove("rule"))
        .and_then(|v| v.as_table().cloned())
        .with_context(|| {
            format!("--rule {text:?} is not a rule like '{{ title = \"(?i)sponsored\" }}'")
        })?;
    Rule::from_table(table.iter().map(|(k, v)| (k.as_str(), Some(v))), |v| {
        v.as_str()
    })
    .map_err(|e| anyhow::anyhow!("--rule {text}: {e}"))
}

async fn search(
    config: Config,
    query: String,
    limit: usize,
    since: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<ExitCode> {
    // Without a word to find, every item fails to match: "no items match"
    // would blame the archive for the query.
    if crate::select::fts_query(&query).is_none() {
        bail!(
            "the query is empty: give the words to find, e.g. tickerfeed search \"oil refinery\""
        );
    }
    let store = existing_archive(&config)?;
    let hits = store
        .search(&query, limit, since)
        .await
        .context("searching the archive")?;
    let mut out = std::io::stdout().lock();
    if hits.is_empty() {
        writeln!(out, "no items match {query:?}")?;
    }
    for (i, h) in hits.iter().enumerate() {
        writeln!(
            out,
            "{}. {}  [{}, {}]",
            i + 1,
            h.title,
            h.feed,
            &h.sort_at[..10]
        )?;
        if let Some(url) = &h.url {
            writeln!(out, "   {url}")?;
        }
        if !h.snippet.is_empty() {
            writeln!(out, "   {}", crate::markup::collapse_whitespace(&h.snippet))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn prune(config: Config, clock: SharedClock) -> Result<ExitCode> {
    let mut out = Report::stdout();
    if config.storage.max_age_days.is_none() && config.storage.max_items_per_feed.is_none() {
        writeln!(
            out,
            "nothing to do: set [storage] max_age_days or max_items_per_feed (the archive keeps everything by default)"
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    let store = existing_archive(&config)?;
    let n = app::prune(&store, &config.storage, clock.now())
        .await
        .context("pruning")?;
    writeln!(
        out,
        "deleted {} (each leaves a tombstone so it never comes back)",
        counted(n, "item")
    )?;
    Ok(ExitCode::SUCCESS)
}

/// What the archive learnt of each feed from its document (title, site),
/// for `opml export`. The list is the config's, so it is written without
/// them rather than refused when there is no archive to ask: none yet
/// (it is not created for this), or one this user cannot read (the
/// service's own, run as another user), which is said.
async fn feed_homes(config: &Config) -> std::collections::HashMap<String, crate::store::FeedHome> {
    let path = &config.storage.path;
    let homes = match Store::open_existing(path) {
        Ok(store) => store.feed_homes().await,
        Err(StoreError::NoArchive { .. }) => return Default::default(),
        Err(e) => Err(e),
    };
    homes.unwrap_or_else(|e| {
        eprintln!(
            "warning: the list has no feed titles or site links: reading {}: {}",
            path.display(),
            crate::cause::chain(&e)
        );
        Default::default()
    })
}

async fn opml(config: Config, clock: SharedClock, action: OpmlAction) -> Result<ExitCode> {
    use crate::opml;
    let mut out = Report::stdout();
    match action {
        OpmlAction::Export => {
            let homes = feed_homes(&config).await;
            write!(
                out,
                "{}",
                opml::export(
                    &config.output.title,
                    &config.feeds,
                    &homes,
                    opml::Credentials::Kept,
                    clock.now(),
                )
            )?;
            Ok(ExitCode::SUCCESS)
        }
        OpmlAction::Import { file, write } => {
            let bytes =
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let doc = opml::parse(&bytes)
                .with_context(|| format!("reading {} as OPML", file.display()))?;
            for skipped in &doc.skipped {
                eprintln!("warning: {}: skipped {skipped}", file.display());
            }
            let plan = opml::to_config_entries(&doc.feeds, &config);
            for known in &plan.already_configured {
                writeln!(
                    out,
                    "already configured as {:?}: {}",
                    known.existing_name, known.url
                )?;
            }
            let source = file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let addition = plan.to_toml(&source, clock.now());
            if plan.added.is_empty() {
                writeln!(out, "nothing to add")?;
                return Ok(ExitCode::SUCCESS);
            }
            if !write {
                writeln!(
                    out,
                    "# {} feeds would be appended to {} (run again with --write):\n",
                    plan.added.len(),
                    config.source.display()
                )?;
                write!(out, "{addition}")?;
                return Ok(ExitCode::SUCCESS);
            }
            let current = std::fs::read_to_string(&config.source)
                .with_context(|| format!("reading {}", config.source.display()))?;
            let updated = opml::append_to_config(&current, &plan, &source, clock.now());
            // Never write a config the daemon would refuse.
            let base = config.source.parent().unwrap_or(std::path::Path::new(""));
            if let Err(problems) = crate::config::resolve_str(&updated, base) {
                let list: Vec<String> =
                    problems.iter().map(|p| p.located(&config.source)).collect();
                bail!(
                    "the imported entries would make the config invalid; nothing written:\n  {}",
                    list.join("\n  ")
                );
            }
            // Through a symlink to the file it names, with that file's
            // permissions: a linked config stays linked, and one only its
            // owner may read (feed URLs can carry passwords) stays so.
            let target = std::fs::canonicalize(&config.source)
                .with_context(|| format!("reading {}", config.source.display()))?;
            let permissions = std::fs::metadata(&target)
                .with_context(|| format!("reading {}", target.display()))?
                .permissions();
            let mut file = AtomicFile::create(&target)?;
            file.file
                .set_permissions(permissions)
                .with_context(|| format!("writing {}", file.tmp.display()))?;
            file.write_all(updated.as_bytes())
                .with_context(|| format!("writing {}", config.source.display()))?;
            file.commit()?;
            writeln!(
                out,
                "appended {} feeds to {}; reload the daemon (systemctl reload tickerfeed) to start them",
                plan.added.len(),
                config.source.display()
            )?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// How the cells of a column line up in [`in_columns`].
#[derive(Debug, Clone, Copy)]
enum Align {
    Left,
    /// Counts, so that their digits line up.
    Right,
}

/// A command's list as lines of columns two spaces apart, each column as
/// wide as its widest cell, so an operator can read down a column
/// (`views`, `alerts`). Widths count characters, not bytes: names, titles
/// and the `…` of a shortened URL need not be ASCII. Nothing is cut, and
/// no line ends in spaces.
fn in_columns<const N: usize>(rows: &[[String; N]], align: [Align; N]) -> Vec<String> {
    let mut widths = [0; N];
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    rows.iter()
        .map(|row| {
            let mut line = String::new();
            for (i, cell) in row.iter().enumerate() {
                if i > 0 {
                    line.push_str("  ");
                }
                let w = widths[i];
                match align[i] {
                    Align::Left => line.push_str(&format!("{cell:<w$}")),
                    Align::Right => line.push_str(&format!("{cell:>w$}")),
                }
            }
            line.truncate(line.trim_end().len());
            line
        })
        .collect()
}

/// At most this many names are said in an error: all of them when there
/// are no more, else the closest to what was typed (a config can hold
/// hundreds of feeds, which once came back on one line).
const NAMES_SAID: usize = 5;

/// A name given on the command line that the config does not have (a
/// feed, view, alert or tag): `said` (what is wrong, naming `name`), then
/// every configured name if there are a handful, else the closest ones
/// (a typo, or a part of the name) and where they are all listed
/// (`plural` names the kind, "feeds"; `lister` where, "`tickerfeed feeds`
/// lists").
/// Each command that takes a name says it through here.
fn unknown_name<'a>(
    config: &Config,
    said: String,
    name: &str,
    known: impl IntoIterator<Item = &'a str>,
    (plural, lister): (&str, &str),
) -> anyhow::Error {
    let known: Vec<&str> = known.into_iter().collect();
    let source = config.source.display();
    if known.is_empty() {
        return anyhow::anyhow!("{said} in {source} (it has no {plural})");
    }
    if known.len() <= NAMES_SAID {
        return anyhow::anyhow!("{said} in {source} ({plural}: {})", known.join(", "));
    }
    let all = format!("{lister} all {} {plural}", known.len());
    let close: Vec<String> = closest(name, &known)
        .iter()
        .map(|n| format!("{n:?}"))
        .collect();
    match close.split_last() {
        None => anyhow::anyhow!("{said} in {source} ({all})"),
        Some((last, [])) => anyhow::anyhow!("{said} in {source}: did you mean {last}? ({all})"),
        Some((last, rest)) => anyhow::anyhow!(
            "{said} in {source}: did you mean {} or {last}? ({all})",
            rest.join(", ")
        ),
    }
}

/// The configured names closest to `typed`, best first, at most three:
/// those within a few edits of it (a third of its length, at least one;
/// two letters swapped count one edit, as `oli` for `oil`), or holding it
/// whole (`reuters` for `reuters-markets`); case aside.
fn closest<'a>(typed: &str, known: &[&'a str]) -> Vec<&'a str> {
    let typed = typed.to_lowercase();
    let near = (typed.chars().count() / 3).max(1);
    let mut close: Vec<(usize, &str)> = known
        .iter()
        .filter_map(|&k| {
            let lower = k.to_lowercase();
            let edits = strsim::osa_distance(&typed, &lower);
            let holds = typed.chars().count() >= 3 && lower.contains(&typed);
            (edits <= near || holds).then_some((edits, k))
        })
        .collect();
    close.sort();
    close.into_iter().take(3).map(|(_, k)| k).collect()
}

fn unknown_view(config: &Config, name: &str) -> anyhow::Error {
    unknown_name(
        config,
        format!("no view is named {name:?}"),
        name,
        config.views.iter().map(|v| v.name.as_str()),
        ("views", "`tickerfeed views` lists"),
    )
}

fn unknown_alert(config: &Config, name: &str) -> anyhow::Error {
    unknown_name(
        config,
        format!("no alert is named {name:?}"),
        name,
        config.alerts.iter().map(|a| a.name.as_str()),
        ("alerts", "`tickerfeed alerts` lists"),
    )
}

async fn export(
    config: Config,
    format: ExportFormat,
    since: Option<chrono::DateTime<chrono::Utc>>,
    view: Option<String>,
    out: Option<PathBuf>,
) -> Result<ExitCode> {
    // Arguments first: a mistake costs nothing and leaves no file.
    let selection = match &view {
        None => crate::select::Selection::default(),
        Some(name) => {
            config
                .output(&Channel::View(name.clone()))
                .ok_or_else(|| unknown_view(&config, name))?
                .selection
        }
    };
    let store = existing_archive(&config)?;
    let query = ExportQuery { selection, since };
    // The walk blocks (rusqlite), so it runs on a blocking thread, writing
    // each item straight through a buffer to the file or stdout.
    let written = tokio::task::spawn_blocking(move || -> Result<Option<(u64, String)>> {
        const BUFFER: usize = 64 * 1024;
        match &out {
            Some(path) => {
                let file = AtomicFile::create(path)?;
                let mut w =
                    ExportWriter::new(format, std::io::BufWriter::with_capacity(BUFFER, file))
                        .with_context(|| format!("writing {}", path.display()))?;
                let n = store
                    .export_blocking(&query, |item| w.write(item))
                    .with_context(|| format!("exporting to {}", path.display()))?;
                let file = w
                    .finish()
                    .and_then(|b| b.into_inner().map_err(|e| e.into_error()))
                    .with_context(|| format!("writing {}", path.display()))?;
                file.commit()?;
                Ok(Some((n, path.display().to_string())))
            }
            None => {
                let stdout = std::io::stdout().lock();
                let mut w =
                    ExportWriter::new(format, std::io::BufWriter::with_capacity(BUFFER, stdout))?;
                let result = store
                    .export_blocking(&query, |item| w.write(item))
                    .map_err(anyhow::Error::from)
                    .and_then(|n| Ok((n, w.finish()?)));
                match result {
                    Ok((n, _)) => Ok(Some((n, "stdout".into()))),
                    // A closed pipe (`| head`) ends at the edge
                    // (`exit_code`) as a success, with no count.
                    Err(e) => Err(e.context("exporting to stdout")),
                }
            }
        }
    })
    .await
    .context("the export task failed")??;
    if let Some((n, to)) = written {
        eprintln!("exported {} to {to}", counted(n, "item"));
    }
    Ok(ExitCode::SUCCESS)
}

/// Standard output for a command with work left after it reports: a poll
/// still fetches its article pages after the summary, `opml import
/// --write` writes the config after listing what it found, `quotes` ends
/// with an exit code that says whether any symbol came. Once the reader has
/// gone (`poll | grep -m1 error`), the rest of the report is dropped and
/// the work goes on to its own end and exit code; a command that only
/// prints stops at the closed pipe instead (`exit_code`).
struct Report<W: Write> {
    out: W,
    /// The reader went: later writes are dropped.
    gone: bool,
}

impl Report<std::io::StdoutLock<'static>> {
    fn stdout() -> Self {
        Report {
            out: std::io::stdout().lock(),
            gone: false,
        }
    }
}

impl<W: Write> Report<W> {
    /// `result`, unless it says the reader went.
    fn unless_gone<T>(&mut self, result: std::io::Result<T>, dropped: T) -> std::io::Result<T> {
        match result {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                self.gone = true;
                Ok(dropped)
            }
            other => other,
        }
    }
}

impl<W: Write> Write for Report<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.gone {
            return Ok(buf.len());
        }
        let written = self.out.write(buf);
        self.unless_gone(written, buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.gone {
            return Ok(());
        }
        let flushed = self.out.flush();
        self.unless_gone(flushed, ())
    }
}

/// True when anything in `e`'s chain is a write to a pipe whose reader
/// has gone (typed errors such as `ExportError::Write` name the
/// `io::Error` as their source).
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// A file that appears at its path only once complete: written as a
/// temporary file beside it (same folder, so the rename cannot cross file
/// systems), synced, then renamed over the path. Dropped without
/// [`AtomicFile::commit`] (an error, a panic), the temporary file is
/// removed and whatever was at the path is untouched.
struct AtomicFile {
    file: std::fs::File,
    tmp: PathBuf,
    path: PathBuf,
    committed: bool,
}

impl AtomicFile {
    fn create(path: &std::path::Path) -> Result<AtomicFile> {
        let name = path
            .file_name()
            .with_context(|| format!("{} is not a file name", path.display()))?;
        let mut tmp_name = std::ffi::OsString::from(".");
        tmp_name.push(name);
        tmp_name.push(format!(".tmp-{}", std::process::id()));
        let tmp = path.with_file_name(tmp_name);
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .with_context(|| format!("creating {}", tmp.display()))?;
        Ok(AtomicFile {
            file,
            tmp,
            path: path.to_path_buf(),
            committed: false,
        })
    }

    /// Makes the file durable and puts it at its path.
    fn commit(mut self) -> Result<()> {
        self.file
            .sync_all()
            .with_context(|| format!("writing {}", self.tmp.display()))?;
        std::fs::rename(&self.tmp, &self.path)
            .with_context(|| format!("replacing {}", self.path.display()))?;
        self.committed = true;
        Ok(())
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.file.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn an_atomic_file_appears_only_when_committed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.jsonl");
        std::fs::write(&path, "old\n").unwrap();
        {
            let mut f = AtomicFile::create(&path).unwrap();
            f.write_all(b"half an exp").unwrap();
            // Dropped without commit: an export that failed half way.
        }
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old\n");
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "no temporary file left behind");
        let mut f = AtomicFile::create(&path).unwrap();
        f.write_all(b"new\n").unwrap();
        f.commit().unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new\n");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    /// Under socket activation the daemon serves on, and names itself by,
    /// the socket systemd passed: its address is the one to judge, not
    /// `[server] listen`'s (`process::check_warns_of_self_links_to_an_address_that_names_no_host`
    /// covers `listen`; a real socket on every address would not be
    /// loopback only, so this one is a unit test).
    #[test]
    fn the_self_address_warning_judges_the_socket_systemd_passed() {
        let config = |server: &str| {
            crate::config::resolve_str(&format!("[server]\n{server}\n"), Path::new("/etc")).unwrap()
        };
        let local = config("listen = \"127.0.0.1:8080\"");
        for any in ["[::]:8080", "0.0.0.0:8080"] {
            let warned = warnings(&local, Some(any.parse().unwrap())).join("\n");
            assert!(
                warned.contains(&format!("the socket systemd passed ({any})"))
                    && warned.contains(&format!("http://{any}/"))
                    && warned.contains("base_url")
                    && !warned.contains("127.0.0.1"),
                "{warned}"
            );
        }
        let named = config("listen = \"127.0.0.1:8080\"\nbase_url = \"https://news.example.org/\"");
        assert!(warnings(&named, Some("[::]:8080".parse().unwrap())).is_empty());
        // A socket on loopback names a host, whatever `listen` says.
        let any = config("listen = \"0.0.0.0:0\"");
        assert!(warnings(&any, Some("127.0.0.1:8080".parse().unwrap())).is_empty());
        assert_eq!(warnings(&any, None).len(), 1);
    }

    #[test]
    fn a_written_key_is_suggested_as_a_variable_named_after_the_feed() {
        assert_eq!(
            name_from_environment("https://x.test/f?a=****&b=****", "1wire.eu"),
            "https://x.test/f?a=${FEED_1WIRE_EU_KEY}&b=${FEED_1WIRE_EU_KEY_2}"
        );
    }
}
