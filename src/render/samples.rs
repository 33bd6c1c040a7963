//! Inputs the renderers' tests share, so Atom, RSS, JSON Feed and the
//! ticker strip are all checked against the same entries and snapshots.

use chrono::{DateTime, TimeZone, Utc};

use super::MergedFeed;
use crate::model::{Entry, EntrySource, Snapshot, SnapshotQuote};

pub(in crate::render) fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
}

/// A source whose every text value needs escaping in XML.
pub(in crate::render) fn awkward_source() -> EntrySource {
    EntrySource {
        name: r#"r&d <"lab">"#.into(),
        title: Some(r#"Q&A <b>"quoted"</b> 'single'"#.into()),
        feed_url: r#"https://example.org/feed?a=1&b=<2>&c="3""#.into(),
        site_url: Some("https://example.org/?x=1&y=2".into()),
        feed_guid: Some("urn:example:feed&<1>".into()),
        updated: None,
    }
}

pub(in crate::render) fn bbc_source() -> EntrySource {
    EntrySource {
        name: "bbc-world".into(),
        title: Some("BBC News - World".into()),
        feed_url: "https://feeds.bbci.co.uk/news/world/rss.xml".into(),
        site_url: Some("https://www.bbc.co.uk/news/world".into()),
        feed_guid: None,
        updated: Some(at(2026, 3, 1, 10, 45)),
    }
}

/// Four entries, newest first:
/// - `a`: everything set, markup in the title, two sources;
/// - `b`: a link and nothing else;
/// - `c`: no link, no summary, no content, no source;
/// - `d`: a summary but no link and no content.
pub(in crate::render) fn sample_feed() -> MergedFeed {
    MergedFeed {
        title: "Markets & <b>news</b>".into(),
        id: "tag:tickerfeed,2026:feed".into(),
        self_url: Some("https://tf.example.net/feed.atom".into()),
        first_url: None,
        next_url: None,
        hub_url: None,
        home_url: Some("https://tf.example.net/".into()),
        item_pages: None,
        description: "Headlines with a ticker board".into(),
        updated: at(2026, 3, 1, 12, 0),
        entries: vec![
            Entry {
                id: "tag:tickerfeed,2026:item:a".into(),
                title: "Shares <b>rise</b> & fall".into(),
                url: Some("https://www.bbc.co.uk/news/a?x=1&y=2".into()),
                summary_html: Some("<p>Short &amp; sweet</p>".into()),
                content_html: Some("<p>Long <em>story</em> &amp; more</p>".into()),
                authors: vec!["Ann Author".into(), "Bob".into()],
                author_emails: vec![Some("ann@example.com".into()), None],
                categories: vec!["markets".into(), "energy & oil".into()],
                enclosures: Vec::new(),
                published: Some(at(2026, 3, 1, 9, 30)),
                updated: at(2026, 3, 1, 11, 0),
                sources: vec![bbc_source(), awkward_source()],
                snapshot: None,
            },
            Entry {
                id: "tag:tickerfeed,2026:item:b".into(),
                title: "Link only".into(),
                url: Some("https://example.org/b".into()),
                summary_html: None,
                content_html: None,
                authors: vec![],
                author_emails: vec![],
                categories: vec![],
                enclosures: Vec::new(),
                published: None,
                updated: at(2026, 2, 28, 8, 0),
                sources: vec![awkward_source()],
                snapshot: None,
            },
            Entry {
                id: "tag:tickerfeed,2026:item:c".into(),
                title: "Bare <i>title</i>".into(),
                url: None,
                summary_html: None,
                content_html: None,
                authors: vec![],
                author_emails: vec![],
                categories: vec![],
                enclosures: Vec::new(),
                published: None,
                updated: at(2026, 2, 27, 8, 0),
                sources: vec![],
                snapshot: None,
            },
            Entry {
                id: "tag:tickerfeed,2026:item:d".into(),
                title: "Summary only".into(),
                url: None,
                summary_html: Some("<p>Only a <b>summary</b></p>".into()),
                content_html: None,
                authors: vec![],
                author_emails: vec![],
                categories: vec!["misc".into()],
                enclosures: Vec::new(),
                published: Some(at(2026, 2, 26, 7, 0)),
                updated: at(2026, 2, 26, 8, 0),
                sources: vec![bbc_source()],
                snapshot: None,
            },
        ],
        market_strip: true,
        site_title: "tickerfeed".into(),
        site_views: Vec::new(),
        site_url: "https://tf.example.net/".into(),
        feed_urls: Vec::new(),
        board: None,
        board_notice: None,
        now: DateTime::UNIX_EPOCH,
        snippets: Default::default(),
        query: None,
        remote_images: false,
    }
}

pub(in crate::render) fn empty_feed() -> MergedFeed {
    MergedFeed {
        title: "Empty".into(),
        id: "tag:tickerfeed,2026:feed".into(),
        self_url: None,
        first_url: None,
        next_url: None,
        hub_url: None,
        home_url: None,
        item_pages: None,
        description: String::new(),
        updated: DateTime::UNIX_EPOCH,
        entries: vec![],
        market_strip: true,
        site_title: "tickerfeed".into(),
        site_views: Vec::new(),
        site_url: "https://tf.example.net/".into(),
        feed_urls: Vec::new(),
        board: None,
        board_notice: None,
        now: DateTime::UNIX_EPOCH,
        snippets: Default::default(),
        query: None,
        remote_images: false,
    }
}

fn hms(h: u32, mi: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 7, 24, h, mi, s).unwrap()
}

