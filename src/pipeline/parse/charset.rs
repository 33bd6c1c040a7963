//! Character encodings: fetched bytes -> UTF-8 text, before any parser runs.
//!
//! feed-rs decodes through quick-xml, which panics on UTF-16BE, errors on
//! one stray Latin-1 byte in a UTF-8 document and never looks at the HTTP
//! charset (crate-notes §4.2, §4.4). So the parse stage decodes every body
//! here and hands feed-rs UTF-8 only.
//!
//! Which encoding, strongest evidence first:
//!
//! 1. a byte order mark, or the byte layout of UTF-16 without one (`<\0?\0`):
//!    the bytes cannot mean anything else;
//! 2. the XML declaration's `encoding`;
//! 3. the HTTP `Content-Type` charset;
//! 4. UTF-8, the XML default.
//!
//! The first of those that decodes the bytes without an error wins, so a
//! declaration that lies ("UTF-8" over Latin-1 bytes) falls back to what the
//! server said. A single-byte encoding never fails to decode, so it counts
//! as failing when another source says UTF-8 and the bytes are valid,
//! non-ASCII UTF-8. When every candidate fails, the strongest one decodes
//! with U+FFFD in place of the bad bytes: a few replacement characters cost
//! less than a lost feed. JSON is UTF-8 whatever the header says, when its
//! bytes are UTF-8 (RFC 8259 §8.1). Invariant: the text returned never
//! starts with a BOM.

use std::borrow::Cow;

use encoding_rs::{Encoding, UTF_8, UTF_16BE, UTF_16LE};

use super::repair::find;

/// Where the encoding that decoded a body came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    /// A byte order mark.
    Bom,
    /// UTF-16 recognised by its zero bytes, with no BOM.
    ByteLayout,
    /// The XML declaration (`<?xml … encoding="…"?>`).
    Declaration,
    /// The `charset` parameter of the HTTP `Content-Type`.
    Http,
    /// Nothing said anything usable: UTF-8.
    Default,
}

/// A body decoded to UTF-8.
#[derive(Debug)]
pub(crate) struct Decoded {
    pub text: String,
    pub encoding: &'static Encoding,
    pub source: Source,
    /// Undecodable bytes were replaced with U+FFFD.
    pub lossy: bool,
    /// The strongest source named an encoding that failed, and a weaker one
    /// decoded the bytes instead.
    pub fell_back_from: Option<&'static Encoding>,
}

/// Decodes `body` to UTF-8, reading the encoding from its BOM, its XML
/// declaration or `content_type` (an HTTP `Content-Type` value).
pub(crate) fn decode(body: &[u8], content_type: Option<&str>) -> Decoded {
    if let Some((encoding, bom_len)) = Encoding::for_bom(body) {
        let rest = &body[bom_len..];
        if encoding == UTF_8 {
            // A UTF-8 BOM wins over the declaration, but a file saved with a
            // BOM can still hold Latin-1 bytes pasted in later: let the other
            // sources have a go before replacing them.
            let mut candidates = vec![(UTF_8, Source::Bom)];
            candidates.extend(named_candidates(rest, content_type));
            return decode_first_clean(rest, &candidates);
        }
        return decode_utf16(rest, encoding, Source::Bom);
    }
    if let Some(encoding) = utf16_by_layout(body) {
        return decode_utf16(body, encoding, Source::ByteLayout);
    }
    if is_json(body)
        && let Ok(text) = std::str::from_utf8(body)
    {
        // JSON is UTF-8 by definition (RFC 8259 §8.1), whatever the header
        // says; only a body that is not UTF-8 gets to try the header.
        return Decoded {
            text: text.to_string(),
            encoding: UTF_8,
            source: Source::Default,
            lossy: false,
            fell_back_from: None,
        };
    }
    let mut candidates = named_candidates(body, content_type);
    candidates.push((UTF_8, Source::Default));
    decode_first_clean(body, &candidates)
}

/// The encodings the declaration and the HTTP header name, in that order,
/// leaving out the ones an ASCII-compatible document cannot be in.
fn named_candidates(body: &[u8], content_type: Option<&str>) -> Vec<(&'static Encoding, Source)> {
    let declared = declared_label(body).map(|l| (l, Source::Declaration));
    let http = content_type
        .and_then(http_charset)
        .map(|l| (l, Source::Http));
    declared
        .into_iter()
        .chain(http)
        .filter_map(|(label, source)| Some((usable(label)?, source)))
        .collect()
}

