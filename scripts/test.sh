#!/usr/bin/env bash
# The test command: installs what the tests need, then runs every test (unit, store, CLI,
# snapshot, end-to-end under tmux).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo test --locked "$@"
