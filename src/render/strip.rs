//! The human-readable ticker strip: a [`Snapshot`] as one paragraph of HTML,
//! appended to an entry's HTML by all three renderers.
//!
//! Readers ignore the `tf:snapshot` elements, so this paragraph is all a
//! person sees. It has to survive strict sanitisers (Miniflux keeps `p`,
//! `strong`, `em`, `br`, `time[datetime]`, `abbr[title]` and a few more, and
//! drops every `style` and `class`), so it uses only those tags and carries
//! no meaning in colour: direction is an arrow *and* an explicit sign,
//! mentioned and stale quotes are said in words. (The allowlist is in
//! miniflux/v2 `internal/reader/sanitizer/sanitizer.go`.)
//!
//! ```text
//! <p><strong>NYSE - LSE</strong>: <strong><abbr title="BP plc">BP</abbr> ▲ +0.67% 29.72 USD</strong> (mentioned)
//!  · RELX ▼ −1.10% 46.75 USD (stale)<br/>as of <time datetime="2026-07-24T15:52:02Z">24 Jul 2026 15:52 UTC</time>
//!  · data: Yahoo Finance, Finnhub</p>
//! ```
//!
//! Everything comes from the stored snapshot (no clock), so the same archive
//! renders the same bytes. Where the strip goes is `for_entry` and
//! `append`; each renderer picks the HTML its readers show.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use rust_decimal::{Decimal, RoundingStrategy};

use super::{MergedFeed, rfc3339};
use crate::markup::push_html;
use crate::model::calendar::evidently_listed_on;
use crate::model::market::ShownChange;
use crate::model::{Entry, Snapshot, SnapshotQuote};

/// The strip for `entry`, when the feed shows strips (`[output] market`)
/// and the entry has a snapshot with at least one quote. A snapshot without
/// quotes (every provider failed) gets no strip: a line saying "no quotes"
/// on every entry would tell a reader nothing. Its `tf:snapshot` element is
/// still written.
pub(super) fn for_entry(feed: &MergedFeed, entry: &Entry) -> Option<String> {
    if !feed.market_strip {
        return None;
    }
    entry
        .snapshot
        .as_ref()
        .filter(|snapshot| !snapshot.quotes.is_empty())
        .map(strip_html)
}

/// `html` followed by `strip`, or `html` itself when there is no strip.
pub(super) fn append<'a>(html: &'a str, strip: Option<&str>) -> Cow<'a, str> {
    match strip {
        Some(strip) => Cow::Owned(format!("{html}{strip}")),
        None => Cow::Borrowed(html),
    }
}

/// A plain-text title as an HTML paragraph, for renderers whose content
/// falls back to the title: the strip is appended to it, so it must become
/// HTML first.
pub(super) fn title_html(title: &str) -> String {
    let mut out = String::from("<p>");
    push_html(&mut out, title);
    out.push_str("</p>");
    out
}

