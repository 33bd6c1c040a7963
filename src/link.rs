//! Canonical article links: the one definition of when two links name the
//! same article. The normalize stage stores each item's canonical link, and
//! the store's dedup compares guids that are links in the same form, so
//! both import it from here (the store never calls pipeline code).
//! Also what of a URL may be shown: [`without_credentials`] for what is
//! published or logged, [`redact`] for a quote provider's key,
//! [`blank_secrets`] for what the archive keeps of a feed's address,
//! [`refill_secrets`] to fetch from an address the archive kept, and
//! [`origin_shown`] for a webhook's address, anywhere it is shown. What a
//! feed's URL took from the environment ([`Filled`]) is blanked by value
//! wherever it stands, so a token in a path is blanked as surely as one in
//! a known key parameter.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::{Captures, Regex};
use url::Url;

/// The values a feed's URL took from the environment (each `${NAME}` of
/// its configured text), in each spelling a URL can give them (as given,
/// percent-encoded as a path, a query, a fragment or user info encodes
/// them, and as a host writes them), longest first, so a value holding another is blanked
/// whole. Empty for a URL that names no variable. Prints no value (the
/// config, which holds one per feed, is logged whole); compares by them,
/// so a reload notices a new one.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Filled(Vec<String>);

impl std::fmt::Debug for Filled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Filled({} spellings of values, ****)", self.0.len())
    }
}

/// Values shorter than this are not blanked: blanking `en` or `1` would
/// cut into the host, the path and every other word of the text, and a
/// secret that short is guessed in a moment anyway.
pub(crate) const SHORTEST_BLANKED: usize = 6;

impl Filled {
    /// `values`, as the environment gave them.
    pub fn of(values: impl IntoIterator<Item = String>) -> Filled {
        let mut spellings: Vec<String> = Vec::new();
        let mut scratch = Url::parse("http://h/").expect("constant URL");
        for value in values {
            let _ = scratch.set_username(&value);
            let userinfo = scratch.username().to_owned();
            scratch.set_path(&value);
            let path = scratch.path().trim_start_matches('/').to_owned();
            scratch.set_query(Some(&value));
            let query = scratch.query().unwrap_or_default().to_owned();
            scratch.set_fragment(Some(&value));
            let fragment = scratch.fragment().unwrap_or_default().to_owned();
            // A host is written in lower case (and IDNA's ASCII form):
            // `https://${TENANT}.feeds.test/` keeps `AcmeCorp42` as
            // `acmecorp42`.
            let host = Url::parse(&format!("http://{value}.h/"))
                .ok()
                .and_then(|u| u.host_str().map(|h| h.trim_end_matches(".h").to_owned()));
            spellings.extend([value, userinfo, path, query, fragment]);
            spellings.extend(host);
        }
        spellings.retain(|v| v.chars().count() >= SHORTEST_BLANKED);
        spellings.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        spellings.dedup();
        Filled(spellings)
    }

    /// Each spelling of each value, longest first: for the store to blank
    /// what an archive written before they were blanked kept. Never log.
    pub fn values(&self) -> &[String] {
        &self.0
    }

    /// `text` with each value `****`.
    pub(crate) fn blank<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut text = Cow::Borrowed(text);
        for value in &self.0 {
            if text.contains(value.as_str()) {
                text = Cow::Owned(text.replace(value.as_str(), BLANK));
            }
        }
        text
    }
}

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
/// whitespace, quote or bracket: a `;` is part of it (`token=abc;def`),
/// except one that ends it, as a redirect hop in the fetch log ends
/// (`…?token=K; 302 -> …`), which [`redact`] keeps. The same names
/// quoted, as JSON or a Python dict writes them (`"apikey": "K"`, a
/// provider echoing the request in an error body), are keys too.
static KEY_PARAM: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?i)\b([a-z_]*(?:api_?key|token|secret|passw(?:or)?d)|(?:[a-z]+[_-])*key)(=|["']?:\s*["']?)([^&\s#"'<>()\[\]]*)"#,
    )
    .expect("constant pattern")
});

