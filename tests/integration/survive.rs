//! Survive anything: whatever a feed server sends, the parse and normalize
//! stages return a feed or an error, never a panic or a crash.
//!
//! `every_fixture_parses_or_fails_cleanly` runs every file in
//! `tests/fixtures/feeds/` (see its README for what each one is) through
//! `parse` and `normalize`; the other tests check what the interesting ones
//! parse to. Pathological documents too big to keep as files (10,000 items,
//! a 5 MB title, 100,000 nested elements) are generated here.

use std::io::ErrorKind;
use std::net::TcpListener;
use std::path::PathBuf;

use tickerfeed::model::FeedMeta;
use tickerfeed::model::NewItem;
use tickerfeed::pipeline::normalize::normalize;
use tickerfeed::pipeline::parse::{MAX_DEPTH, ParseError, parse};
use url::Url;

fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/feeds")
}

fn fixture(name: &str) -> Vec<u8> {
    let path = fixtures_dir().join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn base() -> Url {
    Url::parse("https://example.com/feed.xml").unwrap()
}

fn read_bytes(
    body: &[u8],
    content_type: Option<&str>,
) -> Result<(FeedMeta, Vec<NewItem>), ParseError> {
    let base = base();
    parse(body, &base, content_type).map(|feed| normalize(feed, &base))
}

fn read(name: &str, content_type: Option<&str>) -> Result<(FeedMeta, Vec<NewItem>), ParseError> {
    read_bytes(&fixture(name), content_type)
}

fn items(name: &str, content_type: Option<&str>) -> Vec<NewItem> {
    match read(name, content_type) {
        Ok((_, items)) => items,
        Err(e) => panic!("{name}: {e}"),
    }
}

fn titles(items: &[NewItem]) -> Vec<&str> {
    items.iter().map(|i| i.title.as_str()).collect()
}

fn feed_title(name: &str, content_type: Option<&str>) -> String {
    read(name, content_type)
        .unwrap_or_else(|e| panic!("{name}: {e}"))
        .0
        .title
        .unwrap_or_default()
}

#[test]
fn every_fixture_parses_or_fails_cleanly() {
    let readme = std::fs::read_to_string(fixtures_dir().join("README.md")).unwrap();
    let mut names: Vec<String> = std::fs::read_dir(fixtures_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "README.md")
        .collect();
    names.sort();
    assert!(names.len() >= 15, "{names:?}");
    for name in &names {
        assert!(
            readme.contains(&format!("`{name}`")),
            "{name} is not described in tests/fixtures/feeds/README.md"
        );
        let body = fixture(name);
        // The same bytes under the content types servers actually send,
        // charset disagreements included.
        for content_type in [
            None,
            Some("application/rss+xml; charset=utf-8"),
            Some("text/xml; charset=ISO-8859-1"),
            Some("text/html"),
        ] {
            let outcome = std::panic::catch_unwind(|| read_bytes(&body, content_type));
            assert!(outcome.is_ok(), "{name} ({content_type:?}) panicked");
        }
    }
}

// --- encodings ---------------------------------------------------------------

#[test]
fn utf16_in_both_byte_orders_with_and_without_bom() {
    // feed-rs panics on UTF-16BE; we transcode before it sees the bytes.
    assert_eq!(
        titles(&items("utf16be_bom.xml", None)),
        ["Café au lait", "日本語のニュース", "Привет"]
    );
    assert_eq!(feed_title("utf16be_bom.xml", None), "Café 日本");
    // The header cannot override the byte layout.
    assert_eq!(
        titles(&items("utf16le_nobom.xml", Some("text/xml; charset=utf-8"))),
        ["Café au lait", "日本語のニュース"]
    );
}

#[test]
fn legacy_encodings_declared_in_the_document() {
    assert_eq!(feed_title("koi8-r.xml", None), "Новости рынка");
    assert_eq!(
        titles(&items("koi8-r.xml", None)),
        ["Рубль укрепился", "Нефть дешевеет"]
    );
    assert_eq!(
        titles(&items("shift_jis.xml", None)),
        ["日経平均が上昇", "円安が進む"]
    );
    assert_eq!(
        titles(&items("iso-8859-2.xml", None)),
        ["Złoty się umacnia", "Žluťoučký kůň"]
    );
    assert_eq!(
        feed_title("rss091_iso-8859-1.xml", None),
        "Dicas-L: Dicas técnicas de Linux e Software Livre"
    );
    assert_eq!(
        titles(&items("rss091_iso-8859-1.xml", None)),
        ["bash - Expansão de Parâmetros"]
    );
}

#[test]
fn http_charset_decodes_an_undeclared_document() {
    let got = items(
        "windows-1252_undeclared.xml",
        Some("application/rss+xml; charset=windows-1252"),
    );
    assert_eq!(titles(&got), ["Price: 5 €", "Café – naïve"]);
    assert_eq!(
        feed_title(
            "windows-1252_undeclared.xml",
            Some("text/xml; charset=cp1252")
        ),
        "“Smart” quotes"
    );
    // With nothing to go on, UTF-8 it is, and the bad bytes show as U+FFFD
    // instead of costing the feed.
    let got = items("windows-1252_undeclared.xml", None);
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].title, "Price: 5 \u{FFFD}");
}

