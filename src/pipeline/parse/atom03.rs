//! Atom 0.3 -> Atom 1.0, one element and one attribute at a time.
//!
//! feed-rs reads Atom 0.3 (`xmlns="http://purl.org/atom/ns#"`) as "a feed
//! with 0 entries" (crate-notes §4.1): its elements are in a namespace it
//! does not know. The 0.3 snapshot differs from RFC 4287 in a handful of
//! names and in how text constructs say what they hold, so the repair pass
//! (`repair.rs`) renames as it copies, using the tables here, and hands
//! feed-rs an Atom 1.0 document:
//!
//! | Atom 0.3 | Atom 1.0 |
//! |---|---|
//! | namespace `http://purl.org/atom/ns#` | `http://www.w3.org/2005/Atom` |
//! | `issued` | `published` |
//! | `created` (only when the entry has no `issued`) | `published` |
//! | `modified` | `updated` |
//! | `tagline` | `subtitle` |
//! | `copyright` | `rights` |
//! | `url` (in a person) | `uri` |
//! | `generator url=` | `generator uri=` |
//! | `type="text/html" mode="escaped"` | `type="html"` |
//! | `type="application/xhtml+xml" mode="xml"` | `type="xhtml"` |
//! | `mode="base64"` | decoded, then `type="html"` or `"text"` |

/// The Atom 0.3 namespace.
pub(super) const NS_03: &str = "http://purl.org/atom/ns#";
/// The Atom 1.0 namespace.
pub(super) const NS_10: &str = "http://www.w3.org/2005/Atom";

/// The Atom 1.0 name of the Atom 0.3 element `local`. `created` is handled
/// by the caller, which knows whether the entry also has an `issued`.
pub(super) fn element_name<'a>(local: &'a str, parent: Option<&str>) -> &'a str {
    match (local, parent) {
        ("issued", _) => "published",
        ("modified", _) => "updated",
        ("tagline", _) => "subtitle",
        ("copyright", _) => "rights",
        ("url", Some("author" | "contributor")) => "uri",
        _ => local,
    }
}

/// Whether `local` is an Atom 1.0 text construct (it has a `type`).
pub(super) fn is_atom10_text_construct(local: &str) -> bool {
    matches!(
        local,
        "title" | "subtitle" | "summary" | "rights" | "content"
    )
}

/// Whether `local` is an Atom 0.3 text construct (it has `type` and `mode`).
pub(super) fn is_text_construct(local: &str) -> bool {
    matches!(
        local,
        "title" | "tagline" | "copyright" | "info" | "summary" | "content"
    )
}

/// How an Atom 0.3 text construct's `type` (a MIME type, `text/plain` by
/// default) and `mode` (`xml` by default) translate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct TextType {
    /// The Atom 1.0 `type`.
    pub atom10: &'static str,
    /// The element's text is base64 and must be decoded.
    pub base64: bool,
}

pub(super) fn text_type(mime: Option<&str>, mode: Option<&str>) -> TextType {
    let mime = mime.unwrap_or("text/plain").trim().to_ascii_lowercase();
    let mode = mode.map(|m| m.trim().to_ascii_lowercase());
    let markup = mime.contains("html");
    let atom10 = match mode.as_deref() {
        _ if !markup => "text",
        Some("xml") => "xhtml",
        None if mime == "application/xhtml+xml" => "xhtml",
        // Escaped or base64 markup; and `text/html` with no mode, which
        // producers that left the mode out mostly wrote escaped.
        _ => "html",
    };
    TextType {
        atom10,
        base64: mode.as_deref() == Some("base64"),
    }
}

/// Atom 1.0 documents in the wild also write MIME types into the `type` of
/// a text construct (`title type="text/plain"`), and feed-rs rejects the
/// whole feed for that. The `type` it should have said, when it differs.
pub(super) fn sloppy_atom10_type(local: &str, ty: &str) -> Option<&'static str> {
    let lower = ty.trim().to_ascii_lowercase();
    let fixed = match lower.as_str() {
        "text" | "text/plain" => "text",
        "html" | "text/html" => "html",
        "xhtml" | "application/xhtml+xml" => "xhtml",
        // feed-rs reads any other MIME type in `content` as media content.
        _ if local == "content" => return None,
        _ if lower.contains("html") => "html",
        _ => "text",
    };
    (fixed != ty).then_some(fixed)
}

/// Decodes base64 text (whitespace ignored); `None` if it is not base64.
pub(super) fn decode_base64(s: &str) -> Option<Vec<u8>> {
    fn value(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        } as u32)
    }
    let digits: Vec<u8> = s.bytes().filter(|c| !c.is_ascii_whitespace()).collect();
    let digits = digits
        .strip_suffix(b"==")
        .or_else(|| digits.strip_suffix(b"="))
        .unwrap_or(&digits);
    if digits.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let mut n = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            n |= value(*c)? << (18 - 6 * i);
        }
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_translate() {
        assert_eq!(element_name("issued", Some("entry")), "published");
        assert_eq!(element_name("modified", Some("feed")), "updated");
        assert_eq!(element_name("tagline", Some("feed")), "subtitle");
        assert_eq!(element_name("copyright", Some("feed")), "rights");
        assert_eq!(element_name("url", Some("author")), "uri");
        assert_eq!(element_name("url", Some("entry")), "url");
        assert_eq!(element_name("title", Some("entry")), "title");
    }

    #[test]
    fn text_types_translate() {
        let t = |mime, mode| text_type(mime, mode);
        assert_eq!(t(Some("text/html"), Some("escaped")).atom10, "html");
        assert_eq!(
            t(Some("application/xhtml+xml"), Some("xml")).atom10,
            "xhtml"
        );
        assert_eq!(t(Some("application/xhtml+xml"), None).atom10, "xhtml");
        assert_eq!(t(Some("text/html"), None).atom10, "html");
        assert_eq!(t(Some("text/html"), Some("xml")).atom10, "xhtml");
        assert_eq!(t(None, None).atom10, "text");
        assert_eq!(t(Some("text/plain"), Some("escaped")).atom10, "text");
        assert_eq!(
            t(Some("text/html"), Some("base64")),
            TextType {
                atom10: "html",
                base64: true
            }
        );
    }

    #[test]
    fn sloppy_atom10_types() {
        assert_eq!(sloppy_atom10_type("title", "text/plain"), Some("text"));
        assert_eq!(sloppy_atom10_type("title", "HTML"), Some("html"));
        assert_eq!(
            sloppy_atom10_type("summary", "application/xhtml+xml"),
            Some("xhtml")
        );
        assert_eq!(sloppy_atom10_type("title", "html"), None);
        assert_eq!(sloppy_atom10_type("content", "image/png"), None);
    }

    #[test]
    fn base64_decodes() {
        assert_eq!(decode_base64("PGI+aGk8L2I+").unwrap(), b"<b>hi</b>");
        assert_eq!(decode_base64("Q2Fmw6k=\n").unwrap(), "Café".as_bytes());
        assert_eq!(decode_base64("YQ==").unwrap(), b"a");
        assert_eq!(decode_base64("not base64!"), None);
    }
}
