//! Price reactions end to end (issue 19): items archived by the real
//! pipeline, the board's quotes replayed from real Yahoo payloads on a
//! loopback server, time moved by a `FixedClock`, and the reaction task's
//! passes run by hand; what `v_item_reactions` then says, across a market
//! close, across a weekend, and with gaps backfilled from history within
//! the board's budget.

use tickerfeed::app::Opened;
use tickerfeed::clock::{Clock, FixedClock};

use crate::util::*;

const AAPL: &str = include_str!("../fixtures/quotes/yahoo/chart_AAPL_range5d.json");
const AAPL_1M: &str = include_str!("../fixtures/quotes/yahoo/chart_AAPL_1m_derived.json");
const VOD: &str = include_str!("../fixtures/quotes/yahoo/chart_VOD.L_pence.json");

fn json_reply(body: &str) -> Reply {
    Reply::feed(body).header("content-type", "application/json")
}

/// The real AAPL chart with its price and as-of time replaced, as the
/// board would see it at another moment.
fn aapl_at(as_of: &str, price: &str) -> Reply {
    let t = chrono::DateTime::parse_from_rfc3339(as_of)
        .unwrap()
        .timestamp();
    json_reply(
        &AAPL
            .replace(
                "\"regularMarketTime\":1784903522",
                &format!("\"regularMarketTime\":{t}"),
            )
            .replace(
                "\"regularMarketPrice\":328.879",
                &format!("\"regularMarketPrice\":{price}"),
            ),
    )
}

struct Setup {
    server: FeedServer,
    dir: TestDir,
    clock: FixedClock,
    opened: Opened,
}

/// A daemon's parts with a Yahoo board of AAPL and VOD, and one feed whose
/// single item mentions AAPL, archived at `arrives`.
async fn setup(arrives: &str) -> Setup {
    let server = FeedServer::start().await;
    server.set("/v8/finance/chart/VOD.L", json_reply(VOD));
    server.set(
        "/news.xml",
        Reply::feed(rss(
            "Markets",
            &[("n1", "Apple ($AAPL) shares move on the news", "")],
        )),
    );
    let dir = TestDir::new();
    let config = dir.write_config(&format!(
        r#"{}
[market]
label = "NASDAQ - LSE"
provider = "yahoo"
schedule = "*/5 * * * *"
base_url = "{}"
symbols = [
  {{ symbol = "AAPL", names = ["Apple Inc."], exchange = "XNAS" }},
  {{ symbol = "VOD", provider_symbol = "VOD.L" }},
]
"#,
        feed_block("news", &server.url("/news.xml"), ""),
        server.url("")
    ));
    let (clock, shared) = fixed_clock(arrives);
    let opened = tickerfeed::app::open(&config, shared).await.unwrap();
    tickerfeed::scheduler::poll_once(&opened.pipeline, opened.feeds.clone(), 2).await;
    Setup {
        server,
        dir,
        clock,
        opened,
    }
}

impl Setup {
    /// Moves the clock to `at` and refreshes the board, which then sees
    /// AAPL at `price` as of `as_of`.
    async fn board_at(&self, at: &str, as_of: &str, price: &str) {
        self.clock.set(time(at));
        self.server
            .set("/v8/finance/chart/AAPL", aapl_at(as_of, price));
        let board = self.opened.pipeline.board.get().unwrap();
        board
            .refresh(&self.opened.store, self.clock.now())
            .await
            .unwrap();
    }

    /// One pass of the reaction task at `at`.
    async fn react_at(&self, at: &str) -> tickerfeed::quotes::reactions::ReactionReport {
        self.clock.set(time(at));
        let board = self.opened.pipeline.board.get().unwrap();
        self.opened
            .reactions
            .as_ref()
            .unwrap()
            .run_once(&self.opened.store, &board, self.clock.now())
            .await
            .unwrap()
    }

    fn history_requests(&self) -> Vec<String> {
        self.server
            .seen("/v8/finance/chart/AAPL")
            .into_iter()
            .map(|s| s.uri)
            .filter(|u| u.contains("period1="))
            .collect()
    }

