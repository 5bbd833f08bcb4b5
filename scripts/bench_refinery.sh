#!/usr/bin/env bash
# Refinery benchmark: 50 merge requests from stand-in agents, landed by
# `gt refinery run --once` (no gates), against the same git operations
# (rebase onto the moving tip + compare-and-swap ref update) run directly on
# a copy of the same repository in the same run.
#
# Usage: scripts/bench_refinery.sh [N]   (GT=path/to/gt to pick a binary;
# default target/release/gt when built, else target/debug/gt)
set -euo pipefail
N=${1:-50}
cd "$(dirname "$0")/.."
GT=${GT:-}
if [ -z "$GT" ]; then
  if [ -x target/release/gt ]; then GT=$PWD/target/release/gt; else GT=$PWD/target/debug/gt; fi
fi
[ -x "$GT" ] || { echo "build gt first (cargo build [--release])" >&2; exit 1; }
ms() { date +%s%3N; }
TMP=$(mktemp -d)
export HOME=$TMP/home GT_ACTOR=bench NO_COLOR=1 GIT_CONFIG_NOSYSTEM=1
mkdir -p "$HOME"
git config --global user.name bench; git config --global user.email bench@example.invalid
SRC=$TMP/src; mkdir -p "$SRC"; git -C "$SRC" init -q -b main
echo "# bench" > "$SRC/README.md"; git -C "$SRC" add -A; git -C "$SRC" commit -qm init
"$GT" init "$TMP/town" --name bench >/dev/null
cd "$TMP/town"
SOCK=gt-$(printf '%s' "$PWD" | sha256sum | cut -c1-8)
cleanup() { tmux -L "$SOCK" kill-server 2>/dev/null || true; rm -f "/tmp/tmux-$(id -u)/$SOCK"; rm -rf "$TMP"; }
trap cleanup EXIT
"$GT" rig add r "$SRC" >/dev/null
"$GT" config agent set standin "$GT agent-standin --behavior finish" >/dev/null
echo "slinging $N tasks to stand-in agents ..."
i=0
while [ $i -lt "$N" ]; do
  args=()
  for j in $(seq 1 10); do [ $i -lt "$N" ] && { i=$((i+1)); args+=("bench task $i"); }; done
  "$GT" sling "${args[@]}" r --agent standin >/dev/null
  # wait for this group before the next (idle polecats are reused)
  for _ in $(seq 1 600); do
    q=$("$GT" --json mq list --rig r | python3 -c 'import json,sys;print(sum(1 for m in json.load(sys.stdin) if m["status"]=="queued"))')
    [ "$q" -ge "$i" ] && break; sleep 0.2
  done
done
echo "$N merge requests queued"
REPO=$TMP/town/r/.repo.git
# Baseline: the same rebases and CAS ref updates, directly, on a copy.
COPY=$TMP/copy.git; git clone -q --bare --mirror "$REPO" "$COPY"
git -C "$COPY" worktree add -q --detach "$TMP/wt" main
HEADS=$("$GT" --json mq list --rig r | python3 -c 'import json,sys;[print(m["head_commit"]) for m in json.load(sys.stdin) if m["status"]=="queued"]')
t0=$(ms)
for h in $HEADS; do
  tip=$(git -C "$COPY" rev-parse refs/heads/main)
  git -C "$TMP/wt" rebase -q "$tip" "$h"
  new=$(git -C "$TMP/wt" rev-parse HEAD)
  git -C "$COPY" update-ref refs/heads/main "$new" "$tip"
done
t1=$(ms)
base=$((t1 - t0))
# The refinery.
t0=$(ms)
"$GT" --json refinery run --once --rig r > "$TMP/report.json"
t1=$(ms)
ref=$((t1 - t0))
merged=$(python3 -c 'import json,sys;print(len(json.load(open(sys.argv[1]))["rigs"][0]["merged"]))' "$TMP/report.json")
onmain=$(git -C "$REPO" rev-list --count main)
python3 - "$N" "$base" "$ref" "$merged" "$onmain" <<'PY'
import sys
n, base, ref, merged, onmain = map(int, sys.argv[1:])
print(f"requests: {n}, merged: {merged}, commits on main: {onmain}")
print(f"direct git (rebase + update-ref): {base} ms total, {base/n:.1f} ms/request")
print(f"gt refinery run --once:          {ref} ms total, {ref/n:.1f} ms/request (incl. bookkeeping, branch deletion, mail)")
print(f"ratio: {ref/base:.2f}x")
PY
