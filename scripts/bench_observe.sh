#!/bin/sh
# Benchmarks for seeing the town (issue 5): `gt status --json` and
# `gt trail -n 50` whole-process on a town with 100 agents' records, 100k
# beads and 1M events; and `gt feed --plain` keeping up with 1,000 events/s
# written by another process (plus its idle CPU).
#
# Usage: scripts/bench_observe.sh [GT_BINARY]   (default: target/release/gt,
# built when missing). Needs python3 (sqlite3 module). Leaves nothing behind.
set -eu
cd "$(dirname "$0")/.."
GT=${1:-target/release/gt}
if [ ! -x "$GT" ]; then
    cargo build --release -p gt-cli
fi
GT=$(realpath "$GT")
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
TOWN="$WORK/town"
GT_ACTOR=bench "$GT" init "$TOWN" --name bench >/dev/null

python3 - "$GT" "$TOWN" <<'PY'
import os, random, sqlite3, statistics, subprocess, sys, threading, time

gt, town = sys.argv[1], sys.argv[2]
db = os.path.join(town, ".gt", "town.db")
env = dict(os.environ, GT_ACTOR="bench", NO_COLOR="1")

def ts(t):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%06dZ" % int((t % 1) * 1e6)

# --- Generate: 5 rigs x 20 polecats, a session each (20 open), 100k beads, 1M events.
t0 = time.time()
c = sqlite3.connect(db)
c.execute("PRAGMA synchronous=OFF")
now = time.time()
base = now - 30 * 86400
statuses = ["open"] * 50 + ["closed"] * 40 + ["in_progress"] * 5 + ["deferred"] * 3 + ["merging"] * 2
with c:
    for r in range(5):
        rig = f"rig{r}"
        c.execute("INSERT INTO rigs (name, source, branch, prefix, created_at) VALUES (?,?,?,?,?)",
                  (rig, "/nonexistent", "main", f"r{r}", ts(base)))
        for p in range(20):
            pc = f"pc{p}"
            working = p < 4
            bead = f"r{r}-w{p}" if working else None
            c.execute("INSERT INTO polecats (rig, name, state, bead, branch, created_at, updated_at) VALUES (?,?,?,?,?,?,?)",
                      (rig, pc, "working" if working else "idle", bead, f"polecat/{pc}/x", ts(base), ts(base)))
            c.execute("INSERT INTO sessions (rig, polecat, bead, tmux_session, runtime, branch, base_commit, started_at, running_at, ended_at, end_reason) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                      (rig, pc, bead or f"r{r}-x{p}", f"gt-{rig}-P-{pc}", "claude", f"polecat/{pc}/x", "0" * 40,
                       ts(base), ts(base), None if working else ts(base + 60), None if working else "done"))
    rows = []
    for i in range(100_000):
        r = i % 5
        rows.append((f"r{r}-{i:06x}", f"bead {i}", random.choice(statuses), i % 5, "task", ts(base + i), ts(base + i), "bench"))
    for r in range(5):
        for p in range(4):
            rows.append((f"r{r}-w{p}", "held", "in_progress", 1, "task", ts(base), ts(base), "bench"))
    c.executemany("INSERT INTO beads (id, title, status, priority, type, created_at, updated_at, created_by) VALUES (?,?,?,?,?,?,?,?)", rows)
    kinds = ["bead.created", "bead.updated", "sling", "session.started", "session.ended", "done", "bead.closed", "merge.queued"]
    step = (now - base) / 1_000_000
    c.executemany("INSERT INTO events (time, kind, actor, rig, bead, summary) VALUES (?,?,?,?,?,?)",
                  ((ts(base + i * step), kinds[i % 8], f"rig{i % 5}/pc{i % 20}", f"rig{i % 5}", f"r{i % 5}-{i % 100000:06x}", f"event {i}")
                   for i in range(1_000_000)))
c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
c.close()
print(f"generated 100 agents' records, 100k beads, 1M events in {time.time() - t0:.1f}s")

def median_ms(args, n=15):
    subprocess.run([gt, *args], cwd=town, env=env, capture_output=True, check=True)
    times = []
    for _ in range(n):
        s = time.perf_counter()
        subprocess.run([gt, *args], cwd=town, env=env, capture_output=True, check=True)
        times.append((time.perf_counter() - s) * 1000)
    return statistics.median(times)

base_ms = median_ms(["--version"])
print(f"gt --version           median {base_ms:6.1f} ms")
for args, budget in ((["status", "--json"], 20), (["trail", "-n", "50"], 15), (["trail", "-n", "50", "--agent", "rig3/pc7"], 15), (["agents", "--json"], 20)):
    ms = median_ms(args)
    print(f"gt {' '.join(args):<30} median {ms:6.1f} ms  ({ms / base_ms:4.1f}x --version; budget {budget} ms)")

# --- Feed: follow while another process appends 1,000 events/s for 10 s.
def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return int(parts[11]) + int(parts[12])

hz = os.sysconf("SC_CLK_TCK")
feed = subprocess.Popen([gt, "feed", "--plain", "--json", "-n", "0"], cwd=town, env=env,
                        stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
received = []
def reader():
    for line in feed.stdout:
        received.append((time.time(), line))
threading.Thread(target=reader, daemon=True).start()
time.sleep(1.0)
c0, w0 = cpu_ticks(feed.pid), time.time()
time.sleep(10)
idle_cpu = (cpu_ticks(feed.pid) - c0) / hz / (time.time() - w0) * 100
print(f"feed idle CPU          {idle_cpu:5.2f} % of a core over 10 s")

w = sqlite3.connect(db, timeout=10)
w.execute("PRAGMA busy_timeout=10000")
total, seconds, per_commit = 10_000, 10, 10
start = time.time()
c0 = cpu_ticks(feed.pid)
for i in range(total // per_commit):
    due = start + i * per_commit / 1000
    d = due - time.time()
    if d > 0:
        time.sleep(d)
    with w:
        w.executemany("INSERT INTO events (time, kind, actor, rig, bead, summary) VALUES (?,?,?,?,?,?)",
                      [(ts(time.time()), "bench.tick", "writer", None, None, f"tick {i * per_commit + k}") for k in range(per_commit)])
write_end = time.time()
rate = total / (write_end - start)
deadline = time.time() + 10
while len(received) < total and time.time() < deadline:
    time.sleep(0.05)
busy_cpu = (cpu_ticks(feed.pid) - c0) / hz / (time.time() - start) * 100
lag = (received[-1][0] - write_end) * 1000 if received else float("nan")
print(f"feed under load        wrote {total} events at {rate:.0f}/s; feed printed {len(received)}; "
      f"last line {lag:.0f} ms after the last write; CPU {busy_cpu:.1f} % of a core")
feed.kill()
feed.wait()
if len(received) != total:
    sys.exit("feed missed events")
PY