    /// The AAPL row of `v_item_reactions`: (column, value as text) pairs.
    fn reaction(&self) -> Vec<(String, Option<String>)> {
        let db = self.dir.db();
        let mut stmt = db
            .prepare("SELECT * FROM v_item_reactions WHERE symbol = 'AAPL'")
            .unwrap();
        let names: Vec<String> = stmt.column_names().map(|s| s.to_string()).collect();
        stmt.query_row([], |r| {
            Ok(names
                .iter()
                .enumerate()
                .map(|(i, n)| {
                    let v: rusqlite::types::Value = r.get(i).unwrap();
                    let text = match v {
                        rusqlite::types::Value::Null => None,
                        rusqlite::types::Value::Integer(i) => Some(i.to_string()),
                        rusqlite::types::Value::Real(f) => Some(f.to_string()),
                        rusqlite::types::Value::Text(t) => Some(t),
                        rusqlite::types::Value::Blob(_) => Some("<blob>".into()),
                    };
                    (n.clone(), text)
                })
                .collect())
        })
        .unwrap()
    }

    fn get(&self, column: &str) -> Option<String> {
        self.reaction()
            .into_iter()
            .find(|(n, _)| n == column)
            .unwrap_or_else(|| panic!("no column {column}"))
            .1
    }
}

fn time(s: &str) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(s)
        .unwrap()
        .with_timezone(&chrono::Utc)
}

