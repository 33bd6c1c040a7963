#!/usr/bin/env bash
# bench/serve.sh: serving from a 100,000-item archive (issue 7).
#
# Builds (or reuses) an archive of about 100,000 items by polling the poll
# bench's generated corpus with the real binary, starts `tickerfeed run` on
# a copy of it (127.0.0.1, a port the kernel picks, no poll due before
# 2028), and measures:
#   - wrk -t2 -c32 --latency on /feed.atom (200), the same with a matching
#     If-None-Match (304), gzip, /feed.json, and cached ?q= searches;
#   - uncached search latency: one curl per distinct ?q= word (each misses
#     the render cache), for common, rare and prefix queries;
#   - `tickerfeed search` wall time (process start and store open included);
#   - renders (the daemon's debug log) and daemon CPU time during each wrk
#     run, to check that a document is rendered once per archive change;
#   - views (issue 16): each [[views]] document's render time, first
#     request after a daemon start and first request after an archive
#     change, over several daemon starts; wrk on a cached view;
#   - pages (issue 17): wrk on the news page `/` (cached, identity and
#     gzip) beside /feed.atom, and the render time of `/`, one
#     `/items/<uid>` and one `/search?q=` page, first request after a
#     daemon start and after an archive change, over the same starts.
# Prints the results and writes bench/results/serve-<min items>.md.
# Settings are environment variables; see bench/README.md ("serve").

set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

feeds=${TF_SERVE_FEEDS:-2000}
items_per_feed=${TF_SERVE_ITEMS:-60}
hosts=${TF_SERVE_HOSTS:-200}
min_items=${TF_SERVE_MIN_ITEMS:-100000}
threads=${TF_SERVE_THREADS:-2}
connections=${TF_SERVE_CONNECTIONS:-32}
duration=${TF_SERVE_DURATION:-10s}
archive_cache=${TF_SERVE_ARCHIVE:-}
bin=${TF_SERVE_BIN:-}
bin_given=${TF_SERVE_BIN:+1}
keep=${TF_SERVE_KEEP:-0}
view_rounds=${TF_SERVE_VIEW_ROUNDS:-5}

# The issue's targets.
target_rps=20000
target_p99_ms=10
target_search_ms=50
target_view_ms=50
target_page_rps=20000

die() { echo "serve bench: $*" >&2; exit 1; }
note() { echo "serve bench: $*" >&2; }

for tool in wrk curl sqlite3 awk; do
    command -v "$tool" >/dev/null || die "needs $tool on PATH"
done

work=$(mktemp -d "${TMPDIR:-/tmp}/tickerfeed-serve-XXXXXX")
daemon_pid=
corpus_pid=
corpus_fd=

