//! The fast path against the general one: on every fixture, on documents
//! shaped like the poll bench's corpus, and on near-misses of ordinary
//! feeds. Wherever the fast path takes a document, its feed must equal the
//! repair pass + feed-rs's; the counts make sure it does take some.

use std::path::{Path, PathBuf};

use url::Url;

use super::super::{ParseError, ParsedFeed, Route, parse_via};

use crate::pipeline::splitmix::SplitMix as Rng;

/// Both routes over `body`; returns the route the default one took.
fn compare(name: &str, body: &[u8], content_type: Option<&str>) -> Option<Route> {
    let base = Url::parse(&format!("https://example.com/feeds/{name}")).unwrap();
    let general = parse_via(body, &base, content_type, Route::General);
    let default = parse_via(body, &base, content_type, Route::Fast);
    if let Ok((_, route)) = &general {
        assert_eq!(*route, Route::General, "{name}");
    }
    let route = default.as_ref().ok().map(|(_, r)| *r);
    let strip = |r: Result<(ParsedFeed, Route), ParseError>| r.map(|(f, _)| f);
    assert_eq!(
        strip(default),
        strip(general),
        "{name}: the fast path's feed differs from the general path's"
    );
    route
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, out);
        } else {
            out.push(path);
        }
    }
}

#[test]
fn every_fixture_reads_the_same_either_way() {
    let mut paths = Vec::new();
    files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures"),
        &mut paths,
    );
    paths.sort();
    assert!(paths.len() > 50, "fixtures not found");
    let mut fast = Vec::new();
    for path in &paths {
        let body = std::fs::read(path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy();
        for content_type in [None, Some("application/xml"), Some("text/html")] {
            if compare(&name, &body, content_type) == Some(Route::Fast) {
                fast.push(name.to_string());
            }
        }
    }
    eprintln!("took the fast path: {fast:?}");
    // Ordinary fixtures do take the fast path (each under three content
    // types), and the repaired ones do not.
    for name in ["relative_links.xml", "duplicate_guids.xml", "bad_dates.xml"] {
        assert_eq!(
            fast.iter().filter(|f| *f == name).count(),
            3,
            "{name} should take the fast path; fast: {fast:?}"
        );
    }
    for name in [
        "html_entities.xml",
        "unescaped_html.xml",
        "atom03.xml",
        "billion_laughs.xml",
        "truncated.xml",
        "rss094.xml",
    ] {
        assert!(!fast.iter().any(|f| f == name), "{name} took the fast path");
    }
}

// ---------------------------------------------------------------------------
// The poll bench's shapes (benches/poll.rs `rss_doc` and `atom_doc`)

const WORDS: &[&str] = &[
    "market",
    "shares",
    "rally",
    "index",
    "bank",
    "rates",
    "profit",
    "warning",
    "deal",
    "merger",
    "oil",
    "price",
    "growth",
    "inflation",
    "tech",
    "stocks",
    "fall",
    "rise",
];

/// Bench-shaped text from the shared test generator.
trait Words {
    fn words(&mut self, n: usize) -> String;
}

impl Words for Rng {
    fn words(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| WORDS[self.below(WORDS.len())])
            .collect::<Vec<_>>()
            .join(" ")
    }
}

