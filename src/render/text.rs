//! Plain text of the sanitised HTML the archive holds, for outputs that
//! show text: JSON Feed summaries and the news page; and the title shown
//! for an item without one, in the pages and the feeds alike.

use crate::model::Entry;

/// Characters of text that stand in for a missing title.
const TITLE_CHARS: usize = 80;

/// The title shown for `entry`: its own, else (a post without one, as
/// Mastodon's feeds carry) the start of its `text` (its summary or content
/// as plain text, when the caller has it), else its link: a list of items
/// must never hold an empty line.
pub(super) fn shown_title(entry: &Entry, text: Option<&str>) -> String {
    if !entry.title.trim().is_empty() {
        return entry.title.clone();
    }
    match (text, &entry.url) {
        (Some(text), _) => shorten(text, TITLE_CHARS),
        (None, Some(url)) => url.clone(),
        (None, None) => "Untitled".to_string(),
    }
}

/// [`shown_title`] for an output that has not made the entry's text: made
/// here only when the entry has no title of its own.
pub(super) fn title_of(entry: &Entry) -> String {
    if !entry.title.trim().is_empty() {
        return entry.title.clone();
    }
    shown_title(entry, entry_text(entry).as_deref())
}

/// The plain text of `entry`'s summary, else its content; `None` when it
/// has neither, or they hold no text.
pub(super) fn entry_text(entry: &Entry) -> Option<String> {
    entry
        .summary_html
        .as_deref()
        .or(entry.content_html.as_deref())
        .map(html_to_text)
        .filter(|t| !t.is_empty())
}

/// `text` cut at a word boundary to at most `max` characters, plus the
/// `…` a cut gets unless it ends a sentence; before the `…`, the
/// punctuation and space it ended on are dropped ("rose,…" reads as a
/// typo), except the full stop of an abbreviation, which is part of its
/// word ("Apple Inc.…").
pub(super) fn shorten(text: &str, max: usize) -> String {
    let Some((at, next)) = text.char_indices().nth(max) else {
        return text.to_string();
    };
    // Only space past the limit: nothing is cut, so no `…` (an uncut text
    // that ends "in the U.S." would otherwise read as cut there).
    if text[at..].trim_start().is_empty() {
        return text.trim_end().to_string();
    }
    let cut = &text[..at];
    // A cut just before a space keeps its last word whole.
    let end = if next.is_whitespace() {
        cut.len()
    } else {
        cut.rfind(' ').unwrap_or(cut.len())
    };
    let kept = cut[..end].trim_end();
    if ends_a_sentence(kept) {
        return kept.to_string();
    }
    if ends_in_an_abbreviation(kept) {
        return format!("{kept}…");
    }
    let kept = kept.trim_end_matches(|c: char| c.is_whitespace() || TRAILING.contains(&c));
    format!("{kept}…")
}

/// What a cut drops from its end before its `…`: punctuation that joins a
/// sentence to what came after it, or opens something the cut left out.
const TRAILING: &[char] = &[
    ',', ';', ':', '-', '\u{2013}', '\u{2014}', '/', '(', '[', '{', '\u{201c}', '\u{2018}',
    '\u{ab}', '"', '\'', '&', '.',
];

/// Whether `text` ends with a sentence's end, closing quotes or brackets
/// after it included (`He said "no."`). The full stop of an abbreviation
/// does not count: a cut after "Apple Inc." is still mid-sentence.
fn ends_a_sentence(text: &str) -> bool {
    let text = text.trim_end_matches(CLOSING);
    text.ends_with([
        '.', '!', '?', '\u{2026}', '\u{3002}', '\u{ff01}', '\u{ff1f}',
    ]) && !ends_in_an_abbreviation(text)
}

/// What may close a quotation or aside after a sentence's end.
const CLOSING: &[char] = &['"', '\'', '\u{201d}', '\u{2019}', '\u{bb}', ')', ']'];