cleanup() {
    if [[ -n $daemon_pid ]] && kill -0 "$daemon_pid" 2>/dev/null; then
        kill -TERM "$daemon_pid" 2>/dev/null || true
        wait "$daemon_pid" 2>/dev/null || true
    fi
    # Closing the corpus server's stdin stops it (benches/poll.rs).
    if [[ -n $corpus_fd ]]; then
        exec {corpus_fd}>&-
        corpus_fd=
    fi
    if [[ -n $corpus_pid ]]; then
        wait "$corpus_pid" 2>/dev/null || true
    fi
    if [[ $keep == 1 ]]; then
        note "kept $work"
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT

# GNU time, for wrk's own CPU time (optional).
gnu_time=()
if [[ -x /usr/bin/time ]]; then gnu_time=(/usr/bin/time -f '%U %S' -o "$work/wrk.time"); fi

# --- the binary ------------------------------------------------------------

if [[ -z $bin ]]; then
    note "building the dist binary (the profile that is installed)"
    (cd "$repo" && cargo build --profile dist --quiet)
    bin=${CARGO_TARGET_DIR:-$repo/target}/dist/tickerfeed
fi
[[ -x $bin ]] || die "no tickerfeed binary at $bin"
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")

# --- the archive -----------------------------------------------------------

# What the archive was built from; a cached archive is reused only if this
# matches.
stamp="feeds=$feeds items=$items_per_feed hosts=$hosts"

# Serves the poll bench's corpus and polls it once with the binary under
# test into $1/archive (the real ingest path, not rows written behind the
# store's back). Leaves the poll config in $1/poll.toml.
build_archive() {
    local dir=$1
    mkdir -p "$dir"
    rm -rf "$dir/archive" "$dir/stamp"
    local fifo=$work/corpus.stdin
    mkfifo "$fifo"
    note "serving the corpus ($feeds feeds x $items_per_feed items, $hosts ports); compiling the poll bench may take minutes"
    (cd "$repo" && TF_BENCH_SERVE=1 TF_BENCH_FEEDS=$feeds TF_BENCH_ITEMS=$items_per_feed \
        TF_BENCH_HOSTS=$hosts TF_BENCH_BIN=$bin cargo bench --quiet --bench poll) \
        <"$fifo" >"$work/corpus.out" 2>"$work/corpus.err" &
    corpus_pid=$!
    exec {corpus_fd}>"$fifo"
    local config=
    while [[ -z $config ]]; do
        kill -0 "$corpus_pid" 2>/dev/null || {
            tail -20 "$work/corpus.err" >&2
            die "the corpus server exited"
        }
        config=$(sed -n 's/^config: //p' "$work/corpus.out")
        [[ -n $config ]] || sleep 1
    done
    cp "$config" "$dir/poll.toml"
    note "polling into $dir/archive"
    local t0=$SECONDS
    "$bin" --config "$dir/poll.toml" poll >"$dir/poll.out" 2>"$dir/poll.err" ||
        { tail -20 "$dir/poll.err" >&2; die "the poll failed"; }
    exec {corpus_fd}>&-
    corpus_fd=
    wait "$corpus_pid" || true
    corpus_pid=
    # The bench kept a temp dir for the config; the archive is not in it.
    local bench_dir
    bench_dir=$(dirname "$config")
    [[ $(basename "$bench_dir") == tickerfeed-bench-* ]] && rm -rf "$bench_dir"
    local summary
    summary=$(tail -1 "$dir/poll.out")
    [[ $summary =~ ^$feeds\ feeds\ polled,\ 0\ failed, ]] ||
        die "the poll did not store every feed: $summary"
    echo "$summary ($((SECONDS - t0)) s)" >"$dir/poll.summary"
    echo "$stamp" >"$dir/stamp"
}

if [[ -n $archive_cache ]]; then
    if [[ -f $archive_cache/stamp && $(cat "$archive_cache/stamp") == "$stamp" ]]; then
        note "reusing the archive in $archive_cache"
    else
        build_archive "$archive_cache"
    fi
    # Measure a copy: the daemon writes to its archive (feed sync, fetch
    # log trimming), and the cached one should stay as built.
    cp -r "$archive_cache/archive" "$work/archive"
    cp "$archive_cache/poll.toml" "$archive_cache/poll.summary" "$work/"
else
    build_archive "$work"
fi
db=$work/archive/tickerfeed.db
archive_bytes=$(du -cb "$work/archive" | tail -1 | cut -f1)

# The daemon's config: the same feeds, at addresses that can never answer
# (.invalid never resolves; the corpus server is gone anyway, and its ports
# may be someone else's by now), a schedule that next fires on 29 February
# 2028, an ephemeral port, and debug logging for the HTTP module only (one
# line per render).
sed -e 's|^schedule = .*|schedule = "0 0 29 2 *"|' \
    -e 's|^url = "http://127\.0\.0\.1:[0-9]*/|url = "http://tickerfeed-bench.invalid/|' \
    -e 's|^listen = .*|listen = "127.0.0.1:0"|' \
    -e 's|^level = .*|level = "info,tickerfeed::http=debug"|' \
    "$work/poll.toml" >"$work/run.toml"
grep -q '^schedule = "0 0 29 2 \*"' "$work/run.toml" || die "could not set the schedule in run.toml"
grep -q '^level = "info,tickerfeed::http=debug"' "$work/run.toml" || die "could not set the log level in run.toml"
grep -q '^url = "http://127' "$work/run.toml" && die "could not point the feeds away in run.toml"
first_feed=$(sed -n 's/^name = "\(.*\)"$/\1/p;T;q' "$work/run.toml")

# Views (issue 16), rare and common by each kind of criterion. The corpus
# text draws on about 95 words, so the rare ones are what only a few items
# carry: a feed number (the search index's feed column, one feed's ~50
# items), one feed, a link host; the common ones hold about half (a tag),
# a quarter (a symbol) or a tenth (a title word) of the archive. The corpus
# names no companies, so the measured copy gets mentions below, and the
# [market] that `symbols` needs points at a closed loopback port (the
# board's refresh at start fails at once, and nothing else asks for
# quotes).
view_mid=$(printf '%03d' $((feeds * 3 / 4)))
view_feed=$(printf 'feed-%03d' $((feeds * 3 / 4 + 1)))
cat >>"$work/run.toml" <<TOML

[market]
provider = "yahoo"
base_url = "http://127.0.0.1:9"
schedule = "0 0 29 2 *"
symbols = ["BP", "RELX"]

[[views]]
name = "rare-query"
query = "$((feeds / 2))"

[[views]]
name = "rare-symbol"
symbols = ["RELX"]

[[views]]
name = "rare-feed"
feeds = ["$view_feed"]

[[views]]
name = "rare-regex"
include = [{ url = "//www\\\\.outlet-$view_mid\\\\.example/" }]

[[views]]
name = "common-symbol"
symbols = ["BP"]

[[views]]
name = "common-tag"
tags = ["business"]

[[views]]
name = "common-regex"
include = [{ title = "(?i)\\\\binflation\\\\b" }]
TOML
views=(rare-query rare-symbol rare-feed rare-regex common-symbol common-tag common-regex)
declare -A view_label=(
    [rare-query]="\`query = \"$((feeds / 2))\"\` (a feed number: search index)"
    [rare-symbol]='`symbols = ["RELX"]` (mentions index)'
    [rare-feed]="\`feeds = [\"$view_feed\"]\` (sources)"
    [rare-regex]="\`include = [{ url = \"//www\\\\.outlet-$view_mid\\\\.example/\" }]\` (regexp on every item)"
    [common-symbol]='`symbols = ["BP"]`'
    [common-tag]='`tags = ["business"]`'
    [common-regex]='`include = [{ title = "(?i)\\binflation\\b" }]`'
)
# Mentions the ingest path would have recorded had the text named these
# companies: RELX in one item in 2,000 (spread over the whole archive, so
# the newest page reaches back to the oldest item), BP in one in four.
sqlite3 "$db" "INSERT INTO item_mentions (item_id, symbol) SELECT id, 'RELX' FROM items WHERE id % 2000 = 0;
               INSERT INTO item_mentions (item_id, symbol) SELECT id, 'BP' FROM items WHERE id % 4 = 1;"
"$bin" --config "$work/run.toml" check >/dev/null || die "run.toml with views does not pass check"

# --- helpers ---------------------------------------------------------------

clk_tck=$(getconf CLK_TCK)
# User + system CPU seconds of a process so far.
cpu_s() { awk -v t="$clk_tck" '{printf "%.2f", ($14 + $15) / t}' "/proc/$1/stat"; }
daemon_log=$work/daemon.log
renders() { grep -c 'rendered merged feed' "$daemon_log" || true; }
median() { sort -g | awk '{v[NR] = $1} END {if (NR) print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
maximum() { sort -g | tail -n 1; }
minimum() { sort -gr | tail -n 1; }
# wrk prints latencies as 812.00us, 1.20ms or 1.05s.
to_ms() { awk '{v = $1 + 0; if ($1 ~ /us$/) v /= 1000; else if ($1 ~ /[^m]s$/) v *= 1000; printf "%.2f", v}'; }
# Cores busy with anything over one second, from /proc/stat.
busy_cores() {
    local a b
    read -ra a </proc/stat
    sleep 1
    read -ra b </proc/stat
    awk -v u="$((b[1] + b[2] + b[3] + b[6] + b[7] - a[1] - a[2] - a[3] - a[6] - a[7]))" -v t="$clk_tck" \
        'BEGIN {printf "%.2f", u / t}'
}
# The FTS5 query fts_query() (src/store/items.rs) makes of one word.
fts_of() { if [[ $1 == *\* ]]; then echo "\"${1%\*}\"*"; else echo "\"$1\""; fi; }
matches() { sqlite3 -readonly "$db" "SELECT count(*) FROM items_fts WHERE items_fts MATCH '$(fts_of "$1")'"; }

items=$(sqlite3 -readonly "$db" "SELECT count(*) FROM items")
((items >= min_items)) || die "the archive has $items items, fewer than $min_items; raise TF_SERVE_FEEDS or TF_SERVE_ITEMS (or lower TF_SERVE_MIN_ITEMS)"

# --- the daemon -------------------------------------------------------------

# Starts `tickerfeed run` on the copy, logging to $1; sets daemon_pid,
# daemon_log, addr and base.
start_daemon() {
    daemon_log=$1
    "$bin" --config "$work/run.toml" run 2>"$daemon_log" &
    daemon_pid=$!
    addr=
    for _ in $(seq 600); do
        kill -0 "$daemon_pid" 2>/dev/null || { tail -20 "$daemon_log" >&2; die "the daemon exited"; }
        addr=$(sed -n 's/.*tickerfeed running listen=\([0-9.]*:[0-9]*\).*/\1/p;T;q' "$daemon_log")
        [[ -n $addr ]] && break
        sleep 0.1
    done
    [[ -n $addr ]] || die "the daemon did not report its address"
    base=http://$addr
    for _ in $(seq 100); do
        curl -sf -o /dev/null "$base/healthz" && break
        sleep 0.1
    done
    curl -sf -o /dev/null "$base/healthz" || die "/healthz does not answer 200"
    # The daemon notices its own start-up writes (feed sync) through
    # PRAGMA data_version every 2 s and then moves the store generation once;
    # wait that out so that it does not land inside a measurement.
    sleep 3
    served_items=$(curl -sf "$base/healthz" | sed -n 's/.*"items":\([0-9]*\).*/\1/p')
    [[ $served_items == "$items" ]] || die "/healthz reports $served_items items, the archive has $items"
}

stop_daemon() {
    kill -TERM "$daemon_pid"
    wait "$daemon_pid" || true
    daemon_pid=
}

# Changes the archive the way a poll beside the daemon does: one feed's
# failed fetch is recorded (no items), the daemon notices the commit
# (PRAGMA data_version, every 2 s) and moves the store generation, so the
# next request for each document renders it again.
change_archive() {
    "$bin" --config "$work/run.toml" poll --feed "$first_feed" >/dev/null 2>&1 || true
}

# --- views: uncached renders ----------------------------------------------------

# Pages (issue 17): the news page, one article (from the middle of the
# archive) and one search for a common word (benches/poll.rs WORDS; in
# about 60 % of the items, like the uncached ?q= rows below). Article
# pages are never cached, so their requests log no render line; the
# search page goes through the render cache like a feed search.
page_uid=$(sqlite3 -readonly "$db" "SELECT uid FROM items ORDER BY id LIMIT 1 OFFSET $((items / 2))")
[[ -n $page_uid ]] || die "no item uid for the article page"
page_word=inflation

# What each view selects now, counted by the binary itself (the same
# filter the daemon runs).
"$bin" --config "$work/run.toml" views >"$work/views.txt" || die "tickerfeed views failed"
declare -A view_items
for v in "${views[@]}"; do
    view_items[$v]=$(awk -v v="$v" '$1 == v {for (i = 2; i <= NF; i++) if ($i == "items" || $i == "item") {print $(i - 1); exit}}' "$work/views.txt")
    [[ -n ${view_items[$v]} ]] || die "tickerfeed views does not list $v"
done
view_items[merged]=$items
view_items[river]=$items
view_items[item]=1
view_items[search]=$(sqlite3 -readonly "$db" "SELECT count(*) FROM items_fts WHERE items_fts MATCH '\"$page_word\"'")

# One timed request per document: curl time_total, identity body, new
# connection. Checks that the request rendered (one more render line);
# prints milliseconds.
# Article pages are rendered for every request and log no render line,
# so only their status is checked.
timed_render() {
    local path=$1 before out
    before=$(renders)
    out=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' "$base$path")
    [[ ${out% *} == 200 ]] || die "$path answered ${out% *}"
    if [[ $path != /items/* ]]; then
        (($(renders) == before + 1)) || die "$path was not rendered by this request"
    fi
    awk -v s="${out#* }" 'BEGIN {printf "%.2f", s * 1000}'
}

# Each round starts a daemon and asks for every document once (cold: a
# fresh reader connection, its page and statement caches empty, the OS
# cache warm), then changes the archive, waits until the daemon has
# noticed (the merged feed renders again) and asks again (warm: what
# every render after a poll costs). The order rotates between rounds so
# that no view always goes first.
docs=(merged river item search "${views[@]}")
doc_path() {
    case $1 in
    merged) echo /feed.atom ;;
    river) echo / ;;
    item) echo "/items/$page_uid" ;;
    search) echo "/search?q=$page_word" ;;
    *) echo "/views/$1.atom" ;;
    esac
}
declare -A cold_times warm_times
for round in $(seq "$view_rounds"); do
    start_daemon "$work/daemon.views-$round.log"
    n=${#docs[@]}
    order=()
    for i in $(seq 0 $((n - 1))); do order+=("${docs[$(((i + round - 1) % n))]}"); done
    for d in "${order[@]}"; do
        cold_times[$d]+="$(timed_render "$(doc_path "$d")") "
    done
    # The request that finds the archive changed renders the merged feed:
    # its time is the merged feed's warm figure.
    before=$(renders)
    change_archive
    for _ in $(seq 50); do
        out=$(curl -s -o /dev/null -w '%{time_total}' "$base/feed.atom")
        if (($(renders) > before)); then
            warm_times[merged]+="$(awk -v s="$out" 'BEGIN {printf "%.2f", s * 1000}') "
            break
        fi
        sleep 0.2
    done
    (($(renders) > before)) || die "the daemon did not notice the archive change"
    for d in "${order[@]}"; do
        [[ $d == merged ]] && continue # just rendered by the wait above
        warm_times[$d]+="$(timed_render "$(doc_path "$d")") "
    done
    stop_daemon
    note "views round $round of $view_rounds done"
done
declare -A cold_median cold_max warm_median warm_max
for d in "${docs[@]}"; do
    cold_median[$d]=$(printf '%s\n' ${cold_times[$d]} | median)
    cold_max[$d]=$(printf '%s\n' ${cold_times[$d]} | maximum)
    warm_median[$d]=$(printf '%s\n' ${warm_times[$d]} | median)
    warm_max[$d]=$(printf '%s\n' ${warm_times[$d]} | maximum)
    note "render $d: cold median ${cold_median[$d]} ms, warm median ${warm_median[$d]} ms (${view_items[$d]} items)"
done

# --- the daemon for the rest ----------------------------------------------------

start_daemon "$work/daemon.log"
note "daemon pid $daemon_pid on $addr, $items items"

busy=$(busy_cores)
load=$(cut -d' ' -f1-3 /proc/loadavg)

# --- uncached search latency --------------------------------------------------

# Each word is asked for once, so each request misses the render cache and
# runs the query, the page's source lookups, the render and the gzip. The
# corpus vocabulary is small (benches/poll.rs WORDS), so every real word
# is common; the rare terms are feed numbers (the feed name is an indexed
# column; feed-1000's items are the only ones with the term "1000"). The
# words found nowhere show the fixed cost (request, render of an empty
# feed; for the CLI, process start and store open).
common_words=(shares rally slump central bank rates inflation investors earnings outlook prices)
prefix_common=(mark* infl* gov* regul* curr* hous* mort* cons* ret* elect* ener*)
rare_words=(1000 1001 1002 1003 1004 1005 1006 1007 1008 1009 1010)
prefix_rare=(110* 111* 112* 113* 114* 115* 116* 117* 118* 119* 120*)
no_match=(nomatch01 nomatch02 nomatch03 nomatch04 nomatch05 nomatch06 nomatch07 nomatch08 nomatch09 nomatch10 nomatch11)
classes=(common_words prefix_common rare_words prefix_rare no_match)
declare -A class_label=(
    [common_words]="common word"
    [prefix_common]="common prefix (word*)"
    [rare_words]="rare term"
    [prefix_rare]="rare prefix (term*)"
    [no_match]="found nowhere"
)

# Warm the page cache and the statement cache with a word not measured.
curl -s -o /dev/null "$base/feed.atom?q=the"
curl -s -o /dev/null "$base/feed.atom"

declare -A http_median http_max http_renders http_cpu cli_median cli_max cli_cpu match_range
for class in "${classes[@]}"; do
    declare -n words=$class
    times=()
    counts=()
    before=$(renders)
    before_cpu=$(cpu_s "$daemon_pid")
    for w in "${words[@]}"; do
        out=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' -G --data-urlencode "q=$w" "$base/feed.atom")
        [[ ${out% *} == 200 ]] || die "?q=$w answered ${out% *}"
        times+=("$(awk -v s="${out#* }" 'BEGIN {printf "%.2f", s * 1000}')")
        counts+=("$(matches "$w")")
    done
    http_renders[$class]=$(($(renders) - before))
    http_cpu[$class]=$(awk -v a="$before_cpu" -v b="$(cpu_s "$daemon_pid")" -v n="${#words[@]}" 'BEGIN {printf "%.1f", (b - a) * 1000 / n}')
    http_median[$class]=$(printf '%s\n' "${times[@]}" | median)
    http_max[$class]=$(printf '%s\n' "${times[@]}" | maximum)
    match_range[$class]="$(printf '%s\n' "${counts[@]}" | minimum)-$(printf '%s\n' "${counts[@]}" | maximum)"
    note "?q= ${class_label[$class]}: median ${http_median[$class]} ms, max ${http_max[$class]} ms (${match_range[$class]} matches)"
done

# --- wrk ----------------------------------------------------------------------

etag=$(curl -s -D - -o /dev/null "$base/feed.atom" | sed -n 's/^etag: *//Ip' | tr -d '\r')
[[ -n $etag ]] || die "/feed.atom has no ETag"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $etag" "$base/feed.atom")
[[ $code == 304 ]] || die "a matching If-None-Match got $code, not 304"

# atom_changing must stay last: it changes the archive.
# The page rows follow the feed rows they are compared with.
kinds=(atom page atom_304 atom_gzip page_gzip json q_common q_rare view_common view_rare atom_changing)
declare -A kind_label=(
    [atom]="GET /feed.atom (200)"
    [page]="GET / (news page, 200)"
    [page_gzip]="GET /, Accept-Encoding: gzip (200)"
    [atom_304]="GET /feed.atom, If-None-Match (304)"
    [atom_gzip]="GET /feed.atom, Accept-Encoding: gzip (200)"
    [json]="GET /feed.json (200)"
    [q_common]="GET /feed.atom?q=markets (cached search, 200)"
    [q_rare]="GET /feed.atom?q=1999 (cached search, 200)"
    [view_common]="GET /views/common-tag.atom (cached view, 200)"
    [view_rare]="GET /views/rare-symbol.atom (cached view, 200)"
    [atom_changing]="GET /feed.atom (200) while the archive changes every ~2 s"
)
declare -A kind_path=(
    [atom]=/feed.atom [page]=/ [page_gzip]=/ [atom_304]=/feed.atom [atom_gzip]=/feed.atom [json]=/feed.json
    [q_common]="/feed.atom?q=markets" [q_rare]="/feed.atom?q=1999" [atom_changing]=/feed.atom
    [view_common]=/views/common-tag.atom [view_rare]=/views/rare-symbol.atom
)
declare -A kind_header=(
    [atom_304]="If-None-Match: $etag" [atom_gzip]="Accept-Encoding: gzip" [page_gzip]="Accept-Encoding: gzip"
)
declare -A rps p50 p99 maxlat bytes_per_req errors rendered cpu_per_kreq wrk_cpu
changes=0

# change_archive (above) about every 2 s until $work/stop-changes exists.
change_archive_until_stopped() {
    while [[ ! -e $work/stop-changes ]]; do
        change_archive
        echo >>"$work/changes"
        sleep 2
    done
}

for kind in "${kinds[@]}"; do
    url=$base${kind_path[$kind]}
    header=${kind_header[$kind]:-}
    hargs=()
    [[ -n $header ]] && hargs=(-H "$header")
    expect=200
    [[ $kind == atom_304 ]] && expect=304
    rm -f "$work/body"
    code=$(curl -s -o "$work/body" -w '%{http_code}' "${hargs[@]}" "$url")
    [[ $code == "$expect" ]] || die "$kind: $url answered $code, expected $expect"
    bytes_per_req[$kind]=$(stat -c %s "$work/body" 2>/dev/null || echo 0)
    changer=
    if [[ $kind == atom_changing ]]; then
        : >"$work/changes"
        change_archive_until_stopped &
        changer=$!
    fi
    before_renders=$(renders)
    before_cpu=$(cpu_s "$daemon_pid")
    "${gnu_time[@]}" wrk -t"$threads" -c"$connections" -d"$duration" --latency "${hargs[@]}" "$url" >"$work/wrk.$kind"
    after_cpu=$(cpu_s "$daemon_pid")
    rendered[$kind]=$(($(renders) - before_renders))
    if [[ -n $changer ]]; then
        touch "$work/stop-changes"
        wait "$changer"
        changes=$(wc -l <"$work/changes")
        rendered[$kind]="${rendered[$kind]} for $changes changes"
    fi
    out=$work/wrk.$kind
    rps[$kind]=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' "$out")
    p50[$kind]=$(awk '$1 == "50%" {print $2}' "$out" | to_ms)
    p99[$kind]=$(awk '$1 == "99%" {print $2}' "$out" | to_ms)
    maxlat[$kind]=$(awk '$1 == "Latency" {print $4}' "$out" | to_ms)
    requests=$(awk '/requests in/ {print $1}' "$out")
    errors[$kind]=$(awk '/Non-2xx|Socket errors/ {sub(/^ +/, ""); printf "%s; ", $0}' "$out")
    cpu_per_kreq[$kind]=$(awk -v a="$before_cpu" -v b="$after_cpu" -v n="$requests" 'BEGIN {printf "%.1f", (b - a) * 1e6 / n}')
    wrk_cpu[$kind]=$(awk '{printf "%.1f", $1 + $2}' "$work/wrk.time" 2>/dev/null || echo "?")
    note "${kind_label[$kind]}: ${rps[$kind]} req/s, p50 ${p50[$kind]} ms, p99 ${p99[$kind]} ms, renders: ${rendered[$kind]}"
done

# --- tickerfeed search (CLI) ----------------------------------------------------

daemon_hwm=$(awk '/^VmHWM/ {printf "%.0f MiB", $2 / 1024}' "/proc/$daemon_pid/status")
# Stop the daemon first so the CLI runs alone.
kill -TERM "$daemon_pid"
wait "$daemon_pid" || true
daemon_pid=

for class in "${classes[@]}"; do
    declare -n words=$class
    times=()
    cpus=()
    for w in "${words[@]}"; do
        t0=$(date +%s%N)
        if [[ -x /usr/bin/time ]]; then
            /usr/bin/time -f '%U %S' -o "$work/search.time" \
                "$bin" --config "$work/run.toml" search "$w" >/dev/null 2>>"$work/search.err" ||
                die "tickerfeed search $w failed"
            cpus+=("$(awk '{printf "%.0f", ($1 + $2) * 1000}' "$work/search.time")")
        else
            "$bin" --config "$work/run.toml" search "$w" >/dev/null 2>>"$work/search.err" ||
                die "tickerfeed search $w failed"
        fi
        t1=$(date +%s%N)
        times+=("$(printf '%d.%02d' $(((t1 - t0) / 1000000)) $(((t1 - t0) / 10000 % 100)))")
    done
    cli_median[$class]=$(printf '%s\n' "${times[@]}" | median)
    cli_max[$class]=$(printf '%s\n' "${times[@]}" | maximum)
    cli_cpu[$class]=$( ((${#cpus[@]})) && printf '%s\n' "${cpus[@]}" | median || echo "?")
done

# What loading the config alone costs (tickerfeed check parses and
# validates it, nothing more): part of every search above.
check_times=()
for _ in $(seq 11); do
    t0=$(date +%s%N)
    "$bin" --config "$work/run.toml" check >/dev/null
    t1=$(date +%s%N)
    check_times+=("$(printf '%d.%02d' $(((t1 - t0) / 1000000)) $(((t1 - t0) / 10000 % 100)))")
done
check_median=$(printf '%s\n' "${check_times[@]}" | median)

# --- report ---------------------------------------------------------------------

verdict_rps() { # rps p99
    if awk -v r="$1" -v p="$2" -v tr="$target_rps" -v tp="$target_p99_ms" 'BEGIN {exit !(r >= tr && p < tp)}'; then
        echo met
    else
        echo MISSED
    fi
}
verdict_ms() { awk -v v="$1" -v t="$target_search_ms" 'BEGIN {print (v < t) ? "met" : "MISSED"}'; }
fmt_ms() { awk -v v="$1" 'BEGIN {printf (v < 10) ? "%.2f" : "%.1f", v}'; }

verdict() {
    case $1 in
    atom)
        echo ">= $target_rps req/s, p99 < $target_p99_ms ms: $(verdict_rps "${rps[atom]}" "${p99[atom]}")"
        ;;
    atom_304)
        local v
        v=$(verdict_rps "${rps[atom_304]}" "${p99[atom_304]}")
        if ((rps[atom_304] <= rps[atom])); then v=MISSED; fi
        echo "more than the 200s, p99 < $target_p99_ms ms: $v"
        ;;
    page)
        echo ">= $target_page_rps req/s (issue 17): $(verdict_page "${rps[page]}")"
        ;;
    *) echo "none (the /feed.atom bar: $(verdict_rps "${rps[$1]}" "${p99[$1]}"))" ;;
    esac
}
verdict_page() { awk -v r="$1" -v t="$target_page_rps" 'BEGIN {print (r >= t) ? "met" : "MISSED"}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }

cpu_model=$(sed -n 's/^model name[[:space:]]*: //p;T;q' /proc/cpuinfo)
mem=$(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)
fs=$(df -T "$work" | awk 'NR == 2 {print $2 " on " $7}')
rev=$(cd "$repo" && git rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=$(cd "$repo" && git status --porcelain --untracked-files=no -- src Cargo.toml Cargo.lock 2>/dev/null || true)
if [[ -n $dirty ]]; then rev="$rev (src modified)"; fi
doc_bytes=$(stat -c %s "$work/body" 2>/dev/null || echo 0)
results=$repo/bench/results/serve-$min_items.md
mkdir -p "$repo/bench/results"

{
    echo "# Serving benchmark: $items items in the archive"
    echo
    echo "Written by \`bench/serve.sh\` on $(date -u '+%Y-%m-%d %H:%M') UTC. See bench/README.md (\"serve\")."
    echo
    echo "Archive: $items items from $feeds feeds x $items_per_feed items (the poll bench's corpus, polled once by the binary under test), $((archive_bytes / 1048576)) MiB on disk. $(cat "$work/poll.summary")."
    echo
    echo "## Throughput: \`wrk -t$threads -c$connections -d$duration --latency\`, loopback"
    echo
    echo "| request | body bytes | requests/s | p50 ms | p99 ms | max ms | renders | daemon CPU us/req | target |"
    echo "|---|---|---|---|---|---|---|---|---|"
    for kind in "${kinds[@]}"; do
        echo "| ${kind_label[$kind]} | ${bytes_per_req[$kind]} | **${rps[$kind]}** | $(fmt_ms "${p50[$kind]}") | **$(fmt_ms "${p99[$kind]}")** | $(fmt_ms "${maxlat[$kind]}") | ${rendered[$kind]} | ${cpu_per_kreq[$kind]} | $(verdict "$kind") |"
    done
    for kind in "${kinds[@]}"; do
        if [[ -n ${errors[$kind]} ]]; then
            echo
            echo "- ${kind_label[$kind]}: wrk reported ${errors[$kind]}"
        fi
    done
    echo
    echo "\"renders\" counts the daemon's \`rendered merged feed\` log lines during the wrk run (the document was requested once just before it): 0 means every request was served from the render cache. In the last row a \`tickerfeed poll --feed $first_feed\` beside the daemon records a failed fetch about every 2 s (no items; the feeds point at .invalid); the daemon notices each commit and moves the store generation, as it does for every poll that writes, so /feed.atom is rendered again after each change. The poll processes take CPU from the same cores. Daemon peak RSS over the whole run: $daemon_hwm."
    echo
    echo "## Views (issue 16)"
    echo
    echo "### Render time, uncached: the first request for each document"
    echo
    echo "\`curl\` time_total of \`GET /views/<name>.atom\` (new connection, identity body; the daemon's log shows each timed request rendered the document: the query, the page's source and snapshot lookups, the render and the gzip). $view_rounds rounds: each starts a daemon and asks for every document once (**cold**: a fresh reader connection, SQLite's page and statement caches empty, the OS cache warm), then records a failed fetch with \`tickerfeed poll --feed $first_feed\`, waits until the daemon has noticed, and asks again (**warm**: what the render after each poll costs). The order of the documents rotates between rounds. Items shown: what \`tickerfeed views\` counts with the same filter; each document shows the newest 100."
    echo
    echo "| document | criterion | items selected | cold median ms | cold max ms | warm median ms | warm max ms | warm / merged feed | target < $target_view_ms ms |"
    echo "|---|---|---|---|---|---|---|---|---|"
    for d in "${docs[@]}"; do
        case $d in river | item | search) continue ;; esac
        if [[ $d == merged ]]; then
            label="(none: the merged feed)"
            name="/feed.atom"
        else
            label=${view_label[$d]}
            name="$d"
        fi
        ratio=$(awk -v a="${warm_median[$d]}" -v b="${warm_median[merged]}" 'BEGIN {printf "%.2f", a / b}')
        view_verdict=$(awk -v c="${cold_median[$d]}" -v w="${warm_median[$d]}" -v t="$target_view_ms" 'BEGIN {print (c < t && w < t) ? "met" : "MISSED"}')
        echo "| $name | $label | ${view_items[$d]} | **$(fmt_ms "${cold_median[$d]}")** | $(fmt_ms "${cold_max[$d]}") | **$(fmt_ms "${warm_median[$d]}")** | $(fmt_ms "${warm_max[$d]}") | $ratio | $view_verdict |"
    done
    echo
    echo "Every timed time per round (ms, in round order):"
    echo
    for d in "${docs[@]}"; do
        echo "- $d: cold ${cold_times[$d]% }; warm ${warm_times[$d]% }"
    done
    echo
    echo "The bench archive holds no mentions (the corpus names no companies), so the measured copy gets them with \`sqlite3\` before the daemon starts: RELX on every item whose id is a multiple of 2,000, BP on one item in four (\`id % 4 = 1\`). The daemon's config adds a \`[market]\` with those two symbols whose provider address is a closed loopback port (no quotes; the board's refresh at start fails at once) and the views above. The rare views' ~50 items are spread over the whole archive, so their newest 100 reach back to the oldest item."
    echo
    echo "### Cached: \`wrk\` on a view against the merged feed"
    echo
    echo "| request | requests/s | p99 ms | daemon CPU us/req | requests/s / merged feed's | CPU / merged feed's |"
    echo "|---|---|---|---|---|---|"
    for kind in atom view_common view_rare; do
        echo "| ${kind_label[$kind]} | ${rps[$kind]} | $(fmt_ms "${p99[$kind]}") | ${cpu_per_kreq[$kind]} | $(awk -v a="${rps[$kind]}" -v b="${rps[atom]}" 'BEGIN {printf "%.2f", a / b}') | $(awk -v a="${cpu_per_kreq[$kind]}" -v b="${cpu_per_kreq[atom]}" 'BEGIN {printf "%.2f", a / b}') |"
    done
    echo
    echo "From the throughput table above (same wrk settings, run one after another on the same daemon). common-tag shows 100 items like the merged feed; rare-symbol shows its ~50."
    echo
    echo "## Pages (issue 17)"
    echo
    echo "### Cached: \`wrk\` on the news page against the merged feed"
    echo
    echo "\`GET /\` shows the newest \`[output] max_items\` = 100 items, like \`/feed.atom\`. Rows from the throughput table above (same wrk settings, same daemon; each page row ran right after its feed row)."
    echo
    echo "| request | body bytes | requests/s | p99 ms | daemon CPU us/req | requests/s / feed's | CPU / feed's | bytes / feed's |"
    echo "|---|---|---|---|---|---|---|---|"
    for pair in "page atom" "page_gzip atom_gzip"; do
        read -r pk fk <<<"$pair"
        for kind in $fk $pk; do
            echo "| ${kind_label[$kind]} | ${bytes_per_req[$kind]} | **${rps[$kind]}** | $(fmt_ms "${p99[$kind]}") | ${cpu_per_kreq[$kind]} | $(ratio "${rps[$kind]}" "${rps[$fk]}") | $(ratio "${cpu_per_kreq[$kind]}" "${cpu_per_kreq[$fk]}") | $(ratio "${bytes_per_req[$kind]}" "${bytes_per_req[$fk]}") |"
        done
    done
    echo
    echo "Target (issue 17): \`/\` with 100 items at $target_page_rps requests/s or more under \`wrk -t$threads -c$connections\` on loopback: **$(verdict_page "${rps[page]}")** (${rps[page]} requests/s; ${rendered[page]} renders during the run)."
    echo
    echo "### Render time, uncached"
    echo
    echo "Measured in the views section's $view_rounds rounds, in the same rotation: \`curl\` time_total of the first request for each page after a daemon start (**cold**) and after an archive change the daemon has noticed (**warm**); new connection, identity body. \`/\` and the search page go through the render cache (the daemon's log shows each timed request rendered); an article page is rendered for every request. The one-off pages (article, search) are rendered under the same limit as feed searches ($(sed -n 's/^const ONE_OFF_RENDERS: usize = \([0-9]*\);/\1/p' "$repo/src/http/mod.rs") at a time)."
    echo
    echo "| page | items | cold median ms | cold max ms | warm median ms | warm max ms | warm / merged feed's |"
    echo "|---|---|---|---|---|---|---|"
    for d in river item search; do
        echo "| \`$(doc_path "$d")\` | ${view_items[$d]} | **$(fmt_ms "${cold_median[$d]}")** | $(fmt_ms "${cold_max[$d]}") | **$(fmt_ms "${warm_median[$d]}")** | $(fmt_ms "${warm_max[$d]}") | $(ratio "${warm_median[$d]}" "${warm_median[merged]}") |"
    done
    echo
    echo "Items: what the page lists from (the archive for \`/\`, the matches of \`$page_word\` from \`sqlite3\`); each list shows the newest 100. Every timed time per round is listed under the views."
    echo
    echo "## Search latency, uncached: one request per distinct query"
    echo
    echo "\`curl\` time_total of \`GET /feed.atom?q=<word>\` (new connection, identity body). Each query is asked once, so each one runs the query, the page's source and snapshot lookups, the render and the gzip. ${#common_words[@]} queries per row; the verdict is on the median."
    echo
    echo "| query | examples | items matching | median ms | max ms | daemon CPU ms/query | renders | target < $target_search_ms ms |"
    echo "|---|---|---|---|---|---|---|---|"
    for class in "${classes[@]}"; do
        declare -n words=$class
        echo "| ${class_label[$class]} | \`${words[0]}\`, \`${words[1]}\` | ${match_range[$class]} | **$(fmt_ms "${http_median[$class]}")** | $(fmt_ms "${http_max[$class]}") | ${http_cpu[$class]} | ${http_renders[$class]} | $(verdict_ms "${http_median[$class]}") |"
    done
    echo
    echo "Daemon CPU per query is its utime+stime across the row's queries (10 ms ticks) divided by their number; it depends much less than wall time on what else the machine is doing."
    echo
    echo "## \`tickerfeed search <word>\`: wall time, best match first (bm25), 20 hits"
    echo
    echo "Process start, config load ($feeds feeds) and store open included, daemon stopped. Same words as above, one run each; CPU is user+system from GNU time (10 ms resolution)."
    echo
    echo "| query | median ms | max ms | median CPU ms | target < $target_search_ms ms |"
    echo "|---|---|---|---|---|"
    for class in "${classes[@]}"; do
        echo "| ${class_label[$class]} | **$(fmt_ms "${cli_median[$class]}")** | $(fmt_ms "${cli_max[$class]}") | ${cli_cpu[$class]} | $(verdict_ms "${cli_median[$class]}") |"
    done
    echo
    echo "Loading and checking the $feeds-feed config alone (\`tickerfeed check\`, median of 11) takes $(fmt_ms "$check_median") ms of that."
    echo
    echo "## Machine"
    echo
    echo "- CPUs available: $(nproc) ($cpu_model)"
    echo "- Memory: $mem"
    echo "- Kernel: $(uname -sr)"
    echo "- Cores busy with other work in the second before the measurements: $busy (load average $load); the machine is shared, and other work takes cores from both wrk and the daemon"
    echo "- Archive on: $fs"
    if [[ -n $bin_given ]]; then
        echo "- Binary: \`$bin\` (given by TF_SERVE_BIN; the worktree was at $rev)"
    else
        echo "- Source: $rev; binary: \`$bin\` (built from it)"
    fi
    echo "- wrk: $( (wrk --version 2>&1 || true) | sed -n '1s/ Copyright.*//p')"
    echo
    echo "## Method"
    echo
    echo "- The archive: \`cargo bench --bench poll\` with \`TF_BENCH_SERVE=1\` serves its generated corpus ($feeds feeds of $items_per_feed items, half RSS half Atom, one article in five shared by about four feeds) from $hosts loopback ports with the per-host limits raised, and \`tickerfeed poll\` stores it once. \`TF_SERVE_ARCHIVE\` keeps it between runs; each run measures a fresh copy."
    echo "- The daemon: \`tickerfeed run\` on the same feed list with \`schedule = \"0 0 29 2 *\"\` (nothing is due before 29 February 2028, so nothing writes to the archive during the measurements except in the last wrk row), \`listen = \"127.0.0.1:0\"\` (the address is read from its start-up log line), \`[output] max_items = 100\` (the default), log level \`info,tickerfeed::http=debug\`, and the views section's \`[market]\` and \`[[views]]\`. Measurements start 3 s after /healthz answers, once the daemon has noticed its own start-up feed sync."
    echo "- wrk and the daemon share the same $(nproc) cores; wrk sends no Accept-Encoding unless stated, so the 200s carry the identity body. Daemon CPU is utime+stime from /proc/<pid>/stat across the wrk run, divided by the requests wrk counted; wrk itself used ${wrk_cpu[atom]} s CPU in the /feed.atom run."
    echo "- Items matching come from \`sqlite3\` on the archive with the same FTS5 query the daemon builds (\`\"word\"\`, \`\"stem\"*\`). The corpus draws its text from about 95 words, so every real word is in 60-85 % of the items: for search, a worst case (bm25 ranking costs about the same for every match). The rare terms are feed numbers, which only the feed column holds."
} >"$results"

cat "$results"
note "written to $results"