/// An encoding for `label` that can describe bytes we already know are
/// ASCII-compatible. A "UTF-16" label on such bytes is a common lie (the
/// bytes would have zeros in them otherwise), and the labels encoding_rs
/// maps to its `replacement` encoding would turn the feed into one U+FFFD.
fn usable(label: &str) -> Option<&'static Encoding> {
    let enc = Encoding::for_label(label.as_bytes())?;
    (enc.is_ascii_compatible() && enc != encoding_rs::REPLACEMENT).then_some(enc)
}

fn decode_first_clean(bytes: &[u8], candidates: &[(&'static Encoding, Source)]) -> Decoded {
    let says_utf8 = candidates
        .iter()
        .any(|(e, s)| *e == UTF_8 && *s != Source::Default);
    for (i, &(encoding, source)) in candidates.iter().enumerate() {
        if candidates[..i].iter().any(|(e, _)| *e == encoding) {
            continue;
        }
        // A single-byte encoding decodes any bytes "cleanly", so it cannot
        // fail the usual way. When another source says UTF-8 and the bytes
        // are valid UTF-8 with non-ASCII in them, the single-byte reading
        // is the one that is wrong (it would give "CafÃ©").
        if encoding.is_single_byte() && says_utf8 && is_non_ascii_utf8(bytes) {
            continue;
        }
        if let Some(text) = encoding.decode_without_bom_handling_and_without_replacement(bytes) {
            let fell_back_from = (i > 0).then_some(candidates[0].0);
            return Decoded {
                text: text.into_owned(),
                encoding,
                source,
                lossy: false,
                fell_back_from,
            };
        }
    }
    let (encoding, source) = candidates[0];
    let (text, lossy) = encoding.decode_without_bom_handling(bytes);
    Decoded {
        text: text.into_owned(),
        encoding,
        source,
        lossy,
        fell_back_from: None,
    }
}

fn decode_utf16(bytes: &[u8], encoding: &'static Encoding, source: Source) -> Decoded {
    // Byte layout decides here; no declaration or header can make UTF-16
    // bytes mean something else.
    let (text, lossy) = encoding.decode_without_bom_handling(bytes);
    Decoded {
        text: text.into_owned(),
        encoding,
        source,
        lossy,
        fell_back_from: None,
    }
}

fn is_json(body: &[u8]) -> bool {
    body.iter()
        .find(|c| !c.is_ascii_whitespace())
        .is_some_and(|c| matches!(c, b'{' | b'['))
}

fn is_non_ascii_utf8(bytes: &[u8]) -> bool {
    !bytes.is_ascii() && std::str::from_utf8(bytes).is_ok()
}

/// UTF-16 without a BOM, recognised by its first two code units being
/// ASCII (`<?`, `<r`, `{"`, whitespace) with their zero byte on one side.
fn utf16_by_layout(body: &[u8]) -> Option<&'static Encoding> {
    let [a, b, c, d, ..] = *body else {
        return None;
    };
    let ascii = |x: u8| x != 0 && x.is_ascii();
    if ascii(a) && b == 0 && ascii(c) && d == 0 {
        Some(UTF_16LE)
    } else if a == 0 && ascii(b) && c == 0 && ascii(d) {
        Some(UTF_16BE)
    } else {
        None
    }
}

/// The `encoding` pseudo-attribute of the XML declaration. The declaration
/// is looked for in the first kilobyte, not only at byte 0, because some
/// servers print warnings or blank lines before it (the parse stage drops
/// those).
fn declared_label(body: &[u8]) -> Option<&str> {
    let head = &body[..body.len().min(1024)];
    let start = find(head, b"<?xml")?;
    let decl = &head[start..];
    let decl = &decl[..find(decl, b"?>").unwrap_or(decl.len())];
    let at = find(decl, b"encoding")?;
    let rest = trim_ascii_start(&decl[at + b"encoding".len()..]);
    let rest = trim_ascii_start(rest.strip_prefix(b"=")?);
    let quote = *rest.first().filter(|q| **q == b'"' || **q == b'\'')?;
    let value = &rest[1..];
    let value = &value[..value.iter().position(|c| *c == quote)?];
    std::str::from_utf8(value).ok().map(str::trim)
}

/// The `charset` parameter of a `Content-Type` value, unquoted.
pub(crate) fn http_charset(content_type: &str) -> Option<&str> {
    content_type.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| value.trim().trim_matches(|c| c == '"' || c == '\''))
            .filter(|v| !v.is_empty())
    })
}

