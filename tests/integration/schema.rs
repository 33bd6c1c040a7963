//! docs/schema.md against the real schema: every ```sql block on that page
//! runs on an archive built by the real pipeline, every view it names
//! exists, and every table and view in the archive (with each of its
//! columns) is documented there. A migration that the page does not follow
//! fails here. The README's queries ("Query the archive") run on the same
//! archive.

use std::collections::BTreeSet;
use std::io::Write;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use rusqlite::types::Value;
use rusqlite::{Connection, OpenFlags};
use tickerfeed::app::Opened;
use tickerfeed::clock::{Clock, FixedClock, SharedClock};
use tickerfeed::pipeline::Refreshed;

use crate::util::*;

const DOC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/schema.md");
const README: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
const AAPL: &str = include_str!("../fixtures/quotes/yahoo/chart_AAPL_range5d.json");
const VOD: &str = include_str!("../fixtures/quotes/yahoo/chart_VOD.L_pence.json");

/// Items docs/schema.md names by uid. Uids are minted from the feed name and
/// the item's key, so rebuilding the archive below gives the same ones.
const UID_VODAFONE: &str = "2ac7d4899436fd0bd32687394f28b925";
const UID_RATES_BLOG: &str = "052ae2c525b14a3d0e4e1bbe3eee5e23";

fn doc() -> String {
    std::fs::read_to_string(DOC).expect("docs/schema.md is readable")
}

/// One ```sql block of the page and the heading it sits under.
struct Block {
    heading: String,
    sql: String,
}

fn sql_blocks(doc: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut heading = String::new();
    // Inside a fence: whether it is ```sql, and its text so far.
    let mut fence: Option<(bool, String)> = None;
    for line in doc.lines() {
        let trimmed = line.trim();
        match fence.as_mut() {
            Some((is_sql, sql)) if trimmed.starts_with("```") => {
                if *is_sql {
                    blocks.push(Block {
                        heading: heading.clone(),
                        sql: std::mem::take(sql),
                    });
                }
                fence = None;
            }
            Some((is_sql, sql)) => {
                if *is_sql {
                    sql.push_str(line);
                    sql.push('\n');
                }
            }
            None => {
                if let Some(info) = trimmed.strip_prefix("```") {
                    fence = Some((info.trim() == "sql", String::new()));
                } else if line.starts_with('#') {
                    heading = line.trim_start_matches('#').trim().to_string();
                }
            }
        }
    }
    assert!(fence.is_none(), "a code block is not closed");
    blocks
}

/// The result of one query: column names and every row.
#[derive(Debug)]
struct Rows {
    columns: Vec<String>,
    rows: Vec<Vec<Value>>,
}

impl Rows {
    fn col(&self, name: &str) -> usize {
        self.columns
            .iter()
            .position(|c| c == name)
            .unwrap_or_else(|| panic!("no column {name} in {:?}", self.columns))
    }

    fn text(&self, row: usize, name: &str) -> String {
        match &self.rows[row][self.col(name)] {
            Value::Text(s) => s.clone(),
            Value::Integer(i) => i.to_string(),
            Value::Real(f) => f.to_string(),
            Value::Null => String::new(),
            Value::Blob(_) => "<blob>".into(),
        }
    }

    fn real(&self, row: usize, name: &str) -> Option<f64> {
        match &self.rows[row][self.col(name)] {
            Value::Real(f) => Some(*f),
            Value::Integer(i) => Some(*i as f64),
            _ => None,
        }
    }

    fn int(&self, row: usize, name: &str) -> i64 {
        match &self.rows[row][self.col(name)] {
            Value::Integer(i) => *i,
            other => panic!("{name} is not an integer: {other:?}"),
        }
    }

    /// Rows whose `name` column is `value`.
    fn matching(&self, name: &str, value: &str) -> Vec<usize> {
        (0..self.rows.len())
            .filter(|&r| self.text(r, name) == value)
            .collect()
    }
}

