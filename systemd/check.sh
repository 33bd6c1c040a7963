#!/usr/bin/env bash
# Checks the systemd units offline, as CI does:
#   1. `systemd-analyze verify` on tickerfeed.socket and tickerfeed.service
#      must print nothing. (It exits 0 even for unknown keys and bad values,
#      only printing them, so any output counts as a failure.)
#   2. `systemd-analyze security --offline=true` must rate the service 2.0
#      or lower ("OK" or better).
#
# Needs systemd-analyze (Debian package `systemd`; systemd need not be
# running) and a built binary. Installs nothing.
#
# Usage: systemd/check.sh [path/to/tickerfeed]
#   The binary defaults to $TICKERFEED_BIN, then target/debug/tickerfeed.
set -euo pipefail
cd "$(dirname "$0")/.."

max_exposure=2.0
unit=systemd/tickerfeed.service
socket=systemd/tickerfeed.socket
installed=/usr/local/bin/tickerfeed

fail() {
  echo "systemd/check.sh: $*" >&2
  exit 1
}

command -v systemd-analyze >/dev/null ||
  fail "systemd-analyze not found; install the Debian package 'systemd'"

bin=${1:-${TICKERFEED_BIN:-target/debug/tickerfeed}}
[ -x "$bin" ] || fail "no tickerfeed binary at $bin; run 'cargo build' first"
bin=$(realpath "$bin")

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# verify insists that ExecStart's program exists. Check a copy whose
# ExecStart points at the binary we just built, so the check runs where
# tickerfeed is not installed; every other line is verified as written.
sed "s#^ExecStart=$installed #ExecStart=$bin #" "$unit" >"$work/tickerfeed.service"
grep -q "^ExecStart=$bin " "$work/tickerfeed.service" ||
  fail "$unit: expected 'ExecStart=$installed ...'; update check.sh with the unit"
cp "$socket" "$work/tickerfeed.socket"

echo "systemd-analyze verify $socket $unit"
status=0
out=$(systemd-analyze verify "$work/tickerfeed.socket" "$work/tickerfeed.service" 2>&1) || status=$?
if [ -n "$out" ] || [ "$status" -ne 0 ]; then
  # Report the findings against the real file names.
  printf '%s\n' "$out" | sed "s#$work/#systemd/#g" >&2
  fail "verify found problems (exit status $status)"
fi
echo "  ok"

echo "systemd-analyze security --offline=true $unit"
report=$(systemd-analyze security --offline=true --no-pager "$unit" 2>&1) || {
  printf '%s\n' "$report" >&2
  fail "systemd-analyze security failed"
}
# "→ Overall exposure level for tickerfeed.service: 1.1 OK 🙂"
line=$(grep -F "Overall exposure level" <<<"$report") ||
  { printf '%s\n' "$report" >&2; fail "no 'Overall exposure level' line in the report"; }
score=$(sed -nE 's/.*Overall exposure level[^:]*: *([0-9]+[.,][0-9]+).*/\1/p' <<<"$line" | tr , .)
[ -n "$score" ] || fail "cannot read the score from: $line"
echo "  ${line#*: }"
if ! awk -v s="$score" -v max="$max_exposure" 'BEGIN { exit !(s + 0 <= max + 0) }'; then
  # Show what costs points, so the fix is obvious from the CI log.
  grep -E '^✗' <<<"$report" >&2 || true
  fail "exposure $score is above $max_exposure; harden $unit"
fi
