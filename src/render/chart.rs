//! The symbol page's price chart: a symbol's recorded quotes as an inline
//! SVG line chart, with a marker at each news item's ingest time.
//!
//! Pure: it takes the series the store hands over
//! (`Store::symbol_history`) and one [`Marker`] per item
//! (`Store::symbol_items`) and returns markup for the page to embed as it
//! is (already escaped). Nothing runs in the browser.
//!
//! What the chart must survive, and how:
//!
//! - **No colour needed.** Every colour is `currentColor` (the page's text
//!   colour; the link colour inside markers) or `Canvas`, so light and dark
//!   themes both work. Markers are told apart by shape, not hue: a dashed
//!   vertical rule at the item's time and a circle on the price line with
//!   the item's number in it. Classes (`chart-axis`, `chart-line`,
//!   `chart-marker`, ...) let the stylesheet restyle any of it.
//! - **No inline styles.** The page's CSP allows no `style` attribute or
//!   element; presentation attributes (`stroke`, `fill`, `font-size`) are
//!   not CSS and are allowed.
//! - **Any width.** A `viewBox` and `width="100%"`, no height, so the
//!   chart scales with its column from 360 px to 1440 px. Its text scales
//!   with it, so on a phone, where a `viewBox` unit is about 0.7 px, the
//!   stylesheet sets the text larger in those units (`.price-chart` under
//!   `@media (max-width: 30rem)`, `NARROW_FONT_SIZE`) and the layout
//!   leaves room for that size: labels of 12 px or more at 340 px and up,
//!   and no larger than 21 px on a desktop.
//! - **Screen readers.** The drawing is a `role="img"` group labelled by
//!   the chart's `<title>` and `<desc>` (symbol, period, first and last
//!   price, change, range). The markers are links, so they sit *beside*
//!   that group rather than inside it: the children of an `img` are
//!   presentational, so links inside one would be hidden from assistive
//!   technology (axe reports it as `nested-interactive`). Each marker's
//!   `<title>` (its name, and the hover tooltip) holds the headline.
//! - **Hostile headlines.** Every text goes through `crate::markup`; what
//!   XML cannot carry is dropped, so the SVG is well-formed XML as well as
//!   HTML.
//!
//! ```text
//! <svg class="price-chart" viewBox="0 0 480 240" role="group" aria-labelledby="…-title">
//!   <title id="…-title">VOD: recorded price, 1 Jul 2026 09:00 UTC to 24 Jul 2026 15:52 UTC</title>
//!   <g class="chart-plot" role="img" aria-labelledby="…-title …-desc">
//!     <desc id="…-desc">First 29.72 USD, last 31.05 USD: up 1.33 USD (+4.47%). …</desc>
//!     axes, min/max price labels, first/last time labels, <polyline class="chart-line">
//!   </g>
//!   <g class="chart-markers">
//!     <a class="chart-marker" href="/items/…"><title>1. Headline (24 Jul 2026 15:52 UTC)</title>
//!       <line class="chart-rule"/><circle/><text>1</text></a> …
//!   </g>
//! </svg>
//! ```
//!
//! With fewer than two quotes there is no line to draw, and the function
//! returns a sentence (`<p class="price-chart-empty">`) instead.

use chrono::{DateTime, Utc};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};

use super::rfc3339;
use crate::markup::{push_html, push_xml_attr, push_xml_text};

/// One news item on the chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Marker {
    /// When the item was archived (its ingest time, `first_seen_at`).
    pub at: DateTime<Utc>,
    /// The headline, plain text as stored: it is escaped here.
    pub title: String,
    /// Where the marker links to, such as the item's page (`/items/{uid}`).
    pub href: String,
}

/// The drawing's coordinate system (`viewBox` units), drawn at its column's
/// width: about 0.68 of a unit a pixel in a 360 px phone's 328 px column,
/// 1.53 in the page's widest (736 px). Its shape suits a wide column; on a
/// phone the stylesheet sets the text larger in these units instead
/// ([`NARROW_FONT_SIZE`]).
const WIDTH: f64 = 480.0;
const HEIGHT: f64 = 240.0;
/// The labels' size on a wide screen: 21 px in the widest column.
const FONT_SIZE: u32 = 14;
/// The labels' and markers' numbers' size, in `viewBox` units, that
/// `assets/style.css` sets below 30rem (480 px): 14 units would be 9.5 px
/// on a 360 px phone, 19 are 13 px there and 12 px even at 340 px. The
/// layout leaves room for text this size (the price labels' gutter, the
/// markers' circles), so it fits at either size.
const NARROW_FONT_SIZE: u32 = 19;
/// How wide a label's character is, at most, for its font size: digits
/// and capitals of a sans-serif are about 0.55 em.
const CHAR_EM: f64 = 0.6;
/// Room above the plot and on its right, so a marker's circle at the edge
/// is not cut off; below it, room for the time labels.
const TOP: f64 = 16.0;
const RIGHT: f64 = 14.0;
const BOTTOM: f64 = 36.0;
/// A marker's circle, big enough for a two-digit number at
/// [`NARROW_FONT_SIZE`] (a phone's), and the number's size on a wide
/// screen.
const MARKER_RADIUS: u32 = 13;
const MARKER_FONT_SIZE: u32 = 13;
/// Between the price labels and the axis: a marker's circle drawn on the
/// axis (and its stroke) must not cover them.
const LABEL_GAP: f64 = 15.0;

