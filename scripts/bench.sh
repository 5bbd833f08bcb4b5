#!/usr/bin/env bash
# Ledger benchmark (see BENCHMARKS.md): a synthetic 100k-bead Beads ledger is
# imported into a fresh town, then the everyday read commands are timed as
# whole processes and compared with `gt --version` measured in the same run.
#
#   scripts/bench.sh [--keep] [--gt PATH] [--beads N] [--deps N] [--runs N]
#                    [--warmup N] [--rounds N] [--events N] [--no-hyperfine] [--seed S]
#                    [--store URL | --compare-postgres ADMIN_URL]
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
#   --store URL     make the town with `gt init --store URL` (an empty
#                   PostgreSQL database, postgres://USER[:PW]@HOST:PORT/DB);
#                   everything else is the same
#   --compare-postgres ADMIN_URL
#                   time the same commands on a SQLite town and on a
#                   PostgreSQL town in one run: a fresh database gt_bench_<pid>_<time>
#                   is created through ADMIN_URL (a user that may CREATE
#                   DATABASE) and dropped at the end, even on failure; both
#                   towns import the same ledger; every round times the
#                   baseline and the SQLite commands, then the baseline and the
#                   PostgreSQL commands; one table with both columns
#
# Needs python3. Uses hyperfine when available; when it is missing and we are
# root on a Debian-like system it is installed with apt-get. --compare-postgres
# needs psql (Debian/Ubuntu: postgresql-client) for CREATE/DROP DATABASE, and
# --store uses it, when present, to report the database size. Passwords in
# URLs are never printed.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

keep=0 gt="" beads=100000 deps=75000 runs=10 warmup=2 rounds=3 events=200 use_hf=1 seed=20261124
store="" pg_admin=""
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
    --store) store=$2; shift ;;
    --compare-postgres) pg_admin=$2; shift ;;
    --no-hyperfine) use_hf=0 ;;
    -h|--help) sed -n '2,38p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
if [ "$runs" -lt 10 ]; then echo "note: fewer than 10 runs per command" >&2; fi
if [ -n "$store" ] && [ -n "$pg_admin" ]; then
  echo "--store and --compare-postgres exclude each other" >&2; exit 2
fi
if [ -n "$pg_admin" ] && ! command -v psql >/dev/null 2>&1; then
  echo "--compare-postgres needs psql (Debian/Ubuntu: apt-get install postgresql-client)" >&2; exit 2
fi

if [ -z "$gt" ]; then
  cargo build --release --quiet
  gt=$root/target/release/gt
fi
gt=$(cd "$(dirname "$gt")" && pwd)/$(basename "$gt")
py=$root/scripts/bench_ledger.py