#[tokio::test]
async fn a_story_before_the_close_is_priced_into_the_next_session_and_only_the_gap_is_backfilled() {
    // Wednesday 2026-07-22, 15:30 New York time: half an hour to the close.
    let s = setup("2026-07-22T19:30:00Z").await;
    s.board_at("2026-07-22T19:30:05Z", "2026-07-22T19:30:02Z", "325")
        .await;
    let first = s.react_at("2026-07-22T19:31:00Z").await;
    assert_eq!(first.planned, 1);
    // Planned, nothing read yet: the figures are NULL, five to come.
    assert_eq!(s.get("exchange").as_deref(), Some("XNAS"));
    assert_eq!(
        s.get("measured_from").as_deref(),
        Some("2026-07-22T19:30:00Z")
    );
    assert_eq!(s.get("price_then"), None);
    assert_eq!(s.get("pending").as_deref(), Some("5"));
    // +1 h runs over the close into Thursday morning.
    assert_eq!(s.get("at_1h").as_deref(), Some("2026-07-23T14:00:00Z"));
    assert_eq!(s.get("at_1d").as_deref(), Some("2026-07-23T19:30:00Z"));
    assert_eq!(s.get("close_at").as_deref(), Some("2026-07-22T20:00:00Z"));

    // The board goes on every few minutes, through the close; the night's
    // refreshes repeat the closing price.
    s.board_at("2026-07-22T19:40:05Z", "2026-07-22T19:40:01Z", "325.5")
        .await;
    s.board_at("2026-07-22T19:45:05Z", "2026-07-22T19:45:02Z", "326")
        .await;
    s.board_at("2026-07-22T20:00:10Z", "2026-07-22T20:00:01Z", "326.5")
        .await;
    s.board_at("2026-07-23T02:00:00Z", "2026-07-22T20:00:01Z", "326.5")
        .await;
    s.board_at("2026-07-23T13:40:05Z", "2026-07-23T13:40:02Z", "326.8")
        .await;
    s.board_at("2026-07-23T14:00:05Z", "2026-07-23T14:00:02Z", "327")
        .await;
    s.react_at("2026-07-23T14:20:00Z").await;
    assert_eq!(s.get("price_then").as_deref(), Some("325"));
    assert_eq!(s.get("price_15m").as_deref(), Some("326"));
    assert_eq!(s.get("price_close").as_deref(), Some("326.5"));
    assert_eq!(s.get("price_1h").as_deref(), Some("327"));
    assert_eq!(s.get("change_1h_percent").as_deref(), Some("0.62"));
    assert_eq!(s.get("price_1h_source").as_deref(), Some("recorded"));
    assert_eq!(s.get("pending").as_deref(), Some("1"));

    // Thursday afternoon the board is down (no refresh around 15:30 New
    // York time). Right after the window nothing is asked yet: delayed
    // quotes may still come in.
    s.react_at("2026-07-23T19:50:00Z").await;
    assert!(s.history_requests().is_empty());
    // Half an hour later the gap is filled from Yahoo's one-minute bars:
    // one request for that window alone, one point stored.
    s.server.set("/v8/finance/chart/AAPL", json_reply(AAPL_1M));
    let report = s.react_at("2026-07-23T20:20:00Z").await;
    assert_eq!((report.backfilled, report.missing), (1, 0), "{report:?}");
    let asked = s.history_requests();
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert!(
        asked[0].ends_with(
            "/v8/finance/chart/AAPL?period1=1784834040&period2=1784835900&interval=1m&includePrePost=false"
        ),
        "{}",
        asked[0]
    );
    // The bar that ends at 19:30 (started 19:29) closed at 323.25.
    assert_eq!(s.get("price_1d").as_deref(), Some("323.25"));
    assert_eq!(s.get("price_1d_source").as_deref(), Some("backfill"));
    assert_eq!(s.get("change_1d_percent").as_deref(), Some("-0.54"));
    assert_eq!(s.get("price_then_source").as_deref(), Some("recorded"));
    assert_eq!(s.get("pending").as_deref(), Some("0"));
    assert_eq!(
        s.dir
            .count("SELECT count(*) FROM quotes WHERE source = 'backfill'"),
        1,
        "only the missing point is stored"
    );
    // A backfilled past price never becomes the board's latest.
    let latest: f64 = s
        .dir
        .db()
        .query_row(
            "SELECT price FROM v_latest_quotes WHERE symbol = 'AAPL'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(latest, 327.0);
    // Nothing left to do: another pass asks nothing.
    s.react_at("2026-07-23T21:00:00Z").await;
    assert_eq!(s.history_requests().len(), 1);

    // The export's view of the same item.
    let item_id: i64 = s
        .dir
        .count("SELECT item_id FROM item_mentions WHERE symbol = 'AAPL'");
    let reactions = s.opened.store.item_reactions(item_id).await.unwrap();
    assert_eq!(reactions.len(), 1);
    let horizons: Vec<_> = reactions[0].points.iter().map(|p| p.horizon).collect();
    assert_eq!(horizons, ["then", "15m", "1h", "1d", "close"]);
    assert_eq!(reactions[0].points[3].source, Some("backfill"));
    assert_eq!(reactions[0].currency.as_deref(), Some("USD"));
}

/// Later prices are taken in the currency of the price "then": a quote of
/// the symbol in another currency (another listing, after a reload moved
/// it) is passed over, not made into a change across two currencies.
#[tokio::test]
async fn later_prices_keep_to_the_currency_of_the_first() {
    let s = setup("2026-07-22T19:30:00Z").await;
    s.board_at("2026-07-22T19:30:05Z", "2026-07-22T19:30:02Z", "325")
        .await;
    s.react_at("2026-07-22T19:31:00Z").await;
    // Another listing's quote, just before the board's, in the window of
    // the price 15 minutes on.
    rusqlite::Connection::open(s.dir.db_path())
        .unwrap()
        .execute(
            "INSERT INTO quotes (symbol, provider, provider_symbol, price, currency, as_of,
                                 fetched_at, session)
             VALUES ('AAPL', 'yahoo', 'AAPL.MX', '5600', 'MXN', '2026-07-22T19:45:01Z',
                     '2026-07-22T19:45:03Z', 'regular')",
            [],
        )
        .unwrap();
    s.board_at("2026-07-22T19:45:05Z", "2026-07-22T19:45:02Z", "326")
        .await;
    s.react_at("2026-07-22T20:30:00Z").await;
    assert_eq!(s.get("price_then").as_deref(), Some("325"));
    assert_eq!(s.get("price_15m").as_deref(), Some("326"));
    assert_eq!(s.get("currency").as_deref(), Some("USD"));
}

