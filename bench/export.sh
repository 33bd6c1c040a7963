#!/usr/bin/env bash
# bench/export.sh: peak memory and wall time of `tickerfeed export` on
# archives of 10,000 and 100,000 items (issue 19): the export must stream
# in constant memory, so its peak RSS should not grow with the archive.
#
# For each size it builds an archive: the real binary creates and migrates
# it, then sqlite3 fills it by SQL (much faster than polling 100,000 items,
# and what is measured here is the export, not ingest) with items shaped
# like the poll bench's: a title, a link, a guid, two authors, categories,
# about 600 bytes of summary and 1.5 KB of content text; every item
# carried by one feed and one in five by a second; one in three mentions a
# symbol; each stamped with a board of three quotes from a time series.
# The binary then opens the archive once (indexing it for search, so no
# measured run pays that), and `/usr/bin/time -v tickerfeed export` runs
# TF_EXPORT_RUNS times per format, each to a file on the same disk.
# Prints a markdown table of medians and writes it to
# bench/results/export.md.
#
# Settings (environment):
#   TF_EXPORT_SIZES  "10000 100000"   archive sizes, in items
#   TF_EXPORT_RUNS   3                runs per size and format; medians
#   TF_EXPORT_BIN    (built)          the binary; default: cargo build --release
#   TMPDIR           /tmp             where the archives and exports go

set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
sizes=${TF_EXPORT_SIZES:-"10000 100000"}
runs=${TF_EXPORT_RUNS:-3}
bin=${TF_EXPORT_BIN:-}

die() { echo "export bench: $*" >&2; exit 1; }
note() { echo "export bench: $*" >&2; }

for tool in sqlite3 awk sort; do
    command -v "$tool" >/dev/null || die "needs $tool on PATH"
done
[ -x /usr/bin/time ] || die "needs GNU time at /usr/bin/time (Debian package time)"

if [ -z "$bin" ]; then
    note "building the release binary"
    (cd "$repo" && cargo build --release --quiet)
    bin=$repo/target/release/tickerfeed
fi
[ -x "$bin" ] || die "no binary at $bin"

work=$(mktemp -d "${TMPDIR:-/tmp}/tickerfeed-export-XXXXXX")
trap 'rm -rf "$work"' EXIT

# Fills an empty archive with $2 items by SQL.
fill() {
    local db=$1 n=$2
    sqlite3 "$db" >/dev/null <<SQL
PRAGMA journal_mode = WAL;
PRAGMA synchronous = OFF;
BEGIN;
-- "wire" is already there: the binary added the configured feed.
INSERT OR IGNORE INTO feeds (id, name, url, schedule, created_at) VALUES
  (1, 'wire', 'https://wire.example/feed.xml', '*/15 * * * *', '2026-11-01T00:00:00Z'),
  (2, 'blog', 'https://blog.example/feed.xml', '*/15 * * * *', '2026-11-01T00:00:00Z');
-- A quote series: three symbols, one row each per 5 minutes over the
-- span of the items.
WITH RECURSIVE t(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM t WHERE k < $n / 50)
INSERT INTO quotes (id, symbol, provider, provider_symbol, price, change, change_percent,
                    currency, previous_close, as_of, fetched_at, session)
SELECT k * 3 + s.i + 1, s.sym, 'yahoo', s.psym,
       printf('%.3f', s.base + (k % 97) * 0.013), printf('%.3f', (k % 13) * 0.01 - 0.06),
       printf('%.2f', (k % 17) * 0.1 - 0.8), s.cur, printf('%.3f', s.base),
       strftime('%Y-%m-%dT%H:%M:%SZ', '2026-11-01', printf('+%d seconds', k * 300)),
       strftime('%Y-%m-%dT%H:%M:%SZ', '2026-11-01', printf('+%d seconds', k * 300 + 20)),
       'regular'
FROM t, (SELECT 0 AS i, 'BP' AS sym, 'BP.L' AS psym, 4.615 AS base, 'GBP' AS cur
         UNION ALL SELECT 1, 'AAPL', 'AAPL', 328.879, 'USD'
         UNION ALL SELECT 2, 'VOD', 'VOD.L', 1.1575, 'GBP') s;
WITH RECURSIVE n(id) AS (SELECT 1 UNION ALL SELECT id + 1 FROM n WHERE id < $n),
     at(id, t) AS (SELECT id, strftime('%Y-%m-%dT%H:%M:%SZ', '2026-11-01',
                                       printf('+%d seconds', id * 6)) FROM n)
INSERT INTO items (id, uid, origin_feed_id, guid, url, canonical_url, title, summary_html,
                   content_html, authors, categories, published_at, updated_at, first_seen_at,
                   changed_at, sort_at, content_sha256, summary_text, content_text, revision)
SELECT id, printf('%032x', id), 1, printf('https://wire.example/news/%d', id),
       printf('https://wire.example/news/%d?utm_source=rss', id),
       printf('https://wire.example/news/%d', id),
       printf('Item %d: markets, oil and "quotes", with a comma', id),
       NULL, NULL, '["Ann Author","Bo Writer"]', '["markets","energy"]',
       t, NULL, t, t, t, printf('%064x', id),
       substr(replace(hex(zeroblob(300)), '00', 'markets rally as oil '), 1, 600),
       substr(replace(hex(zeroblob(800)), '00', 'the board moved; shares rose, '), 1, 1500),
       0
FROM at;
INSERT INTO item_sources (feed_id, item_key, item_id, matched_by, first_seen_at, last_seen_at)
SELECT 1, 'id:' || guid, id, 'new', first_seen_at, first_seen_at FROM items;
INSERT INTO item_sources (feed_id, item_key, item_id, matched_by, first_seen_at, last_seen_at, reason)
SELECT 2, 'link:' || canonical_url, id, 'url', first_seen_at, first_seen_at,
       'same link as an article already archived'
FROM items WHERE id % 5 = 0;
INSERT INTO item_mentions (item_id, symbol)
SELECT id, CASE id % 2 WHEN 0 THEN 'BP' ELSE 'VOD' END FROM items WHERE id % 3 = 0;
INSERT INTO snapshots (item_id, label, taken_at)
SELECT id, 'LSE - NASDAQ', first_seen_at FROM items;
INSERT INTO snapshot_quotes (item_id, position, quote_id, symbol, name, stale, mentioned)
SELECT i.id, s.i, (i.id / 50) * 3 + s.i + 1, s.sym, s.name, 0,
       EXISTS (SELECT 1 FROM item_mentions m WHERE m.item_id = i.id AND m.symbol = s.sym)
FROM items i, (SELECT 0 AS i, 'BP' AS sym, 'BP plc' AS name
               UNION ALL SELECT 1, 'AAPL', 'Apple' UNION ALL SELECT 2, 'VOD', NULL) s;
COMMIT;
SQL
}