/// U+2212 MINUS SIGN, as the ticker strip writes it.
const MINUS: char = '\u{2212}';

/// Writes the chart of `symbol`'s quotes `series` (any order; drawn oldest
/// first), with one marker per item of `markers`. Prices are labelled in
/// `currency` when it is known.
///
/// Markers are numbered 1, 2, ... in the order given, so the page can print
/// the same number beside each item of its list. A marker is placed at its
/// time on the price line, the price interpolated between the quotes on
/// either side; one outside the series' period is drawn at the nearer
/// edge, and its title says so.
///
/// Returns an `<svg>` element, or, for fewer than two quotes or quotes all
/// of one moment ([`draws`]), a `<p>` saying what there is (markers are
/// then left to the page's list).
pub fn price_chart(
    symbol: &str,
    series: &[(DateTime<Utc>, Decimal)],
    markers: &[Marker],
    currency: Option<&str>,
) -> String {
    let mut points: Vec<(DateTime<Utc>, Decimal)> = series.to_vec();
    points.sort_by_key(|(t, _)| *t);
    match points.as_slice() {
        [] => sentence_without_quotes(symbol),
        [.., (t, price)] if !draws(&points) => {
            sentence_for_one_moment(symbol, points.len(), *t, *price, currency)
        }
        _ => chart(symbol, &points, markers, currency),
    }
}

/// Whether [`price_chart`] draws `series` as a chart: it needs quotes of
/// two moments at least. Quotes of one moment (a closed market's last
/// price, fetched at each refresh with the provider's one time for it)
/// would make a chart whose time axis starts and ends at the same minute.
pub fn draws(series: &[(DateTime<Utc>, Decimal)]) -> bool {
    series
        .iter()
        .any(|(t, _)| Some(t) != series.first().map(|(t0, _)| t0))
}

fn sentence_without_quotes(symbol: &str) -> String {
    let mut out = String::from("<p class=\"price-chart-empty\">No quotes of ");
    push_html(&mut out, symbol);
    out.push_str(" are recorded yet, so there is no chart.</p>");
    out
}

/// `count` quotes, all at `t`, the last of them at `price`.
fn sentence_for_one_moment(
    symbol: &str,
    count: usize,
    t: DateTime<Utc>,
    price: Decimal,
    currency: Option<&str>,
) -> String {
    let mut out = String::from("<p class=\"price-chart-empty\">");
    if count == 1 {
        out.push_str("One quote of ");
        push_html(&mut out, symbol);
        out.push_str(" is recorded so far: ");
    } else {
        out.push_str(&format!("All {count} quotes of "));
        push_html(&mut out, symbol);
        out.push_str(" recorded so far are of one moment: ");
    }
    push_html(&mut out, &money(price, currency));
    out.push_str(" at <time datetime=\"");
    out.push_str(&rfc3339(t));
    out.push_str("\">");
    out.push_str(&long_time(t));
    out.push_str("</time>. The chart needs at least two.</p>");
    out
}

/// Where things go in the `viewBox`.
struct Frame {
    t0: DateTime<Utc>,
    t1: DateTime<Utc>,
    lo: f64,
    hi: f64,
    /// The plot area: left, right, top, bottom.
    x0: f64,
    x1: f64,
    y0: f64,
    y1: f64,
}

impl Frame {
    /// `t` clamped to the series' period. A period of zero length (every
    /// quote at one instant) is drawn in the middle.
    fn x(&self, t: DateTime<Utc>) -> f64 {
        let span = (self.t1 - self.t0).num_milliseconds();
        if span <= 0 {
            return (self.x0 + self.x1) / 2.0;
        }
        let t = t.clamp(self.t0, self.t1);
        let share = (t - self.t0).num_milliseconds() as f64 / span as f64;
        self.x0 + share * (self.x1 - self.x0)
    }

    /// A flat series is drawn across the middle.
    fn y(&self, price: f64) -> f64 {
        if self.hi <= self.lo {
            return (self.y0 + self.y1) / 2.0;
        }
        self.y1 - (price - self.lo) / (self.hi - self.lo) * (self.y1 - self.y0)
    }
}

