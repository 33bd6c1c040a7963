//! JSON bodies: is it a JSON Feed, and if so, one feed-rs will accept?
//!
//! feed-rs deserialises JSON Feed into strict types, so one item with a
//! numeric `"id": 1`, a missing top-level `title` or an attachment without
//! `mime_type` fails the whole feed (crate-notes §4.1). Here the document is
//! read as a loose `serde_json::Value` first, the fields feed-rs types are
//! coerced to what it expects (numbers to strings, wrong shapes dropped), and
//! the result is written back out for feed-rs to parse.
//!
//! serde_json stops at 128 levels of nesting, so a deeply nested body is an
//! error here, never a stack overflow.

use serde_json::{Map, Value};

/// What a JSON body turned out to be.
#[derive(Debug)]
pub(super) enum Json {
    /// A JSON Feed, rewritten so feed-rs accepts it.
    Feed(String),
    /// JSON (or something that starts like it) that is not a JSON Feed.
    NotAFeed,
    /// A JSON Feed that cannot be read (truncated, say).
    Invalid(String),
}

/// Item fields feed-rs reads as `Option<String>`.
const ITEM_STRINGS: &[&str] = &[
    "id",
    "url",
    "external_url",
    "title",
    "content_html",
    "content_text",
    "summary",
    "date_published",
    "date_modified",
];

/// Feed fields feed-rs reads as `Option<String>`.
const FEED_STRINGS: &[&str] = &[
    "home_page_url",
    "feed_url",
    "language",
    "description",
    "icon",
    "favicon",
];

