//! Domain types shared by the pipeline stages, the store and the renderers;
//! how a poll ended ([`outcome`]), the market's types ([`market`]) and the
//! exchanges' trading hours ([`calendar`]) live in the submodules.
//!
//! Identity lives here: [`FeedId`] is the archive's row id of a configured
//! feed, [`ItemKey`] is a feed-scoped key that stays the same across polls
//! and restarts, and [`ItemUid`] is the archive-wide id minted the first time
//! an article is seen, from which the merged feed's entry ids are made.
//!
//! The store fills [`Entry`] and [`EntrySource`] from the archive and
//! `render` consumes them, so the store never imports `render`.

use std::borrow::Cow;
use std::fmt;

use chrono::{DateTime, Utc};

pub mod calendar;
pub mod market;
pub mod outcome;
pub use market::{Horizon, ProviderKind, Quote, Session, UnknownProvider};
pub use outcome::{FailureKind, Outcome, OutcomeKind};

/// Row id of a feed in the archive's `feeds` table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FeedId(pub i64);

impl fmt::Display for FeedId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A feed-scoped item key, stable across polls: `id:<guid>` when the
/// publisher gave an id, else `link:<canonical link>`, else
/// `hash:<sha256 of the content>`. Every entry of a key repeated inside one
/// document gets a `|<canonical link>` suffix (`|` and 16 hex digits of the
/// content hash when the link does not tell them apart), the content
/// hash's digits after that when the link is repeated too, then `|<n>` if
/// it is still a repeat (the same entry listed twice).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ItemKey(pub String);

impl ItemKey {
    /// The key of an entry its publisher gave the id `guid`.
    pub fn of_guid(guid: &str) -> ItemKey {
        ItemKey(format!("id:{guid}"))
    }
}

impl fmt::Display for ItemKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Archive-wide id of one article: 32 hex characters minted at first ingest
/// and never changed. The merged feed's entry id is made from it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ItemUid(pub String);

impl ItemUid {
    /// The entry id subscribers see, as a `tag:` URI (RFC 4151).
    pub fn entry_id(&self) -> String {
        format!("tag:tickerfeed,2026:item:{}", self.0)
    }
}

/// A file attached to an item (a podcast's episode, a report's PDF): RSS
/// `<enclosure>`, Atom `rel="enclosure"`, JSON Feed `attachments`. Stored
/// as JSON in `items.enclosures` (`{"url", "type", "length"}`) and
/// republished in each format.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Enclosure {
    pub url: String,
    /// Its media type (`audio/mpeg`), when the feed gave one.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// Its size in bytes, when the feed gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub length: Option<u64>,
}

/// Feed-level data a successful parse yields.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FeedMeta {
    pub title: Option<String>,
    pub site_url: Option<String>,
    pub feed_guid: Option<String>,
    pub updated: Option<DateTime<Utc>>,
}

/// One item as the normalize stage hands it to the store: links absolute,
/// HTML sanitised, times in UTC, key computed.
#[derive(Debug, Clone, PartialEq)]
pub struct NewItem {
    pub key: ItemKey,
    /// The publisher's id (RSS guid, Atom id, JSON Feed id), trimmed.
    pub guid: Option<String>,
    /// The article's link, absolute.
    pub url: Option<String>,
    /// The link in canonical form (see [`crate::link::canonical_url`]),
    /// used to recognise the same article in several feeds.
    pub canonical_url: Option<String>,
    /// Plain text.
    pub title: String,
    /// Sanitised HTML.
    pub summary_html: Option<String>,
    /// Sanitised HTML.
    pub content_html: Option<String>,
    /// `summary_html` as plain text, for search.
    pub summary_text: Option<String>,
    /// `content_html` as plain text, for search.
    pub content_text: Option<String>,
    /// Each author's name.
    pub authors: Vec<String>,
    /// Each author's email address, beside [`NewItem::authors`], when the
    /// feed gave one. Not part of the content hash.
    pub author_emails: Vec<Option<String>>,
    pub categories: Vec<String>,
    /// Files attached to it (a podcast's episode), absolute http(s) links.
    pub enclosures: Vec<Enclosure>,
    pub published: Option<DateTime<Utc>>,
    pub updated: Option<DateTime<Utc>>,
    /// SHA-256 over the fields a reader sees; a change means "updated".
    pub content_hash: String,
    /// [`NewItem::content_hash`] as the previous version computed it, of the
    /// texts and authors as it archived them (plain text without its
    /// paragraphs, RSS author names in their brackets): an archive written
    /// by it holds this for the entry unchanged, which is no edit. The
    /// content hash itself when the two read the entry alike.
    pub earlier_hash: String,
    /// [`NewItem::content_hash`] as keys take it ([`NewItem::shared_key`]):
    /// of the title as first read, before RSS titles had their references
    /// decoded, so an item an earlier version archived keeps its key.
    pub key_hash: String,
    /// Configured symbols the item mentions, in order of first appearance,
    /// each with how it was found (filled by `pipeline::enrich`).
    pub mentions: Vec<Mention>,
}

