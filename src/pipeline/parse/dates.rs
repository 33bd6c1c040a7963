//! Feed dates: the timestamp parser handed to feed-rs.
//!
//! feed-rs reads every date by rewriting it with up to nine regular
//! expressions and then parsing the result, so a well-formed date costs as
//! much as a broken one (several percent of a poll). Nearly every feed
//! sends RFC 3339 (Atom, JSON Feed) or RFC 2822 (RSS), so those are read
//! strictly first. Only a date neither reads goes through feed-rs's
//! repairs, copied here because feed-rs keeps them private
//! (`parser/util/mod.rs` in feed-rs 3.0.0, MIT licence). The result is the
//! same as feed-rs's for every date feed-rs reads: its repairs never change
//! the meaning of a date the strict parsers accept, and a test compares the
//! two. One more repair comes last: a zone named by a common abbreviation
//! that RFC 2822 does not list (`BST`, `CET`, `AEST`), which feed-rs reads
//! as no date at all, is read by its offset ([`NAMED_ZONES`]).

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use regex::Regex;

/// The instant `text` names, if it is a date in any form feed-rs reads.
pub(super) fn timestamp(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    DateTime::parse_from_rfc3339(text)
        .or_else(|_| DateTime::parse_from_rfc2822(text))
        .ok()
        .map(|t| t.with_timezone(&Utc))
        .or_else(|| lenient(text))
        .or_else(|| named_zone(text))
}

/// Zone abbreviations feeds use beyond RFC 2822's (`UT`, `GMT` and the
/// North American ones, which chrono reads), with their offsets. Only
/// names one zone in practice: `IST` (India, Ireland, Israel) and `AST`
/// (Atlantic, Arabia) are left out, as a date with no zone is better than
/// one hours off. `BST` is British Summer Time, as English-language feeds
/// mean it.
const NAMED_ZONES: &[(&str, &str)] = &[
    ("BST", "+0100"),
    ("WET", "+0000"),
    ("WEST", "+0100"),
    ("CET", "+0100"),
    ("CEST", "+0200"),
    ("MET", "+0100"),
    ("MEST", "+0200"),
    ("EET", "+0200"),
    ("EEST", "+0300"),
    ("MSK", "+0300"),
    ("HKT", "+0800"),
    ("SGT", "+0800"),
    ("AWST", "+0800"),
    ("JST", "+0900"),
    ("KST", "+0900"),
    ("ACST", "+0930"),
    ("ACDT", "+1030"),
    ("AEST", "+1000"),
    ("AEDT", "+1100"),
    ("NZST", "+1200"),
    ("NZDT", "+1300"),
    ("HST", "-1000"),
    ("AKST", "-0900"),
    ("AKDT", "-0800"),
];

/// `text` read with a trailing zone abbreviation of [`NAMED_ZONES`]
/// replaced by its offset. feed-rs reads such a date as none, and an
/// undated entry sorts at its arrival: a UK feed's whole summer backlog
/// would come in the order it was polled, not published.
fn named_zone(text: &str) -> Option<DateTime<Utc>> {
    let (rest, zone) = text.rsplit_once(' ')?;
    let (_, offset) = NAMED_ZONES
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(zone))?;
    let text = format!("{} {offset}", rest.trim_end());
    DateTime::parse_from_rfc2822(&text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
        .or_else(|| lenient(&text))
}

