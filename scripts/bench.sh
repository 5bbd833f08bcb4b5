#!/usr/bin/env bash
# Ledger benchmark (see BENCHMARKS.md): a synthetic 100k-bead Beads ledger is
# imported into a fresh town, then the everyday read commands are timed as
# whole processes and compared with `gt --version` measured in the same run.
#
#   scripts/bench.sh [--keep] [--gt PATH] [--beads N] [--deps N] [--runs N]
#                    [--warmup N] [--rounds N] [--events N] [--no-hyperfine] [--seed S]
#
#   --keep          keep the temporary directory (town, ledger, timings)
#   --gt PATH       the gt binary to time (default: build target/release/gt)
#   --beads/--deps  ledger size (default 100000 beads, 75000 dependencies)
#   --runs N        timed runs per command and round (default 10)
#   --warmup N      untimed runs per command and round first (default 2)
#   --rounds N      rounds (default 3): every round times every command, the
#                   baseline first, so drift on a shared machine hits all
#                   alike; medians are over all rounds' runs
#   --events N      activity (comments) added after the import, so that
#                   `gt trail` has history to read (default 200)
#   --no-hyperfine  use the python timing loop even when hyperfine exists
#   --seed S        ledger generator seed (default 20261124)
#
# Needs python3. Uses hyperfine when available; when it is missing and we are
# root on a Debian-like system it is installed with apt-get.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

keep=0 gt="" beads=100000 deps=75000 runs=10 warmup=2 rounds=3 events=200 use_hf=1 seed=20261124
while [ $# -gt 0 ]; do
  case "$1" in
    --keep) keep=1 ;;
    --gt) gt=$2; shift ;;
    --beads) beads=$2; shift ;;
    --deps) deps=$2; shift ;;
    --runs) runs=$2; shift ;;
    --warmup) warmup=$2; shift ;;
    --rounds) rounds=$2; shift ;;
    --events) events=$2; shift ;;
    --seed) seed=$2; shift ;;
    --no-hyperfine) use_hf=0 ;;
    -h|--help) sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
if [ "$runs" -lt 10 ]; then echo "note: fewer than 10 runs per command" >&2; fi

if [ -z "$gt" ]; then
  cargo build --release --quiet
  gt=$root/target/release/gt
fi
gt=$(cd "$(dirname "$gt")" && pwd)/$(basename "$gt")
py=$root/scripts/bench_ledger.py

if [ "$use_hf" = 1 ] && ! command -v hyperfine >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing hyperfine (apt-get)..." >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hyperfine >/dev/null 2>&1 \
      || { apt-get update -qq >/dev/null 2>&1 \
           && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hyperfine >/dev/null 2>&1; } \
      || echo "could not install hyperfine; using the python timing loop" >&2
  fi
fi
hf_flag=()
if [ "$use_hf" = 1 ] && command -v hyperfine >/dev/null 2>&1; then hf_flag=(--hyperfine); fi

