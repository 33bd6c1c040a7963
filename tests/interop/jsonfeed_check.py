#!/usr/bin/env python3
"""Checks a JSON Feed document against the JSON Feed 1.1 rules.

usage: jsonfeed_check.py SOURCE [--items N] [--feed-url URL]
                         [--quote SYMBOL=PRICE ...]

SOURCE is a URL or a file. Prints one JSON report on stdout (with the
page's "ids" and "next_url", so a caller can walk the pages) and exits 1
when it found problems (listed in the report's "problems").

The rules, from https://www.jsonfeed.org/version/1.1/:
- served as application/feed+json, UTF-8 JSON (no duplicate keys, no NaN);
- top level: "version" is the 1.1 URL, "title" a string, "items" an array;
  the optional keys have their types (URLs absolute, "expired" a boolean,
  "authors" an array of author objects, "hubs" objects with type and url);
- every item has a string "id" (unique in the document) and
  "content_html" or "content_text"; dates are RFC 3339; "tags" strings;
  attachments have "url" and "mime_type";
- next_url is not the same as feed_url;
- an author object has at least one of name, url, avatar;
- any key the spec does not define is an extension: "_" then a letter,
  holding an object (tickerfeed's have an absolute "about" URL).
And tickerfeed's own promises: no nulls (absent values are left out),
items newest first, "_market" and "_tickerfeed" as docs/namespace.md
describes them, with --quote prices when given.

Only the standard library, so it runs wherever python3 does. Used by
tests/integration/interop.rs.
"""

import argparse
import json
import re
import sys
import urllib.error
import urllib.request
from datetime import datetime
from urllib.parse import urlparse

VERSION = "https://jsonfeed.org/version/1.1"
TF_NS = "https://github.com/tickerfeed/tickerfeed/blob/main/docs/namespace.md"

FEED_KEYS = {
    "version", "title", "home_page_url", "feed_url", "description",
    "user_comment", "next_url", "icon", "favicon", "authors", "author",
    "language", "expired", "hubs", "items",
}
ITEM_KEYS = {
    "id", "url", "external_url", "title", "content_html", "content_text",
    "summary", "image", "banner_image", "date_published", "date_modified",
    "authors", "author", "tags", "language", "attachments",
}
AUTHOR_KEYS = {"name", "url", "avatar"}
ATTACHMENT_KEYS = {"url", "mime_type", "title", "size_in_bytes", "duration_in_seconds"}

RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$"
)
DECIMAL = re.compile(r"^-?\d+(\.\d+)?$")
EXTENSION = re.compile(r"^_[A-Za-z]")
SESSIONS = {"pre", "regular", "post", "closed", "unknown"}
PROVIDERS = {"yahoo", "finnhub", "twelvedata", "stooq", "alphavantage"}


