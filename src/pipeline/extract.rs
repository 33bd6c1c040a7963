//! Extract stage: an article page's bytes -> the article, sanitised.
//!
//! Owns finding the article in a page (a readability implementation,
//! `dom_smoothie`, which follows Mozilla's readability.js: navigation,
//! headers, footers, related links and ads score low and are dropped) and
//! cleaning what it found with the same sanitiser as feed content
//! (`normalize::sanitize`: no scripts, styles, event handlers or
//! `javascript:` links; relative links made absolute). Hands
//! `pipeline::fulltext` an [`Extracted`] article or an [`ExtractError`].
//! Pure CPU work on a body already capped in size: the caller runs it off
//! the async threads, and a panic in the extractor is caught here.

use dom_smoothie::{Config, Readability, TextMode};
use url::Url;

use super::normalize::sanitize;
use super::parse::charset;

/// Most elements a page may have before extraction refuses it: a page
/// near the size cap with this many elements takes the extractor about a
/// second; real article pages have a few thousand.
const MAX_ELEMENTS: usize = 50_000;

/// An article found in a page.
#[derive(Debug, Clone, PartialEq)]
pub struct Extracted {
    pub title: Option<String>,
    pub byline: Option<String>,
    /// The article's HTML, sanitised.
    pub html: String,
    /// Its plain text, paragraphs on lines of their own.
    pub text: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    #[error("no article found in the page: {0}")]
    NotFound(String),
    #[error("the page has no article text")]
    Empty,
    #[error("the article extractor panicked on this page")]
    Panicked,
}

/// Finds the article in `body`, a page fetched from `url` (the address
/// after redirects, which relative links resolve against) with HTTP
/// `content_type`.
pub fn extract(
    body: &[u8],
    content_type: Option<&str>,
    url: &Url,
) -> Result<Extracted, ExtractError> {
    // The HTTP charset first (it overrides the page's own, as browsers
    // do), then the page's `<meta charset>`, then UTF-8.
    let meta_type = match content_type.and_then(charset::http_charset) {
        Some(_) => None,
        None => meta_charset(body).map(|c| format!("text/html; charset={c}")),
    };
    let decoded = charset::decode(body, meta_type.as_deref().or(content_type));
    let html = decoded.text;
    let found = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let cfg = Config {
            max_elements_to_parse: MAX_ELEMENTS,
            text_mode: TextMode::Formatted,
            ..Config::default()
        };
        let mut readability = Readability::new(html.as_str(), Some(url.as_str()), Some(cfg))?;
        readability.parse()
    }))
    .map_err(|_| ExtractError::Panicked)?
    .map_err(|e| ExtractError::NotFound(e.to_string()))?;
    let clean = sanitize(&found.content, url);
    // One line per paragraph, no runs of blank lines: the text is for
    // search, mention matching and plain-text readers.
    let text = found
        .text_content
        .lines()
        .map(crate::markup::collapse_whitespace)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n");
    if text.is_empty() {
        return Err(ExtractError::Empty);
    }
    let nonempty = |s: String| Some(s.trim().to_string()).filter(|s| !s.is_empty());
    Ok(Extracted {
        title: nonempty(found.title),
        byline: found.byline.and_then(nonempty),
        html: clean,
        text,
    })
}