/// Words whose full stop marks an abbreviation, not a sentence's end: the
/// company suffixes and titles that news summaries cut after most often.
/// Kept small on purpose; a word missing here only costs a missing `…`.
/// Initials ("J.", "U.S.", "e.g.") need no entry: see
/// [`ends_in_an_abbreviation`].
const ABBREVIATIONS: &[&str] = &[
    "Inc", "Corp", "Ltd", "Co", "Bros", "Mr", "Mrs", "Ms", "Dr", "Prof", "St", "Jr", "Sr", "vs",
];

/// Whether `text`'s last word (quotes and brackets around it aside) is an
/// abbreviation with its full stop: one of [`ABBREVIATIONS`], or initials,
/// single letters each followed by a full stop ("J.", "U.S.").
fn ends_in_an_abbreviation(text: &str) -> bool {
    let word = text
        .trim_end_matches(CLOSING)
        .rsplit(char::is_whitespace)
        .next()
        .unwrap_or_default()
        .trim_start_matches(['"', '\'', '\u{201c}', '\u{2018}', '\u{ab}', '(', '[']);
    let Some(stem) = word.strip_suffix('.') else {
        return false;
    };
    ABBREVIATIONS.contains(&stem)
        || stem.split('.').all(|initial| {
            let mut chars = initial.chars();
            chars.next().is_some_and(char::is_alphabetic) && chars.next().is_none()
        })
}

/// Plain text of sanitised HTML, for JSON Feed's `summary` and the news
/// page's summaries: tags dropped
/// (block-level ones leave a space so words do not run together), entities
/// decoded, whitespace collapsed. The input comes from the sanitiser, so
/// comments and `<script>` are already gone; quoted attribute values may
/// still contain `>`, so the scan tracks quotes inside tags.
pub(super) fn html_to_text(html: &str) -> String {
    let mut text = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(c) = rest.chars().next() {
        if c == '<' && starts_tag(&rest[1..]) {
            let end = tag_end(rest);
            if is_block_tag(&rest[..end]) {
                text.push(' ');
            }
            rest = &rest[end..];
        } else if c == '&' {
            let (decoded, len) = decode_entity(rest);
            text.push_str(decoded.as_deref().unwrap_or("&"));
            rest = &rest[len..];
        } else {
            text.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    crate::markup::collapse_whitespace_owned(text)
}

/// Whether the text after a `<` opens a tag (as in the HTML tokenizer: a
/// letter, `/` or `!`); otherwise the `<` is a literal character.
fn starts_tag(after: &str) -> bool {
    after
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '/' || c == '!')
}

/// Byte length of the tag at the start of `s`, up to and including its
/// `>`, or all of `s` when the tag never closes.
fn tag_end(s: &str) -> usize {
    let mut quote = None;
    for (i, c) in s.char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '>') => return i + 1,
            _ => {}
        }
    }
    s.len()
}

fn is_block_tag(tag: &str) -> bool {
    const BLOCK: &[&str] = &[
        "address",
        "article",
        "aside",
        "blockquote",
        "br",
        "dd",
        "div",
        "dl",
        "dt",
        "figcaption",
        "figure",
        "footer",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "li",
        "ol",
        "p",
        "pre",
        "section",
        "table",
        "td",
        "th",
        "tr",
        "ul",
    ];
    let name: String = tag
        .trim_start_matches(['<', '/'])
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    BLOCK.contains(&name.as_str())
}

