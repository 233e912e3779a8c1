#!/usr/bin/env bash
# Installs what idgraph's tests need on a fresh machine: tmux (end-to-end explorer tests).
set -euo pipefail

need_install=()
command -v tmux >/dev/null 2>&1 || need_install+=(tmux)

if [ ${#need_install[@]} -gt 0 ]; then
  echo "setup: installing ${need_install[*]}" >&2
  if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
  elif command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
  else
    echo "setup: ${need_install[*]} missing and no root/sudo to install it; install it and re-run" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq "${need_install[@]}" >/dev/null
fi
command -v tmux >/dev/null 2>&1 || { echo "setup: tmux is still missing" >&2; exit 1; }