# URL helpers: the URL without its password (for printing), and the URL with
# another database (its path).
url_hide() {
  python3 - "$1" <<'PY'
import sys, urllib.parse as u
p = u.urlsplit(sys.argv[1])
if p.password is not None:
    p = p._replace(netloc=f"{p.username}:***@{p.netloc.rsplit('@', 1)[1]}")
print(u.urlunsplit(p))
PY
}
url_with_db() {
  python3 - "$1" "$2" <<'PY'
import sys, urllib.parse as u
print(u.urlunsplit(u.urlsplit(sys.argv[1])._replace(path="/" + sys.argv[2])))
PY
}

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
towns=("$work/town")
if [ -n "$pg_admin" ]; then towns+=("$work/town-pg"); fi
pg_db="" pg_created=0
# Each town's private tmux server (`gt-` + 8 hex of sha256 of the canonical
# town path): nothing here should start one, but never leave one behind. The
# database made for --compare-postgres is dropped whatever happened.
cleanup() {
  local sock_path town town_sock
  for town in "${towns[@]}"; do
    town_sock="gt-$(printf '%s' "$town" | sha256sum | cut -c1-8)"
    if sock_path=$(tmux -L "$town_sock" -f /dev/null display-message -p '#{socket_path}' 2>/dev/null); then
      tmux -L "$town_sock" -f /dev/null kill-server 2>/dev/null || true
      case "$sock_path" in /*) rm -f -- "$sock_path" ;; esac
    fi
  done
  if [ "$pg_created" = 1 ]; then
    psql "$pg_admin" -X -q -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" >/dev/null \
      || echo "could not drop database $pg_db on $(url_hide "$pg_admin"): drop it by hand" >&2
  fi
  if [ "$keep" = 1 ]; then
    echo "kept: $work (town: $work/town, db: $work/town/.gt/town.db)" >&2
  else
    rm -rf -- "$work"
  fi
}
trap cleanup EXIT

pg_url=""
if [ -n "$pg_admin" ]; then
  pg_db="gt_bench_$$_$(date +%s)"
  psql "$pg_admin" -X -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE $pg_db" >/dev/null
  pg_created=1
  pg_url=$(url_with_db "$pg_admin" "$pg_db")
fi

echo "## Machine"
echo "- date: $(date -u +%Y-%m-%d)"
model=$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)
hyper=$(lscpu 2>/dev/null | sed -n 's/^Hypervisor vendor: *//p' | head -1)
echo "- cpus: $(nproc) × ${model:-unknown}${hyper:+ ($hyper guest)}"
echo "- memory: $(free -h 2>/dev/null | awk '/^Mem:/ {print $2}') total"
echo "- rustc: $(rustc --version 2>/dev/null || echo unknown)"
echo "- gt: $("$gt" --version) ($gt)"
if [ -n "$store$pg_url" ]; then
  pg_any=${pg_url:-$store}
  echo "- load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)"
  pg_version=""
  if command -v psql >/dev/null 2>&1; then
    pg_version=$(psql "$pg_any" -X -Atc 'SHOW server_version' 2>/dev/null || true)
  fi
  echo "- store: PostgreSQL${pg_version:+ $pg_version} at $(url_hide "$pg_any")"
fi
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

export NO_COLOR=1
unset GT_ACTOR GT_AGENT

# setup_town DIR URL LABEL: makes the town at DIR (SQLite when URL is empty,
# else `gt init --store URL`), imports the ledger into it (timed: sets
# import_ms), adds the activity and prints what it did, LABEL after each item.
# The comments go on the beads the first town listed ($work/active.txt), so
# that both towns of a comparison hold the same history.
setup_town() {
  local town=$1 url=$2 label=$3 t0 t1 i id size import_ok
  export GT_TOWN=$town
  if [ -n "$url" ]; then
    "$gt" init "$GT_TOWN" --name bench --store "$url" >/dev/null
  else
    "$gt" init "$GT_TOWN" --name bench >/dev/null
  fi

  t0=$(date +%s%N)
  "$gt" bead import "$work/issues.jsonl" --json >"$town.import.json"
  t1=$(date +%s%N)
  import_ms=$(( (t1 - t0) / 1000000 ))
  import_ok=$([ "$import_ms" -le 10000 ] && echo pass || echo FAIL)
  echo "- \`gt bead import\`$label: $(awk -v ms="$import_ms" 'BEGIN {printf "%.2f", ms / 1000}') s (target ≤ 10 s): $import_ok"
  if [ -z "$url" ]; then
    echo "- database$label: $(du -h "$GT_TOWN/.gt/town.db" | cut -f1)"
  elif command -v psql >/dev/null 2>&1 \
       && size=$(psql "$url" -X -Atc 'SELECT pg_size_pretty(pg_database_size(current_database()))' 2>/dev/null); then
    echo "- database$label: $size (pg_database_size)"
  fi

  # Some activity, so that `gt trail` reads real history.
  if [ "$events" -gt 0 ]; then
    if [ ! -e "$work/active.txt" ]; then
      "$gt" -q bead list --status open --limit "$events" >"$work/active.txt"
    elif ! "$gt" -q bead list --status open --limit "$events" | cmp -s - "$work/active.txt"; then
      echo "note: \`gt bead list --status open --limit $events\` differs between the towns" >&2
    fi
    i=0
    while read -r id; do
      i=$((i + 1))
      "$gt" -q bead comment "$id" "bench note $i: looked at this, details in the log" >/dev/null
    done <"$work/active.txt"
    echo "- activity$label: $i comments added after the import"
  fi
}

if [ -n "$pg_url" ]; then
  setup_town "$work/town" "" " (SQLite)"
  import_sqlite_ms=$import_ms
  setup_town "$work/town-pg" "$pg_url" " (PostgreSQL)"
  import_pg_ms=$import_ms
else
  setup_town "$work/town" "$store" ""
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
# Pairs of NAME and the arguments after `gt`, the baseline first.
cmds=(
  "gt --version" "--version"
  "gt ready --json --limit 50" "ready --json --limit 50"
  "gt show ID --json" "show $show_id --json"
  "gt show HASH --json" "show $show_partial --json"
  "gt bead list --status open --limit 100 --json" "bead list --status open --limit 100 --json"
  "gt status --json" "status --json"
  "gt trail -n 50" "trail -n 50"
)
time_args=()
if [ -n "$pg_url" ]; then
  # Both towns named with --town; every round: the baseline and SQLite's
  # commands, then the baseline and PostgreSQL's.
  unset GT_TOWN
  for pair in "sqlite:$work/town" "postgres:$work/town-pg"; do
    tag=${pair%%:*} town=${pair#*:}
    time_args+=(--cmd "$tag: ${cmds[0]}" "$gt ${cmds[1]}")
    for ((k = 2; k < ${#cmds[@]}; k += 2)); do
      time_args+=(--cmd "$tag: ${cmds[k]}" "$gt --town $town ${cmds[k + 1]}")
    done
  done
else
  for ((k = 0; k < ${#cmds[@]}; k += 2)); do
    time_args+=(--cmd "${cmds[k]}" "$gt ${cmds[k + 1]}")
  done
fi
python3 "$py" time --check --out "$work/timings.json" --raw "$work/hyperfine.json" "${hf_flag[@]}" \
  --runs "$runs" --warmup "$warmup" --rounds "$rounds" "${time_args[@]}"

if [ -n "$pg_url" ]; then
  echo "## Read commands on SQLite and PostgreSQL (whole processes, --town; ID = $show_id, HASH = $show_partial)"
  echo
  python3 "$py" compare --timings "$work/timings.json" --targets "$work/targets.json" \
    --columns "sqlite: " SQLite "postgres: " PostgreSQL \
    --import-ms "$import_sqlite_ms" "$import_pg_ms" --beads "$beads"
else
  echo "## Read commands (whole processes, GT_TOWN set; ID = $show_id, HASH = $show_partial)"
  echo
  python3 "$py" table --timings "$work/timings.json" --targets "$work/targets.json"
fi
