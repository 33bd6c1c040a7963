//! Server hints about how often a feed should be polled, read from the
//! document itself: RSS `<ttl>` (minutes), `<skipHours>` / `<skipDays>`
//! (GMT windows in which not to poll) and the syndication module's
//! `sy:updatePeriod` / `sy:updateFrequency`. HTTP caching headers are read
//! by `fetch`. The orchestrator turns these into a floor under the
//! operator's cron schedule (`Pipeline::floor`, then
//! `schedule::PollState`): tickerfeed may poll less often than asked, never
//! more. The archive keeps what a document said (`schedule::DocHints`),
//! so a 304, which brings no document, still honours it.

use std::sync::LazyLock;
use std::time::Duration;

use regex::bytes::Regex;

use crate::schedule::{DocHints, SkipWindows, parse_day};

fn re(p: &str) -> Regex {
    Regex::new(p).expect("static regex")
}

/// One hint element: the name that follows `<` (ASCII, any case) and the
/// pattern, anchored at that `<`, that reads it.
struct Element {
    name: &'static [u8],
    pattern: LazyLock<Regex>,
    /// The pattern reads on to the element's close wherever that is, so
    /// where it fails no close follows, and it would fail at every later
    /// opening too: it is not tried again (one `<skipHours>` after
    /// another, never closed, would otherwise be read to the end of the
    /// document from each).
    to_close: bool,
}

/// The hint elements, in the order of the indices below. Each pattern is
/// tried only where its element opens, so a document is read once, not
/// once per element: four case-insensitive searches of every body took
/// 11 ms of a 200-feed first poll's CPU, one pass takes 3.5 ms (the
/// stages bench's `hints` row; issue 20).
static ELEMENTS: [Element; 5] = [
    Element {
        name: b"ttl>",
        pattern: LazyLock::new(|| re(r"(?i)^<ttl>\s*(\d{1,7})\s*</ttl>")),
        to_close: false,
    },
    Element {
        name: b"skiphours>",
        pattern: LazyLock::new(|| re(r"(?is)^<skipHours>(.*?)</skipHours>")),
        to_close: true,
    },
    Element {
        name: b"skipdays>",
        pattern: LazyLock::new(|| re(r"(?is)^<skipDays>(.*?)</skipDays>")),
        to_close: true,
    },
    Element {
        name: b"sy:updateperiod>",
        pattern: LazyLock::new(|| re(r"(?i)^<sy:updatePeriod>\s*([a-z]+)\s*</sy:updatePeriod>")),
        to_close: false,
    },
    Element {
        name: b"sy:updatefrequency>",
        pattern: LazyLock::new(|| {
            re(r"(?i)^<sy:updateFrequency>\s*(\d{1,6})\s*</sy:updateFrequency>")
        }),
        to_close: false,
    },
];
static HOUR: LazyLock<Regex> = LazyLock::new(|| re(r"(?i)<hour>\s*(\d{1,2})\s*</hour>"));
static DAY: LazyLock<Regex> = LazyLock::new(|| re(r"(?i)<day>\s*([A-Za-z]+)\s*</day>"));

/// Where each element sits in [`ELEMENTS`] and in what [`read`] returns.
const TTL: usize = 0;
const SKIP_HOURS: usize = 1;
const SKIP_DAYS: usize = 2;
const SY_PERIOD: usize = 3;
const SY_FREQUENCY: usize = 4;

/// The first reading of each element of [`ELEMENTS`], as a leftmost
/// search of the whole document would find it: the captured group's
/// bytes. One pass over the `<`s of `body`.
fn read(body: &[u8]) -> [Option<&[u8]>; 5] {
    read_counting(body, &mut 0)
}