#[test]
fn a_lying_declaration_falls_back_to_the_http_charset() {
    let got = items(
        "utf8_declared_but_latin1.xml",
        Some("text/xml; charset=iso-8859-1"),
    );
    assert_eq!(titles(&got), ["Crème brûlée"]);
    // Without the header: replacement characters, the rest intact.
    let got = items("utf8_declared_but_latin1.xml", None);
    assert_eq!(titles(&got), ["Cr\u{FFFD}me br\u{FFFD}l\u{FFFD}e"]);
}

#[test]
fn one_bad_byte_costs_one_character_not_the_feed() {
    assert_eq!(
        titles(&items("mixed_encodings.xml", None)),
        [
            "Clean UTF-8: Café",
            "Stray Latin-1: Caf\u{FFFD}",
            "Also clean: 日本"
        ]
    );
}

#[test]
fn bom_beats_declaration_and_header() {
    let got = items(
        "utf8_bom_latin1_declaration.xml",
        Some("text/xml; charset=koi8-r"),
    );
    assert_eq!(titles(&got), ["Crème"]);
}

// --- versions and formats ------------------------------------------------------

#[test]
fn every_rss_version_reads_its_items() {
    assert_eq!(
        titles(&items("rss090_netscape.xml", None)),
        ["Linux 2.2 released", "Mozilla source code posted"]
    );
    // normalize folds the no-break spaces into plain ones.
    assert_eq!(
        titles(&items("rss091_netscape_doctype.xml", None)),
        ["Le marché ouvre en hausse !", "Prix du café : +3 %"]
    );
    assert_eq!(items("rss092_userland.xml", None).len(), 3);
    let got = items("rss094.xml", None);
    assert_eq!(
        titles(&got),
        ["Bridge reopens after repairs", "Council approves budget"]
    );
    assert!(got[0].published.is_some());
    assert_eq!(
        titles(&items("rss_no_version.xml", None)),
        ["First", "Second"]
    );
    assert_eq!(
        titles(&items("rss10_rdf.xml", None)),
        ["Processing Inclusions with XSLT", "Putting RDF to Work"]
    );
}

#[test]
fn atom03_reads_as_atom10() {
    let (meta, got) = read("atom03.xml", None).unwrap();
    assert_eq!(meta.title.as_deref(), Some("Trader's Notes"));
    assert_eq!(
        titles(&got),
        [
            "Election rally: Dow up 1.6%",
            "Oil slips below $50",
            "Fed preview"
        ]
    );
    let date = |s: &str| Some(s.parse::<chrono::DateTime<chrono::Utc>>().unwrap());
    // `issued` is the publication date, even with a `created` beside it...
    assert_eq!(got[0].published, date("2004-11-04T21:02:00Z"));
    // ...and `created` stands in when there is no `issued`.
    assert_eq!(got[1].published, date("2004-11-03T11:30:00Z"));
    assert_eq!(got[1].updated, date("2004-11-03T12:00:00Z"));
    assert_eq!(got[0].authors, ["J. Example"]);
    assert_eq!(
        got[0].guid.as_deref(),
        Some("tag:blogger.example,1999:blog-8675309.post-110160211")
    );
    // mode="xml" XHTML, with xml:base resolving the relative link.
    let html = got[0].content_html.as_deref().unwrap();
    assert!(html.starts_with("Stocks rallied"), "{html}");
    assert!(
        html.contains("http://tradersnotes.blogspot.example/2004/11/dow.png"),
        "{html}"
    );
    // mode="escaped" HTML, and mode="base64" HTML.
    assert_eq!(
        got[1].content_html.as_deref(),
        Some("<p>Crude fell <b>3%</b> on Wednesday.</p>")
    );
    assert_eq!(
        got[2].content_html.as_deref(),
        Some("<p>Rates are expected to rise a quarter point.</p>")
    );
    assert_eq!(
        got[2].summary_html.as_deref(),
        Some("Rates are expected to rise a quarter point.")
    );
}