fn description(rng: &mut Rng, site: &str) -> String {
    format!(
        "<p>{}. Read more: <a href=\"{site}/news/related/{}\">{}</a>. {}.</p>\n\
         <p><img src=\"/images/2026/01/{:08x}.jpg\" alt=\"{}\" width=\"640\" height=\"360\"> \
         Analysts at S&amp;P said <em>{}</em>.</p>",
        rng.words(12),
        rng.words(3).replace(' ', "-"),
        rng.words(4),
        rng.words(10),
        rng.below(1 << 30),
        rng.words(3),
        rng.words(5)
    )
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn bench_rss(f: usize, rng: &mut Rng) -> String {
    let site = format!("https://www.outlet-{f:03}.example");
    let mut x = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom" xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel>
<title>Outlet feed-{f:03} - Top stories</title>
<link>{site}/</link>
<description>The latest headlines from feed-{f:03}</description>
<language>en-gb</language>
<lastBuildDate>Thu, 15 Jan 2026 12:00:00 +0000</lastBuildDate>
<ttl>15</ttl>
<atom:link href="http://127.0.0.1:8080/feeds/feed-{f:03}.rss" rel="self" type="application/rss+xml"/>
"#
    );
    for i in 0..20 {
        let link = format!(
            "{site}/news/2026/01/15/{}-{f}-{i}",
            rng.words(3).replace(' ', "-")
        );
        let (guid, permalink) = if i % 2 == 0 {
            (link.clone(), true)
        } else {
            (format!("{}", 100_000 + f * 1000 + i), false)
        };
        let mut title = rng.words(8);
        if i % 7 == 3 {
            title.push_str(" after M&A talks");
        }
        x.push_str(&format!(
            "<item>\n<title>{}</title>\n<link>{}?utm_source=x&amp;utm_medium=rss</link>\n\
             <guid isPermaLink=\"{permalink}\">{}</guid>\n<pubDate>Thu, 15 Jan 2026 {:02}:{:02}:00 +0000</pubDate>\n\
             <dc:creator>Ann Smith</dc:creator>\n<category>Markets</category>\n\
             <description><![CDATA[{}]]></description>\n</item>\n",
            xml_escape(&title),
            xml_escape(&link),
            xml_escape(&guid),
            i % 24,
            (i * 7) % 60,
            description(rng, &site)
        ));
    }
    x.push_str("</channel>\n</rss>\n");
    x
}

fn bench_atom(f: usize, rng: &mut Rng) -> String {
    let site = format!("https://www.outlet-{f:03}.example");
    let mut x = format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en">
<title>Outlet feed-{f:03}</title>
<subtitle>The latest headlines from feed-{f:03}</subtitle>
<id>tag:outlet-{f:03}.example,2026:feed</id>
<updated>2026-01-15T12:00:00+00:00</updated>
<link rel="alternate" type="text/html" href="{site}/"/>
<link rel="self" type="application/atom+xml" href="http://127.0.0.1:8080/feeds/feed-{f:03}.atom"/>
"#
    );
    for i in 0..20 {
        x.push_str(&format!(
            "<entry>\n<title type=\"text\">{}</title>\n<id>tag:outlet-{f:03}.example,2026:{i}</id>\n\
             <link rel=\"alternate\" type=\"text/html\" href=\"{site}/news/{i}\"/>\n\
             <published>2026-01-15T{:02}:00:00+00:00</published>\n<updated>2026-01-15T{:02}:05:00+00:00</updated>\n\
             <author><name>Wire Staff</name></author>\n<category term=\"Markets\"/>\n\
             <summary type=\"html\">{}</summary>\n</entry>\n",
            xml_escape(&rng.words(7)),
            i % 24,
            i % 24,
            xml_escape(&description(rng, &site))
        ));
    }
    x.push_str("</feed>\n");
    x
}

#[test]
fn bench_shaped_feeds_take_the_fast_path_and_read_the_same() {
    let mut rng = Rng(0x7469_636b);
    for f in 0..6 {
        let rss = bench_rss(f, &mut rng);
        assert_eq!(
            compare("bench.rss", rss.as_bytes(), Some("application/rss+xml")),
            Some(Route::Fast),
            "{rss}"
        );
        let atom = bench_atom(f, &mut rng);
        assert_eq!(
            compare("bench.atom", atom.as_bytes(), Some("application/atom+xml")),
            Some(Route::Fast),
            "{atom}"
        );
    }
}