impl NewItem {
    /// Whether an archived article of content hash `hash` is this entry
    /// unchanged: as this version archives it, or as the previous one did
    /// ([`NewItem::earlier_hash`]).
    pub fn hashes_to(&self, hash: &str) -> bool {
        hash == self.content_hash || hash == self.earlier_hash
    }

    /// This item's key when its publisher's id is not its own (a feed that
    /// gives several entries one guid): the key with the item's link, or
    /// failing that its [`NewItem::key_hash`], added. `normalize` gives it to every
    /// entry that shares a key in one document; the store to an entry that
    /// comes alone under a key its feed has shown shared.
    pub fn shared_key(&self) -> ItemKey {
        let suffix = self
            .canonical_url
            .clone()
            .filter(|c| !self.key.0.ends_with(c.as_str()))
            .unwrap_or_else(|| self.key_hash[..16].to_string());
        ItemKey(format!("{}|{suffix}", self.key.0))
    }

    /// [`NewItem::shared_key`] for entries that share their link too (a
    /// feed that links every entry to its home page): the content hash
    /// added ([`NewItem::key_hash`]), so each keeps its key wherever the
    /// feed lists it.
    pub fn twice_shared_key(&self) -> ItemKey {
        let shared = self.shared_key();
        let hash = &self.key_hash[..16];
        if shared.0.ends_with(hash) {
            shared
        } else {
            ItemKey(format!("{}|{hash}", shared.0))
        }
    }
}

/// One configured symbol an item mentions, and how the matcher knew.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mention {
    pub symbol: String,
    pub matched_by: MatchedBy,
}

/// How a mention was found, most reliable first. Stored in
/// `item_mentions.matched_by` as [`MatchedBy::as_str`], so an analyst can
/// filter by confidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MatchedBy {
    /// A publisher's ticker list (`<nasdaq:tickers>`, Finnhub `related`,
    /// when given) or
    /// the SEC filer's CIK.
    Tag,
    /// Venue and symbol: `(NYSE: BP)`, `LSE:BP.`.
    Exchange,
    /// `$BP`.
    Cashtag,
    /// An unambiguous configured name ("AstraZeneca", "Rio Tinto").
    Name,
    /// An ambiguous alias ("BP", "BAT") that something else in the item
    /// confirmed: another name of the company, a suffix such as "plc", or
    /// finance words around it.
    Corroborated,
}

impl MatchedBy {
    pub fn as_str(self) -> &'static str {
        match self {
            MatchedBy::Tag => "tag",
            MatchedBy::Exchange => "exchange",
            MatchedBy::Cashtag => "cashtag",
            MatchedBy::Name => "name",
            MatchedBy::Corroborated => "corroborated",
        }
    }
}

/// The ticker board as it stood when an item was first archived: taken
/// once, stored with the item, never refetched, rendered as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// The board's label, e.g. `NYSE - LSE`.
    pub label: String,
    /// When the item was stamped (our clock).
    pub taken_at: DateTime<Utc>,
    /// Quotes in strip order: mentioned instruments first, then the board's
    /// configured order.
    pub quotes: Vec<SnapshotQuote>,
}