/// Rewrites the XML declaration at the start of `text` (already UTF-8) to
/// say so, since the parser would otherwise decode the UTF-8 again as
/// whatever the original declaration named.
pub(crate) fn declare_utf8(text: &str) -> Cow<'_, str> {
    let Some(rest) = text.strip_prefix("<?xml") else {
        return Cow::Borrowed(text);
    };
    if !rest.starts_with(|c: char| c.is_ascii_whitespace() || c == '?') {
        // A processing instruction such as `<?xml-stylesheet`.
        return Cow::Borrowed(text);
    }
    let Some(end) = text.find("?>") else {
        return Cow::Borrowed(text);
    };
    let decl = &text[..end];
    let version = pseudo_attr(decl, "version").unwrap_or("1.0");
    // XML 1.1 differs only in control characters, which the parse stage
    // removes anyway; quick-xml reads both.
    let standalone = pseudo_attr(decl, "standalone")
        .map(|s| format!(" standalone=\"{s}\""))
        .unwrap_or_default();
    Cow::Owned(format!(
        "<?xml version=\"{version}\" encoding=\"utf-8\"{standalone}?>{}",
        &text[end + 2..]
    ))
}

fn pseudo_attr<'a>(decl: &'a str, name: &str) -> Option<&'a str> {
    let at = decl.find(name)?;
    let rest = decl[at + name.len()..].trim_start().strip_prefix('=')?;
    let rest = rest.trim_start();
    let quote = rest.chars().next().filter(|q| *q == '"' || *q == '\'')?;
    let value = &rest[1..];
    let value = &value[..value.find(quote)?];
    value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        .then_some(value)
}

fn trim_ascii_start(b: &[u8]) -> &[u8] {
    let n = b.iter().take_while(|c| c.is_ascii_whitespace()).count();
    &b[n..]
}

#[cfg(test)]
mod tests {
    use super::*;
    use encoding_rs::{KOI8_R, SHIFT_JIS, WINDOWS_1252};

    fn encode(enc: &'static Encoding, s: &str) -> Vec<u8> {
        let (bytes, _, unmappable) = enc.encode(s);
        assert!(!unmappable, "{s:?} does not fit in {}", enc.name());
        bytes.into_owned()
    }

    fn utf16(s: &str, big_endian: bool, bom: bool) -> Vec<u8> {
        let mut out = Vec::new();
        if bom {
            out.extend_from_slice(if big_endian {
                &[0xFE, 0xFF]
            } else {
                &[0xFF, 0xFE]
            });
        }
        for u in s.encode_utf16() {
            out.extend_from_slice(&if big_endian {
                u.to_be_bytes()
            } else {
                u.to_le_bytes()
            });
        }
        out
    }

    #[test]
    fn declaration_names_the_encoding() {
        let doc = r#"<?xml version="1.0" encoding="ISO-8859-1"?><t>Café</t>"#;
        let d = decode(&encode(WINDOWS_1252, doc), None);
        assert_eq!(d.text, doc);
        assert_eq!(
            (d.encoding, d.source, d.lossy),
            (WINDOWS_1252, Source::Declaration, false)
        );
    }

    #[test]
    fn http_charset_is_used_when_the_document_says_nothing() {
        let doc = "<t>Привет</t>";
        let d = decode(
            &encode(KOI8_R, doc),
            Some("application/rss+xml; charset=\"KOI8-R\""),
        );
        assert_eq!(d.text, doc);
        assert_eq!(d.source, Source::Http);
    }

    #[test]
    fn declaration_beats_http_charset_when_both_decode() {
        let doc = r#"<?xml version="1.0" encoding="Shift_JIS"?><t>日本語</t>"#;
        let d = decode(&encode(SHIFT_JIS, doc), Some("text/xml; charset=euc-jp"));
        assert_eq!(d.text, doc);
        assert_eq!(d.source, Source::Declaration);
    }

    #[test]
    fn a_failing_declaration_falls_back_to_the_http_charset() {
        // Declared UTF-8, written in Latin-1, served as Latin-1.
        let doc = r#"<?xml version="1.0" encoding="utf-8"?><t>Café</t>"#;
        let d = decode(
            &encode(WINDOWS_1252, doc),
            Some("text/xml; charset=iso-8859-1"),
        );
        assert_eq!(d.text, doc);
        assert_eq!(d.source, Source::Http);
        assert_eq!(d.fell_back_from, Some(UTF_8));
    }

