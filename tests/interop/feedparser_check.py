#!/usr/bin/env python3
"""Reads an Atom or RSS feed with Python feedparser, as a subscriber would.

usage: feedparser_check.py SOURCE --entries N [--label LABEL]
                           [--quote SYMBOL=PRICE ...] [--revalidate]

SOURCE is a URL (feedparser fetches it itself, with its own gzip and
conditional-GET handling) or a file. Prints one JSON report on stdout and
exits 1 when it found problems (listed in the report's "problems").

Checks: not bozo; exactly N entries; ids present and unique; every entry has
a title, an absolute link and a date; entries newest first; and, when
--label is given, every entry carries a readable tickerfeed snapshot with
that label whose quote is one of the --quote pairs at that price; with
--revalidate, that asking again with the ETag and Last-Modified feedparser
got back is answered 304.

What feedparser makes of the tickerfeed namespace (docs/namespace.md): it
has no handler for it, so an element with attributes becomes a dict of its
attributes under "<prefix>_<name>" on the entry (names lower-cased:
"providersymbol", "changepercent", "asof"), and a repeated element
overwrites the previous one: of a snapshot's several tf:quote elements only
the last is kept (likewise tf:source keeps the last source, and tf:sources
becomes its children's text run together). The prefix is the document's
own, so this script looks it up from the namespace URI, as namespace.md
asks consumers to.

Used by tests/integration/interop.rs.
"""

import argparse
import calendar
import json
import sys
from urllib.parse import urlparse

import feedparser

TF_NS = "https://github.com/tickerfeed/tickerfeed/blob/main/docs/namespace.md"


def absolute(url):
    parts = urlparse(url or "")
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def entry_time(entry):
    """The entry's date as a Unix time: published, else updated."""
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    return calendar.timegm(parsed) if parsed else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("source")
    ap.add_argument("--entries", type=int, required=True)
    ap.add_argument("--label", help="expected snapshot label (checks snapshots)")
    ap.add_argument("--quote", action="append", default=[], metavar="SYMBOL=PRICE")
    ap.add_argument("--revalidate", action="store_true", help="expect a 304 to a conditional GET")
    args = ap.parse_args()
    expected_quotes = dict(q.split("=", 1) for q in args.quote)

    d = feedparser.parse(args.source)
    problems = []
    report = {
        "source": args.source,
        "feedparser": feedparser.__version__,
        "version": d.get("version"),
        "title": d.feed.get("title"),
        "status": d.get("status"),
        "content_encoding": (d.get("headers") or {}).get("content-encoding"),
        "encoding": d.get("encoding"),
        "bozo": bool(d.bozo),
        "bozo_exception": str(d.get("bozo_exception")) if d.bozo else None,
        "entries": len(d.entries),
        "problems": problems,
    }

    if d.bozo:
        problems.append(f"bozo: {d.get('bozo_exception')!r}")
    if report["status"] not in (None, 200):
        problems.append(f"HTTP status {report['status']}")
    if d.get("version") not in ("atom10", "rss20"):
        problems.append(f"unexpected format {d.get('version')!r}")
    if len(d.entries) != args.entries:
        problems.append(f"{len(d.entries)} entries, expected {args.entries}")

    ids = [e.get("id") for e in d.entries]
    report["ids"] = ids
    report["titles"] = [e.get("title") for e in d.entries]
    if not all(ids):
        problems.append("an entry has no id")
    if len(set(ids)) != len(ids):
        problems.append("duplicate ids")

    times = []
    for e in d.entries:
        name = e.get("id") or e.get("title")
        if not e.get("title"):
            problems.append(f"{name}: no title")
        if not absolute(e.get("link")):
            problems.append(f"{name}: no absolute link ({e.get('link')!r})")
        t = entry_time(e)
        if t is None:
            problems.append(f"{name}: no date feedparser can read")
        times.append(t)
    known = [t for t in times if t is not None]
    if known != sorted(known, reverse=True):
        problems.append(f"entries not newest first: {times}")
    report["dates"] = times

    # The namespace is matched on its URI, not on the prefix "tf".
    prefix = next((p for p, uri in d.get("namespaces", {}).items() if uri == TF_NS), None)
    report["tf_prefix"] = prefix
    quotes = []
    snapshots = 0
    if args.label is not None:
        if prefix is None:
            problems.append("the tickerfeed namespace is not declared")
        for e in d.entries:
            snapshot = e.get(f"{prefix}_snapshot")
            quote = e.get(f"{prefix}_quote")
            if not isinstance(snapshot, dict):
                problems.append(f"{e.get('id')}: no readable snapshot ({snapshot!r})")
                continue
            snapshots += 1
            if snapshot.get("label") != args.label:
                problems.append(f"{e.get('id')}: snapshot label {snapshot.get('label')!r}")
            if not snapshot.get("taken"):
                problems.append(f"{e.get('id')}: snapshot without taken")
            if not isinstance(quote, dict):
                problems.append(f"{e.get('id')}: no readable quote ({quote!r})")
                continue
            quotes.append({"id": e.get("id"), **quote})
            symbol, price = quote.get("symbol"), quote.get("price")
            if expected_quotes.get(symbol) != price:
                problems.append(f"{e.get('id')}: quote {symbol}={price}, expected one of {expected_quotes}")
    report["snapshots"] = snapshots
    report["quotes"] = quotes
    report["ticker_tags"] = sorted(
        {t.get("term") for e in d.entries for t in e.get("tags", []) if t.get("scheme") == TF_NS + "#ticker"}
    )

    if args.revalidate:
        if not d.get("etag") and not d.get("modified"):
            problems.append("no ETag or Last-Modified to revalidate with")
        again = feedparser.parse(args.source, etag=d.get("etag"), modified=d.get("modified"))
        report["revalidated_status"] = again.get("status")
        if again.get("status") != 304:
            problems.append(f"conditional GET answered {again.get('status')}, not 304")

    json.dump(report, sys.stdout, indent=1, ensure_ascii=False)
    print()
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