fn chart(
    symbol: &str,
    points: &[(DateTime<Utc>, Decimal)],
    markers: &[Marker],
    currency: Option<&str>,
) -> String {
    let (first_t, first_p) = points[0];
    let (last_t, last_p) = points[points.len() - 1];
    let lo_p = points.iter().map(|(_, p)| *p).min().unwrap_or(first_p);
    let hi_p = points.iter().map(|(_, p)| *p).max().unwrap_or(first_p);
    let (lo_label, hi_label) = (money(lo_p, currency), money(hi_p, currency));
    // The price labels sit left of the plot; make room for the longer one
    // at a phone's text size, the larger, and for a marker's circle on the
    // axis.
    let label_chars = lo_label.chars().count().max(hi_label.chars().count());
    let char_width = CHAR_EM * f64::from(NARROW_FONT_SIZE);
    let gutter = (label_chars as f64 * char_width + LABEL_GAP + 4.0).clamp(40.0, WIDTH / 3.0);
    let frame = Frame {
        t0: first_t,
        t1: last_t,
        lo: as_f64(lo_p),
        hi: as_f64(hi_p),
        x0: gutter,
        x1: WIDTH - RIGHT,
        y0: TOP,
        y1: HEIGHT - BOTTOM,
    };
    let id = element_id(symbol);

    let mut out = String::with_capacity(2048 + points.len() * 16 + markers.len() * 400);
    out.push_str(&format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"price-chart\" \
         viewBox=\"0 0 {WIDTH} {HEIGHT}\" width=\"100%\" font-size=\"{FONT_SIZE}\" \
         fill=\"currentColor\" role=\"group\" aria-labelledby=\"{id}-title\">"
    ));
    out.push_str(&format!("<title id=\"{id}-title\">"));
    push_xml_text(
        &mut out,
        &format!(
            "{symbol}: recorded price, {} to {}",
            long_time(first_t),
            long_time(last_t)
        ),
    );
    out.push_str("</title>");

    // The drawing, one image for assistive technology.
    out.push_str(&format!(
        "<g class=\"chart-plot\" role=\"img\" aria-labelledby=\"{id}-title {id}-desc\">"
    ));
    out.push_str(&format!("<desc id=\"{id}-desc\">"));
    push_xml_text(
        &mut out,
        &description(
            (first_p, last_p),
            (&lo_label, &hi_label),
            points.len(),
            markers.len(),
            currency,
        ),
    );
    out.push_str("</desc>");
    write_axes(&mut out, &frame, (&lo_label, &hi_label), (first_t, last_t));
    out.push_str("<polyline class=\"chart-line\" fill=\"none\" stroke=\"currentColor\" stroke-width=\"2\" stroke-linejoin=\"round\" points=\"");
    for (i, (t, p)) in points.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(&format!(
            "{},{}",
            coord(frame.x(*t)),
            coord(frame.y(as_f64(*p)))
        ));
    }
    out.push_str("\"/></g>");

    if !markers.is_empty() {
        out.push_str("<g class=\"chart-markers\">");
        for (i, marker) in markers.iter().enumerate() {
            write_marker(&mut out, &frame, points, i + 1, marker);
        }
        out.push_str("</g>");
    }
    out.push_str("</svg>");
    out
}

/// The `<desc>`: what a sighted reader takes from the line, in words.
fn description(
    (first, last): (Decimal, Decimal),
    (lo_label, hi_label): (&str, &str),
    quotes: usize,
    markers: usize,
    currency: Option<&str>,
) -> String {
    let change = last - first;
    let movement = if change.is_zero() {
        "unchanged".to_string()
    } else {
        let direction = if change.is_sign_positive() {
            "up"
        } else {
            "down"
        };
        let percent = (!first.is_zero())
            .then(|| change.checked_div(first)?.checked_mul(Decimal::ONE_HUNDRED))
            .flatten()
            .map(|p| {
                let sign = if p.is_sign_negative() { MINUS } else { '+' };
                let p = p
                    .abs()
                    .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
                format!(" ({sign}{p:.2}%)")
            })
            .unwrap_or_default();
        format!("{direction} {}{percent}", money(change.abs(), currency))
    };
    let items = match markers {
        0 => "No news items are marked.".to_string(),
        1 => "1 news item is marked, numbered 1.".to_string(),
        n => format!("{n} news items are marked, numbered 1 to {n}."),
    };
    format!(
        "First {}, last {}: {movement}. Low {lo_label}, high {hi_label}, over {quotes} recorded quotes. {items}",
        money(first, currency),
        money(last, currency),
    )
}

fn write_axes(
    out: &mut String,
    f: &Frame,
    (lo_label, hi_label): (&str, &str),
    (first_t, last_t): (DateTime<Utc>, DateTime<Utc>),
) {
    out.push_str(&format!(
        "<path class=\"chart-axis\" fill=\"none\" stroke=\"currentColor\" stroke-width=\"1\" \
         d=\"M{x0},{y0} V{y1} H{x1}\"/>",
        x0 = coord(f.x0),
        y0 = coord(f.y0),
        y1 = coord(f.y1),
        x1 = coord(f.x1),
    ));
    // Price labels right-aligned against the axis, a tick at each; a flat
    // series has one price, labelled once, where its line is.
    let labels: Vec<(f64, &str)> = if f.hi > f.lo {
        vec![(f.y0, hi_label), (f.y1, lo_label)]
    } else {
        vec![(f.y(f.lo), lo_label)]
    };
    for (y, label) in labels {
        out.push_str(&format!(
            "<path class=\"chart-tick\" fill=\"none\" stroke=\"currentColor\" stroke-width=\"1\" d=\"M{},{} H{}\"/>",
            coord(f.x0 - 4.0),
            coord(y),
            coord(f.x0),
        ));
        out.push_str(&format!(
            // `dy` in em centres the label on its tick at whichever size
            // the stylesheet gives it.
            "<text class=\"chart-label chart-price\" x=\"{}\" y=\"{}\" dy=\"0.35em\" text-anchor=\"end\">",
            coord(f.x0 - LABEL_GAP),
            coord(y),
        ));
        push_xml_text(out, label);
        out.push_str("</text>");
    }
    let pattern = time_pattern(first_t, last_t);
    let y = coord(HEIGHT - 10.0);
    for (x, anchor, t) in [(f.x0, "start", first_t), (f.x1, "end", last_t)] {
        out.push_str(&format!(
            "<text class=\"chart-label chart-time\" x=\"{}\" y=\"{y}\" text-anchor=\"{anchor}\">",
            coord(x)
        ));
        push_xml_text(out, &t.format(pattern).to_string());
        out.push_str("</text>");
    }
}

