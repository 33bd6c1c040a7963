//! Server hints about how often a feed should be polled, read from the
//! document itself: RSS `<ttl>` (minutes), `<skipHours>` / `<skipDays>`
//! (GMT windows in which not to poll) and the syndication module's
//! `sy:updatePeriod` / `sy:updateFrequency`. HTTP caching headers are read
//! by `fetch`. The orchestrator turns these into a floor under the
//! operator's cron schedule (`Pipeline::floor`, then
//! `schedule::PollState`): tickerfeed may poll less often than asked, never
//! more.

use std::sync::LazyLock;
use std::time::Duration;

use regex::bytes::Regex;

use crate::schedule::{SkipWindows, parse_day};

/// What a document says about its own polling.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DocHints {
    /// `<ttl>`, or `sy:updatePeriod` / `sy:updateFrequency`: the longer.
    pub min_interval: Option<Duration>,
    pub skip: SkipWindows,
}

fn re(p: &str) -> Regex {
    Regex::new(p).expect("static regex")
}

static TTL: LazyLock<Regex> = LazyLock::new(|| re(r"(?i)<ttl>\s*(\d{1,7})\s*</ttl>"));
static SKIP_HOURS: LazyLock<Regex> = LazyLock::new(|| re(r"(?is)<skipHours>(.*?)</skipHours>"));
static SKIP_DAYS: LazyLock<Regex> = LazyLock::new(|| re(r"(?is)<skipDays>(.*?)</skipDays>"));
static HOUR: LazyLock<Regex> = LazyLock::new(|| re(r"(?i)<hour>\s*(\d{1,2})\s*</hour>"));
static DAY: LazyLock<Regex> = LazyLock::new(|| re(r"(?i)<day>\s*([A-Za-z]+)\s*</day>"));
static SY_PERIOD: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)<sy:updatePeriod>\s*([a-z]+)\s*</sy:updatePeriod>"));
static SY_FREQUENCY: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)<sy:updateFrequency>\s*(\d{1,6})\s*</sy:updateFrequency>"));

fn text(m: &[u8]) -> &str {
    std::str::from_utf8(m).unwrap_or("")
}

/// Reads the hints of a feed document (bytes as fetched; the elements are
/// ASCII in every encoding feeds use, bar UTF-16, which simply yields none).
pub fn from_document(body: &[u8]) -> DocHints {
    let ttl = TTL
        .captures(body)
        .and_then(|c| text(&c[1]).parse::<u64>().ok())
        .filter(|m| *m > 0)
        .map(|m| Duration::from_secs(m * 60));
    let sy = SY_PERIOD.captures(body).and_then(|c| {
        let period = match text(&c[1]).to_ascii_lowercase().as_str() {
            "hourly" => 3_600,
            "daily" => 86_400,
            "weekly" => 7 * 86_400,
            "monthly" => 30 * 86_400,
            "yearly" => 365 * 86_400,
            _ => return None,
        };
        let freq = SY_FREQUENCY
            .captures(body)
            .and_then(|c| text(&c[1]).parse::<u64>().ok())
            .filter(|f| *f > 0)
            .unwrap_or(1);
        Some(Duration::from_secs(period / freq))
    });
    let mut skip = SkipWindows::default();
    if let Some(block) = SKIP_HOURS.captures(body) {
        for c in HOUR.captures_iter(&block[1]) {
            // RSS 2.0 says 0-23; some feeds write 24 for midnight.
            if let Ok(h) = text(&c[1]).parse::<u32>() {
                let h = h % 24;
                if !skip.hours.contains(&h) {
                    skip.hours.push(h);
                }
            }
        }
    }
    if let Some(block) = SKIP_DAYS.captures(body) {
        for c in DAY.captures_iter(&block[1]) {
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
}
