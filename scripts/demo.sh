#!/usr/bin/env bash
# Fresh machine: install what is missing, build gt, and run the main job.
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
GT="$PWD/target/release/gt"
if "$GT" demo --help >/dev/null 2>&1; then
  exec "$GT" demo "$@"
fi
# Until `gt demo` exists: a short tour of the ledger in a temporary town.
town=$(mktemp -d)/town
export GT_TOWN="$town" NO_COLOR=1
set -x
"$GT" init "$town" --name demo
epic=$("$GT" -q bead create "Ship the parser" -t epic -p 1)
lexer=$("$GT" -q bead create "Write the lexer" --parent "$epic" -p 0)
table=$("$GT" -q bead create "Build the token table" -p 2)
"$GT" bead dep add "$lexer" "$table"
"$GT" ready
"$GT" bead blocked
"$GT" close "$table" --reason "done"
"$GT" ready
"$GT" show "$lexer"
"$GT" trail
"$GT" status