fn write_marker(
    out: &mut String,
    f: &Frame,
    points: &[(DateTime<Utc>, Decimal)],
    number: usize,
    marker: &Marker,
) {
    let x = coord(f.x(marker.at));
    let y = coord(f.y(price_at(points, marker.at)));
    out.push_str("<a class=\"chart-marker\" href=\"");
    push_xml_attr(out, &marker.href);
    out.push_str("\"><title>");
    let mut title = format!("{number}. {} ({})", marker.title, long_time(marker.at));
    if marker.at < f.t0 {
        title.push_str(", before the first recorded quote");
    } else if marker.at > f.t1 {
        title.push_str(", after the last recorded quote");
    }
    push_xml_text(out, &title);
    out.push_str("</title>");
    out.push_str(&format!(
        "<line class=\"chart-rule\" x1=\"{x}\" y1=\"{}\" x2=\"{x}\" y2=\"{}\" \
         stroke=\"currentColor\" stroke-width=\"1\" stroke-dasharray=\"4 3\"/>",
        coord(f.y0),
        coord(f.y1),
    ));
    // Three digits need a wider circle; the numbers are the items' order in
    // the page's list, so they stay short.
    let r = if number < 100 {
        MARKER_RADIUS
    } else {
        MARKER_RADIUS + 3
    };
    out.push_str(&format!(
        "<circle class=\"chart-dot\" cx=\"{x}\" cy=\"{y}\" r=\"{r}\" fill=\"Canvas\" \
         stroke=\"currentColor\" stroke-width=\"2\"/>"
    ));
    out.push_str(&format!(
        "<text class=\"chart-number\" x=\"{x}\" y=\"{y}\" dy=\"0.35em\" text-anchor=\"middle\" \
         font-size=\"{MARKER_FONT_SIZE}\">{number}</text></a>"
    ));
}

/// The price at `t` on the line: interpolated between the quotes either
/// side of it, the first or last price outside the series. `points` is
/// sorted by time and has at least one point.
fn price_at(points: &[(DateTime<Utc>, Decimal)], t: DateTime<Utc>) -> f64 {
    let after = points.partition_point(|(pt, _)| *pt <= t);
    if after == 0 {
        return as_f64(points[0].1);
    }
    if after == points.len() {
        return as_f64(points[points.len() - 1].1);
    }
    let (ta, pa) = points[after - 1];
    let (tb, pb) = points[after];
    let span = (tb - ta).num_milliseconds();
    // `ta <= t < tb`, so `span > 0`.
    let share = (t - ta).num_milliseconds() as f64 / span as f64;
    as_f64(pa) + share * (as_f64(pb) - as_f64(pa))
}

fn as_f64(d: Decimal) -> f64 {
    // Every Decimal fits an f64 (with rounding), which is all drawing needs.
    d.to_f64().unwrap_or(0.0)
}

/// A coordinate with one decimal: finer than any screen shows, and short.
fn coord(v: f64) -> String {
    let s = format!("{v:.1}");
    s.strip_suffix(".0").map(str::to_string).unwrap_or(s)
}

/// A price as people read it: at least two decimals, at most four.
fn money(price: Decimal, currency: Option<&str>) -> String {
    let p = price
        .round_dp_with_strategy(4, RoundingStrategy::MidpointAwayFromZero)
        .normalize();
    let shown = if p.scale() < 2 {
        format!("{p:.2}")
    } else {
        p.to_string()
    };
    match currency {
        Some(c) => format!("{shown} {c}"),
        None => shown,
    }
}

fn long_time(t: DateTime<Utc>) -> String {
    t.format("%-d %b %Y %H:%M UTC").to_string()
}

/// Axis labels: times of day for a period under a week, dates beyond.
fn time_pattern(first: DateTime<Utc>, last: DateTime<Utc>) -> &'static str {
    if last - first < chrono::TimeDelta::days(7) {
        "%-d %b %H:%M"
    } else {
        "%-d %b %Y"
    }
}

