#!/usr/bin/env bash
# Runs the poll bench at every size of the growth table (issue 20) and
# writes docs/growth.md and docs/growth.svg from the results.
#
#   bench/growth.sh                                   # 200x50 2000x10 10000x20 100000x10
#   TF_GROWTH_SIZES="200x50 10000x20" bench/growth.sh
#   TF_BENCH_BIN=/tmp/tickerfeed-final bench/growth.sh
#
# Features on, peers off, TF_BENCH_RUNS (default 1) runs per size; every
# other TF_BENCH_* setting passes through. See bench/README.md ("Growth").
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
sizes=${TF_GROWTH_SIZES:-"200x50 2000x10 10000x20 100000x10"}

# The release profile (no LTO) for the bench and the binary: the dist and
# bench profiles' fat LTO costs ten minutes of linking for a few percent.
cargo build --release --bench poll --bin tickerfeed
bench=$(cargo build --release --bench poll --message-format=json 2>/dev/null |
    sed -n 's/.*"executable":"\([^"]*\/poll-[^"]*\)".*/\1/p' | tail -1)
[[ -x $bench ]] || { echo "could not find the poll bench's executable" >&2; exit 1; }

for size in $sizes; do
    feeds=${size%x*} items=${size#*x}
    echo "== $feeds feeds x $items items" >&2
    TF_BENCH_FEEDS=$feeds TF_BENCH_ITEMS=$items \
        TF_BENCH_RUNS=${TF_BENCH_RUNS:-1} TF_BENCH_PEERS=0 TF_BENCH_FEATURES=1 \
        TF_BENCH_BIN=${TF_BENCH_BIN:-$repo/target/release/tickerfeed} \
        "$bench" --bench
done
python3 bench/growth.py --mode features
