#!/usr/bin/env bash
# Explorer timings on the real release binary: builds a store of PEOPLE generated people plus
# one heavy profile with 10,000 events, opens `idgraph explore` under tmux, opens the heavy
# profile through the search box, and reports from the explorer's log: first frame after
# start, the search index (built, or read back from the file the previous run kept: run it
# twice to see both), the heavy profile's load time, and peak RSS.
#
#   bench/explorer.sh [PEOPLE]      (default 100000 people ≈ 1.5M events; the store is reused)
set -euo pipefail
cd "$(dirname "$0")/.."
people="${1:-100000}"
out=bench/out
store="$out/explorer-store-$people"
mkdir -p "$out"
scripts/setup.sh
cargo build --release --locked --quiet
bin="$PWD/target/release/idgraph"

if [ ! -d "$store" ]; then
  events="$out/explorer-events-$people.jsonl"
  "$bin" generate --people "$people" --seed 3 --out "$events" --sources "$out/explorer-sources.toml"
  "$bin" --store "$store" --config "$out/explorer-sources.toml" ingest "$events" || true
  # One heavy user: 10,000 track events with one userId across two devices.
  python3 - "$out/heavy.jsonl" <<'PY'
import json, sys
with open(sys.argv[1], "w") as f:
    for i in range(10_000):
        f.write(json.dumps({
            "type": "track", "event": "Product Viewed", "messageId": f"heavy-{i}",
            "userId": "heavy-user-1", "anonymousId": f"heavy-anon-{i % 2}",
            "timestamp": f"2025-06-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:00Z",
            "properties": {"sku": f"SKU-{i % 300}"},
        }) + "\n")
PY
  "$bin" --store "$store" --config "$out/explorer-sources.toml" ingest "$out/heavy.jsonl"
fi

log="$store/idgraph-explore.log"
rm -f "$log"
session="idgraph-bench-$$"
tmux kill-session -t "$session" 2>/dev/null || true
tmux new-session -d -s "$session" -x 160 -y 48 \
  "RUST_LOG=idgraph=info $bin --store $store --config $out/explorer-sources.toml explore"
trap 'tmux kill-session -t "$session" 2>/dev/null || true' EXIT

wait_for() { # wait_for PATTERN SECONDS [MORE_THAN]: a log line matching PATTERN
  for _ in $(seq 1 $(($2 * 10))); do
    [ -f "$log" ] && [ "$(grep -c "$1" "$log" || true)" -gt "${3:-0}" ] && return 0
    sleep 0.1
  done
  echo "bench/explorer.sh: timed out waiting for '$1' in $log" >&2
  exit 1
}
wait_for "search index ready" 600
pid="$(pgrep -n -f "$bin --store $store")"
tmux send-keys -t "$session" /
sleep 0.3
tmux send-keys -t "$session" 'user_id:heavy-user-1'
sleep 0.5
tmux send-keys -t "$session" Enter
heavy='profile loaded.*events=[0-9][0-9][0-9][0-9]'
wait_for "$heavy" 60
sleep 1
rss_kb="$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")"
tmux send-keys -t "$session" q
# Wait for the explorer to let go of the store, so that a run right after this one can open it.
for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done

field() { grep "$1" "$log" | tail -1 | sed -E "s/.*$2=([0-9]+).*/\1/"; }
echo "explorer on $people generated people (+1 profile of 10,000 events):"
echo "  first frame after start:   $(field 'first frame drawn' after_ms) ms"
how="built from the store"
grep 'search index ready' "$log" | tail -1 | grep -q 'built=false' && how="read back from the last run's file"
grep 'search index ready' "$log" | tail -1 | grep -q 'caught_up=true' && how="read back from the last run's file, caught up with the changes noted beside it"
echo "  search index:              $(field 'search index ready' profiles) profiles in $(field 'search index ready' ms) ms ($how, in the background)"
echo "  heavy profile opened:      $(field "$heavy" events) newest events in $(field "$heavy" ms) ms"
echo "  peak RSS:                  $((rss_kb / 1024)) MB"