fn dec(s: &str) -> rust_decimal::Decimal {
    s.parse().unwrap()
}

/// A board of three, in strip order:
/// - BP: mentioned, every value set;
/// - RELX: falling, stale, no name, from another provider;
/// - NGG: unchanged, with only the required values.
pub(in crate::render) fn snapshot() -> Snapshot {
    Snapshot {
        label: "NYSE - LSE".into(),
        taken_at: hms(15, 52, 10),
        quotes: vec![
            SnapshotQuote {
                symbol: "BP".into(),
                name: Some("BP plc".into()),
                provider_symbol: "BP.L".into(),
                exchange: None,
                provider: "yahoo".into(),
                price: dec("29.72"),
                change: Some(dec("0.20")),
                change_percent: Some(dec("0.67")),
                currency: Some("USD".into()),
                previous_close: Some(dec("29.52")),
                as_of: Some(hms(15, 52, 2)),
                fetched_at: hms(15, 52, 5),
                session: "regular".into(),
                stale: false,
                mentioned: true,
            },
            SnapshotQuote {
                symbol: "RELX".into(),
                name: None,
                provider_symbol: "RELX".into(),
                exchange: None,
                provider: "finnhub".into(),
                price: dec("46.75"),
                change: Some(dec("-0.52")),
                change_percent: Some(dec("-1.10")),
                currency: Some("USD".into()),
                previous_close: Some(dec("47.27")),
                as_of: Some(hms(15, 20, 0)),
                fetched_at: hms(15, 51, 0),
                session: "regular".into(),
                stale: true,
                mentioned: false,
            },
            SnapshotQuote {
                symbol: "NGG".into(),
                name: None,
                provider_symbol: "NGG".into(),
                exchange: None,
                provider: "yahoo".into(),
                price: dec("63.11"),
                change: None,
                change_percent: Some(dec("0")),
                currency: None,
                previous_close: None,
                as_of: None,
                fetched_at: hms(15, 52, 5),
                session: "regular".into(),
                stale: false,
                mentioned: false,
            },
        ],
    }
}

/// A snapshot whose every text value needs escaping, in XML and HTML.
pub(in crate::render) fn awkward_snapshot() -> Snapshot {
    Snapshot {
        label: "A&B <x>".into(),
        taken_at: hms(15, 52, 10),
        quotes: vec![SnapshotQuote {
            symbol: r#"AT&T "<x>""#.into(),
            name: Some(r#"Q&A <b>'s""#.into()),
            provider_symbol: "T&<'>".into(),
            exchange: None,
            provider: "my<feed>".into(),
            price: dec("1.5"),
            change: None,
            change_percent: None,
            currency: Some("E&P".into()),
            previous_close: None,
            as_of: None,
            fetched_at: hms(15, 52, 5),
            session: "unknown".into(),
            stale: false,
            mentioned: true,
        }],
    }
}

/// Entries with snapshots, one for each place the strip can land:
/// - `m1`: content and summary: the strip follows the content;
/// - `m2`: a link only, awkward values: the strip is the content;
/// - `m3`: no link, nothing but a title: the title becomes HTML;
/// - `m4`: a link and a summary: the strip follows the summary;
/// - `m5`: no snapshot.
pub(in crate::render) fn market_feed() -> MergedFeed {
    let entry = |id: &str, snapshot: Option<Snapshot>| Entry {
        id: format!("tag:tickerfeed,2026:item:{id}"),
        title: format!("Story <{id}>"),
        url: Some(format!("https://example.org/{id}")),
        summary_html: None,
        content_html: None,
        authors: vec![],
        author_emails: vec![],
        categories: vec![],
        enclosures: Vec::new(),
        published: None,
        updated: hms(16, 0, 0),
        sources: vec![],
        snapshot,
    };
    MergedFeed {
        entries: vec![
            Entry {
                summary_html: Some("<p>Short</p>".into()),
                content_html: Some("<p>Long</p>".into()),
                categories: vec!["markets".into(), "BP".into()],
                ..entry("m1", Some(snapshot()))
            },
            entry("m2", Some(awkward_snapshot())),
            Entry {
                url: None,
                ..entry("m3", Some(snapshot()))
            },
            Entry {
                summary_html: Some("<p>Short</p>".into()),
                ..entry("m4", Some(snapshot()))
            },
            Entry {
                content_html: Some("<p>Plain</p>".into()),
                ..entry("m5", None)
            },
        ],
        updated: hms(16, 0, 0),
        ..empty_feed()
    }
}