/// The character an entity at the start of `s` stands for, and the entity's
/// byte length. An unknown or malformed entity decodes to `None` with a
/// length of 1, so the `&` is kept as text.
fn decode_entity(s: &str) -> (Option<String>, usize) {
    let Some(end) = s
        .char_indices()
        .take(12)
        .find(|&(_, c)| c == ';')
        .map(|(i, _)| i)
    else {
        return (None, 1);
    };
    let name = &s[1..end];
    let decoded = match name {
        "amp" => Some('&'),
        "lt" => Some('<'),
        "gt" => Some('>'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        "nbsp" => Some('\u{A0}'),
        _ => name
            .strip_prefix("#x")
            .or_else(|| name.strip_prefix("#X"))
            .map(|hex| u32::from_str_radix(hex, 16))
            .or_else(|| name.strip_prefix('#').map(str::parse))
            .and_then(Result::ok)
            .and_then(char::from_u32),
    };
    match decoded {
        Some(c) => (Some(c.to_string()), end + 1),
        None => (None, 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_to_text_keeps_words_apart_and_decodes_entities() {
        assert_eq!(
            html_to_text("<p>One &amp; <b>two</b></p><p>three&nbsp;&#8364;&#x41;</p>"),
            "One & two three €A"
        );
        assert_eq!(
            html_to_text(r#"<a href="x" title="a > b">link</a>ed"#),
            "linked"
        );
        assert_eq!(html_to_text("1 < 2 &bogus; & 3"), "1 < 2 &bogus; & 3");
        assert_eq!(html_to_text("line<br>break<br/>s"), "line break s");
        assert_eq!(html_to_text("<p>unclosed <a href=\"x"), "unclosed");
    }

    #[test]
    fn long_summaries_are_cut_at_a_word() {
        assert_eq!(shorten("short", 10), "short");
        assert_eq!(shorten("one two three four", 10), "one two…");
        assert_eq!(shorten("Ünïcödé wörds ärë cüt", 12), "Ünïcödé…");
    }

    /// A cut at a sentence's end needs no ellipsis, and a cut after a
    /// comma or colon gets one without the comma: never "text.…".
    #[test]
    fn a_cut_summary_never_ends_in_punctuation_and_an_ellipsis() {
        let text = "Oil rose. Brent gained 2% on Monday, traders said: supply is tight.";
        assert_eq!(
            shorten(text, 14),
            "Oil rose.",
            "cut inside the next sentence's word"
        );
        assert_eq!(shorten(text, 9), "Oil rose.", "cut right at the full stop");
        assert_eq!(shorten(text, 36), "Oil rose. Brent gained 2% on Monday…");
        assert_eq!(
            shorten(text, 50),
            "Oil rose. Brent gained 2% on Monday, traders said…"
        );
        assert_eq!(
            shorten("He said \"no.\" Then he left.", 16),
            "He said \"no.\""
        );
        assert_eq!(shorten("Why? Because", 8), "Why?");
        assert_eq!(shorten("Rates \u{2014} and more", 10), "Rates…");
        assert_eq!(shorten(text, text.chars().count()), text);
    }

    /// The full stop of "Inc." or of an initial ends no sentence, so a cut
    /// there still gets its `…` (keeping the stop, which belongs to the
    /// word); a real sentence's end still gets none.
    #[test]
    fn a_cut_after_an_abbreviation_or_an_initial_gets_an_ellipsis() {
        let text = "Shares of Apple Inc. rose after U.S. regulators and J. Powell spoke.";
        assert_eq!(shorten(text, 20), "Shares of Apple Inc.…");
        assert_eq!(shorten(text, 36), "Shares of Apple Inc. rose after U.S.…");
        assert_eq!(
            shorten(text, 54),
            "Shares of Apple Inc. rose after U.S. regulators and J.…"
        );
        assert_eq!(
            shorten("Talks with Acme Corp. went on", 21),
            "Talks with Acme Corp.…"
        );
        assert_eq!(
            shorten("BP bought (Castrol Ltd.) today", 24),
            "BP bought (Castrol Ltd.)…"
        );
        assert_eq!(shorten("Oil rose 2%. Then it fell", 13), "Oil rose 2%.");
        assert_eq!(
            shorten("It went to Inca. Then home", 17),
            "It went to Inca."
        );
    }

    /// A text that ends on an abbreviation and is not cut keeps no `…`:
    /// only a cut gets one, even when just space lies past the limit.
    #[test]
    fn an_uncut_text_that_ends_on_an_abbreviation_gets_no_ellipsis() {
        for text in ["Sales rose in the U.S.", "Shares of Apple Inc."] {
            let len = text.chars().count();
            assert_eq!(shorten(text, len), text);
            assert_eq!(shorten(&format!("{text}  \n"), len), text);
            assert!(shorten(text, len - 1).ends_with('…'), "{text}");
        }
        assert_eq!(shorten("Sales rose in the U.S. ", 20), "Sales rose in the…");
    }
}