/// [`read`], adding to `tries` each pattern it tries.
fn read_counting<'d>(body: &'d [u8], tries: &mut usize) -> [Option<&'d [u8]>; 5] {
    let mut found = [None; 5];
    // Found, or known to be absent.
    let mut settled = [false; 5];
    for at in memchr::memchr_iter(b'<', body) {
        let rest = &body[at + 1..];
        // Every element's name starts with `t` or `s`: most tags are
        // passed over on their first letter.
        if !matches!(rest.first(), Some(b't' | b'T' | b's' | b'S')) {
            continue;
        }
        for (i, element) in ELEMENTS.iter().enumerate() {
            let opens = rest
                .get(..element.name.len())
                .is_some_and(|n| n.eq_ignore_ascii_case(element.name));
            if !opens || settled[i] {
                continue;
            }
            *tries += 1;
            match element.pattern.captures(&body[at..]) {
                Some(c) => {
                    found[i] = Some(c.get(1).map_or(&b""[..], |m| m.as_bytes()));
                    settled[i] = true;
                }
                None => settled[i] = element.to_close,
            }
        }
        if settled.iter().all(|s| *s) {
            break;
        }
    }
    found
}

fn text(m: &[u8]) -> &str {
    std::str::from_utf8(m).unwrap_or("")
}