    #[test]
    fn a_single_byte_declaration_over_utf8_bytes_yields_to_a_utf8_header() {
        let doc = r#"<?xml version="1.0" encoding="ISO-8859-1"?><t>Café</t>"#;
        let d = decode(doc.as_bytes(), Some("application/xml; charset=utf-8"));
        assert_eq!(d.text, doc, "not CafÃ©");
        assert_eq!(d.source, Source::Http);
    }

    #[test]
    fn bom_beats_declaration_and_header() {
        let doc = r#"<?xml version="1.0" encoding="ISO-8859-1"?><t>Café</t>"#;
        let mut body = b"\xEF\xBB\xBF".to_vec();
        body.extend_from_slice(doc.as_bytes());
        let d = decode(&body, Some("text/xml; charset=koi8-r"));
        assert_eq!(d.text, doc, "BOM stripped, UTF-8 kept");
        assert_eq!(d.source, Source::Bom);
    }

    #[test]
    fn utf16_with_and_without_bom_in_both_byte_orders() {
        let doc = r#"<?xml version="1.0" encoding="UTF-16"?><t>Café 日本</t>"#;
        for big_endian in [false, true] {
            for bom in [false, true] {
                let d = decode(
                    &utf16(doc, big_endian, bom),
                    Some("text/xml; charset=utf-8"),
                );
                assert_eq!(d.text, doc, "be={big_endian} bom={bom}");
                assert!(!d.lossy);
                assert_eq!(d.encoding, if big_endian { UTF_16BE } else { UTF_16LE });
            }
        }
    }

    #[test]
    fn a_utf16_label_on_ascii_bytes_is_ignored() {
        let doc = r#"<?xml version="1.0" encoding="UTF-16"?><t>Café</t>"#;
        let d = decode(doc.as_bytes(), None);
        assert_eq!(d.text, doc);
        assert_eq!((d.encoding, d.source), (UTF_8, Source::Default));
    }

    #[test]
    fn invalid_bytes_become_replacement_characters() {
        let mut body = br#"<?xml version="1.0" encoding="utf-8"?><t>Caf"#.to_vec();
        body.push(0xE9);
        body.extend_from_slice("</t><u>日本</u>".as_bytes());
        let d = decode(&body, None);
        assert!(d.lossy);
        assert!(
            d.text.ends_with("<t>Caf\u{FFFD}</t><u>日本</u>"),
            "{}",
            d.text
        );
    }

    #[test]
    fn json_is_utf8_whatever_the_header_says() {
        let doc = r#"{"title":"Café"}"#;
        let d = decode(doc.as_bytes(), Some("application/json; charset=iso-8859-1"));
        assert_eq!(d.text, doc);
    }

    #[test]
    fn unknown_labels_are_skipped() {
        let doc = r#"<?xml version="1.0" encoding="x-no-such-thing"?><t>Café</t>"#;
        let d = decode(doc.as_bytes(), Some("text/xml; charset=bogus"));
        assert_eq!((d.text.as_str(), d.source), (doc, Source::Default));
    }

    #[test]
    fn http_charset_parameter_forms() {
        assert_eq!(http_charset("text/xml; charset=UTF-8"), Some("UTF-8"));
        assert_eq!(
            http_charset("text/xml;Charset=\"koi8-r\" ; q=1"),
            Some("koi8-r")
        );
        assert_eq!(http_charset("text/xml"), None);
        assert_eq!(http_charset("text/xml; charset="), None);
    }

    #[test]
    fn declaration_is_rewritten_to_utf8() {
        assert_eq!(
            declare_utf8(r#"<?xml version="1.0" encoding="Shift_JIS" standalone='yes' ?><a/>"#),
            r#"<?xml version="1.0" encoding="utf-8" standalone="yes"?><a/>"#
        );
        assert_eq!(
            declare_utf8("<?xml version='1.0'?><a/>"),
            r#"<?xml version="1.0" encoding="utf-8"?><a/>"#
        );
        assert_eq!(
            declare_utf8("<?xml-stylesheet href='s.xsl'?><a/>"),
            "<?xml-stylesheet href='s.xsl'?><a/>"
        );
        assert_eq!(declare_utf8("<a/>"), "<a/>");
    }
}