/// A webhook URL (an alert's) as shown anywhere, `check`, the log and
/// `tickerfeed alerts` alike: its origin, and `…` for a path or query,
/// which may hold the receiver's token (Slack's paths do, ntfy's
/// `?auth=`), and no user or password.
pub fn origin_shown(url: &Url) -> String {
    let tail = if url.path() == "/" && url.query().is_none() {
        ""
    } else {
        "…"
    };
    format!("{}{tail}", url.origin().ascii_serialization())
}

/// Blanks key values in a URL or any text about one (reqwest errors quote
/// the full URL), so the result can be logged or stored: a quote provider's
/// key, or one a feed's URL carries in its query.
pub fn redact(url_or_text: &str) -> String {
    KEY_PARAM
        .replace_all(url_or_text, |c: &Captures<'_>| {
            let end = if c[3].ends_with(';') { ";" } else { "" };
            format!("{}{}{BLANK}{end}", &c[1], &c[2])
        })
        .into_owned()
}

/// `url` as it may be shown to anyone: without a user name and password
/// (`https://user:secret@host/feed` is `https://host/feed`), with the
/// values of key parameters blanked (`?api_key=****`, see [`redact`]),
/// and each value `filled` holds blanked wherever it is
/// (`https://host/****/feed.xml`). A feed behind basic authentication or
/// an API key keeps them in `config.toml` (or, better, in the environment
/// it names there); the archive keeps the [`blank_secrets`] form, and
/// pages, feeds, lists served over HTTP and the log show this one.
pub fn without_credentials(url: &str, filled: &Filled) -> String {
    let url = filled.blank(url);
    let shown = match Url::parse(&url) {
        Ok(mut u) if !u.username().is_empty() || u.password().is_some() => {
            // Only URLs that cannot have them refuse, and those have none.
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.into()
        }
        _ => url.into_owned(),
    };
    redact(&shown)
}

/// What stands for a secret in the archive.
pub const BLANK: &str = "****";

/// The user name and password of a URL (`https://user:secret@host/`),
/// found in a URL or in any text quoting one (a redirect chain, an error):
/// what follows `://` up to an `@` before the host.
static USERINFO: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"://([^/?#@\s:"'<>]*)(:[^/?#@\s"'<>]*)?@"#).expect("constant pattern")
});

/// A feed's address (or text quoting one) as the archive keeps it: each
/// value `filled` holds `****` wherever it is (a path, a query, a
/// fragment, user info), the password `****`
/// (`https://reader:****@host/feed`), a user name without one too, since
/// it is then the token (`https://****@host/feed`), and key values
/// blanked as [`redact`] does (`?api_key=****`). Unlike
/// [`without_credentials`] it keeps where a secret was, so
/// [`refill_secrets`] can put the configured one back to fetch it (a
/// password, a user name or a key parameter; not a blank elsewhere).
pub fn blank_secrets(url_or_text: &str, filled: &Filled) -> String {
    let url_or_text = filled.blank(url_or_text);
    let blanked = USERINFO.replace_all(&url_or_text, |c: &Captures<'_>| match c.get(2) {
        Some(_) => format!("://{}:{BLANK}@", &c[1]),
        None if c[1].is_empty() => "://@".to_owned(),
        None => format!("://{BLANK}@"),
    });
    redact(&blanked)
}

