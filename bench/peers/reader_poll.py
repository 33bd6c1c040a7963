"""Poll feeds with the Python `reader` library (https://pypi.org/project/reader/).

Usage: reader_poll.py URLS_FILE DB_PATH [WORKERS]

One invocation is one poll: make_reader(DB_PATH), add every URL, then
update them all with WORKERS threads (default 16; the bench passes
tickerfeed's concurrency). A second invocation on the same DB is a re-poll:
reader sends its own conditional requests (ETag / Last-Modified). Prints one
summary line and exits non-zero if any feed failed. Used by
benches/poll.rs as a peer.
"""

import sys

from reader import make_reader


def main():
    urls_file, db_path = sys.argv[1], sys.argv[2]
    workers = int(sys.argv[3]) if len(sys.argv) > 3 else 16
    urls = [u.strip() for u in open(urls_file) if u.strip()]

    r = make_reader(db_path)
    for url in urls:
        r.add_feed(url, exist_ok=True)

    counts = {"updated": 0, "not_modified": 0, "failed": 0, "new": 0}
    # scheduled=False: since 3.21 reader only updates feeds that are due (an
    # hour after the last update, or later if Cache-Control says so), so a
    # re-poll straight after the first would request nothing at all.
    # update_feeds() would skip failed feeds silently; the _iter form
    # reports them.
    for url, value in r.update_feeds_iter(scheduled=False, workers=workers):
        if value is None:
            counts["not_modified"] += 1
        elif isinstance(value, Exception):
            print(f"feed failed: {url}: {value!r}", file=sys.stderr)
            counts["failed"] += 1
        else:
            counts["updated"] += 1
            counts["new"] += value.new
    r.close()

    print(
        f"{len(urls)} feeds: {counts['updated']} updated, "
        f"{counts['not_modified']} not modified, {counts['failed']} failed, "
        f"{counts['new']} new entries"
    )
    sys.exit(1 if counts["failed"] else 0)


if __name__ == "__main__":
    main()
