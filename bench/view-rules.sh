#!/bin/bash
# Issue 16: a view whose only criterion is a rare regex rule, served from
# the matches the archive keeps (store::rules), against the merged feed and
# a rare feed view, on the serve bench's 101,883-item archive (bench/serve.sh
# with TF_SERVE_ARCHIVE keeps it). The dist binary; each of 7 rounds starts
# a daemon on one copy of the archive (the first round migrates it and
# indexes the rule: timed), waits until the rule is indexed, and asks once
# for each document (cold: a new reader connection).
# Prints each time and the median, in ms (curl time_total).
set -euo pipefail
bin=${1:?usage: bench/view-rules.sh BINARY (TF_SERVE_ARCHIVE: the serve bench archive folder)}
src=${TF_SERVE_ARCHIVE:-/var/tmp/tf-serve-wtg}/archive/tickerfeed.db
[[ -f $src ]] || { echo "no archive at $src: run bench/serve.sh with TF_SERVE_ARCHIVE first" >&2; exit 1; }
w=$(mktemp -d /tmp/vb.XXXX)
cp "$src" "$w/tickerfeed.db"
cat > "$w/run.toml" <<TOML
[storage]
path = "$w/tickerfeed.db"
[server]
listen = "127.0.0.1:0"
[output]
title = "Bench"
max_items = 100
[[views]]
name = "rare-regex"
include = [{ url = "//www\\\\.outlet-100\\\\.example/" }]
[[views]]
name = "rare-feed"
feeds = ["feed-1000"]
[[feeds]]
name = "feed-1000"
url = "http://127.0.0.1:9/feed-1000.xml"
schedule = "0 0 1 1 *"
TOML
"$bin" --config "$w/run.toml" check >/dev/null
declare -A t
for round in 1 2 3 4 5 6 7; do
  "$bin" --config "$w/run.toml" run 2>"$w/log" &
  pid=$!
  for i in $(seq 1 200); do grep -q "tickerfeed running" "$w/log" && break; sleep 0.1; done
  addr=$(grep -o 'listen=[0-9.:]*' "$w/log" | head -1 | cut -d= -f2)
  # wait for the backfill (first round migrates the archive and indexes the rule)
  started=$(date +%s.%N)
  for i in $(seq 1 600); do
    c=$(sqlite3 -readonly "$w/tickerfeed.db" "SELECT count(*) FROM rules WHERE complete" 2>/dev/null || echo 0)
    [[ $c == 1 ]] && break; sleep 0.2
  done
  [[ $round == 1 ]] && echo "round 1: running to rule indexed: $(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}') s (the backfill; the migration runs before the daemon says it is running)"
  for doc in /feed.atom /views/rare-regex.atom /views/rare-feed.atom; do
    ms=$(curl -s -o /dev/null -w '%{time_total}' "http://$addr$doc" | awk '{printf "%.1f", $1*1000}')
    t[$doc]+="$ms "
  done
  kill $pid; wait $pid 2>/dev/null || true
done
for doc in /feed.atom /views/rare-regex.atom /views/rare-feed.atom; do
  echo "$doc: ${t[$doc]} median $(echo ${t[$doc]} | tr ' ' '\n' | sort -n | sed -n 4p) ms"
done
sqlite3 -readonly "$w/tickerfeed.db" "SELECT r.pattern, r.complete, count(h.item_id) FROM rules r LEFT JOIN rule_hits h ON h.rule_id=r.id GROUP BY r.id"
rm -rf "$w"
