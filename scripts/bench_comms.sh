#!/usr/bin/env bash
# Communication benchmark (issue 4): a town holding 100k messages, then
#   - `gt mail inbox --json` (a polecat's unread mail, default limit 100),
#   - `gt mail send` (one message to one polecat),
# timed as whole processes (median of N runs), and the delivery time of a nudge
# to an idle agent (a `cat` agent in real tmux): from starting `gt nudge` until
# its text is in the agent's output file.
#
#   scripts/bench_comms.sh [--gt PATH] [--messages N] [--runs N] [--keep]
#
# The 100k messages are inserted with sqlite3 straight into the town database
# (same schema as `gt mail send` writes: mail + mailbox rows), spread over 100
# polecats and `human`; the timed polecat holds about 1000 messages, 100 of
# them unread.
set -euo pipefail
cd "$(dirname "$0")/.."

gt="" messages=100000 runs=30 keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --gt) gt=$2; shift 2 ;;
    --messages) messages=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
if [ -z "$gt" ]; then
  cargo build --release -q -p gt-cli
  gt=$PWD/target/release/gt
fi
command -v sqlite3 >/dev/null || { echo "needs sqlite3" >&2; exit 3; }

tmp=$(mktemp -d)
town=$tmp/town
cleanup() {
  if [ -n "${socket:-}" ]; then
    tmux -L "$socket" kill-server 2>/dev/null || true
    rm -f "/tmp/tmux-$(id -u)/$socket"
  fi
  if [ "$keep" = 0 ]; then rm -rf "$tmp"; else echo "kept $tmp"; fi
}
trap cleanup EXIT

export HOME=$tmp GT_ACTOR=bench NO_COLOR=1
unset GT_AGENT GT_TOWN
"$gt" init "$town" --name bench -q >/dev/null
src=$tmp/src
mkdir -p "$src" && git -C "$src" init -q -b main && echo x > "$src/README" \
  && git -C "$src" -c user.name=b -c user.email=b@b add -A \
  && git -C "$src" -c user.name=b -c user.email=b@b commit -qm init
"$gt" --town "$town" rig add r "$src" >/dev/null
db=$town/.gt/town.db

# 100 polecats, then the messages in one transaction.
{
  echo "BEGIN;"
  for i in $(seq 1 100); do
    echo "INSERT INTO polecats (rig, name, state, created_at, updated_at) VALUES ('r', 'p$i', 'idle', '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z');"
  done
  echo "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $messages)
  INSERT INTO mail (id, sender, recipients, subject, body, priority, sent_at, thread)
  SELECT i, 'human',
         CASE WHEN i % 101 = 0 THEN '[\"human\"]' ELSE '[\"r/p' || (i % 101) || '\"]' END,
         'subject ' || i, printf('%.*c', 300, 'b'), 'normal',
         printf('2026-01-01T00:00:%02d.%06dZ', (i / 1000000) % 60, i % 1000000), i FROM n;"
  echo "INSERT INTO mailbox (owner, mail_id, state, updated_at)
  SELECT json_extract(recipients, '\$[0]'), id,
         CASE WHEN id > $messages - 10100 THEN 'unread' ELSE 'read' END, sent_at FROM mail;"
  echo "COMMIT;"
} | sqlite3 "$db"
echo "town: $(sqlite3 "$db" 'SELECT count(*) FROM mail') messages," \
  "r/p1 holds $(sqlite3 "$db" "SELECT count(*) FROM mailbox WHERE owner = 'r/p1'")" \
  "($(sqlite3 "$db" "SELECT count(*) FROM mailbox WHERE owner = 'r/p1' AND state = 'unread'") unread)"

median_ms() { # command... → median wall time in ms over $runs runs
  python3 - "$runs" "$@" <<'EOF'
import subprocess, sys, time, statistics
runs = int(sys.argv[1]); cmd = sys.argv[2:]
for _ in range(3):
    subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True)
ts = []
for _ in range(runs):
    t = time.perf_counter(); subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True)
    ts.append((time.perf_counter() - t) * 1000)
print(f"{statistics.median(ts):.1f} ms (min {min(ts):.1f}, max {max(ts):.1f})")
EOF
}

cd "$town"
echo "gt --version:               $(median_ms "$gt" --version)"
echo "gt mail inbox --json:       $(median_ms "$gt" --json mail --as r/p1 inbox)"
echo "gt mail send:               $(median_ms "$gt" mail --as r/p2 send r/p3 -s hello -m body)"
echo "gt bead create (reference): $(median_ms "$gt" bead create "a write for comparison")"

# Nudge delivery to an idle agent: a cat agent in tmux.
"$gt" config agent set catter "sh -c 'stty -icanon -echo; exec cat >> \"\$GT_TOWN/../typed\"'" >/dev/null
"$gt" sling "bench nudges" r/p4 --agent catter >/dev/null
socket=$(python3 -c "import hashlib,os,sys;print('gt-'+hashlib.sha256(os.path.realpath(sys.argv[1]).encode()).hexdigest()[:8])" "$town")
sleep 0.5
python3 - "$gt" "$tmp/typed" "$runs" <<'EOF'
import os, subprocess, sys, time, statistics
gt, out, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
ts = []
for i in range(runs):
    before = os.path.getsize(out) if os.path.exists(out) else 0
    msg = f"nudge number {i} $(touch x) #{{pane_id}}"
    t = time.perf_counter()
    subprocess.run([gt, "nudge", "r/p4", msg], stdout=subprocess.DEVNULL, check=True)
    while (os.path.getsize(out) if os.path.exists(out) else 0) < before + len(msg) + 1:
        time.sleep(0.001)
    ts.append((time.perf_counter() - t) * 1000)
print(f"nudge delivery (idle agent): {statistics.median(ts):.1f} ms (min {min(ts):.1f}, max {max(ts):.1f})")
EOF
