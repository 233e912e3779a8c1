#!/usr/bin/env bash
# Ingest benchmark: builds the release binary, generates EVENTS (default 1M) events, times
# `idgraph ingest` (events/s, peak RSS, store bytes / input bytes), then times DuckDB
# computing connected components over the same identifier links with a recursive CTE, the
# way warehouse tools stitch identities, and prints idgraph time / DuckDB time.
#
#   bench/ingest.sh [PEOPLE]        (about 15 events per person; default 67000 ≈ 1M events)
set -euo pipefail
cd "$(dirname "$0")/.."
people="${1:-67000}"
out=bench/out
mkdir -p "$out"
cargo build --release --locked --quiet
bin=target/release/idgraph

if [ ! -x "$out/venv/bin/python" ]; then
  python3 -m venv "$out/venv"
  "$out/venv/bin/pip" install --quiet --disable-pip-version-check duckdb
fi

events="$out/events-$people.jsonl"
if [ ! -s "$events" ]; then
  "$bin" generate --people "$people" --seed 1 --out "$events" --truth "$out/truth-$people.jsonl" --sources "$out/sources.toml"
fi
"$out/venv/bin/python" bench/ingest_bench.py "$bin" "$events" "$out"