impl SnapshotQuote {
    /// Whether `other` prices the same listing, so a change between them
    /// means something: the same currency when both give one; else (a
    /// provider that gives none) the same provider symbol. A symbol moved
    /// to another listing (the ADR in dollars, the London line in pounds)
    /// is not compared.
    pub fn same_listing(&self, other: &SnapshotQuote) -> bool {
        match (&self.currency, &other.currency) {
            (Some(a), Some(b)) => a == b,
            _ => self
                .provider_symbol
                .eq_ignore_ascii_case(&other.provider_symbol),
        }
    }
}

/// One quote on a snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotQuote {
    /// Our configured symbol (`BP`).
    pub symbol: String,
    /// Display name from the config, when given (`BP plc`).
    pub name: Option<String>,
    /// The provider's spelling of the symbol (`BP.L`).
    pub provider_symbol: String,
    /// The instrument's configured `exchange` (`LSE`), by which the strip
    /// judges whether a stale quote's market is closed
    /// (`calendar::evidently_listed_on`): Twelve Data's `BP` on London is
    /// spelled like a New York ticker. Set on the live board
    /// (`Board::view`). `None` when the config names none, and on every
    /// snapshot read back from the archive, which does not keep it (an
    /// item's strip then judges by the provider symbol alone).
    pub exchange: Option<String>,
    /// `yahoo`, `finnhub`, `twelvedata`, `stooq`, `alphavantage`.
    pub provider: String,
    /// Major currency units (pence already converted to pounds).
    pub price: rust_decimal::Decimal,
    pub change: Option<rust_decimal::Decimal>,
    /// Signed percent: `2.12` means +2.12 %.
    pub change_percent: Option<rust_decimal::Decimal>,
    /// ISO 4217, when the provider says.
    pub currency: Option<String>,
    pub previous_close: Option<rust_decimal::Decimal>,
    /// The provider's time for the price.
    pub as_of: Option<DateTime<Utc>>,
    /// When we fetched it.
    pub fetched_at: DateTime<Utc>,
    /// `pre`, `regular`, `post`, `closed` or `unknown`.
    pub session: String,
    /// Fetched longer ago than the staleness threshold when the item was
    /// stamped, the last good value kept while the provider failed, or a
    /// price from before the latest session its exchange had opened then
    /// or trailing the clock while it traded (`quotes::board`).
    pub stale: bool,
    /// The item mentions this instrument.
    pub mentioned: bool,
}

/// One merged entry: one article, however many feeds carried it, as the
/// store reads it back from the archive for `render`.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Stable entry id (`ItemUid::entry_id`).
    pub id: String,
    /// Plain text.
    pub title: String,
    pub url: Option<String>,
    /// Sanitised HTML, links absolute.
    pub summary_html: Option<String>,
    /// Sanitised HTML, links absolute.
    pub content_html: Option<String>,
    pub authors: Vec<String>,
    /// Each author's email address, beside `authors`, where the feed gave
    /// one (empty for an article archived before they were kept).
    pub author_emails: Vec<Option<String>>,
    pub categories: Vec<String>,
    /// Files attached to it, as the feed first gave them.
    pub enclosures: Vec<Enclosure>,
    pub published: Option<DateTime<Utc>>,
    /// When the archive last saw this article change (or first saw it).
    pub updated: DateTime<Utc>,
    /// Every feed that carried the article, the first one first.
    pub sources: Vec<EntrySource>,
    /// The ticker board when the article was first archived, if a
    /// `[market]` was configured then.
    pub snapshot: Option<Snapshot>,
}

impl Entry {
    /// The archive's uid of the article (`items.uid`), from its entry id.
    pub fn uid(&self) -> &str {
        self.id.rsplit(':').next().unwrap_or(&self.id)
    }

    /// The one date a list shows the entry by (RSS `pubDate`, the pages):
    /// when it was published, else when the archive last saw it change.
    pub fn date(&self) -> DateTime<Utc> {
        listed_date(self.published, self.updated)
    }