#[test]
fn atom10_with_mime_types_in_text_constructs() {
    let (meta, got) = read("atom10_sloppy.xml", None).unwrap();
    assert_eq!(meta.title.as_deref(), Some("Sloppy Atom"));
    assert_eq!(titles(&got), ["It’s fine"]);
    assert_eq!(got[0].summary_html.as_deref(), Some("<p>Inline XHTML</p>"));
}

#[test]
fn json_feed_10_11_and_loose_json() {
    let got = items("jsonfeed10.json", None);
    assert_eq!(titles(&got), ["Announcing JSON Feed"]);
    assert_eq!(items("jsonfeed11.json", None).len(), 3);
    // Numeric ids, no title, an http:// version URL, an attachment without
    // a MIME type: each of those fails the whole feed in feed-rs.
    let got = items("jsonfeed_loose.json", None);
    assert_eq!(
        titles(&got),
        ["Numeric id", "Attachment without a MIME type"]
    );
    assert_eq!(got[0].guid.as_deref(), Some("101"));
    assert_eq!(got[0].categories, ["markets", "2024"]);
}

// --- sloppy documents ------------------------------------------------------------

#[test]
fn html_entities_outside_cdata_are_decoded() {
    let (meta, got) = read("html_entities.xml", None).unwrap();
    // `&nbsp;` decodes to U+00A0, which normalize folds into a space.
    assert_eq!(meta.title.as_deref(), Some("Café Bourse"));
    assert_eq!(
        titles(&got),
        [
            "L’euro à 1,08 $ — AT&T en hausse",
            "“Quoted” with windows-1252 references © 2024"
        ]
    );
    assert_eq!(
        got[0].url.as_deref(),
        Some("https://cafe.example.fr/2024/euro?a=1&b=2")
    );
    // CDATA is literal: its `&nbsp;` reaches the HTML as written.
    assert_eq!(
        got[0].summary_html.as_deref(),
        Some("<p>Inside CDATA, &nbsp; stays as written.</p>")
    );
    assert_eq!(
        got[1].summary_html.as_deref(),
        Some("Unknown &amp;foo; entities stay literal.")
    );
}

#[test]
fn unescaped_html_and_stray_tags_are_mended() {
    let (meta, got) = read("unescaped_html.xml", None).unwrap();
    assert_eq!(meta.title.as_deref(), Some("Unescaped & Unclosed"));
    assert_eq!(titles(&got), ["Q&A: rates <3 bonds", "Second item"]);
    assert_eq!(
        got[0].summary_html.as_deref(),
        Some("First line<br>second line<p>a paragraph</p>")
    );
}

#[test]
fn junk_before_the_declaration_is_skipped() {
    assert_eq!(
        titles(&items("junk_before_declaration.xml", None)),
        ["Still a feed"]
    );
}

#[test]
fn unparseable_dates_keep_the_item() {
    let got = items("bad_dates.xml", None);
    assert_eq!(
        titles(&got),
        ["Good date", "Words", "Impossible", "No zone", "Empty"]
    );
    assert_eq!(
        got[0].published,
        Some("2024-06-05T12:30:00Z".parse().unwrap())
    );
    assert!(got[1..].iter().all(|i| i.published.is_none()));
}