class Checker:
    def __init__(self):
        self.problems = []

    def fail(self, where, message):
        self.problems.append(f"{where}: {message}")

    def string(self, obj, key, where, required=False):
        if key not in obj:
            if required:
                self.fail(where, f"{key} is required")
            return None
        value = obj[key]
        if not isinstance(value, str):
            self.fail(where, f"{key} is not a string: {value!r}")
            return None
        return value

    def url(self, obj, key, where, required=False):
        value = self.string(obj, key, where, required)
        if value is not None:
            parts = urlparse(value)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                self.fail(where, f"{key} is not an absolute URL: {value!r}")
        return value

    def date(self, obj, key, where, required=False):
        value = self.string(obj, key, where, required)
        if value is None:
            return None
        if not RFC3339.match(value):
            self.fail(where, f"{key} is not RFC 3339: {value!r}")
            return None
        try:
            return datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
        except ValueError as e:
            self.fail(where, f"{key} is not a real date: {value!r} ({e})")
            return None

    def keys(self, obj, known, where):
        """Unknown keys must be extensions: "_" and a letter, an object."""
        for key, value in obj.items():
            if key in known:
                continue
            if not EXTENSION.match(key):
                self.fail(where, f"unknown key {key!r} is not an extension (\"_\" and a letter)")
            elif not isinstance(value, dict):
                self.fail(where, f"extension {key} is not an object")
            elif "about" in value:
                self.url(value, "about", f"{where}.{key}")

    def authors(self, obj, where):
        if "author" in obj and "authors" not in obj:
            self.fail(where, "only the deprecated author, no authors")
        if "authors" not in obj:
            return
        authors = obj["authors"]
        if not isinstance(authors, list):
            self.fail(where, "authors is not an array")
            return
        for i, author in enumerate(authors):
            at = f"{where}.authors[{i}]"
            if not isinstance(author, dict):
                self.fail(at, f"not an object: {author!r}")
                continue
            self.keys(author, AUTHOR_KEYS, at)
            if not AUTHOR_KEYS & author.keys():
                self.fail(at, "has none of name, url, avatar")
            self.string(author, "name", at)
            self.url(author, "url", at)
            self.url(author, "avatar", at)

    def no_nulls(self, value, where):
        if value is None:
            self.fail(where, "null (absent values must be left out)")
        elif isinstance(value, dict):
            for k, v in value.items():
                self.no_nulls(v, f"{where}.{k}")
        elif isinstance(value, list):
            for i, v in enumerate(value):
                self.no_nulls(v, f"{where}[{i}]")

    def market(self, market, where, expected_quotes):
        """`_market` as docs/namespace.md specifies it; returns its quotes."""
        if market.get("about") != TF_NS:
            self.fail(where, f"about is {market.get('about')!r}")
        self.date(market, "taken", where, required=True)
        self.string(market, "label", where, required=True)
        quotes = market.get("quotes")
        if not isinstance(quotes, list):
            self.fail(where, "quotes is not an array")
            return []
        for i, q in enumerate(quotes):
            at = f"{where}.quotes[{i}]"
            if not isinstance(q, dict):
                self.fail(at, "not an object")
                continue
            for key in ("symbol", "providerSymbol", "provider", "price", "fetched", "session"):
                self.string(q, key, at, required=True)
            for key in ("price", "change", "changePercent", "previousClose"):
                if isinstance(q.get(key), str) and not DECIMAL.match(q[key]):
                    self.fail(at, f"{key} is not a plain decimal string: {q[key]!r}")
            for key in ("name", "currency"):
                self.string(q, key, at)
            for key in ("fetched", "asOf"):
                self.date(q, key, at)
            for key in ("stale", "mentioned"):
                if not isinstance(q.get(key), bool):
                    self.fail(at, f"{key} is not a boolean: {q.get(key)!r}")
            if q.get("session") not in SESSIONS:
                self.fail(at, f"session {q.get('session')!r}")
            if q.get("provider") not in PROVIDERS:
                self.fail(at, f"provider {q.get('provider')!r}")
            if expected_quotes and expected_quotes.get(q.get("symbol")) != q.get("price"):
                self.fail(at, f"{q.get('symbol')}={q.get('price')}, expected one of {expected_quotes}")
        return quotes

    def sources(self, ext, where):
        """`_tickerfeed` as docs/namespace.md specifies it."""
        if ext.get("about") != TF_NS:
            self.fail(where, f"about is {ext.get('about')!r}")
        sources = ext.get("sources")
        if not isinstance(sources, list) or not sources:
            self.fail(where, "sources is not a non-empty array")
            return
        for i, s in enumerate(sources):
            at = f"{where}.sources[{i}]"
            self.string(s, "name", at, required=True)
            self.string(s, "title", at)
            self.url(s, "feed_url", at, required=True)
            self.url(s, "home_page_url", at)