#[tokio::test]
async fn friday_evening_news_is_measured_from_monday_and_a_day_later_is_tuesday() {
    // Friday 2026-07-24, 17:00 New York time: after the close.
    let s = setup("2026-07-24T21:00:00Z").await;
    s.react_at("2026-07-24T21:01:00Z").await;
    assert_eq!(
        s.get("measured_from").as_deref(),
        Some("2026-07-27T13:30:00Z")
    );
    assert_eq!(s.get("at_1d").as_deref(), Some("2026-07-28T13:30:00Z"));
    assert_eq!(s.get("close_at").as_deref(), Some("2026-07-27T20:00:00Z"));
    // Weekend refreshes see Friday's close; it is not the price "then".
    s.board_at("2026-07-25T12:00:00Z", "2026-07-24T20:00:00Z", "330")
        .await;
    s.board_at("2026-07-27T13:31:00Z", "2026-07-27T13:30:30Z", "331")
        .await;
    s.board_at("2026-07-27T13:46:00Z", "2026-07-27T13:45:30Z", "332")
        .await;
    s.board_at("2026-07-27T14:31:00Z", "2026-07-27T14:30:30Z", "333")
        .await;
    s.board_at("2026-07-27T20:01:00Z", "2026-07-27T20:00:00Z", "334")
        .await;
    s.board_at("2026-07-28T13:31:00Z", "2026-07-28T13:30:30Z", "335")
        .await;
    s.react_at("2026-07-28T14:00:00Z").await;
    let prices: Vec<Option<String>> = [
        "price_then",
        "price_15m",
        "price_1h",
        "price_1d",
        "price_close",
    ]
    .iter()
    .map(|c| s.get(c))
    .collect();
    assert_eq!(
        prices,
        ["331", "332", "333", "335", "334"].map(|p| Some(p.to_string()))
    );
    assert_eq!(s.get("pending").as_deref(), Some("0"));

    // The cookbook query of docs/schema.md, for AAPL in July.
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/schema.md")).unwrap();
    let sql = doc
        .split("### Price reactions: every BP mention this month")
        .nth(1)
        .and_then(|s| s.split("```sql\n").nth(1))
        .and_then(|s| s.split("```").next())
        .expect("the cookbook has the reactions query")
        .replace("'BP'", "'AAPL'")
        .replace("'now'", "'2026-07-28'");
    let row: (String, f64, f64, f64) = s
        .dir
        .db()
        .query_row(&sql, [], |r| {
            Ok((r.get(1)?, r.get(2)?, r.get(4)?, r.get(5)?))
        })
        .unwrap();
    assert_eq!(
        row,
        (
            "Apple ($AAPL) shares move on the news".to_string(),
            331.0,
            0.6,
            1.21
        )
    );

    // The export carries the same figures, per symbol and horizon.
    let out = bin()
        .arg("--config")
        .arg(s.dir.config_path())
        .args(["export", "--format", "jsonl"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().next().unwrap()).unwrap();
    let aapl = &line["reactions"][0];
    assert_eq!(aapl["symbol"], "AAPL");
    let points: Vec<(String, String, Option<String>)> = aapl["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["horizon"].as_str().unwrap().to_string(),
                p["price"].as_str().unwrap().to_string(),
                p["change_percent"].as_str().map(str::to_string),
            )
        })
        .collect();
    assert_eq!(points[0].1, "331");
    assert!(
        points
            .iter()
            .any(|(_, price, change)| price == "335" && change.as_deref() == Some("1.21")),
        "{points:?}"
    );
}