#[test]
fn relative_links_are_made_absolute_against_the_site() {
    let got = items("relative_links.xml", None);
    assert_eq!(
        got[0].url.as_deref(),
        Some("https://gazette.example.org/2024/06/root-relative.html")
    );
    assert_eq!(
        got[1].url.as_deref(),
        Some("https://gazette.example.org/news/2024/06/path-relative.html")
    );
    let html = got[0].summary_html.as_deref().unwrap();
    assert!(
        html.contains(r#"href="https://gazette.example.org/about""#),
        "{html}"
    );
    assert!(
        html.contains(r#"src="https://gazette.example.org/2024/06/img/chart.png""#),
        "{html}"
    );
}

#[test]
fn duplicate_guids_in_one_document_get_distinct_keys() {
    let got = items("duplicate_guids.xml", None);
    let mut keys: Vec<&str> = got.iter().map(|i| i.key.0.as_str()).collect();
    // None keeps the bare guid, which would name whichever is listed first.
    assert!(
        keys.iter().all(|k| k.starts_with("id:daily-close|")),
        "{keys:?}"
    );
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 3);
}

// --- hostile documents -------------------------------------------------------------

#[test]
fn billion_laughs_is_not_expanded() {
    let (meta, got) = read("billion_laughs.xml", None).unwrap();
    // The entity stays a literal reference: a few bytes, not 3 GB.
    assert_eq!(meta.title.as_deref(), Some("&lol9;"));
    assert_eq!(got[0].title, "Laugh &lol9;");
    assert!(got[0].summary_html.as_deref().unwrap().len() < 64);
}

#[test]
fn external_entities_are_neither_resolved_nor_fetched() {
    let (meta, got) = read("external_entity.xml", None).unwrap();
    assert_eq!(meta.title.as_deref(), Some("XXE &passwd;"));
    assert_eq!(got[0].title, "Item &beacon;");
    assert!(!got[0].summary_html.as_deref().unwrap().contains("root:"));

    // The same attack pointed at a port we listen on: nothing connects.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let at = format!("http://{}", listener.local_addr().unwrap());
    let doc = format!(
        r#"<?xml version="1.0"?>
<!DOCTYPE rss SYSTEM "{at}/rss.dtd" [
  <!ENTITY % remote SYSTEM "{at}/evil.dtd"> %remote;
  <!ENTITY beacon SYSTEM "{at}/beacon">
]>
<rss version="2.0"><channel><title>t</title><item><title>&beacon;</title><guid>1</guid></item></channel></rss>"#
    );
    let (_, got) = read_bytes(doc.as_bytes(), None).unwrap();
    assert_eq!(got[0].title, "&beacon;");
    assert_eq!(
        listener.accept().map(|_| ()).unwrap_err().kind(),
        ErrorKind::WouldBlock,
        "the parser connected to the DTD or entity URL"
    );
}

#[test]
fn nesting_beyond_the_limit_is_refused_before_parsing() {
    assert_eq!(
        read("deep_nesting.xml", None).unwrap_err(),
        ParseError::TooDeep { limit: MAX_DEPTH }
    );
    // 100,000 levels, in an item and as the whole document.
    let n = 100_000;
    let nested = format!("{}{}", "<x>".repeat(n), "</x>".repeat(n));
    let in_item = format!(
        r#"<rss version="2.0"><channel><title>t</title><item><title>a</title>{nested}</item></channel></rss>"#
    );
    assert_eq!(
        read_bytes(in_item.as_bytes(), None).unwrap_err(),
        ParseError::TooDeep { limit: MAX_DEPTH }
    );
    let whole = format!("<rss>{nested}</rss>");
    assert!(read_bytes(whole.as_bytes(), None).is_err());
    // Unescaped HTML nested as deep inside a description is text, not
    // elements: the item survives.
    let in_description = format!(
        r#"<rss version="2.0"><channel><title>t</title><item><title>a</title><description>{}x{}</description></item></channel></rss>"#,
        "<div>".repeat(n),
        "</div>".repeat(n)
    );
    let (_, got) = read_bytes(in_description.as_bytes(), None).unwrap();
    assert_eq!(got.len(), 1);
    // Reduced to its text: sanitising that HTML would take hours.
    assert_eq!(got[0].summary_html.as_deref(), Some("x"));
    // JSON as deep is an error from serde_json's own limit.
    let json = format!(
        r#"{{"version":"https://jsonfeed.org/version/1.1","title":"t","items":[],"x":{}{}}}"#,
        "[".repeat(n),
        "]".repeat(n)
    );
    assert!(matches!(
        read_bytes(json.as_bytes(), None),
        Err(ParseError::Invalid(_))
    ));
}

#[test]
fn ten_thousand_items_parse() {
    let mut doc = String::from(r#"<rss version="2.0"><channel><title>many</title>"#);
    for i in 0..10_000 {
        doc.push_str(&format!(
            "<item><title>Item {i} &amp; more</title><guid>g{i}</guid><link>/a/{i}</link></item>"
        ));
    }
    doc.push_str("</channel></rss>");
    let (_, got) = read_bytes(doc.as_bytes(), None).unwrap();
    assert_eq!(got.len(), 10_000);
    assert_eq!(got[9_999].title, "Item 9999 & more");
}

#[test]
fn a_five_megabyte_title_parses() {
    let big = "Breaking: ".repeat(500_000);
    let doc = format!(
        r#"<rss version="2.0"><channel><title>t</title><item><title>{big}</title><guid>1</guid></item></channel></rss>"#
    );
    let (_, got) = read_bytes(doc.as_bytes(), None).unwrap();
    assert_eq!(got[0].title.len(), big.trim_end().len());
    let (_, got) = read("huge_title.xml", None).unwrap();
    assert_eq!(got.len(), 2);
    assert!(got[0].title.len() > 250_000);
}

/// A feed whose tags hold 200,000 attributes each kept a core busy for
/// minutes per poll: the repair pass (the channel's attributes are
/// unquoted) and the sanitiser checked each attribute against all before
/// it. Polled from a loopback server, its items are archived, the first
/// through the streaming sanitiser and the second, whose table leaves it
/// to ammonia, as its text (ammonia would take minutes over it).
#[tokio::test]
async fn tags_with_200000_attributes_are_polled_in_seconds() {
    use crate::util::*;
    let attrs: String = (0..200_000).map(|i| format!(" a{i:06}")).collect();
    let unquoted: String = (0..200_000).map(|i| format!(" a{i:06}=v")).collect();
    let body = format!(
        "<rss version=\"2.0\"><channel{unquoted}><title>T</title><link>https://t.test/</link>\
         <item><guid>g1</guid><title>One</title>\
         <description><![CDATA[<p title=first{attrs} title=second>first</p>]]></description></item>\
         <item><guid>g2</guid><title>Two</title>\
         <description><![CDATA[<table><tr><td>cell</table><p{attrs}>second</p>]]></description></item>\
         </channel></rss>"
    );
    let server = FeedServer::start().await;
    server.set("/a.xml", Reply::feed(body));
    let dir = TestDir::new();
    let config = dir.write_config(&feed_block("a", &server.url("/a.xml"), ""));
    let (_c, clock) = fixed_clock("2026-11-24T09:00:00Z");
    let polled = poll(&config, clock).await;
    assert_eq!(polled[0].1.summary.new, 2, "{:?}", polled[0].1.outcome);
    assert_eq!(
        dir.column::<String>("SELECT summary_html FROM v_items ORDER BY title"),
        [r#"<p title="first">first</p>"#, "cellsecond"]
    );
}

#[test]
fn truncated_documents_are_errors_that_say_so() {
    let err = read("truncated.xml", None).unwrap_err();
    assert!(
        matches!(&err, ParseError::Invalid(m) if m.contains("truncated")),
        "{err}"
    );
}

// --- not a feed ----------------------------------------------------------------------

#[test]
fn html_pages_are_not_feeds_and_name_the_feed_they_link() {
    let err = read("html_page.html", Some("text/html; charset=utf-8")).unwrap_err();
    assert_eq!(
        err,
        ParseError::NotAFeed {
            content_type: Some("text/html; charset=utf-8".into()),
            alternate: Some("https://example.com/feeds/all.rss".into()),
        }
    );
    // An XHTML page with an XML declaration, served as XML.
    let err = read("xhtml_page.xhtml", Some("application/xml")).unwrap_err();
    assert_eq!(
        err,
        ParseError::NotAFeed {
            content_type: Some("application/xml".into()),
            alternate: Some("https://example.com/atom.xml".into()),
        }
    );
    assert!(err.to_string().contains("https://example.com/atom.xml"));
}

#[test]
fn other_bodies_are_not_feeds_either() {
    for (name, content_type) in [
        ("not_a_feed.json", "application/json"),
        ("plain_text.txt", "text/plain"),
        ("image.png", "image/png"),
    ] {
        assert_eq!(
            read(name, Some(content_type)).unwrap_err(),
            ParseError::NotAFeed {
                content_type: Some(content_type.into()),
                alternate: None,
            },
            "{name}"
        );
    }
    // A text body that carries a feed link (an error page served as
    // text/plain, say) still points the way.
    let err = read_bytes(
        br#"Moved. <link rel="alternate" type="application/atom+xml" href="/new.atom">"#,
        Some("text/plain"),
    )
    .unwrap_err();
    assert!(
        matches!(&err, ParseError::NotAFeed { alternate: Some(a), .. } if a == "https://example.com/new.atom"),
        "{err:?}"
    );
    assert_eq!(read("empty.xml", None).unwrap_err(), ParseError::Empty);
}
