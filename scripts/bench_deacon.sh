#!/usr/bin/env bash
# Deacon benchmark: one patrol over 100 live agents (whole `gt deacon patrol
# --once` process, median of 10, against `gt --version` in the same run), and
# the idle daemon's CPU and RSS over a 30 s window.
# Usage: scripts/bench_deacon.sh [AGENTS] [IDLE_SECONDS]
# GT_BENCH_GT=PATH benchmarks that gt binary instead of building
# target/release/gt (to compare two builds in one run).
set -euo pipefail
cd "$(dirname "$0")/.."
agents=${1:-100}
idle=${2:-30}
if [ -n "${GT_BENCH_GT:-}" ]; then
  gt="$GT_BENCH_GT"
else
  cargo build --release --quiet
  gt="$PWD/target/release/gt"
fi
work=$(mktemp -d)
town="$work/town"
export GT_TOWN="$town" GT_ACTOR=bench NO_COLOR=1
socket=""
cleanup() {
  "$gt" down >/dev/null 2>&1 || true
  [ -n "$socket" ] && tmux -L "$socket" kill-server >/dev/null 2>&1 || true
  [ -n "$socket" ] && rm -f "/tmp/tmux-$(id -u)/$socket"
  rm -rf "$work"
}
trap cleanup EXIT
"$gt" -q init "$town" --name bench >/dev/null
socket="gt-$(printf %s "$(cd "$town" && pwd -P)" | sha256sum | cut -c1-8)"
src="$work/src"; mkdir -p "$src"
git -C "$src" init -q -b main
echo hi > "$src/README.md"
git -C "$src" -c user.name=b -c user.email=b@b add -A
git -C "$src" -c user.name=b -c user.email=b@b commit -qm init
"$gt" -q rig add r "$src" >/dev/null
"$gt" -q config agent set sleeper "sleep 3600" >/dev/null
tasks=(); for i in $(seq 1 "$agents"); do tasks+=("task $i"); done
start=$(date +%s.%N)
"$gt" -q sling "${tasks[@]}" r --agent sleeper >/dev/null
echo "slung $agents agents in $(python3 -c "print(round($(date +%s.%N)-$start,1))")s"

python3 - "$gt" <<'PY'
import statistics, subprocess, sys, time
gt = sys.argv[1]
def med(args, n=10):
    for _ in range(2):
        subprocess.run([gt, *args], stdout=subprocess.DEVNULL, check=True)
    xs = []
    for _ in range(n):
        t = time.perf_counter()
        subprocess.run([gt, *args], stdout=subprocess.DEVNULL, check=True)
        xs.append((time.perf_counter() - t) * 1000)
    return statistics.median(xs)
base = med(["--version"])
patrol = med(["deacon", "patrol", "--once"])
print(f"gt --version            {base:7.1f} ms")
print(f"gt deacon patrol --once {patrol:7.1f} ms  ({patrol/base:.1f}x; target <= 100 ms)  {'PASS' if patrol <= 100 else 'FAIL'}")
PY

"$gt" -q up >/dev/null
pid=$("$gt" --json deacon status | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')
sleep 3
ticks() { awk '{print $14+$15}' "/proc/$pid/stat"; }
t0=$(ticks); w0=$(date +%s.%N)
sleep "$idle"
t1=$(ticks); w1=$(date +%s.%N)
hz=$(getconf CLK_TCK)
rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
python3 - "$t0" "$t1" "$w0" "$w1" "$hz" "$rss" "$idle" <<'PY'
import sys
t0, t1, w0, w1, hz, rss, idle = sys.argv[1:]
cpu = (float(t1) - float(t0)) / float(hz) / (float(w1) - float(w0)) * 100
rss_mb = int(rss) / 1024
print(f"idle daemon CPU over {idle}s  {cpu:5.2f} % of a core  (target <= 1 %)  {'PASS' if cpu <= 1 else 'FAIL'}")
print(f"idle daemon RSS          {rss_mb:5.1f} MB        (target <= 30 MB) {'PASS' if rss_mb <= 30 else 'FAIL'}")
PY