/// One `<p>` describing `snapshot`; see the module doc for its shape.
///
/// - label in `<strong>`, then the quotes in stored order, ` · ` between;
/// - each quote: symbol (in `<abbr title="name">` when it has a name),
///   ▲/▼/▬, the signed percent change to two places, price and currency
///   code; mentioned quotes in `<strong>` and followed by `(mentioned)`;
///   `(stale)`, `(closed)`, `(pre-market)`, `(after hours)` as they apply;
/// - then "as of" the newest `as_of` (the snapshot time when no quote has
///   one), or "market closed, close of" that day when every quote's market
///   was closed as the snapshot was taken (`closed_at`), or "last
///   price … , not updated" when every quote is stale; then each distinct
///   provider by its human name.
pub fn strip_html(snapshot: &Snapshot) -> String {
    let mut out = String::from("<p>");
    if !snapshot.label.is_empty() {
        out.push_str("<strong>");
        push_html(&mut out, &snapshot.label);
        out.push_str("</strong>: ");
    }
    if snapshot.quotes.is_empty() {
        out.push_str("no quotes");
    }
    let at = snapshot.taken_at;
    let all_closed = all_closed(snapshot);
    for (i, quote) in snapshot.quotes.iter().enumerate() {
        if i > 0 {
            out.push_str(" · ");
        }
        write_quote(&mut out, quote, all_closed, at);
    }
    out.push_str("<br/>");
    let all_stale = !snapshot.quotes.is_empty() && snapshot.quotes.iter().all(|q| q.stale);

    let as_of = snapshot
        .quotes
        .iter()
        .filter_map(|q| q.as_of)
        .max()
        .unwrap_or(snapshot.taken_at);
    if all_closed {
        out.push_str("market closed, close of ");
        write_time(&mut out, as_of, "%-d %b %Y");
    } else if all_stale {
        out.push_str("last price ");
        write_time(&mut out, as_of, "%-d %b %H:%M UTC");
        out.push_str(", not updated");
    } else {
        out.push_str("as of ");
        write_time(&mut out, as_of, "%-d %b %Y %H:%M UTC");
    }

    let mut providers: Vec<&str> = Vec::new();
    for quote in &snapshot.quotes {
        if !providers.contains(&quote.provider.as_str()) {
            providers.push(&quote.provider);
        }
    }
    if !providers.is_empty() {
        out.push_str(" · data: ");
        for (i, provider) in providers.into_iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            push_html(&mut out, provider_name(provider));
        }
    }
    out.push_str("</p>");
    out
}

/// `snapshot` folded to one line of inline HTML, for the `<summary>` of a
/// river item's strip on a narrow screen (`templates/river.html`): in
/// strip order (the quotes the item mentions first), each mentioned one
/// as the strip writes it, the others by symbol and change alone, ` · `
/// between. The full strip is one tap away under it; on a phone eight
/// symbols in full are seven lines under every item, more board than news.
pub fn strip_line_html(snapshot: &Snapshot) -> String {
    let all_closed = all_closed(snapshot);
    let mut out = String::new();
    for (i, quote) in snapshot.quotes.iter().enumerate() {
        if i > 0 {
            out.push_str(" · ");
        }
        if quote.mentioned {
            write_quote(&mut out, quote, all_closed, snapshot.taken_at);
        } else {
            push_html(&mut out, &quote.symbol);
            out.push(' ');
            write_change(&mut out, quote);
        }
    }
    out
}

/// Whether every quote's market was closed as the snapshot was taken.
fn all_closed(snapshot: &Snapshot) -> bool {
    !snapshot.quotes.is_empty()
        && snapshot
            .quotes
            .iter()
            .all(|q| closed_at(q, snapshot.taken_at))
}

/// Whether `quote`'s market was closed at `at`. The session is the
/// provider's word at the quote's fetch; a stale quote's may be from last
/// night while the market trades again (the provider failing since), so
/// for one that is stale only its exchange's calendar says closed, and a
/// market no calendar here knows is not said to be closed. The exchange
/// is the configured one where the quote carries it (the live board), else
/// the one its provider symbol shows: an archived snapshot does not keep
/// the config's, so a London `BP` spelled without a suffix is judged
/// there by New York's hours.
fn closed_at(quote: &SnapshotQuote, at: DateTime<Utc>) -> bool {
    quote.session == "closed"
        && (!quote.stale
            || evidently_listed_on(quote.exchange.as_deref(), &quote.provider_symbol)
                .is_some_and(|exchange| !exchange.is_open(at)))
}