/// An `id` prefix made from the symbol: letters, digits and `-` only, so
/// it needs no escaping and `aria-labelledby` can list it.
fn element_id(symbol: &str) -> String {
    let mut id = String::from("price-chart-");
    id.extend(symbol.chars().map(|c| {
        if c.is_ascii_alphanumeric() {
            c.to_ascii_lowercase()
        } else {
            '-'
        }
    }));
    id
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use quick_xml::escape::resolve_predefined_entity;
    use quick_xml::events::{BytesStart, Event};
    use quick_xml::{Reader, XmlVersion};

    use super::*;
    use crate::clock::from_db_time;

    /// One element of a parsed chart: its name, attributes (unescaped),
    /// its own text (references resolved), and the elements it is in.
    #[derive(Debug)]
    struct Node {
        name: String,
        attrs: BTreeMap<String, String>,
        text: String,
        /// Names of the enclosing elements, outermost first.
        path: Vec<String>,
    }

    impl Node {
        fn attr(&self, name: &str) -> &str {
            self.attrs
                .get(name)
                .map(String::as_str)
                .unwrap_or_else(|| panic!("<{}> has no {name}: {:?}", self.name, self.attrs))
        }

        fn num(&self, name: &str) -> f64 {
            self.attr(name).parse().unwrap()
        }

        fn inside(&self, name: &str) -> bool {
            self.path.iter().any(|p| p == name)
        }
    }

    fn node(e: &BytesStart<'_>, path: Vec<String>) -> Node {
        let mut attrs = BTreeMap::new();
        for attr in e.attributes() {
            let attr = attr.expect("a well-formed attribute");
            let key = attr.key.as_ref().to_string();
            let value = attr
                .normalized_value(XmlVersion::Implicit1_0)
                .expect("a well-escaped value");
            assert!(
                attrs.insert(key.clone(), value.into_owned()).is_none(),
                "duplicate attribute {key}"
            );
        }
        Node {
            name: e.name().as_ref().to_string(),
            attrs,
            text: String::new(),
            path,
        }
    }

    /// Parses `svg` as an XML document, failing on anything not
    /// well-formed (a bad attribute, an unknown entity, an element left
    /// open or closed twice, a second root), and returns its elements in
    /// document order.
    fn parse(svg: &str) -> Vec<Node> {
        let mut reader = Reader::from_str(svg);
        let mut nodes: Vec<Node> = Vec::new();
        let mut open: Vec<usize> = Vec::new();
        let mut roots = 0;
        loop {
            let event = reader
                .read_event()
                .unwrap_or_else(|e| panic!("not well-formed: {e}\n{svg}"));
            let path = || open.iter().map(|&i| nodes[i].name.clone()).collect();
            match event {
                Event::Start(e) => {
                    roots += usize::from(open.is_empty());
                    let n = node(&e, path());
                    nodes.push(n);
                    open.push(nodes.len() - 1);
                }
                Event::Empty(e) => {
                    roots += usize::from(open.is_empty());
                    let n = node(&e, path());
                    nodes.push(n);
                }
                Event::End(_) => {
                    open.pop().expect("an end tag with nothing open");
                }
                Event::Text(t) => {
                    let text = t.xml10_content();
                    match open.last() {
                        Some(&i) => nodes[i].text.push_str(&text),
                        None => assert!(text.trim().is_empty(), "text outside the root"),
                    }
                }
                Event::GeneralRef(r) => {
                    let c = match r.resolve_char_ref().expect("a valid character reference") {
                        Some(c) => c.to_string(),
                        None => resolve_predefined_entity(&r.xml10_content())
                            .expect("only XML's predefined entities")
                            .to_string(),
                    };
                    nodes[*open.last().expect("a reference inside an element")]
                        .text
                        .push_str(&c);
                }
                Event::Eof => break,
                other => panic!("unexpected {other:?}"),
            }
        }
        assert!(open.is_empty(), "elements left open");
        assert_eq!(roots, 1, "one root element");
        nodes
    }

    fn at(s: &str) -> DateTime<Utc> {
        from_db_time(s).unwrap()
    }

    fn dec(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    /// A day of a price that rises from 10 to 20 and falls to 15.
    fn series() -> Vec<(DateTime<Utc>, Decimal)> {
        vec![
            (at("2026-07-24T09:00:00Z"), dec("10")),
            (at("2026-07-24T12:00:00Z"), dec("20")),
            (at("2026-07-24T15:00:00Z"), dec("15.5")),
        ]
    }

    fn marker(time: &str, title: &str, href: &str) -> Marker {
        Marker {
            at: at(time),
            title: title.into(),
            href: href.into(),
        }
    }

    fn all<'a>(nodes: &'a [Node], name: &str) -> Vec<&'a Node> {
        nodes.iter().filter(|n| n.name == name).collect()
    }

    fn one<'a>(nodes: &'a [Node], name: &str) -> &'a Node {
        let found = all(nodes, name);
        assert_eq!(found.len(), 1, "one <{name}>");
        found[0]
    }

    fn by_class<'a>(nodes: &'a [Node], class: &str) -> Vec<&'a Node> {
        nodes
            .iter()
            .filter(|n| {
                n.attrs
                    .get("class")
                    .is_some_and(|c| c.split(' ').any(|c| c == class))
            })
            .collect()
    }

    #[test]
    fn the_drawing_is_an_image_labelled_by_its_title_and_description() {
        let svg = price_chart("VOD", &series(), &[], Some("GBP"));
        let nodes = parse(&svg);
        let root = &nodes[0];
        assert_eq!(root.name, "svg");
        let title = one(&nodes, "title");
        let desc = one(&nodes, "desc");
        let plot = &by_class(&nodes, "chart-plot")[0];
        assert_eq!(plot.attr("role"), "img");
        assert_eq!(
            plot.attr("aria-labelledby"),
            format!("{} {}", title.attr("id"), desc.attr("id"))
        );
        assert_eq!(root.attr("aria-labelledby"), title.attr("id"));
        assert_eq!(
            title.text,
            "VOD: recorded price, 24 Jul 2026 09:00 UTC to 24 Jul 2026 15:00 UTC"
        );
        assert_eq!(
            desc.text,
            "First 10.00 GBP, last 15.50 GBP: up 5.50 GBP (+55.00%). \
             Low 10.00 GBP, high 20.00 GBP, over 3 recorded quotes. No news items are marked."
        );
        // The polyline and the axis text are parts of the image.
        assert!(one(&nodes, "polyline").inside("g"));
        assert!(
            by_class(&nodes, "chart-label")
                .iter()
                .all(|n| n.path.last().is_some_and(|p| p == "g"))
        );
    }

    #[test]
    fn a_fall_is_said_in_words_with_a_minus_sign() {
        let falling = [
            (at("2026-07-24T09:00:00Z"), dec("40")),
            (at("2026-07-24T10:00:00Z"), dec("39.5")),
        ];
        let svg = price_chart("BP", &falling, &[], None);
        let nodes = parse(&svg);
        assert!(
            one(&nodes, "desc")
                .text
                .starts_with("First 40.00, last 39.50: down 0.50 (\u{2212}1.25%).")
        );
        let flat = [
            (at("2026-07-24T09:00:00Z"), dec("40")),
            (at("2026-07-24T10:00:00Z"), dec("40.00")),
        ];
        let svg = price_chart("BP", &flat, &[], None);
        assert!(
            parse(&svg)[..]
                .iter()
                .any(|n| n.name == "desc"
                    && n.text.starts_with("First 40.00, last 40.00: unchanged."))
        );
    }

    #[test]
    fn axes_label_the_lowest_and_highest_price_and_the_first_and_last_time() {
        let svg = price_chart("VOD", &series(), &[], Some("GBP"));
        let nodes = parse(&svg);
        let prices: Vec<&str> = by_class(&nodes, "chart-price")
            .iter()
            .map(|n| n.text.as_str())
            .collect();
        assert_eq!(prices, ["20.00 GBP", "10.00 GBP"]);
        let times: Vec<&str> = by_class(&nodes, "chart-time")
            .iter()
            .map(|n| n.text.as_str())
            .collect();
        assert_eq!(times, ["24 Jul 09:00", "24 Jul 15:00"]);

        // Over a week, dates without the time of day.
        let long = [
            (at("2026-06-01T09:00:00Z"), dec("1.23456")),
            (at("2026-07-24T09:00:00Z"), dec("2")),
        ];
        let nodes = parse(&price_chart("X", &long, &[], None));
        let times: Vec<&str> = by_class(&nodes, "chart-time")
            .iter()
            .map(|n| n.text.as_str())
            .collect();
        assert_eq!(times, ["1 Jun 2026", "24 Jul 2026"]);
        let prices: Vec<&str> = by_class(&nodes, "chart-price")
            .iter()
            .map(|n| n.text.as_str())
            .collect();
        assert_eq!(prices, ["2.00", "1.2346"]);
    }

    #[test]
    fn the_line_runs_through_every_quote_oldest_first_within_the_plot() {
        let mut shuffled = series();
        shuffled.reverse();
        let nodes = parse(&price_chart("VOD", &shuffled, &[], None));
        let points: Vec<(f64, f64)> = one(&nodes, "polyline")
            .attr("points")
            .split(' ')
            .map(|p| {
                let (x, y) = p.split_once(',').unwrap();
                (x.parse().unwrap(), y.parse().unwrap())
            })
            .collect();
        assert_eq!(points.len(), 3);
        assert!(points.windows(2).all(|w| w[0].0 < w[1].0), "{points:?}");
        // 10 at the bottom of the plot, 20 at the top, 15.5 in between.
        let (bottom, top) = (HEIGHT - BOTTOM, TOP);
        assert_eq!(points[0].1, bottom);
        assert_eq!(points[1].1, top);
        assert!(points[2].1 > top && points[2].1 < bottom);
        assert_eq!(points[2].0, WIDTH - RIGHT);
    }

    #[test]
    fn one_marker_per_item_on_the_line_at_its_time() {
        let markers = [
            // Halfway between the 10 at 09:00 and the 20 at 12:00.
            marker("2026-07-24T10:30:00Z", "Rally", "/items/a"),
            // Exactly on a quote.
            marker("2026-07-24T12:00:00Z", "Peak", "/items/b"),
        ];
        let svg = price_chart("VOD", &series(), &markers, None);
        let nodes = parse(&svg);
        let links = all(&nodes, "a");
        assert_eq!(links.len(), 2);
        assert_eq!(links[0].attr("href"), "/items/a");
        assert_eq!(links[1].attr("href"), "/items/b");
        let titles: Vec<&str> = nodes
            .iter()
            .filter(|n| n.name == "title" && n.inside("a"))
            .map(|n| n.text.as_str())
            .collect();
        assert_eq!(
            titles,
            [
                "1. Rally (24 Jul 2026 10:30 UTC)",
                "2. Peak (24 Jul 2026 12:00 UTC)"
            ]
        );
        // Markers are links outside the image, whose children are
        // presentational: in their own group, not in the plot's.
        for a in &links {
            assert_eq!(a.path, ["svg", "g"]);
        }
        let plot = svg.split("<g class=\"chart-plot\"").nth(1).unwrap();
        let plot = &plot[..plot.find("</g>").unwrap()];
        assert!(!plot.contains("<a "), "{plot}");

        let (bottom, top) = (HEIGHT - BOTTOM, TOP);
        let circles = all(&nodes, "circle");
        let (x0, x1) = (
            by_class(&nodes, "chart-axis")[0]
                .attr("d")
                .trim_start_matches('M')
                .split(',')
                .next()
                .unwrap()
                .parse::<f64>()
                .unwrap(),
            WIDTH - RIGHT,
        );
        let x_mid = (x0 + x1) / 2.0;
        assert!((circles[0].num("cx") - (x0 + (x_mid - x0) / 2.0)).abs() < 0.1);
        assert!(
            (circles[0].num("cy") - (bottom + top) / 2.0).abs() < 0.1,
            "15 is halfway up"
        );
        assert!((circles[1].num("cx") - x_mid).abs() < 0.1);
        assert_eq!(circles[1].num("cy"), top);
    }

    #[test]
    fn markers_read_without_colour_a_dashed_rule_and_a_numbered_circle() {
        let markers = [
            marker("2026-07-24T10:00:00Z", "One", "/items/a"),
            marker("2026-07-24T11:00:00Z", "Two", "/items/b"),
        ];
        let svg = price_chart("VOD", &series(), &markers, Some("GBP"));
        let nodes = parse(&svg);
        // Each link holds its rule, its circle and its number.
        for a in all(&nodes, "a") {
            let depth = a.path.len();
            let start = nodes.iter().position(|n| std::ptr::eq(n, a)).unwrap();
            let parts: Vec<&str> = nodes[start + 1..]
                .iter()
                .take_while(|n| n.path.len() > depth)
                .map(|n| n.name.as_str())
                .collect();
            assert_eq!(parts, ["title", "line", "circle", "text"]);
        }
        let rules = by_class(&nodes, "chart-rule");
        assert_eq!(rules.len(), 2);
        assert!(rules.iter().all(|r| r.attr("stroke-dasharray") == "4 3"
            && r.num("x1") == r.num("x2")
            && r.num("y1") == TOP
            && r.num("y2") == HEIGHT - BOTTOM));
        let numbers: Vec<&str> = by_class(&nodes, "chart-number")
            .iter()
            .map(|n| n.text.as_str())
            .collect();
        assert_eq!(numbers, ["1", "2"]);
        assert_eq!(all(&nodes, "circle").len(), 2);

        // Colours only from the theme; nothing CSP would block.
        for n in &nodes {
            for key in ["fill", "stroke"] {
                if let Some(v) = n.attrs.get(key) {
                    assert!(
                        matches!(v.as_str(), "currentColor" | "none" | "Canvas"),
                        "<{}> {key}={v}",
                        n.name
                    );
                }
            }
            assert!(!n.attrs.contains_key("style"), "CSP forbids inline style");
            assert_ne!(n.name, "style");
            assert_ne!(n.name, "script");
        }
    }

    /// The layout leaves room for the size the stylesheet gives the text
    /// on a phone: the two say the same size.
    #[test]
    fn the_stylesheet_sets_the_narrow_text_size_the_layout_makes_room_for() {
        let style = crate::render::html::STYLE;
        let rule = style
            .split("@media (max-width: 30rem)")
            .nth(1)
            .and_then(|rest| rest.split('}').next())
            .expect("a narrow-screen rule for the chart");
        assert!(rule.contains(".price-chart"), "{rule}");
        assert!(
            rule.contains(&format!("font-size: {NARROW_FONT_SIZE}px")),
            "{rule}"
        );
    }

    #[test]
    fn scales_with_a_view_box_and_no_fixed_size() {
        let svg = price_chart("VOD", &series(), &[], None);
        let nodes = parse(&svg);
        let root = &nodes[0];
        assert_eq!(root.attr("viewBox"), format!("0 0 {WIDTH} {HEIGHT}"));
        assert_eq!(root.attr("width"), "100%");
        assert!(!root.attrs.contains_key("height"));
    }

    /// Headlines and links are hostile input: whatever they hold comes out
    /// as the same text, never as markup, and the chart stays well-formed
    /// XML.
    #[test]
    fn hostile_titles_links_symbols_and_currencies_are_escaped() {
        let evil = "<script>alert(1)</script> \"quoted\" & 'single' ]]> <!-- \u{1}end";
        let markers = [Marker {
            at: at("2026-07-24T10:00:00Z"),
            title: evil.into(),
            href: "/items/x\" onmouseover=\"alert(1)".into(),
        }];
        let svg = price_chart("<b>\"V&D\"", &series(), &markers, Some("<i>€\"</i>"));
        assert!(!svg.contains("<script"), "{svg}");
        assert!(!svg.contains("<b>") && !svg.contains("<i>"), "{svg}");
        assert!(!svg.contains("\" onmouseover"), "{svg}");
        let nodes = parse(&svg);
        let link = one(&nodes, "a");
        assert_eq!(link.attr("href"), "/items/x\" onmouseover=\"alert(1)");
        assert!(!link.attrs.contains_key("onmouseover"));
        let title = nodes
            .iter()
            .find(|n| n.name == "title" && n.inside("a"))
            .unwrap();
        // Only the control character XML cannot carry is gone.
        assert_eq!(
            title.text,
            "1. <script>alert(1)</script> \"quoted\" & 'single' ]]> <!-- end (24 Jul 2026 10:00 UTC)"
        );
        let chart_title = nodes
            .iter()
            .find(|n| n.name == "title" && !n.inside("a"))
            .unwrap();
        assert!(chart_title.text.starts_with("<b>\"V&D\": recorded price"));
        assert_eq!(by_class(&nodes, "chart-price")[0].text, "20.00 <i>€\"</i>");
        // The ids the labels point at stay plain.
        assert_eq!(chart_title.attr("id"), "price-chart--b--v-d--title");
        assert_eq!(all(&nodes, "script").len(), 0);
    }

    #[test]
    fn no_quotes_or_one_quote_is_a_sentence_not_a_chart() {
        let markers = [marker("2026-07-24T10:00:00Z", "News", "/items/a")];
        let none = price_chart("VOD", &[], &markers, Some("GBP"));
        assert_eq!(
            none,
            "<p class=\"price-chart-empty\">No quotes of VOD are recorded yet, so there is no chart.</p>"
        );
        let one_quote = price_chart(
            "<VOD>",
            &[(at("2026-07-24T09:00:00Z"), dec("29.7"))],
            &markers,
            Some("GBP"),
        );
        assert_eq!(
            one_quote,
            "<p class=\"price-chart-empty\">One quote of &lt;VOD&gt; is recorded so far: 29.70 GBP \
             at <time datetime=\"2026-07-24T09:00:00Z\">24 Jul 2026 09:00 UTC</time>. \
             The chart needs at least two.</p>"
        );
        assert!(!none.contains("<svg") && !one_quote.contains("<svg"));
        parse(&none);
        parse(&one_quote);
        assert!(!draws(&[]));
        assert!(!draws(&[(at("2026-07-24T09:00:00Z"), dec("29.7"))]));
    }

    /// QA: a closed market's price, fetched at each refresh with the one
    /// time the provider gives it, drew a chart whose time axis started
    /// and ended at the same minute.
    #[test]
    fn quotes_all_of_one_moment_are_a_sentence_not_a_chart() {
        let t = at("2026-07-24T15:30:00Z");
        let same = [(t, dec("29.7")), (t, dec("29.7")), (t, dec("29.8"))];
        assert!(!draws(&same));
        assert_eq!(
            price_chart("VOD", &same, &[], Some("GBP")),
            "<p class=\"price-chart-empty\">All 3 quotes of VOD recorded so far are of one moment: \
             29.80 GBP at <time datetime=\"2026-07-24T15:30:00Z\">24 Jul 2026 15:30 UTC</time>. \
             The chart needs at least two.</p>"
        );
        assert!(draws(&[
            (t, dec("1")),
            (at("2026-07-24T15:31:00Z"), dec("1"))
        ]));
    }

    #[test]
    fn markers_outside_the_period_are_clamped_to_its_edges_and_say_so() {
        let markers = [
            marker("2026-07-23T09:00:00Z", "Day before", "/items/early"),
            marker("2026-07-25T09:00:00Z", "Day after", "/items/late"),
        ];
        let nodes = parse(&price_chart("VOD", &series(), &markers, None));
        let points: Vec<&str> = one(&nodes, "polyline").attr("points").split(' ').collect();
        let circles = all(&nodes, "circle");
        assert_eq!(circles.len(), 2, "both still shown");
        let at_point = |c: &Node, p: &str| {
            let (x, y) = p.split_once(',').unwrap();
            assert_eq!((c.attr("cx"), c.attr("cy")), (x, y));
        };
        at_point(circles[0], points[0]);
        at_point(circles[1], points[2]);
        let titles: Vec<&str> = nodes
            .iter()
            .filter(|n| n.name == "title" && n.inside("a"))
            .map(|n| n.text.as_str())
            .collect();
        assert_eq!(
            titles,
            [
                "1. Day before (23 Jul 2026 09:00 UTC), before the first recorded quote",
                "2. Day after (25 Jul 2026 09:00 UTC), after the last recorded quote"
            ]
        );
    }

    #[test]
    fn degenerate_series_draw_without_nan() {
        // Every quote at one instant, and every quote the same price.
        let instant = [
            (at("2026-07-24T09:00:00Z"), dec("10")),
            (at("2026-07-24T09:00:00Z"), dec("12")),
        ];
        let flat = [
            (at("2026-07-24T09:00:00Z"), dec("10")),
            (at("2026-07-24T10:00:00Z"), dec("10")),
        ];
        let markers = [marker("2026-07-24T09:30:00Z", "News", "/items/a")];
        for series in [&instant[..], &flat[..]] {
            let svg = price_chart("VOD", series, &markers, None);
            assert!(!svg.contains("NaN") && !svg.contains("inf"), "{svg}");
            parse(&svg);
        }
        let nodes = parse(&price_chart("VOD", &flat, &markers, None));
        let prices = by_class(&nodes, "chart-price");
        assert_eq!(prices.len(), 1, "one price, labelled once");
        assert_eq!(prices[0].text, "10.00");
    }
}