def load(source):
    """The document's bytes and, for a URL, the HTTP status and Content-Type."""
    if "://" not in source:
        with open(source, "rb") as f:
            return f.read(), None, None
    req = urllib.request.Request(source, headers={"User-Agent": "jsonfeed_check.py"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.read(), resp.status, resp.headers.get("Content-Type")
    except urllib.error.HTTPError as e:
        return e.read(), e.code, e.headers.get("Content-Type")


def reject_duplicates(pairs):
    keys = [k for k, _ in pairs]
    dupes = {k for k in keys if keys.count(k) > 1}
    if dupes:
        raise ValueError(f"duplicate keys {sorted(dupes)}")
    return dict(pairs)


def reject_constant(name):
    raise ValueError(f"{name} is not JSON")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("source")
    ap.add_argument("--items", type=int, help="expected number of items")
    ap.add_argument("--feed-url", help="expected feed_url")
    ap.add_argument("--quote", action="append", default=[], metavar="SYMBOL=PRICE")
    args = ap.parse_args()
    expected_quotes = dict(q.split("=", 1) for q in args.quote)

    c = Checker()
    report = {"source": args.source, "problems": c.problems}
    body, status, content_type = load(args.source)
    report["status"], report["content_type"] = status, content_type
    if status not in (None, 200):
        c.fail("HTTP", f"status {status}")
        return finish(report)
    if content_type is not None and content_type.split(";")[0].strip() != "application/feed+json":
        c.fail("HTTP", f"Content-Type {content_type!r}, not application/feed+json")
    try:
        feed = json.loads(
            body.decode("utf-8"),
            object_pairs_hook=reject_duplicates,
            parse_constant=reject_constant,
        )
    except ValueError as e:  # UnicodeDecodeError and JSONDecodeError too
        c.fail("document", f"not UTF-8 JSON: {e}")
        return finish(report)
    if not isinstance(feed, dict):
        c.fail("document", "not an object")
        return finish(report)

    c.no_nulls(feed, "feed")
    c.keys(feed, FEED_KEYS, "feed")
    if feed.get("version") != VERSION:
        c.fail("feed", f"version is {feed.get('version')!r}, not {VERSION}")
    if not c.string(feed, "title", "feed", required=True):
        c.fail("feed", "empty title")
    for key in ("home_page_url", "feed_url", "next_url", "icon", "favicon"):
        c.url(feed, key, "feed")
    for key in ("description", "user_comment", "language"):
        c.string(feed, key, "feed")
    if "expired" in feed and not isinstance(feed["expired"], bool):
        c.fail("feed", "expired is not a boolean")
    for i, hub in enumerate(feed.get("hubs", [])):
        if not isinstance(hub, dict):
            c.fail(f"feed.hubs[{i}]", "not an object")
            continue
        c.string(hub, "type", f"feed.hubs[{i}]", required=True)
        c.url(hub, "url", f"feed.hubs[{i}]", required=True)
    c.authors(feed, "feed")
    if "next_url" in feed and feed.get("next_url") == feed.get("feed_url"):
        c.fail("feed", "next_url is the same as feed_url")
    if args.feed_url is not None and feed.get("feed_url") != args.feed_url:
        c.fail("feed", f"feed_url is {feed.get('feed_url')!r}, expected {args.feed_url!r}")
    report["version"] = feed.get("version")
    report["title"] = feed.get("title")
    report["feed_url"] = feed.get("feed_url")
    report["next_url"] = feed.get("next_url")

    items = feed.get("items")
    if not isinstance(items, list):
        c.fail("feed", "items is required and must be an array")
        items = []
    report["items"] = len(items)
    if args.items is not None and len(items) != args.items:
        c.fail("feed", f"{len(items)} items, expected {args.items}")

    ids, times, quotes, markets = [], [], [], 0
    for i, item in enumerate(items):
        at = f"items[{i}]"
        if not isinstance(item, dict):
            c.fail(at, "not an object")
            continue
        c.keys(item, ITEM_KEYS, at)
        item_id = c.string(item, "id", at, required=True)
        if item_id == "":
            c.fail(at, "empty id")
        ids.append(item_id)
        if "content_html" not in item and "content_text" not in item:
            c.fail(at, "neither content_html nor content_text")
        for key in ("content_html", "content_text", "title", "summary", "language"):
            c.string(item, key, at)
        for key in ("url", "external_url", "image", "banner_image"):
            c.url(item, key, at)
        published = c.date(item, "date_published", at)
        modified = c.date(item, "date_modified", at)
        times.append(published or modified)
        c.authors(item, at)
        tags = item.get("tags", [])
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            c.fail(at, f"tags is not an array of strings: {tags!r}")
        for j, a in enumerate(item.get("attachments", [])):
            aat = f"{at}.attachments[{j}]"
            if not isinstance(a, dict):
                c.fail(aat, "not an object")
                continue
            c.keys(a, ATTACHMENT_KEYS, aat)
            c.url(a, "url", aat, required=True)
            c.string(a, "mime_type", aat, required=True)
            for key in ("size_in_bytes", "duration_in_seconds"):
                if key in a and (isinstance(a[key], bool) or not isinstance(a[key], (int, float))):
                    c.fail(aat, f"{key} is not a number")
        if isinstance(item.get("_market"), dict):
            markets += 1
            for q in c.market(item["_market"], f"{at}._market", expected_quotes):
                if isinstance(q, dict):
                    quotes.append({"id": item_id, "symbol": q.get("symbol"), "price": q.get("price")})
        if isinstance(item.get("_tickerfeed"), dict):
            c.sources(item["_tickerfeed"], f"{at}._tickerfeed")

    if None not in ids and len(set(ids)) != len(ids):
        c.fail("feed", "duplicate item ids")
    known = [t for t in times if t is not None]
    if known != sorted(known, reverse=True):
        c.fail("feed", "items are not newest first")
    report["ids"] = ids
    report["markets"] = markets
    report["quotes"] = quotes
    return finish(report)


def finish(report):
    json.dump(report, sys.stdout, indent=1, ensure_ascii=False)
    print()
    return 1 if report["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