/// Runs one block (exactly one statement; comments around it are fine).
fn run(db: &Connection, block: &Block) -> Rows {
    let fail = |e: rusqlite::Error| -> ! {
        panic!(
            "query under \"{}\" fails: {e}\n{}",
            block.heading, block.sql
        )
    };
    let mut stmt = db.prepare(&block.sql).unwrap_or_else(|e| fail(e));
    let columns: Vec<String> = stmt.column_names().map(str::to_string).collect();
    let n = columns.len();
    let rows = stmt
        .query_map([], |r| (0..n).map(|i| r.get::<_, Value>(i)).collect())
        .unwrap_or_else(|e| fail(e))
        .collect::<Result<Vec<Vec<Value>>, _>>()
        .unwrap_or_else(|e| fail(e));
    Rows { columns, rows }
}

/// The archive as docs/schema.md tells analysts to open it.
fn open_read_only(path: &std::path::Path) -> Connection {
    Connection::open_with_flags(
        format!("file:{}?mode=ro", path.display()),
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI,
    )
    .unwrap()
}

/// Names that look like the archive's views (`v_` words) in `text`.
fn view_names(text: &str) -> BTreeSet<String> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| w.len() > 2 && w.starts_with("v_"))
        .map(str::to_string)
        .collect()
}

/// The part of the page under `### \`name\``, up to the next heading of
/// that level or above.
fn section<'a>(doc: &'a str, name: &str) -> Option<&'a str> {
    let head = format!("\n### `{name}`");
    let start = doc.find(&head)? + head.len();
    let rest = &doc[start..];
    let end = ["\n### ", "\n## ", "\n# "]
        .iter()
        .filter_map(|h| rest.find(h))
        .min()
        .unwrap_or(rest.len());
    Some(&rest[..end])
}

