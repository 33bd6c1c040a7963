//! Escaping text for XML and HTML, and the characters XML 1.0 may carry.
//!
//! The one home of the escaping every writer of markup needs: the pipeline
//! (plain text made HTML before it is archived, feeds repaired before they
//! are parsed), `render` (our Atom and RSS documents, the ticker strip) and
//! `opml` (the exported feed list). It sits at the bottom with `clock`:
//! it imports nothing from the crate, so every layer may use it without
//! pointing an import upwards.
//!
//! The functions differ on purpose, one per context; pick by where the text
//! goes:
//!
//! | function          | for                                                        | escapes                    | drops what XML cannot carry |
//! |-------------------|------------------------------------------------------------|----------------------------|-----------------------------|
//! | [`escape_text`]   | text into HTML or XML element content we hand on as data   | `& < >`                    | no                          |
//! | [`push_xml_text`] | element content of a document we write and serve           | `& < >`, CR                | yes                         |
//! | [`push_xml_attr`] | a double-quoted attribute value of such a document         | `& < > "`, tab, LF, CR     | yes                         |
//! | [`push_html`]     | HTML text and attribute values in either kind of quote     | `& < > " '`                | no                          |
//! | [`xml_chars`]     | values handed to a writer that escapes but does not filter | nothing                    | yes                         |
//!
//! None of them is `quick_xml::escape`: its functions also escape CR (and
//! `'` as `&apos;`), so they would change bytes readers and tests rely on.
//!
//! Beside them, [`collapse_whitespace`]: text as a one-line reader sees
//! it (titles, snippets, names to match), for every layer alike.

use std::borrow::Cow;

/// `&`, `<` and `>` as references; everything else as given.
///
/// For text that becomes HTML or XML element content and is then handed on
/// as data rather than served: plain-text summaries the pipeline archives as
/// HTML, and text the parse stage's repairs put back into a feed. The
/// characters are kept as they are (the parse stage has already removed
/// those XML cannot carry); the renderers filter again when they write.
pub fn escape_text(s: &str) -> Cow<'_, str> {
    if !s.bytes().any(|b| matches!(b, b'&' | b'<' | b'>')) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Appends `s` as the element content of an XML document we serve.
///
/// `&`, `<` and `>` become references, and so does CR, because parsers turn
/// a literal CR (or CRLF) into LF even in text. Characters XML 1.0 cannot
/// carry at all are dropped (see [`xml_chars`]).
pub fn push_xml_text(out: &mut String, s: &str) {
    push_xml(out, s, XmlContext::Text);
}

/// Appends `s` as a double-quoted attribute value of an XML document.
///
/// As [`push_xml_text`], plus `"`, and tabs and line feeds become references
/// because parsers turn literal ones into spaces in attribute values (XML 1.0
/// §3.3.3). Also right for element content where a tab or line break must
/// survive any reader (the OPML export uses it for both).
pub fn push_xml_attr(out: &mut String, s: &str) {
    push_xml(out, s, XmlContext::Attribute);
}

#[derive(Clone, Copy, PartialEq)]
enum XmlContext {
    Text,
    Attribute,
}

fn push_xml(out: &mut String, s: &str, context: XmlContext) {
    let attribute = context == XmlContext::Attribute;
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if attribute => out.push_str("&quot;"),
            '\t' if attribute => out.push_str("&#9;"),
            '\n' if attribute => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c if is_xml_char(c) => out.push(c),
            _ => {}
        }
    }
}

/// Appends `s` as HTML text or an attribute value in either kind of quote:
/// `&`, `<`, `>`, `"` and `'` (as `&#39;`, which HTML 4 readers know too)
/// become references. For HTML we build ourselves, such as the ticker strip;
/// the document that carries that HTML escapes it again as a whole.
pub fn push_html(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

/// `s` without the characters XML 1.0 cannot carry at all, not even as
/// character references (C0 controls other than tab, LF and CR; U+FFFE;
/// U+FFFF). Feeds in the wild contain them, and a single one makes a whole
/// document unreadable: the parse stage removes them from what it is given,
/// and writers that escape but do not filter (the `rss` crate) get their
/// values through here.
///
/// Takes and gives a `Cow`, so text that needs nothing (almost all of it)
/// is neither copied nor reallocated.
pub fn xml_chars<'a>(s: impl Into<Cow<'a, str>>) -> Cow<'a, str> {
    let s = s.into();
    if carries_only_xml_chars(&s) {
        s
    } else {
        Cow::Owned(s.chars().filter(|&c| is_xml_char(c)).collect())
    }
}

/// Whether XML 1.0 may carry `c` (the `Char` production, §2.2).
pub fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | ' '..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// [`is_xml_char`] for every character of `s`, checked on bytes, since
/// almost no text fails: C0 controls are single bytes in UTF-8, and U+FFFE
/// and U+FFFF are the only characters encoded as EF BF BE and EF BF BF.
fn carries_only_xml_chars(s: &str) -> bool {
    let b = s.as_bytes();
    // In blocks without an early exit, so the compiler vectorises it.
    let has_control = b.chunks(256).any(|block| {
        block.iter().fold(false, |any, &c| {
            any | (c < b' ' && c != b'\t' && c != b'\n' && c != b'\r')
        })
    });
    let has_nonchar = memchr::memmem::find_iter(b, b"\xEF\xBF")
        .any(|i| matches!(b.get(i + 2), Some(0xBE | 0xBF)));
    !has_control && !has_nonchar
}