fn write_quote(out: &mut String, quote: &SnapshotQuote, all_closed: bool, at: DateTime<Utc>) {
    if quote.mentioned {
        out.push_str("<strong>");
    }
    match &quote.name {
        Some(name) => {
            out.push_str("<abbr title=\"");
            push_html(out, name);
            out.push_str("\">");
            push_html(out, &quote.symbol);
            out.push_str("</abbr>");
        }
        None => push_html(out, &quote.symbol),
    }
    out.push(' ');
    write_change(out, quote);
    out.push(' ');
    out.push_str(&shown_price(quote.price));
    if let Some(currency) = &quote.currency {
        out.push(' ');
        push_html(out, currency);
    }
    if quote.mentioned {
        out.push_str("</strong>");
    }

    let mut notes = Vec::new();
    if quote.mentioned {
        notes.push("mentioned");
    }
    if quote.stale {
        notes.push("stale");
    }
    match quote.session.as_str() {
        // With every quote closed the time line says so once; a stale
        // quote's "closed" is said only when its market still is.
        "closed" if all_closed || !closed_at(quote, at) => {}
        session => notes.extend(session_note(session)),
    }
    if !notes.is_empty() {
        out.push_str(" (");
        out.push_str(&notes.join(", "));
        out.push(')');
    }
}

/// A quote's session in the words shown beside it: nothing for a regular
/// session, nor for one the provider does not say (`unknown`), which a
/// reader cannot act on.
pub fn session_note(session: &str) -> Option<&'static str> {
    match session {
        "closed" => Some("closed"),
        "pre" => Some("pre-market"),
        "post" => Some("after hours"),
        _ => None,
    }
}

/// A price as people read it: rounded to four decimal places, shown with
/// at least two (`46.80`; Twelve Data's `156.89999` as `156.90`; 115.75
/// pence as `1.1575` pounds). The archive and the machine-readable
/// snapshot keep the exact figure.
pub fn shown_price(price: Decimal) -> String {
    let rounded = price
        .round_dp_with_strategy(4, RoundingStrategy::MidpointAwayFromZero)
        .normalize();
    if rounded.scale() < 2 {
        format!("{rounded:.2}")
    } else {
        rounded.to_string()
    }
}

/// `▲ +0.67%`, `▼ −1.10%`, `▬ 0.00%`, or `▬ n/a` when the change is unknown.
fn write_change(out: &mut String, quote: &SnapshotQuote) {
    match quote_change(quote) {
        Some(change) => out.push_str(&change.to_string()),
        None => out.push_str("▬ <abbr title=\"change not available\">n/a</abbr>"),
    }
}

/// A quote's change since the previous close as the strip shows it (two
/// places), `None` when unknown. A missing percent is worked out from the
/// stored change and previous close of the same quote (same provider, same
/// unit) when both are there.
pub fn quote_change(quote: &SnapshotQuote) -> Option<ShownChange> {
    let derived = || match (quote.change, quote.previous_close) {
        (Some(change), Some(prev)) if !prev.is_zero() => {
            change.checked_div(prev)?.checked_mul(Decimal::ONE_HUNDRED)
        }
        _ => None,
    };
    let percent = quote.change_percent.or_else(derived)?;
    Some(ShownChange::of(percent))
}

fn write_time(out: &mut String, t: DateTime<Utc>, shown: &str) {
    out.push_str("<time datetime=\"");
    out.push_str(&rfc3339(t));
    out.push_str("\">");
    out.push_str(&t.format(shown).to_string());
    out.push_str("</time>");
}