fn schema_objects(db: &Connection) -> Vec<(String, String)> {
    db.prepare(
        "SELECT type, name FROM sqlite_master
         WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'
           AND name NOT LIKE 'items\\_fts\\_%' ESCAPE '\\'
         ORDER BY type, name",
    )
    .unwrap()
    .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

#[tokio::test]
async fn the_schema_doc_covers_every_table_view_and_column() {
    let doc = doc();
    let dir = TestDir::new();
    tickerfeed::store::Store::open(&dir.db_path()).unwrap();
    let db = open_read_only(&dir.db_path());

    let objects = schema_objects(&db);
    assert!(objects.len() > 20, "{objects:?}");
    let mut missing = Vec::new();
    for (kind, name) in &objects {
        let Some(text) = section(&doc, name) else {
            missing.push(format!("{kind} {name}: no \"### `{name}`\" section"));
            continue;
        };
        let columns: Vec<String> = db
            .prepare("SELECT name FROM pragma_table_info(?1)")
            .unwrap()
            .query_map([name], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert!(!columns.is_empty(), "{name} has no columns");
        for column in columns {
            if !text.contains(&format!("`{column}`")) {
                missing.push(format!("{kind} {name}: column `{column}` not documented"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "docs/schema.md is behind the schema:\n{}",
        missing.join("\n")
    );

    // Every view the page names exists.
    let views: BTreeSet<String> = objects
        .iter()
        .filter(|(kind, _)| kind == "view")
        .map(|(_, name)| name.clone())
        .collect();
    let named = view_names(&doc);
    let unknown: Vec<&String> = named.difference(&views).collect();
    assert!(
        unknown.is_empty(),
        "docs/schema.md names views the archive does not have: {unknown:?}"
    );
    for stable in [
        "v_items",
        "v_item_sources",
        "v_feeds",
        "v_quotes",
        "v_latest_quotes",
        "v_snapshot_quotes",
        "v_item_mentions",
        "v_item_revisions",
    ] {
        assert!(views.contains(stable), "{stable} is missing");
    }

    // The version the page describes is the one the code writes.
    let (app_id, version): (i64, i64) = db
        .query_row(
            "SELECT a.application_id, v.user_version FROM pragma_application_id a, pragma_user_version v",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(app_id, 0x546b_4664);
    assert!(
        doc.contains(&format!("`user_version` is {version}")),
        "docs/schema.md does not give the current schema version ({version})"
    );
    // ... and says what each version added, the current one included.
    for v in 1..=version {
        assert!(
            doc.contains(&format!("\n| {v} | ")),
            "docs/schema.md's version table has no row for version {v}"
        );
    }

    // Every query also runs on a fresh, empty archive.
    let blocks = sql_blocks(&doc);
    assert!(blocks.len() >= 13, "only {} sql blocks", blocks.len());
    for block in &blocks {
        run(&db, block);
    }
}

/// Everything the page's cookbook looks at, built through the real pipeline.
struct Archive {
    dir: TestDir,
    _server: FeedServer,
}

struct Entry<'a> {
    guid: &'a str,
    title: &'a str,
    link: &'a str,
    published: DateTime<Utc>,
    html: &'a str,
    categories: &'a [&'a str],
}

fn rss_doc(title: &str, site: &str, entries: &[Entry<'_>]) -> String {
    let mut s = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<rss version=\"2.0\"><channel><title>{title}</title><link>{site}</link><description>{title}</description>\n"
    );
    for e in entries {
        s.push_str(&format!(
            "<item><guid>{}</guid><title>{}</title><link>{}</link><pubDate>{}</pubDate><description><![CDATA[{}]]></description>",
            e.guid,
            e.title,
            e.link,
            e.published.to_rfc2822(),
            e.html
        ));
        for c in e.categories {
            s.push_str(&format!("<category>{c}</category>"));
        }
        s.push_str("</item>\n");
    }
    s.push_str("</channel></rss>\n");
    s
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn json_reply(body: &str) -> Reply {
    Reply::feed(body).header("content-type", "application/json")
}

/// The wall clock as SQLite sees it: the page's queries compare with
/// `'now'`, so the archive is built around the real present.
fn sqlite_now() -> DateTime<Utc> {
    let s: String = Connection::open_in_memory()
        .unwrap()
        .query_row("SELECT strftime('%Y-%m-%dT%H:%M:%SZ', 'now')", [], |r| {
            r.get(0)
        })
        .unwrap();
    DateTime::parse_from_rfc3339(&s)
        .unwrap()
        .with_timezone(&Utc)
}

async fn poll_feed(opened: &Opened, name: &str) -> Refreshed {
    let feed = opened
        .feeds
        .iter()
        .find(|(f, _)| f.name == name)
        .cloned()
        .unwrap_or_else(|| panic!("no feed {name}"));
    let mut done = tickerfeed::scheduler::poll_once(&opened.pipeline, vec![feed], 1).await;
    done.pop().unwrap().1.unwrap()
}

async fn build_archive() -> Archive {
    let now = sqlite_now();
    let t_old = now - Duration::days(10);
    let t1 = now - Duration::hours(2);
    let t2 = now - Duration::hours(1);
    let min = Duration::minutes;

    let server = FeedServer::start().await;
    server.set("/v8/finance/chart/AAPL", json_reply(AAPL));
    server.set("/v8/finance/chart/VOD.L", json_reply(VOD));

    // Business news: a global guid per item; validators, so the second
    // poll is a 304.
    server.set(
        "/bbc-business.xml",
        Reply::feed(rss_doc(
            "BBC Business",
            "https://www.bbc.co.uk/news/business",
            &[
                Entry {
                    guid: "https://www.bbc.co.uk/news/business-1",
                    title: "Vodafone cuts prices as rates bite",
                    link: "https://www.bbc.co.uk/news/business-1",
                    published: t1 - min(50),
                    html: "<p>Vodafone will cut its mobile prices from January.</p>",
                    categories: &["Business", "Telecoms"],
                },
                Entry {
                    guid: "https://www.bbc.co.uk/news/business-2",
                    title: "Apple ($AAPL) beats estimates",
                    link: "https://www.bbc.co.uk/news/business-2",
                    published: t1 - min(40),
                    html: "<p>Record iPhone sales lifted quarterly revenue.</p>",
                    categories: &["Business", "Technology"],
                },
                Entry {
                    guid: "https://www.bbc.co.uk/news/business-3",
                    title: "Central bank holds interest rates",
                    link: "https://apnews.com/article/central-bank-rates",
                    published: t1 - min(30),
                    html: "<p>Policy makers voted to keep <b>rates</b> on hold.</p>",
                    categories: &["Business", "Economy"],
                },
            ],
        ))
        .with_etag("\"bb-1\""),
    );
    // World news carries one business story under the same guid.
    server.set(
        "/bbc-world.xml",
        Reply::feed(rss_doc(
            "BBC World",
            "https://www.bbc.co.uk/news/world",
            &[
                Entry {
                    guid: "https://www.bbc.co.uk/news/business-1",
                    title: "Vodafone cuts prices as rates bite",
                    link: "https://www.bbc.co.uk/news/business-1",
                    published: t1 - min(50),
                    html: "<p>Vodafone will cut its mobile prices from January.</p>",
                    categories: &["World"],
                },
                Entry {
                    guid: "https://www.bbc.co.uk/news/world-9",
                    title: "Storm closes ports",
                    link: "https://www.bbc.co.uk/news/world-9",
                    published: t1 - min(20),
                    html: "<p>Shipping halted along the coast.</p>",
                    categories: &["World"],
                },
            ],
        )),
    );
    // The Guardian, gzipped on the wire: a wire story recognised by its
    // link (its guid is a bare number, meaningful only inside this feed).
    let guardian = rss_doc(
        "Guardian Business",
        "https://www.theguardian.com/uk/business",
        &[
            Entry {
                guid: "123456",
                title: "Central bank keeps rates unchanged",
                link: "https://apnews.com/article/central-bank-rates?utm_source=rss",
                published: t1 - min(25),
                html: "<p>The bank left borrowing costs where they were.</p>",
                categories: &["Business", "Economy"],
            },
            Entry {
                guid: "https://www.theguardian.com/business/live/markets-wrap",
                title: "Markets wrap: FTSE edges higher",
                link: "https://www.theguardian.com/business/live/markets-wrap",
                published: t1 - min(15),
                html: "<p>London shares rose in thin trading.</p>",
                categories: &["Business", "Markets"],
            },
        ],
    );
    server.set(
        "/guardian-business.xml",
        Reply {
            body: gzip(guardian.as_bytes()),
            ..Reply::feed("").header("content-encoding", "gzip")
        },
    );
    // A blog that rewrites a post (revisions) and renames a guid (alias).
    let blog = |rates_html: &str, chips_guid: &str, extra: bool| {
        let mut entries = vec![
            Entry {
                guid: "alpha-1",
                title: "Why rates matter",
                link: "https://www.ft.com/content/alpha-1",
                published: t1 - min(70),
                html: rates_html,
                categories: &["Markets"],
            },
            Entry {
                guid: chips_guid,
                title: "Chip stocks rally",
                link: "https://www.ft.com/content/alpha-2",
                published: t1 - min(60),
                html: "<p>Semiconductors led the market.</p>",
                categories: &["Markets"],
            },
        ];
        if extra {
            entries.push(Entry {
                guid: "alpha-3",
                title: "Vodafone and the price war",
                link: "https://www.ft.com/content/alpha-3",
                published: t2 - min(10),
                html: "<p>Who blinks first?</p>",
                categories: &["Telecoms"],
            });
        }
        Reply::feed(rss_doc(
            "FT Alphaville",
            "https://www.ft.com/alphaville",
            &entries,
        ))
    };
    server.set(
        "/alphaville.xml",
        blog("<p>First draft on rates.</p>", "alpha-2", false),
    );
    server.set("/broken.xml", Reply::status(500));
    server.set("/gone.xml", Reply::status(410));
    server.set("/busy.xml", Reply::status(429).header("retry-after", "600"));
    // A healthy feed that asks for ten hours between polls (`<ttl>` is in
    // minutes): held back by its own hint, not by a failure.
    server.set(
        "/slow.xml",
        Reply::feed(
            rss_doc("Slow", "https://slow.test/", &[])
                .replace("<channel>", "<channel><ttl>600</ttl>"),
        ),
    );
    // A failing feed the operator then removes from the config.
    server.set("/dropped.xml", Reply::status(500));
    let old_wire = |fresh: bool| {
        let mut entries = vec![
            Entry {
                guid: "https://wire.test/old-1",
                title: "Old news one",
                link: "https://wire.test/old-1",
                published: t_old - min(30),
                html: "<p>Long ago.</p>",
                categories: &[],
            },
            Entry {
                guid: "https://wire.test/old-2",
                title: "Old news two",
                link: "https://wire.test/old-2",
                published: t_old - min(20),
                html: "<p>Also long ago.</p>",
                categories: &[],
            },
        ];
        if fresh {
            entries.push(Entry {
                guid: "https://wire.test/fresh-1",
                title: "Fresh wire story",
                link: "https://wire.test/fresh-1",
                published: t2 - min(5),
                html: "<p>Just in.</p>",
                categories: &[],
            });
        }
        Reply::feed(rss_doc("Old wire", "https://wire.test/", &entries))
    };
    server.set("/old-wire.xml", old_wire(false));

    let dir = TestDir::new();
    let mut feeds = String::new();
    for (name, path, extra) in [
        ("bbc-business", "/bbc-business.xml", "tags = [\"business\"]"),
        (
            "guardian-business",
            "/guardian-business.xml",
            "tags = [\"business\"]",
        ),
        ("bbc-world", "/bbc-world.xml", "tags = [\"world\"]"),
        ("ft-alphaville", "/alphaville.xml", ""),
        ("broken", "/broken.xml", ""),
        ("gone", "/gone.xml", ""),
        ("busy", "/busy.xml", ""),
        ("old-wire", "/old-wire.xml", ""),
        ("slow", "/slow.xml", ""),
        ("dropped", "/dropped.xml", ""),
    ] {
        feeds.push_str(&feed_block(name, &server.url(path), extra));
    }
    feeds.push_str(&format!(
        r#"
[market]
label = "NASDAQ - LSE"
provider = "yahoo"
schedule = "*/5 * * * *"
base_url = "{}"
symbols = [
  {{ symbol = "AAPL", name = "Apple", names = ["Apple Inc."] }},
  {{ symbol = "VOD", provider_symbol = "VOD.L", names = ["Vodafone"] }},
]
"#,
        server.url("")
    ));
    let config = dir.write_config(&feeds);
    let clock = FixedClock::new(t_old);
    let shared: SharedClock = Arc::new(clock.clone());
    let opened = tickerfeed::app::open(&config, shared).await.unwrap();
    let board = opened.pipeline.board.get().unwrap();

    // Ten days ago: a feed whose items retention will delete.
    assert_eq!(poll_feed(&opened, "old-wire").await.summary.new, 2);

    // Two hours ago: the board, then every feed, one at a time so which
    // feed carried an article first is fixed.
    clock.set(t1);
    let report = board.refresh(&opened.store, clock.now()).await.unwrap();
    assert_eq!(report.ok, 2, "{report:?}");
    for (name, new) in [
        ("bbc-business", 3),
        ("bbc-world", 1),
        ("guardian-business", 1),
        ("ft-alphaville", 2),
    ] {
        let r = poll_feed(&opened, name).await;
        assert_eq!(
            (r.outcome.as_str(), r.summary.new),
            ("ok", new),
            "{name}: {r:?}"
        );
    }
    assert_eq!(poll_feed(&opened, "broken").await.outcome.as_str(), "error");
    assert_eq!(poll_feed(&opened, "gone").await.outcome.as_str(), "gone");

    // An hour ago: new prices, a rewritten post, a renamed guid, a new
    // post, a 304, another failure, retention, and a feed that repeats
    // what retention deleted.
    clock.set(t2);
    server.set(
        "/v8/finance/chart/AAPL",
        json_reply(&AAPL.replace(
            "\"regularMarketPrice\":328.879",
            "\"regularMarketPrice\":331.5",
        )),
    );
    server.set(
        "/v8/finance/chart/VOD.L",
        json_reply(&VOD.replace(
            "\"regularMarketPrice\":115.75",
            "\"regularMarketPrice\":120.5",
        )),
    );
    let report = board.refresh(&opened.store, clock.now()).await.unwrap();
    assert_eq!(report.ok, 2, "{report:?}");
    // A price reaction's backfill: a past VOD price (three days old, above
    // every board price) fetched now, so it is in v_quotes under today.
    let mut past = tickerfeed::model::Quote::new(
        tickerfeed::model::ProviderKind::Yahoo,
        "VOD.L",
        "1.5".parse().unwrap(),
        clock.now(),
    );
    past.symbol = "VOD".into();
    past.currency = Some("GBP".into());
    past.as_of = Some(clock.now() - Duration::days(3));
    opened.store.record_backfill(vec![past]).await.unwrap();
    server.set(
        "/alphaville.xml",
        blog("<p>Second draft on rates.</p>", "alpha-2-v2", true),
    );
    let r = poll_feed(&opened, "ft-alphaville").await;
    assert_eq!(
        (r.summary.new, r.summary.updated, r.summary.merged),
        (1, 1, 1),
        "{r:?}"
    );
    assert_eq!(
        poll_feed(&opened, "bbc-business").await.outcome.as_str(),
        "not_modified"
    );
    assert_eq!(poll_feed(&opened, "broken").await.outcome.as_str(), "error");
    assert_eq!(poll_feed(&opened, "slow").await.outcome.as_str(), "ok");
    assert_eq!(
        poll_feed(&opened, "dropped").await.outcome.as_str(),
        "error"
    );
    let kept: Vec<_> = config
        .feeds
        .iter()
        .filter(|f| f.name != "dropped")
        .cloned()
        .collect();
    opened.store.sync_feeds(&kept, clock.now()).await.unwrap();
    let pruned = opened
        .store
        .prune(Some(Duration::days(7)), None, clock.now())
        .await
        .unwrap();
    assert_eq!(pruned, 2);
    server.set("/old-wire.xml", old_wire(true));
    assert_eq!(poll_feed(&opened, "old-wire").await.summary.new, 1);

    // Ten minutes later: the post is rewritten again, and a host asks us
    // to wait.
    clock.advance(min(10));
    server.set(
        "/alphaville.xml",
        blog("<p>Final word on rates.</p>", "alpha-2-v2", true),
    );
    assert_eq!(poll_feed(&opened, "ft-alphaville").await.summary.updated, 1);
    assert_eq!(
        poll_feed(&opened, "busy").await.outcome.as_str(),
        "throttled"
    );

    Archive {
        dir,
        _server: server,
    }
}

#[tokio::test]
async fn every_query_in_the_schema_doc_runs_on_a_real_archive() {
    let archive = build_archive().await;
    // A healthy feed deferred by its site's pause, as a poll while another
    // feed's host asked us to wait leaves it: held back (`not_before_at`),
    // by no hint of its own.
    rusqlite::Connection::open(archive.dir.db_path())
        .unwrap()
        .execute(
            "UPDATE feeds SET not_before_at = '2999-01-01T00:00:00Z'
             WHERE id = (SELECT id FROM feeds
                         WHERE in_config = 1 AND last_result = 'ok' AND ttl_secs IS NULL
                           AND skip_hours IS NULL AND skip_days IS NULL
                         ORDER BY id LIMIT 1)",
            [],
        )
        .map(|n| assert_eq!(n, 1))
        .unwrap();
    let db = open_read_only(&archive.dir.db_path());
    let doc = doc();
    let blocks = sql_blocks(&doc);
    let results: Vec<(String, Rows)> = blocks
        .iter()
        .map(|b| (b.heading.clone(), run(&db, b)))
        .collect();
    let under = |heading: &str| -> &Rows {
        &results
            .iter()
            .find(|(h, _)| h == heading)
            .unwrap_or_else(|| panic!("docs/schema.md has no sql block under \"{heading}\""))
            .1
    };

    // The uids the page uses are the ones the pipeline minted.
    for (uid, title) in [
        (UID_VODAFONE, "Vodafone cuts prices as rates bite"),
        (UID_RATES_BLOG, "Why rates matter"),
    ] {
        let found: String = db
            .query_row("SELECT title FROM items WHERE uid = ?1", [uid], |r| {
                r.get(0)
            })
            .unwrap_or_else(|e| panic!("no item {uid}: {e}"));
        assert_eq!(found, title);
        assert!(doc.contains(uid), "docs/schema.md no longer uses {uid}");
    }

    // Latest items per tag: the tagged feeds' items, under their tag.
    let tags = under("Latest items per tag");
    let business: BTreeSet<String> = tags
        .matching("tag", "business")
        .into_iter()
        .map(|r| tags.text(r, "title"))
        .collect();
    for title in [
        "Vodafone cuts prices as rates bite",
        "Apple ($AAPL) beats estimates",
        "Central bank holds interest rates",
        "Markets wrap: FTSE edges higher",
    ] {
        assert!(business.contains(title), "{title} not in {business:?}");
    }
    let world = tags.matching("tag", "world");
    assert_eq!(world.len(), 2, "{tags:?}");
    assert!(!business.contains("Storm closes ports"));

    // Items per feed per day.
    let per_day = under("Items per feed per day");
    let bbc = per_day.matching("feed", "bbc-business");
    assert_eq!(per_day.int(bbc[0], "items"), 3);

    // What a feed published this week (Monday's first hours may see fewer).
    let week = under("What a feed published this week");
    assert!(week.rows.len() <= 3, "{week:?}");

    // Articles carried by several feeds, and how they were matched.
    let shared = under("Articles carried by several feeds, and how they were matched");
    let how: BTreeSet<String> = (0..shared.rows.len())
        .map(|r| shared.text(r, "matched_by"))
        .collect();
    assert_eq!(
        how,
        ["guid", "new", "url"].map(String::from).into(),
        "{shared:?}"
    );
    let by_url = shared.matching("matched_by", "url");
    assert_eq!(shared.text(by_url[0], "feed"), "guardian-business");
    assert!(shared.text(by_url[0], "reason").contains("canonical link"));

    // Items that mention a symbol: the price when each came in, and now.
    let vod = under("Items mentioning a symbol, priced then and now");
    assert_eq!(vod.rows.len(), 2, "{vod:?}");
    let early = vod.matching("title", "Vodafone cuts prices as rates bite")[0];
    assert_eq!(vod.real(early, "price_at_ingest"), Some(1.1575));
    assert_eq!(vod.real(early, "latest_price"), Some(1.205));
    assert!(vod.real(early, "change_since_ingest_percent").unwrap() > 4.0);
    let late = vod.matching("title", "Vodafone and the price war")[0];
    assert_eq!(vod.real(late, "price_at_ingest"), Some(1.205));
    assert_eq!(vod.text(late, "currency"), "GBP");

    // The board stamped on one item: the mentioned quote first.
    let board = under("The board stamped on an item");
    assert_eq!(board.rows.len(), 2, "{board:?}");
    assert_eq!(board.text(0, "symbol"), "VOD");
    assert_eq!(board.int(0, "mentioned"), 1);
    assert_eq!(board.text(0, "price_text"), "1.1575");
    assert_eq!(board.text(1, "symbol"), "AAPL");

    // Fetch errors in the last 24 hours.
    let errors = under("Fetch errors in the last 24 hours");
    assert_eq!(errors.matching("feed", "broken").len(), 2, "{errors:?}");
    let gone = errors.matching("feed", "gone");
    assert_eq!(errors.int(gone[0], "status"), 410);
    assert_eq!(errors.text(gone[0], "result"), "gone");
    let busy = errors.matching("feed", "busy");
    assert_eq!(errors.text(busy[0], "error_class"), "throttled");

    // Politeness audit: one host here (a row per day), with a 304 and
    // gzip on the wire.
    let audit = under("Politeness audit: requests, 304s and bytes per host per day");
    let total = |name: &str| {
        (0..audit.rows.len())
            .map(|r| audit.int(r, name))
            .sum::<i64>()
    };
    assert_eq!(total("requests"), 15, "{audit:?}");
    assert_eq!(total("not_modified"), 1, "{audit:?}");
    assert!(total("wire_bytes") < total("decoded_bytes"), "{audit:?}");

    // Feeds backing off or retired.
    let trouble = under("Feeds backing off or retired");
    let names: BTreeSet<String> = (0..trouble.rows.len())
        .map(|r| trouble.text(r, "name"))
        .collect();
    assert_eq!(
        names,
        ["broken", "gone"].map(String::from).into(),
        "only failing feeds still in the config: not a removed one, one held \
         by its own <ttl>, a paused host's or a healthy one"
    );
    // Feeds slowed by their own hints: the one with a <ttl>, not the one
    // its site's pause deferred.
    let hinted = under("Feeds slowed by their own hints");
    assert_eq!(hinted.rows.len(), 1, "{hinted:?}");
    assert_eq!(hinted.text(0, "name"), "slow");
    assert_eq!(hinted.int(0, "ttl_secs"), 36_000);

    // Hosts that asked us to wait.
    assert_eq!(under("Hosts that asked us to wait").rows.len(), 1);

    // Full-text search, ranked: titles first, terms marked in the snippet.
    let hits = under("Full-text search, ranked");
    assert!(hits.rows.len() >= 3, "{hits:?}");
    assert!(hits.text(0, "title").to_lowercase().contains("rate"));
    assert!(hits.text(0, "snippet").contains('['), "{hits:?}");

    // Items rewritten after publication, and every version of one.
    let changed = under("Items that changed after they were archived");
    assert_eq!(changed.text(0, "uid"), UID_RATES_BLOG);
    assert_eq!(changed.int(0, "revision"), 2);
    let versions = under("Every version of one item");
    let summaries: Vec<String> = (0..versions.rows.len())
        .map(|r| versions.text(r, "summary_html"))
        .collect();
    assert_eq!(
        summaries,
        [
            "<p>First draft on rates.</p>",
            "<p>Second draft on rates.</p>",
            "<p>Final word on rates.</p>"
        ],
        "{versions:?}"
    );

    // Time from publication to first seen, per feed.
    let latency = under("Average time from publication to first seen, per feed");
    let ft = latency.matching("feed", "ft-alphaville");
    assert_eq!(latency.int(ft[0], "items"), 1, "{latency:?}");

    // Deleted items stay deleted.
    let deleted = under("Items deleted by retention");
    assert_eq!(deleted.rows.len(), 2, "{deleted:?}");

    // Most common categories.
    let cats = under("Most common categories in the last 7 days");
    assert_eq!(cats.text(0, "category"), "Business", "{cats:?}");

    // Quote history.
    // The board's own prices only: not the backfilled past price.
    let history = under("Daily price range of a symbol");
    assert_eq!(history.real(0, "high"), Some(1.205), "{history:?}");

    // Database size per table.
    let size = under("Database size per table");
    let objects: BTreeSet<String> = (0..size.rows.len())
        .map(|r| size.text(r, "object"))
        .collect();
    assert!(
        objects.contains("items") && objects.contains("items_fts"),
        "{objects:?}"
    );

    // The README's queries, one statement at a time, each under the
    // comment above it.
    let readme = std::fs::read_to_string(README).expect("README.md is readable");
    let mut readme_results = Vec::new();
    for block in sql_blocks(&readme) {
        for sql in block.sql.split(";\n").filter(|s| !s.trim().is_empty()) {
            let comment = sql
                .lines()
                .find(|l| l.starts_with("--"))
                .unwrap_or(&block.heading);
            let statement = Block {
                heading: format!("README.md: {comment}"),
                sql: sql.to_string(),
            };
            readme_results.push((statement.heading.clone(), run(&db, &statement)));
        }
    }
    assert!(readme_results.len() >= 8, "{readme_results:?}");
    let shared = readme_results
        .iter()
        .find(|(h, _)| h.contains("articles carried by more than one feed"))
        .map(|(_, rows)| rows)
        .expect("README.md: the query of articles several feeds carried");
    let vodafone = shared.matching("title", "Vodafone cuts prices as rates bite");
    assert_eq!(vodafone.len(), 1, "{shared:?}");
    // How each feed is doing: the configured ones, not one removed.
    let doing = readme_results
        .iter()
        .find(|(h, _)| h.contains("how each feed is doing"))
        .map(|(_, rows)| rows)
        .expect("README.md: the query of how each feed is doing");
    assert!(doing.matching("name", "dropped").is_empty(), "{doing:?}");
    assert_eq!(doing.matching("name", "broken").len(), 1, "{doing:?}");
}