# Runs the export under GNU time: prints "wall_seconds max_rss_kib".
measure() {
    local cfg=$1 format=$2 out=$3
    /usr/bin/time -v -o "$work/time.txt" \
        "$bin" --config "$cfg" export --format "$format" --out "$out" 2>"$work/stderr.txt" \
        || die "export failed: $(cat "$work/stderr.txt")"
    awk -F': ' '
        /Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; wall = s }
        /Maximum resident set size/ { rss = $2 }
        END { printf "%.2f %d\n", wall, rss }' "$work/time.txt"
}

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

rows=()
for n in $sizes; do
    dir=$work/$n
    mkdir -p "$dir"
    cat >"$dir/config.toml" <<TOML
[storage]
path = "$dir/archive.db"
[[feeds]]
name = "wire"
url = "https://wire.example/feed.xml"
TOML
    note "$n items: creating the archive"
    "$bin" --config "$dir/config.toml" feeds >/dev/null
    fill "$dir/archive.db" "$n"
    # Opening indexes the hand-inserted items for search, once, here.
    "$bin" --config "$dir/config.toml" feeds >/dev/null
    db_mib=$(du -m "$dir/archive.db" | cut -f1)
    for format in jsonl csv; do
        : >"$work/walls"; : >"$work/rsss"
        for _ in $(seq "$runs"); do
            read -r wall rss < <(measure "$dir/config.toml" "$format" "$dir/out.$format")
            echo "$wall" >>"$work/walls"; echo "$rss" >>"$work/rsss"
            lines=$(wc -l <"$dir/out.$format")
        done
        out_mib=$(du -m "$dir/out.$format" | cut -f1)
        wall=$(median <"$work/walls")
        rss_mib=$(awk -v k="$(median <"$work/rsss")" 'BEGIN { printf "%.1f", k / 1024 }')
        rate=$(awk -v n="$n" -v w="$wall" 'BEGIN { printf "%d", (w > 0) ? n / w : 0 }')
        rows+=("| $n | $db_mib MiB | $format | $lines | $out_mib MiB | $wall s | $rate | **$rss_mib MiB** |")
        note "$n items, $format: ${wall}s, peak RSS ${rss_mib} MiB"
    done
    rm -f "$dir"/out.*
done

report=$(cat <<EOF
# Export: peak memory and time

$(date -u +%Y-%m-%d), $(uname -srm), $(nproc) cores, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo).
Binary: \`$bin\`. Runs per cell: $runs; medians. Method: bench/export.sh.

| items | archive | format | lines out | output | wall | items/s | peak RSS |
|---|---|---|---|---|---|---|---|
$(printf '%s\n' "${rows[@]}")
EOF
)
mkdir -p "$repo/bench/results"
echo "$report" | tee "$repo/bench/results/export.md"
