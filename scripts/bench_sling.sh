#!/usr/bin/env bash
# Sling benchmark (see BENCHMARKS.md): how long from starting `gt sling` until
# the agent process runs, against the floor measured in the same run: the same
# `git worktree add -b` on a bare clone plus `tmux new-session ... env -- AGENT`
# done directly.
#
#   scripts/bench_sling.sh [--gt PATH] [--runs N] [--keep]
#
#   --gt PATH   the gt binary (default: build target/release/gt)
#   --runs N    slings and floor runs (default 20), alternated: floor 1,
#               floor+ 1, sling 1, floor 2, ... (floor+ is a diagnostic: the
#               floor plus the other git/tmux calls gt makes). Nothing is
#               cleaned up between runs: run N has N-1 live sessions and
#               worktrees of its kind beside it.
#   --keep      keep the temporary directory (tmux servers are always killed)
#
# The agent is `sh -c 'date +%s%N > STAMPS/$GT_BEAD; exec sleep 600'`: it
# writes its start time (ns since the epoch) and waits. The start time of a
# run is bash's $EPOCHREALTIME read just before the command is spawned (no
# fork). Every sling gets a new polecat (the earlier ones are still working).
# Needs git, tmux and python3 (for the summary).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

gt="" runs=20 keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --gt) gt=$2; shift ;;
    --runs) runs=$2; shift ;;
    --keep) keep=1 ;;
    -h|--help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
if [ -z "$gt" ]; then
  cargo build --release --quiet
  gt=$root/target/release/gt
fi
gt=$(cd "$(dirname "$gt")" && pwd)/$(basename "$gt")
for p in git tmux python3; do
  command -v "$p" >/dev/null 2>&1 || { echo "$p is needed" >&2; exit 3; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/gt-bench-sling.XXXXXX")
work=$(cd "$work" && pwd -P)
town=$work/town
stamps=$work/stamps
floor_sock="gtbench-floor-$$"
# The town's private tmux server: `gt-` + 8 hex digits of sha256(canonical town path).
town_sock="gt-$(printf '%s' "$town" | sha256sum | cut -c1-8)"

kill_server() {
  local sock=$1 path
  path=$(tmux -L "$sock" -f /dev/null display-message -p '#{socket_path}' 2>/dev/null) || return 0
  tmux -L "$sock" -f /dev/null kill-server 2>/dev/null || true
  case "$path" in /*) rm -f -- "$path" ;; esac
}
# Only these two servers are touched: other towns' servers (tests running
# beside us) and the default server are left alone.
cleanup() {
  kill_server "$floor_sock"
  kill_server "$town_sock"
  if [ "$keep" = 1 ]; then echo "kept: $work" >&2; else rm -rf -- "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

export GT_TOWN=$town NO_COLOR=1
unset GT_ACTOR GT_AGENT TMUX TMUX_PANE
mkdir -p "$stamps" "$work/sample" "$work/floor"

# A sample repository with one commit on main, a bare clone for the floor.
git -C "$work/sample" init --quiet --initial-branch=main
echo "# sample" >"$work/sample/README.md"
git -C "$work/sample" add README.md
git -C "$work/sample" -c user.name=bench -c user.email=bench@example.invalid \
  commit --quiet -m "initial commit"
git clone --quiet --bare "$work/sample" "$work/floor.git"

"$gt" init "$town" --name slingbench >/dev/null
"$gt" rig add bench "$work/sample" >/dev/null
agent_cmd="date +%s%N > \"$stamps/\$GT_BEAD\"; exec sleep 600"
"$gt" config agent set stamp "sh -c '$agent_cmd'" >/dev/null
if [ "$(tmux -L "$town_sock" -f /dev/null ls 2>/dev/null | wc -l)" -ne 0 ]; then
  echo "unexpected: the town's tmux server $town_sock already has sessions" >&2
  exit 3
fi

now_us() { local t=$EPOCHREALTIME; echo "${t/[.,]/}"; }
wait_stamp() { # FILE -> its content (ns), waiting up to 10 s
  local i
  for i in $(seq 1 1000); do
    if [ -s "$1" ]; then cat "$1"; return 0; fi
    sleep 0.01
  done
  echo "no stamp $1" >&2
  return 1
}

results=$work/results.tsv
printf 'kind\trun\tto_agent_us\twall_us\tgit_us\n' >"$results"
for i in $(seq 1 "$runs"); do
  # Floor: the same worktree + tmux session, done directly.
  wt=$work/floor/p$i
  t0=$(now_us)
  git -C "$work/floor.git" worktree add --quiet --no-track -b "floor/p$i" -- "$wt" main
  t1=$(now_us)
  tmux -L "$floor_sock" -f /dev/null new-session -d -s "floor-$i" -x 200 -y 50 -c "$wt" \
    -e "GT_BEAD=floor-$i" -- env -- sh -c "$agent_cmd"
  t2=$(now_us)
  stamp=$(wait_stamp "$stamps/floor-$i")
  printf 'floor\t%s\t%s\t%s\t%s\n' "$i" $((stamp / 1000 - t0)) $((t2 - t0)) $((t1 - t0)) >>"$results"

  # Diagnostic: the floor plus the other git/tmux calls `gt sling` makes
  # before the agent starts (base commit, branch check, prune, has-session).
  wt=$work/floor/x$i
  t0=$(now_us)
  git -C "$work/floor.git" rev-parse --verify --quiet 'refs/heads/main^{commit}' >/dev/null
  git -C "$work/floor.git" show-ref --verify --quiet "refs/heads/floor/x$i" || true
  git -C "$work/floor.git" worktree prune
  git -C "$work/floor.git" worktree add --quiet --no-track -b "floor/x$i" -- "$wt" main
  t1=$(now_us)
  tmux -L "$floor_sock" -f /dev/null has-session -t "=floorx-$i" 2>/dev/null || true
  tmux -L "$floor_sock" -f /dev/null new-session -d -s "floorx-$i" -x 200 -y 50 -c "$wt" \
    -e "GT_BEAD=floorx-$i" -- env -- sh -c "$agent_cmd"
  t2=$(now_us)
  stamp=$(wait_stamp "$stamps/floorx-$i")
  printf 'floorx\t%s\t%s\t%s\t%s\n' "$i" $((stamp / 1000 - t0)) $((t2 - t0)) $((t1 - t0)) >>"$results"

  # gt sling: claim, worktree, tmux session, mark running, watch ~400 ms.
  t0=$(now_us)
  out=$("$gt" sling "bench task $i: touch nothing" --rig bench --agent stamp --json)
  t2=$(now_us)
  bead=$(sed -n 's/.*"bead": *"\([^"]*\)".*/\1/p' <<<"$out" | head -1)
  [ -n "$bead" ] || { echo "gt sling printed no bead: $out" >&2; exit 1; }
  if [ "$i" = 1 ] && ! tmux -L "$town_sock" -f /dev/null has-session 2>/dev/null; then
    echo "the town's tmux server is not $town_sock: the socket name scheme changed;" \
      "fix town_sock in $0 (sessions of $town may be left running)" >&2
    exit 3
  fi
  stamp=$(wait_stamp "$stamps/$bead")
  printf 'sling\t%s\t%s\t%s\t\n' "$i" $((stamp / 1000 - t0)) $((t2 - t0)) >>"$results"
done

live=$(tmux -L "$town_sock" -f /dev/null ls 2>/dev/null | wc -l)
echo "## Sling benchmark"
echo "- date: $(date -u +%Y-%m-%d); cpus: $(nproc); load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "- gt: $("$gt" --version) ($gt); $(git --version); $(tmux -V)"
echo "- $runs floor runs, $runs floor+ runs and $runs slings, alternated; $live gt sessions live at the end"
echo
python3 - "$results" <<'PY'
import csv, statistics, sys

rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))