/// Reads the hints of a feed document (bytes as fetched; the elements are
/// ASCII in every encoding feeds use, bar UTF-16, which simply yields none).
pub fn from_document(body: &[u8]) -> DocHints {
    let found = read(body);
    let ttl = found[TTL]
        .and_then(|m| text(m).parse::<u64>().ok())
        .filter(|m| *m > 0)
        .map(|m| Duration::from_secs(m * 60));
    let sy = found[SY_PERIOD].and_then(|p| {
        let period = match text(p).to_ascii_lowercase().as_str() {
            "hourly" => 3_600,
            "daily" => 86_400,
            "weekly" => 7 * 86_400,
            "monthly" => 30 * 86_400,
            "yearly" => 365 * 86_400,
            _ => return None,
        };
        let freq = found[SY_FREQUENCY]
            .and_then(|f| text(f).parse::<u64>().ok())
            .filter(|f| *f > 0)
            .unwrap_or(1);
        Some(Duration::from_secs(period / freq))
    });
    let mut skip = SkipWindows::default();
    if let Some(block) = found[SKIP_HOURS] {
        for c in HOUR.captures_iter(block) {
            // RSS 2.0 says 0-23; some feeds write 24 for midnight.
            if let Ok(h) = text(&c[1]).parse::<u32>() {
                let h = h % 24;
                if !skip.hours.contains(&h) {
                    skip.hours.push(h);
                }
            }
        }
    }
    if let Some(block) = found[SKIP_DAYS] {
        for c in DAY.captures_iter(block) {
            if let Some(d) = parse_day(text(&c[1]))
                && !skip.days.contains(&d)
            {
                skip.days.push(d);
            }
        }
    }
    // A feed that skips every hour or every day would never be polled:
    // ignore such a window rather than silence the feed.
    if skip.hours.len() >= 24 {
        skip.hours.clear();
    }
    if skip.days.len() >= 7 {
        skip.days.clear();
    }
    DocHints {
        min_interval: ttl.max(sy),
        skip,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Weekday;

    #[test]
    fn reads_ttl_skips_and_syndication() {
        let doc = br#"<rss version="2.0" xmlns:sy="http://purl.org/rss/1.0/modules/syndication/"><channel>
            <ttl>60</ttl><sy:updatePeriod>daily</sy:updatePeriod><sy:updateFrequency>4</sy:updateFrequency>
            <skipHours><hour>0</hour><hour>1</hour><hour>24</hour></skipHours>
            <skipDays><day>Saturday</day><day>Sunday</day></skipDays></channel></rss>"#;
        let h = from_document(doc);
        // ttl 60 min vs daily/4 = 6 h: the longer wins.
        assert_eq!(h.min_interval, Some(Duration::from_secs(6 * 3600)));
        assert_eq!(h.skip.hours, vec![0, 1]);
        assert_eq!(h.skip.days, vec![Weekday::Sat, Weekday::Sun]);
        let (hours, days) = h.skip.to_db();
        assert_eq!(
            SkipWindows::from_db(hours.as_deref(), days.as_deref()),
            h.skip
        );
    }

    #[test]
    fn no_hints_and_silly_windows() {
        assert_eq!(
            from_document(b"<rss><channel></channel></rss>"),
            DocHints::default()
        );
        let all: String = (0..24).map(|h| format!("<hour>{h}</hour>")).collect();
        let h = from_document(format!("<skipHours>{all}</skipHours>").as_bytes());
        assert!(h.skip.hours.is_empty());
    }

    /// The reading before issue 20: one unanchored case-insensitive search
    /// of the whole document per element.
    fn searched_whole(body: &[u8]) -> [Option<Vec<u8>>; 5] {
        let patterns = [
            r"(?i)<ttl>\s*(\d{1,7})\s*</ttl>",
            r"(?is)<skipHours>(.*?)</skipHours>",
            r"(?is)<skipDays>(.*?)</skipDays>",
            r"(?i)<sy:updatePeriod>\s*([a-z]+)\s*</sy:updatePeriod>",
            r"(?i)<sy:updateFrequency>\s*(\d{1,6})\s*</sy:updateFrequency>",
        ];
        patterns.map(|p| re(p).captures(body).map(|c| c[1].to_vec()))
    }

    fn read_owned(body: &[u8]) -> [Option<Vec<u8>>; 5] {
        read(body).map(|f| f.map(<[u8]>::to_vec))
    }

    /// Elements opened again and again and never closed: each is read to
    /// the end of the document once, not once per opening (which took 51 s
    /// for a megabyte of them).
    #[test]
    fn elements_never_closed_are_read_once() {
        let doc = "<skipHours><hour>1</hour><skipDays><day>Monday</day>".repeat(20_000);
        let mut tries = 0;
        assert_eq!(read_counting(doc.as_bytes(), &mut tries), [None; 5]);
        assert_eq!(tries, 2);
        assert_eq!(read_owned(doc.as_bytes()), searched_whole(doc.as_bytes()));
    }

    #[test]
    fn one_pass_reads_what_a_search_per_element_read() {
        let tricky: Vec<&[u8]> = vec![
            // The first <ttl> is no number; the second is the reading.
            b"<ttl>soon</ttl><item/><TTL> 30 </TTL>",
            // Any case, elements in any order, frequency before period.
            b"<SY:UPDATEFREQUENCY>2</sy:UpdateFrequency><Sy:UpdatePeriod>Hourly</SY:UPDATEPERIOD>",
            // An open element with no close, then a whole one.
            b"<skipHours><hour>3</hour><skipHours><hour>4</hour></skipHours>",
            b"<skipDays><day>Monday</day>",
            b"<ttl>12345678</ttl><ttl>5</ttl>",
            b"<<ttl>7</ttl><",
            b"<",
            b"",
            b"text <ttl",
            b"<sy:updatePeriod>\n daily \n</sy:updatePeriod><sy:updateFrequency>x</sy:updateFrequency><sy:updateFrequency>3</sy:updateFrequency>",
        ];
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/feeds");
        let mut fixtures = Vec::new();
        for entry in std::fs::read_dir(&dir).expect("the feed fixtures") {
            let doc = std::fs::read(entry.expect("an entry").path()).expect("a fixture");
            // And the same document with every hint after all its markup.
            let mut hinted = doc.clone();
            hinted.extend_from_slice(
                b"<ttl>15</ttl><skipHours><hour>1</hour></skipHours><skipDays><day>Sunday</day>\
                  </skipDays><sy:updatePeriod>daily</sy:updatePeriod>\
                  <sy:updateFrequency>2</sy:updateFrequency>",
            );
            fixtures.extend([doc, hinted]);
        }
        assert!(fixtures.len() > 20, "{} fixtures", fixtures.len());
        let mut with_hints = 0;
        for doc in tricky
            .iter()
            .copied()
            .chain(fixtures.iter().map(Vec::as_slice))
        {
            let expected = searched_whole(doc);
            with_hints += usize::from(expected.iter().any(Option::is_some));
            assert_eq!(
                read_owned(doc),
                expected,
                "{}",
                String::from_utf8_lossy(&doc[..doc.len().min(300)])
            );
        }
        assert!(
            with_hints > fixtures.len() / 2,
            "only {with_hints} documents carry hints"
        );
    }
}