/// The charset a page declares in its first 1024 bytes (`<meta
/// charset="…">` or `<meta http-equiv="Content-Type" content="…;
/// charset=…">`), as the HTML standard's prescan looks for it.
fn meta_charset(body: &[u8]) -> Option<String> {
    let head = String::from_utf8_lossy(&body[..body.len().min(1024)]).to_ascii_lowercase();
    let mut rest = head.as_str();
    while let Some(at) = rest.find("<meta") {
        rest = &rest[at + 5..];
        let tag = &rest[..rest.find('>').unwrap_or(rest.len())];
        if let Some(c) = tag.find("charset=") {
            let value = tag[c + 8..].trim_start_matches(['"', '\'', ' ']);
            let end = value
                .find(|ch: char| !(ch.is_ascii_alphanumeric() || "-_:.".contains(ch)))
                .unwrap_or(value.len());
            if end > 0 {
                return Some(value[..end].to_string());
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url() -> Url {
        Url::parse("https://news.test/2026/11/refinery").unwrap()
    }

    const PAGE: &str = r#"<!doctype html><html><head><title>Refinery restarts | News</title>
<script>window.tracker = "ad-tracker-token";</script></head><body>
<header><nav><a href="/">Home</a> <a href="/markets">Markets</a> <a href="/sport">Sport</a></nav></header>
<main><article><h1>Refinery restarts after the storm</h1>
<p class="byline">By Ann Example</p>
<p>The coastal refinery restarted its crude unit on Tuesday after a week of repairs, the operator said, and expects to reach full throughput by the end of the month.</p>
<p>Engineers replaced two heat exchangers damaged by flooding. <a href="/2026/11/storm">Read about the storm</a>. Traders said the restart eased pressure on diesel prices along the coast, where stocks had fallen to a four-year low.</p>
<p>The operator, which runs three plants in the region, declined to say what the repairs cost, but analysts put the figure at several million dollars.</p>
<script>document.write("injected");</script>
</article></main>
<aside class="related"><h2>Related</h2><ul><li><a href="/a">Other story one</a></li><li><a href="/b">Other story two</a></li></ul></aside>
<div class="ad-banner">Advertisement: buy now</div>
<footer>Copyright News Corp. <a href="/privacy">Privacy</a></footer>
</body></html>"#;

    #[test]
    fn the_article_without_its_page() {
        let got = extract(PAGE.as_bytes(), Some("text/html"), &url()).unwrap();
        assert!(
            got.text.contains("restarted its crude unit"),
            "{}",
            got.text
        );
        assert!(got.text.contains("several million dollars"));
        for gone in [
            "Sport",
            "Other story",
            "Advertisement",
            "Copyright",
            "injected",
        ] {
            assert!(!got.text.contains(gone), "{gone} in {}", got.text);
            assert!(!got.html.contains(gone), "{gone} in {}", got.html);
        }
        assert!(!got.html.contains("<script"), "{}", got.html);
        assert!(!got.html.contains("ad-tracker-token"));
        // Links made absolute against the page.
        assert!(
            got.html.contains("https://news.test/2026/11/storm"),
            "{}",
            got.html
        );
        // Paragraphs stay apart in the text.
        assert!(got.text.contains("month.\n"), "{}", got.text);
    }

    #[test]
    fn a_page_in_a_declared_charset() {
        let page = PAGE
            .replace("<head>", "<head><meta charset=\"iso-8859-1\">")
            .replace("Ann Example", "Zoë Café");
        let (bytes, _, _) = encoding_rs::WINDOWS_1252.encode(&page);
        let got = extract(&bytes, Some("text/html"), &url()).unwrap();
        assert!(
            got.byline
                .as_deref()
                .unwrap_or(&got.text)
                .contains("Zoë Café")
                || got.text.contains("Zoë Café"),
            "{got:?}"
        );
        assert_eq!(
            meta_charset(b"<meta charset='utf-8'>").as_deref(),
            Some("utf-8")
        );
        assert_eq!(
            meta_charset(
                b"<META HTTP-EQUIV=\"Content-Type\" CONTENT=\"text/html; charset=Shift_JIS\">"
            )
            .as_deref(),
            Some("shift_jis")
        );
    }

    #[test]
    fn a_page_without_text_is_an_error() {
        let err = extract(b"<html><body></body></html>", None, &url()).unwrap_err();
        assert!(
            matches!(err, ExtractError::NotFound(_) | ExtractError::Empty),
            "{err}"
        );
    }
}