/// How a provider is credited in the strip. An id we do not know is shown
/// as it is stored rather than dropped: the data still needs a credit.
fn provider_name(id: &str) -> &str {
    match id {
        "yahoo" => "Yahoo Finance",
        "finnhub" => "Finnhub",
        "twelvedata" => "Twelve Data",
        "stooq" => "Stooq",
        "alphavantage" => "Alpha Vantage",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::super::samples::{awkward_snapshot, market_feed, snapshot};
    use super::*;

    /// Tags Miniflux's sanitiser keeps.
    const ALLOWED_TAGS: &[&str] = &[
        "p", "strong", "em", "br", "time", "abbr", "sub", "sup", "ul", "li", "table", "thead",
        "tr", "th", "td", "caption",
    ];

    /// Every opening (or self-closing) tag in `html` as (name, attributes).
    fn tags(html: &str) -> Vec<(String, String)> {
        html.split('<')
            .skip(1)
            .map(|rest| &rest[..rest.find('>').expect("tag closes")])
            .filter(|tag| !tag.starts_with('/'))
            .map(|tag| {
                let tag = tag.trim_end_matches('/');
                let (name, attrs) = tag.split_once(' ').unwrap_or((tag, ""));
                (name.to_string(), attrs.to_string())
            })
            .collect()
    }

    #[test]
    fn full_strip() {
        assert_eq!(
            strip_html(&snapshot()),
            "<p><strong>NYSE - LSE</strong>: \
             <strong><abbr title=\"BP plc\">BP</abbr> ▲ +0.67% 29.72 USD</strong> (mentioned) · \
             RELX ▼ −1.10% 46.75 USD (stale) · \
             NGG ▬ 0.00% 63.11<br/>\
             as of <time datetime=\"2026-07-24T15:52:02Z\">24 Jul 2026 15:52 UTC</time> · \
             data: Yahoo Finance, Finnhub</p>"
        );
    }

    /// A river item's strip folded to a line: the mentioned quote in
    /// full, the others by symbol and change; no label, no time, no
    /// credit (the full strip under it has them).
    #[test]
    fn the_folded_line_gives_the_mentioned_quotes_in_full_and_the_rest_in_short() {
        assert_eq!(
            strip_line_html(&snapshot()),
            "<strong><abbr title=\"BP plc\">BP</abbr> ▲ +0.67% 29.72 USD</strong> (mentioned) · \
             RELX ▼ −1.10% · NGG ▬ 0.00%"
        );
        let mut awkward = awkward_snapshot();
        awkward.quotes[0].mentioned = false;
        assert_eq!(
            strip_line_html(&awkward),
            "AT&amp;T &quot;&lt;x&gt;&quot; ▬ <abbr title=\"change not available\">n/a</abbr>"
        );
    }

    #[test]
    fn only_sanitiser_safe_tags_and_attributes() {
        for snapshot in [snapshot(), awkward_snapshot()] {
            for (name, attrs) in tags(&strip_html(&snapshot)) {
                assert!(ALLOWED_TAGS.contains(&name.as_str()), "<{name}>");
                match name.as_str() {
                    "time" => assert!(attrs.starts_with("datetime=\""), "{attrs}"),
                    "abbr" => assert!(attrs.starts_with("title=\""), "{attrs}"),
                    _ => assert_eq!(attrs, "", "<{name}>"),
                }
            }
        }
    }

    #[test]
    fn label_names_and_symbols_are_escaped() {
        let html = strip_html(&awkward_snapshot());
        assert!(
            html.starts_with("<p><strong>A&amp;B &lt;x&gt;</strong>: "),
            "{html}"
        );
        assert!(html.contains(
            "<strong><abbr title=\"Q&amp;A &lt;b&gt;&#39;s&quot;\">AT&amp;T &quot;&lt;x&gt;&quot;</abbr> "
        ));
        assert!(
            html.contains(" 1.50 E&amp;P</strong> (mentioned)"),
            "{html}"
        );
        assert!(html.contains("data: my&lt;feed&gt;</p>"), "{html}");
        assert!(!html.contains("<x>") && !html.contains("<b>"));
    }

    #[test]
    fn prices_are_shown_to_at_most_four_places_and_at_least_two() {
        for (exact, shown) in [
            ("156.89999", "156.90"),
            ("46.8", "46.80"),
            ("1.1575", "1.1575"),
            ("328.879", "328.879"),
            ("600000", "600000.00"),
            ("0.000049", "0.00"),
        ] {
            assert_eq!(shown_price(exact.parse().unwrap()), shown, "{exact}");
        }
        let mut snapshot = snapshot();
        snapshot.quotes[0].price = "156.89999".parse().unwrap();
        let html = strip_html(&snapshot);
        assert!(
            html.contains(" 156.90 ") && !html.contains("156.89999"),
            "{html}"
        );
    }

    #[test]
    fn signs_round_to_two_places() {
        let mut snapshot = snapshot();
        let quote = &mut snapshot.quotes[0];
        quote.change_percent = Some("0.005".parse().unwrap());
        assert!(strip_html(&snapshot).contains("BP</abbr> ▲ +0.01% "));
        snapshot.quotes[0].change_percent = Some("-12.3".parse().unwrap());
        assert!(strip_html(&snapshot).contains("BP</abbr> ▼ −12.30% "));
        snapshot.quotes[0].change_percent = Some("-0.00".parse().unwrap());
        assert!(strip_html(&snapshot).contains("BP</abbr> ▬ 0.00% "));
        // Moves that round to nothing are flat, whichever way they went.
        for tiny in ["0.004", "-0.0049"] {
            snapshot.quotes[0].change_percent = Some(tiny.parse().unwrap());
            let html = strip_html(&snapshot);
            assert!(html.contains("BP</abbr> ▬ 0.00% "), "{tiny}: {html}");
        }
    }

    #[test]
    fn unknown_change_is_not_called_unchanged() {
        let mut snapshot = snapshot();
        let quote = &mut snapshot.quotes[0];
        quote.change_percent = None;
        // Derived from the stored change and previous close: 0.20 / 29.52.
        assert!(strip_html(&snapshot).contains("BP</abbr> ▲ +0.68% 29.72 USD"));

        snapshot.quotes[0].previous_close = None;
        assert!(
            strip_html(&snapshot)
                .contains("BP</abbr> ▬ <abbr title=\"change not available\">n/a</abbr> 29.72 USD")
        );
    }

    #[test]
    fn every_quote_closed_says_market_closed() {
        let mut snapshot = snapshot();
        for quote in &mut snapshot.quotes {
            quote.session = "closed".into();
        }
        // Saturday: RELX is stale, and New York closed.
        snapshot.taken_at = crate::clock::from_db_time("2026-07-25T12:00:00Z").unwrap();
        let html = strip_html(&snapshot);
        assert!(html.contains(
            "<br/>market closed, close of <time datetime=\"2026-07-24T15:52:02Z\">24 Jul 2026</time> · data:"
        ), "{html}");
        assert!(!html.contains("as of"));
        assert!(!html.contains("(closed)"));
    }

    /// The provider failing since last night's close: its quotes are
    /// stale, and their session still says `closed`. At 15:00 UTC on
    /// Thursday 3 December 2026 New York trades, and the strip says the
    /// prices were not updated; at 22:00 it has closed again. Before, it
    /// said "market closed, close of 2 Dec 2026" while NYSE was open.
    #[test]
    fn a_stale_quote_is_not_called_closed_while_its_market_trades() {
        let mut snapshot = snapshot();
        for quote in &mut snapshot.quotes {
            quote.session = "closed".into();
            quote.stale = true;
            quote.as_of = Some(DateTime::from_timestamp(1_796_245_200, 0).unwrap());
        }
        snapshot.taken_at = crate::clock::from_db_time("2026-12-03T15:00:00Z").unwrap();
        let html = strip_html(&snapshot);
        assert!(
            html.contains("<br/>last price <time datetime=\"2026-12-02T21:00:00Z\">2 Dec 21:00 UTC</time>, not updated · data:"),
            "{html}"
        );
        assert!(!html.contains("closed"), "{html}");
        snapshot.taken_at = crate::clock::from_db_time("2026-12-03T22:00:00Z").unwrap();
        let html = strip_html(&snapshot);
        assert!(html.contains("<br/>market closed, close of"), "{html}");
    }

    /// Twelve Data spells London's BP `BP`, like a New York ticker; the
    /// config says `exchange = "LSE"`. Stale since Wednesday's close, at
    /// 10:00 UTC on Thursday 3 December 2026 London trades and New York
    /// has not opened: the strip said "market closed" by New York's hours.
    #[test]
    fn a_stale_quote_is_judged_by_its_configured_exchange() {
        let mut snapshot = snapshot();
        snapshot.quotes.truncate(1);
        let bp = &mut snapshot.quotes[0];
        bp.provider = "twelvedata".into();
        bp.provider_symbol = "BP".into();
        bp.exchange = Some("LSE".into());
        bp.session = "closed".into();
        bp.stale = true;
        bp.as_of = Some(crate::clock::from_db_time("2026-12-02T16:30:00Z").unwrap());
        snapshot.taken_at = crate::clock::from_db_time("2026-12-03T10:00:00Z").unwrap();
        let html = strip_html(&snapshot);
        assert!(!html.contains("closed"), "{html}");
        assert!(
            html.contains("(mentioned, stale)<br/>last price "),
            "{html}"
        );
        // After London's close it is closed, New York open or not.
        snapshot.taken_at = crate::clock::from_db_time("2026-12-03T17:00:00Z").unwrap();
        let html = strip_html(&snapshot);
        assert!(html.contains("<br/>market closed, close of"), "{html}");
    }

    #[test]
    fn sessions_other_than_regular_are_said_per_quote() {
        let mut snapshot = snapshot();
        snapshot.quotes[0].session = "pre".into();
        snapshot.quotes[1].session = "closed".into();
        // (A stale one's "closed" is said only when its market is:
        // `a_stale_quote_is_not_called_closed_while_its_market_trades`.)
        snapshot.quotes[1].stale = false;
        snapshot.quotes[2].session = "post".into();
        let html = strip_html(&snapshot);
        assert!(
            html.contains("</strong> (mentioned, pre-market) · "),
            "{html}"
        );
        assert!(html.contains(" USD (closed) · "), "{html}");
        assert!(html.contains(" 63.11 (after hours)<br/>as of "), "{html}");
    }

    #[test]
    fn as_of_falls_back_to_the_snapshot_time() {
        let mut snapshot = snapshot();
        for quote in &mut snapshot.quotes {
            quote.as_of = None;
        }
        assert!(strip_html(&snapshot).contains(
            "as of <time datetime=\"2026-07-24T15:52:10Z\">24 Jul 2026 15:52 UTC</time>"
        ));
    }

    #[test]
    fn each_provider_is_credited_once_by_name() {
        let mut snapshot = snapshot();
        let template = snapshot.quotes[2].clone();
        for provider in ["twelvedata", "stooq", "alphavantage", "yahoo"] {
            snapshot.quotes.push(SnapshotQuote {
                provider: provider.into(),
                ..template.clone()
            });
        }
        assert!(
            strip_html(&snapshot).ends_with(
                " · data: Yahoo Finance, Finnhub, Twelve Data, Stooq, Alpha Vantage</p>"
            )
        );
    }

    #[test]
    fn empty_label_and_no_quotes_still_make_sense() {
        let mut snapshot = snapshot();
        snapshot.label.clear();
        snapshot.quotes.clear();
        assert_eq!(
            strip_html(&snapshot),
            "<p>no quotes<br/>as of <time datetime=\"2026-07-24T15:52:10Z\">\
             24 Jul 2026 15:52 UTC</time></p>"
        );
    }

    #[test]
    fn for_entry_needs_the_switch_a_snapshot_and_quotes() {
        let mut feed = market_feed();
        let entry = feed.entries[0].clone();
        assert_eq!(for_entry(&feed, &entry), Some(strip_html(&snapshot())));

        let mut no_quotes = entry.clone();
        no_quotes.snapshot.as_mut().unwrap().quotes.clear();
        assert_eq!(for_entry(&feed, &no_quotes), None);

        let mut no_snapshot = entry.clone();
        no_snapshot.snapshot = None;
        assert_eq!(for_entry(&feed, &no_snapshot), None);

        feed.market_strip = false;
        assert_eq!(for_entry(&feed, &entry), None);
    }

    #[test]
    fn append_and_title_html() {
        assert_eq!(append("<p>a</p>", None), Cow::Borrowed("<p>a</p>"));
        assert_eq!(append("<p>a</p>", Some("<p>b</p>")), "<p>a</p><p>b</p>");
        assert_eq!(
            title_html("Bare <i>title</i> & co"),
            "<p>Bare &lt;i&gt;title&lt;/i&gt; &amp; co</p>"
        );
    }
}