def col(kind, key):
    return [int(r[key]) / 1000 for r in rows if r["kind"] == kind and r[key]]

def p90(xs):
    xs = sorted(xs)
    k = (len(xs) - 1) * 0.9
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)

floor, sling = col("floor", "to_agent_us"), col("sling", "to_agent_us")
fmed, smed = statistics.median(floor), statistics.median(sling)
ratio = smed / fmed
print("| measure | median ms | p90 ms | min ms | max ms |")
print("|---|---|---|---|---|")
for name, xs in [
    ("floor: start → agent running (git worktree add + tmux new-session)", floor),
    ("  of which `git worktree add`", col("floor", "git_us")),
    ("diagnostic: floor + gt's 4 other git/tmux calls (rev-parse, show-ref, worktree prune, has-session)",
     col("floorx", "to_agent_us")),
    ("`gt sling`: start → agent running", sling),
    ("`gt sling`: whole command (includes the ~400 ms start watch)", col("sling", "wall_us")),
]:
    print(f"| {name} | {statistics.median(xs):.1f} | {p90(xs):.1f} | {min(xs):.1f} | {max(xs):.1f} |")
ok = ratio <= 1.5
print(f"\nsling/floor (medians): {ratio:.2f}× (target ≤ 1.5×): {'pass' if ok else 'FAIL'}; "
      f"p90 ratio {p90(sling) / p90(floor):.2f}×")
print("\nper run (ms, floor / sling to agent): " + ", ".join(
    f"{f:.0f}/{s:.0f}" for f, s in zip(floor, sling)))
PY