    /// The titles (or names) of the feeds that carried it, each once,
    /// first seen first: one article archived from two feeds with one
    /// title (a feed and its redirected second address) read "Odd & Ends,
    /// Odd & Ends" on the pages and in alerts.
    pub fn source_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::with_capacity(self.sources.len());
        for source in &self.sources {
            let name = source.title.as_deref().unwrap_or(&source.name);
            if !names.contains(&name) {
                names.push(name);
            }
        }
        names
    }

    /// Where a reader opens the article: its own link, else (an RSS item
    /// with no link and no permalink guid, an Atom entry without an
    /// alternate link) its page under `item_pages` (`items/<uid>`), the
    /// server's public root while the web face serves pages.
    pub fn link_or_page(&self, item_pages: Option<&url::Url>) -> Option<Cow<'_, str>> {
        if let Some(url) = &self.url {
            return Some(Cow::Borrowed(url));
        }
        let page = item_pages?.join(&format!("items/{}", self.uid())).ok()?;
        Some(Cow::Owned(page.into()))
    }

    /// The symbols the article mentions: those its snapshot marks as
    /// mentioned, in its (the board's) order, then the others `recorded`
    /// holds (the archive's `item_mentions`, alphabetical: found while the
    /// board had no price, or later, in the fetched article). The item's
    /// page and its alerts list them so.
    pub fn mentioned_symbols<'a>(&'a self, recorded: &'a [String]) -> Vec<&'a str> {
        let mut symbols: Vec<&str> = self
            .snapshot
            .iter()
            .flat_map(|s| &s.quotes)
            .filter(|q| q.mentioned)
            .map(|q| q.symbol.as_str())
            .collect();
        for symbol in recorded {
            if !symbols.contains(&symbol.as_str()) {
                symbols.push(symbol);
            }
        }
        symbols
    }
}

/// The one date a list shows an article by: when it was published (as
/// [`published_as_seen`] gives it), else when the archive last saw it
/// change. [`Entry::date`] for the feeds and the river, the symbol page's
/// list for its items.
pub fn listed_date(published: Option<DateTime<Utc>>, changed: DateTime<Utc>) -> DateTime<Utc> {
    published.unwrap_or(changed)
}

/// When an article was published, as every output gives it (the feeds, the
/// pages, alerts) and as it sorts: its feed's date, but never later than
/// when the archive first saw it (`first_seen`). Readers sort by the date
/// they are given, so a date in the future (a publisher's clock or a typo,
/// 2099 for 2026) would pin the entry on top of every reader's list until
/// that day. No allowance for clock skew: a date a minute ahead moves by
/// that minute only, and so Atom's `published` is never after its
/// `updated` (which is no earlier than the first sight). The archive keeps
/// the feed's own date (`items.published_at`).
pub fn published_as_seen(
    published: Option<DateTime<Utc>>,
    first_seen: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    published.map(|p| p.min(first_seen))
}

/// A feed that carried an entry.
#[derive(Debug, Clone, PartialEq)]
pub struct EntrySource {
    /// The feed's name in `config.toml`.
    pub name: String,
    /// The feed's own title, when it gave one.
    pub title: Option<String>,
    /// The URL we fetch it from (where a confirmed permanent redirect
    /// moved it), without credentials (`link::without_credentials`): it
    /// is published.
    pub feed_url: String,
    /// The feed's home page, when it gave one.
    pub site_url: Option<String>,
    /// What identifies the feed for good (`atom:source/id`): its own id
    /// (Atom `<id>`), else the URL it is configured with, without
    /// credentials; not where it moved, so a move does not make it
    /// another source. `None` only where no archive is behind the entry.
    pub feed_guid: Option<String>,
    /// The source feed's newest update, for `atom:source/updated`.
    pub updated: Option<DateTime<Utc>>,
}

/// The board at one moment, as the pipeline hands it to the store: each
/// quote with its row id in the archive's `quotes` time series.
#[derive(Debug, Clone, PartialEq)]
pub struct BoardView {
    pub label: String,
    /// In configured order, `mentioned` false.
    pub quotes: Vec<(i64, SnapshotQuote)>,
}

impl BoardView {
    /// The strip for an item that mentions `mentions`: those quotes first
    /// (in board order) and flagged, then the rest.
    pub fn for_item(&self, mentions: &[String]) -> Vec<(i64, SnapshotQuote)> {
        let (mut first, rest): (Vec<_>, Vec<_>) = self
            .quotes
            .iter()
            .cloned()
            .partition(|(_, q)| mentions.contains(&q.symbol));
        for (_, q) in &mut first {
            q.mentioned = true;
        }
        first.extend(rest);
        first
    }
}
