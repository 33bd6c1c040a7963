//! HTML inside a feed that nests too deep to sanitise: reduced to its text.
//!
//! The XML nesting limit (`repair.rs`) does not see HTML that arrives as
//! text (escaped, in CDATA, or unescaped markup the repair pass turned into
//! text). `normalize` sanitises that HTML with ammonia, and html5ever's tree
//! builder walks the stack of open elements for many start tags, so its
//! cost grows with the square of the nesting: 20,000 nested `<div>`s take
//! seconds, the 800,000 a 5 MB body can hold would take hours of one CPU.
//! No real article nests more than a few dozen levels, so an entry whose
//! HTML nests deeper than [`MAX_DEPTH`](super::MAX_DEPTH) keeps its text and
//! loses its markup, before `normalize` sees it.

use super::repair::find;
use crate::markup::escape_text;
use feed_rs::model::{Content, Feed, Text};

/// Elements that never nest: void, or closed implicitly by the next one of
/// their kind (`<p>`, `<li>`), so an unclosed one is not a level.
const NOT_NESTING: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
    "track", "wbr", "p", "li", "dt", "dd", "option", "optgroup", "tr", "td", "th", "thead",
    "tbody", "tfoot", "colgroup", "rp", "rt",
];

/// Reduces every HTML title, summary and content in `feed` that nests
/// deeper than `limit` to plain text; returns how many it reduced.
pub(super) fn defuse(feed: &mut Feed, limit: usize) -> usize {
    let mut reduced = usize::from(reduce_text(&mut feed.title, limit))
        + usize::from(reduce_text(&mut feed.description, limit));
    for entry in &mut feed.entries {
        reduced += usize::from(reduce_text(&mut entry.title, limit));
        reduced += usize::from(reduce_text(&mut entry.summary, limit));
        if let Some(body) = entry.content.as_ref().and_then(|c| c.body.as_deref())
            && nests_deeper_than(body, limit)
        {
            // `normalize` sanitises content whatever its type, so the body
            // is escaped text: markup-free for the sanitiser.
            let escaped = escape_text(&to_text(body)).into_owned();
            entry.content = Some(Content {
                body: Some(escaped),
                ..Content::default()
            });
            reduced += 1;
        }
    }
    reduced
}

fn reduce_text(text: &mut Option<Text>, limit: usize) -> bool {
    let Some(t) = text else { return false };
    if t.content_type.as_str() == "text/plain" || !nests_deeper_than(&t.content, limit) {
        return false;
    }
    // `Content::default()` is the one public way to a `text/plain` media
    // type without depending on the `mediatype` crate.
    t.content_type = Content::default().content_type;
    t.content = to_text(&t.content);
    true
}

/// Whether the elements in `html` nest deeper than `limit`, estimated in
/// one pass: start tags open a level, end tags close one, and the
/// [`NOT_NESTING`] elements, comments and self-closed tags do neither.
fn nests_deeper_than(html: &str, limit: usize) -> bool {
    let b = html.as_bytes();
    // Each level needs a `<`: most HTML has too few to be worth walking.
    if memchr::memchr_iter(b'<', b).nth(limit).is_none() {
        return false;
    }
    let mut depth = 0usize;
    let mut i = 0;
    while let Some(lt) = memchr::memchr(b'<', &b[i..]) {
        i += lt + 1;
        if b[i..].starts_with(b"!--") {
            match find(&b[i..], b"-->") {
                Some(n) => i += n + 3,
                None => return false,
            }
            continue;
        }
        let closing = b.get(i) == Some(&b'/');
        let name_start = i + usize::from(closing);
        let name_len = b[name_start..]
            .iter()
            .position(|c| !c.is_ascii_alphanumeric())
            .unwrap_or(b.len() - name_start);
        if name_len == 0 {
            continue;
        }
        let name = &b[name_start..name_start + name_len];
        let Some(gt) = memchr::memchr(b'>', &b[name_start..]) else {
            return false;
        };
        let end = name_start + gt;
        i = end + 1;
        if NOT_NESTING
            .iter()
            .any(|n| n.as_bytes().eq_ignore_ascii_case(name))
        {
            continue;
        }
        if closing {
            depth = depth.saturating_sub(1);
        } else if b[end - 1] != b'/' {
            depth += 1;
            if depth > limit {
                return true;
            }
        }
    }
    false
}

/// The text of `html`: tags and comments removed, the common references
/// decoded.
fn to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len() / 2);
    let mut rest = html;
    while let Some(lt) = rest.find('<') {
        out.push_str(&rest[..lt]);
        let after = &rest[lt + 1..];
        if !after.starts_with(|c: char| c.is_ascii_alphabetic() || c == '/' || c == '!') {
            out.push('<');
            rest = after;
            continue;
        }
        let close = if after.starts_with("!--") { "-->" } else { ">" };
        match after.find(close) {
            Some(n) => rest = &after[n + close.len()..],
            None => rest = "",
        }
    }
    out.push_str(rest);
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", "\u{a0}")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_is_estimated_as_html_nests() {
        let nested = |n| format!("{}x{}", "<div>".repeat(n), "</div>".repeat(n));
        assert!(!nests_deeper_than(&nested(10), 10));
        assert!(nests_deeper_than(&nested(11), 10));
        // Siblings, void and implicitly closed elements are not levels.
        let flat = "<div></div>".repeat(100) + &"<p>para<br><img src=x><li>".repeat(100);
        assert!(!nests_deeper_than(&flat, 10));
        assert!(!nests_deeper_than(&"<span/>".repeat(100), 10));
        assert!(!nests_deeper_than("<!-- <div><div><div> -->a < b", 1));
    }

    #[test]
    fn deep_html_keeps_its_text() {
        let deep = format!(
            "{}Caf&eacute; &amp; <b>bar</b>{}",
            "<div>".repeat(20),
            "</div>".repeat(20)
        );
        assert_eq!(to_text(&deep), "Caf&eacute; & bar");
        assert_eq!(to_text("a < b <!-- c --> d"), "a < b  d");
    }
}