/// The address to fetch for `kept`, a [`blank_secrets`] form (where a feed
/// moved, say): each `****` filled from `configured`, the URL the config
/// gives (its secrets from the environment): the user name and password
/// from its own, a key parameter from its parameter of the same name.
/// `None` when `configured` has no such part to give.
pub fn refill_secrets(kept: &str, configured: &Url) -> Option<Url> {
    let mut u = Url::parse(kept).ok()?;
    if u.username() == BLANK {
        if configured.username().is_empty() {
            return None;
        }
        u.set_username(configured.username()).ok()?;
    }
    if u.password() == Some(BLANK) {
        u.set_password(Some(configured.password()?)).ok()?;
    }
    if let Some(query) = u.query().filter(|q| q.contains(BLANK)) {
        let given: Vec<&str> = configured.query().unwrap_or("").split('&').collect();
        let name = |pair: &str| pair.split_once('=').map(|(n, _)| n.to_owned());
        let filled = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((n, value)) if value == BLANK => given
                    .iter()
                    .find(|g| name(g).as_deref() == Some(n))
                    .map(|g| (*g).to_owned()),
                _ => Some(pair.to_owned()),
            })
            .collect::<Option<Vec<String>>>()?
            .join("&");
        u.set_query(Some(&filled));
    }
    // A blank the pairs above could not fill (`?q=key:****`, `a=1;token=****`)
    // would be fetched as it stands.
    if u.as_str().contains(BLANK) && !configured.as_str().contains(BLANK) {
        return None;
    }
    Some(u)
}

/// Whether `url` holds a password, a key value or a value of `filled`
/// ([`without_credentials`] would change it), or the archive's blank for
/// one.
pub fn holds_secret(url: &str, filled: &Filled) -> bool {
    url.contains(BLANK) || without_credentials(url, filled) != url
}