work=$(mktemp -d "${TMPDIR:-/tmp}/gt-bench.XXXXXX")
work=$(cd "$work" && pwd -P)
# The town's private tmux server (`gt-` + 8 hex of sha256 of the canonical
# town path): nothing here should start one, but never leave one behind.
town_sock="gt-$(printf '%s' "$work/town" | sha256sum | cut -c1-8)"
cleanup() {
  local sock_path
  if sock_path=$(tmux -L "$town_sock" -f /dev/null display-message -p '#{socket_path}' 2>/dev/null); then
    tmux -L "$town_sock" -f /dev/null kill-server 2>/dev/null || true
    case "$sock_path" in /*) rm -f -- "$sock_path" ;; esac
  fi
  if [ "$keep" = 1 ]; then
    echo "kept: $work (town: $work/town, db: $work/town/.gt/town.db)" >&2
  else
    rm -rf -- "$work"
  fi
}
trap cleanup EXIT

echo "## Machine"
echo "- date: $(date -u +%Y-%m-%d)"
model=$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)
hyper=$(lscpu 2>/dev/null | sed -n 's/^Hypervisor vendor: *//p' | head -1)
echo "- cpus: $(nproc) × ${model:-unknown}${hyper:+ ($hyper guest)}"
echo "- memory: $(free -h 2>/dev/null | awk '/^Mem:/ {print $2}') total"
echo "- rustc: $(rustc --version 2>/dev/null || echo unknown)"
echo "- gt: $("$gt" --version) ($gt)"
echo

echo "## Ledger"
summary=$(python3 "$py" gen --out "$work/issues.jsonl" --beads "$beads" --deps "$deps" --seed "$seed")
field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$summary" "$1"; }
show_id=$(field show_id) show_partial=$(field show_partial)
python3 - "$summary" <<'PY'
import json, sys
s = json.loads(sys.argv[1])
print(f"- {s['beads']} beads ({', '.join(f'{k} {v}' for k, v in s['by_status'].items())}; {s['epics']} epics), "
      f"{s['dependencies']} dependencies ({', '.join(f'{k} {v}' for k, v in s['by_type'].items())}), seed {s['seed']}")
print(f"- bead shown: {s['show_id']} ({s['show_edges']['out']} edges out, {s['show_edges']['in']} in), "
      f"partial id {s['show_partial']}")
PY
echo "- file: $(du -h "$work/issues.jsonl" | cut -f1)"

export GT_TOWN=$work/town NO_COLOR=1
unset GT_ACTOR GT_AGENT
"$gt" init "$GT_TOWN" --name bench >/dev/null

t0=$(date +%s%N)
"$gt" bead import "$work/issues.jsonl" --json >"$work/import.json"
t1=$(date +%s%N)
import_ms=$(( (t1 - t0) / 1000000 ))
import_ok=$([ "$import_ms" -le 10000 ] && echo pass || echo FAIL)
echo "- \`gt bead import\`: $(awk -v ms="$import_ms" 'BEGIN {printf "%.2f", ms / 1000}') s (target ≤ 10 s): $import_ok"
echo "- database: $(du -h "$GT_TOWN/.gt/town.db" | cut -f1)"

# Some activity, so that `gt trail` reads real history.
if [ "$events" -gt 0 ]; then
  "$gt" -q bead list --status open --limit "$events" >"$work/active.txt"
  i=0
  while read -r id; do
    i=$((i + 1))
    "$gt" -q bead comment "$id" "bench note $i: looked at this, details in the log" >/dev/null
  done <"$work/active.txt"
  echo "- activity: $i comments added after the import"
fi
echo

cat >"$work/targets.json" <<'EOF'
{
  "gt ready --json --limit 50": {"ms": 15, "ratio": 5},
  "gt show ID --json": {"ms": 10, "ratio": 5},
  "gt show HASH --json": {"ms": 10, "ratio": 5},
  "gt bead list --status open --limit 100 --json": {"ms": 15, "ratio": 5}
}
EOF
python3 "$py" time --out "$work/timings.json" --raw "$work/hyperfine.json" "${hf_flag[@]}" \
  --runs "$runs" --warmup "$warmup" --rounds "$rounds" \
  --cmd "gt --version" "$gt --version" \
  --cmd "gt ready --json --limit 50" "$gt ready --json --limit 50" \
  --cmd "gt show ID --json" "$gt show $show_id --json" \
  --cmd "gt show HASH --json" "$gt show $show_partial --json" \
  --cmd "gt bead list --status open --limit 100 --json" "$gt bead list --status open --limit 100 --json" \
  --cmd "gt status --json" "$gt status --json" \
  --cmd "gt trail -n 50" "$gt trail -n 50"

echo "## Read commands (whole processes, GT_TOWN set; ID = $show_id, HASH = $show_partial)"
echo
python3 "$py" table --timings "$work/timings.json" --targets "$work/targets.json"