pub(super) fn prepare(text: &str) -> Json {
    let read = serde_json::from_str(text).or_else(|e| match lone_surrogates_mended(text) {
        // Read again only when something was mended: the error stands
        // for any other fault.
        Some(mended) => serde_json::from_str(&mended).map_err(|_| e),
        None => Err(e),
    });
    let mut value: Value = match read {
        Ok(v) => v,
        Err(e) => {
            // Say "broken feed" only when it says it is one.
            let mut head = text.len().min(1024);
            while !text.is_char_boundary(head) {
                head -= 1;
            }
            return if text[..head].contains("jsonfeed.org/version") {
                Json::Invalid(format!("JSON Feed: {e}"))
            } else {
                Json::NotAFeed
            };
        }
    };
    let Some(feed) = value.as_object_mut() else {
        return Json::NotAFeed;
    };
    let Some(version) = feed.get("version").and_then(Value::as_str) else {
        return Json::NotAFeed;
    };
    let Some(at) = version.find("jsonfeed.org/version/") else {
        return Json::NotAFeed;
    };
    // feed-rs accepts only the https spelling; the http one is common.
    let version = format!("https://{}", &version[at..]);
    feed.insert("version".into(), Value::String(version));

    coerce_string(feed, "title");
    if !feed.get("title").is_some_and(Value::is_string) {
        feed.insert("title".into(), Value::String(String::new()));
    }
    for key in FEED_STRINGS {
        coerce_string(feed, key);
    }
    fix_authors(feed);
    let items = match feed.remove("items") {
        Some(Value::Array(items)) => items
            .into_iter()
            .filter_map(|item| match item {
                Value::Object(mut item) => {
                    fix_item(&mut item);
                    Some(Value::Object(item))
                }
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    feed.insert("items".into(), Value::Array(items));
    match serde_json::to_string(&value) {
        Ok(json) => Json::Feed(json),
        Err(e) => Json::Invalid(format!("JSON Feed: {e}")),
    }
}

fn fix_item(item: &mut Map<String, Value>) {
    for key in ITEM_STRINGS {
        coerce_string(item, key);
    }
    fix_authors(item);
    if let Some(tags) = item.get_mut("tags") {
        match tags {
            Value::Array(list) => {
                let kept: Vec<Value> = list
                    .drain(..)
                    .filter_map(|t| as_string(&t).map(Value::String))
                    .collect();
                *list = kept;
            }
            _ => {
                item.remove("tags");
            }
        }
    }
    if let Some(attachments) = item.get_mut("attachments") {
        match attachments {
            Value::Array(list) => {
                let kept: Vec<Value> = list.drain(..).filter_map(fix_attachment).collect();
                *list = kept;
            }
            _ => {
                item.remove("attachments");
            }
        }
    }
}

/// An attachment feed-rs can read, or `None` when it has no URL.
fn fix_attachment(attachment: Value) -> Option<Value> {
    let Value::Object(mut a) = attachment else {
        return None;
    };
    coerce_string(&mut a, "url");
    a.get("url")?.as_str()?;
    coerce_string(&mut a, "mime_type");
    if !a.get("mime_type").is_some_and(Value::is_string) {
        a.insert(
            "mime_type".into(),
            Value::String("application/octet-stream".into()),
        );
    }
    coerce_string(&mut a, "title");
    if let Some(size) = a.get("size_in_bytes") {
        let size = match size {
            Value::Number(n) => n
                .as_u64()
                .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64)),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        };
        match size {
            Some(n) => a.insert("size_in_bytes".into(), Value::from(n)),
            None => a.remove("size_in_bytes"),
        };
    }
    Some(Value::Object(a))
}

/// `author` must be an object and `authors` an array of them, each with
/// string `name` and `url`.
fn fix_authors(obj: &mut Map<String, Value>) {
    fn fix_person(person: &mut Map<String, Value>) {
        coerce_string(person, "name");
        coerce_string(person, "url");
    }
    match obj.get_mut("author") {
        Some(Value::Object(person)) => fix_person(person),
        Some(_) => {
            obj.remove("author");
        }
        None => {}
    }
    match obj.get_mut("authors") {
        Some(Value::Array(list)) => {
            list.retain(Value::is_object);
            for person in list.iter_mut().filter_map(Value::as_object_mut) {
                fix_person(person);
            }
        }
        Some(_) => {
            obj.remove("authors");
        }
        None => {}
    }
}

/// Makes `obj[key]` a string or removes it: numbers and booleans become
/// their text, `null` and other shapes go.
fn coerce_string(obj: &mut Map<String, Value>, key: &str) {
    let Some(v) = obj.get(key) else { return };
    if v.is_string() {
        return;
    }
    match as_string(v) {
        Some(s) => obj.insert(key.to_string(), Value::String(s)),
        None => obj.remove(key),
    };
}

fn as_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// `text` with each `\uD800`-`\uDFFF` escape that is not half of a pair
/// written `\uFFFD`, or `None` when it has none. A publisher that cuts
/// text in JavaScript splits an emoji, and `JSON.stringify` writes the
/// half it kept as `\ud83d`: serde_json refuses the whole document for
/// it, as feedparser does not.
fn lone_surrogates_mended(text: &str) -> Option<String> {
    /// The code unit of a `\uXXXX` escape starting at `at`.
    fn unit(b: &[u8], at: usize) -> Option<u16> {
        let hex = b.get(at..at + 6)?;
        if &hex[..2] != b"\\u" {
            return None;
        }
        u16::from_str_radix(std::str::from_utf8(&hex[2..]).ok()?, 16).ok()
    }
    let b = text.as_bytes();
    let mut out: Option<String> = None;
    let (mut copied, mut i) = (0, 0);
    while let Some(at) = memchr::memchr(b'\\', &b[i..]).map(|k| i + k) {
        let Some(u) = unit(b, at) else {
            // `\\` or `\"`: the escaped character is no escape's start.
            i = (at + 2).min(b.len());
            continue;
        };
        let paired = (0xD800..0xDC00).contains(&u)
            && unit(b, at + 6).is_some_and(|low| (0xDC00..0xE000).contains(&low));
        if paired {
            i = at + 12;
        } else if (0xD800..0xE000).contains(&u) {
            let mended = out.get_or_insert_with(|| String::with_capacity(text.len()));
            mended.push_str(&text[copied..at]);
            mended.push_str("\\ufffd");
            copied = at + 6;
            i = copied;
        } else {
            i = at + 6;
        }
    }
    out.map(|mut mended| {
        mended.push_str(&text[copied..]);
        mended
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A JSON Feed whose text a publisher cut inside an emoji is read, the
    /// broken half a replacement character; pairs and escaped backslashes
    /// are left as they are.
    #[test]
    fn a_lone_surrogate_is_mended_not_fatal() {
        let f = feed(
            r#"{"version":"https://jsonfeed.org/version/1.1","title":"T","items":[
                {"id":"1","url":"https://x.test/1","summary":"cut \ud83d"},
                {"id":"2","url":"https://x.test/2","summary":"\ude00 \ud83d\ude00 \\ud83d"}]}"#,
        );
        let items = f["items"].as_array().unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(items[0]["summary"], "cut \u{fffd}");
        assert_eq!(items[1]["summary"], "\u{fffd} \u{1f600} \\ud83d");
        assert_eq!(lone_surrogates_mended(r#"{"a":"\ud83d\ude00"}"#), None);
        // Anything else wrong still is.
        assert!(matches!(
            prepare(r#"{"version":"https://jsonfeed.org/version/1.1","items":["#),
            Json::Invalid(_)
        ));
    }

    fn feed(json: &str) -> Value {
        match prepare(json) {
            Json::Feed(s) => serde_json::from_str(&s).unwrap(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn loose_types_are_coerced() {
        let v = feed(
            r#"{"version":"http://jsonfeed.org/version/1","items":[
                {"id":1,"title":null,"tags":["a",2,{"x":1}],"author":"me",
                 "attachments":[{"url":"https://e/a.mp3","size_in_bytes":"12"},{"mime_type":"x/y"}]},
                "not an item"]}"#,
        );
        assert_eq!(v["version"], "https://jsonfeed.org/version/1");
        assert_eq!(v["title"], "");
        let items = v["items"].as_array().unwrap();
        assert_eq!(items.len(), 1);
        assert_eq!(items[0]["id"], "1");
        assert!(items[0].get("title").is_none());
        assert_eq!(items[0]["tags"], serde_json::json!(["a", "2"]));
        assert!(items[0].get("author").is_none());
        assert_eq!(
            items[0]["attachments"],
            serde_json::json!([{"url":"https://e/a.mp3","size_in_bytes":12,"mime_type":"application/octet-stream"}])
        );
    }

    #[test]
    fn other_json_is_not_a_feed() {
        assert!(matches!(
            prepare(r#"{"error":"rate limited"}"#),
            Json::NotAFeed
        ));
        assert!(matches!(prepare("[1,2,3]"), Json::NotAFeed));
        assert!(matches!(prepare("{not json"), Json::NotAFeed));
        assert!(matches!(
            prepare(r#"{"version":"https://jsonfeed.org/version/1.1","title":"#),
            Json::Invalid(_)
        ));
    }

    #[test]
    fn deep_nesting_is_an_error_not_an_overflow() {
        let deep = format!(
            r#"{{"version":"https://jsonfeed.org/version/1.1","x":{}{}}}"#,
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        assert!(matches!(prepare(&deep), Json::Invalid(_)));
    }
}