/// `s` with every run of whitespace made one space and none at either
/// end, as `split_whitespace` and `join(" ")` give it.
///
/// Borrows text that is already so (almost every title): collapsing each
/// item's title by splitting it into a vector and joining it again was
/// 1 % of a first poll's CPU.
pub fn collapse_whitespace(s: &str) -> Cow<'_, str> {
    let mut after_space = true;
    let collapsed = s.chars().all(|c| {
        let ok = !c.is_whitespace() || (c == ' ' && !after_space);
        after_space = c.is_whitespace();
        ok
    }) && (s.is_empty() || !after_space);
    if collapsed {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    for word in s.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    Cow::Owned(out)
}

/// `s` with each control character (line breaks, tabs, escapes) made a
/// space: text from elsewhere (a hub's reason, a feed's title) that goes
/// into one line of a log, a TOML comment or a systemd status, where a
/// line break would end the line and forge the next.
pub fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// [`collapse_whitespace`] of text the caller owns, without a copy when it
/// changes nothing.
pub fn collapse_whitespace_owned(s: String) -> String {
    match collapse_whitespace(&s) {
        Cow::Borrowed(_) => s,
        Cow::Owned(collapsed) => collapsed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whitespace_collapses_as_split_and_join_would_and_borrows_what_is_collapsed() {
        for s in [
            "",
            " ",
            "a",
            "Apple beats estimates",
            " Apple",
            "Apple ",
            "Apple  beats",
            "Apple\tbeats",
            "Apple\nbeats\n",
            "Apple\u{a0}beats",
            "\u{2003}Apple \u{3000} beats\r\n",
            "é à  ü",
        ] {
            let want = s.split_whitespace().collect::<Vec<_>>().join(" ");
            let got = collapse_whitespace(s);
            assert_eq!(got, want, "{s:?}");
            assert_eq!(matches!(got, Cow::Borrowed(_)), want == s, "{s:?}");
            assert_eq!(collapse_whitespace_owned(s.to_owned()), want, "{s:?}");
        }
    }

    fn attr(s: &str) -> String {
        let mut out = String::new();
        push_xml_attr(&mut out, s);
        out
    }

    fn text(s: &str) -> String {
        let mut out = String::new();
        push_xml_text(&mut out, s);
        out
    }

    fn html(s: &str) -> String {
        let mut out = String::new();
        push_html(&mut out, s);
        out
    }

    #[test]
    fn escape_text_escapes_only_what_markup_needs() {
        assert_eq!(escape_text("plain"), Cow::Borrowed("plain"));
        assert_eq!(
            escape_text("a < b && c > \"d\" 'e'\r\u{1}"),
            "a &lt; b &amp;&amp; c &gt; \"d\" 'e'\r\u{1}"
        );
    }

    #[test]
    fn xml_text_keeps_quotes_and_whitespace_but_not_cr() {
        assert_eq!(
            text("a&b <c> \"q\" 'p'\tx\ny\r\n\u{0}\u{FFFE}z"),
            "a&amp;b &lt;c&gt; \"q\" 'p'\tx\ny&#13;\nz"
        );
    }

    // Moved from the OPML export, whose own copy of this function it tested.
    #[test]
    fn escape_drops_what_xml_cannot_carry() {
        assert_eq!(attr("a\u{1}b\u{ffff}c\td"), "abc&#9;d");
    }

    #[test]
    fn xml_attr_escapes_quotes_and_whitespace() {
        assert_eq!(
            attr("\"q\" 'p' a\nb\r\n"),
            "&quot;q&quot; 'p' a&#10;b&#13;&#10;"
        );
    }

    #[test]
    fn html_escapes_both_quotes_and_keeps_everything_else() {
        assert_eq!(
            html("AT&T \"<x>\" 's\t\u{1}"),
            "AT&amp;T &quot;&lt;x&gt;&quot; &#39;s\t\u{1}"
        );
    }

    // Moved from the parse stage's repairs, whose own copy of this filter
    // (`strip_forbidden_chars`) it tested.
    #[test]
    fn forbidden_characters_are_removed() {
        assert_eq!(xml_chars("a\u{0}b\u{b}c\td\u{FFFF}"), "abc\td");
        assert_eq!(xml_chars("x\u{FFFE}y"), "xy");
        // Past the first block of the byte scan.
        let long = format!("{}\u{7}z", "a".repeat(1000));
        assert_eq!(xml_chars(long), format!("{}z", "a".repeat(1000)));
        // Neighbours that share bytes with U+FFFE/U+FFFF stay.
        let kept = "\u{FFFD}\u{FFEF}\u{FFBF}\u{EFBF} \u{e9}\r\n\t".to_string();
        assert_eq!(xml_chars(kept.clone()), kept);
    }

    #[test]
    fn clean_text_is_not_copied() {
        assert!(matches!(xml_chars("fine\ttext\n"), Cow::Borrowed(_)));
        let owned = String::from("fine");
        let ptr = owned.as_ptr();
        let back = xml_chars(owned).into_owned();
        assert_eq!(back.as_ptr(), ptr);
    }
}