/// The real corpus, when `TF_PARSE_CORPUS` names the folder the poll bench
/// writes (`TF_BENCH_SERVE=1`): every document must take the fast path.
#[test]
fn the_poll_bench_corpus_takes_the_fast_path_when_given() {
    let Some(dir) = std::env::var_os("TF_PARSE_CORPUS") else {
        return;
    };
    let mut paths = Vec::new();
    files(Path::new(&dir), &mut paths);
    assert!(!paths.is_empty());
    for path in paths {
        let body = std::fs::read(&path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy();
        assert_eq!(
            compare(&name, &body, Some("application/xml")),
            Some(Route::Fast),
            "{name}"
        );
    }
}

// ---------------------------------------------------------------------------
// Near-misses: each reads the same either way; `Fast` ones must be taken.

const RSS_HEAD: &str = r#"<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:atom="http://www.w3.org/2005/Atom" xmlns:wfw="http://wellformedweb.org/CommentAPI/"><channel>"#;
const RSS_TAIL: &str = "</channel></rss>";
const ATOM_HEAD: &str = r#"<feed xmlns="http://www.w3.org/2005/Atom">"#;
const ATOM_TAIL: &str = "</feed>";

fn rss(inner: &str) -> String {
    format!("{RSS_HEAD}{inner}{RSS_TAIL}")
}

fn atom(inner: &str) -> String {
    format!("{ATOM_HEAD}{inner}{ATOM_TAIL}")
}

#[test]
fn ordinary_variations_take_the_fast_path() {
    let cases = [
        rss("<title>  T  </title><item><title>A</title></item>"),
        rss("<item><guid>  g  </guid><guid></guid></item>"),
        rss("<item><guid isPermaLink=\"false\">http://cms.test/1</guid></item>"),
        rss("<item><guid isPermalink=\" FALSE \"> http://cms.test/&amp;2 </guid><guid>http://e.com/3</guid></item><item><link>http://e.com/a</link><guid isPermaLink=\"false\">http://cms.test/4</guid></item>"),
        rss("<item><link>javascript:x()</link><guid isPermaLink=\"false\"><![CDATA[http://cms.test/]]>5</guid><foo:guid isPermaLink=\"false\">http://cms.test/6</foo:guid></item>"),
        rss("<item><link>http://e.com/a</link><guid isPermaLink=\"false\">http://cms.test/7</guid></item>"),
        rss("<item><title></title><description></description><link></link></item>"),
        rss("<item><title>a<!-- c -->b<?pi x?>c</title></item>"),
        rss("<item><title>x &amp; &lt;y&gt; &quot;&apos; &#233; &#xE9; &#0233;</title></item>"),
        rss("<item><title><![CDATA[<b>]]>&amp;<![CDATA[]]></title></item>"),
        rss("<item><title>one</title><title>two</title></item>"),
        rss("<item><pubDate>Tue, 01 Jul 2003 10:52:37 GMT</pubDate><pubDate></pubDate></item>"),
        rss("<item><pubDate>yesterday</pubDate><dc:date>2026-01-02T03:04:05Z</dc:date></item>"),
        rss("<item><updated>2026-01-02T03:04:05Z</updated><atom:updated>bad</atom:updated></item>"),
        rss("<item><link>HTTP://Example.COM/a b</link><link>/relative</link><link> x </link></item>"),
        rss("<item><comments>http://e.com/c</comments><link>http://e.com/c</link><comments>http://e.com/d</comments></item>"),
        rss("<item><wfw:commentRss>http://e.com/rss</wfw:commentRss></item>"),
        rss("<item><author>ann@example.com (Ann Smith)</author><author>Bob</author></item>"),
        rss("<item><dc:creator>mailto:ann@example.com</dc:creator><dc:creator>Ann &lt;ann@example.com&gt;</dc:creator></item>"),
        rss("<item><category domain=\"d &amp; e\"> c </category><category/></item>"),
        rss("<item><content:encoded><![CDATA[ <p>Body</p> ]]></content:encoded></item>"),
        rss("<item><content:encoded></content:encoded><content:encoded> </content:encoded></item>"),
        rss("<item><description>  &lt;p&gt;x&lt;/p&gt; </description></item>"),
        rss("<language>EN-GB</language><ttl> 15</ttl><ttl>30</ttl><copyright>c</copyright>"),
        rss("<managingEditor>ed@example.com (Ed)</managingEditor><webMaster>Web</webMaster>"),
        rss("<generator uri=\"http://g\"> Gen </generator><category>News</category>"),
        rss("<pubDate>Wed, 02 Oct 2002 08:00:00 EST</pubDate><lastBuildDate>2026-01-02</lastBuildDate>"),
        rss("<image><url>http://e.com/i.png</url><title>I</title><link>http://e.com/</link><width>200</width><height>40</height><description>d</description></image>"),
        rss("<image><title>no url</title></image><image><url> u </url></image>"),
        rss("<atom:link href=\"http://e.com/self\" rel=\"self\" length=\"12\" hreflang=\"en\" title=\"t\"/><atom:link/>"),
        rss("<unknown><title>not the title</title></unknown><item><x:title xmlns:x=\"urn:x\">no</x:title></item>"),
        rss("<item><foo:title>undeclared prefix reads as RSS</foo:title></item>"),
        rss("<item><title>T</title><enclosure_not>x</enclosure_not></item><item/>"),
        format!("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n<!-- c -->\n{}", rss("<item><title>A</title></item>")),
        r#"<rss version=""><channel><title>T</title></channel></rss>"#.to_string(),
        r#"<rss version="2.0"><foo/><channel><title>T</title></channel><channel><title>U</title></channel></rss>"#.to_string(),
        r#"<rss version="2.0"><channel><title>T</title></channel></rss><!-- after -->junk"#.to_string(),
        "<rss version=\"2.0\"><channel><title>A\r\nB\tC</title><item><title>\u{e9}\u{1F600}</title></item></channel></rss>".to_string(),
        atom("<title>T</title><id> i </id><updated>2026-01-02T03:04:05Z</updated><entry><id></id></entry>"),
        atom("<title type=\"html\">&lt;b&gt;T&lt;/b&gt;</title><subtitle type=\"text\">S</subtitle><rights>R</rights>"),
        atom("<title></title><entry><title/><summary></summary></entry>"),
        atom("<author><name> N </name><email>e@x</email><uri>u</uri></author><contributor><email>c@x</email></contributor><author><uri>only</uri></author>"),
        atom("<author><name>N</name><uri>u</uri><uri></uri></author>"),
        atom("<link href=\"http://e.com/\"/><link href=\"/rel\" rel=\"self\" type=\"t\" length=\"x\"/><link rel=\"no-href\"/>"),
        atom("<category term=\" t \" scheme=\"s\" label=\"l\"/><category scheme=\"no-term\"/>"),
        atom("<generator uri=\"u\" version=\"1\"> G </generator><icon>http://e.com/i.png</icon><logo>/l.png</logo>"),
        atom("<entry><content>plain</content></entry><entry><content type=\"html\">&lt;p&gt;x&lt;/p&gt;</content></entry>"),
        atom("<entry><content type=\"html\" xml:lang=\"fr\">x</content><content type=\"text\"></content></entry>"),
        atom("<entry><published>2026-01-02T03:04:05Z</published><pubDate>bad</pubDate><updated/></entry>"),
        atom("<entry><link href=\"http://e.com/a\"/><link rel=\"replies\" href=\"http://e.com/c\"/><rights type=\"html\">r</rights></entry>"),
        atom("<x:entry xmlns:x=\"http://www.w3.org/2005/Atom\"><x:title>prefixed</x:title></x:entry>"),
        atom("<entry xmlns:a=\"urn:other\"><a:title>other ns</a:title><title>real</title></entry>"),
        r#"<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en-GB"><title>T</title></feed>"#.to_string(),
    ];
    for (i, doc) in cases.iter().enumerate() {
        assert_eq!(
            compare(&format!("case-{i}"), doc.as_bytes(), None),
            Some(Route::Fast),
            "case {i} should take the fast path: {doc}"
        );
    }
}

#[test]
fn unusual_documents_fall_back_and_read_the_same() {
    let cases = [
        // Repairs.
        rss("<item><title>Caf&eacute;</title></item>"),
        rss("<item><title>a & b</title></item>"),
        rss("<item><title>&#150; &#0; &#X41; &#000000065;</title></item>"),
        rss("<item><title>&#150;</title></item>"),
        rss("<item><description><p>unescaped</p></description></item>"),
        rss("<item><description>a<!-- c -->b</description></item>"),
        rss("<item><content:encoded><b>x</b></content:encoded></item>"),
        rss("<item><title>T</title><img src=\"x\"></item>"),
        rss("<item><title>a <br> b</title></item>"),
        rss("<item><title>unclosed</item>"),
        rss("<item><title>T</title></item>"[..20].to_string().as_str()),
        format!("<!DOCTYPE rss [<!ENTITY x \"y\">]>{}", rss("<title>&x;</title>")),
        format!("{}<?xml version=\"1.0\"?>", rss("<title>T</title>").replace("</channel>", "<?xml version=\"1.0\"?></channel>")),
        rss("<item><link a=b>x</link></item>"),
        rss("<item><category domain=\"&nbsp;\">c</category></item>"),
        rss("<item><category domain=\"a<b\">c</category></item>"),
        r#"<rss version="0.91"><channel><title>T</title></channel></rss>"#.to_string(),
        r#"<rss version=" 2.0"><channel><title>T</title></channel></rss>"#.to_string(),
        r#"<rss><channel><title>T</title></channel></rss>"#.to_string(),
        r#"<rss version="2.0"><title>no channel</title></rss>"#.to_string(),
        r#"<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"><channel><title>T</title></channel></rdf:RDF>"#.to_string(),
        r#"<feed version="0.3" xmlns="http://purl.org/atom/ns#"><title>T</title></feed>"#.to_string(),
        r#"<feed><title>no namespace</title></feed>"#.to_string(),
        r#"<entry xmlns="http://www.w3.org/2005/Atom"><title>T</title></entry>"#.to_string(),
        // Extensions and constructs not written in the fast path.
        rss("<item><enclosure url=\"http://e.com/a.mp3\" length=\"1\" type=\"audio/mpeg\"/></item>"),
        rss("<item><enclosure url=\"/a.mp3\" length=\"1\" type=\"audio/mpeg\"/></item>"),
        r#"<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"><channel><item><media:title>m</media:title></item></channel></rss>"#.to_string(),
        r#"<rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"><channel><itunes:author>a</itunes:author></channel></rss>"#.to_string(),
        atom("<title type=\"xhtml\"><div xmlns=\"http://www.w3.org/1999/xhtml\">x</div></title>"),
        atom("<title type=\"text/plain\">sloppy</title>"),
        atom("<title type=\"HTML\">sloppy</title>"),
        atom("<entry><content type=\"text/html\">sloppy</content></entry>"),
        atom("<entry><content src=\"http://e.com/x\" type=\"text/html\"/></entry>"),
        atom("<entry><content type=\"application/xml\"><x/></content></entry>"),
        atom("<entry><content type=\"image/png\">iVBOR</content></entry>"),
        atom("<entry><summary type=\"html\"><p>unescaped</p></summary></entry>"),
        atom("<title type=\"text\"><b>child only</b></title>"),
        atom("<entry><title>T<b>bold</b> tail</title></entry>"),
        atom("<entry><content><p>untyped</p></content></entry>"),
        atom("<entry xml:base=\"http://e.com/\"><link href=\"a\"/></entry>"),
        atom("<entry><author xmlns:o=\"http://purl.org/atom/ns#\"><o:name>n</o:name></author></entry>"),
        // Names repair and quick-xml may read apart.
        rss("<item><t\u{e9}tle>x</t\u{e9}tle></item>"),
        rss("<item><a:b:c>x</a:b:c></item>"),
        // Too deep.
        rss(&format!("{}{}", "<x>".repeat(600), "</x>".repeat(600))),
    ];
    for (i, doc) in cases.iter().enumerate() {
        assert_ne!(
            compare(&format!("miss-{i}"), doc.as_bytes(), None),
            Some(Route::Fast),
            "case {i} should fall back: {doc}"
        );
    }
}