/// Whether a feed configured as `configured` may move to `target` (a
/// permanent redirect's): only when the archive's form of `target`, filled
/// from `configured` (whose environment's values are `filled`), is
/// `target` again. A new home whose key the config cannot give (another
/// key, another user, a value in its path) is not moved to: the feed
/// keeps its configured URL and follows the redirect at each poll.
pub fn secrets_refillable(target: &str, configured: &Url, filled: &Filled) -> bool {
    refill_secrets(&blank_secrets(target, filled), configured).is_some_and(|u| u.as_str() == target)
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

    /// The four for a URL that names no variable.
    fn shown(url: &str) -> String {
        without_credentials(url, &Filled::default())
    }
    fn archived(text: &str) -> String {
        blank_secrets(text, &Filled::default())
    }
    fn holds(url: &str) -> bool {
        holds_secret(url, &Filled::default())
    }
    fn movable(target: &str, configured: &Url) -> bool {
        secrets_refillable(target, configured, &Filled::default())
    }

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
            shown("https://reader:hunter2@news.test/feed.xml"),
            "https://news.test/feed.xml"
        );
        assert_eq!(
            shown("https://news.test/feed?api_key=hunter2&lang=en"),
            "https://news.test/feed?api_key=****&lang=en"
        );
        assert_eq!(
            shown("https://u:p@yt.test/feeds?key=AIza&channel=x"),
            "https://yt.test/feeds?key=****&channel=x"
        );
        // A key named as a word of its own (marketstack's `access_key`).
        assert_eq!(
            shown("https://api.test/news?access_key=s3&secret_key=s4&x-app-key=s5"),
            "https://api.test/news?access_key=****&secret_key=****&x-app-key=****"
        );
        // Parameters that merely end in "key"-like words are not keys.
        assert_eq!(
            shown("https://news.test/feed?keyword=oil&sort=new&sortkey=date"),
            "https://news.test/feed?keyword=oil&sort=new&sortkey=date"
        );
    }

    #[test]
    fn the_archive_keeps_where_a_secret_was_and_a_fetch_puts_it_back() {
        let configured =
            Url::parse("https://reader:hunter2@news.test/feed?api_key=k3y&lang=en").unwrap();
        let kept = archived(configured.as_str());
        assert_eq!(
            kept,
            "https://reader:****@news.test/feed?api_key=****&lang=en"
        );
        assert_eq!(refill_secrets(&kept, &configured), Some(configured.clone()));
        // Text quoting URLs (a redirect chain) loses them too.
        assert_eq!(
            archived("301 -> https://t0ken@new.test/f?token=k3y; 200"),
            "301 -> https://****@new.test/f?token=****; 200"
        );
        // Ports and `@` after the host are no user name.
        let plain = "https://news.test:8443/feed?by=@me";
        assert_eq!(archived(plain), plain);
        // Where the feed moved, with the configured key: movable.
        assert!(movable("https://new.test/feed?api_key=k3y", &configured));
        assert!(movable("https://new.test/feed", &configured));
        // A key or a user the config does not hold: not.
        assert!(!movable("https://new.test/feed?api_key=other", &configured));
        assert!(!movable("https://new.test/feed?token=k3y", &configured));
        let keyless = Url::parse("https://news.test/feed").unwrap();
        assert!(!movable("https://u:p@new.test/feed", &keyless));
    }

    /// A key with a `;` in it is blanked whole, wherever it is shown or
    /// kept; the `;` that ends a redirect hop stays.
    #[test]
    fn a_key_with_a_semicolon_is_blanked_whole() {
        let url = "https://x.test/f?token=abc;def&x=1";
        assert_eq!(redact(url), "https://x.test/f?token=****&x=1");
        assert_eq!(shown(url), "https://x.test/f?token=****&x=1");
        assert_eq!(archived(url), "https://x.test/f?token=****&x=1");
        assert_eq!(
            archived("301 -> https://n.test/f?token=k3y; 302 -> https://m.test/"),
            "301 -> https://n.test/f?token=****; 302 -> https://m.test/"
        );
    }

    /// A blank the configured URL cannot fill is never fetched as it
    /// stands: the feed's configured address is fetched instead.
    #[test]
    fn a_blank_left_unfilled_is_no_address_to_fetch() {
        let configured = Url::parse("https://news.test/feed?api_key=k3y").unwrap();
        for kept in [
            "https://new.test/feed?q=key:****&api_key=****",
            "https://new.test/feed?a=1;token=****",
        ] {
            assert_eq!(refill_secrets(kept, &configured), None, "{kept}");
        }
        assert!(holds("https://new.test/feed?api_key=****"));
        assert!(holds("https://u:p@new.test/feed"));
        assert!(!holds("https://new.test/feed?keyword=oil"));
    }

    /// A value the environment gave is blanked wherever it stands: in a
    /// path, a fragment, user info, a query value of no known key name,
    /// percent-encoded as the URL spells it, and in text quoting the URL.
    #[test]
    fn a_value_from_the_environment_is_blanked_wherever_it_is() {
        let filled = Filled::of(["p4th-T0KEN".to_string(), "my token/é".to_string()]);
        let url = "https://u:p4th-T0KEN@news.test/p4th-T0KEN/feed.xml?q=p4th-T0KEN#p4th-T0KEN";
        assert_eq!(
            blank_secrets(url, &filled),
            "https://u:****@news.test/****/feed.xml?q=****#****"
        );
        assert_eq!(
            without_credentials(url, &filled),
            "https://news.test/****/feed.xml?q=****#****"
        );
        assert_eq!(
            blank_secrets(
                "error sending request for url (https://n.test/my%20token/%C3%A9/f)",
                &filled
            ),
            "error sending request for url (https://n.test/****/f)"
        );
        assert!(holds_secret("https://n.test/p4th-T0KEN/f", &filled));
        // In the host, as the URL parser writes it there.
        let tenant = Filled::of(["AcmeCorp42".to_string()]);
        let configured = Url::parse("https://AcmeCorp42.feeds.test/rss").unwrap();
        assert_eq!(
            blank_secrets(configured.as_str(), &tenant),
            "https://****.feeds.test/rss"
        );
        // Too short to blank without cutting into the rest.
        let short = Filled::of(["en".to_string()]);
        assert_eq!(
            without_credentials("https://news.test/feed?lang=en", &short),
            "https://news.test/feed?lang=en"
        );
        // A move whose path holds the value cannot be filled back in:
        // followed at each poll, never moved to.
        let configured = Url::parse("https://news.test/p4th-T0KEN/feed.xml").unwrap();
        assert!(!secrets_refillable(
            "https://news.test/p4th-T0KEN/new.xml",
            &configured,
            &filled
        ));
        // Nor does the value print.
        assert!(!format!("{filled:?}").contains("T0KEN"));
    }
}
