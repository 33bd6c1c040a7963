"""Poll feeds into SQLite the way a Python user would: requests + feedparser.

Usage: feedparser_sqlite.py URLS_FILE DB_PATH [WORKERS]

One invocation is one poll. The first (empty DB) stores every entry; a
second on the same DB sends the stored ETag / Last-Modified, so unchanged
feeds answer 304 and are skipped. WORKERS threads fetch and parse (default
16, the bench passes tickerfeed's concurrency); the main thread is the only
SQLite writer and commits once per feed. Prints one summary line and exits
non-zero if any feed failed. Used by benches/poll.rs as a peer.
"""

import sqlite3
import sys
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed

import feedparser
import requests

SCHEMA = """
CREATE TABLE IF NOT EXISTS feeds (url TEXT PRIMARY KEY, etag TEXT, modified TEXT);
CREATE TABLE IF NOT EXISTS entries (
    feed TEXT NOT NULL, id TEXT NOT NULL, title TEXT, link TEXT,
    published TEXT, summary TEXT, content TEXT,
    PRIMARY KEY (feed, id)
);
"""

# requests.Session is not thread-safe; one per worker thread still reuses
# connections within that thread.
local = threading.local()


def fetch_and_parse(url, etag, modified):
    """Conditional GET (gzip is requests' default), then parse off the writer."""
    session = getattr(local, "session", None)
    if session is None:
        session = local.session = requests.Session()
    headers = {}
    if etag:
        headers["If-None-Match"] = etag
    if modified:
        headers["If-Modified-Since"] = modified
    resp = session.get(url, headers=headers, timeout=30)
    if resp.status_code == 304:
        return url, 304, None, None, None
    resp.raise_for_status()
    # requests has already undone the gzip; feedparser only needs the charset.
    ctype = resp.headers.get("Content-Type", "")
    parsed = feedparser.parse(resp.content, response_headers={"content-type": ctype})
    if parsed.bozo and not parsed.entries:
        raise ValueError(f"unparseable feed: {parsed.bozo_exception!r}")
    return url, 200, resp.headers.get("ETag"), resp.headers.get("Last-Modified"), parsed


def main():
    urls_file, db_path = sys.argv[1], sys.argv[2]
    workers = int(sys.argv[3]) if len(sys.argv) > 3 else 16
    urls = [u.strip() for u in open(urls_file) if u.strip()]

    db = sqlite3.connect(db_path)
    # The same durability settings tickerfeed uses (WAL, synchronous=NORMAL),
    # so per-commit fsyncs don't decide the comparison.
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.executescript(SCHEMA)
    validators = dict(
        (url, (etag, modified))
        for url, etag, modified in db.execute("SELECT url, etag, modified FROM feeds")
    )

    counts = {200: 0, 304: 0, "failed": 0, "new": 0}
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [
            pool.submit(fetch_and_parse, url, *validators.get(url, (None, None)))
            for url in urls
        ]
        for fut in as_completed(futures):
            try:
                url, status, etag, modified, parsed = fut.result()
            except Exception as e:  # a failed feed is counted, not fatal
                print(f"feed failed: {e!r}", file=sys.stderr)
                counts["failed"] += 1
                continue
            counts[status] += 1
            if parsed is None:
                continue
            rows = [
                (
                    url,
                    e.get("id") or e.get("link") or e.get("title"),
                    e.get("title"),
                    e.get("link"),
                    e.get("published") or e.get("updated"),
                    e.get("summary"),
                    e["content"][0]["value"] if e.get("content") else None,
                )
                for e in parsed.entries
            ]
            before = db.total_changes
            db.executemany("INSERT OR IGNORE INTO entries VALUES (?,?,?,?,?,?,?)", rows)
            counts["new"] += db.total_changes - before
            db.execute(
                "INSERT OR REPLACE INTO feeds (url, etag, modified) VALUES (?,?,?)",
                (url, etag, modified),
            )
            db.commit()
    db.close()

    print(
        f"{len(urls)} feeds: {counts[200]} x 200, {counts[304]} x 304, "
        f"{counts['failed']} failed, {counts['new']} new entries"
    )
    sys.exit(1 if counts["failed"] else 0)


if __name__ == "__main__":
    main()
