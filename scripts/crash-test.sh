#!/usr/bin/env bash
# The full crash campaign: kill -9 `idgraph ingest` and `idgraph serve` 20 times each at
# random moments over 60,000 generated events, checking the store after every kill, then
# finishing the runs and comparing with a clean run (see tests/crash.rs).
#   scripts/crash-test.sh                 # 20 kills each, 60,000 events, seed 7
#   IDGRAPH_CRASH_KILLS=50 IDGRAPH_CRASH_SEED=3 scripts/crash-test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export IDGRAPH_CRASH_KILLS="${IDGRAPH_CRASH_KILLS:-20}"
export IDGRAPH_CRASH_EVENTS="${IDGRAPH_CRASH_EVENTS:-60000}"
export IDGRAPH_CRASH_SEED="${IDGRAPH_CRASH_SEED:-7}"
cargo test --locked --test crash -- --nocapture --test-threads=1
