#!/usr/bin/env bash
# Fresh machine: install what is missing (tmux, git), build gt, run `gt demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
command -v tmux >/dev/null 2>&1 || missing+=(tmux)
command -v git >/dev/null 2>&1 || missing+=(git)
if [ "${#missing[@]}" -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi
cargo build --release --quiet
exec ./target/release/gt demo "$@"