#[tokio::test]
async fn backfill_waits_for_the_budget_the_board_needs_then_fills_the_close_from_daily_bars() {
    // Wednesday 2026-07-22 after the close: measured from Thursday's open.
    let s = setup("2026-07-22T22:10:00Z").await;
    s.react_at("2026-07-22T22:11:00Z").await;
    // The board records nothing until Friday morning, when it is busy:
    // eight refreshes of two symbols in one minute leave Yahoo's
    // self-imposed 30 a minute with 14, less than the board's half.
    s.server.set("/v8/finance/chart/AAPL", json_reply(AAPL));
    let board = s.opened.pipeline.board.get().unwrap();
    s.clock.set(time("2026-07-24T14:40:00Z"));
    for _ in 0..8 {
        board.refresh(&s.opened.store, s.clock.now()).await.unwrap();
    }
    let held = s.react_at("2026-07-24T14:40:30Z").await;
    assert_eq!((held.waiting, held.backfilled), (5, 0), "{held:?}");
    assert!(s.history_requests().is_empty(), "nothing sent over budget");
    assert_eq!(s.get("pending").as_deref(), Some("5"));

    // A minute on there is room. The provider answers with the real
    // five-day daily chart: its bar for Thursday is Thursday's close, the
    // intraday times have no bar to fill them, and Friday's bar is not
    // finished.
    let report = s.react_at("2026-07-24T14:41:30Z").await;
    assert_eq!(s.history_requests().len(), 1);
    assert_eq!((report.backfilled, report.missing), (1, 4), "{report:?}");
    assert_eq!(s.get("price_close").as_deref(), Some("321.66"));
    assert_eq!(s.get("price_close_source").as_deref(), Some("backfill"));
    assert_eq!(s.get("price_then"), None);
    assert_eq!(s.get("pending").as_deref(), Some("0"));
    let note: String = s
        .dir
        .db()
        .query_row(
            "SELECT note FROM item_reactions WHERE horizon = '1h'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(note.contains("no price in the window"), "{note}");
    // The board's budget was left alone: it still refreshes at once.
    let report = board.refresh(&s.opened.store, s.clock.now()).await.unwrap();
    assert_eq!(report.failed.len(), 0, "{report:?}");

    // A later item is planned on the next pass, the earlier one not again.
    s.server.set(
        "/news.xml",
        Reply::feed(rss(
            "Markets",
            &[
                ("n1", "Apple ($AAPL) shares move on the news", ""),
                ("n2", "Apple Inc. follow-up", ""),
            ],
        )),
    );
    tickerfeed::scheduler::poll_once(&s.opened.pipeline, s.opened.feeds.clone(), 2).await;
    let next = s.react_at("2026-07-24T14:50:00Z").await;
    assert_eq!(next.planned, 1, "{next:?}");
    assert_eq!(s.dir.count("SELECT count(*) FROM item_reactions"), 10);
    // A mention recorded after its item (say, found in the article's full
    // text later) is planned too, though a newer item already was.
    let first_item = s.dir.count("SELECT min(item_id) FROM item_mentions");
    rusqlite::Connection::open(s.dir.db_path())
        .unwrap()
        .execute(
            "INSERT INTO item_mentions (item_id, symbol) VALUES (?1, 'VOD')",
            [first_item],
        )
        .unwrap();
    let late = s.react_at("2026-07-24T14:55:00Z").await;
    assert_eq!(late.planned, 1, "{late:?}");
    let exchange: String = s
        .dir
        .db()
        .query_row(
            "SELECT exchange FROM item_reactions WHERE symbol = 'VOD' LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(exchange, "XLON", "VOD.L trades in London");
}

/// An exchange without a calendar is a config error like any other: `check`
/// (run before a restart or reload) and the start name the symbol and exit
/// 2, so the daemon is never left unable to start on a config that passed
/// `check`, and systemd does not restart it in a loop.
#[tokio::test]
async fn an_exchange_without_a_calendar_is_refused_at_start_naming_the_symbol() {
    let dir = TestDir::new();
    dir.write_config_only(
        "[market]\nprovider = \"yahoo\"\nsymbols = [{ symbol = \"7203\", provider_symbol = \"7203.T\", exchange = \"XTKS\" }]\n",
    );
    for command in ["check", "run"] {
        let out = bin()
            .arg("--config")
            .arg(dir.config_path())
            .arg(command)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{command}: {stderr}");
        assert!(
            stderr.contains("[market] symbol \"7203\": unknown exchange \"XTKS\""),
            "{command}: {stderr}"
        );
    }
}

#[tokio::test]
async fn without_provider_history_a_missed_time_is_given_up_with_the_reason() {
    let server = FeedServer::start().await;
    server.set(
        "/news.xml",
        Reply::feed(rss("Markets", &[("n1", "BP plc raises its dividend", "")])),
    );
    let dir = TestDir::new();
    let config = dir.write_config(&format!(
        "{}\n[market]\nprovider = \"stooq\"\nbase_url = \"{}\"\nsymbols = [{{ symbol = \"BP\", names = [\"BP plc\"], provider_symbol = \"bp.uk\" }}]\n",
        feed_block("news", &server.url("/news.xml"), ""),
        server.url("")
    ));
    // Tuesday 2026-07-21, 10:00 London time; the board never answers.
    let (clock, shared) = fixed_clock("2026-07-21T09:00:00Z");
    let opened = tickerfeed::app::open(&config, shared).await.unwrap();
    tickerfeed::scheduler::poll_once(&opened.pipeline, opened.feeds.clone(), 2).await;
    let board = opened.pipeline.board.get().unwrap();
    let reactions = opened.reactions.clone().unwrap();
    reactions
        .run_once(&opened.store, &board, clock.now())
        .await
        .unwrap();
    // London hours, from the `.uk` provider symbol.
    let (exchange, close): (String, String) = dir
        .db()
        .query_row(
            "SELECT exchange, close_at FROM v_item_reactions WHERE symbol = 'BP'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(
        (exchange.as_str(), close.as_str()),
        ("XLON", "2026-07-21T15:30:00Z")
    );
    clock.set(time("2026-07-23T12:00:00Z"));
    let report = reactions
        .run_once(&opened.store, &board, clock.now())
        .await
        .unwrap();
    assert_eq!(report.missing, 5, "{report:?}");
    assert!(server.seen_all().iter().all(|s| s.path == "/news.xml"));
    let notes: Vec<String> =
        dir.column("SELECT DISTINCT state || ': ' || note FROM item_reactions");
    assert_eq!(
        notes,
        ["missing: stooq offers no price history to backfill from"]
    );
}

#[tokio::test]
async fn a_plan_without_candles_is_asked_once_then_left_alone() {
    let server = FeedServer::start().await;
    server.set(
        "/api/v1/stock/candle",
        Reply {
            status: 403,
            ..json_reply(include_str!("../fixtures/quotes/finnhub/not_entitled.json"))
        },
    );
    server.set(
        "/news.xml",
        Reply::feed(rss("Markets", &[("n1", "Apple ($AAPL) news", "")])),
    );
    let dir = TestDir::new();
    // Any variable that is set will do as the key of a loopback provider;
    // the test then swaps in its own.
    let mut config = dir.write_config(&format!(
        "{}\n[market]\nprovider = \"finnhub\"\nbase_url = \"{}\"\napi_key_env = \"PATH\"\nsymbols = [\"AAPL\"]\n",
        feed_block("news", &server.url("/news.xml"), ""),
        server.url("")
    ));
    config.market.as_mut().unwrap().api_key = Some(tickerfeed::config::Secret::new("free-key"));
    // Wednesday 2026-07-22, 11:00 New York time; the board never answers.
    let (clock, shared) = fixed_clock("2026-07-22T15:00:00Z");
    let opened = tickerfeed::app::open(&config, shared).await.unwrap();
    tickerfeed::scheduler::poll_once(&opened.pipeline, opened.feeds.clone(), 2).await;
    let board = opened.pipeline.board.get().unwrap();
    let reactions = opened.reactions.clone().unwrap();
    let pass = |at: &'static str| {
        clock.set(time(at));
        let (store, board, reactions) = (opened.store.clone(), board.clone(), reactions.clone());
        let now = clock.now();
        async move { reactions.run_once(&store, &board, now).await.unwrap() }
    };
    pass("2026-07-22T15:01:00Z").await;
    // Thursday morning: four times passed unrecorded; one request, refused.
    let first = pass("2026-07-23T12:00:00Z").await;
    assert_eq!(first.missing, 4, "{first:?}");
    assert_eq!(server.seen("/api/v1/stock/candle").len(), 1);
    // The day-after time passes too: not asked again.
    let second = pass("2026-07-23T16:00:00Z").await;
    assert_eq!(second.missing, 1, "{second:?}");
    assert_eq!(server.seen("/api/v1/stock/candle").len(), 1);
    let note: String = dir
        .db()
        .query_row(
            "SELECT note FROM item_reactions WHERE horizon = '1h'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(note.contains("not entitled"), "{note}");
}

/// A reload that changes `[market]`'s instruments (same provider and
/// endpoint): the board quotes the added one and drops the removed one,
/// new items are matched against the new names, and the price reactions
/// follow the added instrument on its own exchange.
#[tokio::test]
async fn a_reconfigured_market_quotes_matches_and_reacts_to_the_new_instruments() {
    let server = FeedServer::start().await;
    server.set("/v8/finance/chart/AAPL", json_reply(AAPL));
    server.set("/v8/finance/chart/VOD.L", json_reply(VOD));
    let story = |id: &str, title: &str| (id.to_string(), title.to_string());
    let mut stories = vec![story("n1", "Vodafone Group lifts its dividend")];
    let serve = |stories: &[(String, String)]| {
        let items: Vec<(&str, &str, &str)> = stories
            .iter()
            .map(|(id, title)| (id.as_str(), title.as_str(), ""))
            .collect();
        server.set("/news.xml", Reply::feed(rss("Markets", &items)));
    };
    serve(&stories);
    let dir = TestDir::new();
    let config = |symbols: &str| {
        dir.write_config(&format!(
            "{}\n[market]\nprovider = \"yahoo\"\nbase_url = \"{}\"\nsymbols = [{symbols}]\n",
            feed_block("news", &server.url("/news.xml"), ""),
            server.url("")
        ))
    };
    let vodafone =
        "{ symbol = \"VOD\", provider_symbol = \"VOD.L\", names = [\"Vodafone Group\"] }";
    let before = config("\"AAPL\"");
    // Tuesday 2026-07-21, 10:00 London time.
    let (clock, shared) = fixed_clock("2026-07-21T09:00:00Z");
    let opened = tickerfeed::app::open(&before, shared).await.unwrap();
    let board = opened.pipeline.board.get().unwrap();
    let reactions = opened.reactions.clone().unwrap();
    tickerfeed::scheduler::poll_once(&opened.pipeline, opened.feeds.clone(), 2).await;
    board.refresh(&opened.store, clock.now()).await.unwrap();
    let symbols_on_board = || -> Vec<String> {
        board
            .view(clock.now())
            .map(|v| v.quotes.into_iter().map(|(_, q)| q.symbol).collect())
            .unwrap_or_default()
    };
    assert_eq!(symbols_on_board(), ["AAPL"]);
    let mentions = || -> Vec<(String, String)> {
        dir.db()
            .prepare("SELECT title, symbol FROM v_item_mentions ORDER BY item_id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    assert!(mentions().is_empty(), "VOD is not on the board yet");

    let after = config(vodafone);
    let market = after.market.as_ref().unwrap();
    board.reconfigure(market);
    reactions.reconfigure(market).unwrap();
    assert!(symbols_on_board().is_empty(), "AAPL left the board");
    board.refresh(&opened.store, clock.now()).await.unwrap();
    assert_eq!(symbols_on_board(), ["VOD"]);

    stories.push(story("n2", "Vodafone Group sells its tower arm"));
    serve(&stories);
    tickerfeed::scheduler::poll_once(&opened.pipeline, opened.feeds.clone(), 2).await;
    assert_eq!(
        mentions(),
        [(
            "Vodafone Group sells its tower arm".to_string(),
            "VOD".to_string()
        )],
        "only the item archived after the reload is matched against the new names"
    );
    reactions
        .run_once(&opened.store, &board, clock.now())
        .await
        .unwrap();
    let exchange: String = dir
        .db()
        .query_row(
            "SELECT exchange FROM v_item_reactions WHERE symbol = 'VOD'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(exchange, "XLON");

    // The same symbol, another listing (the US ADR): the London quote
    // leaves the board rather than stand for it.
    let adr = config("{ symbol = \"VOD\", names = [\"Vodafone Group\"] }");
    board.reconfigure(adr.market.as_ref().unwrap());
    assert!(
        symbols_on_board().is_empty(),
        "the London quote is not the ADR's"
    );
}

/// A refresh under way when a reload removes a symbol does not put the
/// symbol back on the board when its answer comes.
#[tokio::test]
async fn a_refresh_that_ends_after_a_reload_keeps_removed_symbols_off_the_board() {
    let server = FeedServer::start().await;
    server.set("/v8/finance/chart/AAPL", json_reply(AAPL));
    server.set(
        "/v8/finance/chart/VOD.L",
        json_reply(VOD).delayed(std::time::Duration::from_millis(500)),
    );
    let dir = TestDir::new();
    let config = |symbols: &str| {
        dir.write_config(&format!(
            "[market]\nprovider = \"yahoo\"\nbase_url = \"{}\"\nsymbols = [{symbols}]\n",
            server.url("")
        ))
    };
    let both = config("\"AAPL\", { symbol = \"VOD\", provider_symbol = \"VOD.L\" }");
    let (clock, shared) = fixed_clock("2026-07-21T09:00:00Z");
    let opened = tickerfeed::app::open(&both, shared).await.unwrap();
    let board = opened.pipeline.board.get().unwrap();
    let refresh = tokio::spawn({
        let (board, store, now) = (board.clone(), opened.store.clone(), clock.now());
        async move { board.refresh(&store, now).await.unwrap() }
    });
    while server.seen("/v8/finance/chart/VOD.L").is_empty() {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    board.reconfigure(config("\"AAPL\"").market.as_ref().unwrap());
    let report = refresh.await.unwrap();
    assert_eq!(report.ok, 1, "{report:?}");
    let on_board: Vec<String> = board
        .view(clock.now())
        .unwrap()
        .quotes
        .into_iter()
        .map(|(_, q)| q.symbol)
        .collect();
    assert_eq!(on_board, ["AAPL"]);
}
