//! Canonical article links: the one definition of when two links name the
//! same article. The normalize stage stores each item's canonical link, and
//! the store's dedup compares guids that are links in the same form, so
//! both import it from here (the store never calls pipeline code).
//! Also what of a URL may be shown: [`without_credentials`] for what is
//! published, [`redact`] for what is logged or stored.

use std::sync::LazyLock;

use regex::Regex;
use url::Url;

/// Query parameters that only track the reader; they never change which
/// article a link points to.
fn is_tracking_param(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.starts_with("utm_")
        || matches!(
            n.as_str(),
            "fbclid"
                | "gclid"
                | "dclid"
                | "gbraid"
                | "wbraid"
                | "msclkid"
                | "yclid"
                | "mc_cid"
                | "mc_eid"
                | "igshid"
                | "_ga"
                | "_gl"
                | "mkt_tok"
                | "oly_anon_id"
                | "oly_enc_id"
                | "vero_id"
                | "wt_mc"
                | "cmpid"
                | "at_medium"
                | "at_campaign"
                | "ocid"
                | "ncid"
                | "sr_share"
                | "s_cid"
        )
}

/// The canonical form of an article link: lower-case scheme and host (the
/// URL parser does that), default port dropped, fragment dropped, tracking
/// parameters removed, and `http` folded into `https` so both schemes name
/// the same article.
pub fn canonical_url(link: &str) -> Option<String> {
    Url::parse(link).ok().map(canonical)
}

/// Whether `u` is a web page's address (`http` or `https`): what an item,
/// a site or an article may link to. `javascript:`, `data:` and the like
/// in a feed are never passed on to readers.
pub fn is_web(u: &Url) -> bool {
    matches!(u.scheme(), "http" | "https")
}

/// Query parameters that carry keys (`apikey=`, `apiKey=`, `api_key=`,
/// `key=`, `access_key=`, `app-key=`, `token=`, `access_token=`,
/// `client_secret=`, `password=`), and Finnhub's key header if a header
/// dump is ever logged. A name ending in `key` is one only as a word of
/// its own (`sortkey=` is not). The value runs to the next `&`,
/// whitespace, quote or bracket.
static KEY_PARAM: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?i)\b([a-z_]*(?:api_?key|token|secret|passw(?:or)?d)|(?:[a-z]+[_-])*key)(=|:\s*)[^&\s#"'<>()\[\]]*"#,
    )
    .expect("constant pattern")
});

/// Blanks key values in a URL or any text about one (reqwest errors quote
/// the full URL), so the result can be logged or stored: a quote provider's
/// key, or one a feed's URL carries in its query.
pub fn redact(url_or_text: &str) -> String {
    KEY_PARAM
        .replace_all(url_or_text, "${1}${2}****")
        .into_owned()
}

/// `url` as it may be shown to anyone: without a user name and password
/// (`https://user:secret@host/feed` is `https://host/feed`) and with the
/// values of key parameters blanked (`?api_key=****`, see [`redact`]). A
/// feed behind basic authentication or an API key keeps them in
/// `config.toml` and the archive; pages, feeds and lists served over HTTP
/// never show them.
pub fn without_credentials(url: &str) -> String {
    let shown = match Url::parse(url) {
        Ok(mut u) if !u.username().is_empty() || u.password().is_some() => {
            // Only URLs that cannot have them refuse, and those have none.
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.into()
        }
        _ => url.to_owned(),
    };
    redact(&shown)
}

/// [`canonical_url`] of a link already parsed.
pub fn canonical(mut u: Url) -> String {
    if !is_web(&u) {
        return u.into();
    }
    if u.scheme() == "http" {
        let _ = u.set_scheme("https");
        if u.port() == Some(443) {
            let _ = u.set_port(None);
        }
    }
    u.set_fragment(None);
    if u.query().is_some() {
        let kept: Vec<(String, String)> = u
            .query_pairs()
            .filter(|(k, _)| !is_tracking_param(k))
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        if kept.is_empty() {
            u.set_query(None);
        } else {
            u.query_pairs_mut().clear().extend_pairs(kept);
        }
    }
    u.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_urls_fold_tracking_scheme_port_and_fragment() {
        let c = |s| canonical_url(s).unwrap();
        assert_eq!(
            c("HTTP://Example.COM:80/a/b?utm_source=x&id=3&fbclid=y#frag"),
            "https://example.com/a/b?id=3"
        );
        assert_eq!(
            c("https://example.com:443/a?utm_medium=rss"),
            "https://example.com/a"
        );
        assert_eq!(c("http://example.com/a"), c("https://example.com/a"));
        assert_ne!(
            c("https://example.com/a?id=1"),
            c("https://example.com/a?id=2")
        );
    }

    #[test]
    fn shown_urls_lose_passwords_and_key_values() {
        assert_eq!(
            without_credentials("https://reader:hunter2@news.test/feed.xml"),
            "https://news.test/feed.xml"
        );
        assert_eq!(
            without_credentials("https://news.test/feed?api_key=hunter2&lang=en"),
            "https://news.test/feed?api_key=****&lang=en"
        );
        assert_eq!(
            without_credentials("https://u:p@yt.test/feeds?key=AIza&channel=x"),
            "https://yt.test/feeds?key=****&channel=x"
        );
        // A key named as a word of its own (marketstack's `access_key`).
        assert_eq!(
            without_credentials("https://api.test/news?access_key=s3&secret_key=s4&x-app-key=s5"),
            "https://api.test/news?access_key=****&secret_key=****&x-app-key=****"
        );
        // Parameters that merely end in "key"-like words are not keys.
        assert_eq!(
            without_credentials("https://news.test/feed?keyword=oil&sort=new&sortkey=date"),
            "https://news.test/feed?keyword=oil&sort=new&sortkey=date"
        );
    }
}