/// feed-rs's `parse_timestamp_lenient`: RFC 3339, RFC 2822 and RFC 1123,
/// each after rewriting what feeds commonly get wrong.
fn lenient(text: &str) -> Option<DateTime<Utc>> {
    let rewrite = |fixes: &[(Regex, &str)]| {
        fixes.iter().fold(text.to_string(), |s, (re, with)| {
            re.replace(&s, *with).into_owned()
        })
    };
    DateTime::parse_from_rfc3339(rewrite(&RFC3339).trim())
        .or_else(|_| DateTime::parse_from_rfc2822(&rewrite(&RFC2822)))
        .or_else(|_| DateTime::parse_from_str(&rewrite(&RFC1123), "%d %b %Y %H:%M:%S %z"))
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn fixes(rules: &[(&str, &'static str)]) -> Vec<(Regex, &'static str)> {
    rules
        .iter()
        .map(|(pattern, with)| (Regex::new(pattern).expect("valid date fix"), *with))
        .collect()
}

static RFC3339: LazyLock<Vec<(Regex, &str)>> = LazyLock::new(|| {
    fixes(&[
        // A missing colon in the offset.
        (r"(\+|-)(\d{2})(\d{2})", "${1}${2}:${3}"),
        // A date alone: midnight UTC.
        (r"-\d{2}$", "${0}T00:00:00+00:00"),
    ])
});

static RFC2822: LazyLock<Vec<(Regex, &str)>> = LazyLock::new(|| {
    fixes(&[
        // "UTC" and "-0000" for the offset.
        ("(UTC|-0000$)", "+0000"),
        // A weekday that is wrong or not abbreviated: it adds nothing.
        ("(Sun|Mon|Tue|Wed|Thu|Fri|Sat)[a-z]*, ", ""),
        // Long month names.
        (
            "(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*",
            "$1",
        ),
        // Month before day.
        (
            "(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) (\\d{1,2}) (\\d{4})",
            "$2 $1 $3",
        ),
        // Hour 24 of the same day: its start.
        (" 24:", " 00:"),
        // Single-digit hours.
        (" ([0-9]):", " 0${1}:"),
    ])
});

static RFC1123: LazyLock<Vec<(Regex, &str)>> = LazyLock::new(|| {
    fixes(&[
        // "Z" for the offset.
        (" Z$", " +0000"),
        // The weekday, often in another language.
        ("^[[:alpha:]]{3}, ", ""),
    ])
});

#[cfg(test)]
mod tests {
    use super::*;

    /// What feed-rs's own (default) date parser makes of `date`, read
    /// through a one-item RSS document.
    fn feed_rs_reading(date: &str) -> Option<DateTime<Utc>> {
        let xml = format!(
            "<rss version=\"2.0\"><channel><item><guid>g</guid><pubDate>{date}</pubDate></item></channel></rss>"
        );
        feed_rs::parser::parse(xml.as_bytes()).unwrap().entries[0].published
    }

    #[test]
    fn every_date_reads_as_feed_rs_reads_it() {
        let dates = [
            // Well formed.
            "Tue, 01 Jul 2003 10:52:37 +0000",
            "Tue, 1 Jul 2003 10:52:37 GMT",
            "1 Jul 2003 10:52:37 -0500",
            "Wed, 02 Oct 2002 08:00:00 EST",
            "02 Oct 02 08:00 +0100",
            "2026-03-04T05:06:07Z",
            "2026-03-04T05:06:07.123456+01:30",
            "2026-03-04t05:06:07z",
            // Repaired by feed-rs's rules.
            "Sat, 25 Aug 2012 10:00:00 GMT",
            "Thurs, 13 Jul 2011 07:38:00 GMT",
            "Tuesday, 01 July 2003 10:52:37 UTC",
            "Tue, 01 Jul 2003 10:52:37 -0000",
            "Tue, Jul 01 2003 10:52:37 +0000",
            "Tue, 01 Jul 2003 24:10:00 +0000",
            "Tue, 01 Jul 2003 9:52:37 +0000",
            "2026-03-04T05:06:07+0100",
            "2026-03-04",
            "Di, 01 Jul 2003 10:52:37 Z",
            "  2026-03-04T05:06:07Z  ",
            // Not dates.
            "",
            "yesterday",
            "2026-13-45T99:99:99Z",
            "Tue, 31 Feb 2003 10:52:37 +0000",
        ];
        for date in dates {
            assert_eq!(timestamp(date), feed_rs_reading(date), "{date:?}");
        }
        // The comparison is not vacuous: the repaired forms do read.
        assert!(timestamp("Thurs, 13 Jul 2011 07:38:00 GMT").is_some());
        assert!(timestamp("2026-03-04").is_some());
        assert!(timestamp("yesterday").is_none());
    }

    /// A reviewer's UK feed: every summer entry, dated `BST`, came in
    /// undated and sorted in the order it was polled.
    #[test]
    fn a_zone_named_by_a_common_abbreviation_is_read_by_its_offset() {
        let utc = |s: &str| Some(s.parse::<DateTime<Utc>>().unwrap());
        for (date, want) in [
            ("Mon, 06 Jul 2026 10:00:00 BST", "2026-07-06T09:00:00Z"),
            ("Tue, 01 Jul 2003 10:52:37 CEST", "2003-07-01T08:52:37Z"),
            ("Thu, 3 Dec 2026 9:05:00 cet", "2026-12-03T08:05:00Z"),
            (
                "Thursday, 03 December 2026 18:00:00 AEDT",
                "2026-12-03T07:00:00Z",
            ),
            ("03 Dec 2026 12:00:00 HST", "2026-12-03T22:00:00Z"),
        ] {
            assert_eq!(feed_rs_reading(date), None, "feed-rs reads {date:?}");
            assert_eq!(timestamp(date), utc(want), "{date:?}");
        }
        // A zone that names several, or none: no date rather than a wrong one.
        for date in [
            "Mon, 06 Jul 2026 10:00:00 IST",
            "Mon, 06 Jul 2026 10:00:00 XYZ",
            "BST",
            "yesterday BST",
        ] {
            assert_eq!(timestamp(date), None, "{date:?}");
        }
    }
}
